# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""A small host-side JSON state file: private (0600 in a 0700 dir), locked, atomic.

Used for what OpenShell cannot tell us back: provider fingerprints (never a
secret) and first-seen times of pending approvals. Writers hold an exclusive
``flock`` on ``<file>.lock`` for read-modify-write, and replace the file with
``os.replace`` so a crash never leaves half a file.
"""

from __future__ import annotations

import binascii
import fcntl
import json
import os
import tempfile

DEFAULT_DIR = "~/.local/state/agentfleet-nemoclaw"


def default_path(name):
    return os.path.join(os.path.expanduser(DEFAULT_DIR), name)


def write_atomic(path, text, mode=0o600, prefix=".tmp-"):
    """Replace ``path`` with ``text`` (str) atomically: a temporary file in the same directory, ``mode``
    set before the rename, ``os.replace``. A crash leaves the old file or the new one, never half of one."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class StateFile(object):
    def __init__(self, path, readonly=False):
        self.path = os.path.expanduser(path)
        self.readonly = readonly
        self._lock_fd = None

    def __enter__(self):
        if self.readonly:
            # Check mode: read what is there, create nothing (no dir, no lock file).
            return self
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._lock_fd is None:
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    def read(self):
        try:
            with open(self.path) as fh:
                data = json.load(fh)
        except (IOError, OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data.setdefault("version", 1)
        if not data.get("salt"):
            data["salt"] = binascii.hexlify(os.urandom(16)).decode("ascii")
        return data

    def write(self, data):
        if self.readonly:
            raise RuntimeError("state file %s opened read-only" % self.path)
        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", prefix=".state-")
