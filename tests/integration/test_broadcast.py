"""`sockkit broadcast` received by `sockkit listen udp://:PORT --from`: on
loopback (127.255.255.255 and --to 127.0.0.1), and across two network
namespaces joined by a veth pair with private 10.x addresses that exist only
inside the namespaces (skipped, with the reason, where namespaces cannot be
created; always removed afterwards)."""
import os
import re
import select
import shutil
import subprocess
import time

import pytest

from conftest import SOCKKIT, TIMEOUT, run


class Receiver:
    """`sockkit listen udp://:0 --from --count N`, optionally in a netns."""

    def __init__(self, count, netns=None):
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(
            prefix + [SOCKKIT, "listen", "udp://:0", "--from", "--count", str(count)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = b""
        deadline = time.monotonic() + TIMEOUT
        while b"listening on" not in err and time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                err += chunk
        m = re.search(rb"listening on udp://\S+:(\d+)", err)
        if not m:
            self.stop()
            raise AssertionError("receiver did not start: %r" % err)
        self.port = int(m.group(1))

    def lines(self):
        """Waits for the receiver to exit after its count; its output lines."""
        try:
            out, err = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("the receiver did not get every datagram")
        assert self.proc.returncode == 0, err
        return out.decode().splitlines()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_loopback_broadcast_address():
    rx = Receiver(2)
    try:
        r = run(["broadcast", str(rx.port), "hello lo", "--to", "127.255.255.255"])
        assert r.returncode == 0, r.stderr
        r = run(["broadcast", str(rx.port), "second", "--to", "127.0.0.1", "-v"])
        assert r.returncode == 0 and b"sent 6 bytes to 127.0.0.1:%d" % rx.port in r.stderr
        got = rx.lines()
    finally:
        rx.stop()
    assert len(got) == 2
    assert re.match(r"udp://127\.0\.0\.1:\d+\thello lo$", got[0]), got
    assert got[1].endswith("\tsecond")


def test_count_and_interval():
    rx = Receiver(3)
    try:
        start = time.monotonic()
        r = run(["broadcast", str(rx.port), "tick", "--to", "127.255.255.255", "--count", "3",
                 "--interval", "0.2"])
        elapsed = time.monotonic() - start
        assert r.returncode == 0, r.stderr
        got = rx.lines()
    finally:
        rx.stop()
    assert [g.split("\t")[1] for g in got] == ["tick"] * 3
    assert elapsed >= 0.4


def test_usage_errors():
    assert run(["broadcast", "--help"]).returncode == 0
    for args in (["broadcast"], ["broadcast", "9"], ["broadcast", "0", "x"],
                 ["broadcast", "70000", "x"], ["broadcast", "9", "x", "--count", "0"],
                 ["broadcast", "9", "x", "--to", "no.such.host.invalid"]):
        r = run(args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, timeout=TIMEOUT,
                          check=check)


@pytest.fixture
def netns_pair():
    """Two namespaces joined by a veth pair: (nsA, nsB, subnet prefix)."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is not installed")
    tag = "%d" % (os.getpid() % 100000)
    a, b = "skbcA" + tag, "skbcB" + tag
    sub = "10.%d.%d" % (200 + os.getpid() % 50, os.getpid() % 250)
    probe = ip("netns", "add", a, check=False)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace here: %s" %
                    probe.stderr.decode().strip())
    try:
        ip("netns", "add", b)
        ip("link", "add", "va" + tag, "type", "veth", "peer", "name", "vb" + tag)
        ip("link", "set", "va" + tag, "netns", a)
        ip("link", "set", "vb" + tag, "netns", b)
        for ns, dev, host in ((a, "va" + tag, 1), (b, "vb" + tag, 2)):
            ip("-n", ns, "addr", "add", "%s.%d/24" % (sub, host), "broadcast", sub + ".255",
               "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield a, b, sub, "va" + tag
    finally:
        # Deleting a namespace deletes the veth end inside it, and its peer.
        for ns in (a, b):
            ip("netns", "del", ns, check=False)
        ip("link", "del", "va" + tag, check=False)


def test_broadcast_across_namespaces(netns_pair):
    a, b, sub, dev_a = netns_pair
    rx = Receiver(2, netns=b)
    try:
        # The subnet's broadcast address.
        r = subprocess.run(["ip", "netns", "exec", a, SOCKKIT, "broadcast", str(rx.port),
                            "to the subnet", "--to", sub + ".255"],
                           capture_output=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        # Without a default route 255.255.255.255 has nowhere to go: a
        # clear error, exit 1.
        r = subprocess.run(["ip", "netns", "exec", a, SOCKKIT, "broadcast", str(rx.port), "x"],
                           capture_output=True, timeout=TIMEOUT)
        assert r.returncode == 1
        assert b"255.255.255.255:%d" % rx.port in r.stderr
        assert b"unreachable" in r.stderr and b"--to" in r.stderr
        # With one, the limited broadcast leaves by that interface.
        ip("-n", a, "route", "add", "default", "dev", dev_a)
        r = subprocess.run(["ip", "netns", "exec", a, SOCKKIT, "broadcast", str(rx.port),
                            "to everyone"], capture_output=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        got = rx.lines()
    finally:
        rx.stop()
    # Both came from A's address on the veth, in order.
    assert len(got) == 2, got
    for line, text in zip(got, ["to the subnet", "to everyone"]):
        assert re.fullmatch(r"udp://%s\.1:\d+\t%s" % (re.escape(sub), text), line), line
