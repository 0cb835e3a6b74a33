#!/usr/bin/env bash
# explain_seed.sh - the seed's zot accessControl block, pasted as it is
# (deploy/examples/seed.json), through "ocigate check" and "ocigate explain":
# anyone pulls, the artifact-workloads group (CI) pushes new tags but never
# overwrites one, admins (adminPolicy) do everything but overwrite a version
# tag (immutableTags v*), and "metrics": {"users": [""]} lets anonymous
# clients scrape. Needs only the binary (no servers), so it runs without
# OCIGATE_E2E.
#
# On the main branch before this test "ocigate check" refused the file with
# "accessControl.metrics.users[0]: must not be empty" (and serve would not
# start): the first checks below fail there.

. "$(dirname "$0")/lib.sh"
e2e_init --no-gate jq htpasswd

SEED=$DEPLOY/examples/seed.json
R=/v2/ci/app
DIGEST=sha256:$(printf 'ocigate' | sha256sum | cut -d' ' -f1)

# the seed with an htpasswd file that exists (check opens it)
make_htpasswd "$T/htpasswd" admin ci
jq --arg htp "$T/htpasswd" '.auth.htpasswd.path = $htp' "$SEED" > "$T/seed.json" \
    || bail "jq failed on seed.json"
CONF=$T/seed.json

# --------------------------------------------------------------- check ------

OUT=$(timeout 10 "$OCIGATE_BIN" check -c "$CONF" 2> "$T/check.err"); RC=$?
is "$RC" 0 "check accepts the seed's config as pasted (metrics users [\"\"])"
is "$(cat "$T/check.err")" "" "... with nothing on stderr"
like "$OUT" '^metrics: users \[""\] anonymousPolicy \[\] \(anonymous clients may scrape\)$' \
    "check says anonymous clients may scrape"
like "$OUT" '^automaticMount: false ' "check shows registry.automaticMount false"
like "$OUT" '^  "\*\*": defaultPolicy \[\] anonymousPolicy \[read\]$' "check shows anonymous read on **"
like "$OUT" 'policies\[0\]: users \[\] groups \["artifact-workloads"\] actions \[read, create\]' \
    "check shows artifact-workloads read+create"
like "$OUT" '^adminPolicy: users \[\] groups \["admins"\] actions \[read, create, update, delete\]$' \
    "check shows admins with every action"
like "$OUT" 'immutableTags\[0\] \(\*\* : v\*\)' "check shows the version tags immutable"

# the same block with metrics users [""] and a group listing "" (zot accepts
# both; the group then names no one, and check says so)
jq '.accessControl.groups.everyone = {users: [""]}' "$CONF" > "$T/group.json"
OUT=$(timeout 10 "$OCIGATE_BIN" check -c "$T/group.json" 2> "$T/check.err"); RC=$?
is "$RC" 0 "check accepts \"\" in a group's users, as zot does"
like "$OUT" 'everyone: users \[""\] \(.*no effect\)' "... and says it has no effect"

# an empty group name stays refused
jq '.accessControl.adminPolicy.groups = [""]' "$CONF" > "$T/badgroup.json"
timeout 10 "$OCIGATE_BIN" check -c "$T/badgroup.json" > /dev/null 2> "$T/check.err"; RC=$?
is "$RC" 2 "an empty group name in adminPolicy.groups is still refused"
like "$(cat "$T/check.err")" 'accessControl.adminPolicy.groups\[0\]: must not be empty' \
    "... naming its path"

# ------------------------------------------------------------- explain ------

explain() {
    OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$CONF" "$@" 2> "$T/explain.err")
    RC=$?
    FIRST=$(printf '%s\n' "$OUT" | head -n 1)
}
field() {
    printf '%s\n' "$OUT" | sed -n "s/^$1: \{0,1\}//p" | head -n 1
}
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

# anonymous read on **
explain GET $R/manifests/latest
decision "anonymous pull" allow 0 action=read 'rule=**' 'reason=anonymousPolicy grants read'
explain GET /v2/_catalog
decision "anonymous catalog" allow 0
explain PUT $R/manifests/0123abc
decision "anonymous push" "deny 401" 1 action=create
explain POST $R/blobs/uploads/
decision "anonymous upload" "deny 401" 1

