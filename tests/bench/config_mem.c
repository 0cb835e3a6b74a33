/*
 * config_mem.c - what a policy's size costs in memory.
 *
 * Loads policies of 10, 1,000 and 10,000 repository patterns (the shapes of
 * compare.sh SCALE=1 and decide_bench: "**", "** /secret" without the space,
 * and team<K>/... patterns, every entry three-tier's "**" entry) and prints,
 * from glibc's mallinfo2() and /proc/self/statm, per pattern:
 *   globs    bytes held by the compiled patterns alone (og_glob_compile)
 *   index    bytes held by a trie over them (og_glob_index_build)
 *   config   bytes og_config_parse keeps (rules, their entries, globs, the
 *            rule index, og_policy_prepare's tables, ...)
 *   rules    the part of config in the rules' own fields (the rules array,
 *            entries and their user and group lists)
 *   heap     growth of malloc's heap over the parse (what the JSON tree
 *            used and freed stays there unless it is given back)
 *   rss      growth of the resident set over the parse, and after
 *            og_config_release_garbage() (what a worker forked after the
 *            load inherits and shows in its RSS)
 * Each size is measured in a fresh child process. Measures, never fails.
 * Usage: tests/bench/config_mem [N ...]   (10 1000 10000)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "glob.h"
#include "globindex.h"

static const char *pattern(int i, char *buf, size_t cap)
{
    static const char *const shapes[][2] = { { "team", "/**" }, { "team", "/app-*" },
                                             { "team", "/{dev,stage}/**" },
                                             { "team", "/svc?/[a-z]*" }, { "org", "/**" } };
    if (i == 0)
        snprintf(buf, cap, "**");
    else if (i == 1)
        snprintf(buf, cap, "**/secret");
    else if (i == 2)
        snprintf(buf, cap, "bench/*");
    else
        snprintf(buf, cap, "%s%d%s", shapes[(i - 3) % 5][0], (i - 3) / 5, shapes[(i - 3) % 5][1]);
    return buf;
}

static char *policy_text(int n)
{
    json_t *repos = json_object();
    char pat[64];

    for (int i = 0; i < n; i++)
        json_object_set_new(repos, pattern(i, pat, sizeof pat),
                            json_pack("{s:[s], s:[s], s:[{s:[s], s:[s,s]}]}",
                                      "anonymousPolicy", "read", "defaultPolicy", "read",
                                      "policies", "groups", "artifact-workloads",
                                      "actions", "read", "create"));
    json_t *root = json_pack("{s:{s:o, s:{s:{s:[s]}, s:{s:[s]}}}}", "accessControl",
                             "repositories", repos, "groups", "admins", "users", "admin",
                             "artifact-workloads", "users", "ci");
    char *text = json_dumps(root, 0);
    json_decref(root);
    return text;
}

static long rss_kib(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The list's array (its names are the config's, kept once in cfg->names). */
static size_t strlist_bytes(const struct og_strlist *l)
{
    return l->v ? malloc_usable_size(l->v) : 0;
}

/* Bytes of the rules' own fields (the rules array, pattern text, entries and
   their lists), read through the public structs. */
static size_t rules_bytes(const struct og_config *cfg, size_t *text)
{
    size_t b = cfg->rules ? malloc_usable_size(cfg->rules) : 0;

    *text = 0;
    for (size_t i = 0; i < cfg->nrules; i++) {
        const struct og_repo_rule *r = &cfg->rules[i];
        if (r->policies)
            b += malloc_usable_size(r->policies);
        for (size_t j = 0; j < r->npolicies; j++)
            b += strlist_bytes(&r->policies[j].users) + strlist_bytes(&r->policies[j].groups);
    }
    return b + *text;
}

static void measure(int n)
{
    char pat[64], err[512];
    struct og_glob **globs = calloc((size_t)n, sizeof *globs);
    uint32_t *ids = calloc((size_t)n, sizeof *ids);
    char *text = policy_text(n);
    size_t text_len = strlen(text);

    /* the globs and the index alone */
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < n; i++) {
        pattern(i, pat, sizeof pat);
        globs[i] = og_glob_compile(pat, strlen(pat), err, sizeof err);
        ids[i] = (uint32_t)i;
    }
    struct mallinfo2 m1 = mallinfo2();
    struct og_glob_index *ix = og_glob_index_build(globs, ids, (size_t)n);
    struct mallinfo2 m2 = mallinfo2();
    og_glob_index_free(ix);
    for (int i = 0; i < n; i++)
        og_glob_free(globs[i]);
    free(globs);
    free(ids);
    malloc_trim(0);

    /* the whole config */
    long r0 = rss_kib();
    struct mallinfo2 c0 = mallinfo2();
    struct og_config *cfg = og_config_parse(text, text_len, "sized", err, sizeof err);
    struct mallinfo2 c1 = mallinfo2();
    long r1 = rss_kib();
    og_config_release_garbage();
    long r2 = rss_kib();
    if (!cfg) {
        fprintf(stderr, "config_mem: %s\n", err);
        exit(1);
    }
    double per = (double)n;
    size_t text_b, rules_b = rules_bytes(cfg, &text_b);
    printf("%8d %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %10ld %10ld\n", n,
           (double)(m1.uordblks - m0.uordblks) / per, (double)(m2.uordblks - m1.uordblks) / per,
           (double)(c1.uordblks - c0.uordblks) / per, (double)rules_b / per,
           (double)((c1.arena + c1.hblkhd) - (c0.arena + c0.hblkhd)) / per,
           (double)(r1 - r0) * 1024 / per, (double)(r2 - r0) * 1024 / per, r1, r2);
    og_config_free(cfg);
    free(text);
}

int main(int argc, char **argv)
{
    static const int def[] = { 10, 1000, 10000 };
    int nsizes = argc > 1 ? argc - 1 : 3;

    printf("%8s %9s %9s %9s %9s %9s %9s %9s %10s %10s\n", "patterns", "globs/pat", "index/pat",
           "config/pat", "rules/pat", "heap/pat", "rss/pat", "rss-trim", "rss KiB", "trimmed");
    fflush(stdout);
    for (int s = 0; s < nsizes; s++) {
        int n = argc > 1 ? atoi(argv[s + 1]) : def[s];
        pid_t pid = fork();
        if (pid == 0) {
            measure(n < 1 ? 1 : n);
            fflush(stdout);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    printf("(bytes per pattern: globs, index: the compiled patterns and a trie over them,\n"
           " alone; config: what og_config_parse keeps, rules: the part of it in the\n"
           " rules' own fields (array, entries, their lists); heap: malloc's heap growth over the\n"
           " parse; rss: resident growth over the parse, then after\n"
           " og_config_release_garbage(); the last columns: the process's RSS in KiB)\n");
    return 0;
}
