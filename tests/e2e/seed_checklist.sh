#!/bin/bash
# seed_checklist.sh - the operator's checklist from the registry this project
# started from, walked in order as one scenario, with the seed's config
# (deploy/examples/seed.json, its accessControl pasted from zot as it is)
# through the recommended deployment (lighttpd with
# deploy/lighttpd/ocigate-external.conf, bearer tokens), a human's browser
# sign-in (headless Chromium against the test OpenID provider's interactive
# login, tests/browser/keys.mjs) and CI's pushes with docker and skopeo:
#
#   1. anonymous pull works (skopeo, docker; `curl -sf /v2/_catalog` too)
#   2. unauthenticated push fails with 401
#   3. the browser login redirects to the IdP and back
#   4. an API key push works after the key is generated (on the key page)
#   5. CI pushes with both docker and skopeo (with that key)
#   6. pushing a duplicate version tag fails
#   7. pushing a new commit-SHA tag succeeds
#   8. metrics still scrape (anonymously)
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).
. "$(dirname "$0")/lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq python3 node npm chromium dockerd

plan 27

read -r REG_PORT REDIS_PORT LT_PORT < <(free_ports 3)
BASE="http://127.0.0.1:$LT_PORT"
H="127.0.0.1:$LT_PORT"
REPO=blumeops/app
SHA=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')    # a commit SHA

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_idp --redirect-uri "$BASE/ocigate/callback" --post-logout-uri "$BASE/ocigate/keys"

(umask 077 && jq -r .web_client.secret "$T/idp.json" > "$T/client.secret")
(umask 077 && "$OCIGATE_BIN" session-key generate > "$T/session.key" &&
    "$OCIGATE_BIN" token-key generate > "$T/token.key") 2> "$T/keys.err" ||
    bail "ocigate session-key/token-key generate failed: $(cat "$T/keys.err")"
secret_file "$T/session.key"
secret_file "$T/token.key"
make_htpasswd "$T/htpasswd" admin

# The seed's config as it is, with this machine's addresses, the IdP, the
# browser session and ocigate's recommended challenge (bearer tokens).
jq --arg reg "http://127.0.0.1:$REG_PORT" --arg redis "redis://127.0.0.1:$REDIS_PORT/0" \
   --arg htp "$T/htpasswd" --arg base "$BASE" --arg issuer "$ISSUER" \
   --arg client "$(jq -r .web_client.id "$T/idp.json")" --arg secret "$T/client.secret" \
   --arg skey "$T/session.key" --arg tkey "$T/token.key" --arg svc "$H" '
  .registry.url = $reg | .redis.url = $redis | .auth.htpasswd.path = $htp
  | .auth.openid = {issuer: $issuer, audiences: ["registry"], clientId: $client,
                    clientSecretFile: $secret}
  | .auth.apikey.cacheSeconds = 1
  | .externalUrl = $base | .session = {keyFile: $skey}
  | .token = {challenge: "bearer", realm: ($base + "/ocigate/token"), service: $svc,
              keyFile: $tkey}' \
  "$DEPLOY/examples/seed.json" > "$T/ocigate.json" || bail "jq failed on seed.json"
is "$(jq -c .accessControl "$T/ocigate.json")" "$(jq -c .accessControl "$DEPLOY/examples/seed.json")" \
    "the seed's accessControl block is used as it is"
"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.out" 2>&1
ok $? "ocigate check accepts the seed's config (metrics users [\"\"] included)" || diag "$(tail -n 3 "$T/check.out")"

start_ocigate "$T/ocigate.sock" 2
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
start_dockerd "$H" || bail "dockerd did not start: $(tail -n 3 "$T/dockerd.log" 2>/dev/null)"

