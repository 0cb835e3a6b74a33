/*
 * manifest_write.c - PUT /v2/NAME/manifests/REF served by ocigate itself
 * (RESPONDER role, on a location where the web server sets the FastCGI
 * param OCIGATE_SERVE=manifest), so that the decision and the write are one
 * transaction whose end ocigate sees:
 *
 *   route -> identity -> refusals that need no facts -> body (at most 4 MiB)
 *   -> does each tag exist? -> decision -> claims (all or none) -> does each
 *   claimed tag exist now? -> PUT to the registry (deadline
 *   registry.writeTimeoutMs) -> release the claims -> the registry's answer
 *
 * The tag check happens after the whole body has arrived, however slowly it
 * came, so a slow push cannot be judged on a registry state that changed
 * while it trickled. A claim is held only while its write is in flight: it
 * is released as soon as the registry answered, success or failure (after
 * a success the tag exists, and every later push sees it: the re-check
 * after claiming closes the window between a push's first look and its
 * claim). When the registry may have received the write but did not answer
 * (deadline, broken connection), the claim is left to its TTL (the
 * deadline plus OG_CLAIM_GRACE_S), since the registry may still be writing.
 *
 * Every refusal is the usual OCI error answer; the registry's answer is
 * passed on with its status, headers (no hop-by-hop ones) and body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tag_claims.h"
#include "clock.h"
#include "decide.h"
#include "evaluate.h"
#include "handle.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "outcome.h"
#include "registry.h"
#include "request.h"
#include "response.h"
#include "route.h"
#include "text.h"

#define MANIFEST_MAX (4u << 20)        /* the OCI distribution spec's limit */

/* One body at a time per worker; pages are touched only as far as used. */
static char body_buf[MANIFEST_MAX + 1];

struct mw {
    struct og_worker_state *w;
    char *const *envp;
    const struct og_request *req;
    struct og_route route;
    struct og_identity id;
    struct og_identity_store store;
    struct og_facts facts;
    char digest_tag[OG_TAG_MAX + 1];
    struct og_query q;                /* the decision's query and its one outcome */
    struct og_request_env env;        /* what accessControl conditions read */
    struct og_outcome out;
    struct og_log_decision log;
    char claim_value[OG_MAX_TAGS][OG_CLAIM_VALUE_MAX];
    bool identified;                  /* id holds the caller (for the message) */
    struct timespec t0;
};

static void finish_log(struct mw *m)
{
    og_log_from_outcome(&m->log, &m->out);
    m->log.micros = og_us_since(&m->t0);
    og_log_decision(&m->log);
    og_metrics_request(m->log.status, m->out.action, m->id.auth, m->log.micros);
}

/* The one OCI error shape, from the outcome (status, and rule and reason
   unless NULL, replace the decision's), logged and counted. */
static size_t refuse(struct mw *m, int status, const char *rule, const char *reason,
                     int retry_after, char *buf, size_t cap)
{
    struct og_answer a;
    size_t n;

    og_outcome_refuse(&m->out, status, rule, reason);
    memset(&a, 0, sizeof(a));
    /* rendered as for the AUTHORIZER role: this answer goes to the client as
       it is, so without the X-Ocigate-Error copy that nginx's auth_request
       needs (a denial carries no identity headers in either role) */
    a.role = OG_ROLE_AUTHORIZER;
    a.cfg = m->w->cfg;
    a.retry_after = retry_after;
    og_answer_from_outcome(&a, &m->out, m->identified ? &m->id : NULL);
    n = og_response_render(&a, buf, cap);
    finish_log(m);
    return n;
}

/* The outcome as it stands, as the answer. */
static size_t deny(struct mw *m, char *buf, size_t cap)
{
    return refuse(m, m->out.status, NULL, NULL, 0, buf, cap);
}

/* Release every claim this request holds (compare-and-delete). */
static void release_claims(struct mw *m)
{
    for (size_t i = 0; i < m->route.ntags && i < OG_MAX_TAGS; i++) {
        if (!m->claim_value[i][0])
            continue;
        if (og_claim_release(m->w->redis, m->route.repo, m->route.tags[i], m->claim_value[i]) != 0) {
            og_log(OG_LOG_WARN, "claim %s:%s could not be released; it ends with its TTL",
                   m->route.repo, m->route.tags[i]);
            og_metrics_backend_error(OG_BACKEND_REDIS);
        }
        m->claim_value[i][0] = '\0';
    }
}

/* Claim every tag the decision marked, all or none. 0 all taken; 1 one was
   held by another push (its bit is set in q.lost_claims); -1 Redis could not say. */
