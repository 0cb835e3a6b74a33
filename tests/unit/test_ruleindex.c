/*
 * test_ruleindex.c - the index over compiled globs (policy/globindex.c)
 * answers exactly what the linear scans it replaced answered.
 *
 * Differential: thousands of random doublestar patterns (literals, '/',
 * '*', whole-component and inline '**', '?', classes, {} alternations with
 * empty and nested alternatives, escapes) and thousands of random names
 * (some built from the patterns so that many match). For each name the
 * index's answer is compared with a scan of every glob in rank order: at
 * the glob level, through a loaded config's repository rules (og_rule_for
 * against a scan of cfg->rules, which are sorted longest first), and
 * through immutableTags (og_immutable_rule_for, og_repo_has_immutable_rules
 * against the file-order scan). A fixed seed keeps failures reproducible;
 * OCIGATE_TEST_SEED picks another.
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
#include "../../policy/glob.h"
#include "../../policy/globindex.h"

#include "test_rng.h"

/* A few shared prefixes so that the trie has depth and shared paths. */
static const char *const stems[] = { "", "", "a", "ab", "team", "team-a/", "team-b/", "t/e/a/m/",
                                     "prod/", "prod/app", "b" };

static void put(char *buf, size_t *o, size_t cap, const char *s)
{
    while (*s && *o + 1 < cap)
        buf[(*o)++] = *s++;
    buf[*o] = '\0';
}

static void random_piece(char *buf, size_t *o, size_t cap, int depth)
{
    static const char lit[] = "abt-/.e";
    char one[2] = { 0, 0 };

    switch (rnd(20)) {
    case 0: case 1:
        put(buf, o, cap, "*");
        break;
    case 2:
        put(buf, o, cap, "**");
        break;
    case 3:
        put(buf, o, cap, "/**");
        break;
    case 4:
        put(buf, o, cap, "**/");
        break;
    case 5:
        put(buf, o, cap, "?");
        break;
    case 6: {
        static const char *const cls[] = { "[ab]", "[!a]", "[a-e]", "[^-]", "[\\]]", "[.-]" };
        put(buf, o, cap, cls[rnd(6)]);
        break;
    }
    case 7:
        if (depth < 2) {
            int n = 1 + (int)rnd(3);
            put(buf, o, cap, "{");
            for (int i = 0; i < n; i++) {
                if (i)
                    put(buf, o, cap, ",");
                for (int k = (int)rnd(3); k > 0; k--)
                    random_piece(buf, o, cap, depth + 1);
            }
            put(buf, o, cap, "}");
            break;
        }
        /* fall through */
    case 8:
        put(buf, o, cap, rnd(2) ? "\\a" : "\\*");
        break;
    default:
        one[0] = lit[rnd(sizeof lit - 1)];
        put(buf, o, cap, one);
        break;
    }
}

static void random_pattern(char *buf, size_t cap)
{
    size_t o = 0;

    buf[0] = '\0';
    put(buf, &o, cap, stems[rnd(sizeof stems / sizeof *stems)]);
    for (int k = (int)rnd(7); k > 0; k--)
        random_piece(buf, &o, cap, 0);
}

/* A name: random bytes of the patterns' alphabet, or a pattern with its
   wildcards replaced by a few bytes (a likely match). */
static size_t random_name(char *buf, size_t cap, const char *const *pats, size_t npats)
{
    static const char alpha[] = "abt-/.e*a";
    size_t o = 0;

    if (npats && rnd(3)) {
        const char *p = pats[rnd((uint32_t)npats)];
        for (; *p && o + 4 < cap; p++) {
            if (*p == '*' || *p == '?' || *p == '[' || *p == '{' || *p == '}' || *p == ',' ||
                *p == ']' || *p == '\\' || *p == '!' || *p == '^')
                for (int k = (int)rnd(3); k > 0; k--)
                    buf[o++] = alpha[rnd(sizeof alpha - 1)];
            else
                buf[o++] = *p;
        }
        if (rnd(3) == 0)        /* "a/STARSTAR" matches "a": cut at a last '/' */
            while (o > 0 && buf[o - 1] != '/')
                o--;
        if (o > 0 && rnd(2) == 0 && buf[o - 1] == '/')
            o--;
    } else {
        for (int k = (int)rnd(14); k > 0 && o + 1 < cap; k--)
            buf[o++] = alpha[rnd(sizeof alpha - 1)];
    }
    buf[o] = '\0';
    return o;
}

/* ------------------------------------------------------------------------ */
/* Glob level: index vs. a scan in rank order.                               */

static uint32_t linear_first(struct og_glob *const *globs, const uint32_t *ids, size_t n,
                             const char *s, size_t len, og_glob_index_accept accept,
                             const void *ctx)
{
    uint32_t best = OG_GLOB_INDEX_NONE;

    for (size_t i = 0; i < n; i++)
        if (ids[i] < best && og_glob_match(globs[i], s, len) && (!accept || accept(ctx, ids[i])))
            best = ids[i];
    return best;
}

