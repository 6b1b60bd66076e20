# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""What runs inside the sandbox: the agent's own configuration file, messaging channels, MCP servers.

Pure functions, used on the controller (checks, rendering: ``desired.py``, ``plan.py``) and on the
host (reconciling the file: ``apply.py``):

* channel manifests (``policies/channels/<type>.yaml``): credential keys and their providers, the
  policy preset, the configuration section per agent kind, the health check;
* the checks of ``config`` overlays and ``mcp_servers`` entries (one place, unit-tested);
* :func:`render_managed`: the tree the collection writes (model through ``inference.local``,
  channels, MCP servers) with the user's overlay merged on top;
* :func:`reconcile`: the file's new content from its current content, the managed tree and the
  managed tree written last time: keys the collection no longer manages are removed, keys it never
  managed (written by the user or by the agent) are kept;
* :func:`config_differences`: one ``config.a.b`` field per differing leaf, credential-looking
  values hidden.

The file never holds a credential value. OpenShell gives a sandbox the credentials of its attached
providers as placeholders (``openshell:resolve:env:KEY``) and its proxy replaces a placeholder by the
value at egress (OpenShell ``crates/openshell-core/src/provider_credentials.rs``,
``docs/reference/policy-schema.mdx``, "Credential rewrite"); NemoClaw writes the same placeholders
into ``openclaw.json`` (and the SDK-shaped ``xoxb-OPENSHELL-RESOLVE-ENV-KEY`` alias for Slack).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import validate


def _yaml():
    """PyYAML, or None. Imported on first use: the controller always has it (Ansible needs it), a host may
    not, and a run that reads no YAML does not pay for the import."""
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover
        return None
    return yaml


INFERENCE_BASE_URL = "https://inference.local/v1"
# The provider label the agent's model reference goes through (OpenClaw: models.providers.<label>).
PROVIDER_LABEL = "inference"
PLACEHOLDER = "openshell:resolve:env:%s"
ALIAS_PLACEHOLDER = "%sOPENSHELL-RESOLVE-ENV-%s"
_PLACEHOLDER_RE = re.compile(r"^(openshell:resolve:env:|[a-z]+-OPENSHELL-RESOLVE-ENV-)[A-Za-z_][A-Za-z0-9_]*$")

# The agent's home inside the sandbox (the sandbox user's HOME in OpenClaw and Hermes images).
AGENT_HOME = "/sandbox"
# Seconds each backup and restore step inside the sandbox may take unless the agent's backup.timeout says otherwise
# (here, not in desired.py, because the apply on the host needs it and does not import the document's schema).
DEFAULT_BACKUP_TIMEOUT = 600

# The agent's configuration file, relative to its home (AGENT_HOME). Hermes' config.yaml is
# written as JSON, which YAML parsers read as YAML (so the host needs no YAML library).
CONFIG_FILES = {
    "openclaw": {"path": ".openclaw/openclaw.json", "format": "json"},
    "hermes": {"path": ".hermes/config.yaml", "format": "yaml"},
}
# The binaries of each agent kind that a generated network policy (an MCP server) is bound to;
# the same paths the collection's channel presets name.
AGENT_BINARIES = {
    "openclaw": ["/usr/local/bin/openclaw", "/usr/bin/node", "/usr/local/bin/node"],
    "hermes": ["/usr/local/bin/hermes", "/opt/hermes/.venv/bin/python"],
}

MAX_OVERLAY_BYTES = 64 * 1024
MAX_OVERLAY_DEPTH = 12
MAX_KEY_LENGTH = 128
MAX_MCP_SERVERS = 32
MAX_DENY_TOOLS = 256
MCP_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
TOOL_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

HERE = os.path.dirname(os.path.abspath(__file__))
CHANNELS_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "policies", "channels"))
_MANIFESTS = {}


class ConfigError(ValueError):
    """A problem of an overlay, a channel or an MCP server: ``path`` is relative to the entry's key."""

    def __init__(self, path, reason):
        super(ConfigError, self).__init__("%s: %s" % (path, reason))
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------
# Channel manifests
# --------------------------------------------------------------------------

def channel_types(directory=None):
    directory = directory or CHANNELS_DIR
    if not os.path.isdir(directory):
        return []
    return sorted(n[:-len(".yaml")] for n in os.listdir(directory) if n.endswith(".yaml"))


