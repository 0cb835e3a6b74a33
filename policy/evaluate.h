/*
 * evaluate.h - the one decision entry point that `serve` and `explain` share.
 *
 * og_decide() answers one question on the facts it is given; a request
 * needs a few more around it: a route refused before anyone is asked, the
 * CORS preflight, the /v2/ ping that carries no credentials (challenged),
 * the identity (gathered by the caller), the facts the decision asks for
 * (does a tag exist? which protected tags point at a digest?), the
 * re-decision after a tag's claim was lost to a concurrent push, and the
 * refusal of a claimed write where the caller cannot hold a claim.
 * og_policy_evaluate() takes all of it in one query and answers with one
 * outcome. When the outcome says it needs something (out->need), the caller
 * gathers it, adds it to the query and calls again:
 *
 *   q = { route, has_authorization, holds_claims };  evaluate(q) -> NEED_IDENTITY
 *   q.id = &id;                                      evaluate(q) -> NEED_TAG_STATE?
 *   q.facts = &facts (gathered);                     evaluate(q) -> final outcome
 *   (manifest write) q.lost_claims = held tags;      evaluate(q) -> a denial
 *
 * An outcome that still needs something is never an allow (status 503), so
 * a caller that stops early fails closed. Pure: no I/O, no allocation.
 */
#ifndef OCIGATE_POLICY_EVALUATE_H
#define OCIGATE_POLICY_EVALUATE_H

#include <stdbool.h>

#include "decide.h"

/* The request as the decision sees it, plus what the caller gathered. */
struct og_query {
    const struct og_route *route;  /* classified (og_route_classify) */
    bool has_authorization;        /* an Authorization header was sent at all */
    bool holds_claims;             /* the caller can claim tags in Redis and hold the claim
                                      while the write is in flight (the manifest-write
                                      transaction, and explain); false: a write that needs
                                      a claim is refused (og_decide_without_claims) */
    const struct og_identity *id;  /* NULL: not established yet */
    const struct og_facts *facts;  /* NULL: none gathered yet */
    unsigned lost_claims;          /* bit i: the claim on route->tags[i] was held by another
                                      push, or the tag appeared after the claim */
    const struct og_request_env *env; /* what accessControl conditions read (user agent,
                                      client address, TLS, time, token claims); NULL: an
                                      empty one (conditions are still evaluated) */
};

/* The one answer: what the response and the log line both read. */
struct og_outcome {
    int status;                /* 200 allow; 4xx/5xx deny; 503 while need != NOTHING */
    enum og_need need;         /* != NOTHING: gather it, add it to the query, call again */
    unsigned action;           /* OG_ACT_* that decided; OG_ACT_NONE before the decision */
    const char *repository;    /* the route's repository ("" for none); never NULL */
    const char *tag;           /* the tag concerned, or NULL */
    const char *rule;          /* what decided ("route", "challenge", a pattern...); never NULL */
    const char *reason;        /* short static explanation; never NULL */
    const char *error_code;    /* the OCI error code where the status alone does not say
                                  it (a route's, e.g. "MANIFEST_UNKNOWN"), else NULL */
    unsigned claim;            /* allow: bit i = claim route->tags[i] before the write */
    bool challenge;            /* 401 asking for credentials (no Authorization on /v2/) */
    bool insufficient_scope;   /* see struct og_decision */
    const char *scope_type, *scope_name, *scope_actions;
    const char *condition;         /* the condition (or conditional entry) that decided:
                                      its JSON path, or NULL (struct og_decision) */
    const char *condition_message; /* a false condition's message: the 403's reason */
    bool condition_error;          /* a condition failed to evaluate (denied) */
};

void og_policy_evaluate(const struct og_config *cfg, const struct og_query *q,
                        struct og_outcome *out);

/* token.challengeAnonymous: is route r, sent without any Authorization
   header, answered with the 401 Bearer challenge whatever anonymous clients
   may do? True only in bearer mode with a token realm, for the registry's
   own routes (/v2/ and below; not OPTIONS, not paths outside /v2). */
bool og_challenges_anonymous(const struct og_config *cfg, const struct og_route *r);

/* A refusal the caller found on its own way (bad credentials, a backend
   that could not answer, a body too large...): status, rule and reason
   replace the decision's, the rest (action, tag, scope) is kept. */
void og_outcome_refuse(struct og_outcome *out, int status, const char *rule,
                       const char *reason);

#endif
