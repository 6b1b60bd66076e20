# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""What runs inside the sandbox: channel manifests, overlay/MCP checks, rendering and reconciling the agent's own
configuration file (``agentconfig.py``), their place in the desired state, the plan and the apply."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import agentconfig as ac
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import apply as applylib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import plan as planlib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError, normalize

from test_apply import SECRETS, FakeClient, Run, agent, load_blueprint  # pylint: disable=import-error

TOKEN = "7000000001:AAH-unit-telegram-token-value-000001"
TG = {"type": "telegram", "credential": "TG"}


# --------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------

def test_every_shipped_channel_has_a_valid_manifest_with_an_existing_preset():
    assert ac.channel_types() == ["discord", "slack", "telegram"]
    for ctype in ac.channel_types():
        manifest = ac.channel_manifest(ctype)
        assert ac.manifest_problem(manifest, ctype) is None
        assert os.path.isfile(os.path.join(os.path.dirname(ac.CHANNELS_DIR), "presets", manifest["preset"] + ".yaml"))


def test_manifest_problems_are_named():
    assert ac.manifest_problem([], "x") == "expected a mapping"
    assert "channel.name" in ac.manifest_problem({"channel": {"name": "y"}}, "x")
    base = {"channel": {"name": "x"}, "credentials": {"lower": {}}}
    assert "environment variable" in ac.manifest_problem(base, "x")
    base["credentials"] = {"X_TOKEN": {"provider_suffix": "x"}}
    assert "provider_type" in ac.manifest_problem(base, "x")
    base["credentials"] = {"X_TOKEN": {"provider_suffix": "x", "provider_type": "generic"}}
    assert "preset" in ac.manifest_problem(base, "x")
    base["preset"] = "x"
    assert "config must have one entry per agent kind" in ac.manifest_problem(base, "x")
    base["config"] = {"openclaw": {}, "hermes": {}}
    base["health"] = {"openclaw": "openclaw health", "hermes": ["h"]}
    assert "health.openclaw" in ac.manifest_problem(base, "x")


def test_unknown_channel_type_names_the_known_ones():
    with pytest.raises(ac.ConfigError) as exc:
        ac.channel_manifest("signal")
    assert "discord, slack, telegram" in exc.value.reason


def test_placeholders_follow_openshell_and_the_slack_sdk_alias():
    slack = ac.channel_manifest("slack")
    section = ac.channel_section(slack, "openclaw")["channels"]["slack"]
    assert section["botToken"] == "xoxb-OPENSHELL-RESOLVE-ENV-SLACK_BOT_TOKEN"
    assert section["appToken"] == "xapp-OPENSHELL-RESOLVE-ENV-SLACK_APP_TOKEN"
    tg = ac.channel_section(ac.channel_manifest("telegram"), "openclaw")["channels"]["telegram"]
    assert tg == {"enabled": True, "botToken": "openshell:resolve:env:TELEGRAM_BOT_TOKEN"}
    assert ac.channel_section(ac.channel_manifest("telegram"), "hermes") == {"platforms": {"telegram": {"enabled": True}}}
    assert ac.is_placeholder("openshell:resolve:env:X_1") and ac.is_placeholder("xoxb-OPENSHELL-RESOLVE-ENV-A")
    assert not ac.is_placeholder("xoxb-123456789012-real") and not ac.is_placeholder(3)


def test_channel_providers_one_per_credential_key():
    assert ac.channel_providers("bot", ac.channel_manifest("slack")) == [
        {"name": "bot-slack-app", "type": "generic", "key": "SLACK_APP_TOKEN"},
        {"name": "bot-slack-bridge", "type": "generic", "key": "SLACK_BOT_TOKEN"}]


# --------------------------------------------------------------------------
# Overlay and MCP checks
# --------------------------------------------------------------------------

