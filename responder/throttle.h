/*
 * throttle.h - repeated credential failures are throttled (SPEC §6).
 */
#ifndef OCIGATE_THROTTLE_H
#define OCIGATE_THROTTLE_H

#include <stdbool.h>

struct og_redis;
struct og_credentials;

#define OG_THROTTLE_WINDOW_S     60
#define OG_THROTTLE_PER_ADDRESS  30   /* failures per client address per window */
#define OG_THROTTLE_PER_SUBJECT  10   /* failures per username (Basic) or token (Bearer) */

/* Is this client address or credential subject past its limit? Checked
   before a fresh (uncached) verification is trusted, so a correct guess
   during the window earns a 429 like a wrong one. Redis unreachable: not
   limited (throttling never blocks a login because Redis is down). */
bool og_throttle_limited(struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after);

/* Count one failure; true when this one went past a limit. */
bool og_throttle_failure(struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after);

#endif
