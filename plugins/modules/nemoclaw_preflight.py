#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: nemoclaw_preflight
short_description: Check that a host is ready for NemoClaw sandboxes on NVIDIA OpenShell
version_added: 0.1.0
description:
  - Read-only. Measures the host and returns a report of checks, each with a stable id, a status
    (C(pass), C(warn) or C(fail)), the measured value, the threshold and a message.
  - "Check ids: C(platform.os), C(platform.arch), C(platform.glibc), C(cpu.count), C(memory.total), C(swap),
    C(disk.<name>) per entry of O(state_dirs), C(engine.docker) or C(engine.podman), C(kernel.landlock),
    C(kernel.seccomp), C(kernel.cgroup_v2), C(gateway.port), C(dns.<host>) per entry of O(dns_hosts),
    and with a systemd O(supervisor) C(systemd.running) and (for C(systemd-user)) C(systemd.linger)."
  - Host files (C(/proc), C(/sys), C(/etc), C(/run), C(/var/lib)) are read below O(root); the container engine is
    asked with C(docker info) or C(podman info); names are resolved with the system resolver.
  - The module changes nothing on the host, except the report file when O(report_path) is set. It fails only on bad
    input, or on failed checks when O(fail_on_error=true).
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
attributes:
  check_mode:
    description: Can run in check mode and return a changed status prediction without modifying the target.
    support: full
    details: Check mode runs the same checks and writes no O(report_path).
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
    support: full
    details: The before and after text of the O(report_path) file.
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
    details: Changes nothing but the O(report_path) file, and that only when a check's status differs from the saved one.
