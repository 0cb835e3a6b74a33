/*
 * test_rulefacts.c - the tables og_policy_prepare builds at load (the
 * catalog's distinct rule views, the rules sorted by pattern) answer exactly
 * what the scans of every rule they replaced answered.
 *
 * Differential: hundreds of random policies (patterns "**", "P/STARSTAR",
 * literals and globs; entries naming users, "" (anonymous) and groups, with
 * and without conditions, read or other actions; defaultPolicy,
 * anonymousPolicy, adminPolicy; many rules sharing entries), random
 * identities (anonymous, config groups, a credential's own groups, with and
 * without a request) and random scope globs. For each, the catalog's
 * decision (og_decide of GET /v2/_catalog: status, rule, reason) and
 * og_scope_within_reach are compared with the same config with
 * rules_prepared cleared, which makes decide.c scan every rule as before.
 * A fixed seed keeps failures reproducible; OCIGATE_TEST_SEED picks another.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../policy/config.h"
#include "../../policy/decide.h"
#include "../../policy/route.h"

#include "test_rng.h"

static const char *const patterns[] = {
    "**", "a/**", "a/b/**", "a/b/c/**", "b/**", "a", "a/b", "a/*", "a/b/*", "*/**", "a*/**",
    "a/{x,y}/**", "[ab]/**", "c", "c/**", "a/b/c", "x/y/**", "a/?/**", "**/secret", "users/**",
};
#define NPATTERNS (sizeof(patterns) / sizeof(patterns[0]))
static const char *const users[] = { "alice", "bob", "ci", "" };
static const char *const groups[] = { "g1", "g2", "admins" };
static const char *const actions[] = { "read", "create", "update", "delete" };

static json_t *random_actions(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < 4; i++)
        if (rnd(i == 0 ? 3 : 4) == 0 || (i == 0 && rnd(2)))
            json_array_append_new(a, json_string(actions[i]));
    return a;
}

static json_t *random_names(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (rnd(3) == 0)
            json_array_append_new(a, json_string(v[i]));
    return a;
}

/* A few entry lists, shared among the rules (as real policies do). */
static json_t *fresh_rule(void)
{
    json_t *rule = json_object();
    json_t *pol = json_array();
    for (uint32_t i = 0, n = rnd(4); i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "users", random_names(users, 4));
        json_object_set_new(e, "groups", random_names(groups, 3));
        json_object_set_new(e, "actions", random_actions());
        if (rnd(4) == 0)
            json_object_set_new(e, "conditions",
                                json_pack("[{s:s}]", "expression", rnd(2) ? "true" : "false"));
        json_array_append_new(pol, e);
    }
    json_object_set_new(rule, "policies", pol);
    if (rnd(2))
        json_object_set_new(rule, "defaultPolicy", random_actions());
    if (rnd(2))
        json_object_set_new(rule, "anonymousPolicy", random_actions());
    return rule;
}

/* A shared entry list, now and then with conditions on every entry: rules
   that differ only in that must not be taken for one another. */
static json_t *random_rule(json_t *const *shared, size_t nshared)
{
    if (rnd(3) == 0)
        return fresh_rule();
    json_t *rule = json_deep_copy(shared[rnd((uint32_t)nshared)]), *e;
    size_t i;
    if (rnd(3) == 0)
        json_array_foreach(json_object_get(rule, "policies"), i, e)
            json_object_set_new(e, "conditions", json_pack("[{s:s}]", "expression", "true"));
    return rule;
}

static struct og_config *random_config(void)
{
    json_t *shared[3], *repos = json_object();
    char err[512];

    for (size_t i = 0; i < 3; i++)
        shared[i] = rnd(2) ? fresh_rule()
                           : json_pack("{s:[{s:[s], s:o}], s:o}", "policies", "groups",
                                       groups[rnd(3)], "actions", random_actions(),
                                       "defaultPolicy", random_actions());
    for (uint32_t i = 0, n = 1 + rnd(14); i < n; i++)
        json_object_set_new(repos, patterns[rnd(NPATTERNS)], random_rule(shared, 3));
    json_t *ac = json_pack("{s:o, s:{s:{s:[s]}, s:{s:[s,s]}}}", "repositories", repos, "groups",
                           "g1", "users", "alice", "g2", "users", "bob", "ci");
    if (rnd(2))
        json_object_set_new(ac, "adminPolicy", json_pack("{s:[s], s:o}", "groups", "admins",
                                                         "actions", random_actions()));
    json_t *root = json_pack("{s:o}", "accessControl", ac);
    char *text = json_dumps(root, 0);
    struct og_config *cfg = og_config_parse(text, strlen(text), "random.json", err, sizeof(err));
    if (!cfg)
        fail_msg("config did not load: %s\n%s", err, text);
    free(text);
    json_decref(root);
    for (size_t i = 0; i < 3; i++)
        json_decref(shared[i]);
    return cfg;
}

static const char *const cred_groups[] = { "g1", "g2", "g3", "admins" };

static void random_identity(struct og_identity *id, const char **gv,
                            const struct og_request_env *env)
{
    static const char *const who[] = { NULL, "", "alice", "bob", "ci", "dave" };
    size_t ng = 0;

    memset(id, 0, sizeof(*id));
    id->user = who[rnd(6)];
    id->auth = id->user && *id->user ? OG_AUTH_OPENID : OG_AUTH_ANONYMOUS;
    for (size_t i = 0; i < 4; i++)
        if (rnd(4) == 0)
            gv[ng++] = cred_groups[i];
    id->groups = gv;
    id->ngroups = ng;
    id->env = rnd(2) ? env : NULL;
}

