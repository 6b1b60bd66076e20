# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""apply.py: the pure decisions, the host records, and the Applier against a fake OpenShell client.

The fake client keeps a small world (providers, the inference route, sandboxes with a home of
files) and records every call; ``sandbox exec`` runs the backup and restore scripts on real
tar.gz bytes, so manifests and the restore's verification are the real ones.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import agentconfig
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import apply as applylib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import blueprint as bplib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import compare
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import plan as planlib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import policy as policylib
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.apply import (
    ApplyError,
    Applier,
    HostRecords,
    RefusedError,
)

ROOT = Path(__file__).resolve().parents[4]
KEY = "nvapi-UNIT-apply-secret-value"
SECRETS = {"NVIDIA_INFERENCE_API_KEY": KEY}
GATEWAY = "openshell"
_BLUEPRINTS = {}


def load_blueprint(entry):
    src = entry["blueprint"] or str(ROOT / "blueprints" / entry["agent"])
    if src not in _BLUEPRINTS:
        _BLUEPRINTS[src] = bplib.load_blueprint_dir(src)
    return _BLUEPRINTS[src]


def make_plan(*agents):
    return planlib.plan_host(list(agents), SECRETS, load_blueprint)


def agent(name="assistant", **keys):
    out = {"name": name, "agent": "openclaw"}
    out.update(keys)
    return out


def targz(files):
    """tar.gz bytes of ``{relative path: bytes}`` as ``./path`` members (what tar -C /sandbox makes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(files):
            data = files[path]
            info = tarfile.TarInfo("./" + path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def untar(data):
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                name = member.name[2:] if member.name.startswith("./") else member.name
                out[name] = tar.extractfile(member).read()
    return out


def excluded(path, patterns):
    """GNU tar's unanchored exclusion, closely enough: a pattern matches the path or any of its tails/components."""
    parts = path.split("/")
    for pattern in patterns:
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                if fnmatch.fnmatchcase("/".join(parts[i:j]), pattern):
                    return True
    return False


READS = frozenset(["version", "sandbox_get", "sandbox_providers", "settings_get", "provider_list", "provider_find",
                   "inference_get"])


class FakeClient(object):
    """The client methods Applier uses, on an in-memory OpenShell; every call is recorded."""

    def __init__(self, version="0.0.111"):
        self.gateway = GATEWAY
        self.gateway_endpoint = None
        self.workspace = None
        self.timeout = 300
        self.create_timeouts = []
        self._version = version
        self.providers = {}
        self.route = None
        self.sandboxes = {}
        self.homes = {}
        self.attached = {}
        self.settings = {}
        self.calls = []
        self.next_id = 1
        self.backup_rc = 0
        self.changing = 0  # backups that report tar's status 1 (a file changed as it was read) before a clean one
        self.exec_timeouts = []  # (script, --timeout) of each sandbox exec
        self.deleting_polls = 0
        self.restore_buffers = {}

    # -- bookkeeping --------------------------------------------------------
    def _call(self, name, *args):
        self.calls.append((name,) + args)

    @property
    def mutating(self):
        return [c for c in self.calls if c[0] not in READS]

    def names(self, calls=None):
        return [c[0] for c in (self.mutating if calls is None else calls)]

    def add_sandbox(self, spec, policy, home=None, phase="Ready"):
        """A sandbox as the collection would have created it from ``spec``."""
        sid = "sb-%d" % self.next_id
        self.next_id += 1
        self.sandboxes[spec["name"]] = {"id": sid, "name": spec["name"], "phase": phase,
                                        "labels": compare.sandbox_labels(spec),
                                        "policy": policylib.normalize_policy(copy.deepcopy(policy))}
        self.homes[spec["name"]] = dict(home or {})
        self.attached[spec["name"]] = list(spec.get("providers") or [])
        return sid

    # -- reads --------------------------------------------------------------
    def version(self):
        self._call("version")
        return self._version

    def running_version(self):
        return self.version()  # the module's client reads it once per execution; each Applier here has its own

    def sandbox_get(self, name):
        self._call("sandbox_get", name)
        obj = self.sandboxes.get(name)
        if obj is not None and obj["phase"] == "Deleting":
            if self.deleting_polls <= 0:
                del self.sandboxes[name]
                self.homes.pop(name, None)
                return None
            self.deleting_polls -= 1
        return copy.deepcopy(obj)

    def sandbox_providers(self, name):
        self._call("sandbox_providers", name)
        return list(self.attached.get(name) or [])

    def settings_get(self, name):
        self._call("settings_get", name)
        mode = self.settings.get(name)
        return {"settings": {"proposal_approval_mode": {"value": mode if mode else "<unset>",
                                                        "scope": self.settings.get("<scope>", "sandbox")}}}

    def provider_list(self):
        self._call("provider_list")
        return copy.deepcopy(list(self.providers.values()))

    def provider_find(self, name):
        self._call("provider_find", name)
        return copy.deepcopy(self.providers.get(name))

    def inference_get(self):
        self._call("inference_get")
        return {"user": copy.deepcopy(self.route), "system": None}

    # -- writes -------------------------------------------------------------
    def provider_create(self, name, ptype, credentials, config=None):
        self._call("provider_create", name, ptype, sorted(credentials), dict(config or {}))
        self.providers[name] = {"name": name, "type": ptype, "credential_keys": sorted(credentials),
                                "config_keys": sorted(config or {}), "resource_version": 1}

    def provider_update(self, name, credentials=None, config=None, removed_credentials=()):
        self._call("provider_update", name, sorted(credentials or {}), dict(config or {}))
        self.providers[name]["resource_version"] += 1

    def inference_set(self, provider, model, system=False, timeout=None, verify=True):
        self._call("inference_set", provider, model, timeout)
        self.route = {"provider": provider, "model": model, "timeout": timeout or 0, "version": 1}

    def sandbox_create(self, spec, policy_file=None):
        self.create_timeouts.append(self.timeout)
        self._call("sandbox_create", spec["name"], copy.deepcopy(spec))
        with open(policy_file) as fh:
            policy = json.load(fh)
        plain = dict(spec)
        plain["labels"] = dict((k, v) for k, v in spec["labels"].items() if not k.startswith(compare.MANAGED_LABEL_PREFIX))
        self.add_sandbox(plain, policy)
        assert self.sandboxes[spec["name"]]["labels"] == spec["labels"]
        return copy.deepcopy(self.sandboxes[spec["name"]])

    def sandbox_delete(self, name):
        self._call("sandbox_delete", name)
        del self.sandboxes[name]
        self.homes.pop(name, None)
        self.attached.pop(name, None)

    def sandbox_start(self, name):
        self._call("sandbox_start", name)
        self.sandboxes[name]["phase"] = "Ready"

    def sandbox_stop(self, name):
        self._call("sandbox_stop", name)
        self.sandboxes[name]["phase"] = "Stopped"

    def sandbox_provider_attach(self, name, provider):
        self._call("sandbox_provider_attach", name, provider)
        self.attached[name].append(provider)

    def sandbox_provider_detach(self, name, provider):
        self._call("sandbox_provider_detach", name, provider)
        self.attached[name].remove(provider)

    def settings_set(self, name, key, value):
        self._call("settings_set", name, key, value)
        self.settings[name] = value

    def policy_set(self, name, policy_file, wait=False, timeout=None, global_=False):
        self._call("policy_set", name)
        with open(policy_file) as fh:
            self.sandboxes[name]["policy"] = policylib.normalize_policy(json.load(fh))
        return {"version": 2}

    def sandbox_exec(self, name, command, workdir=None, timeout=None, data=None, env=None):
        self._call("sandbox_exec", name, list(command))
        self.exec_timeouts.append((command[2] if command[:2] == ["sh", "-c"] else command[0], timeout))
        assert self.sandboxes[name]["phase"] == "Ready", "exec in a sandbox that is not Ready"
        home = self.homes[name]
        if command[:3] == ["sh", "-c", applylib.BACKUP_SCRIPT]:
            assert workdir == applylib.AGENT_HOME
            if self.backup_rc:
                return self.backup_rc, "", "tar: cannot open: Permission denied\n"
            patterns = [p for p in (data or "").splitlines() if p]
            roots = [p[2:] if p.startswith("./") else "" for p in command[4:]]
            files = dict((p, v) for p, v in home.items()
                         if any(r == "" or p == r or p.startswith(r + "/") for r in roots) and not excluded(p, patterns))
            tar_rc = 0
            if self.changing:
                self.changing -= 1
                tar_rc = 1
            return 0, base64.encodebytes(targz(files)).decode("ascii"), "%s%d\n" % (applylib._TAR_RC, tar_rc)
        if command[:3] == ["sh", "-c", 'rm -f "$1"']:
            self.restore_buffers[name] = ""
            return 0, "", ""
        if command[:3] == ["sh", "-c", applylib.RESTORE_APPEND]:
            self.restore_buffers[name] += data or ""
            return 0, "", ""
        if command[:3] == ["sh", "-c", applylib.RESTORE_SCRIPT]:
            home.update(untar(base64.b64decode(self.restore_buffers.pop(name))))
            return 0, "", ""
        if command[:3] == ["sh", "-c", applylib.RESTORE_MISSING_SCRIPT]:
            for path, content in untar(base64.b64decode(self.restore_buffers.pop(name))).items():
                home.setdefault(path, content)
            return 0, "", ""
        return 0, json.dumps({"ok": True}), ""  # the health command


