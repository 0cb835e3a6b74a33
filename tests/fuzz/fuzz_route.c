/*
 * fuzz_route.c - og_route_classify (policy/route.c), the strict front door.
 *
 * Input: METHOD \0 URI [\0 CONTENT-TYPE]. Each part is handed over as
 * pointer + length in a heap block of exactly that size (the classifier
 * promises never to read past the length). Besides memory safety, the
 * result is checked against the contract of route.h.
 */
#include "fuzz_common.h"

#include "action.h"
#include "route.h"

static int in_range(const char *p, const char *base, size_t n)
{
    return p >= base && p <= base + n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_cursor c = { data, size, 0 };
    const uint8_t *mp = NULL, *up = NULL, *cp = NULL;
    size_t ml = 0, ul = 0, cl = 0;
    char *method, *uri, *ct = NULL;
    struct og_route r;

    if (size > 16384)
        return 0;
    if (!fz_next(&c, &mp, &ml))
        return 0;
    if (!fz_next(&c, &up, &ul)) {
        up = mp;                /* one part: the target, method GET */
        ul = ml;
        mp = (const uint8_t *)"GET";
        ml = 3;
    }
    int has_ct = fz_next(&c, &cp, &cl);

    method = fz_dup_exact(mp, ml);
    uri = fz_dup_exact(up, ul);
    if (has_ct)
        ct = fz_dup_exact(cp, cl);

    og_route_classify(method, ml, uri, ul, ct, cl, &r);

    if (getenv("FZ_DEBUG"))
        fprintf(stderr, "route: status=%d kind=%d reason=%s repo=%s ref=%s ntags=%zu\n", r.status,
                r.kind, r.reason ? r.reason : "-", r.repo, r.reference, r.ntags);
    FZ_ASSERT(r.status == 0 || r.status == 400 || r.status == 404 || r.status == 405);
    FZ_ASSERT((r.status == 0) == (r.kind != OG_R_NONE));
    FZ_ASSERT(r.status == 0 || r.reason != NULL);
    /* MANIFEST_UNKNOWN only on the 404 of a read (a write by a bad reference is 400) */
    FZ_ASSERT(r.error_code == NULL ||
              (r.status == 404 && (r.method == OG_M_GET || r.method == OG_M_HEAD) &&
               strcmp(r.error_code, "MANIFEST_UNKNOWN") == 0));
    FZ_ASSERT(r.path != NULL);
    FZ_ASSERT(r.path_len == 0 || in_range(r.path, uri, ul));
    FZ_ASSERT(r.path_len == 0 || r.path + r.path_len <= uri + ul);
    FZ_ASSERT(r.repo_len <= OG_REPO_MAX && strlen(r.repo) == r.repo_len);
    FZ_ASSERT(r.ntags <= OG_MAX_TAGS);
    FZ_ASSERT(strlen(r.reference) <= OG_REF_MAX);
    if (r.status == 0) {
        switch (r.kind) {
        case OG_R_TAGS_LIST: case OG_R_MANIFEST: case OG_R_BLOB: case OG_R_UPLOAD_START:
        case OG_R_UPLOAD: case OG_R_REFERRERS:
            FZ_ASSERT(og_valid_repo(r.repo, r.repo_len));
            FZ_ASSERT(uri[0] == '/' && ul > 4 && memcmp(uri, "/v2/", 4) == 0);
            break;
        default:
            FZ_ASSERT(r.repo_len == 0);
        }
        if ((r.kind == OG_R_BLOB || r.kind == OG_R_REFERRERS ||
             (r.kind == OG_R_MANIFEST && r.ref_is_digest)))
            FZ_ASSERT(og_valid_digest(r.reference, strlen(r.reference)));
        if (r.kind == OG_R_MANIFEST && !r.ref_is_digest)
            FZ_ASSERT(og_valid_tag(r.reference, strlen(r.reference)));
        for (size_t i = 0; i < r.ntags; i++)
            FZ_ASSERT(og_valid_tag(r.tags[i], strlen(r.tags[i])));
        if (r.ntags)
            FZ_ASSERT(r.kind == OG_R_MANIFEST && r.method == OG_M_PUT);
        if (r.has_mount)
            FZ_ASSERT(og_valid_digest(r.mount, strlen(r.mount)));
        if (r.has_from)
            FZ_ASSERT(r.has_mount && og_valid_repo(r.from, r.from_len) &&
                      strlen(r.from) == r.from_len);
        /* the path the registry gets has no byte the classifier did not judge */
        for (size_t i = 0; i < r.path_len; i++)
            FZ_ASSERT(r.path[i] != '%' && r.path[i] != '?' && r.path[i] != '#' &&
                      (unsigned char)r.path[i] > 0x20 && (unsigned char)r.path[i] < 0x7f);
    }
    /* the method name table round-trips */
    FZ_ASSERT(og_method_parse(og_method_name(r.method), strlen(og_method_name(r.method))) ==
              r.method || r.method == OG_M_OTHER);

    /* the grammar helpers on their own, over the whole target */
    (void)og_valid_repo(uri, ul);
    (void)og_valid_tag(uri, ul);
    (void)og_valid_digest(uri, ul);

    free(method);
    free(uri);
    free(ct);
    return 0;
}
