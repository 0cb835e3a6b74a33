/*
 * test_route.c - unit tests of the route classifier (policy/route.c).
 *
 * Every request is copied into a heap buffer of exactly its length (no NUL
 * after it), so that a run under valgrind catches any read past the length.
 * Besides every route x method, the tests try the requests that slip past a
 * naive classifier: dot segments, escapes, "//", ';', '#', NUL, '\\',
 * upper case, trailing slashes, duplicate or smuggled query keys, form bodies.
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

#include "action.h"
#include "route.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D256 "sha256:" HEX64
#define D512 "sha512:" HEX64 HEX64

static struct og_route r;

/* A heap copy of exactly len bytes (no terminator), or NULL for NULL. */
static char *exact_copy(const char *s, size_t len)
{
    char *p;

    if (s == NULL)
        return NULL;
    p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, s, len);
    return p;
}

static void classify_n(const char *method, const char *uri, size_t uri_len, const char *ct)
{
    size_t mlen = method ? strlen(method) : 0, ctlen = ct ? strlen(ct) : 0;
    char *m = exact_copy(method, mlen), *u = exact_copy(uri, uri_len), *c = exact_copy(ct, ctlen);

    memset(&r, 0xA5, sizeof r); /* the classifier must overwrite everything */
    og_route_classify(m, mlen, u, uri_len, c, ctlen, &r);
    /* path points into the caller's target; re-point it at the literal. */
    if (u != NULL && r.path >= u && r.path <= u + uri_len)
        r.path = uri + (r.path - u);
    free(m);
    free(u);
    free(c);
}

static void classify_ct(const char *method, const char *uri, const char *ct)
{
    classify_n(method, uri, strlen(uri), ct);
}

static void classify(const char *method, const char *uri)
{
    classify_ct(method, uri, NULL);
}

/* Invariants of every answer, classified or refused. */
static void check_consistent(void)
{
    assert_non_null(r.path);
    if (r.status == 0) {
        assert_null(r.reason);
        assert_int_not_equal(r.kind, OG_R_NONE);
    } else {
        assert_non_null(r.reason);
        assert_true(strlen(r.reason) > 0);
        assert_int_equal(r.kind, OG_R_NONE);
        assert_int_equal(r.action, OG_ACT_NONE);
        assert_string_equal(r.repo, "");
        assert_int_equal(r.repo_len, 0);
        assert_string_equal(r.reference, "");
        assert_int_equal(r.ntags, 0);
        assert_false(r.has_mount || r.has_from || r.has_digest);
    }
    assert_true(r.ntags <= OG_MAX_TAGS);
    if (r.error_code != NULL) {   /* only the 404 of a read by an invalid reference */
        assert_int_equal(r.status, 404);
        assert_string_equal(r.error_code, "MANIFEST_UNKNOWN");
    }
    assert_int_equal(strlen(r.repo), r.repo_len);
    assert_int_equal(strlen(r.from), r.from_len);
}

/* Does the last answer's reason match? A NULL want matches any reason. */
static bool reason_matches(const char *want)
{
    return want == NULL || (r.reason != NULL && strcmp(r.reason, want) == 0);
}

#define EXPECT_STATUS_CT(m, u, ct, st, why)                                              \
    do {                                                                                 \
        classify_ct((m), (u), (ct));                                                     \
        if (r.status != (st))                                                            \
            fail_msg("%s %s: status %d (%s), want %d", (m), (u), r.status,               \
                     r.reason ? r.reason : "-", (st));                                   \
        if (!reason_matches(why))                                                        \
            fail_msg("%s %s: reason \"%s\", want \"%s\"", (m), (u),                      \
                     r.reason ? r.reason : "-", (const char *)(why));                    \
        check_consistent();                                                              \
    } while (0)

#define EXPECT_STATUS(m, u, st, why) EXPECT_STATUS_CT(m, u, NULL, st, why)
#define EXPECT_400(m, u, why) EXPECT_STATUS(m, u, 400, why)
#define EXPECT_404(m, u) EXPECT_STATUS(m, u, 404, "unknown endpoint")
#define EXPECT_405(m, u) EXPECT_STATUS(m, u, 405, NULL)

#define EXPECT_ROUTE(m, u, k, act, rp, ref)                                              \
    do {                                                                                 \
        EXPECT_STATUS((m), (u), 0, NULL);                                                \
        if (r.kind != (k))                                                               \
            fail_msg("%s %s: kind %d, want %d", (m), (u), (int)r.kind, (int)(k));        \
        assert_int_equal(r.action, (act));                                               \
        assert_string_equal(r.repo, (rp));                                               \
        assert_string_equal(r.reference, (ref));                                         \
    } while (0)

/* ---- methods ------------------------------------------------------------ */

static void method_parse_knows_the_seven(void **state)
{
    static const struct { const char *s; enum og_method m; } t[] = {
        { "GET", OG_M_GET },     { "HEAD", OG_M_HEAD },     { "POST", OG_M_POST },
        { "PUT", OG_M_PUT },     { "PATCH", OG_M_PATCH },   { "DELETE", OG_M_DELETE },
        { "OPTIONS", OG_M_OPTIONS },
    };
    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(og_method_parse(t[i].s, strlen(t[i].s)), t[i].m);
        assert_string_equal(og_method_name(t[i].m), t[i].s);
    }
}

static void method_parse_is_exact(void **state)
{
    (void)state;
    assert_int_equal(og_method_parse("get", 3), OG_M_OTHER);
    assert_int_equal(og_method_parse("Get", 3), OG_M_OTHER);
    assert_int_equal(og_method_parse("GETX", 4), OG_M_OTHER);
    assert_int_equal(og_method_parse("GET", 2), OG_M_OTHER);
    assert_int_equal(og_method_parse("GET ", 4), OG_M_OTHER);
    assert_int_equal(og_method_parse("", 0), OG_M_OTHER);
    assert_int_equal(og_method_parse(NULL, 0), OG_M_OTHER);
    assert_int_equal(og_method_parse("GET\0", 4), OG_M_OTHER);
    assert_int_equal(og_method_parse("TRACE", 5), OG_M_OTHER);
    /* length-aware: a longer buffer, a prefix of the right length */
    assert_int_equal(og_method_parse("PUTTING", 3), OG_M_PUT);
}

static void method_name_of_other(void **state)
{
    (void)state;
    assert_string_equal(og_method_name(OG_M_OTHER), "OTHER");
    assert_string_equal(og_method_name((enum og_method)99), "OTHER");
}

static void unknown_methods_are_405(void **state)
{
    (void)state;
    EXPECT_STATUS("TRACE", "/v2/", 405, "unsupported method");
    EXPECT_STATUS("CONNECT", "/v2/a/manifests/v1", 405, "unsupported method");
    EXPECT_STATUS("PROPFIND", "/v2/a/blobs/" D256, 405, "unsupported method");
    EXPECT_STATUS("get", "/v2/a/manifests/v1", 405, "unsupported method");
    EXPECT_STATUS("", "/v2/", 405, "unsupported method");
    EXPECT_STATUS("TRACE", "/metrics", 405, "unsupported method");
    assert_int_equal(r.method, OG_M_OTHER);
}

static void null_method_is_405(void **state)
{
    (void)state;
    classify_n(NULL, "/v2/", 4, NULL);
    assert_int_equal(r.status, 405);
    check_consistent();
}

/* ---- OPTIONS ------------------------------------------------------------ */

static void options_is_preflight_anywhere(void **state)
{
    static const char *const uris[] = {
        "/v2/", "/v2/a/manifests/v1", "/v2/Upper/Case/whatever", "/v2/_zot/ext/search",
        "/metrics", "/v2/a/blobs/uploads/", "/v2/nothing/here?x=%zz",
    };
    (void)state;
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        EXPECT_STATUS("OPTIONS", uris[i], 0, NULL);
        assert_int_equal(r.kind, OG_R_OPTIONS);
        assert_int_equal(r.method, OG_M_OPTIONS);
        assert_int_equal(r.action, OG_ACT_NONE);
        assert_string_equal(r.repo, "");
    }
}

static void options_needs_a_well_formed_target(void **state)
{
    (void)state;
    EXPECT_400("OPTIONS", "/v2/a%2Fb/manifests/v1", "percent-escape in path");
    EXPECT_400("OPTIONS", "/v2/a/../b", "dot segment");
    EXPECT_400("OPTIONS", "/v2/a#x", "fragment in request target");
    EXPECT_400("OPTIONS", "*", "request target not in origin-form");
}

/* ---- /v2/ ping ----------------------------------------------------------- */

