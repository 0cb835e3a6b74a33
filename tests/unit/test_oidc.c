/*
 * test_oidc.c - OIDC JWT verification (doc/decisions.md, identities): keys from a
 * JWKS, algorithm bound to the key, claims, JWKS discovery/refresh, cache,
 * and the JWT attacks of issue 3. No network: the keys are generated here,
 * tokens are signed here, and discovery/JWKS answers come from a fetch hook
 * (plus one real libcurl run against a plain-HTTP server on 127.0.0.1).
 *
 * Debian's libjwt 1.10.2 has three traps, each closed here and proven below.
 * (1) jwt_decode() lets the token header pick the algorithm, so an RSA public
 * key handed over as "the key" becomes an HMAC secret for a token saying
 * HS256: anyone holding the public key can mint tokens. ocigate does not use
 * libjwt for OIDC; libcrypto verifies, the algorithm set comes from the JWK
 * (kty/crv, and its alg if given), HS* is refused before any key is looked
 * at (hs256_confusion_with_rsa_public_key, hmac_jwk_is_never_used). (2) With
 * a NULL key libjwt verifies nothing, `alg: none` included, so "no key yet"
 * means "any token". Here `none` is refused by name, and no JWKS means 503,
 * never allow (alg_none_refused, no_jwks_is_unavailable_never_allow). (3)
 * libjwt rejects `typ: at+jwt`, the RFC 9068 access-token type many IdPs
 * emit; typ may be absent, JWT or at+jwt here (typ_values).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../../policy/config.h"
#include "../../common/base64.h"
#include "../../responder/auth/oidc.h"

#define ISS "https://idp.example.test/realms/r"

static EVP_PKEY *rsa, *ec256, *ec384, *ec521, *evil;
static char *jwks;              /* the IdP's JWKS */
static struct og_config *cfg;
static struct og_oidc *O;
static long now;

/* ---- fetch hook: a fake IdP ----------------------------------------------- */

static struct {
    int calls;
    int down;                   /* answer 503 */
    const char *issuer;         /* in the discovery document */
    const char *jwks_uri;
    const char *jwks;
    char last_url[512];
    int foreign;                /* URLs asked that are not the IdP's */
} idp;

/* A second IdP (the CI issuer of the several-issuers tests). */
#define ISS2 "https://ci.example.test"
static struct {
    int calls, down;
    char *jwks;
} ci;

static long fake_get(void *arg, const char *url, char *buf, size_t cap, size_t *len)
{
    const char *body;
    (void)arg;

    if (strncmp(url, ISS2 "/", strlen(ISS2 "/")) == 0) {
        ci.calls++;
        if (ci.down)
            return 503;
        if (strcmp(url, ISS2 "/.well-known/openid-configuration") == 0)
            body = "{\"issuer\":\"" ISS2 "\",\"jwks_uri\":\"" ISS2 "/jwks\"}";
        else if (strcmp(url, ISS2 "/jwks") == 0 && ci.jwks)
            body = ci.jwks;
        else
            return 404;
        *len = strlen(body);
        memcpy(buf, body, *len);
        return 200;
    }
    idp.calls++;
    snprintf(idp.last_url, sizeof idp.last_url, "%s", url);
    if (strncmp(url, ISS "/", strlen(ISS "/")) != 0)
        idp.foreign++;
    if (idp.down)
        return 503;
    if (strcmp(url, ISS "/.well-known/openid-configuration") == 0) {
        *len = (size_t)snprintf(buf, cap, "{\"issuer\":\"%s\",\"jwks_uri\":\"%s\"}", idp.issuer,
                                idp.jwks_uri);
        return 200;
    }
    if (strcmp(url, idp.jwks_uri) == 0) {
        body = idp.jwks;
        *len = strlen(body);
        assert_true(*len <= cap);
        memcpy(buf, body, *len);
        return 200;
    }
    return 404;
}

/* ---- building keys and tokens --------------------------------------------- */

static char *b64u(const void *p, size_t n)
{
    size_t cap = n * 4 / 3 + 8;
    char *out = malloc(cap);

    assert_non_null(out);
    assert_true(og_base64_encode(p, n, out, cap, true) >= 0);
    return out;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, f);
    assert_true(vasprintf(&s, f, ap) >= 0);
    va_end(ap);
    return s;
}

static char *bn_b64u(const BIGNUM *bn, int pad)
{
    unsigned char buf[1024];
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);

    assert_true(n > 0);
    return b64u(buf, (size_t)n);
}

static char *rsa_members(EVP_PKEY *k)
{
    BIGNUM *n = NULL, *e = NULL;
    char *sn, *se, *out;

    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    sn = bn_b64u(n, 0);
    se = bn_b64u(e, 0);
    out = fmt("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", sn, se);
    free(sn);
    free(se);
    BN_free(n);
    BN_free(e);
    return out;
}

/* EC members; flip != 0 corrupts the last byte of y (a point off the curve). */
static char *ec_members(EVP_PKEY *k, const char *crv, int coord, int flip)
{
    BIGNUM *x = NULL, *y = NULL;
    unsigned char yb[66];
    char *sx, *sy, *out;

    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    sx = bn_b64u(x, coord);
    assert_int_equal(BN_bn2binpad(y, yb, coord), coord);
    yb[coord - 1] ^= (unsigned char)flip;
    sy = b64u(yb, (size_t)coord);
    out = fmt("\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"", crv, sx, sy);
    free(sx);
    free(sy);
    BN_free(x);
    BN_free(y);
    return out;
}

static const char *md_of(const char *alg)
{
    return strstr(alg, "256") ? "SHA256" : strstr(alg, "384") ? "SHA384" : "SHA512";
}

/* The JWS signature of msg: RS/PS/ES with key, HS with secret, none empty. */
static size_t sign(const char *alg, EVP_PKEY *key, const void *secret, size_t slen,
                   const char *msg, unsigned char *sig)
{
    size_t n = 0;

    if (strcmp(alg, "none") == 0)
        return 0;
    if (alg[0] == 'H') {
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, md_of(alg), NULL, secret, slen,
                                  (const unsigned char *)msg, strlen(msg), sig, 64, &n));
        return n;
    }
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[1024];
    size_t dlen = sizeof der;

    assert_int_equal(EVP_DigestSignInit_ex(m, &pctx, md_of(alg), NULL, NULL, key, NULL), 1);
    if (alg[0] == 'P') {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    assert_int_equal(EVP_DigestSign(m, der, &dlen, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(m);
    if (alg[0] != 'E') {
        memcpy(sig, der, dlen);
        return dlen;
    }
    /* DER -> r||s */
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    const BIGNUM *r, *s;
    int c = strstr(alg, "256") ? 32 : strstr(alg, "384") ? 48 : 66;

    assert_non_null(es);
    ECDSA_SIG_get0(es, &r, &s);
    assert_int_equal(BN_bn2binpad(r, sig, c), c);
    assert_int_equal(BN_bn2binpad(s, sig + c, c), c);
    ECDSA_SIG_free(es);
    return (size_t)(2 * c);
}

static char *jwt_secret(const char *header, const char *payload, const char *alg, EVP_PKEY *key,
                        const void *secret, size_t slen)
{
    char *h = b64u(header, strlen(header)), *p = b64u(payload, strlen(payload));
    char *msg = fmt("%s.%s", h, p), *s, *out;
    unsigned char sig[1024];
    size_t n = sign(alg, key, secret, slen, msg, sig);

    s = n ? b64u(sig, n) : strdup("");
    out = fmt("%s.%s", msg, s);
    free(h);
    free(p);
    free(msg);
    free(s);
    return out;
}

static char *jwt(const char *header, const char *payload, const char *alg, EVP_PKEY *key)
{
    return jwt_secret(header, payload, alg, key, NULL, 0);
}

/* Claims: iss, aud, exp, iat, username alice, groups dev/ops; extra appended. */
static char *claims_with(const char *extra)
{
    return fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,\"iat\":%ld,"
               "\"preferred_username\":\"alice\",\"groups\":[\"dev\",\"ops\"]%s}",
               now + 300, now, extra);
}

/* A JOSE header; the result lives until the next call. */
static const char *hdr(const char *alg, const char *kid)
{
    static char buf[256];

    snprintf(buf, sizeof buf, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    return buf;
}

/* ---- checking ------------------------------------------------------------- */

static struct og_identity id;
static struct og_identity_store store;
static const char *reason;
static int hit;

static enum og_identify_result verify(const char *token)
{
    memset(&id, 0, sizeof id);
    memset(&store, 0, sizeof store);
    reason = NULL;
    hit = -1;
    return og_oidc_identify(O, token, strlen(token), &id, &store, &reason, &hit);
}

/* Verify and free; on success check alice and her two groups. */
static void accept_(char *token)
{
    enum og_identify_result r = verify(token);

    if (r != OG_ID_OK)
        fail_msg("refused: %s", reason);
    assert_string_equal(id.user, "alice");
    assert_int_equal(id.auth, OG_AUTH_OPENID);
    free(token);
}

static void refuse(char *token, const char *why)
{
    enum og_identify_result r = verify(token);

    if (r != OG_ID_BAD_CREDENTIALS)
        fail_msg("expected refusal (%s), got %d", why, (int)r);
    assert_non_null(reason);
    if (!strstr(reason, why))
        fail_msg("reason \"%s\" does not contain \"%s\"", reason, why);
    assert_null(id.user);
    free(token);
}

static struct og_oidc_stats stats(void)
{
    struct og_oidc_stats s;

    og_oidc_get_stats(O, &s);
    return s;
}

/* ---- fixtures ------------------------------------------------------------- */

static int group_setup(void **state)
{
    char *r, *e256, *e384, *e521, *err = calloc(1, 512);
    const char *conf =
        "{\"accessControl\": {}, \"auth\": {\"openid\": {\"issuer\": \"" ISS "\","
        " \"audiences\": [\"registry\", \"other\"], \"leewaySeconds\": 60}}}";
    (void)state;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ec521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    evil = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!rsa || !ec256 || !ec384 || !ec521 || !evil)
        return -1;
    r = rsa_members(rsa);
    e256 = ec_members(ec256, "P-256", 32, 0);
    e384 = ec_members(ec384, "P-384", 48, 0);
    e521 = ec_members(ec521, "P-521", 66, 0);
    jwks = fmt("{\"keys\":["
               "{%s,\"kid\":\"rsa1\",\"use\":\"sig\"},"
               "{%s,\"kid\":\"rsa-rs256\",\"alg\":\"RS256\"},"
               "{%s,\"kid\":\"ec256\"},"
               "{%s,\"kid\":\"ec384\",\"use\":\"sig\"},"
               "{%s,\"kid\":\"ec521\",\"alg\":\"ES512\"},"
               "{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"},"
               "{%s,\"kid\":\"enc1\",\"use\":\"enc\"},"
               "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}"
               "]}", r, r, e256, e384, e521, r);
    free(r);
    free(e256);
    free(e384);
    free(e521);
    cfg = og_config_parse(conf, strlen(conf), "ocigate.json", err, 512);
    if (!cfg)
        fprintf(stderr, "config: %s\n", err);
    free(err);
    return cfg ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec256);
    EVP_PKEY_free(ec384);
    EVP_PKEY_free(ec521);
    EVP_PKEY_free(evil);
    free(jwks);
    og_config_free(cfg);
    curl_global_cleanup();
    return 0;
}

