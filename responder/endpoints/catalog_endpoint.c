/*
 * catalog_endpoint.c - /v2/_catalog filtered by what the caller may read
 * (doc/http.md; doc/decisions.md, deviation 6).
 *
 * A pure authorizer can only allow or deny the registry's catalog, which
 * would list every repository; so where the web server routes
 * /v2/_catalog to ocigate as a RESPONDER and marks it with the FastCGI
 * param OCIGATE_SERVE=catalog, ocigate fetches the whole catalog from the
 * registry, keeps the repositories the caller may read (zot's Can(read):
 * longest pattern, adminPolicy readers, API key scopes), and applies the
 * n/last pagination after filtering, with a Link header to the next page.
 * An anonymous request must not cost a walk of the whole catalog: one
 * request examines at most limits.catalogRepositories of the registry's
 * repositories (fetched in pages of up to 1000). Where that bound ends the
 * walk, the answer holds what was kept so far with a Link to continue after
 * the last repository kept (never after one the caller may not read: that
 * would name it); when nothing was kept, it is 503.
 * The marker is required so that an auth_request/forward_auth location
 * can never turn this body-carrying 200 into an "allow".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decide.h"
#include "evaluate.h"
#include "endpoints.h"
#include "identity.h"
#include "query.h"
#include "registry.h"
#include "response.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

struct filter {
    const struct og_config *cfg;
    const struct og_identity *id;
    size_t want;                 /* n + 1: one more tells whether a next page exists */
    json_t *names;
    size_t examined, max_examined;
    bool capped;                 /* more repositories follow than this request may examine */
};

static int keep_readable(const char *repo, size_t len, void *arg)
{
    struct filter *f = arg;

    if (f->examined == f->max_examined) {
        f->capped = true;                /* this one is beyond the bound */
        return 1;
    }
    f->examined++;
    if (!og_valid_repo(repo, len))
        return 0;
    if (!og_can(f->cfg, f->id, OG_ACT_READ, repo, len, NULL))
        return 0;
    if (json_array_size(f->names) >= f->want)
        return 1;                        /* enough: stop walking */
    json_array_append_new(f->names, json_stringn(repo, len));
    return 0;
}

static size_t deny(struct og_worker_state *w, const struct og_request *req, int status,
                   const char *reason, char *buf, size_t cap, struct og_log_decision *log)
{
    return og_endpoint_deny(w, req, status, "catalog", reason, false, buf, cap, log);
}