static void ping_get_and_head(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/", OG_R_PING, OG_ACT_READ, "", "");
    EXPECT_ROUTE("HEAD", "/v2/", OG_R_PING, OG_ACT_READ, "", "");
    EXPECT_ROUTE("GET", "/v2", OG_R_PING, OG_ACT_READ, "", "");
    EXPECT_ROUTE("HEAD", "/v2", OG_R_PING, OG_ACT_READ, "", "");
    EXPECT_ROUTE("GET", "/v2/?anything=goes", OG_R_PING, OG_ACT_READ, "", "");
    EXPECT_ROUTE("GET", "/v2?", OG_R_PING, OG_ACT_READ, "", "");
    assert_int_equal(r.path_len, 3);
}

static void ping_rejects_writes(void **state)
{
    static const char *const m[] = { "POST", "PUT", "PATCH", "DELETE" };
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        EXPECT_STATUS(m[i], "/v2/", 405, "method not allowed");
        EXPECT_STATUS(m[i], "/v2", 405, "method not allowed");
    }
}

/* ---- outside /v2 ---------------------------------------------------------- */

static void outside_paths_go_back_to_the_caller(void **state)
{
    static const struct { const char *uri; size_t path_len; } t[] = {
        { "/metrics", 8 },
        { "/", 1 },
        { "/ocigate/token?service=r&scope=repository:a:pull", 14 },
        { "/zot/auth/apikey?id=1", 16 },
        { "/v2x", 4 },
        { "/v20/a/manifests/v1", 19 },
        { "/V2/a/manifests/v1", 18 },
        { "/ocigate/healthz/", 17 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        EXPECT_STATUS("GET", t[i].uri, 0, NULL);
        assert_int_equal(r.kind, OG_R_OUTSIDE);
        assert_ptr_equal(r.path, t[i].uri);
        assert_int_equal(r.path_len, t[i].path_len);
        assert_string_equal(r.repo, "");
    }
    EXPECT_STATUS("POST", "/zot/auth/apikey", 0, NULL);
    assert_int_equal(r.kind, OG_R_OUTSIDE);
    EXPECT_STATUS("DELETE", "/zot/auth/apikey?id=x", 0, NULL);
    assert_int_equal(r.kind, OG_R_OUTSIDE);
}

static void outside_paths_are_still_strict(void **state)
{
    (void)state;
    EXPECT_400("GET", "/metrics/../v2/a/manifests/v1", "dot segment");
    EXPECT_400("GET", "/ocigate%2Fmetrics", "percent-escape in path");
    EXPECT_400("GET", "//metrics", "empty path segment");
    EXPECT_400("GET", "/metrics;x", "semicolon in path");
    EXPECT_400("GET", "/metrics~", "forbidden character in path");
}

/* ---- catalog ------------------------------------------------------------ */

static void catalog_get_and_head(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/_catalog", OG_R_CATALOG, OG_ACT_READ, "", "");
    EXPECT_ROUTE("HEAD", "/v2/_catalog", OG_R_CATALOG, OG_ACT_READ, "", "");
    EXPECT_ROUTE("GET", "/v2/_catalog?n=100&last=team-a/y", OG_R_CATALOG, OG_ACT_READ, "", "");
    EXPECT_ROUTE("GET", "/v2/_catalog?n=999999", OG_R_CATALOG, OG_ACT_READ, "", "");
    EXPECT_ROUTE("GET", "/v2/_catalog?last=team-a%2Fy", OG_R_CATALOG, OG_ACT_READ, "", "");
}

static void catalog_rejects_writes(void **state)
{
    (void)state;
    EXPECT_405("POST", "/v2/_catalog");
    EXPECT_405("PUT", "/v2/_catalog");
    EXPECT_405("PATCH", "/v2/_catalog");
    EXPECT_405("DELETE", "/v2/_catalog");
}

static void catalog_trailing_slash_is_404(void **state)
{
    (void)state;
    EXPECT_404("GET", "/v2/_catalog/");
    EXPECT_404("GET", "/v2/_catalogx");
    EXPECT_404("GET", "/v2/_catalog/x");
}

static void catalog_bad_n_is_400(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/_catalog?n=1234567", "invalid n parameter");
    EXPECT_400("GET", "/v2/_catalog?n=", "invalid n parameter");
    EXPECT_400("GET", "/v2/_catalog?n", "invalid n parameter");
    EXPECT_400("GET", "/v2/_catalog?n=-1", "invalid n parameter");
    EXPECT_400("GET", "/v2/_catalog?n=1e3", "invalid n parameter");
    EXPECT_400("GET", "/v2/_catalog?n=+5", "invalid n parameter");
    EXPECT_400("GET", "/v2/_catalog?n=1&n=2", "duplicate query parameter");
}

static void catalog_last_must_be_a_repository(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/_catalog?last=Team-A", "invalid last parameter");
    EXPECT_400("GET", "/v2/_catalog?last=a//b", "invalid last parameter");
    EXPECT_400("GET", "/v2/_catalog?last=", "invalid last parameter");
    EXPECT_400("GET", "/v2/_catalog?last=a&last=b", "duplicate query parameter");
}

static void registry_extensions_are_404(void **state)
{
    (void)state;
    EXPECT_404("GET", "/v2/_oci/ext/discover");
    EXPECT_404("GET", "/v2/_zot/ext/search");
    EXPECT_404("POST", "/v2/_zot/ext/search");
    EXPECT_404("GET", "/v2/_zot/ext/mgmt");
    EXPECT_404("PUT", "/v2/_zot/ext/userprefs?action=toggleStar&repo=a");
    EXPECT_404("POST", "/v2/_zot/ext/cosign");
    EXPECT_404("GET", "/v2/_zot/ext/manifests/v1");
    EXPECT_404("GET", "/v2/_");
}

/* ---- tags list ------------------------------------------------------------ */

static void tags_list_get_and_head(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/tags/list", OG_R_TAGS_LIST, OG_ACT_READ, "a", "");
    EXPECT_ROUTE("HEAD", "/v2/a/tags/list", OG_R_TAGS_LIST, OG_ACT_READ, "a", "");
    EXPECT_ROUTE("GET", "/v2/team-a/sub.x/y_z/tags/list", OG_R_TAGS_LIST, OG_ACT_READ,
                 "team-a/sub.x/y_z", "");
    assert_int_equal(r.repo_len, 16);
    EXPECT_ROUTE("GET", "/v2/a/tags/list?n=10&last=v1.0", OG_R_TAGS_LIST, OG_ACT_READ, "a", "");
}

static void tags_list_rejects_writes(void **state)
{
    (void)state;
    EXPECT_405("PUT", "/v2/a/tags/list");
    EXPECT_405("POST", "/v2/a/tags/list");
    EXPECT_405("PATCH", "/v2/a/tags/list");
    EXPECT_405("DELETE", "/v2/a/tags/list");
}

static void tags_list_trailing_slash_is_404(void **state)
{
    (void)state;
    EXPECT_404("GET", "/v2/a/tags/list/");
    EXPECT_404("GET", "/v2/a/tags/");
    EXPECT_404("GET", "/v2/a/tags");
    EXPECT_404("GET", "/v2/tags/list");
}

static void tags_list_last_must_be_a_tag(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a/tags/list?last=a/b", "invalid last parameter");
    EXPECT_400("GET", "/v2/a/tags/list?last=-v1", "invalid last parameter");
    EXPECT_400("GET", "/v2/a/tags/list?n=x", "invalid n parameter");
    EXPECT_ROUTE("GET", "/v2/a/tags/list?last=V1_x", OG_R_TAGS_LIST, OG_ACT_READ, "a", "");
}

/* ---- manifests ------------------------------------------------------------ */

static void manifest_read_by_tag(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/manifests/v1", OG_R_MANIFEST, OG_ACT_READ, "a", "v1");
    assert_false(r.ref_is_digest);
    assert_int_equal(r.ntags, 0);
    EXPECT_ROUTE("HEAD", "/v2/a/b/manifests/latest", OG_R_MANIFEST, OG_ACT_READ, "a/b", "latest");
    EXPECT_ROUTE("GET", "/v2/a/manifests/_x.Y-1", OG_R_MANIFEST, OG_ACT_READ, "a", "_x.Y-1");
}

static void manifest_read_by_digest(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/manifests/" D256, OG_R_MANIFEST, OG_ACT_READ, "a", D256);
    assert_true(r.ref_is_digest);
    EXPECT_ROUTE("HEAD", "/v2/a/manifests/" D512, OG_R_MANIFEST, OG_ACT_READ, "a", D512);
    assert_true(r.ref_is_digest);
}

static void manifest_put_by_tag_writes_that_tag(void **state)
{
    (void)state;
    EXPECT_ROUTE("PUT", "/v2/team-a/y/manifests/v1.2", OG_R_MANIFEST, OG_ACT_CREATE,
                 "team-a/y", "v1.2");
    assert_false(r.ref_is_digest);
    assert_int_equal(r.ntags, 1);
    assert_string_equal(r.tags[0], "v1.2");
}

static void manifest_put_by_digest_without_tags(void **state)
{
    (void)state;
    EXPECT_ROUTE("PUT", "/v2/a/manifests/" D256, OG_R_MANIFEST, OG_ACT_CREATE, "a", D256);
    assert_true(r.ref_is_digest);
    assert_int_equal(r.ntags, 0);
}

static void manifest_delete_by_tag_and_digest(void **state)
{
    (void)state;
    EXPECT_ROUTE("DELETE", "/v2/a/manifests/v1", OG_R_MANIFEST, OG_ACT_DELETE, "a", "v1");
    assert_int_equal(r.ntags, 0);
    EXPECT_ROUTE("DELETE", "/v2/a/manifests/" D256, OG_R_MANIFEST, OG_ACT_DELETE, "a", D256);
}

static void manifest_rejects_post_and_patch(void **state)
{
    (void)state;
    EXPECT_STATUS("POST", "/v2/a/manifests/v1", 405, "method not allowed");
    EXPECT_405("PATCH", "/v2/a/manifests/v1");
    EXPECT_405("POST", "/v2/a/manifests/" D256);
}

/* A manifest write by an invalid reference is 400; a read of one is 404. */
#define EXPECT_BAD_MANIFEST_REF(u, why)                                                  \
    do {                                                                                 \
        EXPECT_400("PUT", (u), (why));                                                   \
        EXPECT_400("DELETE", (u), (why));                                                \
        EXPECT_STATUS("GET", (u), 404, READ_OF_BAD_REF);                                 \
        assert_string_equal(r.error_code, "MANIFEST_UNKNOWN");                           \
        EXPECT_STATUS("HEAD", (u), 404, READ_OF_BAD_REF);                                \
        assert_string_equal(r.error_code, "MANIFEST_UNKNOWN");                           \
    } while (0)
#define READ_OF_BAD_REF "invalid manifest reference: no manifest can exist there"

static void manifest_tag_grammar(void **state)
{
    char uri[256];
    char tag[OG_TAG_MAX + 2];
    (void)state;
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/-v1", "invalid tag");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/.v1", "invalid tag");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/v+1", "invalid tag");
    memset(tag, 'x', sizeof tag);
    tag[OG_TAG_MAX] = '\0';
    snprintf(uri, sizeof uri, "/v2/a/manifests/%s", tag);
    EXPECT_ROUTE("GET", uri, OG_R_MANIFEST, OG_ACT_READ, "a", tag);
    tag[OG_TAG_MAX] = 'x';
    tag[OG_TAG_MAX + 1] = '\0';
    snprintf(uri, sizeof uri, "/v2/a/manifests/%s", tag);
    EXPECT_BAD_MANIFEST_REF(uri, "invalid tag");
}

