#!/usr/bin/env bash
# bench.sh - how fast is a decision? Measures, never passes or fails on time.
#
# Starts redis-server, docker-registry, ocigate (2 workers) and lighttpd on
# loopback like the end-to-end tests, then drives lighttpd with wrk:
#   1. anonymous GET of a manifest: lighttpd -> ocigate (allow) -> registry
#   2. anonymous blob upload: lighttpd -> ocigate (deny 401), registry untouched
#   3. htpasswd Basic GET /v2/: the per-worker verified-password cache
#   4. ci pushing new tags (manifest PUTs served by ocigate: HEAD, claim in
#      Redis, HEAD again, PUT forwarded to the registry, claim released)
#   5. the decision alone, in process, with and without accessControl
#      conditions (tests/bench/decide_bench, if built)
#   6. side by side (tests/bench/compare.sh, its own processes): no
#      authorizer, a do-nothing one, ocigate per credential type and
#      docker-registry's own htpasswd auth; COMPARE=0 skips it
# and prints wrk's numbers plus ocigate's own time per request in each part
# (from its Prometheus histogram: the mean of the requests of that part). Usage: OCIGATE_BIN=... tests/bench/bench.sh [SECONDS]
set -u
. "$(dirname "$0")/../e2e/lib.sh"
OCIGATE_E2E=1 e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd wrk
secs=${1:-10}

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" '.log.level = "warn"'
start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate "$T/ocigate.sock" 2
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
mkimage "$T/img" v1 > /dev/null
skopeo_copy "oci:$T/img:v1" "docker://127.0.0.1:$LT_PORT/bench/app:v1" --dest-creds "admin:$PASS_admin" \
    || bail "push failed"

# histogram: "SUM COUNT" of ocigate's decision-time histogram now
histogram() {
    curl -s "$U/ocigate/metrics" | awk '
        /^ocigate_decision_seconds_sum/ { s = $2 } /^ocigate_decision_seconds_count/ { c = $2 }
        END { printf "%s %s", s + 0, c + 0 }'
}
# part_us BEFORE: the mean time of the requests since BEFORE (a histogram())
part_us() {
    local now
    now=$(histogram)
    awk -v a="$1" -v b="$now" 'BEGIN { split(a, x, " "); split(b, y, " ");
        n = y[2] - x[2]; printf "%.1f us over %d requests", (n > 0 ? (y[1] - x[1]) / n * 1e6 : 0), n }'
}

# (wrk sends no Content-Length for a POST without a body, even when it is in
# wrk.headers: lighttpd then answers 411 itself and ocigate is never asked.
# An empty wrk.body makes it send "Content-Length: 0".)
cat > "$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = ""
wrk.headers["Content-Length"] = "0"
LUA
auth=$(printf 'ci:%s' "$PASS_ci" | base64 -w0)

curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' -o "$T/manifest.json" \
    "$U/v2/bench/app/manifests/v1"
cat > "$T/push.lua" <<LUA
-- every request a new tag: t<thread>-<n>
local body = io.open("$T/manifest.json"):read("*a")
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
function request()
  n = n + 1
  return wrk.format("PUT", "/v2/bench/app/manifests/t" .. tid .. "-" .. n,
    { ["Content-Type"] = "application/vnd.oci.image.manifest.v1+json",
      ["Authorization"] = "Basic $auth" }, body)
end
LUA
responses() { curl -s "$U/ocigate/metrics" | awk '/^ocigate_responses_total/ { n += $2 } END { print n + 0 }'; }

echo "# 1. anonymous GET manifest through lighttpd + ocigate + registry (${secs}s, 4 connections)"
h=$(histogram)
wrk -t2 -c4 -d"${secs}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$U/v2/bench/app/manifests/v1" | sed 's/^/#   /'
echo "#   ocigate's own time: $(part_us "$h")"
echo "# 2. anonymous blob upload, denied by ocigate (401)"
echo "#   one of them by curl: $(req up -X POST -H 'Content-Length: 0' "$U/v2/bench/app/blobs/uploads/") $(head -c 120 "$T/up.body")"
h=$(histogram); r0=$(responses)
wrk -t2 -c4 -d"${secs}s" -s "$T/post.lua" "$U/v2/bench/app/blobs/uploads/" | sed 's/^/#   /'
echo "#   ocigate's own time: $(part_us "$h"); answers ocigate counted: $(( $(responses) - r0 ))"
echo "# 3. htpasswd Basic GET /v2/ (verified-password cache)"
h=$(histogram)
wrk -t2 -c4 -d"${secs}s" -H "Authorization: Basic $auth" "$U/v2/" | sed 's/^/#   /'
echo "#   ocigate's own time: $(part_us "$h")"
echo "# 4. ci pushes a new tag per request (manifest PUT served by ocigate: HEAD, claim, HEAD, PUT to the registry, release)"
h=$(histogram)
wrk -t2 -c4 -d"${secs}s" -s "$T/push.lua" "$U/" | sed 's/^/#   /'
echo "#   ocigate's own time (includes the registry's HEADs and its PUT): $(part_us "$h")"
echo "#   tags in the registry afterwards: $(curl -s "$U/v2/bench/app/tags/list?n=100000" | jq '.tags | length')"
# 5. the decision alone, in process: with and without accessControl conditions
# (tests/bench/decide_bench.c; built next to the binary by
# `make tests/bench/decide_bench`)
db=$(dirname "$OCIGATE_BIN")/tests/bench/decide_bench
if [ -x "$db" ]; then
    echo "# 5. one decision in process (og_policy_evaluate), with and without conditions"
    "$db" 1000000 | sed 's/^/#   /'
else
    echo "# 5. skipped: build it with make tests/bench/decide_bench"
fi
if [ "${COMPARE:-1}" = 1 ]; then
    echo "# 6. side by side: tests/bench/compare.sh (5 s x 3 interleaved rounds)"
    "$(dirname "$0")/compare.sh" | sed 's/^/#   /'
    ok "${PIPESTATUS[0]}" "compare.sh ran (its rows all answered 200)"
fi
ok 0 "benchmark ran"
done_testing
