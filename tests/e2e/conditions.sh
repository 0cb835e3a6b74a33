#!/usr/bin/env bash
# conditions.sh - accessControl conditions (zot's CEL) end to end, basic mode:
# curl/skopeo -> lighttpd (deploy/lighttpd/ocigate-external.conf) ->
# ocigate serve -> docker-registry.
#
#   - the per-user namespace: an entry for group people whose condition is
#     req.repository.startsWith("users/" + req.user.username + "/") lets
#     alice push to users/alice/... and refuses her users/bob/... with 403,
#     the condition's message as the OCI error's detail.reason (as zot
#     answers) and in its message; the registry never sees the refused PUT;
#   - a condition narrows, never widens: bob cannot read users/alice/...;
#   - req.userAgent comes from the request: a docker/ user agent passes a
#     condition that curl's fails;
#   - req.claims are an OpenID token's verified claims (tests/idp): a ci-bot
#     token carrying the artifact-workloads group starts an upload, a
#     plain-bot token without it is refused with the condition's message;
#   - `ocigate check` prints the conditions; `ocigate explain` gives the
#     answer the server gave, naming the condition and its message.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

. "$(dirname "$0")/lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd python3 node

OCI_MT=application/vnd.oci.image.manifest.v1+json
MSG='push only to your own namespace users/<you>/'

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" alice bob
# The IdP (node oidc-provider, tests/idp): `npm ci` there once, or here in
# a copy when the source tree is read-only (distcheck).
IDP_SRC=$OCIGATE_SRCDIR/tests/idp
IDP_DIR=$IDP_SRC
if [ ! -d "$IDP_SRC/node_modules/oidc-provider" ]; then
    if [ ! -w "$IDP_SRC" ]; then
        IDP_DIR=$T/idp
        mkdir -p "$IDP_DIR"
        cp "$IDP_SRC/package.json" "$IDP_SRC/package-lock.json" "$IDP_SRC/server.mjs" "$IDP_DIR/"
    fi
    (cd "$IDP_DIR" && timeout 240 npm ci --no-audit --no-fund --loglevel=error) > "$T/npm.out" 2>&1 ||
        bail "npm ci in $IDP_DIR failed: $(tail -n 3 "$T/npm.out")"
fi
node "$IDP_DIR/server.mjs" --port 0 --state "$T/idp.json" --log "$T/idp.log" > "$T/idp.out" 2>&1 &
IDP_PID=$!
register_pid "$IDP_PID"
WAIT_PID=$IDP_PID wait_until 20 test -s "$T/idp.json" || bail "the IdP did not start: $(tail -n 3 "$T/idp.out")"
ISSUER=$(jq -r .issuer "$T/idp.json")
jwt() {
    sh "$IDP_SRC/token.sh" "$ISSUER" "$1" "$(jq -r --arg c "$1" '.clients[$c].secret' "$T/idp.json")"
}
while IFS= read -r s; do [ "${#s}" -ge 8 ] && secret "$s"; done < <(jq -r '.clients[].secret // empty' "$T/idp.json")

CONF=$T/ocigate.json
test_config "$CONF" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" '
  .accessControl.groups.people = {"users": ["alice", "bob"]}
  | .accessControl.repositories["users/**"] = {"policies": [{"groups": ["people"],
      "actions": ["read", "create", "update"],
      "conditions": [{"expression": "req.repository.startsWith(\"users/\" + req.user.username + \"/\")",
                      "message": "push only to your own namespace users/<you>/"}]}]}
  | .accessControl.repositories["ua/**"] = {"policies": [{"users": ["alice"], "actions": ["read"],
      "conditions": [{"expression": "req.userAgent.startsWith(\"docker/\")",
                      "message": "docker clients only"}]}]}
  | .accessControl.repositories["ci/**"] = {"policies": [{"users": ["ci-bot", "plain-bot"],
      "actions": ["read", "create"],
      "conditions": [{"expression": "\"artifact-workloads\" in req.claims.groups && req.claims.preferred_username == req.user.username",
                      "message": "the token must carry the artifact-workloads group"}]}]}
'
jq --arg issuer "$ISSUER" '.auth.openid = {"issuer": $issuer, "audiences": ["registry"],
      "claimMapping": {"username": "preferred_username", "groups": "groups"}, "leewaySeconds": 5}' \
    "$CONF" > "$CONF.tmp" && mv "$CONF.tmp" "$CONF" || bail "jq failed adding auth.openid"

"$OCIGATE_BIN" check -c "$CONF" > "$T/check.out" 2>&1
ok $? "ocigate check accepts a config with conditions" || diag "$(cat "$T/check.out")"
like "$(cat "$T/check.out")" 'conditions\[0\]: "req.repository.startsWith' \
    "ocigate check prints each condition"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate "$T/ocigate.sock" 2
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
H=127.0.0.1:$LT_PORT
ALICE="alice:$PASS_alice"
BOB="bob:$PASS_bob"

