# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""One validation layer: every rule a value must pass before it reaches OpenShell.

Modules, the planner, the policy library and the roles' filters all call these, so each
rule lives in exactly one place. Pure functions, stdlib only (Python >= 3.9); imported on
the controller and on the managed host.

Conventions:

* ``<thing>_problem(value)`` returns ``None`` when the value is acceptable, else a short
  reason (no field name: the caller adds it, e.g. ``InputError(field, reason)``). A reason
  never repeats a value that may be secret (text values, env values); names, keys, hosts
  and paths are quoted so the user sees what was refused.
* ``parse_<thing>(value)`` returns the normalised value or raises ``ValueError(reason)``.
* Every regular expression is applied with ``re.fullmatch``. A ``$`` anchor also matches
  before a trailing newline (``re.match(r"^[a-z]+$", "gw\\n")`` matches), which let
  ``gw\\n`` and ``openclaw\\n`` through. The patterns themselves end in ``\\Z`` as well, so a
  caller that still uses ``.match`` is anchored too.

API (one line each):

Names and keys
  sandbox_name_problem(name)        OpenShell sandbox name (server rule: DNS-1123 label, <= 19)
  blueprint_sandbox_name_problem(n) a blueprint's sandbox name (the above, starting with a letter)
  provider_name_problem(name)       provider name (letter or '_' first; letters, digits, '-', '_', '.'; <= 253)
  gateway_name_problem(name)        gateway registration name (one path component, <= 63)
  env_key_problem(key)              environment variable name [A-Za-z_][A-Za-z0-9_]*
  credential_key_problem(key)       provider credential key (env key rule; not a variable the CLI reads)
  config_key_problem(key)           provider config key (letter or '_' first; letters, digits, '_', '.', '-')
  label_problem(key, value)         Kubernetes-style label key and value
  text_problem(value)               any text reaching argv or a file line: no newline, CR or NUL
  duplicates(values)                the values that occur more than once (sorted)
Sizes and ranges
  cpu_problem(value)                cores (2, 0.5) or millicores (500m); > 0 and <= 1024 cores
  memory_problem(value)             bytes or a quantity (8Gi, 512Mi, 4G); > 0 and <= 64Ti
  parse_gpu(value) / gpu_problem    False, True (driver default) or a count 1..64
  timeout_problem(value, maximum)   whole seconds 0..86400 (0 = the default)
  port_problem(value)               TCP port 1..65535
  method_problem(method, protocol)  HTTP method of a rest/websocket policy rule (or '*')
Hosts and paths
  parse_ipv4(text)                  IPv4 address in any spelling inet_aton accepts (127.1, 0x7f000001, ...)
  parse_ip(host)                    the address an IP-literal host denotes (IPv4 or IPv6), else None
  normalize_host(host)              canonical spelling used to compare hosts (lower case, no dot/brackets)
  host_problem(host, wildcard)      syntactic host check (labels, length, ASCII, wildcard placement)
  ip_class(address) / host_class    loopback, private, link-local, metadata, ... or public-*
  is_public_class(cls)              whether a host class may be reached without trust
  network_problem(cidr)             an allowed_ips pin that overlaps loopback/link-local/unspecified
  binary_path_problem(path)         absolute, normalised policy binary path (globs allowed)
Environment
  env_value_problem(value)          an environment value: a scalar without newline, CR or NUL
  env_problems(env, field)          every problem of an environment mapping, one sentence each naming field.KEY
Approvals
  host_pattern_matches(pat, host)   exact match on normalised hosts; '*' only in the first label, at a label boundary
  glob_matches(pattern, value)      shell-style '*' / '?' glob over a whole value (binaries, rule names)
  approval_matcher_problems(m, f)   every problem of one approve/reject matcher, as (field, reason) pairs
  normalise_matcher(matcher)        a valid matcher with stripped strings and an int port
  matcher_matches(matcher, chunk)   whether a matcher selects a pending chunk (the one matcher of module and playbook)
Messages
  suggest(word, candidates)         " (did you mean X?)" or ""
Inventory
  unknown_variables(names, extra)   one warning per nemoclaw_* variable the collection does not read (typos)
"""

from __future__ import annotations

import difflib
import json
import ipaddress
import posixpath
import re

from urllib.parse import urlsplit, urlunsplit

# --------------------------------------------------------------------------
# Patterns (applied with fullmatch; each also ends in \Z, see the module doc)
# --------------------------------------------------------------------------

# OpenShell object names and policy keys are at most 253 characters (the server's limit for
# network policy keys, policy.MAX_NAME_LENGTH; a DNS subdomain is as long).
NAME_MAX = 253

# Sandbox names: the server's rule (crates/openshell-server/src/grpc/validation.rs):
# a DNS-1123 label of at most MAX_ROUTABLE_NAME_LEN = 19 characters.
SANDBOX_NAME_MAX = 19
SANDBOX_NAME_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
# Blueprints further require a letter first (NemoClaw's own rule).
BLUEPRINT_SANDBOX_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,17}[a-z0-9])?\Z")
# Environment keys: the CLI's --env rule (commands/common.rs) and POSIX shell names.
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Credential keys are exported as environment variables inside the sandbox: same rule.
CREDENTIAL_KEY_RE = ENV_KEY_RE
# Provider config keys travel as --config KEY=VALUE; no '=' and nothing a shell or a file line
# could misread. Existing keys are like NVIDIA_BASE_URL.
CONFIG_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
# Labels: Kubernetes label syntax (value may be empty; prefix is a DNS subdomain).
LABEL_VALUE_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?\Z")
LABEL_KEY_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?\Z")
LABEL_KEY_PREFIX_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?\Z")
# Resources: what the CLI accepts for --cpu (cores or millicores) and --memory (bytes or a
# quantity with a decimal or binary suffix, whole numbers only: run.rs rejects "1.5Gi").
CPU_RE = re.compile(r"(?:\d+(?:\.\d+)?|\d+m)\Z")
MEMORY_RE = re.compile(r"\d+(?:Ki|Mi|Gi|Ti|Pi|Ei|K|M|G|T|P|E)?\Z")
# Provider names: what the collection accepts (letters, digits, '-', '_', '.'; a letter or '_' first).
PROVIDER_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")  # 1password too; never a leading - or .
# Gateway names: the CLI stores a registration under gateways/<name>/, so one path component.
GATEWAY_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
# A DNS label (RFC 1123 host name syntax); hyphen rules are checked separately.
HOST_LABEL_RE = re.compile(r"[A-Za-z0-9-]{1,63}\Z")
_SANDBOX_CHARS_RE = re.compile(r"[a-z0-9-]+\Z")
_DIGITS_RE = re.compile(r"[0-9]+\Z")
_GLOB_LABEL_RE = re.compile(r"[A-Za-z0-9*-]+\Z")


def full_match(pattern, value):
    """True when ``value`` is a string and ``pattern`` matches all of it (never a bare ``$``)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _not_string(value):
    return "must be a string, got %s" % type(value).__name__


