#!/usr/bin/env bash
# browser_signin.sh - browser sign-in with OpenID Connect, end to end:
# headless Chromium (tests/browser/signin.mjs, playwright-core) -> lighttpd
# (deploy/lighttpd/ocigate-external.conf) -> ocigate serve, against the test
# IdP (tests/idp/server.mjs) with its interactive login and consent pages.
#
#   endpoints.login redirects to the IdP (code flow, PKCE S256, state,
#   nonce, the configured scopes) with a sealed login cookie on the callback
#   path; the sign-in comes back to endpoints.keys with the session cookie
#   (HttpOnly, SameSite=Lax, Path=/ocigate, no Secure on http) that opens on
#   the next request; logout clears it through the IdP's end_session
#   endpoint; state mismatch, an expired sign-in, denied consent, a refused
#   code and the IdP down are HTML pages with a link to sign in again; no
#   secret in any log.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/webserver_lib.sh"
e2e_init lighttpd curl jq node chromium
BROWSER=$OCIGATE_SRCDIR/tests/browser/signin.mjs

plan 51

# ------------------------------------------------------------------ setup ---

read -r REG_PORT LT_PORT TCP_PORT NGX_PORT CADDY_PORT CADDYX_PORT APACHE_PORT LT2_PORT <<<"$(free_ports 8)"
U=http://127.0.0.1:$LT_PORT
start_idp --redirect-uri "$U/ocigate/callback" --post-logout-uri "$U/ocigate/keys"

"$OCIGATE_BIN" session-key generate > "$T/session.key" 2> "$T/session-key.err" ||
    bail "ocigate session-key generate failed: $(cat "$T/session-key.err")"
secret "$(cat "$T/session.key")"
( umask 077; jq -r .web_client.secret "$T/idp.json" > "$T/client.secret" )
jq -n --arg reg "http://127.0.0.1:$REG_PORT" --arg issuer "$ISSUER" --arg url "$U" \
      --arg key "$T/session.key" --arg sec "$T/client.secret" '{
  realm: "ocigate-e2e",
  externalUrl: $url,
  registry: { url: $reg, timeoutMs: 2000 },
  session: { keyFile: $key, lifetimeSeconds: 3600 },
  auth: {
    openid: { issuer: $issuer, audiences: ["registry"], clientId: "registry-web",
              clientSecretFile: $sec,
              claimMapping: { username: "preferred_username", groups: "groups" },
              leewaySeconds: 5 }
  },
  accessControl: {
    repositories: { "**": { anonymousPolicy: ["read"], defaultPolicy: ["read"] } },
    adminPolicy: { groups: ["admins"], actions: ["read", "create", "update", "delete"] }
  },
  log: { level: "info", format: "json" }
}' > "$T/ocigate.json" || bail "jq failed writing ocigate.json"

"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.out" 2>&1
ok $? "ocigate check accepts a config with browser sign-in" || diag "$(cat "$T/check.out")"
like "$(cat "$T/check.out")" "browser sign-in: client \"registry-web\", redirect URI $U/ocigate/callback, sessions of 3600 s" \
    "ocigate check shows the redirect URI to register at the issuer"
cp "$T/session.key" "$T/open.key" && chmod 0644 "$T/open.key"
jq --arg k "$T/open.key" '.session.keyFile = $k' "$T/ocigate.json" > "$T/open.json"
"$OCIGATE_BIN" check -c "$T/open.json" > "$T/check-open.out" 2>&1
CHK_RC=$?
ok '[ "$CHK_RC" = 2 ] && grep -q "readable by group or others (mode 0644)" "$T/check-open.out"' \
    "ocigate check refuses a session key file its group or others may read, as serve does"
rm -f "$T/open.key"

start_ocigate "$T/ocigate.sock" 2
OG_MAIN=$OCIGATE_PID
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"

# browser STEP [USER [NAME]]: one scenario of signin.mjs as USER (alice);
# its JSON in $T/NAME.json (NAME defaults to STEP)
browser() {
    local out=${3:-$1}
    timeout 120 node "$BROWSER" --base "$U" --idp-state "$T/idp.json" --step "$1" \
        --user "${2:-alice}" --screenshot "$T/$out.png" > "$T/$out.json" 2> "$T/browser-$out.log"
    if ! jq -e . "$T/$out.json" > /dev/null 2>&1 || jq -e .error "$T/$out.json" > /dev/null; then
        diag "browser step $1: $(head -c 600 "$T/$out.json") $(tail -n 5 "$T/browser-$out.log")"
    fi
}
j() { jq -r "$2" "$T/$1.json" 2>/dev/null; }

