"""`sockkit get` against `sockkit serve http` and independent servers:
Python's http.server (chunked, stalling, closing and resetting mid-body,
redirects, compression), nginx (keep-alive reuse, Range), raw sockets (full
accept queue, silent TLS peer, TLS on an http URL), a Unix listener, and
https with a self-signed certificate and a test CA. Every diagnosis line the
client can print is produced and asserted here."""
import datetime
import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import zlib

import pytest

from conftest import SOCKKIT, TIMEOUT


def get(*args, timeout=TIMEOUT):
    return subprocess.run([SOCKKIT, "get"] + [str(a) for a in args], capture_output=True,
                          timeout=timeout)


def tls_built_in():
    r = get("https://127.0.0.1:1/")
    return b"not built in" not in r.stderr


needs_tls = pytest.mark.skipif(not tls_built_in(), reason="sockkit built without TLS")


def err_line(r):
    """The one diagnosis line (stderr without -v)."""
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- Python http.server peer --------------------------------------------------

BIG = os.urandom(1 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stop = None  # threading.Event set when the test ends

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path
        if path == "/hello":
            self.send(200, b"hello\n")
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5;ext=1;q=\"a,b\"\r\nhello\r\n7\r\n world\n\r\n"
                             b"0\r\nX-Trailer: t\r\n\r\n")
        elif path == "/bad-chunk":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\nzz\r\n")
            self.wfile.flush()
            self.close_connection = True
        elif path == "/never":
            self.stop.wait(30)
            self.close_connection = True
        elif path in ("/midbody", "/reset"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            time.sleep(0.1)
            if path == "/reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR) if path == "/midbody" else None
            self.connection.close()
            self.close_connection = True
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"y" * 500)
            self.wfile.flush()
            self.stop.wait(30)
            self.close_connection = True
        elif path.startswith("/r/"):
            n = int(path[3:])
            if n == 0:
                self.send(200, b"arrived\n")
            else:
                self.send(302, b"", [("Location", "/r/%d" % (n - 1))])
        elif path == "/rel/a/b":
            self.send(301, b"moved", [("Location", "../c?x=1")])
        elif path == "/rel/c?x=1":
            self.send(200, b"relative ok\n")
        elif path == "/downgrade":
            self.send(302, b"", [("Location", self.plain_base + "/hello")])
        elif path == "/loop":
            self.send(307, b"", [("Location", "/loop")])
        elif path == "/gzip":
            self.send(200, gzip.compress(b"compressed hello\n" * 100),
                      [("Content-Encoding", "gzip")])
        elif path == "/deflate":
            self.send(200, zlib.compress(b"deflated hello\n" * 100),
                      [("Content-Encoding", "deflate")])
        elif path == "/excess":
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"helloEXTRA")
        elif path == "/echo-headers":
            self.send(200, str(self.headers).encode())
        elif path in ("/bighead", "/manyheaders"):
            self.send_response(200)
            big = path == "/bighead"
            for i in range(40 if big else 150):
                self.send_header("X-Filler-%d" % i, "v" * (2000 if big else 8))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/status/"):
            self.send(int(path[8:]), b"status body\n")
        elif path == "/big":
            self.send(200, BIG)
        elif path == "/close-delimited":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end\n")
            self.close_connection = True
        else:
            self.send(404, b"not found\n")


@pytest.fixture
def py():
    """A threaded http.server on loopback; yields its base URL."""
    stop = threading.Event()
    handler = type("H", (Handler,), {"stop": stop})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    stop.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def www(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "a.txt").write_bytes(b"hello from sockkit\n")
    (root / "kb.bin").write_bytes(bytes(range(256)) * 4)
    return root


@pytest.fixture
def sk_http(server, www):
    s = server("serve", "http", str(www), "--listen", "127.0.0.1:0")
    return "http://127.0.0.1:%d" % s.port()


# --- basics against sockkit serve http ------------------------------------------

