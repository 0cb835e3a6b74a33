/*
 * handle.h - one request, start to finish: params in, complete answer out.
 */
#ifndef OCIGATE_HANDLE_H
#define OCIGATE_HANDLE_H

#include <stdbool.h>
#include <stddef.h>

struct og_apikeys;
struct og_config;
struct og_htpasswd;
struct og_oidc;
struct og_redis;
struct og_registry;
struct og_tokens;
struct og_session_keys;

/* What a worker owns for the requests it serves (NULL members: disabled). */
struct og_worker_state {
    const struct og_config *cfg;
    struct og_htpasswd *htpasswd;     /* auth.htpasswd, loaded by the master */
    struct og_registry *registry;     /* one keep-alive handle */
    struct og_redis *redis;           /* one connection */
    struct og_apikeys *apikeys;       /* API key cache over redis */
    struct og_oidc *oidc;             /* JWKS and verified-token cache */
    struct og_tokens *tokens;         /* token signing key, loaded by the master */
    struct og_session_keys *session;  /* session.keyFile, loaded by the master; NULL:
                                         no browser sign-in (its pages answer 404) */
    int request_failed;               /* the last request's credentials were refused */
};

/* The request body, readable only in the RESPONDER role (never as an AUTHORIZER). */
struct og_body {
    int (*read)(void *ctx, char *buf, int n);   /* bytes read, 0 at the end, <0 error */
    void *ctx;
};

/*
 * Decide the request whose FastCGI params are envp and render the answer
 * into buf (at least OG_RESPONSE_MAX bytes). Always returns a complete
 * response starting with "Status:", whatever happens; logs the decision.
 * body may be NULL (no body can be read).
 */
size_t og_handle(struct og_worker_state *w, char *const *envp, const struct og_body *body,
                 char *buf, size_t cap);

struct og_route;
struct og_facts;
struct og_request;

/* Ask the registry about every tag of route whose state facts leaves
   unknown (a few brief retries on a 5xx). false: it could not say (503). */
bool og_gather_tag_facts(struct og_worker_state *w, const struct og_route *route,
                         struct og_facts *facts);

struct og_query;
struct og_outcome;

/* Gather the facts out->need names into facts (digest_tag: room for the tag
   that protects a digest, OG_TAG_MAX + 1), set q->facts and evaluate again,
   until nothing is needed. false: the registry could not say, and out is
   the 503 refusal (facts.c). */
bool og_gather_facts(struct og_worker_state *w, struct og_query *q, struct og_facts *facts,
                     char *digest_tag, size_t cap, struct og_outcome *out);

/* A manifest PUT served by ocigate itself (OCIGATE_SERVE=manifest,
   RESPONDER role): read the body, decide, claim, forward to the registry,
   answer with the registry's answer (manifest_write.c). Logs and counts
   the request. */
size_t og_manifest_write(struct og_worker_state *w, char *const *envp,
                         const struct og_request *req, const struct og_body *body,
                         char *buf, size_t cap);

#endif
