# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""playbooks/canary_upgrade.yml and playbooks/rollback.yml on five simulated hosts.

The fleet first runs the shipped openclaw 0.1.0 blueprint (blueprint, credentials and sandbox
roles), each agent gets a marker file in its state directory, then the canary moves the fleet to
a copy of the blueprint with another version and image digest (0.2.0).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import ROOT, Fleet, command_words, foreign_lease, lease_path  # noqa: E402  pylint: disable=wrong-import-position

ROLES = {"roles": [{"role": "agentfleet.nemoclaw.blueprint"}, {"role": "agentfleet.nemoclaw.credentials"},
                   {"role": "agentfleet.nemoclaw.sandbox"}]}
NEW_IMAGE_DIGEST = "7" * 64
MARKER = ".openclaw/canary-marker.txt"


def artifact_digest(path):
    # PYTHONPATH: module_utils import each other as ansible_collections.agentfleet.nemoclaw.* (.collections).
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "blueprint_digest.py"), str(path)],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True, env=env).stdout
    return out.split()[0]


def make_blueprint(tmp_path, version="0.2.0", image_digest=NEW_IMAGE_DIGEST):
    """A copy of blueprints/openclaw with another version and image digest; returns (path, artifact digest)."""
    dest = os.path.join(str(tmp_path), "openclaw-%s" % version)
    shutil.copytree(os.path.join(ROOT, "blueprints", "openclaw"), dest)
    path = os.path.join(dest, "blueprint.yaml")
    with open(path) as fh:
        text = fh.read()
    text = re.sub(r'(?m)^version: ".*"$', 'version: "%s"' % version, text)
    text = re.sub(r'(?m)^digest: "sha256:[0-9a-f]{64}"$', 'digest: "sha256:%s"' % image_digest, text)
    text = re.sub(r"(openclaw@sha256:)[0-9a-f]{64}", r"\g<1>" + image_digest, text)
    with open(path, "w") as fh:
        fh.write(text)
    doc = yaml.safe_load(text)
    assert doc["version"] == version and doc["components"]["sandbox"]["image"].endswith(image_digest)
    return dest, artifact_digest(dest)


class CanaryFleet(Fleet):
    """A Fleet whose inventory also has a ``canary`` group (``canary_members``)."""

    canary_members = ()

    def inventory(self, host_vars=None):
        inv = super(CanaryFleet, self).inventory(host_vars)
        if self.canary_members:
            inv["all"]["children"]["canary"] = {"hosts": dict((name, {}) for name in self.canary_members)}
        return inv


@pytest.fixture
def fleet5(tmp_path):
    """Overrides conftest's: the inventory has a canary group."""
    with CanaryFleet(tmp_path / "fleet", count=5).checked() as f:
        yield f


def labels(sim, name="openclaw"):
    return sim.json("sandbox", "get", name, "-o", "json")["labels"]


def sandbox_home(sim, name="openclaw"):
    """The simulated sandbox's home directory (what /sandbox maps to)."""
    sb = sim.json("sandbox", "get", name, "-o", "json")
    return os.path.join(os.path.dirname(sim.db_path), "sandboxes", sb["id"], "sandbox")


def roll_out_and_mark(fleet):
    step = fleet.run([], play_extra=ROLES)
    assert step.rc == 0, step.stdout[-3000:]
    for name, sim in fleet.hosts.items():
        marker = os.path.join(sandbox_home(sim), MARKER)
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        with open(marker, "w") as fh:
            fh.write("state of %s\n" % name)
        # A credential file in the state directory must never reach a backup.
        with open(os.path.join(os.path.dirname(marker), "credentials.json"), "w") as fh:
            fh.write('{"NVIDIA_API_KEY": "nvapi-SHOULD-NOT-LEAVE"}')


def read_marker(sim):
    with open(os.path.join(sandbox_home(sim), MARKER)) as fh:
        return fh.read()


def canary_vars(tmp_path, src, digest, **extra):
    target = {"blueprint_src": src, "blueprint_digest": digest}
    target.update(extra.pop("target", {}))
    out = {"canary_target": target, "canary_report_dir": str(tmp_path / "reports"), "canary_health_timeout": 2,
           "canary_health_delay": 1}
    out.update(extra)
    return out


def state_file(sim):
    return os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "rollout.json")