# --------------------------------------------------------------------------
# Names and keys
# --------------------------------------------------------------------------

def sandbox_name_problem(name):
    """Why the OpenShell server would refuse ``name`` (its DNS-1123 rule), or None.

    The messages are the server's own (``name exceeds maximum length (20 > 19)`` ...), so
    the user reads the same reason whether we or the gateway refuse it.
    """
    if not name:
        return "must not be empty"
    if not isinstance(name, str):
        return _not_string(name)
    if len(name) > SANDBOX_NAME_MAX:
        return "exceeds maximum length (%d > %d)" % (len(name), SANDBOX_NAME_MAX)
    if not full_match(_SANDBOX_CHARS_RE, name):
        return "must contain only lowercase alphanumeric characters or hyphens"
    if name.startswith("-") or name.endswith("-"):
        return "must not start or end with a hyphen"
    if "--" in name:
        return "must not contain consecutive hyphens"
    if not full_match(SANDBOX_NAME_RE, name):  # pragma: no cover - the checks above are the same rule
        return "must be a DNS-1123 label"
    return None


def blueprint_sandbox_name_problem(name):
    """Why ``name`` cannot name a blueprint's sandbox (server rule plus a letter first), or None."""
    problem = sandbox_name_problem(name)
    if problem:
        return problem
    if not full_match(BLUEPRINT_SANDBOX_NAME_RE, name):
        return "must start with a lowercase letter"
    return None


def provider_name_problem(name):
    """Why ``name`` is not a provider name the collection manages, or None.

    Provider names reach argv (``--name``, ``--provider``) and the policy (provider-composed
    rules are keyed by them), so they follow the key limit NAME_MAX.
    """
    if not name:
        return "must not be empty"
    if not isinstance(name, str):
        return _not_string(name)
    if len(name) > NAME_MAX:
        return "is %d characters long; at most %d are allowed" % (len(name), NAME_MAX)
    if not full_match(PROVIDER_NAME_RE, name):
        return "must be letters, digits, '-', '_' or '.', starting with a letter, a digit or '_'"
    return None


def gateway_name_problem(name):
    """Why ``name`` cannot name a gateway registration (a single path component), or None."""
    if not name:
        return "must not be empty"
    if not isinstance(name, str):
        return _not_string(name)
    if not full_match(GATEWAY_NAME_RE, name):
        return ("must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit "
                "(the CLI keeps a registration in a directory of that name)")
    return None


def env_key_problem(key):
    """Why ``key`` cannot be an environment variable name, or None.

    The CLI refuses other keys (``--env key must match [A-Za-z_][A-Za-z0-9_]*``), and a key
    with '=', a space or a newline would split into a second assignment in an env file.
    """
    if not isinstance(key, str):
        return _not_string(key)
    if not full_match(ENV_KEY_RE, key):
        return "key %r must match [A-Za-z_][A-Za-z0-9_]*" % key
    return None


# The credential value reaches the `openshell` child as the environment variable of the key's name (the real CLI's
# `--credential KEY` reads it there), so a key must not be a name the CLI, its runtime or the loader reads: set as a
# credential, OPENSHELL_GATEWAY_ENDPOINT would send the call (and its credentials) to another gateway, LD_PRELOAD
# would load a library into the CLI.
RESERVED_CREDENTIAL_PREFIXES = ("OPENSHELL_", "RUST_", "CARGO_", "LD_", "DYLD_", "LC_", "XDG_", "SSL_", "GRPC_",
                                "OTEL_", "MALLOC_", "GLIBC_", "PYTHON")
RESERVED_CREDENTIAL_NAMES = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "TMPDIR", "TMP", "TEMP", "LANG",
                             "LANGUAGE", "TERM", "TZ", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "IFS", "ENV", "BASH_ENV",
                             "HOSTNAME", "SSH_AUTH_SOCK", "KUBECONFIG", "DOCKER_HOST", "DOCKER_CONFIG",
                             "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "CONTAINER_HOST")


def credential_key_problem(key):
    """Why ``key`` cannot be a provider credential key, or None: an environment variable name
    (``env_key_problem``) that is not one the ``openshell`` child reads for itself
    (``RESERVED_CREDENTIAL_PREFIXES``, ``RESERVED_CREDENTIAL_NAMES``, ``*_PROXY``; in any case)."""
    problem = env_key_problem(key)
    if problem:
        return problem
    upper = key.upper()
    if upper in RESERVED_CREDENTIAL_NAMES or upper.endswith("_PROXY") or upper.startswith(RESERVED_CREDENTIAL_PREFIXES):
        return ("key %r is an environment variable the openshell CLI or its runtime reads (the credential's value is "
                "passed in the variable of that name); name the credential differently" % key)
    return None


def config_key_problem(key):
    """Why ``key`` cannot be a provider config key (``--config KEY=VALUE``), or None."""
    if not isinstance(key, str):
        return _not_string(key)
    if not key:
        return "key must not be empty"
    if len(key) > NAME_MAX:
        return "key is %d characters long; at most %d are allowed" % (len(key), NAME_MAX)
    if not full_match(CONFIG_KEY_RE, key):
        return "key %r must be letters, digits, '_', '.' or '-', starting with a letter or '_' (no '=')" % key
    return None


def label_problem(key, value):
    """Why the server would refuse a label, or None (Kubernetes label rules)."""
    if not isinstance(key, str):
        return "key %r: %s" % (key, _not_string(key))
    prefix, sep, name = key.rpartition("/")
    if not full_match(LABEL_KEY_NAME_RE, name):
        return "key %r: name segment must be 1-63 alphanumeric, '-', '_' or '.' characters, alphanumeric at both ends" % key
    if sep and not full_match(LABEL_KEY_PREFIX_RE, prefix):
        return "key %r: prefix must be a DNS subdomain" % key
    if not full_match(LABEL_VALUE_RE, str(value)):
        return "value %r of %r: at most 63 alphanumeric, '-', '_' or '.' characters, alphanumeric at both ends" % (value, key)
    return None


