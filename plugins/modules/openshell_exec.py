#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_exec
short_description: Run a command inside an OpenShell sandbox
version_added: 0.1.0
description:
  - Runs O(command) inside a Ready sandbox with C(openshell sandbox exec --name NAME --no-tty -- COMMAND...) and returns
    its exit code (RV(exit_code)) and output.
  - Used for health checks, agent configuration and state backups. Failures of the CLI itself (sandbox missing or not
    Ready, gateway unreachable) are reported with their error kind; the command's own exit status is RV(exit_code).
  - With O(read_only=true) (the default) the command is treated as a probe, reports C(changed=false) and also runs in
    check mode. With O(read_only=false) it reports C(changed=true) and is skipped in check mode.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
attributes:
  check_mode:
    description: Can run in check mode and return a changed status prediction without modifying the target.
    support: partial
    details: Read-only commands run in check mode; others are skipped and reported as changed.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: partial
    details: Depends on the command; O(read_only=true) commands never report a change.
  action_group:
    description: Use C(group/agentfleet.nemoclaw.openshell) in O(ignore:module_defaults) to set defaults for this module.
    support: full
    membership:
      - agentfleet.nemoclaw.openshell
options:
  sandbox:
    description:
      - Sandbox name, validated before any call as the server does (lowercase letters, digits and single hyphens,
        at most 19 characters).
    type: str
    required: true
  command:
    description: Command and arguments (argv) inside the sandbox.
    type: list
    elements: str
    required: true
  workdir:
    description: Working directory inside the sandbox.
    type: str
  env:
    description: Extra non-secret environment for the command.
    type: dict
  stdin:
    description: Data written to the command's standard input.
    type: str
  exec_timeout:
    description: Seconds the command may run (C(--timeout)); 0 or unset means no limit. Must not be negative.
    type: int
  read_only:
    description: The command only reads; report no change and run it in check mode too.
    type: bool
    default: true
  allow_failure:
    description: Return a non-zero exit status as data instead of failing.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Agent health inside the sandbox
  agentfleet.nemoclaw.openshell_exec:
    sandbox: openclaw
    command: [openclaw, health, --json]
    exec_timeout: 60
  register: health

- name: Write agent configuration (a change)
  agentfleet.nemoclaw.openshell_exec:
    sandbox: openclaw
    command: [sh, -c, "cat > /sandbox/.openclaw/config.json"]
    stdin: "{{ agent_config | to_json }}"
    read_only: false
"""

RETURN = r"""
exit_code:
  description:
    - Exit status of the command (null when skipped in check mode).
    - Named C(exit_code) rather than C(rc) because Ansible fails every result with a non-zero C(rc), which would defeat
      O(allow_failure).
  returned: always
  type: int
stdout:
  description: Standard output of the command.
  returned: always
  type: str
stderr:
  description: Standard error of the command.
  returned: always
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when the command ran
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: when the command ran
  type: list
  elements: str
cmd:
  description: The command run inside the sandbox.
  returned: always
  type: list
  elements: str
commands:
  description: Every C(openshell) call made.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import argument_spec, run_module
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import run_exec


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            sandbox=dict(type="str", required=True),
            command=dict(type="list", elements="str", required=True),
            workdir=dict(type="str"),
            env=dict(type="dict"),
            stdin=dict(type="str"),
            exec_timeout=dict(type="int"),
            read_only=dict(type="bool", default=True),
            allow_failure=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, run_exec)


if __name__ == "__main__":
    main()
