/*
 * decide_bench.c - what one decision costs, with and without conditions.
 *
 * Times og_policy_evaluate() (the call `serve` makes once the identity and
 * facts are known) in a loop on one core and prints nanoseconds per
 * decision for: the three-tier config (no conditions anywhere); a config
 * with conditions where the matching entry has none; one condition (the
 * per-user namespace); three conditions over token claims, time and user
 * agent; a condition with a regular expression and inCidr. Then the cost
 * against the policy's size: 10, 1,000 and 10,000 repository patterns, and
 * 1,000 whose entries all carry a condition, in interleaved rounds (medians
 * printed, with the ratios to the 10-pattern policy), next to what a scan of
 * every pattern in order (the lookup before the index) costs for the same
 * name. Then what 1,000 config groups of 100 users cost: a membership
 * check, the effective groups of a user, a decision granted through a
 * group. Measures, never fails on time.
 * Usage: tests/bench/decide_bench [ITERATIONS [ROUNDS]]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "decide.h"
#include "evaluate.h"
#include "glob.h"
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

/* ------------------------------------------------------------------------ */
/* Cost against the policy's size.                                           */

/* n patterns in five shapes over teams (and "**", "** /secret" without the
   space); entries carry a condition when cond. team1/app-x (in every size)
   is decided by "team1/app-*", team<K>/app-x by "team<K>/app-*". */
static struct og_config *sized_config(int n, bool cond)
{
    static const char *const shapes[][2] = { { "team", "/**" }, { "team", "/app-*" },
                                             { "team", "/{dev,stage}/**" },
                                             { "team", "/svc?/[a-z]*" }, { "org", "/**" } };
    json_t *repos = json_object();
    char pat[64], err[512];

    for (int i = 0; i < n; i++) {
        if (i == 0)
            snprintf(pat, sizeof pat, "**");
        else if (i == 1)
            snprintf(pat, sizeof pat, "**/secret");
        else
            snprintf(pat, sizeof pat, "%s%d%s", shapes[(i - 2) % 5][0], (i - 2) / 5,
                     shapes[(i - 2) % 5][1]);
        json_t *entry = json_pack("{s:[s], s:[s,s]}", "groups", "artifact-workloads",
                                  "actions", "read", "create");
        if (cond)
            json_object_set_new(entry, "conditions", json_pack("[{s:s}]", "expression",
                                "req.repository.startsWith(\"team\") && req.user.username == \"ci\""));
        json_object_set_new(repos, pat, json_pack("{s:[s], s:[o]}", "defaultPolicy", "read",
                                                  "policies", entry));
    }
    json_t *root = json_pack("{s:{s:o, s:{s:{s:[s]}}}}", "accessControl", "repositories", repos,
                             "groups", "artifact-workloads", "users", "ci");
    char *text = json_dumps(root, 0);
    json_decref(root);
    struct og_config *cfg = text ? og_config_parse(text, strlen(text), "sized", err, sizeof err) : NULL;
    free(text);
    if (!cfg)
        fprintf(stderr, "decide_bench: %s\n", err);
    return cfg;
}

static double decide_ns(const struct og_config *cfg, const char *uri, const struct og_identity *id,
                        const struct og_request_env *env, long iters, int *status)
{
    struct og_route r;
    struct og_query q;
    struct og_outcome out;

    og_route_classify("GET", 3, uri, strlen(uri), NULL, 0, &r);
    memset(&q, 0, sizeof q);
    q.route = &r;
    q.has_authorization = true;
    q.holds_claims = true;
    q.id = id;
    q.env = env;
    og_policy_evaluate(cfg, &q, &out);
    *status = out.status;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        og_policy_evaluate(cfg, &q, &out);
        sink += out.status;
    }
    return (now_ns() - t0) / (double)iters;
}

/* The lookup as it was: every pattern in decision order until one matches. */
static double scan_ns(const struct og_config *cfg, const char *repo, long iters)
{
    size_t len = strlen(repo);
    double t0 = now_ns();

    for (long k = 0; k < iters; k++)
        for (size_t i = 0; i < cfg->nrules; i++)
            if (og_glob_match(cfg->rules[i].glob, repo, len)) {
                sink += (int)i;
                break;
            }
    return (now_ns() - t0) / (double)iters;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { SIZES = 6, MAX_ROUNDS = 15 };

/* The checks that look at the whole policy rather than one repository's
   rule: the catalog (may the identity read every repository?) and an API
   key scope asked for on the key page (og_scope_within_reach), with the
   tables og_policy_prepare builds at load and, rules_prepared cleared, the
   scan of every rule they replaced. ci is allowed the catalog (every rule
   grants read: the scan's worst case) and "team1/x-*" is covered by "**"
   only (the shortest pattern, the last one scanned). */
static double whole_ns(struct og_config *cfg, bool prepared, bool catalog, long iters)
{
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_route r;
    struct og_decision out;
    bool was = cfg->rules_prepared;

    og_route_classify("GET", 3, "/v2/_catalog", 12, NULL, 0, &r);
    cfg->rules_prepared = prepared;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (catalog) {
            og_decide(cfg, &r, &ci, NULL, &out);
            sink += out.status;
        } else {
            sink += og_scope_within_reach(cfg, &ci, "team1/x-*", 9);
        }
    }
    double t = (now_ns() - t0) / (double)iters;
    cfg->rules_prepared = was;
    return t;
}

