"""Simulated `openshell-gateway`: HTTP/1.1 + JSON on loopback, state in sqlite.

RPC: POST /rpc/<Method> with a JSON body; the answer is JSON, either
{"ok": {...}} or {"error": {"code": "<gRPC code>", "message": "..."}}.
GET /healthz answers 200 "ok".
"""
import base64
import hashlib
import json
import os
import posixpath
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import version
from . import policy as pol
from .util import now_ms, normalize_provider_type  # noqa: F401

WORKSPACE_DEFAULT = "default"
REGISTERED_SETTINGS = {
    "agent_policy_proposals_enabled": "bool",
    "ocsf_json_enabled": "bool",
    "proposal_approval_mode": "string",
    "providers_v2_enabled": "bool",
}
MAX_PROVIDERS_PER_SANDBOX = 32


class RpcError(Exception):
    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


class PlainError(Exception):
    """Error the CLI renders without a gRPC prefix (client-side style), optional cause chain."""

    def __init__(self, message, causes=()):
        Exception.__init__(self, message)
        self.message = message
        self.causes = list(causes)


def not_found(msg):
    return RpcError("NotFound", msg)


def invalid(msg):
    return RpcError("InvalidArgument", msg)


def precondition(msg):
    return RpcError("FailedPrecondition", msg)


def _speaks_0_1():
    """The gateway follows OpenShell 0.1.x's sandbox lifecycle (Completed, exit_code; tests/contract/0.1.5)."""
    return tuple(int(x) for x in re.findall(r"\d+", version())[:2]) >= (0, 1)


# ----------------------------------------------------------------------------- config

def _parse_toml_subset(text):
    """Tiny TOML reader: [tables], key = "string" | int | bool | [list of strings]."""
    data, cur = {}, None
    cur = data
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if '"' not in raw else raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[([A-Za-z0-9_.\-]+)\]$", line)
        if m:
            cur = data
            for part in m.group(1).split("."):
                cur = cur.setdefault(part, {})
            continue
        m = re.match(r'^([A-Za-z0-9_\-]+)\s*=\s*(.+)$', line)
        if not m:
            continue
        key, val = m.group(1), m.group(2).strip()
        if val.startswith('"'):
            end = val.index('"', 1)
            cur[key] = val[1:end]
        elif val in ("true", "false"):
            cur[key] = val == "true"
        elif val.startswith("["):
            cur[key] = re.findall(r'"([^"]*)"', val)
        else:
            try:
                cur[key] = int(val.split()[0])
            except ValueError:
                cur[key] = val
    return data


def load_toml(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        import tomllib  # Python 3.11+
        return tomllib.loads(raw.decode("utf-8"))
    except ImportError:
        return _parse_toml_subset(raw.decode("utf-8"))


def default_config_path():
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        p = os.path.join(xdg, "openshell", "gateway.toml")
        if os.path.isfile(p):
            return p
    p = os.path.join(os.path.expanduser("~"), ".config", "openshell", "gateway.toml")
    return p if os.path.isfile(p) else None


def resolve_listen(args):
    toml_ip = toml_port = None
    cfg = args.config or os.environ.get("OPENSHELL_GATEWAY_CONFIG") or default_config_path()
    if cfg:
        data = load_toml(cfg)
        ba = ((data.get("openshell") or {}).get("gateway") or {}).get("bind_address")
        if ba:
            host, _sep, port = ba.rpartition(":")
            toml_ip, toml_port = host.strip("[]"), int(port)
    ip = args.bind_address or os.environ.get("OPENSHELL_BIND_ADDRESS") or toml_ip or "127.0.0.1"
    port = args.port
    if port is None:
        env = os.environ.get("OPENSHELL_SERVER_PORT")
        port = int(env) if env else (toml_port if toml_port is not None else 17670)
    return ip, int(port)


def db_path():
    url = os.environ.get("OPENSHELL_DB_URL")
    if url:
        if not url.startswith("sqlite:"):
            raise SystemExit("openshell-gateway (simulator): only sqlite: database URLs are supported")
        path = url[len("sqlite:"):]
        if path.startswith("//"):
            path = path[2:]
        path = path.split("?", 1)[0]
        return os.path.expanduser(path)
    return os.path.expanduser("~/.local/state/openshell/gateway/openshell.db")


# ----------------------------------------------------------------------------- faults

class Faults(object):
    def __init__(self, path):
        self.path = path
        self.sig = None
        self.data = {}
        self.lock = threading.Lock()

    def load(self):
        if not self.path:
            return {}
        with self.lock:
            try:
                st = os.stat(self.path)
                sig = (st.st_mtime_ns, st.st_size)
            except OSError:
                self.sig, self.data = None, {}
                return self.data
            if sig != self.sig:
                try:
                    with open(self.path, encoding="utf-8") as fh:
                        self.data = json.load(fh) or {}
                except (OSError, ValueError):
                    self.data = {}
                self.sig = sig
            return self.data


# ----------------------------------------------------------------------------- store

class Store(object):
    def __init__(self, path):
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS objects (kind TEXT, ws TEXT, name TEXT, doc TEXT,"
                          " PRIMARY KEY (kind, ws, name))")
        self.conn.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT)")
        self.lock = threading.RLock()

    def tx(self):
        return _Tx(self)


class _Tx(object):
    def __init__(self, store):
        self.store = store
        self.c = store.conn

    def __enter__(self):
        self.store.lock.acquire()
        self.c.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, et, ev, tb):
        try:
            if et is None:
                self.c.execute("COMMIT")
            else:
                self.c.execute("ROLLBACK")
        finally:
            self.store.lock.release()
        return False

    def get(self, kind, ws, name):
        row = self.c.execute("SELECT doc FROM objects WHERE kind=? AND ws=? AND name=?", (kind, ws, name)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind, ws, name, doc):
        self.c.execute("INSERT OR REPLACE INTO objects (kind, ws, name, doc) VALUES (?,?,?,?)",
                       (kind, ws, name, json.dumps(doc, sort_keys=True)))

    def delete(self, kind, ws, name):
        return self.c.execute("DELETE FROM objects WHERE kind=? AND ws=? AND name=?", (kind, ws, name)).rowcount > 0

    def list(self, kind, ws=None):
        if ws is None:
            rows = self.c.execute("SELECT doc FROM objects WHERE kind=? ORDER BY ws, name", (kind,)).fetchall()
        else:
            rows = self.c.execute("SELECT doc FROM objects WHERE kind=? AND ws=? ORDER BY name", (kind, ws)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def kv_get(self, key, default=None):
        row = self.c.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def kv_put(self, key, value):
        self.c.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?,?)", (key, json.dumps(value, sort_keys=True)))


