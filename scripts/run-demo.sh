#!/bin/sh
# run-demo.sh -- `make run`: serve the bundled demo site on
# http://127.0.0.1:8080 until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
exec build/sockkit serve http demo --listen 127.0.0.1:8080 "$@"
