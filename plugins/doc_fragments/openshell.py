# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations


class ModuleDocFragment(object):

    # Connection options shared by every OpenShell module. Set them once per
    # play with module_defaults: {group/agentfleet.nemoclaw.openshell: {...}}.
    DOCUMENTATION = r"""
options:
  gateway:
    description:
      - Name of a registered OpenShell gateway (the CLI's C(--gateway)); the rule of the M(agentfleet.nemoclaw.openshell_gateway)
        O(agentfleet.nemoclaw.openshell_gateway#module:name) option applies.
      - When omitted, the CLI uses C(OPENSHELL_GATEWAY) or the active gateway.
    type: str
  gateway_endpoint:
    description:
      - Gateway URL used directly, bypassing the registration lookup (the CLI's C(--gateway-endpoint)).
    type: str
  workspace:
    description:
      - OpenShell workspace every resource is scoped to (the CLI's C(--workspace)).
      - When omitted, the CLI uses C(OPENSHELL_WORKSPACE) or C(default).
    type: str
  openshell_path:
    description:
      - Path or name of the C(openshell) executable on the managed host.
    type: path
    default: openshell
  timeout:
    description:
      - Seconds one OpenShell operation may wait (sandbox provisioning and start/stop, policy loads).
      - Passed to the CLI through C(OPENSHELL_PROVISION_TIMEOUT), C(OPENSHELL_LIFECYCLE_TIMEOUT) and C(--timeout).
      - Must be at least 1; checked before any call.
    type: int
    default: 300
  retries:
    description:
      - How many times a call answered with the transient gRPC status C(Unavailable) is retried, with exponential backoff from 1 second.
      - Must be 0 or more.
    type: int
    default: 3
notes:
  - The module calls only the C(openshell) command line interface, never the gateway API.
  - Secrets never appear on a command line; credentials reach the CLI through its environment (C(--credential KEY)).
"""

    ATTRIBUTES_STATEFUL = r"""
attributes:
  check_mode:
    description: Can run in check mode and return a changed status prediction without modifying the target.
    support: full
    details: Reads the current state and predicts the result without any mutating OpenShell call.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
    support: full
    details: Shows the managed fields before and after; secrets appear only as C(<changed>)/C(<unchanged>) markers.
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
    details: A second run with the same arguments reports C(changed=false) and makes no mutating OpenShell call.
  action_group:
    description: Use C(group/agentfleet.nemoclaw.openshell) in O(ignore:module_defaults) to set defaults for this module.
    support: full
    membership:
      - agentfleet.nemoclaw.openshell
"""

    ATTRIBUTES_INFO = r"""
attributes:
  check_mode:
    description: Can run in check mode and return a changed status prediction without modifying the target.
    support: full
    details: Read-only; runs the same in check mode.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: full
  action_group:
    description: Use C(group/agentfleet.nemoclaw.openshell) in O(ignore:module_defaults) to set defaults for this module.
    support: full
    membership:
      - agentfleet.nemoclaw.openshell
"""
