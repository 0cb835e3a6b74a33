#!/usr/bin/env bash
# tests/run-all.sh - install what the tests need, build, run every test.
#
# Unit tests (cmocka) and end-to-end scenarios (real redis-server,
# docker-registry, lighttpd, skopeo on loopback), then `make distcheck`,
# `make analyze` (gcc -fanalyzer), and the unit tests and a subset of the
# end-to-end scenarios again in a build with ASan + UBSan.
# Ends with one line "N passed, N failed". Safe to run on a fresh Debian 12
# machine as root (it apt-get installs what is missing) or as a user who has
# the packages already.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash "$here/tests/install-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }

# install-deps.sh keeps the packages from starting their system services
# (redis, lighttpd, nginx, Caddy, Apache): the tests start their own instances
# on free loopback ports and need none of them.

failed_steps=0
build=${OCIGATE_BUILD_DIR:-$here/_build}
autoreconf -fi >/dev/null 2>&1 || { echo "run-all: autoreconf failed" >&2; echo "0 passed, 1 failed"; exit 1; }
rm -rf "$build"
mkdir -p "$build"
cd "$build"
if ! "$here/configure" -q >configure.out 2>&1; then
    cat configure.out >&2
    echo "0 passed, 1 failed"
    exit 1
fi
if ! make -j"$(nproc)" >make.out 2>&1; then
    tail -50 make.out >&2
    echo "0 passed, 1 failed"
    exit 1
fi

