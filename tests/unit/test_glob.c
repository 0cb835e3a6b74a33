/*
 * test_glob.c - unit tests for policy/glob.c (doublestar patterns) and
 * policy/action.c (zot action names).  One TAP line per table row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "action.h"
#include "glob.h"

/* ---- match table ------------------------------------------------------- */

struct mcase {
    const char *pat;
    const char *name;
    bool want;
};

static const struct mcase mcases[] = {
    /* literals, '*', '?' (doublestar's own table, mostly) */
    { "abc", "abc", true },
    { "abc", "abd", false },
    { "abc", "ab", false },
    { "abc", "abcd", false },
    { "ABC", "abc", false },
    { "", "", true },
    { "", "a", false },
    { "*", "abc", true },
    { "*", "", true },
    { "*", "a/b", false },
    { "*c", "abc", true },
    { "a*", "a", true },
    { "a*", "abc", true },
    { "a*", "ab/c", false },
    { "a*/b", "abc/b", true },
    { "a*/b", "a/c/b", false },
    { "a*b*c*d*e*/f", "axbxcxdxe/f", true },
    { "a*b*c*d*e*/f", "axbxcxdxexxx/f", true },
    { "a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false },
    { "a*b*c*d*e*/f", "axbxcxdxexxx/fff", false },
    { "a*b?c*x", "abxbbxdbxebxczzx", true },
    { "a*b?c*x", "abxbbxdbxebxczzy", false },
    { "*x", "xxx", true },
    { "?", "a", true },
    { "?", "", false },
    { "??", "a", false },
    { "a?b", "a/b", false },
    { "a*b", "a/b", false },
    { "*/*", "a/b", true },
    { "*/*", "a/b/c", false },
    /* zot: infra/ + * */
    { "infra/*", "infra/x", true },
    { "infra/*", "infra", false },
    { "infra/*", "infra/x/y", false },
    { "infra/*", "infrax", false },
    /* classes */
    { "ab[c]", "abc", true },
    { "ab[b-d]", "abc", true },
    { "ab[e-g]", "abc", false },
    { "ab[^c]", "abc", false },
    { "ab[!c]", "abd", true },
    { "ab[!c]", "abc", false },
    { "ab[^b-d]", "abc", false },
    { "ab[^e-g]", "abc", true },
    { "[a-z0-9]*", "team1", true },
    { "[a-z0-9]*", "Team1", false },
    { "[\\]a]", "]", true },
    { "[\\-]", "-", true },
    { "[x\\-]", "-", true },
    { "[x\\-]", "z", false },
    { "[\\-x]", "x", true },
    { "[-x]", "-", true },
    { "[x-]", "-", true },
    { "[a-c-e]", "-", true },
    { "[a-c-e]", "d", false },
    { "[a-c-e]", "e", true },
    { "[z-a]", "m", false },
    { "[!x]", "/", false },
    { "a[!x]b", "a/b", false },
    { "a[/]b", "a/b", false },
    { "[,]", ",", true },
    /* escapes */
    { "a\\*b", "ab", false },
    { "a\\*b", "a*b", true },
    { "a\\?b", "axb", false },
    { "a\\?b", "a?b", true },
    { "\\[x]", "[x]", true },
    { "\\[x]", "x", false },
    { "a/\\**", "a/b/c", false },
    { "a/\\**", "a/*bc", true },
    { "\\{a,b\\}", "{a,b}", true },
    { "\\{a,b\\}", "a", false },
    { "\\a\\/b", "a/b", true },
    { "a]b", "a]b", true },
    { "a,b", "a,b", true },
    /* braces */
    { "ab{c,d}", "abc", true },
    { "ab{c,d}", "abd", true },
    { "ab{c,d}", "abe", false },
    { "ab{c,d,*}", "abcde", true },
    { "a{,b}", "a", true },
    { "a{,b}", "ab", true },
    { "a{,b}", "abb", false },
    { "x{}y", "xy", true },
    { "{a,b{c,d{e,f}}}", "a", true },
    { "{a,b{c,d{e,f}}}", "bc", true },
    { "{a,b{c,d{e,f}}}", "bdf", true },
    { "{a,b{c,d{e,f}}}", "bd", false },
    { "{a,b{c,d{e,f}}}", "b", false },
    { "{a\\,b,c}", "a,b", true },
    { "{a\\,b,c}", "a", false },
    { "{a\\,b,c}", "c", true },
    { "{[,],x}", ",", true },
    { "{[,],x}", "x", true },
    { "{prod,staging}/*", "prod/app", true },
    { "{prod,staging}/*", "staging/app/x", false },
    { "{prod,staging}/*", "dev/app", false },
    { "team-{a,b}/**", "team-b/x/y", true },
    { "team-{a,b}/**", "team-a", true },
    { "team-{a,b}/**", "team-c/x", false },
    { "**/{x,y}", "a/b/y", true },
    { "**/{x,y}", "y", true },
    { "{a/**,b}", "a/q/r", true },
    { "{a/**,b}", "b/q", false },
    { "{a,b}{c,d}{e,f}", "bde", true },
    { "{a,b}{c,d}{e,f}", "bdd", false },
    /* doublestar "**" */
    { "a/**", "a", true },
    { "a/**", "a/b", true },
    { "a/**", "a/b/c", true },
    { "a/**", "ab", false },
    { "a/**", "b/a", false },
    { "**", "x", true },
    { "**", "a/b/c", true },
    { "**/c", "c", true },
    { "**/c", "b/c", true },
    { "**/c", "a/b/c", true },
    { "**/c", "a/b", false },
    { "**/c", "abcd", false },
    { "**/c", "a/abc", false },
    { "a/**/b", "a/b", true },
    { "a/**/b", "a/x/b", true },
    { "a/**/b", "a/x/y/b", true },
    { "a/**/b", "a/b/c", false },
    { "a/**/b", "a/xb", false },
    { "a/**/b", "ab", false },
    { "a/**/c", "a/b/c", true },
    { "a/**/d", "a/b/c/d", true },
    { "a/**/b/**/c", "a/b/c", true },
    { "a/**/b/**/c", "a/1/b/2/3/c", true },
    { "a/**/b/**/c", "a/b/b/c", true },
    { "a/**/b/**/c", "a/c", false },
    { "**/x/**", "x", true },
    { "**/x/**", "a/x/b/c", true },
    { "**/x/**", "a/y", false },
    { "**/**", "a/b", true },
    { "**/*/x", "a/b/x", true },
    { "**/*/x", "x", false },
    { "a/**/*", "a/b", true },
    { "a/**/*", "a/b/c", true },
    { "a/**/*", "a", false },
    { "a/**/", "a", true },
    { "*/**", "a", true },
    { "*/**", "a/b/c", true },
    /* "**" that is not a whole component is "*" */
    { "abc**", "abc", true },
    { "**abc", "abc", true },
    { "**abc", "x/abc", false },
    { "a**b", "axxb", true },
    { "a**b", "a/b", false },
    { "a/**b", "a/xb", true },
    { "a/**b", "a/x/b", false },
    { "a/b**/c", "a/bxx/c", true },
    { "a/b**/c", "a/b/x/c", false },
    { "***/x", "a/b/x", false },
    { "***/x", "ab/x", true },
    /* leading '/' never matches a repository name */
    { "/a", "a", false },
    { "/**", "a", false },
    { "/*", "a", false },
    /* doublestar quirks: an alternative starts a segment; "**" before '{' is "*" */
    { "a{,}**", "ab/c", true },
    { "**{/x,}", "a/b/x", false },
    { "**{/x,}", "ab", true },
    { "a**/", "a", true },
    { "a**/", "ab", false },
};

#define NMCASES (sizeof mcases / sizeof mcases[0])

static void t_match(void **state)
{
    const struct mcase *c = *state;
    char err[128] = "";
    struct og_glob *g = og_glob_compile(c->pat, strlen(c->pat), err, sizeof err);

    if (g == NULL)
        fail_msg("compile \"%s\": %s", c->pat, err);
    if (og_glob_match(g, c->name, strlen(c->name)) != c->want)
        fail_msg("\"%s\" vs \"%s\": want %s", c->pat, c->name, c->want ? "match" : "no match");
    og_glob_free(g);
}

/* ---- compile errors ---------------------------------------------------- */

static const char *bad_patterns[] = {
    "\\", "ab\\", "[", "[^", "[^bc", "a[", "[]a]", "[!]", "[^]", "[a\\]",
    "{a,b", "a}", "{a,{b}", "ab{c,d}[", "}{", "\\{a,b}",
};

#define NBAD (sizeof bad_patterns / sizeof bad_patterns[0])

static void t_bad(void **state)
{
    const char *pat = *(const char *const *)*state;
    char err[128] = "";

    assert_null(og_glob_compile(pat, strlen(pat), err, sizeof err));
    assert_true(err[0] != '\0');
    assert_null(og_glob_compile(pat, strlen(pat), NULL, 0));
}

static void t_bad_messages(void **state)
{
    char err[128];

    (void)state;
    assert_null(og_glob_compile("a[]b", 4, err, sizeof err));
    assert_non_null(strstr(err, "empty character class"));
    assert_null(og_glob_compile("a[bc", 4, err, sizeof err));
    assert_non_null(strstr(err, "unterminated character class"));
    assert_null(og_glob_compile("ab\\", 3, err, sizeof err));
    assert_non_null(strstr(err, "'\\'"));
    assert_null(og_glob_compile("x{a,b", 5, err, sizeof err));
    assert_non_null(strstr(err, "'{'"));
    assert_null(og_glob_compile("a}", 2, err, sizeof err));
    assert_non_null(strstr(err, "'}'"));
    /* a message is truncated, not overflowed */
    assert_null(og_glob_compile("a[bc", 4, err, 5));
    assert_int_equal(strlen(err), 4);
}

static void t_alt_cap(void **state)
{
    char err[128] = "";
    /* 2^8 = 256 alternatives: allowed */
    const char *ok = "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}";
    /* 2^9 = 512: rejected */
    const char *big = "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}";
    /* 17^3 = 4913, also in nesting */
    const char *nest = "{a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,{q,{r,s}}}"
                       "{a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q}{a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q}";
    struct og_glob *g;

    (void)state;
    g = og_glob_compile(ok, strlen(ok), err, sizeof err);
    assert_non_null(g);
    assert_true(og_glob_match(g, "abbabbab", 8));
    assert_true(og_glob_match(g, "bbbbbbbb", 8));
    assert_false(og_glob_match(g, "bbbbbbbc", 8));
    assert_false(og_glob_match(g, "bbbbbbb", 7));
    og_glob_free(g);
    assert_null(og_glob_compile(big, strlen(big), err, sizeof err));
    assert_non_null(strstr(err, "alternatives"));
    assert_null(og_glob_compile(nest, strlen(nest), err, sizeof err));
}

static void t_limits(void **state)
{
    char pat[2048], err[128] = "";
    size_t i;
    struct og_glob *g;

    (void)state;
    /* nesting deeper than 32 */
    for (i = 0; i < 40; i++)
        pat[i] = '{';
    for (i = 40; i < 80; i++)
        pat[i] = '}';
    assert_null(og_glob_compile(pat, 80, err, sizeof err));
    /* 32 deep is fine: {{{...a...}}} */
    for (i = 0; i < 32; i++)
        pat[i] = '{';
    pat[32] = 'a';
    for (i = 33; i < 65; i++)
        pat[i] = '}';
    g = og_glob_compile(pat, 65, err, sizeof err);
    assert_non_null(g);
    assert_true(og_glob_match(g, "a", 1));
    og_glob_free(g);
    /* longer than 1024 bytes */
    memset(pat, 'a', sizeof pat);
    assert_null(og_glob_compile(pat, 1025, err, sizeof err));
    g = og_glob_compile(pat, 1024, err, sizeof err);
    assert_non_null(g);
    assert_true(og_glob_match(g, pat, 1024));
    assert_false(og_glob_match(g, pat, 1023));
    og_glob_free(g);
}

/* ---- API details ------------------------------------------------------- */

static void t_source_and_lengths(void **state)
{
    const char buf[] = "team-*/**XYZ";
    char err[64];
    struct og_glob *g;

    (void)state;
    /* the pattern is pointer + length, not NUL-terminated */
    g = og_glob_compile(buf, 9, err, sizeof err);
    assert_non_null(g);
    assert_string_equal(og_glob_source(g), "team-*/**");
    /* so is the name */
    assert_true(og_glob_match(g, "team-a/xyzzy", 6));
    assert_true(og_glob_match(g, "team-a/x", 8));
    assert_true(og_glob_match(g, "team-a/x", 5));   /* "team-" + zero-length rest */
    assert_false(og_glob_match(g, "team-a/x", 4));
    og_glob_free(g);

    /* bytes after the given length are never read as pattern */
    g = og_glob_compile("ab[", 2, err, sizeof err);
    assert_non_null(g);
    assert_string_equal(og_glob_source(g), "ab");
    assert_true(og_glob_match(g, "ab", 2));
    og_glob_free(g);

    /* NUL bytes in a name are ordinary bytes */
    g = og_glob_compile("a?b", 3, err, sizeof err);
    assert_non_null(g);
    assert_true(og_glob_match(g, "a\0b", 3));
    og_glob_free(g);

    /* empty pattern */
    g = og_glob_compile("", 0, err, sizeof err);
    assert_non_null(g);
    assert_string_equal(og_glob_source(g), "");
    assert_true(og_glob_match(g, "", 0));
    assert_true(og_glob_match(g, NULL, 0));
    assert_false(og_glob_match(g, "a", 1));
    og_glob_free(g);

    og_glob_free(NULL);
    assert_false(og_glob_match(NULL, "a", 1));
}

static void t_case_sensitive(void **state)
{
    char err[64];
    struct og_glob *g = og_glob_compile("Team/[A-C]*", 11, err, sizeof err);

    (void)state;
    assert_non_null(g);
    assert_true(og_glob_match(g, "Team/Bx", 7));
    assert_false(og_glob_match(g, "team/Bx", 7));
    assert_false(og_glob_match(g, "Team/bx", 7));
    og_glob_free(g);
}

static void t_long_names(void **state)
{
    char name[256], err[64];
    struct og_glob *g;
    size_t i;

    (void)state;
    /* 255 bytes: a/a/a/.../a */
    for (i = 0; i < 255; i++)
        name[i] = (i % 2) ? '/' : 'a';
    g = og_glob_compile("a/**/a", 6, err, sizeof err);
    assert_non_null(g);
    assert_true(og_glob_match(g, name, 255));
    assert_false(og_glob_match(g, name, 254));
    og_glob_free(g);
    g = og_glob_compile("**/a/*/a", 8, err, sizeof err);
    assert_non_null(g);
    assert_true(og_glob_match(g, name, 255));
    og_glob_free(g);
    g = og_glob_compile("*/*", 3, err, sizeof err);
    assert_non_null(g);
    assert_false(og_glob_match(g, name, 255));
    og_glob_free(g);
}

/* ---- performance ------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds for reps matches of g against the first len bytes of both names:
   the fastest of five runs (a run the scheduler interrupted is not kept). */
static double match_time(const struct og_glob *g, const char *a, const char *slashed,
                         size_t len, int reps)
{
    double best = 1e9;

    for (int run = 0; run < 5; run++) {
        double t0 = now(), dt;
        for (int n = 0; n < reps; n++) {
            assert_false(og_glob_match(g, a, len));
            assert_false(og_glob_match(g, slashed, len));
        }
        dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    return best;
}

/*
 * No exponential backtracking: a name 4 times as long may cost about 4
 * times as much (these patterns make a backtracking matcher's cost grow like
 * the name's length to the power of their stars: 4^6 = 4096 times). A ratio
 * of two times on one machine, not a wall-clock budget, so a busy machine
 * does not make it fail; 64 leaves room for noise and a quadratic corner.
 */
static void t_pathological(void **state)
{
    static const char *pats[] = {
        "*a*a*a*a*a*a*b",
        "**/*a*a*a*a*a*a*b",
        "**/*a*a*/**/*a*a*a*b/**/*b",
        "{*a*a*a*b,*a*a*a*a*c,**/*a*a*a*d}",
    };
    char a255[255], slashed[255], err[128];
    struct og_glob *g;
    size_t p, i;
    double t_short, t_long;

    (void)state;
    memset(a255, 'a', sizeof a255);
    for (i = 0; i < sizeof slashed; i++)
        slashed[i] = (i % 8 == 7) ? '/' : 'a';
    for (p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        g = og_glob_compile(pats[p], strlen(pats[p]), err, sizeof err);
        assert_non_null(g);
        t_short = match_time(g, a255, slashed, 63, 2000);
        t_long = match_time(g, a255, slashed, 252, 2000);
        og_glob_free(g);
        print_message("# %s: 2k matches of 63 bytes in %.5fs, of 252 bytes in %.5fs\n",
                      pats[p], t_short, t_long);
        if (t_long > 64 * t_short + 0.001)
            fail_msg("\"%s\": 4 times the name cost %.0f times the time", pats[p],
                     t_long / (t_short > 0 ? t_short : 1e-9));
    }
}


/* ---- randomized cross-check against a naive exponential matcher ------- */

/* The same model as glob.c, written the obvious way (brace- and class-free). */
static bool ref_match(const char *p, size_t pn, const char *s, size_t sn, bool seg)
{
    size_t r, k;

    if (pn == 0)
        return sn == 0;
    /* doublestar's zero-length rests once the name is used up */
    if (sn == 0 && ((pn == 3 && memcmp(p, "/**", 3) == 0) ||
                    (pn == 4 && memcmp(p, "/**/", 4) == 0) ||
                    (pn == 3 && !seg && memcmp(p, "**/", 3) == 0)))
        return true;
    if (p[0] == '*') {
        for (r = 1; r < pn && p[r] == '*'; r++)
            ;
        if (r == 2 && seg && (pn == 2 || p[2] == '/')) {
            if (pn == 2)
                return true;
            for (k = 0; k <= sn; k++)
                if ((k == 0 || s[k - 1] == '/') && ref_match(p + 3, pn - 3, s + k, sn - k, true))
                    return true;
            return false;
        }
        for (k = 0;; k++) {
            if (ref_match(p + r, pn - r, s + k, sn - k, false))
                return true;
            if (k == sn || s[k] == '/')
                return false;
        }
    }
    if (sn == 0)
        return false;
    if (p[0] == '?')
        return s[0] != '/' && ref_match(p + 1, pn - 1, s + 1, sn - 1, false);
    return s[0] == p[0] && ref_match(p + 1, pn - 1, s + 1, sn - 1, p[0] == '/');
}

static bool ref_glob(const char *p, size_t pn, const char *s, size_t sn)
{
    return ref_match(p, pn, s, sn, true);
}

#ifndef GLOB_RANDOM_ROUNDS
#define GLOB_RANDOM_ROUNDS 20000
#endif

static unsigned long rng_state = 12345;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned)((rng_state >> 33) % n);
}

