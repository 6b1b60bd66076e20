# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Rollout decisions, pure and unit-tested: gate verdicts, the plan to roll back to, batches, reports.

``playbooks/canary_upgrade.yml`` and ``playbooks/rollback.yml`` stay a straight list of tasks;
what they decide is decided here (through ``nemoclaw_apply`` on the host and the ``rollout_*``
filters on the controller).
"""

from __future__ import annotations

import math

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.hostplan import PLAN_FORMAT, digest, host_providers, host_route

GATE_CHECKS = ("health", "policy", "inference")
LOADED_POLICY_STATUSES = ("effective", "loaded")


def gate_verdict(agent, health_rc=None, health_output="", policy_info=None, route=None, want_route=None):
    """The failed gate checks of one agent after a change: ``[{"check", "message"}]`` (empty: it passed).

    * health: the blueprint's health command exited 0 (not run: no verdict);
    * policy: the newest policy revision is the active one and is loaded;
    * inference: ``inference.local`` routes to the plan's provider and model.
    """
    failed = []
    name = agent["name"]
    if health_rc is not None and health_rc != 0:
        failed.append({"check": "health", "message": "%s exited %s: %s" % (
            " ".join(agent.get("health_command") or []), health_rc, (health_output or "").strip()[-200:])})
    if policy_info is not None:
        version, active = policy_info.get("version"), policy_info.get("active_version")
        status = policy_info.get("status")
        if status not in LOADED_POLICY_STATUSES or (active is not None and version != active):
            failed.append({"check": "policy", "message": "sandbox %s: policy revision %s is %s (active %s)%s" % (
                name, version, status, active, ": " + policy_info["load_error"] if policy_info.get("load_error") else "")})
    if want_route is not None:
        diffs = compare.inference_differences(route, want_route["provider"], want_route["model"], want_route.get("timeout_secs"))
        if diffs:
            failed.append({"check": "inference", "message": "inference.local: %s differs from %s/%s (%s)" % (
                "no route" if route is None else "%s/%s" % (route.get("provider"), route.get("model")),
                want_route["provider"], want_route["model"], ", ".join(diffs))})
    return failed


def rollback_plan(records, target):
    """The plan that returns a host to its last applied state before ``target``.

    ``records``: the host's applied record (``apply.HostRecords.applied()``): per agent the plan
    applied last (``agent``, ``plan_digest``) and the one before (``previous``). An agent whose
    last applied plan is the target's goes back to the one before; an agent whose target was never
    applied (the run failed before recording it) goes back to its last applied plan. Agents without
    any record are left out (nothing to return to). Returns ``(plan, notes)``.
    """
    wanted = dict((a["name"], a.get("plan_digest")) for a in (target or {}).get("agents") or [])
    agents, notes = [], []
    for name in sorted(records or {}):
        rec = records[name] or {}
        entry = rec.get("previous") if rec.get("plan_digest") == wanted.get(name) else rec
        if not entry or not entry.get("agent"):
            notes.append("agent %s: no earlier applied plan recorded; left as it is" % name)
            continue
        agents.append(entry["agent"])
    for name in sorted(set(wanted) - set(records or {})):
        notes.append("agent %s: never applied on this host; left as it is" % name)
    present = [a for a in agents if a.get("state") != "absent"]
    plan = {"format": PLAN_FORMAT, "agents": agents, "providers": host_providers(present), "inference": host_route(present)}
    plan["plan_digest"] = digest(plan)
    return plan, notes


def needs(result):
    """What a host needs to reach its desired state, from its ``nemoclaw_apply`` check run: text lines ([]: nothing).

    A host whose check run needs nothing is skipped by the rollout's apply (no write, no gate); the
    report names what a host that was not reached still needs.
    """
    if not isinstance(result, dict) or result.get("skipped"):
        return []
    if result.get("failed"):
        return ["failed: %s" % result.get("msg")]
    out = ["agent %s: finish the replacement left at step %s" % (r["agent"], r["step"]) for r in result.get("resumed") or []]
    out += ["provider %s: %s" % (name, p.get("action") or "update")
            for name, p in sorted((result.get("providers") or {}).items()) if p.get("changed")]
    if (result.get("inference") or {}).get("changed"):
        out.append("inference route")
    for name, agent in sorted((result.get("agents") or {}).items()):
        if not agent.get("changed"):
            continue
        if agent.get("replace"):
            out.append("agent %s: replace (%s -> %s)" % (name, agent.get("from") or "new", agent.get("blueprint")))
        else:
            out.append("agent %s: %s" % (name, ", ".join(agent.get("actions") or ["change"])))
    return out


def serial_batches(canary_count, serial):
    """The ``serial`` list of the batch play: the canary hosts first, then ``serial`` (e.g. [1, "10%", "100%"])."""
    out = [canary_count] if canary_count else []
    for item in serial or ["100%"]:
        out.append(item)
    return out


def batch_failed(failed, total, max_fail_percentage=0):
    """Whether a batch stops the rollout, as Ansible's ``max_fail_percentage`` decides it (strictly more than)."""
    if total <= 0:
        return False
    return failed * 100.0 / total > max_fail_percentage if max_fail_percentage else failed > 0


