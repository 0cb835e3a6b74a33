#!/usr/bin/env bash
# seed_lighttpd.sh - the seed's config (deploy/examples/seed.json, its zot
# accessControl block pasted as it is) served end to end: skopeo and curl ->
# lighttpd (deploy/lighttpd/ocigate-external.conf) -> ocigate serve ->
# docker-registry, with redis-server for tag claims.
#
#   "metrics": {"users": [""]}: anonymous clients scrape, both ocigate's own
#   endpoints.metrics and the registry's /metrics; with metrics.users not
#   holding "" (reloaded with SIGHUP) anonymous scraping is refused.
#   Anyone pulls and lists the catalog; ci (artifact-workloads) pushes new
#   commit-SHA and version tags but overwrites neither; an admin cannot
#   overwrite a version tag either (immutableTags v*); anonymous pushes fail.
#
# On the main branch before this test ocigate refused the seed's config
# ("accessControl.metrics.users[0]: must not be empty") and never started.
#
# TAP; skipped unless OCIGATE_E2E=1; everything started is stopped on exit.

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd python3

OCI_MT=application/vnd.oci.image.manifest.v1+json
ACCEPT="Accept: $OCI_MT"

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci prometheus

# seed_config DEST [JQ-FILTER]: seed.json with the test's ports and files
seed_config() {
    jq --arg reg "http://127.0.0.1:$REG_PORT" --arg redis "redis://127.0.0.1:$REDIS_PORT/0" \
       --arg htp "$T/htpasswd" \
       '.registry.url = $reg | .redis.url = $redis | .auth.htpasswd.path = $htp' \
       "$DEPLOY/examples/seed.json" | jq "${2:-.}" > "$1.tmp" || bail "jq failed on seed.json"
    mv "$1.tmp" "$1"
}
seed_config "$T/ocigate.json"
is "$(jq -c .accessControl.metrics "$T/ocigate.json")" '{"users":[""]}' \
    "the test config keeps the seed's metrics block as it is"

"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.out" 2>&1
ok $? "ocigate check accepts the seed's config" || diag "$(cat "$T/check.out")"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate "$T/ocigate.sock" 2
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"

U=http://127.0.0.1:$LT_PORT
H=127.0.0.1:$LT_PORT
REG=http://127.0.0.1:$REG_PORT
ADMIN="admin:$PASS_admin"
CI="ci:$PASS_ci"
PROM="prometheus:$PASS_prometheus"
REALM=$(jq -r .realm "$T/ocigate.json")

registry_digest() {
    local code
    code=$(req regdigest -I -H "$ACCEPT" "$REG/v2/$1/manifests/$2")
    if [ "$code" = 200 ]; then hdr regdigest Docker-Content-Digest; else echo "$code"; fi
}

# ---------------------------------------------- metrics: users [""] --------

is "$(req m1 "$U/ocigate/metrics")" 200 "anonymous scrape of endpoints.metrics: 200"
like "$(body m1)" '^# TYPE ocigate_requests_total counter' "... Prometheus text with ocigate's counters"
is "$(req m2 "$U/metrics")" 404 "anonymous GET /metrics: allowed, the registry answers (it has no /metrics: 404)"
unlike "$(body m2)" '"errors"' "... with the registry's own answer, not an OCI error from ocigate"
ok 'grep -q "\"GET /metrics " "$T/registry.log"' "... which the registry logged"
is "$(req m3 -u "$PROM" "$U/ocigate/metrics")" 403 "prometheus (signed in, not listed) scraping: 403"
is "$(req m4 -u "$ADMIN" "$U/ocigate/metrics")" 403 "the admin (not listed) scraping: 403"

# ------------------------------------------------- the seed's registry ------

is "$(req cat -f "$U/v2/_catalog")" 200 "anonymous GET /v2/_catalog (curl -f): 200"

IMG=$T/img
SHA1=$(mkimage "$IMG" sha1) || bail "mkimage failed"
skopeo_copy "oci:$IMG:sha1" "docker://$H/ci/app:0f1e2d3" --dest-creds "$CI"
ok $? "ci pushes a commit-SHA tag ci/app:0f1e2d3 (skopeo)"
is "$(registry_digest ci/app 0f1e2d3)" "$SHA1" "the registry holds it"
rm -rf "$T/pulled"
skopeo_copy "docker://$H/ci/app:0f1e2d3" "oci:$T/pulled:x"
ok $? "anonymous pull of ci/app:0f1e2d3 (skopeo)"

mkimage "$IMG" anon > /dev/null || bail "mkimage failed"
skopeo_copy "oci:$IMG:anon" "docker://$H/ci/app:anon" --dest-no-creds
rc=$?
ok '[ "$rc" != 0 ]' "anonymous push fails (skopeo)"
is "$(req anonpost -X POST -H 'Content-Length: 0' "$U/v2/ci/app/blobs/uploads/")" 401 \
    "anonymous blob upload: 401"
is "$(hdr anonpost WWW-Authenticate)" "Basic realm=\"$REALM\"" "... with the Basic challenge"

V1=$(mkimage "$IMG" v1) || bail "mkimage failed"
skopeo_copy "oci:$IMG:v1" "docker://$H/ci/app:v1.0.0" --dest-creds "$CI"
ok $? "ci pushes a new version tag ci/app:v1.0.0"
mkimage "$IMG" v1b > /dev/null || bail "mkimage failed"
skopeo_copy "oci:$IMG:v1b" "docker://$H/ci/app:v1.0.0" --dest-creds "$CI"
rc=$?
ok '[ "$rc" != 0 ]' "ci pushing a duplicate version tag fails"
skopeo_copy "oci:$IMG:v1b" "docker://$H/ci/app:v1.0.0" --dest-creds "$ADMIN"
rc=$?
ok '[ "$rc" != 0 ]' "the admin pushing over the version tag fails too (immutableTags v*)"
is "$(registry_digest ci/app v1.0.0)" "$V1" "ci/app:v1.0.0 still holds the first push"
SHA2=$(mkimage "$IMG" sha2) || bail "mkimage failed"
skopeo_copy "oci:$IMG:sha2" "docker://$H/ci/app:a9b8c7d" --dest-creds "$CI"
ok $? "ci pushes a second commit-SHA tag"
is "$(registry_digest ci/app a9b8c7d)" "$SHA2" "the registry holds it"
skopeo_copy "oci:$IMG:v1b" "docker://$H/ci/app:latest" --dest-creds "$ADMIN"
ok $? "the admin pushes latest"

# ------------------------------ metrics: users without "" (SIGHUP reload) ---

seed_config "$T/ocigate.json" '.accessControl.metrics = {users: ["prometheus"]}'
kill -HUP "$OCIGATE_PID"
anon_refused() { [ "$(req mw "$U/ocigate/metrics")" = 401 ]; }
wait_until 10 anon_refused
is "$(req m5 "$U/ocigate/metrics")" 401 "metrics users [\"prometheus\"]: anonymous scrape of endpoints.metrics: 401"
is "$(hdr m5 WWW-Authenticate)" "Basic realm=\"$REALM\"" "... with the Basic challenge"
is "$(req m6 "$U/metrics")" 401 "... anonymous GET /metrics: 401"
like "$(body m6)" '"code":"UNAUTHORIZED"' "... refused by ocigate"
is "$(req m7 -u "$PROM" "$U/ocigate/metrics")" 200 "... prometheus scrapes: 200"
is "$(req m8 "$U/v2/ci/app/tags/list")" 200 "... anonymous pulls still work (repository read is not metrics)"

done_testing
