/*
 * digest.h - one-shot SHA-256 (libcrypto), as bytes or as lowercase hex;
 * HMAC-SHA256 under a key set once; and a JWS ECDSA signature (r||s) in the
 * DER form libcrypto verifies.
 */
#ifndef OCIGATE_DIGEST_H
#define OCIGATE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define OG_SHA256_LEN 32
#define OG_SHA256_HEX_LEN 64

/* SHA-256 of data[0..n) into out; false when libcrypto fails. */
bool og_sha256(const void *data, size_t n, unsigned char out[OG_SHA256_LEN]);

/* The same as 64 lowercase hex digits and a NUL; on failure out is "". */
bool og_sha256_hex(const void *data, size_t n, char out[OG_SHA256_HEX_LEN + 1]);

/* HMAC-SHA256 under one key: og_hmac_new keys it (NULL on failure), each
   og_hmac_sha256 is one MAC of data[0..n) (false when libcrypto fails). */
struct og_hmac;
struct og_hmac *og_hmac_new(const unsigned char *key, size_t keylen);
bool og_hmac_sha256(struct og_hmac *h, const void *data, size_t n, unsigned char out[OG_SHA256_LEN]);
void og_hmac_free(struct og_hmac *h);

/* A JWS ECDSA signature sig = r||s (2 * coord bytes) as DER, allocated by
   libcrypto (free with OPENSSL_free); NULL on failure. */
unsigned char *og_ecdsa_jws_to_der(const unsigned char *sig, size_t coord, int *derlen);

#endif
