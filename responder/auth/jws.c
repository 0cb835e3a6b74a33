/*
 * jws.c - the JWS half of OpenID Connect: JWKs turned into OpenSSL
 * EVP_PKEYs, the JOSE header checked, the signature verified with libcrypto.
 *
 * The JWS is verified with libcrypto, never libjwt: libjwt 1.10 lets the
 * token header choose the algorithm (HS256 with an RSA public key as the
 * HMAC secret), verifies nothing with a NULL key and refuses typ at+jwt.
 * Here the algorithm is bound to the key: a JWK's kty/crv (and its alg, if
 * given) decide which of RS/PS 256/384/512 or ES256/384/512 it verifies;
 * `none` and HMAC are refused whatever the header says; jku/x5u/jwk/x5c
 * headers are ignored. Decoding is bounded (base64url segments, JSON
 * documents). Fetching is oidc_discovery.c; claims and the cache oidc.c.
 */
#include "oidc_state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "base64.h"
#include "digest.h"

/* ---- algorithms ----------------------------------------------------------- */

enum alg_kind { K_RSA, K_PSS, K_EC };

enum alg {
    ALG_RS256, ALG_RS384, ALG_RS512, ALG_PS256, ALG_PS384, ALG_PS512,
    ALG_ES256, ALG_ES384, ALG_ES512, ALG_COUNT
};

static const struct {
    const char *name;
    const char *md;
    enum alg_kind kind;
} algs[ALG_COUNT] = {
    [ALG_RS256] = { "RS256", "SHA256", K_RSA }, [ALG_RS384] = { "RS384", "SHA384", K_RSA },
    [ALG_RS512] = { "RS512", "SHA512", K_RSA }, [ALG_PS256] = { "PS256", "SHA256", K_PSS },
    [ALG_PS384] = { "PS384", "SHA384", K_PSS }, [ALG_PS512] = { "PS512", "SHA512", K_PSS },
    [ALG_ES256] = { "ES256", "SHA256", K_EC },  [ALG_ES384] = { "ES384", "SHA384", K_EC },
    [ALG_ES512] = { "ES512", "SHA512", K_EC },
};

#define RSA_ALGS ((1u << ALG_RS256) | (1u << ALG_RS384) | (1u << ALG_RS512) | \
                  (1u << ALG_PS256) | (1u << ALG_PS384) | (1u << ALG_PS512))

static const struct {
    const char *crv;       /* JWK crv */
    const char *group;     /* OpenSSL group name */
    size_t coord;          /* bytes in x, y, r, s */
    enum alg alg;
} curves[] = {
    { "P-256", "prime256v1", 32, ALG_ES256 },
    { "P-384", "secp384r1", 48, ALG_ES384 },
    { "P-521", "secp521r1", 66, ALG_ES512 },
};

static int alg_by_name(const char *s)
{
    for (int i = 0; i < ALG_COUNT; i++)
        if (strcmp(s, algs[i].name) == 0)
            return i;
    return -1;
}

/* ---- bounded decoding ----------------------------------------------------- */

/* base64url without padding, strict (canonical trailing bits). */
long oidc_b64url(struct og_oidc *o, const char *in, size_t len, unsigned char *out, size_t cap)
{
    o->st.b64_decodes++;
    if (memchr(in, '=', len))
        return -1;
    return og_base64_decode(in, len, out, cap, true);
}

json_t *oidc_parse_json(struct og_oidc *o, const void *p, size_t len)
{
    json_error_t err;
    json_t *j;

    o->st.json_parses++;
    j = json_loadb(p, len, JSON_REJECT_DUPLICATES, &err);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- JWKS ----------------------------------------------------------------- */

static EVP_PKEY *pkey_from(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *chk = NULL;
    EVP_PKEY *pkey = NULL;

    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto fail;
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!chk || EVP_PKEY_public_check(chk) != 1)
        goto fail;
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
fail:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return NULL;
}