/* A fresh verifier whose IdP (the fetch hook) serves the JWKS. */
static int setup(void **state)
{
    (void)state;
    now = (long)time(NULL);
    memset(&idp, 0, sizeof idp);
    idp.issuer = ISS;
    idp.jwks_uri = ISS "/protocol/openid-connect/certs";
    idp.jwks = jwks;
    O = og_oidc_new(cfg);
    assert_non_null(O);
    og_oidc_set_fetcher(O, fake_get, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    og_oidc_free(O);
    O = NULL;
    return 0;
}

/* ---- valid tokens --------------------------------------------------------- */

static void valid_tokens_with_every_key_kind(void **state)
{
    char *c = claims_with("");
    (void)state;

    assert_int_equal(og_oidc_jwks_age(O), -1);
    accept_(jwt(hdr("RS256", "rsa1"), c, "RS256", rsa));
    assert_int_equal(idp.calls, 2);                     /* discovery, then JWKS */
    assert_true(og_oidc_jwks_age(O) >= 0);
    assert_int_equal(id.ngroups, 2);
    assert_string_equal(id.groups[0], "dev");
    assert_string_equal(id.groups[1], "ops");
    assert_string_equal(store.user, "alice");
    accept_(jwt(hdr("RS384", "rsa1"), c, "RS384", rsa));
    accept_(jwt(hdr("RS512", "rsa1"), c, "RS512", rsa));
    accept_(jwt(hdr("PS256", "rsa1"), c, "PS256", rsa));
    accept_(jwt(hdr("PS512", "rsa1"), c, "PS512", rsa));
    accept_(jwt(hdr("RS256", "rsa-rs256"), c, "RS256", rsa));
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    accept_(jwt(hdr("ES384", "ec384"), c, "ES384", ec384));
    accept_(jwt(hdr("ES512", "ec521"), c, "ES512", ec521));
    assert_int_equal(idp.calls, 2);                     /* fetched once */
    free(c);
}

static void groups_claim_forms(void **state)
{
    char *c;
    (void)state;

    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"alice\",\"groups\":\"admins\"}", now + 60);
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    assert_int_equal(id.ngroups, 1);
    assert_string_equal(id.groups[0], "admins");
    free(c);

    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"alice\"}", now + 60);
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    assert_int_equal(id.ngroups, 0);
    free(c);

    /* names with a comma or a control byte, non-strings: dropped, never cut */
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"alice\","
            "\"groups\":[\"a,b\",\"x\\ny\",7,\"\",\"good\"]}", now + 60);
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    assert_int_equal(id.ngroups, 1);
    assert_string_equal(id.groups[0], "good");
    free(c);
}

static void username_claim_required(void **state)
{
    char *c;
    (void)state;

    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,\"sub\":\"x\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "username");
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"\"}", now + 60);                 /* "" = anonymous */
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "username");
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":[\"alice\"]}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "username");
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"alice\\r\\nX-Ocigate-User: root\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "username");
    free(c);
}

/* claimMapping.username picks the claim: "sub" (unique per issuer) and
   "email" work; preferred_username is then ignored, never a fallback; an
   email the IdP marks unverified is refused. */
static enum og_identify_result verify_mapped(const char *claim, const char *claims)
{
    char conf[512], err[256];
    struct og_config *c2;
    struct og_oidc *o2;
    char *t = jwt(hdr("ES256", "ec256"), claims, "ES256", ec256);
    enum og_identify_result r;

    snprintf(conf, sizeof conf, "{\"accessControl\": {}, \"auth\": {\"openid\": {\"issuer\": "
             "\"" ISS "\", \"audiences\": [\"registry\"], \"claimMapping\": "
             "{\"username\": \"%s\"}}}}", claim);
    c2 = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    assert_non_null(c2);
    assert_string_equal(c2->openid[0].username, claim);
    o2 = og_oidc_new(c2);
    assert_non_null(o2);
    og_oidc_set_fetcher(o2, fake_get, NULL);
    memset(&id, 0, sizeof id);
    memset(&store, 0, sizeof store);
    reason = NULL;
    r = og_oidc_identify(o2, t, strlen(t), &id, &store, &reason, &hit);
    if (r == OG_ID_OK)
        snprintf(store.key_id, sizeof store.key_id, "%s", id.user);   /* outlives o2 */
    og_oidc_free(o2);
    og_config_free(c2);
    free(t);
    return r;
}

/* With accessControl conditions in the config, the verified claims stay with
   the cached token and reach the request's store, for req.claims, on a
   cache hit too (not parsed again); without conditions nothing is kept. */
static void claims_kept_for_conditions(void **state)
{
    const char *conf = "{\"accessControl\": {\"repositories\": {\"**\": {\"policies\": [{\"users\": "
                       "[\"alice\"], \"actions\": [\"read\"], \"conditions\": [{\"expression\": "
                       "\"\\\"dev\\\" in req.claims.roles\"}]}]}}}, \"auth\": {\"openid\": {\"issuer\": "
                       "\"" ISS "\", \"audiences\": [\"registry\"]}}}";
    char err[256];
    struct og_config *c2 = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    char *c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
                  "\"preferred_username\":\"alice\",\"roles\":[\"dev\"]}", now + 60);
    char *t = jwt(hdr("ES256", "ec256"), c, "ES256", ec256);
    struct og_oidc *o2;

    (void)state;
    if (!c2)
        fail_msg("%s", err);
    assert_true(c2->has_conditions);
    o2 = og_oidc_new(c2);
    og_oidc_set_fetcher(o2, fake_get, NULL);
    for (int round = 0; round < 2; round++) {   /* verified, then from the cache */
        memset(&id, 0, sizeof id);
        memset(&store, 0, sizeof store);
        assert_int_equal(og_oidc_identify(o2, t, strlen(t), &id, &store, &reason, &hit), OG_ID_OK);
        assert_int_equal(hit, round);
        assert_non_null(store.claims);
        assert_string_equal(json_string_value(json_array_get(
            json_object_get((json_t *)store.claims, "roles"), 0)), "dev");
    }
    og_oidc_free(o2);
    og_config_free(c2);
    /* the suite's config has no conditions: no claims kept */
    memset(&store, 0, sizeof store);
    assert_int_equal(og_oidc_identify(O, t, strlen(t), &id, &store, &reason, &hit), OG_ID_OK);
    assert_null(store.claims);
    free(t);
    free(c);
}

