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
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import installed_version

_SHA256_HEX_RE = re.compile(r"[0-9A-Fa-f]{64}\Z")
_ENDPOINT_RE = re.compile(r"https?://")

# The variables ``problems`` reads (without the ``openshell_`` prefix), as the role's defaults name them.
FIELDS = ("version", "install_method", "package_src", "package_sha256", "gateway_port", "gateway_endpoint",
          "gateway_local_tls", "gateway_supervisor", "gateway_env", "gateway_config", "archive_extra_opts",
          "path", "gateway_path", "config_dir", "state_dir", "install_prefix", "deb_install_root", "systemd_unit_dir")
# Paths the role writes into the gateway's systemd unit, its drop-in and the supervisor's command line.
PATH_FIELDS = ("path", "gateway_path", "config_dir", "state_dir", "install_prefix", "deb_install_root",
               "systemd_unit_dir")

# The tar options openshell_archive_extra_opts may pass: how the archive's tree is laid out and owned, never what
# tar runs or where else it writes (--to-command, --checkpoint-action, -C, --use-compress-program run commands or
# move the extraction).
_ARCHIVE_OPT_RE = re.compile(r"--strip-components=\d{1,2}\Z|--exclude=[A-Za-z0-9_.*?/-]{1,256}\Z|"
                             r"--(?:no-same-owner|no-same-permissions|no-overwrite-dir|keep-directory-symlink)\Z")


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
    if "@" in _text(v["package_src"]).partition("://")[2].partition("/")[0]:
        out.append("openshell_package_src carries user information (%s): credentials in the URL would be shown in "
                   "task output; give them in the host's ~/.netrc, or use a pre-signed URL"
                   % validate.display_url(_text(v["package_src"])))
    if installs and not _SHA256_HEX_RE.match(_text(v["package_sha256"])):
        out.append("openshell_package_sha256 must be 64 hex digits unless openshell_install_method is none (got %s)."
                   % json.dumps(v["package_sha256"]))
    if validate.port_problem(v["gateway_port"]):
        out.append("openshell_gateway_port must be 1-65535 (got %s)." % _text(v["gateway_port"]))
    endpoint = _text(v["gateway_endpoint"])
    if not _ENDPOINT_RE.match(endpoint):
        out.append("openshell_gateway_endpoint must start with http:// or https:// (got %s)." % endpoint)
    elif validate.endpoint_url_problem(endpoint):
        out.append("openshell_gateway_endpoint: %s." % validate.endpoint_url_problem(endpoint))
    elif endpoint.startswith("https://") and not boolean(v["gateway_local_tls"], strict=False):
        out.append("openshell_gateway_endpoint is https:// (%s), which needs openshell_gateway_local_tls=true." % endpoint)
    if v["gateway_supervisor"] == "systemd_user" and service_mgr != "systemd":
        out.append("openshell_gateway_supervisor=systemd_user needs systemd, but the service manager of %s is %s. "
                   "Set openshell_gateway_supervisor=process to run the gateway as a detached process with a pidfile, "
                   "or external when something else runs it." % (host, service_mgr or "unknown"))
    out.extend(p + "." for p in validate.env_problems(v["gateway_env"] if v["gateway_env"] is not None else {},
                                                      "openshell_gateway_env"))
    for field in PATH_FIELDS:
        if v[field] is not None:
            problem = validate.plain_path_problem(v[field])
            if problem:
                out.append("openshell_%s: %s." % (field, problem))
    for i, opt in enumerate(v["archive_extra_opts"] or []):
        if not isinstance(opt, str) or not _ARCHIVE_OPT_RE.match(opt):
            out.append("openshell_archive_extra_opts[%d] must be --strip-components=N, --exclude=PATTERN, --no-same-owner, "
                       "--no-same-permissions, --no-overwrite-dir or --keep-directory-symlink (got %s)."
                       % (i, json.dumps(opt) if isinstance(opt, str) else type(opt).__name__))
    if v["gateway_config"] is not None:
        # What gateway.toml would be made of (the gateway_* variables): a value TOML cannot hold.
        out.extend(gateway_config.problems(v["gateway_config"]))
    return out


