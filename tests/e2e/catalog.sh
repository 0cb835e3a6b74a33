#!/usr/bin/env bash
# catalog.sh - /v2/_catalog filtered by ocigate (doc/http.md, the catalog):
# lighttpd with the shipped deploy/lighttpd/ocigate-external.conf (its
# "^/v2/_catalog$" block: RESPONDER role, OCIGATE_SERVE=catalog) ->
# ocigate serve -> docker-registry.
#
#   policy: anonymous (and every user) may read pub/**, ci may read team/**
#   too, admin (adminPolicy) everything. Admin pushes repositories in every
#   part; anonymous sees only pub/*, ci pub/* and team/*, admin all of them;
#   n/last paginate the filtered list (Link: rel="next"), following the
#   links gives exactly that list; a bad n is 400; wrong credentials are
#   401 (no credentials is anonymous); the registry's unfiltered catalog
#   never reaches a client (ocigate asks the registry itself).
#   Also: the catalog without the block (AUTHORIZER role: only identities
#   that may read every repository), the bin-path form
#   (ocigate-authorizer.conf) and, when nginx is installed,
#   deploy/nginx/ocigate.conf's "location = /v2/_catalog".
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/webserver_lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd python3

read -r REDIS_PORT REG_PORT LT_PORT LT2_PORT LT3_PORT NGX_PORT <<<"$(free_ports 6)"
make_htpasswd "$T/htpasswd" admin ci bob
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" '
  .accessControl.repositories = {
    "pub/**":  { "anonymousPolicy": ["read"], "defaultPolicy": ["read"] },
    "team/**": { "policies": [ { "users": ["ci"], "actions": ["read"] } ] }
  }
  | .endpoints = { "catalog": true }'
"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.log" 2>&1 \
    || bail "ocigate check refuses the catalog policy: $(cat "$T/check.log")"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
# mode 0666: nginx's workers run as another user
"$OCIGATE_BIN" serve -c "$T/ocigate.json" --listen "unix:$T/ocigate.sock,mode=0666" --workers 2 \
    >> "$T/ocigate.log" 2>&1 &
OCIGATE_PID=$!
register_pid "$OCIGATE_PID"
wait_socket "$T/ocigate.sock" 10 "$OCIGATE_PID" || bail "ocigate serve did not listen"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
H=127.0.0.1:$LT_PORT
REG=http://127.0.0.1:$REG_PORT
ADMIN="admin:$PASS_admin"
CI="ci:$PASS_ci"
BOB="bob:$PASS_bob"
WRONG=wrong-password-$RANDOM$RANDOM
secret_basic ci "$WRONG"
secret_basic nobody nobody-password
UA="catalog-e2e-client/$RANDOM"    # marks our own requests in the registry's log
UA2="authorizer-role-client/$RANDOM"   # the requests that are proxied on purpose

# -------------------------------------------- admin pushes repositories ---

ALL="other/secret pub/a pub/b pub/c pub/d pub/e pub-hidden/x q/hidden team/x team/y zz/private"
mkimage "$T/img" v1 > /dev/null || bail "mkimage failed"
pushed=0
for r in $ALL; do
    skopeo_copy "oci:$T/img:v1" "docker://$H/$r:v1" --dest-creds "$ADMIN" && pushed=$((pushed + 1))
done
is "$pushed" 11 "admin pushed 11 repositories through lighttpd (skopeo)"
is "$(req regcat "$REG/v2/_catalog")" 200 "the registry's own catalog (asked directly)"
# Expected lists in the registry's own order (distribution sorts by path
# component: pub/e before pub-hidden/x; zot sorts plain strings): the
# filtered catalog keeps that order.
REGALL=$(jq -r '.repositories | join(" ")' "$T/regcat.body")
is "$(printf '%s\n' $REGALL | sort | tr '\n' ' ')" "$(printf '%s\n' $ALL | sort | tr '\n' ' ')" \
    "... lists all 11 repositories"
