/*
 * token.c - ocigate's own registry tokens: mint, recognise, verify.
 *
 * The token endpoint hands these out (doc/http.md); clients present them as
 * "Bearer" on every registry request. They are ES256 JWTs signed with the
 * EC P-256 key in token.keyFile. They are made and checked here with
 * libcrypto directly, with the key parsed once at start (libjwt, which made
 * them before, parsed its PEM key again for every token, about 1-2 ms). A
 * token is written as libjwt 1.10 wrote it: the header {"alg","kid","typ"}
 * and the claims as compact JSON with sorted keys, base64url without
 * padding, the signature as JOSE r||s (tests/unit/test_token_mint.c checks
 * both against libjwt). Checking:
 *   - the algorithm is bound to the key: the header must say alg ES256 and
 *     our key id (typ, if present, "JWT"), else the token is refused before
 *     its signature is looked at; the signature is then checked as ES256
 *     (SHA-256, a 64-byte r||s) whatever else the header says, so no alg
 *     "none" nor HS256-with-our-public-key can pass;
 *   - the payload must be one JSON object (duplicate names refused);
 *   - exp, nbf, iss and aud are checked here, then the access list and the
 *     identity it carries.
 */
#include "token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base64.h"
#include "decide.h"
#include "digest.h"
#include "glob.h"
#include "hex.h"

#define TOKEN_MAX       8192
#define HEADER_MAX      512
#define CACHE_SLOTS     256
#define CACHE_PROBE     16      /* slots a token may take from its home */
#define MAX_SCOPES      32
#define MAX_ACCESS      16      /* the token endpoint grants at most 16 scopes */
#define CLAIMS_MAX      3072    /* OpenID claims carried in a token (JSON bytes): more are
                                   left out (conditions reading them then deny) */

/* A verified token, remembered until it expires: docker and podman present
   the same token on every request of a pull or push. */
struct verified {
    unsigned long used;           /* og_tokens.tick when last looked up or stored */
    unsigned char hash[32];       /* SHA-256 of the token */
    time_t exp;                   /* 0: empty slot */
    enum og_auth auth;
    char user[OG_USER_MAX + 1];
    char key_id[64];
    char group_buf[2048];
    size_t ngroups;
    struct og_glob *scopes[MAX_SCOPES];   /* an API key's repository scopes, compiled */
    size_t nscopes;
    /* the token's "access" list: what it permits at most */
    char access_names[MAX_ACCESS][OG_REPO_MAX + 1];
    struct og_token_access access[MAX_ACCESS];
    size_t naccess;
    json_t *claims;               /* the OpenID claims it carries (conditions' req.claims) */
};

struct og_tokens {
    EVP_PKEY *key;            /* parsed once: what tokens are signed and checked with */
    EVP_PKEY_CTX *verify;     /* made once from key */
    EVP_PKEY_CTX *sign;       /* made once from key */
    char mint_header64[HEADER_MAX]; /* base64url of the header every minted token has */
    size_t mint_header64_len;
    char header64[HEADER_MAX];  /* the header part of the first token verified: a
                                   token that starts with it is ours without parsing
                                   JSON (every request with a token asks, twice) */
    size_t header64_len;        /* 0: none yet */
    char kid[17];             /* first 16 hex of SHA-256(SubjectPublicKeyInfo) */
    char *issuer;             /* cfg->realm */
    char *audience;           /* cfg->token_service */
    int lifetime_s;
    struct verified cache[CACHE_SLOTS];   /* per worker after fork */
    unsigned long tick;
    unsigned long sig_checks;
    json_t *held;             /* the claims of the last token identified (a reference):
                                 what og_identity_store.claims points to */
};

/* ----------------------------------------------------------- key handling */

static bool is_p256(EVP_PKEY *pk)
{
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC)
        return false;
    if (!EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen))
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

static bool compute_kid(EVP_PKEY *pk, char kid[17])
{
    unsigned char *der = NULL, md[OG_SHA256_LEN];
    int n = i2d_PUBKEY(pk, &der);
    bool ok;

    if (n <= 0)
        return false;
    ok = og_sha256(der, (size_t)n, md);
    OPENSSL_free(der);
    if (ok)
        og_hex_encode(md, 8, kid);
    return ok;
}

