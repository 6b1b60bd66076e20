# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Fleet benchmark: site.yml, its no-op re-run, --check, drift.yml, 3 agents per host and NemoClaw's way on simulated fleets.

    PYTHONPATH=.collections .venv/bin/python benchmarks/bench_fleet.py [--sizes 10,50,100] [--forks 50]
        [--profile pull|fast] [--only fresh,noop,check,drift,agents] [--skip-nemoclaw-way] [--nemoclaw-hosts 3]
        [--converge site|nemoclaw] [--keep] [--workdir DIR]

For every fleet size: ``scripts/simfleet up`` (one simulated OpenShell gateway per host, sim-1 ... sim-N,
with the latency profile ``--profile``: ``pull`` = a new sandbox is Ready after 30 s, as after an image
pull), then measure, each as one ansible-playbook run over the fleet's own inventory with the given forks:

  F1      a play of one ansible.builtin.ping per host (Ansible's own floor; first and last, F1 = their mean)
  fresh   site.yml on new hosts (one OpenClaw agent each)      noop   site.yml again (nothing to do)
  check   site.yml --check --diff                              drift  playbooks/drift.yml
  agents  3 agents per host (group_vars): their converge, then the 3-agent no-op (``noop-3agents``)
  nemoclaw-onboard: NemoClaw's onboard sequence of openshell calls, host after host, on
          ``--nemoclaw-hosts`` hosts emptied first; its fleet time is the per-host mean x N (sequential)

--converge nemoclaw is a quick mode for big fleets: site.yml converges sim-1 only, NemoClaw's way the
other hosts (all measured, sequential), then only drift.yml is measured against F1.

Per run: wall time, time per host, wall time / F1, module executions per host (a per-host interpreter
wrapper logs every module start), CPU seconds (ansible-playbook and every process it waited for),
openshell calls per host from the simulated hosts' call logs split into reads, writes and commands run
inside the sandbox, changed results, and the peak memory of the ansible-playbook process tree (PSS
sampled from /proc). Per-task timings come from benchmarks/callback_plugins/bench_timer.py. Results:
a table on stdout and benchmarks/results/<timestamp>.json + .md. The fleet is stopped at the end
whatever happens (``scripts/simfleet down``).
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "tests", "simulator")]

from harness import SimHost, sim_python  # noqa: E402  pylint: disable=wrong-import-position
from playrunner import ansible_playbook, command_words, is_read_only, read_calls  # noqa: E402  pylint: disable=wrong-import-position
from simfleet_runner import write_vars  # noqa: E402  pylint: disable=wrong-import-position
import nemoclaw_way  # noqa: E402  pylint: disable=wrong-import-position

if sim_python():
    # Every process of the run (simfleet, the fleet's SimHost views) starts the simulator on that interpreter.
    os.environ["OPENSHELL_SIM_PYTHON"] = sim_python()

SCENARIOS = ("fresh", "noop", "check", "drift", "agents")
SIMFLEET = os.path.join(ROOT, "scripts", "simfleet")
SIMFLEET_SECRET = "nvapi-SIMFLEET-0000-not-a-real-key"   # what scripts/simfleet puts in the inventory
DRIFT_CALLBACK = os.path.join(ROOT, "plugins", "callback", "drift_report.py")
# The 3-agent scenario: the fleet's default agent and two more of the same kind (one inference route).
THREE_AGENTS = [{"name": "openclaw", "agent": "openclaw"}, {"name": "openclaw-2", "agent": "openclaw"},
                {"name": "openclaw-3", "agent": "openclaw"}]

LIVE_FLEETS = []


def stop_all():
    while LIVE_FLEETS:
        LIVE_FLEETS.pop().down()


atexit.register(stop_all)


def _on_signal(signum, _frame):
    sys.stderr.write("bench_fleet: signal %d, stopping the simulated fleet\n" % signum)
    stop_all()
    sys.exit(128 + signum)


