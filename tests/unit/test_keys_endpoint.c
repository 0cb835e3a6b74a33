/*
 * test_keys_endpoint.c - the key page end to end inside one process: a
 * sealed session cookie, a private redis-server (redis_fixture.c), and
 * og_keys_endpoint() called as a worker would. Without a session GET
 * redirects to the sign-in and POST is refused; with one the page lists
 * the user's keys, creates one (shown once, origin openid, expiry within
 * auth.apikey.maxLifetimeDays, scopes within reach), revokes; a POST
 * without the CSRF token, with another sign-in's token, from a foreign
 * Origin or marked cross-site is refused and changes nothing; an admin
 * sees and revokes every user's keys; Redis down is a 503 page that says
 * so. Skips (the whole file) where redis-server is not installed.
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

#include "config.h"
#include "endpoints.h"
#include "handle.h"
#include "key_records.h"
#include "log.h"
#include "redis.h"
#include "redis_fixture.h"
#include "request.h"
#include "session.h"
#include "htpasswd.h"
#include "test_users.h"

static struct og_test_redis server;
static char out[131072];

static const char json[] =
    "{\"externalUrl\":\"http://127.0.0.1:8080\","
    "\"auth\":{\"apikey\":{\"enabled\":true,\"maxPerUser\":3,\"maxLifetimeDays\":30}},"
    "\"accessControl\":{\"repositories\":{"
    "  \"team/**\":{\"policies\":[{\"users\":[\"alice\"],\"actions\":[\"read\",\"create\"]}]},"
    "  \"other/**\":{\"policies\":[{\"users\":[\"bob\"],\"actions\":[\"read\"]}]}},"
    "\"adminPolicy\":{\"users\":[\"root\"],\"actions\":[\"read\"]}}}";

struct world {
    struct og_config *cfg;
    struct og_redis *redis;
    struct og_session_keys *keys;
    struct og_worker_state w;
};

static int group_teardown(void **state)
{
    (void)state;
    og_test_redis_stop(&server);
    return 0;
}

static int setup(void **state)
{
    static const unsigned char master[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    struct world *w = calloc(1, sizeof(*w));
    char err[512];

    *state = w;
    w->cfg = og_config_parse(json, sizeof(json) - 1, "t.json", err, sizeof(err));
    if (!w->cfg) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    w->redis = og_test_redis_client(&server, w->cfg);
    w->keys = og_session_keys_from_bytes(master, sizeof(master));
    if (!w->redis || !w->keys)
        return -1;
    og_test_redis_flush(w->redis);
    w->w.cfg = w->cfg;
    w->w.redis = w->redis;
    w->w.session = w->keys;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    og_session_keys_free(w->keys);
    og_redis_free(w->redis);
    og_config_free(w->cfg);
    free(w);
    return 0;
}

/* A signed-in browser: its Cookie header and its CSRF token. */
struct browser {
    char cookie[OG_SESSION_VALUE_MAX + 64];
    char csrf[OG_SESSION_CSRF_LEN + 1];
};

static void sign_in(struct world *w, const char *user, struct browser *b)
{
    struct og_session s;
    char v[OG_SESSION_VALUE_MAX + 1];

    assert_int_equal(og_session_new(&s, user, NULL, 0, time(NULL), 3600), 0);
    assert_true(og_session_seal(w->keys, &s, v, sizeof(v)) > 0);
    snprintf(b->cookie, sizeof(b->cookie), "other=1; %s=%s", OG_SESSION_COOKIE, v);
    og_session_csrf(w->keys, &s, b->csrf);
}

struct body_ctx {
    const char *p;
    size_t left;
};

static int read_body(void *ctx, char *buf, int n)
{
    struct body_ctx *c = ctx;
    size_t k = c->left < (size_t)n ? c->left : (size_t)n;
    memcpy(buf, c->p, k);
    c->p += k;
    c->left -= k;
    return (int)k;
}

