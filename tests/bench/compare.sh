#!/usr/bin/env bash
# compare.sh - ocigate side by side with no authorizer, a do-nothing
# authorizer and docker-registry's own htpasswd auth. Measures, never passes
# or fails on time.
#
# Every row is wrk (GET of one manifest, fixed threads/connections) against
# its own lighttpd on loopback; all of them run at once and are driven in
# turn, ROUNDS interleaved rounds of SECONDS each; the table shows medians:
#   ceiling     lighttpd -> docker-registry, no authorizer
#   noop        lighttpd + a do-nothing libfcgi authorizer (built here from
#               tests/bench/noop_authorizer.c, 2 workers) -> registry
#   og-anon     lighttpd + ocigate (2 workers) -> registry, no credentials
#   og-htpasswd ... Basic ci:PASSWORD (htpasswd, bcrypt cost 5)
#   og-apikey   ... Bearer API key (`ocigate key create`)
#   og-token    ... Bearer ocigate token (from its token endpoint)
#   og-oidc     ... Bearer OIDC JWT (RS256, the test IdP tests/idp; a fresh
#               one each round, the IdP's last 300 s); only with node, and
#               not with OIDC=0
#   dr-htpasswd lighttpd -> a second docker-registry (same storage) with its
#               own auth.htpasswd, Basic ci:PASSWORD
# With STATIC=1, rows for the authorizer alone follow (lighttpd serves a
# static copy of the manifest once the authorizer allowed the request, the
# registry is out of the picture): noop-static, og-anon-static,
# og-htpasswd-static, og-apikey-static, og-token-static (og-oidc-static).
# With SCALE=1, rows for the authorizer alone against the policy's and the
# key store's size follow, each with its own ocigate (2 workers) and lighttpd:
#   og-pat10-static, og-pat1k-static, og-pat10k-static: anonymous GET with
#               10, 1,000 and 10,000 repository patterns (bench/app decided
#               by "bench/*" among "**", "**/secret" and team<K>/... shapes)
#   og-keys1k-static, og-keys1m-static: an API key with the worker's key
#               cache off (auth.apikey.cacheSeconds 0: one HGETALL per
#               request) with 1,000 and 1,000,000 key records in the Redis
#               database it reads (copies of a real record, written by a Lua
#               loop in batches as apikey_scale.sh does; the million take
#               about half a minute and a few hundred MB of Redis memory)
# With STATIC=1 and BASE_BIN=another ocigate binary (an earlier build, say),
# the same authorizer-alone rows follow for it (base-anon-static, ...; its
# own 2 workers and lighttpd, the same config, keys and tokens): before and
# after a change in one run, against the same do-nothing row.
# ROWS="og-anon noop-static og-pat10k-static ..." runs only the rows named
# (any of the above, in that order; the ratio columns need their reference
# rows: ceiling, noop, dr-htpasswd, noop-static).
# Columns: requests/s, wrk's p50/p99 latency, the authorizer's CPU per
# request (utime+stime of its master and workers from /proc/PID/stat, over
# all rounds), the same for the whole path (that row's lighttpd, authorizer
# and registry), and ratios of requests/s to the ceiling, to the do-nothing
# authorizer and to dr-htpasswd. RSS of the authorizers' workers before the
# first and after the last round follow the table. A 1 s warm-up per row
# comes first. The machine's other load shows in every row: compare rows of
# one run, not runs.
#
# Usage: OCIGATE_BIN=... tests/bench/compare.sh [SECONDS [ROUNDS]]   (5 s, 3)
# Environment: CONNS (4), THREADS (2), CC (cc), STATIC (0), SCALE (0), BASE_BIN, ROWS,
# OIDC (1).
# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
set -u
SEL=${ROWS:-}   # ROWS becomes the list of rows below
. "$(dirname "$0")/../e2e/lib.sh"
OCIGATE_E2E=1 e2e_init redis-server docker-registry lighttpd skopeo curl jq htpasswd wrk
secs=${1:-5}
rounds=${2:-3}
conns=${CONNS:-4}
threads=${THREADS:-2}
HZ=$(getconf CLK_TCK)
STATIC=${STATIC:-0}
SCALE=${SCALE:-0}
ALL_ROWS=(ceiling noop og-anon og-htpasswd og-apikey og-token og-oidc dr-htpasswd
          noop-static og-anon-static og-htpasswd-static og-apikey-static og-token-static og-oidc-static
          og-pat10-static og-pat1k-static og-pat10k-static og-keys1k-static og-keys1m-static
          base-anon-static base-htpasswd-static base-apikey-static base-token-static base-oidc-static)
