/*
 * key_cmd.c - `ocigate key create|list|show|revoke`: manage API keys in Redis.
 *
 * create prints the new key alone on stdout (it is shown once and stored only
 * as a hash), its id and details on stderr. list, show and revoke never print
 * a key or its hash. Exit status: 0 done, 1 not found or Redis failed (the
 * message names Redis and where it is, never its password), 2 bad usage or a
 * bad config.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key_records.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "redis.h"

static const char usage_create[] =
    "usage: ocigate key create [-c FILE] --user U [--group G]... [--repo GLOB]...\n"
    "                          [--expires 90d|12h|30m|RFC3339] [--label TEXT]\n"
    "  Create an API key for user U. The key is printed once, alone, on stdout;\n"
    "  its id and details go to stderr. --repo limits the key to matching\n"
    "  repositories (default: all); --group adds groups to the key's identity.\n"
    "  --expires is at most auth.apikey.maxLifetimeDays away (default 365), and\n"
    "  without it the key expires after that many days.\n";
static const char usage_list[] =
    "usage: ocigate key list [-c FILE] [--user U] [--json]\n"
    "  List API keys (all, or U's): id, user, groups, repositories, label,\n"
    "  created, expires, last used. Never prints a key or its hash.\n";
static const char usage_show[] =
    "usage: ocigate key show [-c FILE] ID\n"
    "  Print one key's details. Exit 1 if there is no such key.\n";
static const char usage_revoke[] =
    "usage: ocigate key revoke [-c FILE] ID\n"
    "  Delete a key. Exit 1 if there is no such key.\n";
static const char usage_key[] =
    "usage: ocigate key create [-c FILE] --user U [--group G]... [--repo GLOB]...\n"
    "                          [--expires 90d|RFC3339] [--label TEXT]\n"
    "       ocigate key list   [-c FILE] [--user U] [--json]\n"
    "       ocigate key show   [-c FILE] ID\n"
    "       ocigate key revoke [-c FILE] ID\n"
    "  Manage API keys (stored in Redis as SHA-256 hashes). SUBCOMMAND --help for more.\n";

/* Config and Redis for one command; 0 ok, else the exit status (message printed). */
static int open_redis(const char *config, struct og_config **cfg, struct og_redis **r)
{
    const char *path = og_default_config_path(config);
    char err[1024];

    *r = NULL;
    *cfg = og_config_load(path, err, sizeof(err));
    if (!*cfg) {
        fprintf(stderr, "%s\nocigate: configuration %s is invalid\n", err, path);
        return 2;
    }
    *r = og_redis_new(*cfg, err, sizeof(err));
    if (!*r) {
        fprintf(stderr, "%s: %s\n", path, err);
        og_config_free(*cfg);
        *cfg = NULL;
        return 2;
    }
    return 0;
}

static void close_redis(struct og_config *cfg, struct og_redis *r)
{
    og_redis_free(r);
    og_config_free(cfg);
}

static int redis_failed(const struct og_redis *r)
{
    const char *why = og_redis_last_error(r);
    fprintf(stderr, "ocigate key: Redis at %s %s%s\n", og_redis_describe(r),
            *why ? "is unreachable: " : "answered with an error",
            why);
    return 1;
}

/* A JSON array of strings from a record, joined with ", "; empty_text when []. */
static void join_list(const char *json, const char *empty_text, char *out, size_t size)
{
    json_t *a = json_loads(json, 0, NULL), *v;
    size_t i, o = 0;

    out[0] = '\0';
    if (!a || !json_is_array(a)) {
        snprintf(out, size, "?");
        json_decref(a);
        return;
    }
    if (json_array_size(a) == 0)
        snprintf(out, size, "%s", empty_text);
    json_array_foreach(a, i, v) {
        int n;
        if (!json_is_string(v) || o >= size)
            continue;
        n = snprintf(out + o, size - o, "%s%s", i ? "," : "", json_string_value(v));
        if (n > 0)
            o += (size_t)n;
    }
    json_decref(a);
}

