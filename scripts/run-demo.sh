#!/bin/sh
# run-demo.sh -- `make run`: serve the bundled demo site on
# http://127.0.0.1:8080 and https://127.0.0.1:8443 (a self-signed certificate
# made at start-up; its fingerprint is printed) until Ctrl-C. The large file used to try Range
# requests (seeking) is generated here rather than kept in git.
set -eu
cd "$(dirname "$0")/.."
mkdir -p demo/media
if [ ! -f demo/media/large.bin ]; then
    echo "sockkit: generating demo/media/large.bin (32 MiB) for Range requests" >&2
    head -c 33554432 /dev/urandom > demo/media/large.bin.tmp
    mv demo/media/large.bin.tmp demo/media/large.bin
fi
echo "sockkit: serving demo/ on http://127.0.0.1:8080 and https://127.0.0.1:8443 (self-signed; Ctrl-C stops)" >&2
exec build/sockkit serve http demo --listen 127.0.0.1:8080 --listen tls://127.0.0.1:8443 \
    --self-signed --access-log - "$@"