if [ -n "$SEL" ]; then
    read -ra WANT <<<"$SEL"
    for r in "${WANT[@]}"; do
        [[ " ${ALL_ROWS[*]} " == *" $r "* ]] || bail "unknown row $r (rows: ${ALL_ROWS[*]})"
    done
else
    WANT=("${ALL_ROWS[@]:0:8}")
    [ "$STATIC" = 1 ] && WANT+=("${ALL_ROWS[@]:8:6}")
    [ "$SCALE" = 1 ] && WANT+=("${ALL_ROWS[@]:14:5}")
    [ "$STATIC" = 1 ] && [ -n "${BASE_BIN:-}" ] && WANT+=("${ALL_ROWS[@]:19:5}")
fi
if [[ " ${WANT[*]}" == *" base-"* ]] && [ -z "${BASE_BIN:-}" ]; then
    bail "base-* rows need BASE_BIN=an ocigate binary"
fi
want() { local r; for r in "${WANT[@]}"; do [[ $r == "$1" ]] && return 0; done; return 1; }
want_any() { local r; for r in "$@"; do want "$r" && return 0; done; return 1; }

# ---------------------------------------------------------------- setup ----
NOOP=$T/noop_authorizer
# the project's warning flags (configure.ac's WARN_CFLAGS), optimised
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 \
    -Wstrict-prototypes -Wmissing-prototypes -Werror \
    -o "$NOOP" "$E2E_DIR/../bench/noop_authorizer.c" -lfcgi 2> "$T/cc.log" \
    || bail "cannot build noop_authorizer: $(head -n 5 "$T/cc.log")"

read -r REDIS_PORT REG_PORT REG2_PORT P_CEIL P_NOOP P_OG P_DR P_NOOPS P_OGS \
    P_PAT10 P_PAT1K P_PAT10K P_K1K P_K1M P_BASES <<<"$(free_ports 15)"
declare -A SPORT=([pat10]=$P_PAT10 [pat1k]=$P_PAT1K [pat10k]=$P_PAT10K [keys1k]=$P_K1K [keys1m]=$P_K1M)
make_htpasswd "$T/htpasswd" admin ci
"$OCIGATE_BIN" token-key generate > "$T/token.key" 2> "$T/token-key.err" \
    || bail "ocigate token-key generate failed: $(cat "$T/token-key.err")"
