/*
 * token_endpoint.c - the registry token endpoint (doc/http.md), and which path
 * names which endpoint.
 *
 * GET TOKEN_PATH?service=S&scope=repository:NAME:pull,push&account=A, with
 * Basic credentials (API key, JWT as password, htpasswd password) or none
 * (anonymous). Bad credentials: 401 and never an anonymous token. Otherwise
 * 200 with {"token","access_token","expires_in","issued_at"}: an ES256 JWT
 * naming the identity and the requested scopes intersected with the policy.
 * A request that presents the token is allowed at most what its access list
 * grants (pull: read, push: create and update, delete: delete, "*": all),
 * and is still decided by the live policy and the live tag check.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "decide.h"
#include "endpoints.h"
#include "identity.h"
#include "query.h"
#include "response.h"
#include "token.h"

#define MAX_SCOPES 16

/* ----------------------------------------------------------- path matching */

/* The path part of a URL ("https://host:443/ocigate/token" -> "/ocigate/token"). */
static const char *url_path(const char *url, size_t *len)
{
    const char *p = url ? strstr(url, "://") : NULL;
    const char *q;
    if (!p)
        return NULL;
    p = strchr(p + 3, '/');
    if (!p)
        return NULL;
    q = strchr(p, '?');
    *len = q ? (size_t)(q - p) : strlen(p);
    return p;
}

static bool path_is(const char *want, const char *path, size_t len)
{
    return want && strlen(want) == len && memcmp(want, path, len) == 0;
}

enum og_endpoint og_endpoint_match(const struct og_config *cfg, const char *path, size_t len)
{
    size_t tlen = 0;
    const char *tpath = url_path(cfg->token_realm, &tlen);

    if (!path)
        return OG_EP_NONE;
    if (tpath && tlen == len && memcmp(tpath, path, len) == 0)
        return OG_EP_TOKEN;
    if (cfg->endpoint_metrics && strlen(cfg->endpoint_metrics) == len &&
        memcmp(cfg->endpoint_metrics, path, len) == 0)
        return OG_EP_METRICS;
    if (cfg->endpoint_health && strlen(cfg->endpoint_health) == len &&
        memcmp(cfg->endpoint_health, path, len) == 0)
        return OG_EP_HEALTH;
    for (size_t i = 0; i < cfg->endpoint_apikey.n; i++)
        if (strlen(cfg->endpoint_apikey.v[i]) == len &&
            memcmp(cfg->endpoint_apikey.v[i], path, len) == 0)
            return OG_EP_APIKEY;
    if (path_is(cfg->endpoint_login, path, len))
        return OG_EP_LOGIN;
    if (path_is(cfg->endpoint_callback, path, len))
        return OG_EP_CALLBACK;
    if (path_is(cfg->endpoint_logout, path, len))
        return OG_EP_LOGOUT;
    if (cfg->endpoint_keys) {
        size_t klen = strlen(cfg->endpoint_keys);

        if (len >= klen && memcmp(cfg->endpoint_keys, path, klen) == 0 &&
            (len == klen || path[klen] == '/'))
            return OG_EP_KEYS;
    }
    return OG_EP_NONE;
}

/* ----------------------------------------------------------------- scopes */

struct scope_grant {
    char type[32];
    char name[OG_REPO_MAX + 1];
    bool pull, push, del;          /* granted */
};

