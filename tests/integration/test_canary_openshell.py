# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""canary_upgrade.yml when the target blueprint needs a newer OpenShell, then decommission.yml's
gateway branches, on five simulated hosts whose OpenShell the collection installed itself.

``scripts/build-sim-packages`` packages the simulator as OpenShell 0.0.112 (A) and 0.0.114 (B):
release archives and .debs whose wrappers report that version (``openshell --version`` and the
gateway's ``status``). Each host starts with A, installed by the openshell role (host1-3 and
host5 from the archive, host4 from the .deb unpacked with ``dpkg-deb -x`` into a root) and its
gateway run by the role as a detached process (supervisor ``process``); PATH holds no
simulator. The target blueprint is openclaw 0.2.0 with ``min_openshell_version: 0.0.114``, so
the canary must install B (sha256 checked), restart each gateway (its sqlite database stays),
wait for the sandboxes, then replace them. Steps, one fleet:

1. roll out A and openclaw 0.1.0;
2. a wrong sha256 for B: the canary (host1) fails before installing, nothing changes anywhere;
3. the right sha256: every host on B and 0.2.0, no lease left; 4. again on host1 and host4: changed=0;
5. decommission.yml with the gateway on host4 (deb root) and host5 (archive): gateway stopped,
   executables removed, backups kept; systemd_user on a host without systemd (host3) fails
   clearly before anything changes there.
The host lock's refusal of a foreign lease is tested in test_canary.py (cheaper, no rollout).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import ROOT, command_words, lease_path  # noqa: E402  pylint: disable=wrong-import-position
from test_canary import (  # noqa: E402  pylint: disable=wrong-import-position
    ROLES, CanaryFleet, artifact_digest, canary_vars, labels, make_blueprint, state_file)

A, B = "0.0.112", "0.0.114"
OPENSHELL_ROLE = {"role": "agentfleet.nemoclaw.openshell"}
DEB_HOST = "host4"


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """{version: {"archive": (path, sha256), "deb": (path, sha256)}} for A and B."""
    out = {}
    for version in (A, B):
        d = tmp_path_factory.mktemp("pkg-" + version)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "build-sim-packages.py"), str(d), version],
                       check=True, stdout=subprocess.PIPE)
        out[version] = {}
        for kind, name in (("archive", "openshell-sim-%s-linux.tar.gz" % version),
                           ("deb", "openshell_%s_all.deb" % version)):
            with open(os.path.join(str(d), name + ".sha256")) as fh:
                out[version][kind] = (os.path.join(str(d), name), fh.read().split()[0])
    return out


class PackagedFleet(CanaryFleet):
    """Simulated hosts with no gateway yet: the openshell role installs OpenShell and runs the gateway."""

    def __init__(self, workdir, count, packages):
        super(PackagedFleet, self).__init__(workdir, count=count, gateway=False)
        self.packages = packages
        self.package_version = A

    def prefix(self, name):
        if name == DEB_HOST:
            return os.path.join(self.hosts[name].root, "debroot", "usr")
        return os.path.join(self.hosts[name].root, "prefix")

    def openshell(self, name):
        return os.path.join(self.prefix(name), "bin", "openshell")

    def inventory(self, host_vars=None):
        merged = {}
        for name in self.hosts:
            kind = "deb" if name == DEB_HOST else "archive"
            src, sha = self.packages[self.package_version][kind]
            hv = {"openshell_version": A, "openshell_install_method": kind, "openshell_gateway_supervisor": "process",
                  "openshell_package_src": src, "openshell_package_sha256": sha,
                  "openshell_path": self.openshell(name),
                  "openshell_gateway_path": os.path.join(self.prefix(name), "bin", "openshell-gateway")}
            if kind == "deb":
                hv["openshell_deb_install_root"] = os.path.join(self.hosts[name].root, "debroot")
            else:
                hv["openshell_install_prefix"] = self.prefix(name)
            hv.update((host_vars or {}).get(name, {}))
            merged[name] = hv
        return super(PackagedFleet, self).inventory(merged)

    def pid(self, name):
        try:
            with open(os.path.join(self.hosts[name].root, "state", "openshell", "gateway.pid")) as fh:
                return int(fh.read().strip())
        except (OSError, ValueError):
            return None

    def cli(self, name, *argv):
        return subprocess.run([self.openshell(name)] + list(argv), env=self.hosts[name].env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)

    def version(self, name):
        out = self.cli(name, "--version")
        return out.stdout.split()[-1] if out.returncode == 0 and out.stdout.split() else None

    def served(self, name):
        return json.loads(self.cli(name, "status", "-o", "json").stdout)

    def stop(self):
        for name in self.hosts:
            pid = self.pid(name)
            if pid and alive(pid):
                os.kill(pid, signal.SIGTERM)
                for _i in range(50):
                    if not alive(pid):
                        break
                    time.sleep(0.05)


