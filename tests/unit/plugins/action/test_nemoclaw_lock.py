# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nemoclaw_lock's action plugin: which module executions it makes, with which arguments (no Ansible run)."""

from __future__ import annotations

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.action import nemoclaw_lock as plugin
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import lock

ME = {"controller": "ctl1", "pid": 900, "started": "Sat Nov 22 00:17:03 2026"}
HOLDER = {"owner": "ctl1:4242:Fri Nov 21 10:00:00 2026", "controller": "ctl1", "pid": 4242,
          "started": "Fri Nov 21 10:00:00 2026"}


class _Task(object):
    def __init__(self, args, check_mode=False):
        self.args = args
        self.check_mode = check_mode


def _action(monkeypatch, args, answers, check_mode=False, gone=False):
    """The plugin with a fake module: ``answers`` are returned in turn; returns (plugin, calls)."""
    action = object.__new__(plugin.ActionModule)
    action._task = _Task(args, check_mode)  # pylint: disable=protected-access
    calls = []

    def execute(module_args=None, task_vars=None):
        calls.append(dict(module_args))
        return dict(answers[min(len(calls), len(answers)) - 1])

    action._execute_module = execute  # pylint: disable=protected-access
    monkeypatch.setattr(lock, "run_identity", lambda: dict(ME))
    monkeypatch.setattr(lock, "holder_gone", lambda holder, identity: gone and identity == ME)
    return action, calls


@pytest.fixture(autouse=True)
def _no_base_run(monkeypatch):
    # ActionBase.run only checks the task's keywords; the plugin's own part is what is tested here.
    monkeypatch.setattr(plugin.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})


def test_a_free_lease_costs_one_execution_and_the_run_is_named(monkeypatch):
    action, calls = _action(monkeypatch, {"owner_info": {"playbook": "site"}, "timeout": 300},
                            [{"acquired": True, "changed": True}])
    result = action.run(task_vars={"ansible_play_name": "Roll out"})
    assert len(calls) == 1 and calls[0]["timeout"] == 0 and calls[0]["fail_when_held"] is False
    owner = "ctl1:900:Sat Nov 22 00:17:03 2026"
    assert calls[0]["owner"] == owner and result["owner"] == owner and result["acquired"] is True
    # owner_info: the controller's identity, the play name, and what the task gave last.
    assert calls[0]["owner_info"] == dict(ME, playbook="site") == result["owner_info"]


def test_a_holder_gone_from_this_controller_is_taken_over_at_once(monkeypatch):
    action, calls = _action(monkeypatch, {"timeout": 300, "takeover": []},
                            [{"acquired": False, "held_by": HOLDER}, {"acquired": True, "previous": HOLDER}],
                            gone=True)
    result = action.run(task_vars={})
    assert len(calls) == 2 and calls[1]["takeover"] == [HOLDER["owner"]] and calls[1]["timeout"] == 300
    assert "fail_when_held" not in calls[1]  # the module's default: a lease still held fails, naming the holder
    assert result["acquired"] is True


def test_a_live_holder_is_waited_for_without_takeover(monkeypatch):
    action, calls = _action(monkeypatch, {"timeout": 30, "takeover": ["x:1:y"]},
                            [{"acquired": False, "held_by": HOLDER}, {"failed": True, "msg": "held by"}])
    result = action.run(task_vars={})
    assert [c["timeout"] for c in calls] == [0, 30] and calls[1]["takeover"] == ["x:1:y"]
    assert result["failed"] is True


def test_no_wait_asked_and_nothing_to_take_over(monkeypatch):
    # timeout 0 and fail_when_held false: the first answer stands (one execution).
    action, calls = _action(monkeypatch, {"timeout": 0, "fail_when_held": False},
                            [{"acquired": False, "held_by": HOLDER}])
    assert action.run(task_vars={})["acquired"] is False and len(calls) == 1
    # timeout 0, failing when held (the default): a second execution lets the module fail with its message.
    action, calls = _action(monkeypatch, {"timeout": 0},
                            [{"acquired": False, "held_by": HOLDER}, {"failed": True, "msg": "held by run"}])
    assert action.run(task_vars={})["failed"] is True and len(calls) == 2


@pytest.mark.parametrize("args", [{"state": "released", "owner": "ctl1:900:s"}, {"state": "query"},
                                  {"timeout": "soon"}])
def test_release_query_and_bad_timeout_go_straight_to_the_module(monkeypatch, args):
    action, calls = _action(monkeypatch, dict(args), [{"changed": False}])
    action.run(task_vars={})
    assert len(calls) == 1 and calls[0].get("timeout") == args.get("timeout")


def test_check_mode_reads_once(monkeypatch):
    action, calls = _action(monkeypatch, {"timeout": 300}, [{"acquired": False, "held_by": HOLDER}],
                            check_mode=True, gone=True)
    action.run(task_vars={})
    assert len(calls) == 1 and calls[0]["timeout"] == 300 and calls[0]["owner"].startswith("ctl1:900:")
