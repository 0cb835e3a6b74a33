#!/usr/bin/env bash
# failover_two_hosts.sh - two registry "hosts" sharing Redis behind Sentinel,
# under a steady load, through two failovers. One Redis master, one replica,
# three sentinels (lib.sh ha_start), one docker-registry, and two hosts: two
# lighttpd front doors, each with its own ocigate pool on its own socket,
# with the same config (redis.sentinels, redis.minReplicas 1, API keys not
# cached so that every key request asks Redis).
#
# A background loop per host records every request as a line
# `TIME HOST KIND STATUS [TAG DIGEST]` in $T/load-HOST.txt:
#   should succeed: pull (anonymous GET manifest), keyauth (GET /v2/ with the
#     ci API key), keypush (ci pushes a fresh tag with the API key: a claimed
#     first push, each of its own manifest), htpasswd (GET /v2/ as ci with
#     its password);
#   must be denied: anonpush (PUT manifest without credentials), overwrite
#     (ci re-pushes an existing tag with other content), wrongkey (GET /v2/
#     with a key that does not exist).
# Phase 1: SIGKILL the master; the sentinels promote the replica; the old
# master is restarted and comes back as a replica. Phase 2: the master is
# partitioned (SIGSTOP) until the sentinels have promoted the replica (at
# least 4 s, longer than down-after-milliseconds 1000), then resumed
# (SIGCONT); it must be demoted to a replica.
# During each failover, 8 ci pushes of one new tag with 8 different
# contents, 4 through each host and started together, race several times:
# at most one wins, and the registry holds the winner's digest (or no tag).
# Once the old master is a replica again, claims work again (a round of
# racers has its winner). After each promotion API keys work again within KEY_BOUND seconds on both
# hosts (the measured time is printed). Throughout: no denied kind ever gets
# a 2xx, the valid key never gets 401, no tag is ever overwritten (each tag
# keeps the digest of its first success), and no refused push leaves its
# tag in the registry.
#
# Claims are confirmed with WAIT on redis.minReplicas (1) replicas: while
# the master has no connected replica (from the promotion until the old
# master has rejoined as a replica), claimed pushes are refused with 503 by
# design. The outage seen by clients is printed per phase and kind: requests
# refused (non-2xx for a kind that should succeed) and the time from the
# first to the last refused one.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd curl jq htpasswd python3

KEY_BOUND=15   # seconds after a promotion within which API keys must work again
RUN=$RANDOM$RANDOM
OCI_MT=application/vnd.oci.image.manifest.v1+json

# ------------------------------------------------------------------ setup ---

read -r REG_PORT LT1_PORT LT2_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci
ha_start
CONF=$T/ocigate.json
test_config "$CONF" "$REG_PORT" 0 "$T/htpasswd" \
    ".redis = $(ha_redis_json 1) | .auth.apikey = {enabled: true, cacheSeconds: 0}"
if ! "$OCIGATE_BIN" check -c "$CONF" > "$T/check.log" 2>&1; then
    if grep -q 'unknown key' "$T/check.log" && grep -q sentinels "$T/check.log"; then
        skip_all "this ocigate has no redis.sentinels: $(head -n 1 "$T/check.log")"
    fi
    bail "ocigate check refuses the config: $(_redact_secrets < "$T/check.log" | head -n 5)"
fi

start_registry "$REG_PORT"
KEY=$("$OCIGATE_BIN" key create -c "$CONF" --user ci --label e2e-failover 2> "$T/key.err")
[[ $KEY =~ ^zak_[0-9a-f]{32}$ ]] || bail "ocigate key create through the sentinels failed: $(_redact_secrets < "$T/key.err" | tail -n 3)"
secret "$KEY"
WRONG_KEY=zak_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
secret "$WRONG_KEY"
for h in 1 2; do
    start_ocigate "$T/ocigate$h.sock" 4
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external$h.conf" \
        regport="$REG_PORT" extsock="$T/ocigate$h.sock"
    eval "port=\$LT${h}_PORT"
    start_lighttpd "lighttpd$h" "$port" "$T/external$h.conf"
done
U1=http://127.0.0.1:$LT1_PORT
U2=http://127.0.0.1:$LT2_PORT
CI_KEY="ci:$KEY"
CI_PW="ci:$PASS_ci"

