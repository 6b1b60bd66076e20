# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""site.yml's quick path: the host-layer check in nemoclaw_apply (module_utils/hostbase.py) and its arguments."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import hostbase, preflight_run, quickpath
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import OpenShellError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def _load(rel):
    with open(os.path.join(ROOT, rel)) as fh:
        return yaml.safe_load(fh)


def _task(tasks, name):
    return next(t for t in tasks if t.get("name") == name)


# ---------------------------------------------------------------------------------------------- arguments
# site.yml's quick task says only host_base: true; the action reads every option from the roles' tasks
# (module_utils/quickpath.py), so there is no second copy of them to keep equal.
def test_the_quick_task_takes_its_options_from_the_roles_tasks():
    quick = _task(_load("playbooks/site.yml")[0]["tasks"], "Converge the agents of the host")
    assert quick["agentfleet.nemoclaw.nemoclaw_apply"] == {"host_base": True}


@pytest.fixture(scope="module")
def read():
    return quickpath.role_options(_load)


def test_the_quick_path_reads_each_roles_task(read):
    parts, import_vars = read
    for part, path, module in quickpath.TASKS:
        task = next(t for t in _load(path) if module in t)
        args, when = parts[part]
        expected = dict((k, v) for k, v in task[module].items() if k not in quickpath.LEFT_OUT.get(part, ()))
        assert (args, when) == (expected, task.get("when")), part
    assert parts["lock"][1] == "nemoclaw_lock | default(true) | bool" and "timeout" not in parts["lock"][0]
    assert "gathered" not in parts["gpu"][0] and "host_base" not in parts["agents"][0]
    assert import_vars == _task(_load("playbooks/tasks/host_base.yml"), "Check the host")["vars"]


def test_reading_the_options_leaves_the_loaded_task_files_as_they_were():
    # The action gives role_options the loader's cached data, not a copy (nemoclaw_apply._role_tasks).
    loaded = {}

    def load(path):
        loaded[path] = _load(path)
        return loaded[path]
    parts, import_vars = quickpath.role_options(load)
    before = copy.deepcopy(loaded)
    for part_args, _when in parts.values():
        part_args["enabled"] = False
        part_args.pop(next(iter(part_args)), None)
    import_vars.clear()
    assert loaded == before
    assert loaded == dict((path, _load(path)) for path in loaded)


