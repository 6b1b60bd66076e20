#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_sandbox
short_description: Manage OpenShell sandboxes (create, replace, start, stop, delete)
version_added: 0.1.0
description:
  - Converges one sandbox with C(openshell sandbox create|delete|start|stop) and C(sandbox provider attach|detach), reading
    it once with C(sandbox get NAME -o json) (which includes its policy).
  - OpenShell cannot change a sandbox's image, GPU request, CPU, memory, environment, labels or static policy sections
    (C(filesystem_policy) may only grow; C(landlock) and C(process) are fixed) after creation, and its CLI does not report
    image, GPU, resources or env back. The module therefore stamps two labels at creation,
    C(agentfleet.nemoclaw/managed=true) and C(agentfleet.nemoclaw/spec=<hash of image, gpu, cpu, memory, env>), and
    compares that hash on later runs. A sandbox without the spec label was not created by this collection; its spec is
    unknown and counts as a difference.
  - Differences that need a new sandbox are handled by O(recreate). Providers are attached and detached in place; the
    C(proposal_approval_mode) setting is set in place; dynamic policy sections are left to
    M(agentfleet.nemoclaw.openshell_policy).
  - Replacing a sandbox deletes everything inside it, an agent's memory, conversations and files included. This
    module makes no backup, so by default it only reports a needed replacement (O(recreate=never)). For agents, use
    M(agentfleet.nemoclaw.nemoclaw_apply), which backs the agent's home up, replaces the sandbox, restores and
    verifies the backup, and finishes a replacement a crash interrupted.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - agentfleet.nemoclaw.openshell.ATTRIBUTES_STATEFUL
options:
  name:
    description:
      - Sandbox name, validated as the server does (lowercase letters, digits and single hyphens, at most 19 characters).
    type: str
    required: true
  image:
    description:
      - Image reference or community sandbox name (C(--from)). Pin images by digest.
      - A digest after C(@) must be C(sha256:) followed by 64 lowercase hex digits; a malformed one fails before any call.
    type: str
  providers:
    description:
      - Providers attached to the sandbox. Create them first with M(agentfleet.nemoclaw.openshell_provider).
      - When omitted, attachments are not managed.
    type: list
    elements: str
  policy:
    description:
      - Creation policy (an OpenShell policy document, C(version) 1). Validated before any call; unknown keys are refused.
      - On an existing sandbox only its static sections are compared; a difference there requires recreation.
    type: dict
  policy_src:
    description: Path on the managed host of a policy file (YAML or JSON), instead of O(policy).
    type: path
  gpu:
    description: Request GPUs. V(true) for the driver default, a number for a count, V(false) for none.
    type: raw
    default: false
  cpu:
    description: CPU limit, for example V(4) or V(500m).
    type: str
  memory:
    description: Memory limit, for example V(16Gi).
    type: str
  labels:
    description: Labels of the sandbox. Keys under C(agentfleet.nemoclaw/) are reserved.
    type: dict
    default: {}
  env:
    description:
      - Non-secret environment of the sandbox. Values that look like credentials are refused unless O(allow_secret_env=true);
        use providers for secrets.
    type: dict
    default: {}
  allow_secret_env:
    description: Accept O(env) entries whose key or value looks like a credential.
    type: bool
    default: false
  approval_mode:
    description: How new network requests are handled (the C(proposal_approval_mode) setting).
    type: str
    choices: [manual, auto]
  restart_policy:
    description:
      - What OpenShell does when the sandbox's main process exits (C(sandbox create --restart-policy)). Set at creation;
        a change replaces the sandbox. Unset leaves OpenShell's default.
      - Only OpenShell 0.1.x has it; on 0.0.x the module fails before any change, naming the option and the versions.
    type: str
    choices: [never, on-failure, always]
  state:
    description:
      - V(present) creates the sandbox when missing and leaves its phase alone; V(running) also starts it when stopped;
        V(stopped) stops it; V(absent) deletes it.
      - OpenShell 0.1.x retains a sandbox whose main process exited 0 in phase C(Completed); V(running) starts it again.
        A nonzero exit leaves it in C(Error) (condition C(MainProcessFailed), its C(exit_code) in RV(sandbox)), which is
        replaced like any C(Error) sandbox and named so in RV(recreate_reasons).
    type: str
    choices: [present, running, stopped, absent]
    default: running
  recreate:
    description:
      - V(never) changes nothing when an immutable field differs and returns RV(needs_recreate=true) with
        RV(recreate_reasons).
      - V(on_change) replaces the sandbox (delete, then create) when an immutable field differs. The sandbox's
        contents are lost; write it only for sandboxes that hold nothing to keep.
      - V(always) replaces it on every run (its contents are lost each time).
    type: str
    choices: [on_change, never, always]
    default: never
  wait:
    description:
      - Wait for a sandbox found provisioning or starting to become C(Ready). Creation and start always wait (the CLI does).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for C(Ready); also the CLI's provisioning and lifecycle timeout of this module's calls, in place of
        O(timeout) (which is still validated).
    type: int
    default: 300
