#!/usr/bin/env bash
# immutability.sh - tag immutability end to end (doc/decisions.md), basic mode:
# curl/python/skopeo -> lighttpd (deploy/lighttpd/ocigate-external.conf) ->
# ocigate serve -> docker-registry, with a real redis-server for tag claims.
# Manifest PUTs are served by ocigate itself (OCIGATE_SERVE=manifest): it
# decides, claims, forwards the PUT and releases the claim when the write
# ends.
#
#   - 8 concurrent ci pushes of 8 different images to one new tag: exactly
#     one wins (several rounds), also across two ocigate pools (two serve
#     processes, two lighttpd front doors) that share one Redis;
#   - ci never overwrites (by tag, or by digest with ?tag=); immutableTags
#     binds admins too (overwrite and DELETE by digest), and only where a
#     matching tag points at the digest;
#   - registry down during a tag push: 503 UNAVAILABLE and no claim left;
#   - a claim lives only while its write is in flight: none is left after
#     a push; a held claim (another push's, or a crashed worker's) is never
#     taken over, however old: it blocks until `ocigate tag unclaim` (or its
#     TTL); `ocigate tag claims` lists it; a failed write releases its claim
#     at once (a retry succeeds); a ?tag= PUT claims all its tags or none;
#   - immutableTags also protect the children of an index an immutable tag
#     points at, and every blob of a covered repository, from DELETE;
#   - without the manifest route (ocigate as a plain authorizer) a push that
#     needs a claim is refused with 403, one that needs none still works;
#   - Redis down: claims get 503 (never 201), pulls go on; Redis back:
#     pushes work again without restarting ocigate;
#   - the registry never sees a denied manifest PUT or DELETE.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd skopeo curl jq htpasswd python3

OCI_MT=application/vnd.oci.image.manifest.v1+json
ACCEPT="Accept: $OCI_MT"
RUN=$RANDOM$RANDOM   # unique tags, so the registry's access log can be searched
RULE='immutableTags[0] (prod/** : v*)'

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT LT_PORT LT2_PORT LT3_PORT <<<"$(free_ports 5)"
make_htpasswd "$T/htpasswd" admin ci
CONF=$T/ocigate.json
test_config "$CONF" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    '.immutableTags = [{"repositories": ["prod/**"], "tags": ["v*"]}]'
PREFIX=$(jq -r .redis.prefix "$CONF")

"$OCIGATE_BIN" check -c "$CONF" > "$T/check.out" 2>&1
ok $? "ocigate check accepts three-tier.json plus immutableTags prod/** x v*" \
    || diag "$(cat "$T/check.out")"
is "$(jq -r .token.challenge "$CONF")" basic "the test config uses token.challenge basic"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
# two pools on two sockets, sharing one config and one Redis
start_ocigate "$T/ocigate.sock" 4
POOL1=$OCIGATE_PID
start_ocigate "$T/ocigate2.sock" 4
POOL2=$OCIGATE_PID
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external2.conf" \
    regport="$REG_PORT" extsock="$T/ocigate2.sock"
start_lighttpd lighttpd2 "$LT2_PORT" "$T/external2.conf"

U=http://127.0.0.1:$LT_PORT
H=127.0.0.1:$LT_PORT
U2=http://127.0.0.1:$LT2_PORT
REG=http://127.0.0.1:$REG_PORT
ADMIN="admin:$PASS_admin"
CI="ci:$PASS_ci"

# ---------------------------------------------------------- local helpers ---

# rcli ARGS...: bounded redis-cli against the test's Redis.
rcli() { timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>&1; }

# claims: `ocigate tag claims` output (stderr too).
claims() { timeout 10 "$OCIGATE_BIN" tag claims -c "$CONF" 2>&1; }

# registry_digest REPO REF: the digest the registry itself holds (direct,
# not through lighttpd), or the HTTP status when it has none.
registry_digest() {
    local code
    code=$(req regdigest -I -H "$ACCEPT" "$REG/v2/$1/manifests/$2")
    if [ "$code" = 200 ]; then hdr regdigest Docker-Content-Digest; else echo "$code"; fi
}

# registry_saw ERE: count registry access-log lines matching ERE.
registry_saw() { grep -cE -- "$1" "$T/registry.log" || true; }

