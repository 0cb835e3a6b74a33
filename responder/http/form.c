/*
 * form.c - the key page's form bodies (application/x-www-form-urlencoded),
 * parsed over a length into the caller's fixed buffers (form.h).
 */
#include "form.h"

#include <string.h>

#include "query.h"

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
        if (og_form_decode(p, (size_t)(ne - p), name, sizeof(name), false) < 0)
            goto bad;
        for (size_t i = 0; i < nfields && !f; i++)
            if (strcmp(fields[i].name, name) == 0)
                f = &fields[i];
        if (f) {
            if (f->seen || !f->val || !f->cap)
                goto bad;
            if (og_form_decode(v, (size_t)(pe - v), f->val, f->cap, true) < 0)
                goto bad;
            f->seen = true;
        } else if (og_form_decode(v, (size_t)(pe - v), NULL, 0, true) < 0) {
            goto bad;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
bad:
    clear(fields, nfields);
    return -1;
}
