import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.dirname(HERE)
sys.path.insert(0, SIM)
from harness import SimHost  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(s):
    return ANSI.sub("", s)


def mk_sandbox(h, name, *extra):
    h.ok("sandbox", "create", "--name", name, *extra)


# ---------------------------------------------------------------- grammar table

GOOD = [
    ["sandbox", "list", "-o", "json"],
    ["sandbox", "list", "--output=json"],
    ["sandbox", "list", "-ojson"],
    ["-v", "sandbox", "list", "--names"],
    ["sb", "list", "--ids"],
    ["sandbox", "get", "nosuch", "-o", "json", "--workspace", "default"],
    ["provider", "list", "--names"],
    ["provider", "get", "nosuch"],
    ["policy", "get", "nosuch", "--full", "-o", "json"],
    ["pol", "list", "nosuch"],
    ["rule", "get", "nosuch", "--status", "pending"],
    ["rl", "history", "nosuch"],
    ["inference", "get"],
    ["settings", "get", "--global", "--json"],
    ["sandbox", "exec", "-n", "nosuch", "--", "true"],
    ["sandbox", "exec", "--name", "nosuch", "ls", "-la"],
    ["gateway", "list", "-o", "json"],
    ["status", "-g", "openshell"],
    ["sandbox"],
    ["--version"],
    ["sandbox", "create", "--help"],
]

