/*
 * response.c - allow and deny answers, in the one shape of doc/http.md.
 *
 * Allow: "Status: 200" and the identity, as Variable-* (AUTHORIZER role) or
 * X-Ocigate-* headers (RESPONDER role), always all three, nothing else.
 * Deny: the status, Content-Type, Docker-Distribution-Api-Version, the
 * challenge on 401, and {"errors":[{"code","message","detail"}]}, whose
 * message says in words what happened (og_answer_message); in the RESPONDER
 * role the same body also goes in X-Ocigate-Error (nginx passes only
 * headers of its auth subrequest on).
 * Every string from outside is JSON- or quote-escaped and truncated.
 */
#include "response.h"
#include "decide.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "config.h"

const char og_response_unavailable[] =
    "Status: 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Docker-Distribution-Api-Version: registry/2.0\r\n"
    "\r\n"
    "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"authorizer unavailable\",\"detail\":{}}]}";

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "200 OK";
    case 201: return "201 Created";
    case 302: return "302 Found";
    case 303: return "303 See Other";
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 408: return "408 Request Timeout";
    case 413: return "413 Payload Too Large";
    case 502: return "502 Bad Gateway";
    case 504: return "504 Gateway Timeout";
    case 429: return "429 Too Many Requests";
    default:  return "503 Service Unavailable";
    }
}

static void error_code(int status, const char **code, const char **message)
{
    switch (status) {
    case 400: *code = "UNSUPPORTED";  *message = "request refused: malformed or ambiguous"; break;
    case 401: *code = "UNAUTHORIZED"; *message = "authentication required"; break;
    case 403: *code = "DENIED";       *message = "requested access to the resource is denied"; break;
    case 404: *code = "NAME_UNKNOWN"; *message = "not a registry route"; break;
    case 405: *code = "UNSUPPORTED";  *message = "method not supported"; break;
    case 408: *code = "UNSUPPORTED";  *message = "request body not received in time"; break;
    case 429: *code = "TOOMANYREQUESTS"; *message = "too many failed authentication attempts"; break;
    case 413: *code = "SIZE_INVALID"; *message = "manifest too large (at most 4 MiB)"; break;
    case 502: *code = "UNAVAILABLE";  *message = "the registry could not be asked to write the manifest"; break;
    case 504: *code = "UNAVAILABLE";  *message = "the registry did not answer the manifest write in time"; break;
    default:  *code = "UNAVAILABLE";  *message = "a backend the decision needs could not be asked"; break;
    }
}

static void put_challenge(struct og_buf *o, const struct og_answer *a)
{
    const struct og_config *cfg = a->cfg;

    og_buf_puts(o, "WWW-Authenticate: ");
    if (!cfg || a->basic_challenge || cfg->challenge == OG_CHALLENGE_BASIC || !cfg->token_realm) {
        og_buf_puts(o, "Basic realm=");
        og_buf_quoted(o, cfg && cfg->realm ? cfg->realm : "ocigate", 256);
    } else {
        og_buf_puts(o, "Bearer realm=");
        og_buf_quoted(o, cfg->token_realm, 512);
        og_buf_puts(o, ",service=");
        og_buf_quoted(o, cfg->token_service ? cfg->token_service : cfg->realm, 256);
        if (a->insufficient_scope && a->scope_type && a->scope_name && a->scope_actions) {
            og_buf_puts(o, ",scope=\"");
            og_buf_printable(o, a->scope_type, 32);
            og_buf_puts(o, ":");
            og_buf_printable(o, a->scope_name, 255);
            og_buf_puts(o, ":");
            og_buf_printable(o, a->scope_actions, 32);
            og_buf_puts(o, "\",error=\"insufficient_scope\"");
        } else if (a->repository && *a->repository) {
            og_buf_puts(o, ",scope=\"repository:");
            og_buf_printable(o, a->repository, 255);
            og_buf_puts(o, ":pull,push\"");
        }
    }
    og_buf_puts(o, "\r\n");
}

static void put_detail_field(struct og_buf *o, int *first, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    if (!*first)
        og_buf_put(o, ",", 1);
    *first = 0;
    og_buf_json(o, name, 64);
    og_buf_put(o, ":", 1);
    og_buf_json(o, value, 512);
}

/* ------------------------------------------------------------------------ */
/* The message: what happened, for the person reading a CI log.              */

void og_answer_about(struct og_answer *a, const struct og_identity *id, const char *repo)
{
    a->who = id && id->user && id->user[0] ? id->user : NULL;
    a->may_read = a->cfg && repo && repo[0] &&
                  og_can(a->cfg, id, OG_ACT_READ, repo, strlen(repo), NULL);
}

static bool is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static bool starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "ci may not push to demo/app" */
static const char *verb_for(const char *action)
{
    if (is(action, "read"))
        return "pull from";
    if (is(action, "create"))
        return "push to";
    if (is(action, "update"))
        return "overwrite tags in";
    if (is(action, "delete"))
        return "delete from";
    return "do this in";
}