# ---------------------------------------------------------------------------------------------- memory
class TreeSampler(object):
    """Peak memory of this process's descendants (less the gateways), sampled from /proc.

    RSS of a single process every ``interval`` s (cheap); PSS (``smaps_rollup``: shared pages divided
    among the processes sharing them) of the whole tree every ``pss_every`` samples. Summed RSS would
    count the pages Ansible's forked workers share with their parent once per worker.
    """

    def __init__(self, exclude_pids, interval=0.25, pss_every=4):
        self.exclude = set(exclude_pids)
        self.interval = interval
        self.pss_every = pss_every
        self.peak_controller = 0   # PSS sum over the ansible-playbook processes (main + forked workers)
        self.peak_tree = 0         # PSS sum over the whole tree: + modules, their shells, openshell CLIs
        self.peak_controller_rss = 0   # RSS sum over the ansible-playbook processes (over-counts shared pages)
        self.peak_main = 0         # RSS of the ansible-playbook main process
        self.peak_single = 0       # RSS of the largest single process
        self.peak_procs = 0
        self._n = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        me = os.getpid()
        while not self._stop.is_set():
            try:
                self._sample(me)
            except Exception:  # pylint: disable=broad-except
                pass
            self._stop.wait(self.interval)

    def _sample(self, me):
        children = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name) as fh:
                    stat = fh.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(name))
        tree, todo = [], [p for p in children.get(me, []) if p not in self.exclude]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        main = [p for p in children.get(me, []) if p not in self.exclude]
        self._n += 1
        with_pss = self._n % self.pss_every == 1
        total = controller = controller_rss = main_rss = single = 0
        for pid in tree:
            try:
                with open("/proc/%d/statm" % pid) as fh:
                    rss = int(fh.read().split()[1]) * self._page
                with open("/proc/%d/cmdline" % pid, "rb") as fh:
                    cmd = fh.read(400)
                pss = 0
                if with_pss:
                    with open("/proc/%d/smaps_rollup" % pid) as fh:
                        for line in fh:
                            if line.startswith("Pss:"):
                                pss = int(line.split()[1]) * 1024
                                break
            except OSError:
                continue
            total += pss
            single = max(single, rss)
            if b"ansible-playbook" in cmd:
                controller += pss
                controller_rss += rss
                if pid in main:
                    main_rss = max(main_rss, rss)
        self.peak_tree = max(self.peak_tree, total)
        self.peak_controller = max(self.peak_controller, controller)
        self.peak_controller_rss = max(self.peak_controller_rss, controller_rss)
        self.peak_main = max(self.peak_main, main_rss)
        self.peak_single = max(self.peak_single, single)
        self.peak_procs = max(self.peak_procs, len(tree))


