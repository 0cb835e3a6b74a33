#!/bin/sh
# tests/fuzz/run.sh [SECONDS [TARGET...]] - build and run ocigate's fuzzers.
#
# Builds with tests/fuzz/build.sh, then runs each fuzzer (all of them, or the
# TARGETs named, e.g. fuzz_route) for SECONDS (default 10) with the seeds in
# tests/fuzz/corpus/<target>/ and tests/fuzz/crashes/<target>-* (found bugs
# stay regression inputs), the dictionary tests/fuzz/dict/<target>.dict, and
# ASan + UBSan + LeakSanitizer. Prints TAP:
#   ok 1 - fuzz_route: 123456 runs in 10 s, no crash
#   not ok 2 - fuzz_jwt: crash, input kept in fuzz-build/artifacts/fuzz_jwt-crash-...
# Exit status 0 when every fuzzer ran clean, 1 otherwise. When clang's
# libFuzzer runtime (or a library) is missing: "1..0 # SKIP ..." and exit 0,
# or with FUZZ_REQUIRED=1 "Bail out! ..." and exit 1.
#
# Environment: FUZZ_OUT (build and work directory, default ./fuzz-build),
# FUZZ_JOBS (parallel fuzzers, default 1), FUZZ_FLAGS (extra libFuzzer flags).
set -u

here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
[ $# -gt 0 ] && shift
out=${FUZZ_OUT:-$(pwd)/fuzz-build}
mkdir -p "$out"
out=$(cd "$out" && pwd)

"$here/build.sh" "$out" >"$out/build.log" 2>&1
rc=$?
if [ "$rc" -eq 77 ] && [ "${FUZZ_REQUIRED:-0}" = 1 ]; then
    echo "Bail out! $(tail -n 1 "$out/build.log") (FUZZ_REQUIRED=1: the fuzzers must run)"
    exit 1
elif [ "$rc" -eq 77 ]; then
    echo "1..0 # SKIP $(tail -n 1 "$out/build.log")"
    exit 0
elif [ "$rc" -ne 0 ]; then
    echo "1..1"
    echo "not ok 1 - fuzzers build (see $out/build.log)"
    sed 's/^/# /' "$out/build.log" | tail -n 30
    exit 1
fi

if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=$(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')
fi
n=$(echo $targets | wc -w)
echo "1..$n"

# One fuzzer: its libFuzzer log in $out/logs/<t>.log.
run_one() {
    t=$1
    seeds="$here/corpus/$t"
    work="$out/corpus/$t"               # new inputs go here, never into srcdir
    mkdir -p "$work" "$out/artifacts" "$out/logs" "$out/regress/$t"
    rm -f "$out/logs/$t.log" "$out/logs/$t.rc"
    rm -f "$out/regress/$t"/*
    for c in "$here"/crashes/"$t"-*; do
        [ -f "$c" ] && cp "$c" "$out/regress/$t/"
    done
    dict=""
    [ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
    # stdin from /dev/null: a fuzzed config may name /dev/stdin as a secret file
    # shellcheck disable=SC2086
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
        "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 -max_len=16384 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" $dict ${FUZZ_FLAGS:-} \
        "$work" "$seeds" "$out/regress/$t" </dev/null >"$out/logs/$t.log" 2>&1
    echo $? >"$out/logs/$t.rc"
}

jobs=${FUZZ_JOBS:-1}
running=0
for t in $targets; do
    if [ ! -x "$out/$t" ]; then
        mkdir -p "$out/logs"
        echo missing >"$out/logs/$t.rc"
        continue
    fi
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait

i=0
fail=0
for t in $targets; do
    i=$((i + 1))
    log="$out/logs/$t.log"
    rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo missing)
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" 2>/dev/null | tail -n 1)
    [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" 2>/dev/null | tail -n 1)
    if [ "$rc" = 0 ]; then
        echo "ok $i - $t: ${runs:-?} runs in $secs s, no crash"
    else
        fail=1
        what=$(grep -a -m 1 -o -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z -]+|runtime error: .*|invariant violated: .*' "$log" 2>/dev/null)
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" 2>/dev/null | tail -n 1)
        echo "not ok $i - $t: ${what:-exit status $rc}${art:+, input kept in $art}"
        grep -a -E '^(==[0-9]+==|    #[0-9]+ |SUMMARY|.*runtime error|.*invariant)' "$log" 2>/dev/null |
            head -n 25 | sed 's/^/# /'
    fi
done
exit $fail
