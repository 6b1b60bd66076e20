# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Drift detection on a simulated fleet: ``site.yml --check --diff`` and the fast scan agree.

Five hosts are converged with site.yml, then changed behind Ansible's back on
three of them (a network policy added, a provider credential rewritten, the
sandbox stopped and the inference route moved). The drift_report callback's
JSON of ``site.yml --check --diff`` and of ``playbooks/drift.yml`` must list
exactly those hosts and resources. Module executions per host are counted
from the AnsiballZ payloads Ansible leaves behind with ANSIBLE_KEEP_REMOTE_FILES
(one per module execution, in a per-host remote_tmp).
"""

from __future__ import annotations

import glob
import json
import os
import time

import pytest

from conftest import _fleet
from playrunner import is_read_only

CALLBACKS = "record_results,agentfleet.nemoclaw.drift_report"
# The simulated gateway runs as python3, not openshell-gateway (preflight's port check).
PROCESS_NAMES = ["openshell-gateway", "python3", "python3.11", "python"]
EXPECTED = {
    "host1": {"policy"},
    "host2": {"provider"},
    "host3": {"sandbox", "inference"},
}


@pytest.fixture
def fleet5(tmp_path):
    yield from _fleet(tmp_path, 5)


def _run(fleet, label, playbook, check=False, extra_vars=None, count=True):
    """Run a playbook with the drift_report callback (JSON under <workdir>/<label>) and count module executions."""
    report_dir = os.path.join(fleet.workdir, label)
    host_vars = dict((name, {"ansible_remote_tmp": os.path.join(fleet.workdir, "rtmp-" + label, name),
                             "preflight_gateway_process_names": PROCESS_NAMES})
                     for name in fleet.hosts)
    env = {"ANSIBLE_CALLBACKS_ENABLED": CALLBACKS, "DRIFT_REPORT_DIR": report_dir}
    if count:
        env["ANSIBLE_KEEP_REMOTE_FILES"] = "1"
    started = time.time()
    step = fleet.run_site(playbook, check=check, diff=True, extra_vars=extra_vars, host_vars=host_vars, env=env)
    step.seconds = time.time() - started
    step.executions = dict(
        (name, len(glob.glob(os.path.join(fleet.workdir, "rtmp-" + label, name, "*", "AnsiballZ_*.py"))))
        for name in fleet.hosts)
    path = os.path.join(report_dir, "drift-report.json")
    step.report = json.load(open(path)) if os.path.exists(path) else None
    step.markdown = open(os.path.join(report_dir, "drift-report.md")).read() if os.path.exists(path) else ""
    return step


def _drift(report):
    return dict((host, set(entry["resources"])) for host, entry in report["hosts"].items() if entry["resources"])


def test_check_run_and_fast_scan_find_the_same_drift(fleet5):
    fleet = fleet5
    converge = _run(fleet, "converge", "site.yml", count=False)
    assert converge.rc == 0, converge.stdout[-3000:]

    # (d) an undrifted fleet: nothing found, exit 0, nothing changed
    clean = _run(fleet, "clean", "playbooks/drift.yml", extra_vars={"drift_fail_on_change": True})
    assert clean.rc == 0, clean.stdout[-3000:]
    assert clean.report["summary"] == {"hosts": 5, "drifted": 0, "in_sync": 5, "failed": 0, "by_resource": {}}
    assert clean.mutating == []
    assert "No drift." in clean.markdown

    # drift behind Ansible's back, three hosts, four kinds
    h1, h2, h3 = fleet.hosts["host1"], fleet.hosts["host2"], fleet.hosts["host3"]
    h1.ok("policy", "update", "openclaw", "--add-endpoint", "evil.example.com:443")
    h2.ok("provider", "update", "nvidia-inference", "--credential", "NVIDIA_API_KEY",
          env={"NVIDIA_API_KEY": "nvapi-ROTATED-BY-HAND"})
    h3.ok("sandbox", "stop", "openclaw")
    h3.ok("inference", "set", "--provider", "nvidia-inference", "--model", "other/model", "--no-verify")

    # (a) site.yml --check --diff, reported by the callback; every module deciding for itself
    # (nemoclaw_observe=false), so the comparison code of the fast scan is not its own oracle
    check = _run(fleet, "check", "site.yml", check=True, extra_vars={"nemoclaw_observe": False})
    assert check.rc == 0, check.stdout[-3000:]
    assert _drift(check.report) == EXPECTED, json.dumps(check.report["hosts"], indent=1)
    # the check run's only non-read call is the health probe (a read-only command inside the sandbox)
    assert [c for c in check.calls if not is_read_only(c["argv"]) and "exec" not in c["argv"]] == []

    # (a') the default site.yml --check (observe role: only the modules of what differs run) reports the same,
    # with the same diffs, and runs fewer modules
    observed = _run(fleet, "check-observed", "site.yml", check=True)
    assert observed.rc == 0, observed.stdout[-3000:]
    assert observed.report["hosts"] == check.report["hosts"]
    assert [c for c in observed.calls if not is_read_only(c["argv"]) and "exec" not in c["argv"]] == []
    assert sum(observed.executions.values()) < sum(check.executions.values()), (observed.executions, check.executions)

    # (b)+(c) the fast scan finds the same set and fails the drifted hosts
    scan = _run(fleet, "scan", "playbooks/drift.yml", extra_vars={"drift_fail_on_change": True})
    assert scan.rc != 0, scan.stdout[-3000:]
    assert _drift(scan.report) == EXPECTED, json.dumps(scan.report["hosts"], indent=1)
    assert scan.mutating == []
    assert scan.report["mode"] == "scan" and check.report["mode"] == "check"

    # the same details where the check run can see them (providers are no_log there)
    def lines(report):
        return dict(((h, f["resource"]), f["differences"]) for h, e in report["hosts"].items() for f in e["findings"]
                    if f["resource"] != "provider")
    assert lines(scan.report) == lines(check.report)
    policy = [f for f in scan.report["hosts"]["host1"]["findings"] if f["resource"] == "policy"][0]
    assert policy["differences"] == ["network_policies.allow_evil_example_com_443 not in the plan"]
    assert policy["provenance"]["allow_evil_example_com_443"]["change"] == "removed"
    provider = [f for f in scan.report["hosts"]["host2"]["findings"] if f["resource"] == "provider"][0]
    assert any("changed outside Ansible" in d for d in provider["differences"]), provider
    sandbox = [f for f in scan.report["hosts"]["host3"]["findings"] if f["resource"] == "sandbox"][0]
    assert sandbox["action"] == "start"
    assert "| host1 | policy | openclaw |" in scan.markdown and "## Policy provenance" in scan.markdown
    assert "nvapi-" not in json.dumps(scan.report) + json.dumps(check.report) + scan.stdout + check.stdout

    # cost: one task per host (read, plan and compare in nemoclaw_drift), one module execution per host
    assert sorted(r["host"] for r in clean.results) == sorted(fleet.hosts), [r["task"] for r in clean.results]
    assert set(r["task"].split(" : ")[-1] for r in clean.results) == {
        "Read the host's OpenShell state once and compare it with the plan"}
    assert set(scan.executions.values()) == {1}, scan.executions
    assert set(clean.executions.values()) == {1}, clean.executions
    print("\nmodule executions per host: playbooks/drift.yml %s, site.yml --check %s" % (
        sorted(set(scan.executions.values())), sorted(set(check.executions.values()))))
    print("wall time, 5 hosts: playbooks/drift.yml %.1f s, site.yml --check --diff %.1f s, site.yml %.1f s" % (
        scan.seconds, check.seconds, converge.seconds))
    # A budget, so a change that adds module executions to a check run is noticed (docs/performance.md):
    # 9 on a host in sync (the table of docs/performance.md), one more where a module has to run for
    # a drifted resource. It was 12-13 before the gateway files, setup and the lock probe were cut.
    assert max(check.executions.values()) <= 10, check.executions

    # a blueprint the scan cannot plan fails every host, names the field, and changes nothing
    bad = _run(fleet, "bad-digest", "playbooks/drift.yml", extra_vars={"blueprint_digest": "sha256:1234"}, count=False)
    assert bad.rc != 0
    failed = [r for r in bad.results if r["status"] == "failed"]
    assert len(failed) == len(fleet.hosts), bad.stdout[-3000:]
    assert all(r["result"]["msg"].startswith("blueprint: ") and r["result"]["error_path"] == "digest"
               for r in failed), failed[0]["result"]
    assert bad.mutating == []
