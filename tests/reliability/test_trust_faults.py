# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Faults of issue 19 ("converged when it is not") on a converged one-host fleet.

* A policy revision that fails to load (simulator fault ``policy_load: failed``): the run fails
  naming the agent, the revision and the gateway's error; the next run applies it again and fails
  again (never counted as converged); with the fault gone and the policy fixed, a run converges.
* A missing gateway executable (``openshell_install_method: none``): detected, the run fails naming
  ``openshell_gateway_path`` before any mutating call. (With a package install method the role
  installs the package again: tests/integration/test_openshell_role.py.)
"""

from __future__ import annotations

import os

import pytest

from reltools import changed_tasks, command_words, converged_fleet, failure_text

OPENCLAW = {"name": "openclaw", "agent": "openclaw"}
LOAD_ERROR = "network_policies.jira: L7 rule refers to an unknown field"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with converged_fleet(tmp_path_factory.mktemp("trustfaults"), 1) as f:
        yield f


def _policy_sets(step):
    return [c for c in step.mutating if command_words(c["argv"])[:2] == ("policy", "set")]


def test_failed_policy_load_fails_and_is_applied_again(fleet):
    sim = fleet.hosts["host1"]
    sim.set_faults({"policy_load": "failed", "policy_load_error": LOAD_ERROR})
    # A dynamic policy change (a preset), applied in place: its revision fails to load.
    changed = {"host1": {"nemoclaw_agents": [dict(OPENCLAW, presets=["jira"])]}}
    try:
        step = fleet.run_site("site.yml", tags="agents", host_vars=changed)
        assert step.rc != 0, ([c["argv"] for c in step.mutating], changed_tasks(step), step.stdout[-2500:])
        text = failure_text(step, "host1")
        assert "agent openclaw: policy version" in text and "failed to load: %s" % LOAD_ERROR in text, text
        assert len(_policy_sets(step)) == 1

        # Not converged: the next run reads the failed revision, applies the policy again and fails again
        # with the gateway's error (the gateway keeps the same revision for the same policy).
        again = fleet.run_site("site.yml", tags="agents", host_vars=changed)
        assert again.rc != 0
        text = failure_text(again, "host1")
        assert "failed to load: %s" % LOAD_ERROR in text, text
        assert len(_policy_sets(again)) == 1

        # A check run reports the failed revision as drift, changing nothing.
        check = fleet.run_site("site.yml", tags="agents", host_vars=changed, check=True)
        assert check.mutating == [], [c["argv"] for c in check.mutating]
        assert any("Converge the agents" in t for _h, t in changed_tasks(check, "host1")), changed_tasks(check)
        assert "failed to load: %s" % LOAD_ERROR in check.stdout
    finally:
        sim.set_faults({})
    # The fault gone and the policy put back: the run loads a new revision and converges; then changed=0.
    fixed = fleet.run_site("site.yml", tags="agents")
    assert fixed.rc == 0, fixed.stdout[-4000:]
    assert len(_policy_sets(fixed)) == 1
    after = fleet.run_site("site.yml", tags="agents")
    assert after.rc == 0 and changed_tasks(after) == [] and after.mutating == [], changed_tasks(after)


def test_missing_gateway_executable_is_detected(fleet, tmp_path):
    missing = os.path.join(str(tmp_path), "gone", "openshell-gateway")
    host_vars = {"host1": {"openshell_gateway_supervisor": "process", "openshell_gateway_path": missing}}
    step = fleet.run_site("site.yml", host_vars=host_vars)
    assert step.rc != 0
    text = failure_text(step, "host1")
    assert "openshell_gateway_path (%s) is missing or not executable" % missing in text, text
    assert step.mutating == [], [c["argv"] for c in step.mutating]
