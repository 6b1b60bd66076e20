# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Run small playbooks against simulated OpenShell hosts and look at what happened.

A step of an integration test is one play. ``Fleet.run`` runs one step as one
``ansible-playbook`` run; ``Fleet.steps`` runs several steps, one play each, in
one run (each run costs Ansible's start, about a CPU second, whatever it does).
A step returns its task results (recorded by ``callback_plugins/record_results``),
its output, and the ``openshell`` calls the simulator logged during the step, so
a test can assert "zero mutating calls" from the simulator's own log,
independently of what the modules say about themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "simulator"))

from harness import SIM_BIN, SimHost, host_python  # noqa: E402  pylint: disable=wrong-import-position

# Read-only command paths of the real CLI (contract §10). Kept here, apart
# from the product's own list, so the tests judge the modules independently.
READ_ONLY = {
    ("status",), ("gateway", "list"), ("gateway", "info"), ("provider", "list"), ("provider", "get"),
    ("sandbox", "list"), ("sandbox", "get"), ("sandbox", "provider", "list"), ("policy", "get"), ("policy", "list"),
    ("rule", "get"), ("rule", "history"), ("inference", "get"), ("settings", "get"),
}
GLOBAL_WITH_VALUE = {"--gateway", "-g", "--gateway-endpoint", "--workspace"}


def require_whole_modules(config):
    """Refuse an xdist run that could split a module: its tests chain steps on one module-scoped fleet.

    ``--dist loadfile`` keeps each file on one worker. (``xdist_group`` marks are not used: with
    pytest 9.2 and pytest-xdist 3.8 they no longer reach the scheduler, and modules were split.)
    """
    if config.getoption("numprocesses", default=None) and config.getoption("dist", default="no") != "loadfile":
        raise pytest.UsageError("these suites chain steps within a module: run xdist with --dist loadfile")


# Seconds each module takes on one worker of a 2-CPU machine (measured; only their order matters).
# xdist's loadfile scheduler hands a worker its next module while the current one still runs, so a
# long module handed out last keeps one worker busy while the other idles: the longest go first.
# A module not listed weighs 0 and keeps its place after the listed ones.
MODULE_SECONDS = {
    "integration/test_versions.py": 135, "integration/test_canary.py": 140, "reliability/test_bad_input.py": 110,
    "integration/test_canary_openshell.py": 110, "integration/test_sandbox.py": 70,
    "integration/test_decommission.py": 75, "integration/test_agents.py": 100, "integration/test_site.py": 100,
    "integration/test_openshell_role.py": 95, "reliability/test_kill_and_concurrency.py": 65,
    "integration/test_gateway_inference_approval_info.py": 45, "reliability/test_faults.py": 70,
    "integration/test_approvals.py": 55, "integration/test_agent_config.py": 55, "integration/test_drift.py": 45,
    "integration/test_roles.py": 40, "integration/test_provider.py": 45, "reliability/test_trust_faults.py": 45,
    "integration/test_policy_and_failures.py": 35, "reliability/test_orphaned_module.py": 40,
    "integration/test_blueprint_plan.py": 30, "integration/test_installed.py": 25, "reliability/test_secret_audit.py": 20,
    "integration/test_secrets.py": 15, "integration/test_host_checks.py": 15, "integration/test_nemoclaw_config_fleet.py": 15,
}


def longest_modules_first(items):
    """Reorder ``items`` (in place) by ``MODULE_SECONDS`` of their module, longest first; stable otherwise."""
    def weight(item):
        path = item.nodeid.split("::")[0].replace(os.sep, "/")
        return -max([w for name, w in MODULE_SECONDS.items() if path.endswith(name)] or [0])
    items.sort(key=weight)


def command_words(argv):
    words, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in GLOBAL_WITH_VALUE:
            skip = True
            continue
        if arg.startswith("-"):
            if arg in ("--version", "-V"):
                return ("--version",)
            if words:
                break
            continue
        words.append(arg)
    return tuple(words)


def is_read_only(argv):
    words = command_words(argv)
    if words == ("--version",):
        return True
    return any(words[:n] in READ_ONLY for n in (1, 2, 3))


CHECK_ARGV = os.path.join(ROOT, "tests", "contract", "check_argv.py")
sys.path.insert(0, os.path.join(ROOT, "tests", "contract"))

import openshell_contract  # noqa: E402  pylint: disable=wrong-import-position


