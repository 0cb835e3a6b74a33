#!/usr/bin/env bash
# manifest_writes.sh - manifest PUTs served by ocigate itself
# (OCIGATE_SERVE=manifest), through every shipped web server config:
# lighttpd (deploy/lighttpd/ocigate-external.conf), nginx
# (deploy/nginx/ocigate.conf), Caddy (deploy/caddy/Caddyfile) and Apache
# (deploy/apache/ocigate.conf), each in front of ocigate, docker-registry and
# redis-server on loopback.
#
#   - the slow push: a PUT whose body trickles in for longer than any claim
#     timer (longer than the claim TTL, registry.writeTimeoutMs + 30 s, and
#     than the 30 s after which older ocigates took a claim over), raced by
#     a whole PUT of the same new tag sent while it trickles; for ci
#     (create without update) and for admin under immutableTags: at most
#     one lands (201) and the registry holds that one. All doors and both
#     identities race at the same time, so the script takes ~40 s.
#   - through each door, first: a push answers with the registry's status and
#     headers (Location for the client's Host, Docker-Content-Digest); a
#     second push of the tag by ci is 403; anonymous is 401 with the
#     challenge; a manifest over 4 MiB is 413 SIZE_INVALID and never
#     reaches the registry; no claim is left in Redis.
#
# TAP on stdout; everything it starts is stopped on any exit.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/webserver_lib.sh"
e2e_init redis-server redis-cli docker-registry curl jq htpasswd python3

have() { command -v "$1" >/dev/null 2>&1; }

OCI_MT=application/vnd.oci.image.manifest.v1+json
RUN=$RANDOM$RANDOM
WRITE_TIMEOUT_MS=2000                 # claim TTL: 2 s + 30 s = 32 s
TRICKLE_S=${OCIGATE_E2E_TRICKLE_S:-36}  # longer than the TTL and than 30 s
RACE_AT_S=$((TRICKLE_S - 4))            # the whole PUT: after both timers, before the slow one ends

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT TCP_PORT LT_PORT NGX_PORT CADDY_PORT APACHE_PORT <<<"$(free_ports 7)"
make_htpasswd "$T/htpasswd" admin ci
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    ".immutableTags = [{\"repositories\": [\"prod/**\"], \"tags\": [\"v*\"]}] | .registry.writeTimeoutMs = $WRITE_TIMEOUT_MS"
test_config "$T/ocigate-caddy.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    ".immutableTags = [{\"repositories\": [\"prod/**\"], \"tags\": [\"v*\"]}] | .registry.writeTimeoutMs = $WRITE_TIMEOUT_MS | .trustForwardedHeaders = true"
for c in ocigate ocigate-caddy; do
    "$OCIGATE_BIN" check -c "$T/$c.json" > "$T/check.out" 2>&1 || bail "ocigate check $c.json: $(cat "$T/check.out")"
done
PREFIX=$(jq -r .redis.prefix "$T/ocigate.json")

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate_at ocigate "unix:$T/ocigate.sock,mode=0666" "$T/ocigate.json"
start_ocigate_at ocigate-caddy "unix:$T/ocigate-caddy.sock,mode=0666" "$T/ocigate-caddy.json"
start_ocigate_at ocigate-apache "tcp:127.0.0.1:$TCP_PORT" "$T/ocigate.json"

REG=http://127.0.0.1:$REG_PORT
CI="ci:$PASS_ci"
ADMIN="admin:$PASS_admin"
DOORS=()
if have lighttpd; then
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/lt.conf" \
        regport="$REG_PORT" extsock="$T/ocigate.sock"
    start_lighttpd lighttpd "$LT_PORT" "$T/lt.conf"
    DOORS+=("lighttpd:$LT_PORT")
fi
if have nginx; then
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx.conf" \
        sock="$T/ocigate.sock" regport="$REG_PORT" port="$NGX_PORT"
    start_nginx nginx "$NGX_PORT" "$T/nginx.conf"
    DOORS+=("nginx:$NGX_PORT")
fi
if have caddy; then
    deploy_copy "$DEPLOY/caddy/Caddyfile" "$T/Caddyfile" \
        sock="$T/ocigate-caddy.sock" regport="$REG_PORT" port="$CADDY_PORT"
    start_caddy caddy "$CADDY_PORT" "$T/Caddyfile"
    DOORS+=("caddy:$CADDY_PORT")
fi
if have apache2; then
    deploy_copy "$DEPLOY/apache/ocigate.conf" "$T/apache.conf" \
        tcp="$TCP_PORT" regport="$REG_PORT" port="$APACHE_PORT"
    start_apache apache "$APACHE_PORT" "$T/apache.conf"
    DOORS+=("apache:$APACHE_PORT")
fi
[ "${#DOORS[@]}" -gt 0 ] || missing_all "no web server installed"
for door in lighttpd nginx caddy apache2; do   # under CI=true or OCIGATE_E2E=1 every door is tested
    have "$door" || ! e2e_strict || bail "$door not installed (CI=true or OCIGATE_E2E=1: every door is tested)"
done

# ---------------------------------------------------------- local helpers ---

rcli() { timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>&1; }
manifest_of() { echo "$1/blobs/sha256/${2#sha256:}"; }
registry_digest() {
    local code
    code=$(req regdigest -I -H "Accept: $OCI_MT" "$REG/v2/$1/manifests/$2")
    if [ "$code" = 200 ]; then hdr regdigest Docker-Content-Digest; else echo "$code"; fi
}
registry_saw() { grep -cE -- "$1" "$T/registry.log" || true; }

# blobs REPO LAYOUT DIGEST: the config and layer blobs of an image, straight
# into the registry (the blobs are not what is tested here).
blobs() {
    local repo=$1 layout=$2 digest=$3 b loc sep code
    for b in $(jq -r '.config.digest, .layers[].digest' "$(manifest_of "$layout" "$digest")"); do
        loc=$(curl -s --max-time 10 -X POST -o /dev/null -D - "$REG/v2/$repo/blobs/uploads/" \
              | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
        [ -n "$loc" ] || return 1
        case $loc in http*) ;; *) loc=$REG$loc ;; esac
        case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
        code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X PUT \
                 -H 'Content-Type: application/octet-stream' \
                 --data-binary "@$layout/blobs/sha256/${b#sha256:}" "$loc${sep}digest=$b")
        [ "$code" = 201 ] || return 1
    done
}