static void username_claim_mapping_sub_and_email(void **state)
{
    char *c;
    (void)state;

    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,\"sub\":\"f81d4fae-7dec\","
            "\"preferred_username\":\"admin\",\"email\":\"eve@example.test\"}", now + 60);
    assert_int_equal(verify_mapped("sub", c), OG_ID_OK);
    assert_string_equal(store.key_id, "f81d4fae-7dec");
    assert_int_equal(verify_mapped("email", c), OG_ID_OK);
    assert_string_equal(store.key_id, "eve@example.test");
    assert_int_equal(verify_mapped("preferred_username", c), OG_ID_OK);
    assert_string_equal(store.key_id, "admin");
    free(c);

    /* the mapped claim is missing: refused, preferred_username is no fallback */
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"admin\"}", now + 60);
    assert_int_equal(verify_mapped("sub", c), OG_ID_BAD_CREDENTIALS);
    assert_non_null(strstr(reason, "username"));
    assert_int_equal(verify_mapped("email", c), OG_ID_BAD_CREDENTIALS);
    free(c);

    /* email: verified or silent passes; marked unverified is refused */
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"email\":\"eve@example.test\",\"email_verified\":true}", now + 60);
    assert_int_equal(verify_mapped("email", c), OG_ID_OK);
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"sub\":\"x1\",\"email\":\"admin@example.test\",\"email_verified\":false}",
            now + 60);
    assert_int_equal(verify_mapped("email", c), OG_ID_BAD_CREDENTIALS);
    assert_non_null(strstr(reason, "email_verified"));
    /* ... which matters for "email" only */
    assert_int_equal(verify_mapped("sub", c), OG_ID_OK);
    assert_string_equal(store.key_id, "x1");
    free(c);
}

/* libjwt trap 3: typ at+jwt (RFC 9068) must pass. */
static void typ_values(void **state)
{
    static const char *const good[] = { "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt",
                                        "application/jwt" };
    static const char *const bad[] = { "JWS", "JOSE", "at+jwt2", "id+jwt", "" };
    char *c = claims_with(""), *h;
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        h = fmt("{\"alg\":\"ES256\",\"kid\":\"ec256\",\"typ\":\"%s\"}", good[i]);
        accept_(jwt(h, c, "ES256", ec256));
        free(h);
    }
    accept_(jwt("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", c, "ES256", ec256));   /* absent */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h = fmt("{\"alg\":\"ES256\",\"kid\":\"ec256\",\"typ\":\"%s\"}", bad[i]);
        refuse(jwt(h, c, "ES256", ec256), "typ");
        free(h);
    }
    refuse(jwt("{\"alg\":\"ES256\",\"kid\":\"ec256\",\"typ\":1}", c, "ES256", ec256), "typ");
    refuse(jwt("{\"alg\":\"ES256\",\"kid\":\"ec256\",\"crit\":[\"exp\"],\"exp\":1}", c, "ES256",
               ec256), "crit");
    free(c);
}

static void single_key_jwks_without_kid(void **state)
{
    char *e = ec_members(ec256, "P-256", 32, 0), *one = fmt("{\"keys\":[{%s}]}", e);
    char *c = claims_with("");
    (void)state;

    idp.jwks = one;
    accept_(jwt("{\"alg\":\"ES256\"}", c, "ES256", ec256));
    idp.jwks = jwks;
    og_oidc_free(O);
    setup(state);
    /* several keys: a token without kid is refused */
    refuse(jwt("{\"alg\":\"ES256\"}", c, "ES256", ec256), "no kid");
    free(c);
    free(e);
    free(one);
}

/* ---- the attacks ---------------------------------------------------------- */

