# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""nemoclaw_files in-process on a temporary directory: create, no-op, update, chmod, remove, check mode, bad input."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.modules import nemoclaw_files

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moduleexit import patch_exits, run_main  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(autouse=True)
def _capture(monkeypatch):
    patch_exits(monkeypatch)


def run(**args):
    return run_main(nemoclaw_files.main, args)


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            out[full] = (mode(full), open(full).read() if os.path.isfile(full) else None)
    return out


def test_create_then_noop_then_update_chmod_remove(tmp_path):
    cfg, state = tmp_path / "cfg" / "openshell", tmp_path / "state"
    args = {"directories": [{"path": str(cfg)}, {"path": str(state)}],
            "files": [{"path": str(cfg / "gateway.toml"), "content": "[openshell]\nx = 1\n"},
                      {"path": str(cfg / "gateway.env"), "state": "absent"}],
            "_ansible_diff": True}
    out = run(**args)
    assert not out.failed and out.result["changed"]
    assert [d["action"] for d in out.result["directories"]] == ["create", "create"]
    assert [f["action"] for f in out.result["files"]] == ["create", "none"]
    assert out.result["changed_files"] == [str(cfg / "gateway.toml")]
    assert mode(cfg) == 0o700 and mode(state) == 0o700 and mode(cfg / "gateway.toml") == 0o600
    assert (cfg / "gateway.toml").read_text() == "[openshell]\nx = 1\n"
    assert out.result["diff"][-1] == {"before_header": str(cfg / "gateway.toml"), "after_header": str(cfg / "gateway.toml"),
                                      "before": "", "after": "[openshell]\nx = 1\n"}

    before = snapshot(tmp_path)
    out = run(**args)
    assert not out.result["changed"] and "diff" not in out.result and out.result["changed_files"] == []
    assert snapshot(tmp_path) == before

    os.chmod(str(state), 0o755)
    (cfg / "gateway.env").write_text("A=1\n")
    os.chmod(str(cfg / "gateway.toml"), 0o644)
    out = run(**dict(args, _ansible_check_mode=True))
    assert out.result["changed"] and [d["action"] for d in out.result["directories"]] == ["none", "chmod"]
    assert [f["action"] for f in out.result["files"]] == ["chmod", "remove"]
    assert out.result["changed_files"] == [str(cfg / "gateway.env")]
    assert mode(state) == 0o755 and (cfg / "gateway.env").exists(), "check mode changed something"
    out = run(**args)
    assert mode(state) == 0o700 and mode(cfg / "gateway.toml") == 0o600 and not (cfg / "gateway.env").exists()
    assert {"before_header": str(state), "after_header": str(state), "before": "state: directory, mode 0755\n",
            "after": "state: directory, mode 0700\n"} in out.result["diff"]

    args["files"] = [{"path": str(cfg / "gateway.toml"), "content": "[openshell]\nx = 2\n"}]
    out = run(**args)
    assert out.result["files"][0]["action"] == "update" and out.result["changed_files"] == [str(cfg / "gateway.toml")]
    assert (cfg / "gateway.toml").read_text() == "[openshell]\nx = 2\n" and mode(cfg / "gateway.toml") == 0o600
    assert [p for p in os.listdir(str(cfg)) if p.startswith(".")] == [], "a temporary file was left"


def test_check_mode_on_a_new_host_creates_nothing(tmp_path):
    out = run(directories=[{"path": str(tmp_path / "d")}],
              files=[{"path": str(tmp_path / "d" / "f"), "content": "x"}], _ansible_check_mode=True)
    assert out.result["changed"] and out.result["changed_files"] == [str(tmp_path / "d" / "f")]
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("args,field", [
    ({"directories": [{"path": "relative/dir"}]}, "directories[0].path"),
    ({"directories": [{"path": "X", "mode": "rwx"}]}, "directories[0].mode"),
    ({"files": [{"path": "X/f", "content": "a", "mode": "99999"}]}, "files[0].mode"),
    ({"files": [{"path": "X/f"}]}, "files[0].content"),
    ({"directories": [{"path": "X"}], "files": [{"path": "X/", "content": "a"}]}, "files[0].path"),
])
def test_bad_input_names_the_field_and_changes_nothing(tmp_path, args, field):
    target = str(tmp_path / "x")
    args = json.loads(json.dumps(args).replace('"X', '"' + target))
    out = run(**args)
    assert out.failed and out.result["field"] == field and out.result["msg"].startswith(field), out.result
    assert not os.path.exists(target)


def test_a_file_where_a_directory_should_be_fails(tmp_path):
    (tmp_path / "d").write_text("x")
    out = run(directories=[{"path": str(tmp_path / "d")}])
    assert out.failed and "is not a directory" in out.result["msg"]


@pytest.mark.parametrize("check", [True, False])
def test_a_file_whose_directory_is_missing_fails_in_check_mode_too(tmp_path, check):
    out = run(files=[{"path": str(tmp_path / "nodir" / "f"), "content": "x"}], _ansible_check_mode=check)
    assert out.failed and out.result["field"] == "files" and "does not exist" in out.result["msg"]
    assert os.listdir(str(tmp_path)) == []


def test_secret_file_diff_hides_values(tmp_path):
    env = tmp_path / "gateway.env"
    content = '# managed\nOPENSHELL_DB_URL="postgres://u:hunter2@db/x"\nTOKEN="s3cr3t-value"\n'
    args = {"files": [{"path": str(env), "content": content, "secret": True}], "_ansible_diff": True}
    out = run(**args)
    assert not out.failed and out.result["changed"] and env.read_text() == content
    diff = out.result["diff"][-1]
    assert diff["before"] == "" and diff["after"] == "# managed\nOPENSHELL_DB_URL=<hidden>\nTOKEN=<hidden>\n"
    out = run(**{**args, "files": [{"path": str(env), "content": content.replace("s3cr3t", "n3w"), "secret": True}]})
    text = repr(out.result)
    assert "s3cr3t" not in text and "n3w" not in text and "hunter2" not in text
    assert out.result["files"][0]["action"] == "update"
    out = run(**{**args, "files": [{"path": str(env), "state": "absent", "secret": True}]})
    assert "hunter2" not in repr(out.result) and out.result["diff"][-1]["after"] == ""
    assert nemoclaw_files.hidden("garbage line\n") == "<hidden>\n"