/*
 * A policy denial names the repository, the action and (for manifest
 * writes) the tag, all of which the client sent itself. What it may not
 * learn is whether a tag exists: that is said only to a caller that may
 * read the repository (it could list the tags anyway).
 */
static void policy_message(const struct og_answer *a, char *buf, size_t cap)
{
    const char *repo = a->repository, *tag = a->tag && a->tag[0] ? a->tag : NULL;
    const char *reason = a->reason ? a->reason : "";
    const char *who = a->who ? a->who : "anonymous clients";

    if (!a->who && a->status == 401) {
        if (a->may_read && !is(a->action, "read"))
            snprintf(buf, cap, "anonymous clients may only pull from %s: log in to %s it",
                     repo, is(a->action, "delete") ? "delete from" : "push to");
        else
            snprintf(buf, cap, "authentication required to %s %s", verb_for(a->action), repo);
        return;
    }
    if (a->may_read && tag && starts(reason, "immutable tag points at")) {
        snprintf(buf, cap, "immutable tag %s in %s points at this manifest (%s): it may not be "
                 "deleted", tag, repo, a->rule);
        return;
    }
    if (a->may_read && tag && starts(reason, "immutable tag")) {
        if (is(a->action, "delete"))
            snprintf(buf, cap, "tag %s in %s is immutable (%s): no one may delete it",
                     tag, repo, a->rule);
        else
            snprintf(buf, cap, "tag %s already exists in %s and is immutable (%s): no one may "
                     "overwrite it", tag, repo, a->rule);
        return;
    }
    if (a->may_read && tag && is(reason, "tag exists: no grant for update")) {
        snprintf(buf, cap, "tag %s already exists in %s and %s may not overwrite it",
                 tag, repo, who);
        return;
    }
    if (a->may_read && tag && starts(reason, "a concurrent push claimed or created the tag")) {
        snprintf(buf, cap, "tag %s in %s was just pushed by another client (or is being pushed "
                 "right now) and %s may not overwrite it", tag, repo, who);
        return;
    }
    if (is(a->rule, "apikey scope")) {
        snprintf(buf, cap, "%s is outside the repositories this API key may use", repo);
        return;
    }
    int n;
    if (tag && (is(a->action, "create") || is(a->action, "update")))
        n = snprintf(buf, cap, "%s may not push tag %s to %s", who, tag, repo);
    else
        n = snprintf(buf, cap, "%s may not %s %s", who, verb_for(a->action), repo);
    if (a->condition_denied && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, ": %s", reason);
}

void og_answer_message(const struct og_answer *a, char *buf, size_t cap)
{
    const char *code, *fallback;
    const char *reason = a->reason && a->reason[0] ? a->reason : NULL;

    error_code(a->status, &code, &fallback);
    switch (a->status) {
    case 400:
        snprintf(buf, cap, "request refused: %s", reason ? reason : "malformed or ambiguous");
        return;
    case 429:
        snprintf(buf, cap, "too many failed logins from this address: try again in %d seconds",
                 a->retry_after > 0 ? a->retry_after : 60);
        return;
    case 401:
    case 403:
        if (is(a->rule, "credentials")) {
            snprintf(buf, cap, "authentication failed: %s", reason ? reason : "bad credentials");
            return;
        }
        if (starts(reason, "cross-repository mount") || starts(reason, "no read on the mount")) {
            snprintf(buf, cap, "%s", reason);
            return;
        }
        if (a->repository && a->repository[0] && a->action && !is(a->rule, "route")) {
            policy_message(a, buf, cap);
            return;
        }
        if (a->status == 401 && (!reason || is(a->rule, "challenge"))) {
            snprintf(buf, cap, "%s", fallback);
            return;
        }
        snprintf(buf, cap, "%s%s", a->status == 401 ? "authentication required: " : "",
                 reason ? reason : fallback);
        return;
    case 503:
        snprintf(buf, cap, "%s%s: try again later", reason ? "could not decide: " : "",
                 reason ? reason : fallback);
        return;
    default:
        snprintf(buf, cap, "%s", reason ? reason : fallback);
        return;
    }
}

static void render_allow(struct og_buf *o, const struct og_answer *a)
{
    const char *pfx = a->role == OG_ROLE_AUTHORIZER ? "Variable-OCIGATE_" : "X-Ocigate-";
    const char *names_a[3] = { "USER", "GROUPS", "AUTH" };
    const char *names_r[3] = { "User", "Groups", "Auth" };
    const char *vals[3] = { a->user, a->groups, a->auth };

    og_buf_puts(o, "Status: 200 OK\r\n");
    for (int i = 0; i < 3; i++) {
        og_buf_puts(o, pfx);
        og_buf_puts(o, a->role == OG_ROLE_AUTHORIZER ? names_a[i] : names_r[i]);
        og_buf_puts(o, ": ");
        og_buf_printable(o, vals[i] ? vals[i] : "", 1024);
        og_buf_puts(o, "\r\n");
    }
    og_buf_puts(o, "\r\n");
}

/* The policy fields of the detail are for callers that may read the
   repository, or that are known; an anonymous client that may not read it
   learns what it asked (action, repository, tag) and nothing of the rules. */
