/*
 * test_throttle_redis.c - throttling of credential failures (responder/
 * throttle.c) as og_identify applies it, against a real, private
 * redis-server (redis_fixture.c) and real htpasswd users: distinct failing
 * credentials are counted, one repeated credential counts once, past a
 * limit even the right password is refused before it is looked at, an
 * address that never failed is not locked out, anonymous requests and right
 * passwords never count, nothing guessable is stored, and Redis down
 * limits nothing. Skips (the whole file) where redis-server is not
 * installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "htpasswd.h"
#include "identity.h"
#include "log.h"
#include "redis.h"
#include "redis_fixture.h"
#include "request.h"
#include "test_users.h"
#include "throttle.h"

static struct og_test_redis server;
static struct og_htpasswd *users;     /* alice: "right-pw" (sha-crypt), bob: "bob-pw" (bcrypt) */

static const char conf_json[] =
    "{\"token\":{\"challenge\":\"basic\"},"
    " \"auth\":{\"throttle\":{\"perAddress\":6,\"perSubject\":3,\"perSubjectTotal\":4,"
    "   \"windowSeconds\":60}},"
    " \"accessControl\":{\"repositories\":{\"**\":{\"anonymousPolicy\":[\"read\"],"
    "   \"defaultPolicy\":[\"read\"]}}}}";

static int group_setup(void **state)
{
    (void)state;
    users = og_test_users_load();
    if (!users)
        return -1;
    og_throttle_init();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    og_htpasswd_free(users);
    og_test_redis_stop(&server);
    return 0;
}

struct world {
    struct og_config *cfg;
    struct og_redis *redis;          /* NULL: no throttling */
    int failed;
};

static struct og_config *config(void)
{
    char err[512];
    struct og_config *cfg = og_config_parse(conf_json, sizeof(conf_json) - 1, "t.json", err,
                                            sizeof(err));
    if (!cfg)
        fail_msg("config: %s", err);
    return cfg;
}

static int setup_plain(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    w->cfg = config();
    *state = w;
    return 0;
}

static int setup_redis(void **state)
{
    struct world *w;
    setup_plain(state);
    w = *state;
    w->redis = og_test_redis_client(&server, w->cfg);
    if (!w->redis)
        return -1;
    og_test_redis_flush(w->redis);
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    og_redis_free(w->redis);
    og_config_free(w->cfg);
    free(w);
    return 0;
}

static void basic(struct og_credentials *c, const char *user, const char *pw, size_t len)
{
    memset(c, 0, sizeof(*c));
    c->kind = OG_CRED_BASIC;
    snprintf(c->user, sizeof(c->user), "%s", user);
    memcpy(c->secret, pw, len);
    c->secret_len = len;
}

/* og_identify for user:pw from remote; id and store out. */
static enum og_identify_result login(struct world *w, const char *remote, const char *user,
                                     const char *pw, size_t len, struct og_identity *id,
                                     struct og_identity_store *st, const char **reason)
{
    struct og_identify_ctx ctx = { w->cfg, users, NULL, NULL, NULL, w->redis, remote,
                                   &w->failed };
    struct og_credentials c;
    enum og_identify_result r;
    int hit;

    basic(&c, user, pw, len);
    w->failed = 0;
    memset(st, 0, sizeof(*st));
    r = og_identify(&ctx, &c, id, st, reason, &hit);
    og_credentials_wipe(&c);
    return r;
}

#define LOGIN(w, remote, user, pw) login((w), (remote), (user), (pw), strlen(pw), &id, &st, &reason)

/* ---- throttling against Redis -------------------------------------------- */

static long long scard(struct og_redis *r, const char *key)
{
    redisReply *rep = og_redis_command(r, "SCARD %s", key);
    long long n;
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    n = rep->integer;
    og_redis_reply_free(rep);
    return n;
}

