#!/usr/bin/python3
"""crosscheck.py -- do `sockkit bench` figures agree with the established
tools? Each check runs two measurements side by side, interleaved (peer,
sockkit, peer, sockkit, ...), RUNS times, and reports the median and min-max
of each and the ratio of medians (sockkit / peer):

  rtt-pingpong  `bench rtt` vs bench/pingpong.c (blocking C client), both
                against the same `sockkit serve echo --workers 1`, TCP and
                Unix; 64-byte p50 and mean round trip.
  rtt-sockperf  `bench rtt` against `sockkit serve echo` vs `sockperf
                ping-pong` against `sockperf server` (its client talks only to
                its own server), TCP; sockperf prints half round trips, which
                are doubled here.
  throughput    `bench throughput` into `sockkit serve discard` vs iperf3
                client into iperf3 server, one TCP stream, 64 KiB writes.
  http          `bench http` vs wrk against the same nginx (one worker),
                1 KiB file, keep-alive, same -t/-c; req/s.

Pinning (perf.md): servers on SERVER_CPU (0); latency clients on the same
core by default (LAT_PIN=same; cross puts them on CLIENT_CPU), load
generators on CLIENT_CPU (1). The peers (iperf3, sockperf, wrk, nginx) are
installed with apt-get when missing (as root). Every process started is
killed by PID at the end; every run is bounded by a timeout. Raw outputs go
to build/bench/crosscheck/.

Usage: bench/crosscheck.py [CHECK...]   (default: all; about 4 minutes)
Knobs (environment): RUNS=3 DURATION=5 SERVER_CPU=0 CLIENT_CPU=1 LAT_PIN=same
  CONNS=50 THREADS=1 SOCKKIT=build/sockkit SKIP_BUILD=1
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
RUNS = int(os.environ.get("RUNS", "3"))
DURATION = float(os.environ.get("DURATION", "5"))
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("CLIENT_CPU", "1")
LAT_PIN = os.environ.get("LAT_PIN", "same")
CONNS = os.environ.get("CONNS", "50")
THREADS = os.environ.get("THREADS", "1")
SOCKKIT = os.path.abspath(os.environ.get("SOCKKIT", "build/sockkit"))
OUT = os.path.join(ROOT, "build", "bench", "crosscheck")
PINGPONG = os.path.join(ROOT, "build", "bench", "pingpong")
LAT_CPU = SERVER_CPU if LAT_PIN == "same" else CLIENT_CPU
PEERS = {"iperf3": "iperf3", "sockperf": "sockperf", "wrk": "wrk", "nginx": "nginx-light"}

procs = []
TMP = tempfile.mkdtemp(prefix="sockkit-crosscheck.")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def cleanup():
    for p in procs:
        stop(p)
    shutil.rmtree(TMP, ignore_errors=True)


def install_peers():
    missing = [pkg for tool, pkg in PEERS.items()
               if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit("crosscheck: missing %s; run as root: apt-get install -y %s"
                 % (", ".join(missing), " ".join(missing)))
    log("installing", " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing
    if subprocess.run(cmd, env=env, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=600)
        subprocess.run(cmd, env=env, timeout=600, check=True)
    # Debian starts nginx on install; the check runs its own instance.
    if os.path.exists("/run/nginx.pid"):
        try:
            os.kill(int(open("/run/nginx.pid").read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def build():
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["cc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", PINGPONG,
                    "bench/pingpong.c"], check=True, timeout=120)
    if os.environ.get("SKIP_BUILD") != "1":
        subprocess.run(["make", "-j2", "build/sockkit"], check=True, timeout=1800,
                       stdout=subprocess.DEVNULL)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited: %r" % proc.args)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen on %d: %r" % (port, proc.args))


def start(args, cpu, **kw):
    p = subprocess.Popen(["taskset", "-c", cpu] + args, stdin=subprocess.DEVNULL, **kw)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_sockkit(kind, *eps):
    p = start([SOCKKIT, "serve", kind, "--workers", "1"] + list(eps), SERVER_CPU,
              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    found, buf, deadline = [], b"", time.monotonic() + 10
    while len(found) < len(eps) and time.monotonic() < deadline:
        r, _, _ = select.select([p.stderr], [], [], 0.5)
        if r:
            chunk = os.read(p.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            found = re.findall(rb"listening on (\S+)", buf)
    if len(found) < len(eps):
        raise RuntimeError("sockkit serve %s did not start: %s" % (kind, buf.decode()))
    return p, [f.decode() for f in found]


def run(args, cpu, name, timeout=None):
    """Runs a client pinned to cpu; keeps its output in OUT; returns stdout."""
    timeout = timeout or DURATION * 4 + 60
    r = subprocess.run(["taskset", "-c", cpu] + args, capture_output=True, timeout=timeout)
    with open(os.path.join(OUT, name + ".txt"), "wb") as f:
        f.write(b"$ " + " ".join(args).encode() + b"\n" + r.stdout + r.stderr)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (args[0], r.returncode, r.stderr.decode()[-300:]))
    return r.stdout.decode()


def sockkit_json(args, cpu, name):
    j = json.loads(run([SOCKKIT, "bench"] + args + ["--quiet", "--json"], cpu, name))
    if j.get("errors"):
        raise RuntimeError("%s: %d errors: %s" % (name, j["errors"], j.get("first_error")))
    return j


results = []  # (check, metric, unit, peer name, peer values, sockkit values, better)


def interleave(check, metrics, peer_name, peer_fn, sk_fn):
    """metrics: [(key, unit, better)] where better is 'lower' or 'higher'.
    peer_fn/sk_fn(run_index) return {key: value}."""
    vals = {k: ([], []) for k, _, _ in metrics}
    for i in range(RUNS):
        for side, fn in ((0, peer_fn), (1, sk_fn)):
            try:
                got = fn(i)
            except Exception as e:  # a failed run is reported, not averaged in
                log("%s run %d (%s): %s" % (check, i + 1, peer_name if side == 0 else "sockkit",
                                            e))
                continue
            for k, _, _ in metrics:
                vals[k][side].append(got[k])
        log("%s: run %d/%d done" % (check, i + 1, RUNS))
    for k, unit, better in metrics:
        results.append((check, k, unit, peer_name, vals[k][0], vals[k][1], better))


def check_rtt_pingpong():
    n = max(2000, int(DURATION * 40000))  # about DURATION seconds at ~25 us
    for transport in ("tcp", "unix"):
        path = os.path.join(TMP, "echo.sock")
        ep = "127.0.0.1:0" if transport == "tcp" else "unix:" + path
        srv, eps = start_sockkit("echo", ep)
        target = eps[0]
        pp_ep = "tcp:" + target[len("tcp://"):] if transport == "tcp" else target

        def peer(i):
            j = json.loads(run([PINGPONG, "-n", str(n), "-w", "2000", "--json", pp_ep], LAT_CPU,
                               "rtt-pingpong-%s-pingpong-%d" % (transport, i)))
            return {"p50_us": j["p50_us"], "mean_us": j["mean_us"], "p99_us": j["p99_us"]}

        def sk(i):
            j = sockkit_json(["rtt", target, "-d", str(DURATION), "--warmup", "0.5"], LAT_CPU,
                             "rtt-pingpong-%s-sockkit-%d" % (transport, i))
            return {"p50_us": j["p50_us"], "mean_us": j["mean_us"], "p99_us": j["p99_us"]}

        interleave("rtt vs pingpong.c, %s, %s core" % (transport, LAT_PIN),
                   [("p50_us", "us", "lower"), ("mean_us", "us", "lower"),
                    ("p99_us", "us", "lower")], "pingpong.c", peer, sk)
        stop(srv)


def sockperf_parse(text):
    """sockperf prints one-way latency (half the round trip): doubled."""
    def pct(p):
        m = re.search(r"percentile %s\s*=\s*([0-9.]+)" % re.escape(p), text)
        return 2 * float(m.group(1))
    avg = re.search(r"avg-latency=([0-9.]+)", text)
    return {"p50_us": pct("50.000"), "p99_us": pct("99.000"),
            "mean_us": 2 * float(avg.group(1))}


def check_rtt_sockperf():
    port = free_port()
    sp = start(["sockperf", "server", "--tcp", "-i", "127.0.0.1", "-p", str(port)], SERVER_CPU,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, sp)
    srv, eps = start_sockkit("echo", "127.0.0.1:0")

    def peer(i):
        out = run(["sockperf", "ping-pong", "--tcp", "-i", "127.0.0.1", "-p", str(port), "-t",
                   str(int(DURATION)), "-m", "64"], LAT_CPU, "rtt-sockperf-sockperf-%d" % i)
        return sockperf_parse(out)

    def sk(i):
        j = sockkit_json(["rtt", eps[0], "-d", str(DURATION), "--warmup", "0.5"], LAT_CPU,
                         "rtt-sockperf-sockkit-%d" % i)
        return {"p50_us": j["p50_us"], "mean_us": j["mean_us"], "p99_us": j["p99_us"]}

    interleave("rtt vs sockperf (each against its own server), tcp, %s core" % LAT_PIN,
               [("p50_us", "us", "lower"), ("mean_us", "us", "lower"), ("p99_us", "us", "lower")],
               "sockperf", peer, sk)
    stop(sp)
    stop(srv)


def check_throughput():
    srv, eps = start_sockkit("discard", "127.0.0.1:0")

    def peer(i):
        port = free_port()
        ip = start(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)], SERVER_CPU,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port_iperf(port, ip)
            j = json.loads(run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t",
                                str(int(DURATION)), "-l", "64K", "-O", "1", "-J"], CLIENT_CPU,
                               "throughput-iperf3-%d" % i))
        finally:
            stop(ip)
        return {"bytes_per_s": j["end"]["sum_received"]["bits_per_second"] / 8}

    def sk(i):
        j = sockkit_json(["throughput", eps[0], "-d", str(DURATION), "--warmup", "1", "-s",
                          "64K"], CLIENT_CPU, "throughput-sockkit-%d" % i)
        return {"bytes_per_s": j["bytes_per_s"]}

    interleave("throughput vs iperf3, tcp, 1 stream, 64 KiB writes",
               [("bytes_per_s", "B/s", "higher")], "iperf3", peer, sk)
    stop(srv)


def wait_port_iperf(port, proc):
    # A probe connection would be taken as iperf3's one client (-1): wait
    # for the listening socket to appear instead.
    deadline = time.monotonic() + 10
    hexport = ":%04X" % port
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("iperf3 -s exited")
        with open("/proc/net/tcp") as f:
            if any(hexport in line.split()[1] and line.split()[3] == "0A" for line in f
                   if len(line.split()) > 3):
                return
        time.sleep(0.05)
    raise RuntimeError("iperf3 -s did not listen")


def check_http():
    web = os.path.join(TMP, "www")
    os.makedirs(web, exist_ok=True)
    with open(os.path.join(web, "1k"), "wb") as f:
        f.write(os.urandom(1024))
    nt = os.path.join(TMP, "nginx")
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(nt, d), exist_ok=True)
    port = free_port()
    conf = open("bench/nginx.conf.in").read()
    conf = (conf.replace("@TMP@", nt).replace("@ROOT@", web).replace("@PORT@", str(port))
            .replace("@USER@", "user root root;" if os.geteuid() == 0 else ""))
    with open(os.path.join(nt, "nginx.conf"), "w") as f:
        f.write(conf)
    ng = start(["/usr/sbin/nginx", "-p", nt + "/", "-e", nt + "/error.log", "-c",
                nt + "/nginx.conf", "-g", "daemon off;"], SERVER_CPU,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, ng)
    url = "http://127.0.0.1:%d/1k" % port

    def peer(i):
        out = run(["wrk", "-t", THREADS, "-c", CONNS, "-d", "%ds" % int(DURATION), "--latency",
                   url], CLIENT_CPU, "http-wrk-%d" % i)
        if "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError("wrk reported errors")
        return {"req_per_s": float(re.search(r"Requests/sec:\s*([0-9.]+)", out).group(1))}

    def sk(i):
        j = sockkit_json(["http", url, "-t", THREADS, "-c", CONNS, "-d", str(DURATION)],
                         CLIENT_CPU, "http-sockkit-%d" % i)
        return {"req_per_s": j["req_per_s"]}

    interleave("http vs wrk, nginx 1 worker, 1 KiB, -t%s -c%s" % (THREADS, CONNS),
               [("req_per_s", "req/s", "higher")], "wrk", peer, sk)
    stop(ng)


def fmt(v, unit):
    if unit == "B/s":
        return "%.2f GB/s" % (v / 1e9)
    if unit == "req/s":
        return "%.0f" % v
    return "%.2f" % v


def report():
    lines = ["conditions: %s; servers on CPU %s, latency clients on CPU %s (%s core), load "
             "generators on CPU %s; %d interleaved runs of %.0f s; load average %s"
             % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), SERVER_CPU, LAT_CPU,
                LAT_PIN, CLIENT_CPU, RUNS, DURATION, open("/proc/loadavg").read().split()[0]),
             "",
             "| check | metric | peer | peer median (min-max) | sockkit median (min-max) | "
             "sockkit/peer |",
             "| --- | --- | --- | --- | --- | --- |"]
    for check, k, unit, peer, pv, sv, better in results:
        def cell(v):
            if not v:
                return "failed"
            return "%s (%s-%s)" % (fmt(statistics.median(v), unit), fmt(min(v), unit),
                                   fmt(max(v), unit))
        ratio = (statistics.median(sv) / statistics.median(pv)) if pv and sv else float("nan")
        lines.append("| %s | %s (%s is better) | %s | %s | %s | %.3f |"
                     % (check, k, better, peer, cell(pv), cell(sv), ratio))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(OUT, "table.md"), "w") as f:
        f.write(text)
    print(text)


CHECKS = {"rtt-pingpong": check_rtt_pingpong, "rtt-sockperf": check_rtt_sockperf,
          "throughput": check_throughput, "http": check_http}


def main():
    chosen = sys.argv[1:] or list(CHECKS)
    for c in chosen:
        if c not in CHECKS:
            sys.exit("crosscheck: unknown check %r (%s)" % (c, ", ".join(CHECKS)))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(130))
    try:
        install_peers()
        build()
        for c in chosen:
            try:
                CHECKS[c]()
            except Exception as e:
                log("%s: %s" % (c, e))
        report()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
