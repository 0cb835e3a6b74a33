/*
 * commands.h - the operator subcommands other than serve.
 */
#ifndef OCIGATE_COMMANDS_H
#define OCIGATE_COMMANDS_H

/* Each returns the process exit status. argv[0] is the subcommand name. */
int og_cmd_explain(int argc, char **argv);
int og_cmd_check(int argc, char **argv);
int og_cmd_key(int argc, char **argv);        /* key create|list|show|revoke */
int og_cmd_token_key(int argc, char **argv);  /* token-key generate */
int og_cmd_session_key(int argc, char **argv); /* session-key generate */
int og_cmd_tag(int argc, char **argv);        /* tag claims|unclaim */

#include <stdbool.h>
#include <stddef.h>

#include "evaluate.h"

/* What `ocigate explain` is told instead of asking anyone. */
struct og_explain_input {
    const char *method, *uri;
    const char *user;                 /* NULL or "": anonymous, no Authorization */
    const char *const *groups;        /* groups the credential carries */
    size_t ngroups;
    const char *const *existing;      /* tags that exist in the repository */
    size_t nexisting;
    const char *const *claimed;       /* new tags another push holds the claim on */
    size_t nclaimed;
    const char *digest_tag;           /* DELETE by digest: the protected tag pointing at it */
    bool holds_claims;                /* the manifest-write transaction's view (the command
                                         line); false: a door that cannot hold a claim */
    const struct og_request_env *env; /* what conditions read (--claim, --client-ip...);
                                         NULL: an empty request */
};

/* explain's decision: the facts given, og_policy_evaluate() as `serve`
   calls it. route, id (pointing into in) and out are filled. */
void og_explain_evaluate(const struct og_config *cfg, const struct og_explain_input *in,
                         struct og_route *route, struct og_identity *id,
                         struct og_outcome *out);

/* -c FILE, else $OCIGATE_CONFIG, else /etc/ocigate/ocigate.json */
const char *og_default_config_path(const char *given);

#endif
