/*
 * handle.h - one request, start to finish: params in, complete answer out.
 */
#ifndef OCIGATE_HANDLE_H
#define OCIGATE_HANDLE_H

#include <stddef.h>

struct og_config;
struct og_htpasswd;
struct og_registry;

/* What a worker owns for the requests it serves. */
struct og_worker_state {
    const struct og_config *cfg;
    struct og_htpasswd *htpasswd;     /* NULL without auth.htpasswd */
    struct og_registry *registry;     /* one keep-alive handle */
};

/*
 * Decide the request whose FastCGI params are envp and render the answer
 * into buf (at least OG_RESPONSE_MAX bytes). Always returns a complete
 * response starting with "Status:", whatever happens; logs the decision.
 */
size_t og_handle(struct og_worker_state *w, char *const *envp, char *buf, size_t cap);

#endif
