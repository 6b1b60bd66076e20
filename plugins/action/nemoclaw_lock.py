# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin agentfleet.nemoclaw.nemoclaw_lock (documentation: plugins/modules/nemoclaw_lock.py).

The lease lives on the managed host and the module reads and writes it there. Two things about the
run can only be known on the controller, and this plugin does them so that taking the lock is one
task and, when the lease is free, one module execution:

* **Who this run is** (``owner`` omitted with ``state=acquired``): the controller's host name, the
  pid of ``ansible-playbook`` and that process's start time (``lock.run_identity``).
* **Whether the holder is gone**: when the lease is held by a run of this very controller, whether
  that ``ansible-playbook`` process still exists (``lock.holder_gone``). If it does not, the next
  attempt takes the lease over at once instead of waiting for it to expire.

So ``state=acquired`` first tries without waiting; only when someone holds the lease does it check
the holder on the controller and try again, waiting up to ``timeout`` seconds. Check mode makes one
read-only execution. ``released`` and ``query`` go straight to the module.
"""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import lock


class ActionModule(ActionBase):
    """Name the run, take the lease; check a holder on the controller before waiting for it."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        args = dict(self._task.args)
        state = args.get("state") or "acquired"
        identity = None
        if state == "acquired" and not args.get("owner"):
            identity = lock.run_identity()
            args["owner"] = lock.owner_id(identity["controller"], identity["pid"], identity["started"])
            info = dict(identity, playbook=task_vars.get("ansible_play_name"))
            info.update(args.get("owner_info") or {})
            args["owner_info"] = info
        result.update(self._attempt(args, state, identity, task_vars))
        if state == "acquired":
            result["owner"] = args["owner"]
            result["owner_info"] = args.get("owner_info") or {}
        return result

    def _attempt(self, args, state, identity, task_vars):
        try:
            timeout = int(args.get("timeout", 300))
        except (TypeError, ValueError):
            timeout = None  # the module names the field
        if state != "acquired" or self._task.check_mode or timeout is None or timeout < 0:
            return self._execute_module(module_args=args, task_vars=task_vars)
        first = self._execute_module(module_args=dict(args, timeout=0, fail_when_held=False), task_vars=task_vars)
        if first.get("failed") or first.get("acquired"):
            return first
        holder = first.get("held_by")
        takeover = list(args.get("takeover") or [])
        if isinstance(holder, dict) and holder.get("owner") and holder["owner"] not in takeover:
            if lock.holder_gone(holder, identity or self._identity(args)):
                takeover.append(holder["owner"])
        if timeout == 0 and takeover == list(args.get("takeover") or []):
            # Nothing to wait for and no one new to take over: the first answer stands, unless the task
            # wants a held lease to fail (the module then says who holds it).
            if not boolean(args.get("fail_when_held", True), strict=False):
                return first
        return self._execute_module(module_args=dict(args, takeover=takeover), task_vars=task_vars)

    @staticmethod
    def _identity(args):
        info = args.get("owner_info") or {}
        return {"controller": info.get("controller"), "pid": info.get("pid"), "started": info.get("started")}
