#!/usr/bin/env bash
# bearer_clients.sh - the registry token protocol (doc/http.md, default bearer
# mode) with real clients: podman and skopeo -> lighttpd (the shipped
# deploy/lighttpd/ocigate-external.conf: "/v2/" authorizer, "/ocigate/"
# responder with the token and API-key endpoints, mod_proxy) -> ocigate serve
# -> docker-registry, API keys in a real redis-server, OIDC JWTs from a real
# OpenID provider (tests/idp: node oidc-provider, client credentials grant).
#
#   anyone pulls (skopeo, podman); an API key of artifact-workloads pushes new
#   tags but neither overwrites nor deletes; an OIDC JWT of admins overwrites;
#   expired, revoked, wrong-audience and out-of-scope credentials are refused;
#   with Redis stopped anonymous pulls and fresh cached keys keep working and
#   everything else that needs Redis is 503, and service resumes when it is
#   back.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir). ocigate runs with one worker so
# that "a fresh cache entry" (Redis down) is the cache of the worker that
# answers every request.

if [ "${OCIGATE_E2E:-0}" != 1 ]; then
    echo "1..0 # SKIP set OCIGATE_E2E=1"
    exit 0
fi

# podman is not in every package list yet: install it when we can.
if ! command -v podman >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "# installing podman"
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq podman >/dev/null 2>&1 ||
        { timeout 120 apt-get update -qq >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq podman >/dev/null 2>&1; }
fi

. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd skopeo podman curl jq python3 node npm

# ------------------------------------------------------- local helpers ---

# redact: no API key or JWT in what this script prints
redact() { sed -e 's/zak_[0-9a-f]\{6,\}/zak_<redacted>/g' -e 's/ey[A-Za-z0-9_-]\{16,\}\.[A-Za-z0-9_.-]*/<jwt>/g'; }
diag_tail() { [ -s "$1" ] && diag "$(tail -n "${2:-6}" "$1" | cut -c1-400 | redact)"; return 0; }

# log_mark / log_since MARK: ocigate's decision log lines written after MARK
# (ocigate logs each decision at once; lighttpd buffers its access log).
log_mark() { wc -l < "$T/ocigate.log"; }
log_since() { tail -n +"$(($1 + 1))" "$T/ocigate.log"; }

# status_is WANT NAME CURL-ARGS...: one request; pass when its status is WANT.
# On failure: the request, the answer and ocigate's decision for it.
status_is() {
    local want=$1 name=$2 got mark
    shift 2
    mark=$(log_mark)
    got=$(req r "$@")
    if ! is "$got" "$want" "$name"; then
        diag "  request: curl $(printf '%s ' "$@" | redact)"
        diag_tail "$T/r.hdr" 10
        diag_tail "$T/r.body" 3
        log_since "$mark" > "$T/since.out"
        diag "  ocigate logged:"; diag_tail "$T/since.out" 4
        return 1
    fi
}

# Podman and skopeo with private state: storage (vfs) and run root in $T,
# their own registries.conf/containers.conf, an auth file in $T, HOME in $T
# (no ~/.docker/config.json creds). REGISTRY_AUTH_FILE only in their
# environment: docker-registry reads REGISTRY_* variables as config.
setup_clients() {
    mkdir -p "$T/home" "$T/podman/tmp" "$T/tmp"
    cat > "$T/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
location = "$H"
insecure = true
EOF
    cat > "$T/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/podman/events"
tmp_dir = "$T/podman/tmp"
EOF
    cat > "$T/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$T/podman/run"
graphroot = "$T/podman/storage"
EOF
    echo '{ "default": [ { "type": "insecureAcceptAnything" } ] }' > "$T/policy.json"
    CLIENT_ENV=(env HOME="$T/home" TMPDIR="$T/tmp" REGISTRY_AUTH_FILE="$T/auth.json"
                CONTAINERS_REGISTRIES_CONF="$T/registries.conf"
                CONTAINERS_CONF="$T/containers.conf" CONTAINERS_STORAGE_CONF="$T/storage.conf")
}
pm() {
    "${CLIENT_ENV[@]}" timeout 120 podman --root "$T/podman/storage" --runroot "$T/podman/run" \
        --storage-driver vfs "$@"
}
pm_login() { printf '%s\n' "$2" | pm login --tls-verify=false -u "$1" --password-stdin "$H"; }
sk() { "${CLIENT_ENV[@]}" timeout 120 skopeo --policy "$T/policy.json" "$@"; }

