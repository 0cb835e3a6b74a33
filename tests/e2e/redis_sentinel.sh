#!/usr/bin/env bash
# redis_sentinel.sh - ocigate with Redis behind Sentinel (redis.sentinels,
# redis.masterName, Redis 7 ACL users for the data nodes and the sentinels,
# passwords from files): one master, one replica, three sentinels, one
# docker-registry, ocigate through lighttpd. What must hold:
#   - `ocigate check` shows how Redis is reached (the sentinels, the master
#     name, the users) and no password;
#   - API keys (`ocigate key create` through the sentinels, then a push of a
#     new tag with the key) and htpasswd logins work; endpoints.health names
#     the master;
#   - SIGKILL of the master: once the sentinels have promoted the replica,
#     API keys work again within a bound (the measured time is printed);
#     health names the new master and counts the failover; the old master,
#     restarted, comes back as a replica;
#   - redis.minReplicas 1 with the only replica stopped (SIGSTOP): a claimed
#     first push of a new tag is refused with 503 and the tag never reaches
#     the registry; the replica back (SIGCONT), the same push succeeds. With
#     minReplicas 0 (a second pool) the same push succeeds while the replica
#     is stopped: WAIT confirms claims only where asked to;
#   - metrics count failovers and Redis errors by kind;
#   - ocigate's Redis and Sentinel users have the least privileges
#     doc/redis.md gives, and the ACLs refuse ocigate nothing;
#   - a stale sentinel listed first (it names the replica as the master):
#     pushes still reach the master, health names the real master;
#   - the first sentinel hung (SIGSTOP) while the master is killed: the two
#     others promote the replica and API keys work again within the bound;
#   - wrong sentinel credentials, or a wrong data-node password: API keys get
#     503, never an allow; htpasswd and anonymous pulls go on.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd curl jq htpasswd python3

KEY_BOUND=15   # seconds after the promotion within which API keys must work again
RUN=$RANDOM$RANDOM

# ------------------------------------------------------------------ setup ---

read -r REG_PORT LT_PORT LT0_PORT LTX_PORT <<<"$(free_ports 4)"
make_htpasswd "$T/htpasswd" admin ci
ha_start
M0=$HA_PORT_a

# conf FILE MINREPLICAS [JQ-FILTER]: three-tier.json with Redis through the
# sentinels; API keys on and never cached, so that every key request asks
# Redis (the failover is seen, not hidden by a cache)
conf() {
    test_config "$1" "$REG_PORT" 0 "$T/htpasswd" \
        ".redis = $(ha_redis_json "$2") | .auth.apikey = {enabled: true, cacheSeconds: 0} | ${3:-.}"
}
CONF=$T/ocigate.json
conf "$CONF" 1

"$OCIGATE_BIN" check -c "$CONF" > "$T/check.log" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'unknown key' "$T/check.log" && grep -q 'sentinels' "$T/check.log"; then
    skip_all "this ocigate has no redis.sentinels: $(head -n 1 "$T/check.log")"
fi
is "$rc" 0 "ocigate check accepts redis.sentinels + masterName + ACL users from files" \
    || diag "$(_redact_secrets < "$T/check.log")"
out=$(grep '^redis:' "$T/check.log")
like "$out" "^redis: sentinels 127\.0\.0\.1:$SENT_PORT_1,127\.0\.0\.1:$SENT_PORT_2,127\.0\.0\.1:$SENT_PORT_3 " \
    "check: Redis is reached through the three sentinels" || diag "$(cat "$T/check.log")"
like "$out" 'master "ocigate"' "check: ... names the master name"
like "$out" 'user ocigate, password from file, sentinel user ocigate-sentinel, sentinel password from file' \
    "check: ... the users, and that their passwords come from files"
like "$out" 'minReplicas 1' "check: ... and minReplicas"
unlike "$(cat "$T/check.log")" "$HA_OCI_PW|$HA_SENT_OCI_PW" "check shows neither password"

