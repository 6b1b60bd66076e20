# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.filter import approvals as f
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare


def chunk(cid, host, port=443, binary="/usr/bin/curl", age=60, reason=None, **extra):
    out = {"id": cid, "rule": "allow_%s_%d" % (host.replace(".", "_"), port), "binary": binary, "binaries": [binary],
           "endpoints": [{"host": host, "port": port}], "security": "", "hits": 1,
           "first_seen_utc": "2026-05-01T10:00:00Z", "age_seconds": age}
    if reason:
        out["reason"] = reason
    out.update(extra)
    return out


GIT = chunk("c-git", "api.github.com", binary="/usr/bin/git", age=3 * 3600 + 5 * 60)
PYPI = chunk("c-pypi", "pypi.org", age=2 * 86400 + 3600)
NEW = chunk("c-new", "new.example.com", age=5, security="Destination flagged")
REPORTS = [
    {"host": "host2", "overlay_file": "/inv/group_vars/all/approved.yml", "reviews": [{
        "sandbox": "openclaw", "pending": [PYPI, NEW],
        "approved": [], "rejected": [dict(PYPI, reason="older than SLA")], "left": [dict(NEW, reason="matched no rule")]}]},
    {"host": "host1", "overlay_file": "/inv/group_vars/all/approved.yml", "reviews": [
        {"sandbox": "openclaw", "pending": [GIT], "approved": [dict(GIT, reason="matched an approve rule")],
         "rejected": [], "left": []},
        {"skipped": True}]},
    {"host": "host3", "overlay_file": "", "reviews": []},
]


def test_approval_rules_normalise():
    assert f.approval_rules(None) == {"allow": [], "deny": [], "reject_unmatched": False,
                                      "include_security_flagged": False, "reason": f.DEFAULT_REASON}
    rules = f.approval_rules({"allow": [{"host": " *.github.com ", "port": "443"}], "deny": [{"binary": "/usr/bin/nc"}],
                              "reject_unmatched": True, "reason": "no"})
    assert rules["allow"] == [{"host": "*.github.com", "port": 443}]
    assert rules["deny"] == [{"binary": "/usr/bin/nc"}] and rules["reject_unmatched"] and rules["reason"] == "no"
    # a group_vars file (wrapped in approval_rules) and YAML text are accepted too
    text = yaml.safe_dump({"approval_rules": {"allow": [{"rule": "allow_*", "host": "*.example.com"}]}})
    assert f.approval_rules(text, "approval_rules_file /x")["allow"] == [{"rule": "allow_*", "host": "*.example.com"}]


@pytest.mark.parametrize("rules, message", [
    ("- a\n", "approval_rules: must be a mapping"),
    ({"allow": {"host": "x"}}, "approval_rules.allow: must be a list"),
    ({"allow": [{}]}, "approval_rules.allow[0]: must be a mapping with at least one"),
    ({"deny": [{"host": "x"}, {"port": 0}]}, "approval_rules.deny[1].port: must be a port number 1-65535, got 0"),
    ({"deny": [{"port": True}]}, "approval_rules.deny[0].port: must be a port number"),
    ({"allow": [{"hostname": "x"}]}, "approval_rules.allow[0]: unknown key 'hostname'"),
    ({"allow": [{"host": ""}]}, "approval_rules.allow[0].host: must be a non-empty string"),
    ({"alow": []}, "approval_rules.alow: unknown field"),
    ({"reject_unmatched": "yes"}, "approval_rules.reject_unmatched: must be true or false"),
    ({"reason": 3}, "approval_rules.reason: must be a non-empty string"),
    ({"approval_rules": []}, "approval_rules.approval_rules: must be a mapping"),
])
def test_approval_rules_errors_name_the_field(rules, message):
    with pytest.raises(AnsibleFilterError) as exc:
        f.approval_rules(rules)
    assert message in str(exc.value)


