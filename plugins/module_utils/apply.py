# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Apply a host's plan (``plan.py``): read OpenShell once, compare, act in dependency order.

:class:`Applier` converges every agent of one host through the ``openshell`` client:

1. finish what a killed run left (the replacement journal: a backup that was not restored yet);
2. read: the CLI version (gated against every agent's blueprint), providers, the inference route,
   each planned sandbox (its policy comes with it) and the attachments of the sandboxes that stay;
3. decide, with the pure functions of ``compare``/``policy``, per provider, route and agent; an
   agent that must be replaced with ``on_replace: refuse`` fails the run here, before any write;
4. unless in check mode, act: providers, the route, then per agent (replacement with backup and
   restore, attachments, lifecycle, approval mode, the running policy), then health commands.

A replacement with ``on_replace: preserve`` is journalled on the host
(``<state_dir>/journal/<gateway>/<agent>.json``): backed up → deleting → deleted → created →
restored → done. The backup is written (0600 in a 0700 directory) and its manifest of paths and
checksums recorded before the delete; a run that dies after that is finished by the next one,
which restores the backup before it does anything else with that agent. Backup contents never
enter the result.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import time

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import agentconfig, compare
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import openshell_versions
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.agentconfig import AGENT_HOME
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.openshell import POLICY_LOAD_HINT, OpenShellError, PolicyLoadFailed
from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.statefile import StateFile, write_atomic

SECRET_CHANGED = "<changed>"
SPEC_FIELDS = ("image", "cpu", "memory", "gpu", "env", "restart_policy")
JOURNAL_STEPS = ("backed_up", "deleting", "deleted", "created", "restored")
# Restores go through `sandbox exec` standard input, which the CLI caps at 4 MiB: base64 in chunks below it.
RESTORE_CHUNK = 3 * 1024 * 1024
_TAR_RC = "agentfleet-tar-rc="
# Archives of a running agent made before one reads every file unchanged (tar's status 0).
BACKUP_ATTEMPTS = 3
# Archive the existing paths among "$@" (relative to the agent home), patterns to leave out on
# standard input; tar's exit status goes to stderr (POSIX sh has no pipefail).
BACKUP_SCRIPT = (
    'n=$#; for p in "$@"; do if [ -e "$p" ]; then set -- "$@" "$p"; fi; done; shift "$n"; '
    'if [ "$#" -eq 0 ]; then set -- --files-from=/dev/null; fi; '
    '{ tar -czf - -X /dev/stdin "$@"; echo "' + _TAR_RC + '$?" >&2; } | base64'
)
RESTORE_APPEND = 'cat >> "$1"'
RESTORE_SCRIPT = 'base64 -d < "$1" | tar -xzf - && rm -f "$1"'
# Once a restore has run, the agent owns its files: a file of the backup that is missing is extracted again, one that
# exists is never replaced (-k: GNU and BusyBox tar keep existing files; GNU reports them, so its status is not
# judged here: the check that follows counts what is still missing).
RESTORE_MISSING_SCRIPT = 'base64 -d < "$1" | tar -xzkf - 2>/dev/null; rm -f "$1"'
RESTORE_TMP = "./.agentfleet-restore.b64"
# The agent's configuration file (path relative to the agent home as "$1"): read (nothing when it
# does not exist), and written whole from standard input through a rename (never a half-written file).
CONFIG_READ_SCRIPT = 'if [ -f "$1" ]; then cat -- "$1"; fi'
CONFIG_WRITE_SCRIPT = ('umask 077 && mkdir -p -- "$(dirname -- "$1")" && cat > "$1.agentfleet-new" '
                       '&& mv -f -- "$1.agentfleet-new" "$1"')
CONFIG_MAX_BYTES = 1024 * 1024
HEALTH_STATUS_MAX_BYTES = 64 * 1024


class ApplyError(OpenShellError):
    """A step of the apply failed; the message names the agent and the step."""


class RefusedError(ValueError):
    """The plan cannot be applied as asked (``on_replace: refuse``, a version gate): nothing was changed."""


# --------------------------------------------------------------------------
# Pure decisions
# --------------------------------------------------------------------------

def spec_of(sandbox):
    """The fields of a planned sandbox that OpenShell fixes at creation (``restart_policy`` only when set,
    so the records of sandboxes without one read as before)."""
    return dict((k, sandbox.get(k)) for k in SPEC_FIELDS if k != "restart_policy" or sandbox.get(k))


def _show(value):
    """A value as one line of a diff. Values read from the sandbox (the agent's own configuration) are the agent's
    to write: control characters are shown escaped, so none can move the operator's terminal or start a line."""
    if value is None or value is False:
        return "none" if value is None else "false"
    if value is True:
        return "true"
    text = str(value)
    if any(not c.isprintable() for c in text):
        text = "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)
    return text


def spec_differences(before, after):
    """``[{"field", "before", "after"}]`` of two sandbox specs; env compared key by key."""
    out = []
    for field in SPEC_FIELDS:
        if field == "env":
            b, a = before.get("env") or {}, after.get("env") or {}
            for key in sorted(set(b) | set(a)):
                if b.get(key) != a.get(key):
                    out.append({"field": "env.%s" % key, "before": b.get(key), "after": a.get(key)})
        elif (before.get(field) or None) != (after.get(field) or None):
            out.append({"field": field, "before": before.get(field), "after": after.get(field)})
    return out


def label_differences(current_labels, desired_labels):
    cur = compare.user_labels(current_labels)
    want = dict((k, str(v)) for k, v in (desired_labels or {}).items())
    return [{"field": "labels.%s" % k, "before": cur.get(k), "after": want.get(k)}
            for k in sorted(set(cur) | set(want)) if cur.get(k) != want.get(k)]


def replacement_reasons(current, agent, record, static_problems=()):
    """Why the sandbox of ``agent`` must be replaced: a list of differences (empty: it stays).

    The fields OpenShell does not report back (image, resources, env) are compared with the
    host's record of what was applied when its fingerprint still matches the sandbox's
    ``agentfleet.nemoclaw/spec`` label; otherwise the label alone tells that they changed.
    """
    sandbox = agent["sandbox"]
    labels = current.get("labels") or {}
    recorded = labels.get(compare.LABEL_SPEC)
    desired_fp = compare.sandbox_spec_fingerprint(sandbox)
    out = []
    if recorded is None:
        out.append({"field": "spec", "before": "unknown (no %s label: not created by this collection)" % compare.LABEL_SPEC,
                    "after": desired_fp})
    elif recorded != desired_fp:
        if record and record.get("fingerprint") == recorded and record.get("spec"):
            out.extend(spec_differences(record["spec"], spec_of(sandbox)))
        if not out:
            out.append({"field": "spec", "before": "fingerprint %s (image, gpu, cpu, memory, env or restart_policy; no record of the values)" % recorded,
                        "after": "fingerprint %s" % desired_fp})
    out.extend(label_differences(labels, sandbox.get("labels")))
    out.extend({"field": "policy (static)", "before": None, "after": p} for p in static_problems)
    if current.get("phase") == "Error":
        out.append({"field": "phase", "before": compare.phase_text(current), "after": "Ready"})
    if agent.get("recreate"):
        out.append({"field": "recreate", "before": None, "after": True})
    return out


def lifecycle_action(phase, state):
    """``start``/``stop`` needed to reach ``state`` from ``phase`` (``Completed`` counts as stopped)."""
    if phase == "Completed":
        phase = "Stopped"
    return compare.phase_action(phase, state)


def check_versions(version, agents):
    """Refuse before any write when the host's OpenShell is outside an agent's blueprint range, outside what
    the collection's CLI contracts cover, or lacks an option an agent sets (``restart_policy``)."""
    for agent in agents:
        gate = agent.get("openshell") or {}
        try:
            openshell_versions.check_version_gate(version, gate.get("min"), gate.get("max"), "openshell_version")
        except openshell_versions.VersionGateError as exc:
            raise RefusedError("%s: blueprint %s %s supports OpenShell %s to %s; this host has %s (%s)"
                               % (agent["path"], agent["blueprint"]["name"], agent["blueprint"]["version"],
                                  gate.get("min") or "any", gate.get("max") or "any", version, exc.reason))
    if not agents:
        return
    try:
        openshell_versions.check_covered(version)
        for agent in agents:
            openshell_versions.check_restart_policy(version, (agent.get("sandbox") or {}).get("restart_policy"),
                                                    "%s.restart_policy" % agent["path"])
    except openshell_versions.UnsupportedVersion as exc:
        raise RefusedError(str(exc))


def manifest_of(archive_bytes):
    """``{path: sha256}`` of the regular files of a tar.gz (paths without a leading ``./``)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            name = member.name[2:] if member.name.startswith("./") else member.name
            fh = tar.extractfile(member)
            digest = hashlib.sha256()
            # In pieces: the agent writes these files, and a file of zeros packs small and unpacks large.
            for piece in iter(lambda: fh.read(1 << 20), b""):  # pylint: disable=cell-var-from-loop
                digest.update(piece)
            out[name] = digest.hexdigest()
    return out


def manifest_problems(expected, actual):
    """Paths of ``expected`` that are missing from or differ in ``actual``."""
    missing = sorted(p for p in expected if p not in actual)
    differ = sorted(p for p in expected if p in actual and actual[p] != expected[p])
    return missing, differ


def relative_paths(paths):
    """Backup paths below the agent home as ``./x`` arguments (never an option to tar)."""
    out = []
    for path in paths:
        rel = path[len(AGENT_HOME):].lstrip("/")
        out.append("./" + rel if rel else ".")
    return out


# --------------------------------------------------------------------------
# Host-side records: what was applied, the replacement journal, backups
# --------------------------------------------------------------------------

def _slug(text):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text or "default"))


class HostRecords(object):
    """Files under ``state_dir``: ``applied/<gateway>.json``, ``journal/<gateway>/<agent>.json``, ``backups/``."""

    def __init__(self, state_dir, gateway, readonly):
        self.root = os.path.expanduser(state_dir)
        self.gateway = _slug(gateway)
        self.readonly = readonly

    @property
    def applied_path(self):
        return os.path.join(self.root, "applied", self.gateway + ".json")

    def journal_dir(self):
        return os.path.join(self.root, "journal", self.gateway)

    def backup_dir(self, agent):
        return os.path.join(self.root, "backups", self.gateway, _slug(agent))

    def applied(self):
        with StateFile(self.applied_path, readonly=True) as sf:
            return (sf.read().get("agents") or {})

    def record_applied(self, name, entry):
        with StateFile(self.applied_path) as sf:
            data = sf.read()
            agents = data.setdefault("agents", {})
            if entry is None:
                agents.pop(name, None)
            else:
                previous = agents.get(name)
                if previous and previous.get("plan_digest") != entry.get("plan_digest"):
                    entry["previous"] = dict((k, v) for k, v in previous.items() if k != "previous")
                elif previous and previous.get("previous"):
                    entry["previous"] = previous["previous"]
                agents[name] = entry
            sf.write(data)

    def journals(self):
        out = {}
        directory = self.journal_dir()
        if not os.path.isdir(directory):
            return out
        for fname in sorted(os.listdir(directory)):
            if not fname.endswith(".json"):
                continue
            path = os.path.join(directory, fname)
            # A journal the apply cannot read may be the only trace of a backup still to restore: the run stops
            # and names it rather than going on as if no replacement had been under way.
            try:
                with open(path) as fh:
                    doc = json.load(fh)
            except (IOError, OSError, ValueError) as exc:
                raise ApplyError("the journal %s cannot be read (%s); it records a replacement under way: restore its "
                                 "backup by hand, then remove the journal" % (path, exc))
            if not (isinstance(doc, dict) and isinstance(doc.get("agent"), str) and doc.get("step") in JOURNAL_STEPS
                    and fname == _slug(doc["agent"]) + ".json" and self._own_backup(doc["agent"], doc.get("backup"))):
                raise ApplyError("the journal %s is not one this collection wrote (its agent, step, file name or backup "
                                 "is not one of its own); it records a replacement under way: restore its backup by "
                                 "hand, then remove the journal" % path)
            out[doc["agent"]] = doc
        return out

    def _own_backup(self, agent, backup):
        """Whether ``backup`` is a backup file of ``agent`` in this state_dir (a journal names nothing else)."""
        if not isinstance(backup, str) or not backup.endswith(".tar.gz"):
            return False
        directory = os.path.realpath(self.backup_dir(agent))
        return os.path.dirname(os.path.realpath(backup)) == directory

    def write_journal(self, doc):
        directory = self.journal_dir()
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        doc = dict(doc, updated_at=time.time())
        write_atomic(os.path.join(directory, _slug(doc["agent"]) + ".json"), json.dumps(doc, indent=2, sort_keys=True) + "\n")

    def close_journal(self, agent):
        path = os.path.join(self.journal_dir(), _slug(agent) + ".json")
        if os.path.exists(path):
            os.unlink(path)

    def save_backup(self, agent, archive, manifest, reason):
        directory = self.backup_dir(agent)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        os.chmod(directory, 0o700)
        now = time.time()  # one reading: the name sorts as the backups were made
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + "-%06d" % (int(now * 1e6) % 1000000)
        base = os.path.join(directory, "%s-%s" % (stamp, _slug(reason)))
        fd = os.open(base + ".tar.gz", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(archive)
            fh.flush()
            os.fsync(fh.fileno())
        write_atomic(base + ".manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        return base + ".tar.gz"

    def prune_backups(self, agent, keep, protect=()):
        """Remove all but the ``keep`` newest backups made for a replacement. The backup of a removal (``-remove``)
        is the only copy of an agent that is gone, and is never pruned here."""
        directory = self.backup_dir(agent)
        if not os.path.isdir(directory):
            return []
        archives = sorted(f for f in os.listdir(directory) if f.endswith("-replace.tar.gz"))
        removed = []
        for fname in archives[:-keep] if keep > 0 else archives:
            full = os.path.join(directory, fname)
            if full in protect:
                continue
            os.unlink(full)
            manifest = full[:-len(".tar.gz")] + ".manifest.json"
            if os.path.exists(manifest):
                os.unlink(manifest)
            removed.append(full)
        return removed


def records_for(client, state_dir, readonly=False):
    """The host records of the gateway ``client`` targets."""
    return HostRecords(state_dir, client.gateway or client.gateway_endpoint or "active", readonly=readonly)


def load_manifest(archive_path):
    with open(archive_path[:-len(".tar.gz")] + ".manifest.json") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------
# The applier
# --------------------------------------------------------------------------

class Applier(object):
    """Converge one host to ``plan``. ``secrets``: values by ``nemoclaw_secrets`` name (never returned)."""

    def __init__(self, client, plan, secrets, check_mode=False, state_dir="~/.local/state/agentfleet-nemoclaw",
                 provider_state_file=None, write_temp_json=None, warn=None, update_credentials="on_change",
                 wait_timeout=300, policy_wait_timeout=60, health_timeout=60, exec_timeout=600, gate=False,
                 health_required=True, sleep=time.sleep, records=None, provider_state=None):
        self.client = client
        self.plan = plan
        self.secrets = secrets or {}
        self.check_mode = check_mode
        # records / provider_state: what the host's files hold when they were read elsewhere (check mode on the
        # controller, plugin_utils/readback.py); by default the files themselves.
        self.records = records or records_for(client, state_dir, readonly=check_mode)
        self.provider_state_file = provider_state_file or os.path.join(os.path.expanduser(state_dir), "providers.json")
        self._provider_state = provider_state
        self.write_temp_json = write_temp_json
        self.warn = warn or (lambda msg: None)
        self.update_credentials = update_credentials
        self.wait_timeout = wait_timeout
        self.policy_wait_timeout = policy_wait_timeout
        self.health_timeout = health_timeout
        self.exec_timeout = exec_timeout
        self.gate = gate
        self.health_required = health_required
        self.sleep = sleep
        self.result = {"changed": False, "agents": {}, "providers": {}, "inference": {}, "resumed": [], "failures": []}

    # -- entry point ------------------------------------------------------
    def run(self):
        started = time.time()
        try:
            return self._run()
        finally:
            self.result["seconds"] = round(time.time() - started, 2)

    def _run(self):
        agents = self.plan.get("agents") or []
        present = [a for a in agents if a["state"] != "absent"]
        version = self.client.running_version()
        self.result["openshell_version"] = version
        check_versions(version, present)
        journals = self.records.journals()
        planned = dict((a["name"], a) for a in agents)
        for name in sorted(journals):
            self._resume(journals[name], planned.get(name))

        current = dict((a["name"], self.client.sandbox_get(a["name"])) for a in agents)
        if not self.check_mode:
            # A sandbox still starting (a gateway just restarted, a create of a killed run) is awaited, not judged.
            for name, obj in current.items():
                if obj is not None and obj.get("phase") in ("Provisioning", "Starting") and planned[name]["state"] != "absent":
                    current[name] = self._poll(name, lambda o: o is None or o.get("phase") not in ("Provisioning", "Starting"))
        records = self.records.applied()
        decisions = [self._decide(a, current[a["name"]], records.get(a["name"])) for a in agents]
        for d in decisions:
            before = (records.get(d["agent"]["name"]) or {}).get("blueprint")
            d["from"] = "%s %s" % (before["name"], before["version"]) if before else None
        refused = [d for d in decisions if d["refused"]]
        if refused:
            raise RefusedError("; ".join(
                "%s.on_replace is refuse and sandbox %s must be replaced: %s" % (
                    d["agent"]["path"], d["agent"]["name"], ", ".join(x["field"] for x in d["differences"]))
                for d in refused))
        blocked = [d for d in decisions if d["blocked"]]
        if blocked:
            # What the gateway manages globally cannot be changed per sandbox: refused before any change.
            raise RefusedError("; ".join("%s (sandbox %s): %s" % (d["agent"]["path"], d["agent"]["name"], reason)
                                         for d in blocked for reason in d["blocked"]))
        for d in decisions:
            self._decide_config(d, records.get(d["agent"]["name"]))
        provider_steps = self._decide_providers()
        route_step = self._decide_route()

        self._act_providers(provider_steps)
        self._act_route(route_step)
        for decision in decisions:
            self._act_agent(decision)
        self._verify_agents(decisions)
        self.result["changed"] = bool(
            any(r["changed"] for r in self.result["agents"].values())
            or any(r["changed"] for r in self.result["providers"].values())
            or self.result["inference"].get("changed") or self.result["resumed"])
        if self.result["failures"]:
            raise ApplyError("; ".join(self.result["failures"]))
        return self.result

    # -- resume -------------------------------------------------------------
    def _resume(self, journal, agent):
        name = journal["agent"]
        current = self.client.sandbox_get(name)
        step = journal["step"]
        old = current is not None and current.get("id") == journal.get("old_id")
        if step == "backed_up" or (step == "deleting" and old and current.get("phase") in ("Ready", "Stopped", "Completed")):
            # Nothing was deleted: the sandbox still holds the agent's state.
            if not self.check_mode:
                self.records.close_journal(name)
            return
        entry = {"agent": name, "backup": journal["backup"], "step": step}
        self.result["resumed"].append(entry)
        if agent is None or agent["state"] == "absent":
            self.warn("agent %s: a replacement left unfinished restored nothing, because the agent is no longer "
                      "planned on this host; its backup is kept at %s" % (name, journal["backup"]))
            entry["action"] = "kept backup"
            if not self.check_mode:
                self.records.close_journal(name)
            return
        entry["action"] = "restore"
        if self.check_mode:
            return
        if old or (current is not None and current.get("phase") == "Deleting"):
            # The old sandbox in another phase (Deleting, Stopping, Unknown) after its delete was sent: it is going.
            current = self._wait_gone(name)
        if current is None:
            self._create(agent)
            self.records.write_journal(dict(journal, step="created"))
        self._wait_ready(name)
        if step != "restored":
            self._restore(agent, journal["backup"])
            self.records.write_journal(dict(journal, step="restored"))
        # At "restored" the restore has run and the agent may have written since: nothing is extracted over it.
        entry["restored"] = self._settle_restore(agent, journal["backup"])
        self.records.close_journal(name)

    # -- decisions ----------------------------------------------------------
    def _decide(self, agent, current, record):
        d = {"agent": agent, "current": current, "actions": [], "differences": [], "replace": False,
             "refused": False, "policy": None, "blocked": []}
        name = agent["name"]
        if agent["state"] == "absent":
            if current is not None:
                d["actions"] = (["backup"] if agent["on_replace"] != "discard" else []) + ["delete"]
                d["differences"] = [{"field": "state", "before": current.get("phase"), "after": "absent"}]
            return d
        if current is None:
            d["actions"] = ["create"] + (["stop"] if agent["state"] == "stopped" else [])
            d["differences"] = [{"field": "state", "before": "absent", "after": agent["state"]}]
            return d
        pol = compare.policylib()
        desired_policy = pol.normalize_policy(agent["policy"])
        current_policy = pol.normalize_policy(current.get("policy") or {"version": 1})
        static_problems = pol.static_violations(current_policy, desired_policy, canonical=True)
        reasons = replacement_reasons(current, agent, record, static_problems)
        if reasons:
            d["differences"] = reasons
            d["replace"] = True
            if agent["on_replace"] == "refuse":
                d["refused"] = True
                return d
            backup = agent["on_replace"] == "preserve"
            d["actions"] = (["backup"] if backup else []) + ["delete", "create"] + (["restore"] if backup else []) \
                + (["stop"] if agent["state"] == "stopped" else [])
            return d
        attached = self.client.sandbox_providers(name)
        attach, detach = compare.provider_attachment_changes(attached, agent["sandbox"]["providers"])
        d["actions"] += ["attach:%s" % x for x in attach] + ["detach:%s" % x for x in detach]
        d["differences"] += [{"field": "providers", "before": sorted(attached), "after": agent["sandbox"]["providers"]}] \
            if attach or detach else []
        step = lifecycle_action(current.get("phase"), agent["state"])
        if step:
            d["actions"].append(step)
            d["differences"].append({"field": "phase", "before": current.get("phase"),
                                     "after": "Ready" if step == "start" else "Stopped"})
        mode = agent["sandbox"].get("approval_mode")
        settings = self.client.settings_get(name) if mode else None
        if mode and compare.approval_mode_differs(settings, mode):
            d["actions"].append("approval_mode")
            d["differences"].append({"field": "approval_mode", "before": None, "after": mode})
            if compare.setting_scope(settings, "proposal_approval_mode") == "global":
                d["blocked"].append("approval_mode: the gateway sets proposal_approval_mode globally, and OpenShell "
                                    "refuses it per sandbox then (remove the global setting with `openshell settings "
                                    "delete --global --key proposal_approval_mode --yes`, or drop approval_mode)")
        policy = compare.sandbox_policy_plan(current_policy, desired_policy, canonical=True)
        if policy["changed"] and current.get("policy_source") == "global":
            d["blocked"].append("policy: the gateway's global policy is in force for every sandbox, and OpenShell "
                                "refuses a sandbox policy then (remove it with `openshell policy delete --global --yes`, "
                                "or make it this agent's policy)")
        # A latest revision that failed to load is not in effect: apply it again (issue 19).
        latest, loaded = current.get("revision"), current.get("current_policy_version")
        failure = self.client.policy_load_failure(name, latest, loaded) \
            if current.get("policy_source", "sandbox") == "sandbox" and latest and loaded is not None and latest != loaded else None
        if policy["changed"] or failure:
            d["actions"].append("policy")
            d["policy"] = dict(policy, load_failed=failure)
            d["differences"].extend(policy_fields(policy["policy_diff"]))
            if failure and not policy["changed"]:
                d["differences"].append({"field": "policy (revision %s)" % failure["version"],
                                         "before": "failed to load: %s" % failure["load_error"], "after": "loaded"})
        return d

    def _decide_providers(self):
        steps = []
        providers = self.plan.get("providers") or []
        if not providers:
            return steps
        current = dict((p.get("name"), p) for p in self.client.provider_list())
        if self._provider_state is not None:
            data = self._provider_state()
        else:
            with StateFile(self.provider_state_file, readonly=True) as sf:
                data = sf.read()
        for prov in providers:
            credentials = self._credential_values(prov)
            desired = {"name": prov["name"], "type": prov["type"], "credential_keys": sorted(credentials),
                       "config": prov["config"]}
            key = compare.provider_state_key(self.client.gateway, self.client.gateway_endpoint, self.client.workspace,
                                             prov["name"])
            record = (data.get("providers") or {}).get(key)
            fingerprints = compare.provider_fingerprints(data["salt"], prov["type"], credentials, prov["config"])
            decision = compare.provider_plan(current.get(prov["name"]), desired, record, fingerprints,
                                             self.update_credentials)
            steps.append({"provider": prov, "credentials": credentials, "decision": decision, "key": key})
        return steps

    def _credential_values(self, prov):
        out = {}
        for cred in prov["credentials"]:
            out[cred["key"]] = self.secrets[cred["env"]] if cred["source"] == "given" else str(cred.get("default"))
        return out

    def _decide_route(self):
        want = self.plan.get("inference")
        if not want:
            return None
        current = self.client.inference_get().get("user")
        diffs = compare.inference_differences(current, want["provider"], want["model"], want.get("timeout_secs"))
        return {"want": want, "current": current, "differences": diffs}

    # -- actions ------------------------------------------------------------
    def _act_providers(self, steps):
        if not steps:
            return
        state_data = None
        sf = None if self.check_mode else StateFile(self.provider_state_file)
        try:
            if sf is not None:
                sf.__enter__()
                state_data = sf.read()
            for step in steps:
                prov, decision = step["provider"], step["decision"]
                out = {"changed": decision["write"], "action": decision["action"], "reasons": decision["reasons"],
                       "credentials": dict((k, SECRET_CHANGED) for k in decision["changed_keys"])}
                self.result["providers"][prov["name"]] = out
                if not decision["write"] or self.check_mode:
                    continue
                creds = step["credentials"]
                if decision["action"] == "create":
                    self.client.provider_create(prov["name"], prov["type"], creds, prov["config"])
                elif decision["action"] == "type_conflict":
                    raise ApplyError("provider %s exists with another type (%s); OpenShell cannot change a provider's "
                                     "type: delete it or use another name" % (prov["name"], "; ".join(decision["reasons"])))
                else:
                    self.client.provider_update(prov["name"], dict((k, creds[k]) for k in decision["changed_keys"]),
                                                prov["config"], decision["removed_keys"])
                now = self.client.provider_find(prov["name"])
                salt = state_data["salt"]
                state_data.setdefault("providers", {})[step["key"]] = {
                    "fingerprints": compare.provider_fingerprints(salt, prov["type"], creds, prov["config"]),
                    "resource_version": (now or {}).get("resource_version"),
                    "type": prov["type"],
                }
                sf.write(state_data)
        finally:
            if sf is not None:
                sf.__exit__(None, None, None)

    def _act_route(self, step):
        if step is None:
            return
        want = step["want"]
        out = {"changed": bool(step["differences"]), "route": "inference.local",
               "differences": [{"field": f, "before": (step["current"] or {}).get(f if f != "timeout" else "timeout"),
                                "after": want.get("timeout_secs") if f == "timeout" else want.get(f)}
                               for f in step["differences"] if f != "absent"]}
        if "absent" in step["differences"]:
            out["differences"] = [{"field": "route", "before": None, "after": "%s/%s" % (want["provider"], want["model"])}]
        self.result["inference"] = out
        if out["changed"] and not self.check_mode:
            self.client.inference_set(want["provider"], want["model"], timeout=want.get("timeout_secs"))

    def _act_agent(self, d):
        agent = d["agent"]
        name = agent["name"]
        out = {"changed": bool(d["actions"]), "actions": list(d["actions"]), "differences": d["differences"],
               "replace": d["replace"], "state": agent["state"]}
        if agent.get("blueprint"):
            out["blueprint"] = "%s %s" % (agent["blueprint"]["name"], agent["blueprint"]["version"])
        if d.get("from"):
            out["from"] = d["from"]
        self.result["agents"][name] = out
        if self.check_mode:
            return
        try:
            if agent["state"] == "absent":
                if d["actions"]:
                    if "backup" in d["actions"]:
                        out["backup"] = self._backup_current(agent, d["current"], "remove")
                    self.client.sandbox_delete(name)
                    # Gone before the task ends: a provider it used can be deleted next (decommission).
                    self._wait_gone(name)
                    self.records.record_applied(name, None)
                return
            if "create" in d["actions"] and d["replace"]:
                self._replace(agent, d, out)
            elif "create" in d["actions"]:
                self._create(agent)
            for action in d["actions"]:
                if action.startswith("attach:"):
                    self.client.sandbox_provider_attach(name, action.split(":", 1)[1])
                elif action.startswith("detach:"):
                    self.client.sandbox_provider_detach(name, action.split(":", 1)[1])
                elif action == "start":
                    self.client.sandbox_start(name)
                elif action == "stop":
                    self.client.sandbox_stop(name)
                elif action == "approval_mode":
                    self.client.settings_set(name, "proposal_approval_mode", agent["sandbox"]["approval_mode"])
                elif action == "policy":
                    path = self.write_temp_json("policy-%s.json" % name, d["policy"]["merged"])
                    applied = self.client.policy_set(name, path, wait=agent["state"] == "running",
                                                     timeout=self.policy_wait_timeout)
                    failed = d["policy"].get("load_failed")
                    if failed and not applied.get("changed", True):
                        raise PolicyLoadFailed("policy version %s failed to load: %s" % (
                            failed["version"], failed["load_error"]), hint=POLICY_LOAD_HINT)
                    out["policy_version"] = applied.get("version")
            if "config" in d["actions"]:
                self._act_config(d, out)
            if d["actions"] or d.get("config_state") or not self._recorded(name, agent):
                self._record(agent, d.get("config_state"))
        except OpenShellError as exc:
            out["failed"] = True
            # The task's message names the agent (once: the apply's own errors already start with it); the CLI's own
            # text stays in stderr.
            prefix = "agent %s: " % name
            if not exc.message.startswith(prefix):
                exc.message = prefix + exc.message
            self.result["failures"].append(exc.message)
            raise

    def _recorded(self, name, agent):
        return (self.records.applied().get(name) or {}).get("plan_digest") == agent["plan_digest"]

    def _record(self, agent, config_state=None):
        obj = self.client.sandbox_get(agent["name"]) or {}
        entry = {
            "plan_digest": agent["plan_digest"], "spec": spec_of(agent["sandbox"]),
            "fingerprint": compare.sandbox_spec_fingerprint(agent["sandbox"]), "sandbox_id": obj.get("id"),
            "blueprint": agent["blueprint"], "applied_at": time.time(), "agent": agent,
        }
        # What the collection last wrote into the agent's configuration file: keys it stops managing are
        # removed from the file next time; unchanged while the file was not reconciled (a stopped agent).
        config_state = config_state or (self.records.applied().get(agent["name"]) or {}).get("config")
        if config_state:
            entry["config"] = config_state
        self.records.record_applied(agent["name"], entry)

    # -- the agent's configuration file ---------------------------------------
    def _decide_config(self, d, record):
        """Whether the agent's configuration file needs a write; reads it only when what the collection
        manages in it changed since the last write (or the sandbox is new or replaced)."""
        agent = d["agent"]
        last = (record or {}).get("config") or {}
        if agent.get("config") is None and last.get("managed") and agent.get("agent") in agentconfig.CONFIG_FILES:
            # The entry no longer asks for any of it: what the collection wrote last is removed.
            agent["config"] = agentconfig.config_file(agent["agent"], {})
        want = agent.get("config")
        if not want or agent["state"] != "running" or d["refused"] or not (want["managed"] or last.get("managed")):
            return
        d["config_previous"] = last.get("managed")
        current = d["current"]
        if current is None or d["replace"]:
            d["actions"].append("config")
            return
        if last.get("digest") == want["digest"] and (record or {}).get("sandbox_id") in (None, current.get("id")):
            return
        if current.get("phase") != "Ready":
            d["actions"].append("config")  # read once it runs
            return
        before, after = self._reconciled(agent, d["config_previous"])
        d["config_read"] = (before, after)
        if after != before:
            d["actions"].append("config")
            d["differences"].extend(agentconfig.config_differences(before, after))
        else:
            d["config_state"] = {"digest": want["digest"], "managed": want["managed"]}

    def _reconciled(self, agent, previous):
        """``(current, new)`` content of the agent's configuration file."""
        want = agent["config"]
        rel = "./" + want["path"][len(AGENT_HOME):].lstrip("/")
        rc, out, err = self.client.sandbox_exec(agent["name"], ["sh", "-c", CONFIG_READ_SCRIPT, "sh", rel],
                                                workdir=AGENT_HOME, timeout=self.exec_timeout)
        if rc != 0:
            raise ApplyError("agent %s: reading %s failed inside the sandbox (exit %s): %s"
                             % (agent["name"], want["path"], rc, (err or "").strip()[-300:]))
        try:
            before = agentconfig.parse_document(out, want["format"])
        except ValueError as exc:
            raise ApplyError("agent %s: %s %s; it was left as it is: fix or remove it, and run again"
                             % (agent["name"], want["path"], exc))
        return before, agentconfig.reconcile(before, want["managed"], previous)

    def _act_config(self, d, out):
        agent = d["agent"]
        want = agent["config"]
        if not d.get("config_read"):
            self._wait_ready(agent["name"])  # just started, created or restored
        before, after = d.get("config_read") or self._reconciled(agent, d.get("config_previous"))
        if after != before:
            if "create" in d["actions"]:
                out["differences"] = out["differences"] + agentconfig.config_differences(before, after)
            text = agentconfig.dump_document(after)
            if len(text.encode("utf-8")) > CONFIG_MAX_BYTES:
                raise ApplyError("agent %s: %s would be larger than %d bytes; nothing was written"
                                 % (agent["name"], want["path"], CONFIG_MAX_BYTES))
            rel = "./" + want["path"][len(AGENT_HOME):].lstrip("/")
            self._exec_ok(agent, ["sh", "-c", CONFIG_WRITE_SCRIPT, "sh", rel], "writing %s" % want["path"], data=text)
        out["config"] = {"path": want["path"], "written": after != before}
        d["config_state"] = {"digest": want["digest"], "managed": want["managed"]}

    def _create(self, agent):
        sandbox = agent["sandbox"]
        policy_file = self.write_temp_json("create-%s.json" % agent["name"], agent["policy"])
        spec = dict(sandbox, labels=compare.sandbox_labels(sandbox))
        # The CLI waits for Ready within OPENSHELL_PROVISION_TIMEOUT (the client's timeout): bound it by
        # wait_timeout, so an image that never becomes Ready fails the agent in that time.
        saved, self.client.timeout = self.client.timeout, max(1, int(self.wait_timeout))
        try:
            self.client.sandbox_create(spec, policy_file)
        finally:
            self.client.timeout = saved
        if agent["state"] == "stopped":
            self._wait_ready(agent["name"])
            self.client.sandbox_stop(agent["name"])

    def _replace(self, agent, d, out):
        name = agent["name"]
        current = d["current"]
        journal = None
        if "backup" in d["actions"]:
            archive = self._backup_current(agent, current, "replace")
            out["backup"] = archive
            journal = {"agent": name, "backup": archive, "old_id": current.get("id"), "step": "backed_up",
                       "plan_digest": agent["plan_digest"]}
            self.records.write_journal(journal)
            self.records.write_journal(dict(journal, step="deleting"))
        self.client.sandbox_delete(name)
        self._wait_gone(name)
        if journal:
            self.records.write_journal(dict(journal, step="deleted"))
        self._create(dict(agent, state="running"))
        if journal:
            self.records.write_journal(dict(journal, step="created"))
            self._wait_ready(name)
            self._restore(agent, archive)
            self.records.write_journal(dict(journal, step="restored"))
            out["restored"] = self._settle_restore(agent, archive)
            self.records.close_journal(name)
            self.records.prune_backups(name, agent["backup"]["keep"])
        d["actions"] = [a for a in d["actions"] if a != "stop"] + (["stop"] if agent["state"] == "stopped" else [])

    # -- backup / restore ---------------------------------------------------
    def _archive(self, agent, attempts=1):
        """Archive the agent's backup paths inside the sandbox; returns the tar.gz bytes.

        The agent keeps running while it is archived: tar's status 1 says a file changed as it was read, so the
        archive may hold that file mid-write. Up to ``attempts`` archives are made until one reads every file
        unchanged; when none does, the last is kept and a warning says so."""
        bk = agent["backup"]
        for attempt in range(1, attempts + 1):
            rc, out, err = self.client.sandbox_exec(
                agent["name"], ["sh", "-c", BACKUP_SCRIPT, "sh"] + relative_paths(bk["paths"]), workdir=AGENT_HOME,
                timeout=self._backup_timeout(agent), data="".join(p + "\n" for p in bk["exclude"]))
            tar_rc = None
            for line in (err or "").splitlines():
                if line.startswith(_TAR_RC):
                    tar_rc = line[len(_TAR_RC):].strip()
            if rc != 0 or tar_rc not in ("0", "1"):
                detail = [ln for ln in (err or "").splitlines() if not ln.startswith(_TAR_RC)]
                raise ApplyError("agent %s: backup of %s failed inside the sandbox (exit %s, tar %s)%s; nothing was "
                                 "deleted" % (agent["name"], ", ".join(bk["paths"]), rc, tar_rc,
                                              ": " + detail[-1][:300] if detail else ""))
            if tar_rc == "0":
                break
            if attempt == attempts and attempts > 1:
                self.warn("agent %s: files of %s changed while they were archived, in each of %d attempts; the backup "
                          "keeps the last attempt, where such a file may be caught mid-write" % (
                              agent["name"], ", ".join(bk["paths"]), attempts))
        try:
            return base64.b64decode("".join(out.split()), validate=True)
        except (ValueError, TypeError):
            raise ApplyError("agent %s: the backup read from the sandbox is not valid base64; nothing was deleted" % agent["name"])

    def _backup_current(self, agent, current, reason):
        name = agent["name"]
        if current.get("phase") in ("Stopped", "Completed"):
            self.client.sandbox_start(name)
            self._wait_ready(name)
        elif current.get("phase") != "Ready":
            raise ApplyError("agent %s: cannot back up a sandbox in phase %s, so it was not replaced; set on_replace: "
                             "discard in %s to replace it without a backup" % (name, current.get("phase"), agent["path"]))
        archive = self._archive(agent, attempts=BACKUP_ATTEMPTS)
        try:
            manifest = manifest_of(archive)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ApplyError("agent %s: the backup is not a readable archive (%s); nothing was deleted" % (name, exc))
        return self.records.save_backup(name, archive, manifest, reason)

    def _restore(self, agent, archive_path, keep_existing=False):
        with open(archive_path, "rb") as fh:
            encoded = base64.b64encode(fh.read()).decode("ascii")
        timeout = self._backup_timeout(agent)
        self._exec_ok(agent, ["sh", "-c", 'rm -f "$1"', "sh", RESTORE_TMP], "restore", timeout=timeout)
        for start in range(0, max(len(encoded), 1), RESTORE_CHUNK):
            self._exec_ok(agent, ["sh", "-c", RESTORE_APPEND, "sh", RESTORE_TMP], "restore",
                          data=encoded[start:start + RESTORE_CHUNK], timeout=timeout)
        script = RESTORE_MISSING_SCRIPT if keep_existing else RESTORE_SCRIPT
        self._exec_ok(agent, ["sh", "-c", script, "sh", RESTORE_TMP], "restore", timeout=timeout)

    def _compare_restore(self, agent, archive_path):
        expected = load_manifest(archive_path)
        missing, differ = manifest_problems(expected, manifest_of(self._archive(agent)))
        return expected, missing, differ

    def _settle_restore(self, agent, archive_path):
        """Check a restore against the backup's manifest.

        A file that is missing is extracted again, never over a file that exists; still missing, the run fails and
        keeps the backup and the journal (the next run does the same). A file that differs was written since the
        restore (the agent runs from the moment its sandbox is Ready): it is kept as it is and named in a warning,
        and the backup keeps the restored version. Never is the backup extracted again over the agent's files.
        """
        name = agent["name"]
        expected, missing, differ = self._compare_restore(agent, archive_path)
        if missing:
            self._restore(agent, archive_path, keep_existing=True)
            expected, missing, differ = self._compare_restore(agent, archive_path)
        if missing:
            raise ApplyError("agent %s: the restore of %s did not verify: %d files missing (%s); the backup and the "
                             "journal are kept, and the next run restores the missing files again (never over a file "
                             "that exists)" % (name, archive_path, len(missing), ", ".join(missing[:5])))
        if differ:
            self.warn("agent %s: %d files changed since the restore from %s (%s): kept as the agent wrote them; the "
                      "backup has the restored version" % (name, len(differ), archive_path, ", ".join(differ[:5])))
        return {"files": len(expected), "verified": True, "changed_since_restore": differ[:20]}

    @staticmethod
    def _backup_timeout(agent):
        """Seconds a backup or restore step may take: the agent's ``backup.timeout``; absent at its default (the plan
        leaves the default out, see plan.backup_plan)."""
        return (agent.get("backup") or {}).get("timeout") or agentconfig.DEFAULT_BACKUP_TIMEOUT

    def _exec_ok(self, agent, command, what, data=None, timeout=None):
        rc, _out, err = self.client.sandbox_exec(agent["name"], command, workdir=AGENT_HOME,
                                                 timeout=timeout or self.exec_timeout, data=data)
        if rc != 0:
            raise ApplyError("agent %s: %s failed inside the sandbox (exit %s): %s"
                             % (agent["name"], what, rc, (err or "").strip()[-300:]))

    # -- waiting ------------------------------------------------------------
    def _poll(self, name, done):
        deadline = time.time() + self.wait_timeout
        obj = self.client.sandbox_get(name)
        while not done(obj) and time.time() < deadline:
            self.sleep(0.5)
            obj = self.client.sandbox_get(name)
        return obj

    def _wait_ready(self, name):
        obj = self._poll(name, lambda o: o is None or o.get("phase") in ("Ready", "Error", "Completed"))
        if obj is None or obj.get("phase") != "Ready":
            raise ApplyError("agent %s: the sandbox did not become Ready within %ss (phase: %s)"
                             % (name, self.wait_timeout, compare.phase_text(obj) if obj else "deleted"))
        return obj

    def _wait_gone(self, name):
        obj = self._poll(name, lambda o: o is None)
        if obj is not None:
            raise ApplyError("agent %s: the sandbox was not deleted within %ss (phase: %s)"
                             % (name, self.wait_timeout, obj.get("phase")))
        return None

    # -- health and gate ------------------------------------------------------
    def _verify_agents(self, decisions):
        """After a change: the blueprint's health command; with ``gate`` also the policy and the route."""
        want_route = self.plan.get("inference")
        route = None
        for d in decisions:
            agent = d["agent"]
            if self.check_mode or agent["state"] != "running" or not d["actions"]:
                continue
            health_rc, output = None, ""
            if agent.get("health_command"):
                health_rc, out, err = self.client.sandbox_exec(agent["name"], agent["health_command"],
                                                               timeout=self.health_timeout)
                output = (err or out or "")
                report = {"rc": health_rc, "command": agent["health_command"]}
                try:
                    # The agent answers; a status is shown as it parsed only while it is small.
                    if len(out or "") > HEALTH_STATUS_MAX_BYTES:
                        raise ValueError("too large")
                    report["status"] = json.loads(out)
                except ValueError:
                    report["output"] = _show((out or "").strip()[-300:])
                self.result["agents"][agent["name"]]["health"] = report
            policy_info = None
            if self.gate:
                policy_info = self.client.policy_get(agent["name"], full=False) or {}
                if route is None and want_route:
                    route = self.client.inference_get().get("user") or {}
            # Imported here: the gate verdicts come with the planning code, which a no-op run does not load.
            from ansible_collections.agentfleet.nemoclaw.plugins.module_utils import rollout  # pylint: disable=import-outside-toplevel
            failed = rollout.gate_verdict(agent, health_rc, output, policy_info,
                                          route if self.gate and want_route else None,
                                          want_route if self.gate and want_route else None)
            if self.gate:
                self.result["agents"][agent["name"]]["gate"] = dict(
                    (c, "failed" if any(f["check"] == c for f in failed) else "passed") for c in rollout.GATE_CHECKS)
            failed = failed + self._check_channels(agent)
            for f in failed:
                text = "agent %s: %s check failed: %s" % (agent["name"], f["check"], f["message"])
                if f["check"] in ("health", "channel") and not self.health_required:
                    self.warn(text)
                else:
                    self.result["failures"].append(text)

    def _check_channels(self, agent):
        """Each channel's health check (its manifest's command must report the channel enabled)."""
        failed, reports = [], {}
        health = (self.result["agents"][agent["name"]].get("health") or {})
        for chan in agent.get("channels") or ():
            command = chan.get("health")
            if not command:
                continue
            key = tuple(command)
            if key not in reports:
                if list(command) == list(agent.get("health_command") or []) and "rc" in health:
                    reports[key] = (health["rc"], health.get("status"))
                else:
                    rc, out, _err = self.client.sandbox_exec(agent["name"], list(command), timeout=self.health_timeout)
                    try:
                        reports[key] = (rc, json.loads(out))
                    except ValueError:
                        reports[key] = (rc, None)
            rc, status = reports[key]
            listed = channels_reported(status)
            verdict = "enabled" if rc == 0 and chan["type"] in listed else "not reported"
            self.result["agents"][agent["name"]].setdefault("channels", {})[chan["type"]] = verdict
            if verdict != "enabled":
                failed.append({"check": "channel", "message": "%s: %s exited %s and does not report the channel enabled"
                                                              % (chan["type"], " ".join(command), rc)})
        return failed


def channels_reported(status):
    """Channel names an agent's ``health --json`` reports enabled (a list of names, or a mapping by name)."""
    chans = (status or {}).get("channels") if isinstance(status, dict) else None
    if isinstance(chans, dict):
        return sorted(k for k, v in chans.items() if v is True or (isinstance(v, dict) and v.get("enabled", True)))
    if isinstance(chans, list):
        return sorted(c for c in chans if isinstance(c, str))
    return []


def policy_fields(policy_diff):
    """``[{"field", "before", "after"}]`` of a ``policy.policy_diff`` (network policies by key)."""
    out = []
    for section in ("network_policies", "network_middlewares"):
        part = policy_diff.get(section) or {}
        for key in part.get("added") or []:
            out.append({"field": "policy.%s.%s" % (section, key), "before": None, "after": "added"})
        for key in part.get("removed") or []:
            out.append({"field": "policy.%s.%s" % (section, key), "before": "present", "after": "removed"})
        for key in part.get("changed") or []:
            out.append({"field": "policy.%s.%s" % (section, key), "before": "differs", "after": "as planned"})
    return out


def render_diff(result):
    """Ansible diffs (one per changed resource) naming every differing field; no secret."""
    diffs = []

    def add(header, differences, note=""):
        if not differences:
            return
        before = "".join("%s: %s\n" % (x["field"], _show(x["before"])) for x in differences)
        after = "".join("%s: %s\n" % (x["field"], _show(x["after"])) for x in differences)
        diffs.append({"before_header": header, "after_header": header + note, "before": before, "after": after})

    for name in sorted(result.get("providers") or {}):
        prov = result["providers"][name]
        if prov["changed"]:
            if prov["action"] == "create":
                rows = [{"field": "provider", "before": "absent", "after": "present"}]
            else:
                rows = [{"field": prov["action"], "before": "-", "after": r} for r in prov["reasons"]]
            add("provider %s" % name, rows)
    route = result.get("inference") or {}
    if route.get("changed"):
        add("inference.local route", route["differences"])
    for entry in result.get("resumed") or []:
        add("agent %s" % entry["agent"], [{"field": "unfinished replacement", "before": entry["step"],
                                           "after": "%s %s" % (entry["action"], entry["backup"])}])
    for name in sorted(result.get("agents") or {}):
        agent = result["agents"][name]
        if agent["changed"]:
            note = " (replacement: %s)" % ", ".join(a for a in agent["actions"] if a in ("backup", "delete", "create", "restore")) \
                if agent["replace"] else ""
            add("agent %s" % name, agent["differences"], note)
    return diffs


def outcome(applier, client):
    """Run ``applier``: ``(result, None)``, or ``(None, failure)``: what the task reports when the apply failed
    (the error, the calls made, and what was decided and done up to the failure)."""
    try:
        return applier.run(), None
    except (OpenShellError, RefusedError) as exc:
        partial = applier.result
        failure = exc.to_result() if isinstance(exc, OpenShellError) else {"error_kind": "refused"}
        failure.pop("cmd", None)
        failure.update(dict((k, partial[k]) for k in ("agents", "providers", "inference", "resumed", "openshell_version")
                            if k in partial))
        failure.update(msg=str(exc), changed=bool(client.mutating_calls), commands=client.call_log())
        return None, failure


def finish(result, client, plan, diff):
    """Complete an apply's ``result``: its summary, the calls made, the diff (``diff``: diff mode) and message."""
    result["summary"] = summary(result)
    result["commands"] = client.call_log()
    if diff:
        result["diff"] = render_diff(result)
    result["msg"] = "; ".join(result["summary"]) or "%d agents in their desired state" % len(plan.get("agents") or [])
    return result


def summary(result):
    """One line per changed thing, for the task's message."""
    lines = []
    for name, prov in sorted((result.get("providers") or {}).items()):
        if prov["changed"]:
            lines.append("provider %s: %s (%s)" % (name, prov["action"], "; ".join(prov["reasons"])))
    route = result.get("inference") or {}
    if route.get("changed"):
        shown = ["%s %s -> %s" % (d["field"], _show(d["before"]), _show(d["after"])) for d in route["differences"]]
        lines.append("inference.local: %s" % ", ".join(shown))
    for entry in result.get("resumed") or []:
        lines.append("agent %s: finishing an interrupted replacement (%s)" % (entry["agent"], entry["action"]))
    for name, agent in sorted((result.get("agents") or {}).items()):
        if agent["changed"]:
            what = "replace" if agent["replace"] else ", ".join(agent["actions"])
            fields = ", ".join("%s %s -> %s" % (d["field"], _show(d["before"]), _show(d["after"])) for d in agent["differences"])
            lines.append("agent %s: %s (%s)" % (name, what, fields))
    return lines
