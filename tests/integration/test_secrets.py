# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""A credential given to openshell_provider (or to the agents role in nemoclaw_secrets) appears nowhere
but in the gateway's hands.

The secret reaches the play only through the controller's environment (so no
file we write contains it), then the provider is created, updated and
checked at -vvv with --diff. Afterwards the secret must not occur in: the
output, the recorded results (diffs included), the simulator's call log
(argv of every call) and database, or any file under the test's directory,
which holds the simulated host's HOME, XDG dirs, state files and Ansible's
temp dirs.
"""

from __future__ import annotations

import os

from playrunner import Play

CANARY = "nvapi-SECRET-CANARY-0c9f8e7d6b5a"
CANARY2 = "nvapi-SECRET-CANARY-rotated-1a2b"


def files_containing(root, needle):
    hits = []
    raw = needle.encode()
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            try:
                with open(path, "rb") as fh:
                    if raw in fh.read():
                        hits.append(path)
            except OSError:
                pass
    return hits


def test_the_search_finds_what_is_there(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.bin").write_bytes(b"xx" + CANARY.encode() + b"yy")
    assert files_containing(str(tmp_path), CANARY) == [str(tmp_path / "a" / "b" / "f.bin")]


def test_secret_never_leaves_the_environment(fleet, tmp_path):
    task = {"name": "p", "agentfleet.nemoclaw.openshell_provider": {
        "name": "nv", "type": "nvidia",
        "credentials": {"NVIDIA_API_KEY": "{{ lookup('ansible.builtin.env', 'CANARY') }}"}}}
    outputs = []
    # One run per value (the lookup reads the run's environment): check, create, no-op; check, update.
    for canary, checks in ((CANARY, (True, False, False)), (CANARY2, (True, False))):
        for step in fleet.steps(*[Play([task], check=check) for check in checks], verbosity=3, env={"CANARY": canary}):
            assert step.rc == 0, step.stdout
            outputs.append(step)
    assert outputs[1].result("p")["changed"] and not outputs[2].result("p")["changed"]
    assert outputs[4].result("p")["diff"]["after"]["credentials"] == {"NVIDIA_API_KEY": "<changed>"}
    for step in outputs:
        for secret in (CANARY, CANARY2):
            assert secret not in step.stdout
            assert secret not in str(step.results)
            assert all(secret not in " ".join(c["argv"]) for c in step.calls)
    sim = fleet.first
    for secret in (CANARY, CANARY2):
        assert files_containing(str(tmp_path), secret) == []
        with open(sim.db_path, "rb") as fh:
            assert secret.encode() not in fh.read()
    # The credential did reach the gateway: the provider holds the key.
    assert sim.json("provider", "list", "-o", "json")[0]["credential_keys"] == ["NVIDIA_API_KEY"]
    # And it was passed the only safe way: --credential KEY with the value in the environment.
    creates = [c["argv"] for c in sim.calls() if c["argv"][:2] in (["provider", "create"], ["provider", "update"])]
    assert creates and all("NVIDIA_API_KEY" in argv and not any("=" in a for a in argv if "NVIDIA" in a) for argv in creates)


def test_agents_role_keeps_the_secret_out_of_everything(fleet, tmp_path):
    """The same through the agents role (nemoclaw_secrets -> the plan's provider): create, then rotate, at -vvv."""
    role = {"roles": [{"role": "agentfleet.nemoclaw.agents"}]}
    secrets = {"nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": "{{ lookup('ansible.builtin.env', 'CANARY') }}"}}
    steps = []
    for canary, checks in ((CANARY, (False,)), (CANARY2, (True, False))):
        for step in fleet.steps(*[Play(check=check, play_extra=role) for check in checks], extra_vars=secrets,
                                verbosity=3, env={"CANARY": canary}):
            assert step.rc == 0, step.stdout[-3000:]
            steps.append(step)
    actions = [s.result("Converge the agents of the host")["providers"]["nvidia-inference"] for s in steps]
    assert [(a["action"], a["changed"]) for a in actions] == [("create", True), ("update", True), ("update", True)]
    assert actions[2]["credentials"] == {"NVIDIA_API_KEY": "<changed>"}
    for step in steps:
        for secret in (CANARY, CANARY2):
            assert secret not in step.stdout
            assert secret not in str(step.results)
            assert all(secret not in " ".join(c["argv"]) for c in step.calls)
    for secret in (CANARY, CANARY2):
        assert files_containing(str(tmp_path), secret) == []
        with open(fleet.first.db_path, "rb") as fh:
            assert secret.encode() not in fh.read()
