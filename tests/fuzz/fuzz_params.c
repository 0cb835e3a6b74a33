/*
 * fuzz_params.c - the FastCGI params (responder/http/request.c) and the query
 * strings of ocigate's own endpoints (responder/http/query.c).
 *
 * Input: NAME=value entries separated by NUL bytes, as libfcgi hands them
 * over. They become a NULL-terminated envp array (each entry its own heap
 * block), read with og_request_from_params both ways (trustForwardedHeaders
 * off and on: on, OCIGATE_METHOD/OCIGATE_URI are required); then what a
 * worker does next with the result: the Authorization header is parsed, the
 * target classified, and its query walked with og_query_next. The whole input is also walked as one query.
 */
#include "fuzz_common.h"

#include "query.h"
#include "request.h"
#include "route.h"

#define MAX_PARAMS 256

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int points_into(const char *p, char *const *envp)
{
    for (; *envp; envp++) {
        size_t n = strlen(*envp);
        if (p >= *envp && p <= *envp + n)
            return 1;
    }
    return 0;
}

/* Walk a query with a given buffer size for keys and values. */
static void walk_query(const char *q, size_t qlen, size_t kcap, size_t vcap)
{
    struct og_query_iter it;
    char *k = malloc(kcap), *v = malloc(vcap);
    int rc, n = 0;

    if (!k || !v)
        abort();
    og_query_init(&it, q, qlen);
    while ((rc = og_query_next(&it, k, kcap, v, vcap)) == 1) {
        FZ_ASSERT(strlen(k) < kcap && strlen(v) < vcap);
        for (const char *s = k; *s; s++)
            FZ_ASSERT((unsigned char)*s >= 0x20 && *s != 0x7f);
        for (const char *s = v; *s; s++)
            FZ_ASSERT((unsigned char)*s >= 0x20 && *s != 0x7f);
        FZ_ASSERT(++n <= (int)qlen);
    }
    FZ_ASSERT(rc == 0 || rc == -1);
    free(k);
    free(v);
}

static void judge(char *const *envp, bool trust)
{
    struct og_request req;
    struct og_credentials *cred;
    struct og_route route;
    size_t qlen;
    const char *q;

    og_request_from_params(envp, trust, &req);
    FZ_ASSERT(req.remote_addr != NULL && req.method != NULL);
    FZ_ASSERT(req.status == 0 || (req.status == 400 && req.reason));
    if (req.status != 0)
        return;
    FZ_ASSERT(req.method_len > 0 && req.method_len == strlen(req.method));
    FZ_ASSERT(req.uri && req.uri_len > 0 && req.uri_len == strlen(req.uri));
    FZ_ASSERT(points_into(req.method, envp) && points_into(req.uri, envp));
    if (req.authorization)
        FZ_ASSERT(req.authorization_len == strlen(req.authorization));
    if (req.content_type)
        FZ_ASSERT(req.content_type_len == strlen(req.content_type));
    if (trust)
        FZ_ASSERT(og_param(envp, "OCIGATE_METHOD") && og_param(envp, "OCIGATE_URI"));

    cred = malloc(sizeof *cred);
    if (!cred)
        abort();
    og_credentials_parse(req.authorization, req.authorization_len, cred);
    og_credentials_wipe(cred);
    free(cred);

    og_route_classify(req.method, req.method_len, req.uri, req.uri_len, req.content_type,
                      req.content_type_len, &route);

    q = og_query_of(req.uri, req.uri_len, &qlen);
    FZ_ASSERT(q != NULL && qlen <= req.uri_len);
    FZ_ASSERT(qlen == 0 || (q > req.uri && q + qlen == req.uri + req.uri_len));
    walk_query(q, qlen, 64, 1024);     /* the endpoints' buffer sizes */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_cursor c = { data, size, 0 };
    char *envp[MAX_PARAMS + 1];
    size_t n = 0;
    const uint8_t *p;
    size_t len;
    char *whole;

    if (size > 65536)
        return 0;
    while (n < MAX_PARAMS && fz_next(&c, &p, &len))
        envp[n++] = fz_dup_str(p, len);
    envp[n] = NULL;

    judge(envp, false);
    judge(envp, true);
    (void)og_param(envp, "HTTP_AUTHORIZATION");
    (void)og_param(envp, "");

    for (size_t i = 0; i < n; i++)
        free(envp[i]);

    /* the whole input as one query string (exact block), small and large buffers */
    whole = fz_dup_exact(data, size);
    walk_query(whole, size, 64, 1024);
    walk_query(whole, size, 1, 1);
    walk_query(whole, size, 3, 2);
    free(whole);
    return 0;
}
