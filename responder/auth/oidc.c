/*
 * oidc.c - OpenID Connect JWTs: the token routed to its issuer by iss
 * (and aud), checked against that issuer's JWKS, its claims checked and
 * mapped to an identity by the issuer's claimMapping (plain claim names, or
 * CEL over `claims` with variables and validations), verified tokens cached
 * per worker by SHA-256 until exp (+ leeway) with the mapping's result.
 *
 * Every input is bounded before it is decoded: a token over 16 KiB or a
 * segment over 8 KiB is refused before any base64 or JSON work. The
 * signature and the keys are jws.c (libcrypto, never libjwt); discovery
 * and the JWKS fetch are oidc_discovery.c (libcurl).
 */
#include "ocigate_build.h"
#include "oidc_state.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cel.h"
#include "config.h"
#include "digest.h"
#include "log.h"
#include "request.h"
#include "text.h"

/* ---- claims ---------------------------------------------------------------- */

/* What a verified token says, before it goes to the cache: struct oidc_claims. */

/* A NumericDate claim: 1 present and valid, 0 absent, -1 not a sane number. */
int oidc_numeric_date(json_t *c, const char *name, time_t *out)
{
    json_t *v = json_object_get(c, name);
    double d;

    if (!v)
        return 0;
    if (!json_is_number(v))
        return -1;
    d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > CLAIM_TIME_MAX)
        return -1;
    *out = (time_t)d;
    return 1;
}

static bool aud_ok(const struct og_openid_issuer *ic, json_t *aud)
{
    json_t *one;
    size_t i;

    if (json_is_string(aud)) {
        for (size_t j = 0; j < ic->audiences.n; j++)
            if (strcmp(json_string_value(aud), ic->audiences.v[j]) == 0)
                return true;
        return false;
    }
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, i, one)
        if (json_is_string(one) && aud_ok(ic, one))
            return true;
    return false;
}

/* The issuer a token's iss names (the first whose audiences its aud holds,
   when several entries share the issuer). NULL and why when none. */
static struct oidc_issuer *route(struct og_oidc *o, json_t *c, const char **why)
{
    const char *iss = json_string_value(json_object_get(c, "iss"));
    json_t *aud = json_object_get(c, "aud");
    bool known = false;

    for (size_t i = 0; iss && i < o->niss; i++) {
        if (strcmp(iss, o->iss[i].conf->issuer) != 0)
            continue;
        known = true;
        if (aud_ok(o->iss[i].conf, aud))
            return &o->iss[i];
    }
    *why = known ? "JWT aud holds none of the configured audiences"
                 : "JWT iss is not a configured issuer";
    return NULL;
}

static void add_group(struct oidc_claims *cl, const char *s, size_t n)
{
    /* Dropped, never cut: a shortened name could be another group. Commas
       and control bytes would break the groups answer. */
    if (!s || n == 0 || n > GROUP_MAX || og_has_control(s, n) || memchr(s, ',', n) ||
        memchr(s, '\0', n) || cl->ngroups == OG_ID_MAX_GROUPS ||
        cl->groups_len + n + 1 > sizeof cl->groups)
        return;
    memcpy(cl->groups + cl->groups_len, s, n);
    cl->groups[cl->groups_len + n] = '\0';
    cl->groups_len += n + 1;
    cl->ngroups++;
}

static const char *check_claims(const struct oidc_issuer *is, json_t *c, time_t now,
                                struct oidc_claims *cl)
{
    time_t exp = 0, nbf = 0, iat = 0;
    time_t leeway = is->conf->leeway_s > 0 ? is->conf->leeway_s : 0;
    int r;

    if ((r = oidc_numeric_date(c, "exp", &exp)) <= 0)
        return r == 0 ? "JWT has no exp" : "JWT exp is not a number";
    if (now >= exp + leeway)
        return "JWT has expired";
    if ((r = oidc_numeric_date(c, "nbf", &nbf)) < 0)
        return "JWT nbf is not a number";
    if (r > 0 && nbf > now + leeway)
        return "JWT is not valid yet (nbf)";
    if ((r = oidc_numeric_date(c, "iat", &iat)) < 0)
        return "JWT iat is not a number";
    if (r > 0 && iat > now + leeway)
        return "JWT is issued in the future (iat)";
    cl->until = exp + leeway;
    return NULL;
}