# login_cookie NAME: the sealed login cookie value of req NAME's answer
login_cookie() { tr -d '\r' < "$T/$1.hdr" | sed -n 's/^[Ss]et-[Cc]ookie: ocigate_login=\([^;]*\);.*/\1/p' | head -n 1; }
# state_of NAME: the state parameter of req NAME's Location
state_of() { hdr "$1" Location | sed -n 's/.*[?&]state=\([^&]*\).*/\1/p'; }

# ---------------------------------------------------- endpoints.keys ---
# Without a session the key page sends the browser to endpoints.login.
keys_st=$(req keys "$U/ocigate/keys")   # not "st": ok() has a local of that name
ok '[ "$keys_st" = 302 ] || [ "$keys_st" = 303 ]' "GET endpoints.keys without a session redirects ($keys_st) ..."
like "$(hdr keys Location)" "/ocigate/login\$" "... to endpoints.login"

# ---------------------------------------------------- endpoints.login ---

st=$(req login -H 'Cookie: theme=dark' "$U/ocigate/login")
loc=$(hdr login Location)
setc=$(tr -d '\r' < "$T/login.hdr" | grep -i '^set-cookie: ocigate_login=' || true)
LOGIN1=$(login_cookie login)
STATE1=$(state_of login)
[ -n "$LOGIN1" ] && secret "$LOGIN1"
is "$st" 302 "GET endpoints.login without a session: 302"
like "$loc" "^$ISSUER/auth\\?response_type=code&client_id=registry-web&redirect_uri=http%3A%2F%2F127.0.0.1%3A$LT_PORT%2Focigate%2Fcallback&scope=openid%20profile%20email%20groups&state=[A-Za-z0-9_-]{43}&nonce=[A-Za-z0-9_-]{43}&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256\$" \
    "it redirects to the issuer's authorization_endpoint: code flow, client id, redirect URI = externalUrl + endpoints.callback, the scopes, state, nonce, PKCE S256"
like "$setc" '^[Ss]et-[Cc]ookie: ocigate_login=[A-Za-z0-9_-]{100,}; Path=/ocigate/callback; Max-Age=600; HttpOnly; SameSite=Lax$' \
    "state, nonce and verifier travel in a sealed login cookie (Path=endpoints.callback, 10 min, HttpOnly, SameSite=Lax, no Secure on http)"
unlike "$(cat "$T/login.hdr")" "$STATE1\\b.*ocigate_login|ocigate_login=[^;]*$STATE1" "the login cookie does not hold the state in clear"
st2=$(req login2 "$U/ocigate/login")
[ -n "$(login_cookie login2)" ] && secret "$(login_cookie login2)"
ok '[ "$st2" = 302 ] && [ "$(state_of login2)" != "$STATE1" ] && [ "$(login_cookie login2)" != "$LOGIN1" ]' \
    "every sign-in gets its own state and login cookie"

# ---------------------------------------------------- the sign-in itself ---

browser signin
is "$(j signin '.authorization | [.response_type, .client_id, .scope, .code_challenge_method, .state_len, .nonce_len, .code_challenge_len] | join(" ")')" \
   "code registry-web openid profile email groups S256 43 43 43" \
   "in Chromium, endpoints.login goes to the IdP with the code flow, PKCE S256, state and nonce"
is "$(j signin .authorization.redirect_uri)" "$U/ocigate/callback" "redirect_uri is externalUrl + endpoints.callback"
is "$(j signin '[.callback_status, .callback_location] | join(" ")')" "303 $U/ocigate/keys" \
   "after the IdP's login and consent, endpoints.callback answers 303 to endpoints.keys"
is "$(j signin '.callback_set_cookie[] | select(.name == "ocigate_session") | [.path, ."max-age", .httponly, .samesite, (.secure // false)] | map(tostring) | join(" ")')" \
   "/ocigate 3600 true Lax false" \
   "the session cookie: Path=/ocigate (ocigate's pages), Max-Age=session.lifetimeSeconds, HttpOnly, SameSite=Lax, no Secure on http"
