# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""What runs inside the sandbox (channels, MCP servers, the agent's own configuration) on a ``scripts/simfleet``
fleet of two hosts, steps in order on one fleet:

1. an OpenClaw agent with a Telegram channel on sim-1 (site.yml at -vvv): a gateway provider holds the token and
   is attached, the sandbox policy allows the Telegram API, openclaw.json has the channel enabled with a
   placeholder, the agent's ``health --json`` reports it, and the token is in no sandbox file and no output;
2. a key added by hand to openclaw.json survives a re-run (``changed=0``, no mutating call) and a replacement;
3. two agents of sim-1 with the same token are refused before any write, naming both;
4. the same token on sim-1 and sim-2 is refused before any write, naming both hosts;
5. an MCP server on sim-2 appears in the policy and in the agent's configuration; a Hermes agent beside it gets
   Slack (two tokens, two providers) in its config.yaml;
6. removing the channel: ``--check --diff`` only reads the file and names the fields; the run removes the provider
   attachment, the preset and the section (the hand key stays);
and every call any host logged is valid for the real CLI's grammar.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simfleet_runner import SimFleet  # noqa: E402  pylint: disable=wrong-import-position

NV = {"NVIDIA_INFERENCE_API_KEY": "nvapi-SIMFLEET-0000-not-a-real-key"}
TOKEN = "7000000001:AAH-agentfleet-CANARY-telegram-token-0001"
OTHER_TOKEN = "7000000002:AAH-agentfleet-OTHER-telegram-token-0002"
CONFIG = ".openclaw/openclaw.json"
# The apply's read of the agent's configuration file (plugins/module_utils/apply.py).
CONFIG_READ_SCRIPT = 'if [ -f "$1" ]; then cat -- "$1"; fi'
CHANNEL = {"type": "telegram", "credential": "TG_ASSISTANT"}
AGENT = {"name": "openclaw", "agent": "openclaw", "channels": [CHANNEL],
         "config": {"agents": {"defaults": {"timeoutSeconds": 600}}}}


def agent_results(step, host):
    """The result of the task that converges the host's agents (in the agents role or site.yml's quick path)."""
    found = [r for r in step.results if r["host"] == host and r["task"].endswith("Converge the agents of the host")]
    assert found, "no agents result for %s; tasks: %s\n%s" % (host, [r["task"] for r in step.results], step.stdout[-3000:])
    return found[-1]["result"]


def _vars(agents, **secrets):
    return {"nemoclaw_agents": agents, "nemoclaw_secrets": dict(NV, **secrets)}


def _config(fleet, host, sandbox="openclaw"):
    return json.loads(fleet.sh(host, "cat %s" % CONFIG, sandbox))


def _policy(fleet, host, sandbox="openclaw"):
    out = fleet.openshell(host, "policy", "get", sandbox, "--full", "-o", "json").stdout
    return (json.loads(out).get("policy") or {}).get("network_policies") or {}


def _attached(fleet, host, sandbox="openclaw"):
    return fleet.openshell(host, "sandbox", "provider", "list", sandbox).stdout


def _files_containing(root, needle):
    hits = []
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            try:
                with open(path, "rb") as fh:
                    if needle.encode() in fh.read():
                        hits.append(path)
            except OSError:
                pass
    return hits


def _sandbox_root(fleet, host, sandbox="openclaw"):
    home = fleet.sh(host, "pwd", sandbox).strip()
    return os.path.dirname(home)


def _endpoint_hosts(policy):
    return sorted(ep.get("host") for rule in policy.values() for ep in rule.get("endpoints") or [])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = SimFleet(tmp_path_factory.mktemp("agentconfig"), hosts=2)
    try:
        step = f.run()
        assert step.rc == 0, step.stdout[-4000:]
        yield f
    finally:
        f.down()
    assert f.invalid_calls() == []


