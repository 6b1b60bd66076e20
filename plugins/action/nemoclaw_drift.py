# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin agentfleet.nemoclaw.nemoclaw_drift (documentation: plugins/modules/nemoclaw_drift.py).

Compares one host's desired state with its OpenShell state snapshot, on the
controller. The snapshot is either given (``state``, read before by
``openshell_info``) or read here (``read``: the ``openshell_info`` module runs on
the host, its one execution). With ``blueprint`` the blueprint is planned here
too, by the ``nemoclaw_blueprint`` action with the OpenShell version just read,
and ``sandbox``/``inference`` are templated after it, with the new plan as
``blueprint_plan`` - so ``playbooks/drift.yml`` is one task per host.

The desired values are normalised and validated by the same functions the
modules use (``converge.sandbox_spec``, ``converge.load_policy_param``, the
``credential_value`` filter), and compared by ``module_utils/drift.py``, which
decides with the ``compare``/``policy`` functions of the modules.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.agentfleet.nemoclaw.plugins.filter.credentials import credential_value
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import drift
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import load_policy_param, sandbox_spec

ARGUMENT_SPEC = dict(
    state=dict(type="dict"),
    read=dict(type="dict"),
    blueprint=dict(type="dict"),
    plan=dict(type="dict"),
    plan_providers=dict(type="bool", default=True),
    secrets=dict(type="dict", default={}, no_log=True),
    providers=dict(type="list", elements="dict", default=[]),
    update_credentials=dict(type="str", default="on_change", choices=["on_change", "always", "on_create"]),
    connection=dict(type="dict", default={}),
    gateway=dict(type="dict"),
    sandbox=dict(type="dict"),
    policy=dict(type="bool", default=True),
    inference=dict(type="dict"),
    fail_on_change=dict(type="bool", default=False),
    report=dict(type="bool", default=True),
)

SANDBOX_KEYS = ("name", "image", "providers", "policy", "cpu", "memory", "gpu", "env", "labels", "approval_mode",
                "state", "recreate", "allow_secret_env")
REQUIRED_SUBSETS = ("providers", "provider_records", "sandbox_details", "inference")
# Templated in run(), after the plan exists (they name blueprint_plan, sandbox_plan, sandbox_name, ...).
DEFERRED_ARGS = frozenset(("sandbox", "inference"))
INFO_MODULE = "agentfleet.nemoclaw.openshell_info"
BLUEPRINT_ACTION = "agentfleet.nemoclaw.nemoclaw_blueprint"


def _carry_warnings(done, res):
    """The warnings of a module or action run inside this one become this task's."""
    if res.get("warnings"):
        done["warnings"] = list(done.get("warnings") or []) + list(res["warnings"])


class _Params(object):
    """What ``converge.sandbox_spec``/``load_policy_param`` read: ``ctx.params``."""

    def __init__(self, params):
        self.params = params


