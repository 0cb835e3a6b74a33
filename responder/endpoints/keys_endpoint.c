/*
 * keys_endpoint.c - the key page (doc/http.md): a signed-in person's API
 * keys, served by ocigate itself under endpoints.keys.
 *
 *   GET  K              the page: who is signed in, the keys (an admin's:
 *                       everyone's), the form to create one
 *   GET  K/app.css, K/app.js   its stylesheet and script (keys_assets.c)
 *   POST K/create       label, repos, expires -> the page with the new key,
 *                       shown this once
 *   POST K/revoke       id -> 303 to K (own keys; admins: any key)
 *   POST K/revoke-user  user -> 303 to K (admins: every key of that user)
 *
 * Without a session, GET redirects to endpoints.login and anything else is
 * 403. Every POST must carry the session's CSRF token (field "csrf"), must
 * not come from another origin (Origin other than externalUrl's, or
 * Sec-Fetch-Site: cross-site) and must be a form body. Keys made here have
 * origin openid: they carry the session's own (IdP) groups, accessControl
 * groups apply live, and they end only by expiry (at most
 * auth.apikey.maxLifetimeDays) or revocation. Every creation and
 * revocation is logged with who did it and the key's id, never the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "body.h"
#include "decide.h"
#include "endpoints.h"
#include "form.h"
#include "identity.h"
#include "key_records.h"
#include "keys_page.h"
#include "log.h"
#include "query.h"
#include "session.h"

#define FORM_MAX  16384
#define LIST_MAX  400          /* keys one page lists (more: said on the page) */

/* One request at a time per worker: the list lives here, not on the stack. */
static struct og_apikey_record list_buf[LIST_MAX];

struct list_ctx {
    size_t n;
    size_t more;
};

static void collect(const struct og_apikey_record *rec, void *arg)
{
    struct list_ctx *c = arg;

    if (c->n < LIST_MAX)
        list_buf[c->n++] = *rec;
    else
        c->more++;
}

/* by user, then newest first */
static int by_user_newest(const void *a, const void *b)
{
    const struct og_apikey_record *x = a, *y = b;
    int c = strcmp(x->user, y->user);

    return c ? c : strcmp(y->created, x->created);
}

/* The rest of one request: what every step needs. */
struct page {
    struct og_worker_state *w;
    const struct og_request *req;
    char *buf;
    size_t cap;
    struct og_log_decision *log;
    struct og_session s;
    struct og_identity id;
    struct og_identity_store store;
    bool admin;
    char csrf[OG_SESSION_CSRF_LEN + 1];
    char host[256];
    bool signin;                  /* a message page offers #signin (no session) */
};

static size_t done(struct og_log_decision *log, int status, const char *reason, size_t n)
{
    log->status = n ? status : 503;
    log->rule = "key page";
    log->reason = reason;
    return n;
}

static size_t message(struct page *p, int status, const char *title, const char *text,
                      const char *reason)
{
    return done(p->log, status, reason,
                og_keys_render_message(status, title, text, p->w->cfg->endpoint_keys,
                                       p->signin ? p->w->cfg->endpoint_login : NULL, p->buf,
                                       p->cap));
}

static bool method_is(const struct og_request *req, const char *m)
{
    size_t n = strlen(m);
    return req->method && req->method_len == n && memcmp(req->method, m, n) == 0;
}

/* List and render, with what the form said (view: notice, error, new key...). */
static size_t render(struct page *p, struct og_keys_view *v, int status, const char *reason)
{
    const struct og_config *cfg = p->w->cfg;
    struct list_ctx c = { 0, 0 };
    long rc;

    v->base = cfg->endpoint_keys;
    v->logout = cfg->endpoint_logout;
    v->user = p->id.user;
    v->admin = p->admin;
    v->csrf = p->csrf;
    v->host = p->host;
    v->max_days = cfg->apikey_max_lifetime_days;
    rc = og_apikey_list(p->w->redis, p->admin ? NULL : p->id.user, collect, &c);
    if (rc < 0 && !v->new_key)
        return message(p, 503, "Key store unavailable",
                       "The key store (Redis) cannot be reached, so your keys cannot be shown "
                       "or changed right now. Nothing was changed. Try again in a moment.",
                       "the key store (Redis) could not be asked");
    if (rc < 0) {
        c.n = 0;
        v->error = "The key was created, but the list of keys cannot be shown: the key store "
                   "(Redis) did not answer.";
    }
    qsort(list_buf, c.n, sizeof(list_buf[0]), by_user_newest);
    v->keys = list_buf;
    v->nkeys = c.n;
    return done(p->log, status, reason, og_keys_render_page(v, status, p->buf, p->cap));
}

