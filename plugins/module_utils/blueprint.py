# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE – internal API of agentfleet.nemoclaw, may change without notice.
#
# Blueprint handling: load (directory / .tar.gz / https via an injected fetcher),
# canonical artifact digest, verification, version gates, profile resolution and a
# deterministic plan (sandbox spec, inference, providers, composed policy).
# Stdlib only; PyYAML is imported lazily by the functions that read files (controller).

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat
import tarfile
import tempfile


from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.validate import BLUEPRINT_SANDBOX_NAME_RE as _SANDBOX_NAME_RE
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.validate import (
    credential_key_problem, display_url, endpoint_url_problem, model_problem, provider_name_problem)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell_versions as versions
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell_versions import parse_version
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import (
    PolicyError,
    apply_preset_access,
    canonical_json,
    compose_policy,
    image_problem,
    validate_policy,
)

__all__ = [
    "BlueprintError",
    "Blueprint",
    "load_blueprint_dir",
    "load_blueprint_archive",
    "resolve_source",
    "artifact_digest",
    "validate_blueprint",
    "verify",
    "parse_version",
    "check_version_gate",
    "resolve_inference",
    "compute_resources",
    "load_tiers",
    "plan",
    "default_library_dirs",
]

BLUEPRINT_FILE = "blueprint.yaml"
EXTENSION_KEY = "x-agentfleet"
DIGEST_HEADER = b"agentfleet-blueprint-digest/v1\n"
SKIP_DIRS = (".git", "__pycache__")
# What a blueprint archive may hold, checked from its headers before any content is read or written: a blueprint
# is a few dozen small YAML files, and an archive is read before its pin is known to match.
MAX_ARCHIVE_MEMBERS = 4096
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024  # all regular files together, uncompressed
MAX_YAML_BYTES = 4 * 1024 * 1024  # one blueprint, tiers or preset file
DEFAULT_TIER = "balanced"
DEFAULT_PROFILE = "default"

TOP_KEYS = (
    "version", "min_openshell_version", "max_openshell_version", "min_openclaw_version", "digest",
    "profiles", "description", "components", "openshell_target", EXTENSION_KEY,
)
COMPONENT_KEYS = ("sandbox", "inference", "policy", "router", "identity")
SANDBOX_KEYS = ("image", "name", "forward_ports", "resource_profiles")
INFERENCE_PROFILE_KEYS = (
    "provider_type", "provider_name", "endpoint", "model", "credential_env", "credential_default",
    "dynamic_endpoint", "timeout_secs",
)
EXTENSION_KEYS = (
    "health_command", "state_dirs", "agent", "baseline", "agent_policy", "agent_presets", "policy_library",
    "default_profile", "default_tier", "default_resource_profile", "required_policy_keys",
)
AGENT_KEYS = ("name", "version", "min_version", "max_version")

# OpenShell inference provider types: credential key and base-URL config key.
PROVIDER_TYPES = {
    "nvidia": ("NVIDIA_API_KEY", "NVIDIA_BASE_URL"),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "deepinfra": ("DEEPINFRA_API_KEY", "DEEPINFRA_BASE_URL"),
}

_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_PRESET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_IMAGE_DIGEST_RE = re.compile(r"@(sha256:[0-9a-f]{64})$")
_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


class BlueprintError(ValueError):
    """A blueprint error at a precise field path (like PolicyError)."""

    origin = None  # as PolicyError's: where the policy layer of the error came from, when known

    def __init__(self, path, reason):
        self.path = path or "<blueprint>"
        self.reason = reason
        super(BlueprintError, self).__init__("%s: %s" % (self.path, reason))

    def __str__(self):
        return "%s: %s" % (self.path, self.reason)


class Blueprint(object):
    """A loaded blueprint.

    root         -- absolute directory holding blueprint.yaml (extracted for archives)
    data         -- parsed blueprint.yaml
    digest       -- artifact digest ("sha256:<hex>") of the directory or archive
    source       -- what it was loaded from (path or URL)
    library_dirs -- [(label, directory)] policy lookup order (see policy_lookup_dirs)
    """

    def __init__(self, root, data, digest, source, library_dirs=()):
        self.root = root
        self.data = data
        self.digest = digest
        self.source = source
        self.library_dirs = list(library_dirs)

    @property
    def ext(self):
        return self.data.get(EXTENSION_KEY) or {}

    @property
    def name(self):
        agent = self.ext.get("agent") or {}
        return agent.get("name") or self.data["components"]["sandbox"].get("name") or "blueprint"

    @property
    def version(self):
        return str(self.data.get("version", ""))

    def policy_lookup_dirs(self):
        """Lookup order for presets and tiers.yaml: the blueprint's own policies/, then
        x-agentfleet.policy_library (relative to the blueprint), then the collection's policies/."""
        dirs = [("blueprint:policies", os.path.join(self.root, "policies"))]
        lib = self.ext.get("policy_library")
        if lib:
            dirs.append(("blueprint-library", os.path.normpath(os.path.join(self.root, lib))))
        dirs.extend(self.library_dirs)
        return [(label, d) for label, d in dirs if os.path.isdir(d)]

    def __repr__(self):
        return "Blueprint(%s %s, %s)" % (self.name, self.version, self.digest)


# ---------------------------------------------------------------------------
# file helpers
# ---------------------------------------------------------------------------

def default_library_dirs():
    """The collection's shared policies/ directory (plugins/module_utils/../../policies)."""
    here = os.path.dirname(os.path.abspath(__file__))
    lib = os.path.normpath(os.path.join(here, "..", "..", "policies"))
    return [("library", lib)] if os.path.isdir(lib) else []


def _load_yaml(path, label):
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
        raise BlueprintError(label, "PyYAML is required to read blueprint files")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_YAML_BYTES + 1)
        if len(data) > MAX_YAML_BYTES:
            raise BlueprintError(label, "file is larger than %d bytes" % MAX_YAML_BYTES)
        text = data.decode("utf-8")
        # libyaml's safe loader when PyYAML has it: the same documents, about 10 x faster than
        # the pure-Python one, which dominated planning (a plan reads ~9 files per host).
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # nosec B506 - a safe loader
    except (OSError, IOError) as exc:
        raise BlueprintError(label, "cannot read file: %s" % exc)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BlueprintError(label, "invalid YAML: %s" % str(exc).replace("\n", " "))


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest_digest(entries):
    h = hashlib.sha256(DIGEST_HEADER)
    for rel in sorted(entries, key=lambda p: p.encode("utf-8")):
        kind, digest = entries[rel]
        h.update(("%s %s %s\n" % (kind, digest, rel)).encode("utf-8"))
    return "sha256:" + h.hexdigest()


