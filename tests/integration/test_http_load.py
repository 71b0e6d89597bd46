"""The static server under load and abuse: 1,000 concurrent keep-alive
clients, slowloris, idle keep-alive timeout, graceful SIGTERM during a slow
download, running out of file descriptors, and the access log (Combined Log
Format and JSON). Every loop is bounded in count and time."""
import datetime
import errno
import json
import os
import re
import select
import selectors
import signal
import socket
import time

import pytest

from conftest import TIMEOUT
from http_util import (INDEX_BODY, ConnectionClosed, Conn, backend_args, build_request, sha256, wait_for,
                       write)

A_TXT = b"alpha\n"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    write(r / "index.html", INDEX_BODY)
    write(r / "a.txt", A_TXT)
    write(r / "range.bin", bytes(range(256)) * 4)
    return r


def http(root, *extra):
    return ["serve", "http", str(root), "--listen", "127.0.0.1:0"] + backend_args() + list(extra)


# ------------------------------------------------------- 1,000 clients

class Client:
    """A non-blocking keep-alive client that sends one request at a time and
    parses Content-Length framed responses."""

    def __init__(self, sock):
        self.sock = sock
        self.out = b""
        self.buf = bytearray()
        self.statuses = []
        self.bodies = []
        self.error = None

    def parse(self):
        i = self.buf.find(b"\r\n\r\n")
        if i < 0:
            return False
        head = bytes(self.buf[:i]).decode("latin-1")
        m = re.search(r"(?im)^content-length:\s*(\d+)\s*$", head)
        n = int(m.group(1)) if m else 0
        if len(self.buf) < i + 4 + n:
            return False
        self.statuses.append(int(head.split(" ", 2)[1]))
        self.bodies.append(bytes(self.buf[i + 4:i + 4 + n]))
        del self.buf[:i + 4 + n]
        return True


def run_keepalive_clients(port, n, per_conn, time_limit):
    """n clients connect at once; every client gets its first answer while
    all n connections are open, then each sends the rest of its requests on
    the same connection. Returns the clients."""
    sel = selectors.DefaultSelector()
    clients = []
    req = build_request("GET", "/a.txt")
    deadline = time.monotonic() + time_limit
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", port))
            assert rc in (0, errno.EINPROGRESS), os.strerror(rc)
            c = Client(s)
            c.out = req
            clients.append(c)
            sel.register(s, selectors.EVENT_WRITE, c)
        for round_no in range(per_conn):
            pending = 0
            for c in clients:
                if c.error is None and len(c.statuses) == round_no:
                    pending += 1
                    if round_no > 0:
                        c.out = req
                        sel.modify(c.sock, selectors.EVENT_WRITE, c)
            while pending and time.monotonic() < deadline:
                for key, ev in sel.select(timeout=0.5):
                    c = key.data
                    was_pending = c.error is None and len(c.statuses) == round_no
                    try:
                        if ev & selectors.EVENT_WRITE and c.out:
                            k = c.sock.send(c.out)
                            c.out = c.out[k:]
                            if not c.out:
                                sel.modify(c.sock, selectors.EVENT_READ, c)
                        elif ev & selectors.EVENT_READ:
                            data = c.sock.recv(65536)
                            if not data:
                                raise ConnectionError("EOF before response %d" % (len(c.statuses) + 1))
                            c.buf += data
                            while c.parse():
                                pass
                    except OSError as e:
                        c.error = e
                        sel.unregister(c.sock)
                    if was_pending and (c.error is not None or len(c.statuses) > round_no):
                        pending -= 1
            if pending:
                break
    finally:
        for c in clients:
            c.sock.close()
        sel.close()
    return clients


def test_1000_concurrent_keepalive_clients(server, root):
    srv = server(*http(root))
    n, per = 1000, 2
    t0 = time.monotonic()
    clients = run_keepalive_clients(srv.port(), n, per, time_limit=60)
    errors = [str(c.error) for c in clients if c.error]
    ok = sum(1 for c in clients if c.statuses == [200] * per and c.bodies == [A_TXT] * per)
    assert ok == n, "%d/%d clients got %d answers of 200; errors: %s; took %.1fs" % (
        ok, n, per, errors[:5], time.monotonic() - t0)
    # And the server is still fine afterwards.
    with Conn(srv.port()) as c:
        assert c.request("GET", "/").status == 200


