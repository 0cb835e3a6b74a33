/*
 * digest.c - the one-shot SHA-256 of digest.h, with EVP_Digest; JWS ECDSA
 * signatures turned into DER.
 */
#include "digest.h"

#include <openssl/ecdsa.h>
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

unsigned char *og_ecdsa_jws_to_der(const unsigned char *sig, size_t coord, int *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)coord, NULL), *s = BN_bin2bn(sig + coord, (int)coord, NULL);
    unsigned char *der = NULL;

    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL;                        /* owned by es now */
    *derlen = i2d_ECDSA_SIG(es, &der);
    if (*derlen <= 0)
        der = NULL;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}
