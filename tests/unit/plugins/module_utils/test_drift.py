# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""drift.py: the finding shape, findings from check-run task results (the drift_report callback's
side), policy differences with provenance, and the summaries of a list of findings."""

from __future__ import annotations

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import drift

PROVENANCE = {"nvidia": {"layer": "baseline", "source": "blueprint:policies/base.yaml", "level": "baseline"},
              "npm": {"layer": "preset:npm", "source": "library:presets/npm.yaml", "level": "tier"}}


def test_finding_shape():
    assert drift.finding("sandbox", "a", ("x",), "replace") == {"resource": "sandbox", "name": "a", "differences": ["x"],
                                                                "action": "replace"}
    found = drift.finding("policy", "a", [], provenance={"k": {}}, error="boom")
    assert found["provenance"] == {"k": {}} and found["error"] == "boom"


def test_resources_are_ordered():
    findings = [drift.finding("inference", "x", []), drift.finding("gateway", "g", []), drift.finding("odd", "o", [])]
    assert drift.resources(findings) == ["gateway", "inference", "odd"]


def test_policy_differences_carry_provenance():
    diff = {"network_policies": {"added": ["npm"], "removed": ["evil"], "changed": ["nvidia", "unknown"]},
            "static_changed": ["landlock"]}
    diffs, prov = drift.policy_differences(diff, PROVENANCE)
    assert diffs == [
        "network_policies.npm missing on the host [preset:npm, library:presets/npm.yaml]",
        "network_policies.evil not in the plan",
        "network_policies.nvidia differs [baseline, blueprint:policies/base.yaml]",
        "network_policies.unknown differs",
        "landlock differs (static: fixed at creation)",
    ]
    assert prov["npm"] == dict(PROVENANCE["npm"], change="added")
    assert prov["evil"]["change"] == "removed" and prov["evil"]["layer"] is None
    assert prov["unknown"]["note"] == "no provenance known"
    assert drift.policy_differences(None) == ([], {})


def test_policy_differences_flag_rules_without_binaries():
    prov = {"nim_service": {"layer": "agent:additions", "source": "blueprint:blueprint.yaml#components.policy.additions",
                            "level": "agent", "any_binary": True}}
    diffs, out = drift.policy_differences({"network_policies": {"added": ["nim_service"]}}, prov)
    assert diffs == ["network_policies.nim_service missing on the host "
                     "[agent:additions, blueprint:blueprint.yaml#components.policy.additions] (any binary)"]
    assert out["nim_service"]["any_binary"] is True


# --------------------------------------------------------------------------
# Findings from check-run results (callback side)
# --------------------------------------------------------------------------

def test_unchanged_results_give_nothing():
    assert drift.finding_from_result("openshell_policy", {"changed": False}) is None
    assert drift.finding_from_result("nemoclaw_apply", {"changed": False}) is None


def test_censored_file_and_other_results():
    found = drift.finding_from_result("openshell_provider", {"changed": True, "censored": "hidden"}, "Providers")
    assert found["resource"] == "provider" and found["differences"] == [drift.HIDDEN]
    found = drift.finding_from_result("template", {"changed": True, "dest": "/etc/x.toml"}, "Write x")
    assert (found["resource"], found["name"]) == ("files", "/etc/x.toml")
    assert drift.finding_from_result("debug", {"changed": True}, "Would start")["resource"] == "other"


def test_needs_recreate_is_drift_even_when_unchanged():
    result = {"changed": False, "name": "sb", "actions": [], "needs_recreate": True, "recreate_reasons": ["labels changed"]}
    assert drift.finding_from_result("openshell_sandbox", result)["differences"] == \
        ["needs replacing (recreate=never): labels changed"]


def test_sandbox_results():
    created = drift.finding_from_result("openshell_sandbox", {"changed": True, "name": "sb", "actions": ["create"]})
    assert (created["differences"], created["action"]) == (["absent"], "create")
    replaced = drift.finding_from_result("openshell_sandbox", {
        "changed": True, "name": "sb", "actions": ["delete", "create", "stop"], "recreate_reasons": ["labels changed"]})
    assert (replaced["differences"], replaced["action"]) == (["replace: labels changed"], "replace")
    started = drift.finding_from_result("openshell_sandbox", {
        "changed": True, "name": "sb", "actions": ["attach:nv", "detach:gh", "start", "approval_mode"],
        "diff": {"before": {"phase": "Stopped"}, "after": {}}})
    assert started["differences"] == ["provider nv not attached", "provider gh attached, not in the plan",
                                      "phase Stopped (start)", "proposal_approval_mode differs"]


def test_policy_gateway_and_inference_results():
    pol = drift.finding_from_result("openshell_policy", {
        "changed": True, "sandbox": "sb", "policy_diff": {"network_policies": {"added": ["npm"]}}}, provenance=PROVENANCE)
    assert pol["differences"] == ["network_policies.npm missing on the host [preset:npm, library:presets/npm.yaml]"]
    assert pol["provenance"]["npm"]["layer"] == "preset:npm"
    gw = drift.finding_from_result("openshell_gateway", {
        "changed": True, "name": "openshell", "differences": ["endpoint"],
        "diff": {"before": {"endpoint": "http://a"}, "after": {"endpoint": "http://b"}}})
    assert gw["differences"] == ["endpoint: http://a -> http://b"]
    inf = drift.finding_from_result("openshell_inference", {
        "changed": True, "differences": ["model"], "diff": {"before": {"model": "m1"}, "after": {"model": "m2"}}})
    assert (inf["name"], inf["differences"]) == ("inference.local", ["model: m1 -> m2"])


def test_approval_result():
    result = {"changed": True, "sandbox": "sb", "diff": {"before": {}, "after": {"approved": ["c1"], "rejected": []}}}
    assert drift.finding_from_result("openshell_approval", result)["differences"] == ["approved: c1"]


def test_failure_message_is_one_line():
    assert drift.failure_message({"msg": "a\n  b"}) == "a b"


def test_names_by_resource_lists_every_kind_and_each_name_once():
    findings = [drift.finding("provider", "nvidia", ["a"]), drift.finding("provider", "nvidia", ["b"]),
                drift.finding("policy", "openclaw", ["c"]), drift.finding("provider", "github", ["d"])]
    names = drift.names_by_resource(findings)
    assert names["provider"] == ["nvidia", "github"] and names["policy"] == ["openclaw"]
    assert set(names) == set(drift.RESOURCES) and names["sandbox"] == [] and names["inference"] == []
    assert drift.names_by_resource([]) == dict((kind, []) for kind in drift.RESOURCES)


def test_files_result_names_each_path_and_action():
    result = {"changed": True, "directories": [{"path": "/c", "mode": "0700", "action": "none"}],
              "files": [{"path": "/c/gateway.toml", "state": "present", "action": "update"},
                        {"path": "/c/gateway.env", "state": "absent", "action": "remove"}]}
    f = drift.finding_from_result("nemoclaw_files", result, task_name="Configure the gateway")
    assert f["resource"] == "files" and f["name"] == "/c/gateway.toml, /c/gateway.env"
    assert f["differences"] == ["/c/gateway.toml: update", "/c/gateway.env: remove"]
    assert drift.finding_from_result("nemoclaw_files", dict(result, changed=False)) is None
