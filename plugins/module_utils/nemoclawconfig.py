# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
#
# The NemoClawConfig shape below was learned from NemoClaw's public sources (facts only; no code
# or text of theirs is copied here):
#   NVIDIA/NemoClaw schemas/nemoclaw-v1alpha1.schema.json @ d0ecc9ab98c8ce6d0fcac4f9986bf8df284d6f5d
#     (the published JSON schema, "generated from the SDK": every field accepted below)
#   NVIDIA/NemoClaw src/lib/config/v1alpha1-export.ts @ d6c6c412106519e0d3b209cc0c3cf266d9daa504 and
#     src/lib/config/v1alpha1-export.test.ts @ bf26169e0ae27478ecd868f49b379e8c4a02ab33 (what
#     `nemoclaw config export` writes), src/lib/config/schema.ts and export-builder.ts
#     @ 066770cd276973c4aec9a68a492b06a2b32e5241, src/lib/config/model.ts
#     @ 458c7e20e0ae4e1b1e2f317113cd6b726d6d7348 (the older internal nemoclaw.nvidia.com/v1 shape)
#   NemoClaw issues #12136 (the exporter refuses messaging channels) and #12137 (no MCP server
#     representation yet), PR #11015 (config export), release notes v0.0.120 and v0.0.123.
"""NemoClaw ``NemoClawConfig`` documents <-> the ``nemoclaw_agents`` desired state.

:func:`to_agents` imports a ``nemoclaw config export`` document (``apiVersion:
nemoclaw.nvidia.com/v1alpha1``): one ``nemoclaw_agents`` entry per ``spec.sandboxes[]`` item, the
names of the secrets the entries need in ``nemoclaw_secrets`` (never values: the document holds
only ``{env: NAME}`` references, and a document that carries a credential value is refused), and
warnings for every NemoClaw field the desired state cannot express. :func:`from_agents` exports
``nemoclaw_agents`` back to a document NemoClaw accepts; fleet keys NemoClaw has no field for are
reported as warnings, or kept under the top-level ``x-agentfleet`` key when ``extensions=True``
(NemoClaw itself refuses that key: such a document is for round trips through the fleet's tools).

Input is data, never executed: fields are checked against the v1alpha1 schema (an unknown field
is refused with its document path, e.g. ``spec.sandboxes[0].foo``), :func:`load_document` refuses
YAML aliases, tags, merge and duplicate keys, several documents and input over 1 MiB as NemoClaw's
own parser does. The mapping is documented in ``docs/nemoclaw-config.md``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare, desired, validate

API_VERSION = "nemoclaw.nvidia.com/v1alpha1"
KIND = "NemoClawConfig"
EXTENSION = "x-agentfleet"
EXTENSION_VERSION = 1
MAX_DOCUMENT_BYTES = 1024 * 1024
HARNESSES = desired.AGENTS            # the harness kinds the fleet has blueprints for
AGENT_NAME = "primary"                # NemoClaw's name of a sandbox's one agent
ROUTE_NAME = "primary"
EXPLICIT_OVERLAY = "nemoclaw-explicit"
DEFAULT_GATEWAY = "http://127.0.0.1:17681"  # NemoClaw's managed gateway origin when none is given
IMPORT_TIER = "restricted"            # the blueprint baseline only: the fleet's analogue of NemoClaw's isolated tier

_PLAIN_TAGS = frozenset("tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq"))
_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,39}")
_UID_RE = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}")
_ENV_REF_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
# A string that only points at a credential: an env name, ${NAME}/$NAME, an OpenShell placeholder.
_REFERENCE_RE = re.compile(r"(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|[A-Z_][A-Z0-9_]*|openshell:resolve:env:[A-Za-z_][A-Za-z0-9_]*)")
_SECRET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Broader than validate.secret_name on purpose: an imported document with any such key holding text is refused.
_SECRET_KEY_RE = re.compile(r"(key|token|secret|password|passwd|credential|auth)", re.I)

# Allowed fields per object of the v1alpha1 schema (the published JSON schema's property names).
FIELDS = {
    "document": ("apiVersion", "kind", "metadata", "spec", EXTENSION),
    "metadata": ("name", "uid"),
    "spec": ("gateway", "harnesses", "inferenceProviders", "inferences", "integrations", "sandboxes", "services"),
    "gateway": ("management", "endpoint", "engine", "image", "imagePullPolicy", "networkCIDR", "credential", "tls"),
    "sandbox": ("name", "agent", "harness", "harnessRef", "harnesses", "image", "inferenceProviders", "inferences",
                "integrations", "network", "runtime"),
    "harness": ("kind", "execution", "interfaces", "observability", "settings"),
    "agent": ("name", "auth", "inference", "inferenceRef", "integrationRefs", "integrations", "tools"),
    "auth": ("method",),
    "inference": ("default", "routes"),
    "route": ("name", "overrides", "provider", "providerRef"),
    "overrides": ("model", "contextWindow", "maxTokens", "piModel", "reasoning", "reasoningEffort"),
    "provider": ("name", "provider", "api", "endpoint", "credential", "serviceRef"),
    "credential": ("env",),
    "network": ("policy", "proxy", "tier"),
    "policy": ("explicit",),
    "explicit": ("version", "network_policies", "filesystem_policy", "process", "landlock"),
    "runtime": ("provider",),
    "image": ("ref",),
    "extension": ("version", "agents"),
}
PROVIDER_KINDS = ("openai", "anthropic")
DEFAULT_API = {"openai": "openai-completions", "anthropic": "anthropic-messages"}
# Provider types of the fleet's blueprint profiles -> NemoClaw's provider implementation.
PROVIDER_OF_TYPE = {"nvidia": "openai", "openai": "openai", "anthropic": "anthropic"}
# Fleet keys that the spec part of a document carries; every other key is an extension or a warning.
SPEC_KEYS = ("name", "agent", "profile", "model", "endpoint_url", "tier", "policy_overlays", "config")
# Why a fleet key is not in NemoClaw's document (for the export warnings).
NO_FIELD_REASON = {
    "channels": "NemoClawConfig has no messaging channels yet (NemoClaw #12136)",
    "mcp_servers": "NemoClawConfig has no MCP servers yet (NemoClaw #12137)",
    "tier": "NemoClaw knows only its isolated tier or a complete explicit policy",
    "presets": "NemoClaw knows only its isolated tier or a complete explicit policy",
    "custom_presets": "NemoClaw knows only its isolated tier or a complete explicit policy",
    "policy_overlays": "only plain network_policies/filesystem_policy layers become network.policy.explicit",
}


class ConfigError(ValueError):
    """A NemoClawConfig document (or an export) is refused: ``path`` is where, in the document."""

    def __init__(self, path, reason):
        super(ConfigError, self).__init__("%s: %s" % (path, reason))
        self.path = path
        self.reason = reason


# ---------------------------------------------------------------------------
# reading a document
# ---------------------------------------------------------------------------

def load_document(text, source="document"):
    """Parse YAML or JSON text into a document, refusing what NemoClaw's parser refuses.

    Refused: more than 1 MiB, several documents, anchors and aliases, merge keys, duplicate keys,
    tags other than the plain YAML types. Error messages never quote the input (it may hold a
    value that must not be echoed); they give the line.
    """
    import yaml  # pylint: disable=import-outside-toplevel

    if isinstance(text, bytes):
        if len(text) > MAX_DOCUMENT_BYTES:
            raise ConfigError(source, "larger than %d bytes" % MAX_DOCUMENT_BYTES)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(source, "not UTF-8 text")
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise ConfigError(source, "larger than %d bytes" % MAX_DOCUMENT_BYTES)

    class _Refused(Exception):
        def __init__(self, mark, reason):
            Exception.__init__(self, reason)
            self.mark = mark
            self.reason = reason

    class _StrictLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise _Refused(event.start_mark, "YAML anchors and aliases are not accepted")
            return yaml.SafeLoader.compose_node(self, parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    raise _Refused(key_node.start_mark, "mapping keys must be strings")
                if key in seen:
                    raise _Refused(key_node.start_mark, "duplicate key %r" % key)
                seen.add(key)
            return yaml.SafeLoader.construct_mapping(self, node, deep=deep)

    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(source, "empty document")
        for sub in _nodes(node):
            if sub.tag == "tag:yaml.org,2002:merge":
                raise _Refused(sub.start_mark, "YAML merge keys are not accepted")
            if sub.tag not in _PLAIN_TAGS:
                raise _Refused(sub.start_mark, "YAML tag %s is not accepted" % sub.tag)
        data = loader.construct_document(node)
    except _Refused as exc:
        raise ConfigError("%s: line %d" % (source, exc.mark.line + 1), exc.reason)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = "%s: line %d" % (source, mark.line + 1) if mark is not None else source
        raise ConfigError(where, "not valid YAML (%s)" % (getattr(exc, "problem", None) or "syntax error"))
    finally:
        loader.dispose()
    return data


def _nodes(node):
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item.value, list):
            for sub in item.value:
                stack.extend(sub if isinstance(sub, tuple) else (sub,))


# ---------------------------------------------------------------------------
# blueprint inference profiles
# ---------------------------------------------------------------------------

def _shipped_root():
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "blueprints"))


def profiles_of(blueprint_data):
    """The inference profiles of a parsed ``blueprint.yaml``: {"default": NAME, "profiles": {NAME: {...}}}."""
    data = blueprint_data or {}
    found = ((data.get("components") or {}).get("inference") or {}).get("profiles") or {}
    listed = data.get("profiles") or sorted(found)
    ext = data.get("x-agentfleet") or {}
    default = ext.get("default_profile") or ("default" if "default" in listed else (listed[0] if listed else None))
    out = {}
    for name in listed:
        prof = found.get(name) or {}
        out[name] = {
            "provider_type": str(prof.get("provider_type") or "").lower(),
            "provider_name": prof.get("provider_name") or name,
            "endpoint": prof.get("endpoint") or "",
            "dynamic_endpoint": bool(prof.get("dynamic_endpoint")),
            "model": prof.get("model"),
            "credential_env": prof.get("credential_env"),
            "credential_default": prof.get("credential_default"),
        }
    return {"default": default, "profiles": out}


def shipped_profiles(root=None):
    """{agent: profiles_of(its shipped blueprint)} for the collection's blueprints (``blueprints/<agent>``)."""
    import yaml  # pylint: disable=import-outside-toplevel

    root = root or _shipped_root()
    out = {}
    for agent in HARNESSES:
        path = os.path.join(root, agent, "blueprint.yaml")
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                out[agent] = profiles_of(yaml.safe_load(handle))
    return out