is "$(j signin '.callback_set_cookie[] | select(.name == "ocigate_login") | [.path, ."max-age", .empty] | map(tostring) | join(" ")')" \
   "/ocigate/callback 0 true" "the callback clears the login cookie"
is "$(j signin '.cookies.ocigate_session | [.path, .httpOnly, .sameSite, .secure] | map(tostring) | join(" ")')" \
   "/ocigate true Lax false" "Chromium keeps the session cookie with those flags"
is "$(j signin '.cookies | keys | join(",")')" "ocigate_session" "and no login cookie"
is "$(j signin .landed)" /ocigate/keys "the browser lands on endpoints.keys"
is "$(j signin '.login_again | [.path, .via_idp] | map(tostring) | join(" ")')" "/ocigate/keys false" \
   "signed in, endpoints.login sends the browser straight to endpoints.keys: the session cookie opens"
ok 'grep -q "\"path\":\"/ocigate/callback\".*\"user\":\"alice\".*\"auth\":\"openid\".*\"status\":303" "$T/ocigate.log" ||
    grep -q "\"user\":\"alice\"" "$T/ocigate.log"' \
   "the callback is logged with the identity from the IdP (alice, openid)"
ok 'grep "\"path\":\"/ocigate/login\"" "$T/ocigate.log" | grep "\"status\":303" | grep -q "\"user\":\"alice\""' \
   "the session's identity (alice) is what ocigate sees on the next request"
ok 'grep -q "\"method\":\"POST\",\"path\":\"/token\",\"status\":200,\"client_auth\":\"basic\"" "$T/idp.log" &&
    grep -q "\"method\":\"GET\",\"path\":\"/me\",\"status\":200" "$T/idp.log"' \
   "the code was exchanged with client_secret_basic and, the ID token lacking preferred_username and groups, userinfo was asked"
ok '[ "$(j signin .logout.through_end_session)" = true ] && [ "$(j signin .logout.location)" = "$ISSUER/session/end" ]' \
   "endpoints.logout goes through the IdP's end_session_endpoint"
is "$(j signin '.logout.set_cookie[] | select(.name == "ocigate_session") | [.path, ."max-age", .empty] | map(tostring) | join(" ")')" \
   "/ocigate 0 true" "endpoints.logout clears the session cookie"
is "$(j signin '[.logout.landed, (.cookies_after_logout | length), .login_after_logout_via_idp] | map(tostring) | join(" ")')" \
   "/ocigate/keys 0 true" "after the IdP's sign-out the browser is back on endpoints.keys, without a session: endpoints.login goes to the IdP again"

# ---------------------------------------------------- failures as pages ---

browser mismatch
is "$(j mismatch '[.status, .title, .has_signin_link] | map(tostring) | join("|")')" \
   "400|This sign-in does not match|true" "a callback whose state is not the login cookie's: 400 page with a link to sign in again"
like "$(j mismatch .csp)" "default-src 'none'.*frame-ancestors 'none'" "the page carries a strict Content-Security-Policy with frame-ancestors 'none'"
is "$(j mismatch '[.xfo, .content_type] | join(" ")')" "DENY text/html; charset=utf-8" "and X-Frame-Options: DENY; it is HTML, not JSON"

browser expired
is "$(j expired '[.status, .title, .has_signin_link] | map(tostring) | join("|")')" \
   "400|This sign-in has expired|true" "a callback without a login cookie (expired, or started elsewhere): 400 page"

browser deny
is "$(j deny '[.status, .title, .has_signin_link, (.cookies | length)] | map(tostring) | join("|")')" \
   "403|Sign-in cancelled|true|0" "consent denied at the IdP: 403 page saying so, no session"

browser cancel
is "$(j cancel '[.status, .title, (.cookies | length)] | map(tostring) | join("|")')" \
   "403|Sign-in cancelled|0" "sign-in cancelled on the IdP's login page: the same page"

