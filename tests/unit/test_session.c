/*
 * test_session.c - the browser session cookie (responder/auth/session.c):
 * seal/open round trip, tampering, another key, expiry, truncation,
 * oversize, purpose binding, the key file (format, mode), CSRF, identity.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "config.h"
#include "session.h"

static const unsigned char master1[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char master2[32] = "fedcba9876543210fedcba9876543210";
#define NOW ((time_t)1800000000)

static struct og_session_keys *k1, *k2;

static int setup(void **state)
{
    (void)state;
    k1 = og_session_keys_from_bytes(master1, 32);
    k2 = og_session_keys_from_bytes(master2, 32);
    return k1 && k2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    og_session_keys_free(k1);
    og_session_keys_free(k2);
    return 0;
}

static void make(struct og_session *s)
{
    const char *groups[] = { "artifact-workloads", "admins" };
    assert_int_equal(og_session_new(s, "alice", groups, 2, NOW, 3600), 0);
}

static void round_trip(void **state)
{
    struct og_session s, o;
    char v[OG_SESSION_VALUE_MAX + 1], hdr[OG_SESSION_VALUE_MAX + 100];
    size_t n;

    (void)state;
    make(&s);
    n = og_session_seal(k1, &s, v, sizeof(v));
    assert_true(n > 0);
    assert_int_equal(strlen(v), n);
    assert_null(strchr(v, '='));           /* base64url without padding: cookie-safe */
    assert_null(strstr(v, "alice"));       /* nothing in clear */
    assert_int_equal(og_session_open_value(k1, v, n, NOW + 10, &o), 0);
    assert_string_equal(o.user, "alice");
    assert_int_equal(o.ngroups, 2);
    assert_string_equal(o.group_ptrs[0], "artifact-workloads");
    assert_string_equal(o.group_ptrs[1], "admins");
    assert_string_equal(o.sid, s.sid);
    assert_int_equal(o.issued, NOW);
    assert_int_equal(o.expires, NOW + 3600);
    /* inside a Cookie header, among others */
    snprintf(hdr, sizeof(hdr), "a=b; %s=%s; c=d", OG_SESSION_COOKIE, v);
    assert_int_equal(og_session_open(k1, hdr, strlen(hdr), NOW, &o), 0);
    assert_string_equal(o.user, "alice");
    /* a bad cookie of the same name first, a good one after */
    snprintf(hdr, sizeof(hdr), "%s=garbage; %s=%s", OG_SESSION_COOKIE, OG_SESSION_COOKIE, v);
    assert_int_equal(og_session_open(k1, hdr, strlen(hdr), NOW, &o), 0);
    /* none */
    assert_int_equal(og_session_open(k1, "a=b", 3, NOW, &o), -1);
    assert_int_equal(og_session_open(k1, NULL, 0, NOW, &o), -1);
    assert_int_equal(o.user[0], '\0');
}

static void two_seals_differ(void **state)
{
    struct og_session s;
    char a[OG_SESSION_VALUE_MAX + 1], b[OG_SESSION_VALUE_MAX + 1];

    (void)state;
    make(&s);
    assert_true(og_session_seal(k1, &s, a, sizeof(a)) > 0);
    assert_true(og_session_seal(k1, &s, b, sizeof(b)) > 0);
    assert_string_not_equal(a, b);         /* random IV */
}

static void tampered_refused(void **state)
{
    struct og_session s, o;
    char v[OG_SESSION_VALUE_MAX + 1];
    size_t n;

    (void)state;
    make(&s);
    n = og_session_seal(k1, &s, v, sizeof(v));
    for (size_t i = 0; i < n; i++) {
        char saved = v[i];
        v[i] = v[i] == 'A' ? 'B' : 'A';
        /* the last character may carry only padding bits; any other change must fail */
        if (i + 1 < n)
            assert_int_equal(og_session_open_value(k1, v, n, NOW, &o), -1);
        v[i] = saved;
    }
    assert_int_equal(og_session_open_value(k1, v, n, NOW, &o), 0);
}

static void wrong_key_refused(void **state)
{
    struct og_session s, o;
    char v[OG_SESSION_VALUE_MAX + 1];
    size_t n;

    (void)state;
    make(&s);
    n = og_session_seal(k1, &s, v, sizeof(v));
    assert_int_equal(og_session_open_value(k2, v, n, NOW, &o), -1);
    assert_int_equal(og_session_open_value(NULL, v, n, NOW, &o), -1);
}

static void expired_refused(void **state)
{
    struct og_session s, o;
    char v[OG_SESSION_VALUE_MAX + 1];
    size_t n;

    (void)state;
    make(&s);
    n = og_session_seal(k1, &s, v, sizeof(v));
    assert_int_equal(og_session_open_value(k1, v, n, NOW + 3599, &o), 0);
    assert_int_equal(og_session_open_value(k1, v, n, NOW + 3600, &o), -1);
    assert_int_equal(og_session_open_value(k1, v, n, NOW + 999999, &o), -1);
    /* issued far in the future (a clock gone wrong): refused */
    assert_int_equal(og_session_open_value(k1, v, n, NOW - 3000, &o), -1);
}

