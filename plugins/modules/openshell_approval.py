#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshell_approval
short_description: Review pending network requests of an OpenShell sandbox
version_added: 0.1.0
description:
  - When an agent reaches a host its policy does not allow, OpenShell drafts a network rule ("chunk") and waits for an
    operator. This module lists the pending chunks (C(openshell rule get NAME --status pending)) and approves or rejects
    them by chunk id or by matchers on host glob, port, binary glob and rule name.
  - Reject matchers win over approve matchers. Chunks the sandbox flags as security-relevant are never approved unless
    O(include_security_flagged=true).
  - With O(reject_unmatched=true) every pending chunk no approve rule selects is rejected, so the queue cannot grow.
  - Approving a chunk merges its rule into the sandbox policy as a new revision.
  - Every decided chunk is tried. When the gateway refuses one (its proposal changed since it was read, its rule is
    no longer applicable to the current policy, it was decided meanwhile), the others are still approved or
    rejected; the refused ones are listed in RV(failures) and stay pending, and the task fails at the end naming each
    of them (id, rule, error kind, message). Only a gateway that cannot be reached stops the batch at once.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - agentfleet.nemoclaw.openshell.ATTRIBUTES_STATEFUL
options:
  sandbox:
    description:
      - Sandbox name, validated before any call as the server does (lowercase letters, digits and single hyphens,
        at most 19 characters).
    type: str
    required: true
  approve:
    description:
      - Matchers selecting chunks to approve. Each is a mapping of one or more of C(id), C(host), C(port),
        C(binary) (glob) and C(rule) (glob); all given fields must match.
      - C(host) matches exactly after normalisation (case, a trailing dot, IP spellings); a wildcard is only allowed in
        the first label and stays within it (C(*.example.com) never matches C(example.com.evil)).
      - Empty or whitespace-only values are refused, and so is an approve matcher with a C(rule) but neither C(host) nor
        C(id) (generated rule names fold C(.) and C(-), so they cannot tell hosts apart).
    type: list
    elements: dict
    default: []
  reject:
    description: Matchers selecting chunks to reject (same form as O(approve)).
    type: list
    elements: dict
    default: []
  approve_ids:
    description: Chunk ids to approve (an empty or whitespace id is refused).
    type: list
    elements: str
    default: []
  reject_ids:
    description: Chunk ids to reject.
    type: list
    elements: str
    default: []
  approve_all:
    description: Approve every pending chunk not rejected by a matcher (security-flagged ones excluded unless asked).
    type: bool
    default: false
  include_security_flagged:
    description: Allow approving chunks that carry security notes.
    type: bool
    default: false
  reject_unmatched:
    description: Reject every pending chunk that no approve matcher selects.
    type: bool
    default: false
  reason:
    description: Reason recorded with rejections (chunks rejected for their age are recorded as C(older than SLA)).
    type: str
  sla_seconds:
    description:
      - Reject every pending chunk that has waited at least this many seconds and that no approve or reject matcher
        decides, with reason C(older than SLA). V(0) turns the SLA off.
      - The wait is counted from the chunk's first-seen time as OpenShell reports it (only when it has seen more than
        one hit), else from when this module first saw the chunk id, kept in O(state_file).
    type: int
    default: 0
  state_file:
    description:
      - Host-side JSON file recording when each pending chunk id was first seen (a private file in a private
        directory, locked while updated). Ids no longer pending are removed. Read but never written in check mode.
      - Defaults to C(~/.local/state/agentfleet-nemoclaw/approvals.json).
    type: path
"""

EXAMPLES = r"""
- name: Approve GitHub over HTTPS for git, reject everything else
  agentfleet.nemoclaw.openshell_approval:
    sandbox: openclaw
    approve:
      - host: "*.github.com"
        port: 443
        binary: /usr/bin/git
    reject_unmatched: true
    reason: not on the allow list

- name: Reject what waited longer than a day without a decision
  agentfleet.nemoclaw.openshell_approval:
    sandbox: openclaw
    sla_seconds: 86400

- name: Only look (check mode reports what would happen)
  agentfleet.nemoclaw.openshell_approval:
    sandbox: openclaw
  check_mode: true
  register: queue
"""

RETURN = r"""
pending:
  description:
    - Pending chunks found (C(id), C(rule), C(binary), C(binaries), C(endpoints), C(security), C(confidence), C(hits),
      C(first_seen), C(last_seen) as OpenShell shows them; C(application), why the rule cannot be applied to the
      current policy, and C(candidate), the first 12 digits of the policy hash an approval would give, both empty
      when OpenShell shows none).
    - Each also has C(first_seen_epoch), C(first_seen_utc), C(age_seconds) and C(first_seen_source)
      (C(openshell), C(state) or C(this run)).
  returned: always
  type: list
  elements: dict
approved:
  description: Chunks approved (or that would be), each with the C(reason); not those in RV(failures).
  returned: always
  type: list
  elements: dict
rejected:
  description: Chunks rejected (or that would be), each with the C(reason); not those in RV(failures).
  returned: always
  type: list
  elements: dict
failures:
  description:
    - Chunks whose approval or rejection the gateway refused (empty when none; the task then fails after the other
      chunks were decided). Each is the chunk as in RV(pending) with C(reason), plus C(action) (C(approve) or
      C(reject)), C(error_kind), C(message), C(hint) and C(rc).
    - C(error_kind) is C(proposal_changed) (the review token no longer matches or the proposal's inputs changed;
      review the chunk again), C(proposal_not_applicable) (the rule cannot be merged into the current policy; the
      chunk's C(application) says why), C(not_found), C(precondition) (for instance a chunk decided meanwhile) or
      another error kind of the collection.
  returned: always
  type: list
  elements: dict
left:
  description: Pending chunks left alone, each with the C(reason).
  returned: always
  type: list
  elements: dict
expired:
  description: Ids of pending chunks that have waited at least O(sla_seconds).
  returned: always
  type: list
  elements: str
sla_seconds:
  description: The SLA applied (V(0) when none).
  returned: always
  type: int
state_file:
  description: Path of the first-seen state file.
  returned: always
  type: str
now:
  description: The time of the review (epoch seconds) the ages are computed from.
  returned: always
  type: int
commands:
  description: Every C(openshell) call made, as argv after the program name, exit code and whether it mutates.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import argument_spec, run_module
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.converge import converge_approval


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            sandbox=dict(type="str", required=True),
            approve=dict(type="list", elements="dict", default=[]),
            reject=dict(type="list", elements="dict", default=[]),
            approve_ids=dict(type="list", elements="str", default=[]),
            reject_ids=dict(type="list", elements="str", default=[]),
            approve_all=dict(type="bool", default=False),
            include_security_flagged=dict(type="bool", default=False),
            reject_unmatched=dict(type="bool", default=False),
            reason=dict(type="str"),
            sla_seconds=dict(type="int", default=0),
            state_file=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    run_module(module, converge_approval)


if __name__ == "__main__":
    main()