def batch_sizes(total, serial):
    """The sizes of the batches ``serial`` makes of ``total`` hosts (Ansible's rule: percentages floor, at least 1)."""
    sizes, left, items = [], total, list(serial or ["100%"])
    i = 0
    while left > 0:
        item = items[min(i, len(items) - 1)]
        if isinstance(item, str) and item.strip().endswith("%"):
            size = int(math.floor(total * float(item.strip()[:-1]) / 100.0))
        else:
            size = int(item)
        size = max(1, min(size, left))
        sizes.append(size)
        left -= size
        i += 1
    return sizes


def blueprints_of(agents):
    """``{agent: "name version"}`` of a plan's present agents."""
    return dict((a["name"], "%s %s" % (a["blueprint"]["name"], a["blueprint"]["version"]))
                for a in agents or () if a.get("state") != "absent" and a.get("blueprint"))


def host_report(host, result, rolled_back=None, seconds=None, needed=None):
    """One host's line of the rollout report: per agent from -> to, the result, how long it took.

    ``result`` None: the rollout did not reach the host; ``needed`` (``needs`` of its check run) is what it still needs.
    """
    if result is None:
        return {"host": host, "status": "not started", "agents": {}, "needs": list(needed or [])}
    agents = {}
    for name, entry in sorted(((result or {}).get("agents") or {}).items()):
        agents[name] = {"from": entry.get("from"), "to": entry.get("blueprint"), "changed": entry.get("changed", False),
                        "replaced": entry.get("replace", False)}
    failed = bool((result or {}).get("failed"))
    if rolled_back is not None:
        status = "rolled back" if not rolled_back.get("failed") else "rollback failed"
    elif failed:
        status = "failed"
    else:
        status = "upgraded" if any(a["changed"] for a in agents.values()) else "unchanged"
    out = {"host": host, "status": status, "agents": agents}
    if needed:
        out["needs"] = list(needed)
    if failed:
        out["error"] = (result or {}).get("msg")
    if seconds is not None:
        out["seconds"] = round(float(seconds), 1)
    return out


def report_lines(reports):
    """The rollout report as text lines, one per host and agent."""
    lines = []
    for rep in reports:
        head = "%s: %s" % (rep["host"], rep["status"])
        if rep.get("seconds") is not None:
            head += " (%.1f s)" % rep["seconds"]
        lines.append(head)
        for name, agent in sorted(rep["agents"].items()):
            move = "%s -> %s" % (agent.get("from") or agent.get("to"), agent.get("to")) if agent.get("changed") else agent.get("to")
            lines.append("  %s: %s%s" % (name, move, " (replaced, state kept)" if agent.get("replaced") else ""))
        if rep.get("error"):
            lines.append("  error: %s" % rep["error"])
        for item in rep.get("needs") or []:
            lines.append("  needs %s" % item)
    return lines
