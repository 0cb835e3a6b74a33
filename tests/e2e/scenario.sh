#!/usr/bin/env bash
# scenario.sh - the one end-to-end scenario every web server deployment of
# deploy/ must pass (lighttpd, nginx, Caddy in both forms, Apache), with the
# three-tier policy of deploy/examples/three-tier.json behind it:
#
#   the /v2/ ping challenges; anyone pulls; admin and ci push; ci may not
#   overwrite or delete; ambiguous targets and a forged X-Forwarded-Method
#   (doc/http.md, doc/decisions.md) are refused; a client's own X-Ocigate-User never reaches
#   the registry; nothing that was refused reaches the registry.
#
# Two ways to use it:
#
#   sourced (tests/e2e/webservers.sh): after lib.sh,
#       run_scenario NAME BASE_URL
#   with these set by the caller:
#       SCN_REC        the recorder's log (webserver_lib.sh start_recorder):
#                      one JSON line per request that reached the registry
#       SCN_REG        the registry's own URL (to read what it holds)
#       SCN_CI, SCN_ADMIN   "user:password" of ci and admin
#       SCN_CHALLENGE  ERE the 401 WWW-Authenticate must match
#       SCN_FWD_STATUS status for an anonymous PUT carrying a forged
#                      "X-Forwarded-Method: GET": 400 where ocigate sees the
#                      header (trustForwardedHeaders false: it disagrees with
#                      REQUEST_METHOD), 401 behind Caddy (which overwrites it
#                      with the real method). Default 400.
#   Every check is named "NAME: ..." so that a caller can tell which ones
#   failed (webservers.sh runs it against deliberately broken configs and
#   expects particular checks to fail).
#
#   standalone, against any front door that proxies to a recorder:
#       SCN_CI=ci:PW SCN_ADMIN=admin:PW SCN_CHALLENGE='^Basic ' \
#       tests/e2e/scenario.sh NAME BASE_URL RECORDER_LOG REGISTRY_URL
#   TAP on stdout, like every test here.
#
# Needs: curl, jq, skopeo, python3 (mkimage.py).

OCI_MT=application/vnd.oci.image.manifest.v1+json

# scn_reg_digest REPO TAG: the digest the registry itself holds (asked
# directly, not through the front door), or the HTTP status.
scn_reg_digest() {
    local code
    code=$(req scn-regdigest -I -H "Accept: $OCI_MT" "$SCN_REG/v2/$1/manifests/$2")
    if [ "$code" = 200 ]; then hdr scn-regdigest Docker-Content-Digest; else echo "$code"; fi
}

# scn_reached ERE: how many requests the registry got whose "METHOD PATH"
# matches ERE.
scn_reached() {
    jq -r '.method + " " + .path' "$SCN_REC" 2>/dev/null | grep -cE -- "$1" || true
}

# scn_recorded MARK HEADER: a header (lower-case name) of the request that
# carried "X-Scenario-Mark: MARK" as the registry received it; "(absent)"
# when the registry got no such header, "(no request)" when that request
# never reached the registry.
scn_recorded() {
    local line
    line=$(jq -c --arg m "$1" 'select(.headers["x-scenario-mark"] == $m)' "$SCN_REC" 2>/dev/null | tail -n 1)
    if [ -z "$line" ]; then echo "(no request)"; return; fi
    printf '%s\n' "$line" | jq -r --arg h "$2" '.headers[$h] // "(absent)"'
}

# scn_deny NAME RESPONSE STATUS CODE WHAT: the shape of a denial (doc/http.md).
scn_deny() {
    local n=$1 r=$2 status=$3 code=$4 what=$5
    is "$(jq -r '.errors[0].code' "$T/$r.body" 2>/dev/null)" "$code" "$n: $what: OCI error body, code $code"
    like "$(hdr "$r" Content-Type)" '^application/json' "$n: $what: Content-Type application/json"
    is "$(hdr "$r" Docker-Distribution-Api-Version)" registry/2.0 "$n: $what: Docker-Distribution-Api-Version"
    if [ "$status" = 401 ]; then
        like "$(hdr "$r" WWW-Authenticate)" "$SCN_CHALLENGE" "$n: $what: WWW-Authenticate challenge reaches the client"
    fi
}

