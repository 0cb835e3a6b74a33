/*
 * log.h - one JSON line per decision, and operational messages, on stderr.
 */
#ifndef OCIGATE_LOG_H
#define OCIGATE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum og_log_level { OG_LOG_DEBUG = 0, OG_LOG_INFO, OG_LOG_WARN, OG_LOG_ERROR };

/* Set from the config (log.level, log.format); defaults info/json. */
void og_log_configure(const char *level, const char *format);

struct og_log_decision {
    const char *remote, *method;
    const char *path; size_t path_len;    /* path only: query values may carry secrets */
    const char *repository, *action, *user, *auth, *key_id, *rule, *reason, *tag;
    const char *condition;   /* the accessControl condition that decided (its JSON path), or NULL */
    int status;
    long micros;
    /* copies of user and key_id where their owner ends before the line is
       written (an endpoint's identity lives in the endpoint's stack frame) */
    char user_buf[257], key_id_buf[65];
};

void og_log_decision(const struct og_log_decision *d);

void og_log(enum og_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
