#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: nemoclaw_apply
short_description: Converge every agent of a host to its desired state (nemoclaw_agents), or report the drift
version_added: 0.2.0
description:
  - Plans the host's desired-state document O(agents) (the C(nemoclaw_agents) variable, see C(docs/desired-state.md)) on
    the controller, then converges the host's agent layer in one module execution on the host.
  - "On the controller (action plugin): the whole document is validated, blueprints are resolved and digest-verified,
    policies composed with provenance, and every secret the agents need is checked in O(secrets), before the host is
    touched. Errors name the inventory path of the value (C(nemoclaw_agents[assistant].resources.memory))."
  - "On the host: OpenShell is read once (version, providers, inference route, each agent's sandbox with its policy),
    compared, and only the differences are acted on, in dependency order: providers, the C(inference.local) route, then
    per agent the sandbox (creation, replacement, provider attachments, start/stop, approval mode) and its running
    policy; the blueprint's health command runs in every agent that changed."
  - "Inside the sandbox: with C(config), C(channels) or C(mcp_servers) in an entry, the agent's own configuration file
    (OpenClaw C(~/.openclaw/openclaw.json), Hermes C(~/.hermes/config.yaml)) gets what the collection writes (model
    through C(inference.local), channel sections, MCP servers, the C(config) overlay) while keys written by hand or by
    the agent are kept; channel tokens go to gateway providers, never into the file; each channel's health check runs
    after a change. The file is read only when what the collection writes changed (see C(docs/agent-config.md))."
  - A sandbox whose image, resources or environment changed must be replaced. With C(on_replace=preserve) (the default)
    the agent's home is backed up to the host first (0600 files in a 0700 directory, credential files left out), the
    replacement is journalled on the host, and the backup is restored into the new sandbox and verified against its
    manifest of checksums. Nothing is deleted when the backup fails. A run killed at any step is finished by the next
    run, which restores the backup before anything else. C(on_replace=refuse) fails before any change, naming the fields.
  - Check mode changes nothing (it may read an agent's configuration file inside its sandbox) and reports what a real
    run would do, per agent and per resource; with C(--diff) every differing field is named (C(memory 8Gi -> 16Gi),
    C(config.channels.telegram.enabled - -> true)), and a replacement says so. This is the drift check of
    C(playbooks/drift.yml) and C(site.yml --check --diff).
  - "In check mode without O(host_base) (the drift scan) the action does not send the module: one small read-only
    process of the host's Python (standard library only, no secret sent) makes the OpenShell reads and returns them with
    the host's records, and the same apply code decides on the controller, so the result is the module's. The module
    runs instead whenever that cannot vouch for the result: an unfinished replacement on the host, an agent
    configuration file to read, a gateway that must be retried, a delegated task (C(-vvv) says why)."
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
extends_documentation_fragment:
  - agentfleet.nemoclaw.openshell
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads and compares; nothing is changed through OpenShell (a sandbox is only read) and no file is written on the host.
  diff_mode:
    support: full
    details: One diff per changed provider, route and agent, naming every field; credentials appear only as C(<changed>).
  idempotent:
    description: Whether a second run with the same arguments reports no change.
    support: full
    details: A second run with the same desired state reports C(changed=false) and makes no mutating OpenShell call.
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    platforms: posix
options:
  agents:
    description:
      - The host's desired-state document, a list with one entry per agent (= one sandbox), normally
        C({{ nemoclaw_agents }}). The keys, their defaults and rules are in C(docs/desired-state.md).
      - Planned by the action plugin on the controller. Exactly one of O(agents) and O(plan) is required.
    type: list
    elements: raw
  plan:
    description:
      - A plan made before (the C(plan) return value of an earlier run), applied as it is.
    type: dict
  secrets:
    description:
      - Credential values by name, normally C({{ nemoclaw_secrets }}) (Ansible Vault). Only the values the plan's
        providers need reach the host, in the module's arguments; they are passed to the CLI through its environment.
    type: dict
    default: {}
  host_facts:
    description:
      - "C({cpus, memory_mb}) of the host, for a blueprint resource profile given in percent. Default: the preflight
        role's C(preflight_host_size), else gathered facts."
    type: dict
  update_credentials:
    description:
      - When provider credentials are written - V(on_change) (fingerprints on the host tell), V(always) or V(on_create).
    type: str
    choices: [on_change, always, on_create]
    default: on_change
  state_dir:
    description:
      - Directory on the host for what the apply keeps - provider fingerprints, the record of what was applied, the
        replacement journal and the backups (C(backups/<gateway>/<agent>/)).
    type: str
    default: ~/.local/state/agentfleet-nemoclaw
  wait_timeout:
    description: Seconds a sandbox may take to become Ready or to be deleted.
    type: int
    default: 300
  policy_wait_timeout:
    description: Seconds a running sandbox may take to load a new policy revision.
    type: int
    default: 60
  health_timeout:
    description: Seconds the blueprint's health command may run.
    type: int
    default: 60
  gate:
    description:
      - After a change, also check that every changed agent's newest policy revision is loaded and that
        C(inference.local) routes to the plan's provider and model (the health command always runs after a change).
        A failed check fails the task naming the agent and the check (canary health gates).
    type: bool
    default: false
  health_required:
    description:
      - Whether a failed health command after a change fails the task (V(true)) or is a warning (V(false)).
      - O(rollback) sets it to V(false) - the agent is back on its previous plan with its state either way.
    type: bool
    default: true
  rollback:
    description:
      - Return the host to the plan it ran before the desired one - per agent, the plan applied before O(agents)' (or
        the last applied one when the desired plan was never applied), read from the host's record under O(state_dir).
        Backups and restores happen as for any replacement. Agents with no earlier plan are left as they are.
    type: bool
    default: false
  read_previous:
    description:
      - Internal step of O(rollback) (the action runs it first) - return the rollback plan as RV(rollback_plan) and make no
        OpenShell call.
    type: bool
    default: false
  host_base:
    description:
      - "The quick path of C(site.yml): in this same execution, take the host lock, check that the host layer is
        as the preflight, gpu and openshell roles would leave it (host checks and their saved report, GPU checks,
        the pinned OpenShell version, the gateway's directories and files, an C(external) supervisor or a running
        C(process) one, the gateway's
        registration and C(connected) status), and only then converge the agents and release the lock."
      - When a check does not hold (or the lock is held by another run) nothing is changed, the lock is released and
        RV(host_base_needed) is V(true) with RV(host_base_reasons); C(site.yml) then runs the roles and this module
        again. In check mode the lock is only read.
      - V(true) takes every option from the collection's own tasks, templated for the host - those of the agents role's
        task (options the task also gives win), of C(playbooks/tasks/lock_acquire.yml) (never waiting for a held lock), of the
        preflight and gpu roles' tasks (with the variables C(playbooks/tasks/host_base.yml) gives the preflight role)
        and the openshell role's variables - so the quick path runs with exactly the options of the tasks it stands for.
      - "A dict gives the module's options itself. Keys: C(lock) (C(enabled), C(owner), C(owner_info), C(path), C(ttl),
        C(takeover), as M(agentfleet.nemoclaw.nemoclaw_lock)),
        C(preflight) (the options of M(agentfleet.nemoclaw.nemoclaw_preflight)), C(gpu) (the options of
        M(agentfleet.nemoclaw.nvidia_gpu_facts)), C(openshell) (C(version), C(path), C(supervisor), C(problems),
        C(config_dir), C(state_dir), C(gateway_env), C(gateway_name), C(gateway_endpoint),
        C(gateway_local_tls)). The action plugin fills in C(lock.owner) and renders the gateway's files."
    type: raw
  fail_on_change:
    description: In check mode, fail the task when the host differs from its desired state.
    type: bool
    default: false
  report:
    description:
      - In check mode, return the differences as C(nemoclaw_drift) findings for the C(agentfleet.nemoclaw.drift_report)
        callback.
    type: bool
    default: true
