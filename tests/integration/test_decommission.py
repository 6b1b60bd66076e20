# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""playbooks/decommission.yml on three simulated hosts: it refuses to run without --limit (no call
at all), says what it would remove in check mode, and removes exactly what the collection created
(every agent of nemoclaw_agents after a backup of its home, providers of its state file and plan,
the inference route to them); it refuses foreign sandboxes unless decommission_force=true."""

from __future__ import annotations

import json
import os
import sys
import tarfile


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import command_words, foreign_lease, lease_path  # noqa: E402  pylint: disable=wrong-import-position

AGENTS_ROLE = {"roles": [{"role": "agentfleet.nemoclaw.agents"}]}
PLAYBOOK = "playbooks/decommission.yml"
SUMMARY = "Summary"
OPENCLAW = {"name": "openclaw", "agent": "openclaw"}
# Two agents on host1: they share the provider and the inference route (same profile and model).
AGENTS = dict(("host%d" % i, [OPENCLAW]) for i in range(1, 4))
AGENTS["host1"] = [OPENCLAW, {"name": "hermes", "agent": "hermes"}]


def host_vars(agents=None):
    return dict((h, {"nemoclaw_agents": a}) for h, a in (agents or AGENTS).items())


def state_dir(sim):
    return os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw")


def names(sim, what):
    return sorted(x["name"] for x in sim.json(what, "list", "-o", "json"))


def deleted(step, host=None):
    deletes = (("sandbox", "delete"), ("provider", "delete"))
    return sorted(c["argv"][-1] for c in step.mutating
                  if command_words(c["argv"])[:2] in deletes and (host is None or c["host"] == host))


def summary(step, host):
    return step.result(SUMMARY, host)["msg"]


def converge(fleet):
    step = fleet.run([], play_extra=AGENTS_ROLE, host_vars=host_vars())
    assert step.rc == 0, step.stdout[-3000:]


def test_decommission_refuses_without_limit_then_removes_what_the_collection_created(fleet3):
    converge(fleet3)
    # Someone else's sandbox and provider on host1 and host2; agent memory in openclaw's home.
    for name in ("host1", "host2"):
        sim = fleet3.hosts[name]
        sim.ok("provider", "create", "--name", "team-github", "--type", "github", "--credential", "GITHUB_TOKEN=ghp-x")
        sim.ok("sandbox", "create", "--name", "scratch", "--no-tty")
        home = os.path.join(os.path.dirname(sim.db_path), "sandboxes",
                            sim.json("sandbox", "get", "openclaw", "-o", "json")["id"], "sandbox", ".openclaw")
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "memory.md"), "w") as fh:
            fh.write("agent memory\n")

    # playbooks/status.yml (read-only) shows every agent of host1 with its blueprint and the shared route.
    status = fleet3.run_site(playbook="playbooks/status.yml", host_vars=host_vars(), limit="host1")
    assert status.rc == 0 and status.mutating == [], status.stdout[-3000:]
    lines = status.result("Summary", "host1")["msg"].splitlines()
    assert lines[0].startswith("gateway openshell ")
    assert lines[1].startswith("agent openclaw (openclaw): Ready (desired running), blueprint openclaw 0.1.0 (")
    assert lines[2].startswith("agent hermes (hermes): Ready (desired running), blueprint hermes 0.1.0 (")
    assert "policy version 1, pending approvals 0" in lines[2]
    assert lines[3] == "inference.local -> nvidia-inference / nvidia/nemotron-3-super-120b-a12b"

    # Without --limit: refused before anything is read or changed, on every host.
    refused = fleet3.run_site(playbook=PLAYBOOK, host_vars=host_vars())
    assert refused.rc != 0
    assert "name them with --limit" in refused.stdout and "decommission_confirm=true" in refused.stdout
    assert refused.calls == [] and refused.mutating == []
    for sim in fleet3.hosts.values():
        assert "openclaw" in names(sim, "sandbox")

    # Check mode: what would go, nothing changed.
    look = fleet3.run_site(playbook=PLAYBOOK, host_vars=host_vars(), limit="host1,host2", check=True)
    assert look.rc == 0, look.stdout[-4000:]
    assert look.mutating == []
    msg = summary(look, "host1")
    assert msg.startswith("host1: would remove sandboxes hermes, openclaw;"), msg
    assert "providers nvidia-inference;" in msg and "routes user;" in msg and "left alone: scratch" in msg
    assert names(fleet3.hosts["host1"], "sandbox") == ["hermes", "openclaw", "scratch"]

    # With --limit: the limited hosts only.
    step = fleet3.run_site(playbook=PLAYBOOK, host_vars=host_vars(), limit="host1,host2")
    assert step.rc == 0, step.stdout[-4000:]
    assert {c["host"] for c in step.mutating} == {"host1", "host2"}
    for name in ("host1", "host2"):
        sim = fleet3.hosts[name]
        assert names(sim, "sandbox") == ["scratch"], name
        assert names(sim, "provider") == ["team-github"], name
        assert "Model:" not in sim.run("inference", "get").stdout
        with open(os.path.join(state_dir(sim), "providers.json")) as fh:
            assert json.load(fh).get("providers", {}) == {}
        with open(os.path.join(state_dir(sim), "applied", "openshell.json")) as fh:
            assert json.load(fh).get("agents") == {}
    # Only the collection's objects were touched.
    assert deleted(step, "host1") == ["hermes", "nvidia-inference", "openclaw"]
    assert deleted(step, "host2") == ["nvidia-inference", "openclaw"]
    # The report lists every removed resource and the backups taken before the sandboxes went.
    msg = summary(step, "host1")
    assert msg.startswith("host1: removed sandboxes hermes (backup "), msg
    assert "providers nvidia-inference;" in msg and "routes user;" in msg
    assert "left alone: scratch (not created by the collection)" in msg and "gateway kept." in msg
    backups = os.path.join(state_dir(fleet3.hosts["host1"]), "backups", "openshell", "openclaw")
    archives = [f for f in os.listdir(backups) if f.endswith("-remove.tar.gz")]
    assert len(archives) == 1 and os.path.join(backups, archives[0]) in msg
    assert oct(os.stat(os.path.join(backups, archives[0])).st_mode & 0o777) == "0o600"
    with tarfile.open(os.path.join(backups, archives[0])) as tar:
        assert "./.openclaw/memory.md" in tar.getnames()
    # The other host is untouched.
    assert names(fleet3.hosts["host3"], "sandbox") == ["openclaw"]
    # The host lock was taken and released.
    assert [n for n, sim in fleet3.hosts.items() if os.path.exists(lease_path(sim))] == []

    # A second run changes nothing and says so.
    again = fleet3.run_site(playbook=PLAYBOOK, host_vars=host_vars(), limit="host1,host2")
    assert again.rc == 0 and again.mutating == [], again.stdout[-3000:]
    assert summary(again, "host2").splitlines()[:3] == ["host2: removed sandboxes none;", "providers none;", "routes none;"]

    # Forced, with the gateway: host1's foreign sandbox goes too (without a backup), and the gateway
    # registration and configuration (the simulator's gateway is supervised externally, so its process stays).
    forced = fleet3.run_site(playbook=PLAYBOOK, host_vars=host_vars(), limit="host1",
                             extra_vars={"decommission_force": True, "decommission_gateway": True,
                                         "decommission_keep_backups": False})
    assert forced.rc == 0, forced.stdout[-4000:]
    assert "host1: removed sandboxes scratch (no backup)" in summary(forced, "host1")
    sim = fleet3.hosts["host1"]
    assert sim.json("gateway", "list", "-o", "json") == []
    sim.register()
    assert names(sim, "sandbox") == []
    assert not os.path.exists(os.path.join(state_dir(sim), "backups", "openshell"))
    assert names(fleet3.hosts["host2"], "sandbox") == ["scratch"]
    assert {c["host"] for c in forced.calls} == {"host1"}

    # decommission_confirm=true: every host of the play, without --limit.
    everything = fleet3.run_site(playbook=PLAYBOOK, host_vars=host_vars(),
                                 extra_vars={"decommission_confirm": True})
    assert everything.rc == 0, everything.stdout[-4000:]
    assert names(fleet3.hosts["host3"], "sandbox") == [] and names(fleet3.hosts["host3"], "provider") == []
    assert deleted(everything, "host3") == ["nvidia-inference", "openclaw"]
    assert deleted(everything, "host2") == []


def test_foreign_sandboxes_and_gateway_removal_are_refused(fleet3):
    sim = fleet3.hosts["host3"]
    sim.ok("sandbox", "create", "--name", "scratch", "--no-tty")
    # A listed agent whose sandbox the collection did not create.
    agents = {"host3": [{"name": "scratch", "agent": "openclaw"}]}
    step = fleet3.run_site(playbook=PLAYBOOK, limit="host3", host_vars=host_vars(agents))
    assert step.rc != 0
    assert "refusing to remove sandbox(es) scratch: listed in nemoclaw_agents but not created" in step.stdout
    assert step.mutating == []
    step = fleet3.run_site(playbook=PLAYBOOK, limit="host3", extra_vars={"decommission_gateway": True})
    assert step.rc != 0
    assert "decommission_gateway=true would take sandbox(es) scratch" in step.stdout
    assert step.mutating == []
    step = fleet3.run_site(playbook=PLAYBOOK, limit="host3", extra_vars={"decommission_force": "maybe"})
    assert step.rc != 0 and "decommission_force" in step.stdout and step.calls == []
    # The refusal released the host lock; another run's live lease fails the playbook naming that run.
    assert not os.path.exists(lease_path(sim))
    holder = foreign_lease(sim)
    step = fleet3.run_site(playbook=PLAYBOOK, limit="host3", extra_vars={"nemoclaw_lock_timeout": 0})
    assert step.rc != 0 and "is held by run %s" % holder in step.stdout and step.calls == [], step.stdout[-3000:]
    assert names(sim, "sandbox") == ["scratch"]
