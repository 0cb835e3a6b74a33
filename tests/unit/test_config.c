/*
 * test_config.c - the config file (doc/config.md): the full example, defaults,
 * every kind of error with its exact "FILE: PATH: what" message, pattern
 * sorting, secrets read from files.
 *
 * JSON is written with single quotes for readability; q() turns them into
 * double quotes (no test text needs an apostrophe).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../policy/config.h"
#include "../../policy/action.h"
#include "../../policy/glob.h"

static char json_buf[16384];

static const char *q(const char *single_quoted)
{
    size_t n = strlen(single_quoted);

    assert_true(n < sizeof json_buf);
    for (size_t i = 0; i <= n; i++)
        json_buf[i] = single_quoted[i] == '\'' ? '"' : single_quoted[i];
    return json_buf;
}

static struct og_config *parse_ok(const char *single_quoted)
{
    const char *json = q(single_quoted);
    char err[1024] = "";
    struct og_config *cfg = og_config_parse(json, strlen(json), "ocigate.json", err, sizeof err);

    if (!cfg)
        fail_msg("unexpected error: %s", err);
    return cfg;
}

static void expect_error(const char *single_quoted, const char *message)
{
    const char *json = q(single_quoted);
    char err[1024] = "";
    struct og_config *cfg = og_config_parse(json, strlen(json), "ocigate.json", err, sizeof err);

    if (cfg) {
        og_config_free(cfg);
        fail_msg("accepted, expected: %s", message);
    }
    assert_string_equal(err, message);
}

static void expect_error_prefix(const char *single_quoted, const char *prefix)
{
    const char *json = q(single_quoted);
    char err[1024] = "";
    struct og_config *cfg = og_config_parse(json, strlen(json), "ocigate.json", err, sizeof err);

    if (cfg) {
        og_config_free(cfg);
        fail_msg("accepted, expected: %s...", prefix);
    }
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
}

#define AC_EMPTY "'accessControl': {}"

static const char full_example[] =
    "{"
    "  'realm': 'registry.example.org',"
    "  'workers': 4,"
    "  'registry': { 'url': 'http://127.0.0.1:5000', 'timeoutMs': 2000 },"
    "  'redis': { 'url': 'redis://127.0.0.1:6379/0', 'prefix': 'ocigate:', 'timeoutMs': 200 },"
    "  'auth': {"
    "    'failDelayMs': 0,"
    "    'openid': { 'issuer': 'https://sso.example.org/application/o/registry/',"
    "                'audiences': ['registry'],"
    "                'claimMapping': { 'username': 'preferred_username', 'groups': 'groups' },"
    "                'leewaySeconds': 60 },"
    "    'apikey': { 'enabled': true, 'cacheSeconds': 30 },"
    "    'htpasswd': { 'path': '/etc/ocigate/htpasswd' }"
    "  },"
    "  'accessControl': {"
    "    'repositories': {"
    "      '**': { 'anonymousPolicy': ['read'], 'defaultPolicy': ['read'],"
    "              'policies': [ { 'groups': ['artifact-workloads'], 'actions': ['read', 'create'] } ] },"
    "      'blumeops/**': { 'policies': [ { 'users': ['eric', ''], 'groups': ['ops'],"
    "                                      'actions': ['read', 'create', 'update', 'delete'] } ],"
    "                      'defaultPolicy': ['read', 'detectManifestCollision'] }"
    "    },"
    "    'adminPolicy': { 'groups': ['admins'], 'users': ['root'],"
    "                     'actions': ['read', 'create', 'update', 'delete'] },"
    "    'groups': { 'admins': { 'users': ['admin'] }, 'artifact-workloads': { 'users': ['ci'] } },"
    "    'metrics': { 'users': ['prometheus'], 'anonymousPolicy': ['read'] }"
    "  },"
    "  'immutableTags': [ { 'repositories': ['blumeops/**'], 'tags': ['v*'] } ],"
    "  'token': { 'challenge': 'bearer', 'realm': 'https://registry.example.org/ocigate/token',"
    "             'service': 'registry.example.org', 'keyFile': '/etc/ocigate/token.key',"
    "             'lifetimeSeconds': 300 },"
    "  'trustForwardedHeaders': false,"
    "  'endpoints': { 'metrics': '/ocigate/metrics', 'health': '/ocigate/healthz',"
    "                 'apikey': ['/zot/auth/apikey', '/ocigate/apikey'], 'catalog': true },"
    "  'log': { 'level': 'info', 'format': 'json' }"
    "}";

static void full_example_is_read(void **state)
{
    struct og_config *cfg = parse_ok(full_example);

    (void)state;
    assert_string_equal(cfg->path, "ocigate.json");
    assert_string_equal(cfg->realm, "registry.example.org");
    assert_int_equal(cfg->workers, 4);
    assert_string_equal(cfg->registry_url, "http://127.0.0.1:5000");
    assert_int_equal(cfg->registry_timeout_ms, 2000);
    assert_int_equal(cfg->registry_write_timeout_ms, 30000);
    assert_string_equal(cfg->redis_url, "redis://127.0.0.1:6379/0");
    assert_string_equal(cfg->redis_prefix, "ocigate:");
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->redis_timeout_ms, 200);
    assert_int_equal(cfg->fail_delay_ms, 0);
    assert_true(cfg->openid_enabled);
    assert_int_equal(cfg->nopenid, 1);
    assert_string_equal(cfg->openid[0].issuer, "https://sso.example.org/application/o/registry/");
    assert_int_equal(cfg->openid[0].audiences.n, 1);
    assert_string_equal(cfg->openid[0].audiences.v[0], "registry");
    assert_string_equal(cfg->openid[0].username, "preferred_username");
    assert_null(cfg->openid[0].username_prog);
    assert_string_equal(cfg->openid[0].groups, "groups");
    assert_null(cfg->openid[0].groups_prog);
    assert_int_equal(cfg->openid[0].leeway_s, 60);
    assert_true(cfg->apikey_enabled);
    assert_int_equal(cfg->apikey_cache_s, 30);
    assert_string_equal(cfg->htpasswd_path, "/etc/ocigate/htpasswd");

    assert_int_equal(cfg->nrules, 2);
    assert_string_equal(cfg->rules[0].pattern, "blumeops/**");
    assert_int_equal(cfg->rules[0].pattern_len, 11);
    assert_int_equal(cfg->rules[0].npolicies, 1);
    assert_int_equal(cfg->rules[0].policies[0].users.n, 2);
    assert_string_equal(cfg->rules[0].policies[0].users.v[0], "eric");
    assert_string_equal(cfg->rules[0].policies[0].users.v[1], "");
    assert_string_equal(cfg->rules[0].policies[0].groups.v[0], "ops");
    assert_int_equal(cfg->rules[0].policies[0].actions,
                     OG_ACT_READ | OG_ACT_CREATE | OG_ACT_UPDATE | OG_ACT_DELETE);
    assert_int_equal(cfg->rules[0].default_actions, OG_ACT_READ | OG_ACT_DETECT_MANIFEST_COLLISION);
    assert_int_equal(cfg->rules[0].anonymous_actions, 0);
    assert_string_equal(cfg->rules[1].pattern, "**");
    assert_int_equal(cfg->rules[1].anonymous_actions, OG_ACT_READ);
    assert_int_equal(cfg->rules[1].default_actions, OG_ACT_READ);
    assert_int_equal(cfg->rules[1].policies[0].actions, OG_ACT_READ | OG_ACT_CREATE);
    assert_true(og_glob_match(cfg->rules[1].glob, "any/thing", 9));

    assert_true(cfg->has_admin);
    assert_string_equal(cfg->admin.groups.v[0], "admins");
    assert_string_equal(cfg->admin.users.v[0], "root");
    assert_int_equal(cfg->admin.actions, OG_ACT_READ | OG_ACT_CREATE | OG_ACT_UPDATE | OG_ACT_DELETE);
    assert_int_equal(cfg->ngroups, 2);
    assert_true(og_config_group_has_user(cfg, "admins", "admin"));
    assert_true(og_config_group_has_user(cfg, "artifact-workloads", "ci"));
    assert_false(og_config_group_has_user(cfg, "admins", "ci"));
    assert_false(og_config_group_has_user(cfg, "nosuch", "ci"));
    assert_true(cfg->has_metrics);
    assert_string_equal(cfg->metrics_users.v[0], "prometheus");
    assert_int_equal(cfg->metrics_anonymous_actions, OG_ACT_READ);

    assert_int_equal(cfg->nimmutable, 1);
    assert_int_equal(cfg->immutable[0].nrepos, 1);
    assert_int_equal(cfg->immutable[0].ntags, 1);
    assert_string_equal(cfg->immutable[0].text, "immutableTags[0] (blumeops/** : v*)");

    assert_int_equal(cfg->challenge, OG_CHALLENGE_BEARER);
    assert_string_equal(cfg->token_realm, "https://registry.example.org/ocigate/token");
    assert_string_equal(cfg->token_service, "registry.example.org");
    assert_string_equal(cfg->token_key_file, "/etc/ocigate/token.key");
    assert_int_equal(cfg->token_lifetime_s, 300);
    assert_false(cfg->trust_forwarded_headers);
    assert_string_equal(cfg->endpoint_metrics, "/ocigate/metrics");
    assert_string_equal(cfg->endpoint_health, "/ocigate/healthz");
    assert_int_equal(cfg->endpoint_apikey.n, 2);
    assert_true(cfg->endpoint_catalog);
    assert_string_equal(cfg->log_level, "info");
    assert_string_equal(cfg->log_format, "json");
    og_config_free(cfg);
}

/* registry.writeTimeoutMs: the deadline of a manifest PUT ocigate forwards. */
static void registry_write_timeout(void **state)
{
    struct og_config *cfg = parse_ok("{'registry': {'writeTimeoutMs': 5000}, " AC_EMPTY "}");

    (void)state;
    assert_int_equal(cfg->registry_write_timeout_ms, 5000);
    og_config_free(cfg);
    expect_error_prefix("{'registry': {'writeTimeoutMs': 0}, " AC_EMPTY "}",
                        "ocigate.json: registry.writeTimeoutMs");
    expect_error_prefix("{'registry': {'writeTimeoutMs': 'slow'}, " AC_EMPTY "}",
                        "ocigate.json: registry.writeTimeoutMs");
}

