# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# Filters from_nemoclaw_config and to_nemoclaw_config: NemoClaw's NemoClawConfig documents
# <-> nemoclaw_agents, each one call into module_utils/nemoclawconfig.py.
# Documentation: the .yml file of the same name next to this file.

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import desired, nemoclawconfig

display = Display()


def _warn(name, warnings):
    for text in warnings:
        display.warning("%s: %s" % (name, text))


def from_nemoclaw_config(document, details=False):
    """``nemoclaw_agents`` entries of a NemoClawConfig document (a mapping or its YAML/JSON text)."""
    try:
        if isinstance(document, (str, bytes)):
            document = nemoclawconfig.load_document(document)
        agents, secrets, warnings = nemoclawconfig.to_agents(document)
    except nemoclawconfig.ConfigError as exc:
        raise AnsibleFilterError("from_nemoclaw_config: %s" % exc)
    if details:
        return {"agents": agents, "secrets": sorted(secrets), "warnings": warnings}
    _warn("from_nemoclaw_config", warnings)
    return agents


def to_nemoclaw_config(agents, name=None, uid=None, extensions=False, details=False):
    """A NemoClawConfig document of ``nemoclaw_agents``."""
    try:
        document, warnings = nemoclawconfig.from_agents(agents, name=name, uid=uid, extensions=bool(extensions))
    except (nemoclawconfig.ConfigError, desired.DesiredStateError) as exc:
        raise AnsibleFilterError("to_nemoclaw_config: %s" % exc)
    if details:
        return {"document": document, "warnings": warnings}
    _warn("to_nemoclaw_config", warnings)
    return document


class FilterModule(object):
    def filters(self):
        return {"from_nemoclaw_config": from_nemoclaw_config, "to_nemoclaw_config": to_nemoclaw_config}
