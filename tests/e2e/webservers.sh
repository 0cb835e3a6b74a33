#!/usr/bin/env bash
# webservers.sh - every web server deployment shipped in deploy/ runs the
# same end-to-end scenario (scenario.sh), and every documented config trap,
# made on purpose, is caught by it.
#
#   redis-server, docker-registry (behind a recording proxy, so the test
#   sees what reached the registry and with which X-Ocigate-* headers), and
#   four ocigate instances:
#     ocigate.sock          basic mode            lighttpd, nginx
#     ocigate-caddy.sock    trustForwardedHeaders Caddy (both forms)
#     tcp:127.0.0.1:PORT    basic mode            Apache (TCP only)
#     ocigate-bearer.sock   bearer mode (token endpoint at /ocigate/token)
#                                                 nginx
#   then, one at a time on loopback, with the shipped config files (install
#   paths replaced, nothing else):
#     lighttpd  deploy/lighttpd/ocigate-external.conf
#     nginx     deploy/nginx/ocigate.conf          (basic and bearer)
#     Caddy     deploy/caddy/Caddyfile, deploy/caddy/Caddyfile.explicit
#     Apache    deploy/apache/ocigate.conf
#   and the same config with its documented mistake made:
#     lighttpd  "check-local" left enabled           -> auth bypassed
#     nginx     auth_request only in "location /v2/" plus a regex location
#               for uploads                          -> auth bypassed
#     nginx     the proxy_set_header X-Ocigate-* lines left out
#                                                    -> spoofed identity
#     Caddy     the env OCIGATE_METHOD/OCIGATE_URI lines left out
#               (ocigate with trustForwardedHeaders) -> every request 400
#     Caddy     the same in the explicit form        -> every request 400
#     Apache    without CGIPassAuth On               -> no login works
#   A mistake counts as caught when the scenario run against it fails the
#   checks named for it (the passing runs above show those same checks pass
#   with the shipped config). And one line that no longer matters: the
#   explicit form without its header_up X-Forwarded-* lines still refuses a
#   client's forged X-Forwarded-Method (ocigate never believes it).
#
# TAP; skipped unless OCIGATE_E2E=1; a server that is not installed is
# skipped; everything started here is stopped on any exit.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/webserver_lib.sh"
. "$(dirname "$0")/scenario.sh"
e2e_init redis-server docker-registry skopeo curl jq htpasswd python3

