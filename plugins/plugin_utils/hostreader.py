# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The host half of a check-mode apply compared on the controller (``plugin_utils/readback.py``).

The ``nemoclaw_apply`` action sends this file's source to the host's Python as ``python -I -c <source>
<request>``: no AnsiballZ archive, no Ansible code on the host, so standard library only and Python 3.9 (as the
modules). The request (JSON) names the read-only ``openshell`` calls to make, with their environment, and the state directory; the answer
(JSON on standard output) holds each call's exit status and output, and the state files the apply reads.
It runs a call as ``AnsibleModule.run_command`` would for the module (``~`` and ``$VAR`` expanded in each
argument, the task's environment plus the call's), never through a shell. The controller asks only for calls
of read-only command paths (``plugin_utils/readback.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# A state file larger than this is not the collection's: the answer says so and the module reads the host instead.
MAX_FILE_BYTES = 16 * 1024 * 1024


def run_call(call):
    """``{"rc", "out", "err"}`` of one call, or ``{"error"}`` when it could not be run or decoded."""
    argv = [os.path.expanduser(os.path.expandvars(arg)) for arg in call["argv"]]
    env = dict(os.environ)
    env.update(call.get("env") or {})
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, close_fds=True)
        out, err = proc.communicate()
    except (OSError, ValueError) as exc:
        return {"error": "%s: %s" % (argv[0] if argv else "", exc)}
    try:
        return {"rc": proc.returncode, "out": out.decode("utf-8"), "err": err.decode("utf-8")}
    except UnicodeDecodeError:
        return {"error": "the output of %s is not UTF-8" % " ".join(call["argv"][1:3])}


def read_text(path):
    """The text of ``path``, or None when it cannot be read (what the apply then takes for no file)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except (IOError, OSError):
        return None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("%s is larger than %d bytes" % (path, MAX_FILE_BYTES))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def answer(request):
    """The answer to one request (see the module docstring)."""
    root = os.path.expanduser(request["state_dir"])
    out = {"calls": []}
    try:
        out["applied"] = read_text(os.path.join(root, "applied", request["gateway"] + ".json"))
        out["providers"] = read_text(os.path.join(root, "providers.json"))
        journal_dir = os.path.join(root, "journal", request["gateway"])
        out["journals"] = sorted(f for f in os.listdir(journal_dir) if f.endswith(".json")) \
            if os.path.isdir(journal_dir) else []
    except (IOError, OSError, ValueError) as exc:
        return {"error": str(exc)}
    for call in request["calls"]:
        out["calls"].append(run_call(call))
    return out


def main():
    try:
        request = json.loads(sys.argv[1])
    except (IndexError, ValueError) as exc:
        sys.stdout.write(json.dumps({"error": "request: %s" % exc}))
        return 1
    sys.stdout.write(json.dumps(answer(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
