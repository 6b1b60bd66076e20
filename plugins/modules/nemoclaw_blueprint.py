# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

# Documentation only: the work is done by the action plugin plugins/action/nemoclaw_blueprint.py
# on the controller, where the blueprint artifact lives.

from __future__ import annotations

DOCUMENTATION = r"""
module: nemoclaw_blueprint
short_description: Resolve, verify and plan a NemoClaw blueprint (sandbox, inference, composed policy)
version_added: 0.1.0
description:
  - Loads a NemoClaw blueprint from a directory, a C(.tar.gz) archive or an C(https://) URL on the controller, computes its
    canonical artifact digest, checks it against the operator's pin O(digest), checks that the sandbox image is pinned by
    C(@sha256:) digest, and returns a deterministic deployment plan as RV(plan) - the sandbox spec, the inference route and
    provider, and the deny-by-default network policy composed from the blueprint baseline, the agent's additions, the
    presets of the selected O(tier), O(presets), O(custom_presets) and O(overrides), with the provenance of every entry.
  - This is an action plugin. Resolution, verification and composition run on the controller, before anything runs on a
    managed host. The only command run on the host is the read-only C(openshell --version) (when O(openshell_version) is
    omitted), after the artifact has been verified. The task never changes anything and always returns C(changed=false).
  - "The target's OpenShell version must lie within the blueprint's C(min_openshell_version)..C(max_openshell_version)
    (inclusive, compared numerically: C(0.0.111) > C(0.0.99)); the agent version (O(agent_version), by default the version
    the blueprint declares in C(x-agentfleet.agent.version)) must satisfy C(min_openclaw_version). A version outside
    its range fails naming the version and both bounds."
  - Errors name the field path, for example C(digest), C(tier), C(presets.nonexistent) or
    C(policy.network_policies.nas.endpoints[0].host); the same path is returned as RV(error_path).
  - Feed the plan to M(agentfleet.nemoclaw.openshell_provider), M(agentfleet.nemoclaw.openshell_sandbox),
    M(agentfleet.nemoclaw.openshell_policy) and M(agentfleet.nemoclaw.openshell_inference). See C(docs/blueprints.md) in
    the collection for the blueprint layout, the digest and the composition rules.
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
options:
  src:
    description:
      - The blueprint artifact. One of
      - The name of a blueprint shipped with the collection, V(openclaw) or V(hermes) (the collection's C(blueprints/NAME)).
      - A directory containing C(blueprint.yaml), or a C(.tar.gz)/C(.tgz) archive of one, on the controller. A relative path
        is searched in this order, taking the first directory with a C(blueprint.yaml) or the first archive found -
        C(blueprints/SRC), C(files/SRC) and C(SRC) below the role (and its C(tasks/) directory) and below the playbook
        directory, then the collection's C(blueprints/SRC) and C(SRC).
      - An C(https://) URL of a C(.tar.gz) archive, downloaded on the controller once per C(ansible-playbook) run. Plain
        C(http://) and other schemes are refused.
    type: str
    required: true
  digest:
    description:
      - The artifact digest the operator pinned after reviewing the blueprint, C(sha256:<64 hex digits>). Print it with
        C(tools/blueprint-digest PATH) from the collection; directory and archive of the same files have the same digest.
      - A mismatch fails before anything runs on the host, naming the computed and the pinned digest.
      - Required unless O(allow_unpinned_artifact=true), except for the blueprints shipped with the collection, which are
        covered by the integrity of the installed collection itself (the same trust as this plugin's code). Pinning a
        shipped blueprint is still checked when given.
    type: str
  allow_unpinned_artifact:
    description:
      - Accept a blueprint that is not shipped with the collection without O(digest). A warning names the digest to pin.
      - Defaults to V(false) because the blueprint decides what the sandbox may reach; an artifact that can change
        between runs (a URL, a shared directory) must not silently widen a fleet's network policy.
    type: bool
    default: false
  allow_unpinned_image:
    description:
      - Accept a sandbox image that is not pinned by C(@sha256:) digest (a tag such as C(:latest)).
    type: bool
    default: false
  validate_certs:
    description: Verify the TLS certificate of an C(https://) O(src).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the download of an C(https://) O(src).
    type: int
    default: 30
  profile:
    description:
      - Inference profile of the blueprint (C(components.inference.profiles)), for example V(default), V(vllm) or V(ncp).
      - Default - the blueprint's C(x-agentfleet.default_profile), else V(default), else the first listed profile.
    type: str
  resource_profile:
    description:
      - Resource profile of the sandbox (C(components.sandbox.resource_profiles)), for example V(creator). CPU and memory are
        percentages of the host's O(host_facts).
      - Default - the blueprint's C(x-agentfleet.default_resource_profile); without one no limits are planned.
    type: str
  tier:
    description:
      - Policy tier from C(tiers.yaml) (the blueprint's own, else the collection's C(policies/tiers.yaml)) - V(restricted)
        (baseline only), V(balanced) or V(open).
      - Default - the blueprint's C(x-agentfleet.default_tier), else V(balanced).
    type: str
  presets:
    description:
      - "Extra presets on top of the tier, each V(name), V(name:read), V(name:read-write) or a mapping
        C({name: NAME, access: read}). V(read) restricts the preset to C(GET)/C(HEAD)."
    type: list
    elements: raw
    default: []
  custom_presets:
    description:
      - Site presets. A string is a preset file on the controller (C(preset:) plus C(network_policies:)), absolute or
        searched in the role's and playbook's C(files/) directories; a mapping is an inline preset with C(name) and
        C(network_policies) (or C(policy)).
      - Custom presets may reach private or loopback destinations only through O(trusted_private_hosts).
    type: list
    elements: raw
    default: []
  overrides:
    description:
      - The inventory layer (highest precedence), a mapping or a list of mappings with the keys C(name), C(source) (shown in
        the provenance, for example V(host_vars/dgx1.yml)), C(network_policies), C(network_middlewares),
        C(filesystem_policy), C(exclude) (network policy keys of lower layers to drop) and C(override) (V(true) or a list of
        keys this layer may replace).
      - Keys the blueprint requires (C(x-agentfleet.required_policy_keys), for example C(managed_inference)) cannot be
        excluded.
    type: raw
  trusted_private_hosts:
    description:
      - "Private or loopback destinations that presets and overrides may reach, each V(10.0.0.5), V(nas.lan=192.168.1.20)
        (several addresses separated by commas) or a mapping C({host: nas.lan, allowed_ips: [192.168.1.20]}). Matching
        endpoints get C(allowed_ips) pinned to these addresses."
    type: list
    elements: raw
    default: []
  openshell_version:
    description:
      - OpenShell version of the target, checked against the blueprint's C(min_openshell_version) and
        C(max_openshell_version).
      - When omitted it is detected by running O(openshell_path) C(--version) on the host with the task's environment
        (also in check mode; the command is read-only).
    type: str
  detect_openshell_version:
    description:
      - Detect the version when O(openshell_version) is omitted. With V(false) the OpenShell version gate is skipped, for
        example to plan before OpenShell is installed; C(openshell.actual) in RV(plan.versions) is then C(null).
    type: bool
    default: true
  openshell_path:
    description: Path or name of the C(openshell) executable on the managed host, for the version detection.
    type: str
    default: openshell
  agent_version:
    description:
      - Agent version checked against the blueprint's C(min_openclaw_version) (or C(x-agentfleet.agent.min_version) and
        C(max_version)).
      - Default - the version the blueprint declares in C(x-agentfleet.agent.version); without one the gate is skipped.
    type: str
  host_facts:
    description:
      - Host size for percentage resource profiles.
      - Default - from gathered facts (C(ansible_facts.processor_vcpus), C(ansible_facts.memtotal_mb)); without facts the
        values are omitted, and a resource profile that needs them fails naming C(host_facts.cpus) or
        C(host_facts.memory_mb).
    type: dict
    suboptions:
      cpus:
        description: Number of CPUs.
        type: float
      memory_mb:
        description: Memory in MiB.
        type: int
  credentials_given:
    description:
      - Names of the environment variables that will hold provider credentials (for example
        V(NVIDIA_INFERENCE_API_KEY)). The plan marks each provider credential as C(given), C(default) (the profile's
        C(credential_default)) or C(missing). Never pass secret values here.
    type: list
    elements: str
    default: []
  endpoint_url:
    description: Inference endpoint for a profile with C(dynamic_endpoint) (for example V(ncp)); refused for fixed profiles.
    type: str
attributes:
  action:
    support: full
    details: Resolution, digest verification and composition run on the controller.
  async:
    support: none
  become:
    support: full
    details: Applies to the C(openshell --version) probe only.
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The task is read-only and runs unchanged in check mode, including the C(openshell --version) probe.
  connection:
    support: full
    details: Used for the C(openshell --version) probe only.
  delegation:
    support: full
    details: The version probe runs on the delegated host.
  diff_mode:
    support: none
  idempotent:
    description: Running it again with the same arguments and artifact returns the same result and changes nothing.
    support: full
    details: Never changes anything; the plan (and RV(plan.plan_digest)) is deterministic for the same inputs.
  platform:
    platforms: posix
notes:
  - Within one C(ansible-playbook) run an C(https://) O(src) is downloaded once (per O(validate_certs) setting) into the
    controller's local temporary directory and shared by all hosts, so every host plans from the same bytes; the digest is
    computed and verified again for every host.
  - Ansible runs each host's task in its own worker process; a loaded blueprint is memoised only within one worker (for
    example across the items of a loop) and re-read when its files change. Verification is deterministic, so every host
    reaches the same verdict for the same artifact.
  - The digest covers the blueprint artifact only. Presets and C(tiers.yaml) taken from the collection's C(policies/)
    directory are part of the installed collection; RV(plan.provenance) names the source of every network policy.
seealso:
  - module: agentfleet.nemoclaw.openshell_sandbox
  - module: agentfleet.nemoclaw.openshell_policy
  - module: agentfleet.nemoclaw.openshell_provider
  - module: agentfleet.nemoclaw.openshell_inference
"""

