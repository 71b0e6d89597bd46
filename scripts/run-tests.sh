#!/bin/bash
# run-tests.sh -- run every test binary on its own (a crash fails only that
# binary, reported by name), replay the fuzz corpora, then the integration
# tests; end with one line `tests: N passed, N failed`.
#
# Environment: BUILD (build/rel or build/san), SOCKKIT (binary under test),
# PYTHON, SK_ONLY=unit to skip the integration tests, PYTEST_ARGS.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
PYTHON=${PYTHON:-/usr/bin/python3}
passed=0
failed=0
failures=()

for t in $(find "$BUILD/tests/unit" -type f -name 'test_*' ! -name '*.o' ! -name '*.d' 2>/dev/null | sort); do
    out=$(timeout 300 "$t" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # crashed or timed out before cmocka could count
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        failures+=("$t")
        printf '%s\n' "$out" | tail -40
    fi
    echo "unit $(basename "$t"): $p passed, $f failed"
done

for r in $(find "$BUILD/fuzz" -type f -name 'replay_*' ! -name '*.o' ! -name '*.d' 2>/dev/null | sort); do
    target=${r##*/replay_fuzz_}
    if timeout 300 "$r" "fuzz/corpus/$target" >/dev/null 2>"$BUILD/replay_$target.log"; then
        passed=$((passed + 1))
        echo "replay $target: ok"
    else
        failed=$((failed + 1))
        failures+=("replay $target")
        tail -20 "$BUILD/replay_$target.log"
    fi
done

if [ "${SK_ONLY:-}" != unit ]; then
    log="$BUILD/pytest.log"
    SOCKKIT="$SOCKKIT" timeout 3000 "$PYTHON" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} \
        tests/integration 2>&1 | tee "$log"
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$log" | tail -1)
    p=$(printf '%s' "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    f=$(printf '%s' "$summary" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    e=$(printf '%s' "$summary" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+')
    p=${p:-0}
    f=$(( ${f:-0} + ${e:-0} ))
    if [ -z "$summary" ]; then
        f=$((f + 1)) # pytest died before printing a summary
        failures+=("pytest (no summary)")
    fi
    [ "$f" -ne 0 ] && failures+=("pytest")
    passed=$((passed + p))
    failed=$((failed + f))
fi

if [ "${SK_SANITIZED:-}" = 1 ] && ls "$BUILD"/asan.* >/dev/null 2>&1; then
    echo "sanitizer reports:"
    cat "$BUILD"/asan.*
    failed=$((failed + 1))
    failures+=("sanitizer reports in $BUILD/asan.*")
fi

for f in "${failures[@]+"${failures[@]}"}"; do
    echo "FAILED: $f"
done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
