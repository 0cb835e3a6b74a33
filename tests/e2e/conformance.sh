#!/usr/bin/env bash
# conformance.sh - the answers the OCI distribution conformance suite looks
# at, against docker-registry alone and through each of the four front doors
# shipped in deploy/ (lighttpd, nginx, Caddy, Apache), with ocigate deciding
# on the seed's policy (deploy/examples/seed.json: anonymous read on **,
# artifact-workloads read+create, admins everything, registry.automaticMount
# false since the registry behind is distribution).
#
# The rule: nothing passes less through a door than against the registry
# alone. For the admin (who may do everything) every request below must get,
# through every door, the status the registry gives it on its own; anonymous
# reads too; anonymous writes are 401. The cases: HEAD and GET of missing
# manifests and blobs by tag and by digest, of present ones, of an invalid
# manifest reference (/v2/R/manifests/.INVALID_MANIFEST_NAME: 404
# MANIFEST_UNKNOWN, nothing can exist there; a write with it stays 400), and
# blob mounts with and without from=, with and without credentials. A few
# requests that the registry alone refuses as well get ocigate's own status
# (REFUSED below: a blob "by tag", a write by an invalid reference).
#
# On the main branch before this test four of these failed through every
# door as they did in the conformance suite: GET and HEAD of the invalid
# reference (400 where the registry says 404) and the admin's mount without
# from= (401 where the registry starts an upload with 202).
#
# TAP; skipped unless OCIGATE_E2E=1; a door that is not installed is skipped
# (a failure under CI=true or OCIGATE_E2E=1); everything started is stopped.

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/webserver_lib.sh"
e2e_init redis-server docker-registry skopeo curl jq htpasswd python3