static void free_scopes(struct verified *v)
{
    for (size_t i = 0; i < v->nscopes; i++)
        og_glob_free(v->scopes[i]);
    v->nscopes = 0;
    json_decref(v->claims);
    v->claims = NULL;
}

void og_tokens_free(struct og_tokens *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free_scopes(&t->cache[i]);
    json_decref(t->held);
    EVP_PKEY_CTX_free(t->verify);
    EVP_PKEY_CTX_free(t->sign);
    EVP_PKEY_free(t->key);
    free(t->issuer);
    free(t->audience);
    free(t);
}

struct og_tokens *og_tokens_load(const struct og_config *cfg, char *err, size_t errlen)
{
    struct og_tokens *t = NULL;
    EVP_PKEY *pk = NULL;
    BIO *in = NULL;
    json_t *header = NULL;
    char *header_s = NULL;
    long h64;

    if (errlen)
        err[0] = '\0';
    if (!cfg->token_key_file)
        return NULL;
    in = BIO_new_file(cfg->token_key_file, "r");
    if (!in) {
        snprintf(err, errlen, "%s: token.keyFile: cannot open: %s", cfg->token_key_file,
                 strerror(errno));
        goto fail;
    }
    pk = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    if (!pk || !is_p256(pk)) {
        snprintf(err, errlen, "%s: token.keyFile: not a PEM EC P-256 private key "
                 "(make one with `ocigate token-key generate`)", cfg->token_key_file);
        goto fail;
    }
    t = calloc(1, sizeof(*t));
    if (!t || !compute_kid(pk, t->kid))
        goto oom;
    t->key = pk;
    pk = NULL;                          /* owned by t now */
    t->verify = EVP_PKEY_CTX_new_from_pkey(NULL, t->key, NULL);
    t->sign = EVP_PKEY_CTX_new_from_pkey(NULL, t->key, NULL);
    /* every token's header, as libjwt wrote it: sorted keys, compact */
    header = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "kid", t->kid, "typ", "JWT");
    header_s = header ? json_dumps(header, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    h64 = header_s ? og_base64_encode((const unsigned char *)header_s, strlen(header_s),
                                      t->mint_header64, sizeof(t->mint_header64), true) : -1;
    if (h64 <= 0)
        goto oom;
    t->mint_header64_len = (size_t)h64;
    t->issuer = strdup(cfg->realm ? cfg->realm : "ocigate");
    t->audience = strdup(cfg->token_service ? cfg->token_service
                                            : (cfg->realm ? cfg->realm : "ocigate"));
    t->lifetime_s = cfg->token_lifetime_s > 0 ? cfg->token_lifetime_s : 300;
    if (!t->key || !t->verify || !t->sign || !t->issuer || !t->audience)
        goto oom;
    BIO_free(in);
    free(header_s);
    json_decref(header);
    return t;
oom:
    snprintf(err, errlen, "%s: token.keyFile: cannot prepare the key", cfg->token_key_file);
fail:
    free(header_s);
    json_decref(header);
    BIO_free(in);
    EVP_PKEY_free(pk);
    og_tokens_free(t);
    return NULL;
}

