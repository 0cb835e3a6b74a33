/*
 * text.c - the checks of text.h: control bytes and displayable UTF-8.
 */
#include "text.h"

bool og_has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (og_is_control((unsigned char)s[i]))
            return true;
    return false;
}

/* Format characters that reorder or hide text where a label is shown. */
static bool is_hidden_format(unsigned long cp)
{
    return cp == 0x00AD || cp == 0x061C || cp == 0x180E ||
           (cp >= 0x200B && cp <= 0x200F) ||      /* zero width, LRM, RLM */
           (cp >= 0x2028 && cp <= 0x202E) ||      /* separators, embeddings, overrides */
           (cp >= 0x2060 && cp <= 0x206F) ||      /* word joiner, invisibles, isolates */
           cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
           (cp >= 0xE0000 && cp <= 0xE007F);      /* tag characters */
}

bool og_utf8_text_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned long cp;
        size_t len;

        if (p[i] < 0x80) {
            cp = p[i];
            len = 1;
        } else if ((p[i] & 0xE0) == 0xC0) {
            cp = p[i] & 0x1F;
            len = 2;
        } else if ((p[i] & 0xF0) == 0xE0) {
            cp = p[i] & 0x0F;
            len = 3;
        } else if ((p[i] & 0xF8) == 0xF0) {
            cp = p[i] & 0x07;
            len = 4;
        } else {
            return false;
        }
        if (len > n - i)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;                       /* overlong, out of range, surrogate */
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || is_hidden_format(cp))
            return false;
        i += len;
    }
    return true;
}
