/*
 * query.h - form-encoded query strings of the endpoints ocigate serves itself.
 */
#ifndef OCIGATE_QUERY_H
#define OCIGATE_QUERY_H

#include <stddef.h>

struct og_query_iter {
    const char *p, *end;
};

/* q points after the '?' (or is the whole query); len bytes. */
void og_query_init(struct og_query_iter *it, const char *q, size_t len);

/* Next key=value pair, percent- and '+'-decoded into k and v (NUL-terminated).
   Returns 1 for a pair, 0 at the end, -1 when malformed (bad escape, control
   byte, too long for the buffers). */
int og_query_next(struct og_query_iter *it, char *k, size_t kcap, char *v, size_t vcap);

/* The query part of a request target ("" when none); *len gets its length. */
const char *og_query_of(const char *uri, size_t uri_len, size_t *len);

#endif
