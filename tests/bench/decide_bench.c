/*
 * decide_bench.c - what one decision costs, with and without conditions.
 *
 * Times og_policy_evaluate() (the call `serve` makes once the identity and
 * facts are known) in a loop on one core and prints nanoseconds per
 * decision for: the three-tier config (no conditions anywhere); a config
 * with conditions where the matching entry has none; one condition (the
 * per-user namespace); three conditions over token claims, time and user
 * agent; a condition with a regular expression and inCidr. Measures, never
 * fails on time. Usage: tests/bench/decide_bench [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "decide.h"
#include "evaluate.h"
#include "route.h"

static const char three_tier[] =
    "{\"accessControl\": {\"repositories\": {\"**\": {\"anonymousPolicy\": [\"read\"],"
    " \"defaultPolicy\": [\"read\"], \"policies\": [{\"groups\": [\"artifact-workloads\"],"
    " \"actions\": [\"read\", \"create\"]}]}},"
    " \"adminPolicy\": {\"groups\": [\"admins\"], \"actions\": [\"read\", \"create\", \"update\", \"delete\"]},"
    " \"groups\": {\"admins\": {\"users\": [\"admin\"]}, \"artifact-workloads\": {\"users\": [\"ci\"]}}}}";

static const char with_conditions[] =
    "{\"accessControl\": {\"groups\": {\"people\": {\"users\": [\"alice\"]}, \"artifact-workloads\": {\"users\": [\"ci\"]}},"
    " \"repositories\": {"
    "  \"**\": {\"policies\": [{\"groups\": [\"artifact-workloads\"], \"actions\": [\"read\", \"create\"]}]},"
    "  \"users/**\": {\"policies\": [{\"groups\": [\"people\"], \"actions\": [\"read\", \"create\", \"update\"],"
    "     \"conditions\": [{\"expression\": \"req.repository.startsWith(\\\"users/\\\" + req.user.username + \\\"/\\\")\","
    "     \"message\": \"own namespace\"}]}]},"
    "  \"release/**\": {\"policies\": [{\"users\": [\"alice\"], \"actions\": [\"read\", \"create\"],"
    "     \"conditions\": [{\"expression\": \"\\\"prod-pusher\\\" in req.claims.roles\"},"
    "                    {\"expression\": \"req.time < timestamp(\\\"2099-12-31T23:59:59Z\\\")\"},"
    "                    {\"expression\": \"req.userAgent.startsWith(\\\"docker/\\\")\"}]}]},"
    "  \"net/**\": {\"policies\": [{\"users\": [\"alice\"], \"actions\": [\"read\"],"
    "     \"conditions\": [{\"expression\": \"inCidr(req.client.ip, \\\"10.0.0.0/8\\\") &&"
    "       req.repository.matches(\\\"^net/[a-z0-9-]+/v[0-9]+$\\\")\"}]}]}}}}";

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static volatile int sink;

static void run(const char *name, const struct og_config *cfg, const char *method, const char *uri,
                const struct og_identity *id, const struct og_request_env *env, long iters)
{
    struct og_route r;
    struct og_query q;
    struct og_outcome out;

    og_route_classify(method, strlen(method), uri, strlen(uri), NULL, 0, &r);
    memset(&q, 0, sizeof q);
    q.route = &r;
    q.has_authorization = true;
    q.holds_claims = true;
    q.id = id;
    q.env = env;
    og_policy_evaluate(cfg, &q, &out);
    int status = out.status;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        og_policy_evaluate(cfg, &q, &out);
        sink += out.status;
    }
    double t1 = now_ns();
    printf("%-58s %4d  %8.1f ns/decision\n", name, status, (t1 - t0) / (double)iters);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 1000000;
    char err[1024];
    struct og_config *plain = og_config_parse(three_tier, strlen(three_tier), "three-tier", err, sizeof err);
    struct og_config *cond = og_config_parse(with_conditions, strlen(with_conditions), "conditions",
                                             err, sizeof err);
    /* the same rules with every "conditions" removed: today's cost for them */
    json_t *j = json_loads(with_conditions, 0, NULL), *rules = json_object_get(
        json_object_get(j, "accessControl"), "repositories"), *pg;
    const char *key;
    json_object_foreach(rules, key, pg) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(pg, "policies"), i, e)
            json_object_del(e, "conditions");
    }
    char *stripped_text = json_dumps(j, 0);
    json_decref(j);
    struct og_config *stripped = stripped_text ? og_config_parse(stripped_text, strlen(stripped_text),
                                                                 "stripped", err, sizeof err) : NULL;
    free(stripped_text);
    if (!plain || !cond || !stripped) {
        fprintf(stderr, "decide_bench: %s\n", err);
        return 1;
    }
    json_t *claims = json_loads("{\"roles\": [\"viewer\", \"prod-pusher\"], \"email_verified\": true}", 0, NULL);
    struct og_request_env env = { .user_agent = "docker/24.0.7 go/go1.20", .client_ip = "10.1.2.3",
                                  .forwarded_for = "", .tls = true, .tls_version = "TLSv1.3",
                                  .time_s = 1767225600, .claims = claims };
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_identity alice = { .user = "alice", .auth = OG_AUTH_OPENID };

    printf("%-58s %4s  %s\n", "decision (og_policy_evaluate)", "code", "cost");
    run("three-tier, no conditions: ci GET", plain, "GET", "/v2/app/manifests/v1", &ci, NULL, iters);
    run("same rules, conditions removed: ci GET", stripped, "GET", "/v2/app/manifests/v1",
        &ci, NULL, iters);
    run("same rules, conditions removed: alice GET users/alice/", stripped, "GET",
        "/v2/users/alice/app/manifests/v1", &alice, NULL, iters);
    run("conditions elsewhere, matching entry has none: ci GET", cond, "GET", "/v2/app/manifests/v1",
        &ci, &env, iters);
    run("one condition (own namespace): alice GET, holds", cond, "GET",
        "/v2/users/alice/app/manifests/v1", &alice, &env, iters);
    run("one condition (own namespace): alice GET, false", cond, "GET",
        "/v2/users/bob/app/manifests/v1", &alice, &env, iters);
    run("three conditions (claims, time, user agent): alice GET", cond, "GET",
        "/v2/release/app/manifests/v1", &alice, &env, iters);
    run("inCidr and matches(): alice GET", cond, "GET", "/v2/net/app/v1/manifests/v1", &alice, &env, iters);
    og_config_free(plain);
    og_config_free(cond);
    og_config_free(stripped);
    json_decref(claims);
    return sink == 42 ? 2 : 0;
}
