/*
 * test_rng.h - the small deterministic random source of the differential
 * tests (xorshift64): the same seed gives the same cases; OCIGATE_TEST_SEED
 * picks another run.
 */
#ifndef OCIGATE_TEST_RNG_H
#define OCIGATE_TEST_RNG_H

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state;

/* A number in [0, n) (0 when n is 0). */
static inline uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

/* Start from OCIGATE_TEST_SEED, else from the test's own default. */
static inline void rng_seed(uint64_t dflt)
{
    const char *s = getenv("OCIGATE_TEST_SEED");
    rng_state = s && *s ? strtoull(s, NULL, 10) : dflt;
    if (rng_state == 0)
        rng_state = 1;
}

#endif
