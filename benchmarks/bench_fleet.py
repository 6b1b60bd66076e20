# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Fleet benchmark: site.yml, its no-op re-run, --check, drift.yml and NemoClaw's way on simulated fleets.

    PYTHONPATH=.collections .venv/bin/python benchmarks/bench_fleet.py [--sizes 10,50,100] [--forks 50]
        [--skip-nemoclaw-way] [--only fresh,noop,check,drift] [--converge site|nemoclaw] [--keep] [--workdir DIR]

For every fleet size: start one simulated OpenShell gateway per host (tests/simulator, in parallel
batches), then measure, each as one ansible-playbook run with local connection and the given forks:

  F1     a play of one ansible.builtin.ping per host (Ansible's own floor)
  fresh  site.yml on new hosts                 noop   site.yml again (nothing to do)
  check  site.yml --check --diff               drift  playbooks/drift.yml (fast drift scan)
  nemoclaw-reonboard / nemoclaw-onboard: NemoClaw's onboard sequence of openshell calls, host after
         host, on the converged fleet and on hosts emptied first (benchmarks/nemoclaw_way.py)

--converge nemoclaw is a quick mode for big fleets on a busy machine: site.yml converges host1 only,
NemoClaw's way the other hosts (measured), then only drift.yml is measured against F1.

Per run: wall time, time per host, wall time / F1, module executions per host (a per-host interpreter
wrapper logs every module start), CPU seconds (ansible-playbook and every process it waited for),
openshell calls per host from the simulator's call logs split into
reads, writes and commands run inside the sandbox (the health probe), changed results, and the peak
memory of the ansible-playbook process tree (RSS sampled from /proc every 0.25 s: the ansible-playbook
processes alone, and the whole tree including modules and openshell CLIs). Per-task timings come from
benchmarks/callback_plugins/bench_timer.py. Results: a table on stdout and
benchmarks/results/<timestamp>.json + .md. Gateways are stopped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures
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

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "tests", "simulator")]

if os.path.exists("/usr/bin/python3") and "OPENSHELL_SIM_PYTHON" not in os.environ:
    # The simulator's CLI and gateway without a pyenv shim in front (~90 ms per CLI start).
    os.environ["OPENSHELL_SIM_PYTHON"] = "/usr/bin/python3"

from harness import SimHost  # noqa: E402  pylint: disable=wrong-import-position
from playrunner import TEST_SECRET, Fleet, command_words, is_read_only  # noqa: E402  pylint: disable=wrong-import-position
import nemoclaw_way  # noqa: E402  pylint: disable=wrong-import-position

SCENARIOS = ("fresh", "noop", "check", "drift")
# Managed OpenShell resource kinds (gateway registration, providers, sandbox, policy, inference route):
# the floor of a no-op is one read of each per host and no write.
RESOURCE_KINDS = 5
# The simulated gateway runs as python3, not openshell-gateway (preflight's port owner check).
PROCESS_NAMES = ["openshell-gateway", "python3", "python3.11", "python"]
DRIFT_CALLBACK = os.path.join(ROOT, "plugins", "callback", "drift_report.py")

ALL_GATEWAYS = []


def stop_hosts(hosts):
    """Stop gateways: SIGTERM to all first, then wait for each (SimHost.stop kills after 5 s)."""
    for host in hosts:
        if host.proc is not None and host.proc.poll() is None:
            try:
                host.proc.terminate()
            except OSError:
                pass
    for host in hosts:
        try:
            host.stop()
        except Exception:  # pylint: disable=broad-except
            pass


def stop_all():
    hosts = list(ALL_GATEWAYS)
    del ALL_GATEWAYS[:]
    stop_hosts(hosts)


atexit.register(stop_all)


def _on_signal(signum, _frame):
    sys.stderr.write("bench_fleet: signal %d, stopping the gateways\n" % signum)
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
def start_fleet(workdir, count, batch):
    """A playrunner.Fleet of ``count`` simulated hosts, gateways started and registered ``batch`` at a time."""
    fleet = Fleet(workdir, 0)

    def one(i):
        name = "host%d" % (i + 1)
        for attempt in range(3):
            host = SimHost(os.path.join(workdir, name))
            try:
                host.start(timeout=60)
                ALL_GATEWAYS.append(host)
                host.register()
                return name, host
            except Exception:  # pylint: disable=broad-except
                # the port was taken meanwhile: try another one
                host.stop()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    with concurrent.futures.ThreadPoolExecutor(max_workers=batch) as pool:
        for name, host in pool.map(one, range(count)):
            fleet.hosts[name] = host
    for name, host in fleet.hosts.items():
        # Count module executions: every module starts through this per-host interpreter wrapper.
        wrapper = os.path.join(host.root, "python")
        with open(wrapper, "w") as fh:
            fh.write("#!/bin/sh\necho \"${1:-stdin}\" >> %s\nexec %s \"$@\"\n"
                     % (os.path.join(host.root, "modules.log"), sys.executable))
        os.chmod(wrapper, 0o755)
    return fleet


