# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Faults injected into a converged three-host fleet (simulator fault file), in two rounds.

Each round gives every host a different fault and runs site.yml once; then the faults are lifted
and a plain site.yml re-run must converge, and the run after it must be changed=0. After each
round nothing that existed is lost: providers, sandboxes, the policy and the inference route.

round 1 (full site.yml):  host1 gateway down          -> bounded wait, fails naming the gateway's address
                          host2 Unavailable x100       -> bounded wait, fails naming the gateway and the status
                          host3 image never Ready      -> (recreate: true) the replacement's bounded wait fails
                                                          naming the agent; the re-run finishes the replacement
round 2 (--tags agents):
                          host1 Unavailable x2, then a failing health check (recreate: true, on_replace: discard)
                                                       -> the two calls are retried with backoff; then fails
                                                          naming the agent, the command and rc
                          host2 2 s latency per call   -> succeeds, changed=0, bounded number of calls
                          host3 Unavailable x100       -> agents_openshell_retries (2) retries, then fails
"""

from __future__ import annotations

import re

import pytest

from reltools import (changed_tasks, command_words, converged_fleet, failure_text, failures, host_calls, is_read_only,
                      read_lease, snapshot)

HOSTS = ("host1", "host2", "host3")
APPLY = "Converge the agents of the host"
OPENCLAW = {"name": "openclaw", "agent": "openclaw"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with converged_fleet(tmp_path_factory.mktemp("faults"), 3) as f:
        f.baseline = dict((name, snapshot(sim)) for name, sim in f.hosts.items())
        for name in HOSTS:
            assert f.baseline[name]["phase"] == "Ready" and f.baseline[name]["providers"], f.baseline[name]
            assert read_lease(f.hosts[name]) is None  # released at the end of the play
        yield f


def _calls(step, host, *words):
    """The calls of ``host`` whose command starts with ``words`` (global flags such as --gateway skipped)."""
    return [c for c in host_calls(step, host) if command_words(c["argv"])[:len(words)] == words]


def _clear(fleet):
    for sim in fleet.hosts.values():
        sim.set_faults({})


def _reconverge(fleet, expect_takeover=()):
    """A plain re-run converges, the run after it is changed=0, and nothing is lost."""
    rerun = fleet.run_site("site.yml")
    assert rerun.rc == 0, rerun.stdout[-4000:]
    for name in expect_takeover:
        # Taken over by "Take the host lock", or by site.yml's quick path in the apply's execution (host_lock).
        took = [r["result"] if r["task"] == "Take the host lock" else r["result"].get("host_lock") or {}
                for r in rerun.results if r["host"] == name and r["task"] in ("Take the host lock", APPLY)]
        took = [t for t in took if t.get("previous")]
        assert took, "stale lease of %s was not taken over" % name
        assert "is gone" in took[0]["reason"], took[0]
    # The run after a converging re-run must be changed=0; a re-run that already is needs no second run.
    after = fleet.run_site("site.yml") if changed_tasks(rerun) else rerun
    assert after.rc == 0, after.stdout[-4000:]
    assert changed_tasks(after) == []
    for name, sim in fleet.hosts.items():
        now = snapshot(sim)
        base = fleet.baseline[name]
        assert now["providers"] == base["providers"]
        assert now["sandboxes"] == base["sandboxes"]
        assert now["phase"] == "Ready"
        assert now["labels"] == base["labels"]
        assert now["policy_hash"] == base["policy_hash"]
        assert now["inference"] == base["inference"]
        assert read_lease(sim) is None
    return rerun, after


def test_gateway_down_unavailable_and_never_ready(fleet):
    h1, h2, h3 = (fleet.hosts[n] for n in HOSTS)
    h1.set_faults({"down": True})
    h2.set_faults({"unavailable": 100})
    host_vars = {
        "host1": {"openshell_gateway_wait_timeout": 3},
        "host2": {"openshell_gateway_wait_timeout": 3},
    }
    step = fleet.run_site("site.yml", host_vars=host_vars, limit="host1,host2")
    assert step.rc != 0
    for name in ("host1", "host2"):
        assert failures(step, name), "%s did not fail:\n%s" % (name, step.stdout[-3000:])

    # host1: gateway down -> the openshell role's bounded wait fails naming the gateway's address.
    text = failure_text(step, "host1")
    assert "gateway" in text.lower() and "127.0.0.1:%d" % h1.port in text, text
    assert "Timeout" in text or "not reachable" in text or "unreachable" in text, text
    assert [c for c in host_calls(step, "host1") if c["rc"] == 0 and "status" in c["argv"]] == []
    # Bounded by openshell_gateway_wait_timeout (3 s, a poll every 0.5 s), not by the default 60 s:
    # counted in calls, which machine load does not inflate, rather than in seconds.
    assert 1 <= len(_calls(step, "host1", "status")) <= 20, [c["argv"] for c in host_calls(step, "host1")]

    # host2: Unavailable -> the registration's bounded wait names the gateway, its endpoint and the status.
    text = failure_text(step, "host2")
    assert "gateway 'openshell' at %s" % h2.endpoint in text and "unavailable" in text.lower(), text

    # The failed hosts keep their lease (owner: the finished run); the re-run takes it over at once.
    for name in ("host1", "host2"):
        lease = read_lease(fleet.hosts[name])
        assert lease and lease["playbook"], lease
    _clear(fleet)
    _reconverge(fleet, expect_takeover=("host1", "host2"))


def test_replacement_that_never_becomes_ready_is_bounded_and_resumed(fleet):
    """host3's replacement (recreate: true, on_replace: preserve) never becomes Ready: the apply's bounded wait
    (agents_wait_timeout 3 s) fails naming the agent; the re-run finishes the replacement from its backup."""
    h3 = fleet.hosts["host3"]
    h3.set_faults({"never_ready_images": ["sandboxes/openclaw@sha256:"]})  # the blueprint's pinned image
    # agents_openshell_timeout 20: a cap, so the test does not hang for the default 300 s while the bug is there.
    host_vars = {"host3": {"nemoclaw_agents": [dict(OPENCLAW, recreate=True)], "agents_wait_timeout": 3,
                           "agents_openshell_timeout": 20}}
    try:
        step = fleet.run_site("site.yml", host_vars=host_vars, limit="host3", tags="agents")
        assert step.rc != 0
        text = failure_text(step, "host3")
        # it was backed up before the delete (on_replace: preserve)
        assert [command_words(c["argv"])[:2] for c in step.mutating][:3] == [
            ("sandbox", "exec"), ("sandbox", "delete"), ("sandbox", "create")], step.mutating
        assert APPLY in text and "agent openclaw" in text, text
        assert "did not become Ready within 3s" in text or "provisioning timed out after 3s" in text, text
        assert len(_calls(step, "host3", "sandbox", "get")) <= 20  # agents_wait_timeout 3 s, not 300 s
    finally:
        _clear(fleet)
        rerun, _after = _reconverge(fleet, expect_takeover=("host3",))
    resumed = [r["result"] for r in rerun.results if r["host"] == "host3" and r["task"].endswith(APPLY)][-1]["resumed"]
    assert [(x["agent"], x["action"]) for x in resumed] == [("openclaw", "restore")], resumed


def test_health_check_latency_and_transient_unavailable(fleet):
    h1, h2, h3 = (fleet.hosts[n] for n in HOSTS)
    h1.set_faults({"unavailable": 2, "exec_failures": [{"image": "openclaw", "command_contains": "health", "rc": 7,
                                                        "stderr": "agent gateway not answering\n"}]})
    h2.set_faults({"latency_ms": 2000})
    h3.set_faults({"unavailable": 100})
    # host1 replaces its agent (no backup), so the blueprint's health command runs after the change.
    host_vars = {"host1": {"nemoclaw_agents": [dict(OPENCLAW, recreate=True, on_replace="discard")]},
                 "host3": {"agents_openshell_retries": 2}}
    step = fleet.run_site("site.yml", tags="agents", host_vars=host_vars)
    assert step.rc != 0

    text = failure_text(step, "host1")
    assert "agent openclaw: health check failed" in text and "openclaw health --json" in text, text
    assert re.search(r"\bexit(ed)? 7\b", text) and "agent gateway not answering" in text, text
    # ... after its first call was answered Unavailable twice and retried (same argv, then success).
    rpc = [c for c in host_calls(step, "host1") if "--version" not in c["argv"]]
    assert [c["rc"] for c in rpc[:3]] == [1, 1, 0] and rpc[0]["argv"] == rpc[2]["argv"], rpc[:3]

    # host2: slow but correct; a no-op makes a bounded number of calls, so 2 s each stays affordable.
    assert failures(step, "host2") == [], failure_text(step, "host2")
    # One read per resource kind and the version probe; no health probe, as nothing changed:
    # nothing polled or retried under latency, no command line repeats.
    argvs = [tuple(c["argv"]) for c in host_calls(step, "host2")]
    assert len(argvs) <= 9 and len(set(argvs)) == len(argvs), argvs
    assert all(is_read_only(list(a)) for a in argvs), argvs
    assert all(c["ms"] >= 1900 for c in host_calls(step, "host2") if c["argv"][:1] != ["--version"]
               and "--version" not in c["argv"])

    # host3: Unavailable for good -> 1 + agents_openshell_retries attempts of one call, then a clear failure.
    text = failure_text(step, "host3")
    assert "Unavailable" in text and "after 2 retries" in text, text
    failed = [c for c in host_calls(step, "host3") if c["rc"] != 0]
    assert len(failed) == 3 and len(set(tuple(c["argv"]) for c in failed)) == 1, failed

    # Nothing changed but host1's replacement: delete, create, then its health probe inside the sandbox.
    assert [(h, t) for h, t in changed_tasks(step) if h != "host1"] == [], \
        [c["argv"] for c in host_calls(step, "host3")]
    # (Classified by command words: the modules put the global --gateway NAME before the command.)
    assert [(c["host"], command_words(c["argv"])[:2]) for c in step.mutating] == [
        ("host1", ("sandbox", "delete")), ("host1", ("sandbox", "create")), ("host1", ("sandbox", "exec"))], \
        [c["argv"] for c in step.mutating]
    _clear(fleet)
    rerun, _after = _reconverge(fleet)
    assert changed_tasks(rerun) == []
