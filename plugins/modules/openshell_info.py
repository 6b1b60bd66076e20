#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_info
short_description: Read OpenShell state (gateway, sandboxes, providers, policies, inference routes, approvals)
version_added: 0.1.0
description:
  - Read-only. Gathers what the OpenShell CLI reports on the managed host, using only read commands
    (C(gateway list), C(status), C(sandbox list), C(provider list), C(policy get), C(inference get), C(rule get)).
  - Provider credentials are never readable; only key names are returned.
  - V(all) means the six subsets C(gateway), C(sandboxes), C(providers), C(policies), C(inference) and C(approvals).
    V(sandbox_details) and V(provider_records) are read only when named; together with V(registrations), V(version),
    V(providers) and V(inference) they make the state snapshot of the drift scan (C(playbooks/drift.yml)),
    everything the OpenShell modules read, in one module execution.
  - V(gateway) reads three things, each also available alone (each is one CLI call on the host),
    V(registrations) (C(gateway list)), V(status) (C(status)) and V(version) (C(openshell --version)).
  - Each sandbox of V(sandbox_details) carries its effective policy (C(sandbox get) returns the same policy as
    C(policy get --full)), so the drift scan needs no V(policies).
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - agentfleet.nemoclaw.openshell.ATTRIBUTES_INFO
options:
  gather_subset:
    description: What to read.
    type: list
    elements: str
    choices: [all, gateway, sandboxes, providers, policies, inference, approvals, sandbox_details, provider_records,
              registrations, status, version]
    default: [all]
  sandboxes:
    description:
      - Limit sandbox, policy and approval data to these sandbox names.
      - With V(sandbox_details), these names are read even when they do not exist (their entry is then null).
    type: list
    elements: str
  state_file:
    description:
      - The host-side state file of M(agentfleet.nemoclaw.openshell_provider), read by the V(provider_records) subset.
      - Default C(~/.local/state/agentfleet-nemoclaw/providers.json).
    type: path
    version_added: 0.1.0
  policy_bodies:
    description: Include each sandbox's normalised policy document, not only its version and hash.
    type: bool
    default: false
  sandbox_settings:
    description:
      - With V(sandbox_details), read each sandbox's settings (C(settings get NAME --json)).
      - V(false) saves that call per sandbox when nobody compares C(proposal_approval_mode); the C(settings) key is
        then absent from the details.
    type: bool
    default: true
    version_added: 0.1.0
"""

EXAMPLES = r"""
- name: Everything
  agentfleet.nemoclaw.openshell_info:
  register: os_info

- name: The state snapshot of the drift scan
  agentfleet.nemoclaw.openshell_info:
    gather_subset: [registrations, version, providers, provider_records, sandbox_details, inference]
  register: drift_state

- name: Policies with bodies, for one sandbox
  agentfleet.nemoclaw.openshell_info:
    gather_subset: [policies]
    sandboxes: [openclaw]
    policy_bodies: true
"""

RETURN = r"""
openshell:
  description: The gathered data, one key per subset.
  returned: always
  type: dict
  contains:
    gateways:
      description: C(gateway list -o json).
      type: list
      returned: when gateway or registrations is gathered
    status:
      description: C(status -o json); its C(status) is V(unreachable) when nothing listens.
      type: dict
      returned: when gateway or status is gathered
    version:
      description: The CLI version (C(openshell --version)).
      type: str
      returned: when gateway or version is gathered
    sandboxes:
      description: C(sandbox list -o json).
      type: list
      returned: when sandboxes is gathered
    providers:
      description: C(provider list -o json) (key names only).
      type: list
      returned: when providers is gathered
    policies:
      description: Per sandbox, C(policy get -o json) (version, hash, optionally the normalised body).
      type: dict
      returned: when policies is gathered
    inference:
      description: The user (C(user)) and system (C(system)) routes.
      type: dict
      returned: when inference is gathered
    approvals:
      description:
        - Per Ready sandbox, its pending network-request chunks, in the form of the C(pending) chunks of
          M(agentfleet.nemoclaw.openshell_approval) (with C(application), why a rule cannot be applied, when OpenShell
          shows it).
      type: dict
      returned: when approvals is gathered
    sandbox_details:
      description:
        - Per sandbox name, C(sandbox) (C(sandbox get -o json), with labels, phase and the effective policy; null
          when absent), C(providers) (attached provider names) and, unless O(sandbox_settings=false), C(settings)
          (C(settings get --json)).
      type: dict
      returned: when sandbox_details is gathered
      version_added: 0.1.0
    provider_records:
      description:
        - The provider records of the host-side state file, C(path), C(exists), C(salt) and per record key
          (C(gateway|workspace|name)) its C(fingerprints) (salted PBKDF2 hashes, never a secret), C(resource_version)
          and C(type).
      type: dict
      returned: when provider_records is gathered
      version_added: 0.1.0
commands:
  description: Every C(openshell) call made.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import argument_spec, run_module
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import gather_info


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            gather_subset=dict(type="list", elements="str", default=["all"],
                               choices=["all", "gateway", "sandboxes", "providers", "policies", "inference", "approvals",
                                        "sandbox_details", "provider_records", "registrations", "status", "version"]),
            sandboxes=dict(type="list", elements="str"),
            state_file=dict(type="path"),
            policy_bodies=dict(type="bool", default=False),
            sandbox_settings=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, gather_info)


if __name__ == "__main__":
    main()