options:
  root:
    description:
      - Path prefix under which host files (C(/proc), C(/sys), C(/etc), C(/run), C(/var/lib), C(/lib)) are read.
      - Use it to check a chroot, a mounted image or a container's view of a host, or a fixture tree in tests.
      - With a root other than C(/), the glibc version is read from the tree's C(libc.so.6), and kernel values
        come from the tree's C(/proc/sys/kernel) when present.
    type: path
    default: /
  compute_driver:
    description:
      - The OpenShell compute driver; selects the container engine that is checked.
      - V(none) checks no engine, for gateways whose compute runs elsewhere (Kubernetes, a remote driver) and for the
        OpenShell simulator.
    type: str
    choices: [docker, podman, none]
    default: docker
  docker_path:
    description: Path or name of the C(docker) executable.
    type: path
    default: docker
  podman_path:
    description: Path or name of the C(podman) executable.
    type: path
    default: podman
  supervisor:
    description:
      - How the OpenShell gateway is kept running. C(systemd-user) checks that systemd runs and that the user
        lingers; C(systemd-system) checks that systemd runs; C(none) checks neither.
    type: str
    choices: [none, systemd-user, systemd-system]
    default: none
  user:
    description: User whose lingering is checked for O(supervisor=systemd-user). Defaults to the user running the module.
    type: str
  state_dirs:
    description:
      - Directories whose file system needs free space, as C(name -> path). Each gives a check C(disk.<name>).
      - A path that does not exist yet is measured at its nearest existing parent. C(~) is expanded.
    type: dict
    default: {}
  gateway_port:
    description: TCP port of the OpenShell gateway. It must be free or held by a process named in O(gateway_process_names).
    type: int
    default: 8080
  gateway_process_names:
    description:
      - Process names (C(/proc/<pid>/comm)) that count as "our gateway" when they hold O(gateway_port).
      - Add C(docker-proxy) when the gateway is published by Docker's userland proxy.
    type: list
    elements: str
    default: [openshell-gateway]
  dns_hosts:
    description:
      - Inference endpoints (URLs or host names) that must resolve. Each gives a check C(dns.<host>).
    type: list
    elements: str
    default: []
  min_cpus:
    description: Fewer online CPUs fail C(cpu.count).
    type: int
    default: 4
  min_memory_gib:
    description: Less memory (C(MemTotal)) fails C(memory.total).
    type: float
    default: 8.0
  recommended_memory_gib:
    description: Less memory than this (but at least O(min_memory_gib)) warns in C(memory.total).
    type: float
    default: 16.0
  min_memory_plus_swap_mib:
    description: With no swap and memory below this, C(swap) warns.
    type: int
    default: 12000
  min_free_disk_gib:
    description: Less free space fails C(disk.<name>).
    type: float
    default: 20.0
  recommended_free_disk_gib:
    description: Less free space than this (but at least O(min_free_disk_gib)) warns in C(disk.<name>).
    type: float
    default: 40.0
  min_glibc_version:
    description: Minimum glibc version (C(platform.glibc)).
    type: str
    default: '2.28'
  min_docker_version:
    description: Minimum Docker server version (C(engine.docker)).
    type: str
    default: '28.0'
  min_podman_version:
    description: Minimum Podman version (C(engine.podman)).
    type: str
    default: '5.0'
  require_landlock:
    description: Whether a kernel without Landlock fails C(kernel.landlock) (otherwise it warns, best effort).
    type: bool
    default: false
  fail_on_error:
    description:
      - Fail the task, with the report, when a check fails; the message names every failing check with its message.
        By default the module succeeds and the caller decides.
      - Checks that warn are Ansible warnings of the task either way.
    type: bool
    default: false
  fail_on_warning:
    description: With O(fail_on_error=true), checks that warn fail the task too.
    type: bool
    default: false
  openshell_path:
    description:
      - Also read the version of this C(openshell) CLI (C(openshell --version)) into RV(measured.openshell), so a later
        step that decides on the installed version (the C(openshell) role in C(site.yml)) needs no probe of its own.
      - Not a check - the report saved on the host must not change when OpenShell gets installed.
    type: str
  openshell_gateway_path:
    description:
      - With O(openshell_path), also tell whether this gateway executable (C(openshell-gateway)) is present and
        executable, in C(gateway) of RV(measured.openshell), so the C(openshell) role reinstalls a deleted gateway, not only a
        CLI of another version. Not a check.
    type: str
  paths:
    description:
      - Also tell whether these files exist, in RV(measured.paths), in the same order (C(~) is expanded), for a later
        step that acts on them (the legacy credentials file of the C(credentials) role in C(site.yml)). Not a check.
    type: list
    elements: path
    default: []
  gpu:
    description:
      - Also gather the host's NVIDIA GPU facts, in this same module execution, as
        M(agentfleet.nemoclaw.nvidia_gpu_facts) does; they are returned in RV(gpu) and set as the fact C(nvidia_gpu).
        Not a check here - pass RV(gpu) to the O(agentfleet.nemoclaw.nvidia_gpu_facts#module:gathered) option of that
        module (the C(gpu) role's C(gpu_gathered)) to judge them on the controller without a second execution.
      - The files are read below O(root).
    type: dict
    suboptions:
      nvidia_smi_path:
        description: Path or name of C(nvidia-smi).
        type: path
        default: nvidia-smi
      cdi_spec_dirs:
        description: Directories (below O(root)) searched for NVIDIA CDI specs.
        type: list
        elements: path
        default: [/etc/cdi, /var/run/cdi]
      timeout:
        description: Seconds each C(nvidia-smi) call may take.
        type: int
        default: 60
  report_path:
    description:
      - Save the report as JSON in this file on the host (mode C(0600); missing parent directories are created with
        mode C(0700)). The file is rewritten, atomically, only when a check appears, disappears or changes status
        against the saved report, and then the task reports C(changed); measured values alone (free disk space) do not
        rewrite it. In check mode nothing is written.
      - The report is saved before O(fail_on_error) fails the task, so a failed host keeps the report of why.
    type: path
  gather_facts:
    description:
      - Also return these host facts, collected by Ansible's own fact collectors under the names
        M(ansible.builtin.setup) gives them, so later tasks need no separate C(setup) run.
      - V(env) gives C(ansible_facts.env); V(service_mgr) gives C(ansible_facts.service_mgr); V(user) gives
        C(ansible_facts.user_id), C(user_uid), C(user_gid), C(user_dir) and the other user facts.
      - C(ansible_facts.env) holds only the non-secret variables the roles read from the environment the module runs
        in (C(HOME), C(USER), C(LOGNAME), C(SHELL), C(PATH), C(LANG) and the C(XDG_*_HOME) / C(XDG_RUNTIME_DIR)
        directories), never the rest. On a local connection that environment is the controller's, and a token
        exported there would otherwise be returned (and printed at C(-v)).
    type: list
    elements: str
    choices: [env, service_mgr, user]
    default: []
notes:
  - The report holds no timestamp, so saving it gives identical content when nothing changed on the host.
seealso:
  - module: agentfleet.nemoclaw.nvidia_gpu_facts
"""

EXAMPLES = r"""
- name: Check the host with default thresholds and the Docker compute driver
  agentfleet.nemoclaw.nemoclaw_preflight:
    state_dirs:
      nemoclaw: ~/.nemoclaw
      images: /var/lib/docker
    dns_hosts:
      - https://integrate.api.nvidia.com/v1
  register: preflight

- name: Podman, gateway as a systemd user service, stricter thresholds, fail on any failed check
  agentfleet.nemoclaw.nemoclaw_preflight:
    compute_driver: podman
    supervisor: systemd-user
    min_cpus: 8
    min_memory_gib: 32
    require_landlock: true
    fail_on_error: true

- name: Check a mounted image of a host
  agentfleet.nemoclaw.nemoclaw_preflight:
    root: /mnt/host
"""

RETURN = r"""
report:
  description: The readiness report.
  returned: always
  type: dict
  contains:
    checks:
      description: Every check, in a stable order.
      type: list
      elements: dict
      contains:
        id:
          description: Stable check id, for example C(memory.total) or C(dns.integrate.api.nvidia.com).
          type: str
        status:
          description: C(pass), C(warn) or C(fail).
          type: str
        value:
          description: The measured value (number, string, list or null when unknown).
          type: raw
        threshold:
          description: What the value is compared with, or null.
          type: raw
        message:
          description: A sentence for humans.
          type: str
    failed:
      description: Ids of the failed checks.
      type: list
      elements: str
    warnings:
      description: Ids of the checks that warn.
      type: list
      elements: str
    passed:
      description: True when no check failed.
      type: bool
  sample:
    checks:
      - id: cpu.count
        status: pass
        value: 16
        threshold: 4
        message: 16 CPU(s), 4 required
    failed: []
    warnings: []
    passed: true
measured:
  description: The raw measurements the checks were computed from.
  returned: always
  type: dict
  contains:
    openshell:
      description:
        - With O(openshell_path) - C(path), and C(rc), C(stdout), C(stderr) of C(openshell --version) (C(rc) 127 when the
          CLI is not found); with O(openshell_gateway_path) also C(gateway), its C(path) and whether it is C(executable).
      type: dict
      returned: when O(openshell_path) is set
    paths:
      description: Per entry of O(paths), in order, its C(path) (expanded) and whether it C(exists).
      type: list
      elements: dict
      sample: [{"path": "/home/agent/.nemoclaw/credentials.json", "exists": false}]
gpu:
  description:
    - With O(gpu) - the GPU facts (C(facts), as the fact C(nvidia_gpu) of M(agentfleet.nemoclaw.nvidia_gpu_facts)), the
      C(nvidia-smi) calls made (C(commands)) and what decided the facts (C(inputs) - C(nvidia_smi_path), C(root),
      C(cdi_spec_dirs)).
  returned: when O(gpu) is set
  type: dict
report_path:
  description: The file the report was saved in (or would be, in check mode).
  returned: when O(report_path) is set
  type: str
ansible_facts:
  description:
    - The host facts named by O(gather_facts), as M(ansible.builtin.setup) returns them; with O(gpu), also C(nvidia_gpu).
  returned: when O(gather_facts) is not empty or O(gpu) is set
  type: dict
  sample: {"service_mgr": "systemd", "user_id": "agent", "user_uid": 1000}
"""

import getpass
import json
import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu as gpu_facts
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import preflight as pf
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.nvidia_smi import verdict
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import write_atomic

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


def measure(module):
    p = module.params
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


def main():
    d = pf.DEFAULTS
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
            compute_driver=dict(type="str", default=d["compute_driver"], choices=["docker", "podman", "none"]),
            docker_path=dict(type="path", default="docker"),
            podman_path=dict(type="path", default="podman"),
            supervisor=dict(type="str", default=d["supervisor"], choices=["none", "systemd-user", "systemd-system"]),
            user=dict(type="str"),
            state_dirs=dict(type="dict", default={}),
            gateway_port=dict(type="int", default=d["gateway_port"]),
            gateway_process_names=dict(type="list", elements="str", default=list(d["gateway_process_names"])),
            dns_hosts=dict(type="list", elements="str", default=[]),
            min_cpus=dict(type="int", default=d["min_cpus"]),
            min_memory_gib=dict(type="float", default=d["min_memory_gib"]),
            recommended_memory_gib=dict(type="float", default=d["recommended_memory_gib"]),
            min_memory_plus_swap_mib=dict(type="int", default=d["min_memory_plus_swap_mib"]),
            min_free_disk_gib=dict(type="float", default=d["min_free_disk_gib"]),
            recommended_free_disk_gib=dict(type="float", default=d["recommended_free_disk_gib"]),
            min_glibc_version=dict(type="str", default=d["min_glibc_version"]),
            min_docker_version=dict(type="str", default=d["min_docker_version"]),
            min_podman_version=dict(type="str", default=d["min_podman_version"]),
            require_landlock=dict(type="bool", default=d["require_landlock"]),
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
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        validate(p)
    except InputError as exc:
        module.fail_json(msg=str(exc), error_kind="invalid_input", field=exc.field)
    measured = measure(module)
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
    if p["gather_facts"]:
        extra["ansible_facts"] = host_facts(module, p["gather_facts"])
    if p["gpu"] is not None:
        g = p["gpu"]
        extra["gpu"] = gpu_facts.gather(module, pf.HostRoot(p["root"]), g["nvidia_smi_path"], g["cdi_spec_dirs"],
                                        g["timeout"])
        extra.setdefault("ansible_facts", {})["nvidia_gpu"] = extra["gpu"]["facts"]
    warnings, failure = verdict(result, "Preflight", p["fail_on_error"], p["fail_on_warning"])
    for text in warnings:
        module.warn(text)
    if failure:
        module.fail_json(msg=failure, report=result, measured=measured, **extra)
    module.exit_json(report=result, measured=measured, **extra)


# The environment variables returned in ansible_facts.env: what the roles read, none that can hold a secret.
ENV_FACT_KEYS = ("HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                 "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")


def host_facts(module, names):
    """The setup facts ``names`` (env, service_mgr, user), from Ansible's own collectors."""
    import platform  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.facts.system.env import EnvFactCollector  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.facts.system.service_mgr import ServiceMgrFactCollector  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.facts.system.user import UserFactCollector  # pylint: disable=import-outside-toplevel
    collectors = {"env": EnvFactCollector, "service_mgr": ServiceMgrFactCollector, "user": UserFactCollector}
    facts = {}
    for name in names:
        facts.update(collectors[name]().collect(module=module, collected_facts={"ansible_system": platform.system()}))
    if "env" in facts:
        facts["env"] = dict((k, v) for k, v in facts["env"].items() if k in ENV_FACT_KEYS)
    return facts


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


if __name__ == "__main__":
    main()
