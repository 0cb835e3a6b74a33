/*
 * endpoints.h - what ocigate serves itself in the RESPONDER role: the
 * registry token endpoint, the self-service API key endpoint, metrics and
 * health, the filtered catalog; which path names which endpoint; and
 * what every endpoint does first (identify the caller, refuse).
 */
#ifndef OCIGATE_ENDPOINTS_H
#define OCIGATE_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "handle.h"
#include "log.h"
#include "request.h"

struct og_identity;
struct og_identity_store;

/* Refuse an endpoint request in the OCI error shape; fills the log fields. */
size_t og_endpoint_deny(const struct og_worker_state *w, const struct og_request *req,
                        int status, const char *rule, const char *reason, bool basic_challenge,
                        char *buf, size_t cap, struct og_log_decision *log);

/* Identify the caller of an endpoint (throttled, failures counted). Returns
   0 with id filled and the log's user/auth set, or the status to refuse
   with (401, 429, 503) and *reason. */
int og_endpoint_identify(struct og_worker_state *w, const struct og_request *req,
                         struct og_identity *id, struct og_identity_store *store,
                         const char **reason, struct og_log_decision *log);

enum og_endpoint { OG_EP_NONE = 0, OG_EP_TOKEN, OG_EP_APIKEY, OG_EP_METRICS, OG_EP_HEALTH,
                   OG_EP_LOGIN, OG_EP_CALLBACK, OG_EP_LOGOUT, OG_EP_KEYS };

/* Which endpoint, if any, does this path (no query) name? endpoints.keys
   names the key page and everything under it (endpoints.keys + "/..."). */
enum og_endpoint og_endpoint_match(const struct og_config *cfg, const char *path, size_t len);

/* Serve one endpoint request; fill *log; return the rendered answer's length. */
size_t og_token_endpoint(struct og_worker_state *w, const struct og_request *req,
                         char *buf, size_t cap, struct og_log_decision *log);
size_t og_apikey_endpoint(struct og_worker_state *w, const struct og_request *req,
                          const struct og_body *body, char *buf, size_t cap,
                          struct og_log_decision *log);

/* endpoints.metrics (who may scrape: accessControl.metrics) and endpoints.health. */
size_t og_metrics_endpoint(struct og_worker_state *w, const struct og_request *req,
                           char *buf, size_t cap, struct og_log_decision *log);
size_t og_health_endpoint(struct og_worker_state *w, const struct og_request *req,
                          char *buf, size_t cap, struct og_log_decision *log);

/* Browser sign-in (login_endpoint.c): endpoints.login redirects to the
   issuer (authorization code flow with PKCE), endpoints.callback takes the
   code back and sets the session cookie, endpoints.logout clears it. */
size_t og_login_endpoint(struct og_worker_state *w, const struct og_request *req,
                         char *buf, size_t cap, struct og_log_decision *log);
size_t og_callback_endpoint(struct og_worker_state *w, const struct og_request *req,
                            char *buf, size_t cap, struct og_log_decision *log);
size_t og_logout_endpoint(struct og_worker_state *w, const struct og_request *req,
                          char *buf, size_t cap, struct og_log_decision *log);

/* The key page (keys_endpoint.c): endpoints.keys and the paths under it,
   for a signed-in session; without one, a redirect to endpoints.login. */
size_t og_keys_endpoint(struct og_worker_state *w, const struct og_request *req,
                        const struct og_body *body, char *buf, size_t cap,
                        struct og_log_decision *log);

/* GET /v2/_catalog answered by ocigate (doc/http.md): only where the
   web server marks the location with the FastCGI param OCIGATE_SERVE=catalog. */
size_t og_catalog_endpoint(struct og_worker_state *w, const struct og_request *req,
                           char *buf, size_t cap, struct og_log_decision *log);

#endif
