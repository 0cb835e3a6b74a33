/*
 * digest.c - the one-shot SHA-256 of digest.h, with EVP_Digest.
 */
#include "digest.h"

#include <openssl/evp.h>

#include "hex.h"

bool og_sha256(const void *data, size_t n, unsigned char out[OG_SHA256_LEN])
{
    unsigned int len = 0;
    return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) == 1 && len == OG_SHA256_LEN;
}

bool og_sha256_hex(const void *data, size_t n, char out[OG_SHA256_HEX_LEN + 1])
{
    unsigned char md[OG_SHA256_LEN];

    out[0] = '\0';
    if (!og_sha256(data, n, md))
        return false;
    og_hex_encode(md, sizeof md, out);
    return true;
}
