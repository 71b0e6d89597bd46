#!/usr/bin/env bash
# http-vs-nginx.sh -- static-file HTTP/1.1 keep-alive throughput and idle
# connection memory: `sockkit serve http` against a tuned nginx, one worker
# each, both pinned to CPU 0, wrk pinned to CPU 1 (see ../shared/perf.md).
#
# For each of a 1 KiB, a 100 KiB and a 10 MiB file of random bytes, wrk
# (-t1 -c50 --latency) runs interleaved: nginx, sockkit, nginx, sockkit ...
# RUNS times each. The table gives medians (min-max) of req/s, p99 latency and
# bytes/s, the errors of any run that had some, and the ratio sockkit/nginx of
# medians (req/s for 1K and 100K, bytes/s for 10M). Then each server in turn
# holds IDLE_CONNS idle keep-alive connections (one GET /1k answered on each)
# and its RSS before and after is reported with the per-connection delta.
#
# Usage: bench/http-vs-nginx.sh     (from anywhere; about 5 minutes with defaults)
# Knobs (environment): RUNS=3 DURATION=10 (s per wrk run) CONNS=50 THREADS=1
#   IDLE_CONNS=10000 SERVER_CPU=0 CLIENT_CPU=1 NGINX=/usr/sbin/nginx WRK=wrk
#   SOCKKIT=build/sockkit (SKIP_BUILD=1 uses it as is) MEMORY=1 (0 skips it)
# Raw wrk outputs, server logs and the table go to build/bench/http-vs-nginx/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# The peers (nginx, wrk, socat) come with the bench set, not the plain build.
scripts/install-deps.sh bench

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
SOCKKIT=${SOCKKIT:-build/sockkit}
MEMORY=${MEMORY:-1}
OUT=build/bench/http-vs-nginx
FILES="1k 100k 10m"
SERVERS="nginx sockkit"
WRK_TIMEOUT=$((DURATION + 30))
MEM_TIMEOUT=180
# Servers live at most this long, whatever happens to this script.
SERVER_LIFETIME=$(( (DURATION + 35) * RUNS * 6 + 2 * MEM_TIMEOUT + 300 ))

log() { printf '%s\n' "$*" >&2; }
die() { log "http-vs-nginx: $*"; exit 1; }

for tool in python3 taskset timeout curl "$WRK" "$NGINX"; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

