# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import copy
import random

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import (
    DYNAMIC_SECTIONS,
    STATIC_SECTIONS,
    ComposedPolicy,
    PolicyError,
    apply_preset_access,
    compose_policy,
    dynamic_equal,
    is_private_host,
    normalize_policy,
    parse_trusted_private_hosts,
    policy_diff,
    static_violations,
    to_yaml_text,
    rule_allows_any_binary,
    validate_policy,
)


def ep(**kw):
    base = {"host": "api.example.com", "port": 443, "protocol": "rest", "enforcement": "enforce",
            "rules": [{"allow": {"method": "GET", "path": "/**"}}]}
    base.update(kw)
    return dict((k, v) for k, v in base.items() if v is not None)


def np_entry(*endpoints, binaries=("/usr/bin/curl",)):
    return {"endpoints": list(endpoints) or [ep()], "binaries": [{"path": b} for b in binaries]}


def doc(**sections):
    d = {"version": 1,
         "filesystem_policy": {"include_workdir": True, "read_only": ["/usr"], "read_write": ["/tmp"]},
         "landlock": {"compatibility": "best_effort"},
         "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
         "network_policies": {"svc": np_entry()}}
    d.update(sections)
    return d


def with_ep(**kw):
    return doc(network_policies={"svc": np_entry(ep(**kw))})


def test_valid_doc_passes():
    validate_policy(doc())


def test_error_str_and_attrs():
    e = PolicyError("a.b[1]", "bad")
    assert str(e) == "a.b[1]: bad" and e.path == "a.b[1]" and e.reason == "bad"
    assert isinstance(e, ValueError)


def test_sections_constants():
    assert STATIC_SECTIONS == ("filesystem_policy", "landlock", "process")
    assert DYNAMIC_SECTIONS == ("network_policies", "network_middlewares")


