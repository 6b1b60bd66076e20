# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""openshell_sandbox against the simulator."""

from __future__ import annotations

from playrunner import Play

IMAGE = "ghcr.io/nvidia/openshell-community/sandboxes/base@sha256:" + "1" * 64
IMAGE2 = "ghcr.io/nvidia/openshell-community/sandboxes/base@sha256:" + "2" * 64
POLICY = {
    "version": 1,
    "filesystem_policy": {"include_workdir": True, "read_only": ["/usr", "/etc"], "read_write": ["/sandbox", "/tmp"]},
    "landlock": {"compatibility": "best_effort"},
    "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
    "network_policies": {
        "pypi": {"endpoints": [{"host": "pypi.org", "port": 443, "access": "read-only"}],
                 "binaries": [{"path": "/usr/bin/pip"}]},
    },
}


def sandbox_task(task="s", **params):
    args = {"name": "sb1", "image": IMAGE, "labels": {"team": "research"}, "env": {"LOG_LEVEL": "info"},
            "policy": POLICY}
    args.update(params)
    return {"name": task, "agentfleet.nemoclaw.openshell_sandbox": args}


def provider(name):
    return {"name": "prov-" + name, "agentfleet.nemoclaw.openshell_provider": {
        "name": name, "type": "generic", "credentials": {"GENERIC_TOKEN": "tok-" + name + "-0000"}}}


def test_quartet_and_labels(fleet):
    sim = fleet.first
    check, step, *again = fleet.steps(Play([sandbox_task()], check=True), [sandbox_task()],
                                      [sandbox_task()], Play([sandbox_task()], check=True))
    assert check.rc == 0, check.stdout
    assert check.result("s")["changed"] is True and check.result("s")["actions"] == ["create"]
    assert check.mutating == []
    assert step.rc == 0, step.stdout
    res = step.result("s")
    assert res["sandbox"]["phase"] == "Ready"
    labels = res["sandbox"]["labels"]
    assert labels["team"] == "research" and labels["agentfleet.nemoclaw/managed"] == "true"
    assert len(labels["agentfleet.nemoclaw/spec"]) == 16
    (create,) = step.mutating
    assert create["argv"][:2] == ["sandbox", "create"] and "--policy" in create["argv"]
    assert sim.json("sandbox", "get", "sb1", "-o", "json")["policy"]["network_policies"]["pypi"]
    for step in again:
        assert step.rc == 0, step.stdout
        assert step.result("s")["changed"] is False, step.result("s")
        assert step.mutating == []


def test_stop_start_and_external_stop(fleet):
    sim = fleet.first
    _created, stop, again, present, check = fleet.steps(
        [sandbox_task()], [sandbox_task(state="stopped")], [sandbox_task(state="stopped")],
        [sandbox_task(state="present")], Play([sandbox_task()], check=True))
    assert stop.result("s")["actions"] == ["stop"]
    assert sim.json("sandbox", "get", "sb1", "-o", "json")["phase"] == "Stopped"
    assert again.mutating == []
    assert present.result("s")["changed"] is False
    assert check.result("s")["actions"] == ["start"] and check.mutating == []
    step = fleet.run([sandbox_task()])
    assert [c["argv"][:2] for c in step.mutating] == [["sandbox", "start"]]
    assert step.result("s")["sandbox"]["phase"] == "Ready"


def test_immutable_change_recreates_or_reports(fleet):
    sim = fleet.first
    static_change = dict(POLICY, landlock={"compatibility": "hard_requirement"})
    _created, never, default, check, recreate, again, landlock, labels = fleet.steps(
        [sandbox_task()],
        [sandbox_task(image=IMAGE2, recreate="never")],
        # The default is never: a replacement loses the sandbox's contents and this module backs nothing up.
        [sandbox_task(image=IMAGE2)],
        Play([sandbox_task(image=IMAGE2, recreate="on_change")], check=True),
        [sandbox_task(image=IMAGE2, recreate="on_change")],
        [sandbox_task(image=IMAGE2, recreate="on_change")],
        [sandbox_task(image=IMAGE2, policy=static_change, recreate="never")],
        [sandbox_task(labels={"team": "other"}, image=IMAGE2, recreate="never")])
    res = never.result("s")
    assert res["changed"] is False and res["needs_recreate"] is True
    assert any("image" in r for r in res["recreate_reasons"]) and never.mutating == []
    assert default.result("s")["needs_recreate"] is True and default.mutating == []
    assert check.result("s")["actions"] == ["delete", "create"] and check.mutating == []
    assert [c["argv"][:2] for c in recreate.mutating] == [["sandbox", "delete"], ["sandbox", "create"]]
    assert again.result("s")["changed"] is False
    assert any("landlock" in r for r in landlock.result("s")["recreate_reasons"])
    assert "labels changed" in labels.result("s")["recreate_reasons"]
    assert sim.json("sandbox", "get", "sb1", "-o", "json")["labels"]["team"] == "research"


