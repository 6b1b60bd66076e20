# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""openshell_gateway, openshell_inference, openshell_approval and openshell_info against the simulator."""

from __future__ import annotations

import json

from playrunner import Play


def gw(task="g", **params):
    return {"name": task, "agentfleet.nemoclaw.openshell_gateway": params}


def test_gateway_registration(fleet):
    sim = fleet.first
    ep = sim.endpoint
    check, step, *again, select, moved, removed, removed_again = fleet.steps(
        Play([gw(name="gw2", endpoint=ep)], check=True),
        [gw(name="gw2", endpoint=ep, wait=True)],
        [gw(name="gw2", endpoint=ep + "/")],
        Play([gw(name="gw2", endpoint=ep + "/")], check=True),
        # Another registration takes over "active"; ours selects itself back.
        [gw(name="openshell", endpoint=ep)],
        # An endpoint change replaces the registration.
        [gw(name="gw2", endpoint="http://127.0.0.1:1")],
        [gw(name="gw2", state="absent")],
        [gw(name="gw2", state="absent")])
    assert check.result("g")["changed"] is True and check.mutating == []
    res = step.result("g")
    assert res["changed"] is True and res["status"]["status"] == "connected"
    assert res["gateway"]["name"] == "gw2" and res["gateway"]["auth"] == "plaintext" and res["gateway"]["active"]
    assert [c["argv"][:2] for c in step.mutating] == [["gateway", "add"]]
    for step in again:
        assert step.result("g")["changed"] is False and step.mutating == []
    assert select.result("g")["differences"] == ["active"]
    assert [c["argv"][:2] for c in select.mutating] == [["gateway", "select"]]
    assert moved.result("g")["differences"] == ["endpoint"]
    assert [c["argv"][:2] for c in moved.mutating] == [["gateway", "remove"], ["gateway", "add"]]
    assert [c["argv"][:2] for c in removed.mutating] == [["gateway", "remove"]]
    assert "gw2" not in [g["name"] for g in sim.json("gateway", "list", "-o", "json")]
    assert removed_again.result("g")["changed"] is False


def test_gateway_wait_on_a_down_gateway_fails_clearly(fleet):
    sim = fleet.first
    sim.stop()
    step = fleet.run([gw(name="openshell", endpoint=sim.endpoint, wait=True, wait_timeout=2)])
    assert step.rc != 0
    msg = step.result("g")["msg"]
    assert "did not report connected" in msg and sim.endpoint in msg


def test_gateway_bad_input(fleet):
    tasks = [dict(gw("c0", name="x", endpoint="ftp://h"), ignore_errors=True),
             dict(gw("c1", name="x", endpoint="https://h:1"), ignore_errors=True),
             dict(gw("c2", name="x"), ignore_errors=True)]
    step = fleet.run(tasks)
    assert "endpoint" in step.result("c0")["msg"]
    assert "local" in step.result("c1")["msg"]
    assert "endpoint" in step.result("c2")["msg"]
    assert step.calls == []


PROVIDER = {"name": "prov", "agentfleet.nemoclaw.openshell_provider": {
    "name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": "nvapi-CANARY-inference-1"}}}


def inf(task="i", **params):
    return {"name": task, "agentfleet.nemoclaw.openshell_inference": params}


def test_inference_routes(fleet):
    sim = fleet.first
    _provider, check, step, *again, model, system = fleet.steps(
        [PROVIDER],
        Play([inf(provider="nv", model="m1")], check=True),
        [inf(provider="nv", model="m1", timeout_secs=90)],
        [inf(provider="nv", model="m1", timeout_secs=90)],
        Play([inf(provider="nv", model="m1", timeout_secs=90)], check=True),
        [inf(provider="nv", model="m2")],
        [inf(provider="nv", model="sys", system=True)])
    assert check.result("i")["changed"] is True and check.mutating == []
    res = step.result("i")
    assert res["inference"]["model"] == "m1" and res["inference"]["timeout"] == 90
    for step in again:
        assert step.result("i")["changed"] is False and step.mutating == []
    assert model.result("i")["differences"] == ["model"]
    assert model.result("i")["diff"]["before"]["model"] == "m1"
    assert system.result("i")["route"] == "sandbox-system"
    text = sim.ok("inference", "get").stdout
    assert "sys" in text and "m2" in text
    removed, removed_again, missing = fleet.steps(
        [inf(system=True, state="absent")], [inf(system=True, state="absent")], [inf(provider="missing", model="m")])
    assert [c["argv"][:2] for c in removed.mutating] == [["inference", "delete"]]
    assert removed_again.mutating == []
    assert missing.rc != 0 and "missing" in missing.result("i")["msg"]


