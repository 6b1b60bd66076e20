# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import copy
import io
import json
import os
import shutil
import tarfile

import pytest
import yaml

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as B
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import (
    BlueprintError,
    artifact_digest,
    check_version_gate,
    compute_resources,
    display_source,
    load_blueprint_archive,
    load_blueprint_dir,
    parse_version,
    plan,
    resolve_inference,
    resolve_source,
    validate_blueprint,
    verify,
)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import validate_policy

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BLUEPRINTS = os.path.join(ROOT, "blueprints")
FIXTURE = os.path.join(ROOT, "tests", "unit", "fixtures", "blueprints", "nemoclaw-format")
FACTS = {"cpus": 10, "memory_mb": 65536}
UPSTREAM = os.path.join(ROOT, "tests", "unit", "fixtures", "blueprints", "nemoclaw-upstream")


def make_tar(src, dest, prefix="", reverse=False):
    files = []
    for dirpath, _dirs, names in os.walk(src):
        for n in names:
            files.append(os.path.join(dirpath, n))
    files.sort(reverse=reverse)
    with tarfile.open(dest, "w:gz") as tf:
        for f in files:
            tf.add(f, arcname=prefix + os.path.relpath(f, src), recursive=False)
    return dest


@pytest.fixture
def bpdir(tmp_path):
    d = tmp_path / "bp"
    shutil.copytree(os.path.join(BLUEPRINTS, "openclaw"), str(d))
    return d


# ------------------------------------------------------------------ digest

def test_digest_dir_vs_tar_and_order(tmp_path, bpdir):
    d1 = artifact_digest(str(bpdir))
    assert d1.startswith("sha256:") and len(d1) == 71
    assert artifact_digest(make_tar(str(bpdir), str(tmp_path / "a.tar.gz"))) == d1
    assert artifact_digest(make_tar(str(bpdir), str(tmp_path / "b.tar.gz"), reverse=True)) == d1
    assert artifact_digest(make_tar(str(bpdir), str(tmp_path / "c.tar.gz"), prefix="openclaw/")) == d1
    assert artifact_digest(make_tar(str(bpdir), str(tmp_path / "d.tgz"), prefix="./")) == d1


def test_digest_other_file_order(tmp_path, bpdir):
    other = tmp_path / "other"
    other.mkdir()
    names = sorted(os.listdir(str(bpdir)), reverse=True)
    for n in names:  # create in reverse order
        src = os.path.join(str(bpdir), n)
        if os.path.isdir(src):
            shutil.copytree(src, str(other / n))
        else:
            shutil.copy2(src, str(other / n))
    assert artifact_digest(str(other)) == artifact_digest(str(bpdir))


def test_digest_changes(bpdir):
    before = artifact_digest(str(bpdir))
    f = bpdir / "policies" / "openclaw-sandbox.yaml"
    data = bytearray(f.read_bytes())
    data[-2] = ord("x") if data[-2] != ord("x") else ord("y")
    f.write_bytes(bytes(data))
    changed = artifact_digest(str(bpdir))
    assert changed != before
    os.chmod(str(f), 0o755)
    assert artifact_digest(str(bpdir)) != changed
    (bpdir / "__pycache__").mkdir()
    (bpdir / "__pycache__" / "x.pyc").write_bytes(b"1")
    os.chmod(str(f), 0o644)
    assert artifact_digest(str(bpdir)) == changed
    os.symlink("policies/openclaw-sandbox.yaml", str(bpdir / "link.yaml"))
    assert artifact_digest(str(bpdir)) != changed


