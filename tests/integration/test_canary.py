# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""playbooks/canary_upgrade.yml and playbooks/rollback.yml on a four-host ``scripts/simfleet`` fleet.

sim-1 is the ``canary`` group. The fleet runs the shipped openclaw 0.1.0 blueprint (site.yml), each
agent gets a file in its home, then the inventory's ``nemoclaw_agents`` pins a copy of the blueprint
with another version and image digest. One fleet, steps in order:

1. 0.2.0 with a failing health command on the canary (its fault file): the canary is back on 0.1.0
   with its file, the other hosts saw no mutating call, the play fails naming the host and the check;
2. the fault gone, the run SIGKILLed right after the canary's ``sandbox delete``: the same playbook
   again finishes the canary's replacement (file restored) and rolls out the rest;
3. 0.3.0: canary first, then the batches; every file kept; ``site.yml --check`` is changed=0 and
   ``drift.yml`` finds nothing;
4. rollback.yml --limit sim-2: sim-2 back on 0.2.0 with its agent's current files, no call on any other host;
and every call any host logged is valid for the real CLI's grammar.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import ROOT  # noqa: E402  pylint: disable=wrong-import-position
from simfleet_runner import SimFleet, agent_results  # noqa: E402  pylint: disable=wrong-import-position

FILE = ".openclaw/memory.md"
HEALTH_FAULT_IMAGE = "2" * 16
ROLLOUT = "playbooks/canary_upgrade.yml"


def artifact_digest(path):
    # PYTHONPATH: module_utils import each other as ansible_collections.agentfleet.nemoclaw.* (.collections).
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "blueprint_digest.py"), str(path)],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True, env=env).stdout
    return out.split()[0]


def make_blueprint(directory, version, image_digest, **fields):
    """A copy of blueprints/openclaw with another version and image digest (and top-level ``fields``).

    Returns the agent entry that pins it (``blueprint``, ``blueprint_digest``).
    """
    dest = os.path.join(str(directory), "openclaw-%s" % version)
    shutil.copytree(os.path.join(ROOT, "blueprints", "openclaw"), dest)
    path = os.path.join(dest, "blueprint.yaml")
    with open(path) as fh:
        text = fh.read()
    text = re.sub(r'(?m)^version: ".*"$', 'version: "%s"' % version, text)
    text = re.sub(r'(?m)^digest: "sha256:[0-9a-f]{64}"$', 'digest: "sha256:%s"' % image_digest, text)
    text = re.sub(r"(openclaw@sha256:)[0-9a-f]{64}", r"\g<1>" + image_digest, text)
    for key, value in fields.items():
        text = re.sub(r'(?m)^%s: ".*"$' % key, '%s: "%s"' % (key, value), text)
    with open(path, "w") as fh:
        fh.write(text)
    doc = yaml.safe_load(text)
    assert doc["version"] == version and doc["components"]["sandbox"]["image"].endswith(image_digest)
    return {"name": "openclaw", "agent": "openclaw", "blueprint": dest, "blueprint_digest": artifact_digest(dest)}


def pin(fleet, agent):
    """The inventory change of a rollout: every host's nemoclaw_agents names ``agent``."""
    for host in fleet.hosts:
        fleet.set_vars(host, {"nemoclaw_agents": [agent]})


def version(fleet, host):
    return fleet.sandbox(host)["labels"]["nemoclaw.blueprint/version"]


def read_file(fleet, host):
    return fleet.sh(host, "cat %s 2>/dev/null || echo MISSING" % FILE).strip()


def mutating(step, host=None):
    return [c for c in step.mutating if host is None or c["host"] == host]


def converge_order(step):
    """Hosts in the order their agents' apply ran."""
    return [r["host"] for r in step.results if r["task"].endswith("Converge the agents of the host")]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = SimFleet(tmp_path_factory.mktemp("canary"), hosts=4)
    try:
        step = f.run()
        assert step.rc == 0, step.stdout[-4000:]
        for host in f.hosts:
            f.sh(host, "mkdir -p .openclaw && echo 'remember %s' > %s" % (host, FILE))
        f.blueprints = tmp_path_factory.mktemp("blueprints")
        yield f
    finally:
        f.down()
    assert f.invalid_calls() == []