_TEXT_FORBIDDEN = (("\n", "a newline"), ("\r", "a carriage return"), ("\x00", "a NUL character"))


def text_problem(value):
    """Why ``value`` cannot travel as one argv word or one line of a file, or None.

    A newline in an env value wrote an extra line (``INJECTED=1``) into ``gateway.env``; a NUL
    truncates argv. The value itself is never repeated (it may be a secret). ``None`` passes
    (absent); other scalars are checked as their ``str()``.
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    for char, what in _TEXT_FORBIDDEN:
        if char in text:
            return "must not contain %s" % what
    return None


def duplicates(values):
    """The values occurring more than once in ``values``, sorted (duplicate names never converge)."""
    seen, dup = set(), set()
    for value in values:
        (dup if value in seen else seen).add(value)
    return sorted(dup, key=str)


# --------------------------------------------------------------------------
# Sizes and ranges
# --------------------------------------------------------------------------

CPU_MAX_CORES = 1024
MEMORY_MAX_BYTES = 64 * 1024 ** 4  # 64Ti
GPU_MAX = 64
TIMEOUT_MAX = 86400  # one day
_MEMORY_UNITS = {"": 1, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
                 "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "Pi": 1024 ** 5, "Ei": 1024 ** 6}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cpu_problem(value):
    """Why ``value`` is not a CPU limit (``2``, ``0.5``, ``500m``), or None.

    Zero is refused (the CLI requires more than zero) and so is more than CPU_MAX_CORES
    (1024) cores: nothing schedules that, and ``100000`` is a typo, not a request.
    """
    if isinstance(value, bool) or not (isinstance(value, str) or _is_number(value)):
        return "must be a number of cores like 2, 0.5 or 500m, got %r" % (value,)
    text = value if isinstance(value, str) else repr(value)
    if not full_match(CPU_RE, text):
        return "must be a number of cores like 2, 0.5 or 500m, got %r" % (value,)
    cores = int(text[:-1]) / 1000.0 if text.endswith("m") else float(text)
    if cores <= 0:
        return "must be greater than zero, got %r" % (value,)
    if cores < 0.001:
        return "must be at least 1m (a thousandth of a core), got %r" % (value,)
    if cores > CPU_MAX_CORES:
        return "must be at most %d cores, got %r" % (CPU_MAX_CORES, value)
    return None


def memory_bytes(value):
    """The number of bytes a memory quantity denotes (``8Gi`` -> 8589934592); ValueError if malformed."""
    text = value if isinstance(value, str) else (str(value) if _is_number(value) else None)
    if text is None or not full_match(MEMORY_RE, text):
        raise ValueError("must be a quantity like 8Gi or 512Mi, got %r" % (value,))
    digits = re.match(r"\d+", text).group(0)
    return int(digits) * _MEMORY_UNITS[text[len(digits):]]


def memory_problem(value):
    """Why ``value`` is not a memory limit (bytes or ``8Gi``, ``512Mi``, ``4G``), or None.

    Whole numbers only (the CLI refuses ``1.5Gi``); zero and more than 64Ti are refused
    (``999999Ti`` is a typo no node can satisfy).
    """
    if isinstance(value, bool):
        return "must be a quantity like 8Gi or 512Mi, got %r" % (value,)
    try:
        size = memory_bytes(value)
    except ValueError as exc:
        return str(exc)
    if size <= 0:
        return "must be greater than zero, got %r" % (value,)
    if size > MEMORY_MAX_BYTES:
        return "must be at most 64Ti, got %r" % (value,)
    return None


def parse_gpu(value):
    """The normalised GPU request: False (none), True (driver default) or a count 1..GPU_MAX.

    Accepts booleans, counts and their string spellings (``"yes"``, ``"2"``); ``0`` means none.
    Raises ValueError for anything else (``"two"``, ``-1``, ``4096``).
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "on"):
            return True
        if low in ("false", "no", "off", ""):
            return False
        if not full_match(_DIGITS_RE, low):
            raise ValueError("must be a boolean or a GPU count 0-%d, got %r" % (GPU_MAX, value))
        value = int(low)
    if not isinstance(value, int):
        raise ValueError("must be a boolean or a GPU count 0-%d, got %r" % (GPU_MAX, value))
    if not 0 <= value <= GPU_MAX:
        raise ValueError("must be a boolean or a GPU count 0-%d, got %r" % (GPU_MAX, value))
    return value if value else False


def gpu_problem(value):
    """Why ``value`` is not a GPU request (see parse_gpu), or None."""
    try:
        parse_gpu(value)
    except ValueError as exc:
        return str(exc)
    return None