class Run(object):
    """An Applier on a fresh state_dir and temp directory, for one fake client."""

    def __init__(self, tmp_path, client=None):
        self.tmp = tmp_path
        self.state_dir = str(tmp_path / "state")
        self.client = client or FakeClient()
        self.warnings = []
        self.temp_files = 0

    def write_temp_json(self, name, data):
        self.temp_files += 1
        directory = self.tmp / "tmp"
        directory.mkdir(exist_ok=True)
        path = directory / ("%d-%s" % (self.temp_files, name))
        path.write_text(json.dumps(data))
        return str(path)

    def applier(self, plan, check_mode=False, secrets=None):
        return Applier(self.client, plan, SECRETS if secrets is None else secrets, check_mode=check_mode,
                       state_dir=self.state_dir, write_temp_json=self.write_temp_json, warn=self.warnings.append,
                       sleep=lambda s: None, wait_timeout=5)

    def apply(self, plan, check_mode=False):
        self.client.calls = []
        return self.applier(plan, check_mode).run()

    @property
    def records(self):
        return HostRecords(self.state_dir, GATEWAY, readonly=False)

    def files(self):
        base = Path(self.state_dir)
        return sorted(str(p.relative_to(base)) for p in base.rglob("*")) if base.exists() else []


HOME = {".openclaw/openclaw.json": b'{"agent": "assistant"}\n', ".openclaw/memory/notes.md": b"remember the milk\n",
        "work/report.txt": b"draft 1\n", ".ssh/id_ed25519": b"PRIVATE KEY\n", ".env": b"TOKEN=abc\n",
        ".openclaw/auth-profiles.json": b'{"key": "x"}\n'}
KEPT = sorted(p for p in HOME if p.split("/")[0] not in (".ssh", ".env") and not p.endswith("auth-profiles.json"))


@pytest.fixture
def run(tmp_path):
    return Run(tmp_path)


def converged(run, plan, home=None):
    """Converge ``plan`` for real, then give the sandboxes a home with files."""
    run.apply(plan)
    for a in plan["agents"]:
        if a["state"] != "absent":
            run.client.homes[a["name"]] = dict(home or HOME)
    run.client.calls = []


# --------------------------------------------------------------------------
# Pure decisions
# --------------------------------------------------------------------------

def test_spec_of_and_spec_differences():
    before = {"image": "i1", "cpu": None, "memory": "8Gi", "gpu": False, "env": {"A": "1", "B": "2"}, "name": "x"}
    after = {"image": "i1", "cpu": "", "memory": "16Gi", "gpu": None, "env": {"A": "1", "C": "3"}}
    assert applylib.spec_of(before) == {"image": "i1", "cpu": None, "memory": "8Gi", "gpu": False, "env": {"A": "1", "B": "2"}}
    assert applylib.spec_differences(before, after) == [
        {"field": "memory", "before": "8Gi", "after": "16Gi"},
        {"field": "env.B", "before": "2", "after": None},
        {"field": "env.C", "before": None, "after": "3"},
    ]
    assert applylib.spec_differences(before, before) == []


def test_label_differences_ignore_the_collections_labels():
    current = {"team": "a", compare.LABEL_SPEC: "x", compare.LABEL_MANAGED: "true", "old": "1"}
    assert applylib.label_differences(current, {"team": "b", "new": 2}) == [
        {"field": "labels.new", "before": None, "after": "2"},
        {"field": "labels.old", "before": "1", "after": None},
        {"field": "labels.team", "before": "a", "after": "b"},
    ]


SANDBOX = {"name": "a", "image": "img@sha256:" + "1" * 64, "cpu": None, "memory": "8Gi", "gpu": False, "env": {},
           "labels": {"team": "x"}, "providers": [], "approval_mode": None}


