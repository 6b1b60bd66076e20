# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Run a module's main() in-process and catch its exit_json/fail_json as an exception."""

from __future__ import annotations

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class Exit(Exception):
    """What the module exited with: ``failed`` and the ``result`` it would have printed."""

    def __init__(self, failed, result):
        super(Exit, self).__init__(result.get("msg"))
        self.failed = failed
        self.result = result


def _exit_json(self, **kw):
    raise Exit(False, kw)


def _fail_json(self, msg, **kw):
    kw["msg"] = msg
    raise Exit(True, kw)


def patch_exits(monkeypatch):
    """Make AnsibleModule.exit_json/fail_json raise Exit (call from an autouse fixture)."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)


def run_main(main, params):
    """``main()`` of a module with ``params`` as its arguments; the Exit it ends with."""
    with patch_module_args(params):
        with pytest.raises(Exit) as info:
            main()
    return info.value
