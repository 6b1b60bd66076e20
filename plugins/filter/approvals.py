# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# Filters of playbooks/approvals.yml: approval_rules, approval_duration,
# approvals_table, approvals_overlay_paths and approvals_overlay.
# Documentation: the .yml file of the same name next to this file.

from __future__ import annotations

import os
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import validate
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import PolicyError, validate_policy
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.validate import approval_matcher_problems, normalise_matcher, normalize_host

RULES_KEYS = ("allow", "deny", "reject_unmatched", "include_security_flagged", "reason")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_RE = re.compile(r"^(?:(\d+)([smhdw]))+$")
DURATION_PART_RE = re.compile(r"(\d+)([smhdw])")
DEFAULT_REASON = "rejected by the approval rules"
OVERLAY_VAR = "blueprint_approved_endpoints"


def _fail(field, reason):
    raise AnsibleFilterError("%s: %s" % (field, reason))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------
# rules and SLA
# ---------------------------------------------------------------------------

def _matcher(item, field, approve=True):
    """One allow (``approve``) or deny matcher, checked by the module's own rule (validate.approval_matcher_problems)."""
    problems = approval_matcher_problems(item, field, approve=approve)
    if problems:
        _fail(problems[0][0], problems[0][1])
    return normalise_matcher(item)


def approval_rules(rules, name="approval_rules"):
    """Validate and normalise approval rules: {allow, deny, reject_unmatched, include_security_flagged, reason}.

    ``rules`` may be empty (no rules), a mapping, a mapping with the single key
    ``approval_rules`` (a group_vars file) or YAML text of either. Errors name
    the field, prefixed with ``name``.
    """
    if isinstance(rules, (bytes, str)):
        text = to_text(rules)
        if text.strip():
            try:
                rules = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                _fail(name, "is not valid YAML: %s" % exc)
        else:
            rules = None
    if rules is None or rules == {}:
        rules = {}
    if not isinstance(rules, dict):
        _fail(name, "must be a mapping with keys %s, got %s" % (", ".join(RULES_KEYS), type(rules).__name__))
    if list(rules) == ["approval_rules"]:
        rules = {} if rules["approval_rules"] is None else rules["approval_rules"]
        name = "%s.approval_rules" % name
        if not isinstance(rules, dict):
            _fail(name, "must be a mapping with keys %s" % ", ".join(RULES_KEYS))
    for key in sorted(rules, key=str):
        if key not in RULES_KEYS:
            _fail("%s.%s" % (name, key), "unknown field (allowed: %s)" % ", ".join(RULES_KEYS))
    out = {"allow": [], "deny": [], "reject_unmatched": False, "include_security_flagged": False,
           "reason": DEFAULT_REASON}
    for key in ("allow", "deny"):
        items = rules.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            _fail("%s.%s" % (name, key), "must be a list of matchers, got %s" % type(items).__name__)
        out[key] = [_matcher(item, "%s.%s[%d]" % (name, key, i), approve=key == "allow") for i, item in enumerate(items)]
    for key in ("reject_unmatched", "include_security_flagged"):
        if rules.get(key) is not None:
            if not isinstance(rules[key], bool):
                _fail("%s.%s" % (name, key), "must be true or false, got %r" % (rules[key],))
            out[key] = rules[key]
    if rules.get("reason") is not None:
        if not isinstance(rules["reason"], str) or not rules["reason"].strip():
            _fail("%s.reason" % name, "must be a non-empty string, got %r" % (rules["reason"],))
        out["reason"] = rules["reason"].strip()
    return out


def approval_duration(value, name="approval_sla"):
    """Seconds of a duration such as ``24h``, ``30m``, ``1h30m``, ``7d`` or a number of seconds; 0 when empty."""
    if value is None or value is False or (isinstance(value, str) and not value.strip()):
        return 0
    if _is_int(value):
        if value < 0:
            _fail(name, "must not be negative, got %r" % (value,))
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return int(text)
        if DURATION_RE.match(text):
            return sum(int(n) * DURATION_UNITS[u] for n, u in DURATION_PART_RE.findall(text))
    _fail(name, "expected a duration such as 30m, 24h, 1h30m or 7d (units s, m, h, d, w) or a number of seconds, "
                "got %r" % (value,))
    return None  # not reached


