/*
 * redis.c - one Redis connection per process (hiredis, blocking, with timeouts).
 *
 * Two ways to find Redis. redis.url is parsed once; the connection is opened
 * on first use, with redis.timeoutMs as connect and command timeout, then
 * AUTH and SELECT. With redis.sentinels the master is asked of the sentinels
 * instead (sentinel.c), in order, each step within redis.timeoutMs; the node
 * named must say "master" to ROLE (a sentinel that is behind may still name
 * the old master, now a replica: the next sentinel is asked), and the
 * sentinel that answered moves to the front. A new master address is logged
 * and counted as a failover seen (metrics.c).
 *
 * Any failure drops the connection; the next command reconnects, but at most
 * one attempt is made per second, and in between commands fail at once
 * (NULL), so a dead Redis costs no latency. With sentinels, a connection that
 * was working and failed (lost, timed out, or answered READONLY: the master
 * was demoted) is followed by one attempt at once, and while the sentinels
 * answer but the master they name refuses connections at once (it died and
 * is not yet replaced) attempts are 100 ms apart, so a failover costs no
 * extra second; the READONLY reply itself still goes to the caller as an
 * error, so that request fails closed. A connection that the server closed
 * while idle is noticed before a command is sent (poll), not by failing it.
 * The passwords are wiped on free and never appear in a message or a log.
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
#include "hostport.h"
#include "log.h"
#include "metrics.h"
#include "sentinel.h"

#define RETRY_INTERVAL_MS 1000
#define FAST_RETRY_MS     100   /* sentinels answer, the master they name refuses at once */
#define DEFAULT_PORT      6379
#define MAX_DB            100000

#define MAX_SENTINELS 16

struct sentinel_addr {
    char host[OG_HOST_MAX];
    int port;
};

