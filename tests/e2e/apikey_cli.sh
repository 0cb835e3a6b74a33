#!/bin/bash
# apikey_cli.sh - `ocigate key create|list|show|revoke` against a real
# redis-server: the stored layout (doc/redis.md), that the key itself is stored
# nowhere and never printed again, expiry TTLs, revocation, AUTH + SELECT,
# and a clear error when Redis is down. Its own TAP helpers; lib.sh for secrets.

set -u

if [ "${OCIGATE_E2E:-0}" != 1 ]; then
    echo "1..0 # SKIP set OCIGATE_E2E=1"
    exit 0
fi
BIN=${OCIGATE_BIN:-}

# secret / secret_leaks (the registered-secrets log check) and missing_all
# (a SKIP, or a failure under CI=true or OCIGATE_E2E=1) come from lib.sh;
# this script keeps its own TAP helpers, defined below (they override lib.sh's).
. "$(dirname "$0")/lib.sh"
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    missing_all "no ocigate binary (set OCIGATE_BIN)"
fi
for tool in redis-server redis-cli sha256sum python3; do
    command -v "$tool" >/dev/null 2>&1 || missing_all "$tool not installed"
done

# ---- TAP ----------------------------------------------------------------
n=0
failed=0
ok() { # STATUS NAME
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
check() { # NAME COMMAND...
    local name=$1; shift
    if "$@"; then ok 0 "$name"; else ok 1 "$name"; fi
}
is() { # GOT WANT NAME
    if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; fi
}
contains() { printf '%s' "$1" | grep -Fq -- "$2"; }
lacks() { ! printf '%s' "$1" | grep -Fq -- "$2"; }
no_match() { ! printf '%s\n' "$2" | grep -Eq -- "$1"; }   # ERE TEXT
no_line() { ! printf '%s\n' "$2" | grep -Fqx -- "$1"; }   # LINE TEXT

# ---- setup: a private redis-server with a password ------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/ocigate-apikey.XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
REDIS_PID=
cleanup() {
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
PORT=$(free_port)
DEAD_PORT=$(free_port)
PASS="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$PASS" > "$T/redis.pass"
secret "$PASS" wrong-url-password not-the-password

(cd "$T" && exec redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --requirepass "$PASS" --dir "$T" --logfile "$T/redis.log") &
REDIS_PID=$!
export REDISCLI_AUTH=$PASS
DB=2
rc() { redis-cli -h 127.0.0.1 -p "$PORT" -n "$DB" --no-raw "$@" 2>/dev/null; }
rcraw() { redis-cli -h 127.0.0.1 -p "$PORT" -n "$DB" --raw "$@" 2>/dev/null; }
for _ in $(seq 1 100); do
    [ "$(rcraw PING)" = PONG ] && break
    sleep 0.05
done
[ "$(rcraw PING)" = PONG ] || { echo "Bail out! redis-server did not start"; cat "$T/redis.log"; exit 1; }

# The URL carries a wrong password: passwordFile must win over it.
cat > "$T/ocigate.json" <<EOF
{
  "redis": { "url": "redis://:wrong-url-password@127.0.0.1:$PORT/$DB", "passwordFile": "$T/redis.pass",
             "prefix": "ocigate:", "timeoutMs": 500 },
  "auth": { "apikey": { "enabled": true, "maxLifetimeDays": 36500 } },
  "accessControl": {}
}
EOF
sed 's/"maxLifetimeDays": 36500/"maxLifetimeDays": 30/' "$T/ocigate.json" > "$T/short.json"
cat > "$T/down.json" <<EOF
{
  "redis": { "url": "redis://127.0.0.1:$DEAD_PORT/0", "password": "$PASS", "timeoutMs": 200 },
  "accessControl": {}
}
EOF
cat > "$T/wrongpass.json" <<EOF
{
  "redis": { "url": "redis://:not-the-password@127.0.0.1:$PORT/$DB", "timeoutMs": 500 },
  "accessControl": {}
}
EOF
C=(-c "$T/ocigate.json")
key() { "$BIN" key "$@"; }

# ---- create -----------------------------------------------------------------
out=$(key create "${C[@]}" --user alice --group ci --group dev --repo 'blumeops/**' \
      --label "laptop key" 2>"$T/create.err"); st=$?
is "$st" 0 "create exits 0"
is "$(printf '%s\n' "$out" | wc -l)" 1 "create prints one line on stdout"
check "the line is zak_ + 32 lower-case hex" grep -Eqx 'zak_[0-9a-f]{32}' <<<"$out"
KEY=$out
[ -n "$KEY" ] && secret "$KEY"
SECRET=${KEY#zak_}
SHA=$(printf %s "$SECRET" | sha256sum | cut -d' ' -f1)
ID=$(grep -Eo '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' "$T/create.err" | head -1)
check "stderr names a UUIDv4 id" test -n "$ID"
check "stderr does not repeat the key" lacks "$(cat "$T/create.err")" "$SECRET"

# ---- the Redis layout -------------------------------------------------------
field() { rcraw HGET "ocigate:key:$SHA" "$1"; }
is "$(rcraw TYPE "ocigate:key:$SHA")" hash "key:SHA256 is a hash (sha256 of the 32 hex chars)"
is "$(field id)" "$ID" "hash field id"
is "$(field user)" alice "hash field user"
is "$(field groups)" '["ci","dev"]' "hash field groups (JSON array)"
is "$(field repos)" '["blumeops/**"]' "hash field repos (JSON array)"
is "$(field label)" "laptop key" "hash field label"
check "hash field created is RFC 3339 UTC" grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z' <<<"$(field created)"
check "without --expires: expires after auth.apikey.maxLifetimeDays (36500 here)" \
    grep -Eqx '21[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z' <<<"$(field expires)"
is "$(rcraw HEXISTS "ocigate:key:$SHA" last_used):$(field last_used)" "1:" "hash field last_used empty"
is "$(field origin)" cli "hash field origin: cli (made on the command line)"
is "$(rcraw HLEN "ocigate:key:$SHA")" 9 "hash has exactly the 9 documented fields"
is "$(rcraw GET "ocigate:keyid:$ID")" "$SHA" "keyid:ID holds the hash"
is "$(rcraw SMEMBERS "ocigate:user:alice:keys")" "$ID" "user:alice:keys holds the id"
check "... and Redis drops it then (TTL > 36000 days)" test "$(rcraw TTL "ocigate:key:$SHA")" -gt 3110400000

# Everything Redis holds, names and values: the key is nowhere.
dump_all() {
    local k
    rcraw --scan | while IFS= read -r k; do
        printf '%s\n' "$k"
        case $(rcraw TYPE "$k") in
            hash) rcraw HGETALL "$k" ;;
            string) rcraw GET "$k" ;;
            set) rcraw SMEMBERS "$k" ;;
            *) rcraw DUMP "$k" ;;
        esac
    done
}
dump=$(dump_all)
check "Redis holds the hash" contains "$dump" "$SHA"
check "the key appears nowhere in Redis" lacks "$dump" "$SECRET"
check "the key prefix form appears nowhere in Redis" lacks "$dump" "$KEY"