# ---------------------------------------------------------------------------------------------- fleet
class Fleet(object):
    """A ``scripts/simfleet`` fleet (sim-1 ... sim-N, group ``nemoclaw``) measured through its own inventory.

    Every host's ``ansible_python_interpreter`` is a two-line wrapper (``DIR/host_vars/<host>.yml``)
    that logs each module start, so module executions per host are counted exactly.
    """

    def __init__(self, workdir, count, profile="pull", version=None):
        self.workdir = self.dir = workdir
        cmd = [SIMFLEET, "up", workdir, "--hosts", str(count), "--profile", profile]
        if version:
            cmd += ["--openshell-version", version]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              env=dict(os.environ, PYTHON=sys.executable), check=False)
        LIVE_FLEETS.append(self)
        if proc.returncode != 0:
            raise RuntimeError("simfleet up failed:\n" + proc.stdout)
        with open(os.path.join(workdir, "fleet.json")) as fh:
            self.state = json.load(fh)
        self.inventory = self.state["inventory"]
        self.hosts = dict((h["name"], h) for h in self.state["hosts"])
        self._n = 0
        for name, host in self.hosts.items():
            wrapper = os.path.join(host["root"], "python")
            with open(wrapper, "w") as fh:
                fh.write("#!/bin/sh\necho \"${1:-stdin}\" >> %s\nexec %s \"$@\"\n"
                         % (os.path.join(host["root"], "modules.log"), sys.executable))
            os.chmod(wrapper, 0o755)
            self.set_vars("host_vars", name, {"ansible_python_interpreter": wrapper})

    def set_vars(self, kind, name, variables):
        """``DIR/<kind>/<name>.yml`` (host_vars or group_vars next to the inventory); ``None`` removes it."""
        write_vars(self.dir, kind, name, variables)

    def calls(self, name):
        return read_calls(self.hosts[name]["call_log"])

    def sim(self, name):
        """A tests/simulator SimHost view of one host (its CLI environment; the gateway is simfleet's)."""
        host = self.hosts[name]
        return SimHost(host["root"], port=host["port"],
                       extra_env={"OPENSHELL_SIM_VERSION": self.state["version"],
                                  "OPENSHELL_SIM_READY_DELAY": "%g" % self.state["ready_delay"]})

    def run(self, playbook=None, tasks=None, check=False, diff=False, extra_vars=None, env=None, limit=None,
            timeout=7200):
        """One ansible-playbook run (a playbook of a checkout, or ``tasks`` as one play); ``(rc, output, calls)``."""
        self._n += 1
        step_dir = os.path.join(self.dir, "steps", "step%03d" % self._n)
        os.makedirs(step_dir)
        if playbook is None:
            playbook = os.path.join(step_dir, "playbook.yml")
            with open(playbook, "w") as fh:
                yaml.safe_dump([{"name": "step", "hosts": "nemoclaw", "gather_facts": False, "tasks": tasks}], fh,
                               sort_keys=False)
        before = dict((name, len(self.calls(name))) for name in self.hosts)
        rc, out, _results = ansible_playbook(self.inventory, os.path.join(ROOT, playbook), step_dir,
                                             os.path.join(self.dir, "ansible-home"), check=check, diff=diff,
                                             extra_vars=extra_vars, env=env, limit=limit, timeout=timeout)
        calls = []
        for name in self.hosts:
            calls.extend(self.calls(name)[before[name]:])
        return rc, out, calls

    def down(self):
        subprocess.run([SIMFLEET, "down", self.dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)


def start_fleet(workdir, count, batch=None, profile="fast"):  # pylint: disable=unused-argument
    """A simulated fleet of ``count`` hosts in ``workdir`` (``batch`` is kept for callers; simfleet starts all at once)."""
    return Fleet(workdir, count, profile=profile)


def module_counts(fleet):
    counts = {}
    for name, host in fleet.hosts.items():
        path = os.path.join(host["root"], "modules.log")
        with open(path) if os.path.exists(path) else open(os.devnull) as fh:
            counts[name] = [line.strip() for line in fh if line.strip()]
    return counts


def classify(calls):
    reads = writes = execs = 0
    for call in calls:
        if is_read_only(call["argv"]):
            reads += 1
        elif command_words(call["argv"])[:2] == ("sandbox", "exec"):
            execs += 1
        else:
            writes += 1
    return reads, writes, execs


def make_plan(fleet, workdir):
    """NemoClaw's onboard plan from sim-1's fresh converge by site.yml (see nemoclaw_way.plan_from_calls)."""
    host1 = fleet.sim("sim-1")
    calls = [c for c in host1.calls() if c["argv"][:2] != ["gateway", "add"]]
    policy = host1.ok("sandbox", "get", "openclaw", "--policy-only").stdout
    return nemoclaw_way.plan_from_calls(calls, policy, workdir, secret=SIMFLEET_SECRET)


def machine_cpu():
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat; zeros elsewhere."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (IOError, OSError, ValueError):
        return 0.0, 0.0
    hz = float(os.sysconf("SC_CLK_TCK"))
    # user nice system idle iowait irq softirq steal
    return sum(fields[i] for i in (0, 1, 2, 5, 6)) / hz, (fields[7] if len(fields) > 7 else 0) / hz


def cli_server_cpu():
    """CPU seconds so far of the simulated CLI's fork servers and the calls they forked (reaped, so in
    cutime/cstime): bin/openshell runs a call there, outside the ansible-playbook process tree."""
    hz = float(os.sysconf("SC_CLK_TCK"))
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as fh:
                if b"openshell_sim.forkserver" not in fh.read():
                    continue
            with open("/proc/%s/stat" % entry) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (IOError, OSError):
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / hz


def run_play(fleet, label, forks, playbook=None, tasks=None, check=False, diff=False, extra_vars=None,
             extra_env=None, limit=None):
    """One ansible-playbook run on the whole fleet (or ``limit``), measured.

    ``extra_env`` is added to ansible-playbook's environment last (e.g. ANSIBLE_CONFIG and
    ANSIBLE_COLLECTIONS_PATH of another checkout, with an absolute ``playbook`` path: compare a change).
    """
    before = module_counts(fleet)
    step_dir = os.path.join(fleet.dir, "timer-" + label)
    os.makedirs(step_dir, exist_ok=True)
    callbacks = ["bench_timer"]
    if os.path.exists(DRIFT_CALLBACK):
        callbacks.append("agentfleet.nemoclaw.drift_report")  # what the collection's ansible.cfg enables
    env = {
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(callbacks),
        "BENCH_TIMER_FILE": os.path.join(step_dir, "timer.json"),
        "DRIFT_REPORT_DIR": step_dir,
    }
    env.update(extra_env or {})
    load = os.getloadavg()[0]
    machine0 = machine_cpu()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli0 = cli_server_cpu()
    with TreeSampler([]) as mem:
        started = time.time()
        rc, output, calls = fleet.run(playbook=playbook, tasks=tasks, check=check, diff=diff, env=env,
                                      extra_vars=extra_vars, limit=limit)
        wall = time.time() - started
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli_cpu = max(0.0, cli_server_cpu() - cli0)
    machine1 = machine_cpu()
    # CPU seconds of ansible-playbook and every process it waited for (workers, modules, the openshell
    # CLIs' clients) and of the calls the CLI's fork server ran for them: the work done, which a loaded
    # machine stretches much less than the wall time.
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime) + cli_cpu
    after = module_counts(fleet)
    n = len(limit.split(",")) if limit else len(fleet.hosts)
    modules = {}
    for name in fleet.hosts:
        for mod in after[name][len(before[name]):]:
            mod = os.path.basename(mod).replace("AnsiballZ_", "").replace(".py", "")
            modules[mod] = modules.get(mod, 0) + 1
    reads, writes, execs = classify(calls)
    timer = {}
    path = os.path.join(step_dir, "timer.json")
    if os.path.exists(path):
        with open(path) as fh:
            timer = json.load(fh)
    drift = None
    path = os.path.join(step_dir, "drift-report.json")
    if os.path.exists(path):
        with open(path) as fh:
            drift = json.load(fh).get("summary")
    tasks_run = timer.get("tasks", [])
    changed = sum(t.get("changed", 0) for t in tasks_run)
    failed = sum(t.get("failed", 0) for t in tasks_run)
    result = {
        "scenario": label, "hosts": n, "rc": rc, "wall": round(wall, 2), "per_host": round(wall / n, 3),
        "cpu_seconds": round(cpu, 1), "cpu_per_host": round(cpu / n, 3), "cli_server_cpu_seconds": round(cli_cpu, 2),
        # the main ansible-playbook process alone (it queues every host's task and handles every result)
        "main_cpu_seconds": timer.get("main_cpu"),
        # the whole machine meanwhile (/proc/stat): busy CPU s (ours + the simulated gateways + anything
        # else) and the hypervisor's steal; a run slowed by something else shows here
        "machine_busy_seconds": round(machine1[0] - machine0[0], 1), "steal_seconds": round(machine1[1] - machine0[1], 1),
        "module_executions": sum(modules.values()), "module_executions_per_host": round(sum(modules.values()) / n, 2),
        "modules": dict(sorted(modules.items(), key=lambda kv: -kv[1])),
        # tasks evaluated per host (ran, skipped or failed), module executions included
        "tasks_per_host": round(sum(t.get("hosts", 0) for t in tasks_run) / float(n), 2),
        "calls": len(calls), "reads_per_host": round(reads / n, 2), "writes_per_host": round(writes / n, 2),
        "execs_per_host": round(execs / n, 2), "changed": changed, "failed": failed,
        "peak_controller_mib": round(mem.peak_controller / 2.0 ** 20, 1),
        "peak_controller_rss_sum_mib": round(mem.peak_controller_rss / 2.0 ** 20, 1), "peak_main_mib": round(mem.peak_main / 2.0 ** 20, 1),
        "peak_tree_mib": round(mem.peak_tree / 2.0 ** 20, 1), "peak_single_mib": round(mem.peak_single / 2.0 ** 20, 1),
        "peak_processes": mem.peak_procs, "drift_summary": drift,
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
        "tasks": sorted(tasks_run, key=lambda t: -t["wall"]),
    }
    if rc != 0:
        result["output_tail"] = output[-3000:]
    return result


