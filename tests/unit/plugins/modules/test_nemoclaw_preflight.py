# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nemoclaw_preflight run in-process against hostroot fixture trees and a fake docker/podman."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from ansible.module_utils import basic

from ansible_collections.agentfleet.nemoclaw.plugins.modules import nemoclaw_preflight

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moduleexit import patch_exits, run_main  # noqa: E402  pylint: disable=wrong-import-position

HOSTROOT = Path(__file__).resolve().parents[2] / "fixtures" / "hostroot"
FAKE = HOSTROOT / "fake-cli"

EXPECTED_IDS = ["platform.os", "platform.arch", "platform.glibc", "cpu.count", "memory.total", "swap", "disk.state",
                "engine.docker", "kernel.landlock", "kernel.seccomp", "kernel.cgroup_v2", "gateway.port",
                "dns.localhost"]


@pytest.fixture(autouse=True)
def _capture(monkeypatch):
    patch_exits(monkeypatch)


def run(monkeypatch, case, root=None, **args):
    case_dir = Path(root) if root else HOSTROOT / case
    monkeypatch.setenv("FAKE_CLI_CASE", str(case_dir / "fake-cli.json"))
    params = {"root": str(case_dir), "docker_path": str(FAKE), "podman_path": str(FAKE), "user": "agent",
              "state_dirs": {"state": str(case_dir / "var" / "lib" / "openshell")},
              "min_free_disk_gib": 0, "recommended_free_disk_gib": 0, "dns_hosts": ["http://localhost:8000/v1"]}
    params.update(args)
    return run_main(nemoclaw_preflight.main, params)


def by_id(result):
    return dict((c["id"], c) for c in result["report"]["checks"])


def test_pass_host(monkeypatch):
    out = run(monkeypatch, "preflight-pass")
    assert not out.failed and out.result["changed"] is False
    checks = by_id(out.result)
    assert list(checks) == EXPECTED_IDS
    assert set(c["status"] for c in checks.values()) == {"pass"}, out.result["report"]
    assert checks["platform.glibc"]["value"] == "2.39" and checks["cpu.count"]["value"] == 16
    assert checks["memory.total"]["value"] == 64.0 and checks["engine.docker"]["value"] == "28.3.2"
    assert checks["gateway.port"]["value"] == "available"
    assert out.result["report"] == {"checks": out.result["report"]["checks"], "failed": [], "warnings": [],
                                    "passed": True}
    for check in checks.values():
        assert set(check) == {"id", "status", "value", "threshold", "message"}


def test_pass_host_with_podman_and_systemd_user(monkeypatch, tmp_path):
    root = tmp_path / "host"
    shutil.copytree(str(HOSTROOT / "preflight-pass"), str(root))
    (root / "fake-cli.json").write_text('{"answers": [{"match": "info", "rc": 0, "stdout_file": "podman-info.json"}]}')
    out = run(monkeypatch, None, root=root, compute_driver="podman", supervisor="systemd-user")
    checks = by_id(out.result)
    assert checks["engine.podman"]["status"] == "pass" and checks["engine.podman"]["value"] == "5.4.2"
    assert checks["systemd.running"]["status"] == "pass" and checks["systemd.linger"]["status"] == "pass"
    assert "engine.docker" not in checks


def test_warn_host(monkeypatch):
    out = run(monkeypatch, "preflight-warn")
    report = out.result["report"]
    assert report["passed"] is True
    assert report["warnings"] == ["memory.total", "swap", "kernel.landlock", "kernel.cgroup_v2"]
    checks = by_id(out.result)
    assert checks["platform.arch"]["value"] == "aarch64" and checks["platform.arch"]["status"] == "pass"
    assert checks["memory.total"]["value"] == 10.0 and checks["swap"]["value"] == 0


def test_fail_host(monkeypatch):
    out = run(monkeypatch, "preflight-fail", supervisor="systemd-user", require_landlock=True,
              dns_hosts=["https://nonexistent.invalid/v1"])
    report = out.result["report"]
    assert not out.failed and report["passed"] is False
    assert report["failed"] == ["platform.glibc", "cpu.count", "memory.total", "engine.docker", "kernel.landlock",
                                "gateway.port", "dns.nonexistent.invalid", "systemd.linger"]
    assert report["warnings"] == ["swap", "kernel.seccomp"]
    checks = by_id(out.result)
    assert checks["platform.glibc"]["value"] == "2.27" and checks["platform.glibc"]["threshold"] == "2.28"
    assert checks["engine.docker"]["value"] == "24.0.7" and checks["engine.docker"]["threshold"] == "28.0"
    assert "loginctl enable-linger agent" in checks["systemd.linger"]["message"]


