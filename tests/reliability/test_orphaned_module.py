# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""ansible-playbook killed by its pid alone while its module replaces a sandbox: the module goes on
(nothing kills it), and the next run waits for it instead of working on the same sandbox at once.

A converged host, with a file in its agent's home, gets a new desired state (an ``env`` entry: the
sandbox is replaced). Every ``openshell`` call is slowed down (fault ``latency_ms``). As soon as the
replacement's ``sandbox delete`` is logged, only the ansible-playbook process is SIGKILLed: its worker
and the module go on, the module finishing the replacement alone. A second ``site.yml`` started at once
takes over the killed run's lease and then waits in ``nemoclaw_apply`` (statefile.Working on
``apply.busy``) until the orphaned module has ended, and says so; the file in the agent's home
survives, and the second run converges.
"""

from __future__ import annotations

import os
import signal

import pytest

from reltools import Background, command_words, converged_fleet, main_pid, playbook_pids, read_lease, wait_for

NEW_STATE = {"nemoclaw_agents": [{"name": "openclaw", "agent": "openclaw", "env": {"ORPHAN_GENERATION": "2"}}]}
MEMORY = "mkdir -p .openclaw && echo kept > .openclaw/memory.md"
APPLY = "Converge the agents of the host"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with converged_fleet(tmp_path_factory.mktemp("orphan"), 1) as f:
        f.hosts["host1"].ok("sandbox", "exec", "--name", "openclaw", "--", "sh", "-c", MEMORY)
        yield f


def test_the_next_run_waits_for_a_module_its_killed_run_left_working(fleet):
    sim = fleet.hosts["host1"]
    seen = len(sim.calls())
    marker = os.path.join(fleet.workdir, "step%03d" % (fleet._n + 1))  # pylint: disable=protected-access
    sim.set_faults({"latency_ms": 700})
    run = Background(fleet.run_site, "site.yml", host_vars={"host1": NEW_STATE})
    try:
        pid = main_pid(marker)
        wait_for(lambda: any(command_words(c["argv"])[:2] == ("sandbox", "delete") for c in sim.calls()[seen:]),
                 300, interval=0.02, what="the replacement's sandbox delete")
        os.kill(pid, signal.SIGKILL)  # ansible-playbook only: its worker and the module are spared
        killed = run.result(timeout=60)
        assert killed.rc == -signal.SIGKILL, killed.rc
        assert (read_lease(sim) or {}).get("pid") == pid
        # The module is still at work: the replacement is not finished yet.
        assert not any(command_words(c["argv"])[:2] == ("sandbox", "create") for c in sim.calls()[seen:])

        rerun = fleet.run_site("site.yml", host_vars={"host1": NEW_STATE})
    finally:
        sim.set_faults({})
        for victim in playbook_pids(marker):  # the killed run's worker, blocked on its dead parent
            try:
                os.kill(victim, signal.SIGKILL)
            except OSError:
                pass
    assert rerun.rc == 0, rerun.stdout[-4000:]
    applied = [r["result"] for r in rerun.results if r["task"].endswith(APPLY) and not r["result"].get("host_base_needed")]
    assert applied, [r["task"] for r in rerun.results]
    warnings = " ".join(w for r in applied for w in r.get("warnings") or [])
    assert "waited" in warnings and "for another nemoclaw_apply" in warnings, warnings
    # The orphaned module finished the replacement (one create, with the new environment), the rerun changed nothing.
    creates = [c["argv"] for c in sim.calls()[seen:] if command_words(c["argv"])[:2] == ("sandbox", "create")]
    assert len(creates) == 1 and "ORPHAN_GENERATION=2" in creates[0], creates
    assert not any(r.get("changed") for r in applied), applied
    memory = sim.ok("sandbox", "exec", "--name", "openclaw", "--", "sh", "-c", "cat .openclaw/memory.md").stdout
    assert memory == "kept\n"
    assert read_lease(sim) is None