INVALID = [
    ({"version": 1, "bogus": 1}, "bogus"),
    ({"network_policies": {}}, "version"),
    ({"version": 2}, "version"),
    ({"version": True}, "version"),
    (doc(filesystem_policy={"include_workdir": "yes"}), "filesystem_policy.include_workdir"),
    (doc(filesystem_policy={"read_only": ["usr"]}), "filesystem_policy.read_only[0]"),
    (doc(filesystem_policy={"read_write": ["/tmp", "/a/../b"]}), "filesystem_policy.read_write[1]"),
    (doc(filesystem_policy={"read_write": ["/"]}), "filesystem_policy.read_write[0]"),
    (doc(filesystem_policy={"read_only": ["/x%d" % i for i in range(257)]}), "filesystem_policy"),
    (doc(filesystem_policy={"read_only": ["/" + "a" * 5000]}), "filesystem_policy.read_only[0]"),
    (doc(filesystem_policy={"extra": []}), "filesystem_policy.extra"),
    (doc(landlock={"compatibility": "strict"}), "landlock.compatibility"),
    (doc(landlock={"mode": "x"}), "landlock.mode"),
    (doc(process={"run_as_user": "root"}), "process.run_as_user"),
    (doc(process={"run_as_group": "0"}), "process.run_as_group"),
    (doc(process={"run_as_group": "4294967295"}), "process.run_as_group"),
    (doc(process={"run_as_user": 1000}), "process.run_as_user"),
    (doc(network_policies={"_provider_x": np_entry()}), "network_policies._provider_x"),
    (doc(network_policies={"k" * 300: np_entry()}), "network_policies." + "k" * 300),
    (doc(network_policies={"svc": {"endpoints": [ep()], "binaries": [{"path": "/x"}], "extra": 1}}), "network_policies.svc.extra"),
    (doc(network_policies={"svc": {"endpoints": [], "binaries": [{"path": "/x"}]}}), "network_policies.svc.endpoints"),
    (doc(network_policies={"svc": {"endpoints": [ep()], "binaries": []}}), "network_policies.svc.binaries"),
    (doc(network_policies={"svc": {"endpoints": [ep()], "binaries": None}}), "network_policies.svc.binaries"),
    (doc(network_policies={"svc": {"endpoints": [ep()], "binaries": {"path": "/x"}}}), "network_policies.svc.binaries"),
    (doc(network_policies={"svc": {"binaries": [{"path": "/x"}]}}), "network_policies.svc.endpoints"),
    (doc(network_policies={"svc": {"endpoints": [ep()], "binaries": [{"path": "x"}]}}), "network_policies.svc.binaries[0].path"),
    (doc(network_policies={"svc": {"endpoints": [ep()], "binaries": [{"name": "x"}]}}), "network_policies.svc.binaries[0].name"),
    (doc(network_policies={"svc": {"endpoints": [ep()], "binaries": ["/usr/bin/x"]}}), "network_policies.svc.binaries[0]"),
    (doc(network_policies={"svc": {"name": 5, "endpoints": [ep()], "binaries": [{"path": "/x"}]}}), "network_policies.svc.name"),
    (with_ep(port=0), "network_policies.svc.endpoints[0].port"),
    (with_ep(port=65536), "network_policies.svc.endpoints[0].port"),
    (with_ep(port="443"), "network_policies.svc.endpoints[0].port"),
    (with_ep(port=None, ports=[443, 70000]), "network_policies.svc.endpoints[0].ports[1]"),
    (with_ep(port=443, ports=[443, 8443]), "network_policies.svc.endpoints[0].ports"),
    (with_ep(port=None), "network_policies.svc.endpoints[0].port"),
    (with_ep(protocol="http"), "network_policies.svc.endpoints[0].protocol"),
    (with_ep(tls="none"), "network_policies.svc.endpoints[0].tls"),
    (with_ep(enforcement="block"), "network_policies.svc.endpoints[0].enforcement"),
    (with_ep(rules=None, access="write"), "network_policies.svc.endpoints[0].access"),
    (with_ep(access="full"), "network_policies.svc.endpoints[0].access"),
    (with_ep(host="*"), "network_policies.svc.endpoints[0].host"),
    (with_ep(host="*.com"), "network_policies.svc.endpoints[0].host"),
    (with_ep(host="api.*.example.com"), "network_policies.svc.endpoints[0].host"),
    (with_ep(host="a**.example.com"), "network_policies.svc.endpoints[0].host"),
    (with_ep(host=""), "network_policies.svc.endpoints[0].host"),
    (with_ep(rules=[{"allow": {"method": "GET", "path": "api/**"}}]), "network_policies.svc.endpoints[0].rules[0].allow.path"),
    (with_ep(rules=[{"allow": {"method": "GET", "path": "/a"}}, {"deny": {}}]), "network_policies.svc.endpoints[0].rules[1].deny"),
    (with_ep(rules=[{"allow": {"verb": "GET"}}]), "network_policies.svc.endpoints[0].rules[0].allow.verb"),
    (with_ep(rules=[{"allow": {}}]), "network_policies.svc.endpoints[0].rules"),
    (with_ep(rules=None), "network_policies.svc.endpoints[0].rules"),
    (with_ep(path="api"), "network_policies.svc.endpoints[0].path"),
    (with_ep(protocol="tcp", rules=None), "network_policies.svc.endpoints[0].protocol"),
    (with_ep(protocol="tcp", rules=None, enforcement=None, access="full"), "network_policies.svc.endpoints[0].protocol"),
    (with_ep(protocol="tcp", rules=None, enforcement=None, host="10.0.0.1"), "network_policies.svc.endpoints[0].host"),
    (with_ep(protocol=None, rules=None, enforcement=None, access="full", deny_rules=[{"method": "POST", "path": "/x"}]),
     "network_policies.svc.endpoints[0].deny_rules"),
    (with_ep(protocol="json-rpc", rules=None), "network_policies.svc.endpoints[0].rules"),
    (with_ep(protocol="json-rpc", rules=None, access="full"), "network_policies.svc.endpoints[0].access"),
    (with_ep(protocol="mcp", rules=None), "network_policies.svc.endpoints[0].rules"),
    (with_ep(mcp={"max_body_bytes": 10}), "network_policies.svc.endpoints[0].mcp"),
    (with_ep(protocol="sql", enforcement="enforce"), "network_policies.svc.endpoints[0].enforcement"),
    (with_ep(allowed_ips=["127.0.0.1"]), "network_policies.svc.endpoints[0].allowed_ips[0]"),
    (with_ep(allowed_ips=["not-an-ip"]), "network_policies.svc.endpoints[0].allowed_ips[0]"),
    (with_ep(allowed_ips=["::ffff:127.0.0.1"]), "network_policies.svc.endpoints[0].allowed_ips[0]"),
    (with_ep(allowed_ips=["::ffff:169.254.169.254"]), "network_policies.svc.endpoints[0].allowed_ips[0]"),
    (with_ep(host="g\u043e\u043egle.com"), "network_policies.svc.endpoints[0].host"),
    (with_ep(host="api.example.com\n"), "network_policies.svc.endpoints[0].host"),
    (with_ep(host="1.2.3.999"), "network_policies.svc.endpoints[0].host"),
    (with_ep(host="bad_host.example.com"), "network_policies.svc.endpoints[0].host"),
    (with_ep(protocol="tcp", rules=None, enforcement=None, host="127.1"), "network_policies.svc.endpoints[0].host"),
    (with_ep(rules=[{"allow": {"method": "FROB", "path": "/x"}}]), "network_policies.svc.endpoints[0].rules[0].allow.method"),
    (with_ep(rules=[{"allow": {"method": "GET", "path": "/"}}], deny_rules=[{"method": "FROB", "path": "/x"}]),
     "network_policies.svc.endpoints[0].deny_rules[0].method"),
    (doc(network_policies={"svc": np_entry(binaries=("/usr/bin/../../bin/sh",))}), "network_policies.svc.binaries[0].path"),
    (doc(network_policies={"svc": dict(np_entry(), name="other")}), "network_policies.svc.name"),
    (doc(network_policies={"svc": np_entry(binaries=("/usr//bin/curl",))}), "network_policies.svc.binaries[0].path"),
    (doc(network_policies={"svc": np_entry(binaries=("/usr/bin/curl\n",))}), "network_policies.svc.binaries[0].path"),
    (with_ep(allow_encoded_slash="true"), "network_policies.svc.endpoints[0].allow_encoded_slash"),
    (with_ep(credential_signing="sigv2"), "network_policies.svc.endpoints[0].credential_signing"),
    (with_ep(credential_signing="sigv4"), "network_policies.svc.endpoints[0].signing_service"),
    (with_ep(credential_signing="sigv4", signing_service="s3", request_body_credential_rewrite=True),
     "network_policies.svc.endpoints[0].request_body_credential_rewrite"),
    (with_ep(persisted_queries="maybe"), "network_policies.svc.endpoints[0].persisted_queries"),
    (with_ep(protocol="graphql", rules=[{"allow": {"operation_type": "delete"}}]), "network_policies.svc.endpoints[0].rules[0].allow.operation_type"),
    (with_ep(credential_binding={"provider": ""}), "network_policies.svc.endpoints[0].credential_binding.provider"),
    (with_ep(unknown_field=1), "network_policies.svc.endpoints[0].unknown_field"),
    (with_ep(rules=[{"allow": {"method": "GET", "path": "/", "query": {"q": {"all": []}}}}]),
     "network_policies.svc.endpoints[0].rules[0].allow.query.q.all"),
    (doc(network_middlewares={"m%d" % i: {"middleware": "x", "order": i, "endpoints": {"include": ["a.com"]}} for i in range(11)}),
     "network_middlewares"),
    (doc(network_middlewares={"m": {"order": 1, "endpoints": {"include": ["a.com"]}}}), "network_middlewares.m.middleware"),
    (doc(network_middlewares={"m": {"middleware": "x", "endpoints": {"include": []}}}), "network_middlewares.m.endpoints.include"),
    (doc(network_middlewares={"m": {"middleware": "x"}}), "network_middlewares.m.endpoints"),
    (doc(network_middlewares={"m": {"middleware": "x", "on_error": "ignore", "endpoints": {"include": ["a.com"]}}}), "network_middlewares.m.on_error"),
    (doc(network_middlewares={"a": {"middleware": "x", "order": 1, "endpoints": {"include": ["a.com"]}},
                              "b": {"middleware": "y", "order": 1, "endpoints": {"include": ["b.com"]}}}), "network_middlewares.b.order"),
    (doc(network_middlewares={"m": {"middleware": "x", "endpoints": {"include": ["a.com"]}, "priority": 1}}), "network_middlewares.m.priority"),
]