def run_nemoclaw(fleet, label, plan, names, fresh, total=None):
    """NemoClaw's onboard, host after host, on ``names``; ``total`` hosts: the fleet time is the per-host mean x total."""
    hosts = dict((name, fleet.sim(name)) for name in names)
    if fresh:
        for host in hosts.values():
            nemoclaw_way.reset_host(host, plan)
    before = dict((name, len(h.calls())) for name, h in hosts.items())
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, per_host = nemoclaw_way.onboard_fleet(hosts, plan)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    calls = []
    for name, host in hosts.items():
        calls.extend(host.calls()[before[name]:])
    reads, writes, execs = classify(calls)
    n = len(hosts)
    total = total or n
    return {"scenario": label, "hosts": total, "measured_hosts": n, "rc": 0,
            # sequential: a fleet of ``total`` hosts takes ``total`` times the mean host
            "wall": round(wall * total / float(n), 2), "measured_wall": round(wall, 2), "per_host": round(wall / n, 3),
            "cpu_seconds": round(cpu, 1), "cpu_per_host": round(cpu / n, 3),
            "module_executions": 0, "module_executions_per_host": 0.0, "tasks_per_host": 0.0, "calls": len(calls),
            "reads_per_host": round(reads / n, 2), "writes_per_host": round(writes / n, 2),
            "execs_per_host": round(execs / n, 2), "changed": None, "failed": 0,
            "max_host_seconds": round(max(per_host.values()), 2)}


