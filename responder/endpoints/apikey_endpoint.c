/*
 * apikey_endpoint.c - self-service API keys (doc/http.md), zot's shapes:
 *
 *   POST   PATH  {"label","scopes","expirationDate"} -> 201 key details + "apiKey"
 *   GET    PATH  -> {"apiKeys":[...]} (never a key or its hash)
 *   DELETE PATH?id=ID -> 200 (own keys; admins: any key), 404 when not found
 *
 * Only direct credentials manage keys: an OpenID Connect JWT from the
 * issuer or an htpasswd password. Anonymous is 401; an API key or an
 * ocigate token (a derived, delegated credential) is 403 for every method,
 * so that a short-lived pull token cannot mint a key that never expires.
 * A key made here records its origin (htpasswd or openid) and only the
 * groups the credential itself carries (an IdP's groups, copied); the
 * config's accessControl.groups are evaluated live from the key's user on
 * every use, and a key of an htpasswd user stops working when the user
 * leaves the file. Its scopes (repository globs) are enforced on every use.
 * A user holds at most auth.apikey.maxPerUser keys. A key expires at most
 * auth.apikey.maxLifetimeDays days after it is made (without an
 * expirationDate: exactly then).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "key_records.h"
#include "body.h"
#include "decide.h"
#include "endpoints.h"
#include "glob.h"
#include "identity.h"
#include "query.h"
#include "response.h"

#define BODY_MAX 8192

static size_t deny(struct og_worker_state *w, const struct og_request *req, int status,
                   const char *reason, char *buf, size_t cap, struct og_log_decision *log)
{
    return og_endpoint_deny(w, req, status, "apikey endpoint", reason, false, buf, cap, log);
}

static size_t reply(int status, json_t *body, char *buf, size_t cap, struct og_log_decision *log,
                    const char *reason)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t n = 0;
    if (s) {
        n = og_response_json(status, s, strlen(s), buf, cap);
        explicit_bzero(s, strlen(s));
        free(s);
    }
    json_decref(body);
    log->status = n ? status : 503;
    log->rule = "apikey endpoint";
    log->reason = reason;
    return n;
}

/* RFC 3339 ("2027-01-31T12:00:00Z", fractions and offsets allowed) -> time_t; -1 if bad. */
static time_t parse_rfc3339(const char *s)
{
    struct tm tm;
    const char *p;
    long off = 0;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p == 'Z' && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
    return timegm(&tm) - off;
}

static json_t *record_json(const struct og_apikey_record *r)
{
    json_t *scopes = json_loads(r->repos_json, 0, NULL);
    time_t exp = r->expires[0] ? parse_rfc3339(r->expires) : 0;
    if (!scopes || !json_is_array(scopes)) {
        json_decref(scopes);
        scopes = json_array();
    }
    return json_pack("{s:s,s:s,s:o,s:s,s:s,s:b,s:s,s:s,s:s}", "uuid", r->id, "label", r->label,
                     "scopes", scopes, "createdAt", r->created, "expirationDate", r->expires,
                     "isExpired", exp > 0 && exp <= time(NULL), "lastUsed", r->last_used,
                     "generatedBy", "manual", "user", r->user);
}

static void collect(const struct og_apikey_record *rec, void *arg)
{
    json_array_append_new((json_t *)arg, record_json(rec));
}

static size_t create_key(struct og_worker_state *w, const struct og_request *req,
                         const struct og_identity *id, const char *const *groups, size_t ngroups,
                         const struct og_body *body, char *buf, size_t cap,
                         struct og_log_decision *log)
{
    static char why[300];               /* the refusal's reason outlives this call (log) */
    char in[BODY_MAX], key[OG_APIKEY_LEN + 1], err[256];
    const char *origin = id->auth == OG_AUTH_OPENID ? "openid" : "htpasswd";
    int rc;
    const char *repos[OG_APIKEY_MAX_REPOS];
    struct og_apikey_record rec;
    json_t *doc, *scopes, *v, *out;
    const char *label = "", *expiry = NULL;
    time_t expires = 0;
    size_t nrepos = 0, i;
    long n = og_body_read_all(body, in, sizeof(in));

