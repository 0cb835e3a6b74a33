/*
 * evaluate.c - one request, route to outcome, on what the caller gathered
 * (see evaluate.h). The order is the order of the request path: refusals
 * the route alone decides, the CORS preflight, the /v2/ challenge, then
 * the identity, the facts, the lost claims and the deployment's ability to
 * hold a claim. Every literal a caller used to write is here, once.
 */
#include "evaluate.h"

#include <string.h>

static void set(struct og_outcome *out, int status, const char *rule, const char *reason)
{
    out->status = status;
    out->rule = rule;
    out->reason = reason;
}

static void from_decision(struct og_outcome *out, const struct og_decision *d)
{
    out->status = d->status;
    out->need = d->need;
    out->action = d->action;
    out->tag = d->tag;
    out->rule = d->rule ? d->rule : "none";
    out->reason = d->reason ? d->reason : "";
    out->claim = d->claim;
    out->insufficient_scope = d->insufficient_scope;
    out->scope_type = d->scope_type;
    out->scope_name = d->scope_name;
    out->scope_actions = d->scope_actions;
    out->condition = d->condition;
    out->condition_message = d->condition_message;
    out->condition_error = d->condition_error;
    if (out->need != OG_NEED_NOTHING)
        out->status = 503;              /* undecided is never an allow */
}

bool og_challenges_anonymous(const struct og_config *cfg, const struct og_route *r)
{
    if (!cfg->challenge_anonymous || cfg->challenge != OG_CHALLENGE_BEARER || !cfg->token_realm)
        return false;
    switch (r->kind) {
    case OG_R_PING:
    case OG_R_CATALOG:
    case OG_R_TAGS_LIST:
    case OG_R_MANIFEST:
    case OG_R_BLOB:
    case OG_R_UPLOAD_START:
    case OG_R_UPLOAD:
    case OG_R_REFERRERS:
        return r->status == 0;
    default:
        return false;
    }
}

void og_policy_evaluate(const struct og_config *cfg, const struct og_query *q,
                        struct og_outcome *out)
{
    const struct og_route *r = q->route;
    struct og_facts facts;
    struct og_decision d;
    unsigned lost;

    memset(out, 0, sizeof(*out));
    out->repository = r->repo;
    set(out, 503, "none", "");

    if (r->status) {
        set(out, r->status, "route", r->reason ? r->reason : "refused");
        out->error_code = r->error_code;
        return;
    }
    if (r->kind == OG_R_OPTIONS) {
        set(out, 200, "route", "CORS preflight");
        return;
    }
    if (r->kind == OG_R_PING && !q->has_authorization) {
        /* Clients learn how to authenticate from this answer only. */
        set(out, 401, "challenge", "no credentials on /v2/: challenge");
        out->challenge = true;
        return;
    }
    if (!q->has_authorization && og_challenges_anonymous(cfg, r)) {
        /* Clients that send credentials only after a challenge (containerd
           pushing) fetch a token before their first request; anonymous
           ones get an anonymous token, which grants what anonymousPolicy
           allows. */
        set(out, 401, "challenge", "no credentials: token.challengeAnonymous asks for a token first");
        out->challenge = true;
        return;
    }
    if (!q->id) {
        out->need = OG_NEED_IDENTITY;
        return;
    }

    memset(&facts, 0, sizeof(facts));
    if (q->facts)
        facts = *q->facts;
    /* Conditions judge this request: the identity carries its environment. */
    const struct og_identity *id = q->id;
    struct og_identity with_env;
    if (cfg->has_conditions) {
        static const struct og_request_env empty;
        with_env = *q->id;
        with_env.env = q->env ? q->env : &empty;
        id = &with_env;
    }
    og_decide(cfg, r, id, &facts, &d);

    /* A claim lost to a concurrent push: the tag exists for this push, so
       its create is an update, decided again. */
    lost = d.status == 200 ? q->lost_claims & d.claim : 0;
    if (lost) {
        for (size_t i = 0; i < r->ntags && i < OG_MAX_TAGS; i++)
            if (lost & (1u << i))
                facts.tag[i] = OG_TAG_EXISTS;
        og_decide(cfg, r, id, &facts, &d);
        from_decision(out, &d);
        if (out->status == 200)         /* cannot happen: an update of a claimed tag */
            set(out, 503, "claim", "decision incomplete");
        else if (out->need == OG_NEED_NOTHING)
            out->reason = "a concurrent push claimed or created the tag: this one is an update";
        out->claim = 0;
        return;
    }
    if (!q->holds_claims && d.need == OG_NEED_NOTHING)
        og_decide_without_claims(&d);
    from_decision(out, &d);
}

void og_outcome_refuse(struct og_outcome *out, int status, const char *rule, const char *reason)
{
    if (status != out->status) {        /* a token's missing scope is no longer the cause */
        out->insufficient_scope = false;
        out->scope_type = out->scope_name = out->scope_actions = NULL;
    }
    out->status = status;
    out->need = OG_NEED_NOTHING;
    out->error_code = NULL;
    out->claim = 0;
    out->challenge = false;
    if (rule)
        out->rule = rule;
    if (reason)
        out->reason = reason;
}
