# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Host readiness for NemoClaw/OpenShell: measure, then evaluate.

Two halves, kept apart so the evaluation unit-tests without a host:

* **measuring** reads files below a root prefix (``/proc``, ``/sys``,
  ``/etc``, ``/run``, ``/var/lib``) through :class:`HostRoot`, and parses the
  JSON of ``docker info`` / ``podman info``. The root prefix is ``/`` on a
  real host; it can be a chroot, a mounted image or a fixture tree;
* **evaluating** (:func:`evaluate`) turns measured values and thresholds into
  checks ``{id, status, value, threshold, message}`` with stable ids and
  status ``pass``/``warn``/``fail``. :func:`report` summarises them.

Nothing here writes anything anywhere.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.agentfleet.nemoclaw.plugins.module_utils.nvidia_smi import check, report, version_ge

__all__ = ["HostRoot", "evaluate", "report", "DEFAULTS"]

GIB = 1024 ** 3

# Thresholds and choices; the module's option defaults are these values.
DEFAULTS = {
    "compute_driver": "docker",
    "supervisor": "none",
    "min_cpus": 4,
    "min_memory_gib": 8.0,
    "recommended_memory_gib": 16.0,
    "min_memory_plus_swap_mib": 12000,
    "min_free_disk_gib": 20.0,
    "recommended_free_disk_gib": 40.0,
    "min_glibc_version": "2.28",
    "min_docker_version": "28.0",
    "min_podman_version": "5.0",
    "require_landlock": False,
    "gateway_port": 8080,
    "gateway_process_names": ["openshell-gateway"],
}

SUPPORTED_ARCHES = ("x86_64", "amd64", "aarch64", "arm64")
LIBC_DIRS = ("lib", "lib64", "usr/lib", "usr/lib64")
LIBC_TRIPLETS = ("", "x86_64-linux-gnu", "aarch64-linux-gnu")
_LIBC_VERSION = re.compile(rb"GNU C Library[^\n]{0,200}?version (\d+\.\d+(?:\.\d+)?)")
_ID_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_id(name):
    """A check id component: letters, digits, ``_.-`` only."""
    return _ID_SAFE.sub("_", str(name)).strip("_") or "_"


class HostRoot(object):
    """Reads host files below ``root`` (``/`` for the real host)."""

    def __init__(self, root="/"):
        self.root = root or "/"

    @property
    def is_live(self):
        return os.path.realpath(self.root) == "/"

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path, limit=1024 * 1024):
        try:
            with open(self.path(path), "rb") as fh:
                return fh.read(limit).decode("utf-8", "replace")
        except (IOError, OSError):
            return None

    def exists(self, path):
        return os.path.exists(self.path(path))

    def isdir(self, path):
        return os.path.isdir(self.path(path))

    def listdir(self, path):
        try:
            return sorted(os.listdir(self.path(path)))
        except (IOError, OSError):
            return []

    def readlink(self, path):
        try:
            return os.readlink(self.path(path))
        except (IOError, OSError):
            return None


# --------------------------------------------------------------------------- measuring

def parse_os_release(text):
    values = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = value.strip().strip("\"'")
    return values


def measure_platform(host):
    ostype = (host.read("/proc/sys/kernel/ostype") or "").strip()
    if not ostype and host.is_live:
        ostype = os.uname()[0]
    arch = (host.read("/proc/sys/kernel/arch") or "").strip() or (os.uname()[4] if host.is_live else None)
    release = (host.read("/proc/sys/kernel/osrelease") or "").strip() or (os.uname()[2] if host.is_live else None)
    osrel = parse_os_release(host.read("/etc/os-release") or host.read("/usr/lib/os-release"))
    return {"system": ostype or None, "arch": arch, "kernel": release,
            "distribution": osrel.get("ID"), "distribution_version": osrel.get("VERSION_ID"),
            "pretty_name": osrel.get("PRETTY_NAME")}


def glibc_from_text(data):
    """The glibc version found in the bytes of ``libc.so.6``, or None."""
    m = _LIBC_VERSION.search(data or b"")
    return m.group(1).decode("ascii") if m else None


