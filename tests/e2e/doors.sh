#!/usr/bin/env bash
# doors.sh - what a client can make each front door hand ocigate, and what
# each door hands back, through every deployment shipped in deploy/
# (lighttpd, nginx, Caddy's Caddyfile and Caddyfile.explicit, Apache), each
# started with the shipped file (install paths replaced, nothing else):
#
#   1. The method and target ocigate judges cannot be chosen by a client.
#      Web servers turn request headers into HTTP_* params; Caddy folds
#      X-Forwarded-Method, X-Forwarded_Method, X_Forwarded-Method,
#      x_forwarded_method ... into one HTTP_X_FORWARDED_METHOD whose winner
#      is random, lighttpd sends each spelling as its own copy. Every
#      spelling (and case) of X-Forwarded-Method/-Uri, each in at least 30
#      anonymous PUTs of a manifest over an existing tag and 30 anonymous
#      DELETEs of it: none reaches the registry (a recording proxy in front
#      of docker-registry sees every request that does).
#   2. A refused overwrite says why: ci's manifest PUT over an existing tag
#      gets 403 whose OCI error message reads "tag v1 already exists in
#      REPO and ci may not overwrite it", in curl's body and in skopeo's
#      error output (nginx drops the body of its auth subrequest: ocigate
#      repeats it in X-Ocigate-Error, nginx answers with it).
#   3. ocigate's 429 and its Retry-After reach the client (nginx turned it
#      into 500): distinct wrong passwords for one user from one address
#      (a source address of its own per door) until ocigate throttles.
#   4. Bodies ocigate reads itself (POST /ocigate/apikey) are read whole by
#      the door first: three clients trickling their bodies for 4 s (ocigate
#      runs 2 workers) do not hold up an anonymous pull. (Apache cannot
#      buffer them: there ocigate collects the bodies without holding a
#      worker, within limits.bodyTimeoutMs.)
#
# Caddy talks to an ocigate with "trustForwardedHeaders": true, the others
# to one with the default. TAP; skipped unless OCIGATE_E2E=1; a door that is
# not installed is skipped, or fails when CI=true; everything started here
# is stopped on any exit.

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/webserver_lib.sh"
e2e_init redis-server docker-registry skopeo curl jq htpasswd python3

read -r REDIS_PORT REG_PORT REC_PORT TCP_PORT LT_PORT NGX_PORT CADDY_PORT CADDYX_PORT APACHE_PORT \
    <<<"$(free_ports 9)"
make_htpasswd "$T/htpasswd" admin ci thr1 thr2 thr3 thr4 thr5
# API keys on: their endpoint reads a body (check 4)
test_config "$T/ocigate.json" "$REC_PORT" "$REDIS_PORT" "$T/htpasswd" '.auth.apikey = {enabled: true}'
test_config "$T/ocigate-caddy.json" "$REC_PORT" "$REDIS_PORT" "$T/htpasswd" \
    '.auth.apikey = {enabled: true} | .trustForwardedHeaders = true'

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_recorder "$REC_PORT" "$REG_PORT" "$T/recorded.jsonl"
start_ocigate_at ocigate "unix:$T/ocigate.sock,mode=0666" "$T/ocigate.json"
start_ocigate_at ocigate-caddy "unix:$T/ocigate-caddy.sock,mode=0666" "$T/ocigate-caddy.json"
start_ocigate_at ocigate-apache "tcp:127.0.0.1:$TCP_PORT" "$T/ocigate.json"

REPO=doors/app
OCI_MT=application/vnd.oci.image.manifest.v1+json
# the image every door is attacked over: pushed straight to the registry
D1=$(mkimage "$T/img" one) || bail "mkimage failed"
D2=$(mkimage "$T/img" two) || bail "mkimage failed"
REGISTRY_AUTH_FILE="$T/auth.json" timeout 60 skopeo --insecure-policy copy --retry-times 0 \
    --dest-tls-verify=false "oci:$T/img:one" "docker://127.0.0.1:$REG_PORT/$REPO:v1" \
    >> "$T/skopeo.log" 2>&1 || bail "could not seed $REPO:v1 in the registry"