/* Decode the base64url string member `name` of k into out[0..cap). */
static long jwk_bytes(struct og_oidc *o, json_t *k, const char *name, unsigned char *out,
                      size_t cap)
{
    json_t *v = json_object_get(k, name);

    if (!json_is_string(v) || json_string_length(v) > SEGMENT_MAX)
        return -1;
    return oidc_b64url(o, json_string_value(v), json_string_length(v), out, cap);
}

static bool jwk_rsa(struct og_oidc *o, json_t *k, struct jwk *out)
{
    unsigned char n[RSA_MAX_BYTES], e[8];
    long nlen = jwk_bytes(o, k, "n", n, sizeof n), elen = jwk_bytes(o, k, "e", e, sizeof e);
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;

    if (nlen <= 0 || elen <= 0)
        return false;
    bn = BN_bin2bn(n, (int)nlen, NULL);
    be = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!bn || !be || !bld || BN_num_bits(bn) < RSA_MIN_BITS ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        goto done;
    out->pkey = pkey_from("RSA", bld);
    out->algs = RSA_ALGS;
    out->coord = 0;
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return out->pkey != NULL;
}

static bool jwk_ec(struct og_oidc *o, json_t *k, struct jwk *out)
{
    const char *crv = json_string_value(json_object_get(k, "crv"));
    unsigned char pt[1 + 2 * 66];
    OSSL_PARAM_BLD *bld = NULL;
    size_t i, c;

    for (i = 0; crv && i < sizeof curves / sizeof curves[0]; i++)
        if (strcmp(crv, curves[i].crv) == 0)
            break;
    if (!crv || i == sizeof curves / sizeof curves[0])
        return false;
    c = curves[i].coord;
    pt[0] = 0x04;   /* uncompressed point */
    if (jwk_bytes(o, k, "x", pt + 1, c) != (long)c || jwk_bytes(o, k, "y", pt + 1 + c, c) != (long)c)
        return false;
    bld = OSSL_PARAM_BLD_new();
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                               curves[i].group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * c))
        out->pkey = pkey_from("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    out->algs = 1u << curves[i].alg;
    out->coord = c;
    return out->pkey != NULL;
}

/* One JWK into out; false = skip it (not for signatures, unsupported, malformed). */
static bool parse_jwk(struct og_oidc *o, json_t *k, struct jwk *out)
{
    const char *kty = json_string_value(json_object_get(k, "kty"));
    json_t *use = json_object_get(k, "use"), *ops = json_object_get(k, "key_ops");
    json_t *kid = json_object_get(k, "kid"), *alg = json_object_get(k, "alg");
    bool ok;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(k) || !kty)
        return false;
    if (use && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
        return false;
    if (ops) {
        size_t i;
        json_t *op;
        bool verify = false;
        if (!json_is_array(ops))
            return false;
        json_array_foreach(ops, i, op)
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = true;
        if (!verify)
            return false;
    }
    if (kid) {
        if (!json_is_string(kid) || json_string_length(kid) > KID_MAX)
            return false;
        memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
        out->has_kid = true;
    }
    if (alg && !json_is_string(alg))
        return false;
    if (strcmp(kty, "RSA") == 0)
        ok = jwk_rsa(o, k, out);
    else if (strcmp(kty, "EC") == 0)
        ok = jwk_ec(o, k, out);
    else
        return false;
    if (ok && alg) {
        /* The key's own alg narrows it to that one algorithm, of its kind. */
        int a = alg_by_name(json_string_value(alg));
        if (a < 0 || !(out->algs & (1u << a)))
            ok = false;
        else
            out->algs = 1u << a;
    }
    if (!ok) {
        EVP_PKEY_free(out->pkey);
        out->pkey = NULL;
    }
    return ok;
}

void oidc_free_keys(struct jwk *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        EVP_PKEY_free(keys[i].pkey);
    free(keys);
}

