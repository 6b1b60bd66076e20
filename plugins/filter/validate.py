# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# Filters that let the roles apply the rules of plugins/module_utils/validate.py (one rule, one place).
# Documentation: the .yml file of the same name as each filter next to this file.

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell_role, validate


def env_problems(env, name="env"):
    """Sentences naming ``name.KEY`` for every bad key or value of an environment mapping (values never echoed)."""
    return validate.env_problems(env, name)


def openshell_problems(values, host, service_mgr=None):
    """Sentences about the openshell role's variables, each naming its variable (module_utils/openshell_role.py)."""
    return openshell_role.problems(values, host, service_mgr)


def checked_environment(env, name="nemoclaw_environment"):
    """``env`` when every key is a variable name and every value one line of text; else fails naming the key.

    For a play's ``environment``: Ansible writes the keys unquoted into the host's shell command line, so a key
    like ``X=1;touch /tmp/x;Y`` would run there.
    """
    problems = validate.env_problems(env, name)
    if problems:
        raise AnsibleFilterError("%s (nothing was run with it)" % "; ".join(problems))
    return env if env is not None else {}


def display_url(url):
    """``url`` without user information, query and fragment (``validate.display_url``)."""
    return validate.display_url(url)


class FilterModule(object):
    def filters(self):
        return {"env_problems": env_problems, "openshell_problems": openshell_problems,
                "checked_environment": checked_environment, "display_url": display_url}
