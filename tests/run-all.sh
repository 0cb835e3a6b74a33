#!/usr/bin/env bash
# tests/run-all.sh - install what the tests need, build, run every test.
#
# Unit tests (cmocka) and end-to-end scenarios (real redis-server,
# docker-registry, lighttpd, skopeo on loopback), then `make distcheck`.
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

pass=$(sed -n 's/^# PASS: *//p' check.out | tail -1)
fail=$(sed -n 's/^# FAIL: *//p' check.out | tail -1)
err=$(sed -n 's/^# ERROR: *//p' check.out | tail -1)
skip=$(sed -n 's/^# SKIP: *//p' check.out | tail -1)
pass=${pass:-0}; fail=${fail:-0}; err=${err:-0}; skip=${skip:-0}
[ $failed_steps -eq 0 ] && pass=$((pass + 1))
fail=$((fail + err + failed_steps))
[ $check_rc -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
