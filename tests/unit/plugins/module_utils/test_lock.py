# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The host lock's controller side (lock.py): naming the run, judging a holder; and the lease decisions."""

from __future__ import annotations

import os

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import lock

PLAYBOOK = "/venv/bin/python3 /venv/bin/ansible-playbook -i inv site.yml"

# pid: (ppid, command line). 900 is ansible-playbook, 950 and 951 its forked workers (same command line),
# 1000 a shell a lookup spawned from worker 950; 800 the shell that started ansible-playbook.
PROCS = {1: (0, "init"), 800: (1, "-bash"), 900: (800, PLAYBOOK), 950: (900, PLAYBOOK), 951: (900, PLAYBOOK),
         1000: (950, "/bin/sh -c ps")}


def test_a_worker_is_followed_up_to_ansible_playbook_itself():
    assert lock.playbook_process(950, proc_info=PROCS.get) == 900
    assert lock.playbook_process(1000, proc_info=PROCS.get) == 900
    assert lock.playbook_process(900, proc_info=PROCS.get) == 900


def test_without_ansible_playbook_above_the_parent_is_taken():
    procs = {1: (0, "init"), 10: (1, "python3 runner.py"), 20: (10, "python3 runner.py worker")}
    assert lock.playbook_process(20, proc_info=procs.get) == 10


def test_run_identity_names_controller_pid_and_start():
    ident = lock.run_identity(pid=951, hostname="ctl1", proc_info=PROCS.get,
                              proc_start=lambda pid: "Sat Nov 22 00:17:03 2026" if pid == 900 else None)
    assert ident == {"controller": "ctl1", "pid": 900, "started": "Sat Nov 22 00:17:03 2026"}
    assert lock.owner_id(**ident) == "ctl1:900:Sat Nov 22 00:17:03 2026"


def test_run_identity_of_this_test_process_is_a_live_process():
    ident = lock.run_identity()
    assert ident["pid"] > 1 and ident["started"]
    assert lock.process_start(ident["pid"]) == ident["started"]


def test_holder_of_this_controller_without_its_process_is_gone():
    me = {"controller": "ctl1", "pid": 900, "started": "Sat Nov 22 00:17:03 2026"}
    holder = {"owner": "ctl1:4242:Fri Nov 21 10:00:00 2026", "controller": "ctl1", "pid": 4242,
              "started": "Fri Nov 21 10:00:00 2026"}
    assert lock.holder_gone(holder, me, proc_start=lambda pid: None) is True
    # the pid was reused by another process: a different start time
    assert lock.holder_gone(holder, me, proc_start=lambda pid: "Sat Nov 22 01:00:00 2026") is True
    # still running
    assert lock.holder_gone(holder, me, proc_start=lambda pid: "Fri Nov 21 10:00:00 2026") is False
    # ps could not be run: nothing is proved
    assert lock.holder_gone(holder, me, proc_start=lambda pid: "") is False
    # a lease without the holder's start time: only a missing process proves it gone
    older = dict(holder, started="")
    assert lock.holder_gone(older, me, proc_start=lambda pid: "Sat Nov 22 01:00:00 2026") is False
    assert lock.holder_gone(older, me, proc_start=lambda pid: None) is True


def test_the_module_side_judges_a_holder_as_the_controller_side_does(tmp_path):
    """HostLock.free_reason (in the module) and holder_gone (in the action plugin) give one verdict."""
    holder = {"owner": "ctl1:4242:Fri", "controller": "ctl1", "pid": 4242, "started": "Fri",
              "expires_at": 4102444800}
    for start, gone in ((None, True), ("Sat", True), ("Fri", False), ("", False)):
        hl = lock.HostLock(str(tmp_path / "lease.json"), hostname="ctl1", proc_start=lambda pid, s=start: s)
        reason = hl.free_reason(holder, owner="ctl1:1:x")
        assert (reason is not None) is gone, (start, reason)
        assert lock.holder_gone(holder, {"controller": "ctl1"}, proc_start=lambda pid, s=start: s) is gone


def test_holder_of_another_controller_is_never_judged_here():
    me = {"controller": "ctl1", "pid": 900, "started": "x"}
    holder = {"owner": "ctl2:4242:y", "controller": "ctl2", "pid": 4242, "started": "y"}
    assert lock.holder_gone(holder, me, proc_start=lambda pid: None) is False
    assert lock.holder_gone({"owner": "ctl1:0:y", "controller": "ctl1", "pid": 0}, me,
                            proc_start=lambda pid: None) is False
    assert lock.holder_gone(None, me) is False


def test_lease_is_taken_released_and_left_alone_when_not_ours(tmp_path):
    path = os.path.join(str(tmp_path), "state", "site.lock")
    clock = [1000.0]
    host = lock.HostLock(path, now=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                         hostname="host1", proc_start=lambda pid: "running")
    got = host.acquire("a", info={"controller": "ctl1", "pid": 1, "started": "s"}, ttl=60, timeout=0)
    assert got["acquired"] and got["changed"] and os.path.exists(path)
    held = host.acquire("b", ttl=60, timeout=5)
    assert held["acquired"] is False and held["held_by"]["owner"] == "a" and held["waited"] >= 5
    assert host.release("b") == {"released": False, "changed": False, "lease": held["held_by"],
                                 "held_by": held["held_by"]}
    clock[0] += 61  # expired
    taken = host.acquire("b", ttl=60, timeout=0)
    assert taken["acquired"] and taken["previous"]["owner"] == "a" and "expired" in taken["reason"]
    assert host.release("b")["released"] is True and not os.path.exists(path)


def test_check_mode_writes_nothing(tmp_path):
    path = os.path.join(str(tmp_path), "state", "site.lock")
    got = lock.HostLock(path).acquire("a", timeout=0, check_mode=True)
    assert got["acquired"] is False and got["would_acquire"] is True
    assert not os.path.exists(os.path.dirname(path))