def connect_host(bind_address):
    """The host the CLI and the role's port wait reach a gateway bound to ``bind_address`` at, as a URL writes it:
    a wildcard address is reached on loopback (``0.0.0.0`` and '' -> ``127.0.0.1``; ``::`` -> ``[::1]``), an IPv6
    address is bracketed, anything else is itself."""
    address = _text(bind_address).strip()
    if address in ("0.0.0.0", ""):
        return "127.0.0.1"
    if address in ("::", "[::]"):
        return "[::1]"
    if ":" in address:
        return "[%s]" % address.strip("[]")
    return address


def install_state(values):
    """What the role reads on the host about the OpenShell installation, and what it then does.

    ``values``:

    * ``version`` (the pinned one), ``install_method``, ``gateway_supervisor``, ``path`` (the CLI),
      ``gateway_path`` (the gateway executable): the role's variables;
    * ``handed``: ``openshell_cli_probe``, a reading of ``<path> --version`` made moments ago in the same play (the
      preflight role's, with ``path`` and ``gateway: {path, executable}``); used only when its paths are the role's;
    * ``installed``: the role's own reading of ``<path> --version`` (a command result), ``gateway_stat``: its own
      ``stat`` of the gateway executable; both absent before the role has read them.

    Returns:

    * ``read_cli``, ``read_gateway``: whether the role must read the CLI's version or stat the gateway executable
      itself (it was not handed a reading for its paths; the gateway only when the role runs it);
    * ``installed``: the version found, '' for none;
    * ``gateway_missing``: the role runs the gateway and its executable is gone (a deleted gateway is installed
      again even when the CLI reports the pinned version);
    * ``needs_install``; ``refusal``: why the role must fail instead of installing, '' when it may (or need not).
    """
    handed = values.get("handed") if isinstance(values.get("handed"), dict) else {}
    handed_gateway = handed.get("gateway") if isinstance(handed.get("gateway"), dict) else {}
    runs_gateway = values.get("gateway_supervisor") != "external"
    cli_handed = bool(handed) and handed.get("path") == values.get("path")
    gateway_handed = cli_handed and handed_gateway.get("path") == values.get("gateway_path")

    probe = handed if cli_handed else values.get("installed")
    installed = installed_version(probe)
    if gateway_handed:
        gateway_executable = bool(handed_gateway.get("executable"))
    else:
        stat = (values.get("gateway_stat") or {}).get("stat") if isinstance(values.get("gateway_stat"), dict) else None
        gateway_executable = bool(isinstance(stat, dict) and stat.get("executable"))
    gateway_missing = runs_gateway and not gateway_executable
    pinned = _text(values.get("version"))
    needs_install = installed != pinned or gateway_missing
    refusal = ""
    if needs_install and _text(values.get("install_method")) == "none":
        if installed == pinned:
            refusal = ("openshell_install_method=none, but the gateway executable openshell_gateway_path (%s) is missing "
                       "or not executable." % _text(values.get("gateway_path")))
        else:
            refusal = ("openshell_install_method=none, but %s reports %s instead of the pinned openshell_version %s."
                       % (_text(values.get("path")), json.dumps(installed or _probe_failure(probe)), pinned))
    return {"read_cli": not cli_handed, "read_gateway": runs_gateway and not gateway_handed,
            "installed": installed, "gateway_missing": gateway_missing, "needs_install": needs_install,
            "refusal": refusal}


def installed_problem(probe, version, path, package_src):
    """Why a fresh installation is not the pinned ``version`` (``probe``: the reading of ``<path> --version`` after
    it); '' when it is."""
    if installed_version(probe) == _text(version):
        return ""
    shown = ((probe or {}).get("stdout") or "").strip() if isinstance(probe, dict) and probe.get("rc") == 0 else ""
    return ('After installing %s, %s reports %s instead of "openshell %s".'
            % (validate.display_url(_text(package_src)), _text(path), json.dumps(shown or _probe_failure(probe)),
               _text(version)))


def _probe_failure(probe):
    """What a failed reading said: its message or its error output ('nothing' when neither)."""
    if not isinstance(probe, dict):
        return "nothing"
    return _text(probe.get("msg") or (probe.get("stderr") or "").strip() or "nothing")
