#!/usr/bin/env bash
# least_privilege.sh - tokens and API keys keep least privilege (issue 8,
# parts 4 and 6), through the shipped lighttpd deployment
# (deploy/lighttpd/ocigate-external.conf: "/v2/" authorizer, "/ocigate/"
# responder with the token and API-key endpoints) in front of a real
# docker-registry, with API keys in a real redis-server and htpasswd users:
#
#   - an ocigate token permits at most its access list: a token minted for
#     repository:other:pull cannot push demo/app (skopeo with the token), and
#     the refusal names the scope to ask for (insufficient_scope); a token
#     for demo/app pull,push still pushes, and so do skopeo logins;
#   - only direct credentials create API keys: an ocigate token and an API
#     key get 403;
#   - a key's accessControl.groups are evaluated live: a key made by alice
#     while she was in admins loses adminPolicy when the config (SIGHUP)
#     removes her from admins, and stops working when she leaves htpasswd;
#   - labels with control or bidi/format characters, or too long, are 400;
#     a user's 101st key is refused (auth.apikey.maxPerUser, default 100),
#     and `ocigate key create` keeps the configured limit too;
#   - a 201 "API key created" is logged as an allow.
#
# TAP on stdout; everything started is stopped and $T removed on any exit.

. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd skopeo curl jq python3 htpasswd

# ------------------------------------------------------- local helpers ---

log_mark() { wc -l < "$T/ocigate.log"; }
log_since() { tail -n +"$(($1 + 1))" "$T/ocigate.log"; }
uri_enc() { jq -rn --arg v "$1" '$v|@uri'; }

# token CREDS SCOPE: a token from ocigate's token endpoint
token() {
    local code tok
    code=$(req tok -u "$1" "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc "$2")")
    [ "$code" = 200 ] || { diag "token endpoint: $2: status $code" >&2; return 1; }
    tok=$(jq -r '.token // empty' "$T/tok.body")
    [ -n "$tok" ] && secret "$tok"
    printf '%s\n' "$tok"
}

# registry_has REPO TAG: does the registry itself hold the tag?
registry_has() {
    [ "$(req regcheck -I -H "Accept: application/vnd.oci.image.manifest.v1+json" \
        "$REG/v2/$1/manifests/$2")" = 200 ]
}

# push_token TOKEN LOCALTAG REPO:TAG: skopeo push with a registry token
push_token() {
    mkimage "$IMG" "$2" > /dev/null || return 1
    timeout 60 skopeo --insecure-policy copy --quiet --retry-times 0 --dest-tls-verify=false \
        --dest-registry-token "$1" "oci:$IMG:$2" "docker://$H/$3" > "$T/push.out" 2>&1
}
# push_creds USER:PW LOCALTAG REPO:TAG: skopeo push through the token protocol
push_creds() {
    mkimage "$IMG" "$2" > /dev/null || return 1
    REGISTRY_AUTH_FILE="$T/auth.json" timeout 60 skopeo --insecure-policy copy --quiet \
        --retry-times 0 --dest-tls-verify=false --dest-creds "$1" "oci:$IMG:$2" \
        "docker://$H/$3" > "$T/push.out" 2>&1
}

# new_key NAME CREDS-ARGS... BODY: POST the endpoint; status on stdout, body in $T/NAME.body
new_key() {
    local name=$1 body=${*: -1} k
    set -- "${@:2:$(($# - 2))}"
    code=$(req "$name" -X POST "$@" -H "Content-Type: application/json" \
        --data-binary "$body" "$U/ocigate/apikey")
    k=$(jq -r '.apiKey // empty' "$T/$name.body" 2>/dev/null)
    [ -n "$k" ] && secret "$k"
    echo "$code"
}

key_hash() { printf %s "${1#zak_}" | sha256sum | cut -d' ' -f1; }
rcli() { redis-cli -p "$REDIS_PORT" "$@" 2>/dev/null; }

