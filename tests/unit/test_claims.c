/*
 * test_claims.c - tag claims (responder/claims.c) in a real, private
 * redis-server (redis_fixture.c): the first claim of a tag wins and a held
 * claim is never taken over (SET NX), a lost claim is reported as lost, a
 * release deletes only the claim's own value, and a manifest write by digest
 * that names several tags claims all of them or none (responder/
 * manifest_write.c through og_handle, against a stand-in registry), and with
 * redis.minReplicas a claim no replica confirmed (WAIT; the fixture has none)
 * is released and the push refused with 503. Skips
 * (the whole file) where redis-server is not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "tag_claims.h"
#include "config.h"
#include "fake_http.h"
#include "handle.h"
#include "log.h"
#include "redis.h"
#include "redis_fixture.h"
#include "registry.h"
#include "response.h"

static struct og_test_redis server;

static const char conf_json[] =
    "{\"registry\":{\"url\":\"http://127.0.0.1:1\",\"timeoutMs\":2000,\"writeTimeoutMs\":3000},"
    " \"token\":{\"challenge\":\"basic\"},"
    " \"accessControl\":{\"repositories\":{\"**\":{\"anonymousPolicy\":[\"read\",\"create\"]}}}}";

struct world {
    struct og_config *cfg;
    struct og_redis *redis;
};

static int group_teardown(void **state)
{
    (void)state;
    og_test_redis_stop(&server);
    return 0;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char err[512];

    w->cfg = og_config_parse(conf_json, sizeof(conf_json) - 1, "t.json", err, sizeof(err));
    if (!w->cfg) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    w->redis = og_test_redis_client(&server, w->cfg);
    if (!w->redis)
        return -1;
    og_test_redis_flush(w->redis);
    *state = w;
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

/* The value held under PREFIX tag:REPO:TAG, "" when there is none. */
static void held(struct og_redis *r, const char *repo, const char *tag, char *out, size_t cap)
{
    redisReply *rep = og_redis_command(r, "GET ocigate:tag:%s:%s", repo, tag);
    assert_non_null(rep);
    assert_true(rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_NIL);
    snprintf(out, cap, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    og_redis_reply_free(rep);
}

static long long ttl_of(struct og_redis *r, const char *repo, const char *tag)
{
    redisReply *rep = og_redis_command(r, "TTL ocigate:tag:%s:%s", repo, tag);
    long long t;
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    t = rep->integer;
    og_redis_reply_free(rep);
    return t;
}

static void first_claim_wins_second_is_held(void **state)
{
    struct world *w = *state;
    char a[OG_CLAIM_VALUE_MAX], b[OG_CLAIM_VALUE_MAX], now[OG_CLAIM_VALUE_MAX];
    long long ttl;

    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "alice", 60, a, sizeof(a)),
                     OG_CLAIM_TAKEN);
    assert_true(a[0] != '\0');
    assert_non_null(strstr(a, " alice"));
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, a);
    ttl = ttl_of(w->redis, "lib/app", "v1");
    assert_true(ttl > 0 && ttl <= 60);

    /* the second push loses, learns nothing to release, and changes nothing */
    memset(b, 'x', sizeof(b));
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "bob", 60, b, sizeof(b)),
                     OG_CLAIM_HELD);
    assert_string_equal(b, "");
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, a);                   /* never taken over */

    /* another tag, another repository: their own claims */
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v2", "bob", 60, b, sizeof(b)),
                     OG_CLAIM_TAKEN);
    assert_int_equal(og_claim_tag(w->redis, "lib/other", "v1", "bob", 60, b, sizeof(b)),
                     OG_CLAIM_TAKEN);
}

static void two_claims_have_different_values(void **state)
{
    struct world *w = *state;
    char a[OG_CLAIM_VALUE_MAX], b[OG_CLAIM_VALUE_MAX];

    /* the same user twice in the same second: the nonce tells them apart */
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "alice", 60, a, sizeof(a)),
                     OG_CLAIM_TAKEN);
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", a), 0);
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "alice", 60, b, sizeof(b)),
                     OG_CLAIM_TAKEN);
    assert_string_not_equal(a, b);
    /* the old value no longer releases the new claim */
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", a), 0);
    held(w->redis, "lib/app", "v1", a, sizeof(a));
    assert_string_equal(a, b);
}

static void release_deletes_only_our_own_claim(void **state)
{
    struct world *w = *state;
    char a[OG_CLAIM_VALUE_MAX], b[OG_CLAIM_VALUE_MAX], now[OG_CLAIM_VALUE_MAX];
    redisReply *rep;

    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "alice", 60, a, sizeof(a)),
                     OG_CLAIM_TAKEN);
    /* someone else's value (a forged or stale one) releases nothing */
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", "1 0000000000000000 mallory"), 0);
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, a);
    /* a lost claim has no value: releasing it is a no-op */
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "bob", 60, b, sizeof(b)),
                     OG_CLAIM_HELD);
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", b), 0);
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, a);

    /* our claim expired and another push claimed the tag: ours is gone, its stays */
    rep = og_redis_command(w->redis, "SET ocigate:tag:lib/app:v1 %s", "2 1111111111111111 carol");
    og_redis_reply_free(rep);
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", a), 0);
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, "2 1111111111111111 carol");
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", now), 0);
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, "");

    /* released: the next push claims it */
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "bob", 60, b, sizeof(b)),
                     OG_CLAIM_TAKEN);
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", b), 0);
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, "");
}