notes:
  - The module part refuses O(agents); it is always planned on the controller by the action plugin.
  - Outside check mode one converge at a time works on a host's agents - the module holds an exclusive C(flock) on
    C(apply.busy) in O(state_dir) for its whole execution and waits up to O(wait_timeout) for another (for example one
    left running by an C(ansible-playbook) killed by its pid alone), then fails with C(error_kind=busy), changing nothing.
seealso:
  - module: agentfleet.nemoclaw.openshell_sandbox
  - module: agentfleet.nemoclaw.openshell_policy
"""

EXAMPLES = r"""
- name: Converge the host's agents
  agentfleet.nemoclaw.nemoclaw_apply:
    agents: "{{ nemoclaw_agents }}"
    secrets: "{{ nemoclaw_secrets }}"
    gateway: openshell
  no_log: false  # secrets is no_log; the result carries none

- name: Drift of the host's agents (nothing is changed)
  agentfleet.nemoclaw.nemoclaw_apply:
    agents: "{{ nemoclaw_agents }}"
    secrets: "{{ nemoclaw_secrets }}"
  check_mode: true
  register: drift
"""

RETURN = r"""
agents:
  description: Per agent, what differed and what was (or would be) done.
  returned: success
  type: dict
  sample:
    assistant:
      changed: true
      replace: true
      actions: [backup, delete, create, restore]
      differences: [{field: memory, before: 8Gi, after: 16Gi}]
      backup: /home/u/.local/state/agentfleet-nemoclaw/backups/openshell/assistant/20261205T100000-000001-replace.tar.gz
      restored: {files: 12, verified: true, changed_since_restore: []}
      config: {path: /sandbox/.openclaw/openclaw.json, written: true}
      channels: {telegram: enabled}
