/*
 * explain_cmd.c - `ocigate explain`: the full decision for one request, offline.
 *
 * The identity is given (--user, --group; none = anonymous), existing tags
 * are given (--existing-tag), and nothing is contacted: it is policy/
 * without a web server. The output is a contract (ocigate(8)):
 *   line 1: "allow" or "deny STATUS"; then "key: value" lines.
 * Exit status 0 allow, 1 deny, 2 bad usage or bad config.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "decide.h"

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

int og_cmd_explain(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "user", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "existing-tag", required_argument, NULL, 't' },
        { "claimed-tag", required_argument, NULL, 'C' },
        { "digest-tag", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *user = NULL;
    const char *groups[MAX_GROUPS];
    const char *existing[OG_MAX_TAGS * 4], *claimed[OG_MAX_TAGS * 4], *digest_tag = NULL;
    size_t ngroups = 0, nexisting = 0, nclaimed = 0;
    struct og_config *cfg;
    struct og_route route;
    struct og_identity id;
    struct og_facts facts;
    struct og_decision dec;
    char err[1024];
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'u': user = optarg; break;
        case 'g':
            if (ngroups == MAX_GROUPS) {
                fprintf(stderr, "ocigate explain: too many --group options\n");
                return 2;
            }
            groups[ngroups++] = optarg;
            break;
        case 't':
            if (nexisting == sizeof(existing) / sizeof(existing[0])) {
                fprintf(stderr, "ocigate explain: too many --existing-tag options\n");
                return 2;
            }
            existing[nexisting++] = optarg;
            break;
        case 'C':
            if (nclaimed == sizeof(claimed) / sizeof(claimed[0])) {
                fprintf(stderr, "ocigate explain: too many --claimed-tag options\n");
                return 2;
            }
            claimed[nclaimed++] = optarg;
            break;
        case 'd': digest_tag = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    cfg = og_config_load(og_default_config_path(config), err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    og_route_classify(argv[optind], strlen(argv[optind]), argv[optind + 1],
                      strlen(argv[optind + 1]), NULL, 0, &route);
    memset(&id, 0, sizeof(id));
    id.user = user;
    id.auth = user && *user ? OG_AUTH_HTPASSWD : OG_AUTH_ANONYMOUS;
    id.groups = groups;
    id.ngroups = ngroups;
    memset(&facts, 0, sizeof(facts));
    for (size_t i = 0; i < route.ntags; i++) {
        facts.tag[i] = OG_TAG_ABSENT;
        for (size_t j = 0; j < nexisting; j++)
            if (strcmp(existing[j], route.tags[i]) == 0)
                facts.tag[i] = OG_TAG_EXISTS;
    }

    facts.digest_tags_known = true;
    facts.digest_tag = digest_tag;

    if (route.status == 0 && route.kind == OG_R_PING && !(user && *user)) {
        /* The server challenges a /v2/ ping that carries no Authorization at all. */
        memset(&dec, 0, sizeof(dec));
        dec.status = 401;
        dec.rule = "challenge";
        dec.reason = "no credentials on /v2/: challenge (a client sending \"Basic Og==\" "
                     "is anonymous instead)";
    } else {
        og_decide(cfg, &route, &id, &facts, &dec);
        /* the server claims new tags in Redis; a claim held by another push
           turns the create into an update, decided again */
        if (dec.status == 200 && dec.claim) {
            bool lost = false;
            for (size_t i = 0; i < route.ntags; i++)
                for (size_t j = 0; j < nclaimed; j++)
                    if ((dec.claim & (1u << i)) && strcmp(claimed[j], route.tags[i]) == 0) {
                        facts.tag[i] = OG_TAG_EXISTS;
                        lost = true;
                    }
            if (lost) {
                og_decide(cfg, &route, &id, &facts, &dec);
                if (dec.status != 200)
                    dec.reason = "tag claimed by a concurrent push: this one is an update";
            }
        }
    }

    if (dec.status == 200)
        printf("allow\n");
    else
        printf("deny %d\n", dec.status ? dec.status : 503);
    printf("repository: %s\n", route.repo);
    printf("action: %s\n", dec.action ? og_action_name(dec.action) : "none");
    printf("rule: %s\n", dec.rule ? dec.rule : "none");
    printf("reason: %s\n", dec.reason ? dec.reason : "");
    if (dec.tag)
        printf("tag: %s\n", dec.tag);
    if (dec.status == 200 && dec.claim) {
        printf("claim:");
        for (size_t i = 0; i < route.ntags; i++)
            if (dec.claim & (1u << i))
                printf(" %s:%s", route.repo, route.tags[i]);
        printf(" (claimed in Redis first; a push that finds it held is an update)\n");
    }
    printf("user: %s\n", user && *user ? user : "(anonymous)");
    print_groups(cfg, &id);
    og_config_free(cfg);
    return dec.status == 200 ? 0 : 1;
}
