#!/usr/bin/env bash
# get-vs-curl.sh -- `sockkit get URL...` against `curl URL...`: the same 100
# URLs of 1 KiB files fetched from one nginx in one call, so both clients
# reuse one keep-alive connection for all of them (see /work/shared/perf.md).
#
# nginx (one worker, bench/nginx.conf.in) is pinned to SERVER_CPU, the
# clients to CLIENT_CPU. Runs alternate curl, sockkit, curl, sockkit ...
# RUNS times each (after WARMUP untimed runs of each); bodies go to
# /dev/null. Before timing, both outputs are checked against the files. The
# table gives the wall time of one whole call (process start to exit):
# median (min-max), and the ratio sockkit/curl of the medians.
#
# Usage: bench/get-vs-curl.sh      (from anywhere; under a minute)
# Knobs (environment): RUNS=31 WARMUP=3 URLS=100 SIZE=1024 SERVER_CPU=0
#   CLIENT_CPU=1 NGINX=/usr/sbin/nginx CURL=curl SOCKKIT=build/sockkit
# The table goes to build/bench/get-vs-curl/result.txt as well.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-31}
WARMUP=${WARMUP:-3}
URLS=${URLS:-100}
SIZE=${SIZE:-1024}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
CURL=${CURL:-curl}
SOCKKIT=${SOCKKIT:-build/sockkit}
OUT=build/bench/get-vs-curl

log() { printf '%s\n' "$*" >&2; }
die() { log "get-vs-curl: $*"; exit 1; }

for tool in python3 taskset timeout "$CURL" "$NGINX"; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (scripts/install-deps.sh)"
done
[ -x "$SOCKKIT" ] || make -j2 build/sockkit >/dev/null || die "cannot build $SOCKKIT"
mkdir -p "$OUT"

TMP=$(mktemp -d /tmp/sockkit-get-bench.XXXXXX)
chmod 755 "$TMP"
NGINX_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$NGINX_PID" ]; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.3
        done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT INT TERM

# The files: URLS distinct files of SIZE random bytes.
WEB=$TMP/www
mkdir -p "$WEB" "$TMP"/{client_body,proxy,fastcgi,uwsgi,scgi}
for i in $(seq -w 0 $((URLS - 1))); do
    head -c "$SIZE" /dev/urandom >"$WEB/f$i.bin"
done
chmod -R a+rX "$WEB"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
sed -e "s|@TMP@|$TMP|g" -e "s|@ROOT@|$WEB|g" -e "s|@PORT@|$port|g" \
    -e "s|@USER@|$user_line|g" bench/nginx.conf.in >"$TMP/nginx.conf"
# nginx lives at most 10 minutes, whatever happens to this script.
timeout 600 taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP" -e "$TMP/nginx-error.log" \
    -c "$TMP/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" \
        2>/dev/null && break
    sleep 0.1
done

URLFILE=$TMP/urls
for i in $(seq -w 0 $((URLS - 1))); do
    echo "http://127.0.0.1:$port/f$i.bin"
done >"$URLFILE"

python3 - "$URLFILE" "$WEB" "$SOCKKIT" "$CURL" "$CLIENT_CPU" "$RUNS" "$WARMUP" "$OUT" <<'PY'
import os, statistics, subprocess, sys, time

urlfile, web, sockkit, curl, cpu, runs, warmup, out = sys.argv[1:]
runs, warmup = int(runs), int(warmup)
urls = open(urlfile).read().split()
want = b"".join(open(os.path.join(web, u.rsplit("/", 1)[1]), "rb").read() for u in urls)
cmds = {
    "curl": ["taskset", "-c", cpu, curl, "-s", "--fail"] + urls,
    "sockkit": ["taskset", "-c", cpu, sockkit, "get", "--fail"] + urls,
}
for name, cmd in cmds.items():
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    if r.returncode != 0 or r.stdout != want:
        sys.exit("get-vs-curl: %s returned %d or wrong bytes: %s" % (name, r.returncode,
                                                                   r.stderr[:300]))
devnull = open(os.devnull, "wb")
times = {name: [] for name in cmds}
for i in range(warmup + runs):
    for name, cmd in cmds.items():  # interleaved: curl, sockkit, curl, ...
        t = time.perf_counter()
        r = subprocess.run(cmd, stdout=devnull, stderr=subprocess.DEVNULL, timeout=60)
        el = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit("get-vs-curl: %s failed in run %d" % (name, i))
        if i >= warmup:
            times[name].append(el * 1000)
lines = ["%d URLs of %d bytes from nginx over one keep-alive connection, %d interleaved runs "
         "each (wall time of one call, ms)" % (len(urls), len(want) // len(urls), runs),
         "%-8s %10s %20s %12s" % ("client", "median", "min-max", "per URL"),]
med = {}
for name, ts in times.items():
    med[name] = statistics.median(ts)
    lines.append("%-8s %10.2f %20s %9.1f us" % (name, med[name],
                 "%.2f-%.2f" % (min(ts), max(ts)), med[name] * 1000 / len(urls)))
lines.append("ratio sockkit/curl (medians): %.2f  (target <= 1.00)" % (med["sockkit"] / med["curl"]))
text = "\n".join(lines)
print(text)
open(os.path.join(out, "result.txt"), "w").write(text + "\n")
PY
