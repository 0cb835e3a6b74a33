/*
 * request.c - FastCGI params and the Authorization header, parsed strictly.
 *
 * The role comes from FCGI_ROLE. The method and target ocigate judges come
 * from params only the web server's own configuration can set: OCIGATE_METHOD
 * and OCIGATE_URI where the front door rewrites the request (Caddy's
 * forward_auth asks with GET), else REQUEST_METHOD and REQUEST_URI. Never
 * from an HTTP_* param: web servers make those from client headers, and
 * Caddy folds X-Forwarded-Uri, X-Forwarded_Uri and X_Forwarded-Uri into one
 * HTTP_X_FORWARDED_URI whose value is picked at random. A client-sent
 * X-Forwarded-Method/-Uri (every copy the server passes) that disagrees with
 * what is judged is 400. trustForwardedHeaders (the deployment rewrites
 * requests) makes OCIGATE_METHOD/OCIGATE_URI mandatory: a Caddy config that
 * lost its env lines fails loudly instead of judging a PUT as a GET.
 */
#include "request.h"
#include "base64.h"
#include "text.h"

#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ params */

const char *og_param(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static void refuse(struct og_request *out, const char *why)
{
    out->status = 400;
    out->reason = why;
}

/* The one value of a param that may be sent more than once: NULL when
   absent, *conflict set when two copies differ (first match otherwise, as
   in libfcgi). */
static const char *single_param(char *const *envp, const char *name, bool *conflict)
{
    size_t n = strlen(name);
    const char *v = NULL;

    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, n) != 0 || (*envp)[n] != '=')
            continue;
        if (!v)
            v = *envp + n + 1;
        else if (strcmp(v, *envp + n + 1) != 0)
            *conflict = true;
    }
    return v;
}

/* Does every copy of a client-made param equal want? (none: yes) */
static bool every_copy_is(char *const *envp, const char *name, const char *want)
{
    size_t n = strlen(name);

    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=' && strcmp(*envp + n + 1, want) != 0)
            return false;
    return true;
}

void og_request_from_params(char *const *envp, bool trust_forwarded, struct og_request *out)
{
    const char *role, *method, *uri, *redirect;
    bool conflict = false;

    memset(out, 0, sizeof(*out));
    out->remote_addr = "";

    role = og_param(envp, "FCGI_ROLE");
    if (role && strcmp(role, "AUTHORIZER") == 0)
        out->role = OG_ROLE_AUTHORIZER;
    else if (role && strcmp(role, "RESPONDER") == 0)
        out->role = OG_ROLE_RESPONDER;

    method = single_param(envp, "OCIGATE_METHOD", &conflict);
    uri = single_param(envp, "OCIGATE_URI", &conflict);
    {
        const char *ra = og_param(envp, "REMOTE_ADDR");
        if (ra)
            out->remote_addr = ra;
    }
    if (!method && !uri) {
        method = single_param(envp, "REQUEST_METHOD", &conflict);
        uri = single_param(envp, "REQUEST_URI", &conflict);
    }
    /* for the log, even when the request is refused below */
    out->method = method ? method : "";
    out->method_len = strlen(out->method);
    out->uri = uri;
    out->uri_len = uri ? strlen(uri) : 0;

    if (conflict) {
        refuse(out, "the web server sent two different request methods or targets");
        return;
    }
    if (trust_forwarded && (!og_param(envp, "OCIGATE_METHOD") || !og_param(envp, "OCIGATE_URI"))) {
        refuse(out, "trustForwardedHeaders: the web server must set the FastCGI params "
                    "OCIGATE_METHOD and OCIGATE_URI");
        return;
    }
    if (!!og_param(envp, "OCIGATE_METHOD") != !!og_param(envp, "OCIGATE_URI")) {
        refuse(out, "OCIGATE_METHOD and OCIGATE_URI must be set together");
        return;
    }
    if (!method || !*method) {
        refuse(out, "no request method");
        return;
    }
    if (!uri || !*uri) {
        refuse(out, "no request target");
        return;
    }
    if (!every_copy_is(envp, "HTTP_X_FORWARDED_METHOD", method)) {
        refuse(out, "X-Forwarded-Method disagrees with the request method");
        return;
    }
    if (!every_copy_is(envp, "HTTP_X_FORWARDED_URI", uri)) {
        refuse(out, "X-Forwarded-Uri disagrees with the request target");
        return;
    }

    redirect = og_param(envp, "REDIRECT_URI");
    out->redirect_uri = redirect;
    out->serve = og_param(envp, "OCIGATE_SERVE");

    out->method = method;
    out->method_len = strlen(method);
    out->uri = uri;
    out->uri_len = strlen(uri);

    out->authorization = og_param(envp, "HTTP_AUTHORIZATION");
    if (out->authorization)
        out->authorization_len = strlen(out->authorization);
    out->content_type = og_param(envp, "CONTENT_TYPE");
    if (!out->content_type)
        out->content_type = og_param(envp, "HTTP_CONTENT_TYPE");
    if (out->content_type)
        out->content_type_len = strlen(out->content_type);
    /* for ocigate's own pages (sign-in, key page) only; never for a decision */
    out->cookie = og_param(envp, "HTTP_COOKIE");
    out->user_agent = og_param(envp, "HTTP_USER_AGENT");
    out->forwarded_for = og_param(envp, "HTTP_X_FORWARDED_FOR");
    {
        const char *https = og_param(envp, "HTTPS");
        out->https = https && (strcmp(https, "on") == 0 || strcmp(https, "ON") == 0 ||
                               strcmp(https, "1") == 0);
    }
    out->tls_version = og_param(envp, "SSL_PROTOCOL");
    out->origin = og_param(envp, "HTTP_ORIGIN");
    out->sec_fetch_site = og_param(envp, "HTTP_SEC_FETCH_SITE");
}

