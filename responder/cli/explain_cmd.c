/*
 * explain_cmd.c - `ocigate explain`: the full decision for one request, offline.
 *
 * The identity is given (--user, --group; none = anonymous), existing tags
 * are given (--existing-tag), and nothing is contacted: the facts are
 * supplied up front and the decision is og_policy_evaluate(), the call
 * `serve` makes, so the two cannot disagree. The output is a contract (ocigate(8)):
 *   line 1: "allow" or "deny STATUS"; then "key: value" lines.
 * Exit status 0 allow, 1 deny, 2 bad usage or bad config.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cel.h"
#include "commands.h"
#include "config.h"
#include "decide.h"
#include "evaluate.h"

#define MAX_GROUPS 64

static void usage(FILE *f)
{
    fprintf(f, "usage: ocigate explain [-c FILE] [--user U] [--group G]... [--existing-tag T]... "
               "METHOD URI\n"
               "  Decide one request as the server would, without contacting anything.\n"
               "  --user U          the identity (none: anonymous)\n"
               "  --group G         a group the credential carries (repeatable); config groups\n"
               "                    containing U are added as the server does\n"
               "  --existing-tag T  tag T already exists in the request's repository (repeatable)\n"
               "  --claimed-tag T   another push holds the Redis claim on new tag T (repeatable)\n"
               "  --digest-tag T    for DELETE .../manifests/DIGEST: tag T points at that digest\n"
               "  What accessControl conditions read (req.*):\n"
               "  --claim K=V       an OpenID token claim (repeatable); V is JSON when it parses\n"
               "                    as JSON (true, 3, [\"a\",\"b\"]), else a string\n"
               "  --client-ip A     req.client.ip (default 127.0.0.1)\n"
               "  --user-agent S    req.userAgent\n"
               "  --forwarded-for L req.client.forwardedFor (comma-separated)\n"
               "  --tls-version V   HTTPS with TLS version V (req.tls.enabled, req.tls.version)\n"
               "  --time T          req.time as RFC 3339 (default: now)\n"
               "  Prints \"allow\" or \"deny STATUS\", then repository/action/rule/reason lines.\n"
               "  Exit status: 0 allow, 1 deny, 2 bad usage or bad config.\n");
}

static void print_groups(const struct og_config *cfg, const struct og_identity *id)
{
    const char *groups[MAX_GROUPS * 2];
    size_t n = og_effective_groups(cfg, id, groups, sizeof(groups) / sizeof(groups[0]));

    printf("groups: ");
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", groups[i]);
    printf("\n");
}

void og_explain_evaluate(const struct og_config *cfg, const struct og_explain_input *in,
                         struct og_route *route, struct og_identity *id,
                         struct og_outcome *out)
{
    static struct og_facts facts;     /* outlives the call: out may point into it */
    struct og_query q;
    bool named = in->user && *in->user;

    og_route_classify(in->method, strlen(in->method), in->uri, strlen(in->uri), NULL, 0, route);
    memset(id, 0, sizeof(*id));
    id->user = in->user;
    id->auth = named ? OG_AUTH_HTPASSWD : OG_AUTH_ANONYMOUS;
    id->groups = in->groups;
    id->ngroups = in->ngroups;
    memset(&facts, 0, sizeof(facts));
    memset(&q, 0, sizeof(q));
    for (size_t i = 0; i < route->ntags && i < OG_MAX_TAGS; i++) {
        facts.tag[i] = OG_TAG_ABSENT;
        for (size_t j = 0; j < in->nexisting; j++)
            if (strcmp(in->existing[j], route->tags[i]) == 0)
                facts.tag[i] = OG_TAG_EXISTS;
        for (size_t j = 0; j < in->nclaimed; j++)
            if (strcmp(in->claimed[j], route->tags[i]) == 0)
                q.lost_claims |= 1u << i;
    }
    facts.digest_tags_known = true;
    facts.digest_tag = in->digest_tag;

    q.route = route;
    q.has_authorization = named;      /* the server challenges a /v2/ without any */
    q.holds_claims = in->holds_claims;
    q.id = id;
    q.env = in->env;
    /* as the server does: the facts only when the decision asks for them
       (an admin's PUT is an update whether the tag exists or not) */
    og_policy_evaluate(cfg, &q, out);
    if (out->need == OG_NEED_TAG_STATE || out->need == OG_NEED_DIGEST_TAGS) {
        q.facts = &facts;
        og_policy_evaluate(cfg, &q, out);
    }
}

static void print_outcome(const struct og_route *route, const struct og_outcome *o)
{
    if (o->status == 200)
        printf("allow\n");
    else
        printf("deny %d\n", o->status ? o->status : 503);
    printf("repository: %s\n", route->repo);
    printf("action: %s\n", o->action ? og_action_name(o->action) : "none");
    printf("rule: %s\n", o->rule);
    printf("reason: %s\n", o->reason);
    if (o->challenge)
        printf("note: a client sending \"Basic Og==\" is anonymous instead\n");
    if (o->tag)
        printf("tag: %s\n", o->tag);
    if (o->condition) {
        printf("condition: %s\n", o->condition);
        if (o->condition_message)
            printf("condition message: %s\n", o->condition_message);
        else if (o->condition_error)
            printf("condition error: it could not be evaluated (an absent key, a wrong type...)\n");
        else if (o->status == 200)
            printf("condition result: all conditions of this entry hold\n");
    }
    if (o->status == 200 && o->claim) {
        printf("claim:");
        for (size_t i = 0; i < route->ntags; i++)
            if (o->claim & (1u << i))
                printf(" %s:%s", route->repo, route->tags[i]);
        printf(" (claimed in Redis first; a push that finds it held is an update)\n");
    }
}

