# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Drift detection on a simulated fleet: ``site.yml --check --diff`` and the fast scan agree.

Three hosts are converged with site.yml, then changed behind Ansible's back on
two of them (host1: a network policy added and a provider credential rewritten;
host2: the sandbox stopped and the inference route moved); the third stays in sync. The
drift_report callback's JSON of ``site.yml --check --diff`` and of
``playbooks/drift.yml`` must list exactly those hosts and resources. Module
executions per host are counted from the AnsiballZ payloads Ansible leaves
behind with ANSIBLE_KEEP_REMOTE_FILES (one per module execution, in a per-host
remote_tmp); the scan runs none (its host reader is not a module).
"""

from __future__ import annotations

import glob
import json
import os
import time

CALLBACKS = "record_results,agentfleet.nemoclaw.drift_report"
# The simulated gateway runs as python3, not openshell-gateway (preflight's port check).
PROCESS_NAMES = ["openshell-gateway", "python3", "python3.11", "python"]
APPLY = "Converge the agents of the host"
EXPECTED = {
    "host1": {"sandbox", "provider"},
    "host2": {"sandbox", "inference"},
}


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


def _findings(report, host, resource):
    return [f for f in report["hosts"][host]["findings"] if f["resource"] == resource]


def test_check_run_and_fast_scan_find_the_same_drift(fleet3):
    fleet = fleet3
    converge = _run(fleet, "converge", "site.yml", count=False)
    assert converge.rc == 0, converge.stdout[-3000:]

    # (d) an undrifted fleet: nothing found, exit 0, nothing changed
    clean = _run(fleet, "clean", "playbooks/drift.yml", extra_vars={"drift_fail_on_change": True})
    assert clean.rc == 0, clean.stdout[-3000:]
    assert clean.report["summary"] == {"hosts": 3, "drifted": 0, "in_sync": 3, "failed": 0, "by_resource": {}}
    assert clean.mutating == []
    assert "No drift." in clean.markdown

    # drift behind Ansible's back, two hosts, four kinds
    h1, h2 = fleet.hosts["host1"], fleet.hosts["host2"]
    h1.ok("policy", "update", "openclaw", "--add-endpoint", "evil.example.com:443")
    h1.ok("provider", "update", "nvidia-inference", "--credential", "NVIDIA_API_KEY",
          env={"NVIDIA_API_KEY": "nvapi-ROTATED-BY-HAND"})
    h2.ok("sandbox", "stop", "openclaw")
    h2.ok("inference", "set", "--provider", "nvidia-inference", "--model", "other/model", "--no-verify")

    # (a) site.yml --check --diff, reported by the callback; nothing but reads reach OpenShell
    check = _run(fleet, "check", "site.yml", check=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert _drift(check.report) == EXPECTED, json.dumps(check.report["hosts"], indent=1)
    assert check.mutating == [], [c["argv"] for c in check.mutating]
    # the diff names each field
    assert "policy.network_policies.allow_evil_example_com_443" in check.stdout
    assert "model: other/model" in check.stdout and "phase: Stopped" in check.stdout

    # (b)+(c) the fast scan finds the same drift, with the same details, and fails the drifted hosts
    scan = _run(fleet, "scan", "playbooks/drift.yml", extra_vars={"drift_fail_on_change": True})
    assert scan.rc != 0, scan.stdout[-3000:]
    assert _drift(scan.report) == EXPECTED, json.dumps(scan.report["hosts"], indent=1)
    assert scan.mutating == []
    assert scan.report["mode"] == "scan" and check.report["mode"] == "check"
    assert sorted(r["host"] for r in scan.results if r["status"] == "failed") == ["host1", "host2"]
    assert [r["status"] for r in scan.results if r["host"] == "host3"] == ["ok"]

    def lines(report):
        return dict(((h, f["resource"], f["name"]), f["differences"]) for h, e in report["hosts"].items()
                    for f in e["findings"])
    assert lines(scan.report) == lines(check.report)
    (policy,) = _findings(scan.report, "host1", "sandbox")
    assert any(d.startswith("policy.network_policies.allow_evil_example_com_443") for d in policy["differences"]), policy
    (provider,) = _findings(scan.report, "host1", "provider")
    assert any("outside Ansible" in d for d in provider["differences"]), provider
    (sandbox,) = _findings(scan.report, "host2", "sandbox")
    assert sandbox["action"] == "start" and any(d.startswith("phase: Stopped") for d in sandbox["differences"]), sandbox
    (route,) = _findings(scan.report, "host2", "inference")
    assert any("other/model" in d for d in route["differences"]), route
    assert "| host1 | sandbox | openclaw |" in scan.markdown, scan.markdown
    assert "nvapi-" not in json.dumps(scan.report) + json.dumps(check.report) + scan.stdout + check.stdout

    # cost: one task per host for the scan, and no module: the host is read by the host reader (readback.py),
    # the comparison made on the controller
    assert set(r["task"].split(" : ")[-1] for r in clean.results) == {APPLY}, [r["task"] for r in clean.results]
    assert sorted(r["host"] for r in clean.results) == sorted(fleet.hosts), [r["task"] for r in clean.results]
    assert set(scan.executions.values()) == {0}, scan.executions
    assert set(clean.executions.values()) == {0}, clean.executions
    print("\nmodule executions per host: playbooks/drift.yml %s, site.yml --check %s" % (
        sorted(set(scan.executions.values())), sorted(set(check.executions.values()))))
    print("wall time, %d hosts: playbooks/drift.yml %.1f s, site.yml --check --diff %.1f s, site.yml %.1f s" % (
        len(fleet.hosts), scan.seconds, check.seconds, converge.seconds))
    # A budget, so a change that adds module executions to a check run is noticed (docs/performance.md):
    # 5 per host when this test was written (preflight, gpu facts, gateway files, registration, agents).
    assert max(check.executions.values()) <= 6, check.executions

    # a desired state the scan cannot plan fails every host, names the field, and changes nothing
    bad = _run(fleet, "bad-digest", "playbooks/drift.yml", count=False, extra_vars={
        "nemoclaw_agents": [{"name": "openclaw", "agent": "openclaw", "blueprint_digest": "sha256:1234"}]})
    assert bad.rc != 0
    failed = [r for r in bad.results if r["status"] == "failed"]
    assert len(failed) == len(fleet.hosts), bad.stdout[-3000:]
    assert all(r["result"]["error_path"] == "nemoclaw_agents[openclaw].blueprint_digest"
               and r["result"]["msg"].startswith("nemoclaw_agents[openclaw].blueprint_digest: ") for r in failed), \
        failed[0]["result"]
    assert bad.calls == []

    # the repair: site.yml converges the two drifted hosts, and the scan after it is clean
    repair = _run(fleet, "repair", "site.yml", count=False)
    assert repair.rc == 0, repair.stdout[-3000:]
    assert sorted(r["host"] for r in repair.results if r["task"].endswith(APPLY) and r["result"].get("changed")) \
        == ["host1", "host2"]
    after = _run(fleet, "after", "playbooks/drift.yml", count=False, extra_vars={"drift_fail_on_change": True})
    assert after.rc == 0 and after.report["summary"]["drifted"] == 0, after.stdout[-3000:]