/* Grant what the live policy allows of "repository:NAME:pull,push,delete,*". */
static bool grant_scope(const struct og_config *cfg, const struct og_identity *id,
                        const char *scope, struct scope_grant *g)
{
    const char *c1 = strchr(scope, ':'), *c2 = strrchr(scope, ':');
    char actions[64];
    size_t tlen, nlen;

    memset(g, 0, sizeof(*g));
    if (!c1 || c1 == c2)
        return false;
    tlen = (size_t)(c1 - scope);
    nlen = (size_t)(c2 - c1 - 1);
    if (tlen == 0 || tlen >= sizeof(g->type) || nlen == 0 || nlen > OG_REPO_MAX ||
        strlen(c2 + 1) >= sizeof(actions))
        return false;
    memcpy(g->type, scope, tlen);
    memcpy(g->name, c1 + 1, nlen);
    snprintf(actions, sizeof(actions), "%s", c2 + 1);

    if (strcmp(g->type, "registry") == 0 && strcmp(g->name, "catalog") == 0) {
        struct og_route r;
        struct og_decision d;
        memset(&r, 0, sizeof(r));
        r.kind = OG_R_CATALOG;
        r.method = OG_M_GET;
        r.action = OG_ACT_READ;
        r.path = "/v2/_catalog";
        r.path_len = strlen(r.path);
        og_decide(cfg, &r, id, NULL, &d);
        /* reported as "*". Where ocigate serves the catalog itself
           (endpoints.catalog) it lists only what the caller may read, so
           every identity may hold the scope; as an AUTHORIZER the catalog
           still needs read on every repository (decided again per request). */
        g->pull = d.status == 200 || cfg->endpoint_catalog;
        return true;
    }
    if (strcmp(g->type, "repository") != 0 || !og_valid_repo(g->name, nlen))
        return false;
    for (char *save = NULL, *a = strtok_r(actions, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        bool all = strcmp(a, "*") == 0;
        if (all || strcmp(a, "pull") == 0)
            g->pull = og_can(cfg, id, OG_ACT_READ, g->name, nlen, NULL);
        if (all || strcmp(a, "push") == 0)
            g->push = og_can(cfg, id, OG_ACT_CREATE, g->name, nlen, NULL) ||
                      og_can(cfg, id, OG_ACT_UPDATE, g->name, nlen, NULL);
        if (all || strcmp(a, "delete") == 0)
            g->del = og_can(cfg, id, OG_ACT_DELETE, g->name, nlen, NULL);
    }
    return true;
}

static json_t *access_entry(const struct scope_grant *g)
{
    json_t *actions = json_array();
    if (strcmp(g->type, "registry") == 0) {
        if (g->pull)
            json_array_append_new(actions, json_string("*"));
    } else {
        if (g->pull) json_array_append_new(actions, json_string("pull"));
        if (g->push) json_array_append_new(actions, json_string("push"));
        if (g->del) json_array_append_new(actions, json_string("delete"));
    }
    return json_pack("{s:s,s:s,s:o}", "type", g->type, "name", g->name, "actions", actions);
}

/* ------------------------------------------------------------- the endpoint */

static size_t deny(struct og_worker_state *w, const struct og_request *req, int status,
                   const char *reason, char *buf, size_t cap, struct og_log_decision *log)
{
    return og_endpoint_deny(w, req, status, "token endpoint", reason, true, buf, cap, log);
}

size_t og_token_endpoint(struct og_worker_state *w, const struct og_request *req,
                         char *buf, size_t cap, struct og_log_decision *log)
{
    const struct og_config *cfg = w->cfg;
    struct og_identity id;
    struct og_identity_store store;
    struct og_query_iter it;
    struct scope_grant grants[MAX_SCOPES];
    size_t ngrants = 0, qlen, n = 0;
    const char *q, *reason = "";
    char k[32], v[1024], issued[32];
    static char token[OG_RESPONSE_MAX - 1024];
    json_t *access = NULL, *body = NULL;
    char *access_s = NULL, *body_s = NULL;
    time_t now = time(NULL);
    struct tm tm;
    int rc;

    log->action = "token";
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
        return deny(w, req, 405, "the token endpoint takes GET", buf, cap, log);
    if (!w->tokens)
        return deny(w, req, 503, "token.keyFile is not configured", buf, cap, log);

    if (req->authorization && strncasecmp(req->authorization, "Bearer ", 7) == 0)
        return deny(w, req, 401, "the token endpoint takes Basic credentials", buf, cap, log);
    if ((rc = og_endpoint_identify(w, req, &id, &store, &reason, log)) != 0)
        return deny(w, req, rc, reason, buf, cap, log);

    q = og_query_of(req->uri, req->uri_len, &qlen);
    og_query_init(&it, q, qlen);
    while ((rc = og_query_next(&it, k, sizeof(k), v, sizeof(v))) == 1) {
        if (strcmp(k, "service") == 0) {
            const char *svc = cfg->token_service ? cfg->token_service : cfg->realm;
            if (svc && strcmp(v, svc) != 0)
                return deny(w, req, 400, "unknown service", buf, cap, log);
        } else if (strcmp(k, "scope") == 0) {
            /* one parameter may hold several scopes separated by spaces */
            for (char *save = NULL, *s = strtok_r(v, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
                if (ngrants == MAX_SCOPES)
                    return deny(w, req, 400, "too many scopes", buf, cap, log);
                if (!grant_scope(cfg, &id, s, &grants[ngrants]))
                    return deny(w, req, 400, "malformed scope", buf, cap, log);
                ngrants++;
            }
        }
        /* account, client_id, offline_token: informational, ignored */
    }
    if (rc < 0)
        return deny(w, req, 400, "malformed query", buf, cap, log);

    access = json_array();
    for (size_t i = 0; access && i < ngrants; i++)
        json_array_append_new(access, access_entry(&grants[i]));
    access_s = access ? json_dumps(access, JSON_COMPACT) : NULL;
    /* an OpenID identity's claims go along, for conditions' req.claims */
    if (!access_s || og_token_mint_claims(w->tokens, &id, store.key_id, access_s, store.claims,
                                          now, token, sizeof(token)) < 0) {
        n = deny(w, req, 503, "could not mint a token", buf, cap, log);
        goto out;
    }
    gmtime_r(&now, &tm);
    strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
    body = json_pack("{s:s,s:s,s:i,s:s}", "token", token, "access_token", token,
                     "expires_in", og_tokens_lifetime(w->tokens), "issued_at", issued);
    body_s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body_s)
        n = og_response_json(200, body_s, strlen(body_s), buf, cap);
    log->status = n ? 200 : 503;
    log->rule = "token endpoint";
    log->reason = "token issued";
out:
    explicit_bzero(token, sizeof(token));
    if (body_s) {
        explicit_bzero(body_s, strlen(body_s));
        free(body_s);
    }
    free(access_s);
    json_decref(body);
    json_decref(access);
    return n;
}
