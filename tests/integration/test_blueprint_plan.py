# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nemoclaw_blueprint against the simulator: plan the shipped blueprints for every tier,
create sandboxes from the plans and converge their policies; version gate and pins."""

from __future__ import annotations

import os
import shutil
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import artifact_digest  # noqa: E402
from playrunner import Play  # noqa: E402  pylint: disable=wrong-import-position

AGENTS = ("openclaw", "hermes")
TIERS = ("restricted", "balanced", "open")
# Policy transitions applied to the sandbox created from the restricted plan: widen, widen, narrow back.
TRANSITIONS = ("balanced", "open", "restricted")
BLUEPRINT = "agentfleet.nemoclaw.nemoclaw_blueprint"


def plan_task(agent, tier, **extra):
    args = {"src": agent, "tier": tier}
    args.update(extra)
    return {"name": "plan-%s-%s" % (agent, tier), BLUEPRINT: args, "register": "p_%s_%s" % (agent, tier)}


def create_task(agent):
    """The sandbox <agent>-restricted, created from the restricted plan (its policy is validated at creation)."""
    var = "p_%s_restricted" % agent
    return {"name": "create-%s" % agent, "agentfleet.nemoclaw.openshell_sandbox": {
        "name": "{{ %s.plan.sandbox.name }}-restricted" % var,
        "image": "{{ %s.plan.sandbox.image }}" % var,
        "policy": "{{ %s.plan.policy }}" % var,
    }}


def apply_task(agent, tier, n):
    return {"name": "apply-%s-%s-%d" % (agent, tier, n), "agentfleet.nemoclaw.openshell_policy": {
        "sandbox": "%s-restricted" % agent,
        "policy": "{{ p_%s_%s.plan.policy }}" % (agent, tier),
    }}


def all_tasks(transitions=TRANSITIONS):
    tasks = []
    for agent in AGENTS:
        tasks += [plan_task(agent, tier) for tier in TIERS]
        tasks.append(create_task(agent))
        for tier in transitions:
            tasks += [apply_task(agent, tier, 1), apply_task(agent, tier, 2)]
    return tasks


def version_calls(step):
    return [c for c in step.calls if c["argv"] == ["--version"]]


def test_shipped_blueprints_plan_create_and_apply(fleet):
    sim = fleet.first
    step, check = fleet.steps(all_tasks(), Play(all_tasks(transitions=("restricted",)), check=True))
    assert step.rc == 0, step.stdout[-4000:]
    # one read-only version probe per plan task, and one per sandbox created (its argv follows the version)
    assert len(version_calls(step)) == len(AGENTS) * len(TIERS) + len(AGENTS)
    plans = {}
    for agent in AGENTS:
        for tier in TIERS:
            res = step.result("plan-%s-%s" % (agent, tier))
            assert res["changed"] is False and res["openshell_version"] == "0.0.111", res
            assert res["openshell_version_source"] == "detected"
            plan = plans[agent, tier] = res["plan"]
            assert plan["tier"] == tier and plan["blueprint"]["name"] == agent
            assert plan["versions"]["openshell"] == {"actual": "0.0.111", "min": "0.0.106", "max": "0.1.5"}
            assert res["digest"] == artifact_digest(os.path.join(ROOT, "blueprints", agent))
            assert "managed_inference" in plan["policy"]["network_policies"]
        nps = dict((tier, set(plans[agent, tier]["policy"]["network_policies"])) for tier in TIERS)
        assert nps["restricted"] < nps["balanced"] < nps["open"]
        created = step.result("create-%s" % agent)
        assert created["changed"] is True and created["actions"] == ["create"], created
        # Each tier's policy is accepted by the simulator (policy set validates it) and converges:
        # the first apply changes the sandbox, the second is a no-op.
        for tier in TRANSITIONS:
            first = step.result("apply-%s-%s-1" % (agent, tier))
            again = step.result("apply-%s-%s-2" % (agent, tier))
            assert first["changed"] is True, first
            assert again["changed"] is False, again
        # after widening and narrowing again the sandbox holds exactly the restricted plan's entries
        current = sim.json("policy", "get", "%s-restricted" % agent, "--full", "-o", "json")["policy"]
        assert set(current["network_policies"]) == nps["restricted"]
    applied = [c["argv"][:3] for c in step.mutating if c["argv"][:2] == ["policy", "set"]]
    assert len(applied) == len(AGENTS) * len(TRANSITIONS)

    # Check mode: planning still probes the version (read-only), plans are identical, nothing would change.
    assert check.rc == 0, check.stdout[-4000:]
    assert check.mutating == [] and check.changed_count() == 0
    assert len(version_calls(check)) == len(AGENTS) * len(TIERS)
    for (agent, tier), plan in plans.items():
        assert check.result("plan-%s-%s" % (agent, tier))["plan"]["plan_digest"] == plan["plan_digest"]


def test_gate_pin_and_archive_before_any_host_change(fleet, tmp_path):
    # a reviewed copy of the openclaw blueprint as a .tar.gz, pinned by digest
    src = tmp_path / "src" / "openclaw"
    shutil.copytree(os.path.join(ROOT, "blueprints", "openclaw"), str(src))
    tgz = str(tmp_path / "openclaw-0.1.0.tar.gz")
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(str(src), arcname="openclaw")
    digest = artifact_digest(tgz)
    assert digest == artifact_digest(str(src))
    wrong = "sha256:" + "f" * 64
    tasks = [
        dict(plan_task(tgz, "balanced", digest=wrong), name="mismatch"),
        dict(plan_task(tgz, "balanced"), name="unpinned"),
        dict(plan_task("hermes", "open", openshell_version="0.1.6"), name="given-too-new"),
        dict(plan_task(tgz, "open", digest=digest, openshell_version="0.0.116"), name="archive"),
        dict(plan_task("openclaw", "balanced", openshell_version="0.0.111", overrides={"exclude": ["managed_inference"]}),
             name="exclude-required"),
    ]
    for task in tasks:
        task["ignore_errors"] = True
        task.pop("register")
    # Detected 0.0.1 is outside the gate; the host fails there and the sandbox task never runs.
    tasks.append(dict(plan_task("openclaw", "balanced"), name="gate"))
    tasks.append({"name": "never", "agentfleet.nemoclaw.openshell_sandbox": {"name": "never", "image": "x"}})
    step = fleet.run(tasks, play_extra={"environment": "{{ sim_env | combine({'OPENSHELL_SIM_VERSION': '0.0.1'}) }}"})

    assert step.rc != 0
    gate = step.result("gate")
    assert step.status("gate") == "failed" and gate["error_path"] == "openshell_version"
    assert "0.0.1 " in gate["msg"] and "min 0.0.106" in gate["msg"] and "max 0.1.5" in gate["msg"], gate["msg"]
    assert "detected with 'openshell --version' on host1" in gate["msg"]
    # the host failed at the gate, so the next task never ran on it
    assert step.status("never") is None

    mismatch = step.result("mismatch")
    assert step.status("mismatch") == "failed" and digest in mismatch["msg"] and wrong in mismatch["msg"]
    unpinned = step.result("unpinned")
    assert step.status("unpinned") == "failed" and unpinned["error_path"] == "digest" and digest in unpinned["msg"]
    too_new = step.result("given-too-new")
    assert step.status("given-too-new") == "failed" and "0.1.6" in too_new["msg"] and "min 0.0.106, max 0.1.5" in too_new["msg"]
    archive = step.result("archive")
    assert step.status("archive") == "ok" and archive["pinned"] is True and archive["digest"] == digest
    assert archive["source"] == tgz and archive["plan"]["tier"] == "open"
    excl = step.result("exclude-required")
    assert step.status("exclude-required") == "failed" and excl["error_path"] == "policy.network_policies.managed_inference"

    # The only OpenShell call of the whole step is the version probe of the "gate" task.
    assert [c["argv"] for c in step.calls] == [["--version"]]