def measure_glibc(host):
    """glibc version: the running C library on the live host, else the tree's ``libc.so.6``."""
    if host.is_live:
        try:
            value = os.confstr("CS_GNU_LIBC_VERSION")  # 'glibc 2.39'
        except (ValueError, OSError, AttributeError):
            value = None
        if value and value.startswith("glibc "):
            return value.split()[1]
    for base in LIBC_DIRS:
        for triplet in LIBC_TRIPLETS:
            path = host.path(os.path.join(base, triplet, "libc.so.6"))
            if os.path.isfile(path):
                try:
                    with open(path, "rb") as fh:
                        found = glibc_from_text(fh.read(8 * 1024 * 1024))
                except (IOError, OSError):
                    found = None
                if found:
                    return found
    return None


def parse_cpu_list(text):
    """``'0-7,9'`` -> 9."""
    count = 0
    for part in (text or "").strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first = int(lo)
            count += (int(hi) - first + 1) if sep else 1
        except ValueError:
            return None
    return count or None


def measure_cpus(host):
    count = parse_cpu_list(host.read("/sys/devices/system/cpu/online"))
    if count:
        return count
    cpuinfo = host.read("/proc/cpuinfo")
    if cpuinfo:
        count = len(re.findall(r"^processor\s*:", cpuinfo, re.M))
        if count:
            return count
    return os.cpu_count() if host.is_live else None


def parse_meminfo(text):
    """``/proc/meminfo`` -> ``{'MemTotal': kib, ...}``."""
    values = {}
    for line in (text or "").splitlines():
        m = re.match(r"^(\w+):\s+(\d+)(?:\s+kB)?", line)
        if m:
            values[m.group(1)] = int(m.group(2))
    return values


def measure_memory(host):
    info = parse_meminfo(host.read("/proc/meminfo"))
    if "MemTotal" not in info:
        return None
    return {"total_mib": info["MemTotal"] // 1024, "swap_mib": info.get("SwapTotal", 0) // 1024,
            "swapfile": host.exists("/swapfile")}


def measure_disk(host, path):
    """Free space (GiB, 1 decimal) of the file system that holds ``path`` (or its nearest existing parent)."""
    expanded = os.path.expanduser(path)
    probe = expanded
    while probe and not os.path.exists(host.path(probe)):
        parent = os.path.dirname(probe.rstrip("/"))
        if parent == probe:
            break
        probe = parent
    try:
        st = os.statvfs(host.path(probe or "/"))
    except (IOError, OSError) as exc:
        return {"path": expanded, "checked": probe, "free_gib": None, "error": str(exc)}
    return {"path": expanded, "checked": probe or "/", "free_gib": round(st.f_bavail * st.f_frsize / float(GIB), 1),
            "error": None}


def measure_lsm(host):
    text = host.read("/sys/kernel/security/lsm")
    if text is None:
        return None
    return [m for m in text.strip().strip(",").split(",") if m]


def measure_seccomp(host):
    actions = host.read("/proc/sys/kernel/seccomp/actions_avail")
    status = host.read("/proc/self/status") or ""
    mode = re.search(r"^Seccomp:\s*(\d+)", status, re.M)
    return {"filter": actions is not None, "actions": (actions or "").split(),
            "status_field": mode is not None}


def measure_cgroup(host):
    if host.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    if host.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        return "hybrid"
    if host.isdir("/sys/fs/cgroup/memory") or host.isdir("/sys/fs/cgroup/cpu"):
        return "v1"
    return None


def listening_inodes(host, port):
    """Socket inodes listening on TCP ``port`` (any address, v4 and v6)."""
    inodes = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in (host.read(table) or "").splitlines()[1:]:
            # " 0A " (LISTEN) can only be the state column: a busy host lists thousands of
            # connections, and splitting only the listening lines is ~10 times cheaper.
            if " 0A " not in line:
                continue
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A":
                continue
            try:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
            except (IndexError, ValueError):
                continue
            if local_port == port:
                inodes.append(fields[9])
    return inodes


def _holders(host, pids, wanted, names):
    owners = []
    for pid in pids:
        for fd in host.listdir("/proc/%s/fd" % pid):
            if host.readlink("/proc/%s/fd/%s" % (pid, fd)) in wanted:
                name = names[pid] if pid in names else (host.read("/proc/%s/comm" % pid) or "").strip() or None
                owners.append({"pid": int(pid), "name": name})
                break
    return owners