static void by_size_whole_policy(struct og_config *const *cfg, long iters, int rounds)
{
    static const int rows[] = { 0, 1, 2 };   /* 10, 1,000, 10,000 patterns */
    double v[3][4][MAX_ROUNDS];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_route r;
    struct og_decision out;

    og_route_classify("GET", 3, "/v2/_catalog", 12, NULL, 0, &r);
    for (int k = 0; k < rounds; k++)
        for (int s = 0; s < 3; s++) {
            long n = iters / 20 + 1, scan_n = iters * 10 / (long)cfg[rows[s]]->nrules / 20 + 1;
            v[s][0][k] = whole_ns(cfg[rows[s]], true, true, n);
            v[s][1][k] = whole_ns(cfg[rows[s]], false, true, scan_n);
            v[s][2][k] = whole_ns(cfg[rows[s]], true, false, n);
            v[s][3][k] = whole_ns(cfg[rows[s]], false, false, scan_n);
        }
    printf("\n%-24s %5s %14s %14s %7s %14s %14s %7s\n", "whole-policy checks (ci)", "code",
           "catalog ns", "catalog scan", "ratio", "key scope ns", "scope scan", "ratio");
    for (int s = 0; s < 3; s++) {
        double m[4];
        for (int c = 0; c < 4; c++)
            m[c] = median(v[s][c], rounds);
        og_decide(cfg[rows[s]], &r, &ci, NULL, &out);
        printf("%-24zu %5d %14.1f %14.1f %6.0fx %14.1f %14.1f %6.0fx\n", cfg[rows[s]]->nrules,
               out.status, m[0], m[1], m[1] / m[0], m[2], m[3], m[3] / m[2]);
    }
    printf("(patterns in the policy; \"scan\": the same check with rules_prepared cleared,\n"
           " every rule scanned as before og_policy_prepare; key scope: og_scope_within_reach\n"
           " of \"team1/x-*\", which only \"**\" covers; medians of %d rounds)\n", rounds);
}

static int by_size(long iters, int rounds, const struct og_request_env *env)
{
    /* The same name in every size isolates the policy's size; one longer
       name from the middle of the big policy shows what the name costs. */
    static const struct { int n; bool cond; const char *repo; const char *name; } sz[SIZES] = {
        { 10, false, "team1/app-x", "10 patterns" },
        { 1000, false, "team1/app-x", "1,000 patterns" },
        { 10000, false, "team1/app-x", "10,000 patterns" },
        { 10000, false, "team999/app-x", "10,000 patterns, team999/app-x" },
        { 10, true, "team1/app-x", "10 patterns, all with a condition" },
        { 1000, true, "team1/app-x", "1,000 patterns, all with a condition" },
    };
    struct og_config *cfg[SIZES];
    char uri[SIZES][128];
    double dec[SIZES][MAX_ROUNDS], scan[SIZES][MAX_ROUNDS], dmed[SIZES], smed[SIZES];
    int status[SIZES];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };

    for (int s = 0; s < SIZES; s++) {
        cfg[s] = sized_config(sz[s].n, sz[s].cond);
        if (!cfg[s])
            return 1;
        snprintf(uri[s], sizeof uri[s], "/v2/%s/manifests/v1", sz[s].repo);
    }
    /* interleaved rounds: a shared machine's noise hits every size alike */
    for (int r = 0; r < rounds; r++)
        for (int s = 0; s < SIZES; s++) {
            dec[s][r] = decide_ns(cfg[s], uri[s], &ci, env, iters, &status[s]);
            scan[s][r] = scan_ns(cfg[s], sz[s].repo, iters * 10 / sz[s].n + 1); /* ~ equal time */
        }
    printf("\n%-40s %4s  %12s %8s  %14s %8s\n", "policy size (ci GET team1/app-x)", "code",
           "ns/decision", "ratio", "ns/linear scan", "ratio");
    for (int s = 0; s < SIZES; s++) {
        dmed[s] = median(dec[s], rounds);
        smed[s] = median(scan[s], rounds);
    }
    for (int s = 0; s < SIZES; s++) {
        int base = sz[s].cond ? 4 : 0;  /* the 10-pattern policy of the same kind */
        printf("%-40s %4d  %12.1f %7.2fx  %14.1f %7.2fx\n", sz[s].name, status[s], dmed[s],
               dmed[s] / dmed[base], smed[s], smed[s] / smed[base]);
    }
    printf("(medians of %d interleaved rounds of %ld decisions; ratios to the 10-pattern policy\n"
           " of the same kind; \"linear scan\" is the rule lookup alone done the way it was\n"
           " before the index: every pattern in order until one matches)\n", rounds, iters);
    by_size_whole_policy(cfg, iters, rounds);
    for (int s = 0; s < SIZES; s++)
        og_config_free(cfg[s]);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Cost against the number of config groups and their users.                */

