/*
 * fuzz_cel.c - og_cel_compile / og_cel_eval (policy/cel*.c).
 *
 * Input: EXPRESSION [\0 CLAIMS-JSON [\0 USER-AGENT]]. The expression is
 * compiled from a heap block of exactly its length against the `req`
 * declarations of accessControl conditions; when it compiles it is
 * evaluated against a fixed request, the claims (when they parse as a JSON
 * object) and the user agent. Checks beside memory safety: a failed
 * compile has a message and a column inside the text (or just past it), an
 * evaluation that fails says why, and the evaluation stays within its scratch.
 */
#include "fuzz_common.h"

#include <jansson.h>

#include "cel.h"

static const struct og_cel_decl decls[] = {
    { "req.method", OG_CEL_STRING }, { "req.userAgent", OG_CEL_STRING },
    { "req.action", OG_CEL_STRING }, { "req.repository", OG_CEL_STRING },
    { "req.reference", OG_CEL_STRING }, { "req.referenceType", OG_CEL_STRING },
    { "req.tag", OG_CEL_STRING }, { "req.digest", OG_CEL_STRING },
    { "req.user.username", OG_CEL_STRING }, { "req.user.groups", OG_CEL_LIST },
    { "req.client.ip", OG_CEL_STRING }, { "req.client.forwardedFor", OG_CEL_LIST },
    { "req.auth.anonymous", OG_CEL_BOOL }, { "req.auth.admin", OG_CEL_BOOL },
    { "req.tls.enabled", OG_CEL_BOOL }, { "req.tls.version", OG_CEL_STRING },
    { "req.time", OG_CEL_TIMESTAMP }, { "req.claims", OG_CEL_DYN },
};
#define NDECLS (sizeof decls / sizeof decls[0])

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_cursor c = { data, size, 0 };
    const uint8_t *ep, *jp, *up;
    size_t el, jl = 0, ul = 0;
    static const char *const groups[] = { "dev", "ops" };
    static struct og_cel_scratch s;

    if (size > 8192 || !fz_next(&c, &ep, &el))
        return 0;
    char *expr = fz_dup_exact(ep, el);
    json_t *claims = NULL;
    if (fz_next(&c, &jp, &jl))
        claims = json_loadb((const char *)jp, jl, JSON_DECODE_ANY, NULL);
    if (claims && !json_is_object(claims)) {
        json_decref(claims);
        claims = NULL;
    }
    char *ua = NULL;
    if (fz_next(&c, &up, &ul))
        ua = fz_dup_exact(up, ul);

    struct og_cel_error err;
    struct og_cel_program *p = og_cel_compile(expr, el, decls, NDECLS, &err);
    if (!p) {
        FZ_ASSERT(err.msg[0] != '\0');
        FZ_ASSERT(err.column <= el + 1);
        goto cleanup;
    }
    struct og_cel_value vars[NDECLS];
    int i = 0;
    vars[i++] = og_cel_cstr("PUT");
    vars[i++] = ua ? og_cel_str(ua, ul) : og_cel_cstr("docker/24.0");
    vars[i++] = og_cel_cstr("update");
    vars[i++] = og_cel_cstr("prod/app");
    vars[i++] = og_cel_cstr("stable");
    vars[i++] = og_cel_cstr("tag");
    vars[i++] = og_cel_cstr("stable");
    vars[i++] = og_cel_cstr("");
    vars[i++] = og_cel_cstr("alice");
    vars[i++] = og_cel_strs(groups, 2);
    vars[i++] = og_cel_cstr("10.1.2.3");
    vars[i++] = ua ? og_cel_csv(ua, ul) : og_cel_csv("", 0);
    vars[i++] = og_cel_bool(false);
    vars[i++] = og_cel_bool(true);
    vars[i++] = og_cel_bool(true);
    vars[i++] = og_cel_cstr("TLSv1.3");
    vars[i++] = og_cel_timestamp(1767225600, 0);
    vars[i++] = og_cel_json(claims);
    og_cel_scratch_reset(&s);
    struct og_cel_value out;
    bool ok = og_cel_eval(p, vars, &s, &out);
    FZ_ASSERT(ok == (out.kind != OG_CEL_ERROR));
    if (!ok)
        FZ_ASSERT(out.u.error && out.u.error[0]);
    FZ_ASSERT(s.nbytes <= OG_CEL_SCRATCH_BYTES && s.nvals <= OG_CEL_SCRATCH_VALUES);
    char buf[256];
    og_cel_format(&out, buf, sizeof buf);
    FZ_ASSERT(strlen(buf) < sizeof buf);
    og_cel_program_free(p);
cleanup:
    json_decref(claims);
    free(ua);
    free(expr);
    return 0;
}
