#!/bin/sh
# run-fuzz.sh -- run each libFuzzer binary for FUZZ_TIME seconds over its
# committed corpus (new inputs go to build/fuzz/corpus-new, not the repo),
# then print one summary line per target: executions, findings, corpus.
# FUZZ_MERGE=1 also merges what was found into the committed corpus with
# -merge=1: only inputs that add coverage are kept.
set -eu
cd "$(dirname "$0")/.."
summary=""
failed=0
for bin in "$@"; do
    name=${bin##*/}
    target=${name#fuzz_}
    mkdir -p "build/fuzz/corpus-new/$target" "fuzz/corpus/$target" build/fuzz/crashes
    dict=""
    [ -f "fuzz/$target.dict" ] && dict="-dict=fuzz/$target.dict"
    echo "fuzz $target: ${FUZZ_TIME:-30}s"
    log="build/fuzz/$target.log"
    findings=0
    "$bin" -max_total_time="${FUZZ_TIME:-30}" -timeout=10 -rss_limit_mb=2048 $dict \
        -artifact_prefix="build/fuzz/crashes/$target-" -print_final_stats=1 \
        "build/fuzz/corpus-new/$target" "fuzz/corpus/$target" >"$log" 2>&1 ||
        { tail -50 "$log"; findings=1; failed=1; }
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$findings" = 0 ]; then
        # Only inputs that add coverage join the committed corpus; the
        # named seeds stay as they are.
        "$bin" -merge=1 $dict "fuzz/corpus/$target" "build/fuzz/corpus-new/$target" \
            >"build/fuzz/$target.merge.log" 2>&1
    fi
    files=$(find "fuzz/corpus/$target" -type f | wc -l)
    line="fuzz $target: ${execs:-?} execs in ${FUZZ_TIME:-30}s, $findings findings, corpus $files files"
    echo "$line"
    summary="$summary$line
"
done
printf '%s' "$summary"
exit "$failed"
