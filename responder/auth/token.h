/*
 * token.h - ocigate's own registry tokens (doc/http.md): minted by the token
 * endpoint, presented as "Bearer", checked on every request.
 *
 * ES256 JWTs signed with the key in token.keyFile (shared by every worker
 * and host). A token says who the caller is (user, groups, auth method,
 * API key id) and what was granted (its "access" list); a request that
 * presents it is allowed at most what that list grants, and only what the
 * live policy allows as well.
 */
#ifndef OCIGATE_TOKEN_H
#define OCIGATE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "identity.h"

struct og_tokens;

/* Load token.keyFile (PEM EC P-256 private key). NULL + err on failure.
   Returns NULL with err[0] == 0 when no keyFile is configured. */
struct og_tokens *og_tokens_load(const struct og_config *cfg, char *err, size_t errlen);
void og_tokens_free(struct og_tokens *t);

/* Is this JWT one of ours (our key id in its header)? Cheap, no verification. */
bool og_token_is_mine(const struct og_tokens *t, const char *tok, size_t len);

enum og_identify_result og_token_identify(struct og_tokens *t, const char *tok, size_t len,
                                          struct og_identity *id, struct og_identity_store *store,
                                          const char **reason);

/* Mint a token for id; access_json is the granted "access" array. Returns length or -1. */
long og_token_mint(struct og_tokens *t, const struct og_identity *id, const char *key_id,
                   const char *access_json, time_t now, char *out, size_t cap);

/* The same, carrying an OpenID identity's verified claims (og_identity_store.claims,
   for accessControl conditions' req.claims; at most 3 KiB of JSON, else left out).
   og_token_identify gives them back in store->claims, held until the next token. */
struct json_t;
long og_token_mint_claims(struct og_tokens *t, const struct og_identity *id, const char *key_id,
                          const char *access_json, const struct json_t *oidc_claims,
                          time_t now, char *out, size_t cap);

/* Signatures checked so far (tokens not found in the per-worker cache). */
unsigned long og_token_sig_checks(const struct og_tokens *t);

/* `ocigate token-key generate`: write a new PEM key to f. Returns 0 or -1. */
int og_token_key_generate(FILE *f);

/* token.lifetimeSeconds as loaded. */
int og_tokens_lifetime(const struct og_tokens *t);

#endif
