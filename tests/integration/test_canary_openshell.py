# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""canary_upgrade.yml when the desired OpenShell version changes, then decommission.yml's gateway
branches, on a two-host ``scripts/simfleet`` fleet whose OpenShell the collection installs itself.

``scripts/build-sim-packages`` packages the simulator as OpenShell 0.0.112 (A) and 0.0.114 (B):
release archives and .debs whose wrappers report that version. The fleet's own gateways are
stopped; each host's host_vars then install A with the openshell role (sim-1, the canary, from the
archive; sim-2 from the .deb unpacked with ``dpkg-deb -x`` into a root) and run its gateway as a
detached process (supervisor ``process``) on the same port and database. Steps, one fleet:

1. site.yml: OpenShell A, one OpenClaw agent per host, a file in each agent's home;
2. ``openshell_version`` B in the inventory: canary_upgrade.yml installs B on sim-1 first (sha256
   checked), restarts its gateway, the sandboxes are Ready again, then sim-2; files kept;
3. decommission.yml with the gateway: refused for the ``systemd_user`` supervisor on a host without
   systemd before anything changes; then stopped, executables removed, backups and database kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import ROOT, command_words  # noqa: E402  pylint: disable=wrong-import-position
from simfleet_runner import SimFleet  # noqa: E402  pylint: disable=wrong-import-position

A, B = "0.0.112", "0.0.114"
DEB_HOST = "sim-2"
FILE = ".openclaw/memory.md"


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """{version: {"archive": (path, sha256), "deb": (path, sha256)}} for A and B."""
    out = {}
    for version in (A, B):
        d = tmp_path_factory.mktemp("pkg-" + version)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "build-sim-packages.py"), str(d), version],
                       check=True, stdout=subprocess.PIPE)
        out[version] = {}
        for kind, name in (("archive", "openshell-sim-%s-linux.tar.gz" % version), ("deb", "openshell_%s_all.deb" % version)):
            with open(os.path.join(str(d), name + ".sha256")) as fh:
                out[version][kind] = (os.path.join(str(d), name), fh.read().split()[0])
    return out


def prefix(fleet, host):
    if host == DEB_HOST:
        return os.path.join(fleet.root(host), "debroot", "usr")
    return os.path.join(fleet.root(host), "prefix")


def host_vars(fleet, packages, host, version):
    """The inventory of ``host`` when the collection installs OpenShell ``version`` and runs its gateway."""
    kind = "deb" if host == DEB_HOST else "archive"
    src, sha = packages[version][kind]
    env = fleet.env(host)
    env.pop("OPENSHELL_SIM_VERSION")  # the installed wrappers report their package's version
    out = {"openshell_version": version, "openshell_install_method": kind, "openshell_gateway_supervisor": "process",
           "openshell_package_src": src, "openshell_package_sha256": sha, "nemoclaw_environment": env,
           "openshell_path": os.path.join(prefix(fleet, host), "bin", "openshell"),
           "openshell_gateway_path": os.path.join(prefix(fleet, host), "bin", "openshell-gateway")}
    if kind == "deb":
        out["openshell_deb_install_root"] = os.path.join(fleet.root(host), "debroot")
    else:
        out["openshell_install_prefix"] = prefix(fleet, host)
    return out


def cli(fleet, host, *argv):
    env = dict(os.environ)
    env.update(host_vars_env(fleet, host))
    return subprocess.run([os.path.join(prefix(fleet, host), "bin", "openshell")] + list(argv), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)


def host_vars_env(fleet, host):
    env = fleet.env(host)
    env.pop("OPENSHELL_SIM_VERSION")
    return env


def installed(fleet, host):
    out = cli(fleet, host, "--version")
    return out.stdout.split()[-1] if out.returncode == 0 and out.stdout.split() else None


def served(fleet, host):
    return json.loads(cli(fleet, host, "status", "-o", "json").stdout)["version"]


