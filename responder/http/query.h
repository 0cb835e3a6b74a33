/*
 * query.h - form-encoded query strings of the endpoints ocigate serves itself.
 */
#ifndef OCIGATE_QUERY_H
#define OCIGATE_QUERY_H

#include <stdbool.h>
#include <stddef.h>

struct og_query_iter {
    const char *p, *end;
};

/* q points after the '?' (or is the whole query); len bytes. */
void og_query_init(struct og_query_iter *it, const char *q, size_t len);

/* Next key=value pair, percent- and '+'-decoded into k and v (NUL-terminated).
   Returns 1 for a pair, 0 at the end, -1 when malformed (bad escape, control
   byte, too long for the buffers). */
/* Decode one urlencoded name or value s[0..n) ('+' is a space, %XX a
   byte) into out[0..cap), NUL-terminated; out NULL: only measure. Returns
   the decoded length, or -1 (a bad escape, too long, a control byte;
   line_breaks lets TAB, CR and LF through, for text areas). */
long og_form_decode(const char *s, size_t n, char *out, size_t cap, bool line_breaks);

int og_query_next(struct og_query_iter *it, char *k, size_t kcap, char *v, size_t vcap);

/* The query part of a request target ("" when none); *len gets its length. */
const char *og_query_of(const char *uri, size_t uri_len, size_t *len);

#endif
