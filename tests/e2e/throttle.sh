#!/usr/bin/env bash
# throttle.sh - what happens to repeated credential failures (SPEC §4, §6):
# auth.failDelayMs delays each refusal without holding the worker's other
# requests hostage; past the limit (10 failures per username, 30 per client
# address, per minute, counted in Redis across workers) every credentialed
# request of that subject is 429 with Retry-After, the right password
# included; anonymous requests and "Basic Og==" never count; with Redis
# down nothing is throttled and nothing breaks.
#
# TAP on stdout; everything it starts is stopped and its temp dir removed.

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd curl jq htpasswd

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci
secret_basic ci wrong-password   # the wrong password used below
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    '.auth.failDelayMs = 1200'

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
start_ocigate "$T/ocigate.sock" 1           # one worker: a stuck worker would show
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
R() { redis-cli -p "$REDIS_PORT" "$@"; }
timed() { curl -s --max-time 15 -o /dev/null -w '%{http_code} %{time_total}' "$@"; }

# --------------------------------------------------------- failDelayMs -----
timed -u ci:wrong-password "$U/v2/" > "$T/bad.out" &
BADPID=$!
sleep 0.2
read -r code secs <<<"$(timed -u "ci:$PASS_ci" "$U/v2/")"
is "$code" 200 "a good login while a bad one is being delayed: 200"
ok "$(awk -v s="$secs" 'BEGIN { print (s < 0.8) ? 0 : 1 }')" \
    "... answered at once (${secs}s) by the same single worker"
read -r code secs <<<"$(timed "$U/v2/")"
is "$code" 401 "a request without credentials is not delayed (challenge)"
ok "$(awk -v s="$secs" 'BEGIN { print (s < 0.8) ? 0 : 1 }')" "... answered in ${secs}s"
wait "$BADPID"
read -r code secs < "$T/bad.out"
is "$code" 401 "the wrong password: 401"
ok "$(awk -v s="$secs" 'BEGIN { print (s >= 1.15) ? 0 : 1 }')" \
    "... after failDelayMs (1.2 s): ${secs}s"

# ------------------------------------------------------------ throttling -----
R FLUSHALL > /dev/null
pids=()
for i in $(seq 1 50); do
    curl -s --max-time 5 -o /dev/null -H 'Authorization: Basic Og==' "$U/v2/" &
    pids+=($!)
done
wait "${pids[@]}"
is "$(R --scan --pattern 'ocigate:fail:*' | wc -l | tr -d ' ')" 0 \
    "50 'Basic Og==' requests count no failure"

pids=()
for i in $(seq 1 10); do
    curl -s --max-time 10 -o /dev/null -w '%{http_code}\n' -u "ci:guess-$i" "$U/v2/" >> "$T/guesses.out" &
    pids+=($!)
done
wait "${pids[@]}"
is "$(grep -c '^401$' "$T/guesses.out")" 10 "10 wrong passwords for ci (in parallel): all 401"
is "$(req g11 -u ci:guess-11 "$U/v2/")" 429 "the 11th: 429"
like "$(hdr g11 Retry-After)" '^[0-9]+$' "... with Retry-After ($(hdr g11 Retry-After) s)"
like "$(body g11)" '"code":"TOOMANYREQUESTS"' "... and an OCI error body"
is "$(req g12 -u "ci:$PASS_ci" "$U/v2/")" 429 \
    "the right password inside the window: 429 too (a guess cannot be told apart)"
is "$(req a1 -u "admin:$PASS_admin" "$U/v2/")" 200 "another user from the same address: 200"
is "$(req anon -H 'Accept: application/json' "$U/v2/x/tags/list")" 404 \
    "anonymous requests are never throttled (the registry answers)"
sub_keys=$(R --scan --pattern 'ocigate:fail:sub:*' | wc -l | tr -d ' ')
is "$sub_keys" 1 "one per-subject counter in Redis"
unlike "$(R --scan --pattern 'ocigate:fail:*')" ':ci($|:)' "... keyed by a hash, not the username"
ttl=$(R TTL "$(R --scan --pattern 'ocigate:fail:sub:*' | head -1)")
ok "[ $ttl -gt 0 ] && [ $ttl -le 60 ]" "... with a TTL inside the window (${ttl}s)"

# The window passing (simulated by deleting the counters) lifts the block.
R FLUSHALL > /dev/null
is "$(req g13 -u "ci:$PASS_ci" "$U/v2/")" 200 "after the window: the right password works again"

# ------------------------------------------------------------- Redis down ---
stop_pid "$REDIS_PID"
is "$(req d1 -u ci:wrong "$U/v2/")" 401 "Redis down: a wrong password is still 401 (not 503, not 200)"
is "$(req d2 -u "ci:$PASS_ci" "$U/v2/")" 200 "Redis down: the right password still works"

unlike "$(cat "$T"/*.log)" "$PASS_ci" "no password in any log"
done_testing