# oci_error NAME: "CODE" of .errors[0] of a kept response body.
oci_error() { jq -r '.errors[0].code' "$T/$1.body" 2>/dev/null; }
# oci_rule NAME: .errors[0].detail.rule of a kept response body.
oci_rule() { jq -r '.errors[0].detail.rule // empty' "$T/$1.body" 2>/dev/null; }

# manifest_of LAYOUT DIGEST: path of the manifest blob in an OCI layout.
manifest_of() { echo "$1/blobs/sha256/${2#sha256:}"; }


# put_manifest NAME CREDS BASEURL REPO REF FILE: raw manifest PUT; status on
# stdout, headers/body kept as NAME.
put_manifest() {
    req "$1" -u "$2" -X PUT -H "Content-Type: $OCI_MT" --data-binary "@$6" "$3/v2/$4/manifests/$5"
}

# restart_registry: docker-registry again on the same port and storage.
# (lib.sh's start_registry would truncate registry.log, whose access log the
# final checks read, so this appends instead.)
restart_registry() {
    docker-registry serve "$T/registry.yml" >> "$T/registry.log" 2>&1 &
    REGISTRY_PID=$!
    register_pid "$REGISTRY_PID"
    wait_port "$REG_PORT" 15 "$REGISTRY_PID" || bail "docker-registry did not listen again on $REG_PORT"
}


# eight different images for the races (different layer content)
RACE=$T/race
for i in 0 1 2 3 4 5 6 7; do
    D_RACE[$i]=$(mkimage "$RACE" "r$i" --content "race image $i $RUN") || bail "mkimage failed"
    RACE_FILES[$i]=$(manifest_of "$RACE" "${D_RACE[$i]}")
done
[ "$(printf '%s\n' "${D_RACE[@]}" | sort -u | wc -l)" = 8 ] || bail "mkimage gave equal digests"

# race NAME REPO TAG PORTS: one round of 8 concurrent ci manifest PUTs, with
# the checks that exactly one won and that the registry holds the winner.
race() {
    local name=$1 repo=$2 tag=$3 ports=$4 n201 n403 ndenied widx wdig
    python3 "$E2E_DIR/race.py" "$CI" "$repo" "$tag" "$ports" "${RACE_FILES[@]}" > "$T/$name.out" 2>&1
    n201=$(awk '$3 == 201' "$T/$name.out" | wc -l | tr -d ' ')
    n403=$(awk '$3 == 403' "$T/$name.out" | wc -l | tr -d ' ')
    ndenied=$(awk '$3 == 403 && $4 == "DENIED"' "$T/$name.out" | wc -l | tr -d ' ')
    is "$n201" 1 "$name: exactly one of 8 concurrent ci pushes to $repo:$tag wins (201)" \
        || diag "$(cat "$T/$name.out")"
    is "$n403" 7 "$name: the other seven get 403" || diag "$(cat "$T/$name.out")"
    is "$ndenied" 7 "$name: ... each with code DENIED"
    widx=$(awk '$3 == 201 { print $1; exit }' "$T/$name.out")
    wdig=${widx:+${D_RACE[$widx]}}
    is "$(registry_digest "$repo" "$tag")" "${wdig:-no winner}" \
        "$name: the registry holds the winner's digest${widx:+ (image $widx, via port $(awk -v i="$widx" '$1 == i { print $2 }' "$T/$name.out"))}"
    diag "$name: $(grep -c "manifests/$tag\".*concurrent push" "$T/ocigate.log" 2>/dev/null || true) losers lost on the Redis claim, the rest saw the tag in the registry"
    RACE_WINNER=$wdig
}

# ------------------------------------------------- 1. one pool, 8 racers ---

is "$(req door1 "$U/v2/")" 401 "front door 1 (pool 1) answers: GET /v2/ without credentials 401"
is "$(req door2 "$U2/v2/")" 401 "front door 2 (pool 2) answers: GET /v2/ without credentials 401"
ok 'grep -q "ocigate2.sock" "$T/external2.conf" && ! grep -q "ocigate2.sock" "$T/external.conf"' \
    "front door 2 asks pool 2's socket, front door 1 pool 1's"

for repo in race/app prod/race pools/app; do
    for i in 0 1 2 3 4 5 6 7; do
        push_blobs "$CI" "$U" "$repo" "$RACE" "${D_RACE[$i]}" \
            || bail "ci could not upload the blobs of race image $i to $repo"
    done
done