def test_digest_rejects_other(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("x")
    with pytest.raises(BlueprintError):
        artifact_digest(str(p))


def test_blueprint_digest_tool(bpdir):
    import subprocess
    import sys
    out = subprocess.check_output([sys.executable, os.path.join(ROOT, "tools", "blueprint_digest.py"), str(bpdir)])
    assert out.decode().strip() == artifact_digest(str(bpdir))


# ------------------------------------------------------------------ archives

def _evil_tar(path, member_name, kind="file", linkname=""):
    with tarfile.open(path, "w:gz") as tf:
        data = b"version: '1'\n"
        ti = tarfile.TarInfo("blueprint.yaml")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo(member_name)
        if kind == "file":
            ti.size = 1
            tf.addfile(ti, io.BytesIO(b"x"))
        elif kind == "sym":
            ti.type = tarfile.SYMTYPE
            ti.linkname = linkname
            tf.addfile(ti)
        elif kind == "hard":
            ti.type = tarfile.LNKTYPE
            ti.linkname = linkname
            tf.addfile(ti)
        elif kind == "fifo":
            ti.type = tarfile.FIFOTYPE
            tf.addfile(ti)
    return path


@pytest.mark.parametrize("name,kind,link,needle", [
    ("/etc/passwd", "file", "", "absolute"),
    ("../escape", "file", "", ".."),
    ("a/../../escape", "file", "", ".."),
    ("link", "sym", "/etc/passwd", "absolute"),
    ("sub/link", "sym", "../../x", "escapes"),
    ("hl", "hard", "../x", "'..'"),
    ("pipe", "fifo", "", "unsupported"),
])
def test_archive_unsafe_members(tmp_path, name, kind, link, needle):
    p = _evil_tar(str(tmp_path / "evil.tar.gz"), name, kind, link)
    with pytest.raises(BlueprintError) as info:
        load_blueprint_archive(p, workdir=str(tmp_path))
    assert needle in str(info.value)
    assert not os.path.exists(str(tmp_path / "escape"))


def _tar_of(path, members):
    """A .tar.gz of ``members``: (name, kind, payload) with kind file (payload: bytes), sym or hard (payload: the
    link's target), in that order."""
    with tarfile.open(path, "w:gz") as tf:
        for name, kind, payload in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(payload)
                tf.addfile(ti, io.BytesIO(payload))
            else:
                ti.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                ti.linkname = payload
                tf.addfile(ti)
    return path


def _chain_archive(path, target_dir):
    """Links that each look inside the archive but climb a directory on disk: ``d/up -> ..``, then
    ``d/e1 -> up/..``, ``d/e2 -> e1/..``, ..., then a file written through the last one."""
    members = [("blueprint.yaml", "file", b"version: '1'\n"), ("d/up", "sym", "..")]
    previous = "up"
    for i in range(1, 40):
        members.append(("d/e%d" % i, "sym", "%s/.." % previous))
        previous = "e%d" % i
    members.append(("d/%s%s/owned" % (previous, target_dir), "file", b"written outside"))
    return _tar_of(path, members)


def test_archive_link_chain_cannot_write_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work" / "a" / "b"
    work.mkdir(parents=True)
    p = _chain_archive(str(tmp_path / "chain.tar.gz"), str(outside))
    with pytest.raises(BlueprintError, match="points through the symbolic link|lies under the symbolic link"):
        load_blueprint_archive(p, workdir=str(work))
    assert not (outside / "owned").exists()
    assert os.listdir(str(work)) == []  # refused from the listing: nothing extracted


@pytest.mark.parametrize("members,needle", [
    # A file written through a link of the archive.
    ([("blueprint.yaml", "file", b"v"), ("d", "sym", "."), ("d/x", "file", b"x")], "lies under the symbolic link 'd'"),
    ([("blueprint.yaml", "file", b"v"), ("a", "sym", "b"), ("b", "sym", "."), ("c", "sym", "a/../..")],
     "link 'a' points through the symbolic link 'b'"),
    # The same name twice: what is digested and what is extracted would differ.
    ([("blueprint.yaml", "file", b"version: '0.1.0'"), ("notes.txt", "sym", "blueprint.yaml"),
      ("notes.txt", "file", b"version: '9.9.9'")], "appears more than once"),
    ([("blueprint.yaml", "file", b"v"), ("./blueprint.yaml", "file", b"w")], "appears more than once"),
    ([("blueprint.yaml", "file", b"v"), ("h", "hard", "nothing")], "no regular file to point to"),
    ([("blueprint.yaml", "file", b"v"), ("l", "sym", "x"), ("h", "hard", "l")], "no regular file to point to"),
])
def test_archive_refused_listings(tmp_path, members, needle):
    p = _tar_of(str(tmp_path / "bad.tar.gz"), members)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(BlueprintError) as info:
        load_blueprint_archive(p, workdir=str(work))
    assert needle in str(info.value)
    with pytest.raises(BlueprintError):
        artifact_digest(p)
    assert os.listdir(str(work)) == []


def test_archive_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(B, "MAX_ARCHIVE_MEMBERS", 3)
    many = _tar_of(str(tmp_path / "many.tar.gz"), [("f%d" % i, "file", b"x") for i in range(4)])
    with pytest.raises(BlueprintError, match="more than 3 members"):
        artifact_digest(many)
    monkeypatch.setattr(B, "MAX_ARCHIVE_BYTES", 10)
    big = _tar_of(str(tmp_path / "big.tar.gz"), [("a", "file", b"123456"), ("b", "file", b"123456")])
    with pytest.raises(BlueprintError, match="more than 10 bytes of files"):
        load_blueprint_archive(big, workdir=str(tmp_path))


def test_yaml_file_size_limit(bpdir, monkeypatch):
    monkeypatch.setattr(B, "MAX_YAML_BYTES", 16)
    with pytest.raises(BlueprintError, match="larger than 16 bytes"):
        load_blueprint_dir(str(bpdir))


def test_archive_pin_checked_before_extraction(tmp_path, bpdir):
    tgz = make_tar(str(bpdir), str(tmp_path / "bp.tar.gz"))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(BlueprintError) as info:
        load_blueprint_archive(tgz, workdir=str(work), pinned_digest="sha256:" + "0" * 64)
    assert info.value.path == "digest" and "pinned sha256:000" in info.value.reason
    assert os.listdir(str(work)) == []
    bp = load_blueprint_archive(tgz, workdir=str(work), pinned_digest=artifact_digest(str(bpdir)))
    assert bp.digest == artifact_digest(str(bpdir))


def test_directory_link_outside_the_blueprint_refused(tmp_path, bpdir):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("network_policies: {}\n")
    (bpdir / "policies").mkdir(exist_ok=True)
    os.symlink(str(outside), str(bpdir / "policies" / "shared.yaml"))
    with pytest.raises(BlueprintError) as info:
        artifact_digest(str(bpdir))
    assert info.value.path == "policies/shared.yaml" and "outside the blueprint" in info.value.reason
    os.unlink(str(bpdir / "policies" / "shared.yaml"))
    os.symlink("../blueprint.yaml", str(bpdir / "policies" / "inside.yaml"))
    assert artifact_digest(str(bpdir)).startswith("sha256:")


@pytest.mark.parametrize("library", ["../shared", "/etc", "a/../../x", "..\\x"])
def test_policy_library_outside_refused(bpdir, library):
    d = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    d["x-agentfleet"]["policy_library"] = library
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(BlueprintError) as info:
        load_blueprint_dir(str(bpdir))
    assert info.value.path == "x-agentfleet.policy_library"


@pytest.mark.parametrize("preset", ["../../../../tmp/evil", "a/b", ".hidden", "", 7, {"../x": "read"}, "x y"])
def test_preset_names_are_file_names(bpdir, preset):
    bp = load_blueprint_dir(str(bpdir))
    with pytest.raises(BlueprintError) as info:
        plan(bp, presets=[preset])
    assert info.value.path == "presets[0]"


@pytest.mark.parametrize("src,shown", [
    ("https://deploy:ghp_SECRET@example.com/bp.tar.gz?sig=AWS#frag", "https://example.com/bp.tar.gz"),
    ("https://example.com:8443/a/bp.tgz", "https://example.com:8443/a/bp.tgz"),
    ("https://u@[fd00::1]/bp.tar.gz", "https://[fd00::1]/bp.tar.gz"),
    ("/srv/blueprints/openclaw", "/srv/blueprints/openclaw"),
])
def test_display_source_drops_credentials(src, shown):
    assert display_source(src) == shown


def test_url_source_never_shows_credentials(tmp_path, bpdir):
    tgz = make_tar(str(bpdir), str(tmp_path / "bp.tar.gz"))
    url = "https://deploy:ghp_SECRET@example.com/bp.tar.gz?X-Amz-Signature=SIG"
    bp = resolve_source(url, str(tmp_path), fetch=lambda _u, dest: tgz)
    assert bp.source == "https://example.com/bp.tar.gz"
    with pytest.raises(BlueprintError) as info:
        resolve_source(url, str(tmp_path), fetch=lambda _u, dest: tgz, pinned_digest="sha256:" + "1" * 64)
    assert "SECRET" not in str(info.value) and "SIG" not in str(info.value)
    with pytest.raises(BlueprintError) as info:
        resolve_source(url.replace("https", "http"), str(tmp_path))
    assert "SECRET" not in str(info.value)


def test_archive_load_and_links(tmp_path, bpdir):
    os.symlink("blueprint.yaml", str(bpdir / "alias.yaml"))
    tgz = make_tar(str(bpdir), str(tmp_path / "bp.tar.gz"), prefix="openclaw/")
    bp = load_blueprint_archive(tgz, workdir=str(tmp_path))
    assert bp.digest == artifact_digest(str(bpdir))
    assert os.path.islink(os.path.join(bp.root, "alias.yaml"))
    assert bp.source == tgz
    assert artifact_digest(bp.root) == bp.digest


def test_archive_hardlink(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(BLUEPRINTS, "hermes"), str(src))
    p = str(tmp_path / "h.tar.gz")
    with tarfile.open(p, "w:gz") as tf:
        tf.add(str(src / "blueprint.yaml"), arcname="blueprint.yaml")
        tf.add(str(src / "policies"), arcname="policies")
        ti = tarfile.TarInfo("copy.yaml")
        ti.type = tarfile.LNKTYPE
        ti.linkname = "blueprint.yaml"
        tf.addfile(ti)
    bp = load_blueprint_archive(p, workdir=str(tmp_path))
    with open(os.path.join(bp.root, "copy.yaml")) as a, open(os.path.join(bp.root, "blueprint.yaml")) as b:
        assert a.read() == b.read()
    shutil.copy(str(src / "blueprint.yaml"), str(src / "copy.yaml"))
    assert artifact_digest(p) == artifact_digest(str(src))


def test_archive_not_gzip(tmp_path):
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"not a tarball")
    with pytest.raises(BlueprintError) as info:
        artifact_digest(str(p))
    assert "x.tar.gz" in str(info.value)


