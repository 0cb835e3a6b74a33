/*
 * tag_claims.c - tag claims in Redis: of two concurrent first pushes of one tag,
 * exactly one wins, across workers and across ocigate hosts that share one
 * Redis.
 *
 * The registry alone cannot tell: both pushes ask "does v1 exist?" before
 * either has written it, and both hear "no". So a create of a tag by an
 * identity that may not update it is written only by the request that sets
 * PREFIX tag:REPO:TAG first (SET NX EX TTL, with a unique value); everyone
 * after it sees the claim and is treated as an update. ocigate forwards
 * that write itself (manifest_write.c), so it sees the write end: the claim
 * is released (compare-and-delete of its own value) as soon as the write
 * failed or succeeded. Its TTL only cleans up after a crashed worker and
 * outlives the forward's deadline, so no timer ends a claim while its
 * write is in flight, and a held claim is never taken over.
 *
 * With redis.minReplicas > 0 a claim counts only once WAIT says that many
 * replicas hold it; otherwise it is released and the push is refused with
 * 503 (doc/redis.md: what asynchronous replication leaves open).
 *
 * The operator commands `ocigate tag claims|unclaim` are in cli/tag_cmd.c.
 */
#include "tag_claims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "decide.h"
#include "redis.h"
#include "text.h"

/* Delete the claim only if it is still exactly ours. */
static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) else return 0 end";

int og_claim_key(struct og_redis *redis, const char *repo, const char *tag, char *out,
                 size_t cap)
{
    int n = snprintf(out, cap, "%stag:%s:%s", og_redis_prefix(redis), repo, tag);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static bool reply_is_ok(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STATUS && r->str && strcmp(r->str, "OK") == 0;
}

int og_claim_ttl_s(int write_timeout_ms)
{
    return (write_timeout_ms + 999) / 1000 + OG_CLAIM_GRACE_S;
}

/* A printable copy of who: no spaces or control bytes (the value is split on
   spaces by `ocigate tag claims`). */
static void who_token(const char *who, char *out, size_t cap)
{
    size_t n = 0;
    for (; who && *who && n + 1 < cap; who++)
        out[n++] = *who == ' ' || og_is_control((unsigned char)*who) ? '?' : *who;
    if (n == 0 && cap > 1)
        out[n++] = '-';
    out[n] = '\0';
}

enum og_claim_result og_claim_tag(struct og_redis *redis, const char *repo, const char *tag,
                                  const char *who, int ttl_s, char *value, size_t cap)
{
    char key[512], user[257];
    unsigned char nonce[8];
    redisReply *r;
    enum og_claim_result result;
    int n;

    if (cap)
        value[0] = '\0';
    if (!redis || og_claim_key(redis, repo, tag, key, sizeof(key)) != 0 || ttl_s <= 0)
        return OG_CLAIM_UNAVAILABLE;
    if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        return OG_CLAIM_UNAVAILABLE;
    who_token(who, user, sizeof(user));
    n = snprintf(value, cap, "%ld %02x%02x%02x%02x%02x%02x%02x%02x %s", (long)time(NULL),
                 nonce[0], nonce[1], nonce[2], nonce[3], nonce[4], nonce[5], nonce[6], nonce[7],
                 user);
    if (n < 0 || (size_t)n >= cap)
        return OG_CLAIM_UNAVAILABLE;

    r = og_redis_command(redis, "SET %s %s NX EX %d", key, value, ttl_s);
    if (!r || r->type == REDIS_REPLY_ERROR)
        result = OG_CLAIM_UNAVAILABLE;
    else
        result = reply_is_ok(r) ? OG_CLAIM_TAKEN : OG_CLAIM_HELD;   /* nil: held */
    og_redis_reply_free(r);
    /* with redis.minReplicas, a claim counts once that many replicas hold it:
       one only the master holds is lost if the master dies before copying it */
    if (result == OG_CLAIM_TAKEN && og_redis_wait_replicas(redis) != 1) {
        og_claim_release(redis, repo, tag, value);   /* best effort; else its TTL ends it */
        result = OG_CLAIM_UNAVAILABLE;
    }
    if (result != OG_CLAIM_TAKEN)
        value[0] = '\0';
    return result;
}

int og_claim_release(struct og_redis *redis, const char *repo, const char *tag,
                     const char *value)
{
    char key[512];
    redisReply *r;
    int rc;

    if (!value || !*value)
        return 0;                   /* nothing taken */
    if (!redis || og_claim_key(redis, repo, tag, key, sizeof(key)) != 0)
        return -1;
    r = og_redis_command(redis, "EVAL %s 1 %s %s", release_script, key, value);
    rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
    og_redis_reply_free(r);
    return rc;
}
