# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""After the canary scenario's two rollouts (side_effect.yml): the failed one, rolled back on the
canary c1 and stopped there, and the successful one. The shared audit (../shared/tests) checks
that every sandbox now carries the 0.2.0 labels (expected-blueprints.json)."""

from __future__ import annotations

import glob
import json
import os
import shlex

import pytest

from audit import encoded_pattern_cmd

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
NEW_IMAGE = "5ca1ab1e0c0ffee05ca1ab1e0c0ffee05ca1ab1e0c0ffee05ca1ab1e0c0ffee0"


def newest_report(kind):
    paths = sorted(glob.glob(os.path.join(EPHEMERAL, "canary-reports", kind, "canary-*.json")))
    assert paths, "no %s report" % kind
    with open(paths[-1]) as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def rollout(host, paths):
    f = host.file(paths["agentfleet_state"] + "/rollout.json")
    assert f.is_file
    return f, json.loads(f.content_string)


def test_reports_on_the_controller():
    failure = newest_report("failure")
    assert failure["status"] == "stopped"
    assert dict((h["host"], h["result"]) for h in failure["hosts"]) == {
        "c1": "rolled back", "c2": "not started", "c3": "not started", "c4": "not started"}
    success = newest_report("success")
    assert success["status"] == "complete"
    assert sorted(h["host"] for h in success["hosts"] if h["result"] == "upgraded") == ["c1", "c2", "c3", "c4"]
    assert failure["target"]["digest"] == success["target"]["digest"]


def test_rollout_state_file(rollout, account, secret_values):
    f, state = rollout
    assert f.user == account["name"] and f.mode == 0o600
    assert state["status"] == "upgraded"
    assert state["previous"]["version"] == "0.1.0" and state["previous"]["src"] == "openclaw"
    assert state["current"]["version"] == "0.2.0"
    assert state["current"]["image"].endswith("@sha256:" + NEW_IMAGE)
    assert state["current"]["digest"] == newest_report("success")["target"]["digest"]
    assert not [v for v in secret_values if v in f.content_string]


def test_history_shows_the_rollback_on_the_canary_only(rollout, hostvars):
    _f, state = rollout
    events = [h["event"] for h in state["history"]]
    if "canary" in hostvars["group_names"]:
        assert events[-3:] == ["upgrade started", "rolled back", "upgrade started"] or \
            events[-4:-1] == ["upgrade started", "rolled back", "upgrade started"], events
    else:
        assert "rolled back" not in events and events.count("upgrade started") == 1, events


def test_sandbox_runs_the_new_image(host, paths):
    """The CLI does not print a sandbox's image: read the gateway's own record, read-only."""
    query = ("import json, sqlite3, sys; db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True); "
             "print(json.loads(db.execute(\"select doc from objects where kind='sandbox' and name='openclaw'\")"
             ".fetchone()[0])['image'])")
    image = host.check_output("/usr/bin/python3 -c %s %s/openshell.db" % (shlex.quote(query), paths["gateway_db_dir"]))
    assert image == "ghcr.io/nvidia/openshell-community/sandboxes/openclaw@sha256:" + NEW_IMAGE


def test_the_new_agent_is_healthy(cli):
    out = cli.ok("sandbox", "exec", "--name", "openclaw", "--no-tty", "--", "openclaw", "health", "--json")
    assert json.loads(out)["status"] == "ok"


def test_fault_file_is_gone(host, paths):
    assert not host.file(paths["faults"]).exists


def test_backups_are_private_and_hold_no_credential(host, rollout, paths, secret_values):
    _f, state = rollout
    backups = host.file(paths["agentfleet_state"] + "/backups")
    assert backups.is_directory and backups.mode == 0o700
    backup = host.file(state["backup"])
    assert backup.is_file and backup.mode == 0o600
    members = host.check_output("tar -tzf %s" % state["backup"]).split()
    assert not [m for m in members if m.rsplit("/", 1)[-1] in ("credentials.json", "auth-profiles.json", ".env")
                or m.endswith((".pem", ".key", ".token"))], members
    leak = host.run("%s | for f in %s/*.tar.gz; do tar -xzOf \"$f\" | grep -qF -f /dev/stdin && echo \"$f\"; done; true"
                    % (encoded_pattern_cmd(secret_values), backups.path))
    assert leak.stdout.strip() == ""
