# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Where site.yml's quick path takes its options: from the roles' own tasks (controller side).

``site.yml`` starts with ``nemoclaw_apply`` and ``host_base: true``: one module execution takes the host
lock, checks the host layer and converges the agents (``module_utils/hostbase.py``). Its options are the ones
the roles' tasks give their modules: the action plugin reads those tasks from the collection's files and
templates their arguments with the host's variables. So each role's task stays the one place where its
module's options are mapped from the role's variables, and the quick path cannot drift from it.

This module names those tasks, what the quick path leaves out of them (and why), and the openshell role's
variables the host checks read. It has no Ansible imports: the action plugin gives it a loader and a
templating function.
"""

from __future__ import annotations

import re

# host_base part: (file under the collection's root, the module its task runs)
TASKS = (
    ("agents", "roles/agents/tasks/main.yml", "agentfleet.nemoclaw.nemoclaw_apply"),
    ("lock", "playbooks/tasks/lock_acquire.yml", "agentfleet.nemoclaw.nemoclaw_lock"),
    ("preflight", "roles/preflight/tasks/main.yml", "agentfleet.nemoclaw.nemoclaw_preflight"),
    ("gpu", "roles/gpu/tasks/main.yml", "agentfleet.nemoclaw.nvidia_gpu_facts"),
)
# The variables site.yml's host layer (playbooks/tasks/host_base.yml) gives the preflight role: the probes of
# the OpenShell CLI and of the GPUs in the same execution.
IMPORT_VARS = ("playbooks/tasks/host_base.yml", "Check the host")
# Options of those tasks the quick path does not pass, and why.
LEFT_OUT = {
    # The task's own switch.
    "agents": ("host_base",),
    # The quick path never waits for the lock: a lease held by another run sends the host to the
    # tasks, whose lock task waits for it (or proves its holder gone).
    "lock": ("timeout",),
    # The quick path measures the GPUs itself, in the same execution.
    "gpu": ("gathered",),
}
# host_base.openshell: the openshell role's variables the host checks compare with the host.
OPENSHELL_VARS = (
    ("version", "openshell_version"),
    ("path", "openshell_path"),
    ("supervisor", "openshell_gateway_supervisor"),
    ("problems", "__openshell_problems"),
    ("config_dir", "openshell_config_dir"),
    ("state_dir", "openshell_state_dir"),
    ("gateway_env", "openshell_gateway_env"),
    ("gateway_name", "openshell_gateway_name"),
    ("gateway_endpoint", "openshell_gateway_endpoint"),
    ("gateway_local_tls", "openshell_gateway_local_tls"),
)

# Every tag that site.yml's tasks carry, their roles' and imported task files' included (a unit test reads
# them from the files). A --skip-tags naming one of these leaves part of the play out; any other skip tag
# (Molecule's notest, say) selects nothing of it.
PLAY_TAGS = frozenset(("agents", "always", "gpu", "openshell", "openshell_config", "openshell_install", "openshell_service",
                       "preflight"))
# Ansible's own selectors: they select by whether a task has tags at all.
SPECIAL_TAGS = frozenset(("all", "tagged", "untagged"))

_BARE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


class QuickPathError(Exception):
    """A role's task is not where the quick path reads it: a defect of the collection, not of the inventory."""


def task_of(tasks, module, where):
    """The first task of ``tasks`` (a task file's list) that runs ``module``."""
    for task in tasks or ():
        if isinstance(task, dict) and module in task:
            return task
    raise QuickPathError("%s: no task runs %s (site.yml's quick path reads its options there)" % (where, module))


def presolve(value, variables):
    """``value`` with each ``"{{ name }}"`` of a defined variable replaced by that variable's own value.

    Templating then gives the same result without compiling an expression per option (most options are
    one role variable, most role variables plain values): what a worker of the quick path spends most of
    its controller time on. Anything else (filters, defaults, undefined names) is left for templating."""
    if isinstance(value, dict):
        return dict((k, presolve(v, variables)) for k, v in value.items())
    if isinstance(value, list):
        return [presolve(v, variables) for v in value]
    if isinstance(value, str):
        match = _BARE.match(value)
        if match and match.group(1) in variables:
            return variables[match.group(1)]
    return value


def role_options(load):
    """``({part: (raw args, raw when)}, raw import vars)`` of the tasks the quick path runs as one.

    ``load(relative_path)`` returns the parsed task file (a list of tasks)."""
    out = {}
    for part, path, module in TASKS:
        task = task_of(load(path), module, path)
        args = dict(task[module] or {})
        for key in LEFT_OUT.get(part, ()):
            args.pop(key, None)
        out[part] = (args, task.get("when"))
    path, name = IMPORT_VARS
    imported = [t for t in load(path) or () if isinstance(t, dict) and t.get("name") == name]
    if not imported:
        raise QuickPathError("%s: no task named %r (site.yml's quick path reads its vars there)" % (path, name))
    return out, dict(imported[0].get("vars") or {})


def tag_limit(run_tags, skip_tags):
    """Why the run's tag selection leaves part of site.yml out (the quick path does all of it in one
    execution, so such a run takes the play's tasks), or None when it selects the whole play.

    ``run_tags``/``skip_tags``: ``ansible_run_tags``/``ansible_skip_tags`` (``--tags``/``--skip-tags``)."""
    run = sorted(set(run_tags or ("all",)))
    if run != ["all"]:
        return "--tags %s selects part of site.yml: its tasks run" % ",".join(run)
    limiting = sorted(set(skip_tags or ()) & (PLAY_TAGS | SPECIAL_TAGS))
    if limiting:
        return "--skip-tags %s leaves part of site.yml out: its tasks run" % ",".join(limiting)
    return None


def conditions(when):
    """A task's ``when`` as a list of expressions (none: always)."""
    if when is None:
        return []
    return list(when) if isinstance(when, list) else [when]
