# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The OpenShell CLI contracts in this directory, one per supported version, and an argv checker.

``tests/contract/<version>/contract.json`` names what was read (sources), the sandbox phases, the
JSON keys, the error texts and the features we use; its grammar is ``grammar.json`` beside it, or
the grammar of ``base`` with ``grammar_changes`` applied. ``check(argv, version)`` parses one
command line the way the real CLI's clap parser does for that grammar and raises ``Invalid`` where
the CLI would exit 2 with a usage error.

A missing contract raises ``ContractMissing``: tests that need one fail, they never skip.
"""

from __future__ import annotations

import copy
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


class ContractMissing(Exception):
    pass


class Invalid(Exception):
    """The real CLI rejects this command line with a usage error (exit 2)."""


def version_key(text):
    parts = [int(x) for x in re.findall(r"\d+", str(text))[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def versions():
    """The versions with a contract, oldest first."""
    found = [d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "contract.json"))]
    return sorted(found, key=version_key)


def covering(version):
    """The contract version that covers ``version``: the newest contract at or below it in the same
    ``major.minor`` series, when ``version`` is not above that series' newest contract.

    0.0.112 is covered by 0.0.111 (0.0.116 has a contract above it); 0.1.6 is not covered.
    """
    want = version_key(version)
    series = [v for v in versions() if version_key(v)[:2] == want[:2]]
    below = [v for v in series if version_key(v) <= want]
    if not below or want > version_key(series[-1]):
        raise ContractMissing("no OpenShell CLI contract covers %s (contracts: %s in %s)" % (version, ", ".join(versions()), HERE))
    return below[-1]


def _read(version):
    path = os.path.join(HERE, version, "contract.json")
    if not os.path.isfile(path):
        raise ContractMissing("the OpenShell CLI contract %s is missing (%s)" % (version, path))
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class Contract(object):
    def __init__(self, version):
        self.version = version
        self.data = _read(version)
        self.base = Contract(self.data["base"]) if self.data.get("base") else None
        if self.base is None:
            with open(os.path.join(HERE, version, self.data["grammar"]), encoding="utf-8") as fh:
                self.grammar = json.load(fh)
        else:
            self.grammar = apply_changes(self.base.grammar, self.data.get("grammar_changes") or {})
        self.aliases = {}
        for path, node in self.grammar["commands"].items():
            words = path.split()
            for alias in node.get("aliases") or ():
                self.aliases[tuple(words[:-1] + [alias])] = words[-1]

    def section(self, key):
        """A top-level section, following ``{"inherit": VERSION}``."""
        value = self.data.get(key)
        if isinstance(value, dict) and set(value) == {"inherit"}:
            return Contract(value["inherit"]).section(key)
        return value

    def flags(self, path):
        return (self.grammar["commands"].get(path) or {}).get("flags") or {}

    def check(self, argv):
        _check(self, argv)


def apply_changes(grammar, changes):
    out = copy.deepcopy(grammar)
    for path, flags in (changes.get("add_flags") or {}).items():
        out["commands"][path].setdefault("flags", {}).update(copy.deepcopy(flags))
    for path, names in (changes.get("remove_flags") or {}).items():
        for name in names:
            out["commands"][path]["flags"].pop(name)
    for path, node in (changes.get("add_commands") or {}).items():
        out["commands"][path] = copy.deepcopy(node)
    for path in changes.get("remove_commands") or ():
        out["commands"].pop(path)
    return out


_CACHE = {}


def load(version):
    """The contract of exactly ``version`` (cached)."""
    if version not in _CACHE:
        _CACHE[version] = Contract(version)
    return _CACHE[version]


def for_running(version):
    """The contract that covers a running OpenShell ``version``."""
    return load(covering(version))


# ---------------------------------------------------------------- the argv checker

def _tables(flags):
    longs, shorts = {}, {}
    for name, spec in flags.items():
        (longs if name.startswith("--") else shorts)[name] = name
        if spec.get("short"):
            shorts[spec["short"]] = name
    return longs, shorts


def _take(tokens, i, flags, where):
    """Read the flag at ``tokens[i]``; return ``(name, value, next_index)``."""
    longs, shorts = _tables(flags)
    tok = tokens[i]
    value = None
    if tok.startswith("--"):
        word, eq, inline = tok.partition("=")
        if word not in longs:
            raise Invalid("unexpected argument '%s' found (%s)" % (word, where))
        name = longs[word]
        if eq:
            value = inline
    else:
        word, rest = tok[:2], tok[2:]
        if word not in shorts:
            raise Invalid("unexpected argument '%s' found (%s)" % (word, where))
        name = shorts[word]
        spec = flags[name]
        if rest:
            if spec["value"] == "required":
                value = rest[1:] if rest.startswith("=") else rest
            elif spec.get("repeatable") and set(rest) == {word[1]}:
                return name, None, i + 1  # -vvv
            else:
                raise Invalid("unexpected value in '%s'" % tok)
    spec = flags[name]
    kind = spec["value"]
    if kind == "required" and value is None:
        if i + 1 >= len(tokens):
            raise Invalid("a value is required for '%s' but none was supplied" % name)
        i += 1
        value = tokens[i]
    elif kind == "none" and value is not None:
        raise Invalid("unexpected value '%s' for '%s' found; no more were expected" % (value, name))
    elif kind == "optional" and value is None and i + 1 < len(tokens) and tokens[i + 1].isdigit():
        i += 1
        value = tokens[i]
    if spec.get("values") and value is not None and value not in spec["values"]:
        raise Invalid("invalid value '%s' for '%s' [possible values: %s]" % (value, name, ", ".join(spec["values"])))
    return name, value, i + 1


def _command(contract, tokens):
    """Walk the subcommand words (global flags may come first); return ``(path, rest)``."""
    gflags = contract.grammar["global_flags"]
    commands = contract.grammar["commands"]
    path, i = [], 0
    while i < len(tokens):
        node = commands.get(" ".join(path))
        if node is not None and node["kind"] == "leaf":
            break
        tok = tokens[i]
        if tok.startswith("-") and tok != "-":
            _name, _value, i = _take(tokens, i, gflags, "global")
            continue
        nxt = path + [tok]
        if " ".join(nxt) not in commands:
            real = contract.aliases.get(tuple(nxt))
            if real is None:
                raise Invalid("unrecognized subcommand '%s'%s" % (tok, " under '%s'" % " ".join(path) if path else ""))
            nxt = path + [real]
        path = nxt
        i += 1
    return path, tokens[i:]


def _check(contract, argv):
    tokens = list(argv)
    if tokens and os.path.basename(tokens[0]) == "openshell":
        tokens = tokens[1:]
    if any(t in ("-h", "--help", "-V", "--version") for t in tokens):
        return  # clap answers help and version before it validates anything else
    path, rest = _command(contract, tokens)
    if not path:
        return
    where = " ".join(path)
    node = contract.grammar["commands"][where]
    if node["kind"] == "group":
        if rest:
            raise Invalid("unrecognized subcommand '%s' under '%s'" % (rest[0], where))
        return
    flags = dict(contract.grammar["global_flags"])
    flags.update(node.get("flags") or {})
    positionals = node.get("positionals") or []
    fixed = [p for p in positionals if not p.get("after_double_dash_only")]
    dd_only = any(p.get("after_double_dash_only") for p in positionals)
    trailing = bool(fixed) and fixed[-1].get("variadic") and fixed[-1].get("trailing")
    given, values, after = {}, [], None
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok == "--":
            after = rest[i + 1:]
            break
        # a trailing variadic positional takes everything once it has started
        if tok.startswith("-") and tok != "-" and not (trailing and len(values) >= len(fixed)):
            name, value, i = _take(rest, i, flags, where)
            if name in given and not flags[name].get("repeatable"):
                raise Invalid("the argument '%s' cannot be used multiple times" % name)
            given.setdefault(name, []).append(value)
            continue
        values.append(tok)
        i += 1
    if after is not None and not dd_only:
        values.extend(after)
    variadic = any(p.get("variadic") for p in fixed)
    if not variadic and len(values) > len(fixed):
        raise Invalid("unexpected argument '%s' found" % values[len(fixed)])
    present = set(given)
    present |= {"<%s>" % p["name"] for p in fixed[:len(values)]}
    if after:
        present |= {"<%s>" % p["name"] for p in positionals if p.get("after_double_dash_only") or p.get("variadic")}
    for idx, p in enumerate(fixed):
        if p.get("required") and idx >= len(values):
            excused = [k for k, s in flags.items() if "<%s>" % p["name"] in (s.get("conflicts") or ()) and k in given]
            if not excused:
                raise Invalid("the following required arguments were not provided: <%s>" % p["name"])
    for name, spec in (node.get("flags") or {}).items():
        if spec.get("required") and name not in given:
            raise Invalid("the following required arguments were not provided: %s" % name)
    for group in node.get("required_one_of") or ():
        if not any(k in given for k in group):
            raise Invalid("one of %s is required" % ", ".join(group))
    for name in given:
        for other in flags[name].get("conflicts") or ():
            if other in present:
                raise Invalid("the argument '%s' cannot be used with '%s'" % (name, other))
        for need in flags[name].get("requires") or ():
            if need not in present:
                raise Invalid("the argument '%s' requires '%s'" % (name, need))


def check(argv, version):
    """Raise ``Invalid`` when the CLI of ``version`` (a contract version) rejects ``argv``."""
    load(version).check(argv)


def invalid(calls, version):
    """``["INVALID <argv json>: <reason>", ...]`` for the argvs in ``calls`` that ``version`` rejects."""
    contract = load(version)
    out = []
    for argv in calls:
        try:
            contract.check(argv)
        except Invalid as exc:
            out.append("INVALID %s: %s" % (json.dumps(argv), exc))
    return out


def read_call_log(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["argv"] for line in fh if line.strip()]


def invalid_in_log(lines, version=None, default="0.0.111"):
    """Rejected calls of simulator call-log ``lines`` (JSON text), each judged by ``version`` or else by
    the version the simulator logged with it (``default`` for lines without one)."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        call = json.loads(line)
        if any(t in ("-h", "--help", "-V", "--version") for t in call["argv"]):
            continue  # answered before any validation, by every version
        out.extend(invalid([call["argv"]], covering(version or call.get("version") or default)))
    return out