# run_scenario NAME BASE_URL
run_scenario() {
    local n=$1 u=$2 h p run img rc code out sent d_base d_ci d_ci2 manifest2
    h=${u#http://}
    run=$RANDOM$RANDOM
    p=scn-$n-$run                    # this run's repositories: $p/...
    img=$T/scn-img-$n
    : "${SCN_FWD_STATUS:=400}"
    touch "$SCN_REC"
    diag "scenario $n against $u (repositories $p/...)"

    # ------------------------------------------------------------ ping ---
    is "$(req scn-ping0 "$u/v2/")" 401 "$n: GET /v2/ without credentials: 401"
    scn_deny "$n" scn-ping0 401 UNAUTHORIZED "GET /v2/ without credentials"
    is "$(req scn-ping1 -u "$SCN_CI" "$u/v2/")" 200 "$n: GET /v2/ as ci: 200"
    secret_basic "${SCN_CI%%:*}" "wrong-$run"
    is "$(req scn-ping2 -u "${SCN_CI%%:*}:wrong-$run" "$u/v2/")" 401 "$n: GET /v2/ with a wrong password: 401"

    # ----------------------------------------- credentialed push, pull ---
    d_base=$(mkimage "$img" base) || bail "mkimage failed"
    skopeo_copy "oci:$img:base" "docker://$h/$p/base:v1" --dest-creds "$SCN_ADMIN"
    ok $? "$n: admin pushes $p/base:v1 (skopeo)"
    is "$(scn_reg_digest "$p/base" v1)" "$d_base" "$n: the registry holds admin's image"

    rm -rf "$T/scn-pulled-$n"
    skopeo_copy "docker://$h/$p/base:v1" "oci:$T/scn-pulled-$n:v1" --src-no-creds
    ok $? "$n: anonymous pull of $p/base:v1 (skopeo, no credentials)"
    is "$(jq -r '.manifests[0].digest' "$T/scn-pulled-$n/index.json" 2>/dev/null)" "$d_base" \
        "$n: the anonymous pull got the pushed manifest"
    is "$(req scn-get -H "Accept: $OCI_MT" "$u/v2/$p/base/manifests/v1")" 200 \
        "$n: anonymous GET of the manifest (curl): 200"
    is "$(hdr scn-get Docker-Content-Digest)" "$d_base" "$n: ... answered by the registry"
    ok '! grep -qiE "^(x-ocigate-|variable-)" "$T/scn-get.hdr"' \
        "$n: an allowed answer carries no X-Ocigate-*/Variable-* header to the client"

    d_ci=$(mkimage "$img" ci1) || bail "mkimage failed"
    skopeo_copy "oci:$img:ci1" "docker://$h/$p/app:v1" --dest-creds "$SCN_CI"
    ok $? "$n: ci pushes a new tag $p/app:v1 (skopeo)"
    is "$(scn_reg_digest "$p/app" v1)" "$d_ci" "$n: the registry holds ci's image"

    # ---------------------------------------------------- anonymous push ---
    skopeo_copy "oci:$img:base" "docker://$h/$p/anon:v1" --dest-no-creds
    rc=$?
    ok '[ "$rc" != 0 ]' "$n: anonymous push (skopeo, no credentials) fails"
    is "$(req scn-anonpost -X POST -H 'Content-Length: 0' "$u/v2/$p/anon/blobs/uploads/")" 401 \
        "$n: anonymous POST .../blobs/uploads/: 401"
    scn_deny "$n" scn-anonpost 401 UNAUTHORIZED "anonymous blob upload"

    # an unauthenticated upload is refused before its body is read (curl
    # sends the body anyway after --expect100-timeout, 1 s by default: on a
    # busy machine the 401 can take longer than that)
    head -c $((8 * 1024 * 1024)) /dev/zero > "$T/scn-big.bin"
    out=$(curl -s --max-time 20 --expect100-timeout 15 -o /dev/null -D "$T/scn-big.hdr" \
          -X PUT -T "$T/scn-big.bin" \
          -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' \
          -w '%{http_code} %{size_upload} %{time_total}' \
          "$u/v2/$p/anon/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=sha256:$(printf %064d 0)" \
          2>/dev/null)
    read -r code sent took <<< "$out"
    is "$code" 401 "$n: unauthenticated 8 MiB blob PUT (Expect: 100-continue): 401"
    # The body may still travel in two cases that are not the door letting it
    # through: curl sends it once its 15 s wait for "100 Continue" is over (a
    # machine so loaded that the 401 took that long), and nginx, discarding
    # the body of a request it refused, answers "100 Continue" itself along
    # with its 401: whether curl pushes bytes before it reads the 401 is a
    # race (lost now and then under load); the body goes to nginx's discard,
    # never upstream. Any other upload fails here.
    continued=0
    grep -qi '^HTTP/[0-9.]* 100' "$T/scn-big.hdr" 2>/dev/null && continued=1
    ok '[ "${sent%.*}" -lt 1048576 ] || [ "${took%.*}" -ge 15 ] || [ "$continued" = 1 ]' \
        "$n: ... refused before the body was sent ($sent bytes uploaded in ${took}s$([ "$continued" = 1 ] && echo ', after the door'"'"'s own 100 Continue'))"

    # ------------------------------------------------ ci: no overwrite ---
    d_ci2=$(mkimage "$img" ci2) || bail "mkimage failed"
    skopeo_copy "oci:$img:ci2" "docker://$h/$p/app:v1" --dest-creds "$SCN_CI"
    rc=$?
    ok '[ "$rc" != 0 ]' "$n: ci overwriting $p/app:v1 with another image fails (skopeo)"
    manifest2=$img/blobs/sha256/${d_ci2#sha256:}
    is "$(req scn-ciput -u "$SCN_CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$manifest2" \
          "$u/v2/$p/app/manifests/v1")" 403 "$n: ci manifest PUT over the existing tag: 403"
    scn_deny "$n" scn-ciput 403 DENIED "ci overwrite"
    is "$(req scn-cidel -u "$SCN_CI" -X DELETE "$u/v2/$p/app/manifests/$d_ci")" 403 \
        "$n: ci DELETE of the manifest: 403"
    is "$(scn_reg_digest "$p/app" v1)" "$d_ci" "$n: $p/app:v1 still holds ci's first image"

    # ---------------------------------------------------- bypass attempts ---
    is "$(req scn-dots --path-as-is -u "$SCN_ADMIN" -X DELETE \
          "$u/v2/$p/trap/../app/manifests/$d_ci")" 400 "$n: DELETE through a '..' segment: 400"
    is "$(req scn-pct -u "$SCN_CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$manifest2" \
          "$u/v2/$p%2Ftrap/manifests/v1")" 400 "$n: PUT with %2F in the repository name: 400"
    is "$(req scn-upper -u "$SCN_CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$manifest2" \
          "$u/v2/$p/TRAP/manifests/v1")" 400 "$n: PUT to an upper-case repository name: 400"
    is "$(req scn-fwd -X PUT -H 'X-Forwarded-Method: GET' -H "X-Forwarded-Uri: /v2/$p/base/manifests/v1" \
          -H "Content-Type: $OCI_MT" --data-binary "@$manifest2" \
          "$u/v2/$p/forged/manifests/v1")" "$SCN_FWD_STATUS" \
        "$n: anonymous PUT with a forged 'X-Forwarded-Method: GET': $SCN_FWD_STATUS"
    # the same on a route the web server asks ocigate about (manifest PUTs
    # are served by ocigate itself)
    is "$(req scn-fwd2 -X PUT -H 'X-Forwarded-Method: GET' -H "X-Forwarded-Uri: /v2/$p/base/tags/list" \
          -H 'Content-Type: application/octet-stream' --data-binary "@$manifest2" \
          "$u/v2/$p/forged/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=sha256:$(printf %064d 0)")" \
        "$SCN_FWD_STATUS" \
        "$n: anonymous PUT with a forged 'X-Forwarded-Method: GET' (blob upload): $SCN_FWD_STATUS"

    # ------------------------------------------- spoofed identity headers ---
    is "$(req scn-spoof1 -u "$SCN_CI" -H "X-Scenario-Mark: ci-$run" \
          -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' -H 'X-Ocigate-Auth: openid' \
          -H "Accept: $OCI_MT" "$u/v2/$p/base/manifests/v1")" 200 \
        "$n: ci GET with spoofed X-Ocigate-User: admin is allowed (as ci)"
    is "$(scn_recorded "ci-$run" x-ocigate-user)" ci "$n: the registry got X-Ocigate-User: ci, not the spoofed admin"
    is "$(scn_recorded "ci-$run" x-ocigate-groups)" artifact-workloads \
        "$n: the registry got ci's groups, not the spoofed admins"
    is "$(scn_recorded "ci-$run" x-ocigate-auth)" htpasswd "$n: the registry got X-Ocigate-Auth: htpasswd"
    is "$(req scn-spoof2 -H "X-Scenario-Mark: anon-$run" \
          -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' \
          -H "Accept: $OCI_MT" "$u/v2/$p/base/manifests/v1")" 200 \
        "$n: anonymous GET with spoofed X-Ocigate-User: admin is allowed (as anonymous)"
    like "$(scn_recorded "anon-$run" x-ocigate-user)" '^(\(absent\))?$' \
        "$n: the registry got no X-Ocigate-User for the anonymous client (spoofed admin removed)"
    like "$(scn_recorded "anon-$run" x-ocigate-groups)" '^(\(absent\))?$' \
        "$n: the registry got no X-Ocigate-Groups for the anonymous client"
    is "$(scn_recorded "anon-$run" x-ocigate-auth)" anonymous "$n: the registry got X-Ocigate-Auth: anonymous"
    is "$(req scn-spoof3 -X PUT -H "X-Scenario-Mark: anonput-$run" \
          -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' \
          -H "Content-Type: $OCI_MT" --data-binary "@$manifest2" "$u/v2/$p/spoof/manifests/v1")" 401 \
        "$n: anonymous PUT with spoofed X-Ocigate-User: admin: 401"

    # -------------------------------------------- admin does everything ---
    is "$(req scn-admdel -u "$SCN_ADMIN" -X DELETE "$u/v2/$p/app/manifests/$d_ci")" 202 \
        "$n: admin DELETE by digest: 202"

    # ---------------------------------------- what the registry never saw ---
    # (no wait: the recorder writes a request down before it forwards it, so
    # every request answered so far is in its log)
    is "$(scn_reached "^(POST|PUT|PATCH|DELETE) /v2/$p/(anon|spoof|forged|trap|TRAP)")" 0 \
        "$n: no refused write reached the registry"
    is "$(scn_reached "^(POST|PUT|PATCH|DELETE) /v2/$p%2F")" 0 "$n: the %2F target never reached the registry"
    is "$(scn_recorded "anonput-$run" x-ocigate-user)" "(no request)" \
        "$n: the refused PUT with spoofed headers never reached the registry"
    is "$(scn_reached "^PUT /v2/$p/app/manifests/")" 1 \
        "$n: exactly one manifest PUT to $p/app reached the registry (ci's first)"
    is "$(scn_reached "^DELETE /v2/$p/app/manifests/")" 1 \
        "$n: exactly one DELETE reached the registry (admin's, not ci's)"
}

# ---------------------------------------------------------- standalone ----
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    . "$(dirname "$0")/lib.sh"
    [ $# = 4 ] || { echo "usage: $0 NAME BASE_URL RECORDER_LOG REGISTRY_URL" >&2; exit 2; }
    e2e_init --no-gate skopeo curl jq python3
    : "${SCN_CI:?set SCN_CI=ci:PASSWORD}" "${SCN_ADMIN:?set SCN_ADMIN=admin:PASSWORD}"
    : "${SCN_CHALLENGE:=^(Basic|Bearer) }"
    SCN_REC=$3 SCN_REG=$4
    run_scenario "$1" "$2"
    done_testing
fi
