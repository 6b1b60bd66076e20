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
import errno
import fcntl
import json
import os
import tempfile
import time

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

DEFAULT_DIR = "~/.local/state/agentfleet-nemoclaw"


class BusyError(Exception):
    """Another process still holds the ``Working`` guard after the wait."""

    def __init__(self, path, holder, waited):
        super(BusyError, self).__init__(path)
        self.path = path
        self.holder = holder
        self.waited = waited


class Working(object):
    """One process at a time working on what ``path`` guards: an exclusive ``flock`` held while inside.

    ``nemoclaw_apply`` holds it on its state directory's ``apply.busy`` for a whole converge. A flock
    dies with its process, never with its parent: a module left running by an ansible-playbook killed
    by pid (its process group spared) keeps working on the sandboxes until it ends, and the next run's
    apply waits here for it instead of replacing the same sandbox at the same time. ``holder`` (the
    pid written into the file) only names it in messages. Waits up to ``timeout`` seconds, then raises
    ``BusyError``.
    """

    def __init__(self, path, timeout, poll=0.5, now=time.monotonic, sleep=time.sleep):
        self.path = os.path.expanduser(path)
        self.timeout = timeout
        self.poll = poll
        self._now = now
        self._sleep = sleep
        self._fd = None
        self.waited = 0.0

    def __enter__(self):
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        # Never through a link: this file is truncated and written (a link planted there would be the victim).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
        started = self._now()
        self.waited = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
            self.waited = self._now() - started
            if self.waited >= self.timeout:
                holder = self.holder()
                os.close(fd)
                raise BusyError(self.path, holder, round(self.waited, 1))
            self._sleep(self.poll)
        if self.waited:
            self.waited = round(self._now() - started, 1)
        os.ftruncate(fd, 0)
        os.write(fd, ("%d\n" % os.getpid()).encode("ascii"))
        self._fd = fd
        return self

    def holder(self):
        """The pid the current holder wrote, or None."""
        try:
            with open(self.path) as fh:
                return int(fh.read().strip() or 0) or None
        except (IOError, OSError, ValueError):
            return None

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None


def default_path(name):
    return os.path.join(os.path.expanduser(DEFAULT_DIR), name)


def write_atomic(path, text, mode=0o600, prefix=".tmp-"):
    """Replace ``path`` with ``text`` (str) atomically and durably: a temporary file in the same directory, ``mode``
    set before the rename, flushed to disk, ``os.replace``, then the directory flushed. A crash, or a power loss,
    leaves the old file or the new one, never half of one (a journal step is on disk before the step it allows)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync_dir(directory):
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems cannot flush a directory; the file itself is on disk
    finally:
        os.close(dfd)


def parse(text):
    """A state file's data from its ``text`` (None: no readable file); what cannot be read is an empty state."""
    try:
        data = json.loads(text) if text is not None else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    data.setdefault("version", 1)
    if not data.get("salt"):
        data["salt"] = binascii.hexlify(os.urandom(16)).decode("ascii")
    return data


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
        self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
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
                text = fh.read()
        except (IOError, OSError, ValueError):
            text = None
        return parse(text)

    def write(self, data):
        if self.readonly:
            raise RuntimeError("state file %s opened read-only" % self.path)
        write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", prefix=".state-")
