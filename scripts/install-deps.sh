#!/bin/sh
# install-deps.sh [build] [test] [bench] -- install the Debian packages
# sockkit needs, only those missing. As root it runs apt-get; otherwise it
# prints the exact command and fails.
#
#   build  compiling and running (`make`, `make run`); the default
#   test   unit and integration tests, fuzzing, lint, CI and the attack and
#          soak runs: cmocka, pytest (python3-cryptography makes the test CA
#          for `get`), clang, the real peers the tests drive
#          (nginx, chromium, wrk, socat, netcat, slowhttptest)
#   bench  the peers of the benchmarks under bench/ (nginx, wrk, socat)
#
# So a newcomer who only wants `make run` downloads no browser.
set -u

BUILD="build-essential pkg-config libssl-dev liburing-dev libjansson-dev zlib1g-dev"
TEST="libcmocka-dev python3 python3-pytest python3-cryptography clang clang-format cppcheck curl socat \
netcat-openbsd openssl wrk nginx-light chromium slowhttptest"
BENCH="python3 curl socat wrk nginx-light"

[ $# -eq 0 ] && set -- build
PKGS=""
for set in "$@"; do
    case $set in
    build) PKGS="$PKGS $BUILD" ;;
    test) PKGS="$PKGS $BUILD $TEST" ;;
    bench) PKGS="$PKGS $BUILD $BENCH" ;;
    *)
        echo "install-deps.sh: unknown set '$set' (build, test, bench)" >&2
        exit 2
        ;;
    esac
done

missing=""
for p in $PKGS; do
    case " $missing " in *" $p "*) continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "sockkit: missing packages:$missing" >&2
    echo "sockkit: run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "sockkit: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# An out-of-date package list is the usual reason an install fails on a
# fresh machine, so refresh it once and retry.
apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends $missing >&2; } ||
    { echo "sockkit: apt-get failed: $cmd" >&2; exit 1; }
# Debian starts nginx on install; the benchmarks start their own instance.
if command -v nginx >/dev/null 2>&1 && [ -f /run/nginx.pid ]; then
    kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
exit 0