static void manifest_digest_grammar(void **state)
{
    (void)state;
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/sha256:0123", "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/sha256:" HEX64 "0", "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/sha256:ABCDEF" HEX64, "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/sha256:0123456789ABCDEF0123456789abcdef"
                            "0123456789abcdef0123456789abcdef", "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/sha384:" HEX64 "0123456789abcdef0123456789abcdef",
                            "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/SHA256:" HEX64, "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/sha512:" HEX64, "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/sha256+b64:" HEX64, "invalid digest");
    EXPECT_BAD_MANIFEST_REF("/v2/a/manifests/v1:x", "invalid digest");
}

/*
 * The OCI conformance suite reads /v2/R/manifests/.INVALID_MANIFEST_NAME and
 * expects 404 MANIFEST_UNKNOWN, as registries answer: no manifest can exist
 * under a reference no grammar allows. Only reads: a write stays 400, and
 * so does everything that is wrong besides the reference (the name, the
 * path's bytes, a method the endpoint does not take).
 */
static void invalid_manifest_reference_reads_are_404(void **state)
{
    (void)state;
    EXPECT_STATUS("GET", "/v2/r/manifests/.INVALID_MANIFEST_NAME", 404, READ_OF_BAD_REF);
    assert_string_equal(r.error_code, "MANIFEST_UNKNOWN");
    EXPECT_STATUS("HEAD", "/v2/a/b/manifests/.INVALID_MANIFEST_NAME", 404, READ_OF_BAD_REF);
    assert_string_equal(r.error_code, "MANIFEST_UNKNOWN");
    EXPECT_400("PUT", "/v2/r/manifests/.INVALID_MANIFEST_NAME", "invalid tag");
    assert_null(r.error_code);
    EXPECT_400("DELETE", "/v2/r/manifests/.INVALID_MANIFEST_NAME", "invalid tag");
    /* a wrong name is still 400, for reads too */
    EXPECT_400("GET", "/v2/-r/manifests/.INVALID_MANIFEST_NAME", NULL);
    EXPECT_400("GET", "/v2/R/manifests/.INVALID_MANIFEST_NAME", "upper-case repository name");
    /* so are bad bytes and dot segments */
    EXPECT_400("GET", "/v2/r/manifests/..", "dot segment");
    EXPECT_400("GET", "/v2/r/manifests/v%31", "percent-escape in path");
    /* a method the endpoint does not take is judged after the grammar, as before */
    EXPECT_400("POST", "/v2/r/manifests/.INVALID_MANIFEST_NAME", "invalid tag");
    /* blobs are not manifests: an invalid blob digest stays 400 */
    EXPECT_400("GET", "/v2/r/blobs/.INVALID", "invalid digest");
    /* a valid reference is classified as always */
    EXPECT_ROUTE("HEAD", "/v2/r/manifests/INVALID_MANIFEST_NAME", OG_R_MANIFEST, OG_ACT_READ,
                 "r", "INVALID_MANIFEST_NAME");
    assert_null(r.error_code);
}

static void manifest_put_by_digest_with_tags(void **state)
{
    (void)state;
    EXPECT_ROUTE("PUT", "/v2/a/manifests/" D256 "?tag=v1&tag=latest", OG_R_MANIFEST,
                 OG_ACT_CREATE, "a", D256);
    assert_int_equal(r.ntags, 2);
    assert_string_equal(r.tags[0], "v1");
    assert_string_equal(r.tags[1], "latest");
}

static void manifest_tags_are_deduplicated(void **state)
{
    (void)state;
    EXPECT_ROUTE("PUT", "/v2/a/manifests/" D256 "?tag=a&tag=a", OG_R_MANIFEST, OG_ACT_CREATE,
                 "a", D256);
    assert_int_equal(r.ntags, 1);
    assert_string_equal(r.tags[0], "a");
    EXPECT_STATUS("PUT", "/v2/a/manifests/" D256 "?tag=a&tag=b&tag=a&tag=v%31&tag=v1", 0, NULL);
    assert_int_equal(r.ntags, 3);
    assert_string_equal(r.tags[2], "v1");
}

static void manifest_tag_count_is_bounded(void **state)
{
    char uri[1024];
    size_t n;
    (void)state;

    n = (size_t)snprintf(uri, sizeof uri, "/v2/a/manifests/%s?", D256);
    for (int i = 0; i < OG_MAX_TAGS; i++)
        n += (size_t)snprintf(uri + n, sizeof uri - n, "tag=t%d&", i);
    EXPECT_STATUS("PUT", uri, 0, NULL);
    assert_int_equal(r.ntags, OG_MAX_TAGS);
    /* repeats of tags already held are fine */
    n += (size_t)snprintf(uri + n, sizeof uri - n, "tag=t0&tag=t15");
    EXPECT_STATUS("PUT", uri, 0, NULL);
    assert_int_equal(r.ntags, OG_MAX_TAGS);
    /* one more distinct tag is not */
    snprintf(uri + n, sizeof uri - n, "&tag=t16");
    EXPECT_400("PUT", uri, "too many tags");
}

static void manifest_invalid_tag_parameter_is_400(void **state)
{
    (void)state;
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag=-x", "invalid tag parameter");
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag=", "invalid tag parameter");
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag", "invalid tag parameter");
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag=ok&tag=a%2Fb", "invalid tag parameter");
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag=a+b", "invalid tag parameter");
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag=a%20b", "invalid tag parameter");
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag=a%26tag%3Db", "invalid tag parameter");
}

