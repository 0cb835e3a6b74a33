#!/usr/bin/env bash
# backend_probes.sh - what anonymous requests may cost the backends, and
# which backend a failure is counted against.
#
#   - /ocigate/healthz: a flood of anonymous health checks costs Redis (PING,
#     counted in INFO commandstats) and the registry (the probe HEAD, counted
#     by the registry) at most one probe per second per worker;
#   - the filtered /v2/_catalog: one anonymous request examines at most
#     limits.catalogRepositories (default 5000) of a 20001-repository catalog,
#     so it makes at most 6 registry calls; what it kept comes with a Link to
#     continue, and with nothing kept it is 503;
#   - a Bearer (and a Basic) API key while Redis is down: 503, counted in
#     ocigate_backend_errors_total as backend="redis", not "jwks".
#
# The registry is tests/e2e/fake_registry.py (a catalog too large to push,
# and a log of every call); lighttpd with the shipped external config.
# TAP on stdout; everything it starts is stopped and its temp dir removed.

. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli lighttpd curl jq htpasswd python3

N=2
plan 13

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" '
  .auth.apikey = {"enabled": true}
  | .accessControl.repositories = {
      "pub/**":       { "anonymousPolicy": ["read"] },
      "hidden/00001": { "anonymousPolicy": ["read"] } }'
start_redis "$REDIS_PORT"
python3 "$E2E_DIR/fake_registry.py" "$REG_PORT" "$T/registry-calls.log" --repos 20000 \
    --extra pub/a > "$T/fake-registry.log" 2>&1 &
REGISTRY_PID=$!
register_pid "$REGISTRY_PID"
wait_port "$REG_PORT" 10 "$REGISTRY_PID" || bail "fake registry did not listen"
start_ocigate "$T/ocigate.sock" "$N"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
pings() {
    redis-cli -p "$REDIS_PORT" info commandstats 2>/dev/null \
        | sed -n 's/^cmdstat_ping:calls=\([0-9]*\),.*/\1/p' | tr -d '\r' | awk '{ n += $1 } END { print n + 0 }'
}
calls() { grep -c "$1" "$T/registry-calls.log" 2>/dev/null || true; }

# ------------------------------------------------------------- healthz -----
p0=$(pings)
h0=$(calls '^HEAD /v2/ocigate-health-check/manifests/probe')
t0=$(now_ms)
bad=0
for i in $(seq 1 40); do
    [ "$(req h "$U/ocigate/healthz")" = 200 ] || bad=$((bad + 1))
done
t1=$(now_ms)
p1=$(pings)
h1=$(calls '^HEAD /v2/ocigate-health-check/manifests/probe')
secs=$(( (t1 - t0 + 999) / 1000 ))
bound=$(( N * (secs + 1) ))
is "$bad" 0 "40 anonymous healthz requests in $((t1 - t0)) ms: all 200"
is "$(jq -r '.redis + " " + .registry' "$T/h.body" 2>/dev/null)" "up up" "... reporting Redis and the registry up"
ok "$([ $((p1 - p0)) -ge 1 ] && [ $((p1 - p0)) -le "$bound" ] && echo 0 || echo 1)" \
    "... cost Redis $((p1 - p0)) PINGs (at most 1 per second per worker: <= $bound)"
ok "$([ $((h1 - h0)) -ge 1 ] && [ $((h1 - h0)) -le "$bound" ] && echo 0 || echo 1)" \
    "... cost the registry $((h1 - h0)) probes (<= $bound)"
sleep 1.2
for i in 1 2 3 4; do req h2 "$U/ocigate/healthz" > /dev/null; done
ok "$([ "$(pings)" -gt "$p1" ] && echo 0 || echo 1)" "a second later the probe is made again (not cached for ever)"

# ------------------------------------------------------------- catalog -----
c0=$(calls '^GET /v2/_catalog')
st=$(req cat1 "$U/v2/_catalog")
c1=$(calls '^GET /v2/_catalog')
is "$st" 200 "anonymous catalog over 20001 repositories: 200"
is "$(jq -c '.repositories' "$T/cat1.body" 2>/dev/null)" '["hidden/00001"]' \
    "... with what it kept among the first 5000 examined"
like "$(hdr cat1 Link)" 'last=hidden/00001&n=100>; rel="next"' "... and a Link to continue after it"
ok "$([ $((c1 - c0)) -le 6 ] && echo 0 || echo 1)" \
    "... in $((c1 - c0)) registry calls (at most 6 for limits.catalogRepositories 5000)"
st=$(req cat2 "$U/v2/_catalog?last=hidden/00001&n=100")
c2=$(calls '^GET /v2/_catalog')
is "$st" 503 "following it: nothing readable among the next 5000: 503"
ok "$([ $((c2 - c1)) -le 6 ] && echo 0 || echo 1)" "... in $((c2 - c1)) registry calls"

# ------------------------------------- API keys with Redis down: "redis" -----
KEY=$("$OCIGATE_BIN" key create -c "$T/ocigate.json" --user alice 2> "$T/key.err")
[ -n "$KEY" ] || bail "key create failed: $(cat "$T/key.err")"
secret "$KEY"
scrape() { [ "$(req "$1" "$U/ocigate/metrics")" = 200 ] || diag "scrape $1 failed"; }
m() { awk -v s="$2" '$1 == s { v = $2 } END { printf "%d\n", v + 0 }' "$T/$1.body" 2>/dev/null; }
RED='ocigate_backend_errors_total{backend="redis"}'
JW='ocigate_backend_errors_total{backend="jwks"}'
scrape m0
stop_pid "$REDIS_PID"
st1=$(req kb -H "Authorization: Bearer $KEY" "$U/v2/pub/a/manifests/v1")
st2=$(req kc -u "alice:$KEY" "$U/v2/pub/a/manifests/v1")
is "$st1 $st2" "503 503" "Redis down: a Bearer and a Basic API key are 503"
scrape m1
is "$(( $(m m1 "$RED") - $(m m0 "$RED") )) $(( $(m m1 "$JW") - $(m m0 "$JW") ))" "2 0" \
    "... counted as backend=\"redis\" errors (+2), not \"jwks\" (+0)"

done_testing
