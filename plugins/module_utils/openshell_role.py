# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The openshell role's variables: what is wrong with them, one sentence per problem, each naming its variable.

The role fails with all of them before any change (``roles/openshell/tasks/main.yml``), and site.yml's quick
path sends a host with any of them to the role. The rules on single values (ports, environment keys) are those
of ``validate.py``; this module only says which variable they apply to and how they combine.
"""

from __future__ import annotations

import json
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gateway_config, validate

_SHA256_HEX_RE = re.compile(r"[0-9A-Fa-f]{64}\Z")
_ENDPOINT_RE = re.compile(r"https?://")

# The variables ``problems`` reads (without the ``openshell_`` prefix), as the role's defaults name them.
FIELDS = ("version", "install_method", "package_src", "package_sha256", "gateway_port", "gateway_endpoint",
          "gateway_local_tls", "gateway_supervisor", "gateway_env", "gateway_config")


def _text(value):
    return "" if value is None else str(value)


def problems(values, host, service_mgr=None):
    """Sentences about the role's ``values`` (``{field: value}`` for ``FIELDS``) on ``host``.

    ``service_mgr``: the host's service manager fact (``ansible_facts.service_mgr``), None when not gathered.
    """
    v = dict((k, values.get(k)) for k in FIELDS)
    out = []
    if not _text(v["version"]):
        out.append("openshell_version must be set.")
    installs = _text(v["install_method"]) != "none"
    if installs and not _text(v["package_src"]):
        out.append("openshell_package_src is required unless openshell_install_method is none.")
    if installs and not _SHA256_HEX_RE.match(_text(v["package_sha256"])):
        out.append("openshell_package_sha256 must be 64 hex digits unless openshell_install_method is none (got %s)."
                   % json.dumps(v["package_sha256"]))
    if validate.port_problem(v["gateway_port"]):
        out.append("openshell_gateway_port must be 1-65535 (got %s)." % _text(v["gateway_port"]))
    endpoint = _text(v["gateway_endpoint"])
    if not _ENDPOINT_RE.match(endpoint):
        out.append("openshell_gateway_endpoint must start with http:// or https:// (got %s)." % endpoint)
    elif endpoint.startswith("https://") and not boolean(v["gateway_local_tls"], strict=False):
        out.append("openshell_gateway_endpoint is https:// (%s), which needs openshell_gateway_local_tls=true." % endpoint)
    if v["gateway_supervisor"] == "systemd_user" and service_mgr != "systemd":
        out.append("openshell_gateway_supervisor=systemd_user needs systemd, but the service manager of %s is %s. "
                   "Set openshell_gateway_supervisor=process to run the gateway as a detached process with a pidfile, "
                   "or external when something else runs it." % (host, service_mgr or "unknown"))
    out.extend(p + "." for p in validate.env_problems(v["gateway_env"] if v["gateway_env"] is not None else {},
                                                      "openshell_gateway_env"))
    if v["gateway_config"] is not None:
        # What gateway.toml would be made of (the gateway_* variables): a value TOML cannot hold.
        out.extend(gateway_config.problems(v["gateway_config"]))
    return out
