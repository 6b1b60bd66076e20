#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: nemoclaw_files
short_description: Private directories and small text files of a host, in one module execution
version_added: 0.1.0
description:
  - Makes a few directories exist with a mode, and a few files have a given text content and mode (or be absent),
    reading each once and writing only what differs. It is what several M(ansible.builtin.file) and
    M(ansible.builtin.template) tasks do, at one module execution instead of one (or two) per path, for the
    configuration of the OpenShell gateway (C(roles/openshell/tasks/config.yml)), where a converged host has
    nothing to change.
  - Render the content on the controller (C(lookup('ansible.builtin.template', ...))).
  - Files are written atomically (a temporary file in the same directory, then a rename), with their mode set before
    they appear. Directories are created with their parents (parents get the directory's mode) and get their mode
    fixed when it differs. Owner and group are those of the connecting user; the module changes neither.
  - Paths are absolute after C(~) expansion; a path listed twice is refused.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Per changed file its text before and after; per changed directory its state and mode.
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
  platform:
    platforms: posix
options:
  directories:
    description: Directories that must exist.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      mode:
        description: Its mode, an octal string.
        type: str
        default: "0700"
  files:
    description: Files with their content, or absent.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file. Its directory must exist (or be listed in O(directories)).
        type: path
        required: true
      content:
        description: The whole text of the file (UTF-8). Required unless O(files[].state=absent).
        type: str
      mode:
        description: Its mode, an octal string.
        type: str
        default: "0600"
      state:
        description: V(present) writes O(files[].content); V(absent) removes the file.
        type: str
        choices: [present, absent]
        default: present
      secret:
        description:
          - The content holds secrets (the gateway's environment file). Its text never appears in the result. The diff
            shows the file's C(KEY=) names with every value replaced by C(<hidden>), and the content is masked in the
            returned invocation.
        type: bool
        default: false
notes:
  - The diff shows each changed file's text before and after, as M(ansible.builtin.template) does, except for files
    marked O(files[].secret).
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: The gateway's directories and configuration files, in one module execution
  agentfleet.nemoclaw.nemoclaw_files:
    directories:
      - path: ~/.config/openshell
      - path: ~/.local/state/openshell
    files:
      - path: ~/.config/openshell/gateway.toml
        content: "{{ lookup('ansible.builtin.template', 'gateway.toml.j2') }}"
      - path: ~/.config/openshell/gateway.env
        state: absent
  notify: restart openshell gateway
"""

RETURN = r"""
directories:
  description: Per entry of O(directories), in order, its C(path) (expanded), C(mode) and what was done (C(action)).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/home/agent/.config/openshell", "mode": "0700", "action": "none"}]
files:
  description:
    - Per entry of O(files), in order, its C(path), C(state) and what was done (C(action)), one of V(none),
      V(create), V(update), V(chmod), V(remove).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/home/agent/.config/openshell/gateway.toml", "state": "present", "action": "update"}]
changed_files:
  description: Paths of the files whose content or presence changed (not a mode-only change).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
# The logic lives in module_utils (nemoclaw_apply checks the gateway's files with it); the names stay importable here.
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.files import (  # noqa: F401  pylint: disable=unused-import
    ARGUMENT_SPEC,
    converge,
    hidden,
    plan,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    for item in module.params["files"]:
        if item.get("secret") and item.get("content"):
            module.no_log_values.add(item["content"])
    try:
        dirs, files = plan(module.params)
    except ValueError as exc:
        field = str(exc).split(":", 1)[0]
        module.fail_json(msg=str(exc), error_kind="invalid_input", field=field)
    try:
        result = converge(module, dirs, files)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write: %s" % exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
