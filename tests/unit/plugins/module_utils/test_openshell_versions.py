# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The CLI contracts (tests/contract) and their checker; the product's version table agrees with them."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell as os_
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell_versions as ov

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CONTRACTS = os.path.join(ROOT, "tests", "contract")
sys.path.insert(0, CONTRACTS)

import openshell_contract as oc  # noqa: E402  pylint: disable=wrong-import-position

SPEC = {"name": "assistant", "image": "openclaw", "providers": ["nvidia"], "gpu": False, "cpu": "2", "memory": "8Gi",
        "labels": {"team": "a"}, "env": {"LOG": "1"}, "approval_mode": "auto"}


def test_each_supported_version_has_a_contract_and_a_grammar():
    assert oc.versions() == ["0.0.111", "0.0.116", "0.1.5"]
    for lo, hi in ov.COVERED:
        assert lo in oc.versions() and hi in oc.versions()
    for version in oc.versions():
        contract = oc.load(version)
        assert contract.data["version"] == version and contract.data["sources"]
        assert "sandbox create" in contract.grammar["commands"]
        assert contract.section("errors")["review_token_mismatch"] == "review token does not match the fetched proposal"


def test_a_missing_contract_fails_loudly():
    with pytest.raises(oc.ContractMissing):
        oc.load("0.0.999")
    for uncovered in ("0.0.110", "0.0.117", "0.1.4", "0.1.6", "1.0.0"):
        with pytest.raises(oc.ContractMissing):
            oc.covering(uncovered)
    assert oc.covering("0.0.112") == "0.0.111" and oc.covering("0.0.116") == "0.0.116" and oc.covering("0.1.5") == "0.1.5"


def test_the_checker_rejects_flags_a_version_lacks():
    argv = ["sandbox", "create", "--name", "a", "--restart-policy", "on-failure", "--detach", "--no-tty", "-o", "json"]
    for version in ("0.0.111", "0.0.116"):
        with pytest.raises(oc.Invalid) as exc:
            oc.check(argv, version)
        assert "--restart-policy" in str(exc.value)
    oc.check(argv, "0.1.5")
    with pytest.raises(oc.Invalid) as exc:
        oc.check(argv[:5] + ["sometimes"], "0.1.5")
    assert "possible values: never, on-failure, always" in str(exc.value)


@pytest.mark.parametrize("argv,reason", [
    (["sandbox", "get"], None),
    (["sandbox", "get", "a", "-o", "xml"], "invalid value 'xml'"),
    (["sandbox", "list", "--ids", "-o", "json"], "cannot be used with"),
    (["sb", "delete", "a", "b"], None),
    (["sandbox", "delete", "--all", "a"], "cannot be used with"),
    (["sandbox", "exec", "-n", "a", "--", "ls", "-la"], None),
    (["sandbox", "exec", "-n", "a", "sh", "-c", "echo --x"], None),
    (["sandbox", "frobnicate"], "unrecognized subcommand"),
    (["rule", "approve", "a"], "--chunk-id"),
    (["policy", "set", "a", "--policy", "p", "--policy", "q"], "multiple times"),
    (["--gateway", "g", "provider", "list", "-o", "json"], None),
    (["sandbox", "create", "--gpu", "2", "--name", "a"], None),
    (["sandbox", "create", "--no-keep", "--detach"], "cannot be used with"),
])
def test_the_checker_parses_like_clap(argv, reason):
    for version in oc.versions():
        if reason is None:
            oc.check(argv, version)
        else:
            with pytest.raises(oc.Invalid) as exc:
                oc.check(argv, version)
            assert reason in str(exc.value)


def test_check_argv_script(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.write_text(json.dumps({"argv": ["sandbox", "create", "--name", "a", "--restart-policy", "always", "--detach"]}) + "\n")
    script = os.path.join(CONTRACTS, "check_argv.py")
    old = subprocess.run([sys.executable, script, str(log)], stdout=subprocess.PIPE, universal_newlines=True, check=False)
    assert old.returncode == 1 and old.stdout.endswith("1 calls, 1 invalid\n")
    new = subprocess.run([sys.executable, script, "--version", "0.1.5", str(log)], stdout=subprocess.PIPE,
                         universal_newlines=True, check=False)
    assert new.returncode == 0 and new.stdout == "1 calls, 0 invalid\n"
    none = subprocess.run([sys.executable, script, "--version", "0.2.0", str(log)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert none.returncode == 2 and "no OpenShell CLI contract covers 0.2.0" in none.stderr


def test_the_version_table_agrees_with_the_contracts():
    for version in oc.versions():
        contract = oc.load(version)
        features = contract.section("features")
        has_flag = "--restart-policy" in contract.flags("sandbox create")
        assert ov.has_restart_policy(version) == has_flag == bool(features["restart_policy"])
        if has_flag:
            assert list(ov.RESTART_POLICIES) == contract.flags("sandbox create")["--restart-policy"]["values"]
        assert ov.create_needs_detach(version) == features["create_needs_detach"]
        assert "--detach" in contract.flags("sandbox create")
        assert ov.covered(version)
        assert ("Completed" in contract.section("sandbox_phases")) == ov.has_restart_policy(version)
    assert ov.range_text() == "0.0.111 to 0.0.116, 0.1.5"
    assert not ov.covered("0.0.110") and not ov.covered("0.1.6")


@pytest.mark.parametrize("version", ["0.0.111", "0.0.116", "0.1.5"])
def test_create_argv_is_valid_for_each_version(version):
    args = ["sandbox", "create"] + os_.sandbox_create_args(SPEC, "/tmp/p.json", version) + ["-o", "json"]
    oc.check(args, version)
    assert ("--detach" in args) == (version == "0.1.5")
    if version == "0.1.5":
        args = ["sandbox", "create"] + os_.sandbox_create_args(dict(SPEC, restart_policy="on-failure"), None, version)
        oc.check(args, version)
        assert args[args.index("--restart-policy") + 1] == "on-failure"
    else:
        with pytest.raises(ov.UnsupportedVersion) as exc:
            os_.sandbox_create_args(dict(SPEC, restart_policy="always"), None, version)
        assert str(exc.value) == ("restart_policy: OpenShell %s has no sandbox restart policy (sandbox create "
                                  "--restart-policy); it needs OpenShell 0.1.5" % version)


def test_version_gate_names_the_version_and_both_bounds():
    ov.check_version_gate("0.0.116", "0.0.106", "0.1.5", "openshell_version")
    ov.check_version_gate(None, "1", "2")
    with pytest.raises(ov.VersionGateError) as err:
        ov.check_version_gate("0.1.6", "0.0.106", "0.1.5", "openshell_version")
    assert err.value.field == "openshell_version"
    assert err.value.reason == "openshell_version 0.1.6 is outside the supported range (min 0.0.106, max 0.1.5)"
    with pytest.raises(ov.VersionGateError):
        ov.check_version_gate("latest", "1", None, "agent_version")


@pytest.mark.parametrize("text,expected", [("0.0.111", (0, 0, 111)), ("0.1.5-dev", (0, 1, 5)), ("", (0, 0, 0)),
                                           (None, (0, 0, 0)), ("garbage", (0, 0, 0))])
def test_key_never_raises(text, expected):
    assert ov.key(text) == expected
