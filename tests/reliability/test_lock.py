# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The host lock: plugins/module_utils/lock.py (pure logic) and the nemoclaw_lock module on a simulated host."""

from __future__ import annotations

import json
import os
import sys

import pytest

from playrunner import ROOT, Play
from reltools import close_fleet, make_fleet

sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.lock import HostLock, read_lease  # noqa: E402


class Clock(object):
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def _lock(tmp_path, clock, alive=None, hostname="ctl"):
    alive = {} if alive is None else alive
    return HostLock(str(tmp_path / "state" / "site.lock"), now=clock, sleep=clock.sleep, hostname=hostname,
                    proc_start=lambda pid: alive.get(int(pid)))


INFO_A = {"controller": "ctl", "pid": 11, "started": "Sat Nov 22 00:00:01 2026", "playbook": "site.yml"}
INFO_B = {"controller": "ctl", "pid": 22, "started": "Sat Nov 22 00:00:02 2026", "playbook": "site.yml"}
A, B = "ctl:11:a", "ctl:22:b"


def test_acquire_is_exclusive_and_private(tmp_path):
    clock = Clock()
    lock = _lock(tmp_path, clock, alive={11: INFO_A["started"], 22: INFO_B["started"]})
    got = lock.acquire(A, info=INFO_A, ttl=60, timeout=0)
    assert got["acquired"] and got["reason"] == "free"
    assert oct(os.stat(lock.path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(lock.path)).st_mode & 0o777) == "0o700"
    other = lock.acquire(B, info=INFO_B, ttl=60, timeout=5)
    assert not other["acquired"] and other["held_by"]["owner"] == A
    assert other["waited"] >= 5  # waited the whole timeout (fake clock)
    again = lock.acquire(A, info=INFO_A, ttl=60, timeout=0)  # re-entrant: the owner renews
    assert again["acquired"] and again["previous"] is None
    assert lock.release(B)["released"] is False and read_lease(lock.path)["owner"] == A
    assert lock.release(A)["released"] is True and read_lease(lock.path) is None


def test_expired_lease_is_taken_over(tmp_path):
    clock = Clock()
    lock = _lock(tmp_path, clock, alive={11: INFO_A["started"], 22: INFO_B["started"]})
    lock.acquire(A, info=INFO_A, ttl=30, timeout=0)
    clock.t += 31
    got = lock.acquire(B, info=INFO_B, ttl=30, timeout=0)
    assert got["acquired"] and got["previous"]["owner"] == A and "expired" in got["reason"]


def test_holder_gone_on_this_machine_is_taken_over(tmp_path):
    clock = Clock()
    alive = {11: INFO_A["started"], 22: INFO_B["started"]}
    lock = _lock(tmp_path, clock, alive=alive)
    lock.acquire(A, info=INFO_A, ttl=3600, timeout=0)
    alive[11] = "Sun Nov 23 09:00:00 2026"  # pid reused by another process
    got = lock.acquire(B, info=INFO_B, ttl=3600, timeout=0)
    assert got["acquired"] and "is gone" in got["reason"]
    del alive[22]  # B killed
    got = lock.acquire(A, info=INFO_A, ttl=3600, timeout=0)
    assert got["acquired"] and got["previous"]["owner"] == B


def test_holder_on_another_controller_needs_ttl_or_takeover(tmp_path):
    clock = Clock()
    lock = _lock(tmp_path, clock, alive={}, hostname="managed-host")
    lock.acquire(A, info=INFO_A, ttl=3600, timeout=0)
    assert not lock.acquire(B, info=INFO_B, timeout=0)["acquired"]  # cannot see ctl's processes
    got = lock.acquire(B, info=INFO_B, timeout=0, takeover=[A])  # the controller proved A gone
    assert got["acquired"] and "checked on the controller" in got["reason"]


def test_corrupt_lease_is_replaced_and_check_mode_writes_nothing(tmp_path):
    clock = Clock()
    lock = _lock(tmp_path, clock, alive={11: INFO_A["started"]})
    check = lock.acquire(A, info=INFO_A, check_mode=True)
    assert check["would_acquire"] and not check["acquired"] and not os.path.exists(os.path.dirname(lock.path))
    os.makedirs(os.path.dirname(lock.path))
    with open(lock.path, "w") as fh:
        fh.write("{half a lea")
    assert lock.status()["state"] == "corrupt"
    got = lock.acquire(A, info=INFO_A, timeout=0)
    assert got["acquired"] and got["reason"] == "unreadable lease replaced"
    before = open(lock.path).read()
    check = lock.acquire(B, info=INFO_B, check_mode=True)
    assert check["held_by"]["owner"] == A and open(lock.path).read() == before


@pytest.fixture
def fleet(tmp_path):
    f = make_fleet(tmp_path, 1)
    try:
        yield f
    finally:
        close_fleet(f)


def test_module_waits_fails_naming_the_holder_and_check_mode_reports(fleet):
    sim = fleet.first
    path = os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "site.lock")
    other = {"controller": "elsewhere", "pid": 4242, "started": "Sat Nov 22 00:00:01 2026", "playbook": "site.yml"}
    mod = "agentfleet.nemoclaw.nemoclaw_lock"
    tasks = [
        {"name": "A takes it", mod: {"owner": "elsewhere:4242:x", "owner_info": other, "ttl": 600}},
        {"name": "B waits 1 s", mod: {"owner": "me:1:y", "timeout": 1}, "ignore_errors": True},
        {"name": "B queries", mod: {"state": "query"}},
        {"name": "B cannot release it", mod: {"state": "released", "owner": "me:1:y"}},
        {"name": "B with takeover", mod: {"owner": "me:1:y", "timeout": 0, "takeover": ["elsewhere:4242:x"]}},
    ]
    # --check never takes the lock; it reports the holder (C).
    step, check = fleet.steps(tasks, Play([{"name": "C in check mode", mod: {"owner": "c:3:z"}}], check=True))
    assert step.status("B waits 1 s") == "failed"
    msg = step.result("B waits 1 s")["msg"]
    assert "held by run elsewhere:4242:x" in msg and "pid 4242" in msg and "nemoclaw_lock_break" in msg, msg
    assert step.result("B queries")["status"] == "held"
    assert step.result("B cannot release it")["released"] is False
    assert step.result("B with takeover")["previous"]["owner"] == "elsewhere:4242:x"
    with open(path) as fh:
        assert json.load(fh)["owner"] == "me:1:y"
    result = check.result("C in check mode")
    assert result["acquired"] is False and result["held_by"]["owner"] == "me:1:y"
    assert any("held by" in w for w in result.get("warnings", []))
    with open(path) as fh:
        assert json.load(fh)["owner"] == "me:1:y"
    assert check.calls == []