def _agent_of(sandbox, **keys):
    out = {"sandbox": sandbox, "recreate": False}
    out.update(keys)
    return out


def test_replacement_reasons_in_sync_and_unknown():
    current = {"labels": compare.sandbox_labels(SANDBOX), "phase": "Ready"}
    assert applylib.replacement_reasons(current, _agent_of(SANDBOX), None) == []
    unknown = applylib.replacement_reasons({"labels": {"team": "x"}, "phase": "Ready"}, _agent_of(SANDBOX), None)
    assert [r["field"] for r in unknown] == ["spec"] and "not created by this collection" in unknown[0]["before"]


def test_replacement_reasons_name_the_fields_from_the_record():
    old = dict(SANDBOX, memory="4Gi", env={"A": "1"})
    current = {"labels": compare.sandbox_labels(old), "phase": "Ready"}
    record = {"fingerprint": compare.sandbox_spec_fingerprint(old), "spec": applylib.spec_of(old)}
    reasons = applylib.replacement_reasons(current, _agent_of(SANDBOX), record)
    assert reasons == [{"field": "memory", "before": "4Gi", "after": "8Gi"},
                       {"field": "env.A", "before": "1", "after": None}]
    # a record of another fingerprint does not count: the label alone tells
    stale = {"fingerprint": "other", "spec": applylib.spec_of(old)}
    (reason,) = applylib.replacement_reasons(current, _agent_of(SANDBOX), stale)
    assert reason["field"] == "spec" and "no record of the values" in reason["before"]


def test_replacement_reasons_labels_static_policy_phase_and_recreate():
    labels = compare.sandbox_labels(dict(SANDBOX, labels={"team": "y"}))
    current = {"labels": labels, "phase": "Error"}
    reasons = applylib.replacement_reasons(current, _agent_of(SANDBOX, recreate=True), None, ["landlock differs"])
    assert reasons == [{"field": "labels.team", "before": "y", "after": "x"},
                       {"field": "policy (static)", "before": None, "after": "landlock differs"},
                       {"field": "phase", "before": "Error", "after": "Ready"},
                       {"field": "recreate", "before": None, "after": True}]


@pytest.mark.parametrize("phase, state, action", [
    ("Ready", "running", None), ("Ready", "stopped", "stop"), ("Stopped", "running", "start"),
    ("Completed", "running", "start"), ("Completed", "stopped", None), ("Stopped", "stopped", None),
    ("Provisioning", "stopped", "stop"),
])
def test_lifecycle_action(phase, state, action):
    assert applylib.lifecycle_action(phase, state) == action
    assert compare.phase_action(phase, state) == action  # openshell_sandbox decides the same


def test_replacement_reason_names_a_failed_main_process():
    # OpenShell 0.1.x: Error with MainProcessFailed carries the exit code in sandbox get -o json
    current = {"labels": compare.sandbox_labels(SANDBOX), "phase": "Error", "exit_code": 137}
    assert applylib.replacement_reasons(current, _agent_of(SANDBOX), None) == [
        {"field": "phase", "before": "Error (MainProcessFailed: main process exited 137)", "after": "Ready"}]
    assert applylib.replacement_reasons(dict(current, phase="Completed", exit_code=0), _agent_of(SANDBOX), None) == []


def test_check_versions():
    agents = [{"path": "nemoclaw_agents[a]", "blueprint": {"name": "openclaw", "version": "0.1.0"},
               "openshell": {"min": "0.0.106", "max": "0.0.116"}}]
    applylib.check_versions("0.0.111", agents)
    applylib.check_versions("0.0.116", agents)
    for version in ("0.0.105", "0.0.117", "0.1.0"):
        with pytest.raises(RefusedError) as exc:
            applylib.check_versions(version, agents)
        assert str(exc.value).startswith("nemoclaw_agents[a]: blueprint openclaw 0.1.0 supports OpenShell 0.0.106 to "
                                         "0.0.116; this host has %s" % version)
    # Inside the blueprint's range but outside what the CLI contracts cover: refused, naming the range.
    open_range = dict(agents[0], openshell={"min": None, "max": None})
    for version in ("0.0.106", "0.1.4", "0.1.6", "9.9.9"):
        with pytest.raises(RefusedError) as exc:
            applylib.check_versions(version, [open_range])
        assert str(exc.value) == ("OpenShell %s is not supported: this collection drives OpenShell 0.0.111 to 0.0.116, "
                                  "0.1.5" % version)
    applylib.check_versions("0.1.5", [open_range])
    applylib.check_versions("0.0.1", [])


def test_check_versions_refuses_a_restart_policy_the_version_lacks():
    agent = {"path": "nemoclaw_agents[a]", "blueprint": {"name": "openclaw", "version": "0.1.0"},
             "openshell": {"min": None, "max": None}, "sandbox": {"restart_policy": "on-failure"}}
    for version in ("0.0.111", "0.0.116"):
        with pytest.raises(RefusedError) as exc:
            applylib.check_versions(version, [agent])
        assert str(exc.value) == ("nemoclaw_agents[a].restart_policy: OpenShell %s has no sandbox restart policy "
                                  "(sandbox create --restart-policy); it needs OpenShell 0.1.5" % version)
    applylib.check_versions("0.1.5", [agent])


def test_restart_policy_is_refused_on_0_0_x_before_any_call(run):
    run.client._version = "0.0.116"
    plan = make_plan(agent(restart_policy="always"))
    assert plan["agents"][0]["sandbox"]["restart_policy"] == "always"
    with pytest.raises(RefusedError) as exc:
        run.applier(plan).run()
    assert "nemoclaw_agents[assistant].restart_policy: OpenShell 0.0.116 has no sandbox restart policy" in str(exc.value)
    assert run.client.calls == [("version",)]


def test_manifest_of_and_problems():
    data = targz({"a.txt": b"a", "d/b.txt": b"b"})
    manifest = applylib.manifest_of(data)
    assert sorted(manifest) == ["a.txt", "d/b.txt"]
    assert manifest["a.txt"] == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    # directories and links are not files of the manifest
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        d = tarfile.TarInfo("./dir")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        link = tarfile.TarInfo("./link")
        link.type = tarfile.SYMTYPE
        link.linkname = "a.txt"
        tar.addfile(link)
        f = tarfile.TarInfo("plain.txt")
        f.size = 1
        tar.addfile(f, io.BytesIO(b"p"))
    assert sorted(applylib.manifest_of(buf.getvalue())) == ["plain.txt"]
    assert applylib.manifest_problems(manifest, manifest) == ([], [])
    assert applylib.manifest_problems(manifest, {"a.txt": "other", "extra": "x"}) == (["d/b.txt"], ["a.txt"])


