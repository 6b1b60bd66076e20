# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""openshell_provider against the simulator: quartet, update, drift, type change, delete, failures."""

from __future__ import annotations

import os

from playrunner import Play

SECRET = "nvapi-CANARY-7f3a9c1e5b2d"
SECRET2 = "nvapi-CANARY-second-4e8d"


def provider_task(task="p", **params):
    args = {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": SECRET}}
    args.update(params)
    return {"name": task, "agentfleet.nemoclaw.openshell_provider": args}


def test_quartet_check_apply_idempotent(fleet):
    sim = fleet.first
    step = fleet.run([provider_task()], check=True)
    assert step.rc == 0, step.stdout
    assert step.result("p")["changed"] is True
    assert step.mutating == []
    assert sim.json("provider", "list", "-o", "json") == []

    step, *again = fleet.steps([provider_task()], [provider_task()], Play([provider_task()], check=True))
    assert step.rc == 0, step.stdout
    res = step.result("p")
    assert res["changed"] is True and res["action"] == "create"
    assert res["diff"]["after"]["credentials"] == {"NVIDIA_API_KEY": "<changed>"}
    assert [c["argv"][:2] for c in step.mutating] == [["provider", "create"]]
    listed = sim.json("provider", "list", "-o", "json")
    assert [(p["name"], p["type"], p["credential_keys"]) for p in listed] == [("nv", "nvidia", ["NVIDIA_API_KEY"])]

    for step in again:
        assert step.rc == 0, step.stdout
        assert step.result("p")["changed"] is False
        assert step.mutating == [], step.mutating


def test_update_value_removal_and_config(fleet):
    _created, step, removal, again = fleet.steps(
        [provider_task(credentials={"NVIDIA_API_KEY": SECRET, "EXTRA_TOKEN": "x-token-1"})],
        [provider_task(credentials={"NVIDIA_API_KEY": SECRET2, "EXTRA_TOKEN": "x-token-1"})],
        [provider_task(credentials={"NVIDIA_API_KEY": SECRET2}, config={"BASE_URL": "http://x"})],
        [provider_task(credentials={"NVIDIA_API_KEY": SECRET2}, config={"BASE_URL": "http://x"})])
    res = step.result("p")
    assert res["changed"] is True
    assert res["diff"]["after"]["credentials"] == {"EXTRA_TOKEN": "<unchanged>", "NVIDIA_API_KEY": "<changed>"}
    (update,) = step.mutating
    assert update["argv"][:3] == ["provider", "update", "nv"]
    assert update["argv"].count("--credential") == 1 and "NVIDIA_API_KEY" in update["argv"]

    (update,) = removal.mutating
    assert "EXTRA_TOKEN=" in update["argv"] and "BASE_URL=http://x" in update["argv"]
    listed = fleet.first.json("provider", "list", "-o", "json")[0]
    assert listed["credential_keys"] == ["NVIDIA_API_KEY"] and listed.get("config_keys") == ["BASE_URL"]
    assert again.result("p")["changed"] is False and again.mutating == []


def test_change_behind_our_back_is_drift(fleet):
    fleet.run([provider_task()])
    fleet.first.ok("provider", "update", "nv", "--credential", "NVIDIA_API_KEY",
                   env={"NVIDIA_API_KEY": "someone-else"})
    check, step, again = fleet.steps(Play([provider_task()], check=True), [provider_task()], [provider_task()])
    res = check.result("p")
    assert res["changed"] is True and check.mutating == []
    assert any("outside Ansible" in r for r in res["reasons"])
    assert step.result("p")["changed"] is True
    assert again.result("p")["changed"] is False


def test_on_create_and_always(fleet):
    _created, on_create, always = fleet.steps(
        [provider_task(update_credentials="on_create")],
        [provider_task(credentials={"NVIDIA_API_KEY": SECRET2}, update_credentials="on_create")],
        [provider_task(update_credentials="always")])
    assert on_create.result("p")["changed"] is False and on_create.mutating == []
    assert always.result("p")["changed"] is True and len(always.mutating) == 1


def test_type_change_fails_unless_recreate(fleet):
    _created, step = fleet.steps([provider_task()], [provider_task(type="openai", credentials={"OPENAI_API_KEY": SECRET})])
    assert step.rc != 0 and step.status("p") == "failed"
    res = step.result("p")
    assert "recreate_on_type_change" in res["msg"] and res["field"] == "type"
    assert step.mutating == []
    step = fleet.run([provider_task(type="openai", credentials={"OPENAI_API_KEY": SECRET}, recreate_on_type_change=True)])
    assert step.rc == 0, step.stdout
    assert [c["argv"][:2] for c in step.mutating] == [["provider", "delete"], ["provider", "create"]]
    assert fleet.first.json("provider", "list", "-o", "json")[0]["type"] == "openai"


def test_delete_and_attached_refusal(fleet):
    sim = fleet.first
    fleet.run([provider_task()])
    sim.ok("sandbox", "create", "--name", "sb1", "--provider", "nv", "--no-tty")
    step = fleet.run([provider_task(state="absent")])
    assert step.rc != 0
    res = step.result("p")
    assert res["error_kind"] == "precondition" and "sb1" in res["msg"]
    assert sim.json("provider", "list", "-o", "json") != []
    sim.ok("sandbox", "delete", "sb1")
    check, step, again = fleet.steps(Play([provider_task(state="absent")], check=True), [provider_task(state="absent")],
                                     [provider_task(state="absent")])
    assert check.result("p")["changed"] is True and check.mutating == []
    assert step.result("p")["changed"] is True
    assert sim.json("provider", "list", "-o", "json") == []
    assert again.result("p")["changed"] is False and again.mutating == []


def test_bad_input_fails_before_any_call(fleet):
    cases = [
        ({"credentials": {"bad key": "v"}}, "credentials"),
        ({"credentials": {"NVIDIA_API_KEY": ""}}, "credentials"),
        ({"config": {"A=B": "v"}}, "config"),
        ({"name": "has space"}, "name"),
        ({"type": None}, "type"),
    ]
    tasks = [dict(provider_task(task="case%d" % i, **params), ignore_errors=True) for i, (params, _f) in enumerate(cases)]
    step = fleet.run(tasks)
    for i, (params, field) in enumerate(cases):
        res = step.result("case%d" % i)
        assert step.status("case%d" % i) == "failed", params
        assert field in res["msg"], (params, res["msg"])
    assert step.calls == [], step.calls


def test_state_file_is_private_and_holds_no_secret(fleet):
    fleet.run([provider_task()])
    path = os.path.join(fleet.first.root, "home", ".local", "state", "agentfleet-nemoclaw", "providers.json")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    with open(path) as fh:
        text = fh.read()
    assert SECRET not in text and "pbkdf2-sha256" in text
