# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Benchmark-only callback: per-task timing (what profile_tasks would show) as one JSON file.

Enabled by benchmarks/bench_fleet.py with ANSIBLE_CALLBACK_PLUGINS=benchmarks/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=bench_timer; writes $BENCH_TIMER_FILE at the end of the run.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Per-task timing of a playbook run as JSON (benchmarks only)
description:
  - For every task, the time from its start to the last host's result (the play's wall time spent on it),
    the summed and the largest per-host durations, and how many hosts were ok, changed, skipped or failed.
  - Writes the timings as JSON (keys C(wall) and C(tasks)) to the file named by C(BENCH_TIMER_FILE) at the end of the run.
requirements:
  - BENCH_TIMER_FILE in the environment
"""

import json
import os
import resource
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._start = time.time()
        self._tasks = {}
        self._order = []
        self._host_start = {}
        self._cpu_task = None
        self._cpu_mark = self._cpu()

    @staticmethod
    def _cpu():
        """(CPU s of this run so far, of which the main ansible-playbook process's own)."""
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        main = own.ru_utime + own.ru_stime
        return main + children.ru_utime + children.ru_stime, main

    def _cpu_switch(self, uid):
        now = self._cpu()
        if self._cpu_task is not None:
            self._tasks[self._cpu_task]["cpu"] += now[0] - self._cpu_mark[0]
            self._tasks[self._cpu_task]["main_cpu"] += now[1] - self._cpu_mark[1]
        self._cpu_task, self._cpu_mark = uid, now

    def _entry(self, task):
        uid = task._uuid
        entry = self._tasks.get(uid)
        if entry is None:
            role = task._role.get_name() if getattr(task, "_role", None) else ""
            entry = {"task": task.get_name(), "action": task.action, "role": role, "first_start": None,
                     "last_end": None, "host_seconds": 0.0, "max_host_seconds": 0.0, "hosts": 0,
                     "ok": 0, "changed": 0, "skipped": 0, "failed": 0, "cpu": 0.0, "main_cpu": 0.0}
            self._tasks[uid] = entry
            self._order.append(uid)
        return entry

    def v2_playbook_on_task_start(self, task, is_conditional):
        entry = self._entry(task)
        self._cpu_switch(task._uuid)
        if entry["first_start"] is None:
            entry["first_start"] = time.time()

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def v2_runner_on_start(self, host, task):
        self._host_start[(host.get_name(), task._uuid)] = time.time()

    def _done(self, result, status):
        now = time.time()
        entry = self._entry(result._task)
        started = self._host_start.pop((result._host.get_name(), result._task._uuid), None)
        if started is not None:
            spent = now - started
            entry["host_seconds"] += spent
            entry["max_host_seconds"] = max(entry["max_host_seconds"], spent)
        entry["hosts"] += 1
        entry[status] += 1
        if status == "ok" and result._result.get("changed"):
            entry["changed"] += 1
        entry["last_end"] = now

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "failed")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_TIMER_FILE")
        if not path:
            return
        self._cpu_switch(None)
        tasks = []
        for uid in self._order:
            entry = dict(self._tasks[uid])
            first, last = entry.pop("first_start"), entry.pop("last_end")
            entry["wall"] = round((last - first), 3) if first and last else 0.0
            entry["start"] = round(first - self._start, 3) if first else None
            entry["host_seconds"] = round(entry["host_seconds"], 3)
            entry["max_host_seconds"] = round(entry["max_host_seconds"], 3)
            entry["cpu"] = round(entry["cpu"], 3)
            entry["main_cpu"] = round(entry["main_cpu"], 3)
            tasks.append(entry)
        with open(path, "w") as fh:
            json.dump({"wall": round(time.time() - self._start, 3), "main_cpu": round(self._cpu()[1], 3),
                       "tasks": tasks}, fh, indent=1)