OCIGATE_E2E=1 make -j1 check >check.out 2>&1
check_rc=$?
grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' check.out | sed 's/^/  /'
if [ $check_rc -ne 0 ]; then
    for log in tests/unit/*.log tests/e2e/*.log; do
        [ -f "$log" ] || continue
        grep -qE '^(not ok|FAIL|ERROR|Bail out)' "$log" && { echo "==== $log"; tail -80 "$log"; }
    done
fi

# distcheck: the tarball builds, installs and passes its unit tests out of tree
if ! make distcheck >distcheck.out 2>&1; then
    echo "run-all: make distcheck failed:" >&2
    tail -40 distcheck.out >&2
    failed_steps=$((failed_steps + 1))
else
    echo "  PASS: make distcheck"
fi

passed_steps=0
[ $failed_steps -eq 0 ] && passed_steps=1

# step NAME CMD...: one more pass/fail step, its output in $build/NAME.out
step() {
    local name=$1
    shift
    if "$@" > "$build/$name.out" 2>&1; then
        echo "  PASS: $name"
        passed_steps=$((passed_steps + 1))
    else
        echo "run-all: $name failed:" >&2
        tail -60 "$build/$name.out" >&2
        failed_steps=$((failed_steps + 1))
    fi
}

# gcc -fanalyzer over every source file: a finding that is not a known false
# positive (tests/analyze/suppressions) fails
step "make analyze" make analyze

# The unit tests and end-to-end scenarios once more, built with ASan + UBSan
# (./configure --enable-sanitizers) in a second build tree. Every sanitizer
# report goes to a file in $san/reports (log_path) and fails the run: the
# report of a worker that aborts would otherwise be a line in a test's temp
# log. LeakSanitizer is on: the processes that exit through exit() (the CLI
# commands, the unit tests, serve's master) are checked for leaks; serve's
# workers end with _exit(), which LeakSanitizer does not see (no leak check
# there: what a worker holds lives until it exits anyway).
# The end-to-end scenarios are a subset: the whole suite takes as long again
# as the normal run; these cover every family of code path
#   check_redis_url, explain_three_tier   config, the CLI commands
#   lighttpd_registry   request parsing, Basic/htpasswd identity, the pool
#   bearer_clients      Bearer: API keys, OIDC/JWKS, ocigate's tokens
#   apikey_cli          key create/list/revoke against Redis
#   immutability        tag claims, the lost-claim path
#   manifest_writes     the manifest-write route through every door
#   throttle            throttling
#   catalog             the catalog endpoint
#   slow_bodies         request bodies that arrive slowly
#   doors               nginx, Caddy, Apache and lighttpd in front
#   browser_signin      browser sign-in: session cookie, code exchange, ID token
#   key_page            the key page: forms, CSRF and origin checks, the key store
#   explain_seed, seed_lighttpd, seed_checklist   the seed's config, the operator's flow
#   ci_issuers          several OpenID issuers, CEL claim rules
# (OCIGATE_SAN_E2E="a.sh b.sh" picks others; "all" runs every one.)
san=$build-sanitizers
san_e2e=${OCIGATE_SAN_E2E:-check_redis_url.sh explain_three_tier.sh lighttpd_registry.sh
    bearer_clients.sh apikey_cli.sh immutability.sh manifest_writes.sh throttle.sh catalog.sh
    slow_bodies.sh doors.sh explain_seed.sh seed_lighttpd.sh browser_signin.sh key_page.sh
    seed_checklist.sh ci_issuers.sh socket_group.sh redis_sentinel.sh}
san_pass=0 san_fail=0 san_skip=0
rm -rf "$san"
mkdir -p "$san/reports"
if ! (cd "$san" && "$here/configure" -q --enable-sanitizers && make -j"$(nproc)") > "$build/sanitizers-build.out" 2>&1; then
    echo "run-all: the sanitizer build (--enable-sanitizers) failed:" >&2
    tail -40 "$build/sanitizers-build.out" >&2
    failed_steps=$((failed_steps + 1))
else
    san_tests=$(cd "$san" && make -s print-unit-tests 2>/dev/null)
    if [ "$san_e2e" = all ]; then
        san_tests="$san_tests $(cd "$san" && make -s print-e2e-tests 2>/dev/null)"
    else
        for t in $san_e2e; do san_tests="$san_tests tests/e2e/$t"; done
    fi
    sanopts="halt_on_error=1:abort_on_error=1:log_path=$san/reports/report"
    (cd "$san" && OCIGATE_E2E=1 \
        ASAN_OPTIONS="$sanopts:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1" \
        UBSAN_OPTIONS="$sanopts:print_stacktrace=1" \
        LSAN_OPTIONS="$sanopts" \
        make -j1 check TESTS="$(echo $san_tests)") > "$build/sanitizers-check.out" 2>&1
    san_rc=$?
    grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' "$build/sanitizers-check.out" | sed 's/^/  sanitizers: /'
    san_pass=$(sed -n 's/^# PASS: *//p' "$build/sanitizers-check.out" | tail -1)
    san_fail=$(sed -n 's/^# FAIL: *//p' "$build/sanitizers-check.out" | tail -1)
    san_err=$(sed -n 's/^# ERROR: *//p' "$build/sanitizers-check.out" | tail -1)
    san_skip=$(sed -n 's/^# SKIP: *//p' "$build/sanitizers-check.out" | tail -1)
    san_pass=${san_pass:-0}; san_fail=$(( ${san_fail:-0} + ${san_err:-0} )); san_skip=${san_skip:-0}
    [ $san_rc -ne 0 ] && [ "$san_fail" -eq 0 ] && san_fail=1
    if [ "$san_fail" -ne 0 ]; then
        for log in "$san"/tests/unit/*.log "$san"/tests/e2e/*.log; do
            [ -f "$log" ] || continue
            grep -qE '^(not ok|FAIL|ERROR|Bail out)' "$log" && { echo "==== sanitizers: $log"; tail -80 "$log"; }
        done
    fi
    reports=$(find "$san/reports" -type f | wc -l)
    if [ "$reports" -ne 0 ]; then
        echo "run-all: $reports sanitizer report(s) (ASan/UBSan/LSan):" >&2
        for r in "$san"/reports/*; do echo "==== $r" >&2; head -60 "$r" >&2; done
        failed_steps=$((failed_steps + 1))
    else
        echo "  PASS: sanitizers: no ASan/UBSan/LSan report"
        passed_steps=$((passed_steps + 1))
    fi
fi

pass=$(sed -n 's/^# PASS: *//p' check.out | tail -1)
fail=$(sed -n 's/^# FAIL: *//p' check.out | tail -1)
err=$(sed -n 's/^# ERROR: *//p' check.out | tail -1)
skip=$(sed -n 's/^# SKIP: *//p' check.out | tail -1)
pass=${pass:-0}; fail=${fail:-0}; err=${err:-0}; skip=${skip:-0}
[ $check_rc -ne 0 ] && [ $((fail + err)) -eq 0 ] && fail=1
pass=$((pass + passed_steps + san_pass))
fail=$((fail + err + failed_steps + san_fail))
skip=$((skip + san_skip))
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