    if (n == OG_BODY_TOO_LARGE)
        return deny(w, req, 400, "request body larger than 8 KiB", buf, cap, log);
    if (n == OG_BODY_TIMEOUT)
        return deny(w, req, 408, "request body not received within limits.bodyTimeoutMs",
                    buf, cap, log);
    if (n < 0)
        return deny(w, req, 400, "request body unreadable", buf, cap, log);
    doc = json_loadb(in, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return deny(w, req, 400, "body must be a JSON object", buf, cap, log);
    }
    if ((v = json_object_get(doc, "label")) && !(label = json_string_value(v)))
        goto bad;
    if ((v = json_object_get(doc, "expirationDate")) && !json_is_null(v)) {
        expiry = json_string_value(v);
        if (!expiry)
            goto bad;
        if (*expiry) {
            expires = parse_rfc3339(expiry);
            if (expires <= time(NULL)) {
                json_decref(doc);
                return deny(w, req, 400, "expirationDate is not an RFC 3339 time in the future",
                            buf, cap, log);
            }
        }
    }
    /* auth.apikey.maxLifetimeDays: no expiry is the longest allowed; beyond
       it is refused (a minute's leeway for the client's clock) */
    {
        time_t limit = time(NULL) + (time_t)w->cfg->apikey_max_lifetime_days * 86400;
        if (!expires) {
            expires = limit;
        } else if (expires > limit + 60) {
            json_decref(doc);
            snprintf(why, sizeof(why), "expirationDate is more than "
                     "auth.apikey.maxLifetimeDays (%d) days away",
                     w->cfg->apikey_max_lifetime_days);
            return deny(w, req, 400, why, buf, cap, log);
        }
    }
    scopes = json_object_get(doc, "scopes");
    if (scopes && !json_is_null(scopes)) {
        if (!json_is_array(scopes) || json_array_size(scopes) > OG_APIKEY_MAX_REPOS)
            goto bad;
        json_array_foreach(scopes, i, v) {
            char gerr[128];
            const char *s = json_string_value(v);
            struct og_glob *g;
            if (!s || !*s)
                goto bad;
            g = og_glob_compile(s, strlen(s), gerr, sizeof(gerr));
            if (!g)
                goto bad;
            og_glob_free(g);
            repos[nrepos++] = s;
        }
    }
    if (!og_apikey_check_args(id->user, groups, ngroups, repos, nrepos, label, err,
                              sizeof(err))) {
        json_decref(doc);
        snprintf(why, sizeof(why), "%s", err);
        return deny(w, req, 400, why, buf, cap, log);
    }
    rc = og_apikey_create(w->redis, id->user, groups, ngroups, repos, nrepos, expires, label,
                          origin, w->cfg->apikey_max_per_user, key, &rec, err, sizeof(err));
    if (rc == OG_APIKEY_LIMIT) {
        json_decref(doc);
        snprintf(why, sizeof(why), "limit of %d API keys per user reached "
                 "(auth.apikey.maxPerUser): revoke one first", w->cfg->apikey_max_per_user);
        return deny(w, req, 403, why, buf, cap, log);
    }
    if (rc != 0) {
        json_decref(doc);
        return deny(w, req, 503, "the key store (Redis) could not be asked", buf, cap, log);
    }
    json_decref(doc);
    out = record_json(&rec);
    json_object_set_new(out, "apiKey", json_string(key));
    explicit_bzero(key, sizeof(key));
    return reply(201, out, buf, cap, log, "API key created");
bad:
    json_decref(doc);
    return deny(w, req, 400, "bad label, scopes or expirationDate", buf, cap, log);
}

size_t og_apikey_endpoint(struct og_worker_state *w, const struct og_request *req,
                          const struct og_body *body, char *buf, size_t cap,
                          struct og_log_decision *log)
{
    const struct og_config *cfg = w->cfg;
    struct og_identity id;
    struct og_identity_store store;
    const char *reason = "";
    int rc;

    log->action = "apikey";
    if (!cfg->apikey_enabled || !w->redis)
        return deny(w, req, 404, "API keys are not enabled", buf, cap, log);
    if ((rc = og_endpoint_identify(w, req, &id, &store, &reason, log)) != 0)
        return deny(w, req, rc, reason, buf, cap, log);
    if (id.auth == OG_AUTH_ANONYMOUS || !id.user || !*id.user)
        return deny(w, req, 401, "sign in to manage API keys", buf, cap, log);
    if (id.token)
        return deny(w, req, 403, "an ocigate token cannot manage API keys: sign in with a "
                    "password or an OpenID Connect token", buf, cap, log);
    if (id.auth == OG_AUTH_APIKEY)
        return deny(w, req, 403, "an API key cannot manage API keys", buf, cap, log);
    if (id.auth != OG_AUTH_HTPASSWD && id.auth != OG_AUTH_OPENID)
        return deny(w, req, 403, "only a password or an OpenID Connect token can manage "
                    "API keys", buf, cap, log);

    /* only the credential's own groups are stored (an IdP's); config groups
       are evaluated live from the key's user on every use */
    if (req->method_len == 4 && memcmp(req->method, "POST", 4) == 0)
        return create_key(w, req, &id, id.auth == OG_AUTH_OPENID ? id.groups : NULL,
                          id.auth == OG_AUTH_OPENID ? id.ngroups : 0, body, buf, cap, log);

    if (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) {
        json_t *list = json_array();
        if (og_apikey_list(w->redis, id.user, collect, list) < 0) {
            json_decref(list);
            return deny(w, req, 503, "the key store (Redis) could not be asked", buf, cap, log);
        }
        return reply(200, json_pack("{s:o}", "apiKeys", list), buf, cap, log, "API keys listed");
    }

    if (req->method_len == 6 && memcmp(req->method, "DELETE", 6) == 0) {
        struct og_query_iter it;
        char k[16], v[64], keyid[64] = "";
        size_t qlen;
        int ids = 0;
        const char *q = og_query_of(req->uri, req->uri_len, &qlen);
        og_query_init(&it, q, qlen);
        while ((rc = og_query_next(&it, k, sizeof(k), v, sizeof(v))) == 1)
            if (strcmp(k, "id") == 0) {
                ids++;
                snprintf(keyid, sizeof(keyid), "%s", v);
            }
        if (rc < 0 || ids != 1 || !keyid[0])
            return deny(w, req, 400, "exactly one id= is required", buf, cap, log);
        rc = og_apikey_revoke(w->redis, keyid,
                              og_is_admin(cfg, &id) ? NULL : id.user);
        if (rc < 0)
            return deny(w, req, 503, "the key store (Redis) could not be asked", buf, cap, log);
        if (rc == 0)
            return deny(w, req, 404, "no such key of yours", buf, cap, log);
        return reply(200, json_pack("{s:s}", "revoked", keyid), buf, cap, log, "API key revoked");
    }
    return deny(w, req, 405, "POST, GET or DELETE", buf, cap, log);
}
