#!/usr/bin/env bash
# apikey_scale.sh - is an API key lookup flat in the number of keys? Measures,
# never passes or fails. Starts a private redis-server on a unix socket,
# creates one key with `ocigate key create`, then times its lookup
# (tests/bench/auth_bench apikey: one HGETALL by the key's hash, the worker's
# cache off) with 1,000 and then 1,000,000 key records in Redis (copies of
# the real record under other hashes, written by a Lua loop in batches).
# Usage: OCIGATE_BIN=... AUTH_BENCH=... tests/bench/apikey_scale.sh
set -eu
BIN=${OCIGATE_BIN:-./ocigate}
BENCH=${AUTH_BENCH:-./tests/bench/auth_bench}
[ -x "$BIN" ] && [ -x "$BENCH" ] || { echo "build ocigate and tests/bench/auth_bench first" >&2; exit 2; }
D=$(mktemp -d "${TMPDIR:-/tmp}/og-apikey-scale.XXXXXX")
redis-server --port 0 --unixsocket "$D/r.sock" --save '' --appendonly no --dir "$D" \
    --daemonize no > "$D/redis.log" 2>&1 &
RPID=$!
trap 'kill $RPID 2>/dev/null; wait $RPID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 50); do [ -S "$D/r.sock" ] && break; sleep 0.1; done
cat > "$D/ocigate.json" <<J
{ "redis": { "url": "unix://$D/r.sock" },
  "auth": { "apikey": { "enabled": true, "cacheSeconds": 0 } }, "accessControl": {} }
J
KEY=$("$BIN" key create -c "$D/ocigate.json" --user ci --repo '**' 2>/dev/null | head -1)
R() { redis-cli -s "$D/r.sock" "$@"; }
SRC=$(R --scan --pattern 'ocigate:key:*' | head -1)
fill() { # FROM TO: records FROM..TO, copies of SRC
    R EVAL "local f = redis.call('HGETALL', KEYS[1])
            for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
              redis.call('HSET', 'ocigate:key:' .. redis.sha1hex(tostring(i)) ..
                         redis.sha1hex('pad'):sub(1, 24), unpack(f))
            end return 1" 1 "$SRC" "$1" "$2" > /dev/null
}
measure() {
    echo "== $(R DBSIZE) keys in Redis ($(R INFO memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r'))"
    for _ in 1 2 3; do "$BENCH" apikey "$D/ocigate.json" "$KEY"; done
}
fill 1 999
measure
for s in $(seq 1000 100000 999999); do
    e=$((s + 99999)); [ "$e" -gt 999999 ] && e=999999
    fill "$s" "$e"
done
measure