def channel_manifest(ctype, directory=None):
    """The manifest of channel ``ctype`` (checked; cached). Raises ConfigError when there is none."""
    directory = directory or CHANNELS_DIR
    key = (directory, ctype)
    if key in _MANIFESTS:
        return _MANIFESTS[key]
    if ctype not in channel_types(directory):
        raise ConfigError("type", "unknown channel type %r (known: %s)" % (ctype, ", ".join(channel_types(directory))))
    yaml = _yaml()
    if yaml is None:  # pragma: no cover
        raise ConfigError("type", "reading channel manifests needs PyYAML")
    with open(os.path.join(directory, ctype + ".yaml")) as fh:
        doc = yaml.safe_load(fh)
    problem = manifest_problem(doc, ctype)
    if problem:
        raise ConfigError("type", "channel manifest %s.yaml: %s" % (ctype, problem))
    _MANIFESTS[key] = doc
    return doc


def manifest_problem(doc, ctype):
    """Why ``doc`` is not a usable channel manifest of ``ctype``, or None."""
    if not isinstance(doc, dict):
        return "expected a mapping"
    if (doc.get("channel") or {}).get("name") != ctype:
        return "channel.name must be %r" % ctype
    creds = doc.get("credentials")
    if not isinstance(creds, dict) or not creds:
        return "credentials must map at least one credential key to its provider"
    for key, spec in creds.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(key)) or validate.credential_key_problem(key):
            return "credential key %r must be an environment variable name the CLI does not read itself" % key
        if not isinstance(spec, dict) or not spec.get("provider_suffix") or not spec.get("provider_type"):
            return "credentials.%s needs provider_suffix and provider_type" % key
    if not isinstance(doc.get("preset"), str):
        return "preset must name a policy preset"
    for field in ("config", "health"):
        value = doc.get(field)
        if not isinstance(value, dict) or sorted(value) != sorted(CONFIG_FILES):
            return "%s must have one entry per agent kind (%s)" % (field, ", ".join(sorted(CONFIG_FILES)))
    for kind, command in doc["health"].items():
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            return "health.%s must be a command (a list of words)" % kind
    return None


def placeholder(key, spec=None):
    """The text the sandbox sees instead of the value of credential ``key``."""
    prefix = (spec or {}).get("placeholder_prefix")
    return ALIAS_PLACEHOLDER % (prefix, key) if prefix else PLACEHOLDER % key


def is_placeholder(value):
    return isinstance(value, str) and bool(_PLACEHOLDER_RE.match(value))


def _fill_placeholders(tree, manifest):
    if isinstance(tree, dict):
        return dict((k, _fill_placeholders(v, manifest)) for k, v in tree.items())
    if isinstance(tree, list):
        return [_fill_placeholders(v, manifest) for v in tree]
    if isinstance(tree, str) and tree.startswith("{placeholder:") and tree.endswith("}"):
        key = tree[len("{placeholder:"):-1]
        return placeholder(key, manifest["credentials"][key])
    return tree


def channel_section(manifest, agent_kind):
    """The configuration section of a channel for ``agent_kind``, placeholders filled in."""
    return _fill_placeholders(manifest["config"][agent_kind], manifest)


def channel_providers(agent_name, manifest):
    """``[{"name", "type", "key"}]``: one gateway provider per credential key of the channel."""
    return [{"name": "%s-%s" % (agent_name, spec["provider_suffix"]), "type": spec["provider_type"], "key": key}
            for key, spec in sorted(manifest["credentials"].items())]


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def _secretish_string(key, value):
    """A credential-shaped value anywhere, or any text under a credential-named key (``password``, ``botToken``,
    ``Authorization``) but a placeholder or an absolute path (a file the agent reads it from)."""
    if is_placeholder(value):
        return False
    if validate.secret_value(value):
        return True
    text = value.strip()
    return validate.secret_name(key) and bool(text) and not text.startswith("/")


