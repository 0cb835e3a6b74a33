/*
 * identity.h - credentials -> who asks (doc/decisions.md, identities).
 */
#ifndef OCIGATE_IDENTITY_H
#define OCIGATE_IDENTITY_H

#include "decide.h"
#include "metrics.h"
#include "request.h"

struct og_htpasswd;
struct og_apikeys;
struct og_oidc;
struct og_tokens;
struct og_redis;

/* What a worker knows to check credentials with; NULL members are disabled. */
struct og_identify_ctx {
    const struct og_config *cfg;
    struct og_htpasswd *htpasswd;     /* auth.htpasswd */
    struct og_apikeys *apikeys;       /* auth.apikey.enabled */
    struct og_oidc *oidc;             /* auth.openid */
    struct og_tokens *tokens;         /* token.keyFile: ocigate's own Bearer tokens */
    struct og_redis *redis;           /* failure counters (throttling); NULL: none */
    const char *remote;               /* the client's address, for throttling */
    int *failed;                      /* set to 1 when credentials were refused
                                         (the worker then delays the answer,
                                         auth.failDelayMs); may be NULL */
};

#define OG_ID_MAX_GROUPS 64

/* Room for the strings an identity points to; lives as long as the request. */
struct og_identity_store {
    char user[OG_USER_MAX + 1];
    char groups_csv[1024];            /* for the answer and the log */
    char key_id[64];
    int key_origin;                   /* an API key's origin (enum og_key_origin) */
    char group_buf[2048];             /* group names a credential carries, NUL-separated */
    const char *group_ptrs[OG_ID_MAX_GROUPS];
    const struct json_t *claims;      /* an OpenID token's claims (for accessControl
                                         conditions), or NULL; held by the worker's
                                         verifier until its next token */
    int retry_after;                  /* OG_ID_THROTTLED: seconds */
    enum og_metric_backend backend;   /* OG_ID_UNAVAILABLE: the backend that failed */
};

enum og_identify_result { OG_ID_OK = 0, OG_ID_BAD_CREDENTIALS, OG_ID_UNAVAILABLE,
                          OG_ID_THROTTLED /* 429: too many failures, see store->retry_after */ };

/*
 * Turn credentials into an identity. No credentials (and "Basic Og==") are
 * anonymous. Bad credentials are OG_ID_BAD_CREDENTIALS with *reason set, and
 * never fall back to anonymous. Failures are counted (throttle.c); past a
 * limit the request is OG_ID_THROTTLED before its credential is looked at,
 * until the window passes.
 */
enum og_identify_result og_identify(const struct og_identify_ctx *ctx,
                                    const struct og_credentials *cred,
                                    struct og_identity *id, struct og_identity_store *store,
                                    const char **reason, int *cache_hit);

/* Fill store->groups_csv with the config groups of id->user and its own groups. */
void og_identity_groups_csv(const struct og_config *cfg, const struct og_identity *id,
                            struct og_identity_store *store);

#endif
