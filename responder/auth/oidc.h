/*
 * oidc.h - OpenID Connect JWTs, verified against the issuer's JWKS (doc/decisions.md).
 *
 * Discovery and JWKS over libcurl (HTTPS; plain HTTP only for a loopback
 * issuer), RSA and EC keys turned into OpenSSL EVP_PKEYs, the algorithm
 * bound to the key, signature checked with libcrypto (not libjwt, whose
 * 1.10 API lets the token header pick the algorithm). Several issuers: a
 * token goes to the issuer its iss (and aud) names before any signature
 * work, and each issuer has its own discovery and JWKS, so one that is down
 * affects no other. Verified tokens are cached per worker by SHA-256 until
 * exp, with what their issuer's claimMapping made of them.
 */
#ifndef OCIGATE_OIDC_H
#define OCIGATE_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "identity.h"

struct og_oidc;   /* per worker: JWKS, fetch handle, verified-token cache */

/* NULL when auth.openid is not configured (then every JWT is refused). */
struct og_oidc *og_oidc_new(const struct og_config *cfg);
void og_oidc_free(struct og_oidc *o);

/* Verify a JWT and map it to an identity (claimMapping). On OG_ID_OK, id
   points into store (user and groups are copied there from the worker's
   cache entry, so they stay valid for the request whatever the cache does),
   and store->claims is the token's verified claims (a JSON object, for
   accessControl conditions' req.claims), valid until o's next
   og_oidc_identify (o holds a reference; cached tokens keep theirs).
   Bad/expired/unverifiable tokens: BAD with reason. JWKS never fetched
   successfully and unreachable: UNAVAILABLE. */
enum og_identify_result og_oidc_identify(struct og_oidc *o, const char *token, size_t len,
                                         struct og_identity *id, struct og_identity_store *store,
                                         const char **reason, int *cache_hit);

/* ---- browser sign-in (oidc_signin.c) --------------------------------------- */

/* The issuer's endpoints, from discovery ("" when it names none). */
struct og_oidc_provider {
    const char *authorization_endpoint, *token_endpoint, *userinfo_endpoint,
               *end_session_endpoint;
    bool secret_basic, secret_post;   /* token_endpoint_auth_methods_supported */
};

/* Fill p, fetching the discovery document when it was never fetched or is
   over an hour old (a failed refresh keeps the last good one). -1 when the
   issuer cannot be reached or has no authorization and token endpoint. */
int og_oidc_provider(struct og_oidc *o, struct og_oidc_provider *p);

/* What a sign-in established: the person, mapped by claimMapping. */
struct og_oidc_person {
    char user[OG_USER_MAX + 1];
    char group_buf[2048];                 /* NUL-separated */
    const char *groups[OG_ID_MAX_GROUPS];
    size_t ngroups;
};

/* Exchange an authorization code at the token endpoint (client_secret_basic,
   or client_secret_post when the issuer supports only that), verify the ID
   token (signature with the JWKS, RS and ES algorithms only; iss, aud holds
   clientId, azp, exp/iat/nbf with leeway, nonce), and map the person; where
   the ID token lacks the username or groups claim, the userinfo endpoint is
   asked with the access token (its sub must be the ID token's). OG_ID_OK;
   OG_ID_UNAVAILABLE when the issuer could not be reached or answered with
   an error of its own (5xx); OG_ID_BAD_CREDENTIALS when the exchange or the
   ID token was refused. *reason (static, no secret) says why. */
enum og_identify_result og_oidc_signin(struct og_oidc *o, const char *code,
                                       const char *verifier, const char *redirect_uri,
                                       const char *nonce, struct og_oidc_person *out,
                                       const char **reason);

/* The ID-token half of og_oidc_signin, for tests: verify id_token and map
   the person (userinfo asked with access_token, may be NULL). */
enum og_identify_result og_oidc_check_id_token(struct og_oidc *o, const char *id_token,
                                               size_t len, const char *nonce,
                                               const char *access_token,
                                               struct og_oidc_person *out,
                                               const char **reason);

/* Install a discovery document as if it had been fetched, for the sign-in
   issuer (tests). 0 or -1. */
int og_oidc_set_discovery(struct og_oidc *o, const char *doc, size_t len);

/* For health: seconds since the JWKS was last fetched successfully, -1 never
   (the first issuer's; og_oidc_issuer_jwks_age for issuer i of auth.openid). */
long og_oidc_jwks_age(const struct og_oidc *o);
size_t og_oidc_issuers(const struct og_oidc *o);
const char *og_oidc_issuer_url(const struct og_oidc *o, size_t i);   /* NULL: no such */
long og_oidc_issuer_jwks_age(const struct og_oidc *o, size_t i);

/* ---- for tests and tools (no network needed) ------------------------------ */

/* Install a JWKS as if it had just been fetched (for the first issuer;
   og_oidc_set_issuer_jwks for issuer i). 0, or -1 (the previous set is kept)
   when it is malformed or holds no usable key. */
int og_oidc_set_jwks(struct og_oidc *o, const char *jwks_json, size_t len);
int og_oidc_set_issuer_jwks(struct og_oidc *o, size_t i, const char *jwks_json, size_t len);

/* Replace the HTTP GET used for discovery and JWKS. get() fills buf (at most
   cap bytes) and *len and returns the HTTP status, or -1 on a transport
   error. URL policy (https, loopback-only http) is checked before it runs.
   NULL restores libcurl. */
typedef long (*og_oidc_get_fn)(void *arg, const char *url, char *buf, size_t cap,
                               size_t *len);
void og_oidc_set_fetcher(struct og_oidc *o, og_oidc_get_fn get, void *arg);

/* Pretend the time is now (0: the real clock). */
void og_oidc_set_now(struct og_oidc *o, time_t now);

/* What the verifier has done so far, to prove cheap rejections and refresh limits. */
struct og_oidc_stats {
    unsigned long b64_decodes;   /* base64url segments decoded */
    unsigned long json_parses;   /* JSON documents parsed (token parts, discovery, JWKS) */
    unsigned long fetches;       /* HTTP GETs attempted (discovery and JWKS) */
    unsigned long refreshes;     /* JWKS refresh attempts */
    unsigned long sig_checks;    /* signatures verified with libcrypto */
    unsigned long mappings;      /* claimMapping runs (CEL work; none for a cached token) */
};
void og_oidc_get_stats(const struct og_oidc *o, struct og_oidc_stats *out);

#endif