@pytest.mark.parametrize("policy,path", INVALID, ids=["%02d-%s" % (i, p[1][:40]) for i, p in enumerate(INVALID)])
def test_invalid_policies(policy, path):
    with pytest.raises(PolicyError) as info:
        validate_policy(policy)
    assert info.value.path == path
    assert path in str(info.value)


def test_validate_path_prefix():
    with pytest.raises(PolicyError) as info:
        validate_policy({"version": 1, "landlock": {"compatibility": "x"}}, path="layer")
    assert info.value.path == "layer.landlock.compatibility"


@pytest.mark.parametrize("endpoint", [
    ep(host="*.example.com"), ep(host="**.example.com"), ep(host="*-aiplatform.googleapis.com"),
    ep(port=None, ports=[80, 443]), ep(rules=None, access="read-only"),
    ep(protocol=None, rules=None, enforcement=None, access="full", tls="skip"),
    ep(protocol="tcp", rules=None, enforcement=None, host="db.example.com"),
    ep(host="", protocol=None, rules=None, enforcement=None, allowed_ips=["10.0.0.0/8"]),
    ep(protocol="mcp", rules=None, mcp={"allow_all_known_mcp_methods": True}),
    ep(protocol="json-rpc", rules=[{"allow": {"method": "*"}}], json_rpc={"max_body_bytes": 1000}),
    ep(protocol="graphql", rules=[{"allow": {"operation_type": "query", "fields": ["viewer"]}}]),
    ep(rules=None, access="read-write", deny_rules=[{"method": "POST", "path": "/admin/**"}]),
    ep(protocol="sql", enforcement="audit", rules=None, access="full"),
    ep(credential_signing="sigv4", signing_service="bedrock", signing_region="us-east-1"),
    ep(rules=[{"allow": {"method": "GET", "path": "**", "query": {"q": "a*", "r": {"any": ["x", "y"]}}}}]),
])
def test_valid_endpoints(endpoint):
    validate_policy(doc(network_policies={"svc": np_entry(endpoint)}))