# the config: alice in admins (ADMINS), ci in artifact-workloads
write_config() { # DEST ADMINS-JSON [EXTRA-JQ]
    jq -n --arg reg "$REG" --arg redis "redis://127.0.0.1:$REDIS_PORT/0" --arg realm "$REALM" \
          --arg service "$SERVICE" --arg key "$T/token.key" --arg htp "$T/htpasswd" \
          --argjson admins "$2" '{
      realm: "ocigate-e2e",
      registry: { url: $reg, timeoutMs: 2000 },
      redis: { url: $redis, prefix: "lp:", timeoutMs: 200 },
      auth: { apikey: { enabled: true, cacheSeconds: 1 }, htpasswd: { path: $htp } },
      token: { challenge: "bearer", realm: $realm, service: $service, keyFile: $key,
               lifetimeSeconds: 300 },
      accessControl: {
        groups: { admins: { users: $admins }, "artifact-workloads": { users: ["ci"] } },
        repositories: { "**": { anonymousPolicy: ["read"], defaultPolicy: ["read"],
          policies: [ { groups: ["artifact-workloads"], actions: ["read", "create"] } ] } },
        adminPolicy: { groups: ["admins"], actions: ["read", "create", "update", "delete"] }
      },
      log: { level: "info", format: "json" }
    }' | jq "${3:-.}" > "$1.tmp" && mv "$1.tmp" "$1"
}

