# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Input checks shared by every module (common.py, compare.py, policy.py): each fails before any OpenShell call."""

from __future__ import annotations

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import converge, policy
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import (
    Context,
    InputError,
    check_common_args,
    check_name,
    check_value,
    client_for,
)
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import OpenShellClient


class FakeModule(object):
    def __init__(self, params):
        self.params = params
        self.check_mode = False
        self._diff = True

    def warn(self, msg):  # pragma: no cover - not reached: every case fails first
        raise AssertionError(msg)


def no_call(argv, env, data):
    raise AssertionError("an OpenShell call was made: %r" % (argv,))


def ctx_for(params):
    return Context(FakeModule(params), OpenShellClient(no_call, sleep=lambda s: None))


@pytest.mark.parametrize("params,field", [
    ({"timeout": 0}, "timeout"),
    ({"timeout": -5}, "timeout"),
    ({"retries": -1}, "retries"),
    ({"gateway": "../gw"}, "gateway"),
    ({"gateway": "a/b"}, "gateway"),
])
def test_common_args_rejected(params, field):
    with pytest.raises(InputError) as info:
        check_common_args(params)
    assert info.value.field == field
    with pytest.raises(InputError):  # the client is never built, so no call can be made
        client_for(FakeModule(dict(params)), runner=no_call)


def test_common_args_accepted():
    check_common_args({"timeout": 1, "retries": 0, "gateway": "openshell"})
    check_common_args({"timeout": None, "retries": None, "gateway": None})
    client = client_for(FakeModule({"timeout": 1, "retries": 0, "gateway": "gw-1.local"}), runner=no_call)
    assert client.timeout == 1 and client.retries == 0


@pytest.mark.parametrize("kind,name,ok", [
    ("sandbox", "openclaw", True),
    ("sandbox", "x;rm -rf /", False),
    ("sandbox", "../s", False),
    ("provider", "nvidia-inference", True),
    ("provider", "my_provider.v2", True),
    ("provider", "bad name", False),
    ("provider", "../etc/passwd", False),
    ("provider", "-flag", False),
    ("provider", "", False),
    ("gateway", "openshell", True),
    ("gateway", "gw-1.example", True),
    ("gateway", "../gw", False),
    ("gateway", "..", False),
    ("gateway", "a/b", False),
    ("gateway", "", False),
    ("gateway", "g" * 64, False),
    # a trailing newline passed every name check ($ anchors) and created a second sandbox
    ("sandbox", "openclaw\n", False),
    ("provider", "nvidia\n", False),
    ("gateway", "gw\n", False),
    ("provider", "p" * 253, True),
    ("provider", "p" * 300, False),
])
def test_name_rules(kind, name, ok):
    if ok:
        assert check_name(kind, "field", name) == name
    else:
        with pytest.raises(InputError) as info:
            check_name(kind, "field", name)
        assert info.value.field == "field" and repr(name) in str(info.value)


@pytest.mark.parametrize("image,problem", [
    (None, None),
    ("ghcr.io/nvidia/openclaw:1.0", None),
    ("openclaw", None),
    ("ghcr.io/x/y@sha256:" + "0123456789abcdef" * 4, None),
    ("ghcr.io/x/y@sha256:zzz", "sha256:<64"),
    ("ghcr.io/x/y@sha256:" + "0" * 63, "sha256:<64"),
    ("ghcr.io/x/y@sha256:" + "A" * 64, "sha256:<64"),
    ("ghcr.io/x/y@md5:abc", "sha256:<64"),
    ("@sha256:" + "0" * 64, "repository"),
    ("ghcr.io/x y", "spaces"),
    ("", "non-empty"),
])
def test_image_rules(image, problem):
    got = policy.image_problem(image)
    assert (got is None) if problem is None else (problem in got), got


# Every converge function rejects its bad input before the client is used (``no_call``).
SANDBOX = {"name": "s", "image": None, "providers": None, "policy": None, "policy_src": None, "gpu": False,
           "cpu": None, "memory": None, "labels": {}, "env": {}, "allow_secret_env": False, "approval_mode": None,
           "state": "running", "recreate": "on_change", "wait": True, "wait_timeout": 5}