class ActionModule(ActionBase):
    """Drift of one host, on the controller."""

    TRANSFERS_FILES = False
    # Only ``read`` and ``blueprint`` (its version probe) use the connection; it is opened lazily.
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        """Leave ``sandbox`` and ``inference`` untemplated: run() templates them, after planning."""
        if name in DEFERRED_ARGS:
            return value
        return super(ActionModule, cls).finalize_task_arg(name, value, templar, context)

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname")
        done = {"changed": False}
        # This action's options are checked before the host is read; sandbox and inference (not yet templated)
        # after planning; the blueprint options by nemoclaw_blueprint, after the read (it needs the version).
        _validation, args = self.validate_argument_spec(
            argument_spec=dict(ARGUMENT_SPEC, **dict((name, dict(type="raw")) for name in DEFERRED_ARGS)),
            mutually_exclusive=[("state", "read"), ("plan", "blueprint")],
            required_one_of=[("state", "read")])
        try:
            state = args["state"]
            if state is None:  # read on the host: the one module execution
                state = self._read(args["read"], task_vars, done)
                if state is None:
                    return done
            plan = args["plan"]
            if args["blueprint"] is not None:  # planned here, with the version just read
                plan = self._plan(args["blueprint"], state, task_vars, done)
                if plan is None:
                    return done
            args.update(state=state, plan=plan or {})
            args.update(self._template_deferred(task_vars, plan if args["blueprint"] is not None else None))
            desired = self.desired(args)
        except InputError as exc:
            done.update(failed=True, msg=str(exc), field=exc.field)
            return done
        except AnsibleFilterError as exc:
            done.update(failed=True, msg=to_native(exc))
            return done
        findings = drift.host_drift(args["state"], desired)
        kinds = drift.resources(findings)
        result = dict(done)
        result.update({
            "changed": bool(findings),
            "drifted": bool(findings),
            "findings": findings,
            "resources": kinds,
            "names": drift.names_by_resource(findings),
        })
        if args["report"]:
            # Marker the drift_report callback looks for.
            result["nemoclaw_drift"] = {"host": host, "findings": findings}
        if findings:
            result["msg"] = "drift on %s: %s" % (host, "; ".join(
                "%s %s: %s" % (f["resource"], f["name"], ", ".join(f["differences"])) for f in findings))
        else:
            result["msg"] = "no drift on %s" % host
        if findings and args["fail_on_change"]:
            result["failed"] = True
        return result

    # ------------------------------------------------------------------ read, plan, template
    def _read(self, read, task_vars, done):
        """Run openshell_info on the host; its ``openshell``, or None with ``done`` failed."""
        res = self._execute_module(module_name=INFO_MODULE, module_args=dict(read), task_vars=task_vars)
        _carry_warnings(done, res)
        if res.get("failed") or "openshell" not in res:
            done.update(failed=True, msg="reading the OpenShell state failed: %s" % (res.get("msg") or "no state returned"),
                        read=dict((k, res[k]) for k in ("error_kind", "rc", "stderr") if k in res))
            return None
        done["openshell_version"] = res["openshell"].get("version")
        return res["openshell"]

    def _plan(self, options, state, task_vars, done):
        """Plan the blueprint with the nemoclaw_blueprint action; the plan, or None with ``done`` failed."""
        options = dict(options)
        if state.get("version"):  # what was just read wins, as nothing else is newer
            options["openshell_version"] = state["version"]
        task = self._task.copy()
        task.args = options
        action = self._shared_loader_obj.action_loader.get(
            BLUEPRINT_ACTION, task=task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        res = action.run(task_vars=task_vars)
        _carry_warnings(done, res)
        if res.get("failed"):
            done.update(failed=True, msg="blueprint: %s" % res.get("msg"), error_path=res.get("error_path"))
            return None
        done["blueprint"] = dict((k, res.get(k)) for k in ("digest", "pinned", "source", "msg"))
        return res["plan"]

    def _template_deferred(self, task_vars, plan):
        """``sandbox`` and ``inference`` templated now, with a new plan as ``blueprint_plan``."""
        templar = self._templar
        if plan is not None:
            templar = templar.copy_with_new_env(available_variables=dict(task_vars, blueprint_plan=plan))
        out = {}
        for name in DEFERRED_ARGS:
            value = templar.template(self._task.args.get(name))
            if value is not None and not isinstance(value, dict):
                raise InputError(name, "expected a mapping, got %s" % type(value).__name__)
            out[name] = value
        return out

    # ------------------------------------------------------------------ desired state
    @staticmethod
    def desired(args):
        state = args["state"]
        missing = [s for s in REQUIRED_SUBSETS if s not in state]
        if missing:
            raise InputError("state", "the snapshot lacks %s; read it with openshell_info gather_subset "
                                      "[registrations, version, providers, provider_records, sandbox_details, inference]"
                                      % ", ".join(missing))
        plan = args["plan"] or {}
        desired = {"connection": dict((k, (args["connection"] or {}).get(k))
                                      for k in ("gateway", "gateway_endpoint", "workspace")),
                   "provenance": plan.get("provenance") or {}}
        gateway = args["gateway"]
        if gateway:
            if "gateways" not in state:
                raise InputError("state", "the snapshot lacks gateways; add the registrations (or gateway) subset")
            for field in ("name", "endpoint"):
                if not gateway.get(field):
                    raise InputError("gateway.%s" % field, "is required")
            desired["gateway"] = {"name": gateway["name"], "endpoint": gateway["endpoint"],
                                  "local": bool(gateway.get("local", False)),
                                  "active": bool(gateway.get("active", True))}
        providers = []
        if args["plan_providers"]:
            for item in plan.get("providers") or []:
                credentials = dict((c["key"], credential_value(c, args["secrets"])) for c in item.get("credentials") or [])
                providers.append({"name": item["name"], "type": item["type"], "credentials": credentials,
                                  "config": item.get("config") or {}, "update_credentials": args["update_credentials"]})
        for i, item in enumerate(args["providers"]):
            for field in ("name", "type"):
                if not item.get(field):
                    raise InputError("providers[%d].%s" % (i, field), "is required")
            providers.append({"name": item["name"], "type": item["type"], "credentials": item.get("credentials") or {},
                              "config": item.get("config") or {},
                              "update_credentials": item.get("update_credentials") or args["update_credentials"],
                              "recreate_on_type_change": bool(item.get("recreate_on_type_change", False))})
        desired["providers"] = providers
        sandbox = args["sandbox"]
        if sandbox:
            unknown = sorted(set(sandbox) - set(SANDBOX_KEYS))
            if unknown:
                raise InputError("sandbox", "unknown keys %s (allowed: %s)" % (", ".join(unknown), ", ".join(SANDBOX_KEYS)))
            params = dict((k, sandbox.get(k)) for k in SANDBOX_KEYS)
            params["state"] = params["state"] or "running"
            params["recreate"] = params["recreate"] or "on_change"
            params["policy_src"] = None
            if not params.get("name"):
                raise InputError("sandbox.name", "is required")
            if params["state"] not in ("running", "stopped", "present", "absent"):
                raise InputError("sandbox.state", "must be running, stopped, present or absent")
            if params["recreate"] not in ("on_change", "always", "never"):
                raise InputError("sandbox.recreate", "must be on_change, always or never")
            ctx = _Params(params)
            try:
                spec = sandbox_spec(ctx)
                policy = load_policy_param(ctx)
            except InputError as exc:
                raise InputError("sandbox.%s" % exc.field, exc.reason)
            if params.get("approval_mode"):
                # Without the settings read, an unset mode would look like drift (and a set one like none).
                unread = [n for n, d in (state.get("sandbox_details") or {}).items()
                          if n == spec["name"] and (d or {}).get("sandbox") is not None and "settings" not in d]
                if unread:
                    raise InputError("state", "the snapshot lacks the settings of sandbox %r, needed to compare "
                                              "sandbox.approval_mode; read it with sandbox_settings=true" % unread[0])
            desired["sandbox"] = {"spec": spec, "state": params["state"], "recreate": params["recreate"], "policy": policy}
            if args["policy"] and policy is not None and params["state"] != "absent":
                desired["policy"] = {"sandbox": spec["name"], "policy": policy}
        inference = args["inference"]
        if inference:
            for field in ("provider", "model"):
                if not inference.get(field):
                    raise InputError("inference.%s" % field, "is required")
            timeout = inference.get("timeout_secs")
            desired["inference"] = {"provider": inference["provider"], "model": inference["model"],
                                    "timeout_secs": int(timeout) if timeout not in (None, "") else None}
        return desired
