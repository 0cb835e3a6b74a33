/*
 * claims.c - tag claims in Redis: of two concurrent first pushes of one tag,
 * exactly one wins (SPEC §5), across workers and across ocigate hosts that
 * share one Redis.
 *
 * The registry alone cannot tell: both pushes ask "does v1 exist?" before
 * either has written it, and both hear "no". So a create of a tag by an
 * identity that may not update it is allowed only to the request that sets
 * PREFIX tag:REPO:TAG first (SET NX EX 300); everyone after it sees the
 * claim and is treated as an update. A push that was allowed but failed at
 * the registry leaves a claim behind; once it is 30 s old and the registry
 * still has no such tag, it is stale and the next push may take it over.
 *
 * Also the operator commands: `ocigate tag claims` and `ocigate tag unclaim`.
 */
#include "claims.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "commands.h"
#include "decide.h"
#include "redis.h"
#include "registry.h"

/* Take over a stale claim only if it is still exactly the one we saw. */
static const char takeover_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) else return false end";

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

enum og_claim_result og_claim_tag(struct og_redis *redis, struct og_registry *registry,
                                  const char *repo, const char *tag, const char *who)
{
    char key[512], value[OG_REPO_MAX + 64], held[OG_REPO_MAX + 64], ttl[16];
    redisReply *r;
    long taken_at;
    time_t now = time(NULL);
    enum og_claim_result result;

    if (!redis || claim_key(redis, repo, tag, key, sizeof(key)) != 0)
        return OG_CLAIM_UNAVAILABLE;
    snprintf(value, sizeof(value), "%ld %.256s", (long)now, who && *who ? who : "-");
    snprintf(ttl, sizeof(ttl), "%d", OG_CLAIM_TTL_S);

    r = og_redis_command(redis, "SET %s %s NX EX %d", key, value, OG_CLAIM_TTL_S);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        og_redis_reply_free(r);
        return OG_CLAIM_UNAVAILABLE;
    }
    if (reply_is_ok(r)) {
        og_redis_reply_free(r);
        return OG_CLAIM_TAKEN;
    }
    og_redis_reply_free(r);

    /* Held. Is it stale: old enough, and the tag still not in the registry? */
    r = og_redis_command(redis, "GET %s", key);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        og_redis_reply_free(r);
        return OG_CLAIM_UNAVAILABLE;
    }
    if (r->type == REDIS_REPLY_NIL) {          /* expired in between: try once more */
        og_redis_reply_free(r);
        r = og_redis_command(redis, "SET %s %s NX EX %d", key, value, OG_CLAIM_TTL_S);
        result = !r || r->type == REDIS_REPLY_ERROR ? OG_CLAIM_UNAVAILABLE
                 : reply_is_ok(r) ? OG_CLAIM_TAKEN : OG_CLAIM_HELD;
        og_redis_reply_free(r);
        return result;
    }
    snprintf(held, sizeof(held), "%.*s", (int)r->len, r->str);
    og_redis_reply_free(r);
    taken_at = strtol(held, NULL, 10);
    if (taken_at <= 0 || now - taken_at < OG_CLAIM_STALE_S)
        return OG_CLAIM_HELD;
    switch (og_registry_tag_exists(registry, repo, tag, NULL)) {
    case OG_REG_EXISTS:
        return OG_CLAIM_HELD;                  /* the claimed push landed */
    case OG_REG_ERROR:
        return OG_CLAIM_UNAVAILABLE;
    case OG_REG_ABSENT:
        break;
    }
    r = og_redis_command(redis, "EVAL %s 1 %s %s %s %s", takeover_script, key, held, value, ttl);
    if (!r || r->type == REDIS_REPLY_ERROR)
        result = OG_CLAIM_UNAVAILABLE;
    else
        result = reply_is_ok(r) ? OG_CLAIM_TAKEN : OG_CLAIM_HELD;
    og_redis_reply_free(r);
    return result;
}

/* ------------------------------------------------------- operator commands */

static void tag_usage(FILE *f)
{
    fprintf(f, "usage: ocigate tag claims  [-c FILE]            list the claims held in Redis\n"
               "       ocigate tag unclaim [-c FILE] REPO:TAG   release a claim (e.g. a stale one)\n");
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
