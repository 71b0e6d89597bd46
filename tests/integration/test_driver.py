"""The connection driver (src/core/conn.c) as a demanding client sees it, on
every engine, over plain TCP and over TLS: requests already received are
answered even when the peer has ended its side, and nothing stalls or spins.
"""
import os
import signal
import socket
import ssl
import time

import pytest

from conftest import BACKENDS, TIMEOUT, backend_or_skip

BIG = 2 << 20


def tls_built():
    import subprocess
    from conftest import SOCKKIT
    r = subprocess.run([SOCKKIT, "serve", "echo", "tls://127.0.0.1:0"], capture_output=True,
                       timeout=TIMEOUT)
    return b"not built in" not in r.stderr


needs_tls = pytest.mark.skipif(not tls_built(), reason="built without OpenSSL")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("site")
    with open(d / "index.html", "wb") as f:
        f.write(b"small\n")
    with open(d / "big.bin", "wb") as f:
        f.write(os.urandom(BIG))
    return str(d)


def open_stream(srv, kind):
    """A connected socket to srv's plain or TLS listener (TLS unverified:
    the certificate is self-signed)."""
    prefix = "tls://" if kind == "tls" else "tcp://"
    port = int(srv.ep(prefix).rsplit(":", 1)[1])
    raw = socket.socket()
    # A small receive buffer keeps most of a large reply queued in the
    # server rather than in the kernel.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    raw.settimeout(TIMEOUT)
    raw.connect(("127.0.0.1", port))
    if kind == "plain":
        return raw
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(raw, server_hostname="localhost")


def tcp_half_close(s):
    """shutdown(SHUT_WR) on the socket under s (for TLS: the end of the
    stream without close_notify, which the server takes as the peer's end
    too)."""
    with socket.socket(fileno=os.dup(s.fileno())) as dup:
        dup.shutdown(socket.SHUT_WR)


def read_to_close(s):
    buf = bytearray()
    while True:
        try:
            chunk = s.recv(65536)
        except ssl.SSLError:
            break
        if not chunk:
            return bytes(buf)
        buf += chunk
    return bytes(buf)


@pytest.mark.parametrize("kind", ["plain", pytest.param("tls", marks=needs_tls)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_pipelined_request_survives_half_close(server, site, backend, kind):
    """Two pipelined requests, then the client ends its side at once. The
    first reply is far above the output high-water mark, so the second
    request waits in the input buffer; the client then stops reading while
    the last ~100 KiB of the first reply are still queued in the server, so
    the server sees the end of stream with that request unanswered. It must
    still be answered before the server closes."""
    backend_or_skip(backend)
    # Small socket buffers on both sides keep the tail of the reply in the
    # server's queue rather than in the kernel's.
    srv = server("serve", "http", site, "--listen", "127.0.0.1:0", "--listen",
                 "tls://127.0.0.1:0", "--self-signed", "--workers", "1", "--backend", backend,
                 "-o", "sndbuf=32768")
    for _ in range(2):
        s = open_stream(srv, kind)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        tcp_half_close(s)
        data = bytearray()
        while len(data) < BIG - 200000:
            chunk = s.recv(65536)
            assert chunk, len(data)
            data += chunk
        time.sleep(0.3)
        data += read_to_close(s)
        s.close()
        assert data.count(b"HTTP/1.1 200 OK") == 2, (len(data), bytes(data[-200:]))
        assert data.endswith(b"small\n")


@pytest.mark.parametrize("kind", ["plain", pytest.param("tls", marks=needs_tls)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_drain_timeout_is_the_reason_logged(server, site, backend, kind):
    """A download still running at the drain timeout is cut, and -v says
    that the drain timeout closed it (not a reset by the peer, which is
    what the forced shutdown looks like from inside the connection)."""
    backend_or_skip(backend)
    srv = server("serve", "http", site, "--listen", "127.0.0.1:0", "--listen",
                 "tls://127.0.0.1:0", "--self-signed", "--workers", "1", "--backend", backend,
                 "--drain-timeout", "0.5", "-o", "sndbuf=32768", "-v")
    s = open_stream(srv, kind)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 200 OK")
    srv.signal(signal.SIGTERM)
    assert srv.wait() == 0
    s.close()
    err = srv.stop()
    closes = [l for l in err.splitlines() if ": closed (" in l]
    assert len(closes) == 1 and "closed (drain timeout)" in closes[0], err
