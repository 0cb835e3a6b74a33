/*
 * test_token.c - ocigate's own tokens: mint, verify, and the libjwt 1.10
 * traps closed (HS256 with the public key as secret, alg none, foreign kid).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <jansson.h>

#include "base64.h"
#include "decide.h"
#include "glob.h"
#include "route.h"
#include "token.h"

struct fixture {
    char dir[64];
    char keyfile[128];
    struct og_config *cfg;
    struct og_tokens *tokens;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char json[512], err[512];
    FILE *fp;

    snprintf(f->dir, sizeof(f->dir), "/tmp/og-token-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->keyfile, sizeof(f->keyfile), "%s/token.key", f->dir);
    fp = fopen(f->keyfile, "w");
    if (!fp || og_token_key_generate(fp) != 0)
        return -1;
    fclose(fp);
    snprintf(json, sizeof(json),
             "{\"realm\":\"reg\",\"token\":{\"challenge\":\"bearer\",\"realm\":\"http://127.0.0.1/t\","
             "\"service\":\"svc\",\"keyFile\":\"%s\",\"lifetimeSeconds\":60},"
             "\"accessControl\":{}}", f->keyfile);
    f->cfg = og_config_parse(json, strlen(json), "t.json", err, sizeof(err));
    if (!f->cfg)
        return -1;
    f->tokens = og_tokens_load(f->cfg, err, sizeof(err));
    if (!f->tokens)
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

static long mint(struct fixture *f, const char *user, enum og_auth auth, time_t now, char *out,
                 size_t cap)
{
    const char *groups[] = { "admins", "dev" };
    struct og_identity id = { .user = user, .auth = auth, .groups = groups, .ngroups = 2 };
    return og_token_mint(f->tokens, &id, "key-1", "[{\"type\":\"repository\",\"name\":\"a\","
                         "\"actions\":[\"pull\"]}]", now, out, cap);
}

static void mint_and_verify(void **state)
{
    struct fixture *f = *state;
    char tok[4096];
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    long n = mint(f, "alice", OG_AUTH_OPENID, time(NULL), tok, sizeof(tok));

    assert_true(n > 0);
    assert_true(og_token_is_mine(f->tokens, tok, (size_t)n));
    memset(&id, 0, sizeof(id));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason), OG_ID_OK);
    assert_string_equal(id.user, "alice");
    assert_int_equal(id.auth, OG_AUTH_OPENID);
    assert_int_equal(id.ngroups, 2);
    assert_string_equal(id.groups[0], "admins");
    assert_string_equal(store.key_id, "key-1");
    /* the second time comes from the worker's cache, with the same identity */
    memset(&id, 0, sizeof(id));
    memset(&store, 0, sizeof(store));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason), OG_ID_OK);
    assert_string_equal(id.user, "alice");
    assert_int_equal(id.ngroups, 2);
    assert_string_equal(id.groups[1], "dev");
    assert_string_equal(store.key_id, "key-1");
}

/* An API key's repository scopes travel in its tokens (doc/decisions.md, deviation 5). */
static void key_scopes_survive_the_token(void **state)
{
    struct fixture *f = *state;
    char tok[4096], err[64];
    struct og_glob *scope = og_glob_compile("team-a/**", 9, err, sizeof(err));
    const struct og_glob *scopes[] = { scope };
    struct og_identity key = { .user = "ci", .auth = OG_AUTH_APIKEY, .scopes = scopes,
                               .nscopes = 1 };
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    long n = og_token_mint(f->tokens, &key, "k1", "[]", time(NULL), tok, sizeof(tok));

    assert_true(n > 0);
    memset(&id, 0, sizeof(id));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason), OG_ID_OK);
    assert_int_equal(id.auth, OG_AUTH_APIKEY);
    assert_int_equal(id.nscopes, 1);
    assert_true(og_glob_match(id.scopes[0], "team-a/x", 8));
    assert_false(og_glob_match(id.scopes[0], "team-b/x", 8));
    /* and from the cache */
    memset(&id, 0, sizeof(id));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason), OG_ID_OK);
    assert_int_equal(id.nscopes, 1);
    og_glob_free(scope);
}

