# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nvidia_gpu_facts run in-process against hostroot fixture trees and a fake nvidia-smi."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ansible.module_utils import basic

from ansible_collections.agentfleet.nemoclaw.plugins.modules import nvidia_gpu_facts

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moduleexit import patch_exits, run_main  # noqa: E402  pylint: disable=wrong-import-position

HOSTROOT = Path(__file__).resolve().parents[2] / "fixtures" / "hostroot"
FAKE = HOSTROOT / "fake-cli"
SHARED = Path(__file__).resolve().parents[4].parent / "shared" / "fixtures" / "nvidia-smi"

# The captures are part of ../shared, which every checkout has beside it: missing ones fail, never skip.
needs_shared = pytest.mark.usefixtures("shared_captures")


@pytest.fixture
def shared_captures():
    assert SHARED.is_dir(), "nvidia-smi captures not found at %s (../shared beside the checkout)" % SHARED


@pytest.fixture(autouse=True)
def _capture(monkeypatch):
    patch_exits(monkeypatch)


def run(monkeypatch, case, **args):
    case_dir = HOSTROOT / case
    monkeypatch.setenv("FAKE_CLI_CASE", str(case_dir / "fake-cli.json"))
    params = {"nvidia_smi_path": str(FAKE), "root": str(case_dir)}
    params.update(args)
    return run_main(nvidia_gpu_facts.main, params)


def statuses(result):
    return dict((c["id"], c["status"]) for c in result["report"]["checks"])


def test_no_driver_passes_when_gpus_optional(monkeypatch):
    out = run(monkeypatch, "gpu-none", nvidia_smi_path="/nonexistent/nvidia-smi")
    assert not out.failed and out.result["changed"] is False
    facts = out.result["ansible_facts"]["nvidia_gpu"]
    assert facts["problem"]["kind"] == "not_installed" and facts["count"] == 0 and facts["driver_answered"] is False
    assert out.result["report"]["passed"] is True
    assert set(statuses(out.result).values()) == {"pass"}
    assert out.result["commands"] == []


def test_no_driver_fails_when_gpus_required(monkeypatch):
    out = run(monkeypatch, "gpu-none", nvidia_smi_path="/nonexistent/nvidia-smi", required_count=1)
    st = statuses(out.result)
    assert not out.failed  # the module reports, the role decides
    assert st["gpu.driver"] == "fail" and st["gpu.count"] == "fail" and st["gpu.container_toolkit"] == "fail"
    assert out.result["report"]["failed"][:2] == ["gpu.driver", "gpu.count"]


@pytest.mark.parametrize("rc", [6, 9])
def test_no_supported_gpus_is_a_gpu_less_host(monkeypatch, tmp_path, rc):
    # "Failed to initialize NVML: No supported GPUs were found": the driver answered, it drives no GPU.
    text = "Failed to initialize NVML: No supported GPUs were found\n"
    case = tmp_path / "fake-cli.json"
    case.write_text(json.dumps({"answers": [{"match": "--format=csv,nounits", "rc": rc, "stdout": text},
                                            {"match": "-x", "rc": rc, "stdout": text}]}))
    monkeypatch.setenv("FAKE_CLI_CASE", str(case))
    out = run_main(nvidia_gpu_facts.main, {"nvidia_smi_path": str(FAKE), "root": str(tmp_path)})
    facts = out.result["ansible_facts"]["nvidia_gpu"]
    assert facts["problem"]["kind"] == "no_devices" and facts["problem"]["rc"] == rc
    assert facts["driver_answered"] is True and facts["count"] == 0
    assert [c["rc"] for c in out.result["commands"]] == [rc]  # no XML call after it
    assert statuses(out.result) == dict.fromkeys(
        ("gpu.driver", "gpu.count", "gpu.driver_version", "gpu.mig", "gpu.container_toolkit"), "pass")
    assert not out.failed and out.result["report"]["passed"] is True
    req = run_main(nvidia_gpu_facts.main, {"nvidia_smi_path": str(FAKE), "root": str(tmp_path), "required_count": 1,
                                           "fail_on_error": True})
    assert req.failed and req.result["report"]["failed"] == ["gpu.count", "gpu.container_toolkit"]
    assert statuses(req.result)["gpu.driver"] == "pass"
    assert "0 GPU(s) found, 1 required" in req.result["msg"]


@needs_shared
def test_driver_not_loaded_is_a_clear_problem(monkeypatch):
    out = run(monkeypatch, "gpu-driver-not-loaded")
    facts = out.result["ansible_facts"]["nvidia_gpu"]
    assert facts["problem"]["kind"] == "driver_not_loaded" and facts["problem"]["rc"] == 9
    assert statuses(out.result)["gpu.driver"] == "warn" and out.result["report"]["passed"] is True
    assert [c["rc"] for c in out.result["commands"]] == [9]  # no second call after a driver failure
    req = run(monkeypatch, "gpu-driver-not-loaded", required_count=2)
    driver = [c for c in req.result["report"]["checks"] if c["id"] == "gpu.driver"][0]
    assert driver["status"] == "fail" and "couldn't communicate with the NVIDIA driver" in driver["message"]
    assert "2 GPU(s) are required" in driver["message"]


