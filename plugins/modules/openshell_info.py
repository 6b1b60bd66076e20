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
    choices: [all, gateway, sandboxes, providers, policies, inference, approvals]
    default: [all]
  sandboxes:
    description: Limit sandbox, policy and approval data to these sandbox names.
    type: list
    elements: str
  policy_bodies:
    description: Include each sandbox's normalised policy document, not only its version and hash.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Everything
  agentfleet.nemoclaw.openshell_info:
  register: os_info

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
      returned: when gateway is gathered
    status:
      description: C(status -o json); its C(status) is V(unreachable) when nothing listens.
      type: dict
      returned: when gateway is gathered
    version:
      description: The CLI version (C(openshell --version)).
      type: str
      returned: when gateway is gathered
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
      description: Per Ready sandbox, its pending network-request chunks.
      type: dict
      returned: when approvals is gathered
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
                               choices=["all", "gateway", "sandboxes", "providers", "policies", "inference", "approvals"]),
            sandboxes=dict(type="list", elements="str"),
            policy_bodies=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, gather_info)


if __name__ == "__main__":
    main()