race round1 race/app "r1-$RUN" "$LT_PORT"
W1=$RACE_WINNER
race round2 race/app "r2-$RUN" "$LT_PORT"
race round3 prod/race "v3.0.0-$RUN" "$LT_PORT"

# ------------------------------------- 2. two pools sharing one Redis ------

race pools1 pools/app "p1-$RUN" "$LT_PORT,$LT2_PORT"
race pools2 pools/app "p2-$RUN" "$LT_PORT,$LT2_PORT"
ok 'pid_running "$POOL1" && pid_running "$POOL2"' "both ocigate pools (pids $POOL1, $POOL2) still run"

# --------------------------------------------- 7. ocigate tag claims -------

out=$(claims)
unlike "$out" "r1-$RUN|p1-$RUN" "ocigate tag claims lists no claim of the finished races (released once written)"
is "$(rcli EXISTS "${PREFIX}tag:race/app:r1-$RUN")" 0 "no claim left on race/app:r1-$RUN"
is "$(rcli --scan --pattern "${PREFIX}tag:*" | grep -c . )" 0 "no claim at all is left in Redis after the races"

# ------------------------------------------------ 3. ci and admin rules -----

IMG=$T/img
D_A=$(mkimage "$IMG" a) || bail "mkimage failed"
D_B=$(mkimage "$IMG" b) || bail "mkimage failed"
M_B=$(manifest_of "$IMG" "$D_B")

# ci on an existing tag: no overwrite, by tag or by digest with ?tag=
skopeo_copy "oci:$IMG:a" "docker://$H/team/app:v1" --dest-creds "$ADMIN"
ok $? "admin pushes team/app:v1 (skopeo)"
push_blobs "$CI" "$U" team/app "$IMG" "$D_B" || bail "ci could not upload blobs to team/app"
is "$(put_manifest ci_retag "$CI" "$U" team/app v1 "$M_B")" 403 \
    "ci PUT /v2/team/app/manifests/v1 (existing tag, other image): 403"
is "$(oci_error ci_retag)" DENIED "... code DENIED"
is "$(put_manifest ci_digtag "$CI" "$U" team/app "$D_B?tag=v1" "$M_B")" 403 \
    "ci PUT /v2/team/app/manifests/$D_B?tag=v1 (existing tag): 403"
is "$(oci_error ci_digtag)" DENIED "... code DENIED"
is "$(put_manifest ci_retag_race "$CI" "$U" race/app "r1-$RUN" "${RACE_FILES[0]}")" 403 \
    "ci re-push of the race winner's tag race/app:r1-$RUN: 403"
is "$(registry_digest team/app v1)" "$D_A" "team/app:v1 still holds admin's first image"
is "$(registry_digest race/app "r1-$RUN")" "$W1" "race/app:r1-$RUN still holds the race winner"

# admin outside the rule: overwrite allowed
skopeo_copy "oci:$IMG:b" "docker://$H/team/app:v1" --dest-creds "$ADMIN"
ok $? "admin overwrites team/app:v1 (not under immutableTags; skopeo)"
is "$(registry_digest team/app v1)" "$D_B" "team/app:v1 now holds admin's second image"

# admin under the rule: no overwrite
D_P1=$(mkimage "$IMG" p1) || bail "mkimage failed"
D_P2=$(mkimage "$IMG" p2) || bail "mkimage failed"
M_P2=$(manifest_of "$IMG" "$D_P2")
skopeo_copy "oci:$IMG:p1" "docker://$H/prod/app:v1.0" --dest-creds "$ADMIN"
ok $? "admin pushes a new tag prod/app:v1.0 (skopeo)"
is "$(registry_digest prod/app v1.0)" "$D_P1" "the registry holds admin's prod/app:v1.0"
push_blobs "$ADMIN" "$U" prod/app "$IMG" "$D_P2" || bail "admin could not upload blobs to prod/app"
is "$(put_manifest adm_imm "$ADMIN" "$U" prod/app v1.0 "$M_P2")" 403 \
    "admin PUT /v2/prod/app/manifests/v1.0 (immutable, existing): 403"
is "$(oci_error adm_imm)" DENIED "... code DENIED"
is "$(oci_rule adm_imm)" "$RULE" "... detail.rule names $RULE" || diag "$(body adm_imm)"
is "$(put_manifest adm_imm_dig "$ADMIN" "$U" prod/app "$D_P2?tag=v1.0" "$M_P2")" 403 \
    "admin PUT /v2/prod/app/manifests/DIGEST?tag=v1.0: 403"
