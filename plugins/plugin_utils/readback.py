# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""A check-mode apply compared on the controller: the host is read by one small process, the rest runs here.

A drift scan (``playbooks/drift.yml``: ``nemoclaw_apply`` in check mode, no host layer) only reads the host.
Instead of the ``nemoclaw_apply`` module (an AnsiballZ archive of the collection's code, compiled and run by
the host's Python), the action sends ``hostreader.py`` to the host's Python with the calls the apply will
make and runs the same :class:`apply.Applier`, in check mode, here, on what they answered: the same
decisions, result, diff and failures as the module's, from the same code.

* The calls are predicted (:func:`predicted_calls`: what a check of ``plan`` reads on a host where its
  sandboxes exist). A call the apply makes that was not predicted is read in another round (at most
  ``MAX_ROUNDS`` in all).
* Only read-only command paths (``openshell.READ_ONLY_COMMANDS``) are ever asked for. A call the apply makes a
  second time (a retry after an unavailable gateway: the module waits and asks again), a call that is not
  read-only (reading an agent's configuration file runs ``sandbox exec``), an unfinished replacement recorded
  on the host (the journal: the module reports what its resume would do), an answer that is not as
  expected: :class:`Fallback`, and the action runs the module instead. Nothing is lost but the saving.
* Secrets stay on the controller: the host is sent no secret (reads need none), the credentials'
  fingerprints are compared here, and the action masks every secret value in the result as the module does.
"""

from __future__ import annotations

import functools
import json

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import apply as applylib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import statefile
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import OpenShellClient, is_mutating

MAX_ROUNDS = 3


class Fallback(Exception):
    """The host is to be read by the module: why, in words."""


class _Unread(BaseException):
    """A call the apply makes that the host was not asked for. Not an ``Exception``: no handler of the apply may
    take it for an answer of OpenShell; it ends the attempt."""

    def __init__(self, call):
        super(_Unread, self).__init__(call["argv"])
        self.call = call


def _key(argv, env, data):
    return json.dumps([list(argv), env, data if data else None], sort_keys=True)


class Replay(object):
    """A runner for :class:`openshell.OpenShellClient` that answers from the host's answers, each call once."""

    def __init__(self, answers, globals_count):
        self.answers = answers
        self.globals_count = globals_count
        self.used = set()

    def runner(self, argv, env, data):
        args = list(argv[1:]) if list(argv[1:]) == ["--version"] else list(argv[1 + self.globals_count:])
        if data or is_mutating(args):
            raise Fallback("the apply would run `%s`, which is not a read" % " ".join(args[:3]))
        key = _key(argv, env, data)
        if key in self.used:
            raise Fallback("the apply asks `%s` again (a retry)" % " ".join(args[:3]))
        if key not in self.answers:
            raise _Unread({"argv": list(argv), "env": env})
        self.used.add(key)
        answer = self.answers[key]
        return answer["rc"], answer["out"], answer["err"]


class ReadRecords(applylib.HostRecords):
    """The host's records (``apply.HostRecords``) as the host reader found them: read-only, no journal."""

    def __init__(self, state_dir, gateway, applied_text):
        super(ReadRecords, self).__init__(state_dir, gateway, readonly=True)
        self._applied = statefile.parse(applied_text).get("agents") or {}

    def applied(self):
        return self._applied

    def journals(self):
        return {}


def predicted_calls(plan, client):
    """The calls (``{"argv", "env"}``) a check-mode apply of ``plan`` makes where every planned sandbox exists
    (``Applier._run``: the version, each sandbox, the attachments and approval setting of those that stay, the
    providers and the route)."""
    commands = [client.command(["--version"], with_globals=False)]
    if plan.get("providers"):
        commands.append(client.command(["provider", "list", "--limit", "1000", "-o", "json"]))
    if plan.get("inference"):
        commands.append(client.command(["inference", "get"]))
    for agent in plan.get("agents") or []:
        commands.append(client.command(["sandbox", "get", agent["name"], "-o", "json"]))
        if agent["state"] == "absent":
            continue
        commands.append(client.command(["sandbox", "provider", "list", agent["name"]]))
        if (agent.get("sandbox") or {}).get("approval_mode"):
            commands.append(client.command(["settings", "get", agent["name"], "--json"]))
    return [{"argv": argv, "env": env} for argv, env in commands]


def _checked_answer(answer, asked):
    """The host reader's ``answer`` to ``asked`` calls, checked for shape; :class:`Fallback` when it is not one."""
    if not isinstance(answer, dict) or "error" in answer:
        raise Fallback("the host reader failed: %s" % (answer.get("error") if isinstance(answer, dict) else "no answer"))
    calls = answer.get("calls")
    if not isinstance(calls, list) or len(calls) != len(asked):
        raise Fallback("the host reader answered %s calls of %d" % (len(calls) if isinstance(calls, list) else "no",
                                                                    len(asked)))
    for call in calls:
        if not isinstance(call, dict) or "error" in call:
            raise Fallback("a call could not be run on the host: %s" % (call or {}).get("error"))
        if not (isinstance(call.get("rc"), int) and isinstance(call.get("out"), str) and isinstance(call.get("err"), str)):
            raise Fallback("the host reader's answer is not one it writes")
    for name in ("applied", "providers"):
        if answer.get(name) is not None and not isinstance(answer[name], str):
            raise Fallback("the host reader's answer is not one it writes")
    if not isinstance(answer.get("journals"), list):
        raise Fallback("the host reader's answer is not one it writes")
    return answer


def _client(options, runner):
    return OpenShellClient(runner, openshell_path=options.get("openshell_path") or "openshell",
                           gateway=options.get("gateway"), gateway_endpoint=options.get("gateway_endpoint"),
                           workspace=options.get("workspace"), timeout=options.get("timeout") or 300,
                           retries=options.get("retries") if options.get("retries") is not None else 3,
                           sleep=lambda seconds: None)  # a retry is the module's (Replay: Fallback)


def check(plan, secrets, options, fetch, warn, diff=False):
    """The result of the check-mode apply of ``plan`` on the host ``fetch`` reads: the module's (``apply.finish``;
    on failure ``apply.outcome``'s failure with ``failed``), secrets not yet masked (the action masks them).

    ``options``: the module's options (``gateway``, ``gateway_endpoint``, ``workspace``, ``openshell_path``,
    ``timeout``, ``retries``, ``state_dir``, ``update_credentials``); ``fetch(request)``: the host reader's answer
    to ``request``; ``warn(text)``: the apply's warnings; ``diff``: diff mode. Raises :class:`Fallback` when the module must read the
    host instead.
    """
    client = _client(options, None)
    state_dir = options.get("state_dir") or statefile.DEFAULT_DIR
    gateway = applylib.records_for(client, state_dir).gateway
    answers = {}
    files = None
    asked = predicted_calls(plan, client)
    for _round in range(MAX_ROUNDS):
        answer = _checked_answer(fetch({"state_dir": state_dir, "gateway": gateway, "calls": asked}), asked)
        if answer["journals"]:
            raise Fallback("an unfinished replacement is recorded on the host (%s)" % ", ".join(answer["journals"]))
        if files is None:
            files = answer
        for call, got in zip(asked, answer["calls"]):
            answers[_key(call["argv"], call["env"], None)] = got
        client = _client(options, Replay(answers, len(client.global_args())).runner)
        notes = []  # an attempt that needs another round says its warnings again: only the last one's are shown
        applier = applylib.Applier(
            client, plan, secrets, check_mode=True, state_dir=state_dir, warn=notes.append,
            update_credentials=options.get("update_credentials") or "on_change",
            records=ReadRecords(state_dir, gateway, files["applied"]),
            provider_state=functools.partial(statefile.parse, files["providers"]))
        try:
            done = applylib.outcome(applier, client)
        except _Unread as unread:
            asked = [unread.call]
            continue
        for note in notes:
            warn(note)
        result, failure = done
        if failure is not None:
            return dict(failure, failed=True)
        return applylib.finish(result, client, plan, diff)
    raise Fallback("the apply needed more than %d rounds of reads" % MAX_ROUNDS)