static void anonymous_token_is_anonymous(void **state)
{
    struct fixture *f = *state;
    char tok[4096];
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    struct og_identity anon = { .user = NULL, .auth = OG_AUTH_ANONYMOUS };
    long n = og_token_mint(f->tokens, &anon, "", "[]", time(NULL), tok, sizeof(tok));

    assert_true(n > 0);
    memset(&id, 0, sizeof(id));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason), OG_ID_OK);
    assert_null(id.user);
    assert_int_equal(id.auth, OG_AUTH_ANONYMOUS);
    assert_int_equal(id.ngroups, 0);
}

static void expired_token_refused(void **state)
{
    struct fixture *f = *state;
    char tok[4096];
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    long n = mint(f, "alice", OG_AUTH_OPENID, time(NULL) - 120, tok, sizeof(tok));

    assert_true(n > 0);
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason),
                     OG_ID_BAD_CREDENTIALS);
}

static void tampered_payload_refused(void **state)
{
    struct fixture *f = *state;
    char tok[4096], forged[4096], payload[2048];
    unsigned char raw[2048];
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    long n = mint(f, "alice", OG_AUTH_OPENID, time(NULL), tok, sizeof(tok));
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    long plen = og_base64_decode(d1 + 1, (size_t)(d2 - d1 - 1), raw, sizeof(raw) - 1, true);
    char *p;

    assert_true(n > 0 && plen > 0);
    raw[plen] = 0;
    p = strstr((char *)raw, "alice");
    assert_non_null(p);
    memcpy(p, "admin", 5);                          /* same length, other user */
    og_base64_encode(raw, (size_t)plen, payload, sizeof(payload), true);
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(d1 - tok), tok, payload, d2);
    assert_int_equal(og_token_identify(f->tokens, forged, strlen(forged), &id, &store, &reason),
                     OG_ID_BAD_CREDENTIALS);
}

