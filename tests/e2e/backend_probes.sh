#!/usr/bin/env bash
# backend_probes.sh - what anonymous requests may cost the backends, and
# which backend a failure is counted against.
#
#   - /ocigate/healthz: a flood of anonymous health checks costs Redis (PING,
#     counted in INFO commandstats) and the registry (the probe HEAD, seen by
#     the recorder) at most one probe per second per worker;
#   - the filtered /v2/_catalog: one anonymous request examines at most
#     limits.catalogRepositories (here 5) of the registry's 21 repositories:
#     it asks the registry for one page of n=6 (the bound plus one, to see
#     whether more follow); what it kept comes with a Link to continue after
#     the last repository kept (never an unreadable one), and with nothing
#     kept it is 503;
#   - a Bearer (and a Basic) API key while Redis is down: 503, counted in
#     ocigate_backend_errors_total as backend="redis", not "jwks".
#
# The registry is docker-registry behind the recording proxy of
# webserver_lib.sh (start_recorder: one JSON line per call that reaches the
# registry); the repositories are pushed straight to the registry's port, so
# the recorder sees only ocigate's calls. lighttpd with the shipped external
# config. TAP on stdout; everything it starts is stopped and its temp dir
# removed.

. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/webserver_lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd curl jq htpasswd python3

N=2
LIMIT=5      # limits.catalogRepositories
plan 16

read -r REDIS_PORT REG_PORT REC_PORT LT_PORT <<<"$(free_ports 4)"
make_htpasswd "$T/htpasswd" admin
test_config "$T/ocigate.json" "$REC_PORT" "$REDIS_PORT" "$T/htpasswd" '
  .auth.apikey = {"enabled": true}
  | .limits.catalogRepositories = '"$LIMIT"'
  | .accessControl.repositories = {
      "pub/**":     { "anonymousPolicy": ["read"] },
      "hidden/r01": { "anonymousPolicy": ["read"] } }'
start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_recorder "$REC_PORT" "$REG_PORT" "$T/registry-calls.jsonl"

# push_tiny REPO: one tiny image (a config blob, no layers) tagged v1,
# straight to the registry (POST + monolithic PUT, then the manifest).
CFG='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
CFG_DIGEST=sha256:$(printf '%s' "$CFG" | sha256sum | cut -d' ' -f1)
MANIFEST='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'"$CFG_DIGEST"'","size":'"${#CFG}"'},"layers":[]}'
push_tiny() {
    local repo=$1 base=http://127.0.0.1:$REG_PORT loc sep
    loc=$(curl -s --max-time 10 -X POST -H 'Content-Length: 0' -o /dev/null -D - \
            "$base/v2/$repo/blobs/uploads/" 2>/dev/null \
          | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
    [ -n "$loc" ] || return 1
    case $loc in http*) ;; *) loc=$base$loc ;; esac
    case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
    [ "$(curl -s --max-time 10 -X PUT -o /dev/null -w '%{http_code}' \
           -H 'Content-Type: application/octet-stream' --data-binary "$CFG" \
           "$loc${sep}digest=$CFG_DIGEST")" = 201 ] || return 1
    [ "$(curl -s --max-time 10 -X PUT -o /dev/null -w '%{http_code}' \
           -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
           --data-binary "$MANIFEST" "$base/v2/$repo/manifests/v1")" = 201 ]
}
# 21 repositories in the registry's order: hidden/r00 .. hidden/r19, pub/a;
# anonymous may read hidden/r01 and pub/a only.
for i in $(seq -f %02g 0 19); do
    push_tiny "hidden/r$i" || bail "pushing hidden/r$i failed"
done
push_tiny pub/a || bail "pushing pub/a failed"
[ "$(curl -s "http://127.0.0.1:$REG_PORT/v2/_catalog?n=100" | jq '.repositories | length')" = 21 ] \
    || bail "the registry does not list the 21 repositories pushed"

start_ocigate "$T/ocigate.sock" "$N"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REC_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
pings() {
    redis-cli -p "$REDIS_PORT" info commandstats 2>/dev/null \
        | sed -n 's/^cmdstat_ping:calls=\([0-9]*\),.*/\1/p' | tr -d '\r' | awk '{ n += $1 } END { print n + 0 }'
}
# calls ERE: how many calls ("METHOD PATH?QUERY") the recorder passed on
calls() {
    jq -r '.method + " " + .path' "$T/registry-calls.jsonl" 2>/dev/null | grep -c -- "$1" || true
}
# catalog_since N: the registry catalog calls recorded after line N, on one line
recorded() { wc -l < "$T/registry-calls.jsonl" 2>/dev/null || echo 0; }
catalog_since() {
    tail -n +"$(($1 + 1))" "$T/registry-calls.jsonl" 2>/dev/null \
        | jq -r 'select(.method == "GET") | .path' | grep '^/v2/_catalog' | paste -sd' ' -
}

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
# catalog_endpoint.c asks for pages of min(limit + 1, 1000): with the limit
# at 5, one request is exactly one registry call for n=6, whose sixth name
# only tells that more follow.
PAGE=$((LIMIT + 1))
r0=$(recorded)
st=$(req cat1 "$U/v2/_catalog")
is "$st" 200 "anonymous catalog over 21 repositories, limits.catalogRepositories $LIMIT: 200"
is "$(jq -c '.repositories' "$T/cat1.body" 2>/dev/null)" '["hidden/r01"]' \
    "... with what it kept among the first $LIMIT examined"
is "$(hdr cat1 Link)" '</v2/_catalog?last=hidden/r01&n=100>; rel="next"' \
    "... and a Link to continue after it (not after the unreadable hidden/r04)"
is "$(catalog_since "$r0")" "/v2/_catalog?n=$PAGE" \
    "... in one registry call for $PAGE repositories"
r1=$(recorded)
st=$(req cat2 "$U/v2/_catalog?last=hidden/r01&n=100")
is "$st" 503 "following it: nothing readable among the next $LIMIT: 503"
is "$(catalog_since "$r1")" "/v2/_catalog?n=$PAGE&last=hidden/r01" \
    "... in one registry call for $PAGE repositories"
r2=$(recorded)
st=$(req cat3 "$U/v2/_catalog?last=hidden/r15&n=100")
is "$st $(jq -c '.repositories' "$T/cat3.body" 2>/dev/null)" '200 ["pub/a"]' \
    "after hidden/r15 the last $LIMIT repositories fit the bound: 200 with pub/a"
is "$(hdr cat3 Link)" "" "... and no Link: the catalog ends there"
is "$(catalog_since "$r2")" "/v2/_catalog?n=$PAGE&last=hidden/r15" \
    "... in one registry call for $PAGE repositories"

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