def test_a_failing_gate_on_the_canary_rolls_it_back_and_stops(fleet):
    pin(fleet, make_blueprint(fleet.blueprints, "0.2.0", HEALTH_FAULT_IMAGE * 4))
    fleet.faults("sim-1", {"exec_failures": [{"image": HEALTH_FAULT_IMAGE, "command_contains": "health", "rc": 3,
                                              "stderr": "openclaw gateway crashed on start\n"}]})
    step = fleet.run(ROLLOUT)
    fleet.faults("sim-1", {})
    assert step.rc != 0
    assert version(fleet, "sim-1") == "0.1.0" and fleet.sandbox("sim-1")["phase"] == "Ready"
    assert read_file(fleet, "sim-1") == "remember sim-1"
    # The later batches never started: no mutating call anywhere but on the canary.
    assert [c for c in step.mutating if c["host"] != "sim-1"] == []
    assert [version(fleet, h) for h in fleet.hosts] == ["0.1.0"] * 4
    msg = step.result("Stop the rollout", "sim-1")["msg"]
    assert msg.startswith("sim-1: ") and "health check failed" in msg and "exited 3" in msg, msg
    assert "openclaw gateway crashed on start" in msg and "returned to its previous plan (openclaw: openclaw 0.1.0)" in msg
    assert "sim-1: rolled back" in step.stdout and "sim-2: not started" in step.stdout
    # The host lock is not left behind on the canary.
    assert not os.path.exists(os.path.join(fleet.state_dir("sim-1"), "site.lock"))


def test_a_rollout_killed_after_the_canarys_delete_is_finished_by_the_next_run(fleet):
    fleet.faults("sim-1", {"latency_ms": 300})
    proc = fleet.start(ROLLOUT)
    fleet.kill_after(proc, "sim-1", ["sandbox", "delete"])
    fleet.faults("sim-1", {})
    assert os.path.exists(os.path.join(fleet.state_dir("sim-1"), "journal", "openshell", "openclaw.json"))

    step = fleet.run(ROLLOUT)
    assert step.rc == 0, step.stdout[-6000:]
    assert [r["agent"] for r in agent_results(step, "sim-1")["resumed"]] == ["openclaw"]
    for host in fleet.hosts:
        assert version(fleet, host) == "0.2.0", host
        assert read_file(fleet, host) == "remember %s" % host
    assert converge_order(step)[0] == "sim-1"


def test_a_blueprint_bump_rolls_out_canary_first_and_leaves_nothing_to_do(fleet):
    agent = make_blueprint(fleet.blueprints, "0.3.0", "3" * 64)
    pin(fleet, agent)
    step = fleet.run(ROLLOUT, extra_vars={"rollout_serial": [1, "100%"]})
    assert step.rc == 0, step.stdout[-6000:]
    # Batches: the canary group (sim-1), then one host, then the rest.
    order = converge_order(step)
    assert order[:2] == ["sim-1", "sim-2"] and sorted(order[2:]) == ["sim-3", "sim-4"], order
    for host in fleet.hosts:
        assert version(fleet, host) == "0.3.0", host
        assert fleet.sandbox(host)["labels"]["nemoclaw.blueprint/digest"] == agent["blueprint_digest"][7:23]
        assert read_file(fleet, host) == "remember %s" % host
        res = agent_results(step, host)["agents"]["openclaw"]
        assert res["replace"] is True and res["restored"]["verified"] is True
        assert res["gate"] == {"health": "passed", "policy": "passed", "inference": "passed"}
        assert not os.path.exists(os.path.join(fleet.state_dir(host), "site.lock"))
    assert "sim-2: upgraded" in step.stdout and "openclaw: openclaw 0.2.0 -> openclaw 0.3.0 (replaced, state kept)" in step.stdout, \
        step.stdout[-3000:]

    check = fleet.run(check=True)
    assert check.rc == 0 and check.changed_count() == 0, [(r["task"], r["host"], r["result"])
                                                          for r in check.results if r["result"].get("changed")]
    assert mutating(check) == []
    drift = fleet.run("playbooks/drift.yml")
    assert drift.rc == 0 and mutating(drift) == []
    assert [h for h in fleet.hosts if agent_results(drift, h)["changed"]] == []


def test_rollback_returns_a_named_host_to_its_previous_plan(fleet):
    fleet.sh("sim-2", "echo 'written on 0.3.0' > %s" % FILE)
    refused = fleet.run("playbooks/rollback.yml")
    assert refused.rc != 0 and refused.calls == [] and "--limit" in refused.stdout
    step = fleet.run("playbooks/rollback.yml", limit="sim-2")
    assert step.rc == 0, step.stdout[-4000:]
    # The agent's state comes along: what it wrote on 0.3.0 is in its 0.2.0 sandbox.
    assert version(fleet, "sim-2") == "0.2.0" and read_file(fleet, "sim-2") == "written on 0.3.0"
    assert [version(fleet, h) for h in ("sim-1", "sim-3", "sim-4")] == ["0.3.0"] * 3
    assert {c["host"] for c in step.calls} == {"sim-2"}
    assert not os.path.exists(os.path.join(fleet.state_dir("sim-2"), "site.lock"))