PING = [{"name": "ping", "ansible.builtin.ping": {}}]


def cpu_busy(seconds=2.0):
    """Fraction of the machine's CPU time used (by anyone) over the next ``seconds``, from /proc/stat."""
    def snap():
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait
    total0, idle0 = snap()
    time.sleep(seconds)
    total1, idle1 = snap()
    return 1.0 - (idle1 - idle0) / float(max(1, total1 - total0))


def settle(limit=60.0, quiet=0.25):
    """Wait (up to ``limit`` s) until the machine is quiet: less than ``quiet`` of its CPU busy over 2 s.

    The idle simulated gateways use ~3 % of it at 40 hosts. Returns the last busy fraction measured.
    """
    started = time.time()
    busy = cpu_busy()
    while busy > quiet and time.time() - started < limit:
        busy = cpu_busy()
    return busy


def bench_size(size, args, log):
    workdir = tempfile.mkdtemp(prefix="fleet%d-" % size, dir=args.workdir)
    log("fleet of %d (%s profile): scripts/simfleet up %s" % (size, args.profile, workdir))
    t0 = time.time()
    fleet = Fleet(workdir, size, profile=args.profile)
    log("  %d gateways up in %.1f s" % (size, time.time() - t0))
    out = {"hosts": size, "forks": args.forks, "profile": args.profile,
           "ready_delay": fleet.state.get("ready_delay"), "runs": []}
    try:
        def measure(label, **kw):  # pylint: disable=too-many-locals
            busy = settle()
            log("  %s ... (CPU busy before: %.0f %%)" % (label, 100 * busy))
            res = run_play(fleet, label, args.forks, **kw)
            res["busy_before"] = round(busy, 3)
            out["runs"].append(res)
            log("  %-18s rc %d  %7.1f s (CPU %.0f s, main %.0f s, machine %.0f s, steal %.1f s)  %5.2f s/host  "
                "%5.1f modules %4.1f tasks /host  %5.1f reads %4.1f writes %4.1f exec /host  changed %d  PSS ctl %5.0f tree %5.0f MiB"
                % (label, res["rc"], res["wall"], res["cpu_seconds"], res["main_cpu_seconds"] or 0,
                   res["machine_busy_seconds"], res["steal_seconds"], res["per_host"], res["module_executions_per_host"],
                   res["tasks_per_host"], res["reads_per_host"], res["writes_per_host"], res["execs_per_host"], res["changed"],
                   res["peak_controller_mib"], res["peak_tree_mib"]))
            if res["rc"] != 0:
                log("    output: " + res.get("output_tail", "")[-1500:])
            return res

        def nemoclaw(label, plan, names, fresh):
            log("  %s of %d host(s) (sequential) ..." % (label, len(names)))
            settle()
            res = run_nemoclaw(fleet, label, plan, names, fresh=fresh, total=size)
            out["runs"].append(res)
            log("  %-18s %7.1f s for %d host(s): %5.2f s/host, %d hosts: %.1f s  %5.1f reads %4.1f writes %4.1f exec /host"
                % (label, res["measured_wall"], res["measured_hosts"], res["per_host"], size, res["wall"],
                   res["reads_per_host"], res["writes_per_host"], res["execs_per_host"]))
            return res

        measure("F1-before", tasks=PING)
        if args.converge == "nemoclaw":
            # Quick mode for big fleets on a busy machine: site.yml converges sim-1 only; the other
            # hosts get the same OpenShell resources the NemoClaw way (sequential onboard, measured);
            # then the drift scan runs on all (it finds the collection's labels and records missing
            # on those hosts: same reads, a longer report).
            first = measure("fresh-sim-1", playbook="site.yml", limit="sim-1")
            if first["rc"] != 0:
                raise RuntimeError("site.yml failed on sim-1:\n" + first.get("output_tail", ""))
            plan = make_plan(fleet, workdir)
            nemoclaw("nemoclaw-onboard", plan, [n for n in fleet.hosts if n != "sim-1"], fresh=False)
            if "drift" in args.only:
                measure("drift", playbook="playbooks/drift.yml")
        else:
            fresh = None
            if "fresh" in args.only:
                fresh = measure("fresh", playbook="site.yml")
                if fresh["rc"] != 0:
                    raise RuntimeError("site.yml failed on the fresh fleet:\n" + fresh.get("output_tail", ""))
            if "noop" in args.only:
                measure("noop", playbook="site.yml")
            if "check" in args.only:
                measure("check", playbook="site.yml", check=True, diff=True)
            if "noop" in args.only:
                # The same no-op once more: the spread between two runs of one play on one fleet is
                # the noise every other difference in this table has to be read against.
                measure("noop-again", playbook="site.yml")
            if "drift" in args.only:
                measure("drift", playbook="playbooks/drift.yml")
            if not args.skip_nemoclaw_way and fresh is not None:
                # NemoClaw's onboard on the last hosts, emptied first: the fresh rollout its way.
                plan = make_plan(fleet, workdir)
                names = sorted(fleet.hosts, key=lambda n: int(n.split("-")[1]))[-min(args.nemoclaw_hosts, size):]
                nemoclaw("nemoclaw-onboard", plan, names, fresh=True)
            if "agents" in args.only:
                # 3 agents per host: converge them (2 new sandboxes per host), then the no-op with 3.
                fleet.set_vars("group_vars", "nemoclaw", {"nemoclaw_agents": THREE_AGENTS})
                res = measure("fresh-3agents", playbook="site.yml")
                if res["rc"] == 0:
                    measure("noop-3agents", playbook="site.yml")
        # Ansible's floor again at the end: the load of a shared machine drifts during a long run.
        measure("F1-after", tasks=PING)
    finally:
        fleet.down()
        if fleet in LIVE_FLEETS:
            LIVE_FLEETS.remove(fleet)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    floors = [r["wall"] for r in out["runs"] if r["scenario"].startswith("F1")]
    f1 = sum(floors) / len(floors)
    out["F1"] = round(f1, 2)
    out["F1_runs"] = floors
    for run in out["runs"]:
        run["x_F1"] = round(run["wall"] / f1, 2) if f1 else None
    return out


