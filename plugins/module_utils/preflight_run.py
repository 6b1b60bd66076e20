# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The host side of the readiness checks: measure the host, evaluate, save the report.

Shared by the ``nemoclaw_preflight`` module and the host check that ``nemoclaw_apply`` runs in its own
execution (``module_utils/hostbase.py``): both take the same options (``ARGUMENT_SPEC``) and call
:func:`run`, so the two judge a host the same way. The evaluation itself is ``module_utils/preflight.py``.
"""

from __future__ import annotations

import getpass
import json
import os
import socket

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu as gpu_facts
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import preflight as pf
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.nvidia_smi import verdict
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import write_atomic

_D = pf.DEFAULTS

# The options of nemoclaw_preflight (documented there).
ARGUMENT_SPEC = dict(
    root=dict(type="path", default="/"),
    compute_driver=dict(type="str", default=_D["compute_driver"], choices=["docker", "podman", "none"]),
    docker_path=dict(type="path", default="docker"),
    podman_path=dict(type="path", default="podman"),
    supervisor=dict(type="str", default=_D["supervisor"], choices=["none", "systemd-user", "systemd-system"]),
    user=dict(type="str"),
    state_dirs=dict(type="dict", default={}),
    gateway_port=dict(type="int", default=_D["gateway_port"]),
    gateway_process_names=dict(type="list", elements="str", default=list(_D["gateway_process_names"])),
    dns_hosts=dict(type="list", elements="str", default=[]),
    min_cpus=dict(type="int", default=_D["min_cpus"]),
    min_memory_gib=dict(type="float", default=_D["min_memory_gib"]),
    recommended_memory_gib=dict(type="float", default=_D["recommended_memory_gib"]),
    min_memory_plus_swap_mib=dict(type="int", default=_D["min_memory_plus_swap_mib"]),
    min_free_disk_gib=dict(type="float", default=_D["min_free_disk_gib"]),
    recommended_free_disk_gib=dict(type="float", default=_D["recommended_free_disk_gib"]),
    min_glibc_version=dict(type="str", default=_D["min_glibc_version"]),
    min_docker_version=dict(type="str", default=_D["min_docker_version"]),
    min_podman_version=dict(type="str", default=_D["min_podman_version"]),
    require_landlock=dict(type="bool", default=_D["require_landlock"]),
    fail_on_error=dict(type="bool", default=False),
    fail_on_warning=dict(type="bool", default=False),
    openshell_path=dict(type="str"),
    openshell_gateway_path=dict(type="str"),
    paths=dict(type="list", elements="path", default=[]),
    report_path=dict(type="path"),
    gather_facts=dict(type="list", elements="str", default=[], choices=["env", "service_mgr", "user"]),
    gpu=dict(type="dict", options=dict(
        nvidia_smi_path=dict(type="path", default="nvidia-smi"),
        cdi_spec_dirs=dict(type="list", elements="path", default=list(gpu_facts.DEFAULT_CDI_DIRS)),
        timeout=dict(type="int", default=60),
    )),
)


THRESHOLDS = ("min_cpus", "min_memory_gib", "recommended_memory_gib", "min_memory_plus_swap_mib", "min_free_disk_gib",
              "recommended_free_disk_gib", "min_glibc_version", "min_docker_version", "min_podman_version",
              "require_landlock", "gateway_port", "gateway_process_names", "compute_driver", "supervisor")


def validate(p):
    for name in ("min_cpus", "min_memory_plus_swap_mib"):
        if p[name] < 0:
            raise InputError(name, "must be 0 or more, got %s" % p[name])
    for name in ("min_memory_gib", "recommended_memory_gib", "min_free_disk_gib", "recommended_free_disk_gib"):
        if p[name] < 0:
            raise InputError(name, "must be 0 or more, got %s" % p[name])
    for name in ("min_glibc_version", "min_docker_version", "min_podman_version"):
        if pf.version_ge("0", p[name]) is None:
            raise InputError(name, "must be a dotted version such as 2.28, got %r" % p[name])
    if not 1 <= p["gateway_port"] <= 65535:
        raise InputError("gateway_port", "must be a TCP port (1-65535), got %s" % p["gateway_port"])
    for name, path in (p["state_dirs"] or {}).items():
        if not isinstance(path, str) or not path:
            raise InputError("state_dirs", "%s: expected a path string, got %r" % (name, path))
    if p["gpu"] is not None:
        try:
            gpu_facts.check_options({"timeout": p["gpu"]["timeout"]})  # the one GPU check that applies here
        except InputError as exc:
            raise InputError("gpu." + exc.field, exc.reason)


def find_binary(module, path):
    """An explicit path must be executable; a bare name is looked up in PATH (and the sbin dirs)."""
    if os.sep in path:
        return path if os.access(path, os.X_OK) else None
    return module.get_bin_path(path)


def engine_info(module, name, path):
    binary = find_binary(module, path)
    if not binary:
        return pf.parse_engine_info(name, None, "", "", found=False)
    fmt = "{{json .}}" if name == "docker" else "json"
    rc, out, err = module.run_command([binary, "info", "--format", fmt], environ_update={"LC_ALL": "C"})
    return pf.parse_engine_info(name, rc, out, err)


def resolve(host):
    try:
        infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, socket.herror, UnicodeError) as exc:
        return {"addresses": [], "error": str(exc)}
    return {"addresses": sorted(set(i[4][0] for i in infos)), "error": None}


def measure(module, p):
    host = pf.HostRoot(p["root"])
    path = p["docker_path"] if p["compute_driver"] == "docker" else p["podman_path"]
    dns = {}
    for endpoint in p["dns_hosts"]:
        name = pf.endpoint_host(endpoint)
        if name and name not in dns:
            dns[name] = resolve(name)
    user = p["user"] or getpass.getuser()
    return {
        "platform": pf.measure_platform(host),
        "glibc": pf.measure_glibc(host),
        "cpus": pf.measure_cpus(host),
        "memory": pf.measure_memory(host),
        "disks": dict((name, pf.measure_disk(host, d)) for name, d in (p["state_dirs"] or {}).items()),
        "engine": engine_info(module, p["compute_driver"], path) if p["compute_driver"] != "none" else {},
        "lsm": pf.measure_lsm(host),
        "seccomp": pf.measure_seccomp(host),
        "cgroup": pf.measure_cgroup(host),
        "port": pf.measure_port(host, p["gateway_port"], p["gateway_process_names"]),
        "dns": dns,
        "systemd": pf.measure_systemd(host, user) if p["supervisor"] != "none" else None,
    }


def executable(module, path):
    """``{path, executable}``: whether ``path`` (or the command of that name on PATH) is an executable file."""
    exe = find_binary(module, path)
    return {"path": path, "executable": bool(exe) and os.path.isfile(exe)}


def openshell_version(module, path):
    """``openshell --version`` as ``{path, rc, stdout, stderr}``; rc 127 when the executable is not found."""
    out = {"path": path, "rc": 127, "stdout": "", "stderr": "%s: not found" % path}
    exe = path if os.sep in path else module.get_bin_path(path)
    if not exe or not os.path.isfile(exe):
        return out
    try:
        rc, stdout, stderr = module.run_command([exe, "--version"], handle_exceptions=False)
    except (IOError, OSError) as exc:
        out["stderr"] = "%s: %s" % (path, exc)
        return out
    out.update(rc=rc, stdout=stdout, stderr=stderr)
    return out


def _verdicts(report):
    """What the saved report is compared on: each check's id and status."""
    try:
        return [(c["id"], c["status"]) for c in report["checks"]]
    except (KeyError, TypeError):
        return None


