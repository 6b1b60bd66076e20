# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Unknown nemoclaw_* inventory variables (a typo such as nemoclaw_agent) are warned about, with the closest name."""

from __future__ import annotations

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.action import nemoclaw_apply as plugin
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import validate as v


@pytest.mark.parametrize("typo, meant", [
    ("nemoclaw_agent", "nemoclaw_agents"),
    ("nemoclaw_agnets", "nemoclaw_agents"),
    ("nemoclaw_secret", "nemoclaw_secrets"),
    ("nemoclaw_envirnment", "nemoclaw_environment"),
    ("nemoclaw_lock_timout", "nemoclaw_lock_timeout"),
])
def test_a_typo_is_named_with_the_closest_known_variable(typo, meant):
    assert v.unknown_variables([typo, "nemoclaw_agents"]) == [
        "%s: agentfleet.nemoclaw reads no variable of that name, it is ignored (did you mean %s?)" % (typo, meant)]


def test_known_and_other_variables_are_not_warned_about():
    names = list(v.NEMOCLAW_VARIABLES) + ["inventory_hostname", "ansible_connection", "agents_gate", "NEMOCLAW_AGENTS", 3]
    assert v.unknown_variables(names) == []


def test_a_name_close_to_none_gets_no_suggestion_and_the_list_is_sorted():
    warnings = v.unknown_variables(["nemoclaw_zzz", "nemoclaw_blueprint_presest", "nemoclaw_zzz"])
    assert warnings == ["nemoclaw_blueprint_presest: agentfleet.nemoclaw reads no variable of that name, it is ignored",
                        "nemoclaw_zzz: agentfleet.nemoclaw reads no variable of that name, it is ignored"]


def test_a_renamed_approvals_overlay_variable_is_known():
    assert v.unknown_variables(["nemoclaw_overlay"], extra=["nemoclaw_overlay", None]) == []
    assert v.unknown_variables(["nemoclaw_overlay"]) != []


class _Task(object):
    args = {}
    check_mode = False


def test_the_apply_action_warns_before_planning(monkeypatch):
    warnings = []
    monkeypatch.setattr(plugin.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(plugin.display, "warning", warnings.append)
    action = object.__new__(plugin.ActionModule)
    action._task = _Task()  # pylint: disable=protected-access
    action._task.args = {"plan": {"agents": {}, "plan_digest": "d"}}  # pylint: disable=protected-access
    action._execute_module = lambda **kwargs: {"changed": False}  # pylint: disable=protected-access
    task_vars = {"inventory_hostname": "dgx-01", "nemoclaw_agent": [], "nemoclaw_secrets": {},
                 "approvals_overlay_var": "nemoclaw_overlay", "nemoclaw_overlay": {}}
    result = action.run(task_vars=task_vars)
    assert not result.get("failed")
    assert warnings == ["nemoclaw_agent: agentfleet.nemoclaw reads no variable of that name, it is ignored "
                        "(did you mean nemoclaw_agents?)"]
