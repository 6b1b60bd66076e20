# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The validation layer (validate.py): one rule each, every bypass spelling of issue 19."""

from __future__ import annotations

import ipaddress
import re
import socket

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import validate as v


# --------------------------------------------------------------------- full match

@pytest.mark.parametrize("pattern", [
    v.SANDBOX_NAME_RE, v.BLUEPRINT_SANDBOX_NAME_RE, v.ENV_KEY_RE, v.CREDENTIAL_KEY_RE, v.CONFIG_KEY_RE,
    v.LABEL_VALUE_RE, v.LABEL_KEY_NAME_RE, v.LABEL_KEY_PREFIX_RE, v.CPU_RE, v.MEMORY_RE,
    v.PROVIDER_NAME_RE, v.GATEWAY_NAME_RE, v.HOST_LABEL_RE,
])
def test_patterns_refuse_a_trailing_newline_even_with_match(pattern):
    # The bug: re.match(r"^[a-z]+$", "gw\n") matches. Every pattern ends in \Z, and fullmatch is used.
    assert re.match(r"^[a-z]+$", "gw\n")
    sample = {v.CPU_RE: "2", v.MEMORY_RE: "8Gi", v.LABEL_KEY_PREFIX_RE: "a.b"}.get(pattern, "a1")
    assert v.full_match(pattern, sample)
    assert not v.full_match(pattern, sample + "\n")
    assert pattern.match(sample + "\n") is None
    assert not v.full_match(pattern, None)


NAME_CHECKS = [
    (v.sandbox_name_problem, "openclaw"),
    (v.blueprint_sandbox_name_problem, "openclaw"),
    (v.provider_name_problem, "nvidia-inference"),
    (v.gateway_name_problem, "gw"),
    (v.env_key_problem, "MODE"),
    (v.credential_key_problem, "NVIDIA_API_KEY"),
    (v.config_key_problem, "NVIDIA_BASE_URL"),
    (lambda key: v.label_problem(key, "x"), "team"),
    (lambda value: v.label_problem("team", value), "research"),
]


@pytest.mark.parametrize("check,good", NAME_CHECKS)
@pytest.mark.parametrize("suffix", ["\n", "\r", "\x00", "\r\n", " ", "\nINJECTED=1"])
def test_trailing_newline_refused_on_every_name_kind(check, good, suffix):
    assert check(good) is None
    assert check(good + suffix)


@pytest.mark.parametrize("name,problem", [
    ("ok-name-1", None),
    ("a" * 19, None),
    ("", "must not be empty"),
    ("a" * 20, "exceeds maximum length (20 > 19)"),
    ("Upper", "lowercase"),
    ("under_score", "lowercase"),
    ("-lead", "start or end"),
    ("trail-", "start or end"),
    ("dou--ble", "consecutive"),
    ("openclaw\n", "lowercase"),
    ("x;rm -rf /", "lowercase"),
    (5, "string"),
])
def test_sandbox_name_rules(name, problem):
    got = v.sandbox_name_problem(name)
    assert (got is None) if problem is None else (problem in got), got


@pytest.mark.parametrize("name,ok", [("openclaw", True), ("a", True), ("1abc", False), ("a-", False), ("a" * 20, False), ("ab\n", False)])
def test_blueprint_sandbox_name(name, ok):
    assert (v.blueprint_sandbox_name_problem(name) is None) is ok


@pytest.mark.parametrize("name,problem", [
    ("nvidia-inference", None),
    ("my_provider.v2", None),
    ("_p", None),
    ("p" * 253, None),
    ("p" * 254, "at most 253"),
    ("p" * 300, "at most 253"),
    ("bad name", "letters, digits"),
    ("bad name!", "letters, digits"),
    ("../etc/passwd", "letters, digits"),
    ("-flag", "letters, digits"),
    ("1password", None),
    (".hidden", "letters, digits"),
    ("nvidia\n", "letters, digits"),
    ("", "empty"),
    (None, "empty"),
])
def test_provider_name_rules(name, problem):
    got = v.provider_name_problem(name)
    assert (got is None) if problem is None else (problem in got), got