def test_relative_paths_are_never_options():
    assert applylib.relative_paths(["/sandbox"]) == ["."]
    assert applylib.relative_paths(["/sandbox/.openclaw", "/sandbox/-rf"]) == ["./.openclaw", "./-rf"]


def test_policy_fields():
    diff = {"network_policies": {"added": ["npm"], "removed": ["evil"], "changed": ["nvidia"]},
            "network_middlewares": {"added": ["mw"]}}
    assert applylib.policy_fields(diff) == [
        {"field": "policy.network_policies.npm", "before": None, "after": "added"},
        {"field": "policy.network_policies.evil", "before": "present", "after": "removed"},
        {"field": "policy.network_policies.nvidia", "before": "differs", "after": "as planned"},
        {"field": "policy.network_middlewares.mw", "before": None, "after": "added"},
    ]
    assert applylib.policy_fields({}) == []


RESULT = {
    "providers": {"nv": {"changed": True, "action": "update", "reasons": ["credential values changed: NVIDIA_API_KEY"],
                         "credentials": {"NVIDIA_API_KEY": applylib.SECRET_CHANGED}},
                  "gh": {"changed": False, "action": "none", "reasons": [], "credentials": {}}},
    "inference": {"changed": True, "differences": [{"field": "model", "before": "m1", "after": "m2"}]},
    "resumed": [{"agent": "old", "step": "deleted", "backup": "/b.tar.gz", "action": "restore"}],
    "agents": {
        "a": {"changed": True, "replace": True, "actions": ["backup", "delete", "create", "restore"],
              "differences": [{"field": "memory", "before": "8Gi", "after": "16Gi"}]},
        "b": {"changed": True, "replace": False, "actions": ["stop"],
              "differences": [{"field": "phase", "before": "Ready", "after": "Stopped"}]},
        "c": {"changed": False, "replace": False, "actions": [], "differences": []},
    },
}


def test_render_diff_names_every_field():
    diffs = applylib.render_diff(RESULT)
    headers = [d["after_header"] for d in diffs]
    assert headers == ["provider nv", "inference.local route", "agent old",
                       "agent a (replacement: backup, delete, create, restore)", "agent b"]
    by = dict((d["before_header"], d) for d in diffs)
    assert by["agent a"]["before"] == "memory: 8Gi\n" and by["agent a"]["after"] == "memory: 16Gi\n"
    assert by["inference.local route"]["after"] == "model: m2\n"
    assert by["agent old"]["after"] == "unfinished replacement: restore /b.tar.gz\n"
    assert (by["provider nv"]["before"], by["provider nv"]["after"]) == \
        ("update: -\n", "update: credential values changed: NVIDIA_API_KEY\n")
    created = {"providers": {"nv": {"changed": True, "action": "create", "reasons": ["absent"], "credentials": {}}}}
    assert [(d["before"], d["after"]) for d in applylib.render_diff(created)] == [("provider: absent\n", "provider: present\n")]
    assert applylib.render_diff({}) == []


def test_render_diff_escapes_what_the_agent_wrote():
    # The agent writes its own configuration, read back for the diff: no escape sequence or line of its own.
    result = {"agents": {"a": {"changed": True, "replace": False, "actions": ["config"], "differences": [
        {"field": "config.agents.defaults.model", "before": "\x1b[2J\x1b[Hok\nfake: line", "after": "nvidia/nemotron"}]}}}
    diff = applylib.render_diff(result)[0]
    assert diff["before"] == "config.agents.defaults.model: \\u001b[2J\\u001b[Hok\\nfake: line\n"
    assert "\x1b" not in diff["before"] and diff["before"].count("\n") == 1


def test_summary_lines():
    assert applylib.summary(RESULT) == [
        "provider nv: update (credential values changed: NVIDIA_API_KEY)",
        "inference.local: model m1 -> m2",
        "agent old: finishing an interrupted replacement (restore)",
        "agent a: replace (memory 8Gi -> 16Gi)",
        "agent b: stop (phase Ready -> Stopped)",
    ]
    result = {"agents": {"x": {"changed": True, "replace": False, "actions": ["start"],
                               "differences": [{"field": "gpu", "before": None, "after": False}]}}}
    assert applylib.summary(result) == ["agent x: start (gpu none -> false)"]


# --------------------------------------------------------------------------
# Host records
# --------------------------------------------------------------------------

def _in_backups(records, agent):
    """A backup path where the records keep the agent's backups (a journal names no other)."""
    return os.path.join(records.backup_dir(agent), "20260101T000000-000000-replace.tar.gz")


def test_journal_files(tmp_path):
    records = HostRecords(str(tmp_path), "gw/1", readonly=False)
    assert records.journals() == {}
    records.write_journal({"agent": "a", "step": "deleting", "backup": _in_backups(records, "a"), "old_id": "1"})
    records.write_journal({"agent": "b", "step": "restored", "backup": _in_backups(records, "b")})
    directory = Path(records.journal_dir())
    assert directory == tmp_path / "journal" / "gw_1"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "a.json").stat().st_mode) == 0o600
    (directory / "notes.txt").write_text("x")
    journals = records.journals()
    assert sorted(journals) == ["a", "b"] and journals["a"]["step"] == "deleting" and journals["a"]["updated_at"]
    records.close_journal("a")
    records.close_journal("never")
    assert sorted(records.journals()) == ["b"]


def test_a_journal_naming_another_file_or_agent_stops_the_apply(tmp_path):
    records = HostRecords(str(tmp_path), GATEWAY, readonly=False)
    directory = Path(records.journal_dir())
    directory.mkdir(parents=True)
    for name, doc in (("assistant.json", {"agent": "assistant", "step": "deleted", "backup": "/etc/shadow"}),
                      ("assistant.json", {"agent": "assistant", "step": "deleted",
                                          "backup": _in_backups(records, "other")}),
                      ("zzz.json", {"agent": "assistant", "step": "deleted", "backup": _in_backups(records, "assistant")})):
        (directory / name).write_text(json.dumps(doc))
        with pytest.raises(ApplyError, match="is not one this collection wrote"):
            records.journals()
        (directory / name).unlink()


@pytest.mark.parametrize("text", ["{not json", "", json.dumps({"agent": "odd", "step": "exploded"}), "[1]"])
def test_a_journal_that_cannot_be_read_stops_the_apply(tmp_path, text):
    # It may be the only trace of a backup still to restore: never read as "no replacement under way".
    records = HostRecords(str(tmp_path), GATEWAY, readonly=False)
    records.write_journal({"agent": "a", "step": "deleting", "backup": _in_backups(records, "a"), "old_id": "1"})
    broken = Path(records.journal_dir()) / "broken.json"
    broken.write_text(text)
    with pytest.raises(ApplyError) as exc:
        records.journals()
    assert str(broken) in str(exc.value) and "restore its backup by hand" in str(exc.value)


