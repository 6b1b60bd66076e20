# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Drift findings: one shape for every producer, and the summaries of a list of them. Pure.

Two producers, one shape:

* the ``nemoclaw_apply`` action in check mode (``playbooks/drift.yml``, ``site.yml --check``)
  turns the apply's decisions into findings (``findings_of`` in ``plugins/action/nemoclaw_apply.py``)
  and returns them under the result key ``nemoclaw_drift``;
* :func:`finding_from_result` turns the result of one task of a check run
  (``openshell_*`` modules, file modules) into the same finding shape; the
  ``drift_report`` callback uses it.

A finding is ``{"resource", "name", "differences": [str], "action"}`` plus
``provenance`` (policy: changed network_policies key -> the plan layer that
defines it) and ``error`` (the module would fail, e.g. a static policy change
on a live sandbox). No finding ever holds a secret.
"""

from __future__ import annotations

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import policy as policylib

RESOURCES = ("gateway", "provider", "sandbox", "policy", "inference", "approval", "files", "other")

# Modules (last part of the action name) -> resource kind.
MODULE_RESOURCES = {
    "openshell_gateway": "gateway",
    "openshell_provider": "provider",
    "openshell_sandbox": "sandbox",
    "openshell_policy": "policy",
    "openshell_inference": "inference",
    "openshell_approval": "approval",
}
FILE_MODULES = frozenset([
    "template", "copy", "file", "lineinfile", "blockinfile", "replace", "ini_file", "assemble", "unarchive",
    "get_url",
])
NOT_IN_PLAN = {"layer": None, "source": None, "level": None, "note": "not in the plan (added outside Ansible)"}
HIDDEN = "changed (details hidden by no_log)"


def finding(resource, name, differences, action=None, provenance=None, error=None):
    out = {"resource": resource, "name": name, "differences": list(differences), "action": action}
    if provenance:
        out["provenance"] = provenance
    if error:
        out["error"] = error
    return out


def _change(field, before, after):
    if before is None and after is None:
        return field
    return "%s: %s -> %s" % (field, _show(before), _show(after))


def _show(value):
    if value is None or value == "":
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------
# Policy: differences with provenance (shared by both producers)
# --------------------------------------------------------------------------

def policy_differences(policy_diff, provenance=None):
    """``(differences, provenance_by_key)`` of a ``policy.policy_diff(current, desired)``.

    ``added`` keys are in the plan but not on the host, ``removed`` keys are on
    the host but not in the plan, ``changed`` keys differ. Each key is mapped to
    the plan layer that defines it (a plan's ``provenance``); removed keys
    map to "not in the plan".
    """
    provenance = provenance or {}
    diffs, prov = [], {}
    words = {"added": "missing on the host", "removed": "not in the plan", "changed": "differs"}
    for section in policylib.DYNAMIC_SECTIONS:
        keyed = (policy_diff or {}).get(section) or {}
        for change in ("added", "removed", "changed"):
            for key in keyed.get(change) or []:
                if section == "network_policies":
                    if change == "removed":
                        origin = dict(NOT_IN_PLAN)
                    elif key not in provenance:
                        origin = {"layer": None, "source": None, "level": None, "note": "no provenance known"}
                    else:
                        origin = dict(provenance[key])
                    origin["change"] = change
                    prov[key] = origin
                    where = ""
                    if origin.get("layer"):
                        where = " [%s%s]" % (origin["layer"], ", %s" % origin["source"] if origin.get("source") else "")
                    if origin.get("any_binary"):
                        # the planned rule names no binaries: OpenShell lets any binary use it
                        where += " (any binary)"
                    diffs.append("%s.%s %s%s" % (section, key, words[change], where))
                else:
                    diffs.append("%s.%s %s" % (section, key, words[change]))
    for section in (policy_diff or {}).get("static_changed") or []:
        diffs.append("%s differs (static: fixed at creation)" % section)
    return diffs, prov


# --------------------------------------------------------------------------
# Summaries of findings
# --------------------------------------------------------------------------

def names_by_resource(findings):
    """``{resource: [names]}`` of the findings, every resource kind present (empty list when in sync)."""
    names = dict((kind, []) for kind in RESOURCES)
    for found in findings:
        names.setdefault(found["resource"], [])
        if found["name"] not in names[found["resource"]]:
            names[found["resource"]].append(found["name"])
    return names


def resources(findings):
    return sorted(set(f["resource"] for f in findings), key=lambda r: RESOURCES.index(r) if r in RESOURCES else 99)


def _sandbox_finding(name, actions, reasons, needs_recreate, phase):
    """Shared by both producers, so a site.yml --check result and a scan read the same."""
    replacing = "delete" in actions
    diffs = []
    if needs_recreate:
        diffs += ["needs replacing (recreate=never): %s" % r for r in reasons]
    elif replacing:
        diffs += ["replace: %s" % r for r in reasons]
    for action in actions:
        if action in ("delete", "create") or (replacing and action == "stop"):
            continue
        if action in ("start", "stop"):
            diffs.append("phase %s (%s)" % (phase, action))
        elif action.startswith("attach:"):
            diffs.append("provider %s not attached" % action.split(":", 1)[1])
        elif action.startswith("detach:"):
            diffs.append("provider %s attached, not in the plan" % action.split(":", 1)[1])
        elif action == "approval_mode":
            diffs.append("proposal_approval_mode differs")
        else:
            diffs.append(action)
    if not diffs:
        return None
    return finding("sandbox", name, diffs, "replace" if replacing else (",".join(actions) or "report"))


# --------------------------------------------------------------------------
# Findings from the task results of a check run (callback side)
# --------------------------------------------------------------------------

def _diff_parts(result):
    diff = result.get("diff")
    if isinstance(diff, list):
        diff = diff[0] if diff else {}
    diff = diff or {}
    before, after = diff.get("before"), diff.get("after")
    return (before if isinstance(before, dict) else {}), (after if isinstance(after, dict) else {})


def finding_from_result(module, result, task_name="", provenance=None):
    """The finding of one changed task result of a check run, or None.

    :param module: the action's short name (``openshell_policy``, ``template``, ...).
    :param result: the task result as callbacks see it (possibly censored by no_log).
    :param provenance: the ``provenance`` of the host's plan (callback option plan_var), for policy results.
    """
    if not result.get("changed") and not (module == "openshell_sandbox" and result.get("needs_recreate")):
        return None
    censored = "censored" in result
    resource = MODULE_RESOURCES.get(module)
    if resource is None:
        if module == "nemoclaw_files" and not censored:
            acted = [(item["path"], item["action"]) for item in (result.get("directories") or []) + (result.get("files") or [])
                     if item.get("action") not in (None, "none")]
            if acted:
                return finding("files", ", ".join(path for path, _a in acted),
                               ["%s: %s" % (path, action) for path, action in acted], "write")
        if module in FILE_MODULES or module == "nemoclaw_files":
            name = result.get("dest") or result.get("path") or task_name
            return finding("files", name, ["content or attributes differ (%s)" % (task_name or module)], "write")
        return finding("other", task_name or module, ["would change (%s)" % (task_name or module)], None)
    if censored:
        return finding(resource, result.get("name") or "(no_log)", [HIDDEN], None)
    before, after = _diff_parts(result)
    if resource == "gateway":
        diffs = result.get("differences") or []
        out = [_change(f, before.get(f), after.get(f)) if before and f in ("endpoint", "auth", "active") else f
               for f in diffs]
        return finding("gateway", result.get("name"), out or ["would change"], None)
    if resource == "provider":
        return finding("provider", result.get("name"), result.get("reasons") or ["would change"], result.get("action"))
    if resource == "sandbox":
        actions = result.get("actions") or []
        if actions and actions[0] == "create":
            return finding("sandbox", result.get("name"), ["absent"], "create")
        return _sandbox_finding(result.get("name"), actions, result.get("recreate_reasons") or [],
                                bool(result.get("needs_recreate")), before.get("phase"))
    if resource == "policy":
        diffs, prov = policy_differences(result.get("policy_diff"), provenance)
        return finding("policy", result.get("sandbox") or "<global>", diffs or ["would change"], "set", provenance=prov)
    if resource == "inference":
        diffs = result.get("differences") or []
        out = [_change(f, before.get(f), after.get(f)) if before else f for f in diffs]
        return finding("inference", result.get("route") or "inference.local", out or ["would change"], "set")
    if resource == "approval":
        diff_after = after or {}
        parts = []
        for key in ("approved", "rejected"):
            if diff_after.get(key):
                parts.append("%s: %s" % (key, ", ".join(diff_after[key])))
        return finding("approval", result.get("sandbox"), parts or ["pending requests would be decided"], "decide")
    return None


def failure_message(result):
    """One line for a failed task result."""
    msg = result.get("msg") or result.get("censored") or "failed"
    return " ".join(str(msg).split())[:500]
