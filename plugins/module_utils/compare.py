# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Desired vs current, for every OpenShell resource kind. Pure functions.

Nothing here runs a command: each function takes what the CLI returned
(already parsed) and what the user declared, and says what differs and what
the difference requires. The modules and the fast drift scan both call these,
so ``site.yml --check`` and ``playbooks/drift.yml`` agree by construction.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import validate


def policylib():
    """The policy library (``policy.py``), imported on first use.

    Only the modules that compare policies need it; the others (gateway, exec, preflight, GPU
    facts) skip its import, a fifth of their start-up on the host (docs/performance.md).
    """
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import policy  # pylint: disable=import-outside-toplevel
    return policy


# Labels the collection stamps on every sandbox it creates.
LABEL_MANAGED = "agentfleet.nemoclaw/managed"
LABEL_SPEC = "agentfleet.nemoclaw/spec"
MANAGED_LABEL_PREFIX = "agentfleet.nemoclaw/"
MANAGED_LABELS = (LABEL_MANAGED, LABEL_SPEC)  # what create adds to the user's labels


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(value, length=16):
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]


# --------------------------------------------------------------------------
# Secret-looking input (the name, key, text and size rules are in validate.py)
# --------------------------------------------------------------------------

def looks_secret(key, value):
    """``validate.looks_secret``: a credential by its name or its value."""
    return validate.looks_secret(key, value)


# --------------------------------------------------------------------------
# Gateway registrations
# --------------------------------------------------------------------------

def normalize_endpoint(endpoint):
    endpoint = (endpoint or "").strip()
    if endpoint and "://" not in endpoint:
        endpoint = "https://" + endpoint
    return endpoint.rstrip("/")


def desired_gateway_auth(endpoint, local):
    """The ``auth`` value ``gateway list`` shows for a registration we make."""
    if normalize_endpoint(endpoint).startswith("http://"):
        return "plaintext"
    return "mtls" if local else "cloudflare_jwt"


def gateway_differences(current, endpoint, local):
    """Fields of a ``gateway list`` entry that differ from the desired registration."""
    if current is None:
        return ["absent"]
    diffs = []
    if normalize_endpoint(current.get("endpoint")) != normalize_endpoint(endpoint):
        diffs.append("endpoint")
    if current.get("auth") != desired_gateway_auth(endpoint, local):
        diffs.append("auth")
    return diffs


# --------------------------------------------------------------------------
# Providers: write-only secrets, tracked by a salted fingerprint
# --------------------------------------------------------------------------

FINGERPRINT_ITERATIONS = 20000


def _slow_hash(salt, material):
    digest = hashlib.pbkdf2_hmac("sha256", material.encode("utf-8"), salt.encode("utf-8"), FINGERPRINT_ITERATIONS)
    return "pbkdf2-sha256$%d$%s" % (FINGERPRINT_ITERATIONS, digest.hex())


def provider_fingerprints(salt, ptype, credentials, config):
    """Salted, slow hashes of what we write; no secret can be read back from them.

    PBKDF2-HMAC-SHA256 keyed by a random per-state-file salt: one hash per
    credential (so a diff can say which key changed) and one over type+config.
    """
    return {
        "config": _slow_hash(salt, canonical_json({"type": ptype, "config": config or {}})),
        "credentials": dict((k, _slow_hash(salt, canonical_json([k, v]))) for k, v in sorted((credentials or {}).items())),
    }


def _same(a, b):
    return bool(a) and bool(b) and hmac.compare_digest(a, b)


