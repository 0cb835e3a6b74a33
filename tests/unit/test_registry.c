/*
 * test_registry.c - the registry client (responder/registry.c) and the facts
 * step around it (og_gather_tag_facts in responder/handle.c) against a
 * stand-in registry on loopback (fake_http.c): 200 is "exists", 404
 * "absent", anything else or no answer is an error that never becomes an
 * allow; a 5xx is asked again a few times (a registry writing the tag may
 * fail to read it back), a 4xx or a timeout is not; a registry that never
 * answers costs one timeout, not a hang. Requests are counted at the server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "decide.h"
#include "fake_http.h"
#include "handle.h"
#include "log.h"
#include "registry.h"
#include "route.h"

#define A200 "HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:" \
    "1111111111111111111111111111111111111111111111111111111111111111\r\n" \
    "Content-Length: 0\r\nConnection: close\r\n\r\n"
#define A404 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define A500 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define A503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define A403 "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define A401 "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define A301 "HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:1/v2/\r\n" \
    "Content-Length: 0\r\nConnection: close\r\n\r\n"

static long ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* One HEAD against a registry that answers `answer`: what the client says. */
static enum og_reg_answer exists_with(const char *answer, long *http, int *requests)
{
    const char *answers[] = { answer };
    struct og_fake_http f;
    struct og_registry *r;
    enum og_reg_answer a;

    og_fake_http_start(&f, answers, 1, NULL);
    r = og_registry_new(f.url, 2000);
    assert_non_null(r);
    a = og_registry_tag_exists(r, "lib/app", "v1", http);
    og_registry_free(r);
    *requests = og_fake_http_requests(&f, NULL, 0);
    og_fake_http_stop(&f);
    return a;
}

