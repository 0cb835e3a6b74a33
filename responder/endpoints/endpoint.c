/*
 * endpoint.c - what every endpoint ocigate serves itself does first:
 * identify the caller, and refuse in the one OCI error shape.
 */
#include <stdio.h>
#include <string.h>

#include "endpoints.h"
#include "identity.h"
#include "response.h"

size_t og_endpoint_deny(const struct og_worker_state *w, const struct og_request *req,
                        int status, const char *rule, const char *reason, bool basic_challenge,
                        char *buf, size_t cap, struct og_log_decision *log)
{
    struct og_answer a;

    memset(&a, 0, sizeof(a));
    a.status = status;
    a.role = req->role;
    a.cfg = w->cfg;
    a.rule = rule;
    a.reason = reason;
    a.basic_challenge = basic_challenge;
    log->status = status;
    log->rule = rule;
    log->reason = reason;
    return og_response_render(&a, buf, cap);
}

int og_endpoint_identify(struct og_worker_state *w, const struct og_request *req,
                         struct og_identity *id, struct og_identity_store *store,
                         const char **reason, struct og_log_decision *log)
{
    struct og_identify_ctx ictx = { w->cfg, w->htpasswd, w->apikeys, w->oidc, w->tokens,
                                    w->redis, req->remote_addr, &w->request_failed };
    struct og_credentials cred;
    enum og_identify_result rc;

    og_credentials_parse(req->authorization, req->authorization_len, &cred);
    rc = og_identify(&ictx, &cred, id, store, reason, NULL);
    og_credentials_wipe(&cred);
    switch (rc) {
    case OG_ID_OK:
        /* store is the caller's, gone when og_handle writes the log line */
        snprintf(log->user_buf, sizeof(log->user_buf), "%s", id->user ? id->user : "");
        snprintf(log->key_id_buf, sizeof(log->key_id_buf), "%s", store->key_id);
        log->user = log->user_buf;
        log->auth = og_auth_name(id->auth);
        log->key_id = log->key_id_buf;
        return 0;
    case OG_ID_BAD_CREDENTIALS:
        return 401;
    case OG_ID_THROTTLED:
        return 429;
    default:
        return 503;
    }
}