def invalid_calls(call_log, version=None):
    """Calls in ``call_log`` that the CLI grammar of OpenShell ``version`` rejects; [] when all parse.

    Without ``version``, each call is judged by the version the simulator logged with it. The in-repo
    contract covering that version (``tests/contract``) judges; a missing contract raises: never unchecked.
    """
    from openshell_sim import DEFAULT_VERSION  # pylint: disable=import-outside-toplevel
    if version:
        openshell_contract.covering(version)
    if not os.path.exists(call_log):
        return []
    with open(call_log) as fh:
        return openshell_contract.invalid_in_log(fh.readlines(), version, DEFAULT_VERSION)


def ansible_playbook(inventory, playbook, step_dir, ansible_home, check=False, diff=True, extra_vars=None, verbosity=0,
                     env=None, limit=None, tags=None, timeout=600, call_logs=None):
    """Run ansible-playbook with the result recorder; return ``(rc, output, results)``.

    With ``call_logs`` (``{host: path}``), ``results`` also holds one ``{"play_start", "calls"}`` entry
    per play: how many calls each host's log had when the play started (see ``Fleet.steps``)."""
    record = os.path.join(step_dir, "results.jsonl")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, playbook]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if limit:
        cmd += ["--limit", limit]
    if tags:
        cmd += ["--tags", tags]
    for key, value in (extra_vars or {}).items():
        cmd += ["-e", json.dumps({key: value})]
    run_env = dict(os.environ)
    run_env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"),
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "record_results",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(step_dir, "tmp"),
        "ANSIBLE_HOME": ansible_home,
        "RECORD_RESULTS_FILE": record,
    })
    run_env.pop("RECORD_CALL_LOGS", None)
    if call_logs:
        run_env["RECORD_CALL_LOGS"] = json.dumps(call_logs)
    run_env.update(env or {})
    proc = subprocess.run(cmd, env=run_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    results = []
    if os.path.exists(record):
        with open(record) as fh:
            results = [json.loads(line) for line in fh if line.strip()]
    return proc.returncode, proc.stdout, results


def read_calls(call_log):
    if not os.path.exists(call_log):
        return []
    with open(call_log) as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Play(object):
    """One step of ``Fleet.steps``: ``tasks`` as one play, in check mode (the play's ``check_mode``) or not;
    ``play_extra``: more play keywords (``roles``; ``vars``, which a step uses where ``run`` takes extra vars).

    The play keyword sets what a module and an action plugin see (``check_mode``, ``diff``) but not the
    ``ansible_check_mode`` variable, which follows ``--check`` only: a step whose roles or playbooks read
    that variable needs its own run (``Fleet.run(..., check=True)``)."""

    def __init__(self, tasks=(), check=False, diff=True, play_extra=None):
        self.tasks = list(tasks)
        self.check = check
        self.diff = diff
        self.play_extra = play_extra or {}


class Step(object):
    def __init__(self, rc, stdout, results, calls):
        self.rc = rc
        self.stdout = stdout
        self.results = results
        self.calls = calls

    @property
    def mutating(self):
        return [c for c in self.calls if not is_read_only(c["argv"])]

    def _of(self, task, host):
        """Results of the task named ``task`` (a role's task also by its name without the role prefix)."""
        return [r for r in self.results if (r["task"] == task or r["task"].endswith(" : " + task))
                and (host is None or r["host"] == host)]

    def result(self, task, host=None):
        """The last result of the task named ``task`` (on ``host``)."""
        found = self._of(task, host)
        if not found:
            raise AssertionError("no result for task %r; tasks seen: %s\n%s"
                                 % (task, [r["task"] for r in self.results], self.stdout[-4000:]))
        return found[-1]["result"]

    def status(self, task, host=None):
        found = self._of(task, host)
        return found[-1]["status"] if found else None

    def changed_count(self):
        return sum(1 for r in self.results if r["result"].get("changed"))


SIM_BIN = os.path.join(ROOT, "tests", "simulator", "bin")
TEST_SECRET = "nvapi-TEST-0000-fake"


def site_vars(sim):
    """Role variables that make site.yml fit a simulated host whose gateway already runs.

    The simulator is the installed OpenShell (install method ``none``) and its
    gateway is supervised by the test harness (``external``); host checks are
    sized for this machine (no engine, no network, no GPU). The desired state is one
    OpenClaw agent (``nemoclaw_agents``); tests give others with host_vars or extra_vars.
    """
    home = os.path.join(sim.root, "home")
    return {
        "preflight_compute_driver": "none",
        "preflight_min_cpus": 1,
        "preflight_min_memory_gib": 1,
        "preflight_recommended_memory_gib": 1,
        "preflight_min_memory_plus_swap_mib": 1024,
        "preflight_min_free_disk_gib": 1,
        "preflight_recommended_free_disk_gib": 1,
        "preflight_dns_hosts": [],
        "preflight_gateway_port": sim.port,
        "preflight_state_dirs": {"sim": sim.root},
        "preflight_report_dir": os.path.join(home, ".local", "state", "agentfleet-nemoclaw"),
        "gpu_required": False,
        "openshell_version": "0.0.111",
        "openshell_install_method": "none",
        "openshell_gateway_supervisor": "external",
        "openshell_gateway_port": sim.port,
        "openshell_gateway_name": "openshell",
        "openshell_path": os.path.join(SIM_BIN, "openshell"),
        "openshell_gateway_path": os.path.join(SIM_BIN, "openshell-gateway"),
        "openshell_config_dir": os.path.join(sim.root, "config", "openshell"),
        "openshell_state_dir": os.path.join(sim.root, "state", "openshell"),
        "nemoclaw_agents": [{"name": "openclaw", "agent": "openclaw"}],
        "nemoclaw_secrets": {"NVIDIA_INFERENCE_API_KEY": TEST_SECRET},
    }


def lease_path(sim):
    """The host lock's lease file of a simulated host (nemoclaw_lock's default path under its HOME)."""
    return os.path.join(sim.root, "home", ".local", "state", "agentfleet-nemoclaw", "site.lock")


def foreign_lease(sim):
    """Write a live lease of another controller's run on ``sim``; return its owner id.

    The run cannot be proven gone from here (another controller) and its lease expires only in an
    hour, so a playbook that takes the host lock must fail on ``sim`` naming it.
    """
    now = time.time()
    lease = {"format": 1, "owner": "ctl9:4242:Sat Nov 22 00:00:01 2026", "controller": "ctl9", "pid": 4242,
             "started": "Sat Nov 22 00:00:01 2026", "playbook": "Roll out NemoClaw agent sandboxes",
             "acquired_at": now, "expires_at": now + 3600, "ttl": 3600}
    os.makedirs(os.path.dirname(lease_path(sim)), mode=0o700, exist_ok=True)
    with open(lease_path(sim), "w") as fh:
        json.dump(lease, fh)
    return lease["owner"]


class Fleet(object):
    """Simulated hosts plus an inventory of them (connection local).

    ``names``: host names (default host1..host<count>). ``gateway=False``: hosts where OpenShell is
    not installed yet, for tests of the openshell role: no gateway is started, the simulator is not
    on PATH and the gateway port is left to the role's gateway.toml.
    """

    def __init__(self, workdir, count=1, python=None, names=None, gateway=True):
        self.workdir = str(workdir)
        self.hosts = {}
        self.python = python or host_python() or sys.executable
        self._n = 0
        path = os.pathsep.join(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != SIM_BIN)
        for name in names or ["host%d" % (i + 1) for i in range(count)]:
            host = SimHost(os.path.join(self.workdir, name))
            if gateway:
                host.start()
                host.register()
            else:
                host.env.pop("OPENSHELL_SERVER_PORT", None)
                host.env["PATH"] = path
            self.hosts[name] = host

    @property
    def first(self):
        return self.hosts["host1"]

    def stop(self):
        for host in self.hosts.values():
            host.stop()

    @contextlib.contextmanager
    def checked(self):
        """``with fleet.checked():`` stop the gateways at the end; then every command line any host
        logged must parse under the real CLI's grammar."""
        try:
            yield self
        finally:
            self.stop()
        assert self.invalid_calls() == []

    def invalid_calls(self):
        """Every call any host logged that the real CLI would reject (see ``invalid_calls``)."""
        found = []
        for host in self.hosts.values():
            bad = invalid_calls(host.env["OPENSHELL_SIM_CALL_LOG"])
            if bad:
                found.extend(bad)
        return found

    def inventory(self, host_vars=None):
        """All hosts in group ``nemoclaw`` (what site.yml targets); every play here also works on ``all``."""
        hosts = {}
        for name, sim in self.hosts.items():
            env = dict((k, v) for k, v in sim.env.items() if k.startswith(("XDG_", "OPENSHELL_")) or k in ("HOME", "PATH"))
            hv = {"ansible_connection": "local", "ansible_python_interpreter": self.python, "sim_env": env,
                  "sim_root": sim.root, "sim_endpoint": sim.endpoint, "nemoclaw_environment": env}
            hv.update(site_vars(sim))
            hv.update((host_vars or {}).get(name, {}))
            hosts[name] = hv
        return {"all": {"children": {"nemoclaw": {"hosts": hosts}}}}

    def run_site(self, playbook="site.yml", **kwargs):
        """Run a playbook of the repository (default site.yml) on every simulated host."""
        return self.run(playbook=os.path.join(ROOT, playbook), **kwargs)

    def _step_dir(self, host_vars):
        self._n += 1
        step_dir = os.path.join(self.workdir, "step%03d" % self._n)
        os.makedirs(step_dir)
        inv = os.path.join(step_dir, "inventory.yml")
        with open(inv, "w") as fh:
            yaml.safe_dump(self.inventory(host_vars), fh)
        return step_dir, inv

    @staticmethod
    def _play(name, tasks):
        return {"name": name, "hosts": "all", "gather_facts": False, "environment": "{{ sim_env }}", "tasks": tasks}

    def steps(self, *plays, extra_vars=None, host_vars=None, env=None, limit=None, verbosity=0, timeout=600):
        """Run ``plays`` (each a ``Play`` or a list of tasks) as one playbook of one play each, in one
        ``ansible-playbook`` run; return one ``Step`` per play.

        Each step has its own results, output (from its ``PLAY [step N]`` header) and calls (from the
        call counts at its play's start). A host that fails a play takes no part in the later ones, so
        only the last step can be one that is meant to fail. A step's ``rc`` is the run's for the last
        step; for the others, 2 if one of its tasks failed (not ignored) or a host was unreachable, else 0.
        The other options are ``run``'s, for the whole run."""
        plays = [p if isinstance(p, Play) else Play(p) for p in plays]
        step_dir, inv = self._step_dir(host_vars)
        doc = []
        for i, spec in enumerate(plays):
            play = self._play("step %d" % (i + 1), spec.tasks)
            play.update(spec.play_extra)
            play.update(check_mode=spec.check, diff=spec.diff)
            doc.append(play)
        playbook = os.path.join(step_dir, "playbook.yml")
        with open(playbook, "w") as fh:
            yaml.safe_dump(doc, fh, sort_keys=False)
        logs = dict((name, h.env["OPENSHELL_SIM_CALL_LOG"]) for name, h in self.hosts.items())
        rc, stdout, entries = ansible_playbook(inv, playbook, step_dir, os.path.join(self.workdir, "ansible-home"),
                                               diff=True, call_logs=logs, extra_vars=extra_vars, env=env,
                                               limit=limit, verbosity=verbosity, timeout=timeout)
        starts = [e for e in entries if "play_start" in e]
        if [e["play_start"] for e in starts] != [p["name"] for p in doc]:
            raise AssertionError("the run did not start every step's play: %s\n%s"
                                 % ([e["play_start"] for e in starts], stdout[-4000:]))
        calls = dict((name, h.calls()) for name, h in self.hosts.items())
        heads = [stdout.find("PLAY [%s]" % p["name"]) for p in doc] + [len(stdout)]
        if -1 in heads or heads != sorted(heads):
            raise AssertionError("the output does not show every step's play in order\n%s" % stdout[-4000:])
        out = []
        for i, play in enumerate(doc):
            results = [e for e in entries if e.get("play") == play["name"] and "task" in e]
            end = starts[i + 1]["calls"] if i + 1 < len(starts) else None
            step_calls = []
            for name, host_calls in calls.items():
                upto = len(host_calls) if end is None else end[name]
                step_calls.extend(dict(c, host=name) for c in host_calls[starts[i]["calls"][name]:upto])
            if i == len(doc) - 1:
                step_rc = rc
            else:
                step_rc = 2 if any(r["status"] == "unreachable" or (r["status"] == "failed" and not r["ignored"])
                                   for r in results) else 0
            # The first step's output also has what came before any play (warnings about the inventory).
            out.append(Step(step_rc, stdout[0 if i == 0 else heads[i]:heads[i + 1]], results, step_calls))
        return out

    def run(self, tasks=None, playbook=None, check=False, diff=True, extra_vars=None, verbosity=0, env=None,
            host_vars=None, play_extra=None, limit=None, tags=None, timeout=600):
        """Run ``tasks`` (a list of task dicts) as one play on every host, or a playbook file."""
        step_dir, inv = self._step_dir(host_vars)
        if playbook is None:
            play = self._play("step", tasks)
            play.update(play_extra or {})
            playbook = os.path.join(step_dir, "playbook.yml")
            with open(playbook, "w") as fh:
                yaml.safe_dump([play], fh, sort_keys=False)
        before = dict((name, len(h.calls())) for name, h in self.hosts.items())
        rc, stdout, results = ansible_playbook(inv, playbook, step_dir, os.path.join(self.workdir, "ansible-home"),
                                               check=check, diff=diff, extra_vars=extra_vars, verbosity=verbosity,
                                               env=env, limit=limit, tags=tags, timeout=timeout)
        calls = []
        for name, host in self.hosts.items():
            for call in host.calls()[before[name]:]:
                call = dict(call, host=name)
                calls.append(call)
        return Step(rc, stdout, results, calls)
