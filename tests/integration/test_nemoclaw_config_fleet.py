# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""A NemoClaw host moved into the fleet, on a ``scripts/simfleet`` host (docs/nemoclaw-config.md):

1. ``tools/nemoclaw-config import`` of a NemoClawConfig document (an explicit policy, harness settings) gives
   host variables that ``site.yml`` converges: the explicit policy's rules are in the sandbox's policy, the
   harness settings in the agent's configuration file; a re-run makes no mutating call;
2. ``tools/nemoclaw-config export --inventory`` of that host gives a document that imports back to the same
   ``nemoclaw_agents`` (with and without extensions);
and every call the host logged is valid for the real CLI's grammar.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import ROOT  # noqa: E402  pylint: disable=wrong-import-position
from simfleet_runner import SimFleet  # noqa: E402  pylint: disable=wrong-import-position

FIXTURE = os.path.join(ROOT, "tests", "unit", "fixtures", "nemoclawconfig", "openclaw-full.yaml")
TOOL = os.path.join(ROOT, "tools", "nemoclaw_config.py")
KEY = "nvapi-SIMFLEET-nemoclaw-config-0000"


def tool(*args, cwd):
    return subprocess.run([sys.executable, TOOL] + [str(a) for a in args], cwd=str(cwd), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = SimFleet(tmp_path_factory.mktemp("nemoclawconfig"), hosts=1)
    try:
        yield f
    finally:
        f.down()
    assert f.invalid_calls() == []


@pytest.fixture(scope="module")
def imported(fleet):
    out = tool("import", FIXTURE, cwd=fleet.dir)
    assert out.returncode == 0, out.stderr
    agents = yaml.safe_load(out.stdout)["nemoclaw_agents"]
    assert "#   NVIDIA_INFERENCE_API_KEY: inference of research" in out.stdout
    fleet.set_vars("sim-1", {"nemoclaw_agents": agents, "nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": KEY}})
    return agents


def test_an_imported_document_converges(fleet, imported):
    step = fleet.run()
    assert step.rc == 0, step.stdout[-4000:]
    policy = json.loads(fleet.openshell("sim-1", "policy", "get", "research", "--full", "-o", "json").stdout)
    rules = (policy.get("policy") or {}).get("network_policies") or {}
    assert rules["github"]["endpoints"][0]["host"] == "api.github.com"
    assert [b["path"] for b in rules["github"]["binaries"]] == ["/usr/bin/git", "/usr/bin/gh"]
    config = json.loads(fleet.sh("sim-1", "cat .openclaw/openclaw.json", "research"))
    assert config["ui"] == {"assistant": {"name": "Research"}}
    assert config["agents"]["defaults"]["thinkingDefault"] == "low"
    assert "nvidia/llama-3.3-nemotron-super-49b-v1.5" in json.dumps(config["agents"]["defaults"]["model"])
    again = fleet.run()
    assert again.rc == 0, again.stdout[-4000:]
    assert again.mutating == []


@pytest.mark.parametrize("extensions", [False, True])
def test_the_host_exports_back_to_the_same_agents(fleet, imported, extensions):
    args = ["export", "--inventory", fleet.inventory, "--host", "sim-1"] + (["--extensions"] if extensions else [])
    out = tool(*args, cwd=fleet.dir)
    assert out.returncode == 0, out.stderr
    assert KEY not in out.stdout + out.stderr
    doc = yaml.safe_load(out.stdout)
    assert [s["name"] for s in doc["spec"]["sandboxes"]] == ["research"]
    assert ("x-agentfleet" in doc) is False  # everything the import gave, NemoClaw's document carries
    path = os.path.join(fleet.dir, "export-%s.yaml" % extensions)
    with open(path, "w") as handle:
        handle.write(out.stdout)
    back = tool("import", path, cwd=fleet.dir)
    assert back.returncode == 0, back.stderr
    assert yaml.safe_load(back.stdout)["nemoclaw_agents"] == imported