def test_fail_on_error_fails_with_report(monkeypatch):
    out = run(monkeypatch, "preflight-fail", fail_on_error=True)
    assert out.failed and out.result["report"]["passed"] is False and "cpu.count" in out.result["msg"]
    assert out.result["changed"] is False
    # every failing check by id, then each one's message
    assert out.result["msg"].startswith("Preflight failed: %s. " % ", ".join(out.result["report"]["failed"]))
    assert "[platform.glibc] glibc 2.27 is older than 2.28" in out.result["msg"]


def test_warnings_are_task_warnings_and_fail_only_when_asked(monkeypatch):
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warned.append(text))
    out = run(monkeypatch, "preflight-warn", fail_on_error=True)
    assert not out.failed and out.result["report"]["warnings"] == ["memory.total", "swap", "kernel.landlock",
                                                                   "kernel.cgroup_v2"]
    ids = ["[memory.total]", "[swap]", "[kernel.landlock]", "[kernel.cgroup_v2]"]
    assert [w.split("]")[0] + "]" for w in warned] == ids
    checks = by_id(out.result)
    assert warned[0] == "[memory.total] " + checks["memory.total"]["message"]
    strict = run(monkeypatch, "preflight-warn", fail_on_error=True, fail_on_warning=True)
    assert strict.failed and strict.result["msg"].startswith(
        "Preflight failed: memory.total, swap, kernel.landlock, kernel.cgroup_v2. [memory.total] ")
    # fail_on_warning alone decides nothing: the caller asked for no failure
    assert not run(monkeypatch, "preflight-warn", fail_on_warning=True).failed


def test_docker_daemon_down(monkeypatch, tmp_path):
    root = tmp_path / "host"
    shutil.copytree(str(HOSTROOT / "preflight-pass"), str(root))
    shutil.copy(str(HOSTROOT / "preflight-fail" / "docker-down.json"), str(root / "docker-down.json"))
    (root / "fake-cli.json").write_text('{"answers": [{"match": "info", "rc": 1, "stdout_file": "docker-down.json",'
                                        ' "stderr": "ERROR: Cannot connect to the Docker daemon"}]}')
    check = by_id(run(monkeypatch, None, root=root).result)["engine.docker"]
    assert check["status"] == "fail" and "Is the docker daemon running?" in check["message"]
    missing = by_id(run(monkeypatch, "preflight-pass", docker_path="/nonexistent/docker").result)["engine.docker"]
    assert missing["status"] == "fail" and "not installed" in missing["message"]


def _hold_port(root, pid, comm, inode):
    fd = root / "proc" / str(pid) / "fd"
    fd.mkdir(parents=True)
    (root / "proc" / str(pid) / "comm").write_text(comm + "\n")
    os.symlink("socket:[%d]" % inode, str(fd / "7"))


def test_port_held_by_our_gateway_passes(monkeypatch, tmp_path):
    root = tmp_path / "host"
    shutil.copytree(str(HOSTROOT / "preflight-fail"), str(root))  # 8080 is listening there (inode 3112)
    # The kernel keeps 15 characters of the name: the real gateway is "openshell-gatew".
    _hold_port(root, 4242, "openshell-gatew", 3112)
    ok = by_id(run(monkeypatch, None, root=root).result)["gateway.port"]
    assert ok["status"] == "pass" and ok["value"] == "available"
    other = by_id(run(monkeypatch, None, root=root, gateway_process_names=["my-gateway"]).result)["gateway.port"]
    assert other["status"] == "fail" and "openshell-gatew (pid 4242)" in other["message"]


def test_thresholds_are_options(monkeypatch):
    out = run(monkeypatch, "preflight-pass", min_cpus=32, min_memory_gib=128, min_free_disk_gib=10 ** 6,
              recommended_free_disk_gib=10 ** 6, min_docker_version="29")
    assert out.result["report"]["failed"] == ["cpu.count", "memory.total", "disk.state", "engine.docker"]


@pytest.mark.parametrize("args,field", [
    ({"min_cpus": -1}, "min_cpus"),
    ({"gateway_port": 70000}, "gateway_port"),
    ({"min_glibc_version": "new"}, "min_glibc_version"),
    ({"state_dirs": {"x": ""}}, "state_dirs"),
])
def test_bad_input_names_the_option(monkeypatch, args, field):
    out = run(monkeypatch, "preflight-pass", **args)
    assert out.failed and out.result["field"] == field


@pytest.mark.parametrize("args,name", [
    ({"compute_driver": "kubernetes"}, "compute_driver"),
    ({"min_cpus": "four"}, "min_cpus"),
    ({"supervisor": "runit"}, "supervisor"),
])
def test_argument_validation_names_the_option(monkeypatch, args, name):
    out = run(monkeypatch, "preflight-pass", **args)
    assert out.failed and name in out.result["msg"]