def pid(fleet, host):
    try:
        with open(os.path.join(fleet.root(host), "state", "openshell", "gateway.pid")) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def alive(number):
    try:
        with open("/proc/%d/cmdline" % number, "rb") as fh:
            return b"gateway" in fh.read()
    except OSError:
        return False


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, packages):
    f = SimFleet(tmp_path_factory.mktemp("canary-openshell"), hosts=2, version=A)
    try:
        f.down()  # the collection runs the gateways from here on
        for host in f.hosts:
            f.set_vars(host, host_vars(f, packages, host, A))
        step = f.run()
        assert step.rc == 0, step.stdout[-6000:]
        for host in f.hosts:
            assert installed(f, host) == A and served(f, host) == A, host
            f.sh(host, "mkdir -p .openclaw && echo 'remember %s' > %s" % (host, FILE))
        yield f
    finally:
        for host in f.hosts:
            number = pid(f, host)
            if number and alive(number):
                os.kill(number, signal.SIGTERM)
                for _i in range(50):
                    if not alive(number):
                        break
                    time.sleep(0.05)
        f.down()
    assert f.invalid_calls() == []


def test_a_new_openshell_version_is_installed_canary_first(fleet, packages):
    before = dict((host, pid(fleet, host)) for host in fleet.hosts)
    for host in fleet.hosts:
        fleet.set_vars(host, host_vars(fleet, packages, host, B))
    step = fleet.run("playbooks/canary_upgrade.yml")
    assert step.rc == 0, step.stdout[-6000:]
    for host in fleet.hosts:
        assert installed(fleet, host) == B and served(fleet, host) == B, host
        assert pid(fleet, host) != before[host] and not alive(before[host]), host
        assert fleet.sandbox(host)["phase"] == "Ready"
        assert fleet.sh(host, "cat %s" % FILE).strip() == "remember %s" % host
    # The package was checked before it was installed, on the canary first.
    installs = [r["host"] for r in step.results if r["task"].endswith(("Unpack the release archive",
                                                                      "Unpack the Debian package with dpkg-deb -x"))
                and r["result"].get("changed")]
    assert installs == ["sim-1", DEB_HOST]
    checked = [r["host"] for r in step.results if r["task"].endswith("Refuse a package whose sha256 does not match")
               and r["status"] == "skipped"]
    assert checked == ["sim-1", DEB_HOST]
    # The sandboxes were not replaced: the gateway kept its database.
    assert [c for c in step.mutating if command_words(c["argv"])[:2] in (("sandbox", "delete"), ("sandbox", "create"))] == []

    again = fleet.run(check=True)
    assert again.rc == 0 and again.changed_count() == 0, [(r["task"], r["host"]) for r in again.results
                                                          if r["result"].get("changed")]


def test_decommission_stops_and_removes_the_gateway(fleet):
    pids = dict((host, pid(fleet, host)) for host in fleet.hosts)
    # The systemd_user supervisor, which these hosts (no systemd) cannot have: refused before any change.
    refused = fleet.run("playbooks/decommission.yml", limit="sim-1",
                        extra_vars={"decommission_gateway": True, "openshell_gateway_supervisor": "systemd_user"})
    assert refused.rc != 0 and refused.mutating == []
    msg = " ".join(r["result"].get("msg", "") for r in refused.results if r["status"] == "failed")
    assert "openshell_gateway_supervisor=systemd_user needs systemd" in msg and "Nothing was changed" in msg, msg
    assert alive(pids["sim-1"])

    step = fleet.run("playbooks/decommission.yml", limit="sim-1,sim-2", extra_vars={"decommission_gateway": True})
    assert step.rc == 0, step.stdout[-6000:]
    for host in fleet.hosts:
        assert step.result("Stop the gateway process (process supervisor)", host)["changed"]
        assert not alive(pids[host]) and pid(fleet, host) is None, host
        assert not os.path.exists(os.path.join(prefix(fleet, host), "bin", "openshell"))
        assert not os.path.exists(os.path.join(prefix(fleet, host), "bin", "openshell-gateway"))
        for rel in ("config/openshell/gateway.toml", "state/openshell/gateway.log"):
            assert not os.path.exists(os.path.join(fleet.root(host), rel)), rel
        assert os.listdir(os.path.join(fleet.state_dir(host), "backups"))
        assert os.path.exists(os.path.join(fleet.root(host), "state", "openshell", "gateway", "openshell.db"))
    assert not os.path.exists(os.path.join(fleet.root(DEB_HOST), "debroot", "usr", "lib", "systemd", "user",
                                           "openshell-gateway.service"))
