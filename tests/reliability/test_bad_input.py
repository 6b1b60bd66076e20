# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The bad-input corpus: every case fails before any mutating call, with a message naming the field.

Cases are batched: module options and blueprint/preset/policy files are one play each, every case a
task with ``ignore_errors: true`` judged by its task status (``ignore_errors`` strips ``failed`` from
the recorded result); role variables and inventory values are one play of ``block``/``rescue``
cases around ``include_role`` (role argument validation and the roles' own checks). Module and file
cases fail before any OpenShell call (the simulator's call log of their batch stays empty); the role
batch, whose roles read the gateway before their checks, makes no mutating call. The desired-state
cases (``nemoclaw_agents``, ``nemoclaw_secrets``) are one play of ``block``/``rescue`` cases around the
agents role: each must fail in its one task with ``error_path`` the inventory path of the value (and
the message starting with it), and the batch must make no OpenShell call at all (planned on the
controller).
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from playrunner import ROOT, TEST_SECRET
from reltools import close_fleet, make_fleet

OK_POLICY = {"version": 1, "network_policies": {"x": {"name": "x", "endpoints": [{"host": "example.com", "port": 443}],
                                                      "binaries": [{"path": "/usr/bin/curl"}]}}}


def _policy(**endpoint):
    # No rule name: the cases put this rule under other keys (a name must equal its key).
    doc = {"version": 1, "network_policies": {"x": {"endpoints": [dict({"host": "example.com", "port": 443}, **endpoint)],
                                                    "binaries": [{"path": "/usr/bin/curl"}]}}}
    return doc


P = "agentfleet.nemoclaw."
BP = dict(openshell_version="0.0.111")

# (id, module, options, field the message must name)
MODULE_CASES = [
    ("provider-name-traversal", "openshell_provider", {"name": "../etc/passwd", "type": "nvidia",
                                                       "credentials": {"NVIDIA_API_KEY": "x"}}, "name"),
    ("provider-name-invalid", "openshell_provider", {"name": "Bad Name!", "type": "nvidia",
                                                     "credentials": {"NVIDIA_API_KEY": "x"}}, "name"),
    ("provider-credentials-type", "openshell_provider", {"name": "p", "type": "nvidia", "credentials": "KEY"},
     "credentials"),
    ("provider-unknown-option", "openshell_provider", {"name": "p", "type": "nvidia", "credentials": {"K": "v"},
                                                       "colour": "red"}, "colour"),
    ("provider-credential-key", "openshell_provider", {"name": "p", "type": "nvidia", "credentials": {"BAD=KEY": "v"}},
     "credentials"),
    ("provider-missing-credentials", "openshell_provider", {"name": "p", "type": "nvidia"}, "credentials"),
    ("provider-update-choice", "openshell_provider", {"name": "p", "type": "nvidia", "credentials": {"K": "v"},
                                                      "update_credentials": "sometimes"}, "update_credentials"),
    ("sandbox-name-upper", "openshell_sandbox", {"name": "Bad_Name"}, "name"),
    ("sandbox-name-traversal", "openshell_sandbox", {"name": "a/../b"}, "name"),
    ("sandbox-image-digest", "openshell_sandbox", {"name": "s", "image": "ghcr.io/x/y@sha256:zzz"}, "image"),
    ("sandbox-image-digest-short", "openshell_sandbox", {"name": "s", "image": "ghcr.io/x/y@sha256:" + "0" * 63},
     "image"),
    ("sandbox-cpu", "openshell_sandbox", {"name": "s", "cpu": "lots"}, "cpu"),
    ("sandbox-memory", "openshell_sandbox", {"name": "s", "memory": "-1Gi"}, "memory"),
    ("sandbox-gpu", "openshell_sandbox", {"name": "s", "gpu": "many"}, "gpu"),
    ("sandbox-label-key", "openshell_sandbox", {"name": "s", "labels": {"bad key!": "x"}}, "labels"),
    ("sandbox-env-name", "openshell_sandbox", {"name": "s", "env": {"1BAD": "x"}}, "env"),
    ("sandbox-secret-env", "openshell_sandbox", {"name": "s", "env": {"NVIDIA_API_KEY": "nvapi-x"}}, "env"),
    ("sandbox-wait-timeout-type", "openshell_sandbox", {"name": "s", "wait_timeout": "soon"}, "wait_timeout"),
    ("sandbox-policy-conflict", "openshell_sandbox", {"name": "s", "policy": OK_POLICY, "policy_src": "/tmp/p.yaml"},
     "policy_src"),
    ("sandbox-policy-src-traversal", "openshell_sandbox", {"name": "s", "policy_src": "../../../../etc/shadow"},
     "policy_src"),
    ("sandbox-policy-port", "openshell_sandbox", {"name": "s", "policy": _policy(port=70000)}, "port"),
    ("sandbox-policy-unknown-key", "openshell_sandbox", {"name": "s", "policy": dict(OK_POLICY, bogus=1)}, "bogus"),
    ("sandbox-policy-version", "openshell_sandbox", {"name": "s", "policy": dict(OK_POLICY, version=2)}, "version"),
    ("sandbox-state-choice", "openshell_sandbox", {"name": "s", "state": "paused"}, "state"),
    ("sandbox-timeout-zero", "openshell_sandbox", {"name": "s", "timeout": 0}, "timeout"),
    ("sandbox-retries-negative", "openshell_sandbox", {"name": "s", "retries": -1}, "retries"),
    ("policy-missing-source", "openshell_policy", {"sandbox": "s"}, "policy"),
    ("policy-sandbox-traversal", "openshell_policy", {"sandbox": "../s", "policy": OK_POLICY}, "sandbox"),
    ("policy-global-wait", "openshell_policy", {"global": True, "wait": True, "policy": OK_POLICY}, "wait"),
    ("policy-src-missing-file", "openshell_policy", {"sandbox": "s", "src": "/nonexistent/policy.yaml"}, "src"),
    ("policy-host-wildcard", "openshell_policy", {"sandbox": "s", "policy": _policy(host="*")}, "host"),
    ("inference-timeout-negative", "openshell_inference", {"provider": "p", "model": "m", "timeout_secs": -5},
     "timeout_secs"),
    ("inference-provider-name", "openshell_inference", {"provider": "bad name", "model": "m"}, "provider"),
    ("inference-missing-model", "openshell_inference", {"provider": "p"}, "model"),
    ("approval-matcher-key", "openshell_approval", {"sandbox": "s", "approve": [{"bogus": 1}]}, "approve"),
    ("approval-sla-type", "openshell_approval", {"sandbox": "s", "sla_seconds": "x"}, "sla_seconds"),
    ("exec-timeout-negative", "openshell_exec", {"sandbox": "s", "command": ["true"], "exec_timeout": -1},
     "exec_timeout"),
    ("exec-sandbox-name", "openshell_exec", {"sandbox": "x;rm -rf /", "command": ["true"]}, "sandbox"),
    ("exec-timeout-zero", "openshell_exec", {"sandbox": "s", "command": ["true"], "timeout": 0}, "timeout"),
    ("approval-sandbox-name", "openshell_approval", {"sandbox": "../s"}, "sandbox"),
    ("info-gateway-traversal", "openshell_info", {"gateway": "../gw"}, "gateway"),
    ("gateway-endpoint-scheme", "openshell_gateway", {"name": "g", "endpoint": "ftp://127.0.0.1:1"}, "endpoint"),
    ("gateway-name-traversal", "openshell_gateway", {"name": "../gw", "endpoint": "http://127.0.0.1:1",
                                                     "active": False}, "name"),
    ("info-subset-choice", "openshell_info", {"gather_subset": ["bogus"]}, "gather_subset"),
    ("blueprint-src-traversal", "nemoclaw_blueprint", dict(BP, src="../../../../etc"), "src"),
    ("blueprint-digest-format", "nemoclaw_blueprint", dict(BP, src="openclaw", digest="sha256:xyz"), "digest"),
    ("blueprint-tier", "nemoclaw_blueprint", dict(BP, src="openclaw", tier="premium"), "tier"),
    ("blueprint-preset-traversal", "nemoclaw_blueprint", dict(BP, src="openclaw", presets=["../../secret"]), "preset"),
    ("blueprint-profile", "nemoclaw_blueprint", dict(BP, src="openclaw", profile="nope"), "profile"),
    ("blueprint-override-port", "nemoclaw_blueprint",
     dict(BP, src="openclaw", overrides={"network_policies": {"x": _policy(port="http")["network_policies"]["x"]}}),
     "port"),
    ("blueprint-openshell-version", "nemoclaw_blueprint", dict(src="openclaw", openshell_version="latest"),
     "openshell_version"),
    ("blueprint-openshell-too-new", "nemoclaw_blueprint", dict(src="openclaw", openshell_version="0.9.0"),
     "outside the supported range"),
    ("blueprint-exclude-required", "nemoclaw_blueprint",
     dict(BP, src="openclaw", credentials_given=["NVIDIA_INFERENCE_API_KEY"], overrides={"exclude": ["managed_inference"]}),
     "managed_inference"),
    ("lock-ttl-zero", "nemoclaw_lock", {"owner": "me", "ttl": 0}, "ttl"),
    ("lock-release-without-owner", "nemoclaw_lock", {"state": "released"}, "owner"),
    ("preflight-port", "nemoclaw_preflight", {"gateway_port": 70000, "compute_driver": "none"}, "gateway_port"),
]


# Issue 19: approvals that select too much, injection through names, env keys and values, sizes out of range.
MODULE_CASES += [
    ("approval-approve-ids-empty", "openshell_approval", {"sandbox": "s", "approve_ids": [""]}, "approve_ids[0]"),
    ("approval-approve-ids-space", "openshell_approval", {"sandbox": "s", "approve_ids": ["  "]}, "approve_ids[0]"),
    ("approval-reject-ids-empty", "openshell_approval", {"sandbox": "s", "reject_ids": [""]}, "reject_ids[0]"),
    ("approval-host-empty", "openshell_approval", {"sandbox": "s", "approve": [{"host": ""}]}, "approve[0].host"),
    ("approval-host-space", "openshell_approval", {"sandbox": "s", "approve": [{"host": "   "}]}, "approve[0].host"),
    ("approval-id-empty", "openshell_approval", {"sandbox": "s", "approve": [{"id": ""}]}, "approve[0].id"),
    ("approval-rule-only", "openshell_approval", {"sandbox": "s", "approve": [{"rule": "allow_registry_npmjs_org_*"}]},
     "approve[0].rule"),
    ("approval-host-wildcard-middle", "openshell_approval", {"sandbox": "s", "approve": [{"host": "registry.*.org"}]},
     "approve[0].host"),
    ("approval-host-homoglyph", "openshell_approval", {"sandbox": "s", "approve": [{"host": "g\u0456thub.com"}]},
     "approve[0].host"),
    ("approval-binary-climbs", "openshell_approval", {"sandbox": "s", "approve": [{"binary": "/usr/bin/../../bin/sh"}]},
     "approve[0].binary"),
    ("approval-port-zero", "openshell_approval", {"sandbox": "s", "approve": [{"host": "a.example.com", "port": 0}]},
     "approve[0].port"),
    ("approval-host-newline", "openshell_approval", {"sandbox": "s", "reject": [{"host": "a.example.com\n"}]},
     "reject[0].host"),
    ("sandbox-name-newline", "openshell_sandbox", {"name": "openclaw\n"}, "name"),
    ("sandbox-env-key-injection", "openshell_sandbox", {"name": "s", "env": {"X=1 touch /tmp/PWNED; Y": "v"}}, "env"),
    ("sandbox-env-value-newline", "openshell_sandbox", {"name": "s", "env": {"A": "a\nINJECTED=1"}}, "env"),
    ("sandbox-cpu-huge", "openshell_sandbox", {"name": "s", "cpu": "100000"}, "cpu"),
    ("sandbox-memory-huge", "openshell_sandbox", {"name": "s", "memory": "999999Ti"}, "memory"),
    ("sandbox-gpu-huge", "openshell_sandbox", {"name": "s", "gpu": 4096}, "gpu"),
    ("provider-name-newline", "openshell_provider", {"name": "p\n", "type": "nvidia", "credentials": {"K": "v"}}, "name"),
    ("provider-name-300", "openshell_provider", {"name": "p" * 300, "type": "nvidia", "credentials": {"K": "v"}}, "name"),
    ("provider-credential-key-newline", "openshell_provider", {"name": "p", "type": "nvidia", "credentials": {"K\n": "v"}},
     "credentials"),
    ("gateway-name-newline", "openshell_gateway", {"name": "gw\n", "endpoint": "http://127.0.0.1:1"}, "name"),
    ("inference-timeout-huge", "openshell_inference", {"provider": "p", "model": "m", "timeout_secs": 10 ** 12},
     "timeout_secs"),
    ("inference-model-newline", "openshell_inference", {"provider": "p", "model": "m\nx"}, "model"),
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = make_fleet(tmp_path_factory.mktemp("badinput"), 1)
    try:
        yield f
    finally:
        close_fleet(f)


def _judge(step, cases):
    """Return the cases that did not fail, failed without naming their field, or made an OpenShell call."""
    wrong = []
    for case_id, field in cases:
        name = "case %s" % case_id
        status = step.status(name)
        if status != "failed":
            wrong.append((case_id, "status %s" % status))
            continue
        result = step.result(name)
        msg = str(result.get("msg", ""))
        if field.lower() not in msg.lower():
            wrong.append((case_id, "message does not name %r: %s" % (field, msg[:300])))
        if result.get("commands"):
            wrong.append((case_id, "failed only after OpenShell calls %s" % [c["argv"] for c in result["commands"]]))
    return wrong


def test_module_options(fleet):
    tasks = [{"name": "case %s" % cid, P + module: opts, "ignore_errors": True}
             for cid, module, opts, _field in MODULE_CASES]
    step = fleet.run(tasks)
    wrong = _judge(step, [(cid, field) for cid, _m, _o, field in MODULE_CASES])
    assert wrong == [], "\n".join("%s: %s" % w for w in wrong)
    # The simulator's own log agrees: not one call, read-only or not, for the whole batch.
    assert step.calls == [], [c["argv"] for c in step.calls]


def _blueprint_copy(tmp, name, edit):
    dest = os.path.join(str(tmp), name)
    shutil.copytree(os.path.join(ROOT, "blueprints", "openclaw"), dest)
    path = os.path.join(dest, "blueprint.yaml")
    with open(path) as fh:
        doc = yaml.safe_load(fh)
    result = edit(doc)
    with open(path, "w") as fh:
        if isinstance(result, str):
            fh.write(result)
        else:
            yaml.safe_dump(doc, fh, sort_keys=False)
    return dest


def _write(tmp, name, text):
    path = os.path.join(str(tmp), name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def _set_path(doc, keys, value):
    node = doc
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def file_cases(tmp_path):
    """(id, nemoclaw_blueprint options, field): bad blueprint copies and preset files written to ``tmp_path``."""
    return [
        ("file-not-yaml", {"src": _blueprint_copy(tmp_path, "bp1", lambda d: "version: [unclosed\n")}, "blueprint.yaml"),
        ("file-unknown-key", {"src": _blueprint_copy(tmp_path, "bp2", lambda d: d.update(colour="red"))}, "colour"),
        ("file-version", {"src": _blueprint_copy(tmp_path, "bp3", lambda d: d.update(version="1.x"))}, "version"),
        ("file-unpinned-image", {"src": _blueprint_copy(tmp_path, "bp4", lambda d: _set_path(
            d, ["components", "sandbox", "image"], "ghcr.io/nvidia/openclaw:latest"))}, "image"),
        ("file-min-version", {"src": _blueprint_copy(tmp_path, "bp5", lambda d: d.update(min_openshell_version="abc"))},
         "min_openshell_version"),
        ("file-policy-traversal", {"src": _blueprint_copy(tmp_path, "bp6", lambda d: _set_path(
            d, ["components", "policy", "base"], "../../../../../etc/passwd"))}, "base"),
        ("file-sandbox-name", {"src": _blueprint_copy(tmp_path, "bp7", lambda d: _set_path(
            d, ["components", "sandbox", "name"], "Bad/Name"))}, "name"),
        ("file-image-digest", {"src": _blueprint_copy(tmp_path, "bp8", lambda d: _set_path(
            d, ["components", "sandbox", "image"], "ghcr.io/nvidia/openclaw@sha256:1234"))}, "image"),
        ("file-pinned-digest-mismatch", {"src": _blueprint_copy(tmp_path, "bp9", lambda d: None),
                                         "digest": "sha256:" + "0" * 64, "allow_unpinned_artifact": False}, "digest"),
        ("file-artifact-unpinned", {"src": _blueprint_copy(tmp_path, "bp10", lambda d: None),
                                    "allow_unpinned_artifact": False}, "digest"),
        ("preset-port-zero", {"src": "openclaw", "custom_presets": [_write(tmp_path, "p1.yaml", yaml.safe_dump(
            {"preset": {"name": "p1"}, "network_policies": {"p1": _policy(port=0)["network_policies"]["x"]}}))]},
         "port"),
        ("preset-unknown-key", {"src": "openclaw", "custom_presets": [_write(tmp_path, "p2.yaml", yaml.safe_dump(
            {"preset": {"name": "p2"}, "network_policies": {"p2": dict(_policy()["network_policies"]["x"],
                                                                       surprise=True)}}))]}, "surprise"),
        ("preset-path-traversal", {"src": "openclaw", "custom_presets": ["../../../../../etc/passwd"]}, "etc/passwd"),
        ("preset-not-in-library", {"src": "openclaw", "presets": ["no-such-preset"]}, "no-such-preset"),
        ("preset-private-host", {"src": "openclaw", "custom_presets": [{"name": "lan", "network_policies": {
            "lan": dict(_policy(host="192.168.1.20")["network_policies"]["x"], name="lan")}}]}, "192.168.1.20"),
        ("override-conflicting-layer", {"src": "openclaw", "overrides": {
            "network_policies": {"managed_inference": _policy()["network_policies"]["x"]}}}, "managed_inference"),
    ] + [
        # Issue 19: every spelling of a private, loopback or metadata address; names and paths that deceive.
        ("preset-host-%s" % cid, {"src": "openclaw", "custom_presets": [{"name": "lan", "network_policies": {
            "lan": dict(_policy(host=host)["network_policies"]["x"], name="lan")}}]}, host)
        for cid, host in (("127-1", "127.1"), ("decimal-loopback", "2130706433"), ("hex-loopback", "0x7f000001"),
                          ("octal-loopback", "0177.0.0.1"), ("10-1", "10.1"), ("metadata-decimal", "2852039166"),
                          ("metadata-octal", "0251.0376.0251.0376"), ("ipv6-mapped-loopback", "::ffff:127.0.0.1"))
    ] + [
        ("file-provider-name", {"src": _blueprint_copy(tmp_path, "bp11", lambda d: _set_path(
            d, ["components", "inference", "profiles", "default", "provider_name"], "bad name!"))}, "provider_name"),
        ("preset-binary-climbs", {"src": "openclaw", "custom_presets": [{"name": "b", "network_policies": {"b": dict(
            _policy()["network_policies"]["x"], name="b", binaries=[{"path": "/usr/bin/../../bin/sh"}])}}]}, ".."),
        ("preset-name-differs-from-key", {"src": "openclaw", "custom_presets": [{"name": "n", "network_policies": {
            "n": dict(_policy()["network_policies"]["x"], name="other")}}]}, "differs from its key"),
        ("baseline-file-missing", {"src": _blueprint_copy(tmp_path, "bp12", lambda d: _set_path(
            d, ["components", "policy", "base"], "policies/missing-sandbox.yaml"))}, "baseline policy not found"),
        ("preset-host-homoglyph", {"src": "openclaw", "custom_presets": [{"name": "h", "network_policies": {
            "h": dict(_policy(host="g\u0456thub.com")["network_policies"]["x"], name="h")}}]}, "non-ASCII"),
        ("preset-method-frob", {"src": "openclaw", "custom_presets": [{"name": "m", "network_policies": {
            "m": dict(_policy(protocol="rest", rules=[{"allow": {"method": "FROB", "path": "/**"}}])["network_policies"]["x"],
                      name="m")}}]}, "FROB"),
    ]


def test_blueprint_preset_and_policy_files(fleet, tmp_path):
    creds = {"credentials_given": ["NVIDIA_INFERENCE_API_KEY"], "allow_unpinned_artifact": True}
    cases = file_cases(tmp_path)
    tasks = []
    for cid, opts, _field in cases:
        args = dict(BP, **creds)
        args.update(opts)
        tasks.append({"name": "case %s" % cid, P + "nemoclaw_blueprint": args, "ignore_errors": True})
    step = fleet.run(tasks)
    wrong = _judge(step, [(cid, field) for cid, _o, field in cases])
    assert wrong == [], "\n".join("%s: %s" % w for w in wrong)
    assert step.calls == [], [c["argv"] for c in step.calls]


# (id, roles to include in order, variables, text the failure must contain): role argument validation.
ROLE_CASES = [
    ("agents-health-timeout", ["agents"], {"agents_health_timeout": "soon"}, "agents_health_timeout"),
    ("agents-update-credentials", ["agents"], {"agents_update_credentials": "sometimes"}, "agents_update_credentials"),
    ("agents-retries", ["agents"], {"agents_openshell_retries": "many"}, "agents_openshell_retries"),
    ("secrets-type", ["agents"], {"nemoclaw_secrets": "not-a-mapping"}, "nemoclaw_secrets"),
    ("gateway-port", ["openshell"], {"openshell_gateway_port": 70000}, "openshell_gateway_port"),
    ("package-sha256", ["openshell"], {"openshell_install_method": "deb", "openshell_package_src": "/tmp/x.deb",
                                       "openshell_package_sha256": "abc"}, "openshell_package_sha256"),
    ("supervisor", ["openshell"], {"openshell_gateway_supervisor": "cron"}, "openshell_gateway_supervisor"),
    ("openshell-retries", ["openshell"], {"openshell_retries": "many"}, "openshell_retries"),
    ("preflight-cpus", ["preflight"], {"preflight_min_cpus": "x"}, "preflight_min_cpus"),
    ("gpu-required-type", ["gpu"], {"gpu_required": "perhaps"}, "gpu_required"),
    # Issue 19: nothing from the inventory reaches a shell; env keys and values checked before any change.
    ("gateway-env-key-injection", ["openshell"], {"openshell_gateway_env": {"X=1 touch /tmp/PWNED; Y": "v"}},
     "openshell_gateway_env: key 'X=1 touch /tmp/PWNED; Y' must match"),
    ("gateway-env-value-newline", ["openshell"], {"openshell_gateway_env": {"A": "a\nINJECTED=1"}},
     "openshell_gateway_env.A: value must not contain a newline"),
    ("gateway-env-value-nul", ["openshell"], {"openshell_gateway_env": {"A": "a\x00b"}},
     "openshell_gateway_env.A: value must not contain a NUL"),
    ("gateway-env-value-list", ["openshell"], {"openshell_gateway_env": {"A": [1]}}, "openshell_gateway_env.A: value must be"),
    ("gateway-env-key-empty", ["openshell"], {"openshell_gateway_env": {"": "v"}}, "openshell_gateway_env: key '' must match"),
    # gateway.toml is written by a TOML writer that escapes every string and refuses what TOML cannot hold.
    ("gateway-config-null", ["openshell"], {"openshell_gateway_extra_config": {"log_level": None}},
     "openshell_gateway_extra_config.log_level: null has no TOML form"),
    ("gateway-driver-config-type", ["openshell"], {"openshell_gateway_driver_config": {"docker": "img"}},
     "openshell_gateway_driver_config.docker: must be a mapping"),
]

O = {"name": "openclaw", "agent": "openclaw"}
A = "nemoclaw_agents[openclaw]"
SECRET_PATH = "nemoclaw_secrets.NVIDIA_INFERENCE_API_KEY"


def _one(**entry):
    return {"nemoclaw_agents": [dict(O, **entry)]}


# (id, variables of the agents role, error_path the failure must carry, text its message must contain).
# The desired state is planned on the controller: every case fails before the host is touched at all.
AGENT_CASES = [
    ("agents-not-a-list", {"nemoclaw_agents": "openclaw"}, "nemoclaw_agents", "expected a list"),
    ("agents-entry-not-a-mapping", {"nemoclaw_agents": ["openclaw"]}, "nemoclaw_agents[0]", "expected a mapping"),
    ("agents-unknown-key", _one(presest=["npm"]), A + ".presest", "did you mean presets?"),
    ("agents-missing-name", {"nemoclaw_agents": [{"agent": "openclaw"}]}, "nemoclaw_agents[0].name", "is required"),
    ("agents-missing-agent", {"nemoclaw_agents": [{"name": "openclaw"}]}, A + ".agent", "is required"),
    ("agents-duplicate-name", {"nemoclaw_agents": [O, O]}, "nemoclaw_agents[1].name", "listed twice"),
    ("agents-bad-agent", _one(agent="claude"), A + ".agent", "openclaw, hermes"),
    ("agents-name-upper", {"nemoclaw_agents": [dict(O, name="Bad_Name")]}, "nemoclaw_agents[0].name", "Bad_Name"),
    ("agents-name-newline", {"nemoclaw_agents": [dict(O, name="openclaw\n")]}, "nemoclaw_agents[0].name", "newline"),
    ("agents-name-too-long", {"nemoclaw_agents": [dict(O, name="a-very-long-sandbox-name")]}, "nemoclaw_agents[0].name",
     "19"),
    ("agents-gpu-two", _one(resources={"gpu": "two"}), A + ".resources.gpu", "two"),
    ("agents-memory-huge", _one(resources={"memory": "999999Ti"}), A + ".resources.memory", "999999Ti"),
    ("agents-memory-negative", _one(resources={"memory": "-1Gi"}), A + ".resources.memory", "-1Gi"),
    ("agents-cpu-huge", _one(resources={"cpu": "100000"}), A + ".resources.cpu", "100000"),
    ("agents-cpu-word", _one(resources={"cpu": "lots"}), A + ".resources.cpu", "lots"),
    ("agents-resources-unknown", _one(resources={"disk": "1Ti"}), A + ".resources.disk", "unknown key"),
    ("agents-env-key-equals", _one(env={"A=B": "1"}), A + ".env.A=B", "must match"),
    ("agents-env-key-newline", _one(env={"A\nB": "1"}), A + ".env.A\nB", "must match"),
    ("agents-env-value-newline", _one(env={"LOG_LEVEL": "info\nX=1"}), A + ".env.LOG_LEVEL", "newline"),
    ("agents-env-reserved", _one(env={"OPENSHELL_X": "1"}), A + ".env.OPENSHELL_X", "reserved"),
    ("agents-env-secret", _one(env={"NVIDIA_API_KEY": "nvapi-abcdefghijklmnop"}), A + ".env.NVIDIA_API_KEY",
     "use a provider"),
    ("agents-label-value-newline", _one(labels={"team": "a\nb"}), A + ".labels.team", "newline"),
    ("agents-label-reserved", _one(labels={"agentfleet.nemoclaw/spec": "x"}), A + ".labels.agentfleet.nemoclaw/spec", "reserved"),
    ("agents-digest-format", _one(blueprint_digest="md5:abc"), A + ".blueprint_digest", "sha256"),
    ("agents-digest-mismatch", _one(blueprint_digest="sha256:" + "0" * 64), A + ".blueprint_digest", "0" * 64),
    ("agents-blueprint-traversal", _one(blueprint="../../../../etc"), A + ".blueprint", ""),
    ("agents-blueprint-other-agent", _one(blueprint="hermes"), A + ".blueprint", "hermes"),
    ("agents-presets-type", _one(presets={"npm": True}), A + ".presets", "expected a list"),
    ("agents-state", _one(state="paused"), A + ".state", "paused"),
    ("agents-on-replace", _one(on_replace="sometimes"), A + ".on_replace", "preserve"),
    ("agents-backup-keep", _one(backup={"keep": 0}), A + ".backup.keep", "1 to"),
    ("agents-backup-path", _one(backup={"paths": ["/etc"]}), A + ".backup.paths[0]", "/sandbox"),
    ("agents-unknown-tier", _one(tier="premium"), A + ".tier", "premium"),
    ("agents-unknown-preset", _one(presets=["no-such-preset"]), A + ".presets[0]", "not found"),
    ("agents-unknown-profile", _one(profile="nope"), A + ".profile", "nope"),
    ("agents-unknown-resource-profile", _one(resources={"profile": "nope"}), A + ".resources.profile", "nope"),
    ("agents-preset-file-missing", _one(custom_presets=["no-such-file.yaml"]), A + ".custom_presets[0]",
     "no-such-file.yaml"),
    ("agents-routes-differ", {"nemoclaw_agents": [O, {"name": "local", "agent": "openclaw", "profile": "vllm"}]},
     "nemoclaw_agents[local].profile", A),
    ("agents-provider-twice", _one(providers=[{"name": "gh", "type": "github", "credentials": ["GITHUB_TOKEN"]},
                                              {"name": "gh", "type": "github", "credentials": ["GH_TOKEN"]}]),
     A + ".providers[1].name", "listed twice"),
    ("agents-provider-no-credentials", _one(providers=[{"name": "gh", "type": "github"}]),
     A + ".providers[0].credentials", "at least one"),
    ("agents-provider-secret-missing", _one(providers=[{"name": "gh", "type": "github", "credentials": ["GITHUB_TOKEN"]}]),
     "nemoclaw_secrets.GITHUB_TOKEN", A),
    ("agents-provider-inference-name", _one(providers=[{"name": "nvidia-inference", "type": "nvidia",
                                                        "credentials": ["NVIDIA_INFERENCE_API_KEY"]}]),
     A + ".providers", "nvidia-inference"),
    ("secret-missing", {"nemoclaw_secrets": {}}, SECRET_PATH, "is not set"),
    ("secret-whitespace", {"nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": "   "}}, SECRET_PATH, "whitespace"),
    ("secret-newline", {"nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": "nvapi-x\ny"}}, SECRET_PATH, "newline"),
]


def _rescued(cases):
    """One block/rescue task per case around include_role; the rescue keeps the failure's msg and error_path."""
    tasks = []
    for cid, roles, variables in cases:
        block = [{"name": "include %s" % role, "ansible.builtin.include_role": {"name": P + role}, "vars": variables}
                 for role in roles]
        block.append({"name": "passed %s" % cid, "ansible.builtin.set_fact": {"passed_" + cid.replace("-", "_"): True}})
        tasks.append({"name": "case %s" % cid, "block": block, "rescue": [{
            "name": "record %s" % cid,
            "ansible.builtin.set_fact": {"role_failures": "{{ role_failures | default({}) | combine({%r: "
                                                          "{'task': ansible_failed_task.name, "
                                                          "'error_path': ansible_failed_result.error_path | default(''), "
                                                          "'msg': ([ansible_failed_result.msg | default('')]"
                                                          " + (ansible_failed_result.results | default([])"
                                                          " | map(attribute='msg', default='') | list)) | join(' ')}})"
                                                          " }}"
                                                          % cid}}]})
    tasks.append({"name": "report role cases", "ansible.builtin.debug": {"var": "role_failures"}})
    return tasks


def test_role_variables_and_inventory_values(fleet):
    step = fleet.run(_rescued([(cid, roles, variables) for cid, roles, variables, _t in ROLE_CASES]),
                     play_extra={"gather_facts": True})
    assert step.mutating == [], step.mutating
    got = step.result("report role cases").get("role_failures") or {}
    wrong = []
    for cid, _roles, _vars, text in ROLE_CASES:
        if cid not in got:
            wrong.append((cid, "did not fail"))
        elif text.lower() not in got[cid]["msg"].lower():
            wrong.append((cid, "message does not name %r: %s" % (text, got[cid]["msg"][:300])))
    assert wrong == [], "\n".join("%s: %s" % w for w in wrong)
    assert TEST_SECRET not in step.stdout


def test_desired_state(fleet):
    """Every bad nemoclaw_agents / nemoclaw_secrets is refused naming its inventory path, before any call."""
    step = fleet.run(_rescued([(cid, ["agents"], variables) for cid, variables, _p, _t in AGENT_CASES]))
    got = step.result("report role cases").get("role_failures") or {}
    wrong = []
    for cid, _vars, path, text in AGENT_CASES:
        if cid not in got:
            wrong.append((cid, "did not fail"))
            continue
        failure = got[cid]
        if failure["task"] != "Converge the agents of the host":
            wrong.append((cid, "failed in %r, not in the plan: %s" % (failure["task"], failure["msg"][:300])))
        if failure["error_path"] != path:
            wrong.append((cid, "error_path %r, expected %r: %s" % (failure["error_path"], path, failure["msg"][:300])))
        if not failure["msg"].startswith(path + ":") or text not in failure["msg"]:
            wrong.append((cid, "message does not start with %r and name %r: %s" % (path, text, failure["msg"][:300])))
    assert wrong == [], "\n".join("%s: %s" % w for w in wrong)
    # The simulator's own log agrees: not one call, read-only or not, for the whole batch.
    assert step.calls == [], [c["argv"] for c in step.calls]
    assert TEST_SECRET not in step.stdout


def test_corpus_size_and_unique_ids(tmp_path):
    ids = [c[0] for c in MODULE_CASES] + [c[0] for c in file_cases(tmp_path)] + [c[0] for c in ROLE_CASES] \
        + [c[0] for c in AGENT_CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(ids) >= 150, len(ids)
