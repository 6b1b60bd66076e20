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

import contextlib
import fcntl
import hashlib
import hmac
import functools
import json
import os
import shlex
import tempfile

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible.utils.display import Display

from ansible_collections.agentfleet.nemoclaw.plugins.action.nemoclaw_blueprint import ActionModule as NemoclawBlueprintAction
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare, drift, lock, quickpath, validate
from ansible_collections.agentfleet.nemoclaw.plugins.plugin_utils import hostreader, readback
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import BlueprintError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError, normalize
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.plan import (
    channel_token_uses,
    check_channel_tokens,
    check_rollback_secrets,
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
    host_base=dict(type="raw"),
)

# The host half of a drift scan compared on the controller (plugin_utils/readback.py): its source, sent to the host's Python.
with open(hostreader.__file__) as _fh:
    HOST_READER = _fh.read()

# The collection's root: the roles' tasks (site.yml's quick path reads their options) and templates.
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The openshell role's templates, rendered here for the quick path's comparison of the gateway's files.
OPENSHELL_TEMPLATES = os.path.join(COLLECTION, "roles", "openshell", "templates")


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


@contextlib.contextmanager
def _first_worker(path):
    """Hold the lock file next to the run-memo entry ``path`` while inside: the workers of a batch start
    together, so the first one makes the entry and the others wait for it. Without the lock when the lock
    file cannot be made (each worker then makes the value itself)."""
    guard = None
    try:
        guard = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        fcntl.flock(guard, fcntl.LOCK_EX)
    except (IOError, OSError):
        pass
    try:
        yield
    finally:
        if guard is not None:
            os.close(guard)  # releases the lock


def _store(path, value):
    """Write a run-memo entry as JSON, atomically; an entry that cannot be written is only a lost saving."""
    try:
        fd, part = tempfile.mkstemp(prefix=".memo.", dir=os.path.dirname(path))
        with os.fdopen(fd, "w") as fh:
            json.dump(value, fh)
        os.replace(part, path)
    except (IOError, OSError, TypeError, ValueError):
        pass


def _mark(key, fingerprint):
    """A token's fingerprint as kept in the run's memo: an HMAC with the run's key."""
    return hmac.new(key, fingerprint.encode("ascii"), hashlib.sha256).hexdigest()


