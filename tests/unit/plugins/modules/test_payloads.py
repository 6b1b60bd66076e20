# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""What each module's AnsiballZ payload carries.

Ansible puts every module_utils file a module imports, at any depth and in any function, into the
payload, parses each of them on the controller for every playbook run that uses the module, and the
host imports what the module runs. The host-side apply must not carry the controller's planner
(blueprint loader, desired-state schema) nor Ansible's facts package (about 70 files).
"""

from __future__ import annotations

import ast
import functools
import os

import ansible.module_utils
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ANSIBLE = os.path.dirname(os.path.dirname(os.path.abspath(ansible.module_utils.__file__)))
PREFIX = ("ansible_collections", "agentfleet", "nemoclaw")


def _file_of(name):
    parts = name.split(".")
    if tuple(parts[:3]) == PREFIX:
        base = os.path.join(ROOT, *parts[3:])
    elif parts[:2] == ["ansible", "module_utils"]:
        base = os.path.join(os.path.dirname(ANSIBLE), *parts)
    else:
        return None
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def _imports(path):
    """The dotted names ``path`` imports (absolute imports; every package on the way included)."""
    with open(path) as fh:
        tree = ast.parse(fh.read(), path)
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
        for name in names:
            parts = name.split(".")
            out.update(".".join(parts[:end]) for end in range(2, len(parts) + 1))
    return frozenset(out)


def payload(module):
    """The module_utils files Ansible ships with ``plugins/modules/<module>.py``, as paths relative to their root."""
    start = os.path.join(ROOT, "plugins", "modules", module + ".py")
    seen, todo = set(), [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            found = _file_of(name)
            if found and found not in seen:
                todo.append(found)
    seen.discard(start)
    return sorted(os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) and not p.startswith(ANSIBLE)
                  else os.path.relpath(p, os.path.dirname(ANSIBLE)) for p in seen)


def test_the_walk_finds_what_a_module_imports():
    files = payload("nemoclaw_preflight")
    assert "plugins/module_utils/preflight_run.py" in files
    assert "plugins/module_utils/hostfacts.py" in files
    assert "ansible/module_utils/basic.py" in files
    assert "ansible/module_utils/facts/system/service_mgr.py" in files
    assert "ansible/module_utils/facts/__init__.py" in files


def test_apply_carries_neither_the_planner_nor_the_facts_package():
    files = payload("nemoclaw_apply")
    assert "plugins/module_utils/apply.py" in files and "plugins/module_utils/preflight_run.py" in files
    for controller_only in ("blueprint.py", "plan.py", "nemoclawconfig.py", "hostfacts.py"):
        assert "plugins/module_utils/" + controller_only not in files
    assert [f for f in files if f.startswith("ansible/module_utils/facts/")] == []


@pytest.mark.parametrize("module", sorted(m[:-3] for m in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                                          if m.endswith(".py") and m != "nemoclaw_preflight.py"))
def test_only_preflight_carries_the_facts_package(module):
    assert [f for f in payload(module) if f.startswith("ansible/module_utils/facts/")] == []
