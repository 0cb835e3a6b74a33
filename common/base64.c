/*
 * base64.c - bounded base64 decoding and encoding.
 *
 * Used for Basic credentials, and base64url for JWT segments. Strict: a byte
 * outside the alphabet, misplaced padding or non-zero trailing bits are
 * errors, so one credential has exactly one encoding.
 */
#include "base64.h"

#include <stdint.h>

static int value_of(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (!url && c == '+') return 62;
    if (!url && c == '/') return 63;
    if (url && c == '-') return 62;
    if (url && c == '_') return 63;
    return -1;
}

long og_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap, bool url)
{
    size_t pad = 0, n, i, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (!url && inlen % 4 != 0)
        return -1;
    while (pad < 2 && inlen > pad && in[inlen - 1 - pad] == '=')
        pad++;
    n = inlen - pad;
    if (url && pad > 0 && (inlen % 4) != 0)
        return -1;
    if (n % 4 == 1)
        return -1;
    for (i = 0; i < n; i++) {
        int v = value_of((unsigned char)in[i], url);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outcap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)           /* non-canonical trailing bits */
        return -1;
    if (!url && pad != (4 - n % 4) % 4)
        return -1;
    return (long)o;
}

long og_base64_encode(const unsigned char *in, size_t inlen, char *out, size_t outcap, bool url)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char web[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *tab = url ? web : std;
    size_t i, o = 0;

    for (i = 0; i < inlen; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = inlen - i;
        if (left > 1) v |= (uint32_t)in[i + 1] << 8;
        if (left > 2) v |= in[i + 2];
        if (o + 4 >= outcap)
            return -1;
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (left > 1) out[o++] = tab[(v >> 6) & 63];
        else if (!url) out[o++] = '=';
        if (left > 2) out[o++] = tab[v & 63];
        else if (!url) out[o++] = '=';
    }
    if (o >= outcap)
        return -1;
    out[o] = '\0';
    return (long)o;
}
