/*
 * test_apikey.c - API keys without a Redis server: key format, zot's hash
 * scheme, time and duration parsing, HGETALL record parsing from hand-built
 * hiredis replies, the per-worker cache (fresh, stale, negative, expired,
 * wrong user, eviction) with Redis absent, redis.url parsing, and how often a
 * client of a dead Redis tries to connect (counted). A real Redis:
 * test_apikey_redis.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <hiredis/hiredis.h>

#include "apikey.h"
#include "config.h"
#include "decide.h"
#include "glob.h"
#include "htpasswd.h"
#include "identity.h"
#include "log.h"
#include "redis.h"

static const char KEY[] = "zak_0123456789abcdef0123456789abcdef";
/* printf %s 0123456789abcdef0123456789abcdef | sha256sum */
static const char KEY_SHA256[] =
    "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9";

/* ---- hand-built hiredis replies ------------------------------------------ */

static redisReply *r_str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->type = REDIS_REPLY_STRING;
    r->len = strlen(s);
    r->str = strdup(s);
    return r;
}

static redisReply *r_int(long long v)
{
    redisReply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

/* An array of strings; NULL ends the list. */
static redisReply *r_arr(const char *first, ...)
{
    redisReply *r = calloc(1, sizeof(*r));
    va_list ap;
    const char *s;

    assert_non_null(r);
    r->type = REDIS_REPLY_ARRAY;
    r->element = calloc(80, sizeof(*r->element));
    va_start(ap, first);
    for (s = first; s; s = va_arg(ap, const char *)) {
        assert_true(r->elements < 80);
        r->element[r->elements++] = r_str(s);
    }
    va_end(ap);
    return r;
}

static void r_free(redisReply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->elements; i++)
        r_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* A complete record, with the given groups, repos and expires. */
static redisReply *record(const char *user, const char *groups, const char *repos,
                          const char *expires)
{
    return r_arr("id", "11111111-2222-4333-8444-555555555555", "user", user, "groups", groups,
                 "repos", repos, "label", "ci", "created", "2026-01-01T00:00:00Z", "expires",
                 expires, "last_used", "", (const char *)NULL);
}

/* ---- format and hash ----------------------------------------------------- */

static void test_format(void **state)
{
    (void)state;
    assert_true(og_apikey_format_ok(KEY, strlen(KEY)));
    assert_false(og_apikey_format_ok(KEY, strlen(KEY) - 1));
    assert_false(og_apikey_format_ok("zak_0123456789ABCDEF0123456789abcdef", 36));
    assert_false(og_apikey_format_ok("zap_0123456789abcdef0123456789abcdef", 36));
    assert_false(og_apikey_format_ok("zak_0123456789abcdef0123456789abcdeg", 36));
    assert_false(og_apikey_format_ok("zak_0123456789abcdef0123456789abcdef0", 37));
    assert_false(og_apikey_format_ok("zak_", 4));
    assert_false(og_apikey_format_ok("", 0));
    assert_false(og_apikey_format_ok(NULL, 36));
    /* an embedded NUL within the length is not hex */
    assert_false(og_apikey_format_ok("zak_0123456789abcdef\0" "123456789abcdef", 36));
}

static void test_hash_matches_zot(void **state)
{
    char hex[65];
    (void)state;
    assert_true(og_apikey_hash_hex(KEY, strlen(KEY), hex));
    assert_string_equal(hex, KEY_SHA256);
    assert_false(og_apikey_hash_hex("zak_short", 9, hex));
}

/* ---- time ---------------------------------------------------------------- */

static void test_parse_time(void **state)
{
    time_t t;
    char buf[32];
    (void)state;

    assert_true(og_apikey_parse_time("2027-01-01T00:00:00Z", &t));
    assert_int_equal(t, 1798761600);
    og_apikey_format_time(t, buf);
    assert_string_equal(buf, "2027-01-01T00:00:00Z");
    assert_true(og_apikey_parse_time("2027-01-01T02:00:00+02:00", &t));
    assert_int_equal(t, 1798761600);
    assert_true(og_apikey_parse_time("2026-12-31T19:30:00-04:30", &t));
    assert_int_equal(t, 1798761600);
    assert_true(og_apikey_parse_time("2027-01-01t00:00:00.123456z", &t));
    assert_int_equal(t, 1798761600);
    assert_true(og_apikey_parse_time("2027-01-01", &t));
    assert_int_equal(t, 1798761600);
    assert_true(og_apikey_parse_time("2028-02-29T12:00:00Z", &t));   /* leap year */

    assert_false(og_apikey_parse_time("2027-02-29T00:00:00Z", &t));
    assert_false(og_apikey_parse_time("2027-04-31T00:00:00Z", &t));
    assert_false(og_apikey_parse_time("2027-01-01T00:00:00", &t));  /* no zone */
    assert_false(og_apikey_parse_time("2027-01-01T24:00:00Z", &t));
    assert_false(og_apikey_parse_time("2027-13-01T00:00:00Z", &t));
    assert_false(og_apikey_parse_time("2027-01-01T00:00:00.Z", &t));
    assert_false(og_apikey_parse_time("2027-01-01T00:00:00+0200", &t));
    assert_false(og_apikey_parse_time("2027-01-01T00:00:00Zjunk", &t));
    assert_false(og_apikey_parse_time("1969-12-31T23:59:59Z", &t));
    assert_false(og_apikey_parse_time("Fri, 01 Jan 2027 00:00:00 +0000", &t));
    assert_false(og_apikey_parse_time("", &t));
    assert_false(og_apikey_parse_time(NULL, &t));
}

static void test_parse_duration(void **state)
{
    long long s;
    (void)state;
    assert_true(og_apikey_parse_duration("90d", &s));
    assert_int_equal(s, 90LL * 86400);
    assert_true(og_apikey_parse_duration("12h", &s));
    assert_int_equal(s, 12 * 3600);
    assert_true(og_apikey_parse_duration("30m", &s));
    assert_int_equal(s, 1800);
    assert_true(og_apikey_parse_duration("45s", &s));
    assert_int_equal(s, 45);
    assert_true(og_apikey_parse_duration("2w", &s));
    assert_int_equal(s, 14 * 86400);
    assert_true(og_apikey_parse_duration("1d12h", &s));
    assert_int_equal(s, 86400 + 12 * 3600);

    assert_false(og_apikey_parse_duration("0d", &s));
    assert_false(og_apikey_parse_duration("d", &s));
    assert_false(og_apikey_parse_duration("90", &s));
    assert_false(og_apikey_parse_duration("90x", &s));
    assert_false(og_apikey_parse_duration("-1d", &s));
    assert_false(og_apikey_parse_duration("1 d", &s));
    assert_false(og_apikey_parse_duration("999999999d", &s));
    assert_false(og_apikey_parse_duration("9999999999s", &s));
    assert_false(og_apikey_parse_duration("", &s));
}

static void test_parse_expires(void **state)
{
    time_t now = 1798761600, t;
    char err[200];
    (void)state;
    assert_true(og_apikey_parse_expires("90d", now, &t, err, sizeof(err)));
    assert_int_equal(t, now + 90 * 86400);
    assert_true(og_apikey_parse_expires("2027-01-01T00:00:01Z", now, &t, err, sizeof(err)));
    assert_int_equal(t, now + 1);
    assert_false(og_apikey_parse_expires("2027-01-01T00:00:00Z", now, &t, err, sizeof(err)));
    assert_non_null(strstr(err, "past"));
    assert_false(og_apikey_parse_expires("2020-01-01T00:00:00Z", now, &t, err, sizeof(err)));
    assert_non_null(strstr(err, "past"));
    assert_false(og_apikey_parse_expires("soon", now, &t, err, sizeof(err)));
    assert_non_null(strstr(err, "duration"));
}

/* ---- records ------------------------------------------------------------- */

static void test_record_ok(void **state)
{
    struct og_apikey_record rec;
    redisReply *r = record("alice", "[\"ci\",\"dev\"]", "[\"blumeops/**\"]",
                           "2027-01-01T00:00:00Z");
    (void)state;
    assert_int_equal(og_apikey_parse_record(r, &rec), 1);
    assert_string_equal(rec.id, "11111111-2222-4333-8444-555555555555");
    assert_string_equal(rec.user, "alice");
    assert_string_equal(rec.groups_json, "[\"ci\",\"dev\"]");
    assert_string_equal(rec.repos_json, "[\"blumeops/**\"]");
    assert_string_equal(rec.label, "ci");
    assert_string_equal(rec.created, "2026-01-01T00:00:00Z");
    assert_string_equal(rec.expires, "2027-01-01T00:00:00Z");
    assert_string_equal(rec.last_used, "");
    r_free(r);

    /* minimal: id and user; lists default to [] and unknown fields are ignored */
    r = r_arr("user", "bob", "future_field", "x", "id", "abc", (const char *)NULL);
    assert_int_equal(og_apikey_parse_record(r, &rec), 1);
    assert_string_equal(rec.groups_json, "[]");
    assert_string_equal(rec.repos_json, "[]");
    r_free(r);
}

static void test_record_bad(void **state)
{
    struct og_apikey_record rec;
    redisReply *r;
    char big[2000];
    (void)state;

    r = r_arr((const char *)NULL);                       /* no such key */
    assert_int_equal(og_apikey_parse_record(r, &rec), 0);
    r_free(r);

    assert_int_equal(og_apikey_parse_record(NULL, &rec), -1);
    r = r_str("id");                                     /* not an array */
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);

    r = r_arr("id", "abc", "user", (const char *)NULL);  /* odd */
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);

    r = r_arr("id", "abc", (const char *)NULL);          /* no user */
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);

    r = r_arr("id", "abc", "user", "u", (const char *)NULL);
    r_free(r->element[3]);                               /* a non-string value */
    r->element[3] = r_int(5);
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    r = r_arr("id", "abc", "user", "u", "groups", big, (const char *)NULL);   /* oversized */
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);
    r = r_arr("id", big, "user", "u", (const char *)NULL);
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);

    r = r_arr("id", "abc", "user", "u", (const char *)NULL);
    r->element[3]->str[0] = '\0';                        /* embedded NUL: len 1, "\0" */
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);

    r = r_arr((const char *)NULL);                       /* absurd size */
    for (int i = 0; i < 70; i++)
        r->element[r->elements++] = r_str(i % 2 ? "v" : "f");
    assert_int_equal(og_apikey_parse_record(r, &rec), -1);
    r_free(r);
}

