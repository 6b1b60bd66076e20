# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""plan.py: desired state + the shipped blueprints (blueprints/openclaw, blueprints/hermes) -> the
host's plan; every refusal names the inventory path of the value, and the plan holds no secret."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as bplib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import plan as planlib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DEFAULT_BACKUP_EXCLUDE, DesiredStateError

ROOT = Path(__file__).resolve().parents[4]
KEY = "nvapi-UNIT-plan-secret-value"
SECRETS = {"NVIDIA_INFERENCE_API_KEY": KEY}
DEFAULT_MODEL = "nvidia/nemotron-3-super-120b-a12b"


class Loader(object):
    """``load_blueprint``: the entry's blueprint directory, else the shipped one of its agent."""

    def __init__(self):
        self.calls = []
        self._cache = {}

    def __call__(self, entry):
        self.calls.append(entry["name"])
        src = entry["blueprint"] or str(ROOT / "blueprints" / entry["agent"])
        if src not in self._cache:
            self._cache[src] = bplib.load_blueprint_dir(src)
        return self._cache[src]


LOAD = Loader()


def plan(agents, secrets=None, host_facts=None, load=LOAD):
    return planlib.plan_host(agents, SECRETS if secrets is None else secrets, load, host_facts=host_facts)


def refused(agents, secrets=None, host_facts=None):
    with pytest.raises(DesiredStateError) as exc:
        plan(agents, secrets, host_facts)
    return exc.value


def agent(name="assistant", kind="openclaw", **keys):
    out = {"name": name, "agent": kind}
    out.update(keys)
    return out


# --------------------------------------------------------------------------
# One agent
# --------------------------------------------------------------------------

def test_plan_of_one_agent():
    p = plan([agent()])
    assert p["format"] == planlib.PLAN_FORMAT
    (a,) = p["agents"]
    assert (a["name"], a["path"], a["agent"], a["state"], a["on_replace"], a["recreate"]) == \
        ("assistant", "nemoclaw_agents[assistant]", "openclaw", "running", "preserve", False)
    sb = a["sandbox"]
    assert sb["name"] == "assistant"
    assert sb["image"].startswith("ghcr.io/nvidia/openshell-community/sandboxes/openclaw@sha256:")
    assert (sb["cpu"], sb["memory"], sb["gpu"], sb["env"], sb["approval_mode"]) == (None, None, False, {}, None)
    assert sb["providers"] == ["nvidia-inference"]
    assert sb["labels"]["nemoclaw.blueprint/name"] == "openclaw" and sb["labels"]["nemoclaw.blueprint/version"] == "0.1.0"
    assert a["blueprint"]["name"] == "openclaw" and a["blueprint"]["source"].endswith("blueprints/openclaw")
    assert a["blueprint"]["digest"] == bplib.artifact_digest(str(ROOT / "blueprints" / "openclaw"))
    assert a["openshell"] == {"min": "0.0.106", "max": "0.1.5"}
    assert a["tier"] == "balanced" and "openclaw-pricing" in [x["name"] for x in a["presets"]]
    assert "managed_inference" in a["policy"]["network_policies"]
    assert a["provenance"]["managed_inference"]["layer"]
    assert a["route"] == {"provider": "nvidia-inference", "model": DEFAULT_MODEL, "timeout_secs": None}
    assert a["providers"] == [{
        "name": "nvidia-inference", "type": "nvidia", "origin": "inference profile default",
        "credentials": [{"key": "NVIDIA_API_KEY", "env": "NVIDIA_INFERENCE_API_KEY", "source": "given"}],
        "config": {"NVIDIA_BASE_URL": "https://integrate.api.nvidia.com/v1"}}]
    assert a["health_command"] == ["openclaw", "health", "--json"]
    assert a["backup"] == {"paths": ["/sandbox"], "exclude": list(DEFAULT_BACKUP_EXCLUDE), "keep": 3}
    assert a["plan_digest"].startswith("sha256:")
    # host level: the providers once, the one inference.local route
    assert p["providers"] == [{
        "name": "nvidia-inference", "type": "nvidia", "agents": ["assistant"],
        "credentials": [{"key": "NVIDIA_API_KEY", "env": "NVIDIA_INFERENCE_API_KEY", "source": "given"}],
        "config": {"NVIDIA_BASE_URL": "https://integrate.api.nvidia.com/v1"}}]
    assert p["inference"] == {"provider": "nvidia-inference", "model": DEFAULT_MODEL, "timeout_secs": None,
                              "agents": ["assistant"]}


