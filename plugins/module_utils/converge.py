# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Converge functions: read once, compare (``compare``/``policy``), act on difference.

One function per module, each ``fn(ctx) -> result``. The pattern is always:

1. validate input (raise ``InputError`` naming the option) before any call;
2. read the current state with as few read-only calls as possible;
3. compute the difference with the pure functions of ``compare``/``policy``;
4. unless in check mode, make exactly the mutating calls the difference needs;
5. return the result, with ``diff`` (before/after of managed fields, no secret).
"""

from __future__ import annotations

import calendar
import json
import os
import time

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare, openshell_versions, validate
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError, check_name, check_value
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import (
    CliNotFound,
    GatewayNotConfigured,
    GatewayUnreachable,
    NotFound,
    OpenShellError,
    POLICY_LOAD_HINT,
    PolicyLoadFailed,
    Precondition,
    Unavailable,
    classify,
    error_message,
)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import StateFile, default_path

SECRET_CHANGED = "<changed>"
SECRET_UNCHANGED = "<unchanged>"


def _poll(fn, done, timeout, interval=0.5):
    """Call ``fn`` until ``done(value)`` or ``timeout`` seconds; return the last value."""
    deadline = time.time() + timeout
    value = fn()
    while not done(value) and time.time() < deadline:
        time.sleep(interval)
        value = fn()
    return value


# --------------------------------------------------------------------------
# openshell_gateway
# --------------------------------------------------------------------------

def converge_gateway(ctx):
    p = ctx.params
    name = check_name("gateway", "name", p["name"])
    if p["state"] == "present" and not p.get("endpoint"):
        raise InputError("endpoint", "is required when state=present")
    if p.get("endpoint") and compare.normalize_endpoint(p["endpoint"]).split("://")[0] not in ("http", "https"):
        raise InputError("endpoint", "must be an http:// or https:// URL, got %r" % p["endpoint"])
    if p.get("endpoint"):
        check_value("endpoint", validate.endpoint_url_problem(compare.normalize_endpoint(p["endpoint"])))
    if p.get("endpoint") and compare.normalize_endpoint(p["endpoint"]).startswith("https://") and not p["local"]:
        raise InputError("local", "an https:// endpoint needs local=true (package mTLS); other auth modes need a browser login")
    client = ctx.client
    entries = client.gateway_list()
    current = next((g for g in entries if g.get("name") == name), None)
    before = _gateway_view(current)
    result = {"changed": False, "name": name}

    if p["state"] == "absent":
        if current is not None:
            if current.get("source") == "system":
                raise InputError("name", "gateway %r is installed by the system and cannot be removed from user config" % name)
            result["changed"] = True
            if not ctx.check_mode:
                client.gateway_remove(name)
        result["diff"] = {"before": before, "after": {}}
        result["gateway"] = None
        return result

    diffs = compare.gateway_registration_differences(current, p["endpoint"], p["local"], p["active"])
    registration = [d for d in diffs if d != "active"]
    after = {"name": name, "endpoint": compare.normalize_endpoint(p["endpoint"]),
             "auth": compare.desired_gateway_auth(p["endpoint"], p["local"]),
             "active": True if (diffs or p["active"]) else bool(current and current.get("active"))}
    if diffs:
        result["changed"] = True
        result["differences"] = diffs
    if registration and not ctx.check_mode:
        if current is not None:
            client.gateway_remove(name)
        client.gateway_add(compare.normalize_endpoint(p["endpoint"]), name, local=p["local"])
    elif diffs and not ctx.check_mode:
        client.gateway_select(name)
    result["diff"] = {"before": before, "after": after}

    if ctx.check_mode and result["changed"]:
        result["gateway"] = after
        result["status"] = None
        return result
    if result["changed"]:
        current = next((g for g in client.gateway_list() if g.get("name") == name), after)
    result["gateway"] = current
    status_args = ["status", "-o", "json", "--gateway", name]

    def read_status():
        try:
            return client.run_json(status_args, with_globals=False)
        except OpenShellError as exc:
            return {"status": "unreachable", "error": exc.message}
    status = read_status()
    if p["wait"] and not ctx.check_mode:
        status = _poll(read_status, lambda s: s.get("status") == "connected", p["wait_timeout"])
        if status.get("status") != "connected":
            raise OpenShellError("gateway %r at %s did not report connected within %ss (last status: %s %s)"
                                 % (name, after["endpoint"], p["wait_timeout"], status.get("status"),
                                    status.get("error", "")), hint="Check that the gateway service is running")
    result["status"] = status
    return result


def _gateway_view(entry):
    if not entry:
        return {}
    return {"name": entry.get("name"), "endpoint": compare.normalize_endpoint(entry.get("endpoint")),
            "auth": entry.get("auth"), "active": bool(entry.get("active"))}


# --------------------------------------------------------------------------
# openshell_provider
# --------------------------------------------------------------------------

def _state_key(ctx, name):
    c = ctx.client
    return compare.provider_state_key(c.gateway, c.gateway_endpoint, c.workspace, name)


def _provider_view(entry, credential_marks=None):
    if not entry:
        return {}
    view = {"name": entry.get("name"), "type": entry.get("type"),
            "credential_keys": sorted(entry.get("credential_keys") or []),
            "config_keys": sorted(entry.get("config_keys") or [])}
    if credential_marks is not None:
        view["credentials"] = credential_marks
    return view


def converge_provider(ctx):
    p = ctx.params
    name, state = check_name("provider", "name", p["name"]), p["state"]
    credentials = p.get("credentials") or {}
    config = p.get("config") or {}
    if state == "present":
        if not p.get("type"):
            raise InputError("type", "is required when state=present")
        if not credentials:
            raise InputError("credentials", "at least one credential is required (OpenShell needs a credential source)")
        for key, value in credentials.items():
            check_value("credentials", validate.credential_key_problem(key))
            if value is None or not str(value).strip():
                raise InputError("credentials", "value of %s is empty" % key)
            check_value("credentials", validate.text_problem(value), "value of %s " % key)
        for field, reason in validate.provider_size_problems(credentials, config):
            raise InputError(field, reason)
        for key, value in config.items():
            check_value("config", validate.config_key_problem(key))
            check_value("config", validate.text_problem(value), "value of %s " % key)
            if validate.looks_secret(key, value):
                raise InputError("config", "%s looks like a credential; config is passed on the command line: give it in "
                                 "credentials" % key)
    credentials = dict((k, str(v)) for k, v in credentials.items())
    config = dict((k, str(v)) for k, v in config.items())

    client = ctx.client
    current = client.provider_find(name)
    result = {"changed": False, "name": name}
    state_path = p.get("state_file") or default_path("providers.json")
    key = _state_key(ctx, name)

    if state == "absent":
        if current is not None:
            result["changed"] = True
            if not ctx.check_mode:
                try:
                    client.provider_delete(name)
                except Precondition as exc:
                    raise Precondition("provider %r is still attached and was not deleted: %s" % (name, exc.message),
                                       exc.rc, exc.stderr, exc.argv,
                                       hint="Detach it or delete those sandboxes first")
                _forget(state_path, key)
        result["diff"] = {"before": _provider_view(current), "after": {}}
        result["provider"] = None
        return result

    desired = {"name": name, "type": p["type"], "credential_keys": sorted(credentials), "config": config}
    with StateFile(state_path, readonly=ctx.check_mode) as sf:
        data = sf.read()
        record = (data.get("providers") or {}).get(key)
        fingerprints = compare.provider_fingerprints(data["salt"], p["type"], credentials, config)
        plan = compare.provider_plan(current, desired, record, fingerprints, p["update_credentials"])
        if plan["action"] == "type_conflict" and not p["recreate_on_type_change"]:
            raise InputError("type", "provider %r exists with type %r; OpenShell cannot change a provider's type in place. "
                             "Set recreate_on_type_change=true to delete and recreate it"
                             % (name, current.get("type")))
        result["changed"] = plan["write"]
        result["action"] = plan["action"]
        result["reasons"] = plan["reasons"]
        after_view = {"name": name, "type": p["type"], "credential_keys": sorted(credentials),
                      "config_keys": sorted(set(config) | set((current or {}).get("config_keys") or [])),
                      "credentials": dict((k, SECRET_CHANGED if k in plan["changed_keys"] else SECRET_UNCHANGED)
                                          for k in sorted(credentials))}
        before_view = _provider_view(current, dict((k, SECRET_UNCHANGED) for k in sorted((current or {}).get("credential_keys") or [])))
        result["diff"] = {"before": before_view, "after": after_view}
        if plan["write"] and not ctx.check_mode:
            if plan["action"] == "create":
                client.provider_create(name, p["type"], credentials, config)
            elif plan["action"] == "type_conflict":
                client.provider_delete(name)
                client.provider_create(name, p["type"], credentials, config)
            else:
                client.provider_update(name, dict((k, credentials[k]) for k in plan["changed_keys"]), config,
                                       plan["removed_keys"])
            current = client.provider_find(name)
            data.setdefault("providers", {})[key] = {
                "fingerprints": fingerprints,
                "resource_version": (current or {}).get("resource_version"),
                "type": p["type"],
            }
            sf.write(data)
    if ctx.check_mode and plan["write"]:
        result["provider"] = dict((k, after_view[k]) for k in ("name", "type", "credential_keys", "config_keys"))
    else:
        result["provider"] = current
    return result


def _forget(path, key):
    with StateFile(path) as sf:
        data = sf.read()
        if key in (data.get("providers") or {}):
            del data["providers"][key]
            sf.write(data)


# --------------------------------------------------------------------------
# openshell_sandbox
# --------------------------------------------------------------------------

def load_policy_param(ctx, field="policy", src_field="policy_src"):
    """The policy given as a dict or a file (JSON or YAML), validated; None when absent."""
    p = ctx.params
    doc = p.get(field)
    src = p.get(src_field)
    if doc is not None and src:
        raise InputError(src_field, "give either %s or %s, not both" % (field, src_field))
    if src:
        if not os.path.isfile(src):
            raise InputError(src_field, "file %s does not exist on the managed host" % src)
        with open(src) as fh:
            text = fh.read()
        doc = _parse_yaml_or_json(text, src_field)
        field = src_field
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise InputError(field, "must be a mapping (an OpenShell policy document)")
    pol = compare.policylib()
    try:
        pol.validate_policy(doc)
    except pol.PolicyError as exc:
        raise InputError("%s.%s" % (field, exc.path) if exc.path else field, exc.reason)
    return pol.normalize_policy(doc)


def _parse_yaml_or_json(text, field):
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise InputError(field, "is not JSON and PyYAML is not installed on the managed host to read YAML")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(field, "is not valid YAML: %s" % exc)


def sandbox_spec(ctx):
    """Validate the sandbox options and return the normalised desired spec."""
    p = ctx.params
    check_name("sandbox", "name", p["name"])
    problem = compare.policylib().image_problem(p.get("image"))
    if problem:
        raise InputError("image", "%r %s" % (p["image"], problem))
    try:
        gpu = validate.parse_gpu(p.get("gpu"))
    except ValueError as exc:
        raise InputError("gpu", str(exc))
    if p.get("cpu"):
        check_value("cpu", validate.cpu_problem(p["cpu"]))
    if p.get("memory"):
        check_value("memory", validate.memory_problem(p["memory"]))
    labels = dict((k, str(v)) for k, v in (p.get("labels") or {}).items())
    for key, value in labels.items():
        if key.startswith(compare.MANAGED_LABEL_PREFIX):
            raise InputError("labels", "key %r uses the prefix %s reserved for the collection" % (key, compare.MANAGED_LABEL_PREFIX))
        problem = validate.label_problem(key, value)
        if problem:
            raise InputError("labels", problem)
    env = dict((k, str(v)) for k, v in (p.get("env") or {}).items())
    for key, value in env.items():
        check_value("env", validate.env_key_problem(key))
        check_value("env", validate.text_problem(value), "value of %s " % key)
        if key.startswith("OPENSHELL_"):
            raise InputError("env", "keys starting with OPENSHELL_ are reserved; got %r" % key)
        if compare.looks_secret(key, value) and not p.get("allow_secret_env"):
            raise InputError("env", "%s looks like a credential; env is visible inside the sandbox and on the command line. "
                             "Use a provider instead, or set allow_secret_env=true if it is not secret" % key)
    providers = p.get("providers")
    if providers is not None:
        for provider in providers:
            check_name("provider", "providers", provider)
        providers = sorted(set(providers))
    for field, reason in validate.sandbox_size_problems(env, labels, providers, len(compare.MANAGED_LABELS)):
        raise InputError(field, reason)
    return {"name": p["name"], "image": p.get("image"), "providers": providers, "gpu": gpu or False,
            "cpu": str(p["cpu"]) if p.get("cpu") else None, "memory": str(p["memory"]) if p.get("memory") else None,
            "labels": labels, "env": env, "approval_mode": p.get("approval_mode"),
            "restart_policy": p.get("restart_policy")}


def _sandbox_view(obj, spec=None, providers=None):
    if not obj:
        return {}
    view = {"name": obj.get("name"), "phase": obj.get("phase"),
            "labels": dict(sorted((obj.get("labels") or {}).items()))}
    if spec is not None:
        view["spec"] = (obj.get("labels") or {}).get(compare.LABEL_SPEC)
    if providers is not None:
        view["providers"] = providers
    return view


def converge_sandbox(ctx):
    p = ctx.params
    spec = sandbox_spec(ctx)
    desired_policy = load_policy_param(ctx)
    client = ctx.client
    # The CLI's provisioning and lifecycle timeouts of this module's calls are the sandbox's
    # wait_timeout (the connection option ``timeout`` was validated with the others).
    if p.get("wait_timeout"):
        client.timeout = int(p["wait_timeout"])
    name = spec["name"]
    result = {"changed": False, "name": name, "needs_recreate": False, "recreate_reasons": []}
    current = client.sandbox_get(name)

    if p["state"] == "absent":
        if current is not None:
            result["changed"] = True
            if not ctx.check_mode:
                client.sandbox_delete(name)
        result["diff"] = {"before": _sandbox_view(current), "after": {}}
        result["sandbox"] = None
        return result

    labels = compare.sandbox_labels(spec)
    desired_view = {"name": name, "phase": "Stopped" if p["state"] == "stopped" else "Ready",
                    "labels": dict(sorted(labels.items())), "spec": labels[compare.LABEL_SPEC]}
    if spec["providers"] is not None:
        desired_view["providers"] = spec["providers"]
    current_providers = None
    before = {}
    static_problems = []
    settings = None
    if current is not None:
        if desired_policy is not None:
            static_problems = compare.policylib().static_violations(current.get("policy") or {}, desired_policy)
        # Attachments and settings are read only when the sandbox stays (no
        # replacement needed, or one that recreate=never refuses).
        stays = p["recreate"] == "never" or not compare.sandbox_recreate_reasons(current, spec, static_problems)
        if stays and p["recreate"] != "always":
            if spec["providers"] is not None:
                current_providers = client.sandbox_providers(name)
            if spec["approval_mode"]:
                settings = client.settings_get(name)
        before = _sandbox_view(current, spec, current_providers)
    plan = compare.sandbox_actions(current, spec, p["state"], p["recreate"], static_problems, current_providers, settings)
    actions = plan["actions"]
    if "create" in actions or spec["restart_policy"]:
        # Before any change (a replacement deletes first): the running CLI must be one we drive and
        # have the options asked for; its version also shapes the create argv.
        version = client.running_version()
        try:
            openshell_versions.check_covered(version)
            openshell_versions.check_restart_policy(version, spec["restart_policy"])
        except openshell_versions.UnsupportedVersion as exc:
            raise InputError(exc.field or "openshell_version", exc.reason)
    result["recreate_reasons"] = plan["recreate_reasons"]
    result["needs_recreate"] = plan["needs_recreate"]

    result["actions"] = actions
    result["changed"] = bool(actions)
    result["diff"] = {"before": before, "after": desired_view if actions or not current else before}
    if ctx.check_mode or not actions:
        result["sandbox"] = current
        if not actions and current is not None and p["wait"] and current.get("phase") in ("Provisioning", "Starting"):
            result["sandbox"] = _wait_ready(ctx, name)
        return result

    obj = current
    for action in actions:
        if action == "delete":
            client.sandbox_delete(name)
        elif action == "create":
            policy_file = ctx.write_temp_json("policy.json", desired_policy) if desired_policy is not None else None
            create_spec = dict(spec, labels=labels)
            obj = client.sandbox_create(create_spec, policy_file)
        elif action.startswith("attach:"):
            client.sandbox_provider_attach(name, action.split(":", 1)[1])
        elif action.startswith("detach:"):
            client.sandbox_provider_detach(name, action.split(":", 1)[1])
        elif action == "start":
            client.sandbox_start(name)
        elif action == "stop":
            client.sandbox_stop(name)
        elif action == "approval_mode":
            client.settings_set(name, "proposal_approval_mode", spec["approval_mode"])
    obj = client.sandbox_get(name) or obj
    if p["wait"] and obj and obj.get("phase") in ("Provisioning", "Starting"):
        obj = _wait_ready(ctx, name)
    result["sandbox"] = obj
    return result


def _wait_ready(ctx, name):
    obj = _poll(lambda: ctx.client.sandbox_get(name), lambda o: o is None or o.get("phase") in ("Ready", "Error", "Completed"),
                ctx.params.get("wait_timeout") or ctx.client.timeout)
    if obj is None or obj.get("phase") != "Ready":
        raise OpenShellError("sandbox %r did not become Ready within %ss (phase: %s)"
                             % (name, ctx.params.get("wait_timeout"), compare.phase_text(obj) if obj else "deleted"))
    return obj


# --------------------------------------------------------------------------
# openshell_policy
# --------------------------------------------------------------------------

def converge_policy(ctx):
    p = ctx.params
    is_global = p["global"]
    if not is_global and not p.get("sandbox"):
        raise InputError("sandbox", "is required unless global=true")
    if not is_global:
        check_name("sandbox", "sandbox", p["sandbox"])
    desired = load_policy_param(ctx, "policy", "src")
    if desired is None:
        raise InputError("policy", "one of policy or src is required")
    if is_global and p["wait"]:
        raise InputError("wait", "global policies are effective immediately; OpenShell does not support --wait with --global")
    client = ctx.client
    info = client.policy_get(p.get("sandbox"), full=True, global_=is_global)
    if info is None and not is_global:
        raise NotFound("sandbox %r not found" % p["sandbox"], hint="Create it first with agentfleet.nemoclaw.openshell_sandbox")
    result = {"changed": False, "sandbox": p.get("sandbox"), "global": is_global}
    plan = compare.sandbox_policy_plan((info or {}).get("policy"), desired)
    current, merged = compare.policylib().normalize_policy((info or {}).get("policy") or {"version": 1}), plan["merged"]
    if not is_global and plan["static_problems"]:
        raise Precondition("static policy sections differ on live sandbox %r: %s" % (p["sandbox"], "; ".join(plan["static_problems"])),
                           hint="Static sections (filesystem_policy, landlock, process) are fixed at creation: "
                                "recreate the sandbox with agentfleet.nemoclaw.openshell_sandbox (recreate=on_change)")
    changed = current != merged if is_global else plan["changed"]
    # The latest revision may have failed to load: the desired policy is then not in effect (issue 19).
    failure = None
    if not is_global:
        failure = client.policy_load_failure(p["sandbox"], (info or {}).get("version"), (info or {}).get("active_version"))
    if failure:
        result["load_failed"] = failure
        changed = True
    result["changed"] = changed
    result["version"] = (info or {}).get("version")
    result["hash"] = (info or {}).get("hash")
    result["policy_diff"] = plan["policy_diff"]
    to_yaml = compare.policylib().to_yaml_text
    result["diff"] = {"before": to_yaml(current), "after": to_yaml(merged),
                      "before_header": "policy of %s" % (p.get("sandbox") or "<global>"),
                      "after_header": "desired policy"}
    if changed and not ctx.check_mode:
        path = ctx.write_temp_json("policy.json", merged)
        applied = client.policy_set(p.get("sandbox"), path, wait=p["wait"], timeout=p.get("wait_timeout"), global_=is_global)
        if failure and not applied.get("changed", True):
            # The gateway kept the failed revision (same hash): fail with its error, every run, until it loads.
            raise PolicyLoadFailed("policy version %s of sandbox %s failed to load: %s" % (
                failure["version"], p["sandbox"], failure["load_error"]), hint=POLICY_LOAD_HINT)
        result["version"] = applied.get("version")
        result["hash"] = applied.get("hash")
        result["changed"] = applied.get("changed", True)
    return result


# --------------------------------------------------------------------------
# openshell_inference
# --------------------------------------------------------------------------

def _route_view(route):
    if not route:
        return {}
    return {"provider": route.get("provider"), "model": route.get("model"), "timeout": route.get("timeout")}


def converge_inference(ctx):
    p = ctx.params
    if p["state"] == "present":
        for field in ("provider", "model"):
            if not p.get(field):
                raise InputError(field, "is required when state=present")
    if p.get("provider") is not None:
        check_name("provider", "provider", p["provider"])
    if p.get("model") is not None:
        check_value("model", validate.model_problem(p["model"]))
    if p.get("timeout_secs") is not None:
        check_value("timeout_secs", validate.timeout_problem(p["timeout_secs"]))
    client = ctx.client
    routes = client.inference_get()
    route_key = "system" if p["system"] else "user"
    current = routes.get(route_key)
    result = {"changed": False, "route": "sandbox-system" if p["system"] else "inference.local"}
    if p["state"] == "absent":
        if current is not None:
            result["changed"] = True
            if not ctx.check_mode:
                client.inference_delete(system=p["system"])
        result["diff"] = {"before": _route_view(current), "after": {}}
        result["inference"] = None
        return result
    diffs = compare.inference_differences(current, p["provider"], p["model"], p.get("timeout_secs"))
    after = {"provider": p["provider"], "model": p["model"],
             "timeout": p["timeout_secs"] if p.get("timeout_secs") is not None else (current or {}).get("timeout", 0)}
    result["differences"] = diffs
    result["diff"] = {"before": _route_view(current), "after": after if diffs else _route_view(current)}
    if diffs:
        result["changed"] = True
        if not ctx.check_mode:
            client.inference_set(p["provider"], p["model"], system=p["system"], timeout=p.get("timeout_secs"),
                                 verify=p["verify"])
            current = client.inference_get().get(route_key)
        else:
            current = dict(after)
    result["inference"] = current
    return result


# --------------------------------------------------------------------------
# openshell_approval
# --------------------------------------------------------------------------

def _matchers(field, items, approve=True):
    """The matchers of ``field`` after validate.approval_matcher_problems (one rule for module and playbook)."""
    out = []
    for i, item in enumerate(items or []):
        problems = validate.approval_matcher_problems(item, "%s[%d]" % (field, i), approve=approve)
        if problems:
            raise InputError(problems[0][0], problems[0][1])
        out.append(validate.normalise_matcher(item))
    return out


def _ids(field, ids):
    """Chunk ids of ``approve_ids`` / ``reject_ids``: an empty or whitespace id is refused, never 'every chunk'."""
    out = []
    for i, cid in enumerate(ids or []):
        problems = validate.approval_matcher_problems({"id": cid}, "%s[%d]" % (field, i))
        if problems:
            raise InputError("%s[%d]" % (field, i), problems[0][1])
        out.append({"id": cid.strip()})
    return out


def chunk_view(chunk, reason=None):
    keys = ("id", "rule", "binary", "binaries", "endpoints", "security", "confidence", "hits", "first_seen", "last_seen",
            "status", "application", "candidate")
    view = dict((k, chunk.get(k)) for k in keys)
    if reason:
        view["reason"] = reason
    return view


# Failures no other chunk of a batch would escape (the gateway or the CLI itself): the batch stops.
BATCH_FATAL = (GatewayUnreachable, GatewayNotConfigured, CliNotFound, Unavailable)


class ChunksFailed(OpenShellError):
    """Some chunks of an approval batch could not be decided; the others were. Carries the task's result."""

    kind = "chunks_failed"

    def __init__(self, message, result):
        super(ChunksFailed, self).__init__(message)
        self.result = result

    def to_result(self):
        out = dict(self.result)
        out.update(super(ChunksFailed, self).to_result())
        return out