def test_normalize_defaults_and_dedupe():
    raw = {
        "version": 1,
        "filesystem_policy": {"read_only": ["/usr/", "/usr", "//etc"], "read_write": []},
        "landlock": {},
        "process": {"run_as_user": "", "run_as_group": ""},
        "network_policies": {"b": {"endpoints": [ep(port=None, ports=[443]), ep(port=None, ports=[443]),
                                                 ep(allow_encoded_slash=False, tls="")],
                                   "binaries": [{"path": "/x", "harness": True}, {"path": "/x"}]},
                             "a": {"name": "A", "endpoints": [ep(port=None, ports=[80, 443, 80])], "binaries": [{"path": "/y"}]}},
        "network_middlewares": {"m": {"middleware": "openshell/regex", "order": 0, "config": {}, "endpoints": {"include": ["a.com"], "exclude": []}}},
    }
    n = normalize_policy(raw)
    assert n["filesystem_policy"] == {"include_workdir": False, "read_only": ["/usr", "/etc"]}
    assert n["landlock"] == {}
    assert "process" not in n
    assert n["network_policies"]["b"]["name"] == "b"
    assert n["network_policies"]["b"]["endpoints"] == [
        {"host": "api.example.com", "port": 443, "protocol": "rest", "enforcement": "enforce", "rules": [{"allow": {"method": "GET", "path": "/**"}}]}]
    assert n["network_policies"]["b"]["binaries"] == [{"path": "/x"}]
    assert n["network_policies"]["a"]["name"] == "A"
    assert n["network_policies"]["a"]["endpoints"][0]["ports"] == [80, 443]
    assert n["network_middlewares"] == {"m": {"name": "m", "middleware": "openshell/regex", "endpoints": {"include": ["a.com"]}}}
    assert normalize_policy(n) == n


def test_normalize_key_order_irrelevant():
    a = doc()
    b = dict(reversed(list(copy.deepcopy(a).items())))
    assert normalize_policy(a) == normalize_policy(b)


def test_normalize_mcp_and_params():
    raw = doc(network_policies={"m": np_entry(
        ep(protocol="mcp", mcp={"allow_all_known_mcp_methods": True, "max_body_bytes": 100},
           rules=[{"allow": {"method": "tools/call", "params": {"name": "search"}}}, {"allow": {"method": "*"}}]),
        ep(rules=[{"allow": {"method": "GET", "path": "/", "tool": "t", "params": {"a": {"b": "x"}}}}]),
        ep(protocol="json-rpc", rules=[{"allow": {"method": "x"}}], json_rpc={"max_body_bytes": 5}),
    )})
    n = normalize_policy(raw)["network_policies"]["m"]["endpoints"]
    assert n[0]["rules"][0] == {"allow": {"tool": "search"}}
    assert n[0]["rules"][1] == {"allow": {}}
    assert n[0]["mcp"] == {"max_body_bytes": 100, "allow_all_known_mcp_methods": True}
    assert n[1]["rules"][0]["allow"]["params"] == {"a.b": "x", "name": "t"}
    assert n[2]["json_rpc"] == {"max_body_bytes": 5}


def test_static_violations():
    cur = doc()
    assert static_violations(cur, cur) == []
    grow = doc(filesystem_policy={"include_workdir": True, "read_only": ["/usr", "/opt"], "read_write": ["/tmp"]})
    assert static_violations(cur, grow) == []
    bad = doc(filesystem_policy={"include_workdir": False, "read_only": [], "read_write": ["/tmp"]},
              landlock={"compatibility": "hard_requirement"}, process={"run_as_user": "1000"})
    reasons = static_violations(cur, bad)
    assert any(r.startswith("filesystem_policy: include_workdir") for r in reasons)
    assert any("read_only path /usr" in r for r in reasons)
    assert any(r.startswith("landlock:") for r in reasons)
    assert any(r.startswith("process:") for r in reasons)
    nofs = doc()
    del nofs["filesystem_policy"]
    assert static_violations(cur, nofs) == ["filesystem_policy: cannot be removed on a live sandbox"]


def test_dynamic_equal_and_diff():
    a = doc()
    b = doc(network_policies={"svc": np_entry(ep(port=8443)), "new": np_entry()}, landlock={"compatibility": "hard_requirement"})
    assert dynamic_equal(a, copy.deepcopy(a))
    assert not dynamic_equal(a, b)
    d = policy_diff(a, b)
    assert d["network_policies"] == {"added": ["new"], "removed": [], "changed": ["svc"]}
    assert d["static_changed"] == ["landlock"]
    assert d["changed"] is True
    assert policy_diff(a, a)["changed"] is False
    assert policy_diff(b, a)["network_policies"]["removed"] == ["new"]


def test_to_yaml_text_stable_and_parseable():
    import yaml
    d = normalize_policy(doc(network_policies={"svc": np_entry(ep(host="*.example.com")), "yes": np_entry()}))
    text = to_yaml_text(d)
    assert text == to_yaml_text(copy.deepcopy(d))
    assert yaml.safe_load(text) == d
    assert to_yaml_text({"a": [], "b": {}, "c": None, "d": [[1, 2], {"x": "true"}]}).splitlines()[:3] == ["a: []", "b: {}", "c: null"]
    assert yaml.safe_load(to_yaml_text({"d": [[1, 2], {"x": "true"}], "e": 1.5})) == {"d": [[1, 2], {"x": "true"}], "e": 1.5}