def test_a_telegram_channel_reaches_provider_policy_config_and_health(fleet):
    fleet.set_vars("sim-1", _vars([AGENT], TG_ASSISTANT=TOKEN))
    step = fleet.run(limit="sim-1", verbosity=3)
    assert step.rc == 0, step.stdout[-4000:]
    res = agent_results(step, "sim-1")["agents"]["openclaw"]
    assert "attach:openclaw-telegram-bridge" in res["actions"] and "config" in res["actions"]
    assert res["health"]["status"]["channels"] == ["telegram"]
    assert res["channels"] == {"telegram": "enabled"}
    assert "config.channels.telegram.enabled: -" in step.stdout and "config.channels.telegram.enabled: true" in step.stdout

    providers = json.loads(fleet.openshell("sim-1", "provider", "list", "-o", "json").stdout)
    bridge = [p for p in providers if p["name"] == "openclaw-telegram-bridge"]
    assert bridge and "TELEGRAM_BOT_TOKEN" in json.dumps(bridge[0])
    assert "openclaw-telegram-bridge" in _attached(fleet, "sim-1")
    policy = _policy(fleet, "sim-1")
    assert "api.telegram.org" in _endpoint_hosts(policy)

    cfg = _config(fleet, "sim-1")
    assert cfg["channels"]["telegram"] == {"enabled": True, "botToken": "openshell:resolve:env:TELEGRAM_BOT_TOKEN"}
    assert cfg["models"]["providers"]["inference"]["baseUrl"] == "https://inference.local/v1"
    assert cfg["agents"]["defaults"]["timeoutSeconds"] == 600
    assert cfg["agents"]["defaults"]["model"]["primary"].startswith("inference/")

    assert TOKEN not in step.stdout and TOKEN not in json.dumps(step.results)
    assert all(TOKEN not in " ".join(c["argv"]) for c in step.calls)
    assert _files_containing(_sandbox_root(fleet, "sim-1"), TOKEN) == []
    assert _files_containing(fleet.state_dir("sim-1"), TOKEN) == []


def test_a_key_added_by_hand_survives_a_rerun_and_a_replacement(fleet):
    cfg = _config(fleet, "sim-1")
    cfg["ui"] = {"assistant": {"name": "Hand Written"}}
    fleet.openshell("sim-1", "sandbox", "exec", "--name", "openclaw", "--no-tty", "--", "sh", "-c",
                    "cat > %s" % CONFIG, data=json.dumps(cfg, indent=2))
    again = fleet.run(limit="sim-1")
    assert again.rc == 0, again.stdout[-4000:]
    assert agent_results(again, "sim-1")["changed"] is False
    assert again.mutating == []
    assert _config(fleet, "sim-1")["ui"] == {"assistant": {"name": "Hand Written"}}

    before = fleet.sandbox("sim-1")
    fleet.set_vars("sim-1", _vars([dict(AGENT, resources={"memory": "16Gi"})], TG_ASSISTANT=TOKEN))
    step = fleet.run(limit="sim-1")
    assert step.rc == 0, step.stdout[-4000:]
    res = agent_results(step, "sim-1")["agents"]["openclaw"]
    assert res["replace"] is True and res["restored"]["verified"] is True
    assert fleet.sandbox("sim-1")["id"] != before["id"]
    cfg = _config(fleet, "sim-1")
    assert cfg["ui"] == {"assistant": {"name": "Hand Written"}}
    assert cfg["channels"]["telegram"]["enabled"] is True
    quiet = fleet.run(limit="sim-1")
    assert quiet.rc == 0 and agent_results(quiet, "sim-1")["changed"] is False and quiet.mutating == []


def test_one_token_for_two_agents_on_a_host_is_refused_before_any_write(fleet):
    two = [dict(AGENT, resources={"memory": "16Gi"}),
           {"name": "second", "agent": "openclaw", "channels": [{"type": "telegram", "credential": "TG_SECOND"}]}]
    fleet.set_vars("sim-1", _vars(two, TG_ASSISTANT=TOKEN, TG_SECOND=TOKEN))
    step = fleet.run(limit="sim-1", verbosity=3)
    assert step.rc != 0
    msg = agent_results(step, "sim-1")["msg"]
    assert "nemoclaw_agents[second].channels[0].credential" in msg and "nemoclaw_agents[openclaw]" in msg, msg
    assert step.mutating == []
    assert TOKEN not in step.stdout