/* libjwt trap 1: a token whose header says HS256, "signed" with the public key as secret. */
static void hs256_with_public_key_refused(void **state)
{
    struct fixture *f = *state;
    char tok[4096], header[512], hb64[700], forged[8192], sig64[100];
    unsigned char mac[32];
    unsigned int maclen = 32;
    FILE *fp = fopen(f->keyfile, "r");
    EVP_PKEY *pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    BIO *b = BIO_new(BIO_s_mem());
    char *pub;
    long publen, n = mint(f, "alice", OG_AUTH_OPENID, time(NULL), tok, sizeof(tok));
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    char kid[64];

    fclose(fp);
    assert_true(n > 0 && pk && b);
    PEM_write_bio_PUBKEY(b, pk);
    publen = BIO_get_mem_data(b, &pub);
    /* the kid of the real token, so the header looks like ours */
    {
        unsigned char h[512];
        long hl = og_base64_decode(tok, (size_t)(d1 - tok), h, sizeof(h) - 1, true);
        char *k;
        h[hl] = 0;
        k = strstr((char *)h, "\"kid\":\"");
        assert_non_null(k);
        snprintf(kid, sizeof(kid), "%.16s", k + 7);
    }
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    og_base64_encode((unsigned char *)header, strlen(header), hb64, sizeof(hb64), true);
    snprintf(forged, sizeof(forged), "%s.%.*s", hb64, (int)(d2 - d1 - 1), d1 + 1);
    HMAC(EVP_sha256(), pub, (int)publen, (unsigned char *)forged, strlen(forged), mac, &maclen);
    og_base64_encode(mac, maclen, sig64, sizeof(sig64), true);
    strcat(forged, ".");
    strcat(forged, sig64);
    /* the trap is real: libjwt alone accepts this forgery... */
    {
        jwt_t *j = NULL;
        assert_int_equal(jwt_decode(&j, forged, (unsigned char *)pub, (int)publen), 0);
        jwt_free(j);
    }
    /* ...and ocigate refuses it */
    assert_int_equal(og_token_identify(f->tokens, forged, strlen(forged), &id, &store, &reason),
                     OG_ID_BAD_CREDENTIALS);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

/* libjwt trap 2: alg none with an empty signature. */
static void alg_none_refused(void **state)
{
    struct fixture *f = *state;
    char tok[4096], hb64[200], forged[8192];
    const char *header = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    long n = mint(f, "alice", OG_AUTH_OPENID, time(NULL), tok, sizeof(tok));
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";

    assert_true(n > 0);
    og_base64_encode((const unsigned char *)header, strlen(header), hb64, sizeof(hb64), true);
    snprintf(forged, sizeof(forged), "%s.%.*s.", hb64, (int)(d2 - d1 - 1), d1 + 1);
    assert_false(og_token_is_mine(f->tokens, forged, strlen(forged)));
    assert_int_equal(og_token_identify(f->tokens, forged, strlen(forged), &id, &store, &reason),
                     OG_ID_BAD_CREDENTIALS);
}

static void oversized_token_refused(void **state)
{
    struct fixture *f = *state;
    size_t len = 1 << 20;
    char *big = malloc(len + 1);
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";

    memset(big, 'a', len);
    big[10] = '.';
    big[20] = '.';
    big[len] = 0;
    assert_false(og_token_is_mine(f->tokens, big, len));
    assert_int_equal(og_token_identify(f->tokens, big, len, &id, &store, &reason),
                     OG_ID_BAD_CREDENTIALS);
    free(big);
}

/* ------------------------------------------------ the access list binds */

/* A token for user ci (policy: read and create everywhere) with ACCESS. */
static void token_with_access(struct fixture *f, const char *access, struct og_identity *id,
                              struct og_identity_store *store)
{
    static char tok[4096];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    const char *reason = "";
    long n = og_token_mint(f->tokens, &ci, "", access, time(NULL), tok, sizeof(tok));

    assert_true(n > 0);
    memset(id, 0, sizeof(*id));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, id, store, &reason), OG_ID_OK);
    assert_true(id->token);
}

static void decide_req(const struct og_config *cfg, const char *method, const char *uri,
                       const struct og_identity *id, struct og_decision *d)
{
    static struct og_route r;
    struct og_facts facts;

    memset(&facts, 0, sizeof(facts));
    og_route_classify(method, strlen(method), uri, strlen(uri), NULL, 0, &r);
    og_decide(cfg, &r, id, NULL, d);
    if (d->need == OG_NEED_TAG_STATE) {         /* a new tag */
        for (size_t i = 0; i < OG_MAX_TAGS; i++)
            facts.tag[i] = OG_TAG_ABSENT;
        og_decide(cfg, &r, id, &facts, d);
    }
}

static struct og_config *policy_config(void)
{
    static const char json[] =
        "{\"accessControl\":{\"repositories\":{\"**\":{"
        "\"defaultPolicy\":[\"read\",\"create\",\"update\"]}},"
        "\"adminPolicy\":{\"users\":[\"root\"],\"actions\":[\"read\",\"create\",\"update\","
        "\"delete\"]}}}";
    char err[256];
    struct og_config *cfg = og_config_parse(json, sizeof(json) - 1, "p.json", err, sizeof(err));
    assert_non_null(cfg);
    return cfg;
}

