# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Desired state + blueprints -> one serialisable plan per host (made on the controller).

:func:`plan_host` is the one place that maps the desired-state document (``desired.py``) to
what the host's apply (``apply.py``) converges: per agent its sandbox spec, composed policy,
providers, inference route, health command and backup; per host the providers and the one
``inference.local`` route they share. Every problem is a :class:`desired.DesiredStateError`
naming the inventory path of the value, raised before any host is touched.

The plan holds no secret value: providers name the ``nemoclaw_secrets`` entries their
credentials come from, and :func:`secrets_for` picks exactly those for the apply.
"""

from __future__ import annotations

import re

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import agentconfig
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as bplib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare, validate
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import (
    AGENT_HOME,
    DEFAULT_BACKUP_EXCLUDE,
    DEFAULT_BACKUP_TIMEOUT,
    DesiredStateError,
    normalize,
    secret_problem,
)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.hostplan import PLAN_FORMAT, digest, host_providers, host_route
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import PolicyError

SECRETS_VARIABLE = "nemoclaw_secrets"

# Blueprint error paths that are options of the agent entry, and where they are in the entry.
_ENTRY_PATHS = (
    ("profile", "profile"),
    ("tier", "tier"),
    ("presets", "presets"),
    ("custom_presets", "custom_presets"),
    ("overrides", "policy_overlays"),
    ("resource_profile", "resources.profile"),
    ("endpoint_url", "endpoint_url"),
    ("trusted_private_hosts", "trusted_private_hosts"),
    ("mcp_servers", "mcp_servers"),
)


def _entry_error(entry, exc, source):
    """A blueprint/policy error as a desired-state error at the entry's inventory path."""
    path = exc.path or ""
    if path.startswith("presets."):
        # A preset the entry names: point at its list item (one the tier adds keeps the key path).
        wanted = path[len("presets."):]
        for index, item in enumerate(entry["presets"] or []):
            if str(item).split(":", 1)[0].strip() == wanted:
                return DesiredStateError("%s.presets[%d]" % (entry["path"], index), exc.reason)
    for prefix, key in _ENTRY_PATHS:
        if path == prefix or path.startswith(prefix + "[") or path.startswith(prefix + "."):
            return DesiredStateError("%s.%s%s" % (entry["path"], key, path[len(prefix):]), exc.reason)
    if path.startswith("host_facts"):
        return DesiredStateError("%s.resources.profile" % entry["path"], "%s (%s)" % (exc.reason, path))
    where = "blueprint %s" % source
    return DesiredStateError("%s.blueprint" % entry["path"], "%s: %s%s" % (where, path + ": " if path else "", exc.reason))


def _credentials_given(secrets):
    return sorted(k for k in (secrets or {}) if secret_problem(k, secrets) is None)


def _missing_secret(entry, env, secrets, what):
    return DesiredStateError("%s.%s" % (SECRETS_VARIABLE, env), "%s (needed by %s of %s)"
                             % (secret_problem(env, secrets) or "is not set", what, entry["path"]))


