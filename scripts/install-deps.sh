#!/bin/sh
# install-deps.sh -- install the Debian packages sockkit needs to build and
# test, only those missing. As root it runs apt-get; otherwise it prints the
# exact command and fails. Called by the Makefile before every build.
set -u

# Build: compiler toolchain and libraries (OpenSSL, liburing, jansson, zlib).
# Tests: cmocka, pytest (python3-cryptography makes the test CA for `get`), and
# the real peers the integration tests drive.
PKGS="build-essential pkg-config clang libssl-dev liburing-dev libjansson-dev zlib1g-dev libcmocka-dev \
python3 python3-pytest python3-cryptography curl socat netcat-openbsd openssl wrk nginx-light chromium"

missing=""
for p in $PKGS; do
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