static void manifest_put_by_tag_refuses_tag_parameter(void **state)
{
    (void)state;
    EXPECT_400("PUT", "/v2/a/manifests/v1?tag=v2", "tag parameter on a put by tag");
    EXPECT_400("PUT", "/v2/a/manifests/v1?tag=v1", "tag parameter on a put by tag");
}

static void manifest_tag_parameter_ignored_elsewhere(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/manifests/v1?tag=!!&tag=!!", OG_R_MANIFEST, OG_ACT_READ, "a", "v1");
    assert_int_equal(r.ntags, 0);
    EXPECT_ROUTE("DELETE", "/v2/a/manifests/" D256 "?tag=v1", OG_R_MANIFEST, OG_ACT_DELETE, "a",
                 D256);
    assert_int_equal(r.ntags, 0);
}

static void manifest_without_reference_is_404(void **state)
{
    (void)state;
    EXPECT_404("GET", "/v2/a/manifests");
    EXPECT_404("GET", "/v2/a/manifests/");
    EXPECT_404("GET", "/v2/manifests/v1");
    EXPECT_404("GET", "/v2/a/MANIFESTS/v1");
    EXPECT_404("GET", "/v2/a/manifest/v1");
}

static void repository_named_like_an_endpoint(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/manifests/manifests/v1", OG_R_MANIFEST, OG_ACT_READ,
                 "a/manifests", "v1");
    EXPECT_ROUTE("GET", "/v2/x/manifests/tags/list", OG_R_TAGS_LIST, OG_ACT_READ,
                 "x/manifests", "");
    EXPECT_ROUTE("GET", "/v2/a/blobs/uploads/blobs/" D256, OG_R_BLOB, OG_ACT_READ,
                 "a/blobs/uploads", D256);
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/blobs/uploads/", OG_R_UPLOAD_START, OG_ACT_CREATE,
                 "a/blobs/uploads", "");
}

/* ---- blobs ---------------------------------------------------------------- */

static void blob_read_and_delete(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/blobs/" D256, OG_R_BLOB, OG_ACT_READ, "a", D256);
    assert_true(r.ref_is_digest);
    EXPECT_ROUTE("HEAD", "/v2/a/b/blobs/" D512, OG_R_BLOB, OG_ACT_READ, "a/b", D512);
    EXPECT_ROUTE("DELETE", "/v2/a/blobs/" D256, OG_R_BLOB, OG_ACT_DELETE, "a", D256);
}

static void blob_rejects_writes(void **state)
{
    (void)state;
    EXPECT_405("PUT", "/v2/a/blobs/" D256);
    EXPECT_405("POST", "/v2/a/blobs/" D256);
    EXPECT_405("PATCH", "/v2/a/blobs/" D256);
}

static void blob_needs_a_digest(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a/blobs/v1", "invalid digest");
    EXPECT_400("GET", "/v2/a/blobs/sha256:abc", "invalid digest");
    EXPECT_400("POST", "/v2/a/blobs/uploads", "invalid digest");
    EXPECT_404("GET", "/v2/a/blobs/");
    EXPECT_404("GET", "/v2/a/blobs");
}

static void blob_ignores_upload_parameters(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/blobs/" D256 "?mount=x&mount=y&from=Z", OG_R_BLOB, OG_ACT_READ,
                 "a", D256);
    assert_false(r.has_mount || r.has_from || r.has_digest);
}

/* ---- upload start -------------------------------------------------------- */

static void upload_start_is_a_post(void **state)
{
    (void)state;
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/", OG_R_UPLOAD_START, OG_ACT_CREATE, "a", "");
    assert_false(r.has_mount || r.has_from || r.has_digest);
    EXPECT_ROUTE("POST", "/v2/team-a/y/blobs/uploads/", OG_R_UPLOAD_START, OG_ACT_CREATE,
                 "team-a/y", "");
}

static void upload_start_rejects_other_methods(void **state)
{
    static const char *const m[] = { "GET", "HEAD", "PUT", "PATCH", "DELETE" };
    (void)state;
    for (size_t i = 0; i < 5; i++)
        EXPECT_STATUS(m[i], "/v2/a/blobs/uploads/", 405, "method not allowed");
}

static void upload_start_mount_and_from(void **state)
{
    (void)state;
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=team-a/y", OG_R_UPLOAD_START,
                 OG_ACT_CREATE, "a", "");
    assert_true(r.has_mount);
    assert_string_equal(r.mount, D256);
    assert_true(r.has_from);
    assert_string_equal(r.from, "team-a/y");
    assert_int_equal(r.from_len, 8);
    assert_false(r.has_digest);
}

static void upload_start_mount_without_from(void **state)
{
    (void)state;
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?mount=" D512, OG_R_UPLOAD_START, OG_ACT_CREATE,
                 "a", "");
    assert_true(r.has_mount);
    assert_string_equal(r.mount, D512);
    assert_false(r.has_from);
    assert_int_equal(r.from_len, 0);
}

static void upload_start_from_without_mount_is_400(void **state)
{
    (void)state;
    EXPECT_400("POST", "/v2/a/blobs/uploads/?from=b", "from without mount");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?from=b&digest=" D256, "from without mount");
}

static void upload_start_duplicate_keys_are_400(void **state)
{
    (void)state;
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&mount=" D512 "&from=b",
               "duplicate query parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&mount=" D256,
               "duplicate query parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=b&from=c",
               "duplicate query parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?digest=" D256 "&digest=" D256,
               "duplicate query parameter");
}

static void upload_start_decodes_query_values(void **state)
{
    (void)state;
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?mount=sha256%3A" HEX64 "&from=team-a%2Fy",
                 OG_R_UPLOAD_START, OG_ACT_CREATE, "a", "");
    assert_string_equal(r.mount, D256);
    assert_string_equal(r.from, "team-a/y");
    assert_int_equal(r.from_len, 8);
    EXPECT_STATUS("POST", "/v2/a/blobs/uploads/?mount=sha256%3a" HEX64 "&from=%74eam", 0, NULL);
    assert_string_equal(r.from, "team");
}

static void upload_start_invalid_values_are_400(void **state)
{
    (void)state;
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=sha256:abc", "invalid mount parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=", "invalid mount parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount", "invalid mount parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=Team-A", "invalid from parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=a/../b", "invalid from parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=a%2F%2Fb",
               "invalid from parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=", "invalid from parameter");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?digest=md5:abc", "invalid digest parameter");
}

static void upload_start_from_length_is_bounded(void **state)
{
    char uri[700];
    char name[OG_REPO_MAX + 2];
    (void)state;
    memset(name, 'a', sizeof name);
    name[OG_REPO_MAX] = '\0';
    snprintf(uri, sizeof uri, "/v2/a/blobs/uploads/?mount=%s&from=%s", D256, name);
    EXPECT_STATUS("POST", uri, 0, NULL);
    assert_int_equal(r.from_len, OG_REPO_MAX);
    name[OG_REPO_MAX] = 'a';
    name[OG_REPO_MAX + 1] = '\0';
    snprintf(uri, sizeof uri, "/v2/a/blobs/uploads/?mount=%s&from=%s", D256, name);
    EXPECT_400("POST", uri, "invalid from parameter");
}

static void upload_start_monolithic_digest(void **state)
{
    (void)state;
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?digest=" D256, OG_R_UPLOAD_START, OG_ACT_CREATE,
                 "a", "");
    assert_true(r.has_digest);
    assert_false(r.has_mount);
}

static void upload_start_form_content_type_is_400(void **state)
{
    static const char *const forms[] = {
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "Application/X-WWW-Form-URLEncoded; charset=utf-8",
        "  multipart/form-data  ;boundary=1",
        "MULTIPART/FORM-DATA",
        "application/octet-stream, application/x-www-form-urlencoded",
        "\tapplication/x-www-form-urlencoded\t",
    };
    (void)state;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        EXPECT_STATUS_CT("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=b", forms[i], 400,
                         "form content type on upload");
}

static void upload_start_other_content_types_pass(void **state)
{
    static const char *const ok[] = {
        "application/octet-stream", "", "application/x-www-form-urlencodedx",
        "text/multipart/form-data", "application/json; x=application/x-www-form-urlencoded",
    };
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        EXPECT_STATUS_CT("POST", "/v2/a/blobs/uploads/", ok[i], 0, NULL);
        assert_int_equal(r.kind, OG_R_UPLOAD_START);
    }
}

/* ---- upload session ----------------------------------------------------- */

#define UUID "3f1c2b9a-8e7d-4c6b-a5f4-e3d2c1b0a987"

