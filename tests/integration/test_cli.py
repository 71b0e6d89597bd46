"""Command-line conventions: --help with examples, --version, usage errors
(exit 2) that name the bad part, runtime failures (exit 1) with the cause."""
import socket

import pytest

from conftest import run

COMMANDS = [["serve", "http"], ["serve", "echo"], ["serve", "discard"], ["serve", "msg"],
            ["get"], ["connect"], ["listen"], ["msg"], ["broadcast"], ["bench"]]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_has_usage_and_example(cmd):
    r = run(cmd + ["--help"])
    assert r.returncode == 0
    out = r.stdout.decode()
    assert out.startswith("Usage: sockkit " + " ".join(cmd))
    assert "Examples:" in out or "Example:" in out


def test_top_level_help_lists_every_command():
    """The design's command list, serve http first; and each one it lists
    answers --help."""
    out = run(["--help"]).stdout.decode()
    cmds = [line.split()[:2] for line in out.splitlines() if line.startswith("  ") and
            line.split()[0] in ("serve", "get", "connect", "listen", "msg", "broadcast", "bench")]
    names = [c[0] + (" " + c[1] if c[0] == "serve" else "") for c in cmds]
    assert names[0] == "serve http", names
    for want in ("serve http", "serve echo", "serve discard", "serve msg", "get", "connect",
                 "listen", "msg", "broadcast", "bench"):
        assert want in names, (want, names)
    for n in names:
        assert run(n.split() + ["--help"]).returncode == 0, n


def test_top_level_help_and_version():
    r = run(["--help"])
    assert r.returncode == 0 and b"Commands:" in r.stdout
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith(b"sockkit ")
    r = run(["serve", "echo", "--version"])
    assert r.returncode == 0 and r.stdout.startswith(b"sockkit ")
    assert run([]).returncode == 2
    assert run(["frobnicate"]).returncode == 2


@pytest.mark.parametrize("ep,needle", [
    ("tcp://:99999", "port 99999 out of range"),
    ("127.0.0.1", "missing port"),
    ("foo://x:1", "unknown scheme"),
    ("unix:", "empty Unix socket path"),
    ("[::1:80", "unterminated '['"),
    ("::1:80", "brackets"),
    ("127.0.0.1:abc", "not a number"),
    ("unix:" + "x" * 200, "too long"),
])
def test_malformed_endpoint_is_usage_error(ep, needle):
    r = run(["serve", "echo", ep])
    assert r.returncode == 2
    assert needle in r.stderr.decode(), r.stderr


@pytest.mark.parametrize("args,needle", [
    (["serve", "echo", "--backend", "kqueue", ":0"], "unknown backend"),
    (["serve", "echo", "--workers", "0", ":0"], "out of range"),
    (["serve", "echo", "-o", "bogus=1", ":0"], "unknown socket option"),
    (["serve", "echo", "-o", "rcvbuf=abc", ":0"], "rcvbuf"),
    (["serve", "echo"], "endpoint"),
    (["serve", "echo", "--no-such-flag", ":0"], "unrecognized option"),
    (["connect"], "endpoint"),
    (["connect", ":0"], "port 0"),
])
def test_bad_options_are_usage_errors(args, needle):
    r = run(args)
    assert r.returncode == 2
    assert needle in r.stderr.decode(), r.stderr


def test_connect_refused_exit_1():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    r = run(["connect", "127.0.0.1:%d" % port], input=b"")
    assert r.returncode == 1
    assert b"connection refused" in r.stderr
    # The address is named once, not once from the command line and once
    # from the connect error.
    assert r.stderr.count(b"127.0.0.1:%d" % port) == 1, r.stderr


def test_connect_name_not_found_exit_1():
    r = run(["connect", "no-such-host.invalid:80"], input=b"")
    assert r.returncode == 1
    assert b"name not found" in r.stderr


def test_port_in_use_is_runtime_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    r = run(["serve", "echo", "127.0.0.1:%d" % port])
    s.close()
    assert r.returncode == 1
    assert b"in use" in r.stderr


def test_verbose_reports_kernel_sockopt_values(server):
    srv = server("serve", "echo", "127.0.0.1:0", "-o", "rcvbuf=65536", "-o", "nodelay=1", "-v")
    err = srv.stop()
    assert "rcvbuf=65536" in err and "131072" in err, err
