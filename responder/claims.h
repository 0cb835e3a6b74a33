/*
 * claims.h - race-free first pushes of a tag (SPEC §5): a claim in Redis.
 */
#ifndef OCIGATE_CLAIMS_H
#define OCIGATE_CLAIMS_H

#include <stddef.h>

struct og_redis;
struct og_registry;

#define OG_CLAIM_TTL_S    300   /* a claim outlives any push */
#define OG_CLAIM_STALE_S  30    /* a claim whose tag still does not exist after this is stale */

enum og_claim_result {
    OG_CLAIM_TAKEN = 0,     /* this request won: it may create the tag */
    OG_CLAIM_HELD,          /* another push holds it: this one is an update */
    OG_CLAIM_UNAVAILABLE,   /* Redis (or the registry, for a stale check) could not answer: 503 */
};

/*
 * Claim REPO:TAG with SET PREFIX tag:REPO:TAG "UNIXTIME USER" NX EX 300.
 * A held claim older than OG_CLAIM_STALE_S whose tag the registry still
 * does not have is taken over (atomically: only if it is still the same
 * claim). who is the identity for operators (never a secret).
 */
enum og_claim_result og_claim_tag(struct og_redis *redis, struct og_registry *registry,
                                  const char *repo, const char *tag, const char *who);

/* `ocigate tag unclaim REPO:TAG`, `ocigate tag claims`: operator commands. */
int og_cmd_tag(int argc, char **argv);

#endif
