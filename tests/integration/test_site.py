# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""site.yml on the real local demo inventory: rollout, drift behind Ansible's back, check, repair.

This is `make demo`'s inventory (OpenShell = the simulator installed from its
release archive, gateway under the `process` supervisor), in a private demo
root and on a free port. Drift is made with the simulator's own CLI, as an
operator would: policy replaced, provider deleted, sandbox stopped, inference
route changed; then the gateway is stopped. `--check --diff` must report
exactly those, a normal run repairs them, and the run after is changed=0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from playrunner import ROOT, ansible_playbook, is_read_only, read_calls

sys.path.insert(0, os.path.join(ROOT, "tests", "simulator"))
from harness import free_port  # noqa: E402  pylint: disable=wrong-import-position

INVENTORY = os.path.join(ROOT, "inventories", "local")
SITE = os.path.join(ROOT, "site.yml")
AGENTS = [{"name": "openclaw", "agent": "openclaw", "tier": "balanced"}]
APPLY = "Converge the agents of the host"


class Demo(object):
    def __init__(self, root):
        self.root = str(root)
        self.port = free_port()
        self.calls = os.path.join(self.root, "calls.jsonl")
        self.home = os.path.join(self.root, "home")
        self.n = 0
        subprocess.run([os.path.join(ROOT, "scripts", "build-sim-packages"), os.path.join(self.root, "dist"), "0.0.111"],
                       check=True, stdout=subprocess.DEVNULL)

    @property
    def env(self):
        return {"NEMOCLAW_DEMO_ROOT": self.root, "OPENSHELL_SIM_CALL_LOG": self.calls}

    def play(self, check=False):
        self.n += 1
        step_dir = os.path.join(self.root, "step%d" % self.n)
        os.makedirs(step_dir)
        before = len(read_calls(self.calls))
        # The desired state as extra vars, so the test does not depend on how the demo inventory spells it.
        rc, out, results = ansible_playbook(INVENTORY, SITE, step_dir, os.path.join(self.root, "ansible-home"),
                                            check=check, extra_vars={"openshell_gateway_port": self.port,
                                                                     "nemoclaw_agents": AGENTS}, env=self.env)
        return rc, out, results, read_calls(self.calls)[before:]

    def cli(self, *argv, **kw):
        env = dict(os.environ, HOME=self.home, XDG_CONFIG_HOME=self.home + "/.config",
                   XDG_STATE_HOME=self.home + "/.local/state", OPENSHELL_SIM_CALL_LOG=os.path.join(self.root, "operator.jsonl"))
        env.update(kw.pop("env", {}))
        return subprocess.run([os.path.join(self.root, "prefix", "bin", "openshell")] + list(argv), env=env, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)

    def gateway_pid(self):
        with open(os.path.join(self.home, ".local", "state", "openshell", "gateway.pid")) as fh:
            return int(fh.read().split()[0])

    def stop_gateway(self):
        try:
            pid = self.gateway_pid()
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        for _attempt in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)


@pytest.fixture
def demo(tmp_path):
    d = Demo(tmp_path)
    yield d
    d.stop_gateway()


def changed_tasks(results):
    return sorted(set(r["task"].split(" : ")[-1] for r in results if r["result"].get("changed")))


def test_rollout_drift_check_repair(demo):
    rc, out, results, calls = demo.play()
    assert rc == 0, out[-4000:]
    assert demo.cli("sandbox", "get", "openclaw", "-o", "json").returncode == 0
    # A new host takes the roles. The GPU facts came with the preflight's execution and were judged on the controller.
    gpu = [r["result"] for r in results if r["task"].endswith("Gather NVIDIA GPU facts and evaluate the GPU checks")]
    pre = [r["result"] for r in results if r["task"].endswith("Measure the host and evaluate the readiness checks")]
    assert gpu and gpu[-1].get("gathered_by") == "nemoclaw_preflight", gpu
    assert gpu[-1]["ansible_facts"]["nvidia_gpu"] == pre[-1]["gpu"]["facts"]
    assert gpu[-1]["report"]["checks"] and pre[-1]["gpu"]["inputs"]["nvidia_smi_path"]

    rc, out, results, calls = demo.play(check=True)
    assert rc == 0 and changed_tasks(results) == [], (changed_tasks(results), out[-3000:])
    assert [c["argv"] for c in calls if not is_read_only(c["argv"])] == []

    # Drift behind Ansible's back.
    demo.cli("policy", "update", "openclaw", "--add-endpoint", "example.com:443:read-only")
    demo.cli("inference", "set", "--provider", "nvidia-inference", "--model", "someone/else")
    demo.cli("sandbox", "provider", "detach", "openclaw", "nvidia-inference")
    demo.cli("provider", "delete", "nvidia-inference")
    demo.cli("sandbox", "stop", "openclaw")

    rc, out, results, calls = demo.play(check=True)
    assert rc == 0, out[-4000:]
    assert changed_tasks(results) == [APPLY], out[-4000:]
    assert [c for c in calls if not is_read_only(c["argv"])] == []
    res = [r["result"] for r in results if r["task"].endswith(APPLY)][-1]
    # every drifted resource is named: the provider, the route's model, the phase, the attachment, the policy
    assert res["providers"]["nvidia-inference"]["action"] == "create", res["providers"]
    assert [d["field"] for d in res["inference"]["differences"]] == ["model"], res["inference"]
    fields = [d["field"] for d in res["agents"]["openclaw"]["differences"]]
    assert {"providers", "phase"} <= set(fields) and any(f.startswith("policy.") for f in fields), fields
    # the policy diff names the entry added behind our back
    assert "policy.network_policies.allow_example_com_443" in fields and "allow_example_com_443" in out

    rc, out, results, calls = demo.play()
    assert rc == 0, out[-4000:]
    assert changed_tasks(results) == [APPLY], changed_tasks(results)
    words = set(tuple(c["argv"][2:4]) for c in calls if not is_read_only(c["argv"]))
    assert {("provider", "create"), ("inference", "set"), ("sandbox", "start"), ("policy", "set")} <= words, words
    assert demo.cli("sandbox", "get", "openclaw", "-o", "json").stdout.count('"Ready"') == 1
    rc, out, results, calls = demo.play()
    assert rc == 0 and changed_tasks(results) == [], changed_tasks(results)
    # Read once, act on difference: on a converged host the agents task only reads (no change, so no
    # health probe either).
    assert [c["argv"] for c in calls if not is_read_only(c["argv"])] == []
    # The gateway runs from the process supervisor's pidfile: the quick path vouched for the host layer, no role ran.
    quick = [r["result"] for r in results if r["task"].endswith(APPLY)]
    assert len(quick) == 1 and quick[0]["host_base_needed"] is False, quick
    assert all(r["task"].endswith(APPLY) for r in results), sorted(set(r["task"] for r in results))

    # The gateway stops: a check run reports the start and ends the host there; a run repairs.
    old = demo.gateway_pid()
    demo.stop_gateway()
    rc, out, results, calls = demo.play(check=True)
    assert rc == 0, out[-4000:]
    assert changed_tasks(results) == ["Report the start check mode would make"], out[-3000:]
    rc, out, results, calls = demo.play()
    assert rc == 0, out[-4000:]
    assert changed_tasks(results) == ["Start the gateway process"], changed_tasks(results)
    assert demo.gateway_pid() != old
    rc, out, results, calls = demo.play()
    assert rc == 0 and changed_tasks(results) == [], changed_tasks(results)