/* registry.automaticMount: true unless the config says the registry
   treats a mount without from= as a plain upload. */
static void registry_automatic_mount(void **state)
{
    struct og_config *cfg = parse_ok("{" AC_EMPTY "}");

    (void)state;
    assert_true(cfg->registry_automatic_mount);
    og_config_free(cfg);
    cfg = parse_ok("{'registry': {'automaticMount': false}, " AC_EMPTY "}");
    assert_false(cfg->registry_automatic_mount);
    og_config_free(cfg);
    cfg = parse_ok("{'registry': {'automaticMount': true}, " AC_EMPTY "}");
    assert_true(cfg->registry_automatic_mount);
    og_config_free(cfg);
    expect_error("{'registry': {'automaticMount': 'no'}, " AC_EMPTY "}",
                 "ocigate.json: registry.automaticMount: must be true or false, not a string");
    expect_error("{'registry': {'automaticMount': 0}, " AC_EMPTY "}",
                 "ocigate.json: registry.automaticMount: must be true or false, not an integer");
}

/*
 * "" in a users list is the anonymous identity, as in zot, and accepted
 * wherever zot accepts it: metrics.users ("metrics": {"users": [""]} is how
 * the seed lets anonymous clients scrape; on old main it was refused with
 * "accessControl.metrics.users[0]: must not be empty"), repository policies'
 * and adminPolicy's users, and groups' users, where it makes no one a
 * member (the anonymous identity belongs to no group).
 */
static void empty_user_names_anonymous_where_zot_accepts_it(void **state)
{
    struct og_config *cfg = parse_ok(
        "{'accessControl': {"
        "  'repositories': {'**': {'policies': [{'users': [''], 'actions': ['read']}]}},"
        "  'adminPolicy': {'users': ['', 'root'], 'actions': ['read']},"
        "  'groups': {'anyone': {'users': ['', 'jack']}},"
        "  'metrics': {'users': ['']}}}");

    (void)state;
    assert_int_equal(cfg->metrics_users.n, 1);
    assert_string_equal(cfg->metrics_users.v[0], "");
    assert_string_equal(cfg->rules[0].policies[0].users.v[0], "");
    assert_string_equal(cfg->admin.users.v[0], "");
    assert_int_equal(cfg->groups[0].users.n, 2);
    assert_false(og_config_group_has_user(cfg, "anyone", ""));
    assert_true(og_config_group_has_user(cfg, "anyone", "jack"));
    og_config_free(cfg);
    /* group names are still never empty strings in a policy's groups */
    expect_error("{'accessControl': {'adminPolicy': {'groups': ['']}}}",
                 "ocigate.json: accessControl.adminPolicy.groups[0]: must not be empty");
}

/* accessControl blocks with conditions, written as zot's documentation and
   tests write them (tests/unit/zot_conditions/), load as they are. */
static void zot_condition_examples_load(void **state)
{
    static const char *const examples[] = { "prod-immutable.json", "namespaces-and-claims.json",
                                            "admin-and-network.json" };
    const char *srcdir = getenv("OCIGATE_SRCDIR");
    char path[4096], err[1024];

    (void)state;
    if (!srcdir || !*srcdir)
        srcdir = ".";
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        struct og_config *cfg;

        snprintf(path, sizeof path, "%s/tests/unit/zot_conditions/%s", srcdir, examples[i]);
        cfg = og_config_load(path, err, sizeof err);
        if (!cfg)
            fail_msg("%s: %s", examples[i], err);
        assert_true(cfg->has_conditions);
        og_config_free(cfg);
    }
}

/* The claimMapping examples of zot's workload-identity documentation (CEL
   over claims: variables in zot's list form, validations, username and
   groups expressions, claims with '/' and '.' in their names, split), moved
   into auth.openid as a list of issuers, load as they are. */
