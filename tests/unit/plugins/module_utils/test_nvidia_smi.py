# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nvidia-smi parsers on every real capture in ../shared/fixtures/nvidia-smi, and the GPU checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import nvidia_smi as smi

SHARED = Path(__file__).resolve().parents[4].parent / "shared" / "fixtures" / "nvidia-smi"
# The captures are part of ../shared, which every checkout has beside it: missing ones fail, never skip.
needs_shared = pytest.mark.usefixtures("shared_captures")


@pytest.fixture
def shared_captures():
    assert SHARED.is_dir(), "nvidia-smi captures not found at %s (../shared beside the checkout)" % SHARED


PARSERS = {"csv": smi.parse_query_csv, "xml": smi.parse_xml, "plain": smi.parse_plain,
           "query-text": smi.parse_query_text, "list": smi.parse_list}

# file -> (driver, cuda, count, first GPU name, memory MiB of GPU 0, MIG-enabled indexes, persistence of GPU 0)
EXPECTED = {
    "csv/tesla-p100-pcie-16gb_query-gpu_csv-with-header-and-units.csv":
        (None, None, 1, "Tesla P100-PCIE-16GB", None, [], None),
    "xml/a100-sxm4-80gb-mig-enabled_driver-535.54.03_attached4-trimmed-to-1.xml":
        ("535.54.03", "12.2", 1, "NVIDIA A100-SXM4-80GB", 81920, [0], False),
    "xml/a10g_driver-515.105.01.xml": ("515.105.01", "11.7", 1, "NVIDIA A10G", 23028, [], False),
    "xml/geforce-rtx-3090_driver-525.147.05.xml": ("525.147.05", "12.0", 1, "NVIDIA GeForce RTX 3090", 24576, [], True),
    "xml/rtx-4000-sff-ada_driver-595.84_dtd-v13.xml":
        ("595.84", "13.2", 1, "NVIDIA RTX 4000 SFF Ada Generation", 20475, [], True),
    "xml/tesla-t4_driver-515.105.01.xml": ("515.105.01", "11.7", 1, "Tesla T4", 15360, [], False),
    "plain/h100-sxm-80gb-x8_driver-565.57.01.txt": ("565.57.01", "12.7", 8, "NVIDIA H100 80GB HBM3", 81559, [], True),
    "plain/a100-sxm4-x4_driver-555.42.02.txt": ("555.42.02", "12.5", 4, "NVIDIA A100-SXM4-80GB", 81920, [], True),
    "plain/geforce-rtx-3090-x2_driver-560.35.03.txt": ("560.35.03", "12.6", 2, "NVIDIA GeForce RTX 3090", 24576, [], True),
    "plain/geforce-rtx-4090-x8_driver-550.127.05.txt":
        ("550.127.05", "12.4", 8, "NVIDIA GeForce RTX 4090", 24564, [], True),
    "query-text/h100-sxm-80gb-x8_driver-565.57.01_q.txt":
        ("565.57.01", "12.7", 8, "NVIDIA H100 80GB HBM3", 81559, [], True),
    "query-text/a100-sxm4-x4_driver-555.42.02_q.txt": ("555.42.02", "12.5", 4, "NVIDIA A100-SXM4-80GB", 81920, [], True),
    "list/h100-80gb-hbm3-x8_mig-1g.10gb-x7-per-gpu_L.txt":
        (None, None, 8, "NVIDIA H100 80GB HBM3", None, list(range(8)), None),
}
ERRORS = {"errors/driver-not-loaded.txt": (9, "driver_not_loaded")}


def _read(rel):
    return (SHARED / rel).read_text()


@needs_shared
def test_every_capture_is_covered():
    present = set(str(p.relative_to(SHARED)) for p in SHARED.rglob("*") if p.is_file() and p.name != "README.md")
    assert present == set(EXPECTED) | set(ERRORS)


@needs_shared
@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_parse_capture(rel):
    facts = smi.merge(PARSERS[rel.split("/")[0]](_read(rel)))
    driver, cuda, count, name, mem, mig, persistence = EXPECTED[rel]
    assert (facts["driver_version"], facts["cuda_version"], facts["count"]) == (driver, cuda, count)
    gpu = facts["gpus"][0]
    assert (gpu["name"], gpu["memory_total_mib"], gpu["persistence_mode"]) == (name, mem, persistence)
    assert facts["mig_enabled"] == mig
    assert [g["index"] for g in facts["gpus"]] == list(range(count))


