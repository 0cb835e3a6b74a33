/*
 * fuzz_glob.c - og_glob_compile / og_glob_match (policy/glob.c).
 *
 * Input: PATTERN \0 NAME [\0 NAME ...]. The pattern is compiled from a heap
 * block of exactly its length, then every name is matched (also from exact
 * blocks). Checks beside memory safety: the source round-trips, a pattern
 * without metacharacters matches exactly itself, and "**" matches anything.
 */
#include "fuzz_common.h"

#include "glob.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int has_meta(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("*?[]{}\\,", p[i]) && p[i] != '\0')
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_cursor c = { data, size, 0 };
    const uint8_t *pp, *np;
    size_t pl, nl;
    char err[256];
    char *pat;
    struct og_glob *g;
    static struct og_glob *all;

    if (size > 8192)
        return 0;
    if (!all)
        all = og_glob_compile("**", 2, err, sizeof err);
    if (!fz_next(&c, &pp, &pl))
        return 0;
    pat = fz_dup_exact(pp, pl);
    err[0] = '\0';
    g = og_glob_compile(pat, pl, err, sizeof err);
    if (!g) {
        FZ_ASSERT(err[0] != '\0');
        free(pat);
        return 0;
    }
    FZ_ASSERT(strlen(og_glob_source(g)) == pl && memcmp(og_glob_source(g), pat, pl) == 0);
    /* the pattern as a name */
    (void)og_glob_match(g, pat, pl);
    if (!has_meta(pat, pl))
        FZ_ASSERT(og_glob_match(g, pat, pl));
    for (int k = 0; k < 64 && fz_next(&c, &np, &nl); k++) {
        char *name = fz_dup_exact(np, nl);
        int m = og_glob_match(g, name, nl);
        if (!has_meta(pat, pl))
            FZ_ASSERT(m == (nl == pl && memcmp(name, pat, pl) == 0));
        FZ_ASSERT(og_glob_match(all, name, nl));
        free(name);
    }
    og_glob_free(g);
    free(pat);
    return 0;
}
