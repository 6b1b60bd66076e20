"""bin/openshell's entry point: run the CLI in a process forked from a warm server.

The real ``openshell`` is a native binary that costs a few milliseconds per call; a fresh Python
process that imports the simulator's CLI costs 20-30 ms of CPU, most of it imports. So by default
this client hands the call to a per-user fork server (``forkserver.py``) that has the CLI imported:
it sends its argv, environment, working directory and umask and passes its own stdin, stdout and
stderr (SCM_RIGHTS), and the forked child acknowledges the request (one byte), runs ``cli.main`` on
exactly those, then returns the exit status. What the caller sees (output, exit status, call log,
files written) is what the direct run produces; when the client is killed, the child dies with it.
The client stays alive for the whole call, so its argv is in /proc like a real CLI's.

The direct run (import the CLI here) is used when the server cannot be reached (it is then started
for the next calls) or closes the connection unacknowledged (nothing ran), when a standard stream is
a terminal (interactive use), and always with ``OPENSHELL_SIM_FORKSERVER=0``. Only stdlib modules
that are built in or frozen are imported on the fast path.
"""
import os
import sys

LENGTH = 8  # bytes of the request's length prefix
ACCEPTED = b"R"  # the child's first byte: it has the whole request (protocol of forkserver.py)


def server_name(lib):
    """The server's abstract socket name (without its leading NUL): one per user, interpreter and
    version of the package's code."""
    pkg = os.path.join(lib, "openshell_sim")
    parts = [sys.executable, os.path.realpath(pkg)]
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(pkg, name))
            parts.append("%s:%d:%d" % (name, st.st_mtime_ns, st.st_size))
    digest = 0xCBF29CE484222325  # FNV-1a: hashlib costs an import, and this only names a socket
    for byte in "\0".join(parts).encode("utf-8", "surrogateescape"):
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "openshell-sim-cli-%d-%016x" % (os.getuid(), digest)


def request(argv, umask):
    """The request's bytes: NUL-separated fields, each tagged by its first byte."""
    fields = [b"C" + os.getcwdb(), b"U%d" % umask]
    fields.extend(b"A" + os.fsencode(a) for a in argv)
    fields.extend(b"E" + k + b"=" + v for k, v in os.environb.items())
    body = b"\0".join(fields)
    return len(body).to_bytes(LENGTH, "big") + body


def _streams_ok():
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            return False
        if os.isatty(fd):
            return False
    return True


def _remote(lib, argv):
    """The exit status from the fork server, or None when the call has to run here."""
    import _socket  # built in; the socket module would import enum, selectors and more

    name = server_name(lib)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect("\0" + name)
    except OSError:
        sock.close()
        spawn(lib, name)
        return None
    try:
        umask = os.umask(0)
        os.umask(umask)
        data = request(argv, umask)
        fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
        sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        while sent < len(data):
            sent += sock.send(data[sent:])
    except OSError:
        # Nothing has run yet if the server never took the request: the direct run is safe.
        sock.close()
        return None
    # The child acknowledges the whole request before it runs anything: without that byte (a server that
    # was exiting when it queued this connection) nothing has run, and the direct run is safe.
    try:
        if _read(sock, 1) != ACCEPTED:
            sock.close()
            return None
    except OSError:
        sock.close()
        return None
    except KeyboardInterrupt:
        return 130
    try:
        status = _read(sock, 4)
    except OSError:
        status = b""
    except KeyboardInterrupt:
        return 130
    if len(status) < 4:
        os.write(2, b"openshell simulator: the CLI process ended without an exit status\n")
        return 1
    return int.from_bytes(status, "big")


def _read(sock, size):
    """Up to ``size`` bytes: fewer only at the end of the stream."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def spawn(lib, name):
    """Start the fork server in the background: its own session, no inherited files, empty environment."""
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)
        os.chdir("/")
        code = "import sys; sys.path.insert(0, sys.argv[1]); from openshell_sim.forkserver import serve; serve(sys.argv[2])"
        os.execve(sys.executable, [sys.executable, "-I", "-S", "-c", code, lib, name], {})
    finally:
        os._exit(127)


def main(lib, argv):
    if os.environ.get("OPENSHELL_SIM_FORKSERVER", "1") != "0" and _streams_ok():
        rc = _remote(lib, argv)
        if rc is not None:
            return rc
    from openshell_sim.cli import main as cli_main

    return cli_main(argv)
