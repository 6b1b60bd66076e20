# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Convert between NemoClaw's NemoClawConfig documents and the fleet's nemoclaw_agents.

Usage:
  tools/nemoclaw-config import FILE [FILE...] [--host-vars-out PATH [--force]]
      Read `nemoclaw config export` documents (FILE, or - for standard input; one per sandbox
      of the host) and print the host's `nemoclaw_agents:` as YAML, with what was not imported and the secrets to put in
      the vault as comments (names only). --host-vars-out writes it to PATH instead.
  tools/nemoclaw-config export VARS_FILE [options]
  tools/nemoclaw-config export --inventory INV --host HOST [--vault-password-file FILE] [options]
      Print the NemoClawConfig document of a host's nemoclaw_agents: from a host_vars file
      (no templating), or from an inventory (Ansible reads and renders the host's variables).
      Options: --name NAME, --uid UID (the document's metadata), --extensions (keep what the
      document cannot carry under x-agentfleet), --json, --output PATH [--force].

Nothing is executed or fetched: documents and variables are read as data. Warnings go to standard
error; the exit status is 1 when the input is refused (the message names the document or
inventory path), 2 on a usage error. See docs/nemoclaw-config.md.
"""
import argparse
import json
import os
import re
import sys
import tempfile

# python3 -I does not put the script's directory on sys.path.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from module_utils_loader import module_utils  # noqa: E402  pylint: disable=wrong-import-position

VARIABLE = "nemoclaw_agents"
_CONTROL_RE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def _modules():
    return module_utils("nemoclawconfig"), module_utils("desired")


class Refused(Exception):
    pass


def _comment(text):
    """One comment line: control characters escaped so nothing read can start a YAML line."""
    return "# " + _CONTROL_RE.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 256 else "\\u%04x" % ord(m.group()), text)


def _write(path, text, force):
    """Write ``text`` to ``path`` atomically; an existing file is kept unless ``force``."""
    if os.path.lexists(path) and not force:
        raise Refused("%s exists (give --force to replace it)" % path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".nemoclaw-config.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(path):
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def import_document(args, ncc, out, err):
    """One host's nemoclaw_agents from one or more documents (NemoClaw exports one sandbox each)."""
    import yaml  # pylint: disable=import-outside-toplevel

    agents, secrets, warnings, labels, origins = [], {}, [], [], {}
    several = len(args.files) > 1
    profiles = ncc.shipped_profiles()
    for path in args.files:
        try:
            data = _read(path)
        except OSError as exc:
            raise Refused("%s: %s" % (path, exc.strerror or exc))
        label = "stdin" if path == "-" else os.path.basename(path)
        doc = ncc.load_document(data, label)
        try:
            # Several documents are one host: the shared-route check runs on all of them together.
            these, needs, notes = ncc.to_agents(doc, profiles, route_check=not several)
        except ncc.ConfigError as exc:
            raise Refused("%s: %s" % (label, exc) if several else str(exc))
        for entry in these:
            if any(a["name"] == entry["name"] for a in agents):
                raise Refused("%s: spec.sandboxes: sandbox %r is also in an earlier document" % (label, entry["name"]))
        for index, entry in enumerate(these):
            origins[entry["name"]] = "%s: spec.sandboxes[%d]" % (label, index)
        agents.extend(these)
        for name, uses in needs.items():
            secrets.setdefault(name, []).extend(u for u in uses if u not in secrets[name])
        warnings.extend(("%s: %s" % (label, w)) if several else w for w in notes)
        labels.append("%s (NemoClawConfig %s)" % (label, (doc.get("metadata") or {}).get("name")))
    if several:
        warnings.extend(ncc.route_warnings(agents, profiles, origins))
    lines = [_comment("nemoclaw_agents imported by tools/nemoclaw-config from %s" % ", ".join(labels))]
    if warnings:
        lines.append("#")
        lines.append(_comment("Not imported (NemoClaw fields the fleet has no key for; see docs/nemoclaw-config.md):"))
        lines.extend(_comment("  " + w) for w in warnings)
    if secrets:
        lines.append("#")
        lines.append(_comment("Secrets to put in the vault as nemoclaw_secrets entries (their values never go in this file):"))
        lines.extend(_comment("  %s: %s" % (name, "; ".join(uses))) for name, uses in sorted(secrets.items()))
    body = yaml.safe_dump({VARIABLE: agents}, sort_keys=False, default_flow_style=False, allow_unicode=True)
    text = "---\n" + "\n".join(lines) + "\n" + body
    for warning in warnings:
        err.write("warning: %s\n" % _CONTROL_RE.sub("?", warning))
    if args.host_vars_out:
        _write(args.host_vars_out, text, args.force)
        err.write("wrote %s (%d agents, %d secrets to put in the vault)\n" % (args.host_vars_out, len(agents), len(secrets)))
    else:
        out.write(text)


def _vars_file_agents(path):
    """``nemoclaw_agents`` of a host_vars file, refusing what only Ansible can render."""
    import yaml  # pylint: disable=import-outside-toplevel

    class _VaultLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        pass

    vaulted = object()
    _VaultLoader.add_constructor("!vault", lambda loader, node: vaulted)
    _VaultLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    try:
        data = yaml.load(_read(path), Loader=_VaultLoader)  # nosec B506 - a SafeLoader subclass
    except OSError as exc:
        raise Refused("%s: %s" % (path, exc.strerror or exc))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise Refused("%s%s: not valid YAML" % (path, ": line %d" % (mark.line + 1) if mark else ""))
    if isinstance(data, (bytes, str)) and data.lstrip().startswith("$ANSIBLE_VAULT"):
        raise Refused("%s is vault-encrypted: use --inventory with --vault-password-file" % path)
    if not isinstance(data, dict) or VARIABLE not in data:
        raise Refused("%s: no %s in this file" % (path, VARIABLE))

    def check(value, where):
        if value is vaulted:
            raise Refused("%s: %s is vault-encrypted: use --inventory with --vault-password-file" % (path, where))
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            raise Refused("%s: %s is a template: use --inventory INV --host HOST so Ansible renders it" % (path, where))
        if isinstance(value, dict):
            for key, sub in value.items():
                check(sub, "%s.%s" % (where, key))
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                check(sub, "%s[%d]" % (where, index))

    check(data[VARIABLE], VARIABLE)
    return data[VARIABLE]


def _inventory_agents(inventory, host, vault_password_file=None):
    """``nemoclaw_agents`` of ``host`` as Ansible sees it (group_vars, host_vars, templates rendered)."""
    try:
        from ansible.errors import AnsibleError  # pylint: disable=import-outside-toplevel
        from ansible.inventory.manager import InventoryManager  # pylint: disable=import-outside-toplevel
        from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
        from ansible.template import Templar  # pylint: disable=import-outside-toplevel
        from ansible.vars.manager import VariableManager  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise Refused("--inventory needs ansible-core on this Python (run it with the collection's virtualenv)")
    loader = DataLoader()
    try:
        if vault_password_file:
            from ansible.parsing.vault import get_file_vault_secret  # pylint: disable=import-outside-toplevel
            secret = get_file_vault_secret(filename=vault_password_file, vault_id="default", loader=loader)
            secret.load()
            loader.set_vault_secrets([("default", secret)])
        manager = InventoryManager(loader=loader, sources=[inventory])
        target = manager.get_host(host)
        if target is None:
            raise Refused("%s: no host %r in this inventory" % (inventory, host))
        variables = VariableManager(loader=loader, inventory=manager).get_vars(host=target, include_hostvars=False)
        if VARIABLE not in variables:
            raise Refused("%s: host %s has no %s" % (inventory, host, VARIABLE))
        agents = Templar(loader=loader, variables=variables).template(variables[VARIABLE])
        return json.loads(json.dumps(agents))
    except AnsibleError as exc:
        text = str(getattr(exc, "message", None) or exc).splitlines()[0]
        if "vault" in text.lower() and not vault_password_file:
            text += " (give --vault-password-file)"
        raise Refused("%s: %s" % (inventory, text))


def export_document(args, ncc, out, err):
    import yaml  # pylint: disable=import-outside-toplevel

    if bool(args.vars_file) == bool(args.inventory):
        raise SystemExit("nemoclaw-config export: give either VARS_FILE or --inventory INV --host HOST")
    if args.inventory and not args.host:
        raise SystemExit("nemoclaw-config export: --inventory needs --host")
    if args.vars_file:
        agents = _vars_file_agents(args.vars_file)
    else:
        agents = _inventory_agents(args.inventory, args.host, args.vault_password_file)
    doc, warnings = ncc.from_agents(agents, name=args.name, uid=args.uid, extensions=args.extensions)
    if args.json:
        text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    else:
        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
    for warning in warnings:
        err.write("warning: %s\n" % _CONTROL_RE.sub("?", warning))
    if args.output:
        _write(args.output, text, args.force)
        os.chmod(args.output, 0o600)
        err.write("wrote %s\n" % args.output)
    else:
        out.write(text)


def parser():
    top = argparse.ArgumentParser(prog="nemoclaw-config", description=__doc__.split("\n", 1)[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command")
    imp = sub.add_parser("import", help="NemoClawConfig document -> nemoclaw_agents YAML")
    imp.add_argument("files", metavar="FILE", nargs="+",
                     help="a document (YAML or JSON), - for standard input; several for a host with several sandboxes")
    imp.add_argument("--host-vars-out", metavar="PATH", help="write the host_vars YAML here instead of standard output")
    imp.add_argument("--force", action="store_true", help="replace an existing output file")
    exp = sub.add_parser("export", help="nemoclaw_agents -> NemoClawConfig document")
    exp.add_argument("vars_file", metavar="VARS_FILE", nargs="?", help="a host_vars file with nemoclaw_agents")
    exp.add_argument("--inventory", "-i", metavar="INV", help="an Ansible inventory (with --host)")
    exp.add_argument("--host", metavar="HOST", help="the inventory host whose agents are exported")
    exp.add_argument("--vault-password-file", metavar="FILE", help="to read vault-encrypted variable files of the inventory")
    exp.add_argument("--name", help="the document's metadata.name")
    exp.add_argument("--uid", help="the document's metadata.uid (a lowercase UUID)")
    exp.add_argument("--extensions", action="store_true", help="keep what NemoClaw has no field for under x-agentfleet")
    exp.add_argument("--json", action="store_true", help="JSON instead of YAML")
    exp.add_argument("--output", "-o", metavar="PATH", help="write the document here (mode 0600) instead of standard output")
    exp.add_argument("--force", action="store_true", help="replace an existing output file")
    return top


def main(argv=None, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    args = parser().parse_args(argv)
    if not args.command:
        parser().print_usage(err)
        return 2
    ncc, desired = _modules()
    try:
        if args.command == "import":
            import_document(args, ncc, out, err)
        else:
            export_document(args, ncc, out, err)
    except SystemExit as exc:
        err.write("%s\n" % exc)
        return 2
    except (Refused, ncc.ConfigError, desired.DesiredStateError) as exc:
        err.write("nemoclaw-config: %s\n" % _CONTROL_RE.sub("?", str(exc)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