# ------------------------------------------------------------ slowloris

def slowloris(port, conns, interval, limit):
    """Opens conns connections and sends one byte of a never-ending header
    block on each every interval seconds. Returns each connection's time to
    EOF/reset (None if still open after limit seconds) and any bytes the
    server sent (e.g. a 408)."""
    payload = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 1000
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        s.setblocking(False)
        socks.append(s)
    t0 = time.monotonic()
    closed_at = [None] * conns
    got = [b""] * conns
    pos = 0
    try:
        while time.monotonic() - t0 < limit and None in closed_at:
            for i, s in enumerate(socks):
                if closed_at[i] is None:
                    try:
                        s.send(payload[pos:pos + 1])
                    except OSError:
                        closed_at[i] = time.monotonic() - t0
            pos = (pos + 1) % len(payload)
            end = time.monotonic() + interval
            while time.monotonic() < end:
                live = [s for i, s in enumerate(socks) if closed_at[i] is None]
                if not live:
                    break
                r, _, _ = select.select(live, [], [], max(0, end - time.monotonic()))
                for s in r:
                    i = socks.index(s)
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        got[i] += data
                    else:
                        closed_at[i] = time.monotonic() - t0
    finally:
        for s in socks:
            s.close()
    return closed_at, got


def test_slowloris_closed_by_header_timeout(server, root):
    srv = server(*http(root, "--header-timeout", "1"))
    port = srv.port()
    closed_at, got = slowloris(port, 1, 0.3, limit=8)
    assert closed_at[0] is not None, "slowloris connection still open after 8 s"
    assert closed_at[0] <= 2.5, "closed only after %.2f s with --header-timeout 1" % closed_at[0]
    assert got[0] == b"" or got[0].startswith(b"HTTP/1.1 408"), got[0][:200]


def test_many_slowloris_do_not_block_others(server, root):
    srv = server(*http(root, "--header-timeout", "1"))
    port = srv.port()
    import threading
    result = {}

    def attack():
        result["closed"] = slowloris(port, 50, 0.3, limit=8)[0]

    t = threading.Thread(target=attack)
    t.start()
    time.sleep(0.5)
    try:
        for _ in range(5):
            with Conn(port) as c:
                t0 = time.monotonic()
                r = c.request("GET", "/a.txt")
                assert (r.status, r.body) == (200, A_TXT)
                assert time.monotonic() - t0 < 1.0
            time.sleep(0.1)
    finally:
        t.join(TIMEOUT)
    closed = result["closed"]
    assert None not in closed, "some slowloris connections were never closed"
    assert max(closed) <= 3.0, "slowest close took %.2f s" % max(closed)