def provider_plan(current, desired, record, fingerprints, update_credentials):
    """Decide what a provider needs.

    :param current: the ``provider list -o json`` entry or None.
    :param desired: ``{"name", "type", "credential_keys", "config"}`` (no values).
    :param record: state-file record ``{"fingerprints", "resource_version"}`` or None.
    :param fingerprints: ``provider_fingerprints`` of the desired values.
    :param update_credentials: ``on_change`` | ``always`` | ``on_create``.
    :returns: dict ``action`` (none|create|update|type_conflict), ``reasons``,
        ``changed_keys`` (credential keys whose value is (re)written because it
        differs), ``removed_keys`` (credential keys to delete), ``write`` (bool).
    """
    desired_keys = set(desired.get("credential_keys") or [])
    if current is None:
        return {"action": "create", "reasons": ["absent"], "changed_keys": sorted(desired_keys),
                "removed_keys": [], "write": True}
    if current.get("type", "").lower() != desired["type"].lower():
        return {"action": "type_conflict", "reasons": ["type %s -> %s" % (current.get("type"), desired["type"])],
                "changed_keys": sorted(desired_keys), "removed_keys": [], "write": True}
    reasons = []
    current_keys = set(current.get("credential_keys") or [])
    added = desired_keys - current_keys
    removed = sorted(current_keys - desired_keys)
    changed = set(added)
    if added:
        reasons.append("credential keys added: %s" % ", ".join(sorted(added)))
    if removed:
        reasons.append("credential keys removed: %s" % ", ".join(removed))
    desired_config = set((desired.get("config") or {}).keys())
    if desired_config - set(current.get("config_keys") or []):
        reasons.append("config keys added: %s" % ", ".join(sorted(desired_config - set(current.get("config_keys") or []))))
    if update_credentials == "always":
        reasons.append("update_credentials=always")
        changed = set(desired_keys)
    elif update_credentials == "on_change":
        if record is None:
            reasons.append("no fingerprint recorded for this provider")
            changed = set(desired_keys)
        else:
            old = record.get("fingerprints") or {}
            for key in sorted(desired_keys - added):
                if not _same((old.get("credentials") or {}).get(key), fingerprints["credentials"].get(key)):
                    changed.add(key)
            if changed - added:
                reasons.append("credential values changed: %s" % ", ".join(sorted(changed - added)))
            if not _same(old.get("config"), fingerprints["config"]):
                reasons.append("config changed")
            if record.get("resource_version") is not None and current.get("resource_version") is not None \
                    and int(record["resource_version"]) != int(current["resource_version"]):
                reasons.append("changed outside Ansible (resource_version %s -> %s)"
                               % (record["resource_version"], current["resource_version"]))
                changed = set(desired_keys)
    action = "update" if reasons else "none"
    return {"action": action, "reasons": reasons, "changed_keys": sorted(changed) if reasons else [],
            "removed_keys": removed, "write": action != "none"}


# --------------------------------------------------------------------------
# Sandboxes
# --------------------------------------------------------------------------

IMMUTABLE_SANDBOX_FIELDS = ("image", "gpu", "cpu", "memory", "env")


def sandbox_spec_fingerprint(spec):
    """Hash of the fields OpenShell cannot change in place and does not report back.

    Stored as the ``agentfleet.nemoclaw/spec`` label at creation, so a later
    run can tell whether image, GPU, resources or env still match.
    """
    fields = {k: spec.get(k) for k in IMMUTABLE_SANDBOX_FIELDS}
    # Only when set: sandboxes created before the option existed keep their fingerprint.
    if spec.get("restart_policy"):
        fields["restart_policy"] = spec["restart_policy"]
    return short_hash(fields)


def user_labels(labels):
    return dict((k, v) for k, v in (labels or {}).items() if not k.startswith(MANAGED_LABEL_PREFIX))


def sandbox_labels(spec):
    labels = dict(spec.get("labels") or {})
    labels[LABEL_MANAGED] = "true"
    labels[LABEL_SPEC] = sandbox_spec_fingerprint(spec)
    return labels


def sandbox_recreate_reasons(current, spec, static_problems=()):
    """Why the existing sandbox cannot be converged in place (empty: it can).

    :param current: ``sandbox get -o json`` object.
    :param spec: desired spec (see ``openshell.sandbox_create_args``).
    :param static_problems: reasons from ``policy.static_violations``.
    """
    reasons = []
    labels = current.get("labels") or {}
    recorded = labels.get(LABEL_SPEC)
    if recorded is None:
        reasons.append("spec unknown: sandbox has no %s label (not created by this collection)" % LABEL_SPEC)
    elif recorded != sandbox_spec_fingerprint(spec):
        reasons.append("image, gpu, cpu, memory, env or restart_policy changed (spec %s -> %s)" % (recorded, sandbox_spec_fingerprint(spec)))
    if user_labels(labels) != dict((k, str(v)) for k, v in (spec.get("labels") or {}).items()):
        reasons.append("labels changed")
    reasons.extend("static policy: %s" % p for p in static_problems)
    if current.get("phase") == "Error":
        reasons.append("sandbox is in phase %s" % phase_text(current))
    return reasons


def main_process_exit(current):
    """The exit status of the sandbox's main process, or None (OpenShell 0.1.x reports
    ``exit_code`` in ``sandbox get -o json``; 0.0.x does not)."""
    code = (current or {}).get("exit_code")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def main_process_failed(current):
    """True for OpenShell 0.1.x's ``Error`` phase with condition ``MainProcessFailed``: the main
    process exited nonzero. The CLI's JSON carries the phase and ``exit_code``, not the condition;
    an ``Error`` with a nonzero exit code is read as MainProcessFailed."""
    code = main_process_exit(current)
    return (current or {}).get("phase") == "Error" and code is not None and code != 0