# ---------------------------------------------------------------------------------------------- report
def extra_agent_cost(size_result):
    """Wall time of the 3-agent no-op over the 1-agent no-op (mean of noop and noop-again), per extra agent, / F1."""
    runs = dict((r["scenario"], r) for r in size_result["runs"])
    ones = [runs[k]["wall"] for k in ("noop", "noop-again") if k in runs]
    if "noop-3agents" not in runs or not ones or not size_result["F1"]:
        return None
    extra = len(THREE_AGENTS) - 1
    return round((runs["noop-3agents"]["wall"] - sum(ones) / len(ones)) / extra / size_result["F1"], 3)


def targets(size_result):
    """The issue's targets (#17, Performance), judged on one fleet size."""
    runs = dict((r["scenario"], r) for r in size_result["runs"])
    f1 = size_result["F1"]
    found = []

    def add(what, ok, detail):
        found.append({"target": what, "met": ok, "measured": detail})

    for name in ("noop", "noop-again", "noop-3agents"):
        if name in runs:
            run = runs[name]
            add("%s: 0 writes, 0 changed" % name, run["writes_per_host"] == 0 and run["changed"] == 0,
                "%.2f writes/host, %.2f exec/host, %d changed" % (run["writes_per_host"], run["execs_per_host"], run["changed"]))
    for name, limit in (("noop", 3), ("noop-again", 3), ("check", 3), ("drift", 1.5)):
        if name in runs:
            add("%s within %g x F1" % (name, limit), runs[name]["wall"] <= limit * f1, "%.2f x F1" % (runs[name]["wall"] / f1))
    cost = extra_agent_cost(size_result)
    if cost is not None:
        add("extra agent within 0.2 x F1", cost <= 0.2, "%.3f x F1 per extra agent" % cost)
    peak = max([r.get("peak_tree_mib", 0) for r in size_result["runs"]])
    add("controller memory under 2 GiB", peak < 2048,
        "peak PSS %.0f MiB (whole ansible-playbook tree), %.0f MiB (ansible-playbook processes); "
        "main process RSS %.0f MiB" % (
            peak, max([r.get("peak_controller_mib", 0) for r in size_result["runs"]]),
            max([r.get("peak_main_mib", 0) for r in size_result["runs"]])))
    return found