def converge_approval(ctx):
    p = ctx.params
    check_name("sandbox", "sandbox", p["sandbox"])
    approve = _matchers("approve", p.get("approve")) + _ids("approve_ids", p.get("approve_ids"))
    reject = _matchers("reject", p.get("reject"), approve=False) + _ids("reject_ids", p.get("reject_ids"))
    sla = p.get("sla_seconds") or 0
    if sla < 0:
        raise InputError("sla_seconds", "must be 0 (no SLA) or a positive number of seconds, got %s" % sla)
    state_path = p.get("state_file") or default_path("approvals.json")
    client = ctx.client
    pending = [c for c in client.rule_get(p["sandbox"], status="pending")
               if not c.get("status") or c["status"] == "pending"]
    now = int(time.time())
    key = _state_key(ctx, p["sandbox"])

    def reported_epoch(text):
        # OpenShell prints first/last seen (UTC, "YYYY-MM-DD HH:MM:SS") only when hits > 1.
        text = (text or "").strip().replace("T", " ").rstrip("Z").split(".")[0]
        try:
            return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))
        except ValueError:
            return None

    # First-seen times: OpenShell's when it shows one, else when this module
    # first saw the chunk id (host-side state file), else now.
    with StateFile(state_path, readonly=ctx.check_mode) as sf:
        data = sf.read()
        known = dict((data.get("approvals") or {}).get(key) or {})
        seen, timing = {}, {}
        for chunk in pending:
            record = known.get(chunk["id"]) if isinstance(known.get(chunk["id"]), dict) else {}
            recorded = record.get("first_seen") if isinstance(record.get("first_seen"), int) else None
            reported = reported_epoch(chunk.get("first_seen"))
            first = min(t for t in (recorded, reported, now) if t is not None)
            source = "openshell" if reported == first else "state" if recorded == first else "this run"
            seen[chunk["id"]] = {"first_seen": first, "rule": chunk.get("rule") or ""}
            timing[chunk["id"]] = {"first_seen_epoch": first, "age_seconds": max(0, now - first),
                                   "first_seen_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(first)),
                                   "first_seen_source": source}
        expired = sorted(cid for cid, t in timing.items() if sla and t["age_seconds"] >= sla)
        decisions = compare.approval_decisions(pending, approve, reject, p["approve_all"],
                                               p["include_security_flagged"], p["reject_unmatched"], expired=expired)

        def view(chunk, reason=None):
            out = chunk_view(chunk, reason)
            out.update(timing.get(chunk["id"]) or {})
            return out

        result = {"changed": bool(decisions["approve"] or decisions["reject"]), "sandbox": p["sandbox"],
                  "pending": [view(c) for c in pending],
                  "approved": [view(c, r) for c, r in decisions["approve"]],
                  "rejected": [view(c, r) for c, r in decisions["reject"]],
                  "left": [view(c, r) for c, r in decisions["leave"]],
                  "failures": [], "expired": expired, "sla_seconds": sla,
                  "state_file": os.path.expanduser(state_path), "now": now}
        result["diff"] = {"before": {"pending": sorted(c["id"] for c in pending)},
                          "after": {"pending": sorted(c["id"] for c, _r in decisions["leave"]),
                                    "approved": sorted(c["id"] for c, _r in decisions["approve"]),
                                    "rejected": sorted(c["id"] for c, _r in decisions["reject"])}}
        if ctx.check_mode:
            return result

        def save(records):
            # Only ids still pending are kept; unchanged state is not rewritten.
            approvals = dict(data.get("approvals") or {})
            if records:
                approvals[key] = records
            else:
                approvals.pop(key, None)
            if approvals != (data.get("approvals") or {}):
                data["approvals"] = approvals
                sf.write(data)

        # Record every pending id before acting, so a failed call keeps first-seen times.
        save(seen)
        # Every chunk of the batch is tried: one the gateway refuses (its proposal changed or no longer
        # applies, it was decided meanwhile) is reported and the task fails after the others were decided.
        failures = []

        def decide(action, chunk, reason, call):
            try:
                call()
            except BATCH_FATAL:
                raise
            except OpenShellError as exc:
                failure = view(chunk, reason)
                failure.update(action=action, error_kind=exc.kind, message=exc.message, hint=exc.hint, rc=exc.rc)
                failures.append(failure)

        for chunk, reason in decisions["reject"]:
            decide("reject", chunk, reason, lambda c=chunk, r=reason: client.rule_reject(
                p["sandbox"], c["id"], r if r == "older than SLA" else p.get("reason")))
        for chunk, reason in decisions["approve"]:
            decide("approve", chunk, reason, lambda c=chunk: client.rule_approve(p["sandbox"], c["id"]))
        failed = set(f["id"] for f in failures)
        still = [c for c, _r in decisions["leave"]] + [c for c in pending if c["id"] in failed]
        save(dict((c["id"], seen[c["id"]]) for c in still))
    result["failures"] = failures
    if not failures:
        return result
    for field in ("approved", "rejected"):
        result[field] = [v for v in result[field] if v["id"] not in failed]
    result["changed"] = bool(result["approved"] or result["rejected"])
    result["diff"]["after"] = {"pending": sorted(c["id"] for c in still),
                               "approved": sorted(v["id"] for v in result["approved"]),
                               "rejected": sorted(v["id"] for v in result["rejected"])}
    if not ctx.diff_mode:
        result.pop("diff")
    hints = []
    for f in failures:
        if f["hint"] and f["hint"] not in hints:
            hints.append(f["hint"])
    named = "; ".join("%s %s (rule %s): [%s] %s" % (f["action"], f["id"], f["rule"] or "-", f["error_kind"],
                                                    f["message"].rstrip("."))
                      for f in failures)
    done = len(result["approved"]) + len(result["rejected"])
    raise ChunksFailed("%d of %d chunk decision(s) failed (%d approved, %d rejected): %s.%s" % (
        len(failures), len(failures) + done, len(result["approved"]), len(result["rejected"]), named,
        "".join(" %s." % h.rstrip(".") for h in hints)), result)