def timeout_problem(value, maximum=TIMEOUT_MAX):
    """Why ``value`` is not a timeout in whole seconds 0..``maximum`` (0 = the default), or None.

    The CLI takes a u64, but a route or a wait longer than a day (``10**12``) is a mistake.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a whole number of seconds, got %r" % (value,)
    if not 0 <= value <= maximum:
        return "must be between 0 and %d seconds, got %r" % (maximum, value)
    return None


def port_problem(value):
    """Why ``value`` is not a TCP port 1..65535, or None (the CLI's and the policy's range)."""
    if isinstance(value, str) and len(value) <= 5 and full_match(_DIGITS_RE, value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return "must be 1-65535, got %r" % (value,)
    return None


# HTTP methods a rest/websocket allow or deny rule can name (RFC 9110 plus PATCH), '*' for any.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
# Websocket endpoints also match message frames after the upgrade (presets use WEBSOCKET_TEXT).
WEBSOCKET_METHODS = ("WEBSOCKET_TEXT", "WEBSOCKET_BINARY")


def method_problem(method, protocol="rest"):
    """Why ``method`` cannot be the ``method`` of a policy rule for ``protocol``, or None.

    For ``rest`` (and an endpoint without protocol) it is an HTTP method or ``*``; ``websocket``
    adds the frame types. The CLI upper-cases methods (``--add-allow``), so case is ignored.
    For ``mcp`` and ``json-rpc`` the method is a protocol method name (``tools/call``): any
    single-line text.
    """
    if not isinstance(method, str):
        return _not_string(method)
    if not method.strip():
        return "must not be empty"
    if protocol in ("mcp", "json-rpc", "graphql", "sql"):
        return text_problem(method)
    allowed = HTTP_METHODS + (WEBSOCKET_METHODS if protocol == "websocket" else ()) + ("*",)
    if method.upper() not in allowed:
        return "unknown HTTP method %r (expected one of %s)%s" % (method, ", ".join(allowed), suggest(method.upper(), allowed))
    return None


# --------------------------------------------------------------------------
# Hosts: parsed the way the OS resolver would, then classified
# --------------------------------------------------------------------------

HOST_CLASSES = ("public-name", "public-ip", "local-name", "loopback", "private", "link-local", "metadata",
                "unspecified", "multicast", "reserved", "invalid")
PUBLIC_HOST_CLASSES = ("public-name", "public-ip")
# Names that never leave the host or the LAN (RFC 6761/6762/8375, ICANN's .internal, common .lan).
LOCAL_NAMES = ("localhost",)
LOCAL_NAME_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".localdomain")
# Cloud instance metadata services: they hand out credentials, so they are their own class.
METADATA_NAMES = ("metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal")
METADATA_ADDRESSES = tuple(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, ...
    "169.254.170.2",    # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",    # Azure WireServer
    "fd00:ec2::254",    # AWS IMDS over IPv6
))
_PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",  # RFC 1918, CGNAT (RFC 6598)
    "fc00::/7", "fec0::/10",                                           # ULA, deprecated site-local
))
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects 0.x.x.x to the local host
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPAT = ipaddress.ip_network("::/96")
# allowed_ips pins that no layer may use: loopback, link-local (metadata) and unspecified,
# in every IPv6 form that embeds them (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64).
FORBIDDEN_PIN_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "::1/128", "fe80::/10", "::/128",
    "::ffff:127.0.0.0/104", "::ffff:169.254.0.0/112", "::ffff:0.0.0.0/104",
    "::127.0.0.0/104", "::169.254.0.0/112",
    "64:ff9b::127.0.0.0/104", "64:ff9b::169.254.0.0/112", "64:ff9b::/104",
))
_IPV4_PART_RE = re.compile(r"(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")
_NUMERIC_LABEL_RE = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)\Z")
_ZONE_RE = re.compile(r"[A-Za-z0-9_.~-]+\Z")


def parse_ipv4(text):
    """The IPv4Address ``text`` denotes in any spelling ``inet_aton`` accepts, else None.

    1 to 4 dot-separated parts, each decimal, octal (leading 0) or hex (0x); the last part
    fills the remaining bytes: ``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and
    ``10.1`` are all addresses to the resolver (getaddrinfo tries inet_aton first). Unlike
    glibc's inet_aton, trailing garbage after a space is not accepted.
    """
    if not isinstance(text, str) or not text:
        return None
    parts = text.split(".")
    if len(parts) > 4:
        return None
    nums = []
    for part in parts:
        if not full_match(_IPV4_PART_RE, part):
            return None
        if part[:2] in ("0x", "0X"):
            nums.append(int(part[2:], 16))
        elif len(part) > 1 and part[0] == "0":
            nums.append(int(part, 8))
        else:
            nums.append(int(part))
    value = 0
    for num in nums[:-1]:
        if num > 255:
            return None
        value = value * 256 + num
    rest = 4 - len(nums[:-1])
    if nums[-1] >= 256 ** rest:
        return None
    value = value * 256 ** rest + nums[-1]
    return ipaddress.IPv4Address(value)


def parse_ip(host):
    """The address an IP-literal ``host`` denotes, or None when it is not an IP literal.

    IPv4 in every inet_aton spelling (one trailing dot tolerated); IPv6 in every form
    ``ipaddress`` reads, with or without brackets, with a zone id (``fe80::1%eth0``, also
    URL-escaped ``%25eth0``), IPv4-mapped and embedded IPv4 (``::ffff:127.0.0.1``).
    """
    if not isinstance(host, str) or not host:
        return None
    text = host
    bracketed = text.startswith("[") and text.endswith("]")
    if bracketed:
        text = text[1:-1]
    if ":" in text:
        addr, sep, zone = text.partition("%")
        if sep and not full_match(_ZONE_RE, zone):
            return None
        try:
            return ipaddress.IPv6Address(addr)
        except ValueError:
            return None
    if bracketed:
        return None
    if text.endswith("."):
        text = text[:-1]
    return parse_ipv4(text)


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _IPV4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def ip_class(ip):
    """The class of an address: metadata, unspecified, loopback, link-local, multicast, private, reserved or public-ip.

    ``ip`` is an ``ipaddress`` address or a string in any spelling parse_ip reads. IPv6
    addresses that carry an IPv4 address are classified by that address, so
    ``::ffff:127.0.0.1`` is loopback like ``127.0.0.1``.
    """
    if isinstance(ip, str):
        parsed = parse_ip(ip)
        if parsed is None:
            return "invalid"
        ip = parsed
    if ip.version == 6:
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return ip_class(inner)
    if ip in METADATA_ADDRESSES:
        return "metadata"
    if ip.is_unspecified or (ip.version == 4 and ip in _THIS_NETWORK):
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if any(ip in net for net in _PRIVATE_NETWORKS if net.version == ip.version):
        return "private"
    if ip.is_reserved or ip.is_private or not ip.is_global:
        return "reserved"
    return "public-ip"


def _idna_hint(host):
    try:
        return " (IDNA form: %s)" % host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return ""


def host_problem(host, wildcard=False):
    """Why ``host`` is not a syntactically valid host name or IP literal, or None.

    Names: ASCII only (a homoglyph such as Cyrillic 'о' in ``gооgle.com`` is refused; write
    internationalised names in their IDNA ``xn--`` form), labels of 1-63 letters, digits and
    '-' not starting or ending with '-', at most 253 characters, one trailing dot allowed.
    A name whose last label is numeric must be an IPv4 address (``1.2.3.999`` is neither).
    With ``wildcard``, the first label may be ``*`` or ``**`` or contain ``*`` (OpenShell's
    policy host globs: ``*.example.com``, ``*-aiplatform.googleapis.com``); never elsewhere.
    """
    if not isinstance(host, str):
        return _not_string(host)
    if not host:
        return "must not be empty"
    problem = text_problem(host)
    if problem:
        return problem
    if any(c.isspace() for c in host):
        return "must not contain whitespace"
    try:
        host.encode("ascii")
    except UnicodeError:
        return "%r contains non-ASCII characters; write an internationalised name in its IDNA form%s" % (host, _idna_hint(host))
    if host.startswith("[") or ":" in host:
        return None if parse_ip(host) is not None else "%r is not a valid IPv6 address" % host
    if parse_ip(host) is not None:
        return None
    name = host[:-1] if host.endswith(".") else host
    if len(name) > NAME_MAX:
        return "is %d characters long; a host name has at most %d" % (len(name), NAME_MAX)
    labels = name.split(".")
    for i, label in enumerate(labels):
        if wildcard and i == 0 and "*" in label and len(labels) > 1:
            if label != "**" and "**" in label:
                return "%r: a '**' wildcard must be the whole first label" % host
            if not full_match(_GLOB_LABEL_RE, label):
                return "%r: label %r may only contain letters, digits, '-' and '*'" % (host, label)
            continue
        if "*" in label and wildcard and len(labels) == 1:
            return "%r: a wildcard host needs a domain after the wildcard label" % host
        if "*" in label:
            return "%r: a wildcard is only allowed as the first label" % host if wildcard else "%r: wildcards are not allowed here" % host
        if not label:
            return "%r has an empty label" % host
        if len(label) > 63:
            return "%r: label %r is longer than 63 characters" % (host, label)
        if not full_match(HOST_LABEL_RE, label):
            return "%r: label %r may only contain letters, digits and '-'" % (host, label)
        if label.startswith("-") or label.endswith("-"):
            return "%r: label %r must not start or end with '-'" % (host, label)
        if label[:4].lower() == "xn--":
            try:
                label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError):
                return "%r: label %r is not valid IDNA" % (host, label)
    if full_match(_NUMERIC_LABEL_RE, labels[-1]):
        return "%r looks like an IPv4 address but is not one" % host
    return None


MODEL_MAX = 256


def model_problem(model):
    """Why ``model`` cannot be an inference model id (``inference set --model``), or None.

    Model ids take many forms (``nvidia/nemotron-3-super-120b-a12b``, ``qwen2.5:7b``,
    ``us.anthropic.claude-3-5-sonnet-20241022-v2:0``); refused are only what can never be one and could be
    read as something else: a leading '-' (an option to the CLI), whitespace and control characters, more than
    MODEL_MAX characters.
    """
    if not isinstance(model, str):
        return _not_string(model)
    if not model:
        return "must not be empty"
    if len(model) > MODEL_MAX:
        return "is %d characters long; at most %d are allowed" % (len(model), MODEL_MAX)
    if model.startswith("-"):
        return "%r starts with '-' (the CLI would read it as an option)" % model
    if any(c.isspace() or not c.isprintable() for c in model):
        return "must not contain whitespace or control characters"
    return None


URL_MAX = 2048


def endpoint_url_problem(url):
    """Why ``url`` cannot be an inference endpoint (a provider's base URL), or None.

    ``http://`` or ``https://``, a valid host (a local or private one too: a local NIM, vLLM or Ollama is reached
    by the gateway), an optional port, a path. Refused: user information, a query and a fragment (credentials there
    would reach the CLI's argv and the host's records: the key goes in ``nemoclaw_secrets``), whitespace, and the
    cloud metadata addresses.
    """
    if not isinstance(url, str):
        return _not_string(url)
    if len(url) > URL_MAX:
        return "is %d characters long; at most %d are allowed" % (len(url), URL_MAX)
    if any(c.isspace() or not c.isprintable() for c in url):
        return "must not contain whitespace or control characters"
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return "expected an http:// or https:// URL, got %r" % url
    authority, _slash, _path = rest.partition("/")
    if "?" in url or "#" in url:
        return "must not have a query or a fragment (a credential belongs in nemoclaw_secrets, not in the URL)"
    if "@" in authority:
        return "must not carry user information (a credential belongs in nemoclaw_secrets, not in the URL)"
    host, port = authority, None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return "has an unterminated IPv6 address"
        host, tail = authority[:end + 1], authority[end + 1:]
        if tail:
            if not tail.startswith(":"):
                return "has %r after the host" % tail
            port = tail[1:]
    elif ":" in authority:
        host, port = authority.rsplit(":", 1)
    problem = host_problem(host)
    if problem:
        return "host %s" % problem
    if port is not None and (not port.isdigit() or port_problem(int(port))):
        return "port must be 1 to 65535, got %r" % port
    if host_class(host) == "metadata":
        return "host %s is a cloud metadata address" % host
    return None


# What OpenShell's server accepts in one sandbox (crates/openshell-server/src/grpc/mod.rs, validation.rs): past
# these it refuses the create, which for a replacement comes after the old sandbox's delete.
SERVER_ENV_VALUE_MAX = 8192  # bytes of one value
SERVER_MAP_ENTRIES_MAX = 128  # env entries, labels
SERVER_PROVIDERS_MAX = 32  # providers attached to one sandbox
SERVER_ENV_TOTAL_MAX = 256 * 1024  # bytes of all keys and values
SERVER_PROVIDER_CREDENTIALS_MAX = 32  # credentials of one provider
SERVER_PROVIDER_CONFIG_MAX = 64  # config entries of one provider


def provider_size_problems(credentials, config):
    """``[(field, reason)]``: where a provider's credentials (keys) and config exceed what OpenShell's server accepts."""
    out = []
    if len(credentials or ()) > SERVER_PROVIDER_CREDENTIALS_MAX:
        out.append(("credentials", "has %d credentials; OpenShell accepts at most %d"
                    % (len(credentials), SERVER_PROVIDER_CREDENTIALS_MAX)))
    if len(config or ()) > SERVER_PROVIDER_CONFIG_MAX:
        out.append(("config", "has %d entries; OpenShell accepts at most %d" % (len(config), SERVER_PROVIDER_CONFIG_MAX)))
    return out


def sandbox_size_problems(env, labels, providers, managed_labels=0):
    """``[(field, reason)]``: where a sandbox's ``env`` ({key: text}), ``labels`` ({key: text}, plus
    ``managed_labels`` the collection adds) and ``providers`` (names) exceed what OpenShell's server accepts."""
    out = []
    env = env or {}
    if len(env) > SERVER_MAP_ENTRIES_MAX:
        out.append(("env", "has %d entries; OpenShell accepts at most %d" % (len(env), SERVER_MAP_ENTRIES_MAX)))
    total = 0
    for key in sorted(env):
        size = len(str(env[key]).encode("utf-8"))
        total += len(str(key).encode("utf-8")) + size
        if size > SERVER_ENV_VALUE_MAX:
            out.append(("env.%s" % key, "value is %d bytes; OpenShell accepts at most %d" % (size, SERVER_ENV_VALUE_MAX)))
    if total > SERVER_ENV_TOTAL_MAX:
        out.append(("env", "keys and values are %d bytes together; OpenShell accepts at most %d" % (total, SERVER_ENV_TOTAL_MAX)))
    count = len(labels or {}) + managed_labels
    if count > SERVER_MAP_ENTRIES_MAX:
        out.append(("labels", "has %d entries (%d of them the collection's); OpenShell accepts at most %d"
                    % (count, managed_labels, SERVER_MAP_ENTRIES_MAX)))
    if len(providers or ()) > SERVER_PROVIDERS_MAX:
        out.append(("providers", "attaches %d providers to the sandbox; OpenShell accepts at most %d"
                    % (len(providers), SERVER_PROVIDERS_MAX)))
    return out


