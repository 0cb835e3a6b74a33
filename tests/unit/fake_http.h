/*
 * fake_http.h - a stand-in HTTP server for unit tests: a forked child on
 * 127.0.0.1 (a free port) that answers each request with a scripted answer
 * and reports every request it got ("METHOD TARGET" lines through a pipe),
 * so a test can count what a client sent, retries included.
 */
#ifndef OCIGATE_TEST_FAKE_HTTP_H
#define OCIGATE_TEST_FAKE_HTTP_H

#include <stddef.h>
#include <sys/types.h>

/* An answer that never comes: the connection is held open, unanswered. */
#define OG_FAKE_SILENT ""

struct og_fake_http {
    pid_t pid;
    int port;
    int log_fd;              /* read end of the request log */
    char url[64];            /* http://127.0.0.1:PORT */
};

/*
 * Start it. The i-th request gets answers[i] (the last one repeats); each
 * answer is a whole HTTP response, sent as is, after which the connection
 * is closed. When head_answer is not NULL, every HEAD gets it instead and
 * does not use up an answer. Fails the test when it cannot start.
 */
void og_fake_http_start(struct og_fake_http *f, const char *const *answers, size_t nanswers,
                        const char *head_answer);
void og_fake_http_stop(struct og_fake_http *f);

/* The requests seen since the last call, one "METHOD TARGET\n" line each,
   NUL-terminated in buf (may be NULL); returns how many. Every request the
   client completed (or gave up on) is in it: the child logs before it answers. */
int og_fake_http_requests(struct og_fake_http *f, char *buf, size_t cap);

#endif
