/*
 * throttle.h - repeated credential failures are throttled, in Redis across
 * workers and hosts, without letting an attacker lock a user out.
 */
#ifndef OCIGATE_THROTTLE_H
#define OCIGATE_THROTTLE_H

#include <stdbool.h>

struct og_config;
struct og_redis;
struct og_credentials;

/*
 * Limits come from auth.throttle, counting distinct failing credentials per
 * window (windowSeconds, default 60): perAddress (default 30) from one client
 * address, perSubject (default 10) for one username from one address, and
 * perSubjectTotal (default 100) for one username from all addresses, which
 * refuses only addresses that have failed for that username. 0 switches a
 * limit off.
 */

/* Draw the key that makes failing credentials countable without storing
   them: called by the master before it forks its workers, so that all of
   them count one repeated credential once. */
void og_throttle_init(void);

/*
 * Is this request refused before its credential is looked at? Decided from
 * the username and the client address only (never the secret), so a right
 * and a wrong password get the same answer in the same time. The counts are
 * kept per worker and read again from Redis at most once a second per
 * (username, address); a worker that has not read them yet connects to Redis
 * first. Redis unreachable and nothing known: not limited (throttling never
 * blocks a login because Redis is down).
 */
bool og_throttle_limited(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after);

/* Count one refused credential (a keyed hash of it; counted once however
   often it is repeated). */
void og_throttle_failure(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred);

#endif
