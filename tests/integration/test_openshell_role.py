# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The openshell role, run by ansible-playbook on simulated hosts that have no gateway yet.

``scripts/build-sim-packages`` packages the simulator once per module as a release archive and a
``.deb`` (version 0.0.116, which only the packaged wrappers report: the simulator's own default is
0.0.111). Each simulated host is a directory with its own HOME, XDG dirs, sqlite db and a free port;
PATH does not contain the repository's simulator, so everything the role runs is what it installed.
The role installs OpenShell, writes gateway.toml, starts the gateway as a detached process and
registers it. Every gateway the role starts is stopped at the end (pidfile).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from harness import SIM_BIN, SimHost, free_port  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "scripts", "build-sim-packages.py")
VERSION = "0.0.116"  # a version a contract covers (tests/contract), not the simulator's default
GW_SECRET = "gwenv-canary-7d41c09e"
ROLE = {"role": "agentfleet.nemoclaw.openshell"}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = tmp_path_factory.mktemp("packages")
    subprocess.run([sys.executable, BUILD, str(out), VERSION], check=True, stdout=subprocess.PIPE)
    pkgs = {}
    for kind, name in (("archive", "openshell-sim-%s-linux.tar.gz" % VERSION), ("deb", "openshell_%s_all.deb" % VERSION)):
        path = os.path.join(str(out), name)
        with open(path + ".sha256") as fh:
            digest, fname = fh.read().split()
        assert fname == name
        pkgs[kind] = (path, digest)
    return pkgs


