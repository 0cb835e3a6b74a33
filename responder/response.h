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

#define OG_RESPONSE_MAX 131072  /* the largest answer: a page of the filtered catalog */

struct og_answer {
    int status;                 /* 200, 400, 401, 403, 404, 405, 408, 429, 503 */
    enum og_role role;
    const struct og_config *cfg;   /* for the challenge; may be NULL (Basic realm "ocigate") */
    /* allow: the identity handed to the registry */
    const char *user, *groups, *auth;   /* groups comma-separated; NULLs are "" */
    /* deny: the detail of the OCI error body */
    const char *action, *repository, *rule, *reason, *tag;
    int retry_after;            /* seconds, for 429 */
    int basic_challenge;        /* 401 of the token endpoint: always Basic */
};

/* Render into buf (OG_RESPONSE_MAX is always enough). Returns the length. */
size_t og_response_render(const struct og_answer *a, char *buf, size_t cap);

/* A JSON answer of an endpoint ocigate serves itself (RESPONDER role):
   status, Content-Type, Cache-Control: no-store, body. Returns the length,
   or 0 when it does not fit. */
size_t og_response_json(int status, const char *body, size_t body_len, char *buf, size_t cap);

/* The fixed answer used when nothing better can be rendered: 503, fail closed. */
extern const char og_response_unavailable[];

#endif