redact() { sed -e 's/zak_[0-9a-f]\{6,\}/zak_<redacted>/g'; }
IMG=$T/img
image() { python3 "$MKIMAGE" "$IMG" "$1" > /dev/null 2>&1; }   # TAG: a fresh OCI image
registry_has() {   # REPO TAG: the registry itself (not through ocigate) holds the tag
    [ "$(curl -s -o /dev/null -w '%{http_code}' -I \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://127.0.0.1:$REG_PORT/v2/$1/manifests/$2")" = 200 ]
}
digest_of() {      # REPO TAG: the registry's digest of the tag
    curl -s -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://127.0.0.1:$REG_PORT/v2/$1/manifests/$2" | tr -d '\r' |
        sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

# An admin publishes the first release (the registry has something to pull).
image v1.0.0 && skopeo_copy "oci:$IMG:v1.0.0" "docker://$H/$REPO:v1.0.0" --dest-creds "admin:$PASS_admin"
ok $? "setup: an admin publishes $REPO:v1.0.0" || diag "$(tail -n 3 "$T/skopeo.log")"
V1=$(digest_of "$REPO" v1.0.0)

# ------------------------------------------------ 1. anonymous pull ----------
skopeo_copy "docker://$H/$REPO:v1.0.0" "oci:$T/pulled:v1.0.0"
ok $? "1. anonymous pull works (skopeo)" || diag "$(tail -n 3 "$T/skopeo.log")"
dk pull -q "$H/$REPO:v1.0.0" > "$T/docker-pull.out" 2>&1
ok $? "1. anonymous pull works (docker)" || diag "$(tail -n 3 "$T/docker-pull.out")"
curl -sf "$BASE/v2/_catalog" > "$T/catalog.json"
ok $? "1. curl -sf $BASE/v2/_catalog works anonymously"
is "$(jq -c .repositories "$T/catalog.json" 2>/dev/null)" "[\"$REPO\"]" "1. ... and lists the repository"

# ------------------------------------------------ 2. unauthenticated push ----
code=$(req upload -X POST -H 'Content-Length: 0' "$BASE/v2/$REPO/blobs/uploads/")
is "$code" 401 "2. an unauthenticated push (blob upload) fails with 401"
like "$(hdr upload WWW-Authenticate)" "^Bearer realm=\"$BASE/ocigate/token\"" "2. ... with the Bearer challenge"
image anon && skopeo_copy "oci:$IMG:anon" "docker://$H/$REPO:anon"
is "$?" 1 "2. an unauthenticated skopeo push fails"
ok '! registry_has "$REPO" anon' "2. ... and the registry holds nothing new"

# ------------------------------------------------ 3. browser login -----------
code=$(req login "$BASE/ocigate/login")
like "$code $(hdr login Location)" "^302 $ISSUER/" "3. the browser login redirects to the IdP"
timeout 120 node "$OCIGATE_SRCDIR/tests/browser/keys.mjs" --base "$BASE" --idp-state "$T/idp.json" \
    --step create --user alice --label "ci for $REPO" --expires 30 --key-out "$T/alice.key" \
    > "$T/create.json" 2> "$T/create.err"
is "$(jq -r '.headers.status' "$T/create.json" 2>/dev/null)" 200 "3. ... and back: alice signed in at the IdP lands on the key page"
is "$(jq -r '.user' "$T/create.json" 2>/dev/null)" alice "3. ... as alice" ||
    diag "$(jq -r '.error // empty' "$T/create.json" 2>/dev/null) $(tail -n 3 "$T/create.err")"

# ------------------------------------------------ 4. API key push ------------
KEY=$(cat "$T/alice.key" 2>/dev/null)
[ -n "$KEY" ] && secret "$KEY"
like "$KEY" '^zak_[0-9a-f]{32}$' "4. the key page generated an API key (shown once)"
image "sha-$SHA" && skopeo_copy "oci:$IMG:sha-$SHA" "docker://$H/$REPO:sha-${SHA:0:12}" --dest-creds "alice:$KEY"
ok $? "4. a push with the new API key works" || diag "$(tail -n 3 "$T/skopeo.log" | redact)"

# ------------------------------------------------ 5. CI: docker and skopeo ---
printf '%s\n' "$KEY" | dk login "$H" --username alice --password-stdin > "$T/docker-login.out" 2>&1
ok $? "5. CI: docker login with the key" || diag "$(tail -n 3 "$T/docker-login.out" | redact)"
docker_image ci-docker && dk tag local/img:ci-docker "$H/$REPO:ci-docker-${SHA:0:7}" &&
    dk push "$H/$REPO:ci-docker-${SHA:0:7}" > "$T/docker-push.out" 2>&1
ok $? "5. CI pushes with docker" || diag "$(tail -n 3 "$T/docker-push.out")"
image ci-skopeo && skopeo_copy "oci:$IMG:ci-skopeo" "docker://$H/$REPO:ci-skopeo-${SHA:0:7}" --dest-creds "alice:$KEY"
ok $? "5. CI pushes with skopeo" || diag "$(tail -n 3 "$T/skopeo.log" | redact)"

# ------------------------------------------------ 6. duplicate version tag ---
image v1-again && skopeo_copy "oci:$IMG:v1-again" "docker://$H/$REPO:v1.0.0" --dest-creds "alice:$KEY"
is "$?" 1 "6. pushing a duplicate version tag fails (skopeo)"
like "$(tail -n 3 "$T/skopeo.log")" 'denied|403' "6. ... as denied"
docker_image v1-docker && dk tag local/img:v1-docker "$H/$REPO:v1.0.0" &&
    dk push "$H/$REPO:v1.0.0" > "$T/docker-dup.out" 2>&1
is "$?" 1 "6. pushing a duplicate version tag fails (docker)"
is "$(digest_of "$REPO" v1.0.0)" "$V1" "6. ... and v1.0.0 is still the release the admin published"

# ------------------------------------------------ 7. new commit-SHA tag ------
docker_image sha && dk tag local/img:sha "$H/$REPO:$SHA" && dk push "$H/$REPO:$SHA" > "$T/docker-sha.out" 2>&1
ok $? "7. pushing a new commit-SHA tag succeeds (docker)" || diag "$(tail -n 3 "$T/docker-sha.out")"
ok 'registry_has "$REPO" "$SHA"' "7. ... and the registry holds it"

# ------------------------------------------------ 8. metrics -----------------
code=$(req metrics "$BASE/ocigate/metrics")
is "$code" 200 "8. metrics still scrape without credentials"
like "$(body metrics)" 'ocigate_requests_total' "8. ... and they count the requests"

done_testing