@pytest.mark.parametrize("fn,params,field", [
    (converge.run_exec, {"sandbox": "x;rm -rf /", "command": ["true"], "exec_timeout": None}, "sandbox"),
    (converge.run_exec, {"sandbox": "s", "command": ["true"], "exec_timeout": -1}, "exec_timeout"),
    (converge.converge_inference, {"provider": "bad name", "model": "m", "state": "present", "timeout_secs": None,
                                   "system": False}, "provider"),
    (converge.converge_gateway, {"name": "../gw", "endpoint": "http://127.0.0.1:1", "state": "present",
                                 "local": False, "active": False}, "name"),
    (converge.converge_sandbox, dict(SANDBOX, image="ghcr.io/x/y@sha256:zzz"), "image"),
    (converge.converge_policy, {"sandbox": "../s", "global": False, "policy": {"version": 1}, "src": None,
                                "wait": True}, "sandbox"),
    (converge.converge_approval, {"sandbox": "a/b"}, "sandbox"),
    (converge.converge_provider, {"name": "bad name", "state": "present"}, "name"),
    (converge.converge_provider, {"name": "p" * 300, "state": "present"}, "name"),
    (converge.converge_provider, {"name": "p", "state": "present", "type": "nvidia", "credentials": {"K\n": "v"}}, "credentials"),
    (converge.converge_provider, {"name": "p", "state": "present", "type": "nvidia", "credentials": {"K": "v\nX=1"}}, "credentials"),
    (converge.converge_provider, {"name": "p", "state": "present", "type": "nvidia", "credentials": {"K": "   "}}, "credentials"),
    (converge.converge_provider, {"name": "p", "state": "present", "type": "nvidia", "credentials": {"K": "v"},
                                  "config": {"A=B": "v"}}, "config"),
    (converge.converge_provider, {"name": "p", "state": "present", "type": "nvidia", "credentials": {"K": "v"},
                                  "config": {"BASE_URL": "http://x\nY=1"}}, "config"),
    (converge.converge_inference, {"provider": "p", "model": "m\n", "state": "present", "timeout_secs": None, "system": False}, "model"),
    (converge.converge_inference, {"provider": "p", "model": "m", "state": "present", "timeout_secs": 10 ** 12, "system": False},
     "timeout_secs"),
    (converge.converge_inference, {"provider": "p", "model": "m", "state": "present", "timeout_secs": -1, "system": False}, "timeout_secs"),
    (converge.converge_gateway, {"name": "gw\n", "endpoint": "http://127.0.0.1:1", "state": "present", "local": False, "active": False}, "name"),
    (converge.converge_sandbox, dict(SANDBOX, name="openclaw\n"), "name"),
    (converge.converge_sandbox, dict(SANDBOX, cpu="100000"), "cpu"),
    (converge.converge_sandbox, dict(SANDBOX, cpu="0"), "cpu"),
    (converge.converge_sandbox, dict(SANDBOX, memory="999999Ti"), "memory"),
    (converge.converge_sandbox, dict(SANDBOX, memory="0Gi"), "memory"),
    (converge.converge_sandbox, dict(SANDBOX, gpu=4096), "gpu"),
    (converge.converge_sandbox, dict(SANDBOX, gpu="two"), "gpu"),
    (converge.converge_sandbox, dict(SANDBOX, env={"MODE": "a\nINJECTED=1"}), "env"),
    (converge.converge_sandbox, dict(SANDBOX, env={"MODE\n": "a"}), "env"),
    (converge.converge_sandbox, dict(SANDBOX, labels={"team": "a\n"}), "labels"),
    (converge.converge_sandbox, dict(SANDBOX, providers=["bad name"]), "providers"),
    (converge.run_exec, {"sandbox": "s", "command": ["true"], "exec_timeout": None, "env": {"A": "x\ny"}}, "env"),
    (converge.run_exec, {"sandbox": "s", "command": ["true"], "exec_timeout": None, "env": {"A B": "x"}}, "env"),
])
def test_converge_rejects_before_any_call(fn, params, field):
    with pytest.raises(InputError) as info:
        fn(ctx_for(params))
    assert info.value.field == field
    assert "INJECTED" not in str(info.value) and "X=1" not in str(info.value)  # a value is never echoed


def test_check_value():
    check_value("f", None)
    with pytest.raises(InputError) as info:
        check_value("env", "must not contain a newline", "value of A ")
    assert info.value.field == "env" and info.value.reason == "value of A must not contain a newline"
