/*
 * body.h - request bodies that cannot stall a worker.
 *
 * A worker serves one request at a time, so a body that trickles in would
 * keep it from every other request. Before a RESPONDER request is handled,
 * the worker collects its body without blocking (it polls the connection
 * with its other work and reads only what has arrived), within a total
 * deadline (limits.bodyTimeoutMs from the moment the request was accepted)
 * and a byte limit. The request is handled when the body is complete, the
 * deadline has passed or the limit is exceeded; the endpoint then reads the
 * collected bytes through the og_body callback, which reports the failure
 * (errno ETIMEDOUT, EFBIG, EIO) after the bytes that did arrive. libfcgi's
 * drain of unread input before it closes a connection is bounded too.
 */
#ifndef OCIGATE_BODY_H
#define OCIGATE_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <fcgiapp.h>

#include "handle.h"

/* The largest body any endpoint may need: a manifest (4 MiB, the OCI limit)
   plus one byte, so that a reader can tell "too large" from "exactly 4 MiB". */
#define OG_BODY_MAX_BYTES ((size_t)4 * 1024 * 1024 + 1)

/* What og_body_read_all() returns besides a length. */
#define OG_BODY_ERROR     (-1)   /* the connection failed, or no body can be read */
#define OG_BODY_TOO_LARGE (-2)   /* more than cap bytes */
#define OG_BODY_TIMEOUT   (-3)   /* not all there before the deadline */

enum og_body_state { OG_BODY_NONE = 0, OG_BODY_COLLECTING, OG_BODY_COMPLETE, OG_BODY_EXPIRED,
                     OG_BODY_OVERSIZE, OG_BODY_FAILED };

/* The body of one FastCGI request. */
struct og_fcgi_body {
    FCGX_Request *req;
    struct timespec deadline;   /* CLOCK_MONOTONIC */
    enum og_body_state state;
    char *data;                 /* collected bytes (malloc'd, grown on demand) */
    size_t len, cap, pos;       /* pos: how far the endpoint has read */
};

/* FCGX_Accept_r on a non-blocking listening socket, but the wait for a
   connection's FCGI_BEGIN_REQUEST and params (libfcgi reads them with
   blocking reads) ends after a second. Returns what FCGX_Accept_r does;
   *truncated says that a request was accepted whose params did not all
   arrive (libfcgi hands it over as if they had): never decide it. */
int og_fcgi_accept(FCGX_Request *req, bool *truncated);

/* Start the clock for a request just accepted. RESPONDER requests get their
   body collected; in the AUTHORIZER role stdin is never read. */
void og_fcgi_body_init(struct og_fcgi_body *b, FCGX_Request *req, int timeout_ms);

/* Read what has arrived, without waiting for more (a read of a record that
   has begun arriving waits at most 200 ms). Returns true when collecting is
   over (complete, deadline passed, too large, failed), false when the
   connection must be polled again. */
bool og_fcgi_body_collect(struct og_fcgi_body *b);

/* The connection to poll while collecting, and the milliseconds left until
   the deadline (0 when it has passed). */
int og_fcgi_body_fd(const struct og_fcgi_body *b);
long og_fcgi_body_ms_left(const struct og_fcgi_body *b);

/* The og_body read callback (ctx: struct og_fcgi_body): the collected bytes,
   then 0 at the end of a complete body, or -1 with errno ETIMEDOUT (deadline
   passed), EFBIG (more than OG_BODY_MAX_BYTES) or EIO (connection failed, or
   no body in this role). */
int og_fcgi_body_read(void *ctx, char *buf, int n);

/* FCGX_Finish_r with libfcgi's drain of unread input bounded (200 ms; none
   for a body that was not received to its end); frees the collected bytes. */
void og_fcgi_body_finish(struct og_fcgi_body *b);

/* Read a whole body of at most cap bytes into buf: its length, or
   OG_BODY_TOO_LARGE, OG_BODY_TIMEOUT, OG_BODY_ERROR (also when body is NULL). */
long og_body_read_all(const struct og_body *body, char *buf, size_t cap);

#endif