/* Issue 8: a token minted for repository:other:pull pushed to demo/app. */
static void token_for_other_cannot_push_elsewhere(void **state)
{
    struct fixture *f = *state;
    struct og_config *cfg = policy_config();
    struct og_identity id;
    struct og_identity_store store;
    struct og_decision d;

    token_with_access(f, "[{\"type\":\"repository\",\"name\":\"other\",\"actions\":[\"pull\"]}]",
                      &id, &store);
    /* the policy would let ci push demo/app; the token does not */
    decide_req(cfg, "POST", "/v2/demo/app/blobs/uploads/", &id, &d);
    assert_int_equal(d.status, 401);
    assert_true(d.insufficient_scope);
    assert_string_equal(d.scope_type, "repository");
    assert_string_equal(d.scope_name, "demo/app");
    assert_string_equal(d.scope_actions, "pull,push");
    decide_req(cfg, "PUT", "/v2/demo/app/manifests/v1", &id, &d);
    assert_int_equal(d.status, 401);
    assert_true(d.insufficient_scope);
    decide_req(cfg, "GET", "/v2/demo/app/manifests/v1", &id, &d);
    assert_int_equal(d.status, 401);
    assert_string_equal(d.scope_actions, "pull");
    /* nor push to other: pull only */
    decide_req(cfg, "PUT", "/v2/other/manifests/v1", &id, &d);
    assert_int_equal(d.status, 401);
    /* what it grants still works */
    decide_req(cfg, "GET", "/v2/other/manifests/v1", &id, &d);
    assert_int_equal(d.status, 200);
    decide_req(cfg, "GET", "/v2/other/tags/list", &id, &d);
    assert_int_equal(d.status, 200);
    /* the ping needs no scope */
    decide_req(cfg, "GET", "/v2/", &id, &d);
    assert_int_equal(d.status, 200);
    /* nor the catalog without registry:catalog:* */
    decide_req(cfg, "GET", "/v2/_catalog", &id, &d);
    assert_int_equal(d.status, 401);
    assert_string_equal(d.scope_type, "registry");
    og_config_free(cfg);
}

/* push is create and update; delete and "*" as in the token protocol; the
   live policy still decides (ci has no delete). */
static void token_actions_map_to_policy_actions(void **state)
{
    struct fixture *f = *state;
    struct og_config *cfg = policy_config();
    struct og_identity id;
    struct og_identity_store store;
    struct og_decision d;

    token_with_access(f, "[{\"type\":\"repository\",\"name\":\"demo/app\","
                         "\"actions\":[\"pull\",\"push\"]}]", &id, &store);
    decide_req(cfg, "PUT", "/v2/demo/app/manifests/v1", &id, &d);
    assert_int_equal(d.status, 200);
    decide_req(cfg, "POST", "/v2/demo/app/blobs/uploads/", &id, &d);
    assert_int_equal(d.status, 200);
    /* a mount needs pull on the source too */
    decide_req(cfg, "POST", "/v2/demo/app/blobs/uploads/?mount=sha256:"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&from=other",
               &id, &d);
    assert_int_equal(d.status, 401);
    assert_true(d.insufficient_scope);
    assert_string_equal(d.scope_name, "other");
    assert_string_equal(d.scope_actions, "pull");
    /* the policy denies delete to ci: 403, a new token would not help */
    token_with_access(f, "[{\"type\":\"repository\",\"name\":\"demo/app\",\"actions\":[\"*\"]}]",
                      &id, &store);
    decide_req(cfg, "DELETE", "/v2/demo/app/manifests/v1", &id, &d);
    assert_int_equal(d.status, 403);
    assert_false(d.insufficient_scope);
    decide_req(cfg, "PUT", "/v2/demo/app/manifests/v1", &id, &d);
    assert_int_equal(d.status, 200);
    /* an empty list: nothing but the ping */
    token_with_access(f, "[]", &id, &store);
    decide_req(cfg, "GET", "/v2/demo/app/manifests/v1", &id, &d);
    assert_int_equal(d.status, 401);
    decide_req(cfg, "GET", "/v2/", &id, &d);
    assert_int_equal(d.status, 200);
    /* a catalog grant lists the catalog */
    token_with_access(f, "[{\"type\":\"registry\",\"name\":\"catalog\",\"actions\":[\"*\"]}]",
                      &id, &store);
    decide_req(cfg, "GET", "/v2/_catalog", &id, &d);
    assert_int_equal(d.status, 200);
    og_config_free(cfg);
}

