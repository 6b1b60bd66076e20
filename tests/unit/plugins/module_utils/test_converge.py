# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Converge functions with a scripted CLI: races and answers the simulator cannot stage on demand."""

from __future__ import annotations

import json

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare, converge
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import Context, InputError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import AlreadyExists, OpenShellClient

NOT_FOUND = (1, "", "Error:   \u00d7 code: 'Some requested entity was not found', message: \"sandbox not found\"\n")
EXISTS = (1, "", "Error:   \u00d7 code: 'Some entity that we attempted to create already exists', "
                 "message: \"sandbox 'sb1' already exists\"\n\nhint: delete it first with: openshell sandbox delete sb1\n")


class FakeModule(object):
    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)


def make(params, *answers, **kw):
    answers = list(answers)
    seen = []

    def runner(argv, env, data):
        seen.append(argv)
        return answers.pop(0)
    module = FakeModule(params, **kw)
    ctx = Context(module, OpenShellClient(runner, sleep=lambda s: None))
    return ctx, seen


SANDBOX = {"name": "sb1", "image": None, "providers": None, "policy": None, "policy_src": None, "gpu": False,
           "cpu": None, "memory": None, "labels": {}, "env": {}, "allow_secret_env": False, "approval_mode": None,
           "state": "running", "recreate": "on_change", "wait": True, "wait_timeout": 5}


def test_an_openshell_version_no_contract_covers_is_refused_before_any_change():
    for version in ("0.0.110", "0.1.6"):
        ctx, seen = make(SANDBOX, NOT_FOUND, (0, "openshell %s\n" % version, ""))
        with pytest.raises(InputError) as exc:
            converge.converge_sandbox(ctx)
        assert str(exc.value) == ("openshell_version: OpenShell %s is not supported: this collection drives OpenShell "
                                  "0.0.111 to 0.0.116, 0.1.5" % version)
        assert [a[1:3] for a in seen] == [["sandbox", "get"], ["--version"]]


def test_sandbox_created_behind_our_back_between_read_and_create():
    ctx, seen = make(SANDBOX, NOT_FOUND, (0, "openshell 0.0.111\n", ""), EXISTS)
    with pytest.raises(AlreadyExists) as exc:
        converge.converge_sandbox(ctx)
    assert "already exists" in str(exc.value)
    assert [a[1:3] for a in seen] == [["sandbox", "get"], ["--version"], ["sandbox", "create"]]


def test_sandbox_found_provisioning_is_waited_for():
    spec = converge.sandbox_spec(make(SANDBOX)[0])
    labels = compare.sandbox_labels(spec)
    prov = (0, json.dumps({"name": "sb1", "phase": "Provisioning", "labels": labels}), "")
    ready = (0, json.dumps({"name": "sb1", "phase": "Ready", "labels": labels}), "")
    ctx, seen = make(dict(SANDBOX, state="present"), prov, prov, ready)
    result = converge.converge_sandbox(ctx)
    assert result["changed"] is False and result["sandbox"]["phase"] == "Ready"
    assert len(seen) == 3


def test_provider_check_mode_writes_no_state_file(tmp_path):
    params = {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": "v"}, "config": None,
              "update_credentials": "on_change", "recreate_on_type_change": False,
              "state_file": str(tmp_path / "state" / "providers.json"), "state": "present"}
    ctx, seen = make(params, (0, "[]", ""), check_mode=True)
    result = converge.converge_provider(ctx)
    assert result["changed"] and result["action"] == "create"
    assert len(seen) == 1 and not (tmp_path / "state").exists()


# ------------------------------------------------------------------ approval batches with failing chunks

RULES_3 = "Network Rules:  (version 3, 3 chunks)\n\n" + "".join(
    "  Chunk: c-%d\n  Status: pending\n  Rule: allow_h%d_example_443\n  Confidence: 90%%\n  Rationale: r\n"
    "  Endpoints: h%d.example:443 [L4]\n\n" % (n, n, n) for n in (1, 2, 3))
APPROVED = (0, "OK Chunk approved. Policy version: 2, hash: 0123456789ab\n", "")
PRECONDITION = "Error:   \u00d7 code: 'The system is not in a state required for the operation's execution', message: "
NOT_APPLICABLE = (1, "", PRECONDITION + "\"proposal is not applicable: provider 'github' not found\"\n")
TOKEN = (1, "", "Error:   \u00d7 code: 'The operation was aborted', message: \"review token does not match the fetched "
                "proposal; refetch and review again\"\n")