# ---------------------------------------------------------------------------
# fleet-wide table
# ---------------------------------------------------------------------------

def format_age(seconds):
    if not _is_int(seconds) or seconds < 0:
        return "-"
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm" % (seconds // 60)
    if seconds < 86400:
        return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)
    return "%dd%02dh" % (seconds // 86400, seconds % 86400 // 3600)


def _endpoint_text(ep):
    host = ep.get("host") or "*"
    return "%s:%s" % (host, ep.get("port")) if ep.get("port") else host


def _reviews(report, where):
    if not isinstance(report, dict):
        raise AnsibleFilterError("%s: expected a mapping with host and reviews, got %s" % (where, type(report).__name__))
    reviews = report.get("reviews") or []
    if not isinstance(reviews, list):
        raise AnsibleFilterError("%s.reviews: expected a list of openshell_approval results" % where)
    return [r for r in reviews if isinstance(r, dict) and not r.get("skipped") and r.get("sandbox")]


def approvals_rows(reports):
    """One row per pending chunk of every host's review results, sorted by host, sandbox, chunk id."""
    if not isinstance(reports, (list, tuple)):
        raise AnsibleFilterError("approvals_table expects a list of host reports, got %s" % type(reports).__name__)
    rows = []
    for i, report in enumerate(reports):
        for review in _reviews(report, "reports[%d]" % i):
            decided = {}
            for decision, key in (("approve", "approved"), ("reject", "rejected"), ("leave", "left")):
                for chunk in review.get(key) or []:
                    decided[chunk.get("id")] = (decision, chunk.get("reason") or "")
            for chunk in review.get("pending") or []:
                decision, reason = decided.get(chunk.get("id"), ("leave", ""))
                binaries = [chunk.get("binary")] if chunk.get("binary") else list(chunk.get("binaries") or [])
                first = chunk.get("first_seen_utc") or ""
                rows.append({
                    "host": str(report.get("host") or ""),
                    "sandbox": str(review.get("sandbox")),
                    "chunk": str(chunk.get("id")),
                    "rule": chunk.get("rule") or "",
                    "endpoint": ", ".join(_endpoint_text(ep) for ep in chunk.get("endpoints") or []) or "-",
                    "binary": ", ".join(b for b in binaries if b) or "-",
                    "first_seen": first.replace("T", " ").rstrip("Z") if first else "-",
                    "age_seconds": chunk.get("age_seconds"),
                    "age": format_age(chunk.get("age_seconds")),
                    "security": bool(chunk.get("security")),
                    "decision": decision,
                    "reason": reason,
                })
    rows.sort(key=lambda r: (r["host"], r["sandbox"], r["chunk"]))
    return rows


def approvals_table(reports, check_mode=False, failed_hosts=None):
    """Render the fleet-wide table of pending network requests as text."""
    rows = approvals_rows(reports)
    columns = (("HOST", "host"), ("SANDBOX", "sandbox"), ("CHUNK", "chunk"), ("ENDPOINT", "endpoint"),
               ("BINARY", "binary"), ("FIRST SEEN (UTC)", "first_seen"), ("AGE", "age"), ("DECISION", "decision"))
    prefix = "would " if check_mode else ""
    cells = []
    for row in rows:
        decision = prefix + row["decision"]
        if row["reason"] not in ("", "matched no rule"):
            decision += " (%s)" % row["reason"]
        if row["security"]:
            decision += " [security-flagged]"
        cells.append([row[key] if key != "decision" else decision for _title, key in columns])
    widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, (title, _key) in enumerate(columns)]
    lines = []
    if rows:
        lines.append("  ".join(title.ljust(widths[i]) for i, (title, _key) in enumerate(columns)).rstrip())
        for c in cells:
            lines.append("  ".join(value.ljust(widths[i]) for i, value in enumerate(c)).rstrip())
    hosts = len(reports)
    counts = dict((d, sum(1 for r in rows if r["decision"] == d)) for d in ("approve", "reject", "leave"))
    summary = "%d pending network request%s on %d host%s: approve %d, reject %d, leave %d%s" % (
        len(rows), "" if len(rows) == 1 else "s", hosts, "" if hosts == 1 else "s",
        counts["approve"], counts["reject"], counts["leave"], " (check mode: nothing changed)" if check_mode else "")
    lines.append(summary)
    if failed_hosts:
        lines.append("not reviewed (failed or unreachable): %s" % ", ".join(sorted(str(h) for h in failed_hosts)))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# approved-endpoints overlay (a blueprint_overrides layer)
