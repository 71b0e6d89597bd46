"""The static file server (`sockkit serve http ROOT`): headers, MIME types,
conditional requests, ranges, precompressed siblings, directories and
listings, path safety (traversal, encoded separators, symlinks, dot files),
methods, keep-alive and pipelining, HTTP/1.0, every backend; driven by raw
sockets, Python's http.client and curl."""
import html
import http.client
import os
import random
import re
import shutil
import subprocess
import time

import pytest

from conftest import BACKENDS, TIMEOUT, Server, backend_or_skip
from http_util import (ALLOW_EXPECTED, INDEX_BODY, Conn, backend_args, brotli_store, build_request,
                       gzip_bytes, http_date, make_png, parse_http_date, sha256, write)

CURL = shutil.which("curl")
PAST = 1577880000  # 2020-01-01 12:00:00 UTC: every file's mtime, so dates are strong validators

ALPHA = b"alpha\n"
COMP_TEXT = b"".join(b"line %05d of a compressible text file\n" % i for i in range(2000))
SPECIAL_NAMES = ["<b>&\"x'.txt", "space name.txt", "pct%41.txt", "caf\u00e9.txt"]
SECRET = b"TOPSECRET-outside-root\n"


def build_site(base):
    """ROOT with every kind of file the tests need, and a sibling directory
    `outside` that must never be reachable. Returns (root, files) where files
    maps URL path -> bytes."""
    root = base / "root"
    outside = base / "outside"
    rnd = random.Random(1234)
    files = {
        "/index.html": INDEX_BODY,
        "/a.txt": ALPHA,
        "/b.txt": b"bravo\n",
        "/style.css": b"body { color: #333 }\n",
        "/app.js": b"console.log('hi');\n",
        "/mod.mjs": b"export const x = 1;\n",
        "/data.json": b'{"a": 1}\n',
        "/img.png": make_png(4, 4, lambda x, y: (x * 60, y * 60, 128)),
        "/photo.jpg": b"\xff\xd8\xff\xe0fakejpeg",
        "/anim.gif": b"GIF89a-fake",
        "/pic.svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>\n',
        "/doc.pdf": b"%PDF-1.4 fake\n",
        "/mod.wasm": b"\x00asm\x01\x00\x00\x00",
        "/font.woff2": b"wOF2fake",
        "/clip.mp4": b"\x00\x00\x00\x18ftypmp42",
        "/blob.unknownext": b"\x00\x01\x02",
        "/range.bin": bytes(rnd.getrandbits(8) for _ in range(1000)),
        "/empty.txt": b"",
        "/comp.txt": COMP_TEXT,
        "/comp.txt.gz": gzip_bytes(COMP_TEXT),
        "/comp.txt.br": brotli_store(COMP_TEXT),
        "/sub/index.html": b"<p>sub index</p>\n",
        "/sub/x.txt": b"sub x\n",
        "/sub/.hidden": b"hidden\n",
        "/sp ace/index.html": b"<p>space dir</p>\n",
        "/nodir/x.txt": b"nodir x\n",
        "/.env": b"SECRET_KEY=1\n",
        "/.git/config": b"[core]\n",
        "/.well-known/security.txt": b"Contact: mailto:security@example.com\n",
        "/listing/.secret": b"dot in listing\n",
    }
    for i, name in enumerate(SPECIAL_NAMES):
        files["/listing/" + name] = ("special file %d\n" % i).encode()
    for path, data in files.items():
        write(root / path.lstrip("/"), data)
    write(outside / "secret.txt", SECRET)
    os.symlink("/etc", str(root / "etc"))
    os.symlink("../outside/secret.txt", str(root / "outside.txt"))
    os.symlink(str(outside / "secret.txt"), str(root / "abs_outside.txt"))
    os.symlink("..", str(root / "up"))
    os.symlink("a.txt", str(root / "inlink.txt"))
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                os.utime(p, (PAST, PAST))
    return root, files


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    root, files = build_site(base)
    big = os.urandom(10 << 20)
    write(root / "big.bin", big)
    files["/big.bin"] = big
    return root, files


def start(root, *extra):
    return Server(["serve", "http", str(root), "--listen", "127.0.0.1:0"] + backend_args() + list(extra))


@pytest.fixture(scope="module")
def port(site):
    srv = start(site[0])
    try:
        yield srv.port()
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def files(site):
    return site[1]


