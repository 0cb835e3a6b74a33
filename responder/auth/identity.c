/*
 * identity.c - which credential type a request carries, and who that is.
 *
 * Basic user:secret is an API key when the secret starts with "zak_", an
 * OIDC JWT when it has three base64url parts and OIDC is configured, else an
 * htpasswd password. Bearer is an API key ("zak_"), an ocigate token (signed
 * with token.keyFile) or an OIDC JWT. This file only dispatches; each
 * credential type lives in its own file.
 */
#include "identity.h"

#include <stdio.h>
#include <string.h>

#include "apikey.h"
#include "htpasswd.h"
#include "oidc.h"
#include "throttle.h"
#include "token.h"

static bool looks_like_jwt(const char *s, size_t len)
{
    size_t dots = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return false;
    }
    return dots == 2;
}

static bool is_api_key(const char *s, size_t len)
{
    return len >= 4 && memcmp(s, "zak_", 4) == 0;
}

static enum og_identify_result bad(const char **reason, const char *why)
{
    *reason = why;
    return OG_ID_BAD_CREDENTIALS;
}

static enum og_identify_result check_htpasswd(const struct og_identify_ctx *ctx,
                                              const struct og_credentials *cred,
                                              struct og_identity *id,
                                              struct og_identity_store *store,
                                              const char **reason, int *cache_hit)
{
    enum og_ht_result r;

    if (!ctx->htpasswd)
        return bad(reason, "no password users are configured");
    r = og_htpasswd_verify(ctx->htpasswd, cred->user, cred->secret, cred->secret_len, cache_hit);
    if (r == OG_HT_UNKNOWN_USER || r == OG_HT_BAD_PASSWORD)
        return bad(reason, "invalid username or password");
    if (r != OG_HT_OK)
        return bad(reason, "password could not be verified");
    snprintf(store->user, sizeof(store->user), "%s", cred->user);
    id->user = store->user;
    id->auth = OG_AUTH_HTPASSWD;
    return OG_ID_OK;
}

/*
 * What an API key's record may no longer say by itself (its groups are
 * evaluated live from its user, not copied):
 *  - origin htpasswd: the key works only while its user is in the htpasswd
 *    file as loaded now;
 *  - legacy records (written before the origin field): their stored groups
 *    that accessControl.groups defines are ignored, since such records copied
 *    the user's config groups at creation; membership of those comes from the
 *    config, live. Other stored groups (an IdP's, `key create --group`) stay.
 */
static enum og_identify_result check_key_origin(const struct og_identify_ctx *ctx,
                                                struct og_identity *id,
                                                struct og_identity_store *store,
                                                const char **reason)
{
    size_t n = 0;

    if (store->key_origin == OG_KEY_HTPASSWD &&
        !og_htpasswd_has_user(ctx->htpasswd, id->user))
        return bad(reason, "the API key's user is no longer a password user");
    if (store->key_origin != OG_KEY_LEGACY || !ctx->cfg)
        return OG_ID_OK;
    for (size_t i = 0; i < id->ngroups && n < OG_ID_MAX_GROUPS; i++) {
        if (!og_config_has_group(ctx->cfg, id->groups[i]))
            store->group_ptrs[n++] = id->groups[i];
    }
    id->groups = store->group_ptrs;
    id->ngroups = n;
    return OG_ID_OK;
}

static enum og_identify_result apikey(const struct og_identify_ctx *ctx, const char *basic_user,
                                      const struct og_credentials *cred, struct og_identity *id,
                                      struct og_identity_store *store, const char **reason,
                                      int *cache_hit)
{
    enum og_identify_result r;

    if (!ctx->apikeys)
        return bad(reason, "API keys are not enabled");
    r = og_apikey_identify(ctx->apikeys, basic_user, cred->secret, cred->secret_len, id, store,
                           reason, cache_hit);
    return r == OG_ID_OK ? check_key_origin(ctx, id, store, reason) : r;
}