/* ---- the cache (no Redis: every miss is "unavailable") ------------------- */

static struct og_config *config_with(int cache_s)
{
    char json[256], err[512];
    struct og_config *cfg;
    snprintf(json, sizeof(json),
             "{\"auth\":{\"apikey\":{\"enabled\":true,\"cacheSeconds\":%d}},\"accessControl\":{}}",
             cache_s);
    cfg = og_config_parse(json, strlen(json), "test.json", err, sizeof(err));
    if (!cfg)
        fail_msg("config: %s", err);
    return cfg;
}

struct fixture {
    struct og_config *cfg;
    struct og_apikeys *k;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->cfg = config_with(30);
    f->k = og_apikeys_new(f->cfg, NULL);
    *state = f;
    return f->k ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    og_apikeys_free(f->k);
    og_config_free(f->cfg);
    free(f);
    return 0;
}

static enum og_identify_result ident(struct og_apikeys *k, const char *user, const char *key,
                                     struct og_identity *id, struct og_identity_store *st,
                                     const char **reason, int *hit)
{
    memset(id, 0, sizeof(*id));
    memset(st, 0, sizeof(*st));
    return og_apikey_identify(k, user, key, strlen(key), id, st, reason, hit);
}

static void test_cache_positive(void **state)
{
    struct fixture *f = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit = -1;
    redisReply *r = record("alice", "[\"ci\",\"dev\"]", "[\"blumeops/**\",\"tools/*\"]", "");

    /* Redis absent, nothing cached: 503, never an identity */
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_UNAVAILABLE);
    assert_int_equal(hit, 0);

    assert_int_equal(og_apikeys_cache_fill(f->k, KEY, strlen(KEY), r), 1);
    r_free(r);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(hit, 1);
    assert_string_equal(id.user, "alice");
    assert_ptr_equal(id.user, st.user);
    assert_int_equal(id.auth, OG_AUTH_APIKEY);
    assert_string_equal(st.key_id, "11111111-2222-4333-8444-555555555555");
    assert_int_equal(id.ngroups, 2);
    assert_string_equal(id.groups[0], "ci");
    assert_string_equal(id.groups[1], "dev");
    assert_int_equal(id.nscopes, 2);
    assert_true(og_glob_match(id.scopes[0], "blumeops/app", 12));
    assert_false(og_glob_match(id.scopes[1], "tools/a/b", 9));
    assert_true(og_glob_match(id.scopes[1], "tools/a", 7));

    /* Basic username must be the key's user (as zot) */
    assert_int_equal(ident(f->k, "alice", KEY, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(ident(f->k, "bob", KEY, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "API key does not belong to this user");
    assert_int_equal(ident(f->k, "", KEY, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);

    /* still fresh after 29 s; stale after cacheSeconds, and Redis is down: 503 */
    og_apikeys_advance_clock(f->k, 29);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_OK);
    og_apikeys_advance_clock(f->k, 1);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_UNAVAILABLE);
    assert_int_equal(hit, 0);
}

static void test_cache_no_scopes(void **state)
{
    struct fixture *f = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;
    redisReply *r = record("alice", "[]", "[]", "");

    assert_int_equal(og_apikeys_cache_fill(f->k, KEY, strlen(KEY), r), 1);
    r_free(r);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(id.ngroups, 0);
    assert_int_equal(id.nscopes, 0);
}

static void test_cache_negative(void **state)
{
    struct fixture *f = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;
    redisReply *r = r_arr((const char *)NULL);

    assert_int_equal(og_apikeys_cache_fill(f->k, KEY, strlen(KEY), r), 0);
    r_free(r);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "unknown API key");
    assert_int_equal(hit, 1);
    assert_null(id.user);
    og_apikeys_advance_clock(f->k, 4);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    og_apikeys_advance_clock(f->k, 1);            /* negative entries live 5 s */
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_UNAVAILABLE);
}