/* The access list is signed with the rest: a malformed one refuses the token. */
static void malformed_access_refused(void **state)
{
    struct fixture *f = *state;
    char tok[4096];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD }, id;
    struct og_identity_store store;
    const char *reason = "";
    long n = og_token_mint(f->tokens, &ci, "", "[{\"type\":\"repository\",\"name\":\"a\","
                           "\"actions\":\"pull\"}]", time(NULL), tok, sizeof(tok));

    assert_true(n > 0);
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason),
                     OG_ID_BAD_CREDENTIALS);
}


/* An OpenID identity's verified claims travel in its token (conditions read
   req.claims on requests that present ocigate's token), fresh and cached;
   more than 3 KiB of claims are left out; a token without them says NULL. */
static void oidc_claims_travel_in_the_token(void **state)
{
    struct fixture *f = *state;
    char tok[8192], big[4000];
    const char *groups[] = { "artifact-workloads" };
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_OPENID, .groups = groups,
                              .ngroups = 1 };
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    json_t *claims = json_pack("{s:s,s:s,s:[s]}", "repository", "eblume/blumeops",
                               "ref", "refs/heads/main", "roles", "prod-pusher");
    long n = og_token_mint_claims(f->tokens, &ci, "", "[]", claims, time(NULL), tok, sizeof tok);

    assert_true(n > 0);
    for (int i = 0; i < 2; i++) {      /* fresh, then from the worker's cache */
        memset(&id, 0, sizeof(id));
        memset(&store, 0, sizeof(store));
        assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason),
                         OG_ID_OK);
        assert_string_equal(id.user, "ci");
        assert_non_null(store.claims);
        assert_string_equal(json_string_value(json_object_get((json_t *)store.claims, "ref")),
                            "refs/heads/main");
    }
    /* too many claims: left out, the token is still minted */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(claims, "big", json_string(big));
    n = og_token_mint_claims(f->tokens, &ci, "", "[]", claims, time(NULL), tok, sizeof tok);
    assert_true(n > 0 && n < 4096);
    memset(&store, 0, sizeof(store));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason), OG_ID_OK);
    assert_null(store.claims);
    json_decref(claims);
    /* og_token_mint carries none */
    n = mint(f, "alice", OG_AUTH_OPENID, time(NULL), tok, sizeof(tok));
    memset(&store, 0, sizeof(store));
    assert_int_equal(og_token_identify(f->tokens, tok, (size_t)n, &id, &store, &reason), OG_ID_OK);
    assert_null(store.claims);
}

/* ------------------------------------- hand-made ES256 tokens (verification) */

/* The kid in a token minted by f. */
static void kid_of(struct fixture *f, char kid[17])
{
    char tok[4096], *k;
    unsigned char h[512];
    long n = mint(f, "alice", OG_AUTH_OPENID, time(NULL), tok, sizeof(tok));
    long hl = og_base64_decode(tok, (size_t)(strchr(tok, '.') - tok), h, sizeof(h) - 1, true);

    assert_true(n > 0 && hl > 0);
    h[hl] = 0;
    k = strstr((char *)h, "\"kid\":\"");
    assert_non_null(k);
    snprintf(kid, 17, "%.16s", k + 7);
}

/* HEADER.PAYLOAD signed ES256 by pk into out; der: the signature as DER
   instead of JWS r||s; cut: bytes dropped from the end of r||s. */
static void es256(EVP_PKEY *pk, const char *header, const char *payload, bool der, int cut,
                  char *out, size_t cap)
{
    char hb[1024], pb[4096], sb[200];
    unsigned char sig[128], rs[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    const unsigned char *p = sig;
    ECDSA_SIG *es;

    og_base64_encode((const unsigned char *)header, strlen(header), hb, sizeof(hb), true);
    og_base64_encode((const unsigned char *)payload, strlen(payload), pb, sizeof(pb), true);
    snprintf(out, cap, "%s.%s", hb, pb);
    assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_equal(EVP_DigestSign(m, sig, &siglen, (unsigned char *)out, strlen(out)), 1);
    EVP_MD_CTX_free(m);
    if (der) {
        og_base64_encode(sig, siglen, sb, sizeof(sb), true);
    } else {
        es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
        assert_non_null(es);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
        ECDSA_SIG_free(es);
        og_base64_encode(rs, 64 - (size_t)cut, sb, sizeof(sb), true);
    }
    strncat(out, ".", cap - strlen(out) - 1);
    strncat(out, sb, cap - strlen(out) - 1);
}

static EVP_PKEY *our_key(struct fixture *f)
{
    FILE *fp = fopen(f->keyfile, "r");
    EVP_PKEY *pk = fp ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) : NULL;
    if (fp)
        fclose(fp);
    assert_non_null(pk);
    return pk;
}