static const char *or_text(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

static void print_details(FILE *f, const struct og_apikey_record *rec)
{
    char groups[1100], repos[1100];

    join_list(rec->groups_json, "-", groups, sizeof(groups));
    join_list(rec->repos_json, "(all)", repos, sizeof(repos));
    fprintf(f, "id: %s\nuser: %s\ngroups: %s\nrepositories: %s\nlabel: %s\n"
               "created: %s\nexpires: %s\nlast used: %s\norigin: %s\n",
            rec->id, rec->user, groups, repos, rec->label, rec->created,
            or_text(rec->expires, "never"), or_text(rec->last_used, "never"),
            or_text(rec->origin, "legacy"));
}

/* ---- create -------------------------------------------------------------- */

static int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "user", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "repo", required_argument, NULL, 'r' },
        { "expires", required_argument, NULL, 'e' },
        { "label", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *user = NULL, *label = "", *expires_s = NULL;
    const char *groups[OG_APIKEY_MAX_GROUPS], *repos[OG_APIKEY_MAX_REPOS];
    size_t ngroups = 0, nrepos = 0;
    struct og_apikey_record rec;
    struct og_config *cfg;
    struct og_redis *r;
    char key[OG_APIKEY_LEN + 1], err[512];
    time_t expires = 0;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:u:g:r:e:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'u': user = optarg; break;
        case 'l': label = optarg; break;
        case 'e': expires_s = optarg; break;
        case 'g':
            if (ngroups == OG_APIKEY_MAX_GROUPS) {
                fprintf(stderr, "ocigate key create: at most %d --group\n", OG_APIKEY_MAX_GROUPS);
                return 2;
            }
            groups[ngroups++] = optarg;
            break;
        case 'r':
            if (nrepos == OG_APIKEY_MAX_REPOS) {
                fprintf(stderr, "ocigate key create: at most %d --repo\n", OG_APIKEY_MAX_REPOS);
                return 2;
            }
            repos[nrepos++] = optarg;
            break;
        case 'h': fputs(usage_create, stdout); return 0;
        default: fputs(usage_create, stderr); return 2;
        }
    }
    if (optind != argc || !user) {
        fprintf(stderr, "ocigate key create: %s\n%s", user ? "unexpected argument" :
                "--user is required", usage_create);
        return 2;
    }
    if (!og_apikey_check_args(user, groups, ngroups, repos, nrepos, label, err, sizeof(err))) {
        fprintf(stderr, "ocigate key create: %s\n", err);
        return 2;
    }
    if (expires_s && !og_apikey_parse_expires(expires_s, time(NULL), &expires, err,
                                              sizeof(err))) {
        fprintf(stderr, "ocigate key create: --expires \"%s\": %s\n", expires_s, err);
        return 2;
    }
    if ((rc = open_redis(config, &cfg, &r)) != 0)
        return rc;
    {
        time_t limit = time(NULL) + (time_t)cfg->apikey_max_lifetime_days * 86400;
        if (!expires_s) {
            expires = limit;
        } else if (expires > limit) {
            fprintf(stderr, "ocigate key create: --expires \"%s\": more than "
                    "auth.apikey.maxLifetimeDays (%d) days away\n", expires_s,
                    cfg->apikey_max_lifetime_days);
            close_redis(cfg, r);
            return 2;
        }
    }
    /* origin cli: the operator's --group values are the key's own groups
       (copied); accessControl.groups still apply live to U */
    if (og_apikey_create(r, user, groups, ngroups, repos, nrepos, expires, label, "cli",
                         cfg->apikey_max_per_user, key, &rec, err, sizeof(err)) != 0) {
        fprintf(stderr, "ocigate key create: %s\n", err);
        close_redis(cfg, r);
        return 1;
    }
    printf("%s\n", key);
    explicit_bzero(key, sizeof(key));
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* nobody saw the key: do not leave a live key behind */
        og_apikey_revoke(r, rec.id, NULL);
        fprintf(stderr, "ocigate key create: cannot write the key to stdout; key revoked\n");
        close_redis(cfg, r);
        return 1;
    }
    fprintf(stderr, "created API key %s for user %s\n", rec.id, rec.user);
    print_details(stderr, &rec);
    fprintf(stderr, "The key is shown only once and is stored only as a hash.\n");
    close_redis(cfg, r);
    return 0;
}

/* ---- list ---------------------------------------------------------------- */

struct list_acc {
    struct og_apikey_record *v;
    size_t n, cap;
    bool oom;
};

static void collect(const struct og_apikey_record *rec, void *arg)
{
    struct list_acc *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct og_apikey_record *nv = realloc(a->v, cap * sizeof(*nv));
        if (!nv) {
            a->oom = true;
            return;
        }
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = *rec;
}

static json_t *json_from_list(const char *text)
{
    json_t *a = json_loads(text, 0, NULL);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return json_array();
    }
    return a;
}

