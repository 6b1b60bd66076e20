# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import Fleet, longest_modules_first, require_whole_modules  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    require_whole_modules(config)


def pytest_collection_modifyitems(items):
    longest_modules_first(items)


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
