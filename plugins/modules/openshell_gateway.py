#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_gateway
short_description: Register an OpenShell gateway with the CLI and wait until it answers
version_added: 0.1.0
description:
  - Ensures the C(openshell) CLI on the managed host has a registration named O(name) for a gateway O(endpoint),
    using C(openshell gateway list -o json) to read, and C(gateway add), C(gateway remove) and C(gateway select) to change it.
  - A registration whose endpoint or authentication mode differs is replaced (removed, then added again).
  - Only automation-safe modes are offered, plaintext C(http://) endpoints, and C(https://) with O(local=true) for the
    mTLS bundle installed by the OpenShell package. Browser-based logins are never started.
  - The gateway service itself is run by the P(agentfleet.nemoclaw.openshell#role) role; this module only registers it.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - agentfleet.nemoclaw.openshell.ATTRIBUTES_STATEFUL
options:
  name:
    description:
      - Registration name (the CLI's C(--name)). C(openshell) is what the OpenShell installer uses for the local gateway.
      - 1-63 letters, digits, C(-), C(_) or C(.), starting with a letter or digit. The CLI keeps the registration in a
        directory of that name, so C(/) and C(..) are refused before any call.
    type: str
    default: openshell
  endpoint:
    description:
      - Gateway URL, for example V(http://127.0.0.1:17670). Required when O(state=present).
    type: str
  local:
    description:
      - Register an C(https://) endpoint with the package's local mTLS bundle (the CLI's C(--local)).
    type: bool
    default: false
  active:
    description:
      - Make this the active gateway (C(gateway select)). C(gateway add) always makes the new registration active,
        so V(false) only means "do not select it when it already exists".
    type: bool
    default: true
  state:
    description:
      - Whether the registration should exist.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until C(openshell status) reports the gateway C(connected).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Register the local simulator or plaintext gateway and wait for it
  agentfleet.nemoclaw.openshell_gateway:
    name: openshell
    endpoint: http://127.0.0.1:17670
    wait: true

- name: Register the package-installed gateway over mTLS
  agentfleet.nemoclaw.openshell_gateway:
    endpoint: https://127.0.0.1:17670
    local: true

- name: Forget a registration (the service keeps running)
  agentfleet.nemoclaw.openshell_gateway:
    name: old-gateway
    state: absent
"""

RETURN = r"""
gateway:
  description: The C(gateway list -o json) entry of the registration after the run (predicted in check mode).
  returned: when state=present
  type: dict
  sample: {"active": true, "auth": "plaintext", "endpoint": "http://127.0.0.1:17670", "is_remote": false,
           "name": "openshell", "remote_host": null, "resolved_host": null, "source": "user", "type": "local"}
status:
  description: The C(status -o json) answer for this gateway; its C(status) is V(unreachable) when nothing listens.
  returned: when state=present and not predicted in check mode
  type: dict
  sample: {"gateway": "openshell", "server": "http://127.0.0.1:17670", "status": "connected", "version": "0.0.111"}
differences:
  description: What differed from the desired registration (V(absent), V(endpoint), V(auth), V(active)).
  returned: changed
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
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import converge_gateway


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", default="openshell"),
            endpoint=dict(type="str"),
            local=dict(type="bool", default=False),
            active=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=60),
        ),
        required_if=[("state", "present", ("endpoint",))],
        supports_check_mode=True,
    )
    run_module(module, converge_gateway)


if __name__ == "__main__":
    main()
