# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Test-only callback: append every task result as one JSON line to $RECORD_RESULTS_FILE.

A playbook of several steps (``playrunner.Fleet.steps``: one play per step) has each result name its
play, and each play's start recorded with how many lines every host's ``openshell`` call log had then
(``$RECORD_CALL_LOGS``: ``{"host": "path"}``), so the calls of each step are told apart."""

from __future__ import annotations

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Record task results as JSON lines (integration tests only)
description:
  - Appends C({"play", "host", "task", "status", "ignored", "result"}) for every task result to the file named by
    C(RECORD_RESULTS_FILE).
  - With C(RECORD_CALL_LOGS) set, appends C({"play_start", "calls"}) at each play's start, the line count of each call
    log it names.
requirements:
  - RECORD_RESULTS_FILE in the environment
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True
    _play = None

    @staticmethod
    def _append(entry):
        path = os.environ.get("RECORD_RESULTS_FILE")
        if path:
            with open(path, "a") as fh:
                fh.write(json.dumps(entry, default=str) + "\n")

    def _write(self, result, status, ignored=False):
        self._append({"play": self._play, "host": result._host.get_name(), "task": result._task.get_name(),
                      "status": status, "ignored": ignored, "result": self._strip(result._result)})

    def v2_playbook_on_play_start(self, play):
        # Plays run one after another: every call of the plays before this one is in the logs by now.
        self._play = play.get_name()
        logs = os.environ.get("RECORD_CALL_LOGS")
        if not logs:
            return
        counts = {}
        for host, path in json.loads(logs).items():
            try:
                with open(path, "rb") as fh:
                    counts[host] = sum(1 for line in fh if line.strip())
            except FileNotFoundError:
                counts[host] = 0
        self._append({"play_start": self._play, "calls": counts})

    @staticmethod
    def _strip(res):
        return dict((k, v) for k, v in res.items() if k not in ("invocation",))

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed", ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._write(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")
