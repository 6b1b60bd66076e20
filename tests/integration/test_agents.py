# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The desired state per host on a ``scripts/simfleet`` fleet of three hosts (site.yml and drift.yml).

One fleet, steps in order (each asserts what the simulator logged, not only what the modules say):

1. roll out one OpenClaw agent per host; a file is written into each agent's home;
2. a memory change for sim-1 with ``on_replace: refuse``: the run fails naming ``memory``, nothing changes;
3. the same change with the default ``preserve``: sim-1's sandbox is replaced (new id), the file is
   still there, the other hosts make no mutating call; the next run is ``changed=0`` with no mutating call;
4. ansible-playbook's process group SIGKILLed right after the sandbox delete of another replacement:
   the next run restores the file from the journalled backup and converges;
5. two agents on sim-3 (OpenClaw and Hermes, one route) converge, and a re-run makes no mutating call;
   two agents whose inference routes differ are refused before any write, naming both;
6. a sandbox stopped out of band on sim-2: ``site.yml --check --diff`` and ``drift.yml`` name the
   same field (``phase``) on sim-2 only;
and every call any host logged is valid for the real CLI's grammar.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simfleet_runner import SimFleet, agent_results  # noqa: E402  pylint: disable=wrong-import-position

MEMORY = ".openclaw/memory.md"
AGENT = {"name": "openclaw", "agent": "openclaw"}


def _mutating(step, host=None):
    return [c for c in step.mutating if host is None or c["host"] == host]


def _files(fleet, host, sandbox="openclaw"):
    return fleet.sh(host, "cat %s 2>/dev/null || echo MISSING" % MEMORY, sandbox).strip()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = SimFleet(tmp_path_factory.mktemp("agents"), hosts=3)
    try:
        step = f.run()
        assert step.rc == 0, step.stdout[-4000:]
        for host in f.hosts:
            f.sh(host, "mkdir -p .openclaw && echo 'remember %s' > %s && echo leaked > .git-credentials" % (host, MEMORY))
        yield f
    finally:
        f.down()
    assert f.invalid_calls() == []


def test_refuse_fails_naming_the_field_and_changes_nothing(fleet):
    fleet.set_vars("sim-1", {"nemoclaw_agents": [dict(AGENT, resources={"memory": "16Gi"}, on_replace="refuse")]})
    step = fleet.run(limit="sim-1")
    assert step.rc != 0
    res = agent_results(step, "sim-1")
    assert "on_replace is refuse" in res["msg"] and "memory" in res["msg"], res["msg"]
    assert "nemoclaw_agents[openclaw].on_replace" in res["msg"]
    assert _mutating(step) == []


def test_memory_change_replaces_the_sandbox_and_keeps_the_agents_files(fleet):
    before = fleet.sandbox("sim-1")
    fleet.set_vars("sim-1", {"nemoclaw_agents": [dict(AGENT, resources={"memory": "16Gi"})]})
    step = fleet.run()
    assert step.rc == 0, step.stdout[-4000:]
    res = agent_results(step, "sim-1")["agents"]["openclaw"]
    assert res["replace"] is True
    assert {"field": "memory", "before": None, "after": "16Gi"} in res["differences"]
    assert res["restored"]["verified"] is True
    assert "memory: none" in step.stdout and "memory: 16Gi" in step.stdout  # the --diff names the field
    after = fleet.sandbox("sim-1")
    assert after["id"] != before["id"]
    assert _files(fleet, "sim-1") == "remember sim-1"
    # Credential files are left out of the backup, so they are not restored.
    assert fleet.sh("sim-1", "test -e .git-credentials && echo present || echo absent").strip() == "absent"
    backups = os.path.join(fleet.state_dir("sim-1"), "backups", "openshell", "openclaw")
    assert oct(os.stat(backups).st_mode & 0o777) == "0o700"
    assert all(oct(os.stat(os.path.join(backups, f)).st_mode & 0o777) == "0o600" for f in os.listdir(backups))
    assert _mutating(step, "sim-2") == [] and _mutating(step, "sim-3") == []

    again = fleet.run()
    assert again.rc == 0
    assert agent_results(again, "sim-1")["changed"] is False
    assert _mutating(again) == []