def fetch(port, target, headers=None, method="GET", version="HTTP/1.1"):
    """One request on a fresh connection; unless the response closes the
    connection, a follow-up GET /a.txt on it must get exactly 200 "alpha",
    which proves the first response's framing (no stray body bytes)."""
    with Conn(port) as c:
        c.send(build_request(method, target, headers, version))
        r = c.read_response(method)
        if version == "HTTP/1.1" and not r.has_token("Connection", "close"):
            c.send(build_request("GET", "/a.txt"))
            r2 = c.read_response()
            assert (r2.status, r2.body) == (200, ALPHA), \
                "follow-up after %s %s got %r (framing of %r broken?)" % (method, target, r2, r)
        return r


# ------------------------------------------------------------------ basics

def test_index_headers(port):
    before = time.time()
    r = fetch(port, "/")
    assert r.status == 200
    assert r.body == INDEX_BODY
    assert r.get("Content-Type") == "text/html; charset=utf-8"
    assert r.get("Content-Length") == str(len(INDEX_BODY))
    assert parse_http_date(r.get("Last-Modified")) == PAST
    assert re.fullmatch(r'"[!#-~]+"', r.get("ETag") or ""), "ETag must be strong and quoted: %r" % r
    assert abs(parse_http_date(r.get("Date")) - before) < 60
    assert r.get("Server")
    assert r.get("Accept-Ranges") == "bytes"


def test_index_html_direct_same_etag(port):
    a, b = fetch(port, "/"), fetch(port, "/index.html")
    assert b.status == 200 and b.body == INDEX_BODY
    assert a.get("ETag") == b.get("ETag")


def test_etag_changes_with_content(port, site):
    root = site[0]
    p = root / "changing.txt"
    write(p, b"one\n")
    os.utime(str(p), (PAST, PAST))
    e1 = fetch(port, "/changing.txt").get("ETag")
    write(p, b"two!!\n")
    os.utime(str(p), (PAST + 10, PAST + 10))
    r = fetch(port, "/changing.txt")
    assert r.body == b"two!!\n"
    assert r.get("ETag") != e1


def test_missing_file_404(port):
    r = fetch(port, "/no-such-file.txt")
    assert r.status == 404


def test_head_same_headers_no_body(port, files):
    g = fetch(port, "/range.bin")
    with Conn(port) as c:
        # HEAD and a GET pipelined: if HEAD carried a body, the GET's answer
        # would be garbled.
        c.send(build_request("HEAD", "/range.bin") + build_request("GET", "/b.txt"))
        h = c.read_response("HEAD")
        r2 = c.read_response("GET")
    assert h.status == 200
    for name in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
        assert h.get(name) == g.get(name), name
    assert h.get("Content-Length") == str(len(files["/range.bin"]))
    assert (r2.status, r2.body) == (200, b"bravo\n")


MIME = [
    ("/index.html", "text/html; charset=utf-8"),
    ("/a.txt", "text/plain; charset=utf-8"),
    ("/style.css", "text/css; charset=utf-8"),
    ("/app.js", ("text/javascript; charset=utf-8", "application/javascript; charset=utf-8")),
    ("/mod.mjs", ("text/javascript; charset=utf-8", "application/javascript; charset=utf-8")),
    ("/data.json", ("application/json", "application/json; charset=utf-8")),
    ("/img.png", "image/png"),
    ("/photo.jpg", "image/jpeg"),
    ("/anim.gif", "image/gif"),
    ("/pic.svg", ("image/svg+xml", "image/svg+xml; charset=utf-8")),
    ("/doc.pdf", "application/pdf"),
    ("/mod.wasm", "application/wasm"),
    ("/font.woff2", "font/woff2"),
    ("/clip.mp4", "video/mp4"),
    ("/blob.unknownext", "application/octet-stream"),
]


@pytest.mark.parametrize("path,ctype", MIME, ids=[m[0].lstrip("/") for m in MIME])
def test_mime_type(port, files, path, ctype):
    r = fetch(port, path)
    assert r.status == 200 and r.body == files[path]
    allowed = ctype if isinstance(ctype, tuple) else (ctype,)
    assert r.get("Content-Type") in allowed


# ------------------------------------------------------------ conditionals

def etag_of(port, path):
    return fetch(port, path).get("ETag")


def test_if_none_match_variants(port):
    etag = etag_of(port, "/a.txt")
    weak = "W/" + etag
    cases = [
        (etag, 304),
        ('"nope", %s, "other"' % etag, 304),
        ('"nope",%s' % etag, 304),
        (weak, 304),  # weak comparison (RFC 9110 §13.1.2)
        ("*", 304),
        ('"nope"', 200),
        ('W/"nope"', 200),
    ]
    for value, want in cases:
        r = fetch(port, "/a.txt", {"If-None-Match": value})
        assert r.status == want, "If-None-Match: %s -> %r" % (value, r)
        if want == 304:
            assert r.get("ETag") == etag and r.body == b""
        else:
            assert r.body == ALPHA