def test_body_to_stdout_and_reuse(sk_http):
    r = get("-v", sk_http + "/a.txt", sk_http + "/kb.bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from sockkit\n" + bytes(range(256)) * 4
    err = r.stderr.decode()
    port = sk_http.rsplit(":", 1)[1]
    assert re.search(r"resolved 127\.0\.0\.1 to 1 address in [\d.]+ ms: 127\.0\.0\.1:%s" % port,
                     err)
    assert "trying 127.0.0.1:%s" % port in err
    assert re.search(r"connected to 127\.0\.0\.1:%s in [\d.]+ ms" % port, err)
    assert re.search(r"connection: local 127\.0\.0\.1:\d+, remote 127\.0\.0\.1:%s" % port, err)
    assert "> GET /a.txt HTTP/1.1" in err and "> Host: 127.0.0.1:%s" % port in err
    assert "< HTTP/1.1 200 OK" in err
    assert "reusing connection to 127.0.0.1:%s" % port in err
    assert len(re.findall(r"timings: dns [\d.]+ ms, connect [\d.]+ ms, tls -, ttfb [\d.]+ ms, "
                          r"total [\d.]+ ms", err)) == 2


def test_tcp_info(sk_http):
    r = get("--tcp-info", sk_http + "/a.txt", sk_http + "/a.txt")
    assert r.returncode == 0
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert re.fullmatch(r"tcp_info: rtt [\d.]+ ms, rttvar [\d.]+ ms, retransmits \d+, "
                            r"snd_cwnd \d+, total_retrans \d+", line), line


def test_ipv6_and_family(server, www):
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    s = server("serve", "http", str(www), "--listen", "[::1]:0")
    port = s.port()
    r = get("-v", "http://[::1]:%d/a.txt" % port)
    assert r.returncode == 0 and r.stdout == b"hello from sockkit\n"
    assert "connection: local [::1]:" in r.stderr.decode()
    assert "> Host: [::1]:%d" % port in r.stderr.decode()
    r = get("-4", "http://localhost:%d/a.txt" % port)
    assert err_line(r) == "sockkit get: http://localhost:%d/a.txt: connection refused by " \
                          "127.0.0.1:%d (nothing listens there)" % (port, port)


def test_include_head_and_headers(sk_http, py):
    r = get("-i", sk_http + "/a.txt")
    assert r.returncode == 0
    head, body = r.stdout.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 19" in head
    assert body == b"hello from sockkit\n"
    r = get("-I", sk_http + "/a.txt")
    assert r.returncode == 0 and r.stdout.endswith(b"\r\n\r\n")
    assert b"Content-Length: 19" in r.stdout
    r = get("-H", "X-One: 1", "-H", "X-Two:  two words", "-A", "probe/1.0", "-H", "Accept:",
            "-H", "X-Empty;", py + "/echo-headers")
    assert r.returncode == 0
    h = r.stdout.decode()
    assert "X-One: 1" in h and "X-Two: two words" in h and "User-Agent: probe/1.0" in h
    assert "X-Empty: " in h
    assert not re.search(r"(?im)^accept:", h)  # the default header was removed
    r = get("-H", "Bad Header: x", sk_http + "/a.txt")
    assert r.returncode == 2 and b"expected 'Name: value'" in r.stderr


def test_json(sk_http):
    r = get("--json", sk_http + "/a.txt", sk_http + "/missing")
    assert r.returncode == 0
    a, b = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert a["status"] == 200 and a["body_bytes"] == 19 and a["reused"] is False
    assert a["headers"]["Content-Length"] == "19"
    assert a["remote"] == sk_http[7:] and a["local"].startswith("127.0.0.1:")
    assert set(a["timings_ms"]) == {"dns", "connect", "tls", "ttfb", "total"}
    assert b["status"] == 404 and b["reused"] is True
    port = free_port()
    r = get("--json", "http://127.0.0.1:%d/" % port)
    assert r.returncode == 1
    j = json.loads(r.stdout)
    assert j["error"] == "connection refused by 127.0.0.1:%d (nothing listens there)" % port
    assert "status" not in j
    assert err_line(r).endswith(j["error"])  # the same sentence on stderr


def test_output_file_and_remote_name(sk_http, tmp_path):
    out = tmp_path / "dl" / "copy.bin"
    out.parent.mkdir()
    r = get("-o", out, sk_http + "/kb.bin")
    assert r.returncode == 0 and r.stdout == b""
    assert out.read_bytes() == bytes(range(256)) * 4
    assert os.listdir(out.parent) == ["copy.bin"]
    r = subprocess.run([SOCKKIT, "get", "-O", sk_http + "/a.txt"], cwd=tmp_path,
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0 and (tmp_path / "a.txt").read_bytes() == b"hello from sockkit\n"
    r = get("-o", "-", "-i", "-o", out, sk_http + "/a.txt", sk_http + "/a.txt")
    assert r.returncode == 0
    assert r.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert r.stdout.endswith(b"\r\n\r\nhello from sockkit\n")
    assert out.read_bytes().startswith(b"HTTP/1.1 200 OK\r\n")
    assert out.read_bytes().endswith(b"\r\n\r\nhello from sockkit\n")
    r = get("-O", sk_http + "/")
    assert r.returncode == 1
    assert "-O needs a file name at the end of the URL's path (use -o FILE)" in err_line(r)


def test_fail_and_status(sk_http, py):
    r = get(sk_http + "/missing")
    assert r.returncode == 0 and b"404" in r.stdout
    r = get("-f", py + "/status/503")
    assert r.returncode == 22 and r.stdout == b""
    assert err_line(r) == "sockkit get: %s/status/503: the server answered 503 Service " \
                          "Unavailable (--fail)" % py
    r = get("--help")
    assert b"exit 22" in r.stdout


def test_unix_socket(server, www, tmp_path):
    path = tmp_path / "http.sock"
    server("serve", "http", str(www), "--listen", "unix:%s" % path)
    r = get("-v", "--unix-socket", path, "http://example.test/a.txt",
            "http://example.test/kb.bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"hello from sockkit\n")
    err = r.stderr.decode()
    assert "> Host: example.test" in err
    assert "reusing connection to %s" % path in err
    r = get("--unix-socket", tmp_path / "nothing.sock", "http://x/")
    assert err_line(r) == "sockkit get: http://x/: cannot connect to Unix socket %s: no such " \
                          "file (is the server running?)" % (tmp_path / "nothing.sock")


# --- Python http.server: framing, failures, redirects -------------------------

def test_chunked(py):
    r = get(py + "/chunked")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello world\n"
    r = get(py + "/bad-chunk")
    assert r.returncode == 1 and r.stdout == b"hello"
    assert err_line(r) == "sockkit get: %s/bad-chunk: malformed chunked body from %s after 5 " \
                          "body bytes (chunked, unfinished)" % (py, py[7:])


def test_close_delimited_and_compressed(py):
    r = get(py + "/close-delimited")
    assert r.returncode == 0 and r.stdout == b"until the end\n"
    r = get("--compressed", py + "/gzip", py + "/deflate")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"compressed hello\n" * 100 + b"deflated hello\n" * 100
    r = get(py + "/gzip")  # without --compressed: the bytes as sent
    assert gzip.decompress(r.stdout) == b"compressed hello\n" * 100


def test_closed_mid_body_leaves_no_file(py, tmp_path):
    out = tmp_path / "partial.bin"
    r = get("-o", out, py + "/midbody")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/midbody: the server closed the connection after " \
                          "1000 of 100000 body bytes" % py
    assert os.listdir(tmp_path) == []
    r = get("-o", out, py + "/reset")
    assert r.returncode == 1
    line = err_line(r)
    assert line in ("sockkit get: %s/reset: the server reset the connection after 1000 of "
                    "100000 body bytes" % py,
                    "sockkit get: %s/reset: the server closed the connection after 1000 of "
                    "100000 body bytes" % py)
    assert os.listdir(tmp_path) == []


def test_interrupted_download_leaves_no_file(py, tmp_path):
    out = tmp_path / "partial.bin"
    p = subprocess.Popen([SOCKKIT, "get", "-o", str(out), py + "/stall"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT
    while not os.listdir(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(os.listdir(tmp_path)) == 1  # the temporary file, not partial.bin
    assert not out.exists()
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    assert p.wait(TIMEOUT) == -signal.SIGINT
    p.stdout.close()
    p.stderr.close()
    assert os.listdir(tmp_path) == []


def test_longer_than_content_length(py, tmp_path):
    out = tmp_path / "x"
    r = get("-o", out, py + "/excess")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/excess: the server sent 5 bytes more than the " \
                          "response's length (Content-Length 5)" % py
    assert os.listdir(tmp_path) == []


def test_timeouts(py):
    t = time.monotonic()
    r = get("--read-timeout", "0.5", py + "/never")
    assert r.returncode == 1 and time.monotonic() - t < 5
    assert err_line(r) == "sockkit get: %s/never: no response from %s within 0.5 s " \
                          "(--read-timeout)" % (py, py[7:])
    r = get("--read-timeout", "0.5", py + "/stall")
    assert err_line(r) == "sockkit get: %s/stall: no data from the server for 0.5 s " \
                          "(--read-timeout) after 500 of 100000 body bytes" % py
    r = get("-m", "0.6", py + "/stall")
    assert err_line(r) == "sockkit get: %s/stall: gave up after 0.6 s (--max-time) with 500 " \
                          "of 100000 body bytes" % py
    r = get("-m", "0.5", py + "/never")
    assert err_line(r) == "sockkit get: %s/never: gave up after 0.5 s (--max-time) waiting " \
                          "for the response" % py


def test_redirects(py):
    r = get("-L", "-v", py + "/r/3")
    assert r.returncode == 0 and r.stdout == b"arrived\n"
    assert r.stderr.decode().count("following the redirect (302) to ") == 3
    r = get("-L", py + "/rel/a/b")
    assert r.returncode == 0 and r.stdout == b"relative ok\n"
    r = get(py + "/r/1")
    assert r.returncode == 0 and r.stdout == b""
    r = get("-L", "--max-redirs", "2", py + "/r/3")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/r/3: too many redirects (more than 2, " \
                          "--max-redirs); the last one pointed to %s/r/0" % (py, py)
    r = get("-L", py + "/loop")
    assert "too many redirects (more than 10, --max-redirs)" in err_line(r)


def test_head_too_large(py):
    r = get(py + "/bighead")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/bighead: response head too large (over 65536 " \
                          "bytes)" % py
    r = get(py + "/manyheaders")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/manyheaders: too many header fields in the " \
                          "response from %s" % (py, py[7:])


def test_progress_bar_only_when_asked(py, tmp_path):
    r = get("-o", tmp_path / "big", py + "/big")
    assert r.returncode == 0 and r.stderr == b""
    assert (tmp_path / "big").read_bytes() == BIG
    r = get("--progress", "-o", tmp_path / "big2", py + "/big")
    assert r.returncode == 0
    assert re.search(rb"100\.0%  1\.0 MiB of 1\.0 MiB  [\d.]+ [KMG]?i?B/s", r.stderr), r.stderr


def run_on_tty(args):
    """Runs sockkit get with stderr on a pseudo-terminal; returns what the
    terminal showed."""
    import pty
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([SOCKKIT, "get"] + [str(a) for a in args],
                             stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert p.wait(TIMEOUT) == 0
        return out
    finally:
        os.close(master)


def test_progress_bar_on_terminal(py, tmp_path):
    shown = run_on_tty(["-o", tmp_path / "big", py + "/big"])
    assert re.search(rb"\r100\.0%  1\.0 MiB of 1\.0 MiB  [\d.]+ [KMG]?i?B/s", shown), shown
    assert (tmp_path / "big").read_bytes() == BIG
    # A small body draws nothing, even on a terminal.
    assert run_on_tty([py + "/hello"]) == b""


# --- connection failures -------------------------------------------------------------

def test_refused_and_name_not_found():
    port = free_port()
    r = get("http://127.0.0.1:%d/" % port)
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: http://127.0.0.1:%d/: connection refused by " \
                          "127.0.0.1:%d (nothing listens there)" % (port, port)
    r = get("http://no-such-host.invalid/")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: http://no-such-host.invalid/: cannot resolve host " \
                          "name 'no-such-host.invalid': name not found"
    r = get("-4", "http://[::1]:%d/" % port)
    assert r.returncode == 1 and "IPv6 address but IPv4 was asked for" in err_line(r)


def test_max_time_bounds_name_resolution(tmp_path):
    """A nameserver that never answers: --max-time still holds. The test
    gives sockkit its own resolv.conf in a private mount namespace and runs
    the silent nameserver on a loopback UDP port."""
    if os.getuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private resolv.conf")
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        dns.bind(("127.0.0.1", 53))
    except OSError:
        dns.close()
        pytest.skip("loopback port 53 is taken")
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions timeout:5 attempts:3\n")
    try:
        t = time.monotonic()
        r = subprocess.run(["unshare", "-m", "sh", "-c",
                            'mount --bind "$1" /etc/resolv.conf && exec "$2" get -m 0.5 '
                            'http://silent-dns.example/', "sh", str(conf), SOCKKIT],
                           capture_output=True, timeout=TIMEOUT)
        took = time.monotonic() - t
    finally:
        dns.close()
    if b"mount" in r.stderr and r.returncode != 1:
        pytest.skip("cannot bind-mount in a private namespace here: %r" % r.stderr)
    assert r.returncode == 1 and took < 3, (took, r.stderr)
    assert err_line(r) == "sockkit get: http://silent-dns.example/: gave up after 0.5 s " \
                          "(--max-time) resolving the host name 'silent-dns.example'"


def test_connect_timeout():
    """A listener whose accept queue is full drops our SYN."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fill = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(c)
    time.sleep(0.1)
    try:
        r = get("--connect-timeout", "0.5", "http://127.0.0.1:%d/" % port)
        assert r.returncode == 1
        assert err_line(r) == "sockkit get: http://127.0.0.1:%d/: connect to 127.0.0.1:%d " \
                              "timed out after 0.5 s (--connect-timeout)" % (port, port)
    finally:
        for c in fill:
            c.close()
        s.close()


@pytest.fixture
def silent():
    """Accepts connections and never sends a byte."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    conns = []
    stop = threading.Event()

    def loop():
        s.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(s.accept()[0])
            except socket.timeout:
                pass
            except OSError:
                return

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    s.close()


@needs_tls
def test_tls_handshake_timeout(silent):
    r = get("--tls-timeout", "0.5", "https://127.0.0.1:%d/" % silent)
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: https://127.0.0.1:%d/: TLS handshake with 127.0.0.1 " \
                          "timed out after 0.5 s" % silent


# --- TLS --------------------------------------------------------------------------

def make_pki(d):
    """A test CA and leaf certificates (good, wrong name, expired)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sockkit test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def leaf(name, sans, before, after):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[0])]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(before).not_valid_after(after)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(s)) if s[0].isdigit()
                     else x509.DNSName(s) for s in sans]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        (d / (name + ".pem")).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / (name + ".key")).write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))

    leaf("good", ["localhost", "127.0.0.1"], now - datetime.timedelta(days=1),
         now + datetime.timedelta(days=30))
    leaf("other", ["other.example"], now - datetime.timedelta(days=1),
         now + datetime.timedelta(days=30))
    leaf("expired", ["localhost", "127.0.0.1"], now - datetime.timedelta(days=30),
         now - datetime.timedelta(days=2))


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    make_pki(d)
    return d


def tls_server(server, www, pki, name):
    s = server("serve", "http", str(www), "--listen", "tls://127.0.0.1:0",
               "--cert", str(pki / (name + ".pem")), "--key", str(pki / (name + ".key")))
    return "https://127.0.0.1:%d" % s.port("tls://")


@needs_tls
def test_https_self_signed(server, www):
    s = server("serve", "http", str(www), "--listen", "tls://127.0.0.1:0", "--self-signed")
    url = "https://127.0.0.1:%d/a.txt" % s.port("tls://")
    r = get(url)
    assert r.returncode == 1 and r.stdout == b""
    assert err_line(r).startswith("sockkit get: %s: certificate signed by an unknown CA" % url)
    r = get("-k", "-v", url, url)
    assert r.returncode == 0 and r.stdout == b"hello from sockkit\n" * 2
    err = r.stderr.decode()
    assert "TLS version: TLSv1.3" in err and "ALPN: http/1.1" in err
    assert "certificate subject: /CN=localhost" in err
    assert "verification: FAILED: self-signed certificate (not enforced: -k)" in err
    assert re.search(r"timings: dns [\d.]+ ms, connect [\d.]+ ms, tls [\d.]+ ms", err)
    assert "reusing connection to 127.0.0.1:%d" % s.port("tls://") in err


@needs_tls
def test_https_test_ca(server, www, pki):
    url = tls_server(server, www, pki, "good") + "/a.txt"
    r = get("--cacert", pki / "ca.pem", "-v", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from sockkit\n"
    err = r.stderr.decode()
    assert "certificate issuer: /CN=sockkit test CA" in err
    assert "verification: ok (chain and name checked)" in err
    assert re.search(r"certificate expires: \w+ +\d+ [\d:]+ \d{4} GMT", err)
    r = get(url)
    assert r.returncode == 1 and "certificate signed by an unknown CA" in err_line(r)


@needs_tls
def test_https_wrong_name(server, www, pki):
    url = tls_server(server, www, pki, "other") + "/a.txt"
    r = get("--cacert", pki / "ca.pem", url)
    assert r.returncode == 1
    line = err_line(r)
    assert "other.example" in line and "127.0.0.1" in line, line


@needs_tls
def test_https_expired(server, www, pki):
    url = tls_server(server, www, pki, "expired") + "/a.txt"
    r = get("--cacert", pki / "ca.pem", url)
    assert r.returncode == 1
    line = err_line(r)
    assert "expired" in line and "GMT" in line, line


@needs_tls
def test_https_on_plain_port_and_tls_on_http(sk_http):
    r = get(sk_http.replace("http://", "https://") + "/a.txt")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/a.txt: the server answered in plain text (is it " \
                          "an http:// port?)" % sk_http.replace("http://", "https://")


@pytest.fixture
def tls_alert():
    """A TLS-only peer that answers a non-TLS first record with a fatal
    protocol_version alert record, as several TLS stacks do (OpenSSL just
    closes; that case is "closed the connection without answering")."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    stop = threading.Event()

    def loop():
        s.settimeout(0.1)
        while not stop.is_set():
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(2)
            try:
                first = c.recv(5)
                if first[:1] != b"\x16":  # not a TLS handshake record
                    c.sendall(b"\x15\x03\x03\x00\x02\x02\x46")
            except OSError:
                pass
            c.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join(2)
    s.close()


def test_tls_answer_on_http_url(tls_alert):
    url = "http://127.0.0.1:%d/" % tls_alert
    r = get(url)
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s: the server answered with TLS (is it an https:// " \
                          "port?) from 127.0.0.1:%d" % (url, tls_alert)


@needs_tls
def test_redirect_same_origin_https(server, www, pki):
    (www / "go").mkdir()
    url = tls_server(server, www, pki, "good") + "/go"
    # The static server redirects /go to /go/ on the same (https) origin.
    r = get("--cacert", pki / "ca.pem", "-L", "-v", url)
    assert r.returncode == 0
    assert "following the redirect (301) to %s/" % url in r.stderr.decode()


@needs_tls
def test_redirect_downgrade(pki, py):
    """https -> http is refused unless --allow-downgrade."""
    handler = type("H", (Handler,), {"stop": threading.Event(), "plain_base": py})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "good.pem", pki / "good.key")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = "https://127.0.0.1:%d/downgrade" % srv.server_address[1]
        r = get("--cacert", pki / "ca.pem", "-L", url)
        assert r.returncode == 1 and r.stdout == b""
        assert err_line(r) == "sockkit get: %s: refusing to follow the redirect from https to " \
                              "plain http (%s/hello); --allow-downgrade permits it" % (url, py)
        r = get("--cacert", pki / "ca.pem", "-L", "--allow-downgrade", url)
        assert r.returncode == 0 and r.stdout == b"hello\n"
    finally:
        srv.shutdown()
        srv.server_close()


def test_https_without_tls_build():
    if tls_built_in():
        pytest.skip("TLS is built in")
    r = get("https://127.0.0.1:1/")
    assert err_line(r) == "sockkit get: https://127.0.0.1:1/: https needs the TLS client (not " \
                          "built in: OpenSSL was missing at build time)"


def test_url_errors():
    cases = {
        "ftp://h/": "unsupported scheme \"ftp\" (only http and https)",
        "http://user:pw@h/": "URL has user credentials (user@host); sockkit get does not send "
                             "them (use -H 'Authorization: ...')",
        "http://h:70000/": "port 70000 is out of range (1-65535)",
        "http://[::1/": "IPv6 address in URL lacks its closing ']'",
        "http://h/a b": "URL has a space, control or non-ASCII byte at position 11 "
                        "(percent-encode it, e.g. %20 for a space)",
    }
    for url, msg in cases.items():
        r = get(url)
        assert r.returncode == 1, url
        assert err_line(r) == "sockkit get: %s: %s" % (url, msg)


# --- nginx ---------------------------------------------------------------------------------

@pytest.fixture
def nginx(tmp_path):
    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"):
        pytest.skip("nginx is not installed (scripts/install-deps.sh installs nginx-light)")
    d = tmp_path / "nginx"
    (d / "www").mkdir(parents=True)
    (d / "tmp").mkdir()
    (d / "www" / "kb.bin").write_bytes(bytes(range(256)) * 4)
    (d / "www" / "b.txt").write_bytes(b"0123456789abcdefghij")
    port = free_port()
    (d / "nginx.conf").write_text(("user root;\n" if os.getuid() == 0 else "") + """
worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 64; }
http {
    log_format conn '$connection $connection_requests $status $request';
    access_log %(d)s/access.log conn;
    client_body_temp_path %(d)s/tmp;
    proxy_temp_path %(d)s/tmp;
    fastcgi_temp_path %(d)s/tmp;
    uwsgi_temp_path %(d)s/tmp;
    scgi_temp_path %(d)s/tmp;
    server {
        listen 127.0.0.1:%(port)d;
        root %(d)s/www;
        keepalive_requests 1000;
    }
}
""" % {"d": d, "port": port})
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    p = subprocess.Popen([nginx_bin, "-p", str(d), "-c", str(d / "nginx.conf"), "-e",
                          str(d / "error.log")], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if p.poll() is not None:
                pytest.fail("nginx did not start: %s" % p.stderr.read().decode())
            time.sleep(0.05)
    yield "http://127.0.0.1:%d" % port, d
    p.terminate()
    p.wait(TIMEOUT)


def test_nginx_keepalive_reuse(nginx):
    base, d = nginx
    urls = [base + "/kb.bin"] * 5 + [base + "/b.txt"]
    r = get("-v", *urls)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (bytes(range(256)) * 4) * 5 + b"0123456789abcdefghij"
    assert r.stderr.decode().count("reusing connection to 127.0.0.1:") == 5
    time.sleep(0.2)
    lines = (d / "access.log").read_text().splitlines()
    assert len(lines) == 6
    conns = {line.split()[0] for line in lines}
    assert len(conns) == 1, lines  # one TCP connection for all six
    assert [line.split()[1] for line in lines] == ["1", "2", "3", "4", "5", "6"]


def test_nginx_range_and_head(nginx):
    base, _ = nginx
    r = get("-i", "-H", "Range: bytes=10-14", base + "/b.txt")
    assert r.returncode == 0
    head, body = r.stdout.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 206 Partial Content")
    assert b"Content-Range: bytes 10-14/20" in head
    assert body == b"abcde"
    r = get("-I", base + "/b.txt", base + "/kb.bin")
    assert r.returncode == 0 and r.stdout.count(b"HTTP/1.1 200 OK") == 2
    r = get("--json", base + "/nope")
    assert json.loads(r.stdout)["status"] == 404
