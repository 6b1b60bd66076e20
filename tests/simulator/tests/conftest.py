import os
import sys
import tempfile

from harness import sim_python  # on sys.path through tests/simulator/conftest.py

HERE = os.path.dirname(os.path.abspath(__file__))
# sim_host / sim_hosts come from tests/simulator/conftest.py

CONTRACTS = os.path.abspath(os.path.join(HERE, "..", "..", "contract"))  # tests/contract: the CLI contracts


def pytest_configure(config):
    # One directory for the call logs of all xdist workers (workers inherit the environment).
    if not hasattr(config, "workerinput") and not os.environ.get("OPENSHELL_SIM_TEST_LOGDIR"):
        os.environ["OPENSHELL_SIM_TEST_LOGDIR"] = tempfile.mkdtemp(prefix="openshell-sim-calls-")
    # CLI calls made without a SimHost too run on harness.sim_python() (fast start-up, proves stdlib-only).
    if sim_python():
        os.environ["OPENSHELL_SIM_PYTHON"] = sim_python()


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
    """After all workers are done, check the complete call log against the contracts (each call by the version
    the simulator spoke): exit 2 exactly where the real CLI's grammar rejects."""
    if hasattr(session.config, "workerinput"):
        return
    import json
    sys.path.insert(0, CONTRACTS)
    import openshell_contract  # a missing contract fails the session, it never passes unchecked
    lines = collect_calls()
    if not lines:
        return
    invalid = {l.split(" ", 1)[1].rsplit("]: ", 1)[0] + "]" for l in openshell_contract.invalid_in_log(lines)}
    rc2 = {json.dumps(json.loads(l)["argv"]) for l in lines if json.loads(l)["rc"] == 2}
    if invalid != rc2:
        sys.stderr.write("\nopenshell simulator: exit-2 calls differ from the contracts' invalid calls:\n"
                         "  only rc2: %s\n  only invalid: %s\n" % (sorted(rc2 - invalid), sorted(invalid - rc2)))
        session.exitstatus = 1
