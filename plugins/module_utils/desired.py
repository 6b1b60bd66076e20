# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The desired-state document of a host: ``nemoclaw_agents``, one entry per agent (= one sandbox).

:data:`SCHEMA` is the one definition of the document: keys, types, defaults, choices and the
sentence that documents each (``docs/desired-state.md`` is rendered from it by
``tools/desired_schema_doc.py``; a unit test keeps the two equal). :func:`normalize` checks a
whole document and returns it with every default filled in, or raises :class:`DesiredStateError`
whose ``path`` is the inventory path of the value as the user wrote it
(``nemoclaw_agents[assistant].resources.memory``).

Only the shape and the values the user wrote are checked here. What needs the blueprint (its
profiles, tiers, presets, credentials) is checked when the plan is made (``plan.py``), still on
the controller and still before any host is touched.
"""

from __future__ import annotations

import difflib
import re

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import agentconfig, compare, validate

VARIABLE = "nemoclaw_agents"
AGENTS = ("openclaw", "hermes")
STATES = ("running", "stopped", "absent")
ON_REPLACE = ("preserve", "refuse", "discard")
APPROVAL_MODES = ("manual", "auto")
MAX_AGENTS = 32
MAX_BACKUP_KEEP = 100
DEFAULT_BACKUP_TIMEOUT = agentconfig.DEFAULT_BACKUP_TIMEOUT
MAX_BACKUP_TIMEOUT = 86400

AGENT_HOME = agentconfig.AGENT_HOME

# Files a backup leaves out unless ``backup.exclude`` says otherwise: credentials do not belong
# in an archive on the host (OpenShell injects them at the gateway; a restore does not need them).
DEFAULT_BACKUP_EXCLUDE = (
    ".ssh", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.pem", "*.key", "*.p12", "*.pfx", "*.token",
    ".git-credentials", ".netrc", ".npmrc", ".pypirc", ".env", ".env.*", ".aws/credentials", "credentials.json",
    "auth-profiles.json",
)

# name: (type, default, choices or sub-schema, description). Types: str, bool, int, list, dict.
# A default of None means "not set": the blueprint decides.
SCHEMA = {
    "name": ("str", None, None,
             "The agent's name, which is its sandbox's name (a DNS label: lowercase letters, digits and '-', "
             "at most 19 characters). Required; unique on the host."),
    "agent": ("str", None, AGENTS, "Which agent runs in the sandbox. Required."),
    "blueprint": ("str", None, None,
                  "Blueprint directory, .tar.gz archive or https URL; a relative path is looked up next to the "
                  "inventory, then among the collection's blueprints. Default: the collection's blueprint of the agent."),
    "blueprint_digest": ("str", None, None,
                         "Pin of the blueprint artifact (sha256:<64 hex>, see tools/blueprint-digest); verified when "
                         "given. Required for a blueprint that is not shipped with the collection."),
    "allow_unpinned_blueprint": ("bool", False, None, "Use a blueprint that is not shipped and not pinned (a warning)."),
    "profile": ("str", None, None, "Inference profile of the blueprint. Default: the blueprint's default profile."),
    "model": ("str", None, None, "Model served through inference.local. Default: the profile's model. No leading '-', "
                                 "whitespace or control characters; at most 256 characters."),
    "endpoint_url": ("str", None, None, "Endpoint of a profile with a dynamic endpoint (e.g. ncp): http(s)://host[:port]/path, "
                                        "no user information, query or fragment (the key goes in nemoclaw_secrets), not a "
                                        "cloud metadata address."),
    "tier": ("str", None, None, "Policy tier (restricted, balanced, open). Default: the blueprint's default tier."),
    "presets": ("list", [], None, "Policy presets added to the tier's: 'name', 'name:read' or {name: access}."),
    "custom_presets": ("list", [], None, "Preset files (paths next to the inventory) or preset mappings of your own."),
    "policy_overlays": ("list", [], None,
                        "Inventory policy layers ({name, network_policies, network_middlewares, filesystem_policy, "
                        "exclude, override}), applied last, with provenance."),
    "trusted_private_hosts": ("list", [], None, "Private hosts a policy may name (refused otherwise)."),
    "resources": ("dict", {}, {
        "cpu": ("str", None, None, "CPU limit: cores like 2, 0.5 or 500m."),
        "memory": ("str", None, None, "Memory limit: a quantity like 8Gi or 512Mi."),
        "gpu": ("raw", False, None, "true for all GPUs, or a GPU count; false for none."),
        "profile": ("str", None, None, "A resource profile of the blueprint (percentages of the host); cpu and memory win over it."),
    }, "Sandbox resources. Changing any of them replaces the sandbox (see on_replace)."),
    "env": ("dict", {}, None, "Environment of the sandbox (no credentials: use providers). At most 128 entries, 8192 "
                              "bytes a value, 256 KiB in all (OpenShell's limits)."),
    "labels": ("dict", {}, None, "Labels of the sandbox. At most 126 (OpenShell takes 128; the collection adds 2)."),
    "providers": ("list", [], None,
                  "Further OpenShell providers attached to the sandbox: {name, type, credentials: [SECRET_NAME, ...], "
                  "config: {KEY: value}}; each credential's value is nemoclaw_secrets[SECRET_NAME]."),
    "approval_mode": ("str", None, APPROVAL_MODES, "How new network requests are handled (proposal_approval_mode)."),
    "restart_policy": ("str", None, ("never", "on-failure", "always"),
                       "What OpenShell does when the sandbox's main process exits (sandbox create --restart-policy; "
                       "OpenShell 0.1.x only, refused on 0.0.x). Unset: OpenShell's default. Changing it replaces the "
                       "sandbox (see on_replace)."),
    "state": ("str", "running", STATES, "running, stopped, or absent (the sandbox is removed after a backup)."),
    "on_replace": ("str", "preserve", ON_REPLACE,
                   "When the sandbox must be replaced: preserve backs up the agent's home and restores it into the "
                   "new sandbox; refuse fails naming the fields; discard replaces without a backup."),
    "recreate": ("bool", False, None, "Replace the sandbox on this run even when nothing differs (with on_replace)."),
    "backup": ("dict", {}, {
        "paths": ("list", None, None, "Paths under /sandbox to keep across a replacement. Default: the whole agent home."),
        "exclude": ("list", None, None, "Patterns left out of a backup. Default: SSH keys, .git-credentials, .env*, "
                                        "credential files (see DEFAULT_BACKUP_EXCLUDE)."),
        "keep": ("int", 3, None, "How many backups of this agent's replacements are kept on the host (a removal's backup is never pruned)."),
        "timeout": ("int", DEFAULT_BACKUP_TIMEOUT, None,
                    "Seconds each step of the backup and of the restore inside the sandbox may take (sandbox exec "
                    "--timeout), 1 to 86400. A step that runs longer fails; a backup that fails deletes nothing."),
    }, "The backup made before a replacement or removal."),
    "health_check": ("bool", True, None, "Run the blueprint's health command after a change."),
    "config": ("dict", {}, None,
               "Overlay merged into the agent's own configuration file (OpenClaw ~/.openclaw/openclaw.json, Hermes "
               "~/.hermes/config.yaml) over the keys the collection writes (model, channels, MCP servers); keys written "
               "by hand or by the agent are kept. JSON data, no credential values (see docs/agent-config.md)."),
    "channels": ("list", [], None,
                 "Messaging channels: {type: telegram|slack|discord, credential: SECRET_NAME}, or credentials: {KEY: "
                 "SECRET_NAME} per credential key of the channel (slack: SLACK_BOT_TOKEN and SLACK_APP_TOKEN). Each "
                 "adds gateway providers, its policy preset and its configuration section."),
    "mcp_servers": ("list", [], None,
                    "MCP servers (Streamable HTTP): {name, url: https://..., deny_tools: [tool, ...]}; each adds a network "
                    "policy bound to the agent's binaries and an entry in the agent's configuration."),
}

PROVIDER_KEYS = ("name", "type", "credentials", "config")
_SECRET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PIN_RE = re.compile(r"sha256:[0-9a-f]{64}")


class DesiredStateError(ValueError):
    """A value of the desired state is wrong: ``path`` is where it is in the inventory."""

    def __init__(self, path, reason):
        super(DesiredStateError, self).__init__("%s: %s" % (path, reason))
        self.path = path
        self.reason = reason


def suggestion(word, candidates):
    """`` (did you mean X?)`` for the closest of ``candidates``, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return " (did you mean %s?)" % close[0] if close else ""


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _text(value, path, what="a string"):
    """A scalar the user wrote as text; numbers are taken as their text. No line breaks or NUL."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DesiredStateError(path, "expected %s, got %s" % (what, _type_name(value)))
    text = str(value)
    problem = validate.text_problem(text)
    if problem:
        raise DesiredStateError(path, problem)
    return text


def _bool(value, path):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "false", "no", "off"):
        return value.strip().lower() in ("true", "yes", "on")
    raise DesiredStateError(path, "expected true or false, got %r" % (value,))


def _check_keys(entry, path, schema):
    for key in entry:
        if not isinstance(key, str) or key not in schema:
            raise DesiredStateError("%s.%s" % (path, key), "unknown key%s (allowed: %s)"
                                    % (suggestion(key, schema), ", ".join(schema)))


def _typed(value, kind, path, choices=None):
    if kind == "str":
        value = _text(value, path).strip()
        if choices and value not in choices:
            raise DesiredStateError(path, "must be one of %s, got %r%s" % (", ".join(choices), value, suggestion(value, choices)))
        return value
    if kind == "bool":
        return _bool(value, path)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                return int(value.strip())
            raise DesiredStateError(path, "expected an integer, got %r" % (value,))
        return value
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            raise DesiredStateError(path, "expected a list, got %s" % _type_name(value))
        return list(value)
    if kind == "dict":
        if not isinstance(value, dict):
            raise DesiredStateError(path, "expected a mapping, got %s" % _type_name(value))
        return dict(value)
    return value


def _fill(entry, path, schema):
    """Check the keys and types of ``entry`` against ``schema``; return it with the defaults."""
    _check_keys(entry, path, schema)
    out = {}
    for key, (kind, default, sub, _doc) in schema.items():
        if key in entry and entry[key] is not None:
            value = _typed(entry[key], kind, "%s.%s" % (path, key), sub if isinstance(sub, tuple) else None)
            if isinstance(sub, dict):
                value = _fill(value, "%s.%s" % (path, key), sub)
        elif isinstance(sub, dict):
            value = _fill({}, "%s.%s" % (path, key), sub)
        else:
            value = list(default) if isinstance(default, list) else default
        out[key] = value
    return out


def entry_path(index, entry, variable=VARIABLE):
    """``nemoclaw_agents[NAME]`` when the entry has a usable name, else ``nemoclaw_agents[INDEX]``."""
    name = entry.get("name") if isinstance(entry, dict) else None
    if isinstance(name, str) and name and not validate.sandbox_name_problem(name):
        return "%s[%s]" % (variable, name)
    return "%s[%d]" % (variable, index)


def _check_string_map(mapping, path, key_problem, what):
    out = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise DesiredStateError(path, "%s key %r must be a string" % (what, key))
        problem = key_problem(key)
        if problem:
            raise DesiredStateError("%s.%s" % (path, key), problem)
        out[key] = _text(value, "%s.%s" % (path, key), "a string value")
    return out


def _env_key_problem(key):
    problem = validate.env_key_problem(key)
    if problem:
        return problem
    if key.startswith("OPENSHELL_"):
        return "names starting with OPENSHELL_ are reserved"
    return None


def _label_key_problem(key):
    if key.startswith(compare.MANAGED_LABEL_PREFIX):
        return "the prefix %s is reserved for the collection" % compare.MANAGED_LABEL_PREFIX
    return validate.label_problem(key, "x")


def _check_resources(res, path):
    for key, rule in (("cpu", validate.cpu_problem), ("memory", validate.memory_problem)):
        problem = rule(res[key]) if res[key] is not None else None
        if problem:
            raise DesiredStateError("%s.%s" % (path, key), problem)
    try:
        res["gpu"] = validate.parse_gpu(res["gpu"])
    except ValueError as exc:
        raise DesiredStateError(path + ".gpu", str(exc))
    return res


def _check_providers(items, path):
    out = []
    for i, item in enumerate(items):
        ipath = "%s[%d]" % (path, i)
        if not isinstance(item, dict):
            raise DesiredStateError(ipath, "expected a mapping {name, type, credentials, config}, got %s" % _type_name(item))
        _check_keys(item, ipath, dict((k, None) for k in PROVIDER_KEYS))
        for key in ("name", "type"):
            if not item.get(key):
                raise DesiredStateError("%s.%s" % (ipath, key), "is required")
        name = _text(item["name"], ipath + ".name")
        problem = validate.provider_name_problem(name)
        if problem:
            raise DesiredStateError(ipath + ".name", "%r %s" % (name, problem))
        ptype = _text(item["type"], ipath + ".type").strip().lower()
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", ptype):
            raise DesiredStateError(ipath + ".type", "expected a provider type like openai or github, got %r" % ptype)
        creds = _typed(item.get("credentials") or [], "list", ipath + ".credentials")
        if not creds:
            raise DesiredStateError(ipath + ".credentials", "at least one credential (a nemoclaw_secrets name) is required")
        names = []
        for j, cred in enumerate(creds):
            cname = _text(cred, "%s.credentials[%d]" % (ipath, j))
            if not _SECRET_NAME_RE.fullmatch(cname):
                raise DesiredStateError("%s.credentials[%d]" % (ipath, j), "must name a secret like GITHUB_TOKEN, got %r" % cname)
            # The name is also the credential's key, the variable its value reaches the CLI in.
            problem = validate.credential_key_problem(cname)
            if problem:
                raise DesiredStateError("%s.credentials[%d]" % (ipath, j), problem)
            names.append(cname)
        if len(set(names)) != len(names):
            raise DesiredStateError(ipath + ".credentials", "lists a credential twice")
        config = _check_string_map(_typed(item.get("config") or {}, "dict", ipath + ".config"), ipath + ".config",
                                   validate.config_key_problem,
                                   "config")
        for field, reason in validate.provider_size_problems(names, config):
            raise DesiredStateError("%s.%s" % (ipath, field), reason)
        for key, value in config.items():
            if validate.looks_secret(key, value):
                raise DesiredStateError("%s.config.%s" % (ipath, key), "looks like a credential; provider config is "
                                        "passed on the command line and kept in records: list it in credentials")
        out.append({"name": name, "type": ptype, "credentials": sorted(names), "config": config})
    seen = {}
    for i, prov in enumerate(out):
        if prov["name"] in seen:
            raise DesiredStateError("%s[%d].name" % (path, i), "provider %r is listed twice (also at %s[%d])"
                                    % (prov["name"], path, seen[prov["name"]]))
        seen[prov["name"]] = i
    return out


def _check_backup(backup, path):
    paths = backup["paths"]
    if paths is not None:
        clean = []
        for i, item in enumerate(paths):
            p = _text(item, "%s.paths[%d]" % (path, i))
            norm = p.rstrip("/") or "/"
            if not norm.startswith(AGENT_HOME + "/") and norm != AGENT_HOME:
                raise DesiredStateError("%s.paths[%d]" % (path, i), "must be %s or a path below it, got %r" % (AGENT_HOME, p))
            if ".." in norm.split("/") or "//" in norm:
                raise DesiredStateError("%s.paths[%d]" % (path, i), "must be a normalised path (no '..' or '//'), got %r" % p)
            clean.append(norm)
        backup["paths"] = sorted(set(clean))
    if backup["exclude"] is not None:
        backup["exclude"] = [_text(x, "%s.exclude[%d]" % (path, i)) for i, x in enumerate(backup["exclude"])]
    if not 1 <= backup["keep"] <= MAX_BACKUP_KEEP:
        raise DesiredStateError(path + ".keep", "must be from 1 to %d, got %r" % (MAX_BACKUP_KEEP, backup["keep"]))
    if not 1 <= backup["timeout"] <= MAX_BACKUP_TIMEOUT:
        raise DesiredStateError(path + ".timeout", "must be from 1 to %d seconds, got %r" % (MAX_BACKUP_TIMEOUT, backup["timeout"]))
    return backup


def normalize_entry(entry, index, variable=VARIABLE):
    """One ``nemoclaw_agents`` entry, checked, with every default filled in."""
    path = entry_path(index, entry, variable)
    if not isinstance(entry, dict):
        raise DesiredStateError(path, "expected a mapping with at least name and agent, got %s" % _type_name(entry))
    for key in ("name", "agent"):
        if entry.get(key) in (None, ""):
            _check_keys(entry, path, SCHEMA)
            raise DesiredStateError("%s.%s" % (path, key), "is required")
    out = _fill(entry, path, SCHEMA)
    problem = validate.sandbox_name_problem(out["name"])
    if problem:
        raise DesiredStateError(path + ".name", "%r %s (sandbox names are DNS labels of at most %d characters)"
                                % (out["name"], problem, validate.SANDBOX_NAME_MAX))
    if out["blueprint_digest"] is not None:
        out["blueprint_digest"] = out["blueprint_digest"].lower()
        if not _PIN_RE.fullmatch(out["blueprint_digest"]):
            raise DesiredStateError(path + ".blueprint_digest", "expected sha256:<64 hex digits> (see tools/blueprint-digest)")
    for key in ("blueprint", "profile", "model", "endpoint_url", "tier"):
        if out[key] == "":
            out[key] = None
    for key, check in (("endpoint_url", validate.endpoint_url_problem), ("model", validate.model_problem)):
        problem = out[key] is not None and check(out[key])
        if problem:
            raise DesiredStateError("%s.%s" % (path, key), problem)
    out["resources"] = _check_resources(out["resources"], path + ".resources")
    out["env"] = _check_string_map(out["env"], path + ".env", _env_key_problem, "env")
    for key, value in out["env"].items():
        if compare.looks_secret(key, value):
            raise DesiredStateError("%s.env.%s" % (path, key), "looks like a credential; env is visible inside the sandbox "
                                    "and on the command line: use a provider (providers) instead")
    out["labels"] = _check_string_map(out["labels"], path + ".labels", _label_key_problem, "label")
    for key, value in out["labels"].items():
        problem = validate.label_problem(key, value) or (
            validate.secret_value(value) and "value looks like a credential; labels are shown to anyone who lists sandboxes")
        if problem:
            raise DesiredStateError("%s.labels.%s" % (path, key), problem)
    out["providers"] = _check_providers(out["providers"], path + ".providers")
    out["trusted_private_hosts"] = [_text(h, "%s.trusted_private_hosts[%d]" % (path, i))
                                    for i, h in enumerate(out["trusted_private_hosts"])]
    for i, item in enumerate(out["custom_presets"]):
        if not isinstance(item, (str, dict)):
            raise DesiredStateError("%s.custom_presets[%d]" % (path, i), "expected a preset file path or a mapping")
    for i, item in enumerate(out["policy_overlays"]):
        if not isinstance(item, dict):
            raise DesiredStateError("%s.policy_overlays[%d]" % (path, i), "expected a mapping (a policy layer)")
    out["backup"] = _check_backup(out["backup"], path + ".backup")
    try:
        out["config"] = agentconfig.check_overlay(out["config"])
    except agentconfig.ConfigError as exc:
        raise DesiredStateError("%s.config%s" % (path, "." + exc.path if exc.path else ""), exc.reason)
    out["channels"] = _check_channels(out["channels"], path + ".channels")
    out["mcp_servers"] = _check_mcp_servers(out["mcp_servers"], path + ".mcp_servers", out["trusted_private_hosts"])
    out["path"] = path
    return out


CHANNEL_KEYS = ("type", "credential", "credentials")
MCP_KEYS = ("name", "url", "deny_tools")


def _secret_name(value, path):
    name = _text(value, path)
    if not _SECRET_NAME_RE.fullmatch(name):
        raise DesiredStateError(path, "must name a secret (a nemoclaw_secrets key) like TELEGRAM_BOT_TOKEN, got %r" % name)
    return name


def _check_channels(items, path):
    """Channel entries: ``[{"type", "credentials": {KEY: SECRET_NAME}}]`` (one per type)."""
    out, seen = [], {}
    types = agentconfig.channel_types()
    for i, item in enumerate(items):
        ipath = "%s[%d]" % (path, i)
        if not isinstance(item, dict):
            raise DesiredStateError(ipath, "expected a mapping {type, credential}, got %s" % _type_name(item))
        _check_keys(item, ipath, dict((k, None) for k in CHANNEL_KEYS))
        if not item.get("type"):
            raise DesiredStateError(ipath + ".type", "is required (one of %s)" % ", ".join(types))
        ctype = _text(item["type"], ipath + ".type").strip().lower()
        if ctype not in types:
            raise DesiredStateError(ipath + ".type", "unknown channel %r%s (known: %s)"
                                    % (ctype, suggestion(ctype, types), ", ".join(types)))
        keys = sorted(agentconfig.channel_manifest(ctype)["credentials"])
        if ctype in seen:
            raise DesiredStateError(ipath + ".type", "channel %s is listed twice (also at %s[%d])" % (ctype, path, seen[ctype]))
        seen[ctype] = i
        single, many = item.get("credential"), item.get("credentials")
        if (single is None) == (many is None):
            raise DesiredStateError(ipath, "give either credential: SECRET_NAME%s or credentials: {%s}"
                                    % (" (one token)" if len(keys) == 1 else " (not for %s: it needs %s)" % (ctype, ", ".join(keys)),
                                       ", ".join("%s: SECRET_NAME" % k for k in keys)))
        if single is not None:
            if len(keys) != 1:
                raise DesiredStateError(ipath + ".credential", "channel %s needs %d tokens: use credentials: {%s}"
                                        % (ctype, len(keys), ", ".join("%s: SECRET_NAME" % k for k in keys)))
            creds = {keys[0]: _secret_name(single, ipath + ".credential")}
        else:
            many = _typed(many, "dict", ipath + ".credentials")
            for key in many:
                if key not in keys:
                    raise DesiredStateError("%s.credentials.%s" % (ipath, key), "not a credential of channel %s (its keys: %s)"
                                            % (ctype, ", ".join(keys)))
            missing = [k for k in keys if k not in many]
            if missing:
                raise DesiredStateError(ipath + ".credentials", "channel %s also needs %s" % (ctype, ", ".join(missing)))
            creds = dict((k, _secret_name(many[k], "%s.credentials.%s" % (ipath, k))) for k in keys)
        out.append({"type": ctype, "credentials": creds})
    return out


def _check_mcp_servers(items, path, trusted_private_hosts):
    """MCP server entries: ``[{"name", "url", "host", "port", "deny_tools"}]``; private hosts only when trusted."""
    if len(items) > agentconfig.MAX_MCP_SERVERS:
        raise DesiredStateError(path, "at most %d MCP servers per agent" % agentconfig.MAX_MCP_SERVERS)
    trusted = set(validate.normalize_host(h) for h in trusted_private_hosts)
    out, seen = [], {}
    for i, item in enumerate(items):
        ipath = "%s[%d]" % (path, i)
        if not isinstance(item, dict):
            raise DesiredStateError(ipath, "expected a mapping {name, url, deny_tools}, got %s" % _type_name(item))
        _check_keys(item, ipath, dict((k, None) for k in MCP_KEYS))
        for key in ("name", "url"):
            if not item.get(key):
                raise DesiredStateError("%s.%s" % (ipath, key), "is required")
        name = _text(item["name"], ipath + ".name")
        if not agentconfig.MCP_NAME_RE.fullmatch(name):
            raise DesiredStateError(ipath + ".name", "must be 1 to 40 lowercase letters, digits, '-' or '_', got %r" % name)
        if name in seen:
            raise DesiredStateError(ipath + ".name", "MCP server %r is listed twice (also at %s[%d])" % (name, path, seen[name]))
        seen[name] = i
        url = _text(item["url"], ipath + ".url")
        try:
            host, port, _rest = agentconfig.mcp_endpoint(url)
        except agentconfig.ConfigError as exc:
            raise DesiredStateError(ipath + ".url", exc.reason)
        host = host.strip("[]") if host.startswith("[") else host
        problem = validate.host_problem(host)
        if problem:
            raise DesiredStateError(ipath + ".url", "host %s" % problem)
        if not validate.is_public_class(validate.host_class(host)) and validate.normalize_host(host) not in trusted:
            raise DesiredStateError(ipath + ".url", "%s is a private or local host (%s); list it in trusted_private_hosts "
                                    "to let the agent reach it" % (host, validate.host_class(host)))
        deny = _typed(item.get("deny_tools") or [], "list", ipath + ".deny_tools")
        if len(deny) > agentconfig.MAX_DENY_TOOLS:
            raise DesiredStateError(ipath + ".deny_tools", "at most %d tools" % agentconfig.MAX_DENY_TOOLS)
        tools = []
        for j, tool in enumerate(deny):
            tname = _text(tool, "%s.deny_tools[%d]" % (ipath, j))
            if not agentconfig.TOOL_NAME_RE.fullmatch(tname):
                raise DesiredStateError("%s.deny_tools[%d]" % (ipath, j), "expected an MCP tool name, got %r" % tname)
            tools.append(tname)
        out.append({"name": name, "url": url, "host": validate.normalize_host(host), "port": port,
                    "deny_tools": sorted(set(tools))})
    return out


def normalize(agents, variable=VARIABLE):
    """The whole document, checked: a list of normalised entries (see :func:`normalize_entry`).

    Names must be unique on the host. ``None`` is an empty document (no agent on this host).
    """
    if agents is None:
        return []
    if not isinstance(agents, (list, tuple)):
        raise DesiredStateError(variable, "expected a list of agents ({name, agent, ...}), got %s" % _type_name(agents))
    if len(agents) > MAX_AGENTS:
        raise DesiredStateError(variable, "at most %d agents per host, got %d" % (MAX_AGENTS, len(agents)))
    out, seen = [], {}
    for i, entry in enumerate(agents):
        norm = normalize_entry(entry, i, variable)
        if norm["name"] in seen:
            raise DesiredStateError("%s[%d].name" % (variable, i), "agent %r is listed twice (entries %d and %d)"
                                    % (norm["name"], seen[norm["name"]], i))
        seen[norm["name"]] = i
        out.append(norm)
    return out


def secret_problem(name, secrets):
    """Why ``secrets[name]`` cannot be used as a credential value, or None."""
    if not isinstance(secrets, dict) or name not in secrets or secrets[name] is None:
        return "is not set"
    value = secrets[name]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return "must be a string"
    text = str(value)
    if not text.strip():
        return "is empty or only whitespace"
    return validate.text_problem(text)


def schema_rows(schema=None, prefix=""):
    """(key, type, default, choices, description) rows of the schema, nested keys dotted (for the docs)."""
    rows = []
    for key, (kind, default, sub, doc) in (schema or SCHEMA).items():
        rows.append((prefix + key, kind, default, sub if isinstance(sub, tuple) else None, doc))
        if isinstance(sub, dict):
            rows.extend(schema_rows(sub, prefix + key + "."))
    return rows