int og_token_key_generate(FILE *f)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    int ok;
    struct stat st;

    if (!pk)
        return -1;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        fchmod(fileno(f), 0600);        /* a key file is never world-readable */
    ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    EVP_PKEY_free(pk);
    return ok && fflush(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------ header inspection */

/* Decode and parse the JWT header (bounded); NULL when malformed. */
static json_t *parse_header(const char *tok, size_t len)
{
    unsigned char buf[HEADER_MAX];
    const char *dot = memchr(tok, '.', len);
    long n;

    if (!dot || (size_t)(dot - tok) > (HEADER_MAX * 4) / 3)
        return NULL;
    n = og_base64_decode(tok, (size_t)(dot - tok), buf, sizeof(buf), true);
    if (n <= 0)
        return NULL;
    return json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
}

/* Can the header of tok name kid at all? False when its decoded bytes hold
   neither kid's bytes nor a JSON escape that could spell them. */
static bool header_may_name(const char *tok, size_t len, const char *kid)
{
    unsigned char buf[HEADER_MAX];
    const char *dot = memchr(tok, '.', len);
    size_t klen = strlen(kid);
    long n;

    if (!dot || (size_t)(dot - tok) > (HEADER_MAX * 4) / 3)
        return false;                 /* parse_header refuses it too */
    n = og_base64_decode(tok, (size_t)(dot - tok), buf, sizeof(buf), true);
    if (n <= 0)
        return false;
    return klen == 0 || memchr(buf, '\\', (size_t)n) ||
           memmem(buf, (size_t)n, kid, klen) != NULL;
}

static bool header_is_ours(const struct og_tokens *t, json_t *h)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = json_string_value(json_object_get(h, "kid"));
    const char *typ = json_string_value(json_object_get(h, "typ"));
    json_t *typv = json_object_get(h, "typ");

    if (!alg || strcmp(alg, "ES256") != 0)
        return false;
    if (!kid || strcmp(kid, t->kid) != 0)
        return false;
    if (typv && (!typ || strcmp(typ, "JWT") != 0))
        return false;
    return true;
}

bool og_token_is_mine(const struct og_tokens *t, const char *tok, size_t len)
{
    json_t *h;
    const char *kid;
    bool mine;

    if (!t || len > TOKEN_MAX)
        return false;
    if (t->header64_len && len > t->header64_len && tok[t->header64_len] == '.' &&
        memcmp(tok, t->header64, t->header64_len) == 0)
        return true;
    if (!header_may_name(tok, len, t->kid))   /* an OpenID JWT, say: no JSON parse */
        return false;
    h = parse_header(tok, len);
    if (!h)
        return false;
    kid = json_string_value(json_object_get(h, "kid"));
    mine = kid && strcmp(kid, t->kid) == 0;
    json_decref(h);
    return mine;
}

/* ------------------------------------------------------------ verification */

static enum og_identify_result refuse(const char **reason, const char *why)
{
    *reason = why;
    return OG_ID_BAD_CREDENTIALS;
}

static bool copy_groups(json_t *groups, struct og_identity *id, struct og_identity_store *store)
{
    size_t i, used = 0;
    json_t *g;

    id->ngroups = 0;
    if (!groups)
        return true;
    if (!json_is_array(groups))
        return false;
    json_array_foreach(groups, i, g) {
        const char *s = json_string_value(g);
        size_t n;
        if (!s || id->ngroups == OG_ID_MAX_GROUPS)
            return false;
        n = strlen(s) + 1;
        if (used + n > sizeof(store->group_buf))
            return false;
        memcpy(store->group_buf + used, s, n);
        store->group_ptrs[id->ngroups++] = store->group_buf + used;
        used += n;
    }
    id->groups = store->group_ptrs;
    return true;
}

static enum og_auth auth_from_name(const char *s)
{
    if (s && strcmp(s, "htpasswd") == 0) return OG_AUTH_HTPASSWD;
    if (s && strcmp(s, "apikey") == 0) return OG_AUTH_APIKEY;
    if (s && strcmp(s, "openid") == 0) return OG_AUTH_OPENID;
    return OG_AUTH_ANONYMOUS;
}

/* A token's slot: one of CACHE_PROBE from its home; the one that holds it,
   else an empty or expired one, else the one used longest ago. */
static struct verified *cache_slot(struct og_tokens *t, const unsigned char hash[32])
{
    size_t home = (hash[0] | (size_t)hash[1] << 8) % CACHE_SLOTS;
    time_t now = time(NULL);
    struct verified *victim = NULL;

    for (size_t i = 0; i < CACHE_PROBE; i++) {
        struct verified *v = &t->cache[(home + i) % CACHE_SLOTS];
        if (v->exp != 0 && CRYPTO_memcmp(v->hash, hash, 32) == 0)
            return v;
    }
    for (size_t i = 0; i < CACHE_PROBE; i++) {
        struct verified *v = &t->cache[(home + i) % CACHE_SLOTS];
        if (v->exp <= now)
            return v;
        if (!victim || v->used < victim->used)
            victim = v;
    }
    return victim;
}

