"""Edges of `sockkit serve msg` and the `sockkit msg` client found in
review: tracing a failed reply back to its stdin line, echo returning the
numbers it was given."""
import json

from conftest import run
from test_msg import ask, msgsrv, reply, frame, tcp  # noqa: F401 (msgsrv is a fixture)


def test_client_names_the_stdin_line_of_each_failed_reply(msgsrv):
    ep = "127.0.0.1:%d" % msgsrv.port()
    stdin = (b'{"op":"ping","id":1}\n'
             b'\n'
             b'   \r\n'
             b'{bad\n'
             b'{"op":"nope","id":5}\n'
             b'{"op":"ping","id":6}\n'
             b'[1]')
    r = run(["msg", ep, "--window", "2"], input=stdin)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.decode().splitlines()) == 5
    assert r.stderr.decode().splitlines() == [
        "sockkit msg: stdin line 4: bad_json: invalid JSON at byte 4: string or '}' expected "
        "near 'bad'",
        "sockkit msg: stdin line 5: unknown_op: unknown op \"nope\" (ping, echo, stats)",
        "sockkit msg: stdin line 7: bad_request: a request must be a JSON object",
    ]
    r = run(["msg", ep, "--fail"], input=stdin)
    assert r.returncode == 1
    # Arguments are counted as requests.
    r = run(["msg", ep, '{"op":"ping"}', "x"])
    assert r.returncode == 0
    assert r.stderr.decode().startswith("sockkit msg: request 2: bad_json: ")
    # A line over --max-frame is named by its line number.
    r = run(["msg", ep, "--max-frame", "30"],
            input=b'\n{"op":"ping"}\n\n{"op":"echo","data":"0123456789abcdef"}\n')
    assert r.returncode == 1
    assert r.stderr.decode().strip().splitlines()[-1] == \
        "sockkit msg: %s: stdin line 4 is over --max-frame (30 bytes)" % ep


def test_client_line_numbers_past_the_window(msgsrv):
    """Thousands of pipelined lines with a small window: every failure is
    still traced to its own line."""
    ep = "127.0.0.1:%d" % msgsrv.port()
    lines = []
    for i in range(1, 3001):
        lines.append('{"op":"nope","id":%d}' % i if i % 500 == 0 else '{"op":"ping","id":%d}' % i)
        if i % 7 == 0:
            lines.append("")
    r = run(["msg", ep, "--window", "16"], input=("\n".join(lines) + "\n").encode())
    assert r.returncode == 0, r.stderr
    want = [n + 1 for n, line in enumerate(lines) if '"nope"' in line]
    got = [int(line.split()[4].rstrip(":")) for line in r.stderr.decode().splitlines()]
    assert got == want


def test_deep_nesting_cannot_exhaust_a_connection_thread_stack(server):
    """jansson recurses per nesting level; its own 2048-level limit used to
    overflow the 256 KiB stack of a --backend threads connection thread and
    kill the whole server. The request is refused before jansson sees it."""
    srv = server("serve", "msg", "127.0.0.1:0", "--backend", "threads", "--workers", "1")
    s = tcp(srv)
    for depth in (511, 512, 2040, 100000):
        body = b'{"op":"echo","id":1,"data":' + b"[" * depth + b"]" * depth + b"}"
        s.sendall(frame(body))
        r = reply(s)
        if depth < 512:
            assert r["ok"] is True
        else:
            assert r["error"] == {"code": "bad_request", "message": "the request nests arrays "
                                  "and objects deeper than 512 levels"}
    assert ask(s, {"op": "ping", "id": 2}) == {"id": 2, "ok": True}
    s2 = tcp(srv)
    assert ask(s2, {"op": "ping", "id": 3}) == {"id": 3, "ok": True}