def test_providers_attach_detach_in_place(fleet):
    _created, step, again = fleet.steps([provider("alpha"), provider("beta"), sandbox_task(providers=["alpha"])],
                                        [sandbox_task(providers=["beta"])], [sandbox_task(providers=["beta"])])
    res = step.result("s")
    assert res["actions"] == ["attach:beta", "detach:alpha"]
    assert [c["argv"][:3] for c in step.mutating] == [["sandbox", "provider", "attach"], ["sandbox", "provider", "detach"]]
    assert again.result("s")["changed"] is False and again.mutating == []


def test_approval_mode_in_place(fleet):
    _created, step, again = fleet.steps([sandbox_task()], [sandbox_task(approval_mode="auto")],
                                        [sandbox_task(approval_mode="auto")])
    assert step.result("s")["actions"] == ["approval_mode"]
    assert again.mutating == []


def test_sandbox_not_created_by_us_is_reported(fleet):
    fleet.first.ok("sandbox", "create", "--name", "sb1", "--from", IMAGE, "--no-tty")
    step = fleet.run([sandbox_task(recreate="never")])
    assert step.result("s")["needs_recreate"] is True
    assert "spec unknown" in step.result("s")["recreate_reasons"][0]


def test_delete(fleet):
    _created, check, step, again = fleet.steps([sandbox_task()], Play([sandbox_task(state="absent")], check=True),
                                               [sandbox_task(state="absent")], [sandbox_task(state="absent")])
    assert check.result("s")["changed"] is True and check.mutating == []
    assert [c["argv"][:2] for c in step.mutating] == [["sandbox", "delete"]]
    assert again.result("s")["changed"] is False and again.mutating == []


def test_bad_input_fails_before_any_call(fleet):
    cases = [
        ({"name": "Bad_Name"}, "name"),
        ({"name": "a-very-long-sandbox-name"}, "name"),
        ({"gpu": "lots"}, "gpu"),
        ({"cpu": "four"}, "cpu"),
        ({"memory": "8 gigs"}, "memory"),
        ({"labels": {"team": "-x"}}, "labels"),
        ({"labels": {"agentfleet.nemoclaw/spec": "x"}}, "labels"),
        ({"env": {"NVIDIA_API_KEY": "nvapi-abcdefghijklmnop"}}, "env"),
        ({"env": {"OPENSHELL_X": "1"}}, "env"),
        ({"policy": {"version": 1, "bogus": 1}}, "policy"),
        ({"policy": {"version": 1, "network_policies": {"x": {
            "endpoints": [{"host": "a.b", "port": 70000}], "binaries": [{"path": "/usr/bin/curl"}]}}}},
         "policy.network_policies.x.endpoints[0].port"),
    ]
    tasks = [dict(sandbox_task(task="case%d" % i, **params), ignore_errors=True) for i, (params, _f) in enumerate(cases)]
    step = fleet.run(tasks)
    for i, (params, field) in enumerate(cases):
        res = step.result("case%d" % i)
        assert step.status("case%d" % i) == "failed", params
        assert field in res["msg"], (params, res["msg"])
    assert step.calls == [], step.calls


def test_never_ready_image_times_out_clearly(fleet):
    fleet.first.set_faults({"never_ready_images": [IMAGE2]})
    step = fleet.run([sandbox_task(image=IMAGE2, wait_timeout=2)])
    assert step.rc != 0
    msg = step.result("s")["msg"]
    assert "timed out" in msg or "Ready" in msg, msg
