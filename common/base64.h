/*
 * base64.h - bounded base64 decoding (RFC 4648, standard and URL alphabets).
 */
#ifndef OCIGATE_BASE64_H
#define OCIGATE_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Decode in[0..inlen) into out (capacity outcap). Standard alphabet with
 * '=' padding required to a multiple of 4 when url is false; URL alphabet
 * with padding optional when url is true. Whitespace is not accepted.
 * Returns the decoded length, or -1 on malformed input or overflow of out.
 */
long og_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap, bool url);

/* Encode (standard alphabet with padding, or URL alphabet without). Returns length or -1. */
long og_base64_encode(const unsigned char *in, size_t inlen, char *out, size_t outcap, bool url);

#endif
