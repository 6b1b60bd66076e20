# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Before/after on one fleet: a no-op site.yml (or drift.yml) of another commit against this tree, back to back.

    PYTHONPATH=.collections .venv/bin/python benchmarks/ab_compare.py REV [--hosts 20] [--forks 20]
        [--rounds 1] [--playbook site.yml]

Runs on this machine drift by 15-30 % from one hour to the next (docs/benchmarks.md), so a
before/after taken from two benchmark runs says little. This checks REV out into a git worktree
(with its own .collections link), converges one simulated fleet with this tree's site.yml, then runs
the playbook (default: the no-op site.yml; ``--playbook playbooks/drift.yml`` for the scan) with REV's collection and with this tree's, alternately,
``--rounds`` times (after one unmeasured warm-up run; each round swaps which tree goes first),
plus one ping (F1). It prints wall time, CPU seconds and module executions per
host for each. Not a timed test; not part of ``make bench`` (it needs a REV).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_fleet  # noqa: E402  pylint: disable=wrong-import-position


def worktree(rev, where):
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-f", where, rev], check=True,
                   stdout=subprocess.DEVNULL)
    link = os.path.join(where, ".collections", "ansible_collections", "agentfleet")
    os.makedirs(link)
    os.symlink(where, os.path.join(link, "nemoclaw"))
    return {"ANSIBLE_CONFIG": os.path.join(where, "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(where, ".collections")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("rev", help="the commit to compare this tree with")
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--playbook", default="site.yml", help="relative to the repository root")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="ab-compare-")
    old_tree = os.path.join(tmp, "tree")
    try:
        old_env = worktree(args.rev, old_tree)
        fleet = bench_fleet.start_fleet(os.path.join(tmp, "fleet"), args.hosts, profile="fast")
        # The fleet is converged with this tree's site.yml whatever playbook is compared (drift.yml reads it).
        fresh = bench_fleet.run_play(fleet, "fresh", args.forks, playbook="site.yml")
        if fresh["rc"] != 0:
            sys.exit("ab_compare: the converge failed:\n" + fresh.get("output_tail", ""))
        ping = bench_fleet.run_play(fleet, "ping", args.forks, tasks=[{"ansible.builtin.ping": {}}])
        print("%d hosts, forks %d; F1 (one ping) %.1f s, %.1f CPU s"
              % (args.hosts, args.forks, ping["wall"], ping["cpu_seconds"]))
        # The first run after a converge costs 10-35 % more here than the ones after it (measured with both
        # trees); it is not measured. Then the two trees alternate, and each round swaps which goes first.
        bench_fleet.run_play(fleet, "warm-up", args.forks, playbook=args.playbook)
        sides = [(args.rev, old_env, os.path.join(old_tree, args.playbook)), ("this tree", {}, args.playbook)]
        for i in range(args.rounds):
            for label, env, playbook in (sides if i % 2 == 0 else sides[::-1]):
                res = bench_fleet.run_play(fleet, "%s-%d" % (label.replace(" ", "-"), i), args.forks,
                                           playbook=playbook, extra_env=env)
                print("round %d %-12s wall %6.1f s (%.1f x F1)  CPU %6.1f s (%.2f per host)  modules/host %.0f  "
                      "calls/host: %.1f reads, %.1f writes, %.1f exec  rc %d" % (
                          i, label, res["wall"], res["wall"] / ping["wall"], res["cpu_seconds"],
                          res["cpu_seconds"] / args.hosts, res["module_executions_per_host"], res["reads_per_host"],
                          res["writes_per_host"], res["execs_per_host"], res["rc"]))
    finally:
        bench_fleet.stop_all()
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", old_tree], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