def phase_text(current):
    """``phase`` of a ``sandbox get`` object, with what its main process did when that is known:
    ``Completed (main process exited 0)``, ``Error (MainProcessFailed: main process exited 3)``."""
    phase = (current or {}).get("phase")
    code = main_process_exit(current)
    if main_process_failed(current):
        return "%s (MainProcessFailed: main process exited %d)" % (phase, code)
    if phase == "Completed":
        return "Completed (main process exited %s)" % (0 if code is None else code)
    return str(phase)


def phase_action(phase, state):
    """Lifecycle call needed to reach ``state`` (running|stopped|present) from ``phase``.

    ``Completed`` (OpenShell 0.1.x: the main process exited 0, the sandbox is retained) is
    started again for ``running``: 0.1.x's StartSandbox accepts Stopped, Completed and a
    MainProcessFailed Error; StopSandbox needs Ready, so ``stopped`` leaves Completed as it is.
    """
    if state == "running" and phase in ("Stopped", "Stopping", "Completed"):
        return "start"
    if state == "stopped" and phase in ("Ready", "Starting", "Provisioning"):
        return "stop"
    return None


def provider_attachment_changes(current, desired):
    current, desired = set(current or []), set(desired or [])
    return sorted(desired - current), sorted(current - desired)


# --------------------------------------------------------------------------
# Inference routes
# --------------------------------------------------------------------------

def inference_differences(current, provider, model, timeout):
    """Fields of a parsed route (``openshell.parse_inference``) that differ."""
    if current is None:
        return ["absent"]
    diffs = []
    if current.get("provider") != provider:
        diffs.append("provider")
    if current.get("model") != model:
        diffs.append("model")
    if timeout is not None and int(current.get("timeout") or 0) != int(timeout):
        diffs.append("timeout")
    return diffs


# --------------------------------------------------------------------------
# Whole-resource decisions (what converge_* decides after its reads). The
# fast drift scan (drift.py) calls these on a state snapshot, so it decides
# exactly like the modules do in check mode.
# --------------------------------------------------------------------------

def provider_state_key(gateway, gateway_endpoint, workspace, name):
    """Key of a provider's record in the host-side state file (``providers.json``)."""
    return "%s|%s|%s" % (gateway or gateway_endpoint or "<active>", workspace or "default", name)


def gateway_registration_differences(current, endpoint, local, active=True):
    """What ``openshell_gateway`` (state=present) would change: fields, or ``["active"]``."""
    diffs = gateway_differences(current, endpoint, local)
    if not diffs and active and not current.get("active"):
        diffs = ["active"]
    return diffs


def setting_scope(settings, key):
    """The scope ``settings get --json`` shows for ``key`` (``sandbox``, ``global``), None when unset."""
    return (((settings or {}).get("settings") or {}).get(key) or {}).get("scope")


def approval_mode_differs(settings, desired_mode):
    """True when ``settings get --json`` shows another ``proposal_approval_mode`` than wanted.

    Unset means ``manual`` (the server default).
    """
    if not desired_mode:
        return False
    mode = (((settings or {}).get("settings") or {}).get("proposal_approval_mode") or {}).get("value")
    if mode in (None, "<unset>"):
        return desired_mode != "manual"
    return mode != desired_mode


def sandbox_actions(current, spec, state, recreate, static_problems=(), current_providers=None, settings=None):
    """The calls ``openshell_sandbox`` makes for a present/running/stopped sandbox.

    :param current: ``sandbox get -o json`` object or None.
    :param spec: normalised desired spec (``converge.sandbox_spec``).
    :param state: running | stopped | present.
    :param recreate: on_change | always | never.
    :param static_problems: ``policy.static_violations`` of the creation policy.
    :param current_providers: attached provider names (``sandbox provider list``), or None
        when the spec does not manage providers.
    :param settings: ``settings get --json`` (read only when ``spec["approval_mode"]``).
    :returns: ``{"actions", "recreate_reasons", "needs_recreate"}``.
    """
    if current is None:
        actions = ["create"] + (["stop"] if state == "stopped" else [])
        return {"actions": actions, "recreate_reasons": [], "needs_recreate": False}
    reasons = sandbox_recreate_reasons(current, spec, static_problems)
    if recreate == "always":
        reasons = ["recreate=always"] + reasons
    needs_recreate = bool(reasons) and recreate == "never"
    actions = []
    if reasons and not needs_recreate:
        actions = ["delete", "create"] + (["stop"] if state == "stopped" else [])
    else:
        if spec.get("providers") is not None and current_providers is not None:
            attach, detach = provider_attachment_changes(current_providers, spec["providers"])
            actions += ["attach:%s" % x for x in attach] + ["detach:%s" % x for x in detach]
        step = phase_action(current.get("phase"), state)
        if step:
            actions.append(step)
        if spec.get("approval_mode") and approval_mode_differs(settings, spec["approval_mode"]):
            actions.append("approval_mode")
    return {"actions": actions, "recreate_reasons": reasons, "needs_recreate": needs_recreate}


