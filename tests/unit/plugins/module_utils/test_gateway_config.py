# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""gateway.toml as the openshell role writes it (module_utils/gateway_config.py)."""

from __future__ import annotations

import sys

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gateway_config as gc

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

BASE = {"bind_address": "127.0.0.1", "port": 17670, "compute_driver": "", "local_tls": False,
        "extra_config": {}, "driver_config": {}}


def _doc(**changes):
    values = dict(BASE, **changes)
    return gc.gateway_toml(values)


def test_the_role_defaults():
    assert _doc() == '[openshell]\nversion = 1\n\n[openshell.gateway]\nbind_address = "127.0.0.1:17670"\ndisable_tls = true\n'


def test_driver_tls_ipv6_extra_and_driver_tables():
    text = _doc(bind_address="::", port=8080, compute_driver="docker", local_tls=True,
                extra_config={"log_level": "info", "limits": {"b": 2, "a": [1, 2.5, True]}, "bind_address": "0.0.0.0:1"},
                driver_config={"podman": {"socket": "/run/podman.sock"}, "docker": {"default_image": "img:1"}})
    assert text == ('[openshell]\nversion = 1\n\n[openshell.gateway]\nbind_address = "0.0.0.0:1"\n'
                    'compute_drivers = ["docker"]\nlimits = { a = [1, 2.5, true], b = 2 }\nlog_level = "info"\n\n'
                    '[openshell.drivers.docker]\ndefault_image = "img:1"\n\n[openshell.drivers.podman]\nsocket = "/run/podman.sock"\n')
    assert gc.listen_address("::1", 5) == "[::1]:5" and gc.listen_address("[fe80::1]", 5) == "[fe80::1]:5"


@pytest.mark.skipif(tomllib is None, reason="tomllib is Python 3.11+")
@pytest.mark.parametrize("value", [
    "plain", 'quote " and \\ backslash', "new\nline", "tab\tcr\r", "nul\x00 bell\x07 del\x7f", "é ü 日本 😀",
    '"]\n[openshell.gateway]\ndisable_tls = false\n#', "${HOME} `x` $(y)", 0, -1, 2 ** 63 - 1, 1.5, 1e20, True,
    [], {}, {"nested key": {"x y": ["a\nb"]}}, ["mixed", 1, {"k": False}],
])
def test_any_value_reads_back_as_written(value):
    """What the role writes is what the gateway's TOML parser reads: nothing a value holds breaks out of it."""
    text = _doc(extra_config={"value": value, "odd key = x\n[y]": "k"}, driver_config={"d r": {"value": value}})
    parsed = tomllib.loads(text)
    gateway = parsed["openshell"]["gateway"]
    assert gateway["value"] == value and gateway["odd key = x\n[y]"] == "k"
    assert parsed["openshell"]["drivers"]["d r"]["value"] == value
    assert gateway["disable_tls"] is True and set(parsed["openshell"]) == {"version", "gateway", "drivers"}


def test_non_finite_floats_are_toml_words():
    assert gc.toml_value(float("nan"), "x") == "nan" and gc.toml_value(float("-inf"), "x") == "-inf"


@pytest.mark.parametrize("changes, path, reason", [
    ({"extra_config": {"log": None}}, "openshell_gateway_extra_config.log", "null has no TOML form"),
    ({"extra_config": {"n": 2 ** 64}}, "openshell_gateway_extra_config.n", "does not fit TOML's 64 bits"),
    ({"extra_config": {"t": {1: "x"}}}, "openshell_gateway_extra_config.t.1", "keys must be strings"),
    ({"extra_config": {"s": "\ud800"}}, "openshell_gateway_extra_config.s", "lone surrogate"),
    ({"extra_config": {"l": [1, object()]}}, "openshell_gateway_extra_config.l[1]", "has no TOML form"),
    ({"extra_config": ["x"]}, "openshell_gateway_extra_config", "must be a mapping"),
    ({"driver_config": {"docker": "img"}}, "openshell_gateway_driver_config.docker", "must be a mapping"),
    ({"driver_config": {"docker": {"x": None}}}, "openshell_gateway_driver_config.docker.x", "null"),
])
def test_values_toml_cannot_hold_are_refused_naming_the_variable(changes, path, reason):
    with pytest.raises(gc.TomlError) as caught:
        _doc(**changes)
    assert caught.value.path == path and reason in caught.value.reason
    problems = gc.problems(dict(BASE, **changes))
    assert len(problems) == 1 and problems[0].startswith(path + ": ")
    assert gc.problems(BASE) == []
