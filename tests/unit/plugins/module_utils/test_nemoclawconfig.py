# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""NemoClawConfig import/export (module_utils/nemoclawconfig.py) on documents written from
NemoClaw's published v1alpha1 schema (tests/unit/fixtures/nemoclawconfig/README.md)."""

from __future__ import annotations

import copy
import glob
import json
import os

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import desired
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import nemoclawconfig as ncc
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nemoclawconfig")
VALID = sorted(os.path.basename(p) for p in glob.glob(os.path.join(FIXTURES, "*.yaml")))
# Files YAML itself refuses are .txt, so that yamllint (ansible-test sanity) leaves them alone.
INVALID = sorted(os.path.basename(p) for p in glob.glob(os.path.join(FIXTURES, "invalid", "*.yaml"))
                 + glob.glob(os.path.join(FIXTURES, "invalid", "*.txt")))
PROFILES = ncc.shipped_profiles()


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return ncc.load_document(handle.read(), name)


# What each fixture imports to (only the keys the document sets).
EXPECTED = {
    "minimal.yaml": [{"name": "assistant", "agent": "openclaw", "tier": "restricted"}],
    "hermes.yaml": [{"name": "helper", "agent": "hermes", "profile": "ncp",
                     "endpoint_url": "https://ncp.partner.example/v1", "tier": "restricted"}],
    "multi.yaml": [
        {"name": "alpha", "agent": "openclaw", "tier": "restricted"},
        {"name": "beta", "agent": "openclaw", "model": "nvidia/llama-3.1-nemotron-ultra-253b-v1", "tier": "restricted"},
        {"name": "gamma", "agent": "openclaw", "profile": "nim-local", "tier": "restricted"},
    ],
    "openclaw-full.yaml": [{
        "name": "research", "agent": "openclaw",
        "config": {"agents": {"defaults": {"thinkingDefault": "low"}}, "ui": {"assistant": {"name": "Research"}}},
        "model": "nvidia/llama-3.3-nemotron-super-49b-v1.5", "tier": "restricted",
        "policy_overlays": [{
            "name": "nemoclaw-explicit", "source": "NemoClawConfig sandbox research network.policy.explicit",
            "override": True,
            "network_policies": {
                "nvidia": {"name": "nvidia", "endpoints": [{"host": "integrate.api.nvidia.com", "port": 443}],
                           "binaries": [{"path": "/usr/local/bin/openclaw"}]},
                "github": {"name": "github", "endpoints": [{"host": "api.github.com", "port": 443, "protocol": "rest",
                                                            "access": "read-only"}],
                           "binaries": [{"path": "/usr/bin/git"}, {"path": "/usr/bin/gh"}]},
            },
            "filesystem_policy": {"include_workdir": False, "read_only": ["/usr", "/app"], "read_write": ["/sandbox", "/tmp"]},
        }],
    }],
    "fleet-extension.yaml": [{
        "name": "ops", "agent": "openclaw", "config": {"agents": {"defaults": {"thinkingDefault": "medium"}}},
        "tier": "balanced", "presets": ["github"], "resources": {"cpu": "2", "memory": "8Gi"}, "labels": {"team": "ops"},
        "channels": [{"type": "telegram", "credential": "OPS_TELEGRAM_BOT_TOKEN"},
                     {"type": "slack", "credentials": {"SLACK_BOT_TOKEN": "OPS_SLACK_BOT_TOKEN",
                                                       "SLACK_APP_TOKEN": "OPS_SLACK_APP_TOKEN"}}],
        "mcp_servers": [{"name": "tickets", "url": "https://mcp.tickets.example/mcp", "deny_tools": ["delete_ticket"]}],
        "providers": [{"name": "github", "type": "github", "credentials": ["OPS_GITHUB_TOKEN"]}],
    }],
}


def test_every_valid_fixture_has_an_expectation():
    assert sorted(EXPECTED) == VALID


@pytest.mark.parametrize("name", VALID)
def test_import_fixture(name):
    agents, secrets, _warnings = ncc.to_agents(load(name), PROFILES)
    assert agents == EXPECTED[name]
    # The result is a valid desired state as it stands.
    assert [e["name"] for e in desired.normalize(copy.deepcopy(agents))] == [e["name"] for e in agents]
    assert secrets and all(desired._SECRET_NAME_RE.fullmatch(s) for s in secrets)  # pylint: disable=protected-access


