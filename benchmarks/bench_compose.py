# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Benchmark: compose 1,000 network policies spread over 5 layers (target < 0.5 s).

Run from anywhere: python3 benchmarks/bench_compose.py [N_POLICIES] [REPEAT]
Prints the best wall-clock time of REPEAT runs. Not a test.
"""
import importlib.util
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
NAME = "ansible_collections.agentfleet.nemoclaw.plugins.module_utils.policy"


def load_policy():
    spec = importlib.util.spec_from_file_location(NAME, os.path.join(ROOT, "plugins", "module_utils", "policy.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module


def entry(i, layer):
    return {
        "name": "svc-%d" % i,
        "endpoints": [
            {"host": "api%d.layer%d.example.com" % (i, layer), "port": 443, "protocol": "rest", "enforcement": "enforce",
             "rules": [{"allow": {"method": "GET", "path": "/**"}}, {"allow": {"method": "POST", "path": "/v1/**"}}]},
            {"host": "cdn%d.example.net" % i, "port": 443, "access": "full", "tls": "skip"},
        ],
        "binaries": [{"path": "/usr/bin/node"}, {"path": "/usr/local/bin/openclaw"}],
    }


def build_layers(total, levels=("baseline", "agent", "tier", "custom", "inventory")):
    per = total // len(levels)
    layers = []
    n = 0
    for li, level in enumerate(levels):
        nps = {}
        for _attempt in range(per):
            nps["key_%05d" % n] = entry(n, li)
            n += 1
        policy = {"network_policies": nps}
        if level == "baseline":
            policy.update({"version": 1, "filesystem_policy": {"include_workdir": True, "read_only": ["/usr", "/etc"], "read_write": ["/tmp"]},
                           "landlock": {"compatibility": "best_effort"}, "process": {"run_as_user": "sandbox", "run_as_group": "sandbox"}})
        layers.append({"name": level, "source": "%s.yaml" % level, "level": level, "policy": policy})
    return layers


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    policy = load_policy()
    layers = build_layers(total)
    best = None
    for _attempt in range(repeat):
        start = time.perf_counter()
        composed = policy.compose_policy(layers)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    count = len(composed.policy["network_policies"])
    print("compose_policy: %d network policies across %d layers: best %.3f s of %d runs (target < 0.5 s)"
          % (count, len(layers), best, repeat))
    return 0 if best < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