providers:
  description: Per provider of the plan, the action (none, create, update) and its reasons; credentials only as C(<changed>).
  returned: success
  type: dict
inference:
  description: The C(inference.local) route - whether it changed and the differing fields.
  returned: success
  type: dict
resumed:
  description:
    - Replacements a killed run had left unfinished and this run finished (agent, journal step, backup, action, and
      C(restored) when it restored).
    - C(restored.changed_since_restore) names files the agent wrote after the restore; they are kept as they are.
  returned: success
  type: list
  elements: dict
openshell_version:
  description: The OpenShell CLI version read on the host (gated against every agent's blueprint).
  returned: success
  type: str
summary:
  description: One line per change, as in the task's message.
  returned: success
  type: list
  elements: str
plan_digest:
  description: Digest of the plan that was applied.
  returned: always
  type: str
nemoclaw_drift:
  description: In check mode with O(report), the differences as findings for the drift_report callback.
  returned: check mode
  type: dict
rollback_plan:
  description: With O(read_previous), the plan the host would return to.
  returned: with read_previous
  type: dict
notes:
  description: With O(rollback), agents left as they are (no earlier plan recorded).
  returned: with rollback
  type: list
  elements: str
host_base_needed:
  description:
    - With O(host_base) - V(true) when the host layer needs the roles (nothing was changed and no agent was converged),
      V(false) when the agents were converged in this execution.
  returned: with host_base
  type: bool
host_base_reasons:
  description: With O(host_base), why the roles must run (one sentence each; empty when they need not).
  returned: with host_base
  type: list
  elements: str
host_lock:
  description:
    - With O(host_base), when this execution took the host lock - C(acquired), C(lease), and C(previous) and C(reason)
      when it took over a lease (as M(agentfleet.nemoclaw.nemoclaw_lock) returns them). The lock is released before the
      task returns.
  returned: with host_base, not in check mode
  type: dict
error_path:
  description: The inventory path of the value that was refused, when the desired state is invalid.
  returned: failure
  type: str
"""

import contextlib  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import apply as applylib  # noqa: E402
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import (  # noqa: E402
    Context,
    InputError,
    argument_spec,
    client_for,
)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import OpenShellError  # noqa: E402
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import BusyError, Working  # noqa: E402

# In state_dir: held (flock) by the module converging the host's agents (statefile.Working).
BUSY_FILE = "apply.busy"


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            agents=dict(type="list", elements="raw"),
            plan=dict(type="dict"),
            secrets=dict(type="dict", default={}, no_log=True),
            host_facts=dict(type="dict"),
            update_credentials=dict(type="str", default="on_change", choices=["on_change", "always", "on_create"]),
            state_dir=dict(type="str", default="~/.local/state/agentfleet-nemoclaw"),
            wait_timeout=dict(type="int", default=300),
            policy_wait_timeout=dict(type="int", default=60),
            health_timeout=dict(type="int", default=60),
            fail_on_change=dict(type="bool", default=False),
            report=dict(type="bool", default=True),
            gate=dict(type="bool", default=False),
            health_required=dict(type="bool", default=True),
            rollback=dict(type="bool", default=False),
            read_previous=dict(type="bool", default=False),
            host_base=dict(type="raw"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["plan"] is None:
        module.fail_json(msg="agents: the desired state is planned on the controller by the nemoclaw_apply action; "
                             "run the module as agentfleet.nemoclaw.nemoclaw_apply (not through a raw module call)")
    for value in (p["secrets"] or {}).values():
        module.no_log_values.add(str(value))
    for item in ((p["host_base"] or {}).get("openshell") or {}).get("files") or []:
        if isinstance(item, dict) and item.get("secret") and item.get("content"):
            module.no_log_values.add(str(item["content"]))  # gateway.env: its values may be secrets
    if p["read_previous"]:
        # Imported here: it loads the planning code, which a converge or a drift scan does not need on the host.
        from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import rollout  # pylint: disable=import-outside-toplevel
        records = applylib.records_for(client_for(module), p["state_dir"], readonly=True).applied()
        previous, notes = rollout.rollback_plan(records, p["plan"])
        module.exit_json(changed=False, rollback_plan=previous, notes=notes)
    client = None
    ctx = None
    held = None
    try:
        client = client_for(module)
        with working(module, p["state_dir"], p["wait_timeout"]):
            if p["host_base"] is not None:
                held = quick_path(module, p["host_base"], client)
            ctx = Context(module, client)
            applier = applylib.Applier(
                client, p["plan"], p["secrets"], check_mode=module.check_mode, state_dir=p["state_dir"],
                write_temp_json=ctx.write_temp_json, warn=module.warn, update_credentials=p["update_credentials"],
                wait_timeout=p["wait_timeout"], policy_wait_timeout=p["policy_wait_timeout"],
                health_timeout=p["health_timeout"], gate=p["gate"],
                health_required=p["health_required"])
            result, failure = applylib.outcome(applier, client)
            if failure is not None:
                module.fail_json(**failure)
    except InputError as exc:
        module.fail_json(msg=str(exc), error_kind="invalid_input", field=exc.field, commands=[])
    except OpenShellError as exc:
        extra = exc.to_result()
        extra.pop("cmd", None)
        module.fail_json(msg=str(exc), commands=client.call_log() if client else [], **extra)
    finally:
        if ctx is not None:
            ctx.cleanup()
    if p["host_base"] is not None:
        result.update(host_base_needed=False, host_base_reasons=[])
        if held is not None:
            release(module, held)
            result["host_lock"] = held[2]
    module.exit_json(**applylib.finish(result, client, p["plan"], module._diff))


def quick_path(module, options, client):
    """Take the host lock and check the host layer (``module_utils/hostbase.py``); the lock held, or None.

    Exits the module with ``host_base_needed`` (nothing changed, the lock released) when the roles must run.
    """
    # Imported here: a drift scan (no host_base) does not load the host checks.
    # pylint: disable=import-outside-toplevel
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import hostbase
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.lock import HostLock, describe
    checked = ArgumentSpecValidator(hostbase.ARGUMENT_SPEC).validate(options)
    if checked.error_messages:
        module.fail_json(msg="host_base: %s" % "; ".join(checked.error_messages), error_kind="invalid_input",
                         field="host_base")
    spec = checked.validated_parameters
    lk = spec["lock"]
    held = None
    if lk["enabled"]:
        if not lk["owner"]:
            module.fail_json(msg="host_base.lock.owner: is required (the action plugin names the run)", field="host_base")
        held = HostLock(lk["path"])
        try:
            got = held.acquire(lk["owner"], info=lk["owner_info"], ttl=lk["ttl"], timeout=0, takeover=lk["takeover"],
                               check_mode=module.check_mode)
        except (IOError, OSError) as exc:
            needed(module, None, ["host lock %s: %s" % (held.path, exc)])
        if module.check_mode:
            if got["held_by"]:
                module.warn("check mode: host lock %s is held by %s; a change in progress may show as drift"
                            % (held.path, describe(got["held_by"])))
            held = None
        elif not got["acquired"]:
            # Waiting for it, or proving its holder gone, is the nemoclaw_lock task's work.
            needed(module, None, ["host lock %s is held by %s" % (held.path, describe(got["held_by"]))])
        elif got["previous"]:
            module.warn("host lock %s taken over: %s" % (held.path, got["reason"]))
        if held is not None:
            # What nemoclaw_lock returns about the taking (acquired, previous, reason).
            held = (held, lk["owner"], dict((k, got[k]) for k in ("acquired", "previous", "reason", "lease")))
    reasons, warnings, _report = hostbase.check(module, spec, client)
    if reasons:
        needed(module, held, reasons)
    for text in warnings:
        module.warn(text)
    return held


@contextlib.contextmanager
def working(module, state_dir, timeout):
    """One converge at a time on the host's agents (``statefile.Working``); check mode only reads, so it does not wait."""
    if module.check_mode:
        yield
        return
    guard = Working(os.path.join(state_dir, BUSY_FILE), timeout)
    try:
        guard.__enter__()
    except BusyError as exc:
        module.fail_json(msg="another nemoclaw_apply (pid %s) is still converging the agents of this host after %ss; it may be "
                             "left from a run that was killed while its module kept working. Nothing was changed; run again "
                             "when it has ended." % (exc.holder or "unknown", exc.waited),
                         error_kind="busy", changed=False, commands=[])
    except (IOError, OSError) as exc:
        module.fail_json(msg="state_dir: cannot take %s/%s (one converge at a time per host): %s. Nothing was changed."
                             % (state_dir, BUSY_FILE, exc), error_kind="host", field="state_dir", changed=False, commands=[])
    try:
        if guard.waited:
            module.warn("waited %ss for another nemoclaw_apply (its run gone, its module still working) to end" % guard.waited)
        yield
    finally:
        guard.__exit__(None, None, None)


def release(module, held):
    """Give back the host lock this execution took; a failure to do so is a warning (the lease expires)."""
    lock, owner = held[:2]
    try:
        lock.release(owner)
    except (IOError, OSError) as exc:
        module.warn("host lock %s: not released: %s" % (lock.path, exc))


def needed(module, held, reasons):
    """End here: the roles must run. Nothing was changed; a lock this execution took is given back."""
    if held is not None:
        release(module, held)
    module.exit_json(changed=False, host_base_needed=True, host_base_reasons=reasons,
                     host_lock=held[2] if held is not None else None, msg="the host layer needs the roles: %s" % "; ".join(reasons))


if __name__ == "__main__":
    main()