static void zot_claim_mapping_examples_load(void **state)
{
    const char *srcdir = getenv("OCIGATE_SRCDIR");
    char path[4096], err[1024];
    struct og_config *cfg;

    (void)state;
    if (!srcdir || !*srcdir)
        srcdir = ".";
    snprintf(path, sizeof path, "%s/tests/unit/zot_conditions/claim-mappings.json", srcdir);
    cfg = og_config_load(path, err, sizeof err);
    if (!cfg)
        fail_msg("claim-mappings.json: %s", err);
    assert_int_equal(cfg->nopenid, 5);
    og_config_free(cfg);
}

/* The shipped examples load as they are. */
static void shipped_examples_load(void **state)
{
    static const char *const examples[] = { "three-tier.json", "seed.json" };
    const char *srcdir = getenv("OCIGATE_SRCDIR");
    char path[4096], err[1024];

    (void)state;
    if (!srcdir || !*srcdir)
        srcdir = ".";
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        struct og_config *cfg;

        snprintf(path, sizeof path, "%s/deploy/examples/%s", srcdir, examples[i]);
        cfg = og_config_load(path, err, sizeof err);
        if (!cfg)
            fail_msg("%s: %s", examples[i], err);
        og_config_free(cfg);
    }
    /* the seed: "" in metrics.users, version tags immutable, a distribution registry */
    snprintf(path, sizeof path, "%s/deploy/examples/seed.json", srcdir);
    {
        struct og_config *cfg = og_config_load(path, err, sizeof err);

        assert_non_null(cfg);
        assert_int_equal(cfg->metrics_users.n, 1);
        assert_string_equal(cfg->metrics_users.v[0], "");
        assert_int_equal(cfg->metrics_anonymous_actions, 0);
        assert_false(cfg->registry_automatic_mount);
        assert_int_equal(cfg->nimmutable, 1);
        assert_int_equal(cfg->nrules, 1);
        assert_string_equal(cfg->rules[0].pattern, "**");
        assert_int_equal(cfg->rules[0].anonymous_actions, OG_ACT_READ);
        assert_int_equal(cfg->rules[0].default_actions, 0);
        assert_true(og_config_group_has_user(cfg, "artifact-workloads", "ci"));
        assert_true(og_config_group_has_user(cfg, "admins", "admin"));
        og_config_free(cfg);
    }
}

static void defaults_fill_what_is_left_out(void **state)
{
    struct og_config *cfg = parse_ok("{" AC_EMPTY "}");

    (void)state;
    assert_string_equal(cfg->realm, "ocigate");
    assert_int_equal(cfg->workers, 0);
    assert_string_equal(cfg->registry_url, "http://127.0.0.1:5000");
    assert_int_equal(cfg->registry_timeout_ms, 2000);
    assert_string_equal(cfg->redis_url, "redis://127.0.0.1:6379/0");
    assert_string_equal(cfg->redis_prefix, "ocigate:");
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->redis_timeout_ms, 200);
    assert_int_equal(cfg->fail_delay_ms, 0);
    assert_int_equal(cfg->throttle_per_address, 30);
    assert_int_equal(cfg->throttle_per_subject, 10);
    assert_int_equal(cfg->throttle_per_subject_total, 100);
    assert_int_equal(cfg->throttle_window_s, 60);
    assert_false(cfg->openid_enabled);
    assert_null(cfg->openid);
    assert_int_equal(cfg->nopenid, 0);
    assert_int_equal(cfg->openid_signin, -1);
    assert_false(cfg->apikey_enabled);
    assert_int_equal(cfg->apikey_cache_s, 30);
    assert_int_equal(cfg->apikey_max_per_user, 100);
    assert_null(cfg->htpasswd_path);
    assert_int_equal(cfg->challenge, OG_CHALLENGE_BEARER);
    assert_null(cfg->token_realm);
    assert_string_equal(cfg->token_service, "ocigate");   /* = realm */
    assert_null(cfg->token_key_file);
    assert_int_equal(cfg->token_lifetime_s, 300);
    assert_false(cfg->trust_forwarded_headers);
    assert_string_equal(cfg->endpoint_metrics, "/ocigate/metrics");
    assert_string_equal(cfg->endpoint_health, "/ocigate/healthz");
    assert_int_equal(cfg->endpoint_apikey.n, 2);
    assert_string_equal(cfg->endpoint_apikey.v[0], "/zot/auth/apikey");
    assert_string_equal(cfg->endpoint_apikey.v[1], "/ocigate/apikey");
    assert_true(cfg->endpoint_catalog);
    assert_string_equal(cfg->log_level, "info");
    assert_string_equal(cfg->log_format, "json");
    assert_int_equal(cfg->nimmutable, 0);
    og_config_free(cfg);

    cfg = parse_ok("{'realm': 'r.example', " AC_EMPTY "}");
    assert_string_equal(cfg->token_service, "r.example");
    og_config_free(cfg);

    /* true: the web server rewrites requests (OCIGATE_METHOD/URI required) */
    cfg = parse_ok("{" AC_EMPTY ", 'trustForwardedHeaders': true}");
    assert_true(cfg->trust_forwarded_headers);
    og_config_free(cfg);
}

static void access_control_is_required(void **state)
{
    (void)state;
    expect_error("{}", "ocigate.json: accessControl: required (an absent block would allow everything)");
    expect_error("{'realm': 'x'}",
                 "ocigate.json: accessControl: required (an absent block would allow everything)");
    expect_error("{'accessControl': null}",
                 "ocigate.json: accessControl: must be an object, not null");
}

static void empty_access_control_is_valid(void **state)
{
    struct og_config *cfg = parse_ok("{" AC_EMPTY "}");

    (void)state;
    assert_int_equal(cfg->nrules, 0);
    assert_false(cfg->has_admin);
    assert_false(cfg->has_metrics);
    assert_int_equal(cfg->ngroups, 0);
    og_config_free(cfg);

    cfg = parse_ok("{'accessControl': {'repositories': {}, 'groups': {}}}");
    assert_int_equal(cfg->nrules, 0);
    og_config_free(cfg);
}

static void unknown_action_names_its_path(void **state)
{
    (void)state;
    expect_error("{'accessControl': {'repositories': {'blumeops/**': {'policies': ["
                 "{'users': ['a'], 'actions': ['read', 'write']}]}}}}",
                 "ocigate.json: accessControl.repositories[\"blumeops/**\"].policies[0].actions[1]: "
                 "unknown action \"write\"");
    expect_error("{'accessControl': {'repositories': {'**': {'defaultPolicy': ['Read']}}}}",
                 "ocigate.json: accessControl.repositories[\"**\"].defaultPolicy[0]: "
                 "unknown action \"Read\"");
    expect_error("{'accessControl': {'adminPolicy': {'actions': ['all']}}}",
                 "ocigate.json: accessControl.adminPolicy.actions[0]: unknown action \"all\"");
    expect_error("{'accessControl': {'metrics': {'anonymousPolicy': ['read', 'pull']}}}",
                 "ocigate.json: accessControl.metrics.anonymousPolicy[1]: unknown action \"pull\"");
    expect_error("{'accessControl': {'repositories': {'**': {'anonymousPolicy': [1]}}}}",
                 "ocigate.json: accessControl.repositories[\"**\"].anonymousPolicy[0]: "
                 "must be a string, not an integer");
}

