# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""playbooks/approvals.yml on five simulated hosts: rules, SLA, check mode, table and the overlay round trip."""

from __future__ import annotations

import json
import os
import re
import stat
import time

import pytest
import yaml

from playrunner import Fleet, Play, command_words

PLAYBOOK = "playbooks/approvals.yml"
REVIEW = "Review pending network requests"
KEY = "openshell|default|openclaw"  # gateway|workspace|sandbox, as the playbook's module_defaults name them
DAY = 86400
AGENTS_ROLE = {"roles": [{"role": "agentfleet.nemoclaw.agents"}]}
# The inventory wiring of docs/approvals.md: the agent's policy layer from the overlay file, when it has one.
OPENCLAW_WITH_APPROVALS = {
    "name": "openclaw", "agent": "openclaw",
    "policy_overlays": "{{ [nemoclaw_approved_endpoints.openclaw] if nemoclaw_approved_endpoints.openclaw is defined "
                       "else [] }}"}


def req(cid, host, port=443, binary="/usr/bin/curl", **extra):
    return dict({"sandbox": "openclaw", "id": cid, "host": host, "port": port, "binary": binary}, **extra)


# Pending requests per host, and what the rules + a 24h SLA must decide for each.
PENDING = {
    "host1": [req("h1-git", "api.github.com", binary="/usr/bin/git"), req("h1-pypi", "pypi.org"),
              req("h1-old", "old.example.com"), req("h1-new", "new.example.com")],
    "host2": [req("h2-npm", "registry.npmjs.org", binary="/usr/bin/node"), req("h2-git", "api.github.com", binary="/usr/bin/git"),
              req("h2-old", "stale.example.net", 8443)],
    "host3": [req("h3-flag", "api.github.com", 22, "/usr/bin/ssh", security_flagged=True),
              req("h3-flag-old", "gist.github.com", 22, "/usr/bin/ssh", security_flagged=True)],
    "host4": [],
    "host5": [req("h5-hf", "huggingface.co"), req("h5-x", "x.example.org")],
}
OLD = {"host1": ["h1-old"], "host2": ["h2-old"], "host3": ["h3-flag-old"]}
EXPECTED = {  # host: (approved, rejected with reason, left)
    "host1": (["h1-git"], {"h1-old": "older than SLA", "h1-pypi": "matched a reject rule"}, ["h1-new"]),
    "host2": (["h2-npm"], {"h2-old": "older than SLA"}, ["h2-git"]),
    "host3": ([], {"h3-flag-old": "older than SLA"}, ["h3-flag"]),
    "host4": ([], {}, []),
    "host5": (["h5-hf"], {"h5-x": "matched no approve rule (reject_unmatched)"}, []),
}
RULES = {  # "group" rules, given per host here (all simulated hosts are in one group)
    "host1": {"allow": [{"host": "*.github.com", "port": 443, "binary": "/usr/bin/git"}],
              "deny": [{"host": "pypi.org"}], "reason": "not on the allow list"},
    "host2": {"allow": [{"host": "registry.npmjs.org", "port": "443"}]},
    "host3": {"allow": [{"host": "*.github.com"}]},
    "host4": {},
}
RULES_FILE = {"approval_rules": {"allow": [{"host": "huggingface.co", "port": 443}], "reject_unmatched": True}}


def state_path(sim):
    return os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "approvals.json")


def read_state(sim):
    with open(state_path(sim)) as fh:
        return json.load(fh)


def seed_state(sim, ids, age):
    """Pretend the module first saw ``ids`` ``age`` seconds ago (plus an id that is no longer pending)."""
    path = state_path(sim)
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    first = int(time.time()) - age
    records = dict((cid, {"first_seen": first, "rule": "seeded"}) for cid in ids)
    records["gone-long-ago"] = {"first_seen": first, "rule": "seeded"}
    with open(path, "w") as fh:
        json.dump({"version": 1, "approvals": {KEY: records}}, fh)
    os.chmod(path, 0o600)


def network_policies(sim):
    return (sim.json("policy", "get", "openclaw", "--full", "-o", "json").get("policy") or {}).get("network_policies") or {}


