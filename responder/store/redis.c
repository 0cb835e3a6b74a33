/*
 * redis.c - one Redis connection per process (hiredis, blocking, with timeouts).
 *
 * redis.url is parsed once; the connection is opened on first use, with
 * redis.timeoutMs as connect and command timeout, then AUTH and SELECT. Any
 * failure drops the connection; the next command reconnects, but at most one
 * attempt is made per second, and in between commands fail at once (NULL),
 * so a dead Redis costs no latency. A connection that the server closed while
 * idle is noticed before a command is sent (poll), not by failing it.
 * The password is wiped on free and never appears in a message or a log.
 */
#include "redis.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "hex.h"
#include "log.h"

#define RETRY_INTERVAL_MS 1000
#define DEFAULT_PORT      6379
#define MAX_DB            100000

struct og_redis {
    redisContext *ctx;
    char *host;                 /* TCP host, or NULL for a unix socket */
    int port;
    char *path;                 /* unix socket path */
    long db;
    char *user;                 /* AUTH USER PASSWORD (Redis 6 ACL), or NULL */
    char *password;             /* NULL: no AUTH */
    char *prefix;
    struct timeval tv;
    long long last_attempt_ms;  /* monotonic; 0 = never */
    bool reachable;             /* the last command was answered */
    bool down_logged;           /* logged the current outage already */
    char describe[300];         /* where, without the password */
    char last_error[160];
};

static void wipe_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

/* Copy s[0..n) with %XX decoded; NULL on a bad escape or a NUL byte. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? og_hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? og_hex_value((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                goto fail;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0)
            goto fail;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
fail:
    explicit_bzero(out, n + 1);
    free(out);
    return NULL;
}

static bool parse_number(const char *s, size_t n, long min, long max, long *out)
{
    long v = 0;

    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* unix:///PATH[?db=N] (also unix:/PATH) */
static bool parse_unix(struct og_redis *r, const char *s, char *err, size_t errlen)
{
    const char *p = s + strlen("unix:"), *q;
    size_t plen;

    if (strncmp(p, "//", 2) == 0)
        p += 2;
    if (*p != '/') {
        og_set_err(err, errlen, "redis.url: unix socket path must be absolute (unix:///PATH)");
        return false;
    }
    q = strchr(p, '?');
    plen = q ? (size_t)(q - p) : strlen(p);
    if (plen < 2 || plen > 107) {
        og_set_err(err, errlen, "redis.url: bad unix socket path");
        return false;
    }
    r->path = pct_decode(p, plen);
    if (!r->path) {
        og_set_err(err, errlen, "redis.url: bad unix socket path");
        return false;
    }
    if (q) {
        if (strncmp(q, "?db=", 4) != 0 || !parse_number(q + 4, strlen(q + 4), 0, MAX_DB, &r->db)) {
            og_set_err(err, errlen, "redis.url: unix socket URL may only carry ?db=N");
            return false;
        }
    }
    return true;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] */
static bool parse_tcp(struct og_redis *r, const char *s, char *err, size_t errlen)
{
    const char *a = s + strlen("redis://");
    const char *slash = strchr(a, '/');
    const char *end = slash ? slash : a + strlen(a);
    const char *at = NULL, *h, *hend, *pstart = NULL;
    long port = DEFAULT_PORT;

    for (const char *p = a; p < end; p++)
        if (*p == '@')
            at = p;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        if (!colon) {
            og_set_err(err, errlen,
                       "redis.url: credentials must be written :PASSWORD@ or USER:PASSWORD@");
            return false;
        }
        if (colon > a && !(r->user = pct_decode(a, (size_t)(colon - a)))) {
            og_set_err(err, errlen, "redis.url: bad user name");
            return false;
        }
        r->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
        if (!r->password) {
            og_set_err(err, errlen, "redis.url: bad password encoding");
            return false;
        }
        h = at + 1;
    } else {
        h = a;
    }
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb == h + 1) {
            og_set_err(err, errlen, "redis.url: bad IPv6 address");
            return false;
        }
        r->host = strndup(h + 1, (size_t)(rb - h - 1));
        hend = rb + 1;
        if (hend < end) {
            if (*hend != ':') {
                og_set_err(err, errlen, "redis.url: bad host");
                return false;
            }
            pstart = hend + 1;
        }
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        hend = colon ? colon : end;
        if (hend == h) {
            og_set_err(err, errlen, "redis.url: missing host");
            return false;
        }
        r->host = strndup(h, (size_t)(hend - h));
        if (colon)
            pstart = colon + 1;
    }
    if (!r->host) {
        og_set_err(err, errlen, "redis.url: out of memory");
        return false;
    }
    if (strlen(r->host) > 253) {
        og_set_err(err, errlen, "redis.url: host name too long");
        return false;
    }
    if (pstart && !parse_number(pstart, (size_t)(end - pstart), 1, 65535, &port)) {
        og_set_err(err, errlen, "redis.url: bad port");
        return false;
    }
    r->port = (int)port;
    if (slash && slash[1] && !parse_number(slash + 1, strlen(slash + 1), 0, MAX_DB, &r->db)) {
        og_set_err(err, errlen, "redis.url: the path must be a database number (/N)");
        return false;
    }
    return true;
}