def socket_owners(host, inodes, likely_names=()):
    """Processes holding any of ``inodes``: ``[{pid, name}]`` (only those this user may inspect).

    The processes named like one of ``likely_names`` (compared on the 15 characters of
    ``/proc/PID/comm``) are searched first and, when one of them holds a socket, alone: reading
    every descriptor of every process took ~0.5 s on a host with 6,000 of them, reading each
    process's name a few milliseconds. Otherwise every process is searched.
    """
    wanted = set("socket:[%s]" % i for i in inodes)
    pids = [pid for pid in host.listdir("/proc") if pid.isdigit()]
    names = {}
    short = set(n[:15] for n in likely_names)
    if short:
        for pid in pids:
            names[pid] = (host.read("/proc/%s/comm" % pid) or "").strip() or None
        owners = _holders(host, [pid for pid in pids if (names[pid] or "")[:15] in short], wanted, names)
        if owners:
            return owners
    return _holders(host, pids, wanted, names)


def measure_port(host, port, likely_names=()):
    """Whether TCP ``port`` is listened on, and by which processes (``likely_names`` searched first)."""
    inodes = listening_inodes(host, port)
    if not inodes:
        return {"port": port, "listening": False, "owners": []}
    return {"port": port, "listening": True, "owners": socket_owners(host, inodes, likely_names)}


def measure_systemd(host, user):
    return {"running": host.isdir("/run/systemd/system"), "user": user,
            "linger": bool(user) and host.exists("/var/lib/systemd/linger/%s" % user)}


def parse_engine_info(engine, rc, stdout, stderr, found=True):
    """``docker info --format '{{json .}}'`` / ``podman info --format json`` -> engine facts."""
    result = {"name": engine, "found": found, "reachable": False, "version": None, "cgroup_version": None,
              "error": None}
    if not found:
        result["error"] = "%s not found" % engine
        return result
    doc = None
    try:
        doc = json.loads(stdout) if stdout and stdout.strip() else None
    except ValueError:
        doc = None
    if engine == "docker":
        doc = doc if isinstance(doc, dict) else {}
        errors = doc.get("ServerErrors") or []
        version = doc.get("ServerVersion") or None
        cgroup = doc.get("CgroupVersion") or None
        result.update(version=version, cgroup_version=("v%s" % cgroup) if cgroup and not str(cgroup).startswith("v")
                      else cgroup, storage_driver=doc.get("Driver") or None)
        if rc == 0 and version and not errors:
            result["reachable"] = True
        else:
            detail = "; ".join(errors) or (stderr or "").strip() or (stdout or "").strip()
            result["error"] = (detail.splitlines()[0] if detail else "docker info failed (exit %s)" % rc)
    else:
        doc = doc if isinstance(doc, dict) else {}
        host = doc.get("host") or {}
        version = (doc.get("version") or {}).get("Version") or None
        result.update(version=version, cgroup_version=host.get("cgroupVersion") or None,
                      rootless=(host.get("security") or {}).get("rootless"))
        if rc == 0 and version:
            result["reachable"] = True
        else:
            detail = (stderr or "").strip() or (stdout or "").strip()
            result["error"] = detail.splitlines()[0] if detail else "podman info failed (exit %s)" % rc
    return result


def endpoint_host(endpoint):
    """``https://integrate.api.nvidia.com/v1`` -> ``integrate.api.nvidia.com``; plain names pass through."""
    text = str(endpoint).strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].rsplit("@", 1)[-1]
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.lower()


# --------------------------------------------------------------------------- evaluation

def _gib(mib):
    return round(mib / 1024.0, 1)


def eval_platform(m, s):
    p = m.get("platform") or {}
    out = []
    system = p.get("system")
    desc = p.get("pretty_name") or "unknown distribution"
    if system == "Linux":
        out.append(check("platform.os", "pass", system, "Linux", "Linux (%s)" % desc))
    else:
        out.append(check("platform.os", "fail", system, "Linux",
                         "OpenShell sandboxes need Linux; this host reports %s" % (system or "an unknown OS")))
    arch = p.get("arch")
    if arch in SUPPORTED_ARCHES:
        out.append(check("platform.arch", "pass", arch, list(SUPPORTED_ARCHES[::2]), "architecture %s" % arch))
    else:
        out.append(check("platform.arch", "fail", arch, list(SUPPORTED_ARCHES[::2]),
                         "unsupported architecture %s (x86_64 or aarch64 needed)" % arch))
    glibc = m.get("glibc")
    want = s["min_glibc_version"]
    if glibc is None:
        out.append(check("platform.glibc", "fail", None, want, "no glibc found (musl or unreadable C library)"))
    elif version_ge(glibc, want):
        out.append(check("platform.glibc", "pass", glibc, want, "glibc %s >= %s" % (glibc, want)))
    else:
        out.append(check("platform.glibc", "fail", glibc, want, "glibc %s is older than %s" % (glibc, want)))
    return out