def endpoints_of(policies):
    return sorted((ep.get("host"), ep.get("port")) for entry in policies.values() for ep in entry.get("endpoints") or [])


@pytest.fixture
def fleet5(tmp_path):
    f = Fleet(tmp_path, count=5)
    try:
        yield f
    finally:
        f.stop()
    assert f.invalid_calls() == []


def test_fleet_review_rules_sla_check_mode_and_overlay_round_trip(fleet5, tmp_path):
    fleet = fleet5
    for name, sim in fleet.hosts.items():
        sim.ok("sandbox", "create", "--name", "openclaw", "--no-tty")
        sim.set_faults({"pending_requests": PENDING[name]})
        sim.ok("sandbox", "list")  # the gateway injects on its next request
        if name in OLD:
            seed_state(fleet.hosts[name], OLD[name], 2 * DAY + 60)
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(RULES_FILE))
    overlay = tmp_path / "inv" / "group_vars" / "nemoclaw" / "approved_endpoints.yml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(yaml.safe_dump({"unrelated_var": 1, "nemoclaw_approved_endpoints": {"openclaw": {"network_policies": {
        "allow_docs_python_org_443": {"name": "allow_docs_python_org_443",
                                      "endpoints": [{"host": "docs.python.org", "port": 443}],
                                      "binaries": [{"path": "/usr/bin/curl"}]}}}}}))
    host_vars = dict((h, {"approval_rules": r}) for h, r in RULES.items())
    host_vars["host5"] = {"approval_rules_file": str(rules_file)}
    extra = {"approval_sla": "24h", "approvals_overlay_file": str(overlay)}
    states_before = dict((n, open(state_path(s)).read()) for n, s in fleet.hosts.items() if n in OLD)
    overlay_before = overlay.read_text()

    # Check mode: the table and the decisions, no change anywhere.
    step = fleet.run_site(PLAYBOOK, extra_vars=extra, host_vars=host_vars, check=True)
    assert step.rc == 0, step.stdout[-4000:]
    assert step.mutating == []
    for name, (approved, rejected, left) in EXPECTED.items():
        res = step.result(REVIEW, name)["results"]
        assert [r["sandbox"] for r in res] == ["openclaw"]
        assert [c["id"] for c in res[0]["approved"]] == approved
        assert dict((c["id"], c["reason"]) for c in res[0]["rejected"]) == rejected
    for name, text in states_before.items():
        assert open(state_path(fleet.hosts[name])).read() == text
    assert not os.path.exists(state_path(fleet.hosts["host5"]))
    assert overlay.read_text() == overlay_before
    table = step.result("Pending network requests of the fleet")["msg"]
    assert "HOST" in table and "FIRST SEEN (UTC)" in table and "AGE" in table
    row = [line for line in table.splitlines() if "h1-old" in line][0]
    assert row.split()[:5] == ["host1", "openclaw", "h1-old", "old.example.com:443", "/usr/bin/curl"]
    assert "2d00h" in row and "would reject (older than SLA)" in row
    assert "11 pending network requests on 5 hosts: approve 3, reject 5, leave 3 (check mode" in table

    # The run: decisions exactly per the rules, approved endpoints in the live policy.
    step = fleet.run_site(PLAYBOOK, extra_vars=extra, host_vars=host_vars)
    assert step.rc == 0, step.stdout[-4000:]
    for name, (approved, rejected, left) in EXPECTED.items():
        sim = fleet.hosts[name]
        res = step.result(REVIEW, name)["results"][0]
        assert [c["id"] for c in res["approved"]] == approved, name
        assert dict((c["id"], c["reason"]) for c in res["rejected"]) == rejected, name
        assert [c["id"] for c in res["left"]] == left, name
        verbs = sorted((command_words(c["argv"])[1], c["argv"][c["argv"].index("--chunk-id") + 1])
                       for c in step.mutating if c["host"] == name)
        assert verbs == sorted([("approve", i) for i in approved] + [("reject", i) for i in rejected]), name
        pending = re.sub(r"\x1b\[[0-9;]*m", "", sim.ok("rule", "get", "openclaw", "--status", "pending").stdout)
        assert sorted(re.findall(r"Chunk: (\S+)", pending)) == left
        live = endpoints_of(network_policies(sim))
        for cid in approved:
            chunk = [c for c in PENDING[name] if c["id"] == cid][0]
            assert (chunk["host"], chunk["port"]) in live, (name, cid, live)
        for cid in rejected:
            chunk = [c for c in PENDING[name] if c["id"] == cid][0]
            assert (chunk["host"], chunk["port"]) not in live
    rejected_sla = [c for c in fleet.hosts["host1"].calls() if "h1-old" in c["argv"] and "reject" in c["argv"]]
    assert rejected_sla[-1]["argv"][-2:] == ["--reason", "older than SLA"]
    rejected_rule = [c for c in fleet.hosts["host1"].calls() if "h1-pypi" in c["argv"] and "reject" in c["argv"]]
    assert rejected_rule[-1]["argv"][-2:] == ["--reason", "not on the allow list"]

    # State: private, only ids still pending, stale ids cleaned up.
    for name, (_approved, _rejected, left) in EXPECTED.items():
        sim = fleet.hosts[name]
        if not left:
            assert KEY not in (read_state(sim).get("approvals") if os.path.exists(state_path(sim)) else {})
            continue
        assert sorted(read_state(sim)["approvals"][KEY]) == left
        assert stat.S_IMODE(os.stat(state_path(sim)).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(state_path(sim))).st_mode) == 0o700

    # The overlay: merged with what was there, deterministic, one policy layer per agent (sandbox).
    doc = yaml.safe_load(overlay.read_text())
    assert doc["unrelated_var"] == 1
    assert list(doc["nemoclaw_approved_endpoints"]) == ["openclaw"]
    layer = doc["nemoclaw_approved_endpoints"]["openclaw"]
    assert layer["name"] == "approvals" and layer["source"] == "approvals:nemoclaw/approved_endpoints.yml"
    assert sorted(layer["network_policies"]) == ["allow_api_github_com_443", "allow_docs_python_org_443",
                                                 "allow_huggingface_co_443", "allow_registry_npmjs_org_443"]
    assert layer["network_policies"]["allow_api_github_com_443"] == {
        "name": "allow_api_github_com_443", "endpoints": [{"host": "api.github.com", "port": 443}],
        "binaries": [{"path": "/usr/bin/git"}]}
    written = overlay.read_text()

    # Idempotent: nothing left to decide, nothing written.
    step = fleet.run_site(PLAYBOOK, extra_vars=extra, host_vars=host_vars)
    assert step.rc == 0, step.stdout[-4000:]
    assert step.mutating == [] and step.changed_count() == 0
    assert overlay.read_text() == written
    assert "3 pending network requests on 5 hosts: approve 0, reject 0, leave 3" in step.result("Pending network requests of the fleet")["msg"]

    # Round trip: host1's sandbox is recreated by the agents role, the overlay in the agent's policy_overlays.
    sim = fleet.hosts["host1"]
    sim.ok("sandbox", "delete", "openclaw")
    # The approved rules are part of the desired policy then: a second converge has nothing to do.
    step, again = fleet.steps(Play(play_extra=AGENTS_ROLE), Play(play_extra=AGENTS_ROLE), limit="host1",
                              host_vars={"host1": {"nemoclaw_agents": [OPENCLAW_WITH_APPROVALS]}},
                              extra_vars={"nemoclaw_approved_endpoints": doc["nemoclaw_approved_endpoints"]})
    assert step.rc == 0, step.stdout[-4000:]
    applied = os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "applied", "openshell.json")
    with open(applied) as fh:
        prov = json.load(fh)["agents"]["openclaw"]["agent"]["provenance"]["allow_api_github_com_443"]
    assert (prov["layer"], prov["source"]) == ("approvals", "approvals:nemoclaw/approved_endpoints.yml")
    assert prov["level"] == "inventory"
    policies = network_policies(sim)
    assert ("api.github.com", 443) in endpoints_of({"k": policies["allow_api_github_com_443"]})
    assert ("docs.python.org", 443) in endpoints_of(policies)
    assert any(command_words(c["argv"])[:2] == ("sandbox", "create") for c in step.mutating)
    assert again.rc == 0 and again.mutating == [], again.stdout[-3000:]
    # Without an overlay the same entry plans no approvals layer.
    bare = fleet.run([], play_extra=AGENTS_ROLE, limit="host1", check=True,
                     host_vars={"host1": {"nemoclaw_agents": [OPENCLAW_WITH_APPROVALS]}})
    assert bare.rc == 0, bare.stdout[-3000:]
    assert "allow_api_github_com_443" in bare.stdout