class ActionModule(ActionBase):
    """Plan on the controller, apply on the host."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    # What planning loaded and warned about (see _plan).
    _sources = ()
    _notes = ()
    _discovered = None  # an interpreter discovered for the host reader (_interpreter)

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        self._task_vars = task_vars
        host = task_vars.get("inventory_hostname")
        limited = self._quick_path_limited(task_vars)
        if limited:
            return {"changed": False, "host_base_needed": True, "host_base_reasons": [limited]}
        args = self._arguments(task_vars)
        result = {"changed": False}
        for warning in validate.unknown_variables(task_vars, extra=[task_vars.get("approvals_overlay_var")]):
            display.warning(warning)
        try:
            plan = args["plan"]
            if plan is None:
                host_facts = self._host_facts(args, task_vars)
                try:
                    plan = self._plan(args, host_facts)
                except DesiredStateError as exc:
                    if args["host_base"] is not None and host_facts is None and "(host_facts." in to_native(exc):
                        # A resource profile in percent needs the host's size: the preflight role measures it.
                        return {"changed": False, "host_base_needed": True,
                                "host_base_reasons": ["%s: the host's size is measured by the preflight role" % exc.path]}
                    raise
                self._check_fleet_tokens(plan, args["secrets"], host, task_vars)
            notes = []
            if args["rollback"]:
                target = plan
                plan, notes = self._previous(plan, args, task_vars)
                if plan is None:
                    return notes
                args.update(health_required=False, gate=False)
                check_rollback_secrets(target, plan)
            secrets = secrets_for(plan, args["secrets"])
        except DesiredStateError as exc:
            result.update(failed=True, msg=to_native(exc), error_path=exc.path)
            return result
        except KeyError as exc:
            name = to_native(exc.args[0] if exc.args else exc)  # str(KeyError) would quote the name
            result.update(failed=True, msg="nemoclaw_secrets.%s: is not set (the given plan needs it)" % name,
                          error_path="nemoclaw_secrets.%s" % name)
            return result
        module_args = dict((k, args[k]) for k in MODULE_ARGS if args.get(k) is not None)
        module_args.update(plan=plan, secrets=secrets)
        if args["host_base"] is not None:
            module_args["host_base"] = self._host_base(args["host_base"], task_vars)
        res = None
        if self._task.check_mode and args["host_base"] is None and not args["rollback"]:
            res = self._check_on_controller(plan, secrets, module_args, task_vars)
        if res is None:
            res = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        res.pop("invocation", None)
        if res.get("host_base_needed"):
            # Nothing was compared or changed: the roles run, then this task's second run reports.
            return res
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

    def _check_on_controller(self, plan, secrets, module_args, task_vars):
        """A drift scan's result from the host read by ``hostreader.py`` and compared here (``readback.py``), or None:
        the module is to read the host (the reason at -vvv)."""
        try:
            interpreter = self._interpreter(task_vars)
            if not interpreter or any(c.isspace() for c in interpreter) or self._connection._shell.SHELL_FAMILY != "sh":
                raise readback.Fallback("no POSIX shell or Python interpreter to run the host reader with")
            res = readback.check(plan, secrets, module_args, functools.partial(self._read_host, interpreter),
                                 display.warning, diff=self._task.diff)
        except readback.Fallback as exc:
            display.vvv("nemoclaw_apply: %s: the module reads the host" % exc, host=task_vars.get("inventory_hostname"))
            return None
        if self._discovered:
            res["ansible_facts"] = dict(self._discovered)
        # As the module does: no secret value in the result, wherever it might have come from.
        return remove_values(res, set(str(v) for v in secrets.values()))

    def _read_host(self, interpreter, request):
        """The host reader's answer to ``request`` (one process on the host, run as a module would be: the task's
        environment, become)."""
        environment = self._compute_environment_string().strip()
        cmd = " ".join(([environment] if environment else []) + [
            shlex.quote(interpreter), "-I", "-c", shlex.quote(HOST_READER), shlex.quote(json.dumps(request))])
        out = self._low_level_execute_command(cmd, sudoable=True)
        if out.get("rc") != 0:
            raise readback.Fallback("the host reader exited %s: %s" % (out.get("rc"), (out.get("stderr") or "").strip()[-200:]))
        try:
            return json.loads(out.get("stdout") or "")
        except ValueError:
            raise readback.Fallback("the host reader's output is not its answer")

    def _interpreter(self, task_vars):
        """The host's Python, as a module of this task would be run with (discovered when the inventory says so)."""
        if self._task.delegate_to:
            raise readback.Fallback("the task is delegated")
        # pylint: disable=import-outside-toplevel
        from ansible.executor import module_common
        from ansible.executor.interpreter_discovery import InterpreterDiscoveryRequiredError, discover_interpreter
        use_vars = dict(task_vars, ansible_facts=dict(task_vars.get("ansible_facts") or {}))
        for _attempt in (1, 2):
            try:
                return module_common._get_shebang("/usr/bin/python", use_vars, self._templar,  # pylint: disable=protected-access
                                                  remote_is_local=bool(getattr(self._connection, "_remote_is_local", False)))[1]
            except InterpreterDiscoveryRequiredError as idre:
                key = "discovered_interpreter_%s" % idre.interpreter_name
                use_vars["ansible_facts"][key] = discover_interpreter(
                    action=self, interpreter_name=idre.interpreter_name, discovery_mode=idre.discovery_mode, task_vars=use_vars)
                self._discovered = {key: use_vars["ansible_facts"][key]}  # a fact for the host's later tasks, as a module's
            except (AnsibleError, TypeError, AttributeError, KeyError) as exc:
                raise readback.Fallback("the host's Python is not known here (%s)" % exc)
        raise readback.Fallback("the host's Python is not known here")

    def _is_quick_path(self):
        """``host_base: true`` (site.yml's quick path), as against a ``host_base`` dict given in full or none."""
        host_base = self._task.args.get("host_base")
        return host_base is not None and not isinstance(host_base, dict) and boolean(host_base, strict=False)

    def _quick_path_limited(self, task_vars):
        """On the quick path: why this run's tags leave part of site.yml out (``quickpath.tag_limit``), or None."""
        if not self._is_quick_path():
            return None
        return quickpath.tag_limit(task_vars.get("ansible_run_tags"), task_vars.get("ansible_skip_tags"))

    def _arguments(self, task_vars):
        """The task's options, validated; with ``host_base: true`` (site.yml's quick path) those of the roles' tasks
        (``module_utils/quickpath.py``) under the task's own, and ``host_base`` made from them."""
        given = dict(self._task.args)
        host_base = given.pop("host_base", None)
        if not isinstance(host_base, dict):
            host_base = None
            if self._is_quick_path():
                role_args, host_base = self._quick_path(task_vars)
                role_args.update(given)
                given = role_args
        checked = ArgumentSpecValidator(ARGUMENT_SPEC, mutually_exclusive=[("agents", "plan")],
                                        required_one_of=[("agents", "plan")]).validate(given)
        if checked.error_messages:
            raise AnsibleActionFail("Validation of arguments failed:\n%s" % "\n".join(checked.error_messages))
        args = checked.validated_parameters
        args["host_base"] = host_base
        return args

    def _quick_path(self, task_vars):
        """``(the agents task's options, host_base)``: the roles' tasks' options, templated for this host."""
        parts, import_vars = quickpath.role_options(self._role_tasks)
        variables = dict(task_vars)
        variables.update(import_vars)
        templar = self._templar.copy_with_new_env(available_variables=variables)

        def template(value):
            return templar.template(quickpath.presolve(value, variables))
        agents_args, _when = parts.pop("agents")
        out = {}
        for part, (part_args, when) in parts.items():
            out[part] = template(part_args)
            if when is not None:
                out[part]["enabled"] = all(templar.evaluate_conditional(c) for c in quickpath.conditions(when))
        # Trusted like the playbook's own strings: an undefined variable fails here as it would in a task.
        out["openshell"] = template(dict((key, trust_as_template("{{ %s }}" % name)) for key, name in quickpath.OPENSHELL_VARS))
        return template(agents_args), out

    def _role_tasks(self, relative):
        """A task file of the collection, as the playbook loader reads it (its strings trusted as templates).

        The loader's cached data itself (``unsafe``), not a deep copy of it per host: the playbook's own load
        filled the cache before the workers were forked, and ``quickpath.role_options`` only reads it."""
        return self._loader.load_from_file(os.path.join(COLLECTION, relative), trusted_as_template=True, unsafe=True)

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
    # Every host of a fleet usually has the same document: its plan is made once per ansible-playbook run and
    # kept in the run's controller temporary directory (removed when the run ends). Ansible forks a fresh
    # worker per host and task, so an in-process memo would never be hit. The key is everything plan_host reads
    # (the document, an HMAC of the secrets with a key of this run, the host facts, where paths resolve); an
    # entry also names each blueprint and preset file it loaded with their stat fingerprint, and is used only
    # while those are unchanged. Errors are not kept: a bad document is planned (and reported) every time.
    def _plan(self, args, host_facts):
        self._sources, self._notes = [], []
        try:
            base = self._plan_dir()
            path = os.path.join(base, self._plan_key(base, args, host_facts) + ".json")
        except (IOError, OSError, TypeError, ValueError):
            return self._plan_now(args, host_facts)
        with _first_worker(path):
            plan = self._memo(path)
            if plan is None:
                plan = self._plan_now(args, host_facts)
                _store(path, {"sources": self._sources, "warnings": self._notes, "plan": plan})
            return plan

    def _memo(self, path):
        """The memo's plan at ``path`` when its sources are unchanged (its warnings shown again), else None."""
        try:
            with open(path) as fh:
                entry = json.load(fh)
            if all(self._source_print(s["kind"], s["path"]) == s["print"] for s in entry["sources"]):
                for warning in entry["warnings"]:
                    display.warning(warning)
                display.vvv("nemoclaw_apply: the plan of this document from this run's memo (%s)" % path)
                return entry["plan"]
        except (IOError, OSError, TypeError, ValueError, KeyError):
            pass
        return None

    def _plan_now(self, args, host_facts):
        try:
            return plan_host(args["agents"], args["secrets"], self._load_blueprint, host_facts=host_facts)
        finally:
            for warning in self._notes:
                display.warning(warning)

    @staticmethod
    def _plan_dir():
        base = os.path.join(C.DEFAULT_LOCAL_TMP, "agentfleet-nemoclaw-plans")
        if not os.path.isdir(base):
            try:
                os.makedirs(base, 0o700)
            except FileExistsError:
                pass
        return base

    @staticmethod
    def _run_key(base):
        """This run's 32-byte HMAC key (made by the first worker that needs it; the others read it)."""
        keyfile = os.path.join(base, "hmac.key")
        if not os.path.exists(keyfile):
            fd, part = tempfile.mkstemp(prefix=".key.", dir=base)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32))
            try:
                os.link(part, keyfile)  # the first worker's key wins; the others read it
            except FileExistsError:
                pass
            os.unlink(part)
        with open(keyfile, "rb") as fh:
            secret_key = fh.read()
        if len(secret_key) != 32:
            raise ValueError("plan memo key")
        return secret_key

    def _plan_key(self, base, args, host_facts):
        """The entry's name: a digest of what plan_host reads; the secrets only through an HMAC with this run's key."""
        secrets = hmac.new(self._run_key(base), compare.canonical_json(args["secrets"] or {}).encode("utf-8"), hashlib.sha256)
        doc = {"agents": args["agents"], "secrets": secrets.hexdigest(), "host_facts": host_facts,
               "inventory_dir": self._task_vars.get("inventory_dir"),
               "search": [str(p) for p in (self._task.get_search_path() or [])]}
        return hashlib.sha256(compare.canonical_json(doc).encode("utf-8")).hexdigest()

    @staticmethod
    def _source_print(kind, path):
        if kind == "url":
            return path  # downloaded once per run (nemoclaw_blueprint's download cache)
        return NemoclawBlueprintAction._fingerprint(path)  # pylint: disable=protected-access

    def _check_fleet_tokens(self, plan, secrets, host, task_vars):
        """Refuse a channel token that an agent of another host of the play also uses (values compared by
        their fingerprints on the controller, never shown)."""
        own = [a for a in plan.get("agents") or () if a.get("state") != "absent"]
        uses = channel_token_uses(own, secrets, host=host)
        if not uses:
            return
        try:
            base = self._plan_dir()
            key = self._run_key(base)
        except (IOError, OSError, ValueError):
            base, key = None, os.urandom(32)  # no memo: this worker reads the other hosts itself
        uses = [(_mark(key, fp), owner, where) for fp, owner, where in uses]
        for other, other_uses in self._fleet_token_uses(task_vars, base, key).items():
            if other != host:
                uses.extend((fp, tuple(owner), where) for fp, owner, where in other_uses)
        check_channel_tokens(uses, only_host=host)

    def _fleet_token_uses(self, task_vars, base, key):
        """``{host: [(mark, owner, where)]}``: the channel tokens of every host of the play, read once per task.

        Other hosts' ``nemoclaw_agents`` and ``nemoclaw_secrets`` are read from hostvars; a host whose
        document is wrong is left out (its own task reports it). Reading them in every host's worker would
        cost each host the whole fleet, so the first worker of the task keeps the result in the run's
        memo directory: the fingerprints only, as HMACs with the run's key (no token value)."""
        hosts = sorted(task_vars.get("ansible_play_hosts_all") or ())
        if base is None:
            return self._read_token_uses(hosts, task_vars, key)
        name = hashlib.sha256(compare.canonical_json([self._task._uuid, hosts]).encode("utf-8")).hexdigest()  # pylint: disable=protected-access
        path = os.path.join(base, "tokens-%s.json" % name)
        with _first_worker(path):
            try:
                with open(path) as fh:
                    return json.load(fh)
            except (IOError, OSError, ValueError):
                pass
            out = self._read_token_uses(hosts, task_vars, key)
            _store(path, out)
            return out

    def _read_token_uses(self, hosts, task_vars, key):
        out = {}
        hostvars = task_vars.get("hostvars") or {}
        for other in hosts:
            try:
                variables = hostvars[other]
                entries = normalize(self._templar.template(variables.get("nemoclaw_agents")))
                other_secrets = self._templar.template(variables.get("nemoclaw_secrets")) or {}
            except (AnsibleError, DesiredStateError, KeyError, TypeError, ValueError):
                continue
            present = [e for e in entries if e["state"] != "absent"]
            found = channel_token_uses(present, other_secrets if isinstance(other_secrets, dict) else {}, host=other)
            out[other] = [(_mark(key, fp), list(owner), where) for fp, owner, where in found]
        return out

    def _host_base(self, options, task_vars):
        """``host_base`` for the module: the run named as the lock's owner, the gateway's files rendered."""
        out = dict(options)
        lk = dict(out.get("lock") or {})
        if boolean(lk.get("enabled", True), strict=False) and not lk.get("owner"):
            identity = lock.run_identity()
            lk["owner"] = lock.owner_id(identity["controller"], identity["pid"], identity["started"])
            info = dict(identity, playbook=task_vars.get("ansible_play_name"))
            info.update(lk.get("owner_info") or {})
            lk["owner_info"] = info
        out["lock"] = lk
        osh = dict(out.get("openshell") or {})
        if osh.get("problems"):
            # The role fails with them before any change; its files could not be rendered from such values.
            osh.pop("config_dir", None)
            osh.pop("gateway_env", None)
        elif "config_dir" in osh:
            # state_dir stays: the module also looks for the process supervisor's pidfile and TLS bundle there.
            osh.update(self._gateway_files(osh.pop("config_dir"), osh.get("state_dir"), osh.pop("gateway_env", None) or {},
                                           task_vars))
        out["openshell"] = osh
        return out

    def _gateway_files(self, config_dir, state_dir, env, task_vars):
        """The directories and files of the openshell role's tasks/config.yml, its templates rendered as it renders them."""
        lookup = self._shared_loader_obj.lookup_loader.get("ansible.builtin.template", loader=self._loader,
                                                           templar=self._templar)

        def render(name):
            return lookup.run([os.path.join(OPENSHELL_TEMPLATES, name)], variables=task_vars)[0]
        files = [{"path": "%s/gateway.toml" % config_dir, "content": render("gateway.toml.j2")}]
        if env:
            files.append({"path": "%s/gateway.env" % config_dir, "content": render("gateway.env.j2"), "secret": True})
        else:
            files.append({"path": "%s/gateway.env" % config_dir, "state": "absent", "secret": True})
        return {"directories": [{"path": config_dir}, {"path": state_dir}], "files": files}

    def _blueprint_action(self):
        # The task itself, not a copy (a copy duplicates its parent blocks): the helper only reads its search path.
        return self._shared_loader_obj.action_loader.get(
            BLUEPRINT_ACTION, task=self._task, connection=self._connection, play_context=self._play_context,
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
            if "://" in src:
                self._sources.append({"kind": "url", "path": src, "print": src})  # the run's memo, not output
            else:
                where = action._locate(src.strip())  # pylint: disable=protected-access
                self._sources.append({"kind": "path", "path": where, "print": self._source_print("path", where)})
        except (BlueprintError, PolicyError) as exc:
            field = "blueprint_digest" if exc.path == "digest" else "blueprint"
            raise DesiredStateError("%s.%s" % (entry["path"], field), exc.reason)
        for warning in note.get("warnings") or []:
            self._notes.append("%s: %s" % (entry["path"], warning))
        for i, item in enumerate(entry["custom_presets"]):
            if isinstance(item, str):
                found = self._inventory_path(item)
                # Next to the inventory or absolute: never the controller's working directory.
                if not os.path.isabs(found) or not os.path.isfile(found):
                    raise DesiredStateError("%s.custom_presets[%d]" % (entry["path"], i),
                                            "preset file %s not found next to the inventory (%s)"
                                            % (item, self._task_vars.get("inventory_dir")))
                entry["custom_presets"][i] = found
                self._sources.append({"kind": "path", "path": found, "print": self._source_print("path", found)})
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
