# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.filter.policy import FilterModule

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
FILTERS = FilterModule().filters()
ENTRY = {"endpoints": [{"host": "api.example.com", "port": 443, "access": "full"}], "binaries": [{"path": "/usr/bin/curl"}]}
BASE = {"version": 1, "network_policies": {"managed_inference": ENTRY}}


def test_filters_registered():
    assert sorted(FILTERS) == ["compose_policy", "policy_diff"]


def test_compose_filter():
    out = FILTERS["compose_policy"]([
        {"name": "baseline", "level": "baseline", "policy": BASE},
        {"name": "inv", "level": "inventory", "source": "host_vars/x.yml", "policy": {"network_policies": {
            "nas": {"endpoints": [{"host": "nas.lan", "port": 80, "access": "full"}], "binaries": [{"path": "/x"}]}}}},
    ], trusted_private_hosts=["nas.lan=192.168.1.5"], agent_required_keys=["managed_inference"])
    assert set(out) == {"policy", "provenance", "middleware_provenance", "excluded"}
    assert out["provenance"]["nas"]["source"] == "host_vars/x.yml"
    assert out["policy"]["network_policies"]["nas"]["endpoints"][0]["allowed_ips"] == ["192.168.1.5"]


def test_compose_filter_errors():
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS["compose_policy"]([{"name": "inv", "level": "inventory", "policy": {}, "exclude": ["managed_inference"]},
                                   {"name": "baseline", "level": "baseline", "policy": BASE}], agent_required_keys=["managed_inference"])
    assert "network_policies.managed_inference" in str(info.value)
    with pytest.raises(AnsibleFilterError):
        FILTERS["compose_policy"]("not a list")


def test_policy_diff_filter():
    after = {"version": 1, "network_policies": {"other": ENTRY}}
    d = FILTERS["policy_diff"](BASE, after)
    assert d["network_policies"] == {"added": ["other"], "removed": ["managed_inference"], "changed": []}
    assert d["changed"] is True
    with pytest.raises(AnsibleFilterError):
        FILTERS["policy_diff"](BASE, "x")
    with pytest.raises(AnsibleFilterError):
        FILTERS["policy_diff"]({"version": 1, "network_policies": {"k": "bad"}}, BASE)


@pytest.mark.parametrize("name", ["compose_policy", "policy_diff"])
def test_filter_docs_parse(name):
    with open(os.path.join(ROOT, "plugins", "filter", name + ".yml")) as f:
        doc = yaml.safe_load(f)
    assert doc["DOCUMENTATION"]["name"] == name
    assert yaml.safe_load(doc["EXAMPLES"])
    assert "_value" in doc["RETURN"]
