/*
 * fuzz_jwt.c - OIDC JWT verification (responder/auth/oidc.c, jws.c,
 * oidc_discovery.c): og_oidc_identify against an injected JWKS, the JWKS
 * parser, and discovery.
 *
 * No network and a fixed clock: the verifiers (og_oidc_new) get
 * og_oidc_set_now(NOW) and a fetch hook that plays the identity provider. The keys are the TEST-ONLY keys of testkeys.h, so
 * seeds and reproducers that carry a valid signature stay valid.
 *
 * The first byte of the input picks what the rest is:
 *   '0' a raw token, checked against the fixed JWKS (kids "ec1", "rsa1");
 *   '1' HEADER-JSON \0 PAYLOAD-JSON, signed here with the EC key (ES256),
 *       so that mutated claims get past the signature check;
 *   '2' the same, signed with the RSA key (RS256);
 *   '3' a JWKS document (og_oidc_set_jwks), then a valid token against it;
 *   '4' DISCOVERY-JSON \0 JWKS-JSON served by the fetch hook, then a valid
 *       token (discovery, jwks_uri policy, JWKS refresh).
 * Other first bytes are taken modulo 5.
 *
 * OG_FUZZ_WRITE_SEEDS=DIR: write seed inputs into DIR and exit (the
 * checked-in corpus/fuzz_jwt/ was made so).
 */
#include "fuzz_common.h"

#include <stdio.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base64.h"
#include "config.h"
#include "log.h"
#include "oidc.h"
#include "testkeys.h"

#define ISS "https://idp.example.test/realms/r"
#define NOW 1700000000L

static struct og_config *cfg;
static EVP_PKEY *ec_key, *rsa_key;
static char *jwks;                   /* the fixed JWKS */
static char *valid_token;            /* ES256, kid ec1, valid at NOW */
static struct og_oidc *shared;       /* modes 0-2: the fixed JWKS, installed once */

/* What the fetch hook serves: the fixed IdP, or the input's documents. */
static struct {
    const char *disc;
    size_t disc_len;
    const char *jwks;
    size_t jwks_len;
} idp;

static long fake_get(void *arg, const char *url, char *buf, size_t cap, size_t *len)
{
    const char *body = NULL;
    size_t n = 0;
    char fixed_disc[256];

    (void)arg;
    if (strcmp(url, ISS "/.well-known/openid-configuration") == 0) {
        if (idp.disc) {
            body = idp.disc;
            n = idp.disc_len;
        } else {
            n = (size_t)snprintf(fixed_disc, sizeof fixed_disc,
                                 "{\"issuer\":\"" ISS "\",\"jwks_uri\":\"" ISS "/jwks\"}");
            body = fixed_disc;
        }
    } else if (strcmp(url, ISS "/jwks") == 0 || idp.jwks) {
        body = idp.jwks ? idp.jwks : jwks;
        n = idp.jwks ? idp.jwks_len : strlen(jwks);
    }
    if (!body)
        return 404;
    if (n > cap)
        n = cap;
    memcpy(buf, body, n);
    *len = n;
    return 200;
}

/* ---- keys, signatures, tokens ------------------------------------------- */

static char *b64u(const void *p, size_t n)
{
    size_t cap = n * 4 / 3 + 8;
    char *out = malloc(cap);

    if (!out || og_base64_encode(p, n, out, cap, true) < 0)
        abort();
    return out;
}

static char *bn_b64u(const char *param, EVP_PKEY *k, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[600];
    int n;
    char *s;

    if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
        abort();
    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    if (n <= 0)
        abort();
    s = b64u(buf, (size_t)n);
    BN_free(bn);
    return s;
}

static EVP_PKEY *load_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    if (!k)
        abort();
    return k;
}

/* The JWS signature of msg, base64url: ES256 with the EC key, RS256 with RSA. */
static char *sign(int es, const char *msg, size_t len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char der[600], raw[64];
    size_t dlen = sizeof der;

    if (!m || EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, es ? ec_key : rsa_key,
                                    NULL) != 1 ||
        EVP_DigestSign(m, der, &dlen, (const unsigned char *)msg, len) != 1)
        abort();
    EVP_MD_CTX_free(m);
    if (!es)
        return b64u(der, dlen);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32)
        abort();
    ECDSA_SIG_free(sig);
    return b64u(raw, 64);
}

/* HEADER.PAYLOAD.SIG from two JSON texts; sig: 1 ES256, 2 RS256, 0 none. */
static char *make_token(const char *hdr, size_t hlen, const char *pay, size_t plen, int sig)
{
    char *h = b64u(hdr, hlen), *p = b64u(pay, plen), *s, *tok;
    size_t n = strlen(h) + 1 + strlen(p);
    char *msg = malloc(n + 1);

    if (!msg)
        abort();
    snprintf(msg, n + 1, "%s.%s", h, p);
    s = sig ? sign(sig == 1, msg, n) : strdup("");
    tok = malloc(n + 1 + strlen(s) + 1);
    if (!tok)
        abort();
    sprintf(tok, "%s.%s", msg, s);
    free(h);
    free(p);
    free(s);
    free(msg);
    return tok;
}