# ----------------------------------------------------------------------------- helpers

def validate_sandbox_name(name):
    if len(name) > 19:
        raise invalid("name exceeds maximum length (%d > 19)" % len(name))
    if not re.match(r"^[a-z0-9-]+$", name):
        raise invalid("name must contain only lowercase alphanumeric characters or hyphens")
    if name.startswith("-") or name.endswith("-"):
        raise invalid("name must not start or end with a hyphen")
    if "--" in name:
        raise invalid("name must not contain consecutive hyphens")


_ADJ = ["brave", "calm", "eager", "fancy", "jolly", "keen", "lucid", "merry", "noble", "proud", "quick", "swift"]
_NOUN = ["otter", "falcon", "lynx", "heron", "badger", "cobra", "ibis", "marten", "panda", "raven", "tapir", "yak"]


def cred_digest(key, value):
    # Secret values are never stored: only a salted digest (to detect "changed").
    return hashlib.sha256(("openshell-sim:%s:%s" % (key, value)).encode()).hexdigest()[:16]


class Gateway(object):
    def __init__(self, store, faults, state_dir):
        self.store = store
        self.faults = faults
        self.state_dir = state_dir
        self.ready_delay = float(os.environ.get("OPENSHELL_SIM_READY_DELAY", "0.2"))
        self._injected = set()

    # ---------------------------------------------------------------- dispatch
    def call(self, method, req):
        faults = self.faults.load()
        lat = faults.get("latency_ms")
        if lat:
            time.sleep(float(lat) / 1000.0)
        if faults.get("unavailable"):
            self._consume_unavailable(faults)
        elif faults.get("pending_requests") is not None:
            pass
        if faults.get("pending_requests"):
            self._inject_requests(faults["pending_requests"])
        fn = getattr(self, "rpc_" + method, None)
        if fn is None:
            raise RpcError("Unimplemented", "method %s is not implemented by the simulator" % method)
        return fn(req, faults)

    def _consume_unavailable(self, faults):
        n = int(faults.get("unavailable") or 0)
        sig = hashlib.sha256(json.dumps([self.faults.sig, n]).encode()).hexdigest()
        with self.store.tx() as t:
            st = t.kv_get("fault:unavailable", {})
            if st.get("sig") != sig:
                st = {"sig": sig, "remaining": n}
            hit = st["remaining"] > 0
            if hit:
                st["remaining"] -= 1
            t.kv_put("fault:unavailable", st)
        if hit:
            raise RpcError("Unavailable", "simulated outage (OPENSHELL_SIM_FAULTS unavailable)")

    def _inject_requests(self, reqs):
        for entry in reqs:
            key = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
            if key in self._injected:
                continue
            with self.store.tx() as t:
                if t.kv_get("fault:injected:" + key):
                    self._injected.add(key)
                    continue
                ws = entry.get("workspace") or WORKSPACE_DEFAULT
                sb = t.get("sandbox", ws, entry.get("sandbox", ""))
                if sb is None:
                    continue  # retried on a later request, once the sandbox exists
                host, port = entry["host"], int(entry.get("port", 443))
                ep = {"host": host, "port": port}
                for k in ("protocol", "access"):
                    if entry.get(k):
                        ep[k] = entry[k]
                binary = entry.get("binary", "")
                rule = {"name": entry.get("rule_name") or pol.generated_rule_name(host, port), "endpoints": [ep]}
                if binary:
                    rule["binaries"] = [{"path": binary}]
                flagged = bool(entry.get("security_flagged"))
                ts = now_ms()
                chunk = {
                    "id": entry.get("id") or str(uuid.uuid4()),
                    "status": "pending",
                    "rule_name": rule["name"],
                    "binary": binary,
                    "confidence": float(entry.get("confidence", 0.9)),
                    "rationale": entry.get("rationale") or "Observed denied connection to %s:%d%s" % (
                        host, port, (" from " + binary) if binary else ""),
                    "security_notes": (entry.get("security_notes") or "Destination flagged by security review")
                    if flagged else "",
                    "security_flagged": flagged,
                    "proposed_rule": rule,
                    "hit_count": int(entry.get("hit_count", 1)),
                    "first_seen_ms": ts, "last_seen_ms": ts,
                    "review_token": uuid.uuid4().hex,
                }
                sb.setdefault("chunks", []).append(chunk)
                sb["draft_version"] = sb.get("draft_version", 0) + 1
                sb.setdefault("history", []).append({"timestamp_ms": ts, "event_type": "proposed",
                                                     "chunk_id": chunk["id"],
                                                     "description": "%s -> %s:%d" % (rule["name"], host, port)})
                t.put("sandbox", ws, sb["name"], sb)
                t.kv_put("fault:injected:" + key, True)
                self._injected.add(key)

    # ---------------------------------------------------------------- sandbox helpers
    def _refresh(self, sb, faults):
        """Advance time-driven state (Provisioning -> Ready, policy loading). Returns True if changed."""
        changed = False
        never = faults.get("never_ready_images") or []
        image = sb.get("image", "")
        stuck = any(n and (n == image or n in image) for n in never)
        if sb["phase"] in ("Provisioning", "Starting") and not stuck and time.time() >= sb.get("ready_at", 0):
            sb["phase"] = "Ready"
            sb["resource_version"] += 1
            changed = True
        if sb["phase"] == "Ready" and self._main_process_exit(sb, faults):
            changed = True
        if sb["phase"] == "Ready":
            mode = faults.get("policy_load")
            for rev in sb.get("revisions", []):
                if rev["status"] == "pending" and mode not in ("pending", "failed"):
                    rev["status"] = "loaded"
                    rev["loaded_at_ms"] = now_ms()
                    for older in sb["revisions"]:
                        if older["version"] < rev["version"] and older["status"] in ("loaded", "pending"):
                            older["status"] = "superseded"
                    sb["current_policy_version"] = rev["version"]
                    changed = True
                elif rev["status"] == "pending" and mode == "failed":
                    rev["status"] = "failed"
                    rev["load_error"] = faults.get("policy_load_error") or "simulated policy load failure"
                    changed = True
        return changed

    @staticmethod
    def _main_process_exit(sb, faults):
        """Fault ``main_process_exits`` ([{"name": SANDBOX, "exit_code": N}]): the Ready sandbox's main process
        exits, once per sandbox. OpenShell 0.1.x: exit 0 leaves Completed, nonzero Error (MainProcessFailed),
        exit_code set; 0.0.x: any exit leaves Error and reports no exit code."""
        for entry in faults.get("main_process_exits") or []:
            if entry.get("name") != sb["name"] or sb.get("main_process_exited"):
                continue
            code = int(entry.get("exit_code") or 0)
            sb["main_process_exited"] = True
            if _speaks_0_1():
                sb["phase"] = "Completed" if code == 0 else "Error"
                sb["exit_code"] = code
            else:
                sb["phase"] = "Error"
            sb["resource_version"] += 1
            return True
        return False

    def _get_sb(self, t, ws, name, faults):
        sb = t.get("sandbox", ws, name)
        if sb is None:
            raise not_found("sandbox not found")
        if self._refresh(sb, faults):
            t.put("sandbox", ws, name, sb)
        return sb

    @staticmethod
    def _sb_public(sb):
        keys = ("id", "name", "workspace", "labels", "created_at_ms", "resource_version", "phase",
                "current_policy_version", "exit_code")
        return {k: sb.get(k) for k in keys}

    def _latest_rev(self, sb):
        revs = sb.get("revisions") or []
        return revs[-1] if revs else None

    def _effective(self, t, sb):
        gp = t.kv_get("global_policy")
        latest = self._latest_rev(sb)
        cfg = {
            "policy": latest["policy"] if latest else None,
            "policy_hash": latest["hash"] if latest else "",
            "version": latest["version"] if latest else 0,
            "policy_source": "sandbox",
            "global_policy_version": 0,
            "config_revision": sb.get("config_revision", 0),
        }
        if gp:
            cfg.update({"policy": gp["policy"], "policy_hash": gp["hash"], "policy_source": "global",
                        "global_policy_version": gp["version"]})
        gs = t.kv_get("global_settings", {})
        settings = {}
        for key in sorted(REGISTERED_SETTINGS):
            if key in gs:
                settings[key] = {"scope": "global", "value": gs[key]}
            elif key in (sb.get("settings") or {}):
                settings[key] = {"scope": "sandbox", "value": sb["settings"][key]}
            else:
                settings[key] = {"scope": "unset", "value": None}
        cfg["settings"] = settings
        return cfg

    def _add_revision(self, sb, doc):
        h = pol.policy_hash(doc)
        latest = self._latest_rev(sb)
        if latest and latest["hash"] == h:
            return latest, False
        version_ = (latest["version"] + 1) if latest else 1
        for r in sb.setdefault("revisions", []):
            if r["status"] == "pending":
                r["status"] = "superseded"
        rev = {"version": version_, "hash": h, "policy": doc, "status": "pending", "created_at_ms": now_ms(),
               "loaded_at_ms": 0, "load_error": ""}
        sb["revisions"].append(rev)
        if version_ > 1:
            sb["config_revision"] = sb.get("config_revision", 0) + 1
        sb["resource_version"] += 1
        return rev, True

    # ---------------------------------------------------------------- RPCs: gateway
    def rpc_Health(self, req, faults):
        return {"version": version(), "status": "healthy"}

    def rpc_GetGatewayInfo(self, req, faults):
        return {"version": version(), "status": "healthy",
                "compute_drivers": [{"name": "simulator",
                                     "capabilities": {"driver_name": "simulator", "driver_version": version()}}]}

    # ---------------------------------------------------------------- providers
    def rpc_CreateProvider(self, req, faults):
        ws = req["workspace"]
        with self.store.tx() as t:
            if t.get("provider", ws, req["name"]) is not None:
                raise RpcError("AlreadyExists", "provider already exists")
            doc = {"id": str(uuid.uuid4()), "name": req["name"], "workspace": ws, "type": req["type"],
                   "credentials": {k: cred_digest(k, v) for k, v in req.get("credentials", {}).items()},
                   "config": dict(req.get("config") or {}), "labels": {}, "resource_version": 1,
                   "created_at_ms": now_ms(), "credential_expires_at_ms": {}}
            t.put("provider", ws, req["name"], doc)
        return {"provider": self._prov_public(doc)}

    @staticmethod
    def _prov_public(doc):
        d = dict(doc)
        d["credential_keys"] = sorted(d.pop("credentials", {}))
        return d

    def rpc_GetProvider(self, req, faults):
        with self.store.tx() as t:
            doc = t.get("provider", req["workspace"], req["name"])
        if doc is None:
            raise not_found("provider not found")
        return {"provider": self._prov_public(doc)}

    def rpc_ProfileExists(self, req, faults):
        return {"type": normalize_provider_type(req["type"])}

    def rpc_ListProviders(self, req, faults):
        with self.store.tx() as t:
            docs = t.list("provider", None if req.get("all_workspaces") else req["workspace"])
        off, lim = int(req.get("offset") or 0), int(req.get("limit") or 100) or 100
        return {"providers": [self._prov_public(d) for d in docs[off:off + min(lim, 1000)]]}

    def rpc_UpdateProvider(self, req, faults):
        ws = req["workspace"]
        with self.store.tx() as t:
            doc = t.get("provider", ws, req["name"])
            if doc is None:
                raise not_found("provider not found")
            if req.get("type") and req["type"] != doc["type"]:
                raise invalid("provider type cannot be changed; delete and recreate the provider")
            for k, v in (req.get("credentials") or {}).items():
                if v == "":
                    doc["credentials"].pop(k, None)
                else:
                    doc["credentials"][k] = cred_digest(k, v)
            for k, v in (req.get("config") or {}).items():
                if v == "":
                    doc["config"].pop(k, None)
                else:
                    doc["config"][k] = v
            for k, v in (req.get("expires") or {}).items():
                if v == 0:
                    doc["credential_expires_at_ms"].pop(k, None)
                else:
                    doc["credential_expires_at_ms"][k] = v
            doc["resource_version"] += 1
            t.put("provider", ws, req["name"], doc)
        return {"provider": self._prov_public(doc)}

    def rpc_DeleteProvider(self, req, faults):
        ws = req["workspace"]
        with self.store.tx() as t:
            if t.get("provider", ws, req["name"]) is None:
                return {"deleted": False}
            users = [sb["name"] for sb in t.list("sandbox", ws) if req["name"] in (sb.get("providers") or [])]
            if users:
                raise precondition("provider '%s' is attached to sandbox(es): %s" % (req["name"], ", ".join(users)))
            t.delete("provider", ws, req["name"])
        return {"deleted": True}

    # ---------------------------------------------------------------- sandboxes
    def rpc_CreateSandbox(self, req, faults):
        ws = req["workspace"]
        name = req.get("name") or ""
        policy_doc = pol.DEFAULT_POLICY
        if req.get("policy_text") is not None:
            try:
                policy_doc = pol.parse_text(req["policy_text"])
            except pol.PolicyError as exc:
                raise PlainError(exc.headline, [exc.detail] if exc.detail else [])
            except pol.PolicyInvalid as exc:
                raise invalid(str(exc))
        policy_doc = pol.canonical(policy_doc)
        with self.store.tx() as t:
            if not name:
                import random
                for _attempt in range(100):
                    name = "%s-%s" % (random.choice(_ADJ), random.choice(_NOUN))
                    if t.get("sandbox", ws, name) is None:
                        break
            validate_sandbox_name(name)
            if t.get("sandbox", ws, name) is not None:
                raise RpcError("AlreadyExists", "sandbox '%s' already exists" % name)
            provs = list(req.get("providers") or [])
            if len(provs) > MAX_PROVIDERS_PER_SANDBOX:
                raise invalid("too many providers (%d > %d)" % (len(provs), MAX_PROVIDERS_PER_SANDBOX))
            for p in provs:
                if t.get("provider", ws, p) is None:
                    raise precondition("provider '%s' not found" % p)
            sb = {
                "id": str(uuid.uuid4()), "name": name, "workspace": ws, "labels": dict(req.get("labels") or {}),
                "created_at_ms": now_ms(), "resource_version": 1, "phase": "Provisioning",
                "ready_at": time.time() + self.ready_delay, "current_policy_version": 0,
                "image": req.get("image") or "", "gpu": req.get("gpu"), "cpu": req.get("cpu"),
                "memory": req.get("memory"), "env": dict(req.get("env") or {}), "providers": provs,
                "command": req.get("command") or [], "driver_config": req.get("driver_config"),
                "settings": {}, "config_revision": 0, "revisions": [], "chunks": [], "history": [],
                "draft_version": 0, "baseline": policy_doc,
            }
            if req.get("approval_mode") and req["approval_mode"] != "manual":
                sb["settings"]["proposal_approval_mode"] = req["approval_mode"]
            self._add_revision(sb, policy_doc)
            t.put("sandbox", ws, name, sb)
        os.makedirs(self._sandbox_home(sb), exist_ok=True)
        return {"sandbox": self._sb_public(sb)}

    def _sandbox_root(self, sb):
        return os.path.join(self.state_dir, "sandboxes", sb["id"])

    def _sandbox_home(self, sb):
        return os.path.join(self._sandbox_root(sb), "sandbox")

    # Every simulated image ships two stub agents, so health checks and agent commands run for
    # real: `<agent> health [--json]` and `<agent> --version`. `health --json` reads the agent's own
    # configuration file (OpenClaw ~/.openclaw/openclaw.json, Hermes ~/.hermes/config.yaml, JSON)
    # and reports the channels it enables and the MCP servers it lists.
    AGENT_STUB = """#!/usr/bin/env python3
# Simulated %(agent)s agent (OpenShell simulator image content).
import json, os, sys
AGENT, VERSION = "%(agent)s", "%(version)s"
CONFIG = {"openclaw": ".openclaw/openclaw.json", "hermes": ".hermes/config.yaml"}[AGENT]


def report():
    path = os.path.join(os.environ.get("HOME", "."), CONFIG)
    out = {"status": "ok", "agent": AGENT, "channels": [], "mcp_servers": []}
    if not os.path.exists(path):
        return out, 0
    try:
        with open(path) as fh:
            cfg = json.load(fh)
    except ValueError as exc:
        return dict(out, status="error", error="%%s: %%s" %% (CONFIG, exc)), 1
    chans = cfg.get("channels" if AGENT == "openclaw" else "platforms") or {}
    out["channels"] = sorted(k for k, v in chans.items() if isinstance(v, dict) and v.get("enabled"))
    servers = (cfg.get("mcp") or {}).get("servers") if AGENT == "openclaw" else cfg.get("mcp_servers")
    out["mcp_servers"] = sorted(servers or {})
    if AGENT == "openclaw":
        out["model"] = (((cfg.get("agents") or {}).get("defaults") or {}).get("model") or {}).get("primary")
    else:
        out["model"] = (cfg.get("model") or {}).get("default")
    return out, 0


args = sys.argv[1:]
if args[:1] in (["--version"], ["version"]):
    print("%%s %%s" %% (AGENT, VERSION))
elif args[:1] == ["health"]:
    doc, rc = report()
    print(json.dumps(doc) if args[1:2] == ["--json"] else doc["status"])
    sys.exit(rc)
else:
    sys.stderr.write("%%s: simulated agent; supported: health, --version\\n" %% AGENT)
    sys.exit(2)
"""
    AGENT_VERSIONS = {"openclaw": "2026.3.11", "hermes": "0.4.0"}

    def _agent_bin(self, sb):
        bindir = os.path.join(self._sandbox_root(sb), "opt", "agents", "bin")
        if not os.path.isdir(bindir):
            os.makedirs(bindir)
            for agent, version in self.AGENT_VERSIONS.items():
                path = os.path.join(bindir, agent)
                with open(path, "w") as fh:
                    fh.write(self.AGENT_STUB % {"agent": agent, "version": version})
                os.chmod(path, 0o755)
        return bindir

    def rpc_GetSandbox(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            out = {"sandbox": self._sb_public(sb)}
            if req.get("with_config"):
                out["config"] = self._effective(t, sb)
        return out

    def rpc_ListSandboxes(self, req, faults):
        with self.store.tx() as t:
            sbs = t.list("sandbox", None if req.get("all_workspaces") else req["workspace"])
            for sb in sbs:
                if self._refresh(sb, faults):
                    t.put("sandbox", sb["workspace"], sb["name"], sb)
        sel = req.get("selector") or {}
        sbs = [s for s in sbs if all(s["labels"].get(k) == v for k, v in sel.items())]
        sbs.sort(key=lambda s: (s["workspace"], s["created_at_ms"], s["name"]))
        off, lim = int(req.get("offset") or 0), int(req.get("limit") or 100) or 100
        return {"sandboxes": [self._sb_public(s) for s in sbs[off:off + min(lim, 1000)]]}

    def rpc_DeleteSandbox(self, req, faults):
        with self.store.tx() as t:
            sb = t.get("sandbox", req["workspace"], req["name"])
            if sb is None:
                raise not_found("sandbox not found")
            t.delete("sandbox", req["workspace"], req["name"])
        import shutil
        shutil.rmtree(self._sandbox_root(sb), ignore_errors=True)
        return {"deleted": True}

    def rpc_StopSandbox(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            if sb["phase"] == "Stopped":
                return {"sandbox": self._sb_public(sb)}
            if sb["phase"] != "Ready":
                raise precondition("sandbox must be Ready to stop (current phase: %s)" % sb["phase"])
            sb["phase"] = "Stopped"
            sb["resource_version"] += 1
            t.put("sandbox", sb["workspace"], sb["name"], sb)
        return {"sandbox": self._sb_public(sb)}

    def rpc_StartSandbox(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            if sb["phase"] == "Ready":
                return {"sandbox": self._sb_public(sb)}
            # 0.1.x also starts a Completed sandbox and one whose main process failed.
            startable = sb["phase"] == "Stopped" or (_speaks_0_1() and (
                sb["phase"] == "Completed" or (sb["phase"] == "Error" and sb.get("exit_code"))))
            if not startable:
                raise precondition("sandbox must be Stopped to start (current phase: %s)" % sb["phase"])
            sb["exit_code"] = None
            sb["phase"] = "Starting"
            sb["ready_at"] = time.time() + self.ready_delay
            sb["resource_version"] += 1
            t.put("sandbox", sb["workspace"], sb["name"], sb)
        return {"sandbox": self._sb_public(sb)}

    def rpc_ListSandboxProviders(self, req, faults):
        ws = req["workspace"]
        with self.store.tx() as t:
            sb = self._get_sb(t, ws, req["name"], faults)
            out = []
            for p in sb.get("providers") or []:
                doc = t.get("provider", ws, p)
                if doc is not None:
                    out.append(self._prov_public(doc))
        return {"providers": out}

    def rpc_AttachProvider(self, req, faults):
        ws = req["workspace"]
        with self.store.tx() as t:
            sb = self._get_sb(t, ws, req["name"], faults)
            if t.get("provider", ws, req["provider"]) is None:
                raise not_found("provider not found")
            if req["provider"] in sb["providers"]:
                return {"attached": False}
            if len(sb["providers"]) >= MAX_PROVIDERS_PER_SANDBOX:
                raise invalid("too many providers (max %d)" % MAX_PROVIDERS_PER_SANDBOX)
            sb["providers"].append(req["provider"])
            sb["resource_version"] += 1
            t.put("sandbox", ws, sb["name"], sb)
        return {"attached": True}

    def rpc_DetachProvider(self, req, faults):
        ws = req["workspace"]
        with self.store.tx() as t:
            sb = self._get_sb(t, ws, req["name"], faults)
            if req["provider"] not in sb["providers"]:
                return {"detached": False}
            sb["providers"].remove(req["provider"])
            sb["resource_version"] += 1
            t.put("sandbox", ws, sb["name"], sb)
        return {"detached": True}

    def rpc_Exec(self, req, faults):
        ws = req["workspace"]
        with self.store.tx() as t:
            sb = self._get_sb(t, ws, req["name"], faults)
        if sb["phase"] != "Ready":
            raise PlainError("sandbox '%s' is not ready (phase: %s); wait for it to reach Ready state"
                             % (sb["name"], sb["phase"]))
        command = list(req["command"])
        joined = " ".join(command)
        for f in faults.get("exec_failures") or []:
            img = f.get("image")
            if img and not (img == sb["image"] or img in sb["image"]):
                continue
            if f.get("sandbox") and f["sandbox"] != sb["name"]:
                continue
            if f.get("command_contains") and f["command_contains"] not in joined:
                continue
            return {"rc": int(f.get("rc", 1)), "stdout": base64.b64encode(f.get("stdout", "").encode()).decode(),
                    "stderr": base64.b64encode(f.get("stderr", "").encode()).decode()}
        home = self._sandbox_home(sb)
        os.makedirs(home, exist_ok=True)
        cwd = home
        if req.get("workdir"):
            wd = req["workdir"]
            # Resolved inside the sandbox's root as the sandbox sees it: '..' stops at its '/'
            # (--workdir /../../.. is the sandbox's root, never the host's), symlinks may not leave it.
            root = os.path.realpath(self._sandbox_root(sb))
            inner_home = "/" + os.path.relpath(os.path.realpath(home), root)
            inner = posixpath.normpath(wd if wd.startswith("/") else posixpath.join(inner_home, wd))
            cwd = os.path.realpath(os.path.join(root, inner.lstrip("/")))
            if os.path.commonpath([cwd, root]) != root or not os.path.isdir(cwd):
                return {"rc": 1, "stdout": "", "stderr": base64.b64encode(
                    ("failed to change directory to %s: No such file or directory\n" % wd).encode()).decode()}
        env = {"PATH": self._agent_bin(sb) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home,
               "USER": "sandbox", "LANG": "C.UTF-8", "OPENSHELL_SANDBOX": sb["name"],
               "OPENSHELL_SANDBOX_ROOT": self._sandbox_root(sb)}
        env.update(sb.get("env") or {})
        env.update(req.get("env") or {})
        stdin = base64.b64decode(req.get("stdin") or "")
        timeout = int(req.get("timeout") or 0) or None
        try:
            proc = subprocess.run(command, cwd=cwd, env=env, input=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout, check=False)
            rc, so, se = proc.returncode, proc.stdout, proc.stderr
            if rc < 0:
                rc = 128 - rc
        except subprocess.TimeoutExpired as exc:
            rc, so, se = 124, exc.stdout or b"", (exc.stderr or b"") + b"command timed out\n"
        except FileNotFoundError:
            rc, so, se = 127, b"", ("exec: %s: not found\n" % command[0]).encode()
        except PermissionError:
            rc, so, se = 126, b"", ("exec: %s: permission denied\n" % command[0]).encode()
        return {"rc": rc, "stdout": base64.b64encode(so).decode(), "stderr": base64.b64encode(se).decode()}

    # ---------------------------------------------------------------- policy
    def rpc_GetSandboxConfig(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            cfg = self._effective(t, sb)
            cfg["sandbox"] = self._sb_public(sb)
        return cfg

    def _parse_policy_req(self, req):
        try:
            return pol.parse_text(req["policy_text"])
        except pol.PolicyError as exc:
            raise PlainError(exc.headline, [exc.detail] if exc.detail else [])
        except pol.PolicyInvalid as exc:
            raise invalid(str(exc))

    def rpc_SetPolicy(self, req, faults):
        ws = req["workspace"]
        doc = None
        if req.get("policy_text") is not None:
            doc = self._parse_policy_req(req)
        with self.store.tx() as t:
            sb = self._get_sb(t, ws, req["name"], faults)
            if t.kv_get("global_policy"):
                raise precondition("policy is managed globally; delete global policy before sandbox policy update")
            latest = self._latest_rev(sb)
            current = latest["version"] if latest else 0
            if req.get("ops") is not None:
                try:
                    doc = pol.apply_ops(latest["policy"] if latest else pol.DEFAULT_POLICY, req["ops"])
                except pol.PolicyInvalid as exc:
                    raise invalid(str(exc))
                except pol.PolicyError as exc:
                    raise invalid("%s: %s" % (exc.headline, exc.detail))
                if req.get("dry_run"):
                    return {"policy": doc, "version": current, "hash": pol.policy_hash(doc), "previous": current}
            try:
                pol.check_static_change(sb["baseline"], doc)
            except pol.PolicyInvalid as exc:
                raise invalid(str(exc))
            rev, _unused = self._add_revision(sb, doc)
            self._refresh(sb, faults)
            t.put("sandbox", ws, sb["name"], sb)
        return {"version": rev["version"], "hash": rev["hash"], "previous": current}

    def rpc_GetPolicyStatus(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
        revs = sb.get("revisions") or []
        want = int(req.get("version") or 0)
        rev = None
        if want == 0:
            rev = revs[-1] if revs else None
        else:
            for r in revs:
                if r["version"] == want:
                    rev = r
        return {"revision": rev, "active_version": sb.get("current_policy_version", 0)}

    def rpc_ListPolicies(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
        revs = list(reversed(sb.get("revisions") or []))
        lim = int(req.get("limit") or 20) or 20
        return {"revisions": revs[:lim]}

    def rpc_SetGlobalPolicy(self, req, faults):
        doc = self._parse_policy_req(req)
        h = pol.policy_hash(doc)
        with self.store.tx() as t:
            gp = t.kv_get("global_policy")
            hist = t.kv_get("global_policy_history", [])
            if gp and gp["hash"] == h:
                return {"hash": h, "settings_revision": t.kv_get("global_settings_revision", 0), "changed": False}
            v = (hist[-1]["version"] + 1) if hist else 1
            gp = {"policy": doc, "hash": h, "version": v, "created_at_ms": now_ms()}
            hist.append(dict(gp, status="loaded", loaded_at_ms=now_ms()))
            rev = t.kv_get("global_settings_revision", 0) + 1
            t.kv_put("global_policy", gp)
            t.kv_put("global_policy_history", hist)
            t.kv_put("global_settings_revision", rev)
        return {"hash": h, "settings_revision": rev, "changed": True}

    def rpc_GetGlobalPolicy(self, req, faults):
        with self.store.tx() as t:
            gp = t.kv_get("global_policy")
            hist = t.kv_get("global_policy_history", [])
        want = int(req.get("version") or 0)
        if want:
            rev = [h for h in hist if h["version"] == want]
            return {"revision": rev[0] if rev else None, "history": hist}
        return {"revision": gp, "history": hist}

    def rpc_DeleteGlobalPolicy(self, req, faults):
        with self.store.tx() as t:
            if not t.kv_get("global_policy"):
                return {"deleted": False}
            t.kv_put("global_policy", None)
            rev = t.kv_get("global_settings_revision", 0) + 1
            t.kv_put("global_settings_revision", rev)
        return {"deleted": True, "settings_revision": rev}

    # ---------------------------------------------------------------- draft rules
    def rpc_GetDraft(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
        chunks = sb.get("chunks") or []
        if req.get("status"):
            chunks = [c for c in chunks if c["status"] == req["status"]]
        return {"chunks": chunks, "draft_version": sb.get("draft_version", 0)}

    def _approve(self, t, sb, chunk, faults):
        latest = self._latest_rev(sb)
        base = latest["policy"] if latest else pol.DEFAULT_POLICY
        doc = pol.merge_rule(base, chunk["rule_name"], chunk["proposed_rule"])
        rev, _unused = self._add_revision(sb, doc)
        chunk["status"] = "approved"
        sb["draft_version"] = sb.get("draft_version", 0) + 1
        sb["history"].append({"timestamp_ms": now_ms(), "event_type": "approved", "chunk_id": chunk["id"],
                              "description": "%s approved" % chunk["rule_name"]})
        return rev

    # Texts of OpenShell's require_current_proposal_evaluation (crates/openshell-server/src/grpc/policy.rs).
    APPROVE_FAILURES = {
        "token_mismatch": "review token does not match the fetched proposal; refetch and review again",
        "inputs_changed": "proposal inputs changed; evaluation refreshed, refetch and review again",
        "not_applicable": "proposal is not applicable: %s",
    }

    def _approve_failure(self, sb, chunk, faults):
        """The fault (``approve_failures``) that makes approving this chunk fail, or None."""
        for entry in faults.get("approve_failures") or []:
            if entry.get("id") != chunk["id"] or entry.get("sandbox", sb["name"]) != sb["name"]:
                continue
            kind = entry.get("error") or "not_applicable"
            if kind not in self.APPROVE_FAILURES:
                raise RpcError("Internal", "simulator: unknown approve_failures error %r" % kind)
            return entry, kind
        return None

    def rpc_ApproveChunk(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            if t.kv_get("global_policy"):
                raise precondition("policy is managed globally; delete global policy before sandbox policy update")
            chunk = [c for c in sb.get("chunks") or [] if c["id"] == req["chunk_id"]]
            if not chunk:
                raise not_found("chunk not found")
            if chunk[0]["status"] not in ("pending", "rejected"):
                raise precondition("chunk status is '%s', expected 'pending' or 'rejected'" % chunk[0]["status"])
            token = req.get("review_token")
            if token and chunk[0].get("review_token") and token != chunk[0]["review_token"]:
                raise precondition(self.APPROVE_FAILURES["token_mismatch"])
            failure = self._approve_failure(sb, chunk[0], faults)
            if failure is None:
                chunk[0].pop("application_error", None)
                rev = self._approve(t, sb, chunk[0], faults)
                self._refresh(sb, faults)
            else:
                entry, kind = failure
                if kind == "not_applicable":
                    # The gateway keeps the reason on the chunk: `rule get` shows it as "Application:".
                    chunk[0]["application_error"] = entry.get("application_error") or "simulated application error"
                elif kind == "inputs_changed":
                    chunk[0]["review_token"] = uuid.uuid4().hex  # the evaluation was refreshed
            t.put("sandbox", sb["workspace"], sb["name"], sb)
        if failure is not None:
            text = self.APPROVE_FAILURES[kind]
            if kind == "not_applicable":
                text %= chunk[0]["application_error"]
            raise RpcError(entry.get("code") or "FailedPrecondition", text)
        return {"policy_version": rev["version"], "policy_hash": rev["hash"]}

    def rpc_RejectChunk(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            chunk = [c for c in sb.get("chunks") or [] if c["id"] == req["chunk_id"]]
            if not chunk:
                raise not_found("chunk not found")
            chunk[0]["status"] = "rejected"
            chunk[0]["rejection_reason"] = req.get("reason") or ""
            sb["draft_version"] = sb.get("draft_version", 0) + 1
            sb["history"].append({"timestamp_ms": now_ms(), "event_type": "rejected", "chunk_id": chunk[0]["id"],
                                  "description": "%s rejected%s" % (chunk[0]["rule_name"], (
                                      ": " + req["reason"]) if req.get("reason") else "")})
            t.put("sandbox", sb["workspace"], sb["name"], sb)
        return {}

    def rpc_ApproveAll(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            if t.kv_get("global_policy"):
                raise precondition("policy is managed globally; delete global policy before sandbox policy update")
            approved = skipped = 0
            latest = self._latest_rev(sb)
            version_ = latest["version"] if latest else 0
            for c in sb.get("chunks") or []:
                if c["status"] != "pending":
                    continue
                if c.get("security_flagged") and not req.get("include_security_flagged"):
                    skipped += 1
                    continue
                version_ = self._approve(t, sb, c, faults)["version"]
                approved += 1
            self._refresh(sb, faults)
            t.put("sandbox", sb["workspace"], sb["name"], sb)
        return {"chunks_approved": approved, "chunks_skipped": skipped, "policy_version": version_}

    def rpc_ClearDrafts(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            before = len(sb.get("chunks") or [])
            sb["chunks"] = [c for c in sb.get("chunks") or [] if c["status"] != "pending"]
            n = before - len(sb["chunks"])
            if n:
                sb["draft_version"] = sb.get("draft_version", 0) + 1
            t.put("sandbox", sb["workspace"], sb["name"], sb)
        return {"chunks_cleared": n}

    def rpc_DraftHistory(self, req, faults):
        with self.store.tx() as t:
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
        return {"entries": sb.get("history") or []}

    # ---------------------------------------------------------------- inference
    @staticmethod
    def _route(name):
        if name in ("", "inference.local"):
            return "inference.local"
        if name == "sandbox-system":
            return name
        raise invalid("unknown route_name '%s'; expected 'inference.local' or 'sandbox-system'" % name)

    def rpc_SetInference(self, req, faults):
        ws = req["workspace"]
        route = self._route(req.get("route_name", ""))
        if not req.get("provider_name"):
            raise invalid("provider_name is required")
        if not req.get("model_id"):
            raise invalid("model_id is required")
        with self.store.tx() as t:
            if t.get("provider", ws, req["provider_name"]) is None:
                raise precondition("provider '%s' not found in workspace '%s'" % (req["provider_name"], ws))
            cur = t.get("inference", ws, route)
            doc = {"route_name": route, "workspace": ws, "provider_name": req["provider_name"],
                   "model_id": req["model_id"], "timeout_secs": int(req.get("timeout_secs") or 0),
                   "version": (cur["version"] + 1) if cur else 1}
            t.put("inference", ws, route, doc)
        return doc

    def rpc_GetInference(self, req, faults):
        ws = req["workspace"]
        route = self._route(req.get("route_name", ""))
        with self.store.tx() as t:
            doc = t.get("inference", ws, route)
        if doc is None:
            raise not_found("inference route '%s' is not configured in workspace '%s'; run "
                            "'openshell inference set --provider <name> --model <id>'" % (route, ws))
        return doc

    def rpc_DeleteInference(self, req, faults):
        route = self._route(req.get("route_name", ""))
        with self.store.tx() as t:
            return {"deleted": t.delete("inference", req["workspace"], route)}

    # ---------------------------------------------------------------- settings
    def rpc_GetGlobalSettings(self, req, faults):
        with self.store.tx() as t:
            return {"settings": t.kv_get("global_settings", {}),
                    "settings_revision": t.kv_get("global_settings_revision", 0)}

    def rpc_SetSetting(self, req, faults):
        key, value = req["key"], req["value"]
        with self.store.tx() as t:
            if req.get("global"):
                gs = t.kv_get("global_settings", {})
                rev = t.kv_get("global_settings_revision", 0)
                if gs.get(key) != value:
                    gs[key] = value
                    rev += 1
                    t.kv_put("global_settings", gs)
                    t.kv_put("global_settings_revision", rev)
                return {"revision": rev}
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            if key in t.kv_get("global_settings", {}):
                raise precondition("setting '%s' is managed globally; delete the global setting before sandbox "
                                   "update" % key)
            if sb["settings"].get(key) != value:
                sb["settings"][key] = value
                sb["config_revision"] = sb.get("config_revision", 0) + 1
                t.put("sandbox", sb["workspace"], sb["name"], sb)
            return {"revision": sb.get("config_revision", 0)}

    def rpc_DeleteSetting(self, req, faults):
        key = req["key"]
        with self.store.tx() as t:
            if req.get("global"):
                gs = t.kv_get("global_settings", {})
                rev = t.kv_get("global_settings_revision", 0)
                if key not in gs:
                    return {"deleted": False, "revision": rev}
                del gs[key]
                rev += 1
                t.kv_put("global_settings", gs)
                t.kv_put("global_settings_revision", rev)
                return {"deleted": True, "revision": rev}
            sb = self._get_sb(t, req["workspace"], req["name"], faults)
            if key not in sb["settings"]:
                return {"deleted": False, "revision": sb.get("config_revision", 0)}
            del sb["settings"][key]
            sb["config_revision"] = sb.get("config_revision", 0) + 1
            t.put("sandbox", sb["workspace"], sb["name"], sb)
            return {"deleted": True, "revision": sb["config_revision"]}


# ----------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openshell-gateway-sim"

    def log_message(self, fmt, *args):
        if os.environ.get("OPENSHELL_SIM_GATEWAY_LOG"):
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def _send(self, status, body, ctype="application/json"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def do_GET(self):
        if self.path in ("/healthz", "/readyz", "/health"):
            self._send(200, "ok\n", "text/plain")
        else:
            self._send(404, "not found\n", "text/plain")

    def do_POST(self):
        gw = self.server.gateway
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        if not self.path.startswith("/rpc/"):
            self._send(404, "not found\n", "text/plain")
            return
        method = self.path[len("/rpc/"):]
        try:
            req = json.loads(raw.decode("utf-8") or "{}")
            req.setdefault("workspace", WORKSPACE_DEFAULT)
            res = {"ok": gw.call(method, req)}
        except RpcError as exc:
            res = {"error": {"code": exc.code, "message": exc.message}}
        except PlainError as exc:
            res = {"error": {"plain": exc.message, "causes": exc.causes}}
        except Exception as exc:  # pragma: no cover - surfaced as Internal
            import traceback
            traceback.print_exc()
            res = {"error": {"code": "Internal", "message": "simulator internal error: %s" % exc}}
        self._send(200, json.dumps(res))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def generate_certs(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="openshell-gateway generate-certs")
    ap.add_argument("--output-dir", required=True)
    ap.add_argument("--server-san", action="append", default=[])
    a = ap.parse_args(argv)
    d = a.output_dir
    files = ["ca.crt", "ca.key", "server/tls.crt", "server/tls.key", "client/tls.crt", "client/tls.key"]
    present = [f for f in files if os.path.isfile(os.path.join(d, f))]
    if len(present) == len(files):
        sys.stderr.write("TLS certificates already exist in %s; keeping them\n" % d)
        return 0
    if present:
        sys.stderr.write("Error: partial TLS bundle in %s (found %s); remove it and retry\n" % (d, ", ".join(present)))
        return 1
    for f in files:
        p = os.path.join(d, f)
        os.makedirs(os.path.dirname(p), mode=0o700, exist_ok=True)
        kind = "PRIVATE KEY" if f.endswith(".key") else "CERTIFICATE"
        body = base64.b64encode(("openshell-sim dummy %s sans=%s" % (f, ",".join(a.server_san))).encode()).decode()
        with open(p, "w") as fh:
            fh.write("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, body, kind))
        os.chmod(p, 0o600 if f.endswith(".key") else 0o644)
    # like the real one, also install the client bundle for the CLI's default gateway
    cfg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    mtls = os.path.join(cfg, "openshell", "gateways", "openshell", "mtls")
    os.makedirs(mtls, mode=0o700, exist_ok=True)
    for src, dst in (("ca.crt", "ca.crt"), ("client/tls.crt", "tls.crt"), ("client/tls.key", "tls.key")):
        with open(os.path.join(d, src)) as fh, open(os.path.join(mtls, dst), "w") as out:
            out.write(fh.read())
    os.chmod(os.path.join(mtls, "tls.key"), 0o600)
    sys.stderr.write("Generated TLS certificates in %s\n" % d)
    return 0


def _set_process_name(name):
    """Look like the real binary in ps and /proc/PID/comm (15 characters kept), as host checks expect."""
    try:
        import ctypes  # pylint: disable=import-outside-toplevel
        libc = ctypes.CDLL(None)
        libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def main(argv=None):
    _set_process_name("openshell-gateway")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "generate-certs":
        return generate_certs(argv[1:])
    import argparse
    ap = argparse.ArgumentParser(prog="openshell-gateway", description="OpenShell gateway (simulator)")
    ap.add_argument("--bind-address")
    ap.add_argument("--port", type=int)
    ap.add_argument("--config")
    ap.add_argument("--log-level")
    ap.add_argument("-V", "--version", action="version", version="openshell-gateway %s" % version())
    args, _unknown = ap.parse_known_args(argv)
    ip, port = resolve_listen(args)
    path = db_path()
    state_dir = os.path.dirname(os.path.abspath(path))
    store = Store(path)
    faults = Faults(os.environ.get("OPENSHELL_SIM_FAULTS"))
    gw = Gateway(store, faults, state_dir)

    holder = {"srv": None, "thread": None}

    def start_listener():
        srv = Server((ip, port), Handler)
        srv.gateway = gw
        th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        th.start()
        holder["srv"], holder["thread"] = srv, th

    def stop_listener():
        srv = holder["srv"]
        if srv is not None:
            srv.shutdown()
            srv.server_close()
            holder["srv"] = None

    if not faults.load().get("down"):
        start_listener()
    sys.stderr.write("openshell-gateway (simulator %s) listening on %s:%d, db %s\n" % (version(), ip, port, path))
    sys.stderr.flush()
    import signal
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.1):
        down = bool(faults.load().get("down"))
        if down and holder["srv"] is not None:
            stop_listener()
        elif not down and holder["srv"] is None:
            for _attempt in range(50):
                try:
                    start_listener()
                    break
                except OSError:
                    time.sleep(0.1)
    stop_listener()
    return 0
