/*
 * handle.c - one request, start to finish, as a short pipeline:
 *
 *   params -> dispatch -> route -> identity -> facts -> decision -> answer -> log
 *
 * Each step is a plain call on struct pass; nothing reaches back. The
 * dispatcher picks who answers: an endpoint ocigate serves itself, the
 * catalog, the manifest-write transaction (manifest_write.c), or the
 * decision pipeline. Every decision is og_policy_evaluate()'s
 * (policy/evaluate.h), the same call `ocigate explain` makes; this file only
 * gathers what it asks for (the identity, the registry's facts) and renders
 * and logs its one outcome. An unsure backend is 503, never an allow.
 */
#include "handle.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "decide.h"
#include "evaluate.h"
#include "endpoints.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "oidc.h"
#include "outcome.h"
#include "request.h"
#include "response.h"
#include "route.h"

static size_t path_length(const char *uri, size_t len)
{
    const char *q = memchr(uri, '?', len);
    return q ? (size_t)(q - uri) : len;
}

/* Which cache a credential went through, for the hit/miss counters. */
static void count_credential(const struct og_identity *id, int cache_hit)
{
    switch (id->auth) {
    case OG_AUTH_HTPASSWD: og_metrics_cache(OG_CACHE_HTPASSWD, cache_hit); break;
    case OG_AUTH_APIKEY:   og_metrics_cache(OG_CACHE_APIKEY, cache_hit); break;
    case OG_AUTH_OPENID:   og_metrics_cache(OG_CACHE_OIDC, cache_hit); break;
    default: break;
    }
}

/* JWKS refreshes happen inside oidc.c; report the ones since the last request. */
static void count_jwks_refreshes(struct og_oidc *oidc)
{
    static unsigned long seen;
    struct og_oidc_stats st;
    if (!oidc)
        return;
    og_oidc_get_stats(oidc, &st);
    if (st.refreshes > seen) {
        og_metrics_jwks_refreshes(st.refreshes - seen);
        seen = st.refreshes;
    }
}

/* One request through the pipeline: what each step fills for the next. */
struct pass {
    struct og_worker_state *w;
    char *const *envp;
    const struct og_body *body;
    struct timespec t0;
    struct og_request req;            /* params */
    struct og_route route;            /* route */
    struct og_identity id;            /* identity */
    struct og_identity_store store;
    bool identified;
    struct og_facts facts;            /* facts */
    char digest_tag[OG_TAG_MAX + 1];
    struct og_request_env env;        /* what accessControl conditions read */
    struct og_query q;                /* decision: the query and its one outcome */
    struct og_outcome out;
    struct og_log_decision log;
};

/* params: the FastCGI params -> the request; what the log says of it. */
static void params(struct pass *p)
{
    og_request_from_params(p->envp, p->w->cfg->trust_forwarded_headers, &p->req);
    p->log.remote = p->req.remote_addr;
    p->log.method = p->req.method;
    if (p->req.uri) {
        p->log.path = p->req.uri;
        p->log.path_len = path_length(p->req.uri, p->req.uri_len);
    }
    p->out.rule = "none";
    p->out.reason = "";
}

enum room { ROOM_REFUSE, ROOM_DECIDE, ROOM_ENDPOINT, ROOM_CATALOG, ROOM_MANIFEST };

static enum room refuse_request(struct pass *p, int status, const char *reason)
{
    og_outcome_refuse(&p->out, status, "request", reason);
    return ROOM_REFUSE;
}

/* dispatch: who answers. Endpoints ocigate serves itself exist only in the
   RESPONDER role (never for an AUTHORIZER). */
static enum room dispatch(struct pass *p, enum og_endpoint *ep)
{
    const struct og_request *r = &p->req;