static void test_cache_expired(void **state)
{
    struct fixture *f = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;
    char soon[32];
    redisReply *r = record("alice", "[]", "[]", "2020-01-01T00:00:00Z");

    assert_int_equal(og_apikeys_cache_fill(f->k, KEY, strlen(KEY), r), 1);
    r_free(r);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "API key expired");

    /* expires while cached */
    og_apikey_format_time(time(NULL) + 10, soon);
    r = record("alice", "[]", "[]", soon);
    assert_int_equal(og_apikeys_cache_fill(f->k, KEY, strlen(KEY), r), 1);
    r_free(r);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_OK);
    og_apikeys_advance_clock(f->k, 11);
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "API key expired");
}

static void test_cache_invalid_records(void **state)
{
    struct fixture *f = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;
    static const char *const bad[][3] = {
        { "[\"ci\"", "[]", "" },                  /* truncated JSON */
        { "{\"a\":1}", "[]", "" },                /* not an array */
        { "[1]", "[]", "" },                      /* not strings */
        { "[\"\"]", "[]", "" },                   /* empty group */
        { "[]", "[\"a[\"]", "" },                 /* bad glob */
        { "[]", "[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
                "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
                "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]", "" },  /* 33 */
        { "[]", "[]", "next tuesday" },           /* bad expiry */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        redisReply *r = record("alice", bad[i][0], bad[i][1], bad[i][2]);
        assert_int_equal(og_apikeys_cache_fill(f->k, KEY, strlen(KEY), r), 0);
        r_free(r);
        assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit),
                         OG_ID_BAD_CREDENTIALS);
        assert_string_equal(reason, "invalid API key record");
    }
    assert_int_equal(og_apikeys_cache_fill(f->k, "zak_x", 5, NULL), -1);
}

