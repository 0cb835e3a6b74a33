/*
 * test_groups.c - the membership tables built at load (groups sorted by name,
 * (user, group) pairs sorted by user) answer exactly what the scans of every
 * group and its users answered.
 *
 * Differential: hundreds of random accessControl.groups (names from a small
 * pool, "" among them; users repeated within a group, listed in several
 * groups, "" listed too). For every (group, user) of the pools and a few
 * outside them, og_config_group_has_user and og_config_has_group are
 * compared with a scan of cfg->groups, and og_effective_groups (random
 * identities: anonymous, credential groups with repeats and config group
 * names, every output bound) with the scan it replaced. A fixed seed keeps
 * failures reproducible; OCIGATE_TEST_SEED picks another.
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

#include "test_rng.h"

static const char *const group_pool[] = { "g0", "g1", "g2", "g10", "admins", "Admins", "",
                                          "artifact-workloads", "a", "b", "g", "zz" };
#define NGP (sizeof(group_pool) / sizeof(group_pool[0]))
static const char *const user_pool[] = { "alice", "Alice", "bob", "ci", "", "u1", "u10",
                                         "u2", "a", "zed" };
#define NUP (sizeof(user_pool) / sizeof(user_pool[0]))
/* asked about but never listed */
static const char *const outsiders[] = { "nobody", "g3", "alic", "alicee", "~" };
#define NOUT (sizeof(outsiders) / sizeof(outsiders[0]))

static struct og_config *random_config(void)
{
    json_t *groups = json_object();
    uint32_t ng = rnd(12);
    char err[512];

    for (uint32_t i = 0; i < ng; i++) {
        json_t *users = json_array();
        uint32_t nu = rnd(8);
        for (uint32_t j = 0; j < nu; j++)
            json_array_append_new(users, json_string(user_pool[rnd(NUP)]));
        json_object_set_new(groups, group_pool[rnd(NGP)], json_pack("{s:o}", "users", users));
    }
    json_t *root = json_pack("{s:{s:{s:{s:[s]}}, s:o}}", "accessControl", "repositories", "**",
                             "defaultPolicy", "read", "groups", groups);
    char *text = json_dumps(root, 0);
    json_decref(root);
    struct og_config *cfg = og_config_parse(text, strlen(text), "random", err, sizeof err);
    if (!cfg)
        fail_msg("random config refused: %s\n%s", err, text);
    free(text);
    return cfg;
}

/* ---- the scans the tables replaced ------------------------------------- */

static bool scan_has_user(const struct og_config *cfg, const char *group, const char *user)
{
    if (!group || !user || !user[0])
        return false;
    for (size_t i = 0; i < cfg->ngroups; i++)
        if (strcmp(cfg->groups[i].name, group) == 0)
            for (size_t j = 0; j < cfg->groups[i].users.n; j++)
                if (strcmp(cfg->groups[i].users.v[j], user) == 0)
                    return true;
    return false;
}

static bool scan_has_group(const struct og_config *cfg, const char *group)
{
    for (size_t i = 0; i < cfg->ngroups; i++)
        if (strcmp(cfg->groups[i].name, group) == 0)
            return true;
    return false;
}

static size_t scan_effective(const struct og_config *cfg, const struct og_identity *id,
                             const char **out, size_t max)
{
    size_t n = 0;

    if (!id->user || !id->user[0])
        return 0;
    for (size_t i = 0; i < id->ngroups && n < max; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(out[j], id->groups[i]) == 0;
        if (id->groups[i] && !dup)
            out[n++] = id->groups[i];
    }
    for (size_t i = 0; i < cfg->ngroups && n < max; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(out[j], cfg->groups[i].name) == 0;
        if (!dup && scan_has_user(cfg, cfg->groups[i].name, id->user))
            out[n++] = cfg->groups[i].name;
    }
    return n;
}

/* ---- tests --------------------------------------------------------------- */

static const char *any_user(uint32_t k)
{
    return k < NUP ? user_pool[k] : outsiders[k - NUP];
}

static const char *any_group(uint32_t k)
{
    return k < NGP ? group_pool[k] : outsiders[k - NGP];
}