@needs_shared
def test_xml_counts_gpu_elements_not_attached_gpus():
    facts = smi.parse_xml(_read("xml/a100-sxm4-80gb-mig-enabled_driver-535.54.03_attached4-trimmed-to-1.xml"))
    assert facts["attached_gpus"] == 4 and len(facts["gpus"]) == 1
    gpu = facts["gpus"][0]
    assert gpu["mig_devices"] == 4 and gpu["mig_pending"] == "Enabled" and gpu["uuid"].startswith("GPU-513536b6")
    assert gpu["pci_bus_id"] == "00000000:01:00.0" and gpu["architecture"] == "Ampere"


@needs_shared
def test_xml_non_mig_gpu_has_no_mig_device_count():
    gpu = smi.parse_xml(_read("xml/tesla-t4_driver-515.105.01.xml"))["gpus"][0]
    assert gpu["mig_mode"] is None and gpu["mig_devices"] is None and gpu["mig_enabled"] is False


@needs_shared
def test_query_text_fabric_and_uuids():
    facts = smi.parse_query_text(_read("query-text/h100-sxm-80gb-x8_driver-565.57.01_q.txt"))
    assert facts["attached_gpus"] == 8
    assert all(g["fabric_state"] == "Completed" and g["fabric_status"] == "Success" for g in facts["gpus"])
    assert len(set(g["uuid"] for g in facts["gpus"])) == 8
    a100 = smi.parse_query_text(_read("query-text/a100-sxm4-x4_driver-555.42.02_q.txt"))
    assert a100["gpus"][0]["mig_mode"] == "Disabled" and a100["gpus"][0]["minor_number"] == 3


@needs_shared
def test_plain_consumer_cards_have_no_mig():
    facts = smi.parse_plain(_read("plain/geforce-rtx-4090-x8_driver-550.127.05.txt"))
    assert all(g["mig_mode"] is None for g in facts["gpus"])
    h100 = smi.parse_plain(_read("plain/h100-sxm-80gb-x8_driver-565.57.01.txt"))
    assert [g["mig_mode"] for g in h100["gpus"]] == ["Disabled"] * 8 and h100["gpus"][7]["pci_bus_id"] == "00000000:DB:00.0"


def _plain_edit(rel, *edits):
    """A real plain table with ``(old, new[, count])`` text replacements; each must apply."""
    text = _read(rel)
    for edit in edits:
        old, new = edit[0], edit[1]
        assert old in text, old
        text = text.replace(old, new, *edit[2:])
    return text


H100_PLAIN = "plain/h100-sxm-80gb-x8_driver-565.57.01.txt"
RTX3090_PLAIN = "plain/geforce-rtx-3090-x2_driver-560.35.03.txt"


@needs_shared
@pytest.mark.parametrize("mode", ["WDDM", "TCC", "MCDM", "N/A"])
def test_plain_persistence_column_without_on_off_keeps_every_gpu(mode):
    # Windows prints the driver model in that column, Jetson N/A: persistence is unknown, the GPU is there.
    text = _plain_edit(RTX3090_PLAIN, ("GPU  Name                 Persistence-M", "GPU  Name                  TCC/WDDM    "),
                       ("NVIDIA GeForce RTX 3090        On  |", "NVIDIA GeForce RTX 3090      %4s  |" % mode))
    facts = smi.parse_plain(text)
    assert [g["index"] for g in facts["gpus"]] == [0, 1]
    assert [g["persistence_mode"] for g in facts["gpus"]] == [None, None]
    assert facts["gpus"][1]["pci_bus_id"] == "00000000:81:00.0" and facts["gpus"][1]["memory_total_mib"] == 24576


@needs_shared
def test_plain_jetson_row_with_unknown_bus_and_memory():
    text = _plain_edit(RTX3090_PLAIN,
                       ("NVIDIA GeForce RTX 3090        On  |   00000000:41:00.0 Off |",
                        "Orin (nvgpu)                  N/A  | N/A              N/A   |"),
                       ("|       2MiB /  24576MiB |", "| Not Supported          |", 1))
    gpu = smi.parse_plain(text)["gpus"][0]
    assert (gpu["name"], gpu["pci_bus_id"], gpu["memory_total_mib"], gpu["persistence_mode"]) == \
        ("Orin (nvgpu)", None, None, None)


