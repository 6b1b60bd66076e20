# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin agentfleet.nemoclaw.nemoclaw_blueprint (documentation: plugins/modules/nemoclaw_blueprint.py).

The blueprint artifact lives on the controller, so it is resolved, digest-verified and
composed here, on the controller. The only thing that touches the managed host is the
read-only ``openshell --version`` probe, and it runs after the artifact has been verified,
so a bad artifact fails every host before any command reaches any of them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import tempfile

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import (
    BlueprintError,
    parse_version,
    plan as plan_blueprint,
    check_pin,
    display_source,
    resolve_source,
    verify,
)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import PolicyError

display = Display()

# plugins/action/nemoclaw_blueprint.py -> collection root
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED_DIR = os.path.join(COLLECTION_ROOT, "blueprints")

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
_PIN_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_VERSION_IN_OUTPUT_RE = re.compile(r"(?<![\w.])[vV]?(\d+(?:\.\d+)+(?:[-+~][0-9A-Za-z.+~-]*)?)")

ARGUMENT_SPEC = dict(
    src=dict(type="str", required=True),
    digest=dict(type="str"),
    allow_unpinned_artifact=dict(type="bool", default=False),
    allow_unpinned_image=dict(type="bool", default=False),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
    profile=dict(type="str"),
    resource_profile=dict(type="str"),
    tier=dict(type="str"),
    presets=dict(type="list", elements="raw", default=[]),
    custom_presets=dict(type="list", elements="raw", default=[]),
    overrides=dict(type="raw"),
    trusted_private_hosts=dict(type="list", elements="raw", default=[]),
    openshell_version=dict(type="str"),
    detect_openshell_version=dict(type="bool", default=True),
    openshell_path=dict(type="str", default="openshell"),
    agent_version=dict(type="str"),
    # Sub-options are checked by _check_host_facts: ansible-core's validator crashes with a
    # TypeError on a non-mapping value when a dict option declares sub-options.
    host_facts=dict(type="dict"),
    credentials_given=dict(type="list", elements="str", default=[]),
    endpoint_url=dict(type="str"),
)

# Arguments that only shape how the artifact is obtained. Everything else in the task
# (tier, versions, facts, ...) is per host and goes into the plan, never into the cache key.
_ARTIFACT_ARGS = ("src", "validate_certs", "timeout")


def open_url(url, **kwargs):
    """``ansible.module_utils.urls.open_url``, imported on first use.

    It loads the HTTP and TLS stack (about a tenth of a second per playbook run); a run whose
    blueprints are all on the controller never needs it.
    """
    from ansible.module_utils.urls import open_url as _open_url  # pylint: disable=import-outside-toplevel
    return _open_url(url, **kwargs)


