#!/usr/bin/env bash
# push_decision.sh - the cost of a tag push's decision in isolation: what
# ocigate asks the registry and Redis before it forwards a CI's manifest PUT
# of a new tag (a HEAD of the tag, 404; the claim SET NX; its release after
# the write), against a real docker-registry and redis-server on loopback,
# with ocigate's own calls (tests/bench/push_bench.c). Prints p50/p99 in
# microseconds of each step, of the three together, and of the HEAD an update
# of an existing tag makes (no claim). The registry runs as the e2e tests
# start it (filesystem storage, access log on). Measures, never passes or fails on time.
# Usage: OCIGATE_BIN=... PUSH_BENCH=... tests/bench/push_decision.sh [ITERATIONS]   (2000)
# (from the build directory: make tests/bench/push_bench, then
#  OCIGATE_BIN=$PWD/ocigate PUSH_BENCH=$PWD/tests/bench/push_bench ../tests/bench/push_decision.sh)
set -u
. "$(dirname "$0")/../e2e/lib.sh"
OCIGATE_E2E=1 e2e_init redis-server docker-registry skopeo
BENCH=${PUSH_BENCH:-$(dirname "$OCIGATE_BIN")/tests/bench/push_bench}
[ -x "$BENCH" ] || bail "build tests/bench/push_bench first (make tests/bench/push_bench), or set PUSH_BENCH"
read -r REDIS_PORT REG_PORT <<<"$(free_ports 2)"
start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
mkimage "$T/img" v1 > /dev/null
skopeo_copy "oci:$T/img:v1" "docker://127.0.0.1:$REG_PORT/ci/app:v1" || bail "push failed"
"$BENCH" "http://127.0.0.1:$REG_PORT" "redis://127.0.0.1:$REDIS_PORT/0" ci/app v1 "${1:-2000}" \
    > "$T/push_bench.out" 2> "$T/push_bench.err"
ok $? "push_bench ran: $(head -c 300 "$T/push_bench.err")"
sed 's/^/# /' "$T/push_bench.out"
done_testing
