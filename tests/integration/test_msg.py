"""Framed JSON messages: `sockkit serve msg` driven by Python sockets (every
op, every error reply, pipelining, oversized and truncated frames,
back-pressure against a client that never reads, every transport including
TLS, every backend) and the `sockkit msg` client CLI against it and against
scripted misbehaving servers."""
import json
import os
import shutil
import socket
import ssl
import struct
import threading
import time

import pytest

from conftest import BACKENDS, TIMEOUT, backend_or_skip, connect, recv_exact, run


def frame(payload):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload, separators=(",", ":"))
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">I", len(payload)) + payload


def read_frame(s):
    head = recv_exact(s, 4)
    if len(head) < 4:
        return None
    n = struct.unpack(">I", head)[0]
    body = recv_exact(s, n)
    assert len(body) == n, "reply cut short: %d of %d bytes" % (len(body), n)
    return body


def reply(s):
    body = read_frame(s)
    assert body is not None, "connection closed instead of a reply"
    return json.loads(body)


def ask(s, req):
    s.sendall(frame(req))
    return reply(s)


def tcp(srv):
    return connect(("127.0.0.1", srv.port()))


@pytest.fixture
def msgsrv(server):
    return server("serve", "msg", "127.0.0.1:0", "--workers", "2")


def test_ping_echo_stats(msgsrv):
    s = tcp(msgsrv)
    assert ask(s, {"op": "ping", "id": 1}) == {"id": 1, "ok": True}
    # No id: the reply carries a null one.
    assert ask(s, {"op": "ping"}) == {"id": None, "ok": True}
    data = {"a": [1, -2, 2.5, True, False, None], "s": "h\u00e9llo \u2603 \"q\" \\ \n",
            "nested": {"x": {"y": []}}, "nul": "a\u0000b"}
    for i, d in enumerate([data, "text", 42, None, [], {}, 1e300, -0.5]):
        r = ask(s, {"op": "echo", "id": "e%d" % i, "data": d})
        assert r == {"id": "e%d" % i, "ok": True, "data": d}
    # Ids of any JSON type come back as given.
    for rid in [0, -7, 2**62, "x" * 300, [1, {"k": "v"}], {"n": 1}, True, 1.5]:
        assert ask(s, {"op": "ping", "id": rid})["id"] == rid
    st = ask(s, {"op": "stats", "id": "st"})
    assert st["id"] == "st" and st["ok"] is True
    stats = st["stats"]
    assert stats["connections"] == 1
    assert stats["connections_total"] == 1
    assert stats["frames"] == 2 + 8 + 8 + 1
    assert stats["errors"] == 0
    assert stats["bytes_in"] > 0 and stats["bytes_out"] > 0
    assert 0 <= stats["uptime_s"] < 600
    s.close()


def test_stats_counts_bytes_exactly(msgsrv):
    s = tcp(msgsrv)
    reqs = [frame({"op": "ping", "id": 1}), frame({"op": "echo", "id": 2, "data": "abc"}),
            frame("not json")]
    out = 0
    for r in reqs:
        s.sendall(r)
        out += 4 + len(read_frame(s))
    st_req = frame({"op": "stats"})
    s.sendall(st_req)
    st = reply(s)["stats"]
    assert st["bytes_in"] == sum(len(r) for r in reqs) + len(st_req)
    assert st["bytes_out"] == out
    assert st["frames"] == 4
    assert st["errors"] == 1


def error_of(r):
    assert r["ok"] is False, r
    assert set(r) == {"id", "ok", "error"}
    assert isinstance(r["error"]["message"], str) and r["error"]["message"]
    return r["error"]["code"]