@pytest.mark.parametrize("overlay,path,words", [
    ({1: "x"}, "", "must be a string"),
    ({"": 1}, "", "keys are 1 to"),
    ({"a": {"b": "\x00"}}, "a.b", "NUL"),
    ({"a": float("nan")}, "a", "finite"),
    ({"a": {1, 2}}, "a", "JSON data"),
    ({"gateway": {"token": "sk-abcdefghijklmnop"}}, "gateway.token", "credential"),
    ({"channels": {"telegram": {"botToken": TOKEN}}}, "channels.telegram.botToken", "credential"),
    ({"x": [{"y": "ghp_abcdefghijklmnopqrstuvwxyz"}]}, "x[0].y", "credential"),
    # An HTTP Authorization value anywhere; any text under a credential-named key, a passphrase too.
    ({"mcp": {"headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz0123"}}}, "mcp.headers.Authorization",
     "credential"),
    ({"x": {"h": "Bearer abcdefghijklmnopqrstuvwxyz0123"}}, "x.h", "credential"),
    ({"gateway": {"auth": {"password": "correct horse battery staple"}}}, "gateway.auth.password", "credential"),
])
def test_overlay_problems_name_the_path(overlay, path, words):
    with pytest.raises(ac.ConfigError) as exc:
        ac.check_overlay(overlay)
    assert exc.value.path == path and words in exc.value.reason


def test_overlay_limits_depth_and_size_and_allows_placeholders():
    deep = {}
    node = deep
    for _i in range(ac.MAX_OVERLAY_DEPTH + 1):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(ac.ConfigError, match="deeper"):
        ac.check_overlay(deep)
    with pytest.raises(ac.ConfigError, match="bytes as JSON"):
        ac.check_overlay({"k": "x" * ac.MAX_OVERLAY_BYTES})
    ok = {"channels": {"telegram": {"botToken": "openshell:resolve:env:TELEGRAM_BOT_TOKEN", "dmPolicy": "pairing"}},
          "agents": {"defaults": {"maxTokens": 4096}}, "t": (1, None, True, 1.5),
          "gateway": {"auth": {"mode": "token", "passwordFile": "/run/secrets/gw"}}}
    assert ac.check_overlay(ok)["t"] == [1, None, True, 1.5]
    with pytest.raises(ac.ConfigError):
        ac.check_overlay([])


@pytest.mark.parametrize("url,expected", [
    ("https://mcp.example.com/mcp", ("mcp.example.com", 443, "/mcp")),
    ("https://mcp.example.com:8443", ("mcp.example.com", 8443, "/")),
    ("https://[2001:db8::1]:9000/x?y=1", ("[2001:db8::1]", 9000, "/x")),
])
def test_mcp_endpoint(url, expected):
    assert ac.mcp_endpoint(url) == expected


@pytest.mark.parametrize("url", ["http://mcp.example.com/", "https://u:p@h.example.com/", "https://h.example.com:0/",
                                 "https://h.example.com:x/", "https:///x", "https://[::1/", "https://[::1]x/", 5])
def test_mcp_endpoint_refuses(url):
    with pytest.raises(ac.ConfigError):
        ac.mcp_endpoint(url)


@pytest.mark.parametrize("url", ["https://mcp.example.com/x?token=abc123", "https://mcp.example.com/x?a=1&api_key=abc",
                                 "https://mcp.example.com/x?k=ghp_0123456789abcdefghij"])
def test_mcp_endpoint_refuses_a_credential_in_the_query(url):
    with pytest.raises(ac.ConfigError) as exc:
        ac.mcp_endpoint(url)
    assert "credential in its query" in exc.value.reason and "abc" not in exc.value.reason


# --------------------------------------------------------------------------
# Rendering and reconciling
# --------------------------------------------------------------------------

def test_render_owned_per_agent_kind():
    tg = [(ac.channel_manifest("telegram"), TG)]
    mcp = [{"name": "docs", "url": "https://m.example.com/mcp", "deny_tools": ["rm"]}]
    oc = ac.render_owned("openclaw", "m/x", tg, mcp)
    assert oc["agents"]["defaults"]["model"]["primary"] == "inference/m/x"
    assert oc["models"]["providers"]["inference"]["baseUrl"] == ac.INFERENCE_BASE_URL
    assert oc["mcp"]["servers"]["docs"] == {"url": "https://m.example.com/mcp", "transport": "streamable-http",
                                            "tools": {"deny": ["rm"]}}
    he = ac.render_owned("hermes", "m/x", tg, mcp)
    assert he["model"] == {"provider": "custom", "base_url": ac.INFERENCE_BASE_URL, "api_key": "unused", "default": "m/x"}
    assert he["mcp_servers"]["docs"] == {"url": "https://m.example.com/mcp", "enabled": True, "tools": {"exclude": ["rm"]}}
    assert he["platforms"] == {"telegram": {"enabled": True}}
    assert "agents" not in ac.render_owned("openclaw", None)
    assert ac.render_managed("openclaw", "m", overlay={"models": {"mode": "replace"}})["models"]["mode"] == "replace"