def test_header_timeout_allows_a_slow_but_timely_head(server, root):
    """A head that arrives in pieces but completes within the header
    timeout is served normally."""
    srv = server(*http(root, "--header-timeout", "2"))
    with Conn(srv.port()) as c:
        c.send(b"GET /a.txt HTTP/1.1\r\n")
        time.sleep(0.5)
        c.send(b"Host: t\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, A_TXT)


# ------------------------------------------------------- idle keep-alive

def test_idle_keepalive_timeout(server, root):
    srv = server(*http(root, "--idle-timeout", "1"))
    with Conn(srv.port()) as c:
        r = c.request("GET", "/a.txt")
        assert r.status == 200 and not r.has_token("Connection", "close")
        t0 = time.monotonic()
        assert c.closed_within(5), "idle keep-alive connection still open after 5 s"
        dt = time.monotonic() - t0
        assert 0.5 <= dt <= 3.0, "closed after %.2f s with --idle-timeout 1" % dt


def test_busy_connection_outlives_idle_timeout(server, root):
    srv = server(*http(root, "--idle-timeout", "1"))
    with Conn(srv.port()) as c:
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 3.0 and n < 20:
            r = c.request("GET", "/a.txt")
            assert (r.status, r.body) == (200, A_TXT), "request %d after %.1f s" % (n, time.monotonic() - t0)
            n += 1
            time.sleep(0.4)
        assert n >= 6


# ------------------------------------------------------------- SIGTERM

@pytest.fixture
def big_root(tmp_path):
    r = tmp_path / "bigroot"
    write(r / "index.html", INDEX_BODY)
    write(r / "a.txt", A_TXT)
    data = os.urandom(20 << 20)
    write(r / "big.bin", data)
    return r, data


def slow_socket(port, rcvbuf=65536):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", port))
    return s


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, "EOF in response head"
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def test_sigterm_during_slow_download_finishes_byte_exact(server, big_root):
    root, data = big_root
    srv = server(*http(root, "-o", "sndbuf=65536"))
    s = slow_socket(srv.port())
    try:
        s.sendall(build_request("GET", "/big.bin"))
        head, body = read_head(s)
        assert head.startswith("HTTP/1.1 200"), head
        assert re.search(r"(?im)^content-length:\s*%d\s*$" % len(data), head), head
        got = bytearray(body)
        # Read slowly: about 2 MiB over a second, then SIGTERM.
        t0 = time.monotonic()
        while len(got) < (2 << 20) and time.monotonic() - t0 < 10:
            got += s.recv(32768)
            time.sleep(0.015)
        assert len(got) < len(data) // 2, "download too fast to test draining"
        srv.signal(signal.SIGTERM)
        # Keep reading slowly for a while: the server must wait for us.
        t1 = time.monotonic()
        while time.monotonic() - t1 < 1.0:
            got += s.recv(32768)
            time.sleep(0.015)
        assert srv.proc.poll() is None, "server exited with a response in flight"
        deadline = time.monotonic() + TIMEOUT
        while len(got) < len(data) and time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        assert len(got) == len(data), "got %d of %d bytes" % (len(got), len(data))
        assert sha256(bytes(got)) == sha256(data)
        # The response is complete; the server must now close, not keep alive.
        s.settimeout(TIMEOUT)
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass
    finally:
        s.close()
    assert srv.wait(TIMEOUT) == 0
    err = srv.stop()
    assert srv.proc.returncode == 0, err


def test_sigterm_request_in_flight_gets_connection_close(server, big_root):
    """A request whose head is partly received when SIGTERM arrives is
    answered, and that last response says `Connection: close`; a slow
    download keeps the server draining meanwhile."""
    root, data = big_root
    srv = server(*http(root, "-o", "sndbuf=65536"))
    port = srv.port()
    slow = slow_socket(port)
    b = Conn(port)
    try:
        slow.sendall(build_request("GET", "/big.bin"))
        read_head(slow)
        r = b.request("GET", "/a.txt")
        assert r.status == 200 and not r.has_token("Connection", "close")
        b.send(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n")
        time.sleep(0.2)
        srv.signal(signal.SIGTERM)
        time.sleep(0.3)
        b.send(b"\r\n")
        r = b.read_response()
        assert (r.status, r.body) == (200, A_TXT)
        assert r.has_token("Connection", "close"), "last response before shutdown: %r" % r
        assert b.closed_within(TIMEOUT)
        # Let the slow download finish so the server can exit.
        slow.settimeout(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                if not slow.recv(1 << 20):
                    break
            except ConnectionResetError:
                break
    finally:
        b.close()
        slow.close()
    assert srv.wait(TIMEOUT) == 0


def test_sigterm_idle_keepalive_does_not_delay_exit(server, root):
    srv = server(*http(root))  # idle timeout 60 s, drain timeout 10 s
    with Conn(srv.port()) as c:
        assert c.request("GET", "/a.txt").status == 200
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait(TIMEOUT) == 0
        assert time.monotonic() - t0 < 3.0, "an idle keep-alive connection delayed shutdown"
        assert c.closed_within(TIMEOUT)


def test_sigterm_drain_timeout_bounds_a_stalled_client(server, big_root):
    root, data = big_root
    srv = server(*http(root, "-o", "sndbuf=65536", "--drain-timeout", "1"))
    s = slow_socket(srv.port())
    try:
        s.sendall(build_request("GET", "/big.bin"))
        read_head(s)
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait(TIMEOUT)
        dt = time.monotonic() - t0
        assert rc == 0
        assert 0.5 <= dt <= 3.5, "exited %.2f s after SIGTERM with --drain-timeout 1" % dt
    finally:
        s.close()


# ---------------------------------------------------------------- EMFILE

def test_emfile_does_not_crash_and_recovers(server, root):
    srv = server(*http(root, "--max-conns", "1000"), rlimit_nofile=64)
    port = srv.port()
    sel = selectors.DefaultSelector()
    socks = []
    req = build_request("GET", "/a.txt")
    answered = 0
    try:
        for _ in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE, {"out": req, "buf": b""})
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for key, ev in sel.select(timeout=0.2):
                st = key.data
                try:
                    if ev & selectors.EVENT_WRITE:
                        k = key.fileobj.send(st["out"])
                        st["out"] = st["out"][k:]
                        if not st["out"]:
                            sel.modify(key.fileobj, selectors.EVENT_READ, st)
                    else:
                        d = key.fileobj.recv(65536)
                        if not d:
                            sel.unregister(key.fileobj)
                            continue
                        st["buf"] += d
                        if st["buf"].endswith(A_TXT) and b"\r\n\r\n" in st["buf"]:
                            if st["buf"].startswith(b"HTTP/1.1 200"):
                                answered += 1
                            sel.unregister(key.fileobj)
                except OSError:
                    sel.unregister(key.fileobj)
            assert srv.proc.poll() is None, "server died under EMFILE:\n" + srv.stop()
    finally:
        for s in socks:
            s.close()
        sel.close()
    assert srv.proc.poll() is None, "server died under EMFILE:\n" + srv.stop()
    assert answered >= 10, "only %d of 100 clients were served while fds ran out" % answered

    # Once the clients are gone, it serves again.
    def serves():
        try:
            with Conn(port, timeout=2) as c:
                return c.request("GET", "/a.txt").status == 200
        except (OSError, ConnectionClosed):
            return False

    assert wait_for(serves, TIMEOUT, interval=0.2), "server does not serve after EMFILE"
    for _ in range(20):
        with Conn(port) as c:
            r = c.request("GET", "/a.txt", {"Connection": "close"})
            assert (r.status, r.body) == (200, A_TXT)
    err = srv.stop()
    assert srv.proc.returncode == 0, err


# ------------------------------------------------------------ access log

CLF = re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) '
                 r'"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$')


