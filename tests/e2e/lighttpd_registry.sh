#!/usr/bin/env bash
# lighttpd_registry.sh - the three tiers end to end, basic mode: skopeo and
# curl -> lighttpd (deploy/lighttpd/ocigate-external.conf, and once
# ocigate-authorizer.conf with bin-path) -> ocigate serve -> docker-registry,
# with a real redis-server for tag claims.
#
#   anyone pulls; ci (artifact-workloads) pushes new tags but neither
#   overwrites nor deletes; admin (admins, adminPolicy) does everything;
#   a denied request never reaches the registry.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd python3

OCI_MT=application/vnd.oci.image.manifest.v1+json
ACCEPT="Accept: $OCI_MT"
RUN=$RANDOM$RANDOM   # unique repository names for the denied attempts

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT LT_PORT LT2_PORT LT3_PORT REC_PORT LT4_PORT <<<"$(free_ports 7)"
make_htpasswd "$T/htpasswd" admin ci
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd"
REALM=$(jq -r .realm "$T/ocigate.json")
CHALLENGE="Basic realm=\"$REALM\""

"$OCIGATE_BIN" check -c "$T/ocigate.json" > "$T/check.out" 2>&1
ok $? "ocigate check accepts the test config derived from three-tier.json" \
    || diag "$(cat "$T/check.out")"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate "$T/ocigate.sock" 2
is "$(stat -c %a "$T/ocigate.sock")" 660 "ocigate serve --listen unix:PATH,mode=0660: the socket has mode 0660"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"

U=http://127.0.0.1:$LT_PORT
H=127.0.0.1:$LT_PORT
REG=http://127.0.0.1:$REG_PORT
ADMIN="admin:$PASS_admin"
CI="ci:$PASS_ci"
secret_basic ci "wrong-$RUN"     # the wrong password used below

# registry_digest REPO TAG: the digest the registry itself holds (direct,
# not through lighttpd), or the HTTP status when it has none.
registry_digest() {
    local code
    code=$(req regdigest -I -H "$ACCEPT" "$REG/v2/$1/manifests/$2")
    if [ "$code" = 200 ]; then hdr regdigest Docker-Content-Digest; else echo "$code"; fi
}

# registry_saw ERE: count registry access-log lines matching ERE.
registry_saw() { grep -cE -- "$1" "$T/registry.log" || true; }

# oci_error_code NAME: .errors[0].code of a kept response body.
oci_error_code() { jq -r '.errors[0].code' "$T/$1.body" 2>/dev/null; }

# deny_shape NAME STATUS CODE WHAT: the common checks of a denial.
deny_shape() {
    local name=$1 status=$2 code=$3 what=$4
    is "$(oci_error_code "$name")" "$code" "$what: body has code $code"
    like "$(hdr "$name" Content-Type)" '^application/json' "$what: Content-Type application/json"
    is "$(hdr "$name" Docker-Distribution-Api-Version)" "registry/2.0" \
        "$what: Docker-Distribution-Api-Version"
    if [ "$status" = 401 ]; then
        is "$(hdr "$name" WWW-Authenticate)" "$CHALLENGE" "$what: Basic challenge"
    fi
}

# ------------------------------------------------- the /v2/ ping (basic) ---

is "$(req ping0 "$U/v2/")" 401 "GET /v2/ without Authorization: 401"
deny_shape ping0 401 UNAUTHORIZED "GET /v2/ without Authorization"
is "$(req ping1 -H 'Authorization: Basic Og==' "$U/v2/")" 200 "GET /v2/ with 'Basic Og==' (anonymous): 200"
is "$(req ping2 -u "$CI" "$U/v2/")" 200 "GET /v2/ as ci: 200"
is "$(req ping3 -u "ci:wrong-$RUN" "$U/v2/")" 401 "GET /v2/ with a wrong password: 401"
is "$(hdr ping3 WWW-Authenticate)" "$CHALLENGE" "GET /v2/ with a wrong password: Basic challenge"
is "$(req ping4 -u "nobody-$RUN:x" "$U/v2/")" 401 "GET /v2/ as an unknown user: 401"

