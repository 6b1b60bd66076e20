"""Sandbox policy model: parse, validate (like the server), canonicalise, hash, merge.

Used by the gateway. YAML is parsed with PyYAML when importable, otherwise the
document must be JSON (JSON is valid YAML for serde).
"""
import copy
import hashlib
import json


class PolicyError(Exception):
    """Raised with (headline, detail) like `failed to parse sandbox policy YAML` + cause."""

    def __init__(self, headline, detail=None):
        Exception.__init__(self, headline)
        self.headline = headline
        self.detail = detail


class PolicyInvalid(Exception):
    """Server-side validation failure (InvalidArgument / FailedPrecondition message)."""


DEFAULT_POLICY = {
    "version": 1,
    "filesystem_policy": {
        "include_workdir": True,
        "read_only": ["/usr", "/lib", "/proc", "/dev/urandom", "/app", "/etc", "/var/log"],
        "read_write": ["/tmp", "/dev/null"],
    },
    "landlock": {"compatibility": "best_effort"},
    "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
}

_S, _I, _B, _LS, _O = "string", "int", "bool", "list[string]", "object"

ALLOW_FIELDS = {"method": _S, "path": _S, "query": _O, "operation_type": _S, "operation_name": _S,
                "fields": _LS, "tool": _S, "params": _O, "command": _S}
ENDPOINT_FIELDS = {
    "host": _S, "port": _I, "ports": "list[int]", "path": _S, "protocol": _S, "tls": _S, "enforcement": _S,
    "access": _S, "rules": "rules", "deny_rules": "deny_rules", "allowed_ips": _LS, "allow_encoded_slash": _B,
    "websocket_credential_rewrite": _B, "request_body_credential_rewrite": _B,
    "allow_uninspected_credentials": _B, "credential_signing": _S, "signing_service": _S, "signing_region": _S,
    "credential_binding": "credential_binding", "persisted_queries": _S, "graphql_persisted_queries": _O,
    "graphql_max_body_bytes": _I, "mcp": "mcp", "json_rpc": "json_rpc",
}
ENUMS = {
    "protocol": ("tcp", "rest", "websocket", "graphql", "mcp", "json-rpc", "sql"),
    "tls": ("skip", "terminate", "passthrough"),
    "enforcement": ("enforce", "audit"),
    "access": ("read-only", "read-write", "full"),
    "credential_signing": ("sigv4", "sigv4:body", "sigv4:no_body"),
    "persisted_queries": ("deny", "allow_registered"),
    "compatibility": ("best_effort", "hard_requirement"),
    "on_error": ("fail_closed", "fail_open"),
}


def _typename(v):
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a sequence"
    if isinstance(v, dict):
        return "a map"
    return "null"


def _fail(where, msg):
    raise PolicyError("failed to parse sandbox policy YAML", "%s%s" % (("%s: " % where) if where else "", msg))


def _check_map(obj, allowed, where):
    if not isinstance(obj, dict):
        _fail(where, "invalid type: %s, expected struct" % _typename(obj))
    for k in obj:
        if k not in allowed:
            _fail(where, "unknown field `%s`, expected one of %s" % (k, ", ".join("`%s`" % a for a in allowed)))


def _check_type(v, t, where):
    ok = {
        _S: isinstance(v, str), _I: isinstance(v, int) and not isinstance(v, bool), _B: isinstance(v, bool),
        _LS: isinstance(v, list) and all(isinstance(x, str) for x in v), _O: isinstance(v, (dict, list, str)),
        "list[int]": isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
    }.get(t, True)
    if not ok:
        _fail(where, "invalid type: %s, expected %s" % (_typename(v), t))


def _enum(v, field, where):
    if field in ENUMS and v not in ENUMS[field]:
        _fail(where, "unknown variant `%s`, expected one of %s" % (v, ", ".join("`%s`" % e for e in ENUMS[field])))


