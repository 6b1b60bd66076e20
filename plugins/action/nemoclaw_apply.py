# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin agentfleet.nemoclaw.nemoclaw_apply (documentation: plugins/modules/nemoclaw_apply.py).

Plans the host's desired state on the controller (``module_utils/plan.py``: the document is
validated as a whole, blueprints resolved and verified, secrets checked) and then runs the
``nemoclaw_apply`` module on the host with the plan: one module execution per host, for a
converge (site.yml) as for a drift check (check mode, playbooks/drift.yml).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import drift, validate
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import BlueprintError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError, normalize
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.plan import (
    channel_token_uses,
    check_channel_tokens,
    plan_host,
    secrets_for,
)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import PolicyError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.rollout import blueprints_of

display = Display()

MODULE = "agentfleet.nemoclaw.nemoclaw_apply"
BLUEPRINT_ACTION = "agentfleet.nemoclaw.nemoclaw_blueprint"
# Options this action uses itself; every other option goes to the module as it is.
MODULE_ARGS = ("update_credentials", "state_dir", "wait_timeout", "policy_wait_timeout", "health_timeout", "gate", "health_required",
               "gateway", "gateway_endpoint", "workspace", "openshell_path", "timeout", "retries")

ARGUMENT_SPEC = dict(
    agents=dict(type="raw"),
    plan=dict(type="dict"),
    secrets=dict(type="dict", default={}, no_log=True),
    host_facts=dict(type="dict"),
    fail_on_change=dict(type="bool", default=False),
    report=dict(type="bool", default=True),
    gate=dict(type="bool", default=False),
    health_required=dict(type="bool", default=True),
    rollback=dict(type="bool", default=False),
    update_credentials=dict(type="str", default="on_change", choices=["on_change", "always", "on_create"]),
    state_dir=dict(type="str", default="~/.local/state/agentfleet-nemoclaw"),
    wait_timeout=dict(type="int", default=300),
    policy_wait_timeout=dict(type="int", default=60),
    health_timeout=dict(type="int", default=60),
    gateway=dict(type="str"),
    gateway_endpoint=dict(type="str"),
    workspace=dict(type="str"),
    openshell_path=dict(type="str", default="openshell"),
    timeout=dict(type="int", default=300),
    retries=dict(type="int", default=3),
)


def findings_of(result):
    """The apply's changes as drift findings (``module_utils/drift.py``), for the drift_report callback."""
    out = []

    def changes(differences):
        return ["%s: %s -> %s" % (d["field"], drift._show(d["before"]), drift._show(d["after"])) for d in differences]

    for name, prov in sorted((result.get("providers") or {}).items()):
        if prov.get("changed"):
            out.append(drift.finding("provider", name, prov.get("reasons") or [prov.get("action")], action=prov.get("action")))
    route = result.get("inference") or {}
    if route.get("changed"):
        out.append(drift.finding("inference", "inference.local", changes(route.get("differences") or [])))
    for entry in result.get("resumed") or []:
        out.append(drift.finding("sandbox", entry["agent"], ["unfinished replacement (%s)" % entry["step"]],
                                 action=entry.get("action")))
    for name, agent in sorted((result.get("agents") or {}).items()):
        if agent.get("changed"):
            out.append(drift.finding("sandbox", name, changes(agent.get("differences") or []),
                                     action="replace" if agent.get("replace") else ", ".join(agent.get("actions") or [])))
    return out