static char *make_jwks(void)
{
    char *n = bn_b64u(OSSL_PKEY_PARAM_RSA_N, rsa_key, 0);
    char *e = bn_b64u(OSSL_PKEY_PARAM_RSA_E, rsa_key, 0);
    char *x = bn_b64u(OSSL_PKEY_PARAM_EC_PUB_X, ec_key, 32);
    char *y = bn_b64u(OSSL_PKEY_PARAM_EC_PUB_Y, ec_key, 32);
    char *out = NULL;

    if (asprintf(&out,
                 "{\"keys\":["
                 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\",\"use\":\"sig\","
                 "\"alg\":\"ES256\",\"x\":\"%s\",\"y\":\"%s\"},"
                 "{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},"
                 "{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"}]}",
                 x, y, n, e) < 0)
        abort();
    free(n);
    free(e);
    free(x);
    free(y);
    return out;
}

#define HDR_ES "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"ec1\"}"
#define HDR_RS "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"
#define CLAIMS "{\"iss\":\"" ISS "\",\"aud\":[\"account\",\"ocigate\"],\"exp\":1700003600," \
               "\"iat\":1700000000,\"nbf\":1699999990,\"preferred_username\":\"alice\"," \
               "\"groups\":[\"dev\",\"admins\"],\"sub\":\"f0c1\"}"

/* ---- seeds -------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, char mode, const char *a,
                       const char *b)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")))
        abort();
    fputc(mode, f);
    fputs(a, f);
    if (b) {
        fputc('\0', f);
        fputs(b, f);
    }
    fclose(f);
}

static void write_seeds(const char *dir)
{
    static const struct { const char *name, *hdr, *pay; int sig; } toks[] = {
        { "0-valid-es256", HDR_ES, CLAIMS, 1 },
        { "0-valid-rs256", HDR_RS, CLAIMS, 2 },
        { "0-at-jwt", "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"ec1\"}", CLAIMS, 1 },
        { "0-expired", HDR_ES, "{\"iss\":\"" ISS "\",\"aud\":\"ocigate\",\"exp\":1600000000,"
                               "\"preferred_username\":\"bob\"}", 1 },
        { "0-alg-none", "{\"alg\":\"none\"}", CLAIMS, 0 },
        { "0-hs256", "{\"alg\":\"HS256\",\"kid\":\"hmac\"}", CLAIMS, 1 },
        { "0-unknown-kid", "{\"alg\":\"ES256\",\"kid\":\"rotated\"}", CLAIMS, 1 },
        { "0-alg-mismatch", "{\"alg\":\"RS256\",\"kid\":\"ec1\"}", CLAIMS, 1 },
        { "0-no-kid", "{\"alg\":\"ES256\"}", CLAIMS, 1 },
    };
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        char *t = make_token(toks[i].hdr, strlen(toks[i].hdr), toks[i].pay,
                             strlen(toks[i].pay), toks[i].sig);
        write_seed(dir, toks[i].name, '0', t, NULL);
        free(t);
    }
    write_seed(dir, "1-es256-claims", '1', HDR_ES, CLAIMS);
    write_seed(dir, "1-es256-string-groups", '1', HDR_ES,
               "{\"iss\":\"" ISS "\",\"aud\":\"ocigate\",\"exp\":1700000100.5,"
               "\"preferred_username\":\"ci\",\"groups\":\"artifact-workloads\"}");
    write_seed(dir, "2-rs256-claims", '2', HDR_RS, CLAIMS);
    write_seed(dir, "3-jwks", '3', jwks, NULL);
    write_seed(dir, "4-discovery-jwks", '4',
               "{\"issuer\":\"" ISS "/\",\"jwks_uri\":\"" ISS "/protocol/certs\"}", jwks);
    exit(0);
}

/* ---- the harness -------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char conf[] =
        "{\"auth\":{\"openid\":{\"issuer\":\"" ISS "\",\"audiences\":[\"ocigate\"],"
        "\"claimMapping\":{\"username\":\"preferred_username\",\"groups\":\"groups\"},"
        "\"leewaySeconds\":60}},\"accessControl\":{}}";
    char err[512];
    const char *seeds = getenv("OG_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    og_log_configure("error", "text");
    cfg = og_config_parse(conf, strlen(conf), "fuzz.json", err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "fuzz_jwt: config: %s\n", err);
        abort();
    }
    ec_key = load_key(og_fuzz_test_ec_p256_pem);
    rsa_key = load_key(og_fuzz_test_rsa2048_pem);
    jwks = make_jwks();
    valid_token = make_token(HDR_ES, strlen(HDR_ES), CLAIMS, strlen(CLAIMS), 1);
    if (seeds)
        write_seeds(seeds);
    /* Installing a JWKS with an RSA key costs milliseconds (EVP_PKEY_public_check),
       so modes 0-2 share one verifier. That is deterministic: the clock is fixed,
       the fetch hook always serves the same JWKS, and a token the cache remembers
       gets the answer it got before. */
    shared = og_oidc_new(cfg);
    if (!shared)
        abort();
    og_oidc_set_fetcher(shared, fake_get, NULL);
    og_oidc_set_now(shared, NOW);
    if (og_oidc_set_jwks(shared, jwks, strlen(jwks)) != 0)
        abort();
    return 0;
}

