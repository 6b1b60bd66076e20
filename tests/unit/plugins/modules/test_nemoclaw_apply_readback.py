# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""plugin_utils/readback.py + hostreader.py: a check-mode apply compared on the controller reports what the module reports.

Each case is run twice against one simulated host: the ``nemoclaw_apply`` module in check mode (in-process,
as the other module tests) and ``readback.check`` with the host reader run as the process the action runs
(``python -I -c <hostreader.py> <request>``). Their results must be the same, field for field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as bplib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import plan as planlib
from ansible_collections.agentfleet.nemoclaw.plugins.modules import nemoclaw_apply
from ansible_collections.agentfleet.nemoclaw.plugins.plugin_utils import hostreader, readback

ROOT = Path(__file__).resolve().parents[4]
KEY = "nvapi-UNIT-readback-secret-value"
SECRETS = {"NVIDIA_INFERENCE_API_KEY": KEY}
SOURCE = Path(hostreader.__file__).read_text()
# What both report and what may differ: the time taken.
COMPARED = ("failed", "changed", "msg", "summary", "diff", "agents", "providers", "inference", "resumed",
            "openshell_version", "error_kind", "commands")


def load_blueprint(entry):
    return bplib.load_blueprint_dir(entry["blueprint"] or str(ROOT / "blueprints" / entry["agent"]))


def make_plan(*agents):
    return planlib.plan_host([dict({"agent": "openclaw"}, **a) for a in agents], SECRETS, load_blueprint)


