# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Converge functions with a scripted CLI: races and answers the simulator cannot stage on demand."""

from __future__ import annotations

import json

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare, converge
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import Context
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import AlreadyExists, OpenShellClient

NOT_FOUND = (1, "", "Error:   \u00d7 code: 'Some requested entity was not found', message: \"sandbox not found\"\n")
EXISTS = (1, "", "Error:   \u00d7 code: 'Some entity that we attempted to create already exists', "
                 "message: \"sandbox 'sb1' already exists\"\n\nhint: delete it first with: openshell sandbox delete sb1\n")


class FakeModule(object):
    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)


def make(params, *answers, **kw):
    answers = list(answers)
    seen = []

    def runner(argv, env, data):
        seen.append(argv)
        return answers.pop(0)
    module = FakeModule(params, **kw)
    ctx = Context(module, OpenShellClient(runner, sleep=lambda s: None))
    return ctx, seen


SANDBOX = {"name": "sb1", "image": None, "providers": None, "policy": None, "policy_src": None, "gpu": False,
           "cpu": None, "memory": None, "labels": {}, "env": {}, "allow_secret_env": False, "approval_mode": None,
           "state": "running", "recreate": "on_change", "wait": True, "wait_timeout": 5}


def test_sandbox_created_behind_our_back_between_read_and_create():
    ctx, seen = make(SANDBOX, NOT_FOUND, EXISTS)
    with pytest.raises(AlreadyExists) as exc:
        converge.converge_sandbox(ctx)
    assert "already exists" in str(exc.value)
    assert [a[1:3] for a in seen] == [["sandbox", "get"], ["sandbox", "create"]]


def test_sandbox_found_provisioning_is_waited_for():
    spec = converge.sandbox_spec(make(SANDBOX)[0])
    labels = compare.sandbox_labels(spec)
    prov = (0, json.dumps({"name": "sb1", "phase": "Provisioning", "labels": labels}), "")
    ready = (0, json.dumps({"name": "sb1", "phase": "Ready", "labels": labels}), "")
    ctx, seen = make(dict(SANDBOX, state="present"), prov, prov, ready)
    result = converge.converge_sandbox(ctx)
    assert result["changed"] is False and result["sandbox"]["phase"] == "Ready"
    assert len(seen) == 3


def test_provider_check_mode_writes_no_state_file(tmp_path):
    params = {"name": "nv", "type": "nvidia", "credentials": {"NVIDIA_API_KEY": "v"}, "config": None,
              "update_credentials": "on_change", "recreate_on_type_change": False,
              "state_file": str(tmp_path / "state" / "providers.json"), "state": "present"}
    ctx, seen = make(params, (0, "[]", ""), check_mode=True)
    result = converge.converge_provider(ctx)
    assert result["changed"] and result["action"] == "create"
    assert len(seen) == 1 and not (tmp_path / "state").exists()
