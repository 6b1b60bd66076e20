#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_gpu_facts
short_description: Gather NVIDIA GPU, driver, Container Toolkit, CDI and DGX OS facts, and check GPU readiness
version_added: 0.1.0
description:
  - Read-only. Asks C(nvidia-smi) for the GPUs (C(--query-gpu ... --format=csv,nounits), then C(-q -x) for the CUDA
    version and MIG devices), looks for the NVIDIA Container Toolkit and NVIDIA CDI specs, and reads C(/etc/dgx-release).
  - Sets the fact C(nvidia_gpu) and returns a readiness report with the checks C(gpu.driver), C(gpu.count),
    C(gpu.driver_version), C(gpu.mig) and C(gpu.container_toolkit), each C(pass), C(warn) or C(fail).
  - A host without NVIDIA driver passes unless GPUs are required (O(required_count) > 0). A driver that does not answer
    is reported as a typed problem (C(driver_not_loaded), C(nvml_not_found), C(gpu_lost), ...), never as a crash.
  - The module does not fail on failed checks; the caller (the C(agentfleet.nemoclaw.gpu) role) decides.
  - Facts already gathered in this play (O(gathered)) are judged on the controller, without a module execution.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
attributes:
  check_mode:
    description: Can run in check mode and return a changed status prediction without modifying the target.
    support: full
    details: The module only reads; check mode gathers the same facts.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
    details: Never changes anything; always returns C(changed=false).
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
options:
  nvidia_smi_path:
    description:
      - Path or name of C(nvidia-smi) (looked up in C(PATH) when a bare name).
      - Point it at a wrapper to query GPUs inside a container or through C(nsenter), or at a fake in tests.
    type: path
    default: nvidia-smi
  root:
    description:
      - Path prefix under which host files are read (C(/etc/dgx-release), C(/etc/cdi), C(/var/run/cdi), the Container
        Toolkit binaries and configuration). Use it for a chroot or a mounted image. O(nvidia_smi_path) is not prefixed.
    type: path
    default: /
  cdi_spec_dirs:
    description: Directories (below O(root)) searched for CDI specs (C(*.yaml), C(*.yml), C(*.json)) of an C(nvidia.com/*) kind.
    type: list
    elements: path
    default: [/etc/cdi, /var/run/cdi]
  required_count:
    description: GPUs the host must have. C(0) means GPUs are optional; then a host without driver or GPU passes.
    type: int
    default: 0
  min_driver_version:
    description:
      - Minimum NVIDIA driver version (for example C(535.104)). Older drivers fail C(gpu.driver_version) when GPUs are
        required and warn otherwise. Empty means no minimum.
    type: str
  allow_mig:
    description: Whether GPUs in MIG mode are acceptable. When true, MIG warns in C(gpu.mig); when false, it fails.
    type: bool
    default: true
  require_container_toolkit:
    description:
      - Whether the NVIDIA Container Toolkit or an NVIDIA CDI spec must be present. Default (unset) is "when GPUs are required".
    type: bool
  timeout:
    description: Seconds each C(nvidia-smi) call may take before it counts as a driver that does not answer.
    type: int
    default: 60
  fail_on_error:
    description:
      - Fail the task, with the facts and the report, when a GPU check fails; the message names every failing check
        with its message. By default the module succeeds and the caller decides.
      - Checks that warn are Ansible warnings of the task either way.
    type: bool
    default: false
  gathered:
    description:
      - GPU facts gathered earlier in the play on this host, as the C(gpu) result of
        M(agentfleet.nemoclaw.nemoclaw_preflight) with its option O(agentfleet.nemoclaw.nemoclaw_preflight#module:gpu)
        set. A dict with the keys C(facts), C(commands) and C(inputs).
      - When they were gathered with the same O(nvidia_smi_path), O(root) and O(cdi_spec_dirs), the action plugin judges
        them on the controller and nothing runs on the host (C(gathered_by) in the result says so). Otherwise, or when
        left out, the module gathers the facts itself.
    type: dict
seealso:
  - module: agentfleet.nemoclaw.nemoclaw_preflight
"""

EXAMPLES = r"""
- name: Gather GPU facts; GPUs optional
  agentfleet.nemoclaw.nvidia_gpu_facts:

- name: This host must have 8 GPUs with a recent driver and no MIG
  agentfleet.nemoclaw.nvidia_gpu_facts:
    required_count: 8
    min_driver_version: "570.0"
    allow_mig: false
  register: gpu

- name: Judge the GPU facts the preflight gathered (no second execution on the host)
  agentfleet.nemoclaw.nvidia_gpu_facts:
    gathered: "{{ preflight_result.gpu }}"
    required_count: 1

- name: Show the driver
  ansible.builtin.debug:
    msg: "{{ ansible_facts.nvidia_gpu.driver_version }} / CUDA {{ ansible_facts.nvidia_gpu.cuda_version }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    nvidia_gpu:
      description: What the host has.
      returned: always
      type: dict
      contains:
        driver_answered:
          description: True when C(nvidia-smi) answered (with or without GPUs).
          type: bool
        problem:
          description:
            - Null, or why the driver did not answer C({kind, rc, message, detail}). C(kind) is one of C(not_installed),
              C(driver_not_loaded), C(nvml_not_found), C(gpu_lost), C(no_permission), C(no_devices), C(timeout), C(error).
            - C(no_devices) ("No devices were found", "No supported GPUs were found") means the driver answered and
              drives no GPU; the host is then judged as GPU-less (C(gpu.driver) passes, C(gpu.count) checks the count).
          type: dict
        driver_version:
          description: NVIDIA driver version, or null.
          type: str
        cuda_version:
          description: Highest CUDA version the driver supports, or null.
          type: str
        count:
          description: Number of GPUs seen (C(<gpu>) elements / CSV rows, never C(attached_gpus)).
          type: int
        gpus:
          description:
            - One dict per GPU with C(index), C(name), C(uuid), C(pci_bus_id), C(minor_number), C(architecture),
              C(memory_total_mib) (null on unified-memory parts such as GB10), C(persistence_mode) (bool or null),
              C(mig_mode) (C(Enabled), C(Disabled) or null when not MIG capable), C(mig_pending), C(mig_enabled),
              C(mig_devices) (count or null).
          type: list
          elements: dict
        mig_enabled:
          description: Indexes of the GPUs in MIG mode.
          type: list
          elements: int
        memory_total_mib:
          description: Sum of the GPUs' memory, or null when unknown.
          type: int
        container_toolkit:
          description: C({present, binaries, config}) for C(nvidia-ctk), C(nvidia-container-runtime), C(nvidia-container-toolkit).
          type: dict
        cdi:
          description: C({present, specs, kinds}) for NVIDIA CDI specs.
          type: dict
        dgx:
          description: C({present, name, version, spark, release}) from C(/etc/dgx-release) and the GPU names.
          type: dict
        sources:
          description: Which outputs the facts come from (C(csv), C(xml)).
          type: list
          elements: str
        xml_error:
          description: Why C(-q -x) was not usable, when the CSV query worked but the XML did not.
          type: str
          returned: when the XML could not be used
report:
  description: GPU readiness, in the same shape as the C(agentfleet.nemoclaw.nemoclaw_preflight) report.
  returned: always
  type: dict
  contains:
    checks:
      description: C({id, status, value, threshold, message}) for C(gpu.driver), C(gpu.count), C(gpu.driver_version), C(gpu.mig), C(gpu.container_toolkit).
      type: list
      elements: dict
    failed:
      description: Ids of failed checks.
      type: list
      elements: str
    warnings:
      description: Ids of checks that warn.
      type: list
      elements: str
    passed:
      description: True when no check failed.
      type: bool
commands:
  description: The C(nvidia-smi) calls made, with their exit codes (by the preflight when O(gathered) was used).
  returned: always
  type: list
  elements: dict
gathered_by:
  description: C(nemoclaw_preflight) when the facts of O(gathered) were judged on the controller.
  returned: when O(gathered) was used
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.preflight import HostRoot


def main():
    module = AnsibleModule(argument_spec=gpu.ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        gpu.check_options(p)
    except InputError as exc:
        module.fail_json(msg=str(exc), error_kind="invalid_input", field=exc.field)
    got = gpu.gather(module, HostRoot(p["root"]), p["nvidia_smi_path"], p["cdi_spec_dirs"], p["timeout"])
    result = dict(changed=False, ansible_facts={"nvidia_gpu": got["facts"]}, report=gpu.judge(got["facts"], p),
                  commands=got["commands"])
    warnings, failure = gpu.verdict(result["report"], p)
    for text in warnings:
        module.warn(text)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