# url and sentinels exclude each other
jq --arg u "redis://127.0.0.1:$HA_PORT_a/0" '.redis.url = $u' "$CONF" > "$T/both.json"
"$OCIGATE_BIN" check -c "$T/both.json" > "$T/both.log" 2>&1
is "$?" 2 "check refuses redis.url together with redis.sentinels (exit 2)"
like "$(cat "$T/both.log")" 'url.*sentinels|sentinels.*url' "... naming both keys" || diag "$(cat "$T/both.log")"

start_registry "$REG_PORT"
KEY=$("$OCIGATE_BIN" key create -c "$CONF" --user ci --label e2e-sentinel 2> "$T/key.err")
[[ $KEY =~ ^zak_[0-9a-f]{32}$ ]] || bail "ocigate key create through the sentinels failed: $(_redact_secrets < "$T/key.err" | tail -n 3)"
secret "$KEY"
start_ocigate "$T/ocigate.sock" 4
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
CI_KEY="ci:$KEY"

IMG=$T/img
D=$(mkimage "$IMG" a --content "sentinel $RUN") || bail "mkimage failed"
M=$IMG/blobs/sha256/${D#sha256:}
push_blobs "$CI_KEY" "$U" sent/app "$IMG" "$D" || bail "ci (API key) could not upload blobs to sent/app"

# keypush NAME TAG [BASEURL]: ci pushes a new tag with the API key
keypush() { put_oci_manifest "$1" "$CI_KEY" "${3:-$U}" sent/app "$2" "$M"; }
keyok() { [ "$(req keyprobe -u "$CI_KEY" "$U/v2/")" = 200 ]; }
health() { req health "$U/ocigate/healthz" > /dev/null; body health; }
hjson() { health | jq -r "$1" 2>/dev/null; }

# ------------------------------------------------------- 1. steady state ---

is "$(keypush push1 "t1-$RUN")" 201 "API key push of a new tag (claim confirmed by the replica): 201" \
    || diag "$(body push1)"
is "$(registry_tag_digest "$REG_PORT" sent/app "t1-$RUN")" "$D" "... the registry holds it"
is "$(req htp -u "admin:$PASS_admin" "$U/v2/")" 200 "htpasswd admin GET /v2/: 200"
is "$(req htp2 -u "ci:$PASS_ci" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      "$U/v2/sent/app/manifests/t1-$RUN")" 200 "htpasswd ci GET manifest: 200"
is "$(req anon -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$U/v2/sent/app/manifests/t1-$RUN")" 200 \
    "anonymous GET manifest: 200"
h=$(health)
is "$(printf '%s' "$h" | jq -r .redis)" up "health: redis up"
is "$(printf '%s' "$h" | jq -r .redis_master)" "127.0.0.1:$M0" "health: redis_master is the master (a, $M0)" \
    || diag "$h"
is "$(printf '%s' "$h" | jq -r .redis_failovers)" 0 "health: redis_failovers 0"

# ------------------------------------------------- 2. SIGKILL the master ---

t_kill=$(date +%s%N)
ha_kill a
ha_wait_master_not "$M0" 30 || { ha_logs; bail "the sentinels did not promote the replica within 30 s"; }
t_prom=$(date +%s%N)
M1=$(ha_master)
is "$M1" "$HA_PORT_b" "the sentinels promoted the replica (b, $HA_PORT_b) $(( (t_prom - t_kill) / 1000000 )) ms after SIGKILL"
wait_until "$KEY_BOUND" keyok
rc=$?
t_key=$(date +%s%N)
ok "$rc" "API keys work again within ${KEY_BOUND} s of the promotion: after $(( (t_key - t_prom) / 1000000 )) ms ($(( (t_key - t_kill) / 1000000 )) ms after SIGKILL)"
diag "outage of API keys: $(( (t_key - t_kill) / 1000000 )) ms from SIGKILL of the master (promotion took $(( (t_prom - t_kill) / 1000000 )) ms)"
masterb() { [ "$(hjson .redis_master)" = "127.0.0.1:$M1" ]; }
ok 'wait_until 5 masterb' "health: redis_master is the new master (b, $M1)" || diag "$(health)"
like "$(hjson .redis_failovers)" '^[1-9][0-9]*$' "health: redis_failovers counts the failover"
is "$(req htp3 -u "admin:$PASS_admin" "$U/v2/")" 200 "htpasswd after the failover: 200"

