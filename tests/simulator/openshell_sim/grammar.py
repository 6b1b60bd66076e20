"""Declarative grammar of the simulated `openshell` commands and a clap-like parser.

Only the command paths the simulator implements carry flag tables. Other real
command paths are listed by name (UNSIMULATED) so that they parse like the real
CLI and then fail at runtime with a clear "not simulated" error instead of a
usage error.
"""


class UsageError(Exception):
    """clap usage error: printed as `error: ...` + usage, exit 2."""

    def __init__(self, message, path=(), extra=None):
        Exception.__init__(self, message)
        self.message = message
        self.path = tuple(path)
        self.extra = extra


class HelpRequested(Exception):
    def __init__(self, path):
        Exception.__init__(self, "help")
        self.path = tuple(path)


class VersionRequested(Exception):
    pass


def F(value=False, short=None, rep=False, req=False, values=None, conflicts=(), requires=(), name=None, default=None):
    """Flag spec. value: False (switch), True (takes a value) or 'optional'."""
    return {"value": value, "short": short, "rep": rep, "req": req, "values": values,
            "conflicts": tuple(conflicts), "requires": tuple(requires), "vname": name, "default": default}


def P(name, req=False, var=False, dd_only=False, trailing=False):
    return {"name": name, "req": req, "var": var, "dd_only": dd_only, "trailing": trailing}


OUT3 = F(True, short="-o", values=("table", "yaml", "json"), name="OUTPUT")

GLOBAL_FLAGS = {
    "--gateway": F(True, short="-g", name="GATEWAY"),
    "--gateway-endpoint": F(True, name="GATEWAY_ENDPOINT"),
    "--gateway-insecure": F(),
    "--workspace": F(True, name="WORKSPACE"),
    "--verbose": F(short="-v", rep=True),
    "--help": F(short="-h"),
    "--version": F(short="-V"),
}

# kind "group": children listed by the paths that extend it.
GROUPS = {
    "": "root",
    "gateway": "Manage gateway registrations",
    "sandbox": "Manage sandboxes",
    "sandbox provider": "Manage providers attached to a sandbox",
    "provider": "Manage providers",
    "policy": "Manage sandbox policy",
    "rule": "Review pending network rules",
    "inference": "Manage inference routes",
    "settings": "Manage sandbox and global settings",
    # groups of commands the simulator does not implement
    "provider refresh": "", "provider profile": "", "doctor": "", "forward": "", "service": "",
    "workspace": "", "workspace member": "",
}

ALIASES = {
    ("sb",): "sandbox", ("fwd",): "forward", ("svc",): "service", ("lg",): "logs", ("pol",): "policy",
    ("rl",): "rule", ("ws",): "workspace", ("gw",): "gateway", ("dr",): "doctor",
}