static void unknown_keys_name_their_path(void **state)
{
    (void)state;
    expect_error("{" AC_EMPTY ", 'listen': 'x'}", "ocigate.json: listen: unknown key");
    expect_error("{" AC_EMPTY ", 'auth': {'openid': {'issuer': 'https://i', 'audiences': ['a'],"
                 " 'claimMapping': {'user': 'sub'}}}}",
                 "ocigate.json: auth.openid.claimMapping.user: unknown key");
    expect_error("{" AC_EMPTY ", 'auth': {'htpasswd': {'path': '/x', 'watch': true}}}",
                 "ocigate.json: auth.htpasswd.watch: unknown key");
    expect_error("{'accessControl': {'repositories': {'a/*': {'policies': [{}, "
                 "{'users': ['x'], 'action': ['read']}]}}}}",
                 "ocigate.json: accessControl.repositories[\"a/*\"].policies[1].action: unknown key");
    expect_error("{'accessControl': {'repositories': {'**': {'default': ['read']}}}}",
                 "ocigate.json: accessControl.repositories[\"**\"].default: unknown key");
    expect_error("{'accessControl': {'groups': {'ops': {'users': ['a'], 'members': []}}}}",
                 "ocigate.json: accessControl.groups[\"ops\"].members: unknown key");
    expect_error("{'accessControl': {'repository': {}}}",
                 "ocigate.json: accessControl.repository: unknown key");
    expect_error("{" AC_EMPTY ", 'immutableTags': [{'repositories': ['a'], 'tags': ['v*'], 'x': 1}]}",
                 "ocigate.json: immutableTags[0].x: unknown key");
    expect_error("{" AC_EMPTY ", 'log': {'level': 'info', 'file': '/x'}}",
                 "ocigate.json: log.file: unknown key");
    expect_error("{" AC_EMPTY ", 'odd key': 1}", "ocigate.json: [\"odd key\"]: unknown key");
}

/* conditions compile when the config loads: errors carry their JSON path and column. */
static void conditions_compile_at_load(void **state)
{
    struct og_config *cfg;

    (void)state;
    cfg = parse_ok("{'accessControl': {'repositories': {'prod/**': {'policies': [{'users': ['bot'],"
                   " 'actions': ['create'], 'conditions': [{'expression': 'true', 'message': 'm'},"
                   " {'expression': 'req.repository.startsWith(\\'prod/\\')'}]}]}},"
                   " 'adminPolicy': {'users': ['a'], 'actions': ['read'],"
                   " 'conditions': [{'expression': 'req.tls.enabled'}]}}}");
    assert_true(cfg->has_conditions);
    assert_int_equal(cfg->rules[0].policies[0].nconditions, 2);
    assert_string_equal(cfg->rules[0].policies[0].conditions[0].message, "m");
    assert_string_equal(cfg->rules[0].policies[0].conditions[1].message, "");
    assert_string_equal(cfg->rules[0].policies[0].conditions[1].where,
                        "accessControl.repositories[\"prod/**\"].policies[0].conditions[1]");
    assert_string_equal(cfg->rules[0].policies[0].where,
                        "accessControl.repositories[\"prod/**\"].policies[0]");
    assert_string_equal(cfg->admin.conditions[0].where, "accessControl.adminPolicy.conditions[0]");
    og_config_free(cfg);
    expect_error("{'accessControl': {'repositories': {'**': {'policies': [{'users': ['bot'],"
                 " 'actions': ['create'], 'conditions': [{'expression': 'true'},"
                 " {'expression': 'req.repo == 1'}]}]}}}}",
                 "ocigate.json: accessControl.repositories[\"**\"].policies[0].conditions[1].expression: "
                 "column 5: 'req' has no field 'repo'");
    expect_error("{'accessControl': {'repositories': {'**': {'policies': [{'users': ['bot'],"
                 " 'actions': ['create'], 'conditions': [{'expression': 'req.method == 1'}]}]}}}}",
                 "ocigate.json: accessControl.repositories[\"**\"].policies[0].conditions[0].expression: "
                 "column 12: no operator '==' for (string, int)");
    expect_error("{'accessControl': {'repositories': {'**': {'policies': [{'users': ['bot'],"
                 " 'actions': ['create'], 'conditions': [{'expression': 'req.method'}]}]}}}}",
                 "ocigate.json: accessControl.repositories[\"**\"].policies[0].conditions[0].expression: "
                 "must be a bool expression");
    expect_error("{'accessControl': {'adminPolicy': {'users': ['a'], 'conditions': [{}]}}}",
                 "ocigate.json: accessControl.adminPolicy.conditions[0].expression: required");
    expect_error("{'accessControl': {'adminPolicy': {'users': ['a'], 'conditions': [{'expression': 'true', 'msg': 'x'}]}}}",
                 "ocigate.json: accessControl.adminPolicy.conditions[0].msg: unknown key");
    expect_error("{'accessControl': {'adminPolicy': {'users': ['a'], 'conditions': {}}}}",
                 "ocigate.json: accessControl.adminPolicy.conditions: must be an array, not an object");
    /* An empty list imposes nothing and is accepted (pasted zot configs). */
    cfg = parse_ok("{'accessControl': {'repositories': {'**': {'policies': [{'users': ['a'],"
                   " 'actions': ['read'], 'conditions': []}]}}}}");
    assert_false(cfg->has_conditions);
    og_config_free(cfg);
}

static void bad_patterns_are_refused(void **state)
{
    (void)state;
    expect_error_prefix("{'accessControl': {'repositories': {'a[': {}}}}",
                        "ocigate.json: accessControl.repositories[\"a[\"]: invalid pattern: ");
    expect_error("{'accessControl': {'repositories': {'': {}}}}",
                 "ocigate.json: accessControl.repositories[\"\"]: empty pattern "
                 "(it would match nothing; use \"**\" for everything)");
    expect_error_prefix("{" AC_EMPTY ", 'immutableTags': [{'repositories': ['ok/**'], 'tags': ['v[']}]}",
                        "ocigate.json: immutableTags[0].tags[0]: invalid pattern: ");
}

static void patterns_sort_longest_first_then_lexicographic(void **state)
{
    struct og_config *cfg = parse_ok(
        "{'accessControl': {'repositories': {"
        "'**': {}, 'b/**': {}, 'team-a/**': {}, 'a/b/c/*': {}, '**/secret': {}, 'a/**': {},"
        "'a/b/**': {}}}}");

    (void)state;
    assert_int_equal(cfg->nrules, 7);
    assert_string_equal(cfg->rules[0].pattern, "**/secret");   /* 9, '*' < 't' */
    assert_string_equal(cfg->rules[1].pattern, "team-a/**");   /* 9 */
    assert_string_equal(cfg->rules[2].pattern, "a/b/c/*");     /* 7 */
    assert_string_equal(cfg->rules[3].pattern, "a/b/**");      /* 6 */
    assert_string_equal(cfg->rules[4].pattern, "a/**");        /* 4 */
    assert_string_equal(cfg->rules[5].pattern, "b/**");        /* 4 */
    assert_string_equal(cfg->rules[6].pattern, "**");          /* 2 */
    og_config_free(cfg);
}