@needs_shared
@pytest.mark.parametrize("cell,current,pending", [
    ("Enabled*", "Disabled", "Enabled"),   # nvidia-smi -mig 1, GPU not yet reset
    ("Disabled*", "Enabled", "Disabled"),  # nvidia-smi -mig 0, GPU not yet reset
    ("Enabled", "Enabled", "Enabled"),
])
def test_plain_pending_mig_mode(cell, current, pending):
    text = _plain_edit(H100_PLAIN, ("|             Disabled |", "|%21s |" % cell, 1))
    facts = smi.merge(smi.parse_plain(text))
    assert facts["count"] == 8
    gpu = facts["gpus"][0]
    assert (gpu["mig_mode"], gpu["mig_pending"], gpu["mig_enabled"]) == (current, pending, current == "Enabled")
    assert [g["mig_mode"] for g in facts["gpus"][1:]] == ["Disabled"] * 7


@needs_shared
def test_plain_cuda_version_err_is_unknown():
    text = _plain_edit(H100_PLAIN, ("CUDA Version: 12.7  ", "CUDA Version: ERR!  "))
    facts = smi.parse_plain(text)
    assert facts["driver_version"] == "565.57.01" and facts["cuda_version"] is None and len(facts["gpus"]) == 8


def test_plain_older_layout_without_mig_row_and_cuda_version():
    text = (
        "+-----------------------------------------------------------------------------+\n"
        "| NVIDIA-SMI 384.130                Driver Version: 384.130                   |\n"
        "|-------------------------------+----------------------+----------------------+\n"
        "| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |\n"
        "| Fan  Temp  Perf  Pwr:Usage/Cap|         Memory-Usage | GPU-Util  Compute M. |\n"
        "|===============================+======================+======================|\n"
        "|   0  Tesla K80           Off  | 0000:00:1E.0     Off |                    0 |\n"
        "| N/A   45C    P0    72W / 149W |      0MiB / 11439MiB |    100%      Default |\n"
        "+-------------------------------+----------------------+----------------------+\n")
    facts = smi.parse_plain(text)
    assert facts["cuda_version"] is None and facts["driver_version"] == "384.130"
    gpu = facts["gpus"][0]
    assert (gpu["name"], gpu["memory_total_mib"], gpu["mig_mode"], gpu["persistence_mode"]) == ("Tesla K80", 11439, None, False)


@needs_shared
@pytest.mark.parametrize("old,new,line", [
    # the Persistence-M value lost: the last word of the name is no persistence mode
    ("|   3  NVIDIA H100 80GB HBM3          On  |", "|   3  NVIDIA H100 80GB HBM3              |", 20),
    # the index lost
    ("|   5  NVIDIA H100 80GB HBM3          On  |", "|      NVIDIA H100 80GB HBM3          On  |", 28),
    # the Bus-Id cell cut
    ("|   6  NVIDIA H100 80GB HBM3          On  |   00000000:BA:00.0 Off |",
     "|   6  NVIDIA H100 80GB HBM3          On  |                        |", 32),
])
def test_plain_mangled_gpu_row_raises_naming_the_line(old, new, line):
    text = _plain_edit(H100_PLAIN, (old, new))
    with pytest.raises(smi.ParseError) as exc:
        smi.parse_plain(text)
    assert "line %d " % line in str(exc.value)


@needs_shared
def test_plain_gpu_block_without_its_first_line_raises():
    lines = _read(H100_PLAIN).splitlines(True)
    del lines[7]  # GPU 0's first line: its memory and MIG lines are left alone
    with pytest.raises(smi.ParseError) as exc:
        smi.parse_plain("".join(lines))
    assert "line 8 is not a GPU row" in str(exc.value)


@pytest.mark.parametrize("text", ["", "No devices were found\n", "| NVIDIA-SMI 1  Driver Version: 1 |\n"])
def test_plain_bad(text):
    with pytest.raises(smi.ParseError):
        smi.parse_plain(text)


@needs_shared
def test_list_mig_profiles():
    gpu = smi.parse_list(_read("list/h100-80gb-hbm3-x8_mig-1g.10gb-x7-per-gpu_L.txt"))["gpus"][0]
    assert gpu["mig_devices"] == 7 and set(p["profile"] for p in gpu["mig_profiles"]) == {"1g.10gb"}


@needs_shared
def test_merge_prefers_first_and_fills_gaps():
    xml = smi.parse_xml(_read("xml/rtx-4000-sff-ada_driver-595.84_dtd-v13.xml"))
    csv = smi.parse_query_csv(
        "index, name, uuid, memory.total [MiB], driver_version\n"
        "0, NVIDIA RTX 4000 SFF Ada Generation, GPU-37037c3f-65c8-ec4d-24a9-420204ad8026, 20475, 595.84\n")
    merged = smi.merge(csv, xml)
    assert merged["count"] == 1 and merged["cuda_version"] == "13.2" and merged["sources"] == ["csv", "xml"]
    assert merged["gpus"][0]["architecture"] == "Ada Lovelace"


