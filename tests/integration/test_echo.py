"""Echo and discard servers driven by real peers (Python sockets, socat) on
every transport and every backend."""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (BACKENDS, SOCKKIT, TIMEOUT, backend_or_skip, connect, recv_all,
                      recv_exact, run)


def echo_roundtrip_halfclose(addr, family, payload):
    """Send payload while reading concurrently, half-close, read to EOF."""
    s = connect(addr, family)
    received = bytearray()

    def reader():
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return
            received.extend(chunk)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    t.join(TIMEOUT)
    s.close()
    return bytes(received)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tcp_echo_1mib_halfclose_every_backend(server, backend):
    backend_or_skip(backend)
    srv = server("serve", "echo", "127.0.0.1:0", "--backend", backend, "--workers", "2")
    payload = os.urandom(1 << 20)
    got = echo_roundtrip_halfclose(("127.0.0.1", srv.port()), socket.AF_INET, payload)
    assert got == payload


@pytest.mark.parametrize("backend", BACKENDS)
def test_udp_echo_keeps_boundaries_every_backend(server, backend):
    backend_or_skip(backend)
    srv = server("serve", "echo", "udp://127.0.0.1:0", "--backend", backend)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    addr = ("127.0.0.1", srv.port("udp://"))
    sizes = [1, 7, 512, 1400, 9000, 60000]
    for n in sizes:
        data = os.urandom(n)
        s.sendto(data, addr)
        reply, frm = s.recvfrom(65536)
        assert reply == data, "datagram of %d bytes came back as %d" % (n, len(reply))
        assert frm == addr
    s.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_unix_path_abstract_and_unixgram(server, backend, tmp_path):
    backend_or_skip(backend)
    path = str(tmp_path / "echo.sock")
    gpath = str(tmp_path / "echo.dgram")
    name = "sockkit-test-%d-%s" % (os.getpid(), backend)
    srv = server("serve", "echo", "unix:" + path, "unix:@" + name, "unixgram:" + gpath,
                 "--backend", backend)
    assert srv.endpoints == ["unix:" + path, "unix:@" + name, "unixgram:" + gpath]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    payload = os.urandom(200000)
    assert echo_roundtrip_halfclose(path, socket.AF_UNIX, payload) == payload
    assert echo_roundtrip_halfclose("\0" + name, socket.AF_UNIX, payload) == payload
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.settimeout(TIMEOUT)
    c.bind(str(tmp_path / "client.dgram"))
    for n in (1, 100, 4000):
        data = os.urandom(n)
        c.sendto(data, gpath)
        assert c.recv(65536) == data
    c.close()


def test_ipv6_and_dual_stack(server):
    srv = server("serve", "echo", "[::1]:0", ":0")
    v6 = srv.port("tcp://[::1]")
    dual = srv.port("tcp://[::]")
    assert echo_roundtrip_halfclose(("::1", v6, 0, 0), socket.AF_INET6, b"six") == b"six"
    assert echo_roundtrip_halfclose(("127.0.0.1", dual), socket.AF_INET, b"four") == b"four"
    assert echo_roundtrip_halfclose(("::1", dual, 0, 0), socket.AF_INET6, b"both") == b"both"


def test_several_endpoints_in_one_process(server, tmp_path):
    path = str(tmp_path / "e.sock")
    srv = server("serve", "echo", "127.0.0.1:0", "udp://127.0.0.1:0", "unix:" + path, "[::1]:0")
    assert len(srv.endpoints) == 4
    assert echo_roundtrip_halfclose(("127.0.0.1", srv.port("tcp://127")), socket.AF_INET,
                                    b"x" * 1000) == b"x" * 1000
    assert echo_roundtrip_halfclose(path, socket.AF_UNIX, b"y") == b"y"
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(TIMEOUT)
    u.sendto(b"z", ("127.0.0.1", srv.port("udp://")))
    assert u.recv(100) == b"z"
    u.close()


@pytest.mark.parametrize("backend", ["epoll", "poll", "select", "threads"])
def test_300_concurrent_clients(server, backend):
    srv = server("serve", "echo", "127.0.0.1:0", "--backend", backend)
    addr = ("127.0.0.1", srv.port())
    socks = [connect(addr) for _ in range(300)]
    for i, s in enumerate(socks):
        s.sendall(b"client %d\n" % i)
    for i, s in enumerate(socks):
        want = b"client %d\n" % i
        assert recv_exact(s, len(want)) == want
    for s in socks:
        s.close()


