# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Filters of the rollout playbooks: each is one call into ``module_utils/rollout.py``."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import rollout


def rollout_serial(canary_hosts, serial=None):
    """The batch play's ``serial``: the canary hosts in one batch first, then ``serial``."""
    if not isinstance(canary_hosts, (list, tuple)):
        raise AnsibleFilterError("rollout_serial: expected the list of canary hosts, got %r" % (canary_hosts,))
    return rollout.serial_batches(len(canary_hosts), serial if serial is not None else [1, "10%", "100%"])


def rollout_report(hostvars, hosts):
    """Report entries of ``hosts``: from ``agents_result``, ``rollout_rollback`` and ``rollout_check`` of each."""
    reports = []
    for host in hosts:
        hv = hostvars[host] if host in hostvars else {}
        result = hv.get("agents_result")
        if not isinstance(result, dict) or result.get("skipped"):
            reports.append(rollout.host_report(host, None, needed=rollout.needs(hv.get("rollout_check"))))
            continue
        rolled = hv.get("rollout_rollback")
        rolled = rolled if isinstance(rolled, dict) and not rolled.get("skipped") else None
        seconds = result.get("seconds")
        reports.append(rollout.host_report(host, result, rolled, seconds))
    return reports


def rollout_lines(reports):
    """The rollout report as lines of text."""
    return rollout.report_lines(reports)


def rollout_failure(host, failed_result, rollback=None):
    """Why the rollout stopped at ``host``: the failed step and checks, and what the rollback did."""
    msg = (failed_result or {}).get("msg") or "failed"
    text = "%s: %s" % (host, msg)
    if isinstance(rollback, dict) and not rollback.get("skipped"):
        if rollback.get("failed"):
            text += "; the rollback failed too: %s (the agents' backups are kept on the host)" % rollback.get("msg")
        elif rollback.get("rolled_back_to"):
            text += "; returned to its previous plan (%s) with its agents' state" % ", ".join(
                "%s: %s" % kv for kv in sorted(rollback["rolled_back_to"].items()))
        else:
            text += "; no agent to return to (no earlier plan recorded)"
    return text + ". The rollout stopped: no later batch starts. Revert the inventory change or fix it and run again."


class FilterModule(object):
    def filters(self):
        return {"rollout_serial": rollout_serial, "rollout_report": rollout_report, "rollout_lines": rollout_lines,
                "rollout_failure": rollout_failure}