static void pattern_and_group_keys_keep_their_case(void **state)
{
    struct og_config *cfg = parse_ok(
        "{'accessControl': {'repositories': {'Team/**': {'policies': [{'groups': ['DevOps'],"
        " 'actions': ['read']}]}}, 'groups': {'DevOps': {'users': ['Jack']}}}}");

    (void)state;
    assert_string_equal(cfg->rules[0].pattern, "Team/**");
    assert_string_equal(cfg->groups[0].name, "DevOps");
    assert_true(og_config_group_has_user(cfg, "DevOps", "Jack"));
    assert_false(og_config_group_has_user(cfg, "devops", "Jack"));
    assert_false(og_config_group_has_user(cfg, "DevOps", "jack"));
    og_config_free(cfg);
}

static void bad_types_and_values_are_refused(void **state)
{
    (void)state;
    expect_error("[]", "ocigate.json: must be an object, not an array");
    expect_error("{" AC_EMPTY ", 'workers': '4'}",
                 "ocigate.json: workers: must be an integer, not a string");
    expect_error("{" AC_EMPTY ", 'workers': 257}",
                 "ocigate.json: workers: 257 is out of range (0..256)");
    expect_error("{" AC_EMPTY ", 'workers': -1}",
                 "ocigate.json: workers: -1 is out of range (0..256)");
    expect_error("{" AC_EMPTY ", 'workers': 1.5}",
                 "ocigate.json: workers: must be an integer, not a number");
    expect_error("{" AC_EMPTY ", 'registry': {'url': 'ftp://x'}}",
                 "ocigate.json: registry.url: must start with http:// or https://");
    expect_error("{" AC_EMPTY ", 'registry': {'url': 'http://'}}",
                 "ocigate.json: registry.url: names no host");
    expect_error("{" AC_EMPTY ", 'registry': []}",
                 "ocigate.json: registry: must be an object, not an array");
    expect_error("{" AC_EMPTY ", 'token': {'challenge': 'digest'}}",
                 "ocigate.json: token.challenge: \"digest\" is not one of bearer, basic");
    expect_error("{" AC_EMPTY ", 'log': {'level': 'trace'}}",
                 "ocigate.json: log.level: \"trace\" is not one of debug, info, warn, error");
    expect_error("{" AC_EMPTY ", 'log': {'format': 'xml'}}",
                 "ocigate.json: log.format: \"xml\" is not one of json, text");
    expect_error("{" AC_EMPTY ", 'trustForwardedHeaders': 'yes'}",
                 "ocigate.json: trustForwardedHeaders: must be true or false, not a string");
    expect_error("{" AC_EMPTY ", 'realm': 'a\\\"b'}",
                 "ocigate.json: realm: may hold only printable ASCII without '\"' or '\\' "
                 "(it is sent in a header)");
    expect_error("{" AC_EMPTY ", 'realm': ''}", "ocigate.json: realm: must not be empty");
    expect_error("{" AC_EMPTY ", 'endpoints': {'metrics': 'metrics'}}",
                 "ocigate.json: endpoints.metrics: must be a path starting with '/' "
                 "(no spaces, query or fragment)");
    expect_error("{" AC_EMPTY ", 'endpoints': {'apikey': ['/ok', 'bad']}}",
                 "ocigate.json: endpoints.apikey[1]: must be a path starting with '/' "
                 "(no spaces, query or fragment)");
    expect_error("{" AC_EMPTY ", 'redis': {'url': 'http://x'}}",
                 "ocigate.json: redis.url: must start with redis:// or unix:");
    expect_error("{" AC_EMPTY ", 'auth': {'openid': {'issuer': 'https://i'}}}",
                 "ocigate.json: auth.openid.audiences: required");
    expect_error("{" AC_EMPTY ", 'auth': {'openid': {'audiences': ['a']}}}",
                 "ocigate.json: auth.openid.issuer: required");
    expect_error("{" AC_EMPTY ", 'auth': {'openid': {'issuer': 'https://i', 'audiences': []}}}",
                 "ocigate.json: auth.openid.audiences: must hold at least one audience");
    expect_error("{'accessControl': {'repositories': {'**': {'policies': {}}}}}",
                 "ocigate.json: accessControl.repositories[\"**\"].policies: "
                 "must be an array, not an object");
    expect_error("{'accessControl': {'groups': {'g': {'users': ['a', 7]}}}}",
                 "ocigate.json: accessControl.groups[\"g\"].users[1]: must be a string, not an integer");
    expect_error("{'accessControl': {'metrics': {'users': 'prometheus'}}}",
                 "ocigate.json: accessControl.metrics.users: must be an array, not a string");
    expect_error("{" AC_EMPTY ", 'immutableTags': [{'repositories': ['a/**'], 'tags': []}]}",
                 "ocigate.json: immutableTags[0].tags: must hold at least one pattern");
    expect_error("{" AC_EMPTY ", 'immutableTags': [{'tags': ['v*']}]}",
                 "ocigate.json: immutableTags[0].repositories: required");
    expect_error("{" AC_EMPTY ", 'immutableTags': {}}",
                 "ocigate.json: immutableTags: must be an array, not an object");
}

static void json_syntax_and_duplicates_are_refused(void **state)
{
    (void)state;
    expect_error_prefix("{" AC_EMPTY ",\n 'realm': }", "ocigate.json: line 2, column ");
    expect_error_prefix("{" AC_EMPTY ", 'realm': 'a', 'realm': 'b'}", "ocigate.json: line 1");
    expect_error_prefix("{'accessControl': {'repositories': {'**': {}, '**': {}}}}",
                        "ocigate.json: line 1");
    expect_error_prefix("", "ocigate.json: line ");
}

static void registry_url_loses_trailing_slashes(void **state)
{
    struct og_config *cfg = parse_ok("{" AC_EMPTY ", 'registry': {'url': 'https://zot:5000//'}}");

    (void)state;
    assert_string_equal(cfg->registry_url, "https://zot:5000");
    og_config_free(cfg);
}

static void challenge_basic_and_text_log(void **state)
{
    struct og_config *cfg = parse_ok("{" AC_EMPTY ", 'token': {'challenge': 'basic'},"
                                     " 'log': {'level': 'debug', 'format': 'text'}}");

    (void)state;
    assert_int_equal(cfg->challenge, OG_CHALLENGE_BASIC);
    assert_string_equal(cfg->log_level, "debug");
    assert_string_equal(cfg->log_format, "text");
    og_config_free(cfg);
}

static void immutable_rule_text_lists_every_glob(void **state)
{
    struct og_config *cfg = parse_ok(
        "{" AC_EMPTY ", 'immutableTags': [{'repositories': ['a/**'], 'tags': ['v*']},"
        " {'repositories': ['b/**', 'c'], 'tags': ['release-*', '[0-9]*']}]}");

    (void)state;
    assert_int_equal(cfg->nimmutable, 2);
    assert_string_equal(cfg->immutable[0].text, "immutableTags[0] (a/** : v*)");
    assert_string_equal(cfg->immutable[1].text, "immutableTags[1] (b/**, c : release-*, [0-9]*)");
    assert_true(og_glob_match(cfg->immutable[1].tags[1], "1.0", 3));
    og_config_free(cfg);
}

