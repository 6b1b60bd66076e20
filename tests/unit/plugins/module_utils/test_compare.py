# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Desired vs current comparisons (pure)."""

from __future__ import annotations

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare as c


def test_secret_detection():
    assert c.looks_secret("NVIDIA_API_KEY", "x")
    assert c.looks_secret("HARMLESS", "nvapi-abcdefghijkl")
    assert not c.looks_secret("LOG_LEVEL", "debug")


def test_gateway_differences():
    entry = {"name": "openshell", "endpoint": "http://127.0.0.1:17670/", "auth": "plaintext"}
    assert c.gateway_differences(entry, "http://127.0.0.1:17670", False) == []
    assert c.gateway_differences(entry, "http://127.0.0.1:17671", False) == ["endpoint"]
    assert c.gateway_differences(dict(entry, endpoint="https://127.0.0.1:17670", auth="mtls"),
                                 "https://127.0.0.1:17670", True) == []
    assert c.gateway_differences(entry, "127.0.0.1:17670", True) == ["endpoint", "auth"]
    assert c.gateway_differences(None, "http://x", False) == ["absent"]


FP = c.provider_fingerprints("salt", "nvidia", {"K": "v1", "L": "w"}, {"A": "1"})


def desired(keys=("K", "L"), config=None):
    return {"name": "p", "type": "nvidia", "credential_keys": sorted(keys), "config": config or {"A": "1"}}


def current(keys=("K", "L"), rv=2, ptype="nvidia"):
    return {"name": "p", "type": ptype, "credential_keys": sorted(keys), "config_keys": ["A"], "resource_version": rv}


def test_fingerprints_hide_values_and_change_with_them():
    again = c.provider_fingerprints("salt", "nvidia", {"K": "v1", "L": "w"}, {"A": "1"})
    assert again == FP
    assert "v1" not in str(FP)
    other_salt = c.provider_fingerprints("pepper", "nvidia", {"K": "v1", "L": "w"}, {"A": "1"})
    assert other_salt["credentials"]["K"] != FP["credentials"]["K"]
    changed = c.provider_fingerprints("salt", "nvidia", {"K": "v2", "L": "w"}, {"A": "1"})
    assert changed["credentials"]["K"] != FP["credentials"]["K"]
    assert changed["credentials"]["L"] == FP["credentials"]["L"]


def test_provider_plan_noop_when_fingerprints_and_version_match():
    plan = c.provider_plan(current(), desired(), {"fingerprints": FP, "resource_version": 2}, FP, "on_change")
    assert plan["action"] == "none" and not plan["write"]


def test_provider_plan_detects_one_changed_value():
    new = c.provider_fingerprints("salt", "nvidia", {"K": "v2", "L": "w"}, {"A": "1"})
    plan = c.provider_plan(current(), desired(), {"fingerprints": FP, "resource_version": 2}, new, "on_change")
    assert plan["action"] == "update" and plan["changed_keys"] == ["K"]
    assert "credential values changed: K" in plan["reasons"]


def test_provider_plan_detects_change_behind_our_back():
    plan = c.provider_plan(current(rv=5), desired(), {"fingerprints": FP, "resource_version": 2}, FP, "on_change")
    assert plan["write"] and any("outside Ansible" in r for r in plan["reasons"])
    assert plan["changed_keys"] == ["K", "L"]


def test_provider_plan_key_removal_and_addition():
    fp = c.provider_fingerprints("salt", "nvidia", {"K": "v1", "M": "z"}, {"A": "1"})
    plan = c.provider_plan(current(), desired(("K", "M")), {"fingerprints": FP, "resource_version": 2}, fp, "on_change")
    assert plan["removed_keys"] == ["L"] and "M" in plan["changed_keys"]