ha_restart a
ok 'ha_wait_replica a "$M1" 40' "the old master (a), restarted, comes back as a connected replica of b" \
    || ha_logs
# the new master has a replica again: claimed pushes are confirmed again
# (a claim is confirmed only when the replica acknowledges it within
# redis.timeoutMs, 200 ms: on a loaded machine the first try may miss it;
# a refused try releases its claim, so the same tag is tried again)
tries=0
push2() { tries=$((tries + 1)); [ "$(keypush push2 "t2-$RUN")" = 201 ]; }
wait_until 10 push2
ok $? "API key push of a new tag after the failover: 201 (try $tries)" || diag "$(body push2)"
is "$(registry_tag_digest "$REG_PORT" sent/app "t2-$RUN")" "$D" "... the registry holds it"

# ---------------------------------- 3. minReplicas 1, the replica stopped ---

# a second pool with minReplicas 0, same Redis, for the comparison below
conf "$T/ocigate0.json" 0
start_ocigate "$T/ocigate0.sock" 2 "$T/ocigate0.json"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external0.conf" \
    regport="$REG_PORT" extsock="$T/ocigate0.sock"
start_lighttpd lighttpd0 "$LT0_PORT" "$T/external0.conf"
U0=http://127.0.0.1:$LT0_PORT

ha_kill a STOP
is "$(keypush stopped "t3-$RUN")" 503 \
    "minReplicas 1, the only replica stopped: a claimed first push of a new tag gets 503" || diag "$(body stopped)"
is "$(registry_tag_digest "$REG_PORT" sent/app "t3-$RUN")" 404 "... and the tag is not in the registry"
is "$(keypush stopped0 "t4-$RUN" "$U0")" 201 \
    "minReplicas 0 (second pool), the replica stopped: the same kind of push gets 201" || diag "$(body stopped0)"
is "$(registry_tag_digest "$REG_PORT" sent/app "t4-$RUN")" "$D" "... the registry holds it"
ok keyok "API keys are read while the replica is stopped (reads need no replica)"
ha_kill a CONT
ok 'ha_wait_replica a "$M1" 15' "the replica resumed (SIGCONT)"
is "$(keypush resumed "t3-$RUN")" 201 "replica back: the refused push, retried, gets 201" || diag "$(body resumed)"
is "$(registry_tag_digest "$REG_PORT" sent/app "t3-$RUN")" "$D" "... the registry holds it"

# ----------------------------------------------------------- 4. metrics ----

req metrics "$U/ocigate/metrics" > /dev/null
mfo=$(grep -E '^ocigate_redis_failovers_total' "$T/metrics.body")
merr=$(grep -E '^ocigate_redis_errors_total' "$T/metrics.body")
like "$mfo" '^ocigate_redis_failovers_total [1-9]' "metrics: ocigate_redis_failovers_total counts the failover" \
    || diag "$(grep -E '^ocigate_redis' "$T/metrics.body")"
like "$merr" '^ocigate_redis_errors_total\{kind="replication"\} [1-9]' \
    "metrics: ocigate_redis_errors_total{kind=\"replication\"} counts the claim no replica confirmed" \
    || diag "$(grep -E '^ocigate_redis' "$T/metrics.body")"
diag "metrics after the failover: $(printf '%s' "$mfo $merr" | tr '\n' ' ')"

is "$(ha_acl_denials)" 0 "the least-privilege ACL users of doc/redis.md refused ocigate nothing (ACL LOG of every node)" \
    || diag "$(cat "$T/acl-denials.txt")"

