# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""playbooks/decommission.yml on five simulated hosts: it removes exactly what the collection
created (sandboxes labelled agentfleet.nemoclaw/managed=true, providers of its state file and
plan, the inference route to them), keeps state backups, and refuses foreign sandboxes unless
decommission_force=true."""

from __future__ import annotations

import json
import os
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import command_words, foreign_lease, lease_path  # noqa: E402  pylint: disable=wrong-import-position

ROLES = {"roles": [{"role": "agentfleet.nemoclaw.blueprint"}, {"role": "agentfleet.nemoclaw.credentials"},
                   {"role": "agentfleet.nemoclaw.sandbox"}]}
PLAYBOOK = "playbooks/decommission.yml"


def state_dir(sim):
    return os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw")


def names(sim, what):
    return sorted(x["name"] for x in sim.json(what, "list", "-o", "json"))


def test_decommission_removes_what_the_collection_created_and_refuses_foreign(fleet5):
    step = fleet5.run([], play_extra=ROLES)
    assert step.rc == 0, step.stdout[-3000:]
    # Someone else's sandbox and provider on host1 and host2.
    for name in ("host1", "host2"):
        sim = fleet5.hosts[name]
        sim.ok("provider", "create", "--name", "team-github", "--type", "github", "--credential", "GITHUB_TOKEN=ghp-x")
        sim.ok("sandbox", "create", "--name", "scratch", "--no-tty")
        home = os.path.join(os.path.dirname(sim.db_path), "sandboxes",
                            sim.json("sandbox", "get", "openclaw", "-o", "json")["id"], "sandbox", ".openclaw")
        os.makedirs(home)
        with open(os.path.join(home, "memory.md"), "w") as fh:
            fh.write("agent memory\n")

    # Naming a foreign sandbox is refused before anything changes.
    refused = fleet5.run_site(playbook=PLAYBOOK, limit="host1", extra_vars={"decommission_sandboxes": ["scratch"]})
    assert refused.rc != 0
    assert "refusing to remove sandbox(es) scratch" in refused.stdout
    assert refused.mutating == []

    step = fleet5.run_site(playbook=PLAYBOOK)
    assert step.rc == 0, step.stdout[-4000:]
    for name, sim in fleet5.hosts.items():
        foreign = name in ("host1", "host2")
        assert names(sim, "sandbox") == (["scratch"] if foreign else []), name
        assert names(sim, "provider") == (["team-github"] if foreign else []), name
        assert "Model:" not in sim.run("inference", "get").stdout
        with open(os.path.join(state_dir(sim), "providers.json")) as fh:
            assert json.load(fh).get("providers", {}) == {}
    # Only the collection's objects were touched.
    deletes = (("sandbox", "delete"), ("provider", "delete"))
    deleted = [c["argv"][-1] for c in step.mutating if command_words(c["argv"])[:2] in deletes]
    assert "scratch" not in deleted and "team-github" not in deleted
    assert sorted(deleted) == sorted(["openclaw", "nvidia-inference"] * 5)
    # State backups are kept (decommission_keep_backups defaults to true) and hold the agent's state.
    backups = os.listdir(os.path.join(state_dir(fleet5.hosts["host1"]), "backups"))
    assert len(backups) == 1 and backups[0].startswith("openclaw-decommission-")
    assert "left alone: scratch" in step.stdout

    # The host lock was taken and released.
    assert [n for n, sim in fleet5.hosts.items() if os.path.exists(lease_path(sim))] == []

    # A second run changes nothing.
    again = fleet5.run_site(playbook=PLAYBOOK)
    assert again.rc == 0 and again.mutating == [], again.stdout[-3000:]

    # Forced, with the gateway: host1's foreign sandbox goes too, and the gateway registration and
    # configuration (the simulator's gateway is supervised externally, so its process stays).
    forced = fleet5.run_site(playbook=PLAYBOOK, limit="host1",
                             extra_vars={"decommission_force": True, "decommission_gateway": True,
                                         "decommission_keep_backups": False})
    assert forced.rc == 0, forced.stdout[-4000:]
    sim = fleet5.hosts["host1"]
    assert sim.json("gateway", "list", "-o", "json") == []
    sim.register()
    assert names(sim, "sandbox") == []
    assert not os.path.exists(os.path.join(state_dir(sim), "backups"))
    assert names(fleet5.hosts["host2"], "sandbox") == ["scratch"]
    assert {c["host"] for c in forced.calls} == {"host1"}


def test_gateway_removal_is_refused_while_foreign_sandboxes_remain(fleet5):
    sim = fleet5.hosts["host3"]
    sim.ok("sandbox", "create", "--name", "scratch", "--no-tty")
    step = fleet5.run_site(playbook=PLAYBOOK, limit="host3", extra_vars={"decommission_gateway": True})
    assert step.rc != 0
    assert "decommission_gateway=true would take sandbox(es) scratch" in step.stdout
    assert step.mutating == []
    step = fleet5.run_site(playbook=PLAYBOOK, limit="host3", extra_vars={"decommission_force": "maybe"})
    assert step.rc != 0 and "decommission_force" in step.stdout and step.calls == []
    # The refusal released the host lock; another run's live lease fails the playbook naming that run.
    assert not os.path.exists(lease_path(sim))
    holder = foreign_lease(sim)
    step = fleet5.run_site(playbook=PLAYBOOK, limit="host3", extra_vars={"nemoclaw_lock_timeout": 0})
    assert step.rc != 0 and "is held by run %s" % holder in step.stdout and step.calls == [], step.stdout[-3000:]
    assert names(sim, "sandbox") == ["scratch"]