def test_resolve_source(tmp_path, bpdir):
    assert resolve_source(str(bpdir), str(tmp_path)).digest == artifact_digest(str(bpdir))
    tgz = make_tar(str(bpdir), str(tmp_path / "bp.tar.gz"))
    assert resolve_source(tgz, str(tmp_path)).digest == artifact_digest(str(bpdir))
    calls = []

    def fetch(url, dest):
        calls.append((url, dest))
        shutil.copy(tgz, dest)

    bp = resolve_source("https://example.com/bp/openclaw.tar.gz?x=1", str(tmp_path / "work"), fetch=fetch)
    assert bp.source.startswith("https://") and calls[0][1].endswith("openclaw.tar.gz")
    bp = resolve_source("https://example.com/latest", str(tmp_path / "work2"), fetch=lambda u, d: tgz)
    assert bp.digest == artifact_digest(str(bpdir))
    for bad in ("http://example.com/x.tar.gz", "ftp://x/y", "", str(tmp_path / "missing")):
        with pytest.raises(BlueprintError):
            resolve_source(bad, str(tmp_path), fetch=fetch)
    with pytest.raises(BlueprintError):
        resolve_source("https://example.com/x.tar.gz", str(tmp_path))


# ------------------------------------------------------------------ verify / versions

def test_verify(bpdir):
    bp = load_blueprint_dir(str(bpdir))
    verify(bp)
    verify(bp, pinned_digest=bp.digest)
    with pytest.raises(BlueprintError) as info:
        verify(bp, pinned_digest="sha256:" + "0" * 64)
    assert info.value.path == "digest"
    with pytest.raises(BlueprintError) as info:
        verify(bp, pinned_digest="md5:abc")
    assert info.value.path == "pinned_digest"
    bp.data["digest"] = "sha256:" + "1" * 64
    with pytest.raises(BlueprintError) as info:
        verify(bp)
    assert "top-level digest" in str(info.value)
    bp.data["digest"] = ""
    bp.data["components"]["sandbox"]["image"] = "ghcr.io/nvidia/openshell-community/sandboxes/openclaw:latest"
    with pytest.raises(BlueprintError) as info:
        verify(bp)
    assert info.value.path == "components.sandbox.image"
    verify(bp, allow_unpinned_image=True)


