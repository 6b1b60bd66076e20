# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
#
# PRIVATE: internal API of agentfleet.nemoclaw, may change without notice.
"""Parsers for ``nvidia-smi`` outputs and the GPU readiness checks built on them.

Everything here is pure: functions take text (or already parsed data) and
return plain dicts, so they are tested on captured outputs without a GPU.

Outputs understood:

* ``--query-gpu=... --format=csv[,noheader][,nounits]`` (:func:`parse_query_csv`);
* ``-q -x`` XML, DTD v12 and v13 (:func:`parse_xml`);
* the plain table of a bare ``nvidia-smi`` (:func:`parse_plain`);
* ``-q`` text (:func:`parse_query_text`) and ``-L`` (:func:`parse_list`);
* failures: :func:`driver_problem` turns exit code and output into a typed problem.

Every parser returns the same shape: ``{"driver_version", "cuda_version",
"gpus": [gpu, ...]}`` where a gpu is ``{index, name, uuid, pci_bus_id,
architecture, memory_total_mib, persistence_mode, mig_mode, mig_pending,
mig_enabled, mig_devices}``; values the tool reports as ``N/A`` or
``Not Supported`` (GB10/DGX Spark unified memory, MIG on consumer parts) are
``None``, never 0. :func:`merge` combines several parses into one facts dict.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

# Columns asked of --query-gpu by the facts module. ``index`` first: it names
# the GPU in messages; ``driver_version`` is per row but the same on every row.
QUERY_FIELDS = (
    "index", "name", "uuid", "pci.bus_id", "memory.total", "persistence_mode",
    "mig.mode.current", "mig.mode.pending", "driver_version",
)

UNKNOWN_VALUES = frozenset(("", "n/a", "[n/a]", "not supported", "[not supported]", "unknown", "[unknown error]",
                            "[insufficient permissions]", "insufficient permissions", "err!", "[err!]"))

# NVML return codes that nvidia-smi uses as exit codes, and the texts it prints.
PROBLEMS = (
    # (kind, exit codes, lower-case text fragments, explanation)
    ("driver_not_loaded", (9,), ("couldn't communicate with the nvidia driver", "driver is not loaded",
                                 "driver/library version mismatch"),
     "nvidia-smi could not talk to the NVIDIA kernel driver (not installed, not loaded, or a driver/library"
     " version mismatch after an upgrade without reboot)"),
    ("nvml_not_found", (12,), ("nvml shared library not found", "libnvidia-ml.so"),
     "the NVML library (libnvidia-ml.so) is missing: the user-space driver is not installed"),
    ("gpu_lost", (15,), ("fallen off the bus", "gpu is lost"),
     "a GPU has fallen off the bus; the host needs attention (reset or reboot)"),
    ("no_permission", (4,), ("insufficient permissions", "no permission"),
     "nvidia-smi lacks permission to query the GPUs"),
)

NO_DEVICES_TEXT = "no devices were found"
# "Failed to initialize NVML: No supported GPUs were found" (exit 6 or 9): the driver is
# there and answered, but there is no GPU it drives (none at all, or only older ones).
NO_DEVICES_TEXTS = (NO_DEVICES_TEXT, "no supported gpus were found", "no supported gpu was found",
                    "no supported gpus found")
NO_DEVICES_RC = 6  # NVML_ERROR_NOT_FOUND


class ParseError(ValueError):
    """The text is not the expected nvidia-smi output."""


def _unknown(value):
    return value is None or value.strip().lower() in UNKNOWN_VALUES


def _clean(value):
    if value is None:
        return None
    value = value.strip()
    return None if _unknown(value) else value


def _mib(value):
    """``'81920 MiB'``, ``'81920'``, ``'80 GiB'`` -> MiB as int; unknown -> None."""
    value = _clean(value)
    if value is None:
        return None
    m = re.match(r"^([0-9]+(?:\.[0-9]+)?)\s*(MiB|GiB|KiB|B)?$", value, re.I)
    if not m:
        return None
    number = float(m.group(1))
    unit = (m.group(2) or "MiB").lower()
    factor = {"b": 1.0 / (1024 * 1024), "kib": 1.0 / 1024, "mib": 1.0, "gib": 1024.0}[unit]
    return int(round(number * factor))


def _int(value):
    value = _clean(value)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _on_off(value):
    """Persistence mode: ``Enabled``/``On`` -> True, ``Disabled``/``Off`` -> False, else None."""
    value = _clean(value)
    if value is None:
        return None
    low = value.lower()
    if low in ("enabled", "on"):
        return True
    if low in ("disabled", "off"):
        return False
    return None


def _mig(value):
    """MIG mode normalised to ``Enabled``/``Disabled``; ``N/A`` (not MIG capable) -> None."""
    value = _clean(value)
    if value is None:
        return None
    low = value.lower()
    if low in ("enabled", "on"):
        return "Enabled"
    if low in ("disabled", "off"):
        return "Disabled"
    return value


def new_gpu(**values):
    gpu = {
        "index": None, "name": None, "uuid": None, "pci_bus_id": None, "minor_number": None, "architecture": None,
        "memory_total_mib": None, "persistence_mode": None, "mig_mode": None, "mig_pending": None,
        "mig_enabled": False, "mig_devices": None,
    }
    gpu.update(values)
    gpu["mig_enabled"] = gpu.get("mig_mode") == "Enabled"
    return gpu


def _facts(driver=None, cuda=None, gpus=None, source=None):
    return {"driver_version": _clean(driver), "cuda_version": _clean(cuda), "gpus": gpus or [],
            "sources": [source] if source else []}


# --------------------------------------------------------------------------- CSV

def _header_name(cell):
    """``'memory.total [MiB]'`` -> ``('memory.total', 'MiB')``."""
    cell = cell.strip()
    m = re.match(r"^(.*?)\s*\[([^\]]*)\]$", cell)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return cell, None


def parse_query_csv(text, fields=None):
    """Parse ``nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]``.

    With a header line the columns are named by it (units in brackets are
    dropped); without one, ``fields`` (default :data:`QUERY_FIELDS`) names them.
    Returns the common facts shape plus ``rows``: every row as a dict of the
    raw values keyed by query field name (unknown values as None).
    """
    if text is None or not text.strip():
        raise ParseError("empty nvidia-smi CSV output")
    lines = [line for line in text.splitlines() if line.strip()]
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    first = [_header_name(c)[0] for c in rows[0]]
    known = set(QUERY_FIELDS) | set(fields or ()) | set(("name", "uuid", "index", "pci.bus_id", "memory.total"))
    if any(c in known for c in first) and not any(c.startswith("GPU-") for c in rows[0]):
        names, rows = first, rows[1:]
    else:
        names = list(fields or QUERY_FIELDS)
    parsed = []
    for n, row in enumerate(rows):
        if len(row) != len(names):
            raise ParseError("CSV row %d has %d columns, expected %d (%s)" % (n + 1, len(row), len(names), ", ".join(names)))
        parsed.append(dict((name, _clean(value)) for name, value in zip(names, row)))
    gpus = []
    driver = None
    for n, row in enumerate(parsed):
        index = _int(row.get("index"))
        gpus.append(new_gpu(
            index=index if index is not None else n,
            name=row.get("name") or row.get("gpu_name"),
            uuid=row.get("uuid") or row.get("gpu_uuid"),
            pci_bus_id=row.get("pci.bus_id") or row.get("gpu_bus_id"),
            memory_total_mib=_mib(row.get("memory.total")),
            persistence_mode=_on_off(row.get("persistence_mode")),
            mig_mode=_mig(row.get("mig.mode.current")),
            mig_pending=_mig(row.get("mig.mode.pending")),
        ))
        driver = driver or row.get("driver_version")
    facts = _facts(driver=driver, gpus=gpus, source="csv")
    facts["rows"] = parsed
    return facts


# --------------------------------------------------------------------------- XML

def _text(elem, path):
    found = elem.find(path) if elem is not None else None
    return _clean(found.text) if found is not None and found.text is not None else None


def parse_xml(text):
    """Parse ``nvidia-smi -q -x`` (DTD v12/v13). GPUs are the ``<gpu>`` elements
    actually present; ``attached_gpus`` is kept apart as ``attached_gpus``."""
    if text is None or not text.strip():
        raise ParseError("empty nvidia-smi XML output")
    # The DOCTYPE names an external DTD that is not shipped; ElementTree never
    # fetches external entities, so parsing is offline and safe.
    try:
        root = ET.fromstring(text.strip().encode("utf-8"))
    except ET.ParseError as exc:
        raise ParseError("nvidia-smi XML does not parse: %s" % exc)
    if root.tag != "nvidia_smi_log":
        raise ParseError("unexpected XML root element <%s>, expected <nvidia_smi_log>" % root.tag)
    gpus = []
    for n, g in enumerate(root.findall("gpu")):
        mig_devices = g.find("mig_devices")
        minor = _int(_text(g, "minor_number"))
        current_mig = _mig(_text(g, "mig_mode/current_mig"))
        gpus.append(new_gpu(
            index=n,
            minor_number=minor,
            name=_text(g, "product_name"),
            uuid=_text(g, "uuid"),
            pci_bus_id=_clean(g.get("id")) or _text(g, "pci/pci_bus_id"),
            architecture=_text(g, "product_architecture"),
            memory_total_mib=_mib(_text(g, "fb_memory_usage/total")),
            persistence_mode=_on_off(_text(g, "persistence_mode")),
            mig_mode=current_mig,
            mig_pending=_mig(_text(g, "mig_mode/pending_mig")),
            mig_devices=len(mig_devices.findall("mig_device")) if mig_devices is not None and current_mig else None,
        ))
    facts = _facts(driver=_text(root, "driver_version"), cuda=_text(root, "cuda_version"), gpus=gpus, source="xml")
    facts["attached_gpus"] = _int(_text(root, "attached_gpus"))
    return facts


# --------------------------------------------------------------------------- plain table

_PLAIN_HEADER = re.compile(r"Driver Version:\s*(\S+)(?:\s+CUDA Version:\s*(\S+))?")
_PLAIN_HEAD_END = re.compile(r"^\|=+(?:[+|]=+)*\|\s*$")  # |=====+=====+=====| under the column names
_PLAIN_RULE = re.compile(r"^[+|]-+(?:[+|]-+)*[+|]\s*$")  # +-----+-----+-----+ between GPUs
_PLAIN_GPU = re.compile(r"^(\d+)\s+(.+?)\s+(\S+)$")  # "0  NVIDIA H100 80GB HBM3          On"
_PLAIN_BUS = re.compile(r"^(\S+)\s+(\S+)$")  # "00000000:18:00.0 Off" (Bus-Id, Disp.A)
_PLAIN_MEM = re.compile(r"(\d+)MiB\s*/\s*(\d+)MiB")
# The Persistence-M column: On/Off on Linux; the driver model (WDDM, TCC, MCDM) on Windows,
# where persistence does not apply; N/A on Jetson and other integrated parts.
_PLAIN_PERSISTENCE = frozenset(("on", "off", "wddm", "tcc", "mcdm", "n/a", "err!"))


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _plain_mig(cell):
    """The MIG M. cell -> ``(current, pending)``. A pending change is shown as the
    pending mode marked with ``*`` (``Enabled*`` after ``nvidia-smi -mig 1`` until the
    GPU is reset), so the current mode is then the other one."""
    value = _clean(cell)
    if value is None or not value.endswith("*"):
        mode = _mig(value)
        return mode, mode
    pending = _mig(value[:-1])
    current = {"Enabled": "Disabled", "Disabled": "Enabled"}.get(pending)
    return current, pending


def _plain_gpu(block):
    """One GPU of the table: its 2 (older drivers) or 3 lines ``[(line number, text), ...]``."""
    number, first = block[0]
    cells = _cells(first)
    row = _PLAIN_GPU.match(cells[0]) if len(cells) >= 3 else None
    if row is None or row.group(3).lower() not in _PLAIN_PERSISTENCE:
        raise ParseError("nvidia-smi table line %d is not a GPU row (index, name, Persistence-M | Bus-Id Disp.A | ...):"
                         " %r" % (number, first.strip()))
    bus = _PLAIN_BUS.match(cells[1])
    if bus is None:
        raise ParseError("nvidia-smi table line %d has no 'Bus-Id Disp.A' cell: %r" % (number, first.strip()))
    if len(block) < 2:
        raise ParseError("nvidia-smi table line %d: GPU %s has no memory line" % (number, row.group(1)))
    number2, second = block[1]
    cells2 = _cells(second)
    if len(cells2) < 2:
        raise ParseError("nvidia-smi table line %d is not the memory line of GPU %s: %r"
                         % (number2, row.group(1), second.strip()))
    mem = _PLAIN_MEM.search(cells2[1])
    mig_mode = mig_pending = None
    if len(block) >= 3:
        mig_mode, mig_pending = _plain_mig(_cells(block[2][1])[-1])
    return new_gpu(index=int(row.group(1)), name=row.group(2).strip(), pci_bus_id=_clean(bus.group(1)),
                   persistence_mode=_on_off(row.group(3)), memory_total_mib=int(mem.group(2)) if mem else None,
                   mig_mode=mig_mode, mig_pending=mig_pending)


def parse_plain(text):
    """Parse the table printed by a bare ``nvidia-smi`` (Linux, Windows and Jetson forms,
    drivers with and without the ``MIG M.`` row).

    Every block of the GPU table (the lines between ``+---+`` rules, after the
    ``|===|`` line) is one GPU; a block that is not a GPU raises :class:`ParseError`
    naming its line, so a GPU is never silently left out. ``CUDA Version: ERR!`` and
    other unknown values are None.
    """
    if text is None or not text.strip():
        raise ParseError("empty nvidia-smi output")
    m = _PLAIN_HEADER.search(text)
    if not m:
        raise ParseError("no 'Driver Version: ...' line in nvidia-smi output")
    lines = text.splitlines()
    start = next((n for n, line in enumerate(lines) if _PLAIN_HEAD_END.match(line.strip())), None)
    if start is None:
        raise ParseError("no GPU table (a '|====|' line under the column names) in nvidia-smi output")
    blocks, block = [], []
    for n in range(start + 1, len(lines)):
        line = lines[n].strip()
        if not line or line[0] not in "|+":
            break  # the end of the GPU table (the MIG devices and processes tables follow)
        if _PLAIN_RULE.match(line):
            if block:
                blocks.append(block)
            block = []
            continue
        block.append((n + 1, lines[n]))
    if block:
        blocks.append(block)
    gpus = [_plain_gpu(b) for b in blocks]
    return _facts(driver=m.group(1), cuda=m.group(2), gpus=gpus, source="plain")


# --------------------------------------------------------------------------- -q text

def _text_tree(text):
    """Indented ``Key : value`` lines -> nested list of (key, value, children)."""
    root = []
    stack = [(-1, root)]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("==="):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(" : ")
        if not sep and line.rstrip().endswith(":"):
            key, value = line.strip()[:-1], ""
        node = (key.strip(), value.strip() if sep else None, [])
        while stack[-1][0] >= indent:
            stack.pop()
        stack[-1][1].append(node)
        stack.append((indent, node[2]))
    return root


def _get(nodes, *path):
    for depth, name in enumerate(path):
        for key, value, children in nodes:
            if key == name:
                if depth == len(path) - 1:
                    return value
                nodes = children
                break
        else:
            return None
    return None


def parse_query_text(text):
    """Parse ``nvidia-smi -q`` (text, not XML)."""
    if text is None or "Driver Version" not in text:
        raise ParseError("no 'Driver Version' in nvidia-smi -q output")
    tree = _text_tree(text)
    gpus = []
    for key, _value, children in tree:
        if not key.startswith("GPU "):
            continue
        mig = _get(children, "MIG Mode", "Current")
        gpus.append(new_gpu(
            index=len(gpus),
            name=_clean(_get(children, "Product Name")),
            uuid=_clean(_get(children, "GPU UUID")),
            pci_bus_id=key[4:].strip(),
            minor_number=_int(_get(children, "Minor Number")),
            architecture=_clean(_get(children, "Product Architecture")),
            memory_total_mib=_mib(_get(children, "FB Memory Usage", "Total")),
            persistence_mode=_on_off(_get(children, "Persistence Mode")),
            mig_mode=_mig(mig),
            mig_pending=_mig(_get(children, "MIG Mode", "Pending")),
            fabric_state=_clean(_get(children, "Fabric", "State")),
            fabric_status=_clean(_get(children, "Fabric", "Status")),
        ))
    facts = _facts(driver=_get(tree, "Driver Version"), cuda=_get(tree, "CUDA Version"), gpus=gpus, source="query_text")
    facts["attached_gpus"] = _int(_get(tree, "Attached GPUs"))
    return facts


# --------------------------------------------------------------------------- -L

_LIST_GPU = re.compile(r"^GPU\s+(\d+):\s+(.+?)\s+\(UUID:\s*(GPU-[^)\s]+)\)")
_LIST_MIG = re.compile(r"^\s+MIG\s+(\S+)\s+Device\s+(\d+):\s+\(UUID:\s*(MIG-[^)\s]+)\)")


def parse_list(text):
    """Parse ``nvidia-smi -L``; MIG devices listed under a GPU imply MIG Enabled."""
    gpus = []
    for line in (text or "").splitlines():
        m = _LIST_GPU.match(line)
        if m:
            gpus.append(new_gpu(index=int(m.group(1)), name=m.group(2), uuid=m.group(3), mig_devices=0))
            gpus[-1]["mig_profiles"] = []
            continue
        m = _LIST_MIG.match(line)
        if m and gpus:
            gpu = gpus[-1]
            gpu["mig_devices"] += 1
            gpu["mig_profiles"].append({"profile": m.group(1), "device": int(m.group(2)), "uuid": m.group(3)})
            gpu["mig_mode"] = "Enabled"
            gpu["mig_enabled"] = True
    if not gpus:
        raise ParseError("no 'GPU n: name (UUID: ...)' line in nvidia-smi -L output")
    return _facts(gpus=gpus, source="list")


# --------------------------------------------------------------------------- failures

def driver_problem(rc, stdout="", stderr="", found=True):
    """Classify a failed ``nvidia-smi`` call; None when the call succeeded.

    Returns ``{"kind", "rc", "message", "detail"}``; ``kind`` is one of
    ``not_installed``, ``driver_not_loaded``, ``nvml_not_found``, ``gpu_lost``,
    ``no_permission``, ``no_devices``, ``error``. ``no_devices`` means the
    driver answered and found no GPU ("No devices were found", "No supported GPUs
    were found"), whatever the exit code.
    """
    text = "\n".join(t for t in (stdout, stderr) if t).strip()
    low = text.lower()
    detail = text.splitlines()[0] if text else ""
    if not found or rc == 127:
        return {"kind": "not_installed", "rc": rc, "detail": detail,
                "message": "nvidia-smi is not installed (no NVIDIA driver on this host)"}
    no_devices = any(t in low for t in NO_DEVICES_TEXTS)
    if rc == 0 and not no_devices:
        return None
    # Before the driver problems: "No supported GPUs were found" comes with exit 9, the
    # code of a driver that is not loaded.
    if no_devices or rc == NO_DEVICES_RC:
        return {"kind": "no_devices", "rc": rc, "detail": detail,
                "message": "the NVIDIA driver answered but found no %sGPU"
                           % ("supported " if "supported" in low else "")}
    for kind, codes, fragments, explanation in PROBLEMS:
        if rc in codes or any(f in low for f in fragments):
            return {"kind": kind, "rc": rc, "detail": detail,
                    "message": "%s (exit %s%s)" % (explanation, rc, ": " + detail if detail else "")}
    return {"kind": "error", "rc": rc, "detail": detail,
            "message": "nvidia-smi failed (exit %s%s)" % (rc, ": " + detail if detail else "")}


# --------------------------------------------------------------------------- merge

def _key(gpu):
    return gpu.get("uuid") or gpu.get("pci_bus_id") or ("index", gpu.get("index"))


def merge(*parsed):
    """Merge parses of the same host (e.g. CSV query and XML) into one facts dict.

    The first parse that knows a value wins; GPUs are matched by UUID (then PCI
    bus id, then index) and ordered by index. ``count`` is the number of GPUs
    seen, never ``attached_gpus``.
    """
    parsed = [p for p in parsed if p]
    merged = {"driver_version": None, "cuda_version": None, "sources": []}
    by_key = {}
    order = []
    for facts in parsed:
        for field in ("driver_version", "cuda_version"):
            if merged[field] is None and facts.get(field):
                merged[field] = facts[field]
        merged["sources"].extend(facts.get("sources") or [])
        for gpu in facts.get("gpus") or []:
            key = _key(gpu)
            if key not in by_key:
                by_key[key] = dict(gpu)
                order.append(key)
                continue
            have = by_key[key]
            for field, value in gpu.items():
                if have.get(field) is None and value is not None:
                    have[field] = value
            have["mig_enabled"] = have.get("mig_mode") == "Enabled"
    gpus = [by_key[k] for k in order]
    gpus.sort(key=lambda g: (g.get("index") is None, g.get("index") or 0))
    merged["gpus"] = gpus
    merged["count"] = len(gpus)
    merged["mig_enabled"] = [g["index"] for g in gpus if g.get("mig_enabled")]
    merged["memory_total_mib"] = sum(g["memory_total_mib"] for g in gpus if g.get("memory_total_mib")) or None
    return merged


# --------------------------------------------------------------------------- versions and checks

def version_tuple(version):
    """``'565.57.01'`` -> (565, 57, 1); None when no leading number."""
    if version is None:
        return None
    m = re.match(r"^\s*v?(\d+(?:\.\d+)*)", str(version))
    if not m:
        return None
    return tuple(int(p) for p in m.group(1).split("."))


def version_ge(version, minimum):
    have, want = version_tuple(version), version_tuple(minimum)
    if have is None or want is None:
        return None
    width = max(len(have), len(want))
    return have + (0,) * (width - len(have)) >= want + (0,) * (width - len(want))


def check(cid, status, value, threshold, message):
    return {"id": cid, "status": status, "value": value, "threshold": threshold, "message": message}


def gpu_checks(facts, required_count=0, min_driver_version=None, allow_mig=True, require_container_toolkit=None):
    """Evaluate GPU facts. Always returns the same five checks, in order:
    ``gpu.driver``, ``gpu.count``, ``gpu.driver_version``, ``gpu.mig``,
    ``gpu.container_toolkit``.

    A host without GPU and without driver passes unless ``required_count > 0``.
    ``require_container_toolkit`` None means "when GPUs are required".
    """
    required = required_count > 0
    problem = facts.get("problem")
    count = facts.get("count") or 0
    gpus = facts.get("gpus") or []
    checks = []

    # gpu.driver
    if problem is None or problem["kind"] == "no_devices":
        checks.append(check("gpu.driver", "pass", facts.get("driver_version"), None,
                            "NVIDIA driver %s answered" % facts.get("driver_version")
                            if facts.get("driver_version") else "the NVIDIA driver answered"))
    elif problem["kind"] == "not_installed" and not required:
        checks.append(check("gpu.driver", "pass", None, None, "no NVIDIA driver; GPUs are not required on this host"))
    else:
        status = "fail" if required else "warn"
        suffix = " and %d GPU(s) are required" % required_count if required else "; GPUs are not required"
        checks.append(check("gpu.driver", status, problem["kind"], None, problem["message"] + suffix))

    # gpu.count
    if count >= required_count:
        checks.append(check("gpu.count", "pass", count, required_count,
                            "%d GPU(s) found, %d required" % (count, required_count)))
    else:
        checks.append(check("gpu.count", "fail", count, required_count,
                            "%d GPU(s) found, %d required" % (count, required_count)))

    # gpu.driver_version
    driver = facts.get("driver_version")
    if not min_driver_version:
        checks.append(check("gpu.driver_version", "pass", driver, None, "no minimum driver version set"))
    elif driver is None:
        checks.append(check("gpu.driver_version", "fail" if required else "pass", None, min_driver_version,
                            "driver version unknown, %s required" % min_driver_version if required
                            else "no driver; not checked since GPUs are not required"))
    else:
        ok = version_ge(driver, min_driver_version)
        if ok:
            checks.append(check("gpu.driver_version", "pass", driver, min_driver_version,
                                "driver %s >= %s" % (driver, min_driver_version)))
        else:
            checks.append(check("gpu.driver_version", "fail" if required else "warn", driver, min_driver_version,
                                "driver %s is older than the required %s" % (driver, min_driver_version)))

    # gpu.mig
    mig = [g.get("index") for g in gpus if g.get("mig_enabled")]
    if not mig:
        checks.append(check("gpu.mig", "pass", [], None, "MIG is not enabled on any GPU"))
    else:
        checks.append(check("gpu.mig", "warn" if allow_mig else "fail", mig, "allowed" if allow_mig else "not allowed",
                            "MIG is enabled on GPU(s) %s: sandboxes see MIG slices, not whole GPUs%s"
                            % (", ".join(str(i) for i in mig), "" if allow_mig else " (MIG is not allowed)")))

    # gpu.container_toolkit
    tk = facts.get("container_toolkit") or {}
    cdi = facts.get("cdi") or {}
    present = bool(tk.get("present") or cdi.get("present"))
    value = {"toolkit": bool(tk.get("present")), "cdi": bool(cdi.get("present"))}
    need = required if require_container_toolkit is None else bool(require_container_toolkit)
    if present:
        checks.append(check("gpu.container_toolkit", "pass", value, None,
                            "NVIDIA Container Toolkit%s present" % (" and CDI specs" if cdi.get("present") else "")
                            if tk.get("present") else "NVIDIA CDI specs present"))
    elif need:
        checks.append(check("gpu.container_toolkit", "fail", value, "required",
                            "neither the NVIDIA Container Toolkit (nvidia-ctk) nor an NVIDIA CDI spec was found;"
                            " sandboxes cannot be given GPUs"))
    elif count:
        checks.append(check("gpu.container_toolkit", "warn", value, None,
                            "GPUs present but no NVIDIA Container Toolkit or CDI spec: sandboxes cannot use them"))
    else:
        checks.append(check("gpu.container_toolkit", "pass", value, None, "no GPU; container toolkit not needed"))
    return checks


def report(checks):
    """``{checks, failed, warnings, passed}`` from a list of checks."""
    failed = [c["id"] for c in checks if c["status"] == "fail"]
    warnings = [c["id"] for c in checks if c["status"] == "warn"]
    return {"checks": checks, "failed": failed, "warnings": warnings, "passed": not failed}


def verdict(rep, what, fail_on_error, fail_on_warning=False):
    """What a ``report()`` means for the task that made it: ``(warnings, failure)``.

    ``warnings``: one text per check that warns (``[id] message``), for the module's Ansible warnings.
    ``failure``: the task's failure message, naming every check that fails (and, with
    ``fail_on_warning``, warns), or None when the task passes (always None without ``fail_on_error``).
    """
    warnings = ["[%s] %s" % (c["id"], c["message"]) for c in rep["checks"] if c["status"] == "warn"]
    statuses = ("fail", "warn") if fail_on_warning else ("fail",)
    failing = [c for c in rep["checks"] if c["status"] in statuses]
    if not (fail_on_error and failing):
        return warnings, None
    return warnings, "%s failed: %s. %s" % (what, ", ".join(c["id"] for c in failing),
                                            " ".join("[%s] %s." % (c["id"], c["message"].rstrip(".")) for c in failing))


# --------------------------------------------------------------------------- DGX / toolkit files

def parse_dgx_release(text):
    """``/etc/dgx-release`` (shell ``KEY="value"`` lines) -> dict."""
    values = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _sep, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def dgx_facts(release_text, gpus=()):
    """DGX OS detection from ``/etc/dgx-release`` (None when absent) and GPU names."""
    names = " ".join((g.get("name") or "") for g in gpus)
    if release_text is None:
        return {"present": False, "name": None, "version": None, "spark": "GB10" in names, "release": {}}
    rel = parse_dgx_release(release_text)
    name = rel.get("DGX_PRETTY_NAME") or rel.get("DGX_NAME")
    version = rel.get("DGX_SWBUILD_VERSION") or rel.get("DGX_OTA_VERSION") or rel.get("DGX_VERSION")
    spark = "GB10" in names or "spark" in (name or "").lower() or "spark" in (rel.get("DGX_PLATFORM") or "").lower()
    return {"present": True, "name": name, "version": version, "spark": spark, "release": rel}


def cdi_nvidia_kinds(spec_text):
    """The ``kind:`` of a CDI spec (YAML or JSON) when it is an NVIDIA one, else None."""
    m = re.search(r"""["']?kind["']?\s*:\s*["']?(nvidia\.com/[A-Za-z0-9_.-]+)""", spec_text or "")
    return m.group(1) if m else None
