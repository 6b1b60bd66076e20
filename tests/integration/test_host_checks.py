# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The preflight and gpu roles, run by ansible-playbook on localhost against fixture trees.

One inventory of local "hosts", one per case (pass, warn, fail; no NVIDIA driver, driver not
loaded, MIG enabled, ...), two runs: a normal one and a --check one on a few of them (which must
predict no change: idempotence and check-mode safety at once). Host files come from tests/unit/fixtures/hostroot/<case>
(the roles' *_root variables) and nvidia-smi/docker are the fake-cli test double, so this
machine needs neither GPU nor Docker; the only thing written is each host's report file.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HOSTROOT = os.path.join(ROOT, "tests", "unit", "fixtures", "hostroot")
FAKE = os.path.join(HOSTROOT, "fake-cli")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "nvidia-smi")

PREFLIGHT = {
    "pf_pass": ("preflight-pass", {"preflight_supervisor": "systemd-user", "preflight_dns_hosts": ["localhost"]}),
    "pf_warn": ("preflight-warn", {"preflight_dns_hosts": ["http://localhost:8000/v1"]}),
    "pf_fail": ("preflight-fail", {"preflight_supervisor": "systemd-user",
                                   "preflight_dns_hosts": ["https://nonexistent.invalid/v1"]}),
    "pf_bad_type": ("preflight-pass", {"preflight_min_cpus": "four"}),
    "pf_bad_choice": ("preflight-pass", {"preflight_compute_driver": "kubernetes"}),
}
GPU = {
    "gpu_none": ("gpu-none", {"gpu_nvidia_smi_path": "/nonexistent/nvidia-smi"}),
    "gpu_none_required": ("gpu-none", {"gpu_nvidia_smi_path": "/nonexistent/nvidia-smi", "gpu_required": True}),
    "gpu_not_loaded": ("gpu-driver-not-loaded", {"gpu_required_count": 1}),
    "gpu_mig": ("gpu-mig-a100", {"gpu_required": True}),
    "gpu_mig_strict": ("gpu-mig-a100", {"gpu_required": True, "gpu_allow_mig": False}),
    "gpu_workstation": ("gpu-workstation-rtx4000", {"gpu_required_count": 1}),
    "gpu_bad_type": ("gpu-none", {"gpu_required_count": "many"}),
}

PLAYBOOK = """
- name: Preflight cases
  hosts: preflight
  gather_facts: false
  environment:
    FAKE_CLI_CASE: "{{ fake_case }}"
  tasks:
    - name: First preflight
      block:
        - name: Include preflight
          ansible.builtin.include_role:
            name: agentfleet.nemoclaw.preflight
      rescue:
        - name: Note first failure
          ansible.builtin.set_fact:
            first_error: "{{ ansible_failed_result.msg }}"

- name: GPU cases
  hosts: gpu
  gather_facts: false
  environment:
    FAKE_CLI_CASE: "{{ fake_case }}"
  tasks:
    - name: GPU role
      block:
        - name: Include gpu
          ansible.builtin.include_role:
            name: agentfleet.nemoclaw.gpu
      rescue:
        - name: Note first failure
          ansible.builtin.set_fact:
            first_error: "{{ ansible_failed_result.msg }}"
"""