def test_import_defaults_to_the_shipped_blueprints():
    assert ncc.to_agents(load("hermes.yaml")) == ncc.to_agents(load("hermes.yaml"), PROFILES)
    assert set(PROFILES) == {"openclaw", "hermes"}
    assert PROFILES["openclaw"]["default"] == "default" and PROFILES["openclaw"]["profiles"]["ncp"]["dynamic_endpoint"]


def test_secrets_name_what_needs_them():
    _agents, secrets, _warnings = ncc.to_agents(load("fleet-extension.yaml"), PROFILES)
    assert secrets == {
        "NVIDIA_INFERENCE_API_KEY": ["inference of ops"],
        "OPS_GITHUB_TOKEN": ["provider github of ops"],
        "OPS_SLACK_APP_TOKEN": ["channel slack of ops"],
        "OPS_SLACK_BOT_TOKEN": ["channel slack of ops"],
        "OPS_TELEGRAM_BOT_TOKEN": ["channel telegram of ops"],
    }
    _agents, secrets, _warnings = ncc.to_agents(load("multi.yaml"), PROFILES)
    assert secrets == {"NIM_API_KEY": ["inference of gamma"],
                       "NVIDIA_INFERENCE_API_KEY": ["inference of alpha", "inference of beta"]}


def test_every_unimported_field_is_a_warning_with_its_path():
    _agents, _secrets, warnings = ncc.to_agents(load("openclaw-full.yaml"), PROFILES)
    paths = sorted(w.split(": ", 1)[0] for w in warnings)
    assert paths == sorted([
        "spec.gateway",
        "spec.integrations",
        "spec.inferenceProviders[0].credential.env",
        "spec.sandboxes[0].harness.execution",
        "spec.sandboxes[0].harness.interfaces",
        "spec.sandboxes[0].agent.tools",
        "spec.sandboxes[0].agent.integrationRefs",
        "spec.sandboxes[0].agent.inference.routes[1]",
        "spec.sandboxes[0].agent.inference.routes[0].overrides.contextWindow",
        "spec.sandboxes[0].agent.inference.routes[0].overrides.reasoning",
        "spec.sandboxes[0].network.proxy",
        "spec.sandboxes[0].network.policy.explicit.process",
    ])
    text = "\n".join(warnings)
    assert "NemoClaw read the key from NVIDIA_API_KEY; the fleet reads it from nemoclaw_secrets.NVIDIA_INFERENCE_API_KEY" in text
    assert "route 'gpt' is not imported" in text


def test_a_non_default_api_is_a_warning():
    doc = load("minimal.yaml")
    doc["spec"]["inferenceProviders"][0]["api"] = "openai-responses"
    assert ncc.to_agents(doc, PROFILES)[2] == [
        "spec.inferenceProviders[0].api: 'openai-responses' is not imported: the fleet's agents use openai-completions "
        "with an openai provider"]


def test_documents_the_fleet_reads_without_warnings():
    for name in ("minimal.yaml", "hermes.yaml", "fleet-extension.yaml"):
        assert ncc.to_agents(load(name), PROFILES)[2] == [], name


SHARED_ROUTE = [
    "spec.sandboxes[1]: its inference (nvidia-inference, model nvidia/llama-3.1-nemotron-ultra-253b-v1) differs from that "
    "of sandbox alpha (nvidia-inference, model nvidia/nemotron-3-super-120b-a12b): OpenShell has one inference.local route "
    "per gateway, so the agents of one host share one profile and model; put it on another host or align them",
    "spec.sandboxes[2]: its inference (nim-local, model nvidia/nemotron-3-super-120b-a12b) differs from that "
    "of sandbox alpha (nvidia-inference, model nvidia/nemotron-3-super-120b-a12b): OpenShell has one inference.local route "
    "per gateway, so the agents of one host share one profile and model; put it on another host or align them",
]


def test_multi_warns_of_unused_definitions_only_when_unused():
    doc = load("multi.yaml")
    assert ncc.to_agents(doc, PROFILES)[2] == SHARED_ROUTE
    doc["spec"]["harnesses"]["spare"] = {"kind": "hermes"}
    assert ncc.to_agents(doc, PROFILES)[2] == ["spec.harnesses.spare: not used by any sandbox: not imported"] + SHARED_ROUTE