@pytest.fixture(scope="module")
def package_url(packages):
    """Base URL of a loopback HTTP server that serves the packages (the role's download path)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    directory = os.path.dirname(packages["archive"][0])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class RoleHosts(Fleet):
    """Like ``Fleet`` (same inventory and runner), but no gateway runs and PATH has no simulator."""

    def __init__(self, workdir, names):
        super(RoleHosts, self).__init__(workdir, names=names, gateway=False)

    def inventory(self, host_vars=None):
        """Only what this test sets (``Fleet.inventory`` may carry variables for other playbooks)."""
        hosts = {}
        for name, sim in self.hosts.items():
            env = dict((k, v) for k, v in sim.env.items() if k.startswith(("XDG_", "OPENSHELL_")) or k in ("HOME", "PATH"))
            hv = {"ansible_connection": "local", "ansible_python_interpreter": self.python, "sim_env": env,
                  "sim_root": sim.root}
            hv.update((host_vars or {}).get(name, {}))
            hosts[name] = hv
        return {"all": {"hosts": hosts}}

    def state_dir(self, name):
        return os.path.join(self.hosts[name].root, "state", "openshell")

    def pid(self, name):
        try:
            with open(os.path.join(self.state_dir(name), "gateway.pid")) as fh:
                return int(fh.read().strip())
        except (OSError, ValueError):
            return None

    def stop_gateways(self):
        for name in self.hosts:
            pid = self.pid(name)
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
                for _i in range(50):
                    if not alive(pid):
                        break
                    time.sleep(0.05)

    def cli(self, name, openshell, *argv):
        return subprocess.run([openshell] + list(argv), env=self.hosts[name].env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)


def alive(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return b"gateway" in fh.read()
    except OSError:
        return False


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def short(task):
    return task.split(" : ", 1)[-1]


def changed(step, host):
    return [short(r["task"]) for r in step.results if r["host"] == host and r["result"].get("changed")]


def result(step, task, host):
    found = [r["result"] for r in step.results if r["host"] == host and short(r["task"]) == task]
    assert found, (task, step.stdout[-4000:])
    return found[-1]


def failures(step, host):
    return [r for r in step.results if r["host"] == host and r["status"] == "failed"]


@pytest.fixture
def hosts(tmp_path):
    fleet = RoleHosts(tmp_path, ["arch", "deb", "ext", "badsum", "badtype", "nosystemd", "inject"])
    # the gateway of "ext": run by someone else (here the test harness, from the repository's simulator)
    fleet.external = SimHost(os.path.join(str(tmp_path), "external-gateway"))
    try:
        fleet.external.start()
        yield fleet
    finally:
        fleet.stop_gateways()
        fleet.external.stop()


def test_openshell_role(hosts, packages, package_url):
    archive, archive_sha = packages["archive"]
    deb, deb_sha = packages["deb"]
    roots = dict((n, h.root) for n, h in hosts.hosts.items())
    ports = dict((n, free_port()) for n in hosts.hosts)
    pwned = os.path.join(roots["inject"], "PWNED")
    common = {"openshell_version": VERSION, "openshell_gateway_supervisor": "process"}
    hv = {
        "arch": dict(common, openshell_install_method="archive",
                     openshell_package_src=package_url + os.path.basename(archive),
                     openshell_package_sha256=archive_sha, openshell_install_prefix=roots["arch"] + "/prefix",
                     openshell_gateway_port=ports["arch"],
                     openshell_gateway_env={"OPENSHELL_SIM_READY_DELAY": "0.1", "GATEWAY_DB_PASSWORD": GW_SECRET}),
        "deb": dict(common, openshell_install_method="deb", openshell_package_src=deb,
                    openshell_package_sha256=deb_sha.upper(), openshell_deb_install_root=roots["deb"] + "/debroot",
                    openshell_gateway_port=ports["deb"], openshell_gateway_compute_driver="docker",
                    openshell_gateway_local_tls=True),
        "ext": dict(openshell_version="0.0.111", openshell_install_method="none", openshell_gateway_supervisor="external",
                    openshell_path=os.path.join(SIM_BIN, "openshell"),
                    openshell_gateway_path=os.path.join(SIM_BIN, "openshell-gateway"),
                    openshell_gateway_port=hosts.external.port),
        "badsum": dict(common, openshell_install_method="archive", openshell_package_src=archive,
                       openshell_package_sha256="0" * 64, openshell_install_prefix=roots["badsum"] + "/prefix",
                       openshell_gateway_port=ports["badsum"]),
        "badtype": dict(common, openshell_install_method="archive", openshell_package_src=archive,
                        openshell_package_sha256=archive_sha, openshell_install_prefix=roots["badtype"] + "/prefix",
                        openshell_gateway_port="abc"),
        # issue 19: a key that is a shell command and a value with a newline are refused before any change
        "inject": dict(common, openshell_install_method="archive", openshell_package_src=archive,
                       openshell_package_sha256=archive_sha, openshell_install_prefix=roots["inject"] + "/prefix",
                       openshell_gateway_port=free_port(),
                       openshell_gateway_env={"X=1 touch %s; Y" % pwned: "v", "GOOD": "a\nINJECTED=1"}),
        "nosystemd": dict(common, openshell_install_method="archive", openshell_package_src=archive,
                          openshell_package_sha256=archive_sha, openshell_install_prefix=roots["nosystemd"] + "/prefix",
                          openshell_gateway_port=ports["nosystemd"], openshell_gateway_supervisor="systemd_user"),
    }

    def run(**kw):
        return hosts.run(tasks=[], play_extra={"roles": [ROLE]}, host_vars=hv, **kw)

    # ---- first run: install, configure, start, register (-vvv: the gateway env must not show)
    step = run(verbosity=3)
    assert step.rc != 0  # three hosts are meant to fail
    for name in ("arch", "deb", "ext"):
        assert failures(step, name) == [], step.stdout[-6000:]
        assert changed(step, name), name

    # (a) archive downloaded from a URL, unpacked into the prefix, gateway running, registered
    arch_cli = roots["arch"] + "/prefix/bin/openshell"
    assert os.access(arch_cli, os.X_OK)
    assert os.path.isfile(roots["arch"] + "/prefix/lib/openshell-sim/openshell_sim/gateway.py")
    pid1 = hosts.pid("arch")
    assert pid1 and alive(pid1) and listening(ports["arch"])
    with open("/proc/%d/environ" % pid1, "rb") as fh:
        environ = fh.read()
    assert b"OPENSHELL_SIM_READY_DELAY=0.1\0" in environ and ("GATEWAY_DB_PASSWORD=%s\0" % GW_SECRET).encode() in environ
    # the gateway env is read from gateway.env on the host: never in a command line, the output, results or diffs
    with open("/proc/%d/cmdline" % pid1, "rb") as fh:
        assert GW_SECRET.encode() not in fh.read()
    assert GW_SECRET not in step.stdout and GW_SECRET not in json.dumps(step.results)
    cfg = result(step, "Configure the gateway (configuration and state directories, gateway.toml, gateway.env)", "arch")
    assert "GATEWAY_DB_PASSWORD=<hidden>" in json.dumps(cfg.get("diff")), cfg.get("diff")
    conf = os.path.join(roots["arch"], "config", "openshell")
    assert oct(os.stat(conf).st_mode & 0o777) == "0o700"
    assert oct(os.stat(hosts.state_dir("arch")).st_mode & 0o777) == "0o700"
    assert oct(os.stat(conf + "/gateway.toml").st_mode & 0o777) == "0o600"
    assert oct(os.stat(conf + "/gateway.env").st_mode & 0o777) == "0o600"
    with open(conf + "/gateway.toml") as fh:
        toml = fh.read()
    assert '[openshell]\nversion = 1\n' in toml
    assert 'bind_address = "127.0.0.1:%d"' % ports["arch"] in toml
    assert os.path.getsize(os.path.join(hosts.state_dir("arch"), "gateway.log")) > 0
    status = json.loads(hosts.cli("arch", arch_cli, "status", "-o", "json").stdout)
    assert status["status"] == "connected" and status["version"] == VERSION
    assert status["server"] == "http://127.0.0.1:%d" % ports["arch"]
    reg = result(step, "Register the gateway with the CLI and wait until it is connected", "arch")
    assert reg["status"]["status"] == "connected"

    # (d) deb (copied from the controller) unpacked into its install root with its user unit; version checked
    debroot = roots["deb"] + "/debroot"
    for rel in ("usr/bin/openshell", "usr/bin/openshell-gateway", "usr/lib/openshell-sim/openshell_sim/cli.py",
                "usr/lib/systemd/user/openshell-gateway.service"):
        assert os.path.isfile(os.path.join(debroot, rel)), rel
    assert hosts.cli("deb", debroot + "/usr/bin/openshell", "--version").stdout.strip() == "openshell " + VERSION
    assert hosts.pid("deb") and listening(ports["deb"])
    with open(os.path.join(roots["deb"], "config", "openshell", "gateway.toml")) as fh:
        toml = fh.read()
    assert 'compute_drivers = ["docker"]' in toml and "disable_tls" not in toml
    # local TLS: certificates generated before the first start, registered over https with mTLS
    assert os.path.isfile(os.path.join(hosts.state_dir("deb"), "tls", "ca.crt"))
    reg = result(step, "Register the gateway with the CLI and wait until it is connected", "deb")
    assert reg["gateway"]["endpoint"] == "https://127.0.0.1:%d" % ports["deb"] and reg["gateway"]["auth"] == "mtls"
    assert reg["status"]["status"] == "connected"

    # install method none + external supervisor: version verified, nothing installed or started, registered
    assert hosts.pid("ext") is None
    assert not any(t.startswith(("Install", "Unpack", "Copy", "Download", "Start", "Restart")) for t in changed(step, "ext"))
    reg = result(step, "Register the gateway with the CLI and wait until it is connected", "ext")
    assert reg["gateway"]["endpoint"] == hosts.external.endpoint and reg["status"]["status"] == "connected"

    # (c) checksum mismatch: refused with both digests, nothing installed or configured
    msgs = " ".join(r["result"].get("msg", "") for r in failures(step, "badsum"))
    assert "expected sha256 %s" % ("0" * 64) in msgs and "actual sha256 %s" % archive_sha in msgs, msgs
    assert not os.path.exists(roots["badsum"] + "/prefix")
    assert not os.path.exists(os.path.join(roots["badsum"], "config", "openshell"))
    assert not listening(ports["badsum"])

    # (e) wrong type: argument validation names the variable
    msgs = " ".join(r["result"].get("msg", "") for r in failures(step, "badtype"))
    assert "openshell_gateway_port" in msgs and "int" in msgs, msgs
    assert not os.path.exists(roots["badtype"] + "/prefix")

    # a gateway env key that is a shell command, a value with a newline: refused naming both, nothing done
    msgs = " ".join(r["result"].get("msg", "") for r in failures(step, "inject"))
    assert "openshell_gateway_env: key 'X=1 touch" in msgs and "must match [A-Za-z_][A-Za-z0-9_]*" in msgs, msgs
    assert "openshell_gateway_env.GOOD: value must not contain a newline" in msgs and "INJECTED" not in msgs, msgs
    assert not os.path.exists(pwned) and not os.path.exists(roots["inject"] + "/prefix")
    assert not os.path.exists(os.path.join(roots["inject"], "config", "openshell"))

    # systemd_user on a host without systemd fails early, suggesting the process supervisor
    msgs = " ".join(r["result"].get("msg", "") for r in failures(step, "nosystemd"))
    assert "needs systemd" in msgs and "openshell_gateway_supervisor=process" in msgs, msgs
    assert not os.path.exists(roots["nosystemd"] + "/prefix")

    # ---- second run: nothing changes on "arch" (same gateway keeps running); (b) on "deb" a
    # configuration change (port, extra key) makes the handler restart the gateway on the new port
    deb_pid1, deb_old_port = hosts.pid("deb"), ports["deb"]
    hv["deb"]["openshell_gateway_port"] = ports["deb"] = free_port()
    hv["deb"]["openshell_gateway_extra_config"] = {"log_level": "debug"}
    step = run(limit="arch,deb")
    assert step.rc == 0, step.stdout[-6000:]
    assert changed(step, "arch") == []
    assert [c["argv"] for c in step.mutating if c["host"] == "arch"] == []
    assert hosts.pid("arch") == pid1 and alive(pid1)
    assert set(changed(step, "deb")) == {"Configure the gateway (configuration and state directories, gateway.toml, gateway.env)",
                                         "Restart the gateway process",
                                         "Register the gateway with the CLI and wait until it is connected"}
    deb_pid2 = hosts.pid("deb")
    assert deb_pid2 and deb_pid2 != deb_pid1 and alive(deb_pid2) and not alive(deb_pid1)
    assert listening(ports["deb"]) and not listening(deb_old_port)
    status = json.loads(hosts.cli("deb", debroot + "/usr/bin/openshell", "status", "-o", "json").stdout)
    assert status["status"] == "connected" and status["server"] == "https://127.0.0.1:%d" % ports["deb"]
    with open(os.path.join(roots["deb"], "config", "openshell", "gateway.toml")) as fh:
        assert 'log_level = "debug"' in fh.read()

    # ---- third run: "deb" converged after the change ("arch" proved it already)
    step = run(limit="deb")
    assert step.rc == 0, step.stdout[-6000:]
    assert changed(step, "deb") == [] and step.mutating == []
    assert hosts.pid("deb") == deb_pid2

    # (f) check mode on a converged host predicts no change
    step = run(limit="arch", check=True)
    assert step.rc == 0, step.stdout[-6000:]
    assert changed(step, "arch") == [] and step.mutating == []
    assert hosts.pid("arch") == pid1

    # (g) a deleted gateway executable is detected and the package installed again (the CLI still
    # reports the pinned version); the next run is converged
    gateway_exe = roots["arch"] + "/prefix/bin/openshell-gateway"
    assert os.access(gateway_exe, os.X_OK)
    os.unlink(gateway_exe)
    step = run(limit="arch")
    assert step.rc == 0, step.stdout[-6000:]
    assert os.access(gateway_exe, os.X_OK), changed(step, "arch")
    assert any(t.startswith(("Unpack", "Install")) for t in changed(step, "arch")), changed(step, "arch")
    step = run(limit="arch")
    assert step.rc == 0 and changed(step, "arch") == [], changed(step, "arch")

    # every CLI call the role made parses under the real grammar
    assert hosts.invalid_calls() == []