@needs_shared
def test_mig_enabled_warns_or_fails(monkeypatch):
    out = run(monkeypatch, "gpu-mig-a100", required_count=1, min_driver_version="535")
    facts = out.result["ansible_facts"]["nvidia_gpu"]
    assert facts["sources"] == ["xml", "csv"] and facts["cuda_version"] == "12.2"
    assert facts["driver_version"] == "535.54.03" and facts["count"] == 1 and facts["mig_enabled"] == [0]
    gpu = facts["gpus"][0]
    assert gpu["mig_devices"] == 4 and gpu["memory_total_mib"] == 81920 and gpu["persistence_mode"] is False
    assert facts["dgx"]["present"] and facts["dgx"]["version"] == "6.1.0" and not facts["dgx"]["spark"]
    assert facts["cdi"] == {"present": True, "specs": ["/etc/cdi/nvidia.yaml"], "kinds": ["nvidia.com/gpu"]}
    assert facts["container_toolkit"]["binaries"] == {"nvidia-ctk": "/usr/bin/nvidia-ctk"}
    st = statuses(out.result)
    assert st == {"gpu.driver": "pass", "gpu.count": "pass", "gpu.driver_version": "pass", "gpu.mig": "warn",
                  "gpu.container_toolkit": "pass"}
    strict = run(monkeypatch, "gpu-mig-a100", required_count=1, allow_mig=False)
    assert strict.result["report"]["failed"] == ["gpu.mig"]


@needs_shared
def test_workstation_passes_and_count_fails_above_what_is_there(monkeypatch):
    out = run(monkeypatch, "gpu-workstation-rtx4000", required_count=1, min_driver_version="570.0")
    facts = out.result["ansible_facts"]["nvidia_gpu"]
    assert facts["gpus"][0]["name"] == "NVIDIA RTX 4000 SFF Ada Generation" and facts["gpus"][0]["mig_mode"] is None
    assert facts["cuda_version"] == "13.2" and not facts["dgx"]["present"]
    assert out.result["report"]["passed"] and not out.result["report"]["warnings"]
    more = run(monkeypatch, "gpu-workstation-rtx4000", required_count=2)
    assert more.result["report"]["failed"] == ["gpu.count"]


@needs_shared
def test_old_driver_xml_fallback_and_version_gate(monkeypatch):
    out = run(monkeypatch, "gpu-t4-old-driver", min_driver_version="535.0")
    facts = out.result["ansible_facts"]["nvidia_gpu"]
    assert facts["problem"] is None and facts["sources"] == ["xml"] and facts["gpus"][0]["name"] == "Tesla T4"
    assert [c["rc"] for c in out.result["commands"]] == [2, 0]
    st = statuses(out.result)
    assert st["gpu.driver_version"] == "warn" and st["gpu.container_toolkit"] == "warn"
    req = run(monkeypatch, "gpu-t4-old-driver", min_driver_version="535.0", required_count=1)
    assert req.result["report"]["failed"] == ["gpu.driver_version", "gpu.container_toolkit"]


def test_spark_unified_memory_and_csv_only(monkeypatch):
    out = run(monkeypatch, "gpu-spark-gb10", required_count=1, min_driver_version="580")
    facts = out.result["ansible_facts"]["nvidia_gpu"]
    assert facts["gpus"][0]["memory_total_mib"] is None and facts["memory_total_mib"] is None
    assert facts["dgx"]["spark"] is True and facts["dgx"]["name"] == "NVIDIA DGX Spark"
    assert facts["sources"] == ["csv"] and "xml_error" in facts and facts["cuda_version"] is None
    assert facts["cdi"]["specs"] == ["/var/run/cdi/nvidia.yaml"]
    assert out.result["report"]["passed"] is True


@needs_shared
def test_real_csv_with_its_own_header(monkeypatch):
    out = run(monkeypatch, "gpu-p100-csv")
    gpu = out.result["ansible_facts"]["nvidia_gpu"]["gpus"][0]
    assert gpu["name"] == "Tesla P100-PCIE-16GB" and gpu["uuid"].startswith("GPU-ef1b2c9b")


