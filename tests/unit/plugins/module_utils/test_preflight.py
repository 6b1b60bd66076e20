# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Preflight: measuring from a host root, and pure evaluation of measured values."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import preflight as pf

HOSTROOT = Path(__file__).resolve().parents[2] / "fixtures" / "hostroot"


def good():
    """Measured values of a ready host."""
    return {
        "platform": {"system": "Linux", "arch": "x86_64", "kernel": "6.8.0", "pretty_name": "Ubuntu 24.04.1 LTS"},
        "glibc": "2.39", "cpus": 16, "memory": {"total_mib": 65536, "swap_mib": 8192, "swapfile": False},
        "disks": {"state": {"path": "/var/lib/x", "checked": "/var/lib", "free_gib": 100.0, "error": None}},
        "engine": {"name": "docker", "found": True, "reachable": True, "version": "28.3.2", "cgroup_version": "v2"},
        "lsm": ["lockdown", "capability", "landlock"], "seccomp": {"filter": True, "actions": ["errno"]},
        "cgroup": "v2", "port": {"port": 8080, "listening": False, "owners": []},
        "dns": {"integrate.api.nvidia.com": {"addresses": ["1.2.3.4"], "error": None}},
        "systemd": {"running": True, "user": "agent", "linger": True},
    }


def statuses(measured, **settings):
    return dict((c["id"], c["status"]) for c in pf.evaluate(measured, settings))


def test_all_pass_and_ids_stable():
    checks = pf.evaluate(good(), {"supervisor": "systemd-user"})
    assert [c["id"] for c in checks] == [
        "platform.os", "platform.arch", "platform.glibc", "cpu.count", "memory.total", "swap", "disk.state",
        "engine.docker", "kernel.landlock", "kernel.seccomp", "kernel.cgroup_v2", "gateway.port",
        "dns.integrate.api.nvidia.com", "systemd.running", "systemd.linger"]
    assert set(c["status"] for c in checks) == {"pass"}
    assert pf.report(checks)["passed"] is True


@pytest.mark.parametrize("change,settings,cid,status", [
    (("cpus", 3), {}, "cpu.count", "fail"),
    (("cpus", 4), {}, "cpu.count", "pass"),
    (("cpus", None), {}, "cpu.count", "fail"),
    (("glibc", "2.27"), {}, "platform.glibc", "fail"),
    (("glibc", "2.28"), {}, "platform.glibc", "pass"),
    (("glibc", None), {}, "platform.glibc", "fail"),
    (("memory", {"total_mib": 7000, "swap_mib": 0}), {}, "memory.total", "fail"),
    (("memory", {"total_mib": 12000, "swap_mib": 0}), {}, "memory.total", "warn"),
    (("memory", {"total_mib": 12000, "swap_mib": 0}), {"recommended_memory_gib": 8}, "memory.total", "pass"),
    (("memory", {"total_mib": 10000, "swap_mib": 0}), {}, "swap", "warn"),
    (("memory", {"total_mib": 10000, "swap_mib": 2048}), {}, "swap", "pass"),
    (("memory", None), {}, "memory.total", "fail"),
    (("lsm", ["capability"]), {}, "kernel.landlock", "warn"),
    (("lsm", ["capability"]), {"require_landlock": True}, "kernel.landlock", "fail"),
    (("lsm", None), {}, "kernel.landlock", "warn"),
    (("seccomp", {"filter": False, "status_field": False}), {}, "kernel.seccomp", "fail"),
    (("seccomp", {"filter": False, "status_field": True}), {}, "kernel.seccomp", "warn"),
    (("cgroup", "v1"), {}, "kernel.cgroup_v2", "warn"),
    (("cgroup", "hybrid"), {"compute_driver": "podman"}, "kernel.cgroup_v2", "fail"),
    (("platform", {"system": "Darwin", "arch": "arm64"}), {}, "platform.os", "fail"),
    (("platform", {"system": "Linux", "arch": "ppc64le"}), {}, "platform.arch", "fail"),
    (("port", {"listening": True, "owners": [{"pid": 9, "name": "nginx"}]}), {}, "gateway.port", "fail"),
    (("port", {"listening": True, "owners": []}), {}, "gateway.port", "fail"),
    (("port", {"listening": True, "owners": [{"pid": 9, "name": "openshell-gateway"}]}), {}, "gateway.port", "pass"),
    (("dns", {"x.invalid": {"addresses": [], "error": "Name or service not known"}}), {}, "dns.x.invalid", "fail"),
    (("systemd", {"running": True, "user": "a", "linger": False}), {"supervisor": "systemd-user"}, "systemd.linger", "fail"),
    (("systemd", {"running": False, "user": "a", "linger": True}), {"supervisor": "systemd-system"}, "systemd.running", "fail"),
])
def test_single_check(change, settings, cid, status):
    m = good()
    m[change[0]] = change[1]
    assert statuses(m, **settings)[cid] == status


