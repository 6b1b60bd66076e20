#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_provider
short_description: Manage OpenShell providers (credentials held by the gateway)
version_added: 0.1.0
description:
  - Creates, updates and deletes an OpenShell provider with C(openshell provider create|update|delete), reading the current
    state once with C(provider list -o json).
  - Secrets never appear on a command line; each credential is passed as C(--credential KEY) with its value in the CLI's
    environment, which is how the real CLI reads it. A credential key dropped from O(credentials) is deleted with
    C(--credential KEY=) (an empty value; nothing secret).
  - OpenShell never returns credential or config values, so idempotency uses a host-side state file (O(state_file), mode
    0600) holding, per provider, salted PBKDF2 fingerprints of what was last written and the C(resource_version) seen
    after that write. A changed fingerprint means the desired value changed; a changed C(resource_version) means someone
    changed the provider outside Ansible. Both are drift. No secret can be recovered from the file.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - agentfleet.nemoclaw.openshell.ATTRIBUTES_STATEFUL
options:
  name:
    description: Provider name; letters, digits, C(-), C(_) or C(.), starting with a letter or C(_).
    type: str
    required: true
  type:
    description:
      - Provider type or profile id, for example V(nvidia), V(openai), V(anthropic), V(generic). Required when O(state=present).
      - OpenShell cannot change the type of an existing provider; see O(recreate_on_type_change).
    type: str
  credentials:
    description:
      - Credential key names and their secret values, for example C(NVIDIA_API_KEY) set from Ansible Vault.
      - Values are never logged, returned, shown in a diff or written to a file.
      - A value reaches the C(openshell) CLI in the environment variable of its key's name (C(--credential KEY)), so a
        key must not be a variable the CLI or its runtime reads (C(OPENSHELL_*), C(RUST_*), C(LD_*), C(PATH),
        C(*_PROXY) and the like); such a key is refused before any call.
    type: dict
  config:
    description: Non-secret provider configuration (C(--config KEY=VALUE)).
    type: dict
  update_credentials:
    description:
      - V(on_change) writes credentials when their fingerprint differs from the last write, or the provider changed outside Ansible.
      - V(always) writes them on every run (never idempotent).
      - V(on_create) sets them only when creating the provider (key additions and removals are still applied).
    type: str
    choices: [on_change, always, on_create]
    default: on_change
  recreate_on_type_change:
    description: Delete and recreate the provider when its type differs. When V(false), a type difference fails.
    type: bool
    default: false
  state_file:
    description: Host-side fingerprint file. Defaults to C(~/.local/state/agentfleet-nemoclaw/providers.json).
    type: path
  state:
    description:
      - Whether the provider should exist. Deleting a provider that is still attached to a sandbox fails naming the sandboxes.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: NVIDIA inference credentials from Ansible Vault
  agentfleet.nemoclaw.openshell_provider:
    name: nvidia
    type: nvidia
    credentials:
      NVIDIA_API_KEY: "{{ vault_nvidia_api_key }}"

- name: A generic provider with non-secret configuration
  agentfleet.nemoclaw.openshell_provider:
    name: local-vllm
    type: generic
    credentials:
      OPENAI_API_KEY: "{{ lookup('ansible.builtin.env', 'VLLM_TOKEN') }}"
    config:
      OPENAI_BASE_URL: http://vllm.internal:8000/v1

- name: Remove a provider
  agentfleet.nemoclaw.openshell_provider:
    name: old
    state: absent
"""

RETURN = r"""
provider:
  description: The C(provider list -o json) entry after the run (key names only, never values).
  returned: when state=present
  type: dict
  sample: {"name": "nvidia", "type": "nvidia", "credential_keys": ["NVIDIA_API_KEY"], "resource_version": 2}
action:
  description: What the run did or would do, one of V(none), V(create), V(update), V(type_conflict).
  returned: when state=present
  type: str
reasons:
  description: Why the provider is written (for example that credential values changed, with the key names).
  returned: when state=present
  type: list
  elements: str
commands:
  description: Every C(openshell) call made, as argv after the program name (no secret), exit code and whether it mutates.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import argument_spec, run_module
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import converge_provider


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True),
            type=dict(type="str"),
            credentials=dict(type="dict", no_log=True),
            config=dict(type="dict"),
            update_credentials=dict(type="str", choices=["on_change", "always", "on_create"], default="on_change"),
            recreate_on_type_change=dict(type="bool", default=False),
            state_file=dict(type="path"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("type", "credentials"))],
        supports_check_mode=True,
    )
    run_module(module, converge_provider)


if __name__ == "__main__":
    main()
