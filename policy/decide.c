/*
 * decide.c - the access decision: zot's can() made deterministic, plus what
 * ocigate adds on top (its deviations and immutability, doc/decisions.md)
 * and the per-route rules (ping, catalog, metrics, mount).
 *
 * Pure: reads the compiled config, the classified route, the identity and the
 * facts; allocates nothing and does no I/O. Every reason is a static string.
 * (og_policy_prepare, run once at load, allocates the tables it keeps.)
 */
#include "decide.h"

#include <stdlib.h>
#include <string.h>

#include "condition.h"
#include "glob.h"
#include "globindex.h"

/* ------------------------------------------------------------------------ */
/* Static explanations, one per (source, action).                            */

enum { ACT_READ, ACT_CREATE, ACT_UPDATE, ACT_DELETE, ACT_DMC, ACT_OTHER, ACT_N };

static int action_slot(unsigned action)
{
    switch (action) {
    case OG_ACT_READ: return ACT_READ;
    case OG_ACT_CREATE: return ACT_CREATE;
    case OG_ACT_UPDATE: return ACT_UPDATE;
    case OG_ACT_DELETE: return ACT_DELETE;
    case OG_ACT_DETECT_MANIFEST_COLLISION: return ACT_DMC;
    default: return ACT_OTHER;
    }
}

enum source { SRC_USER, SRC_GROUP, SRC_DEFAULT, SRC_ANONYMOUS, SRC_ADMIN, SRC_NONE, SRC_N };

#define PER_ACTION(prefix, suffix)                                            \
    { prefix "read" suffix, prefix "create" suffix, prefix "update" suffix,   \
      prefix "delete" suffix, prefix "detectManifestCollision" suffix,        \
      prefix "this action" suffix }

static const char *const reasons[SRC_N][ACT_N] = {
    [SRC_USER] = PER_ACTION("user policy grants ", ""),
    [SRC_GROUP] = PER_ACTION("group policy grants ", ""),
    [SRC_DEFAULT] = PER_ACTION("defaultPolicy grants ", ""),
    [SRC_ANONYMOUS] = PER_ACTION("anonymousPolicy grants ", ""),
    [SRC_ADMIN] = PER_ACTION("adminPolicy grants ", ""),
    [SRC_NONE] = PER_ACTION("no grant for ", ""),
};

static const char *reason_for(enum source src, unsigned action)
{
    return reasons[src][action_slot(action)];
}

/* ------------------------------------------------------------------------ */
/* Who the identity is.                                                      */

static bool is_anonymous(const struct og_identity *id)
{
    return !id || !id->user || !id->user[0];
}

static int denial_status(const struct og_identity *id)
{
    return is_anonymous(id) ? 401 : 403;
}

