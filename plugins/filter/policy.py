# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# Filters agentfleet.nemoclaw.compose_policy and agentfleet.nemoclaw.policy_diff.
# Documentation: compose_policy.yml and policy_diff.yml next to this file.

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy import (
    PolicyError,
    compose_policy as _compose_policy,
    policy_diff as _policy_diff,
)


def compose_policy(layers, trusted_private_hosts=None, agent_required_keys=None):
    """Compose policy layers; returns {policy, provenance, middleware_provenance, excluded}."""
    if not isinstance(layers, (list, tuple)):
        raise AnsibleFilterError("compose_policy expects a list of layers, got %s" % type(layers).__name__)
    try:
        composed = _compose_policy(layers, trusted_private_hosts=trusted_private_hosts or (),
                                   agent_required_keys=agent_required_keys or ())
    except PolicyError as exc:
        raise AnsibleFilterError("compose_policy: %s" % exc)
    return composed.as_dict()


def policy_diff(before, after):
    """Structured difference between two policies (normalised first)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        raise AnsibleFilterError("policy_diff expects two policy mappings")
    try:
        return _policy_diff(before, after)
    except (PolicyError, TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError("policy_diff: %s" % exc)


class FilterModule(object):
    """Policy composition filters."""

    def filters(self):
        return {
            "compose_policy": compose_policy,
            "policy_diff": policy_diff,
        }
