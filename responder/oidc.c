/*
 * oidc.c - OpenID Connect JWTs checked against the issuer's JWKS (doc/decisions.md).
 *
 * The JWS is verified with libcrypto, never libjwt: libjwt 1.10 lets the
 * token header choose the algorithm (HS256 with an RSA public key as the
 * HMAC secret), verifies nothing with a NULL key and refuses typ at+jwt.
 * Here the algorithm is bound to the key: a JWK's kty/crv (and its alg, if
 * given) decide which of RS/PS 256/384/512 or ES256/384/512 it verifies;
 * `none` and HMAC are refused whatever the header says; jku/x5u/jwk/x5c
 * headers are ignored. Every input is bounded before it is decoded: a token
 * over 16 KiB or a segment over 8 KiB is refused before any base64 or JSON
 * work. Discovery and JWKS come over libcurl (https; http only for loopback),
 * at most one refresh per 30 s, the last good JWKS kept when a fetch fails.
 * Verified tokens are cached per worker by SHA-256 until exp (+ leeway).
 */
#include "ocigate_build.h"
#include "oidc.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "base64.h"
#include "config.h"
#include "log.h"
#include "request.h"

#define TOKEN_MAX       16384           /* whole token, before anything else */
#define SEGMENT_MAX     8192            /* each base64url segment */
#define DOC_MAX         (256 * 1024)    /* discovery document, JWKS */
#define URL_MAX         2048
#define KID_MAX         256
#define KEYS_MAX        64              /* keys kept from one JWKS */
#define CACHE_SIZE      512
#define REFRESH_MIN_S   30              /* between two JWKS fetches */
#define RETRY_EMPTY_S   5               /* while no JWKS was ever fetched */
#define JWKS_MAX_AGE_S  3600            /* refetch (lazily) after this */
#define GROUP_MAX       255             /* bytes in one group name */
#define RSA_MIN_BITS    2048
#define RSA_MAX_BYTES   1024            /* 8192-bit modulus */
#define CLAIM_TIME_MAX  1e11            /* year ~5138: beyond is nonsense */

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

/* ---- state ---------------------------------------------------------------- */

struct jwk {
    char kid[KID_MAX + 1];
    bool has_kid;
    unsigned algs;          /* bit per enum alg this key may verify */
    size_t coord;           /* EC: bytes per coordinate; RSA: 0 */
    EVP_PKEY *pkey;
};

struct cache_entry {
    unsigned char hash[32]; /* SHA-256 of the token */
    time_t until;           /* exp + leeway */
    char *blob;             /* "user\0group\0group\0..." */
    size_t ngroups;
};

struct og_oidc {
    const struct og_config *cfg;
    char issuer[URL_MAX];   /* as configured */
    char base[URL_MAX];     /* issuer without a trailing '/' */
    bool url_ok;            /* issuer is https, or http on loopback */
    long timeout_ms;
    CURL *curl;

    char jwks_uri[URL_MAX]; /* from discovery; "" = discover again */
    struct jwk *keys;
    size_t nkeys;
    unsigned char jwks_hash[32];
    time_t fetched_at;      /* 0 = never */
    time_t last_attempt;
    bool attempted;

    og_oidc_get_fn get;
    void *get_arg;
    time_t fake_now;
    struct og_oidc_stats st;

    struct cache_entry cache[CACHE_SIZE];
    size_t hand;            /* next victim when the cache is full */
};

/* What a verified token says, before it goes to the cache. */
struct claims {
    time_t until;
    char user[OG_USER_MAX + 1];
    char groups[sizeof(((struct og_identity_store *)0)->group_buf)];
    size_t groups_len;
    size_t ngroups;
};

static time_t now_of(const struct og_oidc *o)
{
    return o->fake_now ? o->fake_now : time(NULL);
}

static bool sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

/* ---- bounded decoding ----------------------------------------------------- */

/* base64url without padding, strict (canonical trailing bits). */
static long b64url(struct og_oidc *o, const char *in, size_t len, unsigned char *out, size_t cap)
{
    o->st.b64_decodes++;
    if (memchr(in, '=', len))
        return -1;
    return og_base64_decode(in, len, out, cap, true);
}

