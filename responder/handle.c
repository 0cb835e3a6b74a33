/*
 * handle.c - the request path (doc/decisions.md), as one straight function:
 *
 *   params -> request -> route -> identity -> facts -> decision -> response -> log
 *
 * Each step is a plain call on a plain struct; nothing reaches back. The
 * facts step asks the registry only when og_decide() says the answer depends
 * on whether a tag exists; an unsure registry is 503, never an allow.
 */
#include "handle.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "decide.h"
#include "endpoints.h"
#include "htpasswd.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "oidc.h"
#include "registry.h"
#include "request.h"
#include "response.h"
#include "route.h"

static size_t path_length(const char *uri, size_t len)
{
    const char *q = memchr(uri, '?', len);
    return q ? (size_t)(q - uri) : len;
}

/* Facts: ask the registry about every tag whose state the decision needs. */
bool og_gather_tag_facts(struct og_worker_state *w, const struct og_route *route,
                             struct og_facts *facts)
{
    for (size_t i = 0; i < route->ntags; i++) {
        long http = 0;
        if (facts->tag[i] != OG_TAG_UNKNOWN)
            continue;
        enum og_reg_answer a = og_registry_tag_exists(w->registry, route->repo, route->tags[i],
                                                      &http);
        /* A registry that is writing this tag right now may fail to read it
           back (distribution's filesystem driver rewrites link files in
           place: a HEAD racing a PUT of the same tag gets a 500 now and then).
           Ask again a few times, briefly, before giving up with a 503. */
        for (int retry = 1; a == OG_REG_ERROR && http >= 500 && retry <= 3; retry++) {
            struct timespec ts = { 0, retry * 25 * 1000 * 1000L };
            nanosleep(&ts, NULL);
            a = og_registry_tag_exists(w->registry, route->repo, route->tags[i], &http);
        }
        switch (a) {
        case OG_REG_EXISTS: facts->tag[i] = OG_TAG_EXISTS; break;
        case OG_REG_ABSENT: facts->tag[i] = OG_TAG_ABSENT; break;
        default:
            og_log(OG_LOG_WARN, "registry: HEAD %s:%s failed (HTTP %ld)", route->repo,
                   route->tags[i], http);
            og_metrics_backend_error(OG_BACKEND_REGISTRY);
            return false;
        }
    }
    return true;
}

/* Facts for a delete by digest: the first tag an immutableTags rule covers
   that points at the digest. Deletes are rare: list and resolve, bounded. */
struct digest_walk {
    struct og_worker_state *w;
    const struct og_route *route;
    char *found;          /* out: the protecting tag */
    size_t found_cap;
    int resolved;
    int error;
    int via_index;        /* out: found points at an index listing the digest */
};

#define MAX_RESOLVED_TAGS 256

static int check_tag_for_digest(const char *tag, size_t len, void *arg)
{
    struct digest_walk *dw = arg;
    char t[OG_TAG_MAX + 1];

    if (len > OG_TAG_MAX || !og_valid_tag(tag, len))
        return 0;
    memcpy(t, tag, len);
    t[len] = '\0';
    if (!og_immutable_rule_for(dw->w->cfg, dw->route->repo, dw->route->repo_len, t))
        return 0;
    if (++dw->resolved > MAX_RESOLVED_TAGS) {
        dw->error = 1;                      /* too many to check: fail closed */
        return 1;
    }
    switch (og_registry_tag_covers(dw->w->registry, dw->route->repo, t, dw->route->reference,
                                   &dw->via_index)) {
    case OG_REG_EXISTS:             /* the tag points at it, or at an index listing it */
        snprintf(dw->found, dw->found_cap, "%s", t);
        return 1;
    case OG_REG_ABSENT:
        return 0;                           /* deleted meanwhile */
    default:
        dw->error = 1;
        return 1;
    }
}

static bool gather_digest_facts(struct og_worker_state *w, const struct og_route *route,
                                struct og_facts *facts, char *found, size_t cap)
{
    struct digest_walk dw = { w, route, found, cap, 0, 0, 0 };