static int claim_all(struct mw *m)
{
    int ttl = og_claim_ttl_s(m->w->cfg->registry_write_timeout_ms);

    for (size_t i = 0; i < m->route.ntags && i < OG_MAX_TAGS; i++) {
        if (!(m->out.claim & (1u << i)))
            continue;
        switch (og_claim_tag(m->w->redis, m->route.repo, m->route.tags[i], m->id.user, ttl,
                             m->claim_value[i], sizeof(m->claim_value[i]))) {
        case OG_CLAIM_TAKEN:
            break;
        case OG_CLAIM_HELD:
            m->q.lost_claims |= 1u << i;       /* another push got there first */
            release_claims(m);
            return 1;
        default:
            og_metrics_backend_error(OG_BACKEND_REDIS);
            release_claims(m);
            return -1;
        }
    }
    return 0;
}

/* Read the whole body: its length, or -1 (read failed or deadline), -2 (too large). */
static long read_body(const struct og_body *body, long content_length)
{
    size_t got = 0;

    if (!body || !body->read)
        return -1;
    for (;;) {
        int want = (int)(sizeof(body_buf) - got > 65536 ? 65536 : sizeof(body_buf) - got);
        int n;
        if (want == 0)
            return -2;                  /* one byte past the limit arrived */
        n = body->read(body->ctx, body_buf + got, want);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > MANIFEST_MAX)
            return -2;
        if (content_length >= 0 && got >= (size_t)content_length)
            break;
    }
    return (long)got;
}

/* CONTENT_LENGTH: -1 absent or empty, -2 malformed, else the value. */
static long content_length_of(const char *v)
{
    long n = 0;

    if (!v || !*v)
        return -1;
    for (size_t i = 0; v[i]; i++) {
        if (v[i] < '0' || v[i] > '9' || i >= 10)
            return -2;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

/* A header value from outside: printable ASCII only, bounded. */
static bool printable(const char *s, size_t max)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f || i >= max)
            return false;
    return true;
}

static const char *reason_phrase(long status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Registry Answer";
    }
}

/* The registry's answer as ours: Status first, its headers, our Content-Length. */
static size_t render_reply(const struct og_reg_reply *rep, char *buf, size_t cap)
{
    int h = snprintf(buf, cap, "Status: %ld %s\r\n", rep->status, reason_phrase(rep->status));
    size_t len, blen = rep->body_truncated ? 0 : rep->body_len;

    if (h < 0 || (size_t)h >= cap)
        return 0;
    len = (size_t)h;
    if (len + rep->headers_len + 64 + blen >= cap)
        return 0;
    memcpy(buf + len, rep->headers, rep->headers_len);
    len += rep->headers_len;
    h = snprintf(buf + len, cap - len, "Content-Length: %zu\r\n\r\n", blen);
    if (h < 0 || (size_t)h >= cap - len)
        return 0;
    len += (size_t)h;
    memcpy(buf + len, rep->body, blen);
    len += blen;
    buf[len] = '\0';
    return len;
}

/* route and identity, and what can be refused without the body or the
   registry. 0: go on; else the answer's length (already logged). */
static size_t decide_before_body(struct mw *m, char *buf, size_t cap)
{
    struct og_worker_state *w = m->w;
    const struct og_request *req = m->req;
    struct og_identify_ctx ictx = { w->cfg, w->htpasswd, w->apikeys, w->oidc, w->tokens,
                                     w->redis, req->remote_addr, &w->request_failed };
    struct og_credentials cred;
    const char *reason = "";
    int cache_hit = 0, rc;

    /* route: only a manifest PUT belongs here */
    og_route_classify(req->method, req->method_len, req->uri, req->uri_len,
                      req->content_type, req->content_type_len, &m->route);
    m->log.repository = m->route.repo;
    m->q.route = &m->route;
    m->q.has_authorization = req->authorization != NULL;
    m->q.holds_claims = true;         /* this transaction claims, and holds the claim */
    if (w->cfg->has_conditions) {     /* as handle.c: conditions see the same request */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        m->env.user_agent = req->user_agent;
        m->env.client_ip = req->remote_addr;
        m->env.forwarded_for = req->forwarded_for;
        m->env.tls = req->https;
        m->env.tls_version = req->tls_version ? req->tls_version : "";
        m->env.time_s = now.tv_sec;
        m->env.time_ns = (int)now.tv_nsec;
        m->q.env = &m->env;
    }
    og_policy_evaluate(w->cfg, &m->q, &m->out);
    if (!m->route.status && (m->route.kind != OG_R_MANIFEST || m->route.method != OG_M_PUT))
        return refuse(m, 400, "request", "OCIGATE_SERVE=manifest on a request that is not "
                      "PUT /v2/NAME/manifests/REF", 0, buf, cap);
    if (m->out.need != OG_NEED_IDENTITY)
        return deny(m, buf, cap);

    /* identity */
    og_credentials_parse(req->authorization, req->authorization_len, &cred);
    rc = og_identify(&ictx, &cred, &m->id, &m->store, &reason, &cache_hit);
    og_credentials_wipe(&cred);
    switch (rc) {
    case OG_ID_OK:
        break;
    case OG_ID_BAD_CREDENTIALS:
        return refuse(m, 401, "credentials", reason, 0, buf, cap);
    case OG_ID_THROTTLED:
        return refuse(m, 429, "throttle", reason, m->store.retry_after, buf, cap);
    default:
        og_metrics_backend_error(m->store.backend);   /* the one og_identify asked */
        return refuse(m, 503, "credentials", reason, 0, buf, cap);
    }
    m->identified = true;
    og_identity_groups_csv(w->cfg, &m->id, &m->store);
    m->log.user = m->id.user ? m->id.user : "";
    m->log.auth = og_auth_name(m->id.auth);
    m->log.key_id = m->store.key_id;
    m->q.id = &m->id;
    m->env.claims = m->store.claims;  /* an OpenID token's claims (conditions' req.claims) */
    og_policy_evaluate(w->cfg, &m->q, &m->out);
    if (m->out.need == OG_NEED_NOTHING && m->out.status != 200)
        return deny(m, buf, cap);
    return 0;
}

