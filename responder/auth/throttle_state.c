/*
 * throttle_state.c - the per-worker view of the credential-failure counters:
 * the limit decision, a fixed table of recently read counts, and the address
 * failures are counted under. See throttle_state.h; throttle.c fills it from
 * Redis.
 */
#include "throttle_state.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static bool live(const struct og_thr_counts *c, int i, long long now_ms)
{
    return c->count[i] > 0 && c->expires_ms[i] > now_ms;
}

static bool reached(const struct og_thr_limits *l, const struct og_thr_counts *c, int i,
                    long long now_ms)
{
    return l->limit[i] > 0 && live(c, i, now_ms) && c->count[i] >= l->limit[i];
}

bool og_thr_limited(const struct og_thr_limits *l, const struct og_thr_counts *c,
                    bool has_subject, long long now_ms, int *retry_after_s)
{
    bool hit[OG_THR_NCOUNTERS] = { false, false, false };
    long long until = 0;

    *retry_after_s = 0;
    hit[OG_THR_ADDRESS] = reached(l, c, OG_THR_ADDRESS, now_ms);
    if (has_subject) {
        hit[OG_THR_SUBJECT_ADDRESS] = reached(l, c, OG_THR_SUBJECT_ADDRESS, now_ms);
        /* failures elsewhere refuse only an address that has failed for this subject */
        if (reached(l, c, OG_THR_SUBJECT, now_ms) && live(c, OG_THR_SUBJECT_ADDRESS, now_ms)) {
            hit[OG_THR_SUBJECT] = true;
            /* refused until either counter goes: the sooner one frees it */
            if (c->expires_ms[OG_THR_SUBJECT_ADDRESS] < c->expires_ms[OG_THR_SUBJECT])
                until = c->expires_ms[OG_THR_SUBJECT_ADDRESS];
            else
                until = c->expires_ms[OG_THR_SUBJECT];
        }
    }
    if (!hit[OG_THR_ADDRESS] && !hit[OG_THR_SUBJECT_ADDRESS] && !hit[OG_THR_SUBJECT])
        return false;
    for (int i = 0; i < OG_THR_SUBJECT; i++)
        if (hit[i] && c->expires_ms[i] > until)
            until = c->expires_ms[i];
    *retry_after_s = (int)((until - now_ms + 999) / 1000);
    if (*retry_after_s < 1)
        *retry_after_s = 1;
    return true;
}

void og_thr_counts_set(struct og_thr_counts *c, int which, long long scard, long long pttl_ms,
                       long long now_ms, int window_s)
{
    if (which < 0 || which >= OG_THR_NCOUNTERS)
        return;
    if (scard <= 0 || pttl_ms == -2 || pttl_ms == 0 || pttl_ms < -2) {
        c->count[which] = 0;
        c->expires_ms[which] = 0;
        return;
    }
    c->count[which] = scard > 0x7fffffffL ? 0x7fffffffL : (long)scard;
    c->expires_ms[which] = now_ms + (pttl_ms > 0 ? pttl_ms : (long long)window_s * 1000);
}

static size_t home(const unsigned char id[32])
{
    return ((size_t)id[0] << 8 | id[1]) % OG_THR_SLOTS;
}

struct og_thr_entry *og_thr_find(struct og_thr_table *t, const unsigned char id[32])
{
    size_t base = home(id);

    for (size_t i = 0; i < OG_THR_PROBE; i++) {
        struct og_thr_entry *e = &t->e[(base + i) % OG_THR_SLOTS];
        if (e->fetched_ms != 0 && memcmp(e->id, id, 32) == 0)
            return e;
    }
    return NULL;
}

struct og_thr_entry *og_thr_slot(struct og_thr_table *t, const unsigned char id[32])
{
    size_t base = home(id);
    struct og_thr_entry *victim = NULL, *e = og_thr_find(t, id);

    if (e)
        return e;
    for (size_t i = 0; i < OG_THR_PROBE; i++) {
        e = &t->e[(base + i) % OG_THR_SLOTS];
        if (e->fetched_ms == 0) {
            victim = e;
            break;
        }
        if (!victim || e->fetched_ms < victim->fetched_ms)
            victim = e;
    }
    memset(victim, 0, sizeof(*victim));
    memcpy(victim->id, id, 32);
    return victim;
}

bool og_thr_fresh(const struct og_thr_entry *e, long long now_ms)
{
    return e && e->fetched_ms != 0 && now_ms - e->fetched_ms < OG_THR_REFRESH_MS &&
           now_ms >= e->fetched_ms;
}

void og_thr_address(const char *remote, char *out, size_t cap)
{
    unsigned char a[16];
    char buf[INET6_ADDRSTRLEN];
    static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (!remote || !*remote) {
        snprintf(out, cap, "-");
        return;
    }
    if (strchr(remote, ':') && strlen(remote) < INET6_ADDRSTRLEN &&
        inet_pton(AF_INET6, remote, a) == 1) {
        if (memcmp(a, v4mapped, 12) == 0) {
            if (inet_ntop(AF_INET, a + 12, buf, sizeof(buf))) {
                snprintf(out, cap, "%s", buf);
                return;
            }
        } else {
            memset(a + 8, 0, 8);
            if (inet_ntop(AF_INET6, a, buf, sizeof(buf))) {
                snprintf(out, cap, "%s/64", buf);
                return;
            }
        }
    }
    snprintf(out, cap, "%.64s", remote);
}
