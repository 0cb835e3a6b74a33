/*
 * test_token_mint.c - ocigate's tokens are minted with libcrypto and the key
 * parsed once: each verifies with ocigate's own verifier and with libjwt,
 * and its header and claims are byte for byte what libjwt 1.10 (which
 * minted them before) writes for the same claims.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base64.h"
#include "decide.h"
#include "glob.h"
#include "identity.h"
#include "token.h"

struct fixture {
    char dir[64];
    char keyfile[128];
    unsigned char priv[4096];   /* the PEM private key (for libjwt) */
    size_t priv_len;
    char pub[1024];             /* its PEM public key */
    size_t pub_len;
    struct og_config *cfg;
    struct og_tokens *tokens;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char json[512], err[512];
    FILE *fp;

    snprintf(f->dir, sizeof(f->dir), "/tmp/og-token-mint-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->keyfile, sizeof(f->keyfile), "%s/token.key", f->dir);
    fp = fopen(f->keyfile, "w");
    if (!fp || og_token_key_generate(fp) != 0)
        return -1;
    fclose(fp);
    fp = fopen(f->keyfile, "r");
    f->priv_len = fread(f->priv, 1, sizeof(f->priv) - 1, fp);
    fclose(fp);
    BIO *in = BIO_new_mem_buf(f->priv, (int)f->priv_len), *out = BIO_new(BIO_s_mem());
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    char *data;
    if (!pk || !PEM_write_bio_PUBKEY(out, pk))
        return -1;
    long n = BIO_get_mem_data(out, &data);
    if (n <= 0 || (size_t)n >= sizeof(f->pub))
        return -1;
    memcpy(f->pub, data, (size_t)n);
    f->pub_len = (size_t)n;
    EVP_PKEY_free(pk);
    BIO_free(in);
    BIO_free(out);
    snprintf(json, sizeof(json),
             "{\"realm\":\"reg\",\"token\":{\"challenge\":\"bearer\",\"realm\":\"http://127.0.0.1/t\","
             "\"service\":\"svc\",\"keyFile\":\"%s\",\"lifetimeSeconds\":60},"
             "\"accessControl\":{}}", f->keyfile);
    f->cfg = og_config_parse(json, strlen(json), "t.json", err, sizeof(err));
    if (!f->cfg || !(f->tokens = og_tokens_load(f->cfg, err, sizeof(err))))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    og_tokens_free(f->tokens);
    og_config_free(f->cfg);
    unlink(f->keyfile);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* part i (0 header, 1 claims) of tok, decoded and parsed */
static json_t *part(const char *tok, int i)
{
    const char *a = tok, *b;
    unsigned char buf[8192];

    for (int k = 0; k < i; k++)
        a = strchr(a, '.') + 1;
    b = strchr(a, '.');
    long n = og_base64_decode(a, (size_t)(b - a), buf, sizeof(buf), true);
    assert_true(n > 0);
    return json_loadb((const char *)buf, (size_t)n, 0, NULL);
}

/* The token libjwt 1.10 makes for the same claims, as the mint did before:
   its header and claims (the signature differs: ECDSA is randomised). */
static char *libjwt_token(struct fixture *f, json_t *claims, json_t *header)
{
    jwt_t *jwt = NULL;
    json_t *ext = json_pack("{s:O, s:O}", "access", json_object_get(claims, "access"), "ocigate",
                            json_object_get(claims, "ocigate"));
    char *ext_s = json_dumps(ext, JSON_COMPACT), *tok;

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_ES256, f->priv, (int)f->priv_len), 0);
    assert_int_equal(jwt_add_header(jwt, "kid", json_string_value(json_object_get(header, "kid"))), 0);
    static const char *const strs[] = { "iss", "aud", "sub", "jti" };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(jwt_add_grant(jwt, strs[i],
                                       json_string_value(json_object_get(claims, strs[i]))), 0);
    static const char *const ints[] = { "iat", "nbf", "exp" };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(jwt_add_grant_int(jwt, ints[i],
                                           (long)json_integer_value(json_object_get(claims, ints[i]))), 0);
    assert_int_equal(jwt_add_grants_json(jwt, ext_s), 0);
    tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    jwt_free(jwt);
    free(ext_s);
    json_decref(ext);
    return tok;
}