static json_t *nullable(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static int print_json(const struct list_acc *a)
{
    json_t *arr = json_array();
    char *out;

    for (size_t i = 0; i < a->n; i++) {
        const struct og_apikey_record *rec = &a->v[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(rec->id));
        json_object_set_new(o, "user", json_string(rec->user));
        json_object_set_new(o, "groups", json_from_list(rec->groups_json));
        json_object_set_new(o, "repositories", json_from_list(rec->repos_json));
        json_object_set_new(o, "label", json_string(rec->label));
        json_object_set_new(o, "created", nullable(rec->created));
        json_object_set_new(o, "expires", nullable(rec->expires));
        json_object_set_new(o, "last_used", nullable(rec->last_used));
        json_object_set_new(o, "origin", json_string(or_text(rec->origin, "legacy")));
        json_array_append_new(arr, o);
    }
    out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(arr);
    if (!out)
        return 1;
    printf("%s\n", out);
    free(out);
    return 0;
}

#define NCOLS 8

static void print_cell(size_t c, size_t width, const char *text)
{
    if (c + 1 < NCOLS)
        printf("%-*s  ", (int)width, text);
    else
        printf("%s\n", text);
}

static void print_table(const struct list_acc *a)
{
    static const char *const head[NCOLS] = { "ID", "USER", "GROUPS", "REPOSITORIES", "LABEL",
                                             "CREATED", "EXPIRES", "LAST USED" };
    size_t w[NCOLS];
    char groups[1100], repos[1100];

    for (size_t c = 0; c < NCOLS; c++)
        w[c] = strlen(head[c]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t c = 0; c < NCOLS; c++)
                print_cell(c, w[c], head[c]);
        }
        for (size_t i = 0; i < a->n; i++) {
            const struct og_apikey_record *rec = &a->v[i];
            const char *cell[NCOLS];
            join_list(rec->groups_json, "-", groups, sizeof(groups));
            join_list(rec->repos_json, "(all)", repos, sizeof(repos));
            cell[0] = rec->id;
            cell[1] = rec->user;
            cell[2] = groups;
            cell[3] = repos;
            cell[4] = or_text(rec->label, "-");
            cell[5] = or_text(rec->created, "-");
            cell[6] = or_text(rec->expires, "never");
            cell[7] = or_text(rec->last_used, "never");
            for (size_t c = 0; c < NCOLS; c++) {
                if (pass == 0) {
                    if (strlen(cell[c]) > w[c])
                        w[c] = strlen(cell[c]);
                } else {
                    print_cell(c, w[c], cell[c]);
                }
            }
        }
    }
}

static int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "user", required_argument, NULL, 'u' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *user = NULL;
    struct list_acc acc = { NULL, 0, 0, false };
    struct og_config *cfg;
    struct og_redis *r;
    bool as_json = false;
    long n;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:u:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'u': user = optarg; break;
        case 'j': as_json = true; break;
        case 'h': fputs(usage_list, stdout); return 0;
        default: fputs(usage_list, stderr); return 2;
        }
    }
    if (optind != argc || (user && !*user)) {
        fputs(usage_list, stderr);
        return 2;
    }
    if ((rc = open_redis(config, &cfg, &r)) != 0)
        return rc;
    n = og_apikey_list(r, user, collect, &acc);
    if (n < 0) {
        rc = redis_failed(r);
    } else if (acc.oom) {
        fprintf(stderr, "ocigate key list: out of memory\n");
        rc = 1;
    } else if (as_json) {
        rc = print_json(&acc);
    } else {
        print_table(&acc);
    }
    free(acc.v);
    close_redis(cfg, r);
    return rc;
}

/* ---- show, revoke -------------------------------------------------------- */

static int cmd_show_revoke(int argc, char **argv, bool revoke)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *usage = revoke ? usage_revoke : usage_show, *config = NULL, *id;
    struct og_apikey_record rec;
    struct og_config *cfg;
    struct og_redis *r;
    int c, rc, found;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind + 1 != argc || !*argv[optind]) {
        fputs(usage, stderr);
        return 2;
    }
    id = argv[optind];
    if (strncmp(id, "zak_", 4) == 0) {     /* never echo a key */
        fprintf(stderr, "ocigate key: that is an API key, not a key id (see `ocigate key list`)\n");
        return 2;
    }
    if ((rc = open_redis(config, &cfg, &r)) != 0)
        return rc;
    found = og_apikey_show(r, id, &rec);
    if (found > 0 && revoke)
        found = og_apikey_revoke(r, id, NULL);
    if (found < 0) {
        rc = redis_failed(r);
    } else if (found == 0) {
        fprintf(stderr, "ocigate key %s: no API key with id \"%.64s\"\n",
                revoke ? "revoke" : "show", id);
        rc = 1;
    } else if (revoke) {
        printf("revoked API key %s (user %s)\n", rec.id, rec.user);
    } else {
        print_details(stdout, &rec);
    }
    close_redis(cfg, r);
    return rc;
}

int og_cmd_key(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;

    og_log_configure("error", "text");     /* the commands print their own messages */
    if (!sub) {
        fputs(usage_key, stderr);
        return 2;
    }
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage_key, stdout);
        return 0;
    }
    if (strcmp(sub, "create") == 0)
        return cmd_create(argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return cmd_show_revoke(argc - 1, argv + 1, false);
    if (strcmp(sub, "revoke") == 0)
        return cmd_show_revoke(argc - 1, argv + 1, true);
    fprintf(stderr, "ocigate key: unknown subcommand \"%.64s\"\n%s", sub, usage_key);
    return 2;
}
