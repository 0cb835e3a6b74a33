/*
 * throttle.h - repeated credential failures are throttled (SPEC §6).
 */
#ifndef OCIGATE_THROTTLE_H
#define OCIGATE_THROTTLE_H

#include <stdbool.h>

struct og_config;
struct og_redis;
struct og_credentials;

/* Limits come from auth.throttle: perAddress (default 30 failures per client
   address), perSubject (default 10 per username or token), windowSeconds
   (default 60); a limit of 0 switches that counter's limit off. */

/* Is this client address or credential subject past its limit? Checked
   before a fresh (uncached) verification is trusted, so a correct guess
   during the window earns a 429 like a wrong one. Redis unreachable: not
   limited (throttling never blocks a login because Redis is down). */
bool og_throttle_limited(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after);

/* Count one failure; true when this one went past a limit. */
bool og_throttle_failure(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after);

#endif