/* body: all of it, before anything is looked up. 0: *blen holds it. */
static size_t take_body(struct mw *m, const struct og_body *body, long *blen,
                        char *buf, size_t cap)
{
    long clen = content_length_of(og_param(m->envp, "CONTENT_LENGTH"));

    if (clen == -2)
        return refuse(m, 400, "request", "malformed CONTENT_LENGTH", 0, buf, cap);
    if (clen > (long)MANIFEST_MAX)
        return refuse(m, 413, "request", "manifest larger than 4 MiB", 0, buf, cap);
    *blen = read_body(body, clen);
    if (*blen == -2)
        return refuse(m, 413, "request", "manifest larger than 4 MiB", 0, buf, cap);
    if (*blen < 0)
        return refuse(m, 408, "request", "the manifest body could not be read completely "
                      "(deadline or broken connection)", 0, buf, cap);
    if (clen >= 0 && *blen != clen)
        return refuse(m, 400, "request", "the body is shorter than CONTENT_LENGTH",
                      0, buf, cap);
    return 0;
}

/* claims: all or none, then one more look at the registry; a claim lost to
   a concurrent push is the policy's to decide again. 0: go on. */
static size_t claim_and_recheck(struct mw *m, char *buf, size_t cap)
{
    struct og_facts now = m->facts;
    int rc = claim_all(m);

    if (rc < 0)
        return refuse(m, 503, "claim", "Redis could not claim the tag", 0, buf, cap);
    if (rc == 0) {
        /* a push that landed between our first look and our claim */
        for (size_t i = 0; i < m->route.ntags && i < OG_MAX_TAGS; i++)
            if (m->claim_value[i][0])
                now.tag[i] = OG_TAG_UNKNOWN;
        if (!og_gather_tag_facts(m->w, &m->route, &now)) {
            release_claims(m);
            return refuse(m, 503, "registry", "the registry could not say whether the tag "
                          "exists", 0, buf, cap);
        }
        for (size_t i = 0; i < m->route.ntags && i < OG_MAX_TAGS; i++)
            if (m->claim_value[i][0] && now.tag[i] == OG_TAG_EXISTS)
                m->q.lost_claims |= 1u << i;
        if (m->q.lost_claims)
            release_claims(m);
    }
    if (!m->q.lost_claims)
        return 0;
    og_policy_evaluate(m->w->cfg, &m->q, &m->out);
    return deny(m, buf, cap);
}