static void upload_session_methods(void **state)
{
    (void)state;
    EXPECT_ROUTE("PATCH", "/v2/a/blobs/uploads/" UUID, OG_R_UPLOAD, OG_ACT_CREATE, "a", UUID);
    assert_false(r.ref_is_digest);
    EXPECT_ROUTE("PUT", "/v2/a/blobs/uploads/" UUID, OG_R_UPLOAD, OG_ACT_CREATE, "a", UUID);
    EXPECT_ROUTE("GET", "/v2/a/blobs/uploads/" UUID, OG_R_UPLOAD, OG_ACT_READ, "a", UUID);
    EXPECT_ROUTE("HEAD", "/v2/a/blobs/uploads/" UUID, OG_R_UPLOAD, OG_ACT_READ, "a", UUID);
    EXPECT_ROUTE("DELETE", "/v2/a/blobs/uploads/" UUID, OG_R_UPLOAD, OG_ACT_DELETE, "a", UUID);
    EXPECT_ROUTE("PATCH", "/v2/x/y/blobs/uploads/a.b_c-d", OG_R_UPLOAD, OG_ACT_CREATE, "x/y",
                 "a.b_c-d");
}

static void upload_session_rejects_post(void **state)
{
    (void)state;
    EXPECT_STATUS("POST", "/v2/a/blobs/uploads/" UUID, 405, "method not allowed");
}

static void upload_session_put_digest(void **state)
{
    (void)state;
    EXPECT_ROUTE("PUT", "/v2/a/blobs/uploads/" UUID "?digest=" D256, OG_R_UPLOAD, OG_ACT_CREATE,
                 "a", UUID);
    assert_true(r.has_digest);
    EXPECT_ROUTE("PUT", "/v2/a/blobs/uploads/" UUID "?_state=abc&digest=sha256%3A" HEX64,
                 OG_R_UPLOAD, OG_ACT_CREATE, "a", UUID);
    assert_true(r.has_digest);
    EXPECT_400("PUT", "/v2/a/blobs/uploads/" UUID "?digest=sha256:XYZ", "invalid digest parameter");
    EXPECT_400("PUT", "/v2/a/blobs/uploads/" UUID "?digest=" D256 "&digest=" D512,
               "duplicate query parameter");
}

static void upload_session_digest_ignored_on_patch(void **state)
{
    (void)state;
    EXPECT_ROUTE("PATCH", "/v2/a/blobs/uploads/" UUID "?digest=junk&mount=junk", OG_R_UPLOAD,
                 OG_ACT_CREATE, "a", UUID);
    assert_false(r.has_digest || r.has_mount);
}

static void upload_session_state_is_opaque(void **state)
{
    (void)state;
    EXPECT_ROUTE("PATCH", "/v2/a/blobs/uploads/" UUID "?_state=eyJhIjoxfQ%3D%3D+/x", OG_R_UPLOAD,
                 OG_ACT_CREATE, "a", UUID);
    EXPECT_400("PATCH", "/v2/a/blobs/uploads/" UUID "?_state=a&_state=b",
               "duplicate query parameter");
    EXPECT_400("PATCH", "/v2/a/blobs/uploads/" UUID "?_state=a%0d%0aX", "control byte in query");
}

static void upload_session_id_grammar(void **state)
{
    char uri[400];
    char id[OG_REF_MAX + 2];
    (void)state;
    EXPECT_400("PATCH", "/v2/a/blobs/uploads/...", "invalid upload id");
    EXPECT_400("PATCH", "/v2/a/blobs/uploads/-_-", "invalid upload id");
    EXPECT_400("PATCH", "/v2/a/blobs/uploads/a+b", "invalid upload id");
    memset(id, 'u', sizeof id);
    id[OG_REF_MAX] = '\0';
    snprintf(uri, sizeof uri, "/v2/a/blobs/uploads/%s", id);
    EXPECT_ROUTE("PATCH", uri, OG_R_UPLOAD, OG_ACT_CREATE, "a", id);
    id[OG_REF_MAX] = 'u';
    id[OG_REF_MAX + 1] = '\0';
    snprintf(uri, sizeof uri, "/v2/a/blobs/uploads/%s", id);
    EXPECT_400("PATCH", uri, "invalid upload id");
}

static void upload_session_form_content_type_is_400(void **state)
{
    (void)state;
    EXPECT_STATUS_CT("PATCH", "/v2/a/blobs/uploads/" UUID, "application/x-www-form-urlencoded",
                     400, "form content type on upload");
    EXPECT_STATUS_CT("PUT", "/v2/a/blobs/uploads/" UUID "?digest=" D256, "multipart/form-data",
                     400, "form content type on upload");
    /* not a write, or not an upload: the content type is not ours to judge */
    EXPECT_STATUS_CT("GET", "/v2/a/blobs/uploads/" UUID, "multipart/form-data", 0, NULL);
    EXPECT_STATUS_CT("DELETE", "/v2/a/blobs/uploads/" UUID, "multipart/form-data", 0, NULL);
    EXPECT_STATUS_CT("PUT", "/v2/a/manifests/v1", "application/x-www-form-urlencoded", 0, NULL);
    EXPECT_STATUS_CT("PATCH", "/v2/a/blobs/uploads/" UUID, "application/octet-stream", 0, NULL);
}

/* The brief's example: the id is not an upload id (':'), and no blob shape fits. */
static void upload_id_that_looks_like_a_digest(void **state)
{
    (void)state;
    EXPECT_STATUS("PUT", "/v2/a/blobs/uploads/" D256, 400, NULL);
    EXPECT_STATUS("GET", "/v2/a/blobs/uploads/" D256, 400, NULL);
    EXPECT_STATUS("DELETE", "/v2/a/blobs/uploads/" D256, 400, NULL);
}

/* ---- referrers ---------------------------------------------------------- */

static void referrers_get_and_head(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/referrers/" D256, OG_R_REFERRERS, OG_ACT_READ, "a", D256);
    assert_true(r.ref_is_digest);
    EXPECT_ROUTE("HEAD", "/v2/a/referrers/" D256, OG_R_REFERRERS, OG_ACT_READ, "a", D256);
    EXPECT_ROUTE("GET", "/v2/a/referrers/" D256 "?artifactType=application%2Fvnd.x%2Bjson",
                 OG_R_REFERRERS, OG_ACT_READ, "a", D256);
    EXPECT_400("GET", "/v2/a/referrers/" D256 "?artifactType=a&artifactType=b",
               "duplicate query parameter");
}

static void referrers_rejects_writes(void **state)
{
    (void)state;
    EXPECT_405("PUT", "/v2/a/referrers/" D256);
    EXPECT_405("POST", "/v2/a/referrers/" D256);
    EXPECT_405("PATCH", "/v2/a/referrers/" D256);
    EXPECT_405("DELETE", "/v2/a/referrers/" D256);
}

static void referrers_need_a_digest(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a/referrers/v1", "invalid digest");
    EXPECT_404("GET", "/v2/a/referrers/");
    EXPECT_404("GET", "/v2/a/referrers");
}

/* ---- every route x every method ----------------------------------------- */

static void route_method_matrix(void **state)
{
    enum { G = 1, H = 2, PO = 4, PU = 8, PA = 16, DE = 32 };
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" };
    static const unsigned actions[] = { OG_ACT_READ, OG_ACT_READ, OG_ACT_CREATE,
                                        OG_ACT_CREATE, OG_ACT_CREATE, OG_ACT_DELETE };
    static const struct { const char *uri; enum og_route_kind kind; unsigned ok; } t[] = {
        { "/v2/", OG_R_PING, G | H },
        { "/v2", OG_R_PING, G | H },
        { "/v2/_catalog", OG_R_CATALOG, G | H },
        { "/v2/a/tags/list", OG_R_TAGS_LIST, G | H },
        { "/v2/a/manifests/v1", OG_R_MANIFEST, G | H | PU | DE },
        { "/v2/a/manifests/" D256, OG_R_MANIFEST, G | H | PU | DE },
        { "/v2/a/blobs/" D256, OG_R_BLOB, G | H | DE },
        { "/v2/a/blobs/uploads/", OG_R_UPLOAD_START, PO },
        { "/v2/a/blobs/uploads/" UUID, OG_R_UPLOAD, G | H | PU | PA | DE },
        { "/v2/a/referrers/" D256, OG_R_REFERRERS, G | H },
        { "/metrics", OG_R_OUTSIDE, G | H | PO | PU | PA | DE },
    };
    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (size_t j = 0; j < 6; j++) {
            classify(methods[j], t[i].uri);
            check_consistent();
            if (t[i].ok & (1u << j)) {
                if (r.status != 0 || r.kind != t[i].kind)
                    fail_msg("%s %s: status %d kind %d", methods[j], t[i].uri, r.status,
                             (int)r.kind);
                assert_int_equal(r.action, actions[j]);
                assert_int_equal(r.method, og_method_parse(methods[j], strlen(methods[j])));
            } else if (r.status != 405) {
                fail_msg("%s %s: status %d, want 405", methods[j], t[i].uri, r.status);
            }
        }
        classify("OPTIONS", t[i].uri);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.kind, OG_R_OPTIONS);
    }
}

