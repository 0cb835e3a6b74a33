/*
 * buf.c - the bounded writer of buf.h: appends, escapers, og_set_err.
 *
 * One writer for the FastCGI answers, the log lines, the metrics page and
 * the JSON paths of config errors, so that each escapes the same way and
 * none can write past its array.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

void og_buf_init(struct og_buf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->truncated = false;
    if (cap)
        p[0] = '\0';
}

void og_buf_rewind(struct og_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->p[len] = '\0';
    }
    b->truncated = false;
}

void og_buf_put(struct og_buf *b, const void *s, size_t n)
{
    size_t room = b->cap ? b->cap - 1 - b->len : 0;

    if (n > room) {
        n = room;
        b->truncated = true;
    }
    if (n) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
    if (b->cap)
        b->p[b->len] = '\0';
}

void og_buf_puts(struct og_buf *b, const char *s)
{
    if (s)
        og_buf_put(b, s, strlen(s));
}

void og_buf_printf(struct og_buf *b, const char *fmt, ...)
{
    size_t room = b->cap ? b->cap - b->len : 0;
    va_list ap;
    int n;

    if (room == 0) {
        b->truncated = true;
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->p[b->len] = '\0';
        b->truncated = true;
    } else if ((size_t)n >= room) {
        b->len = b->cap - 1;
        b->truncated = true;
    } else {
        b->len += (size_t)n;
    }
}

void og_buf_json(struct og_buf *b, const char *s, size_t max)
{
    static const char digits[] = "0123456789abcdef";

    og_buf_put(b, "\"", 1);
    for (size_t i = 0; s && i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            og_buf_put(b, e, 2);
        } else if (og_is_control(c)) {
            char e[6] = { '\\', 'u', '0', '0', digits[c >> 4], digits[c & 15] };
            og_buf_put(b, e, 6);
        } else {
            og_buf_put(b, &s[i], 1);
        }
    }
    og_buf_put(b, "\"", 1);
}

void og_buf_quoted(struct og_buf *b, const char *s, size_t max)
{
    og_buf_put(b, "\"", 1);
    for (size_t i = 0; s && i < max && s[i]; i++) {
        char c = s[i];
        if (c == '"' || c == '\\')
            og_buf_put(b, "\\", 1);
        if (!og_is_printable_ascii((unsigned char)c))
            c = '?';
        og_buf_put(b, &c, 1);
    }
    og_buf_put(b, "\"", 1);
}

void og_buf_printable(struct og_buf *b, const char *s, size_t max)
{
    for (size_t i = 0; s && i < max && s[i]; i++) {
        char c = og_is_printable_ascii((unsigned char)s[i]) ? s[i] : '?';
        og_buf_put(b, &c, 1);
    }
}

void og_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void og_buf_html(struct og_buf *b, const char *s, size_t max)
{
    for (size_t i = 0; s && i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':  og_buf_puts(b, "&amp;"); break;
        case '<':  og_buf_puts(b, "&lt;"); break;
        case '>':  og_buf_puts(b, "&gt;"); break;
        case '"':  og_buf_puts(b, "&quot;"); break;
        case '\'': og_buf_puts(b, "&#39;"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                og_buf_puts(b, "?");
            else
                og_buf_put(b, &s[i], 1);
        }
    }
}

void og_buf_urlencode(struct og_buf *b, const char *s, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; s && i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            og_buf_put(b, &s[i], 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            og_buf_put(b, e, 3);
        }
    }
}