@pytest.mark.parametrize("text,expected", [
    ("0.0.111", (0, 0, 111)), ("v0.0.111", (0, 0, 111)), ("0.0.116-dev", (0, 0, 116)), ("1.2.3+4", (1, 2, 3)),
    ("2026.3.11", (2026, 3, 11)), ("1.2", (1, 2, 0)), ("1.2.3.0", (1, 2, 3)), ("1.2.3.4", (1, 2, 3, 4)), ("V7", (7, 0, 0)),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


def test_parse_version_numeric_order():
    assert parse_version("0.0.111") > parse_version("0.0.99")
    with pytest.raises(ValueError):
        parse_version("latest")
    assert parse_version(5) == (5, 0, 0)


def test_version_gate():
    check_version_gate("0.0.106", "0.0.106", "0.0.116", "openshell")
    check_version_gate(None, "1", "2", "x")
    check_version_gate("5", None, None, "x")
    for actual in ("0.0.105", "0.0.117"):
        with pytest.raises(BlueprintError) as info:
            check_version_gate(actual, "0.0.106", "0.0.116", "openshell_version")
        assert "min 0.0.106" in str(info.value) and "max 0.0.116" in str(info.value)
        assert info.value.path == "openshell_version"
    with pytest.raises(BlueprintError) as info:
        check_version_gate("0.0.1", "0.0.2", None, "agent_version")
    assert "max none" in str(info.value)
    with pytest.raises(BlueprintError):
        check_version_gate("garbage", "1", None, "x")


# ------------------------------------------------------------------ validation

def base_data():
    with open(os.path.join(BLUEPRINTS, "openclaw", "blueprint.yaml")) as f:
        return yaml.safe_load(f)


def mut(fn):
    d = base_data()
    fn(d)
    return d


def setp(path, value):
    def fn(d):
        node = d
        parts = path.split("/")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        node[parts[-1]] = value
    return fn


def delp(path):
    def fn(d):
        node = d
        parts = path.split("/")
        for p in parts[:-1]:
            node = node[p]
        del node[parts[-1]]
    return fn


INVALID_BLUEPRINTS = [
    (setp("extra", 1), "extra"),
    (delp("version"), "version"),
    (setp("version", 1), "version"),
    (setp("version", "1.x"), "version"),
    (setp("version", "latest"), "version"),
    (setp("min_openshell_version", 0.1), "min_openshell_version"),
    (setp("max_openshell_version", "latest"), "max_openshell_version"),
    (setp("digest", "sha256:abc"), "digest"),
    (setp("description", ["x"]), "description"),
    (delp("components"), "components"),
    (setp("components/extra", {}), "components.extra"),
    (delp("components/sandbox/image"), "components.sandbox.image"),
    (setp("components/sandbox/image", "ghcr.io/nvidia/openclaw@sha256:1234"), "components.sandbox.image"),
    (setp("components/sandbox/image", "ghcr.io/nvidia/openclaw@sha256:" + "Z" * 64), "components.sandbox.image"),
    (setp("components/sandbox/name", "Open_Claw"), "components.sandbox.name"),
    (setp("components/sandbox/name", "a" * 20), "components.sandbox.name"),
    (setp("components/sandbox/forward_ports", [0]), "components.sandbox.forward_ports[0]"),
    (setp("components/sandbox/forward_ports", "18789"), "components.sandbox.forward_ports"),
    (setp("components/sandbox/gpu", True), "components.sandbox.gpu"),
    (setp("components/sandbox/resource_profiles/creator/cpu", 150), "components.sandbox.resource_profiles.creator.cpu"),
    (setp("components/sandbox/resource_profiles/creator/memory", "lots"), "components.sandbox.resource_profiles.creator.memory"),
    (setp("components/sandbox/resource_profiles/creator/cpu", [50]), "components.sandbox.resource_profiles.creator.cpu"),
    (setp("components/sandbox/resource_profiles/creator/disk", 5), "components.sandbox.resource_profiles.creator.disk"),
    (setp("components/inference/profiles/default/extra", 1), "components.inference.profiles.default.extra"),
    (delp("components/inference/profiles/default/model"), "components.inference.profiles.default.model"),
    (setp("components/inference/profiles/default/credential_env", "BAD-NAME"), "components.inference.profiles.default.credential_env"),
    (setp("components/inference/profiles/default/dynamic_endpoint", "yes"), "components.inference.profiles.default.dynamic_endpoint"),
    (setp("components/inference/profiles/default/timeout_secs", 0), "components.inference.profiles.default.timeout_secs"),
    (setp("components/inference/profiles/default/endpoint", "ftp://x"), "components.inference.profiles.default.endpoint"),
    (setp("profiles", ["default", "nope"]), "profiles[1]"),
    (setp("components/policy/extra", 1), "components.policy.extra"),
    (setp("components/policy/additions/nim_service/endpoints/0/port", 0), "components.policy.additions.nim_service.endpoints[0].port"),
    (setp("components/policy/additions/nim_service/binaries", []), "components.policy.additions.nim_service.binaries"),
    (setp("components/router", "on"), "components.router"),
    (setp("x-agentfleet/unknown", 1), "x-agentfleet.unknown"),
    (setp("x-agentfleet/health_command", []), "x-agentfleet.health_command"),
    (setp("x-agentfleet/health_command", "openclaw health"), "x-agentfleet.health_command"),
    (setp("x-agentfleet/health_command", ["ok", 1]), "x-agentfleet.health_command[1]"),
    (setp("x-agentfleet/state_dirs", ["relative/dir"]), "x-agentfleet.state_dirs[0]"),
    (setp("x-agentfleet/state_dirs", ["/sandbox/../etc"]), "x-agentfleet.state_dirs[0]"),
    (setp("x-agentfleet/agent/extra", 1), "x-agentfleet.agent.extra"),
    (setp("x-agentfleet/agent/version", "abc"), "x-agentfleet.agent.version"),
    (setp("x-agentfleet/agent_presets", ["npm", ""]), "x-agentfleet.agent_presets[1]"),
    (setp("x-agentfleet/default_tier", 5), "x-agentfleet.default_tier"),
    (setp("x-agentfleet", []), "x-agentfleet"),
    (setp("openshell_target", "x"), "openshell_target"),
]


@pytest.mark.parametrize("fn,path", INVALID_BLUEPRINTS, ids=["%02d-%s" % (i, p[1][:50]) for i, p in enumerate(INVALID_BLUEPRINTS)])
def test_invalid_blueprints(fn, path):
    with pytest.raises(BlueprintError) as info:
        validate_blueprint(mut(fn))
    assert info.value.path == path
    assert str(info.value).startswith(path + ": ")


def test_invalid_yaml_and_missing(tmp_path):
    with pytest.raises(BlueprintError) as info:
        load_blueprint_dir(str(tmp_path))
    assert info.value.path == "blueprint.yaml"
    (tmp_path / "blueprint.yaml").write_text("a: [unclosed\n")
    with pytest.raises(BlueprintError) as info:
        load_blueprint_dir(str(tmp_path))
    assert "invalid YAML" in str(info.value)
    (tmp_path / "blueprint.yaml").write_text("- 1\n")
    with pytest.raises(BlueprintError):
        load_blueprint_dir(str(tmp_path))


# ------------------------------------------------------------------ inference / resources

def test_profile_resolution():
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    inf, prov = resolve_inference(bp)
    assert inf["profile"] == "default" and inf["endpoint"] == "https://integrate.api.nvidia.com/v1"
    assert prov == {"name": "nvidia-inference", "type": "nvidia", "config": {"NVIDIA_BASE_URL": "https://integrate.api.nvidia.com/v1"},
                    "credentials": [{"key": "NVIDIA_API_KEY", "env": "NVIDIA_INFERENCE_API_KEY", "source": "missing"}]}
    _inf, prov = resolve_inference(bp, "default", credentials_given=["NVIDIA_INFERENCE_API_KEY"])
    assert prov["credentials"][0]["source"] == "given"
    inf, prov = resolve_inference(bp, "vllm")
    assert prov["credentials"] == [{"key": "OPENAI_API_KEY", "env": "OPENAI_API_KEY", "source": "default", "default": "dummy"}]
    assert inf["timeout_secs"] == 180 and prov["config"] == {"OPENAI_BASE_URL": "http://localhost:8000/v1"}
    _inf, prov = resolve_inference(bp, "vllm", credentials_given=["OPENAI_API_KEY"])
    assert prov["credentials"][0]["source"] == "given" and "default" not in prov["credentials"][0]
    with pytest.raises(BlueprintError) as info:
        resolve_inference(bp, "ncp")
    assert info.value.path == "endpoint_url"
    inf, _prov = resolve_inference(bp, "ncp", endpoint_url="https://ncp.example.com/v1")
    assert inf["endpoint"] == "https://ncp.example.com/v1" and inf["dynamic_endpoint"] is True
    with pytest.raises(BlueprintError):
        resolve_inference(bp, "ncp", endpoint_url="ncp.example.com")
    with pytest.raises(BlueprintError) as info:
        resolve_inference(bp, "default", endpoint_url="https://x.example.com")
    assert info.value.path == "endpoint_url"
    with pytest.raises(BlueprintError) as info:
        resolve_inference(bp, "nope")
    assert info.value.path == "profile"


def test_profile_default_fallbacks(bpdir):
    d = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    del d["x-agentfleet"]["default_profile"]
    d["components"]["inference"]["profiles"]["custom"] = {"provider_type": "acme", "provider_name": "acme", "model": "m",
                                                          "credential_env": "ACME_KEY", "endpoint": "https://acme.example.com"}
    d["profiles"] = ["custom"]
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(d))
    bp = load_blueprint_dir(str(bpdir))
    inf, prov = resolve_inference(bp)
    assert inf["profile"] == "custom" and prov["credentials"][0]["key"] == "ACME_KEY" and prov["config"] == {}
    with pytest.raises(BlueprintError):
        resolve_inference(bp, "default")


@pytest.mark.parametrize("profile,facts,cpu,memory", [
    ("creator", {"cpus": 10, "memory_mb": 65536}, "5", "32768Mi"),
    ("gamer", {"cpus": 10, "memory_mb": 65536}, "2500m", "16384Mi"),
    ("developer", {"cpus": 3, "memory_mb": 1000}, "2250m", "750Mi"),
    ("game-developer", {"cpus": 1, "memory_mb": 100}, "600m", "128Mi"),
    ("gamer", {"cpus": 0.25, "memory_mb": 1024}, "100m", "256Mi"),
])
def test_resource_arithmetic(profile, facts, cpu, memory):
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    r = compute_resources(bp, profile, facts)
    assert (r["cpu"], r["memory"], r["resource_profile"]) == (cpu, memory, profile)


def test_resource_errors_and_none():
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    assert compute_resources(bp) == {"resource_profile": None, "cpu": None, "memory": None}
    with pytest.raises(BlueprintError) as info:
        compute_resources(bp, "creator", {"memory_mb": 10})
    assert info.value.path == "host_facts.cpus"
    with pytest.raises(BlueprintError) as info:
        compute_resources(bp, "creator", {"cpus": 4, "memory_mb": True})
    assert info.value.path == "host_facts.memory_mb"
    with pytest.raises(BlueprintError) as info:
        compute_resources(bp, "huge", FACTS)
    assert info.value.path == "resource_profile"
    fixture = load_blueprint_dir(FIXTURE, library_dirs=[])
    assert compute_resources(fixture, "creator", FACTS)["cpu"] == "5"


# ------------------------------------------------------------------ plan

@pytest.mark.parametrize("agent", ["openclaw", "hermes"])
@pytest.mark.parametrize("tier", ["restricted", "balanced", "open"])
def test_shipped_blueprints_plan(agent, tier):
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, agent))
    verify(bp)
    p = plan(bp, tier=tier, openshell_version="0.0.116", host_facts=FACTS, resource_profile="creator",
             credentials_given=["NVIDIA_INFERENCE_API_KEY"])
    validate_policy(p["policy"])
    assert json.loads(json.dumps(p)) == p
    assert p["tier"] == tier
    assert "managed_inference" in p["policy"]["network_policies"]
    assert set(p["provenance"]) == set(p["policy"]["network_policies"])
    assert p["provenance"]["managed_inference"]["layer"] == "baseline"
    assert p["plan_digest"].startswith("sha256:")
    assert p["sandbox"]["cpu"] == "5" and p["sandbox"]["memory"] == "32768Mi"
    assert p["health_command"] and p["state_dirs"]
    again = plan(load_blueprint_dir(os.path.join(BLUEPRINTS, agent)), tier=tier, openshell_version="0.0.116", host_facts=FACTS,
                 resource_profile="creator", credentials_given=["NVIDIA_INFERENCE_API_KEY"])
    assert again == p
    if tier == "restricted":
        assert p["presets"] == []
    else:
        assert "npm_yarn" in p["policy"]["network_policies"]
        assert p["provenance"]["npm_yarn"]["source"] == "library:presets/npm.yaml"
    if tier == "open":
        weather = p["policy"]["network_policies"]["weather"]
        assert all(r["allow"]["method"] in ("GET", "HEAD") for e in weather["endpoints"] for r in e["rules"])


