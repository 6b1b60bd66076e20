# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The one OpenShell CLI client of the collection.

Every module talks to OpenShell through :class:`OpenShellClient` and nothing
else. The client

* builds argv lists (never shell strings) for the real ``openshell`` grammar
  (see ``shared/openshell/contract.md``), adding the global flags once;
* keeps secrets off the command line: a credential travels as
  ``--credential KEY`` on argv and ``KEY=value`` in the child's environment,
  which is how the real CLI reads it;
* runs the CLI with ``RUST_LOG=off`` (tracing goes to stdout and would spoil
  JSON) and ``NO_COLOR``/``LC_ALL=C``;
* parses JSON and the documented text outputs (ANSI stripped);
* maps failures to typed errors whose messages say what to do;
* retries transient ``Unavailable`` answers a bounded number of times;
* records every call it made (argv, rc, whether it mutates) so modules can
  report ``commands`` and tests can count mutating calls.

The runner is injectable: modules pass ``AnsibleModule.run_command``; unit
tests pass a fake.
"""

from __future__ import annotations

import json
import re
import time

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell_versions, validate

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Characters of miette's graphical report that wrap an error message.
_MIETTE_PREFIX_RE = re.compile(r"^\s*(?:Error:\s*)?(?:[×│├╰─▶]+\s*)*")

# Command paths that never change state on the gateway. Everything else is
# counted as mutating (used for check-mode guards and call accounting).
READ_ONLY_COMMANDS = frozenset([
    ("status",), ("gateway", "list"), ("gateway", "info"), ("provider", "list"),
    ("provider", "get"), ("sandbox", "list"), ("sandbox", "get"),
    ("sandbox", "provider", "list"), ("policy", "get"), ("policy", "list"),
    ("rule", "get"), ("rule", "history"), ("inference", "get"), ("settings", "get"),
    ("--version",),
])

SYSTEM_ROUTE = "sandbox-system"


class OpenShellError(Exception):
    """Base class of every failure the client reports.

    ``kind`` is a stable identifier tests and callers can match on.
    """

    kind = "error"

    def __init__(self, message, rc=None, stderr="", argv=None, hint=None):
        super(OpenShellError, self).__init__(message)
        self.message = message
        self.rc = rc
        self.stderr = stderr
        self.argv = list(argv or [])
        self.hint = hint

    def __str__(self):
        text = self.message
        if self.hint:
            text = "%s. %s" % (text.rstrip("."), self.hint)
        return text

    def to_result(self):
        return {"error_kind": self.kind, "rc": self.rc, "stderr": self.stderr, "cmd": self.argv}


class GatewayUnreachable(OpenShellError):
    kind = "gateway_unreachable"


class GatewayNotConfigured(OpenShellError):
    kind = "gateway_not_configured"


class NotFound(OpenShellError):
    kind = "not_found"


class AlreadyExists(OpenShellError):
    kind = "already_exists"


class InvalidArgument(OpenShellError):
    kind = "invalid_argument"


class Precondition(OpenShellError):
    kind = "precondition"


class ProposalChanged(Precondition):
    """``rule approve``: the proposal changed since it was fetched (review token mismatch, inputs changed)."""

    kind = "proposal_changed"


class ProposalNotApplicable(Precondition):
    """``rule approve``: the proposed rule cannot be applied to the sandbox's current policy."""

    kind = "proposal_not_applicable"


class PolicyWaitTimeout(OpenShellError):
    kind = "policy_wait_timeout"


class PolicyLoadFailed(OpenShellError):
    """A policy revision was submitted but the sandbox failed to load it (revision status ``failed``)."""

    kind = "policy_load_failed"


POLICY_LOAD_HINT = ("The desired policy is not in effect; the sandbox keeps its last loaded revision. Fix the policy: "
                    "every run applies it again and fails until it loads ('openshell policy list' shows the revisions)")


class Unavailable(OpenShellError):
    kind = "unavailable"


class CliNotFound(OpenShellError):
    kind = "cli_not_found"


def strip_ansi(text):
    return ANSI_RE.sub("", text or "")