def read_lines(path, errors="replace"):
    try:
        with open(str(path), "rb") as f:
            return f.read().decode("utf-8", errors).splitlines()
    except FileNotFoundError:
        return []


def test_access_log_combined(server, root, tmp_path):
    log = tmp_path / "access.log"
    # Lines from one worker keep request order; across workers they need not.
    srv = server(*http(root, "--access-log", str(log), "--workers", "1"))
    port = srv.port()
    with Conn(port) as c:
        r1 = c.request("GET", "/", {"User-Agent": "ua-test/1.0", "Referer": "http://ref.example/p"})
        r2 = c.request("GET", "/missing")
        r3 = c.request("HEAD", "/a.txt")
        r4 = c.request("GET", "/range.bin", {"Range": "bytes=0-9"})
        r5 = c.request("GET", "/a.txt", {"User-Agent": 'evil" agent'})
    with Conn(port) as c:
        c.send(b"GET /a.txt?q=1 HTTP/1.0\r\n\r\n")
        r6 = c.read_response()
    assert [r.status for r in (r1, r2, r3, r4, r5, r6)] == [200, 404, 200, 206, 200, 200]
    lines = wait_for(lambda: len(read_lines(log)) >= 6 and read_lines(log), 3.0)
    assert lines and len(lines) == 6, "access log not flushed within 3 s: %r" % read_lines(log)
    parsed = []
    for line in lines:
        m = CLF.match(line)
        assert m, "not Combined Log Format: %r" % line
        parsed.append(m.groups())
    now = datetime.datetime.now(datetime.timezone.utc)
    for g in parsed:
        assert g[0] == "127.0.0.1"
        t = datetime.datetime.strptime(g[3], "%d/%b/%Y:%H:%M:%S %z")
        assert abs((now - t).total_seconds()) < 120, g[3]
    req, status, size = [(g[4], g[5], g[6]) for g in parsed], [g[5] for g in parsed], [g[6] for g in parsed]
    assert [q for q, _, _ in req] == ["GET / HTTP/1.1", "GET /missing HTTP/1.1", "HEAD /a.txt HTTP/1.1",
                                      "GET /range.bin HTTP/1.1", "GET /a.txt HTTP/1.1",
                                      "GET /a.txt?q=1 HTTP/1.0"]
    assert status == ["200", "404", "200", "206", "200", "200"]
    assert size[0] == str(len(INDEX_BODY))
    assert size[1] == r2.get("Content-Length")
    assert size[2] in ("0", "-")
    assert size[3] == "10"
    assert parsed[0][7] == "http://ref.example/p" and parsed[0][8] == "ua-test/1.0"
    assert 'evil" agent' not in lines[4], "a quote in User-Agent must be escaped: %r" % lines[4]
    assert "evil" in parsed[4][8]
    # Flushed at exit: a request just before SIGTERM is logged.
    with Conn(port) as c:
        assert c.request("GET", "/a.txt?last=1").status == 200
    srv.stop()
    assert srv.proc.returncode == 0
    last = read_lines(log)
    assert len(last) == 7 and "/a.txt?last=1" in last[-1], last[-2:]