# images: A (load/app:base, pulled by the loop), B (what the loop's
# overwrite attempts push over load/app:base), C (pushed by the loop to a
# fresh tag each time, with the tag as an annotation: one manifest per tag,
# so that docker-registry never rewrites a manifest another request reads;
# its filesystem storage answers 500 to a read racing such a rewrite),
# 8 race images
IMG=$T/img
D_A=$(mkimage "$IMG" a --content "load a $RUN") || bail "mkimage failed"
D_B=$(mkimage "$IMG" b --content "load b $RUN") || bail "mkimage failed"
D_C=$(mkimage "$IMG" c --content "load c $RUN") || bail "mkimage failed"
M_C_JSON=$(cat "$IMG/blobs/sha256/${D_C#sha256:}")
[ "${M_C_JSON: -1}" = "}" ] || bail "image C's manifest does not end with }"
M_A=$IMG/blobs/sha256/${D_A#sha256:}
M_B=$IMG/blobs/sha256/${D_B#sha256:}
push_blobs "$CI_KEY" "$U1" load/app "$IMG" "$D_A" || bail "ci could not upload blobs to load/app"
push_blobs "$CI_KEY" "$U2" load/app "$IMG" "$D_B" || bail "ci could not upload blobs to load/app"
push_blobs "$CI_KEY" "$U2" load/app "$IMG" "$D_C" || bail "ci could not upload blobs to load/app"
code=$(put_oci_manifest base "$CI_KEY" "$U1" load/app base "$M_A")
[ "$code" = 201 ] || bail "ci could not push load/app:base ($code): $(body base)"
RACE=$T/race
for i in 0 1 2 3 4 5 6 7; do
    D_RACE[$i]=$(mkimage "$RACE" "r$i" --content "race $i $RUN") || bail "mkimage failed"
    RACE_FILES[$i]=$RACE/blobs/sha256/${D_RACE[$i]#sha256:}
    push_blobs "$CI_PW" "$U1" race/app "$RACE" "${D_RACE[$i]}" \
        || bail "ci could not upload the blobs of race image $i"
done
[ "$(printf '%s\n' "${D_RACE[@]}" | sort -u | wc -l)" = 8 ] || bail "mkimage gave equal digests"

# --------------------------------------------------------------- the load ---

# load HOST BASEURL: the steady loop of one host, until $T/stop exists
# (bounded anyway: at most 240 s).
load() {
    local host=$1 base=$2 n=0 kind out code tag dig end=$((SECONDS + 240))
    local c=(curl -s --max-time 5 -o /dev/null)
    while [ ! -e "$T/stop" ] && [ "$SECONDS" -lt "$end" ]; do
        n=$((n + 1))
        for kind in pull keyauth keypush htpasswd anonpush overwrite wrongkey; do
            tag= dig=
            case $kind in
                pull) code=$("${c[@]}" -w '%{http_code}' -H "Accept: $OCI_MT" "$base/v2/load/app/manifests/base") ;;
                keyauth) code=$("${c[@]}" -w '%{http_code}' -u "$CI_KEY" "$base/v2/") ;;
                keypush)
                    tag=h$host-$n-$RUN
                    out=$("${c[@]}" -w '%{http_code} %header{docker-content-digest}' -u "$CI_KEY" -X PUT \
                        -H "Content-Type: $OCI_MT" --data-binary "${M_C_JSON%\}},\"annotations\":{\"e2e.tag\":\"$tag\"}}" \
                        "$base/v2/load/app/manifests/$tag")
                    read -r code dig <<<"$out" ;;
                htpasswd) code=$("${c[@]}" -w '%{http_code}' -u "$CI_PW" "$base/v2/") ;;
                anonpush) code=$("${c[@]}" -w '%{http_code}' -X PUT -H "Content-Type: $OCI_MT" \
                        --data-binary "@$M_B" "$base/v2/load/app/manifests/anon-$host-$n-$RUN") ;;
                overwrite) code=$("${c[@]}" -w '%{http_code}' -u "$CI_KEY" -X PUT -H "Content-Type: $OCI_MT" \
                        --data-binary "@$M_B" "$base/v2/load/app/manifests/base") ;;
                wrongkey) code=$("${c[@]}" -w '%{http_code}' -u "ci:$WRONG_KEY" "$base/v2/") ;;
            esac
            echo "$EPOCHREALTIME $host $kind ${code:-000}${tag:+ $tag ${dig:--}}"
        done
    done >> "$T/load-$host.txt"
}

