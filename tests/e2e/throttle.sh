#!/usr/bin/env bash
# throttle.sh - what happens to repeated credential failures:
# auth.failDelayMs delays each refusal without holding the worker's other
# requests hostage. Failures are distinct failing credentials counted in
# Redis across workers: per (username, client address) (perSubject), per
# address (perAddress), and per username from all addresses (perSubjectTotal,
# which refuses only addresses that failed for that username). Past a limit a
# request is 429 with Retry-After, answered before its credential is looked
# at, in the same time for the right and a wrong password. What must hold:
# a repeated wrong password counts once; wrong passwords from other
# addresses do not lock the owner out; fresh workers (after SIGHUP) keep a
# lockout from their first request; the window passing lifts it; Redis down
# limits nothing and breaks nothing. Client addresses are loopback aliases
# (curl --interface 127.0.0.N; lighttpd passes REMOTE_ADDR).
#
# TAP on stdout; everything it starts is stopped and its temp dir removed.

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd curl jq htpasswd sha256sum

read -r REDIS_PORT REG_PORT LT_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci
# tim: a bcrypt cost that makes a checked password take visibly longer than
# an unchecked one (the timing checks below)
PASS_tim=$(head -c 18 /dev/urandom | base64 | tr -d '/+=\n')
htpasswd -bBC 10 "$T/htpasswd" tim "$PASS_tim" 2>/dev/null || bail "htpasswd failed"
secret_basic tim "$PASS_tim"
secret_basic ci wrong-password   # the wrong password used below
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    '.auth.failDelayMs = 1200 | .auth.throttle = {windowSeconds: 60, perSubjectTotal: 25}
     | .auth.apikey = {enabled: true}'

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
KEY_admin=$("$OCIGATE_BIN" key create -c "$T/ocigate.json" --user admin 2>"$T/key.err") \
    || bail "ocigate key create failed: $(cat "$T/key.err")"
secret "$KEY_admin"
start_ocigate "$T/ocigate.sock" 1           # one worker: a stuck worker would show
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external.conf" regport="$REG_PORT"
start_lighttpd lighttpd "$LT_PORT" "$T/external.conf"
U=http://127.0.0.1:$LT_PORT
R() { redis-cli -p "$REDIS_PORT" "$@"; }
timed() { curl -s --max-time 15 -o /dev/null -w '%{http_code} %{time_total}' "$@"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# reset_counters: delete the failure counters (not the API keys). A worker
# reads the counters again at most once a second: wait for that too (a
# second of the worker's monotonic clock, nothing to poll for).
reset_counters() {
    R --scan --pattern 'ocigate:thr:*' | while read -r k; do R DEL "$k" > /dev/null; done
    sleep 1.1
}
# guesses N USER PREFIX [CURL-ARGS...]: N distinct wrong passwords in parallel;
# prints the status codes, sorted and counted ("10 401").
guesses() {
    local n=$1 user=$2 prefix=$3 i pids=()
    shift 3
    : > "$T/guesses.out"
    for i in $(seq 1 "$n"); do
        curl -s --max-time 10 -o /dev/null -w '%{http_code}\n' "$@" \
            -u "$user:$prefix-$i" "$U/v2/" >> "$T/guesses.out" &
        pids+=($!)
    done
    wait "${pids[@]}"
    sort "$T/guesses.out" | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? " " : ""), $1, $2 }'
}
# median_ms FILE: the median of the seconds in FILE, in milliseconds.
median_ms() {
    sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] * 1000 }'
}
# timing USER RIGHT WRONG N: N requests with each password, interleaved;
# fails unless every answer is 429; prints "MEDIAN_RIGHT MEDIAN_WRONG" (ms).
timing() {
    local user=$1 right=$2 wrong=$3 n=$4 i code secs bad=0
    : > "$T/t.right"
    : > "$T/t.wrong"
    for i in $(seq 1 "$n"); do
        read -r code secs <<<"$(timed -u "$user:$right" "$U/v2/")"
        [ "$code" = 429 ] || bad=1
        echo "$secs" >> "$T/t.right"
        read -r code secs <<<"$(timed -u "$user:$wrong" "$U/v2/")"
        [ "$code" = 429 ] || bad=1
        echo "$secs" >> "$T/t.wrong"
    done
    echo "$(median_ms "$T/t.right") $(median_ms "$T/t.wrong")"
    return "$bad"
}
# close_ms A B: two medians (ms) are the same time: apart by less than 10 ms
# or than half the larger one. Relative, so a busy machine (everything
# slower) does not fail it; a credential looked at for one of them (a bcrypt
# of cost 10, tens of ms, against a few ms for a 429) would still show.
close_ms() {
    awk -v a="$1" -v b="$2" 'BEGIN { x = a - b; if (x < 0) x = -x; m = a > b ? a : b;
                                     exit !(x < 10 || x < m / 2) }'
}
worker_of() { pgrep -P "$OCIGATE_PID" | head -1; }

