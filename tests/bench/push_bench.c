/*
 * push_bench.c - what the decision of a CI tag push costs on its own: the
 * facts and the claim ocigate gathers before it forwards a manifest PUT,
 * against a real docker-registry and redis-server (measures, never passes or
 * fails on time). Per iteration, with the worker's own calls (one keep-alive
 * curl handle, one Redis connection):
 *   HEAD of a new tag        og_registry_tag_exists on REPO:bench-<pid>-<i> (404)
 *   claim SET NX             og_claim_tag on that tag (taken)
 *   release                  og_claim_release (the compare-and-delete script)
 *   new tag: total           the three above, back to back
 *   HEAD of an existing tag  og_registry_tag_exists on REPO:TAG (200: an
 *                            update, which takes no claim)
 * Prints p50 and p99 in microseconds over ITERATIONS (after 50 not counted).
 * Usage: push_bench REGISTRY-URL REDIS-URL REPO TAG [ITERATIONS]
 * Built on demand (make tests/bench/push_bench); tests/bench/push_decision.sh
 * starts the servers, pushes REPO:TAG and runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "redis.h"
#include "registry.h"
#include "tag_claims.h"

#define MAX_ITERS 100000
#define WARMUP 50

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *d, int n)
{
    qsort(d, (size_t)n, sizeof(*d), by_value);
    printf("%-30s p50 %8.1f us  p99 %8.1f us  (n=%d)\n", what, d[n / 2], d[n * 99 / 100], n);
}

int main(int argc, char **argv)
{
    static double head_new[MAX_ITERS], claim[MAX_ITERS], release[MAX_ITERS], total[MAX_ITERS],
                  head_old[MAX_ITERS];
    char json[1024], err[512], tag[128], value[OG_CLAIM_VALUE_MAX];
    struct og_config *cfg = NULL;
    struct og_redis *redis = NULL;
    struct og_registry *reg = NULL;
    int rc = 1;

    if (argc < 5) {
        fprintf(stderr, "usage: push_bench REGISTRY-URL REDIS-URL REPO TAG [ITERATIONS]\n");
        return 2;
    }
    int iters = argc > 5 ? atoi(argv[5]) : 2000;
    if (iters < 1 || iters > MAX_ITERS)
        iters = 2000;
    snprintf(json, sizeof(json), "{\"redis\": {\"url\": \"%s\"}, \"accessControl\": {}}", argv[2]);
    if (!(cfg = og_config_parse(json, strlen(json), "push_bench.json", err, sizeof(err)))) {
        fprintf(stderr, "push_bench: config: %s\n", err);
        goto out;
    }
    if (!(redis = og_redis_new(cfg, err, sizeof(err))) || !og_redis_ping(redis)) {
        fprintf(stderr, "push_bench: redis: %s\n", redis ? og_redis_last_error(redis) : err);
        goto out;
    }
    if (!(reg = og_registry_new(argv[1], 2000))) {
        fprintf(stderr, "push_bench: no registry handle\n");
        goto out;
    }
    int ttl = og_claim_ttl_s(30000);
    for (int i = -WARMUP; i < iters; i++) {
        long http = 0;
        snprintf(tag, sizeof(tag), "bench-%ld-%d", (long)getpid(), i + WARMUP);
        double t0 = now_us();
        enum og_reg_answer a = og_registry_tag_exists(reg, argv[3], tag, &http);
        double t1 = now_us();
        enum og_claim_result c = og_claim_tag(redis, argv[3], tag, "ci", ttl, value, sizeof(value));
        double t2 = now_us();
        int r = og_claim_release(redis, argv[3], tag, value);
        double t3 = now_us();
        enum og_reg_answer b = og_registry_tag_exists(reg, argv[3], argv[4], &http);
        double t4 = now_us();
        if (a != OG_REG_ABSENT || c != OG_CLAIM_TAKEN || r != 0 || b != OG_REG_EXISTS) {
            fprintf(stderr, "push_bench: unexpected answer (HEAD new %d, claim %d, release %d, "
                    "HEAD existing %d, HTTP %ld)\n", a, c, r, b, http);
            goto out;
        }
        if (i < 0)
            continue;
        head_new[i] = t1 - t0;
        claim[i] = t2 - t1;
        release[i] = t3 - t2;
        total[i] = t3 - t0;
        head_old[i] = t4 - t3;
    }
    printf("tag push decision, %s %s:bench-* (new tags) and :%s, %d iterations\n", argv[1],
           argv[3], argv[4], iters);
    report("HEAD of a new tag (404)", head_new, iters);
    report("claim SET NX", claim, iters);
    report("release (compare-and-delete)", release, iters);
    report("new tag: total", total, iters);
    report("HEAD of an existing tag", head_old, iters);
    rc = 0;
out:
    og_registry_free(reg);
    og_redis_free(redis);
    og_config_free(cfg);
    return rc;
}
