# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The host layer under the agents, checked inside ``nemoclaw_apply``'s own execution (site.yml's quick path).

``site.yml`` runs ``nemoclaw_apply`` with ``host_base`` first. In that one module execution the apply takes
the host lock, then checks that the host layer is exactly as the preflight, gpu and openshell roles would
leave it, with the same code those roles run:

* the host checks (``preflight_run.run``: the same measurements and verdicts as ``nemoclaw_preflight``),
  the saved report unchanged, and the GPU checks (``gpu.judge``);
* the OpenShell CLI at the pinned version (and the gateway executable, when the role runs the gateway);
* the gateway's directories and files (``files.converge`` in check mode: what ``nemoclaw_files`` would do);
* the gateway's supervisor: ``external`` (nothing for the role to run), or ``process`` with its gateway
  running from the role's pidfile (what ``openshell-gatewayctl status`` reports); ``systemd_user`` always
  takes the roles (the unit, its state and the user manager are the role's to check);
* the CLI's registration of the gateway (``compare.gateway_registration_differences``) and its status
  ``connected`` (what ``openshell_gateway`` waits for).

Only when every check holds does the apply converge the agents, then releases the lock. Otherwise it changes
nothing, releases the lock and returns ``host_base_needed`` with the reasons; site.yml then runs the roles
(which repair or fail the host, naming the problem) and the apply again. The checks are conservative: anything
they cannot vouch for is a reason, never a pass.
"""

from __future__ import annotations

import os

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import files as fileslib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu as gpulib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import preflight_run
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import OpenShellError, installed_version

# The options of nemoclaw_apply's host_base (documented in plugins/modules/nemoclaw_apply.py).
GPU_SPEC = dict((k, v) for k, v in gpulib.ARGUMENT_SPEC.items() if k != "gathered")
ARGUMENT_SPEC = dict(
    lock=dict(type="dict", default={}, options=dict(
        enabled=dict(type="bool", default=True),
        owner=dict(type="str"),
        owner_info=dict(type="dict", default={}),
        path=dict(type="path", default="~/.local/state/agentfleet-nemoclaw/site.lock"),
        ttl=dict(type="int", default=3600),
        takeover=dict(type="list", elements="str", default=[]),
    )),
    preflight=dict(type="dict", required=True, options=preflight_run.ARGUMENT_SPEC),
    gpu=dict(type="dict", required=True, options=GPU_SPEC),
    openshell=dict(type="dict", required=True, options=dict(
        version=dict(type="str", required=True),
        path=dict(type="str", required=True),
        supervisor=dict(type="str", required=True),
        problems=dict(type="list", elements="str", default=[]),
        directories=dict(type="list", elements="dict", default=[], options=fileslib.ARGUMENT_SPEC["directories"]["options"]),
        files=dict(type="list", elements="dict", default=[], options=fileslib.ARGUMENT_SPEC["files"]["options"]),
        gateway_name=dict(type="str", required=True),
        gateway_endpoint=dict(type="str", required=True),
        gateway_local_tls=dict(type="bool", default=False),
        state_dir=dict(type="path"),
    )),
)

# Where the openshell role's process supervisor keeps the gateway's pid and local TLS bundle, under
# openshell_state_dir (roles/openshell/vars/main.yml __openshell_ctl_args, tasks/service_process.yml).
PROCESS_PIDFILE = "gateway.pid"
PROCESS_TLS_CA = "tls/ca.crt"
# What files/openshell-gatewayctl recognises as a gateway (its is_gateway): the program openshell-gateway, or the
# simulator's interpreter running this code.
GATEWAY_PROGRAM = "openshell-gateway"
SIM_GATEWAY_CODE = "from openshell_sim.gateway import main"


class _Differs(Exception):
    pass


class _CheckOnly(object):
    """What ``files.converge`` and ``preflight_run.save_report`` need of a module, in check mode: they only compare."""

    check_mode = True
    _diff = False

    @staticmethod
    def fail_json(msg, **_kwargs):
        raise _Differs(msg)


def check(module, spec, client):
    """``(reasons, warnings, report)``: why the roles must run on this host (empty: nothing), the warnings of
    the host checks, and the preflight report."""
    reasons, warnings = [], []
    pre, gpu, osh = spec["preflight"], spec["gpu"], spec["openshell"]
    try:
        # The report is compared, not written here: when it must be saved, the preflight role does it.
        # The setup facts the role returns (env, service_mgr, user) decide nothing here: not gathered.
        report, measured, extra, warns, failure = preflight_run.run(module, dict(pre, report_path=None, gather_facts=[]))
    except InputError as exc:
        return ["preflight: %s" % exc], warnings, None
    warnings.extend(warns)
    failing = [c["id"] for c in report["checks"] if c["status"] == "fail"]
    if failure or failing:
        reasons.append(failure or "host checks failing: %s" % ", ".join(failing))
    if pre["report_path"] and preflight_run.save_report(_CheckOnly(), pre["report_path"], report)["changed"]:
        reasons.append("the host checks' verdicts differ from the saved report %s" % pre["report_path"])

    gathered = extra.get("gpu")
    try:
        gpulib.check_options(gpu)
    except InputError as exc:
        reasons.append("gpu: %s" % exc)
    else:
        if gathered is None or not gpulib.same_inputs(gathered, gpu):
            reasons.append("the GPU facts are gathered by the gpu role itself")
        else:
            rep = gpulib.judge(gathered["facts"], gpu)
            warns, failure = gpulib.verdict(rep, gpu)
            warnings.extend(warns)
            failing = [c["id"] for c in rep["checks"] if c["status"] == "fail"]
            if failure or failing:
                reasons.append(failure or "GPU checks failing: %s" % ", ".join(failing))

    if osh["problems"]:
        reasons.append("openshell: %s" % " ".join(osh["problems"]))
    probe = measured.get("openshell")
    if osh["supervisor"] == "process":
        reasons.extend(_process(osh, probe))
    elif osh["supervisor"] != "external":
        reasons.append("the gateway's %s supervisor is checked by the openshell role" % osh["supervisor"])
    if not probe or probe.get("path") != osh["path"]:
        reasons.append("the host checks did not read %s --version" % osh["path"])
    elif installed_version(probe) != osh["version"]:
        reasons.append("OpenShell %s is installed, %s is pinned" % (installed_version(probe) or "(none)", osh["version"]))
    elif client.openshell_path == osh["path"]:
        client.assume_version(installed_version(probe))

    try:
        dirs, wanted = fileslib.plan({"directories": osh["directories"], "files": osh["files"]})
        differs = fileslib.converge(_CheckOnly(), dirs, wanted)
    except (ValueError, _Differs, IOError, OSError) as exc:
        reasons.append("gateway files: %s" % exc)
    else:
        changed = [d["path"] for d in differs["directories"] if d["action"] != "none"] + \
            [f["path"] for f in differs["files"] if f["action"] != "none"]
        if changed:
            reasons.append("gateway files differ: %s" % ", ".join(changed))

    if not reasons:
        reasons.extend(_gateway(client, osh))
    return reasons, warnings, report


def _process(osh, probe):
    """What the openshell role's ``process`` supervisor would do here (``tasks/service_process.yml``), as
    reasons: none when the gateway executable is there, the local TLS bundle exists (when the gateway uses
    it) and the pidfile names a live gateway, the state ``openshell-gatewayctl status`` reports as running."""
    out = []
    gateway = (probe or {}).get("gateway") or {}
    if not gateway.get("executable"):
        out.append("the gateway executable %s is missing" % (gateway.get("path") or "(not checked by the host checks)"))
    state_dir = osh["state_dir"]
    if not state_dir:
        return out + ["the gateway's state directory is not known"]
    tls_ca = os.path.join(state_dir, PROCESS_TLS_CA)
    if osh["gateway_local_tls"] and not os.path.isfile(tls_ca):
        out.append("the gateway's local TLS bundle %s is missing" % tls_ca)
    pidfile = os.path.join(state_dir, PROCESS_PIDFILE)
    if gateway_pid(pidfile) is None:
        out.append("no gateway process runs from %s" % pidfile)
    return out


def gateway_pid(pidfile):
    """The pid ``pidfile`` names when it is a live OpenShell gateway, else None: files/openshell-gatewayctl's
    ``current_pid`` (the digits of the first line, the process alive, its program a gateway)."""
    try:
        with open(pidfile) as fh:
            digits = "".join(c for c in fh.readline() if c.isdigit())
        pid = int(digits) if digits else 0
        if pid <= 0:
            return None
        os.kill(pid, 0)
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            words = fh.read().decode("utf-8", "replace").split("\0")
    except (IOError, OSError, ValueError):
        return None
    if words[0].rsplit("/", 1)[-1] == GATEWAY_PROGRAM or any(SIM_GATEWAY_CODE in w for w in words):
        return pid
    return None


def _gateway(client, osh):
    """What ``openshell_gateway`` would change or wait for: registration differences, a status not connected."""
    name = osh["gateway_name"]
    try:
        current = next((g for g in client.gateway_list() if g.get("name") == name), None)
        diffs = compare.gateway_registration_differences(current, osh["gateway_endpoint"], osh["gateway_local_tls"])
        if diffs:
            return ["gateway %s registration differs: %s" % (name, ", ".join(diffs))]
        status = client.run_json(["status", "-o", "json", "--gateway", name], with_globals=False)
    except OpenShellError as exc:
        return ["gateway %s: %s" % (name, exc.message)]
    if (status or {}).get("status") != "connected":
        return ["gateway %s is %s" % (name, (status or {}).get("status") or "unknown")]
    return []
