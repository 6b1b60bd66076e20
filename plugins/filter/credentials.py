# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def credential_value(entry, secrets):
    """The value for one planned credential ``{key, env, source, default}``.

    ``secrets`` maps environment-variable names to values. A given value wins;
    ``credential_default`` of the blueprint is used only when nothing is given.
    """
    if not isinstance(entry, dict) or "key" not in entry:
        raise AnsibleFilterError("credential_value: expected a planned credential {key, env, source}, got %r" % (entry,))
    env = entry.get("env") or entry["key"]
    value = (secrets or {}).get(env)
    if value not in (None, ""):
        return value
    if entry.get("source") == "default" and entry.get("default") not in (None, ""):
        return entry["default"]
    raise AnsibleFilterError("credential %s needs a value: set nemoclaw_secrets.%s" % (entry["key"], env))


class FilterModule(object):
    def filters(self):
        return {"credential_value": credential_value}