def test_reconcile_keeps_foreign_keys_and_removes_keys_no_longer_managed():
    previous = {"channels": {"telegram": {"enabled": True, "botToken": "p"}}, "models": {"mode": "merge"}}
    current = {"channels": {"telegram": {"enabled": True, "botToken": "p", "dmPolicy": "pairing"}, "whatsapp": {"on": 1}},
               "models": {"mode": "merge"}, "ui": {"x": 1}}
    managed = {"models": {"mode": "merge"}}
    out = ac.reconcile(current, managed, previous)
    assert out == {"channels": {"telegram": {"dmPolicy": "pairing"}, "whatsapp": {"on": 1}}, "models": {"mode": "merge"},
                   "ui": {"x": 1}}
    # A section the collection wrote alone disappears whole.
    current2 = {"channels": {"telegram": {"enabled": True, "botToken": "p"}}, "ui": {"x": 1}}
    assert ac.reconcile(current2, {}, previous) == {"ui": {"x": 1}}
    # Idempotent; nothing previous: a merge; garbage current: a fresh document.
    assert ac.reconcile(out, managed, managed) == out
    assert ac.reconcile({"a": 1}, {"b": {"c": 2}}) == {"a": 1, "b": {"c": 2}}
    assert ac.reconcile(None, {"b": 1}) == {"b": 1}
    # A leaf the collection managed whose parent became a mapping now managed deeper stays as managed.
    assert ac.reconcile({"a": 1}, {"a": {"b": 2}}, {"a": 1}) == {"a": {"b": 2}}


def test_config_differences_name_each_leaf_and_hide_credentials():
    before = {"channels": {"telegram": {"enabled": False}}, "gateway": {"token": "abc"}, "gone": 1}
    after = {"channels": {"telegram": {"enabled": True, "botToken": "openshell:resolve:env:T"}}, "gateway": {"token": "def"},
             "list": [1]}
    rows = ac.config_differences(before, after)
    assert {"field": "config.channels.telegram.enabled", "before": "false", "after": "true"} in rows
    assert {"field": "config.channels.telegram.botToken", "before": "-", "after": "openshell:resolve:env:T"} in rows
    assert {"field": "config.gateway.token", "before": "<hidden>", "after": "<hidden>"} in rows
    assert {"field": "config.gone", "before": "1", "after": "removed"} in rows
    assert {"field": "config.list", "before": "-", "after": "[1]"} in rows
    assert ac.config_differences(after, after) == []


def test_parse_and_dump_documents():
    assert ac.parse_document("", "json") == {} and ac.parse_document("null", "json") == {}
    assert ac.parse_document('{"a": 1}', "json") == {"a": 1}
    assert ac.parse_document("a: 1\nb: [x]\n", "yaml") == {"a": 1, "b": ["x"]}
    for text, fmt in (("{", "json"), ("[1]", "json"), ("a: [", "yaml")):
        with pytest.raises(ValueError):
            ac.parse_document(text, fmt)
    assert json.loads(ac.dump_document({"é": 1})) == {"é": 1}


def test_token_conflicts_pair_different_agents_only():
    uses = [("f1", ("h1", "a"), "A"), ("f1", ("h1", "a"), "A2"), ("f2", ("h1", "b"), "B"), ("f1", ("h2", "a"), "C")]
    assert ac.token_conflicts(uses) == [("A", "C")]
    assert ac.token_fingerprint("x") == ac.token_fingerprint("x") != ac.token_fingerprint("y")


# --------------------------------------------------------------------------
# Desired state
# --------------------------------------------------------------------------

