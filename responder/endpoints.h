/*
 * endpoints.h - what ocigate serves itself in the RESPONDER role: the token
 * endpoint (SPEC §3a) and the self-service API key endpoint (SPEC §4).
 */
#ifndef OCIGATE_ENDPOINTS_H
#define OCIGATE_ENDPOINTS_H

#include <stddef.h>

#include "handle.h"
#include "log.h"
#include "request.h"

enum og_endpoint { OG_EP_NONE = 0, OG_EP_TOKEN, OG_EP_APIKEY, OG_EP_METRICS, OG_EP_HEALTH };

/* Which endpoint, if any, does this path (no query) name? */
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

/* GET /v2/_catalog answered by ocigate (SPEC §4 deviation 6): only where the
   web server marks the location with the FastCGI param OCIGATE_SERVE=catalog. */
size_t og_catalog_endpoint(struct og_worker_state *w, const struct og_request *req,
                           char *buf, size_t cap, struct og_log_decision *log);

#endif