# --------------------------------------------------------- failDelayMs -----
timed -u ci:wrong-password "$U/v2/" > "$T/bad.out" &
BADPID=$!
# the worker has refused it (and counted it in Redis) and now holds it back
counted() { [ "$(R SCARD "ocigate:thr:user:$(sha ci):127.0.0.1")" = 1 ]; }
ok 'wait_until 10 counted' "a wrong password for ci was refused and is being delayed"
read -r code secs <<<"$(timed -u "ci:$PASS_ci" "$U/v2/")"
is "$code" 200 "a good login while a bad one is being delayed: 200"
ok 'pid_running "$BADPID"' \
    "... answered (in ${secs}s) by the same single worker before the delayed one"
read -r code secs <<<"$(timed "$U/v2/")"
is "$code" 401 "a request without credentials is not delayed (challenge)"
# a delayed answer cannot come before failDelayMs (1.2 s)
ok "$(awk -v s="$secs" 'BEGIN { print (s < 1.15) ? 0 : 1 }')" "... answered in ${secs}s"
wait "$BADPID"
read -r code secs < "$T/bad.out"
is "$code" 401 "the wrong password: 401"
ok "$(awk -v s="$secs" 'BEGIN { print (s >= 1.15) ? 0 : 1 }')" \
    "... after failDelayMs (1.2 s): ${secs}s"

# ------------------------------------------------- what never counts -------
reset_counters
pids=()
for i in $(seq 1 50); do
    curl -s --max-time 5 -o /dev/null -H 'Authorization: Basic Og==' "$U/v2/" &
    pids+=($!)
done
wait "${pids[@]}"
is "$(R --scan --pattern 'ocigate:thr:*' | wc -l | tr -d ' ')" 0 \
    "50 'Basic Og==' requests count no failure"

# ------------------------------------------------------------- the cost ---
# A known credential costs no Redis round trip per request: the worker reads
# the counters of a (username, address) at most once a second.
ncmds() { R INFO stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }
is "$(req c0 -u "admin:$PASS_admin" "$U/v2/")" 200 "admin: 200"
c0=$(ncmds)
t0=$(date +%s%N)
for i in $(seq 1 20); do req c1 -u "admin:$PASS_admin" "$U/v2/" > /dev/null; done
secs=$(( ($(date +%s%N) - t0 + 999999999) / 1000000000 ))
c1=$(ncmds)
ok "[ $((c1 - c0 - 1)) -le $((secs + 1)) ]" \
    "20 requests of a cached password in ${secs}s: $((c1 - c0 - 1)) Redis commands (at most one a second)"

# A lockout written to Redis by another worker or host is seen within a second.
sa_admin="ocigate:thr:user:$(sha admin):127.0.0.1"
R SADD "$sa_admin" m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 > /dev/null
R EXPIRE "$sa_admin" 60 > /dev/null
sleep 1.1
is "$(req c2 -u "admin:$PASS_admin" "$U/v2/")" 429 \
    "admin locked out in Redis from elsewhere: 429 within a second, with no failure seen here"
reset_counters

# ------------------------------ one wrong password repeated counts once -----
: > "$T/same.out"
pids=()
for i in $(seq 1 12); do
    curl -s --max-time 10 -o /dev/null -w '%{http_code}\n' -u ci:wrong-password "$U/v2/" >> "$T/same.out" &
    pids+=($!)
