/* responder/oidc.c - STUB, being written (issue 3). */
#include "oidc.h"
struct og_oidc *og_oidc_new(const struct og_config *cfg) { (void)cfg; return NULL; }
void og_oidc_free(struct og_oidc *o) { (void)o; }
enum og_identify_result og_oidc_identify(struct og_oidc *o, const char *token, size_t len,
    struct og_identity *id, struct og_identity_store *store, const char **reason, int *cache_hit)
{ (void)o; (void)token; (void)len; (void)id; (void)store; (void)cache_hit;
  *reason = "OpenID Connect is not configured"; return OG_ID_BAD_CREDENTIALS; }
long og_oidc_jwks_age(const struct og_oidc *o) { (void)o; return -1; }