    found[0] = '\0';
    if (og_registry_list_tags(w->registry, route->repo, check_tag_for_digest, &dw) != 0 || dw.error) {
        og_metrics_backend_error(OG_BACKEND_REGISTRY);
        return false;
    }
    facts->digest_tags_known = true;
    facts->digest_tag = found[0] ? found : NULL;
    facts->digest_in_index = found[0] && dw.via_index;
    return true;
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

size_t og_handle(struct og_worker_state *w, char *const *envp, const struct og_body *body,
                 char *buf, size_t cap)
{
    const struct og_config *cfg = w->cfg;
    struct timespec t0;
    struct og_request req;
    struct og_route route;
    struct og_credentials cred;
    struct og_identity id;
    struct og_identity_store store;
    struct og_identify_ctx ictx = { cfg, w->htpasswd, w->apikeys, w->oidc, w->tokens,
                                     w->redis, "", &w->request_failed };
    struct og_facts facts;
    struct og_decision dec;
    struct og_answer ans;
    struct og_log_decision log;
    const char *reason = "";
    char digest_tag[OG_TAG_MAX + 1];
    int cache_hit = 0;
    size_t n;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    w->request_failed = 0;
    memset(&ans, 0, sizeof(ans));
    memset(&log, 0, sizeof(log));
    memset(&facts, 0, sizeof(facts));
    memset(&id, 0, sizeof(id));
    memset(&dec, 0, sizeof(dec));
    store.user[0] = store.groups_csv[0] = store.key_id[0] = '\0';
    cred.kind = OG_CRED_NONE;
    cred.secret_len = 0;
    ans.cfg = cfg;
    dec.rule = "none";
    dec.reason = "";

    /* request */
    og_request_from_params(envp, cfg->trust_forwarded_headers, &req);
    ictx.remote = req.remote_addr;
    ans.role = req.role;
    log.remote = req.remote_addr;
    log.method = req.method;
    if (req.uri) {
        log.path = req.uri;
        log.path_len = path_length(req.uri, req.uri_len);
    }
    if (req.status) {
        ans.status = req.status;
        dec.rule = "request";
        dec.reason = req.reason;
        goto answer;
    }
    if (req.role == OG_ROLE_UNKNOWN) {
        ans.status = 400;
        dec.rule = "request";
        dec.reason = "unsupported FastCGI role";
        goto answer;
    }

    /* endpoints ocigate serves itself (never in the AUTHORIZER role) */
    if (req.role == OG_ROLE_RESPONDER) {
        switch (og_endpoint_match(cfg, log.path, log.path_len)) {
        case OG_EP_TOKEN:
            n = og_token_endpoint(w, &req, buf, cap, &log);
            goto endpoint_done;
        case OG_EP_APIKEY:
            n = og_apikey_endpoint(w, &req, body, buf, cap, &log);
            goto endpoint_done;
        case OG_EP_METRICS:
            n = og_metrics_endpoint(w, &req, buf, cap, &log);
            goto endpoint_done;
        case OG_EP_HEALTH:
            n = og_health_endpoint(w, &req, buf, cap, &log);
            goto endpoint_done;
        case OG_EP_NONE:
            break;
        }
        if (req.serve) {
            if (strcmp(req.serve, "catalog") == 0) {
                n = og_catalog_endpoint(w, &req, buf, cap, &log);
                goto endpoint_done;
            }
            if (strcmp(req.serve, "manifest") == 0)   /* logs and counts itself */
                return og_manifest_write(w, envp, &req, body, buf, cap);
            ans.status = 400;
            dec.rule = "request";
            dec.reason = "unknown OCIGATE_SERVE value";
            goto answer;
        }
    }

    /* When lighttpd rewrote the target (REDIRECT_URI), the registry would get
       something other than what is judged here: refuse. Endpoints ocigate
       serves itself proxy nothing, so they were dispatched above. */
    if (req.redirect_uri && strcmp(req.redirect_uri, req.uri) != 0) {
        ans.status = 400;
        dec.rule = "request";
        dec.reason = "rewritten target (REDIRECT_URI differs from REQUEST_URI)";
        goto answer;
    }

    /* route */
    og_route_classify(req.method, req.method_len, req.uri, req.uri_len,
                      req.content_type, req.content_type_len, &route);
    log.repository = route.repo;
    if (route.status) {
        ans.status = route.status;
        dec.rule = "route";
        dec.reason = route.reason ? route.reason : "refused";
        goto answer;
    }
    if (route.kind == OG_R_OPTIONS) {
        ans.status = 200;
        dec.rule = "route";
        dec.reason = "CORS preflight";
        ans.auth = log.auth = og_auth_name(OG_AUTH_ANONYMOUS);
        goto answer;
    }

    /* identity */
    og_credentials_parse(req.authorization, req.authorization_len, &cred);
    if (route.kind == OG_R_PING && !req.authorization) {
        /* Clients learn how to authenticate from this answer only (doc/http.md). */
        ans.status = 401;
        dec.rule = "challenge";
        dec.reason = "no credentials on /v2/: challenge";
        goto answer;
    }
    switch (og_identify(&ictx, &cred, &id, &store, &reason, &cache_hit)) {
    case OG_ID_OK:
        if (cred.kind != OG_CRED_NONE)
            count_credential(&id, cache_hit);
        break;
    case OG_ID_BAD_CREDENTIALS:
        ans.status = 401;
        dec.rule = "credentials";
        dec.reason = reason;
        log.user = "";
        goto answer;
    case OG_ID_THROTTLED:
        ans.status = 429;
        ans.retry_after = store.retry_after;
        dec.rule = "throttle";
        dec.reason = reason;
        log.user = "";
        goto answer;
    default:
        ans.status = 503;
        dec.rule = "credentials";
        dec.reason = reason;
        og_metrics_backend_error(store.backend);   /* the one og_identify asked */
        goto answer;
    }
    og_credentials_wipe(&cred);
    og_identity_groups_csv(cfg, &id, &store);
    log.user = id.user ? id.user : "";
    log.auth = og_auth_name(id.auth);
    log.key_id = store.key_id;

    /* decision, with facts only when it needs them */
    og_decide(cfg, &route, &id, NULL, &dec);
    if (dec.need == OG_NEED_TAG_STATE) {
        if (!og_gather_tag_facts(w, &route, &facts)) {
            ans.status = 503;
            dec.rule = "registry";
            dec.reason = "the registry could not say whether the tag exists";
            goto answer;
        }
        og_decide(cfg, &route, &id, &facts, &dec);
    } else if (dec.need == OG_NEED_DIGEST_TAGS) {
        if (!gather_digest_facts(w, &route, &facts, digest_tag, sizeof(digest_tag))) {
            ans.status = 503;
            dec.rule = "registry";
            dec.reason = "the registry could not say which tags point at the digest";
            goto answer;
        }
        og_decide(cfg, &route, &id, &facts, &dec);
    }
    if (dec.need != OG_NEED_NOTHING) {              /* cannot happen; fail closed */
        ans.status = 503;
        dec.reason = "decision incomplete";
        goto answer;
    }
    /* A claimed write can be served only by manifest_write.c (OCIGATE_SERVE=manifest). */
    og_decide_without_claims(&dec);
    ans.status = dec.status;
    ans.user = id.user ? id.user : "";
    ans.groups = store.groups_csv;
    ans.auth = og_auth_name(id.auth);

answer:
    og_credentials_wipe(&cred);
    if (ans.status == 0)
        ans.status = 503;
    if (ans.status != 200) {
        ans.action = dec.action ? og_action_name(dec.action) : NULL;
        ans.repository = log.repository;
        ans.rule = dec.rule;
        ans.reason = dec.reason;
        ans.tag = dec.tag;
        ans.insufficient_scope = dec.insufficient_scope;
        ans.scope_type = dec.scope_type;
        ans.scope_name = dec.scope_name;
        ans.scope_actions = dec.scope_actions;
        og_answer_about(&ans, &id, log.repository);
    }
    n = og_response_render(&ans, buf, cap);
    log.status = ans.status;
    log.action = dec.action ? og_action_name(dec.action) : "";
    log.rule = dec.rule;
    log.reason = dec.reason;
    log.tag = dec.tag;
    log.micros = og_us_since(&t0);
    og_log_decision(&log);
    og_metrics_request(ans.status, dec.action, id.auth, log.micros);
    count_jwks_refreshes(w->oidc);
    return n;

endpoint_done:
    if (n == 0) {                       /* nothing rendered: fail closed */
        n = strlen(og_response_unavailable);
        if (n >= cap)
            return 0;
        memcpy(buf, og_response_unavailable, n + 1);
        log.status = 503;
    }
    log.micros = og_us_since(&t0);
    og_log_decision(&log);
    og_metrics_request(log.status, OG_ACT_NONE, OG_AUTH_ANONYMOUS, log.micros);
    count_jwks_refreshes(w->oidc);
    return n;
}