static json_t *parse_json(struct og_oidc *o, const void *p, size_t len)
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

static bool has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

/* ---- URLs ----------------------------------------------------------------- */

static bool host_is_loopback(const char *h)
{
    struct in_addr a4;
    struct in6_addr a6;
    char buf[64];
    size_t n = strlen(h);

    if (strcasecmp(h, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (n >= 2 && n < sizeof(buf) && h[0] == '[' && h[n - 1] == ']') {
        memcpy(buf, h + 1, n - 2);
        buf[n - 2] = '\0';
        h = buf;
    }
    return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* https anywhere, http only to a loopback host. */
static bool url_allowed(const char *url, bool *loopback)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;

    *loopback = false;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto done;
    *loopback = host_is_loopback(host);
    ok = strcmp(scheme, "https") == 0 || (strcmp(scheme, "http") == 0 && *loopback);
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* ---- HTTP ----------------------------------------------------------------- */

struct sink {
    char *buf;
    size_t cap, len;
};

static size_t sink_write(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t k = size * n;

    if (k > s->cap - s->len)
        return 0;   /* over the cap: abort the transfer */
    memcpy(s->buf + s->len, p, k);
    s->len += k;
    return k;
}

static long curl_get(struct og_oidc *o, const char *url, bool loopback, char *buf, size_t cap,
                     size_t *len)
{
    struct sink s = { buf, cap, 0 };
    long code = 0;

    if (!o->curl && !(o->curl = curl_easy_init()))
        return -1;
    curl_easy_reset(o->curl);
    curl_easy_setopt(o->curl, CURLOPT_URL, url);
    curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(o->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(o->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS_STR, loopback ? "http,https" : "https");
    curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, &s);
    if (loopback)
        curl_easy_setopt(o->curl, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(o->curl) != CURLE_OK)
        return -1;
    curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
    *len = s.len;
    return code;
}

/* GET url into buf; 0 on a 200 answer, -1 otherwise (logged, no secrets in it). */
static int fetch(struct og_oidc *o, const char *url, char *buf, size_t cap, size_t *len)
{
    bool loopback;
    long code;

    if (!url_allowed(url, &loopback)) {
        og_log(OG_LOG_ERROR, "oidc: refusing to fetch %s (https required, http only on loopback)",
               url);
        return -1;
    }
    o->st.fetches++;
    *len = 0;
    code = o->get ? o->get(o->get_arg, url, buf, cap, len)
                  : curl_get(o, url, loopback, buf, cap, len);
    if (code != 200 || *len > cap) {
        og_log(OG_LOG_WARN, "oidc: GET %s failed (%s %ld)", url,
               code < 0 ? "transport error" : "HTTP", code);
        return -1;
    }
    return 0;
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
    return b64url(o, json_string_value(v), json_string_length(v), out, cap);
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

static void free_keys(struct jwk *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        EVP_PKEY_free(keys[i].pkey);
    free(keys);
}

/* A JWKS document into keys; -1 unless it holds at least one usable key. */
static int parse_jwks(struct og_oidc *o, const char *doc, size_t len, struct jwk **keys_out,
                      size_t *n_out)
{
    json_t *root, *arr, *k;
    struct jwk *keys = NULL;
    size_t i, n = 0;

    if (len > DOC_MAX || !(root = parse_json(o, doc, len)))
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
    free_keys(keys, n);
    json_decref(root);
    return -1;
}

static void cache_flush(struct og_oidc *o)
{
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        free(o->cache[i].blob);
        memset(&o->cache[i], 0, sizeof(o->cache[i]));
    }
}

static int install_jwks(struct og_oidc *o, const char *doc, size_t len)
{
    struct jwk *keys;
    size_t n;
    unsigned char h[32];

    if (!sha256(doc, len, h) || parse_jwks(o, doc, len, &keys, &n) != 0)
        return -1;
    /* A changed key set may have dropped a key: forget what it verified. */
    if (o->nkeys && memcmp(h, o->jwks_hash, sizeof h) != 0)
        cache_flush(o);
    free_keys(o->keys, o->nkeys);
    o->keys = keys;
    o->nkeys = n;
    memcpy(o->jwks_hash, h, sizeof h);
    o->fetched_at = now_of(o);
    return 0;
}

static bool same_issuer(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la && a[la - 1] == '/')
        la--;
    if (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

/* The discovery document: check its issuer, take its jwks_uri. */
static int discover(struct og_oidc *o, char *buf)
{
    char url[URL_MAX + 64];
    size_t len;
    json_t *doc = NULL, *iss, *uri;
    bool loopback;
    int rc = -1;

    snprintf(url, sizeof url, "%s/.well-known/openid-configuration", o->base);
    if (fetch(o, url, buf, DOC_MAX, &len) != 0)
        return -1;
    if (!(doc = parse_json(o, buf, len))) {
        og_log(OG_LOG_WARN, "oidc: %s is not a JSON object", url);
        return -1;
    }
    iss = json_object_get(doc, "issuer");
    uri = json_object_get(doc, "jwks_uri");
    if (!json_is_string(iss) || !same_issuer(json_string_value(iss), o->issuer))
        og_log(OG_LOG_ERROR, "oidc: %s names another issuer", url);
    else if (!json_is_string(uri) || json_string_length(uri) >= sizeof o->jwks_uri ||
             !url_allowed(json_string_value(uri), &loopback))
        og_log(OG_LOG_ERROR, "oidc: %s has no usable jwks_uri (https required)", url);
    else {
        memcpy(o->jwks_uri, json_string_value(uri), json_string_length(uri) + 1);
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

/* One refresh attempt: discovery (if needed), then the JWKS. Failure keeps the old set. */
static void refresh(struct og_oidc *o)
{
    char *buf;
    size_t len;

    o->st.refreshes++;
    o->attempted = true;
    o->last_attempt = now_of(o);
    if (!o->url_ok || !(buf = malloc(DOC_MAX)))
        return;
    if (!o->jwks_uri[0] && discover(o, buf) != 0)
        goto done;
    if (fetch(o, o->jwks_uri, buf, DOC_MAX, &len) != 0 || install_jwks(o, buf, len) != 0) {
        og_log(OG_LOG_WARN, "oidc: no usable JWKS from %s; %s", o->jwks_uri,
               o->nkeys ? "keeping the last good one" : "JWTs get 503");
        o->jwks_uri[0] = '\0';   /* discover again next time */
        goto done;
    }
    og_log(OG_LOG_INFO, "oidc: JWKS from %s: %zu keys", o->jwks_uri, o->nkeys);
done:
    free(buf);
}

static bool may_refresh(const struct og_oidc *o, time_t now, time_t interval)
{
    return !o->attempted || now - o->last_attempt >= interval || now < o->last_attempt;
}

static void ensure_jwks(struct og_oidc *o, time_t now)
{
    if (o->nkeys == 0) {
        if (may_refresh(o, now, RETRY_EMPTY_S))
            refresh(o);
    } else if (now - o->fetched_at >= JWKS_MAX_AGE_S && may_refresh(o, now, REFRESH_MIN_S)) {
        refresh(o);
    }
}

/* The key for (kid, alg): NULL with *kid_known telling which part failed. */
static const struct jwk *find_key(const struct og_oidc *o, const char *kid, int alg,
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

/* JWS ES signatures are r||s; OpenSSL wants DER. */
static unsigned char *ecdsa_der(const unsigned char *sig, size_t coord, int *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)coord, NULL), *s = BN_bin2bn(sig + coord, (int)coord, NULL);
    unsigned char *der = NULL;

    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
        goto fail;
    r = s = NULL;   /* owned by es now */
    *derlen = i2d_ECDSA_SIG(es, &der);
    if (*derlen <= 0)
        der = NULL;
fail:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

static bool verify_sig(struct og_oidc *o, const struct jwk *k, int alg, const char *msg,
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
        if (siglen != 2 * k->coord || !(der = ecdsa_der(sig, k->coord, &derlen)))
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

/* ---- header and claims ---------------------------------------------------- */

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
static const char *check_header(json_t *h, int *alg, char *kid, bool *has_kid)
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

/* A NumericDate claim: 1 present and valid, 0 absent, -1 not a sane number. */
static int numeric_date(json_t *c, const char *name, time_t *out)
{
    json_t *v = json_object_get(c, name);
    double d;

    if (!v)
        return 0;
    if (!json_is_number(v))
        return -1;
    d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > CLAIM_TIME_MAX)
        return -1;
    *out = (time_t)d;
    return 1;
}

static bool aud_ok(const struct og_config *cfg, json_t *aud)
{
    json_t *one;
    size_t i;

    if (json_is_string(aud)) {
        for (size_t j = 0; j < cfg->openid_audiences.n; j++)
            if (strcmp(json_string_value(aud), cfg->openid_audiences.v[j]) == 0)
                return true;
        return false;
    }
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, i, one)
        if (json_is_string(one) && aud_ok(cfg, one))
            return true;
    return false;
}

static void add_group(struct claims *cl, json_t *g)
{
    const char *s = json_string_value(g);
    size_t n = json_string_length(g);

    /* Dropped, never cut: a shortened name could be another group. Commas
       and control bytes would break the groups answer. */
    if (!s || n == 0 || n > GROUP_MAX || has_ctl(s, n) || memchr(s, ',', n) ||
        cl->ngroups == OG_ID_MAX_GROUPS || cl->groups_len + n + 1 > sizeof cl->groups)
        return;
    memcpy(cl->groups + cl->groups_len, s, n + 1);
    cl->groups_len += n + 1;
    cl->ngroups++;
}

static const char *check_claims(const struct og_oidc *o, json_t *c, time_t now, struct claims *cl)
{
    const struct og_config *cfg = o->cfg;
    const char *iss = json_string_value(json_object_get(c, "iss"));
    json_t *user = json_object_get(c, cfg->openid_claim_username);
    json_t *groups = json_object_get(c, cfg->openid_claim_groups);
    time_t exp = 0, nbf = 0, iat = 0;
    time_t leeway = cfg->openid_leeway_s > 0 ? cfg->openid_leeway_s : 0;
    int r;

    if (!iss || strcmp(iss, cfg->openid_issuer) != 0)
        return "JWT iss is not the configured issuer";
    if (!aud_ok(cfg, json_object_get(c, "aud")))
        return "JWT aud holds none of the configured audiences";
    if ((r = numeric_date(c, "exp", &exp)) <= 0)
        return r == 0 ? "JWT has no exp" : "JWT exp is not a number";
    if (now >= exp + leeway)
        return "JWT has expired";
    if ((r = numeric_date(c, "nbf", &nbf)) < 0)
        return "JWT nbf is not a number";
    if (r > 0 && nbf > now + leeway)
        return "JWT is not valid yet (nbf)";
    if ((r = numeric_date(c, "iat", &iat)) < 0)
        return "JWT iat is not a number";
    if (r > 0 && iat > now + leeway)
        return "JWT is issued in the future (iat)";
    if (!json_is_string(user) || json_string_length(user) == 0 ||
        json_string_length(user) > OG_USER_MAX ||
        has_ctl(json_string_value(user), json_string_length(user)))
        return "JWT has no usable username claim";
    /* an address the IdP says it has not verified names nobody: anyone may
       have typed it into their profile */
    if (strcmp(cfg->openid_claim_username, "email") == 0 &&
        json_is_false(json_object_get(c, "email_verified")))
        return "JWT email is not verified (email_verified is false)";
    memcpy(cl->user, json_string_value(user), json_string_length(user) + 1);
    cl->until = exp + leeway;
    cl->groups_len = cl->ngroups = 0;
    if (json_is_string(groups)) {
        add_group(cl, groups);
    } else if (json_is_array(groups)) {
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
            add_group(cl, g);
    }
    return NULL;
}

/* ---- cache ---------------------------------------------------------------- */

static struct cache_entry *cache_find(struct og_oidc *o, const unsigned char h[32], time_t now)
{
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        struct cache_entry *e = &o->cache[i];
        if (!e->blob || memcmp(e->hash, h, 32) != 0)
            continue;
        if (now < e->until)
            return e;
        free(e->blob);
        memset(e, 0, sizeof(*e));
        return NULL;
    }
    return NULL;
}

static struct cache_entry *cache_put(struct og_oidc *o, const unsigned char h[32], time_t now,
                                     const struct claims *cl)
{
    struct cache_entry *victim = NULL;
    size_t ulen = strlen(cl->user) + 1;
    char *blob = malloc(ulen + cl->groups_len);

    if (!blob)
        return NULL;
    for (size_t i = 0; i < CACHE_SIZE && !victim; i++)
        if (!o->cache[i].blob || o->cache[i].until <= now)
            victim = &o->cache[i];
    if (!victim)            /* full of live entries: round robin */
        victim = &o->cache[o->hand++ % CACHE_SIZE];
    free(victim->blob);
    memcpy(blob, cl->user, ulen);
    memcpy(blob + ulen, cl->groups, cl->groups_len);
    memcpy(victim->hash, h, 32);
    victim->until = cl->until;
    victim->blob = blob;
    victim->ngroups = cl->ngroups;
    return victim;
}

/* The identity, copied into the request's store (it outlives cache evictions). */
static void fill_identity(const struct cache_entry *e, struct og_identity *id,
                          struct og_identity_store *store)
{
    const char *p = e->blob;
    size_t n = strlen(p), used = 0;

    memcpy(store->user, p, n + 1);
    p += n + 1;
    for (size_t i = 0; i < e->ngroups; i++) {
        n = strlen(p);
        memcpy(store->group_buf + used, p, n + 1);
        store->group_ptrs[i] = store->group_buf + used;
        used += n + 1;
        p += n + 1;
    }
    id->user = store->user;
    id->auth = OG_AUTH_OPENID;
    id->groups = store->group_ptrs;
    id->ngroups = e->ngroups;
    id->scopes = NULL;
    id->nscopes = 0;
}

/* ---- API ------------------------------------------------------------------ */

struct og_oidc *og_oidc_new(const struct og_config *cfg)
{
    struct og_oidc *o;
    size_t n;
    bool loopback;

    if (!cfg || !cfg->openid_enabled || !cfg->openid_issuer ||
        strlen(cfg->openid_issuer) >= URL_MAX || !(o = calloc(1, sizeof(*o))))
        return NULL;
    o->cfg = cfg;
    snprintf(o->issuer, sizeof o->issuer, "%s", cfg->openid_issuer);
    snprintf(o->base, sizeof o->base, "%s", cfg->openid_issuer);
    n = strlen(o->base);
    if (n && o->base[n - 1] == '/')
        o->base[n - 1] = '\0';
    o->timeout_ms = cfg->registry_timeout_ms > 0 ? cfg->registry_timeout_ms : 2000;
    o->url_ok = url_allowed(o->issuer, &loopback);
    if (!o->url_ok)
        og_log(OG_LOG_ERROR, "oidc: issuer %s: https required (http only on loopback); "
               "JWTs get 503", o->issuer);
    return o;
}

void og_oidc_free(struct og_oidc *o)
{
    if (!o)
        return;
    cache_flush(o);
    free_keys(o->keys, o->nkeys);
    if (o->curl)
        curl_easy_cleanup(o->curl);
    free(o);
}

/* Cheap checks on the raw token: size, alphabet, exactly three segments. */
static const char *split(const char *t, size_t len, size_t seg[3])
{
    size_t start = 0, k = 0;

    if (len == 0 || len > TOKEN_MAX)
        return "JWT is empty or too large";
    for (size_t i = 0; i <= len; i++) {
        if (i == len || t[i] == '.') {
            if (k == 3)
                return "JWT does not have three parts";
            seg[k++] = i - start;
            start = i + 1;
            continue;
        }
        unsigned char c = (unsigned char)t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return "JWT is not base64url";
    }
    if (k != 3)
        return "JWT does not have three parts";
    if (seg[0] == 0 || seg[1] == 0)
        return "JWT has an empty part";
    if (seg[0] > SEGMENT_MAX || seg[1] > SEGMENT_MAX || seg[2] > SEGMENT_MAX)
        return "JWT part too large";
    return NULL;
}

enum og_identify_result og_oidc_identify(struct og_oidc *o, const char *token, size_t len,
                                         struct og_identity *id, struct og_identity_store *store,
                                         const char **reason, int *cache_hit)
{
    unsigned char h[32], buf[SEGMENT_MAX];
    size_t seg[3];
    const char *why, *sig_in, *kid_p;
    char kid[KID_MAX + 1];
    bool has_kid = false, kid_known;
    json_t *hdr = NULL, *claims = NULL;
    struct claims *cl = NULL;
    const struct jwk *key;
    struct cache_entry *e;
    enum og_identify_result res = OG_ID_BAD_CREDENTIALS;
    time_t now;
    long n;
    int alg = -1;

    if (cache_hit)
        *cache_hit = 0;
    if (!o) {
        *reason = "OpenID Connect is not configured";
        return OG_ID_BAD_CREDENTIALS;
    }
    if ((why = split(token, len, seg)))
        goto fail;
    now = now_of(o);
    why = "internal error";
    if (!sha256(token, len, h))
        goto fail;
    if ((e = cache_find(o, h, now))) {
        fill_identity(e, id, store);
        if (cache_hit)
            *cache_hit = 1;
        *reason = "";
        return OG_ID_OK;
    }

    why = "JWT header is not base64url JSON";
    if ((n = b64url(o, token, seg[0], buf, sizeof buf)) <= 0 ||
        !(hdr = parse_json(o, buf, (size_t)n)))
        goto fail;
    if ((why = check_header(hdr, &alg, kid, &has_kid)))
        goto fail;

    why = "JWT payload is not base64url JSON";
    if ((n = b64url(o, token + seg[0] + 1, seg[1], buf, sizeof buf)) <= 0 ||
        !(claims = parse_json(o, buf, (size_t)n)))
        goto fail;
    why = "internal error";
    if (!(cl = malloc(sizeof(*cl))))
        goto fail;
    if ((why = check_claims(o, claims, now, cl)))
        goto fail;

    ensure_jwks(o, now);
    if (o->nkeys == 0) {
        why = "OpenID provider keys (JWKS) unavailable";
        res = OG_ID_UNAVAILABLE;
        goto fail;
    }
    kid_p = has_kid ? kid : NULL;
    key = find_key(o, kid_p, alg, &kid_known);
    if (!key && !kid_known && may_refresh(o, now, REFRESH_MIN_S)) {
        refresh(o);   /* unknown kid: the IdP may have rotated its keys */
        key = find_key(o, kid_p, alg, &kid_known);
    }
    if (!key) {
        why = kid_known ? "JWT alg does not match the key"
                        : (has_kid ? "JWT kid is unknown" : "JWT has no kid");
        goto fail;
    }

    why = "JWT signature is invalid";
    sig_in = token + seg[0] + 1 + seg[1] + 1;
    n = seg[2] ? b64url(o, sig_in, seg[2], buf, sizeof buf) : -1;
    if (n <= 0 || !verify_sig(o, key, alg, token, seg[0] + 1 + seg[1], buf, (size_t)n))
        goto fail;

    why = "internal error";
    if (!(e = cache_put(o, h, now, cl)))
        goto fail;
    fill_identity(e, id, store);
    free(cl);
    json_decref(hdr);
    json_decref(claims);
    *reason = "";
    return OG_ID_OK;
fail:
    free(cl);
    json_decref(hdr);
    json_decref(claims);
    *reason = why;
    return res;
}

long og_oidc_jwks_age(const struct og_oidc *o)
{
    if (!o || o->fetched_at == 0)
        return -1;
    return (long)(now_of(o) - o->fetched_at);
}

int og_oidc_set_jwks(struct og_oidc *o, const char *jwks_json, size_t len)
{
    return o ? install_jwks(o, jwks_json, len) : -1;
}

void og_oidc_set_fetcher(struct og_oidc *o, og_oidc_get_fn get, void *arg)
{
    o->get = get;
    o->get_arg = arg;
}

void og_oidc_set_now(struct og_oidc *o, time_t now)
{
    o->fake_now = now;
}

void og_oidc_get_stats(const struct og_oidc *o, struct og_oidc_stats *out)
{
    *out = o->st;
}