static const char *const globs[] = {
    "**", "a/**", "a/*", "a/b/*", "a/b/**", "a/b/c/*", "a/b/c/d/**", "b/*", "c/**", "c*",
    "a/{x,y}/**", "x/y/*", "x/y", "a", "a/b", "a/bb/*", "a/b/c", "users/alice/**", "[ab]/*",
    "a/b*/c", "ab/**", "a//**", "*/x",
};
#define NGLOBS (sizeof(globs) / sizeof(globs[0]))

static void test_same_answers(void **state)
{
    (void)state;
    struct og_request_env env = { .user_agent = "docker/24", .client_ip = "127.0.0.1",
                                  .forwarded_for = "", .tls_version = "", .time_s = 1767225600 };
    struct og_route cat;
    size_t allowed = 0, denied = 0, reach = 0, no_reach = 0, shared_views = 0;

    rng_seed(0x2545f4914f6cdd1dull);
    og_route_classify("GET", 3, "/v2/_catalog", 12, NULL, 0, &cat);
    for (int c = 0; c < 600; c++) {
        struct og_config *cfg = random_config();
        assert_non_null(cfg);
        assert_true(cfg->rules_prepared);
        assert_true(cfg->ncatalog_reps >= 1 && cfg->ncatalog_reps <= cfg->nrules);
        if (cfg->ncatalog_reps < cfg->nrules)
            shared_views++;
        for (int k = 0; k < 40; k++) {
            struct og_identity id;
            const char *gv[4];
            struct og_decision a, b;

            random_identity(&id, gv, &env);
            og_decide(cfg, &cat, &id, NULL, &a);
            cfg->rules_prepared = false;
            og_decide(cfg, &cat, &id, NULL, &b);
            cfg->rules_prepared = true;
            if (a.status != b.status || strcmp(a.rule, b.rule) != 0 ||
                strcmp(a.reason, b.reason) != 0)
                fail_msg("catalog: config %d identity %s: prepared %d %s (%s), scan %d %s (%s)",
                         c, id.user ? id.user : "(null)", a.status, a.rule, a.reason, b.status,
                         b.rule, b.reason);
            if (a.status == 200)
                allowed++;
            else
                denied++;
            for (int g = 0; g < 4; g++) {
                const char *glob = globs[rnd(NGLOBS)];
                bool x = og_scope_within_reach(cfg, &id, glob, strlen(glob));
                cfg->rules_prepared = false;
                bool y = og_scope_within_reach(cfg, &id, glob, strlen(glob));
                cfg->rules_prepared = true;
                if (x != y)
                    fail_msg("scope %s: config %d identity %s: prepared %d, scan %d", glob, c,
                             id.user ? id.user : "(null)", x, y);
                if (x)
                    reach++;
                else
                    no_reach++;
            }
        }
        og_config_free(cfg);
    }
    /* the random policies reach both answers, and rules share views */
    printf("# catalog allowed %zu, denied %zu; scope within reach %zu, not %zu; "
           "%zu configs with shared views\n", allowed, denied, reach, no_reach, shared_views);
    assert_true(allowed > 100 && denied > 100);
    assert_true(reach > 100 && no_reach > 100);
    assert_true(shared_views > 50);
}

/* 10,000 rules with one entry list: the catalog checks one of them. */
static void test_one_view_for_many_rules(void **state)
{
    (void)state;
    json_t *repos = json_object();
    char pat[64], err[512];

    for (int i = 0; i < 10000; i++) {
        snprintf(pat, sizeof(pat), i ? "team%d/**" : "**", i);
        json_object_set_new(repos, pat, json_pack("{s:[{s:[s], s:[s]}]}", "policies", "groups",
                                                  "g1", "actions", "read"));
    }
    json_t *root = json_pack("{s:{s:o, s:{s:{s:[s]}}}}", "accessControl", "repositories", repos,
                             "groups", "g1", "users", "alice");
    char *text = json_dumps(root, 0);
    struct og_config *cfg = og_config_parse(text, strlen(text), "big.json", err, sizeof(err));
    free(text);
    json_decref(root);
    assert_non_null(cfg);
    assert_int_equal(cfg->nrules, 10000);
    assert_int_equal(cfg->ncatalog_reps, 1);
    assert_true(cfg->has_everything_rule);

    struct og_route cat;
    struct og_decision d;
    struct og_identity alice = { .user = "alice", .auth = OG_AUTH_HTPASSWD };
    struct og_identity bob = { .user = "bob", .auth = OG_AUTH_HTPASSWD };
    og_route_classify("GET", 3, "/v2/_catalog", 12, NULL, 0, &cat);
    og_decide(cfg, &cat, &alice, NULL, &d);
    assert_int_equal(d.status, 200);
    og_decide(cfg, &cat, &bob, NULL, &d);
    assert_int_equal(d.status, 403);
    assert_true(og_scope_within_reach(cfg, &alice, "team77/*", 8));
    assert_true(og_scope_within_reach(cfg, &alice, "team77/a/**", 11));
    assert_false(og_scope_within_reach(cfg, &bob, "team77/*", 8));
    og_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_answers),
        cmocka_unit_test(test_one_view_for_many_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