size_t og_catalog_endpoint(struct og_worker_state *w, const struct og_request *req,
                           char *buf, size_t cap, struct og_log_decision *log)
{
    const struct og_config *cfg = w->cfg;
    struct og_identity id;
    struct og_identity_store store;
    struct og_route route;
    struct og_query_iter it;
    struct filter f;
    char k[16], v[OG_REPO_MAX + 1], last[OG_REPO_MAX + 1] = "", link[OG_REPO_MAX + 96] = "";
    const char *reason = "", *q;
    size_t qlen, n = PAGE_DEFAULT, len = 0;
    char *body = NULL;
    int rc;
    bool anonymous_challenge;

    log->action = "read";
    if (!cfg->endpoint_catalog)
        return deny(w, req, 404, "endpoints.catalog is disabled", buf, cap, log);
    og_route_classify(req->method, req->method_len, req->uri, req->uri_len, NULL, 0, &route);
    if (route.status)
        return deny(w, req, route.status, route.reason, buf, cap, log);
    if (route.kind != OG_R_CATALOG)
        return deny(w, req, 400, "OCIGATE_SERVE=catalog on a location that is not /v2/_catalog",
                    buf, cap, log);

    /* token.challengeAnonymous: no credentials at all is a challenge naming
       the catalog's scope, as for a token without it. */
    anonymous_challenge = !req->authorization && og_challenges_anonymous(cfg, &route);
    if (!anonymous_challenge && (rc = og_endpoint_identify(w, req, &id, &store, &reason, log)) != 0)
        return deny(w, req, rc, reason, buf, cap, log);
    /* An ocigate token lists the catalog only with registry:catalog:*; the
       names it shows are then the ones the identity may read. */
    if (anonymous_challenge || !og_token_grants_catalog(&id)) {
        struct og_answer a = { .status = 401, .role = req->role, .cfg = cfg, .action = "read",
                               .rule = anonymous_challenge ? "challenge" : "token scope",
                               .reason = anonymous_challenge
                                   ? "no credentials: token.challengeAnonymous asks for a token first"
                                   : "the token does not grant the catalog; "
                                     "ask the token endpoint for it",
                               .insufficient_scope = 1, .scope_type = "registry",
                               .scope_name = "catalog", .scope_actions = "*" };
        log->status = 401;
        log->rule = a.rule;
        log->reason = a.reason;
        return og_response_render(&a, buf, cap);
    }
    id.token = false;

    /* the route already validated n and last; read them back */
    q = og_query_of(req->uri, req->uri_len, &qlen);
    og_query_init(&it, q, qlen);
    while (og_query_next(&it, k, sizeof(k), v, sizeof(v)) == 1) {
        if (strcmp(k, "n") == 0)
            n = (size_t)strtoul(v, NULL, 10);
        else if (strcmp(k, "last") == 0)
            snprintf(last, sizeof(last), "%s", v);
    }
    if (n == 0 || n > PAGE_MAX)
        n = n == 0 ? PAGE_DEFAULT : PAGE_MAX;

    memset(&f, 0, sizeof(f));
    f.cfg = cfg;
    f.id = &id;
    f.want = n + 1;
    f.max_examined = cfg->catalog_max_repositories > 0 ? (size_t)cfg->catalog_max_repositories
                                                       : 5000;
    f.names = json_array();
    if (!f.names)
        return deny(w, req, 503, "out of memory", buf, cap, log);
    /* pages just large enough to see whether one more follows the bound */
    if (og_registry_catalog(w->registry, last[0] ? last : NULL,
                            f.max_examined < 1000 ? f.max_examined + 1 : 1000,
                            keep_readable, &f) != 0) {
        json_decref(f.names);
        return deny(w, req, 503, "the registry's catalog could not be read", buf, cap, log);
    }
    if (json_array_size(f.names) > n) {           /* there is a next page */
        json_array_remove(f.names, n);
        snprintf(link, sizeof(link), "Link: </v2/_catalog?last=%s&n=%zu>; rel=\"next\"\r\n",
                 json_string_value(json_array_get(f.names, n - 1)), n);
    } else if (f.capped && json_array_size(f.names) > 0) {   /* continue after the last kept */
        snprintf(link, sizeof(link), "Link: </v2/_catalog?last=%s&n=%zu>; rel=\"next\"\r\n",
                 json_string_value(json_array_get(f.names, json_array_size(f.names) - 1)), n);
    } else if (f.capped) {
        json_decref(f.names);
        return deny(w, req, 503, "no repository you may read among the next "
                    "limits.catalogRepositories of the registry's catalog", buf, cap, log);
    }
    {
        json_t *doc = json_pack("{s:o}", "repositories", f.names);
        body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
    }
    if (body) {
        int h = snprintf(buf, cap, "Status: 200 OK\r\nContent-Type: application/json\r\n"
                                   "Docker-Distribution-Api-Version: registry/2.0\r\n%s\r\n", link);
        size_t blen = strlen(body);
        if (h > 0 && (size_t)h + blen < cap) {
            memcpy(buf + h, body, blen + 1);
            len = (size_t)h + blen;
        }
        free(body);
    }
    if (!len)
        return deny(w, req, 503, "the catalog page does not fit the answer", buf, cap, log);
    log->status = 200;
    log->rule = "catalog";
    log->reason = "filtered catalog";
    return len;
}