static enum og_identify_result identify(const struct og_identify_ctx *ctx,
                                        const struct og_credentials *cred,
                                        struct og_identity *id, struct og_identity_store *store,
                                        const char **reason, int *cache_hit)
{
    memset(id, 0, sizeof(*id));
    id->auth = OG_AUTH_ANONYMOUS;
    store->user[0] = '\0';
    store->groups_csv[0] = '\0';
    store->key_id[0] = '\0';
    store->key_origin = 0;
    store->backend = OG_BACKEND_REDIS;          /* failure counters; set below per credential */
    *reason = "";
    if (cache_hit)
        *cache_hit = 0;

    switch (cred->kind) {
    case OG_CRED_NONE:
        return OG_ID_OK;
    case OG_CRED_MALFORMED:
        return bad(reason, cred->reason ? cred->reason : "malformed Authorization header");
    case OG_CRED_BEARER:
        if (is_api_key(cred->secret, cred->secret_len)) {
            store->backend = OG_BACKEND_REDIS;
            return apikey(ctx, NULL, cred, id, store, reason, cache_hit);
        }
        if (!looks_like_jwt(cred->secret, cred->secret_len))
            return bad(reason, "unknown Bearer token");
        store->backend = OG_BACKEND_REDIS;      /* what a token's live checks may ask */
        if (ctx->tokens && og_token_is_mine(ctx->tokens, cred->secret, cred->secret_len))
            return og_token_identify(ctx->tokens, cred->secret, cred->secret_len, id, store,
                                     reason);
        if (!ctx->oidc)
            return bad(reason, "OpenID Connect tokens are not enabled");
        store->backend = OG_BACKEND_JWKS;
        return og_oidc_identify(ctx->oidc, cred->secret, cred->secret_len, id, store, reason,
                                cache_hit);
    case OG_CRED_BASIC:
        if (is_api_key(cred->secret, cred->secret_len)) {
            store->backend = OG_BACKEND_REDIS;
            return apikey(ctx, cred->user, cred, id, store, reason, cache_hit);
        }
        /* docker login -u anything -p $JWT: the username is not checked */
        store->backend = OG_BACKEND_JWKS;
        if (ctx->oidc && looks_like_jwt(cred->secret, cred->secret_len))
            return og_oidc_identify(ctx->oidc, cred->secret, cred->secret_len, id, store, reason,
                                    cache_hit);
        return check_htpasswd(ctx, cred, id, store, reason, cache_hit);
    }
    return bad(reason, "unsupported credentials");
}

enum og_identify_result og_identify(const struct og_identify_ctx *ctx,
                                    const struct og_credentials *cred,
                                    struct og_identity *id, struct og_identity_store *store,
                                    const char **reason, int *cache_hit)
{
    int hit = 0;
    enum og_identify_result r;
    /* ocigate's own signed tokens cannot be guessed: never throttled nor counted */
    bool own_token = ctx->tokens && cred->kind == OG_CRED_BEARER &&
                     og_token_is_mine(ctx->tokens, cred->secret, cred->secret_len);

    store->retry_after = 0;
    store->claims = NULL;             /* set by an OpenID token only */
    if (cache_hit)
        *cache_hit = 0;
    /* Throttled: answered before the credential is looked at (no crypt, no
       cache lookup), from the username and the address alone, so a right and
       a wrong password get the same answer in the same time. It is not a
       refused credential either (no auth.failDelayMs) for the same reason. */
    if (!own_token &&
        og_throttle_limited(ctx->cfg, ctx->redis, ctx->remote, cred, &store->retry_after)) {
        memset(id, 0, sizeof(*id));
        id->auth = OG_AUTH_ANONYMOUS;
        store->user[0] = store->groups_csv[0] = store->key_id[0] = '\0';
        store->key_origin = 0;
        *reason = "too many failed attempts";
        return OG_ID_THROTTLED;
    }
    r = identify(ctx, cred, id, store, reason, &hit);
    if (cache_hit)
        *cache_hit = hit;
    if (cred->kind != OG_CRED_NONE && r == OG_ID_BAD_CREDENTIALS) {
        if (ctx->failed)
            *ctx->failed = 1;
        if (!own_token)
            og_throttle_failure(ctx->cfg, ctx->redis, ctx->remote, cred);
    }
    return r;
}

void og_identity_groups_csv(const struct og_config *cfg, const struct og_identity *id,
                            struct og_identity_store *store)
{
    const char *groups[OG_ID_MAX_GROUPS * 2];
    size_t n = og_effective_groups(cfg, id, groups, sizeof(groups) / sizeof(groups[0]));
    size_t len = 0;

    store->groups_csv[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t glen = strlen(groups[i]);
        if (len + glen + 2 >= sizeof(store->groups_csv))
            break;
        if (len)
            store->groups_csv[len++] = ',';
        memcpy(store->groups_csv + len, groups[i], glen + 1);
        len += glen;
    }
}
