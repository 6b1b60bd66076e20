# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""ansible-playbook killed with SIGKILL in the middle of site.yml, then two site.yml runs at once.

A converged three-host fleet, with a file written into each agent's home, gets a new desired state
(an ``env`` entry of the agent in ``nemoclaw_agents``, so every sandbox is replaced: backed up,
deleted, created, restored). The run is killed with SIGKILL as soon as the first host starts
replacing its sandbox: ansible-playbook first, then its forked workers, as a job controller kills a
process group (an orphaned worker can block for ever sending its result to the dead parent). Its
leases stay behind, naming the killed ansible-playbook; the plain re-run takes them over (their
owner is provably gone), converges, and loses nothing: the file in the agent's home survives. Then three runs start together: A holds the host locks, B
(nemoclaw_lock_timeout 2) fails before touching anything with a message naming A, and C
(nemoclaw_lock_timeout 600, on one host) waits for A and then runs; A and C are changed=0.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from reltools import (Background, changed_tasks, command_words, converged_fleet, failure_text, main_pid, playbook_pids,
                      read_lease, snapshot, wait_for)
from simfleet_runner import process_tree  # tests/integration is on sys.path (conftest.py)

HOSTS = ("host1", "host2", "host3")
SPEC_LABEL = "agentfleet.nemoclaw/spec"
NEW_STATE = {"nemoclaw_agents": [{"name": "openclaw", "agent": "openclaw", "env": {"RELIABILITY_GENERATION": "2"}}]}
MEMORY = "mkdir -p .openclaw && echo x > .openclaw/memory.md"
# site.yml's quick path tries the lock first (in the apply's execution) and, finding it held, leaves the host to
# "Take the host lock", which waits for it or fails.
QUICK = "Converge the agents of the host"
LOCK_TASKS = {"Gathering Facts", QUICK, "End the hosts the quick path converged", "Take the host lock"}


def _vars(**extra):
    return dict((name, dict(NEW_STATE, **extra)) for name in HOSTS)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with converged_fleet(tmp_path_factory.mktemp("kill"), 3) as f:
        f.baseline = dict((name, snapshot(sim)) for name, sim in f.hosts.items())
        # What the agent keeps in its home (the sandbox's working directory), written as an operator would.
        for sim in f.hosts.values():
            sim.ok("sandbox", "exec", "--name", "openclaw", "--", "sh", "-c", MEMORY)
        yield f