def _agent_plan(entry, bp, secrets, host_facts):
    """The plan of one present agent (``entry`` normalised, ``bp`` loaded and verified)."""
    ext_agent = ((bp.ext.get("agent") or {}).get("name")) or bp.data["components"]["sandbox"].get("name")
    if ext_agent and ext_agent != entry["agent"]:
        raise DesiredStateError(entry["path"] + ".blueprint", "blueprint %s is for agent %r, not %r"
                                % (bp.source, ext_agent, entry["agent"]))
    manifests = [agentconfig.channel_manifest(ch["type"]) for ch in entry["channels"]]
    # Channel presets first: an access the entry gives the same preset wins.
    presets = [m["preset"] for m in manifests] + list(entry["presets"])
    overrides = list(entry["policy_overlays"]) + [mcp_layer(entry, i, server) for i, server in enumerate(entry["mcp_servers"])]
    try:
        bplan = bplib.plan(
            bp,
            profile=entry["profile"],
            tier=entry["tier"],
            presets=presets,
            custom_presets=entry["custom_presets"],
            overrides=overrides or None,
            trusted_private_hosts=entry["trusted_private_hosts"],
            openshell_version=None,  # gated on the host by the apply, with the version it reads
            host_facts=host_facts,
            credentials_given=_credentials_given(secrets),
            resource_profile=entry["resources"]["profile"],
            endpoint_url=entry["endpoint_url"],
        )
    except (bplib.BlueprintError, PolicyError) as exc:
        origin = getattr(exc, "origin", None)
        if origin and (exc.path or "").startswith("policy."):
            # An error in a layer the entry gave (a policy overlay, a custom preset, an MCP server's rule).
            exc.path = origin + exc.path[len("policy"):]
        raise _entry_error(_shifted(entry, exc), exc, bp.source)

    inference = dict(bplan["inference"])
    if entry["model"]:
        inference["model"] = entry["model"]
    route = {"provider": inference["provider_name"], "model": inference["model"],
             "timeout_secs": inference.get("timeout_secs")}
    providers = []
    for prov in bplan["providers"]:
        creds = []
        for cred in prov["credentials"]:
            if cred["source"] == "missing":
                raise _missing_secret(entry, cred["env"], secrets, "inference profile %s (provider %s)"
                                      % (inference["profile"], prov["name"]))
            creds.append(dict(cred))
        providers.append({"name": prov["name"], "type": prov["type"], "credentials": creds,
                          "config": dict(prov.get("config") or {}), "origin": "inference profile %s" % inference["profile"]})
    for i, prov in enumerate(entry["providers"]):
        for name in prov["credentials"]:
            if secret_problem(name, secrets):
                raise _missing_secret(entry, name, secrets, "provider %s (providers[%d])" % (prov["name"], i))
        providers.append({"name": prov["name"], "type": prov["type"], "config": dict(prov["config"]),
                          "credentials": [{"key": n, "env": n, "source": "given"} for n in prov["credentials"]],
                          "origin": "providers[%d]" % i})
    channels = []
    for i, (chan, manifest) in enumerate(zip(entry["channels"], manifests)):
        provs = agentconfig.channel_providers(entry["name"], manifest)
        for prov in provs:
            secret = chan["credentials"][prov["key"]]
            if secret_problem(secret, secrets):
                raise _missing_secret(entry, secret, secrets, "channel %s (channels[%d])" % (chan["type"], i))
            providers.append({"name": prov["name"], "type": prov["type"], "config": {},
                              "credentials": [{"key": prov["key"], "env": secret, "source": "given"}],
                              "origin": "channels[%d]" % i})
        channels.append({"type": chan["type"], "credentials": dict(chan["credentials"]),
                         "providers": [p["name"] for p in provs], "preset": manifest["preset"],
                         "health": list(manifest["health"][entry["agent"]])})
    names = [p["name"] for p in providers]
    if len(set(names)) != len(names):
        dup = sorted(set(n for n in names if names.count(n) > 1))[0]
        raise DesiredStateError(entry["path"] + ".providers", "provider %r is also the inference profile's provider "
                                "or a channel's" % dup)

    res = entry["resources"]
    labels = dict(entry["labels"])
    labels.update(bplan["labels"])
    sandbox = {
        "name": entry["name"],
        "image": bplan["sandbox"]["image"],
        "cpu": res["cpu"] or bplan["sandbox"]["cpu"],
        "memory": res["memory"] or bplan["sandbox"]["memory"],
        "gpu": res["gpu"],
        "env": dict(entry["env"]),
        "labels": labels,
        "providers": sorted(names),
        "approval_mode": entry["approval_mode"],
    }
    for field, reason in validate.sandbox_size_problems(sandbox["env"], labels, names, len(compare.MANAGED_LABELS)):
        raise DesiredStateError("%s.%s" % (entry["path"], field), reason)
    if entry.get("restart_policy"):
        # Only when set, so the plans (and digests) of agents without one stay as they were.
        sandbox["restart_policy"] = entry["restart_policy"]
    backup = entry["backup"]
    out = {
        "name": entry["name"],
        "path": entry["path"],
        "agent": entry["agent"],
        "state": entry["state"],
        "on_replace": entry["on_replace"],
        "recreate": entry["recreate"],
        "blueprint": dict(bplan["blueprint"], source=bp.source),
        "openshell": {"min": bplan["versions"]["openshell"]["min"], "max": bplan["versions"]["openshell"]["max"]},
        "sandbox": sandbox,
        "policy": bplan["policy"],
        "provenance": bplan["provenance"],
        "tier": bplan["tier"],
        "presets": bplan["presets"],
        "inference": inference,
        "route": route,
        "providers": providers,
        "health_command": list(bplan["health_command"]) if entry["health_check"] else [],
        "backup": backup_plan(backup),
    }
    if entry["config"] or channels or entry["mcp_servers"]:
        # Only when asked for, so the plans (and digests) of agents without any stay as they were.
        out["channels"] = channels if entry["health_check"] else [dict(c, health=[]) for c in channels]
        out["mcp_servers"] = [dict(s) for s in entry["mcp_servers"]]
        out["config"] = config_plan(entry, inference["model"], manifests)
    channel_presets = dict((c["preset"], "channels[%d]" % i) for i, c in enumerate(channels))
    out["presets"] = [dict(p, channel=channel_presets[p["name"]]) if p["name"] in channel_presets else p
                      for p in out["presets"]]
    out["plan_digest"] = digest(out)
    return out


def mcp_layer(entry, index, server):
    """The policy layer of one MCP server: its host and port, bound to the agent's binaries."""
    key = "mcp_" + re.sub(r"[^a-z0-9_]", "_", server["name"])
    return {"name": "mcp:%s" % server["name"], "source": "%s.mcp_servers[%d]" % (entry["path"], index),
            "network_policies": {key: {
                "name": key,
                "endpoints": [{"host": server["host"], "port": server["port"], "protocol": "rest",
                               "enforcement": "enforce", "access": "read-write"}],
                "binaries": [{"path": p} for p in agentconfig.AGENT_BINARIES[entry["agent"]]],
            }}}


