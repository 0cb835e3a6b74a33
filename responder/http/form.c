/*
 * form.c - the key page's form bodies (application/x-www-form-urlencoded),
 * parsed over a length into the caller's fixed buffers (form.h).
 */
#include "form.h"

#include <string.h>

#include "text.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..n) into out[0..cap) (NUL-terminated). Returns the decoded
   length, or -1 (bad escape, too long, a forbidden byte). in_name: no
   control byte at all; otherwise TAB, CR and LF may appear. */
static long decode(const char *s, size_t n, char *out, size_t cap, bool in_name)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (n - i < 3)
                return -1;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (og_is_control(c) && (in_name || (c != '\t' && c != '\r' && c != '\n')))
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

static void clear(struct og_form_field *fields, size_t nfields)
{
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].val && fields[i].cap)
            fields[i].val[0] = '\0';
        fields[i].seen = false;
    }
}

int og_form_parse(const char *body, size_t len, struct og_form_field *fields, size_t nfields)
{
    const char *p = body, *end = body + len;
    size_t pairs = 0;

    clear(fields, nfields);
    if (!body && len)
        return -1;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ne = eq ? eq : pe;
        const char *v = eq ? eq + 1 : pe;
        char name[OG_FORM_NAME_MAX + 1];
        struct og_form_field *f = NULL;

        if (pe == p) {                       /* "a&&b": an empty pair is nothing */
            p = pe + 1;
            continue;
        }
        if (++pairs > OG_FORM_MAX_PAIRS)
            goto bad;
        if (decode(p, (size_t)(ne - p), name, sizeof(name), true) < 0)
            goto bad;
        for (size_t i = 0; i < nfields && !f; i++)
            if (strcmp(fields[i].name, name) == 0)
                f = &fields[i];
        if (f) {
            if (f->seen || !f->val || !f->cap)
                goto bad;
            if (decode(v, (size_t)(pe - v), f->val, f->cap, false) < 0)
                goto bad;
            f->seen = true;
        } else if (decode(v, (size_t)(pe - v), NULL, 0, false) < 0) {
            goto bad;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
bad:
    clear(fields, nfields);
    return -1;
}