/* ---- the target as bytes: requests a naive classifier lets through ------ */

static void dot_dot_segments_are_400(void **state)
{
    (void)state;
    EXPECT_400("PUT", "/v2/team-b/x/../../team-a/y/manifests/v1", "dot segment");
    EXPECT_400("GET", "/v2/a/manifests/..", "dot segment");
    EXPECT_400("GET", "/v2/../v2/a/manifests/v1", "dot segment");
    EXPECT_400("GET", "/..", "dot segment");
    EXPECT_400("GET", "/v2/a/blobs/uploads/..", "dot segment");
}

static void dot_segments_are_400(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a/./manifests/v1", "dot segment");
    EXPECT_400("GET", "/v2/./", "dot segment");
    EXPECT_400("GET", "/v2/a/manifests/.", "dot segment");
    EXPECT_400("POST", "/v2/a/blobs/uploads/./", "dot segment");
}

static void percent_escapes_in_path_are_400(void **state)
{
    (void)state;
    EXPECT_400("PUT", "/v2/team-a%2Fy/manifests/v1", "percent-escape in path");
    EXPECT_400("GET", "/v2/%61/manifests/v1", "percent-escape in path");
    EXPECT_400("GET", "/v2/a/manifests/v1%00", "percent-escape in path");
    EXPECT_400("GET", "/v2/a/%2e%2e/b/manifests/v1", "percent-escape in path");
    EXPECT_400("GET", "/v2/a/manifests/v%", "percent-escape in path");
    EXPECT_400("GET", "/v2%2F", "percent-escape in path");
}

static void empty_segments_are_400(void **state)
{
    (void)state;
    EXPECT_400("PUT", "/v2/team-a//y/manifests/v1", "empty path segment");
    EXPECT_400("GET", "//v2/a/manifests/v1", "empty path segment");
    EXPECT_400("GET", "/v2//", "empty path segment");
    EXPECT_400("GET", "/v2/a/manifests//v1", "empty path segment");
    EXPECT_400("POST", "/v2/a/blobs/uploads//", "empty path segment");
}

static void semicolons_are_400(void **state)
{
    (void)state;
    EXPECT_400("PUT", "/v2/team-a/y/manifests/v1;x", "semicolon in path");
    EXPECT_400("GET", "/v2/a;b=c/manifests/v1", "semicolon in path");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 ";from=b", "semicolon in query");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?x=1;mount=" D256, "semicolon in query");
}

static void upper_case_repository_is_400(void **state)
{
    (void)state;
    EXPECT_400("PUT", "/v2/Team-A/y/manifests/v1", "upper-case repository name");
    EXPECT_400("GET", "/v2/a/B/tags/list", "upper-case repository name");
    EXPECT_400("GET", "/v2/A/blobs/" D256, "upper-case repository name");
    EXPECT_400("POST", "/v2/A/blobs/uploads/", "upper-case repository name");
    EXPECT_400("GET", "/v2/aB/referrers/" D256, "upper-case repository name");
}

static void fragments_are_400(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a/manifests/v1#frag", "fragment in request target");
    EXPECT_400("GET", "/v2/a/manifests/v1?tag=x#frag", "fragment in request target");
    EXPECT_400("GET", "/v2/#", "fragment in request target");
    EXPECT_400("GET", "/metrics#x", "fragment in request target");
}

static void nul_bytes_are_400(void **state)
{
    static const char uri[] = "/v2/a/manifests/v1\0";
    static const char uri2[] = "/v2/a\0/b/manifests/v1";
    static const char uri3[] = "/v2/a/blobs/uploads/?mount=\0";
    (void)state;
    classify_n("GET", uri, sizeof uri - 1, NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.reason, "NUL byte in request target");
    check_consistent();
    classify_n("GET", uri2, sizeof uri2 - 1, NULL);
    assert_int_equal(r.status, 400);
    check_consistent();
    classify_n("POST", uri3, sizeof uri3 - 1, NULL);
    assert_int_equal(r.status, 400);
    check_consistent();
}

static void length_bounds_the_target(void **state)
{
    static const char buf[] = "/v2/a/manifests/v1;../../x#y";
    (void)state;
    /* Only the first 18 bytes are the target; what follows is not ours. */
    classify_n("GET", buf, 18, NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.kind, OG_R_MANIFEST);
    assert_string_equal(r.reference, "v1");
    assert_ptr_equal(r.path, buf);
    assert_int_equal(r.path_len, 18);
    check_consistent();
    classify_n("GET", buf, 3, NULL); /* "/v2" */
    assert_int_equal(r.kind, OG_R_PING);
    classify_n("GET", buf, 0, NULL);
    assert_int_equal(r.status, 400);
    check_consistent();
}

static void method_and_content_type_are_length_bounded(void **state)
{
    char method[3] = { 'P', 'U', 'T' };
    char ct[19] = { 'm', 'u', 'l', 't', 'i', 'p', 'a', 'r', 't', '/',
                    'f', 'o', 'r', 'm', '-', 'd', 'a', 't', 'a' };
    static const char uri[] = "/v2/a/blobs/uploads/" UUID;
    (void)state;
    og_route_classify(method, sizeof method, uri, sizeof uri - 1, ct, sizeof ct, &r);
    assert_int_equal(r.status, 400);
    og_route_classify(method, sizeof method, uri, sizeof uri - 1, ct, 9, &r); /* "multipart" */
    assert_int_equal(r.status, 0);
    og_route_classify(method, 2, uri, sizeof uri - 1, NULL, 0, &r); /* "PU" */
    assert_int_equal(r.status, 405);
}

static void backslashes_are_400(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a\\b/manifests/v1", "backslash in path");
    EXPECT_400("GET", "/v2/a/..\\..\\b/manifests/v1", "backslash in path");
    EXPECT_400("GET", "/v2/a/manifests/v1\\", "backslash in path");
    EXPECT_400("GET", "\\v2/a/manifests/v1", "request target not in origin-form");
}

static void control_bytes_and_spaces_are_400(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a/manifests/v1\t", "control byte in request target");
    EXPECT_400("GET", "/v2/a/manifests/v1\r\nX: y", "control byte in request target");
    EXPECT_400("GET", "/v2/a/manifests/v1\x7f", "control byte in request target");
    EXPECT_400("GET", "/v2/a/manifests/v1 HTTP/1.1", "space in request target");
    EXPECT_400("GET", "/v2/a/manifests/v1?x=a b", "space in request target");
    EXPECT_400("GET", "/v2/\xc3\xa4/manifests/v1", "non-ASCII byte in request target");
    EXPECT_400("GET", "/v2/a/manifests/v1?x=\x01", "control byte in request target");
}

static void other_path_bytes_are_400(void **state)
{
    static const char *const bad = "~@=!$&'()*,[]{}|^`\"<>";
    char uri[64];
    (void)state;
    for (const char *c = bad; *c; c++) {
        snprintf(uri, sizeof uri, "/v2/a%c/manifests/v1", *c);
        EXPECT_400("GET", uri, "forbidden character in path");
    }
}

static void over_long_targets_are_400(void **state)
{
    char *uri = malloc(OG_URI_MAX + 2);
    static const char head[] = "/v2/a/manifests/v1?x=";
    (void)state;
    assert_non_null(uri);
    memcpy(uri, head, sizeof head - 1);
    memset(uri + sizeof head - 1, 'a', OG_URI_MAX + 1 - (sizeof head - 1));
    uri[OG_URI_MAX + 1] = '\0';
    assert_int_equal(strlen(uri), 8193);
    EXPECT_400("GET", uri, "request target too long");
    uri[OG_URI_MAX] = '\0'; /* exactly 8192 bytes: fine */
    EXPECT_ROUTE("GET", uri, OG_R_MANIFEST, OG_ACT_READ, "a", "v1");
    free(uri);
    /* the length alone decides: nothing is read */
    og_route_classify("GET", 3, "/v2/", SIZE_MAX, NULL, 0, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.reason, "request target too long");
}

