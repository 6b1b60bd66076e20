# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""docs/desired-state.md's key table is what tools/desired_schema_doc.py renders from desired.SCHEMA."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import desired

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "tools" / "desired_schema_doc.py"
DOC = ROOT / "docs" / "desired-state.md"


def _tool():
    spec = importlib.util.spec_from_file_location("desired_schema_doc_under_test", str(TOOL))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doc_table_matches_the_schema():
    tool = _tool()
    current = tool.generated_part(DOC.read_text())
    assert current is not None, "docs/desired-state.md lost its generated-table markers"
    assert current == tool.render(desired), (
        "docs/desired-state.md is out of date with desired.SCHEMA: run tools/desired-schema-doc and commit the result")


def test_every_key_is_in_the_table():
    table = _tool().render(desired)
    for row in desired.schema_rows():
        assert "| `%s` | %s |" % (row[0], row[1]) in table


def test_rendering():
    tool = _tool()
    rows = [("a", "str", None, ("x", "y"), "pipe | and <b>"), ("b.c", "int", 3, None, "n"),
            ("d", "list", [], None, "l"), ("e", "bool", False, None, "f")]
    assert tool.render_table(rows).splitlines() == [
        "| key | type | default | choices | description |",
        "|---|---|---|---|---|",
        "| `a` | str |  | `x`, `y` | pipe \\| and &lt;b&gt; |",
        "| `b.c` | int | `3` |  | n |",
        "| `d` | list | `[]` |  | l |",
        "| `e` | bool | `false` |  | f |",
    ]


def _run(*args, cwd):
    # -I: no PYTHONPATH, no user site; the tool finds desired.py in its checkout
    return subprocess.run([sys.executable, "-I", str(TOOL)] + list(args), cwd=str(cwd),
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)


def test_tool_checks_and_rewrites_a_file_on_its_own(tmp_path):
    tool = _tool()
    doc = tmp_path / "doc.md"
    doc.write_text("# Title\n\nbefore\n\n%s\nstale\n%s\n\nafter\n" % (tool.BEGIN, tool.END))
    out = _run("--check", str(doc), cwd=tmp_path)
    assert out.returncode == 1 and "run tools/desired-schema-doc" in out.stderr
    out = _run(str(doc), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "stale" not in text
    assert tool.generated_part(text) == tool.render(desired)
    assert _run("--check", str(doc), cwd=tmp_path).returncode == 0
    assert _run("--check", str(DOC), cwd=tmp_path).returncode == 0


def test_tool_refuses_a_file_without_markers(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("no markers\n")
    out = _run(str(doc), cwd=tmp_path)
    assert out.returncode == 1 and "markers" in out.stderr and doc.read_text() == "no markers\n"
