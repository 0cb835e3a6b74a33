/*
 * facts.c - the facts a decision asks for, from the registry: does each
 * written tag exist (a HEAD per tag, a few brief retries on a 5xx), and
 * which tag an immutableTags rule covers points at a digest being deleted
 * (list the repository's tags, resolve the covered ones, bounded). An
 * unsure registry is a 503, never a guess.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evaluate.h"
#include "handle.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "route.h"

/* Facts: ask the registry about every tag whose state the decision needs. */
bool og_gather_tag_facts(struct og_worker_state *w, const struct og_route *route,
                             struct og_facts *facts)
{
    for (size_t i = 0; i < route->ntags; i++) {
        long http = 0;
        if (facts->tag[i] != OG_TAG_UNKNOWN)
            continue;
        enum og_reg_answer a = og_registry_tag_exists(w->registry, route->repo, route->tags[i],
                                                      &http);
        /* A registry that is writing this tag right now may fail to read it
           back (distribution's filesystem driver rewrites link files in
           place: a HEAD racing a PUT of the same tag gets a 500 now and then).
           Ask again a few times, briefly, before giving up with a 503. */
        for (int retry = 1; a == OG_REG_ERROR && http >= 500 && retry <= 3; retry++) {
            struct timespec ts = { 0, retry * 25 * 1000 * 1000L };
            nanosleep(&ts, NULL);
            a = og_registry_tag_exists(w->registry, route->repo, route->tags[i], &http);
        }
        switch (a) {
        case OG_REG_EXISTS: facts->tag[i] = OG_TAG_EXISTS; break;
        case OG_REG_ABSENT: facts->tag[i] = OG_TAG_ABSENT; break;
        default:
            og_log(OG_LOG_WARN, "registry: HEAD %s:%s failed (HTTP %ld)", route->repo,
                   route->tags[i], http);
            og_metrics_backend_error(OG_BACKEND_REGISTRY);
            return false;
        }
    }
    return true;
}

/* Facts for a delete by digest: the first tag an immutableTags rule covers
   that points at the digest. Deletes are rare: list and resolve, bounded. */
struct digest_walk {
    struct og_worker_state *w;
    const struct og_route *route;
    char *found;          /* out: the protecting tag */
    size_t found_cap;
    int resolved;
    int error;
    int via_index;        /* out: found points at an index listing the digest */
};

#define MAX_RESOLVED_TAGS 256

static int check_tag_for_digest(const char *tag, size_t len, void *arg)
{
    struct digest_walk *dw = arg;
    char t[OG_TAG_MAX + 1];

    if (len > OG_TAG_MAX || !og_valid_tag(tag, len))
        return 0;
    memcpy(t, tag, len);
    t[len] = '\0';
    if (!og_immutable_rule_for(dw->w->cfg, dw->route->repo, dw->route->repo_len, t))
        return 0;
    if (++dw->resolved > MAX_RESOLVED_TAGS) {
        dw->error = 1;                      /* too many to check: fail closed */
        return 1;
    }
    switch (og_registry_tag_covers(dw->w->registry, dw->route->repo, t, dw->route->reference,
                                   &dw->via_index)) {
    case OG_REG_EXISTS:             /* the tag points at it, or at an index listing it */
        snprintf(dw->found, dw->found_cap, "%s", t);
        return 1;
    case OG_REG_ABSENT:
        return 0;                           /* deleted meanwhile */
    default:
        dw->error = 1;
        return 1;
    }
}

static bool gather_digest_facts(struct og_worker_state *w, const struct og_route *route,
                                struct og_facts *facts, char *found, size_t cap)
{
    struct digest_walk dw = { w, route, found, cap, 0, 0, 0 };

    found[0] = '\0';
    if (og_registry_list_tags(w->registry, route->repo, check_tag_for_digest, &dw) != 0 || dw.error) {
        og_metrics_backend_error(OG_BACKEND_REGISTRY);
        return false;
    }
    facts->digest_tags_known = true;
    facts->digest_tag = found[0] ? found : NULL;
    facts->digest_in_index = found[0] && dw.via_index;
    return true;
}

/* Gather what the outcome says it needs, and decide again, until it needs
   nothing more (at most twice: the decision asks for one kind of fact). */
bool og_gather_facts(struct og_worker_state *w, struct og_query *q, struct og_facts *facts,
                     char *digest_tag, size_t cap, struct og_outcome *out)
{
    for (int round = 0; round < 2; round++) {
        switch (out->need) {
        case OG_NEED_NOTHING:
            return true;
        case OG_NEED_TAG_STATE:
            if (!og_gather_tag_facts(w, q->route, facts)) {
                og_outcome_refuse(out, 503, "registry",
                                  "the registry could not say whether the tag exists");
                return false;
            }
            break;
        case OG_NEED_DIGEST_TAGS:
            if (!gather_digest_facts(w, q->route, facts, digest_tag, cap)) {
                og_outcome_refuse(out, 503, "registry",
                                  "the registry could not say which tags point at the digest");
                return false;
            }
            break;
        default:
            og_outcome_refuse(out, 503, NULL, "decision incomplete");
            return false;
        }
        q->facts = facts;
        og_policy_evaluate(w->cfg, q, out);
    }
    if (out->need == OG_NEED_NOTHING)
        return true;
    og_outcome_refuse(out, 503, NULL, "decision incomplete");   /* cannot happen; fail closed */
    return false;
}