/* redis.sentinels and the keys that go with it (doc/config.md, redis). */
static void redis_sentinel_form_is_read(void **state)
{
    char pw[] = "/tmp/og-test-redis-pw-XXXXXX", json[1024];
    int fd = mkstemp(pw);
    struct og_config *cfg;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    snprintf(json, sizeof json,
             "{'redis': {'sentinels': ['127.0.0.1:26379', '[::1]:26380', 'sentinel-3.example:1'],"
             " 'masterName': 'ocigate', 'minReplicas': 1, 'db': 2, 'username': 'ocigate',"
             " 'passwordFile': '%s', 'sentinelUsername': 'watcher', 'sentinelPasswordFile': '%s',"
             " 'prefix': 'og:', 'timeoutMs': 150}, " AC_EMPTY "}", pw, pw);
    cfg = parse_ok(json);
    assert_int_equal(cfg->redis_sentinels.n, 3);
    assert_string_equal(cfg->redis_sentinels.v[1], "[::1]:26380");
    assert_string_equal(cfg->redis_master_name, "ocigate");
    assert_int_equal(cfg->redis_min_replicas, 1);
    assert_int_equal(cfg->redis_db, 2);
    assert_string_equal(cfg->redis_username, "ocigate");
    assert_string_equal(cfg->redis_password, "s3cret");
    assert_true(cfg->redis_password_from_file);
    assert_string_equal(cfg->redis_sentinel_username, "watcher");
    assert_string_equal(cfg->redis_sentinel_password, "s3cret");
    og_config_free(cfg);

    /* minReplicas goes with url too; the default is 0 */
    cfg = parse_ok("{'redis': {'url': 'redis://127.0.0.1:6379/0', 'minReplicas': 16}, " AC_EMPTY "}");
    assert_int_equal(cfg->redis_min_replicas, 16);
    assert_int_equal(cfg->redis_sentinels.n, 0);
    og_config_free(cfg);
    cfg = parse_ok("{" AC_EMPTY "}");
    assert_int_equal(cfg->redis_min_replicas, 0);
    assert_null(cfg->redis_master_name);
    og_config_free(cfg);
    unlink(pw);
}

static void redis_sentinel_form_is_checked(void **state)
{
    (void)state;
    expect_error("{'redis': {'url': 'redis://h:6379', 'sentinels': ['h:26379'],"
                 " 'masterName': 'm'}, " AC_EMPTY "}",
                 "ocigate.json: redis: give \"url\" or \"sentinels\", not both");
    expect_error("{'redis': {'sentinels': ['h:26379']}, " AC_EMPTY "}",
                 "ocigate.json: redis: \"sentinels\" needs \"masterName\" (the name the "
                 "sentinels monitor the master by)");
    expect_error("{'redis': {'masterName': 'm'}, " AC_EMPTY "}",
                 "ocigate.json: redis: \"masterName\" is used only with \"sentinels\"");
    expect_error("{'redis': {'url': 'redis://h:6379/1', 'db': 1}, " AC_EMPTY "}",
                 "ocigate.json: redis: \"db\" is used only with \"sentinels\" (with \"url\" "
                 "the database is in the URL)");
    expect_error("{'redis': {'sentinels': [], 'masterName': 'm'}, " AC_EMPTY "}",
                 "ocigate.json: redis.sentinels: must hold 1..16 addresses");
    expect_error("{'redis': {'sentinels': ['h:26379', 'h'], 'masterName': 'm'}, " AC_EMPTY "}",
                 "ocigate.json: redis.sentinels[1]: \"h\" is not HOST:PORT or [IPV6]:PORT");
    static const char *const bad[] = { "h:0", "h:65536", "h:-1", "h:26379x", ":26379",
                                       "::1:26379", "[::1]", "[::1]26379", "[h]:1",
                                       "h h:1", "h:", "[]:1", "h:123456" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256], msg[256];
        snprintf(json, sizeof json, "{'redis': {'sentinels': ['%s'], 'masterName': 'm'}, "
                 AC_EMPTY "}", bad[i]);
        snprintf(msg, sizeof msg, "ocigate.json: redis.sentinels[0]: \"%s\" is not HOST:PORT "
                 "or [IPV6]:PORT", bad[i]);
        expect_error(json, msg);
    }
    expect_error("{'redis': {'sentinels': ['h:1'], 'masterName': 'm', 'minReplicas': 17}, "
                 AC_EMPTY "}", "ocigate.json: redis.minReplicas: 17 is out of range (0..16)");
    expect_error("{'redis': {'minReplicas': -1}, " AC_EMPTY "}",
                 "ocigate.json: redis.minReplicas: -1 is out of range (0..16)");
    expect_error("{'redis': {'sentinels': ['h:1'], 'masterName': 'a b'}, " AC_EMPTY "}",
                 "ocigate.json: redis.masterName: must be 1..128 printable ASCII characters "
                 "without spaces or quotes");
    expect_error("{'redis': {'username': 'u'}, " AC_EMPTY "}",
                 "ocigate.json: redis: \"username\" needs \"password\" or \"passwordFile\"");
    expect_error("{'redis': {'sentinels': ['h:1'], 'masterName': 'm', 'sentinelUsername': 'u'}, "
                 AC_EMPTY "}",
                 "ocigate.json: redis: \"sentinelUsername\" needs \"sentinelPasswordFile\"");
    expect_error_prefix("{'redis': {'sentinels': ['h:1'], 'masterName': 'm',"
                        " 'sentinelPasswordFile': '/nonexistent/pw'}, " AC_EMPTY "}",
                        "ocigate.json: redis.sentinelPasswordFile: cannot read");
    /* the URL's own password lets username through */
    og_config_free(parse_ok("{'redis': {'url': 'redis://:pw@h:6379', 'username': 'u'}, "
                            AC_EMPTY "}"));
    og_config_free(parse_ok("{'redis': {'sentinels': ['h:1'], 'masterName': 'm',"
                            " 'username': 'u', 'password': 'p'}, " AC_EMPTY "}"));
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/og-test-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void throttle_limits_are_read(void **state)
{
    struct og_config *cfg = parse_ok("{'auth': {'throttle': {'perAddress': 0, 'perSubject': 3,"
                                     " 'perSubjectTotal': 0, 'windowSeconds': 600}}, "
                                     AC_EMPTY "}");

    (void)state;
    assert_int_equal(cfg->throttle_per_address, 0);
    assert_int_equal(cfg->throttle_per_subject, 3);
    assert_int_equal(cfg->throttle_per_subject_total, 0);
    assert_int_equal(cfg->throttle_window_s, 600);
    og_config_free(cfg);
    expect_error("{'auth': {'throttle': {'perUser': 3}}, " AC_EMPTY "}",
                 "ocigate.json: auth.throttle.perUser: unknown key");
    expect_error_prefix("{'auth': {'throttle': {'windowSeconds': 0}}, " AC_EMPTY "}",
                        "ocigate.json: auth.throttle.windowSeconds: ");
}

