/*
 * config.h - the ocigate config file (doc/config.md) as an immutable, compiled model.
 *
 * og_config_load() parses the JSON once (jansson), validates every field,
 * reports the first problem as "FILE: json.path: what is wrong", compiles all
 * globs and sorts the repository patterns so that the first match is zot's
 * "longest pattern" (ties: lexicographically smaller first, doc/decisions.md).
 * The request path only reads the result.
 */
#ifndef OCIGATE_POLICY_CONFIG_H
#define OCIGATE_POLICY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct og_glob;
struct og_glob_index;
struct og_cel_program;

struct og_strlist {
    char **v;
    size_t n;
};

/* One of an entry's conditions: a CEL expression over `req`, compiled at load. */
struct og_condition {
    char *expression;
    char *message;              /* the 403's reason when it is false; "" if none */
    char *where;                /* its JSON path, for explain and logs:
                                   accessControl.repositories["p"].policies[0].conditions[1] */
    struct og_cel_program *program;
};

/* One entry of PolicyGroup.policies, or adminPolicy. */
struct og_policy_entry {
    struct og_strlist users;    /* exact, case-sensitive; "" matches anonymous */
    struct og_strlist groups;
    unsigned actions;           /* OG_ACT_* mask */
    struct og_condition *conditions; /* all must hold once users/groups matched */
    size_t nconditions;
    char *where;                /* its JSON path (only when it has conditions) */
};

/* One key of accessControl.repositories. */
struct og_repo_rule {
    char *pattern;              /* as written (case kept: zot lower-cases) */
    size_t pattern_len;
    struct og_glob *glob;
    struct og_policy_entry *policies;
    size_t npolicies;
    unsigned default_actions;   /* defaultPolicy: every authenticated identity */
    unsigned anonymous_actions; /* anonymousPolicy: anonymous only */
};

struct og_group {
    char *name;
    struct og_strlist users;
};

/* One immutableTags rule: repositories x tags. */
struct og_immutable_rule {
    struct og_glob **repos;
    size_t nrepos;
    struct og_glob **tags;
    size_t ntags;
    char *text;                 /* "immutableTags[0] (REPOS : TAGS)" for messages */
};

struct og_cel_program;

/* One claimMapping variable: evaluated in order, seen by what follows as vars.NAME. */
struct og_claim_var {
    char *name;
    struct og_cel_program *prog;
};

/* One claimMapping validation: must be true, else the token is refused (message logged). */
struct og_claim_check {
    char *text;                 /* the expression, for logs */
    struct og_cel_program *prog;
    char *message;
};

/* One OpenID issuer (auth.openid, or one entry of the list). A mapping whose
   prog is NULL is a plain claim name (username: a non-empty string claim;
   groups: a string or a list of strings, absent = none). */
struct og_openid_issuer {
    char *issuer;
    struct og_strlist audiences;
    int leeway_s;                  /* leewaySeconds, default 60 */
    char *username;                /* claimMapping.username, default "preferred_username" */
    struct og_cel_program *username_prog;
    char *groups;                  /* claimMapping.groups, default "groups" */
    struct og_cel_program *groups_prog;
    struct og_claim_var *vars;     /* claimMapping.variables */
    size_t nvars;
    struct og_claim_check *checks; /* claimMapping.validations */
    size_t nchecks;
};

enum og_challenge { OG_CHALLENGE_BEARER = 0, OG_CHALLENGE_BASIC };

struct og_config {
    char *path;                 /* file it was loaded from */
    char *realm;                /* default "ocigate" */
    int workers;                /* 0 = number of CPUs */

    char *registry_url;         /* default "http://127.0.0.1:5000", no trailing '/' */
    int registry_timeout_ms;    /* default 2000 */
    int registry_write_timeout_ms; /* registry.writeTimeoutMs: a manifest PUT forwarded by
                                      ocigate (default 30000) */
    bool registry_automatic_mount; /* registry.automaticMount (default true): the registry
                                      may mount a blob from any repository when a mount
                                      has no from=; false: it starts a plain upload then
                                      (distribution), so such a POST is a plain create */

    char *redis_url;            /* default "redis://127.0.0.1:6379/0" */
    char *redis_prefix;         /* default "ocigate:" */
    char *redis_password;       /* inline or from passwordFile; NULL if none */
    bool redis_password_from_file;  /* it came from redis.passwordFile */
    int redis_timeout_ms;       /* default 200 */
    /* Redis through Sentinel (redis.sentinels, exclusive with redis.url): the
       master of redis_master_name is asked of these, in order */
    struct og_strlist redis_sentinels;  /* "HOST:PORT" / "[IPV6]:PORT", checked at load */
    char *redis_master_name;    /* redis.masterName, required with sentinels */
    int redis_db;               /* redis.db (sentinel form only), default 0 */
    int redis_min_replicas;     /* redis.minReplicas 0..16: a claim counts once WAIT says
                                   this many replicas hold it (default 0: no WAIT) */
    char *redis_username;       /* redis.username: AUTH USER PASSWORD on the data nodes */
    char *redis_sentinel_username;  /* redis.sentinelUsername, NULL: none */
    char *redis_sentinel_password;  /* from redis.sentinelPasswordFile; NULL: no AUTH */

