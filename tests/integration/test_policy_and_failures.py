# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""openshell_policy quartet and diff; every typed failure the modules report."""

from __future__ import annotations

from playrunner import Play

BASE = {
    "version": 1,
    "filesystem_policy": {"include_workdir": True, "read_only": ["/usr", "/etc"], "read_write": ["/sandbox", "/tmp"]},
    "landlock": {"compatibility": "best_effort"},
    "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
    "network_policies": {
        "pypi": {"endpoints": [{"host": "pypi.org", "port": 443, "access": "read-only"}],
                 "binaries": [{"path": "/usr/bin/pip"}]},
    },
}
GITHUB = {"endpoints": [{"host": "api.github.com", "port": 443, "access": "read-only"}],
          "binaries": [{"path": "/usr/bin/git"}]}
NETWORK_ONLY = {"version": 1, "network_policies": dict(BASE["network_policies"], github=GITHUB)}


def sandbox(**params):
    args = {"name": "sb1", "image": "img@sha256:" + "4" * 64, "policy": BASE}
    args.update(params)
    return {"name": "sb", "agentfleet.nemoclaw.openshell_sandbox": args}


def policy(task="pol", **params):
    args = {"sandbox": "sb1", "policy": NETWORK_ONLY}
    args.update(params)
    return {"name": task, "agentfleet.nemoclaw.openshell_policy": args}


def test_policy_quartet_and_diff(fleet):
    sim = fleet.first
    fleet.run([sandbox()])
    v1 = sim.json("policy", "get", "sb1", "-o", "json")["version"]
    check, step, *again = fleet.steps(Play([policy()], check=True), [policy()], [policy()], Play([policy()], check=True))
    res = check.result("pol")
    assert res["changed"] is True and check.mutating == []
    assert res["policy_diff"]["network_policies"]["added"] == ["github"]
    assert "api.github.com" in res["diff"]["after"] and "api.github.com" not in res["diff"]["before"]
    assert "+" in check.stdout and "api.github.com" in check.stdout  # --diff output shows the change
    res = step.result("pol")
    assert res["changed"] is True and res["version"] == v1 + 1
    (call,) = step.mutating
    assert call["argv"][:3] == ["policy", "set", "sb1"] and "--wait" in call["argv"]
    current = sim.json("policy", "get", "sb1", "--full", "-o", "json")
    assert "github" in current["policy"]["network_policies"]
    assert current["policy"]["landlock"] == {"compatibility": "best_effort"}
    for step in again:
        assert step.result("pol")["changed"] is False and step.mutating == []
    # Someone replaces the policy behind our back: detected and repaired.
    sim.ok("policy", "update", "sb1", "--remove-endpoint", "api.github.com:443")
    check, repair, again = fleet.steps(Play([policy()], check=True), [policy()], [policy()])
    assert check.result("pol")["changed"] is True and check.mutating == []
    assert repair.result("pol")["changed"] is True
    assert again.result("pol")["changed"] is False


def test_typed_failures(fleet):
    sim = fleet.first
    tasks = [
        dict(policy("static", policy=dict(BASE, landlock={"compatibility": "hard_requirement"})), ignore_errors=True),
        dict(policy("missing", sandbox="nope"), ignore_errors=True),
        dict(policy("unknown_key", policy={"version": 1, "network_policies": {}, "extra": True}), ignore_errors=True),
        dict(policy("bad_port", policy={"version": 1, "network_policies": {"x": {
            "endpoints": [{"host": "a.example", "port": 0}], "binaries": [{"path": "/bin/x"}]}}}), ignore_errors=True),
        dict(policy("reserved", policy={"version": 1, "network_policies": {"_provider_x": GITHUB}}), ignore_errors=True),
        dict(policy("global_wait", **{"global": True, "sandbox": None}), ignore_errors=True),
    ]
    _created, step = fleet.steps([sandbox()], tasks)
    static = step.result("static")
    assert static["error_kind"] == "precondition" and "landlock" in static["msg"] and "openshell_sandbox" in static["msg"]
    assert step.result("missing")["error_kind"] == "not_found"
    assert step.result("unknown_key")["msg"].startswith("policy.extra: unknown field")
    assert "policy.network_policies.x.endpoints[0].port" in step.result("bad_port")["msg"]
    assert "_provider_" in step.result("reserved")["msg"]
    assert "wait" in step.result("global_wait")["msg"]
    assert step.mutating == []

    # Policy load never confirmed: bounded wait, typed error, nothing lost.
    sim.set_faults({"policy_load": "pending"})
    step = fleet.run([policy(wait_timeout=2)])
    res = step.result("pol")
    assert res["error_kind"] == "policy_wait_timeout" and res["rc"] == 124
    sim.set_faults({})

    # Sandbox created behind our back with the same name: ours reports it, typed.
    sim.ok("sandbox", "delete", "sb1")
    sim.ok("sandbox", "create", "--name", "sb1", "--no-tty")
    step = fleet.run([sandbox(recreate="never")])
    assert step.result("sb")["needs_recreate"] is True

    # Gateway down: every module fails naming the gateway, nothing changes.
    sim.set_faults({"down": True})
    step = fleet.run([dict(policy(), ignore_errors=True), dict(sandbox(), ignore_errors=True)])
    for task in ("pol", "sb"):
        res = step.result(task)
        assert res["error_kind"] == "gateway_unreachable", res
        assert "Start the gateway" in res["msg"]
    sim.set_faults({})
    assert fleet.run([sandbox(recreate="never")]).rc == 0


def test_an_environment_key_that_is_a_shell_command_runs_nothing(fleet, tmp_path):
    # Ansible writes environment keys unquoted into the host's shell command line: the playbooks check them first.
    marker = tmp_path / "PWNED"
    name, sim = next(iter(fleet.hosts.items()))
    env = dict((k, v) for k, v in sim.env.items() if k.startswith(("XDG_", "OPENSHELL_")) or k in ("HOME", "PATH"))
    env["X=1;touch %s;Y" % marker] = "v"
    step = fleet.run_site(playbook="playbooks/status.yml", host_vars={name: {"nemoclaw_environment": env}})
    assert step.rc != 0 and not marker.exists()
    assert "nemoclaw_environment: key 'X=1;touch" in step.stdout and "nothing was run with it" in step.stdout
    assert step.calls == []
