# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import Fleet  # noqa: E402  pylint: disable=wrong-import-position


# Modules whose tests share one module-scoped fleet and build on each other's steps: under
# ``-n 2 --dist loadgroup`` each is kept whole on one xdist worker (otherwise a later test would get
# a fresh fleet on the other worker, without the steps before it).
SHARED_FLEET_MODULES = ("test_agents.py", "test_canary.py", "test_canary_openshell.py", "test_host_checks.py",
                        "test_installed.py", "test_openshell_role.py")
HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    for item in items:
        name = os.path.basename(str(item.fspath))
        if str(item.fspath).startswith(HERE + os.sep) and name in SHARED_FLEET_MODULES:
            item.add_marker(pytest.mark.xdist_group(name))


def _fleet(tmp_path, count):
    with Fleet(tmp_path, count=count).checked() as f:
        yield f


@pytest.fixture
def fleet(tmp_path):
    yield from _fleet(tmp_path, 1)


@pytest.fixture
def fleet3(tmp_path):
    yield from _fleet(tmp_path, 3)


@pytest.fixture
def fleet5(tmp_path):
    with Fleet(tmp_path / "fleet", count=5).checked() as f:
        yield f