static void t_random_vs_naive(void **state)
{
    static const char *const pieces[] = { "a", "b", "/", "*", "?", "**", "/**/", "/**" };
    char pat[64], name[16], err[64];
    size_t pn, sn, i, j;
    int round;
    struct og_glob *g;

    (void)state;
    for (round = 0; round < GLOB_RANDOM_ROUNDS; round++) {
        pn = 0;
        for (i = rnd(7); i > 0; i--) {
            const char *pc = pieces[rnd(sizeof pieces / sizeof pieces[0])];
            memcpy(pat + pn, pc, strlen(pc));
            pn += strlen(pc);
        }
        g = og_glob_compile(pat, pn, err, sizeof err);
        assert_non_null(g);
        for (j = 0; j < 20; j++) {
            sn = rnd(9);
            for (i = 0; i < sn; i++)
                name[i] = "ab/"[rnd(3)];
            if (og_glob_match(g, name, sn) != ref_glob(pat, pn, name, sn))
                fail_msg("\"%.*s\" vs \"%.*s\": glob %d, naive %d", (int)pn, pat,
                         (int)sn, name, og_glob_match(g, name, sn), !og_glob_match(g, name, sn));
        }
        og_glob_free(g);
    }
}

/* ---- actions ----------------------------------------------------------- */