class ActionModule(ActionBase):
    """Resolve, verify and plan a NemoClaw blueprint on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    # Loaded (and digested) blueprints of this worker process, keyed on where the artifact
    # came from plus a stat fingerprint of it. Ansible runs every task of every host in a
    # fresh forked worker process, so this memo only saves work inside one worker (a loop
    # over tiers or profiles, several calls in one process such as unit tests). What is
    # shared by all workers of one ansible-playbook run is the download cache on disk
    # (see _download). Verification is repeated on every call; it is deterministic.
    _CACHE = {}

    # ------------------------------------------------------------------ entry point
    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        self._host_name = getattr(self._task, "delegate_to", None) or task_vars.get("inventory_hostname")
        self._probe_note = None
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = {"changed": False}
        try:
            self._check_args(args)
            # 1. controller: resolve and verify the artifact before the host is touched
            bp, shipped = self._load(args)
            pinned = self._verify(bp, args, shipped, result)
            # 2. host: read-only version probe
            version, version_source = self._openshell_version(args)
            # 3. controller: compose the plan
            agent_version = args["agent_version"] or ((bp.ext.get("agent") or {}).get("version"))
            custom = [self._controller_file(item, "custom_presets[%d]" % i) if isinstance(item, str) else item
                      for i, item in enumerate(args["custom_presets"])]
            plan = plan_blueprint(
                bp,
                profile=args["profile"],
                tier=args["tier"],
                presets=args["presets"],
                custom_presets=custom,
                overrides=args["overrides"],
                trusted_private_hosts=args["trusted_private_hosts"],
                openshell_version=version,
                agent_version=str(agent_version) if agent_version else None,
                host_facts=self._host_facts(args, task_vars),
                credentials_given=args["credentials_given"],
                resource_profile=args["resource_profile"],
                endpoint_url=args["endpoint_url"],
            )
        except (BlueprintError, PolicyError) as exc:
            result.update(failed=True, msg=to_native(exc), error_path=exc.path)
            if self._probe_note and exc.path == "openshell_version":
                result["msg"] += " (%s)" % self._probe_note
            return result
        result.update(
            plan=plan,
            digest=bp.digest,
            pinned=pinned,
            source=bp.source,
            openshell_version=version,
            openshell_version_source=version_source,
            msg="planned blueprint %s %s (%s), tier %s, %d network policies, openshell %s" % (
                plan["blueprint"]["name"], plan["blueprint"]["version"], bp.digest, plan["tier"],
                len(plan["policy"].get("network_policies") or {}), version or "not checked"),
        )
        if plan.get("any_binary"):
            result["msg"] += "; any binary may use %s (no binaries named)" % ", ".join(plan["any_binary"])
        return result

    # ------------------------------------------------------------------ arguments
    @staticmethod
    def _check_args(args):
        if not args["src"].strip():
            raise BlueprintError("src", "must not be empty")
        if args["digest"] is not None:
            args["digest"] = args["digest"].strip().lower()
            if not _PIN_RE.match(args["digest"]):
                raise BlueprintError("digest", "expected sha256:<64 hex digits> (see tools/blueprint-digest), got %r" % args["digest"])
        overrides = args["overrides"]
        if overrides is not None and not isinstance(overrides, dict) and not (
                isinstance(overrides, list) and all(isinstance(item, dict) for item in overrides)):
            raise BlueprintError("overrides", "expected a mapping or a list of mappings")
        if args["timeout"] <= 0:
            raise BlueprintError("timeout", "must be a positive number of seconds")
        if not args["openshell_path"].strip():
            raise BlueprintError("openshell_path", "must not be empty")
        if args["host_facts"] is not None:
            args["host_facts"] = _check_host_facts(args["host_facts"])

    # ------------------------------------------------------------------ artifact
    def _workdir(self):
        """Controller scratch space shared by every worker of this run (removed when it ends)."""
        base = os.path.join(C.DEFAULT_LOCAL_TMP, "agentfleet-nemoclaw-blueprints")
        if not os.path.isdir(base):
            try:
                os.makedirs(base, 0o700)
            except FileExistsError:
                pass
        return base

    def _search_paths(self, src):
        """Where a relative ``src`` is looked for, in order."""
        bases = []
        for path in self._task.get_search_path() or []:
            path = os.path.abspath(path)
            if os.path.basename(path) == "tasks":  # a role's tasks/ directory: its role root first
                bases.append(os.path.dirname(path))
            bases.append(path)
        bases.append(os.path.abspath(self._loader.get_basedir()))
        seen, out = set(), []
        for base in bases:
            for cand in (os.path.join(base, "blueprints", src), os.path.join(base, "files", src), os.path.join(base, src)):
                if cand not in seen:
                    seen.add(cand)
                    out.append(cand)
        for cand in (os.path.join(SHIPPED_DIR, src), os.path.join(COLLECTION_ROOT, src)):
            if cand not in seen:
                seen.add(cand)
                out.append(cand)
        return out

    @staticmethod
    def _is_artifact(path):
        if os.path.isdir(path):
            return os.path.isfile(os.path.join(path, "blueprint.yaml"))
        return os.path.isfile(path) and path.endswith(ARCHIVE_SUFFIXES)

    def _locate(self, src):
        src = os.path.expanduser(src)
        candidates = [src] if os.path.isabs(src) else self._search_paths(os.path.normpath(src))
        for cand in candidates:
            if self._is_artifact(cand):
                return os.path.normpath(cand)
        raise BlueprintError("src", "no blueprint directory (with blueprint.yaml) or .tar.gz archive named %r; searched %s"
                             % (src, ", ".join(candidates)))

    @staticmethod
    def _is_shipped(path):
        return os.path.dirname(os.path.realpath(path)) == os.path.realpath(SHIPPED_DIR)

    @staticmethod
    def _fingerprint(path):
        """Cheap change detector for the in-process memo: lstat of every entry."""
        if os.path.isfile(path):
            st = os.stat(path)
            return (st.st_ino, st.st_size, st.st_mtime_ns)
        items = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames) + dirnames:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                items.append((os.path.relpath(full, path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode))
        return hashlib.sha256(repr(items).encode("utf-8")).hexdigest()

    def _load(self, args):
        """Return (Blueprint, shipped) for ``src``, from the worker's memo when unchanged."""
        src = args["src"].strip()
        if "://" in src:
            key = ("url", src, args["validate_certs"])
            shipped = False
        else:
            path = self._locate(src)
            key = ("path", path, self._fingerprint(path))
            shipped = self._is_shipped(path)
        cached = self._CACHE.get(key)
        if cached is not None and os.path.isdir(cached.root):
            display.vvv("nemoclaw_blueprint: %s from the worker cache (%s)" % (src, cached.digest))
            return cached, shipped
        workdir = tempfile.mkdtemp(prefix="bp-", dir=self._workdir())
        try:
            if key[0] == "url":
                bp = resolve_source(src, workdir, fetch=lambda url, dest: self._download(url, args),
                                    pinned_digest=args["digest"])
            else:
                bp = resolve_source(key[1], workdir, pinned_digest=args["digest"])
        except Exception:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._CACHE[key] = bp
        return bp, shipped

    def _download(self, url, args):
        """Fetch ``url`` once per ansible-playbook run (per validate_certs setting).

        The archive is stored under the run's local temporary directory with a name derived
        from the URL; the first worker to finish publishes it with an atomic link, so every
        host of the run plans from the same bytes. The caller digests it again on every use.
        """
        ident = hashlib.sha256(("%s\n%s" % (url, args["validate_certs"])).encode("utf-8")).hexdigest()[:32]
        ddir = os.path.join(self._workdir(), "downloads")
        if not os.path.isdir(ddir):
            try:
                os.makedirs(ddir, 0o700)
            except FileExistsError:
                pass
        final = os.path.join(ddir, ident + ".tar.gz")
        if os.path.isfile(final):
            display.vvv("nemoclaw_blueprint: %s already downloaded in this run" % display_source(url))
            return final
        fd, part = tempfile.mkstemp(prefix=ident + ".", suffix=".part", dir=ddir)
        try:
            try:
                response = open_url(url, validate_certs=args["validate_certs"], timeout=args["timeout"],
                                    follow_redirects="safe")
                size = 0
                with os.fdopen(fd, "wb") as out:
                    fd = None
                    while True:
                        chunk = response.read(1 << 16)
                        if not chunk:
                            break
                        size += len(chunk)
                        if size > MAX_DOWNLOAD_BYTES:
                            raise BlueprintError("src", "download of %s exceeds %d bytes" % (display_source(url), MAX_DOWNLOAD_BYTES))
                        out.write(chunk)
            except BlueprintError:
                raise
            except Exception as exc:  # pylint: disable=broad-except
                raise BlueprintError("src", "cannot download %s: %s" % (display_source(url), to_native(exc).replace(url, display_source(url))))
            try:
                os.link(part, final)
            except FileExistsError:
                pass  # another worker of this run was first; use its copy
        finally:
            if fd is not None:
                os.close(fd)
            os.unlink(part)
        return final

    def _verify(self, bp, args, shipped, result):
        """Check the operator's pin (and the image pin). Returns whether a pin was checked."""
        pin = args["digest"]
        if not pin and not shipped and not args["allow_unpinned_artifact"]:
            raise BlueprintError("digest", "blueprint %s is not pinned: set digest to its artifact digest %s after reviewing it "
                                 "(or allow_unpinned_artifact=true)" % (bp.source, bp.digest))
        check_pin(bp.source, bp.digest, pin)
        # the image pin and the top-level image digest mirror
        verify(bp, None, allow_unpinned_image=args["allow_unpinned_image"])
        if not pin and not shipped:
            result.setdefault("warnings", []).append(
                "blueprint %s is used unpinned (allow_unpinned_artifact=true); pin digest: %s" % (bp.source, bp.digest))
        return bool(pin)

    def _controller_file(self, path, label):
        """A custom preset file on the controller: absolute, or searched like a role/playbook file."""
        path = os.path.expanduser(path)
        if os.path.isabs(path):
            found = path
        else:
            try:
                found = self._find_needle("files", path)
            except Exception:  # pylint: disable=broad-except
                found = None
        if not found or not os.path.isfile(found):
            raise BlueprintError(label, "preset file %s not found on the controller" % path)
        return found

    # ------------------------------------------------------------------ host
    def _openshell_version(self, args):
        """Return (version, source). Source: option, detected or skipped."""
        if args["openshell_version"]:
            return args["openshell_version"].strip(), "option"
        if not args["detect_openshell_version"]:
            return None, "skipped"
        exe = args["openshell_path"].strip()
        cmd = "%s --version" % shlex.quote(exe)
        env = self._compute_environment_string()
        if env:
            cmd = "%s %s" % (env, cmd)
        res = self._low_level_execute_command(cmd, sudoable=True)
        out = (res.get("stdout") or "").strip()
        if res.get("rc") != 0:
            detail = (res.get("stderr") or out or "").strip().splitlines()
            raise BlueprintError("openshell_version", "cannot detect the OpenShell version: '%s --version' failed on %s "
                                 "(rc=%s%s); install OpenShell, set openshell_path, or pass openshell_version"
                                 % (exe, self._host_label(), res.get("rc"), (": " + detail[-1]) if detail else ""))
        version = parse_openshell_version(out)
        if not version:
            raise BlueprintError("openshell_version", "cannot find a version in the output of '%s --version' on %s: %r"
                                 % (exe, self._host_label(), out[:200]))
        self._probe_note = "detected with '%s --version' on %s" % (exe, self._host_label())
        return version, "detected"

    def _host_label(self):
        return str(self._host_name) if self._host_name else "the managed host"

    @staticmethod
    def _host_facts(args, task_vars):
        given = args["host_facts"]
        if given is not None:
            return given
        facts = task_vars.get("ansible_facts") or {}
        cpus = facts.get("processor_vcpus", task_vars.get("ansible_processor_vcpus"))
        mem = facts.get("memtotal_mb", task_vars.get("ansible_memtotal_mb"))
        out = {}
        if cpus is not None:
            out["cpus"] = cpus
        if mem is not None:
            out["memory_mb"] = mem
        return out or None


def _check_host_facts(facts):
    """host_facts: {cpus: number, memory_mb: integer}, both optional; strings are converted."""
    out = {}
    for key in sorted(facts):
        if key not in ("cpus", "memory_mb"):
            raise BlueprintError("host_facts.%s" % key, "unknown field (allowed: cpus, memory_mb)")
        value = facts[key]
        if value is None:
            continue
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            number = float(value) if key == "cpus" else int(value)
        except (TypeError, ValueError):
            raise BlueprintError("host_facts.%s" % key, "expected %s, got %r" % (
                "a number of CPUs" if key == "cpus" else "an integer number of MiB", value))
        if key == "cpus" and number == int(number):
            number = int(number)
        out[key] = number
    return out


def parse_openshell_version(output):
    """The version in ``openshell --version`` output ("openshell 0.0.111"), or None."""
    for line in (output or "").splitlines():
        for match in _VERSION_IN_OUTPUT_RE.finditer(line):
            try:
                parse_version(match.group(1))
            except ValueError:
                continue
            return match.group(1)
    return None


__all__ = ["ActionModule", "ARGUMENT_SPEC", "parse_openshell_version"]