def _check_endpoint(ep, where):
    _check_map(ep, list(ENDPOINT_FIELDS), where)
    for k, v in ep.items():
        t = ENDPOINT_FIELDS[k]
        w = "%s.%s" % (where, k)
        if t == "rules":
            if not isinstance(v, list):
                _fail(w, "invalid type: %s, expected a sequence" % _typename(v))
            for i, r in enumerate(v):
                _check_map(r, ["allow"], "%s[%d]" % (w, i))
                if "allow" in r:
                    _check_map(r["allow"], list(ALLOW_FIELDS), "%s[%d].allow" % (w, i))
        elif t == "deny_rules":
            if not isinstance(v, list):
                _fail(w, "invalid type: %s, expected a sequence" % _typename(v))
            for i, r in enumerate(v):
                _check_map(r, list(ALLOW_FIELDS), "%s[%d]" % (w, i))
        elif t == "credential_binding":
            _check_map(v, ["provider"], w)
        elif t == "mcp":
            _check_map(v, ["max_body_bytes", "strict_tool_names", "allow_all_known_mcp_methods"], w)
        elif t == "json_rpc":
            _check_map(v, ["max_body_bytes"], w)
        else:
            _check_type(v, t, w)
            _enum(v, k, w)
    if "port" in ep and not (1 <= ep["port"] <= 65535):
        _fail(where + ".port", "invalid value: integer `%d`, expected port 1-65535" % ep["port"])
    for p in ep.get("ports") or []:
        if not (1 <= p <= 65535):
            _fail(where + ".ports", "invalid value: integer `%d`, expected port 1-65535" % p)
    if "access" in ep and ep.get("rules"):
        raise PolicyInvalid("endpoint %s: 'access' and 'rules' are mutually exclusive" % ep.get("host", "?"))


def parse_text(text):
    """Parse policy text (YAML or JSON) into a plain document and validate it."""
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            import yaml  # noqa: lazy, optional
        except ImportError:
            raise PolicyError("failed to parse sandbox policy YAML",
                              "simulator gateway has no YAML parser (PyYAML missing); submit JSON instead")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError("failed to parse sandbox policy YAML", str(exc).replace("\n", " "))
    return validate(doc)


