# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""After the default scenario's side effect (side_effect.yml: drift made, found twice, repaired, found
gone) and molecule's idempotence step. The shared audit (../shared/tests) checks the repaired hosts as a
whole: sandbox Ready, newest policy revision loaded, configuration and secrets."""

from __future__ import annotations

import json
import os

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")


def report(name):
    with open(os.path.join(EPHEMERAL, "drift-reports", name, "drift-report.json")) as fh:
        return json.load(fh)


def drifted(rep):
    return dict((host, sorted(entry["resources"])) for host, entry in rep["hosts"].items() if entry["resources"])


def test_the_scan_and_the_check_run_found_the_drift_made():
    # nemoclaw_apply reports each agent's differences under its sandbox (h1: its policy, h2: its phase).
    assert drifted(report("scan")) == {"h1": ["sandbox"], "h2": ["sandbox"]}
    assert drifted(report("check")) == {"h1": ["sandbox"], "h2": ["sandbox"]}
    for rep in (report("scan"), report("check")):
        h1 = [f for f in rep["hosts"]["h1"]["findings"] if f["resource"] == "sandbox"]
        h2 = [f for f in rep["hosts"]["h2"]["findings"] if f["resource"] == "sandbox"]
        assert [(f["name"], f["differences"]) for f in h1] == [
            ("openclaw", ["policy.network_policies.allow_example_com_443: present -> removed"])]
        assert [(f["name"], f["differences"]) for f in h2] == [("openclaw", ["phase: Stopped -> Ready"])]
    assert os.path.exists(os.path.join(EPHEMERAL, "drift-reports", "scan", "drift-report.md"))


def test_nothing_drifted_after_the_repair():
    after = report("after")
    assert drifted(after) == {}
    assert after["summary"]["in_sync"] == 3 and after["summary"]["failed"] == 0


def test_the_added_endpoint_is_gone_again(cli):
    policy = cli.json("sandbox", "get", "openclaw", "-o", "json")["policy"]
    assert "allow_example_com_443" not in policy["network_policies"]
    assert "example.com" not in json.dumps(policy["network_policies"])


def test_the_policy_was_changed_and_repaired_on_h1_only(cli, hostvars):
    sandbox = cli.json("sandbox", "get", "openclaw", "-o", "json")
    if hostvars["inventory_hostname"] == "h1":
        # The converged revision, the drifted one, the repaired one.
        assert sandbox["current_policy_version"] >= 3
    else:
        assert sandbox["current_policy_version"] == 1


def test_every_sandbox_runs(cli):
    assert cli.json("sandbox", "get", "openclaw", "-o", "json")["phase"] == "Ready"