# --------------------------------------- 5. a stale sentinel listed first ---

# A sentinel that cannot reach the data nodes (it has no credentials for
# them, so it hears nothing from them or from its peers) and was told that
# the replica is the master keeps naming the replica. Listed first, it must
# not make ocigate write to the replica: ocigate checks the ROLE of what a
# sentinel names and asks the next sentinel.
REPLICA=$([ "$M1" = "$HA_PORT_a" ] && echo "$HA_PORT_b" || echo "$HA_PORT_a")
read -r RS_PORT LTR_PORT <<<"$(free_ports 2)"
mkdir -p "$T/ha/stale"
{
    echo "port $RS_PORT"
    echo "bind 127.0.0.1"
    echo "daemonize no"
    echo "dir $T/ha/stale"
    echo "logfile $T/sentinel-stale.log"
    echo "sentinel resolve-hostnames no"
    echo "sentinel monitor ocigate 127.0.0.1 $REPLICA 2"
    echo "sentinel down-after-milliseconds ocigate 1000"
    echo "user default off"
    echo "user ocigate-sentinel on >$HA_SENT_OCI_PW $HA_SENT_OCI_ACL"
} > "$T/ha/sentinel-stale.conf"
chmod 0600 "$T/ha/sentinel-stale.conf"
redis-server "$T/ha/sentinel-stale.conf" --sentinel >> "$T/sentinel-stale.out" 2>&1 &
STALE_PID=$!
register_pid "$STALE_PID"
wait_port "$RS_PORT" 10 "$STALE_PID" || bail "the stale sentinel did not listen on $RS_PORT"
is "$(REDISCLI_AUTH=$HA_SENT_OCI_PW timeout 5 redis-cli --no-auth-warning --user ocigate-sentinel -p "$RS_PORT" \
      SENTINEL get-master-addr-by-name ocigate 2>&1 | sed -n 2p)" "$REPLICA" \
    "a stale sentinel names the replica ($REPLICA) as the master"
conf "$T/ocigate-stale.json" 1 ".redis.sentinels = [\"127.0.0.1:$RS_PORT\"] + .redis.sentinels"
start_ocigate "$T/ocigate-stale.sock" 2 "$T/ocigate-stale.json"
STALE_POOL=$OCIGATE_PID
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external-stale.conf" \
    regport="$REG_PORT" extsock="$T/ocigate-stale.sock"
start_lighttpd lighttpd-stale "$LTR_PORT" "$T/external-stale.conf"
STALE_LT=$LIGHTTPD_PID
UR=http://127.0.0.1:$LTR_PORT
is "$(keypush stale "t5-$RUN" "$UR")" 201 \
    "the stale sentinel listed first: an API key push of a new tag still gets 201 (written to the master)" \
    || diag "$(body stale)"
is "$(registry_tag_digest "$REG_PORT" sent/app "t5-$RUN")" "$D" "... the registry holds it"
req healthr "$UR/ocigate/healthz" > /dev/null
is "$(jq -r .redis_master "$T/healthr.body" 2>/dev/null)" "127.0.0.1:$M1" \
    "... and health names the real master ($M1), not the replica" || diag "$(body healthr)"
stop_pid "$STALE_LT"
stop_pid "$STALE_POOL"
stop_pid "$STALE_PID"

# ------------------------------- 6. a hung sentinel during a failover -------

# sentinel 1, the first ocigate asks, stopped (a connection it accepts but
# never answers: worse than a dead one); the two others still make a
# quorum and elect a leader. SIGKILL the master: API keys work again
# within the bound.
kill -STOP "$SENT_PID_1"
t_kill=$(date +%s%N)
ha_kill "$(ha_node_of "$M1")"
HA_ASK="2 3" ha_wait_master_not "$M1" 30 \
    || { kill -CONT "$SENT_PID_1"; ha_logs; bail "sentinels 2 and 3 did not promote the replica within 30 s"; }