def test_openclaw_agent_presets_and_additions():
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    p = plan(bp, tier="balanced")
    assert "openclaw-pricing" in p["policy"]["network_policies"]
    assert p["provenance"]["nim_service"]["layer"] == "agent:additions"
    r = plan(bp, tier="restricted")
    assert "openclaw-pricing" not in r["policy"]["network_policies"]
    assert r["plan_digest"] != p["plan_digest"]


def test_plan_presets_custom_overrides(tmp_path):
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    custom = tmp_path / "nas.yaml"
    custom.write_text(yaml.safe_dump({"preset": {"name": "nas"}, "network_policies": {"nas": {
        "endpoints": [{"host": "nas.lan", "port": 5000, "protocol": "rest", "access": "read-only"}], "binaries": [{"path": "/usr/bin/curl"}]}}}))
    overrides = {"source": "host_vars/dgx1.yml", "exclude": ["openclaw_docs"],
                 "network_policies": {"wiki": {"endpoints": [{"host": "wiki.example.com", "port": 443, "access": "full"}],
                                               "binaries": [{"path": "/usr/bin/curl"}]}}}
    inline = {"name": "inline", "network_policies": {"inline": {
        "endpoints": [{"host": "i.example.com", "port": 443, "access": "full"}], "binaries": [{"path": "/x"}]}}}
    p = plan(bp, tier="restricted", presets=["github", {"weather": "read"}, "slack:read"], custom_presets=[str(custom), inline],
             overrides=overrides, trusted_private_hosts=["nas.lan=192.168.1.20"])
    nps = p["policy"]["network_policies"]
    assert nps["nas"]["endpoints"][0]["allowed_ips"] == ["192.168.1.20"]
    assert p["provenance"]["nas"] == {"layer": "custom:nas", "source": "custom:nas.yaml", "level": "custom"}
    assert p["provenance"]["wiki"]["source"] == "host_vars/dgx1.yml"
    assert "openclaw_docs" not in nps and p["excluded"]["openclaw_docs"]["source"] == "host_vars/dgx1.yml"
    assert [x["name"] for x in p["presets"]] == ["github", "slack", "weather"]
    assert "github" in nps and "inline" in nps
    with pytest.raises(BlueprintError) as info:
        plan(bp, tier="restricted", custom_presets=[str(custom)])
    assert info.value.path == "policy.network_policies.nas.endpoints[0].host"
    with pytest.raises(BlueprintError) as info:
        plan(bp, overrides={"exclude": ["managed_inference"]})
    assert "refused" in str(info.value)
    with pytest.raises(BlueprintError) as info:
        plan(bp, overrides=[{"name": "g", "bogus": 1}])
    assert info.value.path == "overrides[0].bogus"


