/*
 * throttle.c - counting credential failures in Redis, across workers and
 * hosts: PREFIX fail:addr:ADDRESS and PREFIX fail:sub:SHA256, each an
 * integer with a TTL (auth.throttle.windowSeconds) set on its first failure. The subject is the
 * Basic username (guessing one account's password from many addresses)
 * or the whole Bearer token (hammering with one bad token); it is hashed so
 * no secret and no username is stored in clear. Anonymous requests and
 * "Basic Og==" never count: they carry no credentials.
 */
#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "decide.h"
#include "redis.h"
#include "request.h"

static const char count_script[] =
    "local a = redis.call('INCR', KEYS[1]) "
    "if a == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "local b = redis.call('INCR', KEYS[2]) "
    "if b == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end "
    "return {a, b, redis.call('TTL', KEYS[1]), redis.call('TTL', KEYS[2])}";

static bool keys_for(struct og_redis *r, const char *remote, const struct og_credentials *cred,
                     char *addr_key, size_t acap, char *sub_key, size_t scap)
{
    unsigned char md[32];
    char hex[65];
    const char *subject = cred->kind == OG_CRED_BASIC ? cred->user : cred->secret;
    size_t len = cred->kind == OG_CRED_BASIC ? strlen(cred->user) : cred->secret_len;

    if (cred->kind == OG_CRED_NONE || !r)
        return false;
    if (EVP_Digest(subject, len, md, NULL, EVP_sha256(), NULL) != 1)
        return false;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(addr_key, acap, "%sfail:addr:%.64s", og_redis_prefix(r),
             remote && *remote ? remote : "-");
    snprintf(sub_key, scap, "%sfail:sub:%s", og_redis_prefix(r), hex);
    return true;
}

static bool over(long count, int limit)
{
    return limit > 0 && count >= limit;
}

bool og_throttle_limited(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after)
{
    char ak[160], sk[160];
    redisReply *rep;
    bool limited = false;

    *retry_after = 0;
    if (!keys_for(r, remote, cred, ak, sizeof(ak), sk, sizeof(sk)) || !og_redis_reachable(r))
        return false;
    rep = og_redis_command(r, "MGET %s %s", ak, sk);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
        long a = rep->element[0]->type == REDIS_REPLY_STRING ? atol(rep->element[0]->str) : 0;
        long b = rep->element[1]->type == REDIS_REPLY_STRING ? atol(rep->element[1]->str) : 0;
        limited = over(a, cfg->throttle_per_address) || over(b, cfg->throttle_per_subject);
    }
    og_redis_reply_free(rep);
    if (limited) {
        rep = og_redis_command(r, "TTL %s", ak);
        *retry_after = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0
                       ? (int)rep->integer : cfg->throttle_window_s;
        og_redis_reply_free(rep);
    }
    return limited;
}

bool og_throttle_failure(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after)
{
    char ak[160], sk[160];
    redisReply *rep;
    bool limited = false;

    *retry_after = 0;
    if (!keys_for(r, remote, cred, ak, sizeof(ak), sk, sizeof(sk)))
        return false;
    if (cfg->throttle_per_address <= 0 && cfg->throttle_per_subject <= 0)
        return false;                     /* throttling switched off: count nothing */
    rep = og_redis_command(r, "EVAL %s 2 %s %s %d", count_script, ak, sk, cfg->throttle_window_s);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 4) {
        long long a = rep->element[0]->integer, b = rep->element[1]->integer;
        long long ta = rep->element[2]->integer, tb = rep->element[3]->integer;
        if (over(a - 1, cfg->throttle_per_address) || over(b - 1, cfg->throttle_per_subject)) {
            limited = true;
            *retry_after = (int)(ta > tb ? ta : tb);
            if (*retry_after <= 0)
                *retry_after = cfg->throttle_window_s;
        }
    }
    og_redis_reply_free(rep);
    return limited;
}
