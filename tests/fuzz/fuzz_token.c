/*
 * fuzz_token.c - ocigate's own registry tokens (responder/auth/token.c):
 * og_token_is_mine, og_token_identify, og_token_mint.
 *
 * The signing key is the TEST-ONLY EC P-256 key of testkeys.h, written at
 * start to a private temporary file that token.keyFile names (og_tokens_load
 * reads it like the real thing). A fixed key keeps seeds and reproducers
 * with a valid signature valid across runs. Each input gets a fresh
 * og_tokens (empty cache), and og_token_identify runs twice on every token
 * (the second answer comes from the cache and must agree).
 *
 * The first byte of the input picks what the rest is:
 *   '0' a raw token (Bearer value);
 *   '1' HEADER-JSON \0 PAYLOAD-JSON, signed here with the key (ES256), so that
 *       mutated claims get past the signature (an empty header part means
 *       ocigate's own header);
 *   '2' USER \0 AUTH(0-3) \0 KEY-ID \0 ACCESS-JSON \0 GROUPS(,) \0 SCOPES(,):
 *       minted with og_token_mint, then verified; the identity must survive.
 * Other first bytes are taken modulo 3.
 *
 * OG_FUZZ_WRITE_SEEDS=DIR: write seed inputs into DIR and exit.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base64.h"
#include "config.h"
#include "decide.h"
#include "glob.h"
#include "log.h"
#include "testkeys.h"
#include "token.h"

static char keyfile[] = "/tmp/ocigate-fuzz-token-XXXXXX";
static struct og_config *cfg;
static EVP_PKEY *key;
static char kid[17];
static char hdr_ours[128];
/* A fresh og_tokens per input: a shared one would keep every verified token's
   compiled scopes in its cache, and libFuzzer then runs a full LeakSanitizer
   scan after each input that allocated more than it freed (20 times slower). */

static void remove_keyfile(void)
{
    unlink(keyfile);
}

static char *b64u(const void *p, size_t n)
{
    size_t cap = n * 4 / 3 + 8;
    char *out = malloc(cap);

    if (!out || og_base64_encode(p, n, out, cap, true) < 0)
        abort();
    return out;
}

/* HEADER.PAYLOAD.SIG, ES256 with the test key (sign 0: garbage signature). */
static char *make_token(const char *hdr, size_t hlen, const char *pay, size_t plen, int sign)
{
    char *h = b64u(hdr, hlen), *p = b64u(pay, plen), *s, *tok;
    size_t n = strlen(h) + 1 + strlen(p);
    unsigned char der[128], raw[64];
    size_t dlen = sizeof der;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    char *msg = malloc(n + 1);

    if (!msg || !m)
        abort();
    snprintf(msg, n + 1, "%s.%s", h, p);
    memset(raw, 0x41, sizeof raw);
    if (sign) {
        const unsigned char *q = der;
        ECDSA_SIG *sig;
        if (EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, key, NULL) != 1 ||
            EVP_DigestSign(m, der, &dlen, (const unsigned char *)msg, n) != 1 ||
            !(sig = d2i_ECDSA_SIG(NULL, &q, (long)dlen)) ||
            BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32)
            abort();
        ECDSA_SIG_free(sig);
    }
    EVP_MD_CTX_free(m);
    s = b64u(raw, 64);
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

#define CLAIMS "{\"iss\":\"reg\",\"aud\":\"svc\",\"sub\":\"alice\",\"iat\":1700000000," \
               "\"nbf\":1700000000,\"exp\":4102444800,\"jti\":\"00ff\",\"access\":[{\"type\":" \
               "\"repository\",\"name\":\"app\",\"actions\":[\"pull\",\"push\"]}]," \
               "\"ocigate\":{\"groups\":[\"admins\",\"dev\"],\"auth\":\"apikey\"," \
               "\"key_id\":\"k-01\",\"repos\":[\"team-a/**\",\"tools/*\"]}}"

