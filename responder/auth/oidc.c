/*
 * oidc.c - OpenID Connect JWTs: the token checked against the
 * issuer's JWKS, its claims checked and mapped to an identity, verified
 * tokens cached per worker by SHA-256 until exp (+ leeway).
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

#include "config.h"
#include "digest.h"
#include "log.h"
#include "request.h"
#include "text.h"

/* ---- claims ---------------------------------------------------------------- */

/* What a verified token says, before it goes to the cache. */
#define claims oidc_claims

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

static bool aud_ok(const struct og_config *cfg, json_t *aud)
{
    json_t *one;
    size_t i;

    if (json_is_string(aud)) {
        for (size_t j = 0; j < cfg->openid_audiences.n; j++)
            if (strcmp(json_string_value(aud), cfg->openid_audiences.v[j]) == 0)
                return true;
        return false;
    }
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, i, one)
        if (json_is_string(one) && aud_ok(cfg, one))
            return true;
    return false;
}

static void add_group(struct claims *cl, json_t *g)
{
    const char *s = json_string_value(g);
    size_t n = json_string_length(g);

    /* Dropped, never cut: a shortened name could be another group. Commas
       and control bytes would break the groups answer. */
    if (!s || n == 0 || n > GROUP_MAX || og_has_control(s, n) || memchr(s, ',', n) ||
        cl->ngroups == OG_ID_MAX_GROUPS || cl->groups_len + n + 1 > sizeof cl->groups)
        return;
    memcpy(cl->groups + cl->groups_len, s, n + 1);
    cl->groups_len += n + 1;
    cl->ngroups++;
}

static const char *check_claims(const struct og_oidc *o, json_t *c, time_t now, struct claims *cl)
{
    const struct og_config *cfg = o->cfg;
    const char *iss = json_string_value(json_object_get(c, "iss"));
    time_t exp = 0, nbf = 0, iat = 0;
    time_t leeway = cfg->openid_leeway_s > 0 ? cfg->openid_leeway_s : 0;
    int r;

    if (!iss || strcmp(iss, cfg->openid_issuer) != 0)
        return "JWT iss is not the configured issuer";
    if (!aud_ok(cfg, json_object_get(c, "aud")))
        return "JWT aud holds none of the configured audiences";
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
    return oidc_map_claims(cfg, c, cl);
}

const char *oidc_map_claims(const struct og_config *cfg, json_t *c, struct claims *cl)
{
    json_t *user = json_object_get(c, cfg->openid_claim_username);
    json_t *groups = json_object_get(c, cfg->openid_claim_groups);

    if (!json_is_string(user) || json_string_length(user) == 0 ||
        json_string_length(user) > OG_USER_MAX ||
        og_has_control(json_string_value(user), json_string_length(user)))
        return "JWT has no usable username claim";
    /* an address the IdP says it has not verified names nobody: anyone may
       have typed it into their profile */
    if (strcmp(cfg->openid_claim_username, "email") == 0 &&
        json_is_false(json_object_get(c, "email_verified")))
        return "JWT email is not verified (email_verified is false)";
    memcpy(cl->user, json_string_value(user), json_string_length(user) + 1);
    cl->groups_len = cl->ngroups = 0;
    if (json_is_string(groups)) {
        add_group(cl, groups);
    } else if (json_is_array(groups)) {
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
            add_group(cl, g);
    }
    return NULL;
}

/* ---- cache ---------------------------------------------------------------- */

void oidc_cache_flush(struct og_oidc *o)
{
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        free(o->cache[i].blob);
        json_decref(o->cache[i].token_claims);
        memset(&o->cache[i], 0, sizeof(o->cache[i]));
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
        free(e->blob);
        json_decref(e->token_claims);
        memset(e, 0, sizeof(*e));
        return NULL;
    }
    return NULL;
}

static struct cache_entry *cache_put(struct og_oidc *o, const unsigned char h[32], time_t now,
                                     const struct claims *cl, json_t *claims)
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
    free(victim->blob);
    json_decref(victim->token_claims);
    victim->token_claims = o->cfg->has_conditions ? json_incref(claims) : NULL;
    memcpy(blob, cl->user, ulen);
    memcpy(blob + ulen, cl->groups, cl->groups_len);
    memcpy(victim->hash, h, 32);
    victim->until = cl->until;
    victim->blob = blob;
    victim->ngroups = cl->ngroups;
    return victim;
}

/* The identity, copied into the request's store (it outlives cache evictions). */
static void fill_identity(const struct cache_entry *e, struct og_identity *id,
                          struct og_identity_store *store)
{
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
    store->token_claims = e->token_claims;   /* valid for this request: nothing evicts it before its end */
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
    size_t n;
    bool loopback;

    if (!cfg || !cfg->openid_enabled || !cfg->openid_issuer ||
        strlen(cfg->openid_issuer) >= URL_MAX || !(o = calloc(1, sizeof(*o))))
        return NULL;
    o->cfg = cfg;
    snprintf(o->issuer, sizeof o->issuer, "%s", cfg->openid_issuer);
    snprintf(o->base, sizeof o->base, "%s", cfg->openid_issuer);
    n = strlen(o->base);
    if (n && o->base[n - 1] == '/')
        o->base[n - 1] = '\0';
    o->timeout_ms = cfg->registry_timeout_ms > 0 ? cfg->registry_timeout_ms : 2000;
    o->url_ok = oidc_url_allowed(o->issuer, &loopback);
    if (!o->url_ok)
        og_log(OG_LOG_ERROR, "oidc: issuer %s: https required (http only on loopback); "
               "JWTs get 503", o->issuer);
    return o;
}

void og_oidc_free(struct og_oidc *o)
{
    if (!o)
        return;
    oidc_cache_flush(o);
    oidc_free_keys(o->keys, o->nkeys);
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
    struct claims *cl = NULL;
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
        fill_identity(e, id, store);
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
    if ((why = check_claims(o, claims, now, cl)))
        goto fail;

    oidc_ensure_jwks(o, now);
    if (o->nkeys == 0) {
        why = "OpenID provider keys (JWKS) unavailable";
        res = OG_ID_UNAVAILABLE;
        goto fail;
    }
    kid_p = has_kid ? kid : NULL;
    key = oidc_find_key(o, kid_p, alg, &kid_known);
    if (!key && !kid_known && oidc_may_refresh(o, now, REFRESH_MIN_S)) {
        oidc_refresh(o);   /* unknown kid: the IdP may have rotated its keys */
        key = oidc_find_key(o, kid_p, alg, &kid_known);
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

    why = "internal error";
    if (!(e = cache_put(o, h, now, cl, claims)))
        goto fail;
    fill_identity(e, id, store);
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

long og_oidc_jwks_age(const struct og_oidc *o)
{
    if (!o || o->fetched_at == 0)
        return -1;
    return (long)(now_of(o) - o->fetched_at);
}

int og_oidc_set_jwks(struct og_oidc *o, const char *jwks_json, size_t len)
{
    return o ? oidc_install_jwks(o, jwks_json, len) : -1;
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
