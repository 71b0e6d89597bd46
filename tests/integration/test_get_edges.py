"""`sockkit get` against a raw-socket server that answers each path with
canned bytes, for the edges a library-based server cannot produce:
truncated compressed bodies, bodies on responses that have none, redirects
to unencoded Locations."""
import gzip
import json
import os
import socket
import stat
import subprocess
import threading
import time
import zlib

import pytest

from conftest import SOCKKIT, TIMEOUT
from test_get import err_line, get

GZ = gzip.compress(b"hello gzip world\n" * 10)


def canned(status, body=b"", extra=b""):
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


RESPONSES = {
    "/ok": canned(b"200 OK", b"ok\n"),
    "/gzip": canned(b"200 OK", GZ, b"Content-Encoding: gzip\r\n"),
    "/gzip-truncated": canned(b"200 OK", GZ[:len(GZ) // 2], b"Content-Encoding: gzip\r\n"),
    "/gzip-empty": canned(b"200 OK", b"", b"Content-Encoding: gzip\r\n"),
    "/deflate-truncated": canned(b"200 OK", zlib.compress(b"deflated\n" * 50)[:-6],
                                 b"Content-Encoding: deflate\r\n"),
    "/204-body": b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
    "/304-body": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello",
    "/redirect-long": b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 2\r\n\r\n"
                      b"moved here",
    "/longer": canned(b"200 OK", b"abc", b"")[:-3].replace(b"Length: 3", b"Length: 2") + b"abc",
    "/utf8-location": "HTTP/1.1 302 Found\r\nLocation: /caf\u00e9 x|y\r\n"
                      "Content-Length: 0\r\n\r\n".encode(),
    "/caf%C3%A9%20x%7Cy": canned(b"200 OK", b"arrived\n"),
    "/bad-location": b"HTTP/1.1 302 Found\r\nLocation: http://[::1/x\r\nContent-Length: 0\r\n\r\n",
    "/download": b"HTTP/1.1 302 Found\r\nLocation: /.bashrc\r\nContent-Length: 0\r\n\r\n",
    "/.bashrc": canned(b"200 OK", b"echo owned\n"),
    "/hop1": b"HTTP/1.1 301 Moved\r\nLocation: /hop2\r\nContent-Length: 0\r\n\r\n",
    "/hop2": b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n",
    "/self": b"HTTP/1.1 302 Found\r\nLocation: /self\r\nContent-Length: 0\r\n\r\n",
    "/interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                + canned(b"200 OK", b"final\n"),
    "/answer-then-close": canned(b"200 OK", b"first\n"),
    "/to-other-origin": b"HTTP/1.1 302 Found\r\nLocation: http://localhost:%PORT%/echo-head\r\n"
                        b"Content-Length: 0\r\n\r\n",
    "/to-same-origin": b"HTTP/1.1 302 Found\r\nLocation: /echo-head\r\nContent-Length: 0\r\n\r\n",
    "/big": canned(b"200 OK", b"b" * (1 << 20)),
    "/fields": b"HTTP/1.1 200 OK\r\n"
               b"Set-Cookie: a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT\r\n"
               b"Vary: Accept\r\nset-cookie: b=2\r\nVARY: Origin\r\nSet-Cookie: c=3\r\n"
               b"Content-Disposition: attachment; filename=\"caf\xe9.txt\"\r\n"
               b"Content-Length: 0\r\n\r\n",
}


class Raw:
    """Answers each request with RESPONSES[path] (404 otherwise) on a kept
    connection; counts the connections it accepted."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.accepted = 0
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                method, path, _ = head.split(b"\r\n")[0].decode().split(" ")
                resp = RESPONSES.get(path, canned(b"404 Not Found", b"nope\n"))
                if path == "/echo-head":
                    resp = canned(b"200 OK", head + b"\r\n")
                c.sendall(resp.replace(b"%BASE%", self.base.encode())
                          .replace(b"%PORT%", str(self.port).encode()))
                if path == "/answer-then-close":
                    time.sleep(0.3)  # the client has reused the connection by now
                    return
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def raw():
    r = Raw()
    yield r
    r.close()


def test_truncated_compressed_body_fails(raw, tmp_path):
    r = get("--compressed", raw.base + "/gzip")
    assert r.returncode == 0 and r.stdout == b"hello gzip world\n" * 10, r.stderr
    out = tmp_path / "t.txt"
    r = get("--compressed", "-o", out, raw.base + "/gzip-truncated")
    assert r.returncode == 1
    assert err_line(r).startswith("sockkit get: %s/gzip-truncated: the gzip body is truncated: "
                                  "the compressed stream stops before its end" % raw.base)
    assert os.listdir(tmp_path) == []
    r = get("--compressed", raw.base + "/deflate-truncated")
    assert r.returncode == 1
    assert "the deflate body is truncated" in err_line(r)
    # An empty body labelled gzip is an empty body.
    r = get("--compressed", raw.base + "/gzip-empty")
    assert r.returncode == 0 and r.stdout == b"", r.stderr


@pytest.mark.parametrize("path", ["/204-body", "/304-body"])
def test_stray_body_after_bodiless_response(raw, path):
    """A 204/304 is complete at its head: stray bytes after it are ignored
    (as curl does) and the connection is not reused."""
    r = get("-v", raw.base + path, raw.base + "/ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"ok\n"
    assert "ignoring 5 bytes the server sent after a %s response (which has no body); the " \
           "connection is not reused" % path[1:4] in r.stderr.decode()
    assert raw.accepted == 2


def test_redirect_longer_than_its_length_is_followed(raw):
    r = get("-L", raw.base + "/redirect-long")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"ok\n"
    # A delivered body longer than its Content-Length stays an error.
    r = get(raw.base + "/longer")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/longer: the server sent 1 bytes more than the " \
                          "response's length (Content-Length 2)" % raw.base


def test_redirect_to_unencoded_location(raw):
    """Raw UTF-8, spaces and '|' in a Location are percent-encoded before
    the redirect is followed (browsers and curl do the same)."""
    r = get("-L", raw.base + "/utf8-location")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"arrived\n"
    r = get("-L", raw.base + "/bad-location")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/bad-location: redirected to http://[::1/x, which is " \
                          "not usable: IPv6 address in URL lacks its closing ']'" % raw.base


def test_remote_name_comes_from_the_url_given(raw, tmp_path):
    """-O -L saves under the name in the URL the user gave, not one a
    redirect chose (as curl and wget)."""
    r = subprocess.run([SOCKKIT, "get", "-L", "-O", raw.base + "/download"], cwd=tmp_path,
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path) == ["download"]
    assert (tmp_path / "download").read_bytes() == b"echo owned\n"


def test_json_one_object_per_url_with_redirects(raw):
    """--json -L: one object per URL given (its last exchange), also when
    the URL fails before or between transfers."""
    r = get("--json", "-L", "--max-redirs", "3", raw.base + "/hop1", raw.base + "/self",
            "ftp://nowhere/", raw.base + "/ok")
    assert r.returncode == 1
    objs = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [o["url"] for o in objs] == [raw.base + "/hop1", raw.base + "/self", "ftp://nowhere/",
                                        raw.base + "/ok"]
    assert objs[0]["final_url"] == raw.base + "/ok"
    assert objs[0]["redirects"] == 2 and objs[0]["status"] == 200 and "error" not in objs[0]
    assert objs[1]["status"] == 302 and objs[1]["redirects"] == 3
    assert objs[1]["error"].startswith("too many redirects (more than 3, --max-redirs)")
    assert objs[2]["error"] == 'unsupported scheme "ftp" (only http and https)'
    assert objs[2]["timings_ms"]["total"] == 0
    assert objs[3]["status"] == 200 and objs[3]["redirects"] == 0


def test_output_keeps_the_mode_of_the_file_it_replaces(raw, tmp_path):
    out = tmp_path / "secret.json"
    out.write_bytes(b"old\n")
    os.chmod(out, 0o600)
    r = get("-o", out, raw.base + "/ok")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == b"ok\n"
    assert os.stat(out).st_mode & 0o7777 == 0o600
    os.chmod(out, 0o640)
    assert get("-o", out, raw.base + "/ok").returncode == 0
    assert os.stat(out).st_mode & 0o7777 == 0o640
    # A new file gets 0666 & ~umask.
    old = os.umask(0o022)
    os.umask(old)
    fresh = tmp_path / "fresh.txt"
    assert get("-o", fresh, raw.base + "/ok").returncode == 0
    assert os.stat(fresh).st_mode & 0o7777 == 0o666 & ~old


def test_output_to_a_directory_fails_before_the_transfer(raw, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    r = get("-o", d, raw.base + "/ok")
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s/ok: cannot write %s: it is a directory" % (raw.base, d)
    assert os.listdir(tmp_path) == ["d"] and os.listdir(d) == []


def test_verbose_shows_interim_responses(raw):
    """1xx heads are skipped for the body but are part of the -v story."""
    r = get("-v", raw.base + "/interim")
    assert r.returncode == 0 and r.stdout == b"final\n"
    heads = [line for line in r.stderr.decode().splitlines() if line.startswith("sockkit: < ")]
    assert heads[:4] == ["sockkit: < HTTP/1.1 100 Continue", "sockkit: < HTTP/1.1 103 Early Hints",
                         "sockkit: < Link: </s.css>", "sockkit: < HTTP/1.1 200 OK"]


def test_reuse_of_a_closing_connection_retries_with_fresh_timings(raw):
    """The server answers, keeps the connection open, then closes it while
    the next request is on its way: the request is retried once on a new
    connection, and its timings are those of that exchange (not inflated
    by the wait for the dead one)."""
    r = get("-v", "--json", raw.base + "/answer-then-close", raw.base + "/ok")
    assert r.returncode == 0, r.stderr
    first, second = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert "retrying on a new one" in r.stderr.decode()
    assert raw.accepted == 2
    assert second["status"] == 200 and second["reused"] is False
    assert second["timings_ms"]["dns"] < 100 and second["timings_ms"]["total"] < 250


def test_unix_socket_path_that_is_not_a_listening_socket(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"x")
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    for path, why in ((tmp_path, "it is a directory, not a socket"),
                      (plain, "it is a regular file, not a socket"),
                      (stale, "connection refused (a stale socket file: nothing listens on it)")):
        r = get("--unix-socket", path, "http://app/")
        assert r.returncode == 1
        assert err_line(r) == "sockkit get: http://app/: cannot connect to Unix socket %s: %s" % (
            path, why)


def test_credentials_do_not_follow_a_redirect_to_another_origin(raw):
    """-H Authorization/Cookie/Host go to the origin of the URL given only;
    other -H headers follow every redirect (curl behaves the same)."""
    hdrs = ["-H", "Authorization: Bearer s3cret", "-H", "cookie: sid=1", "-H", "Host: app",
            "-H", "X-Trace: 7"]
    r = get("-L", *hdrs, raw.base + "/to-other-origin")
    assert r.returncode == 0, r.stderr
    head = r.stdout.decode().lower()
    assert head.startswith("get /echo-head http/1.1\r\n")
    assert "host: localhost:%d\r\n" % raw.port in head and "x-trace: 7" in head
    assert "s3cret" not in head and "sid=1" not in head and "host: app" not in head
    r = get("-L", *hdrs, raw.base + "/to-same-origin")
    head = r.stdout.decode().lower()
    assert "authorization: bearer s3cret" in head and "cookie: sid=1" in head
    assert "host: app" in head


def test_long_file_names(raw, tmp_path):
    """A name up to NAME_MAX (255) is written although its temporary
    sibling would be longer; -O says when the URL's name is too long."""
    out = tmp_path / ("n" * 255)
    r = get("-o", out, raw.base + "/ok")
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path) == ["n" * 255] and out.read_bytes() == b"ok\n"
    url = raw.base + "/" + "x" * 300
    r = subprocess.run([SOCKKIT, "get", "-O", url], cwd=tmp_path, capture_output=True,
                       timeout=TIMEOUT)
    assert r.returncode == 1
    assert err_line(r) == "sockkit get: %s: -O: the last segment of the URL's path is too long " \
                          "for a file name (over 255 bytes; use -o FILE)" % url


def on_pty(args, stdout_on_pty):
    """Runs sockkit get with stderr (and stdout when asked) on a
    pseudo-terminal; returns what the terminal showed."""
    import pty
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([SOCKKIT, "get"] + [str(a) for a in args],
                             stdout=slave if stdout_on_pty else subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert p.wait(TIMEOUT) == 0
        return shown
    finally:
        os.close(master)


def test_no_progress_bar_through_a_body_printed_on_the_terminal(raw):
    shown = on_pty([raw.base + "/big"], stdout_on_pty=True)
    assert shown.count(b"b") == 1 << 20
    assert b"%" not in shown and b"MiB" not in shown
    # The body elsewhere: the bar is drawn.
    shown = on_pty([raw.base + "/big"], stdout_on_pty=False)
    assert b"100.0%  1.0 MiB of 1.0 MiB" in shown
    # --progress forces it.
    shown = on_pty(["--progress", raw.base + "/big"], stdout_on_pty=True)
    assert b"100.0%  1.0 MiB of 1.0 MiB" in shown


def test_output_to_a_device_fifo_or_symlink(raw, tmp_path):
    """-o onto something that is not a regular file writes into it: the
    temporary-file-and-rename scheme used to rename a regular file over
    the node (`-o /dev/null` as root replaced /dev/null). A private null
    device stands in for /dev/null here."""
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        null = None
    if null is not None:
        r = get("-o", null, raw.base + "/big")
        assert r.returncode == 0, r.stderr
        assert stat.S_ISCHR(os.stat(null).st_mode)
        assert sorted(os.listdir(tmp_path)) == ["null"]
        os.unlink(null)
    # A FIFO gets the body, and stays a FIFO.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    r = get("-o", fifo, raw.base + "/ok")
    reader.join(TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert got == [b"ok\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    # Through a symbolic link the target file is replaced, the link kept.
    (tmp_path / "real").write_bytes(b"old")
    os.symlink("real", tmp_path / "link")
    r = get("-o", tmp_path / "link", raw.base + "/ok")
    assert r.returncode == 0, r.stderr
    assert os.path.islink(tmp_path / "link")
    assert (tmp_path / "real").read_bytes() == b"ok\n"
    assert sorted(os.listdir(tmp_path)) == ["fifo", "link", "real"]


def test_head_request_into_an_output_file(raw, tmp_path):
    """-I -o FILE / -I -O put the response head in the file (as curl)
    instead of ignoring the file."""
    out = tmp_path / "head.txt"
    r = get("-I", "-o", out, raw.base + "/ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""
    assert out.read_bytes() == b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
    r = subprocess.run([SOCKKIT, "get", "-I", "-O", raw.base + "/ok"], cwd=tmp_path,
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0 and r.stdout == b"", r.stderr
    assert (tmp_path / "ok").read_bytes().startswith(b"HTTP/1.1 200 OK\r\n")


def test_json_headers_keep_set_cookie_apart_and_latin1_values(raw):
    r = get("--json", raw.base + "/fields")
    assert r.returncode == 0, r.stderr
    h = json.loads(r.stdout)["headers"]
    assert h["Set-Cookie"] == ["a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "b=2", "c=3"]
    assert h["Vary"] == "Accept, Origin"
    assert "VARY" not in h and "set-cookie" not in h
    assert h["Content-Disposition"] == 'attachment; filename="caf\u00e9.txt"'
