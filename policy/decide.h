/*
 * decide.h - may this identity do this operation? zot's rule, made exact.
 *
 * The decision of doc/decisions.md over a classified route, an identity and the
 * facts the responder gathered (does each written tag exist?). Pure: no I/O,
 * no allocation. When the answer depends on a fact the caller has not
 * supplied (a tag state left OG_TAG_UNKNOWN), og_decide() says so in
 * out->need instead of guessing, so the responder asks the registry only
 * when it matters (an admin with update needs no HEAD). Callers use
 * og_policy_evaluate() (evaluate.h), which runs this protocol around it.
 */
#ifndef OCIGATE_POLICY_DECIDE_H
#define OCIGATE_POLICY_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "action.h"
#include "config.h"
#include "route.h"

struct json_t;

/*
 * What accessControl conditions read beyond the route and the identity
 * (the `req` map of doc/decisions.md). The responder fills it from the
 * request; explain from its options. Strings are NUL-terminated unless a
 * length is given; NULL reads as "".
 */
struct og_request_env {
    const char *user_agent;          /* User-Agent */
    const char *client_ip;           /* the peer address the web server reports */
    const char *forwarded_for;       /* X-Forwarded-For as sent (a list; untrusted) */
    bool tls;                        /* HTTPS */
    const char *tls_version;         /* e.g. "TLSv1.3", "" when unknown */
    long long time_s;                /* the request's time, UTC seconds... */
    int time_ns;                     /* ...and nanoseconds */
    const struct json_t *claims;     /* the OpenID token's claims (an object), NULL: {} */
};

enum og_auth {
    OG_AUTH_ANONYMOUS = 0, OG_AUTH_HTPASSWD, OG_AUTH_APIKEY, OG_AUTH_OPENID,
};
const char *og_auth_name(enum og_auth a); /* "anonymous", "htpasswd", "apikey", "openid" */

/*
 * One entry of an ocigate token's "access" list, as the registry token
 * protocol writes it ({"type","name","actions"}): pull is read, push is
 * create and update, delete is delete, "*" is all of them. A catalog entry
 * (type "registry", name "catalog") grants listing the catalog.
 */
struct og_token_access {
    const char *name;             /* repository name (exact); unused for the catalog */
    size_t name_len;
    bool catalog;                 /* registry:catalog:* */
    unsigned actions;             /* OG_ACT_* mask */
};

struct og_identity {
    const char *user;             /* NULL or "" = anonymous */
    enum og_auth auth;
    const char *const *groups;    /* groups carried by the credential (JWT, key) */
    size_t ngroups;               /* config groups containing user are added by og_decide */
    const struct og_glob *const *scopes; /* API key repository scopes; none = all */
    size_t nscopes;
    /* An ocigate token: the request is allowed at most what its access list
       grants, and only what the live policy grants as well. false for every
       other credential (no list to apply). */
    bool token;
    const struct og_token_access *access;
    size_t naccess;
    /* The request, for accessControl conditions. NULL: conditions are not
       evaluated and count as holding (zot's catalog filter; the token
       endpoint, whose grants every request meets again). og_policy_evaluate
       always supplies one, so every request decision evaluates them. */
    const struct og_request_env *env;
};

enum og_tag_state { OG_TAG_UNKNOWN = 0, OG_TAG_ABSENT, OG_TAG_EXISTS };

struct og_facts {
    enum og_tag_state tag[OG_MAX_TAGS]; /* one per route->tags[i] */
    /* DELETE of a manifest by digest in a repository an immutableTags rule
       covers: the responder lists the repository's tags, resolves those a
       rule matches, and reports the first that points at the digest. */
    bool digest_tags_known;
    const char *digest_tag;              /* NULL: no protected tag points at it */
    bool digest_in_index;                /* digest_tag points at an index that
                                            lists the digest (not at it directly) */
};

/* What a decision still needs; OG_NEED_IDENTITY only from og_policy_evaluate(). */
enum og_need { OG_NEED_NOTHING = 0, OG_NEED_TAG_STATE, OG_NEED_DIGEST_TAGS, OG_NEED_IDENTITY };