def test_canary_upgrade_moves_every_host_and_keeps_state(fleet5, tmp_path):
    roll_out_and_mark(fleet5)
    src, digest = make_blueprint(tmp_path)
    ev = canary_vars(tmp_path, src, digest, canary_serial=[2, "100%"])
    fleet5.canary_members = ("host3",)
    step = fleet5.run_site(playbook="playbooks/canary_upgrade.yml", extra_vars=ev)
    assert step.rc == 0, step.stdout[-6000:]
    for name, sim in fleet5.hosts.items():
        lab = labels(sim)
        assert lab["nemoclaw.blueprint/version"] == "0.2.0", name
        assert lab["nemoclaw.blueprint/digest"] == digest[7:23], name
        assert read_marker(sim) == "state of %s\n" % name
        assert not os.path.exists(os.path.join(sandbox_home(sim), ".openclaw", "credentials.json"))
        st = os.stat(state_file(sim))
        assert st.st_mode & 0o777 == 0o600
        with open(state_file(sim)) as fh:
            state = json.load(fh)
        assert state["status"] == "upgraded"
        assert state["previous"]["version"] == "0.1.0" and state["previous"]["src"] == "openclaw"
        assert state["current"]["digest"] == digest
        assert "nvapi" not in json.dumps(state)
        backup = state["backup"]
        assert os.stat(backup).st_mode & 0o777 == 0o600
        members = subprocess.run(["tar", "-tzf", backup], check=True, stdout=subprocess.PIPE,
                                 universal_newlines=True).stdout.split()
        assert MARKER in members and not [m for m in members if m.endswith("credentials.json")]
    # Batches: the canary group (host3), then canary_serial [2, 100%]: host1 and host2, then host4 and host5.
    # (The recorded task results are in the order they happened; step.calls are grouped by host.)
    order = []
    for res in step.results:
        if res["task"].endswith("Converge the sandbox") and res["host"] not in order:
            order.append(res["host"])
    assert order[0] == "host3" and sorted(order[1:3]) == ["host1", "host2"] and sorted(order[3:]) == ["host4", "host5"]
    reports = [p for p in os.listdir(str(tmp_path / "reports")) if p.endswith(".json")]
    with open(str(tmp_path / "reports" / reports[0])) as fh:
        report = json.load(fh)
    assert report["status"] == "complete"
    assert sorted(h["result"] for h in report["hosts"]) == ["upgraded"] * 5
    assert all(h["from"].startswith("openclaw 0.1.0") and h["to"].startswith("openclaw 0.2.0") for h in report["hosts"])
    assert "| host1 | openclaw 0.1.0" in step.stdout
    # The host lock was taken and released on every host.
    assert [n for n, sim in fleet5.hosts.items() if os.path.exists(lease_path(sim))] == []

    # Second run, in two batches (the canary group, then everyone): nothing to do anywhere.
    again = fleet5.run_site(playbook="playbooks/canary_upgrade.yml", extra_vars=dict(ev, canary_serial=["100%"]))
    assert again.rc == 0, again.stdout[-4000:]
    assert again.changed_count() == 0, [(r["task"], r["host"]) for r in again.results if r["result"].get("changed")]
    # Only reads and read-only probes inside the sandboxes.
    assert set(command_words(c["argv"])[:2] for c in again.mutating) <= {("sandbox", "exec")}

    # rollback.yml takes the host lock: another run's live lease fails it naming that run, before any call.
    holder = foreign_lease(fleet5.hosts["host2"])
    held = fleet5.run_site(playbook="playbooks/rollback.yml", limit="host2", extra_vars={"nemoclaw_lock_timeout": 0})
    assert held.rc != 0 and "is held by run %s" % holder in held.stdout and held.calls == [], held.stdout[-3000:]
    os.unlink(lease_path(fleet5.hosts["host2"]))

    # rollback.yml returns a named host to the previous blueprint, state and all.
    with open(os.path.join(sandbox_home(fleet5.hosts["host2"]), MARKER), "w") as fh:
        fh.write("written on 0.2.0\n")
    back = fleet5.run_site(playbook="playbooks/rollback.yml", limit="host2",
                           extra_vars={"canary_health_timeout": 2, "canary_health_delay": 1})
    assert back.rc == 0, back.stdout[-4000:]
    assert labels(fleet5.hosts["host2"])["nemoclaw.blueprint/version"] == "0.1.0"
    assert read_marker(fleet5.hosts["host2"]) == "state of host2\n"
    assert labels(fleet5.hosts["host1"])["nemoclaw.blueprint/version"] == "0.2.0"
    assert {c["host"] for c in back.calls} == {"host2"}
    assert not os.path.exists(lease_path(fleet5.hosts["host2"]))
    with open(state_file(fleet5.hosts["host2"])) as fh:
        assert json.load(fh)["status"] == "rolled_back"