is "$(oci_rule adm_imm_dig)" "$RULE" "... detail.rule names the rule"
skopeo_copy "oci:$IMG:p2" "docker://$H/prod/app:v1.0" --dest-creds "$ADMIN"
rc=$?
ok '[ "$rc" != 0 ]' "admin overwrite of prod/app:v1.0 with skopeo fails"
is "$(registry_digest prod/app v1.0)" "$D_P1" "prod/app:v1.0 still holds the first image"

# admin DELETE by digest: denied where a v* tag points at it, else allowed
D_P3=$(mkimage "$IMG" p3) || bail "mkimage failed"
skopeo_copy "oci:$IMG:p3" "docker://$H/prod/app:v1.2.0" --dest-creds "$ADMIN"
ok $? "admin pushes prod/app:v1.2.0 (skopeo)"
is "$(req adm_del -u "$ADMIN" -X DELETE "$U/v2/prod/app/manifests/$D_P3")" 403 \
    "admin DELETE /v2/prod/app/manifests/DIGEST-of-v1.2.0: 403"
is "$(oci_error adm_del)" DENIED "... code DENIED"
is "$(oci_rule adm_del)" "$RULE" "... detail.rule names the rule" || diag "$(body adm_del)"
is "$(registry_digest prod/app v1.2.0)" "$D_P3" "prod/app:v1.2.0 is still there"

D_P4=$(mkimage "$IMG" p4) || bail "mkimage failed"
push_blobs "$ADMIN" "$U" prod/app "$IMG" "$D_P4" || bail "admin could not upload blobs to prod/app"
is "$(put_manifest adm_dig "$ADMIN" "$U" prod/app "$D_P4" "$(manifest_of "$IMG" "$D_P4")")" 201 \
    "admin pushes an image to prod/app by digest only: 201"
is "$(req adm_del_untagged -u "$ADMIN" -X DELETE "$U/v2/prod/app/manifests/$D_P4")" 202 \
    "admin DELETE of that untagged digest in prod/app: 202"
is "$(registry_digest prod/app "$D_P4")" 404 "the untagged manifest is gone from the registry"

D_P5=$(mkimage "$IMG" p5) || bail "mkimage failed"
skopeo_copy "oci:$IMG:p5" "docker://$H/prod/app:latest" --dest-creds "$ADMIN"
ok $? "admin pushes prod/app:latest (a tag outside v*; skopeo)"
is "$(req adm_del_latest -u "$ADMIN" -X DELETE "$U/v2/prod/app/manifests/$D_P5")" 202 \
    "admin DELETE of a digest only 'latest' points at (no v* tag) in prod/app: 202"
is "$(req ci_del -u "$CI" -X DELETE "$U/v2/team/app/manifests/$D_B")" 403 \
    "ci DELETE by digest in team/app: 403"

# -------------------------------------------------- 5. old claims hold -----

D_S1=$(mkimage "$IMG" s1) || bail "mkimage failed"
D_S2=$(mkimage "$IMG" s2) || bail "mkimage failed"
for d in "$D_S1" "$D_S2"; do
    push_blobs "$CI" "$U" stale/app "$IMG" "$d" || bail "ci could not upload blobs to stale/app"
done
now=$(date +%s)
is "$(rcli SET "${PREFIX}tag:stale/app:old-$RUN" "$((now - 40)) 0123456789abcdef someone" EX 300)" OK \
    "a hand-made claim 40 s old on stale/app:old-$RUN (tag not in the registry; a write in flight)"
is "$(put_manifest stale_take "$CI" "$U" stale/app "old-$RUN" "$(manifest_of "$IMG" "$D_S1")")" 403 \
    "ci push of stale/app:old-$RUN does not take the old claim over: 403" || diag "$(body stale_take)"
is "$(registry_digest stale/app "old-$RUN")" 404 "stale/app:old-$RUN is not in the registry"
is "$(rcli GET "${PREFIX}tag:stale/app:old-$RUN")" "$((now - 40)) 0123456789abcdef someone" \
    "the claim still belongs to someone"

now=$(date +%s)
is "$(rcli SET "${PREFIX}tag:stale/app:fresh-$RUN" "$now 0123456789abcdef someone" EX 300)" OK \
    "a fresh hand-made claim on stale/app:fresh-$RUN"
like "$(claims)" "^stale/app:fresh-$RUN  taken [0-9]+s ago by someone" \
    "ocigate tag claims lists the hand-made claim, by someone"
