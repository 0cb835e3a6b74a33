/*
 * tag_claims.h - race-free first pushes of a tag: a claim in Redis (doc/redis.md).
 */
#ifndef OCIGATE_TAG_CLAIMS_H
#define OCIGATE_TAG_CLAIMS_H

#include <stddef.h>

struct og_redis;
struct og_registry;

/* A claim lives for the forward's deadline plus this margin: no timer ends
   it while its write is in flight; it is released as soon as the write ends. */
#define OG_CLAIM_GRACE_S  30
#define OG_CLAIM_VALUE_MAX 320  /* "UNIXTIME NONCE USER" */

/* The TTL (seconds) of a claim whose write may take write_timeout_ms. */
int og_claim_ttl_s(int write_timeout_ms);

enum og_claim_result {
    OG_CLAIM_TAKEN = 0,     /* this request won: it may create the tag */
    OG_CLAIM_HELD,          /* another push holds it: this one is an update */
    OG_CLAIM_UNAVAILABLE,   /* Redis could not answer: 503 */
};

/*
 * Claim REPO:TAG with SET PREFIX tag:REPO:TAG "UNIXTIME NONCE USER" NX EX
 * ttl_s. The value (unique: a random nonce) is written to value (at least
 * OG_CLAIM_VALUE_MAX bytes) for og_claim_release. A held claim is never
 * taken over: it ends when its holder releases it or its TTL passes. who
 * is the identity for operators (never a secret).
 */
enum og_claim_result og_claim_tag(struct og_redis *redis, const char *repo, const char *tag,
                                  const char *who, int ttl_s, char *value, size_t cap);

/* Release REPO:TAG if it still holds value (compare-and-delete in one Lua
   script: never someone else's claim). 0 released or already gone, -1 when
   Redis could not answer (the claim then ends with its TTL). */
int og_claim_release(struct og_redis *redis, const char *repo, const char *tag,
                     const char *value);

/* The Redis key of REPO:TAG's claim (PREFIX tag:REPO:TAG) into out. 0, or -1
   when it does not fit. */
int og_claim_key(struct og_redis *redis, const char *repo, const char *tag, char *out,
                 size_t cap);

#endif