static void t_action_names(void **state)
{
    (void)state;
    assert_string_equal(og_action_name(OG_ACT_READ), "read");
    assert_string_equal(og_action_name(OG_ACT_CREATE), "create");
    assert_string_equal(og_action_name(OG_ACT_UPDATE), "update");
    assert_string_equal(og_action_name(OG_ACT_DELETE), "delete");
    assert_string_equal(og_action_name(OG_ACT_DETECT_MANIFEST_COLLISION),
                        "detectManifestCollision");
    assert_string_equal(og_action_name(OG_ACT_NONE), "none");
    assert_string_equal(og_action_name(OG_ACT_READ | OG_ACT_CREATE), "?");
    assert_string_equal(og_action_name(1u << 9), "?");
}

static void t_action_parse(void **state)
{
    static const unsigned all[] = {
        OG_ACT_READ, OG_ACT_CREATE, OG_ACT_UPDATE, OG_ACT_DELETE,
        OG_ACT_DETECT_MANIFEST_COLLISION,
    };
    size_t i;
    const char *nm;

    (void)state;
    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        nm = og_action_name(all[i]);
        assert_int_equal(og_action_parse(nm, strlen(nm)), all[i]);
    }
    assert_int_equal(og_action_parse("Read", 4), OG_ACT_NONE);
    assert_int_equal(og_action_parse("READ", 4), OG_ACT_NONE);
    assert_int_equal(og_action_parse("detectmanifestcollision", 23), OG_ACT_NONE);
    assert_int_equal(og_action_parse("rea", 3), OG_ACT_NONE);
    assert_int_equal(og_action_parse("reads", 5), OG_ACT_NONE);
    assert_int_equal(og_action_parse("read ", 5), OG_ACT_NONE);
    assert_int_equal(og_action_parse("none", 4), OG_ACT_NONE);
    assert_int_equal(og_action_parse("", 0), OG_ACT_NONE);
    assert_int_equal(og_action_parse(NULL, 0), OG_ACT_NONE);
    /* explicit length: the bytes after it are not part of the name */
    assert_int_equal(og_action_parse("deleteXYZ", 6), OG_ACT_DELETE);
    assert_int_equal(og_action_parse("updatecreate", 6), OG_ACT_UPDATE);
}

