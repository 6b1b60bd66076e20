# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The openshell role's variable checks and its decisions (module_utils/openshell_role.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.filter.openshell_role import FilterModule as RoleFilters
from ansible_collections.agentfleet.nemoclaw.plugins.filter.validate import FilterModule
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell_role
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import installed_version
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


# ---------------------------------------------------------------------------
# The role's decisions: where the gateway is reached, whether to install
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("bind,host", [
    ("0.0.0.0", "127.0.0.1"), ("", "127.0.0.1"), (None, "127.0.0.1"), ("::", "[::1]"), ("[::]", "[::1]"),
    ("127.0.0.1", "127.0.0.1"), ("10.0.0.5", "10.0.0.5"), ("gw.example", "gw.example"),
    ("fd00::5", "[fd00::5]"), ("[fd00::5]", "[fd00::5]"),
])
def test_connect_host(bind, host):
    assert openshell_role.connect_host(bind) == host


def test_connect_host_filter_bare_form():
    filters = RoleFilters().filters()
    assert filters["openshell_connect_host"]("fd00::5") == "[fd00::5]"
    assert filters["openshell_connect_host"]("fd00::5", False) == "fd00::5"
    assert filters["openshell_connect_host"]("0.0.0.0", False) == "127.0.0.1"


def test_installed_version():
    assert installed_version({"rc": 0, "stdout": "openshell 0.0.111\n"}) == "0.0.111"
    assert installed_version({"rc": 0, "stdout": "\x1b[1mopenshell 0.1.5\x1b[0m"}) == "0.1.5"
    assert installed_version({"rc": 127, "stdout": "openshell 0.0.111"}) == ""
    assert installed_version({"skipped": True}) == ""
    assert installed_version(None) == ""


CLI, GW = "/usr/local/bin/openshell", "/usr/local/bin/openshell-gateway"


def _state(**changes):
    values = {"version": "0.0.116", "install_method": "deb", "gateway_supervisor": "process", "path": CLI,
              "gateway_path": GW, "handed": None, "installed": None, "gateway_stat": None}
    values.update(changes)
    return openshell_role.install_state(values)


def _read(version, rc=0):
    return {"rc": rc, "stdout": "openshell %s\n" % version if rc == 0 else "", "stderr": "", "changed": False}


def _stat(executable):
    return {"stat": {"exists": True, "executable": executable}}


def test_install_state_reads_what_was_not_handed():
    before = _state()
    assert (before["read_cli"], before["read_gateway"]) == (True, True)
    # An external supervisor's gateway is not the role's to look at.
    assert _state(gateway_supervisor="external")["read_gateway"] is False
    handed = {"path": CLI, "rc": 0, "stdout": "openshell 0.0.116", "gateway": {"path": GW, "executable": True}}
    assert (_state(handed=handed)["read_cli"], _state(handed=handed)["read_gateway"]) == (False, False)
    # A reading of other paths is not this role's.
    other = dict(handed, path="/opt/openshell")
    assert _state(handed=other)["read_cli"] is True and _state(handed=other)["read_gateway"] is True
    other_gw = dict(handed, gateway={"path": "/opt/gw", "executable": True})
    assert (_state(handed=other_gw)["read_cli"], _state(handed=other_gw)["read_gateway"]) == (False, True)


def test_install_state_pinned_version_present_needs_nothing():
    state = _state(installed=_read("0.0.116"), gateway_stat=_stat(True))
    assert state == {"read_cli": True, "read_gateway": True, "installed": "0.0.116", "gateway_missing": False,
                     "needs_install": False, "refusal": ""}
    handed = {"path": CLI, "rc": 0, "stdout": "openshell 0.0.116", "gateway": {"path": GW, "executable": True}}
    assert _state(handed=handed)["needs_install"] is False


@pytest.mark.parametrize("changes,installed,gateway_missing", [
    ({"installed": _read("0.0.111"), "gateway_stat": _stat(True)}, "0.0.111", False),
    ({"installed": _read("", rc=127), "gateway_stat": _stat(True)}, "", False),
    # A deleted gateway is installed again although the CLI reports the pinned version.
    ({"installed": _read("0.0.116"), "gateway_stat": _stat(False)}, "0.0.116", True),
    ({"installed": _read("0.0.116"), "gateway_stat": {"stat": {"exists": False}}}, "0.0.116", True),
    ({"handed": {"path": CLI, "rc": 0, "stdout": "openshell 0.0.116", "gateway": {"path": GW, "executable": False}}},
     "0.0.116", True),
])
def test_install_state_needs_install(changes, installed, gateway_missing):
    state = _state(**changes)
    assert state["needs_install"] is True
    assert (state["installed"], state["gateway_missing"], state["refusal"]) == (installed, gateway_missing, "")


def test_install_state_external_gateway_is_not_checked():
    state = _state(gateway_supervisor="external", installed=_read("0.0.116"))
    assert (state["gateway_missing"], state["needs_install"]) == (False, False)


