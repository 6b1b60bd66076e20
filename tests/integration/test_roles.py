# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The agents role (nemoclaw_apply) on simulated hosts whose gateway already runs.

The role is one task; the desired state is ``nemoclaw_agents`` (playrunner's default: one OpenClaw
agent). These tests converge, replace, refuse and remove agents and judge the outcome from the
simulator's state and its call log, not from what the module says about itself.
"""

from __future__ import annotations

import re

from playrunner import Play, command_words

ROLE = {"roles": [{"role": "agentfleet.nemoclaw.agents"}]}
TASK = "Converge the agents of the host"
SECRET = "nvapi-ROLE-CANARY-5e6f7a8b"
VARS = {"nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": SECRET}}
OPENCLAW = {"name": "openclaw", "agent": "openclaw"}
MEMORY = "mkdir -p .openclaw && echo remembered > .openclaw/memory.md"


def agents(*entries):
    return dict(VARS, nemoclaw_agents=list(entries))


def role_play(variables, check=False):
    """A step of ``Fleet.steps``: the role with ``variables`` as the play's vars (what ``run`` gives as extra vars)."""
    return Play(check=check, play_extra=dict(ROLE, vars=variables))


def words(step):
    return [command_words(c["argv"])[:2] for c in step.mutating]


def exec_in(sim, name, script):
    return sim.ok("sandbox", "exec", "--name", name, "--", "sh", "-c", script).stdout


def test_rollout_is_idempotent_and_labels_the_sandbox(fleet):
    sim = fleet.first
    step, *again = fleet.steps(role_play(VARS), role_play(VARS), role_play(VARS, check=True))
    assert step.rc == 0, step.stdout[-3000:]
    res = step.result(TASK)
    assert res["changed"] is True and res["agents"]["openclaw"]["actions"] == ["create"]
    # created, then probed once (the blueprint's health command) because it changed
    assert res["agents"]["openclaw"]["health"]["rc"] == 0
    assert words(step) == [("provider", "create"), ("inference", "set"), ("sandbox", "create"), ("sandbox", "exec")]
    sb = sim.json("sandbox", "get", "openclaw", "-o", "json")
    assert sb["phase"] == "Ready"
    assert sb["labels"]["nemoclaw.blueprint/name"] == "openclaw"
    assert sb["labels"]["nemoclaw.blueprint/version"] == "0.1.0"
    assert len(sb["labels"]["nemoclaw.blueprint/digest"]) == 16
    assert sb["labels"]["agentfleet.nemoclaw/managed"] == "true"
    assert "nvidia/nemotron-3-super-120b-a12b" in sim.ok("inference", "get").stdout
    assert [p["name"] for p in sim.json("provider", "list", "-o", "json")] == ["nvidia-inference"]
    for step in again:
        assert step.rc == 0, step.stdout[-3000:]
        assert step.changed_count() == 0, step.result(TASK).get("summary")
        # Nothing changed, so no health probe either: a no-op makes no call but reads.
        assert step.mutating == [], [c["argv"] for c in step.mutating]
    assert SECRET not in step.stdout


def test_env_change_replaces_the_sandbox_and_keeps_the_agent_home(fleet):
    sim = fleet.first
    assert fleet.run([], play_extra=ROLE, extra_vars=agents(OPENCLAW)).rc == 0
    exec_in(sim, "openclaw", MEMORY)
    old_id = sim.json("sandbox", "get", "openclaw", "-o", "json")["id"]
    changed = dict(OPENCLAW, env={"LOG_LEVEL": "debug"})

    # on_replace: refuse fails naming the entry and the field, before any write
    refused = dict(changed, env={"LOG_LEVEL": "info"}, on_replace="refuse")
    check, step, refuse = fleet.steps(role_play(agents(changed), check=True), role_play(agents(changed)),
                                      role_play(agents(refused)))

    # check mode names the field and the replacement, and changes nothing
    assert check.rc == 0, check.stdout[-3000:]
    res = check.result(TASK)["agents"]["openclaw"]
    assert res["replace"] is True and res["differences"] == [{"field": "env.LOG_LEVEL", "before": None, "after": "debug"}]
    assert check.mutating == [] and "env.LOG_LEVEL: debug" in check.stdout

    assert step.rc == 0, step.stdout[-3000:]
    res = step.result(TASK)["agents"]["openclaw"]
    assert res["actions"] == ["backup", "delete", "create", "restore"], res
    assert res["restored"] == {"files": 1, "verified": True, "changed_since_restore": []}
    assert ("sandbox", "delete") in words(step) and ("sandbox", "create") in words(step)
    creates = [c["argv"] for c in step.mutating if command_words(c["argv"])[:2] == ("sandbox", "create")]
    assert "LOG_LEVEL=debug" in creates[0]
    assert sim.json("sandbox", "get", "openclaw", "-o", "json")["id"] != old_id
    assert exec_in(sim, "openclaw", "cat .openclaw/memory.md").strip() == "remembered"

    assert refuse.rc != 0
    msg = refuse.result(TASK)["msg"]
    assert "nemoclaw_agents[openclaw].on_replace is refuse" in msg and "env.LOG_LEVEL" in msg, msg
    assert refuse.mutating == []

    # a label is replaced too; the next run is a no-op
    labelled = dict(changed, labels={"team": "research"})
    step, again = fleet.steps(role_play(agents(labelled)), role_play(agents(labelled)))
    assert step.rc == 0 and step.result(TASK)["agents"]["openclaw"]["replace"] is True, step.stdout[-3000:]
    assert sim.json("sandbox", "get", "openclaw", "-o", "json")["labels"]["team"] == "research"
    assert again.rc == 0 and again.changed_count() == 0 and again.mutating == []


