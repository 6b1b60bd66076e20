# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nemoclaw_drift's check of the snapshot it is given (ActionModule.desired, no Ansible run needed)."""

from __future__ import annotations

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.action.nemoclaw_drift import ActionModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError


def args(**changes):
    out = {"state": {"providers": [], "provider_records": {"exists": False, "providers": {}}, "inference": {},
                     "sandbox_details": {"openclaw": {"sandbox": {"name": "openclaw", "phase": "Ready", "labels": {}},
                                                      "providers": []}}},
           "plan": {}, "plan_providers": False, "secrets": {}, "providers": [], "update_credentials": "on_change",
           "connection": {}, "gateway": None, "inference": None, "policy": False,
           "sandbox": {"name": "openclaw", "image": "img@sha256:" + "1" * 64, "providers": []}}
    out.update(changes)
    return out


def test_snapshot_without_a_required_subset_names_it():
    a = args()
    del a["state"]["inference"]
    with pytest.raises(InputError) as exc:
        ActionModule.desired(a)
    assert exc.value.field == "state" and "lacks inference" in str(exc.value)


def test_policies_subset_is_not_required():
    assert "policies" not in args()["state"]
    assert ActionModule.desired(args())["sandbox"]["spec"]["name"] == "openclaw"


def test_approval_mode_needs_the_settings_read():
    a = args()
    a["sandbox"]["approval_mode"] = "auto"
    with pytest.raises(InputError) as exc:
        ActionModule.desired(a)
    assert exc.value.field == "state" and "sandbox_settings=true" in str(exc.value)
    a["state"]["sandbox_details"]["openclaw"]["settings"] = {"settings": {}}
    assert ActionModule.desired(a)["sandbox"]["spec"]["approval_mode"] == "auto"


def test_gateway_compared_without_registrations_is_refused():
    a = args(gateway={"name": "openshell", "endpoint": "http://127.0.0.1:17670"})
    with pytest.raises(InputError) as exc:
        ActionModule.desired(a)
    assert "registrations" in str(exc.value)


class _Reader(ActionModule):
    """Only what ``_read`` uses: ``_execute_module`` answers with a canned module result."""

    def __init__(self, answer):  # pylint: disable=super-init-not-called
        self.answer = answer
        self.calls = []

    def _execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append((module_name, module_args))
        return self.answer


def test_read_runs_openshell_info_with_the_read_options():
    reader = _Reader({"changed": False, "openshell": {"version": "0.0.110", "providers": []}, "warnings": ["w"]})
    done = {}
    state = reader._read({"gather_subset": ["version"]}, {}, done)
    assert reader.calls == [("agentfleet.nemoclaw.openshell_info", {"gather_subset": ["version"]})]
    assert state == {"version": "0.0.110", "providers": []}
    assert done == {"openshell_version": "0.0.110", "warnings": ["w"]}


def test_a_failed_read_fails_with_the_modules_message():
    reader = _Reader({"failed": True, "msg": "gateway openshell is not reachable", "error_kind": "unavailable",
                      "rc": 1, "stderr": "Unavailable", "cmd": ["openshell", "status"]})
    done = {}
    assert reader._read({}, {}, done) is None
    assert done["failed"] is True
    assert done["msg"] == "reading the OpenShell state failed: gateway openshell is not reachable"
    assert done["read"] == {"error_kind": "unavailable", "rc": 1, "stderr": "Unavailable"}