static void write_seed(const char *dir, const char *name, char mode, const void *body,
                       size_t len)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")))
        abort();
    fputc(mode, f);
    fwrite(body, 1, len, f);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    char *t, buf[2048];
    int n;

    t = make_token(hdr_ours, strlen(hdr_ours), CLAIMS, strlen(CLAIMS), 1);
    write_seed(dir, "0-valid", '0', t, strlen(t));
    free(t);
    t = make_token(hdr_ours, strlen(hdr_ours), CLAIMS, strlen(CLAIMS), 0);
    write_seed(dir, "0-bad-signature", '0', t, strlen(t));
    free(t);
    n = snprintf(buf, sizeof buf, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    t = make_token(buf, (size_t)n, CLAIMS, strlen(CLAIMS), 1);
    write_seed(dir, "0-hs256", '0', t, strlen(t));
    free(t);
    n = snprintf(buf, sizeof buf, "{\"alg\":\"none\",\"kid\":\"%s\"}", kid);
    t = make_token(buf, (size_t)n, CLAIMS, strlen(CLAIMS), 1);
    write_seed(dir, "0-alg-none", '0', t, strlen(t));
    free(t);
    n = snprintf(buf, sizeof buf, "%s%c%s", hdr_ours, 0, CLAIMS);
    write_seed(dir, "1-claims", '1', buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "%c{\"iss\":\"reg\",\"aud\":\"svc\",\"sub\":\"\","
                 "\"exp\":4102444800,\"ocigate\":{\"auth\":\"anonymous\"}}", 0);
    write_seed(dir, "1-anonymous", '1', buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "%s%c{\"iss\":\"reg\",\"aud\":\"svc\",\"sub\":\"bob\","
                 "\"exp\":4102444800,\"nbf\":4102444000,\"ocigate\":{\"groups\":\"x\"}}",
                 hdr_ours, 0);
    write_seed(dir, "1-not-yet", '1', buf, (size_t)n);
    static const char mint1[] = "alice\0003\0\0[{\"type\":\"repository\",\"name\":\"app\","
                                "\"actions\":[\"pull\"]}]\0admins,dev\0";
    write_seed(dir, "2-openid", '2', mint1, sizeof mint1 - 1);
    static const char mint2[] = "ci\0002\0k-7f3a\0[]\0artifact-workloads\0team-a/**,{a,b}/c";
    write_seed(dir, "2-apikey-scopes", '2', mint2, sizeof mint2 - 1);
    static const char mint3[] = "\0000\0\0[]\0\0";
    write_seed(dir, "2-anonymous", '2', mint3, sizeof mint3 - 1);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char conf[512], err[512];
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int fd, n;
    BIO *b;
    const char *seeds = getenv("OG_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    og_log_configure("error", "text");
    fd = mkstemp(keyfile);
    if (fd < 0 || write(fd, og_fuzz_test_ec_p256_pem, strlen(og_fuzz_test_ec_p256_pem)) < 0)
        abort();
    close(fd);
    atexit(remove_keyfile);
    snprintf(conf, sizeof conf,
             "{\"realm\":\"reg\",\"token\":{\"challenge\":\"bearer\",\"realm\":"
             "\"http://127.0.0.1/t\",\"service\":\"svc\",\"keyFile\":\"%s\","
             "\"lifetimeSeconds\":300},\"accessControl\":{}}", keyfile);
    cfg = og_config_parse(conf, strlen(conf), "fuzz.json", err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "fuzz_token: config: %s\n", err);
        abort();
    }
    b = BIO_new_mem_buf(og_fuzz_test_ec_p256_pem, -1);
    key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!key || (n = i2d_PUBKEY(key, &der)) <= 0 ||
        EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1)
        abort();
    OPENSSL_free(der);
    for (int i = 0; i < 8; i++)
        snprintf(kid + 2 * i, 3, "%02x", md[i]);
    snprintf(hdr_ours, sizeof hdr_ours, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             kid);
    if (seeds)
        write_seeds(seeds);
    return 0;
}

struct seen {
    enum og_identify_result r;
    char user[OG_USER_MAX + 1];
    int has_user;
    enum og_auth auth;
    size_t ngroups, nscopes;
};

/* Identify tok (NUL-terminated, len bytes) twice; the cached answer must agree. */
static enum og_identify_result identify(struct og_tokens *t, const char *tok, size_t len,
                                        struct seen *out)
{
    struct og_identity id;
    struct og_identity_store *store = malloc(sizeof *store);
    const char *reason = NULL;
    struct seen s2;

    if (!store)
        abort();
    memset(out, 0, sizeof *out);
    memset(&s2, 0, sizeof s2);
    for (int round = 0; round < 2; round++) {
        struct seen *s = round ? &s2 : out;
        memset(&id, 0, sizeof id);
        memset(store, 0, sizeof *store);
        s->r = og_token_identify(t, tok, len, &id, store, &reason);
        FZ_ASSERT(s->r == OG_ID_OK || (s->r == OG_ID_BAD_CREDENTIALS && reason));
        if (s->r != OG_ID_OK)
            break;
        s->has_user = id.user != NULL;
        if (id.user) {
            FZ_ASSERT(strlen(id.user) <= OG_USER_MAX);
            snprintf(s->user, sizeof s->user, "%s", id.user);
        }
        s->auth = id.auth;
        s->ngroups = id.ngroups;
        s->nscopes = id.nscopes;
        FZ_ASSERT(id.ngroups <= OG_ID_MAX_GROUPS);
        for (size_t i = 0; i < id.ngroups; i++)
            FZ_ASSERT(id.groups[i] != NULL);
        for (size_t i = 0; i < id.nscopes; i++)
            (void)og_glob_match(id.scopes[i], "team-a/app", 10);
        FZ_ASSERT(strlen(store->key_id) < sizeof store->key_id);
    }
    if (getenv("FZ_DEBUG"))
        fprintf(stderr, "identify: r=%d/%d user=%d'%s'/%d'%s' auth=%d/%d groups=%zu/%zu scopes=%zu/%zu reason=%s\n",
                out->r, s2.r, out->has_user, out->user, s2.has_user, s2.user, out->auth, s2.auth,
                out->ngroups, s2.ngroups, out->nscopes, s2.nscopes, reason);
    if (out->r == OG_ID_OK)
        FZ_ASSERT(s2.r == OG_ID_OK && s2.has_user == out->has_user &&
                  strcmp(s2.user, out->user) == 0 && s2.auth == out->auth &&
                  s2.ngroups == out->ngroups && s2.nscopes == out->nscopes);
    free(store);
    return out->r;
}