COMMANDS = {
    "status": {"flags": {"--output": OUT3}},
    "gateway add": {"pos": [P("ENDPOINT", req=True)], "flags": {
        "--name": F(True, name="NAME"),
        "--remote": F(True, conflicts=("--local",), name="SSH_DEST"),
        "--local": F(conflicts=("--remote",)),
        "--oidc-issuer": F(True, conflicts=("--remote",), name="OIDC_ISSUER"),
        "--oidc-client-id": F(True, requires=("--oidc-issuer",), name="OIDC_CLIENT_ID"),
        "--oidc-audience": F(True, requires=("--oidc-issuer",), name="OIDC_AUDIENCE"),
        "--oidc-scopes": F(True, requires=("--oidc-issuer",), name="OIDC_SCOPES")}},
    "gateway remove": {"pos": [P("NAME")]},
    "gateway select": {"pos": [P("NAME")]},
    "gateway info": {"flags": {"--output": OUT3}},
    "gateway list": {"flags": {"--output": OUT3}},
    "sandbox create": {"pos": [P("COMMAND", var=True, dd_only=True)], "flags": {
        "--name": F(True, name="NAME"),
        "--from": F(True, name="FROM"),
        "--upload": F(True, rep=True, conflicts=("<COMMAND>",), name="UPLOAD"),
        "--no-git-ignore": F(requires=("--upload",)),
        "--keep": F(conflicts=("--no-keep",)),
        "--no-keep": F(conflicts=("--keep", "--editor", "--forward", "--detach", "--output")),
        "--editor": F(True, values=("vscode", "cursor"), conflicts=("--no-keep", "--detach", "--output"), name="EDITOR"),
        "--gpu": F("optional", name="COUNT"),
        "--cpu": F(True, name="CPU"),
        "--memory": F(True, name="MEMORY"),
        "--driver-config-json": F(True, name="JSON"),
        "--provider": F(True, rep=True, name="PROVIDER"),
        "--policy": F(True, name="POLICY"),
        "--forward": F(True, conflicts=("--no-keep", "--output"), name="FORWARD"),
        "--tty": F(), "--no-tty": F(),
        "--detach": F(conflicts=("--editor", "--no-keep")),
        "--auto-providers": F(), "--no-auto-providers": F(),
        "--label": F(True, rep=True, name="KEY=VALUE"),
        "--env": F(True, rep=True, name="KEY=VALUE"),
        "--no-credential-warnings": F(),
        "--approval-mode": F(True, values=("manual", "auto"), name="APPROVAL_MODE", default="manual"),
        "--output": F(True, short="-o", values=("table", "yaml", "json"),
                      conflicts=("--editor", "<COMMAND>", "--no-keep", "--forward"), name="OUTPUT")}},
    "sandbox get": {"pos": [P("NAME")], "flags": {
        "--policy-only": F(conflicts=("--output",)), "--output": OUT3}},
    "sandbox list": {"flags": {
        "--limit": F(True, name="LIMIT"), "--offset": F(True, name="OFFSET"),
        "--ids": F(conflicts=("--names", "--output")), "--names": F(conflicts=("--ids", "--output")),
        "--selector": F(True, name="SELECTOR"),
        "--output": F(True, short="-o", values=("table", "yaml", "json"), conflicts=("--ids", "--names"), name="OUTPUT"),
        "--all-workspaces": F()}},
    "sandbox delete": {"pos": [P("NAME", req=True, var=True)], "flags": {"--all": F(conflicts=("<NAME>",))}},
    "sandbox stop": {"pos": [P("NAME")]},
    "sandbox start": {"pos": [P("NAME")]},
    "sandbox exec": {"pos": [P("COMMAND", req=True, var=True, trailing=True)], "flags": {
        "--name": F(True, short="-n", name="NAME"), "--workdir": F(True, name="WORKDIR"),
        "--timeout": F(True, name="TIMEOUT"), "--tty": F(), "--no-tty": F(),
        "--env": F(True, rep=True, name="KEY=VALUE")}},
    "sandbox provider list": {"pos": [P("NAME")]},
    "sandbox provider attach": {"pos": [P("NAME", req=True), P("PROVIDER", req=True)]},
    "sandbox provider detach": {"pos": [P("NAME", req=True), P("PROVIDER", req=True)]},
    "provider create": {"one_of": [("--from-existing", "--credential", "--from-gcloud-adc", "--runtime-credentials")], "flags": {
        "--name": F(True, req=True, name="NAME"), "--type": F(True, req=True, name="TYPE"),
        "--from-existing": F(conflicts=("--credential", "--from-gcloud-adc", "--runtime-credentials")),
        "--credential": F(True, rep=True, conflicts=("--from-existing", "--from-gcloud-adc", "--runtime-credentials"), name="KEY[=VALUE]"),
        "--from-gcloud-adc": F(conflicts=("--from-existing", "--credential", "--runtime-credentials")),
        "--runtime-credentials": F(conflicts=("--from-existing", "--credential", "--from-gcloud-adc")),
        "--config": F(True, rep=True, name="KEY=VALUE"), "--global-profile": F()}},
    "provider get": {"pos": [P("NAME", req=True)]},
    "provider list": {"flags": {
        "--limit": F(True, name="LIMIT"), "--offset": F(True, name="OFFSET"),
        "--names": F(conflicts=("--output",)),
        "--output": F(True, short="-o", values=("table", "yaml", "json"), conflicts=("--names",), name="OUTPUT"),
        "--all-workspaces": F()}},
    "provider update": {"pos": [P("NAME", req=True)], "flags": {
        "--from-existing": F(conflicts=("--credential",)),
        "--credential": F(True, rep=True, conflicts=("--from-existing",), name="KEY[=VALUE]"),
        "--config": F(True, rep=True, name="KEY=VALUE"),
        "--credential-expires-at": F(True, rep=True, name="KEY=TIMESTAMP")}},
    "provider delete": {"pos": [P("NAME", req=True, var=True)]},
    "policy set": {"pos": [P("NAME")], "flags": {
        "--policy": F(True, req=True, name="POLICY"), "--global": F(), "--yes": F(), "--wait": F(),
        "--timeout": F(True, name="TIMEOUT")}},
    "policy update": {"pos": [P("NAME")], "flags": {
        "--add-endpoint": F(True, rep=True, name="SPEC"), "--remove-endpoint": F(True, rep=True, name="HOST:PORT"),
        "--add-allow": F(True, rep=True, name="SPEC"), "--add-deny": F(True, rep=True, name="SPEC"),
        "--remove-rule": F(True, rep=True, name="NAME"), "--binary": F(True, rep=True, name="PATH"),
        "--rule-name": F(True, name="NAME"), "--dry-run": F(), "--wait": F(), "--timeout": F(True, name="TIMEOUT")}},
    "policy get": {"pos": [P("NAME")], "flags": {
        "--rev": F(True, name="REV"), "--full": F(conflicts=("--base",)), "--base": F(conflicts=("--full",)),
        "--output": F(True, short="-o", values=("table", "json"), name="OUTPUT"), "--global": F()}},
    "policy list": {"pos": [P("NAME")], "flags": {"--limit": F(True, name="LIMIT"), "--global": F()}},
    "policy delete": {"flags": {"--global": F(), "--yes": F()}},
    "rule get": {"pos": [P("NAME")], "flags": {"--status": F(True, name="STATUS")}},
    "rule approve": {"pos": [P("NAME")], "flags": {"--chunk-id": F(True, req=True, name="CHUNK_ID")}},
    "rule reject": {"pos": [P("NAME")], "flags": {
        "--chunk-id": F(True, req=True, name="CHUNK_ID"), "--reason": F(True, name="REASON")}},
    "rule approve-all": {"pos": [P("NAME")], "flags": {"--include-security-flagged": F()}},
    "rule clear": {"pos": [P("NAME")]},
    "rule history": {"pos": [P("NAME")]},
    "inference set": {"flags": {
        "--provider": F(True, req=True, name="PROVIDER"), "--model": F(True, req=True, name="MODEL"),
        "--system": F(), "--no-verify": F(), "--timeout": F(True, name="TIMEOUT")}},
    "inference update": {"flags": {
        "--provider": F(True, name="PROVIDER"), "--model": F(True, name="MODEL"),
        "--system": F(), "--no-verify": F(), "--timeout": F(True, name="TIMEOUT")}},
    "inference get": {"flags": {"--system": F()}},
    "inference delete": {"flags": {"--system": F()}},
    "settings get": {"pos": [P("NAME")], "flags": {"--global": F(), "--json": F()}},
    "settings set": {"pos": [P("NAME")], "flags": {
        "--key": F(True, req=True, name="KEY", values=(
            "providers_v2_enabled", "ocsf_json_enabled", "agent_policy_proposals_enabled", "proposal_approval_mode")),
        "--value": F(True, req=True, name="VALUE"), "--global": F(), "--yes": F()}},
    "settings delete": {"pos": [P("NAME")], "flags": {
        "--key": F(True, req=True, name="KEY"), "--global": F(), "--yes": F()}},
}