@pytest.mark.parametrize("name,ok", [
    ("openshell", True), ("gw-1.example", True), ("g" * 63, True), ("g" * 64, False), ("gw\n", False),
    ("../gw", False), ("..", False), ("a/b", False), ("", False), (".hidden", False),
])
def test_gateway_name_rules(name, ok):
    assert (v.gateway_name_problem(name) is None) is ok


@pytest.mark.parametrize("check", [v.env_key_problem, v.credential_key_problem])
@pytest.mark.parametrize("key,ok", [
    ("MODE", True), ("_x1", True), ("a", True), ("1A", False), ("A-B", False), ("A=B", False), ("A B", False),
    ("X=1 touch /tmp/PWNED; Y", False), ("", False), ("KEY\n", False), (3, False),
])
def test_env_and_credential_keys(check, key, ok):
    assert (check(key) is None) is ok


@pytest.mark.parametrize("key", [
    "OPENSHELL_GATEWAY_ENDPOINT", "openshell_gateway", "RUST_LOG", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES",
    "PATH", "HOME", "path", "NO_COLOR", "LC_ALL", "HTTPS_PROXY", "http_proxy", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE",
    "XDG_CONFIG_HOME", "PYTHONPATH", "KUBECONFIG", "DOCKER_HOST",
])
def test_credential_keys_the_cli_reads_are_refused(key):
    assert v.env_key_problem(key) is None
    assert "the openshell CLI" in v.credential_key_problem(key)


@pytest.mark.parametrize("key", ["NVIDIA_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "SLACK_BOT_TOKEN", "HF_TOKEN",
                                 "AWS_SECRET_ACCESS_KEY", "TELEGRAM_BOT_TOKEN", "PATHFINDER_KEY", "HOMEASSISTANT_TOKEN"])
def test_credential_keys_of_real_providers_pass(key):
    assert v.credential_key_problem(key) is None


@pytest.mark.parametrize("key,ok", [
    ("NVIDIA_BASE_URL", True), ("base_url", True), ("api.version", True), ("x-y", True),
    ("A=B", False), ("", False), ("a b", False), ("-x", False), ("K\n", False), ("k" * 254, False), (None, False),
])
def test_config_keys(key, ok):
    assert (v.config_key_problem(key) is None) is ok


@pytest.mark.parametrize("key,value,ok", [
    ("team", "research", True),
    ("example.com/app", "x.y-z_1", True),
    ("team", "", True),
    ("team", "-bad", False),
    ("team", "has space", False),
    ("team", "x" * 64, False),
    ("team", "ok\n", False),
    ("team\n", "ok", False),
    ("Bad_Prefix/app", "v", False),
    ("/app", "v", False),
    (5, "v", False),
])
def test_label_rules(key, value, ok):
    assert (v.label_problem(key, value) is None) is ok


# --------------------------------------------------------------------- text values

@pytest.mark.parametrize("value,ok", [
    ("plain", True), ("spaces and = signs; $(x)", True), ("tab\there", True), ("", True), (None, True), (42, True),
    ("a\nINJECTED=1", False), ("a\r", False), ("nul\x00", False), ("\n", False),
])
def test_text_problem(value, ok):
    assert (v.text_problem(value) is None) is ok


def test_text_problem_never_echoes_the_value():
    secret = "sk-verysecret\nX=1"
    assert "sk-verysecret" not in v.text_problem(secret)
    assert v.text_problem(secret) == "must not contain a newline"


def test_duplicates():
    assert v.duplicates(["a", "b", "a", "c", "b", "a"]) == ["a", "b"]
    assert v.duplicates([]) == []


# --------------------------------------------------------------------- sizes and ranges