# ---------------------------------------------------------------------------

def _overlay_endpoint(ep):
    out = {"host": ep.get("host"), "port": ep.get("port")}
    layer = (ep.get("layer") or "").split()
    if len(layer) == 2 and layer[0].upper() == "L7":
        out["protocol"] = layer[1]
    if ep.get("access"):
        out["access"] = ep["access"]
    return dict((k, v) for k, v in out.items() if v is not None)


def _endpoint_keys(endpoints):
    return set((normalize_host(str(e.get("host") or "")), e.get("port")) for e in endpoints or [])


def _overlay_key(policies, rule, endpoints):
    """The key a chunk's endpoints are kept under: keys never collide across hosts.

    OpenShell's generated rule names fold '.' and '-' into '_' (``allow_registry_npmjs_org_443``
    is also the name for ``registry-npmjs.org:443``), so the rule name is used only while the
    entry under it holds no other endpoint; otherwise the key spells the host as it is
    (``allow_registry-npmjs.org_443``), with a numeric suffix if even that is taken.
    """
    mine = _endpoint_keys(endpoints)
    candidates = ([rule] if rule else []) + ["allow_%s_%s" % (normalize_host(endpoints[0]["host"]), endpoints[0]["port"])]
    for name in candidates:
        if name not in policies or _endpoint_keys((policies[name] or {}).get("endpoints")) <= mine:
            return name
    n = 2
    while "%s_%d" % (candidates[-1], n) in policies and \
            not _endpoint_keys((policies["%s_%d" % (candidates[-1], n)] or {}).get("endpoints")) <= mine:
        n += 1
    return "%s_%d" % (candidates[-1], n)


def _merge_entry(current, name, endpoints, binaries):
    entry = dict(current or {})
    entry["name"] = entry.get("name") or name
    eps = [dict(e) for e in entry.get("endpoints") or []]
    for ep in endpoints:
        same = [e for e in eps if e.get("host") == ep.get("host") and e.get("port") == ep.get("port")]
        if not same:
            eps.append(ep)
    entry["endpoints"] = sorted(eps, key=lambda e: (str(e.get("host")), e.get("port") or 0))
    bins = [dict(b) for b in entry.get("binaries") or []]
    for path in binaries:
        if not any(b.get("path") == path for b in bins):
            bins.append({"path": path})
    if bins:
        entry["binaries"] = sorted(bins, key=lambda b: str(b.get("path")))
    return entry


def _approved_for(reports, path):
    for i, report in enumerate(reports or []):
        if not isinstance(report, dict) or (report.get("overlay_file") or "") != path:
            continue
        for review in _reviews(report, "reports[%d]" % i):
            yield from review.get("approved") or []


