/*
 * test_decide.c - the access decision against zot's semantics and
 * ocigate's deviations and immutability (doc/decisions.md).
 *
 * Most cases are one row of a table: a config, a request (classified by
 * og_route_classify, as the responder does), an identity, the tag facts, and
 * the expected status, rule, reason, tag and claim bits. Each row is its own
 * cmocka test, named after what it shows. A few direct tests follow.
 *
 * Config JSON is written with single quotes; q() turns them into double ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/decide.h"
#include "../../policy/evaluate.h"
#include "../../policy/glob.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* ------------------------------------------------------------------------ */
/* The configs.                                                              */

enum { C_THREE, C_ZOT, C_LONGEST, C_EMPTY, C_ADMIN, C_NOANON, C_SEED, C_NOAUTOMOUNT,
       C_ANONADMIN, C_COUNT };

static const char *const config_json[C_COUNT] = {
    /* The classic three tiers (README), plus an immutability rule. */
    [C_THREE] =
        "{'accessControl': {"
        "  'repositories': {'**': {'anonymousPolicy': ['read'], 'defaultPolicy': ['read'],"
        "     'policies': [{'groups': ['artifact-workloads'], 'actions': ['read', 'create']}]}},"
        "  'adminPolicy': {'groups': ['admins'], 'actions': ['read', 'create', 'update', 'delete']},"
        "  'groups': {'admins': {'users': ['admin']}, 'artifact-workloads': {'users': ['ci']}},"
        "  'metrics': {'users': [], 'anonymousPolicy': ['read']}},"
        " 'immutableTags': [{'repositories': ['blumeops/**'], 'tags': ['v*']}]}",
    /* The accessControl example of zot's documentation, without its CEL condition. */
    [C_ZOT] =
        "{'accessControl': {"
        "  'groups': {'devs': {'users': ['jack', 'jane']}, 'ops': {'users': ['mike']}},"
        "  'repositories': {"
        "    '**': {'policies': [{'users': ['charlie'], 'actions': ['read', 'create', 'update']}],"
        "           'defaultPolicy': ['read'], 'anonymousPolicy': ['read']},"
        "    'tmp/**': {'defaultPolicy': ['read', 'create', 'update', 'delete']},"
        "    'infra/*': {'policies': [{'groups': ['ops'], 'actions': ['read', 'create', 'update', 'delete']},"
        "                             {'users': ['mallory'], 'actions': ['read', 'create']}],"
        "                'defaultPolicy': ['read']},"
        "    'team-a/**': {'policies': [{'groups': ['devs', 'cn=team-a,ou=groups,dc=example,dc=com'],"
        "                                'actions': ['read', 'create']}]}},"
        "  'adminPolicy': {'users': ['admin'], 'groups': ['registry-admins'],"
        "                  'actions': ['read', 'create', 'update', 'delete']},"
        "  'metrics': {'users': ['prometheus'], 'anonymousPolicy': []}}}",
    /* Longest match, no inheritance; an equal-length tie. */
    [C_LONGEST] =
        "{'accessControl': {'repositories': {"
        "  'a/b/**': {'defaultPolicy': ['read', 'create']},"
        "  'a/b/c/*': {'defaultPolicy': ['read']},"
        "  'team-a/**': {'defaultPolicy': ['read']},"
        "  '**/secret': {'policies': [{'users': ['x'], 'actions': ['read']}]}}}}",
    [C_EMPTY] = "{'accessControl': {}}",
    /* adminPolicy with only some actions; anonymous better off than users; users ''. */
    [C_ADMIN] =
        "{'accessControl': {'repositories': {"
        "  '**': {'defaultPolicy': ['read']},"
        "  'open/**': {'anonymousPolicy': ['read', 'create', 'update', 'delete']},"
        "  'anon/**': {'policies': [{'users': [''], 'actions': ['read']}]}},"
        "  'adminPolicy': {'users': ['root'], 'actions': ['read', 'create']}}}",
    /* Nothing for anonymous anywhere. */
    [C_NOANON] =
        "{'accessControl': {'repositories': {'**': {'defaultPolicy': ['read']},"
        "  'ci/**': {'policies': [{'users': ['ci'], 'actions': ['read', 'create', 'update']}],"
        "            'defaultPolicy': ['read']}}}}",
    /* The seed's block as pasted (deploy/examples/seed.json): no defaultPolicy,
       metrics users [""], version tags immutable, a distribution registry. */
    [C_SEED] =
        "{'registry': {'automaticMount': false},"
        " 'accessControl': {"
        "  'repositories': {'**': {'anonymousPolicy': ['read'],"
        "     'policies': [{'groups': ['artifact-workloads'], 'actions': ['read', 'create']}]}},"
        "  'adminPolicy': {'groups': ['admins'], 'actions': ['read', 'create', 'update', 'delete']},"
        "  'groups': {'admins': {'users': ['admin']}, 'artifact-workloads': {'users': ['ci']}},"
        "  'metrics': {'users': ['']}},"
        " 'immutableTags': [{'repositories': ['**'], 'tags': ['v*']}]}",
    /* automaticMount false next to an unreadable mount source; a group that
       lists '' (accepted, as zot does, and makes no one a member). */
    [C_NOAUTOMOUNT] =
        "{'registry': {'automaticMount': false},"
        " 'accessControl': {"
        "  'repositories': {'**': {'defaultPolicy': ['read']},"
        "    'tmp/**': {'defaultPolicy': ['read', 'create']},"
        "    'secret/**': {'policies': [{'users': ['alice'], 'actions': ['read']}]},"
        "    'open/**': {'policies': [{'groups': ['anyone'], 'actions': ['read', 'create']}]}},"
        "  'groups': {'anyone': {'users': ['']}}}}",
    /* adminPolicy users [''] (zot: the anonymous identity is an admin) and
       metrics users naming anonymous and one user. */
    [C_ANONADMIN] =
        "{'accessControl': {"
        "  'repositories': {'app/**': {'defaultPolicy': ['read']}},"
        "  'adminPolicy': {'users': [''], 'actions': ['read']},"
        "  'metrics': {'users': ['', 'prometheus']}}}",
};

static struct og_config *configs[C_COUNT];

static char json_buf[8192];

static const char *q(const char *single_quoted)
{
    size_t n = strlen(single_quoted);

    assert_true(n < sizeof json_buf);
    for (size_t i = 0; i <= n; i++)
        json_buf[i] = single_quoted[i] == '\'' ? '"' : single_quoted[i];
    return json_buf;
}

