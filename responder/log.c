/*
 * log.c - the decision log (doc/http.md) and operational messages.
 *
 * Each line is built in a stack buffer and written with one write(2) to
 * stderr, so lines from several workers never interleave. Callers hand in
 * only what may be logged: never an Authorization header, password, key or
 * token; the path is logged without its query.
 */
#include "log.h"
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_ 4000

static enum og_log_level min_level = OG_LOG_INFO;
static bool text_format = false;

void og_log_configure(const char *level, const char *format)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (level && strcasecmp(level, names[i]) == 0)
            min_level = (enum og_log_level)i;
    text_format = format && strcasecmp(format, "text") == 0;
}

/* A line: its text in an og_buf kept one byte short of buf, for the '\n'. */
struct line {
    char buf[LINE_MAX_];
    struct og_buf b;
};

static void line_init(struct line *l)
{
    og_buf_init(&l->b, l->buf, sizeof(l->buf) - 1);
}

static void add_field(struct line *l, const char *name, const char *value, size_t n)
{
    og_buf_put(&l->b, ",\"", 2);
    og_buf_puts(&l->b, name);
    og_buf_put(&l->b, "\":", 2);
    og_buf_json(&l->b, value ? value : "", value ? n : 0);
}

static void add_time(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char t[64];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    og_buf_put(&l->b, "{\"time\":\"", 9);
    og_buf_puts(&l->b, t);
    og_buf_put(&l->b, "\"", 1);
}

static void emit(struct line *l)
{
    l->buf[l->b.len] = '\n';
    ssize_t w = write(STDERR_FILENO, l->buf, l->b.len + 1);
    (void)w;
}

/* Any 2xx (a key created: 201) is an allow; everything else a deny. */
static const char *decision_name(int status)
{
    return status >= 200 && status < 300 ? "allow" : "deny";
}

void og_log_decision(const struct og_log_decision *d)
{
    struct line l;

    if (min_level > OG_LOG_INFO)
        return;
    line_init(&l);
    if (text_format) {
        char line[LINE_MAX_];
        int n = snprintf(line, sizeof(line),
                         "%s %.*s %s %.*s repo=%s action=%s user=%s auth=%s -> %d (%s; %s) %ldus",
                         d->remote ? d->remote : "-", 16, d->method ? d->method : "-",
                         decision_name(d->status), (int)(d->path_len > 1024 ? 1024 : d->path_len),
                         d->path ? d->path : "", d->repository ? d->repository : "",
                         d->action ? d->action : "", d->user ? d->user : "",
                         d->auth ? d->auth : "", d->status, d->rule ? d->rule : "",
                         d->reason ? d->reason : "", d->micros);
        if (n > 0) {
            for (int i = 0; i < n && i < (int)sizeof(line); i++)
                if ((unsigned char)line[i] < 0x20)
                    line[i] = '?';
            og_buf_put(&l.b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
            emit(&l);
        }
        return;
    }
    add_time(&l);
    add_field(&l, "remote", d->remote, 64);
    add_field(&l, "method", d->method, 16);
    add_field(&l, "path", d->path, d->path_len > 1024 ? 1024 : d->path_len);
    add_field(&l, "repository", d->repository, 256);
    add_field(&l, "action", d->action, 32);
    if (d->tag && *d->tag)
        add_field(&l, "tag", d->tag, 128);
    add_field(&l, "user", d->user, 256);
    add_field(&l, "auth", d->auth, 16);
    add_field(&l, "key_id", d->key_id, 64);
    add_field(&l, "decision", decision_name(d->status), 5);
    og_buf_printf(&l.b, ",\"status\":%d", d->status);
    add_field(&l, "rule", d->rule, 256);
    add_field(&l, "reason", d->reason, 256);
    if (d->condition && *d->condition)
        add_field(&l, "condition", d->condition, 512);
    og_buf_printf(&l.b, ",\"us\":%ld}", d->micros);
    emit(&l);
}

void og_log(enum og_log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    struct line l;
    char msg[2048];
    va_list ap;
    int n;

    if (level < min_level)
        return;
    line_init(&l);
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (text_format) {
        og_buf_puts(&l.b, "ocigate: ");
        og_buf_puts(&l.b, names[level]);
        og_buf_puts(&l.b, ": ");
        og_buf_puts(&l.b, msg);
    } else {
        add_time(&l);
        add_field(&l, "level", names[level], 8);
        add_field(&l, "msg", msg, sizeof(msg));
        og_buf_put(&l.b, "}", 1);
    }
    emit(&l);
}