def tree_digest(path):
    h = hashlib.sha256()
    for base, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(base, name)
            st = os.stat(full)
            h.update(("%s %o %d\n" % (os.path.relpath(full, path), st.st_mode, st.st_mtime_ns)).encode())
            with open(full, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


class Run(object):
    def __init__(self, rc, stdout, results):
        self.rc, self.stdout, self.results = rc, stdout, results

    def all(self, host, task=None):
        return [r for r in self.results if r["host"] == host
                and (task is None or r["task"] == task or r["task"].endswith(" : " + task))]

    def last(self, host, task):
        found = self.all(host, task)
        assert found, "no %r on %s; seen %s\n%s" % (task, host, [r["task"] for r in self.all(host)], self.stdout[-3000:])
        return found[-1]

    def facts(self, host, task="Note first failure"):
        found = self.all(host, task)
        return found[-1]["result"].get("ansible_facts", {}) if found else {}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostchecks")
    hosts = {}
    for name, (case, extra) in PREFLIGHT.items():
        hv = {"preflight_root": os.path.join(HOSTROOT, case), "preflight_docker_path": FAKE,
              "preflight_user": "agent", "preflight_report_dir": str(work / "reports" / name),
              "preflight_state_dirs": {"state": str(work / "state" / name)},
              "preflight_min_free_disk_gib": 0, "preflight_recommended_free_disk_gib": 0}
        hv.update(extra)
        hosts[name] = (case, hv, "preflight")
    for name, (case, extra) in GPU.items():
        hv = {"gpu_root": os.path.join(HOSTROOT, case), "gpu_nvidia_smi_path": FAKE}
        hv.update(extra)
        hosts[name] = (case, hv, "gpu")
    inventory = {"all": {"children": {"preflight": {"hosts": {}}, "gpu": {"hosts": {}}}}}
    for name, (case, hv, group) in hosts.items():
        hv = dict(hv, ansible_connection="local", ansible_python_interpreter=sys.executable,
                  fake_case=os.path.join(HOSTROOT, case, "fake-cli.json"))
        inventory["all"]["children"][group]["hosts"][name] = hv
    inv = work / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory))
    playbook = work / "playbook.yml"
    playbook.write_text(PLAYBOOK)

    def run(tag, check=False, limit=None):
        record = work / ("%s.jsonl" % tag)
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv), str(playbook)]
        if check:
            cmd.append("--check")
        if limit:
            cmd += ["--limit", limit]
        env = dict(os.environ)
        env.update({
            "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"),
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "record_results",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
            "ANSIBLE_HOME": str(work / "ansible-home"),
            "RECORD_RESULTS_FILE": str(record),
        })
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=300, check=False)
        results = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        return Run(proc.returncode, proc.stdout, results)

    before = tree_digest(HOSTROOT)
    first = run("apply")
    reports_after_apply = tree_digest(str(work / "reports"))
    checked = run("check", check=True, limit="pf_pass,pf_warn,pf_fail,gpu_mig")
    return {"work": work, "apply": first, "check": checked, "fixtures_before": before,
            "fixtures_after": tree_digest(HOSTROOT), "reports_after_apply": reports_after_apply,
            "reports_after_check": tree_digest(str(work / "reports"))}


def report_of(run, host, task="Measure the host and evaluate the readiness checks"):
    return run.last(host, task)["result"]["report"]


def statuses(report):
    return dict((c["id"], c["status"]) for c in report["checks"])


def test_plays_ran(lab):
    assert lab["apply"].rc == 0, lab["apply"].stdout[-3000:]  # every failure is rescued
    assert lab["check"].rc == 0, lab["check"].stdout[-3000:]


def test_preflight_pass(lab):
    run = lab["apply"]
    rep = report_of(run, "pf_pass")
    assert rep["passed"] and not rep["warnings"] and "systemd.linger" in statuses(rep)
    assert not run.facts("pf_pass")
    saved = json.loads((lab["work"] / "reports" / "pf_pass" / "preflight.json").read_text())
    assert saved == rep
    assert oct(os.stat(str(lab["work"] / "reports" / "pf_pass" / "preflight.json")).st_mode & 0o777) == "0o600"


def test_preflight_warn_passes_with_warnings(lab):
    run = lab["apply"]
    rep = report_of(run, "pf_warn")
    assert rep["passed"] and rep["warnings"] == ["memory.total", "swap", "kernel.landlock", "kernel.cgroup_v2"]
    # the module makes each warning check an Ansible warning of its task, and the task passes
    assert run.last("pf_warn", "Measure the host and evaluate the readiness checks")["status"] == "ok"
    warned = [line for line in run.stdout.splitlines() if "[WARNING]" in line]
    for cid in rep["warnings"]:
        assert any("[%s] " % cid in line for line in warned), (cid, warned)