def validate(doc):
    if not isinstance(doc, dict):
        _fail("", "invalid type: %s, expected struct PolicyFile" % _typename(doc))
    top = ["version", "filesystem_policy", "landlock", "process", "network_policies", "network_middlewares"]
    _check_map(doc, top, "")
    if "version" not in doc:
        _fail("", "missing field `version`")
    _check_type(doc["version"], _I, "version")
    fs = doc.get("filesystem_policy")
    if fs is not None:
        _check_map(fs, ["include_workdir", "read_only", "read_write"], "filesystem_policy")
        for k, t in (("include_workdir", _B), ("read_only", _LS), ("read_write", _LS)):
            if k in fs:
                _check_type(fs[k], t, "filesystem_policy." + k)
    ll = doc.get("landlock")
    if ll is not None:
        _check_map(ll, ["compatibility"], "landlock")
        if "compatibility" in ll:
            _enum(ll["compatibility"], "compatibility", "landlock.compatibility")
    pr = doc.get("process")
    if pr is not None:
        _check_map(pr, ["run_as_user", "run_as_group"], "process")
        for k in pr:
            _check_type(pr[k], _S, "process." + k)
    nps = doc.get("network_policies") or {}
    if not isinstance(nps, dict):
        _fail("network_policies", "invalid type: %s, expected a map" % _typename(nps))
    for key, rule in nps.items():
        w = "network_policies.%s" % key
        _check_map(rule, ["name", "endpoints", "binaries"], w)
        if "name" in rule:
            _check_type(rule["name"], _S, w + ".name")
        for i, ep in enumerate(rule.get("endpoints") or []):
            _check_endpoint(ep, "%s.endpoints[%d]" % (w, i))
        for i, b in enumerate(rule.get("binaries") or []):
            _check_map(b, ["path", "harness"], "%s.binaries[%d]" % (w, i))
    mws = doc.get("network_middlewares") or {}
    if not isinstance(mws, dict):
        _fail("network_middlewares", "invalid type: %s, expected a map" % _typename(mws))
    for key, mw in mws.items():
        w = "network_middlewares.%s" % key
        _check_map(mw, ["name", "middleware", "order", "config", "on_error", "endpoints"], w)
        if "middleware" not in mw:
            _fail(w, "missing field `middleware`")
        if "on_error" in mw:
            _enum(mw["on_error"], "on_error", w + ".on_error")
        _check_map(mw.get("endpoints") or {}, ["include", "exclude"], w + ".endpoints")
        if not (mw.get("endpoints") or {}).get("include"):
            raise PolicyInvalid("network middleware '%s': endpoints.include must not be empty" % key)
    if len(mws) > 10:
        raise PolicyInvalid("at most 10 network middleware configs are allowed")
    # semantic validation (server side)
    if doc["version"] != 1:
        raise PolicyInvalid("unsupported policy version %d; expected 1" % doc["version"])
    for key in nps:
        if key.startswith("_provider_"):
            raise PolicyInvalid("network policy key '%s' uses reserved prefix '_provider_'" % key)
    if fs:
        paths = list(fs.get("read_only") or []) + list(fs.get("read_write") or [])
        if len(paths) > 256:
            raise PolicyInvalid("filesystem policy has too many paths (%d > 256)" % len(paths))
        for p in paths:
            if not p.startswith("/"):
                raise PolicyInvalid("filesystem path must be absolute: %s" % p)
            if ".." in p.split("/"):
                raise PolicyInvalid("filesystem path must not contain '..': %s" % p)
        for p in fs.get("read_write") or []:
            if p == "/":
                raise PolicyInvalid("read_write path must not be '/'")
    if pr:
        for k in ("run_as_user", "run_as_group"):
            v = pr.get(k, "")
            if v and v != "sandbox" and not (v.isdigit() and 1 <= int(v) <= 4294967294):
                raise PolicyInvalid("process.%s must be 'sandbox' or a numeric id, got '%s'" % (k, v))
    return canonical(doc)


def canonical(doc):
    """Drop empty/default fields (the real JSON view omits them); fill process identity."""
    out = {"version": doc.get("version", 1)}
    fs = doc.get("filesystem_policy")
    if fs is not None:
        f = {}
        if fs.get("include_workdir"):
            f["include_workdir"] = True
        if fs.get("read_only"):
            f["read_only"] = list(fs["read_only"])
        if fs.get("read_write"):
            f["read_write"] = list(fs["read_write"])
        out["filesystem_policy"] = f
    ll = doc.get("landlock")
    if ll is not None:
        out["landlock"] = {"compatibility": ll.get("compatibility") or "best_effort"}
    pr = dict(doc.get("process") or {})
    out["process"] = {"run_as_user": pr.get("run_as_user") or "sandbox",
                      "run_as_group": pr.get("run_as_group") or "sandbox"}
    nps = {}
    for key, rule in (doc.get("network_policies") or {}).items():
        r = {"name": rule.get("name") or key}
        eps = []
        for ep in rule.get("endpoints") or []:
            e = {k: copy.deepcopy(v) for k, v in ep.items() if v not in (None, "", [], {}, False)}
            eps.append(e)
        if eps:
            r["endpoints"] = eps
        bins = [{"path": b.get("path", "")} for b in rule.get("binaries") or []]
        if bins:
            r["binaries"] = bins
        nps[key] = r
    if nps:
        out["network_policies"] = nps
    mws = {}
    for key, mw in (doc.get("network_middlewares") or {}).items():
        m = {k: copy.deepcopy(v) for k, v in mw.items() if v not in (None, "", [], {})}
        mws[key] = m
    if mws:
        out["network_middlewares"] = mws
    return out