@pytest.mark.parametrize("host,private", [
    ("10.1.2.3", True), ("192.168.0.1", True), ("172.16.5.4", True), ("100.64.1.1", True), ("127.0.0.1", True),
    ("169.254.1.1", True), ("fd00::1", True), ("fe80::1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("nas.local", True), ("host.openshell.internal", True), ("8.8.8.8", False), ("example.com", False), ("", False),
    # every spelling the resolver reads as a private address (issue 19)
    ("127.1", True), ("2130706433", True), ("0x7f000001", True), ("0177.0.0.1", True), ("10.1", True),
    ("0251.0376.0251.0376", True), ("2852039166", True), ("::ffff:127.0.0.1", True), ("[::ffff:7f00:1]", True),
    ("LOCALHOST.", True), ("localhost.", True), ("NAS.Local", True), ("*.internal", True), ("fe80::1%eth0", True),
    ("g\u043e\u043egle.com", True), ("134744072", False), ("*.example.com", False), ("Example.COM.", False),
])
def test_is_private_host(host, private):
    assert is_private_host(host) is private


def test_parse_trusted_private_hosts():
    t = parse_trusted_private_hosts(["10.0.0.5", "nas.lan=192.168.1.11,192.168.1.10", {"host": "NAS2.lan", "allowed_ips": ["192.168.1.12"]}, "bare.lan"])
    assert t == {"10.0.0.5": ["10.0.0.5"], "nas.lan": ["192.168.1.10", "192.168.1.11"], "nas2.lan": ["192.168.1.12"], "bare.lan": []}
    with pytest.raises(PolicyError) as info:
        parse_trusted_private_hosts(["x.lan=nope"])
    assert "trusted_private_hosts[0].allowed_ips[0]" in str(info.value)
    with pytest.raises(PolicyError):
        parse_trusted_private_hosts([5])
    assert parse_trusted_private_hosts(["nas.lan = 192.168.1.10"]) == {"nas.lan": ["192.168.1.10"]}


@pytest.mark.parametrize("item,path", [("--x", "trusted_private_hosts[0]"), ("not a host", "trusted_private_hosts[0]"),
                                       ("*", "trusted_private_hosts[0]"), ("n\u0430s.lan=10.0.0.1", "trusted_private_hosts[0]"),
                                       ({"host": "a..b", "allowed_ips": []}, "trusted_private_hosts[0].host")])
def test_trusted_private_hosts_are_hosts(item, path):
    with pytest.raises(PolicyError) as info:
        parse_trusted_private_hosts([item])
    assert info.value.path == path and info.value.reason.startswith("host ")


# --------------------------------------------------------------------- composition

BASE = {
    "version": 1,
    "filesystem_policy": {"include_workdir": True, "read_only": ["/usr", "/etc"], "read_write": ["/tmp"]},
    "landlock": {"compatibility": "best_effort"},
    "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
    "network_policies": {
        "managed_inference": np_entry(ep(host="inference.local")),
        "docs": np_entry(ep(host="docs.example.com")),
    },
}


def layer(name, level, policy, **kw):
    out = {"name": name, "level": level, "source": "%s.yaml" % name, "policy": policy}
    out.update(kw)
    return out


def nps(**entries):
    return {"network_policies": entries}


def test_compose_basic_provenance_and_validity():
    c = compose_policy([
        layer("baseline", "baseline", BASE),
        layer("preset:npm", "tier", nps(npm=np_entry(ep(host="registry.npmjs.org")))),
        layer("custom:mine", "custom", nps(mine=np_entry(ep(host="mine.example.com")))),
    ])
    assert isinstance(c, ComposedPolicy)
    validate_policy(c.policy)
    assert sorted(c.policy["network_policies"]) == ["docs", "managed_inference", "mine", "npm"]
    assert c.provenance["npm"] == {"layer": "preset:npm", "source": "preset:npm.yaml", "level": "tier"}
    assert c.provenance["docs"]["layer"] == "baseline"
    policy, prov = c
    assert policy is c.policy and prov is c.provenance
    assert c == compose_policy([layer("baseline", "baseline", BASE), layer("preset:npm", "tier", nps(npm=np_entry(ep(host="registry.npmjs.org")))),
                                layer("custom:mine", "custom", nps(mine=np_entry(ep(host="mine.example.com"))))])
    assert "ComposedPolicy" in repr(c)


# ------------------------------------------------------------------ rules without binaries (any binary)

def test_rule_without_binaries_means_any_binary():
    # OpenShell (crates/openshell-policy/src/merge.rs): an empty binary list authorizes every binary.
    rule = {"endpoints": [ep()]}
    validate_policy(doc(network_policies={"svc": rule}))
    n = normalize_policy(doc(network_policies={"svc": rule}))
    assert "binaries" not in n["network_policies"]["svc"]
    assert rule_allows_any_binary(n["network_policies"]["svc"]) and rule_allows_any_binary(rule)
    assert not rule_allows_any_binary(np_entry()) and not rule_allows_any_binary(None)
    with pytest.raises(PolicyError) as info:
        validate_policy(doc(network_policies={"svc": {"endpoints": [ep()], "binaries": []}}))
    assert "omit binaries to allow any binary" in str(info.value)


def test_compose_flags_any_binary_in_provenance():
    anyb = {"name": "nim_service", "endpoints": [ep(host="nim.example.com", port=8000)]}
    c = compose_policy([layer("baseline", "baseline", BASE), layer("agent:additions", "agent", nps(nim_service=anyb)),
                        layer("preset:npm", "tier", nps(npm=np_entry(ep(host="registry.npmjs.org"))))])
    validate_policy(c.policy)
    assert "binaries" not in c.policy["network_policies"]["nim_service"]
    assert c.provenance["nim_service"] == {"layer": "agent:additions", "source": "agent:additions.yaml", "level": "agent",
                                           "any_binary": True}
    assert "any_binary" not in c.provenance["npm"] and "any_binary" not in c.provenance["docs"]
    # an override that names binaries narrows the rule; the flag follows the winning definition
    c = compose_policy([layer("agent:additions", "agent", nps(nim_service=anyb)),
                        layer("inv", "inventory", nps(nim_service=np_entry(ep(host="nim.example.com", port=8000))), override=True)])
    assert "any_binary" not in c.provenance["nim_service"]
    assert c.provenance["nim_service"]["overrides"] == {"layer": "agent:additions", "source": "agent:additions.yaml"}
    # and the other way round: an override that drops binaries widens it, flagged
    c = compose_policy([layer("agent:additions", "agent", nps(nim_service=np_entry(ep(host="nim.example.com", port=8000)))),
                        layer("inv", "inventory", nps(nim_service=anyb), override=True)])
    assert c.provenance["nim_service"]["any_binary"] is True
    # a malformed binaries list is still refused, naming the layer
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("preset:x", "tier", nps(x={"endpoints": [ep()], "binaries": [{"path": "rel/bin"}]}))])
    assert info.value.path == "network_policies.x.binaries[0].path" and "preset:x" in str(info.value)


