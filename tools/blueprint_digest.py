# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Print the canonical artifact digest of a blueprint directory or .tar.gz.

Usage: tools/blueprint-digest PATH [PATH...]   (python3 tools/blueprint_digest.py PATH)
Prints "sha256:<hex>" (followed by the path when several are given).
"""
import importlib
import os
import sys
import types

PKG = "ansible_collections.agentfleet.nemoclaw.plugins.module_utils"


def _package(root):
    """Make PKG (and its parents) importable from this checkout or installed collection without Ansible on the path."""
    parts = PKG.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = []
            sys.modules[name] = module
    sys.modules[PKG].__path__ = [os.path.join(root, "plugins", "module_utils")]


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    _package(root)
    blueprint = importlib.import_module(PKG + ".blueprint")
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
