# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The host lock of a playbook run: a lease file with an owner, an expiry and takeover rules.

The lease is a small JSON file (default ``~/.local/state/agentfleet-nemoclaw/site.lock``, mode 0600 in a
0700 directory)::

    {"format": 1, "owner": "ctl.example.com:4242:Sat Nov 22 00:17:03 2026",
     "controller": "ctl.example.com", "pid": 4242, "started": "Sat Nov 22 00:17:03 2026",
     "playbook": "site.yml", "acquired_at": 1763770623.1, "expires_at": 1763774223.1, "ttl": 3600}

Every read-modify-write happens under an exclusive ``flock`` of ``<lease>.lock`` (``StateFile``) and
the lease is replaced with ``os.replace``, so two runs never both believe they hold it and a crash never
leaves half a lease. A lease is free when the file is absent, when it has expired, when its owner is
in ``takeover`` (the controller proved that run gone) or when its owner is provably gone on this very
machine (same host name as the recorded controller, and no process with that pid and start time).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import DEFAULT_DIR, StateFile

LEASE_FORMAT = 1
DEFAULT_LEASE = os.path.join(DEFAULT_DIR, "site.lock")


def owner_id(controller, pid, started):
    """The identity of a run: controller host, ansible-playbook pid and the process start time."""
    return "%s:%s:%s" % (controller, pid, started)


def process_start(pid):
    """Start time of process ``pid`` as ``ps -o lstart=`` prints it (C locale), or None when there is none."""
    try:
        # Pure helper shared with the controller side (no AnsibleModule here), hence subprocess.
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(int(pid))], stdout=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                             stderr=subprocess.DEVNULL, universal_newlines=True, env=dict(os.environ, LC_ALL="C"),
                             check=False)
    except (OSError, ValueError):
        return ""  # unknown: cannot prove anything
    if out.returncode != 0:
        return None
    return " ".join(out.stdout.split()) or None


