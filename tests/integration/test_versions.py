# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Rollout, drift and canary on ``scripts/simfleet`` fleets speaking the other supported OpenShell versions.

The simulator's default, 0.0.111, is what every other module of this suite runs (and checks each call
against). Here one two-host fleet per other version of ``tests/contract``: 0.0.116 (the version NemoClaw
pins, the newest 0.0.x) and 0.1.5 (the 0.1 API), running the shipped blueprints: OpenClaw on both
hosts, Hermes beside it on sim-2. Steps, in order, per version:

1. site.yml rolls the agents out; on 0.1.5 sim-1's agent sets ``restart_policy``, and every
   ``sandbox create`` says ``--detach`` (0.1.x drivers that cannot attach refuse a create without it);
   on 0.0.x the same ``restart_policy`` is refused before any change, naming the field and the versions;
   a second run makes no mutating call;
2. a sandbox stopped out of band on sim-2: ``site.yml --check --diff`` and ``drift.yml`` name ``phase``
   on sim-2 only; site.yml starts it again;
3. sim-1's main process exits 0 (a simulator fault): on 0.1.5 the sandbox is Completed and site.yml starts
   it again in place; on 0.0.x it is in Error, which cannot be backed up: site.yml refuses to replace it
   unless ``on_replace: discard``;
4. canary_upgrade.yml to a new blueprint version: canary first, every agent's file kept;
and every call each host logged is valid for THAT version's CLI grammar (its contract).
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import command_words  # noqa: E402  pylint: disable=wrong-import-position
from simfleet_runner import SimFleet  # noqa: E402  pylint: disable=wrong-import-position
from test_canary import make_blueprint  # noqa: E402  pylint: disable=wrong-import-position

VERSIONS = ["0.0.116", "0.1.5"]
FILE = ".openclaw/memory.md"
OPENCLAW = {"name": "openclaw", "agent": "openclaw"}  # the shipped blueprints
HERMES = {"name": "researcher", "agent": "hermes"}
REPORT = {"ANSIBLE_CALLBACKS_ENABLED": "record_results,agentfleet.nemoclaw.drift_report"}


def agent_results(step, host):
    """The apply's result on ``host`` (the agents role's task, or site.yml's own on its quick path)."""
    return step.result("Converge the agents of the host", host)


def new_api(version):
    return version.startswith("0.1.")


def mutating(step, host=None):
    return [c for c in step.mutating if host is None or c["host"] == host]


def creates(step, host=None):
    return [c["argv"] for c in mutating(step, host) if command_words(c["argv"])[:2] == ("sandbox", "create")]


def pin(fleet, agent, sim1=None):
    """sim-1 runs ``agent`` (with ``sim1``'s keys); sim-2 runs ``agent`` and the shipped Hermes."""
    fleet.set_vars("sim-1", {"nemoclaw_agents": [dict(agent, **(sim1 or {}))]})
    fleet.set_vars("sim-2", {"nemoclaw_agents": [agent, HERMES]})


@pytest.fixture(scope="module", params=VERSIONS)
def fleet(request, tmp_path_factory):
    version = request.param
    f = SimFleet(tmp_path_factory.mktemp("openshell-%s" % version), hosts=2, version=version)
    try:
        f.version_under_test = version
        f.blueprints = tmp_path_factory.mktemp("blueprints-%s" % version)
        f.agent = OPENCLAW
        yield f
    finally:
        f.down()
    assert f.invalid_calls() == []


def test_rollout(fleet):
    version = fleet.version_under_test
    assert fleet.openshell("sim-1", "--version").stdout == "openshell %s\n" % version
    pin(fleet, fleet.agent, {"restart_policy": "on-failure"} if new_api(version) else None)
    step = fleet.run()
    assert step.rc == 0, step.stdout[-4000:]
    for host in fleet.hosts:
        sandbox = fleet.sandbox(host)
        assert sandbox["phase"] == "Ready" and sandbox["labels"]["nemoclaw.blueprint/version"] == "0.1.0"
        assert ("exit_code" in sandbox) == new_api(version)  # 0.1.x's JSON carries the main process's exit
        argv = creates(step, host)
        assert len(argv) == (1 if host == "sim-1" else 2), argv  # sim-2 also runs Hermes
        assert argv and all(("--detach" in a) == new_api(version) for a in argv), argv
        fleet.sh(host, "mkdir -p .openclaw && echo 'remember %s' > %s" % (host, FILE))
    researcher = fleet.sandbox("sim-2", "researcher")
    assert researcher["phase"] == "Ready" and researcher["labels"]["nemoclaw.blueprint/name"] == "hermes"
    if new_api(version):
        argv = creates(step, "sim-1")[0]
        assert argv[argv.index("--restart-policy") + 1] == "on-failure"
        assert "--restart-policy" not in creates(step, "sim-2")[0]
    again = fleet.run()
    assert again.rc == 0 and mutating(again) == [], again.stdout[-3000:]