D=$(mkimage "$T/img" v1 --content "conditions $RANDOM") || bail "mkimage failed"
MF=$T/img/blobs/sha256/${D#sha256:}

# ------------------------------------------------- the per-user namespace ---

skopeo_copy "oci:$T/img:v1" "docker://$H/users/alice/app:v1" --dest-creds "$ALICE"
ok $? "alice pushes users/alice/app:v1 (skopeo, through lighttpd)" || diag "$(tail -n 5 "$T/skopeo.log")"

skopeo_copy "oci:$T/img:v1" "docker://$H/users/bob/app:v1" --dest-creds "$ALICE"
rc=$?
[ "$rc" != 0 ]
ok $? "alice's skopeo push to users/bob/app:v1 fails"
like "$(tail -n 5 "$T/skopeo.log")" "denied|403|DENIED" "skopeo reports the refusal"

code=$(req bobput -u "$ALICE" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$MF" \
       "$U/v2/users/bob/app/manifests/v1")
is "$code" 403 "alice's manifest PUT to users/bob/app:v1 is 403"
is "$(jq -r '.errors[0].code' "$T/bobput.body")" DENIED "its OCI error code is DENIED"
is "$(jq -r '.errors[0].detail.reason' "$T/bobput.body")" "$MSG" \
    "detail.reason is the condition's message (as zot answers)" || diag "$(body bobput)"
like "$(jq -r '.errors[0].message' "$T/bobput.body")" "users/<you>/" \
    "the error message says it in words, with the condition's message"

code=$(req bobpost -u "$ALICE" -X POST -H 'Content-Length: 0' "$U/v2/users/bob/app/blobs/uploads/")
is "$code" 403 "alice may not even start a blob upload in users/bob/"

code=$(req alicehead -u "$ALICE" -I -H "Accept: $OCI_MT" "$U/v2/users/alice/app/manifests/v1")
is "$code" 200 "alice reads her own image back"
code=$(req bobread -u "$BOB" -I -H "Accept: $OCI_MT" "$U/v2/users/alice/app/manifests/v1")
is "$code" 403 "bob may not read users/alice/ (conditions narrow read too)"
code=$(req anonread -I -H "Accept: $OCI_MT" "$U/v2/users/alice/app/manifests/v1")
is "$code" 401 "anonymous clients get no grant from the conditional entry (401)"

registry_log_settled "$REG_PORT" || true
is "$(grep -cE 'PUT /v2/users/bob/' "$T/registry.log" || true)" 0 \
    "the registry never saw a PUT to users/bob/"

n=$(grep -F '"path":"/v2/users/bob/app/manifests/v1"' "$T/ocigate.log" \
    | grep -cF '"condition":"accessControl.repositories[\"users/**\"].policies[0].conditions[0]"' || true)
ok '[ "$n" -ge 1 ]' "the decision log names the condition that refused the PUT" \
    || diag "$(grep -F 'users/bob' "$T/ocigate.log" | head -n 2)"

# ------------------------------------------------------------ user agent ---

code=$(req uadocker -u "$ALICE" -A "docker/24.0.7 go/go1.20" -I "$U/v2/ua/x/manifests/v1")
is "$code" 404 "a docker/ user agent passes req.userAgent.startsWith(\"docker/\") (the registry answers 404)"
code=$(req uacurl -u "$ALICE" -A "curl/8.0" -I "$U/v2/ua/x/manifests/v1")
is "$code" 403 "curl's user agent does not"

# ----------------------------------------------- OpenID token claims ---

JWT_CI=$(jwt ci-bot) && JWT_PLAIN=$(jwt plain-bot) || bail "the IdP issued no token: $(tail -n 3 "$T/idp.log")"
secret "$JWT_CI" "$JWT_PLAIN"
code=$(req cibot -H "Authorization: Bearer $JWT_CI" -X POST -H 'Content-Length: 0' "$U/v2/ci/app/blobs/uploads/")
is "$code" 202 "a ci-bot token whose claims carry artifact-workloads starts an upload in ci/" \
    || diag "$(body cibot)"
code=$(req plainbot -H "Authorization: Bearer $JWT_PLAIN" -X POST -H 'Content-Length: 0' \
       "$U/v2/ci/app/blobs/uploads/")
is "$code" 403 "a plain-bot token without that group in its claims is refused"
is "$(jq -r '.errors[0].detail.reason' "$T/plainbot.body")" \
    "the token must carry the artifact-workloads group" "with the condition's message" \
    || diag "$(body plainbot)"
"$OCIGATE_BIN" explain -c "$CONF" --user plain-bot --claim preferred_username=plain-bot \
    --claim 'groups=[]' POST /v2/ci/app/blobs/uploads/ > "$T/explain4.out" 2>&1
is "$?" 1 "explain --claim groups=[] agrees: deny"
"$OCIGATE_BIN" explain -c "$CONF" --user ci-bot --claim preferred_username=ci-bot \
    --claim 'groups=["artifact-workloads"]' POST /v2/ci/app/blobs/uploads/ > "$T/explain5.out" 2>&1
is "$?" 0 "explain --claim groups=[\"artifact-workloads\"] agrees: allow"

# ------------------------------------------------------ explain agrees ---

"$OCIGATE_BIN" explain -c "$CONF" --user alice PUT /v2/users/bob/app/manifests/v1 > "$T/explain1.out" 2>&1
is "$?" 1 "explain: alice PUT users/bob/app:v1 is a deny"
like "$(cat "$T/explain1.out")" '^deny 403' "explain says deny 403, as the server did"
like "$(cat "$T/explain1.out")" 'condition: accessControl.repositories\["users/\*\*"\].policies\[0\].conditions\[0\]' \
    "explain names the condition that decided"
like "$(cat "$T/explain1.out")" "condition message: push only to your own namespace" \
    "explain gives its message"
"$OCIGATE_BIN" explain -c "$CONF" --user alice --user-agent docker/24.0.7 HEAD /v2/ua/x/manifests/v1 \
    > "$T/explain2.out" 2>&1
is "$?" 0 "explain --user-agent docker/24.0.7: allow, as the server did"
"$OCIGATE_BIN" explain -c "$CONF" --user alice --user-agent curl/8.0 HEAD /v2/ua/x/manifests/v1 \
    > "$T/explain3.out" 2>&1
is "$?" 1 "explain --user-agent curl/8.0: deny, as the server did"

done_testing