BAD = [
    (["sandbox", "list", "-o", "xml"], "invalid value 'xml' for '--output <OUTPUT>'"),
    (["sandbox", "list", "--ids", "--names"], "cannot be used with"),
    (["sandbox", "list", "--ids", "-o", "json"], "cannot be used with"),
    (["sandbox", "frobnicate"], "unrecognized subcommand 'frobnicate'"),
    (["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    (["help"], "unrecognized subcommand 'help'"),
    (["gateway", "start"], "unrecognized subcommand 'start'"),
    (["sandbox", "get", "a", "b"], "unexpected argument 'b' found"),
    (["sandbox", "get", "--bogus"], "unexpected argument '--bogus' found"),
    (["provider", "create", "--name", "x"], "required arguments were not provided"),
    (["provider", "create", "--name", "x", "--type", "nvidia"], "required arguments were not provided"),
    (["provider", "create", "--name", "x", "--type", "nvidia", "--credential", "A", "--from-existing"],
     "cannot be used with"),
    (["provider", "get"], "required arguments were not provided"),
    (["provider", "get", "x", "-o", "json"], "unexpected argument '-o' found"),
    (["sandbox", "create", "--name", "a", "--name", "b"], "cannot be used multiple times"),
    (["sandbox", "create", "--no-keep", "--detach"], "cannot be used with"),
    (["sandbox", "create", "--no-git-ignore"], "required arguments were not provided"),
    (["sandbox", "delete"], "required arguments were not provided"),
    (["sandbox", "delete", "x", "--all"], "cannot be used with"),
    (["sandbox", "exec", "-n", "x"], "required arguments were not provided"),
    (["policy", "get", "x", "-o", "yaml"], "invalid value 'yaml'"),
    (["policy", "get", "x", "--full", "--base"], "cannot be used with"),
    (["policy", "set", "x"], "required arguments were not provided"),
    (["settings", "get", "x", "-o", "json"], "unexpected argument '-o' found"),
    (["settings", "set", "x", "--key", "bogus", "--value", "1"], "invalid value 'bogus'"),
    (["rule", "approve", "x"], "required arguments were not provided"),
    (["inference", "set", "--provider", "p"], "required arguments were not provided"),
    (["gateway", "add", "http://x:1", "--oidc-scopes", "a"], "required arguments were not provided"),
    (["gateway", "add", "http://x:1", "--local", "--remote", "u@h"], "cannot be used with"),
    (["sandbox", "list", "--wait"], "unexpected argument '--wait' found"),
]


def test_grammar_good(sim_host):
    for argv in GOOD:
        r = sim_host.run(*argv)
        assert r.returncode != 2, (argv, r.stderr)


@pytest.mark.parametrize("argv,msg", BAD)
def test_grammar_bad(sim_host, argv, msg):
    r = sim_host.run(*argv)
    assert r.returncode == 2, (argv, r.stdout, r.stderr)
    assert r.stderr.startswith("error: ")
    assert msg in r.stderr
    assert "Usage: openshell" in r.stderr
    assert "For more information, try '--help'." in r.stderr
    assert r.stdout == ""


def test_version_and_help(sim_host):
    r = sim_host.run("-V")
    assert r.returncode == 0 and r.stdout == "openshell 0.0.111\n"
    r = sim_host.run("--version", env={"OPENSHELL_SIM_VERSION": "0.0.99"})
    assert r.stdout == "openshell 0.0.99\n"
    r = sim_host.run("sandbox", "list", "--help")
    assert r.returncode == 0 and "Usage: openshell sandbox list" in r.stdout


def test_unsimulated_command_is_runtime_error(sim_host):
    r = sim_host.run("logs", "demo")
    assert r.returncode == 1
    assert "not supported by the OpenShell simulator" in r.stderr


# ---------------------------------------------------------------- gateway registration

def test_gateway_registration_layout(tmp_path):
    h = SimHost(tmp_path / "h")
    r = h.run("status", "-o", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"status": "not_configured"}
    r = h.run("sandbox", "list")
    assert r.returncode == 1 and "No active gateway." in r.stderr
    r = h.run("gateway", "add", "http://127.0.0.1:%d" % h.port)
    assert r.returncode == 0
    assert "Gateway is not reachable" in plain(r.stderr)
    assert "\u2713 Gateway 'openshell' added and set as active" in plain(r.stderr)
    cfg = os.path.join(h.env["XDG_CONFIG_HOME"], "openshell")
    assert open(os.path.join(cfg, "active_gateway")).read() == "openshell"
    meta = json.load(open(os.path.join(cfg, "gateways", "openshell", "metadata.json")))
    assert meta == {"name": "openshell", "gateway_endpoint": "http://127.0.0.1:%d" % h.port, "is_remote": False,
                    "gateway_port": 0, "auth_mode": "plaintext"}
    assert oct(os.stat(cfg).st_mode & 0o777) == "0o700"
    assert oct(os.stat(os.path.join(cfg, "gateways", "openshell")).st_mode & 0o777) == "0o700"
    r = h.run("gateway", "add", "http://127.0.0.1:%d" % h.port)
    assert r.returncode == 1 and "already exists" in r.stderr
    # nothing listens: transport error
    r = h.run("sandbox", "list")
    assert r.returncode == 1
    for s in ("transport error", "tcp connect error", "Connection refused (os error 111)"):
        assert s in r.stderr
    r = h.run("status")
    assert r.returncode == 1 and "client error (Connect)" in r.stderr
    r = h.run("sandbox", "create", "--name", "x")
    assert r.returncode == 1 and "failed to connect to gateway 'openshell' at http://127.0.0.1" in r.stderr
    # gateway list / select / unknown
    h.ok("gateway", "add", "http://10.1.2.3:8080")
    gl = h.json("gateway", "list", "-o", "json")
    assert [g["name"] for g in gl] == ["10.1.2.3", "openshell"]
    assert gl[0] == {"active": True, "auth": "plaintext", "endpoint": "http://10.1.2.3:8080", "is_remote": True,
                     "name": "10.1.2.3", "remote_host": None, "resolved_host": None, "source": "user",
                     "type": "remote"}
    r = h.ok("gateway", "select", "openshell")
    assert "Active gateway set to 'openshell'" in plain(r.stderr)
    r = h.run("sandbox", "list", "-g", "nope")
    assert r.returncode == 1 and "Unknown gateway 'nope'." in r.stderr
    r = h.run("sandbox", "list", env={"OPENSHELL_GATEWAY": "nope"})
    assert "Unknown gateway 'nope'." in r.stderr
    r = h.run("gateway", "select", "nope")
    assert r.returncode == 1 and "No gateway metadata found for 'nope'" in r.stderr
    h.ok("gateway", "remove", "10.1.2.3")
    # --local without bundle fails; with bundle imports it
    r = h.run("gateway", "add", "https://127.0.0.1:%d" % h.port, "--local", "--name", "tls")
    assert r.returncode == 1 and "mTLS certificates for gateway 'tls' were not found" in r.stderr
    tls = os.path.join(h.env["XDG_STATE_HOME"], "openshell", "tls")
    subprocess.run([os.path.join(SIM, "bin", "openshell-gateway"), "generate-certs", "--output-dir", tls],
                   env=h.env, check=True, stderr=subprocess.PIPE)
    for f in ("ca.crt", "ca.key", "server/tls.crt", "server/tls.key", "client/tls.crt", "client/tls.key"):
        assert os.path.isfile(os.path.join(tls, f))
    h.ok("gateway", "add", "https://127.0.0.1:%d" % h.port, "--local", "--name", "tls")
    assert os.path.isfile(os.path.join(cfg, "gateways", "tls", "mtls", "tls.key"))
    h.start()
    try:
        st = h.json("status", "-o", "json")
        assert st["status"] == "connected" and st["gateway"] == "tls"
    finally:
        h.stop()


# ---------------------------------------------------------------- providers

def test_provider_lifecycle_and_secrets(sim_host):
    h = sim_host
    secret = "nvapi-SUPERSECRET-123"
    r = h.run("provider", "create", "--name", "nv", "--type", "nvidia", "--credential", "NVIDIA_API_KEY")
    assert r.returncode == 1
    assert "--credential NVIDIA_API_KEY requires local env var 'NVIDIA_API_KEY' to be set to a non-empty value" \
        in r.stderr
    r = h.ok("provider", "create", "--name", "nv", "--type", "nvidia", "--credential", "NVIDIA_API_KEY",
             "--config", "BASE_URL=https://x", env={"NVIDIA_API_KEY": secret})
    assert plain(r.stdout) == "\u2713 Created provider nv\n"
    r = h.run("provider", "create", "--name", "nv", "--type", "nvidia", "--credential", "A=b")
    assert r.returncode == 1
    assert "code: 'Some entity that we attempted to create already exists', message: \"provider already exists\"" \
        in r.stderr
    r = h.run("provider", "create", "--name", "zz", "--type", "bogus", "--credential", "A=b")
    assert r.returncode == 1 and "unsupported provider type or profile: bogus" in r.stderr
    lst = h.json("provider", "list", "-o", "json")
    assert len(lst) == 1
    p = lst[0]
    assert set(p) == {"config_keys", "created_at", "credential_keys", "id", "name", "resource_version", "type",
                      "workspace"}
    assert p["credential_keys"] == ["NVIDIA_API_KEY"] and p["config_keys"] == ["BASE_URL"]
    assert p["resource_version"] == 1
    h.ok("provider", "update", "nv", "--credential", "EXTRA=v1")
    h.ok("provider", "update", "nv", "--credential", "EXTRA=")
    p = h.json("provider", "list", "-o", "json")[0]
    assert p["resource_version"] == 3 and p["credential_keys"] == ["NVIDIA_API_KEY"]
    txt = plain(h.ok("provider", "get", "nv").stdout)
    assert "Provider:\n\n  Id: " in txt and "  Type: nvidia\n" in txt and "  Resource version: 3\n" in txt
    assert "  Credential keys: NVIDIA_API_KEY\n" in txt and "  Config keys: BASE_URL\n" in txt
    r = h.run("provider", "get", "missing")
    assert r.returncode == 1 and 'message: "provider not found"' in r.stderr
    # attached provider cannot be deleted
    mk_sandbox(h, "s1", "--provider", "nv")
    mk_sandbox(h, "s2", "--provider", "nv")
    r = h.run("provider", "delete", "nv")
    assert r.returncode == 1 and "provider 'nv' is attached to sandbox(es): s1, s2" in r.stderr
    r = h.ok("provider", "delete", "ghost")
    assert plain(r.stdout) == "! Provider ghost not found\n"
    # secrets never stored or logged
    h.ok("provider", "create", "--name", "lit", "--type", "openai", "--credential", "OPENAI_API_KEY=" + secret)
    with open(h.db_path, "rb") as fh:
        blob = fh.read()
    for side in (h.db_path + "-wal",):
        if os.path.exists(side):
            blob += open(side, "rb").read()
    assert secret.encode() not in blob
    log = open(h.env["OPENSHELL_SIM_CALL_LOG"]).read()
    assert secret not in log and "OPENAI_API_KEY=<redacted>" in log


def test_parallel_provider_create(sim_host):
    h = sim_host
    with ThreadPoolExecutor(10) as ex:
        res = list(ex.map(lambda i: h.run("provider", "create", "--name", "p%d" % i, "--type", "generic",
                                          "--credential", "K=v"), range(20)))
    assert all(r.returncode == 0 for r in res), [r.stderr for r in res if r.returncode]
    assert len(h.json("provider", "list", "-o", "json")) == 20
    with ThreadPoolExecutor(10) as ex:
        res = list(ex.map(lambda i: h.run("provider", "create", "--name", "same", "--type", "generic",
                                          "--credential", "K=v"), range(20)))
    ok = [r for r in res if r.returncode == 0]
    bad = [r for r in res if r.returncode != 0]
    assert len(ok) == 1 and len(bad) == 19
    assert all("provider already exists" in r.stderr for r in bad)


# ---------------------------------------------------------------- sandboxes

def test_sandbox_lifecycle(sim_host):
    h = sim_host
    r = h.run("sandbox", "create", "--name", "Bad_Name")
    assert r.returncode == 1 and "name must contain only lowercase alphanumeric characters or hyphens" in r.stderr
    r = h.run("sandbox", "create", "--name", "a" * 20)
    assert "name exceeds maximum length (20 > 19)" in r.stderr
    r = h.run("sandbox", "create", "--name", "-ab")
    assert "name must not start or end with a hyphen" in r.stderr
    r = h.run("sandbox", "create", "--name", "x", "--cpu", "abc")
    assert r.returncode == 1 and "invalid --cpu value 'abc'" in r.stderr
    r = h.run("sandbox", "create", "--name", "x", "--memory", "4XB")
    assert "invalid --memory value '4XB'" in r.stderr
    r = h.run("sandbox", "create", "--name", "x", "--env", "OPENSHELL_X=1")
    assert "--env keys starting with OPENSHELL_ are reserved; got 'OPENSHELL_X'" in r.stderr
    r = h.run("sandbox", "create", "--name", "x", "--label", "novalue")
    assert "invalid label format 'novalue', expected key=value" in r.stderr
    r = h.run("sandbox", "create", "--name", "x", "--provider", "nvidia")
    assert r.returncode == 1 and "missing required provider 'nvidia'" in r.stderr
    r = h.run("sandbox", "create", "--name", "x", "--provider", "weird")
    assert "provider 'weird' not found and 'weird' is not a recognized provider type" in r.stderr
    r = h.run("sandbox", "create", "--name", "demo", "--from", "base", "--label", "team=a", "--gpu", "--cpu", "2",
              "--memory", "4Gi", "--env", "FOO=bar", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert "Provisioning sandbox (structured output on stdout)..." in r.stderr
    sb = json.loads(r.stdout)
    assert set(sb) == {"annotations", "created_at", "current_policy_version", "id", "labels", "name", "phase",
                       "resource_version", "workspace"}
    assert sb["phase"] == "Ready" and sb["labels"] == {"team": "a"} and sb["annotations"] == {}
    assert r.stdout.endswith("}\n") and r.stdout.startswith('{\n  "annotations"')
    r = h.run("sandbox", "create", "--name", "demo")
    assert r.returncode == 1 and "sandbox 'demo' already exists" in r.stderr
    assert "hint: delete it first with: openshell sandbox delete demo" in r.stderr
    got = h.json("sandbox", "get", "demo", "-o", "json")
    assert {"policy", "policy_source", "revision"} <= set(got) and got["revision"] == 1
    assert got["policy_source"] == "sandbox" and got["policy"]["version"] == 1
    r = h.ok("sandbox", "stop", "demo")
    assert plain(r.stdout) == "\u2713 Stopped sandbox demo\n"
    h.ok("sandbox", "stop", "demo")
    r = h.run("sandbox", "exec", "-n", "demo", "--", "true")
    assert r.returncode == 1
    assert "sandbox 'demo' is not ready (phase: Stopped); wait for it to reach Ready state" in r.stderr
    h.ok("sandbox", "start", "demo")
    h.ok("sandbox", "start", "demo")
    assert h.json("sandbox", "get", "demo", "-o", "json")["phase"] == "Ready"
    assert h.ok("sandbox", "list", "--names").stdout == "demo\n"
    lst = h.json("sandbox", "list", "-o", "json", "--selector", "team=a")
    assert [s["name"] for s in lst] == ["demo"]
    assert h.json("sandbox", "list", "-o", "json", "--selector", "team=b") == []
    txt = plain(h.ok("sandbox", "get", "demo").stdout)
    assert "Sandbox:\n\n  Id: " in txt and "  Phase: Ready\n" in txt and "    team: a\n" in txt
    r = h.ok("sandbox", "delete", "demo")
    assert plain(r.stdout) == "\u2713 Deleted sandbox demo\n"
    r = h.run("sandbox", "delete", "demo")
    assert r.returncode == 1 and 'message: "sandbox not found"' in r.stderr
    assert h.ok("sandbox", "list").stdout == "No sandboxes found.\n"


def test_sandbox_providers(sim_host):
    h = sim_host
    h.ok("provider", "create", "--name", "gh", "--type", "github", "--credential", "GITHUB_TOKEN=x",
         "--config", "A=1")
    mk_sandbox(h, "sb", "--provider", "gh")
    out = plain(h.ok("sandbox", "provider", "list", "sb").stdout)
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "CREDENTIAL_KEYS", "CONFIG_KEYS"]
    assert out.splitlines()[1].split() == ["gh", "github", "1", "1"]
    r = h.ok("sandbox", "provider", "attach", "sb", "gh")
    assert r.stdout == "Provider gh is already attached to sandbox sb.\n"
    r = h.ok("sandbox", "provider", "detach", "sb", "gh")
    assert plain(r.stdout) == "\u2713 Detached provider gh from sandbox sb\n"
    assert h.ok("sandbox", "provider", "list", "sb").stdout == "No providers attached to sandbox sb.\n"
    r = h.ok("sandbox", "provider", "attach", "sb", "gh")
    assert plain(r.stdout) == "\u2713 Attached provider gh to sandbox sb\n"
    r = h.ok("sandbox", "create", "--name", "sb2", "--provider", "openai", "--no-auto-providers")
    assert "Skipping provider 'openai' (--no-auto-providers)" in plain(r.stderr)
    r = h.ok("sandbox", "create", "--name", "sb3", "--provider", "openai", "--auto-providers",
             env={"OPENAI_API_KEY": "k"})
    assert "gh" not in h.ok("sandbox", "provider", "list", "sb3").stdout
    assert "openai" in h.ok("sandbox", "provider", "list", "sb3").stdout


def test_exec(sim_host):
    h = sim_host
    mk_sandbox(h, "ex", "--env", "GREETING=hi")
    r = h.run("sandbox", "exec", "-n", "ex", "--", "sh", "-c", "echo $GREETING $EXTRA; echo err >&2; exit 7",
              env={"SHOULD_NOT_LEAK": "1"})
    assert r.returncode == 7 and r.stdout == "hi\n" and r.stderr == "err\n"
    r = h.run("sandbox", "exec", "-n", "ex", "--env", "EXTRA=x", "--", "sh", "-c", "echo $EXTRA; env")
    assert r.stdout.startswith("x\n") and "SHOULD_NOT_LEAK" not in r.stdout and "HOME=" in r.stdout
    r = h.run("sandbox", "exec", "-n", "ex", "--", "cat", input="piped data")
    assert r.stdout == "piped data"
    r = h.run("sandbox", "exec", "-n", "ex", "--", "sh", "-c", "mkdir -p work && echo hi > work/f")
    r = h.run("sandbox", "exec", "-n", "ex", "--workdir", "/sandbox/work", "--", "cat", "f")
    assert r.returncode == 0 and r.stdout == "hi\n"
    # '..' never leaves the sandbox's root (issue 19): /../../.. is the sandbox's '/', not the host's
    root = h.run("sandbox", "exec", "-n", "ex", "--", "sh", "-c", "echo $OPENSHELL_SANDBOX_ROOT").stdout.strip()
    for wd in ("/../../..", "../../../../..", "/sandbox/../../../.."):
        r = h.run("sandbox", "exec", "-n", "ex", "--workdir", wd, "--", "pwd")
        assert r.returncode == 0 and os.path.realpath(r.stdout.strip()) == os.path.realpath(root), (wd, r.stdout, root)
    r = h.run("sandbox", "exec", "-n", "ex", "--workdir", "/../../../sandbox/work", "--", "cat", "f")
    assert r.returncode == 0 and r.stdout == "hi\n"
    h.run("sandbox", "exec", "-n", "ex", "--", "ln", "-s", "/", "escape")
    r = h.run("sandbox", "exec", "-n", "ex", "--workdir", "/sandbox/escape", "--", "pwd")
    assert r.returncode == 1 and "failed to change directory" in r.stderr
    r = h.run("sandbox", "exec", "-n", "ex", "--timeout", "1", "--", "sleep", "5")
    assert r.returncode == 124
    r = h.run("sandbox", "exec", "-n", "nosuch", "--", "true")
    assert r.returncode == 1 and "sandbox not found" in r.stderr


# ---------------------------------------------------------------- policy

POLICY = {
    "version": 1,
    "filesystem_policy": {"include_workdir": True, "read_only": ["/usr", "/etc"], "read_write": ["/tmp"]},
    "landlock": {"compatibility": "best_effort"},
    "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"},
    "network_policies": {"github": {"name": "github", "endpoints": [{"host": "api.github.com", "port": 443}],
                                    "binaries": [{"path": "/usr/bin/git"}]}},
}


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(p)


def test_policy_revisions(sim_host, tmp_path):
    h = sim_host
    pf = write(tmp_path, "p.json", POLICY)
    mk_sandbox(h, "pol", "--policy", pf)
    g = h.json("policy", "get", "pol", "-o", "json")
    assert g["version"] == 1 and g["status"] == "effective" and "policy" not in g and len(g["hash"]) == 64
    r = h.ok("policy", "set", "pol", "--policy", pf)
    assert plain(r.stderr) == "\u00b7 Policy unchanged (version 1, hash: %s)\n" % g["hash"][:12]
    p2 = json.loads(json.dumps(POLICY))
    p2["network_policies"]["pypi"] = {"endpoints": [{"host": "pypi.org", "port": 443}]}
    r = h.ok("policy", "set", "pol", "--policy", write(tmp_path, "p2.json", p2), "--wait")
    lines = plain(r.stderr).splitlines()
    assert re.match(r"^\u2713 Policy version 2 submitted \(hash: [0-9a-f]{12}\)$", lines[0])
    assert lines[1] == "\u2713 Policy version 2 loaded (active version: 2)"
    full = h.json("policy", "get", "pol", "--full", "-o", "json")
    assert full["policy"]["network_policies"]["pypi"] == {"name": "pypi",
                                                          "endpoints": [{"host": "pypi.org", "port": 443}]}
    # static changes rejected
    p3 = json.loads(json.dumps(p2))
    p3["landlock"]["compatibility"] = "hard_requirement"
    r = h.run("policy", "set", "pol", "--policy", write(tmp_path, "p3.json", p3))
    assert r.returncode == 1 and "landlock policy cannot be changed on a live sandbox (applied at startup)" in r.stderr
    p4 = json.loads(json.dumps(p2))
    p4["filesystem_policy"]["read_only"] = ["/usr"]
    r = h.run("policy", "set", "pol", "--policy", write(tmp_path, "p4.json", p4))
    assert r.returncode == 1 and "cannot be removed on a live sandbox" in r.stderr
    p5 = json.loads(json.dumps(p2))
    p5["filesystem_policy"]["read_only"].append("/opt")
    h.ok("policy", "set", "pol", "--policy", write(tmp_path, "p5.json", p5))
    # bad documents
    r = h.run("policy", "set", "pol", "--policy", write(tmp_path, "bad.json", {"version": 1, "bogus": 1}))
    assert r.returncode == 1 and "failed to parse sandbox policy YAML" in r.stderr and "bogus" in r.stderr
    bad2 = ("version: 1\nnetwork_policies:\n  x:\n    endpoints:\n    - host: a\n      port: 1\n"
            "      protocol: ftp\n")
    r = h.run("policy", "set", "pol", "--policy", write(tmp_path, "bad2.yaml", bad2))
    assert r.returncode == 1 and "failed to parse sandbox policy YAML" in r.stderr
    r = h.run("policy", "set", "pol", "--policy", write(tmp_path, "bad3.json", dict(POLICY, version=2)))
    assert r.returncode == 1
    bad = json.loads(json.dumps(POLICY))
    bad["network_policies"]["_provider_x"] = {"endpoints": [{"host": "a", "port": 1}]}
    r = h.run("policy", "set", "pol", "--policy", write(tmp_path, "bad4.json", bad))
    assert r.returncode == 1 and "_provider_" in r.stderr
    # update merges
    r = h.ok("policy", "update", "pol", "--add-endpoint", "registry.npmjs.org:443:read-only:rest:enforce",
             "--binary", "/usr/bin/npm")
    assert "Policy version 4 submitted" in plain(r.stderr)
    full = h.json("policy", "get", "pol", "--full", "-o", "json")["policy"]
    assert full["network_policies"]["allow_registry_npmjs_org_443"] == {
        "name": "allow_registry_npmjs_org_443",
        "endpoints": [{"host": "registry.npmjs.org", "port": 443, "access": "read-only", "protocol": "rest",
                       "enforcement": "enforce"}],
        "binaries": [{"path": "/usr/bin/npm"}]}
    r = h.run("policy", "update", "pol")
    assert r.returncode == 1 and "policy update requires at least one operation flag" in r.stderr
    r = h.run("policy", "update", "pol", "--add-endpoint", "nohost")
    assert "--add-endpoint expects host:port[:access[:protocol[:enforcement[:options]]]], got 'nohost'" in r.stderr
    hist = plain(h.ok("policy", "list", "pol").stdout).splitlines()
    assert hist[0].split() == ["VERSION", "HASH", "STATUS", "CREATED", "ERROR"] and len(hist) == 5
    txt = h.ok("policy", "get", "pol").stdout
    assert txt.startswith("Version:      4\nHash:         ") and "Status:       Effective\n" in txt
    assert "---" not in txt
    r = h.ok("policy", "get", "pol", "--rev", "1", "-o", "json")
    assert json.loads(r.stdout)["status"] == "superseded"
    r = h.ok("policy", "get", "pol", "--rev", "99")
    assert r.stdout == "" and "No policy history found for sandbox 'pol'" in r.stderr
    yml = h.ok("sandbox", "get", "pol", "--policy-only").stdout
    assert yml.startswith("version: 1\n") and "allow_registry_npmjs_org_443:" in yml


def test_global_policy(sim_host, tmp_path):
    h = sim_host
    pf = write(tmp_path, "p.json", POLICY)
    mk_sandbox(h, "gp")
    r = h.run("policy", "set", "--global", "--policy", pf)
    assert r.returncode == 1 and "global setting updates require confirmation; pass --yes" in r.stderr
    r = h.ok("policy", "set", "--global", "--yes", "--policy", pf)
    assert re.search(r"Global policy configured \(hash: [0-9a-f]{12}, settings revision: 1\)", plain(r.stderr))
    r = h.run("policy", "set", "gp", "--policy", pf)
    assert r.returncode == 1 and "policy is managed globally" in r.stderr
    r = h.run("policy", "update", "gp", "--add-endpoint", "a.b:443")
    assert "policy is managed globally; delete the global policy before using `openshell policy update`" in r.stderr
    assert h.json("sandbox", "get", "gp", "-o", "json")["policy_source"] == "global"
    r = h.ok("policy", "delete", "--global", "--yes")
    assert "Deleted global setting policy (revision 2)" in plain(r.stdout)
    r = h.run("policy", "delete")
    assert r.returncode == 1 and "sandbox policy delete is not supported" in r.stderr


def test_policy_wait_timeout_and_failure(sim_host, tmp_path):
    h = sim_host
    mk_sandbox(h, "w")
    p2 = json.loads(json.dumps(POLICY))
    p2["filesystem_policy"] = pol_default_fs()
    h.set_faults({"policy_load": "pending"})
    r = h.run("policy", "update", "w", "--add-endpoint", "a.example:443", "--wait", "--timeout", "1")
    assert r.returncode == 124 and "Timeout waiting for policy version 2 to load" in plain(r.stderr)
    h.set_faults({"policy_load": "failed", "policy_load_error": "boom"})
    r = h.run("policy", "update", "w", "--add-endpoint", "b.example:443", "--wait", "--timeout", "5")
    assert r.returncode == 1 and "failed to load: boom" in plain(r.stderr)


def pol_default_fs():
    return {"include_workdir": True, "read_only": ["/usr"], "read_write": ["/tmp"]}


# ---------------------------------------------------------------- rules

def test_rules(sim_host):
    h = sim_host
    mk_sandbox(h, "rl")
    assert h.ok("rule", "get", "rl").stdout == "No network rules for sandbox 'rl'\n"
    h.set_faults({"pending_requests": [
        {"sandbox": "rl", "host": "api.openai.com", "port": 443, "binary": "/usr/bin/curl", "id": "chunk-aaaa1111"},
        {"sandbox": "rl", "host": "evil.example", "port": 8443, "binary": "/usr/bin/nc", "security_flagged": True,
         "id": "chunk-bbbb2222"},
        {"sandbox": "rl", "host": "pypi.org", "port": 443, "id": "chunk-cccc3333"},
    ]})
    txt = plain(h.ok("rule", "get", "rl", "--status", "pending").stdout)
    assert txt.startswith("Network Rules:  (version 3, 3 chunks)\n\n")
    assert "  Chunk: chunk-aaaa1111\n  Status: pending\n  Rule: allow_api_openai_com_443\n" \
           "  Binary: /usr/bin/curl\n  Confidence: 90%\n" in txt
    assert "  Endpoints: api.openai.com:443 [L4]\n  Binaries: /usr/bin/curl\n" in txt
    assert "  Security: Destination flagged by security review\n" in txt
    r = h.ok("rule", "approve", "rl", "--chunk-id", "chunk-aaaa1111")
    m = re.match(r"^OK Chunk approved\. Policy version: 2, hash: [0-9a-f]{12}\n$", plain(r.stdout))
    assert m, r.stdout
    pol = h.json("policy", "get", "rl", "--full", "-o", "json")["policy"]
    assert "allow_api_openai_com_443" in pol["network_policies"]
    r = h.run("rule", "approve", "rl", "--chunk-id", "nope")
    assert r.returncode == 1 and "draft chunk 'nope' not found" in r.stderr
    r = h.ok("rule", "approve-all", "rl")
    assert plain(r.stdout) == "OK 1 chunk(s) approved, 1 skipped. Policy version: 3\n"
    r = h.ok("rule", "reject", "rl", "--chunk-id", "chunk-bbbb2222", "--reason", "nope")
    assert plain(r.stdout) == "OK Chunk rejected.\n"
    assert "Status: rejected" in plain(h.ok("rule", "get", "rl", "--status", "rejected").stdout)
    assert h.ok("rule", "get", "rl", "--status", "pending").stdout == "No network rules for sandbox 'rl'\n"
    r = h.ok("rule", "clear", "rl")
    assert plain(r.stdout) == "OK 0 pending chunk(s) cleared.\n"
    hist = plain(h.ok("rule", "history", "rl").stdout)
    assert hist.startswith("Rule History:\n\n") and "approved [chunk-aa]" in hist and "rejected [chunk-bb]" in hist


def test_rule_approve_failures(sim_host):
    h = sim_host
    mk_sandbox(h, "rf")
    requests = [{"sandbox": "rf", "host": "h%d.example" % n, "port": 443, "id": "chunk-%d" % n} for n in range(4)]
    h.set_faults({"pending_requests": requests, "approve_failures": [
        {"id": "chunk-0", "error": "not_applicable", "application_error": "provider 'github' not found"},
        {"id": "chunk-1", "error": "token_mismatch", "code": "Aborted"},
        {"id": "chunk-2", "error": "inputs_changed"},
    ]})
    precondition = "code: 'The system is not in a state required for the operation's execution', message: "
    r = h.run("rule", "approve", "rf", "--chunk-id", "chunk-0")
    assert r.returncode == 1 and r.stdout == ""
    assert (precondition + "\"proposal is not applicable: provider 'github' not found\"") in plain(r.stderr)
    r = h.run("rule", "approve", "rf", "--chunk-id", "chunk-1")
    assert r.returncode == 1 and ("code: 'The operation was aborted', message: \"review token does not match the "
                                  "fetched proposal; refetch and review again\"") in plain(r.stderr)
    r = h.run("rule", "approve", "rf", "--chunk-id", "chunk-2")
    assert r.returncode == 1 and (precondition + "\"proposal inputs changed; evaluation refreshed, refetch and review "
                                  "again\"") in plain(r.stderr)
    h.ok("rule", "approve", "rf", "--chunk-id", "chunk-3")
    txt = plain(h.ok("rule", "get", "rf", "--status", "pending").stdout)
    assert "  Chunk: chunk-0\n" in txt and "  Application: provider 'github' not found\n" in txt
    assert txt.count("Application:") == 1 and "chunk-3" not in txt
    # The fault gone, the same chunks approve.
    h.set_faults({"pending_requests": requests})
    for n in range(3):
        h.ok("rule", "approve", "rf", "--chunk-id", "chunk-%d" % n)
    assert "Application:" not in plain(h.ok("rule", "get", "rf").stdout)
    r = h.run("rule", "approve", "rf", "--chunk-id", "chunk-0")
    assert r.returncode == 1 and "chunk status is 'approved', expected 'pending' or 'rejected'" in plain(r.stderr)


# ---------------------------------------------------------------- inference & settings

def test_inference(sim_host):
    h = sim_host
    out = plain(h.ok("inference", "get").stdout)
    assert out == "Inference:\n\n  Not configured\n\nSystem inference:\n\n  Not configured\n"
    r = h.run("inference", "set", "--provider", "nv", "--model", "m")
    assert r.returncode == 1 and "Error:   \u00d7 provider 'nv' not found in workspace 'default'" in r.stderr
    h.ok("provider", "create", "--name", "nv", "--type", "nvidia", "--credential", "NVIDIA_API_KEY=x")
    out = plain(h.ok("inference", "set", "--provider", "nv", "--model", "meta/llama").stdout)
    assert out == ("Inference configured:\n\n  Workspace: default\n  Route: inference.local\n  Provider: nv\n"
                   "  Model: meta/llama\n  Version: 1\n  Timeout: 60s (default)\n")
    out = plain(h.ok("inference", "update", "--timeout", "30").stdout)
    assert "Inference updated:" in out and "  Version: 2\n" in out and "  Timeout: 30s\n" in out
    r = h.run("inference", "get", "--system")
    assert r.returncode == 1 and "inference route 'sandbox-system' is not configured in workspace 'default'" \
        in r.stderr
    h.ok("inference", "set", "--system", "--provider", "nv", "--model", "small")
    out = plain(h.ok("inference", "get", "--system").stdout)
    assert out.startswith("System inference:\n\n  Workspace: default\n  Provider: nv\n  Model: small\n")
    assert plain(h.ok("inference", "delete").stdout) == "Inference route deleted.\n"
    assert plain(h.ok("inference", "delete").stdout) == "Inference route not found (already deleted).\n"
    assert plain(h.ok("inference", "delete", "--system").stdout) == "System inference route deleted.\n"


def test_settings(sim_host):
    h = sim_host
    mk_sandbox(h, "st")
    s = h.json("settings", "get", "st", "--json")
    assert s["settings"]["proposal_approval_mode"] == {"scope": "unset", "value": "<unset>"}
    r = h.ok("settings", "set", "st", "--key", "ocsf_json_enabled", "--value", "yes")
    assert plain(r.stdout) == "\u2713 Set sandbox setting ocsf_json_enabled=yes for st (revision 1)\n"
    r = h.ok("settings", "set", "st", "--key", "ocsf_json_enabled", "--value", "true")
    assert "(revision 1)" in r.stdout
    r = h.run("settings", "set", "st", "--key", "ocsf_json_enabled", "--value", "maybe")
    assert "invalid bool value 'maybe' for key 'ocsf_json_enabled'; expected one of: true,false,yes,no,1,0" \
        in r.stderr
    s = h.json("settings", "get", "st", "--json")
    assert s["settings"]["ocsf_json_enabled"] == {"scope": "sandbox", "value": "true"}
    r = h.run("settings", "set", "--global", "--key", "ocsf_json_enabled", "--value", "false")
    assert "require confirmation" in r.stderr
    h.ok("settings", "set", "--global", "--yes", "--key", "providers_v2_enabled", "--value", "true")
    r = h.run("settings", "set", "st", "--key", "providers_v2_enabled", "--value", "false")
    assert "setting 'providers_v2_enabled' is managed globally" in r.stderr
    g = h.json("settings", "get", "--global", "--json")
    assert g == {"scope": "global", "settings": {"providers_v2_enabled": "true"}, "settings_revision": 1}
    r = h.ok("settings", "delete", "st", "--key", "proposal_approval_mode")
    assert plain(r.stdout) == "! Sandbox setting proposal_approval_mode not found for st\n"
    r = h.ok("settings", "delete", "st", "--key", "ocsf_json_enabled")
    assert "Deleted sandbox setting ocsf_json_enabled for st (revision 2)" in plain(r.stdout)
    r = h.run("settings", "delete", "st", "--key", "bogus")
    assert r.returncode == 1 and "unknown setting key 'bogus'" in r.stderr
    mk_sandbox(h, "auto", "--approval-mode", "auto")
    s = h.json("settings", "get", "auto", "--json")
    assert s["settings"]["proposal_approval_mode"] == {"scope": "sandbox", "value": "auto"}


# ---------------------------------------------------------------- persistence, faults, hosts

def test_persistence_across_restart(sim_host):
    h = sim_host
    h.ok("provider", "create", "--name", "keep", "--type", "generic", "--credential", "K=v")
    mk_sandbox(h, "keep", "--label", "x=y")
    h.restart()
    assert [p["name"] for p in h.json("provider", "list", "-o", "json")] == ["keep"]
    sb = h.json("sandbox", "get", "keep", "-o", "json")
    assert sb["labels"] == {"x": "y"} and sb["phase"] == "Ready"


def test_fault_down_and_unavailable(sim_host):
    h = sim_host
    h.set_faults({"down": True})
    r = h.run("provider", "list")
    assert r.returncode == 1 and "Connection refused (os error 111)" in r.stderr
    assert h.proc.poll() is None
    h.set_faults({})
    h.ok("provider", "list")
    h.set_faults({"unavailable": 2})
    for _attempt in range(2):
        r = h.run("provider", "list")
        assert r.returncode == 1
        assert "code: 'The service is currently unavailable'" in r.stderr
    h.ok("provider", "list")
    h.set_faults({"unavailable": 2, "latency_ms": 0})  # new content -> counter re-armed
    assert h.run("provider", "list").returncode == 1
    h.restart()  # counter persisted in the db
    assert h.run("provider", "list").returncode == 1
    h.ok("provider", "list")


def test_fault_latency_never_ready_exec(sim_host):
    h = sim_host
    h.set_faults({"latency_ms": 300})
    t = time.time()
    h.ok("provider", "list")
    assert time.time() - t >= 0.3
    h.set_faults({"never_ready_images": ["stuck"],
                  "exec_failures": [{"image": "flaky", "command_contains": "healthcheck", "rc": 3,
                                     "stderr": "unhealthy\n"}]})
    r = h.run("sandbox", "create", "--name", "st", "--from", "stuck", env={"OPENSHELL_PROVISION_TIMEOUT": "1"})
    assert r.returncode == 1 and "sandbox provisioning timed out after 1s" in r.stderr
    assert h.json("sandbox", "get", "st", "-o", "json")["phase"] == "Provisioning"
    mk_sandbox(h, "fl", "--from", "flaky")
    r = h.run("sandbox", "exec", "-n", "fl", "--", "sh", "-c", "healthcheck")
    assert r.returncode == 3 and r.stderr == "unhealthy\n"
    assert h.run("sandbox", "exec", "-n", "fl", "--", "true").returncode == 0


def test_many_hosts(sim_hosts):
    a, b = sim_hosts(2)
    a.ok("provider", "create", "--name", "only-a", "--type", "generic", "--credential", "K=v")
    assert b.json("provider", "list", "-o", "json") == []
    assert a.port != b.port
    assert any(c["argv"][:2] == ["provider", "create"] for c in a.calls())


def test_cli_latency(sim_host):
    t = time.time()
    n = 10
    for _attempt in range(n):
        sim_host.ok("provider", "list", "-o", "json")
    per_call = (time.time() - t) / n
    assert per_call < 1.0, per_call  # generous: the suite runs under load


def test_stdlib_python_compat(sim_host):
    py = "/usr/bin/python3"
    if not os.path.exists(py):
        pytest.skip("no /usr/bin/python3")
    env = dict(sim_host.env, OPENSHELL_SIM_PYTHON=py)  # the wrapper runs it with -I -S: stdlib only
    r = subprocess.run([os.path.join(SIM, "bin", "openshell"), "provider", "list", "-o", "json"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


# ---------------------------------------------------------------- agreement with the CLI contracts

CONTRACTS = os.path.abspath(os.path.join(SIM, "..", "contract"))  # tests/contract
sys.path.insert(0, CONTRACTS)
import openshell_contract  # noqa: E402  (a missing contract directory fails collection: never a silent skip)

# Command lines whose validity differs between the supported versions.
VERSIONED = [
    ["sandbox", "create", "--name", "rp", "--detach", "--restart-policy", "on-failure", "--no-tty"],
    ["sandbox", "create", "--name", "rq", "--restart-policy=always", "--detach", "-o", "json"],
    ["sandbox", "create", "--name", "rr", "--restart-policy", "sometimes", "--detach"],
    ["sandbox", "create", "--name", "rs", "--detach", "--no-tty", "-o", "json"],
]


def test_every_supported_version_has_a_contract():
    assert openshell_contract.versions() == ["0.0.111", "0.0.116", "0.1.5"]
    for version in openshell_contract.versions():
        contract = openshell_contract.load(version)
        assert contract.grammar["commands"]["sandbox create"]["kind"] == "leaf"
        assert contract.section("errors")["sandbox_not_found"] == "sandbox not found"


@pytest.mark.parametrize("version", ["0.0.111", "0.0.116", "0.1.5"])
def test_zz_exit2_matches_the_contract_of_each_version(sim_host, tmp_path, version):
    """The simulator speaking ``version`` exits 2 exactly on the calls that version's contract rejects."""
    argvs = GOOD + [b for b, _expected in BAD] + VERSIONED
    rcs = {}
    for argv in argvs:
        rcs[json.dumps(argv)] = sim_host.run(*argv, env={"OPENSHELL_SIM_VERSION": version}).returncode
    invalid = {line.split(" ", 1)[1].rsplit("]: ", 1)[0] + "]" for line in openshell_contract.invalid(argvs, version)}
    rc2 = {argv for argv, rc in rcs.items() if rc == 2}
    assert rc2 == invalid, (sorted(rc2 - invalid), sorted(invalid - rc2))
    has_restart = json.dumps(VERSIONED[0]) not in invalid
    assert has_restart == (version == "0.1.5")


def test_simulator_json_and_create_follow_the_version(sim_host):
    contract = openshell_contract.load("0.1.5")
    env = {"OPENSHELL_SIM_VERSION": "0.1.5"}
    r = sim_host.run("sandbox", "create", "--name", "fg", "--no-tty", "-o", "json", env=env)
    assert r.returncode == 1 and "--detach" in r.stderr  # 0.1.x: this driver cannot attach in the foreground
    r = sim_host.run("sandbox", "create", "--name", "bg", "--detach", "--restart-policy", "always", "--no-tty",
                     "-o", "json", env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(r.stdout)) == contract.section("sandbox_json_keys")
    assert json.loads(r.stdout)["exit_code"] is None
    old = openshell_contract.load("0.0.111")
    r = sim_host.run("sandbox", "get", "bg", "-o", "json")
    assert sorted(json.loads(r.stdout)) == sorted(old.section("sandbox_json_keys") + old.section("sandbox_get_json_extra_keys"))


@pytest.mark.parametrize("version", ["0.0.111", "0.1.5"])
def test_main_process_exits_follow_the_version(tmp_path, version):
    h = SimHost(tmp_path / "host", extra_env={"OPENSHELL_SIM_VERSION": version}).start()
    try:
        h.register()
        for name in ("ok", "bad"):
            h.ok("sandbox", "create", "--name", name, "--detach", "--no-tty")
        h.set_faults({"main_process_exits": [{"name": "ok", "exit_code": 0}, {"name": "bad", "exit_code": 3}]})
        ok, bad = h.json("sandbox", "get", "ok", "-o", "json"), h.json("sandbox", "get", "bad", "-o", "json")
        if version == "0.0.111":
            assert ok["phase"] == bad["phase"] == "Error" and "exit_code" not in ok
            r = h.run("sandbox", "start", "ok")
            assert r.returncode == 1 and "sandbox must be Stopped to start (current phase: Error)" in r.stderr
            return
        assert (ok["phase"], ok["exit_code"], bad["phase"], bad["exit_code"]) == ("Completed", 0, "Error", 3)
        for name in ("ok", "bad"):  # 0.1.x starts a Completed sandbox and a failed main process again
            h.ok("sandbox", "start", name)
            again = h.json("sandbox", "get", name, "-o", "json")
            assert again["phase"] == "Ready" and again["exit_code"] is None
    finally:
        h.stop()


def test_images_ship_stub_agents_for_health_checks(sim_host):
    h = sim_host
    h.ok("sandbox", "create", "--name", "agents", "--from", "openclaw", "--no-tty")
    r = h.run("sandbox", "exec", "-n", "agents", "--", "openclaw", "health", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "ok"
    assert h.run("sandbox", "exec", "-n", "agents", "--", "hermes", "--version").stdout.startswith("hermes ")
    h.set_faults({"exec_failures": [{"image": "openclaw", "command_contains": "health", "rc": 3, "stderr": "unhealthy\n"}]})
    r = h.run("sandbox", "exec", "-n", "agents", "--", "openclaw", "health", "--json")
    assert r.returncode == 3 and "unhealthy" in r.stderr