/* ---- driver ------------------------------------------------------------ */

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} fixed[] = {
    { "compile error messages", t_bad_messages },
    { "brace alternatives capped at 256", t_alt_cap },
    { "length and nesting limits", t_limits },
    { "source, explicit lengths, NUL bytes, empty pattern", t_source_and_lengths },
    { "case-sensitive", t_case_sensitive },
    { "255-byte names", t_long_names },
    { "pathological patterns: cost grows with the name, not exponentially", t_pathological },
    { "random patterns agree with a naive matcher", t_random_vs_naive },
    { "action names", t_action_names },
    { "action parse", t_action_parse },
};

#define NFIXED (sizeof fixed / sizeof fixed[0])

static char names[NMCASES + NBAD][160];

int main(void)
{
    struct CMUnitTest tests[NMCASES + NBAD + NFIXED];
    size_t i, k = 0;

    memset(tests, 0, sizeof tests);
    for (i = 0; i < NMCASES; i++, k++) {
        snprintf(names[k], sizeof names[k], "match \"%s\" \"%s\" => %s",
                 mcases[i].pat, mcases[i].name, mcases[i].want ? "true" : "false");
        tests[k].name = names[k];
        tests[k].test_func = t_match;
        tests[k].initial_state = (void *)&mcases[i];
    }
    for (i = 0; i < NBAD; i++, k++) {
        snprintf(names[k], sizeof names[k], "compile error \"%s\"", bad_patterns[i]);
        tests[k].name = names[k];
        tests[k].test_func = t_bad;
        tests[k].initial_state = (void *)&bad_patterns[i];
    }
    for (i = 0; i < NFIXED; i++, k++) {
        tests[k].name = fixed[i].name;
        tests[k].test_func = fixed[i].fn;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
