# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.filter.credentials import FilterModule, credential_value


def test_given_value_wins_over_default():
    entry = {"key": "OPENAI_API_KEY", "env": "OPENAI_API_KEY", "source": "default", "default": "dummy"}
    assert credential_value(entry, {"OPENAI_API_KEY": "real"}) == "real"
    assert credential_value(entry, {}) == "dummy"
    assert credential_value(entry, {"OPENAI_API_KEY": ""}) == "dummy"


def test_env_name_differs_from_key():
    entry = {"key": "NVIDIA_API_KEY", "env": "NVIDIA_INFERENCE_API_KEY", "source": "given"}
    assert credential_value(entry, {"NVIDIA_INFERENCE_API_KEY": "v"}) == "v"


def test_missing_value_names_the_variable():
    with pytest.raises(AnsibleFilterError, match="nemoclaw_secrets.NVIDIA_INFERENCE_API_KEY"):
        credential_value({"key": "NVIDIA_API_KEY", "env": "NVIDIA_INFERENCE_API_KEY", "source": "missing"}, {})
    with pytest.raises(AnsibleFilterError, match="expected a planned credential"):
        credential_value("x", {})


def test_registered():
    assert FilterModule().filters()["credential_value"] is credential_value