static enum og_identify_result identify_str(struct fixture *f, const char *tok)
{
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    memset(&id, 0, sizeof(id));
    return og_token_identify(f->tokens, tok, strlen(tok), &id, &store, &reason);
}

/* Every check of a token verified with libcrypto: the signature (our key
   only, JWS r||s of 64 bytes only), the header, the payload's shape, exp,
   nbf, iss and aud. The first token shows the hand-made ones are right. */
static void hand_made_tokens_checked_claim_by_claim(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *ours = our_key(f), *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char kid[17], header[256], tok[8192], payload[1024];
    long now = (long)time(NULL);
    const char *ext = "\"ocigate\":{\"auth\":\"htpasswd\",\"groups\":[\"dev\"]}";
    /* iss, aud, a duplicate sub, exp (a format of now + exp_in), nbf_in, identity */
    struct { const char *iss, *aud, *dup, *exp_q; long exp_in, nbf_in; bool ext; } bad[] = {
        { "other", "svc", "", "", 600, 0, true },           /* wrong issuer */
        { "reg", "other", "", "", 600, 0, true },           /* wrong audience */
        { "reg", "svc", "", "", -1, 0, true },              /* expired */
        { "reg", "svc", "", "\"", 600, 0, true },           /* exp as a string */
        { "reg", "svc", "", "", 600, 300, true },           /* not yet valid */
        { "reg", "svc", ",\"sub\":\"admin\"", "", 600, 0, true },  /* a duplicate name */
        { "reg", "svc", "", "", 600, 0, false },            /* no identity */
    };

    assert_non_null(other);
    kid_of(f, kid);
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"reg\",\"aud\":\"svc\",\"sub\":\"bob\",\"exp\":%ld,\"nbf\":%ld,%s}",
             now + 600, now, ext);
    es256(ours, header, payload, false, 0, tok, sizeof(tok));
    assert_int_equal(identify_str(f, tok), OG_ID_OK);
    assert_true(og_token_is_mine(f->tokens, tok, strlen(tok)));
    /* the same header in another order: still ours (recognised by parsing) */
    {
        char reordered[256], tok2[8192];
        snprintf(reordered, sizeof(reordered), "{\"typ\":\"JWT\",\"kid\":\"%s\",\"alg\":\"ES256\"}",
                 kid);
        es256(ours, reordered, payload, false, 0, tok2, sizeof(tok2));
        assert_true(og_token_is_mine(f->tokens, tok2, strlen(tok2)));
        assert_int_equal(identify_str(f, tok2), OG_ID_OK);
        /* another kid: not ours */
        snprintf(reordered, sizeof(reordered), "{\"alg\":\"ES256\",\"kid\":\"0000000000000000\"}");
        es256(ours, reordered, payload, false, 0, tok2, sizeof(tok2));
        assert_false(og_token_is_mine(f->tokens, tok2, strlen(tok2)));
        assert_int_equal(identify_str(f, tok2), OG_ID_BAD_CREDENTIALS);
    }

    /* another P-256 key claiming our kid */
    es256(other, header, payload, false, 0, tok, sizeof(tok));
    assert_int_equal(identify_str(f, tok), OG_ID_BAD_CREDENTIALS);
    /* our key, but a DER signature, a short one, or a fourth part */
    es256(ours, header, payload, true, 0, tok, sizeof(tok));
    assert_int_equal(identify_str(f, tok), OG_ID_BAD_CREDENTIALS);
    es256(ours, header, payload, false, 1, tok, sizeof(tok));
    assert_int_equal(identify_str(f, tok), OG_ID_BAD_CREDENTIALS);
    es256(ours, header, payload, false, 0, tok, sizeof(tok));
    strcat(tok, ".AAAA");
    assert_int_equal(identify_str(f, tok), OG_ID_BAD_CREDENTIALS);
    /* a header of another type or algorithm, signed by our key */
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}", kid);
    es256(ours, header, payload, false, 0, tok, sizeof(tok));
    assert_int_equal(identify_str(f, tok), OG_ID_BAD_CREDENTIALS);
    snprintf(header, sizeof(header), "{\"alg\":\"ES384\",\"kid\":\"%s\"}", kid);
    es256(ours, header, payload, false, 0, tok, sizeof(tok));
    assert_int_equal(identify_str(f, tok), OG_ID_BAD_CREDENTIALS);
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    /* a payload that is not an object */
    es256(ours, header, "[1,2]", false, 0, tok, sizeof(tok));
    assert_int_equal(identify_str(f, tok), OG_ID_BAD_CREDENTIALS);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(payload, sizeof(payload),
                 "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"bob\"%s,\"exp\":%s%ld%s,\"nbf\":%ld%s%s}",
                 bad[i].iss, bad[i].aud, bad[i].dup, bad[i].exp_q, now + bad[i].exp_in,
                 bad[i].exp_q, now + bad[i].nbf_in, bad[i].ext ? "," : "", bad[i].ext ? ext : "");
        es256(ours, header, payload, false, 0, tok, sizeof(tok));
        if (identify_str(f, tok) != OG_ID_BAD_CREDENTIALS)
            fail_msg("accepted: %s", payload);
    }
    EVP_PKEY_free(ours);
    EVP_PKEY_free(other);
}