def module_counts(fleet):
    counts = {}
    for name, host in fleet.hosts.items():
        path = os.path.join(host.root, "modules.log")
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
    """NemoClaw's onboard plan from host1's fresh converge by site.yml (see nemoclaw_way.plan_from_calls)."""
    host1 = fleet.hosts["host1"]
    calls = [c for c in host1.calls() if c["argv"][:2] != ["gateway", "add"]]
    policy = host1.ok("sandbox", "get", "openclaw", "--policy-only").stdout
    return nemoclaw_way.plan_from_calls(calls, policy, workdir, secret=TEST_SECRET)


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


def run_play(fleet, label, forks, playbook=None, tasks=None, check=False, diff=False, extra_vars=None,
             extra_env=None, limit=None):
    """One ansible-playbook run on the whole fleet, measured.

    ``extra_env`` is added to ansible-playbook's environment last (e.g. ANSIBLE_CONFIG and
    ANSIBLE_COLLECTIONS_PATH of another checkout, with an absolute ``playbook`` path: compare a change).
    """
    before = module_counts(fleet)
    step_dir = os.path.join(fleet.workdir, "timer-" + label)
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
    host_vars = dict((name, {"ansible_python_interpreter": os.path.join(h.root, "python"),
                             "preflight_gateway_process_names": PROCESS_NAMES})
                     for name, h in fleet.hosts.items())
    gateways = [h.proc.pid for h in fleet.hosts.values() if h.proc is not None]
    load = os.getloadavg()[0]
    machine0 = machine_cpu()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with TreeSampler(gateways) as mem:
        started = time.time()
        if playbook:
            step = fleet.run_site(playbook, check=check, diff=diff, env=env, host_vars=host_vars,
                                  extra_vars=extra_vars, limit=limit, timeout=7200)
        else:
            step = fleet.run(tasks=tasks, check=check, diff=diff, env=env, host_vars=host_vars, timeout=7200)
        wall = time.time() - started
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine1 = machine_cpu()
    # CPU seconds of ansible-playbook and every process it waited for (workers, modules, openshell CLIs):
    # the work done, which a loaded machine stretches much less than the wall time.
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    after = module_counts(fleet)
    n = 1 if limit else len(fleet.hosts)
    modules = {}
    for name in fleet.hosts:
        for mod in after[name][len(before[name]):]:
            mod = os.path.basename(mod).replace("AnsiballZ_", "").replace(".py", "")
            modules[mod] = modules.get(mod, 0) + 1
    reads, writes, execs = classify(step.calls)
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
    changed = sum(t.get("changed", 0) for t in timer.get("tasks", []))
    failed = sum(t.get("failed", 0) for t in timer.get("tasks", []))
    result = {
        "scenario": label, "hosts": n, "rc": step.rc, "wall": round(wall, 2), "per_host": round(wall / n, 3),
        "cpu_seconds": round(cpu, 1), "cpu_per_host": round(cpu / n, 3),
        # the main ansible-playbook process alone (it queues every host's task and handles every result)
        "main_cpu_seconds": timer.get("main_cpu"),
        # the whole machine meanwhile (/proc/stat): busy CPU s (ours + the simulated gateways + anything
        # else) and the hypervisor's steal; a run slowed by something else shows here
        "machine_busy_seconds": round(machine1[0] - machine0[0], 1), "steal_seconds": round(machine1[1] - machine0[1], 1),
        "module_executions": sum(modules.values()), "module_executions_per_host": round(sum(modules.values()) / n, 2),
        "modules": dict(sorted(modules.items(), key=lambda kv: -kv[1])),
        "calls": len(step.calls), "reads_per_host": round(reads / n, 2), "writes_per_host": round(writes / n, 2),
        "execs_per_host": round(execs / n, 2), "changed": changed, "failed": failed,
        "peak_controller_mib": round(mem.peak_controller / 2.0 ** 20, 1),
        "peak_controller_rss_sum_mib": round(mem.peak_controller_rss / 2.0 ** 20, 1), "peak_main_mib": round(mem.peak_main / 2.0 ** 20, 1),
        "peak_tree_mib": round(mem.peak_tree / 2.0 ** 20, 1), "peak_single_mib": round(mem.peak_single / 2.0 ** 20, 1),
        "peak_processes": mem.peak_procs, "drift_summary": drift,
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
        "tasks": sorted(timer.get("tasks", []), key=lambda t: -t["wall"]),
    }
    if step.rc != 0:
        result["output_tail"] = step.stdout[-3000:]
    return result


