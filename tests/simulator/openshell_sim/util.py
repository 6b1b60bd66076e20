"""Small helpers shared by the simulated CLI and gateway (stdlib only, cheap to import)."""
import json
import os
import re
import sys
import time

# --- ANSI styling, mimicking owo-colors (the real CLI styles unconditionally) ---


def bold(s):
    return "\x1b[1m%s\x1b[0m" % s


def dimmed(s):
    return "\x1b[2m%s\x1b[0m" % s


def _fg(code):
    return lambda s: "\x1b[%dm%s\x1b[39m" % (code, s)


red = _fg(31)
green = _fg(32)
yellow = _fg(33)
cyan = _fg(36)


def check():
    return bold(green("\u2713"))  # ✓


def header(s):
    return bold(cyan(s))


ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(s):
    return ANSI_RE.sub("", s)


# --- JSON in the real CLI's layout (serde_json pretty, sorted keys, trailing newline) ---


def dumps(obj):
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)


# --- gRPC status codes and their tonic descriptions ---

CODE_DESCRIPTIONS = {
    "Ok": "The operation completed successfully",
    "Cancelled": "The operation was cancelled",
    "Unknown": "Unknown error",
    "InvalidArgument": "Client specified an invalid argument",
    "DeadlineExceeded": "Deadline expired before operation could complete",
    "NotFound": "Some requested entity was not found",
    "AlreadyExists": "Some entity that we attempted to create already exists",
    "PermissionDenied": "The caller does not have permission to execute the specified operation",
    "ResourceExhausted": "Some resource has been exhausted",
    "FailedPrecondition": "The system is not in a state required for the operation's execution",
    "Aborted": "The operation was aborted",
    "OutOfRange": "Operation was attempted past the valid range",
    "Unimplemented": "Operation is not implemented or not supported",
    "Internal": "Internal error",
    "Unavailable": "The service is currently unavailable",
    "DataLoss": "Unrecoverable data loss or corruption",
    "Unauthenticated": "The request does not have valid authentication credentials",
}


def rust_debug_str(s):
    """Quote like Rust's `{:?}` for str (close enough: escapes quotes, backslashes, control chars)."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def status_display(code, message):
    """tonic 0.14 `Status` Display."""
    return "code: '%s', message: %s" % (CODE_DESCRIPTIONS.get(code, code), rust_debug_str(message))


def render_error(message, causes=()):
    """miette graphical report (unicode theme, no colour) prefixed by `Error: `."""
    lines = message.split("\n")
    out = ["Error:   \u00d7 " + lines[0]]
    for line in lines[1:]:
        out.append("  \u2502 " + line if line else "  \u2502")
    causes = list(causes)
    for i, cause in enumerate(causes):
        glyph = "\u2570\u2500\u25b6 " if i == len(causes) - 1 else "\u251c\u2500\u25b6 "
        clines = cause.split("\n")
        out.append("  " + glyph + clines[0])
        for cl in clines[1:]:
            out.append(("      " if i == len(causes) - 1 else "  \u2502   ") + cl)
    return "\n".join(out) + "\n"


# --- time formatting ---


def now_ms():
    return int(time.time() * 1000)


def format_epoch_ms(ms):
    if ms is None or ms < 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000.0))


def format_timestamp_ms(ms):
    if not ms or ms <= 0:
        return "-"
    secs = ms // 1000
    mins = (secs // 60) % 60
    hours = (secs // 3600) % 24
    days = secs // 86400
    if days > 0:
        return "%dd %02d:%02d" % (days, hours, mins)
    return "%02d:%02d" % (hours, mins)


# --- paths ---


def home():
    return os.environ.get("HOME") or os.path.expanduser("~")


def xdg_config_home():
    v = os.environ.get("XDG_CONFIG_HOME")
    return v if v else os.path.join(home(), ".config")


def xdg_state_home():
    v = os.environ.get("XDG_STATE_HOME")
    return v if v else os.path.join(home(), ".local", "state")


def makedirs_private(path):
    """mkdir -p with 0700 on every directory we create."""
    path = os.path.abspath(path)
    missing = []
    p = path
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        os.chmod(d, 0o700)


# --- minimal YAML emitter (serde_yml-like block style) ---

_PLAIN_RE = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./ *:@+=-]*$")
_YAML_SPECIAL = {"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
                 "yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "Y", "N"}


def _yaml_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if (s in _YAML_SPECIAL or not _PLAIN_RE.match(s) or s.endswith(" ") or ": " in s or " #" in s
            or s.endswith(":") or re.match(r"^[-+]?[0-9][0-9_.eE+-]*$", s) or s.startswith("*")):
        return "'" + s.replace("'", "''") + "'"
    return s


def _yaml_block(value, indent):
    """Lines for a non-empty dict or list at the given indent (serde_yml style)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            key = _yaml_scalar(k)
            if isinstance(v, dict) and v:
                lines.append("%s%s:" % (pad, key))
                lines.extend(_yaml_block(v, indent + 2))
            elif isinstance(v, list) and v:
                lines.append("%s%s:" % (pad, key))
                lines.extend(_yaml_block(v, indent))
            else:
                lines.append("%s%s: %s" % (pad, key, _yaml_inline(v)))
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                sub = _yaml_block(item, indent + 2)
                sub[0] = pad + "- " + sub[0][indent + 2:]
                lines.extend(sub)
            else:
                lines.append("%s- %s" % (pad, _yaml_inline(item)))
    return lines


def _yaml_inline(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _yaml_scalar(v)


def to_yaml(obj):
    if isinstance(obj, (dict, list)) and obj:
        return "\n".join(_yaml_block(obj, 0)) + "\n"
    return _yaml_inline(obj) + "\n"


def out(s=""):
    sys.stdout.write(s + "\n")


def err(s=""):
    sys.stderr.write(s + "\n")


# --- provider types (CLI aliases + built-in profiles) ---

PROVIDER_TYPES = {
    "openai": "openai", "anthropic": "anthropic", "nvidia": "nvidia", "deepinfra": "deepinfra",
    "aws-bedrock": "aws-bedrock", "google-vertex-ai": "google-vertex-ai", "vertex": "google-vertex-ai",
    "vertex-ai": "google-vertex-ai", "google-vertex": "google-vertex-ai", "gcp-vertex": "google-vertex-ai",
    "claude-code": "claude-code", "claude": "claude-code", "claude_code": "claude-code", "codex": "codex",
    "copilot": "copilot", "opencode": "opencode", "google-cloud": "google-cloud", "gcp": "google-cloud",
    "generic": "generic", "gitlab": "gitlab", "glab": "gitlab", "github": "github", "gh": "github",
    "outlook": "outlook",
    # built-in profiles
    "aws": "aws", "aws-s3": "aws-s3", "cursor": "cursor", "pypi": "pypi",
}


def normalize_provider_type(t):
    return PROVIDER_TYPES.get((t or "").lower())