def test_if_none_match_head(port):
    etag = etag_of(port, "/a.txt")
    r = fetch(port, "/a.txt", {"If-None-Match": etag}, method="HEAD")
    assert r.status == 304


def test_if_modified_since(port):
    lm = http_date(PAST)
    assert fetch(port, "/a.txt").get("Last-Modified") == lm
    assert fetch(port, "/a.txt", {"If-Modified-Since": lm}).status == 304
    assert fetch(port, "/a.txt", {"If-Modified-Since": http_date(PAST + 3600)}).status == 304
    r = fetch(port, "/a.txt", {"If-Modified-Since": http_date(PAST - 3600)})
    assert (r.status, r.body) == (200, ALPHA)
    r = fetch(port, "/a.txt", {"If-Modified-Since": "not a date"})
    assert (r.status, r.body) == (200, ALPHA)


def test_if_none_match_takes_precedence_over_ims(port):
    etag = etag_of(port, "/a.txt")
    lm = http_date(PAST)
    # RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    r = fetch(port, "/a.txt", {"If-None-Match": '"nope"', "If-Modified-Since": lm})
    assert r.status == 200
    r = fetch(port, "/a.txt", {"If-None-Match": etag, "If-Modified-Since": http_date(PAST - 3600)})
    assert r.status == 304


# ------------------------------------------------------------------ ranges

def test_range_single(port, files):
    data = files["/range.bin"]
    for spec, (s, e) in [("bytes=0-9", (0, 9)), ("bytes=-10", (990, 999)), ("bytes=990-", (990, 999)),
                         ("bytes=100-100", (100, 100)), ("bytes=500-99999", (500, 999)),
                         ("bytes=0-", (0, 999))]:
        r = fetch(port, "/range.bin", {"Range": spec})
        assert r.status == 206, (spec, r)
        assert r.get("Content-Range") == "bytes %d-%d/1000" % (s, e), spec
        assert r.get("Content-Length") == str(e - s + 1), spec
        assert r.body == data[s:e + 1], spec


def parse_multipart(r):
    ctype = r.get("Content-Type")
    m = re.fullmatch(r'multipart/byteranges;\s*boundary="?([^";]+)"?', ctype or "")
    assert m, "not multipart/byteranges: %r" % ctype
    boundary = m.group(1).encode()
    body = r.body
    if r.get("Content-Length") is not None:
        assert int(r.get("Content-Length")) == len(body)
    parts = []
    chunks = body.split(b"--" + boundary)
    assert chunks[-1].strip() in (b"--", b"--\r\n".strip()), "no closing delimiter: %r" % chunks[-1][:50]
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n")
        head, _, content = chunk[2:].partition(b"\r\n\r\n")
        assert content.endswith(b"\r\n")
        hdrs = {}
        for line in head.split(b"\r\n"):
            k, v = line.split(b":", 1)
            hdrs[k.decode().lower()] = v.strip().decode()
        parts.append((hdrs, content[:-2]))
    return parts


def test_range_multiple_multipart(port, files):
    data = files["/range.bin"]
    r = fetch(port, "/range.bin", {"Range": "bytes=0-0,5-9,-3"})
    assert r.status == 206
    assert r.get("Content-Range") is None
    parts = parse_multipart(r)
    want = [(0, 0), (5, 9), (997, 999)]
    assert len(parts) == len(want)
    for (hdrs, content), (s, e) in zip(parts, want):
        assert hdrs["content-range"] == "bytes %d-%d/1000" % (s, e)
        assert hdrs["content-type"] == "application/octet-stream"
        assert content == data[s:e + 1]


def test_range_unsatisfiable_416(port):
    for spec in ("bytes=1000-", "bytes=5000-6000", "bytes=1000-1000,2000-"):
        r = fetch(port, "/range.bin", {"Range": spec})
        assert r.status == 416, (spec, r)
        assert r.get("Content-Range") == "bytes */1000", spec


def test_range_empty_file_416(port):
    r = fetch(port, "/empty.txt", {"Range": "bytes=0-"})
    assert r.status == 416
    assert r.get("Content-Range") == "bytes */0"


