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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.hostfacts import ENV_FACT_KEYS, host_facts  # noqa: F401  pylint: disable=unused-import
# The host side lives in module_utils (nemoclaw_apply runs the same checks in its own execution); the names
# stay importable from here.
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.preflight_run import (  # noqa: F401  pylint: disable=unused-import
    ARGUMENT_SPEC,
    THRESHOLDS,
    engine_info,
    executable,
    find_binary,
    measure,
    openshell_version,
    resolve,
    run,
    save_report,
    validate,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        report, measured, extra, warnings, failure = run(module, module.params)
    except InputError as exc:
        module.fail_json(msg=str(exc), error_kind="invalid_input", field=exc.field)
    if module.params["gather_facts"]:
        extra.setdefault("ansible_facts", {}).update(host_facts(module, module.params["gather_facts"]))
    for text in warnings:
        module.warn(text)
    if failure:
        module.fail_json(msg=failure, report=report, measured=measured, **extra)
    module.exit_json(report=report, measured=measured, **extra)


if __name__ == "__main__":
    main()
