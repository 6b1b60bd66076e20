# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Render the key table of docs/desired-state.md from desired.SCHEMA (the one definition of nemoclaw_agents).

Usage: tools/desired-schema-doc [--check] [FILE]   (python3 tools/desired_schema_doc.py ...)

Rewrites the part of FILE (default: docs/desired-state.md) between the BEGIN and END markers with
the table of every key (nested keys dotted): key | type | default | choices | description.
With --check, changes nothing and exits 1 when FILE's table differs from the schema.
"""
import os
import sys

# python3 -I does not put the script's directory on sys.path.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from module_utils_loader import module_utils  # noqa: E402  pylint: disable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
DOC = os.path.join(ROOT, "docs", "desired-state.md")
BEGIN = "<!-- BEGIN generated from desired.SCHEMA by tools/desired-schema-doc: do not edit by hand -->"
END = "<!-- END generated from desired.SCHEMA -->"
COMMAND = "tools/desired-schema-doc"


def load_desired(root=ROOT):
    """desired.py and what it imports, loaded from the checkout (a plain python3 is enough)."""
    return module_utils("desired", root)


def _cell(text):
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _value(value):
    if value is None:
        return ""
    if value is True or value is False:
        return "`%s`" % str(value).lower()
    if isinstance(value, (list, dict)) and not value:
        return "`%s`" % ("[]" if isinstance(value, list) else "{}")
    return "`%s`" % value


def render_table(rows):
    """The Markdown table of ``desired.schema_rows()``."""
    lines = ["| key | type | default | choices | description |", "|---|---|---|---|---|"]
    for key, kind, default, choices, doc in rows:
        lines.append("| `%s` | %s | %s | %s | %s |" % (
            key, kind, _cell(_value(default)), ", ".join("`%s`" % c for c in choices or ()), _cell(doc)))
    return "\n".join(lines) + "\n"


def render(desired=None):
    """The generated block, markers included."""
    desired = desired or load_desired()
    return "%s\n\n%s\n%s" % (BEGIN, render_table(desired.schema_rows()), END)


def generated_part(text):
    """The block between (and with) the markers of ``text``, or None."""
    start = text.find(BEGIN)
    end = text.find(END, start if start >= 0 else 0)
    if start < 0 or end < 0:
        return None
    return text[start:end + len(END)]


def main(argv):
    args = [a for a in argv[1:] if a != "--check"]
    check = "--check" in argv[1:]
    if any(a.startswith("-") for a in args) or len(args) > 1:
        sys.stderr.write(__doc__)
        return 2
    path = args[0] if args else DOC
    with open(path) as fh:
        text = fh.read()
    current = generated_part(text)
    if current is None:
        sys.stderr.write("desired-schema-doc: %s has no %r ... %r markers\n" % (path, BEGIN, END))
        return 1
    wanted = render()
    if current == wanted:
        return 0
    if check:
        sys.stderr.write("desired-schema-doc: %s is out of date with desired.SCHEMA; run %s\n" % (path, COMMAND))
        return 1
    with open(path, "w") as fh:
        fh.write(text.replace(current, wanted))
    print("desired-schema-doc: updated %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