class ActionModule(ActionBase):
    """Plan on the controller, apply on the host."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        self._task_vars = task_vars
        host = task_vars.get("inventory_hostname")
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC,
                                                        mutually_exclusive=[("agents", "plan")],
                                                        required_one_of=[("agents", "plan")])
        result = {"changed": False}
        for warning in validate.unknown_variables(task_vars, extra=[task_vars.get("approvals_overlay_var")]):
            display.warning(warning)
        try:
            plan = args["plan"]
            if plan is None:
                plan = plan_host(args["agents"], args["secrets"], self._load_blueprint,
                                 host_facts=self._host_facts(args, task_vars))
                self._check_fleet_tokens(plan, args["secrets"], host, task_vars)
            notes = []
            if args["rollback"]:
                plan, notes = self._previous(plan, args, task_vars)
                if plan is None:
                    return notes
                args.update(health_required=False, gate=False)
            secrets = secrets_for(plan, args["secrets"])
        except DesiredStateError as exc:
            result.update(failed=True, msg=to_native(exc), error_path=exc.path)
            return result
        except KeyError as exc:
            result.update(failed=True, msg="nemoclaw_secrets.%s: is not set (the given plan needs it)" % to_native(exc),
                          error_path="nemoclaw_secrets.%s" % to_native(exc))
            return result
        module_args = dict((k, args[k]) for k in MODULE_ARGS if args.get(k) is not None)
        module_args.update(plan=plan, secrets=secrets)
        res = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        res.pop("invocation", None)
        res["plan_digest"] = plan.get("plan_digest")
        if args["rollback"]:
            res["rollback_notes"] = notes
            res["rolled_back_to"] = blueprints_of(plan.get("agents"))
        findings = findings_of(res) if not res.get("failed") else []
        if args["report"] and self._task.check_mode:
            res["nemoclaw_drift"] = {"host": host, "findings": findings}
        if findings and args["fail_on_change"] and self._task.check_mode:
            res["failed"] = True
            res["msg"] = "drift on %s: %s" % (host, "; ".join(
                "%s %s: %s" % (f["resource"], f["name"], ", ".join(f["differences"])) for f in findings))
        return res

    def _previous(self, target, args, task_vars):
        """The host's plan before ``target`` (read on the host, no OpenShell call); ``(None, failed result)`` if none."""
        read_args = dict((k, args[k]) for k in MODULE_ARGS if args.get(k) is not None and k != "gate")
        read_args.update(plan=target, read_previous=True)
        res = self._execute_module(module_name=MODULE, module_args=read_args, task_vars=task_vars)
        if res.get("failed"):
            return None, res
        previous = res.get("rollback_plan") or {}
        if not previous.get("agents"):
            return None, {"failed": True, "msg": "no earlier applied plan is recorded on this host (%s): nothing to roll "
                                                 "back to" % "; ".join(res.get("notes") or ["no applied record"])}
        return previous, res.get("notes") or []

    # ------------------------------------------------------------------ controller side
    def _check_fleet_tokens(self, plan, secrets, host, task_vars):
        """Refuse a channel token that an agent of another host of the play also uses (values compared
        by their sha256 on the controller, never shown). Other hosts' ``nemoclaw_agents`` and
        ``nemoclaw_secrets`` are read from hostvars; a host whose document is wrong is skipped (its own
        task reports it)."""
        own = [a for a in plan.get("agents") or () if a.get("state") != "absent"]
        uses = channel_token_uses(own, secrets, host=host)
        if not uses:
            return
        hostvars = task_vars.get("hostvars") or {}
        for other in task_vars.get("ansible_play_hosts_all") or ():
            if other == host:
                continue
            try:
                variables = hostvars[other]
                entries = normalize(self._templar.template(variables.get("nemoclaw_agents")))
                other_secrets = self._templar.template(variables.get("nemoclaw_secrets")) or {}
            except (AnsibleError, DesiredStateError, KeyError, TypeError, ValueError):
                continue
            present = [e for e in entries if e["state"] != "absent"]
            uses.extend(channel_token_uses(present, other_secrets if isinstance(other_secrets, dict) else {}, host=other))
        check_channel_tokens(uses, only_host=host)

    def _blueprint_action(self):
        return self._shared_loader_obj.action_loader.get(
            BLUEPRINT_ACTION, task=self._task.copy(), connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)

    def _inventory_path(self, path):
        """A relative path is the inventory's: looked up next to the inventory first."""
        path = os.path.expanduser(path)
        if os.path.isabs(path) or "://" in path:
            return path
        base = self._task_vars.get("inventory_dir")
        if base:
            cand = os.path.join(base, path)
            if os.path.exists(cand):
                return os.path.normpath(cand)
        return path

    def _load_blueprint(self, entry):
        """Resolve and verify the entry's blueprint (nemoclaw_blueprint's loader and checks)."""
        action = self._blueprint_action()
        src = self._inventory_path(entry["blueprint"] or entry["agent"])
        bargs = {"src": src, "digest": entry["blueprint_digest"], "allow_unpinned_artifact": entry["allow_unpinned_blueprint"],
                 "allow_unpinned_image": False, "validate_certs": True, "timeout": 30}
        note = {}
        try:
            bp, shipped = action._load(bargs)  # pylint: disable=protected-access
            action._verify(bp, bargs, shipped, note)  # pylint: disable=protected-access
        except (BlueprintError, PolicyError) as exc:
            field = "blueprint_digest" if exc.path == "digest" else "blueprint"
            raise DesiredStateError("%s.%s" % (entry["path"], field), exc.reason)
        for warning in note.get("warnings") or []:
            display.warning("%s: %s" % (entry["path"], warning))
        for i, item in enumerate(entry["custom_presets"]):
            if isinstance(item, str):
                found = self._inventory_path(item)
                if not os.path.isfile(found):
                    raise DesiredStateError("%s.custom_presets[%d]" % (entry["path"], i),
                                            "preset file %s not found next to the inventory (%s)"
                                            % (item, self._task_vars.get("inventory_dir")))
                entry["custom_presets"][i] = found
        return bp

    @staticmethod
    def _host_facts(args, task_vars):
        if args["host_facts"]:
            return args["host_facts"]
        size = task_vars.get("preflight_host_size")
        if isinstance(size, dict) and size.get("cpus"):
            return {"cpus": float(size["cpus"]), "memory_mb": int(size["memory_mb"]) if size.get("memory_mb") else None}
        facts = task_vars.get("ansible_facts") or {}
        if facts.get("processor_vcpus"):
            return {"cpus": facts["processor_vcpus"], "memory_mb": facts.get("memtotal_mb")}
        return None