def _error(**keys):
    with pytest.raises(DesiredStateError) as exc:
        normalize([agent(**keys)])
    return exc.value


@pytest.mark.parametrize("channels,path,words", [
    (["telegram"], "channels[0]", "expected a mapping"),
    ([{"credential": "X"}], "channels[0].type", "is required"),
    ([{"type": "telegrma", "credential": "X"}], "channels[0].type", "did you mean telegram"),
    ([{"type": "telegram"}], "channels[0]", "give either credential"),
    ([{"type": "telegram", "credential": "X", "credentials": {}}], "channels[0]", "give either"),
    ([{"type": "slack", "credential": "X"}], "channels[0].credential", "needs 2 tokens"),
    ([{"type": "slack", "credentials": {"SLACK_BOT_TOKEN": "A"}}], "channels[0].credentials", "also needs SLACK_APP_TOKEN"),
    ([{"type": "slack", "credentials": {"BOT": "A"}}], "channels[0].credentials.BOT", "not a credential"),
    ([{"type": "telegram", "credential": "not-a-name"}], "channels[0].credential", "must name a secret"),
    ([TG, TG], "channels[1].type", "listed twice"),
    ([{"type": "telegram", "credential": "X", "token": "y"}], "channels[0].token", "unknown key"),
])
def test_channel_entries_are_checked(channels, path, words):
    err = _error(channels=channels)
    assert err.path == "nemoclaw_agents[assistant].%s" % path and words in err.reason, err


def test_channel_entries_normalise_both_forms():
    out = normalize([agent(channels=[{"type": "Telegram", "credential": "TG"}, {"type": "slack", "credentials": {
        "SLACK_BOT_TOKEN": "SB", "SLACK_APP_TOKEN": "SA"}}])])[0]["channels"]
    assert out == [{"type": "telegram", "credentials": {"TELEGRAM_BOT_TOKEN": "TG"}},
                   {"type": "slack", "credentials": {"SLACK_APP_TOKEN": "SA", "SLACK_BOT_TOKEN": "SB"}}]


@pytest.mark.parametrize("servers,path,words", [
    (["x"], "mcp_servers[0]", "expected a mapping"),
    ([{"url": "https://a.example.com"}], "mcp_servers[0].name", "is required"),
    ([{"name": "Docs", "url": "https://a.example.com"}], "mcp_servers[0].name", "lowercase"),
    ([{"name": "d", "url": "http://a.example.com"}], "mcp_servers[0].url", "https://"),
    ([{"name": "d", "url": "https://a..example.com/"}], "mcp_servers[0].url", "empty label"),
    ([{"name": "d", "url": "https://10.0.0.5/mcp"}], "mcp_servers[0].url", "trusted_private_hosts"),
    ([{"name": "d", "url": "https://localhost/mcp"}], "mcp_servers[0].url", "private or local"),
    ([{"name": "d", "url": "https://a.example.com", "deny_tools": ["a b"]}], "mcp_servers[0].deny_tools[0]", "tool name"),
    ([{"name": "d", "url": "https://a.example.com"}, {"name": "d", "url": "https://b.example.com"}],
     "mcp_servers[1].name", "listed twice"),
])
def test_mcp_entries_are_checked(servers, path, words):
    err = _error(mcp_servers=servers)
    assert err.path == "nemoclaw_agents[assistant].%s" % path and words in err.reason, err


def test_mcp_private_host_is_allowed_when_trusted_and_config_errors_name_the_path():
    out = normalize([agent(trusted_private_hosts=["10.0.0.5"], mcp_servers=[
        {"name": "lan", "url": "https://10.0.0.5:8443/mcp", "deny_tools": ["b", "a", "a"]}])])[0]
    assert out["mcp_servers"] == [{"name": "lan", "url": "https://10.0.0.5:8443/mcp", "host": "10.0.0.5", "port": 8443,
                                   "deny_tools": ["a", "b"]}]
    err = _error(config={"gateway": {"auth": {"password": "sk-aaaaaaaaaaaaaaaaaaaa"}}})
    assert err.path == "nemoclaw_agents[assistant].config.gateway.auth.password"
    assert _error(config=[]).path == "nemoclaw_agents[assistant].config"


# --------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------