static void truncated_refused(void **state)
{
    struct og_session s, o;
    char v[OG_SESSION_VALUE_MAX + 1];
    size_t n;

    (void)state;
    make(&s);
    n = og_session_seal(k1, &s, v, sizeof(v));
    for (size_t m = 0; m < n; m++)
        assert_int_equal(og_session_open_value(k1, v, m, NOW, &o), -1);
}

static void oversize_refused(void **state)
{
    struct og_session o;
    static char big[OG_SESSION_VALUE_MAX + 50];
    struct og_session s;
    const char *groups[OG_ID_MAX_GROUPS];
    static char names[OG_ID_MAX_GROUPS][40];
    char v[OG_SESSION_VALUE_MAX + 1];

    (void)state;
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(og_session_open_value(k1, big, strlen(big), NOW, &o), -1);
    /* many long groups: the session keeps what fits and still seals */
    for (int i = 0; i < OG_ID_MAX_GROUPS; i++) {
        snprintf(names[i], sizeof(names[i]), "group-with-a-rather-long-name-%03d", i);
        groups[i] = names[i];
    }
    assert_int_equal(og_session_new(&s, "bob", groups, OG_ID_MAX_GROUPS, NOW, 60), 0);
    assert_true(s.ngroups > 10);
    assert_true(og_session_seal(k1, &s, v, sizeof(v)) > 0);
    assert_int_equal(og_session_open_value(k1, v, strlen(v), NOW, &o), 0);
    assert_int_equal(o.ngroups, s.ngroups);
    /* too small an output buffer: 0, never a cut value */
    assert_int_equal(og_session_seal(k1, &s, v, 20), 0);
}

