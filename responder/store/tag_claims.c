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
 * Also the operator commands: `ocigate tag claims` and `ocigate tag unclaim`.
 */
#include "tag_claims.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "commands.h"
#include "decide.h"
#include "redis.h"

/* Delete the claim only if it is still exactly ours. */
static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) else return 0 end";

static int claim_key(struct og_redis *redis, const char *repo, const char *tag, char *out,
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
        out[n++] = (unsigned char)*who <= 0x20 || (unsigned char)*who == 0x7f ? '?' : *who;
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
    if (!redis || claim_key(redis, repo, tag, key, sizeof(key)) != 0 || ttl_s <= 0)
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
    if (!redis || claim_key(redis, repo, tag, key, sizeof(key)) != 0)
        return -1;
    r = og_redis_command(redis, "EVAL %s 1 %s %s", release_script, key, value);
    rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
    og_redis_reply_free(r);
    return rc;
}

/* ------------------------------------------------------- operator commands */

static void tag_usage(FILE *f)
{
    fprintf(f, "usage: ocigate tag claims  [-c FILE]            list the claims held in Redis\n"
               "       ocigate tag unclaim [-c FILE] REPO:TAG   release a claim (e.g. of a crashed worker)\n");
}

int og_cmd_tag(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *sub;
    struct og_config *cfg = NULL;
    struct og_redis *redis = NULL;
    char err[1024];
    int c, rc = 2;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        tag_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    sub = argv[1];
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'h': tag_usage(stdout); return 0;
        default: tag_usage(stderr); return 2;
        }
    }
    cfg = og_config_load(og_default_config_path(config), err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    redis = og_redis_new(cfg, err, sizeof(err));
    if (!redis) {
        fprintf(stderr, "ocigate tag: %s\n", err);
        goto out;
    }

    if (strcmp(sub, "unclaim") == 0 && argc - 1 - optind == 1) {
        const char *arg = argv[1 + optind], *colon = strrchr(arg, ':');
        char repo[OG_REPO_MAX + 1], key[512];
        redisReply *r;
        if (!colon || (size_t)(colon - arg) > OG_REPO_MAX ||
            !og_valid_repo(arg, (size_t)(colon - arg)) || !og_valid_tag(colon + 1, strlen(colon + 1))) {
            fprintf(stderr, "ocigate tag unclaim: expected REPO:TAG, e.g. team/app:v1.2.0\n");
            goto out;
        }
        memcpy(repo, arg, (size_t)(colon - arg));
        repo[colon - arg] = '\0';
        claim_key(redis, repo, colon + 1, key, sizeof(key));
        r = og_redis_command(redis, "DEL %s", key);
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            fprintf(stderr, "ocigate tag unclaim: Redis at %s could not be asked\n", og_redis_describe(redis));
            og_redis_reply_free(r);
            rc = 1;
            goto out;
        }
        if (r->integer == 1) {
            printf("released claim on %s:%s\n", repo, colon + 1);
            rc = 0;
        } else {
            fprintf(stderr, "no claim on %s:%s\n", repo, colon + 1);
            rc = 1;
        }
        og_redis_reply_free(r);
    } else if (strcmp(sub, "claims") == 0 && argc - 1 - optind == 0) {
        char match[512], cursor[32] = "0";
        snprintf(match, sizeof(match), "%stag:*", og_redis_prefix(redis));
        rc = 0;
        do {
            redisReply *r = og_redis_command(redis, "SCAN %s MATCH %s COUNT 500", cursor, match);
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                fprintf(stderr, "ocigate tag claims: Redis at %s could not be asked\n",
                        og_redis_describe(redis));
                og_redis_reply_free(r);
                rc = 1;
                break;
            }
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str ? r->element[0]->str : "0");
            for (size_t i = 0; i < r->element[1]->elements; i++) {
                const char *k = r->element[1]->element[i]->str;
                redisReply *v = og_redis_command(redis, "GET %s", k);
                redisReply *t = og_redis_command(redis, "TTL %s", k);
                long at = v && v->type == REDIS_REPLY_STRING ? strtol(v->str, NULL, 10) : 0;
                const char *whop = v && v->type == REDIS_REPLY_STRING ? strchr(v->str, ' ') : NULL;
                if (whop && strchr(whop + 1, ' '))      /* skip the nonce */
                    whop = strchr(whop + 1, ' ');
                printf("%s  taken %lds ago by %s  expires in %llds\n",
                       k + strlen(og_redis_prefix(redis)) + 4, at ? (long)(time(NULL) - at) : -1L,
                       whop ? whop + 1 : "?",
                       t && t->type == REDIS_REPLY_INTEGER ? (long long)t->integer : -1LL);
                og_redis_reply_free(v);
                og_redis_reply_free(t);
            }
            og_redis_reply_free(r);
        } while (strcmp(cursor, "0") != 0);
    } else {
        tag_usage(stderr);
    }
out:
    og_redis_free(redis);
    og_config_free(cfg);
    return rc;
}
