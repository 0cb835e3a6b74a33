#!/usr/bin/env bash
# ci_issuers.sh - several OpenID issuers at once (doc/config.md, auth.openid):
# two real OpenID providers (tests/idp/server.mjs twice): a "people" issuer
# and a "CI" issuer whose client-credentials tokens carry a job's claims
# (repository, ref, workflow), through lighttpd (the shipped
# deploy/lighttpd/ocigate-external.conf) -> ocigate serve -> docker-registry,
# tag claims in a real redis-server.
#
#   the CI issuer's claimMapping (CEL over claims) makes a job of
#   eblume/blumeops on refs/heads/main user "ci" in group artifact-workloads:
#   its token pushes with skopeo --dest-creds (Basic, the JWT as password),
#   as a Bearer token (--dest-registry-token) and at the token endpoint; a
#   job of another repository or another ref is refused with 401, the
#   validation's message in ocigate's log and not in the answer; the people
#   issuer keeps its plain mapping; health lists both issuers' JWKS ages;
#   with the people IdP stopped its tokens are 503 while the CI issuer's
#   tokens keep pushing. accessControl conditions read the job's claims
#   (req.claims), also when the client came through the token endpoint.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir). One worker, so that "a fresh
# worker" after a reload is the one that answers.

if [ "${OCIGATE_E2E:-0}" != 1 ]; then
    echo "1..0 # SKIP set OCIGATE_E2E=1"
    exit 0
fi

. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd skopeo curl jq python3 node npm

redact() { sed -e 's/ey[A-Za-z0-9_-]\{16,\}\.[A-Za-z0-9_.-]*/<jwt>/g'; }
diag_tail() { [ -s "$1" ] && diag "$(tail -n "${2:-6}" "$1" | cut -c1-400 | redact)"; return 0; }
log_mark() { wc -l < "$T/ocigate.log"; }
log_since() { tail -n +"$(($1 + 1))" "$T/ocigate.log"; }

# status_is WANT NAME CURL-ARGS...: one request whose status must be WANT
status_is() {
    local want=$1 name=$2 got mark
    shift 2
    mark=$(log_mark)
    got=$(req r "$@")
    if ! is "$got" "$want" "$name"; then
        diag_tail "$T/r.body" 3
        log_since "$mark" > "$T/since.out"
        diag "  ocigate logged:"; diag_tail "$T/since.out" 4
        return 1
    fi
}

uri_enc() { jq -rn --arg v "$1" '$v|@uri'; }

# push REPO:TAG SKOPEO-ARGS...: skopeo pushes a new image (random layer)
push() {
    local dest=$1 tag=t$RANDOM$RANDOM
    shift
    mkimage "$IMG" "$tag" > "$T/mkimage.out" || return 1
    skopeo_copy "oci:$IMG:$tag" "docker://$H/$dest" "$@"
}

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
H=127.0.0.1:$LT_PORT
U=http://$H
REG=http://127.0.0.1:$REG_PORT
REALM=$U/ocigate/token
SERVICE=$H
IMG=$T/img

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"

# The people IdP, then the CI IdP (start_idp twice: each run's state is
# copied before the next one replaces $T/idp.json).
start_idp
PEOPLE_ISSUER=$ISSUER PEOPLE_PID=$IDP_PID
cp "$T/idp.json" "$T/people.json"
JOBS='{"job-main":   {"repository": "eblume/blumeops", "ref": "refs/heads/main",    "workflow": "release"},
       "job-fork":   {"repository": "mallory/blumeops", "ref": "refs/heads/main",   "workflow": "release"},
       "job-branch": {"repository": "eblume/blumeops", "ref": "refs/heads/feature", "workflow": "release"}}'
start_idp --job-claims "$JOBS"
CI_ISSUER=$ISSUER CI_PID=$IDP_PID
cp "$T/idp.json" "$T/ci.json"
ok '[ "$PEOPLE_ISSUER" != "$CI_ISSUER" ] && pid_running "$PEOPLE_PID" && pid_running "$CI_PID"' \
    "two IdPs run at once: people at $PEOPLE_ISSUER, CI at $CI_ISSUER"

# jwt STATE CLIENT: an access token from that IdP (client credentials)
jwt() {
    local t
    t=$(sh "$IDP_DIR/token.sh" "$(jq -r .issuer "$T/$1.json")" "$2" \
        "$(jq -r --arg c "$2" '.clients[$c].secret' "$T/$1.json")") || return 1
    secret "$t"
    printf '%s\n' "$t"
}
jwt_claim() { # jwt_claim JWT FIELD: a string as is, anything else as JSON
    python3 -c 'import sys,json,base64
p=sys.argv[1].split(".")[1]
v=json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4))).get(sys.argv[2])
print(v if isinstance(v,str) else json.dumps(v))' "$@" 2>/dev/null
}

