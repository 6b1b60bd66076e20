# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""NemoClaw's way of converging a fleet, as a script of real ``openshell`` calls (benchmark baseline).

NemoClaw has no fleet mode: an operator runs ``nemoclaw onboard --non-interactive`` on one host
after the other. Its onboard sequence (shared/notes/nemoclaw-features.md §3.1: preflight, gateway,
inference provider, sandbox, agent setup, policy presets, post-verify) re-creates or updates every
resource on every run, whether or not anything differs. This module replays that sequence as the
``openshell`` CLI calls onboard makes, host by host, against the OpenShell simulator; it leaves out
NemoClaw's own (Node.js) process and prompts, so it is a lower bound of what onboard costs.

Per host (reads R, writes W, commands inside the sandbox X):

 1. R ``openshell --version``                    preflight: the blueprint's OpenShell version range
 2. R ``openshell status -o json``               gateway: health probe, reuse the running gateway
 3. R ``openshell provider get NAME``            inference provider: exists?
 4. W ``openshell provider update NAME --credential KEY`` (exists) or ``provider create ...`` (not)
 5. W ``openshell inference set --provider NAME --model MODEL``   route + validation probe
 6. R ``openshell sandbox get NAME -o json``     sandbox: exists?
 7. W ``openshell sandbox delete NAME``          (when it exists: onboard re-creates it)
 8. W ``openshell sandbox create --name NAME --from IMAGE --provider P --policy FILE -o json``
                                                 (waits for Ready)
 9. X ``openshell sandbox exec -n NAME -- openclaw --version``     agent setup inside the sandbox
10. W ``openshell policy set NAME --policy FILE --wait``           policy presets
11. X ``openshell sandbox exec -n NAME -- <health command>``       post-verify

The plan (provider, image, policy, model, health command) is taken from what the collection
itself converged, so both ways end in the same OpenShell state: see ``plan_from_calls``.

Usable on its own against hosts of ``tests/simulator/harness.py`` (``SimHost``):

    from nemoclaw_way import plan_from_calls, onboard_fleet
    plan = plan_from_calls(host1.calls(), policy_text, workdir)
    seconds, per_host = onboard_fleet(hosts, plan)
"""

from __future__ import annotations

import os
import time


def _flag_values(argv, flag):
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def _words(argv):
    """The argv without the global ``--gateway NAME`` pair."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--gateway", "-g"):
            skip = True
            continue
        out.append(arg)
    return out


def plan_from_calls(calls, policy_text, workdir, secret="nvapi-BENCH-0000-fake"):
    """What onboard needs, read from the ``openshell`` calls of the collection's own fresh converge of a host.

    ``calls``: the call log entries (``{"argv": [...]}``) of that converge; ``policy_text``: the policy the
    sandbox runs (``openshell sandbox get NAME --policy-only``), written to ``workdir/policy.yaml``.
    """
    plan = {"providers": [], "sandbox": None, "inference": None, "health": None}
    for call in calls:
        argv = _words(call["argv"])
        if argv[:2] == ["provider", "create"]:
            plan["providers"].append({
                "name": _flag_values(argv, "--name")[0],
                "type": _flag_values(argv, "--type")[0],
                "credentials": [c.split("=", 1)[0] for c in _flag_values(argv, "--credential")],
                "config": _flag_values(argv, "--config"),
            })
        elif argv[:2] == ["sandbox", "create"]:
            plan["sandbox"] = {
                "name": _flag_values(argv, "--name")[0],
                "image": _flag_values(argv, "--from")[0],
                "providers": _flag_values(argv, "--provider"),
                "cpu": (_flag_values(argv, "--cpu") or [None])[0],
                "memory": (_flag_values(argv, "--memory") or [None])[0],
            }
        elif argv[:2] == ["inference", "set"] and "--system" not in argv:
            plan["inference"] = {"provider": _flag_values(argv, "--provider")[0],
                                 "model": _flag_values(argv, "--model")[0]}
        elif argv[:2] == ["sandbox", "exec"] and "--" in argv:
            plan["health"] = argv[argv.index("--") + 1:]
    if plan["sandbox"] is None or plan["inference"] is None:
        raise ValueError("the calls hold no sandbox create / inference set: not a fresh converge")
    path = os.path.join(workdir, "policy.yaml")
    with open(path, "w") as fh:
        fh.write(policy_text)
    plan["policy_file"] = path
    plan["secret"] = secret
    return plan


def onboard_host(host, plan):
    """Run onboard's ``openshell`` sequence on one ``SimHost``. Returns the number of calls made.

    Raises RuntimeError on a call that fails (the sequence stops, like onboard).
    """
    env = {}
    for provider in plan["providers"]:
        for key in provider["credentials"]:
            env[key] = plan["secret"]
    count = [0]

    def run(*argv, **kw):
        count[0] += 1
        result = host.run(*argv, env=env, timeout=300)
        if result.returncode != 0 and not kw.get("may_fail"):
            raise RuntimeError("openshell %s -> rc %d: %s" % (" ".join(argv), result.returncode, result.stderr[-500:]))
        return result

    sandbox = plan["sandbox"]
    run("--version")                                                   # 1 preflight
    run("status", "-o", "json")                                        # 2 gateway
    for provider in plan["providers"]:                                 # 3-4 inference provider
        found = run("provider", "get", provider["name"], may_fail=True).returncode == 0
        creds = []
        for key in provider["credentials"]:
            creds += ["--credential", key]
        config = []
        for item in provider["config"]:
            config += ["--config", item]
        if found:
            run("provider", "update", provider["name"], *(creds + config))
        else:
            run("provider", "create", "--name", provider["name"], "--type", provider["type"], *(creds + config))
    inference = plan["inference"]                                      # 5 route
    run("inference", "set", "--provider", inference["provider"], "--model", inference["model"])
    exists = run("sandbox", "get", sandbox["name"], "-o", "json", may_fail=True).returncode == 0   # 6
    if exists:
        run("sandbox", "delete", sandbox["name"])                      # 7
    create = ["sandbox", "create", "--name", sandbox["name"], "--from", sandbox["image"]]
    for name in sandbox["providers"]:
        create += ["--provider", name]
    if sandbox.get("cpu"):
        create += ["--cpu", sandbox["cpu"]]
    if sandbox.get("memory"):
        create += ["--memory", sandbox["memory"]]
    create += ["--policy", plan["policy_file"], "-o", "json"]
    run(*create)                                                       # 8 (waits for Ready)
    run("sandbox", "exec", "--name", sandbox["name"], "--no-tty", "--", "openclaw", "--version")   # 9 agent setup
    run("policy", "set", sandbox["name"], "--policy", plan["policy_file"], "--wait")               # 10 presets
    if plan.get("health"):                                             # 11 post-verify
        run("sandbox", "exec", "--name", sandbox["name"], "--no-tty", "--timeout", "60", "--", *plan["health"])
    return count[0]


def onboard_fleet(hosts, plan):
    """Onboard every host, one after the other. Returns (wall seconds, {host name: seconds})."""
    per_host = {}
    started = time.time()
    for name, host in hosts.items():
        t0 = time.time()
        onboard_host(host, plan)
        per_host[name] = time.time() - t0
    return time.time() - started, per_host


def reset_host(host, plan):
    """Remove what onboard creates (sandbox, providers, inference route): a host before its first onboard."""
    sandbox = plan["sandbox"]["name"]
    host.run("sandbox", "delete", sandbox)
    host.run("inference", "delete")
    for provider in plan["providers"]:
        host.run("provider", "delete", provider["name"])