class Reader(object):
    """The host reader as the action runs it: a process of the host's Python, the request as its argument."""

    def __init__(self):
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        proc = subprocess.run([sys.executable, "-I", "-c", SOURCE, json.dumps(request)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


def compared(result):
    return dict((k, result.get(k)) for k in COMPARED)


@pytest.fixture
def both(run_module, sim, tmp_path):
    """``both(plan) -> (module result, readback result, reader)``; asserts that the read-back made no mutating call."""
    state_dir = str(tmp_path / "state")

    def run(plan, **options):
        options = dict(options, state_dir=state_dir)
        module = run_module(nemoclaw_apply, dict(options, plan=plan, secrets=SECRETS), check=True)
        module.pop("_sim_calls")
        reader = Reader()
        before = len(sim.calls())
        res = readback.check(plan, SECRETS, options, reader, lambda text: None, diff=True)
        assert [c for c in sim.calls()[before:] if c.get("mutating")] == []
        assert KEY not in json.dumps(res) and KEY not in json.dumps(reader.requests)
        return module, res, reader

    run.converge = lambda plan: run_module(nemoclaw_apply, dict(plan=plan, secrets=SECRETS, state_dir=state_dir))
    run.state_dir = state_dir
    return run


def test_a_fresh_host_reads_as_the_module_reads_it(both):
    plan = make_plan({"name": "assistant"})
    module, res, reader = both(plan)
    assert module["changed"] is True
    assert compared(res) == compared(module)
    assert len(reader.requests) == 1


def test_a_converged_host_is_one_round_and_unchanged(both):
    plan = make_plan({"name": "assistant"}, {"name": "helper", "state": "stopped"})
    assert not both.converge(plan).get("failed")
    module, res, reader = both(plan)
    assert module["changed"] is False and compared(res) == compared(module)
    assert len(reader.requests) == 1, "every call of a converged host is predicted"
    asked = [c["argv"][1:] for c in reader.requests[0]["calls"]]
    assert sorted(asked) == sorted(c["argv"] for c in res["commands"])


def test_drift_names_the_same_fields(both, sim):
    plan = make_plan({"name": "assistant"})
    assert not both.converge(plan).get("failed")
    changed = make_plan({"name": "assistant", "resources": {"memory": "16Gi"}})
    module, res, _reader = both(changed)
    assert module["changed"] is True and res["agents"]["assistant"]["replace"] is True
    assert compared(res) == compared(module)
    assert any("memory" in line for line in res["summary"])


def test_a_failure_is_the_modules_failure(both, sim):
    plan = make_plan({"name": "assistant"})
    sim.set_faults({"down": True})
    module, res, _reader = both(plan)
    assert module["failed"] is True
    assert compared(res) == compared(module)


def test_a_refused_replacement_is_the_modules_refusal(both):
    assert not both.converge(make_plan({"name": "assistant"})).get("failed")
    module, res, _reader = both(make_plan({"name": "assistant", "on_replace": "refuse", "resources": {"memory": "16Gi"}}))
    assert module["failed"] is True and "memory" in module["msg"]
    assert compared(res) == compared(module)


def test_an_unfinished_replacement_is_left_to_the_module(both):
    journal = Path(both.state_dir) / "journal" / "openshell"
    journal.mkdir(parents=True)
    (journal / "assistant.json").write_text("{}")
    with pytest.raises(readback.Fallback, match="unfinished replacement"):
        readback.check(make_plan({"name": "assistant"}), SECRETS, {"state_dir": both.state_dir, "gateway": "openshell"},
                       Reader(), print)


def test_a_retry_is_left_to_the_module(sim, tmp_path):
    sim.set_faults({"unavailable": 1})
    with pytest.raises(readback.Fallback, match="again"):
        readback.check(make_plan({"name": "assistant"}), SECRETS, {"state_dir": str(tmp_path)}, Reader(), print)


def test_a_call_that_is_not_a_read_is_never_asked_for():
    replay = readback.Replay({}, 0)
    for argv in (["openshell", "sandbox", "delete", "x"], ["openshell", "sandbox", "exec", "-n", "x", "--", "id"]):
        with pytest.raises(readback.Fallback, match="not a read"):
            replay.runner(argv, {}, None)
    with pytest.raises(readback.Fallback, match="not a read"):
        replay.runner(["openshell", "sandbox", "get", "x"], {}, "input")


def test_an_unpredicted_call_is_read_in_another_round(both, monkeypatch):
    plan = make_plan({"name": "assistant"})
    assert not both.converge(plan).get("failed")
    monkeypatch.setattr(readback, "predicted_calls", lambda plan, client: [
        {"argv": ["openshell", "--version"], "env": client.base_env()}])
    monkeypatch.setattr(readback, "MAX_ROUNDS", 10)
    module, res, reader = both(plan)
    assert compared(res) == compared(module)
    assert len(reader.requests) == len(res["commands"]) and all(len(r["calls"]) == 1 for r in reader.requests)


def test_more_rounds_than_allowed_are_left_to_the_module(sim, tmp_path, monkeypatch):
    monkeypatch.setattr(readback, "predicted_calls", lambda plan, client: [])
    with pytest.raises(readback.Fallback, match="rounds"):
        readback.check(make_plan({"name": "assistant"}), SECRETS, {"state_dir": str(tmp_path)}, Reader(), print)


@pytest.mark.parametrize("answer, reason", [
    ({"error": "boom"}, "host reader failed"),
    ({"calls": []}, "answered 0 calls"),
    ({"calls": [{"error": "openshell: not found"}]}, "could not be run"),
    ({"calls": [{"rc": "0", "out": "", "err": ""}], "journals": []}, "not one it writes"),
    ({"calls": [{"rc": 0, "out": "", "err": ""}], "journals": None}, "not one it writes"),
    ({"calls": [{"rc": 0, "out": "", "err": ""}], "journals": [], "applied": 3}, "not one it writes"),
])
def test_an_answer_not_as_written_is_left_to_the_module(answer, reason):
    with pytest.raises(readback.Fallback, match=reason):
        readback._checked_answer(answer, [{"argv": ["openshell", "--version"], "env": {}}])


def test_the_host_reader_runs_calls_reads_files_and_lists_journals(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    state = tmp_path / "state"
    (state / "applied").mkdir(parents=True)
    (state / "applied" / "gw.json").write_text('{"agents": {}}')
    (state / "journal" / "gw").mkdir(parents=True)
    (state / "journal" / "gw" / "a.json").write_text("{}")
    (state / "journal" / "gw" / "notes.txt").write_text("")
    (tmp_path / "bad").write_bytes(b"#!/bin/sh\nprintf '\\377'\n")
    os.chmod(str(tmp_path / "bad"), 0o755)
    got = hostreader.answer({"state_dir": "~/state", "gateway": "gw", "calls": [
        {"argv": [sys.executable, "-c", "import os,sys; print(os.environ['X']); sys.exit(3)"], "env": {"X": "from-env"}},
        {"argv": ["~/bad"], "env": {}},
        {"argv": [str(tmp_path / "missing")], "env": {}},
    ]})
    assert got["applied"] == '{"agents": {}}' and got["providers"] is None and got["journals"] == ["a.json"]
    assert got["calls"][0] == {"rc": 3, "out": "from-env\n", "err": ""}
    assert "not UTF-8" in got["calls"][1]["error"] and "missing" in got["calls"][2]["error"]


def test_the_host_reader_refuses_an_oversized_state_file(tmp_path):
    (tmp_path / "providers.json").write_bytes(b" " * (hostreader.MAX_FILE_BYTES + 1))
    assert "larger than" in hostreader.answer({"state_dir": str(tmp_path), "gateway": "gw", "calls": []})["error"]


def test_the_host_reader_as_a_process_answers_a_bad_request():
    proc = subprocess.run([sys.executable, "-I", "-c", SOURCE, "not json"], stdout=subprocess.PIPE, universal_newlines=True,
                          check=False)
    assert proc.returncode == 1 and "request" in json.loads(proc.stdout)["error"]
