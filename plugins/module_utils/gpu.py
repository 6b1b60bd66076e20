# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Gathering the GPU facts of a host, and checking the options that judge them.

Used on the host by ``nvidia_gpu_facts`` and by ``nemoclaw_preflight`` (option ``gpu``: the same
facts gathered in the preflight's module execution), and on the controller by the
``nvidia_gpu_facts`` action plugin, which judges facts gathered earlier in the play without a
module execution of its own. The parsers and the checks themselves are in ``nvidia_smi.py``.

The gathering calls ``module.run_command`` and ``module.get_bin_path`` of an ``AnsibleModule``;
``host`` is a ``preflight.HostRoot`` (a root directory for tests, ``/`` in production).
"""

from __future__ import annotations

import glob
import os

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import nvidia_smi as smi
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError

TOOLKIT_BINARIES = ("nvidia-ctk", "nvidia-container-runtime", "nvidia-container-toolkit")
BIN_DIRS = ("/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin", "/sbin")
TOOLKIT_CONFIG = "/etc/nvidia-container-runtime/config.toml"
DEFAULT_CDI_DIRS = ["/etc/cdi", "/var/run/cdi"]

# What decides which facts are gathered: facts gathered with other values are not these facts.
GATHER_INPUTS = ("nvidia_smi_path", "root", "cdi_spec_dirs")

# The options of nvidia_gpu_facts, read by the module and by its action plugin (``gathered``: the latter only).
ARGUMENT_SPEC = dict(
    nvidia_smi_path=dict(type="path", default="nvidia-smi"),
    root=dict(type="path", default="/"),
    cdi_spec_dirs=dict(type="list", elements="path", default=list(DEFAULT_CDI_DIRS)),
    required_count=dict(type="int", default=0),
    min_driver_version=dict(type="str"),
    allow_mig=dict(type="bool", default=True),
    require_container_toolkit=dict(type="bool"),
    timeout=dict(type="int", default=60),
    fail_on_error=dict(type="bool", default=False),
    gathered=dict(type="dict"),
)


def check_options(params):
    """Fail early, naming the field, on a check option no GPU could satisfy or no reader could parse."""
    if params.get("required_count") is not None and int(params["required_count"]) < 0:
        raise InputError("required_count", "must be 0 or more, got %s" % params["required_count"])
    if params.get("min_driver_version") and smi.version_tuple(params["min_driver_version"]) is None:
        raise InputError("min_driver_version", "must be a dotted version such as 535.104, got %r"
                         % params["min_driver_version"])
    if params.get("timeout") is not None and int(params["timeout"]) < 1:
        raise InputError("timeout", "must be a positive number of seconds, got %s" % params["timeout"])


def judge(facts, params):
    """The report of the GPU checks on ``facts`` with the thresholds in ``params``."""
    checks = smi.gpu_checks(facts, required_count=int(params.get("required_count") or 0),
                            min_driver_version=params.get("min_driver_version"),
                            allow_mig=params.get("allow_mig", True),
                            require_container_toolkit=params.get("require_container_toolkit"))
    return smi.report(checks)


def verdict(rep, params):
    """``(warnings, failure)`` of a ``judge()`` report for the task (``nvidia_smi.verdict``)."""
    return smi.verdict(rep, "GPU checks", params.get("fail_on_error"))


def same_inputs(gathered, params):
    """True when ``gathered`` (a ``gather()`` result) was gathered with the inputs in ``params``."""
    gathered = gathered or {}
    inputs = gathered.get("inputs") or {}
    for key in GATHER_INPUTS:
        want, got = params.get(key), inputs.get(key)
        if key == "cdi_spec_dirs":
            want, got = list(want or []), list(got or [])
        elif key == "root":
            want, got = os.path.normpath(want or "/"), os.path.normpath(got or "/")
        if want != got:
            return False
    return isinstance(gathered.get("facts"), dict)


def _find_smi(module, path):
    if os.sep in path:
        return path if os.access(path, os.X_OK) else None
    return module.get_bin_path(path)


def _run(module, argv, timeout, log):
    try:
        rc, out, err = module.run_command(["timeout", str(timeout)] + argv if module.get_bin_path("timeout") else argv,
                                          environ_update={"LC_ALL": "C"})
    except OSError as exc:  # the binary vanished between lookup and call
        rc, out, err = 127, "", str(exc)
    log.append({"argv": argv, "rc": rc})
    if rc == 124:
        err = "nvidia-smi did not answer within %d seconds" % timeout
    return rc, out, err


def _gather_smi(module, path, timeout, log):
    binary = _find_smi(module, path)
    if not binary:
        facts = smi.merge()
        facts["problem"] = smi.driver_problem(None, found=False)
        return facts
    csv_facts = xml_facts = None
    rc, out, err = _run(module, [binary, "--query-gpu=" + ",".join(smi.QUERY_FIELDS), "--format=csv,nounits"],
                        timeout, log)
    if rc == 124:
        problem = {"kind": "timeout", "rc": rc, "detail": err, "message": err}
    else:
        problem = smi.driver_problem(rc, out, err)
    if problem is None:
        try:
            csv_facts = smi.parse_query_csv(out)
        except smi.ParseError as exc:
            problem = {"kind": "error", "rc": rc, "detail": str(exc), "message": "unreadable nvidia-smi CSV: %s" % exc}
    xml_error = None
    # The XML adds the CUDA version and MIG devices; it is also the fallback when
    # the CSV query itself failed for a non-driver reason (an old driver without
    # some query field).
    if problem is None or problem["kind"] == "error":
        rc, out, err = _run(module, [binary, "-q", "-x"], timeout, log)
        xml_problem = smi.driver_problem(rc, out, err)
        if xml_problem is None:
            try:
                xml_facts = smi.parse_xml(out)
            except smi.ParseError as exc:
                xml_error = str(exc)
        else:
            xml_error = xml_problem["message"]
        if xml_facts is not None and problem is not None:
            problem = None
    facts = smi.merge(xml_facts, csv_facts)
    facts["problem"] = problem
    if xml_error and csv_facts is not None:
        facts["xml_error"] = xml_error
    return facts


def _gather_toolkit(module, host):
    binaries = {}
    for name in TOOLKIT_BINARIES:
        found = None
        for d in BIN_DIRS:
            if os.path.isfile(host.path(os.path.join(d, name))):
                found = os.path.join(d, name)
                break
        if found is None and host.is_live:
            found = module.get_bin_path(name)
        if found:
            binaries[name] = found
    config = TOOLKIT_CONFIG if host.exists(TOOLKIT_CONFIG) else None
    return {"present": bool(binaries), "binaries": binaries, "config": config}


def _gather_cdi(host, dirs):
    specs, kinds = [], []
    for d in dirs:
        for pattern in ("*.yaml", "*.yml", "*.json"):
            for path in sorted(glob.glob(os.path.join(host.path(d), pattern))):
                rel = os.path.join(d, os.path.basename(path))
                kind = smi.cdi_nvidia_kinds(host.read(rel, limit=256 * 1024))
                if kind:
                    specs.append(rel)
                    if kind not in kinds:
                        kinds.append(kind)
    return {"present": bool(specs), "specs": specs, "kinds": kinds}


def gather(module, host, nvidia_smi_path="nvidia-smi", cdi_spec_dirs=None, timeout=60):
    """``{"facts", "commands", "inputs"}``: the host's GPU facts, the nvidia-smi calls made, what decided them."""
    cdi_spec_dirs = list(DEFAULT_CDI_DIRS if cdi_spec_dirs is None else cdi_spec_dirs)
    log = []
    facts = _gather_smi(module, nvidia_smi_path, timeout, log)
    facts["driver_answered"] = facts["problem"] is None or facts["problem"]["kind"] == "no_devices"
    facts["container_toolkit"] = _gather_toolkit(module, host)
    facts["cdi"] = _gather_cdi(host, cdi_spec_dirs)
    facts["dgx"] = smi.dgx_facts(host.read("/etc/dgx-release"), facts["gpus"])
    return {"facts": facts, "commands": log,
            "inputs": {"nvidia_smi_path": nvidia_smi_path, "root": host.root, "cdi_spec_dirs": cdi_spec_dirs}}
