# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""After the canary scenario's two rollouts (side_effect.yml): the failed one, rolled back on the
canary c1 and stopped there, and the successful one. The shared audit (../shared/tests) checks
that every sandbox now carries the 0.2.0 labels (expected-blueprints.json)."""

from __future__ import annotations

import json
import shlex

import pytest

from audit import encoded_pattern_cmd

NEW_IMAGE = "5ca1ab1e0c0ffee05ca1ab1e0c0ffee05ca1ab1e0c0ffee05ca1ab1e0c0ffee0"


@pytest.fixture(scope="module")
def record(host, paths):
    f = host.file(paths["agentfleet_state"] + "/applied/openshell.json")
    assert f.is_file
    return f, json.loads(f.content_string)["agents"]["openclaw"]


def test_applied_record_names_the_new_plan_and_the_previous_one(record, account, secret_values):
    f, entry = record
    assert f.user == account["name"] and f.mode == 0o600
    assert entry["blueprint"]["version"] == "0.2.0"
    assert entry["previous"]["blueprint"]["version"] == "0.1.0"
    assert not [v for v in secret_values if v in f.content_string]


def test_no_replacement_left_unfinished(host, paths):
    journal = host.file(paths["agentfleet_state"] + "/journal/openshell")
    assert not journal.exists or journal.listdir() == []


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


def test_backups_are_private_and_hold_no_credential(host, paths, secret_values):
    backups = host.file(paths["agentfleet_state"] + "/backups/openshell/openclaw")
    assert backups.is_directory and backups.mode == 0o700
    archives = [n for n in backups.listdir() if n.endswith(".tar.gz")]
    assert archives
    for name in archives:
        archive = host.file(backups.path + "/" + name)
        assert archive.mode == 0o600
        members = host.check_output("tar -tzf %s" % archive.path).split()
        assert not [m for m in members if m.rsplit("/", 1)[-1] in ("credentials.json", "auth-profiles.json", ".env")
                    or m.endswith((".pem", ".key", ".token"))], members
    leak = host.run("%s | for f in %s/*.tar.gz; do tar -xzOf \"$f\" | grep -qF -f /dev/stdin && echo \"$f\"; done; true"
                    % (encoded_pattern_cmd(secret_values), backups.path))
    assert leak.stdout.strip() == ""
