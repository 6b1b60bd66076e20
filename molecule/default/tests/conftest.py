# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The shared fixtures (../../shared/tests/audit.py) for this scenario's own tests."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests"))

# pylint: disable=unused-import,wrong-import-position
from audit import (  # noqa: E402,F401
    Cli, account, cli, expected_blueprint, gateway_address, hostvars, paths, secret_values)
