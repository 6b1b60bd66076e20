#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_inference
short_description: Manage the OpenShell inference routes of a workspace
version_added: 0.1.0
description:
  - Sandboxes reach models only through C(inference.local), which the gateway routes to a provider and model. This module
    converges that user route, or the system route C(sandbox-system) with O(system=true).
  - Reads both routes with one C(openshell inference get) (text output, parsed) and calls C(inference set) or
    C(inference delete) only on difference.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - agentfleet.nemoclaw.openshell.ATTRIBUTES_STATEFUL
options:
  provider:
    description:
      - Provider name the route uses. Required when O(state=present).
      - Letters, digits, C(-), C(_) or C(.), starting with a letter or C(_) (the rule of M(agentfleet.nemoclaw.openshell_provider)).
    type: str
  model:
    description: Model id, for example V(nvidia/nemotron-3-super-120b-a12b). Required when O(state=present).
    type: str
  system:
    description: Manage the system route (C(sandbox-system)) instead of the user route.
    type: bool
    default: false
  timeout_secs:
    description: Per-request timeout of the route in seconds; V(0) is the gateway default (60 s). When omitted it is not managed.
    type: int
  verify:
    description: Let the gateway verify the endpoint when setting the route. V(false) passes C(--no-verify).
    type: bool
    default: true
  state:
    description: Whether the route should be configured.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Route inference.local to NVIDIA Endpoints
  agentfleet.nemoclaw.openshell_inference:
    provider: nvidia
    model: nvidia/nemotron-3-super-120b-a12b
    timeout_secs: 120

- name: Remove the system route
  agentfleet.nemoclaw.openshell_inference:
    system: true
    state: absent
"""

RETURN = r"""
inference:
  description: The route after the run (C(provider), C(model), C(version), C(timeout), C(workspace)), or null when absent.
  returned: always
  type: dict
  sample: {"provider": "nvidia", "model": "nvidia/nemotron-3-super-120b-a12b", "version": 1, "timeout": 120, "workspace": "default"}
route:
  description: V(inference.local) or V(sandbox-system).
  returned: always
  type: str
commands:
  description: Every C(openshell) call made, as argv after the program name, exit code and whether it mutates.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import argument_spec, run_module
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import converge_inference


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            provider=dict(type="str"),
            model=dict(type="str"),
            system=dict(type="bool", default=False),
            timeout_secs=dict(type="int"),
            verify=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("provider", "model"))],
        supports_check_mode=True,
    )
    run_module(module, converge_inference)


if __name__ == "__main__":
    main()