def check_overlay(overlay):
    """Check a ``config`` overlay; returns it as plain JSON data or raises ConfigError (path below ``config``).

    Keys are strings (no NUL, at most 128 characters), values JSON data (no NaN), at most 12
    levels deep and 64 KiB as JSON. No value may look like a credential: the file is readable by
    the agent and kept in backups; credentials go to providers (channels, providers).
    """
    if not isinstance(overlay, dict):
        raise ConfigError("", "expected a mapping")

    def walk(node, path, depth):
        if depth > MAX_OVERLAY_DEPTH:
            raise ConfigError(path, "nested deeper than %d levels" % MAX_OVERLAY_DEPTH)
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if not isinstance(key, str):
                    raise ConfigError(path, "key %r must be a string" % (key,))
                sub = "%s.%s" % (path, key) if path else key
                if not key or len(key) > MAX_KEY_LENGTH or "\x00" in key or "\n" in key:
                    raise ConfigError(sub, "keys are 1 to %d characters without NUL or line breaks" % MAX_KEY_LENGTH)
                out[key] = walk(value, sub, depth + 1)
            return out
        if isinstance(node, (list, tuple)):
            return [walk(v, "%s[%d]" % (path, i), depth + 1) for i, v in enumerate(node)]
        if node is None or isinstance(node, bool) or isinstance(node, int):
            return node
        if isinstance(node, float):
            if not math.isfinite(node):
                raise ConfigError(path, "must be a finite number")
            return node
        if isinstance(node, str):
            if "\x00" in node:
                raise ConfigError(path, "must not contain NUL")
            last = path.rsplit(".", 1)[-1]
            if _secretish_string(last, node):
                raise ConfigError(path, "looks like a credential; the agent's configuration file holds no credential "
                                        "value: give it as a channel or provider credential (nemoclaw_secrets)")
            return node
        raise ConfigError(path, "expected JSON data (mapping, list, string, number, boolean, null), got %s"
                          % type(node).__name__)

    out = walk(overlay, "", 0)
    size = len(json.dumps(out, ensure_ascii=False).encode("utf-8"))
    if size > MAX_OVERLAY_BYTES:
        raise ConfigError("", "is %d bytes as JSON; at most %d are allowed" % (size, MAX_OVERLAY_BYTES))
    return out


def mcp_endpoint(url):
    """``(host, port, path)`` of an MCP server's https URL, or raises ConfigError (path ``url``)."""
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ConfigError("url", "expected an https:// URL (OpenShell's proxy inspects TLS traffic), got %r" % (url,))
    rest = url[len("https://"):]
    authority, _sep, tail = rest.partition("/")
    if not authority or "@" in authority or any(c.isspace() for c in url) or "#" in url:
        raise ConfigError("url", "expected https://host[:port]/path without user info, spaces or fragment, got %r" % url)
    host, port = authority, 443
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ConfigError("url", "unterminated IPv6 literal in %r" % url)
        host, rest_port = authority[:end + 1], authority[end + 1:]
        if rest_port:
            if not rest_port.startswith(":"):
                raise ConfigError("url", "unexpected %r after the host in %r" % (rest_port, url))
            port = rest_port[1:]
    elif ":" in authority:
        host, port = authority.rsplit(":", 1)
    if isinstance(port, str):
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError("url", "port must be 1 to 65535 in %r" % url)
        port = int(port)
    query = tail.partition("?")[2]
    for field in query.split("&") if query else ():
        name, _eq, value = field.partition("=")
        if validate.looks_secret(name, value):
            raise ConfigError("url", "carries a credential in its query (%s); the URL is written to the agent's "
                                     "configuration and shown in diffs: give the credential to a provider" % name)
    return host, port, "/" + tail.split("?", 1)[0]


# --------------------------------------------------------------------------
# Rendering and merging
# --------------------------------------------------------------------------

def deep_merge(base, over):
    """``base`` with ``over`` merged in: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def mcp_section(agent_kind, server):
    """The agent's entry of one MCP server (Streamable HTTP)."""
    deny = list(server.get("deny_tools") or [])
    if agent_kind == "hermes":
        # Hermes: mcp_servers.<name> {url, tools: {exclude}} (MCP config reference).
        entry = {"url": server["url"], "enabled": True}
        if deny:
            entry["tools"] = {"exclude": deny}
        return {"mcp_servers": {server["name"]: entry}}
    entry = {"url": server["url"], "transport": "streamable-http"}
    if deny:
        entry["tools"] = {"deny": deny}
    return {"mcp": {"servers": {server["name"]: entry}}}


def render_owned(agent_kind, model, channels=(), mcp_servers=()):
    """The keys the collection owns in the agent's configuration file.

    ``channels``: ``[(manifest, entry)]``; ``mcp_servers``: checked entries ``{name, url, deny_tools}``.
    """
    if agent_kind == "hermes":
        tree = {"model": {"provider": "custom", "base_url": INFERENCE_BASE_URL, "api_key": "unused"}}
        if model:
            tree["model"]["default"] = model
    else:
        provider = {"baseUrl": INFERENCE_BASE_URL, "apiKey": "unused", "api": "openai-completions"}
        if model:
            provider["models"] = [{"id": model, "name": model}]
        tree = {"models": {"mode": "merge", "providers": {PROVIDER_LABEL: provider}}}
        if model:
            tree["agents"] = {"defaults": {"model": {"primary": "%s/%s" % (PROVIDER_LABEL, model)}}}
    for manifest, _entry in channels:
        tree = deep_merge(tree, channel_section(manifest, agent_kind))
    for server in mcp_servers:
        tree = deep_merge(tree, mcp_section(agent_kind, server))
    return tree


