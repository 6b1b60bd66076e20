# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Check ``openshell`` command lines against the CLI grammar of one OpenShell version.

  python3 check_argv.py [--version V] CALL_LOG.jsonl     (one JSON object with "argv" per line)
  python3 check_argv.py [--version V] --argv sandbox get demo -o json

V is a running OpenShell version (default 0.0.111); the contract that covers it is used, and a
version no contract covers is an error (exit 2). Prints ``INVALID <argv>: <reason>`` per rejected
call and ``N calls, M invalid``; exit 0 when all parse, 1 when any does not.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import openshell_contract  # noqa: E402  pylint: disable=wrong-import-position


def main(argv):
    version = "0.0.111"
    one = None
    if "--argv" in argv:
        cut = argv.index("--argv")
        argv, one = argv[:cut], argv[cut + 1:]
    if len(argv) >= 2 and argv[0] == "--version":
        version, argv = argv[1], argv[2:]
    if (one is None) == (len(argv) != 1):
        sys.stderr.write(__doc__)
        return 2
    try:
        contract = openshell_contract.covering(version)
        calls = [one] if one is not None else openshell_contract.read_call_log(argv[0])
    except (openshell_contract.ContractMissing, OSError, ValueError, KeyError, TypeError) as exc:
        sys.stderr.write("check_argv: %s\n" % exc)
        return 2
    bad = openshell_contract.invalid(calls, contract)
    for line in bad:
        print(line)
    print("%d calls, %d invalid" % (len(calls), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
