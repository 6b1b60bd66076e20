# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The openshell role's variable checks (module_utils/openshell_role.py)."""

from __future__ import annotations

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.filter.validate import FilterModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell_role import problems

GOOD = {"version": "0.0.116", "install_method": "deb", "package_src": "https://example.test/openshell.deb",
        "package_sha256": "ab" * 32, "gateway_port": 17670, "gateway_endpoint": "http://127.0.0.1:17670",
        "gateway_local_tls": False, "gateway_supervisor": "process", "gateway_env": {"RUST_LOG": "info"}}


def _with(**changes):
    values = dict(GOOD)
    values.update(changes)
    return values


def test_good_variables_have_no_problem():
    assert problems(GOOD, "dgx-1", "systemd") == []
    assert problems(_with(install_method="none", package_src="", package_sha256=""), "dgx-1") == []
    assert problems(_with(gateway_port="443", gateway_endpoint="https://gw:443", gateway_local_tls="yes"), "h") == []


@pytest.mark.parametrize("changes,expected", [
    ({"version": ""}, "openshell_version must be set."),
    ({"version": None}, "openshell_version must be set."),
    ({"package_src": ""}, "openshell_package_src is required unless openshell_install_method is none."),
    ({"package_sha256": "abc"},
     'openshell_package_sha256 must be 64 hex digits unless openshell_install_method is none (got "abc").'),
    ({"package_sha256": "ab" * 32 + "\n"},
     'openshell_package_sha256 must be 64 hex digits unless openshell_install_method is none (got "%s\\n").' % ("ab" * 32)),
    ({"gateway_port": 0}, "openshell_gateway_port must be 1-65535 (got 0)."),
    ({"gateway_port": 65536}, "openshell_gateway_port must be 1-65535 (got 65536)."),
    ({"gateway_port": "80; rm -rf /"}, "openshell_gateway_port must be 1-65535 (got 80; rm -rf /)."),
    ({"gateway_port": True}, "openshell_gateway_port must be 1-65535 (got True)."),
    ({"gateway_endpoint": "ftp://gw"}, "openshell_gateway_endpoint must start with http:// or https:// (got ftp://gw)."),
    ({"gateway_endpoint": " http://gw"}, "openshell_gateway_endpoint must start with http:// or https:// (got  http://gw)."),
    ({"gateway_endpoint": "https://gw:8443"},
     "openshell_gateway_endpoint is https:// (https://gw:8443), which needs openshell_gateway_local_tls=true."),
])
def test_each_problem_names_its_variable(changes, expected):
    assert problems(_with(**changes), "dgx-1", "systemd") == [expected]


def test_systemd_user_needs_systemd_naming_the_host_and_the_way_out():
    (msg,) = problems(_with(gateway_supervisor="systemd_user"), "spark-2", "sysvinit")
    assert msg.startswith("openshell_gateway_supervisor=systemd_user needs systemd, but the service manager of "
                          "spark-2 is sysvinit. Set openshell_gateway_supervisor=process")
    (msg,) = problems(_with(gateway_supervisor="systemd_user"), "spark-2")
    assert "the service manager of spark-2 is unknown." in msg
    assert problems(_with(gateway_supervisor="systemd_user"), "spark-2", "systemd") == []


def test_environment_problems_name_the_key_never_the_value():
    out = problems(_with(gateway_env={"BAD KEY": "x", "TOKEN": "line1\nsecret-value"}), "h", "systemd")
    assert out == ["openshell_gateway_env: key 'BAD KEY' must match [A-Za-z_][A-Za-z0-9_]*.",
                   "openshell_gateway_env.TOKEN: value must not contain a newline."]
    assert not any("secret-value" in p for p in out)


def test_every_problem_is_reported_at_once():
    out = problems({"gateway_supervisor": "systemd_user"}, "h")
    assert [p.split(" ")[0] for p in out] == [
        "openshell_version", "openshell_package_src", "openshell_package_sha256", "openshell_gateway_port",
        "openshell_gateway_endpoint", "openshell_gateway_supervisor=systemd_user"]


def test_the_filter_is_the_function():
    assert FilterModule().filters()["openshell_problems"](_with(version=""), "h") == ["openshell_version must be set."]


def test_a_gateway_setting_toml_cannot_hold_is_a_problem_naming_its_path():
    config = {"bind_address": "127.0.0.1", "port": 17670, "compute_driver": "", "local_tls": False,
              "extra_config": {"log_level": None}, "driver_config": {}}
    assert problems(_with(gateway_config=config), "h", "systemd") == [
        "openshell_gateway_extra_config.log_level: null has no TOML form; leave the key out."]
    config["extra_config"] = {"log_level": "info"}
    assert problems(_with(gateway_config=config), "h", "systemd") == []
