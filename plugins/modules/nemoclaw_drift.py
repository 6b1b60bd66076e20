# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

# Documentation only: the work is done by the action plugin plugins/action/nemoclaw_drift.py
# on the controller; with its option read it runs openshell_info on the managed host.

from __future__ import annotations

DOCUMENTATION = r"""
module: nemoclaw_drift
short_description: Compare a host's OpenShell state snapshot with its desired state (fast drift scan)
version_added: 0.1.0
description:
  - Compares what M(agentfleet.nemoclaw.openshell_info) read from a host (one module execution) with what the roles
    C(openshell), C(credentials) and C(sandbox) would converge - the gateway registration, the providers and their
    credentials, the sandbox, its running network policy and the C(inference.local) route - and reports every
    difference as a finding.
  - The snapshot is given (O(state)) or read by this task (O(read) - M(agentfleet.nemoclaw.openshell_info) runs on the
    host, the task's only module execution). The blueprint plan is given (O(plan)) or planned by this task
    (O(blueprint) - M(agentfleet.nemoclaw.nemoclaw_blueprint) on the controller, with the OpenShell version just read).
    Read, plan and compare in one task is what makes C(playbooks/drift.yml) one task per host.
  - This is an action plugin. The comparison runs on the controller. It decides
    with the same functions the C(openshell_*) modules use in check mode (C(compare.sandbox_actions),
    C(compare.provider_plan), C(compare.sandbox_policy_plan), C(compare.gateway_registration_differences),
    C(compare.inference_differences)), so C(playbooks/drift.yml) finds what C(site.yml --check) finds.
  - Credential values (O(secrets) and the C(credentials) of O(providers)) are only hashed with the salt of the host's state file,
    as M(agentfleet.nemoclaw.openshell_provider) does; no finding contains a secret.
  - The M(agentfleet.nemoclaw.drift_report) callback summarizes the findings of all hosts, as text and optionally as JSON
    and Markdown files.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
options:
  state:
    description:
      - The C(openshell) return value of M(agentfleet.nemoclaw.openshell_info) read with
        O(agentfleet.nemoclaw.openshell_info#module:gather_subset=[registrations, version, providers, provider_records,
        sandbox_details, inference]) (V(registrations) only when O(gateway) is given). Each sandbox's policy is taken
        from its C(sandbox get) object, or from a C(policies) subset read with
        O(agentfleet.nemoclaw.openshell_info#module:policy_bodies=true) when present.
      - When O(sandbox) sets C(approval_mode), the snapshot must carry the sandbox's settings
        (O(agentfleet.nemoclaw.openshell_info#module:sandbox_settings=true), the default).
      - Exactly one of O(state) and O(read) is required.
    type: dict
  read:
    description:
      - Read the snapshot in this task - the options of M(agentfleet.nemoclaw.openshell_info), which runs on the host
        (read-only OpenShell calls) with the subsets described for O(state). Its failure fails the task, with its message.
      - Include V(version) in C(gather_subset) when O(blueprint) is set, so the plan is gated on the version read.
    type: dict
  blueprint:
    description:
      - Plan the blueprint in this task - the options of M(agentfleet.nemoclaw.nemoclaw_blueprint), with
        C(openshell_version) set to the version O(read) or O(state) carries (the blueprint's own C(--version) probe runs
        only when neither has one). The blueprint's failure fails the task (C(msg) starts with C(blueprint:), and
        C(error_path) names the field).
      - When set, O(sandbox) and O(inference) are templated after planning, with the new plan as the variable
        C(blueprint_plan) (which C(sandbox_plan) and the C(sandbox_*) defaults derive from).
      - Mutually exclusive with O(plan).
    type: dict
  plan:
    description:
      - The blueprint plan (RV(agentfleet.nemoclaw.nemoclaw_blueprint#module:plan)). Its C(providers) are compared when
        O(plan_providers) is set, and its C(provenance) is attached to policy findings.
      - Nothing is planned when both O(plan) and O(blueprint) are omitted.
    type: dict
  plan_providers:
    description: Compare the providers of O(plan) (as the C(credentials) role creates them).
    type: bool
    default: true
  secrets:
    description:
      - Credential values by environment-variable name for the providers of O(plan) (C(nemoclaw_secrets)).
      - Only hashed, never returned.
    type: dict
    default: {}
  providers:
    description:
      - Further providers, as given to M(agentfleet.nemoclaw.openshell_provider) (C(credentials_providers) of the
        C(credentials) role).
      - Each item has C(name), C(type), C(credentials), C(config), optionally C(update_credentials) and
        C(recreate_on_type_change).
    type: list
    elements: dict
    default: []
  update_credentials:
    description: As O(agentfleet.nemoclaw.openshell_provider#module:update_credentials).
    type: str
    choices: [on_change, always, on_create]
    default: on_change
  connection:
    description:
      - C(gateway), C(gateway_endpoint) and C(workspace) the providers are managed with; they form the record key in the
        host's state file.
    type: dict
    default: {}
  gateway:
    description:
      - The gateway registration (C(name), C(endpoint), C(local), C(active)) as given to
        M(agentfleet.nemoclaw.openshell_gateway). Not compared when omitted.
    type: dict
  sandbox:
    description:
      - The sandbox as given to M(agentfleet.nemoclaw.openshell_sandbox) - C(name), C(image), C(providers), C(policy),
        C(cpu), C(memory), C(gpu), C(env), C(labels), C(approval_mode), C(state), C(recreate), C(allow_secret_env) - and
        validated the same way. Not compared when omitted.
      - Templated by the action, after O(blueprint) planned (so it may refer to the new plan as C(blueprint_plan)).
    type: dict
  policy:
    description:
      - Also compare the running network policy of the sandbox with its C(policy), as
        M(agentfleet.nemoclaw.openshell_policy) does.
    type: bool
    default: true
  inference:
    description:
      - The C(inference.local) route (C(provider), C(model), C(timeout_secs)) as given to
        M(agentfleet.nemoclaw.openshell_inference). Not compared when omitted.
      - Templated by the action, like O(sandbox).
    type: dict
  fail_on_change:
    description: Fail the host when drift is found (for cron and CI).
    type: bool
    default: false
  report:
    description:
      - Hand the findings to the M(agentfleet.nemoclaw.drift_report) callback (the RV(nemoclaw_drift) marker).
      - V(false) when the comparison only decides which modules a converging run executes (the C(observe) role in
        C(site.yml)); the modules then report their own changes and diffs, and nothing is counted twice.
    type: bool
    default: true
attributes:
  action:
    support: full
    details: Compares on the controller; with O(read) it also runs M(agentfleet.nemoclaw.openshell_info) on the host.
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Read-only; runs the same in check mode.
  connection:
    support: full
    details: Only O(read) (and the blueprint's version probe, when no version was read) use the connection.
  delegation:
    support: none
  diff_mode:
    support: none
  idempotent:
    description: Never changes anything; the same snapshot and inputs give the same findings.
    support: full
  platform:
    platforms: posix
notes:
  - C(changed) is V(true) when drift was found (nothing was changed), so the play recap counts drifted hosts.
  - Fingerprinted credentials are compared only when the host's state file has a record for the provider, exactly like
    M(agentfleet.nemoclaw.openshell_provider) with O(agentfleet.nemoclaw.openshell_provider#module:update_credentials=on_change).
seealso:
  - module: agentfleet.nemoclaw.openshell_info
  - module: agentfleet.nemoclaw.nemoclaw_blueprint
  - plugin: agentfleet.nemoclaw.drift_report
    plugin_type: callback
"""