is "$(put_manifest fresh_held "$CI" "$U" stale/app "fresh-$RUN" "$(manifest_of "$IMG" "$D_S2")")" 403 \
    "ci push of stale/app:fresh-$RUN while someone's fresh claim is held: 403"
is "$(oci_error fresh_held)" DENIED "... code DENIED"
is "$(registry_digest stale/app "fresh-$RUN")" 404 "stale/app:fresh-$RUN is not in the registry"
out=$(timeout 10 "$OCIGATE_BIN" tag unclaim -c "$CONF" "stale/app:fresh-$RUN" 2>&1)
ok $? "ocigate tag unclaim stale/app:fresh-$RUN exits 0" || diag "$out"
is "$(rcli EXISTS "${PREFIX}tag:stale/app:fresh-$RUN")" 0 "... and the claim is gone from Redis"
is "$(put_manifest fresh_after "$CI" "$U" stale/app "fresh-$RUN" "$(manifest_of "$IMG" "$D_S2")")" 201 \
    "ci push of stale/app:fresh-$RUN after unclaim: 201"
is "$(registry_digest stale/app "fresh-$RUN")" "$D_S2" "the registry holds ci's image for stale/app:fresh-$RUN"

# -------------------------------------------- 4. registry down mid-push -----

D_R=$(mkimage "$IMG" reg) || bail "mkimage failed"
push_blobs "$CI" "$U" reg/app "$IMG" "$D_R" || bail "ci could not upload blobs to reg/app"
stop_pid "$REGISTRY_PID"
ok '! _port_open "$REG_PORT"' "docker-registry stopped"
is "$(put_manifest regdown "$CI" "$U" reg/app "down-$RUN" "$(manifest_of "$IMG" "$D_R")")" 503 \
    "ci PUT /v2/reg/app/manifests/down-$RUN with the registry down: 503"
is "$(oci_error regdown)" UNAVAILABLE "... code UNAVAILABLE" || diag "$(body regdown)"
is "$(put_manifest regdown_adm "$ADMIN" "$U" prod/app "v9.0-$RUN" "$M_P2")" 503 \
    "admin PUT /v2/prod/app/manifests/v9.0-$RUN (immutable rule) with the registry down: 503"
is "$(rcli EXISTS "${PREFIX}tag:reg/app:down-$RUN")" 0 "no claim left on reg/app:down-$RUN"
is "$(rcli EXISTS "${PREFIX}tag:prod/app:v9.0-$RUN")" 0 "no claim left on prod/app:v9.0-$RUN"
unlike "$(claims)" "down-$RUN|v9\.0-$RUN" "ocigate tag claims does not list them"
restart_registry
is "$(put_manifest regup "$CI" "$U" reg/app "down-$RUN" "$(manifest_of "$IMG" "$D_R")")" 201 \
    "registry back (same port and storage): ci PUT reg/app:down-$RUN: 201" || diag "$(body regup)"
is "$(registry_digest reg/app "down-$RUN")" "$D_R" "the registry holds ci's image for reg/app:down-$RUN"

# -------------------------------------------------------- 6. Redis down ----

D_X=$(mkimage "$IMG" x) || bail "mkimage failed"
push_blobs "$CI" "$U" redis/app "$IMG" "$D_X" || bail "ci could not upload blobs to redis/app"
M_X=$(manifest_of "$IMG" "$D_X")
stop_pid "$REDIS_PID"
ok '! _port_open "$REDIS_PORT"' "redis-server stopped"
codes=
for i in 1 2 3 4 5 6; do   # several, so that several workers are asked
    codes="$codes $(put_manifest redisdown$i "$CI" "$U" redis/app "down-$RUN" "$M_X")"
done
is "$codes" " 503 503 503 503 503 503" "Redis down: six ci pushes of new tag redis/app:down-$RUN all get 503"
is "$(oci_error redisdown1)" UNAVAILABLE "... code UNAVAILABLE"
is "$(put_manifest redisdown_adm "$ADMIN" "$U" prod/app "v8.0-$RUN" "$M_P2")" 503 \
    "Redis down: admin push of a new tag under immutableTags (prod/app:v8.0-$RUN): 503"