static bool cache_lookup(struct og_tokens *t, const unsigned char hash[32], time_t now,
                         struct og_identity *id, struct og_identity_store *store)
{
    struct verified *v = cache_slot(t, hash);
    size_t off = 0;

    if (v->exp <= now || CRYPTO_memcmp(v->hash, hash, 32) != 0)
        return false;
    v->used = ++t->tick;
    memcpy(store->group_buf, v->group_buf, sizeof(store->group_buf));
    for (size_t i = 0; i < v->ngroups; i++) {
        store->group_ptrs[i] = store->group_buf + off;
        off += strlen(store->group_buf + off) + 1;
    }
    id->groups = store->group_ptrs;
    id->ngroups = v->ngroups;
    id->scopes = (const struct og_glob *const *)v->scopes;
    id->nscopes = v->nscopes;
    id->token = true;
    id->access = v->access;
    id->naccess = v->naccess;
    id->auth = v->auth;
    json_decref(t->held);                /* held until this worker's next token */
    t->held = json_incref(v->claims);
    store->claims = t->held;
    snprintf(store->key_id, sizeof(store->key_id), "%s", v->key_id);
    if (v->user[0]) {
        snprintf(store->user, sizeof(store->user), "%s", v->user);
        id->user = store->user;
    } else {
        id->user = NULL;
    }
    return true;
}

/* One action of an access entry -> OG_ACT_* (0: none we know). */
static unsigned access_action(const char *a)
{
    if (strcmp(a, "pull") == 0)
        return OG_ACT_READ;
    if (strcmp(a, "push") == 0)
        return OG_ACT_CREATE | OG_ACT_UPDATE;
    if (strcmp(a, "delete") == 0)
        return OG_ACT_DELETE;
    if (strcmp(a, "*") == 0)
        return OG_ACT_READ | OG_ACT_CREATE | OG_ACT_UPDATE | OG_ACT_DELETE |
               OG_ACT_DETECT_MANIFEST_COLLISION;
    return 0;
}

/*
 * The token's "access" claim ([{"type","name","actions"}], the registry token
 * protocol's shape) into v. A missing claim is an empty list: the token then
 * permits nothing but the ping. Entries of other types and unknown actions
 * grant nothing. false: malformed (the token is refused).
 */
/* a: the token's "access" claim (borrowed); NULL: none. */
static bool parse_access(json_t *a, struct verified *v)
{
    json_t *e;
    size_t i;
    bool ok = false;

    v->naccess = 0;
    if (!a) {
        ok = true;
        goto out;
    }
    if (!json_is_array(a) || json_array_size(a) > MAX_ACCESS)
        goto out;
    json_array_foreach(a, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *name = json_string_value(json_object_get(e, "name"));
        json_t *actions = json_object_get(e, "actions"), *act;
        struct og_token_access *ta = &v->access[v->naccess];
        size_t j, nlen;
        unsigned mask = 0;

        if (!type || !name || !json_is_array(actions))
            goto out;
        nlen = strlen(name);
        if (nlen == 0 || nlen > OG_REPO_MAX)
            goto out;
        json_array_foreach(actions, j, act) {
            if (!json_is_string(act))
                goto out;
            mask |= access_action(json_string_value(act));
        }
        if (strcmp(type, "registry") == 0 && strcmp(name, "catalog") == 0) {
            if (!(mask & OG_ACT_READ))
                continue;
            memset(ta, 0, sizeof(*ta));
            ta->catalog = true;
        } else if (strcmp(type, "repository") == 0) {
            if (!mask)
                continue;
            memcpy(v->access_names[v->naccess], name, nlen + 1);
            ta->name = v->access_names[v->naccess];
            ta->name_len = nlen;
            ta->catalog = false;
            ta->actions = mask;
        } else {
            continue;
        }
        v->naccess++;
    }
    ok = true;
out:
    if (!ok)
        v->naccess = 0;
    return ok;
}

/* Remember a verified token; takes ownership of the compiled scopes. The
   access list was parsed into the slot already (parse_access). */