def _plan(*agents, secrets=None):
    return planlib.plan_host(list(agents), dict(SECRETS, **(secrets or {})), load_blueprint)


def test_a_channel_plans_providers_preset_config_and_health():
    plan = _plan(agent(channels=[TG]), secrets={"TG": TOKEN})
    one = plan["agents"][0]
    assert "assistant-telegram-bridge" in one["sandbox"]["providers"]
    prov = [p for p in plan["providers"] if p["name"] == "assistant-telegram-bridge"][0]
    assert prov["credentials"] == [{"key": "TELEGRAM_BOT_TOKEN", "env": "TG", "source": "given"}]
    assert {"name": "telegram", "access": "read-write", "channel": "channels[0]"}.items() <= \
        [p for p in one["presets"] if p["name"] == "telegram"][0].items()
    assert "telegram" in one["policy"]["network_policies"]
    assert one["channels"] == [{"type": "telegram", "credentials": {"TELEGRAM_BOT_TOKEN": "TG"},
                                "providers": ["assistant-telegram-bridge"], "preset": "telegram",
                                "health": ["openclaw", "health", "--json"]}]
    assert one["config"]["path"] == "/sandbox/.openclaw/openclaw.json"
    assert one["config"]["managed"]["channels"]["telegram"]["botToken"] == "openshell:resolve:env:TELEGRAM_BOT_TOKEN"
    assert TOKEN not in json.dumps(plan)
    assert planlib.secrets_for(plan, dict(SECRETS, TG=TOKEN))["TG"] == TOKEN
    assert _plan(agent(channels=[TG], health_check=False), secrets={"TG": TOKEN})["agents"][0]["channels"][0]["health"] == []


def test_no_config_no_channel_no_mcp_leaves_the_plan_as_it_was():
    one = _plan(agent())["agents"][0]
    assert "config" not in one and "channels" not in one and "mcp_servers" not in one
    hermes = _plan(agent(agent="hermes", config={"display": {"compact": True}}))["agents"][0]
    assert hermes["config"]["path"] == "/sandbox/.hermes/config.yaml" and hermes["config"]["format"] == "yaml"
    assert hermes["config"]["managed"]["display"] == {"compact": True} and hermes["channels"] == []


def test_a_missing_channel_secret_is_refused_naming_it():
    with pytest.raises(DesiredStateError) as exc:
        _plan(agent(channels=[TG]), secrets={"TG": "  "})
    assert exc.value.path == "nemoclaw_secrets.TG" and "channel telegram (channels[0]) of nemoclaw_agents[assistant]" in \
        exc.value.reason


def test_an_mcp_server_plans_a_policy_bound_to_the_agent_binaries():
    one = _plan(agent(agent="hermes", mcp_servers=[{"name": "docs", "url": "https://mcp.example.com/mcp"}]))["agents"][0]
    rule = one["policy"]["network_policies"]["mcp_docs"]
    assert rule["endpoints"][0]["host"] == "mcp.example.com" and rule["endpoints"][0]["port"] == 443
    assert sorted(b["path"] for b in rule["binaries"]) == sorted(ac.AGENT_BINARIES["hermes"])
    assert one["provenance"]["mcp_docs"]["source"] == "nemoclaw_agents[assistant].mcp_servers[0]"
    assert one["config"]["managed"]["mcp_servers"]["docs"]["url"] == "https://mcp.example.com/mcp"


def test_one_token_for_two_agents_of_a_host_is_refused_naming_both():
    with pytest.raises(DesiredStateError) as exc:
        _plan(agent(channels=[TG]), agent("second", channels=[{"type": "telegram", "credential": "TG2"}]),
              secrets={"TG": TOKEN, "TG2": TOKEN})
    assert exc.value.path == "nemoclaw_agents[second].channels[0].credential"
    assert "nemoclaw_agents[assistant].channels[0].credential" in exc.value.reason
    assert TOKEN not in str(exc.value)


