/*
 * keys_endpoint.c - the key page: a signed-in person's API keys (list,
 * create, revoke; admins: everyone's), served by ocigate itself.
 * Not built yet: every path answers 404.
 */
#include "endpoints.h"

size_t og_keys_endpoint(struct og_worker_state *w, const struct og_request *req,
                        const struct og_body *body, char *buf, size_t cap,
                        struct og_log_decision *log)
{
    (void)body;
    return og_endpoint_deny(w, req, 404, "endpoint", "the key page is not configured",
                            false, buf, cap, log);
}
