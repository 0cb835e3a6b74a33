/*
 * request.h - FastCGI params -> what was asked (role, method, target, credentials).
 *
 * The first step of the request path. Nothing here trusts the web server's
 * derived variables: the method and the raw target come from params only the
 * server's configuration sets (OCIGATE_METHOD/OCIGATE_URI, else
 * REQUEST_METHOD/REQUEST_URI), never from a client header; the query is
 * parsed later from the target itself, and CONTENT_LENGTH is never used.
 */
#ifndef OCIGATE_REQUEST_H
#define OCIGATE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define OG_AUTHZ_MAX   16384   /* a longer Authorization header is 401 */
#define OG_USER_MAX    256
#define OG_SECRET_MAX  12288

enum og_role { OG_ROLE_UNKNOWN = 0, OG_ROLE_RESPONDER, OG_ROLE_AUTHORIZER };

struct og_request {
    enum og_role role;
    const char *method;   size_t method_len;
    const char *uri;      size_t uri_len;
    const char *authorization; size_t authorization_len;  /* NULL: none */
    const char *content_type;  size_t content_type_len;   /* NULL: none */
    const char *remote_addr;   /* "" if unknown */
    const char *redirect_uri;  /* lighttpd's REDIRECT_URI, NULL if none: when it differs
                                  from the target, what the registry would get is not
                                  what was judged (checked for proxied routes only) */
    const char *serve;         /* OCIGATE_SERVE, set by the web server on a location
                                  where ocigate answers instead of deciding ("catalog") */
    /* Browser headers, read only by ocigate's own pages (sign-in and the key
       page); NULL when absent. Never consulted for a registry decision. */
    const char *cookie;          /* HTTP_COOKIE */
    const char *origin;          /* HTTP_ORIGIN: checked on state-changing requests */
    const char *sec_fetch_site;  /* HTTP_SEC_FETCH_SITE: "cross-site" is refused there */
    /* What accessControl conditions may read (req.userAgent, req.client.forwardedFor,
       req.tls.*); NULL when absent. Never trusted for anything else. */
    const char *user_agent;      /* HTTP_USER_AGENT */
    const char *forwarded_for;   /* HTTP_X_FORWARDED_FOR */
    bool https;                  /* HTTPS=on (lighttpd, Apache, nginx's $https) */
    const char *tls_version;     /* SSL_PROTOCOL, e.g. "TLSv1.3"; NULL if not passed */
    int status;           /* 0, or 400 when the params themselves are unusable */
    const char *reason;   /* static, for status != 0 */
};

/*
 * Read the params of one request. envp is libfcgi's NULL-terminated
 * "NAME=value" array. trust_forwarded (trustForwardedHeaders): the web
 * server rewrites requests, so OCIGATE_METHOD and OCIGATE_URI are required.
 * A client-sent X-Forwarded-Method/-Uri that disagrees with what is judged,
 * or two different copies of a param judged, is 400.
 */
void og_request_from_params(char *const *envp, bool trust_forwarded, struct og_request *out);

/* Look a param up in envp (first match wins, as in libfcgi). */
const char *og_param(char *const *envp, const char *name);

enum og_cred_kind {
    OG_CRED_NONE = 0,     /* no Authorization, or "Basic Og==" */
    OG_CRED_BASIC,        /* user + secret */
    OG_CRED_BEARER,       /* token */
    OG_CRED_MALFORMED,    /* present but unusable: 401, never anonymous */
};

struct og_credentials {
    enum og_cred_kind kind;
    char user[OG_USER_MAX + 1];
    char secret[OG_SECRET_MAX + 1];   /* Basic password or Bearer token */
    size_t secret_len;
    const char *reason;               /* static, for MALFORMED */
};

/* Parse an Authorization header value. Never logs or copies the secret elsewhere. */
void og_credentials_parse(const char *value, size_t len, struct og_credentials *out);

/* Wipe the secret (explicit_bzero). */
void og_credentials_wipe(struct og_credentials *c);

#endif