@needs_shared
@pytest.mark.parametrize("rel", sorted(ERRORS))
def test_error_captures(rel):
    rc, kind = ERRORS[rel]
    problem = smi.driver_problem(rc, _read(rel), "")
    assert problem["kind"] == kind and problem["rc"] == rc and "NVIDIA driver" in problem["message"]
    # The text alone is enough, whatever the exit code.
    assert smi.driver_problem(1, "", _read(rel))["kind"] == kind


# ------------------------------------------------------------------- our own small inputs

def test_csv_noheader_uses_query_fields_and_unknowns_are_none():
    text = "0, NVIDIA GB10, GPU-a1b2, 0000000F:01:00.0, [N/A], Enabled, [N/A], [N/A], 580.126.09\n"
    facts = smi.parse_query_csv(text)
    gpu = facts["gpus"][0]
    assert facts["driver_version"] == "580.126.09" and gpu["memory_total_mib"] is None and gpu["mig_mode"] is None
    assert gpu["persistence_mode"] is True


def test_csv_with_units_in_values():
    facts = smi.parse_query_csv("name, memory.total [MiB]\nNVIDIA H100 80GB HBM3, 81559 MiB\n")
    assert facts["gpus"][0]["memory_total_mib"] == 81559


@pytest.mark.parametrize("text", ["", "a, b\n1, 2, 3\n"])
def test_csv_bad(text):
    with pytest.raises(smi.ParseError):
        smi.parse_query_csv(text)


@pytest.mark.parametrize("text", ["", "<html/>", "<nvidia_smi_log>"])
def test_xml_bad(text):
    with pytest.raises(smi.ParseError):
        smi.parse_xml(text)


def test_xml_does_not_resolve_entities():
    text = ('<?xml version="1.0"?><!DOCTYPE nvidia_smi_log SYSTEM "http://example.invalid/x.dtd">'
            '<nvidia_smi_log><driver_version>1.2</driver_version></nvidia_smi_log>')
    assert smi.parse_xml(text)["driver_version"] == "1.2"


@pytest.mark.parametrize("rc,out,found,kind", [
    (None, "", False, "not_installed"),
    (127, "", True, "not_installed"),
    (6, "No devices were found\n", True, "no_devices"),
    (6, "Failed to initialize NVML: No supported GPUs were found\n", True, "no_devices"),
    (9, "Failed to initialize NVML: No supported GPUs were found\n", True, "no_devices"),
    (9, "No supported GPUs were found\n", True, "no_devices"),
    (1, "NVIDIA-SMI has failed because no supported GPUs were found.", True, "no_devices"),
    (9, "Failed to initialize NVML: Driver/library version mismatch", True, "driver_not_loaded"),
    (12, "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system.", True, "nvml_not_found"),
    (15, "Unable to determine the device handle for GPU0000:3B:00.0: GPU is lost.", True, "gpu_lost"),
    (3, "something else", True, "error"),
    (0, "ok", True, None),
])
def test_driver_problem_kinds(rc, out, found, kind):
    problem = smi.driver_problem(rc, out, "", found=found)
    assert (problem or {}).get("kind") == kind
    # stderr is read the same way
    assert (smi.driver_problem(rc, "", out, found=found) or {}).get("kind") == kind


def test_no_supported_gpus_is_no_devices_and_a_gpu_less_host():
    problem = smi.driver_problem(9, "", "Failed to initialize NVML: No supported GPUs were found\n")
    assert problem["message"] == "the NVIDIA driver answered but found no supported GPU"
    assert problem["detail"] == "Failed to initialize NVML: No supported GPUs were found"
    checks = smi.gpu_checks(_facts(count=0, problem=problem, toolkit=False))
    assert _st(checks) == ["pass"] * 5
    assert _st(smi.gpu_checks(_facts(count=0, problem=problem, toolkit=False), required_count=1))[:2] == ["pass", "fail"]


@pytest.mark.parametrize("have,want,ok", [
    ("535.54.03", "535", True), ("515.105.01", "535.0", False), ("580.126.09", "580.126.09", True),
    ("595.84", "595.100", False), ("x", "1", None),
])
def test_version_ge(have, want, ok):
    assert smi.version_ge(have, want) is ok