/* libjwt trap 2: alg none verifies "nothing" there; here it is refused by name. */
static void alg_none_refused(void **state)
{
    char *c = claims_with("");
    (void)state;

    refuse(jwt("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, "none", NULL), "none");
    refuse(jwt("{\"alg\":\"none\",\"kid\":\"rsa1\"}", c, "none", NULL), "none");
    /* none with a signature made by the real key: still refused */
    char *t = jwt(hdr("RS256", "rsa1"), c, "RS256", rsa);
    char *h = b64u("{\"alg\":\"none\",\"kid\":\"rsa1\"}", strlen("{\"alg\":\"none\",\"kid\":\"rsa1\"}"));
    char *forged = fmt("%s%s", h, strchr(t, '.'));
    refuse(forged, "none");
    refuse(jwt("{\"alg\":\"None\"}", c, "none", NULL), "not supported");
    refuse(jwt("{\"alg\":\"NONE\"}", c, "none", NULL), "not supported");
    refuse(jwt("{\"typ\":\"JWT\"}", c, "none", NULL), "no alg");
    assert_int_equal(stats().sig_checks, 0);
    assert_int_equal(idp.calls, 0);                     /* refused before any key work */
    free(t);
    free(h);
    free(c);
}

/* libjwt trap 1: HS256 keyed with the RSA public key (PEM, DER, JWK) under its kid. */
static void hs256_confusion_with_rsa_public_key(void **state)
{
    char *c = claims_with("");
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned char *der = NULL;
    char *pem;
    long pemlen;
    int derlen;
    char *n = rsa_members(rsa);
    (void)state;

    accept_(jwt(hdr("RS256", "rsa1"), c, "RS256", rsa));   /* the JWKS is loaded */
    assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
    pemlen = BIO_get_mem_data(bio, &pem);
    derlen = i2d_PUBKEY(rsa, &der);
    assert_true(derlen > 0);

    static const char *const hs[] = { "HS256", "HS384", "HS512" };
    for (size_t i = 0; i < 3; i++) {
        const char *kids[] = { "rsa1", "rsa-rs256" };
        for (size_t k = 0; k < 2; k++) {
            const char *h = hdr(hs[i], kids[k]);
            refuse(jwt_secret(h, c, hs[i], NULL, pem, (size_t)pemlen), "HMAC");
            refuse(jwt_secret(h, c, hs[i], NULL, der, (size_t)derlen), "HMAC");
            refuse(jwt_secret(h, c, hs[i], NULL, n, strlen(n)), "HMAC");
        }
    }
    /* the attacker also tries the key's alg with an HMAC tag as signature */
    refuse(jwt_secret(hdr("RS256", "rsa1"), c, "HS256", NULL, pem, (size_t)pemlen), "signature");
    BIO_free(bio);
    OPENSSL_free(der);
    free(n);
    free(c);
}

/* A symmetric key in the JWKS is never loaded, so never used as a secret. */
static void hmac_jwk_is_never_used(void **state)
{
    char *c = claims_with("");
    (void)state;

    refuse(jwt_secret(hdr("HS256", "hmac"), c, "HS256", NULL, "secret", 6), "HMAC");
    free(c);
}

static void alg_must_match_the_key(void **state)
{
    char *c = claims_with("");
    (void)state;

    refuse(jwt(hdr("ES256", "rsa1"), c, "ES256", ec256), "does not match");
    refuse(jwt(hdr("RS256", "ec256"), c, "RS256", rsa), "does not match");
    refuse(jwt(hdr("ES384", "ec256"), c, "ES384", ec384), "does not match");
    refuse(jwt(hdr("ES256", "ec384"), c, "ES256", ec256), "does not match");
    refuse(jwt(hdr("RS512", "rsa-rs256"), c, "RS512", rsa), "does not match"); /* JWK alg */
    refuse(jwt(hdr("ES256", "ec521"), c, "ES256", ec256), "does not match");
    refuse(jwt(hdr("EdDSA", "ed"), c, "none", NULL), "not supported");
    free(c);
}

static void unknown_kid_one_refresh(void **state)
{
    char *c = claims_with("");
    struct og_oidc_stats s0;
    (void)state;

    og_oidc_set_now(O, now);
    accept_(jwt(hdr("RS256", "rsa1"), c, "RS256", rsa));
    s0 = stats();
    assert_int_equal(s0.refreshes, 1);
    /* unknown kid right after the first fetch: no second fetch within 30 s */
    og_oidc_set_now(O, now + 10);
    refuse(jwt(hdr("RS256", "rotated"), c, "RS256", rsa), "kid is unknown");
    assert_int_equal(stats().refreshes, 1);
    assert_int_equal(idp.calls, 2);
    /* 30 s on, unknown kid: one refresh (JWKS only, discovery is remembered) */
    og_oidc_set_now(O, now + 30);
    refuse(jwt(hdr("RS256", "rotated"), c, "RS256", rsa), "kid is unknown");
    assert_int_equal(stats().refreshes, 2);
    assert_int_equal(idp.calls, 3);
    /* many more within 30 s: no fetch at all */
    for (int i = 0; i < 20; i++)
        refuse(jwt(hdr("RS256", "rotated"), c, "RS256", rsa), "kid is unknown");
    refuse(jwt(hdr("RS256", "enc1"), c, "RS256", rsa), "kid is unknown"); /* use: enc */
    assert_int_equal(stats().refreshes, 2);
    assert_int_equal(idp.calls, 3);
    /* 30 s later the IdP has rotated: the refresh finds the key */
    char *r = rsa_members(rsa), *rot = fmt("{\"keys\":[{%s,\"kid\":\"rotated\"}]}", r);
    idp.jwks = rot;
    og_oidc_set_now(O, now + 60);
    accept_(jwt(hdr("RS256", "rotated"), c, "RS256", rsa));
    assert_int_equal(stats().refreshes, 3);
    assert_int_equal(idp.calls, 4);
    /* the old key is gone with the rotation, and so are the tokens it verified
       (this token is byte-identical to the first one, which was cached) */
    og_oidc_set_now(O, now + 61);
    refuse(jwt(hdr("RS256", "rsa1"), c, "RS256", rsa), "kid is unknown");
    assert_int_equal(stats().refreshes, 3);
    assert_int_equal(idp.foreign, 0);
    free(r);
    free(rot);
    free(c);
}

static void last_good_jwks_kept(void **state)
{
    char *c = claims_with("");
    (void)state;

    og_oidc_set_now(O, now);
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    idp.down = 1;
    og_oidc_set_now(O, now + 40);
    refuse(jwt(hdr("ES256", "nope"), c, "ES256", ec256), "kid is unknown");
    assert_int_equal(stats().refreshes, 2);
    accept_(jwt(hdr("ES384", "ec384"), c, "ES384", ec384));    /* old keys still good */
    assert_int_equal(og_oidc_jwks_age(O), 40);
    /* past the JWKS max age the refetch also fails: keys kept, no error */
    free(c);
    og_oidc_set_now(O, now + 4000);
    now += 4000;
    c = claims_with("");
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    assert_int_equal(stats().refreshes, 3);
    free(c);
}

/* libjwt trap 2 again: "no key" must never mean "no check". */
static void no_jwks_is_unavailable_never_allow(void **state)
{
    char *c = claims_with("");
    char *t = jwt(hdr("RS256", "rsa1"), c, "RS256", rsa);
    (void)state;

    idp.down = 1;
    og_oidc_set_now(O, now);
    assert_int_equal(verify(t), OG_ID_UNAVAILABLE);
    assert_null(id.user);
    assert_int_equal(idp.calls, 1);
    assert_int_equal(verify(t), OG_ID_UNAVAILABLE);      /* retried at most every 5 s */
    assert_int_equal(idp.calls, 1);
    idp.down = 0;
    og_oidc_set_now(O, now + 5);
    assert_int_equal(verify(t), OG_ID_OK);
    /* a discovery document naming another issuer is not trusted */
    og_oidc_free(O);
    setup(state);
    idp.issuer = "https://evil.example.test";
    assert_int_equal(verify(t), OG_ID_UNAVAILABLE);
    assert_int_equal(idp.calls, 1);
    /* nor a jwks_uri over plain http to a remote host */
    og_oidc_free(O);
    setup(state);
    idp.jwks_uri = "http://idp.example.test/keys";
    assert_int_equal(verify(t), OG_ID_UNAVAILABLE);
    assert_int_equal(idp.calls, 1);
    free(t);
    free(c);
}

static void issuer_over_plain_http_refused(void **state)
{
    const char *conf = "{\"accessControl\": {}, \"auth\": {\"openid\": {\"issuer\": "
                       "\"http://idp.example.test\", \"audiences\": [\"registry\"]}}}";
    char err[256];
    struct og_config *c2 = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    struct og_oidc *o2;
    struct og_oidc_stats s;
    char *c = fmt("{\"iss\":\"http://idp.example.test\",\"aud\":\"registry\",\"exp\":%ld,"
                  "\"preferred_username\":\"alice\"}", now + 60);
    char *t = jwt(hdr("RS256", "rsa1"), c, "RS256", rsa);
    (void)state;

    assert_non_null(c2);
    o2 = og_oidc_new(c2);
    assert_non_null(o2);
    og_oidc_set_fetcher(o2, fake_get, NULL);
    assert_int_equal(og_oidc_identify(o2, t, strlen(t), &id, &store, &reason, &hit),
                     OG_ID_UNAVAILABLE);
    og_oidc_get_stats(o2, &s);
    assert_int_equal(s.fetches, 0);
    assert_int_equal(idp.calls, 0);
    og_oidc_free(o2);
    og_config_free(c2);
    free(t);
    free(c);
}

static void embedded_keys_and_urls_ignored(void **state)
{
    char *c = claims_with("");
    char *e = ec_members(evil, "P-256", 32, 0), *h;
    (void)state;

    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    /* the attacker's key embedded as jwk, with jku/x5u pointing at the attacker */
    h = fmt("{\"alg\":\"ES256\",\"kid\":\"ec256\",\"jwk\":{%s,\"kid\":\"ec256\"},"
            "\"jku\":\"https://evil.example.test/jwks\",\"x5u\":\"https://evil.example.test/x\","
            "\"x5c\":[\"MIIB\"]}", e);
    refuse(jwt(h, c, "ES256", evil), "signature");
    free(h);
    h = fmt("{\"alg\":\"ES256\",\"kid\":\"evil\",\"jwk\":{%s,\"kid\":\"evil\"},"
            "\"jku\":\"https://evil.example.test/jwks\"}", e);
    refuse(jwt(h, c, "ES256", evil), "kid is unknown");
    free(h);
    h = fmt("{\"alg\":\"ES256\",\"jwk\":{%s}}", e);
    refuse(jwt(h, c, "ES256", evil), "no kid");
    free(h);
    assert_int_equal(idp.foreign, 0);                   /* nothing fetched from evil */
    free(e);
    free(c);
}

static void issuer_and_audience(void **state)
{
    char *c;
    (void)state;

    c = fmt("{\"iss\":\"" ISS "/\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"alice\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "iss");
    free(c);
    c = fmt("{\"iss\":\"https://evil.example.test\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"alice\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "iss");
    free(c);
    c = fmt("{\"aud\":\"registry\",\"exp\":%ld,\"preferred_username\":\"alice\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "iss");
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"account\",\"exp\":%ld,"
            "\"preferred_username\":\"alice\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "aud");
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":[\"account\",\"broker\"],\"exp\":%ld,"
            "\"preferred_username\":\"alice\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "aud");
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"exp\":%ld,\"preferred_username\":\"alice\"}", now + 60);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "aud");
    free(c);
    c = fmt("{\"iss\":\"" ISS "\",\"aud\":[\"account\",\"other\"],\"exp\":%ld,"
            "\"preferred_username\":\"alice\"}", now + 60);
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    free(c);
}

static void time_claims(void **state)
{
    char *c;
    (void)state;

#define T(extra_fmt, ...) \
    fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"preferred_username\":\"alice\"" \
        extra_fmt "}", __VA_ARGS__)
    c = T("%s", "");
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "no exp");
    free(c);
    c = T(",\"exp\":\"%ld\"", now + 300);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "exp is not a number");
    free(c);
    c = T(",\"exp\":%s", "null");
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "exp is not a number");
    free(c);
    c = T(",\"exp\":%s", "1e300");
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "exp is not a number");
    free(c);
    c = T(",\"exp\":%ld", now - 30);                    /* within the 60 s leeway */
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    free(c);
    c = T(",\"exp\":%ld.5", now + 100);                 /* a real number is fine */
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    free(c);
    c = T(",\"exp\":%ld", now - 61);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "expired");
    free(c);
    c = T(",\"exp\":%ld,\"nbf\":%ld", now + 300, now + 120);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "nbf");
    free(c);
    c = T(",\"exp\":%ld,\"nbf\":%ld", now + 300, now + 30);
    accept_(jwt(hdr("ES256", "ec256"), c, "ES256", ec256));
    free(c);
    c = T(",\"exp\":%ld,\"nbf\":\"%ld\"", now + 300, now);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "nbf");
    free(c);
    c = T(",\"exp\":%ld,\"iat\":%ld", now + 300, now + 120);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "iat");
    free(c);
    c = T(",\"exp\":%ld,\"iat\":\"now\"", now + 300);
    refuse(jwt(hdr("ES256", "ec256"), c, "ES256", ec256), "iat");
    free(c);
#undef T
}

static void huge_token_refused_cheaply(void **state)
{
    size_t big = 1024 * 1024;
    char *t = malloc(big + 1);
    struct timespec a, b;
    enum og_identify_result r;
    (void)state;

    memset(t, 'A', big);
    t[100] = '.';
    t[200] = '.';
    t[big] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &a);
    r = og_oidc_identify(O, t, big, &id, &store, &reason, &hit);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(r, OG_ID_BAD_CREDENTIALS);
    assert_true((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 1000000L);
    assert_int_equal(stats().b64_decodes, 0);
    assert_int_equal(stats().json_parses, 0);
    assert_int_equal(idp.calls, 0);
    /* under 16 KiB but one part over 8 KiB: also before any decoding */
    t[12000] = '\0';
    refuse(strdup(t), "too large");
    assert_int_equal(stats().b64_decodes, 0);
    free(t);
}

static void malformed_shapes(void **state)
{
    char *c = claims_with(""), *t = jwt(hdr("ES256", "ec256"), c, "ES256", ec256);
    char *dot1 = strchr(t, '.'), *dot2 = strchr(dot1 + 1, '.');
    (void)state;

    refuse(strndup(t, (size_t)(dot2 - t)), "three parts");      /* two parts */
    refuse(fmt("%s.AAAA", t), "three parts");                   /* four */
    refuse(fmt("%.*s.", (int)(dot2 - t), t), "signature");      /* empty signature */
    refuse(fmt("%s==", t), "base64url");                         /* padding */
    refuse(fmt("%s ", t), "base64url");
    refuse(fmt(".%s", dot1 + 1), "empty part");
    refuse(strdup(""), "empty");
    refuse(fmt("%.*s.bm90IGpzb24.%s", (int)(dot1 - t), t, dot2 + 1), "payload"); /* not JSON */
    refuse(fmt("WzFd.%s", dot1 + 1), "header");                 /* header [1]: not an object */
    /* duplicate claims: refused, not "last one wins" */
    char *d = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
                  "\"preferred_username\":\"alice\",\"preferred_username\":\"admin\"}",
                  now + 60);
    refuse(jwt(hdr("ES256", "ec256"), d, "ES256", ec256), "payload");
    free(d);
    /* signature of the wrong length for the curve */
    refuse(fmt("%.*s.%s", (int)(dot2 - t), t, "AAAA"), "signature");
    accept_(t);
    free(c);
}

