# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The nemoclaw_blueprint action plugin's run(), with a fake task/connection and a faked host probe."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

import pytest
import yaml

from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.shell.sh import ShellModule
from ansible.template import Templar

from ansible_collections.agentfleet.nemoclaw.plugins.action import nemoclaw_blueprint as action_mod
from ansible_collections.agentfleet.nemoclaw.plugins.action.nemoclaw_blueprint import ActionModule, parse_openshell_version
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as B
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import artifact_digest
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import validate_policy

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BLUEPRINTS = os.path.join(ROOT, "blueprints")
OTHER_DIGEST = "sha256:" + "0" * 64


class FakeTask(object):
    """The parts of ansible.playbook.task.Task an action plugin uses."""

    def __init__(self, args, search_path=(), check_mode=False, environment=None):
        self.args = args
        self.action = "agentfleet.nemoclaw.nemoclaw_blueprint"
        self.async_val = 0
        self.check_mode = check_mode
        self.diff = False
        self.environment = environment
        self.delegate_to = None
        self._search_path = list(search_path)

    def get_search_path(self):
        return list(self._search_path)


class FakeConnection(object):
    transport = "local"
    become = None
    allow_executable = True

    def __init__(self):
        self._shell = ShellModule()


class Host(object):
    """The fake host behind _low_level_execute_command: answers `openshell --version`."""

    def __init__(self, stdout="openshell 0.0.111\n", rc=0, stderr=""):
        self.stdout, self.rc, self.stderr = stdout, rc, stderr
        self.commands = []

    def __call__(self, cmd, sudoable=True, **_kw):
        self.commands.append(cmd)
        return {"rc": self.rc, "stdout": self.stdout, "stderr": self.stderr,
                "stdout_lines": self.stdout.splitlines(), "stderr_lines": self.stderr.splitlines()}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh worker memo and a private controller workdir for every test."""
    monkeypatch.setattr(ActionModule, "_CACHE", {})
    work = tmp_path / "controller-tmp"
    work.mkdir()
    monkeypatch.setattr(ActionModule, "_workdir", lambda self: str(work))
    return work


@pytest.fixture
def playdir(tmp_path):
    d = tmp_path / "playbooks"
    (d / "files").mkdir(parents=True)
    return d


@pytest.fixture
def bpdir(playdir):
    d = playdir / "blueprints" / "mybp"
    shutil.copytree(os.path.join(BLUEPRINTS, "openclaw"), str(d))
    return d


def make_tar(src, dest, prefix=""):
    with tarfile.open(str(dest), "w:gz") as tf:
        for dirpath, _dirs, names in os.walk(str(src)):
            for n in sorted(names):
                full = os.path.join(dirpath, n)
                tf.add(full, arcname=prefix + os.path.relpath(full, str(src)), recursive=False)
    return str(dest)


def run(args, playdir=None, host=None, task_vars=None, check_mode=False, environment=None):
    """Run the action once; returns (result, host)."""
    loader = DataLoader()
    basedir = str(playdir) if playdir else ROOT
    loader.set_basedir(basedir)
    task = FakeTask(args, search_path=[basedir], check_mode=check_mode, environment=environment)
    plugin = ActionModule(task, FakeConnection(), play_context=None, loader=loader,
                          templar=Templar(loader=loader, variables={}), shared_loader_obj=None)
    plugin._load_name = task.action
    host = host or Host()
    plugin._low_level_execute_command = host
    tv = {"inventory_hostname": "dgx1"}
    tv.update(task_vars or {})
    return plugin.run(task_vars=tv), host


# ------------------------------------------------------------------ sources

def test_dir_src_pinned(bpdir, playdir):
    digest = artifact_digest(str(bpdir))
    res, host = run({"src": "mybp", "digest": digest, "tier": "balanced"}, playdir)
    assert not res.get("failed"), res
    assert res["changed"] is False and res["digest"] == digest and res["pinned"] is True
    assert res["source"] == str(bpdir)
    assert res["openshell_version"] == "0.0.111" and res["openshell_version_source"] == "detected"
    plan = res["plan"]
    assert plan["blueprint"]["digest"] == digest and plan["tier"] == "balanced"
    assert plan["versions"]["openshell"] == {"actual": "0.0.111", "min": "0.0.106", "max": "0.1.5"}
    # the declared agent version is gated against min_openclaw_version
    assert plan["versions"]["agent"]["actual"] == "2026.3.11" and plan["versions"]["agent"]["min"] == "2026.3.11"
    validate_policy(plan["policy"])
    assert host.commands == ["openshell --version"]
    assert "tier balanced" in res["msg"] and digest in res["msg"]


def test_rule_without_binaries_is_named_in_the_message(bpdir, playdir):
    data = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    del data["components"]["policy"]["additions"]["nim_service"]["binaries"]
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(data))
    res, _host = run({"src": "mybp", "tier": "restricted", "digest": artifact_digest(str(bpdir))}, playdir)
    assert not res.get("failed"), res
    assert res["plan"]["any_binary"] == ["nim_service"] and res["plan"]["provenance"]["nim_service"]["any_binary"] is True
    assert res["msg"].endswith("; any binary may use nim_service (no binaries named)")


def test_tar_src_in_files_dir(bpdir, playdir):
    tgz = make_tar(bpdir, playdir / "files" / "mybp-0.1.0.tar.gz", prefix="mybp/")
    digest = artifact_digest(str(bpdir))
    res, _host = run({"src": "mybp-0.1.0.tar.gz", "digest": digest, "tier": "restricted"}, playdir)
    assert not res.get("failed"), res
    assert res["digest"] == digest and res["source"] == tgz
    assert res["plan"]["presets"] == []
    # absolute path too, and with an upper-case pin
    res, _host = run({"src": tgz, "digest": digest.upper().replace("SHA256", "sha256")}, playdir)
    assert res["pinned"] is True and res["plan"]["tier"] == "balanced"


def test_digest_mismatch_names_both_and_touches_no_host(bpdir, playdir):
    digest = artifact_digest(str(bpdir))
    res, host = run({"src": str(bpdir), "digest": OTHER_DIGEST}, playdir)
    assert res["failed"] is True and res["error_path"] == "digest"
    assert digest in res["msg"] and OTHER_DIGEST in res["msg"]
    assert "plan" not in res and host.commands == []


def test_tampered_artifact_fails_against_old_pin(bpdir, playdir):
    digest = artifact_digest(str(bpdir))
    assert not run({"src": "mybp", "digest": digest}, playdir)[0].get("failed")
    with open(str(bpdir / "policies" / "openclaw-sandbox.yaml"), "a") as fh:
        fh.write("# changed\n")
    res, host = run({"src": "mybp", "digest": digest}, playdir)
    assert res["failed"] is True and "computed %s" % artifact_digest(str(bpdir)) in res["msg"]
    assert host.commands == []


def test_bad_pin_format(playdir):
    res, host = run({"src": "openclaw", "digest": "sha256:abc"}, playdir)
    assert res["failed"] is True and res["error_path"] == "digest" and "tools/blueprint-digest" in res["msg"]
    assert host.commands == []


def test_unpinned_requires_opt_in(bpdir, playdir):
    res, host = run({"src": "mybp"}, playdir)
    assert res["failed"] is True and res["error_path"] == "digest"
    assert artifact_digest(str(bpdir)) in res["msg"] and host.commands == []
    res, _host = run({"src": "mybp", "allow_unpinned_artifact": True}, playdir)
    assert not res.get("failed") and res["pinned"] is False
    assert any(artifact_digest(str(bpdir)) in w for w in res["warnings"])


def test_unpinned_image(bpdir, playdir):
    data = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    data["components"]["sandbox"]["image"] = "ghcr.io/nvidia/openshell-community/sandboxes/openclaw:latest"
    del data["digest"]
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(data))
    digest = artifact_digest(str(bpdir))
    res, host = run({"src": "mybp", "digest": digest}, playdir)
    assert res["failed"] is True and res["error_path"] == "components.sandbox.image" and host.commands == []
    res, _host = run({"src": "mybp", "digest": digest, "allow_unpinned_image": True}, playdir)
    assert not res.get("failed") and res["plan"]["blueprint"]["image_digest"] is None


def test_image_digest_mirror_mismatch_is_not_reported_as_pin_mismatch(bpdir, playdir):
    data = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    data["digest"] = "sha256:" + "1" * 64
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(data))
    res, host = run({"src": "mybp", "digest": artifact_digest(str(bpdir))}, playdir)
    assert res["failed"] is True and res["error_path"] == "digest"
    assert "top-level digest" in res["msg"] and "mismatch for" not in res["msg"] and host.commands == []


@pytest.mark.parametrize("name", ["openclaw", "hermes"])
def test_shipped_name_lookup(name, playdir):
    res, _host = run({"src": name, "tier": "open", "openshell_version": "0.0.116"}, playdir)
    assert not res.get("failed"), res
    assert os.path.realpath(res["source"]) == os.path.realpath(os.path.join(BLUEPRINTS, name))
    assert res["pinned"] is False and not res.get("warnings")
    assert res["plan"]["blueprint"]["name"] == name and res["plan"]["sandbox"]["name"] == name
    assert res["digest"] == artifact_digest(os.path.join(BLUEPRINTS, name))
    # pinning a shipped blueprint is still checked
    res, _host = run({"src": name, "digest": OTHER_DIGEST, "openshell_version": "0.0.116"}, playdir)
    assert res["failed"] is True and OTHER_DIGEST in res["msg"]


def test_playbook_blueprint_shadows_shipped_name_and_needs_pin(playdir):
    shutil.copytree(os.path.join(BLUEPRINTS, "hermes"), str(playdir / "blueprints" / "openclaw"))
    res, _host = run({"src": "openclaw"}, playdir)
    assert res["failed"] is True and res["error_path"] == "digest"
    assert str(playdir / "blueprints" / "openclaw") in res["msg"]


def test_src_not_found(playdir):
    (playdir / "files" / "notabp").mkdir()
    res, host = run({"src": "notabp"}, playdir)
    assert res["failed"] is True and res["error_path"] == "src"
    assert str(playdir / "files" / "notabp") in res["msg"] and host.commands == []


# ------------------------------------------------------------------ https sources

class FakeResponse(io.BytesIO):
    pass


def test_https_src_downloaded_once_per_run(monkeypatch, bpdir, playdir, tmp_path):
    payload = open(make_tar(bpdir, tmp_path / "bp.tar.gz"), "rb").read()
    calls = []

    def fake_open_url(url, validate_certs=True, timeout=None, follow_redirects=None):
        calls.append((url, validate_certs, timeout, follow_redirects))
        return FakeResponse(payload)

    monkeypatch.setattr(action_mod, "open_url", fake_open_url)
    url = "https://artifacts.example.com/bp/openclaw-0.1.0.tar.gz?x=1"
    digest = artifact_digest(str(bpdir))
    res, _host = run({"src": url, "digest": digest, "validate_certs": False, "timeout": 7}, playdir)
    assert not res.get("failed"), res
    # The query (where a pre-signed URL keeps its signature) is not shown.
    assert res["source"] == url.split("?", maxsplit=1)[0] and res["digest"] == digest
    assert calls == [(url, False, 7, "safe")]
    # another worker of the same run (empty memo): the download on disk is reused, and re-verified
    monkeypatch.setattr(ActionModule, "_CACHE", {})
    res, _host = run({"src": url, "digest": OTHER_DIGEST, "validate_certs": False}, playdir)
    assert res["failed"] is True and digest in res["msg"] and OTHER_DIGEST in res["msg"]
    assert len(calls) == 1
    # a different validate_certs setting is a different download
    assert not run({"src": url, "digest": digest}, playdir)[0].get("failed")
    assert len(calls) == 2


def test_https_errors(monkeypatch, playdir):
    def broken(url, **_kw):
        raise IOError("connection refused")

    monkeypatch.setattr(action_mod, "open_url", broken)
    res, host = run({"src": "https://artifacts.example.com/bp.tar.gz", "digest": OTHER_DIGEST}, playdir)
    assert res["failed"] is True and res["error_path"] == "src" and "connection refused" in res["msg"]
    assert host.commands == []
    res, _host = run({"src": "http://artifacts.example.com/bp.tar.gz", "digest": OTHER_DIGEST}, playdir)
    assert res["failed"] is True and "only https://" in res["msg"]


def test_https_download_size_cap(monkeypatch, playdir):
    monkeypatch.setattr(action_mod, "MAX_DOWNLOAD_BYTES", 10)
    monkeypatch.setattr(action_mod, "open_url", lambda url, **_kw: FakeResponse(b"x" * 100))
    res, _host = run({"src": "https://artifacts.example.com/bp.tar.gz", "digest": OTHER_DIGEST}, playdir)
    assert res["failed"] is True and "exceeds 10 bytes" in res["msg"]


# ------------------------------------------------------------------ versions

@pytest.mark.parametrize("output,version", [
    ("openshell 0.0.111\n", "0.0.111"),
    ("openshell v0.0.116-dev\n", "0.0.116-dev"),
    ("openshell 0.0.111 (3f2a1bc 2026-03-01)\n", "0.0.111"),
    ("\nOpenShell CLI\nversion: 0.1.2\n", "0.1.2"),
    ("openshell-cli\n", None),
    ("", None),
])
def test_parse_openshell_version(output, version):
    assert parse_openshell_version(output) == version


def test_version_detected_from_host(playdir):
    res, host = run({"src": "hermes"}, playdir, host=Host("openshell 0.0.116\n"))
    assert res["plan"]["versions"]["openshell"]["actual"] == "0.0.116" and len(host.commands) == 1
    # versions compare numerically: 0.0.99 < 0.0.106
    res, _host = run({"src": "hermes"}, playdir, host=Host("openshell 0.0.99\n"))
    assert res["failed"] is True


@pytest.mark.parametrize("out", ["openshell 0.0.1\n", "openshell 0.1.6\n"])
def test_version_outside_gate_names_both_bounds(out, playdir):
    res, host = run({"src": "openclaw", "tier": "restricted"}, playdir, host=Host(out))
    assert res["failed"] is True and res["error_path"] == "openshell_version"
    assert out.split()[1] in res["msg"] and "min 0.0.106" in res["msg"] and "max 0.1.5" in res["msg"]
    assert "detected with 'openshell --version' on dgx1" in res["msg"]
    assert host.commands == ["openshell --version"]


def test_version_option_skips_probe_and_is_gated(playdir):
    res, host = run({"src": "openclaw", "openshell_version": "0.0.106"}, playdir)
    assert not res.get("failed") and res["openshell_version_source"] == "option" and host.commands == []
    res, host = run({"src": "openclaw", "openshell_version": "0.1.6"}, playdir)
    assert res["failed"] is True and "min 0.0.106, max 0.1.5" in res["msg"] and host.commands == []
    assert "detected" not in res["msg"]
    res, host = run({"src": "openclaw", "detect_openshell_version": False}, playdir)
    assert res["openshell_version_source"] == "skipped" and res["plan"]["versions"]["openshell"]["actual"] is None
    assert host.commands == [] and "not checked" in res["msg"]


def test_agent_version_gate(playdir):
    res, _host = run({"src": "openclaw", "openshell_version": "0.0.111", "agent_version": "2026.1.0"}, playdir)
    assert res["failed"] is True and res["error_path"] == "agent_version" and "min 2026.3.11" in res["msg"]
    res, _host = run({"src": "openclaw", "openshell_version": "0.0.111", "agent_version": "2026.4.1"}, playdir)
    assert res["plan"]["versions"]["agent"]["actual"] == "2026.4.1"


def test_probe_failures(playdir):
    res, _host = run({"src": "openclaw"}, playdir, host=Host("", rc=127, stderr="sh: 1: openshell: not found\n"))
    assert res["failed"] is True and res["error_path"] == "openshell_version"
    assert "rc=127" in res["msg"] and "not found" in res["msg"] and "dgx1" in res["msg"]
    res, _host = run({"src": "openclaw"}, playdir, host=Host("no version here\n"))
    assert res["failed"] is True and "no version here" in res["msg"]


def test_probe_path_environment_and_check_mode(playdir):
    res, host = run({"src": "openclaw", "openshell_path": "/opt/open shell/bin/openshell"}, playdir, check_mode=True,
                    environment=[{"PATH": "/opt/sim/bin:/usr/bin", "OPENSHELL_SIM_VERSION": "0.0.111"}])
    assert not res.get("failed"), res
    (cmd,) = host.commands
    assert cmd.endswith("'/opt/open shell/bin/openshell' --version")
    assert "PATH=/opt/sim/bin:/usr/bin" in cmd and "OPENSHELL_SIM_VERSION=0.0.111" in cmd


# ------------------------------------------------------------------ arguments

@pytest.mark.parametrize("args,needle", [
    ({"allow_unpinned_image": "perhaps"}, "allow_unpinned_image"),
    ({"host_facts": 12}, "host_facts"),
    ({"timeout": "soon"}, "timeout"),
    ({"credentials_given": {"a": 1}}, "credentials_given"),
    ({}, "src"),
])
def test_bad_option_types_name_the_option(args, needle, playdir):
    full = {"src": "openclaw"}
    full.update(args)
    if not args:
        full = {}
    with pytest.raises(AnsibleActionFail) as info:
        run(full, playdir)
    assert needle in str(info.value)


def test_unknown_option(playdir):
    with pytest.raises(AnsibleActionFail) as info:
        run({"src": "openclaw", "teir": "open"}, playdir)
    assert "teir" in str(info.value)


@pytest.mark.parametrize("args,path", [
    ({"overrides": "x"}, "overrides"),
    ({"overrides": [{"name": "a"}, 3]}, "overrides"),
    ({"timeout": 0}, "timeout"),
    ({"src": "  "}, "src"),
    ({"openshell_path": " "}, "openshell_path"),
    ({"tier": "extreme"}, "tier"),
    ({"presets": ["nonexistent"]}, "presets.nonexistent"),
    ({"profile": "nope"}, "profile"),
    ({"overrides": {"exclude": ["managed_inference"]}}, "policy.network_policies.managed_inference"),
    ({"resource_profile": "creator"}, "host_facts.cpus"),
    ({"trusted_private_hosts": ["nas.lan=not-an-ip"]}, "policy.trusted_private_hosts[0].allowed_ips[0]"),
    ({"host_facts": {"cpus": "many"}}, "host_facts.cpus"),
    ({"host_facts": {"cpus": True}}, "host_facts.cpus"),
    ({"host_facts": {"memory_mb": "1.5"}}, "host_facts.memory_mb"),
    ({"host_facts": {"gpus": 1}}, "host_facts.gpus"),
])
def test_plan_errors_name_the_field(args, path, playdir):
    full = {"src": "openclaw", "openshell_version": "0.0.111"}
    full.update(args)
    res, _host = run(full, playdir)
    assert res["failed"] is True and res["error_path"] == path, res
    assert res["msg"].startswith(path + ":")


def test_presets_custom_overrides_and_trusted_hosts(playdir):
    (playdir / "files" / "nas.yaml").write_text(yaml.safe_dump({"preset": {"name": "nas"}, "network_policies": {"nas": {
        "endpoints": [{"host": "nas.lan", "port": 5000, "protocol": "rest", "access": "read-only"}],
        "binaries": [{"path": "/usr/bin/curl"}]}}}))
    inline = {"name": "wiki", "network_policies": {"wiki": {
        "endpoints": [{"host": "wiki.example.com", "port": 443, "access": "full"}], "binaries": [{"path": "/usr/bin/curl"}]}}}
    args = {"src": "openclaw", "openshell_version": "0.0.111", "tier": "restricted", "presets": ["github", "weather:read"],
            "custom_presets": ["nas.yaml", inline], "trusted_private_hosts": ["nas.lan=192.168.1.20"],
            "overrides": [{"source": "group_vars/all.yml", "exclude": ["openclaw_docs"]},
                          {"name": "host", "source": "host_vars/dgx1.yml", "network_policies": {"extra": {
                              "endpoints": [{"host": "extra.example.com", "port": 443, "access": "read-only"}],
                              "binaries": [{"path": "/usr/bin/curl"}]}}}]}
    res, _host = run(args, playdir)
    assert not res.get("failed"), res
    plan = res["plan"]
    nps = plan["policy"]["network_policies"]
    assert nps["nas"]["endpoints"][0]["allowed_ips"] == ["192.168.1.20"]
    assert plan["provenance"]["nas"]["source"] == "custom:nas.yaml"
    assert plan["provenance"]["wiki"]["layer"] == "custom:wiki"
    assert plan["provenance"]["extra"]["source"] == "host_vars/dgx1.yml"
    assert plan["excluded"]["openclaw_docs"]["source"] == "group_vars/all.yml"
    assert [p["name"] for p in plan["presets"]] == ["github", "weather"]
    args["trusted_private_hosts"] = []
    res, _host = run(args, playdir)
    assert res["failed"] is True and res["error_path"].startswith("policy.network_policies.nas")
    args["custom_presets"] = ["missing.yaml"]
    res, _host = run(args, playdir)
    assert res["failed"] is True and res["error_path"] == "custom_presets[0]"


def test_host_facts_from_gathered_facts(playdir):
    base = {"src": "openclaw", "openshell_version": "0.0.111", "resource_profile": "creator"}
    res, _host = run(base, playdir, task_vars={"ansible_facts": {"processor_vcpus": 10, "memtotal_mb": 65536}})
    assert res["plan"]["sandbox"]["cpu"] == "5" and res["plan"]["sandbox"]["memory"] == "32768Mi"
    res, _host = run(base, playdir, task_vars={"ansible_processor_vcpus": 4, "ansible_memtotal_mb": 8192})
    assert res["plan"]["sandbox"]["cpu"] == "2" and res["plan"]["sandbox"]["memory"] == "4096Mi"
    res, _host = run(dict(base, host_facts={"cpus": "3", "memory_mb": "1000"}), playdir,
                     task_vars={"ansible_facts": {"processor_vcpus": 10, "memtotal_mb": 65536}})
    assert res["plan"]["sandbox"]["cpu"] == "1500m" and res["plan"]["sandbox"]["memory"] == "500Mi"


def test_credentials_and_endpoint(playdir):
    base = {"src": "openclaw", "openshell_version": "0.0.111"}
    res, _host = run(dict(base, credentials_given=["NVIDIA_INFERENCE_API_KEY"]), playdir)
    (cred,) = res["plan"]["providers"][0]["credentials"]
    assert cred["source"] == "given" and cred["env"] == "NVIDIA_INFERENCE_API_KEY"
    res, _host = run(dict(base, profile="ncp", endpoint_url="https://ncp.example.com/v1"), playdir)
    assert res["plan"]["inference"]["endpoint"] == "https://ncp.example.com/v1"
    res, _host = run(dict(base, endpoint_url="https://x.example.com/v1"), playdir)
    assert res["failed"] is True and res["error_path"] == "endpoint_url"


@pytest.mark.parametrize("name", ["openclaw", "hermes"])
@pytest.mark.parametrize("tier", ["restricted", "balanced", "open"])
def test_shipped_tiers_plan_deterministically(name, tier, playdir):
    res, _host = run({"src": name, "tier": tier}, playdir)
    assert not res.get("failed"), res
    validate_policy(res["plan"]["policy"])
    again, _host = run({"src": name, "tier": tier}, playdir)
    assert again["plan"]["plan_digest"] == res["plan"]["plan_digest"]


# ------------------------------------------------------------------ worker memo

def test_worker_memo_and_invalidation(monkeypatch, bpdir, playdir):
    loads = []
    real = action_mod.resolve_source

    def counting(src, workdir, **kwargs):
        loads.append(src)
        return real(src, workdir, **kwargs)

    monkeypatch.setattr(action_mod, "resolve_source", counting)
    digest = artifact_digest(str(bpdir))
    for tier in ("restricted", "balanced", "open"):
        res, _host = run({"src": "mybp", "digest": digest, "tier": tier}, playdir)
        assert not res.get("failed")
    assert len(loads) == 1
    # the pin is checked on every call, also from the memo
    res, _host = run({"src": "mybp", "digest": OTHER_DIGEST}, playdir)
    assert res["failed"] is True and len(loads) == 1
    # a changed file is noticed
    with open(str(bpdir / "blueprint.yaml"), "a") as fh:
        fh.write("# edited\n")
    res, _host = run({"src": "mybp", "digest": digest}, playdir)
    assert res["failed"] is True and len(loads) == 2
    assert B.artifact_digest(str(bpdir)) in res["msg"]