@pytest.mark.parametrize("free,status", [(10.0, "fail"), (20.0, "warn"), (39.9, "warn"), (40.0, "pass")])
def test_disk_thresholds(free, status):
    m = good()
    m["disks"]["state"]["free_gib"] = free
    assert statuses(m)["disk.state"] == status


def test_disk_unmeasurable_and_names():
    m = good()
    m["disks"] = {"my dir!": {"path": "/x", "free_gib": None, "error": "EACCES"}}
    assert statuses(m)["disk.my_dir"] == "fail"


@pytest.mark.parametrize("engine,driver,status,word", [
    ({"found": False}, "docker", "fail", "not installed"),
    ({"found": True, "reachable": False, "error": "Cannot connect"}, "docker", "fail", "Cannot connect"),
    ({"found": True, "reachable": True, "version": "27.5.1"}, "docker", "fail", "older"),
    ({"found": True, "reachable": True, "version": "5.0.0", "cgroup_version": "v1"}, "podman", "fail", "cgroups v2"),
    ({"found": True, "reachable": True, "version": "4.9.3", "cgroup_version": "v2"}, "podman", "fail", "older"),
    ({"found": True, "reachable": True, "version": "5.2.0", "cgroup_version": "v2"}, "podman", "pass", "reachable"),
])
def test_engine(engine, driver, status, word):
    m = good()
    m["engine"] = engine
    check = [c for c in pf.evaluate(m, {"compute_driver": driver}) if c["id"] == "engine.%s" % driver][0]
    assert check["status"] == status and word in check["message"]


def test_no_systemd_checks_without_supervisor():
    assert not [i for i in statuses(good()) if i.startswith("systemd.")]
    assert "systemd.linger" not in statuses(good(), supervisor="systemd-system")


def test_check_shape_and_report():
    m = good()
    m["cpus"] = 2
    m["lsm"] = ["capability"]
    checks = pf.evaluate(m)
    for c in checks:
        assert set(c) == {"id", "status", "value", "threshold", "message"} and c["status"] in ("pass", "warn", "fail")
    rep = pf.report(checks)
    assert rep["failed"] == ["cpu.count"] and rep["warnings"] == ["kernel.landlock"] and rep["passed"] is False
    json.dumps(rep)


# ------------------------------------------------------------------- measuring

def test_measure_fixture_trees():
    host = pf.HostRoot(str(HOSTROOT / "preflight-warn"))
    assert not host.is_live
    assert pf.measure_platform(host)["arch"] == "aarch64"
    assert pf.measure_platform(host)["pretty_name"] == "Ubuntu 22.04.4 LTS"
    assert pf.measure_glibc(host) == "2.35"
    assert pf.measure_cpus(host) == 8
    assert pf.measure_memory(host) == {"total_mib": 10240, "swap_mib": 0, "swapfile": False}
    assert pf.measure_cgroup(host) == "v1"
    assert "landlock" not in pf.measure_lsm(host)
    assert pf.measure_seccomp(host)["filter"] is True
    assert pf.measure_port(host, 8080) == {"port": 8080, "listening": False, "owners": []}
    fail = pf.HostRoot(str(HOSTROOT / "preflight-fail"))
    assert pf.listening_inodes(fail, 8080) == ["3112"]
    assert pf.measure_systemd(fail, "agent") == {"running": True, "user": "agent", "linger": False}
    assert pf.measure_systemd(pf.HostRoot(str(HOSTROOT / "preflight-pass")), "agent")["linger"] is True