static bool detail_hides_policy(const struct og_answer *a)
{
    return !a->who && !a->may_read && a->repository && a->repository[0] &&
           (a->status == 401 || a->status == 403) && !is(a->rule, "credentials") &&
           !is(a->rule, "route") && !is(a->rule, "challenge");
}

static void render_body(struct og_buf *o, const struct og_answer *a)
{
    const char *code, *message;
    char text[768];
    int first = 1;

    error_code(a->status, &code, &message);
    if (a->code && a->code[0])
        code = a->code;
    og_answer_message(a, text, sizeof(text));
    og_buf_puts(o, "{\"errors\":[{\"code\":\"");
    og_buf_puts(o, code);
    og_buf_puts(o, "\",\"message\":");
    og_buf_json(o, text, sizeof(text));
    og_buf_puts(o, ",\"detail\":{");
    put_detail_field(o, &first, "action", a->action);
    put_detail_field(o, &first, "repository", a->repository);
    put_detail_field(o, &first, "tag", a->tag);
    if (!detail_hides_policy(a)) {
        put_detail_field(o, &first, "rule", a->rule);
        put_detail_field(o, &first, "reason", a->reason);
    }
    og_buf_puts(o, "}}]}");
}

/* X-Ocigate-Error carries at most this much (nginx: fastcgi_buffer_size). */
#define ERROR_HEADER_MAX 3072

static void render_deny(struct og_buf *o, const struct og_answer *a)
{
    char body[16384];
    struct og_buf b;

    og_buf_init(&b, body, sizeof(body));
    render_body(&b, a);
    if (b.truncated) {
        o->truncated = true;
        return;
    }
    og_buf_puts(o, "Status: ");
    og_buf_puts(o, status_text(a->status));
    og_buf_puts(o, "\r\nContent-Type: application/json\r\n"
             "Docker-Distribution-Api-Version: registry/2.0\r\n");
    if (a->status == 401)
        put_challenge(o, a);
    if (a->status == 429)   /* without a known TTL: the whole throttling window */
        og_buf_printf(o, "Retry-After: %d\r\n", a->retry_after > 0 ? a->retry_after : 60);
    if (a->role == OG_ROLE_RESPONDER && b.len <= ERROR_HEADER_MAX) {
        og_buf_puts(o, "X-Ocigate-Error: ");
        og_buf_printable(o, body, b.len);
        og_buf_puts(o, "\r\n");
    }
    og_buf_puts(o, "\r\n");
    og_buf_put(o, body, b.len);
    og_buf_puts(o, "\n");
}

size_t og_response_render(const struct og_answer *a, char *buf, size_t cap)
{
    struct og_buf o;

    og_buf_init(&o, buf, cap);
    if (a->status == 200)
        render_allow(&o, a);
    else
        render_deny(&o, a);
    if (o.truncated) {
        size_t n = sizeof(og_response_unavailable) - 1;
        if (n >= cap)
            return 0;
        memcpy(buf, og_response_unavailable, n + 1);
        return n;
    }
    return o.len;
}

size_t og_response_json(int status, const char *body, size_t body_len, char *buf, size_t cap)
{
    struct og_buf o;

    og_buf_init(&o, buf, cap);
    og_buf_puts(&o, "Status: ");
    og_buf_puts(&o, status_text(status));
    og_buf_puts(&o, "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n");
    og_buf_put(&o, body, body_len);
    return o.truncated ? 0 : o.len;
}

const char og_page_csp[] =
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

size_t og_response_page(const struct og_page *pg, char *buf, size_t cap)
{
    struct og_buf o;

    og_buf_init(&o, buf, cap);
    og_buf_puts(&o, "Status: ");
    og_buf_puts(&o, status_text(pg->status));
    og_buf_puts(&o, "\r\n");
    if (pg->location) {
        og_buf_puts(&o, "Location: ");
        og_buf_printable(&o, pg->location, OG_PAGE_LOCATION_MAX);
        og_buf_puts(&o, "\r\n");
    }
    for (size_t i = 0; i < pg->ncookies; i++) {
        og_buf_puts(&o, "Set-Cookie: ");
        og_buf_printable(&o, pg->cookies[i], OG_PAGE_LOCATION_MAX);
        og_buf_puts(&o, "\r\n");
    }
    og_buf_puts(&o, "Content-Type: ");
    og_buf_puts(&o, pg->content_type ? pg->content_type : "text/html; charset=utf-8");
    og_buf_puts(&o, "\r\nCache-Control: no-store\r\n"
                "Content-Security-Policy: ");
    og_buf_puts(&o, pg->csp ? pg->csp : og_page_csp);
    og_buf_puts(&o, "\r\nX-Frame-Options: DENY\r\n"
                "X-Content-Type-Options: nosniff\r\n"
                "Referrer-Policy: no-referrer\r\n\r\n");
    if (pg->body)
        og_buf_put(&o, pg->body, pg->body_len);
    return o.truncated ? 0 : o.len;
}