EXAMPLES = r"""
- name: Plan the shipped OpenClaw blueprint (OpenShell version detected on the host)
  agentfleet.nemoclaw.nemoclaw_blueprint:
    src: openclaw
    tier: balanced
    resource_profile: creator
    credentials_given: [NVIDIA_INFERENCE_API_KEY]
  register: bp

- name: A reviewed blueprint archive from an artifact server, pinned by digest
  agentfleet.nemoclaw.nemoclaw_blueprint:
    src: https://artifacts.example.com/blueprints/openclaw-0.1.0.tar.gz
    digest: sha256:ce8999fc267a349fa6e5cad4892f0e6c560927489a7cdbf5ee804f21c30e2e57
    tier: open
    presets: [github, "weather:read"]
    custom_presets: [presets/nas.yaml]
    trusted_private_hosts: ["nas.lan=192.168.1.20"]
    overrides:
      source: host_vars/dgx1.yml
      exclude: [openclaw_docs]
  register: bp

- name: Create the sandbox from the plan
  agentfleet.nemoclaw.openshell_sandbox:
    name: "{{ bp.plan.sandbox.name }}"
    image: "{{ bp.plan.sandbox.image }}"
    cpu: "{{ bp.plan.sandbox.cpu | default(omit, true) }}"
    memory: "{{ bp.plan.sandbox.memory | default(omit, true) }}"
    policy: "{{ bp.plan.policy }}"

- name: Converge its network policy on later runs
  agentfleet.nemoclaw.openshell_policy:
    sandbox: "{{ bp.plan.sandbox.name }}"
    policy: "{{ bp.plan.policy }}"
"""