def _profiles_for(profiles, agent, blueprint=None):
    """The profiles of the blueprint an entry uses: by blueprint, else the shipped one of its agent."""
    profiles = profiles or {}
    if blueprint not in (None, "", agent):
        return profiles.get(blueprint)
    return profiles.get(agent)


# ---------------------------------------------------------------------------
# checks shared by import
# ---------------------------------------------------------------------------

def _j(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def _i(path, index):
    return "%s[%d]" % (path, index)


def _kind(value):
    return desired._type_name(value)  # pylint: disable=protected-access


def _mapping(value, path, what="a mapping"):
    if not isinstance(value, dict):
        raise ConfigError(path, "expected %s, got %s" % (what, _kind(value)))
    return value


def _list(value, path):
    if not isinstance(value, list):
        raise ConfigError(path, "expected a list, got %s" % _kind(value))
    return value


def _keys(obj, path, kind):
    allowed = FIELDS[kind]
    for key in obj:
        if key not in allowed:
            raise ConfigError(_j(path, key), "unknown field%s (allowed here: %s)"
                              % (desired.suggestion(key, allowed), ", ".join(allowed)))


def _string(value, path, pattern=None, what="a string"):
    if not isinstance(value, str):
        raise ConfigError(path, "expected %s, got %s" % (what, _kind(value)))
    problem = validate.text_problem(value)
    if problem:
        raise ConfigError(path, problem)
    if pattern is not None and not pattern.fullmatch(value):
        raise ConfigError(path, "%r is not %s" % (value, what))
    return value


def _name(value, path):
    return _string(value, path, _NAME_RE, "a lowercase name ([a-z][a-z0-9-], at most 40 characters)")


def _definitions(value, path):
    """A map of named definitions (harnesses, inferences, ...): the names are lowercase names.

    Harness and inference definitions are checked field by field even when nothing uses them;
    services and integrations are not imported (a warning) and only scanned for credentials.
    """
    kind = {"harnesses": "harness", "inferences": "inference"}.get(path.rsplit(".", 1)[-1])
    for key, item in _mapping(value, path).items():
        if not isinstance(key, str) or not _NAME_RE.fullmatch(key):
            raise ConfigError(path, "definition names are lowercase names ([a-z][a-z0-9-], at most 40 characters), got %r"
                              % (key,))
        if kind:
            _keys(_mapping(item, _j(path, key)), _j(path, key), kind)
    return value


def _credential_ref(value, path):
    """A ``{env: NAME}`` reference; anything else is refused without quoting it."""
    if not isinstance(value, dict):
        raise ConfigError(path, "a credential must be a reference {env: NAME}; refusing a document that carries "
                                "a credential value (%s given)" % _kind(value))
    for key in value:
        if key != "env":
            raise ConfigError(_j(path, key), "a credential holds only env (the name of the variable with the value); "
                                             "refusing a document that carries a credential value")
    env = value.get("env")
    if not isinstance(env, str) or not _ENV_REF_RE.fullmatch(env):
        raise ConfigError(_j(path, "env"), "expected the name of an environment variable like OPENAI_API_KEY")
    return env


def _scan_secrets(value, path, fleet=False):
    """Refuse any credential value anywhere in the document: never echo it, name its path.

    In NemoClaw's part a ``credential`` is a ``{env: NAME}`` mapping; in the fleet's extension
    (``fleet``) it is the name of a ``nemoclaw_secrets`` entry.
    """
    if isinstance(value, dict):
        for key, sub in value.items():
            spath = _j(path, key)
            if fleet and key == "credential" and isinstance(sub, str):
                if not _SECRET_NAME_RE.fullmatch(sub):
                    raise ConfigError(spath, "expected the name of a nemoclaw_secrets entry (like TELEGRAM_BOT_TOKEN); "
                                             "refusing what may be a credential value")
                continue
            if not fleet and (key == "credential" or (key in ("ca", "certificate", "key") and path.endswith(".tls"))):
                _credential_ref(sub, spath)
                continue
            if isinstance(sub, str) and _SECRET_KEY_RE.search(str(key)) and sub.strip() \
                    and not _REFERENCE_RE.fullmatch(sub.strip()):
                raise ConfigError(spath, "looks like a credential value; a NemoClawConfig carries only references "
                                         "(credential: {env: NAME}): refusing the document")
            _scan_secrets(sub, spath, fleet)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            _scan_secrets(sub, _i(path, index), fleet)
    elif isinstance(value, str):
        if validate.secret_value(value):
            raise ConfigError(path or "document", "looks like a credential value; a NemoClawConfig carries only "
                                                  "references (credential: {env: NAME}): refusing the document")


def route_warnings(agents, profiles, paths=None):
    """OpenShell has one inference.local route per gateway: the agents of one host share it.

    A warning per entry whose inference (profile's provider, endpoint_url, model) differs from
    the first's; ``paths`` maps an agent name to where it came from (default: its inventory path).
    """
    out, first = [], None
    for entry in agents:
        if entry.get("state") == "absent":
            continue
        table = _profiles_for(profiles, entry["agent"], entry.get("blueprint"))
        if not table:
            continue
        prof = table["profiles"].get(entry.get("profile") or table["default"]) or {}
        route = (prof.get("provider_name"), entry.get("endpoint_url"), entry.get("model") or prof.get("model"))
        if first is None:
            first = (entry["name"], route)
        elif route != first[1]:
            where = (paths or {}).get(entry["name"]) or "%s[%s]" % (desired.VARIABLE, entry["name"])
            out.append("%s: its inference (%s, model %s) differs from that of sandbox %s (%s, model %s): OpenShell has one "
                       "inference.local route per gateway, so the agents of one host share one profile and model; put it "
                       "on another host or align them" % (where, route[0], route[2], first[0], first[1][0], first[1][2]))
    return out


class _Import(object):
    """One import: the document, its warnings and the secrets its entries need."""

    def __init__(self, doc, profiles, route_check=True):
        self.doc = doc
        self.profiles = profiles
        self.route_check = route_check
        self.warnings = []
        self.secrets = {}
        self.settings_path = {}

    def warn(self, path, text):
        self.warnings.append("%s: %s" % (path, text))

    def need(self, name, use):
        self.secrets.setdefault(name, [])
        if use not in self.secrets[name]:
            self.secrets[name].append(use)

    # -- the document ------------------------------------------------------

    def run(self):
        doc = _mapping(self.doc, "document", "a NemoClawConfig mapping")
        api = doc.get("apiVersion")
        if api != API_VERSION:
            hint = ""
            if api == "nemoclaw.nvidia.com/v1":
                hint = " (the shape NemoClaw v0.0.120 to v0.0.127 exported; export again with v0.0.128 or later)"
            raise ConfigError("apiVersion", "expected %s, got %r%s" % (API_VERSION, api, hint))
        if doc.get("kind") != KIND:
            raise ConfigError("kind", "expected %s, got %r" % (KIND, doc.get("kind")))
        _keys(doc, "", "document")
        _scan_secrets(dict((k, v) for k, v in doc.items() if k != EXTENSION), "")
        meta = _mapping(doc.get("metadata"), "metadata")
        _keys(meta, "metadata", "metadata")
        _name(meta.get("name"), "metadata.name")
        _string(meta.get("uid"), "metadata.uid", _UID_RE, "a lowercase UUID")
        spec = _mapping(doc.get("spec"), "spec")
        _keys(spec, "spec", "spec")
        self.spec = spec
        self._gateway(spec.get("gateway"))
        for key in ("harnesses", "inferences", "integrations", "services"):
            if key in spec:
                _definitions(spec[key], _j("spec", key))
        if spec.get("services"):
            self.warn("spec.services", "managed inference services (%s) are not imported: the fleet serves local "
                                       "models through blueprint profiles (nim-local, vllm)" % ", ".join(sorted(spec["services"])))
        if spec.get("integrations"):
            self.warn("spec.integrations", "integrations (%s) are not imported: the fleet has no web-search or voice "
                                           "integration field" % ", ".join(sorted(spec["integrations"])))
        self.providers = self._providers(spec.get("inferenceProviders"), "spec.inferenceProviders")
        sandboxes = _list(spec.get("sandboxes"), "spec.sandboxes")
        if not sandboxes:
            raise ConfigError("spec.sandboxes", "at least one sandbox is required")
        if len(sandboxes) > desired.MAX_AGENTS:
            raise ConfigError("spec.sandboxes", "at most %d sandboxes, got %d" % (desired.MAX_AGENTS, len(sandboxes)))
        self.used_harnesses = set()
        agents, paths, seen = [], {}, {}
        for index, sandbox in enumerate(sandboxes):
            spath = _i("spec.sandboxes", index)
            entry = self._sandbox(sandbox, spath)
            if entry["name"] in seen:
                raise ConfigError(_j(spath, "name"), "sandbox %r is listed twice (also spec.sandboxes[%d])"
                                  % (entry["name"], seen[entry["name"]]))
            seen[entry["name"]] = index
            paths[entry["name"]] = spath
            agents.append(entry)
        for name in sorted(set(spec.get("harnesses") or {}) - self.used_harnesses):
            self.warn(_j("spec.harnesses", name), "not used by any sandbox: not imported")
        self._extension(doc.get(EXTENSION), agents)
        if self.route_check:
            self.warnings.extend(route_warnings(agents, self.profiles, paths))
        for entry in agents:
            self._entry_secrets(entry)
        self._check(agents, paths)
        return agents

    def _gateway(self, gateway):
        gateway = _mapping(gateway, "spec.gateway")
        _keys(gateway, "spec.gateway", "gateway")
        if gateway.get("management") not in ("managed", "external"):
            raise ConfigError("spec.gateway.management", "expected managed or external, got %r" % (gateway.get("management"),))
        plain = dict((k, v) for k, v in gateway.items() if v not in ("", None) and (k, v) != ("endpoint", DEFAULT_GATEWAY))
        if plain != {"management": "managed"}:
            self.warn("spec.gateway", "not imported: the fleet runs one OpenShell gateway per host from its own "
                                      "variables (the openshell role)")

    def _providers(self, items, path):
        out = {}
        for index, item in enumerate(_list(items, path) if items is not None else []):
            ppath = _i(path, index)
            prov = _mapping(item, ppath)
            _keys(prov, ppath, "provider")
            name = _name(prov.get("name"), _j(ppath, "name"))
            if name in out:
                raise ConfigError(_j(ppath, "name"), "inference provider %r is listed twice" % name)
            out[name] = (prov, ppath)
        return out

    # -- one sandbox -------------------------------------------------------

    def _sandbox(self, sandbox, spath):
        sandbox = _mapping(sandbox, spath)
        _keys(sandbox, spath, "sandbox")
        name = _name(sandbox.get("name"), _j(spath, "name"))
        problem = validate.sandbox_name_problem(name)
        if problem:
            raise ConfigError(_j(spath, "name"), "%r %s: an OpenShell sandbox name in the fleet is a DNS label of at "
                                                 "most %d characters; rename the sandbox" % (name, problem, validate.SANDBOX_NAME_MAX))
        entry = {"name": name}
        harness, hpath = self._harness(sandbox, spath)
        entry["agent"] = harness["kind"]
        self._harness_fields(harness, hpath, entry)
        if "agent" not in sandbox:
            raise ConfigError(_j(spath, "agent"), "is required")
        self._agent(sandbox, spath, entry)
        image = sandbox.get("image")
        if image is not None:
            image = _mapping(image, _j(spath, "image"))
            _keys(image, _j(spath, "image"), "image")
            if image.get("ref"):
                self.warn(_j(spath, "image.ref"), "not imported: the fleet pins the sandbox image in its blueprint "
                                                  "(blueprint, blueprint_digest)")
        runtime = sandbox.get("runtime")
        if runtime is not None:
            runtime = _mapping(runtime, _j(spath, "runtime"))
            _keys(runtime, _j(spath, "runtime"), "runtime")
            if runtime.get("provider") not in (None, "", "docker"):
                self.warn(_j(spath, "runtime.provider"), "%r is not imported: the host's OpenShell gateway decides the "
                                                         "sandbox driver" % (runtime.get("provider"),))
        for key in ("harnesses", "inferences", "integrations"):
            if key in sandbox:
                _definitions(sandbox[key], _j(spath, key))
        if sandbox.get("integrations"):
            self.warn(_j(spath, "integrations"), "integrations (%s) are not imported: the fleet has no web-search or "
                                                 "voice integration field" % ", ".join(sorted(sandbox["integrations"])))
        for hname in sorted(set(sandbox.get("harnesses") or {}) - {sandbox.get("harnessRef")}):
            self.warn(_j(_j(spath, "harnesses"), hname), "not used by this sandbox: not imported")
        self._network(sandbox.get("network"), _j(spath, "network"), entry)
        return entry

    def _harness(self, sandbox, spath):
        if ("harness" in sandbox) == ("harnessRef" in sandbox):
            raise ConfigError(spath, "exactly one of harness or harnessRef is required")
        if "harness" in sandbox:
            hpath = _j(spath, "harness")
            harness = _mapping(sandbox["harness"], hpath)
        else:
            ref = _name(sandbox["harnessRef"], _j(spath, "harnessRef"))
            local = sandbox.get("harnesses") or {}
            if ref in local:
                hpath, harness = _j(_j(spath, "harnesses"), ref), local[ref]
            elif ref in (self.spec.get("harnesses") or {}):
                hpath, harness = _j("spec.harnesses", ref), self.spec["harnesses"][ref]
                self.used_harnesses.add(ref)
            else:
                raise ConfigError(_j(spath, "harnessRef"), "no harness %r in this sandbox's or spec.harnesses" % ref)
            harness = _mapping(harness, hpath)
        _keys(harness, hpath, "harness")
        kind = _string(harness.get("kind"), _j(hpath, "kind"))
        if kind not in HARNESSES:
            raise ConfigError(_j(hpath, "kind"), "harness %r has no fleet blueprint (the fleet runs %s)"
                              % (kind, " and ".join(HARNESSES)))
        return harness, hpath

    def _harness_fields(self, harness, hpath, entry):
        settings = harness.get("settings")
        if settings is not None:
            settings = _mapping(settings, _j(hpath, "settings"))
            if settings and "config" in desired.SCHEMA:
                entry["config"] = copy.deepcopy(settings)
                self.settings_path[entry["name"]] = _j(hpath, "settings")
            elif settings:
                self.warn(_j(hpath, "settings"), "not imported: this version of the collection has no agent config overlay")
        for key in ("execution", "interfaces", "observability"):
            if harness.get(key) not in (None, {}):
                self.warn(_j(hpath, key), "not imported: the fleet has no field for the harness's %s settings "
                                          "(set them through the agent's config overlay)" % key)

    def _agent(self, sandbox, spath, entry):
        apath = _j(spath, "agent")
        agent = _mapping(sandbox["agent"], apath)
        _keys(agent, apath, "agent")
        aname = _name(agent.get("name"), _j(apath, "name"))
        if aname != AGENT_NAME:
            self.warn(_j(apath, "name"), "the agent's name %r is not kept: the fleet names an agent by its sandbox" % aname)
        if "auth" in agent:
            auth = _mapping(agent["auth"], _j(apath, "auth"))
            _keys(auth, _j(apath, "auth"), "auth")
            if auth.get("method") != "api-key":
                raise ConfigError(_j(apath, "auth.method"), "expected api-key, got %r" % (auth.get("method"),))
        for key in ("tools", "integrationRefs", "integrations"):
            if agent.get(key) not in (None, [], {}):
                self.warn(_j(apath, key), "not imported: the fleet has no field for it")
        if ("inference" in agent) == ("inferenceRef" in agent):
            raise ConfigError(apath, "exactly one of inference or inferenceRef is required")
        # Scope: an inference defined in the sandbox (or inline) sees the sandbox's providers first;
        # one in spec.inferences sees only spec.inferenceProviders.
        scope = spath
        if "inference" in agent:
            ipath, inference = _j(apath, "inference"), agent["inference"]
        else:
            ref = _name(agent["inferenceRef"], _j(apath, "inferenceRef"))
            local = sandbox.get("inferences") or {}
            if ref in local:
                ipath, inference = _j(_j(spath, "inferences"), ref), local[ref]
            elif ref in (self.spec.get("inferences") or {}):
                ipath, inference, scope = _j("spec.inferences", ref), self.spec["inferences"][ref], None
            else:
                raise ConfigError(_j(apath, "inferenceRef"), "no inference %r in this sandbox's or spec.inferences" % ref)
        self._inference(sandbox, scope, inference, ipath, entry)

    def _inference(self, sandbox, scope, inference, ipath, entry):
        inference = _mapping(inference, ipath)
        _keys(inference, ipath, "inference")
        routes = _list(inference.get("routes"), _j(ipath, "routes"))
        if not routes:
            raise ConfigError(_j(ipath, "routes"), "at least one route is required")
        names = []
        for index, route in enumerate(routes):
            rpath = _i(_j(ipath, "routes"), index)
            _keys(_mapping(route, rpath), rpath, "route")
            names.append(_name(route.get("name"), _j(rpath, "name")))
        if len(set(names)) != len(names):
            raise ConfigError(_j(ipath, "routes"), "route names must be unique")
        default = inference.get("default")
        if default is None:
            if len(routes) > 1:
                raise ConfigError(_j(ipath, "default"), "is required with several routes")
            default = names[0]
        elif default not in names:
            raise ConfigError(_j(ipath, "default"), "names no route (routes: %s)" % ", ".join(names))
        index = names.index(default)
        for other, oname in enumerate(names):
            if other != index:
                self.warn(_i(_j(ipath, "routes"), other),
                          "route %r is not imported: an agent in the fleet has one model choice (the default route %r)"
                          % (oname, default))
        rpath = _i(_j(ipath, "routes"), index)
        route = routes[index]
        overrides = _mapping(route.get("overrides"), _j(rpath, "overrides"))
        _keys(overrides, _j(rpath, "overrides"), "overrides")
        model = _string(overrides.get("model"), _j(rpath, "overrides.model"))
        for key in sorted(overrides):
            if key != "model":
                self.warn(_j(_j(rpath, "overrides"), key), "not imported: the fleet sets only the model of a route")
        if ("provider" in route) == ("providerRef" in route):
            raise ConfigError(rpath, "exactly one of provider or providerRef is required")
        if "provider" in route:
            ppath = _j(rpath, "provider")
            provider = _mapping(route["provider"], ppath)
            _keys(provider, ppath, "provider")
        else:
            ref = _name(route["providerRef"], _j(rpath, "providerRef"))
            local = self._providers(sandbox.get("inferenceProviders"), _j(scope, "inferenceProviders")) if scope else {}
            if ref in local:
                provider, ppath = local[ref]
            elif ref in self.providers:
                provider, ppath = self.providers[ref]
            else:
                raise ConfigError(_j(rpath, "providerRef"), "no inference provider %r" % ref)
        self._provider(provider, ppath, model, entry)

    def _provider(self, provider, ppath, model, entry):
        kind = provider.get("provider")
        if kind not in PROVIDER_KINDS:
            raise ConfigError(_j(ppath, "provider"), "expected %s, got %r" % (" or ".join(PROVIDER_KINDS), kind))
        env = _credential_ref(provider["credential"], _j(ppath, "credential")) if "credential" in provider else None
        if provider.get("api") not in (None, DEFAULT_API[kind]):
            self.warn(_j(ppath, "api"), "%r is not imported: the fleet's agents use %s with an %s provider"
                      % (provider.get("api"), DEFAULT_API[kind], kind))
        name = entry["name"]
        profiles = _profiles_for(self.profiles, entry["agent"])
        if provider.get("serviceRef"):
            self.warn(_j(ppath, "serviceRef"), "a managed inference service is not imported: the agent keeps its "
                                               "blueprint's default profile; choose a profile (nim-local, vllm) by hand")
            entry["model"] = model
            return
        endpoint = compare.normalize_endpoint(_string(provider.get("endpoint"), _j(ppath, "endpoint")))
        if not endpoint.startswith(("https://", "http://")):
            raise ConfigError(_j(ppath, "endpoint"), "expected an http(s) URL")
        chosen = None
        if profiles:
            table = profiles["profiles"]
            for pname in sorted(table):
                prof = table[pname]
                if not prof["dynamic_endpoint"] and prof["endpoint"] \
                        and compare.normalize_endpoint(prof["endpoint"]) == endpoint:
                    chosen = pname
                    break
            if chosen is None:
                dynamic = [p for p in sorted(table) if table[p]["dynamic_endpoint"]
                           and PROVIDER_OF_TYPE.get(table[p]["provider_type"]) == kind]
                if dynamic:
                    chosen = dynamic[0]
                    entry["endpoint_url"] = endpoint
        if chosen is None:
            self.warn(_j(ppath, "endpoint"), "no inference profile of the %s blueprint serves %s: set profile (and "
                                             "endpoint_url) of nemoclaw_agents[%s] by hand" % (entry["agent"], endpoint, name))
            entry["model"] = model
            if env:
                self.need(env, "inference of %s (NemoClaw's reference; no blueprint profile matched)" % name)
            return
        prof = profiles["profiles"][chosen]
        if chosen != profiles["default"]:
            entry["profile"] = chosen
        if model != prof["model"]:
            entry["model"] = model
        fleet_env = prof["credential_env"]
        if fleet_env:
            self.need(fleet_env, "inference of %s" % name)
            if env and env != fleet_env:
                self.warn(_j(ppath, "credential.env"), "NemoClaw read the key from %s; the fleet reads it from "
                                                       "nemoclaw_secrets.%s" % (env, fleet_env))

    def _network(self, network, npath, entry):
        entry["tier"] = IMPORT_TIER
        if network is None:
            return
        network = _mapping(network, npath)
        _keys(network, npath, "network")
        if network.get("tier") not in (None, "", "isolated"):
            raise ConfigError(_j(npath, "tier"), "expected isolated, got %r" % (network.get("tier"),))
        if network.get("proxy") is not None:
            self.warn(_j(npath, "proxy"), "not imported: the fleet has no agent HTTP proxy field")
        if network.get("policy") is None:
            return
        if network.get("tier"):
            raise ConfigError(_j(npath, "tier"), "must be omitted with policy.explicit")
        ppath = _j(npath, "policy")
        selection = _mapping(network["policy"], ppath)
        _keys(selection, ppath, "policy")
        epath = _j(ppath, "explicit")
        explicit = _mapping(selection.get("explicit"), epath)
        _keys(explicit, epath, "explicit")
        if explicit.get("version") != 1:
            raise ConfigError(_j(epath, "version"), "expected 1, got %r" % (explicit.get("version"),))
        rules = _mapping(explicit.get("network_policies"), _j(epath, "network_policies"))
        overlay = {"name": EXPLICIT_OVERLAY, "source": "NemoClawConfig sandbox %s network.policy.explicit" % entry["name"],
                   "override": True}
        if rules:
            overlay["network_policies"] = copy.deepcopy(rules)
        if explicit.get("filesystem_policy"):
            overlay["filesystem_policy"] = copy.deepcopy(_mapping(explicit["filesystem_policy"], _j(epath, "filesystem_policy")))
        for key in ("process", "landlock"):
            if explicit.get(key) not in (None, {}):
                self.warn(_j(epath, key), "not imported: the blueprint's baseline decides it")
        if len(overlay) > 3:
            entry["policy_overlays"] = [overlay]

    # -- the extension and the result --------------------------------------

    def _extension(self, ext, agents):
        if ext is None:
            return
        ext = _mapping(ext, EXTENSION)
        _keys(ext, EXTENSION, "extension")
        if ext.get("version", EXTENSION_VERSION) != EXTENSION_VERSION:
            raise ConfigError(_j(EXTENSION, "version"), "expected %d, got %r" % (EXTENSION_VERSION, ext.get("version")))
        by_name = dict((entry["name"], entry) for entry in agents)
        keys = [k for k in desired.SCHEMA if k not in ("name", "agent")]
        for name, extra in sorted(_mapping(ext.get("agents") or {}, _j(EXTENSION, "agents")).items()):
            xpath = _j(_j(EXTENSION, "agents"), name)
            if name not in by_name:
                raise ConfigError(xpath, "no sandbox %r in spec.sandboxes" % name)
            extra = _mapping(extra, xpath)
            for key in extra:
                if key not in keys:
                    raise ConfigError(_j(xpath, key), "not a key of nemoclaw_agents%s" % desired.suggestion(key, keys))
            _scan_secrets(extra, xpath, fleet=True)
            for key, value in extra.items():
                if value is None:
                    by_name[name].pop(key, None)
                else:
                    by_name[name][key] = copy.deepcopy(value)

    def _entry_secrets(self, entry):
        name = entry["name"]
        for prov in entry.get("providers") or []:
            if isinstance(prov, dict):
                for cred in prov.get("credentials") or []:
                    self.need(str(cred), "provider %s of %s" % (prov.get("name"), name))
        for chan in entry.get("channels") or []:
            if not isinstance(chan, dict):
                continue
            creds = chan.get("credentials") or {}
            refs = list(creds.values()) if isinstance(creds, dict) else list(creds)
            if chan.get("credential"):
                refs.append(chan["credential"])
            for ref in refs:
                self.need(str(ref), "channel %s of %s" % (chan.get("type"), name))

    def _check(self, agents, paths):
        """The output must be a valid desired state: a refusal names the document path it came from."""
        try:
            desired.normalize(copy.deepcopy(agents))
        except desired.DesiredStateError as exc:
            raise ConfigError(self._origin(exc.path, paths), exc.reason)

    def _origin(self, where, paths):
        match = re.match(r"%s\[([^\]]+)\]" % desired.VARIABLE, where)
        if not match or match.group(1) not in paths:
            return where
        name, rest = match.group(1), where[match.end():]
        key = re.match(r"\.?([A-Za-z_]*)", rest).group(1)
        ext = ((self.doc.get(EXTENSION) or {}).get("agents") or {}).get(name) or {}
        if key in ext:
            return _j(EXTENSION, "agents.%s%s" % (name, rest))
        if key == "config" and self.settings_path.get(name):
            return self.settings_path[name] + rest[len(".config"):]
        return "%s (%s)" % (paths[name], where)


def to_agents(doc, profiles=None, route_check=True):
    """Import a NemoClawConfig document: ``(agents, secrets, warnings)``.

    ``agents`` is a ``nemoclaw_agents`` list (only the keys the document sets; it passes
    ``desired.normalize``), ``secrets`` maps each secret name the entries need in
    ``nemoclaw_secrets`` to what uses it (names only: a document never holds a value and one that
    does is refused), ``warnings`` lists each NemoClaw field that is not imported, by its path.
    ``profiles`` are the blueprints' inference profiles ({agent or blueprint: profiles_of(...)};
    default: the collection's shipped blueprints), used to find the profile serving a provider's
    endpoint. Sandboxes that need different inference routes are warned about (``route_check``;
    see :func:`route_warnings`). Raises :class:`ConfigError` naming the document path.
    """
    job = _Import(doc, shipped_profiles() if profiles is None else profiles, route_check)
    agents = job.run()
    secrets = dict((name, sorted(uses)) for name, uses in sorted(job.secrets.items()))
    return agents, secrets, job.warnings


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------

def _plain(value):
    """Plain JSON types (inventory values can be str/dict subclasses YAML dumpers refuse)."""
    return json.loads(json.dumps(value))


def _explicit_from_overlays(overlays):
    """``network.policy.explicit`` from plain inventory layers, or None when they hold more than it can."""
    rules, filesystem = {}, {}
    for layer in overlays:
        if set(layer) - {"name", "source", "override", "network_policies", "filesystem_policy"}:
            return None
        for key, rule in (layer.get("network_policies") or {}).items():
            if key in rules and rules[key] != rule:
                return None
            rules[key] = rule
        for key, value in (layer.get("filesystem_policy") or {}).items():
            if key in ("read_only", "read_write"):
                merged = list(filesystem.get(key) or [])
                merged.extend(p for p in value or [] if p not in merged)
                filesystem[key] = merged
            else:
                filesystem[key] = value
    explicit = {"version": 1, "network_policies": rules}
    if filesystem:
        explicit["filesystem_policy"] = filesystem
    return explicit


def _provider_name(name, taken, sandbox):
    if _NAME_RE.fullmatch(name or "") and name not in taken:
        return name
    base = re.sub(r"[^a-z0-9-]+", "-", (name or "provider").lower()).strip("-") or "provider"
    if not base[0].isalpha():
        base = "p-" + base
    candidate = base[:40].rstrip("-")
    if candidate in taken:
        candidate = ("%s-%s" % (base, sandbox))[:40].rstrip("-")
    return candidate


def _export_sandbox(entry, profiles, providers, warnings):
    path = entry["path"]
    name = entry["name"]
    table = _profiles_for(profiles, entry["agent"], entry["blueprint"])
    if not table:
        raise ConfigError(_j(path, "blueprint"), "the inference profiles of blueprint %r are unknown: export knows the "
                                                 "collection's blueprints (give the profiles of others)" % (entry["blueprint"],))
    pname = entry["profile"] or table["default"]
    prof = table["profiles"].get(pname)
    if prof is None:
        raise ConfigError(_j(path, "profile"), "unknown inference profile %r (available: %s)"
                          % (pname, ", ".join(sorted(table["profiles"]))))
    endpoint = prof["endpoint"]
    if prof["dynamic_endpoint"]:
        endpoint = entry["endpoint_url"] or endpoint
    if not endpoint:
        raise ConfigError(_j(path, "endpoint_url"), "profile %s has a dynamic endpoint: endpoint_url is required" % pname)
    kind = PROVIDER_OF_TYPE.get(prof["provider_type"])
    if kind is None:
        raise ConfigError(_j(path, "profile"), "profile %s uses provider type %r, which NemoClaw has no provider for "
                                               "(openai, anthropic)" % (pname, prof["provider_type"]))
    provider = {"name": None, "provider": kind, "endpoint": compare.normalize_endpoint(endpoint)}
    if prof["credential_env"]:
        if provider["endpoint"].startswith("http://"):
            warnings.append("%s: the credential %s of profile %s is not exported: NemoClaw takes no credential for a "
                            "plain-http endpoint" % (_j(path, "profile"), prof["credential_env"], pname))
        else:
            provider["credential"] = {"env": prof["credential_env"]}
    # One spec-level provider per distinct (implementation, endpoint, credential): agents sharing a
    # profile share it, as NemoClaw's own exports do.
    content = json.dumps(dict((k, v) for k, v in provider.items() if k != "name"), sort_keys=True)
    for existing in providers:
        if json.dumps(dict((k, v) for k, v in existing.items() if k != "name"), sort_keys=True) == content:
            provider = existing
            break
    else:
        provider["name"] = _provider_name(prof["provider_name"], set(p["name"] for p in providers), name)
        providers.append(provider)
    agent = {"name": AGENT_NAME, "inference": {"routes": [{
        "name": ROUTE_NAME, "providerRef": provider["name"], "overrides": {"model": entry["model"] or prof["model"]}}]}}
    if entry["agent"] == "hermes" and "credential" in provider:
        agent["auth"] = {"method": "api-key"}
    harness = {"kind": entry["agent"]}
    if entry.get("config"):
        harness["settings"] = _plain(entry["config"])
    # Written out even where it is only NemoClaw's default: the document says what NemoClaw would
    # enforce. A fleet tier or preset it cannot carry is reported by from_agents.
    sandbox = {"name": name, "harness": harness, "agent": agent, "network": {"tier": "isolated"}}
    if not entry["presets"] and not entry["custom_presets"] and entry["tier"] == IMPORT_TIER and entry["policy_overlays"]:
        explicit = _explicit_from_overlays(entry["policy_overlays"])
        if explicit is not None:
            sandbox["network"] = {"policy": {"explicit": _plain(explicit)}}
    return sandbox


def default_uid(name):
    """A stable document UID for ``name`` (the same export twice is the same document)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "https://agentfleet.nemoclaw/nemoclawconfig/" + name))


def from_agents(agents, profiles=None, name=None, uid=None, extensions=False, variable=desired.VARIABLE):
    """Export ``nemoclaw_agents`` to a NemoClawConfig document: ``(doc, warnings)``.

    The agents are checked by ``desired.normalize`` first (errors name the inventory path). Agents
    with ``state: absent`` are left out. Keys the spec part cannot carry exactly are warned about,
    or with ``extensions`` kept under ``x-agentfleet.agents.<name>`` (a key NemoClaw refuses;
    :func:`to_agents` reads it back, so the round trip is lossless). ``name`` and ``uid`` are the
    document's metadata (default: the only sandbox's name, else ``agentfleet``; a UID derived
    from the name).
    """
    profiles = shipped_profiles() if profiles is None else profiles
    raw = _plain(agents) if agents is not None else None
    entries = desired.normalize(raw, variable)
    warnings, providers, sandboxes, kept = [], [], [], []
    for index, entry in enumerate(entries):
        if entry["state"] == "absent":
            warnings.append("%s: not exported: state is absent" % entry["path"])
            continue
        sandboxes.append(_export_sandbox(entry, profiles, providers, warnings))
        kept.append((entry, raw[index]))
    if not sandboxes:
        raise ConfigError(variable, "no agent to export: a NemoClawConfig needs at least one sandbox")
    name = name or (sandboxes[0]["name"] if len(sandboxes) == 1 else "agentfleet")
    if not _NAME_RE.fullmatch(name):
        raise ConfigError("metadata.name", "%r is not a lowercase name ([a-z][a-z0-9-], at most 40 characters)" % name)
    uid = uid or default_uid(name)
    if not _UID_RE.fullmatch(uid):
        raise ConfigError("metadata.uid", "%r is not a lowercase UUID" % uid)
    doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name, "uid": uid},
           "spec": {"gateway": {"management": "managed"}, "inferenceProviders": providers, "sandboxes": sandboxes}}
    # What the spec alone conveys, read back: every key that differs is an extension or a warning.
    back, _secrets, _warnings = to_agents(copy.deepcopy(doc), profiles)
    back = dict((e["name"], e) for e in desired.normalize(back, variable))
    lost = {}
    for entry, given in kept:
        again = back[entry["name"]]
        # The value as the user wrote it (a normalised value is not always valid input again).
        diff = dict((key, given.get(key)) for key in desired.SCHEMA
                    if key not in ("name", "agent") and entry[key] != again[key])
        if diff:
            lost[entry["name"]] = diff
    if lost and extensions:
        # The document is written out: a credential value rendered into an agent's keys stops here.
        for entry, _given in kept:
            _scan_secrets(lost.get(entry["name"], {}), entry["path"], fleet=True)
        doc[EXTENSION] = {"version": EXTENSION_VERSION, "agents": lost}
    elif lost:
        for entry, _given in kept:
            for key in sorted(lost.get(entry["name"], {})):
                reason = NO_FIELD_REASON.get(key) or "NemoClawConfig has no field for it"
                warnings.append("%s: not exported (%s; export with extensions to keep it under %s)"
                                % (_j(entry["path"], key), reason, EXTENSION))
    return doc, warnings
