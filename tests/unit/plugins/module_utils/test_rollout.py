# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""rollout.py and the rollout filters: what a rollout decides, without a host.

* need/skip: what a host's check run says it needs (``needs``), and that a host in its desired state
  makes no mutating call when the rollout reaches it;
* gate verdicts: the health command, the policy revision, the inference route (``gate_verdict``, and
  the Applier's gate after a change);
* batches: ``serial_batches``, ``batch_sizes``, ``batch_failed`` (Ansible's ``max_fail_percentage``);
* the plan a failed host returns to (``rollback_plan``) and the report lines.

Resuming a replacement from each journal step is tested in test_apply.py
(test_resume_before_the_delete_closes_the_journal, test_resume_after_the_delete_restores_first).
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.filter import rollout as filters
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import rollout
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.apply import ApplyError

from test_apply import FakeClient, Run, agent, converged, make_plan  # pylint: disable=import-error

ROUTE = {"provider": "nvidia-inference", "model": "nvidia/nemotron-3-super-120b-a12b"}


def plan_agent(name="assistant", version="0.1.0", digest="d1"):
    return {"name": name, "plan_digest": digest, "state": "running", "health_command": ["openclaw", "health", "--json"],
            "blueprint": {"name": "openclaw", "version": version}, "route": ROUTE}


# --------------------------------------------------------------------------
# gate verdicts
# --------------------------------------------------------------------------

def test_gate_passes_when_every_check_passes():
    assert rollout.gate_verdict(plan_agent(), 0, "", {"version": 2, "active_version": 2, "status": "loaded"},
                                dict(ROUTE, timeout=0), ROUTE) == []


def test_gate_without_readings_has_no_verdict():
    # The health command not run, no policy read, no route wanted: nothing to judge.
    assert rollout.gate_verdict(plan_agent()) == []


def test_gate_names_the_failed_health_command_its_exit_and_output():
    failed = rollout.gate_verdict(plan_agent(), 3, "openclaw gateway crashed on start\n")
    assert failed == [{"check": "health", "message": "openclaw health --json exited 3: openclaw gateway crashed on start"}]


def test_gate_keeps_the_end_of_a_long_health_output():
    failed = rollout.gate_verdict(plan_agent(), 1, "x" * 1000 + "the reason")
    assert failed[0]["message"].endswith("the reason") and len(failed[0]["message"]) < 260


@pytest.mark.parametrize("info, text", [
    ({"version": 3, "active_version": 3, "status": "pending"}, "policy revision 3 is pending (active 3)"),
    ({"version": 3, "active_version": 2, "status": "loaded"}, "policy revision 3 is loaded (active 2)"),
    ({"version": 3, "active_version": 2, "status": "failed", "load_error": "bad rule"},
     "policy revision 3 is failed (active 2): bad rule"),
    ({}, "policy revision None is None"),
])
def test_gate_fails_a_policy_that_is_not_the_loaded_active_revision(info, text):
    failed = rollout.gate_verdict(plan_agent(), policy_info=info)
    assert [f["check"] for f in failed] == ["policy"] and text in failed[0]["message"], failed


def test_gate_accepts_an_effective_policy_without_an_active_version():
    assert rollout.gate_verdict(plan_agent(), policy_info={"version": 1, "status": "effective"}) == []


@pytest.mark.parametrize("route, text", [
    (None, "no route differs from nvidia-inference/nvidia/nemotron-3-super-120b-a12b (absent)"),
    ({"provider": "vllm-local", "model": ROUTE["model"]}, "vllm-local/%s differs" % ROUTE["model"]),
    ({"provider": ROUTE["provider"], "model": "other"}, "(model)"),
])
def test_gate_fails_an_inference_route_that_is_not_the_plans(route, text):
    failed = rollout.gate_verdict(plan_agent(), route=route, want_route=ROUTE)
    assert [f["check"] for f in failed] == ["inference"] and text in failed[0]["message"], failed


def test_gate_reports_every_failed_check_at_once():
    failed = rollout.gate_verdict(plan_agent(), 1, "down", {"version": 2, "status": "pending"}, None, ROUTE)
    assert [f["check"] for f in failed] == ["health", "policy", "inference"]


class GateClient(FakeClient):
    """The fake OpenShell of test_apply with a policy status and a health command that can fail."""

    def __init__(self):
        super(GateClient, self).__init__()
        self.health = (0, '{"ok": true}', "")
        self.policy_status = "loaded"
        self.timeout = getattr(self, "timeout", 300)

    def policy_get(self, name, full=False):
        self._call("policy_get", name)
        return {"version": 2, "active_version": 2, "status": self.policy_status}

    def sandbox_exec(self, name, command, workdir=None, timeout=None, data=None, env=None):
        if list(command[:2]) == ["openclaw", "health"]:
            self._call("sandbox_exec", name, list(command))
            return self.health
        return super(GateClient, self).sandbox_exec(name, command, workdir, timeout, data, env)


@pytest.fixture
def gated(tmp_path):
    run = Run(tmp_path, GateClient())

    def apply(plan, gate=True):
        run.client.calls = []
        applier = run.applier(plan)
        applier.gate = gate
        return applier.run()
    run.gated = apply
    return run


def test_the_applier_gates_a_changed_agent_and_records_what_passed(gated):
    result = gated.gated(make_plan(agent()))
    assert result["agents"]["assistant"]["gate"] == {"health": "passed", "policy": "passed", "inference": "passed"}


def test_the_applier_fails_a_changed_agent_whose_gate_fails_naming_the_checks(gated):
    converged(gated, make_plan(agent(resources={"memory": "8Gi"})))
    gated.client.health = (3, "", "openclaw gateway crashed on start\n")
    gated.client.policy_status = "pending"
    with pytest.raises(ApplyError) as exc:
        gated.gated(make_plan(agent(resources={"memory": "16Gi"})))
    msg = str(exc.value)
    assert "agent assistant: health check failed: openclaw health --json exited 3: openclaw gateway crashed" in msg
    assert "agent assistant: policy check failed" in msg
    # The new plan is recorded as applied (the sandbox runs it), the old one as its previous: a rollback returns there.
    records = gated.records.applied()["assistant"]
    assert records["blueprint"]["version"] == "0.1.0" and records["previous"]["agent"]["sandbox"]["memory"] == "8Gi"


def test_no_change_no_gate_and_no_mutating_call(gated):
    # need/skip: a host already in its desired state is skipped by the apply: no write, no gate reading.
    plan = make_plan(agent())
    gated.gated(plan)
    gated.client.health = (3, "", "would fail\n")
    result = gated.gated(plan)
    assert result["changed"] is False and gated.client.mutating == []
    assert "gate" not in result["agents"]["assistant"] and "policy_get" not in gated.client.names()


# --------------------------------------------------------------------------
# need / skip
# --------------------------------------------------------------------------

def test_needs_of_a_host_in_its_desired_state_is_empty():
    assert rollout.needs({"changed": False, "agents": {"a": {"changed": False}}}) == []
    assert rollout.needs(None) == [] and rollout.needs({"skipped": True}) == []


def test_needs_names_every_change_a_host_needs():
    result = {"changed": True, "resumed": [{"agent": "b", "step": "deleted"}],
              "providers": {"nvidia-inference": {"changed": True, "action": "update"}, "other": {"changed": False}},
              "inference": {"changed": True},
              "agents": {"a": {"changed": True, "replace": True, "from": "openclaw 0.1.0", "blueprint": "openclaw 0.2.0"},
                         "c": {"changed": True, "actions": ["start"]}, "d": {"changed": False}}}
    assert rollout.needs(result) == [
        "agent b: finish the replacement left at step deleted",
        "provider nvidia-inference: update",
        "inference route",
        "agent a: replace (openclaw 0.1.0 -> openclaw 0.2.0)",
        "agent c: start",
    ]


def test_needs_of_a_failed_check_is_the_failure():
    assert rollout.needs({"failed": True, "msg": "boom"}) == ["failed: boom"]


# --------------------------------------------------------------------------
# batches
# --------------------------------------------------------------------------

@pytest.mark.parametrize("canary, serial, expected", [
    (1, [1, "10%", "100%"], [1, 1, "10%", "100%"]),
    (2, ["100%"], [2, "100%"]),
    (0, [1, "100%"], [1, "100%"]),
    (1, None, [1, "100%"]),
    (1, [], [1, "100%"]),
])
def test_serial_batches_put_the_canary_hosts_first(canary, serial, expected):
    assert rollout.serial_batches(canary, serial) == expected


@pytest.mark.parametrize("total, serial, sizes", [
    (4, [1, 1, "10%", "100%"], [1, 1, 1, 1]),
    (10, [1, "10%", "100%"], [1, 1, 8]),
    (20, [2, "25%", "100%"], [2, 5, 13]),
    (3, ["50%"], [1, 1, 1]),
    (5, [10], [5]),
    (0, [1], []),
])
def test_batch_sizes_follow_ansibles_serial(total, serial, sizes):
    assert rollout.batch_sizes(total, serial) == sizes


@pytest.mark.parametrize("failed, total, pct, stop", [
    (0, 4, 0, False),
    (1, 4, 0, True),
    (1, 4, 25, False),      # strictly more than the percentage stops
    (2, 4, 25, True),
    (1, 1, 99, True),
    (0, 0, 0, False),
])
def test_batch_failed_as_max_fail_percentage_decides(failed, total, pct, stop):
    assert rollout.batch_failed(failed, total, pct) is stop


# --------------------------------------------------------------------------
# rollback plan
# --------------------------------------------------------------------------

def record(plan_agent_, previous=None):
    out = {"plan_digest": plan_agent_["plan_digest"], "agent": plan_agent_, "blueprint": plan_agent_["blueprint"]}
    if previous:
        out["previous"] = {"plan_digest": previous["plan_digest"], "agent": previous, "blueprint": previous["blueprint"]}
    return out


def test_rollback_plan_returns_to_the_plan_before_the_target():
    old, new = plan_agent(version="0.1.0", digest="old"), plan_agent(version="0.2.0", digest="new")
    plan, notes = rollout.rollback_plan({"assistant": record(new, old)}, {"agents": [new]})
    assert plan["agents"] == [old] and notes == []
    assert plan["inference"] == dict(ROUTE, agents=["assistant"]) and plan["plan_digest"]


def test_rollback_plan_of_a_target_never_recorded_is_the_last_applied():
    # The run failed before it recorded the target: the host still runs the last applied plan.
    old, new = plan_agent(digest="old"), plan_agent(version="0.2.0", digest="new")
    plan, _notes = rollout.rollback_plan({"assistant": record(old)}, {"agents": [new]})
    assert plan["agents"] == [old]


def test_rollback_plan_leaves_agents_without_an_earlier_plan():
    new = plan_agent(digest="new")
    plan, notes = rollout.rollback_plan({"assistant": record(new)}, {"agents": [new, plan_agent("fresh", digest="f")]})
    assert plan["agents"] == []
    assert notes == ["agent assistant: no earlier applied plan recorded; left as it is",
                     "agent fresh: never applied on this host; left as it is"]


def test_rollback_plan_is_deterministic_and_keeps_absent_agents_out_of_the_route():
    old = dict(plan_agent("gone", digest="o"), state="absent")
    new = plan_agent("gone", digest="n")
    records = {"gone": record(new, old)}
    first = rollout.rollback_plan(records, {"agents": [new]})[0]
    second = rollout.rollback_plan(records, {"agents": [new]})[0]
    assert first == second and first["agents"] == [old] and first["inference"] is None


def test_rollback_through_the_applier_returns_the_agent_with_its_files(tmp_path):
    run = Run(tmp_path, GateClient())
    old_plan, new_plan = make_plan(agent(resources={"memory": "8Gi"})), make_plan(agent(resources={"memory": "16Gi"}))
    converged(run, old_plan)
    run.apply(new_plan)
    run.client.homes["assistant"]["work/after.txt"] = b"written after the upgrade\n"
    back, notes = rollout.rollback_plan(run.records.applied(), new_plan)
    assert notes == [] and back["agents"][0]["sandbox"]["memory"] == "8Gi"
    result = run.apply(back)
    assert result["agents"]["assistant"]["replace"] is True and result["agents"]["assistant"]["restored"]["verified"]
    assert run.client.homes["assistant"]["work/after.txt"] == b"written after the upgrade\n"
    assert run.records.applied()["assistant"]["agent"]["sandbox"]["memory"] == "8Gi"


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

UPGRADED = {"changed": True, "seconds": 12.34, "agents": {
    "openclaw": {"changed": True, "replace": True, "from": "openclaw 0.1.0", "blueprint": "openclaw 0.2.0"},
    "hermes": {"changed": False, "blueprint": "hermes 0.1.0"}}}


def test_host_report_statuses():
    assert rollout.host_report("h", UPGRADED, seconds=12.34)["status"] == "upgraded"
    assert rollout.host_report("h", {"agents": {"a": {"changed": False, "blueprint": "x 1"}}})["status"] == "unchanged"
    failed = rollout.host_report("h", {"failed": True, "msg": "agent a: health check failed"})
    assert failed["status"] == "failed" and failed["error"] == "agent a: health check failed"
    assert rollout.host_report("h", {"failed": True, "msg": "x"}, rolled_back={"changed": True})["status"] == "rolled back"
    assert rollout.host_report("h", {"failed": True, "msg": "x"}, rolled_back={"failed": True})["status"] == "rollback failed"


def test_report_lines_per_host_and_agent():
    reports = [rollout.host_report("sim-1", UPGRADED, seconds=12.34),
               rollout.host_report("sim-2", {"failed": True, "msg": "agent openclaw: health check failed"}, {"changed": True}),
               {"host": "sim-3", "status": "not started", "agents": {}}]
    assert rollout.report_lines(reports) == [
        "sim-1: upgraded (12.3 s)",
        "  hermes: hermes 0.1.0",
        "  openclaw: openclaw 0.1.0 -> openclaw 0.2.0 (replaced, state kept)",
        "sim-2: rolled back",
        "  error: agent openclaw: health check failed",
        "sim-3: not started",
    ]


def test_rollout_report_filter_reads_each_hosts_results():
    hostvars = {"a": {"agents_result": UPGRADED}, "b": {"agents_result": {"skipped": True}},
                "c": {"agents_result": {"failed": True, "msg": "m"}, "rollout_rollback": {"changed": True}}}
    reports = filters.rollout_report(hostvars, ["a", "b", "c", "d"])
    assert [(r["host"], r["status"]) for r in reports] == [
        ("a", "upgraded"), ("b", "not started"), ("c", "rolled back"), ("d", "not started")]
    assert reports[0]["seconds"] == 12.3


def test_rollout_serial_filter():
    assert filters.rollout_serial(["sim-1"], [1, "100%"]) == [1, 1, "100%"]
    assert filters.rollout_serial([]) == [1, "10%", "100%"]
    with pytest.raises(AnsibleFilterError):
        filters.rollout_serial("sim-1")


def test_rollout_failure_names_the_host_the_check_and_the_rollback():
    failed = {"msg": "agent openclaw: health check failed: openclaw health --json exited 3: crashed"}
    text = filters.rollout_failure("sim-1", failed, {"changed": True, "rolled_back_to": {"openclaw": "openclaw 0.1.0"}})
    assert text.startswith("sim-1: agent openclaw: health check failed: openclaw health --json exited 3")
    assert "returned to its previous plan (openclaw: openclaw 0.1.0) with its agents' state" in text
    assert "no later batch starts" in text
    nothing = filters.rollout_failure("sim-1", failed, {"changed": False, "rolled_back_to": {}})
    assert "no agent to return to" in nothing
    broke = filters.rollout_failure("sim-1", failed, {"failed": True, "msg": "gateway unreachable"})
    assert "the rollback failed too: gateway unreachable" in broke
    plain = filters.rollout_failure("sim-1", {"msg": "openshell: Checksum mismatch"}, {"skipped": True})
    assert plain.startswith("sim-1: openshell: Checksum mismatch.") and "previous plan" not in plain