def _facts(count=1, mig=(), problem=None, driver="570.1", toolkit=True, cdi=False):
    gpus = [smi.new_gpu(index=i, name="G", mig_mode="Enabled" if i in mig else "Disabled") for i in range(count)]
    facts = smi.merge({"driver_version": driver, "gpus": gpus, "sources": ["csv"]}) if not problem else smi.merge()
    facts["problem"] = problem
    facts["container_toolkit"] = {"present": toolkit}
    facts["cdi"] = {"present": cdi}
    return facts


def _st(checks):
    return [c["status"] for c in checks]


def test_checks_pass_warn_fail():
    ids = ["gpu.driver", "gpu.count", "gpu.driver_version", "gpu.mig", "gpu.container_toolkit"]
    ok = smi.gpu_checks(_facts(), required_count=1, min_driver_version="550")
    assert [c["id"] for c in ok] == ids and _st(ok) == ["pass"] * 5
    mig = smi.gpu_checks(_facts(count=2, mig=(1,)), required_count=2)
    assert _st(mig) == ["pass", "pass", "pass", "warn", "pass"] and mig[3]["value"] == [1]
    assert _st(smi.gpu_checks(_facts(mig=(0,)), allow_mig=False))[3] == "fail"
    old = smi.gpu_checks(_facts(driver="515.1"), required_count=1, min_driver_version="535")
    assert _st(old)[2] == "fail" and old[2]["threshold"] == "535"
    assert _st(smi.gpu_checks(_facts(driver="515.1"), min_driver_version="535"))[2] == "warn"


def test_checks_without_driver():
    gone = {"kind": "not_installed", "message": "nvidia-smi is not installed"}
    assert _st(smi.gpu_checks(_facts(problem=gone, toolkit=False), min_driver_version="535")) == ["pass"] * 5
    failed = smi.gpu_checks(_facts(problem=gone, toolkit=False), required_count=1, min_driver_version="535")
    assert _st(failed) == ["fail", "fail", "fail", "pass", "fail"]
    dead = {"kind": "driver_not_loaded", "message": "driver not loaded"}
    assert _st(smi.gpu_checks(_facts(problem=dead, toolkit=False)))[0] == "warn"
    none = {"kind": "no_devices", "message": "no GPU"}
    assert _st(smi.gpu_checks(_facts(count=0, problem=none, toolkit=False), required_count=1))[:2] == ["pass", "fail"]


def test_toolkit_rules():
    assert _st(smi.gpu_checks(_facts(toolkit=False, cdi=True), required_count=1))[4] == "pass"
    assert _st(smi.gpu_checks(_facts(toolkit=False)))[4] == "warn"
    assert _st(smi.gpu_checks(_facts(toolkit=False), require_container_toolkit=True))[4] == "fail"
    assert _st(smi.gpu_checks(_facts(count=0, toolkit=False)))[4] == "pass"


def test_report_shape():
    rep = smi.report(smi.gpu_checks(_facts(mig=(0,)), allow_mig=False))
    assert rep["failed"] == ["gpu.mig"] and rep["warnings"] == [] and rep["passed"] is False


def test_dgx_release():
    text = 'DGX_NAME="DGX Server"\nDGX_PRETTY_NAME="NVIDIA DGX Server"\nDGX_SWBUILD_VERSION="6.1.0"\n# c\n'
    dgx = smi.dgx_facts(text)
    assert dgx["present"] and dgx["name"] == "NVIDIA DGX Server" and dgx["version"] == "6.1.0" and not dgx["spark"]
    assert smi.dgx_facts(None, [{"name": "NVIDIA GB10"}])["spark"] is True
    assert smi.cdi_nvidia_kinds('{"cdiVersion": "0.6.0", "kind": "nvidia.com/gpu"}') == "nvidia.com/gpu"
    assert smi.cdi_nvidia_kinds("kind: vendor.com/device") is None


def test_verdict_warnings_and_failure():
    rep = smi.report([smi.check("a", "pass", 1, None, "fine"), smi.check("b", "warn", 2, 3, "low."),
                      smi.check("c", "fail", 0, 1, "none there")])
    warnings, failure = smi.verdict(rep, "Checks", fail_on_error=False)
    assert warnings == ["[b] low."] and failure is None
    assert smi.verdict(rep, "Checks", fail_on_error=True)[1] == "Checks failed: c. [c] none there."
    assert smi.verdict(rep, "Checks", True, fail_on_warning=True)[1] == "Checks failed: b, c. [b] low. [c] none there."
    passing = smi.report([smi.check("a", "pass", 1, None, "fine")])
    assert smi.verdict(passing, "Checks", True, True) == ([], None)