static void tampered_payload_refused(void **state)
{
    char *c = claims_with(""), *t = jwt(hdr("RS256", "rsa1"), c, "RS256", rsa);
    char *admin = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
                      "\"preferred_username\":\"admin\",\"groups\":[\"admins\"]}", now + 300);
    char *p = b64u(admin, strlen(admin));
    char *dot1 = strchr(t, '.'), *dot2 = strchr(dot1 + 1, '.');
    (void)state;

    refuse(fmt("%.*s.%s%s", (int)(dot1 - t), t, p, dot2), "signature");
    /* one flipped signature byte */
    char *f = strdup(t);
    size_t last = strlen(f) - 2;
    f[last] = f[last] == 'A' ? 'B' : 'A';
    refuse(f, "signature");
    free(p);
    free(admin);
    free(t);
    free(c);
}

/* The keys are parsed once: a first sight of a new token decodes and parses
   only that token (3 base64url parts, header and payload JSON), checks one
   signature against the key object kept from the JWKS, and fetches nothing. */
static void first_sight_parses_only_the_token(void **state)
{
    struct og_oidc_stats a, b;
    const char *algs[] = { "RS256", "ES256" }, *kids[] = { "rsa1", "ec256" };
    char *warm = claims_with(",\"jti\":\"warm\"");
    (void)state;

    accept_(jwt(hdr("RS256", "rsa1"), warm, "RS256", rsa));
    free(warm);
    a = stats();
    for (int i = 0; i < 20; i++) {
        char extra[64], *c;
        snprintf(extra, sizeof extra, ",\"jti\":\"t%d\"", i);
        c = claims_with(extra);
        accept_(jwt(hdr(algs[i % 2], kids[i % 2]), c, algs[i % 2], i % 2 ? ec256 : rsa));
        assert_int_equal(hit, 0);
        free(c);
    }
    b = stats();
    assert_int_equal(b.fetches - a.fetches, 0);
    assert_int_equal(b.refreshes - a.refreshes, 0);
    assert_int_equal(b.sig_checks - a.sig_checks, 20);
    assert_int_equal(b.json_parses - a.json_parses, 2 * 20);
    assert_int_equal(b.b64_decodes - a.b64_decodes, 3 * 20);
}

static void verified_tokens_cached_until_exp(void **state)
{
    char *c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,"
                  "\"preferred_username\":\"alice\",\"groups\":[\"dev\"]}", now + 100);
    char *t = jwt(hdr("RS256", "rsa1"), c, "RS256", rsa);
    (void)state;

    og_oidc_set_now(O, now);
    assert_int_equal(verify(t), OG_ID_OK);
    assert_int_equal(hit, 0);
    assert_int_equal(stats().sig_checks, 1);
    assert_int_equal(verify(t), OG_ID_OK);
    assert_int_equal(hit, 1);
    assert_int_equal(stats().sig_checks, 1);
    assert_string_equal(id.user, "alice");
    assert_int_equal(id.ngroups, 1);
    assert_string_equal(id.groups[0], "dev");
    assert_int_equal(id.auth, OG_AUTH_OPENID);
    assert_ptr_equal(id.user, store.user);
    /* within leeway after exp: still good; beyond: expired, from the cache too */
    og_oidc_set_now(O, now + 150);
    assert_int_equal(verify(t), OG_ID_OK);
    og_oidc_set_now(O, now + 160);
    assert_int_equal(verify(t), OG_ID_BAD_CREDENTIALS);
    assert_non_null(strstr(reason, "expired"));
    assert_int_equal(hit, 0);
    free(t);
    free(c);
}

static void cache_survives_many_tokens(void **state)
{
    char *first = NULL;
    (void)state;

    for (int i = 0; i < 600; i++) {
        char *c = claims_with(""), *x = fmt(",\"jti\":\"%d\"}", i);
        c[strlen(c) - 1] = '\0';
        char *cc = fmt("%s%s", c, x);
        char *t = jwt(hdr("ES256", "ec256"), cc, "ES256", ec256);
        assert_int_equal(verify(t), OG_ID_OK);
        if (i == 0)
            first = t;
        else
            free(t);
        free(c);
        free(x);
        free(cc);
    }
    assert_int_equal(verify(first), OG_ID_OK);          /* evicted, verified again */
    free(first);
}

static void jwks_key_checks(void **state)
{
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char *r = rsa_members(small), *e = ec_members(ec256, "P-256", 32, 1);
    char *good = ec_members(ec256, "P-256", 32, 0), *s;
    (void)state;

    s = fmt("{\"keys\":[{%s,\"kid\":\"small\"}]}", r);
    assert_int_equal(og_oidc_set_jwks(O, s, strlen(s)), -1);       /* < 2048 bits */
    free(s);
    s = fmt("{\"keys\":[{%s,\"kid\":\"off\"}]}", e);
    assert_int_equal(og_oidc_set_jwks(O, s, strlen(s)), -1);       /* not on the curve */
    free(s);
    s = fmt("{\"keys\":[{%s,\"kid\":\"x\",\"use\":\"enc\"}]}", good);
    assert_int_equal(og_oidc_set_jwks(O, s, strlen(s)), -1);
    free(s);
    s = fmt("{\"keys\":[{%s,\"kid\":\"x\",\"alg\":\"RS256\"}]}", good);
    assert_int_equal(og_oidc_set_jwks(O, s, strlen(s)), -1);       /* alg/kty mismatch */
    free(s);
    s = fmt("{\"keys\":[{%s,\"kid\":\"x\",\"key_ops\":[\"encrypt\"]}]}", good);
    assert_int_equal(og_oidc_set_jwks(O, s, strlen(s)), -1);
    free(s);
    assert_int_equal(og_oidc_set_jwks(O, "{\"keys\":[]}", 11), -1);
    assert_int_equal(og_oidc_set_jwks(O, "[]", 2), -1);
    assert_int_equal(og_oidc_jwks_age(O), -1);
    /* injected, usable: verified without any fetch */
    s = fmt("{\"keys\":[{%s,\"kid\":\"inj\",\"key_ops\":[\"verify\"]}]}", good);
    assert_int_equal(og_oidc_set_jwks(O, s, strlen(s)), 0);
    char *c = claims_with("");
    accept_(jwt(hdr("ES256", "inj"), c, "ES256", ec256));
    assert_int_equal(idp.calls, 0);
    free(c);
    free(s);
    free(r);
    free(e);
    free(good);
    EVP_PKEY_free(small);
}

/* ---- real libcurl against a plain-HTTP loopback issuer -------------------- */

static void serve(int ls, const char *issuer, const char *keys)
{
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        char req[4096], path[512] = "", *body, *resp;
        ssize_t n, got = 0;

        if (fd < 0)
            continue;
        while (got < (ssize_t)sizeof req - 1 &&
               (n = read(fd, req + got, sizeof req - 1 - (size_t)got)) > 0) {
            got += n;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[got > 0 ? got : 0] = '\0';
        sscanf(req, "GET %511s", path);
        if (strcmp(path, "/oidc/.well-known/openid-configuration") == 0)
            body = fmt("{\"issuer\":\"%s\",\"jwks_uri\":\"%s/certs\"}", issuer, issuer);
        else if (strcmp(path, "/oidc/certs") == 0)
            body = strdup(keys);
        else
            body = NULL;
        if (body)
            resp = fmt("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
        else
            resp = strdup("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n");
        if (write(fd, resp, strlen(resp)) < 0)
            _exit(1);
        free(body);
        free(resp);
        close(fd);
    }
}

static void discovery_over_loopback_http(void **state)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof sa;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    char issuer[64], err[256], *conf, *c, *t;
    struct og_config *c2;
    struct og_oidc *o2;
    struct og_oidc_stats s;
    pid_t pid;
    (void)state;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    assert_int_equal(listen(ls, 8), 0);
    snprintf(issuer, sizeof issuer, "http://127.0.0.1:%d/oidc", ntohs(sa.sin_port));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        serve(ls, issuer, jwks);
    close(ls);

    /* the issuer is configured with a trailing '/'; iss in tokens must match it */
    conf = fmt("{\"accessControl\": {}, \"auth\": {\"openid\": {\"issuer\": \"%s/\","
               " \"audiences\": [\"registry\"], \"claimMapping\": {\"username\": \"email\"}}}}",
               issuer);
    c2 = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    assert_non_null(c2);
    o2 = og_oidc_new(c2);
    assert_non_null(o2);
    c = fmt("{\"iss\":\"%s/\",\"aud\":\"registry\",\"exp\":%ld,\"email\":\"bob@example.test\"}",
            issuer, now + 60);
    t = jwt(hdr("ES384", "ec384"), c, "ES384", ec384);
    enum og_identify_result r = og_oidc_identify(o2, t, strlen(t), &id, &store, &reason, &hit);
    if (r != OG_ID_OK)
        fail_msg("refused: %s", reason);
    assert_string_equal(id.user, "bob@example.test");
    og_oidc_get_stats(o2, &s);
    assert_int_equal(s.fetches, 2);
    assert_true(og_oidc_jwks_age(o2) >= 0);
    og_oidc_free(o2);
    og_config_free(c2);
    free(conf);
    free(c);
    free(t);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    /* the same issuer, now down: 503 */
    conf = fmt("{\"accessControl\": {}, \"auth\": {\"openid\": {\"issuer\": \"%s\","
               " \"audiences\": [\"registry\"]}}}", issuer);
    c2 = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    o2 = og_oidc_new(c2);
    c = fmt("{\"iss\":\"%s\",\"aud\":\"registry\",\"exp\":%ld,"
            "\"preferred_username\":\"bob\"}", issuer, now + 60);
    t = jwt(hdr("ES384", "ec384"), c, "ES384", ec384);
    assert_int_equal(og_oidc_identify(o2, t, strlen(t), &id, &store, &reason, &hit),
                     OG_ID_UNAVAILABLE);
    og_oidc_free(o2);
    og_config_free(c2);
    free(conf);
    free(c);
    free(t);
}