"""

EXAMPLES = r"""
- name: An OpenClaw sandbox from a pinned image, with its providers and creation policy
  agentfleet.nemoclaw.openshell_sandbox:
    name: openclaw
    image: ghcr.io/nvidia/openshell-community/sandboxes/openclaw@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    providers: [nvidia]
    gpu: true
    cpu: "8"
    memory: 32Gi
    labels:
      team: research
    policy: "{{ lookup('ansible.builtin.file', 'policy.yaml') | from_yaml }}"

- name: Report, but do not perform, a needed replacement (the default)
  agentfleet.nemoclaw.openshell_sandbox:
    name: openclaw
    image: ghcr.io/nvidia/openshell-community/sandboxes/openclaw:2.0
  register: sb

- name: A scratch sandbox that holds nothing to keep, replaced when its image changes
  agentfleet.nemoclaw.openshell_sandbox:
    name: scratch
    image: ghcr.io/nvidia/openshell-community/sandboxes/base:2.0
    recreate: on_change

- name: Stop it
  agentfleet.nemoclaw.openshell_sandbox:
    name: openclaw
    state: stopped
"""

RETURN = r"""
sandbox:
  description: The C(sandbox get NAME -o json) object after the run (the current one in check mode).
  returned: when state is not absent
  type: dict
  sample: {"name": "openclaw", "phase": "Ready", "labels": {"agentfleet.nemoclaw/managed": "true"}, "revision": 1}
actions:
  description: The changes made (or that would be made), in order, for example V(create), V(delete), V(attach:nvidia), V(start).
  returned: when state is not absent
  type: list
  elements: str
needs_recreate:
  description: V(true) when O(recreate=never) and the sandbox differs in a field that needs a new sandbox.
  returned: always
  type: bool
recreate_reasons:
  description: Why a new sandbox is (or would be) needed.
  returned: always
  type: list
  elements: str
commands:
  description: Every C(openshell) call made, as argv after the program name, exit code and whether it mutates.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import argument_spec, run_module
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import converge_sandbox


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True),
            image=dict(type="str"),
            providers=dict(type="list", elements="str"),
            policy=dict(type="dict"),
            policy_src=dict(type="path"),
            gpu=dict(type="raw", default=False),
            cpu=dict(type="str"),
            memory=dict(type="str"),
            labels=dict(type="dict", default={}),
            env=dict(type="dict", default={}),
            allow_secret_env=dict(type="bool", default=False),
            approval_mode=dict(type="str", choices=["manual", "auto"]),
            restart_policy=dict(type="str", choices=["never", "on-failure", "always"]),
            state=dict(type="str", choices=["present", "running", "stopped", "absent"], default="running"),
            recreate=dict(type="str", choices=["on_change", "never", "always"], default="never"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        mutually_exclusive=[("policy", "policy_src")],
        supports_check_mode=True,
    )
    run_module(module, converge_sandbox)


if __name__ == "__main__":
    main()