    if (r->status)
        return refuse_request(p, r->status, r->reason);
    if (r->role == OG_ROLE_UNKNOWN)
        return refuse_request(p, 400, "unsupported FastCGI role");
    if (r->role == OG_ROLE_RESPONDER) {
        *ep = og_endpoint_match(p->w->cfg, p->log.path, p->log.path_len);
        if (*ep != OG_EP_NONE)
            return ROOM_ENDPOINT;
        if (r->serve && strcmp(r->serve, "catalog") == 0)
            return ROOM_CATALOG;
        if (r->serve && strcmp(r->serve, "manifest") == 0)
            return ROOM_MANIFEST;
        if (r->serve)
            return refuse_request(p, 400, "unknown OCIGATE_SERVE value");
    }
    /* When lighttpd rewrote the target (REDIRECT_URI), the registry would get
       something other than what is judged here: refuse. Endpoints ocigate
       serves itself proxy nothing, so they were dispatched above. */
    if (r->redirect_uri && strcmp(r->redirect_uri, r->uri) != 0)
        return refuse_request(p, 400, "rewritten target (REDIRECT_URI differs from REQUEST_URI)");
    return ROOM_DECIDE;
}

/* route: classify, and let the policy refuse what needs no identity. */
static bool route(struct pass *p)
{
    const struct og_request *r = &p->req;

    og_route_classify(r->method, r->method_len, r->uri, r->uri_len, r->content_type,
                      r->content_type_len, &p->route);
    p->q.route = &p->route;
    p->q.has_authorization = r->authorization != NULL;
    if (p->w->cfg->has_conditions) {  /* a config without conditions pays nothing here */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        p->env.user_agent = r->user_agent;
        p->env.client_ip = r->remote_addr;
        p->env.forwarded_for = r->forwarded_for;
        p->env.tls = r->https;
        p->env.tls_version = r->tls_version ? r->tls_version : "";
        p->env.time_s = now.tv_sec;
        p->env.time_ns = (int)now.tv_nsec;
        p->q.env = &p->env;
    }
    p->q.holds_claims = false;        /* only manifest_write.c can hold a claim */
    og_policy_evaluate(p->w->cfg, &p->q, &p->out);
    return p->out.need == OG_NEED_IDENTITY;
}

/* identity: credentials -> who asks; a refused or unsure credential is the
   answer, and the backend og_identify asked is the one counted as failed. */
static bool identity(struct pass *p)
{
    struct og_worker_state *w = p->w;
    struct og_identify_ctx ictx = { w->cfg, w->htpasswd, w->apikeys, w->oidc, w->tokens,
                                     w->redis, p->req.remote_addr, &w->request_failed };
    struct og_credentials cred;
    const char *reason = "";
    int cache_hit = 0;
    enum og_identify_result rc;

    og_credentials_parse(p->req.authorization, p->req.authorization_len, &cred);
    rc = og_identify(&ictx, &cred, &p->id, &p->store, &reason, &cache_hit);
    og_credentials_wipe(&cred);
    switch (rc) {
    case OG_ID_OK:
        break;
    case OG_ID_BAD_CREDENTIALS:
        og_outcome_refuse(&p->out, 401, "credentials", reason);
        p->log.user = "";
        return false;
    case OG_ID_THROTTLED:
        og_outcome_refuse(&p->out, 429, "throttle", reason);
        p->log.user = "";
        return false;
    default:
        og_outcome_refuse(&p->out, 503, "credentials", reason);
        og_metrics_backend_error(p->store.backend);   /* the one og_identify asked */
        return false;
    }
    if (cred.kind != OG_CRED_NONE)
        count_credential(&p->id, cache_hit);
    og_identity_groups_csv(w->cfg, &p->id, &p->store);
    p->identified = true;
    p->log.user = p->id.user ? p->id.user : "";
    p->log.auth = og_auth_name(p->id.auth);
    p->log.key_id = p->store.key_id;
    p->q.id = &p->id;
    p->env.claims = p->store.claims;  /* an OpenID token's claims, verified and cached */
    og_policy_evaluate(w->cfg, &p->q, &p->out);
    return true;
}

/* facts and decision: ask the registry only what the outcome says it needs. */
static void facts(struct pass *p)
{
    og_gather_facts(p->w, &p->q, &p->facts, p->digest_tag, sizeof(p->digest_tag), &p->out);
}

