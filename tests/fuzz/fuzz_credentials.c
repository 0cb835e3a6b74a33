/*
 * fuzz_credentials.c - og_credentials_parse (responder/http/request.c) and
 * og_base64_decode/encode (common/base64.c), both alphabets.
 *
 * The whole input is the Authorization header value (pointer + length, in
 * an exact heap block). The same bytes are also decoded as base64 and
 * base64url; whatever decodes must re-encode to the very same text (the
 * decoder is strict: one value, one encoding).
 */
#include "fuzz_common.h"

#include "base64.h"
#include "request.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void base64_roundtrip(const char *in, size_t n, int url)
{
    size_t cap = n + 1;
    unsigned char *out = malloc(cap);
    char *again;
    long m, e;

    if (!out)
        abort();
    m = og_base64_decode(in, n, out, cap, url);
    FZ_ASSERT(m >= -1 && m <= (long)n);
    if (m >= 0) {
        size_t ecap = (size_t)m * 4 / 3 + 8;
        again = malloc(ecap);
        if (!again)
            abort();
        e = og_base64_encode(out, (size_t)m, again, ecap, url);
        FZ_ASSERT(e >= 0);
        /* base64url: padding is optional on input and never written */
        size_t cmp = n;
        while (url && cmp > 0 && n - cmp < 2 && in[cmp - 1] == '=')
            cmp--;
        FZ_ASSERT((size_t)e == cmp && memcmp(again, in, cmp) == 0);
        /* a too small buffer is refused, never overrun */
        if (m > 0)
            FZ_ASSERT(og_base64_decode(in, n, out, (size_t)m - 1, url) == -1);
        free(again);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct og_credentials *cred;
    char *v;

    if (size > 2 * OG_AUTHZ_MAX)
        return 0;
    v = fz_dup_exact(data, size);
    cred = malloc(sizeof *cred);
    if (!cred)
        abort();
    og_credentials_parse(v, size, cred);
    switch (cred->kind) {
    case OG_CRED_NONE:
        break;
    case OG_CRED_BASIC:
        FZ_ASSERT(strlen(cred->user) <= OG_USER_MAX);
        FZ_ASSERT(cred->secret_len <= OG_SECRET_MAX && cred->secret[cred->secret_len] == '\0');
        FZ_ASSERT(strchr(cred->user, ':') == NULL);
        FZ_ASSERT(cred->user[0] || cred->secret_len);
        break;
    case OG_CRED_BEARER:
        FZ_ASSERT(cred->secret_len > 0 && cred->secret_len <= OG_SECRET_MAX);
        FZ_ASSERT(strlen(cred->secret) == cred->secret_len);
        FZ_ASSERT(!memchr(cred->secret, ' ', cred->secret_len));
        break;
    case OG_CRED_MALFORMED:
        FZ_ASSERT(cred->reason != NULL);
        FZ_ASSERT(cred->secret_len == 0);
        break;
    default:
        FZ_ASSERT(0);
    }
    og_credentials_wipe(cred);
    FZ_ASSERT(cred->secret_len == 0 && cred->secret[0] == '\0');
    free(cred);

    base64_roundtrip(v, size, 0);
    base64_roundtrip(v, size, 1);
    free(v);
    return 0;
}
