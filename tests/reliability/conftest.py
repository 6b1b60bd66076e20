# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Reliability suite: faults, host lock, bad input, secret audit (see docs/reliability.md).

The tests of one module share a converged fleet (module-scoped fixtures) and run in order, so
under ``-n 2`` every module is kept on one xdist worker: its items get an ``xdist_group`` mark and
the scheduler is LoadGroupScheduling (items of other directories carry no mark and are
distributed one by one, as with ``--dist load``).
"""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, HERE)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep) and os.path.basename(str(item.fspath)) in SHARED_MODULES:
            item.add_marker(pytest.mark.xdist_group(os.path.basename(str(item.fspath))))


# Modules whose tests share one fleet and depend on each other's order.
SHARED_MODULES = ("test_faults.py", "test_kill_and_concurrency.py")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadGroupScheduling  # pylint: disable=import-outside-toplevel

    return LoadGroupScheduling(config, log)