/* One request; returns the status of the answer (from its Status line). */
static int call(struct world *w, const char *method, const char *uri, const struct browser *b,
                const char *origin, const char *site, const char *form)
{
    struct og_request req;
    struct og_log_decision log;
    struct body_ctx bc = { form ? form : "", form ? strlen(form) : 0 };
    struct og_body body = { read_body, &bc };
    size_t n;

    memset(&req, 0, sizeof(req));
    memset(&log, 0, sizeof(log));
    req.role = OG_ROLE_RESPONDER;
    req.method = method;
    req.method_len = strlen(method);
    req.uri = uri;
    req.uri_len = strlen(uri);
    req.remote_addr = "127.0.0.1";
    req.cookie = b ? b->cookie : NULL;
    req.origin = origin;
    req.sec_fetch_site = site;
    if (form) {
        req.content_type = "application/x-www-form-urlencoded";
        req.content_type_len = strlen(req.content_type);
    }
    n = og_keys_endpoint(&w->w, &req, &body, out, sizeof(out), &log);
    assert_true(n > 0);
    assert_true(strncmp(out, "Status: ", 8) == 0);
    assert_int_equal(atoi(out + 8), log.status);
    return log.status;
}

static void noop(const struct og_apikey_record *r, void *arg)
{
    (void)r;
    (void)arg;
}

static long keys_of(struct world *w, const char *user)
{
    return og_apikey_list(w->redis, user, noop, NULL);
}

/* the id of the first data-key-id row of the page in out */
static void first_id(char id[64])
{
    const char *p = strstr(out, "data-key-id=\"");
    assert_non_null(p);
    p += 13;
    size_t n = strcspn(p, "\"");
    assert_true(n < 64);
    memcpy(id, p, n);
    id[n] = '\0';
}

static void form(char *buf, size_t cap, const struct browser *b, const char *rest)
{
    snprintf(buf, cap, "csrf=%s&%s", b->csrf, rest);
}

static void test_no_session(void **state)
{
    struct world *w = *state;
    struct browser forged;
    (void)state;

    assert_int_equal(call(w, "GET", "/ocigate/keys", NULL, NULL, NULL, NULL), 303);
    assert_non_null(strstr(out, "\r\nLocation: /ocigate/login\r\n"));
    /* back from endpoints.logout: a page that says so, with #signin */
    assert_int_equal(call(w, "GET", "/ocigate/keys?state=signed-out", NULL, NULL, NULL, NULL), 200);
    assert_non_null(strstr(out, "Signed out"));
    assert_non_null(strstr(out, "id=\"signin\" class=\"button\" href=\"/ocigate/login\""));
    assert_int_equal(call(w, "GET", "/ocigate/keys?state=other", NULL, NULL, NULL, NULL), 303);
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", NULL, NULL, NULL,
                          "label=x"), 403);
    assert_non_null(strstr(out, "Content-Type: text/html"));
    assert_non_null(strstr(out, "id=\"signin\" class=\"button\" href=\"/ocigate/login\""));
    snprintf(forged.cookie, sizeof(forged.cookie), "%s=AAAA", OG_SESSION_COOKIE);
    assert_int_equal(call(w, "GET", "/ocigate/keys", &forged, NULL, NULL, NULL), 303);
    /* the assets need no session */
    assert_int_equal(call(w, "GET", "/ocigate/keys/app.css", NULL, NULL, NULL, NULL), 200);
    assert_int_equal(call(w, "GET", "/ocigate/keys/app.js", NULL, NULL, NULL, NULL), 200);
    assert_non_null(strstr(out, "text/javascript"));
    /* no session keys (browser sign-in off): 404 */
    w->w.session = NULL;
    assert_int_equal(call(w, "GET", "/ocigate/keys", NULL, NULL, NULL, NULL), 404);
    w->w.session = w->keys;
}

