# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin agentfleet.nemoclaw.nvidia_gpu_facts (documentation: plugins/modules/nvidia_gpu_facts.py).

Judges GPU facts already gathered in this play (option ``gathered``: the ``gpu`` result of
``nemoclaw_preflight``) on the controller, with the same check functions the module uses
(``module_utils/gpu.py``), so the host is not visited twice. When nothing was gathered, or it was
gathered with another ``nvidia_smi_path``, ``root`` or ``cdi_spec_dirs``, the module runs as usual.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError


class ActionModule(ActionBase):
    """Judge gathered GPU facts on the controller, or run the module."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if not self._task.args.get("gathered"):
            return self._gather_on_host(result, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=gpu.ARGUMENT_SPEC)
        del validation
        if not gpu.same_inputs(args["gathered"], args):
            return self._gather_on_host(result, task_vars)
        try:
            gpu.check_options(args)
        except InputError as exc:
            result.update(failed=True, msg=str(exc), error_kind="invalid_input", field=exc.field)
            return result
        facts = args["gathered"]["facts"]
        result.update(changed=False, ansible_facts={"nvidia_gpu": facts}, report=gpu.judge(facts, args),
                      commands=args["gathered"].get("commands") or [], gathered_by="nemoclaw_preflight")
        # As the module would: warning checks are the task's warnings, failing ones fail it (fail_on_error).
        warnings, failure = gpu.verdict(result["report"], args)
        if warnings:
            result["warnings"] = list(result.get("warnings") or []) + warnings
        if failure:
            result.update(failed=True, msg=failure)
        return result

    def _gather_on_host(self, result, task_vars):
        """The module's own run: it gathers the facts (``gathered`` is the action plugin's option only)."""
        module_args = dict((k, v) for k, v in self._task.args.items() if k != "gathered")
        result.update(self._execute_module(module_args=module_args, task_vars=task_vars))
        return result
