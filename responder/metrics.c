/*
 * metrics.c - shared-memory counters and their Prometheus exposition.
 *
 * One struct of 64-bit counters in a MAP_SHARED|MAP_ANONYMOUS mapping made
 * by the master; workers inherit it across fork() and add with relaxed
 * atomics. Nothing here allocates on the request path.
 */
#include "metrics.h"
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define N_ACTIONS 6     /* none, read, create, update, delete, other */
#define N_AUTH    4
#define N_STATUS  9
#define N_BUCKETS 12

static const int statuses[N_STATUS] = { 200, 201, 400, 401, 403, 404, 405, 429, 503 };
static const long buckets_us[N_BUCKETS] = { 50, 100, 250, 500, 1000, 2500, 5000, 10000,
                                            25000, 50000, 100000, 250000 };
static const char *const action_names[N_ACTIONS] = { "none", "read", "create", "update",
                                                     "delete", "other" };
static const char *const auth_names[N_AUTH] = { "anonymous", "htpasswd", "apikey", "openid" };
static const char *const cache_names[OG_CACHE_N] = { "htpasswd", "apikey", "oidc" };
static const char *const backend_names[OG_BACKEND_N] = { "registry", "redis", "jwks" };
static const char *const redis_error_names[OG_REDIS_ERR_N] = { "connect", "timeout", "auth",
                                                               "readonly", "sentinel",
                                                               "replication", "reply" };

struct shared {
    uint64_t requests[2][N_ACTIONS][N_AUTH];   /* [allow/deny][action][auth] */
    uint64_t responses[N_STATUS + 1];          /* last: any other status */
    uint64_t latency[N_BUCKETS + 1];           /* last: +Inf */
    uint64_t latency_sum_us;
    uint64_t latency_count;
    uint64_t cache[OG_CACHE_N][2];             /* [cache][hit/miss] */
    uint64_t backend_errors[OG_BACKEND_N];
    uint64_t worker_restarts;
    uint64_t jwks_refreshes;
    uint64_t reloads[2];                       /* [ok/failed] */
    int64_t workers;
    uint64_t redis_errors[OG_REDIS_ERR_N];
    uint64_t redis_failovers;
    uint64_t redis_master_hash;                /* of the master the workers saw last; 0 none */
};

static struct shared *m;
static char redis_master[272];                 /* this worker's view, "" none */

int og_metrics_init(void)
{
    void *p;
    if (m)
        return 0;
    p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 0, sizeof(struct shared));
    m = p;
    return 0;
}