def test_socket_owners_searches_the_likely_processes_first(tmp_path):
    for pid, comm, fds in (("100", "nginx", {"3": "socket:[555]"}), ("200", "openshell-gatew", {"4": "socket:[777]"}),
                           ("300", "bash", {"0": "/dev/null", "1": "socket:[777]"})):
        fd_dir = tmp_path / "proc" / pid / "fd"
        fd_dir.mkdir(parents=True)
        (tmp_path / "proc" / pid / "comm").write_text(comm + "\n")
        for fd, target in fds.items():
            os.symlink(target, str(fd_dir / fd))

    class Counting(pf.HostRoot):
        listed = []

        def listdir(self, path):
            self.listed.append(path)
            return super(Counting, self).listdir(path)

    host = Counting(str(tmp_path))
    # The gateway holds it: only its descriptors are read (not bash's, which shares the socket).
    assert pf.socket_owners(host, ["777"], ["openshell-gateway"]) == [{"pid": 200, "name": "openshell-gatew"}]
    assert [p for p in host.listed if p.endswith("/fd")] == ["/proc/200/fd"]
    # Someone else holds it: every process is searched.
    assert pf.socket_owners(host, ["555"], ["openshell-gateway"]) == [{"pid": 100, "name": "nginx"}]
    # Without names, every holder.
    assert pf.socket_owners(host, ["777"]) == [{"pid": 200, "name": "openshell-gatew"}, {"pid": 300, "name": "bash"}]


def test_measure_empty_root(tmp_path):
    host = pf.HostRoot(str(tmp_path))
    assert pf.measure_glibc(host) is None and pf.measure_cpus(host) is None and pf.measure_memory(host) is None
    assert pf.measure_lsm(host) is None and pf.measure_cgroup(host) is None
    assert pf.measure_platform(host)["system"] is None
    disk = pf.measure_disk(host, "/var/lib/not/yet")
    assert disk["checked"] == "/" and disk["free_gib"] is not None


def test_measure_live_host_reads_without_error():
    host = pf.HostRoot("/")
    assert host.is_live and pf.measure_platform(host)["system"] == "Linux"
    assert pf.measure_cpus(host) >= 1


@pytest.mark.parametrize("text,count", [("0-7\n", 8), ("0,2-3", 3), ("0", 1), ("", None), ("x", None)])
def test_parse_cpu_list(text, count):
    assert pf.parse_cpu_list(text) == count


@pytest.mark.parametrize("endpoint,host", [
    ("https://integrate.api.nvidia.com/v1", "integrate.api.nvidia.com"),
    ("http://user@LLM.local:8000/v1", "llm.local"), ("inference.local", "inference.local"),
    ("http://[::1]:8000/", "::1"), ("host.openshell.internal:8080", "host.openshell.internal"),
])
def test_endpoint_host(endpoint, host):
    assert pf.endpoint_host(endpoint) == host


def test_engine_info_parsing():
    d = pf.parse_engine_info("docker", 0, (HOSTROOT / "preflight-pass" / "docker-info.json").read_text(), "")
    assert d["reachable"] and d["version"] == "28.3.2" and d["cgroup_version"] == "v2"
    down = pf.parse_engine_info("docker", 1, (HOSTROOT / "preflight-fail" / "docker-down.json").read_text(), "")
    assert not down["reachable"] and "Cannot connect" in down["error"]
    garbage = pf.parse_engine_info("docker", 1, "not json", "permission denied while trying to connect")
    assert not garbage["reachable"] and "permission denied" in garbage["error"]
    p = pf.parse_engine_info("podman", 0, (HOSTROOT / "preflight-pass" / "podman-info.json").read_text(), "")
    assert p["reachable"] and p["version"] == "5.4.2" and p["cgroup_version"] == "v2" and p["rootless"] is True
    assert pf.parse_engine_info("podman", None, "", "", found=False)["error"] == "podman not found"


def test_glibc_banner():
    assert pf.glibc_from_text(b"xx GNU C Library (GNU libc) stable release version 2.41.\n") == "2.41"
    assert pf.glibc_from_text(b"musl libc") is None


def test_compute_driver_none_checks_no_engine():
    checks = pf.eval_engine({}, {"compute_driver": "none"})
    assert [(c["id"], c["status"]) for c in checks] == [("engine.none", "pass")]


def test_gateway_port_held_by_our_gateway_whose_comm_is_truncated():
    m = {"port": {"listening": True, "owners": [{"pid": 42, "name": "openshell-gatew"}]}}
    checks = pf.eval_port(m, {"gateway_port": 17670, "gateway_process_names": ["openshell-gateway"]})
    assert [(c["id"], c["status"]) for c in checks] == [("gateway.port", "pass")]