# The slow race: client A sends its headers and all but the last bytes of
# its manifest at once, then one byte a second for TRICKLE_S seconds;
# client B sends a whole PUT of another image to the same tag RACE_AT_S
# seconds in. Prints "A STATUS" and "B STATUS".
cat > "$T/slowrace.py" <<'EOF'
import base64, http.client, socket, sys, threading, time
port, creds, repo, tag, fa, fb, trickle, race_at = sys.argv[1:9]
port, trickle, race_at = int(port), int(trickle), float(race_at)
auth = "Basic " + base64.b64encode(creds.encode()).decode()
a, b = open(fa, "rb").read(), open(fb, "rb").read()
path = "/v2/%s/manifests/%s" % (repo, tag)
mt = "application/vnd.oci.image.manifest.v1+json"
res = {}

def slow():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=trickle + 60)
        head = ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                % (path, port, auth, mt, len(a))).encode()
        s.sendall(head + a[:len(a) - trickle])
        for i in range(trickle):
            time.sleep(1)
            s.sendall(a[len(a) - trickle + i:len(a) - trickle + i + 1])
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and data.split(b" ")[1][:3].isdigit():
                break
        res["A"] = data.split(b" ")[1].decode()
    except Exception as e:
        res["A"] = "ERR-" + type(e).__name__

def whole():
    time.sleep(race_at)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("PUT", path, body=b, headers={"Authorization": auth, "Content-Type": mt})
        r = c.getresponse()
        r.read()
        res["B"] = str(r.status)
    except Exception as e:
        res["B"] = "ERR-" + type(e).__name__

ts = [threading.Thread(target=slow), threading.Thread(target=whole)]
for t in ts: t.start()
for t in ts: t.join(trickle + 120)
print("A", res.get("A", "TIMEOUT"))
print("B", res.get("B", "TIMEOUT"))
EOF

IMG=$T/img
declare -A D
for door in "${DOORS[@]}"; do
    name=${door%%:*}
    for who in ci admin; do
        for x in a b; do
            D[$name-$who-$x]=$(mkimage "$IMG" "$name-$who-$x") || bail "mkimage failed"
        done
    done
done

# ------------------------------------------------ 1. through each door ---
D_Q=$(mkimage "$IMG" quick) || bail "mkimage failed"
M_Q=$(manifest_of "$IMG" "$D_Q")
D_Q2=$(mkimage "$IMG" quick2) || bail "mkimage failed"
M_Q2=$(manifest_of "$IMG" "$D_Q2")
for repo in quick/app prod/quick; do
    for d in "$D_Q" "$D_Q2"; do blobs "$repo" "$IMG" "$d" || bail "blob upload to $repo failed"; done
done
python3 -c 'import sys; sys.stdout.write("{\"schemaVersion\":2,\"x\":\"" + "a" * (4 * 1024 * 1024 + 10) + "\"}")' > "$T/big.json"