struct og_redis *og_redis_new(const struct og_config *cfg, char *err, size_t errlen)
{
    struct og_redis *r = calloc(1, sizeof(*r));
    const char *url = cfg && cfg->redis_url ? cfg->redis_url : "redis://127.0.0.1:6379/0";
    int ms = cfg && cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 200;
    bool ok;

    if (!r) {
        og_set_err(err, errlen, "redis.url: out of memory");
        return NULL;
    }
    if (strncmp(url, "redis://", 8) == 0) {
        ok = parse_tcp(r, url, err, errlen);
    } else if (strncmp(url, "unix:", 5) == 0) {
        ok = parse_unix(r, url, err, errlen);
    } else {
        og_set_err(err, errlen, "redis.url: must start with redis:// or unix:");
        ok = false;
    }
    if (!ok)
        goto fail;
    if (cfg && cfg->redis_password) {        /* redis.password(File) wins over the URL */
        wipe_free(r->password);
        r->password = strdup(cfg->redis_password);
        if (!r->password) {
            og_set_err(err, errlen, "redis.url: out of memory");
            goto fail;
        }
    }
    r->prefix = strdup(cfg && cfg->redis_prefix ? cfg->redis_prefix : "ocigate:");
    if (!r->prefix) {
        og_set_err(err, errlen, "redis.url: out of memory");
        goto fail;
    }
    r->tv.tv_sec = ms / 1000;
    r->tv.tv_usec = (ms % 1000) * 1000;
    if (r->host)
        snprintf(r->describe, sizeof(r->describe), "%s%s%s:%d/%ld",
                 strchr(r->host, ':') ? "[" : "", r->host, strchr(r->host, ':') ? "]" : "",
                 r->port, r->db);
    else
        snprintf(r->describe, sizeof(r->describe), "unix:%s?db=%ld", r->path, r->db);
    snprintf(r->last_error, sizeof(r->last_error), "not connected yet");
    return r;
fail:
    og_redis_free(r);
    return NULL;
}