static void add(uint64_t *c, uint64_t n)
{
    __atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static int action_index(unsigned action)
{
    switch (action) {
    case OG_ACT_NONE: return 0;
    case OG_ACT_READ: return 1;
    case OG_ACT_CREATE: return 2;
    case OG_ACT_UPDATE: return 3;
    case OG_ACT_DELETE: return 4;
    default: return 5;
    }
}

void og_metrics_request(int status, unsigned action, enum og_auth auth, long micros)
{
    int s = N_STATUS, b = N_BUCKETS;
    if (!m)
        return;
    add(&m->requests[status >= 200 && status < 300 ? 0 : 1][action_index(action)]
                    [(unsigned)auth < N_AUTH ? auth : 0], 1);
    for (int i = 0; i < N_STATUS; i++)
        if (statuses[i] == status)
            s = i;
    add(&m->responses[s], 1);
    for (int i = N_BUCKETS - 1; i >= 0 && micros <= buckets_us[i]; i--)
        b = i;
    add(&m->latency[b], 1);
    add(&m->latency_sum_us, micros > 0 ? (uint64_t)micros : 0);
    add(&m->latency_count, 1);
}

void og_metrics_cache(enum og_metric_cache c, bool hit)
{
    if (m && (unsigned)c < OG_CACHE_N)
        add(&m->cache[c][hit ? 0 : 1], 1);
}

void og_metrics_backend_error(enum og_metric_backend b)
{
    if (m && (unsigned)b < OG_BACKEND_N)
        add(&m->backend_errors[b], 1);
}

void og_metrics_worker_restart(void)
{
    if (m)
        add(&m->worker_restarts, 1);
}

void og_metrics_jwks_refreshes(unsigned long n)
{
    if (m && n)
        add(&m->jwks_refreshes, n);
}

void og_metrics_config_reload(bool ok)
{
    if (m)
        add(&m->reloads[ok ? 0 : 1], 1);
}

void og_metrics_set_workers(int n)
{
    if (m)
        __atomic_store_n(&m->workers, n, __ATOMIC_RELAXED);
}

int og_metrics_workers(void)
{
    return m ? (int)__atomic_load_n(&m->workers, __ATOMIC_RELAXED) : 0;
}

void og_metrics_redis_error(enum og_redis_error_kind k)
{
    if (m && (unsigned)k < OG_REDIS_ERR_N)
        add(&m->redis_errors[k], 1);
}

static uint64_t address_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;       /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

void og_metrics_redis_master(const char *address)
{
    uint64_t h, seen;

    snprintf(redis_master, sizeof(redis_master), "%s", address ? address : "");
    for (char *c = redis_master; *c; c++)       /* a label value: no quote, backslash, control */
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            *c = '?';
    if (!m || !address || !*address)
        return;
    h = address_hash(address);
    seen = __atomic_load_n(&m->redis_master_hash, __ATOMIC_RELAXED);
    while (seen != h) {
        if (__atomic_compare_exchange_n(&m->redis_master_hash, &seen, h, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            if (seen)
                add(&m->redis_failovers, 1);
            break;
        }
    }
}

unsigned long long og_metrics_redis_failovers(void)
{
    return m ? (unsigned long long)get(&m->redis_failovers) : 0;
}

/* -------------------------------------------------------------- exposition */

size_t og_metrics_render(char *buf, size_t cap)
{
    struct og_buf t;
    uint64_t cumulative = 0;

    og_buf_init(&t, buf, cap);

    if (!m) {
        og_buf_printf(&t, "# ocigate metrics are not initialised\n");
        return t.truncated ? 0 : t.len;
    }
    og_buf_printf(&t, "# HELP ocigate_requests_total Decisions, by decision, action and auth method.\n"
                      "# TYPE ocigate_requests_total counter\n");
    for (int d = 0; d < 2; d++)
        for (int a = 0; a < N_ACTIONS; a++)
            for (int u = 0; u < N_AUTH; u++) {
                uint64_t v = get(&m->requests[d][a][u]);
                if (v)
                    og_buf_printf(&t, "ocigate_requests_total{decision=\"%s\",action=\"%s\",auth=\"%s\"} %llu\n",
                                  d ? "deny" : "allow", action_names[a], auth_names[u],
                                  (unsigned long long)v);
            }
    og_buf_printf(&t, "# HELP ocigate_responses_total Answers, by HTTP status.\n"
                      "# TYPE ocigate_responses_total counter\n");
    for (int s = 0; s <= N_STATUS; s++) {
        uint64_t v = get(&m->responses[s]);
        if (s < N_STATUS)
            og_buf_printf(&t, "ocigate_responses_total{status=\"%d\"} %llu\n", statuses[s],
                          (unsigned long long)v);
        else if (v)
            og_buf_printf(&t, "ocigate_responses_total{status=\"other\"} %llu\n", (unsigned long long)v);
    }
    og_buf_printf(&t, "# HELP ocigate_decision_seconds Time from params to answer.\n"
                      "# TYPE ocigate_decision_seconds histogram\n");
    for (int b = 0; b < N_BUCKETS; b++) {
        cumulative += get(&m->latency[b]);
        og_buf_printf(&t, "ocigate_decision_seconds_bucket{le=\"%g\"} %llu\n", buckets_us[b] / 1e6,
                      (unsigned long long)cumulative);
    }
    cumulative += get(&m->latency[N_BUCKETS]);
    og_buf_printf(&t, "ocigate_decision_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
    og_buf_printf(&t, "ocigate_decision_seconds_sum %.6f\n", get(&m->latency_sum_us) / 1e6);
    og_buf_printf(&t, "ocigate_decision_seconds_count %llu\n", (unsigned long long)get(&m->latency_count));
    og_buf_printf(&t, "# HELP ocigate_cache_requests_total Credential cache lookups, by cache and result.\n"
                      "# TYPE ocigate_cache_requests_total counter\n");
    for (int c = 0; c < OG_CACHE_N; c++)
        for (int h = 0; h < 2; h++)
            og_buf_printf(&t, "ocigate_cache_requests_total{cache=\"%s\",result=\"%s\"} %llu\n",
                          cache_names[c], h ? "miss" : "hit", (unsigned long long)get(&m->cache[c][h]));
    og_buf_printf(&t, "# HELP ocigate_backend_errors_total Failures of a backend the decision needed.\n"
                      "# TYPE ocigate_backend_errors_total counter\n");
    for (int b = 0; b < OG_BACKEND_N; b++)
        og_buf_printf(&t, "ocigate_backend_errors_total{backend=\"%s\"} %llu\n", backend_names[b],
                      (unsigned long long)get(&m->backend_errors[b]));
    og_buf_printf(&t, "# HELP ocigate_worker_restarts_total Workers that died and were replaced.\n"
                      "# TYPE ocigate_worker_restarts_total counter\n"
                      "ocigate_worker_restarts_total %llu\n",
                  (unsigned long long)get(&m->worker_restarts));
    og_buf_printf(&t, "# HELP ocigate_jwks_refreshes_total JWKS fetch attempts after the first.\n"
                      "# TYPE ocigate_jwks_refreshes_total counter\n"
                      "ocigate_jwks_refreshes_total %llu\n", (unsigned long long)get(&m->jwks_refreshes));
    og_buf_printf(&t, "# HELP ocigate_config_reloads_total SIGHUP reloads, by result.\n"
                      "# TYPE ocigate_config_reloads_total counter\n"
                      "ocigate_config_reloads_total{result=\"ok\"} %llu\n"
                      "ocigate_config_reloads_total{result=\"refused\"} %llu\n",
                  (unsigned long long)get(&m->reloads[0]), (unsigned long long)get(&m->reloads[1]));
    og_buf_printf(&t, "# HELP ocigate_workers Workers the master keeps running.\n"
                      "# TYPE ocigate_workers gauge\n"
                      "ocigate_workers %d\n", og_metrics_workers());
    og_buf_printf(&t, "# HELP ocigate_redis_failovers_total Changes of the Redis master the "
                      "workers saw.\n"
                      "# TYPE ocigate_redis_failovers_total counter\n"
                      "ocigate_redis_failovers_total %llu\n", og_metrics_redis_failovers());
    og_buf_printf(&t, "# HELP ocigate_redis_errors_total Redis failures, by kind.\n"
                      "# TYPE ocigate_redis_errors_total counter\n");
    for (int k = 0; k < OG_REDIS_ERR_N; k++)
        og_buf_printf(&t, "ocigate_redis_errors_total{kind=\"%s\"} %llu\n", redis_error_names[k],
                      (unsigned long long)get(&m->redis_errors[k]));
    if (redis_master[0])
        og_buf_printf(&t, "# HELP ocigate_redis_master The Redis master the answering worker "
                          "talks to.\n"
                          "# TYPE ocigate_redis_master gauge\n"
                          "ocigate_redis_master{address=\"%s\"} 1\n", redis_master);
    return t.truncated ? 0 : t.len;
}
