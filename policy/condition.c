/*
 * condition.c - zot's `req` map for accessControl conditions, and their
 * evaluation (doc/decisions.md lists the fields).
 *
 * The activation is 18 values on the stack; strings point into the route,
 * the identity and the request environment; req.user.groups are the
 * identity's effective groups (its own and the config groups naming it);
 * req.client.forwardedFor is the X-Forwarded-For text read as a list
 * without copying. Pure, no allocation.
 */
#include "condition.h"

#include <string.h>

#include "action.h"

const struct og_cel_decl og_condition_decls[] = {
    { "req.method", OG_CEL_STRING },
    { "req.userAgent", OG_CEL_STRING },
    { "req.action", OG_CEL_STRING },
    { "req.repository", OG_CEL_STRING },
    { "req.reference", OG_CEL_STRING },
    { "req.referenceType", OG_CEL_STRING },
    { "req.tag", OG_CEL_STRING },
    { "req.digest", OG_CEL_STRING },
    { "req.user.username", OG_CEL_STRING },
    { "req.user.groups", OG_CEL_LIST },
    { "req.client.ip", OG_CEL_STRING },
    { "req.client.forwardedFor", OG_CEL_LIST },
    { "req.auth.anonymous", OG_CEL_BOOL },
    { "req.auth.admin", OG_CEL_BOOL },
    { "req.tls.enabled", OG_CEL_BOOL },
    { "req.tls.version", OG_CEL_STRING },
    { "req.time", OG_CEL_TIMESTAMP },
    { "req.claims", OG_CEL_DYN },
};
const size_t og_condition_ndecls = sizeof og_condition_decls / sizeof og_condition_decls[0];

enum { V_METHOD, V_UA, V_ACTION, V_REPO, V_REF, V_REFTYPE, V_TAG, V_DIGEST, V_USER, V_GROUPS,
       V_IP, V_XFF, V_ANON, V_ADMIN, V_TLS, V_TLSVER, V_TIME, V_CLAIMS, V_N };

#define MAX_GROUPS 64

enum og_condition_result og_conditions_eval(const struct og_config *cfg,
                                            const struct og_policy_entry *e,
                                            const struct og_identity *id,
                                            const struct og_condition_check *c,
                                            size_t *failed)
{
    static const struct og_request_env none;
    const struct og_request_env *env = id && id->env ? id->env : &none;
    struct og_cel_value v[V_N];
    const char *groups[MAX_GROUPS];
    size_t ngroups = og_effective_groups(cfg, id, groups, MAX_GROUPS);
    bool anonymous = !id || !id->user || !id->user[0];
    const char *ref = c->reference ? c->reference : "";
    bool digest = strchr(ref, ':') != NULL;
    struct og_cel_scratch s;

    v[V_METHOD] = og_cel_cstr(c->method);
    v[V_UA] = og_cel_cstr(env->user_agent);
    v[V_ACTION] = og_cel_cstr(og_action_name(c->action));
    v[V_REPO] = og_cel_str(c->repo ? c->repo : "", c->repo ? c->repo_len : 0);
    v[V_REF] = og_cel_cstr(ref);
    v[V_REFTYPE] = og_cel_cstr(!ref[0] ? "" : digest ? "digest" : "tag");
    v[V_TAG] = og_cel_cstr(ref[0] && !digest ? ref : "");
    v[V_DIGEST] = og_cel_cstr(digest ? ref : "");
    v[V_USER] = og_cel_cstr(anonymous ? "" : id->user);
    v[V_GROUPS] = og_cel_strs(groups, ngroups);
    v[V_IP] = og_cel_cstr(env->client_ip);
    v[V_XFF] = og_cel_csv(env->forwarded_for ? env->forwarded_for : "",
                          env->forwarded_for ? strlen(env->forwarded_for) : 0);
    v[V_ANON] = og_cel_bool(anonymous);
    v[V_ADMIN] = og_cel_bool(og_is_admin(cfg, id));
    v[V_TLS] = og_cel_bool(env->tls);
    v[V_TLSVER] = og_cel_cstr(env->tls_version);
    v[V_TIME] = og_cel_timestamp(env->time_s, env->time_ns);
    v[V_CLAIMS] = og_cel_json(env->claims);

    for (size_t i = 0; i < e->nconditions; i++) {
        struct og_cel_value out;

        og_cel_scratch_reset(&s);
        *failed = i;
        if (!og_cel_eval(e->conditions[i].program, v, &s, &out) || out.kind != OG_CEL_BOOL)
            return OG_COND_ERROR;
        if (!out.u.b)
            return OG_COND_FALSE;
    }
    return OG_COND_HOLD;
}