def test_provider_plan_modes():
    assert c.provider_plan(None, desired(), None, FP, "on_change")["action"] == "create"
    assert c.provider_plan(current(ptype="openai"), desired(), None, FP, "on_change")["action"] == "type_conflict"
    assert c.provider_plan(current(), desired(), None, FP, "on_create")["action"] == "none"
    assert c.provider_plan(current(), desired(), None, FP, "on_change")["reasons"] == ["no fingerprint recorded for this provider"]
    always = c.provider_plan(current(), desired(), {"fingerprints": FP, "resource_version": 2}, FP, "always")
    assert always["action"] == "update" and always["changed_keys"] == ["K", "L"]
    cfg = c.provider_fingerprints("salt", "nvidia", {"K": "v1", "L": "w"}, {"A": "2"})
    assert c.provider_plan(current(), desired(config={"A": "2"}), {"fingerprints": FP, "resource_version": 2},
                           cfg, "on_change")["reasons"] == ["config changed"]


SPEC = {"name": "sb", "image": "img", "gpu": False, "cpu": None, "memory": None, "env": {}, "labels": {"team": "a"}}


def test_sandbox_labels_and_recreate_reasons():
    labels = c.sandbox_labels(SPEC)
    assert labels["team"] == "a" and labels[c.LABEL_MANAGED] == "true"
    live = {"name": "sb", "phase": "Ready", "labels": labels}
    assert c.sandbox_recreate_reasons(live, SPEC) == []
    assert any("image" in r for r in c.sandbox_recreate_reasons(live, dict(SPEC, image="img2")))
    assert c.sandbox_recreate_reasons(live, dict(SPEC, labels={"team": "b"})) == ["labels changed"]
    assert "spec unknown" in c.sandbox_recreate_reasons({"labels": {"team": "a"}}, SPEC)[0]
    assert c.sandbox_recreate_reasons(live, SPEC, ["landlock differs"]) == ["static policy: landlock differs"]
    assert "phase Error" in c.sandbox_recreate_reasons(dict(live, phase="Error"), SPEC)[-1]


@pytest.mark.parametrize("phase,state,action", [
    ("Stopped", "running", "start"), ("Ready", "running", None), ("Ready", "stopped", "stop"),
    ("Stopped", "stopped", None), ("Stopped", "present", None), ("Ready", "present", None),
    # OpenShell 0.1.x: a retained sandbox whose main process exited 0; start accepts it, stop does not
    ("Completed", "running", "start"), ("Completed", "stopped", None), ("Completed", "present", None),
])
def test_phase_actions(phase, state, action):
    assert c.phase_action(phase, state) == action


def test_main_process_phases_of_openshell_0_1():
    labels = c.sandbox_labels(SPEC)
    completed = {"name": "sb", "phase": "Completed", "labels": labels, "exit_code": 0}
    failed = {"name": "sb", "phase": "Error", "labels": labels, "exit_code": 3}
    infra = {"name": "sb", "phase": "Error", "labels": labels}  # 0.0.x, or an error without a main-process result
    assert c.main_process_exit(completed) == 0 and c.main_process_exit(infra) is None
    assert c.main_process_exit({"exit_code": True}) is None and c.main_process_exit(None) is None
    assert c.main_process_failed(failed) and not c.main_process_failed(infra) and not c.main_process_failed(completed)
    assert not c.main_process_failed({"phase": "Error", "exit_code": 0})
    assert c.phase_text(failed) == "Error (MainProcessFailed: main process exited 3)"
    assert c.phase_text(completed) == "Completed (main process exited 0)"
    assert c.phase_text({"phase": "Completed"}) == "Completed (main process exited 0)"
    assert c.phase_text(infra) == "Error" and c.phase_text({"phase": "Ready"}) == "Ready"
    # a Completed sandbox of a running agent is started again, not replaced
    plan = c.sandbox_actions(completed, SPEC, "running", "on_change")
    assert plan == {"actions": ["start"], "recreate_reasons": [], "needs_recreate": False}
    assert c.sandbox_actions(completed, SPEC, "stopped", "on_change")["actions"] == []
    # a failed main process is replaced like any Error, and the reason says what happened
    plan = c.sandbox_actions(failed, SPEC, "running", "on_change")
    assert plan["actions"] == ["delete", "create"]
    assert plan["recreate_reasons"] == ["sandbox is in phase Error (MainProcessFailed: main process exited 3)"]
    assert c.sandbox_actions(failed, SPEC, "running", "never")["needs_recreate"] is True
    assert c.sandbox_recreate_reasons(infra, SPEC) == ["sandbox is in phase Error"]