static int load_configs(void **state)
{
    (void)state;
    for (int i = 0; i < C_COUNT; i++) {
        char err[512];
        const char *json = q(config_json[i]);

        configs[i] = og_config_parse(json, strlen(json), "test.json", err, sizeof err);
        if (!configs[i]) {
            fprintf(stderr, "config %d: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

static int free_configs(void **state)
{
    (void)state;
    for (int i = 0; i < C_COUNT; i++)
        og_config_free(configs[i]);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The cases.                                                                */

#define ANY_CLAIM (-1)

struct tcase {
    const char *name;
    int cfg;
    const char *method, *uri;
    const char *user;        /* NULL: anonymous */
    const char *groups;      /* credential groups, ;-separated */
    const char *scopes;      /* API key scopes, ;-separated (auth = apikey) */
    const char *facts;       /* NULL: no facts; else one of A(bsent) E(xists) ? per tag */
    int status;              /* 0: facts needed */
    const char *rule;        /* NULL: not checked */
    const char *reason;      /* substring; NULL: not checked */
    const char *tag;         /* NULL: not checked */
    int claim;               /* ANY_CLAIM: not checked */
};

#define ANON NULL
#define NOGROUPS NULL
#define NOSCOPES NULL
#define NOFACTS NULL

static const struct tcase cases[] = {
    /* --- three tiers ------------------------------------------------------ */
    { "three: anonymous pull", C_THREE, "GET", "/v2/app/manifests/latest",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "anonymousPolicy grants read", NULL, ANY_CLAIM },
    { "three: anonymous blob HEAD", C_THREE, "HEAD", "/v2/app/blobs/" D1,
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "anonymousPolicy grants read", NULL, ANY_CLAIM },
    { "three: anonymous tags list", C_THREE, "GET", "/v2/app/tags/list",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "**", NULL, NULL, ANY_CLAIM },
    { "three: anonymous push is 401 without asking for the tag", C_THREE, "PUT",
      "/v2/app/manifests/latest", ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "**",
      "no grant for create", "latest", ANY_CLAIM },
    { "three: anonymous upload is 401", C_THREE, "POST", "/v2/app/blobs/uploads/",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "**", "no grant for create", NULL, ANY_CLAIM },
    { "three: anonymous delete is 401", C_THREE, "DELETE", "/v2/app/manifests/" D1,
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "**", "no grant for delete", NULL, ANY_CLAIM },
    { "three: authenticated pull by defaultPolicy", C_THREE, "GET", "/v2/app/manifests/latest",
      "alice", NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "defaultPolicy grants read", NULL, ANY_CLAIM },
    { "three: authenticated upload without grant is 403", C_THREE, "POST", "/v2/app/blobs/uploads/",
      "alice", NOGROUPS, NOSCOPES, NOFACTS, 403, "**", "no grant for create", NULL, ANY_CLAIM },
    { "three: ci pushes a new tag (claim it)", C_THREE, "PUT", "/v2/app/manifests/1.0",
      "ci", NOGROUPS, NOSCOPES, "A", 200, "**", "group policy grants create", "1.0", 1 },
    { "three: ci overwriting an existing tag is 403", C_THREE, "PUT", "/v2/app/manifests/1.0",
      "ci", NOGROUPS, NOSCOPES, "E", 403, "**", "tag exists: no grant for update", "1.0", 0 },
    { "three: ci push of an unknown tag needs its state", C_THREE, "PUT", "/v2/app/manifests/1.0",
      "ci", NOGROUPS, NOSCOPES, NOFACTS, 0, NULL, "tag state needed", "1.0", ANY_CLAIM },
    { "three: ci delete is 403", C_THREE, "DELETE", "/v2/app/manifests/" D1,
      "ci", NOGROUPS, NOSCOPES, NOFACTS, 403, "**", "no grant for delete", NULL, ANY_CLAIM },
    { "three: ci delete by tag is 403", C_THREE, "DELETE", "/v2/app/manifests/latest",
      "ci", NOGROUPS, NOSCOPES, NOFACTS, 403, "**", "no grant for delete", "latest", ANY_CLAIM },
    { "three: ci starts an upload", C_THREE, "POST", "/v2/app/blobs/uploads/",
      "ci", NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "group policy grants create", NULL, ANY_CLAIM },
    { "three: ci uploads a chunk", C_THREE, "PATCH", "/v2/app/blobs/uploads/abc-123",
      "ci", NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "group policy grants create", NULL, ANY_CLAIM },
    { "three: ci cancelling an upload needs delete", C_THREE, "DELETE", "/v2/app/blobs/uploads/abc-123",
      "ci", NOGROUPS, NOSCOPES, NOFACTS, 403, "**", "no grant for delete", NULL, ANY_CLAIM },
    { "three: group from the credential counts like the config's", C_THREE, "POST",
      "/v2/app/blobs/uploads/", "robot", "artifact-workloads", NOSCOPES, NOFACTS, 200, "**",
      "group policy grants create", NULL, ANY_CLAIM },
    { "three: admin overwrites an existing tag", C_THREE, "PUT", "/v2/app/manifests/latest",
      "admin", NOGROUPS, NOSCOPES, "E", 200, "adminPolicy", "adminPolicy grants update", "latest", 0 },
    { "three: admin with create and update needs no tag state", C_THREE, "PUT",
      "/v2/app/manifests/latest", "admin", NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", NULL,
      "latest", 0 },
    { "three: admin deletes", C_THREE, "DELETE", "/v2/app/manifests/" D1,
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", "adminPolicy grants delete", NULL,
      ANY_CLAIM },
    { "three: admin pull is the rule's, not adminPolicy's", C_THREE, "GET", "/v2/app/manifests/x",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "defaultPolicy grants read", NULL, ANY_CLAIM },
    { "three: immutability blocks the admin's overwrite", C_THREE, "PUT",
      "/v2/blumeops/app/manifests/v1.0", "admin", NOGROUPS, NOSCOPES, "E", 403,
      "immutableTags[0] (blumeops/** : v*)", "immutable tag", "v1.0", 0 },
    { "three: immutable tag of unknown state needs the state, even for admins", C_THREE, "PUT",
      "/v2/blumeops/app/manifests/v1.0", "admin", NOGROUPS, NOSCOPES, NOFACTS, 0, NULL, NULL,
      "v1.0", ANY_CLAIM },
    { "three: anonymous push to an immutable tag is 401 without asking for the tag "
      "(its existence must not show)", C_THREE, "PUT", "/v2/blumeops/app/manifests/v1.0",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "**", "no grant for create", "v1.0", ANY_CLAIM },
    { "three: ... the same when the registry says it exists", C_THREE, "PUT",
      "/v2/blumeops/app/manifests/v1.0", ANON, NOGROUPS, NOSCOPES, "E", 401, "**",
      "no grant for create", "v1.0", ANY_CLAIM },
    { "three: a new immutable tag is a create the admin must claim", C_THREE, "PUT",
      "/v2/blumeops/app/manifests/v1.0", "admin", NOGROUPS, NOSCOPES, "A", 200, "adminPolicy",
      "adminPolicy grants create", "v1.0", 1 },
    { "three: immutability blocks deleting the tag", C_THREE, "DELETE",
      "/v2/blumeops/app/manifests/v2", "admin", NOGROUPS, NOSCOPES, NOFACTS, 403,
      "immutableTags[0] (blumeops/** : v*)", "immutable tag", "v2", ANY_CLAIM },
    { "three: a tag outside the immutable globs is deletable", C_THREE, "DELETE",
      "/v2/blumeops/app/manifests/latest", "admin", NOGROUPS, NOSCOPES, NOFACTS, 200,
      "adminPolicy", NULL, "latest", ANY_CLAIM },
    { "three: a tag outside the immutable globs is overwritable", C_THREE, "PUT",
      "/v2/blumeops/app/manifests/latest", "admin", NOGROUPS, NOSCOPES, "E", 200, "adminPolicy",
      NULL, "latest", 0 },
    { "three: immutable glob in another repository does not bind", C_THREE, "PUT",
      "/v2/other/manifests/v1.0", "admin", NOGROUPS, NOSCOPES, "E", 200, "adminPolicy", NULL,
      "v1.0", 0 },
    { "three: anonymous ping with anonymous access", C_THREE, "GET", "/v2/",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "**", NULL, NULL, ANY_CLAIM },
    { "three: authenticated ping", C_THREE, "GET", "/v2/",
      "alice", NOGROUPS, NOSCOPES, NOFACTS, 200, "route", NULL, NULL, ANY_CLAIM },
    { "three: anonymous metrics by metrics.anonymousPolicy", C_THREE, "GET", "/metrics",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "metrics", NULL, NULL, ANY_CLAIM },
    { "three: empty metrics.users refuses everyone", C_THREE, "GET", "/metrics",
      "prometheus", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },
    { "three: empty metrics.users refuses admins too", C_THREE, "GET", "/ocigate/metrics",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },
    { "three: other paths outside /v2 are 404", C_THREE, "GET", "/index.html",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 404, "route", NULL, NULL, ANY_CLAIM },
    { "three: anonymous catalog (every rule grants anonymous read)", C_THREE, "GET",
      "/v2/_catalog", ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "**", NULL, NULL, ANY_CLAIM },
    { "three: ci mounts from a readable repository", C_THREE, "POST",
      "/v2/app/blobs/uploads/?mount=" D1 "&from=base/img", "ci", NOGROUPS, NOSCOPES, NOFACTS,
      200, "**", "group policy grants create", NULL, ANY_CLAIM },
    { "three: mount without from is 401 even for ci", C_THREE, "POST",
      "/v2/app/blobs/uploads/?mount=" D1, "ci", NOGROUPS, NOSCOPES, NOFACTS,
      401, "route", "falling back to upload", NULL, ANY_CLAIM },
    { "three: anonymous mount is 401 for lack of create", C_THREE, "POST",
      "/v2/app/blobs/uploads/?mount=" D1 "&from=base", ANON, NOGROUPS, NOSCOPES, NOFACTS,
      401, "**", "no grant for create", NULL, ANY_CLAIM },
    { "three: digest PUT with two new tags claims both", C_THREE, "PUT",
      "/v2/app/manifests/" D1 "?tag=a&tag=b", "ci", NOGROUPS, NOSCOPES, "AA", 200, "**",
      "group policy grants create", "a", 3 },
    { "three: digest PUT with one existing tag is 403 on that tag", C_THREE, "PUT",
      "/v2/app/manifests/" D1 "?tag=a&tag=b", "ci", NOGROUPS, NOSCOPES, "AE", 403, "**",
      "tag exists", "b", 0 },
    { "three: digest PUT: a definite denial needs no other fact", C_THREE, "PUT",
      "/v2/app/manifests/" D1 "?tag=a&tag=b", "ci", NOGROUPS, NOSCOPES, "?E", 403, "**",
      "tag exists", "b", 0 },
    { "three: digest PUT: one unknown tag is asked for", C_THREE, "PUT",
      "/v2/app/manifests/" D1 "?tag=a&tag=b", "ci", NOGROUPS, NOSCOPES, "A?", 0, NULL,
      "tag state needed", "b", ANY_CLAIM },
    { "three: digest PUT without tags is a create", C_THREE, "PUT", "/v2/app/manifests/" D1,
      "ci", NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "group policy grants create", NULL, 0 },
    { "three: admin digest PUT mixing new and existing tags is an update", C_THREE, "PUT",
      "/v2/app/manifests/" D1 "?tag=x&tag=y", "admin", NOGROUPS, NOSCOPES, "EA", 200,
      "adminPolicy", "adminPolicy grants update", "x", 0 },
    { "three: admin digest PUT onto an existing immutable tag", C_THREE, "PUT",
      "/v2/blumeops/app/manifests/" D1 "?tag=latest&tag=v3", "admin", NOGROUPS, NOSCOPES, "EE",
      403, "immutableTags[0] (blumeops/** : v*)", "immutable tag", "v3", 0 },
    { "three: OPTIONS needs no identity", C_THREE, "OPTIONS", "/v2/app/manifests/latest",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "route", NULL, NULL, ANY_CLAIM },
    { "three: upper-case repository refused by the route", C_THREE, "GET",
      "/v2/App/manifests/latest", "admin", NOGROUPS, NOSCOPES, NOFACTS, 400, "route", NULL, NULL,
      ANY_CLAIM },
    { "three: unknown method refused by the route", C_THREE, "PROPFIND", "/v2/app/tags/list",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 405, "route", NULL, NULL, ANY_CLAIM },

    /* --- zot's example -------------------------------------------------- */
    { "zot: longer pattern without anonymousPolicy: anonymous 401", C_ZOT, "GET",
      "/v2/tmp/x/manifests/latest", ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "tmp/**",
      "no grant for read", NULL, ANY_CLAIM },
    { "zot: tmp defaultPolicy lets anyone authenticated delete", C_ZOT, "DELETE",
      "/v2/tmp/x/manifests/" D1, "bob", NOGROUPS, NOSCOPES, NOFACTS, 200, "tmp/**",
      "defaultPolicy grants delete", NULL, ANY_CLAIM },
    { "zot: user grant on ** does not reach infra/*", C_ZOT, "PUT", "/v2/infra/web/manifests/1",
      "charlie", NOGROUPS, NOSCOPES, NOFACTS, 403, "infra/*", "no grant for create", "1",
      ANY_CLAIM },
    { "zot: user grant on **", C_ZOT, "POST", "/v2/app/blobs/uploads/",
      "charlie", NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "user policy grants create", NULL,
      ANY_CLAIM },
    { "zot: config group grant", C_ZOT, "DELETE", "/v2/infra/web/blobs/" D1,
      "mike", NOGROUPS, NOSCOPES, NOFACTS, 200, "infra/*", "group policy grants delete", NULL,
      ANY_CLAIM },
    { "zot: infra/* does not match two levels down", C_ZOT, "DELETE",
      "/v2/infra/web/sub/blobs/" D1, "mike", NOGROUPS, NOSCOPES, NOFACTS, 403, "**",
      "no grant for delete", NULL, ANY_CLAIM },
    { "zot: user without update creates and must claim", C_ZOT, "PUT",
      "/v2/infra/web/manifests/1", "mallory", NOGROUPS, NOSCOPES, "A", 200, "infra/*",
      "user policy grants create", "1", 1 },
    { "zot: group member of team-a reads", C_ZOT, "GET", "/v2/team-a/app/manifests/1",
      "jack", NOGROUPS, NOSCOPES, NOFACTS, 200, "team-a/**", "group policy grants read", NULL,
      ANY_CLAIM },
    { "zot: no inheritance of ** defaultPolicy into team-a", C_ZOT, "GET",
      "/v2/team-a/app/manifests/1", "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "team-a/**",
      "no grant for read", NULL, ANY_CLAIM },
    { "zot: no inheritance of ** anonymousPolicy into team-a", C_ZOT, "GET",
      "/v2/team-a/app/manifests/1", ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "team-a/**", NULL,
      NULL, ANY_CLAIM },
    { "zot: LDAP-style group from the credential", C_ZOT, "GET", "/v2/team-a/app/tags/list",
      "oidcuser", "other;cn=team-a,ou=groups,dc=example,dc=com", NOSCOPES, NOFACTS, 200,
      "team-a/**", "group policy grants read", NULL, ANY_CLAIM },
    { "zot: config groups apply to OIDC identities too", C_ZOT, "GET", "/v2/team-a/app/tags/list",
      "jane", "unrelated", NOSCOPES, NOFACTS, 200, "team-a/**", "group policy grants read", NULL,
      ANY_CLAIM },
    { "zot: adminPolicy user falls back", C_ZOT, "GET", "/v2/team-a/app/manifests/1",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", "adminPolicy grants read", NULL,
      ANY_CLAIM },
    { "zot: adminPolicy group from the credential", C_ZOT, "DELETE",
      "/v2/team-a/app/manifests/" D1, "zed", "registry-admins", NOSCOPES, NOFACTS, 200,
      "adminPolicy", "adminPolicy grants delete", NULL, ANY_CLAIM },
    { "zot: metrics user listed", C_ZOT, "GET", "/metrics",
      "prometheus", NOGROUPS, NOSCOPES, NOFACTS, 200, "metrics", NULL, NULL, ANY_CLAIM },
    { "zot: metrics anonymous without read", C_ZOT, "GET", "/metrics",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "metrics", NULL, NULL, ANY_CLAIM },
    { "zot: metrics unlisted user", C_ZOT, "GET", "/metrics",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },
    { "zot: metrics unlisted admin", C_ZOT, "GET", "/ocigate/metrics",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },
    { "zot: catalog refused when one rule does not grant read", C_ZOT, "GET", "/v2/_catalog",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "none", NULL, NULL, ANY_CLAIM },
    { "zot: catalog refused to anonymous with 401", C_ZOT, "GET", "/v2/_catalog",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "none", NULL, NULL, ANY_CLAIM },
    { "zot: catalog for admins with read", C_ZOT, "GET", "/v2/_catalog",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", NULL, NULL, ANY_CLAIM },
    { "zot: mount from an unreadable repository is 401 for a user", C_ZOT, "POST",
      "/v2/tmp/x/blobs/uploads/?mount=" D1 "&from=team-a/app", "bob", NOGROUPS, NOSCOPES,
      NOFACTS, 401, "team-a/**", "falling back to upload", NULL, ANY_CLAIM },
    { "zot: mount from a readable repository", C_ZOT, "POST",
      "/v2/tmp/x/blobs/uploads/?mount=" D1 "&from=team-a/app", "jack", NOGROUPS, NOSCOPES,
      NOFACTS, 200, "tmp/**", "defaultPolicy grants create", NULL, ANY_CLAIM },
    { "zot: API key inside its scope", C_ZOT, "DELETE", "/v2/tmp/x/manifests/" D1,
      "bob", NOGROUPS, "tmp/**", NOFACTS, 200, "tmp/**", NULL, NULL, ANY_CLAIM },
    { "zot: API key outside its scope is 403 whatever the policy", C_ZOT, "GET",
      "/v2/app/manifests/latest", "bob", NOGROUPS, "tmp/**;infra/*", NOFACTS, 403,
      "apikey scope", "scopes", NULL, ANY_CLAIM },
    { "zot: API key scopes bind admins", C_ZOT, "GET", "/v2/team-a/app/manifests/1",
      "admin", NOGROUPS, "tmp/**", NOFACTS, 403, "apikey scope", NULL, NULL, ANY_CLAIM },
    { "zot: scoped key cannot mount from outside its scopes", C_ZOT, "POST",
      "/v2/tmp/x/blobs/uploads/?mount=" D1 "&from=app", "bob", NOGROUPS, "tmp/**", NOFACTS,
      401, "apikey scope", "falling back to upload", NULL, ANY_CLAIM },
    { "zot: scoped key: no catalog", C_ZOT, "GET", "/v2/_catalog",
      "admin", NOGROUPS, "tmp/**", NOFACTS, 403, "apikey scope", NULL, NULL, ANY_CLAIM },
    { "zot: key scoped to ** keeps the catalog", C_ZOT, "GET", "/v2/_catalog",
      "admin", NOGROUPS, "**", NOFACTS, 200, "adminPolicy", NULL, NULL, ANY_CLAIM },
    { "zot: scoped key pushes a tag inside its scope", C_ZOT, "PUT", "/v2/tmp/x/manifests/1",
      "bob", NOGROUPS, "tmp/**", NOFACTS, 200, "tmp/**", NULL, "1", 0 },

    /* --- longest match and ties ------------------------------------------ */
    { "longest: a/b/c/* (7) beats a/b/** (6), no union", C_LONGEST, "POST",
      "/v2/a/b/c/d/blobs/uploads/", "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "a/b/c/*",
      "no grant for create", NULL, ANY_CLAIM },
    { "longest: a/b/c/* denies a tag push with no fact needed", C_LONGEST, "PUT",
      "/v2/a/b/c/d/manifests/1", "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "a/b/c/*", NULL, "1",
      ANY_CLAIM },
    { "longest: a/b/** applies where a/b/c/* does not match", C_LONGEST, "POST",
      "/v2/a/b/c/d/e/blobs/uploads/", "bob", NOGROUPS, NOSCOPES, NOFACTS, 200, "a/b/**",
      "defaultPolicy grants create", NULL, ANY_CLAIM },
    { "longest: a/b/** matches a/b itself", C_LONGEST, "GET", "/v2/a/b/tags/list",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 200, "a/b/**", NULL, NULL, ANY_CLAIM },
    { "longest: equal length tie goes to the smaller (**/secret)", C_LONGEST, "GET",
      "/v2/team-a/secret/manifests/1", "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "**/secret",
      NULL, NULL, ANY_CLAIM },
    { "longest: the tie winner grants its own users", C_LONGEST, "GET",
      "/v2/team-a/secret/manifests/1", "x", NOGROUPS, NOSCOPES, NOFACTS, 200, "**/secret",
      "user policy grants read", NULL, ANY_CLAIM },
    { "longest: no matching pattern, authenticated", C_LONGEST, "GET", "/v2/other/manifests/1",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "none", "no grant for read", NULL, ANY_CLAIM },
    { "longest: no matching pattern, anonymous", C_LONGEST, "GET", "/v2/other/manifests/1",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "none", NULL, NULL, ANY_CLAIM },
    { "longest: catalog needs a ** rule", C_LONGEST, "GET", "/v2/_catalog",
      "x", NOGROUPS, NOSCOPES, NOFACTS, 403, "none", NULL, NULL, ANY_CLAIM },

    /* --- accessControl: {} ---------------------------------------------- */
    { "empty: anonymous pull 401", C_EMPTY, "GET", "/v2/app/manifests/1",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "none", NULL, NULL, ANY_CLAIM },
    { "empty: authenticated pull 403", C_EMPTY, "GET", "/v2/app/manifests/1",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "none", NULL, NULL, ANY_CLAIM },
    { "empty: push denied without asking", C_EMPTY, "PUT", "/v2/app/manifests/1",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "none", NULL, "1", ANY_CLAIM },
    { "empty: authenticated ping still 200", C_EMPTY, "GET", "/v2/",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 200, "route", NULL, NULL, ANY_CLAIM },
    { "empty: anonymous ping 401", C_EMPTY, "GET", "/v2/",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "none", NULL, NULL, ANY_CLAIM },
    { "empty: catalog 403", C_EMPTY, "GET", "/v2/_catalog",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "none", NULL, NULL, ANY_CLAIM },
    { "empty: no metrics block: anonymous 401", C_EMPTY, "GET", "/metrics",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "metrics", NULL, NULL, ANY_CLAIM },
    { "empty: no metrics block: authenticated 403", C_EMPTY, "GET", "/metrics",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },

    /* --- adminPolicy with listed actions only; anonymous vs users -------- */
    { "admin: adminPolicy without update cannot overwrite", C_ADMIN, "PUT", "/v2/app/manifests/1",
      "root", NOGROUPS, NOSCOPES, "E", 403, "**", "tag exists: no grant for update", "1", 0 },
    { "admin: adminPolicy create on a new tag, claimed", C_ADMIN, "PUT", "/v2/app/manifests/1",
      "root", NOGROUPS, NOSCOPES, "A", 200, "adminPolicy", "adminPolicy grants create", "1", 1 },
    { "admin: unknown tag state matters for create-only admins", C_ADMIN, "PUT",
      "/v2/app/manifests/1", "root", NOGROUPS, NOSCOPES, "?", 0, NULL, NULL, "1", ANY_CLAIM },
    { "admin: adminPolicy without delete cannot delete", C_ADMIN, "DELETE",
      "/v2/app/manifests/" D1, "root", NOGROUPS, NOSCOPES, NOFACTS, 403, "**",
      "no grant for delete", NULL, ANY_CLAIM },
    { "admin: anonymousPolicy grants anonymous delete", C_ADMIN, "DELETE",
      "/v2/open/x/manifests/" D1, ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "open/**",
      "anonymousPolicy grants delete", NULL, ANY_CLAIM },
    { "admin: anonymousPolicy does not apply to users (less than anonymous)", C_ADMIN, "GET",
      "/v2/open/x/manifests/1", "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "open/**",
      "no grant for read", NULL, ANY_CLAIM },
    { "admin: anonymous overwrites where anonymousPolicy has update", C_ADMIN, "PUT",
      "/v2/open/x/manifests/1", ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "open/**",
      "anonymousPolicy grants", "1", 0 },
    { "admin: users [\"\"] matches anonymous", C_ADMIN, "GET", "/v2/anon/x/manifests/1",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "anon/**", "user policy grants read", NULL,
      ANY_CLAIM },
    { "admin: users [\"\"] does not match a named user", C_ADMIN, "GET", "/v2/anon/x/manifests/1",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "anon/**", NULL, NULL, ANY_CLAIM },
    { "admin: adminPolicy read reaches the catalog", C_ADMIN, "GET", "/v2/_catalog",
      "root", NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", NULL, NULL, ANY_CLAIM },
    { "admin: catalog refused where a rule denies users read", C_ADMIN, "GET", "/v2/_catalog",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "none", NULL, NULL, ANY_CLAIM },

    /* --- no anonymous access at all ---------------------------------------- */
    { "noanon: anonymous ping 401", C_NOANON, "GET", "/v2/",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "none", "authentication required", NULL, ANY_CLAIM },
    { "noanon: HEAD ping for a user", C_NOANON, "HEAD", "/v2/",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 200, "route", NULL, NULL, ANY_CLAIM },
    { "noanon: catalog when every rule grants read", C_NOANON, "GET", "/v2/_catalog",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 200, "**", NULL, NULL, ANY_CLAIM },
    { "noanon: catalog anonymous 401", C_NOANON, "GET", "/v2/_catalog",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "none", NULL, NULL, ANY_CLAIM },
    { "noanon: user with create and update needs no tag state", C_NOANON, "PUT",
      "/v2/ci/app/manifests/main", "ci", NOGROUPS, NOSCOPES, NOFACTS, 200, "ci/**",
      "user policy grants update", "main", 0 },
    { "noanon: user with create and update overwrites", C_NOANON, "PUT",
      "/v2/ci/app/manifests/main", "ci", NOGROUPS, NOSCOPES, "E", 200, "ci/**",
      "user policy grants update", "main", 0 },
    { "noanon: user with create and update creates without claim", C_NOANON, "PUT",
      "/v2/ci/app/manifests/main", "ci", NOGROUPS, NOSCOPES, "A", 200, "ci/**",
      "user policy grants create", "main", 0 },
    { "noanon: referrers need read", C_NOANON, "GET", "/v2/ci/app/referrers/" D2,
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "ci/**", "no grant for read", NULL, ANY_CLAIM },

    /* --- the seed's config, pasted as is ------------------------------------ */
    { "seed: anonymous pull", C_SEED, "GET", "/v2/app/manifests/latest",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "**", "anonymousPolicy grants read", NULL, ANY_CLAIM },
    { "seed: anonymous catalog", C_SEED, "GET", "/v2/_catalog",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "**", NULL, NULL, ANY_CLAIM },
    { "seed: anonymous push is 401", C_SEED, "PUT", "/v2/app/manifests/abc123",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "**", "no grant for create", "abc123", ANY_CLAIM },
    { "seed: ci pushes a new commit tag (claimed)", C_SEED, "PUT", "/v2/app/manifests/abc123",
      "ci", NOGROUPS, NOSCOPES, "A", 200, "**", "group policy grants create", "abc123", 1 },
    { "seed: ci pushes a new version tag (claimed)", C_SEED, "PUT", "/v2/app/manifests/v1.2.0",
      "ci", NOGROUPS, NOSCOPES, "A", 200, "**", "group policy grants create", "v1.2.0", 1 },
    { "seed: ci overwriting a version tag is 403 (immutableTags)", C_SEED, "PUT",
      "/v2/app/manifests/v1.2.0", "ci", NOGROUPS, NOSCOPES, "E", 403,
      "immutableTags[0] (** : v*)", "immutable tag", "v1.2.0", 0 },
    { "seed: ci overwriting a commit tag is 403 (no update)", C_SEED, "PUT",
      "/v2/app/manifests/abc123", "ci", NOGROUPS, NOSCOPES, "E", 403, "**",
      "tag exists: no grant for update", "abc123", 0 },
    { "seed: the admin overwriting a version tag is 403 (immutableTags)", C_SEED, "PUT",
      "/v2/app/manifests/v1.2.0", "admin", NOGROUPS, NOSCOPES, "E", 403,
      "immutableTags[0] (** : v*)", "immutable tag", "v1.2.0", 0 },
    { "seed: the admin overwrites another tag", C_SEED, "PUT", "/v2/app/manifests/latest",
      "admin", NOGROUPS, NOSCOPES, "E", 200, "adminPolicy", "adminPolicy grants update", "latest", 0 },
    { "seed: the admin deletes by tag", C_SEED, "DELETE", "/v2/app/manifests/latest",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", "adminPolicy grants delete",
      "latest", ANY_CLAIM },
    { "seed: an identity in no group gets nothing (no defaultPolicy; anonymousPolicy is "
      "for anonymous only)", C_SEED, "GET", "/v2/app/manifests/latest", "someone", NOGROUPS,
      NOSCOPES, NOFACTS, 403, "**", "no grant for read", NULL, ANY_CLAIM },
    { "seed: anonymous scrape by metrics.users [\"\"]", C_SEED, "GET", "/metrics",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "metrics", "metrics.users lists \"\" (anonymous)",
      NULL, ANY_CLAIM },
    { "seed: ... endpoints.metrics alike", C_SEED, "GET", "/ocigate/metrics",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "metrics", NULL, NULL, ANY_CLAIM },
    { "seed: metrics.users [\"\"] names no signed-in user", C_SEED, "GET", "/metrics",
      "prometheus", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },
    { "seed: ... not the admin either", C_SEED, "GET", "/ocigate/metrics",
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },
    { "seed: mount without from is a plain create for ci (automaticMount false)", C_SEED,
      "POST", "/v2/app/blobs/uploads/?mount=" D1, "ci", NOGROUPS, NOSCOPES, NOFACTS,
      200, "**", "group policy grants create", NULL, ANY_CLAIM },
    { "seed: ... and for the admin", C_SEED, "POST", "/v2/app/blobs/uploads/?mount=" D1,
      "admin", NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", "adminPolicy grants create",
      NULL, ANY_CLAIM },
    { "seed: ... anonymous has no create: 401", C_SEED, "POST", "/v2/app/blobs/uploads/?mount=" D1,
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "**", "no grant for create", NULL, ANY_CLAIM },
    { "seed: mount with from as before", C_SEED, "POST",
      "/v2/app/blobs/uploads/?mount=" D1 "&from=base", "ci", NOGROUPS, NOSCOPES, NOFACTS,
      200, "**", "group policy grants create", NULL, ANY_CLAIM },

    /* --- registry.automaticMount false ------------------------------------- */
    { "noautomount: mount without from is a create on the target", C_NOAUTOMOUNT, "POST",
      "/v2/tmp/x/blobs/uploads/?mount=" D1, "bob", NOGROUPS, NOSCOPES, NOFACTS,
      200, "tmp/**", "defaultPolicy grants create", NULL, ANY_CLAIM },
    { "noautomount: ... which needs create: 403", C_NOAUTOMOUNT, "POST",
      "/v2/app/blobs/uploads/?mount=" D1, "bob", NOGROUPS, NOSCOPES, NOFACTS,
      403, "**", "no grant for create", NULL, ANY_CLAIM },
    { "noautomount: ... anonymous: 401", C_NOAUTOMOUNT, "POST",
      "/v2/tmp/x/blobs/uploads/?mount=" D1, ANON, NOGROUPS, NOSCOPES, NOFACTS,
      401, "tmp/**", "no grant for create", NULL, ANY_CLAIM },
    { "noautomount: mount with from still needs read on from", C_NOAUTOMOUNT, "POST",
      "/v2/tmp/x/blobs/uploads/?mount=" D1 "&from=secret/a", "bob", NOGROUPS, NOSCOPES, NOFACTS,
      401, "secret/**", "no read on the mount source", NULL, ANY_CLAIM },
    { "noautomount: ... and passes with it", C_NOAUTOMOUNT, "POST",
      "/v2/tmp/x/blobs/uploads/?mount=" D1 "&from=secret/a", "alice", NOGROUPS, NOSCOPES,
      NOFACTS, 200, "tmp/**", "defaultPolicy grants create", NULL, ANY_CLAIM },
    { "noautomount: a scoped key's mount without from is a create within its scopes",
      C_NOAUTOMOUNT, "POST", "/v2/app/blobs/uploads/?mount=" D1, "bob", NOGROUPS, "tmp/**",
      NOFACTS, 403, NULL, NULL, NULL, ANY_CLAIM },
    { "noautomount: a group listing \"\" does not make anonymous a member", C_NOAUTOMOUNT,
      "GET", "/v2/open/x/manifests/1", ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, "open/**",
      "no grant for read", NULL, ANY_CLAIM },
    { "noautomount: ... nor anyone else", C_NOAUTOMOUNT, "GET", "/v2/open/x/manifests/1",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "open/**", "no grant for read", NULL, ANY_CLAIM },

    /* --- "" in adminPolicy.users and metrics.users ------------------------- */
    { "anonadmin: adminPolicy users [\"\"] grants anonymous its actions", C_ANONADMIN, "GET",
      "/v2/other/manifests/1", ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy",
      "adminPolicy grants read", NULL, ANY_CLAIM },
    { "anonadmin: ... only its actions", C_ANONADMIN, "POST", "/v2/other/blobs/uploads/",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 401, NULL, NULL, NULL, ANY_CLAIM },
    { "anonadmin: ... and not to a signed-in user", C_ANONADMIN, "GET", "/v2/other/manifests/1",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, NULL, NULL, NULL, ANY_CLAIM },
    { "anonadmin: anonymous ping (adminPolicy opens it)", C_ANONADMIN, "GET", "/v2/",
      ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "adminPolicy", NULL, NULL, ANY_CLAIM },
    { "anonadmin: metrics users ['', 'prometheus']: anonymous scrapes", C_ANONADMIN, "GET",
      "/metrics", ANON, NOGROUPS, NOSCOPES, NOFACTS, 200, "metrics", NULL, NULL, ANY_CLAIM },
    { "anonadmin: ... prometheus scrapes", C_ANONADMIN, "GET", "/metrics",
      "prometheus", NOGROUPS, NOSCOPES, NOFACTS, 200, "metrics", "listed in metrics.users", NULL,
      ANY_CLAIM },
    { "anonadmin: ... bob does not", C_ANONADMIN, "GET", "/metrics",
      "bob", NOGROUPS, NOSCOPES, NOFACTS, 403, "metrics", NULL, NULL, ANY_CLAIM },
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ------------------------------------------------------------------------ */
/* Running one case.                                                         */

static size_t split(const char *list, char out[][128], size_t max)
{
    size_t n = 0;

    if (!list)
        return 0;
    for (const char *s = list; *s && n < max;) {
        size_t len = strcspn(s, ";");

        assert_true(len < 128);
        memcpy(out[n], s, len);
        out[n][len] = '\0';
        n++;
        s += len;
        if (*s == ';')
            s++;
    }
    return n;
}

static void run_case(void **state)
{
    const struct tcase *c = *state;
    char group_buf[8][128], scope_buf[8][128];
    const char *groups[8];
    struct og_glob *scopes[8];
    size_t ngroups, nscopes;
    struct og_identity id = { .user = c->user, .auth = c->user ? OG_AUTH_HTPASSWD
                                                               : OG_AUTH_ANONYMOUS };
    struct og_facts facts;
    struct og_route r;
    struct og_decision d;

    memset(&facts, 0, sizeof(facts));
    og_route_classify(c->method, strlen(c->method), c->uri, strlen(c->uri), NULL, 0, &r);

    ngroups = split(c->groups, group_buf, 8);
    for (size_t i = 0; i < ngroups; i++)
        groups[i] = group_buf[i];
    id.groups = groups;
    id.ngroups = ngroups;
    if (ngroups)
        id.auth = OG_AUTH_OPENID;

    nscopes = split(c->scopes, scope_buf, 8);
    for (size_t i = 0; i < nscopes; i++) {
        char err[128];

        scopes[i] = og_glob_compile(scope_buf[i], strlen(scope_buf[i]), err, sizeof err);
        assert_non_null(scopes[i]);
    }
    id.scopes = (const struct og_glob *const *)scopes;
    id.nscopes = nscopes;
    if (nscopes)
        id.auth = OG_AUTH_APIKEY;

    if (c->facts) {
        assert_int_equal(strlen(c->facts), r.ntags);
        for (size_t i = 0; c->facts[i]; i++)
            facts.tag[i] = c->facts[i] == 'E' ? OG_TAG_EXISTS
                         : c->facts[i] == 'A' ? OG_TAG_ABSENT : OG_TAG_UNKNOWN;
    }

    og_decide(configs[c->cfg], &r, &id, c->facts ? &facts : NULL, &d);

    for (size_t i = 0; i < nscopes; i++)
        og_glob_free(scopes[i]);

    assert_non_null(d.rule);
    assert_non_null(d.reason);
    if (c->status == 0) {
        assert_int_equal(d.need, OG_NEED_TAG_STATE);
        assert_int_equal(d.status, 0);
    } else {
        if (d.status != c->status)
            fail_msg("status %d, expected %d (rule %s, reason %s)", d.status, c->status, d.rule,
                     d.reason);
        assert_int_equal(d.need, OG_NEED_NOTHING);
    }
    if (c->rule)
        assert_string_equal(d.rule, c->rule);
    if (c->reason && !strstr(d.reason, c->reason))
        fail_msg("reason \"%s\" does not contain \"%s\"", d.reason, c->reason);
    if (c->tag) {
        assert_non_null(d.tag);
        assert_string_equal(d.tag, c->tag);
    }
    if (c->claim != ANY_CLAIM)
        assert_int_equal(d.claim, (unsigned)c->claim);
}

/* ------------------------------------------------------------------------ */
/* accessControl conditions (zot's CEL): narrow an entry, never widen.       */

#include <jansson.h>

/* Every CEL string literal is written \\\" here: q() only turns ' into ". */
static const char *const cond_config_json =
    "{'accessControl': {"
    "  'groups': {'people': {'users': ['alice', 'bob']}},"
    "  'repositories': {"
    "    '**': {'policies': [{'users': ['dave'], 'actions': ['read'], 'conditions': [{'expression':"
    "        'req.repository.startsWith(\\\"prod/\\\")', 'message': 'prod only'}]}]},"
    "    'prod/*': {'defaultPolicy': ['read'], 'policies': [{'users': ['release-bot'],"
    "        'actions': ['read', 'create', 'update'], 'conditions': [{'expression':"
    "        'req.referenceType == \\\"digest\\\" || req.action != \\\"update\\\"',"
    "        'message': 'prod tags are immutable'}]}]},"
    "    'users/**': {'policies': [{'groups': ['people'], 'actions': ['read', 'create', 'update', 'delete'],"
    "        'conditions': [{'expression': 'req.repository.startsWith(\\\"users/\\\" + req.user.username + \\\"/\\\")',"
    "        'message': 'only your own namespace'}]}]},"
    "    'release/**': {'policies': [{'users': ['alice'], 'actions': ['read', 'create'],"
    "        'conditions': [{'expression': '\\\"prod-pusher\\\" in req.claims.roles', 'message': 'needs the prod-pusher role'},"
    "                       {'expression': 'req.claims.email_verified == true', 'message': 'verified e-mail required'}]}]},"
    "    'until/**': {'policies': [{'users': ['alice'], 'actions': ['read'], 'conditions': [{'expression':"
    "        'req.time < timestamp(\\\"2099-12-31T23:59:59Z\\\")', 'message': 'grant expired'}]}]},"
    "    'expired/**': {'policies': [{'users': ['alice'], 'actions': ['read'], 'conditions': [{'expression':"
    "        'req.time < timestamp(\\\"2020-01-01T00:00:00Z\\\")', 'message': 'grant expired'}]}]},"
    "    'stable/**': {'policies': [{'users': ['alice'], 'actions': ['read', 'create', 'update'],"
    "        'conditions': [{'expression': 'req.action != \\\"update\\\" || req.tag != \\\"stable\\\"',"
    "        'message': 'stable is frozen'}]}]},"
    "    'docker/**': {'policies': [{'users': ['alice'], 'actions': ['read'], 'conditions': [{'expression':"
    "        'req.userAgent.startsWith(\\\"docker/\\\")', 'message': 'docker clients only'}]}]},"
    "    'net/**': {'policies': [{'users': ['alice'], 'actions': ['read'], 'conditions': [{'expression':"
    "        'inCidr(req.client.ip, \\\"10.0.0.0/8\\\")', 'message': 'internal network only'}]}]},"
    "    'err/**': {'policies': [{'users': ['alice'], 'actions': ['read'], 'conditions': [{'expression':"
    "        'req.claims.missing == \\\"x\\\"', 'message': 'never shown'}]},"
    "        {'users': ['bob'], 'actions': ['read'], 'conditions': [{'expression':"
    "        'false && req.claims.missing == \\\"x\\\" || true', 'message': 'm'}]}]},"
    "    'either/**': {'policies': [{'users': ['alice'], 'actions': ['read'],"
    "        'conditions': [{'expression': 'false', 'message': 'first entry'}]},"
    "        {'users': ['alice'], 'actions': ['read']}]},"
    "    'narrow/**': {'defaultPolicy': ['read'], 'policies': [{'users': ['alice'],"
    "        'actions': ['read', 'create'], 'conditions': [{'expression': 'false', 'message': 'no writes'}]}]},"
    "    'digest/**': {'policies': [{'users': ['alice'], 'actions': ['read', 'create'],"
    "        'conditions': [{'expression': 'req.referenceType == \\\"digest\\\"', 'message': 'digests only'}]}]},"
    "    'anon/**': {'policies': [{'users': [''], 'actions': ['read'],"
    "        'conditions': [{'expression': 'req.auth.anonymous && req.user.username == \\\"\\\"',"
    "        'message': 'anonymous only'}]}]},"
    "    'grp/**': {'policies': [{'groups': ['people'], 'actions': ['read'],"
    "        'conditions': [{'expression': '\\\"people\\\" in req.user.groups && req.method == \\\"GET\\\"',"
    "        'message': 'GET only'}]}]},"
    "    'fwd/**': {'policies': [{'users': ['alice'], 'actions': ['read'], 'conditions': [{'expression':"
    "        '!(\\\"203.0.113.9\\\" in req.client.forwardedFor) && req.tls.version == \\\"TLSv1.3\\\"', 'message': 'proxy refused'}]}]}},"
    "  'adminPolicy': {'users': ['root'], 'actions': ['read', 'create', 'update', 'delete'],"
    "    'conditions': [{'expression': 'req.tls.enabled && req.auth.admin', 'message': 'admins over TLS only'}]}}}";

static struct og_config *cond_cfg;
static json_t *claims_full, *claims_poor;

/* Two request environments: 0 as a docker client on the inside over TLS with
   a rich token; 1 as curl from outside without TLS, behind a proxy. */
static struct og_request_env envs[3];
static json_t *claims_unverified;

struct ccase {
    const char *name;
    const char *method, *uri;
    const char *user;        /* NULL: anonymous */
    int env;
    const char *facts;       /* as in struct tcase */
    int status;
    const char *message;     /* the condition_message; "" expects none */
    const char *condition;   /* substring of the deciding condition's path; "" expects none */
};

static const struct ccase ccases[] = {
    /* the per-user namespace */
    { "cond: alice pushes into users/alice/", "PUT", "/v2/users/alice/app/manifests/v1", "alice", 0, "A",
      200, "", "repositories[\"users/**\"].policies[0]" },
    { "cond: alice may not push into users/bob/", "PUT", "/v2/users/bob/app/manifests/v1", "alice", 0, "A",
      403, "only your own namespace", "policies[0].conditions[0]" },
    { "cond: nor into users/alicex/ (prefix with the slash)", "POST", "/v2/users/alicex/blobs/uploads/", "alice", 0, NULL,
      403, "only your own namespace", "conditions[0]" },
    { "cond: bob pulls his own", "GET", "/v2/users/bob/x/manifests/v1", "bob", 1, NULL, 200, "", "" },
    { "cond: anonymous is never in the namespace (401)", "GET", "/v2/users/bob/x/manifests/v1", NULL, 0, NULL,
      401, "", "" },
    /* zot's example: prod tags are immutable */
    { "cond: release-bot creates a prod tag", "PUT", "/v2/prod/app/manifests/v1", "release-bot", 0, "A",
      200, "", "" },
    { "cond: release-bot may not update a prod tag", "PUT", "/v2/prod/app/manifests/v1", "release-bot", 0, "E",
      403, "prod tags are immutable", "conditions[0]" },
    { "cond: release-bot pushes by digest", "PUT", "/v2/prod/app/manifests/" D1, "release-bot", 0, NULL,
      200, "", "" },
    { "cond: a false condition does not take defaultPolicy away", "GET", "/v2/prod/app/manifests/v1",
      "someone", 0, NULL, 200, "", "" },
    /* claims */
    { "cond: prod-pusher in claims.roles and email verified", "PUT", "/v2/release/app/manifests/v1", "alice", 0, "A",
      200, "", "" },
    { "cond: without the role", "PUT", "/v2/release/app/manifests/v1", "alice", 1, "A",
      403, "needs the prod-pusher role", "conditions[0]" },
    { "cond: the role but no verified e-mail", "PUT", "/v2/release/app/manifests/v1", "alice", 2, "A",
      403, "verified e-mail required", "conditions[1]" },
    /* req.repository.startsWith("prod/") */
    { "cond: dave reads prod/team/app", "GET", "/v2/prod/team/app/manifests/v1", "dave", 0, NULL, 200, "", "" },
    { "cond: dave may not read staging/app", "GET", "/v2/staging/app/manifests/v1", "dave", 0, NULL,
      403, "prod only", "repositories[\"**\"].policies[0].conditions[0]" },
    /* time */
    { "cond: before 2099", "GET", "/v2/until/x/manifests/v1", "alice", 0, NULL, 200, "", "" },
    { "cond: after 2020 the grant expired", "GET", "/v2/expired/x/manifests/v1", "alice", 0, NULL,
      403, "grant expired", "conditions[0]" },
    /* action and tag */
    { "cond: stable may be created", "PUT", "/v2/stable/x/manifests/stable", "alice", 0, "A", 200, "", "" },
    { "cond: stable may not be updated", "PUT", "/v2/stable/x/manifests/stable", "alice", 0, "E",
      403, "stable is frozen", "" },
    { "cond: other tags may be updated", "PUT", "/v2/stable/x/manifests/v2", "alice", 0, "E", 200, "", "" },
    /* user agent, client address, forwarded-for, TLS */
    { "cond: docker user agent", "GET", "/v2/docker/x/manifests/v1", "alice", 0, NULL, 200, "", "" },
    { "cond: curl user agent", "GET", "/v2/docker/x/manifests/v1", "alice", 1, NULL, 403, "docker clients only", "" },
    { "cond: inside 10.0.0.0/8", "GET", "/v2/net/x/manifests/v1", "alice", 0, NULL, 200, "", "" },
    { "cond: outside 10.0.0.0/8", "GET", "/v2/net/x/manifests/v1", "alice", 1, NULL, 403, "internal network only", "" },
    { "cond: no proxy, TLS 1.3", "GET", "/v2/fwd/x/manifests/v1", "alice", 0, NULL, 200, "", "" },
    { "cond: behind the refused proxy", "GET", "/v2/fwd/x/manifests/v1", "alice", 1, NULL, 403, "proxy refused", "" },
    /* errors deny without a message; absorbed errors do not */
    { "cond: an absent claim is an error: deny", "GET", "/v2/err/x/manifests/v1", "alice", 0, NULL, 403, "", "conditions[0]" },
    { "cond: false && error is false, || true holds", "GET", "/v2/err/x/manifests/v1", "bob", 0, NULL, 200, "", "" },
    /* entries stay alternatives; conditions narrow, never widen */
    { "cond: a second entry without conditions grants", "GET", "/v2/either/x/manifests/v1", "alice", 0, NULL,
      200, "", "" },
    { "cond: defaultPolicy still grants read", "GET", "/v2/narrow/x/manifests/v1", "alice", 0, NULL, 200, "", "" },
    { "cond: the conditional entry's create is refused", "POST", "/v2/narrow/x/blobs/uploads/", "alice", 0, NULL,
      403, "no writes", "" },
    { "cond: a condition never widens (no entry for carol)", "GET", "/v2/users/carol/x/manifests/v1", "carol", 0,
      NULL, 403, "", "" },
    /* reference type */
    { "cond: read by digest", "GET", "/v2/digest/x/manifests/" D1, "alice", 0, NULL, 200, "", "" },
    { "cond: read by tag refused", "GET", "/v2/digest/x/manifests/v1", "alice", 0, NULL, 403, "digests only", "" },
    { "cond: a blob has no reference", "GET", "/v2/digest/x/blobs/" D1, "alice", 0, NULL, 403, "digests only", "" },
    /* anonymous entries, groups, method */
    { "cond: anonymous entry for anonymous", "GET", "/v2/anon/x/manifests/v1", NULL, 0, NULL, 200, "", "" },
    { "cond: group entry, GET", "GET", "/v2/grp/x/manifests/v1", "bob", 0, NULL, 200, "", "" },
    { "cond: group entry, HEAD refused", "HEAD", "/v2/grp/x/manifests/v1", "bob", 0, NULL, 403, "GET only", "" },
    /* adminPolicy conditions */
    { "cond: admin over TLS", "DELETE", "/v2/any/x/manifests/" D1, "root", 0, NULL, 200, "", "adminPolicy" },
    { "cond: admin without TLS", "DELETE", "/v2/any/x/manifests/" D1, "root", 1, NULL, 403,
      "admins over TLS only", "adminPolicy.conditions[0]" },
};
#define NCCASES (sizeof ccases / sizeof ccases[0])

static int load_cond(void **state)
{
    char err[512];
    const char *json = q(cond_config_json);

    (void)state;
    cond_cfg = og_config_parse(json, strlen(json), "test.json", err, sizeof err);
    if (!cond_cfg) {
        fprintf(stderr, "cond config: %s\n", err);
        return -1;
    }
    claims_full = json_loads("{\"roles\": [\"prod-pusher\"], \"email_verified\": true}", 0, NULL);
    claims_poor = json_loads("{\"roles\": [], \"email_verified\": false}", 0, NULL);
    claims_unverified = json_loads("{\"roles\": [\"prod-pusher\"], \"email_verified\": false}", 0, NULL);
    envs[0] = (struct og_request_env){ .user_agent = "docker/24.0.7 go/go1.20", .client_ip = "10.1.2.3",
                                       .forwarded_for = NULL, .tls = true, .tls_version = "TLSv1.3",
                                       .time_s = 1767225600, .claims = claims_full };
    envs[1] = (struct og_request_env){ .user_agent = "curl/8.0", .client_ip = "192.0.2.7",
                                       .forwarded_for = "198.51.100.1, 203.0.113.9", .tls = false,
                                       .tls_version = "", .time_s = 1767225600, .claims = claims_poor };
    envs[2] = envs[0];
    envs[2].claims = claims_unverified;
    return 0;
}

static int free_cond(void **state)
{
    (void)state;
    og_config_free(cond_cfg);
    json_decref(claims_full);
    json_decref(claims_poor);
    json_decref(claims_unverified);
    return 0;
}

static int load_all(void **state)
{
    return load_configs(state) || load_cond(state) ? -1 : 0;
}

static int free_all(void **state)
{
    free_configs(state);
    return free_cond(state);
}

static void run_ccase(void **state)
{
    const struct ccase *c = *state;
    struct og_identity id = { .user = c->user, .auth = c->user ? OG_AUTH_HTPASSWD : OG_AUTH_ANONYMOUS };
    struct og_facts facts;
    struct og_route r;
    struct og_outcome out;
    struct og_query qy;

    memset(&facts, 0, sizeof facts);
    memset(&qy, 0, sizeof qy);
    og_route_classify(c->method, strlen(c->method), c->uri, strlen(c->uri), NULL, 0, &r);
    if (c->facts)
        for (size_t i = 0; c->facts[i]; i++)
            facts.tag[i] = c->facts[i] == 'E' ? OG_TAG_EXISTS : OG_TAG_ABSENT;
    qy.route = &r;
    qy.has_authorization = c->user != NULL;
    qy.holds_claims = true;
    qy.id = &id;
    qy.facts = c->facts ? &facts : NULL;
    qy.env = &envs[c->env];
    og_policy_evaluate(cond_cfg, &qy, &out);
    if (out.status != c->status)
        fail_msg("status %d, expected %d (rule %s, reason %s, condition %s)", out.status, c->status,
                 out.rule, out.reason, out.condition ? out.condition : "-");
    if (c->message[0]) {
        if (!out.condition_message || strcmp(out.condition_message, c->message) != 0)
            fail_msg("message \"%s\", expected \"%s\"",
                     out.condition_message ? out.condition_message : "(none)", c->message);
    } else {
        assert_null(out.condition_message);
    }
    if (c->condition[0]) {
        if (!out.condition || !strstr(out.condition, c->condition))
            fail_msg("condition \"%s\" does not contain \"%s\"", out.condition ? out.condition : "(none)",
                     c->condition);
    }
}

/* Without a request environment (og_can: the catalog filter, the token
   endpoint) conditions count as holding, as in zot; og_policy_evaluate
   without one judges an empty request. */
static void conditions_without_a_request(void **state)
{
    struct og_identity alice = { .user = "alice", .auth = OG_AUTH_HTPASSWD };
    struct og_route r;
    struct og_outcome out;
    struct og_query qy = { 0 };

    (void)state;
    assert_true(og_can(cond_cfg, &alice, OG_ACT_READ, "expired/x", 9, NULL));
    assert_true(og_can(cond_cfg, &alice, OG_ACT_CREATE, "users/bob/x", 11, NULL));
    og_route_classify("GET", 3, "/v2/docker/x/manifests/v1", 25, NULL, 0, &r);
    qy.route = &r;
    qy.has_authorization = true;
    qy.id = &alice;
    og_policy_evaluate(cond_cfg, &qy, &out);
    assert_int_equal(out.status, 403);
    assert_string_equal(out.condition_message, "docker clients only");
}

/* A request whose entries carry no conditions never evaluates one: the
   decision is the same with or without an environment. */
static void no_conditions_no_cost(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_route r;
    struct og_outcome a, b;
    struct og_query qy = { 0 };

    (void)state;
    assert_false(cfg->has_conditions);
    og_route_classify("GET", 3, "/v2/app/manifests/v1", 20, NULL, 0, &r);
    qy.route = &r;
    qy.has_authorization = true;
    qy.id = &ci;
    og_policy_evaluate(cfg, &qy, &a);
    qy.env = &envs[1];
    og_policy_evaluate(cfg, &qy, &b);
    assert_int_equal(a.status, 200);
    assert_int_equal(b.status, 200);
    assert_null(a.condition);
    assert_null(b.condition);
}

/* ------------------------------------------------------------------------ */
/* Direct tests.                                                             */

static void can_is_zots_check_alone(void **state)
{
    const struct og_config *cfg = configs[C_ZOT];
    struct og_identity bob = { .user = "bob", .auth = OG_AUTH_HTPASSWD };
    struct og_identity anon = { 0 };
    const char *rule = NULL;

    (void)state;
    assert_true(og_can(cfg, &bob, OG_ACT_READ, "app", 3, &rule));
    assert_string_equal(rule, "**");
    assert_false(og_can(cfg, &bob, OG_ACT_READ, "team-a/x", 8, &rule));
    assert_string_equal(rule, "team-a/**");
    assert_true(og_can(cfg, &anon, OG_ACT_READ, "app", 3, NULL));
    assert_false(og_can(cfg, &anon, OG_ACT_CREATE, "app", 3, &rule));
    assert_false(og_can(cfg, &bob, OG_ACT_NONE, "tmp/x", 5, &rule));
    assert_false(og_can(cfg, NULL, OG_ACT_READ, "team-a/x", 8, &rule));
}

static void hand_built_routes(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_route r;
    struct og_decision d;

    (void)state;
    /* A refusal carries its status and reason through. */
    memset(&r, 0, sizeof r);
    r.status = 400;
    r.reason = "percent-escape in path";
    og_decide(cfg, &r, &ci, NULL, &d);
    assert_int_equal(d.status, 400);
    assert_string_equal(d.rule, "route");
    assert_string_equal(d.reason, "percent-escape in path");

    /* A PUT by tag whose tags[] was left empty uses its reference. */
    memset(&r, 0, sizeof r);
    r.kind = OG_R_MANIFEST;
    r.method = OG_M_PUT;
    r.action = OG_ACT_CREATE;
    strcpy(r.repo, "app");
    r.repo_len = 3;
    strcpy(r.reference, "1.0");
    og_decide(cfg, &r, &ci, NULL, &d);
    assert_int_equal(d.need, OG_NEED_TAG_STATE);
    assert_string_equal(d.tag, "1.0");

    /* An unclassified route is never allowed. */
    memset(&r, 0, sizeof r);
    og_decide(cfg, &r, &ci, NULL, &d);
    assert_int_equal(d.status, 404);
    assert_non_null(d.rule);

    /* The custom metrics endpoint. */
    memset(&r, 0, sizeof r);
    r.kind = OG_R_OUTSIDE;
    r.method = OG_M_GET;
    r.path = "/ocigate/metrics";
    r.path_len = strlen(r.path);
    og_decide(cfg, &r, NULL, NULL, &d);
    assert_int_equal(d.status, 200);
    assert_string_equal(d.rule, "metrics");
}

static void anonymous_is_no_user_or_empty_user(void **state)
{
    const struct og_config *cfg = configs[C_ADMIN];
    struct og_identity empty = { .user = "", .auth = OG_AUTH_ANONYMOUS };
    /* Groups handed in with no user are ignored: anonymous belongs to no group. */
    struct og_identity grouped = { .user = NULL,
                                   .groups = (const char *const[]){ "artifact-workloads" },
                                   .ngroups = 1 };
    struct og_route r;
    struct og_decision d;

    (void)state;
    og_route_classify("GET", 3, "/v2/anon/a/manifests/1", 22, NULL, 0, &r);
    og_decide(cfg, &r, &empty, NULL, &d);
    assert_int_equal(d.status, 200);
    og_decide(cfg, &r, NULL, NULL, &d);
    assert_int_equal(d.status, 200);
    og_route_classify("POST", 4, "/v2/app/blobs/uploads/", 22, NULL, 0, &r);
    og_decide(configs[C_THREE], &r, &grouped, NULL, &d);
    assert_int_equal(d.status, 401);
}

static void auth_names(void **state)
{
    (void)state;
    assert_string_equal(og_auth_name(OG_AUTH_ANONYMOUS), "anonymous");
    assert_string_equal(og_auth_name(OG_AUTH_HTPASSWD), "htpasswd");
    assert_string_equal(og_auth_name(OG_AUTH_APIKEY), "apikey");
    assert_string_equal(og_auth_name(OG_AUTH_OPENID), "openid");
    assert_string_equal(og_auth_name((enum og_auth)42), "unknown");
}

/* DELETE by digest in a repository an immutableTags rule covers (doc/decisions.md). */
static void digest_delete_under_immutable_rule(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    const char *admins[] = { "admins" };
    struct og_identity admin = { .user = "admin", .auth = OG_AUTH_HTPASSWD };
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_identity oidc_admin = { .user = "root", .auth = OG_AUTH_OPENID,
                                      .groups = admins, .ngroups = 1 };
    const char *uri = "/v2/blumeops/app/manifests/" D1;
    struct og_route r;
    struct og_decision d;
    struct og_facts f;

    (void)state;
    og_route_classify("DELETE", 6, uri, strlen(uri), NULL, 0, &r);
    assert_int_equal(r.status, 0);

    /* the admin may delete, so the tags pointing at the digest matter */
    og_decide(cfg, &r, &admin, NULL, &d);
    assert_int_equal(d.need, OG_NEED_DIGEST_TAGS);
    assert_int_equal(d.status, 0);

    /* tagged v1.2.0 under the v* rule: 403 naming the rule, admins included */
    memset(&f, 0, sizeof(f));
    f.digest_tags_known = true;
    f.digest_tag = "v1.2.0";
    og_decide(cfg, &r, &oidc_admin, &f, &d);
    assert_int_equal(d.status, 403);
    assert_string_equal(d.rule, "immutableTags[0] (blumeops/** : v*)");
    assert_string_equal(d.tag, "v1.2.0");

    /* the same digest, untagged (or only under tags no rule covers): allowed */
    f.digest_tag = NULL;
    og_decide(cfg, &r, &admin, &f, &d);
    assert_int_equal(d.status, 200);
    assert_string_equal(d.rule, "adminPolicy");

    /* ci may not delete at all: denied without asking the registry */
    og_decide(cfg, &r, &ci, NULL, &d);
    assert_int_equal(d.need, OG_NEED_NOTHING);
    assert_int_equal(d.status, 403);

    /* outside every rule's repositories: no facts needed */
    uri = "/v2/other/app/manifests/" D1;
    og_route_classify("DELETE", 6, uri, strlen(uri), NULL, 0, &r);
    og_decide(cfg, &r, &admin, NULL, &d);
    assert_int_equal(d.need, OG_NEED_NOTHING);
    assert_int_equal(d.status, 200);
}

/* A claimed new tag: decided again as an update (what the responder does when
   SET NX finds the claim held). */
static void held_claim_turns_create_into_update(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_identity admin = { .user = "admin", .auth = OG_AUTH_HTPASSWD };
    const char *uri = "/v2/team/app/manifests/v7";
    struct og_route r;
    struct og_decision d;
    struct og_facts f;

    (void)state;
    og_route_classify("PUT", 3, uri, strlen(uri), NULL, 0, &r);
    memset(&f, 0, sizeof(f));
    f.tag[0] = OG_TAG_ABSENT;
    og_decide(cfg, &r, &ci, &f, &d);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.claim, 1u);             /* ci cannot update: must win the claim */
    f.tag[0] = OG_TAG_EXISTS;                  /* the claim was held */
    og_decide(cfg, &r, &ci, &f, &d);
    assert_int_equal(d.status, 403);
    assert_int_equal(d.action, OG_ACT_UPDATE);
    /* an admin may update team/app:v7, so no claim and no race to win */
    f.tag[0] = OG_TAG_ABSENT;
    og_decide(cfg, &r, &admin, &f, &d);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.claim, 0u);
}

/* og_policy_evaluate(): the protocol around og_decide, step by step. */
static void evaluate_asks_then_decides(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    const char *uri = "/v2/team/app/manifests/v7", *ping = "/v2/";
    struct og_route r, p;
    struct og_query qy;
    struct og_outcome o;
    struct og_facts f;

    (void)state;
    og_route_classify("GET", 3, ping, strlen(ping), NULL, 0, &p);
    memset(&qy, 0, sizeof(qy));
    qy.route = &p;
    og_policy_evaluate(cfg, &qy, &o);              /* no Authorization: challenge */
    assert_int_equal(o.status, 401);
    assert_true(o.challenge);
    assert_string_equal(o.rule, "challenge");
    qy.has_authorization = true;
    og_policy_evaluate(cfg, &qy, &o);              /* Authorization: who is it? */
    assert_int_equal(o.need, OG_NEED_IDENTITY);
    assert_int_equal(o.status, 503);               /* undecided is never an allow */

    og_route_classify("PUT", 3, uri, strlen(uri), NULL, 0, &r);
    memset(&qy, 0, sizeof(qy));
    qy.route = &r;
    qy.has_authorization = true;
    qy.holds_claims = true;
    qy.id = &ci;
    og_policy_evaluate(cfg, &qy, &o);
    assert_int_equal(o.need, OG_NEED_TAG_STATE);
    assert_int_equal(o.status, 503);
    memset(&f, 0, sizeof(f));
    f.tag[0] = OG_TAG_ABSENT;
    qy.facts = &f;
    og_policy_evaluate(cfg, &qy, &o);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.claim, 1u);
    assert_string_equal(o.repository, "team/app");
    qy.lost_claims = 1u;                           /* another push held the claim */
    og_policy_evaluate(cfg, &qy, &o);
    assert_int_equal(o.status, 403);
    assert_int_equal(o.action, OG_ACT_UPDATE);
    assert_int_equal(o.claim, 0u);
    assert_non_null(strstr(o.reason, "concurrent push"));
    assert_int_equal(f.tag[0], OG_TAG_ABSENT);    /* the caller's facts are left alone */
    qy.lost_claims = 0;
    qy.holds_claims = false;                       /* a door that cannot hold the claim */
    og_policy_evaluate(cfg, &qy, &o);
    assert_int_equal(o.status, 403);
    assert_string_equal(o.rule, "route");
    assert_non_null(strstr(o.reason, "OCIGATE_SERVE=manifest"));
    og_outcome_refuse(&o, 503, "registry", "down");
    assert_int_equal(o.status, 503);
    assert_int_equal(o.action, OG_ACT_CREATE);     /* what was being decided is kept */
    assert_string_equal(o.rule, "registry");
}

/* token.challengeAnonymous: in bearer mode with a realm, every registry
   request without an Authorization header is the 401 challenge, even a
   read anonymous clients may do; with credentials nothing changes. Off by
   default, and without effect in basic mode or without token.realm. */
static void challenge_anonymous_asks_for_a_token(void **state)
{
    static const char *const base =
        "{'accessControl': {'repositories': {'**': {'anonymousPolicy': ['read'],"
        "   'defaultPolicy': ['read']}}}, 'token': {%s}}";
    static const char *const tokens[] = {
        "'challenge': 'bearer', 'realm': 'http://r.example/token', 'challengeAnonymous': true",
        "'challenge': 'bearer', 'realm': 'http://r.example/token'",
        "'challenge': 'basic', 'realm': 'http://r.example/token', 'challengeAnonymous': true",
        "'challenge': 'bearer', 'challengeAnonymous': true",
        "'challenge': 'bearer', 'realm': 'http://r.example/token', 'challengeAnonymous': false",
    };
    static const struct { const char *method, *uri; bool registry; } reqs[] = {
        { "GET", "/v2/", true },
        { "HEAD", "/v2/app/manifests/latest", true },
        { "GET", "/v2/app/manifests/latest", true },
        { "GET", "/v2/app/blobs/" D1, true },
        { "GET", "/v2/app/tags/list", true },
        { "GET", "/v2/_catalog", true },
        { "GET", "/v2/app/referrers/" D1, true },
        { "POST", "/v2/app/blobs/uploads/", true },
        { "PATCH", "/v2/app/blobs/uploads/abc-123", true },
        { "PUT", "/v2/app/manifests/v1", true },
        { "DELETE", "/v2/app/manifests/" D1, true },
        { "OPTIONS", "/v2/app/manifests/latest", false },
        { "GET", "/metrics", false },
    };
    struct og_identity anon = { 0 };
    char json[512], err[256];

    (void)state;
    for (size_t c = 0; c < sizeof tokens / sizeof tokens[0]; c++) {
        struct og_config *cfg;

        const char *j;

        snprintf(json, sizeof json, base, tokens[c]);
        j = q(json);
        cfg = og_config_parse(j, strlen(j), "test.json", err, sizeof err);
        if (!cfg)
            fail_msg("config %zu: %s", c, err);
        assert_int_equal(cfg->challenge_anonymous, c == 0 || c == 2 || c == 3);
        for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
            bool want = c == 0 && reqs[i].registry;
            struct og_route r;
            struct og_query qy;
            struct og_outcome o;

            og_route_classify(reqs[i].method, strlen(reqs[i].method), reqs[i].uri,
                              strlen(reqs[i].uri), NULL, 0, &r);
            assert_int_equal(r.status, 0);
            if (og_challenges_anonymous(cfg, &r) != want)
                fail_msg("config %zu, %s %s: challenged %d", c, reqs[i].method, reqs[i].uri, !want);
            memset(&qy, 0, sizeof(qy));
            qy.route = &r;
            og_policy_evaluate(cfg, &qy, &o);            /* no Authorization header */
            if (want || r.kind == OG_R_PING) {
                assert_int_equal(o.status, 401);
                assert_true(o.challenge);
                assert_string_equal(o.rule, "challenge");
                continue;
            }
            assert_false(o.challenge);
            if (r.kind == OG_R_OPTIONS || r.kind == OG_R_OUTSIDE)
                continue;
            qy.id = &anon;                               /* anonymous: the policy decides */
            og_policy_evaluate(cfg, &qy, &o);
            assert_false(o.challenge);
            assert_int_equal(o.status, r.action == OG_ACT_READ ? 200 : 401);
        }
        /* credentials: never the anonymous challenge, the identity decides */
        for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
            struct og_route r;
            struct og_query qy;
            struct og_outcome o;

            og_route_classify(reqs[i].method, strlen(reqs[i].method), reqs[i].uri,
                              strlen(reqs[i].uri), NULL, 0, &r);
            memset(&qy, 0, sizeof(qy));
            qy.route = &r;
            qy.has_authorization = true;
            og_policy_evaluate(cfg, &qy, &o);
            assert_false(o.challenge);
            if (r.kind != OG_R_OPTIONS)
                assert_int_equal(o.need, OG_NEED_IDENTITY);
        }
        og_config_free(cfg);
    }
    /* a bool, nothing else */
    snprintf(json, sizeof json, base, "'challengeAnonymous': 'yes'");
    assert_null(og_config_parse(q(json), strlen(json), "test.json", err, sizeof err));
    assert_non_null(strstr(err, "token.challengeAnonymous"));
}

/* An index an immutable tag points at protects its children (issue 8). */
static void index_child_delete_under_immutable_rule(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    struct og_identity admin = { .user = "admin", .auth = OG_AUTH_HTPASSWD };
    const char *uri = "/v2/blumeops/app/manifests/" D2;
    struct og_route r;
    struct og_decision d;
    struct og_facts f;

    (void)state;
    og_route_classify("DELETE", 6, uri, strlen(uri), NULL, 0, &r);
    memset(&f, 0, sizeof(f));
    f.digest_tags_known = true;
    f.digest_tag = "v2.0";
    f.digest_in_index = true;
    og_decide(cfg, &r, &admin, &f, &d);
    assert_int_equal(d.status, 403);
    assert_string_equal(d.rule, "immutableTags[0] (blumeops/** : v*)");
    assert_string_equal(d.tag, "v2.0");
    assert_non_null(strstr(d.reason, "index"));
    /* the same child under an index tagged outside the rule: allowed */
    f.digest_tag = "latest";
    og_decide(cfg, &r, &admin, &f, &d);
    assert_int_equal(d.status, 200);
}

/* Blob DELETE where an immutableTags rule covers the repository (issue 8). */
static void blob_delete_under_immutable_rule(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    struct og_identity admin = { .user = "admin", .auth = OG_AUTH_HTPASSWD };
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    const char *uri = "/v2/blumeops/app/blobs/" D1;
    struct og_route r;
    struct og_decision d;

    (void)state;
    og_route_classify("DELETE", 6, uri, strlen(uri), NULL, 0, &r);
    assert_int_equal(r.status, 0);
    og_decide(cfg, &r, &admin, NULL, &d);
    assert_int_equal(d.need, OG_NEED_NOTHING);
    assert_int_equal(d.status, 403);
    assert_string_equal(d.rule, "immutableTags[0] (blumeops/** : v*)");
    /* without a delete grant: the usual denial (anonymous 401, others 403) */
    og_decide(cfg, &r, &ci, NULL, &d);
    assert_int_equal(d.status, 403);
    assert_string_equal(d.rule, "**");
    og_decide(cfg, &r, NULL, NULL, &d);
    assert_int_equal(d.status, 401);
    /* reading the blob is untouched */
    og_route_classify("GET", 3, uri, strlen(uri), NULL, 0, &r);
    og_decide(cfg, &r, NULL, NULL, &d);
    assert_int_equal(d.status, 200);
    /* outside every rule's repositories: the admin deletes */
    uri = "/v2/team/app/blobs/" D1;
    og_route_classify("DELETE", 6, uri, strlen(uri), NULL, 0, &r);
    og_decide(cfg, &r, &admin, NULL, &d);
    assert_int_equal(d.status, 200);
}

/* Where ocigate does not forward the write itself, an allow that needs a
   claim is refused; one that needs none stands (issue 8). */
static void claim_needs_the_manifest_route(void **state)
{
    const struct og_config *cfg = configs[C_THREE];
    struct og_identity ci = { .user = "ci", .auth = OG_AUTH_HTPASSWD };
    struct og_identity admin = { .user = "admin", .auth = OG_AUTH_HTPASSWD };
    const char *uri = "/v2/team/app/manifests/v7";
    const char *imm = "/v2/blumeops/app/manifests/v7";
    struct og_route r;
    struct og_decision d;
    struct og_facts f;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.tag[0] = OG_TAG_ABSENT;
    og_route_classify("PUT", 3, uri, strlen(uri), NULL, 0, &r);
    og_decide(cfg, &r, &ci, &f, &d);
    assert_int_equal(d.status, 200);
    og_decide_without_claims(&d);
    assert_int_equal(d.status, 403);
    assert_int_equal(d.claim, 0u);
    assert_non_null(strstr(d.reason, "OCIGATE_SERVE=manifest"));
    /* admin, update granted, no rule: no claim, still allowed */
    og_decide(cfg, &r, &admin, &f, &d);
    og_decide_without_claims(&d);
    assert_int_equal(d.status, 200);
    /* admin under immutableTags: a new tag needs the claim */
    og_route_classify("PUT", 3, imm, strlen(imm), NULL, 0, &r);
    og_decide(cfg, &r, &admin, &f, &d);
    assert_int_equal(d.claim, 1u);
    og_decide_without_claims(&d);
    assert_int_equal(d.status, 403);
    /* a denial stays the denial it was */
    f.tag[0] = OG_TAG_EXISTS;
    og_decide(cfg, &r, &admin, &f, &d);
    og_decide_without_claims(&d);
    assert_int_equal(d.status, 403);
    assert_string_equal(d.rule, "immutableTags[0] (blumeops/** : v*)");
}

static struct CMUnitTest tests[NCASES + 11 + NCCASES + 2];

int main(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = (void *)&cases[i];
    }
    tests[NCASES + 0] = (struct CMUnitTest)cmocka_unit_test(can_is_zots_check_alone);
    tests[NCASES + 1] = (struct CMUnitTest)cmocka_unit_test(hand_built_routes);
    tests[NCASES + 2] = (struct CMUnitTest)cmocka_unit_test(anonymous_is_no_user_or_empty_user);
    tests[NCASES + 3] = (struct CMUnitTest)cmocka_unit_test(auth_names);
    tests[NCASES + 4] = (struct CMUnitTest)cmocka_unit_test(digest_delete_under_immutable_rule);
    tests[NCASES + 5] = (struct CMUnitTest)cmocka_unit_test(held_claim_turns_create_into_update);
    tests[NCASES + 6] = (struct CMUnitTest)cmocka_unit_test(index_child_delete_under_immutable_rule);
    tests[NCASES + 7] = (struct CMUnitTest)cmocka_unit_test(blob_delete_under_immutable_rule);
    tests[NCASES + 8] = (struct CMUnitTest)cmocka_unit_test(claim_needs_the_manifest_route);
    tests[NCASES + 9] = (struct CMUnitTest)cmocka_unit_test(evaluate_asks_then_decides);
    tests[NCASES + 10] = (struct CMUnitTest)cmocka_unit_test(challenge_anonymous_asks_for_a_token);
    for (size_t i = 0; i < NCCASES; i++) {
        tests[NCASES + 11 + i].name = ccases[i].name;
        tests[NCASES + 11 + i].test_func = run_ccase;
        tests[NCASES + 11 + i].initial_state = (void *)&ccases[i];
    }
    tests[NCASES + 11 + NCCASES] = (struct CMUnitTest)cmocka_unit_test(conditions_without_a_request);
    tests[NCASES + 11 + NCCASES + 1] = (struct CMUnitTest)cmocka_unit_test(no_conditions_no_cost);
    return cmocka_run_group_tests(tests, load_all, free_all);
}