# push_as CREDS LOCALTAG REPO:TAG: skopeo push of a new image (random layer)
push_as() {
    mkimage "$IMG" "$2" > /dev/null || return 1
    sk copy --quiet --retry-times 0 --dest-tls-verify=false --dest-creds "$1" \
        "oci:$IMG:$2" "docker://$H/$3"
}
# pull_anon REPO:TAG: anonymous skopeo pull into an OCI layout
pull_anon() {
    sk copy --quiet --retry-times 0 --src-tls-verify=false --src-no-creds \
        "docker://$H/$1" "oci:$T/pulled:${1#*:}"
}
# manifest_file LOCALTAG: the manifest blob of LOCALTAG in $IMG
manifest_file() {
    local d
    d=$(jq -r --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$IMG/index.json")
    echo "$IMG/blobs/sha256/${d#sha256:}"
}
# registry_digest REPO TAG: the digest the registry itself holds, or its status
registry_digest() {
    local code
    code=$(req regdigest -I -H "Accept: application/vnd.oci.image.manifest.v1+json" \
        -H "Accept: application/vnd.docker.distribution.manifest.v2+json" "$REG/v2/$1/manifests/$2")
    if [ "$code" = 200 ]; then hdr regdigest Docker-Content-Digest; else echo "$code"; fi
}

# client_ok NAME CMD...: a client run that must succeed
client_ok() {
    local name=$1 mark
    shift
    mark=$(log_mark)
    "$@" > "$T/client.out" 2>&1
    if ! ok $? "$name"; then
        diag "  client said: $(grep -v '^[[:space:]]*$' "$T/client.out" | tail -n 2 | cut -c1-400 | redact)"
        log_since "$mark" | grep -v '"decision":"allow"' > "$T/since.out"
        diag "  ocigate denials:"; diag_tail "$T/since.out" 4
    fi
}
# client_refused NAME JQCOND CMD...: a client run that must fail, with a
# decision in ocigate's log (while CMD ran) for which the jq condition holds,
# e.g. '.method=="PUT" and .status==403' (so the failure is the refusal).
client_refused() {
    local name=$1 cond=$2 mark rc
    shift 2
    mark=$(log_mark)
    "$@" > "$T/client.out" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then
        ok 1 "$name"
        diag "  the client succeeded"
        log_since "$mark" | grep -E '"method":"(PUT|POST|PATCH|DELETE)"' > "$T/since.out"
        diag "  ocigate allowed:"; diag_tail "$T/since.out" 4
    elif log_since "$mark" | jq -e -R "fromjson? | select($cond)" > /dev/null 2>&1; then
        ok 0 "$name"
        diag "  client said: $(grep -v '^[[:space:]]*$' "$T/client.out" | tail -n 1 | cut -c1-300 | redact)"
    else
        ok 1 "$name"
        diag "  the client failed, but ocigate logged no decision with $cond"
        diag "  client said: $(grep -v '^[[:space:]]*$' "$T/client.out" | tail -n 2 | cut -c1-400 | redact)"
        log_since "$mark" > "$T/since.out"; diag_tail "$T/since.out" 4
    fi
}

# uri_enc: upper-case %XX, as Go clients write it. (curl's --data-urlencode
# writes lower case; lighttpd normalises that and sends REDIRECT_URI, which
# ocigate currently answers with 400 even on the token endpoint.)
uri_enc() { jq -rn --arg v "$1" '$v|@uri'; }
# token CREDS SCOPE [ACCOUNT]: a token from ocigate's token endpoint
# (CREDS "" = anonymous); empty output and a diag on failure
token() {
    local a=() q code
    [ -n "$1" ] && a=(-u "$1")
    q="service=$(uri_enc "$SERVICE")&scope=$(uri_enc "$2")"
    [ -n "${3:-}" ] && q="account=$(uri_enc "$3")&$q"
    code=$(req tok "${a[@]}" "$REALM?$q")
    if [ "$code" != 200 ]; then
        diag "token endpoint: GET ?$q: status $code" >&2
        return 1
    fi
    local tok
    tok=$(jq -r '.token // empty' "$T/tok.body")
    [ -n "$tok" ] && secret "$tok"
    printf '%s\n' "$tok"
}

jwt_part() { # jwt_part JWT 0|1 FIELD: a field of the header (0) or payload (1)
    python3 -c 'import sys,json,base64
p=sys.argv[1].split(".")[int(sys.argv[2])]
print(json.dumps(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4))).get(sys.argv[3])))' "$@" 2>/dev/null
}