bool oidc_mapping_lacks(const struct oidc_issuer *is, json_t *c)
{
    const struct og_openid_issuer *ic = is->conf;

    return (!ic->username_prog && !json_object_get(c, ic->username)) ||
           (!ic->groups_prog && !json_object_get(c, ic->groups));
}

static bool usable_user(const char *s, size_t n)
{
    return s && n > 0 && n <= OG_USER_MAX && !og_has_control(s, n) && !memchr(s, '\0', n);
}

/* One claim expression: vals[0] is claims, vals[1..] the variables so far. */
static bool run(struct og_oidc *o, const struct og_cel_program *prog,
                const struct og_cel_value *vals, struct og_cel_value *out)
{
    return og_cel_eval(prog, vals, o->scratch, out);
}

static const char *map_groups(struct og_oidc *o, const struct og_openid_issuer *ic, json_t *c,
                              const struct og_cel_value *vals, struct oidc_claims *cl)
{
    struct og_cel_value g, e;
    json_t *gj;

    if (!ic->groups_prog) {
        gj = json_object_get(c, ic->groups);
        if (json_is_string(gj)) {
            add_group(cl, json_string_value(gj), json_string_length(gj));
        } else if (json_is_array(gj)) {
            size_t i;
            json_t *one;
            json_array_foreach(gj, i, one)
                if (json_is_string(one))
                    add_group(cl, json_string_value(one), json_string_length(one));
        }
        return NULL;
    }
    if (!run(o, ic->groups_prog, vals, &g)) {
        og_log(OG_LOG_WARN, "oidc: %s: claimMapping.groups failed: %s", ic->issuer,
               g.u.error ? g.u.error : "error");
        return "JWT claims do not map to groups (claimMapping.groups)";
    }
    if (g.kind == OG_CEL_STRING) {
        add_group(cl, g.u.s.p, g.u.s.n);
        return NULL;
    }
    if (g.kind != OG_CEL_LIST)
        return "claimMapping.groups is not a list or a string";
    for (size_t i = 0, n = og_cel_size(&g); i < n; i++) {
        if (!og_cel_list_get(&g, i, &e) || e.kind != OG_CEL_STRING)
            return "claimMapping.groups holds something other than strings";
        add_group(cl, e.u.s.p, e.u.s.n);
    }
    return NULL;
}

const char *oidc_map_claims(struct oidc_issuer *is, json_t *c, struct oidc_claims *cl)
{
    const struct og_openid_issuer *ic = is->conf;
    struct og_oidc *o = is->o;
    struct og_cel_value vals[1 + 64], v;
    json_t *user;

    o->st.mappings++;
    og_cel_scratch_reset(o->scratch);
    vals[0] = og_cel_json(c);
    for (size_t i = 0; i < ic->nvars && i < 64; i++) {
        if (!run(o, ic->vars[i].prog, vals, &vals[1 + i])) {
            og_log(OG_LOG_WARN, "oidc: %s: claimMapping variable %s failed: %s", ic->issuer,
                   ic->vars[i].name, vals[1 + i].u.error ? vals[1 + i].u.error : "error");
            return "JWT claims do not map (a claimMapping variable failed)";
        }
    }
    for (size_t i = 0; i < ic->nchecks; i++) {
        bool ok = run(o, ic->checks[i].prog, vals, &v);

        if (ok && v.kind == OG_CEL_BOOL && v.u.b)
            continue;
        /* the message is the operator's, for the log: the client learns only
           that a validation failed (it may describe what the rule expects) */
        og_log(OG_LOG_WARN, "oidc: %s: token refused by claimMapping.validations[%zu]: %s%s%s%s",
               ic->issuer, i, ic->checks[i].message,
               ok ? (v.kind == OG_CEL_BOOL ? "" : " (not a boolean)") : " (evaluation error: ",
               ok ? "" : (v.u.error ? v.u.error : "error"), ok ? "" : ")");
        return "JWT claims fail a validation of their issuer (see the log)";
    }
    if (ic->username_prog) {
        if (!run(o, ic->username_prog, vals, &v) || v.kind != OG_CEL_STRING) {
            og_log(OG_LOG_WARN, "oidc: %s: claimMapping.username failed: %s", ic->issuer,
                   v.kind == OG_CEL_ERROR && v.u.error ? v.u.error : "not a string");
            return "JWT claims do not map to a username (claimMapping.username)";
        }
        if (!usable_user(v.u.s.p, v.u.s.n))
            return "claimMapping.username gives no usable username";
        memcpy(cl->user, v.u.s.p, v.u.s.n);
        cl->user[v.u.s.n] = '\0';
    } else {
        user = json_object_get(c, ic->username);
        if (!json_is_string(user) ||
            !usable_user(json_string_value(user), json_string_length(user)))
            return "JWT has no usable username claim";
        /* an address the IdP says it has not verified names nobody: anyone may
           have typed it into their profile */
        if (strcmp(ic->username, "email") == 0 &&
            json_is_false(json_object_get(c, "email_verified")))
            return "JWT email is not verified (email_verified is false)";
        memcpy(cl->user, json_string_value(user), json_string_length(user) + 1);
    }
    cl->groups_len = cl->ngroups = 0;
    return map_groups(o, ic, c, vals, cl);
}