def test_a_restart_policy_is_refused_before_any_change_where_the_version_lacks_it(fleet):
    version = fleet.version_under_test
    if new_api(version):
        return  # set and applied in test_rollout
    pin(fleet, fleet.agent, {"restart_policy": "always"})
    step = fleet.run(limit="sim-1")
    pin(fleet, fleet.agent)
    assert step.rc != 0
    msg = agent_results(step, "sim-1")["msg"]
    assert ("nemoclaw_agents[openclaw].restart_policy: OpenShell %s has no sandbox restart policy (sandbox create "
            "--restart-policy); it needs OpenShell 0.1.5" % version) in msg, msg
    assert mutating(step) == []


def test_drift(fleet):
    fleet.openshell("sim-2", "sandbox", "stop", "openclaw")
    check = fleet.run(check=True, env=REPORT)
    scan = fleet.run(playbook="playbooks/drift.yml", env=REPORT)
    for step in (check, scan):
        assert step.rc == 0, step.stdout[-3000:]
        assert mutating(step) == []
        drifted = dict((h, agent_results(step, h)) for h in fleet.hosts)
        assert [h for h, r in drifted.items() if r["changed"]] == ["sim-2"], step.stdout[-3000:]
        assert [d["field"] for d in drifted["sim-2"]["agents"]["openclaw"]["differences"]] == ["phase"]
        assert "sim-2: sandbox openclaw: phase: Stopped -> Ready" in step.stdout
    fixed = fleet.run(limit="sim-2")
    assert fixed.rc == 0 and fleet.sandbox("sim-2")["phase"] == "Ready"
    # started again (then health-checked through sandbox exec), not replaced
    assert [command_words(c["argv"])[:2] for c in mutating(fixed) if command_words(c["argv"])[:2] != ("sandbox", "exec")] \
        == [("sandbox", "start")]


def test_a_main_process_exit_follows_the_version(fleet):
    """0.1.x: exit 0 leaves Completed, which site.yml starts again in place; 0.0.x: any exit leaves Error."""
    version = fleet.version_under_test
    before = fleet.sandbox("sim-1")
    fleet.faults("sim-1", {"main_process_exits": [{"name": "openclaw", "exit_code": 0}]})
    exited = fleet.sandbox("sim-1")
    if new_api(version):
        assert exited["phase"] == "Completed" and exited["exit_code"] == 0
    else:
        assert exited["phase"] == "Error" and "exit_code" not in exited
    check = fleet.run(check=True, limit="sim-1")
    assert check.rc == 0 and mutating(check) == [], check.stdout[-3000:]
    planned = agent_results(check, "sim-1")["agents"]["openclaw"]
    step = fleet.run(limit="sim-1")
    fleet.faults("sim-1", {})
    if not new_api(version):
        # An Error sandbox cannot be backed up (sandbox exec needs Ready): nothing is replaced unless the
        # inventory says discard; the agent's files are then lost, so the test writes its file again.
        assert planned["replace"] is True
        assert step.rc != 0 and "cannot back up a sandbox in phase Error" in agent_results(step, "sim-1")["msg"]
        assert mutating(step) == []
        pin(fleet, dict(fleet.agent, on_replace="discard"))
        step = fleet.run(limit="sim-1")
        pin(fleet, fleet.agent)
        assert step.rc == 0, step.stdout[-4000:]
        assert fleet.sandbox("sim-1")["id"] != before["id"]
        fleet.sh("sim-1", "mkdir -p .openclaw && echo 'remember sim-1' > %s" % FILE)
        return
    assert step.rc == 0, step.stdout[-4000:]
    after = fleet.sandbox("sim-1")
    assert after["phase"] == "Ready" and fleet.sh("sim-1", "cat %s" % FILE).strip() == "remember sim-1"
    assert planned["differences"] == [{"field": "phase", "before": "Completed", "after": "Ready"}]
    assert after["id"] == before["id"] and after["exit_code"] is None  # started again, not replaced
    assert ("sandbox", "start") in [command_words(c["argv"])[:2] for c in mutating(step)]
    assert creates(step) == []


def test_canary_upgrade(fleet):
    version = fleet.version_under_test
    agent = make_blueprint(fleet.blueprints, "0.2.0", "2" * 64)
    pin(fleet, agent, {"restart_policy": "on-failure"} if new_api(version) else None)
    step = fleet.run("playbooks/canary_upgrade.yml")
    assert step.rc == 0, step.stdout[-6000:]
    order = [r["host"] for r in step.results if r["task"].endswith("Converge the agents of the host")]
    assert order == ["sim-1", "sim-2"], order
    for host in fleet.hosts:
        sandbox = fleet.sandbox(host)
        assert sandbox["labels"]["nemoclaw.blueprint/version"] == "0.2.0" and sandbox["phase"] == "Ready"
        assert fleet.sh(host, "cat %s" % FILE).strip() == "remember %s" % host
        res = agent_results(step, host)["agents"]["openclaw"]
        assert res["replace"] is True and res["restored"]["verified"] is True
        argv = creates(step, host)
        assert argv and all(("--detach" in a) == new_api(version) for a in argv), argv
    if new_api(version):
        assert all("--restart-policy" in a for a in creates(step, "sim-1"))
