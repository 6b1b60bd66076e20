# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Secret audit: canary secret values appear nowhere but in the gateway's hands.

The values reach Ansible only as Ansible Vault files (``lookup('ansible.builtin.unvault', ...)`` in
host_vars; the controller's environment names which file), so no file the test writes contains them
in clear. A third vaulted canary is the gateway's environment (``openshell_gateway_env``): it may be in
the host's ``gateway.env`` (0600) and nowhere else. A fourth canary is exported in the controller's
environment, which is the hosts' environment too (local connections): no returned fact (the preflight's
``ansible_facts.env``) may carry it. At -vvvv with --diff we run
site.yml, site.yml again with an ``env`` change of the agent in ``nemoclaw_agents`` (a replacement:
backup, delete, create, restore), playbooks/drift.yml and site.yml --check --diff, the last two after
rotating the value (a second canary). A thread samples
the argv of every process (/proc/*/cmdline) every 50 ms during the runs. Then both canaries must
occur zero times in: the output, the recorded results (diffs and registered results included), the
registered variables of the first rollout, ``agents_result`` among them (dumped to a file by a play in
the same run: a ``no_log`` task hides its result from callbacks, not from its register), the members
of every backup archive the replacement made, every file under the test's
directory (hosts' HOME and state dirs, Ansible's local and remote temp dirs, reports, the
simulator's database, call log and gateway log) and the sampled argv.

The audit proves its own reach: the places a secret could land (the simulator's database, call log
and gateway log, the host-side state file, every run's recorded results, each report directory) must
be among the files scanned, and the sampler must have seen every run's ansible-playbook process. A
self-test plants a canary in a file and in a process's argv and requires both searches to find it.

Credential files in the agent's home (``.git-credentials``, ``id_rsa``, ``.env.local``) are planted
before the replacement: its backup archive (``backups/`` of the host's state directory) must hold the
agent's other files but none of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import threading

import yaml

from playrunner import ROOT  # puts tests/simulator on sys.path
from reltools import make_fleet, wait_for

from openshell_sim.gateway import cred_digest  # pylint: disable=wrong-import-order

CANARY = "nvapi-AUDIT-CANARY-6b1d0f3e9a27c845"
ROTATED = "nvapi-AUDIT-ROTATED-5c2e8d71f04ab936"
GW_CANARY = "gwenv-AUDIT-CANARY-0e9f3b7a51d6c284"
ENV_CANARY = "ctlenv-AUDIT-CANARY-73a0c4e91b5d2f68"
GATEWAY_ENV = {"AUDIT_GATEWAY_DB_PASSWORD":
               "{{ lookup('ansible.builtin.unvault', lookup('ansible.builtin.env', 'GATEWAY_VAULT_FILE')) | trim }}"}
NEEDLES = [CANARY, ROTATED, GW_CANARY, ENV_CANARY]
SECRETS = {"NVIDIA_INFERENCE_API_KEY":
           "{{ lookup('ansible.builtin.unvault', lookup('ansible.builtin.env', 'CANARY_VAULT_FILE')) | trim }}"}
VAULT_PASSWORD = "reliability-audit-vault-password"
PLANTED = (".git-credentials", "id_rsa", ".env.local")
PLANT = ("mkdir -p .openclaw && echo kept > .openclaw/memory.md && "
         "for f in %s; do echo planted-credential > \"$f\"; done" % " ".join(PLANTED))
REPLACED = [{"name": "openclaw", "agent": "openclaw", "env": {"AUDIT_GENERATION": "2"}}]


def _vault_files(tmp_path):
    """An Ansible Vault file per canary value, and the vault password file: {value: path}, password path."""
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel

    vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    directory = tmp_path / "vault"
    directory.mkdir()
    password = directory / "password"
    password.write_text(VAULT_PASSWORD + "\n")
    files = {}
    for label, value in (("canary", CANARY), ("rotated", ROTATED), ("gateway", GW_CANARY)):
        path = directory / ("%s.vault" % label)
        path.write_bytes(vault.encrypt(value.encode()))
        files[value] = str(path)
    return files, str(password)


class ArgvSampler(threading.Thread):
    """Reads /proc/*/cmdline every ``interval`` seconds; keeps the command lines containing a needle."""

    def __init__(self, needles, interval=0.05):
        super(ArgvSampler, self).__init__()
        self.daemon = True
        self.needles = [n.encode() for n in needles]
        self.interval = interval
        self.hits = []
        self.samples = 0
        self.playbooks_seen = set()  # command lines of the ansible-playbook processes sampled
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as fh:
                        argv = fh.read()
                except (IOError, OSError):
                    continue
                if b"ansible-playbook" in argv[:300]:
                    self.playbooks_seen.add(argv.replace(b"\0", b" ").decode("utf-8", "replace"))
                if any(n in argv for n in self.needles):
                    self.hits.append(argv.replace(b"\0", b" ")[:300])
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(5)


def files_containing(root, needles):
    """(files under ``root`` containing a needle, set of every file read)."""
    raw = [n.encode() for n in needles]
    hits, scanned = [], set()
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except (IOError, OSError):
                continue
            scanned.add(path)
            if any(n in data for n in raw):
                hits.append(path)
    return hits, scanned


def test_the_searches_find_what_is_there(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "db.sqlite").write_bytes(b"\0\1" + CANARY.encode() + b"\2")
    (tmp_path / "a" / "clean.log").write_bytes(b"nothing to see")
    hits, scanned = files_containing(str(tmp_path), [CANARY])
    assert hits == [str(tmp_path / "a" / "db.sqlite")]
    assert scanned == {str(tmp_path / "a" / "db.sqlite"), str(tmp_path / "a" / "clean.log")}
    sampler = ArgvSampler([CANARY])
    sampler.start()
    # (Not ``sleep 60 CANARY``: sleep rejects the extra operand and exits at once.)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", CANARY])
    try:
        # Deterministic: several whole samples taken while the process is alive, one of them a hit.
        first = sampler.samples
        wait_for(lambda: proc.poll() is None and sampler.samples >= first + 3 and sampler.hits, 30,
                 what="three samples of /proc with the planted argv")
    finally:
        proc.kill()
        proc.wait()
        sampler.stop()
    assert proc.returncode == -9  # it was alive during every sample counted above
    assert any(CANARY.encode() in h for h in sampler.hits), sampler.hits


def _registered_names():
    """Every variable the roles and the lock task files register (what a later task could print or keep)."""
    names = set()
    for base in (os.path.join(ROOT, "roles"), os.path.join(ROOT, "playbooks", "tasks")):
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.endswith(".yml"):
                    with open(os.path.join(dirpath, name)) as fh:
                        names.update(re.findall(r"^\s*register:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$", fh.read(), re.M))
    return sorted(names)


def _site_then_dump(tmp_path, dump_dir):
    """site.yml, then a play in the same run that writes each host's registered results to a JSON file.

    Registered values live only inside one ansible-playbook run, and a task with ``no_log`` hides its
    result from callbacks but not from its register: so they are read here, after the rollout.
    """
    names = _registered_names()
    content = "{{ {%s} | to_nice_json }}" % ", ".join("%r: %s | default(none)" % (n, n) for n in names)
    playbook = tmp_path / "site-and-dump.yml"
    playbook.write_text(yaml.safe_dump([
        {"name": "Roll out", "ansible.builtin.import_playbook": os.path.join(ROOT, "site.yml")},
        {"name": "Dump the registered results", "hosts": "nemoclaw", "gather_facts": False, "tasks": [
            {"name": "Write them", "ansible.builtin.copy": {
                "dest": os.path.join(dump_dir, "{{ inventory_hostname }}.json"), "content": content, "mode": "0600"},
             "delegate_to": "localhost"}]},
    ], sort_keys=False))
    return str(playbook), names


def archive_members(root):
    """{archive path: {member name: bytes}} of every backup archive under ``root``."""
    out = {}
    for base, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".tar.gz"):
                path = os.path.join(base, name)
                with tarfile.open(path) as tar:
                    out[path] = dict((m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile())
    return out


def test_no_secret_anywhere(tmp_path):
    fleet = make_fleet(tmp_path / "fleet", 1)
    host_vars = dict((name, {"nemoclaw_secrets": SECRETS, "openshell_gateway_env": GATEWAY_ENV,
                             "ansible_remote_tmp": os.path.join(fleet.workdir, "remote-tmp", name)})
                     for name in fleet.hosts)
    reports = str(tmp_path / "reports")
    vault_files, vault_password = _vault_files(tmp_path)
    sampler = ArgvSampler(NEEDLES)
    sampler.start()
    steps = []

    def run(label, playbook, canary, **kwargs):
        # The drift_report callback of ansible.cfg as well as the recorder (playrunner enables only the latter).
        env = {"CANARY_VAULT_FILE": vault_files[canary], "ANSIBLE_VAULT_PASSWORD_FILE": vault_password,
               "GATEWAY_VAULT_FILE": vault_files[GW_CANARY], "AUDIT_CONTROLLER_TOKEN": ENV_CANARY,
               "DRIFT_REPORT_DIR": os.path.join(reports, label),
               "ANSIBLE_CALLBACKS_ENABLED": "record_results,agentfleet.nemoclaw.drift_report"}
        step = fleet.run_site(playbook, verbosity=4, diff=True, host_vars=host_vars, env=env, **kwargs)
        steps.append((label, step))
        return step

    dump_dir = tmp_path / "registered"
    dump_dir.mkdir()
    site_and_dump, registered = _site_then_dump(tmp_path, str(dump_dir))
    try:
        step = run("site", site_and_dump, CANARY)
        assert step.rc == 0, step.stdout[-4000:]
        fleet.first.ok("sandbox", "exec", "--name", "openclaw", "--", "sh", "-c", PLANT)
        step = run("replace", "site.yml", CANARY, extra_vars={"nemoclaw_agents": REPLACED})
        assert step.rc == 0, step.stdout[-4000:]
        replaced = step.result("Converge the agents of the host")["agents"]["openclaw"]
        assert replaced["replace"] is True and replaced["backup"], replaced
        step = run("drift", "playbooks/drift.yml", ROTATED, extra_vars={"nemoclaw_agents": REPLACED})
        assert step.rc == 0, step.stdout[-4000:]
        step = run("check", "site.yml", ROTATED, check=True, extra_vars={"nemoclaw_agents": REPLACED})
        assert step.rc == 0, step.stdout[-4000:]
        # the rotated value is drift of the provider, seen by both
        assert step.result("Converge the agents of the host")["providers"]["nvidia-inference"]["changed"] is True
        credential_keys = [k for p in fleet.first.json("provider", "list", "-o", "json")
                           for k in p.get("credential_keys") or []]
    finally:
        sampler.stop()
        fleet.stop()

    sim = fleet.first
    # The value did flow through the product: the gateway holds the salted digest of the canary (the
    # simulator never stores a credential value), so the zero hits below are not for lack of a secret.
    with open(sim.db_path, "rb") as fh:
        db = fh.read()
    assert any(cred_digest(key, CANARY).encode() in db for key in credential_keys), credential_keys
    found = []
    for label, step in steps:
        if "planted-credential" in step.stdout or "planted-credential" in repr(step.results):
            found.append("%s: a planted credential file's content in the output or results" % label)
        for secret in NEEDLES:
            if secret in step.stdout:
                found.append("%s: stdout/stderr" % label)
            if secret in repr(step.results):
                found.append("%s: recorded results (diffs, registered values)" % label)
            if any(secret in " ".join(c["argv"]) for c in step.calls):
                found.append("%s: simulator call log argv" % label)
    hits, scanned = files_containing(str(tmp_path), NEEDLES)
    # The gateway's environment file is where its secret belongs (0600), holding only that canary.
    gateway_env = [h for h in hits if os.path.basename(h) == "gateway.env"]
    assert len(gateway_env) == 1, hits
    assert oct(os.stat(gateway_env[0]).st_mode & 0o777) == "0o600"
    with open(gateway_env[0]) as fh:
        text = fh.read()
    assert 'AUDIT_GATEWAY_DB_PASSWORD="%s"' % GW_CANARY in text and CANARY not in text and ENV_CANARY not in text
    found += ["file %s" % h for h in hits if h not in gateway_env]
    # Backup archives are compressed: their members are searched one by one.
    archives = archive_members(os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "backups"))
    found += ["archive %s member %s" % (a, m) for a, members in archives.items() for m, data in members.items()
              if any(n.encode() in data for n in NEEDLES)]
    found += ["argv %r" % h for h in sampler.hits]
    assert found == [], "\n".join(found)

    # The replacement's backup holds the agent's files, and none of the credential files planted beside them.
    assert len(archives) == 1, sorted(archives)
    members = list(archives.values())[0]
    names = sorted(m[2:] if m.startswith("./") else m for m in members)
    assert ".openclaw/memory.md" in names, names
    assert [n for n in names if os.path.basename(n) in PLANTED] == [], names
    assert all(b"planted-credential" not in data for data in members.values())

    # The audit reached every place a secret could land (so the zero hits above mean something).
    # The registered results of the first rollout were dumped and scanned; agents_result, whose module
    # received the canary for the provider it created, among them.
    dumps = sorted(str(p) for p in dump_dir.iterdir())
    assert dumps and "agents_result" in registered and "preflight_result" in registered
    with open(dumps[0]) as fh:
        dumped = json.load(fh)
    assert dumped["agents_result"]["providers"]["nvidia-inference"]["action"] == "create", dumped["agents_result"]
    assert dumped["agents_result"]["changed"] is True
    # The returned facts were there to scan: the preflight's allow-listed environment, without the controller's token.
    facts_env = dumped["preflight_result"]["ansible_facts"]["env"]
    assert facts_env.get("HOME") and "AUDIT_CONTROLLER_TOKEN" not in facts_env, sorted(facts_env)
    # The gateway's environment was written by the first run, its diff showing the key and no value.
    assert "AUDIT_GATEWAY_DB_PASSWORD=<hidden>" in steps[0][1].stdout
    must = dumps + [sim.db_path, sim.env["OPENSHELL_SIM_CALL_LOG"], os.path.join(sim.root, "gateway.log"),
                    os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "providers.json")]
    step_dirs = [os.path.join(fleet.workdir, "step%03d" % (i + 1)) for i in range(len(steps))]
    must += [os.path.join(d, "results.jsonl") for d in step_dirs]
    missed = [path for path in must if path not in scanned]
    assert missed == [], "not scanned (missing or unreadable): %s" % missed
    for label, _step in steps:
        if label == "drift":
            report_dir = os.path.join(reports, label)
            assert any(p.startswith(report_dir + os.sep) for p in scanned), "no %s report was scanned" % label
    # The sampler watched every run: each run's ansible-playbook was seen in /proc.
    unseen = [d for d in step_dirs if not any(d + os.sep in argv for argv in sampler.playbooks_seen)]
    assert unseen == [], "runs the argv sampler never saw: %s" % unseen