static void test_membership_equals_scan(void **state)
{
    (void)state;
    rng_seed(0x9e3779b97f4a7c15ull);
    for (int round = 0; round < 400; round++) {
        struct og_config *cfg = random_config();
        for (uint32_t g = 0; g < NGP + NOUT; g++) {
            assert_int_equal(og_config_has_group(cfg, any_group(g)),
                             scan_has_group(cfg, any_group(g)));
            for (uint32_t u = 0; u < NUP + NOUT; u++)
                if (og_config_group_has_user(cfg, any_group(g), any_user(u)) !=
                    scan_has_user(cfg, any_group(g), any_user(u)))
                    fail_msg("round %d: group \"%s\" user \"%s\": table %d, scan %d", round,
                             any_group(g), any_user(u),
                             og_config_group_has_user(cfg, any_group(g), any_user(u)),
                             scan_has_user(cfg, any_group(g), any_user(u)));
        }
        assert_false(og_config_group_has_user(cfg, "g0", NULL));
        assert_false(og_config_group_has_user(cfg, NULL, "alice"));
        assert_false(og_config_has_group(cfg, NULL));
        og_config_free(cfg);
    }
}

static void test_effective_groups_equal_scan(void **state)
{
    (void)state;
    rng_seed(0x9e3779b97f4a7c15ull);
    for (int round = 0; round < 400; round++) {
        struct og_config *cfg = random_config();
        for (int k = 0; k < 40; k++) {
            const char *cred[6];
            const char *a[32], *b[32];
            struct og_identity id = { .user = rnd(8) ? any_user(rnd(NUP + NOUT)) : NULL,
                                      .auth = OG_AUTH_HTPASSWD, .groups = cred,
                                      .ngroups = rnd(7) };
            size_t max = 1 + rnd(20);
            for (size_t i = 0; i < id.ngroups; i++)
                cred[i] = rnd(3) ? any_group(rnd(NGP + NOUT)) : "idp-team";
            size_t na = og_effective_groups(cfg, &id, a, max);
            size_t nb = scan_effective(cfg, &id, b, max);
            if (na != nb)
                fail_msg("round %d: user \"%s\": %zu groups, the scan %zu", round,
                         id.user ? id.user : "(null)", na, nb);
            for (size_t i = 0; i < na; i++)
                if (strcmp(a[i], b[i]) != 0)
                    fail_msg("round %d: user \"%s\": group %zu is \"%s\", the scan's \"%s\"",
                             round, id.user ? id.user : "(null)", i, a[i], b[i]);
        }
        og_config_free(cfg);
    }
}

/* Pinned cases: repeats, "" in a group, and file order of the groups. */
static void test_pinned(void **state)
{
    static const char json[] =
        "{\"accessControl\": {\"repositories\": {\"**\": {\"defaultPolicy\": [\"read\"]}},"
        " \"groups\": {\"zeta\": {\"users\": [\"ci\", \"ci\", \"\"]},"
        " \"alpha\": {\"users\": [\"bob\", \"ci\"]}, \"\": {\"users\": [\"ci\"]},"
        " \"mid\": {\"users\": []}}}}";
    char err[512];
    struct og_config *cfg = og_config_parse(json, strlen(json), "pinned", err, sizeof err);
    const struct og_group_member *m;
    const char *out[8];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(og_config_user_groups(cfg, "ci", &m), 3);
    assert_string_equal(cfg->groups[m[0].group].name, "zeta");
    assert_string_equal(cfg->groups[m[1].group].name, "alpha");
    assert_string_equal(cfg->groups[m[2].group].name, "");
    assert_int_equal(og_config_user_groups(cfg, "", &m), 0);
    assert_int_equal(og_config_user_groups(cfg, "nobody", &m), 0);
    assert_true(og_config_has_group(cfg, "mid"));
    assert_true(og_config_has_group(cfg, ""));
    assert_false(og_config_has_group(cfg, "mi"));
    assert_false(og_config_group_has_user(cfg, "zeta", ""));
    assert_true(og_config_group_has_user(cfg, "alpha", "bob"));
    assert_false(og_config_group_has_user(cfg, "zeta", "bob"));
    assert_int_equal(og_effective_groups(cfg, &ci, out, 8), 3);
    assert_string_equal(out[0], "zeta");
    assert_int_equal(og_effective_groups(cfg, &ci, out, 2), 2);
    assert_string_equal(out[1], "alpha");
    og_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership_equals_scan),
        cmocka_unit_test(test_effective_groups_equal_scan),
        cmocka_unit_test(test_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