have() { command -v "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT REC_PORT TCP_PORT LT_PORT NGX_PORT NGXB_PORT CADDY_PORT CADDYX_PORT \
        APACHE_PORT M1 M2 M3 M4 M5 M6 <<<"$(free_ports 16)"
make_htpasswd "$T/htpasswd" admin ci
# ocigate asks "the registry" (tag checks) through the recorder as well
test_config "$T/ocigate.json" "$REC_PORT" "$REDIS_PORT" "$T/htpasswd"
test_config "$T/ocigate-caddy.json" "$REC_PORT" "$REDIS_PORT" "$T/htpasswd" '.trustForwardedHeaders = true'
"$OCIGATE_BIN" token-key generate > "$T/token.key" 2>> "$T/ocigate.log" || bail "token-key generate failed"
secret_file "$T/token.key"
REALM=$(jq -r .realm "$T/ocigate.json")
TOKEN_REALM=http://127.0.0.1:$NGXB_PORT/ocigate/token
test_config "$T/ocigate-bearer.json" "$REC_PORT" "$REDIS_PORT" "$T/htpasswd" \
    ".token = {challenge: \"bearer\", realm: \"$TOKEN_REALM\", service: \"$REALM\", keyFile: \"$T/token.key\"}"
for c in ocigate ocigate-caddy ocigate-bearer; do
    "$OCIGATE_BIN" check -c "$T/$c.json" > "$T/check.out" 2>&1 || bail "ocigate check $c.json: $(cat "$T/check.out")"
done

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_recorder "$REC_PORT" "$REG_PORT" "$T/recorded.jsonl"
start_ocigate_at ocigate "unix:$T/ocigate.sock,mode=0666" "$T/ocigate.json"
start_ocigate_at ocigate-caddy "unix:$T/ocigate-caddy.sock,mode=0666" "$T/ocigate-caddy.json"
start_ocigate_at ocigate-apache "tcp:127.0.0.1:$TCP_PORT" "$T/ocigate.json"
start_ocigate_at ocigate-bearer "unix:$T/ocigate-bearer.sock,mode=0666" "$T/ocigate-bearer.json"

SCN_REC=$T/recorded.jsonl
SCN_REG=http://127.0.0.1:$REG_PORT
SCN_CI="ci:$PASS_ci"
SCN_ADMIN="admin:$PASS_admin"
BASIC_CHALLENGE="^Basic realm=\"$REALM\"\$"

# skip_server N WHAT: N skipped checks in place of a server's block (failures
# under CI=true or OCIGATE_E2E=1: every door must be tested; lib.sh e2e_strict)
skip_server() { missing_checks "$1" "$2"; }

# mistake NAME URL: run the scenario against a deliberately broken config;
# its TAP goes to $T/mistake-NAME.tap, not to ours (its failures are the
# point). Then caught NAME ERE WHAT: the run failed a check matching ERE.
mistake() {
    (SCN_FWD_STATUS=${SCN_FWD_STATUS:-400} run_scenario "$1" "$2") > "$T/mistake-$1.tap" 2>&1
    diag "$1: the scenario against the broken config: $(grep -c '^not ok' "$T/mistake-$1.tap") checks failed"
}
caught() {
    local name=$1 ere=$2 what=$3
    if grep -qE "^not ok [0-9]+ - $name: ($ere)" "$T/mistake-$name.tap"; then
        ok 0 "$name: caught: $what"
        diag "$(grep -A2 -E "^not ok [0-9]+ - $name: ($ere)" "$T/mistake-$name.tap" | head -n 6)"
    else
        ok 1 "$name: caught: $what"
        diag "$(grep -E '^(not )?ok' "$T/mistake-$name.tap" | head -n 60)"
    fi
}

# health NAME URL: ocigate's own endpoint answered through the front door
health() {
    is "$(req "health-$1" "$2/ocigate/healthz")" 200 "$1: GET /ocigate/healthz is answered by ocigate"
    is "$(jq -r .status "$T/health-$1.body" 2>/dev/null)" ok "$1: ... with its health report"
}

# ---------------------------------------------------------------- lighttpd --

if have lighttpd; then
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/lt.conf" \
        regport="$REC_PORT" extsock="$T/ocigate.sock"
    start_lighttpd lighttpd "$LT_PORT" "$T/lt.conf"
    SCN_CHALLENGE=$BASIC_CHALLENGE SCN_FWD_STATUS=400 run_scenario lighttpd "http://127.0.0.1:$LT_PORT"
    stop_pid "$LIGHTTPD_PID"

    # TRAP: "check-local" left at its default (enable) on the /v2/ route
    cp "$T/lt.conf" "$T/lt-mistake.conf"
    edit_copy "$T/lt-mistake.conf" \
        's.replace("\"check-local\" => \"disable\",\n  )),\n  # The registry", "\"check-local\" => \"enable\",\n  )),\n  # The registry", 1)'
    start_lighttpd lighttpd-mistake "$M1" "$T/lt-mistake.conf"
    is "$(req ltm -X POST -H 'Content-Length: 0' "http://127.0.0.1:$M1/v2/ltm-$RANDOM/x/blobs/uploads/")" 202 \
        "lighttpd check-local enabled: an anonymous blob upload gets 202 from the registry (ocigate never asked)"
    SCN_CHALLENGE=$BASIC_CHALLENGE mistake lighttpd-check-local "http://127.0.0.1:$M1"
    caught lighttpd-check-local "anonymous POST .*: 401" "the anonymous upload is not refused"
    caught lighttpd-check-local "no refused write reached the registry" "a refused write reaches the registry"
    stop_pid "$LIGHTTPD_PID"
else
    skip_server 1 "lighttpd not installed"
fi

# ------------------------------------------------------------------- nginx --

if have nginx; then
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx.conf" \
        sock="$T/ocigate.sock" regport="$REC_PORT" port="$NGX_PORT"
    start_nginx nginx "$NGX_PORT" "$T/nginx.conf"
    SCN_CHALLENGE=$BASIC_CHALLENGE SCN_FWD_STATUS=400 run_scenario nginx "http://127.0.0.1:$NGX_PORT"
    health nginx "http://127.0.0.1:$NGX_PORT"
    stop_pid "$SERVER_PID"

    # bearer mode: the token endpoint behind location /ocigate/, skopeo
    # doing the token dance
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx-bearer.conf" \
        sock="$T/ocigate-bearer.sock" regport="$REC_PORT" port="$NGXB_PORT"
    start_nginx nginx-bearer "$NGXB_PORT" "$T/nginx-bearer.conf"
    SCN_CHALLENGE="^Bearer realm=\"$TOKEN_REALM\",service=\"$REALM\"(,scope=\"[^\"]*\")?\$" SCN_FWD_STATUS=400 \
        run_scenario nginx-bearer "http://127.0.0.1:$NGXB_PORT"
    is "$(req tok -u "$SCN_CI" "$TOKEN_REALM?service=$REALM&scope=repository:x/y:pull,push")" 200 \
        "nginx-bearer: the token endpoint answers ci through nginx"
    ok '[ "$(jq -r .token "$T/tok.body" | tr -cd . | wc -c)" = 2 ]' "nginx-bearer: ... with a JWT"
    tok=$(jq -r '.token // empty' "$T/tok.body")
    [ -n "$tok" ] && secret "$tok"
    ok 'grep -q "\"action\":\"token\"" "$T/ocigate-bearer.log"' "nginx-bearer: skopeo fetched tokens from ocigate"
    stop_pid "$SERVER_PID"

    # TRAP: auth_request only inside "location /v2/", and a regex location
    # added for uploads (nginx prefers it to the prefix location)
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx-mistake.conf" \
        sock="$T/ocigate.sock" regport="$REC_PORT" port="$M2"
    edit_copy "$T/nginx-mistake.conf" 's.replace("\n    auth_request /_ocigate_auth;\n", "\n", 1).replace(
        "    location /v2/ {\n",
        "    location ~ ^/v2/.+/blobs/uploads/ {\n        client_max_body_size 0;\n        proxy_pass http://127.0.0.1:'"$REC_PORT"';\n    }\n    location /v2/ {\n        auth_request /_ocigate_auth;\n", 1)'
    start_nginx nginx-mistake "$M2" "$T/nginx-mistake.conf"
    is "$(req ngm -X POST -H 'Content-Length: 0' "http://127.0.0.1:$M2/v2/ngm-$RANDOM/x/blobs/uploads/")" 202 \
        "nginx, auth_request per location + an upload regex location: an anonymous blob upload gets 202"
    SCN_CHALLENGE=$BASIC_CHALLENGE mistake nginx-auth-location "http://127.0.0.1:$M2"
    caught nginx-auth-location "anonymous POST .*: 401" "the anonymous upload is not refused"
    caught nginx-auth-location "no refused write reached the registry" "a refused write reaches the registry"
    stop_pid "$SERVER_PID"

    # TRAP: identity headers not set by nginx (the client's pass through)
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx-mistake2.conf" \
        sock="$T/ocigate.sock" regport="$REC_PORT" port="$M3"
    edit_copy "$T/nginx-mistake2.conf" \
        '__import__("re").sub(r"\n *proxy_set_header X-Ocigate-\w+ +\$ocigate_\w+;", "", s)'
    start_nginx nginx-mistake2 "$M3" "$T/nginx-mistake2.conf"
    SCN_CHALLENGE=$BASIC_CHALLENGE mistake nginx-no-identity "http://127.0.0.1:$M3"
    caught nginx-no-identity "the registry got X-Ocigate-User: ci, not the spoofed admin" \
        "the client's X-Ocigate-User: admin reaches the registry"
    stop_pid "$SERVER_PID"
