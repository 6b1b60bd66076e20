# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Directories and whole files, read once and written only where they differ (module ``nemoclaw_files``).

``nemoclaw_apply`` runs :func:`converge` in check mode on the gateway's files in its host check
(``module_utils/hostbase.py``), so both judge a file the same way.
"""

from __future__ import annotations

import os

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import write_atomic

# The options of nemoclaw_files (documented there).
ARGUMENT_SPEC = dict(
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
)


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