static void test_create_list_revoke(void **state)
{
    struct world *w = *state;
    struct browser b;
    char body[512], id[64], key[64];
    const char *p;
    struct og_apikey_record rec;

    sign_in(w, "alice", &b);
    assert_int_equal(call(w, "GET", "/ocigate/keys", &b, NULL, NULL, NULL), 200);
    assert_non_null(strstr(out, "id=\"user\">alice<"));
    assert_non_null(strstr(out, "No keys yet"));
    assert_non_null(strstr(out, b.csrf));

    form(body, sizeof(body), &b, "label=CI+%3Cone%3E&repos=team%2F**%0D%0Ateam%2Fapp&expires=7");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, "http://127.0.0.1:8080",
                          "same-origin", body), 200);
    p = strstr(out, "<code id=\"new-key\">");
    assert_non_null(p);
    p += strlen("<code id=\"new-key\">");
    memcpy(key, p, OG_APIKEY_LEN);
    key[OG_APIKEY_LEN] = '\0';
    assert_true(og_apikey_format_ok(key, OG_APIKEY_LEN));
    assert_non_null(strstr(out, "docker login 127.0.0.1:8080 --username alice --password-stdin"));
    assert_non_null(strstr(out, "CI &lt;one&gt;"));
    first_id(id);
    assert_int_equal(og_apikey_show(w->redis, id, &rec), 1);
    assert_string_equal(rec.user, "alice");
    assert_string_equal(rec.origin, "openid");
    assert_string_equal(rec.label, "CI <one>");
    assert_string_equal(rec.repos_json, "[\"team/**\",\"team/app\"]");
    assert_true(rec.expires[0] != '\0');
    /* the page after: listed, the key itself never again */
    assert_int_equal(call(w, "GET", "/ocigate/keys", &b, NULL, NULL, NULL), 200);
    assert_non_null(strstr(out, id));
    assert_null(strstr(out, key));
    assert_null(strstr(out, "id=\"new-key\""));

    /* revoke: 303 back to the page, with a notice */
    snprintf(body, sizeof(body), "csrf=%s&id=%s", b.csrf, id);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, NULL, NULL, body), 303);
    assert_non_null(strstr(out, "Location: /ocigate/keys?done=revoked\r\n"));
    assert_int_equal(og_apikey_show(w->redis, id, &rec), 0);
    assert_int_equal(call(w, "GET", "/ocigate/keys?done=revoked", &b, NULL, NULL, NULL), 200);
    assert_non_null(strstr(out, "Key revoked."));
    assert_non_null(strstr(out, "No keys yet"));
    /* again: no such key */
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, NULL, NULL, body), 404);
}

static void test_create_refusals(void **state)
{
    struct world *w = *state;
    struct browser b;
    char body[512];

    sign_in(w, "alice", &b);
    /* more than maxLifetimeDays (30 here) */
    form(body, sizeof(body), &b, "label=x&repos=&expires=31");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 400);
    assert_non_null(strstr(out, "1 to 30"));
    assert_non_null(strstr(out, "value=\"31\""));          /* the form keeps what was typed */
    form(body, sizeof(body), &b, "label=x&repos=&expires=2099-01-01");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 400);
    /* outside what alice may read */
    form(body, sizeof(body), &b, "label=x&repos=other%2F**&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 403);
    assert_non_null(strstr(out, "other/** is not within the repositories you may read"));
    form(body, sizeof(body), &b, "label=x&repos=**&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 403);
    /* a bad glob, a bad label */
    form(body, sizeof(body), &b, "label=x&repos=team%2F%5B&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 400);
    form(body, sizeof(body), &b, "label=a%E2%80%AEb&repos=&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 400);
    assert_int_equal(keys_of(w, "alice"), 0);
    /* empty expiry: the maximum */
    form(body, sizeof(body), &b, "label=x&repos=&expires=");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 200);
    /* maxPerUser (3) */
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 200);
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 200);
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 403);
    assert_non_null(strstr(out, "maxPerUser"));
    assert_int_equal(keys_of(w, "alice"), 3);
    /* unknown pages and methods */
    assert_int_equal(call(w, "GET", "/ocigate/keys/nothing", &b, NULL, NULL, NULL), 404);
    assert_int_equal(call(w, "PUT", "/ocigate/keys", &b, NULL, NULL, NULL), 405);
    assert_int_equal(call(w, "POST", "/ocigate/keys/nothing", &b, NULL, NULL, body), 404);
}