# Redis whose data survives a stop and start (API keys live there): AOF,
# fsync always. lib.sh's start_redis keeps nothing.
start_redis_persistent() {
    mkdir -p "$T/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T/redis" --save '' \
        --appendonly yes --appendfsync always --daemonize no --logfile "" >> "$T/redis.log" 2>&1 &
    REDIS_PID=$!
    register_pid "$REDIS_PID"
    WAIT_PID=$REDIS_PID wait_until 10 redis-cli -p "$REDIS_PORT" ping
}

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
H=127.0.0.1:$LT_PORT
U=http://$H
REG=http://127.0.0.1:$REG_PORT
REALM=$U/ocigate/token
SERVICE=$H
IMG=$T/img

start_redis_persistent || bail "redis-server did not start"
start_registry "$REG_PORT"

# The IdP: CI runs `npm ci` in tests/idp; otherwise do it here (in a copy
# when the source tree is read-only, as under distcheck).
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
# jwt CLIENT [RESOURCE]: an access token from the IdP (tests/idp/server.mjs
# lists the resources: registry, registry-typjwt, registry-es256, other)
jwt() {
    sh "$IDP_SRC/token.sh" "$ISSUER" "$1" "$(jq -r --arg c "$1" '.clients[$c].secret' "$T/idp.json")" "${2:-}"
}

"$OCIGATE_BIN" token-key generate > "$T/token.key" 2> "$T/token-key.err" ||
    bail "ocigate token-key generate failed: $(cat "$T/token-key.err")"
secret_file "$T/token.key"
# The three tiers; "team-a/**" repeats them so that a key scoped to team-a/**
# meets a pattern of its own in team-a and "**" in team-b.
tiers='{ "anonymousPolicy": ["read"], "defaultPolicy": ["read"],
         "policies": [ { "groups": ["artifact-workloads"], "actions": ["read", "create"] } ] }'
jq -n --arg reg "$REG" --arg redis "redis://127.0.0.1:$REDIS_PORT/0" --arg issuer "$ISSUER" \
      --arg realm "$REALM" --arg service "$SERVICE" --arg key "$T/token.key" --argjson tiers "$tiers" '{
  realm: "ocigate-e2e",
  registry: { url: $reg, timeoutMs: 2000 },
  redis: { url: $redis, prefix: "ocigate-e2e:", timeoutMs: 200 },
  auth: {
    apikey: { enabled: true, cacheSeconds: 2 },
    openid: { issuer: $issuer, audiences: ["registry"],
              claimMapping: { username: "preferred_username", groups: "groups" },
              leewaySeconds: 5 }
  },
  token: { challenge: "bearer", realm: $realm, service: $service, keyFile: $key, lifetimeSeconds: 300 },
  accessControl: {
    repositories: { "**": $tiers, "team-a/**": $tiers },
    adminPolicy: { groups: ["admins"], actions: ["read", "create", "update", "delete"] }
  },
  log: { level: "info", format: "json" }
}' > "$T/ocigate.json" || bail "jq failed writing ocigate.json"