def test_compose_order_independent():
    layers = [layer("baseline", "baseline", BASE)] + [
        layer("preset:p%d" % i, "tier", nps(**{"p%d" % i: np_entry(ep(host="p%d.example.com" % i))})) for i in range(8)]
    layers.append(layer("preset:same", "tier", nps(p1=np_entry(ep(host="p1.example.com")))))
    layers.append(layer("inv", "inventory", nps(extra=np_entry(ep(host="x.example.com")))))
    ref = compose_policy(layers)
    for seed in range(5):
        shuffled = list(layers)
        random.Random(seed).shuffle(shuffled)
        got = compose_policy(shuffled)
        assert got.policy == ref.policy and got.provenance == ref.provenance
    assert ref.provenance["p1"]["layer"] == "preset:p1"


def test_compose_identical_definitions_merge():
    c = compose_policy([layer("baseline", "baseline", BASE), layer("dup", "tier", nps(docs=copy.deepcopy(BASE["network_policies"]["docs"])))])
    assert c.provenance["docs"]["layer"] == "baseline"


def test_compose_conflict_names_both_sources():
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("baseline", "baseline", BASE), layer("preset:docs", "tier", nps(docs=np_entry(ep(host="other.example.com"))))])
    msg = str(info.value)
    assert info.value.path == "network_policies.docs"
    assert "baseline (baseline.yaml)" in msg and "preset:docs (preset:docs.yaml)" in msg


def test_compose_same_level_conflict_even_with_override():
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("a", "tier", nps(k=np_entry(ep(host="a.example.com"))), override=True),
                        layer("b", "tier", nps(k=np_entry(ep(host="b.example.com"))), override=True)])
    assert "same level" in str(info.value)


@pytest.mark.parametrize("override", [True, ["docs"]])
def test_compose_override(override):
    c = compose_policy([layer("baseline", "baseline", BASE),
                        layer("inv", "inventory", nps(docs=np_entry(ep(host="other.example.com"))), override=override)])
    assert c.policy["network_policies"]["docs"]["endpoints"][0]["host"] == "other.example.com"
    assert c.provenance["docs"]["overrides"] == {"layer": "baseline", "source": "baseline.yaml"}


def test_compose_override_list_other_key_is_conflict():
    with pytest.raises(PolicyError):
        compose_policy([layer("baseline", "baseline", BASE),
                        layer("inv", "inventory", nps(docs=np_entry(ep(host="other.example.com"))), override=["nope"])])


def test_compose_exclusions():
    c = compose_policy([layer("baseline", "baseline", BASE), layer("inv", "inventory", {}, exclude=["docs"])],
                       agent_required_keys=["managed_inference"])
    assert "docs" not in c.policy["network_policies"]
    assert c.excluded["docs"] == {"layer": "inv", "source": "inv.yaml", "was": {"layer": "baseline", "source": "baseline.yaml"}}


def test_compose_exclusion_of_required_refused():
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("baseline", "baseline", BASE), layer("inv", "inventory", {}, exclude=["managed_inference"])],
                       agent_required_keys=["managed_inference"])
    assert info.value.path == "network_policies.managed_inference" and "refused" in str(info.value)


def test_compose_exclusion_unknown_key():
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("baseline", "baseline", BASE), layer("inv", "inventory", {}, exclude=["nope"])])
    assert info.value.path == "inv.exclude"


def test_compose_exclusion_twice_and_readd():
    c = compose_policy([layer("baseline", "baseline", BASE), layer("g", "inventory", {}, exclude=["docs"]),
                        layer("h", "inventory", {}, exclude=["docs"])])
    assert "docs" not in c.policy["network_policies"]
    c = compose_policy([layer("baseline", "baseline", BASE), layer("g", "custom", {}, exclude=["docs"]),
                        layer("h", "inventory", nps(docs=np_entry(ep(host="new.example.com"))))])
    assert c.provenance["docs"]["layer"] == "h"


