/*
 * test_apikey_redis.c - API keys in a real, private redis-server
 * (redis_fixture.c): a created key identifies its user, a revoked key is
 * refused once the per-worker cache entry has aged out (and at once by a
 * worker that had not cached it), revocation leaves nothing behind, and
 * the per-user limit is enforced by Redis. Skips (the whole file) where
 * redis-server is not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "apikey.h"
#include "request.h"
#include "config.h"
#include "identity.h"
#include "log.h"
#include "redis.h"
#include "redis_fixture.h"

#define CACHE_S 30

static struct og_test_redis server;

struct world {
    struct og_config *cfg;
    struct og_redis *redis;
    struct og_apikeys *k;
};

static int group_teardown(void **state)
{
    (void)state;
    og_test_redis_stop(&server);
    return 0;
}

static int setup(void **state)
{
    static const char json[] =
        "{\"auth\":{\"apikey\":{\"enabled\":true,\"cacheSeconds\":30}},\"accessControl\":{}}";
    struct world *w = calloc(1, sizeof(*w));
    char err[512];

    *state = w;
    w->cfg = og_config_parse(json, sizeof(json) - 1, "t.json", err, sizeof(err));
    if (!w->cfg) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    w->redis = og_test_redis_client(&server, w->cfg);
    if (!w->redis)
        return -1;
    og_test_redis_flush(w->redis);
    w->k = og_apikeys_new(w->cfg, w->redis);
    return w->k ? 0 : -1;
}

static int teardown(void **state)
{
    struct world *w = *state;
    og_apikeys_free(w->k);
    og_redis_free(w->redis);
    og_config_free(w->cfg);
    free(w);
    return 0;
}

static void create(struct world *w, const char *user, char key[OG_APIKEY_LEN + 1],
                   struct og_apikey_record *rec)
{
    const char *groups[] = { "ci" }, *repos[] = { "lib/**" };
    char err[256];

    if (og_apikey_create(w->redis, user, groups, 1, repos, 1, 0, "test", "cli", 0, key, rec,
                         err, sizeof(err)) != 0)
        fail_msg("create: %s", err);
    assert_true(og_apikey_format_ok(key, strlen(key)));
}

static enum og_identify_result ident(struct og_apikeys *k, const char *basic_user,
                                     const char *key, struct og_identity *id,
                                     struct og_identity_store *st, const char **reason, int *hit)
{
    memset(id, 0, sizeof(*id));
    memset(st, 0, sizeof(*st));
    return og_apikey_identify(k, basic_user, key, strlen(key), id, st, reason, hit);
}

/* How many keys Redis holds whose name contains part. */
static size_t keys_like(struct og_redis *r, const char *part)
{
    redisReply *rep = og_redis_command(r, "KEYS *%s*", part);
    size_t n;
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    n = rep->elements;
    og_redis_reply_free(rep);
    return n;
}