for door in "${DOORS[@]}"; do
    name=${door%%:*} port=${door##*:}
    u=http://127.0.0.1:$port
    tag=q-$name-$RUN
    is "$(req "$name-put" -u "$CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$M_Q" \
          "$u/v2/quick/app/manifests/$tag")" 201 "$name: ci pushes quick/app:$tag: 201" || diag "$(body "$name-put")"
    like "$(hdr "$name-put" Location)" "^(http://127\.0\.0\.1:$port)?/v2/quick/app/manifests/sha256:" \
        "$name: ... the registry's Location, built for the client's Host"
    is "$(hdr "$name-put" Docker-Content-Digest)" "$D_Q" "$name: ... the registry's Docker-Content-Digest"
    is "$(hdr "$name-put" Docker-Distribution-Api-Version)" registry/2.0 "$name: ... and its API version header"
    ok '! grep -qiE "^(status|transfer-encoding: .*, *chunked|x-ocigate-)" "$T/$name-put.hdr"' \
        "$name: ... no Status, X-Ocigate-* or doubled framing header reaches the client"
    is "$(registry_digest quick/app "$tag")" "$D_Q" "$name: the registry holds it"
    is "$(req "$name-again" -u "$CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$M_Q2" \
          "$u/v2/quick/app/manifests/$tag")" 403 "$name: ci pushes the same tag again: 403"
    is "$(jq -r '.errors[0].code' "$T/$name-again.body" 2>/dev/null)" DENIED "$name: ... code DENIED"
    is "$(registry_digest quick/app "$tag")" "$D_Q" "$name: the registry still holds the first image"
    is "$(req "$name-anon" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$M_Q2" \
          "$u/v2/quick/app/manifests/anon-$RUN")" 401 "$name: anonymous manifest PUT: 401"
    like "$(hdr "$name-anon" WWW-Authenticate)" '^Basic realm=' "$name: ... with the challenge"
    is "$(req "$name-adm" -u "$ADMIN" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$M_Q" \
          "$u/v2/prod/quick/manifests/v-$name-$RUN")" 201 "$name: admin pushes a new immutable tag: 201"
    is "$(req "$name-adm2" -u "$ADMIN" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$M_Q2" \
          "$u/v2/prod/quick/manifests/v-$name-$RUN")" 403 "$name: admin overwrites it: 403"
    is "$(req "$name-big" -u "$CI" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$T/big.json" \
          "$u/v2/quick/app/manifests/big-$name-$RUN")" 413 "$name: a manifest over 4 MiB: 413"
    is "$(jq -r '.errors[0].code' "$T/$name-big.body" 2>/dev/null)" SIZE_INVALID "$name: ... code SIZE_INVALID" \
        || diag "$(head -c 300 "$T/$name-big.body")"
done

# ------------------------------------------- 2. the slow races, in parallel --

race_repo() { if [ "$1" = ci ]; then echo slow/app; else echo prod/slow; fi; }
race_tag() { if [ "$2" = ci ]; then echo "s-$1-$RUN"; else echo "v1-$1-$RUN"; fi; }
pids=()
for door in "${DOORS[@]}"; do
    name=${door%%:*} port=${door##*:}
    for who in ci admin; do
        repo=$(race_repo "$who") tag=$(race_tag "$name" "$who")
        creds=$CI; [ "$who" = admin ] && creds=$ADMIN
        for x in a b; do
            blobs "$repo" "$IMG" "${D[$name-$who-$x]}" || bail "blob upload to $repo failed"
        done
        python3 "$T/slowrace.py" "$port" "$creds" "$repo" "$tag" \
            "$(manifest_of "$IMG" "${D[$name-$who-a]}")" "$(manifest_of "$IMG" "${D[$name-$who-b]}")" \
            "$TRICKLE_S" "$RACE_AT_S" > "$T/race-$name-$who.out" 2>&1 &
        pids+=($!)
    done
done
diag "slow races started through ${DOORS[*]}: ${TRICKLE_S} s of trickling each, in parallel"
# (Apache's mod_proxy_fcgi streams the body to ocigate instead of buffering
# it: there the slow part holds an ocigate worker, bounded by ocigate's own
# body read deadline; the race outcome must be the same.)

for p in "${pids[@]}"; do wait "$p"; done

# --------------------------------------------------- 3. the race outcomes ---

for door in "${DOORS[@]}"; do
    name=${door%%:*}
    for who in ci admin; do
        repo=$(race_repo "$who") tag=$(race_tag "$name" "$who")
        out=$(cat "$T/race-$name-$who.out")
        a=$(awk '$1 == "A" { print $2 }' <<<"$out") b=$(awk '$1 == "B" { print $2 }' <<<"$out")
        n201=$( (echo "$a"; echo "$b") | grep -c '^201$')
        what="$name, $who: a slow push of $repo:$tag (${TRICKLE_S} s) raced by a whole one"
        is "$n201" 1 "$what: exactly one lands (A $a, B $b)"
        want=no-winner
        [ "$a" = 201 ] && want=${D[$name-$who-a]}
        [ "$b" = 201 ] && want=${D[$name-$who-b]}
        is "$(registry_digest "$repo" "$tag")" "$want" "$what: the registry holds the one that got 201"
        is "$(registry_saw "\"PUT /v2/$repo/manifests/$tag HTTP")" 1 "$what: the registry saw one PUT"
    done
done

is "$(rcli --scan --pattern "${PREFIX}tag:*" | grep -c .)" 0 "no claim is left in Redis"
is "$(registry_saw '"PUT /v2/quick/app/manifests/(anon|big)-')" 0 \
    "the registry never saw the anonymous or the oversized manifest"
ok '! grep -rqF -e "$PASS_ci" -e "$PASS_admin" "$T"/*.log' "no password appears in any log"

done_testing
