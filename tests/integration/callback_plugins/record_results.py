# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Test-only callback: append every task result as one JSON line to $RECORD_RESULTS_FILE."""

from __future__ import annotations

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Record task results as JSON lines (integration tests only)
description:
  - Appends C({"host", "task", "status", "result"}) for every task result to the file named by C(RECORD_RESULTS_FILE).
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

    def _write(self, result, status):
        path = os.environ.get("RECORD_RESULTS_FILE")
        if not path:
            return
        entry = {"host": result._host.get_name(), "task": result._task.get_name(), "status": status,
                 "result": self._strip(result._result)}
        with open(path, "a") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")

    @staticmethod
    def _strip(res):
        return dict((k, v) for k, v in res.items() if k not in ("invocation",))

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._write(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")