# --------------------------------------------------------------------------
# Credential-looking names and values (the one rule; compare, agentconfig, nemoclawconfig and desired use it)
# --------------------------------------------------------------------------

# Words of a name that say it holds a credential, matched as whole words of the name (split at '_', '-', '.' and
# camelCase): OpenShell's own list (crates/openshell-cli/src/commands/common.rs, credential_env_matches) and a few
# more. MAX_TOKENS, TOKENIZERS_PARALLELISM, GIT_AUTHOR_NAME or SSH_AUTH_SOCK are no credentials.
SECRET_NAME_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "CREDENTIALS", "ACCESS_KEY",
                     "SECRET_KEY", "API_KEY", "APIKEY", "PRIVATE_KEY", "AUTHORIZATION")
# Values shaped like a known credential: provider key prefixes (OpenAI, NVIDIA, GitHub, GitLab, Slack, Hugging Face,
# AWS, Google), a JWT, an HTTP Authorization value, a Telegram bot token, a PEM private key.
_SECRET_VALUE_RE = re.compile(
    r"(?:(?:sk-|nvapi-|gh[pousr]_|github_pat_|glpat-|xox[abeprs]-|xapp-|hf_|AKIA|ASIA|AIza|eyJ)[A-Za-z0-9_\-.]{8,}"
    r"|(?:Bearer|Basic|Token)\s+[A-Za-z0-9_\-.+/=~]{12,}"
    r"|[0-9]{6,12}:[A-Za-z0-9_-]{30,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----)", re.I)
