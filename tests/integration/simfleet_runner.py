# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""A ``scripts/simfleet`` fleet for the integration tests: up, playbook runs, per-host calls, down.

The fleet's own inventory (``DIR/inventory.yml``) is used as users use it; a test changes a host's
desired state by writing ``DIR/host_vars/<host>.yml`` (Ansible loads host_vars next to the
inventory), and a fault by writing ``DIR/<host>/faults.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from playrunner import ROOT, Step, ansible_playbook, command_words, invalid_calls, read_calls  # noqa: E402  pylint: disable=wrong-import-position

SIMFLEET = os.path.join(ROOT, "scripts", "simfleet")
STATE = os.path.join("home", ".local", "state", "agentfleet-nemoclaw")


class SimFleet(object):
    def __init__(self, workdir, hosts=1, version=None):
        self.dir = str(workdir)
        self.version = version  # the OpenShell version the simulated hosts speak (None: the simulator's default)
        cmd = [SIMFLEET, "up", self.dir, "--hosts", str(hosts)]
        if version:
            cmd += ["--openshell-version", version]
        subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHON=sys.executable))
        with open(os.path.join(self.dir, "fleet.json")) as fh:
            self.state = json.load(fh)
        self.hosts = ["sim-%d" % (i + 1) for i in range(hosts)]
        self.inventory = os.path.join(self.dir, "inventory.yml")
        self._n = 0

    # ------------------------------------------------------------------ hosts
    def root(self, host):
        return os.path.join(self.dir, host)

    def env(self, host):
        with open(self.inventory) as fh:
            inv = yaml.safe_load(fh)
        return dict(inv["all"]["children"]["nemoclaw"]["hosts"][host]["nemoclaw_environment"])

    def openshell(self, host, *args, data=None, check=True):
        env = dict(os.environ)
        env.update(self.env(host))
        return subprocess.run(["openshell"] + list(args), env=env, input=data, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, check=check)

    def sh(self, host, script, sandbox="openclaw"):
        """Run ``script`` inside ``sandbox`` on ``host`` (workdir: the agent home)."""
        return self.openshell(host, "sandbox", "exec", "--name", sandbox, "--no-tty", "--", "sh", "-c", script).stdout

    def sandbox(self, host, name="openclaw"):
        proc = self.openshell(host, "sandbox", "get", name, "-o", "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def calls(self, host):
        return read_calls(os.path.join(self.root(host), "calls.jsonl"))

    def faults(self, host, doc):
        with open(os.path.join(self.root(host), "faults.json"), "w") as fh:
            json.dump(doc, fh)

    def set_vars(self, host, variables):
        """Host variables of ``host`` (``None``: remove them), in ``DIR/host_vars/<host>.yml``."""
        write_vars(self.dir, "host_vars", host, variables)

    def state_dir(self, host):
        return os.path.join(self.root(host), STATE)

    def applied(self, host):
        path = os.path.join(self.state_dir(host), "applied", "openshell.json")
        if not os.path.exists(path):
            return {}
        with open(path) as fh:
            return json.load(fh).get("agents") or {}

    # ------------------------------------------------------------------ runs
    def _step_dir(self):
        self._n += 1
        path = os.path.join(self.dir, "steps", "step%03d" % self._n)
        os.makedirs(path)
        return path

    def run(self, playbook="site.yml", check=False, diff=True, extra_vars=None, limit=None, verbosity=0, env=None,
            timeout=600):
        """Run a playbook of the repository on the fleet; a Step with the calls each host logged."""
        before = dict((h, len(self.calls(h))) for h in self.hosts)
        step_dir = self._step_dir()
        rc, out, results = ansible_playbook(self.inventory, os.path.join(ROOT, playbook), step_dir,
                                            os.path.join(self.dir, "ansible-home"), check=check, diff=diff,
                                            extra_vars=extra_vars, limit=limit, verbosity=verbosity, env=env,
                                            timeout=timeout)
        calls = []
        for host in self.hosts:
            calls.extend(dict(c, host=host) for c in self.calls(host)[before[host]:])
        return Step(rc, out, results, calls)

    def start(self, playbook="site.yml", extra_vars=None):
        """Start a playbook run in its own process group; returns the Popen (see ``kill``)."""
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", self.inventory,
               os.path.join(ROOT, playbook)]
        for key, value in (extra_vars or {}).items():
            cmd += ["-e", json.dumps({key: value})]
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
                   ANSIBLE_HOME=os.path.join(self.dir, "ansible-home"),
                   ANSIBLE_LOCAL_TEMP=os.path.join(self._step_dir(), "tmp"))
        log = open(os.path.join(self.dir, "killed-run.log"), "ab")
        try:
            return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def kill_after(self, proc, host, words, timeout=300):
        """SIGKILL ``proc``'s process group as soon as ``host`` logged a call starting with ``words``."""
        seen = len(self.calls(host))
        deadline = time.time() + timeout
        while time.time() < deadline:
            for call in self.calls(host)[seen:]:
                if command_words(call["argv"])[:len(words)] == tuple(words):
                    kill_tree(proc)
                    return call
            if proc.poll() is not None:
                raise AssertionError("the run ended (rc %s) before %s called %s" % (proc.returncode, host, " ".join(words)))
            time.sleep(0.02)
        kill_tree(proc)
        raise AssertionError("%s did not call %s within %ss" % (host, " ".join(words), timeout))

    # ------------------------------------------------------------------ end
    def invalid_calls(self):
        """Calls the CLI grammar of the fleet's OpenShell version rejects, on every host; a missing contract
        or call log is an error, not a pass."""
        found = []
        for host in self.hosts:
            log = os.path.join(self.root(host), "calls.jsonl")
            assert os.path.exists(log), "%s logged no call (%s)" % (host, log)
            found.extend(invalid_calls(log, self.version))
        return found

    def down(self):
        subprocess.run([SIMFLEET, "down", self.dir], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def write_vars(directory, kind, name, variables):
    """``directory/<kind>/<name>.yml`` (host_vars or group_vars next to an inventory); ``None`` removes it."""
    path = os.path.join(directory, kind, name + ".yml")
    if variables is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        yaml.safe_dump(variables, fh)


def process_tree(top):
    """``top`` and every process below it (from /proc), the top first."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (IOError, OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [top]
    while todo:
        pid = todo.pop(0)
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def kill_tree(proc):
    """SIGKILL ``proc`` and every process below it, as a job controller kills a run's cgroup.

    Ansible's workers call setsid, so the process group alone would leave them (and the module a
    worker runs on a local host) alive to finish the step.
    """
    for pid in process_tree(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    proc.wait(timeout=60)


def agent_results(step, host):
    """The result of the task that converged the host's agents: site.yml's quick path, or the agents role's
    task when the host needed the roles (it runs after the quick path's ``host_base_needed``)."""
    return step.result("Converge the agents of the host", host)
