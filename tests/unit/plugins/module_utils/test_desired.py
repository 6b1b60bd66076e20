# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""desired.py: the nemoclaw_agents document - defaults, unknown keys with suggestions, types,
every value rule, and errors that name the inventory path of the value."""

from __future__ import annotations

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import desired
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError, normalize


def one(**keys):
    entry = {"name": "assistant", "agent": "openclaw"}
    entry.update(keys)
    return normalize([entry])[0]


def error(agents):
    with pytest.raises(DesiredStateError) as exc:
        normalize(agents)
    return exc.value


def entry_error(**keys):
    entry = {"name": "assistant", "agent": "openclaw"}
    entry.update(keys)
    return error([entry])


# --------------------------------------------------------------------------
# Defaults and the document's shape
# --------------------------------------------------------------------------

def test_minimal_entry_gets_every_default():
    got = one()
    assert got == {
        "name": "assistant", "agent": "openclaw", "blueprint": None, "blueprint_digest": None,
        "allow_unpinned_blueprint": False, "profile": None, "model": None, "endpoint_url": None, "tier": None,
        "presets": [], "custom_presets": [], "policy_overlays": [], "trusted_private_hosts": [],
        "resources": {"cpu": None, "memory": None, "gpu": False, "profile": None},
        "env": {}, "labels": {}, "providers": [], "approval_mode": None, "restart_policy": None, "state": "running",
        "on_replace": "preserve", "recreate": False,
        "backup": {"paths": None, "exclude": None, "keep": 3, "timeout": 600},
        "health_check": True, "path": "nemoclaw_agents[assistant]",
        "config": {}, "channels": [], "mcp_servers": [],
    }
    assert set(got) == set(desired.SCHEMA) | {"path"}


def test_defaults_are_not_shared_between_entries():
    a, b = normalize([{"name": "a", "agent": "openclaw"}, {"name": "b", "agent": "hermes"}])
    a["presets"].append("x")
    a["resources"]["cpu"] = "2"
    assert b["presets"] == [] and b["resources"]["cpu"] is None
    assert one()["presets"] == []


def test_none_and_empty_documents():
    assert normalize(None) == []
    assert normalize([]) == []


def test_document_must_be_a_list_of_mappings():
    exc = error({"name": "assistant"})
    assert exc.path == "nemoclaw_agents" and "expected a list of agents" in exc.reason and "a mapping" in exc.reason
    exc = error(["assistant"])
    assert exc.path == "nemoclaw_agents[0]" and "expected a mapping" in exc.reason and "a string" in exc.reason


def test_at_most_max_agents():
    agents = [{"name": "a%d" % i, "agent": "openclaw"} for i in range(desired.MAX_AGENTS + 1)]
    exc = error(agents)
    assert exc.path == "nemoclaw_agents" and "at most %d agents" % desired.MAX_AGENTS in exc.reason
    assert len(normalize(agents[:desired.MAX_AGENTS])) == desired.MAX_AGENTS


def test_values_are_normalised():
    got = one(agent=" hermes ", recreate="yes", health_check="off", blueprint="", tier="",
              blueprint_digest="SHA256:" + "AB" * 32, backup={"keep": "5", "paths": ["/sandbox/b/", "/sandbox/a", "/sandbox/a"]},
              env={"N": 3}, resources={"gpu": "2", "cpu": 2})
    assert got["agent"] == "hermes" and got["recreate"] is True and got["health_check"] is False
    assert got["blueprint"] is None and got["tier"] is None
    assert got["blueprint_digest"] == "sha256:" + "ab" * 32
    assert got["backup"] == {"paths": ["/sandbox/a", "/sandbox/b"], "exclude": None, "keep": 5, "timeout": 600}
    assert got["env"] == {"N": "3"}
    assert got["resources"]["gpu"] == 2 and got["resources"]["cpu"] == "2"


# --------------------------------------------------------------------------
# Unknown and missing keys, duplicates
# --------------------------------------------------------------------------

def test_unknown_key_with_suggestion():
    exc = entry_error(presest=["github"])
    assert str(exc).startswith("nemoclaw_agents[assistant].presest: unknown key (did you mean presets?)")
    assert exc.path == "nemoclaw_agents[assistant].presest"
    assert "allowed: name, agent, blueprint" in exc.reason


def test_unknown_key_without_a_close_match_has_no_suggestion():
    exc = entry_error(zzzz=1)
    assert exc.reason.startswith("unknown key (allowed:")


def test_nested_unknown_key():
    exc = entry_error(resources={"memroy": "8Gi"})
    assert exc.path == "nemoclaw_agents[assistant].resources.memroy"
    assert exc.reason.startswith("unknown key (did you mean memory?)")
    exc = entry_error(backup={"kep": 2})
    assert exc.path == "nemoclaw_agents[assistant].backup.kep" and "did you mean keep?" in exc.reason
    exc = entry_error(providers=[{"name": "gh", "type": "github", "credentials": ["T"], "confg": {}}])
    assert exc.path == "nemoclaw_agents[assistant].providers[0].confg" and "did you mean config?" in exc.reason


@pytest.mark.parametrize("entry, path", [
    ({"agent": "openclaw"}, "nemoclaw_agents[0].name"),
    ({"name": "", "agent": "openclaw"}, "nemoclaw_agents[0].name"),
    ({"name": "assistant"}, "nemoclaw_agents[assistant].agent"),
    ({"name": "assistant", "agent": None}, "nemoclaw_agents[assistant].agent"),
])
def test_name_and_agent_are_required(entry, path):
    exc = error([entry])
    assert (exc.path, exc.reason) == (path, "is required")


def test_unknown_key_is_reported_before_a_missing_one():
    exc = error([{"agnet": "openclaw", "name": "assistant"}])
    assert exc.path == "nemoclaw_agents[assistant].agnet" and "did you mean agent?" in exc.reason


def test_duplicate_names():
    exc = error([{"name": "a", "agent": "openclaw"}, {"name": "b", "agent": "openclaw"}, {"name": "a", "agent": "hermes"}])
    assert exc.path == "nemoclaw_agents[2].name"
    assert exc.reason == "agent 'a' is listed twice (entries 0 and 2)"


def test_index_path_when_the_name_is_unusable():
    exc = error([{"name": "Bad_Name", "agent": "openclaw"}])
    assert exc.path == "nemoclaw_agents[0].name" and "DNS labels of at most 19 characters" in exc.reason
    assert desired.entry_path(3, {"name": "ok"}) == "nemoclaw_agents[ok]"
    assert desired.entry_path(3, "x") == "nemoclaw_agents[3]"


# --------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------

@pytest.mark.parametrize("keys, path, reason", [
    ({"agent": ["openclaw"]}, "agent", "expected a string, got a list"),
    ({"agent": True}, "agent", "expected a string, got a boolean"),
    ({"model": {"a": 1}}, "model", "expected a string, got a mapping"),
    ({"agent": "zzz"}, "agent", "must be one of openclaw, hermes, got 'zzz'"),
    ({"agent": "openclw"}, "agent", "must be one of openclaw, hermes, got 'openclw' (did you mean openclaw?)"),
    ({"state": "started"}, "state", "must be one of running, stopped, absent, got 'started'"),
    ({"on_replace": "keep"}, "on_replace", "must be one of preserve, refuse, discard, got 'keep'"),
    ({"approval_mode": "always"}, "approval_mode", "must be one of manual, auto, got 'always'"),
    ({"restart_policy": "on_failure"}, "restart_policy",
     "must be one of never, on-failure, always, got 'on_failure' (did you mean on-failure?)"),
    ({"recreate": "maybe"}, "recreate", "expected true or false, got 'maybe'"),
    ({"health_check": 1}, "health_check", "expected true or false, got 1"),
    ({"allow_unpinned_blueprint": []}, "allow_unpinned_blueprint", "expected true or false, got []"),
    ({"backup": {"keep": "three"}}, "backup.keep", "expected an integer, got 'three'"),
    ({"backup": {"keep": True}}, "backup.keep", "expected an integer, got True"),
    ({"backup": {"keep": 2.5}}, "backup.keep", "expected an integer, got 2.5"),
    ({"backup": {"timeout": 0}}, "backup.timeout", "must be from 1 to 86400 seconds, got 0"),
    ({"backup": {"timeout": 86401}}, "backup.timeout", "must be from 1 to 86400 seconds, got 86401"),
    ({"backup": {"timeout": "1h"}}, "backup.timeout", "expected an integer, got '1h'"),
    ({"presets": "github"}, "presets", "expected a list, got a string"),
    ({"providers": {"name": "x"}}, "providers", "expected a list, got a mapping"),
    ({"backup": {"paths": "/sandbox"}}, "backup.paths", "expected a list, got a string"),
    ({"env": ["A=1"]}, "env", "expected a mapping, got a list"),
    ({"labels": "team=a"}, "labels", "expected a mapping, got a string"),
    ({"resources": "big"}, "resources", "expected a mapping, got a string"),
    ({"backup": 3}, "backup", "expected a mapping, got an integer"),
    ({"resources": {"gpu": "x"}}, "resources.gpu", "must be a boolean or a GPU count 0-64, got 'x'"),
    ({"model": "a\nb"}, "model", "must not contain a newline"),
])
def test_bad_types(keys, path, reason):
    exc = entry_error(**keys)
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert exc.reason == reason


# --------------------------------------------------------------------------
# Value rules
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name, reason", [
    ("assistant\n", "must not contain a newline"),
    ("Assistant", "must contain only lowercase alphanumeric characters or hyphens"),
    ("a_b", "must contain only lowercase alphanumeric characters or hyphens"),
    ("a" * 20, "exceeds maximum length (20 > 19)"),
    ("-a", None),
    ("a-", None),
])
def test_names(name, reason):
    exc = error([{"name": name, "agent": "openclaw"}])
    assert exc.path == "nemoclaw_agents[0].name"
    if reason:
        assert reason in exc.reason


def test_good_names():
    assert one(name="a" * 19)["name"] == "a" * 19
    assert one(name="a-1")["path"] == "nemoclaw_agents[a-1]"
    assert one(name=7)["name"] == "7"


@pytest.mark.parametrize("resources, path, fragment", [
    ({"cpu": "0"}, "resources.cpu", "greater than zero"),
    ({"cpu": "-1"}, "resources.cpu", "number of cores"),
    ({"cpu": "two"}, "resources.cpu", "number of cores"),
    ({"cpu": "5000"}, "resources.cpu", "1024"),
    ({"memory": "0Mi"}, "resources.memory", "greater than zero"),
    ({"memory": "8 GB"}, "resources.memory", ""),
    ({"memory": "1000Ti"}, "resources.memory", ""),
    ({"gpu": -1}, "resources.gpu", "GPU count 0-64"),
    ({"gpu": 65}, "resources.gpu", "GPU count 0-64"),
])
def test_resource_ranges(resources, path, fragment):
    exc = entry_error(resources=resources)
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert fragment in exc.reason


def test_good_resources():
    got = one(resources={"cpu": "500m", "memory": "8Gi", "gpu": True, "profile": "developer"})["resources"]
    assert got == {"cpu": "500m", "memory": "8Gi", "gpu": True, "profile": "developer"}
    assert one(resources={"cpu": 0.5, "gpu": 0})["resources"]["cpu"] == "0.5"


@pytest.mark.parametrize("env, path, fragment", [
    ({"1BAD": "x"}, "env.1BAD", "must match"),
    ({"A-B": "x"}, "env.A-B", "must match"),
    ({"OPENSHELL_GATEWAY": "x"}, "env.OPENSHELL_GATEWAY", "names starting with OPENSHELL_ are reserved"),
    ({"A": "x\ny"}, "env.A", "must not contain a newline"),
    ({"A": ["x"]}, "env.A", "expected a string value, got a list"),
    ({"A": None}, "env.A", "expected a string value, got null"),
    ({"API_TOKEN": "abc"}, "env.API_TOKEN", "looks like a credential"),
    ({"MODE": "nvapi-abcdefghijklmnop"}, "env.MODE", "use a provider (providers) instead"),
    ({"SLACK": "xapp-1-A0123-0123456789"}, "env.SLACK", "use a provider (providers) instead"),
    ({"HF": "hf_abcdefghijklmnopqrstu"}, "env.HF", "use a provider (providers) instead"),
])
def test_env_rules(env, path, fragment):
    exc = entry_error(env=env)
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert fragment in exc.reason


def test_env_key_must_be_a_string():
    exc = entry_error(env={1: "x"})
    assert exc.path == "nemoclaw_agents[assistant].env" and "env key 1 must be a string" in exc.reason


@pytest.mark.parametrize("labels, path, fragment", [
    ({"agentfleet.nemoclaw/spec": "x"}, "labels.agentfleet.nemoclaw/spec", "reserved for the collection"),
    ({"-team": "a"}, "labels.-team", "name segment"),
    ({"team": "a b"}, "labels.team", "value 'a b'"),
    ({"team": "x" * 64}, "labels.team", "at most 63"),
])
def test_label_rules(labels, path, fragment):
    exc = entry_error(labels=labels)
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert fragment in exc.reason


def test_good_labels_and_env():
    got = one(labels={"team": "research", "example.com/tier": "1"}, env={"LOG_LEVEL": "debug"})
    assert got["labels"] == {"team": "research", "example.com/tier": "1"} and got["env"] == {"LOG_LEVEL": "debug"}


GH = {"name": "github", "type": "github", "credentials": ["GITHUB_TOKEN"]}


@pytest.mark.parametrize("providers, path, fragment", [
    (["github"], "providers[0]", "expected a mapping {name, type, credentials, config}, got a string"),
    ([{"type": "github", "credentials": ["T"]}], "providers[0].name", "is required"),
    ([{"name": "gh", "credentials": ["T"]}], "providers[0].type", "is required"),
    ([dict(GH, name="bad name")], "providers[0].name", "'bad name' must be letters"),
    ([dict(GH, type="Git Hub")], "providers[0].type", "expected a provider type like openai or github"),
    ([dict(GH, credentials=[])], "providers[0].credentials", "at least one credential"),
    ([dict(GH, credentials="GITHUB_TOKEN")], "providers[0].credentials", "expected a list, got a string"),
    ([dict(GH, credentials=["github-token"])], "providers[0].credentials[0]", "must name a secret like GITHUB_TOKEN"),
    ([dict(GH, credentials=["T", "T"])], "providers[0].credentials", "lists a credential twice"),
    # The credential's name is the variable its value reaches the CLI in: not one the CLI reads itself.
    ([dict(GH, credentials=["OPENSHELL_GATEWAY_ENDPOINT"])], "providers[0].credentials[0]", "the openshell CLI"),
    ([dict(GH, credentials=["GITHUB_TOKEN", "LD_PRELOAD"])], "providers[0].credentials[1]", "the openshell CLI"),
    ([dict(GH, credentials=["https_proxy"])], "providers[0].credentials[0]", "the openshell CLI"),
    ([dict(GH, config={"API_KEY": "x"})], "providers[0].config.API_KEY", "list it in credentials"),
    ([dict(GH, credentials=["T%d" % i for i in range(33)])], "providers[0].credentials", "at most 32"),
    ([dict(GH, config=dict(("K%d" % i, "v") for i in range(65)))], "providers[0].config", "at most 64"),
    ([dict(GH, config={"BASE": "sk-abcdefghijklmnop12345"})], "providers[0].config.BASE", "list it in credentials"),
    ([dict(GH, config={"bad key": "x"})], "providers[0].config.bad key", "must be letters, digits"),
    ([dict(GH, config={"url": ["x"]})], "providers[0].config.url", "expected a string value"),
    ([dict(GH, config=["x"])], "providers[0].config", "expected a mapping"),
    ([GH, dict(GH, credentials=["OTHER"])], "providers[1].name",
     "provider 'github' is listed twice (also at nemoclaw_agents[assistant].providers[0])"),
])
def test_provider_rules(providers, path, fragment):
    exc = entry_error(providers=providers)
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert fragment in exc.reason


def test_good_provider_is_normalised():
    got = one(providers=[{"name": "gh", "type": "GitHub", "credentials": ["B_TOKEN", "A_TOKEN"],
                          "config": {"url": "https://api.github.com"}}])["providers"]
    assert got == [{"name": "gh", "type": "github", "credentials": ["A_TOKEN", "B_TOKEN"],
                    "config": {"url": "https://api.github.com"}}]


@pytest.mark.parametrize("paths, fragment", [
    (["/etc"], "must be /sandbox or a path below it, got '/etc'"),
    (["/sandboxes"], "must be /sandbox or a path below it"),
    (["sandbox/x"], "must be /sandbox or a path below it"),
    (["/sandbox/../etc"], "must be a normalised path (no '..' or '//')"),
    (["/sandbox/a/.."], "must be a normalised path"),
    (["/sandbox//a"], "must be a normalised path"),
])
def test_backup_paths(paths, fragment):
    exc = entry_error(backup={"paths": paths})
    assert exc.path == "nemoclaw_agents[assistant].backup.paths[0]"
    assert fragment in exc.reason


def test_backup_paths_accepted():
    assert one(backup={"paths": ["/sandbox/", "/sandbox/.openclaw"]})["backup"]["paths"] == ["/sandbox", "/sandbox/.openclaw"]
    assert one(backup={"exclude": ["*.log", 5]})["backup"]["exclude"] == ["*.log", "5"]


@pytest.mark.parametrize("keep, ok", [(0, False), (1, True), (desired.MAX_BACKUP_KEEP, True),
                                      (desired.MAX_BACKUP_KEEP + 1, False), (-1, False)])
def test_backup_keep_range(keep, ok):
    if ok:
        assert one(backup={"keep": keep})["backup"]["keep"] == keep
    else:
        exc = entry_error(backup={"keep": keep})
        assert exc.path == "nemoclaw_agents[assistant].backup.keep"
        assert exc.reason == "must be from 1 to %d, got %r" % (desired.MAX_BACKUP_KEEP, keep)


@pytest.mark.parametrize("keys, path, fragment", [
    ({"blueprint_digest": "sha256:abc"}, "blueprint_digest", "expected sha256:<64 hex digits>"),
    ({"blueprint_digest": "md5:" + "a" * 64}, "blueprint_digest", "expected sha256:<64 hex digits>"),
    ({"endpoint_url": "ftp://x"}, "endpoint_url", "expected an http:// or https:// URL"),
    ({"endpoint_url": "https://user:pw@ncp.example.com/v1"}, "endpoint_url", "user information"),
    ({"endpoint_url": "https://ncp.example.com/v1?api_key=abc"}, "endpoint_url", "query or a fragment"),
    ({"endpoint_url": "https://--x/v1"}, "endpoint_url", "must not start or end with '-'"),
    ({"endpoint_url": "http://169.254.169.254/latest"}, "endpoint_url", "cloud metadata address"),
    ({"endpoint_url": "https://ncp.example.com:99999/v1"}, "endpoint_url", "port must be 1 to 65535"),
    ({"model": "--no-verify"}, "model", "starts with '-'"),
    ({"model": "nemotron\tsuper"}, "model", "whitespace or control characters"),
    ({"model": "m" * 300}, "model", "at most 256"),
    ({"trusted_private_hosts": ["a\nb"]}, "trusted_private_hosts[0]", "must not contain a newline"),
    ({"custom_presets": [3]}, "custom_presets[0]", "expected a preset file path or a mapping"),
    ({"policy_overlays": ["x"]}, "policy_overlays[0]", "expected a mapping (a policy layer)"),
])
def test_other_rules(keys, path, fragment):
    exc = entry_error(**keys)
    assert exc.path == "nemoclaw_agents[assistant].%s" % path
    assert fragment in exc.reason


def test_error_message_is_path_and_reason():
    exc = entry_error(resources={"memory": "lots"})
    assert str(exc) == "%s: %s" % (exc.path, exc.reason)
    assert isinstance(exc, ValueError)


def test_custom_variable_name_in_paths():
    with pytest.raises(DesiredStateError) as exc:
        normalize([{"name": "a", "agent": "x"}], variable="agents")
    assert exc.value.path == "agents[a].agent"


# --------------------------------------------------------------------------
# Secrets and the schema's rows
# --------------------------------------------------------------------------

@pytest.mark.parametrize("secrets, problem", [
    ({}, "is not set"),
    (None, "is not set"),
    ({"K": None}, "is not set"),
    ({"K": ""}, "is empty or only whitespace"),
    ({"K": "  \t"}, "is empty or only whitespace"),
    ({"K": "abc\n"}, "must not contain a newline"),
    ({"K": "a\rb"}, "must not contain a carriage return"),
    ({"K": ["x"]}, "must be a string"),
    ({"K": True}, "must be a string"),
    ({"K": "nvapi-x"}, None),
    ({"K": 1234}, None),
])
def test_secret_problem(secrets, problem):
    assert desired.secret_problem("K", secrets) == problem


def test_schema_rows():
    rows = desired.schema_rows()
    keys = [r[0] for r in rows]
    assert keys[:2] == ["name", "agent"]
    assert len(keys) == len(set(keys))
    assert {"resources.cpu", "resources.memory", "resources.gpu", "resources.profile",
            "backup.paths", "backup.exclude", "backup.keep"} <= set(keys)
    assert keys.index("resources") < keys.index("resources.cpu") < keys.index("env")
    by_key = dict((r[0], r) for r in rows)
    assert by_key["agent"] == ("agent", "str", None, desired.AGENTS, desired.SCHEMA["agent"][3])
    assert by_key["backup.keep"][1:4] == ("int", 3, None)
    assert by_key["state"][2:4] == ("running", desired.STATES)
    assert by_key["resources"][3] is None  # a sub-schema is not a list of choices
    assert all(r[4] and "\n" not in r[4] for r in rows)
    top = [k for k in keys if "." not in k]
    assert top == list(desired.SCHEMA)


def test_env_names_that_only_resemble_credentials_pass():
    env = {"TOKENIZERS_PARALLELISM": "false", "MAX_TOKENS": "4096", "GIT_AUTHOR_NAME": "agent", "KEYBOARD_LAYOUT": "us"}
    assert one(env=env)["env"] == env


def test_a_credential_shaped_label_value_is_refused():
    exc = entry_error(labels={"owner": "ghp_0123456789abcdefghij"})
    assert exc.path == "nemoclaw_agents[assistant].labels.owner" and "looks like a credential" in exc.reason
    assert "ghp_" not in exc.reason