static void not_configured(void **state)
{
    const char *conf = "{\"accessControl\": {}}";
    char err[256];
    struct og_config *c2 = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    (void)state;

    assert_non_null(c2);
    assert_null(og_oidc_new(c2));
    assert_int_equal(og_oidc_identify(NULL, "a.b.c", 5, &id, &store, &reason, &hit),
                     OG_ID_BAD_CREDENTIALS);
    assert_int_equal(og_oidc_jwks_age(NULL), -1);
    og_config_free(c2);
}

/* ---- browser sign-in: the ID token and the discovery endpoints ------------ */

static struct og_config *web_cfg(void)
{
    const char *conf =
        "{\"accessControl\": {}, \"auth\": {\"openid\": {\"issuer\": \"" ISS "\","
        " \"audiences\": [\"registry\"], \"clientId\": \"web\", \"clientSecret\": \"s3cr3t-value\","
        " \"leewaySeconds\": 60}}}";
    char err[512];
    struct og_config *c = og_config_parse(conf, strlen(conf), "web.json", err, sizeof err);

    if (!c)
        fail_msg("config: %s", err);
    return c;
}

/* ID token claims for client "web", nonce N1; extra appended. */
static char *id_claims(const char *extra)
{
    return fmt("{\"iss\":\"" ISS "\",\"aud\":\"web\",\"sub\":\"sub-alice\",\"exp\":%ld,"
               "\"iat\":%ld,\"nonce\":\"N1\",\"preferred_username\":\"alice\","
               "\"groups\":[\"dev\",\"ops\"]%s}", now + 300, now, extra);
}

static void id_token_case(struct og_oidc *o, char *tok, enum og_identify_result want,
                          const char *why)
{
    struct og_oidc_person p;
    const char *r = NULL;
    enum og_identify_result got = og_oidc_check_id_token(o, tok, strlen(tok), "N1", NULL, &p, &r);

    if (got != want)
        fail_msg("ID token: want %d, got %d (%s) for %s", (int)want, (int)got, r ? r : "", why);
    if (want == OG_ID_OK) {
        assert_string_equal(p.user, "alice");
        assert_int_equal(p.ngroups, 2);
        assert_string_equal(p.groups[1], "ops");
    } else {
        assert_non_null(r);
        if (!strstr(r, why))
            fail_msg("reason \"%s\" does not contain \"%s\"", r, why);
        assert_int_equal(p.user[0], '\0');
    }
    free(tok);
}

static void id_token_checks(void **state)
{
    struct og_config *c = web_cfg();
    struct og_oidc *o = og_oidc_new(c);
    char *cl;

    (void)state;
    og_oidc_set_fetcher(o, fake_get, NULL);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl = id_claims(""), "RS256", rsa), OG_ID_OK, "");
    free(cl);
    id_token_case(o, jwt(hdr("ES256", "ec256"), cl = id_claims(""), "ES256", ec256), OG_ID_OK, "");
    free(cl);
    /* the nonce of another sign-in, or none: a replayed ID token */
    cl = fmt("{\"iss\":\"" ISS "\",\"aud\":\"web\",\"sub\":\"s\",\"exp\":%ld,\"iat\":%ld,"
             "\"nonce\":\"N2\",\"preferred_username\":\"alice\"}", now + 300, now);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl, "RS256", rsa), OG_ID_BAD_CREDENTIALS, "nonce");
    free(cl);
    cl = fmt("{\"iss\":\"" ISS "\",\"aud\":\"web\",\"sub\":\"s\",\"exp\":%ld,\"iat\":%ld,"
             "\"preferred_username\":\"alice\"}", now + 300, now);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl, "RS256", rsa), OG_ID_BAD_CREDENTIALS, "nonce");
    free(cl);
    /* an access token for the registry is no ID token for this client */
    cl = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"sub\":\"s\",\"exp\":%ld,"
             "\"iat\":%ld,\"nonce\":\"N1\",\"preferred_username\":\"alice\"}", now + 300, now);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl, "RS256", rsa), OG_ID_BAD_CREDENTIALS, "aud");
    free(cl);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl = id_claims(",\"azp\":\"other\""), "RS256", rsa),
                  OG_ID_BAD_CREDENTIALS, "azp");
    free(cl);
    cl = fmt("{\"iss\":\"" ISS "\",\"aud\":[\"web\",\"x\"],\"sub\":\"s\",\"exp\":%ld,"
             "\"iat\":%ld,\"nonce\":\"N1\",\"preferred_username\":\"alice\"}", now + 300, now);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl, "RS256", rsa), OG_ID_BAD_CREDENTIALS, "azp");
    free(cl);
    /* PS256 is a good JWT algorithm, but not one an ID token may use here */
    id_token_case(o, jwt(hdr("PS256", "rsa1"), cl = id_claims(""), "PS256", rsa),
                  OG_ID_BAD_CREDENTIALS, "RS or ES");
    free(cl);
    id_token_case(o, jwt(hdr("HS256", "rsa1"), cl = id_claims(""), "HS256", rsa),
                  OG_ID_BAD_CREDENTIALS, "");
    free(cl);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl = id_claims(""), "RS256", evil),
                  OG_ID_BAD_CREDENTIALS, "signature");
    free(cl);
    cl = fmt("{\"iss\":\"" ISS "\",\"aud\":\"web\",\"sub\":\"s\",\"exp\":%ld,\"iat\":%ld,"
             "\"nonce\":\"N1\",\"preferred_username\":\"alice\"}", now - 100, now - 400);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl, "RS256", rsa), OG_ID_BAD_CREDENTIALS, "expired");
    free(cl);
    cl = fmt("{\"iss\":\"https://evil.example\",\"aud\":\"web\",\"sub\":\"s\",\"exp\":%ld,"
             "\"iat\":%ld,\"nonce\":\"N1\",\"preferred_username\":\"alice\"}", now + 300, now);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl, "RS256", rsa), OG_ID_BAD_CREDENTIALS, "iss");
    free(cl);
    /* no username claim and no userinfo endpoint to ask: refused */
    cl = fmt("{\"iss\":\"" ISS "\",\"aud\":\"web\",\"sub\":\"s\",\"exp\":%ld,\"iat\":%ld,"
             "\"nonce\":\"N1\"}", now + 300, now);
    id_token_case(o, jwt(hdr("RS256", "rsa1"), cl, "RS256", rsa), OG_ID_BAD_CREDENTIALS,
                  "username");
    free(cl);
    og_oidc_free(o);
    og_config_free(c);
}

static void signin_discovery(void **state)
{
    struct og_config *c = web_cfg();
    struct og_oidc *o = og_oidc_new(c);
    struct og_oidc_provider p;
    const char *doc =
        "{\"issuer\":\"" ISS "\",\"jwks_uri\":\"" ISS "/certs\","
        "\"authorization_endpoint\":\"" ISS "/auth\",\"token_endpoint\":\"" ISS "/token\","
        "\"userinfo_endpoint\":\"http://idp.example.test/userinfo\","
        "\"token_endpoint_auth_methods_supported\":[\"client_secret_post\",\"private_key_jwt\"]}";
    const char *other = "{\"issuer\":\"https://evil.example\",\"jwks_uri\":\"" ISS "/certs\","
                        "\"authorization_endpoint\":\"https://evil.example/auth\","
                        "\"token_endpoint\":\"https://evil.example/token\"}";

    (void)state;
    og_oidc_set_fetcher(o, fake_get, NULL);
    /* the fake IdP's document has no authorization endpoint: no browser sign-in */
    assert_int_equal(og_oidc_provider(o, &p), -1);
    assert_int_equal(og_oidc_set_discovery(o, doc, strlen(doc)), 0);
    assert_int_equal(og_oidc_provider(o, &p), 0);
    assert_string_equal(p.authorization_endpoint, ISS "/auth");
    assert_string_equal(p.token_endpoint, ISS "/token");
    assert_string_equal(p.userinfo_endpoint, "");      /* plain http off loopback: dropped */
    assert_string_equal(p.end_session_endpoint, "");
    assert_false(p.secret_basic);                      /* only post: ocigate falls back to it */
    assert_true(p.secret_post);
    /* an issuer that is down is asked once, not on every sign-in attempt */
    {
        struct og_oidc *o2 = og_oidc_new(c);
        int before;

        og_oidc_set_fetcher(o2, fake_get, NULL);
        idp.down = 1;
        before = idp.calls;
        assert_int_equal(og_oidc_provider(o2, &p), -1);
        assert_int_equal(og_oidc_provider(o2, &p), -1);
        assert_int_equal(idp.calls, before + 1);
        og_oidc_set_now(o2, (time_t)now + 6);
        assert_int_equal(og_oidc_provider(o2, &p), -1);
        assert_int_equal(idp.calls, before + 2);
        idp.down = 0;
        og_oidc_free(o2);
    }
    /* a document naming another issuer is refused, the last good one kept */
    assert_int_equal(og_oidc_set_discovery(o, other, strlen(other)), -1);
    assert_int_equal(og_oidc_provider(o, &p), 0);
    assert_string_equal(p.token_endpoint, ISS "/token");
    og_oidc_free(o);
    og_config_free(c);
}