def eval_resources(m, s):
    out = []
    cpus = m.get("cpus")
    if cpus is None:
        out.append(check("cpu.count", "fail", None, s["min_cpus"], "could not count CPUs"))
    else:
        out.append(check("cpu.count", "pass" if cpus >= s["min_cpus"] else "fail", cpus, s["min_cpus"],
                         "%d CPU(s), %d required" % (cpus, s["min_cpus"])))
    mem = m.get("memory")
    if not mem:
        out.append(check("memory.total", "fail", None, s["min_memory_gib"], "could not read /proc/meminfo"))
        out.append(check("swap", "warn", None, s["min_memory_plus_swap_mib"], "could not read /proc/meminfo"))
        return out
    total = _gib(mem["total_mib"])
    if total < s["min_memory_gib"]:
        out.append(check("memory.total", "fail", total, s["min_memory_gib"],
                         "%.1f GiB memory, %s GiB required" % (total, s["min_memory_gib"])))
    elif total < s["recommended_memory_gib"]:
        out.append(check("memory.total", "warn", total, s["recommended_memory_gib"],
                         "%.1f GiB memory: enough, but below the recommended %s GiB" % (total, s["recommended_memory_gib"])))
    else:
        out.append(check("memory.total", "pass", total, s["min_memory_gib"], "%.1f GiB memory" % total))
    both = mem["total_mib"] + mem["swap_mib"]
    want = s["min_memory_plus_swap_mib"]
    if both >= want or mem["swap_mib"] > 0:
        out.append(check("swap", "pass", mem["swap_mib"], want,
                         "%d MiB swap, %d MiB memory + swap" % (mem["swap_mib"], both)))
    else:
        out.append(check("swap", "warn", mem["swap_mib"], want,
                         "no swap and only %d MiB memory (< %d MiB): image builds may be killed by the OOM killer;"
                         " consider a 4 GiB swap file" % (both, want)))
    return out


def eval_disks(m, s):
    out = []
    for name, disk in sorted((m.get("disks") or {}).items()):
        cid = "disk.%s" % safe_id(name)
        free = disk.get("free_gib")
        where = disk.get("path")
        if free is None:
            out.append(check(cid, "fail", None, s["min_free_disk_gib"],
                             "cannot measure free space for %s: %s" % (where, disk.get("error"))))
        elif free < s["min_free_disk_gib"]:
            out.append(check(cid, "fail", free, s["min_free_disk_gib"],
                             "%.1f GiB free for %s (on %s), %s GiB required"
                             % (free, where, disk.get("checked"), s["min_free_disk_gib"])))
        elif free < s["recommended_free_disk_gib"]:
            out.append(check(cid, "warn", free, s["recommended_free_disk_gib"],
                             "%.1f GiB free for %s: enough, but below the recommended %s GiB"
                             % (free, where, s["recommended_free_disk_gib"])))
        else:
            out.append(check(cid, "pass", free, s["min_free_disk_gib"], "%.1f GiB free for %s" % (free, where)))
    return out


def eval_engine(m, s):
    e = m.get("engine") or {}
    name = s["compute_driver"]
    cid = "engine.%s" % name
    if name == "none":
        return [check(cid, "pass", None, None, "no container engine checked (compute runs elsewhere, or OpenShell is simulated)")]
    want = s["min_docker_version"] if name == "docker" else s["min_podman_version"]
    if not e.get("found"):
        return [check(cid, "fail", None, want, "%s is not installed (the %s compute driver needs it)" % (name, name))]
    if not e.get("reachable"):
        return [check(cid, "fail", None, want, "%s is not reachable: %s" % (name, e.get("error")))]
    version = e.get("version")
    if not version_ge(version, want):
        return [check(cid, "fail", version, want, "%s %s is older than %s" % (name, version, want))]
    if name == "podman" and e.get("cgroup_version") not in (None, "v2"):
        return [check(cid, "fail", version, want, "podman %s runs on cgroups %s; cgroups v2 is required"
                      % (version, e.get("cgroup_version")))]
    return [check(cid, "pass", version, want, "%s %s reachable (cgroups %s)"
                  % (name, version, e.get("cgroup_version") or "unknown"))]