RETURN = r"""
plan:
  description: The deployment plan, deterministic for the same artifact and arguments (JSON-serialisable).
  returned: success
  type: dict
  contains:
    blueprint:
      description: C(name), C(version), C(digest) (the artifact digest) and C(image_digest) of the blueprint.
      type: dict
      sample: {"name": "openclaw", "version": "0.1.0", "digest": "sha256:52b8...", "image_digest": "sha256:2843..."}
    versions:
      description: The version gates checked, C(openshell) and C(agent), each with C(actual), C(min) and C(max).
      type: dict
    agent:
      description: C(name) and C(version) of the agent.
      type: dict
    sandbox:
      description: C(image), C(name), C(forward_ports), C(resource_profile), C(cpu) and C(memory) for the sandbox.
      type: dict
      sample: {"image": "ghcr.io/...@sha256:2843...", "name": "openclaw", "forward_ports": [18789],
               "resource_profile": "creator", "cpu": "5", "memory": "32768Mi"}
    inference:
      description: The inference route - C(profile), C(provider_name), C(provider_type), C(endpoint), C(model),
        C(dynamic_endpoint) and optionally C(timeout_secs).
      type: dict
    providers:
      description: Providers to create - C(name), C(type), C(credentials) (C(key), C(env), C(source)) and C(config).
      type: list
      elements: dict
    tier:
      description: The tier applied.
      type: str
      sample: balanced
    presets:
      description: The presets applied, each with C(name), C(access) and C(source).
      type: list
      elements: dict
    policy:
      description: The composed OpenShell policy (C(version) 1, C(filesystem_policy), C(landlock), C(process),
        C(network_policies), C(network_middlewares)), validated against the OpenShell schema.
      type: dict
    provenance:
      description:
        - For every C(network_policies) key the C(layer), C(source) file and C(level) that defined it.
        - A key whose rule names no binaries also carries C(any_binary=true) (OpenShell lets any binary use it).
      type: dict
      sample: {"npm_yarn": {"layer": "preset:npm", "source": "library:presets/npm.yaml", "level": "tier"}}
    any_binary:
      description: The C(network_policies) keys whose rule names no binaries, so that any binary in the sandbox may use
        their endpoints. Present only when there are some.
      type: list
      elements: str
      returned: when a composed rule names no binaries
      sample: ["nim_service"]
    excluded:
      description: Keys removed by an C(exclude), with the layer that removed them and the one that defined them.
      type: dict
    required_policy_keys:
      description: Network policy keys the blueprint requires.
      type: list
      elements: str
    health_command:
      description: Agent health check command (argv) inside the sandbox.
      type: list
      elements: str
    state_dirs:
      description: Agent state directories inside the sandbox.
      type: list
      elements: str
    labels:
      description:
        - The labels the C(sandbox) role puts on the sandbox to name the blueprint it was made from -
          C(nemoclaw.blueprint/name), C(nemoclaw.blueprint/version) and C(nemoclaw.blueprint/digest) (the first 16 hex
          digits of RV(digest)). C(canary_upgrade.yml) and C(rollback.yml) read them back.
      type: dict
      sample: {nemoclaw.blueprint/name: openclaw, nemoclaw.blueprint/version: 0.1.0, nemoclaw.blueprint/digest: 52b8f1194a0c46d4}
    plan_digest:
      description: C(sha256:) of the canonical JSON of the rest of the plan; equal plans have equal digests.
      type: str
digest:
  description: The computed artifact digest of the blueprint.
  returned: success
  type: str
  sample: sha256:ce8999fc267a349fa6e5cad4892f0e6c560927489a7cdbf5ee804f21c30e2e57
pinned:
  description: Whether the artifact was checked against O(digest).
  returned: success
  type: bool
source:
  description: Where the blueprint was loaded from (resolved path or URL).
  returned: success
  type: str
openshell_version:
  description: The OpenShell version gated on, or C(null) when not checked.
  returned: success
  type: str
  sample: 0.0.111
openshell_version_source:
  description: V(option) (from O(openshell_version)), V(detected) (C(openshell --version) on the host) or V(skipped).
  returned: success
  type: str
error_path:
  description: Field path of the error, for example V(digest), V(openshell_version) or V(policy.network_policies.x).
  returned: failure
  type: str
msg:
  description: Summary of the plan, or the error.
  returned: always
  type: str
"""