static void cache_store(struct og_tokens *t, const unsigned char hash[32], time_t exp,
                        const struct og_identity *id, const struct og_identity_store *store,
                        struct og_glob **scopes, size_t nscopes)
{
    struct verified *v = cache_slot(t, hash);
    free_scopes(v);
    v->used = ++t->tick;
    memcpy(v->scopes, scopes, nscopes * sizeof(*scopes));
    v->nscopes = nscopes;
    memcpy(v->hash, hash, 32);
    v->exp = exp;
    v->auth = id->auth;
    snprintf(v->user, sizeof(v->user), "%s", id->user ? id->user : "");
    snprintf(v->key_id, sizeof(v->key_id), "%s", store->key_id);
    memcpy(v->group_buf, store->group_buf, sizeof(v->group_buf));
    v->ngroups = id->ngroups;
}

/* The ES256 signature of header.payload under t's key, then the payload as one
   JSON object (a new reference); NULL when either is not right. The header was
   checked (alg ES256, our kid) by the caller. */
static json_t *verified_payload(struct og_tokens *t, const char *tok, size_t len)
{
    const char *d1 = memchr(tok, '.', len), *d2;
    unsigned char sig[80], md[OG_SHA256_LEN], *der = NULL, *body = NULL;
    json_t *payload = NULL;
    int derlen = 0;
    long n;

    if (!d1 || !(d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)))
        return NULL;
    t->sig_checks++;
    n = og_base64_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig, sizeof(sig), true);
    if (n != 64 || !(der = og_ecdsa_jws_to_der(sig, 32, &derlen)))
        goto out;
    if (!og_sha256(tok, (size_t)(d2 - tok), md) || EVP_PKEY_verify_init(t->verify) != 1 ||
        EVP_PKEY_verify(t->verify, der, (size_t)derlen, md, sizeof(md)) != 1)
        goto out;
    body = malloc(len);
    if (!body)
        goto out;
    n = og_base64_decode(d1 + 1, (size_t)(d2 - d1 - 1), body, len, true);
    if (n > 0)
        payload = json_loadb((const char *)body, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (payload && !json_is_object(payload)) {
        json_decref(payload);
        payload = NULL;
    }
out:
    free(body);
    OPENSSL_free(der);
    return payload;
}

