# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Run module ``main()`` in-process against a simulated OpenShell host.

The module runs for real (AnsibleModule, run_command, the simulator's
``openshell`` executable); only the process boundary of Ansible's executor is
skipped, so coverage of ``plugins/module_utils`` is measured here.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "simulator"))

from harness import SimHost  # noqa: E402  pylint: disable=wrong-import-position


class ModuleRunner(object):
    def __init__(self, sim, capsys):
        self.sim = sim
        self.capsys = capsys

    def __call__(self, module, args, check=False, diff=True):
        args = dict(args)
        args["_ansible_check_mode"] = check
        args["_ansible_diff"] = diff
        args["_ansible_remote_tmp"] = os.path.join(self.sim.root, "tmp")
        args["_ansible_keep_remote_files"] = False
        before = len(self.sim.calls())
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        out = self.capsys.readouterr().out
        result = json.loads(out.strip().splitlines()[-1])
        result["_sim_calls"] = self.sim.calls()[before:]
        return result


@pytest.fixture
def sim(tmp_path, monkeypatch):
    host = SimHost(tmp_path / "host").start()
    host.register()
    for key, value in host.env.items():
        if key.startswith(("XDG_", "OPENSHELL_")) or key in ("HOME", "PATH"):
            monkeypatch.setenv(key, value)
    yield host
    host.stop()
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from playrunner import invalid_calls  # pylint: disable=import-outside-toplevel
    assert not invalid_calls(host.env["OPENSHELL_SIM_CALL_LOG"]), "a module emitted a command line the real CLI rejects"


@pytest.fixture
def run_module(sim, capsys):
    return ModuleRunner(sim, capsys)
