# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The openshell_* modules in-process against the simulator (complements tests/integration)."""

from __future__ import annotations

from ansible_collections.agentfleet.nemoclaw.plugins.modules import (
    openshell_approval,
    openshell_exec,
    openshell_gateway,
    openshell_inference,
    openshell_info,
    openshell_policy,
    openshell_provider,
    openshell_sandbox,
)

SECRET = "nvapi-UNIT-CANARY-11aa22bb"
READ_ONLY = ("status", "gateway list", "provider list", "sandbox get", "sandbox list", "sandbox provider list",
             "policy get", "rule get", "inference get", "settings get", "--version")


def mutating(result):
    return [c for c in result["_sim_calls"] if not any(" ".join(c["argv"]).startswith(p) for p in READ_ONLY)]


POLICY = {"version": 1,
          "filesystem_policy": {"include_workdir": True, "read_only": ["/usr"], "read_write": ["/sandbox", "/tmp"]},
          "landlock": {"compatibility": "best_effort"},
          "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
          "network_policies": {"pypi": {"endpoints": [{"host": "pypi.org", "port": 443, "access": "read-only"}],
                                        "binaries": [{"path": "/usr/bin/pip"}]}}}


def test_provider_lifecycle(run_module, sim):
    args = {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}}
    res = run_module(openshell_provider, args, check=True)
    assert res["changed"] and mutating(res) == []
    res = run_module(openshell_provider, args)
    assert res["changed"] and res["provider"]["credential_keys"] == ["NVIDIA_API_KEY"]
    assert SECRET not in str(res)
    res = run_module(openshell_provider, args)
    assert not res["changed"] and mutating(res) == []
    res = run_module(openshell_provider, dict(args, credentials={"NVIDIA_API_KEY": SECRET + "x"}))
    assert res["diff"]["after"]["credentials"] == {"NVIDIA_API_KEY": "<changed>"}
    res = run_module(openshell_provider, dict(args, type="openai"))
    assert res["failed"] and res["field"] == "type"
    res = run_module(openshell_provider, dict(args, type="openai", recreate_on_type_change=True,
                                              credentials={"OPENAI_API_KEY": SECRET}))
    assert res["action"] == "type_conflict" and res["changed"]
    res = run_module(openshell_provider, {"name": "nv", "state": "absent"}, check=True)
    assert res["changed"] and mutating(res) == []
    res = run_module(openshell_provider, {"name": "nv", "state": "absent"})
    assert res["changed"]
    res = run_module(openshell_provider, {"name": "bad name", "type": "x", "credentials": {"K": "v"}})
    assert res["failed"] and res["field"] == "name" and res["_sim_calls"] == []


def test_sandbox_policy_inference_approval_info(run_module, sim):
    run_module(openshell_provider, {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}})
    sb = {"name": "sb1", "image": "img@sha256:" + "3" * 64, "providers": ["nv"], "policy": POLICY, "gpu": "2",
          "cpu": "2", "memory": "4Gi", "labels": {"team": "a"}, "env": {"MODE": "x"}, "approval_mode": "auto"}
    res = run_module(openshell_sandbox, sb)
    assert res["changed"] and res["sandbox"]["phase"] == "Ready", res
    assert not run_module(openshell_sandbox, sb)["changed"]
    res = run_module(openshell_sandbox, dict(sb, state="stopped"))
    assert res["actions"] == ["stop"]
    res = run_module(openshell_sandbox, dict(sb, image="img2", recreate="never", state="stopped"))
    assert res["needs_recreate"] and not res["changed"]
    res = run_module(openshell_sandbox, sb)
    assert res["actions"] == ["start"]
    res = run_module(openshell_sandbox, dict(sb, policy_src="/nonexistent.yaml", policy=None))
    assert res["failed"] and "policy_src" in res["msg"]

    new_policy = dict(POLICY, network_policies=dict(POLICY["network_policies"], npm={
        "endpoints": [{"host": "registry.npmjs.org", "port": 443, "access": "read-only"}],
        "binaries": [{"path": "/usr/bin/npm"}]}))
    res = run_module(openshell_policy, {"sandbox": "sb1", "policy": new_policy}, check=True)
    assert res["changed"] and mutating(res) == []
    assert "npm" in res["policy_diff"]["network_policies"]["added"]
    res = run_module(openshell_policy, {"sandbox": "sb1", "policy": new_policy})
    assert res["changed"] and res["version"] >= 2
    res = run_module(openshell_policy, {"sandbox": "sb1", "policy": {"version": 1, "network_policies": new_policy["network_policies"]}})
    assert not res["changed"] and mutating(res) == []
    res = run_module(openshell_policy, {"sandbox": "sb1", "policy": dict(new_policy, landlock={"compatibility": "hard_requirement"})})
    assert res["failed"] and "landlock" in res["msg"] and "openshell_sandbox" in res["msg"]
    res = run_module(openshell_policy, {"sandbox": "nope", "policy": new_policy})
    assert res["failed"] and res["error_kind"] == "not_found"

    res = run_module(openshell_inference, {"provider": "nv", "model": "m"})
    assert res["changed"] and res["inference"]["model"] == "m"
    assert not run_module(openshell_inference, {"provider": "nv", "model": "m"})["changed"]
    assert run_module(openshell_inference, {"state": "absent"})["changed"]

    sim.set_faults({"pending_requests": [{"sandbox": "sb1", "id": "c1", "host": "api.github.com", "port": 443}]})
    sim.ok("sandbox", "list")
    res = run_module(openshell_approval, {"sandbox": "sb1", "approve": [{"host": "*.github.com"}]})
    assert [c["id"] for c in res["approved"]] == ["c1"]
    res = run_module(openshell_approval, {"sandbox": "sb1", "approve": [{"port": 99999}]})
    assert res["failed"] and "approve[0].port" in res["msg"]

    info = run_module(openshell_info, {"policy_bodies": True})["openshell"]
    assert info["sandboxes"][0]["name"] == "sb1" and "npm" in info["policies"]["sb1"]["policy"]["network_policies"]
    assert SECRET not in str(info)

    # The snapshot of the drift scan: `sandbox get` carries the same effective policy as `policy get --full`,
    # a named sandbox needs no `sandbox list`, and the settings are read only when asked for.
    res = run_module(openshell_info, {"gather_subset": ["sandbox_details"], "sandboxes": ["sb1", "gone"],
                                      "sandbox_settings": False})
    calls = [" ".join(c["argv"][:3]) for c in res["_sim_calls"]]
    assert calls == ["sandbox get sb1", "sandbox provider list", "sandbox get gone"], calls
    details = res["openshell"]["sandbox_details"]
    assert "settings" not in details["sb1"] and details["gone"] == {"sandbox": None, "providers": None}
    assert details["sb1"]["sandbox"]["policy"]["network_policies"] == info["policies"]["sb1"]["policy"]["network_policies"]
    res = run_module(openshell_info, {"gather_subset": ["sandbox_details"], "sandboxes": ["sb1"]})
    assert res["openshell"]["sandbox_details"]["sb1"]["settings"]["settings"]["proposal_approval_mode"]["value"] == "auto"
    for subset, key, argv in (("registrations", "gateways", "gateway list"), ("status", "status", "status"),
                              ("version", "version", "--version")):
        res = run_module(openshell_info, {"gather_subset": [subset]})
        assert list(res["openshell"]) == [key]
        assert [" ".join(c["argv"]) for c in res["_sim_calls"]] == [argv + ("" if argv == "--version" else " -o json")]

    res = run_module(openshell_sandbox, {"name": "sb1", "state": "absent"})
    assert res["changed"]


