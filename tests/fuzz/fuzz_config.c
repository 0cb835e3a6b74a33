/*
 * fuzz_config.c - og_config_parse (policy/config.c): the whole input is the
 * JSON config. A config that loads is then used the way a worker uses it:
 * a few fixed requests are decided against it (policy/decide.c), so the
 * compiled globs, sorted rules, groups and immutability rules are exercised,
 * and the rule index is checked against a scan of the rules in order, the
 * catalog's check and og_scope_within_reach against their scans of every rule,
 * the group membership tables against scans of every group and its users.
 *
 * The config may name files (redis.passwordFile, auth.openid.clientSecretFile):
 * run with stdin from /dev/null (run.sh does) so that "/dev/stdin" cannot block.
 */
#include "fuzz_common.h"

#include "action.h"
#include "config.h"
#include "decide.h"
#include "glob.h"
#include "route.h"

static struct og_route routes[6];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const req[][2] = {
        { "GET", "/v2/app/manifests/v1" },
        { "PUT", "/v2/blumeops/tool/manifests/v1.2" },
        { "DELETE", "/v2/team-a/x/manifests/sha256:"
                    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
        { "POST", "/v2/a/b/blobs/uploads/?mount=sha256:"
                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef&from=c/d" },
        { "GET", "/v2/_catalog?n=10" },
        { "GET", "/ocigate/metrics" },
    };
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        og_route_classify(req[i][0], strlen(req[i][0]), req[i][1], strlen(req[i][1]), NULL, 0,
                          &routes[i]);
    return 0;
}

/* Does some entry carry conditions? (cfg->has_conditions must say so.) */
static int d_cond(const struct og_config *cfg)
{
    if (cfg->admin.nconditions)
        return 1;
    for (size_t i = 0; i < cfg->nrules; i++)
        for (size_t j = 0; j < cfg->rules[i].npolicies; j++)
            if (cfg->rules[i].policies[j].nconditions)
                return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    char *json;
    struct og_config *cfg;

    if (size > 65536)
        return 0;
    json = fz_dup_exact(data, size);
    err[0] = '\0';
    cfg = og_config_parse(json, size, "fuzz.json", err, sizeof err);
    if (getenv("FZ_DEBUG"))
        fprintf(stderr, "config: %s\n", cfg ? "loaded" : err);
    if (!cfg) {
        FZ_ASSERT(err[0] != '\0');
        FZ_ASSERT(memchr(err, '\0', sizeof err) != NULL);
        free(json);
        return 0;
    }

    /* rules: longest pattern first, ties lexicographic (config.h) */
    for (size_t i = 0; i < cfg->nrules; i++) {
        FZ_ASSERT(cfg->rules[i].glob != NULL && cfg->rules[i].pattern != NULL);
        FZ_ASSERT(strlen(cfg->rules[i].pattern) == cfg->rules[i].pattern_len);
        if (i > 0) {
            const struct og_repo_rule *a = &cfg->rules[i - 1], *b = &cfg->rules[i];
            FZ_ASSERT(a->pattern_len > b->pattern_len ||
                      (a->pattern_len == b->pattern_len && strcmp(a->pattern, b->pattern) <= 0));
        }
    }

    /* the index (policy/globindex.c) answers what a scan in order answers,
       for fixed names and for each pattern's own text taken as a name */
    static const char *const names[] = { "app", "blumeops/tool", "team-a/x", "a/b/c", "", "a" };
    for (size_t k = 0; k < sizeof names / sizeof names[0] + cfg->nrules && k < 70; k++) {
        const char *n = k < sizeof names / sizeof names[0] ? names[k]
                        : cfg->rules[k - sizeof names / sizeof names[0]].pattern;
        size_t nl = strlen(n);
        const struct og_repo_rule *want = NULL;
        const struct og_immutable_rule *iwant = NULL;
        for (size_t i = 0; i < cfg->nrules && !want; i++)
            if (og_glob_match(cfg->rules[i].glob, n, nl))
                want = &cfg->rules[i];
        FZ_ASSERT(og_rule_for(cfg, n, nl) == want);
        for (size_t i = 0; i < cfg->nimmutable && !iwant; i++)
            for (size_t j = 0; j < cfg->immutable[i].nrepos && !iwant; j++)
                if (og_glob_match(cfg->immutable[i].repos[j], n, nl))
                    iwant = &cfg->immutable[i];
        FZ_ASSERT(og_repo_has_immutable_rules(cfg, n, nl) == (iwant != NULL));
        if (!iwant)
            FZ_ASSERT(og_immutable_rule_for(cfg, n, nl, "v1") == NULL);
    }

    static const char *const users[] = { "alice", "ci", "", "admin" };
    static const char *const grp[] = { "admins", "artifact-workloads" };
    for (size_t u = 0; u < sizeof users / sizeof users[0]; u++) {
        /* a request environment, so that accessControl conditions are evaluated */
        static const struct og_request_env env = { .user_agent = "docker/24.0", .client_ip = "10.0.0.1",
                                                   .forwarded_for = "192.0.2.1", .tls = true,
                                                   .tls_version = "TLSv1.3", .time_s = 1767225600 };
        struct og_identity id = { .user = users[u], .auth = users[u][0] ? OG_AUTH_HTPASSWD
                                                                          : OG_AUTH_ANONYMOUS,
                                  .groups = grp, .ngroups = u == 1 ? 2 : 0,
                                  .env = u == 3 ? NULL : &env };
        if (d_cond(cfg))
            FZ_ASSERT(cfg->has_conditions);
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
            struct og_facts f = { .tag = { OG_TAG_EXISTS }, .digest_tags_known = true,
                                  .digest_tag = "v1" };
            struct og_decision d;
            og_decide(cfg, &routes[i], &id, NULL, &d);
            FZ_ASSERT(d.rule != NULL && d.reason != NULL);
            og_decide(cfg, &routes[i], &id, &f, &d);
            FZ_ASSERT(d.rule != NULL && d.reason != NULL);
            FZ_ASSERT(d.status == 200 || d.status == 400 || d.status == 401 ||
                      d.status == 403 || d.status == 404 || d.status == 405 || d.status == 503);
        }
        /* the tables og_policy_prepare keeps (the catalog's rule views, the
           rules by pattern) answer what the scans of every rule answer */
        {
            static const char *const globs[] = { "**", "app/*", "a/b/**", "team-a/*",
                                                  "a/{b,c}/*", "blumeops/*" };
            bool prepared = cfg->rules_prepared;
            struct og_decision a, b;
            og_decide(cfg, &routes[4], &id, NULL, &a);
            cfg->rules_prepared = false;
            og_decide(cfg, &routes[4], &id, NULL, &b);
            cfg->rules_prepared = prepared;
            FZ_ASSERT(a.status == b.status && strcmp(a.rule, b.rule) == 0 &&
                      strcmp(a.reason, b.reason) == 0);
            for (size_t k = 0; k < sizeof globs / sizeof globs[0] + cfg->nrules && k < 40; k++) {
                const char *g = k < sizeof globs / sizeof globs[0] ? globs[k]
                                : cfg->rules[k - sizeof globs / sizeof globs[0]].pattern;
                bool x = og_scope_within_reach(cfg, &id, g, strlen(g));
                cfg->rules_prepared = false;
                bool y = og_scope_within_reach(cfg, &id, g, strlen(g));
                cfg->rules_prepared = prepared;
                FZ_ASSERT(x == y);
            }
        }
        (void)og_config_group_has_user(cfg, "admins", users[u]);
        (void)og_can(cfg, &id, OG_ACT_READ, "app", 3, NULL);
    }
    /* the membership tables (groups by name, (user, group) pairs) answer
       what a scan of every group and its users answers */
    for (size_t g = 0; g < cfg->ngroups + 1 && g < 20; g++) {
        const char *name = g < cfg->ngroups ? cfg->groups[g].name : "admins";
        bool defined = false;
        for (size_t i = 0; i < cfg->ngroups && !defined; i++)
            defined = strcmp(cfg->groups[i].name, name) == 0;
        FZ_ASSERT(og_config_has_group(cfg, name) == defined);
        for (size_t k = 0; k < cfg->ngroups + 4 && k < 24; k++) {
            const char *user = k < 4 ? users[k]
                               : cfg->groups[k - 4].users.n ? cfg->groups[k - 4].users.v[0] : "x";
            bool member = false;
            for (size_t i = 0; i < cfg->ngroups && user[0] && !member; i++)
                if (strcmp(cfg->groups[i].name, name) == 0)
                    for (size_t j = 0; j < cfg->groups[i].users.n && !member; j++)
                        member = strcmp(cfg->groups[i].users.v[j], user) == 0;
            FZ_ASSERT(og_config_group_has_user(cfg, name, user) == member);
            const struct og_group_member *m;
            size_t nm = og_config_user_groups(cfg, user, &m), want = 0;
            for (size_t i = 0; i < cfg->ngroups && user[0]; i++)
                for (size_t j = 0; j < cfg->groups[i].users.n; j++)
                    if (strcmp(cfg->groups[i].users.v[j], user) == 0) {
                        FZ_ASSERT(want < nm && m[want].group == i);
                        want++;
                        break;
                    }
            FZ_ASSERT(nm == want);
        }
    }
    (void)og_immutable_rule_for(cfg, "blumeops/tool", 13, "v1");
    (void)og_repo_has_immutable_rules(cfg, "blumeops/tool", 13);

    og_config_free(cfg);
    free(json);
    return 0;
}