# ------------------------------------------------ admin pushes, anyone pulls

IMG=$T/img
D_BASE=$(mkimage "$IMG" base) || bail "mkimage failed"
skopeo_copy "oci:$IMG:base" "docker://$H/library/alpine:v1" --dest-creds "$ADMIN"
ok $? "admin pushes library/alpine:v1 (skopeo)"
is "$(registry_digest library/alpine v1)" "$D_BASE" "the registry holds admin's library/alpine:v1"

rm -rf "$T/pulled"
skopeo_copy "docker://$H/library/alpine:v1" "oci:$T/pulled:v1"
ok $? "anonymous pull of library/alpine:v1 (skopeo, no credentials)"
is "$(jq -r '.manifests[0].digest' "$T/pulled/index.json" 2>/dev/null)" "$D_BASE" \
    "anonymous pull got the pushed manifest"

is "$(req og -H 'Authorization: Basic Og==' -H "$ACCEPT" "$U/v2/library/alpine/manifests/v1")" 200 \
    "GET manifest with 'Basic Og==' (anonymous): 200"
is "$(hdr og Docker-Content-Digest)" "$D_BASE" "GET manifest with 'Basic Og==': the registry answered"
is "$(req anonget -H "$ACCEPT" "$U/v2/library/alpine/manifests/v1")" 200 \
    "GET manifest with no Authorization at all: 200"
is "$(req badpw -u "ci:wrong-$RUN" -H "$ACCEPT" "$U/v2/badpw-$RUN/x/manifests/v1")" 401 \
    "GET manifest with a wrong password: 401 although anonymous read is allowed"
deny_shape badpw 401 UNAUTHORIZED "GET manifest with a wrong password"

# ---------------------------------------------------- anonymous push fails

mkimage "$IMG" anon > /dev/null || bail "mkimage failed"
skopeo_copy "oci:$IMG:anon" "docker://$H/anon-$RUN/x:v1" --dest-no-creds
rc=$?
ok '[ "$rc" != 0 ]' "anonymous push (skopeo, no credentials) fails"
is "$(req anonpost -X POST -H 'Content-Length: 0' "$U/v2/anon-$RUN/x/blobs/uploads/")" 401 \
    "anonymous POST /v2/anon-$RUN/x/blobs/uploads/: 401"
deny_shape anonpost 401 UNAUTHORIZED "anonymous blob upload"
is "$(req anonput -X PUT -H "Content-Type: $OCI_MT" --data-binary '{}' \
      -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' -H 'X-Ocigate-Auth: htpasswd' \
      "$U/v2/anon-$RUN/x/manifests/v1")" 401 \
    "anonymous manifest PUT with spoofed X-Ocigate-User/Groups/Auth: 401"

# ------------------------------------------------- ci: new tags only -------

D_CI=$(mkimage "$IMG" ci1) || bail "mkimage failed"
skopeo_copy "oci:$IMG:ci1" "docker://$H/cirepo/app:v1" --dest-creds "$CI"
ok $? "ci pushes a new tag cirepo/app:v1 (skopeo)"
is "$(registry_digest cirepo/app v1)" "$D_CI" "the registry holds ci's cirepo/app:v1"

D_CI2=$(mkimage "$IMG" ci2) || bail "mkimage failed"
skopeo_copy "oci:$IMG:ci2" "docker://$H/cirepo/app:v1" --dest-creds "$CI"
rc=$?
ok '[ "$rc" != 0 ]' "ci pushing a different image to the existing tag v1 fails (skopeo)"
is "$(registry_digest cirepo/app v1)" "$D_CI" "cirepo/app:v1 still holds ci's first image"

