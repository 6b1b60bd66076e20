"""OpenShell simulator: a stdlib-only stand-in for the `openshell` CLI and gateway."""
import os

DEFAULT_VERSION = "0.0.111"


def version():
    return os.environ.get("OPENSHELL_SIM_VERSION") or DEFAULT_VERSION
