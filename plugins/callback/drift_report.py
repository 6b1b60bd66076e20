# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: drift_report
type: aggregate
short_description: Summarize drift across the fleet (site.yml --check or playbooks/drift.yml), as text, JSON and Markdown
version_added: 0.1.0
description:
  - Collects, per host and resource (V(gateway), V(provider), V(sandbox), V(policy), V(inference), V(approval), V(files),
    V(other)), what differs, and prints a summary at the end of the run. With O(report_dir) it also writes the same as
    C(<report_name>.json) and C(<report_name>.md).
  - "Two sources. The agents' drift comes from M(agentfleet.nemoclaw.nemoclaw_apply) in check mode (the C(agents) role
    in C(playbooks/drift.yml) and in C(ansible-playbook site.yml --check --diff)): its result carries the findings under
    the key C(nemoclaw_drift) - providers, the C(inference.local) route and every agent's sandbox, each differing field
    named - and they are reported as they are, also when the task fails (C(fail_on_change))."
  - "In a check run every other changed task result is drift too - the C(openshell_*) modules'
    RV(agentfleet.nemoclaw.openshell_policy#module:policy_diff), C(differences), C(reasons), C(actions) and
    C(recreate_reasons) (playbooks of your own that call them), and file modules (C(template), C(copy), C(file),
    C(nemoclaw_files), ...), such as the gateway's configuration of the C(openshell) role in C(site.yml --check)."
  - Policy findings name the plan layer of every differing C(network_policies) key (its provenance). The findings of
    C(nemoclaw_apply) name the fields; for C(openshell_policy) tasks of a check run the callback reads a plan with a
    C(provenance) mapping from the host variable O(plan_var), when a playbook sets one.
  - Outside check mode, ordinary task results are changes made, not drift, and are ignored unless O(always) is set.
  - It is an aggregate callback, so it runs next to the stdout callback. Enable it with
    C(callbacks_enabled = agentfleet.nemoclaw.drift_report) in C(ansible.cfg) (the collection's C(ansible.cfg) does).
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
requirements:
  - enable in configuration (C(callbacks_enabled))
options:
  report_dir:
    description:
      - Directory for C(<report_name>.json) and C(<report_name>.md); created when missing. No files when unset.
    type: path
    env:
      - name: DRIFT_REPORT_DIR
    ini:
      - section: callback_drift_report
        key: report_dir
  report_name:
    description: Base name of the report files.
    type: str
    default: drift-report
    env:
      - name: DRIFT_REPORT_NAME
    ini:
      - section: callback_drift_report
        key: report_name
  plan_var:
    description:
      - Host variable holding a plan with a C(provenance) mapping (C(network_policies) key -> layer), for the provenance
        of the policy differences of C(openshell_policy) tasks in check runs. Not needed for C(nemoclaw_apply).
    type: str
    default: blueprint_plan
    env:
      - name: DRIFT_REPORT_PLAN_VAR
    ini:
      - section: callback_drift_report
        key: plan_var
  always:
    description: Report changed task results of runs without C(--check) too (as changes made).
    type: bool
    default: false
    env:
      - name: DRIFT_REPORT_ALWAYS
    ini:
      - section: callback_drift_report
        key: always
notes:
  - Results of tasks with C(no_log) are censored before any callback sees them; such a finding says which resource kind
    changed but not why. C(nemoclaw_apply)'s results hold no secret (a changed credential shows as C(<changed>)) and
    are not censored, so its findings give the reasons.
"""

import datetime
import json
import os
import tempfile

from ansible import context
from ansible.plugins.callback import CallbackBase

REPORT_FORMAT = 1


def _drift():
    """``module_utils/drift.py``, imported on first use: the callback is enabled for every run, and a run
    that collects nothing (no ``--check``, no scan, no failure) does not compile it and the policy module
    it reads (the collection loader keeps no bytecode)."""
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import drift  # pylint: disable=import-outside-toplevel
    return drift


def _host_task_result(result):
    """(host name, task, result dict) for both the 2.19+ and the older callback result API."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    res = getattr(result, "result", None)
    if res is None:
        res = result._result
    return host.get_name(), task, res


def _module_name(task):
    action = getattr(task, "resolved_action", None) or getattr(task, "action", None) or ""
    return action.rsplit(".", 1)[-1]


def render_markdown(report):
    """The Markdown form of a report (same content as the JSON)."""
    s = report["summary"]
    lines = ["# Drift report", "",
             "%s, %s: %d hosts, %d drifted, %d in sync, %d failed." % (
                 report["source"], report["generated_at"], s["hosts"], s["drifted"], s["in_sync"], s["failed"]), ""]
    if s["by_resource"]:
        lines.append("Findings by resource: %s." % ", ".join("%s %d" % kv for kv in sorted(s["by_resource"].items())))
        lines.append("")
    rows = []
    prov_rows = []
    errors = []
    for host in sorted(report["hosts"]):
        entry = report["hosts"][host]
        for f in entry["findings"]:
            what = "<br>".join(_md(d) for d in f["differences"])
            if f.get("error"):
                what += "<br>**would fail:** %s" % _md(f["error"])
            rows.append("| %s | %s | %s | %s |" % (_md(host), _md(f["resource"]), _md(f["name"]), what))
            for key, origin in sorted((f.get("provenance") or {}).items()):
                prov_rows.append("| %s | %s | %s | %s | %s | %s |" % (
                    _md(host), _md(f["name"]), _md(key), origin.get("change", ""),
                    _md(origin.get("layer") or "-"), _md(origin.get("source") or origin.get("note") or "-")))
        for err in entry["errors"]:
            errors.append("| %s | %s | %s |" % (_md(host), _md(err["task"]), _md(err["msg"])))
    if rows:
        lines += ["| host | resource | name | what differs |", "|---|---|---|---|"] + rows + [""]
    else:
        lines += ["No drift.", ""]
    if prov_rows:
        lines += ["## Policy provenance", "",
                  "| host | sandbox | network policy | change | layer | source |", "|---|---|---|---|---|---|"] + prov_rows + [""]
    if errors:
        lines += ["## Failed hosts", "", "| host | task | error |", "|---|---|---|"] + errors + [""]
    in_sync = [h for h in sorted(report["hosts"]) if report["hosts"][h]["status"] == "in_sync"]
    if in_sync:
        lines += ["In sync: %s." % ", ".join(in_sync), ""]
    return "\n".join(lines)


def _md(text):
    """One table cell: no line break or control character, pipes escaped, HTML shown as text (a value may come from
    the agent's own files)."""
    text = "".join(c if c.isprintable() else " " for c in str(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


class CallbackModule(CallbackBase):
    """Collect drift findings per host and report them at the end of the run."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "agentfleet.nemoclaw.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self._play = None
        self._playbook = None
        self._findings = {}
        self._errors = {}
        self._hosts = set()
        self._scan_seen = False
        self._plans = {}

    # ------------------------------------------------------------------ helpers
    def _check_mode(self):
        try:
            return bool(context.CLIARGS.get("check"))
        except Exception:  # pylint: disable=broad-except
            return False

    def _collect_modules(self):
        return self._check_mode() or self.get_option("always")

    def _provenance(self, host_name, result_host):
        """``provenance`` of the host's plan (plan_var), read once per host through the variable manager."""
        if host_name in self._plans:
            return self._plans[host_name]
        prov = {}
        try:
            manager = self._play.get_variable_manager()
            hostvars = manager.get_vars(play=self._play, host=result_host, include_hostvars=False,
                                        include_delegate_to=False)
            plan = hostvars.get(self.get_option("plan_var"))
            if isinstance(plan, dict) and isinstance(plan.get("provenance"), dict):
                prov = json.loads(json.dumps(plan["provenance"], default=str))
        except Exception:  # pylint: disable=broad-except
            prov = {}
        self._plans[host_name] = prov
        return prov

    def _add(self, host, found):
        self._findings.setdefault(host, []).append(found)

    def _handle(self, result, item=False):
        host, task, res = _host_task_result(result)
        self._hosts.add(host)
        marker = res.get("nemoclaw_drift")
        if isinstance(marker, dict):
            self._scan_seen = True
            for found in marker.get("findings") or []:
                self._add(host, found)
            return
        if not item and isinstance(res.get("results"), list) and task.loop is not None:
            return  # loop items were handled one by one
        if not self._collect_modules():
            return
        module = _module_name(task)
        provenance = None
        if module == "openshell_policy" and res.get("changed"):
            result_host = getattr(result, "host", None) or result._host
            provenance = self._provenance(host, result_host)
        found = _drift().finding_from_result(module, res, task.get_name(), provenance)
        if found is not None:
            self._add(host, found)

    # ------------------------------------------------------------------ events
    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(getattr(playbook, "_file_name", "") or "")

    def v2_playbook_on_play_start(self, play):
        self._play = play

    def v2_runner_on_ok(self, result):
        self._handle(result)

    def v2_runner_item_on_ok(self, result):
        self._handle(result, item=True)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        host, task, res = _host_task_result(result)
        self._hosts.add(host)
        if isinstance(res.get("nemoclaw_drift"), dict):
            self._handle(result)
            return
        if ignore_errors:
            return
        self._errors.setdefault(host, []).append({"task": task.get_name(), "msg": _drift().failure_message(res)})

    def v2_runner_on_unreachable(self, result):
        host, task, res = _host_task_result(result)
        self._hosts.add(host)
        self._errors.setdefault(host, []).append({"task": task.get_name(), "msg": "unreachable: %s" % _drift().failure_message(res)})

    def v2_runner_on_skipped(self, result):
        host, _task, _res = _host_task_result(result)
        self._hosts.add(host)

    # ------------------------------------------------------------------ report
    def build_report(self, hosts=None):
        hosts = sorted(set(hosts or ()) | self._hosts | set(self._findings) | set(self._errors))
        report_hosts = {}
        by_resource = {}
        for host in hosts:
            findings = self._findings.get(host, [])
            errors = self._errors.get(host, [])
            for f in findings:
                by_resource[f["resource"]] = by_resource.get(f["resource"], 0) + 1
            status = "failed" if errors else ("drift" if findings else "in_sync")
            report_hosts[host] = {"status": status, "resources": _drift().resources(findings),
                                  "findings": findings, "errors": errors}
        if self._check_mode():
            source = "%s --check" % (self._playbook or "playbook")
        else:
            source = self._playbook or "playbook"
        return {
            "format": REPORT_FORMAT,
            "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": source,
            "mode": "check" if self._check_mode() else ("scan" if self._scan_seen else "run"),
            "hosts": report_hosts,
            "summary": {
                "hosts": len(hosts),
                "drifted": sum(1 for h in report_hosts.values() if h["findings"]),
                "in_sync": sum(1 for h in report_hosts.values() if h["status"] == "in_sync"),
                "failed": sum(1 for h in report_hosts.values() if h["errors"]),
                "by_resource": by_resource,
            },
        }

    def v2_playbook_on_stats(self, stats):
        if not (self._check_mode() or self._scan_seen or self.get_option("always")):
            return
        report = self.build_report(getattr(stats, "processed", {}).keys())
        self._display.banner("DRIFT REPORT")
        for host in sorted(report["hosts"]):
            entry = report["hosts"][host]
            if entry["status"] == "in_sync":
                self._display.display("%s: in sync" % host)
            for f in entry["findings"]:
                self._display.display("%s: %s %s: %s%s" % (host, f["resource"], f["name"], "; ".join(f["differences"]),
                                                           " (would fail: %s)" % f["error"] if f.get("error") else ""),
                                      color="yellow" if not f.get("error") else "red")
            for err in entry["errors"]:
                self._display.display("%s: FAILED %s: %s" % (host, err["task"], err["msg"]), color="red")
        s = report["summary"]
        self._display.display("%d of %d hosts drifted%s, %d failed" % (
            s["drifted"], s["hosts"], " (%s)" % ", ".join("%s %d" % kv for kv in sorted(s["by_resource"].items()))
            if s["by_resource"] else "", s["failed"]))
        directory = self.get_option("report_dir")
        if directory:
            paths = self.write(report, directory, self.get_option("report_name"))
            self._display.display("drift report: %s" % ", ".join(paths))

    @staticmethod
    def write(report, directory, name="drift-report"):
        directory = os.path.expanduser(directory)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        out = []
        for suffix, text in ((".json", json.dumps(report, indent=2, sort_keys=True) + "\n"),
                             (".md", render_markdown(report))):
            path = os.path.join(directory, name + suffix)
            fd, tmp = tempfile.mkstemp(prefix="." + name, dir=directory)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            out.append(path)
        return out
