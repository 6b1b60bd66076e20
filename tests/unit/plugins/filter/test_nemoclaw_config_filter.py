# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Filters from_nemoclaw_config and to_nemoclaw_config: through the plugin class, and in a playbook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.filter.nemoclaw_config import FilterModule

ROOT = Path(__file__).resolve().parents[4]
FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "nemoclawconfig"
FILTERS = FilterModule().filters()


def test_filters_registered():
    assert sorted(FILTERS) == ["from_nemoclaw_config", "to_nemoclaw_config"]


def test_from_text_and_from_mapping_agree():
    text = (FIXTURES / "hermes.yaml").read_text(encoding="utf-8")
    agents = FILTERS["from_nemoclaw_config"](text)
    assert agents == [{"name": "helper", "agent": "hermes", "profile": "ncp",
                       "endpoint_url": "https://ncp.partner.example/v1", "tier": "restricted"}]
    assert FILTERS["from_nemoclaw_config"](yaml.safe_load(text)) == agents
    detail = FILTERS["from_nemoclaw_config"](text, True)
    assert detail == {"agents": agents, "secrets": ["NVIDIA_INFERENCE_API_KEY"], "warnings": []}


def test_errors_name_the_document_or_inventory_path():
    with pytest.raises(AnsibleFilterError, match=r"from_nemoclaw_config: spec\.sandboxes\[0\]\.foo: unknown field"):
        FILTERS["from_nemoclaw_config"]((FIXTURES / "invalid" / "unknown-sandbox-field.yaml").read_text(encoding="utf-8"))
    with pytest.raises(AnsibleFilterError, match=r"to_nemoclaw_config: nemoclaw_agents\[x\]\.resources\.memory"):
        FILTERS["to_nemoclaw_config"]([{"name": "x", "agent": "openclaw", "resources": {"memory": "lots"}}])
    with pytest.raises(AnsibleFilterError, match=r"to_nemoclaw_config: nemoclaw_agents\[x\]\.profile: unknown inference profile"):
        FILTERS["to_nemoclaw_config"]([{"name": "x", "agent": "openclaw", "profile": "nope"}])


def test_to_and_back():
    agents = [{"name": "ops", "agent": "openclaw", "resources": {"cpu": "2"}}]
    detail = FILTERS["to_nemoclaw_config"](agents, "ops-host", None, False, True)
    assert detail["document"]["metadata"]["name"] == "ops-host"
    assert [w.split(": ", 1)[0] for w in detail["warnings"]] == ["nemoclaw_agents[ops].resources", "nemoclaw_agents[ops].tier"]
    document = FILTERS["to_nemoclaw_config"](agents, extensions=True)
    assert FILTERS["from_nemoclaw_config"](document) == agents


PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    nemoclaw_agents: [{name: ops, agent: openclaw, resources: {cpu: "2"}}]
  tasks:
    - name: Export and import again
      ansible.builtin.set_fact:
        again: "{{ nemoclaw_agents | agentfleet.nemoclaw.to_nemoclaw_config(extensions=true)
                   | to_nice_yaml | agentfleet.nemoclaw.from_nemoclaw_config }}"
    - name: Round trip
      ansible.builtin.assert:
        that: again == nemoclaw_agents
    - name: Warnings are shown
      ansible.builtin.set_fact:
        doc: "{{ lookup('ansible.builtin.file', fixtures + '/openclaw-full.yaml') | agentfleet.nemoclaw.from_nemoclaw_config }}"
    - name: A refused document fails the task
      ansible.builtin.set_fact:
        bad: "{{ lookup('ansible.builtin.file', fixtures + '/invalid/credential-value.yaml') | agentfleet.nemoclaw.from_nemoclaw_config }}"
"""


def test_in_a_playbook(tmp_path):
    play = tmp_path / "play.yml"
    play.write_text(PLAY, encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_RETRY_FILES_ENABLED="0")
    out = subprocess.run([sys.executable, "-m", "ansible", "playbook", str(play), "-e", "fixtures=%s" % FIXTURES],
                         cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False, timeout=300)
    text = out.stdout
    assert "ok: [localhost] => " in text or "ok: [localhost]" in text, text
    assert "[WARNING]: from_nemoclaw_config: spec.sandboxes[0].network.proxy: not imported" in text, text
    assert "from_nemoclaw_config: spec.inferenceProviders[0].credential.value: a credential holds only env" in text, text
    assert "nvapi-SECRETVALUE" not in text
    assert "ok=3" in text and "failed=1" in text, text
