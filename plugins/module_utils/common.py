# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Glue between AnsibleModule and the OpenShell client, shared by every module.

A module file declares its options, then calls :func:`run_module` with a
converge function ``fn(ctx) -> result dict``. ``ctx`` carries the parameters,
the client, check/diff flags and helpers; errors of the client become
``fail_json`` with the error kind, the calls made and no secret.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import validate
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import (
    OpenShellClient,
    OpenShellError,
)

OPENSHELL_COMMON_ARGS = dict(
    gateway=dict(type="str"),
    gateway_endpoint=dict(type="str"),
    workspace=dict(type="str"),
    openshell_path=dict(type="path", default="openshell"),
    timeout=dict(type="int", default=300),
    retries=dict(type="int", default=3),
)


class InputError(ValueError):
    """Bad module input: ``field`` names the option, ``reason`` says why."""

    def __init__(self, field, reason):
        super(InputError, self).__init__("%s: %s" % (field, reason))
        self.field = field
        self.reason = reason


# Name rules of OpenShell resources, by kind (each rule lives in ``validate``).
_NAME_RULES = {
    "sandbox": (validate.sandbox_name_problem, "OpenShell sandbox names are DNS-1123 labels of at most 19 characters"),
    "provider": (validate.provider_name_problem, "an OpenShell provider name"),
    "gateway": (validate.gateway_name_problem, "an OpenShell gateway name"),
}


def check_name(kind, field, value):
    """Raise ``InputError(field)`` unless ``value`` is a valid name of a ``kind`` resource.

    ``kind`` is ``sandbox``, ``provider`` or ``gateway``. Every module checks the names it
    passes to the CLI here, before any call, so a name never reaches a command line unchecked.
    """
    rule, what = _NAME_RULES[kind]
    problem = rule(value)
    if problem:
        raise InputError(field, "%r %s (%s)" % (value, problem, what))
    return value


def check_value(field, problem, prefix=""):
    """Raise ``InputError(field, prefix + problem)`` when a ``validate.*_problem`` check found one.

    ``problem`` is what a validate.py check returned (None: nothing to report). The reason of
    text checks never contains the value, so a secret is not echoed.
    """
    if problem:
        raise InputError(field, prefix + problem)


def check_common_args(params):
    """Validate the connection options every module of the openshell group shares.

    ``timeout`` must be at least 1 second, ``retries`` 0 or more and ``gateway`` a gateway name.
    Runs before any OpenShell call (:func:`client_for`).
    """
    if params.get("timeout") is not None and params["timeout"] < 1:
        raise InputError("timeout", "must be at least 1 second, got %s" % params["timeout"])
    if params.get("retries") is not None and params["retries"] < 0:
        raise InputError("retries", "must be 0 or more, got %s" % params["retries"])
    if params.get("gateway") is not None:
        check_name("gateway", "gateway", params["gateway"])


def argument_spec(**specific):
    spec = dict(OPENSHELL_COMMON_ARGS)
    spec.update(specific)
    return spec


def _runner_for(module):
    def runner(argv, env, data):
        return module.run_command(argv, environ_update=env, data=data, check_rc=False)
    return runner


def client_for(module, runner=None):
    p = module.params
    check_common_args(p)
    return OpenShellClient(
        runner or _runner_for(module),
        openshell_path=p.get("openshell_path") or "openshell",
        gateway=p.get("gateway"),
        gateway_endpoint=p.get("gateway_endpoint"),
        workspace=p.get("workspace"),
        timeout=p.get("timeout") or 300,
        retries=p.get("retries") if p.get("retries") is not None else 3,
    )


class Context(object):
    """What a converge function needs: params, client, modes, temp files."""

    def __init__(self, module, client):
        self.module = module
        self.params = module.params
        self.client = client
        self.check_mode = module.check_mode
        self.diff_mode = module._diff
        self._tmpdir = None

    def warn(self, msg):
        self.module.warn(msg)

    def write_temp_json(self, name, doc):
        """Write ``doc`` as JSON (valid YAML for the CLI) to a private temp file."""
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="agentfleet-nemoclaw-")
        path = os.path.join(self._tmpdir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True)
            fh.write("\n")
        return path

    def cleanup(self):
        if self._tmpdir:
            for name in os.listdir(self._tmpdir):
                os.unlink(os.path.join(self._tmpdir, name))
            os.rmdir(self._tmpdir)
            self._tmpdir = None


def run_module(module, converge, runner=None):
    """Run ``converge(ctx)`` and exit the module with its result."""
    client = None
    ctx = None
    try:
        client = client_for(module, runner)
        ctx = Context(module, client)
        result = converge(ctx)
    except InputError as exc:
        module.fail_json(msg=str(exc), error_kind="invalid_input", field=exc.field, commands=[])
    except OpenShellError as exc:
        extra = exc.to_result()
        extra.pop("cmd", None)
        module.fail_json(msg=str(exc), commands=client.call_log() if client else [], **extra)
    finally:
        if ctx is not None:
            ctx.cleanup()
    result.setdefault("changed", False)
    result["commands"] = client.call_log()
    if not ctx.diff_mode:
        result.pop("diff", None)
    module.exit_json(**result)