TMP=$(mktemp -d /tmp/sockkit-http-bench.XXXXXX)
chmod 755 "$TMP"
declare -A WRAP=()  # server -> PID of its `timeout` wrapper
declare -A SPID=()  # server -> PID of the server itself (nginx master)
declare -A PORT=()  # server -> TCP port on 127.0.0.1

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${SPID[@]}" "${WRAP[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for p in "${SPID[@]}" "${WRAP[@]}"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for p in "${SPID[@]}" "${WRAP[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    # Keep the servers' logs with the raw results before the directory goes.
    [ -f "$TMP/nginx-error.log" ] && cp "$TMP/nginx-error.log" "$OUT/" 2>/dev/null
    [ -f "$TMP/sockkit.err" ] && cp "$TMP/sockkit.err" "$OUT/" 2>/dev/null
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
rm -f "$OUT"/wrk-*.txt "$OUT"/table.txt "$OUT"/memory.txt "$OUT"/*.log "$OUT"/*.err

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    timeout 600 make "$SOCKKIT" >&2 || die "make $SOCKKIT failed"
fi
[ -x "$SOCKKIT" ] || die "$SOCKKIT not found"
# Run a private copy, so a rebuild during the run neither changes the binary
# under test nor fails on a busy text file.
cp "$SOCKKIT" "$TMP/sockkit"
log "sockkit: $SOCKKIT ($("$TMP/sockkit" --version 2>&1 | head -1), sha256 $(sha256sum "$TMP/sockkit" | cut -c1-12))"

# --- web root ---------------------------------------------------------------
WEB="$TMP/www"
mkdir -p "$WEB"
head -c 1024 /dev/urandom >"$WEB/1k"
head -c $((100 * 1024)) /dev/urandom >"$WEB/100k"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$WEB/10m"
chmod 755 "$WEB"
chmod 644 "$WEB"/*

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Direct children of a PID (this kernel has no /proc/PID/task/*/children).
children() { pgrep -P "$1" || true; }

# Server PIDs: the process itself plus its children (nginx master + worker).
server_pids() {
    echo "$1"
    children "$1"
}

# --- nginx ------------------------------------------------------------------
start_nginx() {
    local port user_line=""
    port=$(free_port)
    [ "$(id -u)" = 0 ] && user_line="user root root;"
    mkdir -p "$TMP"/{client_body,proxy,fastcgi,uwsgi,scgi}
    sed -e "s|@TMP@|$TMP|g" -e "s|@ROOT@|$WEB|g" -e "s|@PORT@|$port|g" \
        -e "s|@USER@|$user_line|g" bench/nginx.conf.in >"$TMP/nginx.conf"
    timeout -s TERM "$SERVER_LIFETIME" taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP/" \
        -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -g 'daemon off;' \
        >"$TMP/nginx.out" 2>&1 &
    WRAP[nginx]=$!
    local i
    for i in $(seq 1 100); do
        if [ -s "$TMP/nginx.pid" ] && curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/1k"; then
            SPID[nginx]=$(cat "$TMP/nginx.pid")
            PORT[nginx]=$port
            return 0
        fi
        kill -0 "${WRAP[nginx]}" 2>/dev/null || break
        sleep 0.1
    done
    log "nginx did not start:"; cat "$TMP/nginx.out" "$TMP/nginx-error.log" >&2 2>/dev/null || true
    return 1
}

# --- sockkit ----------------------------------------------------------------
start_sockkit() {
    timeout -s TERM "$SERVER_LIFETIME" taskset -c "$SERVER_CPU" "$TMP/sockkit" serve http "$WEB" \
        --listen 127.0.0.1:0 --workers 1 >"$TMP/sockkit.out" 2>"$TMP/sockkit.err" &
    WRAP[sockkit]=$!
    local i port
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*listening on tcp://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/sockkit.err" | head -1)
        if [ -n "$port" ]; then
            PORT[sockkit]=$port
            SPID[sockkit]=$(children "${WRAP[sockkit]}" | head -1)
            [ -n "${SPID[sockkit]}" ] || { unset 'SPID[sockkit]'; return 1; }
            return 0
        fi
        kill -0 "${WRAP[sockkit]}" 2>/dev/null || break
        sleep 0.1
    done
    log "sockkit did not start:"; cat "$TMP/sockkit.err" >&2 || true
    return 1
}

alive() { [ -n "${SPID[$1]:-}" ] && kill -0 "${SPID[$1]}" 2>/dev/null; }

start_nginx || die "cannot start nginx"
start_sockkit || die "cannot start sockkit"
log "nginx   pid ${SPID[nginx]} port ${PORT[nginx]} (master+worker, taskset -c $SERVER_CPU)"
log "sockkit pid ${SPID[sockkit]} port ${PORT[sockkit]} (--workers 1, taskset -c $SERVER_CPU)"
log "wrk: taskset -c $CLIENT_CPU $WRK -t$THREADS -c$CONNS -d${DURATION}s --latency; runs: $RUNS each, interleaved"

# --- correctness: each server returns each file byte for byte -----------------
CHECK="$TMP/check.txt"
: >"$CHECK"
for f in $FILES; do
    want=$(sha256sum "$WEB/$f" | cut -d' ' -f1)
    for s in $SERVERS; do
        code=$(curl -s -m 20 -o "$TMP/got" -w '%{http_code}' "http://127.0.0.1:${PORT[$s]}/$f" || echo ERR)
        got=$(sha256sum "$TMP/got" 2>/dev/null | cut -d' ' -f1)
        if [ "$code" = 200 ] && [ "$got" = "$want" ]; then
            echo "check $f $s ok" >>"$CHECK"
        else
            echo "check $f $s FAILED (HTTP $code, body sha256 ${got:-none}, want $want)" >>"$CHECK"
        fi
        rm -f "$TMP/got"
    done
done
grep -q FAILED "$CHECK" && { log "content check:"; cat "$CHECK" >&2; } || log "content check: every file identical from both servers"

# --- throughput ---------------------------------------------------------------
for f in $FILES; do
    for r in $(seq 1 "$RUNS"); do
        for s in $SERVERS; do
            o="$OUT/wrk-$f-$s-$r.txt"
            if ! alive "$s"; then
                echo "SERVER NOT RUNNING" >"$o"
                log "$f $s run $r: server not running, skipped"
                continue
            fi
            log "$f $s run $r ..."
            rc=0
            timeout -s KILL "$WRK_TIMEOUT" taskset -c "$CLIENT_CPU" "$WRK" -t"$THREADS" -c"$CONNS" \
                -d"${DURATION}s" --latency "http://127.0.0.1:${PORT[$s]}/$f" >"$o" 2>&1 || rc=$?
            [ "$rc" = 0 ] || echo "WRK EXIT STATUS $rc" >>"$o"
            alive "$s" || { echo "SERVER DIED DURING RUN" >>"$o"; log "$s died during $f run $r"; }
        done
    done
done

# --- memory: idle keep-alive connections ----------------------------------------
cat >"$TMP/idle.py" <<'EOF'
import os, resource, socket, sys, time
port, n, deadline = int(sys.argv[1]), int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
pids = [int(p) for p in sys.argv[4:]]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def rss():
    total = 0
    for p in pids:
        try:
            for line in open("/proc/%d/status" % p):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total
REQ = b"GET /1k HTTP/1.1\r\nHost: x\r\n\r\n"
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
def one(i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(max(0.5, min(10.0, deadline - time.monotonic())))
    # Spread source addresses over 127.0.0.2-9 so ephemeral ports never run out.
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind(("127.0.0.%d" % (2 + i % 8), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(REQ)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before response head")
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise ConnectionError("status %r" % status)
    clen = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v)
    if clen is None:
        raise ConnectionError("no Content-Length")
    while len(body) < clen:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed in body")
        body += d
    if len(body) != clen:
        raise ConnectionError("%d bytes past the body" % (len(body) - clen))
    return s
time.sleep(0.5)
before = rss()
socks, err = [], ""
try:
    for i in range(n):
        if time.monotonic() > deadline:
            err = "deadline reached"
            break
        socks.append(one(i))
except Exception as e:
    err = "connection %d: %s: %s" % (len(socks) + 1, type(e).__name__, e)
time.sleep(2)
after = rss()
# Are they all still open? A closed one reads EOF at once.
import select
poller = select.poll()
for s in socks:
    poller.register(s, select.POLLIN)
closed = len(poller.poll(0))
held = len(socks)
per = (after - before) / held if held else 0
print("held=%d closed_by_server=%d before=%d after=%d delta=%d per_conn=%.0f error=%s"
      % (held, closed, before, after, after - before, per, err or "none"))
for s in socks:
    s.close()
EOF

MEMFILE="$TMP/memory.txt"
: >"$MEMFILE"
if [ "$MEMORY" = 1 ]; then
    for s in $SERVERS; do
        if ! alive "$s"; then
            echo "$s server-not-running" >>"$MEMFILE"
            continue
        fi
        log "memory: $IDLE_CONNS idle keep-alive connections to $s ..."
        pids=$(server_pids "${SPID[$s]}" | tr '\n' ' ')
        line=$(timeout -s KILL "$MEM_TIMEOUT" taskset -c "$CLIENT_CPU" python3 "$TMP/idle.py" \
            "${PORT[$s]}" "$IDLE_CONNS" $((MEM_TIMEOUT - 30)) $pids 2>&1 | tail -1) || true
        echo "$s pids=$(echo $pids | tr ' ' ',') ${line:-no-output}" >>"$MEMFILE"
        alive "$s" || echo "$s DIED during the memory test" >>"$MEMFILE"
        sleep 2
    done
    cp "$MEMFILE" "$OUT/memory.txt"
fi

# --- table --------------------------------------------------------------------
python3 - "$OUT" "$RUNS" "$FILES" "$SERVERS" "$MEMFILE" "$CHECK" <<'EOF' | tee "$OUT/table.txt"
import re, statistics, sys
out, runs, files, servers, memfile, checkfile = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5], sys.argv[6]
BIN = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
def parse(path):
    try:
        t = open(path).read()
    except OSError:
        return None, "no output"
    r = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", t)
    if m: r["rps"] = float(m.group(1))
    m = re.search(r"Transfer/sec:\s*([\d.]+)([KMGT]?B)", t)
    if m: r["bps"] = float(m.group(1)) * BIN[m.group(2)]
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$", t, re.M)
    if m: r["p99"] = float(m.group(1)) * TIME[m.group(2)]
    m = re.search(r"(\d+) requests in", t)
    if m: r["reqs"] = int(m.group(1))
    errs = []
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    if m:
        for k, v in zip(("connect", "read", "write", "timeout"), m.groups()):
            if int(v): errs.append("%s=%s" % (k, v))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    if m and int(m.group(1)): errs.append("non-2xx/3xx=%s" % m.group(1))
    for flag in ("SERVER NOT RUNNING", "SERVER DIED DURING RUN", "WRK EXIT STATUS \\d+"):
        m = re.search(flag, t)
        if m: errs.append(m.group(0).lower())
    if not {"rps", "bps", "p99"} <= r.keys():
        errs.append("unparsed output")
        return None, ", ".join(errs)
    if r.get("reqs", 1) == 0:
        errs.append("0 requests")
    return r, ", ".join(errs)
def si(x, unit=""):
    for d, p in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= d:
            return "%.3g%s%s" % (x / d, p, unit)
    return "%.3g%s" % (x, unit)
def ms(x):
    return "%.3g s" % (x / 1e3) if x >= 1e3 else "%.3g ms" % x
def cell(vals, fmt):
    if not vals:
        return "-"
    return "%s (%s-%s)" % (fmt(statistics.median(vals)), fmt(min(vals)), fmt(max(vals)))
print("| file | server | ok runs | req/s median (min-max) | p99 median (min-max) | bytes/s median (min-max) | runs with errors |")
print("| --- | --- | --- | --- | --- | --- | --- |")
med = {}
for f in files:
    for s in servers:
        res, flags = [], []
        for i in range(1, runs + 1):
            r, e = parse("%s/wrk-%s-%s-%d.txt" % (out, f, s, i))
            if r is not None:
                res.append(r)
            if e:
                flags.append("run %d: %s" % (i, e))
        rps = [r["rps"] for r in res]; bps = [r["bps"] for r in res]; p99 = [r["p99"] for r in res]
        med[f, s] = (statistics.median(rps) if rps else None, statistics.median(bps) if bps else None)
        print("| %s | %s | %d/%d | %s | %s | %s | %s |" % (f, s, len(res), runs, cell(rps, si), cell(p99, ms),
              cell(bps, lambda x: si(x, "B")), "; ".join(flags) if flags else "none"))
print()
print("| file | measure | nginx median | sockkit median | sockkit/nginx |")
print("| --- | --- | --- | --- | --- |")
for f in files:
    key, name, unit = (1, "bytes/s", "B") if f == "10m" else (0, "req/s", "")
    n, k = med.get((f, "nginx"), (None, None))[key], med.get((f, "sockkit"), (None, None))[key]
    ratio = "%.2f" % (k / n) if n and k is not None else "-"
    print("| %s | %s | %s | %s | %s |" % (f, name, si(n, unit) if n else "-", si(k, unit) if k else "-", ratio))
print()
print("Medians of each run's figures (p99 from wrk --latency); bytes/s from wrk Transfer/sec (1024-based units")
print("converted to bytes; k/M/G above are powers of 1000). A run with errors is listed but still counted in the medians.")
chk = open(checkfile).read().split("\n")
bad = [l for l in chk if "FAILED" in l]
print("Content check (curl, sha256 of each file from each server): %s" % ("; ".join(bad) if bad else "all identical"))
try:
    mem = [l.strip() for l in open(memfile) if l.strip()]
except OSError:
    mem = []
if mem:
    print()
    print("| server | idle conns held | closed by server | RSS before | RSS after | delta | per connection | error |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for l in mem:
        s = l.split()[0]
        kv = dict(x.split("=", 1) for x in l.split()[1:] if "=" in x)
        if "held" not in kv:
            print("| %s | - | - | - | - | - | - | %s |" % (s, " ".join(l.split()[1:])))
            continue
        err = l.split("error=", 1)[1] if "error=" in l else "none"
        if "DIED" in l:
            err += " (server died)"
        mb = lambda x: "%.1f MB" % (int(x) / 1e6)
        print("| %s (pids %s) | %s | %s | %s | %s | %s | %s B | %s |" % (s, kv.get("pids", "?"), kv["held"], kv["closed_by_server"],
              mb(kv["before"]), mb(kv["after"]), mb(kv["delta"]), kv["per_conn"], err))
    print()
    print("RSS is VmRSS summed over the server's processes (nginx: master + worker), 2 s after the last")
    print("connection got its response; kernel socket buffers are not in RSS.")
EOF
