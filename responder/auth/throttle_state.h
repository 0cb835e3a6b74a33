/*
 * throttle_state.h - what one worker knows of the credential-failure counters:
 * the decision (limited or not, and for how long), a bounded table of recent
 * counts so that a request needs no Redis round trip when the counts were read
 * less than a second ago, and the client address a counter is kept for. Pure:
 * no Redis, no I/O, no allocation; throttle.c does the talking to Redis.
 */
#ifndef OCIGATE_THROTTLE_STATE_H
#define OCIGATE_THROTTLE_STATE_H

#include <stdbool.h>
#include <stddef.h>

/* The counters, each a number of distinct failing credentials in a window. */
enum og_thr_counter {
    OG_THR_ADDRESS = 0,       /* from one client address, any username */
    OG_THR_SUBJECT_ADDRESS,   /* for one username from one client address */
    OG_THR_SUBJECT,           /* for one username from all addresses together */
    OG_THR_NCOUNTERS
};

/* auth.throttle: perAddress, perSubject, perSubjectTotal; 0 = no limit. */
struct og_thr_limits {
    int limit[OG_THR_NCOUNTERS];
};

struct og_thr_counts {
    long count[OG_THR_NCOUNTERS];
    long long expires_ms[OG_THR_NCOUNTERS];   /* monotonic ms when it goes; 0: no counter */
};

/*
 * Is a request limited? Past perAddress from its address, past perSubject
 * for its username from its address, or past perSubjectTotal for its username
 * while its address has failed for that username at least once (an address
 * that has not failed for a username is never refused because of failures
 * elsewhere). has_subject: the request names a username (Basic). Expired
 * counters count 0. *retry_after_s: seconds until the refusing counters go
 * (at least 1), 0 when not limited.
 */
bool og_thr_limited(const struct og_thr_limits *l, const struct og_thr_counts *c,
                    bool has_subject, long long now_ms, int *retry_after_s);

/* Counts read from Redis (SCARD and PTTL of each counter) as counts. pttl_ms:
   -2 (no such key) counts 0; -1 (no TTL, which ocigate never leaves) lasts
   window_s from now. */
void og_thr_counts_set(struct og_thr_counts *c, int which, long long scard, long long pttl_ms,
                       long long now_ms, int window_s);

#define OG_THR_SLOTS      1024
#define OG_THR_PROBE      8
#define OG_THR_REFRESH_MS 1000

struct og_thr_entry {
    unsigned char id[32];     /* SHA-256 of (username, address) */
    long long fetched_ms;     /* when the counts were read; 0: free slot */
    struct og_thr_counts c;
};

struct og_thr_table {
    struct og_thr_entry e[OG_THR_SLOTS];
};

/* The entry for id, or NULL. */
struct og_thr_entry *og_thr_find(struct og_thr_table *t, const unsigned char id[32]);

/* The entry to store id's counts in: its own, else a free or the oldest slot
   of its probe window (cleared, with id set). */
struct og_thr_entry *og_thr_slot(struct og_thr_table *t, const unsigned char id[32]);

/* Were the entry's counts read less than OG_THR_REFRESH_MS ago? */
bool og_thr_fresh(const struct og_thr_entry *e, long long now_ms);

/*
 * The address a client's failures are counted under: an IPv4 address as is,
 * an IPv4-mapped IPv6 address as its IPv4 address, any other IPv6 address as
 * its /64 network ("2001:db8:1:2::/64": one host usually has a whole /64), and
 * anything else (a unix socket, an empty REMOTE_ADDR) as at most 64 bytes of
 * it, or "-" when empty. out has room for cap bytes (at least 72).
 */
void og_thr_address(const char *remote, char *out, size_t cap);

#endif
