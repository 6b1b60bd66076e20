# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""tools/nemoclaw-config end to end: run as operators run it (a separate Python process, the
collection not on its path), on the NemoClawConfig fixtures and on a small inventory."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "tools" / "nemoclaw_config.py"
FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "nemoclawconfig"


def run(*args, cwd, stdin=None):
    # -I: no PYTHONPATH, no user site; the tool finds the collection next to itself.
    return subprocess.run([sys.executable, "-I", str(TOOL)] + [str(a) for a in args], cwd=str(cwd), input=stdin,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False, timeout=300)


def test_import_prints_host_vars_with_secrets_and_warnings_as_comments(tmp_path):
    out = run("import", FIXTURES / "openclaw-full.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = yaml.safe_load(out.stdout)
    assert list(data) == ["nemoclaw_agents"]
    assert [a["name"] for a in data["nemoclaw_agents"]] == ["research"]
    assert data["nemoclaw_agents"][0]["model"] == "nvidia/llama-3.3-nemotron-super-49b-v1.5"
    comments = [line for line in out.stdout.splitlines() if line.startswith("#")]
    assert "#   NVIDIA_INFERENCE_API_KEY: inference of research" in comments
    assert "#   spec.sandboxes[0].network.proxy: not imported: the fleet has no agent HTTP proxy field" in comments
    assert "warning: spec.sandboxes[0].network.proxy: not imported" in out.stderr


def test_import_from_stdin_and_into_a_host_vars_file(tmp_path):
    text = (FIXTURES / "multi.yaml").read_text(encoding="utf-8")
    out = run("import", "-", cwd=tmp_path, stdin=text)
    assert out.returncode == 0, out.stderr
    target = tmp_path / "host_vars" / "dgx1.yml"
    target.parent.mkdir()
    out2 = run("import", FIXTURES / "multi.yaml", "--host-vars-out", target, cwd=tmp_path)
    assert out2.returncode == 0, out2.stderr
    assert "wrote %s (3 agents, 2 secrets to put in the vault)" % target in out2.stderr
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == yaml.safe_load(out.stdout)
    again = run("import", FIXTURES / "minimal.yaml", "--host-vars-out", target, cwd=tmp_path)
    assert again.returncode == 1 and "exists (give --force to replace it)" in again.stderr
    assert [a["name"] for a in yaml.safe_load(target.read_text(encoding="utf-8"))["nemoclaw_agents"]] == ["alpha", "beta", "gamma"]
    forced = run("import", FIXTURES / "minimal.yaml", "--host-vars-out", target, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["nemoclaw_agents"][0]["name"] == "assistant"


def test_import_refusal_names_the_path_and_never_the_value(tmp_path):
    out = run("import", FIXTURES / "invalid" / "token-in-settings.yaml", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("nemoclaw-config: spec.sandboxes[0].harness.settings.channels.telegram.botToken: ")
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1" not in out.stderr
    missing = run("import", tmp_path / "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 1 and "No such file" in missing.stderr


def test_import_output_cannot_be_steered_by_the_document(tmp_path):
    doc = yaml.safe_load((FIXTURES / "minimal.yaml").read_text(encoding="utf-8"))
    doc["spec"]["harnesses"] = {"x\nnemoclaw_agents: []": {"kind": "openclaw"}}
    out = run("import", "-", cwd=tmp_path, stdin=json.dumps(doc))
    assert out.returncode == 1 and "spec.harnesses: definition names are lowercase names" in out.stderr
    assert "\nnemoclaw_agents: []" not in out.stderr


def test_export_a_vars_file_round_trip(tmp_path):
    host_vars = tmp_path / "ops.yml"
    assert run("import", FIXTURES / "fleet-extension.yaml", "--host-vars-out", host_vars, cwd=tmp_path).returncode == 0
    out = run("export", host_vars, "--extensions", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    doc = yaml.safe_load(out.stdout)
    assert doc["kind"] == "NemoClawConfig" and "x-agentfleet" in doc
    (tmp_path / "doc.yaml").write_text(out.stdout, encoding="utf-8")
    back = run("import", tmp_path / "doc.yaml", cwd=tmp_path)
    assert yaml.safe_load(back.stdout) == yaml.safe_load(host_vars.read_text(encoding="utf-8"))
    strict = run("export", host_vars, "--json", cwd=tmp_path)
    assert strict.returncode == 0
    assert "x-agentfleet" not in json.loads(strict.stdout)
    assert "warning: nemoclaw_agents[ops].channels: not exported (NemoClawConfig has no messaging channels yet" in strict.stderr


def test_export_to_a_file_is_private(tmp_path):
    host_vars = tmp_path / "h.yml"
    host_vars.write_text("nemoclaw_agents:\n  - {name: solo, agent: hermes}\n", encoding="utf-8")
    target = tmp_path / "solo.yaml"
    out = run("export", host_vars, "--output", target, "--name", "solo-doc", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["metadata"]["name"] == "solo-doc"


def test_export_refuses_what_only_ansible_can_read(tmp_path):
    templated = tmp_path / "t.yml"
    templated.write_text('nemoclaw_agents:\n  - {name: a, agent: openclaw, model: "{{ m }}"}\n', encoding="utf-8")
    out = run("export", templated, cwd=tmp_path)
    assert out.returncode == 1 and "nemoclaw_agents[0].model is a template: use --inventory" in out.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("nemoclaw_agents:\n  - {name: a, agent: openclaw, resources: {memory: lots}}\n", encoding="utf-8")
    out = run("export", bad, cwd=tmp_path)
    assert out.returncode == 1 and "nemoclaw_agents[a].resources.memory" in out.stderr
    none = tmp_path / "none.yml"
    none.write_text("other: 1\n", encoding="utf-8")
    assert "no nemoclaw_agents in this file" in run("export", none, cwd=tmp_path).stderr
    usage = run("export", cwd=tmp_path)
    assert usage.returncode == 2 and "give either VARS_FILE or --inventory" in usage.stderr


def _inventory(tmp_path):
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel

    inv = tmp_path / "inv"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    dgx1:\n", encoding="utf-8")
    (inv / "group_vars" / "all" / "main.yml").write_text("fleet_model: nvidia/llama-3.1-nemotron-ultra-253b-v1\n", encoding="utf-8")
    (inv / "host_vars" / "dgx1.yml").write_text(
        'nemoclaw_agents:\n  - {name: assistant, agent: openclaw, model: "{{ fleet_model }}"}\n', encoding="utf-8")
    vault = VaultLib([("default", VaultSecret(b"pw"))])
    (inv / "group_vars" / "all" / "vault.yml").write_bytes(vault.encrypt(b"nemoclaw_secrets: {X_TOKEN: s3cr3t-value}\n"))
    (tmp_path / "pw.txt").write_text("pw\n", encoding="utf-8")
    return inv


def test_export_from_an_inventory(tmp_path):
    inv = _inventory(tmp_path)
    # The inventory path needs ansible-core: the collection's virtualenv Python, as in the docs.
    out = run("export", "--inventory", inv / "hosts.yml", "--host", "dgx1", "--vault-password-file", tmp_path / "pw.txt",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load(out.stdout)
    route = doc["spec"]["sandboxes"][0]["agent"]["inference"]["routes"][0]
    assert route["overrides"]["model"] == "nvidia/llama-3.1-nemotron-ultra-253b-v1"  # rendered by Ansible
    assert "s3cr3t-value" not in out.stdout + out.stderr
    locked = run("export", "--inventory", inv / "hosts.yml", "--host", "dgx1", cwd=tmp_path)
    assert locked.returncode == 1 and "(give --vault-password-file)" in locked.stderr
    nohost = run("export", "--inventory", inv / "hosts.yml", "--host", "dgx9", "--vault-password-file", tmp_path / "pw.txt",
                 cwd=tmp_path)
    assert nohost.returncode == 1 and "no host 'dgx9' in this inventory" in nohost.stderr


def test_shell_wrapper_runs_the_tool(tmp_path):
    out = subprocess.run([str(ROOT / "tools" / "nemoclaw-config"), "import", str(FIXTURES / "minimal.yaml")], cwd=str(tmp_path),
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHON": sys.executable},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False, timeout=300)
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout) == {"nemoclaw_agents": [{"name": "assistant", "agent": "openclaw", "tier": "restricted"}]}


def test_import_several_documents_of_one_host(tmp_path):
    out = run("import", FIXTURES / "minimal.yaml", FIXTURES / "hermes.yaml", FIXTURES / "openclaw-full.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [a["name"] for a in yaml.safe_load(out.stdout)["nemoclaw_agents"]] == ["assistant", "helper", "research"]
    assert "#   NVIDIA_INFERENCE_API_KEY: inference of assistant; inference of helper; inference of research" in out.stdout
    assert "warning: openclaw-full.yaml: spec.sandboxes[0].network.proxy: not imported" in out.stderr
    # One host: the three documents' sandboxes must share one inference route.
    assert ("warning: hermes.yaml: spec.sandboxes[0]: its inference (nvidia-ncp, model nvidia/nemotron-3-super-120b-a12b) "
            "differs from that of sandbox assistant (nvidia-inference, model nvidia/nemotron-3-super-120b-a12b)") in out.stderr
    assert "warning: openclaw-full.yaml: spec.sandboxes[0]: its inference (nvidia-inference, model " \
           "nvidia/llama-3.3-nemotron-super-49b-v1.5) differs" in out.stderr
    twice = run("import", FIXTURES / "minimal.yaml", FIXTURES / "minimal.yaml", cwd=tmp_path)
    assert twice.returncode == 1
    assert "minimal.yaml: spec.sandboxes: sandbox 'assistant' is also in an earlier document" in twice.stderr
    bad = run("import", FIXTURES / "minimal.yaml", FIXTURES / "invalid" / "unknown-tier.yaml", cwd=tmp_path)
    assert bad.returncode == 1 and "nemoclaw-config: unknown-tier.yaml: spec.sandboxes[0].network.tier:" in bad.stderr