diag "the registry's order: $REGALL"
only() { printf '%s\n' $REGALL | grep -E "$1" | tr '\n' ' ' | sed 's/ $//'; }
PUB=$(only '^pub/')
CIV=$(only '^(pub|team)/')
# pages N LIST...: LIST cut into pages of N, "|" after each page
pages() { local n=$1; shift; printf '%s\n' "$@" | paste -d' ' $(for _ in $(seq "$n"); do printf -- '- '; done) | sed 's/ *$//' | tr '\n' '|'; }

# names CALLER-ARGS...: the repositories of one catalog page, space-separated
names() { jq -r '.repositories | join(" ")' "$T/$1.body" 2>/dev/null; }

# ------------------------------------------------ who sees what ----------

is "$(req anon -A "$UA" "$U/v2/_catalog")" 200 "anonymous GET /v2/_catalog: 200"
is "$(names anon)" "$PUB" "anonymous sees exactly pub/*"
like "$(hdr anon Content-Type)" '^application/json' "... as application/json"
is "$(hdr anon Docker-Distribution-Api-Version)" registry/2.0 "... with Docker-Distribution-Api-Version"
is "$(hdr anon Link)" "" "... and no Link header (nothing more)"
is "$(req og -A "$UA" -H 'Authorization: Basic Og==' "$U/v2/_catalog")" 200 "'Basic Og==' (anonymous): 200"
is "$(names og)" "$PUB" "... the anonymous list"
is "$(req ci -A "$UA" -u "$CI" "$U/v2/_catalog")" 200 "ci GET /v2/_catalog: 200"
is "$(names ci)" "$CIV" "ci sees pub/* and team/*"
is "$(req bob -A "$UA" -u "$BOB" "$U/v2/_catalog")" 200 "bob (defaultPolicy only) GET /v2/_catalog: 200"
is "$(names bob)" "$PUB" "bob sees pub/* only"
is "$(req adm -A "$UA" -u "$ADMIN" "$U/v2/_catalog")" 200 "admin GET /v2/_catalog: 200"
is "$(names adm)" "$REGALL" "admin sees all 11"

# ------------------------------------------------ credentials -------------

is "$(req wrong -A "$UA" -u "ci:$WRONG" "$U/v2/_catalog")" 401 \
    "a wrong password: 401 (not the anonymous list)"
is "$(jq -r '.errors[0].code' "$T/wrong.body" 2>/dev/null)" UNAUTHORIZED "... UNAUTHORIZED"
like "$(hdr wrong WWW-Authenticate)" '^Basic realm=' "... with the challenge"
unlike "$(body wrong)" 'pub/|team/|secret' "... and no repository in the body"
is "$(req nouser -A "$UA" -u "nobody:nobody-password" "$U/v2/_catalog")" 401 "an unknown user: 401"

# ------------------------------------------------ pagination --------------

# walk NAME CREDS N: follow Link rel="next" from /v2/_catalog?n=N; prints
# the names of every page, one page per line
walk() {
    local name=$1 creds=$2 n=$3 url="/v2/_catalog?n=$3" i=0 link args=()
    [ -n "$creds" ] && args=(-u "$creds")
    while [ -n "$url" ] && [ "$i" -lt 12 ]; do
        i=$((i + 1))
        [ "$(req "$name-$i" -A "$UA" "${args[@]}" "$U$url")" = 200 ] || { echo "status!"; return; }
        names "$name-$i"
        link=$(hdr "$name-$i" Link)
        url=$(printf '%s' "$link" | sed -n 's/^<\([^>]*\)>; *rel="next"$/\1/p')
        [ -n "$link" ] && [ -z "$url" ] && { echo "bad Link: $link"; return; }
    done
}