/* ---- several issuers ------------------------------------------------------ */

/* The people issuer (ISS, claimMapping by plain names) and a CI issuer
   (ISS2, signed with its own key) whose claimMapping is CEL: a job of
   eblume/blumeops on main is user ci in group artifact-workloads. */
static const char *two_issuers =
    "{\"accessControl\": {}, \"auth\": {\"openid\": ["
    "{\"issuer\": \"" ISS "\", \"audiences\": [\"registry\"]},"
    "{\"issuer\": \"" ISS2 "\", \"audiences\": [\"ocigate-ci\"],"
    " \"claimMapping\": {"
    "  \"variables\": {\"repo\": \"claims.repository\","
    "                  \"branch\": \"claims.ref.startsWith('refs/heads/') ? claims.ref : ''\"},"
    "  \"validations\": ["
    "   {\"expression\": \"vars.repo == 'eblume/blumeops' && claims.ref == 'refs/heads/main'\","
    "    \"message\": \"only main of eblume/blumeops may push\"},"
    "   {\"expression\": \"vars.branch != ''\", \"message\": \"a branch, not a tag\"}],"
    "  \"username\": \"'ci'\","
    "  \"groups\": \"['artifact-workloads', 'repo:' + vars.repo]\"}}]}}";

static struct og_config *c2;
static struct og_oidc *o2;

static void two_up(void)
{
    char err[512] = "", *m;

    c2 = og_config_parse(two_issuers, strlen(two_issuers), "x.json", err, sizeof err);
    if (!c2)
        fail_msg("config: %s", err);
    o2 = og_oidc_new(c2);
    assert_non_null(o2);
    og_oidc_set_fetcher(o2, fake_get, NULL);
    m = ec_members(evil, "P-256", 32, 0);
    free(ci.jwks);
    ci.jwks = fmt("{\"keys\":[{%s,\"kid\":\"ci1\"}]}", m);
    ci.calls = ci.down = 0;
    free(m);
}

static void two_down(void)
{
    og_oidc_free(o2);
    og_config_free(c2);
    free(ci.jwks);
    ci.jwks = NULL;
}

static char *ci_token(const char *repo, const char *ref)
{
    char *c = fmt("{\"iss\":\"" ISS2 "\",\"aud\":\"ocigate-ci\",\"exp\":%ld,\"iat\":%ld,"
                  "\"sub\":\"repo:%s:ref:%s\",\"repository\":\"%s\",\"ref\":\"%s\","
                  "\"workflow\":\"release\"}", now + 300, now, repo, ref, repo, ref);
    char *t = jwt(hdr("ES256", "ci1"), c, "ES256", evil);

    free(c);
    return t;
}

static enum og_identify_result verify2(const char *token)
{
    memset(&id, 0, sizeof id);
    memset(&store, 0, sizeof store);
    reason = NULL;
    hit = -1;
    return og_oidc_identify(o2, token, strlen(token), &id, &store, &reason, &hit);
}

/* Each token goes to the issuer its iss names: only that issuer's keys are
   fetched and tried; an unknown iss costs no fetch and no signature check. */
static void issuers_route_by_iss(void **state)
{
    struct og_oidc_stats s0, s1;
    char *t;
    (void)state;

    two_up();
    assert_int_equal(og_oidc_issuers(o2), 2);
    assert_string_equal(og_oidc_issuer_url(o2, 1), ISS2);
    t = ci_token("eblume/blumeops", "refs/heads/main");
    assert_int_equal(verify2(t), OG_ID_OK);
    assert_string_equal(id.user, "ci");
    assert_int_equal(id.ngroups, 2);
    assert_string_equal(id.groups[0], "artifact-workloads");
    assert_string_equal(id.groups[1], "repo:eblume/blumeops");
    assert_int_equal(idp.calls, 0);          /* the people issuer was never asked */
    assert_true(ci.calls >= 2);              /* discovery + JWKS */
    assert_true(og_oidc_issuer_jwks_age(o2, 1) >= 0);
    assert_int_equal(og_oidc_issuer_jwks_age(o2, 0), -1);
    free(t);

    /* a people token: the people issuer, the plain mapping */
    char *c = claims_with("");
    t = jwt(hdr("ES256", "ec256"), c, "ES256", ec256);
    assert_int_equal(verify2(t), OG_ID_OK);
    assert_string_equal(id.user, "alice");
    assert_int_equal(id.ngroups, 2);
    free(t);

    /* signed by the CI key but saying it is the people issuer: refused */
    t = jwt(hdr("ES256", "ci1"), c, "ES256", evil);
    assert_int_equal(verify2(t), OG_ID_BAD_CREDENTIALS);
    free(t);
    free(c);

    /* an issuer nobody configured: no fetch, no signature work */
    og_oidc_get_stats(o2, &s0);
    c = fmt("{\"iss\":\"https://evil.example\",\"aud\":\"ocigate-ci\",\"exp\":%ld}", now + 60);
    t = jwt(hdr("ES256", "ci1"), c, "ES256", evil);
    assert_int_equal(verify2(t), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "JWT iss is not a configured issuer");
    og_oidc_get_stats(o2, &s1);
    assert_int_equal(s1.fetches, s0.fetches);
    assert_int_equal(s1.sig_checks, s0.sig_checks);
    free(t);
    free(c);

    /* the CI issuer with the people audience: no entry takes it */
    c = fmt("{\"iss\":\"" ISS2 "\",\"aud\":\"registry\",\"exp\":%ld,\"repository\":"
            "\"eblume/blumeops\",\"ref\":\"refs/heads/main\"}", now + 60);
    t = jwt(hdr("ES256", "ci1"), c, "ES256", evil);
    assert_int_equal(verify2(t), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "JWT aud holds none of the configured audiences");
    free(t);
    free(c);
    two_down();
}

/* One issuer down: its tokens are 503 (never allowed), the other's work. */
static void issuer_down_affects_no_other(void **state)
{
    char *t, *p;
    (void)state;

    two_up();
    ci.down = 1;
    t = ci_token("eblume/blumeops", "refs/heads/main");
    assert_int_equal(verify2(t), OG_ID_UNAVAILABLE);
    assert_null(id.user);
    char *pc = claims_with("");
    p = jwt(hdr("ES256", "ec256"), pc, "ES256", ec256);
    free(pc);
    assert_int_equal(verify2(p), OG_ID_OK);
    assert_string_equal(id.user, "alice");
    /* and the other way round */
    ci.down = 0;
    og_oidc_set_now(o2, now + 10);           /* past the retry interval */
    assert_int_equal(verify2(t), OG_ID_OK);
    assert_string_equal(id.user, "ci");
    free(t);
    free(p);
    two_down();
}

/* validations: all must hold; a failing one is 401 whose reason does not
   carry the operator's message (that goes to the log). */
static void issuer_validations(void **state)
{
    const char *cases[][2] = {
        { "eblume/other", "refs/heads/main" },
        { "eblume/blumeops", "refs/heads/feature" },
        { "eblume/blumeops", "refs/tags/v1" },
    };
    char *t;
    (void)state;

    two_up();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t = ci_token(cases[i][0], cases[i][1]);
        assert_int_equal(verify2(t), OG_ID_BAD_CREDENTIALS);
        assert_string_equal(reason, "JWT claims fail a validation of their issuer (see the log)");
        assert_null(strstr(reason, "eblume"));
        assert_null(id.user);
        free(t);
    }
    /* a claim the rules read is absent: an evaluation error, refused */
    char *c = fmt("{\"iss\":\"" ISS2 "\",\"aud\":\"ocigate-ci\",\"exp\":%ld,\"ref\":"
                  "\"refs/heads/main\"}", now + 60);
    t = jwt(hdr("ES256", "ci1"), c, "ES256", evil);
    assert_int_equal(verify2(t), OG_ID_BAD_CREDENTIALS);
    assert_string_equal(reason, "JWT claims do not map (a claimMapping variable failed)");
    free(t);
    free(c);
    two_down();
}

/* Mapping errors: a username expression that is no string or reads an absent
   claim, groups that are no list of strings: refused, never a partial identity. */