static size_t create(struct page *p, char *label, char *repos, char *expires)
{
    static char why[320];                 /* the log line reads it after we return */
    const struct og_config *cfg = p->w->cfg;
    struct og_keys_view v;
    const char *globs[OG_APIKEY_MAX_REPOS];
    char copy[FORM_MAX], err[256], key[OG_APIKEY_LEN + 1];
    struct og_apikey_record rec;
    time_t exp;
    long n;
    size_t out;
    int rc;

    memset(&v, 0, sizeof(v));
    v.label = label;
    v.repos = repos;
    v.expires = expires;
    snprintf(copy, sizeof(copy), "%s", repos);
    n = og_keys_split_repos(copy, globs, OG_APIKEY_MAX_REPOS);
    if (n < 0) {
        v.error = "Repositories: at most 32 globs.";
        return render(p, &v, 400, "too many repository globs");
    }
    if (!og_keys_parse_expires(expires, time(NULL), cfg->apikey_max_lifetime_days, &exp, err,
                               sizeof(err))) {
        snprintf(why, sizeof(why), "%s.", err);
        v.error = why;
        return render(p, &v, 400, "bad expiry");
    }
    if (!og_apikey_check_args(p->id.user, p->id.groups, p->id.ngroups, globs, (size_t)n, label,
                              err, sizeof(err))) {
        snprintf(why, sizeof(why), "Not created: %s.", err);
        v.error = why;
        return render(p, &v, 400, "bad label or repository glob");
    }
    for (long i = 0; i < n; i++)
        if (!og_scope_within_reach(cfg, &p->id, globs[i], strlen(globs[i]))) {
            snprintf(why, sizeof(why), "Not created: %.200s is not within the repositories "
                     "you may read.", globs[i]);
            v.error = why;
            return render(p, &v, 403, "repository glob outside the user's reach");
        }
    rc = og_apikey_create(p->w->redis, p->id.user, p->id.groups, p->id.ngroups, globs,
                          (size_t)n, exp, label, "openid", cfg->apikey_max_per_user, key, &rec,
                          err, sizeof(err));
    if (rc == OG_APIKEY_LIMIT) {
        snprintf(why, sizeof(why), "Not created: you hold the most keys allowed (%d, "
                 "auth.apikey.maxPerUser). Revoke one first.", cfg->apikey_max_per_user);
        v.error = why;
        return render(p, &v, 403, "limit of API keys per user reached");
    }
    if (rc != 0)
        return message(p, 503, "Key store unavailable",
                       "The key store (Redis) cannot be reached: no key was created. Try again "
                       "in a moment.", "the key store (Redis) could not be asked");
    snprintf(p->log->key_id_buf, sizeof(p->log->key_id_buf), "%s", rec.id);
    p->log->key_id = p->log->key_id_buf;
    v.label = v.repos = v.expires = NULL;
    v.new_key = key;
    v.new_rec = &rec;
    v.notice = "Key created.";
    out = render(p, &v, 200, "API key created on the key page");
    explicit_bzero(key, sizeof(key));
    return out;
}

/* 303 to endpoints.keys?done=WHAT (post, redirect, get: a reload repeats nothing). */
static size_t back_to_page(struct page *p, const char *what)
{
    char loc[1024];

    snprintf(loc, sizeof(loc), "%s?done=%s", p->w->cfg->endpoint_keys, what);
    return og_keys_render_redirect(loc, p->buf, p->cap);
}

static size_t revoke(struct page *p, const char *keyid)
{
    static char why[400];
    struct og_apikey_record rec;
    int rc;

    if (!*keyid)
        return message(p, 400, "No key given", "The request named no key.", "no key id");
    rc = og_apikey_show(p->w->redis, keyid, &rec);
    if (rc == 1 && !p->admin && strcmp(rec.user, p->id.user) != 0)
        rc = 0;                                  /* not yours: as if it did not exist */
    if (rc == 1)
        rc = og_apikey_revoke(p->w->redis, keyid, p->admin ? NULL : p->id.user);
    if (rc < 0)
        return message(p, 503, "Key store unavailable",
                       "The key store (Redis) cannot be reached: the key was not revoked. Try "
                       "again in a moment.", "the key store (Redis) could not be asked");
    if (rc == 0)
        return message(p, 404, "No such key",
                       "There is no such key of yours: it may have expired or been revoked "
                       "already.", "no such key of the user");
    snprintf(p->log->key_id_buf, sizeof(p->log->key_id_buf), "%s", rec.id);
    p->log->key_id = p->log->key_id_buf;
    snprintf(why, sizeof(why), "API key of user %.256s revoked on the key page", rec.user);
    return done(p->log, 303, why, back_to_page(p, "revoked"));
}