/* Split s at ',' into up to max heap strings. */
static size_t split_list(const uint8_t *p, size_t n, char **v, size_t max)
{
    size_t k = 0, start = 0;

    for (size_t i = 0; i <= n && k < max; i++) {
        if (i == n || p[i] == ',') {
            if (i > start)
                v[k++] = fz_dup_str(p + start, i - start);
            start = i + 1;
        }
    }
    return k;
}

static void mint_and_verify(struct og_tokens *t, const uint8_t *d, size_t n)
{
    struct fz_cursor c = { d, n, 0 };
    const uint8_t *part[6] = { 0 };
    size_t plen[6] = { 0 };
    char *user, *key_id, *access, *groups[80], *scopes[40];
    struct og_glob *globs[40];
    size_t ngroups = 0, nscopes = 0, nglobs = 0;
    char tok[8192], err[128];
    struct seen s;
    long len;

    for (int i = 0; i < 6 && fz_next(&c, &part[i], &plen[i]); i++)
        ;
    user = fz_dup_str(part[0], plen[0]);
    key_id = plen[2] ? fz_dup_str(part[2], plen[2]) : NULL;
    access = plen[3] ? fz_dup_str(part[3], plen[3]) : NULL;
    ngroups = split_list(part[4], part[4] ? plen[4] : 0, groups, 80);
    nscopes = split_list(part[5], part[5] ? plen[5] : 0, scopes, 40);
    for (size_t i = 0; i < nscopes; i++) {
        struct og_glob *g = og_glob_compile(scopes[i], strlen(scopes[i]), err, sizeof err);
        if (g)
            globs[nglobs++] = g;
    }
    struct og_identity id = {
        .user = user,
        .auth = (enum og_auth)(plen[1] ? (part[1][0] - '0') & 3 : 0),
        .groups = (const char *const *)groups,
        .ngroups = ngroups,
        .scopes = (const struct og_glob *const *)globs,
        .nscopes = nglobs,
    };
    len = og_token_mint(t, &id, key_id, access, time(NULL), tok, sizeof tok);
    FZ_ASSERT(len < (long)sizeof tok);
    if (len > 0) {
        FZ_ASSERT(strlen(tok) == (size_t)len);
        FZ_ASSERT(og_token_is_mine(t, tok, (size_t)len) || len > 8192);
        if (identify(t, tok, (size_t)len, &s) == OG_ID_OK && s.has_user)
            FZ_ASSERT(strcmp(s.user, user) == 0 && s.auth == id.auth);
        if (s.r == OG_ID_OK && s.has_user)
            FZ_ASSERT(s.nscopes == nglobs);
    }
    for (size_t i = 0; i < nglobs; i++)
        og_glob_free(globs[i]);
    for (size_t i = 0; i < nscopes; i++)
        free(scopes[i]);
    for (size_t i = 0; i < ngroups; i++)
        free(groups[i]);
    free(user);
    free(key_id);
    free(access);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_cursor c;
    const uint8_t *a, *b;
    size_t al, bl;
    struct og_tokens *t;
    char err[512], *tok;
    struct seen s;
    int mode;

    if (size < 1 || size > 32768)
        return 0;
    mode = (unsigned char)(data[0] - '0') % 3;
    t = og_tokens_load(cfg, err, sizeof err);
    if (!t) {
        fprintf(stderr, "fuzz_token: %s\n", err);
        abort();
    }
    switch (mode) {
    case 0: {
        char *exact = fz_dup_exact(data + 1, size - 1);
        (void)og_token_is_mine(t, exact, size - 1);
        free(exact);
        tok = fz_dup_str(data + 1, size - 1);
        identify(t, tok, size - 1, &s);
        free(tok);
        break;
    }
    case 1:
        c = (struct fz_cursor){ data + 1, size - 1, 0 };
        fz_next(&c, &a, &al);
        if (!fz_next(&c, &b, &bl)) {
            b = a;
            bl = al;
            al = 0;
        }
        if (al == 0) {
            a = (const uint8_t *)hdr_ours;
            al = strlen(hdr_ours);
        }
        tok = make_token((const char *)a, al, (const char *)b, bl, 1);
        identify(t, tok, strlen(tok), &s);
        free(tok);
        break;
    case 2:
        mint_and_verify(t, data + 1, size - 1);
        break;
    }
    og_tokens_free(t);
    return 0;
}
