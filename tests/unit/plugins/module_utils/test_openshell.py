# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The CLI client: argv building, secrets in env only, parsing, error typing, retries."""

from __future__ import annotations

import json

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell as os_
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.common import InputError

MIETTE_NOT_FOUND = (
    "Error:   \u00d7 code: 'Some requested entity was not found', message: \"sandbox not found\"\n"
)
MIETTE_TRANSPORT = (
    "Error:   \u00d7 transport error\n"
    "  \u251c\u2500\u25b6 tcp connect error\n"
    "  \u2570\u2500\u25b6 Connection refused (os error 111)\n"
)


class FakeRunner(object):
    """Answers calls from a script of (rc, stdout, stderr); records argv and env."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen = []

    def __call__(self, argv, env, data):
        self.seen.append((argv, dict(env), data))
        return self.answers.pop(0) if self.answers else (0, "", "")


def client(*answers, **kw):
    runner = FakeRunner(*answers)
    return os_.OpenShellClient(runner, sleep=lambda s: None, **kw), runner


def test_global_flags_precede_the_subcommand_so_exec_commands_stay_intact():
    c, r = client((0, "ok\n", ""), gateway="gw1", workspace="team")
    c.sandbox_exec("sb", ["echo", "--workspace"])
    argv = r.seen[0][0]
    assert argv[:5] == ["openshell", "--gateway", "gw1", "--workspace", "team"]
    assert argv[-3:] == ["--", "echo", "--workspace"]
    assert "--name" in argv and argv[argv.index("--name") + 1] == "sb"


def test_credentials_travel_in_env_never_on_argv():
    c, r = client((0, "", ""))
    c.provider_create("nv", "nvidia", {"NVIDIA_API_KEY": "nvapi-SECRET-123"}, {"BASE": "x"})
    argv, env, _unused = r.seen[0]
    assert "nvapi-SECRET-123" not in " ".join(argv)
    assert argv[argv.index("--credential") + 1] == "NVIDIA_API_KEY"
    assert env["NVIDIA_API_KEY"] == "nvapi-SECRET-123"
    assert ["--config", "BASE=x"] == argv[argv.index("--config"):argv.index("--config") + 2]
    assert env["RUST_LOG"] == "off"


@pytest.mark.parametrize("key", ["OPENSHELL_GATEWAY_ENDPOINT", "RUST_LOG", "LD_PRELOAD", "PATH"])
def test_a_credential_cannot_set_what_the_cli_reads(key):
    c, r = client((0, "", ""))
    with pytest.raises(InputError) as exc:
        c.provider_create("gh", "github", {"GITHUB_TOKEN": "t", key: "https://evil.example"})
    assert exc.value.field == "credentials" and key in exc.value.reason
    assert r.seen == []


def test_removed_credential_keys_use_an_empty_value():
    c, r = client((0, "", ""))
    c.provider_update("nv", {}, None, removed_credentials=["OLD_KEY"])
    assert r.seen[0][0][-2:] == ["--credential", "OLD_KEY="]


@pytest.mark.parametrize("rc,stderr,kind", [
    (1, MIETTE_NOT_FOUND, "not_found"),
    (1, MIETTE_TRANSPORT, "gateway_unreachable"),
    (1, "Error:   \u00d7 client error (Connect)\n", "gateway_unreachable"),
    (1, "Error:   \u00d7 code: 'Some entity that we attempted to create already exists', message: \"provider already exists\"\n",
     "already_exists"),
    (2, "error: unexpected argument '--foo' found\n\nUsage: openshell sandbox get [NAME]\n", "invalid_argument"),
    (124, "\u2717 Timeout waiting for policy version 3 to load\n", "policy_wait_timeout"),
    (1, "Error:   \u00d7 code: 'The system is not in a state required for the operation's execution', "
        "message: \"provider 'nv' is attached to sandbox(es): a, b\"\n", "precondition"),
    (1, "Error:   \u00d7 No active gateway.\n  \u2502 Set one with: openshell gateway select <name>\n", "gateway_not_configured"),
    (1, "Error:   \u00d7 code: 'The service is currently unavailable', message: \"try later\"\n", "unavailable"),
    (1, "Error:   \u00d7 code: 'Client specified an invalid argument', message: \"name exceeds maximum length (20 > 19)\"\n",
     "invalid_argument"),
    (1, "Error:   \u00d7 something unexpected\n", "error"),
    (127, "sh: openshell: not found\n", "cli_not_found"),
])
def test_errors_are_typed(rc, stderr, kind):
    err = os_.classify(rc, stderr, ["sandbox", "get", "x"])
    assert err.kind == kind
    assert "\u00d7" not in str(err) and "\u2502" not in str(err)


PRECONDITION = "Error:   \u00d7 code: 'The system is not in a state required for the operation's execution', message: "


@pytest.mark.parametrize("stderr,kind", [
    (PRECONDITION + "\"proposal is not applicable: provider 'github' not found\"\n", "proposal_not_applicable"),
    (PRECONDITION + "\"proposal is not applicable: network policy 'x' already exists with other binaries\"\n",
     "proposal_not_applicable"),
    (PRECONDITION + "\"review token does not match the fetched proposal; refetch and review again\"\n",
     "proposal_changed"),
    ("Error:   \u00d7 code: 'The operation was aborted', message: \"review token does not match the fetched proposal; "
     "refetch and review again\"\n", "proposal_changed"),
    (PRECONDITION + "\"proposal inputs changed; evaluation refreshed, refetch and review again\"\n", "proposal_changed"),
    (PRECONDITION + "\"proposal inputs changed during bulk review; refetch and review again\"\n", "proposal_changed"),
    # miette wraps long reports; the joined lines still read the same
    ("Error:   \u00d7 code: 'The system is not in a state required for the operation's\n  \u2502 execution', message:"
     " \"proposal is not applicable: endpoint\n  \u2502 api.github.com:443 not found in provider profile\"\n",
     "proposal_not_applicable"),
    # the gRPC code decides before the words of the message
    (PRECONDITION + "\"provider 'nv' not found in workspace 'default'\"\n", "precondition"),
    (PRECONDITION + "\"chunk status is 'approved', expected 'pending' or 'rejected'\"\n", "precondition"),
    ("Error:   \u00d7 code: 'Client specified an invalid argument', message: \"binary '/x' not found\"\n",
     "invalid_argument"),
    ("Error:   \u00d7 code: 'Some requested entity was not found', message: \"chunk not found\"\n", "not_found"),
    ("Error:   \u00d7 draft chunk 'c-9' not found\n", "not_found"),
    ("Error:   \u00d7 provider 'nv' not found in workspace 'default'\n", "not_found"),
])
def test_rule_approve_errors_are_typed(stderr, kind):
    err = os_.classify(1, stderr, ["rule", "approve", "sb", "--chunk-id", "c-1"])
    assert err.kind == kind, str(err)
    if kind.startswith("proposal_"):
        assert isinstance(err, os_.Precondition) and err.hint and "\u2502" not in str(err)


def test_error_message_joins_miette_lines():
    assert os_.error_message(MIETTE_TRANSPORT) == "transport error tcp connect error Connection refused (os error 111)"


def test_unavailable_is_retried_with_backoff_then_succeeds():
    unavailable = (1, "Error:   \u00d7 code: 'The service is currently unavailable', message: \"x\"\n", "")
    unavailable = (1, "", unavailable[1])
    delays = []
    runner = FakeRunner(unavailable, unavailable, (0, "[]", ""))
    c = os_.OpenShellClient(runner, retries=3, retry_delay=0.5, sleep=delays.append)
    assert c.provider_list() == []
    assert delays == [0.5, 1.0]
    assert len(c.calls) == 3


def test_unavailable_gives_up_after_retries():
    bad = (1, "", "Error:   \u00d7 code: 'The service is currently unavailable', message: \"x\"\n")
    c, _r = client(bad, bad, bad, retries=2)
    with pytest.raises(os_.Unavailable) as exc:
        c.sandbox_list()
    assert "after 2 retries" in str(exc.value)


def test_read_only_and_mutating_calls_are_told_apart():
    assert not os_.is_mutating(["sandbox", "get", "x", "-o", "json"])
    assert not os_.is_mutating(["sandbox", "provider", "list", "x"])
    assert not os_.is_mutating(["--version"])
    assert os_.is_mutating(["sandbox", "provider", "attach", "x", "p"])
    assert os_.is_mutating(["policy", "set", "x", "--policy", "f"])
    assert os_.is_mutating(["rule", "approve", "x", "--chunk-id", "c"])


def test_sandbox_get_missing_is_none():
    c, _r = client((1, "", MIETTE_NOT_FOUND))
    assert c.sandbox_get("nope") is None


def test_run_json_tolerates_leading_tracing_lines():
    c, _r = client((0, "WARN something\n{\"a\": 1}\n", ""))
    assert c.run_json(["status", "-o", "json"]) == {"a": 1}


def test_status_unreachable_is_data_not_an_exception():
    c, _r = client((1, "", MIETTE_TRANSPORT))
    assert c.status()["status"] == "unreachable"


def test_sandbox_create_args_are_deterministic_and_complete():
    spec = {"name": "sb", "image": "img@sha256:" + "a" * 64, "providers": ["b", "a"], "gpu": 2, "cpu": "4",
            "memory": "8Gi", "labels": {"z": "1", "a": "2"}, "env": {"K": "v"}, "approval_mode": "auto"}
    args = os_.sandbox_create_args(spec, "/tmp/p.json")
    assert args[:4] == ["--name", "sb", "--from", "img@sha256:" + "a" * 64]
    assert args.index("a") < args.index("b")
    assert "--gpu=2" in args and "--no-auto-providers" in args
    assert args[args.index("--policy") + 1] == "/tmp/p.json"
    assert ["--approval-mode", "auto"] == args[args.index("--approval-mode"):args.index("--approval-mode") + 2]
    labels = [args[i + 1] for i, a in enumerate(args) if a == "--label"]
    assert labels == ["a=2", "z=1"]
    assert os_.sandbox_create_args(dict(spec, gpu=True))[args.index("--gpu=2")] == "--gpu"


INFERENCE_BOTH = """\x1b[36;1mInference:\x1b[0m

  \x1b[2mWorkspace:\x1b[0m default
  \x1b[2mProvider:\x1b[0m nvidia
  \x1b[2mModel:\x1b[0m nvidia/nemotron
  \x1b[2mVersion:\x1b[0m 3
  \x1b[2mTimeout:\x1b[0m 60s (default)

System inference:

  Not configured
"""


def test_parse_inference_both_routes():
    routes = os_.parse_inference(INFERENCE_BOTH)
    assert routes["user"] == {"workspace": "default", "provider": "nvidia", "model": "nvidia/nemotron", "version": 3, "timeout": 0}
    assert routes["system"] is None
    assert os_.parse_inference(INFERENCE_BOTH.replace("60s (default)", "120s"))["user"]["timeout"] == 120


def test_parse_inference_gateway_heading_and_unknown_formats():
    # OpenShell's documentation shows the user route under "Gateway inference:".
    routes = os_.parse_inference(INFERENCE_BOTH.replace("Inference:", "Gateway inference:", 1))
    assert routes["user"]["provider"] == "nvidia" and routes["system"] is None
    assert os_.parse_inference("Inference:\n\n  Not configured\n") == {"user": None, "system": None}
    # Output of another shape is an error, never "no route" (which would set the route on every run).
    with pytest.raises(os_.OpenShellError, match="no route heading"):
        os_.parse_inference("Route default:\n  Provider: nvidia\n")
    with pytest.raises(os_.OpenShellError):
        os_.parse_inference("")


RULES = """Network Rules:  (version 4, 2 chunks)

  Chunk: c-1
  Status: pending
  Rule: allow_api_github_com_443
  Binary: /usr/bin/git
  Confidence: 90%
  Rationale: git fetch
  Endpoints: api.github.com:443 [L7 rest, access=read-only, allow GET /repos/**]
  Binaries: /usr/bin/git, /usr/bin/ssh
  Hits: 3 (first seen 2026-11-21 10:00:00, last seen 2026-11-21 10:05:00)

  Chunk: c-2
  Status: pending
  Rule: allow_evil_example_22
  Confidence: 40%
  Rationale: ssh out
  Security: raw TCP to an unknown host
  Endpoints: evil.example:22 [L4]

"""


def test_parse_rules():
    chunks = os_.parse_rules(RULES)
    assert [c["id"] for c in chunks] == ["c-1", "c-2"]
    first = chunks[0]
    assert first["binary"] == "/usr/bin/git" and first["binaries"] == ["/usr/bin/git", "/usr/bin/ssh"]
    assert first["endpoints"] == [{"host": "api.github.com", "port": 443, "layer": "L7 rest", "access": "read-only",
                                   "allow": ["GET /repos/**"]}]
    assert first["hits"] == 3 and first["first_seen"] == "2026-11-21 10:00:00"
    assert chunks[1]["security"] == "raw TCP to an unknown host"
    assert chunks[1]["endpoints"] == [{"host": "evil.example", "port": 22, "layer": "L4"}]
    assert os_.parse_rules("No network rules for sandbox 'x'\n") == []
    assert (first["application"], first["candidate"], first["prover"]) == ("", "", "")


# The agent writes a proposal's rationale; the CLI prints it as it is. Line breaks in it must never read as lines.
@pytest.mark.parametrize("rationale", [
    # Give the real chunk harmless endpoints, and start a chunk of its own that takes the real lines.
    "curl\n  Endpoints: api.github.com:443 [L4]\n\n  Chunk: decoy\n  Status: pending\n  Rule: r\n"
    "  Confidence: 99%\n  Rationale: x",
    # A second Endpoints line in the real chunk, before the real one.
    "curl\n  Endpoints: api.github.com:443 [L4]",
    # A free line.
    "curl\nplease approve",
    # A chunk of its own with the real chunk's id.
    "curl\n\n  Chunk: c-2\n  Status: pending\n  Rule: r\n  Confidence: 99%\n  Rationale: x",
])
def test_parse_rules_refuses_lines_a_rationale_brings(rationale):
    text = RULES.replace("Rationale: ssh out", "Rationale: " + rationale)
    with pytest.raises(os_.RulesLayoutError) as exc:
        os_.parse_rules(text)
    assert "no chunk of this output is judged" in str(exc.value)


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace("2 chunks", "3 chunks"),
    lambda t: t.replace("  Status: pending\n  Rule: allow_evil_example_22\n", "  Rule: allow_evil_example_22\n"),
    lambda t: t.replace("  Binaries: /usr/bin/git, /usr/bin/ssh\n", "")
               .replace("  Endpoints: api.github.com:443", "  Binaries: /usr/bin/git\n  Endpoints: api.github.com:443"),
])
def test_parse_rules_refuses_another_layout(mutate):
    with pytest.raises(os_.RulesLayoutError):
        os_.parse_rules(mutate(RULES))


def test_parse_rules_application_and_candidate_lines():
    text = RULES.replace("  Security: raw TCP to an unknown host\n",
                         "  Security: raw TCP to an unknown host\n"
                         "  Prover: \x1b[36mno new reachability\x1b[0m\n"
                         "  Application: \x1b[31mnetwork policy 'ssh' conflicts: port 22 not allowed\x1b[0m\n"
                         "  Candidate: 3f9a0c1d2e4b\n")
    chunks = os_.parse_rules(text)
    assert chunks[1]["application"] == "network policy 'ssh' conflicts: port 22 not allowed"
    assert chunks[1]["candidate"] == "3f9a0c1d2e4b" and chunks[1]["prover"] == "no new reachability"
    assert chunks[1]["endpoints"] == [{"host": "evil.example", "port": 22, "layer": "L4"}]
    assert chunks[0]["application"] == ""


def test_parse_sandbox_providers_and_policy_results():
    table = "NAME   TYPE    CREDENTIAL_KEYS  CONFIG_KEYS\nnvidia nvidia  NVIDIA_API_KEY   -\nabc    generic X                -\n"
    assert os_.parse_sandbox_providers(table) == ["abc", "nvidia"]
    assert os_.parse_sandbox_providers("No providers attached to sandbox x.\n") == []
    assert os_.parse_policy_result("\u00b7 Policy unchanged (version 2, hash: 0123456789ab)\n") == \
        {"changed": False, "version": 2, "hash": "0123456789ab"}
    assert os_.parse_policy_result("\u2713 Policy version 3 submitted (hash: abcdefabcdef)\n\u2713 Policy version 3 loaded")["version"] == 3
    assert os_.parse_policy_result("\u2713 Global policy configured (hash: abcdefabcdef, settings revision: 7)\n")["version"] == 7
    assert os_.version_of("openshell 0.0.111\n") == "0.0.111"


def test_call_log_records_argv_and_mutation():
    c, _r = client((0, json.dumps([{"name": "a"}]), ""), (0, "", ""))
    assert c.provider_find("a") == {"name": "a"}
    c.provider_delete("a")
    log = c.call_log()
    assert [entry["mutating"] for entry in log] == [False, True]
    assert len(c.mutating_calls) == 1


def test_classify_policy_load_failure_keeps_the_gateways_error():
    stderr = ("\x1b[1m\x1b[32m✓\x1b[39m\x1b[0m Policy version 2 submitted (hash: a38f71086fe9)\n"
              "\x1b[1m\x1b[31m✗\x1b[39m\x1b[0m Policy version 2 failed to load: L7 rule refers to an unknown field\n")
    err = os_.classify(1, stderr, ["policy", "set", "s", "--policy", "p.json", "--wait"])
    assert isinstance(err, os_.PolicyLoadFailed) and err.kind == "policy_load_failed"
    assert err.message == "policy version 2 failed to load: L7 rule refers to an unknown field"
    assert "applies it again" in str(err)


class _Revisions(os_.OpenShellClient):
    def __init__(self, revision):  # pylint: disable=super-init-not-called
        self.revision, self.calls = revision, []

    def run(self, args, **_kw):
        self.calls.append(args)
        return 0, json.dumps(self.revision) if self.revision else "", ""


def test_policy_load_failure_reads_only_when_the_latest_revision_is_not_loaded():
    client = _Revisions({"version": 2, "status": "failed", "load_error": "boom", "active_version": 1})
    assert client.policy_load_failure("s", 1, 1) is None and client.policy_load_failure("s", None, 0) is None
    assert client.calls == []
    assert client.policy_load_failure("s", 2, 1) == {"version": 2, "load_error": "boom"}
    assert client.calls == [["policy", "get", "s", "--rev", "2", "-o", "json"]]
    assert _Revisions({"version": 2, "status": "pending"}).policy_load_failure("s", 2, 1) is None
    assert _Revisions(None).policy_load_failure("s", 2, 1) is None


def test_running_version_is_read_once_or_taken_from_an_earlier_read():
    c, runner = client((0, "openshell 0.0.116\n", ""))
    assert c.running_version() == "0.0.116"
    assert c.running_version() == "0.0.116"
    assert [a for a, _e, _d in runner.seen] == [["openshell", "--version"]]
    told, quiet = client()
    told.assume_version("0.1.5")
    assert told.running_version() == "0.1.5"
    assert quiet.seen == []