def ratios(size_result):
    runs = dict((r["scenario"], r) for r in size_result["runs"])
    out = {}
    if "fresh" in runs and "nemoclaw-onboard" in runs:
        out["nemoclaw-onboard / fresh"] = round(runs["nemoclaw-onboard"]["wall"] / runs["fresh"]["wall"], 2)
    cost = extra_agent_cost(size_result)
    if cost is not None:
        out["extra agent / F1"] = cost
    return out


COLUMNS = ("hosts", "scenario", "rc", "wall s", "s/host", "x F1", "CPU s", "modules/host", "tasks/host", "reads/host",
           "writes/host", "exec/host", "changed", "ctl MiB", "tree MiB", "main RSS")


def table_rows(results):
    rows = []
    for size in results:
        for r in size["runs"]:
            label = r["scenario"]
            if r.get("measured_hosts") and r["measured_hosts"] != r["hosts"]:
                label += " (%d measured)" % r["measured_hosts"]
            rows.append((str(r["hosts"]), label, str(r["rc"]), "%.1f" % r["wall"], "%.2f" % r["per_host"],
                         "%.2f" % r["x_F1"], "%.0f" % r.get("cpu_seconds", 0), "%.1f" % r["module_executions_per_host"],
                         "%.1f" % r.get("tasks_per_host", 0), "%.1f" % r["reads_per_host"],
                         "%.1f" % r["writes_per_host"], "%.1f" % r["execs_per_host"],
                         "-" if r.get("changed") is None else str(r["changed"]),
                         "-" if "peak_controller_mib" not in r else "%.0f" % r["peak_controller_mib"],
                         "-" if "peak_tree_mib" not in r else "%.0f" % r["peak_tree_mib"],
                         "-" if "peak_main_mib" not in r else "%.0f" % r["peak_main_mib"]))
    return rows