# ---- more keys: bob, an expiring one --------------------------------------
KEY2=$(key create "${C[@]}" --user bob 2>>"$T/create.err")
[ -n "$KEY2" ] && secret "$KEY2"
check "second key created" grep -Eqx 'zak_[0-9a-f]{32}' <<<"$KEY2"
check "keys differ" test "$KEY" != "$KEY2"
KEY3=$(key create "${C[@]}" --user alice --expires 1h 2>"$T/exp.err")
[ -n "$KEY3" ] && secret "$KEY3"
ID3=$(grep -Eo '[0-9a-f]{8}-[0-9a-f-]{27}' "$T/exp.err" | head -1)
SHA3=$(printf %s "${KEY3#zak_}" | sha256sum | cut -d' ' -f1)
ttl_ok() { [ "$1" -gt 3500 ] && [ "$1" -le 3600 ]; }
check "--expires 1h: TTL on key:" ttl_ok "$(rcraw TTL "ocigate:key:$SHA3")"
check "--expires 1h: TTL on keyid:" ttl_ok "$(rcraw TTL "ocigate:keyid:$ID3")"
check "--expires 1h: expires field set" grep -Eq 'T.*Z$' <<<"$(rcraw HGET "ocigate:key:$SHA3" expires)"
is "$(rcraw TTL "ocigate:user:alice:keys")" -1 "the user's set itself has no TTL"
KEY4=$(key create "${C[@]}" --user carol --expires 2099-01-01T00:00:00Z 2>>"$T/create.err")
[ -n "$KEY4" ] && secret "$KEY4"
SHA4=$(printf %s "${KEY4#zak_}" | sha256sum | cut -d' ' -f1)
is "$(rcraw HGET "ocigate:key:$SHA4" expires)" 2099-01-01T00:00:00Z "--expires RFC 3339 stored"
check "--expires RFC 3339: TTL set" test "$(rcraw TTL "ocigate:key:$SHA4")" -gt 100000

