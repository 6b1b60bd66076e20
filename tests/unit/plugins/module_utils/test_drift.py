# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""drift.py: whole-host comparison on a snapshot, and parity with the modules' converge functions.

The parity tests run ``converge.converge_*`` in check mode against a scripted
CLI that answers from the same snapshot ``drift.host_drift`` reads, and
require the same decision and the same finding (via ``finding_from_result``).
"""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare, converge, drift
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import policy as policylib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import Context
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import OpenShellClient

SALT = "00112233445566778899aabbccddeeff"
SECRET = "nvapi-UNIT-secret-value"
POLICY = policylib.normalize_policy({
    "version": 1,
    "filesystem_policy": {"include_workdir": True, "read_only": ["/usr"], "read_write": ["/tmp"]},
    "landlock": {"compatibility": "best_effort"},
    "network_policies": {
        "nvidia": {"endpoints": [{"host": "integrate.api.nvidia.com", "port": 443}], "binaries": [{"path": "/usr/bin/node"}]},
        "npm": {"endpoints": [{"host": "registry.npmjs.org", "port": 443}], "binaries": [{"path": "/usr/bin/npm"}]},
    },
})
PROVENANCE = {"nvidia": {"layer": "baseline", "source": "blueprint:policies/base.yaml", "level": "baseline"},
              "npm": {"layer": "preset:npm", "source": "library:presets/npm.yaml", "level": "tier"}}
SANDBOX_PARAMS = {"name": "openclaw", "image": "ghcr.io/x/openclaw@sha256:" + "a" * 64, "providers": ["nv"],
                  "policy": POLICY, "policy_src": None, "gpu": False, "cpu": None, "memory": None,
                  "labels": {"nemoclaw.blueprint/name": "openclaw"}, "env": {}, "allow_secret_env": False,
                  "approval_mode": None, "state": "running", "recreate": "on_change"}


class _P(object):
    def __init__(self, params):
        self.params = params


SPEC = converge.sandbox_spec(_P(SANDBOX_PARAMS))


def record(credentials, config=None, resource_version=1):
    return {"fingerprints": compare.provider_fingerprints(SALT, "nvidia", credentials, config or {}),
            "resource_version": resource_version, "type": "nvidia"}


def snapshot():
    """A host that is exactly as desired()."""
    return {
        "gateways": [{"name": "openshell", "endpoint": "http://127.0.0.1:17670", "auth": "plaintext", "active": True}],
        "version": "0.0.111",
        "providers": [{"name": "nv", "type": "nvidia", "credential_keys": ["NVIDIA_API_KEY"], "config_keys": [],
                       "resource_version": 1}],
        "provider_records": {"exists": True, "salt": SALT,
                             "providers": {"openshell|default|nv": record({"NVIDIA_API_KEY": SECRET})}},
        "sandbox_details": {"openclaw": {
            "sandbox": {"name": "openclaw", "phase": "Ready", "labels": compare.sandbox_labels(SPEC),
                        "policy": copy.deepcopy(POLICY)},
            "providers": ["nv"],
            "settings": {"settings": {"proposal_approval_mode": {"scope": "unset", "value": "<unset>"}}}}},
        "policies": {"openclaw": {"version": 1, "hash": "x", "policy": copy.deepcopy(POLICY)}},
        "inference": {"user": {"provider": "nv", "model": "nvidia/model", "timeout": 0, "version": 1}, "system": None},
    }


def desired(**changes):
    out = {
        "gateway": {"name": "openshell", "endpoint": "http://127.0.0.1:17670", "local": False, "active": True},
        "connection": {"gateway": "openshell"},
        "providers": [{"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}, "config": {},
                       "update_credentials": "on_change"}],
        "sandbox": {"spec": SPEC, "state": "running", "recreate": "on_change", "policy": POLICY},
        "policy": {"sandbox": "openclaw", "policy": POLICY},
        "provenance": PROVENANCE,
        "inference": {"provider": "nv", "model": "nvidia/model", "timeout_secs": None},
    }
    out.update(changes)
    return out


def only(findings, resource):
    found = [f for f in findings if f["resource"] == resource]
    assert len(found) == 1, findings
    return found[0]


# --------------------------------------------------------------------------
# host_drift on a snapshot
# --------------------------------------------------------------------------

def test_in_sync_host_has_no_findings():
    assert drift.host_drift(snapshot(), desired()) == []


def test_nothing_desired_compares_nothing():
    assert drift.host_drift({}, {}) == []


@pytest.mark.parametrize("mutate, resource, expect", [
    (lambda s: s["gateways"][0].update(endpoint="http://127.0.0.1:9999"), "gateway",
     ["endpoint: http://127.0.0.1:9999 -> http://127.0.0.1:17670"]),
    (lambda s: s["gateways"][0].update(active=False), "gateway", ["active: false -> true"]),
    (lambda s: s.update(gateways=[]), "gateway", ["absent"]),
    (lambda s: s.update(providers=[]), "provider", ["absent"]),
    (lambda s: s["providers"][0].update(resource_version=2), "provider",
     ["changed outside Ansible (resource_version 1 -> 2)"]),
    (lambda s: s["provider_records"]["providers"].update({"openshell|default|nv": record({"NVIDIA_API_KEY": "old"})}),
     "provider", ["credential values changed: NVIDIA_API_KEY"]),
    (lambda s: s.update(provider_records={"exists": False, "salt": None, "providers": {}}), "provider",
     ["no fingerprint recorded for this provider"]),
    (lambda s: s["sandbox_details"]["openclaw"]["sandbox"].update(phase="Stopped"), "sandbox", ["phase Stopped (start)"]),
    (lambda s: s["sandbox_details"]["openclaw"].update(providers=[]), "sandbox", ["provider nv not attached"]),
    (lambda s: s["sandbox_details"]["openclaw"]["sandbox"]["labels"].update({"team": "x"}), "sandbox",
     ["replace: labels changed"]),
    (lambda s: s["inference"].update(user={"provider": "nv", "model": "other", "timeout": 0}), "inference",
     ["model: other -> nvidia/model"]),
    (lambda s: s["inference"].update(user=None), "inference", ["absent"]),
])
def test_one_difference_one_finding(mutate, resource, expect):
    state = snapshot()
    mutate(state)
    findings = drift.host_drift(state, desired())
    assert [f["resource"] for f in findings] == [resource]
    assert findings[0]["differences"] == expect
    assert SECRET not in json.dumps(findings)


def test_sandbox_absent_is_created_and_its_policy_cannot_be_compared():
    state = snapshot()
    state["sandbox_details"] = {}
    state["policies"] = {}
    findings = drift.host_drift(state, desired())
    assert only(findings, "sandbox")["action"] == "create"
    assert "not found" in only(findings, "policy")["error"]


def test_sandbox_stopped_wanted_and_approval_mode():
    sb = dict(desired()["sandbox"], state="stopped")
    assert only(drift.host_drift(snapshot(), desired(sandbox=sb)), "sandbox")["action"] == "stop"
    spec = dict(SPEC, approval_mode="auto")
    state = snapshot()
    state["sandbox_details"]["openclaw"]["sandbox"]["labels"] = compare.sandbox_labels(spec)
    found = only(drift.host_drift(state, desired(sandbox=dict(desired()["sandbox"], spec=spec))), "sandbox")
    assert found["differences"] == ["proposal_approval_mode differs"]


def test_recreate_never_reports_without_replacing():
    state = snapshot()
    state["sandbox_details"]["openclaw"]["sandbox"]["labels"]["team"] = "x"
    found = only(drift.host_drift(state, desired(sandbox=dict(desired()["sandbox"], recreate="never"))), "sandbox")
    assert found["differences"] == ["needs replacing (recreate=never): labels changed"]
    assert found["action"] == "report"


def test_policy_differences_carry_provenance():
    state = snapshot()
    live = copy.deepcopy(POLICY)
    del live["network_policies"]["npm"]
    live["network_policies"]["nvidia"]["endpoints"][0]["port"] = 8443
    live["network_policies"]["evil"] = {"name": "evil", "endpoints": [{"host": "evil.example.com", "port": 443}],
                                        "binaries": [{"path": "/usr/bin/curl"}]}
    state["policies"]["openclaw"]["policy"] = live
    found = only(drift.host_drift(state, desired()), "policy")
    assert found["differences"] == [
        "network_policies.npm missing on the host [preset:npm, library:presets/npm.yaml]",
        "network_policies.evil not in the plan",
        "network_policies.nvidia differs [baseline, blueprint:policies/base.yaml]",
    ]
    assert found["provenance"]["npm"] == dict(PROVENANCE["npm"], change="added")
    assert found["provenance"]["evil"]["change"] == "removed" and found["provenance"]["evil"]["layer"] is None
    assert found["provenance"]["nvidia"]["level"] == "baseline"


def test_static_policy_change_on_a_live_sandbox_is_an_error_finding():
    state = snapshot()
    live = copy.deepcopy(POLICY)
    live["landlock"] = {"compatibility": "hard_requirement"}
    state["policies"]["openclaw"]["policy"] = live
    state["sandbox_details"]["openclaw"]["sandbox"]["policy"] = live
    findings = drift.host_drift(state, desired())
    assert only(findings, "policy")["error"].startswith("static sections differ")
    assert only(findings, "sandbox")["action"] == "replace"


def test_provider_type_conflict_is_an_error_unless_recreate_allowed():
    state = snapshot()
    state["providers"][0]["type"] = "openai"
    found = only(drift.host_drift(state, desired()), "provider")
    assert found["action"] == "type_conflict" and "cannot change a provider's type" in found["error"]
    providers = [dict(desired()["providers"][0], recreate_on_type_change=True)]
    assert "error" not in only(drift.host_drift(state, desired(providers=providers)), "provider")


def test_resources_are_ordered():
    findings = [drift.finding("inference", "x", []), drift.finding("gateway", "g", []), drift.finding("odd", "o", [])]
    assert drift.resources(findings) == ["gateway", "inference", "odd"]


# --------------------------------------------------------------------------
# Findings from check-run results (callback side)
# --------------------------------------------------------------------------

def test_unchanged_results_and_the_scan_marker_give_nothing():
    assert drift.finding_from_result("openshell_policy", {"changed": False}) is None
    assert drift.finding_from_result("nemoclaw_drift", {"changed": True}) is None


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


def test_approval_result():
    result = {"changed": True, "sandbox": "sb", "diff": {"before": {}, "after": {"approved": ["c1"], "rejected": []}}}
    assert drift.finding_from_result("openshell_approval", result)["differences"] == ["approved: c1"]


def test_failure_message_is_one_line():
    assert drift.failure_message({"msg": "a\n  b"}) == "a b"


# --------------------------------------------------------------------------
# Parity: the modules' converge functions in check mode on the same snapshot
# --------------------------------------------------------------------------

class FakeModule(object):
    def __init__(self, params):
        self.params = params
        self.check_mode = True
        self._diff = True

    def warn(self, msg):
        pass


NOT_FOUND = (1, "", "Error:   \u00d7 code: 'Some requested entity was not found', message: \"not found\"\n")


def _inference_text(route):
    if route is None:
        return "Inference:\n  Not configured\n"
    timeout = "%ss" % route["timeout"] if route.get("timeout") else "60s (default)"
    return "Inference:\n  Provider: %s\n  Model: %s\n  Version: 1\n  Timeout: %s\n" % (route["provider"], route["model"], timeout)


def cli_from(state):
    """A scripted ``openshell`` answering read commands from a drift snapshot."""
    def runner(argv, env, data):
        words = [a for a in argv[1:] if not a.startswith("-")]
        if words[:1] == ["openshell"]:  # the --gateway value
            words = words[1:]
        details = state.get("sandbox_details") or {}
        if words[:2] == ["gateway", "list"]:
            return 0, json.dumps(state["gateways"]), ""
        if words[:1] == ["status"]:
            return 0, json.dumps({"status": "connected"}), ""
        if words[:2] == ["provider", "list"]:
            return 0, json.dumps(state["providers"]), ""
        if words[:3] == ["sandbox", "provider", "list"]:
            return 0, "NAME\n" + "".join("%s\n" % n for n in details[words[3]]["providers"]), ""
        if words[:2] == ["sandbox", "get"]:
            obj = (details.get(words[2]) or {}).get("sandbox")
            return (0, json.dumps(obj), "") if obj else NOT_FOUND
        if words[:2] == ["settings", "get"]:
            return 0, json.dumps(details[words[2]]["settings"]), ""
        if words[:2] == ["policy", "get"]:
            got = state["policies"].get(words[2])
            return (0, json.dumps(got), "") if got else NOT_FOUND
        if words[:2] == ["inference", "get"]:
            return 0, _inference_text(state["inference"]["user"]), ""
        raise AssertionError("unexpected call %s" % argv)
    return runner


def run_module(fn, params, state):
    ctx = Context(FakeModule(params), OpenShellClient(cli_from(state), sleep=lambda s: None))
    return fn(ctx)


STATES = {
    "in_sync": lambda s: None,
    "stopped": lambda s: s["sandbox_details"]["openclaw"]["sandbox"].update(phase="Stopped"),
    "labels": lambda s: s["sandbox_details"]["openclaw"]["sandbox"]["labels"].update({"team": "x"}),
    "detached": lambda s: s["sandbox_details"]["openclaw"].update(providers=["nv", "gh"]),
    "extra_key": lambda s: s["policies"]["openclaw"]["policy"]["network_policies"].update(
        {"evil": {"name": "evil", "endpoints": [{"host": "e.com", "port": 443}], "binaries": [{"path": "/bin/sh"}]}}),
    "model": lambda s: s["inference"].update(user={"provider": "nv", "model": "other", "timeout": 30}),
    "no_route": lambda s: s["inference"].update(user=None),
    "gateway": lambda s: s["gateways"][0].update(endpoint="http://127.0.0.1:1", active=False),
    "inactive": lambda s: s["gateways"][0].update(active=False),
    "rotated": lambda s: s["providers"][0].update(resource_version=5),
}


@pytest.mark.parametrize("name", sorted(STATES))
def test_parity_with_converge_in_check_mode(name, tmp_path):
    state = snapshot()
    STATES[name](state)
    state_file = tmp_path / "providers.json"
    state_file.write_text(json.dumps({"salt": SALT, "providers": state["provider_records"]["providers"]}))
    scan = dict((f["resource"], f) for f in drift.host_drift(state, desired()))

    results = {
        "gateway": ("openshell_gateway", run_module(converge.converge_gateway, {
            "name": "openshell", "endpoint": "http://127.0.0.1:17670", "local": False, "active": True,
            "state": "present", "wait": False, "wait_timeout": 5}, state)),
        "provider": ("openshell_provider", run_module(converge.converge_provider, {
            "name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}, "config": None,
            "update_credentials": "on_change", "recreate_on_type_change": False, "state_file": str(state_file),
            "state": "present"}, dict(state, gateway_name="openshell"))),
        "sandbox": ("openshell_sandbox", run_module(converge.converge_sandbox, dict(SANDBOX_PARAMS, wait=True,
                                                                                    wait_timeout=5), state)),
        "policy": ("openshell_policy", run_module(converge.converge_policy, {
            "sandbox": "openclaw", "policy": POLICY, "src": None, "global": False, "wait": False,
            "wait_timeout": 5}, state)),
        "inference": ("openshell_inference", run_module(converge.converge_inference, {
            "provider": "nv", "model": "nvidia/model", "timeout_secs": None, "system": False, "state": "present",
            "verify": True}, state)),
    }
    for resource, (module, result) in results.items():
        if resource == "provider":
            continue  # the module keys its record by the client's gateway; compared below
        from_check = drift.finding_from_result(module, result, provenance=PROVENANCE)
        if from_check is None:
            assert resource not in scan, (resource, scan[resource])
            continue
        assert resource in scan, (resource, from_check)
        assert scan[resource]["differences"] == from_check["differences"], resource
        assert scan[resource].get("provenance") == from_check.get("provenance"), resource


@pytest.mark.parametrize("name", sorted(STATES) + ["static"])
def test_snapshot_without_policies_subset_reads_the_policy_from_sandbox_get(name):
    """drift.yml reads no `policy get`: `sandbox get` carries the same effective policy; same findings."""
    state = snapshot()
    if name == "static":
        live = copy.deepcopy(POLICY)
        live["landlock"] = {"compatibility": "hard_requirement"}
        state["policies"]["openclaw"]["policy"] = live
    else:
        STATES[name](state)
    # What the real CLI returns: sandbox get's policy is the effective one (not normalised by the module).
    state["sandbox_details"]["openclaw"]["sandbox"]["policy"] = copy.deepcopy(state["policies"]["openclaw"]["policy"])
    expected = drift.host_drift(state, desired())
    del state["policies"]
    assert drift.host_drift(state, desired()) == expected
    if name in ("extra_key", "static"):
        assert only(expected, "policy")


@pytest.mark.parametrize("name", ["in_sync", "rotated"])
def test_provider_parity(name, tmp_path):
    state = snapshot()
    STATES[name](state)
    state_file = tmp_path / "providers.json"
    state_file.write_text(json.dumps({"salt": SALT, "providers": state["provider_records"]["providers"]}))
    params = {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}, "config": None,
              "update_credentials": "on_change", "recreate_on_type_change": False, "state_file": str(state_file),
              "state": "present", "gateway": "openshell", "gateway_endpoint": None, "workspace": None}
    client = OpenShellClient(cli_from(state), gateway="openshell", sleep=lambda s: None)
    result = converge.converge_provider(Context(FakeModule(params), client))
    scan = [f for f in drift.host_drift(state, desired()) if f["resource"] == "provider"]
    assert bool(result["changed"]) == bool(scan)
    if scan:
        assert drift.finding_from_result("openshell_provider", result)["differences"] == scan[0]["differences"]


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