    int fail_delay_ms;          /* auth.failDelayMs, default 0 */
    int throttle_per_address;   /* auth.throttle.perAddress: failures per client address
                                   per window before 429 (default 30; 0 = no limit) */
    int throttle_per_subject;   /* auth.throttle.perSubject: per (username, client address)
                                   (default 10) */
    int throttle_per_subject_total; /* auth.throttle.perSubjectTotal: per username from all
                                   addresses; refuses only addresses that failed for it
                                   (default 100) */
    int throttle_window_s;      /* auth.throttle.windowSeconds (default 60) */
    bool openid_enabled;        /* auth.openid present */
    struct og_openid_issuer *openid;   /* auth.openid: one object or a list, in file order */
    size_t nopenid;
    int openid_signin;             /* index of the issuer used for browser sign-in: the one
                                      with clientId; -1 when none has one */
    char *openid_client_id;        /* that issuer's clientId, NULL if none */
    char *openid_client_secret;    /* its clientSecret or clientSecretFile; NULL if none */
    struct og_strlist openid_scopes;  /* its scopes, asked at browser sign-in
                                         (default openid profile email groups) */
    bool apikey_enabled;           /* auth.apikey.enabled, default false */
    int apikey_cache_s;            /* default 30 */
    int apikey_max_per_user;       /* auth.apikey.maxPerUser, default 100 */
    int apikey_max_lifetime_days;  /* auth.apikey.maxLifetimeDays, default 365 */
    char *htpasswd_path;           /* NULL if none */

    /* accessControl */
    struct og_repo_rule *rules;    /* sorted: longest pattern first, then lexicographic */
    size_t nrules;
    struct og_glob_index *rule_index; /* rules[i].glob ranked i (policy/globindex.h); NULL: no rules */
    bool has_admin;
    struct og_policy_entry admin;
    bool has_conditions;           /* some entry carries conditions */
    const char *open_to_anonymous; /* og_open_to_anonymous(), computed at load: a pattern
                                      (points into rules) or "adminPolicy", or NULL */
    struct og_group *groups;
    size_t ngroups;
    bool has_metrics;
    struct og_strlist metrics_users;   /* "" = the anonymous identity (zot) */
    unsigned metrics_anonymous_actions;

    struct og_immutable_rule *immutable;
    size_t nimmutable;
    struct og_glob_index *immutable_index; /* every immutable[i].repos[j] ranked i */

    enum og_challenge challenge;   /* token.challenge, default bearer */
    bool challenge_anonymous;      /* token.challengeAnonymous (bearer mode): every registry
                                      request without credentials is challenged, so clients
                                      fetch a token (an anonymous one) first; default false */
    char *token_realm;             /* URL clients fetch tokens from */
    char *token_service;           /* default: realm */
    char *token_key_file;
    int token_lifetime_s;          /* default 300 */

    bool trust_forwarded_headers;  /* the web server rewrites requests (Caddy): the
                                      params OCIGATE_METHOD/OCIGATE_URI are required;
                                      never a licence to read client headers */

    char *endpoint_metrics;        /* default "/ocigate/metrics" */
    char *endpoint_health;         /* default "/ocigate/healthz" */
    struct og_strlist endpoint_apikey; /* default ["/zot/auth/apikey", "/ocigate/apikey"] */
    bool endpoint_catalog;         /* default true */
    char *endpoint_login;          /* default "/ocigate/login" */
    char *endpoint_callback;       /* default "/ocigate/callback" */
    char *endpoint_logout;         /* default "/ocigate/logout" */
    char *endpoint_keys;           /* default "/ocigate/keys" */

    /* Browser sign-in (the key page): on when session.keyFile is set; then
       externalUrl and auth.openid with clientId and a client secret are required. */
    char *external_url;            /* externalUrl, no trailing '/'; NULL if none */
    char *session_key_file;        /* session.keyFile; NULL: no browser sign-in */
    int session_lifetime_s;        /* session.lifetimeSeconds, default 28800 (8 h) */

    int body_timeout_ms;           /* limits.bodyTimeoutMs: a request body must be all
                                      there this long after the request (default 5000) */
    int catalog_max_repositories;  /* limits.catalogRepositories: registry catalog entries
                                      one filtered catalog request examines (default 5000) */

    char *log_level;               /* "debug","info","warn","error"; default "info" */
    char *log_format;              /* "json" or "text"; default "json" */
};

/* Load and compile a config file. Returns NULL and fills err on any problem. */
struct og_config *og_config_load(const char *path, char *err, size_t errlen);

/* The same from a buffer; fname is used in messages only. */
struct og_config *og_config_parse(const char *json, size_t len, const char *fname,
                                  char *err, size_t errlen);

void og_config_free(struct og_config *cfg);

/* Is user a member of config group `group` (accessControl.groups)? Never
   for "" (the anonymous identity belongs to no group, as in zot). */
bool og_config_group_has_user(const struct og_config *cfg, const char *group, const char *user);

#endif
