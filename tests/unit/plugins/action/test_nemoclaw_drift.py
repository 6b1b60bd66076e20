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