@pytest.mark.parametrize("kwargs,path", [
    ({"tier": "extreme"}, "tier"),
    ({"presets": ["nonexistent"]}, "presets.nonexistent"),
    ({"presets": ["npm:write"]}, "presets[0]"),
    ({"presets": [5]}, "presets[0]"),
    ({"presets": [{"brew": "read"}]}, "library:presets/brew.yaml.network_policies.brew.endpoints[0]"),
    ({"custom_presets": [{"policy": {}}]}, "custom_presets[0].name"),
    ({"custom_presets": [5]}, "custom_presets[0]"),
    ({"overrides": "x"}, "overrides"),
    ({"openshell_version": "0.0.99"}, "openshell_version"),
    ({"agent_version": "2026.1.0"}, "agent_version"),
    ({"profile": "ncp"}, "endpoint_url"),
    ({"resource_profile": "creator"}, "host_facts.cpus"),
])
def test_plan_errors(kwargs, path):
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    with pytest.raises(BlueprintError) as info:
        plan(bp, **kwargs)
    assert info.value.path == path


def test_plan_preset_file_errors(tmp_path, bpdir):
    presets = bpdir / "policies" / "presets"
    presets.mkdir()
    (presets / "bad.yaml").write_text("preset: {name: bad}\nfilesystem_policy: {}\n")
    (presets / "empty.yaml").write_text("preset: {name: empty}\n")
    (presets / "list.yaml").write_text("- 1\n")
    (presets / "meta.yaml").write_text("preset: 5\nnetwork_policies: {}\n")
    bp = load_blueprint_dir(str(bpdir))
    for name, needle in (("bad", "filesystem_policy"), ("empty", "network_policies"), ("list", "mapping"), ("meta", "preset")):
        with pytest.raises(BlueprintError) as info:
            plan(bp, tier="restricted", presets=[name])
        assert needle in str(info.value)
        assert info.value.path.startswith("blueprint:policies/presets/%s.yaml" % name)


def test_tiers_formats_and_errors(bpdir):
    pol = bpdir / "policies"
    (pol / "tiers.yaml").write_text("tiers:\n  mine:\n    presets: [npm, {name: weather, access: read}]\n")
    bp = load_blueprint_dir(str(bpdir))
    tiers, label = B.load_tiers(bp)
    assert tiers == {"mine": [("npm", "read-write"), ("weather", "read")]} and label == "blueprint:policies/tiers.yaml"
    assert plan(bp, tier="mine")["presets"][0]["source"] == "library:presets/npm.yaml"
    for text, needle in (("tiers: 5\n", "tiers"), ("tiers: [{label: x}]\n", "name"),
                         ("tiers: {a: {presets: [5]}}\n", "presets[0]"), ("tiers: {a: {presets: [{npm: all}]}}\n", "access")):
        (pol / "tiers.yaml").write_text(text)
        with pytest.raises(BlueprintError) as info:
            B.load_tiers(bp)
        assert needle in str(info.value)


def test_no_tiers_anywhere(bpdir):
    bp = load_blueprint_dir(str(bpdir), library_dirs=[])
    with pytest.raises(BlueprintError) as info:
        plan(bp, tier="balanced")
    assert info.value.path == "tier"
    assert plan(bp, tier="restricted")["presets"] == []


def test_baseline_lookup_and_errors(bpdir):
    d = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    d["x-agentfleet"]["baseline"] = "../outside.yaml"
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(BlueprintError) as info:
        plan(load_blueprint_dir(str(bpdir)))
    assert "escapes" in str(info.value)
    d["x-agentfleet"]["baseline"] = "policies/missing.yaml"
    d["components"]["policy"]["base"] = "sandboxes/none/policy.yaml"
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(d))
    os.rename(str(bpdir / "policies" / "openclaw-sandbox.yaml"), str(bpdir / "policies" / "other.yaml"))
    with pytest.raises(BlueprintError) as info:
        plan(load_blueprint_dir(str(bpdir)))
    assert info.value.path == "x-agentfleet.baseline"
    d["x-agentfleet"]["baseline"] = "policies/other.yaml"
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(d))
    (bpdir / "policies" / "other.yaml").write_text("version: 1\nnetwork_policies: {x: {endpoints: [{host: a.com, port: 0}], binaries: [{path: /x}]}}\n")
    with pytest.raises(BlueprintError) as info:
        plan(load_blueprint_dir(str(bpdir)))
    assert info.value.path == "policies/other.yaml: network_policies.x.endpoints[0].port"