def test_range_ignored_when_invalid(port, files):
    for spec in ("bytes=abc", "items=0-1", "bytes=", "bytes=--1", "bytes=1-2-3"):
        r = fetch(port, "/range.bin", {"Range": spec})
        assert r.status == 200, (spec, r)
        assert r.body == files["/range.bin"]
    r = fetch(port, "/range.bin", {"Range": "bytes=5-2"})  # last < first: invalid
    assert r.status in (200, 416)


def test_if_range(port, files):
    data = files["/range.bin"]
    etag = etag_of(port, "/range.bin")
    lm = http_date(PAST)
    r = fetch(port, "/range.bin", {"Range": "bytes=0-9", "If-Range": etag})
    assert (r.status, r.body) == (206, data[:10])
    r = fetch(port, "/range.bin", {"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert (r.status, r.body) == (200, data)
    r = fetch(port, "/range.bin", {"Range": "bytes=0-9", "If-Range": "W/" + etag})
    assert (r.status, r.body) == (200, data), "a weak tag never matches If-Range"
    r = fetch(port, "/range.bin", {"Range": "bytes=0-9", "If-Range": lm})
    assert (r.status, r.body) == (206, data[:10])
    r = fetch(port, "/range.bin", {"Range": "bytes=0-9", "If-Range": http_date(PAST - 60)})
    assert (r.status, r.body) == (200, data)


# ----------------------------------------------------------- precompressed

ENCODINGS = [
    (None, (None,)),
    ("gzip", ("gzip",)),
    ("br", ("br",)),
    ("GZIP", ("gzip",)),
    ("gzip, br", ("gzip", "br")),
    ("gzip, deflate, br, zstd", ("gzip", "br")),
    ("br;q=0, gzip", ("gzip",)),
    ("gzip;q=0, br;q=0", (None,)),
    ("gzip;q=0", (None,)),
    ("br;q=0.5, gzip;q=0.9", ("gzip",)),
    ("gzip;q=0.5, br;q=0.9", ("br",)),
    ("*", ("gzip", "br")),
    ("*;q=0.1, br;q=0", ("gzip",)),
    ("identity", (None,)),
    ("deflate", (None,)),
]


@pytest.mark.parametrize("accept,want", ENCODINGS, ids=[str(e[0]) for e in ENCODINGS])
def test_precompressed_sibling(port, files, accept, want):
    hdrs = {} if accept is None else {"Accept-Encoding": accept}
    r = fetch(port, "/comp.txt", hdrs)
    assert r.status == 200
    enc = r.get("Content-Encoding")
    assert enc in want, "Accept-Encoding %r gave Content-Encoding %r" % (accept, enc)
    body = {None: COMP_TEXT, "gzip": files["/comp.txt.gz"], "br": files["/comp.txt.br"]}[enc]
    assert r.body == body
    assert r.get("Content-Length") == str(len(body))
    assert r.get("Content-Type") == "text/plain; charset=utf-8"
    assert r.has_token("Vary", "Accept-Encoding"), "Vary: Accept-Encoding missing: %r" % r


def test_precompressed_etags_differ(port):
    plain = fetch(port, "/comp.txt").get("ETag")
    gz = fetch(port, "/comp.txt", {"Accept-Encoding": "gzip"}).get("ETag")
    br = fetch(port, "/comp.txt", {"Accept-Encoding": "br"}).get("ETag")
    assert len({plain, gz, br}) == 3, "each representation needs its own strong ETag"


def test_precompressed_conditional(port):
    gz = fetch(port, "/comp.txt", {"Accept-Encoding": "gzip"})
    r = fetch(port, "/comp.txt", {"Accept-Encoding": "gzip", "If-None-Match": gz.get("ETag")})
    assert r.status == 304
    assert r.has_token("Vary", "Accept-Encoding")


# ------------------------------------------------------------- directories

def test_directory_redirect(port):
    r = fetch(port, "/sub")
    assert r.status == 301
    assert r.get("Location", "").endswith("/sub/"), r
    r = fetch(port, "/sub?x=1&y=2")
    assert r.status == 301
    assert r.get("Location", "").endswith("/sub/?x=1&y=2"), r
    r = fetch(port, "/sp%20ace")
    assert r.status == 301
    assert r.get("Location", "").endswith("/sp%20ace/"), r


def test_directory_index(port, files):
    for target, path in [("/sub/", "/sub/index.html"), ("/sub/?q=1", "/sub/index.html"),
                         ("/sp%20ace/", "/sp ace/index.html"), ("/sub/x.txt", "/sub/x.txt")]:
        r = fetch(port, target)
        assert (r.status, r.body) == (200, files[path]), target
    r = fetch(port, "/sub/")
    assert r.get("Content-Type") == "text/html; charset=utf-8"


def test_directory_without_index_not_listed_by_default(port):
    r = fetch(port, "/nodir/")
    assert r.status in (403, 404)
    assert b"x.txt" not in r.body


def test_directory_listing_escapes_names(site):
    root, files = site
    srv = start(root, "--list-dirs")
    try:
        p = srv.port()
        r = fetch(p, "/listing/")
        assert r.status == 200
        assert r.get("Content-Type") == "text/html; charset=utf-8"
        text = r.body.decode("utf-8")
        assert "<b>&" not in text, "raw file name in listing HTML"
        assert "&lt;b&gt;&amp;" in text
        assert ".secret" not in text, "dot files must not be listed"
        hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]*)"', text)]
        for name in SPECIAL_NAMES:
            want = files["/listing/" + name]
            got = None
            for h in hrefs:
                if "//" in h or h.startswith("?"):
                    continue
                target = h if h.startswith("/") else "/listing/" + h
                if target.endswith("/"):
                    continue
                try:
                    target.encode("ascii")
                except UnicodeEncodeError:
                    pytest.fail("href is not percent-encoded: %r" % h)
                assert " " not in target and '"' not in target, "href not encoded: %r" % h
                rr = fetch(p, target)
                if rr.status == 200 and rr.body == want:
                    got = target
                    break
            assert got, "no working link for %r in %r" % (name, hrefs)
        r = fetch(p, "/nodir/")
        assert r.status == 200 and b"x.txt" in r.body
        r = fetch(p, "/sub/")  # index.html wins over a listing
        assert r.body == files["/sub/index.html"]
        r = fetch(p, "/.git/")
        assert r.status == 404
    finally:
        srv.stop()


