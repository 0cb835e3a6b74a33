/*
 * digest.c - the one-shot SHA-256 of digest.h and the keyed HMAC-SHA256;
 * JWS ECDSA signatures turned into DER.
 *
 * SHA-256 and HMAC run on every request that carries a credential (cache
 * keys, the throttle's entry). libcrypto's one-shot calls look the
 * algorithm up by name and make a context each time, which costs more than
 * the hash of a short input: here the algorithm is fetched once per process
 * and one context is reused (the processes are single-threaded).
 */
#include "digest.h"

#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "hex.h"

static EVP_MD *sha256_md;                /* fetched once */
static EVP_MD_CTX *sha256_ctx;           /* reused: init, update, final */

bool og_sha256(const void *data, size_t n, unsigned char out[OG_SHA256_LEN])
{
    unsigned int len = 0;

    if (!sha256_md)
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_ctx)
        sha256_ctx = EVP_MD_CTX_new();
    if (!sha256_md || !sha256_ctx)
        return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) == 1 && len == OG_SHA256_LEN;
    return EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) == 1 &&
           EVP_DigestUpdate(sha256_ctx, data, n) == 1 &&
           EVP_DigestFinal_ex(sha256_ctx, out, &len) == 1 && len == OG_SHA256_LEN;
}

struct og_hmac {
    EVP_MAC_CTX *ctx;                    /* keyed once; init without a key reuses it */
};

struct og_hmac *og_hmac_new(const unsigned char *key, size_t keylen)
{
    static EVP_MAC *mac;
    struct og_hmac *h;
    OSSL_PARAM params[2];

    if (!mac)
        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac || !(h = calloc(1, sizeof(*h))))
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    h->ctx = EVP_MAC_CTX_new(mac);
    if (!h->ctx || EVP_MAC_init(h->ctx, key, keylen, params) != 1) {
        og_hmac_free(h);
        return NULL;
    }
    return h;
}

bool og_hmac_sha256(struct og_hmac *h, const void *data, size_t n, unsigned char out[OG_SHA256_LEN])
{
    size_t len = 0;
    return h && EVP_MAC_init(h->ctx, NULL, 0, NULL) == 1 &&
           EVP_MAC_update(h->ctx, data, n) == 1 &&
           EVP_MAC_final(h->ctx, out, &len, OG_SHA256_LEN) == 1 && len == OG_SHA256_LEN;
}

void og_hmac_free(struct og_hmac *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->ctx);            /* cleanses the key */
    free(h);
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
