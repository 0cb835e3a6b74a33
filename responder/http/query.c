/*
 * query.c - bounded decoding of application/x-www-form-urlencoded queries.
 *
 * Used by the token endpoint (service, scope, account), the self-service
 * key endpoint (id) and the key page's form bodies (form.c). Registry routes never get here: policy/route.c parses
 * their query with its own, stricter rules.
 */
#include "query.h"

#include <string.h>

#include "hex.h"
#include "text.h"

void og_query_init(struct og_query_iter *it, const char *q, size_t len)
{
    it->p = q;
    it->end = q + len;
}

long og_form_decode(const char *s, size_t n, char *out, size_t cap, bool line_breaks)
{
    size_t o = 0;

    if (out && cap == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (n - i < 3)
                return -1;
            hi = og_hex_value((unsigned char)s[i + 1]);
            lo = og_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (og_is_control(c) && !(line_breaks && (c == '\t' || c == '\r' || c == '\n')))
            return -1;
        if (out) {
            if (o + 1 >= cap)
                return -1;
            out[o] = (char)c;
        }
        o++;
    }
    if (out)
        out[o] = '\0';
    return (long)o;
}

int og_query_next(struct og_query_iter *it, char *k, size_t kcap, char *v, size_t vcap)
{
    while (it->p < it->end) {
        const char *amp = memchr(it->p, '&', (size_t)(it->end - it->p));
        const char *stop = amp ? amp : it->end;
        const char *eq = memchr(it->p, '=', (size_t)(stop - it->p));
        const char *kend = eq ? eq : stop;
        const char *start = it->p;

        it->p = amp ? amp + 1 : it->end;
        if (stop == start)
            continue;                       /* "&&" */
        if (og_form_decode(start, (size_t)(kend - start), k, kcap, false) < 0)
            return -1;
        if (eq) {
            if (og_form_decode(eq + 1, (size_t)(stop - eq - 1), v, vcap, false) < 0)
                return -1;
        } else if (vcap) {
            v[0] = '\0';
        }
        return 1;
    }
    return 0;
}

const char *og_query_of(const char *uri, size_t uri_len, size_t *len)
{
    const char *q = uri ? memchr(uri, '?', uri_len) : NULL;
    if (!q) {
        *len = 0;
        return "";
    }
    *len = uri_len - (size_t)(q + 1 - uri);
    return q + 1;
}
