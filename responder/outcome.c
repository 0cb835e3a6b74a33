/*
 * outcome.c - the one outcome -> the answer and the log line (outcome.h).
 */
#include "outcome.h"

#include "action.h"

void og_answer_from_outcome(struct og_answer *a, const struct og_outcome *o,
                            const struct og_identity *id)
{
    a->status = o->status ? o->status : 503;
    if (a->status == 200)
        return;
    a->action = o->action ? og_action_name(o->action) : NULL;
    a->repository = o->repository;
    a->rule = o->rule;
    a->reason = o->reason;
    a->code = o->error_code;
    a->tag = o->tag;
    a->insufficient_scope = o->insufficient_scope;
    a->scope_type = o->scope_type;
    a->scope_name = o->scope_name;
    a->scope_actions = o->scope_actions;
    if (o->condition_message && o->condition_message[0]) {
        a->reason = o->condition_message;   /* zot: the condition's message is the reason */
        a->condition_denied = 1;
    }
    og_answer_about(a, id, o->repository);
}

void og_log_from_outcome(struct og_log_decision *l, const struct og_outcome *o)
{
    l->status = o->status ? o->status : 503;
    l->repository = o->repository;
    l->action = o->action ? og_action_name(o->action) : "";
    l->rule = o->rule;
    l->reason = o->condition_message && o->condition_message[0] ? o->condition_message
                                                                 : o->reason;
    l->tag = o->tag;
    l->condition = o->condition;
}
