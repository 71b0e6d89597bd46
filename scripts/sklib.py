"""sklib.py -- what scripts/slow-attacks.py and scripts/soak.py share: a
served tree, a sockkit HTTP server started on a loopback port 0 (its port
read from the `listening on` line), a one-shot GET with a deadline, and
the server's resident memory. Every socket operation has a timeout."""
import os
import re
import select
import signal
import socket
import subprocess
import time

SOCKKIT = os.environ.get("SOCKKIT", "build/sockkit")


def make_tree(root):
    """index.html, a 16 KiB page, a 1 MiB file (slow read, ranges) and a
    directory to list."""
    os.makedirs(os.path.join(root, "dir"), exist_ok=True)
    files = {
        "index.html": b"<!DOCTYPE html><title>sockkit</title><p>hello</p>\n",
        "page.html": bytes(range(32, 127)) * 172,
        "big.bin": os.urandom(1 << 20),
        "dir/a.txt": b"a\n",
        "dir/b.txt": b"bb\n",
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return files


class Server:
    """`sockkit serve http ROOT --listen 127.0.0.1:0 ARGS...`, stopped by PID."""

    def __init__(self, root, args, env=None, log=None):
        self.proc = subprocess.Popen(
            [SOCKKIT, "serve", "http", root, "--listen", "127.0.0.1:0"] + args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log if log is not None else subprocess.PIPE, env=env)
        self.port = None
        if log is not None:
            path = log.name
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.port is None:
                with open(path, "rb") as f:
                    m = re.search(rb"listening on tcp://127\.0\.0\.1:(\d+)", f.read())
                if m:
                    self.port = int(m.group(1))
                elif self.proc.poll() is not None:
                    break
                else:
                    time.sleep(0.05)
        else:
            buf = b""
            deadline = time.monotonic() + 20
            fd = self.proc.stderr.fileno()
            while time.monotonic() < deadline and self.port is None:
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        break
                    buf += chunk
                    m = re.search(rb"listening on tcp://127\.0\.0\.1:(\d+)", buf)
                    if m:
                        self.port = int(m.group(1))
        if self.port is None:
            self.stop()
            raise RuntimeError("sockkit did not start: %r" % (SOCKKIT,))

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return -1

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def read_response(s, head_only=False):
    """Reads one Content-Length framed response from s; returns
    (status, headers dict, body). Raises on a malformed one."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of the head")
        buf += chunk
        if len(buf) > 65536:
            raise ValueError("response head too long")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", lines[0])
    if not m:
        raise ValueError("bad status line %r" % lines[0][:80])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
    status = int(m.group(1))
    length = 0 if head_only or status in (204, 304) else int(headers["content-length"])
    while len(rest) < length:
        chunk = s.recv(min(1 << 20, length - len(rest)))
        if not chunk:
            raise ConnectionError("closed %d bytes into a %d-byte body" % (len(rest), length))
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def get(port, target="/", timeout=1.0, headers=""):
    """One GET on a fresh connection; returns (status, seconds) or raises."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n"
                   % (target, headers)).encode())
        status, _, _, _ = read_response(s)
    return status, time.monotonic() - t0