def _dir_entries(root):
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        keep = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if d in SKIP_DIRS:
                continue
            if os.path.islink(full):
                filenames.append(d)
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                _check_dir_link(root, full, rel)
                entries[rel] = ("l", hashlib.sha256(os.readlink(full).encode("utf-8")).hexdigest())
            elif stat.S_ISREG(st.st_mode):
                entries[rel] = ("x" if st.st_mode & 0o111 else "f", _sha256_file(full))
    return entries


def _check_dir_link(root, full, rel):
    """A symbolic link of a blueprint directory must point inside it: the digest covers a link's text, so what it
    points to is covered only when that is part of the blueprint too."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(full)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise BlueprintError(rel, "symbolic link points outside the blueprint directory (to %s)" % os.readlink(full))


def _member_name(name, label):
    clean = name.replace("\\", "/")
    while clean.startswith("./"):
        clean = clean[2:]
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean):
        raise BlueprintError(label, "archive member %r has an absolute path" % name)
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BlueprintError(label, "archive member %r contains '..'" % name)
    return "/".join(parts)


def _archive_members(path):
    """Safe listing of a .tar.gz: [(relpath, member)] with the wrapper dir stripped.

    Refused, from the headers alone: absolute names and ``..``, a name given twice, special files, more than
    ``MAX_ARCHIVE_MEMBERS`` members or ``MAX_ARCHIVE_BYTES`` of files, and links that leave the archive, lead
    through another link, or have members under them. What the listing accepts can be written without following a
    link, so the digest of the archive is the digest of what is extracted.
    """
    label = os.path.basename(path)
    try:
        tf = tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError, IOError) as exc:
        raise BlueprintError(label, "not a readable .tar.gz archive: %s" % exc)
    try:
        members = _listed_members(tf, label)
    except BaseException:
        tf.close()
        raise
    names = [rel for rel, _m in members]
    tops = set(rel.split("/", 1)[0] for rel in names)
    prefix = ""
    if BLUEPRINT_FILE not in names and len(tops) == 1:
        top = next(iter(tops))
        if any(rel.startswith(top + "/") for rel in names):
            prefix = top + "/"
    out = []
    for rel, m in members:
        if prefix:
            if rel == prefix[:-1]:
                continue
            rel = rel[len(prefix):]
        if rel.split("/")[0] in SKIP_DIRS or "/__pycache__/" in "/" + rel + "/":
            continue
        out.append((rel, m))
    try:
        _check_archive_links(out, label)
    except BaseException:
        tf.close()
        raise
    return tf, out


def _listed_members(tf, label):
    members, seen, total = [], set(), 0
    try:
        for m in tf:
            if len(members) >= MAX_ARCHIVE_MEMBERS:
                raise BlueprintError(label, "archive has more than %d members" % MAX_ARCHIVE_MEMBERS)
            rel = _member_name(m.name, label)
            if not rel:
                continue
            if rel in seen:
                raise BlueprintError(label, "archive member %r appears more than once" % m.name)
            seen.add(rel)
            if m.issym() or m.islnk():
                if m.linkname.replace("\\", "/").startswith("/"):
                    raise BlueprintError(label, "link %r points to an absolute path" % m.name)
            elif m.isfile():
                total += m.size
                if total > MAX_ARCHIVE_BYTES:
                    raise BlueprintError(label, "archive holds more than %d bytes of files" % MAX_ARCHIVE_BYTES)
            elif not m.isdir():
                raise BlueprintError(label, "unsupported archive member type for %r" % m.name)
            members.append((rel, m))
    except (tarfile.TarError, OSError, IOError, EOFError) as exc:
        raise BlueprintError(label, "not a readable .tar.gz archive: %s" % exc)
    return members


def _check_archive_links(members, label):
    """Links of the (wrapper-stripped) listing: a symbolic link's target resolves inside the archive without going
    through another symbolic link, no member lies under a symbolic link, and a hard link names a regular file."""
    links = set(rel for rel, m in members if m.issym())
    by_name = dict((_member_name(m.name, label), m) for _rel, m in members)
    for rel, m in members:
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise BlueprintError(label, "archive member %r lies under the symbolic link %r" % (m.name, "/".join(parts[:i])))
        if m.issym():
            stack = parts[:-1]
            for part in m.linkname.replace("\\", "/").split("/"):
                if part in ("", "."):
                    continue
                if part == "..":
                    if not stack:
                        raise BlueprintError(label, "link %r escapes the archive" % m.name)
                    stack.pop()
                    continue
                stack.append(part)
                if "/".join(stack) in links:
                    raise BlueprintError(label, "link %r points through the symbolic link %r" % (m.name, "/".join(stack)))
        elif m.islnk():
            source = by_name.get(_member_name(m.linkname, label))
            if source is None or not source.isfile():
                raise BlueprintError(label, "hard link %r has no regular file to point to in the archive" % m.name)


def _archive_entries(path):
    tf, members = _archive_members(path)
    with tf:
        by_name = dict((_member_name(m.name, path), m) for _rel, m in members)
        entries = {}
        for rel, m in members:
            if m.isdir():
                continue
            if m.issym():
                entries[rel] = ("l", hashlib.sha256(m.linkname.encode("utf-8")).hexdigest())
                continue
            source = m
            if m.islnk():
                source = by_name.get(_member_name(m.linkname, path))
                if source is None or not source.isfile():
                    raise BlueprintError(os.path.basename(path), "hard link %r has no target in the archive" % m.name)
            handle = tf.extractfile(source)
            h = hashlib.sha256()
            for chunk in iter(lambda: handle.read(1 << 20), b""):  # pylint: disable=cell-var-from-loop
                h.update(chunk)
            entries[rel] = ("x" if source.mode & 0o111 else "f", h.hexdigest())
        return entries


def _is_archive(path):
    return path.endswith(".tar.gz") or path.endswith(".tgz")


def artifact_digest(path):
    """Canonical digest of a blueprint artifact (directory or .tar.gz).

    Manifest: one line per file, ``<kind> <sha256 of content> <relative POSIX path>\\n``,
    sorted by the UTF-8 bytes of the path, where kind is ``f`` (regular file), ``x``
    (regular file with any executable bit) or ``l`` (symlink; hash of the link target text).
    Directories (so empty ones too), ``.git/`` and ``__pycache__/`` are ignored. For archives
    a leading ``./`` and a single wrapper directory (when blueprint.yaml is not at the root)
    are stripped, so a directory and its tarball digest equally. The digest is
    ``sha256:`` + sha256(``agentfleet-blueprint-digest/v1\\n`` + manifest).
    """
    if os.path.isdir(path):
        return _manifest_digest(_dir_entries(path))
    if os.path.isfile(path) and _is_archive(path):
        return _manifest_digest(_archive_entries(path))
    raise BlueprintError(str(path), "not a blueprint directory or .tar.gz archive")


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

def _j(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key) if path else key


def _tn(value):
    return type(value).__name__ if value is not None else "null"


def _b_map(value, path):
    if not isinstance(value, dict):
        raise BlueprintError(path, "expected a mapping, got %s" % _tn(value))
    return value


def _b_str(value, path, allow_empty=True):
    if not isinstance(value, str):
        raise BlueprintError(path, "expected a string, got %s" % _tn(value))
    if not allow_empty and not value.strip():
        raise BlueprintError(path, "must not be empty")
    return value


def _b_list(value, path):
    if not isinstance(value, list):
        raise BlueprintError(path, "expected a list, got %s" % _tn(value))
    return value


def _b_keys(doc, path, allowed):
    for key in sorted(doc, key=str):
        if key not in allowed:
            raise BlueprintError(_j(path, str(key)), "unknown field (allowed: %s)" % ", ".join(allowed))


def _b_int(value, path, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise BlueprintError(path, "expected an integer, got %s" % _tn(value))
    if value < lo or value > hi:
        raise BlueprintError(path, "%d is out of range %d..%d" % (value, lo, hi))
    return value


def _b_abs_path(value, path):
    _b_str(value, path, allow_empty=False)
    if not value.startswith("/") or ".." in value.split("/"):
        raise BlueprintError(path, "must be an absolute path without '..': %r" % value)


def _b_version(value, path):
    if value in (None, ""):
        return
    if not isinstance(value, str):
        raise BlueprintError(path, "version must be a quoted string, got %s" % _tn(value))
    try:
        parse_version(value)
    except ValueError as exc:
        raise BlueprintError(path, str(exc))


def _policy_to_blueprint_error(exc, prefix):
    path = exc.path
    if path.startswith("network_policies"):
        path = path[len("network_policies"):]
        path = prefix + path
    return BlueprintError(path, exc.reason)


def validate_blueprint(data):
    """Structural validation of a parsed blueprint.yaml (NemoClaw format + x-agentfleet)."""
    _b_map(data, "<blueprint>")
    _b_keys(data, "", TOP_KEYS)
    # The blueprint's own version is compared by canary upgrades and rollbacks: a version string.
    _b_str(data.get("version"), "version", allow_empty=False)
    _b_version(data["version"], "version")
    for key in ("min_openshell_version", "max_openshell_version", "min_openclaw_version"):
        _b_version(data.get(key), key)
    digest = data.get("digest")
    if digest not in (None, ""):
        _b_str(digest, "digest")
        if not _SHA256_RE.match(digest):
            raise BlueprintError("digest", "expected sha256:<64 lowercase hex>, got %r" % digest)
    if data.get("description") is not None:
        _b_str(data["description"], "description")
    comps = _b_map(data.get("components"), "components")
    _b_keys(comps, "components", COMPONENT_KEYS)
    sb = _b_map(comps.get("sandbox"), "components.sandbox")
    _b_keys(sb, "components.sandbox", SANDBOX_KEYS)
    _b_str(sb.get("image"), "components.sandbox.image", allow_empty=False)
    problem = image_problem(sb["image"])
    if problem:
        raise BlueprintError("components.sandbox.image", "%r %s" % (sb["image"], problem))
    if sb.get("name") is not None:
        _b_str(sb["name"], "components.sandbox.name")
        if not _SANDBOX_NAME_RE.fullmatch(sb["name"]):
            raise BlueprintError("components.sandbox.name", "must be a DNS-1123 label of 1-19 characters, got %r" % sb["name"])
    for i, port in enumerate(_b_list(sb.get("forward_ports") or [], "components.sandbox.forward_ports")):
        _b_int(port, _j("components.sandbox.forward_ports", i), 1, 65535)
    rps = _b_map(sb.get("resource_profiles") or {}, "components.sandbox.resource_profiles")
    for name in sorted(rps, key=str):
        rpath = _j("components.sandbox.resource_profiles", name)
        rp = _b_map(rps[name], rpath)
        _b_keys(rp, rpath, ("cpu", "memory", "cpu_percent", "memory_percent", "description"))
        for field in ("cpu", "memory"):
            _percent(rp, field, rpath)
    inference = _b_map(comps.get("inference") or {}, "components.inference")
    _b_keys(inference, "components.inference", ("profiles",))
    profiles = _b_map(inference.get("profiles") or {}, "components.inference.profiles")
    for name in sorted(profiles, key=str):
        ppath = _j("components.inference.profiles", name)
        prof = _b_map(profiles[name], ppath)
        _b_keys(prof, ppath, INFERENCE_PROFILE_KEYS)
        for field in ("provider_type", "provider_name", "model"):
            _b_str(prof.get(field), _j(ppath, field), allow_empty=False)
        problem = provider_name_problem(prof["provider_name"]) or model_problem(prof["model"])
        if problem:
            field = "provider_name" if provider_name_problem(prof["provider_name"]) else "model"
            raise BlueprintError(_j(ppath, field), "%r %s" % (prof[field], problem))
        for field in ("endpoint", "credential_default"):
            if prof.get(field) is not None:
                _b_str(prof[field], _j(ppath, field))
        if prof.get("endpoint"):
            problem = endpoint_url_problem(prof["endpoint"])
            if problem:
                raise BlueprintError(_j(ppath, "endpoint"), problem)
        if prof.get("credential_env") is not None:
            _b_str(prof["credential_env"], _j(ppath, "credential_env"))
            problem = credential_key_problem(prof["credential_env"])
            if problem:
                raise BlueprintError(_j(ppath, "credential_env"), problem)
        if prof.get("dynamic_endpoint") is not None and not isinstance(prof["dynamic_endpoint"], bool):
            raise BlueprintError(_j(ppath, "dynamic_endpoint"), "expected a boolean, got %s" % _tn(prof["dynamic_endpoint"]))
        if prof.get("timeout_secs") is not None:
            _b_int(prof["timeout_secs"], _j(ppath, "timeout_secs"), 1, 86400)
        endpoint = prof.get("endpoint") or ""
        if endpoint and not re.match(r"^https?://[^\s/]+", endpoint):
            raise BlueprintError(_j(ppath, "endpoint"), "expected an http(s) URL, got %r" % endpoint)
    names = _b_list(data.get("profiles") or [], "profiles")
    for i, name in enumerate(names):
        _b_str(name, _j("profiles", i), allow_empty=False)
        if name not in profiles:
            raise BlueprintError(_j("profiles", i), "profile %r is not defined under components.inference.profiles" % name)
    pol = _b_map(comps.get("policy") or {}, "components.policy")
    _b_keys(pol, "components.policy", ("base", "additions"))
    if pol.get("base") is not None:
        _b_str(pol["base"], "components.policy.base")
    if pol.get("additions"):
        _b_map(pol["additions"], "components.policy.additions")
        try:
            validate_policy({"version": 1, "network_policies": pol["additions"]})
        except PolicyError as exc:
            raise _policy_to_blueprint_error(exc, "components.policy.additions")
    for key in ("router", "identity"):
        if comps.get(key) is not None:
            _b_map(comps[key], _j("components", key))
    if data.get("openshell_target") is not None:
        _b_map(data["openshell_target"], "openshell_target")
    _validate_extension(data.get(EXTENSION_KEY))


def _validate_extension(ext):
    if ext is None:
        return
    p = EXTENSION_KEY
    _b_map(ext, p)
    _b_keys(ext, p, EXTENSION_KEYS)
    if ext.get("health_command") is not None:
        cmd = _b_list(ext["health_command"], _j(p, "health_command"))
        if not cmd:
            raise BlueprintError(_j(p, "health_command"), "must be a non-empty argv list")
        for i, arg in enumerate(cmd):
            _b_str(arg, _j(_j(p, "health_command"), i))
    for i, d in enumerate(_b_list(ext.get("state_dirs") or [], _j(p, "state_dirs"))):
        _b_abs_path(d, _j(_j(p, "state_dirs"), i))
    if ext.get("agent") is not None:
        agent = _b_map(ext["agent"], _j(p, "agent"))
        _b_keys(agent, _j(p, "agent"), AGENT_KEYS)
        if agent.get("name") is not None:
            _b_str(agent["name"], _j(_j(p, "agent"), "name"), allow_empty=False)
        for key in ("version", "min_version", "max_version"):
            _b_version(agent.get(key), _j(_j(p, "agent"), key))
    for key in ("baseline", "agent_policy", "policy_library", "default_profile", "default_tier", "default_resource_profile"):
        if ext.get(key) is not None:
            _b_str(ext[key], _j(p, key), allow_empty=False)
    library = ext.get("policy_library")
    if library is not None and (library.replace("\\", "/").startswith("/") or ".." in library.replace("\\", "/").split("/")):
        # Inside the blueprint, so that its digest covers the presets it brings.
        raise BlueprintError(_j(p, "policy_library"), "must be a path inside the blueprint (no absolute path, no '..'), got %r"
                             % library)
    for key in ("agent_presets", "required_policy_keys"):
        for i, item in enumerate(_b_list(ext.get(key) or [], _j(p, key))):
            _b_str(item, _j(_j(p, key), i), allow_empty=False)


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------

def load_blueprint_dir(path, library_dirs=None, digest=None, source=None):
    """Load and validate ``<path>/blueprint.yaml``; compute the artifact digest."""
    root = os.path.abspath(path)
    bp_file = os.path.join(root, BLUEPRINT_FILE)
    if not os.path.isfile(bp_file):
        raise BlueprintError(BLUEPRINT_FILE, "not found in %s" % path)
    data = _load_yaml(bp_file, BLUEPRINT_FILE)
    validate_blueprint(data)
    libs = default_library_dirs() if library_dirs is None else [
        (item if isinstance(item, tuple) else ("library", item)) for item in library_dirs]
    return Blueprint(root, data, digest or artifact_digest(root), source or path, libs)


def load_blueprint_archive(path, workdir=None, library_dirs=None, pinned_digest=None, source=None):
    """Safely extract a .tar.gz blueprint into a fresh directory under `workdir` and load it.

    The listing is checked first (``_archive_members``), then the digest of its contents against
    ``pinned_digest`` when given: nothing is written for an archive that is refused or not the pinned one. Files
    are created new (``O_EXCL``) and never through a link.
    """
    digest = artifact_digest(path)
    check_pin(source or path, digest, pinned_digest)
    tf, members = _archive_members(path)
    dest = tempfile.mkdtemp(prefix="blueprint-", dir=workdir)
    with tf:
        by_name = dict((_member_name(x.name, path), x) for _r, x in members)
        for rel, m in members:
            target = os.path.join(dest, *rel.split("/"))
            if m.isdir():
                if not os.path.isdir(target):
                    os.makedirs(target)
                continue
            parent = os.path.dirname(target)
            if not os.path.isdir(parent):
                os.makedirs(parent)
            if m.issym():
                os.symlink(m.linkname, target)
                continue
            source_member = by_name[_member_name(m.linkname, path)] if m.islnk() else m
            handle = tf.extractfile(source_member)
            mode = 0o755 if source_member.mode & 0o111 else 0o644
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: handle.read(1 << 20), b""):  # pylint: disable=cell-var-from-loop
                    out.write(chunk)
            os.chmod(target, mode)
    return load_blueprint_dir(dest, library_dirs=library_dirs, digest=digest, source=source or path)


def display_source(src):
    """``src`` as output and records show it (``validate.display_url``)."""
    return display_url(src)


def check_pin(source, digest, pinned_digest):
    """Fail when ``pinned_digest`` is given and is not ``digest`` (the artifact's, computed)."""
    if pinned_digest and pinned_digest != digest:
        raise BlueprintError("digest", "artifact digest mismatch for %s: computed %s, pinned %s"
                             % (display_source(source), digest, pinned_digest))


def resolve_source(src, workdir, fetch=None, library_dirs=None, pinned_digest=None):
    """Load a blueprint from a directory, a .tar.gz file or an https:// URL.

    ``fetch(url, dest_path)`` downloads the URL to dest_path (it may return another path
    to use instead); it is injected by the caller (action plugin) and faked in tests.
    Plain http:// and other schemes are refused.
    """
    if not isinstance(src, str) or not src:
        raise BlueprintError("src", "expected a directory, .tar.gz path or https:// URL")
    if "://" in src:
        if not src.startswith("https://"):
            raise BlueprintError("src", "only https:// URLs are supported, got %r" % display_source(src))
        if fetch is None:
            raise BlueprintError("src", "no fetcher available for %s" % display_source(src))
        name = posixpath.basename(src.split("?", 1)[0].split("#", 1)[0]) or "blueprint.tar.gz"
        if not _is_archive(name):
            name = "blueprint.tar.gz"
        ddir = os.path.join(workdir, "download")
        if not os.path.isdir(ddir):
            os.makedirs(ddir)
        dest = os.path.join(ddir, name)
        got = fetch(src, dest)
        archive = got if isinstance(got, str) and got else dest
        return load_blueprint_archive(archive, workdir=workdir, library_dirs=library_dirs, pinned_digest=pinned_digest,
                                      source=display_source(src))
    if os.path.isdir(src):
        return load_blueprint_dir(src, library_dirs=library_dirs)
    if os.path.isfile(src) and _is_archive(src):
        return load_blueprint_archive(src, workdir=workdir, library_dirs=library_dirs, pinned_digest=pinned_digest)
    raise BlueprintError("src", "%s is neither a blueprint directory nor a .tar.gz archive" % src)


# ---------------------------------------------------------------------------
# verification and versions
# ---------------------------------------------------------------------------

def verify(blueprint, pinned_digest=None, allow_unpinned_image=False):
    """Check the artifact digest pin, the image pin and the top-level digest mirror."""
    if pinned_digest:
        if not _SHA256_RE.match(pinned_digest):
            raise BlueprintError("pinned_digest", "expected sha256:<64 lowercase hex>, got %r" % pinned_digest)
        if pinned_digest != blueprint.digest:
            raise BlueprintError("digest", "artifact digest %s does not match the pinned %s" % (blueprint.digest, pinned_digest))
    image = blueprint.data["components"]["sandbox"]["image"]
    m = _IMAGE_DIGEST_RE.search(image)
    if not m and not allow_unpinned_image:
        raise BlueprintError("components.sandbox.image", "image %r is not pinned by @sha256 digest" % image)
    top = blueprint.data.get("digest") or ""
    if top and m and top != m.group(1):
        raise BlueprintError("digest", "top-level digest %s does not match the image digest %s" % (top, m.group(1)))


def check_version_gate(actual, minimum=None, maximum=None, what="version"):
    """Raise BlueprintError when `actual` is outside [minimum, maximum] (inclusive); see
    ``openshell_versions.check_version_gate``."""
    try:
        versions.check_version_gate(actual, minimum, maximum, what)
    except versions.VersionGateError as exc:
        raise BlueprintError(exc.field, exc.reason)


# ---------------------------------------------------------------------------
# inference and resources
# ---------------------------------------------------------------------------

def resolve_inference(blueprint, profile=None, endpoint_url=None, credentials_given=()):
    """Resolve an inference profile into the inference route and its provider spec.

    Profile: the argument, else x-agentfleet.default_profile, else "default", else the
    first of `profiles`. A ``dynamic_endpoint`` profile needs `endpoint_url` (or a
    non-empty blueprint endpoint); `endpoint_url` is refused for static profiles.
    The provider credential key is the provider type's key (nvidia: NVIDIA_API_KEY,
    openai: OPENAI_API_KEY, ...; unknown types use credential_env); its value is read from
    the environment variable ``credential_env`` (default: the key). ``credential_default``
    is used only when that variable is not in `credentials_given`.
    """
    data = blueprint.data
    profiles = ((data["components"].get("inference") or {}).get("profiles")) or {}
    listed = data.get("profiles") or sorted(profiles)
    name = profile or blueprint.ext.get("default_profile")
    if not name:
        name = DEFAULT_PROFILE if DEFAULT_PROFILE in listed else (listed[0] if listed else None)
    if not name:
        raise BlueprintError("components.inference.profiles", "the blueprint defines no inference profile")
    if name not in profiles or (data.get("profiles") and name not in data["profiles"]):
        raise BlueprintError("profile", "unknown inference profile %r (available: %s)" % (name, ", ".join(listed)))
    prof = profiles[name]
    ppath = "components.inference.profiles.%s" % name
    endpoint = prof.get("endpoint") or ""
    if prof.get("dynamic_endpoint"):
        endpoint = endpoint_url or endpoint
        if not endpoint:
            raise BlueprintError("endpoint_url", "profile %s has a dynamic endpoint and no endpoint in the blueprint; "
                                 "an endpoint_url is required" % name)
    elif endpoint_url:
        raise BlueprintError("endpoint_url", "profile %s has a fixed endpoint; endpoint_url applies only to dynamic_endpoint profiles" % name)
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise BlueprintError(_j(ppath, "endpoint"), "expected an http(s) URL, got %r" % endpoint)
    ptype = prof["provider_type"].lower()
    cred_key, url_key = PROVIDER_TYPES.get(ptype, (None, None))
    env = prof.get("credential_env") or cred_key
    cred_key = cred_key or env
    credential = None
    if cred_key:
        given = set(credentials_given or ())
        if env in given or cred_key in given:
            credential = {"key": cred_key, "env": env if env in given else cred_key, "source": "given"}
        elif prof.get("credential_default") not in (None, ""):
            credential = {"key": cred_key, "env": env, "source": "default", "default": prof["credential_default"]}
        else:
            credential = {"key": cred_key, "env": env, "source": "missing"}
    config = {}
    if endpoint and url_key:
        config[url_key] = endpoint
    provider = {
        "name": prof["provider_name"],
        "type": ptype,
        "credentials": [credential] if credential else [],
        "config": config,
    }
    inference = {
        "profile": name,
        "provider_name": prof["provider_name"],
        "provider_type": ptype,
        "endpoint": endpoint,
        "model": prof["model"],
        "dynamic_endpoint": bool(prof.get("dynamic_endpoint")),
    }
    if prof.get("timeout_secs"):
        inference["timeout_secs"] = prof["timeout_secs"]
    return inference, provider


def _percent(rp, field, rpath):
    value = rp.get(field, rp.get(field + "_percent"))
    if value is None:
        return None
    fpath = _j(rpath, field)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BlueprintError(fpath, "expected a percentage like 50 or \"50%%\", got %s" % _tn(value))
    m = _PERCENT_RE.match(str(value))
    if not m:
        raise BlueprintError(fpath, "expected a percentage like 50 or \"50%%\", got %r" % (value,))
    pct = float(m.group(1))
    if pct <= 0 or pct > 100:
        raise BlueprintError(fpath, "percentage must be in (0, 100], got %s" % m.group(1))
    return pct


def compute_resources(blueprint, resource_profile=None, host_facts=None):
    """CPU/memory for `openshell sandbox create --cpu/--memory` from a resource profile.

    cpu: floor(host cpus * 1000 * pct / 100) millicores, rendered as whole cores ("4") when
    divisible by 1000, else millicores ("2500m"); at least "100m".
    memory: floor(host memory_mb * pct / 100) MiB rendered as "<n>Mi"; at least "128Mi".
    Without a profile (argument or x-agentfleet.default_resource_profile) no limits are set.
    """
    sb = blueprint.data["components"]["sandbox"]
    profiles = sb.get("resource_profiles") or {}
    name = resource_profile or blueprint.ext.get("default_resource_profile")
    if not name:
        return {"resource_profile": None, "cpu": None, "memory": None}
    if name not in profiles:
        raise BlueprintError("resource_profile", "unknown resource profile %r (available: %s)" % (name, ", ".join(sorted(profiles)) or "none"))
    rpath = "components.sandbox.resource_profiles.%s" % name
    rp = profiles[name]
    facts = host_facts or {}
    out = {"resource_profile": name, "cpu": None, "memory": None}
    cpu_pct = _percent(rp, "cpu", rpath)
    if cpu_pct is not None:
        cpus = facts.get("cpus")
        if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0:
            raise BlueprintError("host_facts.cpus", "a positive CPU count is required for resource profile %s" % name)
        milli = max(100, int(cpus * 1000 * cpu_pct // 100))
        out["cpu"] = str(milli // 1000) if milli % 1000 == 0 else "%dm" % milli
    mem_pct = _percent(rp, "memory", rpath)
    if mem_pct is not None:
        mem = facts.get("memory_mb")
        if isinstance(mem, bool) or not isinstance(mem, (int, float)) or mem <= 0:
            raise BlueprintError("host_facts.memory_mb", "a positive memory size (MiB) is required for resource profile %s" % name)
        out["memory"] = "%dMi" % max(128, int(mem * mem_pct // 100))
    return out


# ---------------------------------------------------------------------------
# policy files
# ---------------------------------------------------------------------------

def _find_policy_file(blueprint, relpath):
    for label, d in blueprint.policy_lookup_dirs():
        full = os.path.normpath(os.path.join(d, *relpath.split("/")))
        if not full.startswith(os.path.normpath(d) + os.sep):
            raise BlueprintError(relpath, "path escapes the policy directory %s" % label)
        if os.path.isfile(full):
            return full, "%s/%s" % (label, relpath) if label.endswith(":policies") else "%s:%s" % (label, relpath)
    return None, None


def _blueprint_file(blueprint, rel, path_label):
    full = os.path.normpath(os.path.join(blueprint.root, rel))
    if not (full + os.sep).startswith(blueprint.root + os.sep):
        raise BlueprintError(path_label, "path %r escapes the blueprint directory" % rel)
    return full


def _baseline(blueprint):
    """Locate the baseline policy; returns (policy, provenance source).

    ``x-agentfleet.baseline`` or a ``components.policy.base`` under ``policies/`` names a file of
    this blueprint: it must exist. NemoClaw's published blueprints name a path of the sandbox image
    sources instead (``sandboxes/openclaw/policy.yaml``) and NemoClaw itself always loads
    ``policies/openclaw-sandbox.yaml`` (bin/lib/onboard.js); only then is ``policies/<basename>``
    or that file used, and the provenance source says so.
    """
    ext = blueprint.ext
    base = ((blueprint.data["components"].get("policy")) or {}).get("base") or ""
    if ext.get("baseline"):
        candidates = [(ext["baseline"], "%s.baseline" % EXTENSION_KEY, "")]
    elif not base or posixpath.normpath(base).startswith("policies/"):
        candidates = [(base or "policies/openclaw-sandbox.yaml", "components.policy.base", "")]
    else:
        note = " (components.policy.base %s is not in the blueprint: NemoClaw's baseline)" % base
        candidates = [(base, "components.policy.base", ""),
                      ("policies/" + posixpath.basename(base), "components.policy.base", note),
                      ("policies/openclaw-sandbox.yaml", "components.policy.base", note)]
    for rel, label, note in candidates:
        full = _blueprint_file(blueprint, rel, label)
        if os.path.isfile(full):
            doc = _load_yaml(full, rel)
            try:
                validate_policy(doc)
            except PolicyError as exc:
                raise BlueprintError("%s: %s" % (rel, exc.path), exc.reason)
            return doc, "blueprint:" + posixpath.normpath(rel) + note
    raise BlueprintError(candidates[0][1], "baseline policy not found (tried %s)" % ", ".join(c[0] for c in candidates))


def _load_preset_file(full, label):
    doc = _load_yaml(full, label)
    if not isinstance(doc, dict):
        raise BlueprintError(label, "a preset file must be a mapping")
    for key in sorted(doc):
        if key not in ("preset", "network_policies", "network_middlewares"):
            raise BlueprintError("%s: %s" % (label, key), "presets may only contain preset, network_policies and network_middlewares")
    meta = doc.get("preset") or {}
    if not isinstance(meta, dict):
        raise BlueprintError("%s: preset" % label, "expected a mapping with name and description")
    fragment = dict((k, v) for k, v in doc.items() if k != "preset")
    if not fragment.get("network_policies") and not fragment.get("network_middlewares"):
        raise BlueprintError("%s: network_policies" % label, "the preset defines no network policies")
    return meta, fragment


def load_tiers(blueprint):
    """Read tiers.yaml (first found in the lookup order) into {tier: [(preset, access)]}.

    Accepted shapes: ``tiers: [{name, label?, presets: [...]}, ...]`` or
    ``tiers: {name: {label?, presets: [...]}}``; preset items are ``name``,
    ``{name: X, access: read|read-write}`` or ``{X: read|read-write}``.
    """
    full, label = _find_policy_file(blueprint, "tiers.yaml")
    if not full:
        return {}, None
    doc = _load_yaml(full, label) or {}
    tiers = doc.get("tiers") if isinstance(doc, dict) else None
    if isinstance(tiers, list):
        items = []
        for i, t in enumerate(tiers):
            if not isinstance(t, dict) or not isinstance(t.get("name"), str):
                raise BlueprintError("%s: tiers[%d].name" % (label, i), "each tier needs a name")
            items.append((t["name"], t))
    elif isinstance(tiers, dict):
        items = sorted(tiers.items())
    else:
        raise BlueprintError("%s: tiers" % label, "expected a list or mapping of tiers")
    out = {}
    for name, t in items:
        tpath = "%s: tiers.%s.presets" % (label, name)
        presets = []
        for i, p in enumerate((t or {}).get("presets") or []):
            if isinstance(p, str):
                pname, access = p, "read-write"
            elif isinstance(p, dict) and "name" in p:
                pname, access = p["name"], p.get("access", "read-write")
            elif isinstance(p, dict) and len(p) == 1:
                pname, access = next(iter(p.items()))
            else:
                raise BlueprintError("%s[%d]" % (tpath, i), "expected a preset name or {name: access}")
            if access not in ("read", "read-write"):
                raise BlueprintError("%s[%d]" % (tpath, i), "access must be read or read-write, got %r" % (access,))
            presets.append((pname, access))
        out[name] = presets
    return out, label


def _parse_preset_selection(presets):
    out = {}
    for i, item in enumerate(presets or ()):
        if isinstance(item, str):
            name, _sep, access = item.partition(":")
            access = access or "read-write"
        elif isinstance(item, dict) and "name" in item:
            name, access = item["name"], item.get("access", "read-write")
        elif isinstance(item, dict) and len(item) == 1:
            name, access = next(iter(item.items()))
        else:
            raise BlueprintError("presets[%d]" % i, "expected 'name', 'name:access' or {name: access}")
        if not isinstance(name, str) or not _PRESET_NAME_RE.match(name):
            raise BlueprintError("presets[%d]" % i, "a preset name is letters, digits, '.', '_' and '-' (the name of a "
                                 "file presets/<name>.yaml), starting with a letter or digit, got %s" % json.dumps(name))
        if access not in ("read", "read-write"):
            raise BlueprintError("presets[%d]" % i, "access must be read or read-write, got %r" % (access,))
        out[name] = access
    return out


def _custom_layers(custom_presets):
    layers = []
    for i, item in enumerate(custom_presets or ()):
        path = "custom_presets[%d]" % i
        if isinstance(item, str):
            try:
                meta, fragment = _load_preset_file(item, item)
            except BlueprintError as exc:
                raise BlueprintError(path, "preset file %s: %s" % (item, exc.reason if exc.path == item else exc))
            name = meta.get("name") or os.path.splitext(os.path.basename(item))[0]
            source = "custom:" + os.path.basename(item)
        elif isinstance(item, dict):
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise BlueprintError(_j(path, "name"), "custom presets need a name")
            fragment = item.get("policy") or dict((k, item[k]) for k in ("network_policies", "network_middlewares") if k in item)
            source = item.get("source") or "custom:%s" % name
        else:
            raise BlueprintError(path, "expected a preset file path or a mapping")
        layers.append({"name": "custom:%s" % name, "source": source, "level": "custom", "policy": fragment, "origin": path})
    return layers


def _override_layers(overrides):
    if not overrides:
        return []
    items = overrides if isinstance(overrides, list) else [overrides]
    layers = []
    for i, item in enumerate(items):
        path = "overrides" if not isinstance(overrides, list) else "overrides[%d]" % i
        if not isinstance(item, dict):
            raise BlueprintError(path, "expected a mapping")
        allowed = ("name", "source", "network_policies", "network_middlewares", "filesystem_policy", "exclude", "override")
        for key in sorted(item):
            if key not in allowed:
                raise BlueprintError(_j(path, key), "unknown field (allowed: %s)" % ", ".join(allowed))
        name = item.get("name") or ("inventory" if len(items) == 1 else "inventory-%d" % i)
        policy = dict((k, item[k]) for k in ("network_policies", "network_middlewares", "filesystem_policy") if item.get(k))
        layers.append({
            "name": name, "source": item.get("source") or "inventory", "level": "inventory",
            "policy": policy, "exclude": list(item.get("exclude") or []), "override": item.get("override", False),
            "origin": path,
        })
    return layers


# ---------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------

def policy_layers(blueprint, tier=None, presets=(), custom_presets=(), overrides=None):
    """Build the compose_policy layers for a blueprint; returns (layers, selection, tier)."""
    ext = blueprint.ext
    baseline, base_source = _baseline(blueprint)
    layers = [{"name": "baseline", "source": base_source, "level": "baseline", "policy": baseline}]
    additions = ((blueprint.data["components"].get("policy")) or {}).get("additions") or {}
    if additions:
        layers.append({"name": "agent:additions", "source": "blueprint:blueprint.yaml#components.policy.additions",
                       "level": "agent", "policy": {"network_policies": additions}})
    if ext.get("agent_policy"):
        rel = ext["agent_policy"]
        full = _blueprint_file(blueprint, rel, "%s.agent_policy" % EXTENSION_KEY)
        if not os.path.isfile(full):
            raise BlueprintError("%s.agent_policy" % EXTENSION_KEY, "file %s not found" % rel)
        doc = _load_yaml(full, rel) or {}
        if not isinstance(doc, dict):
            raise BlueprintError(rel, "expected a policy mapping")
        layers.append({"name": "agent:policy", "source": "blueprint:" + posixpath.normpath(rel), "level": "agent", "policy": doc})
    tiers, _tiers_label = load_tiers(blueprint)
    tier = tier or ext.get("default_tier") or DEFAULT_TIER
    if tiers and tier not in tiers:
        raise BlueprintError("tier", "unknown tier %r (available: %s)" % (tier, ", ".join(sorted(tiers))))
    if not tiers and tier != "restricted":
        raise BlueprintError("tier", "no tiers.yaml found for tier %r" % tier)
    selection = dict((n, a) for n, a in tiers.get(tier, []))
    if tier != "restricted":
        for name in ext.get("agent_presets") or []:
            selection.setdefault(name, "read-write")
    selection.update(_parse_preset_selection(presets))
    chosen = []
    for name in sorted(selection):
        access = selection[name]
        full, label = _find_policy_file(blueprint, "presets/%s.yaml" % name)
        if not full:
            raise BlueprintError("presets.%s" % name, "preset file presets/%s.yaml not found in %s"
                                 % (name, ", ".join(lbl for lbl, _d in blueprint.policy_lookup_dirs()) or "any policy directory"))
        _meta, fragment = _load_preset_file(full, label)
        try:
            fragment = apply_preset_access(fragment, access, path=label)
        except PolicyError as exc:
            raise BlueprintError(exc.path, exc.reason)
        layers.append({"name": "preset:%s" % name, "source": label, "level": "tier", "policy": fragment})
        chosen.append({"name": name, "access": access, "source": label})
    layers.extend(_custom_layers(custom_presets))
    layers.extend(_override_layers(overrides))
    required = ext.get("required_policy_keys")
    if required is None:
        required = [k for k in ("managed_inference",) if k in (baseline.get("network_policies") or {})]
    return layers, chosen, tier, list(required)


BLUEPRINT_LABEL_PREFIX = "nemoclaw.blueprint/"


def blueprint_labels(name, version, digest):
    """The labels that name the blueprint a sandbox was made from (read back by canary and rollback).

    The digest is cut to its first 16 hex digits: label values stay short and 64 bits
    tell the blueprints of one fleet apart.
    """
    hexdigest = str(digest or "")
    if hexdigest.startswith("sha256:"):
        hexdigest = hexdigest[len("sha256:"):]
    return {BLUEPRINT_LABEL_PREFIX + "name": str(name), BLUEPRINT_LABEL_PREFIX + "version": str(version),
            BLUEPRINT_LABEL_PREFIX + "digest": hexdigest[:16]}


def plan(blueprint, profile=None, tier=None, presets=(), custom_presets=(), overrides=None, trusted_private_hosts=(),
         openshell_version=None, agent_version=None, host_facts=None, credentials_given=(), resource_profile=None,
         endpoint_url=None):
    """Deterministic, JSON-serialisable deployment plan for a loaded blueprint.

    Keys: blueprint (name, version, digest, image_digest), versions (gates checked),
    sandbox (image, name, forward_ports, resource_profile, cpu, memory), inference, providers,
    tier, presets, policy (composed), provenance, excluded, required_policy_keys, agent,
    health_command, state_dirs, any_binary (only when some network policy names no binaries:
    their keys, also flagged ``any_binary: true`` in provenance), plan_digest (sha256 of the
    canonical JSON of everything else).
    """
    data = blueprint.data
    ext = blueprint.ext
    agent = ext.get("agent") or {}
    check_version_gate(openshell_version, data.get("min_openshell_version"), data.get("max_openshell_version"), "openshell_version")
    agent_min = agent.get("min_version") or data.get("min_openclaw_version")
    check_version_gate(agent_version, agent_min, agent.get("max_version"), "agent_version")
    sb = data["components"]["sandbox"]
    resources = compute_resources(blueprint, resource_profile, host_facts)
    inference, provider = resolve_inference(blueprint, profile, endpoint_url, credentials_given)
    layers, chosen, tier, required = policy_layers(blueprint, tier, presets, custom_presets, overrides)
    try:
        composed = compose_policy(layers, trusted_private_hosts=trusted_private_hosts, agent_required_keys=required)
    except PolicyError as exc:
        error = BlueprintError("policy.%s" % exc.path, exc.reason)
        error.origin = exc.origin  # the layer's origin: which of the caller's overrides or custom presets
        raise error
    image = sb["image"]
    m = _IMAGE_DIGEST_RE.search(image)
    result = {
        "blueprint": {
            "name": blueprint.name,
            "version": blueprint.version,
            "digest": blueprint.digest,
            "image_digest": m.group(1) if m else None,
        },
        "versions": {
            "openshell": {"actual": openshell_version, "min": data.get("min_openshell_version"), "max": data.get("max_openshell_version")},
            "agent": {"actual": agent_version, "min": agent_min, "max": agent.get("max_version")},
        },
        "agent": {"name": agent.get("name") or sb.get("name") or blueprint.name, "version": agent.get("version")},
        "sandbox": {
            "image": image,
            "name": sb.get("name") or blueprint.name,
            "forward_ports": list(sb.get("forward_ports") or []),
            "resource_profile": resources["resource_profile"],
            "cpu": resources["cpu"],
            "memory": resources["memory"],
        },
        "inference": inference,
        "providers": [provider],
        "tier": tier,
        "presets": chosen,
        "policy": composed.policy,
        "provenance": composed.provenance,
        "excluded": composed.excluded,
        "required_policy_keys": sorted(required),
        "health_command": list(ext.get("health_command") or []),
        "state_dirs": sorted(set(ext.get("state_dirs") or [])),
        "labels": blueprint_labels(blueprint.name, blueprint.version, blueprint.digest),
    }
    any_binary = sorted(key for key, origin in composed.provenance.items() if origin.get("any_binary"))
    if any_binary:
        # Rules that name no binaries: OpenShell lets every binary in the sandbox use them.
        result["any_binary"] = any_binary
    result = json.loads(canonical_json(result))
    result["plan_digest"] = "sha256:" + hashlib.sha256(canonical_json(result).encode("utf-8")).hexdigest()
    return result
