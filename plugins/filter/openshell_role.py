# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# The openshell role's decisions, made by plugins/module_utils/openshell_role.py (one place, unit-tested).
# Documentation: the .yml file of the same name as each filter next to this file.

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell_role


def _mapping(name, values):
    if not isinstance(values, dict):
        raise AnsibleFilterError("%s: expects a mapping, got %s" % (name, type(values).__name__))
    return values


def openshell_connect_host(bind_address, bracket=True):
    """The host a gateway bound to ``bind_address`` is reached at (``bracket=false``: an IPv6 address bare)."""
    host = openshell_role.connect_host(bind_address)
    return host if bracket else host.strip("[]")


def openshell_install_state(values):
    """What the role reads about the OpenShell installation and whether it installs (``openshell_role.install_state``)."""
    return openshell_role.install_state(_mapping("openshell_install_state", values))


def openshell_installed_problem(probe, version, path, package_src):
    """Why a fresh installation does not report the pinned version; '' when it does."""
    return openshell_role.installed_problem(probe, version, path, package_src)


class FilterModule(object):
    def filters(self):
        return {"openshell_connect_host": openshell_connect_host,
                "openshell_install_state": openshell_install_state,
                "openshell_installed_problem": openshell_installed_problem}
