# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The collection as users get it: built, installed from the tarball, run from a project of their own.

``ansible-galaxy collection build`` and ``install`` into a temporary collections path; then, from a
project directory outside the checkout with its own (empty) ``ansible.cfg`` - so no callback of ours,
no ``collections_path`` or ``roles_path`` of the checkout - ``agentfleet.nemoclaw.site`` and
``agentfleet.nemoclaw.drift`` run against a two-host ``scripts/simfleet`` fleet. The project's
inventory is what a user writes: hosts, ``host_vars/`` with what simfleet's inventory sets per host,
``group_vars/nemoclaw.yml`` with ``nemoclaw_agents`` naming a blueprint by a path relative to the
inventory (a pinned copy of blueprints/openclaw under a name the collection does not have). Every
other playbook passes --syntax-check as ``agentfleet.nemoclaw.<name>``, and decommission refuses to run
without --limit. Runtime: about 10 s on an idle machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from playrunner import ROOT, is_read_only  # noqa: E402  pylint: disable=wrong-import-position
from simfleet_runner import SimFleet  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.dirname(sys.executable)
BLUEPRINT = "blueprints/my-openclaw"
# What users need of the checkout is in the tarball; what only developing the collection needs is not (galaxy.yml build_ignore).
DEV_ONLY = ("tests/unit/", "tests/integration/", "tests/reliability/", "tests/simulator/", "tests/ee/", "molecule/",
            "benchmarks/", "Makefile", "requirements-lock.txt", ".ci/")


def _env(project, coll):
    """The environment of a user's shell: none of the checkout's ANSIBLE_* settings, the project's own ansible.cfg."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update(ANSIBLE_CONFIG=os.path.join(project, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=coll,
               ANSIBLE_HOME=os.path.join(project, ".ansible-home"), ANSIBLE_LOCAL_TEMP=os.path.join(project, ".tmp"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return env


def _run(cmd, cwd, env, timeout=300):
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout


def _recap(out, host):
    line = [ln for ln in out.splitlines() if ln.startswith(host + " ") and "ok=" in ln]
    assert len(line) == 1, out[-3000:]
    return dict(item.split("=") for item in line[0].split(":", 1)[1].split())


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(collections path, tarball members)``: the collection built from the checkout and installed."""
    base = tmp_path_factory.mktemp("installed")
    dist, coll = str(base / "dist"), str(base / "collections")
    rc, out = _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", dist, ROOT], str(base),
                   _env(str(base), coll))
    assert rc == 0, out
    (tarball,) = [os.path.join(dist, n) for n in os.listdir(dist) if n.endswith(".tar.gz")]
    with tarfile.open(tarball) as tar:
        members = tar.getnames()
    rc, out = _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", coll, tarball], str(base),
                   _env(str(base), coll))
    assert rc == 0, out
    assert os.path.isfile(os.path.join(coll, "ansible_collections", "agentfleet", "nemoclaw", "playbooks", "drift.yml"))
    return coll, members, os.path.getsize(tarball)


def test_the_tarball_leaves_out_what_only_development_needs(installed):
    _coll, members, size = installed
    shipped = [m for m in members if m.startswith(DEV_ONLY)]
    assert shipped == [], shipped
    for needed in ("tests/sanity/ignore-2.21.txt", "playbooks/site.yml", "roles/agents/tasks/main.yml", "blueprints/openclaw/blueprint.yaml",
                   "tools/blueprint-digest", "meta/runtime.yml", "docs/desired-state.md", "inventories/example/hosts.yml"):
        assert needed in members, needed
    print("\ntarball: %d bytes, %d files" % (size, len(members)))


