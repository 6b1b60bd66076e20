# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Drift of one host: desired state vs a state snapshot, as a list of findings. Pure.

Two producers, one shape:

* :func:`host_drift` compares a whole host at once, on the controller: the
  snapshot is what ``openshell_info`` returns with the subsets registrations
  and version (or gateway), providers, provider_records, sandbox_details and
  inference (a ``policies`` subset with bodies is used when present; otherwise
  the effective policy ``sandbox get`` returns); the desired state is what the roles would pass to the modules.
  Every decision is a ``compare``/``policy`` function the modules call too
  (``compare.sandbox_actions``, ``compare.provider_plan``,
  ``compare.sandbox_policy_plan``, ...), so ``playbooks/drift.yml`` finds what
  ``site.yml --check`` finds.
* :func:`finding_from_result` turns the result of one task of a check run
  (``openshell_*`` modules, file modules) into the same finding shape; the
  ``drift_report`` callback uses it.

A finding is ``{"resource", "name", "differences": [str], "action"}`` plus
``provenance`` (policy: changed network_policies key -> the plan layer that
defines it) and ``error`` (the module would fail, e.g. a static policy change
on a live sandbox). No finding ever holds a secret.
"""

from __future__ import annotations

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare
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
    the plan layer that defines it (``blueprint_plan.provenance``); removed keys
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
                    diffs.append("%s.%s %s%s" % (section, key, words[change], where))
                else:
                    diffs.append("%s.%s %s" % (section, key, words[change]))
    for section in (policy_diff or {}).get("static_changed") or []:
        diffs.append("%s differs (static: fixed at creation)" % section)
    return diffs, prov


# --------------------------------------------------------------------------
# Whole-host comparison on a state snapshot
# --------------------------------------------------------------------------

def gateway_finding(state, desired):
    """``desired``: ``{"name", "endpoint", "local", "active"}``."""
    name = desired["name"]
    current = next((g for g in state.get("gateways") or [] if g.get("name") == name), None)
    diffs = compare.gateway_registration_differences(current, desired["endpoint"], desired.get("local", False),
                                                     desired.get("active", True))
    if not diffs:
        return None
    if diffs == ["absent"]:
        return finding("gateway", name, ["absent"], "register")
    if diffs == ["active"]:
        return finding("gateway", name, [_change("active", False, True)], "select")
    out = []
    for field in diffs:
        if field == "endpoint":
            out.append(_change("endpoint", compare.normalize_endpoint(current.get("endpoint")),
                               compare.normalize_endpoint(desired["endpoint"])))
        elif field == "auth":
            out.append(_change("auth", current.get("auth"), compare.desired_gateway_auth(desired["endpoint"], desired.get("local"))))
        else:
            out.append(field)
    return finding("gateway", name, out, "re-register")


def provider_findings(state, providers, connection=None):
    """``providers``: ``[{"name", "type", "credentials": {KEY: value}, "config", "update_credentials",
    "recreate_on_type_change"}]`` (values only reach the salted fingerprints)."""
    connection = connection or {}
    listing = state.get("providers") or []
    records = state.get("provider_records") or {}
    salt = records.get("salt") or ""
    out = []
    for want in providers:
        name = want["name"]
        credentials = dict((k, str(v)) for k, v in (want.get("credentials") or {}).items())
        config = dict((k, str(v)) for k, v in (want.get("config") or {}).items())
        current = next((p for p in listing if p.get("name") == name), None)
        key = compare.provider_state_key(connection.get("gateway"), connection.get("gateway_endpoint"),
                                         connection.get("workspace"), name)
        record = (records.get("providers") or {}).get(key) if records.get("exists", True) else None
        fingerprints = compare.provider_fingerprints(salt, want["type"], credentials, config)
        desired = {"name": name, "type": want["type"], "credential_keys": sorted(credentials), "config": config}
        plan = compare.provider_plan(current, desired, record, fingerprints, want.get("update_credentials") or "on_change")
        if not plan["write"]:
            continue
        error = None
        if plan["action"] == "type_conflict" and not want.get("recreate_on_type_change"):
            error = ("provider %r exists with type %r; OpenShell cannot change a provider's type in place "
                     "(recreate_on_type_change=false)" % (name, current.get("type")))
        out.append(finding("provider", name, plan["reasons"], plan["action"], error=error))
    return out


def sandbox_finding(state, sandbox):
    """``sandbox``: ``{"spec": normalised spec, "state", "recreate", "policy": normalised creation policy or None}``."""
    spec = sandbox["spec"]
    name = spec["name"]
    details = (state.get("sandbox_details") or {}).get(name) or {}
    current = details.get("sandbox")
    want = sandbox.get("state") or "running"
    if want == "absent":
        return finding("sandbox", name, ["present (state=absent)"], "delete") if current is not None else None
    static_problems = []
    if current is not None and sandbox.get("policy") is not None:
        static_problems = policylib.static_violations(current.get("policy") or {}, sandbox["policy"])
    plan = compare.sandbox_actions(current, spec, want, sandbox.get("recreate") or "on_change", static_problems,
                                   details.get("providers") if spec.get("providers") is not None else None,
                                   details.get("settings"))
    if current is None:
        return finding("sandbox", name, ["absent"], "create")
    return _sandbox_finding(name, plan["actions"], plan["recreate_reasons"], plan["needs_recreate"],
                            current.get("phase"))


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


def policy_finding(state, sandbox_name, desired_policy, provenance=None):
    """The running policy of ``sandbox_name`` vs the (normalised) desired policy."""
    got = (state.get("policies") or {}).get(sandbox_name)
    details = (state.get("sandbox_details") or {}).get(sandbox_name) or {}
    if got is None and details.get("sandbox") is None:
        return finding("policy", sandbox_name, ["sandbox absent"], "set",
                       error="sandbox %r not found (the policy follows its creation)" % sandbox_name)
    if got is not None:
        current = got.get("policy")
    else:
        # `sandbox get` carries the effective policy (GetSandboxConfig, what `policy get --full` prints),
        # so a snapshot without the policies subset costs no extra CLI call per sandbox.
        current = details["sandbox"].get("policy")
        if current is not None:
            current = policylib.normalize_policy(current)
    if current is None:
        current = {"version": 1}
    plan = compare.sandbox_policy_plan(current, desired_policy)
    if plan["static_problems"]:
        return finding("policy", sandbox_name, ["static: %s" % p for p in plan["static_problems"]], "recreate",
                       error="static sections differ on live sandbox %r" % sandbox_name)
    if not plan["changed"]:
        return None
    diffs, prov = policy_differences(plan["policy_diff"], provenance)
    return finding("policy", sandbox_name, diffs, "set", provenance=prov)


def inference_finding(state, desired):
    """``desired``: ``{"provider", "model", "timeout_secs"}`` for the ``inference.local`` route."""
    current = (state.get("inference") or {}).get("user")
    diffs = compare.inference_differences(current, desired["provider"], desired["model"], desired.get("timeout_secs"))
    if not diffs:
        return None
    if diffs == ["absent"]:
        return finding("inference", "inference.local", ["absent"], "set")
    want = {"provider": desired["provider"], "model": desired["model"], "timeout": desired.get("timeout_secs")}
    return finding("inference", "inference.local", [_change(f, current.get(f), want[f]) for f in diffs], "set")


def host_drift(state, desired):
    """All findings of one host, in resource order.

    :param state: ``openshell_info``'s ``openshell`` (see module docstring).
    :param desired: ``{"gateway", "connection", "providers", "sandbox", "policy",
        "provenance", "inference"}``; a missing/None part is not compared.
    """
    findings = []
    if desired.get("gateway"):
        findings.append(gateway_finding(state, desired["gateway"]))
    findings.extend(provider_findings(state, desired.get("providers") or [], desired.get("connection")))
    if desired.get("sandbox"):
        findings.append(sandbox_finding(state, desired["sandbox"]))
    if desired.get("policy"):
        findings.append(policy_finding(state, desired["policy"]["sandbox"], desired["policy"]["policy"],
                                       desired.get("provenance")))
    if desired.get("inference"):
        findings.append(inference_finding(state, desired["inference"]))
    return [f for f in findings if f]


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
    :param provenance: ``blueprint_plan.provenance`` of the host, for policy results.
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
        if module == "nemoclaw_drift":
            return None
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
