# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""Package the OpenShell simulator like a real OpenShell release.

Usage: scripts/build-sim-packages OUTDIR [VERSION]   (or: python3 scripts/build-sim-packages.py ...)

Writes into OUTDIR (VERSION defaults to the simulator's own, 0.0.111):

  openshell-sim-<version>-linux.tar.gz   release-style archive: bin/openshell, bin/openshell-gateway,
                                         lib/openshell-sim/openshell_sim/*.py
  openshell_<version>_all.deb            Debian package: /usr/bin/openshell, /usr/bin/openshell-gateway,
                                         /usr/lib/openshell-sim/openshell_sim/*.py,
                                         /usr/lib/systemd/user/openshell-gateway.service
  <each of them>.sha256                  "<sha256>  <file name>" (sha256sum format)

The packaged bin/ wrappers are generated from tests/simulator/bin/*: they export
OPENSHELL_SIM_VERSION=<version> unless it is already set, so `openshell --version`
of the installed copy reports the packaged version. Nothing in tests/simulator is changed.

The output is deterministic: sorted entries, fixed owner (root:root), fixed modes and mtimes
(SOURCE_DATE_EPOCH, default 1700000000), gzip header without name or time. The same
simulator sources and version therefore always give the same sha256.
The .deb is built with `dpkg-deb --build --root-owner-group` when dpkg-deb is available, else by
this script itself (ar archive of debian-binary, control.tar.gz, data.tar.gz). Stdlib only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "tests", "simulator")
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH") or 1700000000)

# systemd user unit of the package, as described in the OpenShell contract §9
# (deploy/deb/openshell-gateway.service of the real package).
UNIT = """\
[Unit]
Description=OpenShell Gateway
Documentation=https://github.com/NVIDIA/OpenShell

[Service]
Type=simple
StateDirectory=openshell/gateway
Environment=OPENSHELL_LOCAL_TLS_DIR=%h/.local/state/openshell/tls
EnvironmentFile=-%E/openshell/gateway.env
ExecStartPre=/usr/bin/openshell-gateway generate-certs --output-dir ${OPENSHELL_LOCAL_TLS_DIR} \
--server-san host.openshell.internal
ExecStart=/usr/bin/openshell-gateway
Restart=on-failure
RestartSec=5s
UMask=0077

[Install]
WantedBy=default.target
"""

CONTROL = """\
Package: openshell
Version: {version}
Architecture: all
Maintainer: agentfleet.nemoclaw contributors <noreply@example.invalid>
Depends: python3
Section: devel
Priority: optional
Installed-Size: {size}
Description: OpenShell simulator packaged like NVIDIA OpenShell (test double)
 Stand-in for the openshell CLI and the openshell-gateway daemon, used by the
 agentfleet.nemoclaw integration tests. Not NVIDIA OpenShell.
"""

# Like the real package: only reload systemd, never start anything.
POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  systemctl --global daemon-reload >/dev/null 2>&1 || true
fi
exit 0
"""


def wrapper(name, version):
    """The packaged bin/<name>: the simulator's wrapper plus a baked-in default version."""
    with open(os.path.join(SIM, "bin", name), encoding="utf-8") as fh:
        lines = fh.read().splitlines(True)
    inject = [
        "# Packaged by scripts/build-sim-packages: report the packaged version unless overridden.\n",
        ': "${OPENSHELL_SIM_VERSION:=%s}"\n' % version,
        "export OPENSHELL_SIM_VERSION\n",
    ]
    return "".join(lines[:1] + inject + lines[1:]).encode("utf-8")


def sim_modules():
    """(name, bytes) of the simulator package's modules, sorted; no __pycache__, no tests."""
    pkg = os.path.join(SIM, "openshell_sim")
    out = []
    for name in sorted(os.listdir(pkg)):
        path = os.path.join(pkg, name)
        if name.endswith(".py") and os.path.isfile(path):
            with open(path, "rb") as fh:
                out.append((name, fh.read()))
    if not any(name == "__init__.py" for name, _data in out):
        raise SystemExit("build-sim-packages: %s has no __init__.py" % pkg)
    return out


def tree(version, bin_dir, lib_dir, extra=()):
    """{path: (mode, bytes or None for a directory)} of one package payload."""
    files = {}
    files[bin_dir + "/openshell"] = (0o755, wrapper("openshell", version))
    files[bin_dir + "/openshell-gateway"] = (0o755, wrapper("openshell-gateway", version))
    for name, data in sim_modules():
        files[lib_dir + "/openshell_sim/" + name] = (0o644, data)
    for path, mode, data in extra:
        files[path] = (mode, data)
    entries = {}
    for path, value in files.items():
        parts = path.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), (0o755, None))
        entries[path] = value
    return entries


def write_tar(fileobj, entries, prefix="", top=False):
    """A gzip'd tar of ``entries`` with fixed metadata, entries sorted."""
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=fileobj, mtime=0, compresslevel=9)
    with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        if top:
            info = tarfile.TarInfo(prefix.rstrip("/") or ".")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info)
        for path in sorted(entries):
            mode, data = entries[path]
            info = tarfile.TarInfo(prefix + path)
            info.mode, info.mtime = mode, EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    gz.close()


def write_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    with open(path + ".sha256", "w", encoding="ascii") as fh:
        fh.write("%s  %s\n" % (digest.hexdigest(), os.path.basename(path)))
    return digest.hexdigest()


def build_archive(outdir, version):
    path = os.path.join(outdir, "openshell-sim-%s-linux.tar.gz" % version)
    entries = tree(version, "bin", "lib/openshell-sim")
    with open(path + ".tmp", "wb") as fh:
        write_tar(fh, entries)
    os.replace(path + ".tmp", path)
    return path


def deb_payload(version):
    data = tree(version, "usr/bin", "usr/lib/openshell-sim",
                extra=[("usr/lib/systemd/user/openshell-gateway.service", 0o644, UNIT.encode("utf-8"))])
    size_kib = (sum(len(d) for _m, d in data.values() if d is not None) + 1023) // 1024
    control = {
        "control": (0o644, CONTROL.format(version=version, size=size_kib).encode("utf-8")),
        "postinst": (0o755, POSTINST.encode("utf-8")),
    }
    return data, control


def build_deb_dpkg(path, data, control):
    with tempfile.TemporaryDirectory() as stage:
        root = os.path.join(stage, "root")
        os.makedirs(os.path.join(root, "DEBIAN"))
        for rel, (mode, content) in sorted(control.items()):
            target = os.path.join(root, "DEBIAN", rel)
            with open(target, "wb") as fh:
                fh.write(content)
            os.chmod(target, mode)
        for rel in sorted(data):
            mode, content = data[rel]
            target = os.path.join(root, rel)
            if content is None:
                os.makedirs(target, exist_ok=True)
            else:
                with open(target, "wb") as fh:
                    fh.write(content)
            os.chmod(target, mode)
        for dirpath, dirnames, filenames in os.walk(root, topdown=False):
            for name in filenames + dirnames:
                os.utime(os.path.join(dirpath, name), (EPOCH, EPOCH), follow_symlinks=False)
        os.chmod(root, 0o755)
        os.utime(root, (EPOCH, EPOCH))
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
        subprocess.run(["dpkg-deb", "--build", "--root-owner-group", "-Zgzip", "-z9", root, path + ".tmp"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    os.replace(path + ".tmp", path)


def ar_member(name, data):
    header = "%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name, EPOCH, 0, 0, "100644", len(data))
    return header.encode("ascii") + data + (b"\n" if len(data) % 2 else b"")


def build_deb_python(path, data, control):
    ctl, dat = io.BytesIO(), io.BytesIO()
    write_tar(ctl, control, prefix="./", top=True)
    write_tar(dat, data, prefix="./", top=True)
    with open(path + ".tmp", "wb") as fh:
        fh.write(b"!<arch>\n")
        fh.write(ar_member("debian-binary", b"2.0\n"))
        fh.write(ar_member("control.tar.gz", ctl.getvalue()))
        fh.write(ar_member("data.tar.gz", dat.getvalue()))
    os.replace(path + ".tmp", path)


def build_deb(outdir, version):
    path = os.path.join(outdir, "openshell_%s_all.deb" % version)
    data, control = deb_payload(version)
    if shutil.which("dpkg-deb"):
        build_deb_dpkg(path, data, control)
    else:
        build_deb_python(path, data, control)
    return path


def main(argv):
    if len(argv) not in (1, 2) or argv[0] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    outdir = os.path.abspath(argv[0])
    if len(argv) > 1:
        version = argv[1]
    else:
        with open(os.path.join(SIM, "openshell_sim", "__init__.py"), encoding="utf-8") as fh:
            version = re.search(r'DEFAULT_VERSION = "([^"]+)"', fh.read()).group(1)
    if not re.match(r"^[0-9][A-Za-z0-9.+~-]*$", version):
        sys.stderr.write("build-sim-packages: invalid version %r\n" % version)
        return 2
    os.makedirs(outdir, exist_ok=True)
    for path in (build_archive(outdir, version), build_deb(outdir, version)):
        print("%s  %s" % (write_sha256(path), path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