static void who_cannot_break_the_value(void **state)
{
    struct world *w = *state;
    char a[OG_CLAIM_VALUE_MAX];

    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "a b\nc", 60, a, sizeof(a)),
                     OG_CLAIM_TAKEN);
    assert_non_null(strstr(a, " a?b?c"));
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v1", a), 0);
}

static void redis_down_is_unavailable(void **state)
{
    struct world *w = *state;
    struct og_redis *dead;
    char err[256], a[OG_CLAIM_VALUE_MAX];

    free(w->cfg->redis_url);
    w->cfg->redis_url = strdup("unix:///nonexistent/og-claims.sock");
    dead = og_redis_new(w->cfg, err, sizeof(err));
    assert_non_null(dead);
    assert_int_equal(og_claim_tag(dead, "lib/app", "v1", "alice", 60, a, sizeof(a)),
                     OG_CLAIM_UNAVAILABLE);
    assert_string_equal(a, "");
    assert_int_equal(og_claim_release(dead, "lib/app", "v1", "1 0000000000000000 x"), -1);
    assert_int_equal(og_claim_tag(NULL, "lib/app", "v1", "alice", 60, a, sizeof(a)),
                     OG_CLAIM_UNAVAILABLE);
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v1", "alice", 0, a, sizeof(a)),
                     OG_CLAIM_UNAVAILABLE);
    og_redis_free(dead);
}

static void ttl_outlives_the_write(void **state)
{
    (void)state;
    assert_int_equal(og_claim_ttl_s(3000), 3 + OG_CLAIM_GRACE_S);
    assert_int_equal(og_claim_ttl_s(2500), 3 + OG_CLAIM_GRACE_S);
    assert_true(og_claim_ttl_s(1) > 1);
}

/* ---- all or none: a manifest write that names several tags ------------- */

#define DIGEST "sha256:0000000000000000000000000000000000000000000000000000000000000000"

struct mem_body { const char *p; size_t left; };

static int read_mem(void *ctx, char *b, int n)
{
    struct mem_body *m = ctx;
    int k = (size_t)n < m->left ? n : (int)m->left;
    memcpy(b, m->p, (size_t)k);
    m->p += k;
    m->left -= (size_t)k;
    return k;
}

/* PUT by digest with ?tag=v1&tag=v2 as anonymous (may create, not update),
   on the manifest route; the registry knows neither tag and accepts the PUT.
   The answer into buf, the registry's request lines into seen. */
static void push_two_tags(struct world *w, char *buf, size_t cap, char *seen, size_t seen_cap)
{
    static const char manifest[] = "{\"schemaVersion\":2}";
    static const char *const put_answer[] = {
        "HTTP/1.1 201 Created\r\nDocker-Content-Digest: " DIGEST "\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n",
    };
    char *env[] = { "FCGI_ROLE=RESPONDER", "REQUEST_METHOD=PUT", "OCIGATE_SERVE=manifest",
                    "REQUEST_URI=/v2/lib/app/manifests/" DIGEST "?tag=v1&tag=v2",
                    "CONTENT_LENGTH=19", "CONTENT_TYPE=application/vnd.oci.image.manifest.v1+json",
                    "REMOTE_ADDR=127.0.0.1", NULL };
    struct mem_body mb = { manifest, sizeof(manifest) - 1 };
    struct og_body body = { read_mem, &mb };
    struct og_worker_state ws;
    struct og_fake_http f;

    og_fake_http_start(&f, put_answer, 1,
                       "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    memset(&ws, 0, sizeof(ws));
    ws.cfg = w->cfg;
    ws.redis = w->redis;
    ws.registry = og_registry_new(f.url, 2000);
    assert_non_null(ws.registry);
    og_handle(&ws, env, &body, buf, cap);
    og_fake_http_requests(&f, seen, seen_cap);
    og_registry_free(ws.registry);
    og_fake_http_stop(&f);
}

static void several_tags_are_claimed_all_or_none(void **state)
{
    struct world *w = *state;
    char other[OG_CLAIM_VALUE_MAX], now[OG_CLAIM_VALUE_MAX], buf[OG_RESPONSE_MAX], seen[2048];

    /* another push holds v2: this one must not write, and must not keep v1 */
    assert_int_equal(og_claim_tag(w->redis, "lib/app", "v2", "other", 60, other, sizeof(other)),
                     OG_CLAIM_TAKEN);
    push_two_tags(w, buf, sizeof(buf), seen, sizeof(seen));
    /* judged as an update, which anonymous may not do: log in */
    if (strncmp(buf, "Status: 401", 11) != 0)
        fail_msg("%s\n%s", buf, seen);
    assert_non_null(strstr(buf, "a concurrent push claimed or created the tag"));
    assert_null(strstr(seen, "PUT "));                 /* nothing forwarded */
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, "");                      /* v1's claim was released */
    held(w->redis, "lib/app", "v2", now, sizeof(now));
    assert_string_equal(now, other);                   /* v2's holder untouched */

    /* once v2 is released, the same push wins both, writes, and releases both */
    assert_int_equal(og_claim_release(w->redis, "lib/app", "v2", other), 0);
    push_two_tags(w, buf, sizeof(buf), seen, sizeof(seen));
    if (strncmp(buf, "Status: 201", 11) != 0)
        fail_msg("%s\n%s", buf, seen);
    assert_null(strstr(buf, "concurrent"));
    assert_non_null(strstr(seen, "PUT /v2/lib/app/manifests/" DIGEST "?tag=v1&tag=v2\n"));
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, "");
    held(w->redis, "lib/app", "v2", now, sizeof(now));
    assert_string_equal(now, "");
}