def test_plan_is_serialisable_and_holds_no_secret():
    p = plan([agent(providers=[{"name": "gh", "type": "github", "credentials": ["GITHUB_TOKEN"]}])],
             dict(SECRETS, GITHUB_TOKEN="ghp_UNITsecretvalue123"))
    text = json.dumps(p)
    assert KEY not in text and "ghp_UNITsecretvalue123" not in text
    assert json.loads(text) == p


def test_entry_options_reach_the_plan():
    p = plan([agent(model="nvidia/other-model", resources={"cpu": "2", "memory": "8Gi", "gpu": 1},
                    env={"LOG_LEVEL": "debug"}, labels={"team": "research"}, approval_mode="auto",
                    health_check=False, on_replace="refuse", recreate=True, tier="restricted",
                    backup={"paths": ["/sandbox/.openclaw"], "exclude": ["*.log"], "keep": 5})])
    a = p["agents"][0]
    assert a["inference"]["model"] == "nvidia/other-model"
    assert a["route"]["model"] == "nvidia/other-model" and p["inference"]["model"] == "nvidia/other-model"
    assert (a["sandbox"]["cpu"], a["sandbox"]["memory"], a["sandbox"]["gpu"]) == ("2", "8Gi", 1)
    assert a["sandbox"]["env"] == {"LOG_LEVEL": "debug"} and a["sandbox"]["labels"]["team"] == "research"
    assert a["sandbox"]["approval_mode"] == "auto"
    assert a["health_command"] == [] and (a["on_replace"], a["recreate"]) == ("refuse", True)
    assert a["tier"] == "restricted"
    assert a["backup"] == {"paths": ["/sandbox/.openclaw"], "exclude": ["*.log"], "keep": 5}


def test_resource_profile_in_percent_of_the_host():
    facts = {"cpus": 8, "memory_mb": 16384}
    sb = plan([agent(resources={"profile": "developer"})], host_facts=facts)["agents"][0]["sandbox"]
    assert (sb["cpu"], sb["memory"]) == ("6", "12288Mi")
    sb = plan([agent(resources={"profile": "developer", "cpu": "1"})], host_facts=facts)["agents"][0]["sandbox"]
    assert (sb["cpu"], sb["memory"]) == ("1", "12288Mi")
    exc = refused([agent(resources={"profile": "developer"})])
    assert exc.path == "nemoclaw_agents[assistant].resources.profile" and "host_facts.cpus" in exc.reason


def test_custom_provider_is_planned_and_attached():
    p = plan([agent(providers=[{"name": "gh", "type": "github", "credentials": ["GITHUB_TOKEN"],
                                "config": {"GITHUB_API_URL": "https://api.github.com"}}])],
             dict(SECRETS, GITHUB_TOKEN="t"))
    a = p["agents"][0]
    assert a["sandbox"]["providers"] == ["gh", "nvidia-inference"]
    gh = [x for x in a["providers"] if x["name"] == "gh"][0]
    assert gh == {"name": "gh", "type": "github", "origin": "providers[0]",
                  "config": {"GITHUB_API_URL": "https://api.github.com"},
                  "credentials": [{"key": "GITHUB_TOKEN", "env": "GITHUB_TOKEN", "source": "given"}]}
    assert [x["name"] for x in p["providers"]] == ["gh", "nvidia-inference"]


# --------------------------------------------------------------------------
# Refusals name the inventory path
# --------------------------------------------------------------------------

def test_missing_secret_names_the_secrets_path():
    exc = refused([agent()], secrets={})
    assert exc.path == "nemoclaw_secrets.NVIDIA_INFERENCE_API_KEY"
    assert exc.reason == ("is not set (needed by inference profile default (provider nvidia-inference) of "
                          "nemoclaw_agents[assistant])")
    exc = refused([agent()], secrets={"NVIDIA_INFERENCE_API_KEY": "  "})
    assert exc.path == "nemoclaw_secrets.NVIDIA_INFERENCE_API_KEY" and exc.reason.startswith("is empty or only whitespace")


def test_missing_secret_of_a_custom_provider():
    exc = refused([agent(providers=[{"name": "gh", "type": "github", "credentials": ["GITHUB_TOKEN"]}])])
    assert exc.path == "nemoclaw_secrets.GITHUB_TOKEN"
    assert "provider gh (providers[0]) of nemoclaw_agents[assistant]" in exc.reason


