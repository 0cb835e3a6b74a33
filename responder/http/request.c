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

/*
 * The params a request is read from, found in one pass over envp (a
 * request carries some 25-40 params; looking each name up in turn scanned
 * them about 20 times). For each name: its first value (first match wins,
 * as in libfcgi and og_param) and whether another copy differs from it.
 */
enum pname {
    P_ROLE, P_OG_METHOD, P_OG_URI, P_REMOTE_ADDR, P_REQ_METHOD, P_REQ_URI, P_XF_METHOD,
    P_XF_URI, P_REDIRECT_URI, P_SERVE, P_AUTHZ, P_CT, P_HTTP_CT, P_COOKIE, P_UA, P_XFF,
    P_HTTPS, P_SSL_PROTOCOL, P_ORIGIN, P_SEC_FETCH_SITE, P_COUNT
};

#define PN(s) { s, sizeof(s) - 1 }
static const struct { const char *name; size_t len; } pnames[P_COUNT] = {
    [P_ROLE] = PN("FCGI_ROLE"), [P_OG_METHOD] = PN("OCIGATE_METHOD"),
    [P_OG_URI] = PN("OCIGATE_URI"), [P_REMOTE_ADDR] = PN("REMOTE_ADDR"),
    [P_REQ_METHOD] = PN("REQUEST_METHOD"), [P_REQ_URI] = PN("REQUEST_URI"),
    [P_XF_METHOD] = PN("HTTP_X_FORWARDED_METHOD"), [P_XF_URI] = PN("HTTP_X_FORWARDED_URI"),
    [P_REDIRECT_URI] = PN("REDIRECT_URI"), [P_SERVE] = PN("OCIGATE_SERVE"),
    [P_AUTHZ] = PN("HTTP_AUTHORIZATION"), [P_CT] = PN("CONTENT_TYPE"),
    [P_HTTP_CT] = PN("HTTP_CONTENT_TYPE"), [P_COOKIE] = PN("HTTP_COOKIE"),
    [P_UA] = PN("HTTP_USER_AGENT"), [P_XFF] = PN("HTTP_X_FORWARDED_FOR"), [P_HTTPS] = PN("HTTPS"),
    [P_SSL_PROTOCOL] = PN("SSL_PROTOCOL"), [P_ORIGIN] = PN("HTTP_ORIGIN"),
    [P_SEC_FETCH_SITE] = PN("HTTP_SEC_FETCH_SITE"),
};
#undef PN

struct seen {
    const char *v;        /* the first copy's value, NULL when absent */
    bool differ;          /* a later copy has another value */
};

static void scan_params(char *const *envp, struct seen seen[P_COUNT])
{
    memset(seen, 0, P_COUNT * sizeof(*seen));
    for (; envp && *envp; envp++) {
        const char *e = *envp, *eq = strchr(e, '=');
        size_t n;
        if (!eq)
            continue;
        n = (size_t)(eq - e);
        for (int i = 0; i < P_COUNT; i++) {
            if (pnames[i].len != n || memcmp(e, pnames[i].name, n) != 0)
                continue;
            if (!seen[i].v)
                seen[i].v = eq + 1;
            else if (strcmp(seen[i].v, eq + 1) != 0)
                seen[i].differ = true;
            break;
        }
    }
}

/* Does every copy of a client-made param equal want? (none: yes) */
static bool every_copy_is(const struct seen *s, const char *want)
{
    return !s->v || (!s->differ && strcmp(s->v, want) == 0);
}

void og_request_from_params(char *const *envp, bool trust_forwarded, struct og_request *out)
{
    struct seen seen[P_COUNT];
    const char *role, *method, *uri;
    bool conflict;

    memset(out, 0, sizeof(*out));
    out->remote_addr = "";
    scan_params(envp, seen);

    role = seen[P_ROLE].v;
    if (role && strcmp(role, "AUTHORIZER") == 0)
        out->role = OG_ROLE_AUTHORIZER;
    else if (role && strcmp(role, "RESPONDER") == 0)
        out->role = OG_ROLE_RESPONDER;

    /* two different copies of what is judged: OCIGATE_METHOD/OCIGATE_URI,
       and REQUEST_METHOD/REQUEST_URI where those are what is judged */
    method = seen[P_OG_METHOD].v;
    uri = seen[P_OG_URI].v;
    conflict = seen[P_OG_METHOD].differ || seen[P_OG_URI].differ;
    if (seen[P_REMOTE_ADDR].v)
        out->remote_addr = seen[P_REMOTE_ADDR].v;
    if (!method && !uri) {
        method = seen[P_REQ_METHOD].v;
        uri = seen[P_REQ_URI].v;
        conflict = conflict || seen[P_REQ_METHOD].differ || seen[P_REQ_URI].differ;
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
    if (trust_forwarded && (!seen[P_OG_METHOD].v || !seen[P_OG_URI].v)) {
        refuse(out, "trustForwardedHeaders: the web server must set the FastCGI params "
                    "OCIGATE_METHOD and OCIGATE_URI");
        return;
    }
    if (!seen[P_OG_METHOD].v != !seen[P_OG_URI].v) {
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
    if (!every_copy_is(&seen[P_XF_METHOD], method)) {
        refuse(out, "X-Forwarded-Method disagrees with the request method");
        return;
    }
    if (!every_copy_is(&seen[P_XF_URI], uri)) {
        refuse(out, "X-Forwarded-Uri disagrees with the request target");
        return;
    }

    out->redirect_uri = seen[P_REDIRECT_URI].v;
    out->serve = seen[P_SERVE].v;

    out->authorization = seen[P_AUTHZ].v;
    if (out->authorization)
        out->authorization_len = strlen(out->authorization);
    out->content_type = seen[P_CT].v ? seen[P_CT].v : seen[P_HTTP_CT].v;
    if (out->content_type)
        out->content_type_len = strlen(out->content_type);
    /* for ocigate's own pages (sign-in, key page) only; never for a decision */
    out->cookie = seen[P_COOKIE].v;
    out->user_agent = seen[P_UA].v;
    out->forwarded_for = seen[P_XFF].v;
    {
        const char *https = seen[P_HTTPS].v;
        out->https = https && (strcmp(https, "on") == 0 || strcmp(https, "ON") == 0 ||
                               strcmp(https, "1") == 0);
    }
    out->tls_version = seen[P_SSL_PROTOCOL].v;
    out->origin = seen[P_ORIGIN].v;
    out->sec_fetch_site = seen[P_SEC_FETCH_SITE].v;
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
