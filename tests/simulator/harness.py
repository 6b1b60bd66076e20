"""Test harness for the OpenShell simulator (Python 3.9+, stdlib only).

    from harness import SimHost          # with tests/simulator on sys.path
    host = SimHost(tmp_path / "h1").start()
    host.register()
    host.run("sandbox", "list", "-o", "json")
    host.stop()

Each SimHost is one simulated machine: its own gateway process (port, sqlite db),
HOME, XDG_CONFIG_HOME and XDG_STATE_HOME.
"""
import functools
import json
import os
import socket
import subprocess
import time

SIM_ROOT = os.path.dirname(os.path.abspath(__file__))
SIM_BIN = os.path.join(SIM_ROOT, "bin")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


SYSTEM_PYTHON = "/usr/bin/python3"


def sim_python():
    """Interpreter of the simulator's executables: OPENSHELL_SIM_PYTHON, else the system Python, which starts ten times
    faster than a version manager's shim (pyenv's is a bash script, ~90 ms per CLI call); None: python3 on PATH."""
    if os.environ.get("OPENSHELL_SIM_PYTHON"):
        return os.environ["OPENSHELL_SIM_PYTHON"]
    return SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else None


@functools.lru_cache(maxsize=None)
def host_python():
    """``ansible_python_interpreter`` of simulated hosts: the system Python, as on a real host, when Ansible's
    modules run on it (3.9 or newer); None when there is none (callers then use their own Python).

    A distribution's Python is built with profile-guided optimisation: it compiles a module's AnsiballZ
    payload, which every module execution does, about 40 % faster than one a version manager built.
    """
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return None
    probe = subprocess.run([SYSTEM_PYTHON, "-I", "-S", "-c", "import sys; sys.exit(sys.version_info < (3, 9))"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return SYSTEM_PYTHON if probe.returncode == 0 else None


class SimHost(object):
    def __init__(self, root_dir, port=None, call_log=None, extra_env=None, python=None):
        self.root = os.path.abspath(str(root_dir))
        self.port = port or free_port()
        self.proc = None
        self.python = python or sim_python()
        home = os.path.join(self.root, "home")
        for d in (home, os.path.join(self.root, "config"), os.path.join(self.root, "state")):
            os.makedirs(d, exist_ok=True)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("OPENSHELL_"):
                del env[k]
        env.update({
            "PATH": SIM_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(self.root, "config"),
            "XDG_STATE_HOME": os.path.join(self.root, "state"),
            "OPENSHELL_DB_URL": "sqlite:" + os.path.join(self.root, "state", "openshell", "gateway", "openshell.db"),
            "OPENSHELL_SIM_CALL_LOG": call_log or os.path.join(self.root, "calls.jsonl"),
            "OPENSHELL_SIM_FAULTS": os.path.join(self.root, "faults.json"),
            "OPENSHELL_SIM_READY_DELAY": "0.2",
            "OPENSHELL_SERVER_PORT": str(self.port),
        })
        if self.python:
            env["OPENSHELL_SIM_PYTHON"] = self.python
        if extra_env:
            env.update(extra_env)
        self.env = env

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def db_path(self):
        return self.env["OPENSHELL_DB_URL"][len("sqlite:"):]

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout=10.0):
        if self.proc is not None and self.proc.poll() is None:
            return self
        logf = open(os.path.join(self.root, "gateway.log"), "ab")
        cmd = [os.path.join(SIM_BIN, "openshell-gateway"), "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited early (rc=%s); see %s/gateway.log" % (self.proc.returncode, self.root))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.03)
        raise RuntimeError("gateway did not start listening on port %d" % self.port)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ CLI
    def run(self, *argv, **kw):
        env = dict(self.env)
        env.update(kw.pop("env", None) or {})
        inp = kw.pop("input", None)
        timeout = kw.pop("timeout", 60)
        cmd = [os.path.join(SIM_BIN, "openshell")] + [str(a) for a in argv]
        return subprocess.run(cmd, env=env, input=inp if inp is not None else "", stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout, **kw, check=False)

    def ok(self, *argv, **kw):
        r = self.run(*argv, **kw)
        if r.returncode != 0:
            raise AssertionError("openshell %s -> rc %d\nstdout: %s\nstderr: %s" % (
                " ".join(map(str, argv)), r.returncode, r.stdout, r.stderr))
        return r

    def json(self, *argv, **kw):
        return json.loads(self.ok(*argv, **kw).stdout)

    def register(self, name="openshell"):
        return self.ok("gateway", "add", self.endpoint, "--name", name)

    def calls(self):
        path = self.env["OPENSHELL_SIM_CALL_LOG"]
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def set_faults(self, faults):
        path = self.env["OPENSHELL_SIM_FAULTS"]
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(faults or {}, fh)
        os.replace(tmp, path)
        # the gateway notices via mtime+size; make sure a rewrite is always visible
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
        if faults is not None and "down" in (faults or {}) or os.path.exists(path):
            self._await_listener(bool((faults or {}).get("down")))

    def _await_listener(self, down, timeout=5.0):
        if self.proc is None:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                up = True
            except OSError:
                up = False
            if up != down:
                return
            time.sleep(0.03)
        raise RuntimeError("gateway listener did not become %s" % ("down" if down else "up"))