@pytest.mark.parametrize("keys, path, fragment", [
    ({"tier": "nope"}, "tier", "unknown tier 'nope' (available: balanced, open, restricted)"),
    ({"profile": "nope"}, "profile", "unknown inference profile 'nope'"),
    ({"resources": {"profile": "nope"}}, "resources.profile", "unknown resource profile 'nope'"),
    ({"presets": ["github:bogus"]}, "presets[0]", "access must be read or read-write"),
    ({"endpoint_url": "https://ncp.example.com/v1"}, "endpoint_url", "fixed endpoint"),
    ({"presets": ["../../../../tmp/evil"]}, "presets[0]", "a preset name is letters"),
    # What OpenShell's server would refuse at create (after a replacement's delete) is refused in the plan.
    ({"env": dict(("K%d" % i, "v") for i in range(129))}, "env", "OpenShell accepts at most 128"),
    ({"env": {"BIG": "x" * 8193}}, "env.BIG", "value is 8193 bytes"),
    ({"labels": dict(("l%d" % i, "v") for i in range(127))}, "labels", "2 of them the collection's"),
    ({"providers": [{"name": "p%d" % i, "type": "github", "credentials": ["NVIDIA_INFERENCE_API_KEY"]} for i in range(32)]},
     "providers", "attaches 33 providers"),
])
def test_blueprint_errors_map_to_the_entry(keys, path, fragment):
    exc = refused([agent(**keys)])
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert fragment in exc.reason


def test_unknown_preset_names_the_list_item():
    exc = refused([agent(presets=["nope"])])
    assert "presets/nope.yaml not found" in exc.reason
    assert exc.path == "nemoclaw_agents[assistant].presets[0]"


def test_dynamic_endpoint_profile_without_endpoint_url_names_endpoint_url():
    exc = refused([agent(profile="ncp")])
    assert exc.path == "nemoclaw_agents[assistant].endpoint_url"


def test_dynamic_endpoint_profile_with_endpoint_url():
    p = plan([agent(profile="ncp", endpoint_url="https://ncp.example.com/v1")])
    assert p["providers"][0]["name"] == "nvidia-ncp"
    assert p["providers"][0]["config"] == {"NVIDIA_BASE_URL": "https://ncp.example.com/v1"}


def test_desired_state_errors_come_first():
    load = Loader()
    with pytest.raises(DesiredStateError) as exc:
        plan([agent(), agent("b", memroy="1Gi")], load=load)
    assert exc.value.path == "nemoclaw_agents[b].memroy"
    assert load.calls == []


def test_agent_must_match_its_blueprint():
    exc = refused([agent(kind="hermes", blueprint=str(ROOT / "blueprints" / "openclaw"))])
    assert exc.path == "nemoclaw_agents[assistant].blueprint"
    assert "is for agent 'openclaw', not 'hermes'" in exc.reason


def test_a_custom_provider_may_not_take_the_inference_provider_name():
    exc = refused([agent(providers=[{"name": "nvidia-inference", "type": "nvidia", "credentials": ["X"]}])],
                  dict(SECRETS, X="x"))
    assert exc.path == "nemoclaw_agents[assistant].providers"
    assert "also the inference profile's provider" in exc.reason


# --------------------------------------------------------------------------
# Several agents on one host
# --------------------------------------------------------------------------

def test_two_agents_sharing_the_route_share_the_provider():
    p = plan([agent("a"), agent("b", resources={"memory": "4Gi"})])
    assert [x["name"] for x in p["agents"]] == ["a", "b"]
    assert [(x["name"], x["agents"]) for x in p["providers"]] == [("nvidia-inference", ["a", "b"])]
    assert p["inference"]["agents"] == ["a", "b"]


def test_two_agents_with_different_routes_are_refused_naming_both():
    exc = refused([agent("a"), agent("b", profile="vllm")])
    assert exc.path == "nemoclaw_agents[b].profile"
    assert "nemoclaw_agents[a]" in exc.reason and "vllm-local/" in exc.reason and "nvidia-inference/" in exc.reason
    assert "one inference.local route per gateway" in exc.reason
    exc = refused([agent("a", model="m1"), agent("b")])
    assert exc.path == "nemoclaw_agents[b].profile" and "nvidia-inference/m1" in exc.reason


