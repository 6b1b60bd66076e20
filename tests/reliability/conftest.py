# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Reliability suite: faults, host lock, bad input, secret audit (see docs/reliability.md).

The tests of one module share a converged fleet (module-scoped fixtures) and run in order, so
under xdist every module stays on one worker (``--dist loadfile``, enforced below).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, HERE)


def pytest_configure(config):
    from playrunner import require_whole_modules  # pylint: disable=import-outside-toplevel

    require_whole_modules(config)


def pytest_collection_modifyitems(items):
    # The integration conftest sorts too; in a session of both suites the second sort changes nothing.
    from playrunner import longest_modules_first  # pylint: disable=import-outside-toplevel

    longest_modules_first(items)