have() { command -v "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT TCP_PORT LT_PORT NGX_PORT CADDY_PORT APACHE_PORT <<<"$(free_ports 7)"
make_htpasswd "$T/htpasswd" admin ci

# seed_config DEST [JQ-FILTER]: seed.json with the test's ports and files
seed_config() {
    jq --arg reg "http://127.0.0.1:$REG_PORT" --arg redis "redis://127.0.0.1:$REDIS_PORT/0" \
       --arg htp "$T/htpasswd" \
       '.registry.url = $reg | .redis.url = $redis | .auth.htpasswd.path = $htp' \
       "$DEPLOY/examples/seed.json" | jq "${2:-.}" > "$1.tmp" || bail "jq failed on seed.json"
    mv "$1.tmp" "$1"
}
seed_config "$T/ocigate.json"
seed_config "$T/ocigate-caddy.json" '.trustForwardedHeaders = true'
for c in ocigate ocigate-caddy; do
    "$OCIGATE_BIN" check -c "$T/$c.json" > "$T/check.out" 2>&1 || bail "ocigate check $c.json: $(cat "$T/check.out")"
done
is "$(jq .registry.automaticMount "$T/ocigate.json")" false \
    "the configs say registry.automaticMount false (the registry is distribution)"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate_at ocigate "unix:$T/ocigate.sock,mode=0666" "$T/ocigate.json"
start_ocigate_at ocigate-caddy "unix:$T/ocigate-caddy.sock,mode=0666" "$T/ocigate-caddy.json"
start_ocigate_at ocigate-apache "tcp:127.0.0.1:$TCP_PORT" "$T/ocigate.json"

REG=http://127.0.0.1:$REG_PORT
ADMIN="admin:$PASS_admin"
CI="ci:$PASS_ci"
WRONG="wrong-$RANDOM$RANDOM$RANDOM"
secret_basic ci "$WRONG"

# What exists: conf/present:v1, pushed straight to the registry.
IMG=$T/img
D_V1=$(mkimage "$IMG" v1) || bail "mkimage failed"
skopeo_copy "oci:$IMG:v1" "docker://127.0.0.1:$REG_PORT/conf/present:v1" --dest-no-creds \
    || bail "skopeo could not push conf/present:v1 to the registry"
LAYER=$(jq -r '.layers[0].digest' "$IMG/blobs/sha256/${D_V1#sha256:}")
NODIGEST=sha256:$(printf 'no such content %s' "$RANDOM$RANDOM" | sha256sum | cut -d' ' -f1)
OCI_MT=application/vnd.oci.image.manifest.v1+json

# The cases: NAME|METHOD|PATH. HEAD is sent as curl -I; POST with an empty
# body. The same path each time a case runs (uploads only start sessions).
CASES=(
    "manifest by tag, present|GET|/v2/conf/present/manifests/v1"
    "manifest by tag, present|HEAD|/v2/conf/present/manifests/v1"
    "manifest by digest, present|GET|/v2/conf/present/manifests/$D_V1"
    "manifest by tag, missing|GET|/v2/conf/present/manifests/nosuchtag"
    "manifest by tag, missing|HEAD|/v2/conf/present/manifests/nosuchtag"
    "manifest by digest, missing|GET|/v2/conf/present/manifests/$NODIGEST"
    "manifest by digest, missing|HEAD|/v2/conf/present/manifests/$NODIGEST"
    "manifest in a missing repository|GET|/v2/conf/nosuchrepo/manifests/v1"
    "manifest in a missing repository|HEAD|/v2/conf/nosuchrepo/manifests/v1"
    "invalid manifest reference|GET|/v2/conf/present/manifests/.INVALID_MANIFEST_NAME"
    "invalid manifest reference|HEAD|/v2/conf/present/manifests/.INVALID_MANIFEST_NAME"
    "blob, present|GET|/v2/conf/present/blobs/$LAYER"
    "blob, present|HEAD|/v2/conf/present/blobs/$LAYER"
    "blob, missing|GET|/v2/conf/present/blobs/$NODIGEST"
    "blob, missing|HEAD|/v2/conf/present/blobs/$NODIGEST"
    "blob in a missing repository|HEAD|/v2/conf/nosuchrepo/blobs/$LAYER"
    "tags of a missing repository|GET|/v2/conf/nosuchrepo/tags/list"
    "upload|POST|/v2/conf/target/blobs/uploads/"
    "mount without from|POST|/v2/conf/target/blobs/uploads/?mount=$LAYER"
    "mount with from|POST|/v2/conf/target/blobs/uploads/?mount=$LAYER&from=conf/present"
    "mount of a missing blob with from|POST|/v2/conf/target/blobs/uploads/?mount=$NODIGEST&from=conf/present"
)

# Requests neither the registry alone nor ocigate lets pass, where ocigate's
# status differs on purpose (NAME|METHOD|PATH|OCIGATE-STATUS): a blob has no
# tag (ocigate: 400, a blob reference must be a digest; the registry: 404, no
# route); a write with an invalid manifest reference stays 400 (the
# registry: 404); a malformed manifest digest is 404 like any invalid
# reference (the registry: 500).
REFUSED=(
    "blob by tag|GET|/v2/conf/present/blobs/v1|400"
    "blob by tag|HEAD|/v2/conf/present/blobs/v1|400"
    "manifest by a malformed digest|GET|/v2/conf/present/manifests/sha256:abc|404"
    "manifest by a malformed digest|HEAD|/v2/conf/present/manifests/sha256:abc|404"
    "write with an invalid manifest reference|PUT|/v2/conf/present/manifests/.INVALID_MANIFEST_NAME|400"
    "write with an invalid manifest reference|DELETE|/v2/conf/present/manifests/.INVALID_MANIFEST_NAME|400"
)

# send NAME BASE METHOD PATH [CURL-ARGS...]: one request, prints the status
send() {
    local name=$1 base=$2 method=$3 path=$4
    shift 4
    case $method in
        HEAD) req "$name" -I -H "Accept: $OCI_MT" "$@" "$base$path" ;;
        POST) req "$name" -X POST -H 'Content-Length: 0' "$@" "$base$path" ;;
        PUT) req "$name" -X PUT -H "Content-Type: $OCI_MT" --data-binary '{}' "$@" "$base$path" ;;
        *) req "$name" -X "$method" -H "Accept: $OCI_MT" "$@" "$base$path" ;;
    esac
}

is_write() { [ "$1" = POST ] || [ "$1" = PUT ] || [ "$1" = PATCH ] || [ "$1" = DELETE ]; }

# ------------------------------------------------- the registry alone ------

declare -A WANT
for i in "${!CASES[@]}"; do
    IFS='|' read -r name method path <<<"${CASES[$i]}"
    WANT[$i]=$(send "reg-$i" "$REG" "$method" "$path")
done
diag "the registry alone: $(for i in "${!CASES[@]}"; do printf '%s ' "${WANT[$i]}"; done)"
for i in "${!REFUSED[@]}"; do
    IFS='|' read -r name method path _ <<<"${REFUSED[$i]}"
    got=$(send "reg-refused-$i" "$REG" "$method" "$path")
    ok '[ "$got" -ge 400 ]' "registry alone: $method $name is refused too ($got)"
done

# what the conformance suite expects of a registry, so a change of
# docker-registry shows here rather than as a mystery through the doors
want_of() {
    local i
    for i in "${!CASES[@]}"; do
        [ "${CASES[$i]}" = "$1" ] && { echo "${WANT[$i]}"; return; }
    done
}
is "$(want_of "invalid manifest reference|GET|/v2/conf/present/manifests/.INVALID_MANIFEST_NAME")" 404 \
    "registry alone: GET of an invalid manifest reference is 404"