@pytest.mark.parametrize("value,ok", [
    ("2", True), ("0.5", True), ("500m", True), (2, True), (0.5, True), ("1024", True), ("1024000m", True), ("1m", True),
    ("0", False), ("0m", False), ("0.0", False), ("100000", False), (100000, False), ("1025", False), ("1024001m", False),
    ("0.0001", False), ("two", False), ("2 ", False), ("2\n", False), ("-1", False), ("1e3", False), (True, False), (None, False),
])
def test_cpu(value, ok):
    assert (v.cpu_problem(value) is None) is ok


@pytest.mark.parametrize("value,ok", [
    ("8Gi", True), ("512Mi", True), ("4G", True), ("1073741824", True), (1073741824, True), ("64Ti", True),
    ("16384Mi", True),
    ("0", False), ("0Gi", False), ("65Ti", False), ("999999Ti", False), ("1Pi", False), ("1.5Gi", False),
    ("8 gigs", False), ("8gi", False), ("8Gi\n", False), ("-1Gi", False), (True, False), (None, False),
])
def test_memory(value, ok):
    assert (v.memory_problem(value) is None) is ok


def test_memory_bytes():
    assert v.memory_bytes("8Gi") == 8 * 1024 ** 3
    assert v.memory_bytes("4G") == 4 * 10 ** 9
    assert v.memory_bytes(512) == 512
    with pytest.raises(ValueError):
        v.memory_bytes("lots")


@pytest.mark.parametrize("value,parsed", [
    (None, False), (False, False), (True, True), (0, False), (1, 1), (64, 64), ("2", 2), ("0", False),
    ("yes", True), ("TRUE", True), ("off", False), ("", False), (" 4 ", 4),
])
def test_parse_gpu(value, parsed):
    got = v.parse_gpu(value)
    assert got == parsed and type(got) is type(parsed)
    assert v.gpu_problem(value) is None


@pytest.mark.parametrize("value", [4096, 65, "4096", "two", -1, "-1", 1.5, "1.5", [1]])
def test_gpu_refused(value):
    with pytest.raises(ValueError):
        v.parse_gpu(value)
    assert "GPU count 0-64" in v.gpu_problem(value)


@pytest.mark.parametrize("value,ok", [
    (0, True), (60, True), (86400, True), (86401, False), (10 ** 12, False), (-1, False), ("60", False), (True, False), (1.5, False),
])
def test_timeout(value, ok):
    assert (v.timeout_problem(value) is None) is ok


def test_timeout_custom_maximum():
    assert v.timeout_problem(3600, maximum=600)
    assert v.timeout_problem(600, maximum=600) is None


@pytest.mark.parametrize("value,ok", [
    (1, True), (443, True), (65535, True), ("8080", True), (0, False), (65536, False), (-1, False), ("http", False),
    ("443\n", False), (True, False), (None, False), (443.0, False),
])
def test_port(value, ok):
    assert (v.port_problem(value) is None) is ok


@pytest.mark.parametrize("method,protocol,ok", [
    ("GET", "rest", True), ("post", "rest", True), ("PATCH", "rest", True), ("*", "rest", True), ("CONNECT", "rest", True),
    ("FROB", "rest", False), ("GET\n", "rest", False), ("", "rest", False), ("GET POST", "rest", False), (1, "rest", False),
    ("WEBSOCKET_TEXT", "websocket", True), ("WEBSOCKET_TEXT", "rest", False), ("GET", "websocket", True),
    ("tools/call", "mcp", True), ("eth_call", "json-rpc", True), ("a\nb", "json-rpc", False),
])
def test_method(method, protocol, ok):
    assert (v.method_problem(method, protocol) is None) is ok


def test_method_suggests():
    assert "did you mean GET?" in v.method_problem("GTE")


# --------------------------------------------------------------------- hosts