/* Every key and every member in Redis, one per line. */
static void dump(struct og_redis *r, char *out, size_t cap)
{
    redisReply *keys = og_redis_command(r, "KEYS *");
    size_t len = 0;

    out[0] = '\0';
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *m = og_redis_command(r, "SMEMBERS %s", keys->element[i]->str);
        len += (size_t)snprintf(out + len, cap - len, "%s\n", keys->element[i]->str);
        for (size_t j = 0; m && m->type == REDIS_REPLY_ARRAY && j < m->elements && len < cap; j++)
            len += (size_t)snprintf(out + len, cap - len, "  %s\n", m->element[j]->str);
        og_redis_reply_free(m);
        assert_true(len < cap);
    }
    og_redis_reply_free(keys);
}

static void distinct_failures_lock_the_user_at_this_address(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    char all[8192];

    assert_int_equal(LOGIN(w, "10.0.0.1", "alice", "guess-1"), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(LOGIN(w, "10.0.0.1", "alice", "guess-2"), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(LOGIN(w, "10.0.0.1", "alice", "right-pw"), OG_ID_OK);   /* 2 < 3 */
    assert_int_equal(LOGIN(w, "10.0.0.1", "alice", "guess-3"), OG_ID_BAD_CREDENTIALS);
    /* perSubject 3 reached: even the right password is refused, unlooked at */
    assert_int_equal(LOGIN(w, "10.0.0.1", "alice", "right-pw"), OG_ID_THROTTLED);
    assert_string_equal(reason, "too many failed attempts");
    assert_true(st.retry_after >= 1 && st.retry_after <= 60);
    assert_null(id.user);
    assert_int_equal(w->failed, 0);             /* not counted as a refused credential */
    assert_int_equal(LOGIN(w, "10.0.0.1", "alice", "guess-4"), OG_ID_THROTTLED);

    /* three members, under a hashed username; no password, no username in clear */
    assert_int_equal(scard(w->redis, "ocigate:thr:addr:10.0.0.1"), 3);
    dump(w->redis, all, sizeof(all));
    assert_null(strstr(all, "guess"));
    assert_null(strstr(all, "right-pw"));
    assert_null(strstr(all, "alice"));

    /* bob at that address is another subject: perAddress (6) is not reached */
    assert_int_equal(LOGIN(w, "10.0.0.1", "bob", "bob-pw"), OG_ID_OK);
    /* alice from an address that never failed for her is not locked out */
    assert_int_equal(LOGIN(w, "10.0.0.2", "alice", "right-pw"), OG_ID_OK);
}

static void one_repeated_password_counts_once(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;

    for (int i = 0; i < 10; i++)
        assert_int_equal(LOGIN(w, "10.0.1.1", "alice", "the-old-password"), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(scard(w->redis, "ocigate:thr:addr:10.0.1.1"), 1);
    assert_int_equal(LOGIN(w, "10.0.1.1", "alice", "right-pw"), OG_ID_OK);
}

static void the_total_refuses_only_addresses_that_failed(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;

    /* perSubjectTotal 4: two failures from each of two addresses */
    assert_int_equal(LOGIN(w, "10.0.2.1", "bob", "a1"), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(LOGIN(w, "10.0.2.1", "bob", "a2"), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(LOGIN(w, "10.0.2.2", "bob", "b1"), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(LOGIN(w, "10.0.2.2", "bob", "b2"), OG_ID_BAD_CREDENTIALS);
    /* the last address to fail learnt the total in its own round trip */
    assert_int_equal(LOGIN(w, "10.0.2.2", "bob", "bob-pw"), OG_ID_THROTTLED);
    /* the first reads it again within a second (OG_THR_REFRESH_MS): poll, bounded */
    {
        enum og_identify_result r = OG_ID_OK;
        for (int i = 0; i < 100 && r == OG_ID_OK; i++) {
            struct timespec ts = { 0, 50 * 1000000L };
            r = LOGIN(w, "10.0.2.1", "bob", "bob-pw");
            if (r == OG_ID_OK)
                nanosleep(&ts, NULL);
        }
        assert_int_equal(r, OG_ID_THROTTLED);
    }
    /* bob himself, from his own address: an attacker cannot lock him out */
    assert_int_equal(LOGIN(w, "10.0.2.3", "bob", "bob-pw"), OG_ID_OK);
}

static void per_address_counts_every_username(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    char user[32];

    /* perAddress 6: six usernames, one guess each */
    for (int i = 0; i < 6; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        assert_int_equal(LOGIN(w, "10.0.3.1", user, "guess"), OG_ID_BAD_CREDENTIALS);
    }
    assert_int_equal(LOGIN(w, "10.0.3.1", "alice", "right-pw"), OG_ID_THROTTLED);
    assert_int_equal(LOGIN(w, "10.0.3.2", "alice", "right-pw"), OG_ID_OK);
}

static void anonymous_and_right_passwords_never_count(void **state)
{
    struct world *w = *state;
    struct og_identify_ctx ctx = { w->cfg, users, NULL, NULL, NULL, w->redis, "10.0.4.1", NULL };
    struct og_credentials c;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    char all[4096];
    int hit;

    memset(&c, 0, sizeof(c));
    c.kind = OG_CRED_NONE;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(og_identify(&ctx, &c, &id, &st, &reason, &hit), OG_ID_OK);
        assert_int_equal(LOGIN(w, "10.0.4.1", "alice", "right-pw"), OG_ID_OK);
    }
    dump(w->redis, all, sizeof(all));
    assert_string_equal(all, "");
}

static void redis_down_never_blocks_a_login(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    char err[256];

    og_redis_free(w->redis);
    free(w->cfg->redis_url);
    w->cfg->redis_url = strdup("unix:///nonexistent/og-identity.sock");
    w->redis = og_redis_new(w->cfg, err, sizeof(err));
    assert_non_null(w->redis);
    for (int i = 0; i < 5; i++)
        assert_int_equal(LOGIN(w, "10.0.5.1", "alice", i % 2 ? "x" : "y"), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(LOGIN(w, "10.0.5.1", "alice", "right-pw"), OG_ID_OK);
}


/* Commands Redis has processed so far (INFO itself counts as one). */
static long long commands_processed(struct og_redis *r)
{
    redisReply *rep = og_redis_command(r, "INFO stats");
    const char *p;
    long long n = -1;

    assert_non_null(rep);
    assert_non_null(rep->str);
    p = strstr(rep->str, "total_commands_processed:");
    assert_non_null(p);
    n = atoll(p + strlen("total_commands_processed:"));
    og_redis_reply_free(rep);
    return n;
}

static void a_known_credential_costs_no_round_trip(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    long long before, after;
    struct timespec t0, t1;

    /* the first sight reads the counts (and verifies the password) */
    assert_int_equal(LOGIN(w, "10.0.6.1", "alice", "right-pw"), OG_ID_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    before = commands_processed(w->redis);
    for (int i = 0; i < 200; i++)
        assert_int_equal(LOGIN(w, "10.0.6.1", "alice", "right-pw"), OG_ID_OK);
    after = commands_processed(w->redis);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* one INFO, plus at most one read of the counts per second that passed */
    assert_true(after - before <= 1 + 1 + (t1.tv_sec - t0.tv_sec));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(distinct_failures_lock_the_user_at_this_address,
                                        setup_redis, teardown),
        cmocka_unit_test_setup_teardown(one_repeated_password_counts_once, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(the_total_refuses_only_addresses_that_failed, setup_redis,
                                        teardown),
        cmocka_unit_test_setup_teardown(per_address_counts_every_username, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(anonymous_and_right_passwords_never_count, setup_redis,
                                        teardown),
        cmocka_unit_test_setup_teardown(redis_down_never_blocks_a_login, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(a_known_credential_costs_no_round_trip, setup_redis,
                                        teardown),
    };
    og_log_configure("error", "text");
    og_test_redis_start_or_exit(&server);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
