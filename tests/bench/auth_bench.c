/*
 * auth_bench.c - what a credential costs ocigate the first time and when
 * cached, in process (measures, never passes or fails):
 *   auth_bench tokens              ocigate's own tokens (ES256): mint, first sight, cached
 *   auth_bench oidc                OpenID JWTs (RS256 2048, ES256): first sight
 *   auth_bench apikey CONFIG KEY   one API key lookup in Redis (auth.apikey.cacheSeconds
 *                                  0 in CONFIG, so every lookup asks Redis), and unknown keys
 * Prints medians and 90th percentiles in microseconds. Built on demand:
 * make tests/bench/auth_bench; tests/bench/apikey_scale.sh runs the third.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "apikey.h"
#include "base64.h"
#include "config.h"
#include "identity.h"
#include "oidc.h"
#include "redis.h"
#include "token.h"

#define N 400
#define ISS "https://idp.bench.test/r"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *d, size_t n)
{
    qsort(d, n, sizeof(*d), by_value);
    printf("%-34s median %7.1f us  p90 %7.1f us  (n=%zu)\n", what, d[n / 2], d[n * 9 / 10], n);
}

static struct og_config *config(const char *json)
{
    char err[512];
    struct og_config *cfg = og_config_parse(json, strlen(json), "bench.json", err, sizeof(err));
    if (!cfg)
        fprintf(stderr, "auth_bench: config: %s\n", err);
    return cfg;
}

static int tokens(void)
{
    static char tok[N][4096];
    static double d[20000];
    char dir[] = "/tmp/og-auth-bench-XXXXXX", kf[64], json[512], err[512];
    const char *groups[] = { "admins", "dev" };
    struct og_config *cfg = NULL;
    struct og_tokens *t = NULL;
    long len[N];
    int rc = 1;
    FILE *f;

    if (!mkdtemp(dir))
        return 1;
    snprintf(kf, sizeof(kf), "%s/token.key", dir);
    if (!(f = fopen(kf, "w")) || og_token_key_generate(f) != 0)
        goto out;
    fclose(f);
    f = NULL;
    snprintf(json, sizeof(json), "{\"realm\":\"reg\",\"token\":{\"challenge\":\"bearer\","
             "\"realm\":\"http://127.0.0.1/t\",\"service\":\"svc\",\"keyFile\":\"%s\","
             "\"lifetimeSeconds\":600},\"accessControl\":{}}", kf);
    if (!(cfg = config(json)) || !(t = og_tokens_load(cfg, err, sizeof(err))))
        goto out;
    for (int i = 0; i < N; i++) {
        char user[32];
        snprintf(user, sizeof(user), "user%d", i);
        struct og_identity id = { .user = user, .auth = OG_AUTH_HTPASSWD, .groups = groups,
                                  .ngroups = 2 };
        double a = now_us();
        len[i] = og_token_mint(t, &id, "", "[{\"type\":\"repository\",\"name\":\"a/b\","
                               "\"actions\":[\"pull\",\"push\"]}]", time(NULL), tok[i],
                               sizeof(tok[i]));
        d[i] = now_us() - a;
        if (len[i] <= 0)
            goto out;
    }
    report("ocigate token, mint", d, N);
    /* first sight of each, then 100 of them in turn (the per-worker cache) */
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? 20000 : N;
        for (size_t i = 0; i < n; i++) {
            struct og_identity id;
            struct og_identity_store st;
            const char *reason;
            size_t k = pass ? i % 100 : i;
            double a = now_us();
            bool ok = og_token_is_mine(t, tok[k], (size_t)len[k]) &&
                      og_token_identify(t, tok[k], (size_t)len[k], &id, &st, &reason) == OG_ID_OK;
            d[i] = now_us() - a;
            if (!ok)
                goto out;
        }
        report(pass ? "ocigate token, cached" : "ocigate token, first sight", d, n);
    }
    rc = 0;
out:
    og_tokens_free(t);
    og_config_free(cfg);
    unlink(kf);
    rmdir(dir);
    return rc;
}

static void b64(const void *p, size_t n, char *out, size_t cap)
{
    og_base64_encode(p, n, out, cap, true);
}

static void bn_b64(EVP_PKEY *k, const char *name, int pad, char *out, size_t cap)
{
    BIGNUM *b = NULL;
    unsigned char buf[600];
    int n = 0;

    if (EVP_PKEY_get_bn_param(k, name, &b) == 1)
        n = pad ? BN_bn2binpad(b, buf, pad) : BN_bn2bin(b, buf);
    b64(buf, n > 0 ? (size_t)n : 0, out, cap);
    BN_free(b);
}

static long no_fetch(void *arg, const char *url, char *buf, size_t cap, size_t *len)
{
    (void)arg, (void)url, (void)buf, (void)cap, (void)len;
    return 503;
}