def test_canary_failing_health_gate_rolls_back_and_stops(fleet5, tmp_path):
    roll_out_and_mark(fleet5)
    src, digest = make_blueprint(tmp_path)
    for sim in fleet5.hosts.values():
        sim.set_faults({"exec_failures": [{"image": NEW_IMAGE_DIGEST[:16], "command_contains": "health", "rc": 3,
                                           "stderr": "openclaw gateway crashed on start\n"}]})
    step = fleet5.run_site(playbook="playbooks/canary_upgrade.yml", extra_vars=canary_vars(tmp_path, src, digest))
    assert step.rc != 0
    assert "canary stopped at host1" in step.stdout
    assert "health: `openclaw health --json` exited 3" in step.stdout
    assert "openclaw gateway crashed on start" in step.stdout
    canary = fleet5.hosts["host1"]
    lab = labels(canary)
    assert lab["nemoclaw.blueprint/version"] == "0.1.0"
    assert canary.json("sandbox", "get", "openclaw", "-o", "json")["phase"] == "Ready"
    assert read_marker(canary) == "state of host1\n"
    assert canary.ok("sandbox", "exec", "--name", "openclaw", "--no-tty", "--", "openclaw", "health", "--json").stdout
    # No mutating call on any other host: the later batches never started.
    others = [c for c in step.mutating if c["host"] != "host1"]
    assert others == [], others
    for name, sim in fleet5.hosts.items():
        if name != "host1":
            assert labels(sim)["nemoclaw.blueprint/version"] == "0.1.0"
            assert not os.path.exists(state_file(sim))
    with open(state_file(canary)) as fh:
        state = json.load(fh)
    assert state["status"] == "rolled_back" and state["current"]["version"] == "0.1.0"
    reports = sorted(os.listdir(str(tmp_path / "reports")))
    with open(str(tmp_path / "reports" / [r for r in reports if r.endswith(".json")][0])) as fh:
        report = json.load(fh)
    assert report["status"] == "stopped"
    rows = dict((h["host"], h) for h in report["hosts"])
    assert rows["host1"]["result"] == "rolled back" and "health" in rows["host1"]["failed_check"]
    assert [rows["host%d" % i]["result"] for i in range(2, 6)] == ["not started"] * 4


def test_bad_canary_variables_fail_naming_the_variable(fleet5, tmp_path):
    step = fleet5.run_site(playbook="playbooks/canary_upgrade.yml", extra_vars={"canary_report_dir": str(tmp_path)})
    assert step.rc != 0 and "canary_target" in step.stdout and step.mutating == []
    step = fleet5.run_site(playbook="playbooks/canary_upgrade.yml",
                           extra_vars={"canary_target": {"blueprint_src": "openclaw", "blueprint_digest": "sha256:abc"}})
    assert step.rc != 0 and "canary_target.blueprint_digest" in step.stdout and step.calls == []


def test_canary_refuses_a_host_locked_by_another_run(fleet5, tmp_path):
    # Another live run holds host4: the first play fails there naming it, every other host releases
    # the lease it took and fails as "not started"; no OpenShell call changes anything anywhere.
    holder = foreign_lease(fleet5.hosts["host4"])
    src = os.path.join(ROOT, "blueprints", "openclaw")
    step = fleet5.run_site(playbook="playbooks/canary_upgrade.yml",
                           extra_vars=canary_vars(tmp_path, src, artifact_digest(src), nemoclaw_lock_timeout=0))
    assert step.rc != 0
    msg = step.result("Stop before any host changes", "host4")["msg"]
    assert "is held by run %s" % holder in msg and "controller ctl9" in msg and "nemoclaw_lock_break" in msg, msg
    others = step.result("Stop before any host changes", "host1")["msg"]
    assert "not started, the preflight failed on host4" in others and "host locks released" in others, others
    assert step.mutating == []
    with open(lease_path(fleet5.hosts["host4"])) as fh:
        assert json.load(fh)["owner"] == holder
    assert [n for n, sim in fleet5.hosts.items() if n != "host4" and os.path.exists(lease_path(sim))] == []
