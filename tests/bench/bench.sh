#!/usr/bin/env bash
# bench.sh - how fast is a decision? Measures, never passes or fails on time.
#
# Starts redis-server, docker-registry, ocigate (2 workers) and lighttpd on
# loopback like the end-to-end tests, then drives lighttpd with wrk:
#   1. anonymous GET of a manifest: lighttpd -> ocigate (allow) -> registry
#   2. anonymous blob upload: lighttpd -> ocigate (deny 401), registry untouched
#   3. htpasswd Basic GET /v2/: the per-worker verified-password cache
# and prints wrk's numbers plus ocigate's own decision time (from its
# Prometheus histogram). Usage: OCIGATE_BIN=... tests/bench/bench.sh [SECONDS]
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

decision_us() {
    curl -s "$U/ocigate/metrics" | awk '
        /^ocigate_decision_seconds_sum/ { s = $2 } /^ocigate_decision_seconds_count/ { c = $2 }
        END { printf "%.1f", (c ? s / c * 1e6 : 0) }'
}

cat > "$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Length"] = "0"
LUA
auth=$(printf 'ci:%s' "$PASS_ci" | base64 -w0)

echo "# 1. anonymous GET manifest through lighttpd + ocigate + registry (${secs}s, 4 connections)"
wrk -t2 -c4 -d"${secs}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$U/v2/bench/app/manifests/v1" | sed 's/^/#   /'
echo "#   ocigate's mean decision time so far: $(decision_us) us"
echo "# 2. anonymous blob upload, denied by ocigate (401)"
wrk -t2 -c4 -d"${secs}s" -s "$T/post.lua" "$U/v2/bench/app/blobs/uploads/" | sed 's/^/#   /'
echo "# 3. htpasswd Basic GET /v2/ (verified-password cache)"
wrk -t2 -c4 -d"${secs}s" -H "Authorization: Basic $auth" "$U/v2/" | sed 's/^/#   /'
echo "#   ocigate's mean decision time over everything: $(decision_us) us"
ok 0 "benchmark ran"
done_testing
