/*
 * oidc.h - OpenID Connect JWTs, verified against the issuer's JWKS (SPEC §4).
 *
 * Discovery and JWKS over libcurl (HTTPS; plain HTTP only for a loopback
 * issuer), RSA and EC keys turned into OpenSSL EVP_PKEYs, the algorithm
 * bound to the key, signature checked with libcrypto (not libjwt, whose
 * 1.10 API lets the token header pick the algorithm). Verified tokens are
 * cached per worker by SHA-256 until exp.
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
   points into the worker's cache entry, valid until the next call.
   Bad/expired/unverifiable tokens: BAD with reason. JWKS never fetched
   successfully and unreachable: UNAVAILABLE. */
enum og_identify_result og_oidc_identify(struct og_oidc *o, const char *token, size_t len,
                                         struct og_identity *id, struct og_identity_store *store,
                                         const char **reason, int *cache_hit);

/* For health: seconds since the JWKS was last fetched successfully, -1 never. */
long og_oidc_jwks_age(const struct og_oidc *o);

#endif
