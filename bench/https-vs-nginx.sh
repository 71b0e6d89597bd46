#!/usr/bin/env bash
# https-vs-nginx.sh -- HTTPS throughput: `sockkit serve http` on a tls://
# listener against nginx and h2o (the issue's aim: at least h2o), all serving
# the same ECDSA P-256 certificate (made here with the openssl command), one
# worker each pinned to CPU 0, wrk pinned to CPU 1 (see /work/shared/perf.md).
# h2o is the Debian package; when it is missing the script installs it (as
# root) or runs with nginx alone and says so.
#
# Two scenarios, each with wrk -t1 -c50 on a 1 KiB file, runs interleaved
# (nginx, h2o, sockkit, nginx, h2o, sockkit ...) RUNS times:
#   keepalive  one TLS 1.3 connection carries many requests
#   new        -H 'Connection: close': a new connection (and handshake) per
#              request; wrk keeps each connection's session (SSL_clear), so
#              the handshakes are resumptions when the server allows them
# The table gives medians (min-max) of req/s and of the server's CPU time per
# request (utime+stime of its processes over the run), errors, the ratios
# sockkit/nginx and sockkit/h2o of the req/s medians, and checks that every
# server returns the file byte for byte and resumes an `openssl s_client`
# session.
#
# Usage: bench/https-vs-nginx.sh    (from anywhere; about 3 minutes with defaults)
# Knobs (environment): RUNS=3 DURATION=10 CONNS=50 THREADS=1 SERVER_CPU=0
#   CLIENT_CPU=1 NGINX=/usr/sbin/nginx H2O=h2o (H2O=none: nginx only) WRK=wrk
#   SCENARIOS="keepalive new"
#   SOCKKIT=build/sockkit (SKIP_BUILD=1 uses it as is)
# Raw wrk outputs, server logs and the table go to build/bench/https-vs-nginx/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
H2O=${H2O:-h2o}
WRK=${WRK:-wrk}
SOCKKIT=${SOCKKIT:-build/sockkit}
SCENARIOS=${SCENARIOS:-keepalive new}
OUT=build/bench/https-vs-nginx
SERVERS="nginx h2o sockkit"
WRK_TIMEOUT=$((DURATION + 30))
SERVER_LIFETIME=$(( (DURATION + 35) * RUNS * 4 + 300 ))

log() { printf '%s\n' "$*" >&2; }
die() { log "https-vs-nginx: $*"; exit 1; }

for tool in python3 taskset timeout curl openssl "$WRK" "$NGINX"; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

# h2o, the second peer: the Debian package, installed here when missing.
if [ "$H2O" = none ]; then
    SERVERS="nginx sockkit"
elif ! command -v "$H2O" >/dev/null 2>&1; then
    if [ "$H2O" = h2o ] && [ "$(id -u)" = 0 ]; then
        log "installing h2o (Debian package) for the comparison ..."
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
            h2o >/dev/null 2>&1 || true
    fi
    if ! command -v "$H2O" >/dev/null 2>&1; then
        log "h2o is not available (apt-get install h2o): comparing with nginx only"
        SERVERS="nginx sockkit"
    fi
fi

