# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# The openshell role's gateway.toml, made by plugins/module_utils/gateway_config.py (one writer, one place).
# Documentation: the .yml file of the same name as each filter next to this file.

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import gateway_config


def openshell_gateway_toml(values):
    """gateway.toml's tables for the role's values (``gateway_config.VARIABLES``); a value TOML cannot hold fails, named."""
    if not isinstance(values, dict):
        raise AnsibleFilterError("openshell_gateway_toml: expects a mapping of the role's values, got %s" % type(values).__name__)
    try:
        return gateway_config.gateway_toml(values)
    except gateway_config.TomlError as exc:
        raise AnsibleFilterError("%s: %s" % (exc.path, exc.reason))


class FilterModule(object):
    def filters(self):
        return {"openshell_gateway_toml": openshell_gateway_toml}