def sandbox_policy_plan(current, desired, canonical=False):
    """What ``openshell_policy`` decides for a live sandbox's policy.

    Static sections left out of ``desired`` are kept as they are (``policy set``
    replaces the whole document). Returns ``{"merged", "static_problems",
    "changed", "policy_diff"}``; static problems make the module refuse.
    ``canonical=True``: both documents are already ``normalize_policy``'s output.
    """
    pol = policylib()
    if not canonical:
        current = pol.normalize_policy(current or {"version": 1})
    merged = dict(desired)
    for section in pol.STATIC_SECTIONS:
        if section not in merged and section in current:
            merged[section] = current[section]
    if not canonical:
        merged = pol.normalize_policy(merged)
    return {"merged": merged, "static_problems": pol.static_violations(current, merged, canonical=True),
            "changed": not pol.dynamic_equal(current, merged, canonical=True),
            "policy_diff": pol.policy_diff(current, merged, canonical=True)}


# --------------------------------------------------------------------------
# Approvals
# --------------------------------------------------------------------------

def matcher_matches(matcher, chunk):
    """True when one matcher (``host``, ``port``, ``binary``, ``rule``, ``id``) selects ``chunk``.

    The one matcher of the module and the playbook: validate.matcher_matches (exact hosts after
    normalisation, a wildcard only at a label boundary of the first label).
    """
    return validate.matcher_matches(matcher, chunk)


def approval_decisions(chunks, approve=(), reject=(), approve_all=False, include_security_flagged=False,
                       reject_unmatched=False, expired=()):
    """Split pending chunks into approve / reject / leave, with the reason for each.

    Reject matchers win over approve matchers. Security-flagged chunks are
    never approved by ``approve_all`` or a matcher unless
    ``include_security_flagged``; they are still rejected by matchers.
    ``expired`` holds the ids of chunks pending longer than the SLA: a chunk
    that would be left alone is rejected instead, with reason "older than SLA"
    (an explicit approve or reject decision still wins).
    """
    expired = set(expired or ())
    decisions = {"approve": [], "reject": [], "leave": []}
    for chunk in sorted(chunks, key=lambda c: c.get("id")):
        if chunk.get("status") and chunk["status"] != "pending":
            continue
        flagged = bool(chunk.get("security"))
        # What the agent proposed is written into the inventory once approved: never text Ansible would run.
        marked = validate.template_markers(dict((k, chunk.get(k)) for k in ("rule", "binary", "binaries", "endpoints")))
        if any(matcher_matches(m, chunk) for m in reject):
            decisions["reject"].append((chunk, "matched a reject rule"))
        elif marked:
            decisions["reject" if reject_unmatched else "leave"].append(
                (chunk, "holds template delimiters ({{, {% or {#) in its rule, binary or endpoints, which Ansible "
                        "would run where the approval is written; never approved: review it by hand"))
        elif any(matcher_matches(m, chunk) for m in approve) or approve_all:
            if flagged and not include_security_flagged:
                if reject_unmatched:
                    decisions["reject"].append((chunk, "security-flagged and not explicitly allowed"))
                else:
                    decisions["leave"].append((chunk, "security-flagged; set include_security_flagged to approve"))
            else:
                decisions["approve"].append((chunk, "approve_all" if approve_all else "matched an approve rule"))
        elif reject_unmatched:
            decisions["reject"].append((chunk, "matched no approve rule (reject_unmatched)"))
        else:
            decisions["leave"].append((chunk, "matched no rule"))
        if decisions["leave"] and decisions["leave"][-1][0] is chunk and chunk.get("id") in expired:
            decisions["leave"].pop()
            decisions["reject"].append((chunk, "older than SLA"))
    return decisions
