#!/usr/bin/env python3
"""soak.py -- `make soak`: a mixed load against the ASan build of the HTTP
server on every backend in turn (SOAK_TIME seconds in all, default 600,
split evenly): keep-alive GETs, pipelined bursts, single and multipart
ranges, 304 revalidations, listings, POST bodies, slow readers that give
up, and connections reset in the middle of a body. Reports per backend
the server's RSS after warm-up and at the end, requests, errors (any
unexpected status, framing or connection failure) and sanitizer reports
(ASan/UBSan logs written by the server); exits 1 on any error or report.

Environment: SOCKKIT (the ASan build), SOAK_TIME, SOAK_CLIENTS (load
threads per backend, default 6); ASAN_OPTIONS must carry log_path."""
import glob
import os
import random
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sklib  # noqa: E402

SOAK_TIME = int(os.environ.get("SOAK_TIME", "600"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "6"))
BACKENDS = ["epoll", "poll", "select", "uring", "threads"]


def uring_available():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() in ("0", "")
    except OSError:
        return True


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = []

    def ok(self, n=1):
        with self.lock:
            self.requests += n

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(10)
    return s


def expect(stats, what, status, want, body=None, want_body=None):
    if status != want or (want_body is not None and body != want_body):
        stats.error("%s: status %d (want %d)%s" % (
            what, status, want, "" if want_body is None or body == want_body else ", wrong body"))
        return False
    stats.ok()
    return True


