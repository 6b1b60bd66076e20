# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""ansible-playbook killed with SIGKILL in the middle of site.yml, then two site.yml runs at once.

A converged three-host fleet gets a new desired state (a sandbox environment variable, so every
sandbox is replaced). The run is killed with SIGKILL as soon as the first host starts replacing its
sandbox. Its leases stay behind; the plain re-run takes them over (their owner is provably gone),
converges, and loses nothing. Then three runs start together: A holds the host locks, B
(nemoclaw_lock_timeout 2) fails before touching anything with a message naming A, and C
(nemoclaw_lock_timeout 600) waits for A and then runs; A and C are changed=0.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from reltools import (Background, changed_tasks, close_fleet, command_words, failure_text, make_fleet,
                      playbook_pids, read_lease, snapshot, wait_for)

HOSTS = ("host1", "host2", "host3")
NEW_STATE = {"sandbox_env": {"RELIABILITY_GENERATION": "2"}}
LOCK_TASKS = {"Gathering Facts", "Identify this run (controller, ansible-playbook pid and its start time)",
              "Record the owner of the host lock", "Take the host lock",
              "Check on the controller whether the holder of the host lock still runs",
              "Wait for the host lock (up to nemoclaw_lock_timeout seconds)"}


def _vars(**extra):
    return dict((name, dict(NEW_STATE, **extra)) for name in HOSTS)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = make_fleet(tmp_path_factory.mktemp("kill"), 3)
    try:
        step = f.run_site("site.yml")
        assert step.rc == 0, step.stdout[-4000:]
        f.baseline = dict((name, snapshot(sim)) for name, sim in f.hosts.items())
        yield f
    finally:
        close_fleet(f)


def _main_pid(marker):
    """The ansible-playbook process itself (its forked workers share its command line)."""
    def find():
        pids = playbook_pids(marker)
        for pid in pids:
            try:
                with open("/proc/%d/stat" % pid) as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (IOError, OSError, ValueError, IndexError):
                continue
            if ppid not in pids:
                return pid
        return None
    return wait_for(find, 120, what="ansible-playbook of %s" % marker)


def _next_step_dir(fleet):
    return os.path.join(fleet.workdir, "step%03d" % (fleet._n + 1))  # pylint: disable=protected-access


def _intact(fleet, sim_name, phase="Ready"):
    now = snapshot(fleet.hosts[sim_name])
    base = fleet.baseline[sim_name]
    assert now["providers"] == base["providers"]
    assert now["sandboxes"] == base["sandboxes"]
    assert now["phase"] == phase
    assert now["policy_hash"] == base["policy_hash"]
    assert now["inference"] == base["inference"]
    return now


def test_sigkill_in_the_middle_of_site_yml(fleet):
    marker = _next_step_dir(fleet)
    seen = dict((name, len(sim.calls())) for name, sim in fleet.hosts.items())
    run = Background(fleet.run_site, "site.yml", host_vars=_vars())
    pid = _main_pid(marker)

    def replacing():
        for name, sim in fleet.hosts.items():
            for call in sim.calls()[seen[name]:]:
                if command_words(call["argv"])[:2] in (("sandbox", "delete"), ("sandbox", "create")):
                    return name
        return None

    first = wait_for(replacing, 600, interval=0.02, what="the first sandbox replacement")
    os.kill(pid, signal.SIGKILL)
    killed = run.result()
    assert killed.rc == -signal.SIGKILL, killed.rc
    # The killed run's leases stay behind, naming it.
    leases = dict((name, read_lease(sim)) for name, sim in fleet.hosts.items())
    assert all(lease and lease["pid"] == pid for lease in leases.values()), leases
    # Orphaned workers finish at most their current task; give them a moment like an operator would.
    wait_for(lambda: not playbook_pids(marker), 120, interval=0.2, what="the killed run's workers")

    rerun = fleet.run_site("site.yml", host_vars=_vars())
    assert rerun.rc == 0, rerun.stdout[-4000:]
    for name in HOSTS:
        took = [r["result"] for r in rerun.results if r["host"] == name and r["task"] == "Take the host lock"][-1]
        assert took["acquired"] and took["previous"]["pid"] == pid and "is gone" in took["reason"], took
        now = _intact(fleet, name)
        assert now["labels"]["nemoclaw.blueprint/digest"] == fleet.baseline[name]["labels"]["nemoclaw.blueprint/digest"]
        sb = fleet.hosts[name].json("sandbox", "get", "openclaw", "-o", "json")
        assert "RELIABILITY_GENERATION" in json.dumps(sb), sb
        assert read_lease(fleet.hosts[name]) is None
    assert first in HOSTS


def test_two_runs_at_once_are_serialised_or_fail_clearly(fleet):
    marker_a = _next_step_dir(fleet)
    a = Background(fleet.run_site, "site.yml", host_vars=_vars())
    pid_a = _main_pid(marker_a)
    wait_for(lambda: all((read_lease(sim) or {}).get("pid") == pid_a for sim in fleet.hosts.values()), 300,
             interval=0.1, what="run A to hold every host lock")
    b = Background(fleet.run_site, "site.yml", host_vars=_vars(nemoclaw_lock_timeout=2))
    wait_for(lambda: os.path.isdir(os.path.join(fleet.workdir, "step%03d" % (int(marker_a[-3:]) + 1))), 30)
    time.sleep(0.5)
    c = Background(fleet.run_site, "site.yml", host_vars=_vars(nemoclaw_lock_timeout=600))
    step_a, step_b, step_c = a.result(), b.result(), c.result()

    assert step_a.rc == 0, step_a.stdout[-4000:]
    assert changed_tasks(step_a) == []  # the run after the re-run of the SIGKILL test is changed=0

    assert step_b.rc != 0
    for name in HOSTS:
        text = failure_text(step_b, name)
        assert "is held by run" in text and "pid %d" % pid_a in text and "Nothing was changed" in text, text
        assert set(r["task"] for r in step_b.results if r["host"] == name) <= LOCK_TASKS

    assert step_c.rc == 0, step_c.stdout[-4000:]
    assert changed_tasks(step_c) == []
    waited = [r["result"] for r in step_c.results if r["task"] == "Wait for the host lock (up to nemoclaw_lock_timeout seconds)"
              and r["status"] == "ok" and "waited" in r["result"]]
    assert waited, "run C never had to wait for run A"

    # Only the health probes ran inside the sandboxes; nothing was corrupted or lost.
    for step in (step_a, step_b, step_c):
        assert set(tuple(c["argv"][:2]) for c in step.mutating) <= {("sandbox", "exec")}
    for name, sim in fleet.hosts.items():
        _intact(fleet, name)
        assert read_lease(sim) is None
        state = os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "providers.json")
        with open(state) as fh:
            assert json.load(fh)
