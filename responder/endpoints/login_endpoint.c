/*
 * login_endpoint.c - browser sign-in with OpenID Connect (RESPONDER role):
 *   endpoints.login     302 to the issuer's authorization endpoint
 *                       (authorization code flow, PKCE S256, state, nonce);
 *                       state, nonce and the PKCE verifier travel in a
 *                       short-lived cookie (OG_LOGIN_COOKIE, 10 min, Path =
 *                       endpoints.callback) sealed with the session key, so
 *                       that any worker on any host can finish the sign-in;
 *                       already signed in: 303 to endpoints.keys.
 *   endpoints.callback  checks state (constant time), exchanges the code
 *                       (auth/oidc_signin.c), sets the session cookie and
 *                       303s to endpoints.keys.
 *   endpoints.logout    clears the session cookie; 303 to the issuer's
 *                       end_session_endpoint where it has one, else to
 *                       endpoints.keys.
 * Failures are HTML pages a person understands, with a link to try again;
 * each is logged with its reason (never a code, token, secret or cookie).
 * Without session.keyFile every path answers 404.
 */
#include "endpoints.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base64.h"
#include "buf.h"
#include "config.h"
#include "digest.h"
#include "log.h"
#include "oidc.h"
#include "query.h"
#include "response.h"
#include "session.h"

#define OG_LOGIN_COOKIE   "ocigate_login"
#define LOGIN_LIFETIME_S  600
#define RAND_LEN          32              /* state, nonce, PKCE verifier: 256 bits each */
#define RAND_B64          43              /* their base64url length */
#define B64_CAP           48              /* room og_base64_encode wants for them */
#define LOGIN_PLAIN_LEN   (8 + 3 * RAND_LEN)
#define URL_CAP           8192
#define COOKIE_CAP        (OG_SESSION_VALUE_MAX + 256)

/* What the login cookie holds (plaintext: EXPIRES(8) STATE NONCE VERIFIER). */
struct login_state {
    time_t expires;
    unsigned char state[RAND_LEN], nonce[RAND_LEN], verifier[RAND_LEN];
};

static size_t not_here(struct og_worker_state *w, const struct og_request *req, char *buf,
                       size_t cap, struct og_log_decision *log)
{
    return og_endpoint_deny(w, req, 404, "endpoint", "browser sign-in is not configured",
                            false, buf, cap, log);
}