def error_message(stderr):
    """Return the human message of a CLI error report, glyphs removed.

    Joins the lines of miette's report (``Error:   × first``, ``  │ more``,
    ``  ╰─▶ cause``) and clap's ``error: ...`` into one line.
    """
    lines = []
    for raw in strip_ansi(stderr).splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("Usage:") or line.startswith("For more information"):
            continue
        cleaned = _MIETTE_PREFIX_RE.sub("", line).strip()
        if cleaned.lower().startswith("error:"):
            cleaned = cleaned[6:].strip()
        if cleaned:
            lines.append(cleaned)
    return " ".join(lines)


# tonic renders a failed RPC as ``code: '<description>', message: "<server message>"``;
# the description names the gRPC code, whatever words the server message holds.
GRPC_CODES = {
    "some requested entity was not found": "NotFound",
    "some entity that we attempted to create already exists": "AlreadyExists",
    "client specified an invalid argument": "InvalidArgument",
    "the system is not in a state required for the operation's execution": "FailedPrecondition",
    "the operation was aborted": "Aborted",
    "the service is currently unavailable": "Unavailable",
}
# Server messages of ``rule approve`` since OpenShell 679fe4c (FailedPrecondition, or Aborted).
PROPOSAL_ERRORS = (
    ("review token does not match the fetched proposal", "changed"),
    ("proposal inputs changed", "changed"),
    ("proposal is not applicable", "not_applicable"),
)


def _grpc_code(low):
    """The gRPC code named by the first ``code: '<description>'`` of a message, or None."""
    found = [(low.find("code: '%s'" % text), code) for text, code in GRPC_CODES.items() if "code: '%s'" % text in low]
    return min(found)[1] if found else None


_SERVER_MESSAGE_RE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


def server_message(msg):
    """The server's own text of a ``code: '...', message: "..."`` report (unquoted), else ``msg``."""
    match = _SERVER_MESSAGE_RE.search(msg or "")
    if not match:
        return msg
    return re.sub(r"\\(.)", r"\1", match.group(1))


def _proposal_error(low):
    """The kind of the first proposal error text in a message, or None."""
    found = [(low.find(text), kind) for text, kind in PROPOSAL_ERRORS if text in low]
    return min(found)[1] if found else None


def classify(rc, stderr, argv):
    """Map a failed call to a typed error (pure; unit-tested).

    The gRPC code of a server answer decides before any word of its message, so a
    precondition whose text says "not found" (an application error, a missing
    provider) is not taken for a missing object.
    """
    msg = error_message(stderr) or "openshell exited with %s" % rc
    low = msg.lower()
    code = _grpc_code(low)
    where = " ".join(argv[:3])
    if rc == 2:
        return InvalidArgument("openshell rejected the command line (%s): %s" % (where, msg), rc, stderr, argv)
    load = re.search(r"policy version (\d+) failed to load: ([^\n]*)", strip_ansi(stderr or ""), re.I)
    if load:
        return PolicyLoadFailed("policy version %s failed to load: %s" % (load.group(1), load.group(2).strip()), rc, stderr,
                                argv, hint=POLICY_LOAD_HINT)
    if rc == 124:
        return PolicyWaitTimeout("the policy was submitted but did not load in time: %s" % msg, rc, stderr, argv,
                                 hint="Raise the timeout option or check the sandbox with 'openshell policy list'")
    if rc == 127:
        # A missing executable never gets here: run_command fails the module itself.
        return CliNotFound(msg, rc, stderr, argv, hint="Check openshell_path")
    if ("transport error" in low or "tcp connect error" in low or "client error (connect)" in low
            or "failed to connect to gateway" in low or "connection refused" in low):
        return GatewayUnreachable("the OpenShell gateway is not reachable: %s" % msg, rc, stderr, argv,
                                  hint="Start the gateway service (or check gateway/gateway_endpoint)")
    if low.startswith("no active gateway") or low.startswith("unknown gateway") or "no gateway configured" in low:
        return GatewayNotConfigured(msg, rc, stderr, argv,
                                    hint="Register it with agentfleet.nemoclaw.openshell_gateway or pass gateway_endpoint")
    if code in (None, "FailedPrecondition", "Aborted"):
        proposal = _proposal_error(low)
        if proposal == "changed":
            return ProposalChanged(server_message(msg), rc, stderr, argv,
                                   hint="The proposal changed since it was read: review it again (openshell rule get)"
                                        " and approve it in a later run")
        if proposal == "not_applicable":
            return ProposalNotApplicable(server_message(msg), rc, stderr, argv,
                                         hint="The rule cannot be merged into the current policy; its Application:"
                                              " line in openshell rule get says why")
    if code == "Unavailable" or "the service is currently unavailable" in low:
        return Unavailable("the OpenShell gateway answered Unavailable: %s" % msg, rc, stderr, argv)
    if code == "NotFound":
        return NotFound(msg, rc, stderr, argv)
    if code == "AlreadyExists":
        return AlreadyExists(msg, rc, stderr, argv)
    if code == "FailedPrecondition":
        return Precondition(msg, rc, stderr, argv)
    if code == "InvalidArgument":
        return InvalidArgument(msg, rc, stderr, argv)
    if "already exists" in low:
        return AlreadyExists(msg, rc, stderr, argv)
    if "was not found" in low or "not found" in low:
        return NotFound(msg, rc, stderr, argv)
    if "the system is not in a state required" in low or "is attached to sandbox" in low or "is not ready" in low:
        return Precondition(msg, rc, stderr, argv)
    if "invalid argument" in low or "invalid" in low or "failed to parse" in low or "cannot be changed" in low:
        return InvalidArgument(msg, rc, stderr, argv)
    return OpenShellError(msg, rc, stderr, argv)