is "$(req p1 -A "$UA" "$U/v2/_catalog?n=2")" 200 "anonymous ?n=2: 200"
is "$(names p1)" "pub/a pub/b" "... the first two readable repositories"
is "$(hdr p1 Link)" '</v2/_catalog?last=pub/b&n=2>; rel="next"' "... Link to the next page after pub/b"
is "$(req p2 -A "$UA" "$U/v2/_catalog?n=2&last=pub/b")" 200 "anonymous ?n=2&last=pub/b: 200"
is "$(names p2)" "pub/c pub/d" "... pub/c pub/d"
is "$(req p3 -A "$UA" "$U/v2/_catalog?last=pub/d&n=2")" 200 "anonymous ?last=pub/d&n=2: 200"
is "$(names p3)" "pub/e" "... the last page: pub/e"
is "$(hdr p3 Link)" "" "... without a Link"
is "$(walk aw "" 2 | tr '\n' '|')" "$(pages 2 $PUB)" "anonymous, following the links (n=2): 3 pages"
cw=$(walk cw "$CI" 2)
is "$(printf '%s\n' "$cw" | tr '\n' '|')" "$(pages 2 $CIV)" \
    "ci, following the links (n=2): 4 pages"
is "$(printf '%s\n' "$cw" | tr ' ' '\n' | grep -c .)" 7 "... 7 names"
is "$(printf '%s\n' "$cw" | tr ' ' '\n' | grep . | sort | uniq -d)" "" "... no name twice"
is "$(printf '%s\n' "$cw" | tr ' ' '\n' | grep . | tr '\n' ' ' | sed 's/ $//')" "$CIV" "... exactly ci's filtered list"
aw3=$(walk adw "$ADMIN" 3)
is "$(printf '%s\n' "$aw3" | tr '\n' '|')" "$(pages 3 $REGALL)" \
    "admin, following the links (n=3): 4 pages of all 11, in the registry's order" ||
    diag "  requests: $(for f in "$T"/adw-*.hdr; do printf '%s ' "$(basename "$f" .hdr)=>$(hdr "$(basename "$f" .hdr)" Link)"; done)"
is "$(printf '%s\n' "$aw3" | tr ' ' '\n' | grep . | sort | tr '\n' ' ')" "$(printf '%s\n' $ALL | sort | tr '\n' ' ')" \
    "admin, following the links: every repository exactly once (whatever the order)"
is "$(walk a1 "" 1 | tr '\n' ' ' | sed 's/ $//')" "$PUB" "anonymous, n=1: one repository per page, all of pub/*"
is "$(req lastx -A "$UA" "$U/v2/_catalog?last=other/secret")" 200 "anonymous ?last=other/secret (a name it may not read): 200"
is "$(names lastx)" "$PUB" "... the readable names after it"
is "$(req lastz -A "$UA" "$U/v2/_catalog?last=pub/e&n=2")" 200 "anonymous ?last=pub/e: 200"
is "$(names lastz)" "" "... an empty list"
is "$(jq -c .repositories "$T/lastz.body" 2>/dev/null)" "[]" "... as [] (not null)"

for badn in abc -1 2x; do
    is "$(req "badn$badn" -A "$UA" "$U/v2/_catalog?n=$badn")" 400 "?n=$badn: 400"
done
unlike "$(body badnabc)" 'pub/' "... and no repository in the body"

# ------------------------------------- never the registry's own catalog ---

registry_log_settled "$REG_PORT" || diag "the registry's access log did not settle in 10 s"
is "$(grep -F "$UA" "$T/registry.log" | grep -c '_catalog' || true)" 0 \
    "no catalog request of a client reached the registry (ocigate asked it itself)"
ok 'grep -q "\"GET /v2/_catalog?n=1000 HTTP" "$T/registry.log"' "ocigate fetched the registry's catalog"
is "$(req slash -A "$UA" "$U/v2/_catalog/")" 404 "/v2/_catalog/ (not the dedicated location): 404 from the authorizer"
ok '[ "$(req post -A "$UA" -X POST -H "Content-Length: 0" "$U/v2/_catalog")" != 200 ]' \
    "POST /v2/_catalog is not answered with a list"

