"""The fork server behind bin/openshell (see client.py): the CLI imported once, a fork per call.

Started by the first client that finds no server, in its own session with an empty environment.
It serves only its own user (SO_PEERCRED), reaps its children (so their CPU time shows in its
``cutime``/``cstime``, which benchmarks/ read) and exits after ``IDLE`` seconds without a call.
"""
import os
import signal
import socket
import sys
import time

IDLE = 300.0
MAX_REQUEST = 16 * 1024 * 1024


def serve(name):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("\0" + name)  # abstract: nothing to clean up
    except OSError:
        return  # another client started it first
    server.listen(256)
    # Imported after listening, so that clients queue instead of starting more servers.
    import http.client  # noqa: F401  pylint: disable=unused-import
    import io  # noqa: F401
    import json  # noqa: F401
    import struct
    import threading  # noqa: F401
    import traceback  # noqa: F401

    from openshell_sim import cli, grammar, policy, util  # noqa: F401

    uid = os.getuid()
    server.settimeout(1.0)
    children = 0
    last = time.monotonic()
    while True:
        while children:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children = 0
                break
            if not pid:
                break
            children -= 1
        if not children and time.monotonic() - last > IDLE:
            return
        try:
            conn, _address = server.accept()
        except socket.timeout:
            continue
        except OSError:
            time.sleep(0.01)
            continue
        last = time.monotonic()
        conn.setblocking(True)
        try:
            peer_uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        except OSError:
            peer_uid = -1
        if peer_uid != uid:
            conn.close()
            continue
        try:
            pid = os.fork()
        except OSError:
            conn.close()  # the client sees no status and says so
            continue
        if pid == 0:
            server.close()
            status = 1
            try:
                status = child(conn)
            finally:
                os._exit(status)
        conn.close()
        children += 1


def _receive(conn):
    """(request bytes, [fd, fd, fd]) or None when the client went away before a whole request."""
    fd_size = socket.CMSG_SPACE(3 * 4)
    data, ancillary, _flags, _addr = conn.recvmsg(65536, fd_size)
    fds = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, len(payload) - len(payload) % 4, 4))
    while len(data) < 8:
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    length = int.from_bytes(data[:8], "big")
    if length > MAX_REQUEST or len(fds) != 3:
        return None
    chunks = [data[8:]]
    have = len(chunks[0])
    while have < length:
        more = conn.recv(min(1 << 20, length - have))
        if not more:
            return None
        chunks.append(more)
        have += len(more)
    return b"".join(chunks), fds


def child(conn):
    """Become the client's CLI process and run the call; returns this process's exit status."""
    import io
    import threading
    import traceback

    from openshell_sim import cli, grammar

    got = _receive(conn)
    if got is None:
        return 1
    body, fds = got
    conn.sendall(b"R")  # client.ACCEPTED: from here on the call counts as run
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    argv, env, cwd, umask = [], {}, b"/", 0o022
    for field in body.split(b"\0"):
        tag, value = field[:1], field[1:]
        if tag == b"A":
            argv.append(os.fsdecode(value))
        elif tag == b"E":
            key, _sep, val = value.partition(b"=")
            env[key] = val
        elif tag == b"C":
            cwd = value
        elif tag == b"U":
            umask = int(value)
    os.environ.clear()
    for key, val in env.items():
        os.environb[key] = val
    os.umask(umask)
    os.chdir(cwd)
    grammar.apply_version()  # imported by the server, under its own (empty) environment
    # The streams a fresh interpreter would open on these descriptors (UTF-8, as the real CLI writes).
    sys.stdin = io.TextIOWrapper(io.open(0, "rb", closefd=False), encoding="utf-8", errors="surrogateescape")
    sys.stdout = io.TextIOWrapper(io.open(1, "wb", closefd=False), encoding="utf-8", errors="surrogateescape")
    sys.stderr = io.TextIOWrapper(io.open(2, "wb", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True)

    def watch():
        # The client closes the connection only after it has the status, or when it is killed:
        # then this call dies with it, as a killed CLI process does.
        try:
            conn.recv(1)
        except OSError:
            pass
        os._exit(137)

    threading.Thread(target=watch, daemon=True).start()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        rc = cli.main(argv)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # pylint: disable=broad-except
        traceback.print_exc()
        rc = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pylint: disable=broad-except
            pass
    conn.sendall(int(rc & 0xFF).to_bytes(4, "big"))
    return 0