def test_preflight_fail_lists_failed_checks_after_saving(lab):
    run = lab["apply"]
    msg = run.facts("pf_fail")["first_error"]
    for cid in ("platform.glibc", "cpu.count", "memory.total", "engine.docker", "gateway.port",
                "dns.nonexistent.invalid", "systemd.linger"):
        assert cid in msg
    assert "glibc 2.27 is older than 2.28" in msg
    saved = json.loads((lab["work"] / "reports" / "pf_fail" / "preflight.json").read_text())
    assert saved["passed"] is False and "cpu.count" in saved["failed"]


def test_argument_validation_names_the_variable(lab):
    run = lab["apply"]
    assert "preflight_min_cpus" in run.facts("pf_bad_type")["first_error"]
    msg = run.facts("pf_bad_choice")["first_error"]
    assert "preflight_compute_driver" in msg and "kubernetes" in msg
    assert "gpu_required_count" in run.facts("gpu_bad_type")["first_error"]
    # validation stops the role before the module runs
    assert not run.all("pf_bad_type", "Measure the host and evaluate the readiness checks")


def test_gpu_cases(lab):
    run = lab["apply"]
    task = "Gather NVIDIA GPU facts and evaluate the GPU checks"
    none = run.last("gpu_none", task)["result"]
    assert none["report"]["passed"] and none["ansible_facts"]["nvidia_gpu"]["problem"]["kind"] == "not_installed"
    assert not run.facts("gpu_none")
    assert "gpu.driver" in run.facts("gpu_none_required")["first_error"]
    ws = run.last("gpu_workstation", task)["result"]
    assert ws["report"]["passed"] and not run.facts("gpu_workstation")
    assert ws["ansible_facts"]["nvidia_gpu"]["driver_version"] == "595.84"


def test_gpu_driver_not_loaded_and_mig(lab):
    assert os.path.isdir(SHARED), "nvidia-smi captures not found at %s (../shared beside the checkout)" % SHARED
    run = lab["apply"]
    msg = run.facts("gpu_not_loaded")["first_error"]
    assert "[gpu.driver]" in msg and "couldn't communicate with the NVIDIA driver" in msg
    task = "Gather NVIDIA GPU facts and evaluate the GPU checks"
    mig = run.last("gpu_mig", task)["result"]
    assert mig["report"]["warnings"] == ["gpu.mig"] and mig["report"]["passed"] and not run.facts("gpu_mig")
    assert any("[gpu.mig] " in line for line in run.stdout.splitlines() if "[WARNING]" in line)
    assert "[gpu.mig]" in run.facts("gpu_mig_strict")["first_error"]


def test_nothing_changes_but_the_report(lab):
    run = lab["apply"]
    writes = ("Measure the host and evaluate the readiness checks",)  # nemoclaw_preflight report_path
    changed = sorted(set((r["host"], r["task"].split(" : ")[-1]) for r in run.results if r["result"].get("changed")))
    # the first run creates each report directory and file (the module does), and changes nothing else
    assert changed == sorted((h, t) for h in ("pf_pass", "pf_warn", "pf_fail") for t in writes)
    assert lab["fixtures_before"] == lab["fixtures_after"]
    assert sorted(os.listdir(str(lab["work"] / "reports"))) == ["pf_fail", "pf_pass", "pf_warn"]
    assert not (lab["work"] / "state").exists()


def test_second_run_in_check_mode_changes_nothing(lab):
    """Idempotence and check-mode safety at once: a --check run after the apply run predicts no
    change (the report content is the same: it has no timestamp) and writes nothing."""
    run = lab["check"]
    assert [r["result"]["changed"] for r in run.all("pf_pass", "Measure the host and evaluate the readiness checks")] == [False]
    assert not [r for r in run.results if r["result"].get("changed")]
    assert lab["reports_after_apply"] == lab["reports_after_check"]
    assert report_of(run, "pf_warn")["warnings"] == report_of(lab["apply"], "pf_warn")["warnings"]