def test_approval_duration():
    assert f.approval_duration("") == 0 and f.approval_duration(None) == 0
    assert f.approval_duration(90) == 90 and f.approval_duration("90") == 90
    assert f.approval_duration("30m") == 1800 and f.approval_duration("24h") == 86400
    assert f.approval_duration("1h30m") == 5400 and f.approval_duration("7d") == 604800
    assert f.approval_duration("1w") == 604800 and f.approval_duration(" 2H ") == 7200
    for bad in ("soon", "24", "h", "-1h", "1.5h", [1]):
        if bad == "24":
            continue
        with pytest.raises(AnsibleFilterError) as exc:
            f.approval_duration(bad, "approval_sla")
        assert str(exc.value).startswith("approval_sla: expected a duration")
    with pytest.raises(AnsibleFilterError) as exc:
        f.approval_duration(-5)
    assert "approval_sla: must not be negative" in str(exc.value)


def test_format_age():
    assert [f.format_age(s) for s in (0, 59, 60, 3599, 3600 + 61, 86400 * 2 + 3600, None)] == \
        ["0s", "59s", "1m", "59m", "1h01m", "2d01h", "-"]


def test_table_rows_from_all_hosts():
    table = f.approvals_table(REPORTS, failed_hosts=["host9"])
    lines = table.splitlines()
    assert lines[0].split() == ["HOST", "SANDBOX", "CHUNK", "ENDPOINT", "BINARY", "FIRST", "SEEN", "(UTC)", "AGE",
                                "DECISION"]
    assert lines[1].split()[:8] == ["host1", "openclaw", "c-git", "api.github.com:443", "/usr/bin/git", "2026-05-01",
                                    "10:00:00", "3h05m"]
    assert lines[1].endswith("approve (matched an approve rule)")
    assert lines[2].split()[2] == "c-new" and lines[2].endswith("leave [security-flagged]")
    assert lines[3].split()[2] == "c-pypi" and "2d01h" in lines[3] and lines[3].endswith("reject (older than SLA)")
    assert lines[4] == "3 pending network requests on 3 hosts: approve 1, reject 1, leave 1"
    assert lines[5] == "not reviewed (failed or unreachable): host9"
    # columns line up
    assert len(set(line.index("openclaw") for line in lines[1:4])) == 1
    check = f.approvals_table(REPORTS, check_mode=True)
    assert "would approve (matched an approve rule)" in check and "(check mode: nothing changed)" in check


def test_table_empty_and_bad_input():
    assert f.approvals_table([{"host": "h", "reviews": []}]) == "0 pending network requests on 1 host: approve 0, reject 0, leave 0"
    with pytest.raises(AnsibleFilterError):
        f.approvals_table({"host": "h"})
    with pytest.raises(AnsibleFilterError):
        f.approvals_table(["h"])


def test_overlay_paths():
    assert f.approvals_overlay_paths(REPORTS) == ["/inv/group_vars/all/approved.yml"]
    with pytest.raises(AnsibleFilterError) as exc:
        f.approvals_overlay_paths([dict(REPORTS[1], overlay_file="group_vars/x.yml")])
    assert "approvals_overlay_file: must be an absolute path" in str(exc.value)


def test_overlay_paths_refuse_files_the_playbook_must_not_rewrite(tmp_path):
    path = tmp_path / "approved.yml"
    reports = [dict(REPORTS[1], overlay_file=str(path))]  # host1 has an approved chunk
    assert f.approvals_overlay_paths(reports, "nemoclaw_approved_endpoints") == [str(path)]  # new file
    path.write_text("nemoclaw_approved_endpoints: {}\n%s: {}\n" % f.OVERLAY_VAR)
    assert f.approvals_overlay_paths(reports, "nemoclaw_approved_endpoints") == [str(path)]
    path.write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(AnsibleFilterError, match="vault-encrypted"):
        f.approvals_overlay_paths(reports, "nemoclaw_approved_endpoints")
    with pytest.raises(AnsibleFilterError, match="approvals_overlay_var: must be a variable name"):
        f.approvals_overlay_paths(reports, "x\ninjected: '{{ lookup(\"pipe\", \"id\") }}'")