secret_file "$T/token.key"
OG_URL=http://127.0.0.1:$P_OG
oidc=.
if [ "${OIDC:-1}" = 1 ] && want_any og-oidc og-oidc-static base-oidc-static && command -v node > /dev/null; then
    start_idp
    oidc=".auth.openid = {issuer: \"$ISSUER\", audiences: [\"registry\"],
          claimMapping: {username: \"preferred_username\", groups: \"groups\"}}"
    # jwt: a fresh access token for ci-bot (groups artifact-workloads)
    jwt() {
        local t
        t=$(sh "$OCIGATE_SRCDIR/tests/idp/token.sh" "$ISSUER" ci-bot \
            "$(jq -r '.clients["ci-bot"].secret' "$T/idp.json")") || bail "the IdP issued no token"
        secret "$t"
        echo "$t"
    }
fi
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" \
    ".log.level = \"warn\" | .auth.apikey = {enabled: true}
     | .token = {challenge: \"bearer\", realm: \"$OG_URL/ocigate/token\", keyFile: \"$T/token.key\",
                 lifetimeSeconds: 86400} | $oidc"
start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
# the peer: the same registry with its own htpasswd auth, same storage
sed -e "s#127.0.0.1:$REG_PORT#127.0.0.1:$REG2_PORT#" -e '/^  accesslog:/,/disabled:/d' \
    -e 's/level: info/level: warn/' "$T/registry.yml" > "$T/registry2.yml"
cat >> "$T/registry2.yml" <<EOF
auth:
  htpasswd:
    realm: bench
    path: $T/htpasswd
EOF
docker-registry serve "$T/registry2.yml" > "$T/registry2.log" 2>&1 &
REG2_PID=$!
register_pid "$REG2_PID"
wait_port "$REG2_PORT" 15 "$REG2_PID" || bail "docker-registry (htpasswd) did not listen"

start_ocigate "$T/ocigate.sock" 2
OG_PID=$OCIGATE_PID
"$NOOP" "$T/noop.sock" 2 > "$T/noop.log" 2>&1 &
NOOP_PID=$!
register_pid "$NOOP_PID"
wait_socket "$T/noop.sock" 10 "$NOOP_PID" || bail "noop_authorizer did not listen"

# lighttpd: ocigate's shipped config; the others minimal
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/og.conf" regport="$REG_PORT"
start_lighttpd lt-og "$P_OG" "$T/og.conf"
LT_OG=$LIGHTTPD_PID
proxy_conf() { # DEST PORT [AUTHORIZER-SOCKET]
    {
        if [ -n "${3:-}" ]; then
            echo 'server.modules += ( "mod_fastcgi", "mod_proxy" )'
            echo "fastcgi.server += ( \"/v2/\" => (( \"socket\" => \"$3\", \"mode\" => \"authorizer\", \"check-local\" => \"disable\" )) )"
        else
            echo 'server.modules += ( "mod_proxy" )'
        fi
        echo "proxy.server += ( \"/v2/\" => (( \"host\" => \"127.0.0.1\", \"port\" => $2 )) )"
    } > "$1"
}
# authorizer_conf DEST SOCKET: the authorizer, then lighttpd's static files
authorizer_conf() {
    {
        echo 'server.modules += ( "mod_fastcgi" )'
        echo "fastcgi.server += ( \"/v2/\" => (( \"socket\" => \"$2\", \"mode\" => \"authorizer\", \"check-local\" => \"disable\" )) )"
    } > "$1"
}
proxy_conf "$T/ceil.conf" "$REG_PORT"
proxy_conf "$T/noop.conf" "$REG_PORT" "$T/noop.sock"
proxy_conf "$T/dr.conf" "$REG2_PORT"
start_lighttpd lt-ceil "$P_CEIL" "$T/ceil.conf"
LT_CEIL=$LIGHTTPD_PID
start_lighttpd lt-noop "$P_NOOP" "$T/noop.conf"
LT_NOOP=$LIGHTTPD_PID
start_lighttpd lt-dr "$P_DR" "$T/dr.conf"
LT_DR=$LIGHTTPD_PID
authorizer_conf "$T/noop-static.conf" "$T/noop.sock"
authorizer_conf "$T/og-static.conf" "$T/ocigate.sock"
if want noop-static; then
    start_lighttpd lt-noop-static "$P_NOOPS" "$T/noop-static.conf"
    LT_NOOPS=$LIGHTTPD_PID
fi
if want_any og-anon-static og-htpasswd-static og-apikey-static og-token-static og-oidc-static; then
    start_lighttpd lt-og-static "$P_OGS" "$T/og-static.conf"
    LT_OGS=$LIGHTTPD_PID
fi
if want_any base-anon-static base-htpasswd-static base-apikey-static base-token-static \
        base-oidc-static; then
    OCIGATE_BIN=$BASE_BIN start_ocigate "$T/base.sock" 2
    BASE_PID=$OCIGATE_PID
    authorizer_conf "$T/base-static.conf" "$T/base.sock"
    start_lighttpd lt-base-static "$P_BASES" "$T/base-static.conf"
    LT_BASES=$LIGHTTPD_PID
fi
# the authorizers whose RSS is shown: NAME=PID
AUTHZ=("ocigate=$OG_PID" "noop=$NOOP_PID")
[ -n "${BASE_PID:-}" ] && AUTHZ+=("base=$BASE_PID")
# scale_ocigate NAME PORT CONFIG: an ocigate of its own (2 workers) behind its
# own lighttpd serving static files; sets SC_OG, SC_LT
scale_ocigate() {
    start_ocigate "$T/$1.sock" 2 "$3"
    SC_OG=$OCIGATE_PID
    authorizer_conf "$T/$1-static.conf" "$T/$1.sock"
    start_lighttpd "lt-$1" "$2" "$T/$1-static.conf"
    SC_LT=$LIGHTTPD_PID
    AUTHZ+=("$1=$SC_OG")
}
declare -A SCALE_OG SCALE_LT SCALE_PORT
# the policy's size: N repository patterns, every entry three-tier's "**"
for n in 10 1k 10k; do
    want "og-pat$n-static" || continue
    num=${n/k/000}
    jq --argjson n "$num" '.accessControl.repositories["**"] as $e
        | .accessControl.repositories = ({"**": $e, "**/secret": $e, "bench/*": $e}
            + ([range(0; $n - 3)] | map({key: (["team", "team", "team", "team", "org"][. % 5]
                   + ((. / 5 | floor) | tostring)
                   + ["/**", "/app-*", "/{dev,stage}/**", "/svc?/[a-z]*", "/**"][. % 5]),
                 value: $e}) | from_entries))' "$T/ocigate.json" > "$T/pat$n.json" \
        || bail "jq failed on the $n-pattern config"
    [ "$(jq '.accessControl.repositories | length' "$T/pat$n.json")" = "$num" ] \
        || bail "pat$n.json: not $num patterns"
    scale_ocigate "pat$n" "${SPORT[pat$n]}" "$T/pat$n.json"
    SCALE_OG[og-pat$n-static]=$SC_OG; SCALE_LT[og-pat$n-static]=$SC_LT; SCALE_PORT[og-pat$n-static]=${SPORT[pat$n]}
done

mkimage "$T/img" v1 > /dev/null
skopeo_copy "oci:$T/img:v1" "docker://127.0.0.1:$P_OG/bench/app:v1" --dest-creds "admin:$PASS_admin" \
    || bail "push failed"
KEY=$("$OCIGATE_BIN" key create -c "$T/ocigate.json" --user ci --group artifact-workloads 2> "$T/key.err") \
    || bail "ocigate key create failed: $(cat "$T/key.err")"
secret "$KEY"
[ "$(req tok -u "ci:$PASS_ci" "$OG_URL/ocigate/token?service=registry.example.org&scope=repository:bench/app:pull")" = 200 ] \
    || bail "no ocigate token: $(head -c 200 "$T/tok.body")"
TOKEN=$(jq -r '.token' "$T/tok.body")
# the static copy (STATIC=1 rows), under lighttpd's document root
mkdir -p "$T/www/v2/bench/app/manifests"
curl -s -H "Accept: application/vnd.oci.image.manifest.v1+json" -o "$T/www/v2/bench/app/manifests/v1" \
    "http://127.0.0.1:$REG_PORT/v2/bench/app/manifests/v1"
secret "$TOKEN"
BASIC=$(printf 'ci:%s' "$PASS_ci" | base64 -w0)

# the key store's size: an API key looked up in a Redis database (1 and 2
# of the same redis-server) holding 1,000 or 1,000,000 key records
R() { redis-cli -p "$REDIS_PORT" "$@"; }
# fill DB FROM TO: key records FROM..TO in DB, copies of the record SRC
fill() {
    R -n "$1" EVAL "local f = redis.call('HGETALL', KEYS[1])
            for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
              redis.call('HSET', 'ocigate:key:' .. redis.sha1hex(tostring(i)) ..
                         redis.sha1hex('pad'):sub(1, 24), unpack(f))
            end return 1" 1 "$SRC" "$2" "$3" > /dev/null
}
declare -A KEYROW
for n in 1k 1m; do
    want "og-keys$n-static" || continue
    db=1; total=1000
    [ "$n" = 1m ] && { db=2; total=1000000; }
    jq --arg redis "redis://127.0.0.1:$REDIS_PORT/$db" \
        '.redis.url = $redis | .auth.apikey.cacheSeconds = 0' "$T/ocigate.json" > "$T/keys$n.json"
    k=$("$OCIGATE_BIN" key create -c "$T/keys$n.json" --user ci --group artifact-workloads 2> "$T/key$n.err") \
        || bail "ocigate key create ($n) failed: $(cat "$T/key$n.err")"
    secret "$k"
    KEYROW[og-keys$n-static]=$k
    SRC=$(R -n "$db" --scan --pattern 'ocigate:key:*' | head -n 1)
    t0=$(date +%s)
    for s in $(seq 1 100000 $((total - 1))); do
        e=$((s + 99999)); [ "$e" -gt $((total - 1)) ] && e=$((total - 1))
        fill "$db" "$s" "$e"
    done
    diag "og-keys$n-static: $(R -n "$db" DBSIZE) keys in Redis db $db (filled in $(( $(date +%s) - t0 )) s)"
    scale_ocigate "keys$n" "${SPORT[keys$n]}" "$T/keys$n.json"
    SCALE_OG[og-keys$n-static]=$SC_OG; SCALE_LT[og-keys$n-static]=$SC_LT; SCALE_PORT[og-keys$n-static]=${SPORT[keys$n]}
done
diag "Redis memory: $(R INFO memory | awk -F: '/^used_memory_human/ { print $2 }' | tr -d '\r')"

# rows: NAME PORT AUTH-HEADER-or-empty AUTHORIZER-PID-or-empty
declare -A PORT=( [ceiling]=$P_CEIL [noop]=$P_NOOP [og-anon]=$P_OG [og-htpasswd]=$P_OG
                  [og-apikey]=$P_OG [og-token]=$P_OG [og-oidc]=$P_OG [dr-htpasswd]=$P_DR )
declare -A AUTH=( [ceiling]="" [noop]="" [og-anon]="" [og-htpasswd]="Basic $BASIC"
                  [og-apikey]="Bearer $KEY" [og-token]="Bearer $TOKEN" [dr-htpasswd]="Basic $BASIC" )
declare -A APID=( [noop]=$NOOP_PID [og-anon]=$OG_PID [og-htpasswd]=$OG_PID
                  [og-apikey]=$OG_PID [og-token]=$OG_PID [og-oidc]=$OG_PID )
# every process a row's request goes through (wrk aside)
declare -A PPIDS=( [ceiling]="$LT_CEIL $REGISTRY_PID" [noop]="$LT_NOOP $NOOP_PID $REGISTRY_PID"
                   [dr-htpasswd]="$LT_DR $REG2_PID" )
for r in og-anon og-htpasswd og-apikey og-token og-oidc; do PPIDS[$r]="$LT_OG $OG_PID $REGISTRY_PID"; done
declare -F jwt > /dev/null && AUTH[og-oidc]="Bearer $(jwt)"
PORT[noop-static]=$P_NOOPS; AUTH[noop-static]=""; APID[noop-static]=$NOOP_PID
PPIDS[noop-static]="${LT_NOOPS:-} $NOOP_PID"
for r in og-anon og-htpasswd og-apikey og-token og-oidc; do
    PORT[$r-static]=$P_OGS; AUTH[$r-static]=${AUTH[$r]:-}; APID[$r-static]=$OG_PID
    PPIDS[$r-static]="${LT_OGS:-} $OG_PID"
    if [ -n "${BASE_PID:-}" ]; then
        b=base-${r#og-}-static
        PORT[$b]=$P_BASES; AUTH[$b]=${AUTH[$r]:-}; APID[$b]=$BASE_PID
        PPIDS[$b]="$LT_BASES $BASE_PID"
    fi
done
for r in "${!SCALE_OG[@]}"; do
    PORT[$r]=${SCALE_PORT[$r]}; APID[$r]=${SCALE_OG[$r]}; PPIDS[$r]="${SCALE_LT[$r]} ${SCALE_OG[$r]}"
    AUTH[$r]=""
    [ -n "${KEYROW[$r]:-}" ] && AUTH[$r]="Bearer ${KEYROW[$r]}"
done
ROWS=()
for r in "${WANT[@]}"; do
    # no OIDC rows without the IdP
    [[ $r == og-oidc* || $r == base-oidc* ]] && [ -z "${AUTH[og-oidc]:-}" ] && continue
    ROWS+=("$r")
done
PATH_M=/v2/bench/app/manifests/v1
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'

# every row must answer 200 before anything is measured
for r in "${ROWS[@]}"; do
    a=()
    [ -n "${AUTH[$r]}" ] && a=(-H "Authorization: ${AUTH[$r]}")
    code=$(req "chk-$r" -H "$ACCEPT" "${a[@]}" "http://127.0.0.1:${PORT[$r]}$PATH_M")
    is "$code" 200 "$r: GET manifest answers 200"
done

# ticks PID: utime+stime (clock ticks) of PID and its children
ticks() {
    local p s=0
    for p in "$1" $(pgrep -P "$1"); do
        s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2> /dev/null || echo 0)))
    done
    echo "$s"
}
# rss PID: "MASTER_KiB WORKER_KiB,WORKER_KiB..." (VmRSS)
rss() {
    local p w=
    for p in $(pgrep -P "$1"); do w="$w${w:+,}$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status")"; done
    echo "$(awk '/^VmRSS/ { print $2 }' "/proc/$1/status") $w"
}
# wrk_run ROW: one round; appends "RPS P50_US P99_US REQUESTS" to $T/res.ROW
to_us() { # 1.23ms / 456.00us / 1.2s -> microseconds
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000;
                           else if (v ~ /m$/) m = 60e6; else m = 1e6; printf "%.0f", n * m }'
}
wrk_run() {
    local r=$1 a=() out rps p50 p99 n
    [ -n "${AUTH[$r]}" ] && a=(-H "Authorization: ${AUTH[$r]}")
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -H "$ACCEPT" "${a[@]}" \
        "http://127.0.0.1:${PORT[$r]}$PATH_M")
    echo "$out" >> "$T/wrk.$r.log"
    if grep -q 'Non-2xx' <<<"$out"; then diag "$r: $(grep Non-2xx <<<"$out")"; fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    echo "${rps:-0} ${p50:-0} ${p99:-0} ${n:-0}" >> "$T/res.$r"
}