static void test_malformed_key(void **state)
{
    struct fixture *f = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;

    assert_int_equal(ident(f->k, NULL, "zak_0123", &id, &st, &reason, &hit),
                     OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "malformed API key");
    assert_int_equal(ident(f->k, NULL, "zak_0123456789ABCDEF0123456789abcdef", &id, &st,
                           &reason, &hit), OG_ID_BAD_CREDENTIALS);
}

static void make_key(unsigned n, char out[OG_APIKEY_LEN + 1])
{
    snprintf(out, OG_APIKEY_LEN + 1, "zak_%032x", n);
}

/* A flood of unknown keys never evicts a live positive entry; many positives still work. */
static void test_cache_eviction(void **state)
{
    struct fixture *f = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;
    char key[OG_APIKEY_LEN + 1];
    redisReply *pos = record("alice", "[\"g\"]", "[\"r/**\"]", "");
    redisReply *neg = r_arr((const char *)NULL);

    assert_int_equal(og_apikeys_cache_fill(f->k, KEY, strlen(KEY), pos), 1);
    for (unsigned i = 0; i < 20000; i++) {
        make_key(i, key);
        assert_int_equal(og_apikeys_cache_fill(f->k, key, strlen(key), neg), 0);
    }
    assert_int_equal(ident(f->k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(hit, 1);

    for (unsigned i = 0; i < 5000; i++) {
        make_key(100000 + i, key);
        assert_int_equal(og_apikeys_cache_fill(f->k, key, strlen(key), pos), 1);
    }
    /* the last one filled is always there */
    assert_int_equal(ident(f->k, NULL, key, &id, &st, &reason, &hit), OG_ID_OK);
    assert_int_equal(hit, 1);
    assert_string_equal(id.groups[0], "g");
    r_free(pos);
    r_free(neg);
}

static void test_cache_disabled(void **state)
{
    struct og_config *cfg = config_with(0);
    struct og_apikeys *k = og_apikeys_new(cfg, NULL);
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;
    redisReply *r = record("alice", "[]", "[]", "");
    (void)state;

    assert_int_equal(og_apikeys_cache_fill(k, KEY, strlen(KEY), r), 1);
    r_free(r);
    assert_int_equal(ident(k, NULL, KEY, &id, &st, &reason, &hit), OG_ID_UNAVAILABLE);
    og_apikeys_free(k);
    og_config_free(cfg);
}

/* ---- create arguments ---------------------------------------------------- */

static void test_check_args(void **state)
{
    const char *groups[] = { "ci" }, *repos[] = { "blumeops/**" }, *badrepo[] = { "a{b" };
    char err[256];
    (void)state;
    assert_true(og_apikey_check_args("alice", groups, 1, repos, 1, "label", err, sizeof(err)));
    assert_true(og_apikey_check_args("alice@example.org", NULL, 0, NULL, 0, NULL, err,
                                     sizeof(err)));
    assert_false(og_apikey_check_args("", NULL, 0, NULL, 0, NULL, err, sizeof(err)));
    assert_false(og_apikey_check_args("a:b", NULL, 0, NULL, 0, NULL, err, sizeof(err)));
    assert_false(og_apikey_check_args("a\nb", NULL, 0, NULL, 0, NULL, err, sizeof(err)));
    assert_false(og_apikey_check_args("alice", NULL, 0, badrepo, 1, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "a{b"));
    assert_false(og_apikey_check_args("alice", NULL, 0, NULL, 0, "tab\there", err,
                                      sizeof(err)));
}

/* ---- redis.url ----------------------------------------------------------- */

static struct og_redis *redis_for(const char *url, const char *password, char *err,
                                  size_t errlen)
{
    struct og_config *cfg = config_with(30);
    struct og_redis *r;
    free(cfg->redis_url);
    cfg->redis_url = strdup(url);
    if (password)
        cfg->redis_password = strdup(password);
    cfg->redis_timeout_ms = 100;
    r = og_redis_new(cfg, err, errlen);
    og_config_free(cfg);
    return r;
}

static void test_redis_url(void **state)
{
    static const char *const good[][2] = {
        { "redis://127.0.0.1:6379/0", "127.0.0.1:6379/0" },
        { "redis://localhost", "localhost:6379/0" },
        { "redis://:s3cr%40t@db.example:6380/2", "db.example:6380/2" },
        { "redis://ocigate:s3cret@db.example/5", "db.example:6379/5" },
        { "redis://[::1]:7000/1", "[::1]:7000/1" },
        { "redis://host/", "host:6379/0" },
        { "unix:///run/redis/redis.sock", "unix:/run/redis/redis.sock?db=0" },
        { "unix:///run/redis/redis.sock?db=4", "unix:/run/redis/redis.sock?db=4" },
        { "unix:/tmp/r.sock", "unix:/tmp/r.sock?db=0" },
    };
    static const char *const bad[] = {
        "redis://", "redis://host:0", "redis://host:65536", "redis://host:abc",
        "redis://host/db", "redis://host/1/2", "redis://user@host", "redis://:%zz@host",
        "redis://[::1", "unix://relative", "unix:///x?database=1", "http://host",
        "redis://:secret@host:99999",
    };
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct og_redis *r = redis_for(good[i][0], NULL, err, sizeof(err));
        if (!r)
            fail_msg("%s: %s", good[i][0], err);
        assert_string_equal(og_redis_describe(r), good[i][1]);
        assert_null(strstr(og_redis_describe(r), "s3cr"));
        assert_false(og_redis_reachable(r));
        og_redis_free(r);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct og_redis *r = redis_for(bad[i], NULL, err, sizeof(err));
        if (r)
            fail_msg("accepted %s", bad[i]);
        assert_null(strstr(err, "secret"));
    }
}

/* A refused connection fails at once, and says why without the password. */
static void test_redis_down_fails_fast(void **state)
{
    char err[256];
    struct og_redis *r = redis_for("redis://127.0.0.1:1/0", "pw", err, sizeof(err));
    (void)state;

    assert_non_null(r);
    assert_string_equal(og_redis_prefix(r), "ocigate:");
    assert_null(og_redis_command(r, "PING"));
    assert_false(og_redis_reachable(r));
    assert_non_null(strstr(og_redis_last_error(r), "connect"));
    assert_null(strstr(og_redis_last_error(r), "pw"));
    og_redis_free(r);
}

/* A dead Redis costs no latency: after a failure, commands fail at once
   without connecting, at most one attempt a second. Counted, not timed: a
   child accepts each connection, reports it through a pipe and closes it at
   once (so an attempt fails fast, and a regression that connects for every
   command shows as hundreds of attempts rather than as a slow test). */
static void test_redis_down_retries_once_a_second(void **state)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p[2], attempts = 0;
    char url[64], err[256], buf[256];
    struct og_redis *r;
    struct timespec t0, t1;
    long within_s;
    ssize_t n;
    pid_t pid;
    (void)state;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 128), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0 || write(p[1], "c", 1) != 1)
                _exit(0);
            close(c);
        }
    }
    close(fd);
    close(p[1]);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", ntohs(a.sin_port));
    r = redis_for(url, "pw", err, sizeof(err));
    assert_non_null(r);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++)
        assert_null(og_redis_command(r, "PING"));
    assert_false(og_redis_ping(r));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    within_s = (long)(t1.tv_sec - t0.tv_sec) + 1;
    og_redis_free(r);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    while ((n = read(p[0], buf, sizeof(buf))) > 0)
        attempts += (int)n;
    close(p[0]);
    print_message("# 1001 commands, %d connection attempts, within %ld s\n", attempts,
                  within_s);
    assert_true(attempts >= 1);
    /* one, plus one for each second the loop took */
    assert_true(attempts <= 1 + within_s);
}