static void targets_must_be_origin_form(void **state)
{
    (void)state;
    EXPECT_400("GET", "http://registry/v2/", "request target not in origin-form");
    EXPECT_400("GET", "*", "request target not in origin-form");
    EXPECT_400("GET", "", "request target not in origin-form");
    EXPECT_400("GET", "v2/", "request target not in origin-form");
    EXPECT_400("GET", "?/v2/", "request target not in origin-form");
    classify_n("GET", NULL, 0, NULL);
    assert_int_equal(r.status, 400);
    check_consistent();
}

/* ---- repository names --------------------------------------------------- */

static void repository_length_is_bounded(void **state)
{
    char name[OG_REPO_MAX + 2];
    char uri[400];
    (void)state;
    memset(name, 'a', sizeof name);
    name[OG_REPO_MAX] = '\0';
    snprintf(uri, sizeof uri, "/v2/%s/manifests/v1", name);
    EXPECT_ROUTE("GET", uri, OG_R_MANIFEST, OG_ACT_READ, name, "v1");
    assert_int_equal(r.repo_len, OG_REPO_MAX);
    name[OG_REPO_MAX] = 'a';
    name[OG_REPO_MAX + 1] = '\0';
    snprintf(uri, sizeof uri, "/v2/%s/manifests/v1", name);
    EXPECT_400("GET", uri, "repository name too long");
    /* 256 bytes over several components */
    memset(name, 'a', sizeof name);
    for (size_t i = 1; i < OG_REPO_MAX; i += 2)
        name[i] = '/';
    name[OG_REPO_MAX + 1] = '\0';
    snprintf(uri, sizeof uri, "/v2/%s/tags/list", name);
    EXPECT_400("GET", uri, "repository name too long");
}

static void repository_grammar_in_routes(void **state)
{
    (void)state;
    EXPECT_400("GET", "/v2/a..b/manifests/v1", "invalid repository name");
    EXPECT_400("GET", "/v2/a___b/manifests/v1", "invalid repository name");
    EXPECT_400("GET", "/v2/-a/manifests/v1", "invalid repository name");
    EXPECT_400("GET", "/v2/a-/manifests/v1", "invalid repository name");
    EXPECT_400("GET", "/v2/a/_b/manifests/v1", "invalid repository name");
    EXPECT_400("GET", "/v2/a:b/manifests/v1", "invalid repository name");
    EXPECT_400("GET", "/v2/a+b/blobs/" D256, "invalid repository name");
    EXPECT_ROUTE("GET", "/v2/a__b/c---d/e.f/g_h/manifests/v1", OG_R_MANIFEST, OG_ACT_READ,
                 "a__b/c---d/e.f/g_h", "v1");
}

static void valid_repo_grammar(void **state)
{
    static const char *const good[] = {
        "a", "0", "abc", "a/b", "a.b", "a_b", "a__b", "a-b", "a--b", "a---b", "a/b/c/d",
        "team-a/sub.project/x_y", "9a/b9", "a.b.c", "a-b_c.d",
    };
    static const char *const bad[] = {
        "", "A", "aB", "a..b", "a._b", "a_.b", "a___b", "a-_b", "a_-b", ".a", "a.", "_a", "a_",
        "-a", "a-", "/a", "a/", "a//b", "a/./b", "a/../b", "a b", "a:b", "a+b", "a@b", "a%2fb",
        "a/-b", "a/b-",
    };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!og_valid_repo(good[i], strlen(good[i])))
            fail_msg("\"%s\" should be a valid repository", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (og_valid_repo(bad[i], strlen(bad[i])))
            fail_msg("\"%s\" should not be a valid repository", bad[i]);
    assert_false(og_valid_repo(NULL, 0));
    assert_true(og_valid_repo("ab/", 2)); /* length-aware */
    assert_false(og_valid_repo("a\0b", 3));
}

static void valid_tag_grammar(void **state)
{
    static const char *const good[] = { "v1", "latest", "_x", "9", "A.b-C_d", "v1.2.3-rc.1", "x--" };
    static const char *const bad[] = { "", ".x", "-x", "a/b", "a:b", "a+b", "a b", "a@b", "a%b" };
    char tag[OG_TAG_MAX + 1];
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!og_valid_tag(good[i], strlen(good[i])))
            fail_msg("\"%s\" should be a valid tag", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (og_valid_tag(bad[i], strlen(bad[i])))
            fail_msg("\"%s\" should not be a valid tag", bad[i]);
    memset(tag, 'a', sizeof tag);
    assert_true(og_valid_tag(tag, OG_TAG_MAX));
    assert_false(og_valid_tag(tag, OG_TAG_MAX + 1));
    assert_false(og_valid_tag(NULL, 0));
    assert_false(og_valid_tag("a\0", 2));
}

static void valid_digest_grammar(void **state)
{
    (void)state;
    assert_true(og_valid_digest(D256, strlen(D256)));
    assert_true(og_valid_digest(D512, strlen(D512)));
    assert_false(og_valid_digest(D256, strlen(D256) - 1));
    assert_false(og_valid_digest(D512 "0", strlen(D512) + 1));
    assert_false(og_valid_digest("sha256:" HEX64 HEX64, 7 + 128));
    assert_false(og_valid_digest("sha512:" HEX64, 7 + 64));
    assert_false(og_valid_digest("sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef"
                                 "0123456789abcdef", 71));
    assert_false(og_valid_digest("sha256:" "g123456789abcdef0123456789abcdef0123456789abcdef"
                                 "0123456789abcdef", 71));
    assert_false(og_valid_digest("sha384:" HEX64, 71));
    assert_false(og_valid_digest("md5:0123456789abcdef0123456789abcdef", 36));
    assert_false(og_valid_digest("", 0));
    assert_false(og_valid_digest(NULL, 0));
    assert_false(og_valid_digest("sha256:", 7));
}

/* ---- endpoint table ------------------------------------------------------ */

static void unknown_endpoints_are_404(void **state)
{
    (void)state;
    EXPECT_404("GET", "/v2/a");
    EXPECT_404("GET", "/v2/a/");
    EXPECT_404("GET", "/v2/a/b");
    EXPECT_404("GET", "/v2/a/b/c");
    EXPECT_404("DELETE", "/v2/a/tags/v1");
    EXPECT_404("GET", "/v2/a/blobs/uploads/x/y/");
    EXPECT_404("GET", "/v2/Team-A");
    EXPECT_404("GET", "/v2/a/manifests/v1/");
    EXPECT_404("GET", "/v2/a/referrers/" D256 "/");
    EXPECT_404("PUT", "/v2/a/blobs/" D256 "/");
    EXPECT_404("POST", "/v2/a/blobs/uploads/" UUID "/");
}

static void status_order_is_400_then_405_then_404(void **state)
{
    (void)state;
    /* a malformed target is 400 whatever the method */
    EXPECT_STATUS("TRACE", "/v2/a/../b", 400, "dot segment");
    /* an unknown endpoint is 404 even for a wrong method */
    EXPECT_STATUS("POST", "/v2/a/b", 404, "unknown endpoint");
    /* a wrong method on a known endpoint is 405 before its query is judged */
    EXPECT_STATUS("POST", "/v2/a/manifests/v1?tag=-bad", 405, "method not allowed");
    /* a bad name is 400 before the method is judged */
    EXPECT_STATUS("POST", "/v2/A/manifests/v1", 400, "upper-case repository name");
}

/* ---- query parsing ------------------------------------------------------- */

static void unknown_query_keys_are_ignored(void **state)
{
    (void)state;
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?foo=bar&Mount=" D256 "&mount2=x&from%20=b",
                 OG_R_UPLOAD_START, OG_ACT_CREATE, "a", "");
    assert_false(r.has_mount || r.has_from);
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?averyveryverylongunknownkey=1&=x", OG_R_UPLOAD_START,
                 OG_ACT_CREATE, "a", "");
    EXPECT_STATUS("POST", "/v2/a/blobs/uploads/?mount+=" D256 "&from=b", 400, "from without mount");
}

static void empty_query_pairs_are_skipped(void **state)
{
    (void)state;
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?&&mount=" D256 "&&from=b&", OG_R_UPLOAD_START,
                 OG_ACT_CREATE, "a", "");
    assert_true(r.has_mount && r.has_from);
    EXPECT_ROUTE("POST", "/v2/a/blobs/uploads/?", OG_R_UPLOAD_START, OG_ACT_CREATE, "a", "");
}

static void malformed_query_escapes_are_400(void **state)
{
    (void)state;
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=%zz", "malformed percent-escape in query");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?x=%4", "malformed percent-escape in query");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?x=%", "malformed percent-escape in query");
    EXPECT_400("GET", "/v2/a/manifests/v1?%g1=1", "malformed percent-escape in query");
}