TMP=$(mktemp -d /tmp/sockkit-https-bench.XXXXXX)
chmod 755 "$TMP"
declare -A WRAP=() SPID=() PORT=()

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${SPID[@]}" "${WRAP[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for p in "${SPID[@]}" "${WRAP[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for p in "${SPID[@]}" "${WRAP[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -f "$TMP/nginx-error.log" ] && cp "$TMP/nginx-error.log" "$OUT/" 2>/dev/null
    [ -f "$TMP/h2o-error.log" ] && cp "$TMP/h2o-error.log" "$OUT/" 2>/dev/null
    [ -f "$TMP/sockkit.err" ] && cp "$TMP/sockkit.err" "$OUT/" 2>/dev/null
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
rm -f "$OUT"/wrk-*.txt "$OUT"/table.txt "$OUT"/*.log "$OUT"/*.err

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    timeout 600 make "$SOCKKIT" >&2 || die "make $SOCKKIT failed"
fi
[ -x "$SOCKKIT" ] || die "$SOCKKIT not found"
cp "$SOCKKIT" "$TMP/sockkit"
log "sockkit: $SOCKKIT ($("$TMP/sockkit" --version 2>&1 | head -1), sha256 $(sha256sum "$TMP/sockkit" | cut -c1-12))"
log "openssl: $(openssl version); nginx: $("$NGINX" -v 2>&1)"
case " $SERVERS " in *" h2o "*) log "h2o: $("$H2O" --version 2>&1 | head -1)" ;; esac

WEB="$TMP/www"
mkdir -p "$WEB"
head -c 1024 /dev/urandom >"$WEB/1k"
chmod 755 "$WEB"
chmod 644 "$WEB"/*
# One certificate for both: ECDSA P-256, for localhost and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null || die "openssl req failed"
chmod 644 "$TMP/key.pem"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
children() { pgrep -P "$1" || true; }
alive() { [ -n "${SPID[$1]:-}" ] && kill -0 "${SPID[$1]}" 2>/dev/null; }

# Waits until peer NAME (nginx, h2o: it writes $TMP/NAME.pid) answers on
# PORT, then records its PID and port; on failure prints its logs.
await_peer() {
    local name=$1 port=$2 i
    for i in $(seq 1 100); do
        if [ -s "$TMP/$name.pid" ] && curl -sk -o /dev/null -m 1 "https://127.0.0.1:$port/1k"; then
            SPID[$name]=$(cat "$TMP/$name.pid")
            PORT[$name]=$port
            return 0
        fi
        kill -0 "${WRAP[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    log "$name did not start:"; cat "$TMP/$name.out" "$TMP/$name-error.log" >&2 2>/dev/null || true
    return 1
}

start_nginx() {
    local port user_line="" i
    port=$(free_port)
    [ "$(id -u)" = 0 ] && user_line="user root root;"
    mkdir -p "$TMP"/{client_body,proxy,fastcgi,uwsgi,scgi}
    sed -e "s|@TMP@|$TMP|g" -e "s|@ROOT@|$WEB|g" -e "s|@PORT@|$port|g" \
        -e "s|@USER@|$user_line|g" -e "s|@CERT@|$TMP/cert.pem|g" -e "s|@KEY@|$TMP/key.pem|g" \
        bench/nginx-tls.conf.in >"$TMP/nginx.conf"
    timeout -s TERM "$SERVER_LIFETIME" taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP/" \
        -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -g 'daemon off;' >"$TMP/nginx.out" 2>&1 &
    WRAP[nginx]=$!
    await_peer nginx "$port"
}

start_h2o() {
    local port user_line="" i
    port=$(free_port)
    [ "$(id -u)" = 0 ] && user_line="user: root"
    sed -e "s|@TMP@|$TMP|g" -e "s|@ROOT@|$WEB|g" -e "s|@PORT@|$port|g" \
        -e "s|@USER@|$user_line|g" -e "s|@CERT@|$TMP/cert.pem|g" -e "s|@KEY@|$TMP/key.pem|g" \
        bench/h2o-tls.conf.in >"$TMP/h2o.conf"
    timeout -s TERM "$SERVER_LIFETIME" taskset -c "$SERVER_CPU" "$H2O" -c "$TMP/h2o.conf" \
        >"$TMP/h2o.out" 2>&1 &
    WRAP[h2o]=$!
    await_peer h2o "$port"
}

start_sockkit() {
    local i port
    timeout -s TERM "$SERVER_LIFETIME" taskset -c "$SERVER_CPU" "$TMP/sockkit" serve http "$WEB" \
        --listen tls://127.0.0.1:0 --cert "$TMP/cert.pem" --key "$TMP/key.pem" --workers 1 \
        >"$TMP/sockkit.out" 2>"$TMP/sockkit.err" &
    WRAP[sockkit]=$!
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*listening on tls://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/sockkit.err" | head -1)
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

# utime+stime in clock ticks of a server's processes (nginx: master+worker).
cpu_ticks() {
    local total=0 p f
    for p in "$1" $(children "$1"); do
        f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
        total=$((total + ${f% *} + ${f#* }))
    done
    echo "$total"
}

start_nginx || die "cannot start nginx"
case " $SERVERS " in *" h2o "*) start_h2o || die "cannot start h2o" ;; esac
start_sockkit || die "cannot start sockkit"
for s in $SERVERS; do
    log "$s pid ${SPID[$s]} port ${PORT[$s]} (one worker, taskset -c $SERVER_CPU)"
done
log "wrk: taskset -c $CLIENT_CPU $WRK -t$THREADS -c$CONNS -d${DURATION}s; runs: $RUNS each, interleaved"

# --- correctness: the file byte for byte, and session resumption -------------
CHECK="$TMP/check.txt"
: >"$CHECK"
want=$(sha256sum "$WEB/1k" | cut -d' ' -f1)
REQ='GET /1k HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
for s in $SERVERS; do
    got=$(curl -s -m 10 --cacert "$TMP/cert.pem" --resolve "localhost:${PORT[$s]}:127.0.0.1" \
        "https://localhost:${PORT[$s]}/1k" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] && echo "check $s content ok" >>"$CHECK" || echo "check $s content FAILED" >>"$CHECK"
    printf "$REQ" | timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$s]}" -ign_eof \
        -sess_out "$TMP/sess-$s" >/dev/null 2>&1 || true
    if printf "$REQ" | timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$s]}" -ign_eof \
        -sess_in "$TMP/sess-$s" 2>/dev/null | grep -q '^Reused, TLSv1.3'; then
        echo "check $s resumption ok" >>"$CHECK"
    else
        echo "check $s resumption FAILED" >>"$CHECK"
    fi
done
cat "$CHECK" >&2

# --- throughput -------------------------------------------------------------
for sc in $SCENARIOS; do
    extra=()
    [ "$sc" = new ] && extra=(-H "Connection: close")
    for r in $(seq 1 "$RUNS"); do
        for s in $SERVERS; do
            o="$OUT/wrk-$sc-$s-$r.txt"
            if ! alive "$s"; then
                echo "SERVER NOT RUNNING" >"$o"
                continue
            fi
            log "$sc $s run $r ..."
            c0=$(cpu_ticks "${SPID[$s]}")
            rc=0
            timeout -s KILL "$WRK_TIMEOUT" taskset -c "$CLIENT_CPU" "$WRK" -t"$THREADS" -c"$CONNS" \
                -d"${DURATION}s" "${extra[@]}" "https://127.0.0.1:${PORT[$s]}/1k" >"$o" 2>&1 || rc=$?
            c1=$(cpu_ticks "${SPID[$s]}")
            echo "SERVER CPU TICKS $((c1 - c0)) HZ $(getconf CLK_TCK)" >>"$o"
            [ "$rc" = 0 ] || echo "WRK EXIT STATUS $rc" >>"$o"
            alive "$s" || echo "SERVER DIED DURING RUN" >>"$o"
        done
    done
done

python3 - "$OUT" "$RUNS" "$SCENARIOS" "$SERVERS" "$CHECK" <<'PY' | tee "$OUT/table.txt"
import re, statistics, sys
out, runs, scenarios, servers, checkfile = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
def parse(path):
    try:
        t = open(path).read()
    except OSError:
        return None, "no output"
    r, errs = {}, []
    m = re.search(r"Requests/sec:\s*([\d.]+)", t)
    if m: r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", t)
    if m: r["reqs"] = int(m.group(1))
    m = re.search(r"SERVER CPU TICKS (\d+) HZ (\d+)", t)
    if m and r.get("reqs"):
        r["cpu_us"] = int(m.group(1)) / int(m.group(2)) * 1e6 / r["reqs"]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    if m:
        for k, v in zip(("connect", "read", "write", "timeout"), m.groups()):
            if int(v): errs.append("%s=%s" % (k, v))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    if m and int(m.group(1)): errs.append("non-2xx/3xx=%s" % m.group(1))
    for flag in ("SERVER NOT RUNNING", "SERVER DIED DURING RUN", "WRK EXIT STATUS \\d+"):
        m = re.search(flag, t)
        if m: errs.append(m.group(0).lower())
    if "rps" not in r:
        return None, ", ".join(errs + ["unparsed output"])
    return r, ", ".join(errs)
def cell(vals, fmt):
    if not vals:
        return "-"
    return "%s (%s-%s)" % (fmt(statistics.median(vals)), fmt(min(vals)), fmt(max(vals)))
k = lambda x: "%.1fk" % (x / 1e3) if x >= 1e3 else "%.0f" % x
us = lambda x: "%.1f" % x
print("| scenario | server | ok runs | req/s median (min-max) | server CPU us/req median (min-max) | runs with errors |")
print("| --- | --- | --- | --- | --- | --- |")
med = {}
for sc in scenarios:
    for s in servers:
        res, flags = [], []
        for i in range(1, runs + 1):
            r, e = parse("%s/wrk-%s-%s-%d.txt" % (out, sc, s, i))
            if r is not None: res.append(r)
            if e: flags.append("run %d: %s" % (i, e))
        rps = [r["rps"] for r in res]
        cpu = [r["cpu_us"] for r in res if "cpu_us" in r]
        med[sc, s] = statistics.median(rps) if rps else None
        print("| %s | %s | %d/%d | %s | %s | %s |" % (sc, s, len(res), runs, cell(rps, k), cell(cpu, us),
              "; ".join(flags) if flags else "none"))
print()
peers = [p for p in servers if p != "sockkit"]
print("| scenario | " + " | ".join("%s req/s" % p for p in servers) + " | " +
      " | ".join("sockkit/%s" % p for p in peers) + " |")
print("|" + " --- |" * (1 + len(servers) + len(peers)))
for sc in scenarios:
    s = med.get((sc, "sockkit"))
    cols = [k(med[sc, p]) if med.get((sc, p)) else "-" for p in servers]
    ratios = ["%.2f" % (s / med[sc, p]) if s and med.get((sc, p)) else "-" for p in peers]
    print("| %s | %s | %s |" % (sc, " | ".join(cols), " | ".join(ratios)))
print()
print("keepalive: 1 KiB over persistent TLS connections; new: 'Connection: close', one handshake per")
print("request (wrk reuses each connection's session, so these are resumptions). CPU per request is")
print("utime+stime of the server's processes over the run divided by wrk's request count.")
print("Checks: " + "; ".join(l.strip() for l in open(checkfile) if l.strip()))
PY
