#!/bin/bash
# key_page.sh - the key page (endpoints.keys) end to end, in headless Chromium
# (tests/browser/keys.mjs, Debian's chromium driven by playwright-core),
# through lighttpd (deploy/lighttpd/ocigate-external.conf) and the test
# OpenID provider's interactive login:
#   - alice signs in: the page's ids, headers (CSP, nosniff, no-store), the
#     session cookie's flags, keyboard order, 360 px without horizontal
#     scrolling; screenshots (desktop, 360 px, after creation with #new-key
#     masked) kept in tests/e2e/artefacts/ of the build tree;
#   - she creates a key (shown once; docker/podman login lines), pushes with
#     it (skopeo; docker after the page's login line, pasted as it is), sees
#     it listed with "last used", revokes it with its button, and the pushes
#     are refused;
#   - a key beyond auth.apikey.maxLifetimeDays or a scope outside her reach
#     is refused on the page;
#   - bob creates keys; the admin sees everyone's and revokes all of bob's;
#   - cross-site POSTs are refused: a page on another loopback origin whose
#     form posts to the key page (same-site other port: Origin refused;
#     localhost: cross-site, no cookie), POSTs with the session cookie and a
#     foreign Origin, Sec-Fetch-Site cross-site, no or a wrong CSRF token,
#     and curl with a foreign Origin; nothing is created;
#   - every creation and revocation is logged with user and key id; no key,
#     cookie or password reaches a log.
. "$(dirname "$0")/lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq python3 node npm chromium dockerd
# the browser harness (tests/browser/harness.mjs, start_idp in lib.sh) comes
# with the sign-in work; a tree without it cannot run this scenario yet
if ! declare -F start_idp > /dev/null || [ ! -f "$OCIGATE_SRCDIR/tests/browser/harness.mjs" ]; then
    skip_all "no browser harness (tests/browser/harness.mjs, start_idp) in this tree"
fi

plan 61

read -r REG_PORT REDIS_PORT LT_PORT FOREIGN_PORT < <(free_ports 4)
BASE="http://127.0.0.1:$LT_PORT"
H="127.0.0.1:$LT_PORT"
ART=${OCIGATE_ARTEFACTS:-$PWD/tests/e2e/artefacts}
mkdir -p "$ART"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_idp --redirect-uri "$BASE/ocigate/callback" --post-logout-uri "$BASE/ocigate/keys"

jq -r .web_client.secret "$T/idp.json" > "$T/client.secret" && chmod 600 "$T/client.secret"
"$OCIGATE_BIN" session-key generate > "$T/session.key" 2> "$T/session-key.err" ||
    bail "ocigate session-key generate failed: $(cat "$T/session-key.err")"