def test_live_host_does_not_crash(monkeypatch):
    """On this very host (whatever it has) the module returns a report and changes nothing."""
    monkeypatch.delenv("FAKE_CLI_CASE", raising=False)
    params = {"docker_path": "/nonexistent/docker", "state_dirs": {"tmp": "/tmp"}}
    out = run_main(nemoclaw_preflight.main, params)
    assert not out.failed and out.result["changed"] is False
    ids = [c["id"] for c in out.result["report"]["checks"]]
    assert ids[:3] == ["platform.os", "platform.arch", "platform.glibc"] and "disk.tmp" in ids


def test_report_path_is_written_once_then_left_alone(monkeypatch, tmp_path):
    path = tmp_path / "state" / "nemoclaw" / "preflight.json"
    first = run(monkeypatch, "preflight-pass", report_path=str(path))
    assert not first.failed and first.result["changed"] is True and first.result["report_path"] == str(path)
    assert json.loads(path.read_text()) == first.result["report"]
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    again = run(monkeypatch, "preflight-pass", report_path=str(path))
    assert again.result["changed"] is False and "diff" not in again.result
    assert [p.name for p in path.parent.iterdir()] == ["preflight.json"]  # no temp file left
    # measured values alone (free disk space moves) do not rewrite it; a new verdict does
    saved = json.loads(path.read_text())
    saved["checks"][0]["value"] = "something else"
    path.write_text(json.dumps(saved))
    assert run(monkeypatch, "preflight-pass", report_path=str(path)).result["changed"] is False
    saved["checks"][0]["status"] = "fail"
    path.write_text(json.dumps(saved))
    assert run(monkeypatch, "preflight-pass", report_path=str(path)).result["changed"] is True
    assert json.loads(path.read_text()) == first.result["report"]


def test_report_path_check_mode_and_diff_write_nothing(monkeypatch, tmp_path):
    path = tmp_path / "preflight.json"
    path.write_text("{}\n")
    out = run(monkeypatch, "preflight-pass", report_path=str(path), _ansible_check_mode=True, _ansible_diff=True)
    assert out.result["changed"] is True and path.read_text() == "{}\n"
    assert out.result["diff"]["before"] == "{}\n" and json.loads(out.result["diff"]["after"]) == out.result["report"]


def test_report_path_saved_before_fail_on_error(monkeypatch, tmp_path):
    path = tmp_path / "preflight.json"
    out = run(monkeypatch, "preflight-fail", report_path=str(path), fail_on_error=True)
    assert out.failed and json.loads(path.read_text())["passed"] is False


def test_report_path_unwritable_names_the_field(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = run(monkeypatch, "preflight-pass", report_path=str(blocker / "sub" / "preflight.json"))
    assert out.failed and out.result["field"] == "report_path" and "report_path" in out.result["msg"]


def test_openshell_version_and_paths_are_measured_not_checked(monkeypatch, tmp_path):
    cli = tmp_path / "openshell"
    cli.write_text("#!/bin/sh\necho 'openshell 0.0.111'\n")
    cli.chmod(0o755)
    present = tmp_path / "credentials.json"
    present.write_text("{}")
    out = run(monkeypatch, "preflight-pass", openshell_path=str(cli), paths=[str(present), str(tmp_path / "absent")])
    measured = out.result["measured"]
    assert measured["openshell"] == {"path": str(cli), "rc": 0, "stdout": "openshell 0.0.111\n", "stderr": ""}
    assert measured["paths"] == [{"path": str(present), "exists": True},
                                 {"path": str(tmp_path / "absent"), "exists": False}]
    assert list(by_id(out.result)) == EXPECTED_IDS  # no check depends on them
    missing = run(monkeypatch, "preflight-pass", openshell_path=str(tmp_path / "nope"))
    assert missing.result["measured"]["openshell"]["rc"] == 127 and not missing.failed


def test_gather_facts_returns_setups_facts_under_setups_names(monkeypatch):
    import getpass
    import os
    monkeypatch.setenv("PREFLIGHT_UNIT_MARKER", "x1")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_planted_in_the_controller_env")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    out = run(monkeypatch, "preflight-pass", gather_facts=["env", "service_mgr", "user"])
    facts = out.result["ansible_facts"]
    # only the allow-listed, non-secret variables the roles read (issue 19: no environment values in facts)
    assert facts["env"]["XDG_RUNTIME_DIR"] == "/run/user/4242" and facts["env"]["HOME"] == os.environ["HOME"]
    assert set(facts["env"]) <= set(nemoclaw_preflight.ENV_FACT_KEYS)
    assert "ghp_planted_in_the_controller_env" not in repr(out.result) and "x1" not in facts["env"].values()
    assert facts["user_id"] == getpass.getuser() and facts["user_uid"] == os.getuid()
    assert isinstance(facts["service_mgr"], str) and facts["service_mgr"]
    assert "ansible_facts" not in run(monkeypatch, "preflight-pass").result
    out = run(monkeypatch, "preflight-pass", gather_facts=["user"])
    assert "env" not in out.result["ansible_facts"] and "service_mgr" not in out.result["ansible_facts"]
