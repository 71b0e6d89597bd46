#!/usr/bin/env bash
# msg-ping.sh -- pipelined framed `ping` requests per second: `sockkit serve
# msg --workers 1` against the floor (bench/msg-floor.c: framing and
# syscalls only, no JSON), with 1 and 50 connections over TCP and Unix
# sockets. "sockkit" sends flat pings (the server's fast path);
# "sockkit-json" adds a nested field, so every request goes through
# jansson. Servers are pinned to SERVER_CPU, the load generator
# (bench/msg-ping.c, every reply checked) to CLIENT_CPU. Runs are
# interleaved (floor, sockkit, floor, ...); the table gives the median and
# min-max of req/s over RUNS runs, the server's CPU time per request
# (utime+stime from /proc/PID/stat), and sockkit/floor.
#
# Usage: bench/msg-ping.sh            (from anywhere; about 3 minutes)
# Knobs (environment): RUNS=3 DUR=5 DEPTH=64 CONNS="1 50"
#   TRANSPORTS="tcp unix" SERVERS="floor sockkit sockkit-json" SERVER_CPU=0
#   CLIENT_CPU=1
#   SOCKKIT=build/sockkit (SKIP_BUILD=1 uses it as is)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-3}
DUR=${DUR:-5}
DEPTH=${DEPTH:-64}
CONNS=${CONNS:-"1 50"}
TRANSPORTS=${TRANSPORTS:-"tcp unix"}
SERVERS=${SERVERS:-"floor sockkit sockkit-json"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SOCKKIT=${SOCKKIT:-build/sockkit}
CC=${CC:-cc}
OUT=build/bench
# Servers live at most this long, whatever happens to this script.
LIFETIME=$((RUNS * (DUR + 5) * 16 + 300))
CLK_TCK=$(getconf CLK_TCK)

log() { printf '%s\n' "$*" >&2; }

mkdir -p build/bench
# Private to this run, inside the tree (other tools clean /tmp).
TMP=$(mktemp -d "$ROOT/build/bench/msgping.XXXXXX")
declare -A WRAP=() # server/transport -> PID of its `timeout` wrapper
declare -A SPID=() # server/transport -> PID of the server itself
declare -A EP=()   # server/transport -> endpoint

cleanup() {
    local k
    for k in "${!WRAP[@]}"; do
        kill -TERM "${WRAP[$k]}" 2>/dev/null || true
        wait "${WRAP[$k]}" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
for tool in msg-ping msg-floor; do
    timeout 120 "$CC" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$OUT/$tool" "bench/$tool.c"
done
if [[ " $SERVERS " == *" sockkit "* && "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building $SOCKKIT (make build/sockkit) ..."
    timeout 900 make build/sockkit >"$TMP/make.log" 2>&1 ||
        { log "build failed:"; tail -n 5 "$TMP/make.log" >&2; exit 1; }
fi

# Starts NAME for TRANSPORT pinned to SERVER_CPU; sets EP, SPID, WRAP.
start_server() {
    local name=$1 transport=$2 key="$1/$2" log="$TMP/$1-$2.log" cmd=()
    case "$key" in
    floor/tcp) cmd=("$OUT/msg-floor" tcp:127.0.0.1:0) ;;
    floor/unix) cmd=("$OUT/msg-floor" "unix:$TMP/floor.sock") ;;
    sockkit/tcp) cmd=("$SOCKKIT" serve msg 127.0.0.1:0 --workers 1) ;;
    sockkit/unix) cmd=("$SOCKKIT" serve msg "unix:$TMP/sockkit.sock" --workers 1) ;;
    *) log "unknown server $key"; return 1 ;;
    esac
    timeout -k 5 "$LIFETIME" taskset -c "$SERVER_CPU" "${cmd[@]}" </dev/null >"$log" 2>&1 &
    WRAP[$key]=$!
    for _ in $(seq 100); do
        local ep
        ep=$(sed -n 's/^.*listening on \([^ ]*\).*$/\1/p' "$log" | head -n 1)
        if [ -n "$ep" ]; then
            # msg-ping takes tcp:HOST:PORT or unix:PATH.
            EP[$key]=${ep/tcp:\/\//tcp:}
            SPID[$key]=$(pgrep -P "${WRAP[$key]}" | head -n 1)
            return 0
        fi
        sleep 0.05
    done
    log "$key: did not start:"; tail -n 5 "$log" >&2
    return 1
}

cpu_ticks() {
    # Fields 14 and 15 of /proc/PID/stat: utime and stime, in clock ticks.
    awk '{print $14 + $15}' "/proc/$1/stat"
}

RESULTS="$OUT/msg-ping-results.txt"
: >"$RESULTS"
for transport in $TRANSPORTS; do
    for name in $SERVERS; do
        # sockkit-json is the sockkit server with nested requests.
        [ "$name" = sockkit-json ] && continue
        start_server "$name" "$transport"
    done
    [[ " $SERVERS " == *" sockkit-json "* && " $SERVERS " != *" sockkit "* ]] &&
        start_server sockkit "$transport"
done
log "RUNS=$RUNS DUR=${DUR}s DEPTH=$DEPTH; servers on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
for run in $(seq "$RUNS"); do
    for transport in $TRANSPORTS; do
        for conns in $CONNS; do
            for name in $SERVERS; do
                key="${name%-json}/$transport"
                flags=()
                [ "$name" = sockkit-json ] && flags=(-n)
                [ -n "${EP[$key]:-}" ] || continue
                log "$transport c=$conns $name run $run/$RUNS ..."
                if ! kill -0 "${SPID[$key]}" 2>/dev/null; then
                    log "    $key is no longer running; its remaining runs are skipped"
                    continue
                fi
                before=$(cpu_ticks "${SPID[$key]}")
                if line=$(timeout $((DUR + 30)) taskset -c "$CLIENT_CPU" "$OUT/msg-ping" \
                    "${flags[@]}" -c "$conns" -D "$DEPTH" -d "$DUR" "${EP[$key]}"); then
                    after=$(cpu_ticks "${SPID[$key]}")
                    echo "$transport $conns $name $run $((after - before)) $line" >>"$RESULTS"
                else
                    log "    run failed (exit $?); not counted"
                fi
            done
        done
    done
done

python3 - "$RESULTS" "$CLK_TCK" <<'EOF'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
tck = int(sys.argv[2])
for line in open(sys.argv[1]):
    f = line.split()
    kv = dict(x.split("=", 1) for x in f[5:])
    reqs = int(kv["requests"])
    cpu_us = int(f[4]) * 1e6 / tck / reqs if reqs else float("nan")
    rows[(f[0], int(f[1]), f[2])].append((float(kv["req_per_s"]), cpu_us))
print("%-5s %5s %-12s %4s %12s %21s %14s %8s" % ("trans", "conns", "server", "runs", "median req/s",
                                                 "min-max", "cpu us/req", "/floor"))
for (t, c, s) in sorted(rows, key=lambda k: (k[0], k[1], k[2] != "floor")):
    v = rows[(t, c, s)]
    med = statistics.median(x[0] for x in v)
    cpu = statistics.median(x[1] for x in v)
    floor = rows.get((t, c, "floor"))
    ratio = "%.2f" % (med / statistics.median(x[0] for x in floor)) if floor and s != "floor" else ""
    print("%-5s %5d %-12s %4d %12.0f %10.0f-%-10.0f %14.2f %8s" % (
        t, c, s, len(v), med, min(x[0] for x in v), max(x[0] for x in v), cpu, ratio))
EOF
log "raw runs: $RESULTS"
