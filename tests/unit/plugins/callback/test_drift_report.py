# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The drift_report callback, fed with fake task results."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ansible import context

from ansible_collections.agentfleet.nemoclaw.plugins.action.nemoclaw_apply import findings_of
from ansible_collections.agentfleet.nemoclaw.plugins.callback import drift_report
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import drift

PROVENANCE = {"npm": {"layer": "preset:npm", "source": "library:presets/npm.yaml", "level": "tier"}}


class FakeHost(object):
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class FakeTask(object):
    def __init__(self, action, name=None, loop=None):
        self.action = action
        self.resolved_action = action
        self.loop = loop
        self.name = name or action

    def get_name(self):
        return self.name


class FakeResult(object):
    def __init__(self, host, action, result, name=None, loop=None):
        self.host = FakeHost(host)
        self.task = FakeTask(action, name, loop)
        self.result = result


class FakeDisplay(object):
    verbosity = 0

    def __init__(self):
        self.lines = []

    def display(self, msg, color=None, **kw):
        self.lines.append(msg)

    def banner(self, msg, **kw):
        self.lines.append("== " + msg)

    def __getattr__(self, name):
        return lambda *a, **kw: None


class FakeVariableManager(object):
    def __init__(self, plans):
        self.plans = plans
        self.calls = 0

    def get_vars(self, play=None, host=None, **kw):
        self.calls += 1
        return {"blueprint_plan": {"provenance": self.plans.get(host.get_name(), {})}}


class FakePlay(object):
    def __init__(self, manager):
        self.manager = manager

    def get_variable_manager(self):
        return self.manager


class FakePlaybook(object):
    _file_name = "/x/site.yml"


class FakeStats(object):
    def __init__(self, hosts):
        self.processed = dict((h, 1) for h in hosts)


@pytest.fixture
def make(monkeypatch, tmp_path):
    def factory(check=True, always=False, report_dir=None):
        monkeypatch.setattr(context, "CLIARGS", {"check": check})
        display = FakeDisplay()
        cb = drift_report.CallbackModule(display=display)
        opts = {"report_dir": report_dir, "report_name": "drift-report", "plan_var": "blueprint_plan", "always": always}
        cb.get_option = opts.get
        cb.v2_playbook_on_start(FakePlaybook())
        manager = FakeVariableManager({"h1": PROVENANCE})
        cb.v2_playbook_on_play_start(FakePlay(manager))
        cb.test_display = display
        cb.test_manager = manager
        return cb
    return factory


POLICY_RESULT = {"changed": True, "sandbox": "openclaw",
                 "policy_diff": {"network_policies": {"added": ["npm"], "removed": ["evil"], "changed": []},
                                 "network_middlewares": {"added": [], "removed": [], "changed": []},
                                 "static_changed": [], "changed": True}}