/* A JWKS document into keys; -1 unless it holds at least one usable key. */
int oidc_parse_jwks(struct og_oidc *o, const char *doc, size_t len, struct jwk **keys_out,
                    size_t *n_out)
{
    json_t *root, *arr, *k;
    struct jwk *keys = NULL;
    size_t i, n = 0;

    if (len > DOC_MAX || !(root = oidc_parse_json(o, doc, len)))
        return -1;
    arr = json_object_get(root, "keys");
    if (!json_is_array(arr) || !(keys = calloc(KEYS_MAX, sizeof(*keys))))
        goto fail;
    json_array_foreach(arr, i, k) {
        if (n == KEYS_MAX)
            break;
        if (parse_jwk(o, k, &keys[n]))
            n++;
    }
    if (n == 0)
        goto fail;
    json_decref(root);
    *keys_out = keys;
    *n_out = n;
    return 0;
fail:
    oidc_free_keys(keys, n);
    json_decref(root);
    return -1;
}

/* The key for (kid, alg): NULL with *kid_known telling which part failed. */
const struct jwk *oidc_find_key(const struct oidc_issuer *o, const char *kid, int alg,
                                bool *kid_known)
{
    *kid_known = false;
    if (!kid) {
        if (o->nkeys != 1)
            return NULL;
        *kid_known = true;
        return (o->keys[0].algs & (1u << alg)) ? &o->keys[0] : NULL;
    }
    for (size_t i = 0; i < o->nkeys; i++) {
        if (!o->keys[i].has_kid || strcmp(o->keys[i].kid, kid) != 0)
            continue;
        *kid_known = true;
        if (o->keys[i].algs & (1u << alg))
            return &o->keys[i];
    }
    return NULL;
}

/* ---- signature ------------------------------------------------------------ */

bool oidc_verify_sig(struct og_oidc *o, const struct jwk *k, int alg, const char *msg,
                     size_t msglen, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    int derlen = 0;
    bool ok = false;

    o->st.sig_checks++;
    if (!mctx)
        return false;
    if (algs[alg].kind == K_EC) {
        if (siglen != 2 * k->coord || !(der = og_ecdsa_jws_to_der(sig, k->coord, &derlen)))
            goto done;
        sig = der;
        siglen = (size_t)derlen;
    } else if (siglen != (size_t)EVP_PKEY_get_size(k->pkey)) {
        goto done;
    }
    if (EVP_DigestVerifyInit_ex(mctx, &pctx, algs[alg].md, NULL, NULL, k->pkey, NULL) != 1)
        goto done;
    if (algs[alg].kind == K_PSS &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto done;
    ok = EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *)msg, msglen) == 1;
done:
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    return ok;
}

/* ---- header ---------------------------------------------------------------- */

static bool typ_ok(json_t *typ)
{
    static const char *const ok[] = { "JWT", "application/jwt", "at+jwt", "application/at+jwt" };

    if (!typ)
        return true;
    if (!json_is_string(typ))
        return false;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcasecmp(json_string_value(typ), ok[i]) == 0)
            return true;
    return false;
}

/* The JOSE header: the alg (one we verify), the kid. jku/x5u/jwk/x5c are never looked at. */
const char *oidc_check_header(json_t *h, int *alg, char *kid, bool *has_kid)
{
    const char *a = json_string_value(json_object_get(h, "alg"));
    json_t *k = json_object_get(h, "kid");

    if (!a)
        return "JWT header has no alg";
    if (strcmp(a, "none") == 0)
        return "JWT alg none is refused";
    if (strncmp(a, "HS", 2) == 0)
        return "JWT HMAC algorithms are refused";
    if ((*alg = alg_by_name(a)) < 0)
        return "JWT alg is not supported";
    if (json_object_get(h, "crit"))
        return "JWT crit header is not supported";
    if (!typ_ok(json_object_get(h, "typ")))
        return "JWT typ is not JWT or at+jwt";
    *has_kid = k != NULL;
    if (k) {
        if (!json_is_string(k) || json_string_length(k) > KID_MAX)
            return "JWT kid is malformed";
        memcpy(kid, json_string_value(k), json_string_length(k) + 1);
    }
    return NULL;
}
