# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nemoclaw_apply's action plugin, controller side: the fleet-wide channel token check and its run memo."""

from __future__ import annotations

import os

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.action import nemoclaw_apply as plugin
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError, normalize

TOKEN = "123456:AAE-telegram-bot-token-value"


class _Task(object):
    _uuid = "task-uuid-1"


class _Templar(object):
    """Counts what the plugin templates (other hosts' documents); values are returned as they are."""

    def __init__(self):
        self.seen = 0

    def template(self, value):
        self.seen += 1
        return value


def _doc(name, secret="TG"):
    return [{"name": name, "agent": "openclaw", "channels": [{"type": "telegram", "credential": secret}]}]


@pytest.fixture
def action(monkeypatch, tmp_path):
    monkeypatch.setattr(plugin.C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    act = object.__new__(plugin.ActionModule)
    act._task = _Task()  # pylint: disable=protected-access
    act._templar = _Templar()  # pylint: disable=protected-access
    return act


def _vars(hostvars):
    return {"hostvars": hostvars, "ansible_play_hosts_all": sorted(hostvars)}


def _check(action, host, hostvars):
    own = hostvars[host]
    plan = {"agents": normalize(own["nemoclaw_agents"])}
    action._check_fleet_tokens(plan, own["nemoclaw_secrets"], host, _vars(hostvars))  # pylint: disable=protected-access


def test_a_token_of_another_host_is_refused_naming_both(action):
    hostvars = {"dgx-1": {"nemoclaw_agents": _doc("alpha"), "nemoclaw_secrets": {"TG": TOKEN}},
                "dgx-2": {"nemoclaw_agents": _doc("beta", "OTHER"), "nemoclaw_secrets": {"OTHER": TOKEN}}}
    with pytest.raises(DesiredStateError) as err:
        _check(action, "dgx-2", hostvars)
    assert err.value.path == "nemoclaw_agents[beta].channels[0].credential"
    assert "host dgx-1 nemoclaw_agents[alpha].channels[0].credential" in str(err.value)
    assert TOKEN not in str(err.value)


def test_the_play_is_read_once_per_task_and_the_memo_holds_no_token(action, tmp_path):
    hostvars = dict(("dgx-%d" % i, {"nemoclaw_agents": _doc("bot%d" % i, "TG%d" % i),
                                    "nemoclaw_secrets": {"TG%d" % i: "%s-%d" % (TOKEN, i)}}) for i in range(1, 6))
    _check(action, "dgx-1", hostvars)
    assert action._templar.seen == 10  # pylint: disable=protected-access  # 5 hosts x (agents, secrets)
    for host in sorted(hostvars)[1:]:
        _check(action, host, hostvars)
    assert action._templar.seen == 10  # pylint: disable=protected-access  # the others read the memo
    found = []
    for root, _dirs, files in os.walk(str(tmp_path)):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                data = fh.read()
            found.append(name)
            assert TOKEN.encode() not in data, name
    assert any(name.startswith("tokens-") and name.endswith(".json") for name in found), found


def test_another_task_reads_the_play_again(action):
    hostvars = {"dgx-1": {"nemoclaw_agents": _doc("alpha"), "nemoclaw_secrets": {"TG": TOKEN}},
                "dgx-2": {"nemoclaw_agents": _doc("beta", "B"), "nemoclaw_secrets": {"B": TOKEN + "-b"}}}
    _check(action, "dgx-1", hostvars)
    # A later task of the run (another uuid) sees a document changed in between.
    action._task = type("_Later", (), {"_uuid": "task-uuid-2"})()  # pylint: disable=protected-access
    hostvars["dgx-2"]["nemoclaw_secrets"] = {"B": TOKEN}
    with pytest.raises(DesiredStateError):
        _check(action, "dgx-1", hostvars)


def test_without_channels_nothing_is_read(action):
    hostvars = {"dgx-1": {"nemoclaw_agents": [{"name": "plain", "agent": "openclaw"}], "nemoclaw_secrets": {}},
                "dgx-2": {"nemoclaw_agents": _doc("beta"), "nemoclaw_secrets": {"TG": TOKEN}}}
    _check(action, "dgx-1", hostvars)
    assert action._templar.seen == 0  # pylint: disable=protected-access


class _Shell(object):
    SHELL_FAMILY = "sh"


class _Connection(object):
    _shell = _Shell()


def _reading(action, interpreter="/usr/bin/python3", delegate_to=None):
    action._task.delegate_to = delegate_to  # pylint: disable=protected-access
    action._task.diff = True  # pylint: disable=protected-access
    action._connection = _Connection()  # pylint: disable=protected-access
    action._interpreter = lambda task_vars: interpreter  # pylint: disable=protected-access
    return action


@pytest.mark.parametrize("interpreter", [None, "/usr/bin/env python3"])
def test_without_a_plain_interpreter_the_module_reads_the_host(action, monkeypatch, interpreter):
    def never(*args, **kwargs):
        raise AssertionError("the host reader was run")
    monkeypatch.setattr(plugin.readback, "check", never)
    assert _reading(action, interpreter)._check_on_controller({}, {}, {}, {}) is None  # pylint: disable=protected-access


def test_a_fallback_of_the_read_back_leaves_the_host_to_the_module(action, monkeypatch):
    def fallback(*args, **kwargs):
        raise plugin.readback.Fallback("an unfinished replacement is recorded on the host")
    monkeypatch.setattr(plugin.readback, "check", fallback)
    assert _reading(action)._check_on_controller({}, {}, {}, {}) is None  # pylint: disable=protected-access


def test_the_read_back_result_carries_no_secret_value(action, monkeypatch):
    monkeypatch.setattr(plugin.readback, "check", lambda *a, **k: {"changed": True, "msg": "value %s leaked" % TOKEN})
    res = _reading(action)._check_on_controller({}, {"TG": TOKEN}, {}, {})  # pylint: disable=protected-access
    assert TOKEN not in repr(res) and res["changed"] is True


def test_a_delegated_scan_is_left_to_the_module(action):
    action._task.delegate_to = "elsewhere"  # pylint: disable=protected-access
    with pytest.raises(plugin.readback.Fallback, match="delegated"):
        action._interpreter({})  # pylint: disable=protected-access


def test_the_host_reader_command_quotes_every_value(action, tmp_path):
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    ran = []

    def execute(cmd, sudoable=False):
        ran.append(cmd)
        proc = subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
        return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
    action._low_level_execute_command = execute  # pylint: disable=protected-access
    action._compute_environment_string = lambda: "X='1'"  # pylint: disable=protected-access
    hostile = str(tmp_path / "it's $(touch pwned) `touch pwned2`")
    answer = action._read_host(sys.executable, {  # pylint: disable=protected-access
        "state_dir": hostile, "gateway": "gw", "calls": [{"argv": ["/bin/echo", "a'b", "$(touch pwned3)"], "env": {}}]})
    assert answer["calls"][0]["out"] == "a'b $(touch pwned3)\n"
    assert not list(tmp_path.glob("pwned*")) and not os.path.exists("pwned")
    assert ran[0].startswith("X='1' ")
