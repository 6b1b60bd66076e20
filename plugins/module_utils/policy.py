# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE – internal API of agentfleet.nemoclaw, may change without notice.
#
# Pure, stdlib-only logic for OpenShell sandbox policies:
#   * validate_policy    - the OpenShell v1 policy schema (deny_unknown_fields at every level)
#   * normalize_policy   - canonical form equal to `openshell policy get --full -o json`
#   * static_violations / dynamic_equal / policy_diff / to_yaml_text - comparison helpers
#   * compose_policy     - layered composition with provenance, overrides and exclusions
#   * image_problem      - the image reference check shared by openshell_sandbox and blueprints
# Runs on controllers and managed hosts alike (Python >= 3.9, no third-party imports).

from __future__ import annotations

import ipaddress
import json
import re

# Host, address, method and binary path rules live in validate.py (one source for each rule).
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.validate import (
    binary_path_problem,
    host_class,
    host_problem,
    ip_class,
    is_public_class,
    method_problem,
    network_problem,
    normalize_host,
    parse_ip,
)

__all__ = [
    "STATIC_SECTIONS",
    "DYNAMIC_SECTIONS",
    "LAYER_LEVELS",
    "PolicyError",
    "ComposedPolicy",
    "validate_policy",
    "normalize_policy",
    "static_violations",
    "dynamic_equal",
    "policy_diff",
    "to_yaml_text",
    "canonical_json",
    "compose_policy",
    "apply_preset_access",
    "is_private_host",
    "parse_trusted_private_hosts",
    "rule_allows_any_binary",
    "ANY_BINARY",
]

STATIC_SECTIONS = ("filesystem_policy", "landlock", "process")
DYNAMIC_SECTIONS = ("network_policies", "network_middlewares")

TOP_LEVEL_KEYS = ("version",) + STATIC_SECTIONS + DYNAMIC_SECTIONS

PROTOCOLS = ("tcp", "rest", "websocket", "graphql", "mcp", "json-rpc", "sql")
L7_PROTOCOLS = ("rest", "websocket", "graphql", "mcp", "json-rpc", "sql")
TLS_MODES = ("skip", "terminate", "passthrough")
ENFORCEMENTS = ("enforce", "audit")
ACCESS_PRESETS = ("read-only", "read-write", "full")
LANDLOCK_COMPATIBILITY = ("best_effort", "hard_requirement")
ON_ERROR = ("fail_closed", "fail_open")
CREDENTIAL_SIGNING = ("sigv4", "sigv4:body", "sigv4:no_body")
PERSISTED_QUERIES = ("deny", "allow_registered")
GRAPHQL_OPERATION_TYPES = ("query", "mutation", "subscription")

PROVIDER_PREFIX = "_provider_"
# How a rule without binaries is shown (OpenShell's ANY_BINARY_SCOPE wording).
ANY_BINARY = "any binary"
MAX_FILESYSTEM_PATHS = 256
MAX_PATH_LENGTH = 4096
MAX_MIDDLEWARES = 10
MAX_MIDDLEWARE_SELECTOR_PATTERNS = 32
MAX_NAME_LENGTH = 253
MAX_U32 = 4294967295
MAX_SANDBOX_ID = 4294967294

ENDPOINT_KEYS = (
    "host", "port", "ports", "path", "protocol", "tls", "enforcement", "access", "rules",
    "deny_rules", "allowed_ips", "allow_encoded_slash", "websocket_credential_rewrite",
    "request_body_credential_rewrite", "allow_uninspected_credentials", "credential_signing",
    "signing_service", "signing_region", "credential_binding", "persisted_queries",
    "graphql_persisted_queries", "graphql_max_body_bytes", "json_rpc", "mcp",
)
ENDPOINT_BOOL_KEYS = (
    "allow_encoded_slash", "websocket_credential_rewrite", "request_body_credential_rewrite",
    "allow_uninspected_credentials",
)
ENDPOINT_STR_KEYS = (
    "host", "path", "protocol", "tls", "enforcement", "access", "credential_signing",
    "signing_service", "signing_region", "persisted_queries",
)
RULE_KEYS = ("method", "path", "command", "query", "operation_type", "operation_name", "fields", "tool", "params")

# Layer levels for compose_policy (lowest first).
LAYER_LEVELS = {"baseline": 0, "agent": 10, "tier": 20, "custom": 30, "inventory": 40}

# Hostname suffixes treated as private/loopback destinations (no DNS at plan time).
# Private destinations are classified by validate.host_class (every IPv4/IPv6 spelling, local names);
# allowed_ips pins are checked by validate.network_problem (validate.FORBIDDEN_PIN_NETWORKS).
_IDENT_RE = re.compile(r"^[0-9]+$")
IMAGE_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class PolicyError(ValueError):
    """A policy (or composition) error at a precise field path."""

    def __init__(self, path, reason, origin=None):
        self.path = path or "<policy>"
        self.reason = reason
        # Where the layer the error is in came from, when its caller said (a layer's ``origin``).
        self.origin = origin
        super(PolicyError, self).__init__("%s: %s" % (self.path, reason))

    def __str__(self):
        return "%s: %s" % (self.path, self.reason)


class ComposedPolicy(object):
    """Result of compose_policy().

    policy      -- the composed, normalised policy document (passes validate_policy)
    provenance  -- {network_policies key: {"layer", "source", "level"[, "overrides"][, "any_binary"]}};
                   ``any_binary: True`` when the rule names no binaries (any binary may use it)
    middleware_provenance -- same shape for network_middlewares keys (never ``any_binary``)
    excluded    -- {excluded key: {"layer", "source", "was": {"layer", "source"}}}
    """

    __slots__ = ("policy", "provenance", "middleware_provenance", "excluded")

    def __init__(self, policy, provenance, middleware_provenance=None, excluded=None):
        self.policy = policy
        self.provenance = provenance
        self.middleware_provenance = middleware_provenance or {}
        self.excluded = excluded or {}

    def as_dict(self):
        return {
            "policy": self.policy,
            "provenance": self.provenance,
            "middleware_provenance": self.middleware_provenance,
            "excluded": self.excluded,
        }

    def __eq__(self, other):
        return isinstance(other, ComposedPolicy) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __iter__(self):
        # Allows `policy, provenance = compose_policy(...)`.
        return iter((self.policy, self.provenance))

    def __repr__(self):
        return "ComposedPolicy(%d network policies)" % len(self.policy.get("network_policies", {}))


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

def _join(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key) if path else str(key)


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _need_map(value, path):
    if not isinstance(value, dict):
        raise PolicyError(path, "expected a mapping, got %s" % _type_name(value))
    return value


def _need_list(value, path):
    if not isinstance(value, (list, tuple)):
        raise PolicyError(path, "expected a list, got %s" % _type_name(value))
    return value


def _need_str(value, path, allow_empty=True):
    if not isinstance(value, str):
        raise PolicyError(path, "expected a string, got %s" % _type_name(value))
    if not allow_empty and not value.strip():
        raise PolicyError(path, "must not be empty")
    return value


def _need_bool(value, path):
    if not isinstance(value, bool):
        raise PolicyError(path, "expected a boolean, got %s" % _type_name(value))
    return value


def _need_int(value, path, lo=None, hi=None):
    if not _is_int(value):
        raise PolicyError(path, "expected an integer, got %s" % _type_name(value))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise PolicyError(path, "%d is out of range %s..%s" % (value, lo, hi))
    return value


