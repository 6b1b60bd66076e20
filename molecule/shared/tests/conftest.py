# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The shared fixtures (audit.py) for the tests of this directory."""

from __future__ import annotations

from audit import Cli, account, cli, expected_blueprint, gateway_address, hostvars, paths, secret_values  # noqa: F401  pylint: disable=unused-import