# reload: SIGHUP the master, wait until the new generation answers: the
# master said so, and every worker of the old generation is gone (so any
# request from now on reaches a new one).
old_workers_gone() {
    local p
    for p in "$@"; do pid_running "$p" && return 1; done
    [ -n "$(pgrep -P "$OG_MASTER")" ]
}
reload() {
    local before old
    before=$(grep -c 'configuration reloaded' "$T/ocigate.log")
    old=$(pgrep -P "$OG_MASTER" | tr '\n' ' ')
    kill -HUP "$OG_MASTER"
    WAIT_PID=$OG_MASTER wait_until 10 sh -c \
        '[ "$(grep -c "configuration reloaded" "$1")" -gt "$2" ]' _ "$T/ocigate.log" "$before" ||
        return 1
    # shellcheck disable=SC2086  # one pid a word
    WAIT_PID=$OG_MASTER wait_until 10 old_workers_gone $old
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
make_htpasswd "$T/htpasswd" alice ci bob
"$OCIGATE_BIN" token-key generate > "$T/token.key" 2> "$T/token-key.err" ||
    bail "ocigate token-key generate failed: $(cat "$T/token-key.err")"
secret_file "$T/token.key"
write_config "$T/ocigate.json" '["alice"]' || bail "jq failed writing ocigate.json"
start_ocigate "$T/ocigate.sock" 1
OG_MASTER=$OCIGATE_PID
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"

# ------------------------------------- a token permits at most its access ---

OTHER_TOKEN=$(token "ci:$PASS_ci" "repository:other:pull")
ok '[ -n "$OTHER_TOKEN" ]' "ci gets a token for repository:other:pull"
code=$(req up -X POST -H "Content-Length: 0" -H "Authorization: Bearer $OTHER_TOKEN" \
    "$U/v2/demo/app/blobs/uploads/")
is "$code" 401 "that token starting an upload in demo/app (ci may create there): 401"
like "$(hdr up WWW-Authenticate)" 'scope="repository:demo/app:pull,push",error="insufficient_scope"' \
    "... whose challenge names the scope to ask for (insufficient_scope)"
mark=$(log_mark)
push_token "$OTHER_TOKEN" other-tok demo/app:v1
rc=$?
ok '[ "$rc" != 0 ] && ! registry_has demo/app v1' \
    "skopeo push to demo/app:v1 with the token for repository:other:pull fails; the registry has no demo/app:v1" ||
    { diag "  skopeo: $(tail -n 2 "$T/push.out")"; log_since "$mark" | tail -n 3 | while read -r l; do diag "  $l"; done; }
code=$(req rd -H "Authorization: Bearer $OTHER_TOKEN" "$U/v2/other/tags/list")
ok '[ "$code" != 401 ] && [ "$code" != 403 ]' "the token still reads repository other (registry answered $code)"

APP_TOKEN=$(token "ci:$PASS_ci" "repository:demo/app:pull,push")
ok 'jq -e ".access == [{\"type\":\"repository\",\"name\":\"demo/app\",\"actions\":[\"pull\",\"push\"]}]" >/dev/null <<<"$(python3 -c "import sys,json,base64
p=sys.argv[1].split(\".\")[1]; print(base64.urlsafe_b64decode(p+\"=\"*(-len(p)%4)).decode())" "$APP_TOKEN")"' \
    "a token for demo/app pull,push holds exactly that access"
push_token "$APP_TOKEN" app-tok demo/app:v1
rc=$?
ok '[ "$rc" = 0 ] && registry_has demo/app v1' "skopeo push to demo/app:v1 with that token works" ||
    diag "  skopeo: $(tail -n 2 "$T/push.out")"
push_creds "ci:$PASS_ci" creds demo/app:v2
rc=$?
ok '[ "$rc" = 0 ] && registry_has demo/app v2' "skopeo push with ci's password (token protocol) works" ||
    diag "  skopeo: $(tail -n 2 "$T/push.out")"
push_token "$APP_TOKEN" over demo/app:v1
rc=$?
ok '[ "$rc" != 0 ]' "the token cannot overwrite demo/app:v1 (the live policy: ci has no update)"
code=$(req cat -H "Authorization: Bearer $APP_TOKEN" "$U/v2/_catalog")
is "$code" 401 "the token lists no catalog without registry:catalog:*"
CAT_TOKEN=$(token "ci:$PASS_ci" "registry:catalog:*")
code=$(req cat2 -H "Authorization: Bearer $CAT_TOKEN" "$U/v2/_catalog")
ok '[ "$code" = 200 ] && jq -e ".repositories | index(\"demo/app\")" "$T/cat2.body" >/dev/null' \
    "a token for registry:catalog:* lists the (filtered) catalog" || diag "  $code: $(head -c 200 "$T/cat2.body")"

# -------------------------------- only direct credentials create API keys ---

ALICE_TOKEN=$(token "alice:$PASS_alice" "repository:demo/app:pull")
code=$(new_key bytoken -H "Authorization: Bearer $ALICE_TOKEN" '{"label":"from-a-token"}')
is "$code" 403 "POST /ocigate/apikey with an ocigate pull token: 403"
ok '! jq -e .apiKey "$T/bytoken.body" >/dev/null 2>&1' "... and no key in the answer"
code=$(req lst -H "Authorization: Bearer $ALICE_TOKEN" "$U/ocigate/apikey")
is "$code" 403 "GET /ocigate/apikey (list) with an ocigate token: 403"

mark=$(log_mark)
code=$(new_key alice1 -u "alice:$PASS_alice" '{"label":"alice admin key"}')
is "$code" 201 "POST /ocigate/apikey with alice's password: 201"
ALICE_KEY=$(jq -r '.apiKey // empty' "$T/alice1.body")
ok 'log_since "$mark" | jq -e -R "fromjson? | select(.path==\"/ocigate/apikey\" and .status==201 and .decision==\"allow\")" >/dev/null' \
    "the 201 is logged as an allow" || diag "  $(log_since "$mark" | tail -n 1)"
code=$(new_key bykey -u "alice:$ALICE_KEY" '{"label":"from-a-key"}')
is "$code" 403 "POST /ocigate/apikey with an API key: 403"
KEY_TOKEN=$(token "alice:$ALICE_KEY" "repository:demo/app:pull")
code=$(new_key bykeytoken -H "Authorization: Bearer $KEY_TOKEN" '{"label":"from-a-key-token"}')
is "$code" 403 "POST /ocigate/apikey with a token minted from an API key: 403"

# ------------------------------------ a key's config groups are live ---

HASH=$(key_hash "$ALICE_KEY")
is "$(rcli HGET "lp:key:$HASH" groups)" "[]" "alice's key stores no config group (admins is evaluated live)"
is "$(rcli HGET "lp:key:$HASH" origin)" "htpasswd" "... and says it was made by an htpasswd user"
NOPE=sha256:$(printf '0%.0s' $(seq 1 64))
code=$(req del1 -X DELETE -u "alice:$ALICE_KEY" "$U/v2/demo/app/manifests/$NOPE")
ok '[ "$code" != 403 ] && [ "$code" != 401 ]' "alice's key may delete while alice is in admins (registry answered $code)"
write_config "$T/ocigate.json" '["bob"]' && reload
ok $? "config without alice in admins reloaded (SIGHUP)"
code=$(req del2 -X DELETE -u "alice:$ALICE_KEY" "$U/v2/demo/app/manifests/$NOPE")
is "$code" 403 "after alice left admins her key's DELETE is 403 (adminPolicy is gone)"
code=$(req v2a -u "alice:$ALICE_KEY" "$U/v2/")
is "$code" 200 "the key still works for what alice may do"
htpasswd -D "$T/htpasswd" alice > /dev/null 2>&1 && reload
ok $? "alice removed from htpasswd and reloaded (SIGHUP)"
code=$(req v2b -u "alice:$ALICE_KEY" "$U/v2/")
is "$code" 401 "alice's key stops working when she leaves htpasswd"
code=$(req v2c -H "Authorization: Bearer $ALICE_KEY" "$U/v2/demo/app/tags/list")
is "$code" 401 "... as a Bearer key too"
code=$(req tokdead -u "alice:$ALICE_KEY" "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:demo/app:pull)")
is "$code" 401 "... and it mints no token"

# ------------------------------------------------------------ labels ---

code=$(new_key lbl1 -u "bob:$PASS_bob" '{"label":"evil\u202egpj.exe"}')
is "$code" 400 "a label with U+202E (right-to-left override): 400"
code=$(new_key lbl2 -u "bob:$PASS_bob" '{"label":"a\u200bb"}')
is "$code" 400 "a label with U+200B (zero width space): 400"
code=$(new_key lbl3 -u "bob:$PASS_bob" '{"label":"bell\u0007"}')
is "$code" 400 "a label with a control character: 400"
code=$(new_key lbl4 -u "bob:$PASS_bob" "{\"label\":\"$(printf 'x%.0s' $(seq 1 300))\"}")
is "$code" 400 "a label of 300 bytes: 400 (not 503)"
like "$(cat "$T/lbl4.body")" '"code":"UNSUPPORTED".*label' "... with an OCI error body naming the label"
code=$(new_key lbl5 -u "bob:$PASS_bob" '{"label":"d\u00e9ploiement \u2713"}')
is "$code" 201 "a plain UTF-8 label: 201"

# ---------------------------------------------------- per-user limit ---

n201=1
for i in $(seq 2 100); do
    code=$(new_key lim -u "bob:$PASS_bob" "{\"label\":\"k$i\"}")
    [ "$code" = 201 ] && n201=$((n201 + 1))
done
is "$n201" 100 "bob creates 100 keys (auth.apikey.maxPerUser defaults to 100)"
code=$(new_key lim101 -u "bob:$PASS_bob" '{"label":"one too many"}')
is "$code" 403 "bob's 101st key: 403"
like "$(cat "$T/lim101.body")" '"code":"DENIED".*limit of 100 API keys per user.*maxPerUser' \
    "... with an OCI error body saying the limit"
ok '[ "$(rcli SCARD lp:user:bob:keys)" = 100 ]' "Redis holds 100 keys of bob"

write_config "$T/limit.json" '["bob"]' '.auth.apikey.maxPerUser = 2'
k1= k2= k3=
k1=$("$OCIGATE_BIN" key create -c "$T/limit.json" --user carol --label one 2> "$T/cli1.err") &&
k2=$("$OCIGATE_BIN" key create -c "$T/limit.json" --user carol --label two 2> "$T/cli2.err")
ok $? "ocigate key create with maxPerUser 2: two keys for carol" || diag "$(cat "$T/cli1.err" "$T/cli2.err")"
[ -n "$k1" ] && secret "$k1"; [ -n "$k2" ] && secret "$k2"
k3=$("$OCIGATE_BIN" key create -c "$T/limit.json" --user carol --label three 2> "$T/cli3.err")
rc=$?
ok '[ "$rc" = 1 ] && [ -z "$k3" ] && grep -q "maxPerUser is 2" "$T/cli3.err"' \
    "the third: exit 1, no key, the limit named" || diag "  rc=$rc: $(cat "$T/cli3.err")"
"$OCIGATE_BIN" key list -c "$T/limit.json" --user carol --json > "$T/cli.json" 2>&1
is "$(jq -r '[.[].origin] | unique | join(",")' "$T/cli.json" 2>/dev/null)" "cli" \
    "keys made on the command line say origin cli"
"$OCIGATE_BIN" key create -c "$T/ocigate.json" --user dave --label $'evil\xe2\x80\xae' > /dev/null 2> "$T/cli4.err"
rc=$?
ok '[ "$rc" = 2 ] && grep -q "label" "$T/cli4.err"' "ocigate key create refuses a label with U+202E (exit 2, the label named)"

done_testing