static bool odd_ids(const void *ctx, uint32_t id)
{
    (void)ctx;
    return id & 1;
}

static void test_index_equals_scan(void **state)
{
    enum { NGLOBS = 4000, NNAMES = 6000 };
    struct og_glob **globs = calloc(NGLOBS, sizeof *globs);
    uint32_t *ids = calloc(NGLOBS, sizeof *ids);
    char **pats = calloc(NGLOBS, sizeof *pats);
    char pat[200], name[300], err[128];
    size_t n = 0, matched = 0, cands = 0;

    (void)state;
    rng_seed(0x9e3779b97f4a7c15ull);
    assert_non_null(globs);
    while (n < NGLOBS) {
        random_pattern(pat, sizeof pat);
        globs[n] = og_glob_compile(pat, strlen(pat), err, sizeof err);
        if (!globs[n])
            continue;
        pats[n] = strdup(pat);
        ids[n] = rnd(NGLOBS / 2);       /* repeated ranks, in no order */
        n++;
    }
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            /* ranked as the config ranks rules: longer patterns first, so that
               names are decided by deep prefixes rather than by "**" */
            for (size_t i = 0; i < n; i++)
                ids[i] = (uint32_t)(200 - strlen(pats[i])) * 8u + rnd(8);
            matched = cands = 0;
        }
        struct og_glob_index *ix = og_glob_index_build(globs, ids, n);
        assert_non_null(ix);
        for (int k = 0; k < NNAMES; k++) {
            size_t len = random_name(name, sizeof name, (const char *const *)pats, n);
            uint32_t want = linear_first(globs, ids, n, name, len, NULL, NULL);
            uint32_t got = og_glob_index_first(ix, name, len, NULL, NULL);
            if (want != got)
                fail_msg("name \"%s\": scan %u (%s), index %u (%s)", name, want,
                         want == OG_GLOB_INDEX_NONE ? "-" : "rank", got,
                         got == OG_GLOB_INDEX_NONE ? "-" : "rank");
            assert_int_equal(linear_first(globs, ids, n, name, len, odd_ids, NULL),
                             og_glob_index_first(ix, name, len, odd_ids, NULL));
            matched += want != OG_GLOB_INDEX_NONE;
            cands += og_glob_index_candidates(ix, name, len);
        }
        /* the test means something: many names match, and few globs are tried */
        assert_true(matched > NNAMES / 4);
        assert_true(cands / NNAMES < n / 4);
        print_message("# %zu globs, %d names, %zu matched, %.1f globs tried per name at most\n",
                      n, NNAMES, matched, (double)cands / NNAMES);
        og_glob_index_free(ix);
    }
    /* no globs at all; a NULL index */
    struct og_glob_index *empty = og_glob_index_build(globs, ids, 0);
    assert_non_null(empty);
    assert_int_equal(og_glob_index_first(empty, "a", 1, NULL, NULL), OG_GLOB_INDEX_NONE);
    og_glob_index_free(empty);
    assert_int_equal(og_glob_index_first(NULL, "a", 1, NULL, NULL), OG_GLOB_INDEX_NONE);
    for (size_t i = 0; i < n; i++) {
        og_glob_free(globs[i]);
        free(pats[i]);
    }
    free(globs);
    free(ids);
    free(pats);
}

/* ------------------------------------------------------------------------ */
/* Config level: repository rules and immutableTags.                         */

static const struct og_repo_rule *scan_rules(const struct og_config *cfg, const char *s, size_t len)
{
    for (size_t i = 0; i < cfg->nrules; i++)
        if (og_glob_match(cfg->rules[i].glob, s, len))
            return &cfg->rules[i];
    return NULL;
}

static const struct og_immutable_rule *scan_immutable(const struct og_config *cfg, const char *repo,
                                                      size_t len, const char *tag)
{
    for (size_t i = 0; i < cfg->nimmutable; i++) {
        const struct og_immutable_rule *r = &cfg->immutable[i];
        bool rm = false, tm = false;
        for (size_t j = 0; j < r->nrepos && !rm; j++)
            rm = og_glob_match(r->repos[j], repo, len);
        for (size_t j = 0; j < r->ntags && rm && !tm; j++)
            tm = og_glob_match(r->tags[j], tag, strlen(tag));
        if (rm && tm)
            return r;
    }
    return NULL;
}

static bool scan_has_immutable(const struct og_config *cfg, const char *repo, size_t len)
{
    for (size_t i = 0; i < cfg->nimmutable; i++)
        for (size_t j = 0; j < cfg->immutable[i].nrepos; j++)
            if (og_glob_match(cfg->immutable[i].repos[j], repo, len))
                return true;
    return false;
}