EXAMPLES = r"""
- name: Read, plan and compare in one task (what playbooks/drift.yml does through the observe role)
  agentfleet.nemoclaw.nemoclaw_drift:
    read:
      gather_subset: [version, providers, provider_records, sandbox_details, inference]
    blueprint:
      src: openclaw
      tier: balanced
    secrets: "{{ nemoclaw_secrets }}"
    sandbox:
      name: openclaw
      image: "{{ blueprint_plan.sandbox.image }}"  # templated after planning
      policy: "{{ blueprint_plan.policy }}"
    fail_on_change: true

- name: Read the whole OpenShell state of the host (one read-only module execution)
  agentfleet.nemoclaw.openshell_info:
    gather_subset: [registrations, version, providers, provider_records, sandbox_details, inference]
  register: drift_state

- name: Compare on the controller
  agentfleet.nemoclaw.nemoclaw_drift:
    state: "{{ drift_state.openshell }}"
    plan: "{{ blueprint_plan }}"
    secrets: "{{ nemoclaw_secrets }}"
    connection:
      gateway: openshell
    sandbox:
      name: openclaw
      image: "{{ blueprint_plan.sandbox.image }}"
      providers: "{{ blueprint_plan.providers | map(attribute='name') | list }}"
      policy: "{{ blueprint_plan.policy }}"
    inference:
      provider: "{{ blueprint_plan.inference.provider_name }}"
      model: "{{ blueprint_plan.inference.model }}"
    fail_on_change: true
"""

RETURN = r"""
drifted:
  description: Whether any finding was made.
  returned: success
  type: bool
findings:
  description: What differs, one entry per resource.
  returned: success
  type: list
  elements: dict
  contains:
    resource:
      description: V(gateway), V(provider), V(sandbox), V(policy) or V(inference).
      type: str
    name:
      description: The resource's name (gateway, provider or sandbox name, V(inference.local)).
      type: str
    differences:
      description: What differs, one line each (no secret).
      type: list
      elements: str
      sample: ["network_policies.allow_evil_example_com_443 not in the plan"]
    action:
      description: What a converging run would do (V(create), V(update), V(set), V(replace), V(start), ...).
      type: str
    provenance:
      description: Policy findings only - per differing C(network_policies) key its C(change) and the plan layer
        (C(layer), C(source), C(level)) that defines it, or a C(note) for keys not in the plan.
      type: dict
      returned: for policy findings
    error:
      description: Why the converging module would fail instead of changing this resource.
      type: str
      returned: when the module would fail
resources:
  description: The resource kinds with findings.
  returned: success
  type: list
  elements: str
  sample: [policy, inference]
names:
  description:
    - The names with findings per resource kind; every kind is present, with an empty list when it is in sync.
    - What the C(credentials) and C(sandbox) roles read to skip the modules of resources in sync.
  returned: success
  type: dict
  sample: {gateway: [], provider: [nvidia-inference], sandbox: [], policy: [openclaw], inference: [], approval: [],
           files: [], other: []}
nemoclaw_drift:
  description: C(host) and C(findings), the marker the M(agentfleet.nemoclaw.drift_report) callback reads.
  returned: success and O(report=true)
  type: dict
openshell_version:
  description: The OpenShell CLI version read by O(read) (null when the C(version) subset was not read).
  returned: when O(read) is set
  type: str
read:
  description: C(error_kind), C(rc) and C(stderr) of the failed M(agentfleet.nemoclaw.openshell_info) run.
  returned: when the read of O(read) failed
  type: dict
blueprint:
  description: C(digest), C(pinned), C(source) and C(msg) of the plan made by O(blueprint).
  returned: when O(blueprint) is set
  type: dict
msg:
  description: One-line summary.
  returned: always
  type: str
"""
