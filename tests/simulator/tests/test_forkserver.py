"""bin/openshell through the fork server (openshell_sim/client.py, forkserver.py) behaves as the direct run."""
import json
import os
import re
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.dirname(HERE)

DIRECT = {"OPENSHELL_SIM_FORKSERVER": "0"}
# `sandbox create` prints the elapsed time of each step ("[0.2s]"), which differs between two runs on a busy machine.
ELAPSED = re.compile(r"\[\d+\.\ds\]")
POLICY = {"version": 1, "filesystem_policy": {"read_only": ["/usr"], "read_write": ["/sandbox", "/tmp"]},
          "network_policies": {}}


def server_name(python):
    """The fork server's socket name for the interpreter ``python`` (client.server_name, run by it)."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); from openshell_sim.client import server_name; print(server_name(sys.argv[1]))"
    return subprocess.run([python, "-I", "-S", "-c", code, SIM], capture_output=True, text=True, check=True).stdout.strip()


def listening(h):
    """Whether the fork server of ``h``'s interpreter is listening (its abstract socket is bound)."""
    name = server_name(h.env.get("OPENSHELL_SIM_PYTHON") or "python3")
    with open("/proc/net/unix", encoding="utf-8") as fh:
        return any(line.rstrip().endswith("@" + name) for line in fh)


def test_the_server_serves_and_its_answers_are_the_direct_runs(sim_host, tmp_path):
    h = sim_host
    (tmp_path / "p.json").write_text(json.dumps(POLICY))
    cases = [
        (["--version"], {}),
        (["sandbox", "list", "-o", "json"], {}),
        (["sandbox", "get", "nope"], {}),                       # runtime error: rc 1, miette text on stderr
        (["sandbox", "list", "--no-such-flag"], {}),            # usage error: rc 2
        (["--version"], {"OPENSHELL_SIM_VERSION": "0.1.5"}),    # the client's environment, not the server's
        (["sandbox", "create", "--name", "rel", "--policy", "p.json", "--", "true"], {}),  # the client's cwd
    ]

    def run(argv, env):
        before = len(h.calls())
        r = h.run(*argv, env=env, cwd=str(tmp_path))
        logged = [(c["argv"], c["rc"], c["version"]) for c in h.calls()[before:]]
        return (r.returncode, ELAPSED.sub("[elapsed]", r.stdout), ELAPSED.sub("[elapsed]", r.stderr), logged)

    for argv, env in cases:
        served = run(argv, env)
        if argv[:2] == ["sandbox", "create"]:
            assert served[0] == 0, served
            h.ok("sandbox", "delete", "rel")
        direct = run(argv, dict(env, **DIRECT))
        assert served == direct, argv
        assert len(served[3]) == 1 and served[3][0][2] == env.get("OPENSHELL_SIM_VERSION", "0.0.111")
    assert listening(h), "the calls above did not go through the fork server"


def test_stdin_and_umask_are_the_clients(sim_host, tmp_path):
    h = sim_host
    h.ok("sandbox", "create", "--name", "io", "--", "true")
    for env in ({}, DIRECT):
        r = h.run("sandbox", "exec", "-n", "io", "--", "cat", input="from stdin\n", env=env)
        assert (r.returncode, r.stdout) == (0, "from stdin\n"), r.stderr
    config = tmp_path / "cfg"
    for env in ({}, DIRECT):
        sub = config / env.get("OPENSHELL_SIM_FORKSERVER", "served")
        r = subprocess.run(["sh", "-c", 'umask 077 && exec "$0" gateway add "$1" --name openshell',
                            os.path.join(SIM, "bin", "openshell"), h.endpoint],
                           env=dict(h.env, XDG_CONFIG_HOME=str(sub), **env), capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        made = [os.path.join(d, f) for d, _dirs, fs in os.walk(sub) for f in fs]
        assert made and all(os.stat(p).st_mode & 0o077 == 0 for p in made), [(p, oct(os.stat(p).st_mode)) for p in made]
        assert os.stat(sub / "openshell").st_mode & 0o777 == 0o700


def test_a_killed_client_takes_its_call_with_it(sim_host):
    """As with a killed CLI process: the call stops, and it never logs a result."""
    h = sim_host
    h.ok("sandbox", "list")  # the server is up
    h.set_faults({"latency_ms": 1500})
    proc = subprocess.Popen([os.path.join(SIM, "bin", "openshell"), "provider", "list"], env=h.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2.0)
    h.set_faults({})
    assert not [c for c in h.calls() if c["argv"] == ["provider", "list"]]
    h.ok("provider", "list")
    assert [c["rc"] for c in h.calls() if c["argv"] == ["provider", "list"]] == [0]


def test_a_server_that_never_takes_the_call_leaves_it_to_the_direct_run(sim_host, tmp_path):
    """A connection a server queued as it exited is closed unanswered: the call then runs directly, once."""
    import socket  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    h = sim_host
    python = tmp_path / "python3"  # another interpreter path: another server name, this test's own
    os.symlink(os.path.realpath(h.env.get("OPENSHELL_SIM_PYTHON") or "/usr/bin/python3"), str(python))
    name = server_name(str(python))
    dummy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dummy.bind("\0" + name)
    dummy.listen(8)
    accepted = []

    def close_unanswered():
        conn, _address = dummy.accept()
        accepted.append(conn.recv(8))
        conn.close()
    thread = threading.Thread(target=close_unanswered, daemon=True)
    thread.start()
    try:
        before = len(h.calls())
        r = h.run("sandbox", "list", "-o", "json", env={"OPENSHELL_SIM_PYTHON": str(python)})
        thread.join(10)
    finally:
        dummy.close()
    assert accepted and (r.returncode, r.stdout) == (0, "[]\n"), (accepted, r.stderr)
    assert [c["argv"] for c in h.calls()[before:]] == [["sandbox", "list", "-o", "json"]]
