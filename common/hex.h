/*
 * hex.h - lowercase hexadecimal: encode bytes, decode one digit, check a run.
 */
#ifndef OCIGATE_HEX_H
#define OCIGATE_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* in[0..n) as 2n lowercase hex digits and a NUL: out holds 2n + 1 bytes. */
void og_hex_encode(const unsigned char *in, size_t n, char *out);

/* The value of one hex digit (either case), or -1. */
int og_hex_value(int c);

/* True when s[0..n) is all lowercase hex digits [0-9a-f]. */
bool og_is_lower_hex(const char *s, size_t n);

#endif