/* An integer claim; 0 when absent or not an integer. */
static long int_claim(json_t *payload, const char *name)
{
    json_t *v = json_object_get(payload, name);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

enum og_identify_result og_token_identify(struct og_tokens *t, const char *tok, size_t len,
                                          struct og_identity *id, struct og_identity_store *store,
                                          const char **reason)
{
    enum og_identify_result rc = OG_ID_BAD_CREDENTIALS;
    json_t *h = NULL, *claims = NULL, *payload = NULL;
    struct verified parsed;                    /* a token's access list, before caching */
    const char *sub, *iss, *aud;
    long exp, nbf;
    time_t now = time(NULL);
    unsigned char hash[32];
    struct og_glob *scopes[MAX_SCOPES];
    size_t nscopes = 0;

    if (!t)
        return refuse(reason, "no token key configured");
    if (len > TOKEN_MAX || strlen(tok) != len)
        return refuse(reason, "token too long");
    if (!og_sha256(tok, len, hash))
        return refuse(reason, "cannot hash token");
    if (cache_lookup(t, hash, now, id, store))
        return OG_ID_OK;
    h = parse_header(tok, len);
    if (!h || !header_is_ours(t, h)) {
        rc = refuse(reason, "token header is not an ocigate ES256 header");
        goto out;
    }
    payload = verified_payload(t, tok, len);
    if (!payload) {
        rc = refuse(reason, "token signature invalid");
        goto out;
    }
    exp = int_claim(payload, "exp");
    nbf = int_claim(payload, "nbf");
    iss = json_string_value(json_object_get(payload, "iss"));
    aud = json_string_value(json_object_get(payload, "aud"));
    sub = json_string_value(json_object_get(payload, "sub"));
    if (exp <= 0 || now >= exp) {
        rc = refuse(reason, "token expired");
        goto out;
    }
    if (nbf > 0 && now + 5 < nbf) {
        rc = refuse(reason, "token not yet valid");
        goto out;
    }
    if (!iss || strcmp(iss, t->issuer) != 0 || !aud || strcmp(aud, t->audience) != 0) {
        rc = refuse(reason, "token issuer or audience mismatch");
        goto out;
    }
    if (!parse_access(json_object_get(payload, "access"), &parsed)) {
        rc = refuse(reason, "token access list malformed");
        goto out;
    }
    claims = json_incref(json_object_get(payload, "ocigate"));
    if (!claims || !json_is_object(claims)) {
        rc = refuse(reason, "token without identity");
        goto out;
    }
    if (!copy_groups(json_object_get(claims, "groups"), id, store)) {
        rc = refuse(reason, "token groups malformed");
        goto out;
    }
    {
        json_t *repos = json_object_get(claims, "repos"), *g;
        size_t i;
        if (repos && (!json_is_array(repos) || json_array_size(repos) > MAX_SCOPES)) {
            rc = refuse(reason, "token scopes malformed");
            goto out;
        }
        json_array_foreach(repos, i, g) {
            char gerr[128];
            const char *src = json_string_value(g);
            struct og_glob *glob = src ? og_glob_compile(src, strlen(src), gerr, sizeof(gerr))
                                       : NULL;
            if (!glob) {
                rc = refuse(reason, "token scopes malformed");
                goto out;
            }
            scopes[nscopes++] = glob;
        }
    }
    id->auth = auth_from_name(json_string_value(json_object_get(claims, "auth")));
    snprintf(store->key_id, sizeof(store->key_id), "%s",
             json_string_value(json_object_get(claims, "key_id")) ?
             json_string_value(json_object_get(claims, "key_id")) : "");
    if (sub && *sub && id->auth != OG_AUTH_ANONYMOUS) {
        if (strlen(sub) >= sizeof(store->user)) {
            rc = refuse(reason, "token subject too long");
            goto out;
        }
        snprintf(store->user, sizeof(store->user), "%s", sub);
        id->user = store->user;
    } else {
        id->user = NULL;
        id->auth = OG_AUTH_ANONYMOUS;
        id->ngroups = 0;
    }
    cache_store(t, hash, (time_t)exp, id, store, scopes, nscopes);
    nscopes = 0;                               /* owned by the cache now */
    {
        struct verified *v = cache_slot(t, hash);
        json_t *oc = json_object_get(claims, "claims");
        v->claims = json_is_object(oc) ? json_incref(oc) : NULL;
        v->naccess = parsed.naccess;
        for (size_t i = 0; i < parsed.naccess; i++) {
            v->access[i] = parsed.access[i];
            if (!parsed.access[i].catalog) {
                memcpy(v->access_names[i], parsed.access_names[i], parsed.access[i].name_len + 1);
                v->access[i].name = v->access_names[i];
            }
        }
    }
    cache_lookup(t, hash, now, id, store);     /* id->scopes point into the cache */
    if (t->header64_len == 0) {                /* signed by our key: its header is ours */
        const char *dot = memchr(tok, '.', len);
        if (dot && (size_t)(dot - tok) < sizeof(t->header64)) {
            memcpy(t->header64, tok, (size_t)(dot - tok));
            t->header64_len = (size_t)(dot - tok);
        }
    }
    rc = OG_ID_OK;
out:
    for (size_t i = 0; i < nscopes; i++)
        og_glob_free(scopes[i]);
    json_decref(claims);
    json_decref(payload);
    json_decref(h);
    return rc;
}

unsigned long og_token_sig_checks(const struct og_tokens *t)
{
    return t ? t->sig_checks : 0;
}

/* ------------------------------------------------------------------ minting */

long og_token_mint(struct og_tokens *t, const struct og_identity *id, const char *key_id,
                   const char *access_json, time_t now, char *out, size_t cap)
{
    return og_token_mint_claims(t, id, key_id, access_json, NULL, now, out, cap);
}

/* An ES256 signature of in[0..len) as JOSE r||s (64 bytes). */
static bool sign_es256(struct og_tokens *t, const char *in, size_t len, unsigned char rs[64])
{
    unsigned char md[OG_SHA256_LEN], der[80];
    const unsigned char *p = der;
    size_t derlen = sizeof(der);
    const BIGNUM *r, *s;
    ECDSA_SIG *sig = NULL;
    bool ok = false;

    if (!og_sha256(in, len, md) || EVP_PKEY_sign_init(t->sign) != 1 ||
        EVP_PKEY_sign(t->sign, der, &derlen, md, sizeof(md)) != 1 ||
        !(sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)))
        goto out;
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(s, rs + 32, 32) == 32;
out:
    ECDSA_SIG_free(sig);
    OPENSSL_cleanse(md, sizeof(md));
    return ok;
}