chmod 600 "$T/session.key"
secret_file "$T/session.key"
: > "$T/htpasswd"
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    "del(.auth.htpasswd) |
     .externalUrl = \"$BASE\" |
     .session = { keyFile: \"$T/session.key\", lifetimeSeconds: 3600 } |
     .auth.openid = { issuer: \"$ISSUER\", audiences: [\"registry\"],
                      clientId: $(jq .web_client.id "$T/idp.json"),
                      clientSecretFile: \"$T/client.secret\" } |
     .auth.apikey = { enabled: true, cacheSeconds: 1, maxPerUser: 10, maxLifetimeDays: 30 } |
     .accessControl.repositories[\"team/**\"] = { policies: [ { users: [\"bob\"], actions: [\"read\"] } ] } |
     .accessControl.repositories[\"private/**\"] = { policies: [ { groups: [\"artifact-workloads\"], actions: [\"read\", \"create\"] } ] }"
"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.out" 2>&1
ok $? "ocigate check accepts the browser sign-in config" || diag "$(cat "$T/check.out")"

start_ocigate "$T/ocigate.sock" 2
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"

browser() {   # STEP [ARGS...]: one run of keys.mjs, its JSON in $T/STEP.json
    local step=$1
    shift
    timeout 120 node "$OCIGATE_SRCDIR/tests/browser/keys.mjs" --base "$BASE" \
        --idp-state "$T/idp.json" --step "$step" "$@" > "$T/$step.json" 2> "$T/$step.err"
    jq -e 'has("error") | not' "$T/$step.json" > /dev/null ||
        diag "$step: $(jq -r '.error // empty' "$T/$step.json" 2>/dev/null) $(tail -n 3 "$T/$step.err")"
}
j() { jq -r "$2" "$T/$1.json" 2>/dev/null; }
redact() { sed -e 's/zak_[0-9a-f]\{6,\}/zak_<redacted>/g'; }
key_from() { local k; k=$(cat "$1" 2>/dev/null); [ -n "$k" ] && secret "$k"; printf '%s' "$k"; }
IMG=$T/img
push_with() {  # USER KEY REPO:TAG: skopeo push of a fresh image
    python3 "$MKIMAGE" "$IMG" "$3" > /dev/null 2>&1 || return 1
    skopeo_copy "oci:$IMG:$3" "docker://$H/$3" --dest-creds "$1:$2"
}

# ------------------------------------------------ no session -----------------
code=$(req nosess "$BASE/ocigate/keys")
is "$code:$(hdr nosess Location)" "303:/ocigate/login" "GET the key page without a session: 303 to endpoints.login"
code=$(req nosess-post -X POST -H "Origin: $BASE" -d 'label=x' "$BASE/ocigate/keys/create")
is "$code" 403 "POST without a session: 403"
code=$(req foreign -X POST -H 'Origin: http://evil.example' --data-urlencode 'label=x' "$BASE/ocigate/keys/create")
is "$code" 403 "curl POST with a foreign Origin: 403"

# ------------------------------------------------ alice creates a key --------
browser create --user alice --label "ci one" --expires 7 --key-out "$T/alice.key" --shots "$ART"
KEY=$(key_from "$T/alice.key")
is "$(j create .headers.status)" 200 "alice signed in through the IdP sees the key page (200)"
is "$(j create .headers.csp)" "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" \
    "the page's Content-Security-Policy"
is "$(j create '[.headers.nosniff, .headers.cache, .headers.referrer] | join(" ")')" "nosniff no-store no-referrer" \
    "X-Content-Type-Options nosniff, Cache-Control no-store, Referrer-Policy no-referrer"
is "$(j create '[.css.status, .css.content_type, .js.status, .js.content_type] | join(" ")')" \
    "200 text/css; charset=utf-8 200 text/javascript; charset=utf-8" "app.css and app.js are served under endpoints.keys"
is "$(j create 'if .third_party then (.third_party | length) else "missing" end')" 0 "nothing is loaded from another origin"
is "$(j create .user)" alice "#user names alice"
is "$(j create .signout_href)" /ocigate/logout "#signout goes to endpoints.logout"
like "$(j create .empty)" "No keys yet" "the honest empty state"
is "$(j create '[.ids[]] | map(tostring) | join(",")')" "true,true,true,true,true,true,true,false" \
    "#user #keys #create-key #label #repos #expires #signout present, #new-key not before a creation"
is "$(j create '[.submit, .labelled.label, .labelled.repos, .labelled.expires] | map(tostring) | join(",")')" \
    "true,1,1,1" "a submit button; every field has its <label>"
is "$(j create '[.cookie.httpOnly, .cookie.sameSite, .cookie.secure] | map(tostring) | join(",")')" "true,Lax,false" \
    "the session cookie: HttpOnly, SameSite=Lax, not Secure over http"
like "$(j create .cookie.path)" '^/ocigate' "the session cookie's Path is limited to ocigate's pages"
like "$(j create '.tab_order | join(" ")')" 'signout.*label.*repos.*expires.*create-submit' \
    "the keyboard reaches sign-out, the fields and the submit button in order"
like "$(j create .focus_outline)" '^(solid|auto|dashed|dotted|double)$' "a visible focus outline on the fields"
ok '[ "$(j create .width_360)" -le 360 ]' "at 360 px wide nothing is wider than the screen ($(j create .width_360) px)"
ok '[ -s "$ART/key-page-alice-desktop.png" ] && [ -s "$ART/key-page-alice-360px.png" ] && [ -s "$ART/key-page-alice-created.png" ]' \
    "screenshots kept in $ART (desktop, 360 px, after creation with #new-key masked)"
is "$(j create '[.create_status, .new_key_format] | map(tostring) | join(",")')" "200,true" \
    "the form creates a key and #new-key shows it (zak_ + 32 hex)"
is "$(j create .copy_button_shown)" true "the script ran under the CSP: the copy button is shown"
is "$(j create .docker_login)" "docker login $H --username alice --password-stdin" "the docker login line to paste"
is "$(j create .podman_login)" "podman login $H --username alice --password-stdin" "the podman login line to paste"
KEY_ID=$(j create .created.id)
like "$(j create .created.expires)" '^20[0-9]{2}-' "the new key is listed with its expiry"
is "$(j create .new_key_after_reload)" false "the key is shown once: not after a reload"
is "$(j create '(.console_errors // ["missing"]) | length')" 0 "no console errors (no CSP violation)"
is "$("$OCIGATE_BIN" key show -c "$T/ocigate.json" "$KEY_ID" 2>/dev/null | sed -n 's/^origin: //p')" openid \
    "the key made on the page has origin openid"

# ------------------------------------------------ push with it, revoke it ----
push_with alice "$KEY" e2e/app:v1
ok $? "skopeo pushes with the new key" || diag "$(tail -n 3 "$T/skopeo.log" | redact)"
# docker: a private dockerd (root), the login line exactly as the page shows it
if start_dockerd "$H"; then
    line=$(j create .docker_login)
    # shellcheck disable=SC2086   # the line is words, as a person pastes it
    printf '%s\n' "$KEY" | dk ${line#docker } > "$T/docker-login.out" 2>&1
    ok $? "the page's docker login line, pasted as it is, logs docker in with the key" ||
        diag "$(tail -n 3 "$T/docker-login.out")"
    docker_image dv1 && dk tag local/img:dv1 "$H/e2e/docker:v1" &&
        dk push "$H/e2e/docker:v1" > "$T/docker-push.out" 2>&1
    ok $? "docker pushes with the key" || diag "$(tail -n 3 "$T/docker-push.out")"
else
    missing_checks 2 "docker (root, /usr/bin/docker and dockerd that starts: $(tail -n 2 "$T/dockerd.log" 2>/dev/null))"
    DK=
    dk() { return 1; }
    docker_image() { return 1; }
fi
browser list --user alice --key-id "$KEY_ID"
is "$(j list .row.label)" "ci one" "the key is listed with its label"
like "$(j list .row.last_used)" '^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC$' "... and a last-used time after the push"
is "$(j list .row.scopes)" "every repository you may reach" "... and its scopes (none: all she may reach)"
is "$(j list '[.revoke_status, .notice] | map(tostring) | join(",")')" "200,Key revoked." "its .revoke button revokes it"
is "$(jq -r --arg id "$KEY_ID" 'if .rows_after then (.rows_after | index($id) | tostring) else "missing" end' "$T/list.json" 2>/dev/null)" null \
    "... and it is gone from the list"
sleep 1.2   # auth.apikey.cacheSeconds: 1
push_with alice "$KEY" e2e/app:v2
is "$?" 1 "the push with the revoked key is refused"
like "$(tail -n 5 "$T/skopeo.log")" 'unauthorized|401|authentication required' "... as unauthorized"
if [ -n "${DK:-}" ]; then
    docker_image dv2 && dk tag local/img:dv2 "$H/e2e/docker:v2" &&
        dk push "$H/e2e/docker:v2" > "$T/docker-push2.out" 2>&1
    is "$?" 1 "the docker push with the revoked key is refused"
    like "$(tail -n 3 "$T/docker-push2.out")" 'unauthorized|authentication required' "... as unauthorized"
else
    missing_checks 2 "docker (root, /usr/bin/docker and dockerd)"
fi

# ------------------------------------------------ refusals on the page -------
browser create --user alice --label "too long" --expires 31
is "$(j create '[.create_status, (.new_key_format|tostring)] | join(",")')" "400,false" \
    "expiry beyond auth.apikey.maxLifetimeDays (30): refused"
like "$(j create .error)" "1 to 30" "... saying the limit"
browser create --user bob --label "outside" --repos "private/app"
is "$(j create '[.create_status, (.new_key_format|tostring)] | join(",")')" "403,false" \
    "bob asks for a repository he may not read (private/app): refused"
like "$(j create .error)" 'private/app is not within the repositories you may read' "... naming it"

# ------------------------------------------------ the admin -------------------
browser create --user bob --label "bob one" --repos "team/**" --key-out "$T/bob1.key"
BOB1=$(key_from "$T/bob1.key")
browser create --user bob --label "bob two" --key-out "$T/bob2.key"
BOB2=$(key_from "$T/bob2.key")
is "$("$OCIGATE_BIN" key list -c "$T/ocigate.json" --user bob --json | jq length)" 2 "bob made two keys (one scoped to team/**)"
browser revoke-all --user admin --of bob
like "$(j revoke-all '.owners_before | join(",")')" 'bob' "the admin sees bob's keys"
is "$(j revoke-all '[.of_before, .revoke_status, .of_after] | map(tostring) | join(",")')" "2,200,0" \
    "the admin revokes every key of bob with one button"
is "$("$OCIGATE_BIN" key list -c "$T/ocigate.json" --user bob --json | jq length)" 0 "... and bob has no key left"
sleep 1.2
push_with bob "$BOB2" e2e/bob:v1
is "$?" 1 "a push with bob's revoked key is refused"
: "$BOB1"

# ------------------------------------------------ cross-site POSTs -----------
mkdir -p "$T/attacker"
cat > "$T/attacker/attack.html" <<HTML
<!doctype html><html><body>
<form id="f" method="post" action="$BASE/ocigate/keys/create">
<input name="label" value="attacker"><input name="repos" value=""><input name="expires" value="1">
</form><script>document.getElementById('f').submit();</script></body></html>
HTML
(cd "$T/attacker" && exec python3 -m http.server "$FOREIGN_PORT" --bind 127.0.0.1) > "$T/attacker.log" 2>&1 &
register_pid $!
wait_port "$FOREIGN_PORT" 10 || bail "the attacker's page server did not start"
before=$("$OCIGATE_BIN" key list -c "$T/ocigate.json" --user alice --json | jq length)
browser csrf --user alice --foreign "http://127.0.0.1:$FOREIGN_PORT/attack.html" \
    --foreign "http://localhost:$FOREIGN_PORT/attack.html"
is "$(j csrf '.foreign[0].status')" 403 "a form on another origin (127.0.0.1:$FOREIGN_PORT, same site) posting to the page: 403"
like "$(j csrf '.foreign[0].message')" 'another site' "... refused for its Origin although the cookie was sent"
is "$(j csrf '.foreign[1].status')" 403 "a form on another site (localhost) posting to the page: 403 (no cookie: SameSite=Lax)"
is "$(j csrf '[.foreign_origin, .cross_site] | map(tostring) | join(",")')" "403,403" \
    "the session cookie and the right token, but a foreign Origin or Sec-Fetch-Site cross-site: 403"
is "$(j csrf '[.no_token, .wrong_token] | map(tostring) | join(",")')" "403,403" "no CSRF token, a wrong one: 403"
is "$(j csrf .rows_unchanged)" true "nothing was created by those"
is "$(j csrf '[.control, .control_row] | map(tostring) | join(",")')" "200,true" \
    "the same POST with the token and our own Origin creates the key"
is "$("$OCIGATE_BIN" key list -c "$T/ocigate.json" --user alice --json | jq length)" "$((before + 1))" \
    "exactly one key was added to alice's"

# ------------------------------------------------ sign out -------------------
browser signout --user alice
is "$(j signout '[.landed, .title, .signin_href, (.cookies_left | length)] | map(tostring) | join(" ")')" \
    "/ocigate/keys Signed out /ocigate/login 0" \
    "#signout signs out through the IdP and lands on a page that says so, with #signin, no cookie left"

# ------------------------------------------------ the log --------------------
logged() { jq -Rc --arg id "${2:-}" "fromjson? | select($1)" "$T/ocigate.log" | grep -q .; }
ok 'logged ".action == \"keys\" and .reason == \"API key created on the key page\" and .user == \"alice\" and (.key_id | length) > 0"' \
    "creations are logged with the user and the key id"
ok 'logged ".action == \"keys\" and .key_id == \$id and (.reason | startswith(\"API key of user alice revoked\"))" "$KEY_ID"' \
    "the revocation is logged with the key id and its owner"
ok 'grep -q "key page: admin revoked API key .* of user bob" "$T/ocigate.log"' \
    "the admin's revocation of bob's keys is logged key by key"

done_testing
