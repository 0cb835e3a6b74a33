/*
 * text.h - byte classes for text from outside: control bytes, printable
 * ASCII, and UTF-8 text safe to show to a person.
 *
 * A control byte is one below 0x20 or DEL (0x7f); it must never reach a
 * header, a log line or a Redis key unescaped. Every check takes a length.
 */
#ifndef OCIGATE_TEXT_H
#define OCIGATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* c < 0x20 or c == 0x7f. */
static inline bool og_is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* 0x20 <= c < 0x7f. */
static inline bool og_is_printable_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

/* True when s[0..n) holds a control byte (a NUL counts: it is below 0x20). */
bool og_has_control(const char *s, size_t n);

/* True when s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
   code points above U+10FFFF) without C0/C1 controls, DEL, or the format
   characters that reorder or hide text (bidi overrides, zero width, tags). */
bool og_utf8_text_ok(const char *s, size_t n);

#endif