def policy_hash(doc):
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_static_change(baseline, new):
    """Live-sandbox rules: filesystem may only grow; landlock and process must be identical."""
    bfs = baseline.get("filesystem_policy") or {}
    nfs = new.get("filesystem_policy") or {}
    if bfs.get("include_workdir", False) != nfs.get("include_workdir", False) and bfs:
        raise PolicyInvalid("filesystem include_workdir cannot be changed on a live sandbox")
    for k in ("read_only", "read_write"):
        removed = [p for p in bfs.get(k) or [] if p not in (nfs.get(k) or [])]
        if removed:
            raise PolicyInvalid("filesystem %s path '%s' cannot be removed on a live sandbox" % (k, removed[0]))
    if (baseline.get("landlock") or {}) != (new.get("landlock") or {}):
        raise PolicyInvalid("landlock policy cannot be changed on a live sandbox (applied at startup)")
    if (baseline.get("process") or {}) != (new.get("process") or {}):
        raise PolicyInvalid("process policy cannot be changed on a live sandbox (applied at startup)")


def generated_rule_name(host, port):
    s = host.replace(".", "_").replace("-", "_")
    s = "".join(c for c in s if c.isalnum() or c == "_")
    return "allow_%s_%s" % (s, port)


def apply_ops(doc, ops):
    """Apply `policy update` merge operations (built by the CLI) to network_policies."""
    doc = copy.deepcopy(doc)
    nps = doc.setdefault("network_policies", {})
    for op in ops:
        kind = op["op"]
        if kind == "add_endpoint":
            ep = op["endpoint"]
            name = op.get("rule_name") or generated_rule_name(ep["host"], ep["port"])
            rule = nps.setdefault(name, {"name": name})
            eps = rule.setdefault("endpoints", [])
            existing = [e for e in eps if e.get("host") == ep["host"] and e.get("port") == ep["port"]]
            if existing:
                existing[0].update(ep)
            else:
                eps.append(dict(ep))
            bins = rule.setdefault("binaries", [])
            for b in op.get("binaries") or []:
                if {"path": b} not in bins:
                    bins.append({"path": b})
            if not bins:
                rule.pop("binaries")
        elif kind == "remove_endpoint":
            host, port = op["host"], op["port"]
            for key in list(nps):
                eps = nps[key].get("endpoints") or []
                keep = [e for e in eps if not (e.get("host") == host and e.get("port") == port)]
                if len(keep) != len(eps):
                    if keep:
                        nps[key]["endpoints"] = keep
                    else:
                        del nps[key]
        elif kind == "remove_rule":
            if op["name"] not in nps:
                raise PolicyInvalid("network policy rule '%s' not found" % op["name"])
            del nps[op["name"]]
        elif kind in ("add_allow", "add_deny"):
            host, port = op["host"], op["port"]
            target = None
            for rule in nps.values():
                for e in rule.get("endpoints") or []:
                    if e.get("host") == host and e.get("port") == port:
                        target = e
                        break
                if target is not None:
                    break
            if target is None:
                raise PolicyInvalid("no endpoint %s:%s in policy for %s rule" % (
                    host, port, "allow" if kind == "add_allow" else "deny"))
            target.setdefault("protocol", "rest")
            if kind == "add_allow":
                target.pop("access", None)
                target.setdefault("rules", []).append({"allow": {"method": op["method"], "path": op["path"]}})
            else:
                target.setdefault("deny_rules", []).append({"method": op["method"], "path": op["path"]})
    if not nps:
        doc.pop("network_policies", None)
    return validate(doc)


def merge_rule(doc, rule_name, rule):
    """Merge an approved draft rule into network_policies."""
    doc = copy.deepcopy(doc)
    nps = doc.setdefault("network_policies", {})
    cur = nps.setdefault(rule_name, {"name": rule_name})
    eps = cur.setdefault("endpoints", [])
    for ep in rule.get("endpoints") or []:
        if not any(e.get("host") == ep.get("host") and e.get("port") == ep.get("port") for e in eps):
            eps.append(dict(ep))
    bins = cur.setdefault("binaries", [])
    for b in rule.get("binaries") or []:
        if b not in bins:
            bins.append(dict(b))
    if not bins:
        cur.pop("binaries")
    return validate(doc)
