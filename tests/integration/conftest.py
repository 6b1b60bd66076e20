# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playrunner import Fleet  # noqa: E402  pylint: disable=wrong-import-position


def _fleet(tmp_path, count):
    f = Fleet(tmp_path, count=count)
    try:
        yield f
    finally:
        f.stop()
    # Every command line the modules emitted must parse under the real grammar.
    assert f.invalid_calls() == []


@pytest.fixture
def fleet(tmp_path):
    yield from _fleet(tmp_path, 1)


@pytest.fixture
def fleet3(tmp_path):
    yield from _fleet(tmp_path, 3)