def test_sandboxes_sharing_the_route_give_no_warning():
    doc = load("multi.yaml")
    del doc["spec"]["sandboxes"][1:]
    doc["spec"]["sandboxes"].append(dict(doc["spec"]["sandboxes"][0], name="delta"))
    assert ncc.to_agents(doc, PROFILES)[2] == []


def _expectation(name):
    with open(os.path.join(FIXTURES, "invalid", name), encoding="utf-8") as handle:
        head = [handle.readline(), handle.readline()]
    assert head[0].startswith("# expect-path: ") and head[1].startswith("# expect-reason: "), name
    return head[0][len("# expect-path: "):].strip(), head[1][len("# expect-reason: "):].strip()


@pytest.mark.parametrize("name", INVALID)
def test_refused_documents_name_the_path(name):
    path, reason = _expectation(name)
    with open(os.path.join(FIXTURES, "invalid", name), encoding="utf-8") as handle:
        text = handle.read()
    with pytest.raises(ncc.ConfigError) as info:
        ncc.to_agents(ncc.load_document(text), PROFILES)
    assert info.value.path == path
    assert reason in info.value.reason
    # A refusal never repeats a credential value it found.
    for secret in ("nvapi-SECRETVALUE", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1", "sk-proj-abcdefgh"):
        assert secret not in str(info.value)


def test_invalid_fixtures_cover_the_refusals():
    assert len(INVALID) >= 15


def test_load_document_accepts_json_and_refuses_more_than_one_document():
    doc = load("minimal.yaml")
    assert ncc.load_document(json.dumps(doc)) == doc
    with pytest.raises(ncc.ConfigError, match="another document"):
        ncc.load_document("a: 1\n---\nb: 2\n")
    with pytest.raises(ncc.ConfigError, match="empty document"):
        ncc.load_document("")
    with pytest.raises(ncc.ConfigError, match="larger than"):
        ncc.load_document("a: " + "x" * ncc.MAX_DOCUMENT_BYTES)
    with pytest.raises(ncc.ConfigError, match="merge keys"):
        ncc.load_document("a:\n  <<: {b: 1}\n")
    with pytest.raises(ncc.ConfigError, match="not valid YAML"):
        ncc.load_document("a: [1,\n")


def test_refusals_of_the_document_shape():
    base = load("minimal.yaml")
    cases = [
        (lambda d: d.update(spec=[]), "spec", "expected a mapping"),
        (lambda d: d["spec"].update(sandboxes=[]), "spec.sandboxes", "at least one sandbox"),
        (lambda d: d["metadata"].update(uid="not-a-uid"), "metadata.uid", "lowercase UUID"),
        (lambda d: d["spec"]["sandboxes"][0].update(harnessRef="x"), "spec.sandboxes[0]", "exactly one of harness or harnessRef"),
        (lambda d: d["spec"]["sandboxes"][0].pop("agent"), "spec.sandboxes[0].agent", "is required"),
        (lambda d: d["spec"]["sandboxes"][0]["agent"]["inference"].update(
            routes=[{"name": "a", "providerRef": "nvidia-inference", "overrides": {"model": "m"}},
                    {"name": "b", "providerRef": "nvidia-inference", "overrides": {"model": "n"}}]),
         "spec.sandboxes[0].agent.inference.default", "is required with several routes"),
        (lambda d: d["spec"]["inferenceProviders"][0].update(provider="gemini"),
         "spec.inferenceProviders[0].provider", "expected openai or anthropic"),
        (lambda d: d["spec"]["gateway"].update(management="manual"), "spec.gateway.management", "managed or external"),
        (lambda d: d["spec"]["gateway"].update(tls={"ca": {"env": "CA"}, "certificate": {"env": "CERT"}, "key": "-----BEGIN"}),
         "spec.gateway.tls.key", "credential"),
        (lambda d: d.update({"x-agentfleet": {"version": 2}}), "x-agentfleet.version", "expected 1"),
        (lambda d: d.update({"x-agentfleet": {"agents": {"other": {}}}}), "x-agentfleet.agents.other", "no sandbox"),
    ]
    for change, path, reason in cases:
        doc = copy.deepcopy(base)
        change(doc)
        with pytest.raises(ncc.ConfigError) as info:
            ncc.to_agents(doc, PROFILES)
        assert (info.value.path, reason in info.value.reason) == (path, True), str(info.value)


def test_unmatched_endpoint_is_a_warning_and_keeps_nemoclaws_reference():
    doc = load("minimal.yaml")
    doc["spec"]["inferenceProviders"][0].update(provider="anthropic", endpoint="https://api.anthropic.com",
                                                credential={"env": "ANTHROPIC_API_KEY"})
    agents, secrets, warnings = ncc.to_agents(doc, PROFILES)
    assert agents == [{"name": "assistant", "agent": "openclaw", "model": "nvidia/nemotron-3-super-120b-a12b",
                       "tier": "restricted"}]
    assert list(secrets) == ["ANTHROPIC_API_KEY"]
    assert warnings == ["spec.inferenceProviders[0].endpoint: no inference profile of the openclaw blueprint serves "
                        "https://api.anthropic.com: set profile (and endpoint_url) of nemoclaw_agents[assistant] by hand"]


# ---------------------------------------------------------------------------
# export and round trips
# ---------------------------------------------------------------------------

FLEET = [
    {"name": "ops", "agent": "openclaw", "model": "nvidia/llama-3.1-nemotron-ultra-253b-v1",
     "config": {"agents": {"defaults": {"thinkingDefault": "medium"}}},
     "channels": [{"type": "telegram", "credential": "OPS_TELEGRAM_BOT_TOKEN"}],
     "mcp_servers": [{"name": "tickets", "url": "https://mcp.tickets.example/mcp", "deny_tools": ["delete_ticket"]}],
     "resources": {"cpu": "2", "memory": "8Gi"}, "env": {"LOG_LEVEL": "debug"}, "labels": {"team": "ops"},
     "providers": [{"name": "github", "type": "github", "credentials": ["OPS_GITHUB_TOKEN"]}],
     "presets": ["github"], "approval_mode": "manual", "backup": {"keep": 5}},
    {"name": "helper", "agent": "hermes", "profile": "ncp", "endpoint_url": "https://ncp.partner.example/v1",
     "state": "stopped", "on_replace": "refuse"},
    {"name": "locked", "agent": "openclaw", "tier": "restricted",
     "policy_overlays": [{"name": "docs", "network_policies": {"docs": {
         "name": "docs", "endpoints": [{"host": "docs.example.com", "port": 443}], "binaries": [{"path": "/usr/bin/curl"}]}}}]},
    {"name": "gone", "agent": "openclaw", "state": "absent"},
]


# The keys of FLEET[0] a NemoClawConfig has no field for.
OPS_LOST = ("tier", "presets", "channels", "mcp_servers", "resources", "env", "labels", "providers", "approval_mode", "backup")


def _norm(agents):
    return [dict((k, v) for k, v in e.items() if k != "path") for e in desired.normalize(copy.deepcopy(agents))]


# A document from NemoClaw round-trips with or without extensions; one the fleet wrote with
# x-agentfleet needs them (without, the export reports what it leaves out: see the warnings test).
ROUND_TRIPS = [(name, ext) for name in VALID for ext in (False, True) if ext or name != "fleet-extension.yaml"]


@pytest.mark.parametrize("name,extensions", ROUND_TRIPS)
def test_import_export_import_is_equal(name, extensions):
    first, secrets, _warnings = ncc.to_agents(load(name), PROFILES)
    doc, _export_warnings = ncc.from_agents(first, PROFILES, extensions=extensions)
    again, secrets_again, _warnings = ncc.to_agents(copy.deepcopy(doc), PROFILES)
    assert _norm(again) == _norm(first)
    if name != "openclaw-full.yaml":  # its provider read NVIDIA_API_KEY; the export names the fleet's secret
        assert secrets_again == secrets


@pytest.mark.parametrize("extensions", [False, True])
def test_export_import_export_is_equal(extensions):
    doc, warnings = ncc.from_agents(FLEET, PROFILES, extensions=extensions)
    agents, _secrets, _warnings = ncc.to_agents(copy.deepcopy(doc), PROFILES)
    again, warnings_again = ncc.from_agents(agents, PROFILES, extensions=extensions)
    assert again == doc
    assert ("nemoclaw_agents[gone]: not exported: state is absent" in warnings)
    if extensions:
        assert warnings_again == []


def test_export_with_extensions_is_lossless():
    doc, warnings = ncc.from_agents(FLEET, PROFILES, extensions=True)
    assert warnings == ["nemoclaw_agents[gone]: not exported: state is absent"]
    agents, secrets, _warnings = ncc.to_agents(copy.deepcopy(doc), PROFILES)
    assert _norm(agents) == _norm(FLEET[:3])
    assert sorted(secrets) == ["NVIDIA_INFERENCE_API_KEY", "OPS_GITHUB_TOKEN", "OPS_TELEGRAM_BOT_TOKEN"]
    assert set(doc["x-agentfleet"]["agents"]["ops"]) == set(OPS_LOST)
    # The user's own spelling is kept (a normalised value is not always valid input again).
    assert doc["x-agentfleet"]["agents"]["ops"]["mcp_servers"] == FLEET[0]["mcp_servers"]
    assert doc["x-agentfleet"]["agents"]["ops"]["backup"] == {"keep": 5}


def test_export_without_extensions_warns_of_each_key_it_cannot_carry():
    doc, warnings = ncc.from_agents(FLEET, PROFILES)
    assert "x-agentfleet" not in doc
    keys = sorted(w.split(": ", 1)[0] for w in warnings)
    assert keys == sorted(
        ["nemoclaw_agents[gone]"]
        + ["nemoclaw_agents[ops].%s" % k for k in OPS_LOST]
        + ["nemoclaw_agents[helper].%s" % k for k in ("tier", "state", "on_replace")]
        + ["nemoclaw_agents[locked].policy_overlays"])
    text = "\n".join(warnings)
    assert "nemoclaw_agents[ops].channels: not exported (NemoClawConfig has no messaging channels yet (NemoClaw #12136)" in text
    assert "nemoclaw_agents[ops].mcp_servers: not exported (NemoClawConfig has no MCP servers yet (NemoClaw #12137)" in text


def test_exported_document_shape():
    doc, _warnings = ncc.from_agents(FLEET, PROFILES, name="fleet-a")
    assert doc["apiVersion"] == "nemoclaw.nvidia.com/v1alpha1" and doc["kind"] == "NemoClawConfig"
    assert doc["metadata"] == {"name": "fleet-a", "uid": ncc.default_uid("fleet-a")}
    assert ncc.from_agents(FLEET, PROFILES, name="fleet-a")[0] == doc  # deterministic
    spec = doc["spec"]
    assert spec["gateway"] == {"management": "managed"}
    # ops and locked share the hosted provider; helper's partner endpoint is a provider of its own.
    assert spec["inferenceProviders"] == [
        {"name": "nvidia-inference", "provider": "openai", "endpoint": "https://integrate.api.nvidia.com/v1",
         "credential": {"env": "NVIDIA_INFERENCE_API_KEY"}},
        {"name": "nvidia-ncp", "provider": "openai", "endpoint": "https://ncp.partner.example/v1",
         "credential": {"env": "NVIDIA_INFERENCE_API_KEY"}},
    ]
    ops, helper, locked = spec["sandboxes"]
    assert ops == {"name": "ops", "harness": {"kind": "openclaw", "settings": {"agents": {"defaults": {"thinkingDefault": "medium"}}}},
                   "agent": {"name": "primary", "inference": {"routes": [{
                       "name": "primary", "providerRef": "nvidia-inference",
                       "overrides": {"model": "nvidia/llama-3.1-nemotron-ultra-253b-v1"}}]}},
                   "network": {"tier": "isolated"}}
    assert helper["agent"]["auth"] == {"method": "api-key"} and helper["network"] == {"tier": "isolated"}
    assert locked["network"] == {"policy": {"explicit": {"version": 1, "network_policies": FLEET[2]["policy_overlays"][0]["network_policies"]}}}


def test_export_plain_http_profile_has_no_credential():
    doc, warnings = ncc.from_agents([{"name": "gamma", "agent": "openclaw", "profile": "nim-local"}], PROFILES)
    assert doc["spec"]["inferenceProviders"] == [
        {"name": "nim-local", "provider": "openai", "endpoint": "http://nim-service.local:8000/v1"}]
    assert "nemoclaw_agents[gamma].profile: the credential NIM_API_KEY of profile nim-local is not exported" in warnings[0]


def test_export_refusals_name_the_inventory_path():
    cases = [
        ([{"name": "x", "agent": "openclaw", "blueprint": "./mine"}], "nemoclaw_agents[x].blueprint", "profiles of blueprint"),
        ([{"name": "x", "agent": "openclaw", "profile": "nope"}], "nemoclaw_agents[x].profile", "unknown inference profile"),
        ([{"name": "x", "agent": "openclaw", "profile": "ncp"}], "nemoclaw_agents[x].endpoint_url", "dynamic endpoint"),
        ([{"name": "x", "agent": "openclaw", "state": "absent"}], "nemoclaw_agents", "no agent to export"),
        ([], "nemoclaw_agents", "no agent to export"),
    ]
    for agents, path, reason in cases:
        with pytest.raises(ncc.ConfigError) as info:
            ncc.from_agents(agents, PROFILES)
        assert (info.value.path, reason in info.value.reason) == (path, True), str(info.value)
    with pytest.raises(desired.DesiredStateError) as info:
        ncc.from_agents([{"name": "x", "agent": "openclaw", "resources": {"memory": "lots"}}], PROFILES)
    assert info.value.path == "nemoclaw_agents[x].resources.memory"
    with pytest.raises(ncc.ConfigError, match="metadata.name"):
        ncc.from_agents([{"name": "x", "agent": "openclaw"}], PROFILES, name="Not A Name")
    with pytest.raises(ncc.ConfigError, match="metadata.uid"):
        ncc.from_agents([{"name": "x", "agent": "openclaw"}], PROFILES, uid="1234")


def test_export_of_a_custom_blueprint_with_its_profiles():
    profiles = dict(PROFILES)
    profiles["./mine"] = PROFILES["openclaw"]
    doc, _warnings = ncc.from_agents([{"name": "x", "agent": "openclaw", "blueprint": "./mine"}], profiles, extensions=True)
    assert doc["x-agentfleet"]["agents"]["x"] == {"blueprint": "./mine", "tier": None}
    assert ncc.to_agents(doc, profiles)[0] == [{"name": "x", "agent": "openclaw", "blueprint": "./mine"}]


def test_settings_refused_by_the_config_overlay_rules_name_the_settings_path():
    doc = load("minimal.yaml")
    deep = {"leaf": 1}
    for level in range(14):
        deep = {"l%d" % level: deep}
    doc["spec"]["sandboxes"][0]["harness"]["settings"] = deep
    with pytest.raises(ncc.ConfigError) as info:
        ncc.to_agents(doc, PROFILES)
    assert info.value.path.startswith("spec.sandboxes[0].harness.settings.l13.")
    assert "nested deeper than" in info.value.reason


def test_unused_definitions_are_checked_too():
    doc = load("multi.yaml")
    doc["spec"]["harnesses"]["spare"] = {"kind": "hermes", "setings": {}}
    with pytest.raises(ncc.ConfigError) as info:
        ncc.to_agents(doc, PROFILES)
    assert (info.value.path, "(did you mean settings?)" in info.value.reason) == ("spec.harnesses.spare.setings", True)
    doc = load("multi.yaml")
    doc["spec"]["inferences"]["spare"] = {"routes": [], "fallback": "x"}
    with pytest.raises(ncc.ConfigError, match=r"^spec\.inferences\.spare\.fallback: unknown field"):
        ncc.to_agents(doc, PROFILES)


@pytest.mark.parametrize("name", VALID)
def test_imported_agents_are_planned_with_the_shipped_blueprints(name):
    """What an import gives is accepted by the planner: profiles, tiers, the explicit policy as a layer."""
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as bplib  # pylint: disable=import-outside-toplevel
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import plan as planlib  # pylint: disable=import-outside-toplevel

    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "blueprints")
    agents, secrets, _warnings = ncc.to_agents(load(name), PROFILES)
    values = dict((secret, "unit-test-value-%d" % i) for i, secret in enumerate(secrets))

    def load_blueprint(entry):
        return bplib.load_blueprint_dir(os.path.join(root, entry["agent"]))

    if name == "multi.yaml":
        # Three models on one host: the import warned, the planner refuses (one inference.local route per gateway).
        with pytest.raises(desired.DesiredStateError, match="one inference.local route per gateway"):
            planlib.plan_host(agents, values, load_blueprint)
        agents = agents[:1]
    plan = planlib.plan_host(agents, values, load_blueprint)
    assert [a["name"] for a in plan["agents"]] == [a["name"] for a in agents]
    if name == "openclaw-full.yaml":
        (research,) = plan["agents"]
        assert {"nvidia", "github"} <= set(research["policy"]["network_policies"])


