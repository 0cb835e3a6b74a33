/*
 * test_throttle.c - unit tests of the per-worker throttling view
 * (responder/auth/throttle_state.c): the limit decision, in particular that
 * failures for a username elsewhere never refuse an address that has not
 * failed for it; counts read from Redis; the bounded table; and the address
 * failures are counted under.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "throttle_state.h"

#define NOW 1000000LL

static struct og_thr_limits defaults(void)
{
    struct og_thr_limits l = { { 30, 10, 100 } };
    return l;
}

/* counts a (address), s (username from this address), t (username in total),
   each alive for another 30 s */
static struct og_thr_counts counts(long a, long s, long t)
{
    struct og_thr_counts c;
    long v[3] = { a, s, t };

    memset(&c, 0, sizeof(c));
    for (int i = 0; i < 3; i++) {
        c.count[i] = v[i];
        c.expires_ms[i] = v[i] ? NOW + 30000 : 0;
    }
    return c;
}

static bool limited(const struct og_thr_limits *l, struct og_thr_counts c, bool subject, int *ra)
{
    return og_thr_limited(l, &c, subject, NOW, ra);
}

static void below_every_limit_is_not_limited(void **state)
{
    struct og_thr_limits l = defaults();
    int ra = -1;

    (void)state;
    assert_false(limited(&l, counts(0, 0, 0), true, &ra));
    assert_int_equal(ra, 0);
    assert_false(limited(&l, counts(29, 9, 99), true, &ra));
    assert_int_equal(ra, 0);
}

static void per_subject_and_address(void **state)
{
    struct og_thr_limits l = defaults();
    int ra = 0;

    (void)state;
    assert_true(limited(&l, counts(10, 10, 10), true, &ra));
    assert_int_equal(ra, 30);
    /* a Bearer token names no username: only its address counts */
    assert_false(limited(&l, counts(10, 10, 10), false, &ra));
}

static void per_address(void **state)
{
    struct og_thr_limits l = defaults();
    int ra = 0;

    (void)state;
    assert_true(limited(&l, counts(30, 0, 0), true, &ra));
    assert_true(limited(&l, counts(30, 0, 0), false, &ra));
    assert_int_equal(ra, 30);
}

/* The finding: ten wrong passwords for admin from elsewhere locked admin out
   everywhere. Failures for a username from other addresses, however many,
   never refuse an address that has not failed for it. */
static void failures_elsewhere_do_not_lock_the_owner_out(void **state)
{
    struct og_thr_limits l = defaults();
    int ra = 0;

    (void)state;
    assert_false(limited(&l, counts(0, 0, 10), true, &ra));
    assert_false(limited(&l, counts(0, 0, 100), true, &ra));
    assert_false(limited(&l, counts(0, 0, 1000000), true, &ra));
    assert_int_equal(ra, 0);
    /* past perSubjectTotal, an address that failed once for it is refused */
    assert_true(limited(&l, counts(1, 1, 100), true, &ra));
    assert_int_equal(ra, 30);
    assert_false(limited(&l, counts(1, 1, 99), true, &ra));
}

static void total_rule_lasts_until_either_counter_goes(void **state)
{
    struct og_thr_limits l = defaults();
    struct og_thr_counts c = counts(1, 1, 100);
    int ra = 0;

    (void)state;
    c.expires_ms[1] = NOW + 5000;          /* this address's failure goes first */
    assert_true(og_thr_limited(&l, &c, true, NOW, &ra));
    assert_int_equal(ra, 5);
    assert_false(og_thr_limited(&l, &c, true, NOW + 5000, &ra));
}

static void zero_switches_a_limit_off(void **state)
{
    struct og_thr_limits l = { { 0, 0, 0 } };
    int ra = 0;

    (void)state;
    assert_false(limited(&l, counts(1000, 1000, 1000), true, &ra));
    l.limit[1] = 10;
    assert_true(limited(&l, counts(1000, 10, 1000), true, &ra));
}