def test_check_run_findings_per_host_and_resource(make, tmp_path):
    cb = make(report_dir=str(tmp_path / "out"))
    cb.v2_runner_on_ok(FakeResult("h1", "agentfleet.nemoclaw.openshell_policy", POLICY_RESULT))
    cb.v2_runner_on_ok(FakeResult("h1", "agentfleet.nemoclaw.openshell_policy", POLICY_RESULT))
    cb.v2_runner_on_ok(FakeResult("h2", "agentfleet.nemoclaw.openshell_inference", {
        "changed": True, "differences": ["model"], "route": "inference.local",
        "diff": {"before": {"model": "a"}, "after": {"model": "b"}}}))
    cb.v2_runner_item_on_ok(FakeResult("h3", "agentfleet.nemoclaw.openshell_provider",
                                       {"changed": True, "censored": "hidden"}, loop="x"))
    cb.v2_runner_on_ok(FakeResult("h3", "agentfleet.nemoclaw.openshell_provider",
                                  {"changed": True, "censored": "hidden", "results": [{}]}, loop="x"))
    cb.v2_runner_on_ok(FakeResult("h4", "ansible.builtin.template", {"changed": True, "dest": "/cfg/gateway.toml"},
                                  name="Write gateway.toml"))
    cb.v2_runner_on_ok(FakeResult("h5", "agentfleet.nemoclaw.openshell_sandbox", {"changed": False, "actions": []}))
    cb.v2_runner_on_skipped(FakeResult("h5", "ansible.builtin.debug", {"skipped": True}))
    cb.v2_runner_on_failed(FakeResult("h6", "agentfleet.nemoclaw.openshell_info", {"msg": "gateway down"}))
    cb.v2_runner_on_failed(FakeResult("h5", "ansible.builtin.command", {"msg": "ignored"}), ignore_errors=True)
    cb.v2_playbook_on_stats(FakeStats(["h1", "h2", "h3", "h4", "h5", "h6"]))

    report = json.loads((tmp_path / "out" / "drift-report.json").read_text())
    hosts = report["hosts"]
    assert dict((h, e["resources"]) for h, e in hosts.items()) == {
        "h1": ["policy"], "h2": ["inference"], "h3": ["provider"], "h4": ["files"], "h5": [], "h6": []}
    assert [h for h, e in hosts.items() if e["status"] == "in_sync"] == ["h5"]
    assert hosts["h6"]["status"] == "failed" and hosts["h6"]["errors"][0]["msg"] == "gateway down"
    policy = hosts["h1"]["findings"][0]
    assert policy["provenance"]["npm"]["layer"] == "preset:npm"
    assert policy["provenance"]["evil"]["change"] == "removed"
    assert cb.test_manager.calls == 1  # the plan is read once per host
    assert hosts["h2"]["findings"][0]["differences"] == ["model: a -> b"]
    assert hosts["h3"]["findings"][0]["differences"] == [drift.HIDDEN]
    assert report["summary"] == {"hosts": 6, "drifted": 4, "in_sync": 1, "failed": 1,
                                 "by_resource": {"files": 1, "inference": 1, "policy": 2, "provider": 1}}
    assert report["source"] == "site.yml --check" and report["mode"] == "check"
    markdown = (tmp_path / "out" / "drift-report.md").read_text()
    assert "| h1 | policy | openclaw | network_policies.npm missing on the host [preset:npm, library:presets/npm.yaml]" in markdown
    assert "| h1 | openclaw | evil | removed | - | not in the plan (added outside Ansible) |" in markdown
    assert "## Failed hosts" in markdown and "In sync: h5." in markdown
    text = "\n".join(cb.test_display.lines)
    assert "== DRIFT REPORT" in text and "h5: in sync" in text and "4 of 6 hosts drifted" in text
    assert "drift report: " in text


def test_scan_results_are_reported_as_they_are_outside_check_mode(make, tmp_path):
    cb = make(check=False, report_dir=str(tmp_path))
    found = drift.finding("sandbox", "openclaw", ["phase Stopped (start)"], "start")
    cb.v2_runner_on_failed(FakeResult("h1", "agentfleet.nemoclaw.nemoclaw_apply", {
        "failed": True, "nemoclaw_drift": {"host": "h1", "findings": [found]}}))
    cb.v2_runner_on_ok(FakeResult("h2", "agentfleet.nemoclaw.nemoclaw_apply", {"nemoclaw_drift": {"findings": []}}))
    # ordinary changes of a normal run are not drift
    cb.v2_runner_on_ok(FakeResult("h2", "agentfleet.nemoclaw.openshell_policy", POLICY_RESULT))
    cb.v2_playbook_on_stats(FakeStats(["h1", "h2"]))
    report = json.loads((tmp_path / "drift-report.json").read_text())
    assert report["mode"] == "scan"
    assert report["hosts"]["h1"]["findings"] == [found] and report["hosts"]["h1"]["errors"] == []
    assert report["hosts"]["h2"]["status"] == "in_sync"


APPLY_RESULT = {
    "changed": True,
    "providers": {"nvidia-inference": {"changed": False, "action": "none", "reasons": []}},
    "inference": {"changed": True, "differences": [{"field": "model", "before": "m1", "after": "m2"}]},
    "resumed": [],
    "agents": {
        "assistant": {"changed": True, "replace": True, "actions": ["backup", "delete", "create", "restore"],
                      "differences": [{"field": "memory", "before": "8Gi", "after": "16Gi"}]},
        "researcher": {"changed": False, "replace": False, "actions": [], "differences": []},
    },
}