static bool method_is(const struct og_request *req, const char *m)
{
    return req->method && req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static void b64u(const unsigned char *in, size_t n, char *out, size_t cap)
{
    long k = og_base64_encode(in, n, out, cap, true);
    if (k < 0)
        out[0] = '\0';
}

/* externalUrl + path */
static void absolute(const struct og_config *cfg, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", cfg->external_url ? cfg->external_url : "", path ? path : "/");
}

/* ---- pages ------------------------------------------------------------------- */

static size_t page(struct og_worker_state *w, int status, const char *title, const char *text,
                   const char **cookies, size_t ncookies, char *buf, size_t cap,
                   struct og_log_decision *log, const char *reason)
{
    char body[4096], login[URL_CAP];
    struct og_buf b;
    struct og_page pg;

    absolute(w->cfg, w->cfg->endpoint_login, login, sizeof login);
    og_buf_init(&b, body, sizeof body);
    og_buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>");
    og_buf_html(&b, title, 200);
    og_buf_puts(&b, " - ocigate</title></head>\n<body><main>\n<h1 id=\"error-title\">");
    og_buf_html(&b, title, 200);
    og_buf_puts(&b, "</h1>\n<p id=\"error-message\">");
    og_buf_html(&b, text, 1000);
    og_buf_puts(&b, "</p>\n<p><a id=\"signin\" href=\"");
    og_buf_html(&b, login, sizeof login);
    og_buf_puts(&b, "\">Sign in again</a></p>\n</main></body></html>\n");
    memset(&pg, 0, sizeof(pg));
    pg.status = status;
    for (size_t i = 0; i < ncookies && i < OG_PAGE_COOKIES_MAX; i++)
        pg.cookies[pg.ncookies++] = cookies[i];
    pg.body = body;
    pg.body_len = b.len;
    log->status = status;
    log->rule = "signin";
    log->reason = reason;
    return og_response_page(&pg, buf, cap);
}

static size_t redirect(int status, const char *location, const char **cookies, size_t ncookies,
                       char *buf, size_t cap, struct og_log_decision *log, const char *reason)
{
    struct og_page pg;

    memset(&pg, 0, sizeof(pg));
    pg.status = status;
    pg.location = location;
    for (size_t i = 0; i < ncookies && i < OG_PAGE_COOKIES_MAX; i++)
        pg.cookies[pg.ncookies++] = cookies[i];
    log->status = status;
    log->rule = "signin";
    log->reason = reason;
    return og_response_page(&pg, buf, cap);
}

static size_t wrong_method(struct og_worker_state *w, char *buf, size_t cap,
                           struct og_log_decision *log)
{
    return page(w, 405, "Not here", "This address of the sign-in pages only takes GET.",
                NULL, 0, buf, cap, log, "method not allowed");
}

static size_t idp_down(struct og_worker_state *w, const char **cookies, size_t ncookies,
                       char *buf, size_t cap, struct og_log_decision *log, const char *reason)
{
    return page(w, 503, "The sign-in service cannot be reached",
                "ocigate could not reach the organisation's sign-in service (the OpenID "
                "provider). Nothing was changed. Try again in a minute; if it keeps failing, "
                "tell the registry's operators.", cookies, ncookies, buf, cap, log, reason);
}

/* The session of this request, if any (0). */
static int current_session(struct og_worker_state *w, const struct og_request *req,
                           struct og_session *s)
{
    if (!req->cookie)
        return -1;
    return og_session_open(w->session, req->cookie, strlen(req->cookie), time(NULL), s);
}

/* ---- endpoints.login ----------------------------------------------------------- */

size_t og_login_endpoint(struct og_worker_state *w, const struct og_request *req,
                         char *buf, size_t cap, struct og_log_decision *log)
{
    const struct og_config *cfg = w->cfg;
    struct og_oidc_provider prov;
    struct og_session s;
    struct login_state ls;
    unsigned char plain[LOGIN_PLAIN_LEN], challenge[OG_SHA256_LEN];
    char state[B64_CAP], nonce[B64_CAP], verifier[B64_CAP], chal[B64_CAP];
    char sealed[OG_SESSION_VALUE_MAX + 1], cookie[COOKIE_CAP], loc[URL_CAP], tmp[URL_CAP];
    const char *cookies[1];
    struct og_buf b;
    size_t n = 0;

    if (!w->session || !w->oidc)
        return not_here(w, req, buf, cap, log);
    if (!method_is(req, "GET") && !method_is(req, "HEAD"))
        return wrong_method(w, buf, cap, log);
    if (current_session(w, req, &s) == 0) {        /* signed in already */
        snprintf(log->user_buf, sizeof(log->user_buf), "%s", s.user);
        log->user = log->user_buf;
        log->auth = "openid";
        absolute(cfg, cfg->endpoint_keys, loc, sizeof loc);
        return redirect(303, loc, NULL, 0, buf, cap, log, "signed in already");
    }
    if (og_oidc_provider(w->oidc, &prov) != 0)
        return idp_down(w, NULL, 0, buf, cap, log, "OpenID provider discovery failed");

    memset(&ls, 0, sizeof(ls));
    ls.expires = time(NULL) + LOGIN_LIFETIME_S;
    if (RAND_bytes(ls.state, RAND_LEN) != 1 || RAND_bytes(ls.nonce, RAND_LEN) != 1 ||
        RAND_bytes(ls.verifier, RAND_LEN) != 1)
        goto fail;
    b64u(ls.state, RAND_LEN, state, sizeof state);
    b64u(ls.nonce, RAND_LEN, nonce, sizeof nonce);
    b64u(ls.verifier, RAND_LEN, verifier, sizeof verifier);
    if (!og_sha256(verifier, strlen(verifier), challenge))
        goto fail;
    b64u(challenge, sizeof challenge, chal, sizeof chal);
    for (int i = 7, k = 0; i >= 0; i--, k++)
        plain[k] = (unsigned char)(((unsigned long long)ls.expires >> (8 * i)) & 0xff);
    memcpy(plain + 8, ls.state, RAND_LEN);
    memcpy(plain + 8 + RAND_LEN, ls.nonce, RAND_LEN);
    memcpy(plain + 8 + 2 * RAND_LEN, ls.verifier, RAND_LEN);
    if (og_session_seal_blob(w->session, OG_LOGIN_COOKIE, plain, sizeof plain, sealed,
                             sizeof sealed) == 0 ||
        og_session_cookie(cfg, OG_LOGIN_COOKIE, sealed, cfg->endpoint_callback,
                          LOGIN_LIFETIME_S, cookie, sizeof cookie) == 0)
        goto fail;

    og_buf_init(&b, loc, sizeof loc);
    og_buf_puts(&b, prov.authorization_endpoint);
    og_buf_puts(&b, strchr(prov.authorization_endpoint, '?') ? "&" : "?");
    og_buf_puts(&b, "response_type=code&client_id=");
    og_buf_urlencode(&b, cfg->openid_client_id, 512);
    absolute(cfg, cfg->endpoint_callback, tmp, sizeof tmp);
    og_buf_puts(&b, "&redirect_uri=");
    og_buf_urlencode(&b, tmp, sizeof tmp);
    og_buf_puts(&b, "&scope=");
    tmp[0] = '\0';
    for (size_t i = 0; i < cfg->openid_scopes.n; i++) {
        size_t used = strlen(tmp);
        snprintf(tmp + used, sizeof tmp - used, "%s%s", i ? " " : "", cfg->openid_scopes.v[i]);
    }
    og_buf_urlencode(&b, tmp, sizeof tmp);
    og_buf_puts(&b, "&state=");
    og_buf_puts(&b, state);
    og_buf_puts(&b, "&nonce=");
    og_buf_puts(&b, nonce);
    og_buf_puts(&b, "&code_challenge=");
    og_buf_puts(&b, chal);
    og_buf_puts(&b, "&code_challenge_method=S256");
    if (b.truncated)
        goto fail;
    cookies[0] = cookie;
    n = redirect(302, loc, cookies, 1, buf, cap, log, "to the OpenID provider");
    goto done;
fail:
    n = page(w, 503, "Sign-in is unavailable", "ocigate could not start the sign-in. Try again; "
             "if it keeps failing, tell the registry's operators.", NULL, 0, buf, cap, log,
             "cannot prepare the sign-in");
done:
    OPENSSL_cleanse(&ls, sizeof ls);
    OPENSSL_cleanse(plain, sizeof plain);
    OPENSSL_cleanse(verifier, sizeof verifier);
    return n;
}

/* ---- endpoints.callback ---------------------------------------------------------- */

/* The login cookie of this request, opened and unexpired (0). */
static int login_cookie(struct og_worker_state *w, const struct og_request *req,
                        struct login_state *ls)
{
    unsigned char plain[LOGIN_PLAIN_LEN + 1];
    const char *hdr = req->cookie, *v;
    size_t len = hdr ? strlen(hdr) : 0, vlen = 0;
    time_t now = time(NULL);
    int rc = -1;

    while (hdr && (v = og_cookie_find(hdr, len, OG_LOGIN_COOKIE, &vlen)) != NULL) {
        long n = og_session_open_blob(w->session, OG_LOGIN_COOKIE, v, vlen, plain, sizeof plain);
        if (n == LOGIN_PLAIN_LEN) {
            unsigned long long e = 0;
            for (int i = 0; i < 8; i++)
                e = e << 8 | plain[i];
            ls->expires = (time_t)e;
            memcpy(ls->state, plain + 8, RAND_LEN);
            memcpy(ls->nonce, plain + 8 + RAND_LEN, RAND_LEN);
            memcpy(ls->verifier, plain + 8 + 2 * RAND_LEN, RAND_LEN);
            if (now < ls->expires && ls->expires <= now + LOGIN_LIFETIME_S + 300) {
                rc = 0;
                break;
            }
        }
        len -= (size_t)(v + vlen - hdr);
        hdr = v + vlen;
    }
    OPENSSL_cleanse(plain, sizeof plain);
    return rc;
}

size_t og_callback_endpoint(struct og_worker_state *w, const struct og_request *req,
                            char *buf, size_t cap, struct og_log_decision *log)
{
    const struct og_config *cfg = w->cfg;
    struct og_query_iter it;
    char k[32], v[2048], code[2048] = "", state[128] = "", error[64] = "";
    char clear_login[256], session_cookie[COOKIE_CAP], sealed[OG_SESSION_VALUE_MAX + 1];
    char path[1024], loc[URL_CAP], redirect_uri[URL_CAP], nonce[B64_CAP];
    char verifier[B64_CAP];
    unsigned char got_state[RAND_LEN + 8];
    const char *cookies[2], *reason = "";
    struct login_state ls;
    struct og_oidc_person person;
    struct og_session s;
    const char *q;
    size_t qlen, n = 0;
    long slen;
    int r;
    bool dup = false;

    if (!w->session || !w->oidc)
        return not_here(w, req, buf, cap, log);
    if (!method_is(req, "GET"))
        return wrong_method(w, buf, cap, log);
    memset(&ls, 0, sizeof ls);
    /* every answer from here on clears the login cookie: one attempt per cookie */
    og_session_cookie(cfg, OG_LOGIN_COOKIE, "", cfg->endpoint_callback, 0, clear_login,
                      sizeof clear_login);
    cookies[0] = clear_login;

    q = og_query_of(req->uri, req->uri_len, &qlen);
    og_query_init(&it, q, qlen);
    while ((r = og_query_next(&it, k, sizeof k, v, sizeof v)) == 1) {
        char *dst = NULL;
        size_t dcap = 0;
        if (strcmp(k, "code") == 0) { dst = code; dcap = sizeof code; }
        else if (strcmp(k, "state") == 0) { dst = state; dcap = sizeof state; }
        else if (strcmp(k, "error") == 0) { dst = error; dcap = sizeof error; }
        if (!dst)
            continue;
        if (dst[0] || strlen(v) >= dcap)
            dup = true;
        else
            memcpy(dst, v, strlen(v) + 1);
    }
    OPENSSL_cleanse(v, sizeof v);
    if (r < 0 || dup) {
        n = page(w, 400, "This sign-in link is damaged",
                 "The address the sign-in service sent you back to is not one ocigate can "
                 "read. Start the sign-in again.", cookies, 1, buf, cap, log,
                 "malformed callback query");
        goto done;
    }
    if (login_cookie(w, req, &ls) != 0) {
        n = page(w, 400, "This sign-in has expired",
                 "The sign-in was not started in this browser, or it took longer than ten "
                 "minutes. Start it again.", cookies, 1, buf, cap, log,
                 "no valid login cookie (expired, or started elsewhere)");
        goto done;
    }
    slen = og_base64_decode(state, strlen(state), got_state, sizeof got_state, true);
    if (slen != RAND_LEN || CRYPTO_memcmp(got_state, ls.state, RAND_LEN) != 0) {
        n = page(w, 400, "This sign-in does not match",
                 "The answer of the sign-in service does not belong to the sign-in this browser "
                 "started (state mismatch). Start the sign-in again.", cookies, 1, buf, cap, log,
                 "state mismatch");
        goto done;
    }
    if (error[0]) {
        if (strcmp(error, "access_denied") == 0 || strcmp(error, "consent_required") == 0 ||
            strcmp(error, "interaction_required") == 0 || strcmp(error, "login_required") == 0)
            n = page(w, 403, "Sign-in cancelled",
                     "The sign-in service says access was not granted (you may have declined "
                     "or cancelled). Nothing was changed. Sign in again to continue.",
                     cookies, 1, buf, cap, log, "the OpenID provider denied access");
        else
            n = page(w, 502, "The sign-in service refused",
                     "The sign-in service answered with an error instead of signing you in. "
                     "Try again; if it keeps failing, tell the registry's operators.",
                     cookies, 1, buf, cap, log, "the OpenID provider answered with an error");
        og_log(OG_LOG_WARN, "signin: the OpenID provider answered error \"%s\"",
               strspn(error, "abcdefghijklmnopqrstuvwxyz_") == strlen(error) ? error : "?");
        goto done;
    }
    if (!code[0]) {
        n = page(w, 400, "This sign-in link is damaged",
                 "The sign-in service sent you back without an answer. Start the sign-in again.",
                 cookies, 1, buf, cap, log, "callback without code");
        goto done;
    }
    b64u(ls.nonce, RAND_LEN, nonce, sizeof nonce);
    b64u(ls.verifier, RAND_LEN, verifier, sizeof verifier);
    absolute(cfg, cfg->endpoint_callback, redirect_uri, sizeof redirect_uri);
    switch (og_oidc_signin(w->oidc, code, verifier, redirect_uri, nonce, &person, &reason)) {
    case OG_ID_OK:
        break;
    case OG_ID_UNAVAILABLE:
        n = idp_down(w, cookies, 1, buf, cap, log, reason);
        goto done;
    default:
        n = page(w, 403, "Sign-in refused",
                 "The sign-in service answered, but ocigate could not accept the answer (the "
                 "identity it sent was refused). Try again; if it keeps failing, tell the "
                 "registry's operators.", cookies, 1, buf, cap, log, reason);
        goto done;
    }
    if (og_session_new(&s, person.user, person.groups, person.ngroups, time(NULL),
                       cfg->session_lifetime_s) != 0 ||
        og_session_seal(w->session, &s, sealed, sizeof sealed) == 0) {
        n = page(w, 503, "Sign-in is unavailable",
                 "ocigate could not open a session for you. Try again; if it keeps failing, "
                 "tell the registry's operators.", cookies, 1, buf, cap, log,
                 "cannot seal the session");
        goto done;
    }
    og_session_cookie_path(cfg, path, sizeof path);
    og_session_cookie(cfg, OG_SESSION_COOKIE, sealed, path, cfg->session_lifetime_s,
                      session_cookie, sizeof session_cookie);
    cookies[1] = session_cookie;
    snprintf(log->user_buf, sizeof(log->user_buf), "%s", s.user);
    log->user = log->user_buf;
    log->auth = "openid";
    absolute(cfg, cfg->endpoint_keys, loc, sizeof loc);
    n = redirect(303, loc, cookies, 2, buf, cap, log, "signed in");
done:
    OPENSSL_cleanse(code, sizeof code);
    OPENSSL_cleanse(verifier, sizeof verifier);
    OPENSSL_cleanse(&ls, sizeof ls);
    OPENSSL_cleanse(sealed, sizeof sealed);
    OPENSSL_cleanse(session_cookie, sizeof session_cookie);
    return n;
}

/* ---- endpoints.logout ------------------------------------------------------------ */

size_t og_logout_endpoint(struct og_worker_state *w, const struct og_request *req,
                          char *buf, size_t cap, struct og_log_decision *log)
{
    const struct og_config *cfg = w->cfg;
    struct og_oidc_provider prov;
    struct og_session s;
    char path[1024], clear[256], loc[URL_CAP], keys[URL_CAP];
    const char *cookies[1];
    struct og_buf b;

    if (!w->session || !w->oidc)
        return not_here(w, req, buf, cap, log);
    if (!method_is(req, "GET") && !method_is(req, "POST"))
        return page(w, 405, "Not here", "Sign out with GET or POST.", NULL, 0, buf, cap, log,
                    "method not allowed");
    if (current_session(w, req, &s) == 0) {
        snprintf(log->user_buf, sizeof(log->user_buf), "%s", s.user);
        log->user = log->user_buf;
        log->auth = "openid";
    }
    og_session_cookie_path(cfg, path, sizeof path);
    og_session_cookie(cfg, OG_SESSION_COOKIE, "", path, 0, clear, sizeof clear);
    cookies[0] = clear;
    absolute(cfg, cfg->endpoint_keys, keys, sizeof keys);
    /* The issuer signs the person out too, where it can; an unreachable
       issuer still leaves ocigate's session cleared. */
    if (og_oidc_provider(w->oidc, &prov) == 0 && prov.end_session_endpoint[0]) {
        og_buf_init(&b, loc, sizeof loc);
        og_buf_puts(&b, prov.end_session_endpoint);
        og_buf_puts(&b, strchr(prov.end_session_endpoint, '?') ? "&" : "?");
        og_buf_puts(&b, "client_id=");
        og_buf_urlencode(&b, cfg->openid_client_id, 512);
        og_buf_puts(&b, "&post_logout_redirect_uri=");
        og_buf_urlencode(&b, keys, sizeof keys);
        og_buf_puts(&b, "&state=signed-out");   /* the key page then says so */
        if (!b.truncated)
            return redirect(303, loc, cookies, 1, buf, cap, log,
                            "signed out, to the OpenID provider's end_session_endpoint");
    }
    if (strlen(keys) + sizeof("?state=signed-out") <= sizeof keys)
        strcat(keys, "?state=signed-out");    /* the key page then says so */
    return redirect(303, keys, cookies, 1, buf, cap, log, "signed out");
}