def test_backups_are_private_and_pruned(tmp_path):
    records = HostRecords(str(tmp_path), GATEWAY, readonly=False)
    paths = [records.save_backup("a", targz({"f": b"%d" % i}), {"f": "x"}, "replace") for i in range(4)]
    directory = Path(records.backup_dir("a"))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path.endswith("-replace.tar.gz")
        assert applylib.load_manifest(path) == {"f": "x"}
    assert len(set(paths)) == 4
    removed = records.prune_backups("a", 2, protect=(paths[0],))
    assert removed == [paths[1]]
    assert sorted(str(p) for p in directory.glob("*.tar.gz")) == sorted([paths[0], paths[2], paths[3]])
    assert not os.path.exists(paths[1][:-len(".tar.gz")] + ".manifest.json")
    assert records.prune_backups("nobody", 1) == []
    # The backup of a removal is the only copy of an agent that is gone: never pruned.
    removal = records.save_backup("a", targz({"f": b"r"}), {"f": "x"}, "remove")
    later = [records.save_backup("a", targz({"f": b"n%d" % i}), {"f": "x"}, "replace") for i in range(2)]
    records.prune_backups("a", 1)
    assert sorted(str(p) for p in directory.glob("*.tar.gz")) == sorted([removal, later[1]])


def test_record_applied_keeps_the_previous_plan(tmp_path):
    records = HostRecords(str(tmp_path), GATEWAY, readonly=False)
    assert records.applied() == {}
    records.record_applied("a", {"plan_digest": "d1"})
    records.record_applied("a", {"plan_digest": "d2"})
    assert records.applied()["a"] == {"plan_digest": "d2", "previous": {"plan_digest": "d1"}}
    records.record_applied("a", {"plan_digest": "d2"})
    assert records.applied()["a"]["previous"] == {"plan_digest": "d1"}
    records.record_applied("a", None)
    assert records.applied() == {}


# --------------------------------------------------------------------------
# Applier: converge, idempotence, check mode
# --------------------------------------------------------------------------

def test_fresh_host_converges_and_a_second_run_changes_nothing(run):
    plan = make_plan(agent())
    result = run.apply(plan)
    assert result["changed"] is True and result["openshell_version"] == "0.0.111"
    assert run.client.names() == ["provider_create", "inference_set", "sandbox_create", "sandbox_exec"]
    create = [c for c in run.client.calls if c[0] == "sandbox_create"][0]
    assert create[2]["labels"][compare.LABEL_SPEC] == compare.sandbox_spec_fingerprint(plan["agents"][0]["sandbox"])
    assert result["providers"]["nvidia-inference"]["action"] == "create"
    assert result["agents"]["assistant"]["actions"] == ["create"]
    # the CLI's provisioning wait is bounded by wait_timeout, and only for the create
    assert (run.client.create_timeouts, run.client.timeout) == ([5], 300)
    assert result["agents"]["assistant"]["health"]["status"] == {"ok": True}
    assert run.records.applied()["assistant"]["plan_digest"] == plan["agents"][0]["plan_digest"]
    assert KEY not in json.dumps(result)
    again = run.apply(plan)
    assert again["changed"] is False and run.client.mutating == []
    a = again["agents"]["assistant"]
    assert (a["changed"], a["actions"], a["differences"], a["replace"], a["state"], a["blueprint"]) == \
        (False, [], [], False, "running", "openclaw 0.1.0")


def test_check_mode_makes_no_mutating_call_and_writes_no_file(run):
    plan = make_plan(agent(), agent("other", state="stopped"))
    result = run.apply(plan, check_mode=True)
    assert run.client.mutating == [] and run.files() == []
    assert result["changed"] is True
    assert result["providers"]["nvidia-inference"]["action"] == "create"
    assert result["inference"]["changed"] is True
    assert result["agents"]["assistant"]["actions"] == ["create"]
    assert result["agents"]["other"]["actions"] == ["create", "stop"]


