/*
 * oidc_state.h - what the three OpenID Connect files share (not an API):
 * the limits, one worker's verifier state (struct og_oidc: one struct
 * oidc_issuer per configured issuer with its discovery and JWKS, the fetch
 * handle, the verified-token cache, test hooks), and the functions they call in
 * each other. oidc.c: claims, mapping, cache, the public API (oidc.h);
 * jws.c: JWKs, header, signature; oidc_discovery.c: discovery and JWKS fetch.
 */
#ifndef OCIGATE_OIDC_STATE_H
#define OCIGATE_OIDC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "oidc.h"

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
    unsigned issuer;        /* index into og_oidc.iss, to forget its tokens */
    json_t *verified;       /* the verified claims (a reference), kept for accessControl
                               conditions (only when the config has some); NULL otherwise */
};

/* One configured issuer: its discovery document and JWKS. */
struct oidc_issuer {
    struct og_oidc *o;      /* the worker's verifier (fetch handle, stats, clock) */
    const struct og_openid_issuer *conf;
    unsigned index;         /* in auth.openid */
    char issuer[URL_MAX];   /* as configured */
    char base[URL_MAX];     /* issuer without a trailing '/' */
    bool url_ok;            /* issuer is https, or http on loopback */

    char jwks_uri[URL_MAX]; /* from discovery; "" = discover again */
    /* the rest of discovery, for browser sign-in (oidc_signin.c); "" = none */
    char authorization_endpoint[URL_MAX];
    char token_endpoint[URL_MAX];
    char userinfo_endpoint[URL_MAX];
    char end_session_endpoint[URL_MAX];
    bool auth_basic, auth_post;   /* token_endpoint_auth_methods_supported */
    time_t discovered_at;         /* 0 = never */
    time_t discovery_tried;       /* last fetch for sign-in (at most one per RETRY_EMPTY_S) */
    struct jwk *keys;
    size_t nkeys;
    unsigned char jwks_hash[32];
    time_t fetched_at;      /* 0 = never */
    time_t last_attempt;
    bool attempted;
};

struct og_cel_scratch;

struct og_oidc {
    const struct og_config *cfg;
    long timeout_ms;
    CURL *curl;

    struct oidc_issuer *iss;      /* one per auth.openid entry */
    size_t niss;
    struct oidc_issuer *signin;   /* the browser sign-in issuer, else the first */
    struct og_cel_scratch *scratch; /* claim mapping evaluations */
    json_t *held;                 /* the claims of the last token identified (a reference):
                                     what og_identity_store.claims points to */

    og_oidc_get_fn get;
    void *get_arg;
    time_t fake_now;
    struct og_oidc_stats st;

    struct cache_entry cache[CACHE_SIZE];
    size_t hand;            /* next victim when the cache is full */
};

static inline time_t now_of(const struct og_oidc *o)
{
    return o->fake_now ? o->fake_now : time(NULL);
}

/* oidc.c */
void oidc_cache_flush(struct og_oidc *o);
void oidc_cache_flush_issuer(struct og_oidc *o, unsigned issuer);

/* jws.c: bounded decoding (counted in o->st) */
long oidc_b64url(struct og_oidc *o, const char *in, size_t len, unsigned char *out, size_t cap);
json_t *oidc_parse_json(struct og_oidc *o, const void *p, size_t len);
/* jws.c: keys, header, signature */
void oidc_free_keys(struct jwk *keys, size_t n);
int oidc_parse_jwks(struct og_oidc *o, const char *doc, size_t len, struct jwk **keys_out,
                    size_t *n_out);
const struct jwk *oidc_find_key(const struct oidc_issuer *is, const char *kid, int alg,
                                bool *kid_known);
bool oidc_verify_sig(struct og_oidc *o, const struct jwk *k, int alg, const char *msg,
                     size_t msglen, const unsigned char *sig, size_t siglen);
const char *oidc_check_header(json_t *h, int *alg, char *kid, bool *has_kid);

/* oidc_discovery.c */
bool oidc_url_allowed(const char *url, bool *loopback);
int oidc_install_jwks(struct oidc_issuer *is, const char *doc, size_t len);
void oidc_refresh(struct oidc_issuer *is);
bool oidc_may_refresh(const struct oidc_issuer *is, time_t now, time_t interval);
void oidc_ensure_jwks(struct oidc_issuer *is, time_t now);
void oidc_fetch_cleanup(struct og_oidc *o);
int oidc_discover(struct oidc_issuer *is, char *buf);   /* buf: DOC_MAX bytes */
/* One HTTP exchange on the worker's handle (the URL already allowed): POST
   form (when not NULL) or GET, with one extra header (may be NULL); at most
   cap bytes of answer into buf. The HTTP status, or -1 on a transport error. */
long oidc_http(struct og_oidc *o, const char *url, bool loopback, const char *form,
               const char *header, char *buf, size_t cap, size_t *len);
int oidc_take_discovery(struct oidc_issuer *is, const char *doc, size_t len);

/* oidc.c: shared with oidc_signin.c */
const char *oidc_split(const char *t, size_t len, size_t seg[3]);
/* A NumericDate claim: 1 present and valid, 0 absent, -1 not a sane number. */
int oidc_numeric_date(json_t *c, const char *name, time_t *out);
struct oidc_claims {
    time_t until;
    char user[OG_USER_MAX + 1];
    char groups[sizeof(((struct og_identity_store *)0)->group_buf)];
    size_t groups_len;
    size_t ngroups;
};
/* username and groups from verified claims by the issuer's claimMapping
   (variables, validations, username, groups); NULL or why not (a failed
   validation's message is logged, never returned). */
const char *oidc_map_claims(struct oidc_issuer *is, json_t *c, struct oidc_claims *cl);
/* Does the mapping name a plain claim the claims lack (sign-in asks userinfo then)? */
bool oidc_mapping_lacks(const struct oidc_issuer *is, json_t *c);

#endif