# warm-up (not counted): 1 s per row, so that caches and connections are
# in place before the first measured round
for r in "${ROWS[@]}"; do
    wrk -t"$threads" -c"$conns" -d1s -H "$ACCEPT" ${AUTH[$r]:+-H "Authorization: ${AUTH[$r]}"} \
        "http://127.0.0.1:${PORT[$r]}$PATH_M" > /dev/null
done
declare -A RSS0 RSS1
for a in "${AUTHZ[@]}"; do RSS0[${a%%=*}]=$(rss "${a#*=}"); done
declare -A TICKS PTICKS NREQ
for r in "${ROWS[@]}"; do TICKS[$r]=0; PTICKS[$r]=0; NREQ[$r]=0; done
path_ticks() { local p s=0; for p in ${PPIDS[$1]}; do s=$((s + $(ticks "$p"))); done; echo "$s"; }
echo "# $rounds rounds x ${#ROWS[@]} rows x ${secs}s, wrk -t$threads -c$conns, $(nproc) cores"
for i in $(seq 1 "$rounds"); do
    if [ -n "${AUTH[og-oidc]:-}" ]; then
        AUTH[og-oidc]="Bearer $(jwt)"
        AUTH[og-oidc-static]=${AUTH[og-oidc]}
        AUTH[base-oidc-static]=${AUTH[og-oidc]}
    fi
    for r in "${ROWS[@]}"; do
        t0=0
        [ -n "${APID[$r]:-}" ] && t0=$(ticks "${APID[$r]}")
        p0=$(path_ticks "$r")
        wrk_run "$r"
        PTICKS[$r]=$(( ${PTICKS[$r]} + $(path_ticks "$r") - p0 ))
        if [ -n "${APID[$r]:-}" ]; then
            TICKS[$r]=$(( ${TICKS[$r]} + $(ticks "${APID[$r]}") - t0 ))
        fi
        NREQ[$r]=$(( ${NREQ[$r]} + $(tail -n 1 "$T/res.$r" | cut -d' ' -f4) ))
    done
    echo "#   round $i done"