def test_check_mode_on_a_converged_host_reports_a_replacement_without_acting(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"})))
    before = run.files()
    result = run.apply(make_plan(agent(resources={"memory": "16Gi"})), check_mode=True)
    assert run.client.mutating == [] and run.files() == before
    a = result["agents"]["assistant"]
    assert a["replace"] is True and a["actions"] == ["backup", "delete", "create", "restore"]
    assert a["differences"] == [{"field": "memory", "before": "8Gi", "after": "16Gi"}]


def test_refuse_fails_before_any_write_naming_the_fields(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"}, env={"A": "1"})))
    plan = make_plan(agent(resources={"memory": "16Gi"}, env={"A": "2"}, on_replace="refuse", state="stopped"),
                     agent("fresh"))
    with pytest.raises(RefusedError) as exc:
        run.applier(plan).run()
    assert str(exc.value) == ("nemoclaw_agents[assistant].on_replace is refuse and sandbox assistant must be replaced: "
                              "memory, env.A")
    assert run.client.mutating == []
    assert "fresh" not in run.client.sandboxes


def test_version_outside_the_blueprint_range_is_refused_before_anything(run):
    run.client._version = "0.1.6"
    run.records.write_journal({"agent": "assistant", "step": "deleted", "backup": _in_backups(run.records, "assistant")})
    with pytest.raises(RefusedError) as exc:
        run.applier(make_plan(agent())).run()
    assert "supports OpenShell 0.0.106 to 0.1.5; this host has 0.1.6" in str(exc.value)
    assert run.client.calls == [("version",)]
    assert sorted(run.records.journals()) == ["assistant"]


def test_absent_agents_are_not_version_gated(run):
    run.client._version = "0.0.200"
    result = run.apply(make_plan(agent(state="absent")))
    assert result["changed"] is False and run.client.mutating == []


def test_lifecycle_attachments_approval_mode_and_policy_in_place(run):
    plan = make_plan(agent())
    converged(run, plan)
    c = run.client
    c.sandboxes["assistant"]["phase"] = "Stopped"
    c.attached["assistant"] = ["stray"]
    del c.sandboxes["assistant"]["policy"]["network_policies"]["managed_inference"]
    result = run.apply(make_plan(agent(approval_mode="auto")))
    a = result["agents"]["assistant"]
    assert a["replace"] is False
    assert a["actions"] == ["attach:nvidia-inference", "detach:stray", "start", "approval_mode", "policy"]
    assert {"field": "policy.network_policies.managed_inference", "before": None, "after": "added"} in a["differences"]
    assert c.names() == ["sandbox_provider_attach", "sandbox_provider_detach", "sandbox_start", "settings_set",
                         "policy_set", "sandbox_exec"]
    assert c.attached["assistant"] == ["nvidia-inference"] and c.settings["assistant"] == "auto"
    assert run.apply(make_plan(agent(approval_mode="auto")))["changed"] is False


def test_what_the_gateway_manages_globally_is_refused_before_any_write(run):
    plan = make_plan(agent(), agent("other"))
    converged(run, plan)
    c = run.client
    # A global policy in force, and the agent's policy differs: OpenShell refuses a sandbox policy then.
    c.sandboxes["assistant"]["policy_source"] = "global"
    desired = copy.deepcopy(c.sandboxes["assistant"]["policy"])
    del c.sandboxes["assistant"]["policy"]["network_policies"]["managed_inference"]
    c.sandboxes["other"]["phase"] = "Stopped"
    with pytest.raises(RefusedError) as exc:
        run.applier(plan).run()
    assert str(exc.value).startswith("nemoclaw_agents[assistant] (sandbox assistant): policy: the gateway's global "
                                     "policy is in force")
    assert c.mutating == []
    # A global policy that is the agent's desired one is no difference: the run goes on.
    c.sandboxes["assistant"]["policy"] = desired
    result = run.apply(plan)
    assert result["agents"]["assistant"]["changed"] is False and c.names() == ["sandbox_start", "sandbox_exec"]


def test_a_global_approval_mode_is_refused_before_any_write(run):
    converged(run, make_plan(agent()))
    run.client.settings["<scope>"] = "global"
    with pytest.raises(RefusedError) as exc:
        run.applier(make_plan(agent(approval_mode="auto"))).run()
    assert "approval_mode: the gateway sets proposal_approval_mode globally" in str(exc.value)
    assert run.client.mutating == []


def test_stop_a_running_agent_and_create_a_stopped_one(run):
    converged(run, make_plan(agent()))
    result = run.apply(make_plan(agent(state="stopped"), agent("later", state="stopped")))
    assert result["agents"]["assistant"]["actions"] == ["stop"]
    assert result["agents"]["later"]["actions"] == ["create", "stop"]
    assert run.client.sandboxes["assistant"]["phase"] == "Stopped"
    assert run.client.sandboxes["later"]["phase"] == "Stopped"
    assert "sandbox_exec" not in run.client.names()  # no health command in a stopped agent


def test_model_change_updates_the_route_only(run):
    converged(run, make_plan(agent()))
    result = run.apply(make_plan(agent(model="nvidia/other")))
    assert result["inference"]["differences"] == [{"field": "model", "before": "nvidia/nemotron-3-super-120b-a12b",
                                                   "after": "nvidia/other"}]
    assert run.client.names()[0] == "inference_set"
    assert result["agents"]["assistant"]["replace"] is False


# --------------------------------------------------------------------------
# Replacement with backup and restore
# --------------------------------------------------------------------------

def test_preserve_replacement_backs_up_restores_and_verifies(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"})))
    old_id = run.client.sandboxes["assistant"]["id"]
    result = run.apply(make_plan(agent(resources={"memory": "16Gi"})))
    a = result["agents"]["assistant"]
    assert a["replace"] is True and a["restored"] == {"files": len(KEPT), "verified": True, "changed_since_restore": []}
    names = run.client.names()
    assert names.index("sandbox_delete") > names.index("sandbox_exec")  # the backup comes first
    assert names[names.index("sandbox_delete") + 1] == "sandbox_create"
    assert run.client.sandboxes["assistant"]["id"] != old_id
    home = run.client.homes["assistant"]
    assert sorted(home) == KEPT and all(home[p] == HOME[p] for p in KEPT)
    # the backup on the host: private, credential files left out, manifest next to it
    archive = a["backup"]
    assert archive.startswith(str(Path(run.state_dir) / "backups" / GATEWAY / "assistant")) and archive.endswith("-replace.tar.gz")
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    with open(archive, "rb") as fh:
        assert sorted(untar(fh.read())) == KEPT
    assert sorted(applylib.load_manifest(archive)) == KEPT
    assert run.records.journals() == {}
    assert "PRIVATE KEY" not in json.dumps(result) and "remember the milk" not in json.dumps(result)
    # the record now names the new spec: the next run is a no-op
    assert run.apply(make_plan(agent(resources={"memory": "16Gi"})))["changed"] is False


def test_backup_paths_limit_what_is_kept(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"}, backup={"paths": ["/sandbox/.openclaw"]})))
    result = run.apply(make_plan(agent(resources={"memory": "16Gi"}, backup={"paths": ["/sandbox/.openclaw"]})))
    backup = [c for c in run.client.calls if c[0] == "sandbox_exec"][0]
    assert backup[2][4:] == ["./.openclaw"]
    assert sorted(run.client.homes["assistant"]) == [".openclaw/memory/notes.md", ".openclaw/openclaw.json"]
    assert result["agents"]["assistant"]["restored"]["files"] == 2


def test_backups_are_pruned_to_keep(run):
    plan_a = make_plan(agent(resources={"memory": "8Gi"}, backup={"keep": 1}))
    plan_b = make_plan(agent(resources={"memory": "16Gi"}, backup={"keep": 1}))
    converged(run, plan_a)
    first = run.apply(plan_b)["agents"]["assistant"]["backup"]
    second = run.apply(plan_a)["agents"]["assistant"]["backup"]
    assert not os.path.exists(first) and os.path.exists(second)
    assert len(list(Path(run.records.backup_dir("assistant")).glob("*.tar.gz"))) == 1


def test_failed_backup_deletes_nothing(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"})))
    run.client.backup_rc = 2
    with pytest.raises(ApplyError) as exc:
        run.applier(make_plan(agent(resources={"memory": "16Gi"}))).run()
    assert "backup of /sandbox failed inside the sandbox (exit 2" in str(exc.value)
    assert "nothing was deleted" in str(exc.value)
    assert "sandbox_delete" not in run.client.names() and "sandbox_create" not in run.client.names()
    assert run.client.homes["assistant"] == HOME
    assert run.records.journals() == {}
    assert not Path(run.state_dir, "backups").exists() or not list(Path(run.state_dir, "backups").rglob("*.tar.gz"))


def backups_made(run):
    """The archives made before the sandbox was deleted (the restore's check archives the new home again)."""
    calls = run.client.calls[:[c[0] for c in run.client.calls].index("sandbox_delete")]
    return [c for c in calls if c[0] == "sandbox_exec" and c[2][:3] == ["sh", "-c", applylib.BACKUP_SCRIPT]]


def test_a_file_changing_while_archived_is_archived_again(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"})))
    run.client.changing = 1
    result = run.apply(make_plan(agent(resources={"memory": "16Gi"})))
    assert len(backups_made(run)) == 2 and run.warnings == []
    assert result["agents"]["assistant"]["restored"]["files"] == len(KEPT)
    assert sorted(run.client.homes["assistant"]) == KEPT


def test_a_backup_that_never_reads_still_files_is_kept_and_named(run):
    """An agent that writes all the time: the last archive is kept (the replacement goes on), with a warning."""
    converged(run, make_plan(agent(resources={"memory": "8Gi"})))
    run.client.changing = 99
    result = run.apply(make_plan(agent(resources={"memory": "16Gi"})))
    assert len(backups_made(run)) == applylib.BACKUP_ATTEMPTS == 3
    assert len(run.warnings) == 1 and "agent assistant: files of /sandbox changed while they were archived" in run.warnings[0]
    assert sorted(run.client.homes["assistant"]) == KEPT and result["changed"]


@pytest.mark.parametrize("backup, expected", [({}, 599), ({"timeout": 3600}, 3600)])
def test_backup_and_restore_steps_take_the_agents_timeout(run, monkeypatch, backup, expected):
    """``backup.timeout`` bounds each step inside the sandbox: a large home gets more time, not a discard. At the
    default the plan carries no timeout and the apply takes agentconfig's default (changed here so that it cannot be
    mistaken for the applier's own exec timeout, also 600)."""
    monkeypatch.setattr(agentconfig, "DEFAULT_BACKUP_TIMEOUT", 599)
    converged(run, make_plan(agent(resources={"memory": "8Gi"}, backup=backup)))
    run.client.exec_timeouts = []
    plan = make_plan(agent(resources={"memory": "16Gi"}, backup=backup))
    assert ("timeout" in plan["agents"][0]["backup"]) == bool(backup)  # the default leaves plan digests as they were
    run.apply(plan)
    steps = dict((script, timeout) for script, timeout in run.client.exec_timeouts)
    for script in (applylib.BACKUP_SCRIPT, applylib.RESTORE_APPEND, applylib.RESTORE_SCRIPT):
        assert steps[script] == expected, script


def test_discard_replaces_without_a_backup(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"})))
    result = run.apply(make_plan(agent(resources={"memory": "16Gi"}, on_replace="discard")))
    assert result["agents"]["assistant"]["actions"] == ["delete", "create"]
    assert run.client.names()[:2] == ["sandbox_delete", "sandbox_create"]
    assert run.client.homes["assistant"] == {}
    assert not Path(run.state_dir, "backups").exists()


def test_stopped_agent_is_started_for_its_backup_and_stopped_after(run):
    converged(run, make_plan(agent(resources={"memory": "8Gi"}, state="stopped")))
    assert run.client.sandboxes["assistant"]["phase"] == "Stopped"
    result = run.apply(make_plan(agent(resources={"memory": "16Gi"}, state="stopped")))
    names = run.client.names()
    assert names[0] == "sandbox_start" and names[-1] == "sandbox_stop"
    assert result["agents"]["assistant"]["restored"]["verified"] is True
    assert run.client.sandboxes["assistant"]["phase"] == "Stopped"


def test_absent_agent_is_backed_up_then_removed(run):
    converged(run, make_plan(agent()))
    result = run.apply(make_plan(agent(state="absent")))
    a = result["agents"]["assistant"]
    assert a["actions"] == ["backup", "delete"] and a["backup"].endswith("-remove.tar.gz")
    assert "assistant" not in run.client.sandboxes and run.records.applied() == {}
    with open(a["backup"], "rb") as fh:
        assert sorted(untar(fh.read())) == KEPT
    assert run.apply(make_plan(agent(state="absent")))["changed"] is False


def test_absent_agent_with_discard_is_removed_without_a_backup(run):
    converged(run, make_plan(agent()))
    result = run.apply(make_plan(agent(state="absent", on_replace="discard")))
    assert result["agents"]["assistant"]["actions"] == ["delete"]
    assert run.client.names() == ["sandbox_delete"]


# --------------------------------------------------------------------------
# Journal: a replacement killed at each step is finished by the next run
# --------------------------------------------------------------------------

def _interrupted(run, step, sandbox):
    """A host where a replacement 8Gi -> 16Gi was killed after ``step``.

    ``sandbox``: ``old`` (the old sandbox is still there), ``deleting`` (being deleted), ``gone``,
    ``new-empty`` (the new one exists, nothing restored) or ``new-restored``.
    """
    old_plan = make_plan(agent(resources={"memory": "8Gi"}))
    new_plan = make_plan(agent(resources={"memory": "16Gi"}))
    converged(run, old_plan)
    c = run.client
    old_id = c.sandboxes["assistant"]["id"]
    kept = dict((p, HOME[p]) for p in KEPT)
    archive = run.records.save_backup("assistant", targz(kept), applylib.manifest_of(targz(kept)), "replace")
    run.records.write_journal({"agent": "assistant", "backup": archive, "old_id": old_id, "step": step,
                               "plan_digest": new_plan["agents"][0]["plan_digest"]})
    new_agent = new_plan["agents"][0]
    if sandbox == "deleting":
        c.sandboxes["assistant"]["phase"] = "Deleting"
        c.deleting_polls = 2
    elif sandbox == "gone":
        del c.sandboxes["assistant"]
        del c.homes["assistant"]
    elif sandbox in ("new-empty", "new-restored"):
        c.add_sandbox(new_agent["sandbox"], new_agent["policy"], home=kept if sandbox == "new-restored" else {})
    return new_plan, archive, old_id


@pytest.mark.parametrize("phase", ["Stopping", "Unknown", "Error"])
def test_resume_after_the_delete_was_sent_waits_for_the_old_sandbox_then_restores(run, phase):
    # Killed after the delete was accepted, the old sandbox still listed in a phase other than Deleting.
    new_plan, archive, old_id = _interrupted(run, "deleting", "old")
    c = run.client
    c.sandboxes["assistant"]["phase"] = "Deleting"  # the fake deletes a Deleting sandbox when polled
    c.deleting_polls = 1
    real_get = c.sandbox_get

    def get(name):
        obj = real_get(name)
        if obj is not None and obj["id"] == old_id and c.deleting_polls > 0:
            obj["phase"] = phase  # as listed right after the kill
        return obj

    c.sandbox_get = get
    result = run.apply(new_plan)
    assert result["resumed"][0]["action"] == "restore" and result["resumed"][0]["restored"]["verified"] is True
    assert c.sandboxes["assistant"]["id"] != old_id and sorted(c.homes["assistant"]) == KEPT
    assert run.records.journals() == {} and os.path.exists(archive)


@pytest.mark.parametrize("step, sandbox", [("backed_up", "old"), ("deleting", "old")])
def test_resume_before_the_delete_closes_the_journal(run, step, sandbox):
    new_plan, archive, old_id = _interrupted(run, step, sandbox)
    result = run.apply(new_plan)
    assert result["resumed"] == []
    assert run.records.journals() == {}
    # the sandbox still held the agent's state: the replacement is decided again and done from scratch
    assert result["agents"]["assistant"]["replace"] is True
    assert result["agents"]["assistant"]["restored"]["verified"] is True
    assert sorted(run.client.homes["assistant"]) == KEPT
    assert os.path.exists(archive)


@pytest.mark.parametrize("step, sandbox, creates", [
    ("deleting", "gone", True),
    ("deleting", "deleting", True),
    ("deleted", "gone", True),
    ("created", "new-empty", False),
    ("restored", "new-restored", False),
])
def test_resume_after_the_delete_restores_first(run, step, sandbox, creates):
    new_plan, archive, old_id = _interrupted(run, step, sandbox)
    result = run.apply(new_plan)
    assert result["changed"] is True
    restored = {"files": len(KEPT), "verified": True, "changed_since_restore": []}
    assert result["resumed"] == [{"agent": "assistant", "backup": archive, "step": step, "action": "restore",
                                  "restored": restored}]
    names = run.client.names()
    assert ("sandbox_create" in names) is creates
    assert "sandbox_delete" not in names
    assert names[0] == ("sandbox_create" if creates else "sandbox_exec")  # before anything else
    restore = [c[2][2] for c in run.client.calls if c[0] == "sandbox_exec"]
    # After "restored" the restore has run: it is checked, never extracted again over the agent's files.
    assert (applylib.RESTORE_SCRIPT in restore) is (step != "restored")
    home = run.client.homes["assistant"]
    assert sorted(home) == KEPT and all(home[p] == HOME[p] for p in KEPT)
    assert run.client.sandboxes["assistant"]["id"] != old_id
    assert run.records.journals() == {}
    assert os.path.exists(archive)
    # the restored sandbox is the planned one: nothing else to do, now or next time
    assert result["agents"]["assistant"]["actions"] == []
    assert run.apply(new_plan)["changed"] is False


def test_resume_in_check_mode_reports_and_changes_nothing(run):
    new_plan, archive, _old = _interrupted(run, "deleted", "gone")
    journal_before = run.records.journals()
    result = run.apply(new_plan, check_mode=True)
    assert result["resumed"] == [{"agent": "assistant", "backup": archive, "step": "deleted", "action": "restore"}]
    assert result["changed"] is True and run.client.mutating == []
    assert run.records.journals() == journal_before


def test_resume_of_an_agent_no_longer_planned_keeps_the_backup(run):
    _new_plan, archive, _old = _interrupted(run, "deleted", "gone")
    result = run.apply(make_plan(agent("other")))
    assert result["resumed"] == [{"agent": "assistant", "backup": archive, "step": "deleted", "action": "kept backup"}]
    assert any("no longer planned" in w and archive in w for w in run.warnings)
    assert run.records.journals() == {} and os.path.exists(archive)
    assert "assistant" not in run.client.sandboxes


def _lossy(client, scripts, path="work/report.txt"):
    """The restore scripts ``scripts`` lose ``path`` of the agent home."""
    real_exec = client.sandbox_exec

    def lossy_exec(name, command, **kwargs):
        rc, out, err = real_exec(name, command, **kwargs)
        if command[2] in scripts:
            client.homes[name].pop(path, None)
        return rc, out, err

    client.sandbox_exec = lossy_exec
    return real_exec


def test_a_file_the_restore_lost_is_restored_again_never_over_the_agents_files(run):
    new_plan, _archive, _old = _interrupted(run, "created", "new-empty")
    c = run.client
    _lossy(c, (applylib.RESTORE_SCRIPT,))
    result = run.applier(new_plan).run()
    assert sorted(c.homes["assistant"]) == KEPT and run.records.journals() == {}
    assert result["resumed"][0]["restored"]["verified"] is True
    missing_pass = [cmd for cmd in c.calls if cmd[0] == "sandbox_exec" and cmd[2][2] == applylib.RESTORE_MISSING_SCRIPT]
    assert len(missing_pass) == 1


def test_a_restore_that_stays_incomplete_keeps_the_journal_and_the_agents_later_work(run):
    new_plan, archive, _old = _interrupted(run, "created", "new-empty")
    c = run.client
    real_exec = _lossy(c, (applylib.RESTORE_SCRIPT, applylib.RESTORE_MISSING_SCRIPT))
    with pytest.raises(ApplyError) as exc:
        run.applier(new_plan).run()
    assert "did not verify: 1 files missing (work/report.txt)" in str(exc.value)
    assert run.records.journals()["assistant"]["step"] == "restored" and os.path.exists(archive)
    # The agent runs on and writes; the next run restores what is missing and overwrites nothing.
    c.sandbox_exec = real_exec
    c.homes["assistant"][".openclaw/memory/notes.md"] = b"a week of work\n"
    result = run.apply(new_plan)
    assert result["resumed"][0]["step"] == "restored"
    assert c.homes["assistant"][".openclaw/memory/notes.md"] == b"a week of work\n"
    assert c.homes["assistant"]["work/report.txt"] == HOME["work/report.txt"]
    assert run.records.journals() == {}
    assert result["resumed"][0]["restored"]["changed_since_restore"] == [".openclaw/memory/notes.md"]
    assert any("1 files changed since the restore" in w and ".openclaw/memory/notes.md" in w for w in run.warnings)
    assert applylib.RESTORE_SCRIPT not in [cmd[2][2] for cmd in c.calls if cmd[0] == "sandbox_exec"]


def test_provider_credentials_change_is_written_once(run):
    plan = make_plan(agent())
    converged(run, plan)
    result = run.applier(plan, secrets={"NVIDIA_INFERENCE_API_KEY": "nvapi-rotated-value"}).run()
    prov = result["providers"]["nvidia-inference"]
    assert prov["action"] == "update" and prov["credentials"] == {"NVIDIA_API_KEY": applylib.SECRET_CHANGED}
    assert "nvapi-rotated-value" not in json.dumps(result)
    run.client.calls = []
    assert run.applier(plan, secrets={"NVIDIA_INFERENCE_API_KEY": "nvapi-rotated-value"}).run()["changed"] is False
