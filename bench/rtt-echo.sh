#!/usr/bin/env bash
# rtt-echo.sh -- 64-byte echo round trip: sockkit's echo server against the
# kernel floor (bench/echo-floor.c) and socat, measured by one independent
# client (bench/pingpong.c), over TCP and Unix sockets, with the client on the
# server's core and on the other core. Runs are interleaved (floor, sockkit,
# socat, floor, ...) and the table reports medians over RUNS runs.
#
# Usage: bench/rtt-echo.sh            (from anywhere; about 1-2 minutes)
# Knobs (environment): RUNS=3 N=20000 SIZE=64 WARMUP=1000 BUSY=0
#   TRANSPORTS="tcp unix" PINNINGS="same cross" SERVERS="floor sockkit socat"
#   SERVER_CPU=0 CLIENT_CPU_CROSS=1 RUN_TIMEOUT=120 (s per client run)
#   SOCKKIT=build/sockkit (SKIP_BUILD=1 uses it as is)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# The peers (nginx, wrk, socat) come with the bench set, not the plain build.
scripts/install-deps.sh bench

RUNS=${RUNS:-3}
N=${N:-20000}
SIZE=${SIZE:-64}
WARMUP=${WARMUP:-1000}
BUSY=${BUSY:-0}
TRANSPORTS=${TRANSPORTS:-"tcp unix"}
PINNINGS=${PINNINGS:-"same cross"}
SERVERS=${SERVERS:-"floor sockkit socat"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU_CROSS=${CLIENT_CPU_CROSS:-1}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
SOCKKIT=${SOCKKIT:-build/sockkit}
CC=${CC:-cc}
OUT=build/bench
# Servers live at most this long, whatever happens to this script.
SERVER_LIFETIME=$((RUN_TIMEOUT * RUNS * 8 + 300))

log() { printf '%s\n' "$*" >&2; }

TMP=$(mktemp -d /tmp/sockkit-rtt.XXXXXX)
declare -A PID=()  # server name -> PID of its `timeout` wrapper
declare -A EP=()   # server name -> endpoint the client connects to

stop_server() {
    local name=$1 pid=${PID[$1]:-}
    [ -n "$pid" ] || return 0
    # `timeout` forwards the signal to its whole process group, so socat's
    # per-connection children go too.
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

cleanup() {
    local name
    for name in "${!PID[@]}"; do
        stop_server "$name"
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build ---------------------------------------------------------------
mkdir -p "$OUT"
for tool in pingpong echo-floor; do
    timeout 120 "$CC" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$OUT/$tool" "bench/$tool.c"
done

if [[ " $SERVERS " == *" sockkit "* && "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building $SOCKKIT (make build/sockkit) ..."
    if ! timeout 900 make build/sockkit >"$TMP/make.log" 2>&1; then
        if [ -x "$SOCKKIT" ]; then
            log "sockkit: build failed; using the existing, possibly stale, $SOCKKIT."
        else
            log "sockkit: build failed; its runs will be skipped."
        fi
        log "Last lines of make:"
        tail -n 5 "$TMP/make.log" | sed 's/^/    /' >&2
    fi
fi

if [[ " $PINNINGS " == *" cross "* ]] && ! taskset -c "$CLIENT_CPU_CROSS" true 2>/dev/null; then
    log "cross: CPU $CLIENT_CPU_CROSS is not available; skipping the cross-core pinning"
    PINNINGS=${PINNINGS//cross/}
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts server NAME for TRANSPORT pinned to SERVER_CPU and waits (5 s at
# most) until it accepts connections. Sets EP[NAME]; returns 1 if it failed.
start_server() {
    local name=$1 transport=$2 ready cmd=() log="$TMP/$1-$2.log" port=""
    case "$name/$transport" in
    floor/tcp) cmd=("$OUT/echo-floor" tcp:127.0.0.1:0) ;;
    floor/unix) cmd=("$OUT/echo-floor" "unix:$TMP/floor.sock") ;;
    sockkit/tcp) cmd=("$SOCKKIT" serve echo tcp://127.0.0.1:0 --workers 1) ;;
    sockkit/unix) cmd=("$SOCKKIT" serve echo "unix:$TMP/sockkit.sock" --workers 1) ;;
    socat/tcp)
        # PIPE echoes in-process; EXEC:cat would add a fork and a pipe hop per byte.
        port=$(free_port)
        cmd=(socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay" PIPE)
        ;;
    socat/unix) cmd=(socat "UNIX-LISTEN:$TMP/socat.sock,fork" PIPE) ;;
    *)
        log "unknown server '$name' (known: floor sockkit socat)"
        return 1
        ;;
    esac
    if ! command -v "${cmd[0]}" >/dev/null; then
        log "$name/$transport: ${cmd[0]} not found; skipping"
        return 1
    fi

    timeout -k 5 "$SERVER_LIFETIME" taskset -c "$SERVER_CPU" "${cmd[@]}" \
        </dev/null >"$log" 2>&1 &
    PID[$name]=$!

    for _ in $(seq 100); do
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            log "$name/$transport: server exited at start-up; skipping. Its output:"
            tail -n 5 "$log" | sed 's/^/    /' >&2
            wait "${PID[$name]}" 2>/dev/null || true
            unset "PID[$name]"
            return 1
        fi
        ready=""
        case "$name" in
        socat)
            # socat prints nothing when ready; look for the listener itself.
            if [ "$transport" = tcp ]; then
                [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && ready="tcp:127.0.0.1:$port"
            else
                [ -S "$TMP/socat.sock" ] && ready="unix:$TMP/socat.sock"
            fi
            ;;
        *)
            # "listening on tcp://127.0.0.1:PORT" or "listening on unix:PATH".
            ready=$(sed -n 's/^.*listening on \([^ ]*\).*$/\1/p' "$log" | head -n 1)
            ;;
        esac
        if [ -n "$ready" ]; then
            EP[$name]=$ready
            return 0
        fi
        sleep 0.05
    done
    log "$name/$transport: no listener after 5 s; skipping"
    stop_server "$name"
    return 1
}

# ---- runs ----------------------------------------------------------------
RESULTS="$OUT/rtt-echo-results.txt"
: >"$RESULTS"
client_flags=(-n "$N" -s "$SIZE" -w "$WARMUP")
[ "$BUSY" = 1 ] && client_flags+=(-b)

log "RUNS=$RUNS N=$N SIZE=$SIZE WARMUP=$WARMUP BUSY=$BUSY; servers on CPU $SERVER_CPU"
for transport in $TRANSPORTS; do
    started=()
    for name in $SERVERS; do
        if start_server "$name" "$transport"; then
            started+=("$name")
        fi
    done
    if [ ${#started[@]} -eq 0 ]; then
        log "$transport: no server started"
        continue
    fi
    for pinning in $PINNINGS; do
        case "$pinning" in
        same) cpu=$SERVER_CPU ;;
        cross) cpu=$CLIENT_CPU_CROSS ;;
        *)
            log "unknown pinning '$pinning' (known: same cross)"
            continue
            ;;
        esac
        for run in $(seq "$RUNS"); do
            for name in "${started[@]}"; do
                log "$transport $pinning $name run $run/$RUNS ..."
                if line=$(timeout "$RUN_TIMEOUT" taskset -c "$cpu" \
                    "$OUT/pingpong" "${client_flags[@]}" "${EP[$name]}"); then
                    echo "$transport $pinning $name $run $line" >>"$RESULTS"
                else
                    log "    run failed (exit $?); not counted"
                fi
            done
        done
    done
    for name in "${started[@]}"; do
        stop_server "$name"
    done