# --------------------------------------------------------------------------
# Text output parsers (the CLI has no JSON for these commands)
# --------------------------------------------------------------------------

def _field_lines(text):
    for raw in strip_ansi(text).splitlines():
        line = raw.strip()
        if ":" in line:
            key, _sep, value = line.partition(":")
            yield key.strip(), value.strip()


def parse_inference(text):
    """Parse ``inference get`` (both routes) into ``{"user": {...}|None, "system": ...}``.

    Each route is ``{"workspace", "provider", "model", "version", "timeout"}``;
    ``timeout`` is 0 when the CLI says ``60s (default)``.
    """
    routes = {"user": None, "system": None}
    current = None
    seen = False
    for raw in strip_ansi(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        head, _sep, rest = line.partition(":")
        head = head.strip().lower() if _sep else ""
        # 0.0.111 prints "Inference:"; OpenShell's documentation shows "Gateway inference:" for the same route.
        if head in ("inference", "gateway inference", "system inference"):
            current, seen = ("system" if head == "system inference" else "user"), True
            if rest.strip() == "Not configured":
                routes[current] = None
            continue
        if current is None:
            continue
        if line == "Not configured":
            routes[current] = None
            continue
        key, _sep, value = line.partition(":")
        route = routes[current] or {}
        key = key.strip().lower()
        value = value.strip()
        if key in ("workspace", "provider", "model"):
            route[key] = value
        elif key == "version":
            route["version"] = int(value) if value.isdigit() else value
        elif key == "timeout":
            route["timeout"] = 0 if "default" in value else int(value.rstrip("s") or 0)
        elif key == "error":
            route["error"] = value
        routes[current] = route
    if not seen:
        # Never read an output of another shape as "no route": the apply would set the route on every run.
        raise OpenShellError("`inference get` printed no route heading (Inference:, System inference:); this version "
                             "of the CLI prints another format: %r" % strip_ansi(text)[:200])
    return routes


_ENDPOINT_RE = re.compile(r"([^\s,\[\]]+)(?:\s*\[([^\]]*)\])?")


def parse_endpoints(text):
    """``host:port [L7 rest, access=read-only, allow GET /x], h2:443 [L4]`` → list of dicts."""
    out = []
    for match in _ENDPOINT_RE.finditer(text or ""):
        target, tags = match.group(1), match.group(2) or ""
        host, _sep, port = target.rpartition(":")
        if not host or not port.isdigit():
            host, port = target, ""
        entry = {"host": host, "port": int(port) if port else None}
        tag_list = [t.strip() for t in tags.split(",") if t.strip()]
        if tag_list:
            entry["layer"] = tag_list[0]
        for tag in tag_list[1:]:
            if tag.startswith("access="):
                entry["access"] = tag[len("access="):]
            elif tag.startswith("allow "):
                entry.setdefault("allow", []).append(tag[len("allow "):])
            elif tag.startswith("deny "):
                entry.setdefault("deny", []).append(tag[len("deny "):])
        out.append(entry)
    return out


# The lines of a chunk in `rule get`, in the order the CLI prints them (run.rs 6816-6922); Chunk, Status, Rule,
# Confidence and Rationale are always printed, the others when they have a value.
RULE_KEYS = ("Chunk", "Status", "Rule", "Binary", "Confidence", "Rationale", "Security", "Prover", "Application",
             "Candidate", "Endpoints", "Binaries", "Hits")
_RULE_REQUIRED = ("Status", "Rule", "Confidence", "Rationale")
_RULES_HEADER_RE = re.compile(r"Network Rules:\s*\(version \d+, (\d+) chunks?\)\Z")


class RulesLayoutError(OpenShellError):
    """`rule get` printed lines out of the CLI's layout: text the agent proposed (a rationale) may hold line breaks."""

    kind = "rules_layout"


def _rules_layout_error(detail):
    return RulesLayoutError(
        "`rule get` printed text out of the CLI's layout (%s): a rationale or rule name the agent proposed may hold "
        "line breaks that read as lines of their own; no chunk of this output is judged" % detail)


def parse_rules(text):
    """Parse ``rule get`` into a list of chunk dicts (empty when none).

    The agent in the sandbox writes a proposal's rationale, which the CLI prints as it is: a line break in it would
    read as a line of its own (``Endpoints: <harmless host>``, or a new ``Chunk:`` that takes the real lines). So the
    layout is checked strictly: every line a known key, in the CLI's order, each once per chunk, and as many chunks
    as the heading says; anything else raises RulesLayoutError rather than being read.
    """
    chunks = []
    chunk = None
    expected = None
    last = 0
    for raw in strip_ansi(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("No network rules") and expected is None and chunk is None:
            continue
        heading = _RULES_HEADER_RE.match(line)
        if heading and expected is None and chunk is None:
            expected = int(heading.group(1))
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in RULE_KEYS:
            raise _rules_layout_error("a line that is no chunk field: %r" % line[:80])
        index = RULE_KEYS.index(key)
        if key == "Chunk":
            _check_chunk_complete(chunk)
            chunk = {"id": value, "status": "", "rule": "", "binary": "", "confidence": None,
                     "rationale": "", "security": "", "prover": "", "application": "", "candidate": "",
                     "endpoints": [], "binaries": [], "hits": 1, "first_seen": None, "last_seen": None, "_keys": set()}
            chunks.append(chunk)
            last = index
            continue
        if chunk is None or index <= last or (key == "Binaries" and "Endpoints" not in chunk["_keys"]):
            raise _rules_layout_error("%s: out of order in chunk %s" % (key, chunk["id"] if chunk else "(none)"))
        last = index
        chunk["_keys"].add(key)
        if key == "Status":
            chunk["status"] = value
        elif key == "Rule":
            chunk["rule"] = value
        elif key == "Binary":
            chunk["binary"] = value
        elif key == "Confidence":
            try:
                chunk["confidence"] = int(value.rstrip("%"))
            except ValueError:
                chunk["confidence"] = None
        elif key == "Rationale":
            chunk["rationale"] = value
        elif key == "Security":
            chunk["security"] = value
        elif key == "Prover":
            chunk["prover"] = value
        elif key == "Application":
            # Why the rule cannot be applied to the current policy (newer OpenShell).
            chunk["application"] = value
        elif key == "Candidate":
            # The first 12 hex digits of the effective policy hash the approval would produce.
            chunk["candidate"] = value
        elif key == "Endpoints":
            chunk["endpoints"] = parse_endpoints(line.partition(":")[2])
        elif key == "Binaries":
            chunk["binaries"] = [b.strip() for b in value.split(",") if b.strip()]
        elif key == "Hits":
            hits = re.match(r"(\d+)\s*\(first seen (.*), last seen (.*)\)", line.partition(":")[2].strip())
            if hits:
                chunk["hits"] = int(hits.group(1))
                chunk["first_seen"] = hits.group(2).strip()
                chunk["last_seen"] = hits.group(3).strip()
    _check_chunk_complete(chunk)
    if chunks and expected != len(chunks):
        raise _rules_layout_error("%d chunks read, the heading says %s" % (len(chunks), expected))
    for item in chunks:
        del item["_keys"]
    return chunks


def _check_chunk_complete(chunk):
    if chunk is not None:
        missing = [k for k in _RULE_REQUIRED if k not in chunk["_keys"]]
        if missing:
            raise _rules_layout_error("chunk %s has no %s line" % (chunk["id"], ", ".join(missing)))


def parse_sandbox_providers(text):
    """``sandbox provider list`` table → sorted provider names."""
    names = []
    for raw in strip_ansi(text).splitlines():
        line = raw.strip()
        if not line or line.startswith("No providers attached") or line.split()[0] == "NAME":
            continue
        names.append(line.split()[0])
    return sorted(names)


def parse_policy_result(stderr):
    """``policy set`` progress text → ``{"changed": bool, "version": int|None, "hash": str|None}``."""
    text = strip_ansi(stderr)
    unchanged = re.search(r"Policy unchanged \(version (\d+), hash: ([0-9a-f]+)\)", text)
    if unchanged:
        return {"changed": False, "version": int(unchanged.group(1)), "hash": unchanged.group(2)}
    submitted = re.search(r"Policy version (\d+) submitted \(hash: ([0-9a-f]+)\)", text)
    if submitted:
        return {"changed": True, "version": int(submitted.group(1)), "hash": submitted.group(2)}
    glob = re.search(r"Global policy configured \(hash: ([0-9a-f]+), settings revision: (\d+)\)", text)
    if glob:
        return {"changed": True, "version": int(glob.group(2)), "hash": glob.group(1)}
    return {"changed": True, "version": None, "hash": None}


def version_of(text):
    """The version word of ``openshell --version`` output (``openshell 0.0.111`` -> ``0.0.111``); to compare versions,
    ``openshell_versions.parse_version``."""
    text = strip_ansi(text).strip()
    return text.split()[-1] if text else ""


def installed_version(probe):
    """The version a reading of ``openshell --version`` (a command result: ``rc``, ``stdout``) found, '' when the
    command failed or there was no reading."""
    if not isinstance(probe, dict) or probe.get("rc") != 0:
        return ""
    return version_of(probe.get("stdout") or "")


# --------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------

class CallRecord(object):
    __slots__ = ("argv", "rc", "mutating", "seconds")

    def __init__(self, argv, rc, mutating, seconds):
        self.argv, self.rc, self.mutating, self.seconds = argv, rc, mutating, seconds

    def as_dict(self):
        return {"argv": self.argv, "rc": self.rc, "mutating": self.mutating}


def command_path(args):
    """The subcommand words of an argv (flags and their values skipped)."""
    words = []
    for arg in args:
        if arg.startswith("-"):
            if arg in ("--version", "-V"):
                return ("--version",)
            break
        words.append(arg)
        if len(words) == 3:
            break
    for size in (3, 2, 1):
        if tuple(words[:size]) in READ_ONLY_COMMANDS:
            return tuple(words[:size])
    return tuple(words)


def is_mutating(args):
    return command_path(args) not in READ_ONLY_COMMANDS


class OpenShellClient(object):
    """Run ``openshell`` for one gateway/workspace.

    :param runner: ``callable(argv, environ_update, data) -> (rc, stdout, stderr)``.
    :param sleep: injectable ``time.sleep`` for retry backoff.
    """

    def __init__(self, runner, openshell_path="openshell", gateway=None, gateway_endpoint=None,
                 workspace=None, timeout=300, retries=3, retry_delay=1.0, sleep=time.sleep):
        self._runner = runner
        self.openshell_path = openshell_path
        self.gateway = gateway
        self.gateway_endpoint = gateway_endpoint
        self.workspace = workspace
        self.timeout = int(timeout)
        self.retries = int(retries)
        self.retry_delay = float(retry_delay)
        self._sleep = sleep
        self.calls = []
        self._running_version = None

    # -- plumbing ---------------------------------------------------------

    def global_args(self):
        args = []
        if self.gateway:
            args += ["--gateway", self.gateway]
        if self.gateway_endpoint:
            args += ["--gateway-endpoint", self.gateway_endpoint]
        if self.workspace:
            args += ["--workspace", self.workspace]
        return args

    def base_env(self):
        timeout = str(max(1, self.timeout))
        return {
            "RUST_LOG": "off",
            "NO_COLOR": "1",
            "LC_ALL": "C",
            "OPENSHELL_NO_BROWSER": "1",
            "OPENSHELL_PROVISION_TIMEOUT": timeout,
            "OPENSHELL_LIFECYCLE_TIMEOUT": timeout,
        }

    def command(self, args, with_globals=True):
        """``(argv, environment)`` of the call ``args`` (secrets aside: they are added by ``run``)."""
        # Global flags go first: after `--` (sandbox exec) they would be the command's.
        return [self.openshell_path] + (self.global_args() if with_globals else []) + list(args), self.base_env()

    def run(self, args, secret_env=None, data=None, allow_rc=(0,), with_globals=True):
        """Run one CLI call; return ``(rc, stdout, stderr)`` or raise a typed error.

        ``secret_env`` values reach only the child's environment. Transient
        ``Unavailable`` failures are retried ``retries`` times with
        exponential backoff.
        """
        argv, env = self.command(args, with_globals)
        if secret_env:
            env.update(secret_env)
        attempt = 0
        while True:
            started = time.time()
            rc, out, err = self._runner(argv, env, data)
            self.calls.append(CallRecord(argv[1:], rc, is_mutating(list(args)), round(time.time() - started, 3)))
            if rc in allow_rc:
                return rc, out, err
            error = classify(rc, err, argv[1:])
            if isinstance(error, Unavailable) and attempt < self.retries:
                self._sleep(self.retry_delay * (2 ** attempt))
                attempt += 1
                continue
            if isinstance(error, Unavailable):
                error.message = "%s (after %d retries)" % (error.message, attempt)
            raise error

    def run_json(self, args, **kwargs):
        _rc, out, _err = self.run(args, **kwargs)
        text = strip_ansi(out).strip()
        try:
            return json.loads(text) if text else None
        except ValueError:
            # Tracing lines may precede JSON if RUST_LOG is overridden upstream.
            start = min([i for i in (text.find("{"), text.find("[")) if i >= 0] or [0])
            return json.loads(text[start:])

    @property
    def mutating_calls(self):
        return [c for c in self.calls if c.mutating]

    def call_log(self):
        return [c.as_dict() for c in self.calls]

    # -- version / status / gateways --------------------------------------

    def version(self):
        _rc, out, _err = self.run(["--version"], with_globals=False)
        self._running_version = version_of(out)
        return self._running_version

    def assume_version(self, version):
        """Take ``version`` as what ``--version`` prints: another read of the same executable in this module
        execution (the host checks) found it, so the client need not ask again."""
        self._running_version = version

    def running_version(self):
        """The CLI's version, read once (``--version``) and kept for this client's later calls."""
        if self._running_version is None:
            self.version()
        return self._running_version

    def status(self):
        """``status -o json``; gateway down is returned as ``{"status": "unreachable"}``."""
        try:
            return self.run_json(["status", "-o", "json"])
        except GatewayUnreachable as exc:
            return {"status": "unreachable", "error": exc.message}

    def gateway_list(self):
        return self.run_json(["gateway", "list", "-o", "json"], with_globals=False) or []

    def gateway_add(self, endpoint, name, local=False):
        args = ["gateway", "add", endpoint, "--name", name]
        if local:
            args.append("--local")
        return self.run(args, with_globals=False)

    def gateway_remove(self, name):
        return self.run(["gateway", "remove", name], with_globals=False)

    def gateway_select(self, name):
        return self.run(["gateway", "select", name], with_globals=False)

    # -- providers --------------------------------------------------------

    def provider_list(self):
        return self.run_json(["provider", "list", "--limit", "1000", "-o", "json"]) or []

    def provider_find(self, name):
        for item in self.provider_list():
            if item.get("name") == name:
                return item
        return None

    @staticmethod
    def _credential_args(credentials, removed=()):
        """argv for credentials: ``--credential KEY`` (value in env) / ``KEY=`` to delete."""
        args, env = [], {}
        for key in sorted(credentials or {}):
            # The modules check keys with this rule first; here it guards the child's environment itself.
            problem = validate.credential_key_problem(key)
            if problem:
                # common imports this module
                from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError  # pylint: disable=import-outside-toplevel
                raise InputError("credentials", problem)
            args += ["--credential", key]
            env[key] = credentials[key]
        for key in sorted(removed):
            args += ["--credential", "%s=" % key]
        return args, env

    @staticmethod
    def _kv_args(flag, mapping):
        args = []
        for key in sorted(mapping or {}):
            args += [flag, "%s=%s" % (key, mapping[key])]
        return args

    def provider_create(self, name, ptype, credentials, config=None):
        cred_args, env = self._credential_args(credentials)
        args = ["provider", "create", "--name", name, "--type", ptype] + cred_args + self._kv_args("--config", config)
        return self.run(args, secret_env=env)

    def provider_update(self, name, credentials=None, config=None, removed_credentials=()):
        cred_args, env = self._credential_args(credentials, removed_credentials)
        args = ["provider", "update", name] + cred_args + self._kv_args("--config", config)
        return self.run(args, secret_env=env)

    def provider_delete(self, name):
        return self.run(["provider", "delete", name])

    # -- sandboxes --------------------------------------------------------

    def sandbox_list(self):
        return self.run_json(["sandbox", "list", "--limit", "1000", "-o", "json"]) or []

    def sandbox_get(self, name):
        """``sandbox get NAME -o json`` or ``None`` when it does not exist."""
        try:
            return self.run_json(["sandbox", "get", name, "-o", "json"])
        except NotFound:
            return None

    def sandbox_create(self, spec, policy_file=None):
        """Create from a spec dict (see ``sandbox_create_args``) and return the JSON object. The argv follows
        the running CLI's version (``--detach``, ``--restart-policy``)."""
        args = ["sandbox", "create"] + sandbox_create_args(spec, policy_file, self.running_version()) + ["-o", "json"]
        return self.run_json(args)

    def sandbox_delete(self, name):
        return self.run(["sandbox", "delete", name])

    def sandbox_stop(self, name):
        return self.run(["sandbox", "stop", name])

    def sandbox_start(self, name):
        return self.run(["sandbox", "start", name])

    def sandbox_exec(self, name, command, workdir=None, timeout=None, data=None, env=None):
        args = ["sandbox", "exec", "--name", name, "--no-tty"]
        if workdir:
            args += ["--workdir", workdir]
        if timeout:
            args += ["--timeout", str(int(timeout))]
        args += self._kv_args("--env", env)
        args += ["--"] + list(command)
        # Any exit code is an answer of the command, not a CLI failure, unless
        # stderr shows the CLI itself failed (classified by the caller).
        return self.run(args, data=data if data is not None else "", allow_rc=tuple(range(0, 256)))

    def sandbox_providers(self, name):
        _rc, out, _err = self.run(["sandbox", "provider", "list", name])
        return parse_sandbox_providers(out)

    def sandbox_provider_attach(self, name, provider):
        return self.run(["sandbox", "provider", "attach", name, provider])

    def sandbox_provider_detach(self, name, provider):
        return self.run(["sandbox", "provider", "detach", name, provider])

    # -- policies ---------------------------------------------------------

    def policy_get(self, name=None, full=True, global_=False):
        args = ["policy", "get"]
        if global_:
            args.append("--global")
        else:
            args.append(name)
        if full:
            args.append("--full")
        args += ["-o", "json"]
        try:
            return self.run_json(args)
        except NotFound:
            return None

    def policy_revision(self, name, version):
        """``policy get NAME --rev N -o json`` (status, load_error, ...) or None when there is no such revision."""
        _rc, out, _err = self.run(["policy", "get", name, "--rev", str(int(version)), "-o", "json"])
        return json.loads(out) if out.strip() else None

    def policy_load_failure(self, name, version, active_version):
        """The revision ``version`` of sandbox ``name`` when it failed to load, else None.

        ``version`` is the sandbox's latest policy revision and ``active_version`` the loaded one
        (``sandbox get``: ``revision`` / ``current_policy_version``; ``policy get``: ``version`` /
        ``active_version``). Only when they differ is the revision read (one ``policy get --rev``),
        so a converged sandbox costs no call.
        """
        if not version or active_version is None or int(version) == int(active_version):
            return None
        rev = self.policy_revision(name, version)
        if rev and rev.get("status") == "failed":
            return {"version": rev.get("version", version), "load_error": rev.get("load_error") or "(no error text)"}
        return None

    def policy_set(self, name, policy_file, wait=False, timeout=None, global_=False):
        args = ["policy", "set"]
        if global_:
            args += ["--global", "--yes"]
        else:
            args.append(name)
        args += ["--policy", policy_file]
        if wait and not global_:
            args += ["--wait", "--timeout", str(int(timeout or self.timeout))]
        _rc, _out, err = self.run(args)
        return parse_policy_result(err)

    # -- inference --------------------------------------------------------

    def inference_get(self):
        """Both routes: ``{"user": route|None, "system": route|None}``."""
        _rc, out, _err = self.run(["inference", "get"])
        return parse_inference(out)

    def inference_set(self, provider, model, system=False, timeout=None, verify=True):
        args = ["inference", "set", "--provider", provider, "--model", model]
        if system:
            args.append("--system")
        if not verify:
            args.append("--no-verify")
        if timeout:
            args += ["--timeout", str(int(timeout))]
        return self.run(args)

    def inference_delete(self, system=False):
        return self.run(["inference", "delete"] + (["--system"] if system else []))

    # -- approvals --------------------------------------------------------

    def rule_get(self, name, status=None):
        args = ["rule", "get", name]
        if status:
            args += ["--status", status]
        _rc, out, _err = self.run(args)
        return parse_rules(out)

    def rule_approve(self, name, chunk_id):
        return self.run(["rule", "approve", name, "--chunk-id", chunk_id])

    def rule_reject(self, name, chunk_id, reason=None):
        args = ["rule", "reject", name, "--chunk-id", chunk_id]
        if reason:
            args += ["--reason", reason]
        return self.run(args)

    # -- settings ---------------------------------------------------------

    def settings_get(self, name):
        return self.run_json(["settings", "get", name, "--json"])

    def settings_set(self, name, key, value):
        return self.run(["settings", "set", name, "--key", key, "--value", str(value)])


def sandbox_create_args(spec, policy_file=None, version=None):
    """argv (after ``sandbox create``) for a normalised sandbox spec and the CLI ``version``.

    ``spec`` keys: name, image, providers, gpu (bool|int), cpu, memory,
    labels, env, approval_mode, restart_policy. Sorted so the same spec gives the same argv.
    ``restart_policy`` on a version without ``--restart-policy`` raises UnsupportedVersion (callers
    check it before any change; this is the last guard).
    """
    args = ["--name", spec["name"]]
    if spec.get("image"):
        args += ["--from", spec["image"]]
    for provider in sorted(spec.get("providers") or []):
        args += ["--provider", provider]
    if spec.get("providers"):
        args.append("--no-auto-providers")
    gpu = spec.get("gpu")
    if gpu is True:
        args.append("--gpu")
    elif gpu:
        args.append("--gpu=%d" % int(gpu))
    if spec.get("cpu"):
        args += ["--cpu", str(spec["cpu"])]
    if spec.get("memory"):
        args += ["--memory", str(spec["memory"])]
    for key in sorted(spec.get("labels") or {}):
        args += ["--label", "%s=%s" % (key, spec["labels"][key])]
    for key in sorted(spec.get("env") or {}):
        args += ["--env", "%s=%s" % (key, spec["env"][key])]
    if policy_file:
        args += ["--policy", policy_file]
    if spec.get("approval_mode") and spec["approval_mode"] != "manual":
        args += ["--approval-mode", spec["approval_mode"]]
    if spec.get("restart_policy"):
        openshell_versions.check_restart_policy(version, spec["restart_policy"])
        args += ["--restart-policy", spec["restart_policy"]]
    if version and openshell_versions.create_needs_detach(version):
        args.append("--detach")
    args += ["--no-tty"]
    return args
