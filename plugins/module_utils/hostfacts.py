# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The setup facts ``nemoclaw_preflight`` returns with ``gather_facts``, from Ansible's own collectors.

Apart from ``preflight_run`` on purpose: importing any ``ansible.module_utils.facts`` collector imports
the whole facts package (about 70 files), and Ansible puts every module_utils a module imports, at any
depth, into that module's payload. Only ``nemoclaw_preflight`` imports this; ``nemoclaw_apply``, which
runs the same host checks, stays without the facts package.
"""

from __future__ import annotations

import platform

# The environment variables returned in ansible_facts.env: what the roles read, none that can hold a secret.
ENV_FACT_KEYS = ("HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                 "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")


def host_facts(module, names):
    """The setup facts ``names`` (env, service_mgr, user), from Ansible's own collectors."""
    # Imported here: loading the facts package costs the module process more than the checks themselves.
    from ansible.module_utils.facts.system.env import EnvFactCollector  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.facts.system.service_mgr import ServiceMgrFactCollector  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.facts.system.user import UserFactCollector  # pylint: disable=import-outside-toplevel
    collectors = {"env": EnvFactCollector, "service_mgr": ServiceMgrFactCollector, "user": UserFactCollector}
    facts = {}
    for name in names:
        facts.update(collectors[name]().collect(module=module, collected_facts={"ansible_system": platform.system()}))
    if "env" in facts:
        facts["env"] = dict((k, v) for k, v in facts["env"].items() if k in ENV_FACT_KEYS)
    return facts