done
wait "${pids[@]}"
is "$(grep -c '^401$' "$T/same.out")" 12 "the same wrong password 12 times (a mistyped CI secret): all 401"
is "$(R SCARD "ocigate:thr:user:$(sha ci):127.0.0.1")" 1 "... counted as one failure"
is "$(req s1 -u "ci:$PASS_ci" "$U/v2/")" 200 "... and ci is not locked out: the right password, 200"

# ------------------------------------------------------------ lockout -------
reset_counters
is "$(guesses 10 ci guess-pw)" "10 401" "10 distinct wrong passwords for ci (in parallel): all 401"
is "$(req g11 -u ci:guess-pw-11 "$U/v2/")" 429 "the 11th: 429"
like "$(hdr g11 Retry-After)" '^[0-9]+$' "... with Retry-After ($(hdr g11 Retry-After) s)"
like "$(body g11)" '"code":"TOOMANYREQUESTS"' "... and an OCI error body"
is "$(req g12 -u "ci:$PASS_ci" "$U/v2/")" 429 \
    "the right password inside the window: 429 too (a guess cannot be told apart)"
is "$(req a1 -u "admin:$PASS_admin" "$U/v2/")" 200 "another user from the same address: 200"
is "$(req anon -H 'Accept: application/json' "$U/v2/x/tags/list")" 404 \
    "anonymous requests are never throttled (the registry answers)"

# the Redis layout: sets of keyed hashes, no username, no password, a TTL
keys=$(R --scan --pattern 'ocigate:thr:*' | sort)
is "$(printf '%s\n' "$keys" | tr '\n' ' ')" \
    "ocigate:thr:addr:127.0.0.1 ocigate:thr:user:$(sha ci) ocigate:thr:user:$(sha ci):127.0.0.1 " \
    "counters per address, per (username, address) and per username"
unlike "$keys" ':ci($|:)' "... keyed by a hash, not the username"
is "$(R TYPE ocigate:thr:addr:127.0.0.1)" set "... each a set"
members=$(R SMEMBERS "ocigate:thr:user:$(sha ci):127.0.0.1")
is "$(printf '%s\n' "$members" | grep -cE '^[0-9a-f]{32}$')" 10 "... of 10 members, 32 hex characters each"
plain=$(for i in $(seq 1 11); do sha "guess-pw-$i"; sha "ci:guess-pw-$i"; done | cut -c1-32)
is "$(printf '%s\n' "$members" | grep -cxF -f <(printf '%s\n' "$plain"))" 0 \
    "... none a plain SHA-256 of a password"
ttl=$(R TTL "ocigate:thr:user:$(sha ci):127.0.0.1")
ok "[ $ttl -gt 0 ] && [ $ttl -le 60 ]" "... with a TTL inside the window (${ttl}s)"

# ------------------------- same time for the right and a wrong password -----
is "$(guesses 10 tim guess-pw)" "10 401" "10 wrong passwords for tim (bcrypt cost 10): all 401"
if times=$(timing tim "$PASS_tim" wrong-password 7); then st=0; else st=1; fi
is "$st" 0 "tim locked out: the right and a wrong password both 429"
read -r tr tw <<<"$times"
ok 'close_ms "$tr" "$tw"' \
    "... in the same time (failDelayMs applies to neither): medians ${tr} ms right, ${tw} ms wrong"

# ---------------------------- wrong passwords from elsewhere lock nobody out --
# from_each FIRST LAST USER: one wrong password for USER from each of
# 127.0.0.FIRST..LAST, in parallel; prints the status codes counted ("10 401").
from_each() {
    local n pids=()
    for n in $(seq "$1" "$2"); do
        curl -s --max-time 10 -o /dev/null -w '%{http_code}\n' --interface "127.0.0.$n" \
            -u "$3:elsewhere-$n" "$U/v2/" > "$T/else.$n" &
        pids+=($!)
    done
    wait "${pids[@]}"
    for n in $(seq "$1" "$2"); do cat "$T/else.$n"; done | sort | uniq -c | awk '{ print $1, $2 }'
}
is "$(from_each 2 11 admin)" "10 401" "one wrong password for admin from each of 127.0.0.2-11: all 401"
is "$(guesses 10 admin from-12 --interface 127.0.0.12)" "10 401" \
    "10 wrong passwords for admin from 127.0.0.12: all 401"
