import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# sim_host / sim_hosts come from tests/simulator/conftest.py

CHECK_ARGV = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", "shared", "openshell", "check_argv.py"))


def pytest_configure(config):
    # One directory for the call logs of all xdist workers (workers inherit the environment).
    if not hasattr(config, "workerinput") and not os.environ.get("OPENSHELL_SIM_TEST_LOGDIR"):
        os.environ["OPENSHELL_SIM_TEST_LOGDIR"] = tempfile.mkdtemp(prefix="openshell-sim-calls-")
    # Run CLI calls with a plain system interpreter when available (fast start-up, proves stdlib-only);
    # version managers' shims (pyenv) add ~90 ms per call.
    if not os.environ.get("OPENSHELL_SIM_PYTHON") and os.path.exists("/usr/bin/python3"):
        os.environ["OPENSHELL_SIM_PYTHON"] = "/usr/bin/python3"


def collect_calls():
    d = os.environ.get("OPENSHELL_SIM_TEST_LOGDIR")
    calls = []
    if d and os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            if f.startswith("calls-") and f.endswith(".jsonl"):
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    calls.extend(line for line in fh if line.strip())
    return calls


def pytest_sessionfinish(session, exitstatus):
    """After all workers are done, re-check the complete call log against check_argv.py."""
    if hasattr(session.config, "workerinput") or not os.path.isfile(CHECK_ARGV):
        return
    import json
    lines = collect_calls()
    if not lines:
        return
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(lines))
    res = subprocess.run([sys.executable, CHECK_ARGV, path], stdout=subprocess.PIPE, universal_newlines=True, check=False)
    invalid = {l.split(" ", 1)[1].rsplit("]: ", 1)[0] + "]" for l in res.stdout.splitlines() if l.startswith("INVALID ")}
    rc2 = {json.dumps(json.loads(l)["argv"]) for l in lines if json.loads(l)["rc"] == 2}
    if invalid != rc2:
        sys.stderr.write("\nopenshell simulator: exit-2 calls differ from check_argv.py invalid calls:\n"
                         "  only rc2: %s\n  only invalid: %s\n" % (sorted(rc2 - invalid), sorted(invalid - rc2)))
        session.exitstatus = 1