else
    skip_server 1 "nginx not installed"
fi

# ------------------------------------------------------------------- Caddy --

if have caddy; then
    for form in Caddyfile Caddyfile.explicit; do
        name=caddy; port=$CADDY_PORT
        [ "$form" = Caddyfile.explicit ] && { name=caddy-explicit; port=$CADDYX_PORT; }
        deploy_copy "$DEPLOY/caddy/$form" "$T/$form" \
            sock="$T/ocigate-caddy.sock" regport="$REC_PORT" port="$port"
        start_caddy "$name" "$port" "$T/$form"
        # Caddy overwrites a client's X-Forwarded-Method with the real one:
        # the forged PUT is judged as the PUT it is (401)
        SCN_CHALLENGE=$BASIC_CHALLENGE SCN_FWD_STATUS=401 run_scenario "$name" "http://127.0.0.1:$port"
        health "$name" "http://127.0.0.1:$port"
        req "status-$name" "http://127.0.0.1:$port/v2/" > /dev/null
        is "$(hdr "status-$name" Status)" "" "$name: the CGI Status: line is not passed to the client as a header"
        stop_pid "$SERVER_PID"
    done

    # TRAP: a Caddyfile that lost its env OCIGATE_METHOD/OCIGATE_URI lines.
    # Caddy asks with REQUEST_METHOD=GET; ocigate (trustForwardedHeaders)
    # requires the two params and refuses every request without them: never
    # a PUT judged as a GET.
    deploy_copy "$DEPLOY/caddy/Caddyfile" "$T/Caddyfile-mistake" \
        sock="$T/ocigate-caddy.sock" regport="$REC_PORT" port="$M4"
    edit_copy "$T/Caddyfile-mistake" '__import__("re").sub(r"\n\t+env OCIGATE_(METHOD|URI) [^\n]*", "", s)'
    start_caddy caddy-mistake "$M4" "$T/Caddyfile-mistake"
    is "$(req cm1 -u "$SCN_ADMIN" -X DELETE "http://127.0.0.1:$M4/v2/x/y/manifests/sha256:$(printf %064d 0)")" 400 \
        "Caddy without the env lines: admin's DELETE is 400"
    like "$(jq -r '.errors[0].message' "$T/cm1.body" 2>/dev/null)" 'OCIGATE_METHOD and OCIGATE_URI' \
        "... ocigate says the web server must set OCIGATE_METHOD and OCIGATE_URI"
    is "$(req cm2 -u "$SCN_CI" -X POST -H 'Content-Length: 0' "http://127.0.0.1:$M4/v2/x/y/blobs/uploads/")" 400 \
        "... ci's blob upload is 400"
    is "$(req cm3 -X PUT -H 'Content-Type: application/json' --data-binary '{}' \
          "http://127.0.0.1:$M4/v2/x/y/manifests/v1")" 400 "... an anonymous PUT is 400 (never judged as the GET Caddy asks with)"
    is "$(req cm4 -u "$SCN_CI" "http://127.0.0.1:$M4/v2/")" 400 "... even a GET is 400: the mistake shows at once"
    SCN_CHALLENGE=$BASIC_CHALLENGE SCN_FWD_STATUS=401 mistake caddy-no-env "http://127.0.0.1:$M4"
    caught caddy-no-env "admin pushes" "admin cannot push"
    caught caddy-no-env "ci pushes a new tag" "ci cannot push"
    caught caddy-no-env "anonymous pull" "anonymous clients cannot pull"
    stop_pid "$SERVER_PID"

    # TRAP: the same in the explicit form
    deploy_copy "$DEPLOY/caddy/Caddyfile.explicit" "$T/Caddyfile.explicit-mistake" \
        sock="$T/ocigate-caddy.sock" regport="$REC_PORT" port="$M5"
    edit_copy "$T/Caddyfile.explicit-mistake" '__import__("re").sub(r"\n\t+env OCIGATE_(METHOD|URI) [^\n]*", "", s)'
    start_caddy caddy-explicit-mistake "$M5" "$T/Caddyfile.explicit-mistake"
    is "$(req cxm1 -X PUT -H 'Content-Type: application/json' --data-binary '{}' \
          "http://127.0.0.1:$M5/v2/x/y/manifests/v1")" 400 \
        "Caddy explicit form without the env lines: an anonymous PUT is 400"
    SCN_CHALLENGE=$BASIC_CHALLENGE SCN_FWD_STATUS=401 mistake caddy-explicit-no-env "http://127.0.0.1:$M5"
    caught caddy-explicit-no-env "admin pushes" "admin cannot push"
    stop_pid "$SERVER_PID"

    # No longer a trap: the explicit form without its header_up
    # X-Forwarded-* lines. A client's forged X-Forwarded-Method then reaches
    # ocigate, which does not believe it and refuses the disagreement (on
    # main this anonymous upload got 202 from the registry).
    deploy_copy "$DEPLOY/caddy/Caddyfile.explicit" "$T/Caddyfile.explicit-noheaderup" \
        sock="$T/ocigate-caddy.sock" regport="$REC_PORT" port="$M5"
    edit_copy "$T/Caddyfile.explicit-noheaderup" \
        's.replace("\t\t\theader_up X-Forwarded-Method {method}\n\t\t\theader_up X-Forwarded-Uri {uri}\n", "", 1)'
    start_caddy caddy-explicit-noheaderup "$M5" "$T/Caddyfile.explicit-noheaderup"
    is "$(req cxm -X POST -H 'Content-Length: 0' -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /v2/x/y/tags/list' \
          "http://127.0.0.1:$M5/v2/cxm-$RANDOM/x/blobs/uploads/")" 400 \
        "Caddy explicit form without header_up: an anonymous upload claiming 'X-Forwarded-Method: GET' is 400"
    is "$(jq -r 'select(.method == "POST") | .path' "$T/recorded.jsonl" | grep -c '^/v2/cxm-' || true)" 0 \
        "... and never reaches the registry"
    stop_pid "$SERVER_PID"