/* The request to the registry carries the identity and the client's Host. */
static size_t forward_headers(struct mw *m, char hdr[][1152], const char **hdrs)
{
    char *const *envp = m->envp;
    const struct og_request *req = m->req;
    const char *p = req->content_type, *scheme = og_param(envp, "REQUEST_SCHEME");
    size_t nh = 0;
    bool tls;

    if (p && printable(p, 255))
        snprintf(hdr[nh], 1152, "Content-Type: %s", p);
    else
        snprintf(hdr[nh], 1152, "Content-Type:");   /* none: curl adds none */
    nh++;
    p = og_param(envp, "HTTP_HOST");
    if (p && *p && printable(p, 255))
        snprintf(hdr[nh++], 1152, "Host: %s", p);
    p = og_param(envp, "HTTPS");
    tls = (p && (strcasecmp(p, "on") == 0 || strcmp(p, "1") == 0)) ||
          (scheme && strcasecmp(scheme, "https") == 0);
    snprintf(hdr[nh++], 1152, "X-Forwarded-Proto: %s", tls ? "https" : "http");
    if (req->remote_addr && *req->remote_addr && printable(req->remote_addr, 64))
        snprintf(hdr[nh++], 1152, "X-Forwarded-For: %s", req->remote_addr);
    snprintf(hdr[nh++], 1152, "X-Ocigate-User: %.1024s", m->log.user);
    snprintf(hdr[nh++], 1152, "X-Ocigate-Groups: %.1024s", m->store.groups_csv);
    snprintf(hdr[nh++], 1152, "X-Ocigate-Auth: %s", m->log.auth);
    for (size_t i = 0; i < nh; i++) {
        for (char *c = hdr[i]; *c; c++)          /* never a CR/LF into the request */
            if (og_is_control((unsigned char)*c))
                *c = '?';
        hdrs[i] = hdr[i];
    }
    return nh;
}

/* forward, on the worker's keep-alive handle, and pass the answer on */
static size_t forward(struct mw *m, size_t blen, bool claimed, char *buf, size_t cap)
{
    char hdr[OG_REGISTRY_MAX_EXTRA_HEADERS][1152];
    const char *hdrs[OG_REGISTRY_MAX_EXTRA_HEADERS];
    size_t nh = forward_headers(m, hdr, hdrs), n;
    const struct og_route *r = &m->route;
    struct og_reg_reply rep;
    int rc;

    rc = og_registry_put_manifest(m->w->registry, r->repo, r->reference,
                                  r->ntags && r->ref_is_digest
                                      ? (const char (*)[OG_TAG_MAX + 1])r->tags : NULL,
                                  r->ref_is_digest ? r->ntags : 0, hdrs, nh, body_buf, blen,
                                  m->w->cfg->registry_write_timeout_ms, &rep);
    if (rc != 0 || rep.status < 200 || rep.status > 599) {
        og_metrics_backend_error(OG_BACKEND_REGISTRY);
        if (claimed && rep.maybe_sent)
            og_log(OG_LOG_WARN, "registry: manifest PUT %s:%s got no answer; its claim is left "
                   "to expire (the registry may still be writing)", r->repo,
                   m->out.tag ? m->out.tag : "");
        else
            release_claims(m);
        if (rep.timed_out)
            return refuse(m, 504, "registry", "the registry did not answer the manifest write "
                          "in time (registry.writeTimeoutMs)", 0, buf, cap);
        return refuse(m, 502, "registry", "the registry could not be asked to write the manifest",
                      0, buf, cap);
    }
    release_claims(m);                /* success: the tag exists now; failure: retry at once */

    n = render_reply(&rep, buf, cap);
    if (n == 0)
        return refuse(m, 502, "registry", "the registry's answer does not fit", 0, buf, cap);
    m->out.status = (int)rep.status;
    if (rep.status < 200 || rep.status > 299)
        m->out.reason = "the registry refused the manifest";
    else
        m->out.reason = claimed ? "written under the tag's claim" : "written";
    finish_log(m);
    return n;
}

size_t og_manifest_write(struct og_worker_state *w, char *const *envp,
                         const struct og_request *req, const struct og_body *body,
                         char *buf, size_t cap)
{
    static struct mw m;               /* large (claim values): not on the stack */
    long blen = 0;
    size_t n;
    bool claimed;

    memset(&m, 0, sizeof(m));
    clock_gettime(CLOCK_MONOTONIC, &m.t0);
    m.w = w;
    m.envp = envp;
    m.req = req;
    m.log.remote = req->remote_addr;
    m.log.method = req->method;
    m.log.user = m.log.auth = "";
    if (req->uri) {
        const char *q = memchr(req->uri, '?', req->uri_len);
        m.log.path = req->uri;
        m.log.path_len = q ? (size_t)(q - req->uri) : req->uri_len;
    }

    if ((n = decide_before_body(&m, buf, cap)) || (n = take_body(&m, body, &blen, buf, cap)))
        return n;
    /* facts and the decision, on the registry as it is now */
    if (!og_gather_facts(w, &m.q, &m.facts, m.digest_tag, sizeof(m.digest_tag), &m.out) ||
        m.out.status != 200)
        return deny(&m, buf, cap);
    claimed = m.out.claim != 0;
    if (claimed && (n = claim_and_recheck(&m, buf, cap)))
        return n;
    return forward(&m, (size_t)blen, claimed, buf, cap);
}