def test_compose_required_key_missing():
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("baseline", "baseline", BASE)], agent_required_keys=["nvidia"])
    assert info.value.path == "network_policies.nvidia"


def test_compose_filesystem_union_and_static():
    c = compose_policy([layer("baseline", "baseline", BASE),
                        layer("agent", "agent", {"filesystem_policy": {"read_only": ["/opt/x", "/usr"], "read_write": ["/sandbox/.a/"]},
                                                 "landlock": {"compatibility": "best_effort"}})])
    fs = c.policy["filesystem_policy"]
    assert fs["read_only"] == ["/usr", "/etc", "/opt/x"] and fs["read_write"] == ["/tmp", "/sandbox/.a"]
    assert fs["include_workdir"] is True


@pytest.mark.parametrize("section,value", [
    ("landlock", {"compatibility": "hard_requirement"}),
    ("process", {"run_as_user": "1000"}),
    ("filesystem_policy", {"include_workdir": False}),
])
def test_compose_static_conflict_and_override(section, value):
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("baseline", "baseline", BASE), layer("inv", "inventory", {section: value})])
    assert info.value.path == section and "baseline (baseline.yaml)" in str(info.value)
    c = compose_policy([layer("baseline", "baseline", BASE), layer("inv", "inventory", {section: value}, override=[section])])
    if section == "filesystem_policy":
        assert c.policy[section]["include_workdir"] is False
    else:
        assert c.policy[section] == value


def test_compose_private_requires_trust():
    priv = nps(nas=np_entry(ep(host="nas.lan", port=8080)))
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("baseline", "baseline", BASE), layer("custom:nas", "custom", priv)])
    assert info.value.path == "network_policies.nas.endpoints[0].host"
    assert "custom:nas" in str(info.value)
    c = compose_policy([layer("baseline", "baseline", BASE), layer("custom:nas", "custom", priv)],
                       trusted_private_hosts=["nas.lan=192.168.1.10"])
    assert c.policy["network_policies"]["nas"]["endpoints"][0]["allowed_ips"] == ["192.168.1.10"]
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("custom:nas", "custom", priv)], trusted_private_hosts=["nas.lan"])
    assert "no addresses" in str(info.value)


def test_compose_private_ip_literal_and_allowed_ips():
    c = compose_policy([layer("p", "tier", nps(db=np_entry(ep(host="10.1.2.3"))))], trusted_private_hosts=["10.1.2.3"])
    assert c.policy["network_policies"]["db"]["endpoints"][0]["allowed_ips"] == ["10.1.2.3"]
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("p", "tier", nps(db=np_entry(ep(host="api.example.com", allowed_ips=["10.0.0.0/8"]))))])
    assert info.value.path == "network_policies.db.endpoints[0].host"
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("p", "tier", nps(db=np_entry(ep(host="", protocol=None, rules=None, enforcement=None, allowed_ips=["10.0.0.0/8"]))))])
    assert info.value.path == "network_policies.db.endpoints[0].allowed_ips"
    # loopback can never be pinned (OpenShell rejects loopback allowed_ips)
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("p", "tier", nps(lo=np_entry(ep(host="localhost"))))], trusted_private_hosts=["localhost=127.0.0.1"])
    assert "allowed_ips" in info.value.path


@pytest.mark.parametrize("host,cls", [
    ("127.1", "loopback"), ("2130706433", "loopback"), ("0x7f000001", "loopback"), ("0177.0.0.1", "loopback"),
    ("10.1", "private"), ("0251.0376.0251.0376", "metadata"), ("2852039166", "metadata"), ("[::ffff:127.0.0.1]", "loopback"),
    ("192.168.1.20", "private"), ("LOCALHOST.", "local-name"), ("metadata.google.internal", "metadata"),
])
def test_compose_refuses_every_private_spelling_in_a_custom_preset(host, cls):
    # A custom preset with host 127.1 or 2852039166 (= 169.254.169.254) was planned; now it is
    # refused exactly like 192.168.1.20.
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("baseline", "baseline", BASE), layer("custom:x", "custom", nps(x=np_entry(ep(host=host))))])
    assert info.value.path == "network_policies.x.endpoints[0].host"
    assert "private or loopback destination (%s)" % cls in str(info.value) and "custom:x" in str(info.value)


def test_compose_trusted_hosts_compare_after_normalisation():
    c = compose_policy([layer("p", "tier", nps(db=np_entry(ep(host="10.1"))))], trusted_private_hosts=["10.0.0.1"])
    assert c.policy["network_policies"]["db"]["endpoints"][0]["allowed_ips"] == ["10.0.0.1"]
    c = compose_policy([layer("p", "tier", nps(db=np_entry(ep(host="NAS.lan."))))], trusted_private_hosts=["nas.lan=192.168.1.10"])
    assert c.policy["network_policies"]["db"]["endpoints"][0]["allowed_ips"] == ["192.168.1.10"]
    # loopback and metadata stay refused even when listed: they cannot be pinned
    for host, trusted in (("127.1", "127.0.0.1"), ("2852039166", "169.254.169.254")):
        with pytest.raises(PolicyError) as info:
            compose_policy([layer("p", "tier", nps(x=np_entry(ep(host=host))))], trusted_private_hosts=[trusted])
        assert "allowed_ips" in info.value.path