else
    skip_server 1 "caddy not installed"
fi

# ------------------------------------------------------------------ Apache --

if have apache2; then
    deploy_copy "$DEPLOY/apache/ocigate.conf" "$T/apache.conf" \
        tcp="$TCP_PORT" regport="$REC_PORT" port="$APACHE_PORT"
    start_apache apache "$APACHE_PORT" "$T/apache.conf"
    SCN_CHALLENGE=$BASIC_CHALLENGE SCN_FWD_STATUS=400 run_scenario apache "http://127.0.0.1:$APACHE_PORT"
    health apache "http://127.0.0.1:$APACHE_PORT"
    ok 'grep -q " user=ci$" "$T/apache-access.log"' "apache: the access log names the user ocigate decided on (UserExpr)"
    stop_pid "$SERVER_PID"

    # TRAP: CGIPassAuth left out
    deploy_copy "$DEPLOY/apache/ocigate.conf" "$T/apache-mistake.conf" \
        tcp="$TCP_PORT" regport="$REC_PORT" port="$M6"
    edit_copy "$T/apache-mistake.conf" '__import__("re").sub(r"\n *CGIPassAuth On\n", "\n", s, count=1)'
    start_apache apache-mistake "$M6" "$T/apache-mistake.conf"
    is "$(req am1 -u "$SCN_CI" "http://127.0.0.1:$M6/v2/")" 401 \
        "Apache without CGIPassAuth On: GET /v2/ as ci is 401 (ocigate never sees Authorization)"
    SCN_CHALLENGE=$BASIC_CHALLENGE mistake apache-no-cgipassauth "http://127.0.0.1:$M6"
    caught apache-no-cgipassauth "GET /v2/ as ci: 200" "ci cannot log in"
    caught apache-no-cgipassauth "admin pushes" "admin cannot push"
    caught apache-no-cgipassauth "ci pushes a new tag" "ci cannot push"
    stop_pid "$SERVER_PID"
else
    skip_server 1 "apache2 not installed"
fi

ok '! grep -rqF -e "$PASS_ci" -e "$PASS_admin" "$T"/ocigate*.log "$T"/nginx*.log "$T"/caddy*.log "$T"/apache*.log' \
    "no password appears in ocigate's or the web servers' logs"

done_testing