UNREACHABLE = (1, "", "Error:   \u00d7 transport error\n  \u251c\u2500\u25b6 tcp connect error\n"
                      "  \u2570\u2500\u25b6 Connection refused (os error 111)\n")


def approval_params(tmp_path, **kw):
    params = {"sandbox": "sb1", "approve": [], "reject": [], "approve_ids": [], "reject_ids": [], "approve_all": True,
              "include_security_flagged": False, "reject_unmatched": False, "reason": None, "sla_seconds": 0,
              "state_file": str(tmp_path / "approvals.json")}
    params.update(kw)
    return params


def test_approval_batch_goes_on_after_a_failed_chunk_and_fails_naming_it(tmp_path):
    ctx, seen = make(approval_params(tmp_path), (0, RULES_3, ""), APPROVED, NOT_APPLICABLE, APPROVED)
    with pytest.raises(converge.ChunksFailed) as exc:
        converge.converge_approval(ctx)
    assert [a[3:] for a in seen[1:]] == [["sb1", "--chunk-id", "c-%d" % n] for n in (1, 2, 3)]
    msg = str(exc.value)
    assert msg.startswith("1 of 3 chunk decision(s) failed (2 approved, 0 rejected): approve c-2 "
                          "(rule allow_h2_example_443): [proposal_not_applicable] ")
    assert "proposal is not applicable: provider 'github' not found" in msg
    result = exc.value.to_result()
    assert result["error_kind"] == "chunks_failed" and result["changed"] is True
    assert [c["id"] for c in result["approved"]] == ["c-1", "c-3"]
    failure = result["failures"][0]
    assert (failure["id"], failure["rule"], failure["action"], failure["error_kind"], failure["rc"]) == \
        ("c-2", "allow_h2_example_443", "approve", "proposal_not_applicable", 1)
    assert result["diff"]["after"] == {"pending": ["c-2"], "approved": ["c-1", "c-3"], "rejected": []}
    # the failed chunk is still pending: its first-seen time is kept
    state = json.loads((tmp_path / "approvals.json").read_text())
    assert [list(v) for v in state["approvals"].values()] == [["c-2"]]


def test_rejections_and_approvals_each_report_their_failure(tmp_path):
    ctx, _seen = make(approval_params(tmp_path, approve_all=False, approve_ids=["c-1", "c-3"], reject_ids=["c-2"]),
                      (0, RULES_3, ""), NOT_FOUND, TOKEN, APPROVED)
    with pytest.raises(converge.ChunksFailed) as exc:
        converge.converge_approval(ctx)
    result = exc.value.to_result()
    assert [(f["id"], f["action"], f["error_kind"]) for f in result["failures"]] == [
        ("c-2", "reject", "not_found"), ("c-1", "approve", "proposal_changed")]
    assert [c["id"] for c in result["approved"]] == ["c-3"] and result["rejected"] == []
    assert "2 of 3 chunk decision(s) failed (1 approved, 0 rejected)" in str(exc.value)


def test_a_gateway_that_stops_answering_stops_the_batch(tmp_path):
    ctx, seen = make(approval_params(tmp_path), (0, RULES_3, ""), TOKEN, UNREACHABLE)
    with pytest.raises(converge.GatewayUnreachable):
        converge.converge_approval(ctx)
    assert len(seen) == 3  # c-3 is not tried


def test_approval_without_failures_reports_none(tmp_path):
    ctx, _seen = make(approval_params(tmp_path), (0, RULES_3, ""), APPROVED, APPROVED, APPROVED)
    result = converge.converge_approval(ctx)
    assert result["failures"] == [] and len(result["approved"]) == 3 and result["changed"]
    check, seen = make(approval_params(tmp_path), (0, RULES_3, ""), check_mode=True)
    assert converge.converge_approval(check)["failures"] == [] and len(seen) == 1


def test_wait_ready_stops_at_completed_and_names_the_main_process():
    # OpenShell 0.1.x: a main process that exited 0 leaves the sandbox Completed; waiting on stops there.
    completed = (0, json.dumps({"name": "sb1", "phase": "Completed", "exit_code": 0}), "")
    ctx, seen = make({"wait_timeout": 30}, completed)
    with pytest.raises(Exception) as info:
        converge._wait_ready(ctx, "sb1")
    assert "phase: Completed (main process exited 0)" in str(info.value) and len(seen) == 1
    failed = (0, json.dumps({"name": "sb1", "phase": "Error", "exit_code": 2}), "")
    ctx, seen = make({"wait_timeout": 30}, failed)
    with pytest.raises(Exception) as info:
        converge._wait_ready(ctx, "sb1")
    assert "phase: Error (MainProcessFailed: main process exited 2)" in str(info.value)