/* ---- cache ---------------------------------------------------------------- */

static void cache_drop(struct cache_entry *e)
{
    free(e->blob);
    json_decref(e->verified);
    memset(e, 0, sizeof(*e));
}

void oidc_cache_flush(struct og_oidc *o)
{
    for (size_t i = 0; i < CACHE_SIZE; i++)
        cache_drop(&o->cache[i]);
}

void oidc_cache_flush_issuer(struct og_oidc *o, unsigned issuer)
{
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        if (!o->cache[i].blob || o->cache[i].issuer != issuer)
            continue;
        cache_drop(&o->cache[i]);
    }
}

static struct cache_entry *cache_find(struct og_oidc *o, const unsigned char h[32], time_t now)
{
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        struct cache_entry *e = &o->cache[i];
        if (!e->blob || memcmp(e->hash, h, 32) != 0)
            continue;
        if (now < e->until)
            return e;
        cache_drop(e);
        return NULL;
    }
    return NULL;
}

static struct cache_entry *cache_put(struct og_oidc *o, const unsigned char h[32], time_t now,
                                     const struct oidc_claims *cl, unsigned issuer, json_t *claims)
{
    struct cache_entry *victim = NULL;
    size_t ulen = strlen(cl->user) + 1;
    char *blob = malloc(ulen + cl->groups_len);

    if (!blob)
        return NULL;
    for (size_t i = 0; i < CACHE_SIZE && !victim; i++)
        if (!o->cache[i].blob || o->cache[i].until <= now)
            victim = &o->cache[i];
    if (!victim)            /* full of live entries: round robin */
        victim = &o->cache[o->hand++ % CACHE_SIZE];
    cache_drop(victim);
    memcpy(blob, cl->user, ulen);
    memcpy(blob + ulen, cl->groups, cl->groups_len);
    memcpy(victim->hash, h, 32);
    victim->until = cl->until;
    victim->blob = blob;
    victim->ngroups = cl->ngroups;
    victim->issuer = issuer;
    /* kept for accessControl conditions (req.claims), only when there are some */
    victim->verified = o->cfg->has_conditions ? json_incref(claims) : NULL;
    return victim;
}

/* The identity, copied into the request's store (it outlives cache evictions);
   the claims are held by o until its next token. */
static void fill_identity(struct og_oidc *o, const struct cache_entry *e,
                          struct og_identity *id, struct og_identity_store *store)
{
    json_decref(o->held);
    o->held = json_incref(e->verified);
    store->claims = o->held;
    const char *p = e->blob;
    size_t n = strlen(p), used = 0;

    memcpy(store->user, p, n + 1);
    p += n + 1;
    for (size_t i = 0; i < e->ngroups; i++) {
        n = strlen(p);
        memcpy(store->group_buf + used, p, n + 1);
        store->group_ptrs[i] = store->group_buf + used;
        used += n + 1;
        p += n + 1;
    }
    id->user = store->user;
    id->auth = OG_AUTH_OPENID;
    id->groups = store->group_ptrs;
    id->ngroups = e->ngroups;
    id->scopes = NULL;
    id->nscopes = 0;
}

/* ---- API ------------------------------------------------------------------ */