def _tags_in(node):
    """Every tag named in a parsed playbook or task file (``tags:`` at any depth)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "tags":
                found.update([value] if isinstance(value, str) else value)
            else:
                found |= _tags_in(value)
    elif isinstance(node, list):
        for item in node:
            found |= _tags_in(item)
    return found


def test_the_play_tags_are_the_tags_of_site_yml_and_what_it_runs():
    files = ["playbooks/site.yml"] + sorted(
        os.path.relpath(os.path.join(base, name), ROOT)
        for top in ("roles", os.path.join("playbooks", "tasks"))
        for base, _dirs, names in os.walk(os.path.join(ROOT, top))
        for name in names if name.endswith(".yml") and (top != "roles" or os.sep + "tasks" in base))
    found = set()
    for path in files:
        found |= _tags_in(_load(path))
    assert found == quickpath.PLAY_TAGS


@pytest.mark.parametrize("run_tags, skip_tags, limited", [
    (["all"], [], None),
    (None, None, None),
    (["all"], ["molecule-notest", "notest"], None),
    (["agents"], [], "--tags agents selects part of site.yml"),
    (["all", "agents"], [], "--tags agents,all selects part of site.yml"),
    (["all"], ["openshell_service"], "--skip-tags openshell_service leaves part of site.yml out"),
    (["all"], ["notest", "gpu", "preflight"], "--skip-tags gpu,preflight leaves part of site.yml out"),
    (["all"], ["untagged"], "--skip-tags untagged leaves part of site.yml out"),
    (["all"], ["tagged"], "--skip-tags tagged leaves part of site.yml out"),
])
def test_a_run_takes_the_quick_path_only_when_its_tags_select_the_whole_play(run_tags, skip_tags, limited):
    reason = quickpath.tag_limit(run_tags, skip_tags)
    if limited is None:
        assert reason is None
    else:
        assert reason.startswith(limited) and reason.endswith(": its tasks run")


def test_every_option_the_quick_path_gives_is_one_the_host_checks_take(read):
    parts, _import_vars = read
    spec = hostbase.ARGUMENT_SPEC
    assert set(parts["preflight"][0]) <= set(spec["preflight"]["options"])
    assert set(parts["gpu"][0]) <= set(spec["gpu"]["options"])
    assert set(parts["lock"][0]) | {"enabled"} <= set(spec["lock"]["options"])
    # config_dir and gateway_env become the gateway's directories and files (the action renders them)
    openshell = set(k for k, _var in quickpath.OPENSHELL_VARS) - {"config_dir", "gateway_env"}
    assert openshell <= set(spec["openshell"]["options"])


def test_a_missing_task_is_named():
    with pytest.raises(quickpath.QuickPathError, match="roles/x.yml: no task runs agentfleet.nemoclaw.nemoclaw_lock"):
        quickpath.task_of([{"name": "t", "ansible.builtin.debug": {}}], "agentfleet.nemoclaw.nemoclaw_lock", "roles/x.yml")


def test_presolve_replaces_only_defined_bare_variables():
    variables = {"a": 3, "b": "{{ c | default(1) }}", "d": {"x": [1]}}
    raw = {"one": "{{ a }}", "two": "{{b}}", "three": "{{ a | int }}", "four": "{{ undefined }}",
           "five": ["{{ d }}", "plain"], "six": 7, "seven": "x {{ a }}"}
    assert quickpath.presolve(raw, variables) == {
        "one": 3, "two": "{{ c | default(1) }}", "three": "{{ a | int }}", "four": "{{ undefined }}",
        "five": [{"x": [1]}, "plain"], "six": 7, "seven": "x {{ a }}"}
    assert quickpath.conditions(None) == [] and quickpath.conditions("a") == ["a"] and quickpath.conditions(["a", "b"]) == ["a", "b"]


def test_the_quick_path_compares_the_files_the_openshell_role_writes():
    config = _load("roles/openshell/tasks/config.yml")[0]["agentfleet.nemoclaw.nemoclaw_files"]
    osh = dict(quickpath.OPENSHELL_VARS)
    assert [d["path"] for d in config["directories"]] == ["{{ %s }}" % osh["config_dir"], "{{ %s }}" % osh["state_dir"]]
    # gateway.toml and gateway.env from the role's templates, env removed when empty (plugins/action/nemoclaw_apply.py)
    paths = [f["path"] for f in config["files"]]
    assert paths == ["{{ openshell_config_dir }}/gateway.toml", "{{ openshell_config_dir }}/gateway.env"]
    assert "gateway.toml.j2" in config["files"][0]["content"] and "gateway.env.j2" in config["files"][1]["content"]
    assert config["files"][1]["secret"] is True and "mode" not in config["files"][0] and "mode" not in config["files"][1]
    assert [d.get("mode") for d in config["directories"]] == [None, None]


# ---------------------------------------------------------------------------------------------- the checks
class FakeModule(object):
    check_mode = False
    _diff = False


class FakeClient(object):
    def __init__(self, gateways=None, status="connected", error=None, openshell_path="/usr/bin/openshell"):
        self.openshell_path = openshell_path
        self.assumed = None
        self.gateways = gateways if gateways is not None else [
            {"name": "openshell", "endpoint": "http://127.0.0.1:17670", "auth": "plaintext", "active": True}]
        self.status = status
        self.error = error

    def assume_version(self, version):
        self.assumed = version

    def gateway_list(self):
        if self.error:
            raise OpenShellError(self.error)
        return self.gateways

    def run_json(self, args, with_globals=True):
        assert args[:3] == ["status", "-o", "json"] and not with_globals
        return {"status": self.status}


def _report(*statuses):
    return {"checks": [{"id": "check%d" % i, "status": s, "message": "m%d" % i} for i, s in enumerate(statuses)]}


@pytest.fixture
def spec(tmp_path, monkeypatch):
    conf, state = tmp_path / "conf", tmp_path / "state"
    conf.mkdir(mode=0o700)
    state.mkdir(mode=0o700)
    (conf / "gateway.toml").write_text("[openshell]\n")
    os.chmod(str(conf / "gateway.toml"), 0o600)
    options = {
        "lock": {"enabled": False},
        "preflight": {"openshell_path": "/usr/bin/openshell", "gpu": {"nvidia_smi_path": "nvidia-smi"}},
        "gpu": {"nvidia_smi_path": "nvidia-smi"},
        "openshell": {"version": "0.0.111", "path": "/usr/bin/openshell", "supervisor": "external",
                      "directories": [{"path": str(conf)}, {"path": str(state)}],
                      "files": [{"path": str(conf / "gateway.toml"), "content": "[openshell]\n"},
                                {"path": str(conf / "gateway.env"), "state": "absent", "secret": True}],
                      "gateway_name": "openshell", "gateway_endpoint": "http://127.0.0.1:17670"},
    }
    checked = ArgumentSpecValidator(hostbase.ARGUMENT_SPEC).validate(options)
    assert not checked.error_messages
    measured = {"openshell": {"path": "/usr/bin/openshell", "rc": 0, "stdout": "openshell 0.0.111\n"}}
    gathered = {"facts": {"count": 0, "gpus": []}, "inputs": {"nvidia_smi_path": "nvidia-smi", "root": "/",
                                                              "cdi_spec_dirs": list(checked.validated_parameters["gpu"]["cdi_spec_dirs"])}}
    state_of = {"report": _report("pass", "warn"), "measured": measured, "gpu": gathered, "failure": None}

    def run(_module, p):
        assert p["report_path"] is None  # compared, never written by the quick path
        assert p["gather_facts"] == []  # the role's setup facts decide nothing here
        return state_of["report"], state_of["measured"], {"changed": False, "gpu": state_of["gpu"]}, \
            ["[check1] m1"], state_of["failure"]
    monkeypatch.setattr(preflight_run, "run", run)
    params = checked.validated_parameters
    params["_state"] = state_of
    params["_conf"] = conf
    return params


def test_a_host_as_the_roles_leave_it_needs_nothing(spec):
    reasons, warnings, _report = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == []
    assert warnings == ["[check1] m1"]


def test_the_version_read_by_the_host_checks_is_not_read_again(spec):
    client = FakeClient()
    hostbase.check(FakeModule(), spec, client)
    assert client.assumed == "0.0.111"
    other = FakeClient(openshell_path="/opt/openshell/bin/openshell")  # the agents read another executable
    hostbase.check(FakeModule(), spec, other)
    assert other.assumed is None


def test_a_failing_host_check_sends_the_host_to_the_roles(spec):
    spec["_state"]["report"] = _report("pass", "fail")
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == ["host checks failing: check1"]


def test_another_openshell_version_sends_the_host_to_the_roles(spec):
    spec["_state"]["measured"]["openshell"]["stdout"] = "openshell 0.0.110\n"
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == ["OpenShell 0.0.110 is installed, 0.0.111 is pinned"]


def test_a_changed_gateway_file_sends_the_host_to_the_roles(spec):
    (spec["_conf"] / "gateway.toml").write_text("[openshell]\nedited = true\n")
    (spec["_conf"] / "gateway.env").write_text("A=1\n")
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == ["gateway files differ: %s/gateway.toml, %s/gateway.env" % (spec["_conf"], spec["_conf"])]
    assert (spec["_conf"] / "gateway.env").exists()  # compared only


def test_a_changed_file_mode_sends_the_host_to_the_roles(spec):
    os.chmod(str(spec["_conf"] / "gateway.toml"), 0o644)
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == ["gateway files differ: %s/gateway.toml" % spec["_conf"]]


def test_the_systemd_user_supervisor_sends_the_host_to_the_roles(spec):
    spec["openshell"]["supervisor"] = "systemd_user"
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == ["the gateway's systemd_user supervisor is checked by the openshell role"]


@pytest.fixture
def process_host(spec, tmp_path):
    """``spec`` with the process supervisor, its gateway executable found, a live process whose program is
    openshell-gateway (``_gateway``) whose pid nothing has written yet, and one that only names it (``_other``)."""
    state = tmp_path / "gwstate"
    state.mkdir()
    spec["openshell"].update(supervisor="process", state_dir=str(state))
    spec["_state"]["measured"] = {"openshell": dict(spec["_state"]["measured"]["openshell"],
                                                    gateway={"path": "/usr/bin/openshell-gateway", "executable": True})}
    program = tmp_path / "bin" / "openshell-gateway"
    program.parent.mkdir()
    program.symlink_to(sys.executable)
    gateway = subprocess.Popen([str(program), "-c", "import time; time.sleep(60)", "--config", "x"])
    # A reused pid whose command line merely mentions the gateway (less openshell-gateway.log) is none.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "openshell-gateway.log"])
    spec["_gateway"], spec["_other"], spec["_pidfile"] = gateway, other, state / "gateway.pid"
    yield spec
    for proc in (gateway, other):
        proc.kill()
        proc.wait()


def test_a_running_gateway_process_needs_nothing(process_host):
    process_host["_pidfile"].write_text("%d\n" % process_host["_gateway"].pid)
    reasons, _w, _r = hostbase.check(FakeModule(), process_host, FakeClient())
    assert reasons == []


@pytest.mark.parametrize("pidfile_text,expected", [
    (None, "no gateway process runs from {pidfile}"),                      # never started
    ("", "no gateway process runs from {pidfile}"),
    ("0\n", "no gateway process runs from {pidfile}"),
    ("{other}\n", "no gateway process runs from {pidfile}"),               # a live process, not a gateway
    ("{dead}\n", "no gateway process runs from {pidfile}"),                # the gateway died
])
def test_a_gateway_process_not_running_sends_the_host_to_the_roles(process_host, pidfile_text, expected):
    dead = subprocess.Popen([sys.executable, "-c", "pass", "openshell-gateway"])
    dead.wait()
    if pidfile_text is not None:
        process_host["_pidfile"].write_text(pidfile_text.format(other=process_host["_other"].pid, dead=dead.pid))
    reasons, _w, _r = hostbase.check(FakeModule(), process_host, FakeClient())
    assert reasons == [expected.format(pidfile=process_host["_pidfile"])]


def test_a_missing_gateway_executable_or_tls_bundle_sends_the_host_to_the_roles(process_host):
    process_host["_pidfile"].write_text("%d\n" % process_host["_gateway"].pid)
    process_host["_state"]["measured"]["openshell"]["gateway"]["executable"] = False
    process_host["openshell"]["gateway_local_tls"] = True
    reasons, _w, _r = hostbase.check(FakeModule(), process_host, FakeClient())
    assert reasons == ["the gateway executable /usr/bin/openshell-gateway is missing",
                       "the gateway's local TLS bundle %s/tls/ca.crt is missing" % process_host["openshell"]["state_dir"]]


def test_the_process_checks_follow_the_role_and_its_gatewayctl():
    """The pidfile, TLS bundle and command lines the quick path looks for are the role's."""
    with open(os.path.join(ROOT, "roles/openshell/vars/main.yml")) as fh:
        role_vars = fh.read()
    assert "openshell_state_dir ~ '/%s'" % hostbase.PROCESS_PIDFILE in role_vars
    process = _load("roles/openshell/tasks/service_process.yml")
    tls = _task(process, "Generate the local TLS bundle for the process supervisor")
    assert tls["ansible.builtin.command"]["creates"] == "{{ openshell_state_dir }}/%s" % hostbase.PROCESS_TLS_CA
    with open(os.path.join(ROOT, "roles/openshell/files/openshell-gatewayctl")) as fh:
        ctl = fh.read()
    assert "    %s) return 0 ;;" % hostbase.GATEWAY_PROGRAM in ctl and "grep -q '%s'" % hostbase.SIM_GATEWAY_CODE in ctl
    with open(os.path.join(ROOT, "tests/simulator/bin/openshell-gateway")) as fh:
        assert hostbase.SIM_GATEWAY_CODE in fh.read()


def test_role_variable_problems_send_the_host_to_the_roles(spec):
    spec["openshell"]["problems"] = ["openshell_gateway_port must be 1-65535 (got 0)."]
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == ["openshell: openshell_gateway_port must be 1-65535 (got 0)."]


@pytest.mark.parametrize("client,reason", [
    (FakeClient(gateways=[]), "gateway openshell registration differs: absent"),
    (FakeClient(status="disconnected"), "gateway openshell is disconnected"),
    (FakeClient(error="connection refused"), "gateway openshell: connection refused"),
])
def test_the_gateway_registration_and_status_are_checked(spec, client, reason):
    reasons, _w, _r = hostbase.check(FakeModule(), spec, client)
    assert reasons == [reason]


def test_gpu_checks_are_judged_with_the_gpu_role_options(spec):
    spec["gpu"]["required_count"] = 1
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert len(reasons) == 1 and reasons[0].startswith("GPU checks")


def test_gpu_facts_gathered_otherwise_are_left_to_the_gpu_role(spec):
    spec["gpu"]["nvidia_smi_path"] = "/opt/nvidia-smi"
    reasons, _w, _r = hostbase.check(FakeModule(), spec, FakeClient())
    assert reasons == ["the GPU facts are gathered by the gpu role itself"]