"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.out" 2>&1
ok $? "ocigate check accepts the bearer-mode config" || diag "$(cat "$T/check.out")"

start_ocigate "$T/ocigate.sock" 1
OG_MASTER=$OCIGATE_PID
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
setup_clients

# ------------------------------------------------- tokens and API keys ---

JWT_ADMIN=$(jwt admin-bot) && JWT_CI=$(jwt ci-bot) && JWT_CI_TYP=$(jwt ci-bot registry-typjwt) &&
JWT_CI_ES=$(jwt ci-bot registry-es256) && JWT_PLAIN=$(jwt plain-bot) &&
JWT_OTHER=$(jwt admin-bot other) || bail "the IdP issued no token: $(tail -n 3 "$T/idp.log")"
secret "$JWT_ADMIN" "$JWT_CI" "$JWT_CI_TYP" "$JWT_CI_ES" "$JWT_PLAIN" "$JWT_OTHER"
# the IdP's client secrets (the clients' passwords at the token endpoint)
while IFS= read -r s; do [ "${#s}" -ge 8 ] && secret "$s"; done < <(jq -r '.clients[].secret // empty' "$T/idp.json")
ok '[ "$(jwt_part "$JWT_CI" 0 typ)" = "\"at+jwt\"" ] && [ "$(jwt_part "$JWT_CI_TYP" 0 typ)" = "\"JWT\"" ] &&
    [ "$(jwt_part "$JWT_CI_ES" 0 alg)" = "\"ES256\"" ] && [ "$(jwt_part "$JWT_OTHER" 1 aud)" = "\"other\"" ] &&
    [ "$(jwt_part "$JWT_ADMIN" 1 groups)" = "[\"admins\"]" ]' \
    "the IdP at $ISSUER issues at+jwt, typ JWT, ES256 and aud \"other\" tokens"

# new_key VAR ARGS...: `ocigate key create` prints the key alone on stdout
new_key() {
    local var=$1 k
    shift
    k=$("$OCIGATE_BIN" key create -c "$T/ocigate.json" "$@" 2>> "$T/keys.err")
    [[ $k =~ ^zak_[0-9a-f]{32}$ ]] || return 1
    secret "$k"
    printf -v "$var" '%s' "$k"
}
KEY= KEY_EXP= KEY_REV= KEY_TEAM= KEY_FRESH= KEY_COLD=
EXP_AT=$(($(date +%s) + 8))
EXP_RFC=$(date -u -d "@$EXP_AT" +%Y-%m-%dT%H:%M:%SZ)
new_key KEY --user ci --group artifact-workloads --label e2e-ci &&
new_key KEY_EXP --user ci-exp --group artifact-workloads --expires "$EXP_RFC" --label e2e-exp &&
new_key KEY_REV --user ci-rev --group artifact-workloads --label e2e-rev &&
new_key KEY_TEAM --user ci-team --group artifact-workloads --repo 'team-a/**' --label e2e-team &&
new_key KEY_FRESH --user ci-fresh --group artifact-workloads --label e2e-fresh &&
new_key KEY_COLD --user ci-cold --group artifact-workloads --label e2e-cold
ok $? "ocigate key create prints zak_ keys (one expiring at $EXP_RFC, one scoped to team-a/**)" ||
    { diag_tail "$T/keys.err" 4; diag "every API-key check below fails too"; }

# ---------------------------------------- the challenge, the token endpoint ---

status_is 401 "GET /v2/ without credentials: 401" "$U/v2/"
is "$(hdr r WWW-Authenticate)" "Bearer realm=\"$REALM\",service=\"$SERVICE\"" \
    "GET /v2/ without credentials: Bearer challenge with the token realm and service"
status_is 401 "GET /v2/ with a wrong API key: 401 (never 403 on /v2/)" -u "ci:zak_00000000000000000000000000000000" "$U/v2/"

