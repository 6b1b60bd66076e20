# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The OpenShell versions this collection drives, and what each of them has.

Each range is covered by a CLI contract under ``tests/contract/<version>/`` (grammar, JSON shapes,
error texts); a unit test keeps this table and the contracts in agreement. A running version
outside every range is refused before any change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# (lowest, highest) inclusive; 0.0.111 and 0.0.116 have contracts, 0.1.5 has one.
COVERED = (("0.0.111", "0.0.116"), ("0.1.5", "0.1.5"))

# sandbox create --restart-policy (SandboxRestartPolicy): 0.1.x
RESTART_POLICY_SINCE = "0.1.0"
RESTART_POLICIES = ("never", "on-failure", "always")

# 0.1.x: drivers that cannot attach in the foreground reject `sandbox create` without --detach.
# We never attach, so from 0.1.0 on every create says so.
DETACH_SINCE = "0.1.0"


class UnsupportedVersion(Exception):
    """The running OpenShell cannot do what is asked. ``field`` names the input (None: the version itself)."""

    def __init__(self, reason, field=None):
        Exception.__init__(self, reason if field is None else "%s: %s" % (field, reason))
        self.reason = reason
        self.field = field


def key(version):
    parts = [int(x) for x in re.findall(r"\d+", str(version or ""))[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def range_text():
    """``0.0.111 to 0.0.116, 0.1.5``"""
    return ", ".join(lo if lo == hi else "%s to %s" % (lo, hi) for lo, hi in COVERED)


def covered(version):
    v = key(version)
    return any(key(lo) <= v <= key(hi) for lo, hi in COVERED)


def check_covered(version):
    """Raise UnsupportedVersion when no contract covers ``version``."""
    if not covered(version):
        raise UnsupportedVersion("OpenShell %s is not supported: this collection drives OpenShell %s"
                                 % (version or "(unknown version)", range_text()))


def has_restart_policy(version):
    return key(version) >= key(RESTART_POLICY_SINCE)


def create_needs_detach(version):
    return key(version) >= key(DETACH_SINCE)


def restart_policy_versions():
    """The covered versions that have ``--restart-policy``, as text."""
    ranges = [(lo, hi) for lo, hi in COVERED if has_restart_policy(lo)]
    return ", ".join(lo if lo == hi else "%s to %s" % (lo, hi) for lo, hi in ranges)


def check_restart_policy(version, value, path="restart_policy"):
    """Refuse a restart policy the running OpenShell cannot take (naming ``path`` and the versions)."""
    if value and not has_restart_policy(version):
        raise UnsupportedVersion("OpenShell %s has no sandbox restart policy (sandbox create --restart-policy); "
                                 "it needs OpenShell %s" % (version, restart_policy_versions()), path)