/* ---- labels (issue 8: bidi and format characters) ----------------------- */

static void test_label_text(void **state)
{
    char err[256];
    static const char *const bad[] = {
        "evil\xe2\x80\xae" "gpj.exe",          /* U+202E RIGHT-TO-LEFT OVERRIDE */
        "a\xe2\x80\x8b" "b",                    /* U+200B ZERO WIDTH SPACE */
        "a\xe2\x80\x8f" "b",                    /* U+200F RIGHT-TO-LEFT MARK */
        "a\xe2\x81\xa6" "b",                    /* U+2066 LEFT-TO-RIGHT ISOLATE */
        "a\xe2\x81\xa9" "b",                    /* U+2069 POP DIRECTIONAL ISOLATE */
        "\xef\xbb\xbf" "label",                 /* U+FEFF BYTE ORDER MARK */
        "a\xc2\x85" "b",                        /* U+0085 NEXT LINE (C1) */
        "a\x1b[31mred",                         /* ESC */
        "a\x7f",                                /* DEL */
        "a\xff",                                /* not UTF-8 */
        "a\xc0\xaf",                            /* overlong '/' */
        "a\xed\xa0\x80",                        /* a surrogate */
        "a\xe2\x80",                            /* truncated */
        "tag\xf3\xa0\x80\x81",                  /* U+E0001 LANGUAGE TAG */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(og_apikey_text_ok(bad[i]));
        assert_false(og_apikey_check_args("alice", NULL, 0, NULL, 0, bad[i], err, sizeof(err)));
        assert_non_null(strstr(err, "label"));
    }
    assert_true(og_apikey_text_ok("d\xc3\xa9ploiement \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac"));
    assert_true(og_apikey_check_args("alice", NULL, 0, NULL, 0, "ci runner \xf0\x9f\x9a\x80",
                                     err, sizeof(err)));
    /* the user name too: it is shown in key lists */
    assert_false(og_apikey_check_args("ali\xe2\x80\xae" "ce", NULL, 0, NULL, 0, "", err,
                                      sizeof(err)));
}