def test_agent_policy_file(bpdir):
    d = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    d["x-agentfleet"]["agent_policy"] = "policies/agent.yaml"
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(BlueprintError) as info:
        plan(load_blueprint_dir(str(bpdir)))
    assert info.value.path == "x-agentfleet.agent_policy"
    (bpdir / "policies" / "agent.yaml").write_text(yaml.safe_dump({
        "filesystem_policy": {"read_write": ["/sandbox/.agent"]},
        "network_policies": {"agent_extra": {"endpoints": [{"host": "agent.example.com", "port": 443, "access": "full"}], "binaries": [{"path": "/x"}]}}}))
    p = plan(load_blueprint_dir(str(bpdir)), tier="restricted")
    assert p["provenance"]["agent_extra"] == {"layer": "agent:policy", "source": "blueprint:policies/agent.yaml", "level": "agent"}
    assert "/sandbox/.agent" in p["policy"]["filesystem_policy"]["read_write"]
    (bpdir / "policies" / "agent.yaml").write_text("- x\n")
    with pytest.raises(BlueprintError):
        plan(load_blueprint_dir(str(bpdir)))


def test_policy_library_inside_the_blueprint(tmp_path, bpdir):
    lib = tmp_path / "shared"
    (lib / "presets").mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "policies", "presets", "npm.yaml"), str(lib / "presets" / "npm.yaml"))
    (lib / "tiers.yaml").write_text("tiers: [{name: tiny, presets: [npm]}]\n")
    d = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    d["x-agentfleet"]["policy_library"] = "shared"
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(d))
    shutil.move(str(lib), str(bpdir / "shared"))
    bp = load_blueprint_dir(str(bpdir))
    assert [lbl for lbl, _d in bp.policy_lookup_dirs()][:2] == ["blueprint:policies", "blueprint-library"]
    p = plan(bp, tier="tiny")
    assert p["provenance"]["npm_yarn"]["source"] == "blueprint-library:presets/npm.yaml"
    assert "Blueprint(" in repr(bp)


# ------------------------------------------------------------------ NemoClaw-format fixture

def test_nemoclaw_format_fixture_plans_unchanged():
    bp = load_blueprint_dir(FIXTURE, library_dirs=[])
    before = copy.deepcopy(bp.data)
    verify(bp)
    assert bp.ext == {}
    for tier in ("restricted", "balanced", "open"):
        p = plan(bp, tier=tier, openshell_version="0.0.106", agent_version="2026.3.11", host_facts=FACTS, resource_profile="gamer")
        validate_policy(p["policy"])
        assert p["sandbox"] == {"image": bp.data["components"]["sandbox"]["image"], "name": "openclaw", "forward_ports": [18789],
                                "resource_profile": "gamer", "cpu": "2500m", "memory": "16384Mi"}
        assert p["provenance"]["managed_inference"]["source"] == (
            "blueprint:policies/openclaw-sandbox.yaml (components.policy.base sandboxes/openclaw/policy.yaml is not "
            "in the blueprint: NemoClaw's baseline)")
        assert p["required_policy_keys"] == ["managed_inference"]
        for preset in p["presets"]:
            assert preset["source"].startswith("blueprint:policies/presets/")
        assert p["blueprint"]["image_digest"] == bp.data["digest"]
    assert bp.data == before
    p = plan(bp, tier="balanced")
    assert sorted(p["policy"]["network_policies"]) == sorted(
        ["brave", "brew", "clawhub", "huggingface", "managed_inference", "nim_service", "npm_registry", "npm_yarn", "nvidia",
         "openclaw_api", "openclaw_docs", "openclaw_gateway_dialback", "pypi"])
    assert p["tier"] == "balanced" and p["inference"]["profile"] == "default"
    assert p["providers"][0]["credentials"][0]["env"] == "NVIDIA_API_KEY"
    with pytest.raises(BlueprintError):
        plan(bp, openshell_version="0.0.116")


# ------------------------------------------------------------------ NemoClaw's own blueprint directories

def _tree(root):
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as fh:
                out[os.path.relpath(os.path.join(dirpath, n), root)] = fh.read()
    return out


@pytest.mark.parametrize("upstream,openshell", [("a5486894c", "0.0.106"), ("tranzmatt-9708c26", "0.0.72")])
@pytest.mark.parametrize("tier,presets", [
    ("restricted", []),
    ("balanced", ["brave", "brew", "huggingface", "npm", "pypi"]),
    ("open", ["brave", "brew", "discord", "huggingface", "jira", "npm", "outlook", "public-reference", "pypi", "slack",
              "teams", "telegram", "weather", "wechat", "whatsapp"]),
])
def test_nemoclaw_upstream_blueprint_plans_unchanged(upstream, openshell, tier, presets):
    # NemoClaw's nemoclaw-blueprint/ as published, copied unmodified (see the fixture's README).
    root = os.path.join(UPSTREAM, upstream, "nemoclaw-blueprint")
    files = _tree(root)
    bp = load_blueprint_dir(root)
    before = copy.deepcopy(bp.data)
    verify(bp)
    assert bp.ext == {}
    p = plan(bp, tier=tier, openshell_version=openshell, agent_version="2026.3.11", host_facts=FACTS, resource_profile="creator")
    validate_policy(p["policy"])
    assert p["tier"] == tier and sorted(x["name"] for x in p["presets"]) == presets
    # the blueprint's own presets come first; the messaging presets it leaves to NemoClaw's channels come from the library
    for item in p["presets"]:
        own = os.path.isfile(os.path.join(root, "policies", "presets", item["name"] + ".yaml"))
        assert item["source"].startswith("blueprint:policies/presets/" if own else "library:presets/"), item
    # nim_service names no binaries: OpenShell reads that as any binary, and so does the plan
    nim = p["policy"]["network_policies"]["nim_service"]
    assert nim == {"name": "nim_service", "endpoints": [{"host": "nim-service.local", "port": 8000, "access": "full"}]}
    assert p["any_binary"] == ["nim_service"]
    assert p["provenance"]["nim_service"] == {"layer": "agent:additions", "level": "agent", "any_binary": True,
                                              "source": "blueprint:blueprint.yaml#components.policy.additions"}
    assert [k for k, v in p["provenance"].items() if v.get("any_binary")] == ["nim_service"]
    # NemoClaw's base names a path of the image sources; like NemoClaw, the plan loads its fixed baseline, and says so
    assert p["provenance"]["managed_inference"]["source"] == (
        "blueprint:policies/openclaw-sandbox.yaml (components.policy.base sandboxes/openclaw/policy.yaml is not "
        "in the blueprint: NemoClaw's baseline)")
    assert p["sandbox"]["cpu"] == "5" and p["sandbox"]["memory"] == "32768Mi"
    assert p["blueprint"]["image_digest"] == bp.data["digest"]
    assert bp.data == before and _tree(root) == files