static void test_csrf_and_origin(void **state)
{
    struct world *w = *state;
    struct browser b, other;
    char body[512], id[64];

    sign_in(w, "alice", &b);
    sign_in(w, "alice", &other);     /* the same user, another sign-in */
    form(body, sizeof(body), &b, "label=x&repos=&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 200);
    first_id(id);

    /* without a token, with a wrong one, with another sign-in's */
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL,
                          "label=x&repos=&expires=5"), 403);
    assert_non_null(strstr(out, "security token"));
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL,
                          "csrf=00&label=x&repos=&expires=5"), 403);
    form(body, sizeof(body), &other, "label=x&repos=&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 403);
    snprintf(body, sizeof(body), "csrf=%s&id=%s", other.csrf, id);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, NULL, NULL, body), 403);
    /* the token twice (a second one smuggled in) */
    snprintf(body, sizeof(body), "csrf=%s&csrf=%s&id=%s", b.csrf, b.csrf, id);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, NULL, NULL, body), 400);

    /* the right token, but from another origin or cross-site */
    snprintf(body, sizeof(body), "csrf=%s&id=%s", b.csrf, id);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, "http://127.0.0.1:9999", NULL,
                          body), 403);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, "null", NULL, body), 403);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, "null", "same-site", body), 403);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, NULL, "cross-site", body), 403);
    assert_non_null(strstr(out, "another site"));
    assert_int_equal(keys_of(w, "alice"), 1);
    /* a body that is not a form */
    {
        struct og_request req;
        struct og_log_decision log;
        struct body_ctx bc = { body, strlen(body) };
        struct og_body ob = { read_body, &bc };
        memset(&req, 0, sizeof(req));
        memset(&log, 0, sizeof(log));
        req.role = OG_ROLE_RESPONDER;
        req.method = "POST";
        req.method_len = 4;
        req.uri = "/ocigate/keys/revoke";
        req.uri_len = strlen(req.uri);
        req.cookie = b.cookie;
        req.content_type = "text/plain";
        req.content_type_len = 10;
        assert_true(og_keys_endpoint(&w->w, &req, &ob, out, sizeof(out), &log) > 0);
        assert_int_equal(log.status, 400);
    }
    assert_int_equal(keys_of(w, "alice"), 1);
    /* the same request, same origin: revoked */
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &b, "http://127.0.0.1:8080",
                          "same-origin", body), 303);
    assert_int_equal(keys_of(w, "alice"), 0);
}

static void test_admin(void **state)
{
    struct world *w = *state;
    struct browser alice, bob, root;
    char body[512], id[64];
    struct og_apikey_record rec;

    sign_in(w, "alice", &alice);
    sign_in(w, "bob", &bob);
    sign_in(w, "root", &root);
    form(body, sizeof(body), &alice, "label=a1&repos=&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &alice, NULL, NULL, body), 200);
    first_id(id);
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &alice, NULL, NULL, body), 200);
    form(body, sizeof(body), &bob, "label=b1&repos=other%2Fx&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &bob, NULL, NULL, body), 200);

    /* bob sees only his own and cannot revoke alice's */
    assert_int_equal(call(w, "GET", "/ocigate/keys", &bob, NULL, NULL, NULL), 200);
    assert_null(strstr(out, id));
    assert_null(strstr(out, "revoke-all"));
    snprintf(body, sizeof(body), "csrf=%s&id=%s", bob.csrf, id);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &bob, NULL, NULL, body), 404);
    snprintf(body, sizeof(body), "csrf=%s&user=alice", bob.csrf);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke-user", &bob, NULL, NULL, body), 403);
    assert_int_equal(keys_of(w, "alice"), 2);

    /* root sees everyone's, revokes one of alice's, then all of them */
    assert_int_equal(call(w, "GET", "/ocigate/keys", &root, NULL, NULL, NULL), 200);
    assert_non_null(strstr(out, id));
    assert_non_null(strstr(out, "data-user=\"alice\""));
    assert_non_null(strstr(out, "data-user=\"bob\""));
    assert_non_null(strstr(out, "(administrator)"));
    snprintf(body, sizeof(body), "csrf=%s&id=%s", root.csrf, id);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke", &root, NULL, NULL, body), 303);
    assert_int_equal(og_apikey_show(w->redis, id, &rec), 0);
    assert_int_equal(keys_of(w, "alice"), 1);
    snprintf(body, sizeof(body), "csrf=%s&user=alice", root.csrf);
    assert_int_equal(call(w, "POST", "/ocigate/keys/revoke-user", &root, NULL, NULL, body), 303);
    assert_int_equal(keys_of(w, "alice"), 0);
    assert_int_equal(keys_of(w, "bob"), 1);
    /* an admin may scope any repository */
    form(body, sizeof(body), &root, "label=r&repos=**&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &root, NULL, NULL, body), 200);
}