def test_compose_baseline_private_is_trusted():
    c = compose_policy([layer("baseline", "baseline", nps(gw=np_entry(ep(host="10.200.0.2", allowed_ips=["10.200.0.2/32"]))))])
    assert c.provenance["gw"]["layer"] == "baseline"
    c = compose_policy([layer("agent", "agent", nps(nim=np_entry(ep(host="nim-service.local"))))])
    assert "allowed_ips" not in c.policy["network_policies"]["nim"]["endpoints"][0]
    with pytest.raises(PolicyError):
        compose_policy([layer("agent", "agent", nps(nim=np_entry(ep(host="nim-service.local"))), trusted=False)])


def test_compose_middlewares_provenance_and_conflict():
    mw = {"network_middlewares": {"redact": {"middleware": "openshell/regex", "order": 10, "endpoints": {"include": ["*.example.com"]}}}}
    c = compose_policy([layer("baseline", "baseline", BASE), layer("inv", "inventory", mw)])
    assert c.middleware_provenance["redact"]["layer"] == "inv"
    assert c.as_dict()["policy"]["network_middlewares"]["redact"]["order"] == 10
    mw2 = {"network_middlewares": {"redact": {"middleware": "openshell/other", "order": 10, "endpoints": {"include": ["*.example.com"]}}}}
    with pytest.raises(PolicyError) as info:
        compose_policy([layer("a", "custom", mw), layer("b", "inventory", mw2)])
    assert info.value.path == "network_middlewares.redact"


@pytest.mark.parametrize("layers,path", [
    ([{"name": "a", "policy": {}, "bogus": 1}], "layers[0].bogus"),
    ([{"policy": {}}], "layers[0].name"),
    ([{"name": "a", "policy": {}}, {"name": "a", "policy": {}}], "layers[1].name"),
    ([{"name": "a", "level": "weird", "policy": {}}], "layers[0].level"),
    ([{"name": "a", "level": 1.5, "policy": {}}], "layers[0].level"),
    ([{"name": "a", "policy": []}], "layers[0].policy"),
    ([{"name": "a", "policy": {}, "trusted": "yes"}], "layers[0].trusted"),
    ([{"name": "a", "policy": {"version": 2}}], "version"),
    ([{"name": "a", "policy": {"extra": {}}}], "extra"),
    ([{"name": "a", "policy": nps(k=np_entry(ep(port=0)))}], "network_policies.k.endpoints[0].port"),
    ([{"name": "a", "policy": nps(_provider_x=np_entry())}], "network_policies._provider_x"),
    ([{"name": "a", "policy": {"landlock": {"compatibility": "x"}}}], "landlock.compatibility"),
    ([{"name": "a", "policy": {"network_middlewares": {"m": {"middleware": ""}}}}], "network_middlewares.m.middleware"),
])
def test_compose_invalid_layers(layers, path):
    with pytest.raises(PolicyError) as info:
        compose_policy(layers)
    assert info.value.path == path


def test_compose_integer_levels():
    c = compose_policy([layer("low", 1, nps(k=np_entry(ep(host="a.example.com")))),
                        layer("high", 5, nps(k=np_entry(ep(host="b.example.com"))), override=["k"])])
    assert c.provenance["k"] == {"layer": "high", "source": "high.yaml", "level": "5", "overrides": {"layer": "low", "source": "low.yaml"}}


def test_apply_preset_access():
    frag = nps(svc=np_entry(ep(rules=[{"allow": {"method": "GET", "path": "/a"}}, {"allow": {"method": "POST", "path": "/a"}},
                                      {"allow": {"method": "*", "path": "/b"}}], request_body_credential_rewrite=True),
                            ep(host="w.example.com", rules=None, access="full"),
                            ep(host="p.example.com", rules=[{"allow": {"method": "POST", "path": "/"}}])))
    assert apply_preset_access(frag, "read-write") is frag
    r = apply_preset_access(frag, "read")
    eps = r["network_policies"]["svc"]["endpoints"]
    assert [x["allow"]["method"] for x in eps[0]["rules"]] == ["GET", "GET", "HEAD"]
    assert "request_body_credential_rewrite" not in eps[0]
    assert eps[1]["access"] == "read-only"
    assert len(eps) == 2
    with pytest.raises(PolicyError) as info:
        apply_preset_access(nps(svc=np_entry(ep(protocol=None, rules=None, enforcement=None, access="full"))), "read")
    assert info.value.path == "preset.network_policies.svc.endpoints[0]"
    with pytest.raises(PolicyError):
        apply_preset_access(frag, "write")
    empty = apply_preset_access(nps(svc=np_entry(ep(rules=[{"allow": {"method": "DELETE", "path": "/"}}]))), "read")
    assert empty["network_policies"] == {}
