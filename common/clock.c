/*
 * clock.c - the monotonic clock of clock.h (clock_gettime CLOCK_MONOTONIC).
 */
#include "clock.h"

void og_mono_now(struct timespec *t)
{
    clock_gettime(CLOCK_MONOTONIC, t);
}

long long og_mono_ms(void)
{
    struct timespec ts;
    og_mono_now(&ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long og_us_since(const struct timespec *t0)
{
    struct timespec t1;
    og_mono_now(&t1);
    return (long)((t1.tv_sec - t0->tv_sec) * 1000000L + (t1.tv_nsec - t0->tv_nsec) / 1000L);
}

long og_ms_since(const struct timespec *t0)
{
    struct timespec t1;
    og_mono_now(&t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

long og_ms_until(const struct timespec *t)
{
    struct timespec now;
    long ms;
    og_mono_now(&now);
    ms = (long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms;
}

void og_deadline_in(struct timespec *t, int ms)
{
    og_mono_now(t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}
