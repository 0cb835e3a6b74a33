#!/usr/bin/env bash
# slow_bodies.sh - slow request bodies do not stall the worker pool.
#
# With N workers, 3*N clients send a request body one byte at a time to
# every route where ocigate reads a body, through lighttpd as shipped
# (deploy/lighttpd/ocigate-external.conf buffers those bodies: ocigate is
# asked only once a body is whole) and straight to ocigate's socket with a
# FastCGI client (tests/e2e/slowbody.py), as a web server that streams
# bodies would send them. Meanwhile an anonymous pull through lighttpd is
# decided within 1 s, again and again; each slow request that reaches
# ocigate gets its complete error answer (408 in the OCI error shape) once
# limits.bodyTimeoutMs has passed, and nothing hangs past it; the ones
# lighttpd holds never reach ocigate. A body that arrives whole still
# works; a body larger than 4 MiB is refused at once; a connection whose
# FastCGI params never arrive is closed after a second.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed.

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd python3

N=2                      # workers
TIMEOUT_MS=3000          # limits.bodyTimeoutMs
SLOW="python3 $E2E_DIR/slowbody.py"
OCI_MT=application/vnd.oci.image.manifest.v1+json

# Every route that reads a request body, as METHOD PATH (FastCGI, straight
# to the socket) and whether lighttpd's shipped config routes it to ocigate.
ROUTES_DIRECT=("POST /ocigate/apikey" "POST /zot/auth/apikey")
ROUTES_HTTP=("POST /ocigate/apikey")