/* The command line -> what explain is told. -1 go on; else the exit status. */
static struct og_request_env env;
static json_t *claims;

/* --claim K=V: V as JSON when it parses, else as a string. */
static int add_claim(const char *kv)
{
    const char *eq = strchr(kv, '=');
    json_t *v;

    if (!eq || eq == kv) {
        fprintf(stderr, "ocigate explain: --claim wants KEY=VALUE\n");
        return 2;
    }
    if (!claims && !(claims = json_object()))
        return 2;
    v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_string(eq + 1);
    if (!v || json_object_setn_new(claims, kv, (size_t)(eq - kv), v) != 0) {
        fprintf(stderr, "ocigate explain: --claim %s: not a valid claim\n", kv);
        return 2;
    }
    return -1;
}

static int parse_args(int argc, char **argv, struct og_explain_input *in, const char **config)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "user", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "existing-tag", required_argument, NULL, 't' },
        { "claimed-tag", required_argument, NULL, 'C' },
        { "digest-tag", required_argument, NULL, 'd' },
        { "claim", required_argument, NULL, 'K' },
        { "client-ip", required_argument, NULL, 'I' },
        { "user-agent", required_argument, NULL, 'A' },
        { "forwarded-for", required_argument, NULL, 'F' },
        { "tls-version", required_argument, NULL, 'T' },
        { "time", required_argument, NULL, 'W' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *groups[MAX_GROUPS], *existing[OG_MAX_TAGS * 4], *claimed[OG_MAX_TAGS * 4];
    int c;

    in->groups = groups;
    in->existing = existing;
    in->claimed = claimed;
    memset(&env, 0, sizeof env);
    claims = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': *config = optarg; break;
        case 'u': in->user = optarg; break;
        case 'g':
            if (in->ngroups == MAX_GROUPS) {
                fprintf(stderr, "ocigate explain: too many --group options\n");
                return 2;
            }
            groups[in->ngroups++] = optarg;
            break;
        case 't':
            if (in->nexisting == sizeof(existing) / sizeof(existing[0])) {
                fprintf(stderr, "ocigate explain: too many --existing-tag options\n");
                return 2;
            }
            existing[in->nexisting++] = optarg;
            break;
        case 'C':
            if (in->nclaimed == sizeof(claimed) / sizeof(claimed[0])) {
                fprintf(stderr, "ocigate explain: too many --claimed-tag options\n");
                return 2;
            }
            claimed[in->nclaimed++] = optarg;
            break;
        case 'd': in->digest_tag = optarg; break;
        case 'K':
            if ((c = add_claim(optarg)) >= 0)
                return c;
            break;
        case 'I': env.client_ip = optarg; break;
        case 'A': env.user_agent = optarg; break;
        case 'F': env.forwarded_for = optarg; break;
        case 'T': env.tls = true; env.tls_version = optarg; break;
        case 'W': {
            int64_t sec;
            int32_t nsec;
            if (!og_cel_parse_timestamp(optarg, strlen(optarg), &sec, &nsec)) {
                fprintf(stderr, "ocigate explain: --time %s: not an RFC 3339 timestamp\n", optarg);
                return 2;
            }
            env.time_s = sec;
            env.time_ns = nsec;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    in->method = argv[optind];
    in->uri = argv[optind + 1];
    if (!env.client_ip)
        env.client_ip = "127.0.0.1";
    if (!env.tls_version)
        env.tls_version = "";
    if (!env.time_s && !env.time_ns) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        env.time_s = now.tv_sec;
        env.time_ns = (int)now.tv_nsec;
    }
    env.claims = claims;
    in->env = &env;
    return -1;
}

int og_cmd_explain(int argc, char **argv)
{
    struct og_explain_input in = { .holds_claims = true };  /* the manifest route's view */
    const char *config = NULL;
    struct og_config *cfg;
    struct og_route route;
    struct og_identity id;
    struct og_outcome out;
    char err[1024];
    int rc = parse_args(argc, argv, &in, &config);

    if (rc >= 0) {
        json_decref(claims);
        return rc;
    }
    cfg = og_config_load(og_default_config_path(config), err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        json_decref(claims);
        return 2;
    }
    og_explain_evaluate(cfg, &in, &route, &id, &out);
    print_outcome(&route, &out);
    printf("user: %s\n", in.user && *in.user ? in.user : "(anonymous)");
    print_groups(cfg, &id);
    og_config_free(cfg);
    json_decref(claims);
    claims = NULL;
    return out.status == 200 ? 0 : 1;
}