def test_provider_attachment_changes():
    assert c.provider_attachment_changes(["a", "b"], ["b", "c"]) == (["c"], ["a"])


def test_inference_differences():
    route = {"provider": "nv", "model": "m", "timeout": 0}
    assert c.inference_differences(route, "nv", "m", None) == []
    assert c.inference_differences(route, "nv", "m2", 30) == ["model", "timeout"]
    assert c.inference_differences(None, "nv", "m", None) == ["absent"]


CHUNKS = [
    {"id": "c1", "status": "pending", "rule": "allow_api_github_com_443", "binary": "/usr/bin/git",
     "endpoints": [{"host": "api.github.com", "port": 443}], "security": ""},
    {"id": "c2", "status": "pending", "rule": "allow_evil_22", "binary": "/usr/bin/ssh",
     "endpoints": [{"host": "evil.example", "port": 22}], "security": "raw tcp"},
    {"id": "c3", "status": "pending", "rule": "allow_pypi_org_443", "binary": "/usr/bin/pip",
     "endpoints": [{"host": "pypi.org", "port": 443}], "security": ""},
    {"id": "c4", "status": "approved", "rule": "x", "endpoints": []},
]


def ids(pairs):
    return [chunk["id"] for chunk, _reason in pairs]


def test_matchers():
    assert c.matcher_matches({"host": "*.github.com", "port": 443}, CHUNKS[0])
    assert not c.matcher_matches({"host": "*.github.com", "port": 22}, CHUNKS[0])
    assert c.matcher_matches({"binary": "/usr/bin/g*"}, CHUNKS[0])
    assert c.matcher_matches({"rule": "allow_pypi*"}, CHUNKS[2])
    assert not c.matcher_matches({"id": "c9"}, CHUNKS[0])


def test_approval_decisions():
    d = c.approval_decisions(CHUNKS, approve=[{"host": "*.github.com"}], reject=[{"port": 22}])
    assert ids(d["approve"]) == ["c1"] and ids(d["reject"]) == ["c2"] and ids(d["leave"]) == ["c3"]
    d = c.approval_decisions(CHUNKS, approve_all=True)
    assert ids(d["approve"]) == ["c1", "c3"] and ids(d["leave"]) == ["c2"]
    d = c.approval_decisions(CHUNKS, approve_all=True, include_security_flagged=True)
    assert ids(d["approve"]) == ["c1", "c2", "c3"]
    d = c.approval_decisions(CHUNKS, approve=[{"host": "pypi.org"}], reject_unmatched=True)
    assert ids(d["approve"]) == ["c3"] and ids(d["reject"]) == ["c1", "c2"]
    d = c.approval_decisions(CHUNKS, approve=[{"binary": "/usr/bin/ssh"}], reject_unmatched=True)
    assert ids(d["reject"]) == ["c1", "c2", "c3"]


@pytest.mark.parametrize("current_doc, desired_doc", [
    (None, {"network_policies": {"a": {"endpoints": [{"host": "api.example.com", "port": 443}]}}}),
    ({"version": 1, "filesystem_policy": {"read_only": ["/usr/", "/usr"]}, "landlock": {},
      "network_policies": {"a": {"endpoints": [{"host": "x.example", "ports": [443]}], "binaries": [{"path": "/b", "x": 1}]}}},
     {"filesystem_policy": {"read_only": ["/usr"], "include_workdir": True},
      "network_policies": {"b": {"endpoints": [{"host": "y.example", "port": 80}]}}}),
    ({"version": 1, "process": {"run_as_user": "sandbox"}}, {"process": {"run_as_user": "root"}}),
])
def test_sandbox_policy_plan_of_canonical_documents_is_the_same(current_doc, desired_doc):
    """The apply passes documents it has normalised already: the plan must not differ from the raw documents' plan."""
    pol = c.policylib()
    raw = c.sandbox_policy_plan(current_doc, desired_doc)
    canon = c.sandbox_policy_plan(pol.normalize_policy(current_doc or {"version": 1}), pol.normalize_policy(desired_doc),
                                  canonical=True)
    assert canon == raw
