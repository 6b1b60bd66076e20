# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The observe role plans the blueprint for drift.yml with the blueprint role's own arguments.

roles/observe/vars/main.yml (``__observe_blueprint``) mirrors the nemoclaw_blueprint arguments of
roles/blueprint/tasks/main.yml, so ``drift.yml`` (one task per host) plans what ``site.yml`` plans.
The one difference allowed is ``openshell_version``: nemoclaw_drift plans with the version it reads.
"""

from __future__ import annotations

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _load(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return yaml.safe_load(handle)


def test_observe_plans_with_the_blueprint_roles_arguments():
    task = [t for t in _load("roles", "blueprint", "tasks", "main.yml") if "agentfleet.nemoclaw.nemoclaw_blueprint" in t]
    assert len(task) == 1
    role_args = dict(task[0]["agentfleet.nemoclaw.nemoclaw_blueprint"])
    assert "vars" not in task[0], "task vars would not reach the observe role's copy"
    assert role_args.pop("openshell_version") == "{{ blueprint_openshell_version | default(omit, true) }}"
    mirror = _load("roles", "observe", "vars", "main.yml")["__observe_blueprint"]
    assert mirror == role_args


def test_observe_task_passes_the_mirror_only_when_planning():
    task = _load("roles", "observe", "tasks", "main.yml")[0]["agentfleet.nemoclaw.nemoclaw_drift"]
    assert task["blueprint"] == "{{ __observe_blueprint if observe_plan | bool else omit }}"
    assert task["plan"] == "{{ omit if observe_plan | bool else sandbox_plan }}"