# mark NAME: a timestamped line in $T/marks.txt (phase boundaries)
mark() { echo "$EPOCHREALTIME $1" >> "$T/marks.txt"; diag "$(date -u +%T) $1"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }


# race_start NAME: start one round of the 8 racers on race/app:NAME-$RUN
# across both hosts, in the background (the failover goes on meanwhile).
# race_check NAME [EXACT]: wait for it (bounded) and check: at most one 201
# (exactly one with EXACT=1), and the registry holds the winner's digest, or
# no such tag when nobody won. Appends "TAG DIGEST" of a winner to
# $T/race-tags.txt. race NAME [EXACT]: both, one after the other.
declare -A RACE_PID
race_start() {
    timeout 40 python3 "$E2E_DIR/race.py" "$CI_PW" race/app "$1-$RUN" "$LT1_PORT,$LT2_PORT" "${RACE_FILES[@]}" \
        > "$T/race-$1.out" 2>&1 &
    RACE_PID[$1]=$!
}
race_check() {
    local name=$1 exact=${2:-0} tag=$1-$RUN n201 widx wdig got want
    wait "${RACE_PID[$name]}" 2>/dev/null
    n201=$(awk '$3 == 201' "$T/race-$name.out" | wc -l | tr -d ' ')
    if [ "$exact" = 1 ]; then
        is "$n201" 1 "race $name: exactly one of 8 racers (4 per host) wins race/app:$tag" \
            || diag "$(cat "$T/race-$name.out")"
    else
        ok "[ $n201 -le 1 ]" "race $name: at most one of 8 racers (4 per host) wins race/app:$tag ($n201 won)" \
            || diag "$(cat "$T/race-$name.out")"
    fi
    widx=$(awk '$3 == 201 { print $1; exit }' "$T/race-$name.out")
    wdig=${widx:+${D_RACE[$widx]}}
    if [ -n "$widx" ]; then want="the winner's digest (image $widx)"; else want="no such tag"; fi
    got=$(registry_tag_digest "$REG_PORT" race/app "$tag")
    is "$got" "${wdig:-404}" "race $name: the registry holds $want"
    if [ -n "$wdig" ]; then echo "$tag $wdig" >> "$T/race-tags.txt"; fi
    diag "race $name: $(awk '{ print $3 }' "$T/race-$name.out" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')"
}
race() { race_start "$1"; race_check "$@"; }

# settled PHASE: once the old master is a replica again, claims work again:
# rounds of racers (at most one winner each, as always) until one round has
# its winner, at most 4 rounds a second apart. (A claim is confirmed only
# when the replica acknowledges it within redis.timeoutMs, 200 ms: on a
# loaded machine one round may still see none; every round is checked.)
settled() {
    local i won=0
    SETTLED=
    for i in 1 2 3 4; do
        race "$1-settled-$i"
        SETTLED="$SETTLED $1-settled-$i"
        if awk '$3 == 201 { f = 1 } END { exit !f }' "$T/race-$1-settled-$i.out"; then won=1; break; fi
        sleep 1
    done
    ok "$((1 - won))" "$1: claims work again once the old master is a replica: race round $i of at most 4 has its winner"
}

# retry_unwon NAME...: once the failover is over, a race nobody won must not
# have left its tag blocked (a claim set but not confirmed is released): ci
# pushes race image 0 to each such tag: 201, and the registry holds it.
retry_unwon() {
    local name tag code
    for name in "$@"; do
        awk '$3 == 201 { f = 1 } END { exit !f }' "$T/race-$name.out" && continue
        tag=$name-$RUN
        code=$(put_oci_manifest "retry-$name" "$CI_PW" "$U1" race/app "$tag" "${RACE_FILES[0]}")
        is "$code" 201 "race $name had no winner: its tag is not left blocked (a later push gets 201)" \
            || diag "$(body "retry-$name")"
        if [ "$code" = 201 ]; then
            echo "$tag ${D_RACE[0]}" >> "$T/race-tags.txt"
            is "$(registry_tag_digest "$REG_PORT" race/app "$tag")" "${D_RACE[0]}" "... the registry holds it"
        fi
    done
}