def test_nemoclaw_upstream_blueprint_version_gate_and_personal_tier():
    bp = load_blueprint_dir(os.path.join(UPSTREAM, "a5486894c", "nemoclaw-blueprint"))
    with pytest.raises(BlueprintError) as info:
        plan(bp, openshell_version="0.0.116")  # the blueprint pins OpenShell 0.0.106 exactly
    assert "min 0.0.106, max 0.0.106" in str(info.value)
    # the personal tier opens private ranges from a host-less preset rule: only baselines may do that here
    with pytest.raises(BlueprintError) as info:
        plan(bp, tier="personal")
    assert info.value.path == "policy.network_policies.personal_open_internet.endpoints[0].allowed_ips"


def test_nemoclaw_upstream_march_blueprint_is_refused_like_openshell_does():
    # 04012f7: nim_service has protocol rest without access or rules; OpenShell's l7_validate refuses it too.
    with pytest.raises(BlueprintError) as info:
        load_blueprint_dir(os.path.join(UPSTREAM, "04012f7", "nemoclaw-blueprint"))
    assert info.value.path == "components.policy.additions.nim_service.endpoints[0].rules"
    assert "requires rules or access" in info.value.reason


def test_additions_without_binaries_mean_any_binary(bpdir):
    data = yaml.safe_load((bpdir / "blueprint.yaml").read_text())
    del data["components"]["policy"]["additions"]["nim_service"]["binaries"]
    (bpdir / "blueprint.yaml").write_text(yaml.safe_dump(data))
    p = plan(load_blueprint_dir(str(bpdir)), tier="restricted")
    assert "binaries" not in p["policy"]["network_policies"]["nim_service"]
    assert p["any_binary"] == ["nim_service"] and p["provenance"]["nim_service"]["any_binary"] is True
    # shipped blueprints name binaries everywhere: no flag, no any_binary key (their plan digests do not move)
    p = plan(load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw")), tier="open")
    assert "any_binary" not in p and not any(v.get("any_binary") for v in p["provenance"].values())
    # malformed binaries are still refused at load
    for bad, where in (([], "binaries"), (None, "binaries"), ([{"path": "bin/x"}], "binaries[0].path"), (["/x"], "binaries[0]")):
        data["components"]["policy"]["additions"]["nim_service"]["binaries"] = bad
        with pytest.raises(BlueprintError) as info:
            validate_blueprint(data)
        assert info.value.path == "components.policy.additions.nim_service." + where


def test_blueprint_labels_name_the_blueprint_with_a_short_digest():
    labels = B.blueprint_labels("openclaw", "0.1.0", "sha256:" + "ab" * 32)
    assert labels == {"nemoclaw.blueprint/name": "openclaw", "nemoclaw.blueprint/version": "0.1.0",
                      "nemoclaw.blueprint/digest": "ab" * 8}
    assert B.blueprint_labels("x", 1, "cd" * 32)["nemoclaw.blueprint/digest"] == "cd" * 8


# ------------------------------------------------------------------ the collection's preset library

LIBRARY_PRESETS = sorted(n[:-len(".yaml")] for n in os.listdir(os.path.join(ROOT, "policies", "presets")) if n.endswith(".yaml"))


@pytest.mark.parametrize("name", LIBRARY_PRESETS)
def test_every_library_preset_plans(name):
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    p = plan(bp, tier="restricted", presets=[name], trusted_private_hosts=["host.openshell.internal=172.17.0.1"])
    validate_policy(p["policy"])
    assert [x["source"] for x in p["presets"]] == ["library:presets/%s.yaml" % name]
    meta = yaml.safe_load(open(os.path.join(ROOT, "policies", "presets", name + ".yaml")))["preset"]
    assert meta["name"] == name and meta["description"]
    assert "any_binary" not in p  # every shipped preset names its binaries


def test_library_follows_nemoclaw_tiers():
    bp = load_blueprint_dir(os.path.join(BLUEPRINTS, "openclaw"))
    tiers, label = B.load_tiers(bp)
    assert label == "library:tiers.yaml"
    assert [n for n, _a in tiers["balanced"]] == ["npm", "pypi", "huggingface", "brew-balanced", "brave"]
    assert {"wechat", "teams", "brew"} <= set(n for n, _a in tiers["open"])
    with pytest.raises(BlueprintError) as info:  # brew and brew-balanced define the same key differently
        plan(bp, tier="restricted", presets=["brew", "brew-balanced"])
    assert info.value.path == "policy.network_policies.brew"
    raw = [ep for ep in plan(bp, tier="balanced")["policy"]["network_policies"]["brew"]["endpoints"]
           if ep["host"] == "raw.githubusercontent.com"]
    assert [r["allow"]["method"] for r in raw[0]["rules"]] == ["GET", "HEAD"]


def _plan_of(bpdir):
    return plan(load_blueprint_dir(str(bpdir)), openshell_version="0.0.106", agent_version="2026.3.11", host_facts=FACTS)


@pytest.mark.parametrize("key,value", [("base", "policies/hermes-sandbox.yaml"), ("baseline", "policies/mine.yaml")])
def test_a_missing_baseline_of_the_blueprint_is_refused_not_replaced(bpdir, key, value):
    """A base under policies/ (or x-agentfleet.baseline) names a file of this blueprint: no fallback."""
    path = bpdir / "blueprint.yaml"
    doc = yaml.safe_load(path.read_text())
    if key == "base":
        doc["components"]["policy"]["base"] = value
    else:
        doc.setdefault("x-agentfleet", {})["baseline"] = value
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(BlueprintError) as info:
        _plan_of(bpdir)
    assert "baseline policy not found (tried %s)" % value in str(info.value)


def test_the_shipped_baseline_has_no_fallback_note(bpdir):
    assert _plan_of(bpdir)["provenance"]["managed_inference"]["source"] == "blueprint:policies/openclaw-sandbox.yaml"