# artifact-workloads: read + create, never update or delete
explain --user ci PUT $R/manifests/0123abc
decision "ci pushes a new commit-SHA tag" allow 0 action=create 'rule=**' \
    'reason=group policy grants create'
explain --user ci --existing-tag 0123abc PUT $R/manifests/0123abc
decision "ci overwrites a commit-SHA tag" "deny 403" 1 action=update
explain --user ci PUT $R/manifests/v1.0.0
decision "ci pushes a new version tag" allow 0 action=create
explain --user ci --existing-tag v1.0.0 PUT $R/manifests/v1.0.0
decision "ci pushes a duplicate version tag" "deny 403" 1 action=update
explain --user ci DELETE "$R/manifests/$DIGEST"
decision "ci deletes" "deny 403" 1 action=delete
explain --user ci GET $R/manifests/latest
decision "ci pulls" allow 0 'reason=group policy grants read'
explain --user robot --group artifact-workloads PUT $R/manifests/0123abd
decision "a credential's own artifact-workloads group pushes" allow 0 action=create

# admins: everything through adminPolicy, but a version tag stays as it is
explain --user admin --existing-tag latest PUT $R/manifests/latest
decision "admin overwrites latest" allow 0 action=update rule=adminPolicy
explain --user admin --existing-tag v1.0.0 PUT $R/manifests/v1.0.0
decision "admin overwrites a version tag" "deny 403" 1 action=update 'rule=immutableTags[0] (** : v*)'
explain --user admin DELETE $R/manifests/latest
decision "admin deletes a tag" allow 0 action=delete rule=adminPolicy
explain --user admin POST $R/blobs/uploads/
decision "admin uploads" allow 0 action=create rule=adminPolicy
explain --user admin GET /v2/_catalog
decision "admin lists the catalog" allow 0

# zot's rule, kept: anonymousPolicy is for anonymous clients only, and the
# seed has no defaultPolicy, so a signed-in user in no group gets nothing
explain --user someone GET $R/manifests/latest
decision "a signed-in user in no group" "deny 403" 1 action=read

# metrics: "users": [""] is the anonymous identity
explain GET /metrics
decision "anonymous scrape of /metrics" allow 0 rule=metrics \
    'reason=metrics.users lists "" (anonymous)'
explain GET /ocigate/metrics
decision "anonymous scrape of endpoints.metrics" allow 0 rule=metrics
explain --user prometheus GET /ocigate/metrics
decision "a signed-in scraper not listed" "deny 403" 1 rule=metrics
explain --user admin GET /ocigate/metrics
decision "the admin, not listed" "deny 403" 1 rule=metrics

# without "" in metrics.users, anonymous scraping is refused
jq '.accessControl.metrics = {users: ["prometheus"]}' "$CONF" > "$T/nometrics.json"
OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$T/nometrics.json" GET /ocigate/metrics 2> "$T/explain.err"); RC=$?
FIRST=$(printf '%s\n' "$OUT" | head -n 1)
decision "metrics users [\"prometheus\"]: anonymous scrape" "deny 401" 1 rule=metrics
OUT=$(timeout 10 "$OCIGATE_BIN" explain -c "$T/nometrics.json" --user prometheus GET /ocigate/metrics \
      2> "$T/explain.err"); RC=$?
FIRST=$(printf '%s\n' "$OUT" | head -n 1)
decision "metrics users [\"prometheus\"]: prometheus scrapes" allow 0 rule=metrics

# mounts (registry.automaticMount false: the registry is distribution)
explain --user ci POST "$R/blobs/uploads/?mount=$DIGEST"
decision "ci mount without from: a plain upload" allow 0 action=create
explain --user ci POST "$R/blobs/uploads/?mount=$DIGEST&from=library/base"
decision "ci mount with from" allow 0 action=create
explain POST "$R/blobs/uploads/?mount=$DIGEST"
decision "anonymous mount without from" "deny 401" 1 action=create

# a read of an invalid manifest reference: nothing can exist there
explain GET $R/manifests/.INVALID_MANIFEST_NAME
decision "GET of an invalid manifest reference" "deny 404" 1 rule=route
explain --user admin PUT $R/manifests/.INVALID_MANIFEST_NAME
decision "PUT of an invalid manifest reference" "deny 400" 1 rule=route

done_testing
