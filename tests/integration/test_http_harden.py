"""Regression tests over real sockets for the hardening fixes: the body
deadline (--body-timeout) on every backend, --max-body 0 in both framings,
a redirect whose query cannot fit the head, listings that leave out links
leading outside ROOT, and the help text."""
import os
import time

import pytest

from conftest import BACKENDS, TIMEOUT, Server, backend_or_skip, run
from http_util import ConnectionClosed, Conn

SLACK = 3.0 if os.environ.get("SK_SANITIZED") == "1" else 1.5


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_bytes(b"<p>hi</p>\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.txt").write_bytes(b"a\n")
    os.symlink("/etc/passwd", tmp_path / "dir" / "outside")
    os.symlink("../index.html", tmp_path / "dir" / "inside")
    return tmp_path


def serve(site, *args, backend=None):
    extra = ["--backend", backend] if backend else []
    return Server(["serve", "http", str(site), "--listen", "127.0.0.1:0"] + list(args) + extra)


@pytest.mark.parametrize("backend", BACKENDS)
def test_body_timeout_trickle(site, backend):
    """A body trickled a byte every 100 ms is cut off --body-timeout after
    its head (absolute, not sliding), on every engine. The answer is 408
    when a byte arrives past the deadline before the engine's timer fires;
    a timer that fires first closes without one (the driver has no hook
    for a last response yet)."""
    backend_or_skip(backend)
    srv = serve(site, "--body-timeout", "1", "--header-timeout", "30", backend=backend)
    try:
        with Conn(srv.port()) as c:
            c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
            start = time.monotonic()
            closed = False
            while time.monotonic() - start < 1 + SLACK:
                try:
                    c.send(b"x")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                c.sock.settimeout(0.1)
                try:
                    data = c.sock.recv(65536)
                except (TimeoutError, OSError):
                    continue
                finally:
                    c.sock.settimeout(TIMEOUT)
                if data:
                    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
                    assert b"\r\nConnection: close\r\n" in data
                closed = True
                break
            assert closed, "still open %.1f s after the head" % (time.monotonic() - start)
            assert time.monotonic() - start >= 0.9
    finally:
        srv.stop()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stalled", [
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
    b"GET / HTTP/1.1\r\nHost: t\r\nX-Half: ",
])
def test_stalled_body_or_head_gets_408(site, backend, stalled):
    """A body (or head) that stops arriving is answered 408 and closed at
    its deadline, on every engine, without waiting for another byte."""
    backend_or_skip(backend)
    srv = serve(site, "--body-timeout", "1", "--header-timeout", "1", backend=backend)
    try:
        with Conn(srv.port()) as c:
            c.send(stalled)
            start = time.monotonic()
            r = c.read_response()
            assert r.status == 408
            assert r.has_token("Connection", "close")
            assert time.monotonic() - start >= 0.9
            assert c.closed_within(1 + SLACK + 1)
    finally:
        srv.stop()


@pytest.mark.parametrize("body", [
    b"Content-Length: 5\r\n\r\nhello",
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
])
def test_max_body_zero(site, body):
    """--max-body 0: no request body is accepted, whatever its framing."""
    srv = serve(site, "--max-body", "0")
    try:
        with Conn(srv.port()) as c:
            c.send(b"POST / HTTP/1.1\r\nHost: t\r\n" + body)
            r = c.read_response()
            assert r.status == 413
            assert c.closed_within(TIMEOUT)
    finally:
        srv.stop()


def test_redirect_long_query(site):
    """The directory redirect copies the query into Location; one too long
    for the head gets a whole 414 and a close, never a head cut short."""
    srv = serve(site)
    try:
        with Conn(srv.port()) as c:
            c.send(b"GET /dir?" + b"q" * 4000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            assert r.status == 414
            assert r.get("Connection") == "close"
            assert c.closed_within(TIMEOUT)
        with Conn(srv.port()) as c:
            r = c.request("GET", "/dir?" + "q" * 100)
            assert r.status == 301
            assert r.get("Location") == "/dir/?" + "q" * 100
    finally:
        srv.stop()


def test_listing_hides_links_outside_root(site):
    srv = serve(site, "--list-dirs")
    try:
        with Conn(srv.port()) as c:
            r = c.request("GET", "/dir/")
            assert r.status == 200
            assert b"outside" not in r.body
            assert b'<a href="inside">inside</a></td><td>10</td>' in r.body
    finally:
        srv.stop()


def test_help_names_body_timeout():
    out = run(["serve", "http", "--help"])
    assert out.returncode == 0
    assert b"--body-timeout S" in out.stdout
    assert b"0: no request body accepted" in out.stdout
