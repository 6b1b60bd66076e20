# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Print the canonical artifact digest of a blueprint directory or .tar.gz.

Usage: tools/blueprint-digest PATH [PATH...]   (python3 tools/blueprint_digest.py PATH)
Prints "sha256:<hex>" (followed by the path when several are given).
"""
import os
import sys

# python3 -I does not put the script's directory on sys.path.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from module_utils_loader import module_utils  # noqa: E402  pylint: disable=wrong-import-position


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    blueprint = module_utils("blueprint")
    rc = 0
    for path in argv[1:]:
        try:
            digest = blueprint.artifact_digest(path)
        except ValueError as exc:
            sys.stderr.write("blueprint-digest: %s\n" % exc)
            rc = 1
            continue
        print(digest if len(argv) == 2 else "%s  %s" % (digest, path))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