code=$(req anontok "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull)")
is "$code" 200 "anonymous token request: 200"
ok 'jq -e "(.token|type==\"string\" and length>0) and (.access_token|type==\"string\" and length>0)
     and (.expires_in|type==\"number\" and . > 0) and (.issued_at|type==\"string\")" "$T/anontok.body" > /dev/null' \
    "anonymous token response has token, access_token, expires_in, issued_at" ||
    diag "$(head -c 300 "$T/anontok.body")"
ANON_TOKEN=$(jq -r '.token // empty' "$T/anontok.body" 2>/dev/null)
[ -n "$ANON_TOKEN" ] && secret "$ANON_TOKEN"
status_is 200 "GET /v2/ with the anonymous ocigate token: 200" -H "Authorization: Bearer $ANON_TOKEN" "$U/v2/"
status_is 401 "token endpoint with a wrong API key: 401" -u "ci:zak_00000000000000000000000000000000" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull,push)"
status_is 200 "token endpoint with the key whose expiry is ahead: 200" -u "ci-exp:$KEY_EXP" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull)"

# --------------------------------------- an admin pushes, anyone pulls ---

client_ok "skopeo push as an OIDC admin (creds anything:\$JWT) creates pub/app:v1" \
    push_as "anything:$JWT_ADMIN" v1 pub/app:v1
V1_DIGEST=$(registry_digest pub/app v1)
like "$V1_DIGEST" '^sha256:' "pub/app:v1 is in the registry"
client_ok "anonymous skopeo pull of pub/app:v1" pull_anon pub/app:v1
client_ok "anonymous podman pull of pub/app:v1" pm pull --quiet --tls-verify=false "$H/pub/app:v1"

# -------------------------------------------- podman login with API keys ---

client_refused "podman login with a wrong API key fails" '.path=="/ocigate/token" and .status==401' \
    pm_login ci zak_00000000000000000000000000000000
client_ok "podman login with the right API key succeeds" pm_login ci "$KEY"

# ------------------------- CI (API key): new tags yes, overwrite/delete no ---

client_ok "podman push with the API key (logged in) creates the new tag pub/app:ci-1" \
    pm push --quiet --tls-verify=false "$H/pub/app:v1" "docker://$H/pub/app:ci-1"
client_ok "skopeo push with the API key (creds ci:zak_...) creates the new tag pub/app:ci-2" \
    push_as "ci:$KEY" ci-2 pub/app:ci-2
CI2_DIGEST=$(registry_digest pub/app ci-2)
client_refused "podman push with the API key (logged in) to the existing tag pub/app:ci-2 is refused" \
    '.method=="PUT" and .path=="/v2/pub/app/manifests/ci-2" and .status==403' \
    pm push --quiet --tls-verify=false "$H/pub/app:v1" "docker://$H/pub/app:ci-2"
is "$(registry_digest pub/app ci-2)" "$CI2_DIGEST" "pub/app:ci-2 is unchanged"
client_refused "skopeo push with the API key to the existing tag pub/app:v1 is refused" \
    '.method=="PUT" and .path=="/v2/pub/app/manifests/v1" and .status==403' \
    push_as "ci:$KEY" ci-over pub/app:v1
is "$(registry_digest pub/app v1)" "$V1_DIGEST" "pub/app:v1 still holds the admin's manifest"
pm logout "$H" > /dev/null 2>&1

CI_TOKEN=$(token "ci:$KEY" "repository:pub/app:pull,push,delete" ci)
ok '[ -n "$CI_TOKEN" ]' "the API key gets an ocigate token for pub/app"
status_is 403 "raw manifest PUT to the existing tag v1 with the API key's token: 403" \
    -X PUT -H "Authorization: Bearer $CI_TOKEN" -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
    --data-binary "@$(manifest_file ci-over)" "$U/v2/pub/app/manifests/v1"
status_is 403 "raw DELETE of pub/app's v1 manifest with the API key's token: 403" \
    -X DELETE -H "Authorization: Bearer $CI_TOKEN" "$U/v2/pub/app/manifests/$V1_DIGEST"
