/*
 * outcome.h - the one outcome of a request (policy/evaluate.h) -> the
 * answer's fields and the log line's fields, each filled in one place, so
 * that what the client reads and what the log says cannot differ.
 */
#ifndef OCIGATE_OUTCOME_H
#define OCIGATE_OUTCOME_H

#include "evaluate.h"
#include "log.h"
#include "response.h"

/* The status, and for a denial its detail (action, repository, rule, reason,
   tag, the missing scope) and who asked (id: NULL when none established). */
void og_answer_from_outcome(struct og_answer *a, const struct og_outcome *o,
                            const struct og_identity *id);

/* status, repository, action, rule, reason and tag of the log line. */
void og_log_from_outcome(struct og_log_decision *l, const struct og_outcome *o);

#endif