static void created_key_identifies_its_user(void **state)
{
    struct world *w = *state;
    char key[OG_APIKEY_LEN + 1], hex[65];
    struct og_apikey_record rec, shown;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;

    create(w, "alice", key, &rec);
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(hit, 0);                   /* from Redis */
    assert_string_equal(id.user, "alice");
    assert_int_equal(id.auth, OG_AUTH_APIKEY);
    assert_string_equal(st.key_id, rec.id);
    assert_int_equal(st.key_origin, OG_KEY_CLI);
    assert_int_equal(id.ngroups, 1);
    assert_string_equal(id.groups[0], "ci");
    assert_int_equal(id.nscopes, 1);
    assert_int_equal(ident(w->k, "alice", key, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(hit, 1);                   /* from the cache */
    assert_int_equal(ident(w->k, "bob", key, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);

    /* Redis holds the key's hash, never the key */
    assert_true(og_apikey_hash_hex(key, strlen(key), hex));
    assert_int_equal(keys_like(w->redis, hex), 1);
    assert_int_equal(keys_like(w->redis, key + 4), 0);
    assert_int_equal(og_apikey_show(w->redis, rec.id, &shown), 1);
    assert_string_equal(shown.user, "alice");
    assert_int_equal(og_apikey_list(w->redis, "alice", NULL, NULL), 1);

    /* an unknown key of the right shape is refused (not "unavailable") */
    key[OG_APIKEY_LEN - 1] = key[OG_APIKEY_LEN - 1] == '0' ? '1' : '0';
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "unknown API key");
}

static void revoked_key_is_refused_after_the_cache(void **state)
{
    struct world *w = *state;
    char key[OG_APIKEY_LEN + 1], other[OG_APIKEY_LEN + 1];
    struct og_apikey_record rec, orec;
    struct og_apikeys *fresh;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;

    create(w, "alice", key, &rec);
    create(w, "alice", other, &orec);
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_OK);

    assert_int_equal(og_apikey_revoke(w->redis, rec.id, "bob"), 0);     /* not bob's */
    assert_int_equal(ident(fresh = og_apikeys_new(w->cfg, w->redis), NULL, key, &id, &st,
                           &reason, &hit), OG_ID_OK);
    og_apikeys_free(fresh);

    assert_int_equal(og_apikey_revoke(w->redis, rec.id, "alice"), 1);
    /* a worker that has it cached keeps it for at most cacheSeconds */
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(hit, 1);
    og_apikeys_advance_clock(w->k, CACHE_S);
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "unknown API key");
    assert_null(id.user);
    /* a worker that had not cached it refuses it at once */
    fresh = og_apikeys_new(w->cfg, w->redis);
    assert_int_equal(ident(fresh, NULL, key, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    og_apikeys_free(fresh);

    /* nothing of it is left; the user's other key is untouched */
    assert_int_equal(og_apikey_show(w->redis, rec.id, &orec), 0);
    assert_int_equal(og_apikey_revoke(w->redis, rec.id, NULL), 0);
    assert_int_equal(keys_like(w->redis, rec.id), 0);
    assert_int_equal(og_apikey_list(w->redis, "alice", NULL, NULL), 1);
    assert_int_equal(ident(w->k, NULL, other, &id, &st, &reason, &hit), OG_ID_OK);
}

static void expired_key_is_refused(void **state)
{
    struct world *w = *state;
    const char *groups[] = { "ci" };
    char key[OG_APIKEY_LEN + 1], err[256];
    struct og_apikey_record rec;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;

    assert_int_equal(og_apikey_create(w->redis, "alice", groups, 1, NULL, 0, time(NULL) + 3600,
                                      "", "cli", 0, key, &rec, err, sizeof(err)), 0);
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_OK);
    og_apikeys_advance_clock(w->k, 3601);
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "API key expired");
}

static void per_user_limit(void **state)
{
    struct world *w = *state;
    char key[OG_APIKEY_LEN + 1], err[256];
    struct og_apikey_record rec, first;

    assert_int_equal(og_apikey_create(w->redis, "carol", NULL, 0, NULL, 0, 0, "", "htpasswd", 2,
                                      key, &first, err, sizeof(err)), 0);
    assert_int_equal(og_apikey_create(w->redis, "carol", NULL, 0, NULL, 0, 0, "", "htpasswd", 2,
                                      key, &rec, err, sizeof(err)), 0);
    assert_int_equal(og_apikey_create(w->redis, "carol", NULL, 0, NULL, 0, 0, "", "htpasswd", 2,
                                      key, &rec, err, sizeof(err)), OG_APIKEY_LIMIT);
    assert_string_equal(key, "");
    assert_int_equal(og_apikey_list(w->redis, "carol", NULL, NULL), 2);
    assert_int_equal(og_apikey_revoke(w->redis, first.id, NULL), 1);
    assert_int_equal(og_apikey_create(w->redis, "carol", NULL, 0, NULL, 0, 0, "", "htpasswd", 2,
                                      key, &rec, err, sizeof(err)), 0);
}

/* A counter of INFO (a line "NAME:VALUE" or, in commandstats, "NAME:calls=N"). */
static long long info_count(struct og_redis *r, const char *section, const char *name)
{
    redisReply *rep = og_redis_command(r, "INFO %s", section);
    char pat[96];
    const char *p;
    long long n = 0;

    assert_non_null(rep);
    assert_non_null(rep->str);
    snprintf(pat, sizeof(pat), "\n%s:", name);
    p = strstr(rep->str, pat);
    if (p) {
        p += strlen(pat);
        if (strncmp(p, "calls=", 6) == 0)
            p += 6;
        n = atoll(p);
    }
    og_redis_reply_free(rep);
    return n;
}

