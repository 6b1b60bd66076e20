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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import write_atomic


def _mode(value, field):
    try:
        mode = int(str(value), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise ValueError("%s: %r is not an octal mode such as 0700" % (field, value))
    return mode


def _path(path, field):
    # type=path in the argument spec has expanded ~ already.
    if not os.path.isabs(path):
        raise ValueError("%s: %r is not an absolute path" % (field, path))
    return os.path.normpath(path)


def plan(params):
    """Validated (directories, files) with expanded paths and integer modes; ValueError naming the field."""
    dirs, files, seen = [], [], set()
    for i, item in enumerate(params["directories"]):
        path = _path(item["path"], "directories[%d].path" % i)
        dirs.append({"path": path, "mode": _mode(item["mode"], "directories[%d].mode" % i)})
        if path in seen:
            raise ValueError("directories[%d].path: %s is listed twice" % (i, path))
        seen.add(path)
    for i, item in enumerate(params["files"]):
        path = _path(item["path"], "files[%d].path" % i)
        if path in seen:
            raise ValueError("files[%d].path: %s is listed twice" % (i, path))
        seen.add(path)
        if item["state"] == "present" and item["content"] is None:
            raise ValueError("files[%d].content: is required when state is present" % i)
        files.append({"path": path, "mode": _mode(item["mode"], "files[%d].mode" % i), "state": item["state"],
                      "content": item["content"], "secret": bool(item.get("secret"))})
    return dirs, files


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def hidden(text):
    """``text`` with every value hidden: ``KEY=<hidden>`` per assignment line, comments and blank lines kept."""
    if not text:
        return ""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            out.append(line)
        elif "=" in stripped and stripped.split("=", 1)[0].replace("_", "a").isalnum():
            out.append("%s=<hidden>" % stripped.split("=", 1)[0])
        else:
            out.append("<hidden>")
    return "\n".join(out) + "\n"


def converge(module, dirs, files):
    check = module.check_mode
    result = {"changed": False, "directories": [], "files": [], "changed_files": []}
    diffs = []
    for d in dirs:
        if not os.path.isdir(d["path"]):
            if os.path.lexists(d["path"]):
                module.fail_json(msg="directories: %s exists and is not a directory" % d["path"], field="directories")
            action, before = "create", "state: absent\n"
            if not check:
                os.makedirs(d["path"], d["mode"])
                os.chmod(d["path"], d["mode"])
        else:
            current = os.stat(d["path"]).st_mode & 0o7777
            action, before = ("none" if current == d["mode"] else "chmod"), "state: directory, mode %04o\n" % current
            if action == "chmod" and not check:
                os.chmod(d["path"], d["mode"])
        result["directories"].append({"path": d["path"], "mode": "%04o" % d["mode"], "action": action})
        if action != "none":
            diffs.append({"before_header": d["path"], "after_header": d["path"], "before": before,
                          "after": "state: directory, mode %04o\n" % d["mode"]})
    for f in files:
        exists = os.path.lexists(f["path"])
        if exists and not os.path.isfile(f["path"]):
            module.fail_json(msg="files: %s exists and is not a regular file" % f["path"], field="files")
        before = _read(f["path"]) if exists else None
        if f["state"] == "absent":
            action = "remove" if exists else "none"
            if action == "remove" and not check:
                os.unlink(f["path"])
            after = None
        else:
            after = f["content"]
            if before is None:
                action = "create"
            elif before != after:
                action = "update"
            else:
                current = os.stat(f["path"]).st_mode & 0o7777
                action = "none" if current == f["mode"] else "chmod"
            if action == "create":
                # Check mode predicts the real run: a parent that neither exists nor is listed fails both.
                parent = os.path.dirname(f["path"])
                if not os.path.isdir(parent) and parent not in [d["path"] for d in dirs]:
                    module.fail_json(msg="files: the directory of %s does not exist and is not in directories"
                                     % f["path"], field="files")
            if action in ("create", "update") and not check:
                write_atomic(f["path"], after, mode=f["mode"], prefix=".nemoclaw-")
            elif action == "chmod" and not check:
                os.chmod(f["path"], f["mode"])
        result["files"].append({"path": f["path"], "state": f["state"], "action": action})
        if action in ("create", "update", "remove"):
            result["changed_files"].append(f["path"])
            shown = hidden if f["secret"] else (lambda text: text or "")
            diffs.append({"before_header": f["path"], "after_header": f["path"],
                          "before": shown(before), "after": shown(after)})
        elif action == "chmod":
            diffs.append({"before_header": f["path"], "after_header": f["path"],
                          "before": "mode: %04o\n" % current,
                          "after": "mode: %04o\n" % f["mode"]})
    result["changed"] = bool(diffs)
    if module._diff and diffs:
        result["diff"] = diffs
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                mode=dict(type="str", default="0700"),
            )),
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                content=dict(type="str"),
                mode=dict(type="str", default="0600"),
                state=dict(type="str", default="present", choices=["present", "absent"]),
                secret=dict(type="bool", default=False),
            )),
        ),
        supports_check_mode=True,
    )
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