@pytest.mark.parametrize("payload,code", [
    (b"{not json", "bad_json"),
    (b"", "bad_json"),
    (b'{"op":"ping"', "bad_json"),
    (b'{"op":"ping"} trailing', "bad_json"),
    (b'{"op":"\xff\xfe"}', "bad_json"),           # invalid UTF-8
    (b'{"op":"\xed\xa0\x80"}', "bad_json"),       # UTF-8 encoded surrogate
    (b'{"data":"a\\\xde\x9a"}', "bad_json"),       # jansson quotes the bad bytes
    (b'{"op":"ping","id":1}\x00', "bad_json"),
    (b"[1,2]", "bad_request"),
    (b'"ping"', "bad_request"),
    (b"17", "bad_request"),
    (b"null", "bad_request"),
    (b'{"id":5}', "bad_request"),
    (b'{"op":5,"id":5}', "bad_request"),
    (b'{"op":null}', "bad_request"),
    (b'{"op":"echo","id":9}', "bad_request"),       # echo without data
    (b'{"op":"PING"}', "unknown_op"),
    (b'{"op":""}', "unknown_op"),
    (b'{"op":"' + b"z" * 5000 + b'"}', "unknown_op"),
    (b'{"op":"a\\u0000b"}', "unknown_op"),
])
def test_error_replies_keep_connection(msgsrv, payload, code):
    s = tcp(msgsrv)
    r = ask(s, payload)
    assert error_of(r) == code
    if payload.startswith(b'{"id":5') or payload.startswith(b'{"op":5'):
        assert r["id"] == 5
    # The same connection still answers.
    assert ask(s, {"op": "ping", "id": "after"}) == {"id": "after", "ok": True}
    s.close()


def test_unknown_op_keeps_id_and_names_op(msgsrv):
    s = tcp(msgsrv)
    r = ask(s, {"op": "launch", "id": [1, 2]})
    assert error_of(r) == "unknown_op"
    assert r["id"] == [1, 2]
    assert "launch" in r["error"]["message"]


def test_bad_json_then_ping_same_connection(msgsrv):
    s = tcp(msgsrv)
    s.sendall(frame(b"{{{") + frame({"op": "ping", "id": 2}))
    assert error_of(reply(s)) == "bad_json"
    assert reply(s) == {"id": 2, "ok": True}


def test_1000_pipelined_in_one_write(msgsrv):
    s = tcp(msgsrv)
    blob = b"".join(frame({"op": "ping" if i % 3 else "echo", "id": i, "data": i})
                    for i in range(1000))
    s.sendall(blob)
    for i in range(1000):
        r = reply(s)
        assert r["id"] == i, "reply %d carries id %r" % (i, r["id"])
        assert r["ok"] is True
        if i % 3 == 0:
            assert r["data"] == i


def test_frames_split_at_every_byte(msgsrv):
    s = tcp(msgsrv)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    blob = frame({"op": "echo", "id": 1, "data": "split"}) + frame({"op": "ping", "id": 2})
    for b in blob:
        s.sendall(bytes([b]))
        time.sleep(0.001)
    assert reply(s) == {"id": 1, "ok": True, "data": "split"}
    assert reply(s) == {"id": 2, "ok": True}


def test_oversize_prefix_replies_then_closes(server):
    srv = server("serve", "msg", "127.0.0.1:0", "--max-frame", "1K")
    s = tcp(srv)
    # Exactly the maximum is served.
    base = {"op": "echo", "id": 1, "data": ""}
    pad = 1024 - len(json.dumps(base, separators=(",", ":")))
    exact = json.dumps(dict(base, data="x" * pad), separators=(",", ":")).encode()
    assert len(exact) == 1024
    assert ask(s, exact)["data"] == "x" * pad
    # One more byte: an error reply, then the server closes.
    s.sendall(struct.pack(">I", 1025) + b"{" * 100)
    r = reply(s)
    assert error_of(r) == "frame_too_large"
    assert "1025" in r["error"]["message"] and "1024" in r["error"]["message"]
    assert read_frame(s) is None
    s.close()
    # A 4 GiB prefix at the default maximum: refused on the prefix alone.
    srv2 = server("serve", "msg", "127.0.0.1:0")
    s = tcp(srv2)
    s.sendall(b"\xff\xff\xff\xff")
    assert error_of(reply(s)) == "frame_too_large"
    assert read_frame(s) is None
    # The server still serves others.
    assert ask(tcp(srv2), {"op": "ping", "id": 3}) == {"id": 3, "ok": True}


