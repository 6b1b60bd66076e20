# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""What an auditor checks on every host after site.yml (every scenario runs these).

Each host is a unix user of this machine behind its own sshd (molecule/shared/create.yml);
everything here is looked at over SSH, as that user.
"""

from __future__ import annotations

import json
import re

from audit import encoded_pattern_cmd


def test_transport_is_ssh_to_the_hosts_own_address(host, hostvars):
    assert hostvars["ansible_connection"] == "ssh"
    # testinfra's ansible backend runs the commands through its ssh backend for this host.
    inner = host.backend.ansible_runner.get_host(hostvars["inventory_hostname"])
    assert host.backend.NAME == "ansible" and not host.backend.force_ansible
    assert inner.backend.NAME == "ssh" and inner.backend.host.name == hostvars["ansible_host"]
    address = hostvars["ansible_host"]
    assert address.startswith("127.") and address != "127.0.0.1"
    # SSH_CONNECTION = "<client ip> <client port> <server ip> <server port>", set by the host's sshd.
    server = host.run("printf '%s' \"$SSH_CONNECTION\"").stdout.split()
    assert server[2:] == [address, str(hostvars["ansible_port"])]


def test_runs_as_its_own_unprivileged_user(host, hostvars, account):
    assert account["name"] == hostvars["ansible_user"] == "molecule-" + hostvars["inventory_hostname"]
    assert account["uid"] != 0
    assert host.file(account["home"]).user == account["name"]


def test_gateway_toml_content_owner_and_mode(host, account, paths, gateway_address):
    toml = host.file(paths["config_dir"] + "/gateway.toml")
    assert toml.is_file
    assert toml.user == account["name"] and toml.group == account["name"]
    assert toml.mode == 0o600
    text = toml.content_string
    assert "[openshell.gateway]" in text
    assert 'bind_address = "%s:%d"' % gateway_address in text
    assert re.search(r"(?m)^disable_tls = true$", text)
    assert re.search(r"(?m)^\[openshell\]\nversion = 1$", text)


def test_gateway_env_names_the_fault_file_only(host, account, paths):
    env = host.file(paths["config_dir"] + "/gateway.env")
    assert env.user == account["name"] and env.mode == 0o600
    keys = sorted(line.split("=", 1)[0] for line in env.content_string.splitlines()
                  if line and not line.startswith("#"))
    assert keys == ["OPENSHELL_SIM_FAULTS", "OPENSHELL_SIM_PYTHON"]
    assert 'OPENSHELL_SIM_FAULTS="%s"' % paths["faults"] in env.content_string


def test_state_directories_are_private(host, account, paths):
    for key in ("config_dir", "state_dir", "agentfleet_state", "gateway_db_dir"):
        d = host.file(paths[key])
        assert d.is_directory, paths[key]
        assert d.user == account["name"], paths[key]
        assert d.mode == 0o700, "%s is %o" % (paths[key], d.mode)
    applied = host.file(paths["agentfleet_state"] + "/applied")
    assert applied.is_directory and applied.user == account["name"] and applied.mode == 0o700
    for name in ("preflight.json", "providers.json", "applied/openshell.json"):
        f = host.file(paths["agentfleet_state"] + "/" + name)
        assert f.is_file and f.mode == 0o600, name


def test_applied_record_names_every_agent_with_its_blueprint(host, paths, hostvars, expected_blueprint):
    """nemoclaw_apply's record of what it applied (per gateway): every agent of nemoclaw_agents."""
    record = json.loads(host.file(paths["agentfleet_state"] + "/applied/openshell.json").content_string)
    assert sorted(record["agents"]) == sorted(a["name"] for a in hostvars["nemoclaw_agents"])
    entry = record["agents"]["openclaw"]
    assert entry["plan_digest"].startswith("sha256:")
    assert entry["blueprint"]["name"] == expected_blueprint["name"]
    assert entry["blueprint"]["version"] == expected_blueprint["version"]
    assert entry["blueprint"]["digest"].split(":", 1)[-1].startswith(expected_blueprint["digest16"])