def run_nemoclaw(fleet, label, plan, fresh):
    if fresh:
        for host in fleet.hosts.values():
            nemoclaw_way.reset_host(host, plan)
    before = dict((name, len(h.calls())) for name, h in fleet.hosts.items())
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, per_host = nemoclaw_way.onboard_fleet(fleet.hosts, plan)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    calls = []
    for name, host in fleet.hosts.items():
        calls.extend(host.calls()[before[name]:])
    reads, writes, execs = classify(calls)
    n = len(fleet.hosts)
    return {"scenario": label, "hosts": n, "rc": 0, "wall": round(wall, 2), "per_host": round(wall / n, 3),
            "cpu_seconds": round(cpu, 1), "cpu_per_host": round(cpu / n, 3),
            "module_executions": 0, "module_executions_per_host": 0.0, "calls": len(calls),
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
    log("fleet of %d: starting gateways in %s" % (size, workdir))
    t0 = time.time()
    fleet = start_fleet(workdir, size, args.batch)
    log("  %d gateways up in %.1f s" % (size, time.time() - t0))
    out = {"hosts": size, "forks": args.forks, "runs": []}
    try:
        def measure(label, **kw):  # pylint: disable=too-many-locals
            busy = settle()
            log("  %s ... (CPU busy before: %.0f %%)" % (label, 100 * busy))
            res = run_play(fleet, label, args.forks, **kw)
            res["busy_before"] = round(busy, 3)
            out["runs"].append(res)
            log("  %-18s rc %d  %7.1f s (CPU %.0f s, main %.0f s, machine %.0f s, steal %.1f s)  %5.2f s/host  "
                "%5.1f modules/host  %5.1f reads %4.1f writes %4.1f exec /host  changed %d  PSS ctl %5.0f tree %5.0f MiB"
                % (label, res["rc"], res["wall"], res["cpu_seconds"], res["main_cpu_seconds"] or 0,
                   res["machine_busy_seconds"], res["steal_seconds"], res["per_host"], res["module_executions_per_host"],
                   res["reads_per_host"], res["writes_per_host"], res["execs_per_host"], res["changed"],
                   res["peak_controller_mib"], res["peak_tree_mib"]))
            return res

        measure("F1-before", tasks=PING)
        if args.converge == "nemoclaw":
            # Quick mode for big fleets on a busy machine: site.yml converges host1 only; the other
            # hosts get the same OpenShell resources the NemoClaw way (sequential onboard, measured);
            # then the drift scan runs on all (it finds the collection's labels and provider
            # records missing on those hosts: same reads, a longer report).
            first = measure("fresh-host1", playbook="site.yml", limit="host1")
            if first["rc"] != 0:
                raise RuntimeError("site.yml failed on host1:\n" + first.get("output_tail", ""))
            plan = make_plan(fleet, workdir)
            rest = Fleet(workdir, 0)
            rest.hosts.update((k, v) for k, v in fleet.hosts.items() if k != "host1")
            log("  nemoclaw-onboard of %d hosts (sequential) ..." % len(rest.hosts))
            res = run_nemoclaw(rest, "nemoclaw-onboard", plan, fresh=False)
            out["runs"].append(res)
            log("  nemoclaw-onboard   %7.1f s  %5.2f s/host" % (res["wall"], res["per_host"]))
            if "drift" in args.only and os.path.exists(os.path.join(ROOT, "playbooks", "drift.yml")):
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
            if "drift" in args.only and os.path.exists(os.path.join(ROOT, "playbooks", "drift.yml")):
                measure("drift", playbook="playbooks/drift.yml")
            if not args.skip_nemoclaw_way and fresh is not None:
                plan = make_plan(fleet, workdir)
                for label, first in (("nemoclaw-reonboard", False), ("nemoclaw-onboard", True)):
                    log("  %s (sequential) ..." % label)
                    settle()
                    res = run_nemoclaw(fleet, label, plan, fresh=first)
                    out["runs"].append(res)
                    log("  %-18s %7.1f s  %5.2f s/host  %5.1f reads %4.1f writes %4.1f exec /host"
                        % (label, res["wall"], res["per_host"], res["reads_per_host"], res["writes_per_host"],
                           res["execs_per_host"]))
        # Ansible's floor again at the end: the load of a shared machine drifts during a long run.
        measure("F1-after", tasks=PING)
    finally:
        stop_hosts(list(fleet.hosts.values()))
        for host in fleet.hosts.values():
            if host in ALL_GATEWAYS:
                ALL_GATEWAYS.remove(host)
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
def targets(size_result):
    """The issue's targets, judged on one fleet size."""
    runs = dict((r["scenario"], r) for r in size_result["runs"])
    f1 = size_result["F1"]
    found = []

    def add(what, ok, detail):
        found.append({"target": what, "met": ok, "measured": detail})

    if "noop" in runs:
        add("no-op converge makes zero writes", runs["noop"]["writes_per_host"] == 0 and runs["noop"]["changed"] == 0,
            "%.2f writes/host (+%.2f read-only health exec/host), %d changed" % (
                runs["noop"]["writes_per_host"], runs["noop"]["execs_per_host"], runs["noop"]["changed"]))
    if "drift" in runs:
        add("drift.yml within 2 x F1", runs["drift"]["wall"] <= 2 * f1, "%.2f x F1" % (runs["drift"]["wall"] / f1))
    labels = {"check": "--check", "noop": "no-op", "noop-again": "no-op (again)"}
    for name in ("check", "noop", "noop-again"):
        if name in runs:
            add("site.yml %s within 12 x F1" % labels[name], runs[name]["wall"] <= 12 * f1,
                "%.2f x F1" % (runs[name]["wall"] / f1))
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
    for ours, theirs in (("fresh", "nemoclaw-onboard"), ("noop", "nemoclaw-reonboard")):
        if ours in runs and theirs in runs:
            out["%s / %s" % (theirs, ours)] = round(runs[theirs]["wall"] / runs[ours]["wall"], 2)
    return out


COLUMNS = ("hosts", "scenario", "rc", "wall s", "s/host", "x F1", "CPU s", "modules/host", "reads/host", "writes/host",
           "exec/host", "changed", "ctl MiB", "tree MiB", "main RSS")


def table_rows(results):
    rows = []
    for size in results:
        for r in size["runs"]:
            rows.append((str(r["hosts"]), r["scenario"], str(r["rc"]), "%.1f" % r["wall"], "%.2f" % r["per_host"],
                         "%.2f" % r["x_F1"], "%.0f" % r.get("cpu_seconds", 0), "%.1f" % r["module_executions_per_host"], "%.1f" % r["reads_per_host"],
                         "%.1f" % r["writes_per_host"], "%.1f" % r["execs_per_host"],
                         "-" if r.get("changed") is None else str(r["changed"]),
                         "-" if "peak_controller_mib" not in r else "%.0f" % r["peak_controller_mib"],
                         "-" if "peak_tree_mib" not in r else "%.0f" % r["peak_tree_mib"],
                         "-" if "peak_main_mib" not in r else "%.0f" % r["peak_main_mib"]))
    return rows


def markdown(report):
    lines = ["# Fleet benchmark %s" % report["timestamp"], "",
             "Machine: %s CPUs, load average before %s, after %s; forks %d; ansible-core %s." % (
                 report["cpus"], report["load_before"], report["load_after"], report["forks"], report["ansible"]), "",
             "Tree: HEAD %s%s." % (report.get("tree", {}).get("head", "?"), (" + uncommitted changes to " + ", ".join(
                 report["tree"]["modified"])) if report.get("tree", {}).get("modified") else ""), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in table_rows(report["results"]):
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("reads/writes/exec: openshell calls per host from the simulator's call logs (exec = commands run "
                 "inside the sandbox, the read-only health probe after a change). ctl = peak PSS of the ansible-playbook "
                 "processes, tree = peak PSS of the whole tree (modules, openshell CLIs).")
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
    parser.add_argument("--batch", type=int, default=8, help="gateways started in parallel")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios: " + ",".join(SCENARIOS))
    parser.add_argument("--skip-nemoclaw-way", action="store_true")
    parser.add_argument("--converge", choices=("site", "nemoclaw"), default="site",
                        help="nemoclaw: quick mode for big fleets: site.yml converges host1 only, NemoClaw's way the "
                             "others, then only drift.yml is measured (no noop/check)")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument("--workdir", default=None, help="where the simulated hosts live (default: $TMPDIR)")
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    if "fresh" not in args.only and args.only & {"noop", "check", "drift"}:
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
                  "ansible": version.split("[core ")[-1].rstrip("]"), "results": results}
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
            sys.stdout.write("  %-45s %-6s %s\n" % (t["target"], "met" if t["met"] else "MISSED", t["measured"]))
    sys.stdout.write("\nresults: %s.json, %s.md\n" % (base, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
