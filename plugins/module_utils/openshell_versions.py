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


class VersionGateError(ValueError):
    """A version outside the range a blueprint or an agent allows. ``field`` names the version checked."""

    def __init__(self, field, reason):
        ValueError.__init__(self, "%s: %s" % (field, reason))
        self.field = field
        self.reason = reason


_VERSION_RE = re.compile(r"^[vV]?(\d+(?:\.\d+)*)(?:[-+~][0-9A-Za-z.+-]*)?$")


def parse_version(text):
    """Parse "0.0.111", "v2026.3.11", "0.0.116-dev", "1.2.3+4" into a comparable int tuple.

    A leading v/V is ignored; anything after the first '-', '+' or '~' (pre-release or
    build suffix) is ignored too, so "0.0.111-dev" compares equal to "0.0.111". Trailing
    zero components beyond the third are dropped (1.2.3.0 == 1.2.3); short versions are
    padded (1.2 == 1.2.0).
    """
    if not isinstance(text, str):
        text = str(text)
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise ValueError("invalid version %r (expected digits separated by dots)" % text)
    parts = [int(x) for x in m.group(1).split(".")]
    while len(parts) < 3:
        parts.append(0)
    while len(parts) > 3 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def check_version_gate(actual, minimum=None, maximum=None, what="version"):
    """Raise VersionGateError when `actual` is outside [minimum, maximum] (inclusive).

    Missing bounds are open. The message names both bounds. ``actual=None`` skips the check.
    """
    if actual in (None, ""):
        return
    try:
        value = parse_version(actual)
    except ValueError as exc:
        raise VersionGateError(what, str(exc))
    lo = parse_version(minimum) if minimum else None
    hi = parse_version(maximum) if maximum else None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise VersionGateError(what, "%s %s is outside the supported range (min %s, max %s)"
                               % (what, actual, minimum or "none", maximum or "none"))


def key(version):
    """``parse_version`` that does not raise: an unreadable version is (0, 0, 0), below every range."""
    try:
        return parse_version(version)
    except ValueError:
        return (0, 0, 0)


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