def keepalive(port, files, stats, rnd):
    with connect(port) as s:
        etag = None
        for _ in range(rnd.randint(5, 40)):
            name = rnd.choice(["index.html", "page.html", "dir/a.txt"])
            hdr = "If-None-Match: %s\r\n" % etag if etag and rnd.random() < 0.3 else ""
            s.sendall(("GET /%s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (name, hdr)).encode())
            status, headers, body, rest = sklib.read_response(s)
            if rest:
                stats.error("keep-alive: bytes after a response")
                return
            if hdr:
                # The ETag may belong to another file: then 200, else 304.
                if status not in (200, 304):
                    stats.error("conditional: status %d" % status)
                    return
                stats.ok()
            elif not expect(stats, "GET /" + name, status, 200, body, files[name]):
                return
            etag = headers.get("etag")


def pipelined(port, files, stats, rnd):
    names = [rnd.choice(["index.html", "page.html", "dir/b.txt", "dir/"]) for _ in range(10)]
    reqs = "".join("GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % n for n in names)
    with connect(port) as s:
        s.sendall(reqs.encode())
        rest = b""
        for n in names:
            sock = _Prefixed(s, rest)
            status, _, body, rest = sklib.read_response(sock)
            want = files.get(n)
            if not expect(stats, "pipelined /" + n, status, 200, body, want):
                return


class _Prefixed:
    """A socket whose first recv returns bytes already read."""

    def __init__(self, s, pre):
        self.s, self.pre = s, pre

    def recv(self, n):
        if self.pre:
            out, self.pre = self.pre[:n], self.pre[n:]
            return out
        return self.s.recv(n)


def ranges(port, files, stats, rnd):
    big = files["big.bin"]
    a = rnd.randrange(0, len(big) - 1000)
    with connect(port) as s:
        s.sendall(("GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=%d-%d\r\n\r\n"
                   % (a, a + 999)).encode())
        status, _, body, _ = sklib.read_response(s)
        if not expect(stats, "range", status, 206, body, big[a:a + 1000]):
            return
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9,-10\r\n\r\n")
        status, headers, body, _ = sklib.read_response(s)
        if expect(stats, "multipart range", status, 206) and \
                (big[:10] not in body or big[-10:] not in body):
            stats.error("multipart range: parts missing")


def post_body(port, files, stats, rnd):
    n = rnd.randint(0, 200000)
    with connect(port) as s:
        s.sendall(b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % n
                  + b"x" * n)
        status, _, _, _ = sklib.read_response(s)
        expect(stats, "POST", status, 405)


def slow_reader(port, files, stats, rnd):
    """Reads a little of a 1 MiB body slowly, then gives up."""
    with connect(port) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        for _ in range(rnd.randint(1, 5)):
            if not s.recv(2048):
                break
            time.sleep(0.2)
    stats.ok()


def reset_mid_body(port, files, stats, rnd):
    """Closes with RST (SO_LINGER 0) in the middle of a 1 MiB body."""
    s = connect(port)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
    s.recv(rnd.randint(1, 65536))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    stats.ok()


MIX = [(keepalive, 30), (pipelined, 15), (ranges, 15), (post_body, 10), (slow_reader, 5),
       (reset_mid_body, 10)]


def client(port, files, stats, until, seed):
    rnd = random.Random(seed)
    kinds = [k for k, w in MIX for _ in range(w)]
    while time.monotonic() < until:
        kind = rnd.choice(kinds)
        try:
            kind(port, files, stats, rnd)
        except Exception as e:  # noqa: BLE001 -- every failure is counted
            stats.error("%s: %s: %s" % (kind.__name__, type(e).__name__, e))


def soak_backend(backend, root, files, seconds, asan_prefix):
    log = open(os.path.join(root, "..", "server-%s.log" % backend), "w+b")
    srv = sklib.Server(root, ["--backend", backend, "--workers", "2", "--list-dirs"], log=log)
    stats = Stats()
    # Warm-up: every kind once, then the baseline RSS.
    client(srv.port, files, stats, time.monotonic() + 1.0, 0)
    rss_start = srv.rss_kib()
    start = time.monotonic()
    until = start + seconds
    threads = [threading.Thread(target=client, args=(srv.port, files, stats, until, i + 1))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    # RSS once a second; the baseline is taken a quarter into the run, once
    # allocator caches and ASan's (bounded) quarantine have filled.
    samples = []
    while any(t.is_alive() for t in threads) and time.monotonic() < until + 60:
        samples.append((time.monotonic() - start, srv.rss_kib()))
        time.sleep(1.0)
    for t in threads:
        t.join(60)
    warm = [r for at, r in samples if at >= seconds / 4] or [rss_start]
    rss0 = warm[0]
    # Idle keep-alive and slow connections are gone; let the server settle.
    time.sleep(1.0)
    rss1 = srv.rss_kib()
    alive = srv.alive()
    rc = srv.stop()
    log.close()
    reports = sorted(glob.glob(asan_prefix + ".*"))
    return {"backend": backend, "rss_start": rss_start, "rss0": rss0, "rss1": rss1,
            "rss_max": max([r for _, r in samples] + [rss1]), "requests": stats.requests,
            "errors": stats.errors, "alive": alive, "exit": rc, "asan": reports}


def main():
    asan_opts = os.environ.get("ASAN_OPTIONS", "")
    prefix = None
    for part in asan_opts.split(":"):
        if part.startswith("log_path="):
            prefix = part[len("log_path="):]
    if prefix is None:
        sys.exit("soak: ASAN_OPTIONS must set log_path= (make soak does)")
    for old in glob.glob(prefix + ".*"):
        os.unlink(old)
    backends = [b for b in BACKENDS if b != "uring" or uring_available()]
    per = max(5, SOAK_TIME // len(backends))
    tmp = tempfile.mkdtemp(prefix="sockkit-soak.")
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    files = sklib.make_tree(root)
    files["dir/"] = None  # a listing: any body
    print("soak: %s, %d s per backend, %d clients, mix %s" % (
        sklib.SOCKKIT, per, CLIENTS, ", ".join("%s %d%%" % (k.__name__, w) for k, w in MIX)),
        flush=True)
    results = []
    bad = False
    for b in backends:
        r = soak_backend(b, root, files, per, prefix)
        results.append(r)
        growth = r["rss1"] - r["rss0"]
        print("  %-7s %7d requests, %d errors, RSS %d KiB at start, %d after warm-up -> %d at "
              "end (%+d, max %d), ASan reports %d, server %s, exit %s"
              % (b, r["requests"], len(r["errors"]), r["rss_start"], r["rss0"], r["rss1"], growth,
                 r["rss_max"], len(r["asan"]),
                                      "alive" if r["alive"] else "DIED", r["exit"]), flush=True)
        for e in r["errors"][:5]:
            print("      error: " + e)
        for a in r["asan"][:3]:
            with open(a, errors="replace") as f:
                print("      %s:\n%s" % (a, "".join(f.readlines()[:20])))
        bad |= bool(r["errors"]) or bool(r["asan"]) or not r["alive"] or r["exit"] != 0
    total = sum(r["requests"] for r in results)
    errors = sum(len(r["errors"]) for r in results)
    reports = sum(len(r["asan"]) for r in results)
    print("soak: %d backends, %d requests, %d errors, %d sanitizer reports: %s"
          % (len(results), total, errors, reports, "FAIL" if bad else "PASS"))
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