is "$(req b1 --interface 127.0.0.12 -u "admin:$PASS_admin" "$U/v2/")" 429 \
    "admin from 127.0.0.12, where they failed: 429"
is "$(req b2 -u "admin:$PASS_admin" "$U/v2/")" 200 \
    "admin from 127.0.0.1, which has not failed: 200 (an attacker cannot lock the owner out)"
is "$(req k1 -H "Authorization: Bearer $KEY_admin" "$U/v2/")" 200 \
    "... admin's API key from 127.0.0.1 (Bearer): 200"
is "$(req k2 -u "admin:$KEY_admin" "$U/v2/")" 200 "... and as Basic admin:KEY: 200"
is "$(from_each 13 17 admin)" "5 401" "5 more from 127.0.0.13-17: 25 for admin in total"
is "$(req b3 --interface 127.0.0.2 -u "admin:$PASS_admin" "$U/v2/")" 429 \
    "past perSubjectTotal (25): an address that failed once for admin is refused"
is "$(req b4 -u "admin:$PASS_admin" "$U/v2/")" 200 "... 127.0.0.1, which has not: still 200"
is "$(req b5 -u admin:one-typo-here "$U/v2/")" 401 "admin's own typo from 127.0.0.1: 401"
is "$(req b6 -u "admin:$PASS_admin" "$U/v2/")" 429 "... now 127.0.0.1 has failed too: 429"
is "$(req b7 --interface 127.0.0.18 -u "ci:guess-pw-99" "$U/v2/")" 401 \
    "ci from another address: its password is checked (401, not 429)"

# ------------------------------------- fresh workers after SIGHUP -----------
old=$(worker_of)
jq '.auth.failDelayMs = 0 | .auth.throttle.windowSeconds = 3' "$T/ocigate.json" > "$T/ocigate.json.new"
mv "$T/ocigate.json.new" "$T/ocigate.json"
kill -HUP "$OCIGATE_PID"
fresh() { w=$(worker_of); [ -n "$w" ] && [ "$w" != "$old" ] && ! pid_running "$old"; }
ok 'wait_until 10 fresh' "SIGHUP: a fresh worker replaced the old one"
codes=""
for i in 1 2 3 4; do codes="$codes$(req h$i -u "ci:$PASS_ci" "$U/v2/") "; done
is "$codes" "429 429 429 429 " "the fresh worker keeps ci locked out from its first request"

if times=$(timing tim "$PASS_tim" wrong-password 9); then st=0; else st=1; fi
is "$st" 0 "without failDelayMs: tim still 429 for the right and a wrong password"
read -r tr tw <<<"$times"
ok 'close_ms "$tr" "$tw"' \
    "... in the same time (no crypt, no cache): medians ${tr} ms right, ${tw} ms wrong"

# --------------------------------------------------------- the window -------
reset_counters
is "$(guesses 10 ci short)" "10 401" "windowSeconds 3: 10 wrong passwords for ci"
is "$(req w1 -u "ci:$PASS_ci" "$U/v2/")" 429 "... the right one: 429"
sleep 3.2
is "$(req w2 -u "ci:$PASS_ci" "$U/v2/")" 200 "after the window: the right password works again"

# ------------------------------------------------------------- Redis down ---
reset_counters
stop_pid "$REDIS_PID"
is "$(req d1 -u ci:wrong "$U/v2/")" 401 "Redis down: a wrong password is still 401 (not 503, not 200)"
is "$(req d2 -u "ci:$PASS_ci" "$U/v2/")" 200 "Redis down: the right password still works"
old=$(worker_of)
kill -HUP "$OCIGATE_PID"
ok 'wait_until 10 fresh' "Redis down, SIGHUP: a fresh worker"
read -r code secs <<<"$(timed -u "ci:$PASS_ci" "$U/v2/")"
is "$code" 200 "... lets the right password in (not limited)"
ok "$(awk -v s="$secs" 'BEGIN { print (s < 1) ? 0 : 1 }')" "... at once (${secs}s)"

unlike "$(cat "$T"/*.log)" "$PASS_ci" "no password in any log"
done_testing