def test_overlay_never_writes_template_delimiters():
    # A binary the agent proposed would run as code where Ansible reads the vars file back.
    evil = chunk("c-evil", "api.github.com")
    evil["binary"] = "/usr/bin/{{ lookup('pipe', 'touch /tmp/PWNED') }}"
    review = {"sandbox": "s", "pending": [evil], "approved": [evil]}
    reports = [{"host": "h", "overlay_file": "/inv/o.yml", "reviews": [review]}]
    with pytest.raises(AnsibleFilterError, match="template delimiters"):
        f.approvals_overlay(None, reports, "/inv/o.yml")
    # Nor is such a chunk ever approved, whatever the rules say.
    l7 = [{"host": "api.github.com", "port": 443, "allow": ["GET /{#x#}"]}]
    for marked in (dict(evil), dict(chunk("c-2", "api.github.com"), rule="r{% raw %}"),
                   dict(chunk("c-3", "api.github.com"), endpoints=l7)):
        d = compare.approval_decisions([marked], approve=[{"host": "api.github.com"}], approve_all=True)
        assert d["approve"] == [] and "template delimiters" in d["leave"][0][1]
        d = compare.approval_decisions([marked], approve=[{"host": "api.github.com"}], reject_unmatched=True)
        assert d["approve"] == [] and "template delimiters" in d["reject"][0][1]


def test_overlay_merges_and_is_deterministic():
    path = "/inv/group_vars/all/approved.yml"
    existing = yaml.safe_dump({"other": 1, f.OVERLAY_VAR: {"name": "mine", "network_policies": {
        "allow_api_github_com_443": {"name": "allow_api_github_com_443",
                                     "endpoints": [{"host": "api.github.com", "port": 443}],
                                     "binaries": [{"path": "/usr/bin/curl"}]},
        "zzz": {"name": "zzz", "endpoints": [{"host": "z.example.com", "port": 443}], "binaries": [{"path": "/b"}]}}}})
    doc = f.approvals_overlay(existing, REPORTS, path)
    layer = doc[f.OVERLAY_VAR]
    assert doc["other"] == 1 and layer["name"] == "mine" and layer["source"] == "approvals:all/approved.yml"
    assert list(layer["network_policies"]) == ["allow_api_github_com_443", "zzz"]
    binaries = layer["network_policies"]["allow_api_github_com_443"]["binaries"]
    assert binaries == [{"path": "/usr/bin/curl"}, {"path": "/usr/bin/git"}]
    assert f.approvals_overlay(yaml.safe_dump(doc), REPORTS, path) == doc
    fresh = f.approvals_overlay("", REPORTS, path, "my_var")
    assert fresh == {"my_var": {"name": "approvals", "source": "approvals:all/approved.yml", "network_policies": {
        "allow_api_github_com_443": {"name": "allow_api_github_com_443",
                                     "endpoints": [{"host": "api.github.com", "port": 443}],
                                     "binaries": [{"path": "/usr/bin/git"}]}}}}
    # an L7 endpoint keeps its protocol and access
    l7 = chunk("c-l7", "api.example.com", endpoints=[{"host": "api.example.com", "port": 443, "layer": "L7 rest",
                                                      "access": "read-only"}])
    reports = [{"host": "h", "overlay_file": path, "reviews": [{"sandbox": "s", "pending": [l7], "approved": [l7]}]}]
    entry = f.approvals_overlay(None, reports, path)[f.OVERLAY_VAR]["network_policies"]["allow_api_example_com_443"]
    assert entry["endpoints"] == [{"host": "api.example.com", "port": 443, "protocol": "rest", "access": "read-only"}]


def test_overlay_errors():
    path = "/inv/x.yml"
    with pytest.raises(AnsibleFilterError) as exc:
        f.approvals_overlay("- 1\n", REPORTS, path)
    assert "/inv/x.yml: expected a mapping" in str(exc.value)
    with pytest.raises(AnsibleFilterError) as exc:
        f.approvals_overlay({f.OVERLAY_VAR: []}, REPORTS, path)
    assert "must be a mapping" in str(exc.value)
    with pytest.raises(AnsibleFilterError) as exc:
        f.approvals_overlay({f.OVERLAY_VAR: {"network_policies": {"k": {"name": "k", "endpoints": [{"host": "a.b"}]}}}},
                            REPORTS, path)
    assert "/inv/x.yml: blueprint_approved_endpoints.network_policies.k" in str(exc.value)


