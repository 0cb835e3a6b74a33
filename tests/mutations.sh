#!/bin/bash
# tests/mutations.sh - do the unit tests catch these regressions? Each
# mutation below breaks one security property on purpose, in a copy of the
# source tree; plain `make check` (no OCIGATE_E2E) must then fail. Prints the
# failing tests of each; exits 1 when a mutation survives (make check passed
# with it) or no longer applies (the code it targets changed: update it).
#
#   tests/mutations.sh            every mutation
#   tests/mutations.sh NAME...    some of them (names below)
#
# Not run by make check: it builds the tree once more (a few minutes on
# two cores). Needs what make check needs (cmocka, redis-server).
set -u

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# name | file | perl substitution (applied with perl -0pi: may span lines)
MUTATIONS=(
  "wrong-password-ok|responder/auth/identity.c|s/(r = og_htpasswd_verify\([^;]*;)/\$1\n    if (r == OG_HT_BAD_PASSWORD) r = OG_HT_OK;/"
  "htpasswd-verify-ok|responder/auth/htpasswd.c|s/res = OG_HT_BAD_PASSWORD;/res = OG_HT_OK;/"
  "revoke-exists-not-del|responder/store/key_records.c|s/del1\[0\] = \"DEL\";/del1[0] = \"EXISTS\";/"
  "claim-without-nx|responder/store/tag_claims.c|s/\"SET %s %s NX EX %d\"/\"SET %s %s EX %d\"/"
  "lost-claim-won|responder/store/tag_claims.c|s/result = reply_is_ok\(r\) \? OG_CLAIM_TAKEN : OG_CLAIM_HELD;/result = reply_is_ok(r) || r->type == REDIS_REPLY_NIL ? OG_CLAIM_TAKEN : OG_CLAIM_HELD;/"
  "release-any-claim|responder/store/tag_claims.c|s/\"if redis.call\('GET', KEYS\[1\]\) == ARGV\[1\] then \"/\"if true then \"/"
  "keep-claims-when-one-is-held|responder/endpoints/manifest_write.c|s/(m->q.lost_claims \|= 1u << i;[^\n]*\n)\s*release_claims\(m\);\n/\$1/"
  "no-registry-retries|responder/facts.c|s/retry <= 3; retry\+\+/retry <= 0; retry++/"
  "redis-reconnect-every-command|responder/store/redis.c|s/#define RETRY_INTERVAL_MS 1000/#define RETRY_INTERVAL_MS 0/"
  "never-throttled|responder/auth/identity.c|s/og_throttle_limited\(ctx->cfg/false \&\& og_throttle_limited(ctx->cfg/"
  "session-tag-ignored|responder/auth/session.c|s/EVP_DecryptFinal_ex\(c, plain \+ \(clen > 0 \? n : 0\), &fin\) != 1\)/(EVP_DecryptFinal_ex(c, plain + (clen > 0 ? n : 0), \&fin), 0))/"
  "csrf-any-token|responder/auth/session.c|s/return CRYPTO_memcmp\(want, tok, OG_SESSION_CSRF_LEN\) == 0;/return true;/"
  "nonce-ignored|responder/auth/oidc_signin.c|s/return \"ID token nonce is not the one this sign-in sent\";/(void)0;/"
  "claim-without-wait|responder/store/tag_claims.c|s/og_redis_wait_replicas\(redis\) != 1/0/"
  "state-ignored|responder/endpoints/login_endpoint.c|s/CRYPTO_memcmp\(got_state, ls.state, RAND_LEN\) != 0\)/0)/"
)

want=("$@")
selected() {
    [ ${#want[@]} -eq 0 ] && return 0
    local w
    for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
    return 1
}

WORK=$(mktemp -d /tmp/og-mutations-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/src"
# the working tree as it is (tracked and new files), without build products
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$SRC" && xargs -0 tar -cf - --) | tar -C "$WORK/src" -xf -
cd "$WORK/src" || exit 2
echo "# building a copy in $WORK"
if ! { autoreconf -fi && mkdir -p _build && cd _build && ../configure -q &&
       make -j2; } >"$WORK/build.log" 2>&1; then
    echo "build failed:"; tail -30 "$WORK/build.log"; exit 2
fi
cd "$WORK/src/_build" || exit 2

failing_tests() {
    # the TAP lines "not ok" of each unit test binary and script that failed
    grep -l '^:test-result: \(FAIL\|ERROR\)' $(find . -name '*.trs') 2>/dev/null |
        while read -r trs; do
            log=${trs%.trs}.log
            grep -h '^not ok' "$log" 2>/dev/null | sed "s|^|    ${trs%.trs}: |"
            grep -q '^not ok' "$log" 2>/dev/null || echo "    ${trs%.trs}: (failed without a TAP line)"
        done
}

echo "# baseline: make check must pass unmutated"
if ! make -j2 check >"$WORK/check.log" 2>&1; then
    echo "baseline make check fails:"; failing_tests; exit 2
fi

rc=0
for m in "${MUTATIONS[@]}"; do
    name=${m%%|*}; rest=${m#*|}; file=${rest%%|*}; subst=${rest#*|}
    selected "$name" || continue
    cp "$SRC/$file" "$WORK/src/$file"
    perl -0pi -e "$subst" "$WORK/src/$file"
    if cmp -s "$SRC/$file" "$WORK/src/$file"; then
        echo "not ok - $name: the mutation no longer applies to $file"
        rc=1
        continue
    fi
    if ! make -j2 >"$WORK/build-$name.log" 2>&1; then
        echo "not ok - $name: the mutated tree does not build (see the mutation)"
        rc=1
    elif make -j2 check >"$WORK/check-$name.log" 2>&1; then
        echo "not ok - $name: SURVIVED (make check passed with it)"
        rc=1
    else
        echo "ok - $name: make check fails"
        failing_tests
    fi
    cp "$SRC/$file" "$WORK/src/$file"          # restore (a newer mtime: rebuilt next time)
done
exit $rc
