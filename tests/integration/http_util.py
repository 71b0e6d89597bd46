"""Helpers for the HTTP server tests: a raw-socket HTTP/1.1 response reader
that knows message framing (Content-Length, chunked, read-to-close, HEAD, 1xx,
204, 304), a connection-closed probe, a tiny site builder and a hand-made
brotli encoder (uncompressed meta-blocks, valid for any brotli decoder).

Every socket operation has a timeout (conftest.TIMEOUT unless told)."""
import email.utils
import hashlib
import os
import re
import socket
import struct
import time
import zlib

from conftest import TIMEOUT

def backend_args():
    """SK_HTTP_BACKEND=poll (etc.) runs the HTTP suites' servers on that
    backend; by default they use the server's default (epoll)."""
    b = os.environ.get("SK_HTTP_BACKEND")
    return ["--backend", b] if b else []


INDEX_BODY = b"<!doctype html><title>t</title><p>index</p>\n"

ALLOW_EXPECTED = {"GET", "HEAD", "OPTIONS"}


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.raw_head = raw_head

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_token(self, name, token):
        """True if the comma-separated header `name` contains `token`."""
        for v in self.get_all(name):
            for t in v.split(","):
                if t.strip().lower() == token.lower():
                    return True
        return False

    def __repr__(self):
        return "<Response %s %d %r headers=%r body=%d bytes>" % (
            self.version, self.status, self.reason, self.headers, len(self.body))


class ConnectionClosed(Exception):
    pass


class Conn:
    """A raw HTTP connection with an input buffer, so pipelined responses
    can be read one at a time."""

    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT, sock=None):
        if sock is None:
            sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(timeout)
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            raise ConnectionClosed("EOF")
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise ConnectionClosed("EOF")
        self.buf += chunk

    def _read_line(self, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise AssertionError("response line too long")
            self._fill()

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _read_to_eof(self):
        while True:
            try:
                self._fill()
            except ConnectionClosed:
                data = bytes(self.buf)
                self.buf.clear()
                return data

    def read_response(self, method="GET", skip_1xx=True):
        """Reads one response. Raises ConnectionClosed if the peer closed
        before sending a single byte of it."""
        while True:
            if not self.buf:
                self._fill()
            status_line = self._read_line()
            m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", status_line)
            assert m, "bad status line %r" % status_line
            version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1")
            headers = []
            raw = [status_line]
            while True:
                line = self._read_line()
                raw.append(line)
                if line == b"":
                    break
                assert b":" in line, "bad header line %r" % line
                k, v = line.split(b":", 1)
                assert k == k.strip() and k, "bad header name %r" % line
                headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
            if 100 <= status < 200 and skip_1xx:
                continue
            break
        resp = Response(version, status, reason, headers, b"", b"\r\n".join(raw))
        te = resp.get("Transfer-Encoding")
        cl = resp.get("Content-Length")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif te is not None:
            assert te.lower().strip() == "chunked", "unexpected transfer-coding %r" % te
            body = self._read_chunked()
        elif cl is not None:
            assert re.fullmatch(r"\d+", cl), "bad Content-Length %r" % cl
            body = self._read_exact(int(cl))
        else:
            body = self._read_to_eof()
        resp.body = body
        return resp

    def _read_chunked(self):
        body = bytearray()
        while True:
            line = self._read_line()
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while self._read_line() != b"":
                    pass
                return bytes(body)
            body += self._read_exact(size)
            assert self._read_line() == b"", "chunk not followed by CRLF"

    def closed_within(self, timeout):
        """Waits up to timeout for EOF (or a reset). True if the peer closed;
        False if the connection is still open. Any extra byte is an error."""
        if self.eof:
            return True
        if self.buf:
            raise AssertionError("unexpected extra bytes after response: %r" % bytes(self.buf[:200]))
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            return True
        finally:
            self.sock.settimeout(TIMEOUT)
        if chunk:
            raise AssertionError("unexpected extra bytes after response: %r" % chunk[:200])
        self.eof = True
        return True

    def request(self, method, target, headers=None, version="HTTP/1.1", host="t"):
        self.send(build_request(method, target, headers, version, host))
        return self.read_response(method)


def build_request(method, target, headers=None, version="HTTP/1.1", host="t"):
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for k, v in (headers or {}).items() if isinstance(headers, dict) else (headers or []):
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def get(port, target, headers=None, method="GET", version="HTTP/1.1"):
    """One request on a fresh connection; returns the Response."""
    with Conn(port) as c:
        return c.request(method, target, headers, version)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def parse_http_date(s):
    return email.utils.parsedate_to_datetime(s).timestamp()


# ---------------------------------------------------------------- brotli

def brotli_store(data):
    """A valid brotli stream holding data in uncompressed meta-blocks
    (RFC 7932 §9.2): WBITS=16, then per block ISLAST=0, MNIBBLES, MLEN-1,
    ISUNCOMPRESSED=1, pad to a byte, raw bytes; then an empty last block."""
    out = bytearray()
    bits = []

    def put(value, n):
        for i in range(n):
            bits.append((value >> i) & 1)

    def flush_bits():
        while len(bits) % 8:
            bits.append(0)
        for i in range(0, len(bits), 8):
            b = 0
            for j in range(8):
                b |= bits[i + j] << j
            out.append(b)
        bits.clear()

    put(0, 1)  # WBITS = 16
    pos = 0
    while pos < len(data):
        n = min(65536, len(data) - pos)
        put(0, 1)       # ISLAST
        put(0, 2)       # MNIBBLES = 4
        put(n - 1, 16)  # MLEN - 1
        put(1, 1)       # ISUNCOMPRESSED
        flush_bits()
        out += data[pos:pos + n]
        pos += n
    put(1, 1)  # ISLAST
    put(1, 1)  # ISLASTEMPTY
    flush_bits()
    return bytes(out)


def gzip_bytes(data):
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    return co.compress(data) + co.flush()


# ---------------------------------------------------------------- PNG

def make_png(width, height, pixel):
    """An RGB PNG; pixel(x, y) -> (r, g, b)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw += bytes(pixel(x, y))

    def chunk(tag, payload):
        c = struct.pack(">I", len(payload)) + tag + payload
        return c + struct.pack(">I", zlib.crc32(tag + payload) & 0xffffffff)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def png_decode(data):
    """(width, height, rows) for an 8-bit RGB or RGBA non-interlaced PNG,
    rows being lists of (r, g, b) tuples; enough to tell a rendered page from
    a blank one and to look for a known colour."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos = 8
    idat = bytearray()
    width = height = depth = ctype = interlace = None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag = data[pos + 4:pos + 8]
        payload = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if tag == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", payload)
        elif tag == b"IDAT":
            idat += payload
        elif tag == b"IEND":
            break
    assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    off = 0
    for _ in range(height):
        ftype = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        off += 1 + stride
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif ftype == 3:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((a + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def write(path, data):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