/* A lookup is one HGETALL by the key's hash (no scan: flat in the number of
   keys); then, through og_identify with throttling on, a cached key costs no
   Redis round trip per request (the throttle view is read at most once a
   second), as Basic and as Bearer. */
static void cached_key_costs_no_round_trip(void **state)
{
    struct world *w = *state;
    char key[OG_APIKEY_LEN + 1];
    struct og_apikey_record rec;
    struct og_identity id;
    struct og_identity_store st;
    struct og_credentials c;
    const char *reason;
    long long h0, h1, s0, s1, c0, c1;
    int hit;
    struct timespec t0, t1;
    struct og_identify_ctx ctx = { w->cfg, NULL, w->k, NULL, NULL, w->redis, "10.9.0.1", NULL };

    create(w, "ci", key, &rec);
    h0 = info_count(w->redis, "commandstats", "cmdstat_hgetall");
    s0 = info_count(w->redis, "commandstats", "cmdstat_scan") +
         info_count(w->redis, "commandstats", "cmdstat_keys");
    assert_int_equal(ident(w->k, NULL, key, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(hit, 0);
    h1 = info_count(w->redis, "commandstats", "cmdstat_hgetall");
    s1 = info_count(w->redis, "commandstats", "cmdstat_scan") +
         info_count(w->redis, "commandstats", "cmdstat_keys");
    assert_int_equal(h1 - h0, 1);
    assert_int_equal(s1 - s0, 0);

    for (int kind = 0; kind < 2; kind++) {
        memset(&c, 0, sizeof(c));
        c.kind = kind ? OG_CRED_BEARER : OG_CRED_BASIC;
        if (!kind)
            snprintf(c.user, sizeof(c.user), "ci");
        memcpy(c.secret, key, OG_APIKEY_LEN);
        c.secret_len = OG_APIKEY_LEN;
        assert_int_equal(og_identify(&ctx, &c, &id, &st, &reason, &hit), OG_ID_OK);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        c0 = info_count(w->redis, "stats", "total_commands_processed");
        for (int i = 0; i < 200; i++) {
            assert_int_equal(og_identify(&ctx, &c, &id, &st, &reason, &hit), OG_ID_OK);
            assert_int_equal(hit, 1);
        }
        c1 = info_count(w->redis, "stats", "total_commands_processed");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* one INFO, plus at most one read of the counts per second that passed
           (a read is one EVAL of SCARD and PTTL per counter: 1 + 2 * 3) */
        assert_true(c1 - c0 <= 1 + 7 * (1 + (t1.tv_sec - t0.tv_sec)));
        og_credentials_wipe(&c);
    }
}

/* A Redis that turned into a replica (a failover): reads still identify a
   key, and the last_used write it refuses (READONLY) fails nothing. */
static void last_used_tolerates_a_read_only_replica(void **state)
{
    struct world *w = *state;
    char key[OG_APIKEY_LEN + 1];
    struct og_apikey_record rec, shown;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    redisReply *rep;

    create(w, "alice", key, &rec);
    /* a replica of a master that is not there: it keeps its data, refuses writes */
    og_redis_reply_free(og_redis_command(w->redis, "REPLICAOF 127.0.0.1 1"));
    rep = og_redis_command(w->redis, "SET ocigate:probe 1");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_memory_equal(rep->str, "READONLY", 8);
    og_redis_reply_free(rep);
    assert_int_equal(ident(w->k, "alice", key, &id, &st, &reason, NULL), OG_ID_OK);
    assert_string_equal(id.user, "alice");
    assert_int_equal(og_apikey_show(w->redis, rec.id, &shown), 1);
    assert_string_equal(shown.last_used, "");        /* the write did not happen */
    og_redis_reply_free(og_redis_command(w->redis, "REPLICAOF NO ONE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(created_key_identifies_its_user, setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_key_is_refused_after_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_key_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(per_user_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(cached_key_costs_no_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(last_used_tolerates_a_read_only_replica, setup,
                                        teardown),
    };
    og_log_configure("error", "text");
    og_test_redis_start_or_exit(&server);
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