def test_gateway_module(run_module, sim):
    res = run_module(openshell_gateway, {"name": "gw2", "endpoint": sim.endpoint, "wait": True})
    assert res["changed"] and res["status"]["status"] == "connected"
    assert not run_module(openshell_gateway, {"name": "gw2", "endpoint": sim.endpoint})["changed"]
    res = run_module(openshell_gateway, {"name": "gw2", "state": "absent"})
    assert res["changed"]


def test_unreachable_gateway_and_unavailable_retries(run_module, sim):
    sim.set_faults({"unavailable": 2})
    res = run_module(openshell_info, {"gather_subset": ["providers"], "retries": 3})
    assert not res.get("failed") and res["openshell"]["providers"] == []
    sim.set_faults({"unavailable": 5})
    res = run_module(openshell_info, {"gather_subset": ["providers"], "retries": 1})
    assert res["failed"] and res["error_kind"] == "unavailable"
    sim.set_faults({})
    sim.stop()
    res = run_module(openshell_provider, {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}})
    assert res["failed"] and res["error_kind"] == "gateway_unreachable"
    assert "Start the gateway" in res["msg"]


# Minimal valid options of every module of the openshell action group (meta/runtime.yml).
GROUP = [
    (openshell_gateway, {"name": "gw2", "endpoint": "http://127.0.0.1:1"}),
    (openshell_provider, {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}}),
    (openshell_sandbox, {"name": "sb"}),
    (openshell_policy, {"sandbox": "sb", "policy": POLICY}),
    (openshell_inference, {"provider": "nv", "model": "m"}),
    (openshell_approval, {"sandbox": "sb"}),
    (openshell_info, {}),
    (openshell_exec, {"sandbox": "sb", "command": ["true"]}),
]


def test_every_module_rejects_a_bad_connection_option_before_any_call(run_module, sim):
    for module, args in GROUP:
        for bad, field in (({"timeout": 0}, "timeout"), ({"retries": -1}, "retries"), ({"gateway": "../gw"}, "gateway")):
            res = run_module(module, dict(args, **bad))
            assert res.get("failed") and res["field"] == field and res["_sim_calls"] == [], (module.__name__, bad, res)


def test_sandbox_restart_policy_follows_the_openshell_version(run_module, sim, monkeypatch):
    sb = {"name": "rp", "restart_policy": "on-failure"}
    res = run_module(openshell_sandbox, sb)  # the simulator speaks 0.0.111
    assert res["failed"] and res["field"] == "restart_policy", res
    assert res["msg"].endswith("OpenShell 0.0.111 has no sandbox restart policy (sandbox create --restart-policy); "
                               "it needs OpenShell 0.1.5")
    assert mutating(res) == []
    monkeypatch.setenv("OPENSHELL_SIM_VERSION", "0.1.5")
    res = run_module(openshell_sandbox, sb)
    assert res["changed"] and res["sandbox"]["phase"] == "Ready", res
    create = [c["argv"] for c in mutating(res)]
    assert len(create) == 1 and "--detach" in create[0]
    assert create[0][create[0].index("--restart-policy") + 1] == "on-failure"
    assert not run_module(openshell_sandbox, sb)["changed"]
    res = run_module(openshell_sandbox, dict(sb, restart_policy="always"))
    assert res["needs_recreate"] and not res["changed"] and "restart_policy" in " ".join(res["recreate_reasons"])
    res = run_module(openshell_sandbox, dict(sb, restart_policy="always", recreate="on_change"))
    assert res["changed"] and "restart_policy" in " ".join(res["recreate_reasons"])