/* answer: the one outcome rendered; an allow carries the identity. */
static size_t answer(struct pass *p, char *buf, size_t cap)
{
    struct og_answer ans;

    memset(&ans, 0, sizeof(ans));
    ans.cfg = p->w->cfg;
    ans.role = p->req.role;
    ans.retry_after = p->store.retry_after;
    og_answer_from_outcome(&ans, &p->out, &p->id);
    if (ans.status == 200) {
        ans.user = p->id.user ? p->id.user : "";
        ans.groups = p->store.groups_csv;
        ans.auth = og_auth_name(p->id.auth);
    }
    return og_response_render(&ans, buf, cap);
}

/* log: one line and the counters, from the same outcome. */
static void log_request(struct pass *p)
{
    og_log_from_outcome(&p->log, &p->out);
    if (!p->log.auth && p->log.status == 200)   /* the CORS preflight: no identity asked */
        p->log.auth = og_auth_name(p->id.auth);
    p->log.micros = og_us_since(&p->t0);
    og_log_decision(&p->log);
    og_metrics_request(p->log.status, p->out.action, p->id.auth, p->log.micros);
    count_jwks_refreshes(p->w->oidc);
}

/* An endpoint ocigate serves itself: it renders and fills the log; we log. */
static size_t endpoint(struct pass *p, enum room room, enum og_endpoint ep, char *buf, size_t cap)
{
    size_t n = 0;

    switch (room == ROOM_CATALOG ? OG_EP_NONE : ep) {
    case OG_EP_TOKEN:   n = og_token_endpoint(p->w, &p->req, buf, cap, &p->log); break;
    case OG_EP_APIKEY:  n = og_apikey_endpoint(p->w, &p->req, p->body, buf, cap, &p->log); break;
    case OG_EP_METRICS: n = og_metrics_endpoint(p->w, &p->req, buf, cap, &p->log); break;
    case OG_EP_HEALTH:  n = og_health_endpoint(p->w, &p->req, buf, cap, &p->log); break;
    case OG_EP_LOGIN:   n = og_login_endpoint(p->w, &p->req, buf, cap, &p->log); break;
    case OG_EP_CALLBACK: n = og_callback_endpoint(p->w, &p->req, buf, cap, &p->log); break;
    case OG_EP_LOGOUT:  n = og_logout_endpoint(p->w, &p->req, buf, cap, &p->log); break;
    case OG_EP_KEYS:    n = og_keys_endpoint(p->w, &p->req, p->body, buf, cap, &p->log); break;
    case OG_EP_NONE:    n = og_catalog_endpoint(p->w, &p->req, buf, cap, &p->log); break;
    }
    if (n == 0) {                       /* nothing rendered: fail closed */
        n = strlen(og_response_unavailable);
        if (n >= cap)
            return 0;
        memcpy(buf, og_response_unavailable, n + 1);
        p->log.status = 503;
    }
    p->log.micros = og_us_since(&p->t0);
    og_log_decision(&p->log);
    og_metrics_request(p->log.status, OG_ACT_NONE, OG_AUTH_ANONYMOUS, p->log.micros);
    count_jwks_refreshes(p->w->oidc);
    return n;
}

size_t og_handle(struct og_worker_state *w, char *const *envp, const struct og_body *body,
                 char *buf, size_t cap)
{
    static struct pass p;             /* one request at a time per worker */
    enum og_endpoint ep = OG_EP_NONE;
    enum room room;
    size_t n;

    memset(&p, 0, sizeof(p));
    clock_gettime(CLOCK_MONOTONIC, &p.t0);
    p.w = w;
    p.envp = envp;
    p.body = body;
    w->request_failed = 0;

    params(&p);
    room = dispatch(&p, &ep);
    if (room == ROOM_MANIFEST)          /* logs and counts itself */
        return og_manifest_write(w, envp, &p.req, body, buf, cap);
    if (room == ROOM_ENDPOINT || room == ROOM_CATALOG)
        return endpoint(&p, room, ep, buf, cap);
    if (room == ROOM_DECIDE && route(&p) && identity(&p))
        facts(&p);
    n = answer(&p, buf, cap);
    log_request(&p);
    return n;
}