struct og_redis {
    redisContext *ctx;
    char *host;                 /* TCP host, or NULL for a unix socket (url form) */
    int port;
    char *path;                 /* unix socket path */
    long db;
    char *user;                 /* AUTH USER PASSWORD (Redis 6 ACL), or NULL */
    char *password;             /* NULL: no AUTH */
    char *prefix;
    struct timeval tv;
    int timeout_ms;
    int min_replicas;           /* WAIT for this many after a claim; 0: no WAIT */
    /* the sentinel form: nsentinels > 0 */
    struct sentinel_addr sentinels[MAX_SENTINELS];   /* the one that answered first */
    size_t nsentinels;
    char *master_name;
    char *sentinel_user;
    char *sentinel_password;    /* NULL: sentinels are asked without AUTH */
    char master[OG_HOSTPORT_MAX];   /* the node of the current connection, "" none */
    char last_master[OG_HOSTPORT_MAX];  /* the last master seen, "" none yet */
    unsigned long failovers;    /* master changes this process saw */
    bool retry_now;             /* a working connection failed: try again at once */
    bool resolving;             /* asking the sentinels: one log line at the end, not per node */
    long long last_attempt_ms;  /* monotonic; 0 = never */
    int retry_ms;               /* wait after a failed attempt: RETRY_INTERVAL_MS, or
                                   FAST_RETRY_MS while a failover is under way */
    bool reachable;             /* the last command was answered */
    bool down_logged;           /* logged the current outage already */
    char describe[600];         /* where, without the password */
    char last_error[300];
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

/* redis.sentinels, redis.masterName and the sentinels' credentials. */
static bool read_sentinels(struct og_redis *r, const struct og_config *cfg, char *err,
                           size_t errlen)
{
    struct og_buf d;

    if (cfg->redis_sentinels.n > MAX_SENTINELS) {
        og_set_err(err, errlen, "redis.sentinels: at most %d", MAX_SENTINELS);
        return false;
    }
    for (size_t i = 0; i < cfg->redis_sentinels.n; i++) {
        const char *s = cfg->redis_sentinels.v[i];
        if (!og_hostport_parse(s, strlen(s), r->sentinels[i].host, &r->sentinels[i].port)) {
            og_set_err(err, errlen, "redis.sentinels[%zu]: not HOST:PORT", i);
            return false;
        }
    }
    r->nsentinels = cfg->redis_sentinels.n;
    if (!cfg->redis_master_name) {
        og_set_err(err, errlen, "redis.sentinels: needs redis.masterName");
        return false;
    }
    r->master_name = strdup(cfg->redis_master_name);
    if (cfg->redis_sentinel_username)
        r->sentinel_user = strdup(cfg->redis_sentinel_username);
    if (cfg->redis_sentinel_password)
        r->sentinel_password = strdup(cfg->redis_sentinel_password);
    if (!r->master_name || (cfg->redis_sentinel_username && !r->sentinel_user) ||
        (cfg->redis_sentinel_password && !r->sentinel_password)) {
        og_set_err(err, errlen, "redis.sentinels: out of memory");
        return false;
    }
    r->db = cfg->redis_db;
    og_buf_init(&d, r->describe, sizeof(r->describe));
    og_buf_puts(&d, "sentinels ");
    for (size_t i = 0; i < r->nsentinels; i++) {
        char hp[OG_HOSTPORT_MAX];
        og_hostport_format(r->sentinels[i].host, r->sentinels[i].port, hp, sizeof(hp));
        og_buf_printf(&d, "%s%s", i ? "," : "", hp);
    }
    og_buf_printf(&d, " master \"%s\" db %ld", r->master_name, r->db);
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
    if (cfg && cfg->redis_sentinels.n > 0) {
        ok = read_sentinels(r, cfg, err, errlen);
    } else if (strncmp(url, "redis://", 8) == 0) {
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
    if (cfg && cfg->redis_username) {        /* redis.username wins over the URL's */
        wipe_free(r->user);
        r->user = strdup(cfg->redis_username);
        if (!r->user) {
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
    r->timeout_ms = ms;
    r->retry_ms = RETRY_INTERVAL_MS;
    r->min_replicas = cfg ? cfg->redis_min_replicas : 0;
    if (r->nsentinels)
        ;                                   /* described by read_sentinels */
    else if (r->host)
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
    free(r->master_name);
    wipe_free(r->sentinel_user);
    wipe_free(r->sentinel_password);
    free(r);
}

/* Record a failure: the connection is gone, the next attempt waits a second.
   kind is counted in ocigate_redis_errors_total (OG_REDIS_ERR_N: counted
   already, where it happened). */
static void mark_down(struct og_redis *r, enum og_redis_error_kind kind, const char *what)
{
    snprintf(r->last_error, sizeof(r->last_error), "%s", what);
    og_metrics_redis_error(kind);
    drop(r);
    r->master[0] = '\0';
    r->reachable = false;
    if (!r->down_logged && !r->resolving) {
        og_log(OG_LOG_WARN, "redis %s: %s", r->describe, r->last_error);
        r->down_logged = true;
    }
}

static bool simple_ok(redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_STATUS;
}

/* hiredis reports a socket timeout as the text of EAGAIN. */
static bool timed_out(const char *errstr)
{
    return strcmp(errstr, strerror(EAGAIN)) == 0 || strcmp(errstr, strerror(EWOULDBLOCK)) == 0 ||
           strstr(errstr, "timed out") != NULL;
}

/* What a failed connection or command was: a timeout, or the connection. */
static enum og_redis_error_kind io_kind(const redisContext *c)
{
    return c && c->err == REDIS_ERR_IO && timed_out(c->errstr) ? OG_REDIS_ERR_TIMEOUT
                                                              : OG_REDIS_ERR_CONNECT;
}

static bool do_auth(struct og_redis *r)
{
    redisReply *rep;
    const char *argv[3];
    size_t lens[3];
    int argc = 0;

    if (!r->password)
        return true;
    argv[argc] = "AUTH"; lens[argc++] = 4;
    if (r->user) {
        argv[argc] = r->user; lens[argc++] = strlen(r->user);
    }
    argv[argc] = r->password; lens[argc++] = strlen(r->password);
    rep = redisCommandArgv(r->ctx, argc, argv, lens);
    if (!simple_ok(rep)) {
        if (rep)
            mark_down(r, OG_REDIS_ERR_AUTH, "the server refused AUTH (wrong user or password?)");
        else
            mark_down(r, io_kind(r->ctx), "connection lost during AUTH");
        if (rep)
            freeReplyObject(rep);
        return false;
    }
    freeReplyObject(rep);
    return true;
}

static bool do_select(struct og_redis *r)
{
    redisReply *rep;

    if (!r->db)
        return true;
    rep = redisCommand(r->ctx, "SELECT %ld", r->db);
    if (!simple_ok(rep)) {
        char msg[160];
        enum og_redis_error_kind kind = rep ? OG_REDIS_ERR_REPLY : io_kind(r->ctx);
        snprintf(msg, sizeof(msg), "the server refused SELECT %ld%s%.80s", r->db,
                 rep && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                 rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        if (rep)
            freeReplyObject(rep);
        mark_down(r, kind, msg);
        return false;
    }
    freeReplyObject(rep);
    return true;
}

/* Open r->ctx to host:port (path: a unix socket); false after mark_down. */
static bool open_node(struct og_redis *r, const char *host, int port, const char *path)
{
    char msg[200];

    if (host)
        r->ctx = redisConnectWithTimeout(host, port, r->tv);
    else
        r->ctx = redisConnectUnixWithTimeout(path, r->tv);
    if (!r->ctx) {
        mark_down(r, OG_REDIS_ERR_CONNECT, "cannot allocate a connection");
        return false;
    }
    if (r->ctx->err) {
        snprintf(msg, sizeof(msg), "cannot connect: %.120s", r->ctx->errstr);
        mark_down(r, io_kind(r->ctx), msg);
        return false;
    }
    if (redisSetTimeout(r->ctx, r->tv) != REDIS_OK) {
        mark_down(r, OG_REDIS_ERR_CONNECT, "cannot set the socket timeout");
        return false;
    }
    return true;
}

/* Does the node of r->ctx say it is the master? false after mark_down. */
static bool check_role(struct og_redis *r)
{
    redisReply *rep = redisCommand(r->ctx, "ROLE");
    bool master = og_redis_role_is_master(rep);

    if (!rep)
        mark_down(r, io_kind(r->ctx), "no answer to ROLE");
    else if (!master)
        mark_down(r, OG_REDIS_ERR_SENTINEL, rep->type == REDIS_REPLY_ERROR
                  ? "ROLE refused (the ACL user needs +role)"
                  : "the sentinel named a node that is not the master");
    if (rep)
        freeReplyObject(rep);
    return master;
}

/* A new connection to the master at hp: log and count a change of master. */
static void note_master(struct og_redis *r, const char *hp, size_t sentinel)
{
    snprintf(r->master, sizeof(r->master), "%s", hp);
    if (r->last_master[0] && strcmp(r->last_master, hp) != 0) {
        r->failovers++;
        og_log(OG_LOG_INFO, "redis: master \"%s\" is now %s (was %s): failover seen",
               r->master_name ? r->master_name : "", hp, r->last_master);
    } else if (!r->last_master[0] && r->nsentinels) {
        char s[OG_HOSTPORT_MAX];
        og_hostport_format(r->sentinels[sentinel].host, r->sentinels[sentinel].port, s,
                           sizeof(s));
        og_log(OG_LOG_INFO, "redis: master \"%s\" is %s (named by sentinel %s)",
               r->master_name, hp, s);
    }
    snprintf(r->last_master, sizeof(r->last_master), "%s", hp);
    og_metrics_redis_master(hp);
}

/*
 * Ask the sentinels in order for the master, connect to it, AUTH, check its
 * ROLE, SELECT. The sentinel that answered moves to the front. An address
 * that already failed in this round is not tried again (the sentinels that
 * are behind name the same old master). false after mark_down.
 */
static bool resolve(struct og_redis *r)
{
    char failed[MAX_SENTINELS][OG_HOSTPORT_MAX];
    size_t nfailed = 0;
    char why[800] = "", one[300];

    long long t0 = og_mono_ms();
    bool answered = false;

    r->resolving = true;
    r->retry_ms = RETRY_INTERVAL_MS;
    for (size_t i = 0; i < r->nsentinels; i++) {
        struct sentinel_addr *s = &r->sentinels[i];
        char mhost[OG_HOST_MAX], hp[OG_HOSTPORT_MAX], shp[OG_HOSTPORT_MAX];
        int mport = 0;
        bool tried = false;
        enum og_sentinel_result res;

        og_hostport_format(s->host, s->port, shp, sizeof(shp));
        res = og_sentinel_ask(s->host, s->port, r->tv, r->sentinel_user, r->sentinel_password,
                              r->master_name, mhost, &mport, one, sizeof(one));
        if (res != OG_SENTINEL_MASTER) {
            og_metrics_redis_error(res == OG_SENTINEL_AUTH ? OG_REDIS_ERR_AUTH
                                                           : OG_REDIS_ERR_SENTINEL);
            snprintf(why, sizeof(why), "sentinel %s: %s", shp, one);
            og_log(OG_LOG_DEBUG, "redis: %s", why);
            continue;
        }
        answered = true;
        og_hostport_format(mhost, mport, hp, sizeof(hp));
        for (size_t j = 0; j < nfailed; j++)
            tried = tried || strcmp(failed[j], hp) == 0;
        if (tried)
            continue;
        if (open_node(r, mhost, mport, NULL) && do_auth(r) && check_role(r) && do_select(r)) {
            if (i > 0) {                    /* the one that answered goes first */
                struct sentinel_addr a = *s;
                memmove(&r->sentinels[1], &r->sentinels[0], i * sizeof(r->sentinels[0]));
                r->sentinels[0] = a;
            }
            r->resolving = false;
            note_master(r, hp, 0);
            return true;
        }
        snprintf(why, sizeof(why), "master %s named by sentinel %s: %.200s", hp, shp,
                 r->last_error);
        og_log(OG_LOG_DEBUG, "redis: %s", why);
        snprintf(failed[nfailed++], sizeof(failed[0]), "%s", hp);
    }
    snprintf(one, sizeof(one), "no sentinel named a usable master; last: %.150s",
             why[0] ? why : "none asked");
    r->resolving = false;
    /* Sentinels that answer and a master that refused at once: a failover is
       under way (the sentinels still name the dead master). Asking again soon
       is cheap and ends the outage right after the promotion. A slow failure
       (timeouts) or no sentinel at all waits the full second. */
    if (answered && og_mono_ms() - t0 < r->timeout_ms / 2)
        r->retry_ms = FAST_RETRY_MS;
    mark_down(r, OG_REDIS_ERR_N, one);
    return false;
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

    if (!r)
        return false;
    if (r->ctx && !still_open(r->ctx)) {
        drop(r);
        r->retry_now = r->nsentinels > 0;   /* closed by the server: perhaps demoted */
    }
    if (r->ctx)
        return true;
    now = og_mono_ms();
    if (r->last_attempt_ms && now - r->last_attempt_ms < r->retry_ms && !r->retry_now)
        return false;
    r->retry_now = false;
    r->last_attempt_ms = now;
    if (r->nsentinels)
        return resolve(r);
    if (!open_node(r, r->host, r->port, r->path) || !do_auth(r) || !do_select(r))
        return false;
    if (r->host)
        og_hostport_format(r->host, r->port, r->master, sizeof(r->master));
    else
        snprintf(r->master, sizeof(r->master), "unix:%.250s", r->path);
    note_master(r, r->master, 0);
    return true;
}

static bool error_is(const redisReply *rep, const char *code)
{
    size_t n = strlen(code);

    return rep && rep->type == REDIS_REPLY_ERROR && rep->str && rep->len >= n &&
           strncmp(rep->str, code, n) == 0 && (rep->len == n || rep->str[n] == ' ');
}

/* An answer of a node that is not (or no longer) a usable master: READONLY
   (a replica), NOREPLICAS (a master cut off from its replicas, with
   min-replicas-to-write), MASTERDOWN (a replica that lost its master). */
static bool is_readonly(const redisReply *rep)
{
    return error_is(rep, "READONLY") || error_is(rep, "NOREPLICAS") ||
           error_is(rep, "MASTERDOWN");
}

/* After a command: NULL means the connection is unusable. */
static redisReply *finish(struct og_redis *r, redisReply *rep)
{
    char msg[160];

    if (!rep) {
        enum og_redis_error_kind kind = io_kind(r->ctx);
        if (r->ctx && kind == OG_REDIS_ERR_TIMEOUT)
            snprintf(msg, sizeof(msg), "no answer within %d ms", r->timeout_ms);
        else if (r->ctx && r->ctx->err)
            snprintf(msg, sizeof(msg), "command failed: %.120s", r->ctx->errstr);
        else
            snprintf(msg, sizeof(msg), "command failed");
        r->last_attempt_ms = og_mono_ms();
        mark_down(r, kind, msg);
        r->retry_now = r->nsentinels > 0;   /* a working connection failed */
        return NULL;
    }
    if (is_readonly(rep)) {
        /* the node we write to is a replica now: the request fails (the error
           goes to the caller); the sentinels are asked again at the next one */
        og_metrics_redis_error(error_is(rep, "NOREPLICAS") ? OG_REDIS_ERR_REPLICATION
                                                            : OG_REDIS_ERR_READONLY);
        if (r->nsentinels) {
            og_log(OG_LOG_WARN, "redis: %s answered %.*s (not a usable master); "
                   "asking the sentinels again", r->master, (int)strcspn(rep->str, " "),
                   rep->str);
            drop(r);
            r->master[0] = '\0';
            r->retry_now = true;
        }
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
    bool readonly = false;

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
        if (readonly) {
            freeReplyObject(one);       /* keep the READONLY, drop EXECABORT */
            continue;
        }
        if (rep)
            freeReplyObject(rep);
        rep = one;
        readonly = is_readonly(rep);    /* a command refused as it was queued */
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

const char *og_redis_user(const struct og_redis *r)
{
    return r ? r->user : NULL;
}

int og_redis_min_replicas(const struct og_redis *r)
{
    return r ? r->min_replicas : 0;
}

const char *og_redis_master(const struct og_redis *r)
{
    return r && r->ctx && r->master[0] ? r->master : NULL;
}

unsigned long og_redis_failovers_seen(const struct og_redis *r)
{
    return r ? r->failovers : 0;
}

int og_redis_wait_replicas(struct og_redis *r)
{
    struct timeval longer;
    redisReply *rep;
    long long acked;

    if (!r)
        return -1;
    if (r->min_replicas <= 0)
        return 1;
    if (!r->ctx)
        return -1;                  /* the write's connection is gone: WAIT would count nothing */
    /* Redis answers WAIT after timeoutMs at the latest; the socket waits longer */
    longer.tv_sec = r->tv.tv_sec * 2 + (r->tv.tv_usec * 2 + 100000) / 1000000;
    longer.tv_usec = (r->tv.tv_usec * 2 + 100000) % 1000000;
    if (redisSetTimeout(r->ctx, longer) != REDIS_OK)
        return -1;
    rep = redisCommand(r->ctx, "WAIT %d %d", r->min_replicas, r->timeout_ms);
    if (rep && r->ctx && redisSetTimeout(r->ctx, r->tv) != REDIS_OK) {
        freeReplyObject(rep);
        rep = NULL;
    }
    rep = finish(r, rep);
    if (!rep)
        return -1;
    if (rep->type != REDIS_REPLY_INTEGER) {
        og_metrics_redis_error(OG_REDIS_ERR_REPLY);
        og_redis_reply_free(rep);
        return -1;
    }
    acked = rep->integer;
    og_redis_reply_free(rep);
    if (acked < r->min_replicas) {
        og_metrics_redis_error(OG_REDIS_ERR_REPLICATION);
        og_log(OG_LOG_WARN, "redis: %s: a write reached %lld of %d replicas within %d ms",
               r->master, acked, r->min_replicas, r->timeout_ms);
        return 0;
    }
    return 1;
}