def save_report(module, path, report):
    """Write ``report`` as JSON to ``path`` when a verdict differs; return changed, report_path and diff.

    Measured values move between runs (free disk space, to 0.1 GiB), so comparing them would make
    every run a change. The file is rewritten when a check appears, disappears or changes status.
    """
    text = json.dumps(report, indent=4, sort_keys=False) + "\n"
    try:
        with open(path) as fh:
            before = fh.read()
    except (IOError, OSError):
        before = None
    try:
        saved = _verdicts(json.loads(before)) if before is not None else None
    except ValueError:
        saved = None
    out = {"changed": saved is None or saved != _verdicts(report), "report_path": path}
    if module._diff and out["changed"]:
        out["diff"] = {"before": before or "", "after": text, "before_header": path, "after_header": path}
    if not out["changed"] or module.check_mode:
        return out
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        write_atomic(path, text, prefix=".preflight.")
    except (IOError, OSError) as exc:
        module.fail_json(msg="report_path: cannot save the report in %s: %s" % (path, exc), field="report_path")
    return out


def run(module, p):
    """Measure and evaluate with the options ``p``; ``(report, measured, extra, warnings, failure)``.

    ``extra``: ``changed``/``report_path``/``diff`` of the saved report, ``gpu`` and its ``ansible_facts`` as the
    module returns them (the ``gather_facts`` facts are the module's own: ``hostfacts``). ``failure`` is the
    message the task fails with (None when it does not). Raises ``InputError`` on an invalid option, before
    anything is measured.
    """
    validate(p)
    measured = measure(module, p)
    if p["openshell_path"]:
        measured["openshell"] = openshell_version(module, p["openshell_path"])
        if p["openshell_gateway_path"]:
            measured["openshell"]["gateway"] = executable(module, p["openshell_gateway_path"])
    measured["paths"] = [{"path": path, "exists": os.path.exists(path)} for path in p["paths"]]
    checks = pf.evaluate(measured, dict((k, p[k]) for k in THRESHOLDS))
    result = pf.report(checks)
    extra = {"changed": False}
    if p["report_path"]:
        extra = save_report(module, p["report_path"], result)
    if p["gpu"] is not None:
        g = p["gpu"]
        extra["gpu"] = gpu_facts.gather(module, pf.HostRoot(p["root"]), g["nvidia_smi_path"], g["cdi_spec_dirs"],
                                        g["timeout"])
        extra.setdefault("ansible_facts", {})["nvidia_gpu"] = extra["gpu"]["facts"]
    warnings, failure = verdict(result, "Preflight", p["fail_on_error"], p["fail_on_warning"])
    return result, measured, extra, warnings, failure