static void check_one(struct fixture *f, const struct og_identity *id, const char *key_id,
                      const char *access, json_t *oidc)
{
    char tok[8192];
    time_t now = time(NULL);
    long n = og_token_mint_claims(f->tokens, id, key_id, access, oidc, now, tok, sizeof(tok));

    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(tok));

    /* ocigate's verifier */
    struct og_identity got;
    struct og_identity_store store;
    const char *reason = NULL;
    assert_true(og_token_is_mine(f->tokens, tok, (size_t)n));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &got, &store, &reason), OG_ID_OK);
    assert_string_equal(got.user, id->user);
    assert_int_equal(got.auth, id->auth);
    assert_int_equal(got.ngroups, id->ngroups);
    for (size_t i = 0; i < id->ngroups; i++)
        assert_string_equal(got.groups[i], id->groups[i]);
    assert_int_equal(got.nscopes, id->nscopes);
    assert_true(got.token);

    /* libjwt, with the public key */
    jwt_t *j = NULL;
    assert_int_equal(jwt_decode(&j, tok, (const unsigned char *)f->pub, (int)f->pub_len), 0);
    assert_int_equal(jwt_get_alg(j), JWT_ALG_ES256);
    assert_string_equal(jwt_get_grant(j, "sub"), id->user);
    assert_string_equal(jwt_get_grant(j, "iss"), "reg");
    assert_string_equal(jwt_get_grant(j, "aud"), "svc");
    assert_int_equal(jwt_get_grant_int(j, "exp"), (long)now + 60);
    jwt_free(j);

    /* a wrong signature is refused by both */
    char bad[8192];
    memcpy(bad, tok, (size_t)n + 1);
    bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
    assert_int_not_equal(jwt_decode(&j, bad, (const unsigned char *)f->pub, (int)f->pub_len), 0);
    assert_int_not_equal(og_token_identify(f->tokens, bad, (size_t)n, &got, &store, &reason),
                         OG_ID_OK);

    /* header and claims: the bytes libjwt writes */
    json_t *header = part(tok, 0), *claims = part(tok, 1);
    assert_non_null(header);
    assert_non_null(claims);
    char *ref = libjwt_token(f, claims, header);
    const char *dot = strchr(strchr(tok, '.') + 1, '.');
    const char *rdot = strchr(strchr(ref, '.') + 1, '.');
    assert_int_equal(dot - tok, rdot - ref);
    assert_memory_equal(tok, ref, (size_t)(dot - tok));
    assert_int_equal(strlen(dot + 1), 86);      /* 64 bytes r||s, base64url */
    free(ref);
    json_decref(header);
    json_decref(claims);
}

static void test_same_as_libjwt(void **state)
{
    struct fixture *f = *state;
    const char *groups[] = { "admins", "dev", "ünïcode/grp" };
    char err[128];
    struct og_glob *scopes[2] = { og_glob_compile("team/**", 7, err, sizeof(err)),
                                  og_glob_compile("x/{a,b}", 7, err, sizeof(err)) };
    struct og_identity plain = { .user = "ci", .auth = OG_AUTH_HTPASSWD, .groups = groups,
                                 .ngroups = 3 };
    struct og_identity keyed = { .user = "alice", .auth = OG_AUTH_APIKEY, .groups = groups,
                                 .ngroups = 1, .scopes = (const struct og_glob *const *)scopes,
                                 .nscopes = 2 };
    struct og_identity oidc = { .user = "bob@example.org", .auth = OG_AUTH_OPENID };
    json_t *claims = json_pack("{s:[s,s], s:b, s:s, s:f}", "roles", "viewer", "prod-pusher",
                               "email_verified", 1, "name", "Zoë \"Z\" </script>", "score", 0.25);

    assert_non_null(scopes[0]);
    assert_non_null(scopes[1]);
    check_one(f, &plain, "", "[{\"type\":\"repository\",\"name\":\"a/b\",\"actions\":[\"pull\",\"push\"]}]",
              NULL);
    check_one(f, &keyed, "k_0123456789abcdef", "[{\"type\":\"registry\",\"name\":\"catalog\","
              "\"actions\":[\"*\"]},{\"type\":\"repository\",\"name\":\"team/x\",\"actions\":[\"pull\"]}]",
              NULL);
    check_one(f, &oidc, "", "[]", claims);
    check_one(f, &oidc, "", NULL, NULL);
    json_decref(claims);
    og_glob_free(scopes[0]);
    og_glob_free(scopes[1]);
}

/* Too small a buffer: no token, never a truncated one. */
static void test_small_buffer(void **state)
{
    struct fixture *f = *state;
    struct og_identity id = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    char tok[4096];
    long n = og_token_mint(f->tokens, &id, "", "[]", time(NULL), tok, sizeof(tok));

    assert_true(n > 0);
    for (size_t cap = 0; cap <= (size_t)n; cap += cap < 40 ? 1 : 37) {
        char small[4096];
        memset(small, 'x', sizeof(small));
        assert_int_equal(og_token_mint(f->tokens, &id, "", "[]", time(NULL), small, cap), -1);
        if (cap)
            assert_int_equal(small[0], '\0');
    }
    assert_int_equal(og_token_mint(f->tokens, &id, "", "[]", time(NULL), tok, (size_t)n + 1), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_as_libjwt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_buffer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
