"""Simulated `openshell` CLI. Standard library only; imports kept lazy for start-up speed."""
import json
import math
import os
import sys
import time

from . import version
from .util import (bold, check, dimmed, dumps, err, format_epoch_ms, format_timestamp_ms, green, header,
                   out, red, render_error, status_display, to_yaml, yellow)


class CliError(Exception):
    """Runtime error: `Error:   × ...`, exit 1 (or `rc`)."""

    def __init__(self, message, causes=(), rc=1):
        Exception.__init__(self, message)
        self.message = message
        self.causes = list(causes)
        self.rc = rc


class Exit(Exception):
    def __init__(self, rc):
        Exception.__init__(self, rc)
        self.rc = rc


class Rpc(Exception):
    """A gRPC-like status returned by the gateway."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code
        self.message = message

    def display(self):
        return status_display(self.code, self.message)


# ----------------------------------------------------------------------------- gateway registry

def config_dir():
    from .util import xdg_config_home
    return os.path.join(xdg_config_home(), "openshell")


def system_dir():
    d = os.environ.get("OPENSHELL_SYSTEM_GATEWAY_DIR")
    return d if d and os.path.isabs(d) else "/etc/openshell"


def read_metadata(name):
    for base, source in ((config_dir(), "user"), (system_dir(), "system")):
        p = os.path.join(base, "gateways", name, "metadata.json")
        if os.path.isfile(p):
            try:
                with open(p, encoding="utf-8") as fh:
                    return json.load(fh), source
            except (OSError, ValueError):
                continue
    return None, None


def list_gateways():
    found = {}
    for base, source in ((system_dir(), "system"), (config_dir(), "user")):
        gdir = os.path.join(base, "gateways")
        if not os.path.isdir(gdir):
            continue
        for name in os.listdir(gdir):
            p = os.path.join(gdir, name, "metadata.json")
            if os.path.isfile(p):
                try:
                    with open(p, encoding="utf-8") as fh:
                        found[name] = (json.load(fh), source)
                except (OSError, ValueError):
                    pass
    return [found[k] for k in sorted(found)]


def load_active():
    for base in (config_dir(), system_dir()):
        p = os.path.join(base, "active_gateway")
        try:
            with open(p, encoding="utf-8") as fh:
                v = fh.read().strip()
            if v:
                return v
        except OSError:
            continue
    return None


def save_active(name):
    from .util import makedirs_private
    makedirs_private(config_dir())
    with open(os.path.join(config_dir(), "active_gateway"), "w") as fh:
        fh.write(name)


def resolve_gateway(g):
    """Returns (name, endpoint, metadata)."""
    endpoint = g.get("--gateway-endpoint") or os.environ.get("OPENSHELL_GATEWAY_ENDPOINT")
    flag_name = g.get("--gateway") or (os.environ.get("OPENSHELL_GATEWAY") or "").strip() or None
    if endpoint:
        if flag_name:
            return flag_name, endpoint, read_metadata(flag_name)[0]
        for meta, _src in list_gateways():
            if meta.get("gateway_endpoint", "").rstrip("/") == endpoint.rstrip("/"):
                return meta["name"], endpoint, meta
        return endpoint, endpoint, None
    name = flag_name or load_active()
    if not name:
        raise CliError("No active gateway.\nSet one with: openshell gateway select <name>\n"
                       "Or register one with: openshell gateway add <endpoint>")
    meta, _src = read_metadata(name)
    if meta is None:
        raise CliError("Unknown gateway '%s'.\nRegister it first: openshell gateway add <endpoint> --name %s\n"
                       "Or list available gateways: openshell gateway select" % (name, name))
    return name, meta["gateway_endpoint"], meta


def _host_port(endpoint):
    rest = endpoint.split("://", 1)[-1].split("/", 1)[0]
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    if rest.startswith("["):
        host, _sep, port = rest[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _sep, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
        if not host:
            host, port = rest, ""
    default = 443 if endpoint.startswith("https://") else 80
    return host, int(port) if port else default


class Client(object):
    def __init__(self, ctx):
        self.ctx = ctx
        self.name, self.endpoint, self.meta = resolve_gateway(ctx.g)
        if self.endpoint.startswith("https://") and not ctx.g.get("--gateway-insecure"):
            auth = (self.meta or {}).get("auth_mode") or "mtls"
            if auth == "mtls":
                mdir = os.path.join(config_dir(), "gateways", _sanitize(self.name), "mtls")
                for f, label in (("ca.crt", "TLS CA"), ("tls.crt", "TLS cert"), ("tls.key", "TLS key")):
                    p = os.path.join(mdir, f)
                    if not os.path.isfile(p):
                        raise CliError("failed to read %s from %s" % (label, p))
        self.host, self.port = _host_port(self.endpoint)

    def _http(self, method, path, body=None):
        import socket
        data = b"" if body is None else body
        try:
            sock = socket.create_connection((self.host, self.port), timeout=10)
        except ConnectionRefusedError:
            raise ConnectFailed("Connection refused (os error 111)")
        except socket.timeout:
            raise ConnectFailed("deadline has elapsed")
        except OSError as exc:
            raise ConnectFailed("%s (os error %s)" % (exc.strerror or exc, exc.errno or 0))
        try:
            sock.settimeout(None)
            head = ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, self.host, self.port, len(data)))
            sock.sendall(head.encode("ascii") + data)
            chunks = []
            while True:
                b = sock.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except OSError as exc:
            raise ConnectFailed("connection error: %s" % exc)
        finally:
            sock.close()
        raw = b"".join(chunks)
        headp, _sep, payload = raw.partition(b"\r\n\r\n")
        status = headp.split(b"\r\n", 1)[0].split(b" ", 2)
        code = int(status[1]) if len(status) > 1 else 0
        reason = status[2].decode("latin-1") if len(status) > 2 else ""
        return code, reason, payload

    def call(self, method, **req):
        req.setdefault("workspace", self.ctx.workspace)
        code, _reason, payload = self._http("POST", "/rpc/" + method, json.dumps(req).encode("utf-8"))
        if code != 200:
            raise Rpc("Unknown", "unexpected HTTP status %d from gateway" % code)
        res = json.loads(payload.decode("utf-8"))
        if "error" in res:
            e = res["error"]
            if "plain" in e:
                raise CliError(e["plain"], e.get("causes") or [])
            raise Rpc(e["code"], e["message"])
        return res["ok"]


class ConnectFailed(Exception):
    pass


def _sanitize(name):
    return "".join(c if (c.isalnum() or c in "._-") else "_" for c in name)


def transport_error(exc):
    return CliError("transport error", ["tcp connect error", str(exc)])


# ----------------------------------------------------------------------------- context

class Ctx(object):
    def __init__(self, parsed):
        self.p = parsed
        self.g = parsed.globals
        self.workspace = self.g.get("--workspace") or os.environ.get("OPENSHELL_WORKSPACE") or "default"
        self._client = None

    def client(self):
        if self._client is None:
            self._client = Client(self)
        return self._client

    def rpc(self, method, **req):
        try:
            return self.client().call(method, **req)
        except ConnectFailed as exc:
            raise transport_error(exc)

    def rpc_d(self, method, **req):
        """RPC whose failures surface as `code: '...', message: "..."` (into_diagnostic)."""
        try:
            return self.rpc(method, **req)
        except Rpc as exc:
            raise CliError(exc.display())

    def sandbox_name(self, name):
        if name:
            return name
        c = self.client()
        p = os.path.join(config_dir(), "gateways", _sanitize(c.name), "last_sandbox")
        try:
            with open(p, encoding="utf-8") as fh:
                ws, _sep, sb = fh.read().partition("\n")
            if ws.strip() == self.workspace and sb.strip():
                err("\u2192 Using sandbox '%s' (last used)" % sb.strip())
                return sb.strip()
        except OSError:
            pass
        raise CliError("No sandbox name provided and no last-used sandbox.\n"
                       "Specify a sandbox name or connect to one first: openshell sandbox connect <name>")

    def remember_sandbox(self, name):
        try:
            from .util import makedirs_private
            d = os.path.join(config_dir(), "gateways", _sanitize(self.client().name))
            makedirs_private(d)
            with open(os.path.join(d, "last_sandbox"), "w") as fh:
                fh.write("%s\n%s" % (self.workspace, name))
        except OSError:
            pass


def print_structured(fmt, obj):
    if fmt == "json":
        sys.stdout.write(dumps(obj) + "\n")
        return True
    if fmt == "yaml":
        sys.stdout.write(to_yaml(_sorted(obj)))
        return True
    return False


def _sorted(obj):
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(x) for x in obj]
    return obj


def parse_u(value, flag, name):
    try:
        v = int(value)
        if v < 0:
            raise ValueError
        return v
    except (TypeError, ValueError):
        from .grammar import UsageError
        raise UsageError("invalid value '%s' for '%s <%s>': invalid digit found in string" % (value, flag, name))


# ----------------------------------------------------------------------------- status / gateway

def cmd_status(ctx):
    fmt = ctx.p.get("--output", "table")
    try:
        c = ctx.client()
    except CliError as exc:
        if exc.message.startswith("No active gateway"):
            if print_structured(fmt, {"status": "not_configured"}):
                return 0
            out("No gateway configured.")
            out()
            out("Register a gateway with: %s" % dimmed("openshell gateway add <endpoint>"))
            return 0
        raise
    try:
        code, reason, _unused = c._http("GET", "/healthz")
    except ConnectFailed as exc:
        raise CliError("client error (Connect)", ["tcp connect error", str(exc)])
    auth = ({"mode": "gateway", "status": "not_required"} if c.endpoint.startswith("http://")
            else {"provider": "mTLS transport", "status": "authenticated"})
    data = {"gateway": c.name, "server": c.endpoint, "authentication": auth}
    try:
        h = c.call("Health")
        data.update({"status": "connected", "version": h["version"]})
    except (Rpc, ConnectFailed) as exc:
        data.update({"status": "connected_http" if code == 200 else "error",
                     "http_status": "%d %s" % (code, reason),
                     "error": exc.display() if isinstance(exc, Rpc) else str(exc)})
        data["authentication"] = {"reason": "gRPC health check failed", "status": "unverified"}
    if print_structured(fmt, data):
        return 0
    out(header("Server Status"))
    out()
    out("  %s %s" % (dimmed("Gateway:"), c.name))
    out("  %s %s" % (dimmed("Server:"), c.endpoint))
    if data["status"] == "connected":
        out("  %s %s" % (dimmed("Status:"), green("Connected")))
        if auth["status"] == "not_required":
            out("  %s %s (gateway)" % (dimmed("Authentication:"), green("Not required")))
        else:
            out("  %s %s (mTLS transport)" % (dimmed("Authentication:"), green("Authenticated")))
        out("  %s %s" % (dimmed("Version:"), data["version"]))
    else:
        label = yellow("Connected (HTTP)") if data["status"] == "connected_http" else red("Error")
        out("  %s %s" % (dimmed("Status:"), label))
        out("  %s %s" % (dimmed("HTTP: " if data["status"] == "connected_http" else "HTTP:"), data["http_status"]))
        out("  %s %s" % (dimmed("gRPC error:"), data["error"]))
        out("  %s %s (gRPC health check failed)" % (dimmed("Authentication:"), yellow("Unverified")))
    return 0


def _is_loopback(endpoint):
    host, _unused = _host_port(endpoint)
    return host.lower() == "localhost" or host == "::1" or host.startswith("127.")


def _type_label(meta):
    if meta.get("auth_mode") == "cloudflare_jwt":
        return "cloud"
    return "remote" if meta.get("is_remote") else "local"


def _auth_label(meta):
    if meta.get("auth_mode"):
        return meta["auth_mode"]
    return "plaintext" if meta.get("gateway_endpoint", "").startswith("http://") else "mtls"


def _store_metadata(name, meta):
    from .util import makedirs_private
    d = os.path.join(config_dir(), "gateways", name)
    makedirs_private(d)
    ordered = {}
    for k in ("name", "gateway_endpoint", "is_remote", "gateway_port", "remote_host", "resolved_host",
              "auth_mode", "edge_team_domain", "edge_auth_url", "oidc_issuer", "oidc_client_id", "oidc_audience",
              "oidc_scopes", "vm_driver_state_dir"):
        if meta.get(k) is not None:
            ordered[k] = meta[k]
    with open(os.path.join(d, "metadata.json"), "w") as fh:
        fh.write(json.dumps(ordered, indent=2))


def _reachable(endpoint):
    import socket
    host, port = _host_port(endpoint)
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def cmd_gateway_add(ctx):
    p = ctx.p
    endpoint = p.pos["ENDPOINT"]
    remote = p.get("--remote")
    local = p.has("--local")
    if endpoint.startswith("ssh://"):
        if remote or local:
            raise CliError("--remote and --local cannot be used with an ssh:// endpoint")
        rest = endpoint[len("ssh://"):]
        userhost, _sep, port = rest.rpartition(":")
        if not port.isdigit():
            raise CliError("ssh:// gateway endpoints must include a port, e.g. ssh://user@host:8080")
        host = userhost.split("@")[-1]
        remote = userhost
        endpoint = "https://%s:%s" % (host, port)
    elif "://" not in endpoint:
        endpoint = "https://" + endpoint
    name = p.get("--name")
    if not name:
        name = "openshell" if _is_loopback(endpoint) else _host_port(endpoint)[0]
    meta, source = read_metadata(name)
    if meta is not None and source == "user":
        raise CliError("Gateway '%s' already exists.\nRemove it first with: openshell gateway remove %s\n"
                       "Or choose a different name with: --name <name>" % (name, name))
    if p.get("--oidc-issuer"):
        raise CliError("OIDC gateways are not supported by the OpenShell simulator")
    if endpoint.startswith("http://"):
        meta = {"name": name, "gateway_endpoint": endpoint,
                "is_remote": False if local else (True if remote else not _is_loopback(endpoint)),
                "gateway_port": 0, "auth_mode": "plaintext"}
        if remote:
            meta["remote_host"] = remote
            meta["resolved_host"] = remote.split("@")[-1]
        _store_metadata(name, meta)
        save_active(name)
        if not _reachable(endpoint):
            err("%s Gateway is not reachable at %s" % (bold(yellow("\u26a0")), endpoint))
            err("  Verify the gateway is running and the endpoint is correct.")
        err("%s Gateway '%s' added and set as active" % (check(), name))
        err("  %s %s" % (dimmed("Endpoint:"), endpoint))
        err("  %s %s" % (dimmed("Type:"), _type_label(meta)))
        err("  %s %s" % (dimmed("Auth:"), _auth_label(meta)))
        return 0
    if remote or local:
        from .util import makedirs_private, xdg_state_home
        mdir = os.path.join(config_dir(), "gateways", name, "mtls")
        imported = False
        if local:
            dirs = [os.environ["OPENSHELL_LOCAL_TLS_DIR"]] if os.environ.get("OPENSHELL_LOCAL_TLS_DIR") else [
                os.path.join(xdg_state_home(), "openshell", "tls")]
            for d in dirs:
                srcs = [os.path.join(d, "ca.crt"), os.path.join(d, "client", "tls.crt"),
                        os.path.join(d, "client", "tls.key")]
                if all(os.path.isfile(s) for s in srcs):
                    makedirs_private(mdir)
                    for s, dst in zip(srcs, ("ca.crt", "tls.crt", "tls.key")):
                        with open(s, "rb") as fi, open(os.path.join(mdir, dst), "wb") as fo:
                            fo.write(fi.read())
                    os.chmod(os.path.join(mdir, "tls.key"), 0o600)
                    imported = True
                    break
        have = imported or all(os.path.isfile(os.path.join(mdir, f)) for f in ("ca.crt", "tls.crt", "tls.key"))
        if not have:
            raise CliError("mTLS certificates for gateway '%s' were not found.\n"
                           "Expected them under the default gateway config directory.\n"
                           "Start the gateway package first so it provisions client TLS material, then retry: "
                           "openshell gateway add %s%s" % (name, endpoint, " --local" if local else ""))
        meta = {"name": name, "gateway_endpoint": endpoint, "is_remote": not local, "gateway_port": 0,
                "auth_mode": "mtls"}
        if remote:
            meta["remote_host"] = remote
            meta["resolved_host"] = remote.split("@")[-1]
        _store_metadata(name, meta)
        save_active(name)
        if not _reachable(endpoint):
            err("%s Gateway is not reachable at %s. Verify the gateway is running." % (bold(yellow("\u26a0")), endpoint))
        err("%s Gateway '%s' added and set as active" % (check(), name))
        err("  %s %s" % (dimmed("Endpoint:"), endpoint))
        err("  %s %s" % (dimmed("Type:"), "local" if local else "remote"))
        err("%s TLS certificates present" % check())
        return 0
    raise CliError("edge-authenticated (cloud) gateways need a browser login, which the OpenShell simulator "
                   "does not support; use http:// or --local")


def cmd_gateway_select(ctx):
    name = ctx.p.pos.get("NAME")
    if not name:
        cmd_gateway_list(ctx, "table")
        if list_gateways():
            err()
            err("Select a gateway with: %s" % dimmed("openshell gateway select <name>"))
        return 0
    if read_metadata(name)[0] is None:
        raise CliError("No gateway metadata found for '%s'.\nRegister it first with: openshell gateway add "
                       "<endpoint> --name %s\nOr list available gateways: openshell gateway select" % (name, name))
    save_active(name)
    err("%s Active gateway set to '%s'" % (check(), name))
    env = os.environ.get("OPENSHELL_GATEWAY")
    if env and env != name:
        err("%s OPENSHELL_GATEWAY=%s is set and will override this selection.\n  Unset it or run: export "
            "OPENSHELL_GATEWAY=%s" % (bold(yellow("\u26a0")), env, name))
    return 0


def cmd_gateway_remove(ctx):
    name = ctx.p.pos.get("NAME") or ctx.g.get("--gateway") or os.environ.get("OPENSHELL_GATEWAY") or load_active()
    if not name:
        raise CliError("No active gateway.\nSet one with: openshell gateway select <name>\n"
                       "Or register one with: openshell gateway add <endpoint>")
    meta, source = read_metadata(name)
    if meta is None:
        raise CliError("No gateway metadata found for '%s'.\nRegister it first with: openshell gateway add "
                       "<endpoint> --name %s\nOr list available gateways: openshell gateway select" % (name, name))
    if source == "system":
        raise CliError("Gateway '%s' is installed by the system and cannot be removed from user config.\n"
                       "Remove the system registration with the package manager instead." % name)
    import shutil
    shutil.rmtree(os.path.join(config_dir(), "gateways", name), ignore_errors=True)
    ap = os.path.join(config_dir(), "active_gateway")
    try:
        with open(ap) as fh:
            if fh.read().strip() == name:
                os.unlink(ap)
    except OSError:
        pass
    err("%s Gateway registration '%s' removed." % (check(), name))
    return 0


def cmd_gateway_list(ctx, fmt=None):
    fmt = fmt or ctx.p.get("--output", "table")
    gws = list_gateways()
    active = ctx.g.get("--gateway") or load_active()
    rows = [{"name": m["name"], "endpoint": m.get("gateway_endpoint", ""), "type": _type_label(m), "source": s,
             "auth": _auth_label(m), "active": active == m["name"], "is_remote": bool(m.get("is_remote")),
             "remote_host": m.get("remote_host"), "resolved_host": m.get("resolved_host")} for m, s in gws]
    if print_structured(fmt, rows):
        return 0
    if not rows:
        out("No gateways found.")
        out()
        out("Register a gateway with: %s" % dimmed("openshell gateway add <endpoint>"))
        return 0
    nw = max([4] + [len(r["name"]) for r in rows])
    ew = max([8] + [len(r["endpoint"]) for r in rows])
    tw = max([4] + [len(r["type"]) for r in rows])
    sw = max([6] + [len(r["source"]) for r in rows])
    out("  %s  %s  %s  %s  %s" % (bold("NAME").ljust(nw + 8), bold("ENDPOINT").ljust(ew + 8),
                                  bold("TYPE").ljust(tw + 8), bold("SOURCE").ljust(sw + 8), bold("AUTH")))
    for r in rows:
        line = "%s %s  %s  %s  %s  %s" % ("*" if r["active"] else " ", r["name"].ljust(nw), r["endpoint"].ljust(ew),
                                          r["type"].ljust(tw), r["source"].ljust(sw), r["auth"])
        out(green(line) if r["active"] else line)
    return 0


def cmd_gateway_info(ctx):
    fmt = ctx.p.get("--output", "table")
    try:
        c = ctx.client()
    except CliError as exc:
        if exc.message.startswith("No active gateway"):
            raise CliError("No gateway configured.\nRegister a gateway with: openshell gateway add <endpoint>")
        raise
    info = ctx.rpc_d("GetGatewayInfo")
    data = {"auth": None, "compute_drivers": info["compute_drivers"], "gateway": c.name, "server": c.endpoint,
            "status": info["status"], "version": info["version"]}
    if print_structured(fmt, data):
        return 0
    out(header("Gateway Info"))
    out()
    out("  %s %s" % (dimmed("Gateway:"), c.name))
    out("  %s %s" % (dimmed("Server:"), c.endpoint))
    out("  %s %s" % (dimmed("Status:"), info["status"]))
    out("  %s %s" % (dimmed("Version:"), info["version"]))
    out("  %s %s" % (dimmed("Compute drivers:"), ", ".join(d["name"] for d in info["compute_drivers"])))
    return 0


# ----------------------------------------------------------------------------- providers

CRED_ENV = {
    "openai": ["OPENAI_API_KEY"], "anthropic": ["ANTHROPIC_API_KEY"], "nvidia": ["NVIDIA_API_KEY"],
    "deepinfra": ["DEEPINFRA_API_KEY"], "claude-code": ["ANTHROPIC_API_KEY", "CLAUDE_API_KEY"],
    "codex": ["OPENAI_API_KEY"], "copilot": ["COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"],
    "github": ["GITHUB_TOKEN", "GH_TOKEN"], "gitlab": ["GITLAB_TOKEN", "GLAB_TOKEN", "CI_JOB_TOKEN"],
    "opencode": ["OPENCODE_API_KEY", "OPENROUTER_API_KEY", "OPENAI_API_KEY"],
}


def parse_credentials(items, allow_empty_delete=False):
    creds = {}
    for item in items:
        if "=" in item:
            k, _sep, v = item.partition("=")
            k = k.strip()
            if not k:
                raise CliError("--credential key cannot be empty")
            creds[k] = v
        else:
            k = item.strip()
            v = os.environ.get(k, "")
            if not v.strip():
                raise CliError("--credential %s requires local env var '%s' to be set to a non-empty value" % (k, k))
            creds[k] = v
    return creds


def parse_kv(items, flag):
    m = {}
    for item in items:
        if "=" not in item:
            raise CliError("%s expects KEY=VALUE, got '%s'" % (flag, item))
        k, _sep, v = item.partition("=")
        if not k.strip():
            raise CliError("%s key cannot be empty" % flag)
        m[k.strip()] = v
    return m


def cmd_provider_create(ctx):
    p = ctx.p
    ptype = p.get("--type")
    resolved = ctx.rpc_d("ProfileExists", type=ptype)["type"]
    if not resolved:
        raise CliError("unsupported provider type or profile: %s" % ptype)
    creds = {}
    if p.has("--credential"):
        creds = parse_credentials(p.all("--credential"))
    elif p.has("--from-existing"):
        for k in CRED_ENV.get(resolved, []):
            if os.environ.get(k, "").strip():
                creds[k] = os.environ[k]
        if not creds:
            raise CliError("no existing local credentials/config found for provider type '%s'" % resolved)
    elif p.has("--from-gcloud-adc"):
        raise CliError("--from-gcloud-adc is not supported by the OpenShell simulator")
    config = parse_kv(p.all("--config"), "--config")
    try:
        ctx.rpc("CreateProvider", name=p.get("--name"), type=resolved, credentials=creds, config=config)
    except Rpc as exc:
        raise CliError(exc.display())
    out("%s Created provider %s" % (check(), p.get("--name")))
    return 0


def cmd_provider_get(ctx):
    prov = ctx.rpc_d("GetProvider", name=ctx.p.pos["NAME"])["provider"]
    out(header("Provider:"))
    out()
    out("  %s %s" % (dimmed("Id:"), prov["id"]))
    out("  %s %s" % (dimmed("Name:"), prov["name"]))
    out("  %s %s" % (dimmed("Type:"), prov["type"]))
    out("  %s %s" % (dimmed("Resource version:"), prov["resource_version"]))
    out("  %s %s" % (dimmed("Credential keys:"), ", ".join(prov["credential_keys"]) or "<none>"))
    out("  %s %s" % (dimmed("Config keys:"), ", ".join(prov["config"]) or "<none>"))
    return 0


def provider_json(prov):
    obj = {"id": prov["id"], "name": prov["name"], "workspace": prov["workspace"], "type": prov["type"],
           "credential_keys": prov["credential_keys"]}
    if prov.get("config"):
        obj["config_keys"] = list(prov["config"])
    if prov.get("labels"):
        obj["labels"] = prov["labels"]
    if prov.get("resource_version"):
        obj["resource_version"] = prov["resource_version"]
    if prov.get("created_at_ms"):
        obj["created_at"] = format_epoch_ms(prov["created_at_ms"])
    if prov.get("credential_expires_at_ms"):
        obj["credential_expires_at_ms"] = prov["credential_expires_at_ms"]
    return obj


def cmd_provider_list(ctx):
    p = ctx.p
    limit = parse_u(p.get("--limit", "100"), "--limit", "LIMIT")
    offset = parse_u(p.get("--offset", "0"), "--offset", "OFFSET")
    provs = ctx.rpc_d("ListProviders", limit=limit, offset=offset, all_workspaces=p.has("--all-workspaces"))
    provs = provs["providers"]
    if p.has("--names"):
        for pr in provs:
            out(pr["name"])
        return 0
    if print_structured(p.get("--output", "table"), [provider_json(x) for x in provs]):
        return 0
    if not provs:
        out("No providers found.")
        return 0
    nw = max([4] + [len(x["name"]) for x in provs])
    tw = max([4] + [len(x["type"]) for x in provs])
    out("%s  %s  %s  %s" % (bold("NAME").ljust(nw + 8), bold("TYPE").ljust(tw + 8),
                            bold("CREDENTIAL_KEYS").ljust(16 + 8), bold("CONFIG_KEYS")))
    for x in provs:
        out("%s  %s  %s  %s" % (x["name"].ljust(nw), x["type"].ljust(tw), str(len(x["credential_keys"])).ljust(16),
                                len(x.get("config") or {})))
    return 0


def _parse_expiry(items):
    res = {}
    for item in items:
        if "=" not in item:
            raise CliError("--credential-expires-at expects KEY=TIMESTAMP, got '%s'" % item)
        k, _sep, v = item.partition("=")
        v = v.strip()
        if v.isdigit():
            res[k] = int(v)
        else:
            import datetime
            try:
                dt = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise CliError("invalid --credential-expires-at timestamp '%s': expected epoch milliseconds or "
                               "RFC3339" % v)
            res[k] = int(dt.timestamp() * 1000)
    return res


def cmd_provider_update(ctx):
    p = ctx.p
    name = p.pos["NAME"]
    creds = {}
    for item in p.all("--credential"):
        if "=" in item:
            k, _sep, v = item.partition("=")
            creds[k.strip()] = v
        else:
            creds.update(parse_credentials([item]))
    if p.has("--from-existing"):
        prov = ctx.rpc_d("GetProvider", name=name)["provider"]
        for k in CRED_ENV.get(prov["type"], []):
            if os.environ.get(k, "").strip():
                creds[k] = os.environ[k]
        if not creds:
            raise CliError("no existing local credentials/config found for provider type '%s'" % prov["type"])
    config = parse_kv(p.all("--config"), "--config")
    ctx.rpc_d("UpdateProvider", name=name, credentials=creds, config=config,
              expires=_parse_expiry(p.all("--credential-expires-at")))
    out("%s Updated provider %s" % (check(), name))
    return 0


def cmd_provider_delete(ctx):
    for name in ctx.p.pos["NAME"]:
        res = ctx.rpc_d("DeleteProvider", name=name)
        if res["deleted"]:
            out("%s Deleted provider %s" % (check(), name))
        else:
            out("%s Provider %s not found" % (bold(yellow("!")), name))
    return 0


# ----------------------------------------------------------------------------- sandboxes

def speaks_0_1():
    """OpenShell 0.1.x behaviour (tests/contract/0.1.5): exit_code in the sandbox JSON, --restart-policy,
    create refused without --detach by a driver that cannot attach in the foreground."""
    from .grammar import version_tuple
    return version_tuple(version()) >= (0, 1, 0)


def sandbox_json(sb):
    obj = {"id": sb["id"], "name": sb["name"], "workspace": sb["workspace"], "labels": sb.get("labels") or {},
           "annotations": {}, "resource_version": sb["resource_version"],
           "created_at": format_epoch_ms(sb["created_at_ms"]), "phase": sb["phase"],
           "current_policy_version": sb.get("current_policy_version", 0)}
    if speaks_0_1():
        obj["exit_code"] = sb.get("exit_code")  # null until the main process exits
    return obj


def _revision_of(cfg):
    if cfg["policy_source"] == "global":
        return cfg["global_policy_version"] or cfg["version"] or None
    return cfg["version"] or None


def validate_cpu(v):
    v = v.strip()
    if not v:
        raise CliError("--cpu must not be empty")
    msg = "invalid --cpu value '%s': expected positive cores or millicores, for example 2, 0.5, or 500m" % v
    if v.endswith("m"):
        n = v[:-1]
        if not n or not n.isdigit():
            raise CliError(msg)
        if int(n) == 0:
            raise CliError("--cpu must be greater than zero")
        return v
    try:
        f = float(v)
    except ValueError:
        raise CliError(msg)
    if math.isnan(f) or f <= 0 or math.isinf(f):
        raise CliError("--cpu must be greater than zero")
    return v


def validate_memory(v):
    v = v.strip()
    if not v:
        raise CliError("--memory must not be empty")
    i = 0
    while i < len(v) and v[i].isdigit():
        i += 1
    num, suffix = v[:i], v[i:]
    if not num or suffix not in ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "K", "M", "G", "T", "P", "E"):
        raise CliError("invalid --memory value '%s': expected positive bytes or a quantity such as 512Mi, 4Gi, "
                       "or 8G" % v)
    if int(num) == 0:
        raise CliError("--memory must be greater than zero")
    return v


def parse_env(items):
    m = parse_kv(items, "--env")
    import re
    for k in m:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
            raise CliError("--env key must match [A-Za-z_][A-Za-z0-9_]*; got '%s'" % k)
        if k.startswith("OPENSHELL_"):
            raise CliError("--env keys starting with OPENSHELL_ are reserved; got '%s'" % k)
    return m


_CRED_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")


def resolve_image(value):
    if value is None:
        return ""
    if os.path.exists(value):
        raise CliError("building sandbox images from a Dockerfile or directory is not supported by the OpenShell "
                       "simulator")
    if any(c in value for c in "/:."):
        return value
    prefix = os.environ.get("OPENSHELL_COMMUNITY_REGISTRY") or "ghcr.io/nvidia/openshell-community/sandboxes"
    return "%s/%s:latest" % (prefix.rstrip("/"), value)


def cmd_sandbox_create(ctx):
    p = ctx.p
    fmt = p.get("--output", "table")
    labels = {}
    for item in p.all("--label"):
        if "=" not in item:
            raise CliError("invalid label format '%s', expected key=value" % item)
        k, _sep, v = item.partition("=")
        labels[k] = v
    env = parse_env(p.all("--env"))
    if env and not p.has("--no-credential-warnings"):
        for k in sorted(env):
            if any(h in k.upper() for h in _CRED_HINTS):
                err("%s --env %s looks like a credential; use a provider instead (values passed with --env are "
                    "visible in the sandbox spec)" % (bold(yellow("\u26a0")), k))
    cpu = validate_cpu(p.get("--cpu")) if p.has("--cpu") else None
    mem = validate_memory(p.get("--memory")) if p.has("--memory") else None
    gpu = None
    if p.has("--gpu"):
        gv = p.get("--gpu")
        if gv is True:
            gpu = {"count": None}
        else:
            if not str(gv).isdigit() or int(gv) == 0:
                from .grammar import UsageError
                raise UsageError("invalid value '%s' for '--gpu [<COUNT>]': GPU count must be greater than 0" % gv)
            gpu = {"count": int(gv)}
    driver_config = None
    if p.has("--driver-config-json"):
        try:
            driver_config = json.loads(p.get("--driver-config-json"))
        except ValueError as exc:
            raise CliError("invalid --driver-config-json: %s" % exc)
        if not isinstance(driver_config, dict):
            raise CliError("--driver-config-json must be a JSON object")
    policy_text = None
    ppath = p.get("--policy") or os.environ.get("OPENSHELL_SANDBOX_POLICY")
    if ppath:
        try:
            with open(ppath, encoding="utf-8") as fh:
                policy_text = fh.read()
        except OSError as exc:
            raise CliError("failed to read sandbox policy from %s" % ppath, [str(exc)])
    image = resolve_image(p.get("--from"))
    try:
        client = ctx.client()
        # connection check like the real grpc_client(...).wrap_err_with(...)
        client._http("GET", "/healthz")
    except ConnectFailed as exc:
        raise CliError("failed to connect to gateway '%s' at %s. Start the gateway service with the installed "
                       "package manager, or register a different endpoint with `openshell gateway add "
                       "<endpoint>`." % (client.name, client.endpoint),
                       ["transport error", "tcp connect error", str(exc)])
    # providers
    providers = []
    auto = True if p.has("--auto-providers") else (False if p.has("--no-auto-providers") else None)
    existing = {x["name"] for x in ctx.rpc_d("ListProviders", limit=1000)["providers"]} if p.has("--provider") else set()
    from .util import normalize_provider_type
    for name in p.all("--provider"):
        if name in existing:
            if name not in providers:
                providers.append(name)
            continue
        ptype = normalize_provider_type(name)
        if ptype is None:
            raise CliError("provider '%s' not found and '%s' is not a recognized provider type. Create it first "
                           "with `openshell provider create --type <type> --name %s`" % (name, name, name))
        err("Missing provider: %s" % name)
        if auto is False:
            err("%s Skipping provider '%s' (--no-auto-providers)" % (yellow("!"), name))
            err()
            continue
        if auto is None:
            raise CliError("missing required provider '%s'. Create it first with `openshell provider create --type "
                           "%s --name %s --from-existing`, pass --auto-providers to auto-create, or set it up "
                           "manually from inside the sandbox" % (name, name, name))
        creds = {k: os.environ[k] for k in CRED_ENV.get(ptype, []) if os.environ.get(k, "").strip()}
        if not creds:
            raise CliError("no existing local credentials/config found for provider type '%s'" % ptype)
        ctx.rpc_d("CreateProvider", name=name, type=ptype, credentials=creds, config={})
        err("%s Created provider %s" % (check(), name))
        providers.append(name)
    if speaks_0_1() and not p.has("--detach"):
        # The simulated compute driver cannot attach in the foreground: 0.1.x rejects such a create
        # before provisioning (the wording is the simulator's own).
        raise CliError(status_display("FailedPrecondition", "compute driver does not support foreground attachment; "
                                      "create the sandbox with --detach"))
    if fmt != "table":
        err("Provisioning sandbox (structured output on stdout)...")
    t0 = time.time()
    try:
        res = ctx.rpc("CreateSandbox", name=p.get("--name") or "", image=image, labels=labels, env=env, cpu=cpu,
                      memory=mem, gpu=gpu, providers=providers, policy_text=policy_text,
                      approval_mode=p.get("--approval-mode", "manual"), command=p.pos.get("COMMAND") or [],
                      driver_config=driver_config, restart_policy=p.get("--restart-policy"))
    except Rpc as exc:
        if exc.code == "AlreadyExists":
            raise CliError("%s\n\nhint: delete it first with: openshell sandbox delete %s\n      or use a different "
                           "name" % (exc.message, p.get("--name") or "<name>"))
        raise CliError(exc.display())
    sb = res["sandbox"]
    name = sb["name"]
    if fmt == "table":
        out()
        out("%s %s" % (bold("Created sandbox:"), name))
        out()
        out("  %s Requesting compute..." % dimmed("[0.0s]"))
    timeout = float(os.environ.get("OPENSHELL_PROVISION_TIMEOUT") or 300)
    last_change = time.time()
    phase = sb["phase"]
    while True:
        if phase == "Ready":
            break
        if phase == "Error":
            raise CliError("sandbox entered error phase while provisioning")
        if time.time() - last_change > timeout:
            msg = "sandbox provisioning timed out after %ds" % int(timeout)
            if gpu is not None:
                msg += ". Last reported status: DependenciesNotReady. Hint: the requested GPU may be unavailable " \
                       "or the available GPU is already in use by another sandbox"
            raise CliError(msg)
        time.sleep(0.05)
        sb = ctx.rpc_d("GetSandbox", name=name)["sandbox"]
        if sb["phase"] != phase:
            last_change = time.time()
            phase = sb["phase"]
    if fmt == "table":
        out("  %s %s" % (dimmed("[%.1fs]" % (time.time() - t0)), "Sandbox allocated"))
        out("  %s %s" % (dimmed("[%.1fs]" % (time.time() - t0)), "Sandbox ready"))
    if p.get("--approval-mode", "manual") != "manual":
        pass  # stored by the gateway with the sandbox (setting proposal_approval_mode)
    ctx.remember_sandbox(name)
    print_structured(fmt, sandbox_json(sb))
    return 0


_TOP_ORDER = ("version", "filesystem_policy", "landlock", "process", "network_policies", "network_middlewares")
_EP_ORDER = ("host", "port", "ports", "path", "protocol", "tls", "enforcement", "access", "rules", "deny_rules",
             "allowed_ips")


def policy_yaml(doc):
    """YAML in serde struct order (the db stores JSON with sorted keys)."""
    def order(d, keys):
        return dict([(k, d[k]) for k in keys if k in d] + [(k, d[k]) for k in d if k not in keys])
    d = order(doc, _TOP_ORDER)
    if "filesystem_policy" in d:
        d["filesystem_policy"] = order(d["filesystem_policy"], ("include_workdir", "read_only", "read_write"))
    if "process" in d:
        d["process"] = order(d["process"], ("run_as_user", "run_as_group"))
    if "network_policies" in d:
        nps = {}
        for k in sorted(d["network_policies"]):
            r = order(d["network_policies"][k], ("name", "endpoints", "binaries"))
            if "endpoints" in r:
                r["endpoints"] = [order(e, _EP_ORDER) for e in r["endpoints"]]
            nps[k] = r
        d["network_policies"] = nps
    return to_yaml(d)


def cmd_sandbox_get(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    res = ctx.rpc_d("GetSandbox", name=name, with_config=True)
    sb, cfg = res["sandbox"], res["config"]
    if ctx.p.has("--policy-only"):
        if not cfg.get("policy"):
            raise CliError("no active policy configured for this sandbox")
        sys.stdout.write(policy_yaml(cfg["policy"]))
        return 0
    fmt = ctx.p.get("--output", "table")
    obj = sandbox_json(sb)
    obj["policy_source"] = cfg["policy_source"]
    obj["revision"] = _revision_of(cfg)
    obj["policy"] = cfg.get("policy")
    if print_structured(fmt, obj):
        return 0
    out(header("Sandbox:"))
    out()
    out("  %s %s" % (dimmed("Id:"), sb["id"]))
    out("  %s %s" % (dimmed("Name:"), sb["name"]))
    out("  %s %s" % (dimmed("Phase:"), sb["phase"]))
    out("  %s %s" % (dimmed("Resource version:"), sb["resource_version"]))
    if sb.get("labels"):
        out("  %s " % dimmed("Labels:"))
        for k in sorted(sb["labels"]):
            out("    %s: %s" % (k, sb["labels"][k]))
    out("  %s %s" % (dimmed("Policy source:"), cfg["policy_source"]))
    rev = _revision_of(cfg)
    if rev:
        out("  %s %s" % (dimmed("Revision:"), rev))
    if cfg.get("policy"):
        out()
        out(header("Policy:"))
        out()
        for line in policy_yaml(cfg["policy"]).splitlines():
            out("  " + line)
    return 0


def cmd_sandbox_list(ctx):
    p = ctx.p
    import re
    sel = {}
    if p.get("--selector"):
        for part in p.get("--selector").split(","):
            if "=" not in part:
                raise CliError("invalid selector '%s', expected key=value" % part)
            k, _sep, v = part.partition("=")
            sel[k.strip()] = v.strip()
    del re
    limit = parse_u(p.get("--limit", "100"), "--limit", "LIMIT")
    offset = parse_u(p.get("--offset", "0"), "--offset", "OFFSET")
    allws = p.has("--all-workspaces")
    sbs = ctx.rpc_d("ListSandboxes", limit=limit, offset=offset, selector=sel, all_workspaces=allws)["sandboxes"]
    if p.has("--ids"):
        for s in sbs:
            out(s["id"])
        return 0
    if p.has("--names"):
        for s in sbs:
            out("%s/%s" % (s["workspace"], s["name"]) if allws else s["name"])
        return 0
    if print_structured(p.get("--output", "table"), [sandbox_json(s) for s in sbs]):
        return 0
    if not sbs:
        out("No sandboxes found.")
        return 0
    nw = max([4] + [len(s["name"]) for s in sbs])
    ww = max([9] + [len(s["workspace"]) for s in sbs])
    if allws:
        out("%s  %s  %s  %s" % (bold("WORKSPACE").ljust(ww + 8), bold("NAME").ljust(nw + 8),
                                bold("CREATED").ljust(19 + 8), bold("PHASE")))
    else:
        out("%s  %s  %s" % (bold("NAME").ljust(nw + 8), bold("CREATED").ljust(19 + 8), bold("PHASE")))
    for s in sbs:
        ph = s["phase"]
        phc = green(ph) if ph == "Ready" else (red(ph) if ph == "Error" else yellow(ph))
        row = "%s  %s  %s" % (s["name"].ljust(nw), format_epoch_ms(s["created_at_ms"]).ljust(19), phc)
        out(("%s  %s" % (s["workspace"].ljust(ww), row)) if allws else row)
    return 0


def cmd_sandbox_delete(ctx):
    p = ctx.p
    names = p.pos.get("NAME") or []
    if p.has("--all"):
        names = [s["name"] for s in ctx.rpc_d("ListSandboxes", limit=1000)["sandboxes"]]
    for n in names:
        res = ctx.rpc_d("DeleteSandbox", name=n)
        if res.get("deleted"):
            out("%s Deleted sandbox %s" % (check(), n))
        else:
            out("%s Sandbox %s not found" % (bold(yellow("!")), n))
    return 0


def _wait_phase(ctx, name, want):
    timeout = float(os.environ.get("OPENSHELL_LIFECYCLE_TIMEOUT") or 300)
    t0 = time.time()
    while True:
        sb = ctx.rpc_d("GetSandbox", name=name)["sandbox"]
        if sb["phase"] == want:
            return
        if sb["phase"] == "Error":
            raise CliError("sandbox '%s' entered error phase" % name)
        if time.time() - t0 > timeout:
            raise CliError("timed out after %ds waiting for sandbox '%s' to reach %s (current phase: %s)" % (
                int(timeout), name, want, sb["phase"]))
        time.sleep(0.05)


def cmd_sandbox_stop(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    ctx.rpc_d("StopSandbox", name=name)
    _wait_phase(ctx, name, "Stopped")
    out("%s Stopped sandbox %s" % (check(), name))
    return 0


def cmd_sandbox_start(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    ctx.rpc_d("StartSandbox", name=name)
    _wait_phase(ctx, name, "Ready")
    out("%s Started sandbox %s" % (check(), name))
    return 0


def cmd_sandbox_exec(ctx):
    p = ctx.p
    name = ctx.sandbox_name(p.get("--name"))
    env = parse_env(p.all("--env"))
    timeout = parse_u(p.get("--timeout", "0"), "--timeout", "TIMEOUT")
    command = p.pos["COMMAND"]
    stdin = b""
    import base64
    if not sys.stdin.isatty():
        try:
            stdin = sys.stdin.buffer.read(4 * 1024 * 1024 + 1)
        except (OSError, ValueError):
            stdin = b""
        if len(stdin) > 4 * 1024 * 1024:
            raise CliError("stdin payload exceeds 4194304 byte limit; pipe smaller inputs or use `openshell "
                           "sandbox upload`")
    sb = ctx.rpc_d("GetSandbox", name=name)["sandbox"]
    if sb["phase"] != "Ready":
        raise CliError("sandbox '%s' is not ready (phase: %s); wait for it to reach Ready state" % (name, sb["phase"]))
    res = ctx.rpc_d("Exec", name=name, command=command, workdir=p.get("--workdir"), env=env, timeout=timeout,
                    stdin=base64.b64encode(stdin).decode())
    sys.stdout.flush()
    os.write(1, base64.b64decode(res["stdout"]))
    os.write(2, base64.b64decode(res["stderr"]))
    ctx.remember_sandbox(name)
    return int(res["rc"])


def cmd_sandbox_provider_list(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    provs = ctx.rpc_d("ListSandboxProviders", name=name)["providers"]
    if not provs:
        out("No providers attached to sandbox %s." % name)
        return 0
    nw = max([4] + [len(x["name"]) for x in provs])
    tw = max([4] + [len(x["type"]) for x in provs])
    out("%s  %s  %s  %s" % (bold("NAME").ljust(nw), bold("TYPE").ljust(tw), bold("CREDENTIAL_KEYS").ljust(16),
                            bold("CONFIG_KEYS")))
    for x in provs:
        out("%s  %s  %s  %s" % (x["name"].ljust(nw), x["type"].ljust(tw), str(len(x["credential_keys"])).ljust(16),
                                len(x.get("config") or {})))
    return 0


def _attach(ctx, method, verb_ok, verb_noop):
    name, prov = ctx.p.pos["NAME"], ctx.p.pos["PROVIDER"]
    try:
        res = ctx.rpc(method, name=name, provider=prov)
    except Rpc as exc:
        if exc.code == "Aborted":
            raise CliError("Failed to %s provider: sandbox was modified by another operation.\nPlease retry the "
                           "command." % ("attach" if method == "AttachProvider" else "detach"))
        raise CliError(exc.display())
    if list(res.values())[0]:
        out("%s %s" % (check(), verb_ok % (prov, name)))
    else:
        out(verb_noop % (prov, name))
    return 0


def cmd_sandbox_provider_attach(ctx):
    return _attach(ctx, "AttachProvider", "Attached provider %s to sandbox %s",
                   "Provider %s is already attached to sandbox %s.")


def cmd_sandbox_provider_detach(ctx):
    return _attach(ctx, "DetachProvider", "Detached provider %s from sandbox %s",
                   "Provider %s was not attached to sandbox %s.")


# ----------------------------------------------------------------------------- policy

def _read_policy_file(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CliError("failed to read sandbox policy from %s" % path, [str(exc)])


def confirm_global(yes, what="updates"):
    if yes:
        return
    raise CliError("global setting %s require confirmation; pass --yes in non-interactive mode" % what)


def _wait_loaded(ctx, name, version_, timeout):
    deadline = time.time() + timeout
    while True:
        if time.time() > deadline:
            err("%s Timeout waiting for policy version %d to load" % (bold(red("\u2717")), version_))
            raise Exit(124)
        time.sleep(0.25)
        st = ctx.rpc_d("GetPolicyStatus", name=name, version=version_)
        rev = st.get("revision")
        if not rev:
            continue
        if rev["status"] == "loaded":
            err("%s Policy version %d loaded (active version: %d)" % (check(), rev["version"], st["active_version"]))
            return 0
        if rev["status"] == "failed":
            err("%s Policy version %d failed to load: %s" % (bold(red("\u2717")), rev["version"], rev["load_error"]))
            raise Exit(1)
        if rev["status"] == "superseded":
            err("%s Policy version %d was superseded (active version: %d)" % (
                bold(yellow("\u26a0")), rev["version"], st["active_version"]))
            return 0


def _report_submit(ctx, name, res, wait, timeout):
    if res["version"] == res["previous"]:
        err("%s Policy unchanged (version %d, hash: %s)" % (dimmed("\u00b7"), res["version"], res["hash"][:12]))
        return 0
    err("%s Policy version %d submitted (hash: %s)" % (check(), res["version"], res["hash"][:12]))
    if wait:
        return _wait_loaded(ctx, name, res["version"], timeout)
    return 0


def cmd_policy_set(ctx):
    p = ctx.p
    text = _read_policy_file(p.get("--policy"))
    timeout = parse_u(p.get("--timeout", "60"), "--timeout", "TIMEOUT")
    if p.has("--global"):
        if p.has("--wait"):
            raise CliError("--wait is not supported for global policies; global policies are effective immediately")
        confirm_global(p.has("--yes"))
        res = ctx.rpc_d("SetGlobalPolicy", policy_text=text)
        err("%s Global policy configured (hash: %s, settings revision: %d)" % (
            check(), res["hash"][:12], res["settings_revision"]))
        return 0
    name = ctx.sandbox_name(p.pos.get("NAME"))
    res = ctx.rpc_d("SetPolicy", name=name, policy_text=text)
    return _report_submit(ctx, name, res, p.has("--wait"), timeout)


ACCESS = ("read-only", "read-write", "full")
PROTOCOLS = ("tcp", "rest", "websocket", "sql")


def _parse_port(s, spec, flag):
    if not s.isdigit() or not (1 <= int(s) <= 65535):
        raise CliError("%s port must be 1-65535, got '%s'" % (flag, s))
    return int(s)


def parse_add_endpoint(spec):
    parts = spec.split(":")
    bad = CliError("--add-endpoint expects host:port[:access[:protocol[:enforcement[:options]]]], got '%s'" % spec)
    if len(parts) < 2 or len(parts) > 6 or not parts[0]:
        raise bad
    ep = {"host": parts[0], "port": _parse_port(parts[1], spec, "--add-endpoint")}
    access = parts[2] if len(parts) > 2 else ""
    proto = parts[3] if len(parts) > 3 else ""
    enforcement = parts[4] if len(parts) > 4 else ""
    options = parts[5] if len(parts) > 5 else ""
    if access:
        if access not in ACCESS:
            raise CliError("invalid access '%s' in --add-endpoint '%s'; expected read-only, read-write, or full" % (
                access, spec))
        ep["access"] = access
    if proto:
        if proto not in PROTOCOLS:
            raise CliError("invalid protocol '%s' in --add-endpoint '%s'; expected tcp, rest, websocket, or sql" % (
                proto, spec))
        if proto != "tcp":
            ep["protocol"] = proto
    elif len(parts) > 3:
        raise bad
    if enforcement:
        if not proto or proto == "tcp":
            raise CliError("enforcement requires an L7 protocol in --add-endpoint '%s'" % spec)
        if enforcement not in ("enforce", "audit"):
            raise CliError("invalid enforcement '%s' in --add-endpoint '%s'; expected enforce or audit" % (
                enforcement, spec))
        ep["enforcement"] = enforcement
    for opt in [o for o in options.split(",") if o]:
        if opt == "allow-uninspected-credentials":
            ep["allow_uninspected_credentials"] = True
        elif opt == "websocket-credential-rewrite" and proto in ("rest", "websocket"):
            ep["websocket_credential_rewrite"] = True
        elif opt == "request-body-credential-rewrite" and proto == "rest":
            ep["request_body_credential_rewrite"] = True
        elif opt.startswith("allowed-ip="):
            ep.setdefault("allowed_ips", []).append(opt.split("=", 1)[1])
        else:
            raise CliError("invalid option '%s' in --add-endpoint '%s'" % (opt, spec))
    return ep


def parse_rule_spec(spec, flag):
    parts = spec.split(":", 3)
    if len(parts) != 4 or not parts[0] or not parts[2]:
        raise CliError("%s expects host:port:METHOD:path, got '%s'" % (flag, spec))
    host, port, method, path = parts
    port = _parse_port(port, spec, flag)
    if not (path.startswith("/") or path == "**" or path.startswith("**/")):
        raise CliError("%s path must start with '/' or be '**', got '%s'" % (flag, path))
    return host, port, method.upper(), path


def cmd_policy_update(ctx):
    p = ctx.p
    name = ctx.sandbox_name(p.pos.get("NAME"))
    timeout = parse_u(p.get("--timeout", "60"), "--timeout", "TIMEOUT")
    adds = p.all("--add-endpoint")
    if p.has("--dry-run") and p.has("--wait"):
        raise CliError("--dry-run cannot be combined with --wait")
    if p.has("--binary") and not adds:
        raise CliError("--binary requires --add-endpoint")
    if p.has("--rule-name") and len(adds) != 1:
        raise CliError("--rule-name requires exactly one --add-endpoint")
    ops = []
    for spec in adds:
        ops.append({"op": "add_endpoint", "endpoint": parse_add_endpoint(spec), "rule_name": p.get("--rule-name"),
                    "binaries": p.all("--binary")})
    for spec in p.all("--remove-endpoint"):
        host, _sep, port = spec.rpartition(":")
        if not host:
            raise CliError("--remove-endpoint expects host:port, got '%s'" % spec)
        ops.append({"op": "remove_endpoint", "host": host, "port": _parse_port(port, spec, "--remove-endpoint")})
    for flag, op in (("--add-allow", "add_allow"), ("--add-deny", "add_deny")):
        for spec in p.all(flag):
            host, port, method, path = parse_rule_spec(spec, flag)
            ops.append({"op": op, "host": host, "port": port, "method": method, "path": path})
    for rn in p.all("--remove-rule"):
        ops.append({"op": "remove_rule", "name": rn})
    if not ops:
        raise CliError("policy update requires at least one operation flag")
    cfg = ctx.rpc_d("GetSandbox", name=name, with_config=True)["config"]
    if cfg["policy_source"] == "global":
        raise CliError("policy is managed globally; delete the global policy before using `openshell policy update`")
    res = ctx.rpc_d("SetPolicy", name=name, ops=ops, dry_run=p.has("--dry-run"))
    if p.has("--dry-run"):
        err("%s Dry run preview for %d incremental policy operation(s)" % (check(), len(ops)))
        sys.stdout.write(policy_yaml(res["policy"]))
        return 0
    return _report_submit(ctx, name, res, p.has("--wait"), timeout)


def _rev_status(s):
    return {"pending": "Pending", "loaded": "Loaded", "failed": "Failed", "superseded": "Superseded"}.get(
        s, "Unspecified")


def _strip_provider_rules(policy):
    if not policy or not policy.get("network_policies"):
        return policy
    d = dict(policy)
    d["network_policies"] = {k: v for k, v in policy["network_policies"].items() if not k.startswith("_provider_")}
    if not d["network_policies"]:
        del d["network_policies"]
    return d


def cmd_policy_get(ctx):
    p = ctx.p
    fmt = p.get("--output", "table")
    full = p.has("--full") or p.has("--base")
    rev_n = parse_u(p.get("--rev", "0"), "--rev", "REV")
    if p.has("--global"):
        res = ctx.rpc_d("GetGlobalPolicy", version=rev_n)
        rev = res.get("revision")
        if not rev:
            err("No global policy history found")
            return 0
        obj = {"scope": "global", "version": rev["version"], "hash": rev["hash"], "status": "loaded",
               "created_at_ms": rev.get("created_at_ms")}
        if full:
            obj["policy"] = rev["policy"]
        if fmt == "json":
            out(dumps(obj))
            return 0
        out("Scope:        global")
        out("Version:      %d" % rev["version"])
        out("Hash:         %s" % rev["hash"])
        out("Status:       Loaded")
        if full:
            out("---")
            sys.stdout.write(policy_yaml(rev["policy"]))
        return 0
    name = ctx.sandbox_name(p.pos.get("NAME"))
    if rev_n:
        st = ctx.rpc_d("GetPolicyStatus", name=name, version=rev_n)
        rev = st.get("revision")
        if not rev:
            err("No policy history found for sandbox '%s'" % name)
            return 0
        if fmt == "json":
            obj = {"scope": "sandbox", "sandbox": name, "version": rev["version"], "hash": rev["hash"],
                   "status": rev["status"], "active_version": st["active_version"]}
            if rev.get("created_at_ms"):
                obj["created_at_ms"] = rev["created_at_ms"]
            if rev.get("loaded_at_ms"):
                obj["loaded_at_ms"] = rev["loaded_at_ms"]
            if rev.get("load_error"):
                obj["load_error"] = rev["load_error"]
            if full:
                obj["policy"] = _strip_provider_rules(rev["policy"]) if p.has("--base") else rev["policy"]
            out(dumps(obj))
            return 0
        out("Version:      %d" % rev["version"])
        out("Hash:         %s" % rev["hash"])
        out("Status:       %s" % _rev_status(rev["status"]))
        out("Active:       %d" % st["active_version"])
        if rev.get("created_at_ms"):
            out("Created:      %d ms" % rev["created_at_ms"])
        if rev.get("loaded_at_ms"):
            out("Loaded:       %d ms" % rev["loaded_at_ms"])
        if rev.get("load_error"):
            out("Error:        %s" % rev["load_error"])
        if full:
            out("---")
            sys.stdout.write(policy_yaml(rev["policy"]))
        return 0
    got = ctx.rpc_d("GetSandbox", name=name, with_config=True)
    cfg = got["config"]
    if not cfg.get("policy"):
        raise CliError("no active policy configured for sandbox '%s'" % name)
    version_ = cfg["global_policy_version"] if (cfg["policy_source"] == "global" and cfg["global_policy_version"]) \
        else cfg["version"]
    # active_version: the revision the sandbox has loaded (a newer one may be pending or failed).
    active = version_ if cfg["policy_source"] == "global" else (got.get("sandbox") or {}).get("current_policy_version", version_)
    policy = _strip_provider_rules(cfg["policy"]) if p.has("--base") else cfg["policy"]
    if fmt == "json":
        obj = {"scope": "sandbox", "sandbox": name, "version": version_, "active_version": active,
               "hash": cfg["policy_hash"], "status": "effective", "config_revision": cfg["config_revision"],
               "policy_source": cfg["policy_source"]}
        if cfg["global_policy_version"]:
            obj["global_policy_version"] = cfg["global_policy_version"]
        if full:
            obj["policy"] = policy
        out(dumps(obj))
        return 0
    out("Version:      %d" % version_)
    out("Hash:         %s" % cfg["policy_hash"])
    out("Status:       Effective")
    out("Source:       %s" % cfg["policy_source"])
    out("Config rev:   %d" % cfg["config_revision"])
    if cfg["global_policy_version"]:
        out("Global:       %d" % cfg["global_policy_version"])
    if full:
        out("---")
        sys.stdout.write(policy_yaml(policy))
    return 0


def cmd_policy_list(ctx):
    p = ctx.p
    limit = parse_u(p.get("--limit", "20"), "--limit", "LIMIT")
    if p.has("--global"):
        hist = list(reversed(ctx.rpc_d("GetGlobalPolicy", version=0)["history"]))[:limit]
        revs = hist
        label = "global policy"
    else:
        name = ctx.sandbox_name(p.pos.get("NAME"))
        revs = ctx.rpc_d("ListPolicies", name=name, limit=limit)["revisions"]
        label = "sandbox '%s'" % name
    if not revs:
        err("No policy history found for %s" % label)
        return 0
    out("%-8s %-14s %-12s %-20s %s" % ("VERSION", "HASH", "STATUS", "CREATED", "ERROR"))
    for r in revs:
        out("%-8d %-14s %-12s %-20s %s" % (r["version"], r["hash"][:12], r.get("status", "loaded"),
                                           format_epoch_ms(r.get("created_at_ms") or 0), r.get("load_error") or ""))
    return 0


def cmd_policy_delete(ctx):
    p = ctx.p
    if not p.has("--global"):
        raise CliError("sandbox policy delete is not supported; use --global to remove global policy lock")
    confirm_global(p.has("--yes"), "deletes")
    res = ctx.rpc_d("DeleteGlobalPolicy")
    if res["deleted"]:
        out("%s Deleted global setting policy (revision %d)" % (check(), res["settings_revision"]))
    else:
        out("%s Global setting policy not found" % bold(yellow("!")))
    return 0


# ----------------------------------------------------------------------------- rules

def _fmt_endpoint(ep):
    hp = "%s:%s" % (ep["host"], ep["port"]) if ep.get("port") else ep["host"]
    proto = ep.get("protocol") or ""
    tags = ["L7 rest" if proto.lower() == "rest" else ("L4" if not proto else proto)]
    if ep.get("access"):
        tags.append("access=%s" % ep["access"])
    for r in ep.get("rules") or []:
        a = r.get("allow")
        if a:
            tags.append("allow %s %s" % (a.get("method") or "*", a.get("path") or "*"))
    for d in ep.get("deny_rules") or []:
        tags.append("deny %s %s" % (d.get("method") or "*", d.get("path") or "*"))
    return "%s [%s]" % (hp, ", ".join(tags))


def cmd_rule_get(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    res = ctx.rpc_d("GetDraft", name=name, status=ctx.p.get("--status") or "")
    chunks = res["chunks"]
    if not chunks:
        out("No network rules for sandbox '%s'" % name)
        return 0
    out("%s  (version %d, %d chunk%s)" % (header("Network Rules:"), res["draft_version"], len(chunks),
                                          "" if len(chunks) == 1 else "s"))
    out()
    colors = {"pending": yellow, "approved": green, "rejected": red}
    for c in chunks:
        st = colors.get(c["status"], lambda s: s)(c["status"])
        out("  %s %s" % (dimmed("Chunk:"), c["id"]))
        out("  %s %s" % (dimmed("Status:"), st))
        out("  %s %s" % (dimmed("Rule:"), c["rule_name"]))
        if c.get("binary"):
            out("  %s %s" % (dimmed("Binary:"), c["binary"]))
        out("  %s %.0f%%" % (dimmed("Confidence:"), c["confidence"] * 100.0))
        out("  %s %s" % (dimmed("Rationale:"), c["rationale"]))
        if c.get("security_notes"):
            out("  %s %s" % (dimmed("Security:"), yellow(c["security_notes"])))
        if c.get("application_error"):
            out("  %s %s" % (dimmed("Application:"), red(c["application_error"])))
        if c.get("candidate_effective_policy_hash"):
            out("  %s %s" % (dimmed("Candidate:"), c["candidate_effective_policy_hash"][:12]))
        rule = c.get("proposed_rule")
        if rule:
            out("  %s %s" % (dimmed("Endpoints:"), ", ".join(_fmt_endpoint(e) for e in rule.get("endpoints") or [])))
            if rule.get("binaries"):
                out("  %s %s" % (dimmed("Binaries:"), ", ".join(b["path"] for b in rule["binaries"])))
        if c.get("hit_count", 1) > 1:
            out("  %s %d (first seen %s, last seen %s)" % (dimmed("Hits:"), c["hit_count"],
                                                           format_epoch_ms(c["first_seen_ms"]),
                                                           format_epoch_ms(c["last_seen_ms"])))
        out()
    return 0


def cmd_rule_approve(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    cid = ctx.p.get("--chunk-id")
    chunks = ctx.rpc_d("GetDraft", name=name, status="")["chunks"]
    chunk = [c for c in chunks if c["id"] == cid]
    if not chunk:
        raise CliError("draft chunk '%s' not found" % cid)
    # Like the real CLI since 679fe4c: the review token of the fetched proposal goes with the approval.
    res = ctx.rpc_d("ApproveChunk", name=name, chunk_id=cid, review_token=chunk[0].get("review_token") or "")
    out("%s Chunk approved. Policy version: %d, hash: %s"
        % (bold(green("OK")), res["policy_version"], res["policy_hash"][:12]))
    return 0


def cmd_rule_reject(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    ctx.rpc_d("RejectChunk", name=name, chunk_id=ctx.p.get("--chunk-id"), reason=ctx.p.get("--reason", ""))
    out("%s Chunk rejected." % bold(green("OK")))
    return 0


def cmd_rule_approve_all(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    res = ctx.rpc_d("ApproveAll", name=name, include_security_flagged=ctx.p.has("--include-security-flagged"))
    out("%s %d chunk(s) approved, %d skipped. Policy version: %d" % (
        bold(green("OK")), res["chunks_approved"], res["chunks_skipped"], res["policy_version"]))
    return 0


def cmd_rule_clear(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    res = ctx.rpc_d("ClearDrafts", name=name)
    out("%s %d pending chunk(s) cleared." % (bold(green("OK")), res["chunks_cleared"]))
    return 0


def cmd_rule_history(ctx):
    name = ctx.sandbox_name(ctx.p.pos.get("NAME"))
    entries = ctx.rpc_d("DraftHistory", name=name)["entries"]
    if not entries:
        out("No rule history for sandbox '%s'" % name)
        return 0
    out(header("Rule History:"))
    out()
    colors = {"proposed": yellow, "approved": green, "rejected": red}
    for e in entries:
        out("  %s %s [%s] %s" % (dimmed(format_timestamp_ms(e["timestamp_ms"])),
                                 colors.get(e["event_type"], lambda s: s)(e["event_type"]), e["chunk_id"][:8],
                                 e["description"]))
    return 0


# ----------------------------------------------------------------------------- inference

def _print_timeout(t):
    if not t:
        out("  %s %ds (default)" % (dimmed("Timeout:"), 60))
    else:
        out("  %s %ds" % (dimmed("Timeout:"), t))


def _inference_block(label, r, with_route):
    out(header(label))
    out()
    out("  %s %s" % (dimmed("Workspace:"), r["workspace"]))
    if with_route:
        out("  %s %s" % (dimmed("Route:"), r["route_name"]))
    out("  %s %s" % (dimmed("Provider:"), r["provider_name"]))
    out("  %s %s" % (dimmed("Model:"), r["model_id"]))
    out("  %s %s" % (dimmed("Version:"), r["version"]))
    _print_timeout(r["timeout_secs"])


def _inference_set(ctx, provider, model, timeout, system, verb):
    route = "sandbox-system" if system else ""
    try:
        r = ctx.rpc("SetInference", provider_name=provider, model_id=model, route_name=route, timeout_secs=timeout,
                    no_verify=ctx.p.has("--no-verify"))
    except Rpc as exc:
        msg = exc.message.strip()
        from .util import CODE_DESCRIPTIONS
        raise CliError(msg or "inference configuration failed (%s)" % CODE_DESCRIPTIONS.get(exc.code, exc.code))
    _inference_block(("System inference %s:" if r["route_name"] == "sandbox-system" else "Inference %s:") % verb,
                     r, True)
    return 0


def cmd_inference_set(ctx):
    p = ctx.p
    return _inference_set(ctx, p.get("--provider"), p.get("--model"),
                          parse_u(p.get("--timeout", "0"), "--timeout", "TIMEOUT"), p.has("--system"), "configured")


def cmd_inference_update(ctx):
    p = ctx.p
    if not (p.has("--provider") or p.has("--model") or p.has("--timeout")):
        raise CliError("at least one of --provider, --model, or --timeout must be specified")
    route = "sandbox-system" if p.has("--system") else ""
    cur = ctx.rpc_d("GetInference", route_name=route)
    timeout = parse_u(p.get("--timeout"), "--timeout", "TIMEOUT") if p.has("--timeout") else cur["timeout_secs"]
    return _inference_set(ctx, p.get("--provider") or cur["provider_name"], p.get("--model") or cur["model_id"],
                          timeout, p.has("--system"), "updated")


def cmd_inference_get(ctx):
    if ctx.p.has("--system"):
        r = ctx.rpc_d("GetInference", route_name="sandbox-system")
        _inference_block("System inference:", r, False)
        return 0
    first = True
    for label, route in (("Inference", ""), ("System inference", "sandbox-system")):
        if not first:
            out()
        first = False
        try:
            r = ctx.rpc("GetInference", route_name=route)
            _inference_block(label + ":", r, False)
        except Rpc as exc:
            out(header(label + ":"))
            out()
            if exc.code == "NotFound":
                out("  %s" % dimmed("Not configured"))
            else:
                out("  %s %s" % (red("Error:"), exc.message))
    return 0


def cmd_inference_delete(ctx):
    system = ctx.p.has("--system")
    res = ctx.rpc_d("DeleteInference", route_name="sandbox-system" if system else "")
    label = "System inference route" if system else "Inference route"
    out("%s deleted." % label if res["deleted"] else "%s not found (already deleted)." % label)
    return 0


# ----------------------------------------------------------------------------- settings

SETTINGS = {"agent_policy_proposals_enabled": "bool", "ocsf_json_enabled": "bool",
            "proposal_approval_mode": "string", "providers_v2_enabled": "bool"}


def parse_setting(key, raw):
    kind = SETTINGS.get(key)
    if kind is None:
        raise CliError("unknown setting key '%s'. Allowed keys: %s" % (key, ",".join(sorted(SETTINGS))))
    if kind == "bool":
        v = raw.strip().lower()
        if v in ("1", "true", "yes", "y", "on"):
            return True
        if v in ("0", "false", "no", "n", "off"):
            return False
        raise CliError("invalid bool value '%s' for key '%s'; expected one of: true,false,yes,no,1,0" % (raw, key))
    if key == "proposal_approval_mode" and raw not in ("manual", "auto"):
        raise CliError("invalid value '%s' for key '%s'; expected one of: manual, auto" % (raw, key))
    return raw


def _fmt_setting(v):
    if v is None:
        return "<unset>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def cmd_settings_get(ctx):
    p = ctx.p
    if p.has("--global"):
        if p.pos.get("NAME"):
            raise CliError("settings get --global does not accept a sandbox name")
        res = ctx.rpc_d("GetGlobalSettings")
        if p.has("--json"):
            out(dumps({"scope": "global", "settings": {k: _fmt_setting(v) for k, v in res["settings"].items()},
                       "settings_revision": res["settings_revision"]}))
            return 0
        out("Scope:         global")
        out("Settings Rev:  %d" % res["settings_revision"])
        if not res["settings"]:
            out("Settings:      No settings available.")
            return 0
        out("Settings:")
        for k in sorted(res["settings"]):
            out("  %s = %s" % (k, _fmt_setting(res["settings"][k])))
        return 0
    name = ctx.sandbox_name(p.pos.get("NAME"))
    cfg = ctx.rpc_d("GetSandbox", name=name, with_config=True)["config"]
    if p.has("--json"):
        out(dumps({"config_revision": cfg["config_revision"], "policy_hash": cfg["policy_hash"],
                   "policy_source": cfg["policy_source"], "sandbox": name, "workspace": ctx.workspace,
                   "settings": {k: {"scope": v["scope"], "value": _fmt_setting(v["value"])}
                                for k, v in cfg["settings"].items()}}))
        return 0
    out("Sandbox:       %s" % name)
    out("Config Rev:    %d" % cfg["config_revision"])
    out("Policy Source: %s" % cfg["policy_source"])
    out("Policy Hash:   %s" % cfg["policy_hash"])
    out("Settings:")
    for k in sorted(cfg["settings"]):
        v = cfg["settings"][k]
        out("  %s = %s (%s)" % (k, _fmt_setting(v["value"]), v["scope"]))
    return 0


def cmd_settings_set(ctx):
    p = ctx.p
    key, raw = p.get("--key"), p.get("--value")
    value = parse_setting(key, raw)
    if p.has("--global"):
        confirm_global(p.has("--yes"))
        res = ctx.rpc_d("SetSetting", key=key, value=value, **{"global": True})
        out("%s Set global setting %s=%s (revision %d)" % (check(), key, raw, res["revision"]))
        return 0
    name = ctx.sandbox_name(p.pos.get("NAME"))
    res = ctx.rpc_d("SetSetting", name=name, key=key, value=value)
    out("%s Set sandbox setting %s=%s for %s (revision %d)" % (check(), key, raw, name, res["revision"]))
    return 0


def cmd_settings_delete(ctx):
    p = ctx.p
    key = p.get("--key")
    if key not in SETTINGS:
        raise CliError("unknown setting key '%s'. Allowed keys: %s" % (key, ",".join(sorted(SETTINGS))))
    if p.has("--global"):
        confirm_global(p.has("--yes"), "deletes")
        res = ctx.rpc_d("DeleteSetting", key=key, **{"global": True})
        if res["deleted"]:
            out("%s Deleted global setting %s (revision %d)" % (check(), key, res["revision"]))
        else:
            out("%s Global setting %s not found" % (bold(yellow("!")), key))
        return 0
    name = ctx.sandbox_name(p.pos.get("NAME"))
    res = ctx.rpc_d("DeleteSetting", name=name, key=key)
    if res["deleted"]:
        out("%s Deleted sandbox setting %s for %s (revision %d)" % (check(), key, name, res["revision"]))
    else:
        out("%s Sandbox setting %s not found for %s" % (bold(yellow("!")), key, name))
    return 0


# ----------------------------------------------------------------------------- main

DISPATCH = {
    "status": cmd_status,
    "gateway add": cmd_gateway_add, "gateway select": cmd_gateway_select, "gateway remove": cmd_gateway_remove,
    "gateway list": cmd_gateway_list, "gateway info": cmd_gateway_info,
    "provider create": cmd_provider_create, "provider get": cmd_provider_get, "provider list": cmd_provider_list,
    "provider update": cmd_provider_update, "provider delete": cmd_provider_delete,
    "sandbox create": cmd_sandbox_create, "sandbox get": cmd_sandbox_get, "sandbox list": cmd_sandbox_list,
    "sandbox delete": cmd_sandbox_delete, "sandbox stop": cmd_sandbox_stop, "sandbox start": cmd_sandbox_start,
    "sandbox exec": cmd_sandbox_exec, "sandbox provider list": cmd_sandbox_provider_list,
    "sandbox provider attach": cmd_sandbox_provider_attach, "sandbox provider detach": cmd_sandbox_provider_detach,
    "policy set": cmd_policy_set, "policy update": cmd_policy_update, "policy get": cmd_policy_get,
    "policy list": cmd_policy_list, "policy delete": cmd_policy_delete,
    "rule get": cmd_rule_get, "rule approve": cmd_rule_approve, "rule reject": cmd_rule_reject,
    "rule approve-all": cmd_rule_approve_all, "rule clear": cmd_rule_clear, "rule history": cmd_rule_history,
    "inference set": cmd_inference_set, "inference update": cmd_inference_update,
    "inference get": cmd_inference_get, "inference delete": cmd_inference_delete,
    "settings get": cmd_settings_get, "settings set": cmd_settings_set, "settings delete": cmd_settings_delete,
}


def redact_argv(argv):
    outv = []
    expect_cred = False
    for a in argv:
        if expect_cred:
            # KEY=VALUE carries a secret; KEY= (deletion) carries none.
            if "=" in a and a.split("=", 1)[1]:
                a = a.split("=", 1)[0] + "=<redacted>"
            expect_cred = False
        elif a == "--credential":
            expect_cred = True
        elif a.startswith("--credential=") and a[len("--credential="):].split("=", 1)[1:2] not in ([], [""]):
            k = a[len("--credential="):].split("=", 1)[0]
            a = "--credential=%s=<redacted>" % k
        outv.append(a)
    return outv


def log_call(argv, rc, t0):
    path = os.environ.get("OPENSHELL_SIM_CALL_LOG")
    if not path:
        return
    line = json.dumps({"argv": redact_argv(argv), "rc": rc, "ms": int((time.time() - t0) * 1000),
                       "version": version()}) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        pass


def run(argv):
    from . import grammar
    try:
        parsed = grammar.parse(argv)
    except grammar.HelpRequested as h:
        sys.stdout.write(grammar.help_text(h.path))
        return 0
    except grammar.VersionRequested:
        sys.stdout.write("openshell %s\n" % version())
        return 0
    except grammar.UsageError as e:
        return usage_error(e)
    if parsed.path in grammar.UNSIMULATED:
        sys.stderr.write(render_error("'openshell %s' is not supported by the OpenShell simulator" % parsed.path))
        return 1
    ctx = Ctx(parsed)
    try:
        return DISPATCH[parsed.path](ctx) or 0
    except grammar.UsageError as e:
        e.path = tuple(parsed.path.split())
        return usage_error(e)
    except CliError as e:
        sys.stdout.flush()
        sys.stderr.write(render_error(e.message, e.causes))
        return e.rc
    except Rpc as e:
        sys.stdout.flush()
        sys.stderr.write(render_error(e.display()))
        return 1
    except Exit as e:
        return e.rc


def usage_error(e):
    from . import grammar
    msg = "error: " + e.message + "\n"
    if e.extra:
        msg += e.extra + "\n"
    msg += "\n" + grammar.usage_line(e.path) + "\n\nFor more information, try '--help'.\n"
    sys.stderr.write(msg)
    return 2


def main(argv):
    t0 = time.time()
    rc = 1
    try:
        rc = run(argv)
    except KeyboardInterrupt:
        rc = 130
    except BrokenPipeError:
        rc = 141
    finally:
        try:
            sys.stdout.flush()
        except Exception:
            pass
        log_call(argv, rc, t0)
    return rc