MANIFEST2=$IMG/blobs/sha256/${D_CI2#sha256:}
is "$(req ciput -u "$CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$MANIFEST2" \
      "$U/v2/cirepo/app/manifests/v1")" 403 "ci raw manifest PUT to the existing tag v1: 403"
deny_shape ciput 403 DENIED "ci overwrite"
is "$(req ciput2 -u "$CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$MANIFEST2" \
      -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' \
      "$U/v2/cirepo/app/manifests/v1")" 403 \
    "ci overwrite with spoofed X-Ocigate-User: admin: still 403 (decided on Authorization only)"
is "$(req cipdig -u "$CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$MANIFEST2" \
      "$U/v2/cirepo/app/manifests/$D_CI2?tag=v1")" 403 \
    "ci PUT by digest with ?tag=v1 (existing): 403"

is "$(req cidel -u "$CI" -X DELETE "$U/v2/cirepo/app/manifests/$D_CI")" 403 \
    "ci DELETE of the manifest: 403"
deny_shape cidel 403 DENIED "ci delete"
is "$(registry_digest cirepo/app v1)" "$D_CI" "after ci's attempts cirepo/app:v1 is unchanged"

# a large layer, streamed through lighttpd after ocigate allowed it
D_BIG=$(mkimage "$IMG" big --size-mb 24) || bail "mkimage failed"
skopeo_copy "oci:$IMG:big" "docker://$H/cirepo/big:v1" --dest-creds "$CI"
ok $? "ci pushes an image with a 24 MiB layer (skopeo)"
is "$(registry_digest cirepo/big v1)" "$D_BIG" "the registry holds the large image intact"

# a cross-repository mount as skopeo sends it (from= percent-encoded):
# create on the target, read on the source
LAYER=$(jq -r '.layers[0].digest' "$IMG/blobs/sha256/${D_CI#sha256:}")
code=$(req mount -u "$CI" -X POST -H 'Content-Length: 0' \
       "$U/v2/cirepo/mounted/blobs/uploads/?from=cirepo%2Fapp&mount=${LAYER/:/%3A}")
is "$code" 201 "ci cross-repository mount from cirepo/app (from= percent-encoded): 201 from the registry"

# ------------------------------------------------ admin does everything ----

D_ADM=$(mkimage "$IMG" adm) || bail "mkimage failed"
skopeo_copy "oci:$IMG:adm" "docker://$H/cirepo/app:v1" --dest-creds "$ADMIN"
ok $? "admin overwrites cirepo/app:v1 (skopeo)"
is "$(registry_digest cirepo/app v1)" "$D_ADM" "the registry now holds admin's digest for cirepo/app:v1"

is "$(req admdel -u "$ADMIN" -X DELETE "$U/v2/cirepo/app/manifests/$D_ADM")" 202 \
    "admin DELETE by digest: 202"
is "$(registry_digest cirepo/app v1)" 404 "after admin's delete the registry has no cirepo/app:v1"

# ------------------------------------------------ ambiguous request paths ---
# lighttpd normalises the path it proxies but gives ocigate the raw target:
# anything ambiguous must be refused, never decided on one reading and
# served on another.

is "$(req dots --path-as-is -u "$ADMIN" -X DELETE \
      "$U/v2/trap-$RUN/../cirepo/app/manifests/$D_CI")" 400 "admin DELETE via a '..' segment: 400"
is "$(req pct -u "$CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$MANIFEST2" \
      "$U/v2/trap-$RUN%2Fx/manifests/v1")" 400 "ci PUT with %2F in the repository: 400"
is "$(req dslash -H "$ACCEPT" "$U/v2/trap-$RUN//x/manifests/v1")" 400 "GET with an empty segment (//): 400"

# ------------------------------------------- large unauthenticated upload ---

head -c $((40 * 1024 * 1024)) /dev/zero > "$T/big.bin"
out=$(curl -s --max-time 20 -o "$T/big.body" -D "$T/big.hdr" -X PUT -T "$T/big.bin" \
      -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' \
      -w '%{http_code} %{size_upload}' \
      "$U/v2/big-$RUN/x/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=sha256:$(printf %064d 0)" \
      2>/dev/null)
code=${out%% *}
sent=${out##* }
is "$code" 401 "unauthenticated 40 MB blob PUT (Expect: 100-continue): 401"
ok '[ "${sent%.*}" -lt 1048576 ]' "... refused before the body was sent ($sent bytes of 40 MiB uploaded)"
out=$(curl -s --max-time 20 -o /dev/null -X POST --data-binary "@$T/big.bin" \
      -H 'Expect:' -H 'Content-Type: application/octet-stream' \
      -w '%{http_code} %{size_upload}' "$U/v2/big-$RUN/y/blobs/uploads/" 2>/dev/null)
diag "unauthenticated 40 MB POST without Expect: status ${out%% *}, ${out##* } bytes uploaded"
ok '[ "${out%% *}" = 401 ] || [ "${out%% *}" = 000 ]' \
    "unauthenticated 40 MB POST without Expect: refused (401 or connection closed)"

# ------------------------------------------------------------- metrics -----

code=$(req metrics "$U/metrics")
ok '[ "$code" != 401 ] && [ "$code" != 403 ]' \
    "anonymous GET /metrics passes ocigate (metrics.anonymousPolicy read; got $code from the registry)"
is "$(registry_saw '"GET /metrics HTTP')" 1 "... and reached the registry"
is "$(req metrics2 -u "$CI" "$U/metrics")" 403 "GET /metrics as ci (not in metrics.users): 403"

# ------------------------------------------ what the registry never saw ----

registry_log_settled "$REG_PORT" || diag "the registry's access log did not settle in 10 s"
# (anonymous reads of anon-$RUN were allowed and may appear; writes may not)
is "$(registry_saw "\"(POST|PUT|PATCH|DELETE) /v2/(anon|big)-$RUN/")" 0 \
    "the registry never saw the denied anonymous writes (anon-$RUN, big-$RUN)"
is "$(registry_saw "badpw-$RUN")" 0 "the registry never saw the GET with a wrong password"
is "$(registry_saw "trap-$RUN")" 0 "the registry never saw the ambiguous paths"
is "$(registry_saw '"PUT /v2/cirepo/app/manifests/(v1|sha256:[0-9a-f]+\?tag=v1) HTTP')" 2 \
    "the registry saw exactly the two allowed manifest PUTs to cirepo/app (ci's first, admin's)"
is "$(registry_saw '"DELETE /v2/cirepo/app/manifests/')" 1 \
    "the registry saw exactly one DELETE (admin's), not ci's"

ok '! grep -rqF -e "$PASS_ci" -e "$PASS_admin" "$T/ocigate.log" "$T/lighttpd.log"' \
    "no password appears in ocigate's or lighttpd's log"
ok 'grep -q "\"status\"" "$T/ocigate.log"' "ocigate logged its decisions (JSON lines on stderr)"

# ------------------------------------- identity headers to the registry ----
# lighttpd #3 proxies to a recorder instead of the registry: what does the
# "registry" receive in X-Ocigate-* after identity.lua?

cat > "$T/recorder.py" <<'EOF'
import http.server, json, sys
out = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def handle_one(self):
        with open(out, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\n")
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = handle_one
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$T/recorder.py" "$REC_PORT" "$T/recorded.jsonl" > "$T/recorder.log" 2>&1 &
register_pid $!
wait_port "$REC_PORT" 10 $! || bail "recorder did not start"
# This lighttpd also loads the modules again after the snippet, as Debian's
# 10-fastcgi.conf/10-magnet.conf/10-proxy.conf would after 05-ocigate.conf
# (the documented install name): the authorizer must still run first.
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/recorder.conf" regport="$REC_PORT"
printf '%s\n' 'server.modules += ( "mod_fastcgi" )' 'server.modules += ( "mod_magnet" )' \
    'server.modules += ( "mod_proxy" )' >> "$T/recorder.conf"
start_lighttpd lighttpd-recorder "$LT3_PORT" "$T/recorder.conf"
U3=http://127.0.0.1:$LT3_PORT

# recorded N HEADER: header of the N-th recorded request ("-" when absent)
recorded() { sed -n "${1}p" "$T/recorded.jsonl" | jq -r --arg h "$2" '.headers[$h] // "-"'; }

is "$(req rec1 -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' -H 'X-Ocigate-Auth: htpasswd' \
      -H "$ACCEPT" "$U3/v2/library/alpine/manifests/v1")" 200 \
    "anonymous GET with spoofed X-Ocigate-* headers is allowed (recorder answers)"
is "$(recorded 1 x-ocigate-user)" "-" "the registry got no X-Ocigate-User for an anonymous client (spoofed 'admin' stripped)"
is "$(recorded 1 x-ocigate-groups)" "-" "the registry got no X-Ocigate-Groups (spoofed 'admins' stripped)"
is "$(recorded 1 x-ocigate-auth)" anonymous "the registry got X-Ocigate-Auth: anonymous"
is "$(req rec2 -u "$CI" -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' \
      -H "$ACCEPT" "$U3/v2/library/alpine/manifests/v1")" 200 "ci GET with spoofed X-Ocigate-User is allowed"
is "$(recorded 2 x-ocigate-user)" ci "the registry got X-Ocigate-User: ci, not the spoofed admin"
like "$(recorded 2 x-ocigate-groups)" 'artifact-workloads' "the registry got ci's groups"
unlike "$(recorded 2 x-ocigate-groups)" 'admins' "... and not the spoofed admins"
is "$(recorded 2 x-ocigate-auth)" htpasswd "the registry got X-Ocigate-Auth: htpasswd"
is "$(recorded 2 authorization)" "Basic $(printf %s "$CI" | base64 -w0)" \
    "the client's Authorization still reaches the registry (lighttpd forwards it)"
is "$(req rec3 -X PUT -H 'X-Ocigate-User: admin' -H 'X-Ocigate-Groups: admins' --data-binary '{}' \
      -H "Content-Type: $OCI_MT" "$U3/v2/library/alpine/manifests/spoof")" 401 \
    "anonymous PUT with spoofed headers through the same lighttpd (modules listed twice): 401"
is "$(wc -l < "$T/recorded.jsonl" | tr -d ' ')" 2 "the denied PUT never reached the recorder"

# --------------------------------------- the bin-path form (lighttpd spawns)

lighttpd_snippet "$DEPLOY/lighttpd/ocigate-authorizer.conf" "$T/authorizer.conf" regport="$REG_PORT"
start_lighttpd lighttpd-binpath "$LT2_PORT" "$T/authorizer.conf"
U2=http://127.0.0.1:$LT2_PORT
H2=127.0.0.1:$LT2_PORT
wait_socket "$T/lt-ocigate.sock-0" 10 || diag "no $T/lt-ocigate.sock-0 from bin-path"
is "$(req bp0 "$U2/v2/")" 401 "bin-path: GET /v2/ without Authorization: 401"
is "$(hdr bp0 WWW-Authenticate)" "$CHALLENGE" "bin-path: Basic challenge"
is "$(req bp1 -H 'Authorization: Basic Og==' -H "$ACCEPT" "$U2/v2/library/alpine/manifests/v1")" 200 \
    "bin-path: anonymous GET manifest: 200"
is "$(req bp2 -X POST -H 'Content-Length: 0' "$U2/v2/anon-$RUN/z/blobs/uploads/")" 401 "bin-path: anonymous blob upload: 401"
D_BP=$(mkimage "$IMG" bp) || bail "mkimage failed"
skopeo_copy "oci:$IMG:bp" "docker://$H2/cirepo/binpath:v1" --dest-creds "$CI"
ok $? "bin-path: ci pushes a new tag (skopeo)"
is "$(registry_digest cirepo/binpath v1)" "$D_BP" "bin-path: the registry holds ci's image"
skopeo_copy "oci:$IMG:ci2" "docker://$H2/cirepo/binpath:v1" --dest-creds "$CI"
rc=$?
ok '[ "$rc" != 0 ]' "bin-path: ci cannot overwrite it"
code=$(req bpm "$U2/metrics")
ok '[ "$code" != 401 ] && [ "$code" != 403 ] && [ "$code" != 503 ]' \
    "bin-path: anonymous GET /metrics reaches the spawned ocigate and passes (got $code)"
is "$(req bpm2 -u "$CI" "$U2/metrics")" 403 "bin-path: GET /metrics as ci: 403"
ok 'pgrep -P "$LIGHTTPD_PID" -f "serve -c $T/ocigate.json" >/dev/null' \
    "bin-path: lighttpd started 'ocigate serve -c CONFIG' itself"

# ------------------------ systemd socket activation (LISTEN_FDS, fd 3) ------
# what deploy/systemd/ocigate.socket + ocigate.service do, with
# systemd-socket-activate standing in for PID 1

if command -v systemd-socket-activate >/dev/null 2>&1; then
    systemd-socket-activate -l "$T/sd.sock" "$OCIGATE_BIN" serve -c "$T/ocigate.json" --workers 1 \
        >> "$T/ocigate-sd.log" 2>&1 &
    SD_PID=$!
    register_pid "$SD_PID"
    wait_until 10 test -S "$T/sd.sock" || bail "systemd-socket-activate did not create $T/sd.sock"
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/sd.conf" \
        regport="$REG_PORT" extsock="$T/sd.sock"
    start_lighttpd lighttpd-sd "$LT4_PORT" "$T/sd.conf"
    U4=http://127.0.0.1:$LT4_PORT
    is "$(req sd0 "$U4/v2/")" 401 "socket activation (LISTEN_FDS): GET /v2/ without Authorization: 401"
    is "$(hdr sd0 WWW-Authenticate)" "$CHALLENGE" "socket activation: Basic challenge"
    is "$(req sd1 -H "$ACCEPT" "$U4/v2/library/alpine/manifests/v1")" 200 \
        "socket activation: anonymous GET manifest: 200"
    is "$(req sd2 -u "$CI" -X DELETE "$U4/v2/library/alpine/manifests/$D_BASE")" 403 \
        "socket activation: ci DELETE: 403"
    ok 'pgrep -P "$SD_PID" >/dev/null' "socket activation: ocigate (pid $SD_PID) forked its worker"
else
    missing_checks 5 "systemd-socket-activate not installed"
fi

# ---------------------------------------------- ocigate's own endpoints ----

# routed by the "/ocigate/" RESPONDER entry of the lighttpd snippets (for
# bin-path: to the socket lighttpd created, "-0")
for form in external:$U bin-path:$U2; do
    name=${form%%:*}
    base=${form#*:}
    is "$(req health "$base/ocigate/healthz")" 200 "$name: GET /ocigate/healthz (RESPONDER route): 200"
    is "$(jq -r .status "$T/health.body" 2>/dev/null)" ok "$name: health says ok"
    is "$(req om "$base/ocigate/metrics")" 200 "$name: anonymous GET /ocigate/metrics: 200"
    like "$(body om)" '^ocigate_requests_total' "$name: Prometheus text with ocigate_requests_total"
    is "$(req om2 -u "$CI" "$base/ocigate/metrics")" 403 "$name: GET /ocigate/metrics as ci (not in metrics.users): 403"
done

done_testing