status_is 403 "raw DELETE with the API key as Basic credentials: 403" \
    -X DELETE -u "ci:$KEY" "$U/v2/pub/app/manifests/$V1_DIGEST"
is "$(registry_digest pub/app v1)" "$V1_DIGEST" "pub/app:v1 survived"

# ------------------------------------------- admins (OIDC JWT) overwrite ---

client_ok "skopeo push as an OIDC admin overwrites pub/app:v1" push_as "anything:$JWT_ADMIN" v1b pub/app:v1
V1B_DIGEST=$(registry_digest pub/app v1)
ok '[[ $V1B_DIGEST == sha256:* ]] && [ "$V1B_DIGEST" != "$V1_DIGEST" ]' "pub/app:v1 now holds the new manifest"

# ------------------------------------------------------------ JWT flavours ---

status_is 200 "GET /v2/ with Basic anything:<at+jwt JWT>: 200" -u "anything:$JWT_CI" "$U/v2/"
status_is 200 "GET /v2/ with Basic anything:<typ JWT JWT>: 200" -u "anything:$JWT_CI_TYP" "$U/v2/"
status_is 200 "GET /v2/ with Bearer <at+jwt JWT>: 200" -H "Authorization: Bearer $JWT_CI" "$U/v2/"
status_is 200 "GET /v2/ with Bearer <typ JWT JWT>: 200" -H "Authorization: Bearer $JWT_CI_TYP" "$U/v2/"
client_ok "skopeo push with an at+jwt JWT of artifact-workloads creates pub/app:jwt-at" \
    push_as "anything:$JWT_CI" jwt-at pub/app:jwt-at
client_ok "skopeo push with a typ JWT JWT of artifact-workloads creates pub/app:jwt-typ" \
    push_as "anything:$JWT_CI_TYP" jwt-typ pub/app:jwt-typ
client_ok "skopeo push with an ES256 JWT of artifact-workloads creates pub/app:jwt-es" \
    push_as "anything:$JWT_CI_ES" jwt-es pub/app:jwt-es
client_refused "skopeo push with a JWT of artifact-workloads to the existing tag v1 is refused" \
    '.method=="PUT" and .path=="/v2/pub/app/manifests/v1" and .status==403' \
    push_as "anything:$JWT_CI_TYP" jwt-over pub/app:v1
status_is 403 "a JWT without groups (defaultPolicy read) starting an upload: 403" \
    -X POST -H "Content-Length: 0" -u "anything:$JWT_PLAIN" "$U/v2/pub/app/blobs/uploads/"
status_is 401 "GET /v2/ with a JWT for audience \"other\": 401" -u "anything:$JWT_OTHER" "$U/v2/"
status_is 401 "token endpoint with a JWT for audience \"other\": 401" -u "anything:$JWT_OTHER" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull,push)"
client_refused "skopeo push with a JWT for audience \"other\" is refused" \
    '.path=="/ocigate/token" and .status==401' push_as "anything:$JWT_OTHER" jwt-other pub/app:jwt-other

# ------------------------------------------------ self-service API key ---

code=$(req selfkey -X POST -u "anything:$JWT_CI" -H "Content-Type: application/json" \
    --data-binary '{"label":"e2e-self-service","scopes":["pub/**"]}' "$U/ocigate/apikey")
SELF_KEY=$(jq -r '.apiKey // .key // empty' "$T/selfkey.body" 2>/dev/null)
[ -n "$SELF_KEY" ] && secret "$SELF_KEY"
ok '[ "$code" = 201 ] && [[ $SELF_KEY =~ ^zak_[0-9a-f]{32}$ ]]' \
    "POST /ocigate/apikey with an OIDC JWT: 201 with a zak_ key" ||
    diag "  status $code: $(head -c 300 "$T/selfkey.body" | redact)"