is "$(registry_digest redis/app "down-$RUN")" 404 "redis/app:down-$RUN is not in the registry"
is "$(req anon_pull -H "$ACCEPT" "$U/v2/team/app/manifests/v1")" 200 "Redis down: anonymous GET manifest: 200"
is "$(hdr anon_pull Docker-Content-Digest)" "$D_B" "... the registry answered it"
rm -rf "$T/pulled"
skopeo_copy "docker://$H/team/app:v1" "oci:$T/pulled:v1"
ok $? "Redis down: anonymous pull of team/app:v1 (skopeo)"
is "$(req ci_pull -u "$CI" -H "$ACCEPT" "$U/v2/team/app/manifests/v1")" 200 \
    "Redis down: ci (htpasswd) GET manifest: 200"

start_redis "$REDIS_PORT"
sleep 1.1   # ocigate retries a dead Redis at most once a second per worker
is "$(put_manifest redisup "$CI" "$U" redis/app "down-$RUN" "$M_X")" 201 \
    "Redis back: ci push of redis/app:down-$RUN: 201 (ocigate not restarted)" || diag "$(body redisup)"
is "$(registry_digest redis/app "down-$RUN")" "$D_X" "the registry holds it"
is "$(rcli EXISTS "${PREFIX}tag:redis/app:down-$RUN")" 0 "... and its claim in the new Redis was released once written"
codes=
for i in 1 2 3 4 5 6 7 8; do
    codes="$codes $(put_manifest redisup$i "$CI" "$U" redis/app "up$i-$RUN" "$M_X")"
done
is "$codes" " 201 201 201 201 201 201 201 201" "Redis back: eight more new-tag pushes by ci: all 201"
codes=
for i in 1 2 3 4; do
    codes="$codes $(put_manifest redisup2_$i "$CI" "$U2" redis/app "up2-$i-$RUN" "$M_X")"
done
is "$codes" " 201 201 201 201" "Redis back: four new-tag pushes through pool 2: all 201"

# --------------------------------------- 8. a failed write releases ------

D_F=$(mkimage "$IMG" fail) || bail "mkimage failed"
M_F=$(manifest_of "$IMG" "$D_F")
is "$(put_manifest failw "$CI" "$U" fail/app "f1-$RUN" "$M_F")" 400 \
    "ci PUT fail/app:f1-$RUN before its blobs exist: the registry's 400 is passed on" || diag "$(body failw)"
is "$(oci_error failw)" MANIFEST_BLOB_UNKNOWN "... with the registry's own error code (MANIFEST_BLOB_UNKNOWN)"
is "$(rcli EXISTS "${PREFIX}tag:fail/app:f1-$RUN")" 0 "... and no claim is left on fail/app:f1-$RUN"
push_blobs "$CI" "$U" fail/app "$IMG" "$D_F" || bail "ci could not upload blobs to fail/app"
is "$(put_manifest failw2 "$CI" "$U" fail/app "f1-$RUN" "$M_F")" 201 \
    "ci retries at once, with the blobs uploaded: 201" || diag "$(body failw2)"
is "$(registry_digest fail/app "f1-$RUN")" "$D_F" "the registry holds it"
like "$(hdr failw2 Location)" "^http://$H/v2/fail/app/manifests/sha256:" \
    "the registry's Location (built for the client's Host) reaches the client"
is "$(hdr failw2 Docker-Content-Digest)" "$D_F" "the registry's Docker-Content-Digest reaches the client"

# --------------------------------------------- 9. ?tag=: all or none -------

D_M=$(mkimage "$IMG" multi) || bail "mkimage failed"
M_M=$(manifest_of "$IMG" "$D_M")
push_blobs "$CI" "$U" multi/app "$IMG" "$D_M" || bail "ci could not upload blobs to multi/app"
now=$(date +%s)
rcli SET "${PREFIX}tag:multi/app:b-$RUN" "$now 0123456789abcdef someone" EX 300 > /dev/null
is "$(put_manifest multi1 "$CI" "$U" multi/app "$D_M?tag=a-$RUN&tag=b-$RUN" "$M_M")" 403 \
    "ci PUT multi/app DIGEST?tag=a&tag=b while b is claimed by someone: 403" || diag "$(body multi1)"
is "$(rcli EXISTS "${PREFIX}tag:multi/app:a-$RUN")" 0 "... and its claim on a was released (all or none)"
is "$(registry_digest multi/app "a-$RUN")" 404 "... multi/app:a-$RUN is not in the registry"
rcli DEL "${PREFIX}tag:multi/app:b-$RUN" > /dev/null
is "$(put_manifest multi2 "$CI" "$U" multi/app "$D_M?tag=a-$RUN&tag=b-$RUN" "$M_M")" 201 \
    "once b is free: ci PUT DIGEST?tag=a&tag=b: 201" || diag "$(body multi2)"