# ------------------------- without the catalog block: AUTHORIZER role ------

cp "$T/external.conf" "$T/nocat.conf"
edit_copy "$T/nocat.conf" '__import__("re").sub(r"(?ms)^\$HTTP\[\"url\"\] =~ \"\^/v2/_catalog\$\" \{.*?^\}\n", "", s)'
start_lighttpd lighttpd-nocat "$LT2_PORT" "$T/nocat.conf"
U2=http://127.0.0.1:$LT2_PORT
code=$(req na -A "$UA2" "$U2/v2/_catalog")
ok '[ "$code" = 401 ] || [ "$code" = 403 ]' "authorizer role: anonymous catalog is denied ($code)"
is "$(req nc -A "$UA2" -u "$CI" "$U2/v2/_catalog")" 403 "authorizer role: ci (cannot read everything): 403"
is "$(req nadm -A "$UA2" -u "$ADMIN" "$U2/v2/_catalog")" 200 "authorizer role: admin: 200"
is "$(names nadm)" "$REGALL" "... the registry's own list, proxied"
stop_pid "$LIGHTTPD_PID"

# ------------------------------------------------------ the bin-path form --

lighttpd_snippet "$DEPLOY/lighttpd/ocigate-authorizer.conf" "$T/authorizer.conf" regport="$REG_PORT"
start_lighttpd lighttpd-binpath "$LT3_PORT" "$T/authorizer.conf"
U3=http://127.0.0.1:$LT3_PORT
wait_socket "$T/lt-ocigate.sock-0" 10 || diag "no $T/lt-ocigate.sock-0 from bin-path"
is "$(req bpa -A "$UA" "$U3/v2/_catalog")" 200 "bin-path: anonymous GET /v2/_catalog: 200"
is "$(names bpa)" "$PUB" "bin-path: anonymous sees exactly pub/*"
is "$(req bpc -A "$UA" -u "$CI" "$U3/v2/_catalog?n=5")" 200 "bin-path: ci ?n=5: 200"
set -- $CIV
is "$(names bpc)" "$1 $2 $3 $4 $5" "bin-path: ci's first 5"
is "$(hdr bpc Link)" "</v2/_catalog?last=$5&n=5>; rel=\"next\"" "bin-path: ... with a Link"
stop_pid "$LIGHTTPD_PID"

# ------------------------------------------------------------------ nginx --

if command -v nginx >/dev/null 2>&1; then
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx.conf" \
        sock="$T/ocigate.sock" regport="$REG_PORT" port="$NGX_PORT"
    start_nginx nginx "$NGX_PORT" "$T/nginx.conf"
    N=http://127.0.0.1:$NGX_PORT
    is "$(req ngx1 -A "$UA" "$N/v2/_catalog")" 200 "nginx: anonymous GET /v2/_catalog: 200"
    is "$(names ngx1)" "$PUB" "nginx: anonymous sees exactly pub/*"
    is "$(req ngx2 -A "$UA" -u "$CI" "$N/v2/_catalog?n=6")" 200 "nginx: ci ?n=6: 200"
    set -- $CIV
    is "$(names ngx2)" "$1 $2 $3 $4 $5 $6" "nginx: ci's first 6"
    is "$(hdr ngx2 Link)" "</v2/_catalog?last=$6&n=6>; rel=\"next\"" "nginx: ... with a Link"
    is "$(req ngx3 -A "$UA" -u "ci:$WRONG" "$N/v2/_catalog")" 401 "nginx: wrong password: 401"
    registry_log_settled "$REG_PORT" || diag "the registry's access log did not settle in 10 s"
    is "$(grep -F "$UA" "$T/registry.log" | grep -c '_catalog' || true)" 0 \
        "nginx: no catalog request of a client reached the registry"
    stop_pid "$SERVER_PID"
else
    missing_checks 7 "nginx not installed"
fi

done_testing