def test_bad_rules_and_sla_fail_naming_the_variable(fleet3, tmp_path):
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text("allow: []\n")
    host_vars = {
        "host1": {"approval_rules": {"allow": [{"host": "*.github.com"}, {"host": "x.org", "port": "https"}]}},
        "host2": {"approval_rules": {"allow": [], "denny": []}, "approval_sla": "soon"},
        "host3": {"approval_rules": {}, "approval_rules_file": str(rules_file)},
    }
    step = fleet3.run_site(PLAYBOOK, host_vars=host_vars)
    assert step.rc != 0
    assert "approval_rules.allow[1].port: must be a port number 1-65535, got 'https'" in step.stdout
    assert "approval_rules.denny: unknown field" in step.stdout
    assert "set approval_rules or approval_rules_file for host3, not both" in step.stdout
    assert step.calls == []
    step = fleet3.run_site(PLAYBOOK, host_vars={"host1": {"approval_sla": "3 fortnights"}}, limit="host1")
    assert step.rc != 0 and "approval_sla: expected a duration" in step.stdout and step.calls == []


def test_a_batch_with_one_failing_chunk_approves_the_others_and_fails_naming_it(tmp_path):
    fleet = Fleet(tmp_path, count=1)
    sim = fleet.first
    try:
        sim.ok("sandbox", "create", "--name", "openclaw", "--no-tty")
        why = "provider 'github' not found in workspace 'default'"
        sim.set_faults({"pending_requests": [req("c-git", "api.github.com", binary="/usr/bin/git"),
                                             req("c-pip", "pypi.org", binary="/usr/bin/pip"),
                                             req("c-npm", "registry.npmjs.org", binary="/usr/bin/node")],
                        "approve_failures": [{"id": "c-pip", "error": "not_applicable", "application_error": why}]})
        sim.ok("sandbox", "list")  # the gateway injects on its next request
        task = {"name": "a", "agentfleet.nemoclaw.openshell_approval": {"sandbox": "openclaw", "approve_all": True},
                "ignore_errors": True}
        step = fleet.run([task])
        res = step.result("a")
        assert step.status("a") == "failed" and res["changed"] is True and res["error_kind"] == "chunks_failed"
        assert res["msg"].startswith("1 of 3 chunk decision(s) failed (2 approved, 0 rejected): approve c-pip "
                                     "(rule allow_pypi_org_443): [proposal_not_applicable] proposal is not applicable: "
                                     + why + ". The rule cannot be merged")
        assert sorted(c["id"] for c in res["approved"]) == ["c-git", "c-npm"]
        assert [(f["id"], f["action"], f["error_kind"]) for f in res["failures"]] == [
            ("c-pip", "approve", "proposal_not_applicable")]
        # all three were tried, in one batch
        assert sorted(c["argv"][-1] for c in step.mutating) == ["c-git", "c-npm", "c-pip"]
        policy = sim.json("policy", "get", "openclaw", "--full", "-o", "json")["policy"]["network_policies"]
        assert "allow_api_github_com_443" in policy and "allow_registry_npmjs_org_443" in policy
        assert "allow_pypi_org_443" not in policy
        # the chunk stays pending and shows why it cannot be applied; once the cause is gone it is approved
        look = fleet.run([dict(task, ignore_errors=False)], check=True).result("a")
        assert [(c["id"], c["application"]) for c in look["pending"]] == [("c-pip", why)]
        assert look["failures"] == []
        sim.set_faults({"pending_requests": [req("c-pip", "pypi.org", binary="/usr/bin/pip")]})
        done = fleet.run([dict(task, ignore_errors=False)]).result("a")
        assert [c["id"] for c in done["approved"]] == ["c-pip"] and done["failures"] == []
    finally:
        fleet.stop()
    assert fleet.invalid_calls() == []