# A code the IdP never issued, with a valid login cookie and state.
st=$(req badcode -b "ocigate_login=$(login_cookie login2)" "$U/ocigate/callback?code=forged-code-0123456789&state=$(state_of login2)")
is "$st" 403 "a forged authorization code with the right state: 403"
like "$(body badcode)" 'id="error-title">Sign-in refused<' "a page saying the sign-in was refused"
like "$(tr -d '\r' < "$T/badcode.hdr" | grep -i '^set-cookie:' | tr '\n' ' ')" 'ocigate_login=; Path=/ocigate/callback; Max-Age=0' \
   "a failed callback clears the login cookie (one attempt per sign-in)"
ok 'grep -q "token endpoint refused the code (HTTP 400, error invalid_grant)" "$T/ocigate.log"' \
   "the refusal is logged with the IdP's error code"

# The same login cookie with another state: mismatch, whatever the cookie.
st=$(req wrongstate -b "ocigate_login=$LOGIN1" "$U/ocigate/callback?code=x&state=$(state_of login2)")
is "$st" 400 "a login cookie with the state of another sign-in: 400"

# ---------------------------------------------------- every door ---
# Through each shipped web server config: endpoints.login's Location and
# Set-Cookie reach the browser, the browser's Cookie reaches ocigate (with it
# a wrong state is a "mismatch", without it the sign-in "has expired"), and
# endpoints.logout's cookie-clearing redirect comes back out.
jq '.trustForwardedHeaders = true' "$T/ocigate.json" > "$T/ocigate-caddy.json"
start_ocigate_at ocigate-doors "unix:$T/ocigate-doors.sock,mode=0666" "$T/ocigate.json"
start_ocigate_at ocigate-caddy "unix:$T/ocigate-caddy.sock,mode=0666" "$T/ocigate-caddy.json"
start_ocigate_at ocigate-apache "tcp:127.0.0.1:$TCP_PORT" "$T/ocigate.json"
door() { # NAME BASE
    local base=$2
    D=$1
    D1=$(req "$D-login" "$base/ocigate/login")
    DC=$(login_cookie "$D-login")
    [ -n "$DC" ] && secret "$DC"
    D2=$(req "$D-cb" -b "ocigate_login=$DC" "$base/ocigate/callback?code=x&state=$STATE1")
    D3=$(req "$D-out" -b "ocigate_session=not-a-session" "$base/ocigate/logout")
    ok '[ "$D1" = 302 ] && [[ $(hdr "$D-login" Location) == "$ISSUER/auth?"* ]] && [ -n "$DC" ] &&
        [ "$D2" = 400 ] && grep -q "This sign-in does not match" "$T/$D-cb.body" &&
        [ "$D3" = 303 ] && [[ $(hdr "$D-out" Location) == "$ISSUER/session/end?"* ]] &&
        grep -qi "^set-cookie: ocigate_session=; Path=/ocigate; Max-Age=0" "$T/$D-out.hdr"' \
        "$D: Location and Set-Cookie pass out, Cookie passes in (login, callback, logout)" ||
        diag "$D: $D1 $D2 $D3 $(head -c 300 "$T/$D-cb.body")"
}
if need_door nginx nginx; then
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx.conf" \
        sock="$T/ocigate-doors.sock" regport="$REG_PORT" port="$NGX_PORT"
    start_nginx nginx "$NGX_PORT" "$T/nginx.conf"
    door nginx "http://127.0.0.1:$NGX_PORT"
    stop_pid "$SERVER_PID"
fi
if need_door caddy caddy; then
    for form in Caddyfile Caddyfile.explicit; do
        name=caddy port=$CADDY_PORT
        [ "$form" = Caddyfile.explicit ] && { name=caddy-explicit port=$CADDYX_PORT; }
        deploy_copy "$DEPLOY/caddy/$form" "$T/$form" \
            sock="$T/ocigate-caddy.sock" regport="$REG_PORT" port="$port"
        start_caddy "$name" "$port" "$T/$form"
        door "$name" "http://127.0.0.1:$port"
        stop_pid "$SERVER_PID"
    done
fi
if need_door apache apache2; then
    deploy_copy "$DEPLOY/apache/ocigate.conf" "$T/apache.conf" \
        tcp="$TCP_PORT" regport="$REG_PORT" port="$APACHE_PORT"
    start_apache apache "$APACHE_PORT" "$T/apache.conf"
    door apache "http://127.0.0.1:$APACHE_PORT"
    stop_pid "$SERVER_PID"