_NAME_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def secret_name(name):
    """Whether ``name`` (an environment variable, a configuration key) says it holds a credential."""
    words = [w.upper() for w in _NAME_WORD_RE.findall(str(name or ""))]
    for keyword in SECRET_NAME_WORDS:
        parts = keyword.split("_")
        if any(words[i:i + len(parts)] == parts for i in range(len(words) - len(parts) + 1)):
            return True
    return False


def secret_value(value):
    """Whether ``value`` is shaped like a known credential."""
    return isinstance(value, str) and bool(_SECRET_VALUE_RE.match(value.strip()))


def looks_secret(name, value):
    """Whether a ``name: value`` pair looks like a credential: by its name or by its value."""
    return secret_name(name) or secret_value(value if isinstance(value, str) else str(value or ""))


# Jinja's delimiters. Text a sandboxed agent wrote (a proposed rule's name, binary or endpoint) must never hold them
# where Ansible reads it back as a template: a vars file in the inventory is templated when its variables are used.
TEMPLATE_MARKERS = ("{{", "{%", "{#")


def template_markers(value):
    """Whether ``value`` (any nesting of mappings, lists and strings; keys too) holds a Jinja delimiter."""
    if isinstance(value, str):
        return any(marker in value for marker in TEMPLATE_MARKERS)
    if isinstance(value, dict):
        return any(template_markers(k) or template_markers(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(template_markers(v) for v in value)
    return False


# Characters a path that systemd units, the gateway's env file or a shell line hold must not have: whitespace
# splits a unit's ExecStart=, '%' and '$' are expanded by systemd, quotes and '\\' end or escape its quoting, ';' and
# '`' are a shell's, a line break starts a unit line of its own.
_UNSAFE_PATH_CHARS = frozenset("\"'\\$%;`")


def plain_path_problem(path):
    """Why ``path`` cannot be written into a systemd unit or a shell line as it is, or None."""
    if not isinstance(path, str):
        return _not_string(path)
    if not path:
        return "must not be empty"
    if any(c.isspace() or not c.isprintable() for c in path):
        return "%s holds whitespace or a control character" % json.dumps(path)
    bad = sorted(set(path) & _UNSAFE_PATH_CHARS)
    if bad:
        return "%s holds %s (a path here is written into systemd units and command lines as it is)" \
            % (json.dumps(path), " ".join(bad))
    return None


def display_url(url):
    """``url`` as output and records show it: without its user information, query and fragment (where credentials
    and signatures of a private download live); anything that is no URL as it is."""
    if not isinstance(url, str) or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url.split("://", 1)[0] + "://(unparsable URL)"
    if ":" in host:
        host = "[%s]" % host
    return urlunsplit((parts.scheme, host + (":%d" % port if port else ""), parts.path, "", ""))


def normalize_host(host):
    """The spelling used to compare hosts: IP literals in canonical form, names lower-cased without trailing dot.

    ``127.1`` -> ``127.0.0.1``; ``[::FFFF:7f00:1]`` -> ``127.0.0.1`` (IPv4-mapped addresses
    compare as the IPv4 address); ``[fe80::1%eth0]`` -> ``fe80::1``; ``LOCALHOST.`` -> ``localhost``.
    Surrounding whitespace is dropped. Not a validity check (see host_problem).
    """
    if not isinstance(host, str):
        return host
    text = host.strip()
    ip = parse_ip(text)
    if ip is not None:
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return str(ip)
    text = text.lower()
    return text[:-1] if text.endswith(".") else text


def host_class(host):
    """The class of a host as the resolver would reach it (one of HOST_CLASSES).

    IP literals in any spelling are classified by address (see ip_class). Names: the cloud
    metadata names are ``metadata``; ``localhost``, names under LOCAL_NAME_SUFFIXES and
    single-label names (completed from the resolver's search list, i.e. the LAN) are
    ``local-name``; other names are ``public-name``. A wildcard host is classified by the
    part after its first label (``*.local`` is local). Case and one trailing dot do not
    matter. Anything host_problem refuses is ``invalid``.
    """
    if host_problem(host, wildcard=True):
        return "invalid"
    ip = parse_ip(host)
    if ip is not None:
        return ip_class(ip)
    name = normalize_host(host)
    if "*" in name.split(".", 1)[0]:
        name = name.split(".", 1)[1]
    if name in METADATA_NAMES:
        return "metadata"
    if name in LOCAL_NAMES or name.endswith(LOCAL_NAME_SUFFIXES) or "." not in name:
        return "local-name"
    return "public-name"


def is_public_class(cls):
    """Whether a host of class ``cls`` may be reached without being listed as trusted."""
    return cls in PUBLIC_HOST_CLASSES


def network_problem(value):
    """Why ``value`` cannot be an ``allowed_ips`` pin (IP or CIDR), or None.

    Pins may name private networks (that is what trusted hosts are pinned to), never
    loopback, link-local (cloud metadata) or unspecified addresses, in any IPv6 form.
    """
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "not an IP address or CIDR: %r" % value
    for bad in FORBIDDEN_PIN_NETWORKS:
        if net.version == bad.version and net.overlaps(bad):
            return "%s overlaps loopback, link-local or unspecified range %s" % (value, bad)
    return None


# --------------------------------------------------------------------------
# Binary paths (policy network_policies.*.binaries[].path)
# --------------------------------------------------------------------------

def binary_path_problem(path):
    """Why ``path`` cannot identify a binary in a policy, or None.

    Absolute and already normalised: no ``.`` or ``..`` segment (``/usr/bin/../../bin/sh``
    names ``/bin/sh`` while reading like a /usr/bin binary), no ``//``, no trailing ``/``,
    no newline, CR or NUL. Glob characters (``*``, ``**``, ``?``, ``[...]``) stay allowed
    anywhere, as the policy schema allows (``/usr/bin/python3*``, ``/sandbox/.uv/python/**/python*``).
    """
    if not isinstance(path, str) or not path.strip():
        return "binary path must be a non-empty string"
    problem = text_problem(path)
    if problem:
        return "binary path " + problem
    if not path.startswith("/"):
        return "binary path must be absolute: %s" % path
    if "//" in path:
        return "binary path must not contain '//': %s" % path
    segments = path.split("/")[1:]
    if ".." in segments:
        return "binary path must not contain '..' segments: %s" % path
    if "." in segments:
        return "binary path must not contain '.' segments: %s" % path
    if posixpath.normpath(path) != path:
        return "binary path is not normalised (%s): %s" % (posixpath.normpath(path), path)
    return None


# --------------------------------------------------------------------------
# Environment (openshell_gateway_env, sandbox env)
# --------------------------------------------------------------------------

def env_value_problem(value):
    """Why ``value`` cannot be an environment value (one ``KEY="VALUE"`` line, one argv word), or None.

    Strings, numbers and booleans pass (written as their text); mappings, lists and None do
    not. A newline would add a line (``a\nINJECTED=1``), a NUL truncates. Never echoes the value.
    """
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return "must be a string, number or boolean, got %s" % type(value).__name__
    return text_problem(value)


def env_problems(env, field):
    """Every problem of the environment mapping ``env`` (sentences naming ``field.KEY``); [] when fine.

    Keys must match ``[A-Za-z_][A-Za-z0-9_]*`` (``X=1 touch /tmp/PWNED; Y`` is refused: no
    key ever reaches a shell); values per env_value_problem. Values are never quoted back.
    """
    if env is None:
        return []
    if not isinstance(env, dict):
        return ["%s: must be a mapping of variable names to values, got %s" % (field, type(env).__name__)]
    out = []
    for key in sorted(env, key=str):
        problem = env_key_problem(key)
        if problem:
            out.append("%s: %s" % (field, problem))
            continue
        problem = env_value_problem(env[key])
        if problem:
            out.append("%s.%s: value %s" % (field, key, problem))
    return out


# --------------------------------------------------------------------------
# Approvals: the matcher of openshell_approval and playbooks/approvals.yml
# --------------------------------------------------------------------------

MATCHER_KEYS = ("id", "host", "port", "binary", "rule")
_CHUNK_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,252}\Z")
_RULE_GLOB_RE = re.compile(r"[A-Za-z0-9_.*?-]{1,253}\Z")


def glob_matches(pattern, value):
    """Shell-style glob over the whole of ``value``: ``*`` any run, ``?`` one character (case-sensitive)."""
    if not isinstance(pattern, str) or not isinstance(value, str) or not pattern:
        return False
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.DOTALL) is not None


