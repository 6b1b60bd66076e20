# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Pins kept in inventories match the artifacts they pin."""

from __future__ import annotations

import os

import yaml

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.blueprint import artifact_digest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def group_vars(inventory, group):
    with open(os.path.join(ROOT, "inventories", inventory, "group_vars", group + ".yml")) as fh:
        return yaml.safe_load(fh)


def test_local_demo_pins_the_shipped_blueprint():
    gv = group_vars("local", "nemoclaw")
    assert gv["blueprint_digest"] == artifact_digest(os.path.join(ROOT, "blueprints", gv["blueprint_src"])), \
        "blueprints/%s changed: re-pin it with tools/blueprint-digest" % gv["blueprint_src"]
