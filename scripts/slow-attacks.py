#!/usr/bin/env python3
"""slow-attacks.py -- `make slow-attacks`: slowhttptest's slowloris, slow
body (R-U-D-Y), slow read and range modes, one after the other, each for
at most SLOW_TIME seconds (default 45, past the 30 s body deadline; a mode
ends early once the server has closed all its connections), against the
release server on loopback,
while a probe opens a fresh connection every second and requires a GET to
get 200 within 1 s. Prints slowhttptest's final counts and the probe's
results per mode, then one summary line; exits 1 if any probe failed or
the server died.

Environment: SOCKKIT (binary), SLOW_TIME (seconds per mode), SLOW_CONNS
(attack connections, default 1000)."""
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sklib  # noqa: E402

SLOW_TIME = int(os.environ.get("SLOW_TIME", "45"))
CONNS = int(os.environ.get("SLOW_CONNS", "1000"))


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def modes(port):
    url = "http://127.0.0.1:%d" % port
    n = str(CONNS)
    t = str(SLOW_TIME)
    every = [
        ("slowloris", ["-H", "-c", n, "-r", "200", "-i", "5", "-x", "24", "-l", t, "-u", url + "/"]),
        ("slow body", ["-B", "-c", n, "-r", "200", "-i", "5", "-s", "100000", "-x", "10",
                       "-l", t, "-u", url + "/"]),
        ("slow read", ["-X", "-c", n, "-r", "200", "-k", "3", "-n", "2", "-w", "16", "-y", "64",
                       "-z", "32", "-l", t, "-u", url + "/big.bin"]),
        ("range", ["-R", "-c", n, "-r", "200", "-a", "5", "-b", "2000", "-l", t,
                   "-u", url + "/big.bin"]),
    ]
    only = os.environ.get("SLOW_MODES")
    return [m for m in every if only is None or m[0] in only.split(",")]


class Probe(threading.Thread):
    """A fresh GET / every second; 200 within 1 s counts as ok."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.failed = []
        self.worst = 0.0

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                status, took = sklib.get(self.port, "/", timeout=1.0)
                if status == 200 and took <= 1.0:
                    self.ok += 1
                else:
                    self.failed.append("status %d in %.3f s" % (status, took))
                self.worst = max(self.worst, took)
            except Exception as e:  # noqa: BLE001 -- every failure is reported
                self.failed.append("%s after %.3f s" % (type(e).__name__, time.monotonic() - t0))
                self.worst = max(self.worst, time.monotonic() - t0)
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))


def last_status(out):
    """slowhttptest's last status block: connection counts and availability."""
    out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
    keys = ["pending", "connected", "error", "closed"]
    res = {}
    for k in keys:
        m = re.findall(r"%s:\s+(\d+)" % k, out)
        if m:
            res[k] = int(m[-1])
    m = re.findall(r"service available:\s+(\w+)", out)
    res["available"] = m[-1] if m else "?"
    m = re.findall(r"Exit status:\s+(.*)", out)
    res["exit"] = m[-1].strip() if m else "?"
    return res


def main():
    if shutil.which("slowhttptest") is None:
        sys.exit("slow-attacks: slowhttptest is missing (scripts/install-deps.sh test)")
    tmp = tempfile.mkdtemp(prefix="sockkit-slow.")
    sklib.make_tree(tmp)
    log = open(os.path.join(tmp, "server.log"), "w+b")
    srv = sklib.Server(tmp, [], log=log)
    print("slow-attacks: sockkit on 127.0.0.1:%d (defaults: --header-timeout 10, "
          "--body-timeout 30, --send-timeout 60), %d connections, %d s per mode"
          % (srv.port, CONNS, SLOW_TIME), flush=True)
    results = []
    try:
        for name, args in modes(srv.port):
            probe = Probe(srv.port)
            probe.start()
            t0 = time.monotonic()
            p = subprocess.run(["slowhttptest", "-p", "1"] + args, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, errors="replace",
                               timeout=SLOW_TIME + 120, preexec_fn=raise_nofile)
            probe.stop.set()
            probe.join(5)
            st = last_status(p.stdout + p.stderr)
            results.append((name, st, probe))
            print("  %-9s %3.0f s: slowhttptest pending %s connected %s closed %s error %s, "
                  "its probe says available=%s; our probe %d ok, %d failed, worst %.3f s"
                  % (name, time.monotonic() - t0, st.get("pending", "?"),
                     st.get("connected", "?"), st.get("closed", "?"), st.get("error", "?"),
                     st["available"], probe.ok, len(probe.failed), probe.worst), flush=True)
            for f in probe.failed[:5]:
                print("      probe failure: " + f)
            if not srv.alive():
                break
    finally:
        alive = srv.alive()
        rc = srv.stop()
        log.close()
    total_ok = sum(p.ok for _, _, p in results)
    total_failed = sum(len(p.failed) for _, _, p in results)
    worst = max((p.worst for _, _, p in results), default=0.0)
    ok = alive and total_failed == 0 and len(results) == len(modes(srv.port))
    print("slow-attacks: %d modes, probe %d ok / %d failed (worst %.3f s), server %s, exit %s: %s"
          % (len(results), total_ok, total_failed, worst, "alive" if alive else "DIED", rc,
             "PASS" if ok else "FAIL"))
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