def host_pattern_matches(pattern, host):
    """Whether the host ``pattern`` selects ``host``, compared in normalised form (normalize_host).

    Without ``*`` the match is exact: ``registry.npmjs.org`` never selects ``registry-npmjs.org``
    or ``registry.npmjs.org.evil``. A wildcard is only allowed in the first label, as OpenShell's
    policy hosts: ``*.example.com`` selects one more label (``a.example.com``, never
    ``example.com`` itself or ``example.com.evil``), ``**.example.com`` one or more, and a
    label glob such as ``api-*.example.com`` stays within its label.
    """
    if not isinstance(pattern, str) or not isinstance(host, str) or not pattern.strip() or not host.strip():
        return False
    pat, name = normalize_host(pattern), normalize_host(host)
    if "*" not in pat:
        return pat == name
    first, _sep, rest = pat.partition(".")
    if not rest or "*" in rest:
        return False
    if first == "**":
        return name.endswith("." + rest) and len(name) > len(rest) + 1
    head, _sep, tail = name.partition(".")
    return tail == rest and bool(head) and re.fullmatch(re.escape(first).replace(r"\*", "[^.]*"), head) is not None


def approval_matcher_problems(matcher, field, approve=True):
    """Every problem of one approve (``approve=True``) or reject matcher, as ``(field, reason)`` pairs.

    A matcher is a mapping of one or more of MATCHER_KEYS; empty or whitespace-only values are
    refused (an empty matcher would select every chunk, 169.254.169.254:80 included); callers
    strip surrounding whitespace (normalise_matcher). ``host``
    passes host_problem with wildcards, ``port`` port_problem, ``binary`` binary_path_problem.
    An approve matcher that names a ``rule`` must also name a ``host`` or an ``id``: generated
    rule names fold '.' and '-' into '_' (``allow_registry_npmjs_org_443`` is also the name for
    ``registry-npmjs.org``), so a rule name cannot tell hosts apart.
    """
    if not isinstance(matcher, dict) or not matcher:
        return [(field, "must be a mapping with at least one of %s" % ", ".join(MATCHER_KEYS))]
    out = []
    for key in sorted(matcher, key=str):
        sub = "%s.%s" % (field, key)
        value = matcher[key]
        if key not in MATCHER_KEYS:
            out.append((field, "unknown key %r (allowed: %s)%s" % (key, ", ".join(MATCHER_KEYS), suggest(key, MATCHER_KEYS))))
        elif key == "port":
            port = int(value.strip()) if isinstance(value, str) and full_match(_DIGITS_RE, value.strip()) else value
            if port_problem(port):
                out.append((sub, "must be a port number 1-65535, got %r" % (value,)))
        elif not isinstance(value, str) or not value.strip():
            out.append((sub, "must be a non-empty string, got %r" % (value,)))
        elif text_problem(value):
            out.append((sub, text_problem(value)))
        elif key == "host":
            problem = host_problem(value.strip(), wildcard=True)
            if problem:
                out.append((sub, problem))
        elif key == "binary":
            problem = binary_path_problem(value.strip())
            if problem:
                out.append((sub, problem))
        elif key == "id":
            if not full_match(_CHUNK_ID_RE, value.strip()):
                out.append((sub, "must be a chunk id (letters, digits, '-', '_', '.', ':'), got %r" % (value,)))
        elif key == "rule":
            if not full_match(_RULE_GLOB_RE, value.strip()):
                out.append((sub, "must be a rule name or glob (letters, digits, '_', '-', '.', '*', '?'), got %r" % (value,)))
    if approve and "rule" in matcher and not (matcher.get("host") or matcher.get("id")):
        out.append(("%s.rule" % field, "an approve matcher with a rule name must also name a host (or an id): rule names "
                                       "fold '.' and '-' into '_', so they cannot tell registry.npmjs.org from "
                                       "registry-npmjs.org"))
    return out