def test_access_log_json(server, root, tmp_path):
    log = tmp_path / "access.json"
    srv = server(*http(root, "--access-log", str(log), "--log-format", "json"))
    port = srv.port()
    with Conn(port) as c:
        assert c.request("GET", "/a.txt", {"User-Agent": "json-ua"}).status == 200
        assert c.request("GET", "/missing").status == 404
        c.send(b'GET /a.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: q"b\\s caf\xe9 \x80\r\n\r\n')
        assert c.read_response().status == 200
    lines = wait_for(lambda: len(read_lines(log)) >= 3 and read_lines(log), 3.0)
    assert lines and len(lines) == 3, "JSON log not flushed within 3 s: %r" % read_lines(log)
    try:
        lines = read_lines(log, errors="strict")
    except UnicodeDecodeError as e:
        pytest.fail("JSON access log is not valid UTF-8 (%s): %r" % (e, open(str(log), "rb").read()))
    objs = [json.loads(line) for line in lines]
    for o in objs:
        assert isinstance(o, dict)

    def field(o, *names):
        for k, v in o.items():
            if any(n in k.lower() for n in names):
                return v
        raise AssertionError("no %s field in %r" % (names, o))

    assert [int(field(o, "status")) for o in objs] == [200, 404, 200]
    assert int(field(objs[0], "bytes", "size")) == len(A_TXT)
    assert any(isinstance(v, str) and "/missing" in v for v in objs[1].values()), objs[1]
    assert any(isinstance(v, str) and "json-ua" in v for v in objs[0].values()), objs[0]
    assert any(isinstance(v, str) and 'q"b\\s' in v for v in objs[2].values()), objs[2]
    srv.stop()
    assert srv.proc.returncode == 0


def test_access_log_stdout(server, root):
    srv = server(*http(root, "--access-log", "-"))
    with Conn(srv.port()) as c:
        assert c.request("GET", "/a.txt").status == 200
    fd = srv.proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + 3
    while b"\n" not in buf and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    line = buf.split(b"\n")[0].decode()
    m = CLF.match(line)
    assert m, "no Combined Log Format line on stdout within 3 s: %r" % buf
    assert m.group(5) == "GET /a.txt HTTP/1.1" and m.group(6) == "200"


# ---------------------------------------------------------- send timeout

def test_send_timeout_closes_a_stalled_reader(server, big_root):
    root, data = big_root
    srv = server(*http(root, "-o", "sndbuf=65536", "--send-timeout", "1"))
    s = slow_socket(srv.port())
    try:
        s.sendall(build_request("GET", "/big.bin"))
        time.sleep(3.5)  # read nothing: no progress for longer than the send timeout
        n = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < TIMEOUT:
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            n += len(chunk)
        assert n < len(data), "server never gave up on a reader that made no progress"
    finally:
        s.close()
    with Conn(srv.port()) as c:
        assert c.request("GET", "/a.txt").status == 200
