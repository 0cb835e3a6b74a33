#!/usr/bin/env bash
# check_redis_url.sh - `ocigate check` and `ocigate serve` judge redis.url by
# one rule (responder/store/redis.c), and neither ever shows a password: a URL
# serve refuses (redis://PASSWORD@host, a bad port, a bad escape) makes
# check exit 2 naming redis.url; a valid URL with a password is shown
# without it. Needs only the ocigate binary (no servers), so it runs in
# every `make check`.
#
# TAP on stdout; its temp dir is removed on any exit.

. "$(dirname "$0")/lib.sh"
e2e_init --no-gate

plan 13

PW=redis-url-pw-$RANDOM$RANDOM
secret "$PW"
conf() { # FILE URL
    printf '{"redis": {"url": "%s"}, "accessControl": {}}\n' "$2" > "$1"
}

# check FILE: exit status; output (stdout and stderr) in $T/check.out and,
# for the secrets check at the end, appended to $T/check.log
check() {
    local rc
    "$OCIGATE_BIN" check -c "$1" > "$T/check.out" 2>&1
    rc=$?
    cat "$T/check.out" >> "$T/check.log"
    echo "$rc"
}

# refused: the password without ':' (serve always refused it), a bad port, a bad escape
n=0
for url in "redis://$PW@127.0.0.1:6379/0" "redis://:$PW@127.0.0.1:99999/0" \
           "redis://user:$PW%zz@127.0.0.1:6379/0"; do
    n=$((n + 1))
    conf "$T/bad$n.json" "$url"
    is "$(check "$T/bad$n.json")" 2 "check refuses bad redis.url #$n (exit 2)"
    like "$(cat "$T/check.out")" 'redis\.url: ' "... naming redis.url"
    unlike "$(cat "$T/check.out")" "$PW" "... without showing the password"
done

# serve refuses the same URL, also without showing it
timeout 10 "$OCIGATE_BIN" serve -c "$T/bad1.json" --listen "unix:$T/s.sock" --workers 1 \
    > "$T/serve.log" 2>&1
is "$?" 2 "serve refuses redis://PASSWORD@host too (exit 2)"
like "$(cat "$T/serve.log")" 'redis\.url: credentials must be written' "... with the same message"

# accepted: the password is never printed, where Redis is is
conf "$T/good.json" "redis://:$PW@127.0.0.1:6390/3"
is "$(check "$T/good.json")" 0 "check accepts redis://:PASSWORD@host:6390/3"
like "$(grep '^redis:' "$T/check.out")" '^redis: 127\.0\.0\.1:6390/3 .*password from redis\.url' \
    "... shows where Redis is and that the URL holds a password, not the password"

done_testing