def test_sandbox_scoped_definitions_services_and_image():
    doc = load("minimal.yaml")
    sandbox = doc["spec"]["sandboxes"][0]
    sandbox.pop("harness")
    sandbox.update(harnessRef="mine", harnesses={"mine": {"kind": "hermes"}},
                   inferences={"local": {"routes": [{"name": "primary", "providerRef": "vllm",
                                                     "overrides": {"model": "served-model"}}]}},
                   image={"ref": "registry.example/agent@sha256:" + "a" * 64})
    sandbox["agent"] = {"name": "helper", "inferenceRef": "local"}
    doc["spec"]["inferenceProviders"].append({"name": "vllm", "provider": "openai", "serviceRef": "serve", "endpoint": ""})
    doc["spec"]["services"] = {"serve": {"kind": "vllm"}}
    agents, secrets, warnings = ncc.to_agents(doc, PROFILES)
    assert agents == [{"name": "assistant", "agent": "hermes", "model": "served-model", "tier": "restricted"}]
    assert secrets == {}
    assert [w.split(": ", 1)[0] for w in warnings] == [
        "spec.services", "spec.sandboxes[0].agent.name", "spec.inferenceProviders[1].serviceRef", "spec.sandboxes[0].image.ref"]


def test_more_refusals_of_references_and_routes():
    base = load("minimal.yaml")
    route = {"name": "primary", "providerRef": "nvidia-inference", "overrides": {"model": "m"}}
    cases = [
        (lambda s: s["agent"]["inference"].update(routes=[]), "spec.sandboxes[0].agent.inference.routes", "at least one route"),
        (lambda s: s["agent"]["inference"].update(default="other"), "spec.sandboxes[0].agent.inference.default", "names no route"),
        (lambda s: s["agent"]["inference"].update(routes=[dict(route, provider={"name": "x", "provider": "openai"})]),
         "spec.sandboxes[0].agent.inference.routes[0]", "exactly one of provider or providerRef"),
        (lambda s: s["agent"].update(inferenceRef="nope"), "spec.sandboxes[0].agent", "exactly one of inference or inferenceRef"),
        (lambda s: s.update(network={"tier": "isolated", "policy": {"explicit": {"version": 1, "network_policies": {}}}}),
         "spec.sandboxes[0].network.tier", "must be omitted with policy.explicit"),
        (lambda s: s.update(network={"policy": {"explicit": {"version": 2, "network_policies": {}}}}),
         "spec.sandboxes[0].network.policy.explicit.version", "expected 1"),
        (lambda s: s.update(inferenceProviders=[{"name": "a", "provider": "openai", "endpoint": "https://a.example"},
                                                {"name": "a", "provider": "openai", "endpoint": "https://b.example"}]),
         "spec.sandboxes[0].inferenceProviders[1].name", "listed twice"),
        (lambda s: s.update(harnesses={"Bad_Name": {"kind": "openclaw"}}), "spec.sandboxes[0].harnesses", "lowercase names"),
    ]
    for change, path, reason in cases:
        doc = copy.deepcopy(base)
        change(doc["spec"]["sandboxes"][0])
        if path.endswith("inferenceProviders[1].name"):
            doc["spec"]["sandboxes"][0]["agent"]["inference"]["routes"][0]["providerRef"] = "a"
        with pytest.raises(ncc.ConfigError) as info:
            ncc.to_agents(doc, PROFILES)
        assert (info.value.path, reason in info.value.reason) == (path, True), str(info.value)
    doc = copy.deepcopy(base)
    doc["spec"]["inferenceProviders"][0]["credential"] = {"env": "lower_case"}
    with pytest.raises(ncc.ConfigError, match=r"^spec\.inferenceProviders\[0\]\.credential\.env: expected the name"):
        ncc.to_agents(doc, PROFILES)


def test_export_never_writes_a_credential_value():
    token = "7000000001:AAH-agentfleet-CANARY-telegram-token-0001"
    agents = [{"name": "a", "agent": "openclaw", "env": {"BOT": token}}]
    # The desired state itself refuses a credential-shaped env value (a Telegram bot token), with or without
    # extensions, naming the path and never the value.
    for extensions in (True, False):
        with pytest.raises((ncc.ConfigError, DesiredStateError)) as info:
            ncc.from_agents(agents, PROFILES, extensions=extensions)
        assert info.value.path == "nemoclaw_agents[a].env.BOT" and token not in str(info.value)
    doc, warnings = ncc.from_agents([{"name": "a", "agent": "openclaw", "env": {"MODE": "x"}}], PROFILES)
    assert "nemoclaw_agents[a].env: not exported" in "\n".join(warnings)
