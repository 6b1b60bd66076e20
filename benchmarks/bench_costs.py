# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Unit costs behind the fleet figures: what one task costs per host, split controller / host side.

    PYTHONPATH=.collections .venv/bin/python benchmarks/bench_costs.py [--hosts 20] [--forks 20]

Starts a simulated fleet (scripts/simfleet, through benchmarks/bench_fleet.py's helpers), converges it with site.yml, then
runs small plays on it and prints, per play: wall time, CPU seconds per host (ansible-playbook and
everything it waited for) and the part of it spent in the module processes on the "host" (each
host's interpreter wrapper records its child's CPU with the shell's ``times``; that includes the
``openshell`` CLI calls a module makes). The difference is the controller's share: forking a
worker, templating, the action plugin, the result. docs/performance.md quotes one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)

import bench_fleet  # noqa: E402  pylint: disable=wrong-import-position


def _times_seconds(field):
    """``0m0.123s`` -> 0.123"""
    minutes, seconds = field.rstrip("s").split("m")
    return int(minutes) * 60 + float(seconds)


def host_cpu(fleet):
    """CPU seconds of every module process so far (children of the wrappers), summed over the fleet."""
    total = 0.0
    for host in fleet.hosts.values():
        path = os.path.join(host["root"], "cpu.log")
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            lines = fh.read().splitlines()
        # ``times`` prints two lines: the shell itself, then its children (the module).
        for line in lines[1::2]:
            total += sum(_times_seconds(f) for f in line.split())
    return total


def wrap_interpreters(fleet):
    for host in fleet.hosts.values():
        wrapper = os.path.join(host["root"], "python")
        with open(wrapper, "w") as fh:
            fh.write("#!/bin/bash\necho \"${1:-stdin}\" >> %s\n%s \"$@\"\nrc=$?\ntimes >> %s\nexit $rc\n"
                     % (os.path.join(host["root"], "modules.log"), sys.executable, os.path.join(host["root"], "cpu.log")))


def plays():
    ping = {"ansible.builtin.ping": {}}
    skipped = {"ansible.builtin.debug": {"msg": "x"}, "when": False}
    lock = {"agentfleet.nemoclaw.nemoclaw_lock": {"path": "{{ nemoclaw_environment.HOME }}/bench.lock", "state": "query"}}
    info = {"openshell_path": "{{ openshell_path }}", "sandboxes": ["openclaw"], "sandbox_settings": False,
            "gather_subset": ["providers", "provider_records", "sandbox_details", "inference"]}
    return [
        ("one ping", [ping]),
        ("five pings", [ping] * 5),
        ("five skipped debug", [skipped] * 5),
        ("five nemoclaw_lock query", [lock] * 5),
        ("openshell_info, 1 CLI call", [{"agentfleet.nemoclaw.openshell_info": {
            "openshell_path": "{{ openshell_path }}", "gather_subset": ["providers"]}, "register": "r",
            "environment": "{{ nemoclaw_environment }}"}]),
        ("openshell_info, 4 subsets", [{"agentfleet.nemoclaw.openshell_info": info, "register": "r",
                                        "environment": "{{ nemoclaw_environment }}"}]),
        ("site.yml no-op", "site.yml"),
        ("drift.yml", "playbooks/drift.yml"),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--forks", type=int, default=20)
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="bench-costs-")
    try:
        fleet = bench_fleet.start_fleet(workdir, args.hosts, profile="fast")
        wrap_interpreters(fleet)
        fresh = bench_fleet.run_play(fleet, "fresh", args.forks, playbook="site.yml")
        if fresh["rc"] != 0:
            sys.exit("bench_costs: site.yml failed:\n" + fresh.get("output_tail", ""))
        n = float(args.hosts)
        print("%d hosts, forks %d; CPU s per host (total | in the module processes | controller)" % (args.hosts, args.forks))

        def measure(label, what):
            before = host_cpu(fleet)
            if isinstance(what, str):
                res = bench_fleet.run_play(fleet, label.replace(" ", "-"), args.forks, playbook=what)
            else:
                res = bench_fleet.run_play(fleet, label.replace(" ", "-"), args.forks, tasks=what)
            # The module processes, and the openshell calls they made (run by the CLI's fork server).
            on_host = (host_cpu(fleet) - before + res["cli_server_cpu_seconds"]) / n
            total = res["cpu_seconds"] / n
            print("%-34s wall %6.1f s  %5.2f | %5.2f | %5.2f   module executions/host %.0f  rc %d" % (
                label, res["wall"], total, on_host, total - on_host, res["module_executions_per_host"], res["rc"]))
            return res

        for label, what in plays():
            measure(label, what)
        # What two more agents per host add to the no-op (bench_fleet's extra-agent figure, split).
        fleet.set_vars("group_vars", "nemoclaw", {"nemoclaw_agents": bench_fleet.THREE_AGENTS})
        if bench_fleet.run_play(fleet, "fresh-3agents", args.forks, playbook="site.yml")["rc"] == 0:
            measure("site.yml no-op, 3 agents", "site.yml")
    finally:
        bench_fleet.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
