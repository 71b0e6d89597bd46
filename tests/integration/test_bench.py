"""`sockkit bench` against sockkit's own servers (short runs, --json): the
fields are present and sane, a correct server gives no errors, a server
that echoes wrong bytes or answers 500 gives errors, the SVG is well-formed
XML, Ctrl-C keeps the figures. Nothing here asserts a speed."""
import csv
import json
import os
import signal
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import SANITIZED, SOCKKIT, TIMEOUT, run

SLOW = 3 if SANITIZED else 1


def bench(args, timeout=60):
    r = run(["bench"] + args + ["--quiet"], timeout=timeout * SLOW)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def check_latency(j):
    assert j["count"] > 0
    assert j["p50_us"] > 0
    assert j["p99_us"] >= j["p50_us"]
    assert j["p999_us"] >= j["p99_us"]
    assert j["max_us"] >= j["p999_us"]
    assert j["mean_us"] > 0


@pytest.mark.parametrize("transport", ["tcp", "unix", "udp", "unixgram"])
def test_rtt_each_transport(server, tmp_path, transport):
    eps = {"tcp": "tcp://127.0.0.1:0", "udp": "udp://127.0.0.1:0",
           "unix": "unix:%s" % (tmp_path / "s.sock"),
           "unixgram": "unixgram:%s" % (tmp_path / "d.sock")}
    srv = server("serve", "echo", eps[transport], "--workers", "1")
    ep = srv.endpoints[0]
    j = bench(["rtt", ep, "-d", "1", "--warmup", "0.2", "--json"])
    check_latency(j)
    assert j["errors"] == 0 and j["wrong"] == 0 and j["lost"] == 0
    assert j["requests"] == j["count"]
    assert j["bytes"] == 2 * 64 * j["requests"]
    assert 0.9 <= j["duration_s"] < 3
    for k in ("count", "errors", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us",
              "max_us", "requests", "req_per_s", "bytes", "bytes_per_s", "gbit_per_s"):
        assert k in j, k


def test_rtt_many_conns_and_size(server):
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1")
    j = bench(["rtt", srv.ep("tcp://"), "-c", "50", "-s", "3000", "-d", "1",
               "--warmup", "0", "--json"])
    check_latency(j)
    assert j["conns"] == 50 and j["size"] == 3000 and j["errors"] == 0


