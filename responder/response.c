/*
 * response.c - allow and deny answers, in the one shape of SPEC §3.
 *
 * Allow: "Status: 200" and the identity, as Variable-* (AUTHORIZER role) or
 * X-Ocigate-* headers (RESPONDER role), always all three, nothing else.
 * Deny: the status, Content-Type, Docker-Distribution-Api-Version, the
 * challenge on 401, and {"errors":[{"code","message","detail"}]}.
 * Every string from outside is JSON- or quote-escaped and truncated.
 */
#include "response.h"
#include "decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char og_response_unavailable[] =
    "Status: 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Docker-Distribution-Api-Version: registry/2.0\r\n"
    "\r\n"
    "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"authorizer unavailable\",\"detail\":{}}]}";

struct out {
    char *buf;
    size_t cap, len;
    int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || o->len + n >= o->cap) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void printf_(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        o->overflow = 1;
        return;
    }
    put(o, tmp, (size_t)n);
}

/* A header value: printable ASCII only, at most max bytes. */
static void put_header_value(struct out *o, const char *s, size_t max)
{
    for (size_t i = 0; s && s[i] && i < max; i++) {
        char c = s[i];
        if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
            c = '?';
        put(o, &c, 1);
    }
}

/* A quoted-string (RFC 9110): backslash-escape '"' and '\'. */
static void put_quoted(struct out *o, const char *s, size_t max)
{
    put(o, "\"", 1);
    for (size_t i = 0; s && s[i] && i < max; i++) {
        char c = s[i];
        if (c == '"' || c == '\\')
            put(o, "\\", 1);
        if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
            c = '?';
        put(o, &c, 1);
    }
    put(o, "\"", 1);
}

static void put_json_string(struct out *o, const char *s, size_t max)
{
    put(o, "\"", 1);
    for (size_t i = 0; s && s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            put(o, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            printf_(o, "\\u%04x", c);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    put(o, "\"", 1);
}

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "200 OK";
    case 201: return "201 Created";
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 408: return "408 Request Timeout";
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
    default:  *code = "UNAVAILABLE";  *message = "a backend the decision needs could not be asked"; break;
    }
}

static void put_challenge(struct out *o, const struct og_answer *a)
{
    const struct og_config *cfg = a->cfg;

    puts_(o, "WWW-Authenticate: ");
    if (!cfg || a->basic_challenge || cfg->challenge == OG_CHALLENGE_BASIC || !cfg->token_realm) {
        puts_(o, "Basic realm=");
        put_quoted(o, cfg && cfg->realm ? cfg->realm : "ocigate", 256);
    } else {
        puts_(o, "Bearer realm=");
        put_quoted(o, cfg->token_realm, 512);
        puts_(o, ",service=");
        put_quoted(o, cfg->token_service ? cfg->token_service : cfg->realm, 256);
        if (a->repository && *a->repository) {
            puts_(o, ",scope=\"repository:");
            put_header_value(o, a->repository, 255);
            puts_(o, ":pull,push\"");
        }
    }
    puts_(o, "\r\n");
}

static void put_detail_field(struct out *o, int *first, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    if (!*first)
        put(o, ",", 1);
    *first = 0;
    put_json_string(o, name, 64);
    put(o, ":", 1);
    put_json_string(o, value, 512);
}

static void render_allow(struct out *o, const struct og_answer *a)
{
    const char *pfx = a->role == OG_ROLE_AUTHORIZER ? "Variable-OCIGATE_" : "X-Ocigate-";
    const char *names_a[3] = { "USER", "GROUPS", "AUTH" };
    const char *names_r[3] = { "User", "Groups", "Auth" };
    const char *vals[3] = { a->user, a->groups, a->auth };

    puts_(o, "Status: 200 OK\r\n");
    for (int i = 0; i < 3; i++) {
        puts_(o, pfx);
        puts_(o, a->role == OG_ROLE_AUTHORIZER ? names_a[i] : names_r[i]);
        puts_(o, ": ");
        put_header_value(o, vals[i] ? vals[i] : "", 1024);
        puts_(o, "\r\n");
    }
    puts_(o, "\r\n");
}

static void render_deny(struct out *o, const struct og_answer *a)
{
    const char *code, *message;
    int first = 1;

    error_code(a->status, &code, &message);
    puts_(o, "Status: ");
    puts_(o, status_text(a->status));
    puts_(o, "\r\nContent-Type: application/json\r\n"
             "Docker-Distribution-Api-Version: registry/2.0\r\n");
    if (a->status == 401)
        put_challenge(o, a);
    if (a->status == 429)   /* without a known TTL: the whole throttling window */
        printf_(o, "Retry-After: %d\r\n", a->retry_after > 0 ? a->retry_after : 60);
    puts_(o, "\r\n{\"errors\":[{\"code\":\"");
    puts_(o, code);
    puts_(o, "\",\"message\":");
    put_json_string(o, message, 128);
    puts_(o, ",\"detail\":{");
    put_detail_field(o, &first, "action", a->action);
    put_detail_field(o, &first, "repository", a->repository);
    put_detail_field(o, &first, "tag", a->tag);
    put_detail_field(o, &first, "rule", a->rule);
    put_detail_field(o, &first, "reason", a->reason);
    puts_(o, "}}]}\n");
}

size_t og_response_render(const struct og_answer *a, char *buf, size_t cap)
{
    struct out o = { buf, cap, 0, 0 };

    if (a->status == 200)
        render_allow(&o, a);
    else
        render_deny(&o, a);
    if (o.overflow) {
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
    struct out o = { buf, cap, 0, 0 };

    puts_(&o, "Status: ");
    puts_(&o, status_text(status));
    puts_(&o, "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n");
    put(&o, body, body_len);
    return o.overflow ? 0 : o.len;
}
