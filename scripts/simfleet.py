# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""A simulated fleet: N OpenShell simulator hosts plus an Ansible inventory of them.

Usage (scripts/simfleet runs this file with the checkout's .venv Python when it exists):

  scripts/simfleet up DIR --hosts N [--openshell-version V] [--profile fast|pull | --ready-delay S] [--python PY]
  scripts/simfleet status DIR
  scripts/simfleet down DIR [--timeout S]

``up`` starts one detached simulated gateway per host (``sim-1`` ... ``sim-N``, each on its own free
loopback port, with its own HOME, XDG dirs and sqlite db under ``DIR/<host>/``), registers it in that
host's CLI config and writes:

  DIR/inventory.yml        group ``nemoclaw`` (all hosts) with child group ``canary`` (sim-1),
                           connection local, the role variables that fit a simulated host
  DIR/<host>/openshell.env ``source`` it and the plain ``openshell`` command talks to that host
  DIR/<host>/calls.jsonl   the host's call log (one JSON line per ``openshell`` call)
  DIR/<host>/faults.json   the host's fault file (absent until written; see tests/simulator/README.md)
  DIR/<host>/gateway.log   the gateway's stdout and stderr
  DIR/fleet.json           machine-readable state (hosts, ports, pids, roots, endpoints, version)

The gateways keep running after ``up`` exits; ``down`` stops them (SIGTERM, then SIGKILL) and leaves
every file in place. ``up`` on a stopped fleet starts it again with its state (sandboxes, providers).
Latency profiles (seconds a sandbox takes from Provisioning to Ready, OPENSHELL_SIM_READY_DELAY):
``fast`` 0.2 (default), ``pull`` 30 (a realistic image pull); ``--ready-delay`` sets any value.

Exit status: 0 done, 2 usage error, 1 failure (one line on stderr). A development tool: stdlib and
PyYAML only; it imports the simulator's test harness (product code never does).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "simulator"))

from harness import SIM_BIN, SimHost, free_port, host_python, sim_python  # noqa: E402  pylint: disable=wrong-import-position,import-error

DEFAULT_VERSION = "0.0.111"
PROFILES = {"fast": 0.2, "pull": 30.0}
SECRET = "nvapi-SIMFLEET-0000-not-a-real-key"
AGENTS = [{"name": "openclaw", "agent": "openclaw"}]
FORMAT = 1


class Failure(Exception):
    """A failure reported as one line and exit status 1."""


def site_vars(root, port, version):
    """Role variables that make site.yml fit a simulated host whose gateway already runs.

    The simulator is the installed OpenShell (install method ``none``), its gateway is started and
    stopped by simfleet (supervisor ``external``), and the host checks are sized for a laptop
    (no container engine, no network, no GPU).
    """
    home = os.path.join(root, "home")
    return {
        "preflight_compute_driver": "none",
        "preflight_min_cpus": 1,
        "preflight_min_memory_gib": 1,
        "preflight_recommended_memory_gib": 1,
        "preflight_min_memory_plus_swap_mib": 1024,
        "preflight_min_free_disk_gib": 1,
        "preflight_recommended_free_disk_gib": 1,
        "preflight_dns_hosts": [],
        "preflight_gateway_port": port,
        "preflight_state_dirs": {"sim": root},
        "preflight_report_dir": os.path.join(home, ".local", "state", "agentfleet-nemoclaw"),
        "gpu_required": False,
        "openshell_version": version,
        "openshell_install_method": "none",
        "openshell_gateway_supervisor": "external",
        "openshell_gateway_port": port,
        "openshell_gateway_name": "openshell",
        "openshell_path": os.path.join(SIM_BIN, "openshell"),
        "openshell_gateway_path": os.path.join(SIM_BIN, "openshell-gateway"),
        "openshell_config_dir": os.path.join(root, "config", "openshell"),
        "openshell_state_dir": os.path.join(root, "state", "openshell"),
        "blueprint_tier": "balanced",
    }


def host_environment(sim):
    """The environment a host's tasks and shells need: HOME, PATH, XDG_* and OPENSHELL_*."""
    return {k: v for k, v in sim.env.items() if k.startswith(("XDG_", "OPENSHELL_")) or k in ("HOME", "PATH")}


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_fleet(directory):
    path = os.path.join(directory, "fleet.json")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise Failure("no simulated fleet in %s (%s not found)" % (directory, path)) from None
    except (OSError, ValueError) as exc:
        raise Failure("cannot read %s: %s" % (path, exc)) from None


def is_running(pid, port):
    """Whether ``pid`` is still the simulated gateway listening on ``port`` (not a zombie, not a reused pid)."""
    if not pid:
        return False
    proc = "/proc/%d" % pid
    if os.path.isdir("/proc/self"):
        try:
            with open(proc + "/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            return False
        return b"openshell_sim.gateway" in b" ".join(argv) and str(port).encode() in argv
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def register(sim):
    """Register the host's gateway as ``openshell`` in its CLI config (again, when its port changed)."""
    res = sim.run("gateway", "add", sim.endpoint, "--name", "openshell")
    if res.returncode != 0 and "already exists" in res.stderr:
        sim.run("gateway", "remove", "openshell")
        res = sim.run("gateway", "add", sim.endpoint, "--name", "openshell")
    if res.returncode != 0:
        lines = (res.stderr or res.stdout or "no output").strip().splitlines() or ["no output"]
        raise Failure("registering the gateway of %s failed (rc %d): %s" % (sim.root, res.returncode, lines[-1]))


def env_file(name, env):
    lines = ["# simfleet: source this file and the plain `openshell` command talks to %s's gateway." % name]
    lines += ["export %s=%s" % (k, shlex.quote(env[k])) for k in sorted(env)]
    return "\n".join(lines) + "\n"


def inventory(hosts, python, version):
    host_vars = {}
    for name, sim in hosts:
        hv = {"ansible_connection": "local", "ansible_python_interpreter": python,
              "nemoclaw_environment": host_environment(sim)}
        hv.update(site_vars(sim.root, sim.port, version))
        host_vars[name] = hv
    group = {
        "hosts": host_vars,
        "vars": {"nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": SECRET}, "nemoclaw_agents": AGENTS},
        "children": {"canary": {"hosts": {hosts[0][0]: {}}}},
    }
    return {"all": {"children": {"nemoclaw": group}}}


def stop_all(entries, timeout):
    """SIGTERM every running gateway, SIGKILL those still running after ``timeout``; return the names stopped."""
    live = [e for e in entries if is_running(e.get("pid"), e.get("port"))]
    for entry in live:
        try:
            os.kill(entry["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + timeout
    left = live
    while left and time.time() < deadline:
        time.sleep(0.05)
        left = [e for e in left if is_running(e["pid"], e["port"])]
    for entry in left:
        try:
            os.kill(entry["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 5
    while left and time.time() < deadline:
        time.sleep(0.05)
        left = [e for e in left if is_running(e["pid"], e["port"])]
    if left:
        raise Failure("gateways still running after SIGKILL: %s" % ", ".join("%s (pid %d)" % (e["name"], e["pid"]) for e in left))
    return [e["name"] for e in live]


def cmd_up(args):
    directory = os.path.abspath(args.dir)
    ready_delay = args.ready_delay if args.ready_delay is not None else PROFILES[args.profile]
    old_ports = {}
    if os.path.exists(os.path.join(directory, "fleet.json")):
        old = read_fleet(directory)
        running = [h["name"] for h in old.get("hosts", []) if is_running(h.get("pid"), h.get("port"))]
        if running:
            raise Failure("a simulated fleet already runs in %s (%s); run: scripts/simfleet down %s"
                          % (directory, ", ".join(running[:5]) + (", ..." if len(running) > 5 else ""), args.dir))
        old_ports = {h["name"]: h.get("port") for h in old.get("hosts", [])}
    os.makedirs(directory, exist_ok=True)
    extra_env = {"OPENSHELL_SIM_VERSION": args.openshell_version, "OPENSHELL_SIM_READY_DELAY": "%g" % ready_delay}
    python = args.python or host_python() or sys.executable
    names = ["sim-%d" % (i + 1) for i in range(args.hosts)]
    taken = set()
    hosts = []
    for name in names:
        port = old_ports.get(name)
        if not port or port in taken or port_open(port):
            port = free_port()
            while port in taken:
                port = free_port()
        taken.add(port)
        hosts.append((name, SimHost(os.path.join(directory, name), port=port, extra_env=extra_env, python=sim_python())))

    # Start every gateway first (detached: own session, output to gateway.log), then wait for all ports.
    procs = {}
    try:
        for name, sim in hosts:
            with open(os.path.join(sim.root, "gateway.log"), "ab") as logf:
                procs[name] = subprocess.Popen(  # pylint: disable=consider-using-with
                    [os.path.join(SIM_BIN, "openshell-gateway"), "--port", str(sim.port)], env=sim.env,
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        waiting = dict(hosts)
        deadline = time.time() + args.timeout
        while waiting:
            for name in list(waiting):
                if procs[name].poll() is not None:
                    raise Failure("the gateway of %s exited early (rc %s); see %s"
                                  % (name, procs[name].returncode, os.path.join(waiting[name].root, "gateway.log")))
                if port_open(waiting[name].port):
                    del waiting[name]
            if waiting and time.time() > deadline:
                raise Failure("gateways not listening after %ds: %s" % (args.timeout, ", ".join(sorted(waiting))))
            if waiting:
                time.sleep(0.05)
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
            for future in [pool.submit(register, entry[1]) for entry in hosts]:
                future.result()
    except BaseException:
        stop_all([{"name": n, "pid": p.pid, "port": dict(hosts)[n].port} for n, p in procs.items()], 5)
        raise

    for name, sim in hosts:
        write_atomic(os.path.join(sim.root, "openshell.env"), env_file(name, host_environment(sim)))
    write_atomic(os.path.join(directory, "inventory.yml"),
                 "# Written by scripts/simfleet up; the simulated fleet in this directory.\n"
                 + yaml.safe_dump(inventory(hosts, python, args.openshell_version), sort_keys=False))
    state = {
        "format": FORMAT,
        "dir": directory,
        "version": args.openshell_version,
        "ready_delay": ready_delay,
        "python": python,
        "inventory": os.path.join(directory, "inventory.yml"),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hosts": [{
            "name": name,
            "port": sim.port,
            "pid": procs[name].pid,
            "endpoint": sim.endpoint,
            "root": sim.root,
            "env_file": os.path.join(sim.root, "openshell.env"),
            "call_log": sim.env["OPENSHELL_SIM_CALL_LOG"],
            "faults": sim.env["OPENSHELL_SIM_FAULTS"],
            "gateway_log": os.path.join(sim.root, "gateway.log"),
        } for name, sim in hosts],
    }
    write_atomic(os.path.join(directory, "fleet.json"), json.dumps(state, indent=2) + "\n")
    print("simfleet: %d host(s) up in %s (OpenShell %s, ready delay %g s)" % (len(hosts), directory, args.openshell_version, ready_delay))
    print("  ansible-playbook -i %s site.yml" % shlex.quote(state["inventory"]))
    print("  source %s" % shlex.quote(state["hosts"][0]["env_file"]))
    return 0


def cmd_down(args):
    fleet = read_fleet(os.path.abspath(args.dir))
    stopped = stop_all(fleet.get("hosts", []), args.timeout)
    print("simfleet: stopped %d gateway(s); %d host(s) down" % (len(stopped), len(fleet.get("hosts", []))))
    return 0


def cmd_status(args):
    fleet = read_fleet(os.path.abspath(args.dir))
    hosts = fleet.get("hosts", [])
    width = max([len(h["name"]) for h in hosts] + [4])
    for host in hosts:
        state = "running" if is_running(host.get("pid"), host.get("port")) else "stopped"
        print("%-*s  %5s  %7s  %s" % (width, host["name"], host.get("port"), host.get("pid"), state))
    return 0


def non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0: %r" % text)
    return value


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1: %r" % text)
    return value


def parser():
    top = argparse.ArgumentParser(
        prog="simfleet", description="A simulated fleet of OpenShell hosts (tests/simulator) with an Ansible inventory.")
    sub = top.add_subparsers(dest="command", metavar="{up,down,status}")
    sub.required = True
    up = sub.add_parser(
        "up", help="start N simulated hosts in DIR and write DIR/inventory.yml",
        description="Start simulated hosts sim-1..sim-N (one detached gateway each, state under DIR/<host>/), register "
                    "each gateway in its host's CLI config, write DIR/inventory.yml, DIR/<host>/openshell.env and "
                    "DIR/fleet.json. On a stopped fleet in DIR it starts the hosts again with their state.")
    up.add_argument("dir", metavar="DIR", help="directory of the fleet (created if missing)")
    up.add_argument("--hosts", type=positive_int, required=True, metavar="N", help="number of hosts")
    up.add_argument("--openshell-version", default=DEFAULT_VERSION, metavar="V",
                    help="version the simulated OpenShell reports (default %(default)s)")
    latency = up.add_mutually_exclusive_group()
    latency.add_argument("--profile", choices=sorted(PROFILES), default="fast",
                         help="latency profile: fast = sandboxes Ready after 0.2 s (default), pull = after 30 s "
                              "(a realistic image pull)")
    latency.add_argument("--ready-delay", type=non_negative, metavar="SECONDS",
                         help="seconds a sandbox takes from Provisioning to Ready (OPENSHELL_SIM_READY_DELAY)")
    up.add_argument("--python", metavar="PY", help="ansible_python_interpreter of the hosts (default: the system "
                    "Python, /usr/bin/python3, when it is 3.9 or newer, else this Python)")
    up.add_argument("--timeout", type=positive_int, default=60, metavar="S",
                    help="seconds to wait for all gateways to listen (default %(default)s)")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop every gateway of the fleet in DIR (files stay)",
                          description="Stop every gateway of the fleet in DIR: SIGTERM, then SIGKILL after --timeout. "
                                      "Removes nothing; running it again is fine.")
    down.add_argument("dir", metavar="DIR")
    down.add_argument("--timeout", type=non_negative, default=5.0, metavar="S",
                      help="seconds between SIGTERM and SIGKILL (default %(default)s)")
    down.set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="one line per host: name, port, pid, running or stopped",
                            description="Print one line per host of the fleet in DIR: name, port, pid, running or stopped.")
    status.add_argument("dir", metavar="DIR")
    status.set_defaults(func=cmd_status)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except Failure as exc:
        sys.stderr.write("simfleet: %s\n" % exc)
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("simfleet: interrupted\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