# Flags only some OpenShell versions have: (command path, flag, first version, spec). They follow the
# contracts' grammar_changes (tests/contract/<version>/contract.json); the simulator's agreement test
# checks each supported version's grammar against its contract.
VERSIONED_FLAGS = (
    ("sandbox create", "--restart-policy", (0, 1, 0),
     F(True, values=("never", "on-failure", "always"), name="RESTART_POLICY", default="never")),
)


def version_tuple(text):
    import re
    parts = [int(x) for x in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def apply_version():
    """Give the grammar the versioned flags of the version spoken now (the fork server's children
    call it again: their OPENSHELL_SIM_VERSION is the client's)."""
    from . import version
    speaks = version_tuple(version())
    for path, flag, since, spec in VERSIONED_FLAGS:
        if speaks >= since:
            COMMANDS[path]["flags"][flag] = spec
        else:
            COMMANDS[path]["flags"].pop(flag, None)


apply_version()

# Real commands the simulator does not implement (parsed by name only; runtime error, exit 1).
UNSIMULATED = [
    "whoami", "logs", "term", "completions", "ssh-proxy", "doctor check",
    "gateway login", "gateway logout",
    "sandbox connect", "sandbox upload", "sandbox download", "sandbox ssh-config",
    "provider list-profiles", "provider refresh status", "provider refresh configure",
    "provider refresh rotate", "provider refresh delete", "provider profile export",
    "provider profile import", "provider profile update", "provider profile lint", "provider profile delete",
    "forward start", "forward stop", "forward list", "forward service",
    "service expose", "service list", "service get", "service delete",
    "workspace create", "workspace get", "workspace list", "workspace delete",
    "workspace member add", "workspace member remove", "workspace member list",
]


def _children(path):
    prefix = (path + " ") if path else ""
    names = set()
    for p in list(COMMANDS) + UNSIMULATED + [g for g in GROUPS if g]:
        if p.startswith(prefix):
            rest = p[len(prefix):]
            if rest and " " not in rest:
                names.add(rest)
    return names


def _flag_index(flags):
    by_long, by_short = {}, {}
    for name, spec in flags.items():
        by_long[name] = name
        if spec["short"]:
            by_short[spec["short"]] = name
    return by_long, by_short


def _disp(name, spec):
    if spec["value"] is True:
        return "%s <%s>" % (name, spec["vname"] or name.lstrip("-").upper())
    if spec["value"] == "optional":
        return "%s [<%s>]" % (name, spec["vname"] or "VALUE")
    return name


def _take_flag(tokens, i, flags, path):
    by_long, by_short = _flag_index(flags)
    tok = tokens[i]
    value = None
    if tok.startswith("--"):
        name, eq, inline = tok.partition("=")
        if name not in by_long:
            raise UsageError("unexpected argument '%s' found" % name, path)
        key = by_long[name]
        if eq:
            value = inline
    else:
        name = tok[:2]
        if name not in by_short:
            raise UsageError("unexpected argument '%s' found" % name, path)
        key = by_short[name]
        rest = tok[2:]
        spec = flags[key]
        if rest:
            if spec["value"] is True:
                value = rest[1:] if rest.startswith("=") else rest
            elif spec["rep"] and set(rest) == {name[1]}:
                return key, len(rest) + 1, i + 1
            else:
                raise UsageError("unexpected value '%s' for '%s' found; no more were expected" % (rest, key), path)
    spec = flags[key]
    if spec["value"] is True and value is None:
        if i + 1 >= len(tokens):
            raise UsageError("a value is required for '%s' but none was supplied" % _disp(key, spec), path)
        value = tokens[i + 1]
        i += 1
    elif spec["value"] is False and value is not None:
        raise UsageError("unexpected value '%s' for '%s' found; no more were expected" % (value, key), path)
    elif spec["value"] == "optional" and value is None and i + 1 < len(tokens) and tokens[i + 1].isdigit():
        value = tokens[i + 1]
        i += 1
    if spec["values"] and value is not None and value not in spec["values"]:
        raise UsageError("invalid value '%s' for '%s'" % (value, _disp(key, spec)), path,
                         extra="  [possible values: %s]" % ", ".join(spec["values"]))
    if value is None:
        value = True
    return key, value, i + 1


class Parsed(object):
    def __init__(self, path, flags, pos, globals_):
        self.path = path            # canonical command path string
        self.flags = flags          # key -> list of values (True for switches)
        self.pos = pos              # positional name -> value or list
        self.globals = globals_     # global flag key -> last value

    def get(self, key, default=None):
        vals = self.flags.get(key)
        if not vals:
            return default
        return vals[-1]

    def all(self, key):
        return list(self.flags.get(key) or [])

    def has(self, key):
        return key in self.flags


def parse(argv):
    tokens = list(argv)
    # clap answers --help / --version before validating anything else.
    head = tokens[: tokens.index("--")] if "--" in tokens else tokens
    if any(t in ("-h", "--help") for t in head):
        raise HelpRequested(_walk_names(tokens))
    if any(t in ("-V", "--version") for t in head):
        raise VersionRequested()
    globals_ = {}
    path = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        key = " ".join(path)
        if path and key not in GROUPS:
            break
        if tok.startswith("-") and tok != "-":
            k, v, i = _take_flag(tokens, i, GLOBAL_FLAGS, path)
            globals_.setdefault(k, []).append(v)
            continue
        cand = path + [tok]
        ckey = " ".join(cand)
        known = ckey in COMMANDS or ckey in GROUPS or ckey in UNSIMULATED
        if not known:
            real = ALIASES.get(tuple(cand))
            if real is None:
                raise UsageError("unrecognized subcommand '%s'" % tok, path)
            cand = path + [real]
        path = cand
        i += 1
    key = " ".join(path)
    rest = tokens[i:]
    if key in GROUPS:
        raise HelpRequested(path)
    if key in UNSIMULATED:
        return Parsed(key, {}, {"_raw": rest}, _last(globals_))
    node = COMMANDS[key]
    flags = dict(GLOBAL_FLAGS)
    flags.update(node.get("flags", {}))
    positionals = node.get("pos", [])
    trailing = [p for p in positionals if p["var"] and p["trailing"]]
    given, pos_values, after_dd = {}, [], None
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok == "--":
            after_dd = rest[i + 1:]
            break
        trailing_mode = bool(trailing and pos_values)
        if tok.startswith("-") and tok != "-" and not trailing_mode:
            k, v, i = _take_flag(rest, i, flags, path)
            if k in given and not flags[k]["rep"]:
                raise UsageError("the argument '%s' cannot be used multiple times" % _disp(k, flags[k]), path)
            given.setdefault(k, []).append(v)
            continue
        pos_values.append(tok)
        i += 1
    fixed = [p for p in positionals if not p["dd_only"]]
    dd_only = [p for p in positionals if p["dd_only"]]
    if after_dd is not None and not dd_only:
        pos_values.extend(after_dd)
    if not any(p["var"] for p in fixed) and len(pos_values) > len(fixed):
        raise UsageError("unexpected argument '%s' found" % pos_values[len(fixed)], path)
    for idx, p in enumerate(fixed):
        if p["req"] and idx >= len(pos_values):
            conflicting = [k for k, s in flags.items() if "<%s>" % p["name"] in s["conflicts"]]
            if not any(k in given for k in conflicting):
                raise UsageError("the following required arguments were not provided:", path,
                                 extra="  <%s>%s" % (p["name"], "..." if p["var"] else ""))
    for k, spec in node.get("flags", {}).items():
        if spec["req"] and k not in given:
            raise UsageError("the following required arguments were not provided:", path,
                             extra="  " + _disp(k, spec))
    for group in node.get("one_of") or []:
        if not any(k in given for k in group):
            raise UsageError("the following required arguments were not provided:", path,
                             extra="  <%s>" % "|".join(_disp(k, flags[k]) for k in group))
    present = set(given)
    if pos_values:
        present |= {"<%s>" % p["name"] for p in fixed[: len(pos_values)]}
    if after_dd:
        present |= {"<%s>" % p["name"] for p in positionals if p["dd_only"] or p["var"]}
    for k in given:
        spec = flags[k]
        for other in spec["conflicts"]:
            if other in present:
                odisp = other if other.startswith("<") else _disp(other, flags[other])
                raise UsageError("the argument '%s' cannot be used with '%s'" % (_disp(k, spec), odisp), path)
        for need in spec["requires"]:
            if need not in present:
                raise UsageError("the following required arguments were not provided:", path,
                                 extra="  " + _disp(need, flags[need]))
    # assign positionals
    pos = {}
    vals = list(pos_values)
    for p in fixed:
        if p["var"]:
            pos[p["name"]] = vals
            vals = []
        else:
            pos[p["name"]] = vals.pop(0) if vals else None
    for p in dd_only:
        pos[p["name"]] = list(after_dd) if after_dd is not None else []
    # global flags given after the subcommand
    for g in list(given):
        if g in GLOBAL_FLAGS:
            globals_.setdefault(g, []).extend(given.pop(g))
    return Parsed(key, given, pos, _last(globals_))


def _last(globals_):
    out = {}
    for k, v in globals_.items():
        out[k] = len(v) if k == "--verbose" else v[-1]
    return out


def _walk_names(tokens):
    path = []
    for tok in tokens:
        if tok.startswith("-"):
            continue
        cand = path + [tok]
        ckey = " ".join(cand)
        if ckey in COMMANDS or ckey in GROUPS or ckey in UNSIMULATED:
            path = cand
        elif tuple(cand) in ALIASES:
            path = path + [ALIASES[tuple(cand)]]
        else:
            break
    return tuple(path)


def usage_line(path):
    key = " ".join(path)
    prog = "openshell" + ((" " + key) if key else "")
    if key in GROUPS or key not in COMMANDS:
        return "Usage: %s [OPTIONS] <COMMAND>" % prog
    node = COMMANDS[key]
    parts = [prog, "[OPTIONS]"]
    for k, s in node.get("flags", {}).items():
        if s["req"]:
            parts.append(_disp(k, s))
    for p in node.get("pos", []):
        n = "<%s>" % p["name"] if p["req"] else "[%s]" % p["name"]
        if p["var"]:
            n += "..."
        if p["dd_only"]:
            n = "[-- %s]" % n
        parts.append(n)
    return "Usage: " + " ".join(parts)


def help_text(path):
    key = " ".join(path)
    lines = []
    if key in GROUPS:
        lines.append(GROUPS.get(key) if key else "OpenShell CLI (simulator)")
        lines.append("")
        lines.append(usage_line(path))
        lines.append("")
        lines.append("Commands:")
        for child in sorted(_children(key)):
            lines.append("  " + child)
    else:
        lines.append(usage_line(path))
        node = COMMANDS.get(key, {})
        if node.get("pos"):
            lines.append("")
            lines.append("Arguments:")
            for p in node["pos"]:
                lines.append("  %s" % (("<%s>" if p["req"] else "[%s]") % p["name"]))
        lines.append("")
        lines.append("Options:")
        for k, s in node.get("flags", {}).items():
            lines.append("  %s%s" % ((s["short"] + ", ") if s["short"] else "    ", _disp(k, s)))
    lines.append("")
    lines.append("Global options:")
    for k, s in GLOBAL_FLAGS.items():
        lines.append("  %s%s" % ((s["short"] + ", ") if s["short"] else "    ", _disp(k, s)))
    return "\n".join(lines) + "\n"
