/*
 * clock.h - the monotonic clock: now, time since a start, time until a
 * deadline. Never the wall clock (it jumps); for timeouts and latencies.
 */
#ifndef OCIGATE_CLOCK_H
#define OCIGATE_CLOCK_H

#include <time.h>

/* The monotonic clock now. */
void og_mono_now(struct timespec *t);

/* The monotonic clock in milliseconds. */
long long og_mono_ms(void);

/* Microseconds from t0 to now. */
long og_us_since(const struct timespec *t0);

/* Milliseconds from t0 to now (negative if t0 is in the future). */
long og_ms_since(const struct timespec *t0);

/* Milliseconds from now until t, 0 when t has passed. */
long og_ms_until(const struct timespec *t);

/* t = now + ms (ms >= 0). */
void og_deadline_in(struct timespec *t, int ms);

#endif