# ------------------------------------------------------------- path safety

TRAVERSAL = [
    "/../etc/passwd",
    "/../../../../../../etc/passwd",
    "/..",
    "/../",
    "/sub/../../etc/passwd",
    "/sub/../../outside/secret.txt",
    "/./../outside/secret.txt",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E/outside/secret.txt",
    "/.%2e/outside/secret.txt",
    "/%2e./outside/secret.txt",
    "/..%2foutside%2fsecret.txt",
    "/%2f..%2f..%2fetc%2fpasswd",
    "/sub%2f..%2f..%2foutside%2fsecret.txt",
    "/..%5coutside%5csecret.txt",
    "/sub%5c..%5c..%5coutside%5csecret.txt",
    "/%252e%252e/%252e%252e/etc/passwd",
    "/%252e%252e%252foutside%252fsecret.txt",
    "/..%252f..%252fetc%252fpasswd",
    "//etc/passwd",
    "/etc/passwd",
    "/etc/",
    "/outside.txt",
    "/abs_outside.txt",
    "/up/outside/secret.txt",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/%c0%ae%c0%ae/outside/secret.txt",
]


@pytest.mark.parametrize("target", TRAVERSAL)
def test_traversal_never_escapes_root(port, target):
    r = fetch(port, target)
    assert r.status in (400, 403, 404), "%s -> %r" % (target, r)
    assert b"root:" not in r.body and SECRET not in r.body


def test_raw_backslash_traversal(port):
    r = fetch(port, "/..\\outside\\secret.txt")
    assert r.status in (400, 404)
    assert SECRET not in r.body


def test_encoded_separators_rejected(port):
    for target in ("/sub%2fx.txt", "/sub%2Fx.txt", "/sub%5cx.txt", "/sub%5Cx.txt"):
        r = fetch(port, target)
        assert r.status in (400, 404), (target, r)


def test_pct00_is_400(port):
    for target in ("/a.txt%00", "/a.txt%00.html", "/%00"):
        assert fetch(port, target).status == 400, target


def test_dot_segments_inside_root_resolve(port, files):
    for target, path in [("/sub/../a.txt", "/a.txt"), ("/sub/./x.txt", "/sub/x.txt"),
                         ("/./a.txt", "/a.txt"), ("//a.txt", "/a.txt"), ("/sub//x.txt", "/sub/x.txt"),
                         ("/%61.txt", "/a.txt"), ("/sub/%2e%2e/a.txt", "/a.txt")]:
        r = fetch(port, target)
        assert r.status in (200, 400, 404), target
        assert r.status != 200 or r.body == files[path], target
    # Plain cases that must work.
    assert fetch(port, "/%61.txt").body == ALPHA
    assert fetch(port, "/sub/../a.txt").body == ALPHA