def test_fleet_token_check_names_the_other_host_and_ignores_clashes_elsewhere():
    mine = planlib.channel_token_uses([{"path": "nemoclaw_agents[a]", "name": "a", "channels": [
        {"credentials": {"TELEGRAM_BOT_TOKEN": "TG"}}]}], {"TG": TOKEN}, host="h1")
    theirs = planlib.channel_token_uses([{"path": "nemoclaw_agents[b]", "name": "b", "channels": [
        {"credentials": {"SLACK_BOT_TOKEN": "S1", "SLACK_APP_TOKEN": "S2"}}]}], {"S1": TOKEN, "S2": ""}, host="h2")
    assert [w for _f, _o, w in theirs] == ["host h2 nemoclaw_agents[b].channels[0].credentials.SLACK_BOT_TOKEN"]
    with pytest.raises(DesiredStateError) as exc:
        planlib.check_channel_tokens(mine + theirs, only_host="h1")
    assert exc.value.path == "nemoclaw_agents[a].channels[0].credential"
    assert "host h2 nemoclaw_agents[b]" in exc.value.reason
    planlib.check_channel_tokens(mine + theirs, only_host="h3")


# --------------------------------------------------------------------------
# Apply
# --------------------------------------------------------------------------

class ConfigClient(FakeClient):
    """FakeClient whose sandboxes have an agent configuration file and an agent that reports channels."""

    def sandbox_exec(self, name, command, workdir=None, timeout=None, data=None, env=None):
        home = self.homes[name]
        if command[:3] == ["sh", "-c", applylib.CONFIG_READ_SCRIPT]:
            self._call("sandbox_exec", name, list(command))
            assert workdir == applylib.AGENT_HOME and command[4].startswith("./")
            return 0, home.get(command[4][2:], b"").decode(), ""
        if command[:3] == ["sh", "-c", applylib.CONFIG_WRITE_SCRIPT]:
            self._call("sandbox_exec", name, list(command))
            home[command[4][2:]] = data.encode()
            return 0, "", ""
        if command[:2] == ["openclaw", "health"]:
            self._call("sandbox_exec", name, list(command))
            cfg = json.loads(home.get(".openclaw/openclaw.json", b"{}"))
            chans = sorted(k for k, v in (cfg.get("channels") or {}).items() if v.get("enabled"))
            return 0, json.dumps({"status": "ok", "channels": chans}), ""
        return super(ConfigClient, self).sandbox_exec(name, command, workdir, timeout, data, env)


def _config(run, name="assistant"):
    return json.loads(run.client.homes[name][".openclaw/openclaw.json"])


def _writes(run):
    return [c for c in run.client.calls if c[0] == "sandbox_exec" and c[2][:3] == ["sh", "-c", applylib.CONFIG_WRITE_SCRIPT]]


def test_apply_writes_the_config_checks_the_channel_and_a_rerun_reads_nothing(tmp_path):
    run = Run(tmp_path, ConfigClient())
    plan = _plan(agent(channels=[TG], config={"ui": {"seam": 1}}), secrets={"TG": TOKEN})
    run.applier(plan, secrets=dict(SECRETS, TG=TOKEN)).run()
    cfg = _config(run)
    assert cfg["channels"]["telegram"]["enabled"] is True and cfg["ui"] == {"seam": 1}
    assert TOKEN not in run.client.homes["assistant"][".openclaw/openclaw.json"].decode()
    result = run.applier(plan, secrets=dict(SECRETS, TG=TOKEN))
    run.client.calls = []
    res = result.run()
    assert res["changed"] is False and run.client.mutating == []
    # A hand-written key stays; a check run after a change of the overlay reads and reports, writes nothing.
    cfg["hand"] = {"made": True}
    run.client.homes["assistant"][".openclaw/openclaw.json"] = json.dumps(cfg).encode()
    plan2 = _plan(agent(channels=[TG], config={"ui": {"seam": 2}}), secrets={"TG": TOKEN})
    run.client.calls = []
    res = run.applier(plan2, check_mode=True, secrets=dict(SECRETS, TG=TOKEN)).run()
    diff = res["agents"]["assistant"]["differences"]
    assert {"field": "config.ui.seam", "before": "1", "after": "2"} in diff and _writes(run) == []
    res = run.applier(plan2, secrets=dict(SECRETS, TG=TOKEN)).run()
    assert res["agents"]["assistant"]["actions"] == ["config"] and _config(run)["hand"] == {"made": True}
    assert res["agents"]["assistant"]["channels"] == {"telegram": "enabled"}