def approvals_overlay_paths(reports, var_name=OVERLAY_VAR):
    """Sorted overlay files (``overlay_file`` of the host reports) that receive at least one approved chunk.

    A file that exists must not be vault-encrypted: the playbook reads it decrypted and would write it back in clear.
    ``var_name`` must be a variable name.
    """
    if not isinstance(reports, (list, tuple)):
        raise AnsibleFilterError("approvals_overlay_paths expects a list of host reports")
    if not isinstance(var_name, str) or not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", var_name):
        raise AnsibleFilterError("approvals_overlay_var: must be a variable name (letters, digits, '_'), got %r"
                                 % (var_name,))
    paths = set()
    for report in reports:
        path = report.get("overlay_file") if isinstance(report, dict) else None
        if not path:
            continue
        if not isinstance(path, str) or not os.path.isabs(path):
            raise AnsibleFilterError("approvals_overlay_file: must be an absolute path on the controller "
                                     "(for example {{ inventory_dir }}/group_vars/nemoclaw/approved_endpoints.yml), "
                                     "got %r for host %s" % (path, report.get("host")))
        if any(True for _chunk in _approved_for([report], path)):
            paths.add(path)
    for path in paths:
        _check_overlay_file(path)
    return sorted(paths)


def _check_overlay_file(path):
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return
    except (IOError, OSError) as exc:
        raise AnsibleFilterError("approvals_overlay_file %s: cannot be read: %s" % (path, exc))
    if raw.lstrip().startswith(b"$ANSIBLE_VAULT"):
        raise AnsibleFilterError("approvals_overlay_file %s is vault-encrypted: the playbook would write it back in "
                                 "clear; give the overlay a file of its own" % path)


def approvals_overlay(existing, reports, path, var_name=OVERLAY_VAR):
    """The overlay file ``path`` as a document: what it holds merged with the chunks approved for it.

    ``existing`` is the file's text (or parsed content; empty when new). The
    overlay is ``{var_name: {name, source, network_policies}}``, the shape of one
    ``blueprint_overrides`` layer; entries are keyed by the approved rule name.
    """
    doc = existing
    if isinstance(existing, (bytes, str)):
        try:
            doc = yaml.safe_load(to_text(existing)) if to_text(existing).strip() else None
        except yaml.YAMLError as exc:
            raise AnsibleFilterError("%s: is not valid YAML: %s" % (path, exc))
    if not isinstance(doc or {}, dict):
        raise AnsibleFilterError("%s: expected a mapping of variables" % path)
    doc = dict(doc or {})
    layer = {} if doc.get(var_name) is None else doc[var_name]
    if not isinstance(layer, dict):
        raise AnsibleFilterError("%s: %s must be a mapping (one blueprint_overrides layer)" % (path, var_name))
    parent = os.path.basename(os.path.dirname(path))
    layer = dict(layer)
    layer.setdefault("name", "approvals")
    layer.setdefault("source", "approvals:%s" % "/".join(p for p in (parent, os.path.basename(path)) if p))
    policies = dict(layer.get("network_policies") or {})
    for chunk in _approved_for(reports, path):
        endpoints = [_overlay_endpoint(ep) for ep in chunk.get("endpoints") or [] if ep.get("host") and ep.get("port")]
        if not endpoints:
            continue
        name = _overlay_key(policies, chunk.get("rule"), endpoints)
        binaries = [b for b in [chunk.get("binary")] + list(chunk.get("binaries") or []) if b]
        if not binaries and not (policies.get(name) or {}).get("binaries"):
            continue  # a network policy entry needs a binary; OpenShell drafts always name one
        policies[name] = _merge_entry(policies.get(name), name, endpoints, binaries)
    layer["network_policies"] = dict(sorted(policies.items()))
    if validate.template_markers(layer):
        # The file is an inventory vars file: its strings are templates to Ansible.
        raise AnsibleFilterError("%s: %s holds template delimiters ({{, {%% or {#); not written (a proposed rule's "
                                 "text must never run as code on the controller)" % (path, var_name))
    try:
        validate_policy({"version": 1, "network_policies": layer["network_policies"]})
    except PolicyError as exc:
        raise AnsibleFilterError("%s: %s.%s" % (path, var_name, exc))
    doc[var_name] = layer
    return doc


class FilterModule(object):
    """Filters of the network-approval workflow."""

    def filters(self):
        return {
            "approval_rules": approval_rules,
            "approval_duration": approval_duration,
            "approvals_table": approvals_table,
            "approvals_overlay_paths": approvals_overlay_paths,
            "approvals_overlay": approvals_overlay,
        }