MANIFEST2=$T/img/blobs/sha256/${D2#sha256:}     # another image's manifest, for the overwrites

# The attacker: anonymous PUTs and DELETEs carrying forged forwarded
# headers in every spelling, in parallel. Prints "STATUS COUNT" lines.
cat > "$T/forge.py" <<'EOF'
import concurrent.futures, http.client, sys
port, repo, digest, manifest, tries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
body = open(manifest, "rb").read()
spellings = []                          # X-Forwarded-, X_Forwarded-, x_forwarded_, X-FORWARDED_ ...
for s1 in ("-", "_"):
    for s2 in ("-", "_"):
        spellings.append("X" + s1 + "Forwarded" + s2)
target = "/v2/%s/manifests/v1" % repo
def variants(method):
    # what the client claims: a harmless GET of a harmless target
    harmless_uri = "/v2/%s/tags/list" % repo
    for p in spellings:
        for name, value in ((p + "Method", "GET"), (p + "Uri", harmless_uri)):
            for spelt in (name, name.lower(), name.upper()):
                yield [(spelt, value)]
    # all at once, and under the names of ocigate's own params
    yield [(p + "Method", "GET") for p in spellings] + [(p + "Uri", harmless_uri) for p in spellings]
    yield [("Ocigate-Method", "GET"), ("Ocigate-Uri", harmless_uri),
           ("Ocigate_Method", "GET"), ("Ocigate_Uri", harmless_uri)]
def one(args):
    method, headers = args
    path = target if method == "PUT" else "/v2/%s/manifests/%s" % (repo, digest)
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=20)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers:
            c.putheader(k, v)
        if method == "PUT":
            c.putheader("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
        else:
            c.endheaders()
        r = c.getresponse()
        r.read()
        return r.status
    except OSError:
        return 0
    finally:
        c.close()
jobs = [(m, h) for m in ("PUT", "DELETE") for h in variants(m) for _ in range(tries)]
counts = {}
with concurrent.futures.ThreadPoolExecutor(12) as ex:
    for st in ex.map(one, jobs):
        counts[st] = counts.get(st, 0) + 1
print("spellings %d variants %d requests %d" % (len(spellings), len(jobs) // (2 * tries), len(jobs)),
      file=sys.stderr)
for st in sorted(counts):
    print(st, counts[st])
EOF

# The slow clients: N POSTs to /ocigate/apikey as ci, each sending its
# 24-byte body 2 bytes at a time over about 4 s.
cat > "$T/trickle.py" <<'EOF'
import base64, socket, sys, threading, time
port, auth, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def one():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("POST /ocigate/apikey HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Authorization: Basic %s\r\nContent-Type: application/json\r\n"
               "Content-Length: 24\r\nConnection: close\r\n\r\n"
               % (port, base64.b64encode(auth.encode()).decode())).encode())
    for _ in range(12):
        time.sleep(0.33)
        s.sendall(b"  ")
    s.settimeout(10)
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
ts = [threading.Thread(target=one) for _ in range(n)]
for t in ts: t.start()
for t in ts: t.join()
EOF

# reached_writes: how many PUT/DELETE of $REPO the registry has been sent
reached_writes() {
    jq -r 'select(.method == "PUT" or .method == "DELETE") | .path' "$T/recorded.jsonl" 2>/dev/null |
        grep -c "^/v2/$REPO/" || true
}

OVERWRITE_MSG="tag v1 already exists in $REPO and ci may not overwrite it"
THR_N=0

# door NAME BASE_URL: the three checks through one door
door() {
    local n=$1 u=$2 out before code i st msg addr user rc trickle todo
    THR_N=$((THR_N + 1))
    addr=127.0.0.$((20 + THR_N))
    user=thr$THR_N
    diag "door $n at $u"

    # the door works at all (a dead door would "refuse" everything)
    is "$(req "$n-get" -H "Accept: $OCI_MT" "$u/v2/$REPO/manifests/v1")" 200 \
        "$n: anonymous GET of $REPO:v1 is allowed and served"
    is "$(req "$n-ping" -u "ci:$PASS_ci" "$u/v2/")" 200 "$n: ci logs in"

    # 1. forged forwarded headers, every spelling, 30 times each
    before=$(reached_writes)
    out=$(python3 "$T/forge.py" "${u##*:}" "$REPO" "$D1" "$MANIFEST2" 30 2> "$T/$n-forge.err")
    diag "$n: $(cat "$T/$n-forge.err"); statuses: $(echo "$out" | tr '\n' ' ')"
    is "$(($(reached_writes) - before))" 0 \
        "$n: none of the anonymous PUTs/DELETEs with forged X-Forwarded-Method/-Uri (every spelling, 30 times each) reached the registry"
    ok '! echo "$out" | grep -qvE "^(400|401) "' \
        "$n: ... each was refused by ocigate (400 or 401, nothing else)"
    is "$(scn_digest)" "$D1" "$n: $REPO:v1 still holds the first image"

    # 2. a refused overwrite says why, to curl and to skopeo
    code=$(req "$n-ciput" -u "ci:$PASS_ci" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$MANIFEST2" \
        "$u/v2/$REPO/manifests/v1")
    is "$code" 403 "$n: ci's manifest PUT over $REPO:v1: 403"
    msg=$(jq -r '.errors[0].message' "$T/$n-ciput.body" 2>/dev/null)
    is "$msg" "$OVERWRITE_MSG" "$n: ... its OCI error message says why"
    is "$(jq -r '.errors[0].code' "$T/$n-ciput.body" 2>/dev/null)" DENIED "$n: ... code DENIED"
    ok '! grep -qi "^X-Ocigate-Error" "$T/$n-ciput.hdr"' "$n: ... the X-Ocigate-Error copy does not reach the client"
    : > "$T/skopeo.log"
    skopeo_copy "oci:$T/img:two" "docker://${u#http://}/$REPO:v1" --dest-creds "ci:$PASS_ci"
    rc=$?
    ok '[ "$rc" != 0 ]' "$n: ci's overwrite with skopeo fails"
    ok 'grep -qF "$OVERWRITE_MSG" "$T/skopeo.log"' "$n: ... and skopeo's error output says why"
    cat "$T/skopeo.log" >> "$T/skopeo-all.log"
    code=$(req "$n-anonput" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$MANIFEST2" "$u/v2/$REPO/manifests/v1")
    is "$code" 401 "$n: an anonymous PUT: 401"
    is "$(jq -r '.errors[0].message' "$T/$n-anonput.body" 2>/dev/null)" \
        "anonymous clients may only pull from $REPO: log in to push to it" "$n: ... anonymous clients may only pull"

    # 4. slow bodies to ocigate's own endpoint do not stall the pool
    python3 "$T/trickle.py" "${u##*:}" "ci:$PASS_ci" 3 > /dev/null 2>&1 &
    trickle=$!
    sleep 1
    out=$(curl -s --max-time 15 -o /dev/null -w '%{http_code} %{time_total}' -H "Accept: $OCI_MT" \
        "$u/v2/$REPO/manifests/v1")
    is "${out%% *}" 200 "$n: an anonymous pull while 3 clients trickle API key bodies: 200"
    # Apache cannot buffer: mod_proxy_fcgi connects to ocigate as soon as
    # the headers are in and streams the body (mod_buffer does not change
    # that); ocigate then collects the bodies without holding a worker.
    ok "$(awk -v s="${out##* }" 'BEGIN { print (s < 1.5) ? 0 : 1 }')" \
        "$n: ... answered in ${out##* } s (the door buffers those bodies, or ocigate collects them without holding a worker; 2 workers)"
    wait "$trickle"

    # 3. 429 and Retry-After: distinct wrong passwords, one user, one address
    st=
    for i in $(seq 1 40); do
        secret_basic "$user" "wrong-$n-$i-password"
        st=$(curl -s --max-time 15 --interface "$addr" -o "$T/$n-thr.body" -D "$T/$n-thr.hdr" -w '%{http_code}' \
            -u "$user:wrong-$n-$i-password" "$u/v2/" 2>/dev/null)
        [ "$st" = 429 ] && break
    done
    is "$st" 429 "$n: distinct wrong passwords for $user from $addr end in 429 (after $i)"
    like "$(hdr "$n-thr" Retry-After)" '^[1-9][0-9]*$' "$n: ... with Retry-After"
    is "$(jq -r '.errors[0].code' "$T/$n-thr.body" 2>/dev/null)" TOOMANYREQUESTS "$n: ... and an OCI error body"
}

# scn_digest: the digest the registry itself holds for $REPO:v1
scn_digest() {
    if [ "$(req regd -I -H "Accept: $OCI_MT" "http://127.0.0.1:$REG_PORT/v2/$REPO/manifests/v1")" = 200 ]; then
        hdr regd Docker-Content-Digest
    fi
}

if need_door lighttpd lighttpd; then
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/lt.conf" \
        regport="$REC_PORT" extsock="$T/ocigate.sock"
    start_lighttpd lighttpd "$LT_PORT" "$T/lt.conf"
    door lighttpd "http://127.0.0.1:$LT_PORT"
    stop_pid "$LIGHTTPD_PID"
fi

if need_door nginx nginx; then
    deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx.conf" \
        sock="$T/ocigate.sock" regport="$REC_PORT" port="$NGX_PORT"
    start_nginx nginx "$NGX_PORT" "$T/nginx.conf"
    door nginx "http://127.0.0.1:$NGX_PORT"
    stop_pid "$SERVER_PID"
fi

if need_door caddy caddy; then
    for form in Caddyfile Caddyfile.explicit; do
        name=caddy port=$CADDY_PORT
        [ "$form" = Caddyfile.explicit ] && { name=caddy-explicit port=$CADDYX_PORT; }
        deploy_copy "$DEPLOY/caddy/$form" "$T/$form" \
            sock="$T/ocigate-caddy.sock" regport="$REC_PORT" port="$port"
        start_caddy "$name" "$port" "$T/$form"
        door "$name" "http://127.0.0.1:$port"
        stop_pid "$SERVER_PID"
    done
fi

if need_door apache apache2; then
    deploy_copy "$DEPLOY/apache/ocigate.conf" "$T/apache.conf" \
        tcp="$TCP_PORT" regport="$REC_PORT" port="$APACHE_PORT"
    start_apache apache "$APACHE_PORT" "$T/apache.conf"
    door apache "http://127.0.0.1:$APACHE_PORT"
    stop_pid "$SERVER_PID"
fi

done_testing