done
for a in "${AUTHZ[@]}"; do RSS1[${a%%=*}]=$(rss "${a#*=}"); done

# median COLUMN ROW
median() { cut -d' ' -f"$1" "$T/res.$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A RPS
for r in "${ROWS[@]}"; do RPS[$r]=$(median 1 "$r"); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
per_req() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }'; }
printf '# %-18s %9s %8s %8s %9s %9s %8s %8s %8s\n' row 'req/s' 'p50 us' 'p99 us' 'auth us' 'path us' \
    '/ceil' '/noop' '/dr-htp'
for r in "${ROWS[@]}"; do
    cpu=-
    pcpu=-
    [ "${NREQ[$r]}" -gt 0 ] && pcpu=$(per_req "${PTICKS[$r]}" "${NREQ[$r]}")
    # the authorizer alone compares with the do-nothing one alone only
    if [[ $r == *-static ]]; then
        cols="- $(ratio "${RPS[$r]}" "${RPS[noop-static]:-0}") -"
    else
        cols="$(ratio "${RPS[$r]}" "${RPS[ceiling]:-0}") $(ratio "${RPS[$r]}" "${RPS[noop]:-0}") $(ratio "${RPS[$r]}" "${RPS[dr-htpasswd]:-0}")"
    fi
    if [ -n "${APID[$r]:-}" ] && [ "${NREQ[$r]}" -gt 0 ]; then
        cpu=$(per_req "${TICKS[$r]}" "${NREQ[$r]}")
    fi
    # shellcheck disable=SC2086  # cols: three words
    printf '# %-18s %9.0f %8s %8s %9s %9s %8s %8s %8s\n' "$r" "${RPS[$r]}" "$(median 2 "$r")" "$(median 3 "$r")" \
        "$cpu" "$pcpu" $cols
