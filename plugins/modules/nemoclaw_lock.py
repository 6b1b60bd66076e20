#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: nemoclaw_lock
short_description: Host lock of a playbook run (a lease file with owner and expiry)
version_added: 0.1.0
description:
  - Serialises runs of C(site.yml) (or any playbook) on a managed host with a lease file, by default
    C(~/.local/state/agentfleet-nemoclaw/site.lock) (mode 0600, directory 0700). The lease names its owner (controller
    host, C(ansible-playbook) pid and that process's start time), the playbook, when it was taken and when it expires.
  - Reads and writes happen under an exclusive C(flock) of C(<path>.lock) and the lease is replaced atomically, so two runs
    never both hold it and a crash never leaves half a lease.
  - A lease is taken over when it has expired (O(ttl)), when its owner is listed in O(takeover) (the controller proved that
    run gone), or when its owner ran on this very machine and no process with that pid and start time exists any more.
  - A run that finds the lease held waits up to O(timeout) seconds and then fails with a message naming the holder.
  - The action plugin first tries once without waiting. Only when another run holds the lease does it check, on the
    controller, whether that run (same controller, its C(ansible-playbook) pid and start time) is gone; then it tries
    again with that owner added to O(takeover), waiting up to O(timeout). A free lease costs one module execution.
  - Does not talk to OpenShell; not part of the C(openshell) action group. See C(docs/reliability.md) and the task files
    C(playbooks/tasks/lock_acquire.yml) and C(playbooks/tasks/lock_release.yml).
author:
  - agentfleet.nemoclaw contributors (@agentfleet)
options:
  state:
    description:
      - V(acquired) takes (or renews) the lease for O(owner); V(released) drops it if O(owner) holds it; V(query) only reads it.
    type: str
    choices: [acquired, released, query]
    default: acquired
  owner:
    description:
      - Identity of the run, C(<controller>:<pid>:<start time>). Required with O(state=released).
      - With O(state=acquired) it may be left out; the action plugin then names this run on the controller (its host
        name, the pid of C(ansible-playbook) and that process's start time), fills O(owner_info) with the same and
        returns the id as RV(owner) for the task that releases the lease.
    type: str
  owner_info:
    description: Recorded in the lease for people and for takeover decisions (C(controller), C(pid), C(started), C(playbook)).
    type: dict
    default: {}
  path:
    description: The lease file on the managed host.
    type: path
    default: ~/.local/state/agentfleet-nemoclaw/site.lock
  ttl:
    description: Seconds after which an acquired lease expires and may be taken over. Set it above your longest run.
    type: int
    default: 3600
  timeout:
    description:
      - Seconds to wait for a lease held by another run. V(0) tries once.
    type: int
    default: 300
  takeover:
    description: Owner ids whose lease may be taken over at once (runs proven gone).
    type: list
    elements: str
    default: []
  fail_when_held:
    description: Fail when the lease is still held by another run after O(timeout); V(false) returns RV(acquired=false).
    type: bool
    default: true
notes:
  - Check mode reads the lease, reports its holder (RV(held_by)) and writes nothing; a C(--check) run never takes the lock.
attributes:
  check_mode:
    description: Can run in check mode and return a changed status prediction without modifying the target.
    support: full
    details: Reads the lease and reports its holder; writes nothing (a C(--check) run never takes the lock).
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode with the same arguments, the second run reports no change.
    support: partial
    details: Acquiring again renews the lease's expiry (reported as changed); releasing twice reports no change.
"""

EXAMPLES = r"""
- name: Take the host lock for this run (the controller names the run)
  agentfleet.nemoclaw.nemoclaw_lock:
    owner_info: {playbook: site.yml}
    ttl: 3600
    timeout: 300
  register: host_lock

- name: Release it
  agentfleet.nemoclaw.nemoclaw_lock:
    state: released
    owner: "{{ host_lock.owner }}"

- name: Take it for an owner named elsewhere
  agentfleet.nemoclaw.nemoclaw_lock:
    owner: "ctl1:4242:Sat Nov 22 00:17:03 2026"
    owner_info: {controller: ctl1, pid: 4242, started: "Sat Nov 22 00:17:03 2026", playbook: site.yml}
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lease now.
  type: bool
  returned: state=acquired
would_acquire:
  description: Check mode; whether the lease is free for this run.
  type: bool
  returned: state=acquired in check mode
released:
  description: Whether the lease was removed.
  type: bool
  returned: state=released
lease:
  description: The lease as it is now (null when there is none).
  type: dict
  returned: always
held_by:
  description: The lease of another run that holds the lock (null when none).
  type: dict
  returned: always
previous:
  description: The lease that was taken over (expired, or of a run proven gone).
  type: dict
  returned: state=acquired
reason:
  description: Why the lease could be taken (C(free), C(lease of ... expired at ...), C(holder ... is gone ...)).
  type: str
  returned: state=acquired
waited:
  description: Seconds spent waiting for another run.
  type: float
  returned: state=acquired
status:
  description: C(free), C(held), C(stale) or C(corrupt).
  type: str
  returned: state=query
path:
  description: The lease file.
  type: str
  returned: always
owner:
  description: The owner id this task used (computed on the controller when O(owner) was left out).
  type: str
  returned: state=acquired
  sample: "ctl1:48213:Sat Nov 22 00:17:03 2026"
owner_info:
  description: What was recorded about the owner (C(controller), C(pid), C(started), C(playbook)).
  type: dict
  returned: state=acquired
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.lock import HostLock, describe


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["acquired", "released", "query"], default="acquired"),
            owner=dict(type="str"),
            owner_info=dict(type="dict", default={}),
            path=dict(type="path", default="~/.local/state/agentfleet-nemoclaw/site.lock"),
            ttl=dict(type="int", default=3600),
            timeout=dict(type="int", default=300),
            takeover=dict(type="list", elements="str", default=[]),
            fail_when_held=dict(type="bool", default=True),
        ),
        required_if=[("state", "acquired", ["owner"]), ("state", "released", ["owner"])],  # the action plugin fills owner in
        supports_check_mode=True,
    )
    p = module.params
    if p["ttl"] < 1:
        module.fail_json(msg="ttl: must be a positive number of seconds, got %s" % p["ttl"], field="ttl")
    if p["timeout"] < 0:
        module.fail_json(msg="timeout: must be 0 or more seconds, got %s" % p["timeout"], field="timeout")
    lock = HostLock(p["path"])
    try:
        if p["state"] == "query":
            status = lock.status()
            module.exit_json(changed=False, status=status["state"], lease=status["lease"],
                             held_by=status["lease"] if status["state"] == "held" else None, path=lock.path)
        if p["state"] == "released":
            result = lock.release(p["owner"], check_mode=module.check_mode)
            if result["held_by"]:
                module.warn("host lock %s is now held by %s, not by this run; left alone"
                            % (lock.path, describe(result["held_by"])))
            module.exit_json(path=lock.path, **result)
        info = dict(p["owner_info"])
        result = lock.acquire(p["owner"], info=info, ttl=p["ttl"], timeout=p["timeout"], takeover=p["takeover"],
                              check_mode=module.check_mode)
    except (IOError, OSError) as exc:
        module.fail_json(msg="host lock %s: %s" % (lock.path, exc), path=lock.path)
    if module.check_mode:
        if result["held_by"]:
            module.warn("check mode: host lock %s is held by %s; a change in progress may show as drift"
                        % (lock.path, describe(result["held_by"])))
        module.exit_json(path=lock.path, **result)
    if not result["acquired"] and p["fail_when_held"]:
        module.fail_json(
            msg="host lock %s is held by %s; waited %ss (nemoclaw_lock_timeout). Nothing was changed on this host. "
                "Let that run finish; if it is gone, its lease expires at the time above (nemoclaw_lock_ttl), "
                "or pass -e nemoclaw_lock_break=%s to take it over" % (
                    lock.path, describe(result["held_by"]), int(result["waited"]), result["held_by"].get("owner")),
            path=lock.path, **dict((k, v) for k, v in result.items() if k != "changed"))
    if result["previous"]:
        module.warn("host lock %s taken over: %s" % (lock.path, result["reason"]))
    module.exit_json(path=lock.path, **result)


if __name__ == "__main__":
    main()
