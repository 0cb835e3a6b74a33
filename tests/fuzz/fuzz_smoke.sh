#!/bin/sh
# fuzz_smoke.sh - every libFuzzer harness of tests/fuzz/ for a few seconds
# (every parser is bounded and fuzzed), as one TAP test of `make check`.
#
# Runs only with OCIGATE_E2E=1 (tests/run-all.sh sets it), like the end-to-end
# scenarios; fails when clang's libFuzzer runtime is missing (skips with
# OCIGATE_E2E_OPTIONAL=1). FUZZ_SECONDS
# sets the time per fuzzer (default 5). Builds into ./fuzz-build of the build
# tree (FUZZ_OUT overrides), never into the source tree.
if [ "${OCIGATE_E2E:-0}" != 1 ]; then
    echo "1..0 # SKIP set OCIGATE_E2E=1"
    exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
# Asked for the end-to-end suite: no clang/libFuzzer is a failure, not a skip
# (as in tests/e2e/lib.sh; OCIGATE_E2E_OPTIONAL=1 skips instead).
[ "${OCIGATE_E2E_OPTIONAL:-0}" = 1 ] || FUZZ_REQUIRED=1
export FUZZ_REQUIRED
exec "$here/run.sh" "${FUZZ_SECONDS:-5}"