"$OCIGATE_BIN" token-key generate > "$T/token.key" 2> "$T/token-key.err" ||
    bail "ocigate token-key generate failed: $(cat "$T/token-key.err")"
secret_file "$T/token.key"

MESSAGE="only main of eblume/blumeops may push"
# write_config FILE PEOPLE-ISSUER: both issuers; the CI one with CEL rules
write_config() {
    jq -n --arg reg "$REG" --arg redis "redis://127.0.0.1:$REDIS_PORT/0" \
          --arg people "$PEOPLE_ISSUER" --arg ci "$CI_ISSUER" --arg msg "$MESSAGE" \
          --arg realm "$REALM" --arg service "$SERVICE" --arg key "$T/token.key" '{
  realm: "ocigate-e2e",
  registry: { url: $reg, timeoutMs: 2000 },
  redis: { url: $redis, prefix: "ocigate-e2e:", timeoutMs: 200 },
  auth: {
    openid: [
      { issuer: $people, audiences: ["registry"], leewaySeconds: 5,
        claimMapping: { username: "preferred_username", groups: "groups" } },
      { issuer: $ci, audiences: ["registry"], leewaySeconds: 5,
        claimMapping: {
          variables: { job: "claims.workflow + \"@\" + claims.ref" },
          validations: [
            { expression: "claims.repository == \"eblume/blumeops\" && claims.ref == \"refs/heads/main\"",
              message: $msg },
            { expression: "vars.job.startsWith(\"release@\")", message: "only the release workflow" } ],
          username: "\"ci\"",
          groups: "[\"artifact-workloads\"]" } } ]
  },
  token: { challenge: "bearer", realm: $realm, service: $service, keyFile: $key, lifetimeSeconds: 300 },
  accessControl: {
    repositories: { "**": { anonymousPolicy: ["read"], defaultPolicy: ["read"],
      policies: [ { groups: ["artifact-workloads"], actions: ["read", "create"] } ] },
      "release/**": { policies: [ { groups: ["artifact-workloads"], actions: ["read", "create"],
        conditions: [ { expression: "req.claims.workflow == \"release\"", message: "release workflow only" } ] } ] },
      "audit/**": { policies: [ { groups: ["artifact-workloads"], actions: ["read", "create"],
        conditions: [ { expression: "req.claims.workflow == \"audit\"", message: "audit workflow only" } ] } ] } },
    adminPolicy: { groups: ["admins"], actions: ["read", "create", "update", "delete"] }
  },
  log: { level: "info", format: "json" }
}' > "$1"
}
write_config "$T/ocigate.json" || bail "jq failed writing ocigate.json"

"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.out" 2>&1
ok $? "ocigate check accepts auth.openid as a list of two issuers with CEL claim rules" ||
    diag "$(cat "$T/check.out")"

like "$(cat "$T/check.out")" "openid issuer $CI_ISSUER: audiences registry; username expression \"ci\"; groups expression \\[\"artifact-workloads\"\\]; 1 variables, 2 validations" \
    "ocigate check shows each issuer, its mappings as claim or expression, its rules"
like "$(cat "$T/check.out")" "openid issuer $PEOPLE_ISSUER: audiences registry; username claim preferred_username; groups claim groups" \
    "ocigate check shows the people issuer's plain claim names"

# a rule that does not compile is refused with its JSON path
jq '.auth.openid[1].claimMapping.validations[0].expression = "claims.ref =="' "$T/ocigate.json" > "$T/bad.json"
"$OCIGATE_BIN" check -c "$T/bad.json" > "$T/bad.out" 2>&1
like "$(cat "$T/bad.out")" 'auth\.openid\[1\]\.claimMapping\.validations\[0\]\.expression: column' \
    "ocigate check refuses a claim rule that does not compile, naming its JSON path"

start_ocigate "$T/ocigate.sock" 1
OG_MASTER=$OCIGATE_PID
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"

# --------------------------------------------------------- the tokens ---

JWT_MAIN=$(jwt ci job-main) && JWT_FORK=$(jwt ci job-fork) && JWT_BRANCH=$(jwt ci job-branch) &&
JWT_ADMIN=$(jwt people admin-bot) || bail "an IdP issued no token: $(tail -n 3 "$T/idp.log")"
while IFS= read -r s; do [ "${#s}" -ge 8 ] && secret "$s"; done < <(
    jq -r '.clients[].secret // empty' "$T/people.json" "$T/ci.json")