long og_token_mint_claims(struct og_tokens *t, const struct og_identity *id, const char *key_id,
                          const char *access_json, const struct json_t *oidc_claims,
                          time_t now, char *out, size_t cap)
{
    json_t *payload = NULL, *groups = NULL, *access = NULL, *repos = NULL;
    char *payload_s = NULL, jti[33], sig64[96];
    unsigned char rnd[16], rs[64];
    size_t pos;
    long n = -1, m;

    if (!t || !out)
        return -1;
    if (getentropy(rnd, sizeof(rnd)) != 0)
        return -1;
    og_hex_encode(rnd, sizeof(rnd), jti);
    access = json_loads(access_json ? access_json : "[]", 0, NULL);
    groups = json_array();
    if (!access || !json_is_array(access) || !groups)
        goto out;
    for (size_t i = 0; id->user && *id->user && i < id->ngroups; i++) {
        json_t *g = json_string(id->groups[i]);
        if (!g || json_array_append_new(groups, g) != 0)
            goto out;
    }
    repos = json_array();
    if (!repos || id->nscopes > MAX_SCOPES)
        goto out;
    for (size_t i = 0; i < id->nscopes; i++) { /* an API key's scopes bind its tokens too */
        /* a scope that cannot be written (not UTF-8) must not vanish: fewer
           scopes would mean more access, so no token at all */
        json_t *scope = json_string(og_glob_source(id->scopes[i]));
        if (!scope || json_array_append_new(repos, scope) != 0)
            goto out;
    }
    /* the claims libjwt wrote: iss aud sub jti iat nbf exp, then access and ocigate */
    payload = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:O, s:{s:O, s:s, s:s, s:O}}",
                        "iss", t->issuer, "aud", t->audience, "sub", id->user ? id->user : "",
                        "jti", jti, "iat", (json_int_t)now, "nbf", (json_int_t)now,
                        "exp", (json_int_t)now + t->lifetime_s, "access", access,
                        "ocigate", "groups", groups, "auth", og_auth_name(id->auth),
                        "key_id", key_id ? key_id : "", "repos", repos);
    if (payload && oidc_claims && json_is_object((json_t *)oidc_claims) &&
        json_dumpb((json_t *)oidc_claims, NULL, 0, JSON_COMPACT) <= CLAIMS_MAX &&
        json_object_set(json_object_get(payload, "ocigate"), "claims", (json_t *)oidc_claims) != 0)
        goto out;
    payload_s = payload ? json_dumps(payload, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    /* HEADER64 "." PAYLOAD64 is what is signed; "." SIGNATURE64 follows (86
       characters); all of it and a NUL must fit, as before */
    if (!payload_s || t->mint_header64_len + 1 + (strlen(payload_s) * 4 + 2) / 3 + 1 + 86 >= cap)
        goto out;
    memcpy(out, t->mint_header64, t->mint_header64_len);
    pos = t->mint_header64_len;
    out[pos++] = '.';
    m = og_base64_encode((const unsigned char *)payload_s, strlen(payload_s), out + pos,
                         cap - pos, true);
    if (m <= 0)
        goto out;
    pos += (size_t)m;
    if (!sign_es256(t, out, pos, rs) ||
        og_base64_encode(rs, sizeof(rs), sig64, sizeof(sig64), true) != 86)
        goto out;
    out[pos++] = '.';
    memcpy(out + pos, sig64, 87);
    n = (long)(pos + 86);
out:
    if (n < 0 && cap)
        out[0] = '\0';
    free(payload_s);
    json_decref(payload);
    json_decref(groups);
    json_decref(repos);
    json_decref(access);
    return n;
}

int og_tokens_lifetime(const struct og_tokens *t)
{
    return t ? t->lifetime_s : 0;
}