static bool list_has(const struct og_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/*
 * Group membership: the credential's own groups, plus the config groups that
 * list the user (for every identity: doc/decisions.md, deviation 3). The
 * anonymous identity belongs to no group.
 */
static bool identity_in_group(const struct og_config *cfg, const struct og_identity *id,
                              const char *group)
{
    if (is_anonymous(id))
        return false;
    for (size_t i = 0; i < id->ngroups; i++)
        if (id->groups[i] && strcmp(id->groups[i], group) == 0)
            return true;
    return og_config_group_has_user(cfg, group, id->user);
}

/* users: exact match, "" = anonymous. */
static bool entry_names_user(const struct og_policy_entry *e, const struct og_identity *id)
{
    return list_has(&e->users, is_anonymous(id) ? "" : id->user);
}

static bool entry_names_group(const struct og_config *cfg, const struct og_policy_entry *e,
                              const struct og_identity *id)
{
    for (size_t i = 0; i < e->groups.n; i++)
        if (identity_in_group(cfg, id, e->groups.v[i]))
            return true;
    return false;
}

static bool is_admin(const struct og_config *cfg, const struct og_identity *id)
{
    return cfg->has_admin &&
           (entry_names_user(&cfg->admin, id) || entry_names_group(cfg, &cfg->admin, id));
}

bool og_is_admin(const struct og_config *cfg, const struct og_identity *id)
{
    return is_admin(cfg, id);
}

size_t og_effective_groups(const struct og_config *cfg, const struct og_identity *id,
                           const char **out, size_t max)
{
    size_t n = 0;

    if (is_anonymous(id))
        return 0;
    for (size_t i = 0; i < id->ngroups && n < max; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(out[j], id->groups[i]) == 0;
        if (id->groups[i] && !dup)
            out[n++] = id->groups[i];
    }
    /* the config groups listing the user, in file order (config.h's table) */
    const struct og_group_member *m;
    size_t nm = og_config_user_groups(cfg, id->user, &m);
    for (size_t i = 0; i < nm && n < max; i++) {
        const char *name = cfg->groups[m[i].group].name;
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(out[j], name) == 0;
        if (!dup)
            out[n++] = name;
    }
    return n;
}

static bool admin_grants(const struct og_config *cfg, const struct og_identity *id,
                         unsigned action)
{
    return action && (cfg->admin.actions & action) == action && is_admin(cfg, id);
}

static bool within_key_scopes(const struct og_identity *id, const char *repo, size_t len)
{
    if (!id || id->nscopes == 0)
        return true;
    for (size_t i = 0; i < id->nscopes; i++)
        if (id->scopes[i] && og_glob_match(id->scopes[i], repo, len))
            return true;
    return false;
}

/* ------------------------------------------------------------------------ */
/* zot's can(): longest pattern decides, adminPolicy falls back.             */

struct verdict {
    bool granted;
    bool out_of_scope;      /* denied by the API key's scopes, whatever the policy */
    bool insufficient;      /* the policy grants, the ocigate token does not */
    const char *rule;
    const char *reason;
    /* conditions: the entry that granted, or the first condition that did not hold */
    const char *condition;
    const char *condition_message;
    bool condition_error;
};

/* What one check is about, for conditions. No context at all (og_can: the
   catalog filter, the token endpoint): conditions count as holding, as in
   zot. A context without a method (the unfiltered catalog, which must hold
   for every request): they count as false. */
struct check_ctx {
    const char *method;
    const char *reference;
};

/* ------------------------------------------------------------------------ */
/* An ocigate token's access list (registry token protocol).                */

bool og_token_grants(const struct og_identity *id, unsigned action,
                     const char *repo, size_t repo_len)
{
    if (!id || !id->token)
        return true;
    if (!action)
        return false;
    for (size_t i = 0; i < id->naccess; i++) {
        const struct og_token_access *a = &id->access[i];
        if (!a->catalog && a->name && a->name_len == repo_len &&
            memcmp(a->name, repo, repo_len) == 0 && (a->actions & action) == action)
            return true;
    }
    return false;
}

bool og_token_grants_catalog(const struct og_identity *id)
{
    if (!id || !id->token)
        return true;
    for (size_t i = 0; i < id->naccess; i++)
        if (id->access[i].catalog)
            return true;
    return false;
}

/* The token protocol's name for what an action needs. */
static const char *scope_actions_for(unsigned action)
{
    if (action == OG_ACT_READ)
        return "pull";
    if (action == OG_ACT_DELETE)
        return "delete";
    if (action == OG_ACT_CREATE || action == OG_ACT_UPDATE)
        return "pull,push";
    return "*";
}

static const char *const token_reasons[ACT_N] =
    PER_ACTION("the token does not grant ", " on this repository; ask the token endpoint for it");

/* Rules are sorted longest first (ties lexicographic), so the first match
   is it; the index tries only the rules whose literal prefix the name
   begins with and answers the smallest matching position, which is the
   first match of a scan in order (policy/globindex.h). */
static const struct og_repo_rule *longest_matching_rule(const struct og_config *cfg,
                                                        const char *repo, size_t len)
{
    uint32_t i = og_glob_index_first(cfg->rule_index, repo, len, NULL, NULL);

    return i < cfg->nrules ? &cfg->rules[i] : NULL;
}

const struct og_repo_rule *og_rule_for(const struct og_config *cfg, const char *repo, size_t len)
{
    return longest_matching_rule(cfg, repo, len);
}

/* An entry that matched by user or group grants only if its conditions hold
   (they narrow, never widen). The first one that did not hold is noted. */
static bool conditions_hold(const struct og_config *cfg, const struct og_policy_entry *e,
                            const struct og_identity *id, unsigned action, const char *repo,
                            size_t len, const struct check_ctx *cx, struct verdict *v)
{
    struct og_condition_check c;
    size_t failed = 0;
    enum og_condition_result res;

    if (e->nconditions == 0)
        return true;
    if (!cx || !id || !id->env) {
        v->condition = e->where;       /* optimistic: no request to judge (og_can) */
        return true;
    }
    if (!cx->method)
        return false;                  /* pessimistic: no one request to judge */
    c.method = cx->method;
    c.action = action;
    c.repo = repo;
    c.repo_len = len;
    c.reference = cx->reference;
    res = og_conditions_eval(cfg, e, id, &c, &failed);
    if (res == OG_COND_HOLD) {
        v->condition = e->where;
        v->condition_message = NULL;
        v->condition_error = false;
        return true;
    }
    if (!v->condition) {
        v->condition = e->conditions[failed].where;
        v->condition_error = res == OG_COND_ERROR;
        v->condition_message = res == OG_COND_FALSE ? e->conditions[failed].message : NULL;
    }
    return false;
}

/* The union within one pattern: user, group, defaultPolicy, anonymousPolicy. */
static enum source rule_grants(const struct og_config *cfg, const struct og_repo_rule *rule,
                               const struct og_identity *id, unsigned action,
                               const char *repo, size_t len, const struct check_ctx *cx,
                               struct verdict *v)
{
    if (!action)
        return SRC_NONE;
    for (size_t i = 0; i < rule->npolicies; i++) {
        const struct og_policy_entry *e = &rule->policies[i];

        if ((e->actions & action) == action && entry_names_user(e, id) &&
            conditions_hold(cfg, e, id, action, repo, len, cx, v))
            return SRC_USER;
    }
    for (size_t i = 0; i < rule->npolicies; i++) {
        const struct og_policy_entry *e = &rule->policies[i];

        if ((e->actions & action) == action && entry_names_group(cfg, e, id) &&
            conditions_hold(cfg, e, id, action, repo, len, cx, v))
            return SRC_GROUP;
    }
    if (is_anonymous(id))
        return (rule->anonymous_actions & action) == action ? SRC_ANONYMOUS : SRC_NONE;
    return (rule->default_actions & action) == action ? SRC_DEFAULT : SRC_NONE;
}

static void check_in(const struct og_config *cfg, const struct og_identity *id, unsigned action,
                     const char *repo, size_t len, const struct check_ctx *cx,
                     struct verdict *v)
{
    const struct og_repo_rule *rule;
    enum source src = SRC_NONE;

    v->out_of_scope = false;
    v->insufficient = false;
    v->condition = NULL;
    v->condition_message = NULL;
    v->condition_error = false;
    if (!within_key_scopes(id, repo, len)) {
        v->granted = false;
        v->out_of_scope = true;
        v->rule = "apikey scope";
        v->reason = "outside the API key's repository scopes";
        return;
    }
    rule = longest_matching_rule(cfg, repo, len);
    if (rule)
        src = rule_grants(cfg, rule, id, action, repo, len, cx, v);
    if (src != SRC_NONE) {
        v->granted = true;
        v->rule = rule->pattern;
        v->reason = reason_for(src, action);
        if (src != SRC_USER && src != SRC_GROUP)
            v->condition = NULL, v->condition_message = NULL, v->condition_error = false;
    } else if (admin_grants(cfg, id, action) &&
               conditions_hold(cfg, &cfg->admin, id, action, repo, len, cx, v)) {
        v->granted = true;
        v->rule = "adminPolicy";
        v->reason = reason_for(SRC_ADMIN, action);
    } else {
        v->granted = false;
        v->rule = rule ? rule->pattern : "none";
        v->reason = reason_for(SRC_NONE, action);
    }
    /* A token permits at most its access list, intersected with the policy. */
    if (v->granted && !og_token_grants(id, action, repo, len)) {
        v->granted = false;
        v->insufficient = true;
        v->rule = "token scope";
        v->reason = token_reasons[action_slot(action)];
    }
}

/* A check for a request: its method and reference feed the conditions. */
static void check_ref(const struct og_config *cfg, const struct og_identity *id, unsigned action,
                      const struct og_route *r, const char *repo, size_t len,
                      const char *reference, struct verdict *v)
{
    struct check_ctx cx = { og_method_name(r->method), reference };

    check_in(cfg, id, action, repo, len, &cx, v);
}

/* The reference a route's checks carry: manifests only (a tag or a digest). */
static const char *route_reference(const struct og_route *r)
{
    return r->kind == OG_R_MANIFEST ? r->reference : NULL;
}

static void check(const struct og_config *cfg, const struct og_identity *id, unsigned action,
                  const struct og_route *r, const char *repo, size_t len, struct verdict *v)
{
    check_ref(cfg, id, action, r, repo, len, route_reference(r), v);
}

bool og_can(const struct og_config *cfg, const struct og_identity *id,
            unsigned action, const char *repo, size_t repo_len, const char **rule)
{
    struct verdict v;

    check_in(cfg, id, action, repo, repo_len, NULL, &v);
    if (rule)
        *rule = v.rule;
    return v.granted;
}

/* ------------------------------------------------------------------------ */
/* Writing the answer.                                                       */

/* The condition that decided a verdict, onto the decision. */
static void note_condition(struct og_decision *out, const struct verdict *v)
{
    out->condition = v->condition;
    out->condition_message = v->granted ? NULL : v->condition_message;
    out->condition_error = !v->granted && v->condition_error;
}

static void allow(struct og_decision *out, unsigned action, const char *rule, const char *reason)
{
    out->status = 200;
    out->action = action;
    out->rule = rule;
    out->reason = reason;
}

static void deny(struct og_decision *out, int status, unsigned action, const char *rule,
                 const char *reason)
{
    out->status = status;
    out->action = action;
    out->rule = rule;
    out->reason = reason;
}

/*
 * The policy would allow but the ocigate token does not cover it: 401 with
 * the scope to ask for, as the distribution registry answers
 * (error="insufficient_scope"). Clients that follow the registry token
 * protocol fetch a token with that scope and retry; the token endpoint
 * grants it only where the live policy does, so this never widens access.
 */
static void deny_insufficient(struct og_decision *out, unsigned action, const char *rule,
                              const char *reason, const char *type, const char *name,
                              const char *actions)
{
    deny(out, 401, action, rule, reason);
    out->insufficient_scope = true;
    out->scope_type = type;
    out->scope_name = name;
    out->scope_actions = actions;
}

/* name: the NUL-terminated repository the verdict was about. */
static void decide_by_verdict_on(struct og_decision *out, const struct og_identity *id,
                                 unsigned action, const struct verdict *v, const char *name)
{
    if (v->granted)
        allow(out, action, v->rule, v->reason);
    else if (v->insufficient)
        deny_insufficient(out, action, v->rule, v->reason, "repository", name,
                          scope_actions_for(action));
    else
        deny(out, denial_status(id), action, v->rule,
             v->condition_message ? "a condition of the matching policy is false"
             : v->condition_error ? "a condition of the matching policy could not be evaluated"
                                  : v->reason);
    note_condition(out, v);
}

static void decide_by_verdict(struct og_decision *out, const struct og_route *r,
                              const struct og_identity *id, unsigned action,
                              const struct verdict *v)
{
    decide_by_verdict_on(out, id, action, v, r->repo);
}

static void decide_action(const struct og_config *cfg, const struct og_route *r,
                          const struct og_identity *id, unsigned action,
                          struct og_decision *out)
{
    struct verdict v;

    check(cfg, id, action, r, r->repo, r->repo_len, &v);
    decide_by_verdict(out, r, id, action, &v);
}

/* ------------------------------------------------------------------------ */
/* Immutability (doc/decisions.md): repository glob x tag glob, binding all. */

static const struct og_immutable_rule *immutable_rule_for(const struct og_config *cfg,
                                                          const char *repo, size_t repo_len,
                                                          const char *tag);

/* The first immutableTags rule (file order) with a repository glob
   matching repo, or NULL; through the index, like the repository rules. */
static const struct og_immutable_rule *first_immutable_for_repo(const struct og_config *cfg,
                                                                const char *repo, size_t repo_len)
{
    uint32_t i = og_glob_index_first(cfg->immutable_index, repo, repo_len, NULL, NULL);

    return i < cfg->nimmutable ? &cfg->immutable[i] : NULL;
}

bool og_repo_has_immutable_rules(const struct og_config *cfg, const char *repo, size_t repo_len)
{
    return first_immutable_for_repo(cfg, repo, repo_len) != NULL;
}

const struct og_immutable_rule *og_immutable_rule_for(const struct og_config *cfg,
                                                      const char *repo, size_t repo_len,
                                                      const char *tag)
{
    return immutable_rule_for(cfg, repo, repo_len, tag);
}

struct tag_probe {
    const struct og_config *cfg;
    const char *tag;
    size_t tag_len;
};

/* Does immutable rule id cover the probe's tag? */
static bool immutable_tag_matches(const void *ctx, uint32_t id)
{
    const struct tag_probe *t = ctx;
    const struct og_immutable_rule *rule = &t->cfg->immutable[id];

    for (size_t j = 0; j < rule->ntags; j++)
        if (og_glob_match(rule->tags[j], t->tag, t->tag_len))
            return true;
    return false;
}

/* The first rule in file order whose repositories and tags both match. */
static const struct og_immutable_rule *immutable_rule_for(const struct og_config *cfg,
                                                          const char *repo, size_t repo_len,
                                                          const char *tag)
{
    struct tag_probe t = { cfg, tag, strlen(tag) };
    uint32_t i = og_glob_index_first(cfg->immutable_index, repo, repo_len,
                                     immutable_tag_matches, &t);

    return i < cfg->nimmutable ? &cfg->immutable[i] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Manifest PUT: create or update per tag (doc/decisions.md, manifest writes). */

struct tag_outcome {
    int status;           /* 200 or the denial */
    unsigned action;
    const char *rule;
    const char *reason;
    bool claim;
    bool insufficient;    /* 401: the token lacks push (the policy would allow) */
};

static void outcome_for_state(const struct og_identity *id, enum og_tag_state state,
                              const struct verdict *create, const struct verdict *update,
                              const struct og_immutable_rule *immutable,
                              struct tag_outcome *o)
{
    o->claim = false;
    o->insufficient = false;
    if (state == OG_TAG_EXISTS) {
        o->action = OG_ACT_UPDATE;
        if (immutable) {
            o->status = 403;
            o->rule = immutable->text;
            o->reason = "immutable tag: it exists and may not be overwritten";
        } else if (update->granted) {
            o->status = 200;
            o->rule = update->rule;
            o->reason = update->reason;
        } else if (update->insufficient) {
            o->status = 401;
            o->insufficient = true;
            o->rule = update->rule;
            o->reason = update->reason;
        } else {
            o->status = denial_status(id);
            o->rule = update->rule;
            o->reason = update->out_of_scope ? update->reason
                                             : "tag exists: no grant for update";
        }
        return;
    }
    o->action = OG_ACT_CREATE;
    o->rule = create->rule;
    o->reason = create->reason;
    if (create->granted) {
        o->status = 200;
        /* A create by someone who could not have updated must win the race (§5). */
        o->claim = immutable || !update->granted;
    } else if (create->insufficient) {
        o->status = 401;
        o->insufficient = true;
    } else {
        o->status = denial_status(id);
    }
}

/* The tag at index i of the PUT, or NULL. A PUT by tag that the route left
   without tags[] falls back to its reference. */
static const char *put_tag(const struct og_route *r, size_t i)
{
    if (r->ntags)
        return i < r->ntags && i < OG_MAX_TAGS ? r->tags[i] : NULL;
    if (i == 0 && !r->ref_is_digest && r->reference[0])
        return r->reference;
    return NULL;
}

static void decide_manifest_put(const struct og_config *cfg, const struct og_route *r,
                                const struct og_identity *id, const struct og_facts *f,
                                struct og_decision *out)
{
    struct verdict create, update;
    const char *needed_tag = NULL;
    const char *deciding_tag = NULL;
    struct tag_outcome deciding = { 0 };
    unsigned claim = 0;
    const char *tag;
    size_t i;

    /* Conditions see each check's own reference: the first tag here, the
       digest for a push by digest without tags. */
    check_ref(cfg, id, OG_ACT_CREATE, r, r->repo, r->repo_len,
              put_tag(r, 0) ? put_tag(r, 0) : r->reference, &create);
    check_ref(cfg, id, OG_ACT_UPDATE, r, r->repo, r->repo_len,
              put_tag(r, 0) ? put_tag(r, 0) : r->reference, &update);

    /* A push by digest without tags is a create of the digest (§5). */
    if (!put_tag(r, 0)) {
        decide_by_verdict(out, r, id, OG_ACT_CREATE, &create);
        return;
    }

    /* Who may neither create nor update is refused before any tag is looked
       at: the answer must not depend on whether a tag exists (an anonymous
       client would learn it from 401 against 403 under immutableTags). */
    if (!create.granted && !update.granted) {
        decide_by_verdict(out, r, id, OG_ACT_CREATE, &create);
        out->tag = put_tag(r, 0);
        return;
    }

    /*
     * Every tag is checked on its own; all must pass. The digest checks of
     * zot's manifestWriteAuthzChecks (create if a tag is new, update if one
     * exists) are the same repository-wide grants as the tags' own checks,
     * since ocigate has no per-reference conditions, so they add nothing.
     */
    for (i = 0; (tag = put_tag(r, i)) != NULL; i++) {
        enum og_tag_state state = f ? f->tag[i] : OG_TAG_UNKNOWN;
        const struct og_immutable_rule *immutable =
            immutable_rule_for(cfg, r->repo, r->repo_len, tag);
        struct tag_outcome o;

        if (i > 0 && cfg->has_conditions) {   /* conditions may read req.tag */
            check_ref(cfg, id, OG_ACT_CREATE, r, r->repo, r->repo_len, tag, &create);
            check_ref(cfg, id, OG_ACT_UPDATE, r, r->repo, r->repo_len, tag, &update);
        }

        if (state == OG_TAG_UNKNOWN) {
            struct tag_outcome if_absent, if_exists;

            outcome_for_state(id, OG_TAG_ABSENT, &create, &update, immutable, &if_absent);
            outcome_for_state(id, OG_TAG_EXISTS, &create, &update, immutable, &if_exists);
            if (if_absent.status != if_exists.status) {
                if (!needed_tag)
                    needed_tag = tag;
                continue;
            }
            /* Either way the same answer: no need to ask the registry. An
               allow here means update is granted and not blocked: no claim. */
            o = if_exists.status == 200 ? if_exists : if_absent;
            o.claim = false;
        } else {
            outcome_for_state(id, state, &create, &update, immutable, &o);
        }

        if (o.status != 200) {
            if (o.insufficient)
                deny_insufficient(out, o.action, o.rule, o.reason, "repository", r->repo,
                                  "pull,push");
            else
                deny(out, o.status, o.action, o.rule, o.reason);
            const struct verdict *by = o.action == OG_ACT_UPDATE ? &update : &create;
            if (o.rule == by->rule)
                note_condition(out, by);
            out->tag = tag;
            out->claim = 0;
            return;
        }
        if (o.claim)
            claim |= 1u << i;
        if (!deciding_tag || (o.action == OG_ACT_UPDATE && deciding.action != OG_ACT_UPDATE)) {
            deciding = o;
            deciding_tag = tag;
        }
    }

    if (needed_tag) {
        out->status = 0;
        out->need = OG_NEED_TAG_STATE;
        out->action = OG_ACT_CREATE;
        out->rule = create.rule;
        out->reason = "tag state needed: create or update";
        out->tag = needed_tag;
        return;
    }
    allow(out, deciding.action, deciding.rule, deciding.reason);
    note_condition(out, deciding.action == OG_ACT_UPDATE ? &update : &create);
    out->tag = deciding_tag;
    out->claim = claim;
}

static void decide_manifest_delete(const struct og_config *cfg, const struct og_route *r,
                                   const struct og_identity *id, const struct og_facts *f,
                                   struct og_decision *out)
{
    if (r->ref_is_digest && og_repo_has_immutable_rules(cfg, r->repo, r->repo_len)) {
        struct verdict del;
        /* Only worth asking the registry when the delete would otherwise pass. */
        check(cfg, id, OG_ACT_DELETE, r, r->repo, r->repo_len, &del);
        if (del.granted) {
            if (!f || !f->digest_tags_known) {
                out->status = 0;
                out->need = OG_NEED_DIGEST_TAGS;
                out->action = OG_ACT_DELETE;
                out->rule = del.rule;
                out->reason = "tags pointing at the digest needed";
                return;
            }
            if (f->digest_tag) {
                const struct og_immutable_rule *immutable =
                    immutable_rule_for(cfg, r->repo, r->repo_len, f->digest_tag);
                out->tag = f->digest_tag;
                if (immutable) {
                    deny(out, 403, OG_ACT_DELETE, immutable->text,
                         f->digest_in_index
                             ? "immutable tag points at an index that lists this digest: "
                               "it may not be deleted"
                             : "immutable tag points at this digest: it may not be deleted");
                    return;
                }
            }
        }
    }
    if (!r->ref_is_digest && r->reference[0]) {
        const struct og_immutable_rule *immutable =
            immutable_rule_for(cfg, r->repo, r->repo_len, r->reference);

        out->tag = r->reference;
        if (immutable) {
            deny(out, 403, OG_ACT_DELETE, immutable->text,
                 "immutable tag: it may not be deleted");
            return;
        }
    }
    decide_action(cfg, r, id, OG_ACT_DELETE, out);
}

/*
 * A blob may be all or part of what an immutable tag points at, and the
 * registry cannot say which blobs a tag needs without walking every manifest:
 * where any immutableTags rule covers the repository, no blob is deleted
 * (garbage collection in the registry removes unreferenced ones).
 */
static void decide_blob(const struct og_config *cfg, const struct og_route *r,
                        const struct og_identity *id, struct og_decision *out)
{
    const struct og_immutable_rule *rule = NULL;

    decide_action(cfg, r, id, r->action, out);
    if (out->status != 200 || r->method != OG_M_DELETE)
        return;
    rule = first_immutable_for_repo(cfg, r->repo, r->repo_len);
    if (rule)
        deny(out, 403, OG_ACT_DELETE, rule->text,
             "blob delete in a repository with immutable tags: the blob may belong to one");
}

void og_decide_without_claims(struct og_decision *out)
{
    if (!out || out->status != 200 || !out->claim)
        return;
    out->status = 403;
    out->claim = 0;
    out->rule = "route";
    out->reason = "this manifest write must claim its tag, which ocigate can only do when it "
                  "forwards the write itself: the deployment must route manifest PUTs to "
                  "ocigate (FastCGI param OCIGATE_SERVE=manifest)";
}

/* ------------------------------------------------------------------------ */
/* Cross-repository mount (doc/decisions.md, deviation 4).                    */

static void decide_upload_start(const struct og_config *cfg, const struct og_route *r,
                                const struct og_identity *id, struct og_decision *out)
{
    struct verdict create, from;

    check(cfg, id, OG_ACT_CREATE, r, r->repo, r->repo_len, &create);
    if (!create.granted || !r->has_mount) {
        decide_by_verdict(out, r, id, OG_ACT_CREATE, &create);
        return;
    }
    /* A registry that starts a plain upload for a mount without from=
       (registry.automaticMount false) mounts nothing: a plain create. */
    if ((!r->has_from || r->from_len == 0) && !cfg->registry_automatic_mount) {
        decide_by_verdict(out, r, id, OG_ACT_CREATE, &create);
        return;
    }
    /* 401, for everyone: the one status on which containerd retries as a plain upload. */
    if (!r->has_from || r->from_len == 0) {
        deny(out, 401, OG_ACT_READ, "route",
             "cross-repository mount without from= not permitted; falling back to upload");
        return;
    }
    check(cfg, id, OG_ACT_READ, r, r->from, r->from_len, &from);
    if (from.insufficient) {
        deny_insufficient(out, OG_ACT_READ, from.rule,
                          "the token does not grant pull on the mount source; "
                          "cross-repository mount not permitted", "repository", r->from, "pull");
        return;
    }
    if (!from.granted) {
        deny(out, 401, OG_ACT_READ, from.rule,
             "no read on the mount source; cross-repository mount not permitted, "
             "falling back to upload");
        return;
    }
    allow(out, OG_ACT_CREATE, create.rule, create.reason);
}

/* ------------------------------------------------------------------------ */
/* Routes without a repository.                                              */

/* Does any rule give the anonymous identity anything at all? A scan of
   every rule: run once at load (cfg->open_to_anonymous), not per ping. */
const char *og_open_to_anonymous(const struct og_config *cfg)
{
    static const struct og_identity anonymous = { 0 };

    for (size_t i = 0; i < cfg->nrules; i++) {
        const struct og_repo_rule *rule = &cfg->rules[i];

        if (rule->anonymous_actions)
            return rule->pattern;
        for (size_t j = 0; j < rule->npolicies; j++)
            if (rule->policies[j].actions && entry_names_user(&rule->policies[j], &anonymous))
                return rule->pattern;
    }
    if (cfg->admin.actions && is_admin(cfg, &anonymous))
        return "adminPolicy";
    return NULL;
}

/*
 * GET /v2/: an authenticated identity always gets 200 (never 403 on /v2/:
 * podman treats it as fatal); the anonymous one gets 200 when some rule
 * grants anonymous access to anything, else 401. (In bearer mode the
 * responder still answers a credential-less ping with the 401 challenge.)
 */
static void decide_ping(const struct og_config *cfg, const struct og_identity *id,
                        struct og_decision *out)
{
    const char *open;

    if (!is_anonymous(id)) {
        allow(out, OG_ACT_NONE, "route", "authenticated");
        return;
    }
    open = cfg->open_to_anonymous;
    if (open)
        allow(out, OG_ACT_NONE, open, "anonymous access exists");
    else
        deny(out, 401, OG_ACT_NONE, "none", "authentication required");
}

static bool scopes_cover_everything(const struct og_identity *id)
{
    if (!id || id->nscopes == 0)
        return true;
    for (size_t i = 0; i < id->nscopes; i++)
        if (id->scopes[i] && strcmp(og_glob_source(id->scopes[i]), "**") == 0)
            return true;
    return false;
}

/*
 * GET /v2/_catalog as an AUTHORIZER (doc/decisions.md): only for identities
 * that may read every repository. That holds when adminPolicy grants the
 * identity read (it applies wherever the patterns deny), or when a "**" rule
 * exists (so every repository has a matching pattern) and every rule grants
 * the identity read (so whichever pattern is longest, it grants). A scoped
 * API key needs a "**" scope as well.
 */
static void decide_catalog(const struct og_config *cfg, const struct og_identity *id,
                           struct og_decision *out)
{
    bool has_everything_rule = false, every_rule_grants = true;

    if (!scopes_cover_everything(id)) {
        deny(out, 403, OG_ACT_READ, "apikey scope",
             "catalog needs read on every repository; the API key is scoped");
        return;
    }
    if (admin_grants(cfg, id, OG_ACT_READ)) {
        allow(out, OG_ACT_READ, "adminPolicy", reason_for(SRC_ADMIN, OG_ACT_READ));
        return;
    }
    static const struct check_ctx no_request = { NULL, NULL };
    struct verdict v = { 0 };
    if (cfg->rules_prepared) {
        /* rules with the same catalog view grant alike: one of each */
        has_everything_rule = cfg->has_everything_rule;
        for (size_t k = 0; has_everything_rule && every_rule_grants && k < cfg->ncatalog_reps; k++)
            if (rule_grants(cfg, &cfg->rules[cfg->catalog_reps[k]], id, OG_ACT_READ, "", 0,
                            &no_request, &v) == SRC_NONE)
                every_rule_grants = false;
    } else {
        for (size_t i = 0; i < cfg->nrules; i++) {
            if (strcmp(cfg->rules[i].pattern, "**") == 0)
                has_everything_rule = true;
            if (rule_grants(cfg, &cfg->rules[i], id, OG_ACT_READ, "", 0, &no_request, &v) == SRC_NONE)
                every_rule_grants = false;
        }
    }
    if (has_everything_rule && every_rule_grants)
        allow(out, OG_ACT_READ, "**", "every rule grants read");
    else
        deny(out, denial_status(id), OG_ACT_READ, "none",
             "catalog needs read on every repository");
}

/* A token without registry:catalog:* may not list the catalog, whatever
   the policy says (an allow becomes a 401 that names the scope). */
static void decide_catalog_token(const struct og_config *cfg, const struct og_identity *id,
                                 struct og_decision *out)
{
    decide_catalog(cfg, id, out);
    if (out->status == 200 && !og_token_grants_catalog(id))
        deny_insufficient(out, OG_ACT_READ, "token scope",
                          "the token does not grant the catalog; ask the token endpoint for it",
                          "registry", "catalog", "*");
}

/* /metrics: accessControl.metrics decides (doc/decisions.md, metrics). */
static void decide_metrics(const struct og_config *cfg, const struct og_identity *id,
                           struct og_decision *out)
{
    if (is_anonymous(id)) {
        if (cfg->has_metrics && (cfg->metrics_anonymous_actions & OG_ACT_READ))
            allow(out, OG_ACT_READ, "metrics", "metrics.anonymousPolicy grants read");
        else if (cfg->has_metrics && list_has(&cfg->metrics_users, ""))
            allow(out, OG_ACT_READ, "metrics", "metrics.users lists \"\" (anonymous)");
        else
            deny(out, 401, OG_ACT_READ, "metrics",
                 "neither metrics.anonymousPolicy grants read nor metrics.users lists \"\"");
        return;
    }
    if (cfg->has_metrics && list_has(&cfg->metrics_users, id->user))
        allow(out, OG_ACT_READ, "metrics", "listed in metrics.users");
    else
        deny(out, 403, OG_ACT_READ, "metrics", "not listed in metrics.users");
}

static bool path_is(const struct og_route *r, const char *s)
{
    size_t n;

    if (!r->path || !s)
        return false;
    n = strlen(s);
    return r->path_len == n && memcmp(r->path, s, n) == 0;
}

static void decide_outside(const struct og_config *cfg, const struct og_route *r,
                           const struct og_identity *id, struct og_decision *out)
{
    if (path_is(r, "/metrics") || path_is(r, cfg->endpoint_metrics))
        decide_metrics(cfg, id, out);
    else
        deny(out, 404, OG_ACT_NONE, "route", "not a registry route");
}

/* ------------------------------------------------------------------------ */

void og_decide(const struct og_config *cfg, const struct og_route *r,
               const struct og_identity *id, const struct og_facts *f,
               struct og_decision *out)
{
    memset(out, 0, sizeof *out);
    out->rule = "none";
    out->reason = "no decision";
    out->status = 403;   /* fail closed until something decides */

    if (!cfg || !r) {
        deny(out, 403, OG_ACT_NONE, "none", "no config or route");
        return;
    }
    if (r->status != 0) {
        deny(out, r->status, r->action, "route", r->reason ? r->reason : "refused by route");
        return;
    }
    switch (r->kind) {
    case OG_R_OPTIONS:
        allow(out, OG_ACT_NONE, "route", "CORS preflight");
        return;
    case OG_R_PING:
        decide_ping(cfg, id, out);
        return;
    case OG_R_CATALOG:
        decide_catalog_token(cfg, id, out);
        return;
    case OG_R_OUTSIDE:
        decide_outside(cfg, r, id, out);
        return;
    case OG_R_MANIFEST:
        if (r->method == OG_M_PUT)
            decide_manifest_put(cfg, r, id, f, out);
        else if (r->method == OG_M_DELETE)
            decide_manifest_delete(cfg, r, id, f, out);
        else
            decide_action(cfg, r, id, r->action, out);
        return;
    case OG_R_UPLOAD_START:
        decide_upload_start(cfg, r, id, out);
        return;
    case OG_R_BLOB:
        decide_blob(cfg, r, id, out);
        return;
    case OG_R_TAGS_LIST:
    case OG_R_UPLOAD:
    case OG_R_REFERRERS:
        decide_action(cfg, r, id, r->action, out);
        return;
    case OG_R_NONE:
        break;
    }
    deny(out, 404, OG_ACT_NONE, "route", "not a registry route");
}

const char *og_auth_name(enum og_auth a)
{
    switch (a) {
    case OG_AUTH_ANONYMOUS: return "anonymous";
    case OG_AUTH_HTPASSWD: return "htpasswd";
    case OG_AUTH_APIKEY: return "apikey";
    case OG_AUTH_OPENID: return "openid";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* API key scopes asked for on the key page: within the identity's reach.   */

static bool has_glob_meta(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (strchr("*?[]{}\\", s[i]) && s[i])
            return true;
    return false;
}

/* Does every repository that glob[0..len) matches also match the rule's
   pattern? Decided on the text, conservatively: the same pattern, a
   pattern of two stars alone, or a pattern P + "/" + two stars (P without
   glob characters) and a glob that is P or begins with "P/". */
static bool pattern_covers(const struct og_repo_rule *rule, const char *glob, size_t len)
{
    size_t plen = rule->pattern_len;
    const char *pat = rule->pattern;

    if (plen == len && memcmp(pat, glob, len) == 0)
        return true;
    if (plen == 2 && memcmp(pat, "**", 2) == 0)
        return true;
    if (plen < 4 || memcmp(pat + plen - 3, "/**", 3) != 0 || has_glob_meta(pat, plen - 3))
        return false;
    plen -= 3;
    return len >= plen && memcmp(pat, glob, plen) == 0 && (len == plen || glob[plen] == '/');
}

static const struct og_repo_rule *rule_by_pattern(const struct og_config *cfg, const char *a,
                                                  size_t alen, const char *b, size_t blen);

bool og_scope_within_reach(const struct og_config *cfg, const struct og_identity *id,
                           const char *glob, size_t len)
{
    if (!glob || len == 0 || is_anonymous(id))
        return false;
    if (admin_grants(cfg, id, OG_ACT_READ))
        return true;
    if (!has_glob_meta(glob, len))
        return og_can(cfg, id, OG_ACT_READ, glob, len, NULL);
    struct verdict v = { 0 };   /* no request here: conditions count as holding, as in og_can */
    if (!cfg->rules_prepared) {
        for (size_t i = 0; i < cfg->nrules; i++)
            if (rule_grants(cfg, &cfg->rules[i], id, OG_ACT_READ, glob, len, NULL, &v) != SRC_NONE &&
                pattern_covers(&cfg->rules[i], glob, len))
                return true;
        return false;
    }
    /* Only these patterns can cover the glob: itself, "**", and P + "/" + two
       stars for every P that is the glob up to a '/' (P without glob
       characters: none past the first one the glob has). */
    const struct og_repo_rule *cand[2];
    cand[0] = rule_by_pattern(cfg, glob, len, "", 0);
    cand[1] = rule_by_pattern(cfg, "**", 2, "", 0);
    for (size_t c = 0; c < 2; c++)
        if (cand[c] && rule_grants(cfg, cand[c], id, OG_ACT_READ, glob, len, NULL, &v) != SRC_NONE &&
            pattern_covers(cand[c], glob, len))
            return true;
    for (size_t k = 1; k <= len && !has_glob_meta(glob, k); k++) {
        if (k < len && glob[k] != '/')
            continue;
        const struct og_repo_rule *r = rule_by_pattern(cfg, glob, k, "/**", 3);
        if (r && rule_grants(cfg, r, id, OG_ACT_READ, glob, len, NULL, &v) != SRC_NONE &&
            pattern_covers(r, glob, len))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* At load: tables that spare the catalog and the key page a scan.          */

static int strlist_cmp(const struct og_strlist *a, const struct og_strlist *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (size_t i = 0; i < a->n; i++) {
        int c = strcmp(a->v[i], b->v[i]);
        if (c)
            return c;
    }
    return 0;
}

struct rule_slot {
    const struct og_repo_rule *rule;
    uint32_t pos;
};

/* What the catalog's rule_grants (read, no request) looks at: entries'
   actions, users, groups and whether they carry conditions (never evaluated
   without a request: they count as false, or as holding when the identity
   carries no request), default and anonymous actions. Equal views grant
   alike for every identity. */
static int by_catalog_view(const void *pa, const void *pb)
{
    const struct og_repo_rule *a = ((const struct rule_slot *)pa)->rule;
    const struct og_repo_rule *b = ((const struct rule_slot *)pb)->rule;
    int c;

    if (a->default_actions != b->default_actions)
        return a->default_actions < b->default_actions ? -1 : 1;
    if (a->anonymous_actions != b->anonymous_actions)
        return a->anonymous_actions < b->anonymous_actions ? -1 : 1;
    if (a->npolicies != b->npolicies)
        return a->npolicies < b->npolicies ? -1 : 1;
    for (size_t i = 0; i < a->npolicies; i++) {
        const struct og_policy_entry *x = &a->policies[i], *y = &b->policies[i];
        if (x->actions != y->actions)
            return x->actions < y->actions ? -1 : 1;
        if ((x->nconditions > 0) != (y->nconditions > 0))
            return x->nconditions > 0 ? 1 : -1;
        if ((c = strlist_cmp(&x->users, &y->users)) || (c = strlist_cmp(&x->groups, &y->groups)))
            return c;
    }
    return 0;
}

/* pattern bytes against a[0..alen) + b[0..blen): bytewise, then shorter first */
static int pattern_cmp(const char *p, size_t plen, const char *a, size_t alen, const char *b,
                       size_t blen)
{
    for (size_t i = 0; i < plen && i < alen + blen; i++) {
        unsigned char x = (unsigned char)p[i];
        unsigned char y = (unsigned char)(i < alen ? a[i] : b[i - alen]);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return plen == alen + blen ? 0 : plen < alen + blen ? -1 : 1;
}

static int by_pattern(const void *pa, const void *pb)
{
    const struct og_repo_rule *a = ((const struct rule_slot *)pa)->rule;
    const struct og_repo_rule *b = ((const struct rule_slot *)pb)->rule;

    return pattern_cmp(a->pattern, a->pattern_len, b->pattern, b->pattern_len, "", 0);
}

/* The rule whose pattern is a[0..alen) + b[0..blen), or NULL: a binary
   search of rules_by_pattern. */
static const struct og_repo_rule *rule_by_pattern(const struct og_config *cfg, const char *a,
                                                  size_t alen, const char *b, size_t blen)
{
    size_t lo = 0, hi = cfg->nrules;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct og_repo_rule *r = &cfg->rules[cfg->rules_by_pattern[mid]];
        int c = pattern_cmp(r->pattern, r->pattern_len, a, alen, b, blen);
        if (c == 0)
            return r;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool og_policy_prepare(struct og_config *cfg)
{
    size_t n = cfg->nrules;
    struct rule_slot *s = calloc(n ? n : 1, sizeof *s);
    uint32_t *reps = calloc(n ? n : 1, sizeof *reps), *bypat = calloc(n ? n : 1, sizeof *bypat);
    size_t nreps = 0;
    bool ok = s && reps && bypat && n < UINT32_MAX;

    cfg->has_everything_rule = false;
    for (size_t i = 0; ok && i < n; i++) {
        s[i].rule = &cfg->rules[i];
        s[i].pos = (uint32_t)i;
        if (strcmp(cfg->rules[i].pattern, "**") == 0)
            cfg->has_everything_rule = true;
    }
    if (ok) {
        qsort(s, n, sizeof *s, by_catalog_view);
        for (size_t i = 0; i < n; i++)
            if (i == 0 || by_catalog_view(&s[i - 1], &s[i]) != 0)
                reps[nreps++] = s[i].pos;
        qsort(s, n, sizeof *s, by_pattern);
        for (size_t i = 0; i < n; i++)
            bypat[i] = s[i].pos;
        free(cfg->catalog_reps);
        free(cfg->rules_by_pattern);
        cfg->catalog_reps = reps;
        cfg->ncatalog_reps = nreps;
        cfg->rules_by_pattern = bypat;
        cfg->rules_prepared = true;
        reps = bypat = NULL;
    }
    free(s);
    free(reps);
    free(bypat);
    return ok;
}
