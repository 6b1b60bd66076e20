# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""statefile.Working: one converge at a time on a host, even when a killed run's module is still working."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import BusyError, Working

HOLDER = """
import sys, time
sys.path[:0] = [sys.argv[2]]
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import Working
with Working(sys.argv[1], timeout=5):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(path):
    """A process holding the guard, as a module left running by a killed ansible-playbook would."""
    collections = [p for p in sys.path if p.endswith(".collections")] or sys.path[:1]
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path, collections[0]], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_converge_waits_for_the_first_and_names_it(tmp_path):
    path = str(tmp_path / "state" / "apply.busy")
    proc = _holder(path)
    try:
        started = time.monotonic()
        with pytest.raises(BusyError) as caught:
            with Working(path, timeout=0.6, poll=0.1):
                pass
        assert caught.value.holder == proc.pid and caught.value.waited >= 0.6
        assert time.monotonic() - started < 5
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Its process gone, the guard is free: the next converge goes on at once.
    with Working(path, timeout=0.5) as guard:
        assert guard.waited == 0.0 and guard.holder() == os.getpid()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600" and oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"


def test_a_waiting_converge_goes_on_when_the_other_ends(tmp_path):
    path = str(tmp_path / "apply.busy")
    proc = _holder(path)
    ticks = []

    def sleep(seconds):
        ticks.append(seconds)
        if len(ticks) == 2:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        time.sleep(seconds)
    with Working(path, timeout=30, poll=0.05, sleep=sleep) as guard:
        assert guard.waited > 0 and len(ticks) >= 2


class _Module(object):
    check_mode = False

    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    @staticmethod
    def fail_json(**kwargs):
        raise SystemExit(kwargs)


def test_the_module_fails_clearly_when_it_cannot_take_the_guard(tmp_path):
    from ansible_collections.agentfleet.nemoclaw.plugins.modules import nemoclaw_apply  # pylint: disable=import-outside-toplevel
    blocked = tmp_path / "file"
    blocked.write_text("")  # a state_dir that is a file: no apply.busy can be made in it
    with pytest.raises(SystemExit) as caught:
        with nemoclaw_apply.working(_Module(), str(blocked), 1):
            raise AssertionError("the body must not run")
    failure = caught.value.args[0]
    assert failure["field"] == "state_dir" and failure["changed"] is False and "Nothing was changed" in failure["msg"]
    # An error of the converge itself is not taken for one of the guard.
    with pytest.raises(OSError, match="from the body"):
        with nemoclaw_apply.working(_Module(), str(tmp_path / "state"), 1):
            raise OSError("from the body")
    module = _Module()
    module.check_mode = True
    with nemoclaw_apply.working(module, str(blocked), 1):
        pass  # check mode only reads: no guard, so nothing to fail


def test_a_link_in_place_of_the_guard_is_never_followed(tmp_path):
    victim = tmp_path / "victim.conf"
    victim.write_text("keep me\n")
    busy = tmp_path / "state" / "apply.busy"
    busy.parent.mkdir()
    busy.symlink_to(victim)
    with pytest.raises(OSError):
        with Working(str(busy), timeout=0):
            pass
    assert victim.read_text() == "keep me\n"