def _proc_info(pid):
    """``(ppid, command line)`` of process ``pid``, or None: from /proc, else from ``ps`` (non-Linux controllers)."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            stat = fh.read()
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            args = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        return int(stat[stat.rindex(")") + 2:].split()[1]), args
    except (IOError, OSError, ValueError):
        pass
    try:
        out = subprocess.run(["ps", "-o", "ppid=", "-o", "args=", "-p", str(int(pid))],  # pylint: disable=ansible-bad-function
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
        ppid, _sep, args = out.stdout.strip().partition(" ")
        return int(ppid), args.strip()
    except (OSError, ValueError):
        return None


def playbook_process(pid, proc_info=_proc_info, marker="ansible-playbook"):
    """The pid of the ``ansible-playbook`` process that ``pid`` (a forked worker, or the process itself) belongs to.

    Walk up to the nearest process whose command line names ``marker`` (a forked worker carries its parent's
    command line), then climb to the topmost ancestor with that very command line: ``ansible-playbook``
    itself, whose pid outlives the task (a worker's dies with it and would let another run take the lock).
    When no ancestor names ``marker`` within a few levels, the parent of ``pid`` is taken.
    """
    info = proc_info(pid)
    if info is None:
        return pid
    cur, parent_of_start = pid, info[0]
    for _level in range(8):
        if info is None or cur <= 1:
            return parent_of_start
        if marker in info[1]:
            break
        cur = info[0]
        info = proc_info(cur)
    else:
        return parent_of_start
    args = info[1]
    while True:
        parent = proc_info(info[0]) if info[0] > 1 else None
        if parent is None or parent[1] != args:
            return cur
        cur, info = info[0], parent


def run_identity(pid=None, hostname=None, proc_info=_proc_info, proc_start=None):
    """``{"controller", "pid", "started"}`` of the playbook run that this (controller-side) process works for."""
    pid = playbook_process(os.getpid() if pid is None else pid, proc_info=proc_info)
    started = (proc_start or process_start)(pid) or ""
    return {"controller": hostname if hostname is not None else os.uname()[1], "pid": pid, "started": started}


def holder_gone(holder, identity, proc_start=None):
    """True when the run named in lease ``holder`` ran on this controller and no longer exists.

    ``identity`` is this run's ``run_identity()`` (only its ``controller`` is read). A lease from another
    controller is never judged here. Gone: no process has the holder's pid, or one has it with another
    start time (the pid was reused). A start time that cannot be read, or a lease without one while the
    pid exists, proves nothing.
    """
    if not isinstance(holder, dict) or holder.get("controller") != identity.get("controller"):
        return False
    try:
        pid = int(holder.get("pid") or 0)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    start = (proc_start or process_start)(pid)
    if start is None:
        return True
    if start == "" or not holder.get("started"):
        return False  # cannot tell
    return start != holder["started"]


def read_lease(path):
    """The lease in ``path``: a dict, None when absent, ``{"corrupt": text}`` when unreadable JSON."""
    try:
        with open(path) as fh:
            text = fh.read()
    except (IOError, OSError):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {"corrupt": text[:200]}
    if not isinstance(data, dict) or not data.get("owner"):
        return {"corrupt": text[:200]}
    return data


def describe(lease):
    """One line naming the holder of ``lease`` (for messages)."""
    if not lease:
        return "nobody"
    if lease.get("corrupt") is not None:
        return "an unreadable lease"
    return "run %s (controller %s, ansible-playbook pid %s started %s, playbook %s), acquired %s, expires %s" % (
        lease.get("owner"), lease.get("controller"), lease.get("pid"), lease.get("started"),
        lease.get("playbook") or "?", _iso(lease.get("acquired_at")), _iso(lease.get("expires_at")))


def _iso(epoch):
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(epoch)))
    except (TypeError, ValueError):
        return "?"


class HostLock(object):
    """Acquire, release and query the lease at ``path``.

    ``now``, ``sleep``, ``hostname`` and ``proc_start`` are injectable for unit tests.
    """

    def __init__(self, path=DEFAULT_LEASE, now=time.time, sleep=time.sleep, hostname=None, proc_start=process_start):
        self.path = os.path.expanduser(path)
        self._now = now
        self._sleep = sleep
        self._hostname = hostname if hostname is not None else socket.gethostname()
        self._proc_start = proc_start

    # ------------------------------------------------------------------ decisions
    def free_reason(self, lease, owner, takeover=()):
        """Why ``lease`` may be taken by ``owner`` (a string), or None when it is held by someone else."""
        if lease is None:
            return "free"
        if lease.get("corrupt") is not None:
            return "unreadable lease replaced"
        if lease.get("owner") == owner:
            return "already held by this run"
        if lease.get("owner") in (takeover or ()):
            return "holder %s is gone (checked on the controller)" % lease.get("owner")
        try:
            expired = float(lease.get("expires_at") or 0) <= self._now()
        except (TypeError, ValueError):
            expired = True
        if expired:
            return "lease of %s expired at %s" % (lease.get("owner"), _iso(lease.get("expires_at")))
        if holder_gone(lease, {"controller": self._hostname}, self._proc_start):
            return "holder %s is gone (no such process on %s)" % (lease.get("owner"), self._hostname)
        return None

    def status(self):
        lease = read_lease(self.path)
        if lease is None:
            return {"state": "free", "lease": None}
        if lease.get("corrupt") is not None:
            return {"state": "corrupt", "lease": lease}
        reason = self.free_reason(lease, owner=None)
        return {"state": "held" if reason is None else "stale", "lease": lease, "stale_reason": reason}

    # ------------------------------------------------------------------ operations
    def acquire(self, owner, info=None, ttl=3600, timeout=300, takeover=(), poll=1.0, check_mode=False):
        """Take the lease for ``owner``, waiting up to ``timeout`` seconds.

        Returns ``{"acquired", "changed", "lease", "held_by", "previous", "reason", "waited"}``; ``acquired`` is
        False when another run still holds it after ``timeout`` (``held_by`` is its lease). In check mode
        nothing is written and ``acquired`` is False (``would_acquire`` tells).
        """
        started = self._now()
        while True:
            if check_mode:
                lease = read_lease(self.path)
                reason = self.free_reason(lease, owner, takeover)
                return {"acquired": False, "would_acquire": reason is not None, "changed": False,
                        "lease": lease, "held_by": None if reason is not None else lease, "previous": None,
                        "reason": reason, "waited": 0.0}
            with StateFile(self.path) as _locked:
                lease = read_lease(self.path)
                reason = self.free_reason(lease, owner, takeover)
                if reason is not None:
                    now = self._now()
                    new = dict(info or {})
                    new.update({"format": LEASE_FORMAT, "owner": owner, "acquired_at": round(now, 3),
                                "expires_at": round(now + ttl, 3), "ttl": int(ttl)})
                    if lease and lease.get("owner") == owner:
                        new["acquired_at"] = lease.get("acquired_at", new["acquired_at"])
                    _locked.write(new)
                    previous = None if lease is None or lease.get("owner") == owner else lease
                    return {"acquired": True, "changed": lease is None or lease.get("owner") != owner
                            or lease.get("expires_at") != new["expires_at"],
                            "lease": new, "held_by": None, "previous": previous, "reason": reason,
                            "waited": round(self._now() - started, 3)}
            waited = self._now() - started
            if waited >= timeout:
                return {"acquired": False, "changed": False, "lease": lease, "held_by": lease, "previous": None,
                        "reason": None, "waited": round(waited, 3)}
            self._sleep(max(0.05, min(poll, timeout - waited)))

    def release(self, owner, check_mode=False):
        """Drop the lease if ``owner`` holds it; never touch another run's lease."""
        lease = read_lease(self.path)
        if lease is None:
            return {"released": False, "changed": False, "lease": None, "held_by": None}
        if lease.get("owner") != owner:
            return {"released": False, "changed": False, "lease": lease, "held_by": lease}
        if check_mode:
            return {"released": False, "changed": True, "lease": lease, "held_by": None}
        with StateFile(self.path):
            current = read_lease(self.path)
            if current is not None and current.get("owner") == owner:
                os.unlink(self.path)
                return {"released": True, "changed": True, "lease": None, "held_by": None}
        return {"released": False, "changed": False, "lease": current, "held_by": current}