static void exists_200_404_and_the_rest(void **state)
{
    static const struct { const char *answer; enum og_reg_answer want; long http; } cases[] = {
        { A200, OG_REG_EXISTS, 200 },
        { A404, OG_REG_ABSENT, 404 },
        { A500, OG_REG_ERROR, 500 },
        { A503, OG_REG_ERROR, 503 },
        { A403, OG_REG_ERROR, 403 },
        { A401, OG_REG_ERROR, 401 },
        { A301, OG_REG_ERROR, 301 },        /* never followed */
        { "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", OG_REG_ERROR, 204 },
        { "garbage\r\n\r\n", OG_REG_ERROR, 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long http = -1;
        int requests;
        enum og_reg_answer a = exists_with(cases[i].answer, &http, &requests);
        if (a != cases[i].want)
            fail_msg("case %zu: answer %d, want %d", i, (int)a, (int)cases[i].want);
        assert_int_equal(http, cases[i].http);
        assert_int_equal(requests, 1);      /* the client itself never retries */
    }
}

static void the_request_asks_for_the_tag(void **state)
{
    const char *answers[] = { A404 };
    struct og_fake_http f;
    struct og_registry *r;
    char seen[512];
    long http;
    (void)state;

    og_fake_http_start(&f, answers, 1, NULL);
    r = og_registry_new(f.url, 2000);
    assert_int_equal(og_registry_tag_exists(r, "team/app", "v1.2.0", &http), OG_REG_ABSENT);
    assert_int_equal(og_fake_http_requests(&f, seen, sizeof(seen)), 1);
    assert_string_equal(seen, "HEAD /v2/team/app/manifests/v1.2.0\n");
    og_registry_free(r);
    og_fake_http_stop(&f);
}

static void digest_needs_a_valid_header(void **state)
{
    const char *answers[] = {
        A200,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",   /* no digest */
        "HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:xyz\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n",
    };
    struct og_fake_http f;
    struct og_registry *r;
    char digest[OG_DIGEST_MAX + 1];
    (void)state;

    og_fake_http_start(&f, answers, 3, NULL);
    r = og_registry_new(f.url, 2000);
    assert_int_equal(og_registry_tag_digest(r, "lib/app", "v1", digest, sizeof(digest)),
                     OG_REG_EXISTS);
    assert_string_equal(digest, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
    /* a 200 without a usable digest cannot tell: an error, never "exists" */
    assert_int_equal(og_registry_tag_digest(r, "lib/app", "v1", digest, sizeof(digest)),
                     OG_REG_ERROR);
    assert_int_equal(og_registry_tag_digest(r, "lib/app", "v1", digest, sizeof(digest)),
                     OG_REG_ERROR);
    og_registry_free(r);
    og_fake_http_stop(&f);
}

/* A registry that accepts the connection and never answers: an error after
   the timeout (the bound below only catches a hang, it is not a benchmark). */
static void no_answer_is_an_error_after_the_timeout(void **state)
{
    const char *answers[] = { OG_FAKE_SILENT };
    struct og_fake_http f;
    struct og_registry *r;
    struct timespec t0;
    long http = -1;
    (void)state;

    og_fake_http_start(&f, answers, 1, NULL);
    r = og_registry_new(f.url, 300);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(og_registry_tag_exists(r, "lib/app", "v1", &http), OG_REG_ERROR);
    assert_int_equal(http, 0);
    assert_true(ms_since(&t0) >= 250);
    assert_true(ms_since(&t0) < 20000);
    assert_int_equal(og_fake_http_requests(&f, NULL, 0), 1);
    og_registry_free(r);
    og_fake_http_stop(&f);
}

static void nobody_listening_is_an_error(void **state)
{
    struct og_registry *r = og_registry_new("http://127.0.0.1:1", 500);
    long http = -1;
    (void)state;
    assert_non_null(r);
    assert_int_equal(og_registry_tag_exists(r, "lib/app", "v1", &http), OG_REG_ERROR);
    assert_int_equal(http, 0);
    og_registry_free(r);
    assert_int_equal(og_registry_tag_exists(NULL, "lib/app", "v1", &http), OG_REG_ERROR);
}

/* ---- og_gather_tag_facts: the retries around the client ---------------- */

struct facts_run {
    bool ok;
    enum og_tag_state state[OG_MAX_TAGS];
    int requests;
};

static struct facts_run gather(const char *const *answers, size_t n, int timeout_ms,
                               const char *uri)
{
    struct og_fake_http f;
    struct og_worker_state w;
    struct og_route route;
    struct og_facts facts;
    struct facts_run out;

    memset(&w, 0, sizeof(w));
    memset(&facts, 0, sizeof(facts));
    og_route_classify("PUT", 3, uri, strlen(uri), NULL, 0, &route);
    assert_int_equal(route.status, 0);
    og_fake_http_start(&f, answers, n, NULL);
    w.registry = og_registry_new(f.url, timeout_ms);
    assert_non_null(w.registry);
    out.ok = og_gather_tag_facts(&w, &route, &facts);
    memcpy(out.state, facts.tag, sizeof(out.state));
    out.requests = og_fake_http_requests(&f, NULL, 0);
    og_registry_free(w.registry);
    og_fake_http_stop(&f);
    return out;
}

static void facts_retry_a_5xx_then_succeed(void **state)
{
    const char *answers[] = { A500, A503, A200 };
    struct facts_run r;
    (void)state;
    r = gather(answers, 3, 2000, "/v2/lib/app/manifests/v1");
    assert_true(r.ok);
    assert_int_equal(r.state[0], OG_TAG_EXISTS);
    assert_int_equal(r.requests, 3);
}

static void facts_give_up_after_three_retries(void **state)
{
    const char *answers[] = { A500 };
    struct facts_run r;
    (void)state;
    r = gather(answers, 1, 2000, "/v2/lib/app/manifests/v1");
    assert_false(r.ok);                     /* 503 for the client, never an allow */
    assert_int_equal(r.state[0], OG_TAG_UNKNOWN);
    assert_int_equal(r.requests, 4);        /* one question and three retries */
}

static void facts_do_not_retry_a_4xx(void **state)
{
    const char *answers[] = { A403, A200 };
    struct facts_run r;
    (void)state;
    r = gather(answers, 2, 2000, "/v2/lib/app/manifests/v1");
    assert_false(r.ok);
    assert_int_equal(r.requests, 1);
}

static void facts_do_not_retry_a_timeout(void **state)
{
    const char *answers[] = { OG_FAKE_SILENT, A200 };
    struct facts_run r;
    (void)state;
    r = gather(answers, 2, 300, "/v2/lib/app/manifests/v1");
    assert_false(r.ok);
    assert_int_equal(r.requests, 1);
}

static void facts_every_tag_of_a_put_by_digest(void **state)
{
    const char *answers[] = { A404, A500, A200 };
    struct facts_run r;
    (void)state;
    r = gather(answers, 3, 2000, "/v2/lib/app/manifests/sha256:"
               "0000000000000000000000000000000000000000000000000000000000000000?tag=a&tag=b");
    assert_true(r.ok);
    assert_int_equal(r.state[0], OG_TAG_ABSENT);
    assert_int_equal(r.state[1], OG_TAG_EXISTS);
    assert_int_equal(r.requests, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exists_200_404_and_the_rest),
        cmocka_unit_test(the_request_asks_for_the_tag),
        cmocka_unit_test(digest_needs_a_valid_header),
        cmocka_unit_test(no_answer_is_an_error_after_the_timeout),
        cmocka_unit_test(nobody_listening_is_an_error),
        cmocka_unit_test(facts_retry_a_5xx_then_succeed),
        cmocka_unit_test(facts_give_up_after_three_retries),
        cmocka_unit_test(facts_do_not_retry_a_4xx),
        cmocka_unit_test(facts_do_not_retry_a_timeout),
        cmocka_unit_test(facts_every_tag_of_a_put_by_digest),
    };
    og_log_configure("error", "text");   /* the facts step warns about failed HEADs */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