ok '[ "$(jwt_claim "$JWT_MAIN" repository)" = eblume/blumeops ] &&
    [ "$(jwt_claim "$JWT_MAIN" ref)" = refs/heads/main ] &&
    [ "$(jwt_claim "$JWT_MAIN" iss)" = "$CI_ISSUER" ] &&
    [ "$(jwt_claim "$JWT_FORK" repository)" = mallory/blumeops ] &&
    [ "$(jwt_claim "$JWT_ADMIN" iss)" = "$PEOPLE_ISSUER" ]' \
    "the CI IdP issues tokens with job claims (repository, ref, workflow), the people IdP its own"

# ------------------------------------------- the CI job of main pushes ---

mark=$(log_mark)
push ci/app:basic --dest-creds "ci:$JWT_MAIN"
ok $? "skopeo --dest-creds ci:\$JWT (main of eblume/blumeops) pushes ci/app:basic" ||
    diag_tail "$T/skopeo.log" 3
ok 'log_since "$mark" | jq -e -R "fromjson? | select(.method==\"PUT\" and (.path|test(\"/manifests/basic\")) and .status==201 and .user==\"ci\")" > /dev/null' \
    "ocigate logged the manifest PUT as user ci (the CEL username)" ||
    { log_since "$mark" > "$T/since.out"; diag_tail "$T/since.out" 3; }

push ci/app:bearer --dest-registry-token "$JWT_MAIN"
ok $? "skopeo --dest-registry-token \$JWT (the job token as Bearer) pushes ci/app:bearer" ||
    diag_tail "$T/skopeo.log" 3

status_is 200 "token endpoint with the job token as password: 200" -u "ci:$JWT_MAIN" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:ci/app:pull,push)"
ok 'jq -e ".token | type == \"string\"" "$T/r.body" > /dev/null && [ "$(jwt_claim "$(jq -r .token "$T/r.body")" access | jq -c "[.[0].actions[]] | sort" 2>/dev/null)" = "[\"pull\",\"push\"]" ]' \
    "the token endpoint grants pull,push on ci/app to the job (group artifact-workloads)" ||
    diag "$(head -c 300 "$T/r.body" | redact)"
OG_TOKEN=$(jq -r '.token // empty' "$T/r.body")
[ -n "$OG_TOKEN" ] && secret "$OG_TOKEN"
push ci/app:viatoken --dest-registry-token "$OG_TOKEN"
ok $? "skopeo pushes ci/app:viatoken with the token ocigate minted for the job" ||
    diag_tail "$T/skopeo.log" 3

# ------------------ accessControl conditions read the job's claims ---

# through the token endpoint too: ocigate's token carries the verified claims
push release/app:1 --dest-creds "ci:$JWT_MAIN"
ok $? "a condition on req.claims.workflow lets the release job push release/app (skopeo --dest-creds: ocigate's token carries the claims)" ||
    { diag_tail "$T/skopeo.log" 2; diag_tail "$T/ocigate.log" 3; }
push release/app:2 --dest-registry-token "$JWT_MAIN"
ok $? "and with the job token as Bearer" || diag_tail "$T/skopeo.log" 2
mark=$(log_mark)
push audit/app:1 --dest-creds "ci:$JWT_MAIN"
rc=$?
ok '[ "$rc" != 0 ] && log_since "$mark" | jq -e -R "fromjson? | select(.status==403 and (.reason|test(\"audit workflow only\")))" > /dev/null' \
    "a condition the job's claims do not meet (workflow audit) refuses its push: 403" ||
    { diag_tail "$T/skopeo.log" 2; log_since "$mark" > "$T/since.out"; diag_tail "$T/since.out" 3; }

# ------------------------------- jobs whose claims fail the validations ---