def test_half_frame_then_disconnect(msgsrv):
    for partial in [b"\x00\x00", frame({"op": "ping", "id": 1})[:9],
                    struct.pack(">I", 10 << 20) + b"x" * 100000]:
        s = tcp(msgsrv)
        s.sendall(partial)
        s.close()
    # A reset in the middle of a frame, too.
    s = tcp(msgsrv)
    s.sendall(frame({"op": "ping"})[:6])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    s = tcp(msgsrv)
    assert ask(s, {"op": "ping", "id": "still"}) == {"id": "still", "ok": True}
    deadline = time.monotonic() + TIMEOUT
    while True:
        st = ask(s, {"op": "stats"})["stats"]
        if st["connections"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert st["connections"] == 1
    assert st["connections_total"] == 5


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_client_that_never_reads_is_bounded(server, tmp_path, kind):
    """100 MiB of echo requests from a client that reads nothing: the server
    stops reading once its replies back up, so the send stalls long before
    100 MiB and the server's RSS stays bounded; then every reply arrives,
    in order."""
    path = str(tmp_path / "m.sock")
    srv = server("serve", "msg", "127.0.0.1:0", "unix:" + path, "--workers", "1")
    pid = srv.proc.pid
    if kind == "tcp":
        s = tcp(srv)
    else:
        s = connect(path, socket.AF_UNIX)
    base = rss_kb(pid)
    frames = [frame({"op": "echo", "id": i, "data": "d" * 1000}) for i in range(64)]
    req = b"".join(frames)
    total, target = 0, 100 << 20
    s.setblocking(False)
    last_progress = time.monotonic()
    # The stream is req repeated; a send may stop anywhere in it.
    while total < target and time.monotonic() - last_progress < 1.5:
        try:
            n = s.send(req[total % len(req):])
        except BlockingIOError:
            time.sleep(0.01)
            continue
        total += n
        last_progress = time.monotonic()
    sent_reqs = total // len(req) * 64
    rest = total % len(req)
    for f in frames:
        if rest < len(f):
            break
        rest -= len(f)
        sent_reqs += 1
    grown = rss_kb(pid) - base
    print("sent %d bytes (%d requests), server RSS +%d KiB" % (total, sent_reqs, grown))
    assert total < target, "the server kept reading 100 MiB without its replies being read"
    assert grown < 32 * 1024, "server RSS grew by %d KiB" % grown
    # Now read everything back, in order.
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    for i in range(sent_reqs):
        r = reply(s)
        assert r["id"] == i % 64 and r["ok"] is True
    assert sent_reqs > 64


def test_unix_path_and_abstract(server, tmp_path):
    path = str(tmp_path / "msg.sock")
    name = "sockkit-msg-test-%d" % os.getpid()
    srv = server("serve", "msg", "unix:" + path, "unix:@" + name)
    assert srv.endpoints == ["unix:" + path, "unix:@" + name]
    for addr in (path, "\0" + name):
        s = connect(addr, socket.AF_UNIX)
        assert ask(s, {"op": "echo", "id": 1, "data": addr}) == {"id": 1, "ok": True,
                                                                 "data": addr}
        s.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend(server, backend, tmp_path):
    backend_or_skip(backend)
    path = str(tmp_path / "b.sock")
    srv = server("serve", "msg", "127.0.0.1:0", "unix:" + path, "--backend", backend,
                 "--workers", "2")
    socks = [tcp(srv), connect(path, socket.AF_UNIX), tcp(srv)]
    for k, s in enumerate(socks):
        s.sendall(b"".join(frame({"op": "ping", "id": i}) for i in range(200)))
    for s in socks:
        for i in range(200):
            assert reply(s) == {"id": i, "ok": True}
    # Counters are summed over workers (per connection thread for threads).
    st = ask(socks[0], {"op": "stats"})["stats"]
    assert st["connections"] == 3
    assert st["frames"] == 601
    socks[1].close()
    deadline = time.monotonic() + TIMEOUT
    while st["connections"] != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        st = ask(socks[0], {"op": "stats"})["stats"]
    assert st["connections"] == 2 and st["connections_total"] == 3
    assert st["frames"] >= 602


def test_serve_msg_usage(server):
    r = run(["serve", "msg", "udp://127.0.0.1:0"])
    assert r.returncode == 2 and b"stream endpoint" in r.stderr
    r = run(["serve", "msg", "127.0.0.1:0", "--max-frame", "5X"])
    assert r.returncode == 2 and b"--max-frame" in r.stderr
    r = run(["serve", "msg", "127.0.0.1:0", "--max-frame", "5G"])
    assert r.returncode == 2
    r = run(["serve", "msg", "--help"])
    assert r.returncode == 0 and b"frame_too_large" in r.stdout and b"Examples" in r.stdout
    r = run(["serve", "msg"])
    assert r.returncode == 2


def test_sigterm_drains(server):
    srv = server("serve", "msg", "127.0.0.1:0")
    s = tcp(srv)
    assert ask(s, {"op": "ping", "id": 1})["ok"]
    srv.signal(15)
    assert srv.wait() == 0


# ---- the `sockkit msg` client -------------------------------------------------


def test_client_arguments_and_fail(msgsrv):
    ep = "127.0.0.1:%d" % msgsrv.port()
    r = run(["msg", ep, '{"op":"ping","id":1}', '{"op":"echo","id":2,"data":{"k":[1]}}',
             '{"op":"nope","id":3}', "garbage"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0]) == {"id": 1, "ok": True}
    assert json.loads(lines[1]) == {"id": 2, "ok": True, "data": {"k": [1]}}
    assert json.loads(lines[2])["error"]["code"] == "unknown_op"
    assert json.loads(lines[3])["error"]["code"] == "bad_json"
    r = run(["msg", ep, "--fail", '{"op":"ping"}', '{"op":"nope"}'])
    assert r.returncode == 1
    assert len(r.stdout.decode().splitlines()) == 2
    r = run(["msg", ep, "--fail", '{"op":"ping"}', '{"op":"stats"}'])
    assert r.returncode == 0


def test_client_stdin_lines_pipelined(msgsrv, tmp_path):
    ep = "127.0.0.1:%d" % msgsrv.port()
    lines = "".join('{"op":"ping","id":%d}\n' % i for i in range(5000))
    lines += "\n   \r\n" + '{"op":"echo","id":"last","data":"no newline"}'
    r = run(["msg", ep, "--window", "64"], input=lines.encode())
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert len(out) == 5001
    for i in range(5000):
        assert json.loads(out[i]) == {"id": i, "ok": True}
    assert json.loads(out[-1])["data"] == "no newline"
    # CRLF lines.
    r = run(["msg", ep], input=b'{"op":"ping","id":7}\r\n')
    assert json.loads(r.stdout) == {"id": 7, "ok": True}


def test_client_unix_and_abstract(server, tmp_path):
    path = str(tmp_path / "c.sock")
    name = "sockkit-msgc-%d" % os.getpid()
    server("serve", "msg", "unix:" + path, "unix:@" + name)
    for ep in ("unix:" + path, "unix:@" + name):
        r = run(["msg", ep, '{"op":"ping","id":"u"}'])
        assert r.returncode == 0 and json.loads(r.stdout) == {"id": "u", "ok": True}


def test_client_connection_refused_names_address():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = run(["msg", "127.0.0.1:%d" % port, '{"op":"ping"}'])
    assert r.returncode == 1
    assert b"127.0.0.1:%d" % port in r.stderr and b"refused" in r.stderr


def scripted_server(behaviour):
    """A one-connection TCP server run by behaviour(conn) in a thread."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(TIMEOUT)

    def serve():
        try:
            c, _ = ls.accept()
        except OSError:
            return
        try:
            behaviour(c)
        finally:
            c.close()
            ls.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return "127.0.0.1:%d" % ls.getsockname()[1], t


def test_client_timeout():
    ep, t = scripted_server(lambda c: time.sleep(3))
    start = time.monotonic()
    r = run(["msg", ep, "--timeout", "0.5", '{"op":"ping"}'])
    assert r.returncode == 1
    assert b"timed out" in r.stderr and b"1 of 1" in r.stderr
    assert time.monotonic() - start < 2.5


def test_client_server_closes_before_replying():
    def one_then_close(c):
        c.settimeout(TIMEOUT)
        c.recv(65536)
        c.sendall(frame({"id": 1, "ok": True}))
    ep, t = scripted_server(one_then_close)
    r = run(["msg", ep, '{"op":"ping","id":1}', '{"op":"ping","id":2}'])
    t.join(TIMEOUT)
    # Both requests are usually in the first read; either way one is owed.
    assert r.returncode == 1
    assert b"closed the connection" in r.stderr
    assert r.stdout.decode().splitlines()[0] == '{"id":1,"ok":true}'


def test_client_reply_too_large_and_not_json():
    ep, t = scripted_server(lambda c: (c.recv(100), c.sendall(struct.pack(">I", 1 << 20))))
    r = run(["msg", ep, "--max-frame", "1000", '{"op":"ping"}'])
    assert r.returncode == 1
    assert b"over --max-frame" in r.stderr and b"1048576" in r.stderr
    ep, t = scripted_server(lambda c: (c.recv(100), c.sendall(frame(b"<html>"))))
    r = run(["msg", ep, '{"op":"ping"}'])
    assert r.returncode == 1 and b"not valid JSON" in r.stderr


def test_client_request_over_max_frame(msgsrv):
    ep = "127.0.0.1:%d" % msgsrv.port()
    r = run(["msg", ep, "--max-frame", "10", '{"op":"ping","id":1}'])
    assert r.returncode == 1 and b"over --max-frame" in r.stderr


def test_client_usage():
    r = run(["msg", "--help"])
    assert r.returncode == 0 and b"Examples" in r.stdout
    for args in (["msg"], ["msg", "udp://127.0.0.1:9"], ["msg", "tls://127.0.0.1:0", "{}"],
                 ["msg", "bad:endpoint:x"], ["msg", "127.0.0.1:9", "--window", "0"]):
        r = run(args)
        assert r.returncode == 2, args
        assert r.stderr, args


# ---- TLS -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def msg_pki(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl command missing")
    from test_tls import Pki
    return Pki(tmp_path_factory.mktemp("msgpki"))


def test_tls_server_python_client(server, msg_pki):
    srv = server("serve", "msg", "tls://127.0.0.1:0", "127.0.0.1:0", "--cert",
                 msg_pki.path("ec.chain.pem"), "--key", msg_pki.path("ec.key"), "--workers", "1")
    port = int(srv.ep("tls://").rsplit(":", 1)[1])
    ctx = ssl.create_default_context(cafile=msg_pki.path("ca.pem"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"".join(frame({"op": "echo", "id": i, "data": [i]}) for i in range(500)))
    for i in range(500):
        assert reply(s) == {"id": i, "ok": True, "data": [i]}
    assert error_of(ask(s, b"{bad")) == "bad_json"
    assert ask(s, {"op": "ping", "id": "t"}) == {"id": "t", "ok": True}
    s.sendall(b"\xff\xff\xff\xff")
    assert error_of(reply(s)) == "frame_too_large"
    assert read_frame(s) is None
    # The plain endpoint of the same server still answers.
    assert ask(tcp(srv), {"op": "ping", "id": 1}) == {"id": 1, "ok": True}


def test_tls_msg_client(server, msg_pki):
    srv = server("serve", "msg", "tls://127.0.0.1:0", "--cert", msg_pki.path("ec.chain.pem"),
                 "--key", msg_pki.path("ec.key"))
    ep = "tls://localhost:%s" % srv.ep("tls://").rsplit(":", 1)[1]
    r = run(["msg", ep, "--cacert", msg_pki.path("ca.pem"), '{"op":"ping","id":1}',
             '{"op":"echo","id":2,"data":"over tls"}'])
    assert r.returncode == 0, r.stderr
    assert [json.loads(x) for x in r.stdout.decode().splitlines()] == [
        {"id": 1, "ok": True}, {"id": 2, "ok": True, "data": "over tls"}]
    lines = "".join('{"op":"ping","id":%d}\n' % i for i in range(2000)).encode()
    r = run(["msg", ep, "--cacert", msg_pki.path("ca.pem"), "--fail"], input=lines)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2000
    # Not verified without the CA; -k skips verification with a warning.
    r = run(["msg", ep, '{"op":"ping"}'])
    assert r.returncode == 1 and b"unknown CA" in r.stderr
    r = run(["msg", ep, "-k", '{"op":"ping","id":3}'])
    assert r.returncode == 0 and json.loads(r.stdout) == {"id": 3, "ok": True}
    assert b"insecure" in r.stderr