fi
door lighttpd "$U"
# lighttpd starting ocigate itself (bin-path)
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-authorizer.conf" "$T/lt-spawn.conf" regport="$REG_PORT"
LT_MAIN=$LIGHTTPD_PID
start_lighttpd lighttpd-spawn "$LT2_PORT" "$T/lt-spawn.conf"
wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$LT2_PORT/ocigate/healthz"
door lighttpd-bin-path "http://127.0.0.1:$LT2_PORT"
stop_pid "$LIGHTTPD_PID"
LIGHTTPD_PID=$LT_MAIN

# ---------------------------------------------------- the IdP down ---

stop_pid "$IDP_PID"
kill -HUP "$OG_MAIN"              # fresh workers: no discovery document cached
sleep 1
st=$(req down "$U/ocigate/login")
is "$st" 503 "the IdP down: endpoints.login answers 503"
like "$(body down | tr "\n" " ")" 'id="error-title">The sign-in service cannot be reached<.*href="http://127.0.0.1:[0-9]+/ocigate/login"' \
   "with a page that says so and links to sign in again"
like "$(hdr down Content-Type)" '^text/html' "as HTML"
LOGIN3=$(login_cookie login2)
st=$(req down2 -b "ocigate_login=$LOGIN3" "$U/ocigate/callback?code=some-code-0123456789&state=$(state_of login2)")
is "$st" 503 "the IdP down during a sign-in: the callback answers the same 503 page"

# ------------------------- client_secret_post, claims in the ID token ---
# Another issuer whose discovery lists only client_secret_post and whose ID
# tokens carry preferred_username and groups: ocigate falls back to post and
# does not ask userinfo. (The same ocigate, reloaded with the new issuer.)
IDP_LINES=$(wc -l < "$T/idp.log")
start_idp --redirect-uri "$U/ocigate/callback" --post-logout-uri "$U/ocigate/keys" \
    --client-auth post --id-token-claims
( umask 077; jq -r .web_client.secret "$T/idp.json" > "$T/client.secret" )
jq --arg issuer "$ISSUER" '.auth.openid.issuer = $issuer' "$T/ocigate.json" > "$T/ocigate.json.new" &&
    mv "$T/ocigate.json.new" "$T/ocigate.json"
kill -HUP "$OG_MAIN"
wait_until 10 grep -q "configuration reloaded" "$T/ocigate.log"
sleep 1
browser signin bob signin-post
is "$(j signin-post '[.landed, .login_again.path, .login_again.via_idp, .logout.through_end_session] | map(tostring) | join(" ")')" \
   "/ocigate/keys /ocigate/keys false true" \
   "an issuer that supports only client_secret_post: bob signs in, his session opens, he signs out"
ok 'tail -n +"$((IDP_LINES + 1))" "$T/idp.log" | grep -q "\"method\":\"POST\",\"path\":\"/token\",\"status\":200,\"client_auth\":\"body\"" &&
    ! tail -n +"$((IDP_LINES + 1))" "$T/idp.log" | grep -q "\"path\":\"/me\"" &&
    grep "\"path\":\"/ocigate/callback\"" "$T/ocigate.log" | grep "\"status\":303" | grep -q "\"user\":\"bob\""' \
   "the code went with client_secret_post; the ID token's own claims named bob, no userinfo request"

# ---------------------------------------------------- logs ---

ok 'grep "\"rule\":\"signin\"" "$T/ocigate.log" | grep -q "state mismatch" &&
    grep "\"rule\":\"signin\"" "$T/ocigate.log" | grep -q "denied access" &&
    grep "\"rule\":\"signin\"" "$T/ocigate.log" | grep -q "OpenID provider discovery failed"' \
   "every failure is logged with its reason"
ok '! grep -qaF -f "$T/.secrets" "$T"/signin*.json "$T"/deny.json "$T"/cancel.json "$T"/mismatch.json "$T"/expired.json "$T"/*.out' \
   "no registered secret (passwords, client secret, session key, login cookies) in the browser reports or command outputs"
unlike "$(cat "$T"/*.log)" 'forged-code-0123456789|some-code-0123456789|ocigate_session=[A-Za-z0-9_-]{20}' \
   "no authorization code or session cookie in any log"

done_testing