@pytest.mark.parametrize("args,field", [
    ({"required_count": -1}, "required_count"),
    ({"min_driver_version": "latest"}, "min_driver_version"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_input_names_the_option(monkeypatch, args, field):
    out = run(monkeypatch, "gpu-none", **args)
    assert out.failed and out.result["field"] == field and field in out.result["msg"]


def test_wrong_type_fails_argument_validation(monkeypatch):
    out = run(monkeypatch, "gpu-none", required_count="many")
    assert out.failed and "required_count" in out.result["msg"]


def test_check_mode_same_result(monkeypatch):
    out = run(monkeypatch, "gpu-spark-gb10", _ansible_check_mode=True)
    assert out.result["changed"] is False and out.result["ansible_facts"]["nvidia_gpu"]["count"] == 1


def test_fixture_trees_are_plain_files():
    json.loads((HOSTROOT / "gpu-mig-a100" / "fake-cli.json").read_text())
    assert not [p for p in HOSTROOT.rglob("*") if p.is_symlink()]


# ------------------------------------------------------------------ gathered by the preflight, judged on the controller
@pytest.mark.parametrize("case", ["gpu-mig-a100", "gpu-none", "gpu-spark-gb10"])
def test_the_preflight_gathers_the_same_facts_and_the_judgement_matches(monkeypatch, case):
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu  # pylint: disable=import-outside-toplevel
    from ansible_collections.agentfleet.nemoclaw.plugins.modules import nemoclaw_preflight  # pylint: disable=import-outside-toplevel
    options = {"required_count": 1, "allow_mig": False, "min_driver_version": "550.0"}
    alone = run(monkeypatch, case, **options)
    case_dir = HOSTROOT / case
    pre = run_main(nemoclaw_preflight.main, {"root": str(case_dir), "compute_driver": "none", "user": "agent",
                                             "gather_facts": [], "gpu": {"nvidia_smi_path": str(FAKE)}})
    gathered = pre.result["gpu"]
    assert gathered["facts"] == alone.result["ansible_facts"]["nvidia_gpu"]
    assert pre.result["ansible_facts"]["nvidia_gpu"] == gathered["facts"]
    assert gathered["commands"] == alone.result["commands"]
    assert gathered["inputs"] == {"nvidia_smi_path": str(FAKE), "root": str(case_dir),
                                  "cdi_spec_dirs": ["/etc/cdi", "/var/run/cdi"]}
    # What the action plugin returns for `gathered`: the module's very report.
    assert gpu.same_inputs(gathered, {"nvidia_smi_path": str(FAKE), "root": str(case_dir) + "/",
                                      "cdi_spec_dirs": ["/etc/cdi", "/var/run/cdi"]})
    assert gpu.judge(gathered["facts"], options) == alone.result["report"]


def test_facts_gathered_with_other_inputs_are_not_taken():
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu  # pylint: disable=import-outside-toplevel
    gathered = {"facts": {"gpus": []}, "commands": [],
                "inputs": {"nvidia_smi_path": "nvidia-smi", "root": "/", "cdi_spec_dirs": ["/etc/cdi"]}}
    same = {"nvidia_smi_path": "nvidia-smi", "root": "/", "cdi_spec_dirs": ["/etc/cdi"]}
    assert gpu.same_inputs(gathered, same)
    for key, other in (("nvidia_smi_path", "/opt/bin/nvidia-smi"), ("root", "/mnt/image"),
                       ("cdi_spec_dirs", ["/etc/cdi", "/var/run/cdi"])):
        assert not gpu.same_inputs(gathered, dict(same, **{key: other})), key
    assert not gpu.same_inputs(dict(gathered, facts=None), same)
    assert not gpu.same_inputs({}, same)


def test_check_options_name_the_field():
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu  # pylint: disable=import-outside-toplevel
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError  # pylint: disable=import-outside-toplevel
    for params, field in (({"required_count": -1}, "required_count"), ({"min_driver_version": "new"}, "min_driver_version"),
                          ({"timeout": 0}, "timeout")):
        with pytest.raises(InputError) as exc:
            gpu.check_options(params)
        assert exc.value.field == field


def test_the_preflight_refuses_a_gpu_timeout_below_one_second_before_measuring(monkeypatch):
    from ansible_collections.agentfleet.nemoclaw.plugins.modules import nemoclaw_preflight  # pylint: disable=import-outside-toplevel
    out = run_main(nemoclaw_preflight.main, {"root": str(HOSTROOT / "gpu-none"), "compute_driver": "none",
                                             "user": "agent", "gpu": {"nvidia_smi_path": str(FAKE), "timeout": 0}})
    assert out.failed and out.result["field"] == "gpu.timeout" and "positive" in out.result["msg"]
    assert "gpu" not in out.result and "measured" not in out.result


@needs_shared
def test_warning_checks_are_task_warnings_and_failing_ones_fail_when_asked(monkeypatch):
    from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gpu  # pylint: disable=import-outside-toplevel
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warned.append(text))
    out = run(monkeypatch, "gpu-mig-a100", required_count=1, fail_on_error=True)
    assert not out.failed and len(warned) == 1 and warned[0].startswith("[gpu.mig] ")
    strict = run(monkeypatch, "gpu-mig-a100", required_count=1, allow_mig=False, fail_on_error=True)
    assert strict.failed and strict.result["msg"].startswith("GPU checks failed: gpu.mig. [gpu.mig] ")
    assert strict.result["report"]["failed"] == ["gpu.mig"] and strict.result["ansible_facts"]["nvidia_gpu"]["count"] == 1
    assert not run(monkeypatch, "gpu-mig-a100", required_count=1, allow_mig=False).failed
    # the action plugin judges gathered facts with the same verdict
    assert gpu.verdict(strict.result["report"], {"fail_on_error": True})[1] == strict.result["msg"]
