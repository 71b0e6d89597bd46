"""The connection driver's rules, held on every engine (epoll, poll,
select, io_uring and thread-per-connection): phase deadlines checked after
every read (a trickling client cannot outlive --header-timeout), pipelined
input bounded when the client does not read its replies, and a drain that
times out with connections still sending. Every loop is bounded."""
import os
import signal
import socket
import time

import pytest

from conftest import TIMEOUT, backend_or_skip
from http_util import INDEX_BODY, Conn, write

ENGINES = ["epoll", "poll", "select", "uring", "threads"]
A_TXT = b"alpha\n"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    write(r / "index.html", INDEX_BODY)
    write(r / "a.txt", A_TXT)
    write(r / "big.bin", os.urandom(1 << 20) * 8)
    return r


def http(root, engine, *extra):
    backend_or_skip(engine)
    return ["serve", "http", str(root), "--listen", "127.0.0.1:0", "--backend", engine,
            "--workers", "1"] + list(extra)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("engine", ENGINES)
def test_trickling_head_closed_by_header_timeout(server, root, engine):
    """One byte every 100 ms never completes a head: the connection is
    closed at --header-timeout, not when the trickle stops."""
    srv = server(*http(root, engine, "--header-timeout", "1"))
    s = socket.create_connection(("127.0.0.1", srv.port()), timeout=TIMEOUT)
    t0 = time.monotonic()
    closed_after = None
    try:
        for b in (b"GET /a.txt HTTP/1.1\r\nX-Pad: " + b"a" * 200):
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed_after = time.monotonic() - t0
                break
            s.settimeout(0.1)
            try:
                data = s.recv(4096)
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    closed_after = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except OSError:
                closed_after = time.monotonic() - t0
                break
            if time.monotonic() - t0 > 6:
                break
    finally:
        s.close()
    assert closed_after is not None, "a trickling client kept its connection for 6 s"
    assert closed_after <= 2.5, "closed after %.2f s with --header-timeout 1" % closed_after
    # The server still answers.
    with Conn(srv.port()) as c:
        r = c.request("GET", "/a.txt")
        assert (r.status, r.body) == (200, A_TXT)


@pytest.mark.parametrize("engine", ENGINES)
def test_pipelining_without_reading_is_bounded(server, root, engine):
    """A client pipelines requests for a large file and never reads: the
    server stops reading instead of buffering the requests, its memory stays
    flat, and other clients are served."""
    srv = server(*http(root, engine))
    pid = srv.proc.pid
    before = rss_kib(pid)
    s = socket.create_connection(("127.0.0.1", srv.port()), timeout=TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n" * 64
    sent = 0
    s.setblocking(False)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and sent < 64 << 20:
        try:
            sent += s.send(req)
        except BlockingIOError:
            time.sleep(0.01)
    try:
        # The server stopped taking requests long before 64 MiB of them.
        assert sent < 16 << 20, "the server read %d bytes of unanswered requests" % sent
        grown = rss_kib(pid) - before
        assert grown < 32 * 1024, "server RSS grew by %d KiB" % grown
        with Conn(srv.port()) as c:
            r = c.request("GET", "/a.txt")
            assert (r.status, r.body) == (200, A_TXT)
    finally:
        s.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_drain_timeout_with_a_stalled_download(server, root, engine):
    """SIGTERM while a client stalls mid-download: the server waits
    --drain-timeout, closes it, and exits cleanly (under ASan: without
    touching freed configuration)."""
    srv = server(*http(root, engine, "--drain-timeout", "1"))
    s = socket.create_connection(("127.0.0.1", srv.port()), timeout=TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.3)
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    try:
        rc = srv.wait(timeout=8)
    finally:
        s.close()
    assert rc == 0
    took = time.monotonic() - t0
    assert took < 6, "exit took %.2f s with --drain-timeout 1" % took
    err = srv.stop()
    assert "drain timeout" in err, err
