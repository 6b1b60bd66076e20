# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Print the canonical artifact digest of a blueprint directory or .tar.gz.

Usage: tools/blueprint-digest PATH [PATH...]   (python3 tools/blueprint_digest.py PATH)
Prints "sha256:<hex>" (followed by the path when several are given).
"""
import importlib.util
import os
import sys

PKG = "ansible_collections.agentfleet.nemoclaw.plugins.module_utils"


def _load(name, root):
    """Load plugins/module_utils/<name>.py under its collection module name."""
    full = "%s.%s" % (PKG, name)
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.spec_from_file_location(full, os.path.join(root, "plugins", "module_utils", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    _load("validate", root)
    _load("policy", root)
    _load("compare", root)
    blueprint = _load("blueprint", root)
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