static void test_redis_down(void **state)
{
    struct world *w = *state;
    struct browser b;
    struct og_redis *dead;
    char err[256], body[512];

    free(w->cfg->redis_url);
    w->cfg->redis_url = strdup("unix:///nonexistent-ocigate-test/redis.sock");
    dead = og_redis_new(w->cfg, err, sizeof(err));
    assert_non_null(dead);
    w->w.redis = dead;
    sign_in(w, "alice", &b);
    assert_int_equal(call(w, "GET", "/ocigate/keys", &b, NULL, NULL, NULL), 503);
    assert_non_null(strstr(out, "Content-Type: text/html"));
    assert_non_null(strstr(out, "key store (Redis) cannot be reached"));
    form(body, sizeof(body), &b, "label=x&repos=&expires=5");
    assert_int_equal(call(w, "POST", "/ocigate/keys/create", &b, NULL, NULL, body), 503);
    assert_null(strstr(out, "zak_"));
    w->w.redis = w->redis;
    og_redis_free(dead);
}

/* The self-service endpoint (apikey_endpoint.c) keeps auth.apikey.maxLifetimeDays
   too: no expirationDate is the maximum, a later one is 400. */
static int api(struct world *w, const char *json_body, char *expires, size_t cap)
{
    struct og_request req;
    struct og_log_decision log;
    struct body_ctx bc = { json_body, strlen(json_body) };
    struct og_body body = { read_body, &bc };
    const char *p;

    memset(&req, 0, sizeof(req));
    memset(&log, 0, sizeof(log));
    req.role = OG_ROLE_RESPONDER;
    req.method = "POST";
    req.method_len = 4;
    req.uri = "/ocigate/apikey";
    req.uri_len = strlen(req.uri);
    req.remote_addr = "127.0.0.1";
    req.authorization = "Basic YWxpY2U6cmlnaHQtcHc=";          /* alice:right-pw */
    req.authorization_len = strlen(req.authorization);
    assert_true(og_apikey_endpoint(&w->w, &req, &body, out, sizeof(out), &log) > 0);
    expires[0] = '\0';
    if ((p = strstr(out, "\"expirationDate\":\"")) != NULL)
        snprintf(expires, cap, "%.20s", p + strlen("\"expirationDate\":\""));
    return log.status;
}

static void test_api_max_lifetime(void **state)
{
    struct world *w = *state;
    char exp[32], body[256], want[32];
    time_t now = time(NULL), t;

    w->w.htpasswd = og_test_users_load();
    assert_non_null(w->w.htpasswd);
    assert_int_equal(api(w, "{\"label\":\"no expiry\"}", exp, sizeof(exp)), 201);
    assert_true(og_apikey_parse_time(exp, &t));
    assert_true(t >= now + 30 * 86400 - 5 && t <= time(NULL) + 30 * 86400);
    og_apikey_format_time(now + 29 * 86400, want);
    snprintf(body, sizeof(body), "{\"expirationDate\":\"%s\"}", want);
    assert_int_equal(api(w, body, exp, sizeof(exp)), 201);
    assert_string_equal(exp, want);
    og_apikey_format_time(now + 31 * 86400, want);
    snprintf(body, sizeof(body), "{\"expirationDate\":\"%s\"}", want);
    assert_int_equal(api(w, body, exp, sizeof(exp)), 400);
    assert_non_null(strstr(out, "maxLifetimeDays"));
    assert_int_equal(keys_of(w, "alice"), 2);
    og_htpasswd_free(w->w.htpasswd);
    w->w.htpasswd = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_list_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csrf_and_origin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_max_lifetime, setup, teardown),
    };
    og_log_configure("error", "json");
    og_test_redis_start_or_exit(&server);
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