static void test_config_rules_equal_scan(void **state)
{
    enum { NPATS = 3000, NIMM = 60, NNAMES = 5000 };
    char pat[200], name[300], err[256];
    char **pats = calloc(NPATS, sizeof *pats);
    size_t n = 0, hits = 0;
    json_t *repos = json_object(), *imm = json_array();

    (void)state;
    rng_seed(0x9e3779b97f4a7c15ull);
    assert_non_null(pats);
    while (n < NPATS) {
        struct og_glob *g;
        random_pattern(pat, sizeof pat);
        if (!pat[0] || json_object_get(repos, pat))   /* the config refuses "" */
            continue;
        g = og_glob_compile(pat, strlen(pat), err, sizeof err);
        if (!g)
            continue;
        og_glob_free(g);
        pats[n++] = strdup(pat);
        json_object_set_new(repos, pat, json_pack("{s:[s], s:[{s:[s], s:[s]}]}",
                                                  "defaultPolicy", "read", "policies",
                                                  "users", "u", "actions", "create"));
    }
    for (int i = 0; i < NIMM; i++) {
        json_t *rs = json_array(), *ts = json_array();
        for (int k = 1 + (int)rnd(3); k > 0; k--)
            json_array_append_new(rs, json_string(pats[rnd(NPATS)]));
        json_array_append_new(ts, json_string(rnd(2) ? "v*" : "{a,b}*"));
        if (rnd(2))
            json_array_append_new(ts, json_string("*"));
        json_array_append_new(imm, json_pack("{s:o, s:o}", "repositories", rs, "tags", ts));
    }
    json_t *root = json_pack("{s:{s:o}, s:o}", "accessControl", "repositories", repos,
                             "immutableTags", imm);
    char *text = json_dumps(root, 0);
    json_decref(root);
    assert_non_null(text);
    struct og_config *cfg = og_config_parse(text, strlen(text), "random", err, sizeof err);
    free(text);
    if (!cfg)
        fail_msg("random config: %s", err);
    assert_int_equal(cfg->nrules, NPATS);
    for (int k = 0; k < NNAMES; k++) {
        static const char *const tags[] = { "v1", "a", "b2", "x", "" };
        size_t len = random_name(name, sizeof name, (const char *const *)pats, n);
        const struct og_repo_rule *want = scan_rules(cfg, name, len), *got = og_rule_for(cfg, name, len);
        if (want != got)
            fail_msg("name \"%s\": scan \"%s\", index \"%s\"", name, want ? want->pattern : "-",
                     got ? got->pattern : "-");
        hits += want != NULL;
        const char *tag = tags[rnd(5)];
        assert_ptr_equal(scan_immutable(cfg, name, len, tag), og_immutable_rule_for(cfg, name, len, tag));
        assert_int_equal(scan_has_immutable(cfg, name, len), og_repo_has_immutable_rules(cfg, name, len));
    }
    assert_true(hits > NNAMES / 4);
    og_config_free(cfg);
    for (size_t i = 0; i < n; i++)
        free(pats[i]);
    free(pats);
}

/* Hand-picked cases where a prefix is not what it seems. */
static void test_prefix_edges(void **state)
{
    static const char *const pats[] = {
        "a/**",        /* matches "a": the prefix is "a", not "a/" */
        "a/**/",       /* "a/" + zero-length tail */
        "**/b",        /* a leading wildcard: the root */
        "{x,y}/c",     /* one prefix per alternative */
        "{,z}q",       /* an empty alternative */
        "\\*lit",      /* an escaped '*' is a literal */
        "",            /* the empty pattern matches the empty name */
        "ab**/",       /* inline "**" is '*' */
    };
    static const char *const names[] = { "a", "a/", "a/x", "b", "x/b", "x/c", "y/c", "q", "zq",
                                         "*lit", "xlit", "", "ab", "abc/", "abc" };
    enum { N = sizeof pats / sizeof *pats };
    struct og_glob *globs[N];
    uint32_t ids[N];
    char err[128];

    (void)state;
    for (size_t i = 0; i < N; i++) {
        globs[i] = og_glob_compile(pats[i], strlen(pats[i]), err, sizeof err);
        assert_non_null(globs[i]);
        ids[i] = (uint32_t)i;
    }
    struct og_glob_index *ix = og_glob_index_build(globs, ids, N);
    assert_non_null(ix);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        assert_int_equal(og_glob_index_first(ix, names[k], strlen(names[k]), NULL, NULL),
                         linear_first(globs, ids, N, names[k], strlen(names[k]), NULL, NULL));
    assert_int_equal(og_glob_index_first(ix, "a", 1, NULL, NULL), 0);
    assert_int_equal(og_glob_index_first(ix, "", 0, NULL, NULL), 6);
    assert_int_equal(og_glob_index_first(ix, "*lit", 4, NULL, NULL), 5);
    og_glob_index_free(ix);
    for (size_t i = 0; i < N; i++)
        og_glob_free(globs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_edges),
        cmocka_unit_test(test_index_equals_scan),
        cmocka_unit_test(test_config_rules_equal_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