/* Verify tok twice (the second answer comes from the cache) and check both. */
static void verify(struct og_oidc *o, const char *tok, size_t len, int fresh)
{
    struct og_identity id;
    struct og_identity_store *store = malloc(sizeof *store);
    const char *reason = NULL;
    int hit = -1;
    enum og_identify_result r;
    char user[OG_USER_MAX + 1];
    size_t ngroups;

    if (!store)
        abort();
    memset(&id, 0, sizeof id);
    r = og_oidc_identify(o, tok, len, &id, store, &reason, &hit);
    FZ_ASSERT(reason != NULL);
    if (getenv("FZ_DEBUG"))
        fprintf(stderr, "identify: r=%d user=%s ngroups=%zu reason=%s\n", r,
                r == OG_ID_OK ? id.user : "-", r == OG_ID_OK ? id.ngroups : 0, reason);
    FZ_ASSERT(r == OG_ID_OK || r == OG_ID_BAD_CREDENTIALS || r == OG_ID_UNAVAILABLE);
    if (r == OG_ID_OK) {
        FZ_ASSERT(hit == 0 || !fresh);
        FZ_ASSERT(id.user && id.user[0] && strlen(id.user) <= OG_USER_MAX);
        FZ_ASSERT(id.auth == OG_AUTH_OPENID);
        for (const char *s = id.user; *s; s++)
            FZ_ASSERT((unsigned char)*s >= 0x20 && *s != 0x7f);
        FZ_ASSERT(id.ngroups <= OG_ID_MAX_GROUPS);
        for (size_t i = 0; i < id.ngroups; i++)
            FZ_ASSERT(id.groups[i][0] && !strchr(id.groups[i], ','));
        snprintf(user, sizeof user, "%s", id.user);
        ngroups = id.ngroups;
        memset(&id, 0, sizeof id);
        memset(store, 0, sizeof *store);
        r = og_oidc_identify(o, tok, len, &id, store, &reason, &hit);
        FZ_ASSERT(r == OG_ID_OK && hit == 1);
        FZ_ASSERT(strcmp(id.user, user) == 0 && id.ngroups == ngroups);
    }
    free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_cursor c;
    const uint8_t *a, *b;
    size_t al, bl;
    struct og_oidc *o;
    char *tok;
    int mode;

    if (size < 1 || size > 65536)
        return 0;
    mode = (unsigned char)(data[0] - '0') % 5;
    c = (struct fz_cursor){ data + 1, size - 1, 0 };
    memset(&idp, 0, sizeof idp);
    if (mode <= 2) {
        o = shared;
    } else {
        o = og_oidc_new(cfg);
        if (!o)
            abort();
        og_oidc_set_fetcher(o, fake_get, NULL);
        og_oidc_set_now(o, NOW);
    }

    switch (mode) {
    case 0:
        tok = fz_dup_exact(data + 1, size - 1);
        verify(o, tok, size - 1, 0);
        free(tok);
        break;
    case 1:
    case 2:
        fz_next(&c, &a, &al);
        if (!fz_next(&c, &b, &bl)) {     /* one part: the payload, a standard header */
            b = a;
            bl = al;
            a = (const uint8_t *)(mode == 1 ? HDR_ES : HDR_RS);
            al = strlen((const char *)a);
        }
        tok = make_token((const char *)a, al, (const char *)b, bl, mode);
        verify(o, tok, strlen(tok), 0);
        free(tok);
        break;
    case 3: {
        char *doc = fz_dup_exact(data + 1, size - 1);
        idp.jwks = "{}";              /* a refresh finds nothing usable */
        idp.jwks_len = 2;
        if (og_oidc_set_jwks(o, doc, size - 1) == 0)
            FZ_ASSERT(og_oidc_jwks_age(o) == 0);
        free(doc);
        verify(o, valid_token, strlen(valid_token), 1);
        break;
    }
    case 4: {
        char *disc, *doc;
        fz_next(&c, &a, &al);
        if (!fz_next(&c, &b, &bl)) {
            b = (const uint8_t *)jwks;
            bl = strlen(jwks);
        }
        disc = fz_dup_exact(a, al);
        doc = fz_dup_exact(b, bl);
        idp.disc = disc;
        idp.disc_len = al;
        idp.jwks = doc;
        idp.jwks_len = bl;
        verify(o, valid_token, strlen(valid_token), 1);
        free(disc);
        free(doc);
        break;
    }
    }
    if (o != shared)
        og_oidc_free(o);
    return 0;
}