def test_apply_removes_a_channel_section_and_keeps_hand_keys(tmp_path):
    run = Run(tmp_path, ConfigClient())
    secrets = dict(SECRETS, TG=TOKEN)
    run.applier(_plan(agent(channels=[TG]), secrets={"TG": TOKEN}), secrets=secrets).run()
    cfg = _config(run)
    cfg["channels"]["telegram"]["dmPolicy"] = "pairing"
    cfg["hand"] = 1
    run.client.homes["assistant"][".openclaw/openclaw.json"] = json.dumps(cfg).encode()
    res = run.applier(_plan(agent(config={"x": 1})), secrets=secrets).run()
    out = _config(run)
    assert out["channels"] == {"telegram": {"dmPolicy": "pairing"}} and out["hand"] == 1 and out["x"] == 1
    assert "detach:assistant-telegram-bridge" in res["agents"]["assistant"]["actions"]
    # Nothing managed any more: the last managed keys go, the record keeps nothing to remove.
    run.applier(_plan(agent()), secrets=secrets).run()
    assert _config(run) == {"channels": {"telegram": {"dmPolicy": "pairing"}}, "hand": 1}
    run.client.calls = []
    assert run.applier(_plan(agent()), secrets=secrets).run()["changed"] is False


def test_apply_refuses_to_overwrite_a_broken_file_and_reports_a_missing_channel(tmp_path):
    run = Run(tmp_path, ConfigClient())
    secrets = dict(SECRETS, TG=TOKEN)
    run.applier(_plan(agent(config={"x": 1})), secrets=secrets).run()
    run.client.homes["assistant"][".openclaw/openclaw.json"] = b"{broken"
    with pytest.raises(applylib.ApplyError, match="is not valid JSON; it was left as it is"):
        run.applier(_plan(agent(config={"x": 2})), secrets=secrets).run()
    assert run.client.homes["assistant"][".openclaw/openclaw.json"] == b"{broken"
    assert applylib.channels_reported({"channels": {"telegram": {"enabled": False}, "slack": True}}) == ["slack"]
    assert applylib.channels_reported({"channels": ["a", 1]}) == ["a"] and applylib.channels_reported(None) == []


def test_a_channel_the_agent_does_not_report_fails_the_run_or_warns(tmp_path):
    class Silent(ConfigClient):
        def sandbox_exec(self, name, command, workdir=None, timeout=None, data=None, env=None):
            if command[:2] == ["openclaw", "health"]:
                self._call("sandbox_exec", name, list(command))
                return 0, json.dumps({"status": "ok", "channels": []}), ""
            return super(Silent, self).sandbox_exec(name, command, workdir, timeout, data, env)

    run = Run(tmp_path, Silent())
    plan = _plan(agent(channels=[TG]), secrets={"TG": TOKEN})
    with pytest.raises(applylib.ApplyError, match="channel check failed: telegram: openclaw health --json exited 0"):
        run.applier(plan, secrets=dict(SECRETS, TG=TOKEN)).run()
    run2 = Run(tmp_path / "warn", Silent())
    applier = run2.applier(plan, secrets=dict(SECRETS, TG=TOKEN))
    applier.health_required = False
    res = applier.run()
    assert res["agents"]["assistant"]["channels"] == {"telegram": "not reported"}
    assert any("channel check failed" in w for w in run2.warnings)


def test_a_stopped_agent_is_left_alone_and_its_file_is_reconciled_once_it_runs(tmp_path):
    run = Run(tmp_path, ConfigClient())
    secrets = dict(SECRETS, TG=TOKEN)
    run.applier(_plan(agent(channels=[TG], state="stopped"), secrets={"TG": TOKEN}), secrets=secrets).run()
    assert ".openclaw/openclaw.json" not in run.client.homes["assistant"]
    res = run.applier(_plan(agent(channels=[TG]), secrets={"TG": TOKEN}), secrets=secrets).run()
    assert res["agents"]["assistant"]["actions"][-2:] == ["start", "config"]
    assert _config(run)["channels"]["telegram"]["enabled"] is True