client_ok "the self-service key (user ci-bot) pushes pub/app:self" push_as "ci-bot:$SELF_KEY" self pub/app:self
SELF_ID=$(jq -r '.uuid // empty' "$T/selfkey.body" 2>/dev/null)
is "$(jq -r '.scopes | join(",")' "$T/selfkey.body" 2>/dev/null)" "pub/**" "... its scopes are echoed back"
is "$(redis-cli -p "$REDIS_PORT" HGET "ocigate-e2e:key:$(printf %s "${SELF_KEY#zak_}" | sha256sum | cut -d' ' -f1)" groups)" \
    '["artifact-workloads"]' "... it carries the caller's groups at creation"
status_is 200 "GET /ocigate/apikey as ci-bot: 200" -u "anything:$JWT_CI" "$U/ocigate/apikey"
is "$(jq -r '[.apiKeys[].uuid] | join(",")' "$T/r.body" 2>/dev/null)" "$SELF_ID" \
    "... lists exactly ci-bot's key"
unlike "$(cat "$T/r.body")" 'zak_|"hash"' "... without the key or its hash"
status_is 200 "GET /ocigate/apikey as oidc-admin lists only the admin's own keys" \
    -u "anything:$JWT_ADMIN" "$U/ocigate/apikey"
is "$(jq -r '.apiKeys | length' "$T/r.body" 2>/dev/null)" 0 "... which are none"
status_is 401 "GET /ocigate/apikey anonymously: 401" "$U/ocigate/apikey"
status_is 403 "an API key cannot manage API keys: 403" -u "ci-bot:$SELF_KEY" "$U/ocigate/apikey"
status_is 404 "DELETE of ci-bot's key by another non-admin caller: 404" -X DELETE \
    -u "anything:$JWT_PLAIN" "$U/ocigate/apikey?id=$SELF_ID"
status_is 200 "DELETE /ocigate/apikey?id=ID by its owner: 200" -X DELETE \
    -u "anything:$JWT_CI" "$U/ocigate/apikey?id=$SELF_ID"
sleep 3   # apikey.cacheSeconds + 1
status_is 401 "the revoked self-service key is refused" -u "ci-bot:$SELF_KEY" "$U/v2/"

# --------------------------------------------- a key scoped to team-a/** ---

client_ok "the team-a/** key pushes team-a/x:1" push_as "ci-team:$KEY_TEAM" team-a team-a/x:1
client_refused "the team-a/** key cannot push team-b/x:1" \
    '(.path|startswith("/v2/team-b/x/")) and .status==403' push_as "ci-team:$KEY_TEAM" team-b team-b/x:1
status_is 403 "the team-a/** key (Basic) starting an upload in team-b/x: 403" \
    -X POST -H "Content-Length: 0" -u "ci-team:$KEY_TEAM" "$U/v2/team-b/x/blobs/uploads/"
TEAM_TOKEN=$(token "ci-team:$KEY_TEAM" "repository:team-b/x:pull,push" ci-team)
status_is 403 "the team-a/** key's ocigate token starting an upload in team-b/x: 403" \
    -X POST -H "Content-Length: 0" -H "Authorization: Bearer $TEAM_TOKEN" "$U/v2/team-b/x/blobs/uploads/" ||
    diag "  that token (asked for team-b/x pull,push) grants: $(jwt_part "$TEAM_TOKEN" 1 access)"

# ------------------------------------------------ revoked and expired keys ---

status_is 200 "the key about to be revoked works (GET /v2/)" -u "ci-rev:$KEY_REV" "$U/v2/"
REV_ID=$("$OCIGATE_BIN" key list -c "$T/ocigate.json" --user ci-rev --json 2>> "$T/keys.err" |
         jq -r 'if type == "array" then . else (.keys // [.]) end | .[0].id // empty')
"$OCIGATE_BIN" key revoke -c "$T/ocigate.json" "$REV_ID" > "$T/revoke.out" 2>&1
ok $? "ocigate key revoke ${REV_ID:-<no id from key list>}" || diag_tail "$T/revoke.out" 3
sleep 3   # apikey.cacheSeconds + 1
status_is 401 "the revoked key on /v2/ (after cacheSeconds): 401" -u "ci-rev:$KEY_REV" "$U/v2/"
status_is 401 "the revoked key at the token endpoint: 401" -u "ci-rev:$KEY_REV" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull,push)"