def test_nemoclaw_apply_findings_in_a_check_run(make, tmp_path):
    cb = make(report_dir=str(tmp_path))
    result = dict(APPLY_RESULT, nemoclaw_drift={"host": "h1", "findings": findings_of(APPLY_RESULT)})
    cb.v2_runner_on_ok(FakeResult("h1", "agentfleet.nemoclaw.nemoclaw_apply", result))
    cb.v2_runner_on_ok(FakeResult("h2", "agentfleet.nemoclaw.nemoclaw_apply",
                                  {"changed": False, "nemoclaw_drift": {"host": "h2", "findings": []}}))
    cb.v2_playbook_on_stats(FakeStats(["h1", "h2"]))
    report = json.loads((tmp_path / "drift-report.json").read_text())
    assert report["hosts"]["h1"]["resources"] == ["sandbox", "inference"]
    assert report["hosts"]["h1"]["findings"] == [
        {"resource": "inference", "name": "inference.local", "differences": ["model: m1 -> m2"], "action": None},
        {"resource": "sandbox", "name": "assistant", "differences": ["memory: 8Gi -> 16Gi"], "action": "replace"},
    ]
    assert report["hosts"]["h2"]["status"] == "in_sync"
    assert report["summary"]["by_resource"] == {"inference": 1, "sandbox": 1}


def test_nemoclaw_apply_without_its_report_is_one_other_finding(make, tmp_path):
    cb = make(report_dir=str(tmp_path))
    cb.v2_runner_on_ok(FakeResult("h1", "agentfleet.nemoclaw.nemoclaw_apply", APPLY_RESULT, name="Converge the agents"))
    cb.v2_playbook_on_stats(FakeStats(["h1"]))
    report = json.loads((tmp_path / "drift-report.json").read_text())
    assert report["hosts"]["h1"]["findings"][0]["resource"] == "other"


def test_quiet_on_a_normal_run(make, tmp_path):
    cb = make(check=False, report_dir=str(tmp_path / "none"))
    cb.v2_runner_on_ok(FakeResult("h1", "agentfleet.nemoclaw.openshell_policy", POLICY_RESULT))
    cb.v2_playbook_on_stats(FakeStats(["h1"]))
    assert cb.test_display.lines == [] and not (tmp_path / "none").exists()


def test_always_reports_normal_runs_and_no_files_without_dir(make):
    cb = make(check=False, always=True)
    cb.v2_runner_on_ok(FakeResult("h1", "agentfleet.nemoclaw.openshell_policy", POLICY_RESULT))
    cb.v2_playbook_on_stats(FakeStats(["h1"]))
    text = "\n".join(cb.test_display.lines)
    assert "h1: policy openclaw" in text and "drift report:" not in text


def test_markdown_of_an_empty_report():
    host = {"status": "in_sync", "findings": [], "errors": [], "resources": []}
    report = {"source": "drift.yml", "generated_at": "t", "hosts": {"h1": host},
              "summary": {"hosts": 1, "drifted": 0, "in_sync": 1, "failed": 0, "by_resource": {}}}
    text = drift_report.render_markdown(report)
    assert "No drift." in text and "| host |" not in text


def test_error_findings_and_pipes_are_escaped():
    found = drift.finding("policy", "a|b", ["x"], error="static sections differ")
    report = {"source": "s", "generated_at": "t",
              "hosts": {"h1": {"status": "drift", "findings": [found], "errors": [], "resources": ["policy"]}},
              "summary": {"hosts": 1, "drifted": 1, "in_sync": 0, "failed": 0, "by_resource": {"policy": 1}}}
    text = drift_report.render_markdown(report)
    assert "a\\|b" in text and "**would fail:** static sections differ" in text


def test_a_markdown_cell_holds_no_line_break_pipe_or_tag():
    cell = drift_report._md("model: a -> b\r\n| injected | row |<img src=x onerror=alert(1)>\x1b[2J")  # pylint: disable=protected-access
    assert "\n" not in cell and "\r" not in cell and "\x1b" not in cell and "<img" not in cell
    assert cell.startswith("model: a -> b") and "\\| injected \\| row \\|" in cell


def test_loading_the_callback_leaves_the_drift_rules_for_the_first_finding():
    """The callback is enabled for every run: loading it compiles neither module_utils/drift.py nor the policy
    module (the collection loader keeps no bytecode); the first finding or failure imports them."""
    code = ("import json, sys\n"
            "from ansible_collections.agentfleet.nemoclaw.plugins.callback import drift_report\n"
            "rules = lambda: sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
            "                       if m.rsplit('.', 1)[0].endswith('nemoclaw.plugins.module_utils'))\n"
            "print(json.dumps(rules()))\n"
            "drift_report._drift()\n"
            "print(json.dumps(rules()))\n")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.splitlines()
    assert json.loads(out[0]) == [], out
    assert {"drift", "policy"} <= set(json.loads(out[1])), out