/* The per-worker cache keeps many tokens in turn: 100 tokens (256 slots), each
   used again after all the others, are verified once each (a few more at most
   where many share a neighbourhood: a cache of one slot per hash verified
   about 60 of them again). */
static void many_tokens_stay_cached(void **state)
{
    struct fixture *f = *state;
    static char tok[100][2048];
    long len[100];
    unsigned long before;

    for (int i = 0; i < 100; i++) {
        char user[16];
        snprintf(user, sizeof(user), "user%d", i);
        len[i] = mint(f, user, OG_AUTH_HTPASSWD, time(NULL), tok[i], sizeof(tok[i]));
        assert_true(len[i] > 0);
    }
    before = og_token_sig_checks(f->tokens);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 100; i++) {
            struct og_identity id;
            struct og_identity_store store;
            const char *reason = "";
            memset(&id, 0, sizeof(id));
            assert_int_equal(og_token_identify(f->tokens, tok[i], (size_t)len[i], &id, &store,
                                               &reason), OG_ID_OK);
        }
    assert_true(og_token_sig_checks(f->tokens) - before >= 100);
    assert_true(og_token_sig_checks(f->tokens) - before <= 104);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mint_and_verify),
        cmocka_unit_test(key_scopes_survive_the_token),
        cmocka_unit_test(anonymous_token_is_anonymous),
        cmocka_unit_test(expired_token_refused),
        cmocka_unit_test(tampered_payload_refused),
        cmocka_unit_test(hs256_with_public_key_refused),
        cmocka_unit_test(alg_none_refused),
        cmocka_unit_test(oversized_token_refused),
        cmocka_unit_test(token_for_other_cannot_push_elsewhere),
        cmocka_unit_test(token_actions_map_to_policy_actions),
        cmocka_unit_test(malformed_access_refused),
        cmocka_unit_test(oidc_claims_travel_in_the_token),
        cmocka_unit_test(hand_made_tokens_checked_claim_by_claim),
        cmocka_unit_test(many_tokens_stay_cached),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