keyok_both() {
    [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' -u "$CI_KEY" "$U1/v2/")" = 200 ] &&
    [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' -u "$CI_KEY" "$U2/v2/")" = 200 ]
}

# keys_wait PHASE: wait (at most KEY_BOUND s) until API keys work on both
# hosts; writes "STATUS TIME_MS" to $T/keys-PHASE.txt (may run in the
# background). keys_back PHASE T_FAULT_MS T_PROMOTION_MS: the check on it,
# with the measured times (also kept in $T/keys-back.txt).
keys_wait() {
    local rc
    wait_until "$KEY_BOUND" keyok_both
    rc=$?
    echo "$rc $(now_ms)" > "$T/keys-$1.txt"
}
keys_back() {
    local phase=$1 t0=$2 tp=$3 rc tk
    read -r rc tk < "$T/keys-$phase.txt"
    ok "$rc" "$phase: API keys work again on both hosts within $KEY_BOUND s of the promotion: $((tk - tp)) ms after it ($((tk - t0)) ms after the fault)"
    echo "$phase: promotion $((tp - t0)) ms after the fault; API keys back on both hosts $((tk - tp)) ms after the promotion" \
        >> "$T/keys-back.txt"
}

# ----------------------------------------------------------- the phases ---

: > "$T/marks.txt"
load 1 "$U1" &
LOAD1=$!
register_pid "$LOAD1"
load 2 "$U2" &
LOAD2=$!
register_pid "$LOAD2"
mark "baseline start"
race baseline 1
sleep 3

# ---- phase 1: SIGKILL the master
M0=$(ha_master)
N0=$(ha_node_of "$M0")
mark "phase1 start: SIGKILL $N0 ($M0)"
t_fault=$(now_ms)
ha_kill "$N0"
race_start p1-master-dead
ha_wait_master_not "$M0" 30 || { ha_logs; bail "phase 1: the sentinels did not promote the replica within 30 s"; }
t_prom=$(now_ms)
M1=$(ha_master)
mark "phase1 promoted $(ha_node_of "$M1") ($M1)"
race_start p1-promoted
keys_wait phase1
keys_back phase1 "$t_fault" "$t_prom"
race_check p1-master-dead
race_check p1-promoted
ha_restart "$N0"
race p1-old-master-back
ok 'ha_wait_replica "$N0" "$M1" 40' "phase 1: the old master ($N0), restarted, is a connected replica of the new one ($M1)" \
    || ha_logs
mark "phase1 old master is a replica"
settled p1
retry_unwon p1-master-dead p1-promoted p1-old-master-back $SETTLED
sleep 2
mark "phase1 end"

# ---- phase 2: partition the master (SIGSTOP) longer than down-after
N1=$(ha_node_of "$M1")
mark "phase2 start: SIGSTOP $N1 ($M1)"
t_fault=$(now_ms)
ha_kill "$N1" STOP
race_start p2-partitioned
ha_wait_master_not "$M1" 30 || { ha_kill "$N1" CONT; ha_logs; bail "phase 2: the sentinels did not promote the replica within 30 s"; }
t_prom=$(now_ms)
M2=$(ha_master)
mark "phase2 promoted $(ha_node_of "$M2") ($M2)"
race_start p2-promoted
keys_wait phase2 &   # measured while the old master is still stopped
KEYS2=$!
while [ "$(now_ms)" -lt $((t_fault + 4000)) ]; do sleep 0.1; done
ha_kill "$N1" CONT
mark "phase2 SIGCONT $N1 after $(( $(now_ms) - t_fault )) ms"
# the resumed old master still believes it is the master until the
# sentinels demote it: claims written there are not confirmed by any replica
race_start p2-old-master-resumed
wait "$KEYS2"
keys_back phase2 "$t_fault" "$t_prom"
race_check p2-partitioned
race_check p2-promoted
race_check p2-old-master-resumed
ok 'ha_wait_replica "$N1" "$M2" 40' "phase 2: the partitioned master ($N1) is demoted to a connected replica of $M2" \
    || ha_logs
mark "phase2 old master is a replica"
settled p2
retry_unwon p2-partitioned p2-promoted p2-old-master-resumed $SETTLED
sleep 2
mark "phase2 end"
touch "$T/stop"
WAIT_PID=$LOAD1 wait_until 15 false
WAIT_PID=$LOAD2 wait_until 15 false
cat "$T/load-1.txt" "$T/load-2.txt" | sort -n > "$T/load.txt"

# ---------------------------------------------------------------- checks ---

total=$(wc -l < "$T/load.txt" | tr -d ' ')
ok "[ $total -gt 200 ]" "the load loops made $total requests through both hosts"
for h in 1 2; do
    is "$(awk -v h="$h" '$2 == h && $3 == "keypush" && $4 == 201' "$T/load.txt" | wc -l | tr -d ' ' | sed 's/^0$/none/;s/^[0-9]*$/some/')" \
        some "host $h: some API-key pushes succeeded"
done
for kind in anonpush overwrite wrongkey; do
    bad=$(awk -v k="$kind" '$3 == k && $4 ~ /^2/' "$T/load.txt")
    n=$(awk -v k="$kind" '$3 == k' "$T/load.txt" | wc -l | tr -d ' ')
    is "$(printf '%s' "$bad" | grep -c .)" 0 "denied kind $kind: none of $n requests got a 2xx" \
        || diag "$(printf '%s\n' "$bad" | head -n 5)"
    diag "$kind answers: $(awk -v k="$kind" '$3 == k { print $4 }' "$T/load.txt" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')"
done

# a valid key is never "unknown": it is read only from the master (a node
# without it, e.g. the old master restarted empty, would answer 401)
bad=$(awk '($3 == "keyauth" || $3 == "keypush") && $4 == 401' "$T/load.txt")
is "$(printf '%s' "$bad" | grep -c .)" 0 "the valid API key never got 401 (never read from a node that lacks it)" \
    || diag "$(printf '%s\n' "$bad" | head -n 5)"

# every tag keeps the digest of its first success; refused pushes left nothing
awk '$3 == "keypush" && $4 == 201 { print $5, $6 }' "$T/load.txt" > "$T/tags.txt"
cat "$T/race-tags.txt" >> "$T/tags.txt" 2>/dev/null
echo "base $D_A" >> "$T/tags.txt"
awk '$3 == "keypush" && $4 ~ /^[345]/ { print $5 }' "$T/load.txt" > "$T/refused-tags.txt"
python3 - "$REG_PORT" "$T/tags.txt" "$T/refused-tags.txt" > "$T/verify.out" 2>&1 <<'EOF'
import http.client, sys
port, tags, refused = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def digest(tag):
    repo = "race/app" if tag.startswith(("baseline-", "p1-", "p2-")) else "load/app"
    c.request("HEAD", "/v2/%s/manifests/%s" % (repo, tag),
              headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    r = c.getresponse(); r.read()
    return r.getheader("Docker-Content-Digest") if r.status == 200 else str(r.status)
changed = 0; n = 0
for line in open(tags):
    tag, want = line.split()
    n += 1
    got = digest(tag)
    if got != want:
        changed += 1
        print("changed", tag, want, got)
left = 0; m = 0
for line in open(refused):
    tag = line.strip()
    if not tag: continue
    m += 1
    got = digest(tag)
    if got != "404":
        left += 1
        print("refused-but-present", tag, got)
print("summary", n, changed, m, left)
EOF
read -r _ ntags nchanged nrefused nleft <<<"$(grep '^summary' "$T/verify.out")"
is "${nchanged:-?}" 0 "no tag overwritten: all ${ntags:-?} tags (pushes, race winners, load/app:base) keep their first digest" \
    || diag "$(head -n 10 "$T/verify.out")"
is "${nleft:-?}" 0 "none of the ${nrefused:-?} refused API-key pushes left its tag in the registry" \
    || diag "$(grep refused-but-present "$T/verify.out" | head -n 10)"

# baseline: before any fault, nothing that should succeed was refused
t_p1=$(awk '$2 == "phase1" && $3 == "start:" { print $1; exit }' "$T/marks.txt")
base_bad=$(awk -v e="$t_p1" '$1 < e && ($3 == "pull" || $3 == "keyauth" || $3 == "keypush" || $3 == "htpasswd") && $4 !~ /^2/' "$T/load.txt")
is "$(printf '%s' "$base_bad" | grep -c .)" 0 "baseline (before the first fault): no request that should succeed was refused" \
    || diag "$(printf '%s\n' "$base_bad" | head -n 5)"

# outage per phase and kind: phase N runs from "phaseN start" to "phaseN end"
outage() { # PHASE
    local s e
    s=$(awk -v p="$1" '$2 == p && $3 == "start:" { print $1; exit }' "$T/marks.txt")
    e=$(awk -v p="$1" '$2 == p && $3 == "end" { print $1; exit }' "$T/marks.txt")
    awk -v s="$s" -v e="$e" -v p="$1" '
        $1 >= s && $1 <= e && ($3 == "pull" || $3 == "keyauth" || $3 == "keypush" || $3 == "htpasswd") {
            n[$3]++
            if ($4 !~ /^2/) { r[$3]++; if (!($3 in f)) f[$3] = $1; l[$3] = $1; c[$3 " " $4]++ }
        }
        END {
            split("pull keyauth keypush htpasswd", ks, " ")
            for (i = 1; i <= 4; i++) {
                k = ks[i]; codes = ""
                for (x in c) { split(x, y, " "); if (y[1] == k) codes = codes " " y[2] "x" c[x] }
                if (r[k]) printf "%s %-8s %4d of %4d refused over %5.1f s (%s )\n", p, k, r[k], n[k], l[k] - f[k], codes
                else printf "%s %-8s %4d of %4d refused\n", p, k, 0, n[k] + 0
            }
        }' "$T/load.txt"
}
diag "outage seen by clients (both hosts; refused = non-2xx; time = first to last refused):"
diag "$(outage phase1)"
diag "$(sed -n 1p "$T/keys-back.txt")"
diag "$(outage phase2)"
diag "$(sed -n 2p "$T/keys-back.txt")"
outage phase1 > "$T/outage.txt"
outage phase2 >> "$T/outage.txt"
for p in phase1 phase2; do
    for k in pull htpasswd; do
        is "$(awk -v p="$p" -v k="$k" '$1 == p && $2 == k { print $3 }' "$T/outage.txt")" 0 \
            "$p: no $k request refused (they need no Redis master)"
    done
done
# both hosts saw both failovers: health names the last master, the
# metrics count the failovers and the Redis errors by kind
for h in 1 2; do
    eval "base=\$U$h"
    req health$h "$base/ocigate/healthz" > /dev/null
    is "$(jq -r .redis_master "$T/health$h.body" 2>/dev/null)" "127.0.0.1:$M2" "host $h: health names the last master ($M2)" \
        || diag "$(body health$h)"
    req metrics$h "$base/ocigate/metrics" > /dev/null
    fo=$(sed -n 's/^ocigate_redis_failovers_total \([0-9]*\).*/\1/p' "$T/metrics$h.body")
    ok "[ ${fo:-0} -ge 2 ]" "host $h: ocigate_redis_failovers_total counts both failovers (${fo:-none})"
    # the killed master refuses connections, the stopped one times out, and
    # claims are refused while the master has no replica
    for kind in connect timeout replication; do
        n=$(sed -n "s/^ocigate_redis_errors_total{kind=\"$kind\"} \\([0-9]*\\).*/\\1/p" "$T/metrics$h.body")
        ok "[ ${n:-0} -ge 1 ]" "host $h: ocigate_redis_errors_total{kind=\"$kind\"} counts errors (${n:-none})"
    done
    diag "host $h: $(grep -E '^ocigate_redis_(failovers|errors)_total' "$T/metrics$h.body" | sed 's/^ocigate_redis_//' | tr '\n' ' ')"
done
is "$(ha_acl_denials)" 0 "the least-privilege ACL users of doc/redis.md refused ocigate nothing (ACL LOG of every node)" \
    || diag "$(cat "$T/acl-denials.txt")"
left=$(ha_cli "$(ha_node_of "$M2")" --scan --pattern 'ocigate:tag:*' | grep -c .)
diag "claims left in Redis at the end: $left (a claim lost with its write in a failover lives until its TTL)"
diag "marks: $(tr '\n' ';' < "$T/marks.txt")"

done_testing
