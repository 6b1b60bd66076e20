#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_policy
short_description: Converge the network policy of a live OpenShell sandbox (or the global policy)
version_added: 0.1.0
description:
  - Reads C(openshell policy get NAME --full -o json), normalises both sides and applies the desired document with
    C(policy set NAME --policy FILE) only when the dynamic sections (C(network_policies), C(network_middlewares)) differ.
  - Static sections (C(filesystem_policy), C(landlock), C(process)) are fixed when the sandbox is created. Sections left out
    of O(policy) are kept as they are; a static difference fails before any change, naming the sections, and points to
    recreating the sandbox with M(agentfleet.nemoclaw.openshell_sandbox).
  - The document is validated against the OpenShell policy schema first (unknown keys, enums, ports, hosts, paths); an
    error names the YAML path, for example C(policy.network_policies.slack.endpoints[2].port).
  - With O(global=true) the gateway-wide policy is set (C(policy set --global --yes)); it overrides every sandbox.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - agentfleet.nemoclaw.openshell.ATTRIBUTES_STATEFUL
options:
  sandbox:
    description:
      - Sandbox name. Required unless O(global=true).
      - Validated before any call as the server does (lowercase letters, digits and single hyphens, at most 19
        characters).
    type: str
  policy:
    description: The policy document (C(version) 1 plus sections).
    type: dict
  src:
    description: Path on the managed host of a policy file (YAML or JSON), instead of O(policy).
    type: path
  global:
    description: Manage the global policy instead of a sandbox's.
    type: bool
    default: false
  wait:
    description: Wait until the sandbox reports the new revision loaded (C(--wait)). Not available with O(global=true).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the load (C(--timeout)). A timeout fails with the error kind C(policy_wait_timeout).
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Apply the composed policy of the blueprint plan
  agentfleet.nemoclaw.openshell_policy:
    sandbox: openclaw
    policy: "{{ blueprint_plan.policy }}"

- name: Add an endpoint by replacing the network section
  agentfleet.nemoclaw.openshell_policy:
    sandbox: openclaw
    policy:
      version: 1
      network_policies:
        github:
          endpoints:
            - {host: api.github.com, port: 443, access: read-only}
          binaries:
            - {path: /usr/bin/git}
"""

RETURN = r"""
version:
  description: Policy revision after the run (the current one when unchanged or in check mode).
  returned: always
  type: int
hash:
  description: Policy hash (as short as the CLI prints it after a change).
  returned: always
  type: str
policy_diff:
  description: Structured difference between the current and desired policy (network policy keys added, removed, changed).
  returned: always
  type: dict
commands:
  description: Every C(openshell) call made, as argv after the program name, exit code and whether it mutates.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import argument_spec, run_module
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import converge_policy


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            sandbox=dict(type="str"),
            policy=dict(type="dict"),
            src=dict(type="path"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=60),
            **{"global": dict(type="bool", default=False)}
        ),
        mutually_exclusive=[("policy", "src")],
        required_one_of=[("policy", "src")],
        supports_check_mode=True,
    )
    run_module(module, converge_policy)


if __name__ == "__main__":
    main()
