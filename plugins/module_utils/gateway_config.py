# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""The OpenShell gateway's configuration file, gateway.toml, as the openshell role writes it.

``gateway_toml`` makes the document from the role's variables: ``[openshell.gateway]`` (the listen
address, the compute driver, TLS off unless local TLS, then ``openshell_gateway_extra_config`` over them)
and one ``[openshell.drivers.NAME]`` table per ``openshell_gateway_driver_config`` entry. Values are
written by a strict TOML 1.0 writer: strings escaped (control characters as ``\\uXXXX``, so no value can
start a line of its own), keys quoted unless bare, and anything TOML cannot say (null, a non-string key,
an integer beyond 64 bits, text that is not Unicode) refused with the variable's path and the reason,
never written some other way. ``problems`` returns those refusals as sentences for the role's checks
(``openshell_role.problems``), so the role fails before any change.
"""

from __future__ import annotations

import math
import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
# (the role's variable, its key in the values given to gateway_toml)
VARIABLES = (("openshell_gateway_bind_address", "bind_address"), ("openshell_gateway_port", "port"),
             ("openshell_gateway_compute_driver", "compute_driver"), ("openshell_gateway_local_tls", "local_tls"),
             ("openshell_gateway_extra_config", "extra_config"), ("openshell_gateway_driver_config", "driver_config"))


class TomlError(ValueError):
    """A value TOML cannot hold; ``path`` names it as the inventory does."""

    def __init__(self, path, reason):
        super(TomlError, self).__init__("%s: %s" % (path, reason))
        self.path = path
        self.reason = reason


def listen_address(bind_address, port):
    """``bind_address`` of ``[openshell.gateway]``: ``IP:PORT``, an IPv6 address in brackets."""
    host = str(bind_address)
    if ":" in host:
        host = "[%s]" % host.strip("[]")
    return "%s:%s" % (host, port)


def toml_string(text, path):
    if not isinstance(text, str):
        raise TomlError(path, "must be a string, got %s" % type(text).__name__)
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04X" % ord(ch))
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise TomlError(path, "is not valid Unicode text (a lone surrogate)")
        else:
            out.append(ch)
    return '"%s"' % "".join(out)


def toml_key(key, path):
    if not isinstance(key, str):
        raise TomlError(path, "keys must be strings, got %s %r" % (type(key).__name__, key))
    return key if _BARE_KEY.match(key) else toml_string(key, path)


def toml_value(value, path):
    """One value as TOML: booleans, integers, floats, strings, lists (arrays) and mappings (inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise TomlError(path, "integer %d does not fit TOML's 64 bits" % value)
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value, path)
    if isinstance(value, dict):
        items = ["%s = %s" % (toml_key(k, "%s.%s" % (path, k)), toml_value(value[k], "%s.%s" % (path, k)))
                 for k in sorted(value, key=str)]
        return "{ %s }" % ", ".join(items) if items else "{}"
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(toml_value(v, "%s[%d]" % (path, i)) for i, v in enumerate(value))
    if value is None:
        raise TomlError(path, "null has no TOML form; leave the key out")
    raise TomlError(path, "a %s has no TOML form" % type(value).__name__)


def gateway_table(values):
    """``[openshell.gateway]``: the keys the role computes, ``openshell_gateway_extra_config`` over them."""
    table = {"bind_address": listen_address(values["bind_address"], values["port"])}
    if values.get("compute_driver"):
        table["compute_drivers"] = [values["compute_driver"]]
    if not values.get("local_tls"):
        table["disable_tls"] = True
    extra = values.get("extra_config") or {}
    if not isinstance(extra, dict):
        raise TomlError("openshell_gateway_extra_config", "must be a mapping, got %s" % type(extra).__name__)
    table.update(extra)
    return table


def gateway_toml(values):
    """The body of gateway.toml (after the role's comment header) for ``values`` (keys of ``VARIABLES``)."""
    lines = ["[openshell]", "version = 1", "", "[openshell.gateway]"]
    table = gateway_table(values)
    for key in sorted(table, key=str):
        path = "openshell_gateway_extra_config.%s" % key
        lines.append("%s = %s" % (toml_key(key, path), toml_value(table[key], path)))
    drivers = values.get("driver_config") or {}
    if not isinstance(drivers, dict):
        raise TomlError("openshell_gateway_driver_config", "must be a mapping, got %s" % type(drivers).__name__)
    for driver in sorted(drivers, key=str):
        path = "openshell_gateway_driver_config.%s" % driver
        keys = drivers[driver]
        if not isinstance(keys, dict):
            raise TomlError(path, "must be a mapping of the driver's keys, got %s" % type(keys).__name__)
        lines.extend(["", "[openshell.drivers.%s]" % toml_key(driver, path)])
        for key in sorted(keys, key=str):
            lines.append("%s = %s" % (toml_key(key, "%s.%s" % (path, key)), toml_value(keys[key], "%s.%s" % (path, key))))
    return "\n".join(lines) + "\n"


def problems(values):
    """Why gateway.toml cannot be written from ``values``: [] or one sentence naming the variable."""
    try:
        gateway_toml(values)
    except TomlError as exc:
        return ["%s: %s." % (exc.path, exc.reason)]
    return []