def test_approval_decisions_sla():
    chunks = [{"id": "a", "endpoints": [{"host": "a.com", "port": 443}]},
              {"id": "b", "endpoints": [{"host": "b.com", "port": 443}]},
              {"id": "c", "endpoints": [{"host": "c.com", "port": 443}], "security": "flagged"},
              {"id": "d", "endpoints": [{"host": "d.com", "port": 443}]}]
    d = compare.approval_decisions(chunks, approve=[{"host": "*.com"}], reject=[{"host": "d.com"}],
                                   expired=["a", "c", "d"])
    assert [(c["id"], r) for c, r in d["approve"]] == [("a", "matched an approve rule"), ("b", "matched an approve rule")]
    assert [(c["id"], r) for c, r in d["reject"]] == [("c", "older than SLA"), ("d", "matched a reject rule")]
    assert d["leave"] == []
    d = compare.approval_decisions(chunks, expired=["b"])
    assert [(c["id"], r) for c, r in d["reject"]] == [("b", "older than SLA")]
    assert [c["id"] for c, _r in d["leave"]] == ["a", "c", "d"]


def test_overlay_keys_never_collide_across_hosts():
    """OpenShell folds '.' and '-' into '_': look-alike hosts get keys of their own, never the legitimate entry."""
    path = "/inv/group_vars/all/approved.yml"
    legit = chunk("c1", "registry.npmjs.org")
    alike = dict(chunk("c2", "registry-npmjs.org"), rule="allow_registry_npmjs_org_443")
    again = chunk("c3", "registry.npmjs.org")
    reports = [{"host": "h", "overlay_file": path, "reviews": [{"sandbox": "s", "approved": [legit, alike, again]}]}]
    policies = f.approvals_overlay(None, reports, path)[f.OVERLAY_VAR]["network_policies"]
    assert sorted(policies) == ["allow_registry-npmjs.org_443", "allow_registry_npmjs_org_443"]
    assert policies["allow_registry_npmjs_org_443"]["endpoints"] == [{"host": "registry.npmjs.org", "port": 443}]
    assert policies["allow_registry-npmjs.org_443"]["endpoints"] == [{"host": "registry-npmjs.org", "port": 443}]
    # the same approvals give the same file
    again_doc = f.approvals_overlay({f.OVERLAY_VAR: {"network_policies": policies}}, reports, path)
    assert again_doc[f.OVERLAY_VAR]["network_policies"] == policies


@pytest.mark.parametrize("rules, message", [
    ({"allow": [{"host": ""}]}, "approval_rules.allow[0].host: must be a non-empty string"),
    ({"allow": [{"id": "  "}]}, "approval_rules.allow[0].id: must be a non-empty string"),
    ({"allow": [{"rule": "allow_registry_npmjs_org_*"}]}, "approval_rules.allow[0].rule: an approve matcher"),
    ({"allow": [{"host": "*.example.com.*"}]}, "approval_rules.allow[0].host:"),
])
def test_approval_rules_refuse_matchers_that_select_too_much(rules, message):
    with pytest.raises(AnsibleFilterError) as exc:
        f.approval_rules(rules)
    assert message in str(exc.value)


def test_filter_and_module_share_one_matcher():
    rules = f.approval_rules({"allow": [{"host": "registry.npmjs.org", "port": 443}]})
    look_alikes = [chunk("a", "registry-npmjs.org"), chunk("b", "registry.npmjs.org.evil", 8080),
                   chunk("c", "registry.npmjs.org.attacker.io")]
    decisions = compare.approval_decisions(look_alikes + [chunk("d", "registry.npmjs.org")], rules["allow"])
    assert [c["id"] for c, _r in decisions["approve"]] == ["d"]
