/*
 * tag_cmd.c - `ocigate tag claims` and `ocigate tag unclaim REPO:TAG`: list
 * the tag claims held in Redis, and release one (e.g. of a crashed worker).
 * The claims themselves are store/tag_claims.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "commands.h"
#include "decide.h"
#include "redis.h"
#include "tag_claims.h"

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
        og_claim_key(redis, repo, colon + 1, key, sizeof(key));
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