def test_two_agents_stopped_then_absent(fleet):
    sim = fleet.first
    hermes = {"name": "hermes", "agent": "hermes"}
    step, stop = fleet.steps(role_play(agents(OPENCLAW, hermes)), role_play(agents(OPENCLAW, dict(hermes, state="stopped"))))
    assert step.rc == 0, step.stdout[-3000:]
    assert sorted(s["name"] for s in sim.json("sandbox", "list", "-o", "json")) == ["hermes", "openclaw"]
    # one inference.local route for both: the agents share it
    assert words(step).count(("inference", "set")) == 1

    assert stop.rc == 0, stop.stdout[-3000:]
    assert words(stop) == [("sandbox", "stop")]
    assert sim.json("sandbox", "get", "hermes", "-o", "json")["phase"] == "Stopped"

    exec_in(sim, "openclaw", MEMORY)
    removed = agents(dict(OPENCLAW, state="absent"), dict(hermes, state="stopped"))
    step, again = fleet.steps(role_play(removed), role_play(removed))
    assert step.rc == 0, step.stdout[-3000:]
    res = step.result(TASK)["agents"]["openclaw"]
    assert res["actions"] == ["backup", "delete"] and res["backup"].endswith("-remove.tar.gz"), res
    assert [s["name"] for s in sim.json("sandbox", "list", "-o", "json")] == ["hermes"]
    assert again.rc == 0 and again.changed_count() == 0 and again.mutating == []


def test_rotated_credential_updates_the_provider_only(fleet):
    rotated = dict(VARS, nemoclaw_secrets={"NVIDIA_INFERENCE_API_KEY": "nvapi-ROTATED-0f1e2d3c"})
    first, step = fleet.steps(role_play(VARS), role_play(rotated))
    assert first.rc == 0, first.stdout[-3000:]
    assert step.rc == 0, step.stdout[-3000:]
    assert words(step) == [("provider", "update")], words(step)
    assert step.result(TASK)["providers"]["nvidia-inference"]["credentials"] == {"NVIDIA_API_KEY": "<changed>"}
    assert "nvapi-ROTATED-0f1e2d3c" not in step.stdout and "nvapi-ROTATED-0f1e2d3c" not in str(step.results)


def test_missing_secret_fails_naming_the_variable(fleet):
    step = fleet.run([], play_extra=ROLE, extra_vars=dict(VARS, nemoclaw_secrets={}))
    assert step.rc != 0
    res = step.result(TASK)
    assert res["error_path"] == "nemoclaw_secrets.NVIDIA_INFERENCE_API_KEY", res
    assert "nemoclaw_agents[openclaw]" in res["msg"]
    # planned on the controller: not one call reached the host
    assert step.calls == []


def test_unhealthy_agent_fails_the_host(fleet):
    fleet.first.set_faults({"exec_failures": [{"image": "openclaw", "command_contains": "health", "rc": 7,
                                               "stderr": "agent gateway not answering\n"}]})
    step = fleet.run([], play_extra=ROLE, extra_vars=VARS)
    assert step.rc != 0
    msg = step.result(TASK)["msg"]
    assert "agent openclaw: health check failed" in msg and "openclaw health --json" in msg, msg
    assert re.search(r"\bexit(ed)? 7\b", msg), msg
    assert "agent gateway not answering" in msg


def test_bad_role_input_fails_at_argument_validation(fleet):
    step = fleet.run([], play_extra=ROLE, extra_vars=dict(VARS, agents_health_timeout="soon"))
    assert step.rc != 0 and "agents_health_timeout" in step.stdout and step.calls == []
    step = fleet.run([], play_extra=ROLE, extra_vars=dict(VARS, agents_update_credentials="sometimes"))
    assert step.rc != 0 and "agents_update_credentials" in step.stdout and step.calls == []
    step = fleet.run([], play_extra=ROLE, extra_vars=agents(dict(OPENCLAW, tier="premium")))
    assert step.rc != 0 and step.result(TASK)["error_path"] == "nemoclaw_agents[openclaw].tier"
    assert step.calls == []