static void collect_ids(const struct og_apikey_record *rec, void *arg)
{
    struct list_ctx *c = arg;

    if (c->n < LIST_MAX)
        memcpy(list_buf[c->n++].id, rec->id, sizeof(rec->id));
    else
        c->more++;
}

static size_t revoke_user(struct page *p, const char *user)
{
    static char why[400];
    struct list_ctx c = { 0, 0 };
    size_t revoked = 0;

    if (!p->admin)
        return message(p, 403, "Not allowed", "Only an administrator may revoke another "
                       "person's keys.", "revoke-user by a non-admin");
    if (!*user)
        return message(p, 400, "No user given", "The request named no user.", "no user");
    if (og_apikey_list(p->w->redis, user, collect_ids, &c) < 0)
        goto unavailable;
    for (size_t i = 0; i < c.n; i++) {
        int rc = og_apikey_revoke(p->w->redis, list_buf[i].id, NULL);
        if (rc < 0)
            goto unavailable;
        if (rc == 1) {
            revoked++;
            og_log(OG_LOG_INFO, "key page: %s revoked API key %s of user %s",
                   p->id.user, list_buf[i].id, user);
        }
    }
    snprintf(why, sizeof(why), "%zu API keys of user %.256s revoked on the key page%s", revoked,
             user, c.more ? " (more remain: repeat)" : "");
    return done(p->log, 303, why, back_to_page(p, "revoked-all"));
unavailable:
    snprintf(why, sizeof(why), "%zu API keys of user %.256s revoked, then the key store "
             "(Redis) failed", revoked, user);
    return done(p->log, 503, why,
                og_keys_render_message(503, "Key store unavailable",
                                       "The key store (Redis) stopped answering: some keys may "
                                       "not have been revoked. Try again.",
                                       p->w->cfg->endpoint_keys, NULL, p->buf, p->cap));
}

/* A state-changing request: same origin, a form, the session's CSRF token. */
static size_t post(struct page *p, const char *sub, size_t sublen, const struct og_body *body)
{
    static char in[FORM_MAX];
    static char csrf[OG_SESSION_CSRF_LEN + 8], label[512], repos[4096], expires[64],
                keyid[64], user[OG_USER_MAX + 1];
    struct og_form_field f[] = {
        { "csrf", csrf, sizeof(csrf), false }, { "label", label, sizeof(label), false },
        { "repos", repos, sizeof(repos), false }, { "expires", expires, sizeof(expires), false },
        { "id", keyid, sizeof(keyid), false }, { "user", user, sizeof(user), false },
    };
    const struct og_request *req = p->req;
    const char *why = "";
    long n;

    if (!og_keys_origin_ok(p->w->cfg->external_url, req->origin, req->sec_fetch_site, &why))
        return message(p, 403, "Refused", "This request came from another site and was "
                       "refused. Use the page itself.", why);
    if (!req->content_type || req->content_type_len < 33 ||
        strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33) != 0)
        return message(p, 400, "Not a form", "The request was not a form submission.",
                       "body is not application/x-www-form-urlencoded");
    n = og_body_read_all(body, in, sizeof(in));
    if (n == OG_BODY_TIMEOUT)
        return message(p, 408, "Too slow", "The form did not arrive in time. Try again.",
                       "request body not received within limits.bodyTimeoutMs");
    if (n < 0)
        return message(p, 400, "Form unreadable", "The form was too large or could not be read.",
                       "request body too large or unreadable");
    if (og_form_parse(in, (size_t)n, f, sizeof(f) / sizeof(f[0])) != 0)
        return message(p, 400, "Form unreadable", "The form could not be read.",
                       "malformed form body");
    if (!f[0].seen || !og_session_csrf_ok(p->w->session, &p->s, csrf, strlen(csrf)))
        return message(p, 403, "Refused", "The form's security token is missing or belongs to "
                       "another sign-in. Reload the page and try again.",
                       "missing or wrong CSRF token");
    if (sublen == 7 && memcmp(sub, "/create", 7) == 0)
        return create(p, label, repos, expires);
    if (sublen == 7 && memcmp(sub, "/revoke", 7) == 0)
        return revoke(p, keyid);
    if (sublen == 12 && memcmp(sub, "/revoke-user", 12) == 0)
        return revoke_user(p, user);
    return message(p, 404, "Not found", "There is no such action.", "no such key page action");
}

/* GET K?state=signed-out: where endpoints.logout sends the browser (through
   the OpenID provider's end_session_endpoint, which passes state back). */