# ---- list ---------------------------------------------------------------------
secrets_re="${SECRET}|${KEY2#zak_}|${KEY3#zak_}|${KEY4#zak_}|${SHA}|${SHA3}|${SHA4}"
table=$(key list "${C[@]}" 2>&1); st=$?
is "$st" 0 "list exits 0"
check "list has a header" grep -Eq '^ID +USER +GROUPS +REPOSITORIES +LABEL +CREATED +EXPIRES +LAST USED' <<<"$table"
check "list shows alice's key with groups and repos" grep -Eq "^$ID +alice +ci,dev +blumeops/\*\* +laptop key" <<<"$table"
is "$(grep -c . <<<"$table")" 5 "list: header + 4 keys"
check "list never prints a key or a hash" no_match "$secrets_re" "$table"
json=$(key list "${C[@]}" --json 2>&1); st=$?
is "$st" 0 "list --json exits 0"
is "$(python3 -c 'import json,sys; a=json.loads(sys.argv[1]); print(len(a), sorted(a[0].keys()))' "$json" 2>&1)" \
   "4 ['created', 'expires', 'groups', 'id', 'label', 'last_used', 'origin', 'repositories', 'user']" \
   "list --json: an array of objects with the documented fields"
is "$(python3 -c 'import json,sys; a=json.loads(sys.argv[1]); k=[o for o in a if o["id"]==sys.argv[2]][0]; print(k["user"], k["groups"], k["repositories"], k["label"], k["expires"][:2])' "$json" "$ID" 2>&1)" \
   "alice ['ci', 'dev'] ['blumeops/**'] laptop key 21" "list --json: alice's key (expires in the 22nd century)"
check "list --json never prints a key or a hash" no_match "$secrets_re" "$json"
ualice=$(key list "${C[@]}" --user alice --json)
is "$(python3 -c 'import json,sys; print(sorted({o["user"] for o in json.loads(sys.argv[1])}), len(json.loads(sys.argv[1])))' "$ualice")" \
   "['alice'] 2" "list --user alice: only alice's two keys"
is "$(key list "${C[@]}" --user nobody --json | tr -d ' \n')" "[]" "list --user with no keys: []"

# ---- show -------------------------------------------------------------------
shown=$(key show "${C[@]}" "$ID" 2>&1); st=$?
is "$st" 0 "show exits 0"
check "show prints the details" grep -q "^user: alice$" <<<"$shown"
check "show prints the repositories" grep -q "^repositories: blumeops/\*\*$" <<<"$shown"
check "show never prints the key or the hash" no_match "$secrets_re" "$shown"
check "show prints the origin" grep -q "^origin: cli$" <<<"$shown"
# a record written before the origin field: still read, shown as legacy
rcraw HDEL "ocigate:key:$SHA" origin >/dev/null
check "a record without origin is shown as origin legacy" grep -q "^origin: legacy$" \
    <<<"$(key show "${C[@]}" "$ID" 2>&1)"
rcraw HSET "ocigate:key:$SHA" origin cli >/dev/null
key show "${C[@]}" 00000000-0000-4000-8000-000000000000 >/dev/null 2>&1
is "$?" 1 "show of an unknown id exits 1"
err=$(key show "${C[@]}" "$KEY" 2>&1); st=$?
is "$st" 2 "show refuses a key in place of an id"
check "... without echoing the key" lacks "$err" "$SECRET"

# ---- revoke -------------------------------------------------------------------
out=$(key revoke "${C[@]}" "$ID" 2>&1); st=$?
is "$st" 0 "revoke exits 0"
is "$(rcraw EXISTS "ocigate:key:$SHA"):$(rcraw EXISTS "ocigate:keyid:$ID")" "0:0" "revoke deletes key: and keyid:"
check "revoke removes the id from user:alice:keys" no_line "$ID" "$(rcraw SMEMBERS ocigate:user:alice:keys)"
check "revoke output has no key or hash" no_match "$secrets_re" "$out"
key revoke "${C[@]}" "$ID" >/dev/null 2>&1
is "$?" 1 "revoking again exits 1"
key show "${C[@]}" "$ID" >/dev/null 2>&1
is "$?" 1 "show of a revoked key exits 1"