def _kill_all(marker):
    """SIGKILL every process of the run ``marker`` that is still there; wait (bounded) until they are gone."""
    for pid in playbook_pids(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    wait_for(lambda: not playbook_pids(marker), 60, interval=0.1, what="the processes of %s to exit" % marker)


def _next_step_dir(fleet, ahead=1):
    return os.path.join(fleet.workdir, "step%03d" % (fleet._n + ahead))  # pylint: disable=protected-access


def _memory(sim):
    return sim.ok("sandbox", "exec", "--name", "openclaw", "--", "sh", "-c", "cat .openclaw/memory.md").stdout


def _intact(fleet, sim_name, phase="Ready"):
    assert _memory(fleet.hosts[sim_name]) == "x\n"
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
    try:
        pid = main_pid(marker)

        def replacing():
            for name, sim in fleet.hosts.items():
                for call in sim.calls()[seen[name]:]:
                    if command_words(call["argv"])[:2] in (("sandbox", "delete"), ("sandbox", "create")):
                        return name
            return None

        def replacing_with_every_lease():
            # Every host takes the lock before its first OpenShell call (on the quick path, at the start of the
            # apply's execution, which runs on all hosts at once): wait until every host holds one.
            if not all((read_lease(sim) or {}).get("pid") == pid for sim in fleet.hosts.values()):
                return None
            return replacing()

        first = wait_for(replacing_with_every_lease, 300, interval=0.02, what="the first sandbox replacement")
        # As a kill of its process group would: ansible-playbook, its workers and the module processes on the
        # (local) hosts, so that no module of the killed run finishes its apply (and releases its lease).
        for victim in process_tree(pid):
            try:
                os.kill(victim, signal.SIGKILL)
            except OSError:
                pass
    finally:
        _kill_all(marker)
    killed = run.result(timeout=60)
    assert killed.rc == -signal.SIGKILL, killed.rc
    # The killed run's leases stay behind, naming the killed ansible-playbook process.
    leases = dict((name, read_lease(sim)) for name, sim in fleet.hosts.items())
    assert all(lease and lease["pid"] == pid for lease in leases.values()), (pid, leases)

    rerun = fleet.run_site("site.yml", host_vars=_vars())
    assert rerun.rc == 0, rerun.stdout[-4000:]
    for name in HOSTS:
        # Taken over by "Take the host lock", or by the quick path in the apply's own execution (host_lock).
        took = [r["result"] if r["task"] == "Take the host lock" else r["result"].get("host_lock") for r in rerun.results
                if r["host"] == name and r["task"] in ("Take the host lock", QUICK)
                and (r["task"] != QUICK or r["result"].get("host_lock"))][0]
        assert took["acquired"] and took["previous"]["pid"] == pid and "is gone" in took["reason"], took
        now = _intact(fleet, name)
        assert now["labels"]["nemoclaw.blueprint/digest"] == fleet.baseline[name]["labels"]["nemoclaw.blueprint/digest"]
        # The sandbox now is one created with the new desired state: `sandbox get` does not show the
        # environment, but the spec label (a fingerprint of image, resources and env) is the one of
        # the last `sandbox create ... --env RELIABILITY_GENERATION=2` on this host.
        # A `sandbox create` killed after the gateway made the sandbox (the CLI logs a call when it returns) leaves
        # no line in this host's log; every host has the same desired state, so another host's create stands in.
        creates = [c["argv"] for c in fleet.hosts[name].calls()[seen[name]:]
                   if command_words(c["argv"])[:2] == ("sandbox", "create") and c["rc"] == 0] \
            or [c["argv"] for other in HOSTS for c in fleet.hosts[other].calls()[seen[other]:]
                if command_words(c["argv"])[:2] == ("sandbox", "create") and c["rc"] == 0]
        assert creates and "RELIABILITY_GENERATION=2" in creates[-1], creates
        assert "%s=%s" % (SPEC_LABEL, now["labels"][SPEC_LABEL]) in creates[-1], (now["labels"], creates[-1])
        assert now["labels"][SPEC_LABEL] != fleet.baseline[name]["labels"][SPEC_LABEL]
        assert read_lease(fleet.hosts[name]) is None
    assert first in HOSTS
    fleet.new_state_converged = True


def _converged_to_the_new_state(fleet):
    """The fleet in the new state, converged here when the SIGKILL test before did not get there
    (it failed), so that this test reports its own result."""
    if not getattr(fleet, "new_state_converged", False):
        step = fleet.run_site("site.yml", host_vars=_vars())
        assert step.rc == 0, step.stdout[-4000:]
        fleet.new_state_converged = True


def test_two_runs_at_once_are_serialised_or_fail_clearly(fleet):
    _converged_to_the_new_state(fleet)
    marker_a = _next_step_dir(fleet)
    marker_b = _next_step_dir(fleet, 2)
    marker_c = _next_step_dir(fleet, 3)
    # A takes the full play (its lock held over every role, not only during the apply's execution), so that
    # B and C certainly meet it; they try the quick path first.
    a = Background(fleet.run_site, "site.yml", host_vars=_vars(nemoclaw_quick_path=False))
    try:
        pid_a = main_pid(marker_a)
        wait_for(lambda: all((read_lease(sim) or {}).get("pid") == pid_a for sim in fleet.hosts.values()), 180,
                 interval=0.1, what="run A to hold every host lock")
        b = Background(fleet.run_site, "site.yml", host_vars=_vars(nemoclaw_lock_timeout=2))
        # Start C once B has its step directory (the fleet numbers its steps; no two runs may share one).
        wait_for(lambda: os.path.isdir(marker_b), 30, what="run B to start")
        # C on one host: its wait for A's lock is what it proves; its full play on the others would repeat A's.
        c = Background(fleet.run_site, "site.yml", host_vars=_vars(nemoclaw_lock_timeout=600), limit="host1")
        step_a, step_b, step_c = a.result(), b.result(), c.result()
    finally:
        for marker in (marker_a, marker_b, marker_c):
            _kill_all(marker)  # only when an assertion above failed: a finished run has no process left

    assert step_a.rc == 0, step_a.stdout[-4000:]
    # The run after the re-run of the SIGKILL test is changed=0.
    assert changed_tasks(step_a) == [], [(r["host"], r["result"].get("summary"), r["result"].get("resumed"),
                                          [c["argv"][2:4] for c in r["result"].get("commands") or []])
                                         for r in step_a.results if r["result"].get("changed")]

    assert step_b.rc != 0
    for name in HOSTS:
        text = failure_text(step_b, name)
        assert "is held by run" in text and "pid %d" % pid_a in text and "Nothing was changed" in text, text
        assert set(r["task"] for r in step_b.results if r["host"] == name) <= LOCK_TASKS
        quick = [r["result"] for r in step_b.results if r["host"] == name and r["task"] == QUICK]
        assert quick and quick[0]["host_base_needed"] and "is held by run" in quick[0]["host_base_reasons"][0], quick

    assert step_c.rc == 0, step_c.stdout[-4000:]
    assert changed_tasks(step_c) == []
    waited = [r["result"] for r in step_c.results if r["task"] == "Take the host lock"
              and r["status"] == "ok" and r["result"].get("waited", 0) > 0]
    assert waited, "run C never had to wait for run A"

    # Nothing but reads (A and C found nothing to change; B stopped at the lock); nothing was corrupted or lost.
    for step in (step_a, step_b, step_c):
        assert set(command_words(c["argv"])[:2] for c in step.mutating) <= {("sandbox", "exec")}
    for name, sim in fleet.hosts.items():
        _intact(fleet, name)
        assert read_lease(sim) is None
        state = os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "providers.json")
        with open(state) as fh:
            assert json.load(fh)
