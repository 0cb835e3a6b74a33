/*
 * health_metrics_endpoint.c - what operators look at: Prometheus metrics and health.
 *
 * GET endpoints.metrics: the counters of metrics.c, summed over all workers;
 * who may scrape is accessControl.metrics (anonymous needs
 * metrics.anonymousPolicy read, identities must be in metrics.users).
 * GET endpoints.health: 200 with the worker count and whether the backends
 * answer (Redis, the registry, the JWKS age); it does not need credentials,
 * so what it asks the backends is remembered for a second per worker: a
 * flood of health checks costs each backend at most one probe per second
 * per worker.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "decide.h"
#include "endpoints.h"
#include "identity.h"
#include "metrics.h"
#include "oidc.h"
#include "redis.h"
#include "registry.h"
#include "response.h"

static size_t deny(struct og_worker_state *w, const struct og_request *req, int status,
                   const char *rule, const char *reason, char *buf, size_t cap,
                   struct og_log_decision *log)
{
    return og_endpoint_deny(w, req, status, rule, reason, false, buf, cap, log);
}

static bool is_get(const struct og_request *req)
{
    return (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
           (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0);
}

size_t og_metrics_endpoint(struct og_worker_state *w, const struct og_request *req,
                           char *buf, size_t cap, struct og_log_decision *log)
{
    const struct og_config *cfg = w->cfg;
    struct og_identity id;
    struct og_identity_store store;
    struct og_route route;
    struct og_decision dec;
    const char *reason = "";
    static char text[OG_RESPONSE_MAX - 256];
    size_t n;
    int rc;

    log->action = "read";
    if (!is_get(req))
        return deny(w, req, 405, "metrics", "GET only", buf, cap, log);
    if ((rc = og_endpoint_identify(w, req, &id, &store, &reason, log)) != 0)
        return deny(w, req, rc, "credentials", reason, buf, cap, log);

    memset(&route, 0, sizeof(route));
    route.kind = OG_R_OUTSIDE;
    route.method = OG_M_GET;
    route.action = OG_ACT_READ;
    route.path = cfg->endpoint_metrics;
    route.path_len = strlen(cfg->endpoint_metrics);
    og_decide(cfg, &route, &id, NULL, &dec);
    if (dec.status != 200)
        return deny(w, req, dec.status, dec.rule, dec.reason, buf, cap, log);

    n = og_metrics_render(text, sizeof(text));
    if (n == 0)
        return deny(w, req, 503, "metrics", "metrics do not fit the answer", buf, cap, log);
    log->status = 200;
    log->rule = dec.rule;
    log->reason = dec.reason;
    {
        int h = snprintf(buf, cap, "Status: 200 OK\r\n"
                                   "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                   "Cache-Control: no-store\r\n\r\n");
        if (h < 0 || (size_t)h + n >= cap)
            return 0;
        memcpy(buf + h, text, n);
        buf[h + n] = '\0';
        return (size_t)h + n;
    }
}

#define PROBE_CACHE_MS 1000

/* The backends' state, probed at most once per PROBE_CACHE_MS (per worker). */
static void probe_backends(struct og_worker_state *w, bool *redis_up, bool *registry_up)
{
    static struct timespec last;
    static bool probed, redis_ok, registry_ok;
    long ms = og_ms_since(&last);

    if (!probed || ms < 0 || ms >= PROBE_CACHE_MS) {
        long status = 0;

        og_mono_now(&last);
        redis_ok = w->redis && og_redis_ping(w->redis);
        /* any HTTP answer from the registry's base route means it is there */
        og_registry_tag_exists(w->registry, "ocigate-health-check", "probe", &status);
        registry_ok = status == 200 || status == 401 || status == 404;
        probed = true;
    }
    *redis_up = redis_ok;
    *registry_up = registry_ok;
}

size_t og_health_endpoint(struct og_worker_state *w, const struct og_request *req,
                          char *buf, size_t cap, struct og_log_decision *log)
{
    char body[8192];
    long jwks_age = og_oidc_jwks_age(w->oidc);
    bool redis_up, registry_up;
    struct og_buf b;

    log->action = "health";
    if (!is_get(req))
        return deny(w, req, 405, "health", "GET only", buf, cap, log);
    probe_backends(w, &redis_up, &registry_up);
    og_buf_init(&b, body, sizeof body);
    og_buf_printf(&b, "{\"status\":\"ok\",\"workers\":%d,\"redis\":\"%s\",\"registry\":\"%s\","
                  , og_metrics_workers(), redis_up ? "up" : "down",
                  registry_up ? "up" : "down");
    /* which Redis node this worker talks to, and the master changes the workers saw */
    og_buf_puts(&b, "\"redis_master\":");
    if (redis_up && og_redis_master(w->redis))
        og_buf_json(&b, og_redis_master(w->redis), 300);
    else
        og_buf_puts(&b, "null");
    og_buf_printf(&b, ",\"redis_failovers\":%llu,\"jwks_age_seconds\":",
                  og_metrics_redis_failovers());
    if (!w->cfg->openid_enabled) {
        og_buf_puts(&b, "null");
    } else {
        /* the first issuer's age (as before), then every issuer's */
        og_buf_printf(&b, "%ld,\"issuers\":[", jwks_age);
        for (size_t i = 0; i < og_oidc_issuers(w->oidc); i++) {
            og_buf_puts(&b, i ? ",{\"issuer\":" : "{\"issuer\":");
            og_buf_json(&b, og_oidc_issuer_url(w->oidc, i), 2048);
            og_buf_printf(&b, ",\"jwks_age_seconds\":%ld}",
                          og_oidc_issuer_jwks_age(w->oidc, i));
        }
        og_buf_puts(&b, "]");
    }
    og_buf_puts(&b, "}");
    if (b.truncated)
        return 0;
    log->status = 200;
    log->rule = "health";
    log->reason = "health report";
    return og_response_json(200, body, b.len, buf, cap);
}