/* ---- origin: what a key's record may no longer say by itself ------------ */

static redisReply *record_origin(const char *user, const char *groups, const char *origin)
{
    if (!origin)
        return record(user, groups, "[]", "");
    return r_arr("id", "11111111-2222-4333-8444-555555555555", "user", user, "groups", groups,
                 "repos", "[]", "label", "ci", "created", "2026-01-01T00:00:00Z", "expires", "",
                 "last_used", "", "origin", origin, (const char *)NULL);
}

struct origin_world {
    char dir[64], htfile[128];
    struct og_config *cfg;
    struct og_htpasswd *ht;
    struct og_apikeys *k;
};

/* config: group admins = ADMINS (a JSON array), adminPolicy for group admins;
   htpasswd: the users listed (password "pw") */
static void world(struct origin_world *w, const char *admins, const char *ht_users)
{
    char json[1024], err[512];
    FILE *fp;

    snprintf(w->dir, sizeof(w->dir), "/tmp/og-origin-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->htfile, sizeof(w->htfile), "%s/htpasswd", w->dir);
    fp = fopen(w->htfile, "w");
    assert_non_null(fp);
    for (const char *u = ht_users; u && *u; u += strlen(u) + 1)
        fprintf(fp, "%s:$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5\n", u);
    fclose(fp);
    snprintf(json, sizeof(json),
             "{\"auth\":{\"apikey\":{\"enabled\":true,\"cacheSeconds\":30}},"
             "\"accessControl\":{\"groups\":{\"admins\":{\"users\":%s}},"
             "\"repositories\":{\"**\":{\"defaultPolicy\":[\"read\"]}},"
             "\"adminPolicy\":{\"groups\":[\"admins\"],\"actions\":[\"read\",\"delete\"]}}}",
             admins);
    w->cfg = og_config_parse(json, strlen(json), "o.json", err, sizeof(err));
    assert_non_null(w->cfg);
    w->ht = og_htpasswd_load(w->htfile, err, sizeof(err));
    assert_non_null(w->ht);
    w->k = og_apikeys_new(w->cfg, NULL);
    assert_non_null(w->k);
}

static void world_free(struct origin_world *w)
{
    og_apikeys_free(w->k);
    og_htpasswd_free(w->ht);
    og_config_free(w->cfg);
    unlink(w->htfile);
    rmdir(w->dir);
}

static enum og_identify_result key_as(struct origin_world *w, redisReply *rec,
                                      struct og_identity *id, struct og_identity_store *st)
{
    struct og_identify_ctx ctx = { w->cfg, w->ht, w->k, NULL, NULL, NULL, "127.0.0.1", NULL };
    struct og_credentials cred;
    const char *reason = "";
    int hit;

    memset(&cred, 0, sizeof(cred));
    cred.kind = OG_CRED_BEARER;
    snprintf(cred.secret, sizeof(cred.secret), "%s", KEY);
    cred.secret_len = strlen(KEY);
    if (rec) {
        assert_int_equal(og_apikeys_cache_fill(w->k, KEY, strlen(KEY), rec), 1);
        r_free(rec);
    }
    return og_identify(&ctx, &cred, id, st, &reason, &hit);
}

/* Issue 8: a key made while alice was in admins kept adminPolicy after she
   left the group, and kept working after she left htpasswd. */
static void test_origin_htpasswd_groups_live(void **state)
{
    struct origin_world w;
    struct og_identity id;
    struct og_identity_store st;
    (void)state;

    /* a self-service key by htpasswd user alice stores no config group */
    world(&w, "[\"alice\"]", "alice\0bob\0");
    assert_int_equal(key_as(&w, record_origin("alice", "[]", "htpasswd"), &id, &st), OG_ID_OK);
    assert_true(og_is_admin(w.cfg, &id));           /* live: alice is in admins */
    world_free(&w);

    world(&w, "[\"bob\"]", "alice\0bob\0");         /* alice left admins */
    assert_int_equal(key_as(&w, record_origin("alice", "[]", "htpasswd"), &id, &st), OG_ID_OK);
    assert_false(og_is_admin(w.cfg, &id));
    world_free(&w);

    world(&w, "[\"bob\"]", "bob\0");                /* and htpasswd */
    assert_int_equal(key_as(&w, record_origin("alice", "[]", "htpasswd"), &id, &st),
                     OG_ID_BAD_CREDENTIALS);
    world_free(&w);
}

static void test_origin_legacy_and_others(void **state)
{
    struct origin_world w;
    struct og_identity id;
    struct og_identity_store st;
    (void)state;

    world(&w, "[\"bob\"]", "bob\0");
    /* a record from before the origin field, which copied alice's config
       groups: "admins" (defined in accessControl.groups) no longer counts,
       an IdP's group does */
    assert_int_equal(key_as(&w, record_origin("alice", "[\"admins\",\"idp-team\"]", NULL), &id,
                            &st), OG_ID_OK);
    assert_int_equal(st.key_origin, OG_KEY_LEGACY);
    assert_int_equal(id.ngroups, 1);
    assert_string_equal(id.groups[0], "idp-team");
    assert_false(og_is_admin(w.cfg, &id));
    /* legacy keys are not bound to htpasswd (their maker is unknown) */
    /* an IdP's groups (openid) and the operator's --group (cli) are the key's own */
    assert_int_equal(key_as(&w, record_origin("carol", "[\"admins\"]", "openid"), &id, &st),
                     OG_ID_OK);
    assert_true(og_is_admin(w.cfg, &id));
    assert_int_equal(key_as(&w, record_origin("ci", "[\"admins\"]", "cli"), &id, &st), OG_ID_OK);
    assert_int_equal(st.key_origin, OG_KEY_CLI);
    assert_true(og_is_admin(w.cfg, &id));
    world_free(&w);

    /* an origin ocigate does not know: the record is refused, never guessed */
    world(&w, "[]", "bob\0");
    {
        redisReply *r = record_origin("alice", "[]", "sso");
        assert_int_equal(og_apikeys_cache_fill(w.k, KEY, strlen(KEY), r), 0);
        r_free(r);
    }
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_hash_matches_zot),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_expires),
        cmocka_unit_test(test_record_ok),
        cmocka_unit_test(test_record_bad),
        cmocka_unit_test_setup_teardown(test_cache_positive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_no_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_negative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_invalid_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_eviction, setup, teardown),
        cmocka_unit_test(test_cache_disabled),
        cmocka_unit_test(test_check_args),
        cmocka_unit_test(test_label_text),
        cmocka_unit_test(test_origin_htpasswd_groups_live),
        cmocka_unit_test(test_origin_legacy_and_others),
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_redis_down_fails_fast),
        cmocka_unit_test(test_redis_down_retries_once_a_second),
    };
    og_log_configure("error", "text");   /* malformed-record and Redis-down warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
