# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The host-wide part of a plan: its format, its digest, the providers and the one route the agents share.

``plan.plan_host`` builds a host's plan with these; the host-side rollback (``rollout.rollback_plan``)
rebuilds one from applied records with the same functions. They live apart from ``plan`` so that
``nemoclaw_apply``'s payload does not carry the blueprint loader and the schema the host never runs
(Ansible ships every module_utils a module imports, at any depth).
"""

from __future__ import annotations

import hashlib

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.desired import DesiredStateError

PLAN_FORMAT = 1


def digest(doc):
    return "sha256:" + hashlib.sha256(compare.canonical_json(doc).encode("utf-8")).hexdigest()


def host_providers(agents):
    """Providers of every present agent, once each; the same name must mean the same provider."""
    out, owner = {}, {}
    for agent in agents:
        for prov in agent.get("providers") or ():
            key = dict((k, prov[k]) for k in ("type", "config"))
            key["credentials"] = [(c["key"], c["env"], c.get("default")) for c in prov["credentials"]]
            if prov["name"] in out:
                if out[prov["name"]][1] != key:
                    raise DesiredStateError(
                        "%s.providers" % agent["path"],
                        "provider %r differs from the one of the same name that %s uses (%s); one gateway holds one "
                        "provider of a name" % (prov["name"], owner[prov["name"]], prov["origin"]))
                out[prov["name"]][0]["agents"].append(agent["name"])
                continue
            item = dict((k, prov[k]) for k in ("name", "type", "credentials", "config"))
            item["agents"] = [agent["name"]]
            out[prov["name"]] = (item, key)
            owner[prov["name"]] = agent["path"]
    return [out[name][0] for name in sorted(out)]


def host_route(agents):
    """The one ``inference.local`` route of the gateway; agents that need different ones are refused."""
    route, first = None, None
    for agent in agents:
        if route is None:
            route, first = agent["route"], agent
        elif agent["route"] != route:
            raise DesiredStateError(
                "%s.profile" % agent["path"],
                "needs inference route %s/%s but %s needs %s/%s; OpenShell has one inference.local route per gateway, "
                "so agents on one host must share it (same profile and model)"
                % (agent["route"]["provider"], agent["route"]["model"], first["path"], route["provider"], route["model"]))
    if route is None:
        return None
    return dict(route, agents=[a["name"] for a in agents])