struct og_decision {
    int status;            /* 200 allow; 400, 401, 403, 404, 405 or 503 */
    enum og_need need;     /* != NOTHING: supply the facts and decide again */
    unsigned action;       /* the action that decided (for update: OG_ACT_UPDATE) */
    const char *rule;      /* what decided: a pattern, "adminPolicy", "metrics",
                              an immutability rule's text, "route", "none"; never NULL */
    const char *reason;    /* short static explanation; never NULL */
    const char *tag;       /* the tag concerned for manifest writes, or NULL */
    /* 401 because an ocigate token lacks the scope while the live policy
       would allow: the challenge names the scope to ask the token endpoint
       for (scope_type:scope_name:scope_actions), error="insufficient_scope". */
    bool insufficient_scope;
    const char *scope_type;   /* "repository" or "registry" */
    const char *scope_name;   /* the repository (NUL-terminated), or "catalog" */
    const char *scope_actions; /* "pull", "pull,push", "delete" or "*" */
    /* The condition that decided, if one did: on a denial the first false
       (or failing) condition of an entry that matched otherwise; on an allow
       the entry (with conditions) that granted. Its JSON path, or NULL. */
    const char *condition;
    const char *condition_message;  /* a false condition's message (the 403's reason),
                                       NULL when no condition denied or it failed */
    bool condition_error;           /* the condition could not be evaluated (denies) */
    unsigned claim;        /* allowed manifest PUT: bit i set = route->tags[i] is a
                              create by an identity that could not update it (no
                              grant, or an immutability rule), so the responder must
                              claim it in Redis first (doc/redis.md); 0 otherwise */
};

/*
 * Decide one request. f may be NULL (no facts known). For OG_R_OUTSIDE
 * routes, a path equal to "/metrics" or cfg->endpoint_metrics is decided by
 * accessControl.metrics; any other outside path is 404.
 */
void og_decide(const struct og_config *cfg, const struct og_route *r,
               const struct og_identity *id, const struct og_facts *f,
               struct og_decision *out);

/*
 * Where ocigate only decides and the web server forwards the write (the
 * AUTHORIZER role, nginx auth_request, Caddy forward_auth), ocigate never
 * sees the write end, so it cannot hold a tag's claim for exactly as long as
 * the write is in flight. A manifest PUT whose allow depends on a claim
 * (out->claim != 0) is therefore refused there (403, saying that the
 * deployment must route manifest writes to ocigate); every other decision
 * is left as it is. Call after the final og_decide(); og_policy_evaluate()
 * (evaluate.h) does, for a query that cannot hold claims.
 */
void og_decide_without_claims(struct og_decision *out);

/* The identity's groups as the decision sees them: the credential's own,
   then the config groups that list the user (deviation 3), without
   duplicates; none for anonymous. Fills out[0..max) and returns the count. */
size_t og_effective_groups(const struct og_config *cfg, const struct og_identity *id,
                           const char **out, size_t max);

/* Is the identity named in adminPolicy (by user or group)? */
bool og_is_admin(const struct og_config *cfg, const struct og_identity *id);

/* The first immutableTags rule covering repo:tag, or NULL. */
const struct og_immutable_rule *og_immutable_rule_for(const struct og_config *cfg,
                                                      const char *repo, size_t repo_len,
                                                      const char *tag);

/* The repository rule that decides for repo: the longest matching pattern
   (equal lengths: the lexicographically smaller), or NULL (adminPolicy
   only). Through the config's index: only rules that can match are tried. */
const struct og_repo_rule *og_rule_for(const struct og_config *cfg, const char *repo, size_t len);

/* The first pattern (or "adminPolicy") that grants the anonymous identity
   something, or NULL: what an anonymous ping is answered on. Scans every
   rule; the config keeps its answer at load (og_config.open_to_anonymous). */
const char *og_open_to_anonymous(const struct og_config *cfg);

/* At load: what the catalog's check and og_scope_within_reach need to know
   of the rules without scanning them per request (og_config.rules_prepared
   and the fields after it). false when out of memory. */
bool og_policy_prepare(struct og_config *cfg);

/* Does any immutableTags rule cover this repository (for some tag)? */
bool og_repo_has_immutable_rules(const struct og_config *cfg, const char *repo, size_t repo_len);

/* Does the identity's token (if any) grant action on repo? true when the
   identity is no token. */
bool og_token_grants(const struct og_identity *id, unsigned action,
                     const char *repo, size_t repo_len);
/* Does the identity's token (if any) grant registry:catalog:*? */
bool og_token_grants_catalog(const struct og_identity *id);

/* May an API key made by this identity carry the repository scope
   glob[0..len)? Yes for an admin (adminPolicy grants read); for a name
   without glob characters, when the identity may read that repository; for
   a glob, when a repository pattern under which the identity has read
   (its user, a group, or defaultPolicy) covers it: the same pattern, "**",
   or "P/STARSTAR" (P without glob characters) and a glob that is P or
   begins with "P/". Policies of longer patterns still apply when the key
   is used. Pure; no allocation. */
bool og_scope_within_reach(const struct og_config *cfg, const struct og_identity *id,
                           const char *glob, size_t len);

/* zot's can(): the access check alone for one action on one repository
   (no route, no immutability), e.g. for filtering the catalog. */
bool og_can(const struct og_config *cfg, const struct og_identity *id,
            unsigned action, const char *repo, size_t repo_len, const char **rule);

#endif
