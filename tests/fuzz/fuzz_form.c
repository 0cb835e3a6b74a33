/*
 * fuzz_form.c - the key page's inputs from outside: form bodies
 * (responder/http/form.c), the repository globs and "expires" fields, the
 * Origin and Sec-Fetch-Site checks and the HTML escaper
 * (responder/endpoints/keys_page.c).
 *
 * Input: the whole input is parsed as a form body (an exact-size heap copy,
 * so reading past the length is an ASan finding); then its NUL-separated
 * parts are, in turn, a repos field to split, an expires field, an Origin,
 * a Sec-Fetch-Site and text to escape. Invariants: a parsed value is
 * NUL-terminated within its buffer and holds no control byte but TAB, CR
 * and LF; a refused body leaves every buffer empty; the escaped text holds
 * no '<', '>', '"' or '\''.
 */
#include "fuzz_common.h"

#include "form.h"
#include "keys_page.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_value(const char *v, size_t cap)
{
    size_t n = strnlen(v, cap);
    FZ_ASSERT(n < cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        FZ_ASSERT(!(c < 0x20 || c == 0x7f) || c == '\t' || c == '\r' || c == '\n');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char csrf[72], label[16], repos[256], expires[8];
    struct og_form_field f[] = {
        { "csrf", csrf, sizeof(csrf), false }, { "label", label, sizeof(label), false },
        { "repos", repos, sizeof(repos), false }, { "expires", expires, sizeof(expires), false },
    };
    struct fz_cursor cur = { data, size, 0 };
    const uint8_t *part;
    size_t len;
    char *body = fz_dup_exact(data, size);
    int rc = og_form_parse(body, size, f, 4);

    for (size_t i = 0; i < 4; i++) {
        check_value(f[i].val, f[i].cap);
        if (rc != 0)
            FZ_ASSERT(f[i].val[0] == '\0' && !f[i].seen);
    }
    free(body);

    for (int i = 0; fz_next(&cur, &part, &len); i++) {
        char *s = fz_dup_str(part, len);
        switch (i % 5) {
        case 0: {
            const char *out[8];
            long n = og_keys_split_repos(s, out, 8);
            FZ_ASSERT(n >= -1 && n <= 8);
            for (long k = 0; k < n; k++)
                FZ_ASSERT(out[k][0] != '\0' && out[k] >= s && out[k] < s + len);
            break;
        }
        case 1: {
            time_t t = 0;
            char err[128];
            if (og_keys_parse_expires(s, 1796000000, 365, &t, err, sizeof(err)))
                FZ_ASSERT(t > 1796000000 && t <= 1796000000 + 365L * 86400);
            break;
        }
        case 2: {
            const char *why;
            (void)og_keys_origin_ok("https://registry.example.org", s, NULL, &why);
            (void)og_keys_origin_ok(s, "https://registry.example.org", s, &why);
            char host[64];
            og_keys_host_of(s, host, sizeof(host));
            break;
        }
        case 3: {
            const char *why;
            (void)og_keys_origin_ok("http://127.0.0.1:8080", NULL, s, &why);
            break;
        }
        default: {
            char out[512];
            struct og_buf b;
            og_buf_init(&b, out, sizeof(out));
            og_html_escape(&b, s, len);
            FZ_ASSERT(strpbrk(out, "<>\"'") == NULL);
            break;
        }
        }
        free(s);
    }
    return 0;
}