def alive(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return b"gateway" in fh.read()
    except OSError:
        return False


def report(tmp_path, step):
    run_id = re.search(r"# Canary rollout (\d{8}T\d{6}Z)", step.stdout).group(1)
    with open(str(tmp_path / "reports" / ("canary-%s.json" % run_id))) as fh:
        return dict((h["host"], h) for h in json.load(fh)["hosts"])


@pytest.fixture
def fleet(tmp_path, packages):
    with PackagedFleet(tmp_path / "fleet", 5, packages).checked() as f:
        yield f


def test_canary_upgrades_openshell_then_decommission_removes_the_gateway(fleet, packages, tmp_path):
    # 1. OpenShell A from the collection's own install, gateways run by the role, openclaw 0.1.0.
    step = fleet.run([], play_extra={"roles": [OPENSHELL_ROLE] + ROLES["roles"]})
    assert step.rc == 0, step.stdout[-6000:]
    pids = {}
    for name in fleet.hosts:
        assert fleet.version(name) == A and fleet.served(name)["version"] == A, name
        assert labels(fleet.hosts[name])["nemoclaw.blueprint/version"] == "0.1.0"
        pids[name] = fleet.pid(name)
        assert pids[name] and alive(pids[name])
    # Someone else's provider: it must survive the gateway restarts (same sqlite database).
    assert fleet.cli("host2", "provider", "create", "--name", "team-github", "--type", "github",
                     "--credential", "GITHUB_TOKEN=ghp-x").returncode == 0

    # The target: openclaw 0.2.0, which needs OpenShell B. The inventory names B's packages.
    src, _digest = make_blueprint(tmp_path)
    with open(os.path.join(src, "blueprint.yaml")) as fh:
        text = fh.read()
    with open(os.path.join(src, "blueprint.yaml"), "w") as fh:
        fh.write(re.sub(r'(?m)^min_openshell_version: ".*"$', 'min_openshell_version: "%s"' % B, text))
    digest = artifact_digest(src)
    with open(os.path.join(src, "blueprint.yaml")) as fh:
        assert yaml.safe_load(fh)["min_openshell_version"] == B
    fleet.package_version = B
    fleet.canary_members = ("host1",)
    ev = canary_vars(tmp_path, src, digest, target={"openshell_version": B}, canary_serial=["100%"])

    # 2. A wrong sha256 for B: the canary host fails before installing; no host changes at all.
    bad = dict(ev, canary_target=dict(ev["canary_target"], openshell_package_sha256="0" * 64))
    step = fleet.run_site(playbook="playbooks/canary_upgrade.yml", extra_vars=bad)
    assert step.rc != 0
    assert "canary stopped at host1: openshell: Checksum mismatch" in step.stdout
    assert "expected sha256 %s" % ("0" * 64) in step.stdout and "host unchanged" in step.stdout
    assert step.mutating == [], step.mutating
    rows = report(tmp_path, step)
    assert rows["host1"]["result"] == "failed, not changed"
    assert [rows["host%d" % i]["result"] for i in range(2, 6)] == ["not started"] * 4
    for name in fleet.hosts:
        assert fleet.version(name) == A and fleet.pid(name) == pids[name], name
        assert not os.path.exists(state_file(fleet.hosts[name])) and not os.path.exists(lease_path(fleet.hosts[name]))

    # 3. The right sha256 (the inventory's): B installed and served, sandboxes on 0.2.0, state kept.
    step = fleet.run_site(playbook="playbooks/canary_upgrade.yml", extra_vars=ev)
    assert step.rc == 0, step.stdout[-6000:]
    rows = report(tmp_path, step)
    for name, sim in fleet.hosts.items():
        assert fleet.version(name) == B, name
        status = fleet.served(name)
        assert status["status"] == "connected" and status["version"] == B, (name, status)
        assert fleet.pid(name) != pids[name] and not alive(pids[name]), name
        lab = labels(sim)
        assert lab["nemoclaw.blueprint/version"] == "0.2.0" and lab["nemoclaw.blueprint/digest"] == digest[7:23]
        assert sim.json("sandbox", "get", "openclaw", "-o", "json")["phase"] == "Ready"
        with open(state_file(sim)) as fh:
            assert json.load(fh)["status"] == "upgraded"
        assert rows[name]["result"] == "upgraded" and rows[name]["openshell"] == "%s -> %s" % (A, B)
        assert not os.path.exists(lease_path(sim))
    assert "team-github" in [p["name"] for p in json.loads(fleet.cli("host2", "provider", "list", "-o", "json").stdout)]
    # The package was checked on every host before it was installed.
    checked = [r["host"] for r in step.results if r["task"].endswith("Refuse a package whose sha256 does not match")
               and r["status"] == "skipped"]
    assert sorted(checked) == sorted(fleet.hosts)
    # host1 (canary group) first, then the rest.
    order = []
    for res in step.results:
        if res["task"].endswith(("Unpack the release archive", "Unpack the Debian package with dpkg-deb -x")) \
                and res["result"].get("changed"):
            order.append(res["host"])
    assert order[0] == "host1" and sorted(order[1:]) == ["host2", "host3", "host4", "host5"]

    # 4. Again: nothing to do (no install, no restart, only reads and in-sandbox probes). On the canary
    # (archive install) and host4 (.deb into a root) only: the other hosts are installed like host1,
    # and test_canary.py runs a whole fleet's second canary.
    pids = dict((name, fleet.pid(name)) for name in fleet.hosts)
    again = fleet.run_site(playbook="playbooks/canary_upgrade.yml", extra_vars=ev, limit="host1,host4")
    assert again.rc == 0, again.stdout[-4000:]
    assert again.changed_count() == 0, [(r["task"], r["host"]) for r in again.results if r["result"].get("changed")]
    assert set(command_words(c["argv"])[:2] for c in again.mutating) <= {("sandbox", "exec")}
    assert dict((name, fleet.pid(name)) for name in fleet.hosts) == pids

    # 5. decommission.yml with the gateway, process supervisor: deb root (host4) and archive (host5);
    # on host3 the systemd_user supervisor, which this host (no systemd) cannot have: a clear failure
    # before anything changes there.
    step = fleet.run_site(playbook="playbooks/decommission.yml", limit="host3,host4,host5",
                          extra_vars={"decommission_gateway": True},
                          host_vars={"host3": {"openshell_gateway_supervisor": "systemd_user"}})
    assert step.rc != 0
    msg = " ".join(r["result"].get("msg", "") for r in step.results if r["host"] == "host3" and r["status"] == "failed")
    assert "openshell_gateway_supervisor=systemd_user needs systemd" in msg and "Nothing was changed" in msg, msg
    assert [c for c in step.mutating if c["host"] == "host3"] == []
    assert labels(fleet.hosts["host3"])["nemoclaw.blueprint/version"] == "0.2.0" and alive(pids["host3"])
    for name in ("host4", "host5"):
        sim = fleet.hosts[name]
        assert [r["task"] for r in step.results if r["host"] == name and r["status"] == "failed"] == []
        assert step.result("Stop the gateway process (process supervisor)", name)["changed"]
        assert not alive(pids[name]) and fleet.pid(name) is None, name
        assert not os.path.exists(fleet.openshell(name))
        assert not os.path.exists(os.path.join(fleet.prefix(name), "bin", "openshell-gateway"))
        for rel in ("config/openshell/gateway.toml", "state/openshell/gateway.log"):
            assert not os.path.exists(os.path.join(sim.root, rel)), rel
        backups = os.listdir(os.path.join(os.path.dirname(state_file(sim)), "backups"))
        assert [b for b in backups if "-decommission-" in b] and [b for b in backups if "-0.1.0-" in b], backups
        assert os.path.exists(state_file(sim)) and os.path.exists(sim.db_path)  # the gateway's database is kept
    assert not os.path.exists(os.path.join(fleet.hosts["host4"].root, "debroot", "usr", "lib", "systemd", "user",
                                           "openshell-gateway.service"))
    assert {c["host"] for c in step.calls} <= {"host3", "host4", "host5"}
    assert [n for n, sim in fleet.hosts.items() if os.path.exists(lease_path(sim))] == []