/* 1,000 groups of 100 users each (user<K>, each in several groups); "ci" is
   in g500 and g999 only; the rule "**" grants create to g999. */
static struct og_config *groups_config(void)
{
    json_t *groups = json_object();
    char name[32], err[512];

    for (int i = 0; i < 1000; i++) {
        json_t *users = json_array();
        for (int j = 0; j < 100; j++) {
            snprintf(name, sizeof name, "user%d", (i * 37 + j * 11) % 20000);
            json_array_append_new(users, json_string(name));
        }
        if (i == 500 || i == 999)
            json_array_append_new(users, json_string("ci"));
        snprintf(name, sizeof name, "g%d", i);
        json_object_set_new(groups, name, json_pack("{s:o}", "users", users));
    }
    json_t *root = json_pack("{s:{s:{s:{s:[s], s:[{s:[s], s:[s,s]}]}}, s:o}}", "accessControl",
                             "repositories", "**", "defaultPolicy", "read", "policies",
                             "groups", "g999", "actions", "read", "create", "groups", groups);
    char *text = json_dumps(root, 0);
    json_decref(root);
    struct og_config *cfg = text ? og_config_parse(text, strlen(text), "groups", err, sizeof err) : NULL;
    free(text);
    if (!cfg)
        fprintf(stderr, "decide_bench: %s\n", err);
    return cfg;
}

/* What the config's groups cost per request: the membership check a group
   entry makes, the effective groups (og_identity_groups_csv, conditions'
   req.user.groups) and a decision granted through the last group. */
static int by_groups(long iters)
{
    struct og_config *cfg = groups_config();
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_identity nobody = { .user = "nobody", .auth = OG_AUTH_HTPASSWD };
    const char *out[64];
    struct og_route r;
    struct og_decision d;
    double t0;

    if (!cfg)
        return 1;
    printf("\n%-58s %s\n", "1,000 groups x 100 users", "cost");
    t0 = now_ns();
    for (long i = 0; i < iters; i++)
        sink += og_config_group_has_user(cfg, "g999", "ci");
    printf("%-58s %10.1f ns\n", "og_config_group_has_user(g999, ci)", (now_ns() - t0) / (double)iters);
    t0 = now_ns();
    for (long i = 0; i < iters / 100 + 1; i++)
        sink += (int)og_effective_groups(cfg, &ci, out, 64);
    printf("%-58s %10.1f ns (%zu groups)\n", "og_effective_groups(ci)",
           (now_ns() - t0) / (double)(iters / 100 + 1), og_effective_groups(cfg, &ci, out, 64));
    t0 = now_ns();
    for (long i = 0; i < iters / 100 + 1; i++)
        sink += (int)og_effective_groups(cfg, &nobody, out, 64);
    printf("%-58s %10.1f ns\n", "og_effective_groups(nobody, in no group)",
           (now_ns() - t0) / (double)(iters / 100 + 1));
    og_route_classify("PUT", 3, "/v2/team/app/blobs/uploads/x", 28, NULL, 0, &r);
    t0 = now_ns();
    for (long i = 0; i < iters / 10 + 1; i++) {
        og_decide(cfg, &r, &ci, NULL, &d);
        sink += d.status;
    }
    printf("%-58s %10.1f ns (%d)\n", "og_decide: ci uploads, granted through g999",
           (now_ns() - t0) / (double)(iters / 10 + 1), d.status);
    og_config_free(cfg);
    return 0;
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
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 5;
    int rc = by_size(iters / 4 + 1, rounds, &env);
    if (rc == 0)
        rc = by_groups(iters / 4 + 1);
    og_config_free(plain);
    og_config_free(cond);
    og_config_free(stripped);
    json_decref(claims);
    return rc ? rc : sink == 42 ? 2 : 0;
}