done
echo "# auth us: CPU (utime+stime, all processes of the authorizer) per request over all rounds;"
echo "# path us: the same for everything the request goes through (lighttpd, authorizer, registry):"
echo "# less sensitive to the machine's other load than requests/s. *-static rows: /noop is"
echo "# against noop-static"
# the scale rows against their smallest sibling: requests/s and CPU per request
for pair in og-pat1k-static:og-pat10-static og-pat10k-static:og-pat10-static og-keys1m-static:og-keys1k-static; do
    a=${pair%%:*}; b=${pair#*:}
    if [ -z "${RPS[$a]:-}" ] || [ -z "${RPS[$b]:-}" ]; then continue; fi
    echo "# $a / $b: requests/s $(ratio "${RPS[$a]}" "${RPS[$b]}"), auth CPU per request" \
        "$(ratio "$(per_req "${TICKS[$a]}" "${NREQ[$a]}")" "$(per_req "${TICKS[$b]}" "${NREQ[$b]}")")"
done
echo "# RSS KiB (master workers...), before the first round -> after the last:"
for a in "${AUTHZ[@]}"; do
    printf '#   %-10s %s -> %s\n' "${a%%=*}" "${RSS0[${a%%=*}]}" "${RSS1[${a%%=*}]}"
done
done_testing