/* ------------------------------------------------------------- credentials */

static void malformed(struct og_credentials *out, const char *why)
{
    og_credentials_wipe(out);
    out->kind = OG_CRED_MALFORMED;
    out->reason = why;
}

static bool scheme_is(const char *v, size_t len, const char *scheme, size_t *skip)
{
    size_t n = strlen(scheme);
    if (len <= n || strncasecmp(v, scheme, n) != 0 || v[n] != ' ')
        return false;
    *skip = n + 1;
    return true;
}

static void parse_basic(const char *b64, size_t len, struct og_credentials *out)
{
    unsigned char buf[OG_USER_MAX + 1 + OG_SECRET_MAX + 1];
    const unsigned char *colon;
    long n;
    size_t ulen, slen;

    if (len == 4 && memcmp(b64, "Og==", 4) == 0) {   /* ":" - podman logged out */
        out->kind = OG_CRED_NONE;
        return;
    }
    /* Every way out below goes through cleanup: buf may hold a password
       (whole, or decoded up to a bad byte). */
    n = og_base64_decode(b64, len, buf, sizeof(buf), false);
    if (n < 0) {
        malformed(out, "Basic credentials are not valid base64");
        goto cleanup;
    }
    colon = memchr(buf, ':', (size_t)n);
    if (!colon) {
        malformed(out, "Basic credentials without ':'");
        goto cleanup;
    }
    ulen = (size_t)(colon - buf);
    slen = (size_t)n - ulen - 1;
    if (ulen == 0 && slen == 0) {
        out->kind = OG_CRED_NONE;
        goto cleanup;
    }
    if (ulen > OG_USER_MAX || slen > OG_SECRET_MAX || og_has_control((char *)buf, (size_t)n)) {
        malformed(out, "Basic credentials too long or with control bytes");
        goto cleanup;
    }
    memcpy(out->user, buf, ulen);
    out->user[ulen] = '\0';
    memcpy(out->secret, colon + 1, slen);
    out->secret[slen] = '\0';
    out->secret_len = slen;
    out->kind = OG_CRED_BASIC;
cleanup:
    /* the decoder writes at most 3 bytes per 4 it reads: wipe those, not
       all 12 KiB of buf on every request */
    explicit_bzero(buf, len / 4 * 3 + 3 < sizeof(buf) ? len / 4 * 3 + 3 : sizeof(buf));
}

void og_credentials_parse(const char *value, size_t len, struct og_credentials *out)
{
    size_t skip;

    /* the fields, not the 12 KiB of the secret's room: what is written
       there is NUL-terminated and counted in secret_len */
    out->kind = OG_CRED_NONE;
    out->user[0] = '\0';
    out->secret[0] = '\0';
    out->secret_len = 0;
    out->reason = NULL;
    if (!value || len == 0) {
        out->kind = OG_CRED_NONE;
        return;
    }
    if (len > OG_AUTHZ_MAX) {
        malformed(out, "Authorization header too long");
        return;
    }
    if (scheme_is(value, len, "Basic", &skip)) {
        parse_basic(value + skip, len - skip, out);
        return;
    }
    if (scheme_is(value, len, "Bearer", &skip)) {
        size_t tlen = len - skip;
        if (tlen == 0 || tlen > OG_SECRET_MAX || og_has_control(value + skip, tlen)
            || memchr(value + skip, ' ', tlen) || memchr(value + skip, ',', tlen)) {
            malformed(out, "malformed Bearer token");
            return;
        }
        memcpy(out->secret, value + skip, tlen);
        out->secret[tlen] = '\0';
        out->secret_len = tlen;
        out->kind = OG_CRED_BEARER;
        return;
    }
    malformed(out, "unsupported Authorization scheme");
}

void og_credentials_wipe(struct og_credentials *c)
{
    /* the parser writes the secret and its NUL, nothing past them */
    size_t n = c->secret_len < sizeof(c->secret) ? c->secret_len + 1 : sizeof(c->secret);
    explicit_bzero(c->secret, n);
    c->secret_len = 0;
}