def test_symlink_inside_root_is_served(port):
    r = fetch(port, "/inlink.txt")
    assert (r.status, r.body) == (200, ALPHA)


def test_dotfiles_hidden(port):
    for target in ("/.env", "/.git/config", "/.git/", "/.git", "/sub/.hidden", "/%2eenv",
                   "/.git%2fconfig", "/listing/.secret"):
        r = fetch(port, target)
        assert r.status in ((400, 404) if "%2f" in target else (404,)), (target, r)
        assert b"SECRET_KEY" not in r.body and b"[core]" not in r.body


def test_well_known_served(port, files):
    r = fetch(port, "/.well-known/security.txt")
    assert (r.status, r.body) == (200, files["/.well-known/security.txt"])
    assert r.get("Content-Type") == "text/plain; charset=utf-8"


def test_dotfiles_flag_serves_them(site):
    root, files = site
    srv = start(root, "--dotfiles")
    try:
        p = srv.port()
        assert fetch(p, "/.env").body == files["/.env"]
        assert fetch(p, "/.git/config").body == files["/.git/config"]
        assert fetch(p, "/sub/.hidden").body == files["/sub/.hidden"]
        # --dotfiles never means "outside the root".
        assert fetch(p, "/../outside/secret.txt").status in (400, 404)
    finally:
        srv.stop()


# ----------------------------------------------------------------- methods

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_method_not_allowed(port, method):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        body = b"x=1" if method in ("POST", "PUT", "PATCH") else None
        c.request(method, "/a.txt", body=body)
        r = c.getresponse()
        r.read()
        assert r.status == 405
        allow = {m.strip() for m in (r.getheader("Allow") or "").split(",")}
        assert allow == ALLOW_EXPECTED
    finally:
        c.close()


@pytest.mark.parametrize("method", ["FOO", "PROPFIND", "get", "BREW"])
def test_unknown_method_501(port, method):
    r = fetch(port, "/a.txt", method=method)
    assert r.status == 501


@pytest.mark.parametrize("target", ["*", "/", "/a.txt"])
def test_options(port, target):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        c.request("OPTIONS", target)
        r = c.getresponse()
        body = r.read()
        assert r.status in (200, 204)
        allow = {m.strip() for m in (r.getheader("Allow") or "").split(",")}
        assert allow == ALLOW_EXPECTED
        if r.status == 204:
            assert body == b""
    finally:
        c.close()


# ----------------------------------------------- keep-alive and pipelining

def test_pipelining_three_in_one_send(port, files):
    with Conn(port) as c:
        c.send(build_request("GET", "/a.txt") + build_request("GET", "/b.txt") +
               build_request("GET", "/sub/x.txt"))
        bodies = [c.read_response().body for _ in range(3)]
    assert bodies == [ALPHA, b"bravo\n", b"sub x\n"]


def test_pipelining_mixed_with_head_304_404_and_range(port, files):
    etag = etag_of(port, "/a.txt")
    reqs = [("GET", "/a.txt", None), ("HEAD", "/range.bin", None),
            ("GET", "/a.txt", {"If-None-Match": etag}), ("GET", "/nope", None),
            ("GET", "/range.bin", {"Range": "bytes=0-3"}), ("GET", "/b.txt", None)]
    with Conn(port) as c:
        c.send(b"".join(build_request(m, t, h) for m, t, h in reqs))
        got = [c.read_response(m) for m, _, _ in reqs]
    assert [r.status for r in got] == [200, 200, 304, 404, 206, 200]
    assert got[0].body == ALPHA and got[1].body == b"" and got[4].body == files["/range.bin"][:4]
    assert got[5].body == b"bravo\n"


def test_pipelining_many_small_requests(port):
    n = 200
    with Conn(port) as c:
        c.send(b"".join(build_request("GET", "/a.txt" if i % 2 else "/b.txt") for i in range(n)))
        for i in range(n):
            r = c.read_response()
            assert r.body == (ALPHA if i % 2 else b"bravo\n"), i


def test_http11_keepalive_http_client(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        socks = set()
        for path in ("/a.txt", "/b.txt", "/index.html", "/range.bin"):
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            assert r.status == 200
            socks.add(c.sock.getsockname())
        assert len(socks) == 1, "connection was not reused"
    finally:
        c.close()


def test_http10_closes_by_default(port):
    with Conn(port) as c:
        c.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, ALPHA)
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        assert not r.has_token("Connection", "keep-alive")
        assert c.closed_within(TIMEOUT)