def test_site_and_drift_from_a_project_of_the_users_own(installed, tmp_path_factory):
    coll, _members, _size = installed
    base = tmp_path_factory.mktemp("user")
    fleet = SimFleet(base / "fleet", hosts=2)
    try:
        project = str(base / "project")
        assert not os.path.abspath(project).startswith(ROOT + os.sep)
        _write_project(project, fleet)
        env = _env(project, coll)
        play = [os.path.join(BIN, "ansible-playbook"), "-i", "inventory.yml"]

        site = _run(play + ["agentfleet.nemoclaw.site"], project, env)
        assert site[0] == 0, site[1][-4000:]
        for host in fleet.hosts:
            assert fleet.sandbox(host)["phase"] == "Ready", fleet.sandbox(host)
        # The planted typo is warned about, naming the variable it was meant to be.
        assert "nemoclaw_agent: agentfleet.nemoclaw reads no variable of that name, it is ignored " \
               "(did you mean nemoclaw_agents?)" in site[1], site[1][-4000:]

        clean = _run(play + ["agentfleet.nemoclaw.drift"], project, env)
        assert clean[0] == 0, clean[1][-4000:]
        assert [_recap(clean[1], h)["changed"] for h in fleet.hosts] == ["0", "0"], clean[1][-3000:]

        # Out-of-band drift on sim-2, through that host's own environment.
        fleet.openshell("sim-2", "sandbox", "stop", "openclaw")
        seen = dict((h, len(fleet.calls(h))) for h in fleet.hosts)
        scan = _run(play + ["agentfleet.nemoclaw.drift"], project, env)
        assert scan[0] == 0, scan[1][-4000:]
        out = scan[1]
        # The field and both of its values are printed by the playbook itself (no drift_report callback here).
        assert "DRIFT REPORT" not in out
        assert "-phase: Stopped" in out and "+phase: Ready" in out, out[-3000:]
        assert "changed: [sim-2]" in out and "ok: [sim-1]" in out, out[-3000:]
        assert [_recap(out, h)["changed"] for h in fleet.hosts] == ["0", "1"], out[-3000:]

        failing = _run(play + ["agentfleet.nemoclaw.drift", "-e", "drift_fail_on_change=true"], project, env)
        assert failing[0] == 2, failing[1][-4000:]
        assert "drift on sim-2: sandbox openclaw: phase: Stopped -> Ready" in failing[1], failing[1][-3000:]
        assert _recap(failing[1], "sim-2")["failed"] == "1" and _recap(failing[1], "sim-1")["failed"] == "0"

        # The other playbooks resolve from the installed collection too; decommission refuses without --limit.
        names = sorted(n[:-4] for n in os.listdir(os.path.join(coll, "ansible_collections", "agentfleet", "nemoclaw", "playbooks"))
                       if n.endswith(".yml"))
        assert len(names) >= 7, names
        rc, syntax = _run(play + ["--syntax-check"] + ["agentfleet.nemoclaw." + n for n in names], project, env)
        assert rc == 0, syntax[-3000:]
        refused = _run(play + ["agentfleet.nemoclaw.decommission"], project, env)
        assert refused[0] != 0 and "name them with --limit" in refused[1], refused[1][-3000:]

        for host in fleet.hosts:
            writes = [c["argv"] for c in fleet.calls(host)[seen[host]:] if not is_read_only(c["argv"])]
            assert writes == [], (host, writes)
        assert fleet.sandbox("sim-2")["phase"] == "Stopped"
        assert "nvapi-" not in site[1] + out + failing[1]
        assert fleet.invalid_calls() == []
    finally:
        fleet.down()


def _write_project(project, fleet):
    """A user's project: inventory.yml, host_vars/ from simfleet's inventory, group_vars/ with the desired state."""
    with open(fleet.inventory) as fh:
        group = yaml.safe_load(fh)["all"]["children"]["nemoclaw"]
    for sub in ("host_vars", "group_vars", "blueprints"):
        os.makedirs(os.path.join(project, sub))
    with open(os.path.join(project, "ansible.cfg"), "w") as fh:
        fh.write("[defaults]\n")
    with open(os.path.join(project, "inventory.yml"), "w") as fh:
        yaml.safe_dump({"nemoclaw": {"hosts": dict((h, None) for h in group["hosts"])}}, fh)
    for host, hostvars in group["hosts"].items():
        with open(os.path.join(project, "host_vars", host + ".yml"), "w") as fh:
            yaml.safe_dump(hostvars, fh)
    # A blueprint of the project's own, pinned as users pin one (tools/blueprint-digest).
    src = os.path.join(project, BLUEPRINT)
    subprocess.run(["cp", "-r", os.path.join(ROOT, "blueprints", "openclaw"), src], check=True)
    digest = subprocess.run([sys.executable, "-I", os.path.join(ROOT, "tools", "blueprint_digest.py"), src], check=True,
                            stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    with open(os.path.join(project, "group_vars", "nemoclaw.yml"), "w") as fh:
        yaml.safe_dump({
            "nemoclaw_agents": [{"name": "openclaw", "agent": "openclaw", "blueprint": BLUEPRINT, "blueprint_digest": digest}],
            "nemoclaw_secrets": group["vars"]["nemoclaw_secrets"],
            "nemoclaw_agent": [],
        }, fh)