def test_openclaw_and_hermes_on_one_host():
    # Both shipped blueprints default to the same profile (nvidia-inference, the same model): they share it.
    p = plan([agent("claw"), agent("herm", kind="hermes")])
    claw, herm = p["agents"]
    assert herm["agent"] == "hermes" and herm["blueprint"]["name"] == "hermes"
    assert herm["sandbox"]["image"].startswith("ghcr.io/nvidia/openshell-community/sandboxes/hermes@sha256:")
    assert herm["health_command"] == ["hermes", "--version"]
    assert claw["route"] == herm["route"]
    assert [(x["name"], x["agents"]) for x in p["providers"]] == [("nvidia-inference", ["claw", "herm"])]
    assert p["inference"]["agents"] == ["claw", "herm"]


def test_openclaw_and_hermes_with_different_profiles_are_refused_and_a_shared_profile_plans():
    exc = refused([agent("claw"), agent("herm", kind="hermes", profile="vllm")])
    assert exc.path == "nemoclaw_agents[herm].profile" and "nemoclaw_agents[claw]" in exc.reason
    # the same profile on both (vllm: a default credential, so no secret at all is needed)
    p = plan([agent("claw", profile="vllm"), agent("herm", kind="hermes", profile="vllm")], secrets={})
    assert p["inference"] == {"provider": "vllm-local", "model": "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-FP8",
                              "timeout_secs": 180, "agents": ["claw", "herm"]}
    assert planlib.secrets_for(p, {"NVIDIA_INFERENCE_API_KEY": KEY}) == {}


def test_same_provider_name_with_another_definition_is_refused():
    gh = {"name": "gh", "type": "github", "credentials": ["GH_A"]}
    exc = refused([agent("a", providers=[gh]), agent("b", providers=[dict(gh, credentials=["GH_B"])])],
                  dict(SECRETS, GH_A="1", GH_B="2"))
    assert exc.path == "nemoclaw_agents[b].providers"
    assert "provider 'gh' differs" in exc.reason and "nemoclaw_agents[a]" in exc.reason
    p = plan([agent("a", providers=[gh]), agent("b", providers=[gh])], dict(SECRETS, GH_A="1"))
    assert [(x["name"], x["agents"]) for x in p["providers"]] == [("gh", ["a", "b"]), ("nvidia-inference", ["a", "b"])]


def test_absent_agents_need_no_blueprint_and_no_secret():
    def no_load(entry):
        raise AssertionError("an absent agent's blueprint was loaded")
    p = planlib.plan_host([agent("gone", state="absent", on_replace="discard", backup={"keep": 2})], {}, no_load)
    assert p["agents"] == [{"name": "gone", "path": "nemoclaw_agents[gone]", "agent": "openclaw", "state": "absent",
                            "on_replace": "discard",
                            "backup": {"paths": ["/sandbox"], "exclude": list(DEFAULT_BACKUP_EXCLUDE), "keep": 2}}]
    assert p["providers"] == [] and p["inference"] is None


def test_absent_agent_next_to_a_present_one():
    p = plan([agent("a"), agent("old", kind="hermes", state="absent", profile="vllm")])
    assert [x["state"] for x in p["agents"]] == ["running", "absent"]
    assert p["inference"]["agents"] == ["a"] and p["providers"][0]["agents"] == ["a"]


def test_stopped_agent_is_planned():
    p = plan([agent(state="stopped")])
    assert p["agents"][0]["state"] == "stopped" and p["inference"]["agents"] == ["assistant"]


def test_empty_document():
    p = planlib.plan_host([], {}, LOAD)
    assert (p["agents"], p["providers"], p["inference"]) == ([], [], None)
    assert planlib.plan_host(None, {}, LOAD)["plan_digest"] == p["plan_digest"]


# --------------------------------------------------------------------------
# secrets_for and determinism
# --------------------------------------------------------------------------

def test_secrets_for_returns_only_what_providers_need():
    secrets = dict(SECRETS, GITHUB_TOKEN="ghp_x", UNUSED="nope", NIM_API_KEY="n")
    p = plan([agent(providers=[{"name": "gh", "type": "github", "credentials": ["GITHUB_TOKEN"]}])], secrets)
    assert planlib.secrets_for(p, secrets) == {"NVIDIA_INFERENCE_API_KEY": KEY, "GITHUB_TOKEN": "ghp_x"}
    assert planlib.secrets_for(p, dict(secrets, GITHUB_TOKEN=1234))["GITHUB_TOKEN"] == "1234"
    assert planlib.secrets_for({"providers": []}, secrets) == {}
    with pytest.raises(KeyError):
        planlib.secrets_for(p, {})