def test_install_state_refuses_to_install_with_method_none():
    other = _state(install_method="none", installed=_read("0.0.111"), gateway_stat=_stat(True))
    assert other["refusal"] == ('openshell_install_method=none, but %s reports "0.0.111" instead of the pinned '
                                'openshell_version 0.0.116.' % CLI)
    failed = _state(install_method="none", installed={"rc": 2, "stdout": "", "stderr": "permission denied\n"},
                    gateway_stat=_stat(True))
    assert '"permission denied"' in failed["refusal"]
    absent = _state(install_method="none", installed={"rc": None, "failed": True, "msg": "[Errno 2] No such file"},
                    gateway_stat=_stat(True))
    assert '"[Errno 2] No such file"' in absent["refusal"]
    gateway = _state(install_method="none", installed=_read("0.0.116"), gateway_stat=_stat(False))
    assert gateway["refusal"] == ("openshell_install_method=none, but the gateway executable openshell_gateway_path "
                                  "(%s) is missing or not executable." % GW)
    assert _state(install_method="none", installed=_read("0.0.116"), gateway_stat=_stat(True))["refusal"] == ""


def test_installed_problem():
    assert openshell_role.installed_problem(_read("0.0.116"), "0.0.116", CLI, "pkg.deb") == ""
    assert openshell_role.installed_problem(_read("0.0.111"), "0.0.116", CLI, "pkg.deb") == (
        'After installing pkg.deb, %s reports "openshell 0.0.111" instead of "openshell 0.0.116".' % CLI)
    assert '"exec format error"' in openshell_role.installed_problem(
        {"rc": 126, "stdout": "", "stderr": "exec format error"}, "0.0.116", CLI, "pkg.deb")


def test_install_state_filter_refuses_a_non_mapping():
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        RoleFilters().filters()["openshell_install_state"]("0.0.116")


@pytest.mark.parametrize("opts", [["--strip-components=1"], ["--exclude=share/doc/*", "--no-same-owner"], []])
def test_archive_options_of_the_tree_pass(opts):
    assert problems(_with(archive_extra_opts=opts), "h", "systemd") == []


@pytest.mark.parametrize("opt", ["--to-command=sh -c id", "--checkpoint-action=exec=id", "--checkpoint=1", "-C", "/etc",
                                 "--use-compress-program=sh", "--strip-components=1; id", "--exclude=$(id)", 7])
def test_archive_options_that_run_commands_or_move_the_extraction_are_refused(opt):
    got = problems(_with(archive_extra_opts=["--strip-components=1", opt]), "h", "systemd")
    assert len(got) == 1 and got[0].startswith("openshell_archive_extra_opts[1] must be --strip-components=N")


def test_checked_environment_filter():
    check = FilterModule().filters()["checked_environment"]
    env = {"HOME": "/home/a", "PATH": "/usr/bin", "N": 3, "B": True}
    assert check(env) is env and check(None) == {}
    for bad, fragment in (({"X=1;touch /tmp/x;Y": "v"}, "nemoclaw_environment: key 'X=1;touch"),
                          ({"OK": "a\nINJECTED=1"}, "nemoclaw_environment.OK: value"),
                          ({"OK": None}, "nemoclaw_environment.OK: value"), (["A=1"], "must be a mapping")):
        with pytest.raises(AnsibleFilterError) as exc:
            check(bad)
        assert fragment in str(exc.value) and "INJECTED" not in str(exc.value)


@pytest.mark.parametrize("field,value", [
    ("gateway_path", "/opt/openshell/bin/openshell-gateway\nExecStartPost=/bin/sh -c 'touch /tmp/x'"),
    ("config_dir", "/home/a/.config/openshell\"\nExecStartPre=/bin/sh -c id\n#"),
    ("state_dir", "/home/a/state dir"), ("install_prefix", "/opt/%h"), ("path", "/usr/bin/openshell;id"),
    ("systemd_unit_dir", "/home/a/$(id)"), ("deb_install_root", "/x`id`"),
])
def test_paths_written_into_units_and_command_lines_are_plain(field, value):
    got = problems(_with(**{field: value}), "h", "systemd")
    assert len(got) == 1 and got[0].startswith("openshell_%s: " % field), got


def test_plain_paths_pass():
    values = _with(path="openshell", gateway_path="/usr/local/bin/openshell-gateway", config_dir="~/.config/openshell",
                   state_dir="/home/a/.local/state/openshell", install_prefix="/usr/local", deb_install_root="/",
                   systemd_unit_dir="/home/a/.config/systemd/user")
    assert problems(values, "h", "systemd") == []


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:17670\nX", "http://u:p@gw:17670", "http://gw:17670/?t=1",
                                      "http://169.254.169.254:80", "http://gw:99999"])
def test_gateway_endpoint_is_a_plain_url(endpoint):
    got = problems(_with(gateway_endpoint=endpoint), "h", "systemd")
    assert len(got) == 1 and got[0].startswith("openshell_gateway_endpoint: "), got


def test_package_src_credentials_are_refused_and_never_shown():
    got = problems(_with(package_src="https://deploy:tok3n@repo.example.com/openshell.deb"), "h", "systemd")
    assert len(got) == 1 and "user information (https://repo.example.com/openshell.deb)" in got[0]
    assert "tok3n" not in got[0]
    signed = "https://bucket.example.com/openshell.deb?X-Amz-Signature=s1gn"
    assert problems(_with(package_src=signed), "h", "systemd") == []
    message = openshell_role.installed_problem(_read("0.0.111"), "0.0.116", CLI, signed)
    assert "s1gn" not in message and "https://bucket.example.com/openshell.deb" in message
    assert FilterModule().filters()["display_url"](signed) == "https://bucket.example.com/openshell.deb"
