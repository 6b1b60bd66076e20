# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""tools/blueprint_digest.py runs on its own: a plain python3 without the collection on its path
(Molecule's canary scenario and operators call it so), and prints the planner's very digest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint

ROOT = Path(__file__).resolve().parents[3]


def test_digest_tool_runs_without_the_collection_on_its_path(tmp_path):
    src = ROOT / "blueprints" / "openclaw"
    # -I: no PYTHONPATH, no user site, no script directory magic; cwd outside the checkout
    out = subprocess.run([sys.executable, "-I", str(ROOT / "tools" / "blueprint_digest.py"), str(src)],
                         cwd=str(tmp_path), env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == blueprint.artifact_digest(str(src))