struct og_oidc *og_oidc_new(const struct og_config *cfg)
{
    struct og_oidc *o;
    bool loopback;

    if (!cfg || !cfg->openid_enabled || cfg->nopenid == 0 || !(o = calloc(1, sizeof(*o))))
        return NULL;
    o->cfg = cfg;
    o->timeout_ms = cfg->registry_timeout_ms > 0 ? cfg->registry_timeout_ms : 2000;
    if (!(o->iss = calloc(cfg->nopenid, sizeof *o->iss)) ||
        !(o->scratch = malloc(sizeof *o->scratch))) {
        og_oidc_free(o);
        return NULL;
    }
    o->niss = cfg->nopenid;
    for (size_t i = 0; i < o->niss; i++) {
        struct oidc_issuer *is = &o->iss[i];
        size_t n;

        is->o = o;
        is->conf = &cfg->openid[i];
        is->index = (unsigned)i;
        if (!is->conf->issuer || strlen(is->conf->issuer) >= URL_MAX) {
            og_oidc_free(o);
            return NULL;
        }
        snprintf(is->issuer, sizeof is->issuer, "%s", is->conf->issuer);
        snprintf(is->base, sizeof is->base, "%s", is->conf->issuer);
        n = strlen(is->base);
        if (n && is->base[n - 1] == '/')
            is->base[n - 1] = '\0';
        is->url_ok = oidc_url_allowed(is->issuer, &loopback);
        if (!is->url_ok)
            og_log(OG_LOG_ERROR, "oidc: issuer %s: https required (http only on loopback); "
                   "its JWTs get 503", is->issuer);
    }
    o->signin = &o->iss[cfg->openid_signin >= 0 && (size_t)cfg->openid_signin < o->niss
                        ? (size_t)cfg->openid_signin : 0];
    return o;
}

void og_oidc_free(struct og_oidc *o)
{
    if (!o)
        return;
    oidc_cache_flush(o);
    json_decref(o->held);
    for (size_t i = 0; o->iss && i < o->niss; i++)
        oidc_free_keys(o->iss[i].keys, o->iss[i].nkeys);
    free(o->iss);
    free(o->scratch);
    if (o->curl)
        curl_easy_cleanup(o->curl);
    free(o);
}

/* Cheap checks on the raw token: size, alphabet, exactly three segments. */
const char *oidc_split(const char *t, size_t len, size_t seg[3])
{
    size_t start = 0, k = 0;

    if (len == 0 || len > TOKEN_MAX)
        return "JWT is empty or too large";
    for (size_t i = 0; i <= len; i++) {
        if (i == len || t[i] == '.') {
            if (k == 3)
                return "JWT does not have three parts";
            seg[k++] = i - start;
            start = i + 1;
            continue;
        }
        unsigned char c = (unsigned char)t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return "JWT is not base64url";
    }
    if (k != 3)
        return "JWT does not have three parts";
    if (seg[0] == 0 || seg[1] == 0)
        return "JWT has an empty part";
    if (seg[0] > SEGMENT_MAX || seg[1] > SEGMENT_MAX || seg[2] > SEGMENT_MAX)
        return "JWT part too large";
    return NULL;
}

