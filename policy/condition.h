/*
 * condition.h - accessControl conditions: zot's `req` map over a decision's
 * facts, and the evaluation of one entry's conditions (doc/decisions.md).
 *
 * Pure: the activation is built on the stack from the identity, its request
 * environment and the check at hand (action, repository, reference); the
 * evaluation uses a stack scratch and allocates nothing. Called only for
 * entries that carry conditions, so an entry without any costs nothing.
 */
#ifndef OCIGATE_POLICY_CONDITION_H
#define OCIGATE_POLICY_CONDITION_H

#include <stdbool.h>
#include <stddef.h>

#include "cel.h"
#include "decide.h"

/* The declarations conditions compile against (req.method ... req.claims). */
extern const struct og_cel_decl og_condition_decls[];
extern const size_t og_condition_ndecls;

/* One check's view: what varies between the checks of one request. */
struct og_condition_check {
    const char *method;            /* "GET", ... */
    unsigned action;               /* OG_ACT_* being checked */
    const char *repo;
    size_t repo_len;
    const char *reference;         /* tag or digest; NULL or "" for none */
};

enum og_condition_result { OG_COND_HOLD = 0, OG_COND_FALSE, OG_COND_ERROR };

/* Do all of e's conditions hold? On FALSE or ERROR *failed is the index of
   the condition that did not hold. */
enum og_condition_result og_conditions_eval(const struct og_config *cfg,
                                            const struct og_policy_entry *e,
                                            const struct og_identity *id,
                                            const struct og_condition_check *c,
                                            size_t *failed);

#endif
