/*
 * metrics.h - Prometheus counters summed over all workers (doc/http.md).
 *
 * The master maps one shared, anonymous memory page before it forks; each
 * worker adds to it with atomic increments, so the numbers survive a worker
 * restart and a reload. Without og_metrics_init() (explain, tests) every
 * call is a no-op.
 */
#ifndef OCIGATE_METRICS_H
#define OCIGATE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "decide.h"

enum og_metric_cache { OG_CACHE_HTPASSWD = 0, OG_CACHE_APIKEY, OG_CACHE_OIDC, OG_CACHE_N };
enum og_metric_backend { OG_BACKEND_REGISTRY = 0, OG_BACKEND_REDIS, OG_BACKEND_JWKS,
                         OG_BACKEND_N };

int og_metrics_init(void);                        /* master, before forking; 0 or -1 */
void og_metrics_request(int status, unsigned action, enum og_auth auth, long micros);
void og_metrics_cache(enum og_metric_cache c, bool hit);
void og_metrics_backend_error(enum og_metric_backend b);
void og_metrics_worker_restart(void);
void og_metrics_jwks_refreshes(unsigned long n);
void og_metrics_config_reload(bool ok);
void og_metrics_set_workers(int n);
int og_metrics_workers(void);

/* Redis errors by kind (ocigate_redis_errors_total{kind=...}). */
enum og_redis_error_kind { OG_REDIS_ERR_CONNECT = 0, OG_REDIS_ERR_TIMEOUT, OG_REDIS_ERR_AUTH,
                           OG_REDIS_ERR_READONLY, OG_REDIS_ERR_SENTINEL,
                           OG_REDIS_ERR_REPLICATION, OG_REDIS_ERR_REPLY, OG_REDIS_ERR_N };
void og_metrics_redis_error(enum og_redis_error_kind k);

/* This worker now talks to the Redis master at address ("HOST:PORT"). Counts
   a failover when the workers last saw another master (the first master seen
   is not one). Also what this worker's exposition shows as
   ocigate_redis_master; NULL: none now. */
void og_metrics_redis_master(const char *address);
unsigned long long og_metrics_redis_failovers(void);

/* The exposition text (Prometheus 0.0.4). Returns the length, 0 if it does not fit. */
size_t og_metrics_render(char *buf, size_t cap);

#endif
