/*
 * response.h - a decision -> the bytes of a FastCGI response.
 *
 * Rendering is separate from writing so that every answer, error paths
 * included, is a complete buffer with "Status:" first (lighttpd ignores
 * header lines before Status and treats an empty answer as allow).
 */
#ifndef OCIGATE_RESPONSE_H
#define OCIGATE_RESPONSE_H

#include <stddef.h>

#include "request.h"

struct og_config;
struct og_identity;

#define OG_RESPONSE_MAX 131072  /* the largest answer: a page of the filtered catalog */

struct og_answer {
    int status;                 /* 200, 400, 401, 403, 404, 405, 408, 413, 429, 502,
                                   503, 504 */
    enum og_role role;
    const struct og_config *cfg;   /* for the challenge; may be NULL (Basic realm "ocigate") */
    /* allow: the identity handed to the registry */
    const char *user, *groups, *auth;   /* groups comma-separated; NULLs are "" */
    /* deny: the detail of the OCI error body */
    const char *action, *repository, *rule, *reason, *tag;
    const char *code;           /* the OCI error code; NULL: the status's own */
    /* deny: for the message a client reads (og_answer_about) */
    const char *who;            /* the identified user; NULL or "" = anonymous */
    int may_read;               /* the caller may read the repository: only then
                                   may the message confirm that a tag exists */
    int retry_after;            /* seconds, for 429 */
    int basic_challenge;        /* 401 of the token endpoint: always Basic */
    /* 401 for an ocigate token that lacks the scope: the challenge names
       scope_type:scope_name:scope_actions and error="insufficient_scope" */
    int insufficient_scope;
    const char *scope_type, *scope_name, *scope_actions;
    int condition_denied;       /* reason is the message of a false accessControl condition */
};

/* Fill who/may_read of a denial from the identity the decision used (NULL:
   none established) and the repository of the request (NULL or "": none). */
void og_answer_about(struct og_answer *a, const struct og_identity *id, const char *repo);

/* The sentence a denial's OCI error "message" carries, for a person reading
   a CI log: what happened, in words, without telling an anonymous client
   anything it may not learn by reading. Written into buf (NUL-terminated). */
void og_answer_message(const struct og_answer *a, char *buf, size_t cap);

/* Render into buf (OG_RESPONSE_MAX is always enough). Returns the length.
   A denial in the RESPONDER role also carries its whole JSON body, on one
   line, in the header X-Ocigate-Error: nginx's auth_request drops the body
   of the subrequest and can only pass headers on (auth_request_set). */
size_t og_response_render(const struct og_answer *a, char *buf, size_t cap);

/* A JSON answer of an endpoint ocigate serves itself (RESPONDER role):
   status, Content-Type, Cache-Control: no-store, body. Returns the length,
   or 0 when it does not fit. */
size_t og_response_json(int status, const char *body, size_t body_len, char *buf, size_t cap);

/* A page or a redirect of ocigate's own browser pages (RESPONDER role:
   sign-in, the key page). Every such answer carries Cache-Control: no-store,
   a strict Content-Security-Policy (og_page_csp unless csp is set),
   X-Frame-Options: DENY (and frame-ancestors 'none' in the CSP),
   X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer (the
   callback's URL holds the authorization code). Location and Set-Cookie
   values are written as printable ASCII (other bytes become '?'); the caller
   encodes them. */
#define OG_PAGE_LOCATION_MAX 8192
#define OG_PAGE_COOKIES_MAX  4
struct og_page {
    int status;                  /* 200, 302, 303, 400, 403, 404, 405, 502, 503 ... */
    const char *location;        /* NULL: none */
    const char *cookies[OG_PAGE_COOKIES_MAX];   /* Set-Cookie values */
    size_t ncookies;
    const char *content_type;    /* NULL: text/html; charset=utf-8 */
    const char *csp;             /* NULL: og_page_csp */
    const char *body;
    size_t body_len;
};
extern const char og_page_csp[];

/* Render a page; its length, or 0 when it does not fit in cap. */
size_t og_response_page(const struct og_page *pg, char *buf, size_t cap);

/* The fixed answer used when nothing better can be rendered: 503, fail closed. */
extern const char og_response_unavailable[];

#endif
