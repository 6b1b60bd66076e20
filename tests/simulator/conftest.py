"""pytest fixtures for the OpenShell simulator: `sim_host` and `sim_hosts(n)`.

Other suites can use them with `pytest_plugins = ["tests.simulator.conftest"]` or by
importing `harness.SimHost` directly (add tests/simulator to sys.path).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SimHost  # noqa: E402


def _shared_log(tmp_path_factory):
    d = os.environ.get("OPENSHELL_SIM_TEST_LOGDIR")
    if not d:
        d = str(tmp_path_factory.getbasetemp())
    os.makedirs(d, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return os.path.join(d, "calls-%s.jsonl" % worker)


@pytest.fixture
def sim_host(tmp_path, tmp_path_factory):
    host = SimHost(tmp_path / "host", call_log=_shared_log(tmp_path_factory))
    host.start()
    host.register()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture
def sim_hosts(tmp_path, tmp_path_factory):
    made = []

    def factory(n):
        for i in range(n):
            h = SimHost(tmp_path / ("host%d" % (len(made) + 1)), call_log=_shared_log(tmp_path_factory))
            h.start()
            h.register()
            made.append(h)
        return made[-n:]

    try:
        yield factory
    finally:
        for h in made:
            h.stop()
