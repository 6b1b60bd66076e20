# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""blueprint, credentials and sandbox roles on simulated hosts whose gateway already runs."""

from __future__ import annotations

import json
import os

from playrunner import command_words

ROLES = {"roles": [{"role": "agentfleet.nemoclaw.blueprint"}, {"role": "agentfleet.nemoclaw.credentials"},
                   {"role": "agentfleet.nemoclaw.sandbox"}]}
SECRET = "nvapi-ROLE-CANARY-5e6f7a8b"
VARS = {"blueprint_tier": "balanced", "nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": SECRET}}


def test_rollout_is_idempotent_and_labels_the_sandbox(fleet):
    sim = fleet.first
    step = fleet.run([], play_extra=ROLES, extra_vars=VARS)
    assert step.rc == 0, step.stdout[-3000:]
    sb = sim.json("sandbox", "get", "openclaw", "-o", "json")
    assert sb["phase"] == "Ready"
    assert sb["labels"]["nemoclaw.blueprint/name"] == "openclaw"
    assert sb["labels"]["nemoclaw.blueprint/version"] == "0.1.0"
    assert len(sb["labels"]["nemoclaw.blueprint/digest"]) == 16
    assert "Model:" in sim.ok("inference", "get").stdout
    assert [p["name"] for p in sim.json("provider", "list", "-o", "json")] == ["nvidia-inference"]
    for check in (False, True):
        step = fleet.run([], play_extra=ROLES, extra_vars=VARS, check=check)
        assert step.rc == 0, step.stdout[-3000:]
        assert step.changed_count() == 0, [r["task"] for r in step.results if r["result"].get("changed")]
        # Nothing changed, so no health probe either: a no-op makes no call but reads.
        assert step.mutating == [], [c["argv"] for c in step.mutating]
    assert SECRET not in step.stdout
    # sandbox_health_check_always probes every run (a read-only command inside the sandbox), check mode too.
    for check in (False, True):
        step = fleet.run([], play_extra=ROLES, extra_vars=dict(VARS, sandbox_health_check_always=True), check=check)
        assert step.rc == 0 and step.changed_count() == 0, step.stdout[-3000:]
        assert [command_words(c["argv"])[:2] for c in step.mutating] == [("sandbox", "exec")]


def test_rotated_credential_is_followed_by_a_health_probe(fleet):
    step = fleet.run([], play_extra=ROLES, extra_vars=VARS)
    assert step.rc == 0, step.stdout[-3000:]
    rotated = dict(VARS, nemoclaw_secrets={"NVIDIA_INFERENCE_API_KEY": "nvapi-ROTATED-0f1e2d3c"},
                   sandbox_health_after_change="{{ credentials_plan_result | default({}) is changed }}")
    step = fleet.run([], play_extra=ROLES, extra_vars=rotated)
    assert step.rc == 0, step.stdout[-3000:]
    words = [command_words(c["argv"])[:2] for c in step.mutating]
    assert words == [("provider", "update"), ("sandbox", "exec")], words
    assert "nvapi-ROTATED-0f1e2d3c" not in step.stdout


def test_missing_secret_fails_naming_the_variable(fleet):
    step = fleet.run([], play_extra=ROLES, extra_vars=dict(VARS, nemoclaw_secrets={}))
    assert step.rc != 0
    assert "nemoclaw_secrets.NVIDIA_INFERENCE_API_KEY" in step.stdout
    assert step.mutating == []


def test_unhealthy_agent_fails_the_host(fleet):
    fleet.first.set_faults({"exec_failures": [{"image": "openclaw", "command_contains": "health", "rc": 7,
                                               "stderr": "agent gateway not answering\n"}]})
    step = fleet.run([], play_extra=ROLES, extra_vars=VARS)
    assert step.rc != 0
    assert "health check of sandbox openclaw failed (rc 7)" in step.stdout
    assert "agent gateway not answering" in step.stdout


def test_bad_role_input_fails_at_argument_validation(fleet):
    step = fleet.run([], play_extra=ROLES, extra_vars=dict(VARS, blueprint_tier="premium"))
    assert step.rc != 0 and "blueprint_tier" in step.stdout and step.calls == []
    step = fleet.run([], play_extra=ROLES, extra_vars=dict(VARS, sandbox_health_timeout="soon"))
    assert step.rc != 0 and "sandbox_health_timeout" in step.stdout


def test_legacy_credentials_file_is_migrated_then_removed(fleet):
    sim = fleet.first
    legacy = os.path.join(sim.root, "home", ".nemoclaw", "credentials.json")
    os.makedirs(os.path.dirname(legacy))
    with open(legacy, "w") as fh:
        json.dump({"NVIDIA_API_KEY": "nvapi-LEGACY-1111", "UNRELATED": "x"}, fh)
    os.chmod(legacy, 0o600)
    step = fleet.run([], play_extra={"roles": [{"role": "agentfleet.nemoclaw.credentials"}]},
                     extra_vars={"credentials_legacy_file": legacy})
    assert step.rc == 0, step.stdout[-3000:]
    assert not os.path.exists(legacy)
    providers = sim.json("provider", "list", "-o", "json")
    assert [(p["name"], p["credential_keys"]) for p in providers] == [("nvidia-inference", ["NVIDIA_API_KEY"])]
    assert "nvapi-LEGACY-1111" not in step.stdout
