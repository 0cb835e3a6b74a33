/*
 * check_cmd.c - `ocigate check`: validate the config and print what it means,
 * like `nginx -t`. Exit 0 when valid, 2 when not (the error names the file,
 * the JSON path and what is wrong).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "session.h"
#include "decide.h"
#include "glob.h"
#include "htpasswd.h"
#include "redis.h"

const char *og_default_config_path(const char *given)
{
    const char *env = getenv("OCIGATE_CONFIG");
    if (given && *given)
        return given;
    if (env && *env)
        return env;
    return "/etc/ocigate/ocigate.json";
}

static void print_list(const char *label, const struct og_strlist *l)
{
    printf("%s[", label);
    for (size_t i = 0; i < l->n; i++)
        printf("%s\"%s\"", i ? ", " : "", l->v[i]);
    printf("]");
}

/* Does a users list hold "" (the anonymous identity)? */
static bool has_anonymous(const struct og_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i][0] == '\0')
            return true;
    return false;
}

static void print_actions(unsigned mask)
{
    static const unsigned all[] = { OG_ACT_READ, OG_ACT_CREATE, OG_ACT_UPDATE, OG_ACT_DELETE,
                                    OG_ACT_DETECT_MANIFEST_COLLISION };
    bool first = true;
    printf("[");
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (mask & all[i]) {
            printf("%s%s", first ? "" : ", ", og_action_name(all[i]));
            first = false;
        }
    printf("]");
}

static void print_quoted(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 32 || *c == 127)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

static void print_entry(const struct og_policy_entry *e, const char *indent)
{
    print_list("users ", &e->users);
    print_list(" groups ", &e->groups);
    printf(" actions ");
    print_actions(e->actions);
    printf("\n");
    /* conditions: all must hold once users/groups matched (compiled at load) */
    for (size_t i = 0; i < e->nconditions; i++) {
        printf("%s  conditions[%zu]: ", indent, i);
        print_quoted(e->conditions[i].expression);
        if (e->conditions[i].message[0]) {
            printf(" message ");
            print_quoted(e->conditions[i].message);
        }
        printf("\n");
    }
}