t_prom=$(date +%s%N)
M2=$(HA_ASK="2 3" ha_master)
is "$M2" "$REPLICA" "sentinel 1 stopped: sentinels 2 and 3 promoted the replica ($REPLICA) $(( (t_prom - t_kill) / 1000000 )) ms after SIGKILL"
wait_until "$KEY_BOUND" keyok
rc=$?
t_key=$(date +%s%N)
ok "$rc" "sentinel 1 stopped: API keys work again within ${KEY_BOUND} s of the promotion: after $(( (t_key - t_prom) / 1000000 )) ms"
diag "outage of API keys with the first sentinel hung: $(( (t_key - t_kill) / 1000000 )) ms from SIGKILL (promotion took $(( (t_prom - t_kill) / 1000000 )) ms)"
kill -CONT "$SENT_PID_1"

# ------------------------------------------------- 7. bad credentials -------

printf '%s\n' "wrong-sentinel-pw-$RUN" > "$T/ha/wrong-sentinel.pass"
printf '%s\n' "wrong-redis-pw-$RUN" > "$T/ha/wrong-redis.pass"
chmod 0600 "$T/ha/wrong-sentinel.pass" "$T/ha/wrong-redis.pass"
secret "wrong-sentinel-pw-$RUN" "wrong-redis-pw-$RUN"
conf "$T/ocigate-badsent.json" 1 ".redis.sentinelPasswordFile = \"$T/ha/wrong-sentinel.pass\""
conf "$T/ocigate-badredis.json" 1 ".redis.passwordFile = \"$T/ha/wrong-redis.pass\""
n=0
for bad in badsent badredis; do
    n=$((n + 1))
    start_ocigate "$T/ocigate-$bad.sock" 2 "$T/ocigate-$bad.json"
    BADPID=$OCIGATE_PID
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external-$bad.conf" \
        regport="$REG_PORT" extsock="$T/ocigate-$bad.sock"
    read -r port <<<"$(free_ports 1)"
    start_lighttpd "lighttpd-$bad" "$port" "$T/external-$bad.conf"
    LTPID=$LIGHTTPD_PID
    UB=http://127.0.0.1:$port
    what="wrong $( [ $bad = badsent ] && echo 'sentinel password' || echo 'data-node password')"
    codes=
    for i in 1 2 3 4; do codes="$codes $(req bad$n$i -u "$CI_KEY" "$UB/v2/")"; done
    is "$codes" " 503 503 503 503" "$what: API key GET /v2/ gets 503 (four times), never 200"
    is "$(put_oci_manifest badpush$n "$CI_KEY" "$UB" sent/app "bad$n-$RUN" "$M")" 503 \
        "$what: API key push of a new tag: 503"
    is "$(registry_tag_digest "$REG_PORT" sent/app "bad$n-$RUN")" 404 "... not in the registry"
    is "$(req badhtp$n -u "ci:$PASS_ci" "$UB/v2/")" 200 "$what: htpasswd ci GET /v2/ still 200"
    is "$(req badanon$n -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
          "$UB/v2/sent/app/manifests/t1-$RUN")" 200 "$what: anonymous GET manifest still 200"
    req badmetrics$n "$UB/ocigate/metrics" > /dev/null
    like "$(grep -E '^ocigate_redis_errors_total\{kind="(auth|sentinel)"\}' "$T/badmetrics$n.body")" ' [1-9][0-9]*$' \
        "$what: metrics count the refused login (kind auth or sentinel)" \
        || diag "$(grep -E '^ocigate_redis' "$T/badmetrics$n.body")"
    diag "$what: $(grep -E '^ocigate_redis_errors_total' "$T/badmetrics$n.body" | grep -v ' 0$' | tr '\n' ' ')"
    req badhealth$n "$UB/ocigate/healthz" > /dev/null
    is "$(jq -r .redis "$T/badhealth$n.body" 2>/dev/null)" down "$what: health says redis down" \
        || diag "$(body badhealth$n)"
    stop_pid "$LTPID"
    stop_pid "$BADPID"
done

done_testing
