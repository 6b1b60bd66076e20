# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Helpers of the reliability suite on top of tests/integration/playrunner.py."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time

from playrunner import Fleet, command_words, is_read_only  # noqa: F401  pylint: disable=unused-import

LEASE = os.path.join("home", ".local", "state", "agentfleet-nemoclaw", "site.lock")


def make_fleet(workdir, count):
    """A Fleet of ``count`` simulated hosts (their CLI runs on harness.sim_python())."""
    return Fleet(workdir, count=count)


@contextlib.contextmanager
def converged_fleet(workdir, count):
    """A fleet of ``count`` hosts that ``site.yml`` has converged; stopped, and its call logs checked, at the end."""
    fleet = make_fleet(workdir, count)
    try:
        step = fleet.run_site("site.yml")
        assert step.rc == 0, step.stdout[-4000:]
        yield fleet
    finally:
        close_fleet(fleet)


def close_fleet(fleet):
    fleet.stop()
    # Every command line the modules emitted must parse under the real grammar.
    assert fleet.invalid_calls() == []


def lease_path(sim):
    return os.path.join(sim.root, LEASE)


def read_lease(sim):
    try:
        with open(lease_path(sim)) as fh:
            return json.load(fh)
    except (IOError, OSError):
        return None


def snapshot(sim, sandbox="openclaw"):
    """What must never be lost: providers (name, type, keys), sandboxes, the policy and the inference route."""
    providers = sorted((p["name"], p.get("type"), tuple(p.get("credential_keys") or []))
                       for p in sim.json("provider", "list", "-o", "json"))
    sandboxes = sorted(s["name"] for s in sim.json("sandbox", "list", "-o", "json"))
    sb = sim.json("sandbox", "get", sandbox, "-o", "json") if sandbox in sandboxes else None
    policy = sim.json("policy", "get", sandbox, "--full", "-o", "json") if sb else None
    inference = sim.ok("inference", "get").stdout
    return {
        "providers": providers,
        "sandboxes": sandboxes,
        "phase": (sb or {}).get("phase"),
        "labels": (sb or {}).get("labels"),
        "policy_hash": _policy_hash(policy),
        "inference": inference,
    }


def _policy_hash(policy):
    if not policy:
        return None
    for key in ("hash", "policy_hash"):
        if policy.get(key):
            return policy[key]
    rev = policy.get("revision") or policy.get("active") or {}
    return rev.get("hash") or json.dumps(policy.get("policy") or policy, sort_keys=True)


def failures(step, host):
    return [r for r in step.results if r["host"] == host and r["status"] == "failed"]


def failure_text(step, host):
    found = failures(step, host)
    assert found, "no failed task on %s:\n%s" % (host, step.stdout[-3000:])
    last = found[-1]
    return "%s: %s" % (last["task"], json.dumps(last["result"], default=str))


def changed_tasks(step, host=None):
    return [(r["host"], r["task"]) for r in step.results
            if r["result"].get("changed") and (host is None or r["host"] == host)]


def host_calls(step, host):
    return [c for c in step.calls if c["host"] == host]


class Background(object):
    """Run ``fn`` in a thread; ``.result()`` waits for it and re-raises its exception."""

    def __init__(self, fn, *args, **kwargs):
        self._value = None
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs))
        self._thread.daemon = True
        self._thread.start()

    def _run(self, fn, args, kwargs):
        try:
            self._value = fn(*args, **kwargs)
        except BaseException as exc:  # pylint: disable=broad-except
            self._error = exc

    def result(self, timeout=600):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("background run did not finish in %ss" % timeout)
        if self._error is not None:
            raise self._error
        return self._value


def playbook_pids(marker):
    """Pids of ansible-playbook processes whose command line contains ``marker`` (e.g. a step dir)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as fh:
                argv = fh.read().split(b"\0")
        except (IOError, OSError):
            continue
        if any(a.endswith(b"ansible-playbook") for a in argv[:2]) and any(marker.encode() in a for a in argv):
            pids.append(int(entry))
    return sorted(pids)


def main_pid(marker):
    """The ansible-playbook process itself (its forked workers share its command line)."""
    def find():
        pids = playbook_pids(marker)
        for pid in pids:
            try:
                with open("/proc/%d/stat" % pid) as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (IOError, OSError, ValueError, IndexError):
                continue
            if ppid not in pids:
                return pid
        return None
    return wait_for(find, 60, what="ansible-playbook of %s" % marker)


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