def normalise_matcher(matcher):
    """A valid matcher with its strings stripped and its port an int."""
    out = {}
    for key, value in matcher.items():
        if key == "port":
            value = int(str(value).strip())
        elif isinstance(value, str):
            value = value.strip()
        out[key] = value
    return out


def matcher_matches(matcher, chunk):
    """True when one (validated) matcher selects ``chunk``: every given field must match.

    ``id`` exactly; ``rule`` and ``binary`` as globs (glob_matches); ``host`` with
    host_pattern_matches and ``port`` exactly, both on the same endpoint (a chunk with several
    endpoints matches when one endpoint does).
    """
    if matcher.get("id") is not None and matcher["id"] != chunk.get("id"):
        return False
    if matcher.get("rule") is not None and not glob_matches(matcher["rule"], chunk.get("rule") or ""):
        return False
    if matcher.get("binary") is not None:
        binaries = [chunk.get("binary")] + list(chunk.get("binaries") or [])
        if not any(glob_matches(matcher["binary"], b) for b in binaries if isinstance(b, str)):
            return False
    if matcher.get("host") is not None or matcher.get("port") is not None:
        want_port = int(matcher["port"]) if matcher.get("port") is not None else None
        for ep in chunk.get("endpoints") or []:
            if matcher.get("host") is not None and not host_pattern_matches(matcher["host"], ep.get("host") or ""):
                continue
            if want_port is not None and want_port != ep.get("port"):
                continue
            return True
        return False
    return True


# --------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------

def suggest(word, candidates, cutoff=0.6):
    """`` (did you mean X?)`` for the candidate closest to ``word``, or ``""`` if none is close.

    For unknown keys, presets, tiers and profiles: difflib's ratio with ``cutoff`` 0.6.
    """
    names = [str(c) for c in candidates]
    matches = difflib.get_close_matches(str(word), names, n=1, cutoff=cutoff)
    return " (did you mean %s?)" % matches[0] if matches else ""


# --------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------

# The nemoclaw_* variables the collection reads (a role's own variables carry the role's name):
# the desired state and its secrets (docs/desired-state.md), the hosts' environment, the approvals
# overlay (docs/approvals.md) and the host lock (docs/reliability.md).
NEMOCLAW_VARIABLES = (
    "nemoclaw_agents", "nemoclaw_secrets", "nemoclaw_environment", "nemoclaw_approved_endpoints",
    "nemoclaw_lock", "nemoclaw_lock_timeout", "nemoclaw_lock_ttl", "nemoclaw_lock_path", "nemoclaw_lock_break",
    "nemoclaw_lock_playbook", "nemoclaw_quick_path",
)


def unknown_variables(names, extra=()):
    """One warning per ``nemoclaw_*`` name in ``names`` that the collection does not read, sorted.

    ``extra``: more names that are read (the approvals overlay variable a user renamed). A typo such
    as ``nemoclaw_agent`` would otherwise be ignored silently and the host would have no agent.
    """
    prefix = "nemoclaw_"
    known = set(NEMOCLAW_VARIABLES) | set(n for n in extra if isinstance(n, str))
    unknown = sorted(set(n for n in names if isinstance(n, str) and n.startswith(prefix) and n not in known))
    # Compared without the common prefix, which would make every name look close to every other.
    rest = sorted(k[len(prefix):] for k in known if k.startswith(prefix))
    return ["%s: agentfleet.nemoclaw reads no variable of that name, it is ignored%s"
            % (name, suggest(name[len(prefix):], rest).replace("did you mean ", "did you mean " + prefix)) for name in unknown]
