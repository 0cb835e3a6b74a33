/*
 * login_endpoint.c - browser sign-in with OpenID Connect: endpoints.login
 * (redirect to the issuer), endpoints.callback (code -> session cookie),
 * endpoints.logout (clear it). Not built yet: every path answers 404.
 */
#include "endpoints.h"

static size_t not_here(struct og_worker_state *w, const struct og_request *req, char *buf,
                       size_t cap, struct og_log_decision *log)
{
    return og_endpoint_deny(w, req, 404, "endpoint", "browser sign-in is not configured",
                            false, buf, cap, log);
}

size_t og_login_endpoint(struct og_worker_state *w, const struct og_request *req,
                         char *buf, size_t cap, struct og_log_decision *log)
{
    return not_here(w, req, buf, cap, log);
}

size_t og_callback_endpoint(struct og_worker_state *w, const struct og_request *req,
                            char *buf, size_t cap, struct og_log_decision *log)
{
    return not_here(w, req, buf, cap, log);
}

size_t og_logout_endpoint(struct og_worker_state *w, const struct og_request *req,
                          char *buf, size_t cap, struct og_log_decision *log)
{
    return not_here(w, req, buf, cap, log);
}