def tcp_server(stop, on_data):
    """A threaded TCP server on 127.0.0.1: on_data(conn, state, bytes) is
    called with each chunk a client sends; runs until stop is set. Returns
    the port."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()
    ls.settimeout(0.2)

    def serve(c):
        c.settimeout(TIMEOUT)
        state = {"buf": b""}
        with c:
            while not stop.is_set():
                try:
                    d = c.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                on_data(c, state, d)

    def loop():
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(c,), daemon=True).start()
        ls.close()

    threading.Thread(target=loop, daemon=True).start()
    return ls.getsockname()[1]


def wrong_echo_server(stop):
    """Echoes everything back with the first bit of each chunk flipped."""
    return tcp_server(stop, lambda c, st, d: c.sendall(bytes([d[0] ^ 1]) + d[1:]))


def test_rtt_wrong_echo_counts_errors():
    stop = threading.Event()
    port = wrong_echo_server(stop)
    try:
        j = bench(["rtt", "127.0.0.1:%d" % port, "-d", "1", "--warmup", "0", "--json"])
    finally:
        stop.set()
    assert j["errors"] > 0
    assert j["wrong"] == j["errors"]
    assert j["count"] == 0  # a wrong echo is never timed as a round trip
    assert "differed" in j["first_error"]


def test_rtt_udp_loss_counted():
    # Nothing listens: every datagram is lost, counted, and the run ends.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]  # bound but never answers
    try:
        j = bench(["rtt", "udp://127.0.0.1:%d" % port, "-d", "1", "--warmup", "0",
                   "--timeout", "0.1", "--json"])
    finally:
        s.close()
    assert j["count"] == 0
    assert 5 <= j["lost"] <= 11


def test_rtt_compare():
    j = bench(["rtt", "--compare", "-d", "0.5", "--warmup", "0.1", "--json"])
    assert set(j) == {"tcp", "unix", "udp", "unixgram"}
    for v in j.values():
        check_latency(v)
        assert v["errors"] == 0


def test_rtt_usage_errors():
    r = run(["bench", "rtt", "udp://127.0.0.1:9", "-s", "4"])
    assert r.returncode == 2 and b"8" in r.stderr
    r = run(["bench", "rtt"])
    assert r.returncode == 2
    r = run(["bench", "nope"])
    assert r.returncode == 2
    r = run(["bench", "rtt", "127.0.0.1:1", "-d", "1"])
    assert r.returncode == 1 and b"refused" in r.stderr


def test_rtt_ctrl_c_prints_what_was_gathered(server):
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1")
    p = subprocess.Popen([SOCKKIT, "bench", "rtt", srv.ep("tcp://"), "-d", "30", "--warmup",
                          "0", "--json", "--quiet"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(1.0 * SLOW)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 0, err
    j = json.loads(out)
    assert j["interrupted"] is True
    assert j["count"] > 0 and j["duration_s"] < 10


def test_throughput(server, tmp_path):
    sock = tmp_path / "sink.sock"
    srv = server("serve", "discard", "127.0.0.1:0", "unix:%s" % sock, "--workers", "1")
    for ep in (srv.ep("tcp://"), srv.ep("unix:")):
        j = bench(["throughput", ep, "-d", "1", "--warmup", "0.2", "-P", "2", "--json"])
        assert j["errors"] == 0
        assert j["bytes"] > 0 and j["bytes_per_s"] > 0
        assert abs(j["gbit_per_s"] - j["bytes_per_s"] * 8 / 1e9) < 1e-6 * j["gbit_per_s"] + 1e-9
        assert j["writes"] > 0 and j["streams"] == 2
        assert j["cpu_user_s"] + j["cpu_sys_s"] > 0
    j = bench(["throughput", "--compare", "-d", "0.5", "--warmup", "0.1", "-s", "1K", "--json"])
    assert set(j) == {"tcp", "unix"}
    assert all(v["bytes"] > 0 and v["errors"] == 0 for v in j.values())


def test_throughput_sink_goes_away(server):
    # A "sink" that accepts and closes: the stream fails and is counted.
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()

    def closer():
        c, _ = ls.accept()
        time.sleep(0.3)
        c.close()
    t = threading.Thread(target=closer, daemon=True)
    t.start()
    j = bench(["throughput", "127.0.0.1:%d" % ls.getsockname()[1], "-d", "1", "--warmup", "0",
               "--json"])
    ls.close()
    assert j["errors"] == 1 and "stream 0" in j["first_error"]


@pytest.fixture
def web(server, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "1k").write_bytes(os.urandom(1024))
    srv = server("serve", "http", str(root), "--listen", "127.0.0.1:0", "--workers", "1")
    return "http://127.0.0.1:%d" % srv.port()


def test_http_closed_loop(web):
    j = bench(["http", web + "/1k", "-c", "8", "-t", "2", "-d", "1", "--json"])
    check_latency(j)
    assert j["errors"] == 0 and j["status"] == {"200": j["requests"]}
    assert j["connects"] == 8
    # Each response is the 1 KiB body plus a head.
    assert j["bytes"] > 1024 * j["requests"]


def test_http_no_keepalive_and_head(web):
    j = bench(["http", web + "/1k", "-c", "2", "-t", "1", "-d", "1", "--no-keepalive",
               "--json"])
    assert j["errors"] == 0 and j["requests"] > 0
    assert j["connects"] >= j["requests"]
    j = bench(["http", web + "/1k", "-c", "2", "-t", "1", "-d", "1", "-m", "HEAD", "--json"])
    assert j["errors"] == 0 and j["requests"] > 0
    assert j["bytes"] < 1024 * j["requests"]


def test_http_open_loop_rate(web):
    j = bench(["http", web + "/1k", "-c", "4", "-t", "1", "-d", "2", "--rate", "400",
               "--json"])
    check_latency(j)
    assert j["errors"] == 0
    # On schedule: 400/s for 2 s, give or take the start and the end.
    assert 700 <= j["requests"] <= 820


def test_http_non_2xx_counted(web):
    j = bench(["http", web + "/missing", "-c", "2", "-t", "1", "-d", "1", "--json"])
    assert j["errors"] == j["requests"] > 0
    assert j["errors_by_kind"]["status"] == j["requests"]
    assert j["status"] == {"404": j["requests"]}


def http_500_server(stop):
    """A keep-alive HTTP server that answers every request with 500."""
    resp = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!"

    def on_data(c, st, d):
        st["buf"] += d
        while b"\r\n\r\n" in st["buf"]:
            _, st["buf"] = st["buf"].split(b"\r\n\r\n", 1)
            c.sendall(resp)
    return tcp_server(stop, on_data)


def test_http_500_counted():
    stop = threading.Event()
    port = http_500_server(stop)
    try:
        j = bench(["http", "http://127.0.0.1:%d/" % port, "-c", "2", "-t", "1", "-d", "1",
                   "--json"])
    finally:
        stop.set()
    assert j["requests"] > 0
    assert j["errors"] == j["errors_by_kind"]["status"] == j["requests"]
    assert j["status"] == {"500": j["requests"]}


def test_http_garbage_is_parse_error():
    stop = threading.Event()
    port = tcp_server(stop, lambda c, st, d: c.sendall(b"SSH-2.0-nope\r\n\r\n"))
    try:
        j = bench(["http", "http://127.0.0.1:%d/" % port, "-c", "1", "-t", "1", "-d", "1",
                   "--json"])
    finally:
        stop.set()
    assert j["requests"] == 0
    assert j["errors_by_kind"]["parse"] > 0


def test_http_usage():
    assert run(["bench", "http", "ftp://x/"]).returncode == 2
    assert run(["bench", "http", "http://127.0.0.1:8080/", "-H", "nocolon"]).returncode == 2
    assert run(["bench", "http", "http://127.0.0.1:0/"]).returncode == 2


def test_conns(server):
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1")
    j = bench(["conns", srv.ep("tcp://"), "-n", "500", "--hold", "1", "--pid",
               str(srv.proc.pid), "--json"])
    assert j["opened"] == 500 and j["failed"] == 0 and j["errors"] == 0
    assert j["processes"] == 1
    assert j["closed_by_peer"] == 0
    assert j["rss_after_kb"] > 0 and j["rss_before_kb"] > 0
    assert "bytes_per_conn" in j
    check_latency(j)  # the sampled pings


def test_conns_several_processes(server):
    # A low fd limit for the benchmark makes it split the work.
    srv = server("serve", "echo", "127.0.0.1:0", "--workers", "1")
    import resource

    def lim():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1500, 1500))
    r = subprocess.run([SOCKKIT, "bench", "conns", srv.ep("tcp://"), "-n", "3000", "--hold",
                        "1", "--rate", "0", "--json", "--quiet"], capture_output=True,
                       timeout=60 * SLOW, preexec_fn=lim)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["processes"] == 3
    assert j["opened"] == 3000 and j["errors"] == 0
    check_latency(j)


def test_conns_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    j = bench(["conns", "127.0.0.1:%d" % port, "-n", "20", "--hold", "0", "--json"])
    assert j["opened"] == 0 and j["failed"] == 20 and j["errors"] == 20
    assert "refused" in j["first_error"]


def test_backends_svg_csv(tmp_path):
    svg, out_csv = tmp_path / "b.svg", tmp_path / "b.csv"
    j = bench(["backends", "--backends", "epoll,poll,select,threads", "--ladder", "1,20,1100", "-d",
               "0.3", "--warmup", "0.1", "--svg", str(svg), "--csv", str(out_csv), "--json"],
              timeout=120)
    pts = j["points"]
    assert j["errors"] == 0
    ok = [p for p in pts if p["ok"]]
    assert {(p["backend"], p["conns"]) for p in ok} >= {("epoll", 1), ("epoll", 20),
                                                        ("epoll", 1100), ("poll", 1100),
                                                        ("threads", 1100)}
    for p in ok:
        assert p["p99_us"] >= p["p50_us"] > 0 and p["req_per_s"] > 0
    sel = [p for p in pts if p["backend"] == "select" and p["conns"] == 1100]
    assert sel and not sel[0]["ok"] and "FD_SETSIZE" in sel[0]["note"]
    # The chart is well-formed XML with one line per backend and a legend.
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    lines = root.findall(".//{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2 * 4  # two panels
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for name in ("epoll", "poll", "select", "threads"):
        assert name in texts
    assert "1k" in texts  # a log-scale decade tick
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == len(pts)
    assert rows[0]["backend"] == "epoll" and rows[0]["conns"] == "1"


def test_help_of_every_kind():
    for kind in ("rtt", "throughput", "http", "conns", "backends"):
        r = run(["bench", kind, "--help"])
        assert r.returncode == 0 and b"Usage: sockkit bench " + kind.encode() in r.stdout


def test_rtt_tls(server):
    srv = server("serve", "echo", "tls://127.0.0.1:0", "--self-signed", "--workers", "1")
    ep = srv.ep("tls://")
    j = bench(["rtt", ep, "-k", "-c", "2", "-d", "1", "--warmup", "0.2", "--json"])
    check_latency(j)
    assert j["errors"] == 0 and j["conns"] == 2
    # Without -k the self-signed certificate is refused, in words.
    r = run(["bench", "rtt", ep, "-d", "1"])
    assert r.returncode == 1 and b"unknown CA" in r.stderr


def test_conns_spreads_source_addresses():
    """In a private network namespace with 100 ephemeral ports, 300
    connections to one server need three source addresses."""
    script = ("ip link set lo up && echo '40000 40099' > /proc/sys/net/ipv4/ip_local_port_range"
              " && { %s serve echo --workers 1 127.0.0.1:7000 2>/dev/null & srv=$!; sleep 0.5;"
              " %s bench conns 127.0.0.1:7000 -n 300 --hold 0.3 --sample 1 --json --quiet;"
              " rc=$?; kill $srv; exit $rc; }" % (SOCKKIT, SOCKKIT))
    try:
        r = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True,
                           timeout=60 * SLOW)
    except FileNotFoundError:
        pytest.skip("unshare is not installed")
    if r.returncode != 0 and b"unshare" in r.stderr:
        pytest.skip("cannot create a network namespace: %s" % r.stderr.decode().strip())
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["opened"] == 300 and j["failed"] == 0 and j["errors"] == 0
    assert j["sources"] == 3


def test_http_over_tls(server, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "1k").write_bytes(os.urandom(1024))
    srv = server("serve", "http", str(root), "--listen", "tls://127.0.0.1:0", "--self-signed",
                 "--workers", "1")
    url = "https://127.0.0.1:%d/1k" % srv.port("tls://")
    j = bench(["http", url, "-k", "-c", "4", "-t", "1", "-d", "1", "--json"])
    check_latency(j)
    assert j["errors"] == 0 and j["status"] == {"200": j["requests"]}
    j = bench(["http", url, "-k", "-c", "2", "-t", "1", "-d", "1", "--no-keepalive", "--json"])
    assert j["errors"] == 0 and j["requests"] > 0 and j["connects"] >= j["requests"]
    # Unverifiable certificate: one clear failure up front, not a run of errors.
    r = run(["bench", "http", url, "-d", "1"])
    assert r.returncode == 1 and b"unknown CA" in r.stderr


def test_rtt_server_closes_each_connection():
    stop = threading.Event()
    port = tcp_server(stop, lambda c, st, d: c.shutdown(socket.SHUT_RDWR))
    try:
        j = bench(["rtt", "127.0.0.1:%d" % port, "-c", "2", "-d", "1", "--warmup", "0",
                   "--json"])
    finally:
        stop.set()
    assert j["count"] == 0
    assert j["closed"] == j["errors"] > 0
    # Reconnects are spaced 10 ms apart: no tight loop.
    assert j["errors"] <= 2 * 110