int og_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *path;
    struct og_config *cfg;
    struct og_redis *redis;
    char err[1024];
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'h':
            printf("usage: ocigate check [-c FILE]\n"
                   "  Validate the config and print a summary. Exit 0 valid, 2 invalid.\n");
            return 0;
        default:
            fprintf(stderr, "usage: ocigate check [-c FILE]\n");
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: ocigate check [-c FILE]\n");
        return 2;
    }
    path = og_default_config_path(config);
    cfg = og_config_load(path, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        fprintf(stderr, "ocigate: configuration %s is invalid\n", path);
        return 2;
    }
    if (cfg->htpasswd_path) {
        struct og_htpasswd *h = og_htpasswd_load(cfg->htpasswd_path, err, sizeof(err));
        if (!h) {
            fprintf(stderr, "%s\n", err);
            fprintf(stderr, "ocigate: configuration %s is invalid\n", path);
            og_config_free(cfg);
            return 2;
        }
        printf("htpasswd: %s (%zu users)\n", cfg->htpasswd_path, og_htpasswd_count(h));
        og_htpasswd_free(h);
    }
    if (cfg->session_key_file) {       /* what serve would refuse: a bad or open key file */
        struct og_session_keys *k = og_session_keys_load(cfg->session_key_file, err,
                                                         sizeof(err));
        if (!k) {
            fprintf(stderr, "%s: %s\n", path, err);
            fprintf(stderr, "ocigate: configuration %s is invalid\n", path);
            og_config_free(cfg);
            return 2;
        }
        og_session_keys_free(k);
        printf("browser sign-in: client \"%s\", redirect URI %s%s, sessions of %d s "
               "(key %s)\n", cfg->openid_client_id, cfg->external_url, cfg->endpoint_callback,
               cfg->session_lifetime_s, cfg->session_key_file);
    }
    /* each issuer, and whether its mappings are claim names or expressions */
    for (size_t i = 0; i < cfg->nopenid; i++) {
        const struct og_openid_issuer *is = &cfg->openid[i];

        printf("openid issuer %s: audiences", is->issuer);
        for (size_t j = 0; j < is->audiences.n; j++)
            printf("%s%s", j ? ", " : " ", is->audiences.v[j]);
        printf("; username %s %s; groups %s %s; %zu variables, %zu validations%s\n",
               is->username_prog ? "expression" : "claim", is->username,
               is->groups_prog ? "expression" : "claim", is->groups, is->nvars, is->nchecks,
               cfg->openid_signin == (int)i ? "; browser sign-in" : "");
    }
    /* redis.url by the rule serve applies (redis.c); shown without a password */
    redis = og_redis_new(cfg, err, sizeof(err));
    if (!redis) {
        fprintf(stderr, "%s: %s\n", path, err);
        fprintf(stderr, "ocigate: configuration %s is invalid\n", path);
        og_config_free(cfg);
        return 2;
    }
    printf("realm: %s\n", cfg->realm);
    printf("registry: %s (timeout %d ms, manifest writes %d ms)\n", cfg->registry_url,
           cfg->registry_timeout_ms, cfg->registry_write_timeout_ms);
    printf("automaticMount: %s\n", cfg->registry_automatic_mount
           ? "true (a blob mount without from= is refused with 401: the registry could "
             "mount from any repository)"
           : "false (a blob mount without from= is a plain upload: create on the target)");
    if (cfg->redis_sentinels.n == 0) {
        printf("redis: %s prefix \"%s\" (timeout %d ms)%s", og_redis_describe(redis),
               cfg->redis_prefix, cfg->redis_timeout_ms,
               cfg->redis_password ? ", password from the config"
               : og_redis_has_password(redis) ? ", password from redis.url" : "");
        if (og_redis_user(redis))
            printf(", user %s", og_redis_user(redis));
        if (cfg->redis_min_replicas)
            printf(", minReplicas %d", cfg->redis_min_replicas);
        printf("\n");
    } else {
        /* the sentinel form: how the master is found, who we are, never a secret */
        printf("redis: %s, ", og_redis_describe(redis));
        if (og_redis_user(redis))
            printf("user %s, ", og_redis_user(redis));
        printf("%s, ", !cfg->redis_password ? "no password"
               : cfg->redis_password_from_file ? "password from file"
               : "password from the config");
        if (cfg->redis_sentinel_password)
            printf("sentinel user %s, sentinel password from file, ",
                   cfg->redis_sentinel_username ? cfg->redis_sentinel_username : "default");
        else
            printf("sentinels without AUTH, ");
        printf("minReplicas %d, prefix \"%s\" (timeout %d ms)\n", cfg->redis_min_replicas,
               cfg->redis_prefix, cfg->redis_timeout_ms);
    }
    og_redis_free(redis);
    printf("challenge: %s%s\n", cfg->challenge == OG_CHALLENGE_BASIC ? "basic" : "bearer",
           !cfg->challenge_anonymous ? ""
           : cfg->challenge == OG_CHALLENGE_BEARER && cfg->token_realm
               ? " (challengeAnonymous: registry requests without credentials are challenged)"
               : " (challengeAnonymous has no effect: it needs bearer mode and token.realm)");
    printf("credential failures: delay %d ms; throttled past %d per address, %d per subject "
           "and address, %d per subject in total (then only where it failed), distinct "
           "credentials per %d s (0: no limit)\n", cfg->fail_delay_ms,
           cfg->throttle_per_address, cfg->throttle_per_subject,
           cfg->throttle_per_subject_total, cfg->throttle_window_s);
    printf("trustForwardedHeaders: %s\n", cfg->trust_forwarded_headers
           ? "true (the web server rewrites requests: every request must carry the FastCGI "
             "params OCIGATE_METHOD and OCIGATE_URI, else 400)"
           : "false (judged: OCIGATE_METHOD/OCIGATE_URI when the web server sets them, "
             "else REQUEST_METHOD/REQUEST_URI)");
    printf("limits: request bodies within %d ms; a filtered catalog request examines at most "
           "%d repositories\n", cfg->body_timeout_ms, cfg->catalog_max_repositories);
    printf("repositories (%zu, in decision order: longest pattern first):\n", cfg->nrules);
    for (size_t i = 0; i < cfg->nrules; i++) {
        const struct og_repo_rule *r = &cfg->rules[i];
        printf("  \"%s\": defaultPolicy ", r->pattern);
        print_actions(r->default_actions);
        printf(" anonymousPolicy ");
        print_actions(r->anonymous_actions);
        printf("\n");
        for (size_t j = 0; j < r->npolicies; j++) {
            printf("    policies[%zu]: ", j);
            print_entry(&r->policies[j], "    ");
        }
    }
    printf("adminPolicy: ");
    if (cfg->has_admin)
        print_entry(&cfg->admin, "");
    else
        printf("none\n");
    printf("groups (%zu):\n", cfg->ngroups);
    for (size_t i = 0; i < cfg->ngroups; i++) {
        printf("  %s: ", cfg->groups[i].name);
        print_list("users ", &cfg->groups[i].users);
        if (has_anonymous(&cfg->groups[i].users))
            printf(" (\"\" names anonymous, which belongs to no group: no effect)");
        printf("\n");
    }
    printf("metrics: ");
    if (cfg->has_metrics) {
        print_list("users ", &cfg->metrics_users);
        printf(" anonymousPolicy ");
        print_actions(cfg->metrics_anonymous_actions);
        if (has_anonymous(&cfg->metrics_users) ||
            (cfg->metrics_anonymous_actions & OG_ACT_READ))
            printf(" (anonymous clients may scrape)");
        printf("\n");
    } else {
        printf("none (nobody may scrape)\n");
    }
    printf("immutableTags (%zu):\n", cfg->nimmutable);
    for (size_t i = 0; i < cfg->nimmutable; i++)
        printf("  %s\n", cfg->immutable[i].text);
    printf("ocigate: configuration %s is valid\n", path);
    og_config_free(cfg);
    return 0;
}