def _shifted(entry, exc):
    """Errors of an MCP server's layer (overrides after the entry's own) point at mcp_servers[i]."""
    match = re.match(r"overrides\[(\d+)\](.*)$", exc.path or "")
    count = len(entry["policy_overlays"])
    if match and int(match.group(1)) >= count:
        exc.path = "mcp_servers[%d]%s" % (int(match.group(1)) - count, match.group(2))
        return dict(entry, path=entry["path"])
    return entry


def config_plan(entry, model, manifests):
    """The agent's configuration file: where, its format, and the tree the collection manages in it."""
    managed = agentconfig.render_managed(entry["agent"], model, list(zip(manifests, entry["channels"])),
                                         entry["mcp_servers"], entry["config"])
    return agentconfig.config_file(entry["agent"], managed)


def backup_plan(backup):
    """What a backup of the agent keeps: paths under the agent home, exclusions, how many kept; the time a step may
    take only when it is not the default (so that plans, and their digests, made before the option stay the same)."""
    out = {"paths": list(backup["paths"] or [AGENT_HOME]),
           "exclude": list(DEFAULT_BACKUP_EXCLUDE if backup["exclude"] is None else backup["exclude"]),
           "keep": backup["keep"]}
    if backup.get("timeout", DEFAULT_BACKUP_TIMEOUT) != DEFAULT_BACKUP_TIMEOUT:
        out["timeout"] = backup["timeout"]
    return out


def _absent_plan(entry):
    return {"name": entry["name"], "path": entry["path"], "agent": entry["agent"], "state": "absent",
            "on_replace": entry["on_replace"], "backup": backup_plan(entry["backup"])}


def plan_host(agents, secrets, load_blueprint, host_facts=None):
    """The host's plan from its ``nemoclaw_agents`` and ``nemoclaw_secrets``.

    :param load_blueprint: ``callable(entry) -> Blueprint``: resolves ``entry["blueprint"]``
        (None: the collection's blueprint of ``entry["agent"]``) and verifies its pin, raising
        ``DesiredStateError`` at ``entry["path"] + ".blueprint"``/``".blueprint_digest"``.
    :param host_facts: ``{"cpus", "memory_mb"}`` for a resource profile in percent, or None.
    """
    entries = normalize(agents)
    planned = []
    for entry in entries:
        if entry["state"] == "absent":
            planned.append(_absent_plan(entry))
            continue
        planned.append(_agent_plan(entry, load_blueprint(entry), secrets, host_facts))
    present = [a for a in planned if a["state"] != "absent"]
    check_channel_tokens(channel_token_uses(present, secrets))
    plan = {
        "format": PLAN_FORMAT,
        "agents": planned,
        "providers": host_providers(present),
        "inference": host_route(present),
    }
    plan["plan_digest"] = digest(plan)
    return plan


def channel_token_uses(agents, secrets, host=None):
    """``[(fingerprint, owner, where)]`` of every channel token of the planned ``agents`` (values never kept)."""
    uses = []
    for agent in agents:
        for i, chan in enumerate(agent.get("channels") or ()):
            for key, secret in sorted(chan["credentials"].items()):
                if secret_problem(secret, secrets):
                    continue
                field = "credential" if len(chan["credentials"]) == 1 else "credentials.%s" % key
                where = "%s%s.channels[%d].%s" % ("host %s " % host if host else "", agent["path"], i, field)
                uses.append((agentconfig.token_fingerprint(secrets[secret]), (host, agent["name"]), where))
    return uses


def check_channel_tokens(uses, only_host=None):
    """Refuse a channel token that two agents use (``only_host``: clashes that involve this host)."""
    for first, second in agentconfig.token_conflicts(uses):
        mine = [w for w in (second, first) if only_host is None or w.startswith("host %s " % only_host)]
        if not mine:
            continue
        where = mine[0]
        other = first if where == second else second
        path = where.split(" ", 2)[2] if where.startswith("host ") else where
        raise DesiredStateError(path, "uses the same token as %s; one bot token can drive one agent only (each "
                                      "agent needs a bot of its own)" % other)


def secret_names(plan):
    """The ``nemoclaw_secrets`` names the providers of ``plan`` read."""
    return sorted(set(cred["env"] for prov in plan.get("providers") or () for cred in prov.get("credentials") or ()
                      if cred.get("source") == "given"))


def check_rollback_secrets(target, previous):
    """A rollback's plan (``previous``) is read from the host's records: it may use no ``nemoclaw_secrets`` entry that
    the host's own plan (``target``, from its document) does not, or the host could ask for another's secrets."""
    foreign = sorted(set(secret_names(previous)) - set(secret_names(target)))
    if foreign:
        raise DesiredStateError("%s.%s" % (SECRETS_VARIABLE, foreign[0]),
                                "the plan recorded on the host needs it, but this host's nemoclaw_agents does not use "
                                "it: not sent for the rollback (roll back by applying the earlier document instead)")


def secrets_for(plan, secrets):
    """The values the apply needs, by ``nemoclaw_secrets`` name; nothing else leaves the controller."""
    out = {}
    for prov in plan.get("providers") or ():
        for cred in prov["credentials"]:
            if cred["source"] == "given":
                out[cred["env"]] = str(secrets[cred["env"]])
    return out