def test_http10_keepalive_on_request(port):
    with Conn(port) as c:
        for path, body in (("/a.txt", ALPHA), ("/b.txt", b"bravo\n")):
            c.send(("GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % path).encode())
            r = c.read_response()
            assert (r.status, r.body) == (200, body)
            assert r.has_token("Connection", "keep-alive"), "HTTP/1.0 keep-alive must be confirmed"
        c.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
        assert c.read_response().body == ALPHA
        assert c.closed_within(TIMEOUT)


def test_http11_connection_close(port):
    with Conn(port) as c:
        c.send(build_request("GET", "/a.txt", {"Connection": "close"}))
        r = c.read_response()
        assert r.body == ALPHA and r.has_token("Connection", "close")
        assert c.closed_within(TIMEOUT)


def test_big_file_http_client(port, files):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        c.request("GET", "/big.bin")
        r = c.getresponse()
        data = r.read()
        assert r.status == 200
        assert sha256(data) == sha256(files["/big.bin"])
        c.request("GET", "/big.bin", headers={"Range": "bytes=5000000-5999999"})
        r = c.getresponse()
        assert r.status == 206
        assert r.read() == files["/big.bin"][5000000:6000000]
    finally:
        c.close()


# -------------------------------------------------------------------- curl

needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def curl(*args, timeout=TIMEOUT * 3):
    return subprocess.run([CURL, "-sS", "--max-time", str(TIMEOUT * 2)] + list(args),
                          capture_output=True, timeout=timeout)


@needs_curl
def test_curl_reuses_connection(port):
    url = "http://127.0.0.1:%d" % port
    p = curl("-v", "-o", "/dev/null", "-o", "/dev/null", url + "/a.txt", url + "/b.txt")
    assert p.returncode == 0, p.stderr
    err = p.stderr.decode(errors="replace")
    assert "Re-using existing connection" in err, err
    assert err.count("Connected to") == 1, err


@needs_curl
def test_curl_range(port, files):
    url = "http://127.0.0.1:%d/range.bin" % port
    p = curl("-r", "100-199", "-w", "\n%{http_code}", url)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition(b"\n")
    assert code == b"206"
    assert body == files["/range.bin"][100:200]


@needs_curl
def test_curl_conditional_z(port):
    url = "http://127.0.0.1:%d/a.txt" % port
    p = curl("-z", http_date(PAST), "-w", "%{http_code}", url)
    assert p.stdout == b"304", p
    p = curl("-z", http_date(PAST - 86400), "-w", "%{http_code}", url)
    assert p.stdout == ALPHA + b"200", p


@needs_curl
@pytest.mark.parametrize("accept,enc", [(None, ("br", "gzip")), ("gzip", ("gzip",)), ("br", ("br",))])
def test_curl_compressed(port, tmp_path, accept, enc):
    url = "http://127.0.0.1:%d/comp.txt" % port
    hdr = tmp_path / "headers"
    extra = [] if accept is None else ["-H", "Accept-Encoding: " + accept]
    p = curl("--compressed", "-D", str(hdr), *extra, url)
    assert p.returncode == 0, p.stderr
    assert p.stdout == COMP_TEXT
    m = re.search(r"(?im)^content-encoding:\s*(\S+)", hdr.read_text())
    assert m and m.group(1) in enc, hdr.read_text()


@needs_curl
def test_curl_big_file_sha256(port, files, tmp_path):
    out = tmp_path / "big.out"
    p = curl("-o", str(out), "-w", "%{http_code} %{size_download}",
             "http://127.0.0.1:%d/big.bin" % port)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"200 %d" % len(files["/big.bin"])
    with open(str(out), "rb") as f:
        assert sha256(f.read()) == sha256(files["/big.bin"])


@needs_curl
def test_curl_directory_redirect_followed(port, files):
    p = curl("-L", "-w", "\n%{http_code} %{num_redirects}", "http://127.0.0.1:%d/sub?z=1" % port)
    body, _, tail = p.stdout.rpartition(b"\n")
    assert tail == b"200 1" and body == files["/sub/index.html"]


# ---------------------------------------------------------------- backends

@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_get_and_range(site, backend):
    backend_or_skip(backend)
    root, files = site
    srv = start(root, "--backend", backend, "--workers", "2")
    try:
        p = srv.port()
        with Conn(p) as c:
            r = c.request("GET", "/range.bin")
            assert (r.status, r.body) == (200, files["/range.bin"])
            r = c.request("GET", "/range.bin", {"Range": "bytes=10-19"})
            assert r.status == 206 and r.get("Content-Range") == "bytes 10-19/1000"
            assert r.body == files["/range.bin"][10:20]
            r = c.request("GET", "/big.bin")
            assert r.status == 200 and sha256(r.body) == sha256(files["/big.bin"])
            c.send(build_request("GET", "/a.txt") + build_request("GET", "/b.txt"))
            assert [c.read_response().body for _ in range(2)] == [ALPHA, b"bravo\n"]
    finally:
        err = srv.stop()
    assert srv.proc.returncode == 0, err


# ------------------------------------------------------------ more details

def test_index_option(site, tmp_path):
    root = tmp_path / "idx"
    write(root / "home.html", b"<p>home</p>\n")
    write(root / "index.html", b"<p>not me</p>\n")
    write(root / "d" / "home.html", b"<p>d home</p>\n")
    write(root / "a.txt", ALPHA)  # for fetch()'s follow-up request
    srv = start(root, "--index", "home.html")
    try:
        p = srv.port()
        assert fetch(p, "/").body == b"<p>home</p>\n"
        assert fetch(p, "/d/").body == b"<p>d home</p>\n"
        assert fetch(p, "/index.html").body == b"<p>not me</p>\n"
    finally:
        srv.stop()


def test_query_is_not_part_of_the_file_name(port):
    for target in ("/a.txt?x=1", "/a.txt?x=%00", "/a.txt?p=../../etc/passwd", "/a.txt?x=%2f%5c",
                   "/a.txt?", "/a.txt?a?b"):
        r = fetch(port, target)
        assert (r.status, r.body) == (200, ALPHA), target


def test_file_with_trailing_slash_404(port):
    r = fetch(port, "/a.txt/")
    assert r.status == 404


def test_head_404_has_no_body(port):
    r = fetch(port, "/nope", method="HEAD")  # fetch checks the framing with a follow-up
    assert r.status == 404 and r.body == b""


def test_range_response_has_validators(port):
    r = fetch(port, "/range.bin", {"Range": "bytes=0-0"})
    assert r.status == 206
    assert r.get("ETag") == etag_of(port, "/range.bin")
    assert r.get("Last-Modified") == http_date(PAST)


def test_range_list_with_ows(port, files):
    r = fetch(port, "/range.bin", {"Range": "bytes=0-0, 5-9"})
    assert r.status == 206
    parts = parse_multipart(r)
    assert [c for _, c in parts] == [files["/range.bin"][0:1], files["/range.bin"][5:10]]


def test_if_none_match_wins_over_range(port):
    etag = etag_of(port, "/range.bin")
    r = fetch(port, "/range.bin", {"Range": "bytes=0-9", "If-None-Match": etag})
    assert r.status == 304


def test_range_on_precompressed_is_consistent(port, files):
    r = fetch(port, "/comp.txt", {"Range": "bytes=0-9", "Accept-Encoding": "gzip"})
    assert r.status == 206
    enc = r.get("Content-Encoding")
    full = files["/comp.txt.gz"] if enc == "gzip" else COMP_TEXT
    assert enc in (None, "gzip")
    assert r.body == full[:10]
    assert r.get("Content-Range") == "bytes 0-9/%d" % len(full)


def test_tcp_and_unix_listeners(site, tmp_path):
    root, files = site
    sock = tmp_path / "http.sock"
    srv = Server(["serve", "http", str(root), "--listen", "127.0.0.1:0", "--listen", "unix:%s" % sock])
    try:
        assert fetch(srv.port(), "/a.txt").body == ALPHA
        import socket as socketmod
        s = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(str(sock))
        with Conn(None, sock=s) as c:
            r = c.request("GET", "/a.txt")
            assert (r.status, r.body) == (200, ALPHA)
            r = c.request("GET", "/range.bin", {"Range": "bytes=0-3"})
            assert (r.status, r.body) == (206, files["/range.bin"][:4])
        if CURL:
            p = curl("--unix-socket", str(sock), "http://localhost/b.txt")
            assert p.stdout == b"bravo\n", p
    finally:
        srv.stop()
    assert srv.proc.returncode == 0


def test_ipv6_loopback(site):
    import socket as socketmod
    try:
        probe = socketmod.socket(socketmod.AF_INET6, socketmod.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    srv = Server(["serve", "http", str(site[0]), "--listen", "[::1]:0"])
    try:
        port = int(srv.endpoints[0].rsplit(":", 1)[1])
        s = socketmod.create_connection(("::1", port), timeout=TIMEOUT)
        with Conn(None, sock=s) as c:
            r = c.request("GET", "/a.txt", host="[::1]")
            assert (r.status, r.body) == (200, ALPHA)
    finally:
        srv.stop()
