/* responder/apikey_endpoint.c - self-service API keys; being written. */
#include "endpoints.h"
#include "response.h"
#include <string.h>
size_t og_apikey_endpoint(struct og_worker_state *w, const struct og_request *req,
                          const struct og_body *body, char *buf, size_t cap,
                          struct og_log_decision *log)
{
    struct og_answer a;
    (void)body;
    memset(&a, 0, sizeof(a));
    a.status = 503; a.role = req->role; a.cfg = w->cfg; a.reason = "not implemented yet";
    log->status = 503;
    return og_response_render(&a, buf, cap);
}
