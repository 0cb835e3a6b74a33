#!/usr/bin/env bash
# pool_resilience.sh - the ocigate worker pool behind lighttpd under abuse:
# a worker SIGKILLed in the middle of a request stream is replaced within a
# second and costs at most the request in flight; SIGHUP with a broken config
# keeps the old one; SIGHUP with a valid new config applies it; SIGTERM ends
# master and workers; workers exit when the master is killed. Along the way
# the Prometheus metrics (endpoints.metrics, scraped with curl through
# lighttpd) move by exactly the requests made, survive the worker's death
# and count the restart and the reloads.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd python3

OCI_MT=application/vnd.oci.image.manifest.v1+json
ACCEPT="Accept: $OCI_MT"

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd"
cp "$T/ocigate.json" "$T/ocigate.json.orig"

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate "$T/ocigate.sock" 2
MASTER=$OCIGATE_PID
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
H=127.0.0.1:$LT_PORT

workers() { pgrep -P "$1" 2>/dev/null | sort -n | tr '\n' ' ' | sed 's/ $//'; }
nworkers() { pgrep -P "$1" 2>/dev/null | wc -l | tr -d ' '; }
alive() { pid_running "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

two_workers() { [ "$(nworkers "$MASTER")" = 2 ]; }
wait_until 5 two_workers
is "$(nworkers "$MASTER")" 2 "ocigate serve --workers 2: the master has two worker children"

D=$(mkimage "$T/img" v1) || bail "mkimage failed"
skopeo_copy "oci:$T/img:v1" "docker://$H/pool/app:v1" --dest-creds "admin:$PASS_admin" \
    || bail "admin could not push pool/app:v1"

anon_get() { req "$1" -H "$ACCEPT" "$U/v2/pool/app/manifests/v1"; }
anon_post() { req "$1" -X POST -H 'Content-Length: 0' "$U/v2/pool/app/blobs/uploads/"; }

is "$(anon_get g0)" 200 "anonymous GET manifest: 200"
is "$(anon_post p0)" 401 "anonymous blob upload: 401"

# ----------------------------------------------------------- metrics -------
# scrape NAME: GET /ocigate/metrics (anonymous: metrics.anonymousPolicy),
# the text in $T/NAME.body. m NAME SERIES: one sample's value (0 if absent).
# d A B SERIES: its growth from scrape A to scrape B.
scrape() { [ "$(req "$1" "$U/ocigate/metrics")" = 200 ] || diag "scrape $1: $(head -c 300 "$T/$1.body")"; }
m() {
    awk -v s="$2" '$1 == s { v = $2 } END { printf "%d\n", v + 0 }' "$T/$1.body" 2>/dev/null
}
d() { echo $(($(m "$2" "$3") - $(m "$1" "$3"))); }
RA='ocigate_requests_total{decision="allow",action="read",auth="anonymous"}'
RD='ocigate_requests_total{decision="deny",action="create",auth="anonymous"}'
RS='ocigate_requests_total{decision="allow",action="none",auth="anonymous"}'
R200='ocigate_responses_total{status="200"}'
R401='ocigate_responses_total{status="401"}'
R403='ocigate_responses_total{status="403"}'
LAT='ocigate_decision_seconds_count'
RESTARTS=ocigate_worker_restarts_total
WORKERS=ocigate_workers
REFUSED='ocigate_config_reloads_total{result="refused"}'
RELOADED='ocigate_config_reloads_total{result="ok"}'
# no_counter_back A B: no sample of scrape A is larger in scrape B (gauges aside)
no_counter_back() {
    awk 'FNR == NR { if ($1 !~ /^#/ && $1 != "ocigate_workers") a[$1] = $2; next }
         ($1 in a) && $2 + 0 < a[$1] + 0 { print $1 ": " a[$1] " -> " $2; bad = 1 }
         END { exit bad }' "$T/$1.body" "$T/$2.body"
}

scrape s0
like "$(hdr s0 Content-Type)" '^text/plain; version=0\.0\.4' "metrics: Prometheus text format"
missing=
for series in "$RA" "$R200" "$LAT" 'ocigate_decision_seconds_bucket{le="+Inf"}' ocigate_decision_seconds_sum \
        'ocigate_cache_requests_total{cache="htpasswd",result="hit"}' 'ocigate_backend_errors_total{backend="registry"}' \
        "$RESTARTS" ocigate_jwks_refreshes_total "$REFUSED" "$RELOADED" "$WORKERS"; do
    grep -qF "$series " "$T/s0.body" || missing="$missing $series"
done
is "$missing" "" "metrics: every documented series is exposed"
is "$(m s0 "$WORKERS")" 2 "metrics: ocigate_workers 2"
N_GET=10 N_POST=6 N_CI=3
for i in $(seq 1 "$N_GET"); do anon_get mg > /dev/null; done
for i in $(seq 1 "$N_POST"); do anon_post mp > /dev/null; done
for i in $(seq 1 "$N_CI"); do req mc -u "ci:$PASS_ci" -X DELETE "$U/v2/pool/app/manifests/$D" > /dev/null; done
scrape s1
is "$(d s0 s1 "$RA")" "$N_GET" "metrics: $N_GET anonymous GETs: allow/read/anonymous +$N_GET"
is "$(d s0 s1 "$RD")" "$N_POST" "metrics: $N_POST anonymous uploads: deny/create/anonymous +$N_POST"
is "$(d s0 s1 'ocigate_requests_total{decision="deny",action="delete",auth="htpasswd"}')" "$N_CI" \
    "metrics: $N_CI DELETEs by ci: deny/delete/htpasswd +$N_CI"
is "$(d s0 s1 "$RS")" 1 "metrics: the scrape itself: allow/none/anonymous +1"
is "$(d s0 s1 "$R200")" $((N_GET + 1)) "metrics: responses 200 +$((N_GET + 1)) (the GETs and the scrape)"
is "$(d s0 s1 "$R401")" "$N_POST" "metrics: responses 401 +$N_POST"
is "$(d s0 s1 "$R403")" "$N_CI" "metrics: responses 403 +$N_CI"
is "$(d s0 s1 "$LAT")" $((N_GET + N_POST + N_CI + 1)) "metrics: decision_seconds_count +$((N_GET + N_POST + N_CI + 1))"
is "$(d s0 s1 'ocigate_decision_seconds_bucket{le="+Inf"}')" $((N_GET + N_POST + N_CI + 1)) \
    "metrics: the +Inf bucket counts the same"
is "$(( $(d s0 s1 'ocigate_cache_requests_total{cache="htpasswd",result="hit"}') + \
        $(d s0 s1 'ocigate_cache_requests_total{cache="htpasswd",result="miss"}') ))" "$N_CI" \
    "metrics: htpasswd cache hits + misses +$N_CI"
is "$(m s1 "$RESTARTS")" 0 "metrics: no worker restart yet"
is "$(req mci -u "ci:$PASS_ci" "$U/ocigate/metrics")" 403 "metrics: a scrape as ci (not in metrics.users): 403"
is "$(jq -r '.errors[0].code' "$T/mci.body" 2>/dev/null)" DENIED "... DENIED"
MWRONG=wrong-metrics-pw-$RANDOM$RANDOM
secret_basic ci "$MWRONG"
is "$(req mwr -u "ci:$MWRONG" "$U/ocigate/metrics")" 401 "metrics: a scrape with a wrong password: 401"
unlike "$(body mci)$(body mwr)" 'ocigate_requests_total' "... neither got the metrics"

# ------------------------------------------- SIGKILL a worker under load ---
# 400 sequential requests, alternating an allowed GET and a denied POST; a
# worker is SIGKILLed once a quarter of them are done.

cat > "$T/load.py" <<'EOF'
import http.client, sys, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(out, "w", buffering=1) as f:
    for i in range(n):
        get = i % 2 == 0
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if get:
                c.request("GET", "/v2/pool/app/manifests/v1",
                          headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            else:
                c.request("POST", "/v2/pool/app/blobs/uploads/", body=b"",
                          headers={"Content-Length": "0"})
            st = c.getresponse().status
            c.close()
        except Exception as e:
            st = "ERR:" + type(e).__name__
        f.write("%s %s\n" % ("GET" if get else "POST", st))
        time.sleep(0.004)
EOF
python3 "$T/load.py" "$LT_PORT" 400 "$T/load.out" > "$T/load.log" 2>&1 &
LOAD=$!
register_pid "$LOAD"
load_done() { [ "$(wc -l 2>/dev/null < "$T/load.out" || echo 0)" -ge "$1" ]; }
wait_until 20 load_done 100 \
    || bail "the request loop did not get going"

BEFORE=$(workers "$MASTER")
VICTIM=${BEFORE%% *}
t0=$(now_ms)
kill -KILL "$VICTIM"
respawned=
while [ $(($(now_ms) - t0)) -lt 1000 ]; do
    cur=$(workers "$MASTER")
    if [ "$(nworkers "$MASTER")" = 2 ] && ! printf ' %s ' "$cur" | grep -q " $VICTIM "; then
        respawned=$(($(now_ms) - t0))
        break
    fi
    sleep 0.05
done
ok '[ -n "$respawned" ]' "a SIGKILLed worker is replaced within 1 s${respawned:+ (${respawned} ms)}" \
    || diag "workers before: $BEFORE, killed $VICTIM, now: $(workers "$MASTER")"

load_gone() { ! pid_running "$LOAD"; }
wait_until 60 load_gone || diag "the request loop did not finish in 60 s"
wait "$LOAD" 2>/dev/null
total=$(wc -l < "$T/load.out" | tr -d ' ')
is "$total" 400 "the request loop completed 400 requests"
bad_get=$(grep -c '^GET ' "$T/load.out" | tr -d ' ')
bad_get=$((bad_get - $(grep -c '^GET 200$' "$T/load.out")))
bad_post=$(grep -c '^POST ' "$T/load.out" | tr -d ' ')
bad_post=$((bad_post - $(grep -c '^POST 401$' "$T/load.out")))
leaked=$(grep -cE '^POST 2[0-9][0-9]$' "$T/load.out")
diag "while a worker was killed: $bad_get GETs and $bad_post POSTs not answered as usual" \
     "$(grep -vE '^(GET 200|POST 401)$' "$T/load.out" | sort | uniq -c)"
ok '[ $((bad_get + bad_post)) -le 2 ]' "at most 2 requests failed (the one in flight) when a worker was killed"
is "$leaked" 0 "no denied request was let through while a worker died (fail closed)"
ok 'alive "$MASTER"' "the master survived"

scrape s2
ok 'no_counter_back s1 s2' "metrics: after the worker's death no counter went back" \
    || diag "$(no_counter_back s1 s2)"
got200=$(grep -c '^GET 200$' "$T/load.out")
ra=$(d s1 s2 "$RA")
ok '[ "$ra" -ge "$got200" ] && [ "$ra" -le $((got200 + 2)) ]' \
    "metrics: allow/read/anonymous grew by the GETs answered 200 during the load ($got200; counted $ra)"
is "$(d s1 s2 "$RESTARTS")" 1 "metrics: ocigate_worker_restarts_total +1"
is "$(m s2 "$WORKERS")" 2 "metrics: ocigate_workers is back to 2"

# -------------------------------------- SIGHUP with a broken config -------

scrape h0
printf 'this is { not json' > "$T/ocigate.json"
kill -HUP "$MASTER"
# refused_reloads NAME N: a scrape NAME counts N more refused reloads than h0
refused_reloads() { scrape "$1" && [ "$(d h0 "$1" "$REFUSED")" -ge "$2" ]; }
wait_until 5 refused_reloads h1 1 || diag "the master did not count the refused reload in 5 s"
scrape h1
is "$(d h0 h1 "$REFUSED")" 1 "metrics: SIGHUP with a broken config: config_reloads_total{result=\"refused\"} +1"
is "$(d h0 h1 "$RELOADED")" 0 "metrics: ... and {result=\"ok\"} +0"
ok 'alive "$MASTER"' "SIGHUP with a broken config: the master is still alive"
is "$(nworkers "$MASTER")" 2 "SIGHUP with a broken config: still two workers"
is "$(anon_get g1)" 200 "SIGHUP with a broken config: anonymous pull still allowed (old config kept)"
is "$(anon_post p1)" 401 "SIGHUP with a broken config: anonymous push still 401"
is "$(req c1 -u "ci:$PASS_ci" -X PUT -H "Content-Type: $OCI_MT" \
      --data-binary "@$T/img/blobs/sha256/${D#sha256:}" "$U/v2/pool/app/manifests/v1")" 403 \
    "SIGHUP with a broken config: ci overwrite still 403"
grep -i -E 'reload|config' "$T/ocigate.log" | grep -v '"decision"' | tail -n 3 > "$T/reload.txt"
diag "ocigate said: $(cat "$T/reload.txt")"

jq '.accessControl.repositories["**"].defaultPolicy = ["read"] | .accessControl.repositories["**"].anonymousPolicy = ["read"] | .accessControl.repositoriess = {}' \
    "$T/ocigate.json.orig" > "$T/ocigate.json"
kill -HUP "$MASTER"
wait_until 5 refused_reloads hx 2 || diag "the master did not count the refused reload in 5 s"
ok 'alive "$MASTER"' "SIGHUP with an unknown key in the config: the master is still alive"
is "$(anon_get g2)" 200 "SIGHUP with an unknown key: old config kept"

# ------------------------------- SIGHUP with a valid, changed config -------

# anonymous read removed; a new htpasswd user (the file is re-read on SIGHUP)
NEWBIE_PW=pw-$RANDOM$RANDOM
secret_basic newbie "$NEWBIE_PW"
is "$(req n0 -u "newbie:$NEWBIE_PW" "$U/v2/")" 401 "before the reload a user not yet in htpasswd gets 401"
htpasswd -bBC 5 "$T/htpasswd" newbie "$NEWBIE_PW" 2>/dev/null
jq 'del(.accessControl.repositories["**"].anonymousPolicy)' "$T/ocigate.json.orig" > "$T/ocigate.json.new"
mv "$T/ocigate.json.new" "$T/ocigate.json"
kill -HUP "$MASTER"
anon_denied() { [ "$(anon_get g3)" = 401 ]; }
wait_until 3 anon_denied
is "$(anon_get g3)" 401 "after SIGHUP with anonymousPolicy removed: anonymous GET is 401"
is "$(hdr g3 WWW-Authenticate)" "Basic realm=\"$(jq -r .realm "$T/ocigate.json")\"" "... with the Basic challenge"
is "$(req g4 -H 'Authorization: Basic Og==' -H "$ACCEPT" "$U/v2/pool/app/manifests/v1")" 401 \
    "... and 'Basic Og==' (anonymous) too"
is "$(req g5 -u "ci:$PASS_ci" -H "$ACCEPT" "$U/v2/pool/app/manifests/v1")" 200 "... while ci still reads"
is "$(req n1 -u "newbie:$NEWBIE_PW" "$U/v2/")" 200 "htpasswd re-read on SIGHUP: the new user is accepted"
ok 'alive "$MASTER"' "the master is alive after the reloads"
is "$(nworkers "$MASTER")" 2 "still two workers after the reloads"
scrape h2
is "$(d h1 h2 "$REFUSED")" 1 "metrics: the unknown-key reload: refused +1"
is "$(d h1 h2 "$RELOADED")" 1 "metrics: the valid reload: config_reloads_total{result=\"ok\"} +1"
ok 'no_counter_back s2 h2' "metrics: the reloads (a new generation of workers) kept every counter" \
    || diag "$(no_counter_back s2 h2)"
is "$(m h2 "$WORKERS")" 2 "metrics: ocigate_workers 2 after the reloads"

# ------------------------------------------------------------- SIGTERM -----

KIDS=$(workers "$MASTER")
kill -TERM "$MASTER"
gone() { ! alive "$MASTER" && for k in $KIDS; do ! alive "$k" || return 1; done; }
t0=$(now_ms)
wait_until 5 gone
ok gone "SIGTERM: master and workers exit within 5 s ($(($(now_ms) - t0)) ms)"
wait "$MASTER" 2>/dev/null
MRC=$?
ok '[ "$MRC" = 0 ] || [ "$MRC" = 143 ]' "SIGTERM: the master exits cleanly (status $MRC)"
code=$(anon_get g6)
ok '[ "$code" != 200 ]' "with ocigate gone, lighttpd fails closed (got $code)"

# ---------------------------------- workers exit when the master dies ------

cp "$T/ocigate.json.orig" "$T/ocigate.json"
rm -f "$T/ocigate.sock"
start_ocigate "$T/ocigate.sock" 2
MASTER=$OCIGATE_PID
wait_until 5 two_workers
KIDS=$(workers "$MASTER")
# lighttpd keeps a backend it could not reach disabled for a while
# ("disable-time", 1 s by default) and answers 503 meanwhile
anon_allowed() { [ "$(anon_get g7)" = 200 ]; }
wait_until 5 anon_allowed
is "$(anon_get g7)" 200 "a restarted ocigate serves again (through the same lighttpd)"
kill -KILL "$MASTER"
wait "$MASTER" 2>/dev/null
kids_gone() { for k in $KIDS; do ! alive "$k" || return 1; done; }
wait_until 3 kids_gone
ok kids_gone "SIGKILL of the master: its workers exit within 3 s"
for k in $KIDS; do kill -KILL "$k" 2>/dev/null; done

done_testing