for job in fork branch; do
    var=JWT_${job^^}
    mark=$(log_mark)
    push "ci/app:$job" --dest-creds "ci:${!var}"
    rc=$?
    ok '[ "$rc" != 0 ] && log_since "$mark" | jq -e -R "fromjson? | select(.status==401 and (.rule==\"credentials\" or .rule==\"token endpoint\"))" > /dev/null' \
        "the job of $(jwt_claim "${!var}" repository) on $(jwt_claim "${!var}" ref) cannot push: 401" ||
        { diag_tail "$T/skopeo.log" 2; log_since "$mark" > "$T/since.out"; diag_tail "$T/since.out" 3; }
    ok 'log_since "$mark" | grep -F "claimMapping.validations[0]: $MESSAGE" > /dev/null' \
        "ocigate's log says which validation refused it: \"$MESSAGE\""
    status_is 401 "GET /v2/ with that token as Bearer: 401" -H "Authorization: Bearer ${!var}" "$U/v2/"
    unlike "$(cat "$T/r.body" "$T/r.hdr")" "blumeops|may push|validations" \
        "the 401 answer does not carry the validation's message"
done
status_is 401 "token endpoint with the fork job's token: 401" -u "ci:$JWT_FORK" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:ci/app:pull,push)"
ok '! log_since 0 | grep -F "\"user\":\"ci\"" | jq -e -R "fromjson? | select(.path|test(\"/manifests/(fork|branch)\")) | select(.status < 300)" > /dev/null' \
    "no manifest of a refused job reached the registry"

# --------------------------------------------- the people issuer too ---

status_is 200 "GET /v2/ with a people token (Bearer): 200" -H "Authorization: Bearer $JWT_ADMIN" "$U/v2/"
mark=$(log_mark)
push ci/app:basic --dest-creds "oidc-admin:$JWT_ADMIN"
ok $? "an admin of the people issuer overwrites ci/app:basic (adminPolicy by its groups claim)" ||
    diag_tail "$T/skopeo.log" 3
ok 'log_since "$mark" | jq -e -R "fromjson? | select(.method==\"PUT\" and .status==201 and .user==\"oidc-admin\")" > /dev/null' \
    "ocigate logged the people token as oidc-admin (plain claim names)"

# ------------------------------------------------------------- health ---

status_is 200 "GET /ocigate/healthz: 200" "$U/ocigate/healthz"
ok 'jq -e --arg p "$PEOPLE_ISSUER" --arg c "$CI_ISSUER" "(.issuers | length == 2) and
     .issuers[0].issuer == \$p and .issuers[1].issuer == \$c and
     (.issuers | all(.jwks_age_seconds >= 0)) and .jwks_age_seconds >= 0" "$T/r.body" > /dev/null' \
    "health lists both issuers, each with the age of its JWKS" || diag "$(head -c 400 "$T/r.body")"

# -------------------------------------- one IdP down, the other works ---

# A fresh worker knows no JWKS yet; the people IdP is stopped first.
stop_pid "$PEOPLE_PID"
ok '! pid_running "$PEOPLE_PID"' "the people IdP is stopped"
before=$(grep -c 'configuration reloaded' "$T/ocigate.log")
old=$(pgrep -P "$OG_MASTER" | tr '\n' ' ')
kill -HUP "$OG_MASTER"
WAIT_PID=$OG_MASTER wait_until 10 sh -c \
    '[ "$(grep -c "configuration reloaded" "$1")" -gt "$2" ]' _ "$T/ocigate.log" "$before"
ok $? "ocigate reloaded (new workers, no JWKS fetched yet)"
for p in $old; do WAIT_PID=$OG_MASTER wait_until 10 sh -c '! kill -0 "$1" 2>/dev/null' _ "$p"; done

status_is 503 "a people token while the people IdP is down: 503 (never allowed)" \
    -H "Authorization: Bearer $JWT_ADMIN" "$U/v2/"
JWT_MAIN2=$(jwt ci job-main) || bail "the CI IdP issued no token"
push ci/app:while-people-down --dest-creds "ci:$JWT_MAIN2"
ok $? "the CI job still pushes (a fresh token, the CI issuer's JWKS fetched now)" ||
    { diag_tail "$T/skopeo.log" 3; diag_tail "$T/ocigate.log" 4; }
status_is 200 "GET /ocigate/healthz: 200" "$U/ocigate/healthz"
ok 'jq -e "(.issuers[0].jwks_age_seconds == -1) and (.issuers[1].jwks_age_seconds >= 0)" "$T/r.body" > /dev/null' \
    "health: the people issuer has no JWKS (-1), the CI issuer has one" || diag "$(head -c 400 "$T/r.body")"
status_is 401 "the fork job is still refused (401, not 503) while the people IdP is down" \
    -H "Authorization: Bearer $JWT_FORK" "$U/v2/"

ok 'curl -sf -o /dev/null -H "Accept: application/vnd.oci.image.manifest.v1+json" "$REG/v2/ci/app/manifests/while-people-down"' \
    "the registry holds what the CI job pushed"

done_testing