def test_approvals(fleet):
    sim = fleet.first
    sim.ok("sandbox", "create", "--name", "sb1", "--no-tty")
    sim.set_faults({"pending_requests": [
        {"sandbox": "sb1", "id": "c-git", "host": "api.github.com", "port": 443, "binary": "/usr/bin/git"},
        {"sandbox": "sb1", "id": "c-pip", "host": "pypi.org", "port": 443, "binary": "/usr/bin/pip"},
        {"sandbox": "sb1", "id": "c-ssh", "host": "evil.example", "port": 22, "binary": "/usr/bin/ssh",
         "security_flagged": True},
        {"sandbox": "sb1", "id": "c-npm", "host": "registry.npmjs.org", "port": 443, "binary": "/usr/bin/node"},
    ]})
    sim.ok("sandbox", "list")  # the gateway injects on its next request
    review = {"sandbox": "sb1", "approve": [{"host": "*.github.com", "port": 443}, {"binary": "/usr/bin/ssh"}],
              "reject": [{"host": "pypi.org"}], "reason": "not allowed"}
    step = fleet.run([{"name": "a", "agentfleet.nemoclaw.openshell_approval": review}], check=True)
    res = step.result("a")
    assert [c["id"] for c in res["approved"]] == ["c-git"]
    assert [c["id"] for c in res["rejected"]] == ["c-pip"]
    assert sorted(c["id"] for c in res["left"]) == ["c-npm", "c-ssh"]
    assert step.mutating == []
    version_before = sim.json("policy", "get", "sb1", "-o", "json")["version"]
    step, again = fleet.steps(
        [{"name": "a", "agentfleet.nemoclaw.openshell_approval": dict(review, reject_unmatched=True)}],
        [{"name": "a", "agentfleet.nemoclaw.openshell_approval": review}])
    res = step.result("a")
    assert [c["id"] for c in res["approved"]] == ["c-git"]
    assert sorted(c["id"] for c in res["rejected"]) == ["c-npm", "c-pip", "c-ssh"]
    verbs = sorted(c["argv"][1] for c in step.mutating)
    assert verbs == ["approve", "reject", "reject", "reject"]
    assert sim.json("policy", "get", "sb1", "-o", "json")["version"] > version_before
    assert again.result("a")["changed"] is False and again.mutating == [] and again.result("a")["pending"] == []


def test_info(fleet):
    sim = fleet.first
    fleet.run([PROVIDER])
    sim.ok("sandbox", "create", "--name", "sb1", "--no-tty")
    step, bad = fleet.steps(
        Play([{"name": "info", "agentfleet.nemoclaw.openshell_info": {"policy_bodies": True}}], check=True),
        [{"name": "info", "agentfleet.nemoclaw.openshell_info": {"gather_subset": ["nope"]}}])
    info = step.result("info")["openshell"]
    assert info["status"]["status"] == "connected"
    assert [s["name"] for s in info["sandboxes"]] == ["sb1"]
    assert info["providers"][0]["credential_keys"] == ["NVIDIA_API_KEY"]
    assert "policy" in info["policies"]["sb1"]
    assert info["approvals"] == {"sb1": []}
    assert "nvapi-CANARY" not in json.dumps(info)
    assert step.mutating == []
    assert bad.rc != 0 and "gather_subset" in bad.result("info")["msg"]