static void limits_are_read(void **state)
{
    struct og_config *cfg = parse_ok("{" AC_EMPTY "}");

    (void)state;
    assert_int_equal(cfg->body_timeout_ms, 5000);
    assert_int_equal(cfg->catalog_max_repositories, 5000);
    og_config_free(cfg);
    cfg = parse_ok("{'limits': {'bodyTimeoutMs': 750, 'catalogRepositories': 20}, " AC_EMPTY "}");
    assert_int_equal(cfg->body_timeout_ms, 750);
    assert_int_equal(cfg->catalog_max_repositories, 20);
    og_config_free(cfg);
    expect_error("{'limits': {'bodyTimeout': 3}, " AC_EMPTY "}",
                 "ocigate.json: limits.bodyTimeout: unknown key");
    expect_error_prefix("{'limits': {'bodyTimeoutMs': 0}, " AC_EMPTY "}",
                        "ocigate.json: limits.bodyTimeoutMs: ");
    expect_error_prefix("{'limits': {'catalogRepositories': 0}, " AC_EMPTY "}",
                        "ocigate.json: limits.catalogRepositories: ");
}

static void write_file(const char *path, const char *content)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(content, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void secrets_come_from_files(void **state)
{
    char path[128], json[512];
    struct og_config *cfg;

    (void)state;
    assert_int_equal(make_tmpdir(NULL), 0);
    snprintf(path, sizeof path, "%s/redis.pass", tmpdir);
    write_file(path, "s3cret\n");
    snprintf(json, sizeof json, "{" AC_EMPTY ", 'redis': {'passwordFile': '%s'}}", path);
    cfg = parse_ok(json);
    assert_string_equal(cfg->redis_password, "s3cret");
    og_config_free(cfg);

    /* Only one trailing newline goes; the rest is the secret. */
    write_file(path, "two\n\n");
    cfg = parse_ok(json);
    assert_string_equal(cfg->redis_password, "two\n");
    og_config_free(cfg);

    cfg = parse_ok("{" AC_EMPTY ", 'redis': {'password': 'inline'}}");
    assert_string_equal(cfg->redis_password, "inline");
    og_config_free(cfg);

    snprintf(path, sizeof path, "%s/client.secret", tmpdir);
    write_file(path, "oidc-secret");
    snprintf(json, sizeof json,
             "{" AC_EMPTY ", 'auth': {'openid': {'issuer': 'https://i', 'audiences': ['a'],"
             " 'clientId': 'registry', 'clientSecretFile': '%s'}}}", path);
    cfg = parse_ok(json);
    assert_string_equal(cfg->openid_client_id, "registry");
    assert_string_equal(cfg->openid_client_secret, "oidc-secret");
    og_config_free(cfg);
    unlink(path);

    snprintf(json, sizeof json, "{" AC_EMPTY ", 'redis': {'passwordFile': '%s/missing'}}", tmpdir);
    {
        char expected[256];

        snprintf(expected, sizeof expected,
                 "ocigate.json: redis.passwordFile: cannot read \"%s/missing\": "
                 "No such file or directory", tmpdir);
        expect_error(json, expected);
    }
    snprintf(path, sizeof path, "%s/redis.pass", tmpdir);
    snprintf(json, sizeof json,
             "{" AC_EMPTY ", 'redis': {'password': 'x', 'passwordFile': '%s'}}", path);
    expect_error(json, "ocigate.json: redis: give \"password\" or \"passwordFile\", not both");
    unlink(path);
    rmdir(tmpdir);
}

static void load_reads_a_file_and_names_it(void **state)
{
    char path[128], err[512];
    struct og_config *cfg;

    (void)state;
    assert_int_equal(make_tmpdir(NULL), 0);
    snprintf(path, sizeof path, "%s/ocigate.json", tmpdir);
    write_file(path, q("{'realm': 'file', " AC_EMPTY "}"));
    cfg = og_config_load(path, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->realm, "file");
    og_config_free(cfg);

    write_file(path, q("{'accessControl': {'repositories': {'x': {'policies': "
                       "[{'actions': ['write']}]}}}}"));
    assert_null(og_config_load(path, err, sizeof err));
    {
        char expected[256];

        snprintf(expected, sizeof expected,
                 "%s: accessControl.repositories[\"x\"].policies[0].actions[0]: "
                 "unknown action \"write\"", path);
        assert_string_equal(err, expected);
    }
    unlink(path);
    assert_null(og_config_load(path, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    rmdir(tmpdir);
}

/* auth.apikey.maxPerUser: the per-user key limit (issue 8), default 100. */
static void apikey_max_per_user(void **state)
{
    struct og_config *cfg;
    (void)state;
    cfg = parse_ok("{'auth': {'apikey': {'enabled': true, 'maxPerUser': 5}}, " AC_EMPTY "}");
    assert_int_equal(cfg->apikey_max_per_user, 5);
    og_config_free(cfg);
    expect_error_prefix("{'auth': {'apikey': {'maxPerUser': 0}}, " AC_EMPTY "}",
                        "ocigate.json: auth.apikey.maxPerUser: ");
    expect_error_prefix("{'auth': {'apikey': {'maxPerUser': '10'}}, " AC_EMPTY "}",
                        "ocigate.json: auth.apikey.maxPerUser: must be an integer");
}


/* auth.openid as a list of issuers: each with its own audiences, leeway and
   claimMapping; plain claim names stay plain, anything else is CEL compiled
   at load; clientId marks the one issuer for browser sign-in. */
#define OI(x) "{" AC_EMPTY ", 'auth': {'openid': " x "}}"
static void openid_issuer_list(void **state)
{
    struct og_config *cfg;
    (void)state;

    cfg = parse_ok(OI("[{'issuer': 'https://people', 'audiences': ['registry']},"
                      " {'issuer': 'https://ci', 'audiences': ['ci'], 'leewaySeconds': 5,"
                      "  'claimMapping': {'username': '\\\"ci\\\"',"
                      "   'groups': '[\\\"artifact-workloads\\\"]',"
                      "   'variables': {'repo': 'claims.repository', 'main': 'vars.repo != \\\"\\\"'},"
                      "   'validations': [{'expression': 'vars.repo == \\\"eblume/blumeops\\\" && "
                      "claims.ref == \\\"refs/heads/main\\\"', 'message': 'not the main branch'}]}}]"));
    assert_true(cfg->openid_enabled);
    assert_int_equal(cfg->nopenid, 2);
    assert_int_equal(cfg->openid_signin, -1);
    assert_string_equal(cfg->openid[0].issuer, "https://people");
    assert_string_equal(cfg->openid[0].username, "preferred_username");
    assert_null(cfg->openid[0].username_prog);
    assert_int_equal(cfg->openid[0].leeway_s, 60);
    assert_string_equal(cfg->openid[1].audiences.v[0], "ci");
    assert_int_equal(cfg->openid[1].leeway_s, 5);
    assert_non_null(cfg->openid[1].username_prog);
    assert_non_null(cfg->openid[1].groups_prog);
    assert_int_equal(cfg->openid[1].nvars, 2);
    assert_string_equal(cfg->openid[1].vars[1].name, "main");
    assert_int_equal(cfg->openid[1].nchecks, 1);
    assert_string_equal(cfg->openid[1].checks[0].message, "not the main branch");
    og_config_free(cfg);

    /* plain claim names, including ones that are no CEL identifier */
    cfg = parse_ok(OI("{'issuer': 'https://i', 'audiences': ['a'], 'claimMapping': "
                      "{'username': 'email', 'groups': 'cognito:groups'}}"));
    assert_int_equal(cfg->nopenid, 1);
    assert_null(cfg->openid[0].username_prog);
    assert_null(cfg->openid[0].groups_prog);
    assert_string_equal(cfg->openid[0].groups, "cognito:groups");
    og_config_free(cfg);
    cfg = parse_ok(OI("{'issuer': 'https://i', 'audiences': ['a'], 'claimMapping': "
                      "{'username': 'claims.iss + \\\"/\\\" + claims.sub', "
                      "'groups': 'https://example.org/groups'}}"));
    assert_non_null(cfg->openid[0].username_prog);
    assert_null(cfg->openid[0].groups_prog);
    og_config_free(cfg);
    /* zot's variables: a list of {name, expression} */
    cfg = parse_ok(OI("[{'issuer': 'https://i', 'audiences': ['a'], 'claimMapping': "
                      "{'variables': [{'name': 'r', 'expression': 'claims.repository'}],"
                      " 'username': 'vars.r'}}]"));
    assert_int_equal(cfg->openid[0].nvars, 1);
    assert_non_null(cfg->openid[0].username_prog);
    og_config_free(cfg);

    /* the sign-in issuer is the one with clientId, wherever it is */
    cfg = parse_ok(OI("[{'issuer': 'https://ci', 'audiences': ['ci']},"
                      " {'issuer': 'https://people', 'audiences': ['registry'],"
                      "  'clientId': 'registry', 'clientSecret': 's', 'scopes': ['openid']}]"));
    assert_int_equal(cfg->openid_signin, 1);
    assert_string_equal(cfg->openid_client_id, "registry");
    assert_int_equal(cfg->openid_scopes.n, 1);
    og_config_free(cfg);
}

static void openid_issuer_errors(void **state)
{
    (void)state;
    expect_error(OI("[]"), "ocigate.json: auth.openid: must hold at least one issuer");
    expect_error(OI("'x'"), "ocigate.json: auth.openid: must be an issuer object or a list of "
                            "them, not a string");
    expect_error(OI("[{'issuer': 'https://a', 'audiences': ['a']}, {'audiences': ['b']}]"),
                 "ocigate.json: auth.openid[1].issuer: required");
    expect_error(OI("[{'issuer': 'https://a', 'audiences': ['a'], 'clientId': 'x'},"
                    " {'issuer': 'https://b', 'audiences': ['b'], 'clientId': 'y'}]"),
                 "ocigate.json: auth.openid[1].clientId: only one issuer may have clientId (the "
                 "one for browser sign-in: auth.openid[0] has it)");
    expect_error(OI("[{'issuer': 'https://a', 'audiences': ['a'], 'clientSecret': 'x'}]"),
                 "ocigate.json: auth.openid[0]: clientSecret, clientSecretFile and scopes go "
                 "with clientId (the issuer for browser sign-in)");
    expect_error(OI("[{'issuer': 'https://a', 'audiences': ['a', 'b']},"
                    " {'issuer': 'https://a', 'audiences': ['b']}]"),
                 "ocigate.json: auth.openid[1]: issuer https://a with audience \"b\" is already "
                 "auth.openid[0]: its tokens would never get here");
    /* the same issuer with other audiences is another entry (people and CI of one IdP) */
    og_config_free(parse_ok(OI("[{'issuer': 'https://a', 'audiences': ['a']},"
                               " {'issuer': 'https://a', 'audiences': ['b']}]")));
    expect_error_prefix(OI("[{'issuer': 'https://a', 'audiences': ['a']}, {'issuer': "
                           "'https://b', 'audiences': ['b'], 'claimMapping': {'validations': "
                           "[{'expression': 'claims.ref ==', 'message': 'm'}]}}]"),
                        "ocigate.json: auth.openid[1].claimMapping.validations[0].expression: "
                        "column ");
    expect_error(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': {'validations': "
                    "[{'expression': '\\\"x\\\"', 'message': 'm'}]}}"),
                 "ocigate.json: auth.openid.claimMapping.validations[0].expression: must be a "
                 "boolean expression");
    expect_error(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': {'validations': "
                    "[{'expression': 'true'}]}}"),
                 "ocigate.json: auth.openid.claimMapping.validations[0].message: required");
    expect_error_prefix(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': "
                           "{'username': 'claims.sub + '}}"),
                        "ocigate.json: auth.openid.claimMapping.username: column ");
    expect_error_prefix(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': "
                           "{'groups': 'vars.nope'}}"),
                        "ocigate.json: auth.openid.claimMapping.groups: ");
    /* a variable sees only the variables before it */
    expect_error_prefix(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': "
                           "{'variables': {'a': 'vars.b', 'b': 'claims.sub'}}}"),
                        "ocigate.json: auth.openid.claimMapping.variables.a: ");
    expect_error(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': "
                    "{'variables': {'a-b': 'claims.sub'}}}"),
                 "ocigate.json: auth.openid.claimMapping.variables[\"a-b\"]: \"a-b\" is not a "
                 "variable name (letters, digits, '_'; at most 63)");
    expect_error(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': "
                    "{'variables': {'a': 3}}}"),
                 "ocigate.json: auth.openid.claimMapping.variables.a: must be a non-empty "
                 "string (a CEL expression)");
    expect_error(OI("{'issuer': 'https://b', 'audiences': ['b'], 'claimMapping': "
                    "{'nickname': 'x'}}"),
                 "ocigate.json: auth.openid.claimMapping.nickname: unknown key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_example_is_read),
        cmocka_unit_test(zot_condition_examples_load),
        cmocka_unit_test(zot_claim_mapping_examples_load),
        cmocka_unit_test(defaults_fill_what_is_left_out),
        cmocka_unit_test(registry_write_timeout),
        cmocka_unit_test(redis_sentinel_form_is_read),
        cmocka_unit_test(redis_sentinel_form_is_checked),
        cmocka_unit_test(throttle_limits_are_read),
        cmocka_unit_test(limits_are_read),
        cmocka_unit_test(access_control_is_required),
        cmocka_unit_test(empty_access_control_is_valid),
        cmocka_unit_test(unknown_action_names_its_path),
        cmocka_unit_test(unknown_keys_name_their_path),
        cmocka_unit_test(conditions_compile_at_load),
        cmocka_unit_test(bad_patterns_are_refused),
        cmocka_unit_test(patterns_sort_longest_first_then_lexicographic),
        cmocka_unit_test(pattern_and_group_keys_keep_their_case),
        cmocka_unit_test(bad_types_and_values_are_refused),
        cmocka_unit_test(json_syntax_and_duplicates_are_refused),
        cmocka_unit_test(registry_url_loses_trailing_slashes),
        cmocka_unit_test(challenge_basic_and_text_log),
        cmocka_unit_test(immutable_rule_text_lists_every_glob),
        cmocka_unit_test(secrets_come_from_files),
        cmocka_unit_test(load_reads_a_file_and_names_it),
        cmocka_unit_test(apikey_max_per_user),
        cmocka_unit_test(registry_automatic_mount),
        cmocka_unit_test(empty_user_names_anonymous_where_zot_accepts_it),
        cmocka_unit_test(shipped_examples_load),
        cmocka_unit_test(openid_issuer_list),
        cmocka_unit_test(openid_issuer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