plan $(( 3 + 3 + ${#ROUTES_HTTP[@]} + ${#ROUTES_DIRECT[@]} * 3 + 9 ))

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    ".auth.apikey = {\"enabled\": true} | .limits = {\"bodyTimeoutMs\": $TIMEOUT_MS}"
start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate "$T/ocigate.sock" "$N"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
H=127.0.0.1:$LT_PORT
AUTH_B64=$(printf '%s' "admin:$PASS_admin" | base64 -w0)
secret "$AUTH_B64"

mkimage "$T/img" v1 > /dev/null || bail "mkimage failed"
skopeo_copy "oci:$T/img:v1" "docker://$H/slow/app:v1" --dest-creds "admin:$PASS_admin" \
    || bail "admin could not push slow/app:v1"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# pull NAME: anonymous GET of the manifest through lighttpd; prints "STATUS MS"
pull() {
    local t0 st
    t0=$(now_ms)
    st=$(req "$1" -H "Accept: $OCI_MT" "$U/v2/slow/app/manifests/v1")
    echo "$st $(($(now_ms) - t0))"
}
read -r st ms <<<"$(pull p0)"
is "$st" 200 "before: anonymous pull 200 (${ms} ms)"

# a body that arrives whole: the key is made
st=$(req mk -u "admin:$PASS_admin" -H 'Content-Type: application/json' \
     --data-binary '{"label":"fast"}' "$U/ocigate/apikey")
is "$st" 201 "a whole body to POST /ocigate/apikey: 201"
KEY=$(jq -r '.apiKey // empty' "$T/mk.body" 2>/dev/null)
[ -n "$KEY" ] && secret "$KEY"
like "$KEY" '^zak_' "... with the key"

# ------------------------------------------------ 3*N slow bodies per route --
pids=()
i=0
for r in "${ROUTES_HTTP[@]}"; do
    read -r method path <<<"$r"
    for k in $(seq 1 $((3 * N))); do
        i=$((i + 1))
        $SLOW http 127.0.0.1 "$LT_PORT" "$method" "$path" -H "Authorization: Basic $AUTH_B64" \
            --length 400 --interval 0.2 --limit 6 --out "$T/slow-http-$i.out" &
        pids+=($!)
    done
done
j=0
for r in "${ROUTES_DIRECT[@]}"; do
    read -r method path <<<"$r"
    for k in $(seq 1 $((3 * N))); do
        j=$((j + 1))
        $SLOW fcgi "$T/ocigate.sock" "$method" "$path" -p "HTTP_AUTHORIZATION=Basic $AUTH_B64" \
            --length 400 --interval 0.2 --limit 30 --out "$T/slow-fcgi-$j.out" &
        pids+=($!)
    done
done
for p in "${pids[@]}"; do register_pid "$p"; done

# while every one of them trickles: anonymous pulls are decided within 1 s
sleep 0.5
worst=0 bad=
for n in 1 2 3 4; do
    read -r st ms <<<"$(pull "p$n")"
    [ "$st" = 200 ] || bad="$bad pull$n:$st"
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.4
done
is "$bad" "" "during $((i + j)) slow bodies ($N workers): 4 anonymous pulls all 200"
ok "$([ "$worst" -lt 1000 ] && echo 0 || echo 1)" "... each decided within 1 s (slowest: ${worst} ms)"

for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
# elapsed_ms: from the client's connect to the end of its answer
longest=$(cat "$T"/slow-fcgi-*.out 2>/dev/null | sed -n 's/.* elapsed_ms=\([0-9]*\) .*/\1/p' | sort -n | tail -1)
ok "$([ -n "$longest" ] && [ "$longest" -lt $((TIMEOUT_MS + 1500)) ] && echo 0 || echo 1)" \
    "every slow FastCGI client had its answer within the deadline (${TIMEOUT_MS} ms) plus 1.5 s (longest: ${longest:-none} ms)"

# each slow request: its complete error answer (408, OCI error shape)
check_answers() { # LABEL FILE...
    local label=$1 f st_bad= inc= shape= count=0
    shift
    for f in "$@"; do
        count=$((count + 1))
        [ -f "$f" ] || { st_bad="$st_bad #$count:none"; continue; }
        head -1 "$f" | grep -q '^status=408 ' || st_bad="$st_bad #$count:$(head -1 "$f")"
        head -1 "$f" | grep -q ' complete=1 ' || inc="$inc #$count"
        tail -n +2 "$f" | grep -q . && tail -n +2 "$f" | jq -e '.errors[0].code and (.errors[0].detail.reason |
            test("bodyTimeoutMs"))' > /dev/null 2>&1 || shape="$shape #$count"
    done
    is "$st_bad" "" "$label: each of the $count slow requests answered 408"
    is "$inc" "" "$label: ... with a complete answer"
    is "$shape" "" "$label: ... in the OCI error shape, naming limits.bodyTimeoutMs"
}
per=$((3 * N))
# through lighttpd: the door held every slow body (its clients gave up
# after 6 s unanswered); ocigate saw only the ones sent straight to it
idx=0
for r in "${ROUTES_HTTP[@]}"; do
    got=
    for k in $(seq 1 "$per"); do
        f=$T/slow-http-$((idx * per + k)).out
        [ -f "$f" ] && head -1 "$f" | grep -q '^status=0 ' || got="$got #$k:$(head -1 "$f" 2>/dev/null)"
    done
    is "$got" "" "through lighttpd, $r: the $per slow bodies were held by lighttpd (no answer while they trickled)"
    idx=$((idx + 1))
done
idx=0
for r in "${ROUTES_DIRECT[@]}"; do
    files=()
    for k in $(seq 1 "$per"); do files+=("$T/slow-fcgi-$((idx * per + k)).out"); done
    check_answers "FastCGI straight to the socket, $r" "${files[@]}"
    idx=$((idx + 1))
done

# a body larger than any endpoint takes: lighttpd refuses it (its 1 MiB
# limit on /ocigate/), ocigate refuses one sent straight to it at once (it
# stops reading at 4 MiB)
head -c $((6 * 1024 * 1024)) /dev/zero | tr '\0' 'x' > "$T/big.json"
st=$(req big -u "admin:$PASS_admin" -H 'Content-Type: application/json' \
     --data-binary @"$T/big.json" "$U/ocigate/apikey")
is "$st" 413 "a 6 MiB body to POST /ocigate/apikey through lighttpd: 413 from the door"
$SLOW fcgi "$T/ocigate.sock" POST /ocigate/apikey -p "HTTP_AUTHORIZATION=Basic $AUTH_B64" \
    --length $((6 * 1024 * 1024)) --chunk 65535 --interval 0 --limit 20 --out "$T/big-fcgi.out"
like "$(head -1 "$T/big-fcgi.out")" '^status=400 complete=1 ' \
    "a 6 MiB body straight to ocigate: a complete 400 ($(head -1 "$T/big-fcgi.out"))"
# an anonymous slow body: its answer too (401), after the deadline at most
$SLOW fcgi "$T/ocigate.sock" POST /ocigate/apikey --length 400 --interval 0.2 --limit 30 \
    --out "$T/slow-anon.out"
like "$(head -1 "$T/slow-anon.out")" '^status=401 complete=1 ' "an anonymous slow body: a complete 401"

# FastCGI connections whose params never come (straight to the socket: a
# web server that hangs mid-request): each closed by ocigate within about a
# second, and a pull meanwhile still answered
cat > "$T/silent.py" <<'PY'
import socket, struct, sys, threading, time
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
res = []
def one():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    t0 = time.monotonic()
    s.sendall(struct.pack(">BBHHBx", 1, 1, 1, 8, 0) + struct.pack(">HB5x", 1, 0))
    s.settimeout(20)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    res.append(int((time.monotonic() - t0) * 1000))
ts = [threading.Thread(target=one) for _ in range(n)]
for t in ts: t.start()
for t in ts: t.join()
open(out, "w").write(" ".join(map(str, sorted(res))) + "\n")
PY
python3 "$T/silent.py" "$T/ocigate.sock" "$N" "$T/silent.out" &
SILENT=$!
register_pid "$SILENT"
sleep 0.2
read -r st ms <<<"$(pull p8)"
is "$st" 200 "$N FastCGI connections that never send their params: an anonymous pull still 200 (${ms} ms)"
wait "$SILENT" 2>/dev/null
silent_max=$(awk '{ print $NF }' "$T/silent.out" 2>/dev/null)
ok "$([ -n "$silent_max" ] && [ "$silent_max" -lt 2500 ] && echo 0 || echo 1)" \
    "... and each of them closed by ocigate within 2.5 s (${silent_max:-never} ms)"

# afterwards: the pool is whole, no key was made from a slow body
read -r st ms <<<"$(pull p9)"
is "$st" 200 "after: anonymous pull 200 (${ms} ms)"
st=$(req ls -u "admin:$PASS_admin" "$U/ocigate/apikey")
is "$(jq '.apiKeys | length' "$T/ls.body" 2>/dev/null)" 1 "no key was made from a slow body (admin has 1 key)"
like "$(grep -c 'request body not received' "$T/ocigate.log")" '^[1-9]' \
    "the decision log says why"
ok "$(pgrep -P "$OCIGATE_PID" | wc -l | grep -qx "$N" && echo 0 || echo 1)" "still $N workers"

done_testing