/* A JWT for the bench issuer signed by k (ES256 when ec), with a jti of i. */
static bool make_jwt(EVP_PKEY *k, bool ec, int i, char *out, size_t cap)
{
    char h[128], p[512], hb[256], pb[800], sb[600];
    unsigned char der[600], rs[64];
    size_t dl = sizeof(der);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    long now = (long)time(NULL);
    bool ok;

    snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             ec ? "ES256" : "RS256", ec ? "e1" : "r1");
    snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"aud\":\"registry\",\"exp\":%ld,\"iat\":%ld,"
             "\"jti\":\"j%d\",\"preferred_username\":\"alice\",\"groups\":[\"dev\",\"ops\"]}",
             now + 600, now, i);
    b64(h, strlen(h), hb, sizeof(hb));
    b64(p, strlen(p), pb, sizeof(pb));
    snprintf(out, cap, "%s.%s", hb, pb);
    ok = m && EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, k, NULL) == 1 &&
         EVP_DigestSign(m, der, &dl, (unsigned char *)out, strlen(out)) == 1;
    EVP_MD_CTX_free(m);
    if (!ok)
        return false;
    if (ec) {
        const unsigned char *q = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dl);
        if (!es)
            return false;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
        ECDSA_SIG_free(es);
        b64(rs, 64, sb, sizeof(sb));
    } else {
        b64(der, dl, sb, sizeof(sb));
    }
    return strlen(out) + 1 + strlen(sb) < cap && strcat(out, ".") && strcat(out, sb);
}

static int oidc(void)
{
    static char tok[N][2048];
    double d[N];
    char n[600], e[16], x[64], y[64], jwks[2048];
    struct og_config *cfg = config("{\"accessControl\":{},\"auth\":{\"openid\":{\"issuer\":\""
                                   ISS "\",\"audiences\":[\"registry\"]}}}");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct og_oidc *o = NULL;
    int rc = 1;

    if (!cfg || !rsa || !ec)
        goto out;
    bn_b64(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n, sizeof(n));
    bn_b64(rsa, OSSL_PKEY_PARAM_RSA_E, 0, e, sizeof(e));
    bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, x, sizeof(x));
    bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y, sizeof(y));
    snprintf(jwks, sizeof(jwks), "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"%s\","
             "\"e\":\"%s\"},{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\","
             "\"y\":\"%s\"}]}", n, e, x, y);
    if (!(o = og_oidc_new(cfg)))
        goto out;
    og_oidc_set_fetcher(o, no_fetch, NULL);
    if (og_oidc_set_jwks(o, jwks, strlen(jwks)) != 0)
        goto out;
    for (int is_ec = 0; is_ec < 2; is_ec++) {
        struct og_oidc_stats s0, s1;
        for (int i = 0; i < N; i++)
            if (!make_jwt(is_ec ? ec : rsa, is_ec, i + is_ec * N, tok[i], sizeof(tok[i])))
                goto out;
        og_oidc_get_stats(o, &s0);
        for (int i = 0; i < N; i++) {
            struct og_identity id;
            struct og_identity_store st;
            const char *reason;
            int hit;
            double a = now_us();
            enum og_identify_result r = og_oidc_identify(o, tok[i], strlen(tok[i]), &id, &st,
                                                         &reason, &hit);
            d[i] = now_us() - a;
            if (r != OG_ID_OK || hit)
                goto out;
        }
        og_oidc_get_stats(o, &s1);
        report(is_ec ? "OpenID ES256, first sight" : "OpenID RS256 (2048), first sight", d, N);
        printf("  per token: %.1f JSON parses, %.1f signatures, %lu fetches\n",
               (double)(s1.json_parses - s0.json_parses) / N,
               (double)(s1.sig_checks - s0.sig_checks) / N, s1.fetches - s0.fetches);
    }
    rc = 0;
out:
    og_oidc_free(o);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    og_config_free(cfg);
    return rc;
}

static int apikey(const char *path, const char *key)
{
    static double d[3000];
    char err[512], buf[8192], other[OG_APIKEY_LEN + 1];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    struct og_config *cfg;
    struct og_redis *r = NULL;
    struct og_apikeys *k = NULL;
    int rc = 1;

    if (f)
        fclose(f);
    buf[n] = '\0';
    if (!(cfg = config(buf)) || !(r = og_redis_new(cfg, err, sizeof(err))) ||
        !(k = og_apikeys_new(cfg, r)))
        goto out;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 3000; i++) {
            struct og_identity id;
            struct og_identity_store st;
            const char *reason, *kk = key;
            int hit;
            enum og_identify_result res;
            double a;
            if (pass) {                  /* a new unknown key each time (no negative cache) */
                snprintf(other, sizeof(other), "zak_%032x", (unsigned)i + 1);
                kk = other;
            }
            a = now_us();
            res = og_apikey_identify(k, NULL, kk, strlen(kk), &id, &st, &reason, &hit);
            d[i] = now_us() - a;
            if ((!pass && res != OG_ID_OK) || hit) {
                fprintf(stderr, "auth_bench: %s (set auth.apikey.cacheSeconds to 0)\n", reason);
                goto out;
            }
        }
        report(pass ? "API key lookup, unknown key" : "API key lookup, known key", d, 3000);
    }
    rc = 0;
out:
    og_apikeys_free(k);
    og_redis_free(r);
    og_config_free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "tokens") == 0)
        return tokens();
    if (argc == 2 && strcmp(argv[1], "oidc") == 0)
        return oidc();
    if (argc == 4 && strcmp(argv[1], "apikey") == 0)
        return apikey(argv[2], argv[3]);
    fprintf(stderr, "usage: auth_bench tokens | oidc | apikey CONFIG KEY\n");
    return 2;
}