def render_managed(agent_kind, model, channels=(), mcp_servers=(), overlay=None):
    """What the collection writes: the owned keys with the user's overlay merged on top."""
    return deep_merge(render_owned(agent_kind, model, channels, mcp_servers), overlay or {})


def leaves(tree, prefix=()):
    """``{path tuple: value}`` of the non-mapping values of ``tree`` (an empty mapping is a leaf)."""
    out = {}
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            out.update(leaves(value, prefix + (key,)))
    elif prefix:
        out[prefix] = tree
    return out


def _delete(doc, path):
    node = doc
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _prune(doc, previous, keep, prefix=()):
    """Remove mappings emptied by removals that the collection wrote before and no longer manages."""
    if not isinstance(doc, dict):
        return
    for key in list(doc):
        path = prefix + (key,)
        sub_prev = previous.get(key) if isinstance(previous, dict) else None
        sub_keep = keep.get(key) if isinstance(keep, dict) else None
        if isinstance(doc[key], dict) and isinstance(sub_prev, dict) and sub_prev:
            _prune(doc[key], sub_prev, sub_keep or {}, path)
            if not doc[key] and not isinstance(sub_keep, dict):
                del doc[key]


def reconcile(current, managed, previous=None):
    """The file's new content: ``current`` less what the collection managed before and no longer
    does, with ``managed`` merged in. Keys it never managed stay as they are."""
    current = current if isinstance(current, dict) else {}
    doc = json.loads(json.dumps(current))
    old = leaves(previous or {})
    new = leaves(managed)
    for path in old:
        if path not in new and not any(path[:n] in new for n in range(1, len(path))):
            _delete(doc, path)
    _prune(doc, previous or {}, managed)
    return deep_merge(doc, managed)


def _dotted(path):
    return ".".join(str(p) for p in path)


def shown(path, value):
    """A value as a diff shows it: credential-looking values hidden, placeholders shown."""
    if value is None:
        return None
    if isinstance(value, str) and not is_placeholder(value) and \
            (validate.secret_value(value) or validate.secret_name(path[-1] if path else "")):
        return "<hidden>"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_differences(before, after):
    """``[{"field": "config.a.b", "before", "after"}]`` per differing leaf (``before`` None: added)."""
    b, a = leaves(before or {}), leaves(after or {})
    out = []
    for path in sorted(set(b) | set(a), key=lambda p: [str(x) for x in p]):
        if b.get(path, KeyError) != a.get(path, KeyError):
            out.append({"field": "config.%s" % _dotted(path), "before": shown(path, b.get(path)) if path in b else "-",
                        "after": shown(path, a.get(path)) if path in a else "removed"})
    return out


def parse_document(text, fmt):
    """The agent's configuration file as a mapping ({} when empty); ValueError when it is not one."""
    if not (text or "").strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        if fmt != "yaml":
            raise ValueError("is not valid JSON")
        yaml = _yaml()
        if yaml is None:
            raise ValueError("is YAML, and reading it needs PyYAML on the host")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError("is not valid YAML (%s)" % str(exc).splitlines()[0])
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ValueError("does not hold a mapping")
    return doc


def dump_document(doc):
    """The file's text: JSON (also for Hermes' config.yaml: YAML parsers read JSON)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def config_file(agent_kind, managed):
    """The plan of the agent's configuration file: its path, format and the tree the collection manages in it."""
    spec = CONFIG_FILES[agent_kind]
    return {"path": "%s/%s" % (AGENT_HOME, spec["path"]), "format": spec["format"], "managed": managed, "digest": digest(managed)}


def digest(value):
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                 ensure_ascii=False).encode("utf-8")).hexdigest()


def token_fingerprint(value):
    """How two channel tokens are compared (never shown): sha256 of the value."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def token_conflicts(uses):
    """Tokens used by more than one agent.

    ``uses``: ``[(fingerprint, owner, text)]``, ``owner`` an agent (``(host, name)``), ``text`` where the
    token is used (host, agent path and channel). Returns ``[(text_a, text_b)]``, one pair per clash.
    """
    first, out = {}, []
    for fingerprint, owner, text in uses:
        if fingerprint in first:
            if first[fingerprint][0] != owner:
                out.append((first[fingerprint][1], text))
        else:
            first[fingerprint] = (owner, text)
    return out