now=$(date +%s)
[ "$now" -lt $((EXP_AT + 3)) ] && sleep $((EXP_AT + 3 - now))
status_is 401 "the expired key on /v2/: 401" -u "ci-exp:$KEY_EXP" "$U/v2/"
status_is 401 "the expired key at the token endpoint: 401" -u "ci-exp:$KEY_EXP" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull,push)"
client_refused "skopeo push with the expired key is refused" '.path=="/ocigate/token" and .status==401' \
    push_as "ci-exp:$KEY_EXP" exp pub/app:exp

# --------------------------------------------------- Redis down and back ---

mkimage "$IMG" redis-down > /dev/null
# KEY_FRESH is used for the first time here: the worker's cache entry is made
# now, and is still fresh (< cacheSeconds) for the requests made while Redis
# is down just after.
status_is 202 "the fresh key starts an upload (Redis up): 202" \
    -X POST -H "Content-Length: 0" -u "ci-fresh:$KEY_FRESH" "$U/v2/pub/fresh/blobs/uploads/"
stop_pid "$REDIS_PID"
ok '! redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1' "redis-server stopped"
status_is 202 "Redis down: the key with a fresh cache entry still starts an upload: 202" \
    -X POST -H "Content-Length: 0" -u "ci-fresh:$KEY_FRESH" "$U/v2/pub/fresh/blobs/uploads/"
status_is 503 "Redis down: an uncached API key on /v2/: 503" -u "ci-cold:$KEY_COLD" "$U/v2/"
status_is 503 "Redis down: an uncached API key starting an upload: 503" \
    -X POST -H "Content-Length: 0" -u "ci-cold:$KEY_COLD" "$U/v2/pub/cold/blobs/uploads/"
status_is 503 "Redis down: an uncached API key at the token endpoint: 503" -u "ci-cold:$KEY_COLD" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull,push)"
# ci-bot (OIDC, artifact-workloads) needs no Redis to be known, but a new tag
# from an identity without update needs a claim in Redis (doc/redis.md).
status_is 503 "Redis down: a new-tag manifest PUT by an OIDC JWT of artifact-workloads (needs a tag claim): 503" \
    -X PUT -u "anything:$JWT_CI" -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
    --data-binary "@$(manifest_file redis-down)" "$U/v2/pub/app/manifests/redis-down"
status_is 200 "Redis down: anonymous token request: 200" \
    "$REALM?service=$(uri_enc "$SERVICE")&scope=$(uri_enc repository:pub/app:pull)"
status_is 200 "Redis down: an OIDC JWT reads tags: 200" -u "anything:$JWT_ADMIN" "$U/v2/pub/app/tags/list"
client_ok "Redis down: anonymous skopeo pull of pub/app:jwt-at" pull_anon pub/app:jwt-at
client_ok "Redis down: anonymous podman pull of pub/app:jwt-typ" pm pull --quiet --tls-verify=false "$H/pub/app:jwt-typ"

start_redis_persistent
ok $? "redis-server started again on port $REDIS_PORT"
resumed=1
WAIT_PID=$OG_MASTER wait_until 10 sh -c '[ "$(curl -s -o /dev/null -w "%{http_code}" --max-time 5 -u "$1" "$2")" = 200 ]' \
    _ "ci-cold:$KEY_COLD" "$U/v2/" || resumed=0
ok '[ "$resumed" = 1 ]' "Redis back: the uncached key on /v2/ is 200 again within 10 s" ||
    diag "  last status: $(req r -u "ci-cold:$KEY_COLD" "$U/v2/")"
ok 'kill -0 "$OG_MASTER"' "ocigate was not restarted"
client_ok "Redis back: skopeo push with that key creates pub/app:after-redis" \
    push_as "ci-cold:$KEY_COLD" after-redis pub/app:after-redis

done_testing
