# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Fixtures and helpers shared by the molecule testinfra verifiers (molecule/*/molecule.yml: verifier).

Not a test module: the conftest.py next to it and each scenario's tests/conftest.py import it.

testinfra reaches every host of molecule's inventory over SSH, as the host's own user
(connection=ansible with molecule's inventory: ansible_connection=ssh, the instance's address,
port 2222, user and key). Host variables come from that inventory unrendered, so paths are
derived from the host's user and home as seen on the host.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex

import pytest
import yaml

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SIM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def hostvars(host):
    """The host's inventory variables (shared/group_vars/nemoclaw.yml + molecule's connection variables)."""
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def account(host):
    """The host's unix user as the host sees it: {'name', 'uid', 'home'}."""
    user = host.user()
    return {"name": user.name, "uid": user.uid, "home": user.home}


@pytest.fixture(scope="module")
def paths(account):
    """The paths the collection writes on the host (role defaults under the user's home)."""
    home = account["home"]
    return {
        "home": home,
        "openshell": home + "/.local/bin/openshell",
        "config_dir": home + "/.config/openshell",
        "state_dir": home + "/.local/state/openshell",
        "agentfleet_state": home + "/.local/state/agentfleet-nemoclaw",
        "gateway_db_dir": home + "/.local/state/openshell/gateway",
        "faults": home + "/sim-faults.json",
    }


@pytest.fixture(scope="module")
def gateway_address(hostvars):
    """(address, port) the host's gateway listens on: its own loopback address, 17600 + last octet."""
    address = hostvars["ansible_host"]
    return address, 17600 + int(address.rsplit(".", 1)[1])


@pytest.fixture(scope="module")
def secret_values(hostvars):
    """The credential values of the scenario (nemoclaw_secrets), literal strings."""
    values = list(hostvars["nemoclaw_secrets"].values())
    assert values and all(isinstance(v, str) and "{{" not in v and len(v) >= 16 for v in values), values
    return values


@pytest.fixture(scope="module")
def expected_blueprint(host, hostvars):
    """{'name', 'version', 'digest16'} the host's sandbox must carry.

    Default: the inventory's (nemoclaw_agents' openclaw entry: blueprints/openclaw, its
    blueprint_digest). A scenario that
    moves hosts elsewhere (canary) writes <ephemeral dir>/expected-blueprints.json,
    {host: {name, version, digest}}.
    """
    name = hostvars["inventory_hostname"]
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "expected-blueprints.json")
    if os.path.exists(path):
        with open(path) as fh:
            expected = json.load(fh)
        if name in expected:
            entry = expected[name]
            return {"name": entry["name"], "version": entry["version"],
                    "digest16": entry["digest"].split(":", 1)[-1][:16]}
    with open(os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "blueprints", "openclaw", "blueprint.yaml")) as fh:
        version = yaml.safe_load(fh)["version"]
    entry = [a for a in hostvars["nemoclaw_agents"] if a["name"] == "openclaw"][0]
    return {"name": "openclaw", "version": version,
            "digest16": entry["blueprint_digest"].split(":", 1)[-1][:16]}


class Cli(object):
    """The host's openshell CLI (the simulator, installed by the openshell role), run as the host user."""

    def __init__(self, host, path):
        self.host = host
        self.path = path

    def run(self, *args):
        cmd = "OPENSHELL_SIM_PYTHON=%s %s %s" % (SIM_PYTHON, shlex.quote(self.path),
                                                 " ".join(shlex.quote(a) for a in args))
        return self.host.run(cmd)

    def ok(self, *args):
        res = self.run(*args)
        assert res.rc == 0, "openshell %s: rc=%s\n%s%s" % (" ".join(args), res.rc, res.stdout, res.stderr)
        return ANSI.sub("", res.stdout)

    def json(self, *args):
        return json.loads(self.ok(*args))


@pytest.fixture(scope="module")
def cli(host, paths):
    return Cli(host, paths["openshell"])


def encoded_pattern_cmd(values):
    """A shell snippet printing the values one per line without any of them on a command line.

    The values travel base64-encoded, so no process of the host (not even this test's shell)
    carries a credential value in its argv.
    """
    blob = base64.b64encode("\n".join(values).encode()).decode()
    return "printf '%%s' %s | base64 -d" % shlex.quote(blob)