def markdown(report):
    lines = ["# Fleet benchmark %s" % report["timestamp"], "",
             "Machine: %s CPUs, load average before %s, after %s; forks %d; latency profile %s; ansible-core %s." % (
                 report["cpus"], report["load_before"], report["load_after"], report["forks"], report.get("profile"),
                 report["ansible"]), "",
             "Tree: HEAD %s%s." % (report.get("tree", {}).get("head", "?"), (" + uncommitted changes to " + ", ".join(
                 report["tree"]["modified"])) if report.get("tree", {}).get("modified") else ""), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in table_rows(report["results"]):
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("reads/writes/exec: openshell calls per host from the simulated hosts' call logs (exec = commands run "
                 "inside the sandbox: health command, backups). tasks/host: tasks evaluated per host (run or skipped). "
                 "ctl = peak PSS of the ansible-playbook processes, tree = peak PSS of the whole tree (modules, openshell "
                 "CLIs). nemoclaw-onboard: measured on the hosts named, the fleet time is their mean x hosts (sequential).")
    for size in report["results"]:
        lines += ["", "## %d hosts (F1 = %.1f s, mean of %s)" % (
            size["hosts"], size["F1"], " and ".join("%.1f" % x for x in size["F1_runs"])), ""]
        for key, value in size.get("ratios", {}).items():
            lines.append("* %s: %.2f" % (key, value))
        for t in size.get("targets", []):
            lines.append("* target %s: **%s** (%s)" % (t["target"], "met" if t["met"] else "missed", t["measured"]))
        for r in size["runs"]:
            if not r.get("tasks"):
                continue
            lines += ["", "Slowest tasks of `%s` (wall = first host's start to last host's result):" % r["scenario"], "",
                      "| task | action | wall s | mean per host s | changed |", "|---|---|---|---|---|"]
            for t in r["tasks"][:8]:
                lines.append("| %s | %s | %.1f | %.2f | %d |" % (t["task"].replace("|", "/"), t["action"], t["wall"],
                                                                 t["host_seconds"] / max(t["hosts"], 1), t["changed"]))
            lines.append("")
            lines.append("Module executions: " + ", ".join("%s %d" % kv for kv in r["modules"].items()))
    return "\n".join(lines) + "\n"


def print_table(results, out):
    rows = [COLUMNS] + table_rows(results)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for i, row in enumerate(rows):
        out.write("  ".join(cell.rjust(widths[j]) for j, cell in enumerate(row)) + "\n")
        if i == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default=os.environ.get("BENCH_FLEET_SIZES", "10,50,100"),
                        help="comma-separated fleet sizes (default 10,50,100; env BENCH_FLEET_SIZES)")
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--batch", type=int, default=8, help="kept for compatibility; scripts/simfleet starts every gateway at once")
    parser.add_argument("--profile", choices=("pull", "fast"), default=os.environ.get("BENCH_FLEET_PROFILE", "pull"),
                        help="simfleet latency profile: pull = a new sandbox is Ready after 30 s (default), fast = 0.2 s")
    parser.add_argument("--nemoclaw-hosts", type=int, default=3,
                        help="hosts NemoClaw's way onboards (sequentially; the fleet time is their mean x hosts; default 3)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios: " + ",".join(SCENARIOS))
    parser.add_argument("--skip-nemoclaw-way", action="store_true")
    parser.add_argument("--converge", choices=("site", "nemoclaw"), default="site",
                        help="nemoclaw: quick mode for big fleets: site.yml converges sim-1 only, NemoClaw's way the "
                             "others, then only drift.yml is measured (no noop/check)")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument("--workdir", default=None, help="where the simulated hosts live (default: $TMPDIR)")
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    if "fresh" not in args.only and args.only & {"noop", "check", "drift", "agents"}:
        args.only.add("fresh")  # the others need a converged fleet
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(playbook):
        sys.exit("bench_fleet: %s not found; run with the project's venv (make bench)" % playbook)
    signal.signal(signal.SIGTERM, _on_signal)

    def log(msg):
        if not args.quiet:
            sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
            sys.stderr.flush()

    load_before = " ".join("%.2f" % x for x in os.getloadavg())
    log("load average %s on %d CPUs" % (load_before, os.cpu_count()))
    results = []
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    os.makedirs(args.results, exist_ok=True)
    base = os.path.join(args.results, stamp)
    version = subprocess.run([playbook, "--version"], stdout=subprocess.PIPE, universal_newlines=True,
                             check=False).stdout.split("\n")[0]

    def git(*argv):
        return subprocess.run(["git"] + list(argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, check=False).stdout.strip()

    # What was measured: other work may change the tree while a long run goes on.
    tree = {"head": git("rev-parse", "--short", "HEAD"),
            "modified": [line[3:] for line in git("status", "--short").splitlines()
                         if not line[3:].startswith(("benchmarks/", "docs/benchmarks.md", "changelogs/fragments/benchmarks.yml"))]}

    def write_report():
        report = {"timestamp": stamp, "tree": tree, "cpus": os.cpu_count(), "load_before": load_before,
                  "load_after": " ".join("%.2f" % x for x in os.getloadavg()), "forks": args.forks,
                  "profile": args.profile, "ansible": version.split("[core ")[-1].rstrip("]"), "results": results}
        with open(base + ".json", "w") as fh:
            json.dump(report, fh, indent=1)
        with open(base + ".md", "w") as fh:
            fh.write(markdown(report))

    try:
        for size in sizes:
            res = bench_size(size, args, log)
            res["targets"] = targets(res)
            res["ratios"] = ratios(res)
            results.append(res)
            results.sort(key=lambda r: r["hosts"])
            write_report()  # after every size: a long run that dies later keeps what it measured
    finally:
        stop_all()
    print_table(results, sys.stdout)
    for size in results:
        sys.stdout.write("\n%d hosts: F1 %.1f s (%s); %s\n" % (size["hosts"], size["F1"], ", ".join(
            "%.1f" % x for x in size["F1_runs"]), "; ".join("%s %.2f" % kv for kv in size["ratios"].items())))
        for t in size["targets"]:
            sys.stdout.write("  %-40s %-6s %s\n" % (t["target"], "met" if t["met"] else "MISSED", t["measured"]))
    sys.stdout.write("\nresults: %s.json, %s.md\n" % (base, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