@pytest.mark.parametrize("text,address", [
    ("127.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("10.1", "10.0.0.1"),
    ("10.0.1", "10.0.0.1"),
    ("0251.0376.0251.0376", "169.254.169.254"),
    ("2852039166", "169.254.169.254"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("0", "0.0.0.0"),
    ("1.2.3.4", "1.2.3.4"),
    ("255.255.255.255", "255.255.255.255"),
])
def test_parse_ipv4_every_inet_aton_spelling(text, address):
    assert str(v.parse_ipv4(text)) == address
    assert socket.inet_ntoa(socket.inet_aton(text)) == address  # the OS agrees


@pytest.mark.parametrize("text", [
    "1.2.3.256", "4294967296", "08.1.1.1", "0x", "1..2", "1.2.3.4.5", "", "a.b.c.d", "1.2.3.4 x", " 1.2.3.4", "1.2.3.4\n",
    "256.1", "1.65536.1",
])
def test_parse_ipv4_refuses(text):
    assert v.parse_ipv4(text) is None


@pytest.mark.parametrize("text", ["1.2.3.256", "4294967296", "08.1.1.1", "0x", "1..2", "256.1"])
def test_parse_ipv4_refuses_like_inet_aton(text):
    with pytest.raises(OSError):
        socket.inet_aton(text)


@pytest.mark.parametrize("host,address", [
    ("[::1]", "::1"), ("::1", "::1"), ("fe80::1%eth0", "fe80::1"), ("[fe80::1%25eth0]", "fe80::1"),
    ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("127.0.0.1.", "127.0.0.1"), ("0:0:0:0:0:0:0:1", "::1"),
])
def test_parse_ip(host, address):
    assert v.parse_ip(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "[127.0.0.1]", "fe80::1%", "fe80::1%eth 0", "::g", "", None, "1.2.3.4.."])
def test_parse_ip_not_an_address(host):
    assert v.parse_ip(host) is None


@pytest.mark.parametrize("host,cls", [
    # the bypass spellings of issue 19 and their friends
    ("127.0.0.1", "loopback"), ("127.1", "loopback"), ("2130706433", "loopback"), ("0x7f000001", "loopback"),
    ("0177.0.0.1", "loopback"), ("127.0.0.1.", "loopback"), ("[::1]", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("[::ffff:127.0.0.1]", "loopback"), ("::ffff:7f00:1", "loopback"),
    ("::127.0.0.1", "loopback"), ("64:ff9b::127.0.0.1", "loopback"), ("2002:7f00:1::", "loopback"),
    ("10.1", "private"), ("10.0.0.5", "private"), ("192.168.1.20", "private"), ("172.16.5.4", "private"),
    ("100.64.1.1", "private"), ("fd00::1", "private"), ("[fd12:3456::1]", "private"), ("::ffff:10.0.0.1", "private"),
    ("0251.0376.0251.0376", "metadata"), ("2852039166", "metadata"), ("169.254.169.254", "metadata"),
    ("::ffff:169.254.169.254", "metadata"), ("[fd00:ec2::254]", "metadata"), ("metadata.google.internal", "metadata"),
    ("METADATA.google.internal.", "metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"), ("[fe80::1%eth0]", "link-local"),
    ("0.0.0.0", "unspecified"), ("0", "unspecified"), ("::", "unspecified"), ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"),
    ("8.8.8.8", "public-ip"), ("134744072", "public-ip"), ("2001:4860:4860::8888", "public-ip"),
    ("localhost", "local-name"), ("LOCALHOST", "local-name"), ("localhost.", "local-name"), ("a.localhost", "local-name"),
    ("nas.local", "local-name"), ("host.openshell.internal", "local-name"), ("printer.home.arpa", "local-name"),
    ("nas.lan", "local-name"), ("NAS.LAN.", "local-name"), ("intranet", "local-name"), ("*.local", "local-name"),
    ("example.com", "public-name"), ("Example.COM.", "public-name"), ("*.example.com", "public-name"),
    ("**.example.com", "public-name"), ("xn--ggle-55da.com", "public-name"),
    ("gооgle.com", "invalid"), ("exa mple.com", "invalid"), ("", "invalid"), ("1.2.3.999", "invalid"),
    ("example..com", "invalid"), ("-bad.com", "invalid"), ("a.*.com", "invalid"), (None, "invalid"),
    ("http://x.com", "invalid"), ("x.com:443", "invalid"), ("[127.0.0.1]", "invalid"), ("evil.com\n", "invalid"),
])
def test_host_class(host, cls):
    assert cls in v.HOST_CLASSES
    assert v.host_class(host) == cls


def test_only_public_classes_are_public():
    assert [c for c in v.HOST_CLASSES if v.is_public_class(c)] == ["public-name", "public-ip"]


@pytest.mark.parametrize("host,problem", [
    ("example.com", None),
    ("a-b.example.com.", None),
    ("127.1", None),
    ("[::1]", None),
    ("xn--ggle-55da.com", None),
    ("a" * 63 + ".com", None),
    ("a" * 64 + ".com", "longer than 63"),
    (".".join(["a" * 63] * 4), "at most 253"),
    ("-a.com", "start or end"),
    ("a-.com", "start or end"),
    ("a_b.com", "letters, digits"),
    ("", "empty"),
    ("a..b", "empty label"),
    ("gоogle.com", "non-ASCII"),
    ("gооgle.com", "xn--"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("xn--zz.com", "IDNA"),
    ("1.2.3.999", "IPv4"),
    ("foo.0x10", "IPv4"),
    ("::g", "IPv6"),
    ("a b.com", "whitespace"),
    ("a.com\n", "newline"),
    ("*.example.com", "wildcards are not allowed"),
    (5, "string"),
])
def test_host_problem(host, problem):
    got = v.host_problem(host)
    assert (got is None) if problem is None else (problem in got), got


@pytest.mark.parametrize("host,ok", [
    ("*.example.com", True), ("**.example.com", True), ("*-aiplatform.googleapis.com", True),
    ("a.*.example.com", False), ("a**.example.com", False), ("*", False), ("*_x.example.com", False), ("*.", False),
])
def test_host_problem_wildcards(host, ok):
    assert (v.host_problem(host, wildcard=True) is None) is ok


@pytest.mark.parametrize("host,norm", [
    ("127.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("[::FFFF:7f00:1]", "127.0.0.1"), ("[fe80::1%eth0]", "fe80::1"),
    ("LOCALHOST.", "localhost"), (" NAS.lan ", "nas.lan"), ("0:0::1", "::1"), ("10.1", "10.0.0.1"),
])
def test_normalize_host(host, norm):
    assert v.normalize_host(host) == norm


@pytest.mark.parametrize("value,ok", [
    ("192.168.1.10", True), ("10.0.0.0/8", True), ("fd00::/64", True), ("8.8.8.8", True),
    ("127.0.0.1", False), ("169.254.169.254/32", False), ("0.0.0.0/0", False), ("::1", False), ("fe80::/64", False),
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False), ("::ffff:0:0/96", False), ("64:ff9b::7f00:1", False),
    ("::7f00:1", False), ("127.1", False), ("nope", False), ("", False), (None, False),
])
def test_network_problem(value, ok):
    assert (v.network_problem(value) is None) is ok


# --------------------------------------------------------------------- binary paths

@pytest.mark.parametrize("path,problem", [
    ("/usr/bin/curl", None),
    ("/usr/bin/python3*", None),
    ("/sandbox/.uv/python/**/python*", None),
    ("/home/linuxbrew/.linuxbrew/bin/*", None),
    ("/usr/bin/python3.1[01]", None),
    ("/usr/bin/../../bin/sh", "'..'"),
    ("/usr/bin/..", "'..'"),
    ("/usr/./bin/sh", "'.'"),
    ("//usr/bin/sh", "'//'"),
    ("/usr//bin/sh", "'//'"),
    ("/usr/bin/", "normalised"),
    ("usr/bin/sh", "absolute"),
    ("./sh", "absolute"),
    ("/usr/bin/sh\n", "newline"),
    ("/usr/bin/sh\x00x", "NUL"),
    ("", "non-empty"),
    (None, "non-empty"),
])
def test_binary_path(path, problem):
    got = v.binary_path_problem(path)
    assert (got is None) if problem is None else (problem in got), got


# --------------------------------------------------------------------- suggestions

@pytest.mark.parametrize("word,candidates,out", [
    ("devloper", ["developer", "gamer", "creator"], " (did you mean developer?)"),
    ("npmm", ["npm", "pypi", "github"], " (did you mean npm?)"),
    ("zzzz", ["npm", "pypi"], ""),
    ("x", [], ""),
])
def test_suggest(word, candidates, out):
    assert v.suggest(word, candidates) == out


# --------------------------------------------------------------------- environment (openshell_gateway_env)

def test_env_problems_keys_and_values():
    assert v.env_problems({"OPENSHELL_DB_URL": "sqlite:/x", "N": 3, "B": True}, "openshell_gateway_env") == []
    assert v.env_problems(None, "e") == []
    bad = v.env_problems({"X=1 touch /tmp/PWNED; Y": "v", "GOOD": "a\nINJECTED=1", "CR": "a\rb", "NUL": "a\x00",
                          "1BAD": "v", "NONE": None, "LIST": [1]}, "openshell_gateway_env")
    text = "\n".join(bad)
    assert len(bad) == 7, bad
    assert "openshell_gateway_env: key 'X=1 touch /tmp/PWNED; Y' must match [A-Za-z_][A-Za-z0-9_]*" in text
    assert "openshell_gateway_env.GOOD: value must not contain a newline" in text
    assert "openshell_gateway_env.CR: value must not contain a carriage return" in text
    assert "openshell_gateway_env.NUL: value must not contain a NUL character" in text
    assert "openshell_gateway_env.NONE: value must be a string" in text
    # values are never echoed (they may be secrets)
    assert "INJECTED" not in text
    assert v.env_problems("A=1", "e") == ["e: must be a mapping of variable names to values, got str"]


# --------------------------------------------------------------------- approvals: one matcher

@pytest.mark.parametrize("pattern,host,ok", [
    ("registry.npmjs.org", "registry.npmjs.org", True),
    ("registry.npmjs.org", "REGISTRY.npmjs.org.", True),
    ("registry.npmjs.org", "registry-npmjs.org", False),
    ("registry.npmjs.org", "registry.npmjs.org.evil", False),
    ("registry.npmjs.org", "registry.npmjs.org.attacker.io", False),
    ("registry.npmjs.org", "xregistry.npmjs.org", False),
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "A.Example.COM.", True),
    ("*.example.com", "example.com", False),
    ("*.example.com", "example.com.evil", False),
    ("*.example.com", "a.b.example.com", False),
    ("*.example.com", "evilexample.com", False),
    ("**.example.com", "a.b.example.com", True),
    ("**.example.com", "example.com", False),
    ("**.example.com", "example.com.evil", False),
    ("api-*.example.com", "api-eu.example.com", True),
    ("api-*.example.com", "api-eu.x.example.com", False),
    ("127.0.0.1", "127.1", True),
    ("*", "anything", False),
    ("", "", False),
    ("  ", "x", False),
])
def test_host_pattern_matches(pattern, host, ok):
    assert v.host_pattern_matches(pattern, host) is ok


@pytest.mark.parametrize("matcher,approve,field,text", [
    ({}, True, "m", "at least one"),
    ({"host": ""}, True, "m.host", "non-empty"),
    ({"host": "   "}, True, "m.host", "non-empty"),
    ({"id": ""}, True, "m.id", "non-empty"),
    ({"id": " \t"}, True, "m.id", "non-empty"),
    ({"binary": ""}, True, "m.binary", "non-empty"),
    ({"rule": ""}, False, "m.rule", "non-empty"),
    ({"host": "a.*.com"}, True, "m.host", "first label"),
    ({"host": "*"}, True, "m.host", "domain"),
    ({"host": "gооgle.com"}, True, "m.host", "non-ASCII"),
    ({"host": "a.com\n"}, True, "m.host", "newline"),
    ({"port": 0}, True, "m.port", "1-65535"),
    ({"port": "https"}, True, "m.port", "1-65535"),
    ({"binary": "/usr/bin/../../bin/sh"}, True, "m.binary", "'..'"),
    ({"rule": "allow_registry_npmjs_org_*"}, True, "m.rule", "must also name a host"),
    ({"hostname": "x"}, True, "m", "did you mean host?"),
    ({"id": "a b"}, True, "m.id", "chunk id"),
])
def test_approval_matcher_problems(matcher, approve, field, text):
    problems = v.approval_matcher_problems(matcher, "m", approve=approve)
    assert problems and problems[0][0] == field and text in problems[0][1], problems


def test_approval_matcher_accepted_and_normalised():
    assert v.approval_matcher_problems({"host": " *.github.com ", "port": "443", "binary": "/usr/bin/git"}, "m") == []
    assert v.approval_matcher_problems({"rule": "allow_*"}, "m", approve=False) == []
    assert v.approval_matcher_problems({"rule": "allow_x_443", "host": "x.org"}, "m") == []
    assert v.normalise_matcher({"host": " a.org ", "port": "443"}) == {"host": "a.org", "port": 443}


def _chunk(host, port=443, rule=None, binary="/usr/bin/curl"):
    return {"id": "c", "rule": rule or "allow_%s_%d" % (re.sub(r"[.-]", "_", host), port), "binary": binary,
            "endpoints": [{"host": host, "port": port}]}


@pytest.mark.parametrize("host,ok", [
    ("registry.npmjs.org", True),
    ("registry-npmjs.org", False),
    ("registry.npmjs.org.evil", False),
    ("registry.npmjs.org.attacker.io", False),
    ("169.254.169.254", False),
])
def test_matcher_matches_exact_host_and_port(host, ok):
    matcher = {"host": "registry.npmjs.org", "port": 443, "rule": "allow_registry_npmjs_org_*"}
    assert v.matcher_matches(matcher, _chunk(host)) is ok
    assert v.matcher_matches({"host": "registry.npmjs.org"}, _chunk(host, 8080)) is ok
    assert v.matcher_matches({"host": "registry.npmjs.org", "port": 443}, _chunk(host, 8080)) is False


def test_matcher_matches_fields():
    chunk = _chunk("api.github.com", binary="/usr/bin/git")
    assert v.matcher_matches({"binary": "/usr/bin/*"}, chunk)
    assert not v.matcher_matches({"binary": "/usr/local/*"}, chunk)
    assert v.matcher_matches({"id": "c"}, chunk) and not v.matcher_matches({"id": "d"}, chunk)
    assert v.matcher_matches({"rule": "allow_api_*"}, chunk)
    assert not v.matcher_matches({"host": "api.github.com"}, {"id": "x", "endpoints": []})


@pytest.mark.parametrize("model", ["nvidia/nemotron-3-super-120b-a12b", "qwen2.5:7b", "gpt-4o",
                                   "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "hf.co/unsloth/Qwen3-GGUF:Q4_K_M"])
def test_real_model_ids_pass(model):
    assert v.model_problem(model) is None


@pytest.mark.parametrize("model", ["", "-x", "--model", "a b", "a\nb", "a\u2028b", "m" * 257, None, 7])
def test_bad_model_ids(model):
    assert v.model_problem(model)


@pytest.mark.parametrize("url", ["https://integrate.api.nvidia.com/v1", "http://localhost:8000/v1",
                                 "http://nim-service.local:8000/v1", "http://10.0.0.5:11434", "https://[fd00::5]:8443/v1",
                                 "HTTPS://Example.com"])
def test_inference_endpoints_pass(url):
    assert v.endpoint_url_problem(url) is None


@pytest.mark.parametrize("url,fragment", [
    ("ncp.example.com/v1", "expected an http"), ("file:///etc/passwd", "expected an http"),
    ("https://u:p@h.example.com", "user information"), ("https://h.example.com/v1?sig=x", "query"),
    ("https://h.example.com/#x", "fragment"), ("https://h.example.com/a b", "whitespace"),
    ("https://[fd00::5/v1", "unterminated"), ("https://h.example.com:0/", "port"), ("https://h_x.example.com/", "label"),
    ("http://metadata.google.internal/", "metadata"), ("http://[::ffff:169.254.169.254]/", "metadata"),
    ("https://" + "a" * 3000, "at most 2048"),
])
def test_bad_inference_endpoints(url, fragment):
    assert fragment in v.endpoint_url_problem(url)


def test_sandbox_size_problems_mirror_the_server():
    assert v.sandbox_size_problems({"A": "x"}, {"team": "a"}, ["p"], 2) == []
    many = dict(("K%d" % i, "v") for i in range(129))
    assert v.sandbox_size_problems(many, {}, [], 0) == [("env", "has 129 entries; OpenShell accepts at most 128")]
    assert v.sandbox_size_problems({"BIG": "\u00e9" * 4097}, {}, [], 0) == [
        ("env.BIG", "value is 8194 bytes; OpenShell accepts at most 8192")]
    total = dict(("K%d" % i, "v" * 8000) for i in range(40))
    assert [f for f, _r in v.sandbox_size_problems(total, {}, [], 0)] == ["env"]
    labels = dict(("l%d" % i, "v") for i in range(127))
    assert [f for f, _r in v.sandbox_size_problems({}, labels, [], 2)] == ["labels"]
    assert v.sandbox_size_problems({}, labels, [], 1) == []
    assert [f for f, _r in v.sandbox_size_problems({}, {}, ["p%d" % i for i in range(33)], 0)] == ["providers"]


@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "api_key", "apiKey", "botToken", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY",
                                  "Authorization", "client-secret", "SSH_PRIVATE_KEY", "credentials", "passphrase"])
def test_secret_names(name):
    assert v.secret_name(name)


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "MAX_TOKENS", "maxTokens", "GIT_AUTHOR_NAME", "SSH_AUTH_SOCK",
                                  "KEYBOARD_LAYOUT", "SECRETARY_EMAIL", "PASSWORDLESS_LOGIN", "LOG_LEVEL", "key", ""])
def test_names_that_hold_no_credential(name):
    assert not v.secret_name(name)


@pytest.mark.parametrize("value", ["sk-abcdefghijklmnop12345", "nvapi-0123456789abcdef", "ghp_0123456789abcdefghij",
                                   "github_pat_11ABCDEFG0123456789", "xapp-1-A0123-0123456789", "xoxb-0123456789-abcdefgh",
                                   "hf_abcdefghijklmnopqrstu", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx",
                                   "Bearer abcdefghijklmnop0123", "7000000001:AAH-agentfleet-CANARY-telegram-token",
                                   "-----BEGIN OPENSSH PRIVATE KEY-----"])
def test_secret_values(value):
    assert v.secret_value(value) and v.looks_secret("MODE", value)


@pytest.mark.parametrize("value", ["info", "https://api.example.com/v1", "sk-short", "Bearer", "/run/secrets/token", 42])
def test_values_that_are_no_credential(value):
    assert not v.secret_value(value) and not v.looks_secret("MODE", value)