def test_same_input_same_plan():
    agents = [agent("a", env={"B": "2", "A": "1"}, labels={"y": "1", "x": "2"}),
              agent("b", kind="hermes", presets=["github"])]
    first = plan(copy.deepcopy(agents))
    second = plan(copy.deepcopy(agents))
    assert first == second and first["plan_digest"] == second["plan_digest"]
    reordered = copy.deepcopy(agents)
    reordered[0]["env"] = {"A": "1", "B": "2"}
    reordered[0]["labels"] = {"x": "2", "y": "1"}
    assert plan(reordered)["plan_digest"] == first["plan_digest"]


def test_a_change_changes_the_digests():
    base = plan([agent("a"), agent("b")])
    changed = plan([agent("a"), agent("b", resources={"memory": "16Gi"})])
    assert changed["plan_digest"] != base["plan_digest"]
    assert changed["agents"][0]["plan_digest"] == base["agents"][0]["plan_digest"]
    assert changed["agents"][1]["plan_digest"] != base["agents"][1]["plan_digest"]
    # a secret's value is not part of the plan
    assert plan([agent("a"), agent("b")], {"NVIDIA_INFERENCE_API_KEY": "other"})["plan_digest"] == base["plan_digest"]


LOCAL_RULE = {"x": {"name": "x", "endpoints": [{"host": "localhost", "port": 443}], "binaries": [{"path": "/usr/bin/curl"}]}}


@pytest.mark.parametrize("keys, path", [
    ({"policy_overlays": [{"name": "o", "network_policies": LOCAL_RULE}]},
     "policy_overlays[0].network_policies.x.endpoints[0].host"),
    ({"policy_overlays": [{"name": "a"}, {"name": "o", "network_policies": LOCAL_RULE}]},
     "policy_overlays[1].network_policies.x.endpoints[0].host"),
    ({"custom_presets": [{"name": "c", "network_policies": LOCAL_RULE}]},
     "custom_presets[0].network_policies.x.endpoints[0].host"),
    ({"mcp_servers": [{"name": "m", "url": "https://mcp.example.com/x"}],
      "policy_overlays": [{"name": "o", "network_policies": LOCAL_RULE}]},
     "policy_overlays[0].network_policies.x.endpoints[0].host"),
])
def test_errors_in_the_entrys_policy_layers_name_the_layer(keys, path):
    exc = refused([agent(**keys)])
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert "private or loopback destination" in exc.reason


def test_a_broken_custom_preset_file_names_its_list_item(tmp_path):
    broken = tmp_path / "nas.yaml"
    broken.write_text("network_policies: [unclosed\n")
    exc = refused([agent(custom_presets=[str(broken)])])
    assert exc.path == "nemoclaw_agents[assistant].custom_presets[0]"
    assert str(broken) in exc.reason and "invalid YAML" in exc.reason


def test_secret_names_are_those_the_providers_read():
    got = plan([agent(providers=[{"name": "gh", "type": "github", "credentials": ["GITHUB_TOKEN"]}])],
               secrets=dict(SECRETS, GITHUB_TOKEN="ghp_x"))
    assert planlib.secret_names(got) == ["GITHUB_TOKEN", "NVIDIA_INFERENCE_API_KEY"]
    assert set(planlib.secrets_for(got, dict(SECRETS, GITHUB_TOKEN="t", OTHER="o"))) == set(planlib.secret_names(got))


def test_a_rollback_plan_gets_no_secret_the_hosts_own_plan_does_not_use():
    target = plan([agent()])
    planlib.check_rollback_secrets(target, target)
    recorded = copy.deepcopy(target)
    recorded["providers"][0]["credentials"][0]["env"] = "TELEGRAM_TOKEN_OF_DGX9"  # the record edited on the host
    with pytest.raises(DesiredStateError) as exc:
        planlib.check_rollback_secrets(target, recorded)
    assert exc.value.path == "nemoclaw_secrets.TELEGRAM_TOKEN_OF_DGX9" and "not sent for the rollback" in exc.value.reason