def test_one_token_on_two_hosts_is_refused_before_any_write(fleet):
    fleet.set_vars("sim-1", _vars([dict(AGENT, resources={"memory": "16Gi"})], TG_ASSISTANT=TOKEN))
    fleet.set_vars("sim-2", _vars([{"name": "openclaw", "agent": "openclaw", "channels": [
        {"type": "telegram", "credential": "TG_COPY"}]}], TG_COPY=TOKEN))
    step = fleet.run(verbosity=3)
    assert step.rc != 0
    for host, other in (("sim-1", "sim-2"), ("sim-2", "sim-1")):
        msg = agent_results(step, host)["msg"]
        assert "host %s nemoclaw_agents[openclaw].channels[0].credential" % other in msg, msg
    assert step.mutating == []
    assert TOKEN not in step.stdout


def test_an_mcp_server_appears_in_policy_and_config(fleet):
    slack = {"type": "slack", "credentials": {"SLACK_BOT_TOKEN": "HELPER_SLACK_BOT", "SLACK_APP_TOKEN": "HELPER_SLACK_APP"}}
    fleet.set_vars("sim-2", _vars([{"name": "openclaw", "agent": "openclaw", "mcp_servers": [
        {"name": "docs", "url": "https://mcp.example.com/mcp", "deny_tools": ["delete_page"]}]},
        {"name": "helper", "agent": "hermes", "channels": [slack]}],
        HELPER_SLACK_BOT="xoxb-0000000000-agentfleet-bot-token", HELPER_SLACK_APP="xapp-1-A000-agentfleet-app-token"))
    step = fleet.run(limit="sim-2")
    assert step.rc == 0, step.stdout[-4000:]
    # A Hermes agent with Slack: two providers (bot and app token), the preset, its config.yaml and the channel check.
    attached = _attached(fleet, "sim-2", "helper")
    assert "helper-slack-bridge" in attached and "helper-slack-app" in attached
    assert "slack.com" in _endpoint_hosts(_policy(fleet, "sim-2", "helper"))
    hermes = json.loads(fleet.sh("sim-2", "cat .hermes/config.yaml", "helper"))
    assert hermes["platforms"] == {"slack": {"enabled": True}}
    assert hermes["model"]["base_url"] == "https://inference.local/v1"
    assert agent_results(step, "sim-2")["agents"]["helper"]["channels"] == {"slack": "enabled"}
    policy = _policy(fleet, "sim-2")
    assert policy["mcp_docs"]["endpoints"][0]["host"] == "mcp.example.com"
    assert "/usr/local/bin/openclaw" in json.dumps(policy["mcp_docs"]["binaries"])
    assert _config(fleet, "sim-2")["mcp"]["servers"]["docs"] == {
        "url": "https://mcp.example.com/mcp", "transport": "streamable-http", "tools": {"deny": ["delete_page"]}}
    assert agent_results(step, "sim-2")["agents"]["openclaw"]["health"]["status"]["mcp_servers"] == ["docs"]
    again = fleet.run(limit="sim-2")
    assert again.rc == 0 and again.mutating == []


def test_removing_the_channel_removes_attachment_preset_and_section(fleet):
    fleet.set_vars("sim-1", _vars([dict(AGENT, channels=[], resources={"memory": "16Gi"})], TG_ASSISTANT=OTHER_TOKEN))
    before = _config(fleet, "sim-1")
    check = fleet.run(limit="sim-1", check=True)
    assert check.rc == 0, check.stdout[-4000:]
    assert "config.channels.telegram.enabled: true" in check.stdout and "config.channels.telegram.enabled: removed" \
        in check.stdout
    # Check mode only reads: the one call into the sandbox is the read of the configuration file.
    assert [c["argv"][-3] for c in check.mutating] == [CONFIG_READ_SCRIPT], check.mutating
    assert _config(fleet, "sim-1") == before
    step = fleet.run(limit="sim-1")
    assert step.rc == 0, step.stdout[-4000:]
    res = agent_results(step, "sim-1")["agents"]["openclaw"]
    assert "detach:openclaw-telegram-bridge" in res["actions"]
    assert "openclaw-telegram-bridge" not in _attached(fleet, "sim-1")
    assert "api.telegram.org" not in _endpoint_hosts(_policy(fleet, "sim-1"))
    cfg = _config(fleet, "sim-1")
    assert "telegram" not in (cfg.get("channels") or {})
    assert cfg["ui"] == {"assistant": {"name": "Hand Written"}}
    assert cfg["agents"]["defaults"]["timeoutSeconds"] == 600
    assert "config.channels.telegram.enabled: true" in step.stdout
    again = fleet.run(limit="sim-1")
    assert again.rc == 0 and again.mutating == []