# ---- expired ids are dropped from the listing and the set --------------------
KEY5=$(key create "${C[@]}" --user dave --expires 1s 2>"$T/d.err")
[ -n "$KEY5" ] && secret "$KEY5"
ID5=$(grep -Eo '[0-9a-f]{8}-[0-9a-f-]{27}' "$T/d.err" | head -1)
sleep 2.2
is "$(key list "${C[@]}" --user dave --json | tr -d ' \n')" "[]" "an expired key is not listed"
is "$(rcraw SISMEMBER ocigate:user:dave:keys "$ID5")" 0 "... and its id is removed from the user's set"
: "$KEY5"

# ---- bad input: exit 2, nothing stored ------------------------------------------
before=$(rcraw DBSIZE)
key create "${C[@]}" --user alice --expires 2020-01-01T00:00:00Z >/dev/null 2>&1
is "$?" 2 "an expiry in the past is refused (exit 2)"
key create "${C[@]}" --user alice --expires 10x >/dev/null 2>&1
is "$?" 2 "a bad duration is refused (exit 2)"
err=$(key create -c "$T/short.json" --user alice --expires 31d 2>&1 >/dev/null); st=$?
is "$st" 2 "--expires beyond auth.apikey.maxLifetimeDays (30) is refused (exit 2)"
check "... naming maxLifetimeDays" contains "$err" maxLifetimeDays
err=$(key create "${C[@]}" --user alice --repo 'a[' 2>&1 >/dev/null); st=$?
is "$st" 2 "a bad repo glob is refused (exit 2)"
check "... naming the glob" contains "$err" 'a['
key create "${C[@]}" --group ci >/dev/null 2>&1
is "$?" 2 "create without --user exits 2"
is "$(rcraw DBSIZE)" "$before" "refused creates store nothing"
key bogus "${C[@]}" >/dev/null 2>&1
is "$?" 2 "unknown subcommand exits 2"
key show "${C[@]}" >/dev/null 2>&1
is "$?" 2 "show without an id exits 2"
key list -c "$T/missing.json" >/dev/null 2>&1
is "$?" 2 "missing config exits 2"
for sub in create list show revoke; do
    help=$(key "$sub" --help 2>&1); st=$?
    check "key $sub --help" test "$st" = 0 -a -n "$(grep -i usage <<<"$help")"
done

# ---- Redis refusing us, Redis down --------------------------------------------
err=$(key list -c "$T/wrongpass.json" 2>&1); st=$?
is "$st" 1 "wrong Redis password: exit 1"
check "... with an error naming Redis" contains "$err" "Redis"
check "... that does not print the password" lacks "$err" "not-the-password"
out=$(key create -c "$T/down.json" --user alice 2>"$T/down.err"); st=$?
is "$st" 1 "Redis down: create exits 1"
is "$out" "" "Redis down: create prints no key"
check "Redis down: the error names Redis and where" contains "$(cat "$T/down.err")" "Redis at 127.0.0.1:$DEAD_PORT"
check "Redis down: the error does not print the password" lacks "$(cat "$T/down.err")" "$PASS"
for sub in list "show $ID3" "revoke $ID3"; do
    # shellcheck disable=SC2086
    err=$(key $sub -c "$T/down.json" 2>&1); st=$?
    check "Redis down: key ${sub%% *} exits 1 naming Redis" test "$st" = 1 -a -n "$(grep -F 'Redis at' <<<"$err")"
done
kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=
err=$(key list "${C[@]}" 2>&1); st=$?
is "$st" 1 "Redis stopped: list exits 1"
check "Redis stopped: clear error" contains "$err" "Redis at 127.0.0.1:$PORT/$DB is unreachable"
check "Redis stopped: no password in the error" lacks "$err" "$PASS"

# ---- no secret in any log or stderr capture ------------------------------------
# the *.err files hold the stderr of `key create` (id and details, never the
# key) and of the Redis failures; redis.log is redis-server's own log.
leaks=$(secret_leaks); st=$?
ok "$st" "none of the $(sort -u "$T/.secrets" | wc -l | tr -d ' ') registered secrets (keys, Redis passwords) appears in a log or stderr capture"
[ "$st" = 0 ] || printf '%s\n' "$leaks" | sed 's/^/# /'

echo "1..$n"
[ "$failed" = 0 ]