def test_socat_echo_byte_exact(server, tmp_path):
    srv = server("serve", "echo", "127.0.0.1:0")
    data = os.urandom(1 << 20)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    out = subprocess.run(["socat", "-t", "5", "-", "TCP:127.0.0.1:%d" % srv.port()],
                         stdin=open(src, "rb"), capture_output=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == data


def test_reset_mid_transfer_does_not_hurt_others(server):
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1")
    addr = ("127.0.0.1", srv.port())
    victim = connect(addr)
    victim.sendall(os.urandom(500000))
    # SO_LINGER 0 makes close() send a reset while the server still writes.
    victim.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    victim.close()
    payload = os.urandom(300000)
    assert echo_roundtrip_halfclose(addr, socket.AF_INET, payload) == payload


def test_slow_reader_backpressure(server):
    """A client that sends much more than it reads must not make the server
    buffer without bound; when it finally reads, every byte comes back."""
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1")
    s = connect(("127.0.0.1", srv.port()))
    s.setblocking(False)
    payload = os.urandom(16 << 20)
    sent = 0
    deadline = time.monotonic() + 3
    while sent < len(payload) and time.monotonic() < deadline:
        try:
            sent += s.send(payload[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)
    # The server stopped reading: far less than 16 MiB could be sent.
    assert sent < len(payload)
    rss_kb = int(open("/proc/%d/status" % srv.proc.pid).read().split("VmRSS:")[1].split()[0])
    assert rss_kb < 64 * 1024, "server RSS %d kB while a reader stalls" % rss_kb
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    got = bytearray()

    def reader():
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            got.extend(chunk)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(payload[sent:])
    s.shutdown(socket.SHUT_WR)
    t.join(30)
    assert bytes(got) == payload


def test_discard_reads_everything(server):
    srv = server("serve", "discard", "127.0.0.1:0", "udp://127.0.0.1:0")
    s = connect(("127.0.0.1", srv.port()))
    s.sendall(os.urandom(4 << 20))
    s.shutdown(socket.SHUT_WR)
    assert recv_all(s) == b""  # the server closes after our FIN, sending nothing
    s.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(0.3)
    u.sendto(b"dropped", ("127.0.0.1", srv.port("udp://")))
    with pytest.raises(socket.timeout):
        u.recv(10)
    u.close()


def test_emfile_survival(server):
    """With RLIMIT_NOFILE 64, 100 clients exhaust the fd table; the server
    keeps serving the ones it has, and serves again once they leave."""
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1", "--max-conns", "1000",
                 rlimit_nofile=64)
    addr = ("127.0.0.1", srv.port())
    socks = []
    for _ in range(100):
        s = socket.create_connection(addr, timeout=TIMEOUT)
        socks.append(s)
    # Connections the server accepted still echo while the rest wait.
    first = socks[0]
    first.sendall(b"ping")
    assert recv_exact(first, 4) == b"ping"
    for s in socks:
        s.close()
    time.sleep(0.5)
    assert echo_roundtrip_halfclose(addr, socket.AF_INET, b"after") == b"after"
    assert srv.proc.poll() is None
    err = srv.stop()
    assert "pausing accepts" in err


def test_sigterm_drains_pending_output(server):
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1", "--drain-timeout", "5",
                 "-o", "sndbuf=4096")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", srv.port()))
    idle = connect(("127.0.0.1", srv.port()))
    payload = os.urandom(200000)
    s.sendall(payload)
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    time.sleep(0.3)
    # The idle connection is closed at once, the busy one is still served.
    assert idle.recv(10) == b""
    assert srv.proc.poll() is None
    assert recv_exact(s, len(payload)) == payload
    assert srv.wait() == 0


def test_sigterm_drain_timeout_bounds_shutdown(server):
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1", "--drain-timeout", "1",
                 "-o", "sndbuf=4096")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", srv.port()))
    s.sendall(os.urandom(200000))
    time.sleep(0.3)
    t0 = time.monotonic()
    srv.signal(signal.SIGINT)
    assert srv.wait() == 0
    assert time.monotonic() - t0 < 4
    s.close()


def test_stale_unix_socket_removed_live_one_refused(server, tmp_path):
    path = str(tmp_path / "s.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays behind with nothing listening
    srv = server("serve", "echo", "unix:" + path)
    assert echo_roundtrip_halfclose(path, socket.AF_UNIX, b"ok") == b"ok"
    second = run(["serve", "echo", "unix:" + path], timeout=TIMEOUT)
    assert second.returncode == 1
    assert b"listening" in second.stderr or b"in use" in second.stderr
    assert os.path.exists(path)
    regular = tmp_path / "file"
    regular.write_text("keep me")
    third = run(["serve", "echo", "unix:" + str(regular)], timeout=TIMEOUT)
    assert third.returncode == 1
    assert regular.read_text() == "keep me"
    srv.stop()


def test_default_max_conns_stays_within_fd_limit(server):
    """Without --max-conns the server caps itself below the fd limit and the
    surplus clients wait in the backlog instead of failing."""
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1", rlimit_nofile=64)
    addr = ("127.0.0.1", srv.port())
    socks = [socket.create_connection(addr, timeout=TIMEOUT) for _ in range(60)]
    socks[0].sendall(b"a")
    assert recv_exact(socks[0], 1) == b"a"
    for s in socks[1:]:
        s.close()
    late = connect(addr)
    late.sendall(b"late")
    assert recv_exact(late, 4) == b"late"
    late.close()
    socks[0].close()