static void decoded_control_bytes_are_400(void **state)
{
    (void)state;
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=a%00", "control byte in query");
    EXPECT_400("GET", "/v2/_catalog?last=a%0A", "control byte in query");
    EXPECT_400("GET", "/v2/a/tags/list?x=%7f", "control byte in query");
    EXPECT_400("GET", "/v2/a/referrers/" D256 "?artifactType=%1b", "control byte in query");
}

static void escaped_query_keys_are_400(void **state)
{
    (void)state;
    EXPECT_400("POST", "/v2/a/blobs/uploads/?m%6Funt=" D256, "percent-escape in query key");
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&%66rom=b", "percent-escape in query key");
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?%74ag=v1", "percent-escape in query key");
}

static void duplicate_key_ignored_where_meaningless(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/manifests/v1?n=1&n=2&last=X&last=Y", OG_R_MANIFEST, OG_ACT_READ,
                 "a", "v1");
    EXPECT_ROUTE("GET", "/v2/_catalog?mount=x&mount=y&from=Q&tag=&tag=", OG_R_CATALOG,
                 OG_ACT_READ, "", "");
    assert_false(r.has_mount || r.has_from);
}

static void query_plus_stays_plus(void **state)
{
    (void)state;
    /* '+' is not a space: a from with '+' is not a repository */
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=a+b", "invalid from parameter");
    EXPECT_400("GET", "/v2/_catalog?n=1+", "invalid n parameter");
}

static void refusal_clears_the_route(void **state)
{
    (void)state;
    EXPECT_400("POST", "/v2/a/blobs/uploads/?mount=" D256 "&from=b&from=c",
               "duplicate query parameter");
    assert_int_equal(r.method, OG_M_POST);
    assert_int_equal(r.path_len, strlen("/v2/a/blobs/uploads/"));
    EXPECT_400("PUT", "/v2/a/manifests/" D256 "?tag=a&tag=-b", "invalid tag parameter");
    assert_string_equal(r.tags[0], "");
}

static void success_fills_everything(void **state)
{
    (void)state;
    EXPECT_ROUTE("GET", "/v2/a/manifests/v1", OG_R_MANIFEST, OG_ACT_READ, "a", "v1");
    assert_string_equal(r.mount, "");
    assert_string_equal(r.from, "");
    assert_int_equal(r.from_len, 0);
    assert_false(r.has_mount || r.has_from || r.has_digest);
    assert_int_equal(r.ntags, 0);
    for (size_t i = 0; i < OG_MAX_TAGS; i++)
        assert_string_equal(r.tags[i], "");
    assert_int_equal(r.path_len, strlen("/v2/a/manifests/v1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(method_parse_knows_the_seven),
        cmocka_unit_test(method_parse_is_exact),
        cmocka_unit_test(method_name_of_other),
        cmocka_unit_test(unknown_methods_are_405),
        cmocka_unit_test(null_method_is_405),
        cmocka_unit_test(options_is_preflight_anywhere),
        cmocka_unit_test(options_needs_a_well_formed_target),
        cmocka_unit_test(ping_get_and_head),
        cmocka_unit_test(ping_rejects_writes),
        cmocka_unit_test(outside_paths_go_back_to_the_caller),
        cmocka_unit_test(outside_paths_are_still_strict),
        cmocka_unit_test(catalog_get_and_head),
        cmocka_unit_test(catalog_rejects_writes),
        cmocka_unit_test(catalog_trailing_slash_is_404),
        cmocka_unit_test(catalog_bad_n_is_400),
        cmocka_unit_test(catalog_last_must_be_a_repository),
        cmocka_unit_test(registry_extensions_are_404),
        cmocka_unit_test(tags_list_get_and_head),
        cmocka_unit_test(tags_list_rejects_writes),
        cmocka_unit_test(tags_list_trailing_slash_is_404),
        cmocka_unit_test(tags_list_last_must_be_a_tag),
        cmocka_unit_test(manifest_read_by_tag),
        cmocka_unit_test(manifest_read_by_digest),
        cmocka_unit_test(manifest_put_by_tag_writes_that_tag),
        cmocka_unit_test(manifest_put_by_digest_without_tags),
        cmocka_unit_test(manifest_delete_by_tag_and_digest),
        cmocka_unit_test(manifest_rejects_post_and_patch),
        cmocka_unit_test(manifest_tag_grammar),
        cmocka_unit_test(manifest_digest_grammar),
        cmocka_unit_test(manifest_put_by_digest_with_tags),
        cmocka_unit_test(manifest_tags_are_deduplicated),
        cmocka_unit_test(manifest_tag_count_is_bounded),
        cmocka_unit_test(manifest_invalid_tag_parameter_is_400),
        cmocka_unit_test(manifest_put_by_tag_refuses_tag_parameter),
        cmocka_unit_test(manifest_tag_parameter_ignored_elsewhere),
        cmocka_unit_test(manifest_without_reference_is_404),
        cmocka_unit_test(repository_named_like_an_endpoint),
        cmocka_unit_test(blob_read_and_delete),
        cmocka_unit_test(blob_rejects_writes),
        cmocka_unit_test(blob_needs_a_digest),
        cmocka_unit_test(blob_ignores_upload_parameters),
        cmocka_unit_test(upload_start_is_a_post),
        cmocka_unit_test(upload_start_rejects_other_methods),
        cmocka_unit_test(upload_start_mount_and_from),
        cmocka_unit_test(upload_start_mount_without_from),
        cmocka_unit_test(upload_start_from_without_mount_is_400),
        cmocka_unit_test(upload_start_duplicate_keys_are_400),
        cmocka_unit_test(upload_start_decodes_query_values),
        cmocka_unit_test(upload_start_invalid_values_are_400),
        cmocka_unit_test(upload_start_from_length_is_bounded),
        cmocka_unit_test(upload_start_monolithic_digest),
        cmocka_unit_test(upload_start_form_content_type_is_400),
        cmocka_unit_test(upload_start_other_content_types_pass),
        cmocka_unit_test(upload_session_methods),
        cmocka_unit_test(upload_session_rejects_post),
        cmocka_unit_test(upload_session_put_digest),
        cmocka_unit_test(upload_session_digest_ignored_on_patch),
        cmocka_unit_test(upload_session_state_is_opaque),
        cmocka_unit_test(upload_session_id_grammar),
        cmocka_unit_test(upload_session_form_content_type_is_400),
        cmocka_unit_test(upload_id_that_looks_like_a_digest),
        cmocka_unit_test(referrers_get_and_head),
        cmocka_unit_test(referrers_rejects_writes),
        cmocka_unit_test(referrers_need_a_digest),
        cmocka_unit_test(route_method_matrix),
        cmocka_unit_test(dot_dot_segments_are_400),
        cmocka_unit_test(dot_segments_are_400),
        cmocka_unit_test(percent_escapes_in_path_are_400),
        cmocka_unit_test(empty_segments_are_400),
        cmocka_unit_test(semicolons_are_400),
        cmocka_unit_test(upper_case_repository_is_400),
        cmocka_unit_test(fragments_are_400),
        cmocka_unit_test(nul_bytes_are_400),
        cmocka_unit_test(length_bounds_the_target),
        cmocka_unit_test(method_and_content_type_are_length_bounded),
        cmocka_unit_test(backslashes_are_400),
        cmocka_unit_test(control_bytes_and_spaces_are_400),
        cmocka_unit_test(other_path_bytes_are_400),
        cmocka_unit_test(over_long_targets_are_400),
        cmocka_unit_test(targets_must_be_origin_form),
        cmocka_unit_test(repository_length_is_bounded),
        cmocka_unit_test(repository_grammar_in_routes),
        cmocka_unit_test(valid_repo_grammar),
        cmocka_unit_test(valid_tag_grammar),
        cmocka_unit_test(valid_digest_grammar),
        cmocka_unit_test(unknown_endpoints_are_404),
        cmocka_unit_test(status_order_is_400_then_405_then_404),
        cmocka_unit_test(invalid_manifest_reference_reads_are_404),
        cmocka_unit_test(unknown_query_keys_are_ignored),
        cmocka_unit_test(empty_query_pairs_are_skipped),
        cmocka_unit_test(malformed_query_escapes_are_400),
        cmocka_unit_test(decoded_control_bytes_are_400),
        cmocka_unit_test(escaped_query_keys_are_400),
        cmocka_unit_test(duplicate_key_ignored_where_meaningless),
        cmocka_unit_test(query_plus_stays_plus),
        cmocka_unit_test(refusal_clears_the_route),
        cmocka_unit_test(success_fills_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