static void expired_counters_count_nothing(void **state)
{
    struct og_thr_limits l = defaults();
    struct og_thr_counts c = counts(30, 10, 100);
    int ra = 0;

    (void)state;
    assert_true(og_thr_limited(&l, &c, true, NOW, &ra));
    assert_false(og_thr_limited(&l, &c, true, NOW + 30000, &ra));
    assert_int_equal(ra, 0);
    /* the longest of the refusing counters decides Retry-After, rounded up */
    c.expires_ms[0] = NOW + 1500;
    c.expires_ms[1] = NOW + 20200;
    assert_true(og_thr_limited(&l, &c, true, NOW, &ra));
    assert_int_equal(ra, 21);
    c.expires_ms[1] = NOW + 1;
    c.count[2] = 0;
    assert_true(og_thr_limited(&l, &c, true, NOW, &ra));
    assert_int_equal(ra, 2);
}

static void counts_from_redis(void **state)
{
    struct og_thr_counts c;

    (void)state;
    memset(&c, 0, sizeof(c));
    og_thr_counts_set(&c, OG_THR_ADDRESS, 5, 12000, NOW, 60);
    assert_int_equal(c.count[0], 5);
    assert_true(c.expires_ms[0] == NOW + 12000);
    og_thr_counts_set(&c, OG_THR_ADDRESS, 0, -2, NOW, 60);      /* no such key */
    assert_int_equal(c.count[0], 0);
    assert_true(c.expires_ms[0] == 0);
    og_thr_counts_set(&c, OG_THR_SUBJECT, 3, -1, NOW, 60);      /* no TTL: one window */
    assert_int_equal(c.count[2], 3);
    assert_true(c.expires_ms[2] == NOW + 60000);
    og_thr_counts_set(&c, 7, 3, 100, NOW, 60);                  /* out of range: ignored */
}

static void table_is_bounded_and_refreshes_every_second(void **state)
{
    static struct og_thr_table t;
    unsigned char id[32];
    struct og_thr_entry *e;

    (void)state;
    memset(&t, 0, sizeof(t));
    memset(id, 7, sizeof(id));
    assert_null(og_thr_find(&t, id));
    e = og_thr_slot(&t, id);
    assert_non_null(e);
    assert_memory_equal(e->id, id, 32);
    e->fetched_ms = NOW;
    assert_ptr_equal(og_thr_find(&t, id), e);
    assert_ptr_equal(og_thr_slot(&t, id), e);
    assert_true(og_thr_fresh(e, NOW + OG_THR_REFRESH_MS - 1));
    assert_false(og_thr_fresh(e, NOW + OG_THR_REFRESH_MS));
    assert_false(og_thr_fresh(NULL, NOW));
    /* many ids with the same home slot: the oldest of a probe window goes */
    for (int i = 0; i < OG_THR_PROBE; i++) {
        id[31] = (unsigned char)(100 + i);
        e = og_thr_slot(&t, id);
        e->fetched_ms = NOW + 1 + i;
    }
    memset(id, 7, sizeof(id));
    assert_null(og_thr_find(&t, id));       /* evicted: it was the oldest */
    id[31] = 100 + OG_THR_PROBE - 1;
    assert_non_null(og_thr_find(&t, id));
}

static void address(const char *in, const char *want)
{
    char out[80];

    og_thr_address(in, out, sizeof(out));
    assert_string_equal(out, want);
}

static void addresses_counted_under(void **state)
{
    char longer[200], out[80];

    (void)state;
    address("127.0.0.1", "127.0.0.1");
    address("::ffff:10.1.2.3", "10.1.2.3");
    address("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64");
    address("2001:db8:1:2::99", "2001:db8:1:2::/64");
    address("::1", "::/64");
    address("", "-");
    address(NULL, "-");
    address("unix:/run/x", "unix:/run/x");
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    og_thr_address(longer, out, sizeof(out));
    assert_int_equal(strlen(out), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(below_every_limit_is_not_limited),
        cmocka_unit_test(per_subject_and_address),
        cmocka_unit_test(per_address),
        cmocka_unit_test(failures_elsewhere_do_not_lock_the_owner_out),
        cmocka_unit_test(total_rule_lasts_until_either_counter_goes),
        cmocka_unit_test(zero_switches_a_limit_off),
        cmocka_unit_test(expired_counters_count_nothing),
        cmocka_unit_test(counts_from_redis),
        cmocka_unit_test(table_is_bounded_and_refreshes_every_second),
        cmocka_unit_test(addresses_counted_under),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