def _need_enum(value, path, choices):
    _need_str(value, path)
    if value not in choices:
        raise PolicyError(path, "invalid value %r; expected one of %s" % (value, ", ".join(choices)))
    return value


def _check_keys(doc, path, allowed):
    for key in sorted(doc, key=str):
        if not isinstance(key, str):
            raise PolicyError(path, "keys must be strings, got %s" % _type_name(key))
        if key not in allowed:
            raise PolicyError(_join(path, key), "unknown field (allowed: %s)" % ", ".join(sorted(allowed)))


def _str_list(value, path, allow_empty_items=False):
    _need_list(value, path)
    for i, item in enumerate(value):
        _need_str(item, _join(path, i), allow_empty=allow_empty_items)
    return value


def _dedupe(items):
    seen = set()
    out = []
    for item in items:
        marker = canonical_json(item)
        if marker in seen:
            continue
        seen.add(marker)
        out.append(item)
    return out


def canonical_json(obj):
    """Deterministic compact JSON text (sorted keys, ASCII)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# ---------------------------------------------------------------------------
# sandbox images (the sandbox's image is fixed at creation like its static policy)
# ---------------------------------------------------------------------------

def image_problem(image):
    """Why an image reference is malformed, or None; a digest after '@' must be sha256:<64 lowercase hex>.

    Shared by openshell_sandbox (its ``image`` option) and the blueprint loader
    (``components.sandbox.image``), so both refuse the same references.
    """
    if image is None:
        return None
    if not isinstance(image, str) or not image or any(c.isspace() for c in image):
        return "must be a non-empty image reference without spaces"
    name, at, digest = image.partition("@")
    if not name:
        return "has no repository before '@'"
    if at and not IMAGE_DIGEST_RE.match(digest):
        return "digest %r after '@' must be sha256:<64 lowercase hex digits>" % digest
    return None


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

def validate_policy(doc, path=""):
    """Validate an OpenShell v1 policy document; raise PolicyError at the first error.

    Checks follow OpenShell's parser and validator: unknown keys are rejected at every
    level, field types and enums, ports 1-65535, host wildcards only in the first DNS
    label (no bare or TLD wildcards), L7 field combinations (access vs rules, tcp
    restrictions, deny_rules prerequisites), rule paths, reserved ``_provider_`` keys,
    absolute filesystem paths without ``..``, and the size limits.
    """
    _need_map(doc, path or "<policy>")
    _check_keys(doc, path, TOP_LEVEL_KEYS)
    if "version" not in doc:
        raise PolicyError(_join(path, "version"), "required field missing (must be 1)")
    version = doc["version"]
    if not _is_int(version) or version != 1:
        raise PolicyError(_join(path, "version"), "must be the integer 1, got %r" % (version,))
    if doc.get("filesystem_policy") is not None:
        _validate_filesystem(doc["filesystem_policy"], _join(path, "filesystem_policy"))
    if doc.get("landlock") is not None:
        sub = _join(path, "landlock")
        ll = _need_map(doc["landlock"], sub)
        _check_keys(ll, sub, ("compatibility",))
        if ll.get("compatibility") not in (None, ""):
            _need_enum(ll["compatibility"], _join(sub, "compatibility"), LANDLOCK_COMPATIBILITY)
    if doc.get("process") is not None:
        sub = _join(path, "process")
        proc = _need_map(doc["process"], sub)
        _check_keys(proc, sub, ("run_as_user", "run_as_group"))
        for field in ("run_as_user", "run_as_group"):
            if proc.get(field) not in (None, ""):
                _validate_identity(proc[field], _join(sub, field))
    if doc.get("network_policies") is not None:
        sub = _join(path, "network_policies")
        policies = _need_map(doc["network_policies"], sub)
        for key in sorted(policies, key=str):
            _validate_policy_key(key, sub)
            _validate_network_policy(policies[key], _join(sub, key), key)
    if doc.get("network_middlewares") is not None:
        _validate_middlewares(doc["network_middlewares"], _join(path, "network_middlewares"), doc.get("network_policies") or {})


def _validate_policy_key(key, path):
    if not isinstance(key, str) or not key:
        raise PolicyError(path, "network policy keys must be non-empty strings")
    if key.startswith(PROVIDER_PREFIX):
        raise PolicyError(_join(path, key), "key uses the reserved '%s' prefix for provider composition" % PROVIDER_PREFIX)
    if len(key) > MAX_NAME_LENGTH:
        raise PolicyError(_join(path, key), "key longer than %d characters" % MAX_NAME_LENGTH)


def _validate_identity(value, path):
    _need_str(value, path)
    if value == "sandbox":
        return
    if not _IDENT_RE.match(value) or not 1 <= int(value) <= MAX_SANDBOX_ID:
        raise PolicyError(path, "must be 'sandbox' or a numeric UID/GID in range [1, %d], got %r" % (MAX_SANDBOX_ID, value))


def _validate_filesystem(fs, path):
    _need_map(fs, path)
    _check_keys(fs, path, ("include_workdir", "read_only", "read_write"))
    if "include_workdir" in fs and fs["include_workdir"] is not None:
        _need_bool(fs["include_workdir"], _join(path, "include_workdir"))
    total = 0
    for field in ("read_only", "read_write"):
        if fs.get(field) is None:
            continue
        sub = _join(path, field)
        _str_list(fs[field], sub)
        total += len(fs[field])
        for i, item in enumerate(fs[field]):
            ipath = _join(sub, i)
            if len(item) > MAX_PATH_LENGTH:
                raise PolicyError(ipath, "path exceeds maximum length (%d > %d)" % (len(item), MAX_PATH_LENGTH))
            if not item.startswith("/"):
                raise PolicyError(ipath, "path must be absolute (start with '/'): %s" % item)
            if ".." in item.split("/"):
                raise PolicyError(ipath, "path contains '..' traversal component: %s" % item)
            if field == "read_write" and not item.rstrip("/"):
                raise PolicyError(ipath, "read-write path is overly broad: %s" % item)
    if total > MAX_FILESYSTEM_PATHS:
        raise PolicyError(path, "too many filesystem paths (%d > %d)" % (total, MAX_FILESYSTEM_PATHS))


def rule_allows_any_binary(rule):
    """True when a network policy rule names no binaries (``binaries`` absent, as after
    normalize_policy): OpenShell then authorizes every binary for its endpoints
    (crates/openshell-policy/src/merge.rs, ANY_BINARY_SCOPE)."""
    return isinstance(rule, dict) and not rule.get("binaries")


def _validate_network_policy(rule, path, key):
    _need_map(rule, path)
    _check_keys(rule, path, ("name", "endpoints", "binaries"))
    if rule.get("name") is not None:
        _need_str(rule["name"], _join(path, "name"))
        if len(rule["name"]) > MAX_NAME_LENGTH:
            raise PolicyError(_join(path, "name"), "name longer than %d characters" % MAX_NAME_LENGTH)
        # OpenShell's rule merge (approved proposals) names a rule after its key
        # (crates/openshell-policy/src/merge.rs), so another name would not survive an approval.
        if rule["name"] and rule["name"] != key:
            raise PolicyError(_join(path, "name"), "name %r differs from its key %r: leave name out or make it equal"
                              % (rule["name"], key))
    if not rule.get("endpoints"):
        raise PolicyError(_join(path, "endpoints"), "required and must be a non-empty list")
    endpoints = _need_list(rule["endpoints"], _join(path, "endpoints"))
    for i, ep in enumerate(endpoints):
        _validate_endpoint(ep, _join(_join(path, "endpoints"), i))
    if "binaries" not in rule:
        return  # OpenShell: a rule without binaries authorizes any binary (see rule_allows_any_binary)
    binaries = _need_list(rule["binaries"], _join(path, "binaries"))
    if not binaries:
        raise PolicyError(_join(path, "binaries"), "an empty list is ambiguous: omit binaries to allow %s, or name at least one" % ANY_BINARY)
    for i, binary in enumerate(binaries):
        bpath = _join(_join(path, "binaries"), i)
        _need_map(binary, bpath)
        _check_keys(binary, bpath, ("path", "harness"))
        if "path" not in binary:
            raise PolicyError(_join(bpath, "path"), "required field missing")
        _need_str(binary["path"], _join(bpath, "path"), allow_empty=False)
        problem = binary_path_problem(binary["path"])
        if problem:
            raise PolicyError(_join(bpath, "path"), problem)
        if "harness" in binary:
            _need_bool(binary["harness"], _join(bpath, "harness"))


def _is_ip_literal(host):
    """True for an IP literal in any spelling the resolver reads as one (``127.1``, ``[::1]``)."""
    return parse_ip(host) is not None


def _validate_host(host, path):
    if host in ("*", "**"):
        raise PolicyError(path, "bare wildcard host %r is not allowed" % host)
    if host != host.strip() or any(c.isspace() for c in host):
        raise PolicyError(path, "host must not contain whitespace")
    if "*" not in host:
        return
    labels = host.split(".")
    first = labels[0]
    if "**" in first and first != "**":
        raise PolicyError(path, "recursive '**' wildcard must be the entire first label: %s" % host)
    for label in labels[1:]:
        if "*" in label:
            raise PolicyError(path, "wildcards are only allowed in the first DNS label: %s" % host)
    if len(labels) <= 2 and (first in ("*", "**")):
        raise PolicyError(path, "TLD wildcard %r is not allowed; use a subdomain wildcard like '*.example.com'" % host)


def _check_host(host, path):
    """The OpenShell wildcard rules (_validate_host), then host syntax (validate.host_problem)."""
    _validate_host(host, path)
    problem = host_problem(host, wildcard=True)
    if problem:
        raise PolicyError(path, problem)


def _validate_allowed_ip(value, path):
    _need_str(value, path, allow_empty=False)
    problem = network_problem(value)
    if problem:
        raise PolicyError(path, problem)


def _validate_matcher(value, path):
    if isinstance(value, str):
        return
    m = _need_map(value, path)
    _check_keys(m, path, ("any",))
    _str_list(m.get("any", []), _join(path, "any"))


def _validate_params(value, path):
    params = _need_map(value, path)
    for key in sorted(params, key=str):
        sub = _join(path, key)
        item = params[key]
        if isinstance(item, dict) and "any" not in item:
            _validate_params(item, sub)
        else:
            _validate_matcher(item, sub)


def _rule_is_empty(rule):
    return not any(rule.get(k) for k in ("method", "path", "command", "operation_type", "operation_name", "fields", "params", "tool"))


def _validate_rule_body(rule, path, protocol):
    _need_map(rule, path)
    _check_keys(rule, path, RULE_KEYS)
    for key in ("method", "path", "command", "operation_type", "operation_name"):
        if rule.get(key) is not None:
            _need_str(rule[key], _join(path, key))
    if rule.get("method"):
        problem = method_problem(rule["method"], protocol or "rest")
        if problem:
            raise PolicyError(_join(path, "method"), problem)
    if rule.get("path"):
        rpath = rule["path"]
        if not (rpath.startswith("/") or rpath.startswith("**")):
            raise PolicyError(_join(path, "path"), "rule path must start with '/' or '**', got %r" % rpath)
    if rule.get("fields") is not None:
        _str_list(rule["fields"], _join(path, "fields"))
    if rule.get("query") is not None:
        query = _need_map(rule["query"], _join(path, "query"))
        for key in sorted(query, key=str):
            _validate_matcher(query[key], _join(_join(path, "query"), key))
    if rule.get("tool") is not None:
        _validate_matcher(rule["tool"], _join(path, "tool"))
    if rule.get("params") is not None:
        _validate_params(rule["params"], _join(path, "params"))
    if protocol == "graphql":
        # OpenShell requires a concrete operation type on graphql allow and deny rules.
        _need_enum(rule.get("operation_type", ""), _join(path, "operation_type"), GRAPHQL_OPERATION_TYPES)


def _validate_endpoint(ep, path):
    _need_map(ep, path)
    _check_keys(ep, path, ENDPOINT_KEYS)
    for key in ENDPOINT_STR_KEYS:
        if ep.get(key) is not None:
            _need_str(ep[key], _join(path, key))
    for key in ENDPOINT_BOOL_KEYS:
        if ep.get(key) is not None:
            _need_bool(ep[key], _join(path, key))
    protocol = ep.get("protocol") or ""
    if protocol:
        _need_enum(protocol, _join(path, "protocol"), PROTOCOLS)
    if ep.get("tls"):
        _need_enum(ep["tls"], _join(path, "tls"), TLS_MODES)
    if ep.get("enforcement"):
        _need_enum(ep["enforcement"], _join(path, "enforcement"), ENFORCEMENTS)
    access = ep.get("access") or ""
    if access:
        _need_enum(access, _join(path, "access"), ACCESS_PRESETS)
    # ports
    ports = []
    if ep.get("port") is not None:
        _need_int(ep["port"], _join(path, "port"), 1, 65535)
        ports.append(ep["port"])
    if ep.get("ports") is not None:
        sub = _join(path, "ports")
        _need_list(ep["ports"], sub)
        for i, port in enumerate(ep["ports"]):
            _need_int(port, _join(sub, i), 1, 65535)
        if ep["ports"] and ep.get("port") is not None:
            raise PolicyError(sub, "port and ports are mutually exclusive")
        ports.extend(ep["ports"])
    if not ports:
        raise PolicyError(_join(path, "port"), "endpoint must declare at least one port (port or ports)")
    # allowed_ips
    allowed_ips = ep.get("allowed_ips") or []
    if ep.get("allowed_ips") is not None:
        sub = _join(path, "allowed_ips")
        _need_list(ep["allowed_ips"], sub)
        for i, value in enumerate(ep["allowed_ips"]):
            _validate_allowed_ip(value, _join(sub, i))
    # host
    host = ep.get("host") or ""
    if not host.strip():
        if protocol == "tcp":
            raise PolicyError(_join(path, "host"), "protocol tcp requires a DNS hostname")
        if not allowed_ips:
            raise PolicyError(_join(path, "host"), "endpoint host must not be empty unless allowed_ips constrains a non-TCP endpoint")
    else:
        _check_host(host, _join(path, "host"))
        if protocol == "tcp" and _is_ip_literal(host):
            raise PolicyError(_join(path, "host"), "protocol tcp endpoint must use a DNS hostname, not an IP literal")
    if ep.get("path"):
        if not (ep["path"].startswith("/") or ep["path"] == "**"):
            raise PolicyError(_join(path, "path"), "path must start with '/' or be '**'")
    # rules
    rules = ep.get("rules") or []
    if ep.get("rules") is not None:
        sub = _join(path, "rules")
        _need_list(ep["rules"], sub)
        for i, rule in enumerate(ep["rules"]):
            rpath = _join(sub, i)
            _need_map(rule, rpath)
            _check_keys(rule, rpath, ("allow",))
            if "allow" not in rule:
                raise PolicyError(_join(rpath, "allow"), "required field missing")
            _validate_rule_body(rule["allow"], _join(rpath, "allow"), protocol)
    deny_rules = ep.get("deny_rules") or []
    if ep.get("deny_rules") is not None:
        sub = _join(path, "deny_rules")
        _need_list(ep["deny_rules"], sub)
        for i, rule in enumerate(ep["deny_rules"]):
            _validate_rule_body(rule, _join(sub, i), protocol)
    # nested stanzas
    if ep.get("credential_binding") is not None:
        sub = _join(path, "credential_binding")
        cb = _need_map(ep["credential_binding"], sub)
        _check_keys(cb, sub, ("provider",))
        _need_str(cb.get("provider"), _join(sub, "provider"), allow_empty=False)
    if ep.get("json_rpc") is not None:
        sub = _join(path, "json_rpc")
        jr = _need_map(ep["json_rpc"], sub)
        _check_keys(jr, sub, ("max_body_bytes",))
        if jr.get("max_body_bytes") is not None:
            _need_int(jr["max_body_bytes"], _join(sub, "max_body_bytes"), 0, MAX_U32)
    mcp = ep.get("mcp")
    if mcp is not None:
        sub = _join(path, "mcp")
        _need_map(mcp, sub)
        _check_keys(mcp, sub, ("max_body_bytes", "strict_tool_names", "allow_all_known_mcp_methods"))
        if mcp.get("max_body_bytes") is not None:
            _need_int(mcp["max_body_bytes"], _join(sub, "max_body_bytes"), 0, MAX_U32)
        for key in ("strict_tool_names", "allow_all_known_mcp_methods"):
            if mcp.get(key) is not None:
                _need_bool(mcp[key], _join(sub, key))
        if protocol != "mcp":
            raise PolicyError(sub, "mcp options are only valid for protocol mcp")
    if ep.get("graphql_max_body_bytes") is not None:
        _need_int(ep["graphql_max_body_bytes"], _join(path, "graphql_max_body_bytes"), 0, MAX_U32)
    if ep.get("persisted_queries"):
        _need_enum(ep["persisted_queries"], _join(path, "persisted_queries"), PERSISTED_QUERIES)
    if ep.get("graphql_persisted_queries") is not None:
        sub = _join(path, "graphql_persisted_queries")
        gpq = _need_map(ep["graphql_persisted_queries"], sub)
        for key in sorted(gpq, key=str):
            opath = _join(sub, key)
            op = _need_map(gpq[key], opath)
            _check_keys(op, opath, ("operation_type", "operation_name", "fields"))
            _need_enum(op.get("operation_type", ""), _join(opath, "operation_type"), GRAPHQL_OPERATION_TYPES)
            if op.get("operation_name") is not None:
                _need_str(op["operation_name"], _join(opath, "operation_name"))
            if op.get("fields") is not None:
                _str_list(op["fields"], _join(opath, "fields"))
    # credential signing
    signing = ep.get("credential_signing") or ""
    if signing:
        _need_enum(signing, _join(path, "credential_signing"), CREDENTIAL_SIGNING)
        if not ep.get("signing_service"):
            raise PolicyError(_join(path, "signing_service"), "required when credential_signing is set")
        if ep.get("request_body_credential_rewrite"):
            raise PolicyError(_join(path, "request_body_credential_rewrite"), "mutually exclusive with credential_signing")
    # L7 semantics (OpenShell l7_validate)
    if protocol == "tcp":
        if access or rules or deny_rules:
            raise PolicyError(_join(path, "protocol"), "protocol tcp does not support access, rules, or deny_rules")
        l7_only = [k for k in ("enforcement", "path", "persisted_queries", "graphql_persisted_queries", "graphql_max_body_bytes", "json_rpc", "mcp")
                   if ep.get(k)] + [k for k in ENDPOINT_BOOL_KEYS if k != "allow_uninspected_credentials" and ep.get(k)]
        if l7_only:
            raise PolicyError(_join(path, "protocol"), "protocol tcp does not support L7-only fields: %s" % ", ".join(sorted(l7_only)))
    if rules and access:
        raise PolicyError(_join(path, "access"), "access and rules are mutually exclusive")
    if protocol in ("mcp", "json-rpc") and access:
        raise PolicyError(_join(path, "access"), "protocol %s does not support access presets; use rules" % protocol)
    allow_all_mcp = bool(isinstance(mcp, dict) and mcp.get("allow_all_known_mcp_methods"))
    if protocol == "json-rpc" and not rules:
        raise PolicyError(_join(path, "rules"), "protocol json-rpc requires explicit rules with allow.method")
    if protocol in ("rest", "websocket", "graphql", "sql") and not rules and not access:
        raise PolicyError(_join(path, "rules"), "protocol %s requires rules or access to define allowed traffic" % protocol)
    if protocol == "mcp" and not rules and not allow_all_mcp:
        raise PolicyError(_join(path, "rules"), "protocol mcp requires rules when mcp.allow_all_known_mcp_methods is false")
    if rules and all(_rule_is_empty(r["allow"]) for r in rules) and not (protocol == "mcp" and allow_all_mcp):
        raise PolicyError(_join(path, "rules"), "rules would deny all traffic (no allow clause found)")
    if deny_rules:
        if protocol not in L7_PROTOCOLS:
            raise PolicyError(_join(path, "deny_rules"), "deny_rules require an L7 protocol")
        if protocol != "mcp" and not rules and not access:
            raise PolicyError(_join(path, "deny_rules"), "deny_rules require rules or access to define the base allow set")
    if protocol == "sql" and ep.get("enforcement") == "enforce":
        raise PolicyError(_join(path, "enforcement"), "SQL enforcement requires full SQL parsing; use enforcement: audit")


def _validate_middlewares(mws, path, network_policies):
    _need_map(mws, path)
    if len(mws) > MAX_MIDDLEWARES:
        raise PolicyError(path, "too many middleware configs (%d > %d)" % (len(mws), MAX_MIDDLEWARES))
    orders = {}
    for key in sorted(mws, key=str):
        if not isinstance(key, str) or not key:
            raise PolicyError(path, "middleware keys must be non-empty strings")
        sub = _join(path, key)
        if len(key) > MAX_NAME_LENGTH:
            raise PolicyError(sub, "key longer than %d characters" % MAX_NAME_LENGTH)
        mw = _need_map(mws[key], sub)
        _check_keys(mw, sub, ("name", "middleware", "order", "config", "on_error", "endpoints"))
        if mw.get("name") is not None:
            _need_str(mw["name"], _join(sub, "name"))
        if "middleware" not in mw:
            raise PolicyError(_join(sub, "middleware"), "required field missing")
        _need_str(mw["middleware"], _join(sub, "middleware"), allow_empty=False)
        order = mw.get("order", 0)
        _need_int(order, _join(sub, "order"), -2147483648, 2147483647)
        if order in orders:
            raise PolicyError(_join(sub, "order"), "duplicate order %d (also used by %s)" % (order, orders[order]))
        orders[order] = key
        if mw.get("config") is not None:
            _need_map(mw["config"], _join(sub, "config"))
        if mw.get("on_error"):
            _need_enum(mw["on_error"], _join(sub, "on_error"), ON_ERROR)
        if mw.get("endpoints") is None:
            raise PolicyError(_join(sub, "endpoints"), "endpoint selector is required")
        epath = _join(sub, "endpoints")
        sel = _need_map(mw["endpoints"], epath)
        _check_keys(sel, epath, ("include", "exclude"))
        include = _str_list(sel.get("include") or [], _join(epath, "include"))
        exclude = _str_list(sel.get("exclude") or [], _join(epath, "exclude"))
        if not include:
            raise PolicyError(_join(epath, "include"), "must include at least one host pattern")
        if len(include) + len(exclude) > MAX_MIDDLEWARE_SELECTOR_PATTERNS:
            raise PolicyError(epath, "too many selector patterns (%d > %d)" % (len(include) + len(exclude), MAX_MIDDLEWARE_SELECTOR_PATTERNS))
        for field, items in (("include", include), ("exclude", exclude)):
            for i, pattern in enumerate(items):
                if not pattern or "{" in pattern:
                    raise PolicyError(_join(_join(epath, field), i), "invalid host pattern %r" % pattern)


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------

def _norm_fs_path(p):
    p = re.sub(r"/+", "/", p)
    if len(p) > 1:
        p = p.rstrip("/") or "/"
    return p


def _norm_matcher(m):
    if isinstance(m, dict):
        return {"any": list(m.get("any") or [])}
    return m


def _flatten_params(params, prefix=""):
    flat = {}
    for key in sorted(params, key=str):
        value = params[key]
        full = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict) and "any" not in value:
            flat.update(_flatten_params(value, full))
        else:
            flat[full] = _norm_matcher(value)
    return flat


def _nest_params(flat):
    """MCP params are shown nested; collisions (``a`` and ``a.b``) stay flat, like OpenShell."""
    nested = {}
    for key in sorted(flat):
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict) or "any" in child:
                return dict(flat)
            node = child
        if parts[-1] in node:
            return dict(flat)
        node[parts[-1]] = flat[key]
    return nested


def _norm_rule(rule, protocol, allow_all_mcp):
    out = {}
    for key in ("method", "path", "command", "operation_type", "operation_name"):
        if rule.get(key):
            out[key] = rule[key]
    if rule.get("fields"):
        out["fields"] = list(rule["fields"])
    if rule.get("query"):
        out["query"] = dict((k, _norm_matcher(v)) for k, v in sorted(rule["query"].items()))
    flat = _flatten_params(rule.get("params") or {})
    if rule.get("tool") is not None and "name" not in flat:
        flat["name"] = _norm_matcher(rule["tool"])
    if protocol == "mcp":
        tool = flat.pop("name", None)
        if tool is not None:
            out["tool"] = tool
        if tool is None and out.get("method") == "*":
            out.pop("method")
        if tool is not None and out.get("method") == "tools/call" and allow_all_mcp:
            out.pop("method")
        params = _nest_params(flat)
    else:
        params = flat
    if params:
        out["params"] = params
    return out


def _norm_endpoint(ep):
    out = {}
    for key in ENDPOINT_STR_KEYS:
        if ep.get(key):
            out[key] = ep[key]
    for key in ENDPOINT_BOOL_KEYS:
        if ep.get(key):
            out[key] = True
    ports = _dedupe([int(p) for p in (ep.get("ports") or [])]) or ([int(ep["port"])] if ep.get("port") else [])
    if len(ports) > 1:
        out["ports"] = ports
    elif ports:
        out["port"] = ports[0]
    protocol = out.get("protocol", "")
    mcp = ep.get("mcp") if isinstance(ep.get("mcp"), dict) else None
    allow_all_mcp = bool(mcp and mcp.get("allow_all_known_mcp_methods"))
    if ep.get("rules"):
        out["rules"] = _dedupe([{"allow": _norm_rule(r.get("allow") or {}, protocol, allow_all_mcp)} for r in ep["rules"]])
    if ep.get("deny_rules"):
        out["deny_rules"] = _dedupe([_norm_rule(r, protocol, allow_all_mcp) for r in ep["deny_rules"]])
    if ep.get("allowed_ips"):
        out["allowed_ips"] = _dedupe(list(ep["allowed_ips"]))
    if ep.get("graphql_persisted_queries"):
        gpq = {}
        for key in sorted(ep["graphql_persisted_queries"]):
            op = ep["graphql_persisted_queries"][key] or {}
            gpq[key] = dict((k, op[k]) for k in ("operation_type", "operation_name", "fields") if op.get(k))
        out["graphql_persisted_queries"] = gpq
    if ep.get("graphql_max_body_bytes"):
        out["graphql_max_body_bytes"] = int(ep["graphql_max_body_bytes"])
    if ep.get("credential_binding") and ep["credential_binding"].get("provider"):
        out["credential_binding"] = {"provider": ep["credential_binding"]["provider"]}
    json_rpc = ep.get("json_rpc") if isinstance(ep.get("json_rpc"), dict) else None
    body = int((mcp or {}).get("max_body_bytes") or 0) if mcp is not None else int((json_rpc or {}).get("max_body_bytes") or 0)
    if protocol == "mcp":
        stanza = {}
        if body:
            stanza["max_body_bytes"] = body
        for key in ("strict_tool_names", "allow_all_known_mcp_methods"):
            if mcp is not None and mcp.get(key) is not None:
                stanza[key] = bool(mcp[key])
        if stanza:
            out["mcp"] = stanza
    elif body:
        out["json_rpc"] = {"max_body_bytes": body}
    return out


def _norm_network_policy(key, rule):
    rule = rule or {}
    out = {"name": rule.get("name") or key}
    endpoints = _dedupe([_norm_endpoint(ep) for ep in (rule.get("endpoints") or [])])
    if endpoints:
        out["endpoints"] = endpoints
    binaries = _dedupe([{"path": b["path"]} for b in (rule.get("binaries") or []) if isinstance(b, dict) and b.get("path")])
    if binaries:
        out["binaries"] = binaries
    return out


def _norm_middleware(key, mw):
    out = {"name": mw.get("name") or key, "middleware": mw.get("middleware", "")}
    if mw.get("order"):
        out["order"] = int(mw["order"])
    if mw.get("config"):
        out["config"] = json.loads(canonical_json(mw["config"]))
    if mw.get("on_error"):
        out["on_error"] = mw["on_error"]
    sel = mw.get("endpoints")
    if isinstance(sel, dict):
        s = {}
        if sel.get("include"):
            s["include"] = list(sel["include"])
        if sel.get("exclude"):
            s["exclude"] = list(sel["exclude"])
        out["endpoints"] = s
    return out


def normalize_policy(doc):
    """Canonical form of a policy, as OpenShell returns it from `policy get --full -o json`.

    Mirrors OpenShell's proto round trip: empty strings, false booleans, zero integers and
    empty lists/maps are dropped; ``filesystem_policy.include_workdir`` is always present
    when the section exists; a present ``landlock`` section is kept (even ``{}``, because
    the server compares it for equality); ``process`` is dropped when both fields are empty;
    each network policy gets ``name`` (default: its key); ``ports`` with one element becomes
    ``port``; binaries keep only ``path``. Additionally (ours): list entries are
    de-duplicated keeping first occurrence, filesystem paths have duplicate and trailing
    slashes removed, and a missing ``version`` becomes 1.
    """
    doc = doc or {}
    out = {"version": int(doc.get("version", 1))}
    fs = doc.get("filesystem_policy")
    if fs is not None:
        nfs = {"include_workdir": bool(fs.get("include_workdir", False))}
        for field in ("read_only", "read_write"):
            paths = _dedupe([_norm_fs_path(p) for p in (fs.get(field) or [])])
            if paths:
                nfs[field] = paths
        out["filesystem_policy"] = nfs
    ll = doc.get("landlock")
    if ll is not None:
        out["landlock"] = {"compatibility": ll["compatibility"]} if ll.get("compatibility") else {}
    proc = doc.get("process")
    if proc:
        nproc = dict((k, str(proc[k])) for k in ("run_as_user", "run_as_group") if proc.get(k) not in (None, ""))
        if nproc:
            out["process"] = nproc
    nps = doc.get("network_policies") or {}
    if nps:
        out["network_policies"] = dict((k, _norm_network_policy(k, nps[k])) for k in sorted(nps))
    mws = doc.get("network_middlewares") or {}
    if mws:
        out["network_middlewares"] = dict((k, _norm_middleware(k, mws[k] or {})) for k in sorted(mws))
    return out


# ---------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------

def _canonical_pair(current, desired, canonical):
    """Both documents in canonical form; ``canonical=True`` says the caller already normalised them."""
    if canonical:
        return current, desired
    return normalize_policy(current), normalize_policy(desired)


def static_violations(current, desired, canonical=False):
    """Reasons a live sandbox created with `current` would reject `desired`.

    Mirrors OpenShell's validate_static_fields_unchanged: filesystem may only grow (no
    removed path, no include_workdir change, section not removable); landlock and process
    must be identical. Every message starts with the section name.
    """
    cur, des = _canonical_pair(current, desired, canonical)
    reasons = []
    cfs, dfs = cur.get("filesystem_policy"), des.get("filesystem_policy")
    if cfs is not None and dfs is None:
        reasons.append("filesystem_policy: cannot be removed on a live sandbox")
    elif cfs is not None:
        if cfs.get("include_workdir") != dfs.get("include_workdir"):
            reasons.append("filesystem_policy: include_workdir cannot be changed on a live sandbox (%s -> %s)"
                           % (cfs.get("include_workdir"), dfs.get("include_workdir")))
        for field in ("read_only", "read_write"):
            keep = set(dfs.get(field) or [])
            for p in cfs.get(field) or []:
                if p not in keep:
                    reasons.append("filesystem_policy: %s path %s cannot be removed on a live sandbox" % (field, p))
    for section in ("landlock", "process"):
        if cur.get(section) != des.get(section):
            reasons.append("%s: cannot be changed on a live sandbox (%s -> %s)"
                           % (section, canonical_json(cur.get(section)), canonical_json(des.get(section))))
    return reasons


def dynamic_equal(current, desired, canonical=False):
    """True when the dynamic sections (network_policies, network_middlewares) are equal."""
    cur, des = _canonical_pair(current, desired, canonical)
    return all(cur.get(s) == des.get(s) for s in DYNAMIC_SECTIONS)


def _keyed_diff(before, after):
    before = before or {}
    after = after or {}
    return {
        "added": sorted(k for k in after if k not in before),
        "removed": sorted(k for k in before if k not in after),
        "changed": sorted(k for k in after if k in before and before[k] != after[k]),
    }


def policy_diff(before, after, canonical=False):
    """Structured difference of two policies (normalised first).

    Returns {"network_policies": {"added", "removed", "changed"}, "network_middlewares":
    {...same...}, "static_changed": [sections], "changed": bool}.
    """
    b, a = _canonical_pair(before, after, canonical)
    out = {}
    for section in DYNAMIC_SECTIONS:
        out[section] = _keyed_diff(b.get(section), a.get(section))
    out["static_changed"] = [s for s in STATIC_SECTIONS if b.get(s) != a.get(s)]
    out["changed"] = b != a
    return out


_PLAIN_RE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+-]*$")
_YAML_WORDS = ("true", "false", "yes", "no", "on", "off", "null", "y", "n", "~")


def _yaml_scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN_RE.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=True)


def _yaml_lines(value, indent):
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        for key in sorted(value, key=str):
            item = value[key]
            k = _yaml_scalar(key)
            if isinstance(item, (dict, list, tuple)) and item:
                lines.append("%s%s:" % (pad, k))
                lines.extend(_yaml_lines(item, indent + 1))
            else:
                lines.append("%s%s: %s" % (pad, k, _inline(item)))
        return lines
    if isinstance(value, (list, tuple)):
        if not value:
            return [pad + "[]"]
        for item in value:
            if isinstance(item, (dict, list, tuple)) and item:
                sub = _yaml_lines(item, indent + 1)
                first = sub[0].lstrip()
                lines.append("%s- %s" % (pad, first))
                lines.extend(sub[1:])
            else:
                lines.append("%s- %s" % (pad, _inline(item)))
        return lines
    return [pad + _yaml_scalar(value)]


def _inline(value):
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, (list, tuple)) and not value:
        return "[]"
    return _yaml_scalar(value)


def to_yaml_text(doc):
    """Stable YAML text (sorted keys, 2-space indent, JSON-quoted strings when needed).

    Used for --diff output without PyYAML; the output is valid YAML.
    """
    return "\n".join(_yaml_lines(doc, 0)) + "\n"


# ---------------------------------------------------------------------------
# private destinations and preset access
# ---------------------------------------------------------------------------

def _ip_is_private(ip):
    return not is_public_class(ip_class(ip))


def is_private_host(host):
    """True when `host` names a destination that is not public (validate.host_class).

    IP literals in every spelling the resolver accepts (``127.1``, ``2130706433``, ``0x7f000001``,
    ``[::ffff:127.0.0.1]``) are classified by address: RFC 1918, 100.64.0.0/10, fc00::/7,
    link-local, cloud metadata, loopback, unspecified, multicast and reserved ranges are
    private. Hostnames cannot be resolved while planning, so ``localhost``, single-label names
    and names under .localhost, .local, .internal, .home.arpa, .lan and .localdomain count as
    private; any other valid name is public. A host that is not valid counts as private.
    """
    if not host or not host.strip():
        return False
    return not is_public_class(host_class(host.strip()))


def _net_is_private(value):
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return _ip_is_private(net.network_address) or _ip_is_private(net.broadcast_address)


def parse_trusted_private_hosts(items):
    """Normalise trusted private hosts to {host: [pins]}.

    Accepted items: ``"10.0.0.5"`` (IP literal, pinned to itself), ``"nas.lan=192.168.1.10,192.168.1.11"``
    or ``{"host": "nas.lan", "allowed_ips": ["192.168.1.10"]}``. A hostname given without
    addresses maps to [] and is refused when used (resolve it first).
    """
    out = {}
    for i, item in enumerate(items or ()):
        path = "trusted_private_hosts[%d]" % i
        if isinstance(item, dict):
            host = item.get("host")
            ips = item.get("allowed_ips", item.get("ips")) or []
            _need_str(host, _join(path, "host"), allow_empty=False)
            _str_list(ips, _join(path, "allowed_ips"))
        else:
            _need_str(item, path, allow_empty=False)
            host, _sep, rest = item.partition("=")
            ips = [x.strip() for x in rest.split(",") if x.strip()]
        problem = host_problem(host.strip() if isinstance(host, str) else host)
        if problem:
            raise PolicyError(_join(path, "host") if isinstance(item, dict) else path, "host %s" % problem)
        host = normalize_host(host)
        if not ips and _is_ip_literal(host):
            ips = [host]
        for j, ip in enumerate(ips):
            try:
                ipaddress.ip_network(ip, strict=False)
            except ValueError:
                raise PolicyError(_join(path, "allowed_ips[%d]" % j), "not an IP address or CIDR: %r" % ip)
        out[host] = sorted(set(out.get(host, [])) | set(ips))
    return out


def _pin_private(rule, path, trusted):
    """Return a copy of a network policy entry with private endpoints pinned (or raise)."""
    endpoints = []
    for i, ep in enumerate(rule.get("endpoints") or []):
        epath = _join(_join(path, "endpoints"), i)
        if not isinstance(ep, dict):
            endpoints.append(ep)
            continue
        host = normalize_host(ep.get("host") or "")
        private_ips = [ip for ip in (ep.get("allowed_ips") or []) if isinstance(ip, str) and _net_is_private(ip)]
        if not is_private_host(host) and not private_ips:
            endpoints.append(ep)
            continue
        if not host:
            raise PolicyError(_join(epath, "allowed_ips"), "host-less endpoint reaches private addresses %s; "
                              "only reviewed baseline layers may do that" % ", ".join(private_ips))
        if host not in trusted:
            raise PolicyError(_join(epath, "host"), "%s is a private or loopback destination (%s); add it to "
                              "trusted_private_hosts (with its addresses) to allow it" % (ep.get("host"), host_class(host)))
        pins = trusted[host]
        if not pins:
            raise PolicyError(_join(epath, "host"), "trusted private host %s has no addresses to pin; "
                              "give them as '%s=IP[,IP]'" % (host, host))
        new = dict(ep)
        new["allowed_ips"] = list(pins)
        endpoints.append(new)
    out = dict(rule)
    out["endpoints"] = endpoints
    return out


_READ_METHODS = ("GET", "HEAD", "OPTIONS")


def apply_preset_access(fragment, access, path="preset"):
    """Narrow a preset's policy fragment to an access level.

    ``read-write`` (or None) returns the fragment unchanged. ``read`` keeps only
    GET/HEAD/OPTIONS allow rules (a ``*`` method becomes GET and HEAD), turns L7
    ``access: read-write|full`` into ``access: read-only``, drops endpoints left
    without rules, and refuses L4 endpoints (no protocol or tcp) because those
    cannot be narrowed.
    """
    if access in (None, "", "read-write"):
        return fragment
    if access != "read":
        raise PolicyError(path, "invalid preset access %r; expected read or read-write" % (access,))
    out = dict(fragment)
    nps = {}
    for key in sorted((fragment.get("network_policies") or {})):
        rule = fragment["network_policies"][key]
        kpath = _join(_join(path, "network_policies"), key)
        endpoints = []
        for i, ep in enumerate(rule.get("endpoints") or []):
            epath = _join(_join(kpath, "endpoints"), i)
            protocol = ep.get("protocol") or ""
            if protocol in ("", "tcp"):
                raise PolicyError(epath, "L4 endpoint %s cannot be narrowed to read access; use read-write" % ep.get("host", ""))
            new = dict(ep)
            if ep.get("access"):
                new["access"] = "read-only"
            elif ep.get("rules"):
                rules = []
                for r in ep["rules"]:
                    allow = dict(r.get("allow") or {})
                    method = str(allow.get("method", "")).upper()
                    if method == "*":
                        for m in ("GET", "HEAD"):
                            a = dict(allow)
                            a["method"] = m
                            rules.append({"allow": a})
                    elif method in _READ_METHODS:
                        rules.append({"allow": allow})
                if not rules:
                    continue
                new["rules"] = rules
                new.pop("request_body_credential_rewrite", None)
            endpoints.append(new)
        if endpoints:
            nr = dict(rule)
            nr["endpoints"] = endpoints
            nps[key] = nr
    out["network_policies"] = nps
    return out


# ---------------------------------------------------------------------------
# composition
# ---------------------------------------------------------------------------

def _layer_level(layer, path):
    level = layer.get("level", "custom")
    if isinstance(level, str):
        if level not in LAYER_LEVELS:
            raise PolicyError(_join(path, "level"), "unknown level %r; expected one of %s" % (level, ", ".join(sorted(LAYER_LEVELS, key=LAYER_LEVELS.get))))
        return LAYER_LEVELS[level], level
    if _is_int(level):
        return level, str(level)
    raise PolicyError(_join(path, "level"), "expected a level name or integer")


def _prepare_layers(layers):
    prepared = []
    names = {}
    for i, layer in enumerate(layers or ()):
        path = "layers[%d]" % i
        _need_map(layer, path)
        _check_keys(layer, path, ("name", "source", "level", "policy", "override", "exclude", "trusted", "origin"))
        name = _need_str(layer.get("name"), _join(path, "name"), allow_empty=False)
        if name in names:
            raise PolicyError(_join(path, "name"), "duplicate layer name %r" % name)
        names[name] = True
        level, level_name = _layer_level(layer, path)
        policy = layer.get("policy")
        policy = {} if policy is None else _need_map(policy, _join(path, "policy"))
        override = layer.get("override", False)
        if isinstance(override, bool):
            override_all, override_keys = override, frozenset()
        else:
            override_all, override_keys = False, frozenset(_str_list(override, _join(path, "override")))
        exclude = _str_list(layer.get("exclude") or [], _join(path, "exclude"))
        trusted = layer.get("trusted")
        if trusted is None:
            trusted = level <= LAYER_LEVELS["agent"]
        _need_bool(trusted, _join(path, "trusted"))
        prepared.append({
            "name": name, "source": str(layer.get("source") or name), "level": level, "level_name": level_name,
            "policy": policy, "override_all": override_all, "override_keys": override_keys,
            "exclude": sorted(set(exclude)), "trusted": trusted, "origin": layer.get("origin"),
        })
    prepared.sort(key=lambda item: (item["level"], item["name"]))
    return prepared


def _may_override(layer, key):
    return layer["override_all"] or key in layer["override_keys"]


def _who(layer):
    return "%s (%s)" % (layer["name"], layer["source"])


def _in_layer(layer, exc):
    """Re-raise a PolicyError with the layer named (the field path stays exact)."""
    return PolicyError(exc.path, "%s [layer %s]" % (exc.reason, _who(layer)), origin=layer.get("origin"))


def _origin(section, layer, norm):
    """Provenance of one composed key; a network policy that names no binaries is flagged
    ``any_binary: true`` (OpenShell authorizes every binary for it)."""
    origin = {"layer": layer["name"], "source": layer["source"], "level": layer["level_name"]}
    if section == "network_policies" and rule_allows_any_binary(norm):
        origin["any_binary"] = True
    return origin


def _merge_keyed(section, layer, entries, result, owners, provenance, normalizer, trusted_hosts):
    try:
        _need_map(entries, section)
        for key in entries:
            if section == "network_policies":
                _validate_policy_key(key, section)
                _validate_network_policy(entries[key], _join(section, key), key)
            else:
                _validate_middlewares({key: entries[key]}, section, {})
    except PolicyError as exc:
        raise _in_layer(layer, exc)
    for key in sorted(entries, key=str):
        entry = entries[key]
        if section == "network_policies" and not layer["trusted"]:
            try:
                entry = _pin_private(entry, _join(section, key), trusted_hosts)
            except PolicyError as exc:
                raise _in_layer(layer, exc)
        norm = normalizer(key, entry)
        if key not in result:
            result[key] = norm
            owners[key] = layer
            provenance[key] = _origin(section, layer, norm)
            continue
        if result[key] == norm:
            continue
        prev = owners[key]
        if prev["level"] < layer["level"] and _may_override(layer, key):
            result[key] = norm
            owners[key] = layer
            provenance[key] = _origin(section, layer, norm)
            provenance[key]["overrides"] = {"layer": prev["name"], "source": prev["source"]}
            continue
        hint = "declare an override in the higher layer" if prev["level"] < layer["level"] else "layers of the same level cannot override each other"
        raise PolicyError("%s.%s" % (section, key), "defined differently by %s and %s; %s" % (_who(prev), _who(layer), hint))


def _merge_static(section, layer, value, state):
    """landlock/process: equal merges; higher layer wins only when it declares an override."""
    current, owner = state.get(section, (None, None))
    if current is None:
        state[section] = (value, layer)
        return
    if current == value:
        return
    if owner["level"] < layer["level"] and _may_override(layer, section):
        state[section] = (value, layer)
        return
    raise PolicyError(section, "set differently by %s and %s; the higher layer must declare %r in override"
                      % (_who(owner), _who(layer), section))


def compose_policy(layers, trusted_private_hosts=(), agent_required_keys=()):
    """Compose partial policies into one validated policy with per-key provenance.

    Each layer is a mapping::

        {"name": "preset:npm",              # unique label, used in provenance and errors
         "source": "library:presets/npm.yaml",  # where it came from (file), default: name
         "level": "tier",                   # baseline(0) < agent(10) < tier(20) < custom(30) < inventory(40),
                                            # or an integer; default "custom"
         "policy": {...},                   # partial OpenShell policy (any top-level section)
         "override": False,                 # True, or a list of network_policies/network_middlewares
                                            # keys and static section names this layer may replace
         "exclude": ["key", ...],           # network_policies keys of LOWER levels to drop (reviewed)
         "trusted": None}                   # skip the private-destination check; default: True for
                                            # baseline/agent levels, False above

    Rules: layers are applied by (level, name), so input order never matters. Within a
    level, a key defined differently by two layers is an error; across levels the higher
    layer may replace a key only if it declares an override (identical definitions merge
    silently). Exclusions at a level apply to what the lower levels produced; excluding a
    key in ``agent_required_keys`` or a key that does not exist is refused; every required
    key must be present at the end. Filesystem read_only/read_write are unions (first
    occurrence order); include_workdir, landlock and process change only with an override.
    In untrusted layers, endpoints reaching private/loopback destinations must have their
    host in ``trusted_private_hosts`` (see parse_trusted_private_hosts) and get
    ``allowed_ips`` pinned to the trusted addresses. The result is normalised and passes
    validate_policy (otherwise PolicyError is raised).
    """
    prepared = _prepare_layers(layers)
    trusted = parse_trusted_private_hosts(trusted_private_hosts)
    required = set(agent_required_keys or ())
    nps, np_owners, np_prov = {}, {}, {}
    mws, mw_owners, mw_prov = {}, {}, {}
    excluded = {}
    static = {}
    fs_paths = {"read_only": [], "read_write": []}
    fs_seen = False
    version = 1
    levels = sorted(set(layer["level"] for layer in prepared))
    for level in levels:
        group = [layer for layer in prepared if layer["level"] == level]
        # exclusions first: they apply to what lower levels produced
        for layer in group:
            for key in layer["exclude"]:
                path = "%s.exclude" % layer["name"]
                if key in required:
                    raise PolicyError("network_policies.%s" % key, "exclusion by %s refused: the agent requires this entry" % _who(layer))
                if key not in nps:
                    if key in excluded:
                        continue
                    raise PolicyError(path, "cannot exclude %r: no lower layer defines it" % key)
                prev = np_owners[key]
                excluded[key] = {"layer": layer["name"], "source": layer["source"], "was": {"layer": prev["name"], "source": prev["source"]}}
                del nps[key], np_owners[key], np_prov[key]
        for layer in group:
            policy = layer["policy"]
            try:
                _check_keys(policy, "", TOP_LEVEL_KEYS)
                if "version" in policy and (not _is_int(policy["version"]) or policy["version"] != 1):
                    raise PolicyError("version", "must be the integer 1, got %r" % (policy["version"],))
            except PolicyError as exc:
                raise _in_layer(layer, exc)
            _merge_keyed("network_policies", layer, policy.get("network_policies") or {}, nps, np_owners, np_prov,
                         _norm_network_policy, trusted)
            _merge_keyed("network_middlewares", layer, policy.get("network_middlewares") or {}, mws, mw_owners, mw_prov,
                         _norm_middleware, trusted)
            try:
                for section in STATIC_SECTIONS:
                    if policy.get(section) is not None:
                        validate_policy({"version": 1, section: policy[section]})
            except PolicyError as exc:
                raise _in_layer(layer, exc)
            fs = policy.get("filesystem_policy")
            if fs is not None:
                fs_seen = True
                for field in ("read_only", "read_write"):
                    for p in fs.get(field) or []:
                        if isinstance(p, str):
                            p = _norm_fs_path(p)
                        if p not in fs_paths[field]:
                            fs_paths[field].append(p)
                if "include_workdir" in fs:
                    _merge_static("filesystem_policy", layer, bool(fs["include_workdir"]), static)
            for section in ("landlock", "process"):
                if policy.get(section) is not None:
                    value = normalize_policy({section: policy[section]}).get(section, {})
                    _merge_static(section, layer, value, static)
    missing = sorted(required - set(nps))
    if missing:
        raise PolicyError("network_policies.%s" % missing[0], "required by the agent but no layer defines it")
    doc = {"version": version}
    if fs_seen:
        fs_out = {"include_workdir": static.get("filesystem_policy", (False, None))[0]}
        for field in ("read_only", "read_write"):
            if fs_paths[field]:
                fs_out[field] = fs_paths[field]
        doc["filesystem_policy"] = fs_out
    for section in ("landlock", "process"):
        if section in static:
            doc[section] = static[section][0]
    if nps:
        doc["network_policies"] = nps
    if mws:
        doc["network_middlewares"] = mws
    try:
        validate_policy(doc)
    except PolicyError as exc:
        parts = exc.path.split(".")
        if len(parts) > 1 and parts[0] == "network_policies" and parts[1] in np_owners:
            raise _in_layer(np_owners[parts[1]], exc)
        raise
    return ComposedPolicy(normalize_policy(doc), dict(sorted(np_prov.items())), dict(sorted(mw_prov.items())), dict(sorted(excluded.items())))
