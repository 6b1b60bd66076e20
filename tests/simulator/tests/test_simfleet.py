"""scripts/simfleet: a simulated fleet with an Ansible inventory (up, status, down)."""
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SIMFLEET = os.path.join(ROOT, "scripts", "simfleet")
ANSIBLE_INVENTORY = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")


def simfleet(*argv):
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run([SIMFLEET] + [str(a) for a in argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)


def gone(pid):
    """The process is gone (or a zombie nobody reaped yet)."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def in_env(env_file, command):
    return subprocess.run(["bash", "-c", ". %s && %s" % (env_file, command)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)


def test_up_status_down(tmp_path):
    fleet_dir = tmp_path / "fleet"
    try:
        res = simfleet("up", fleet_dir, "--hosts", 2, "--openshell-version", "0.0.116", "--profile", "pull")
        assert res.returncode == 0, res.stderr
        state = json.loads((fleet_dir / "fleet.json").read_text())
        assert [h["name"] for h in state["hosts"]] == ["sim-1", "sim-2"]
        assert state["version"] == "0.0.116" and state["ready_delay"] == 30
        assert len({h["port"] for h in state["hosts"]}) == 2

        inv = yaml.safe_load((fleet_dir / "inventory.yml").read_text())
        group = inv["all"]["children"]["nemoclaw"]
        assert group["vars"]["nemoclaw_agents"] == [{"name": "openclaw", "agent": "openclaw"}]
        assert group["vars"]["nemoclaw_secrets"] == {"NVIDIA_INFERENCE_API_KEY": "nvapi-SIMFLEET-0000-not-a-real-key"}
        sim2 = group["hosts"]["sim-2"]
        assert sim2["ansible_connection"] == "local"
        assert sim2["openshell_version"] == "0.0.116"
        assert sim2["openshell_gateway_port"] == state["hosts"][1]["port"]
        assert sim2["nemoclaw_environment"]["OPENSHELL_SIM_CALL_LOG"] == str(fleet_dir / "sim-2" / "calls.jsonl")
        assert "sandbox_name" not in sim2 and "nemoclaw_secrets" not in sim2

        listed = subprocess.run([ANSIBLE_INVENTORY, "-i", str(fleet_dir / "inventory.yml"), "--list"], cwd=ROOT,
                                env=dict(os.environ, ANSIBLE_HOME=str(tmp_path / "ansible-home")),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                                check=False)
        assert listed.returncode == 0, listed.stderr
        groups = json.loads(listed.stdout)
        assert sorted(groups["nemoclaw"]["hosts"]) == ["sim-1", "sim-2"]
        assert groups["canary"]["hosts"] == ["sim-1"]

        env_file = fleet_dir / "sim-2" / "openshell.env"
        text = env_file.read_text()
        assert "export OPENSHELL_SIM_FAULTS=%s\n" % (fleet_dir / "sim-2" / "faults.json") in text
        assert "export OPENSHELL_SIM_READY_DELAY=30\n" in text
        call_log = fleet_dir / "sim-2" / "calls.jsonl"
        before = call_log.read_text().splitlines()
        res = in_env(env_file, "openshell sandbox list -o json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == []
        after = call_log.read_text().splitlines()
        assert len(after) == len(before) + 1
        assert json.loads(after[-1])["argv"] == ["sandbox", "list", "-o", "json"]
        assert in_env(env_file, "openshell --version").stdout.split() == ["openshell", "0.0.116"]

        res = simfleet("status", fleet_dir)
        assert res.returncode == 0, res.stderr
        lines = [line.split() for line in res.stdout.splitlines()]
        assert [(cols[0], int(cols[1]), int(cols[2]), cols[3]) for cols in lines] == [
            (h["name"], h["port"], h["pid"], "running") for h in state["hosts"]]

        res = simfleet("up", fleet_dir, "--hosts", 2)
        assert res.returncode == 1 and "already runs" in res.stderr and len(res.stderr.splitlines()) == 1
    finally:
        res = simfleet("down", fleet_dir)
    assert res.returncode == 0, res.stderr
    assert all(gone(h["pid"]) for h in state["hosts"])
    assert simfleet("down", fleet_dir).returncode == 0
    assert [line.split()[-1] for line in simfleet("status", fleet_dir).stdout.splitlines()] == ["stopped", "stopped"]
    assert call_log.exists()


def test_usage_and_failures(tmp_path):
    assert simfleet("up", tmp_path).returncode == 2                       # --hosts missing
    assert simfleet("up", tmp_path, "--hosts", 0).returncode == 2
    assert simfleet("up", tmp_path, "--hosts", 1, "--profile", "pull", "--ready-delay", 1).returncode == 2
    assert simfleet("frobnicate").returncode == 2
    for command in ("up", "down", "status"):
        res = simfleet(command, "--help")
        assert res.returncode == 0 and res.stdout.startswith("usage: simfleet %s" % command)
    res = simfleet("status", tmp_path)
    assert res.returncode == 1 and res.stderr.startswith("simfleet: no simulated fleet in")
    assert len(res.stderr.splitlines()) == 1
    assert not os.listdir(str(tmp_path))