static void redis_down_refuses_a_write_that_needs_a_claim(void **state)
{
    struct world *w = *state;
    char buf[OG_RESPONSE_MAX], seen[2048], err[256];
    struct og_redis *live = w->redis;

    free(w->cfg->redis_url);
    w->cfg->redis_url = strdup("unix:///nonexistent/og-claims.sock");
    w->redis = og_redis_new(w->cfg, err, sizeof(err));
    assert_non_null(w->redis);
    push_two_tags(w, buf, sizeof(buf), seen, sizeof(seen));
    og_redis_free(w->redis);
    w->redis = live;
    assert_int_equal(strncmp(buf, "Status: 503", 11), 0);
    assert_null(strstr(seen, "PUT "));
}

/* ---- redis.minReplicas: a claim counts once WAIT says replicas hold it --- */

/* A client of the fixture (a lone Redis: no replica ever acknowledges) with
   redis.minReplicas n and a short timeout. */
static struct og_redis *client_wanting_replicas(struct world *w, int n)
{
    struct og_redis *r = og_test_redis_client(&server, w->cfg);

    og_redis_free(r);
    w->cfg->redis_min_replicas = n;
    w->cfg->redis_timeout_ms = 100;
    return og_redis_new(w->cfg, (char[256]){ 0 }, 256);
}

static void unconfirmed_claim_is_released_and_unavailable(void **state)
{
    struct world *w = *state;
    struct og_redis *r = client_wanting_replicas(w, 1);
    char a[OG_CLAIM_VALUE_MAX], now[OG_CLAIM_VALUE_MAX];

    assert_non_null(r);
    assert_int_equal(og_redis_min_replicas(r), 1);
    assert_int_equal(og_claim_tag(r, "lib/app", "v1", "alice", 60, a, sizeof(a)),
                     OG_CLAIM_UNAVAILABLE);
    assert_string_equal(a, "");
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, "");                       /* our claim did not stay */
    assert_int_equal(og_redis_wait_replicas(r), 0);     /* the same, asked directly */
    og_redis_free(r);

    /* minReplicas 0: no WAIT, the claim counts as before */
    r = client_wanting_replicas(w, 0);
    assert_non_null(r);
    assert_int_equal(og_redis_wait_replicas(r), 1);
    assert_int_equal(og_claim_tag(r, "lib/app", "v1", "alice", 60, a, sizeof(a)),
                     OG_CLAIM_TAKEN);
    og_redis_free(r);
}

static void unconfirmed_claim_refuses_the_write_with_503(void **state)
{
    struct world *w = *state;
    char buf[OG_RESPONSE_MAX], seen[2048], now[OG_CLAIM_VALUE_MAX];
    struct og_redis *live = w->redis;

    w->redis = client_wanting_replicas(w, 1);
    assert_non_null(w->redis);
    push_two_tags(w, buf, sizeof(buf), seen, sizeof(seen));
    og_redis_free(w->redis);
    w->redis = live;
    if (strncmp(buf, "Status: 503", 11) != 0)
        fail_msg("%s\n%s", buf, seen);
    assert_null(strstr(seen, "PUT "));                  /* nothing forwarded */
    held(w->redis, "lib/app", "v1", now, sizeof(now));
    assert_string_equal(now, "");
    held(w->redis, "lib/app", "v2", now, sizeof(now));
    assert_string_equal(now, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_claim_wins_second_is_held, setup, teardown),
        cmocka_unit_test_setup_teardown(two_claims_have_different_values, setup, teardown),
        cmocka_unit_test_setup_teardown(release_deletes_only_our_own_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(who_cannot_break_the_value, setup, teardown),
        cmocka_unit_test_setup_teardown(redis_down_is_unavailable, setup, teardown),
        cmocka_unit_test(ttl_outlives_the_write),
        cmocka_unit_test_setup_teardown(several_tags_are_claimed_all_or_none, setup, teardown),
        cmocka_unit_test_setup_teardown(redis_down_refuses_a_write_that_needs_a_claim, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unconfirmed_claim_is_released_and_unavailable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unconfirmed_claim_refuses_the_write_with_503, setup,
                                        teardown),
    };
    og_log_configure("error", "text");
    og_test_redis_start_or_exit(&server);
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