enum og_identify_result og_oidc_identify(struct og_oidc *o, const char *token, size_t len,
                                         struct og_identity *id, struct og_identity_store *store,
                                         const char **reason, int *cache_hit)
{
    unsigned char h[32], buf[SEGMENT_MAX];
    size_t seg[3];
    const char *why, *sig_in, *kid_p;
    char kid[KID_MAX + 1];
    bool has_kid = false, kid_known;
    json_t *hdr = NULL, *claims = NULL;
    struct oidc_claims *cl = NULL;
    struct oidc_issuer *is;
    const struct jwk *key;
    struct cache_entry *e;
    enum og_identify_result res = OG_ID_BAD_CREDENTIALS;
    time_t now;
    long n;
    int alg = -1;

    if (cache_hit)
        *cache_hit = 0;
    if (!o) {
        *reason = "OpenID Connect is not configured";
        return OG_ID_BAD_CREDENTIALS;
    }
    if ((why = oidc_split(token, len, seg)))
        goto fail;
    now = now_of(o);
    why = "internal error";
    if (!og_sha256(token, len, h))
        goto fail;
    if ((e = cache_find(o, h, now))) {
        fill_identity(o, e, id, store);
        if (cache_hit)
            *cache_hit = 1;
        *reason = "";
        return OG_ID_OK;
    }

    why = "JWT header is not base64url JSON";
    if ((n = oidc_b64url(o, token, seg[0], buf, sizeof buf)) <= 0 ||
        !(hdr = oidc_parse_json(o, buf, (size_t)n)))
        goto fail;
    if ((why = oidc_check_header(hdr, &alg, kid, &has_kid)))
        goto fail;

    why = "JWT payload is not base64url JSON";
    if ((n = oidc_b64url(o, token + seg[0] + 1, seg[1], buf, sizeof buf)) <= 0 ||
        !(claims = oidc_parse_json(o, buf, (size_t)n)))
        goto fail;
    why = "internal error";
    if (!(cl = malloc(sizeof(*cl))))
        goto fail;
    /* the issuer first: only its keys are fetched, only its keys tried */
    if (!(is = route(o, claims, &why)) || (why = check_claims(is, claims, now, cl)))
        goto fail;

    oidc_ensure_jwks(is, now);
    if (is->nkeys == 0) {
        why = "OpenID provider keys (JWKS) unavailable";
        res = OG_ID_UNAVAILABLE;
        goto fail;
    }
    kid_p = has_kid ? kid : NULL;
    key = oidc_find_key(is, kid_p, alg, &kid_known);
    if (!key && !kid_known && oidc_may_refresh(is, now, REFRESH_MIN_S)) {
        oidc_refresh(is);   /* unknown kid: the IdP may have rotated its keys */
        key = oidc_find_key(is, kid_p, alg, &kid_known);
    }
    if (!key) {
        why = kid_known ? "JWT alg does not match the key"
                        : (has_kid ? "JWT kid is unknown" : "JWT has no kid");
        goto fail;
    }

    why = "JWT signature is invalid";
    sig_in = token + seg[0] + 1 + seg[1] + 1;
    n = seg[2] ? oidc_b64url(o, sig_in, seg[2], buf, sizeof buf) : -1;
    if (n <= 0 || !oidc_verify_sig(o, key, alg, token, seg[0] + 1 + seg[1], buf, (size_t)n))
        goto fail;

    /* signed by its issuer: now the claims rules (CEL), once per token */
    if ((why = oidc_map_claims(is, claims, cl)))
        goto fail;
    why = "internal error";
    if (!(e = cache_put(o, h, now, cl, is->index, claims)))
        goto fail;
    fill_identity(o, e, id, store);
    free(cl);
    json_decref(hdr);
    json_decref(claims);
    *reason = "";
    return OG_ID_OK;
fail:
    free(cl);
    json_decref(hdr);
    json_decref(claims);
    *reason = why;
    return res;
}

long og_oidc_issuer_jwks_age(const struct og_oidc *o, size_t i)
{
    if (!o || i >= o->niss || o->iss[i].fetched_at == 0)
        return -1;
    return (long)(now_of(o) - o->iss[i].fetched_at);
}

long og_oidc_jwks_age(const struct og_oidc *o)
{
    return og_oidc_issuer_jwks_age(o, 0);
}

size_t og_oidc_issuers(const struct og_oidc *o)
{
    return o ? o->niss : 0;
}

const char *og_oidc_issuer_url(const struct og_oidc *o, size_t i)
{
    return o && i < o->niss ? o->iss[i].issuer : NULL;
}

int og_oidc_set_issuer_jwks(struct og_oidc *o, size_t i, const char *jwks_json, size_t len)
{
    return o && i < o->niss ? oidc_install_jwks(&o->iss[i], jwks_json, len) : -1;
}

int og_oidc_set_jwks(struct og_oidc *o, const char *jwks_json, size_t len)
{
    return og_oidc_set_issuer_jwks(o, 0, jwks_json, len);
}

void og_oidc_set_fetcher(struct og_oidc *o, og_oidc_get_fn get, void *arg)
{
    o->get = get;
    o->get_arg = arg;
}

void og_oidc_set_now(struct og_oidc *o, time_t now)
{
    o->fake_now = now;
}

void og_oidc_get_stats(const struct og_oidc *o, struct og_oidc_stats *out)
{
    *out = o->st;
}
