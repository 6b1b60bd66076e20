# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The shipped inventories: pins match the artifacts they pin, and the example fleet's variables
load where Ansible loads them (group_vars/<group>/ files, the vault file included) and plan."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as bplib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import plan as planlib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import artifact_digest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EXAMPLE = os.path.join(ROOT, "inventories", "example")
ANSIBLE_INVENTORY = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
DGX = "dgx-01.example.internal"


def load_yaml(*parts):
    with open(os.path.join(ROOT, *parts)) as fh:
        return yaml.safe_load(fh)


def shipped_pin(agent):
    return artifact_digest(os.path.join(ROOT, "blueprints", agent))


def test_local_demo_pins_the_shipped_blueprint():
    gv = load_yaml("inventories", "local", "group_vars", "nemoclaw.yml")
    agents = gv["nemoclaw_agents"]
    assert [(a["name"], a["agent"], a["tier"]) for a in agents] == [("openclaw", "openclaw", "balanced")]
    assert agents[0]["blueprint_digest"] == shipped_pin("openclaw"), \
        "blueprints/openclaw changed: re-pin it with tools/blueprint-digest blueprints/openclaw"


def example_group_agents():
    """(file, nemoclaw_agents) of every group variable file of the example that sets it."""
    out = []
    for dirpath, _dirs, files in os.walk(os.path.join(EXAMPLE, "group_vars")):
        for name in sorted(files):
            if name.endswith(".yml"):
                doc = load_yaml(os.path.join(dirpath, name)) or {}
                if "nemoclaw_agents" in doc:
                    out.append((os.path.relpath(os.path.join(dirpath, name), EXAMPLE), doc["nemoclaw_agents"]))
    return out


def test_example_pins_the_shipped_blueprints():
    found = example_group_agents()
    assert len(found) == 4, found
    for path, agents in found:
        for entry in agents:
            assert entry["blueprint_digest"] == shipped_pin(entry["agent"]), \
                "%s: %s: re-pin with tools/blueprint-digest blueprints/%s" % (path, entry["name"], entry["agent"])


@pytest.fixture(scope="module")
def example_vars(tmp_path_factory):
    """``ansible-inventory --list`` of a copy of the example with its vault example as vault.yml (unencrypted)."""
    assert os.path.exists(ANSIBLE_INVENTORY), "ansible-inventory is not installed next to %s (make setup)" % sys.executable
    inv = str(tmp_path_factory.mktemp("inv") / "example")
    shutil.copytree(EXAMPLE, inv)
    shutil.copy(os.path.join(inv, "group_vars", "nemoclaw", "vault.yml.example"),
                os.path.join(inv, "group_vars", "nemoclaw", "vault.yml"))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([ANSIBLE_INVENTORY, "-i", inv, "--list"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["_meta"]["hostvars"]


def test_example_loads_the_vault_and_the_agents_for_a_dgx_host(example_vars):
    dgx = example_vars[DGX]
    # From group_vars/nemoclaw/vault.yml (the vault example, copied): Ansible loads the directory.
    assert dgx["vault_nvidia_inference_api_key"] == "nvapi-REPLACE-ME"
    assert dgx["vault_nim_api_key"] == "nim-REPLACE-ME"
    # From group_vars/nemoclaw/main.yml: the secret names, mapped to the vault's variables.
    assert dgx["nemoclaw_secrets"] == {"NVIDIA_INFERENCE_API_KEY": "{{ vault_nvidia_inference_api_key }}",
                                       "NIM_API_KEY": "{{ vault_nim_api_key }}"}
    assert dgx["openshell_version"] == "0.0.111"
    # From group_vars/dgx/main.yml: two agents, which replace the fleet default.
    assert [(a["name"], a["agent"]) for a in dgx["nemoclaw_agents"]] == [("openclaw", "openclaw"), ("hermes", "hermes")]
    assert dgx["gpu_required"] is True
    # The other groups keep their own agent.
    assert [a["profile"] for a in example_vars["spark-01.example.internal"]["nemoclaw_agents"]] == ["nim-local"]
    assert [a["tier"] for a in example_vars["ws-01.example.internal"]["nemoclaw_agents"]] == ["restricted"]


def _plan(agents, secrets):
    cache = {}

    def load(entry):
        src = str(os.path.join(ROOT, "blueprints", entry["agent"]))
        if src not in cache:
            cache[src] = bplib.load_blueprint_dir(src)
        return cache[src]

    # policy_overlays is the approvals expression (docs/approvals.md): empty until approvals exist.
    agents = [dict(a, policy_overlays=[]) for a in agents]
    return planlib.plan_host(agents, secrets, load, host_facts={"cpus": 64, "memory_mb": 512 * 1024})


def test_example_plans_every_group_and_the_dgx_agents_share_the_route(example_vars):
    secrets = {"NVIDIA_INFERENCE_API_KEY": "nvapi-UNIT-0000-fake", "NIM_API_KEY": "nim-UNIT-0000-fake"}
    dgx = _plan(example_vars[DGX]["nemoclaw_agents"], secrets)
    assert dgx["inference"]["agents"] == ["openclaw", "hermes"]
    assert (dgx["inference"]["provider"], dgx["inference"]["model"]) == ("nvidia-inference", "nvidia/nemotron-3-super-120b-a12b")
    assert [p["name"] for p in dgx["providers"]] == ["nvidia-inference"]
    for host in ("spark-01.example.internal", "ws-01.example.internal"):
        assert len(_plan(example_vars[host]["nemoclaw_agents"], secrets)["agents"]) == 1
