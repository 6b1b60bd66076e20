# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Import the collection's module_utils from the tools with a plain ``python3`` (no Ansible collection path).

The parent packages ``ansible_collections.agentfleet.nemoclaw.plugins`` are made as empty
namespace modules, and ``...module_utils`` points at this checkout's (or installed collection's)
``plugins/module_utils``, so the modules' own absolute imports resolve.
"""

from __future__ import annotations

import importlib
import os
import sys
import types

PKG = "ansible_collections.agentfleet.nemoclaw.plugins.module_utils"
ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def module_utils(name, root=ROOT):
    """``plugins/module_utils/<name>.py`` of ``root``, imported under its collection module name."""
    parts = PKG.split(".")
    for i in range(1, len(parts) + 1):
        package = ".".join(parts[:i])
        if package not in sys.modules:
            module = types.ModuleType(package)
            module.__path__ = []
            sys.modules[package] = module
    sys.modules[PKG].__path__ = [os.path.join(root, "plugins", "module_utils")]
    return importlib.import_module(PKG + "." + name)
