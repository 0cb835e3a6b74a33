/*
 * buf.h - a bounded writer: text appended into a caller's fixed buffer.
 *
 * struct og_buf wraps a char array of cap bytes. Every append writes what
 * fits, keeps the text NUL-terminated (len <= cap - 1) and never writes past
 * cap; once something did not fit whole, `truncated` stays set and the
 * caller decides (answer 503, cut a log line, return 0). Escapers read at
 * most `max` bytes of their input and stop at its first NUL.
 */
#ifndef OCIGATE_BUF_H
#define OCIGATE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct og_buf {
    char *p;
    size_t cap, len;
    bool truncated;
};

/* Start an empty text in p[0..cap); cap may be 0 (then every append truncates). */
void og_buf_init(struct og_buf *b, char *p, size_t cap);

/* Cut the text back to its first len bytes (a saved og_buf.len); clears truncated. */
void og_buf_rewind(struct og_buf *b, size_t len);

/* s[0..n) as they are (may hold any byte). */
void og_buf_put(struct og_buf *b, const void *s, size_t n);

/* The NUL-terminated s (nothing for NULL). */
void og_buf_puts(struct og_buf *b, const char *s);

/* printf-style text; what does not fit is cut and sets truncated. */
void og_buf_printf(struct og_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A JSON string with its quotes: '"' and '\' backslash-escaped, control
   bytes (< 0x20 and 0x7f) as \u00XX, other bytes (UTF-8 included) as they
   are. NULL writes "". */
void og_buf_json(struct og_buf *b, const char *s, size_t max);

/* An HTTP quoted-string (RFC 9110) with its quotes: '"' and '\' backslash-
   escaped, bytes outside printable ASCII written as '?'. */
void og_buf_quoted(struct og_buf *b, const char *s, size_t max);

/* Printable ASCII as it is, every other byte as '?' (a header value). */
void og_buf_printable(struct og_buf *b, const char *s, size_t max);

/* HTML text or attribute value: & < > " ' as entities, control bytes as '?'. */
void og_buf_html(struct og_buf *b, const char *s, size_t max);

/* Percent-encoded (RFC 3986): every byte but A-Z a-z 0-9 - _ . ~ as %XX, so
   the result is safe in a query value, a form body and a Location header. */
void og_buf_urlencode(struct og_buf *b, const char *s, size_t max);

/* A formatted message into err[0..errlen), for functions that report errors
   in a caller's array; nothing when err is NULL or errlen is 0. */
void og_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