def test_a_run_killed_after_the_delete_is_finished_by_the_next(fleet):
    fleet.set_vars("sim-1", {"nemoclaw_agents": [dict(AGENT, resources={"memory": "12Gi"})]})
    # Slow every RPC of sim-1 so the kill lands between the delete and the create.
    fleet.faults("sim-1", {"latency_ms": 300})
    proc = fleet.start()
    fleet.kill_after(proc, "sim-1", ["sandbox", "delete"])
    fleet.faults("sim-1", {})
    assert fleet.sandbox("sim-1") is None or fleet.sandbox("sim-1")["phase"] != "Ready" \
        or _files(fleet, "sim-1") == "MISSING"
    journal = os.path.join(fleet.state_dir("sim-1"), "journal", "openshell", "openclaw.json")
    assert os.path.exists(journal)

    step = fleet.run(limit="sim-1")
    assert step.rc == 0, step.stdout[-4000:]
    res = agent_results(step, "sim-1")
    assert [r["agent"] for r in res["resumed"]] == ["openclaw"]
    assert _files(fleet, "sim-1") == "remember sim-1"
    assert not os.path.exists(journal)
    again = fleet.run(limit="sim-1")
    assert again.rc == 0 and _mutating(again) == []


def test_two_agents_on_one_host_share_the_gateway(fleet):
    two = [AGENT, {"name": "researcher", "agent": "hermes"}]
    fleet.set_vars("sim-3", {"nemoclaw_agents": two})
    step = fleet.run(limit="sim-3")
    assert step.rc == 0, step.stdout[-4000:]
    res = agent_results(step, "sim-3")
    assert res["agents"]["researcher"]["changed"] is True and res["agents"]["openclaw"]["changed"] is False
    assert fleet.sandbox("sim-3", "researcher")["phase"] == "Ready"
    assert _files(fleet, "sim-3") == "remember sim-3"
    again = fleet.run(limit="sim-3")
    assert again.rc == 0 and _mutating(again) == []

    conflict = [AGENT, {"name": "researcher", "agent": "hermes", "profile": "vllm"}]
    fleet.set_vars("sim-3", {"nemoclaw_agents": conflict})
    refused = fleet.run(limit="sim-3")
    assert refused.rc != 0
    msg = agent_results(refused, "sim-3")["msg"]
    assert "nemoclaw_agents[researcher].profile" in msg and "nemoclaw_agents[openclaw]" in msg, msg
    assert _mutating(refused) == []
    fleet.set_vars("sim-3", {"nemoclaw_agents": two})


def test_out_of_band_drift_is_named_by_check_and_drift_scan_alike(fleet):
    fleet.openshell("sim-2", "sandbox", "stop", "openclaw")
    report = {"ANSIBLE_CALLBACKS_ENABLED": "record_results,agentfleet.nemoclaw.drift_report"}
    check = fleet.run(check=True, env=report)
    scan = fleet.run(playbook="playbooks/drift.yml", env=report)
    for step in (check, scan):
        assert step.rc == 0, step.stdout[-3000:]
        assert _mutating(step) == []
        drifted = dict((h, agent_results(step, h)) for h in fleet.hosts)
        assert [h for h, r in drifted.items() if r["changed"]] == ["sim-2"], step.stdout[-3000:]
        fields = [d["field"] for d in drifted["sim-2"]["agents"]["openclaw"]["differences"]]
        assert fields == ["phase"]
    assert "sim-2: sandbox openclaw: phase: Stopped -> Ready" in scan.stdout
    assert "sim-2: sandbox openclaw: phase: Stopped -> Ready" in check.stdout
    fixed = fleet.run(limit="sim-2")
    assert fixed.rc == 0 and fleet.sandbox("sim-2")["phase"] == "Ready"
