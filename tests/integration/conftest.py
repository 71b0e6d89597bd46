"""Shared fixtures for the integration tests: start sockkit servers on port 0,
read the bound endpoints from their `listening on EP` lines, and stop them by
PID at the end. Every socket operation has a timeout."""
import os
import re
import resource
import select
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOCKKIT = os.environ.get("SOCKKIT", os.path.join(ROOT, "build", "sockkit"))
SANITIZED = os.environ.get("SK_SANITIZED") == "1"
TIMEOUT = 20 if SANITIZED else 10

BACKENDS = ["epoll", "poll", "select", "uring", "threads"]


def uring_available():
    """io_uring may be disabled by sysctl or seccomp; the server then fails at
    start with a clear message and the uring cases are skipped."""
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() in ("0", "")
    except OSError:
        return True


class Server:
    """A sockkit server process; endpoints holds its `listening on` lines."""

    def __init__(self, args, rlimit_nofile=None, env=None):
        self.args = [SOCKKIT] + args
        preexec = None
        if rlimit_nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (rlimit_nofile, rlimit_nofile))
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, preexec_fn=preexec, env=env)
        self.endpoints = []
        self._err = b""
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + TIMEOUT
        # The server prints every bound endpoint at once; after the first line
        # a short quiet period means the list is complete.
        while time.monotonic() < deadline:
            wait = 0.3 if self.endpoints else deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(wait, 0))
            if not ready:
                if self.endpoints:
                    break
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self._err += chunk
            self.endpoints = re.findall(r"listening on (\S+)", self._err.decode(errors="replace"))
        if not self.endpoints:
            err = self.stop()
            raise RuntimeError("server did not start: %r\n%s" % (self.args, err))

    def ep(self, prefix):
        for e in self.endpoints:
            if e.startswith(prefix):
                return e
        raise KeyError(prefix)

    def port(self, prefix="tcp://"):
        return int(self.ep(prefix).rsplit(":", 1)[1])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.stderr.closed:
            return self._err.decode(errors="replace")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rest = self.proc.stderr.read()
        self._err += rest or b""
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self._err.decode(errors="replace")


@pytest.fixture
def server():
    started = []

    def start(*args, **kw):
        s = Server(list(args), **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        err = s.stop()
        if SANITIZED:
            assert "Sanitizer" not in err and "runtime error" not in err, err


def backend_or_skip(backend):
    if backend == "uring" and not uring_available():
        pytest.skip("io_uring is disabled on this kernel")


def connect(addr, family=socket.AF_INET, kind=socket.SOCK_STREAM):
    s = socket.socket(family, kind)
    s.settimeout(TIMEOUT)
    s.connect(addr)
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def recv_all(s):
    buf = bytearray()
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return bytes(buf)
        buf += chunk


def run(args, input=None, timeout=TIMEOUT):
    return subprocess.run([SOCKKIT] + args, input=input, capture_output=True, timeout=timeout)
