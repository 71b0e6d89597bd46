"""`sockkit connect` and `sockkit listen` against real peers: half-close
semantics, datagrams, Unix sockets, and the listener side."""
import os
import re
import select
import socket
import subprocess
import threading
import time

from conftest import SOCKKIT, TIMEOUT, recv_all, run


def one_shot_server(family=socket.AF_INET, addr=("127.0.0.1", 0), reply_prefix=b"got:"):
    """Accepts one client, reads to EOF, then replies and closes: only works
    if the client half-closes and keeps reading."""
    ls = socket.socket(family)
    ls.settimeout(TIMEOUT)
    ls.bind(addr)
    ls.listen(1)
    result = {}

    def serve():
        c, _ = ls.accept()
        c.settimeout(TIMEOUT)
        data = recv_all(c)
        result["data"] = data
        time.sleep(0.1)
        c.sendall(reply_prefix + data)
        c.close()
        ls.close()

    t = threading.Thread(target=serve)
    t.start()
    return ls.getsockname(), t, result


def test_connect_half_closes_and_prints_until_peer_closes():
    (host, port), t, result = one_shot_server()
    payload = os.urandom(300000)
    r = run(["connect", "%s:%d" % (host, port)], input=payload)
    t.join(TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert result["data"] == payload
    assert r.stdout == b"got:" + payload


def test_connect_unix_path(tmp_path):
    path = str(tmp_path / "s.sock")
    _, t, result = one_shot_server(socket.AF_UNIX, path)
    r = run(["connect", "unix:" + path], input=b"hello unix")
    t.join(TIMEOUT)
    assert r.stdout == b"got:hello unix"


def test_connect_udp_one_datagram_per_line(server):
    srv = server("serve", "echo", "udp://127.0.0.1:0")
    r = run(["connect", "udp://127.0.0.1:%d" % srv.port("udp://"), "--timeout", "0.5"],
            input=b"one\ntwo\nthree")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"one\ntwo\nthree"


def test_connect_unixgram(server, tmp_path):
    path = str(tmp_path / "g.sock")
    server("serve", "echo", "unixgram:" + path)
    r = run(["connect", "unixgram:" + path, "-t", "0.5"], input=b"abc\n")
    assert r.stdout == b"abc\n", r.stderr


def start_listen(args):
    p = subprocess.Popen([SOCKKIT, "listen"] + args, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = b""
    deadline = time.monotonic() + TIMEOUT
    while b"\n" not in line and time.monotonic() < deadline:
        ready, _, _ = select.select([p.stderr], [], [], 0.2)
        if ready:
            line += os.read(p.stderr.fileno(), 1000)
    m = re.search(rb"listening on (\S+)", line)
    assert m, line
    return p, m.group(1).decode()


def test_listen_tcp_bridges_one_peer():
    p, ep = start_listen(["127.0.0.1:0"])
    port = int(ep.rsplit(":", 1)[1])
    c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    c.sendall(b"from peer")
    c.shutdown(socket.SHUT_WR)
    out, err = None, None
    p.stdin.write(b"from stdin")
    p.stdin.close()
    assert recv_all(c) == b"from stdin"
    c.close()
    p.wait(TIMEOUT)
    assert p.stdout.read() == b"from peer"
    assert p.returncode == 0


def test_listen_udp_prints_datagrams_with_sender():
    p, ep = start_listen(["udp://127.0.0.1:0", "--from", "--count", "2"])
    port = int(ep.rsplit(":", 1)[1])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.sendto(b"first\n", ("127.0.0.1", port))
    u.sendto(b"second\n", ("127.0.0.1", port))
    p.wait(TIMEOUT)
    out = p.stdout.read().decode()
    me = "udp://127.0.0.1:%d" % u.getsockname()[1]
    assert out == "%s\tfirst\n%s\tsecond\n" % (me, me)
    u.close()
    p.stdin.close()
    p.stderr.close()


def test_listen_abstract_unix():
    name = "sockkit-listen-%d" % os.getpid()
    p, ep = start_listen(["unix:@" + name])
    assert ep == "unix:@" + name
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(TIMEOUT)
    c.connect("\0" + name)
    c.sendall(b"abstract")
    c.close()
    p.stdin.close()
    p.wait(TIMEOUT)
    assert p.stdout.read() == b"abstract"