# --------------------------------------------------------------------------
# openshell_info
# --------------------------------------------------------------------------

INFO_SUBSETS = ("gateway", "sandboxes", "providers", "policies", "inference", "approvals")
# Subsets only read when named (not part of "all"): the drift scan's state snapshot, and the three
# parts of "gateway" (registrations = gateway list, status, version = the CLI's --version) for a
# caller that needs only some of them (every CLI call is a process start on the host).
INFO_EXTRA_SUBSETS = ("sandbox_details", "provider_records", "registrations", "status", "version")
GATEWAY_PARTS = ("registrations", "status", "version")


def gather_info(ctx):
    p = ctx.params
    subsets = set(p.get("gather_subset") or ["all"])
    if "all" in subsets:
        subsets = set(INFO_SUBSETS)
    unknown = subsets - set(INFO_SUBSETS) - set(INFO_EXTRA_SUBSETS)
    if unknown:
        raise InputError("gather_subset", "unknown subsets %s (allowed: all, %s)"
                         % (", ".join(sorted(unknown)), ", ".join(INFO_SUBSETS + INFO_EXTRA_SUBSETS)))
    client = ctx.client
    info = {}
    if "gateway" in subsets:
        subsets |= set(GATEWAY_PARTS)
    if "registrations" in subsets:
        info["gateways"] = client.gateway_list()
    if "status" in subsets:
        info["status"] = client.status()
    if "version" in subsets:
        info["version"] = client.version()
    sandboxes = None
    if subsets & {"sandboxes", "policies", "approvals"}:
        sandboxes = client.sandbox_list()
        if p.get("sandboxes"):
            sandboxes = [s for s in sandboxes if s.get("name") in p["sandboxes"]]
    if "sandboxes" in subsets:
        info["sandboxes"] = sandboxes
    if "providers" in subsets:
        info["providers"] = client.provider_list()
    if "policies" in subsets:
        policies = {}
        for sb in sandboxes:
            got = client.policy_get(sb["name"], full=p["policy_bodies"]) or {}
            if got.get("policy") is not None:
                got["policy"] = compare.policylib().normalize_policy(got["policy"])
            policies[sb["name"]] = got
        info["policies"] = policies
    if "inference" in subsets:
        info["inference"] = client.inference_get()
    if "approvals" in subsets:
        approvals = {}
        for sb in sandboxes:
            if sb.get("phase") != "Ready":
                continue
            approvals[sb["name"]] = [chunk_view(c) for c in client.rule_get(sb["name"], status="pending")]
        info["approvals"] = approvals
    if "sandbox_details" in subsets:
        names = p.get("sandboxes") or [s["name"] for s in (sandboxes if sandboxes is not None else client.sandbox_list())]
        details = {}
        for name in names:
            obj = client.sandbox_get(name)
            details[name] = {"sandbox": obj,
                             "providers": client.sandbox_providers(name) if obj is not None else None}
            # Absent (not null) when not read, so a consumer can tell "not read" from "no sandbox".
            if p.get("sandbox_settings", True):
                details[name]["settings"] = client.settings_get(name) if obj is not None else None
        info["sandbox_details"] = details
    if "provider_records" in subsets:
        info["provider_records"] = _provider_records(p.get("state_file") or default_path("providers.json"))
    return {"changed": False, "openshell": info}