registry_log_settled "$REG_PORT" || diag "the registry's access log did not settle in 10 s"
is "$(registry_saw "\"PUT /v2/multi/app/manifests/$D_M\\?tag=a-$RUN&tag=b-$RUN HTTP")" 1 \
    "... forwarded to the registry with both tags (docker-registry 2.8 ignores ?tag=, zot applies it)"
is "$(rcli --scan --pattern "${PREFIX}tag:multi/*" | grep -c .)" 0 "no claim is left on either tag"

# --------------------------- 10. what an immutable tag points to: DELETE -----

# an index in prod/idx whose tag v1-$RUN (immutable) lists two images, and
# one tagged latest-$RUN (no rule) listing a third
for c in c1 c2 c3; do
    d=$(mkimage "$IMG" "$c") || bail "mkimage failed"
    printf -v "D_$c" '%s' "$d"
    push_blobs "$ADMIN" "$U" prod/idx "$IMG" "$d" || bail "admin could not upload blobs to prod/idx"
    is "$(put_manifest "idx_$c" "$ADMIN" "$U" prod/idx "$d" "$(manifest_of "$IMG" "$d")")" 201 \
        "admin pushes image $c to prod/idx by digest"
done
mkindex() { # FILE DIGEST...
    local f=$1 d first=1
    shift
    { printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['
      for d in "$@"; do
          [ "$first" = 1 ] || printf ','
          first=0
          printf '{"mediaType":"%s","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}}' \
              "$OCI_MT" "$d" "$(stat -c %s "$(manifest_of "$IMG" "$d")")"
      done
      printf ']}'; } > "$f"
}
mkindex "$T/index1.json" "$D_c1" "$D_c2"
mkindex "$T/index2.json" "$D_c3"
is "$(req idx1 -u "$ADMIN" -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
      --data-binary "@$T/index1.json" "$U/v2/prod/idx/manifests/v1-$RUN")" 201 \
    "admin pushes an index listing c1 and c2 as prod/idx:v1-$RUN (immutable)" || diag "$(body idx1)"
is "$(req idx2 -u "$ADMIN" -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
      --data-binary "@$T/index2.json" "$U/v2/prod/idx/manifests/latest-$RUN")" 201 \
    "admin pushes an index listing c3 as prod/idx:latest-$RUN (no rule)"
is "$(req idxdel1 -u "$ADMIN" -X DELETE "$U/v2/prod/idx/manifests/$D_c2")" 403 \
    "admin DELETE of c2, a child of the immutable index: 403"
is "$(oci_rule idxdel1)" "$RULE" "... detail.rule names $RULE"
like "$(jq -r '.errors[0].detail.reason' "$T/idxdel1.body" 2>/dev/null)" 'index' "... the reason says it is in an index"
is "$(registry_digest prod/idx "$D_c2")" "$D_c2" "c2 is still in the registry"
is "$(req idxdel3 -u "$ADMIN" -X DELETE "$U/v2/prod/idx/manifests/$D_c3")" 202 \
    "admin DELETE of c3, child only of an index tagged latest-$RUN (no rule): 202"

LAYER=$(jq -r '.layers[0].digest' "$(manifest_of "$IMG" "$D_P1")")
is "$(req blobdel -u "$ADMIN" -X DELETE "$U/v2/prod/app/blobs/$LAYER")" 403 \
    "admin DELETE of a blob in prod/app (covered by immutableTags): 403"
is "$(oci_rule blobdel)" "$RULE" "... detail.rule names the rule"
is "$(req blobget -o /dev/null -H "$ACCEPT" "$REG/v2/prod/app/blobs/$LAYER")" 200 "the blob is still in the registry"
LAYER_B=$(jq -r '.layers[0].digest' "$M_B")
is "$(req blobdel2 -u "$ADMIN" -X DELETE "$U/v2/team/app/blobs/$LAYER_B")" 202 \
    "admin DELETE of a blob in team/app (no rule): 202"
is "$(req blobdel3 -u "$CI" -X DELETE "$U/v2/prod/app/blobs/$LAYER")" 403 \
    "ci DELETE of a blob in prod/app: 403 (no delete grant)"

# ------------------- 11. ocigate as a plain authorizer: no claimed write -----

python3 - "$T/external.conf" "$T/authz-only.conf" <<'PYEOF'
import re, sys
s = open(sys.argv[1]).read()
t = re.sub(r'\$HTTP\["request-method"\] == "PUT" \{.*?\n\}\n', '', s, count=1, flags=re.S)
assert t != s
open(sys.argv[2], "w").write(t)
PYEOF
start_lighttpd lighttpd3 "$LT3_PORT" "$T/authz-only.conf"
U3=http://127.0.0.1:$LT3_PORT
D_Z=$(mkimage "$IMG" authz) || bail "mkimage failed"
push_blobs "$CI" "$U3" authz/app "$IMG" "$D_Z" || bail "ci could not upload blobs to authz/app"
is "$(put_manifest authz1 "$CI" "$U3" authz/app "new-$RUN" "$(manifest_of "$IMG" "$D_Z")")" 403 \
    "lighttpd without the manifest route: ci push of a new tag (needs a claim): 403" || diag "$(body authz1)"
like "$(jq -r '.errors[0].message' "$T/authz1.body" 2>/dev/null)" 'OCIGATE_SERVE=manifest' \
    "... the OCI error message says manifest writes must be routed to ocigate"
is "$(registry_digest authz/app "new-$RUN")" 404 "... and nothing reached the registry"
is "$(rcli --scan --pattern "${PREFIX}tag:authz/*" | grep -c .)" 0 "... and no claim was taken"
is "$(put_manifest authz2 "$ADMIN" "$U3" authz/app "new-$RUN" "$(manifest_of "$IMG" "$D_Z")")" 201 \
    "... admin's push there (update granted, no immutable rule: no claim needed) is still allowed"
is "$(put_manifest authz3 "$ADMIN" "$U3" prod/app "v7.0-$RUN" "$M_P2")" 403 \
    "... admin's push of a new tag under immutableTags (needs a claim): 403"

# ------------------------------------------ what the registry never saw ----

registry_log_settled "$REG_PORT" || diag "the registry's access log did not settle in 10 s"
for r in round1:race/app:r1 round2:race/app:r2 round3:prod/race:v3.0.0 pools1:pools/app:p1 pools2:pools/app:p2; do
    IFS=: read -r name repo tag <<<"$r"
    is "$(registry_saw "\"PUT /v2/$repo/manifests/$tag-$RUN HTTP")" 1 \
        "$name: the registry saw exactly one manifest PUT to $repo:$tag-$RUN (the winner's)"
done
is "$(registry_saw '"PUT /v2/team/app/manifests/v1 HTTP')" 2 \
    "team/app:v1: the registry saw only admin's two PUTs, not ci's"
is "$(registry_saw '"PUT /v2/(team|prod)/[a-z/]+/manifests/sha256:[0-9a-f]+\?tag=')" 0 \
    "the registry never saw the refused PUTs by digest with ?tag= (team/app, prod/app)"
is "$(registry_saw '"PUT /v2/prod/app/manifests/v1\.0 HTTP')" 1 \
    "prod/app:v1.0: the registry saw only the first (allowed) PUT"
is "$(registry_saw "\"DELETE /v2/prod/app/manifests/$D_P3 HTTP")" 0 \
    "the registry never saw the denied DELETE of v1.2.0's digest"
is "$(registry_saw "\"DELETE /v2/team/app/manifests/")" 0 "the registry never saw ci's DELETE"
is "$(registry_saw "\"PUT /v2/stale/app/manifests/fresh-$RUN HTTP")" 1 \
    "stale/app:fresh-$RUN: the registry saw only the PUT after unclaim"
is "$(registry_saw "\"PUT /v2/redis/app/manifests/down-$RUN HTTP")" 1 \
    "redis/app:down-$RUN: the registry saw none of the six 503'd PUTs, only the one after Redis came back"
is "$(registry_saw "\"PUT /v2/prod/app/manifests/v[89]\.0-$RUN HTTP")" 0 \
    "the registry never saw admin's 503'd PUTs (prod/app:v8.0-$RUN, v9.0-$RUN)"

ok '! grep -rqF -e "$PASS_ci" -e "$PASS_admin" "$T/ocigate.log" "$T/lighttpd.log" "$T/lighttpd2.log"' \
    "no password appears in ocigate's or lighttpd's logs"

done_testing
