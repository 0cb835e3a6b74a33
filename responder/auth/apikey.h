/*
 * apikey.h - API key lookup: a presented key -> an identity,
 * through a bounded per-worker cache (positive entries apikey.cacheSeconds,
 * negative 5 s) in front of Redis. The records and their management are
 * key_records.h (included here).
 */
#ifndef OCIGATE_APIKEY_H
#define OCIGATE_APIKEY_H

#include <stddef.h>

#include "identity.h"
#include "key_records.h"

struct og_redis;
struct redisReply;

struct og_apikeys;   /* per worker: cache + the worker's Redis connection */

struct og_apikeys *og_apikeys_new(const struct og_config *cfg, struct og_redis *redis);
void og_apikeys_free(struct og_apikeys *k);

/*
 * Check an API key presented as a Basic password (basic_user = the Basic
 * username, which must equal the key's user) or as a Bearer token
 * (basic_user NULL). On OG_ID_OK, id points into the cache entry, valid
 * until the next call. Unknown, expired, revoked or wrong-user: BAD
 * (reason set). Redis unreachable and no fresh cache entry: UNAVAILABLE.
 */
enum og_identify_result og_apikey_identify(struct og_apikeys *k, const char *basic_user,
                                           const char *key, size_t key_len,
                                           struct og_identity *id,
                                           struct og_identity_store *store,
                                           const char **reason, int *cache_hit);

/* ---- for tests ---- */

/* Put a key's HGETALL reply in the cache as if it came from Redis: 1 positive, 0 negative,
   -1 malformed key. */
int og_apikeys_cache_fill(struct og_apikeys *k, const char *key, size_t len,
                          const struct redisReply *rep);
/* Move the cache's clocks (monotonic and wall) forward. */
void og_apikeys_advance_clock(struct og_apikeys *k, long seconds);

#endif