static void drop(struct og_redis *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

void og_redis_free(struct og_redis *r)
{
    if (!r)
        return;
    drop(r);
    free(r->host);
    free(r->path);
    wipe_free(r->user);
    wipe_free(r->password);
    free(r->prefix);
    free(r);
}

/* Record a failure: the connection is gone, the next attempt waits a second. */
static void mark_down(struct og_redis *r, const char *what)
{
    snprintf(r->last_error, sizeof(r->last_error), "%s", what);
    drop(r);
    r->reachable = false;
    if (!r->down_logged) {
        og_log(OG_LOG_WARN, "redis %s: %s", r->describe, r->last_error);
        r->down_logged = true;
    }
}

static bool simple_ok(redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_STATUS;
}

static bool auth_and_select(struct og_redis *r)
{
    redisReply *rep;

    if (r->password) {
        const char *argv[3];
        size_t lens[3];
        int argc = 0;
        argv[argc] = "AUTH"; lens[argc++] = 4;
        if (r->user) {
            argv[argc] = r->user; lens[argc++] = strlen(r->user);
        }
        argv[argc] = r->password; lens[argc++] = strlen(r->password);
        rep = redisCommandArgv(r->ctx, argc, argv, lens);
        if (!simple_ok(rep)) {
            mark_down(r, rep ? "the server refused AUTH (wrong password?)"
                             : "connection lost during AUTH");
            if (rep)
                freeReplyObject(rep);
            return false;
        }
        freeReplyObject(rep);
    }
    if (r->db) {
        rep = redisCommand(r->ctx, "SELECT %ld", r->db);
        if (!simple_ok(rep)) {
            char msg[160];
            snprintf(msg, sizeof(msg), "the server refused SELECT %ld%s%.80s", r->db,
                     rep && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                     rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
            if (rep)
                freeReplyObject(rep);
            mark_down(r, msg);
            return false;
        }
        freeReplyObject(rep);
    }
    return true;
}

/* Is the idle connection still open? Readable or hung up means the server closed it. */
static bool still_open(redisContext *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN, .revents = 0 };
    int n;

    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 0;
}

/* Make sure there is a connection; false = fail fast (no attempt or it failed). */
static bool ensure(struct og_redis *r)
{
    long long now;
    char msg[160];

    if (!r)
        return false;
    if (r->ctx && !still_open(r->ctx))
        drop(r);
    if (r->ctx)
        return true;
    now = og_mono_ms();
    if (r->last_attempt_ms && now - r->last_attempt_ms < RETRY_INTERVAL_MS)
        return false;
    r->last_attempt_ms = now;
    if (r->host)
        r->ctx = redisConnectWithTimeout(r->host, r->port, r->tv);
    else
        r->ctx = redisConnectUnixWithTimeout(r->path, r->tv);
    if (!r->ctx) {
        mark_down(r, "cannot allocate a connection");
        return false;
    }
    if (r->ctx->err) {
        snprintf(msg, sizeof(msg), "cannot connect: %.120s", r->ctx->errstr);
        mark_down(r, msg);
        return false;
    }
    if (redisSetTimeout(r->ctx, r->tv) != REDIS_OK) {
        mark_down(r, "cannot set the socket timeout");
        return false;
    }
    if (!auth_and_select(r))
        return false;
    return true;
}

/* hiredis reports a socket timeout as the text of EAGAIN. */
static bool timed_out(const char *errstr)
{
    return strcmp(errstr, strerror(EAGAIN)) == 0 || strcmp(errstr, strerror(EWOULDBLOCK)) == 0;
}

/* After a command: NULL means the connection is unusable. */
static redisReply *finish(struct og_redis *r, redisReply *rep)
{
    char msg[160];

    if (!rep) {
        if (r->ctx && r->ctx->err == REDIS_ERR_IO && timed_out(r->ctx->errstr))
            snprintf(msg, sizeof(msg), "no answer within %ld ms",
                     (long)r->tv.tv_sec * 1000 + (long)r->tv.tv_usec / 1000);
        else if (r->ctx && r->ctx->err)
            snprintf(msg, sizeof(msg), "command failed: %.120s", r->ctx->errstr);
        else
            snprintf(msg, sizeof(msg), "command failed");
        r->last_attempt_ms = og_mono_ms();
        mark_down(r, msg);
        return NULL;
    }
    if (!r->reachable && r->down_logged)
        og_log(OG_LOG_INFO, "redis %s: reachable again", r->describe);
    r->reachable = true;
    r->down_logged = false;
    r->last_error[0] = '\0';
    return rep;
}

struct redisReply *og_redis_command(struct og_redis *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;

    if (!ensure(r))
        return NULL;
    va_start(ap, fmt);
    rep = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    return finish(r, rep);
}

struct redisReply *og_redis_command_argv(struct og_redis *r, int argc, const char **argv,
                                         const size_t *argvlen)
{
    if (!ensure(r))
        return NULL;
    return finish(r, redisCommandArgv(r->ctx, argc, argv, argvlen));
}

struct redisReply *og_redis_transaction(struct og_redis *r, size_t ncmds,
                                        const struct og_redis_cmd *cmds)
{
    redisReply *rep = NULL;
    void *one;

    if (ncmds == 0 || ncmds > 64 || !ensure(r))
        return NULL;
    /* MULTI on its own: if it were refused, the queued commands would run one by one */
    rep = finish(r, redisCommand(r->ctx, "MULTI"));
    if (!rep)
        return NULL;
    if (!simple_ok(rep))
        return rep;
    freeReplyObject(rep);
    rep = NULL;
    for (size_t i = 0; i < ncmds; i++)
        if (redisAppendCommandArgv(r->ctx, cmds[i].argc, cmds[i].argv, cmds[i].argvlen) !=
            REDIS_OK)
            goto lost;
    if (redisAppendCommand(r->ctx, "EXEC") != REDIS_OK)
        goto lost;
    for (size_t i = 0; i <= ncmds; i++) {
        if (redisGetReply(r->ctx, &one) != REDIS_OK || !one)
            goto lost;
        if (rep)
            freeReplyObject(rep);
        rep = one;
    }
    return finish(r, rep);          /* EXEC's reply: an array, or EXECABORT */
lost:
    if (rep)
        freeReplyObject(rep);
    return finish(r, NULL);         /* dropping the connection discards the transaction */
}

void og_redis_reply_free(struct redisReply *reply)
{
    if (reply)
        freeReplyObject(reply);
}

bool og_redis_reachable(const struct og_redis *r)
{
    return r && r->reachable;
}

bool og_redis_ping(struct og_redis *r)
{
    redisReply *rep = og_redis_command(r, "PING");
    bool ok = rep && rep->type == REDIS_REPLY_STATUS;

    og_redis_reply_free(rep);
    return ok;
}

const char *og_redis_prefix(const struct og_redis *r)
{
    return r && r->prefix ? r->prefix : "ocigate:";
}

bool og_redis_has_password(const struct og_redis *r)
{
    return r && r->password;
}

const char *og_redis_describe(const struct og_redis *r)
{
    return r ? r->describe : "(none)";
}

const char *og_redis_last_error(const struct og_redis *r)
{
    return r ? r->last_error : "not configured";
}