def eval_kernel(m, s):
    out = []
    lsm = m.get("lsm")
    kernel = (m.get("platform") or {}).get("kernel")
    bad = "fail" if s["require_landlock"] else "warn"
    if lsm is None:
        out.append(check("kernel.landlock", bad, None, "landlock",
                         "cannot read /sys/kernel/security/lsm (securityfs not mounted?)"))
    elif "landlock" in lsm:
        out.append(check("kernel.landlock", "pass", ",".join(lsm), "landlock", "Landlock is an active LSM"))
    else:
        out.append(check("kernel.landlock", bad, ",".join(lsm), "landlock",
                         "Landlock is not in the active LSM list (kernel %s; needs >= 5.13 with CONFIG_SECURITY_LANDLOCK"
                         " and 'landlock' in lsm=): sandboxes run without filesystem confinement%s"
                         % (kernel or "unknown", "" if s["require_landlock"] else " (best effort)")))
    sec = m.get("seccomp") or {}
    if sec.get("filter"):
        out.append(check("kernel.seccomp", "pass", "filter", "filter",
                         "seccomp filter mode available (%s)" % " ".join(sec.get("actions") or [])))
    elif sec.get("status_field"):
        out.append(check("kernel.seccomp", "warn", "strict", "filter",
                         "seccomp is present but filter actions are not listed (/proc/sys/kernel/seccomp/actions_avail)"))
    else:
        out.append(check("kernel.seccomp", "fail", None, "filter", "the kernel has no seccomp support"))
    cg = m.get("cgroup")
    if cg == "v2":
        out.append(check("kernel.cgroup_v2", "pass", cg, "v2", "cgroups v2 (unified hierarchy)"))
    else:
        status = "fail" if s["compute_driver"] == "podman" else "warn"
        why = ": podman needs v2" if status == "fail" else ": sandbox resource limits may not apply"
        out.append(check("kernel.cgroup_v2", status, cg, "v2",
                         "cgroups %s, not the v2 unified hierarchy%s" % (cg or "unknown", why)))
    return out


def eval_port(m, s):
    p = m.get("port") or {}
    port = s["gateway_port"]
    # Free and held-by-our-gateway are one result: the report saved on the host
    # must not change between the run that starts the gateway and the next one.
    available = check("gateway.port", "pass", "available", port, "TCP port %d is free or held by our gateway" % port)
    if not p.get("listening"):
        return [available]
    owners = p.get("owners") or []
    # /proc/PID/comm keeps 15 characters: the real gateway shows as "openshell-gatew".
    names = set(n[:15] for n in s["gateway_process_names"])
    ours = [o for o in owners if (o.get("name") or "")[:15] in names]
    desc = ", ".join("%s (pid %s)" % (o.get("name"), o.get("pid")) for o in owners) or "a process this user cannot see"
    if ours:
        return [available]
    return [check("gateway.port", "fail", "in use", port, "TCP port %d is in use by %s, not by %s"
                  % (port, desc, " or ".join(s["gateway_process_names"])))]


def eval_dns(m, s):
    out = []
    for host, res in (m.get("dns") or {}).items():
        cid = "dns.%s" % safe_id(host)
        if res.get("addresses"):
            out.append(check(cid, "pass", res["addresses"], None, "%s resolves" % host))
        else:
            out.append(check(cid, "fail", None, None, "%s does not resolve: %s" % (host, res.get("error"))))
    return out


def eval_systemd(m, s):
    if s["supervisor"] == "none":
        return []
    sd = m.get("systemd") or {}
    out = []
    if sd.get("running"):
        out.append(check("systemd.running", "pass", True, True, "systemd is the init system"))
    else:
        out.append(check("systemd.running", "fail", False, True,
                         "systemd is not running (/run/systemd/system missing); the %s supervisor needs it" % s["supervisor"]))
    if s["supervisor"] == "systemd-user":
        user = sd.get("user")
        if sd.get("linger"):
            out.append(check("systemd.linger", "pass", True, True, "lingering is enabled for %s" % user))
        else:
            out.append(check("systemd.linger", "fail", False, True,
                             "lingering is not enabled for %s: user services stop at logout and do not start at boot"
                             " (loginctl enable-linger %s)" % (user, user)))
    return out


EVALUATORS = (eval_platform, eval_resources, eval_disks, eval_engine, eval_kernel, eval_port, eval_dns, eval_systemd)


def evaluate(measured, settings=None):
    """Checks for ``measured`` values under ``settings`` (thresholds; missing keys take :data:`DEFAULTS`)."""
    s = dict(DEFAULTS)
    s.update(dict((k, v) for k, v in (settings or {}).items() if v is not None))
    checks = []
    for fn in EVALUATORS:
        checks.extend(fn(measured, s))
    return checks