is "$(want_of "invalid manifest reference|HEAD|/v2/conf/present/manifests/.INVALID_MANIFEST_NAME")" 404 \
    "registry alone: HEAD of an invalid manifest reference is 404"
is "$(want_of "mount without from|POST|/v2/conf/target/blobs/uploads/?mount=$LAYER")" 202 \
    "registry alone: a mount without from= starts an upload (202)"
is "$(want_of "mount with from|POST|/v2/conf/target/blobs/uploads/?mount=$LAYER&from=conf/present")" 201 \
    "registry alone: a mount with from= mounts (201)"
is "$(want_of "manifest by tag, missing|GET|/v2/conf/present/manifests/nosuchtag")" 404 \
    "registry alone: a missing manifest is 404"

# ---------------------------------------------------------- one door -------

# door NAME BASE: every case through the door, as the admin, as ci and
# anonymously.
door() {
    local d=$1 base=$2 i name method path got want
    for i in "${!CASES[@]}"; do
        IFS='|' read -r name method path <<<"${CASES[$i]}"
        want=${WANT[$i]}
        # the admin: exactly what the registry alone answers
        got=$(send "$d-admin-$i" "$base" "$method" "$path" -u "$ADMIN")
        is "$got" "$want" "$d: admin $method $name: $want, as the registry alone"
        # anonymous: reads as the registry alone; writes 401 (no create)
        got=$(send "$d-anon-$i" "$base" "$method" "$path")
        if is_write "$method"; then
            is "$got" 401 "$d: anonymous $method $name: 401"
        else
            is "$got" "$want" "$d: anonymous $method $name: $want, as the registry alone"
        fi
        # ci (artifact-workloads: read and create) may do all of these too
        got=$(send "$d-ci-$i" "$base" "$method" "$path" -u "$CI")
        is "$got" "$want" "$d: ci $method $name: $want, as the registry alone"
    done
    # the body of the invalid reference's 404 names the manifest as unknown
    send "$d-inv-body" "$base" GET /v2/conf/present/manifests/.INVALID_MANIFEST_NAME -u "$ADMIN" > /dev/null
    is "$(jq -r '.errors[0].code' "$T/$d-inv-body.body" 2>/dev/null)" MANIFEST_UNKNOWN \
        "$d: GET of an invalid manifest reference: code MANIFEST_UNKNOWN"
    # refused by the registry alone as well, with ocigate's own status
    for i in "${!REFUSED[@]}"; do
        IFS='|' read -r name method path want <<<"${REFUSED[$i]}"
        is "$(send "$d-refused-admin-$i" "$base" "$method" "$path" -u "$ADMIN")" "$want" \
            "$d: admin $method $name: $want (refused by the registry alone too)"
        is "$(send "$d-refused-anon-$i" "$base" "$method" "$path")" "$want" \
            "$d: anonymous $method $name: $want"
    done
    # wrong credentials never pass as anonymous, not even to a 404
    is "$(send "$d-bad" "$base" GET /v2/conf/present/manifests/nosuchtag -u "ci:$WRONG")" 401 \
        "$d: GET of a missing manifest with a wrong password: 401"
}

# ---------------------------------------------------------------- lighttpd --

if need_door lighttpd lighttpd; then
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/lt.conf" \
        regport="$REG_PORT" extsock="$T/ocigate.sock"
    start_lighttpd lighttpd "$LT_PORT" "$T/lt.conf"
    door lighttpd "http://127.0.0.1:$LT_PORT"
    stop_pid "$LIGHTTPD_PID"
fi

# ------------------------------------------------------------------- nginx --

if need_door nginx nginx; then
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx.conf" \
        sock="$T/ocigate.sock" regport="$REG_PORT" port="$NGX_PORT"
    start_nginx nginx "$NGX_PORT" "$T/nginx.conf"
    door nginx "http://127.0.0.1:$NGX_PORT"
    stop_pid "$SERVER_PID"
fi

# ------------------------------------------------------------------- Caddy --

if need_door caddy caddy; then
    deploy_copy "$DEPLOY/caddy/Caddyfile" "$T/Caddyfile" \
        sock="$T/ocigate-caddy.sock" regport="$REG_PORT" port="$CADDY_PORT"
    start_caddy caddy "$CADDY_PORT" "$T/Caddyfile"
    door caddy "http://127.0.0.1:$CADDY_PORT"
    stop_pid "$SERVER_PID"
fi

# ------------------------------------------------------------------ Apache --

if need_door apache apache2; then
    deploy_copy "$DEPLOY/apache/ocigate.conf" "$T/apache.conf" \
        tcp="$TCP_PORT" regport="$REG_PORT" port="$APACHE_PORT"
    start_apache apache "$APACHE_PORT" "$T/apache.conf"
    door apache "http://127.0.0.1:$APACHE_PORT"
    stop_pid "$SERVER_PID"
fi

done_testing