static void issuer_mapping_errors(void **state)
{
    static const char *maps[][3] = {
        { "claims.nope", "groups", "JWT claims do not map to a username" },
        { "claims.n", "groups", "JWT claims do not map to a username" },
        { "claims.iss + '/' + claims.sub", "claims.n", "claimMapping.groups is not a list" },
        { "claims.iss + '/' + claims.sub", "[claims.n]", "holds something other than strings" },
        { "claims.iss + '/' + claims.sub", "claims.nope", "JWT claims do not map to groups" },
        { "claims.sub + '\\\\u0007'", "groups", "gives no usable username" },
    };
    char conf[1024], err[256], *c, *t;
    struct og_config *cf;
    struct og_oidc *o;
    (void)state;

    c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,\"sub\":\"u1\",\"n\":7}",
            now + 60);
    t = jwt(hdr("ES256", "ec256"), c, "ES256", ec256);
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        snprintf(conf, sizeof conf, "{\"accessControl\": {}, \"auth\": {\"openid\": [{"
                 "\"issuer\": \"" ISS "\", \"audiences\": [\"registry\"], \"claimMapping\": "
                 "{\"username\": \"%s\", \"groups\": \"%s\"}}]}}", maps[i][0], maps[i][1]);
        cf = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
        if (!cf)
            fail_msg("%s", err);
        o = og_oidc_new(cf);
        og_oidc_set_fetcher(o, fake_get, NULL);
        memset(&id, 0, sizeof id);
        reason = NULL;
        assert_int_equal(og_oidc_identify(o, t, strlen(t), &id, &store, &reason, &hit),
                         OG_ID_BAD_CREDENTIALS);
        if (!strstr(reason, maps[i][2]))
            fail_msg("case %zu: reason \"%s\"", i, reason);
        assert_null(id.user);
        og_oidc_free(o);
        og_config_free(cf);
    }
    /* zot's default for workload issuers, written out: iss/sub */
    snprintf(conf, sizeof conf, "{\"accessControl\": {}, \"auth\": {\"openid\": [{"
             "\"issuer\": \"" ISS "\", \"audiences\": [\"registry\"], \"claimMapping\": "
             "{\"username\": \"claims.iss + '/' + claims.sub\"}}]}}");
    cf = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    assert_non_null(cf);
    o = og_oidc_new(cf);
    og_oidc_set_fetcher(o, fake_get, NULL);
    assert_int_equal(og_oidc_identify(o, t, strlen(t), &id, &store, &reason, &hit), OG_ID_OK);
    assert_string_equal(id.user, ISS "/u1");
    assert_int_equal(id.ngroups, 0);
    og_oidc_free(o);
    og_config_free(cf);
    free(t);
    free(c);
}

/* The mapping's result is cached with the verified token: the second use
   does no CEL work (nor any signature check). */
static void issuer_mapping_cached(void **state)
{
    struct og_oidc_stats s0, s1;
    char *t;
    (void)state;

    two_up();
    t = ci_token("eblume/blumeops", "refs/heads/main");
    assert_int_equal(verify2(t), OG_ID_OK);
    assert_int_equal(hit, 0);
    og_oidc_get_stats(o2, &s0);
    assert_int_equal(s0.mappings, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(verify2(t), OG_ID_OK);
        assert_int_equal(hit, 1);
        assert_string_equal(id.user, "ci");
        assert_string_equal(id.groups[0], "artifact-workloads");
    }
    og_oidc_get_stats(o2, &s1);
    assert_int_equal(s1.mappings, s0.mappings);
    assert_int_equal(s1.sig_checks, s0.sig_checks);
    /* no accessControl conditions: the claims are not kept */
    assert_null(store.claims);
    /* a refused token is mapped each time (nothing is cached for it) */
    free(t);
    t = ci_token("eblume/other", "refs/heads/main");
    assert_int_equal(verify2(t), OG_ID_BAD_CREDENTIALS);
    assert_int_equal(verify2(t), OG_ID_BAD_CREDENTIALS);
    og_oidc_get_stats(o2, &s1);
    assert_int_equal(s1.mappings, s0.mappings + 2);
    free(t);
    two_down();
}


/* Browser sign-in in a list: the issuer with clientId (here the second)
   signs people in, with its own claimMapping (an expression here); an ID
   token of the other issuer is no sign-in. */
static void signin_issuer_in_a_list(void **state)
{
    const char *conf =
        "{\"accessControl\": {}, \"auth\": {\"openid\": ["
        "{\"issuer\": \"" ISS2 "\", \"audiences\": [\"ocigate-ci\"]},"
        "{\"issuer\": \"" ISS "\", \"audiences\": [\"registry\"], \"clientId\": \"web\","
        " \"clientSecret\": \"s\", \"claimMapping\": {"
        "  \"username\": \"claims.preferred_username + '@people'\","
        "  \"groups\": \"claims.groups\"}}]}}";
    char err[512] = "", *cl, *tok;
    struct og_config *c = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    struct og_oidc *o;
    struct og_oidc_person p;
    const char *r = NULL;
    (void)state;

    if (!c)
        fail_msg("%s", err);
    ci.calls = 0;
    assert_int_equal(c->openid_signin, 1);
    o = og_oidc_new(c);
    og_oidc_set_fetcher(o, fake_get, NULL);
    tok = jwt(hdr("ES256", "ec256"), cl = id_claims(""), "ES256", ec256);
    assert_int_equal(og_oidc_check_id_token(o, tok, strlen(tok), "N1", NULL, &p, &r), OG_ID_OK);
    assert_string_equal(p.user, "alice@people");
    assert_int_equal(p.ngroups, 2);
    assert_string_equal(p.groups[0], "dev");
    assert_int_equal(ci.calls, 0);     /* the CI issuer is not asked */
    free(tok);
    free(cl);
    cl = fmt("{\"iss\":\"" ISS2 "\",\"aud\":\"web\",\"sub\":\"s\",\"exp\":%ld,\"iat\":%ld,"
             "\"nonce\":\"N1\",\"preferred_username\":\"alice\"}", now + 300, now);
    tok = jwt(hdr("ES256", "ci1"), cl, "ES256", evil);
    assert_int_equal(og_oidc_check_id_token(o, tok, strlen(tok), "N1", NULL, &p, &r),
                     OG_ID_BAD_CREDENTIALS);
    assert_non_null(strstr(r, "iss"));
    free(tok);
    free(cl);
    og_oidc_free(o);
    og_config_free(c);
}


/* With accessControl conditions, an OpenID identity carries its verified
   claims (req.claims), from a fresh and from a cached token alike. */
static void issuer_claims_for_conditions(void **state)
{
    const char *conf =
        "{\"accessControl\": {\"repositories\": {\"**\": {\"policies\": [{\"users\": [\"ci\"],"
        " \"actions\": [\"read\"], \"conditions\": [{\"expression\":"
        " \"req.claims.ref == 'refs/heads/main'\", \"message\": \"main only\"}]}]}}},"
        " \"auth\": {\"openid\": [{\"issuer\": \"" ISS2 "\", \"audiences\": [\"ocigate-ci\"],"
        " \"claimMapping\": {\"username\": \"'ci'\"}}]}}";
    char err[512] = "", *t, *m;
    struct og_config *c = og_config_parse(conf, strlen(conf), "x.json", err, sizeof err);
    struct og_oidc *o;
    (void)state;

    if (!c)
        fail_msg("%s", err);
    o = og_oidc_new(c);
    og_oidc_set_fetcher(o, fake_get, NULL);
    m = ec_members(evil, "P-256", 32, 0);
    free(ci.jwks);
    ci.jwks = fmt("{\"keys\":[{%s,\"kid\":\"ci1\"}]}", m);
    free(m);
    t = ci_token("eblume/blumeops", "refs/heads/main");
    for (int i = 0; i < 2; i++) {
        memset(&store, 0, sizeof store);
        assert_int_equal(og_oidc_identify(o, t, strlen(t), &id, &store, &reason, &hit), OG_ID_OK);
        assert_int_equal(hit, i);
        assert_non_null(store.claims);
        assert_string_equal(json_string_value(json_object_get((json_t *)store.claims, "ref")),
                            "refs/heads/main");
    }
    free(t);
    og_oidc_free(o);
    og_config_free(c);
    free(ci.jwks);
    ci.jwks = NULL;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(valid_tokens_with_every_key_kind),
        T(groups_claim_forms),
        T(username_claim_required),
        T(claims_kept_for_conditions),
        T(username_claim_mapping_sub_and_email),
        T(typ_values),
        T(single_key_jwks_without_kid),
        T(alg_none_refused),
        T(hs256_confusion_with_rsa_public_key),
        T(hmac_jwk_is_never_used),
        T(alg_must_match_the_key),
        T(unknown_kid_one_refresh),
        T(last_good_jwks_kept),
        T(no_jwks_is_unavailable_never_allow),
        T(issuer_over_plain_http_refused),
        T(embedded_keys_and_urls_ignored),
        T(issuer_and_audience),
        T(time_claims),
        T(huge_token_refused_cheaply),
        T(malformed_shapes),
        T(tampered_payload_refused),
        T(first_sight_parses_only_the_token),
        T(verified_tokens_cached_until_exp),
        T(cache_survives_many_tokens),
        T(jwks_key_checks),
        T(discovery_over_loopback_http),
        T(not_configured),
        T(id_token_checks),
        T(signin_discovery),
        T(issuers_route_by_iss),
        T(issuer_down_affects_no_other),
        T(issuer_validations),
        T(issuer_mapping_errors),
        T(issuer_mapping_cached),
        T(signin_issuer_in_a_list),
        T(issuer_claims_for_conditions),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