def test_no_file_contains_a_credential_value(host, account, secret_values):
    """Neither under the home nor anywhere else the host's user owns a file."""
    patterns = encoded_pattern_cmd(secret_values)
    home = account["home"]
    scanned = host.run("find %s -xdev -type f | wc -l" % home)
    assert int(scanned.stdout.strip()) > 20  # the installation, configuration, gateway db, sandboxes
    in_home = host.run("%s | grep -rlsF -f - %s" % (patterns, home))
    assert in_home.rc == 1, "credential value found in:\n" + in_home.stdout
    elsewhere = host.run(
        "find / -xdev \\( -path /proc -o -path /sys -o -path %s \\) -prune -o -user %s -type f -print0 2>/dev/null"
        " | xargs -0 -r grep -lsF -f <(%s)" % (home, account["name"], patterns))
    assert elsewhere.stdout == "", "credential value found in:\n" + elsewhere.stdout


def test_no_process_carries_a_credential_value(host, account, secret_values):
    """Not in the argv and not in the environment of any process of the host's user."""
    patterns = encoded_pattern_cmd(secret_values)
    res = host.run(
        "for p in $(pgrep -u %s); do for f in cmdline environ; do"
        " tr '\\0' '\\n' </proc/$p/$f 2>/dev/null | grep -qF -f <(%s) && echo $p/$f; done; done; true"
        % (account["name"], patterns))
    assert res.stdout.strip() == "", "credential value in /proc/" + res.stdout


def test_gateway_process_runs_as_the_host_user(host, account, paths, gateway_address):
    pid = host.file(paths["state_dir"] + "/gateway.pid").content_string.strip()
    assert pid.isdigit()
    proc = host.process.get(pid=int(pid))
    assert proc.user == account["name"]
    assert proc.comm == "openshell-gatew"  # /proc/PID/comm keeps 15 characters of openshell-gateway
    assert "openshell_sim.gateway" in proc.args and paths["config_dir"] + "/gateway.toml" in proc.args
    assert host.socket("tcp://%s:%d" % gateway_address).is_listening
    # Exactly one gateway per host.
    gateways = host.run("pgrep -u %s -x openshell-gatew" % account["name"]).stdout.split()
    assert gateways == [pid]


def test_cli_is_registered_and_connected(cli, gateway_address):
    status = cli.ok("status")
    assert "http://%s:%d" % gateway_address in status
    assert "Connected" in status


def test_sandbox_is_ready_with_the_blueprint_labels(cli, expected_blueprint):
    sandbox = cli.json("sandbox", "get", "openclaw", "-o", "json")
    assert sandbox["phase"] == "Ready"
    labels = sandbox["labels"]
    assert labels["agentfleet.nemoclaw/managed"] == "true"
    assert labels["nemoclaw.blueprint/name"] == expected_blueprint["name"]
    assert labels["nemoclaw.blueprint/version"] == expected_blueprint["version"]
    assert labels["nemoclaw.blueprint/digest"] == expected_blueprint["digest16"]


def test_newest_policy_revision_is_loaded(cli):
    sandbox = cli.json("sandbox", "get", "openclaw", "-o", "json")
    rows = [line.split() for line in cli.ok("policy", "list", "openclaw").splitlines()[1:] if line.strip()]
    assert rows, "no policy revision"
    newest = max(rows, key=lambda r: int(r[0]))
    assert newest[2] == "loaded", rows
    assert int(newest[0]) == sandbox["current_policy_version"]
    policy = cli.json("policy", "get", "openclaw", "-o", "json")
    assert policy["active_version"] == sandbox["current_policy_version"] and policy["status"] == "effective"


def test_provider_and_inference_route(cli):
    providers = dict((p["name"], p) for p in cli.json("provider", "list", "-o", "json"))
    assert providers["nvidia-inference"]["credential_keys"] == ["NVIDIA_API_KEY"]
    route = cli.ok("inference", "get")
    assert re.search(r"Provider:\s+nvidia-inference", route)
    assert re.search(r"Model:\s+nvidia/nemotron-3-super-120b-a12b", route)