static void purpose_bound(void **state)
{
    char v[OG_SESSION_VALUE_MAX + 1];
    unsigned char out[64];
    size_t n;
    struct og_session o;

    (void)state;
    n = og_session_seal_blob(k1, "ocigate_login", (const unsigned char *)"hello", 5, v,
                             sizeof(v));
    assert_true(n > 0);
    assert_int_equal(og_session_open_blob(k1, "ocigate_login", v, n, out, sizeof(out)), 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(og_session_open_blob(k1, OG_SESSION_COOKIE, v, n, out, sizeof(out)), -1);
    assert_int_equal(og_session_open_value(k1, v, n, NOW, &o), -1);
    assert_int_equal(og_session_open_blob(k1, "ocigate_login", v, n, out, 4), -1);
}

static void decode_is_strict(void **state)
{
    struct og_session s, o;
    unsigned char buf[4096];
    long n;

    (void)state;
    make(&s);
    n = og_session_encode(&s, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(og_session_decode(buf, (size_t)n, &o), 0);
    buf[n] = 0;
    assert_int_equal(og_session_decode(buf, (size_t)n + 1, &o), -1);   /* trailing byte */
    for (long m = 0; m < n; m++)
        assert_int_equal(og_session_decode(buf, (size_t)m, &o), -1);
    buf[32] = 200;                                        /* user length past the end */
    assert_int_equal(og_session_decode(buf, (size_t)n, &o), -1);
    buf[32] = 0;                                          /* empty user */
    assert_int_equal(og_session_decode(buf, (size_t)n, &o), -1);
    /* control bytes in a name are never sealed */
    assert_int_equal(og_session_new(&s, "al\nice", NULL, 0, NOW, 60), -1);
    assert_int_equal(og_session_new(&s, "", NULL, 0, NOW, 60), -1);
}

static void csrf(void **state)
{
    struct og_session a, b;
    char ta[OG_SESSION_CSRF_LEN + 1], tb[OG_SESSION_CSRF_LEN + 1], t2[OG_SESSION_CSRF_LEN + 1];

    (void)state;
    make(&a);
    make(&b);                                  /* same user, another sign-in */
    og_session_csrf(k1, &a, ta);
    og_session_csrf(k1, &b, tb);
    og_session_csrf(k2, &a, t2);
    assert_int_equal(strlen(ta), OG_SESSION_CSRF_LEN);
    assert_string_not_equal(ta, tb);
    assert_string_not_equal(ta, t2);
    assert_true(og_session_csrf_ok(k1, &a, ta, strlen(ta)));
    assert_false(og_session_csrf_ok(k1, &b, ta, strlen(ta)));
    assert_false(og_session_csrf_ok(k2, &a, ta, strlen(ta)));
    assert_false(og_session_csrf_ok(k1, &a, ta, strlen(ta) - 1));
    assert_false(og_session_csrf_ok(k1, &a, "", 0));
    assert_false(og_session_csrf_ok(k1, &a, NULL, 0));
    ta[5] = ta[5] == '0' ? '1' : '0';
    assert_false(og_session_csrf_ok(k1, &a, ta, strlen(ta)));
}

static void key_file(void **state)
{
    char dir[] = "/tmp/og-session-XXXXXX", path[128], err[256];
    struct og_session_keys *k;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/session.key", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    chmod(path, 0644);
    assert_int_equal(og_session_key_generate(f), 0);
    fclose(f);
    {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);      /* generate made it private */
    }
    k = og_session_keys_load(path, err, sizeof(err));
    assert_non_null(k);
    og_session_keys_free(k);
    chmod(path, 0640);                                   /* group may read: refused */
    k = og_session_keys_load(path, err, sizeof(err));
    assert_null(k);
    assert_non_null(strstr(err, "group or others"));
    chmod(path, 0600);
    f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    k = og_session_keys_load(path, err, sizeof(err));
    assert_null(k);
    assert_non_null(strstr(err, "session-key generate"));
    assert_null(strstr(err, "not a key"));              /* key material never in errors */
    unlink(path);
    assert_null(og_session_keys_load(path, err, sizeof(err)));
    rmdir(dir);
}

static void identity(void **state)
{
    struct og_session s;
    struct og_identity id;
    struct og_identity_store store;
    char err[512];
    const char *json = "{\"accessControl\":{\"groups\":{\"ops\":{\"users\":[\"alice\"]}},"
                       "\"repositories\":{\"**\":{\"anonymousPolicy\":[\"read\"]}}}}";
    struct og_config *cfg = og_config_parse(json, strlen(json), "t", err, sizeof(err));

    (void)state;
    assert_non_null(cfg);
    make(&s);
    og_session_identity(cfg, &s, &id, &store);
    assert_string_equal(id.user, "alice");
    assert_int_equal(id.auth, OG_AUTH_OPENID);
    assert_int_equal(id.ngroups, 2);
    assert_non_null(strstr(store.groups_csv, "artifact-workloads"));
    assert_non_null(strstr(store.groups_csv, "ops"));
    og_config_free(cfg);
}

static struct og_config *browser_cfg(const char *url, const char *endpoints)
{
    char json[1024], err[512];
    struct og_config *c;

    snprintf(json, sizeof json,
             "{\"externalUrl\":\"%s\",\"session\":{\"keyFile\":\"/nonexistent\"},"
             "\"endpoints\":%s,"
             "\"auth\":{\"openid\":{\"issuer\":\"https://idp.example\",\"audiences\":[\"r\"],"
             "\"clientId\":\"web\",\"clientSecret\":\"0123456789\"}},"
             "\"accessControl\":{\"repositories\":{}}}", url, endpoints);
    c = og_config_parse(json, strlen(json), "t", err, sizeof err);
    if (!c)
        fail_msg("config: %s", err);
    return c;
}

static void cookie_flags(void **state)
{
    struct og_config *c = browser_cfg("https://registry.example.org/", "{}");
    char path[256], out[512];

    (void)state;
    og_session_cookie_path(c, path, sizeof path);
    assert_string_equal(path, "/ocigate");
    assert_true(og_session_cookie(c, OG_SESSION_COOKIE, "VALUE", path, 28800, out, sizeof out) > 0);
    /* https externalUrl: Secure */
    assert_string_equal(out, "ocigate_session=VALUE; Path=/ocigate; Max-Age=28800; HttpOnly; "
                             "SameSite=Lax; Secure");
    assert_true(og_session_cookie(c, OG_SESSION_COOKIE, "", path, 0, out, sizeof out) > 0);
    assert_string_equal(out, "ocigate_session=; Path=/ocigate; Max-Age=0; HttpOnly; "
                             "SameSite=Lax; Secure");
    assert_int_equal(og_session_cookie(c, OG_SESSION_COOKIE, "VALUE", path, 1, out, 20), 0);
    og_config_free(c);
    /* http: no Secure (the browser would drop the cookie) */
    c = browser_cfg("http://127.0.0.1:8080", "{}");
    og_session_cookie(c, "n", "v", "/", 60, out, sizeof out);
    assert_string_equal(out, "n=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
    og_config_free(c);
    /* the common directory of the pages, never wider than needed */
    c = browser_cfg("https://r.example", "{\"login\":\"/auth/ui/login\","
                    "\"callback\":\"/auth/ui/cb\",\"logout\":\"/auth/out\","
                    "\"keys\":\"/auth/ui/keys\"}");
    og_session_cookie_path(c, path, sizeof path);
    assert_string_equal(path, "/auth");
    og_config_free(c);
    c = browser_cfg("https://r.example", "{\"login\":\"/ocigatex/login\"}");
    og_session_cookie_path(c, path, sizeof path);
    assert_string_equal(path, "/");                /* "/ocigate" is no directory of /ocigatex */
    og_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(two_seals_differ),
        cmocka_unit_test(tampered_refused),
        cmocka_unit_test(wrong_key_refused),
        cmocka_unit_test(expired_refused),
        cmocka_unit_test(truncated_refused),
        cmocka_unit_test(oversize_refused),
        cmocka_unit_test(purpose_bound),
        cmocka_unit_test(decode_is_strict),
        cmocka_unit_test(csrf),
        cmocka_unit_test(key_file),
        cmocka_unit_test(identity),
        cmocka_unit_test(cookie_flags),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
