#!/usr/bin/env bash
# explain_three_tier.sh - the three-tier example policy (deploy/examples/
# three-tier.json) through "ocigate explain": anyone pulls, CI
# (artifact-workloads) pushes new tags but never overwrites or deletes,
# admins do everything. Needs only the binary (no servers), so it runs
# without OCIGATE_E2E.
#
# Contract (ocigate(8)): first line "allow" or "deny STATUS", then "key: value"
# lines with at least repository, action, rule, reason; exit 0 allow, 1 deny,
# 2 bad usage or bad config.

. "$(dirname "$0")/lib.sh"
e2e_init --no-gate jq

CONF=$DEPLOY/examples/three-tier.json
R=/v2/library/alpine
DIGEST=sha256:$(printf 'ocigate' | sha256sum | cut -d' ' -f1)

# explain ARGS...: run explain on the shipped config; sets OUT, RC, FIRST.
explain() {
    OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$CONF" "$@" 2> "$T/explain.err")
    RC=$?
    FIRST=$(printf '%s\n' "$OUT" | head -n 1)
}

# field KEY: the value of "KEY: value" in OUT.
field() {
    printf '%s\n' "$OUT" | sed -n "s/^$1: \{0,1\}//p" | head -n 1
}

# decision NAME WANT-FIRST-LINE WANT-RC [KEY=VALUE...]: check the last explain.
decision() {
    local name=$1 want=$2 wantrc=$3 kv k v
    shift 3
    if [ "$FIRST" = "$want" ] && [ "$RC" = "$wantrc" ]; then
        _tap_result 0 "$name: $want"
    else
        _tap_result 1 "$name: $want"
        diag "  got first line '$FIRST', exit $RC; want '$want', exit $wantrc" \
             "$OUT" "$(cat "$T/explain.err")"
    fi
    for kv in "$@"; do
        k=${kv%%=*}
        v=${kv#*=}
        is "$(field "$k")" "$v" "$name: $k is $v"
    done
}

# 1. anonymous pull
explain GET $R/manifests/latest
decision "anonymous GET manifest" allow 0 repository=library/alpine action=read 'rule=**'
for k in repository action rule reason; do
    like "$OUT" "^$k: " "output has a '$k:' line"
done
ok '[ -n "$(field reason)" ]' "reason is not empty"

explain HEAD "$R/blobs/$DIGEST"
decision "anonymous HEAD blob" allow 0 action=read

# 2. anonymous push
explain PUT $R/manifests/v1
decision "anonymous PUT manifest" "deny 401" 1 repository=library/alpine action=create
explain POST $R/blobs/uploads/
decision "anonymous POST blob upload" "deny 401" 1

# 3. CI pushes a new tag
explain --user ci PUT $R/manifests/v2
decision "ci PUT new tag" allow 0 action=create 'rule=**'
explain --user ci POST $R/blobs/uploads/
decision "ci POST blob upload" allow 0

# 4. CI may not overwrite an existing tag
explain --user ci --existing-tag v1 PUT $R/manifests/v1
decision "ci PUT existing tag" "deny 403" 1 action=update repository=library/alpine

# another existing tag does not make v2 an update
explain --user ci --existing-tag v1 PUT $R/manifests/v2
decision "ci PUT new tag next to an existing one" allow 0 action=create

# 5. CI may not delete
explain --user ci DELETE "$R/manifests/$DIGEST"
decision "ci DELETE manifest" "deny 403" 1 action=delete

# 6./7. admins do everything (adminPolicy)
explain --user admin --existing-tag v1 PUT $R/manifests/v1
decision "admin PUT existing tag" allow 0 action=update rule=adminPolicy
explain --user admin DELETE "$R/manifests/$DIGEST"
decision "admin DELETE manifest" allow 0 action=delete rule=adminPolicy

# 8. membership of admins via --group counts like the config's groups
explain --user ci --group admins --existing-tag v1 PUT $R/manifests/v1
decision "ci in group admins PUT existing tag" allow 0 action=update rule=adminPolicy
explain --user ci --group admins DELETE "$R/manifests/$DIGEST"
decision "ci in group admins DELETE" allow 0 action=delete

# an authenticated user in no group: defaultPolicy read only
explain --user someone GET $R/manifests/latest
decision "other user GET" allow 0 action=read
explain --user someone PUT $R/manifests/v9
decision "other user PUT" "deny 403" 1 action=create

# 9./10. bad requests never reach the policy
explain GET /v2/a/../b/manifests/x
decision "dot-dot segment" "deny 400" 1
explain GET /v2/library//alpine/manifests/x
decision "empty segment" "deny 400" 1
explain GET /v2/Library/alpine/manifests/x
decision "upper-case repository" "deny 400" 1
explain GET /v2/library/alpine/manifests/%2e%2e
decision "percent escape" "deny 400" 1
explain BREW /v2/
decision "unknown method" "deny 405" 1

# /v2/ itself: with no credentials at all the answer is the challenge, so
# that clients learn to send credentials (basic mode, doc/http.md)
explain GET /v2/
decision "GET /v2/ without credentials: challenge" "deny 401" 1
explain --user ci GET /v2/
decision "ci GET /v2/" allow 0

# 11. metrics: metrics.anonymousPolicy has read
explain GET /metrics
decision "anonymous GET /metrics" allow 0

# 13. push by digest with ?tag=: every tag is classified
explain --user ci --existing-tag v1 PUT "$R/manifests/$DIGEST?tag=v1"
decision "ci PUT by digest ?tag=v1 (v1 exists)" "deny 403" 1 action=update
explain --user ci PUT "$R/manifests/$DIGEST?tag=v1"
decision "ci PUT by digest ?tag=v1 (new)" allow 0 action=create
explain --user ci --existing-tag v1 PUT "$R/manifests/$DIGEST?tag=v2&tag=v1"
decision "ci PUT by digest ?tag=v2&tag=v1 (v1 exists)" "deny 403" 1
explain --user ci PUT "$R/manifests/$DIGEST"
decision "ci PUT by digest without tag" allow 0 action=create

# 12. bad config, bad usage: exit 2
printf '{ "accessControl": { "repositories": ' > "$T/broken.json"
OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$T/broken.json" GET /v2/ 2> "$T/explain.err"); RC=$?
is "$RC" 2 "truncated JSON config: exit 2"
ok '[ -s "$T/explain.err" ]' "truncated JSON config: an error on stderr"

jq '.accessControl.repositories["**"].defualtPolicy = ["read"]' "$CONF" > "$T/unknown.json"
OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$T/unknown.json" GET /v2/ 2> "$T/explain.err"); RC=$?
is "$RC" 2 "unknown key in config: exit 2"
like "$(cat "$T/explain.err")" 'defualtPolicy' "unknown key: the error names the key"

jq 'del(.accessControl)' "$CONF" > "$T/noacl.json"
OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$T/noacl.json" GET /v2/ 2> "$T/explain.err"); RC=$?
is "$RC" 2 "config without accessControl: exit 2"

OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$T/does-not-exist.json" GET /v2/ 2> "$T/explain.err"); RC=$?
is "$RC" 2 "missing config file: exit 2"

OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$CONF" 2> "$T/explain.err"); RC=$?
is "$RC" 2 "explain without METHOD URI: exit 2"

# the config is also found through $OCIGATE_CONFIG
OUT=$(OCIGATE_CONFIG=$CONF timeout 10 "$OCIGATE_BIN" explain --user ci --existing-tag v1 \
      PUT $R/manifests/v1 2> "$T/explain.err"); RC=$?
is "$(printf '%s\n' "$OUT" | head -n 1) $RC" "deny 403 1" "OCIGATE_CONFIG names the config"

done_testing