def _provider_records(path):
    """The provider fingerprint records of the host-side state file (salted hashes, never a secret)."""
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        return {"path": path, "exists": False, "salt": None, "providers": {}}
    with StateFile(path, readonly=True) as sf:
        data = sf.read()
    records = {}
    for key, rec in sorted((data.get("providers") or {}).items()):
        rec = rec or {}
        records[key] = {"fingerprints": rec.get("fingerprints") or {}, "resource_version": rec.get("resource_version"),
                        "type": rec.get("type")}
    return {"path": path, "exists": True, "salt": data.get("salt"), "providers": records}


# --------------------------------------------------------------------------
# openshell_exec
# --------------------------------------------------------------------------

def run_exec(ctx):
    p = ctx.params
    check_name("sandbox", "sandbox", p["sandbox"])
    if not p["command"]:
        raise InputError("command", "must be a non-empty list (argv inside the sandbox)")
    if p.get("exec_timeout") is not None and p["exec_timeout"] < 0:
        raise InputError("exec_timeout", "must be 0 (no limit) or a positive number of seconds, got %s" % p["exec_timeout"])
    for key, value in (p.get("env") or {}).items():
        check_value("env", validate.env_key_problem(key))
        check_value("env", validate.text_problem(value), "value of %s " % key)
    result = {"changed": not p["read_only"], "sandbox": p["sandbox"], "cmd": list(p["command"])}
    if ctx.check_mode and not p["read_only"]:
        result.update(exit_code=None, stdout="", stderr="", skipped_in_check_mode=True)
        return result
    rc, out, err = ctx.client.sandbox_exec(p["sandbox"], p["command"], workdir=p.get("workdir"),
                                           timeout=p.get("exec_timeout"), data=p.get("stdin"), env=p.get("env"))
    if rc != 0:
        # The CLI's own failures (sandbox missing or not Ready, gateway down)
        # are errors; anything else is the command's exit status.
        cli_error = classify_exec_failure(rc, err)
        if cli_error is not None:
            raise cli_error
    # `exit_code`, not `rc`: Ansible fails any result whose rc is non-zero,
    # which would defeat allow_failure.
    result.update(exit_code=rc, stdout=out, stderr=err, stdout_lines=out.splitlines(), stderr_lines=err.splitlines())
    if rc != 0 and not p["allow_failure"]:
        result["failed"] = True
        result["msg"] = "command exited %d inside sandbox %r: %s" % (rc, p["sandbox"], (err or out).strip()[-500:])
    return result


def classify_exec_failure(rc, stderr):
    """A typed error when a failed ``sandbox exec`` was the CLI's failure, not the command's."""
    if rc == 1 and error_message(stderr) and ("Error:" in stderr or "code: '" in stderr):
        err = classify(rc, stderr, ["sandbox", "exec"])
        if err.kind != "error" or "is not ready" in stderr:
            return err
    return None