static bool signed_out(const struct og_request *req)
{
    struct og_query_iter it;
    char k[16], v[32];
    size_t qlen;
    const char *q = og_query_of(req->uri, req->uri_len, &qlen);

    og_query_init(&it, q, qlen);
    while (og_query_next(&it, k, sizeof(k), v, sizeof(v)) == 1)
        if (strcmp(k, "state") == 0 && strcmp(v, "signed-out") == 0)
            return true;
    return false;
}

/* GET K?done=...: the notice after a revocation (fixed texts only). */
static const char *notice_of(const struct og_request *req)
{
    struct og_query_iter it;
    char k[16], v[32];
    size_t qlen;
    const char *q = og_query_of(req->uri, req->uri_len, &qlen);

    og_query_init(&it, q, qlen);
    while (og_query_next(&it, k, sizeof(k), v, sizeof(v)) == 1)
        if (strcmp(k, "done") == 0) {
            if (strcmp(v, "revoked") == 0)
                return "Key revoked.";
            if (strcmp(v, "revoked-all") == 0)
                return "Keys revoked.";
        }
    return NULL;
}

size_t og_keys_endpoint(struct og_worker_state *w, const struct og_request *req,
                        const struct og_body *body, char *buf, size_t cap,
                        struct og_log_decision *log)
{
    static struct page p;
    const struct og_config *cfg = w->cfg;
    const char *path = req->uri ? req->uri : "";
    size_t plen = req->uri ? req->uri_len : 0, klen;
    const char *sub;
    size_t sublen;
    bool get = method_is(req, "GET") || method_is(req, "HEAD");

    memset(&p, 0, sizeof(p));
    p.w = w;
    p.req = req;
    p.buf = buf;
    p.cap = cap;
    p.log = log;
    log->action = "keys";
    if (memchr(path, '?', plen))
        plen = (size_t)((const char *)memchr(path, '?', plen) - path);
    klen = cfg->endpoint_keys ? strlen(cfg->endpoint_keys) : 0;
    if (!w->session || !cfg->endpoint_keys || plen < klen)
        return done(log, 404, "browser sign-in is not configured (session.keyFile)",
                    og_keys_render_message(404, "Not found", "The key page is not enabled "
                                           "here.", NULL, NULL, buf, cap));
    sub = path + klen;
    sublen = plen - klen;
    if (sublen == 1 && *sub == '/')
        sublen = 0;

    if (get && sublen > 1 && sub[0] == '/') {
        size_t n = og_keys_render_asset(sub + 1, sublen - 1, buf, cap);
        if (n)
            return done(log, 200, "key page asset", n);
    }

    if (!req->cookie ||
        og_session_open(w->session, req->cookie, strlen(req->cookie), time(NULL), &p.s) != 0) {
        /* just signed out: say so, rather than straight back to the
           sign-in (which an OpenID provider still signed in would answer
           at once, signing the person in again) */
        if (get && sublen == 0 && signed_out(req))
            return done(log, 200, "signed out",
                        og_keys_render_message(200, "Signed out", "You are signed out of "
                                               "ocigate.", cfg->endpoint_keys,
                                               cfg->endpoint_login, buf, cap));
        if (get)
            return done(log, 303, "no session: sign in first",
                        og_keys_render_redirect(cfg->endpoint_login, buf, cap));
        p.signin = true;
        return message(&p, 403, "Signed out", "You are not signed in (or your session has "
                       "ended), so nothing was changed. Sign in and try again.",
                       "no session for a state-changing request");
    }
    og_session_identity(cfg, &p.s, &p.id, &p.store);
    snprintf(log->user_buf, sizeof(log->user_buf), "%s", p.id.user ? p.id.user : "");
    log->user = log->user_buf;
    log->auth = og_auth_name(p.id.auth);
    if (!p.id.user || !*p.id.user)
        return message(&p, 403, "Signed out", "The session names nobody.", "session without user");
    p.admin = og_is_admin(cfg, &p.id);
    og_session_csrf(w->session, &p.s, p.csrf);
    og_keys_host_of(cfg->external_url, p.host, sizeof(p.host));
    if (!cfg->apikey_enabled || !w->redis)
        return message(&p, 404, "API keys are off",
                       "API keys are not enabled on this registry (auth.apikey.enabled).",
                       "API keys are not enabled");

    if (get) {
        struct og_keys_view v;

        if (sublen != 0)
            return message(&p, 404, "Not found", "There is no such page.", "no such key page");
        memset(&v, 0, sizeof(v));
        v.notice = notice_of(req);
        return render(&p, &v, 200, "key page");
    }
    if (!method_is(req, "POST"))
        return message(&p, 405, "Not allowed", "Only GET and POST are used here.",
                       "method not allowed on the key page");
    return post(&p, sub, sublen, body);
}