done

# ---- report --------------------------------------------------------------
python3 - "$RESULTS" "$SERVER_CPU" "$CLIENT_CPU_CROSS" <<'EOF'
import statistics, sys
from collections import defaultdict

path, scpu, ccpu = sys.argv[1:4]
runs = defaultdict(list)   # (transport, pinning, server) -> [dict]
for line in open(path):
    f = line.split()
    if len(f) < 5:
        continue
    kv = dict(x.split("=", 1) for x in f[4:] if "=" in x)
    runs[tuple(f[:3])].append({k: float(v) for k, v in kv.items()})
if not runs:
    sys.exit("no successful runs")

def med(key, k):
    return statistics.median(r[k] for r in runs[key])

pin_desc = {"same": f"client+server on CPU {scpu}", "cross": f"server CPU {scpu}, client CPU {ccpu}"}
order = {"floor": 0, "sockkit": 1, "socat": 2}
keys = sorted(runs, key=lambda k: (k[0] != "tcp", k[1] != "same", order.get(k[2], 9), k[2]))

print()
print("64-byte echo round trip (us); median over runs, p50 min-max in brackets")
for p, d in pin_desc.items():
    print(f"  {p}: {d}")
hdr = f"{'transport':9} {'pinning':7} {'server':8} {'runs':>4} {'p50':>7} {'(min-max)':>15} {'p99':>8} {'mean':>8} {'p50/floor':>9}"
print(hdr)
print("-" * len(hdr))
for k in keys:
    t, p, s = k
    p50s = [r["p50_us"] for r in runs[k]]
    floor = (t, p, "floor")
    ratio = f"{med(k, 'p50_us') / med(floor, 'p50_us'):.2f}" if floor in runs else "-"
    mm = f"({min(p50s):.1f}-{max(p50s):.1f})"
    print(f"{t:9} {p:7} {s:8} {len(p50s):4} {med(k, 'p50_us'):7.1f} {mm:>15} "
          f"{med(k, 'p99_us'):8.1f} {med(k, 'mean_us'):8.1f} {ratio:>9}")

pairs = sorted({(p, s) for (t, p, s) in runs if ("tcp", p, s) in runs and ("unix", p, s) in runs},
               key=lambda x: (x[0] != "same", order.get(x[1], 9)))
if pairs:
    print()
    print("Unix vs TCP (median p50, us)")
    print(f"{'pinning':7} {'server':8} {'tcp':>7} {'unix':>7} {'unix/tcp':>8}")
    for p, s in pairs:
        a, b = med(("tcp", p, s), "p50_us"), med(("unix", p, s), "p50_us")
        print(f"{p:7} {s:8} {a:7.1f} {b:7.1f} {b / a:8.2f}")
print()
print(f"raw runs: {path}")
EOF
