#!/bin/sh
# run-fuzz.sh -- run each libFuzzer binary for FUZZ_TIME seconds over its
# committed corpus (new inputs go to build/fuzz/corpus-new, not the repo).
set -eu
cd "$(dirname "$0")/.."
for bin in "$@"; do
    name=${bin##*/}
    target=${name#fuzz_}
    mkdir -p "build/fuzz/corpus-new/$target" "fuzz/corpus/$target"
    dict=""
    [ -f "fuzz/$target.dict" ] && dict="-dict=fuzz/$target.dict"
    echo "fuzz $target: ${FUZZ_TIME:-30}s"
    "$bin" -max_total_time="${FUZZ_TIME:-30}" -timeout=10 -rss_limit_mb=2048 $dict \
        "build/fuzz/corpus-new/$target" "fuzz/corpus/$target" >"build/fuzz/$target.log" 2>&1 ||
        { tail -50 "build/fuzz/$target.log"; echo "fuzz $target: FAILED"; exit 1; }
    tail -1 "build/fuzz/$target.log"
done
