/*
 * body.c - collect a request body without blocking the worker, within a
 * total deadline and a byte limit (see body.h).
 *
 * libfcgi reads with blocking read(2) calls. Two guards keep one of them
 * from waiting long: the worker reads only when poll(2) says data has
 * arrived (and takes what libfcgi has buffered without reading), and while
 * libfcgi reads, an interval timer sends SIGALRM (a handler without
 * SA_RESTART), so a read that waits past its bound fails with EINTR. Should
 * a peer keep the read busy anyway (a stream of records that are not the
 * body), the read side of the connection is shut a second later.
 */
#include "body.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <fastcgi.h>

#include "clock.h"

#define FILL_BOUND_MS   200     /* the longest one read of an arrived record may take */
#define PARAMS_BOUND_MS 1000    /* the longest the request's params may take to arrive */
#define LINGER_MS       200     /* the longest a finished connection is drained */
#define TICK_MS         20      /* SIGALRM interval once a bound has passed */
#define TICKS_TO_SHUT   50      /* ticks before the read side is shut */
#define FIRST_CAP       16384

static FCGX_Request *volatile guarded;
static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
    FCGX_Request *req = guarded;
    (void)sig;
    if (req && req->ipcFd >= 0 && ++ticks > TICKS_TO_SHUT)
        shutdown(req->ipcFd, SHUT_RD);
}

/* Interrupt blocking I/O on req's connection after ms (at least 1), then
   every TICK_MS. */
static void guard(FCGX_Request *req, long ms)
{
    static bool installed;
    struct itimerval it;

    if (!installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_alarm;         /* no SA_RESTART: read() returns EINTR */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        installed = true;
    }
    if (ms < 1)
        ms = 1;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (ms % 1000) * 1000;
    it.it_interval.tv_usec = TICK_MS * 1000;
    ticks = 0;
    guarded = req;
    setitimer(ITIMER_REAL, &it, NULL);
}

static void unguard(void)
{
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    setitimer(ITIMER_REAL, &it, NULL);
    guarded = NULL;
}

/* libfcgi reads a connection's records into a buffer of this many bytes
   (8192, less 8 when its allocation is not 8-aligned). */
#define FCGI_READ_BUF (8192 - 8)

/* Is the listening socket a unix socket? (asked once) */
static bool listens_on_unix(int fd)
{
    static int known_fd = -1;
    static bool is_unix;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (fd != known_fd) {
        is_unix = getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX;
        known_fd = fd;
    }
    return is_unix;
}

/*
 * Have the request's FCGI_BEGIN_REQUEST and all of its params arrived, within
 * what libfcgi's first read takes? Then FCGX_Accept_r reads once and never
 * waits, and needs no timer around it. A look at the queued bytes (MSG_PEEK:
 * nothing is consumed); anything unexpected is "no" (then the timer bounds
 * the wait as before, and libfcgi judges the records).
 */
static bool params_arrived(int fd)
{
    unsigned char b[FCGI_READ_BUF];
    ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
    size_t at = 0;

    while (n > 0 && at + FCGI_HEADER_LEN <= (size_t)n) {
        const unsigned char *h = b + at;
        size_t clen = (size_t)h[4] << 8 | h[5];
        if (h[0] != FCGI_VERSION_1)
            return false;
        at += FCGI_HEADER_LEN + clen + h[6];
        if (at > (size_t)n)
            return false;                   /* this record is not all there */
        if (h[1] == FCGI_PARAMS && clen == 0)
            return true;                    /* the end of the params */
    }
    return false;
}

int og_fcgi_accept(FCGX_Request *req, bool *truncated)
{
    bool bound = true;
    int rc;

    /* On a unix socket ocigate accepts the connection itself (libfcgi would
       also wait, up to 2 s, for its first byte) and hands it to libfcgi as
       an open connection: no FCGX_Finish_r may close it first. On TCP
       libfcgi accepts (it checks FCGI_WEB_SERVER_ADDRS). */
    if (req->ipcFd < 0 && listens_on_unix(req->listen_sock)) {
        int fd = accept4(req->listen_sock, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return -errno;
        req->ipcFd = fd;
        req->keepConnection = 1;            /* until its FCGI_BEGIN_REQUEST says */
    }
    if (req->ipcFd >= 0 && params_arrived(req->ipcFd))
        bound = false;
    if (bound)
        guard(req, PARAMS_BOUND_MS);
    rc = FCGX_Accept_r(req);
    if (bound)
        unguard();
    /* libfcgi ends the params at a failed read as if they were complete;
       the error stays on the stream */
    *truncated = rc >= 0 && req->in && FCGX_GetError(req->in) != 0;
    return rc;
}

void og_fcgi_body_init(struct og_fcgi_body *b, FCGX_Request *req, int timeout_ms)
{
    const char *role = FCGX_GetParam("FCGI_ROLE", req->envp);

    memset(b, 0, sizeof(*b));
    b->req = req;
    og_deadline_in(&b->deadline, timeout_ms);
    b->state = role && strcmp(role, "RESPONDER") == 0 && req->in ? OG_BODY_COLLECTING
                                                                  : OG_BODY_NONE;
}

int og_fcgi_body_fd(const struct og_fcgi_body *b)
{
    return b->req ? b->req->ipcFd : -1;
}

long og_fcgi_body_ms_left(const struct og_fcgi_body *b)
{
    return og_ms_until(&b->deadline);
}

/* Room for want more bytes (fewer near the limit); false at the limit. */
static bool reserve(struct og_fcgi_body *b, size_t want, size_t *room)
{
    size_t need;

    if (b->len >= OG_BODY_MAX_BYTES)
        return false;
    if (want > OG_BODY_MAX_BYTES - b->len)
        want = OG_BODY_MAX_BYTES - b->len;
    need = b->len + want;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : FIRST_CAP;
        char *p;
        while (cap < need)
            cap *= 2;
        if (cap > OG_BODY_MAX_BYTES)
            cap = OG_BODY_MAX_BYTES;
        p = realloc(b->data, cap);
        if (!p) {
            b->state = OG_BODY_FAILED;
            return false;
        }
        b->data = p;
        b->cap = cap;
    }
    *room = want;
    return true;
}

/*
 * Does libfcgi hold bytes it has read but not yet parsed (further records,
 * the end-of-body record)? Then poll(2) cannot tell that more is there. The
 * first members of libfcgi's private reader state (fcgiapp.c, unchanged
 * since libfcgi 2.0) say so; where they look inconsistent, assume yes: a
 * read of an arrived record is bounded anyway.
 */
struct fcgi_stream_data {
    unsigned char *buff;
    int bufflen;
    unsigned char *mBuff;
    unsigned char *buffStop;
};

static bool fcgi_buffered(const FCGX_Stream *in)
{
    const struct fcgi_stream_data *d = in->data;

    if (!d || !d->buff || d->bufflen <= 0 || in->rdNext < d->buff ||
        d->buffStop < in->rdNext || d->buffStop > d->buff + d->bufflen)
        return true;
    return in->rdNext < d->buffStop;
}

/*
 * Has the web server sent all it will send on this connection? A request's
 * input ends with an empty FCGI_STDIN record: a body read to its end says
 * so; for a request whose body is never read (AUTHORIZER) that record must
 * be all libfcgi still holds unparsed. Then closing at once loses nothing
 * (nothing unread, so a TCP peer gets no reset either), and the drain that
 * waits for the peer to close first is left out.
 */
static bool input_whole(const struct og_fcgi_body *b)
{
    const FCGX_Stream *in = b->req->in;
    const struct fcgi_stream_data *d;
    const unsigned char *h;

    if (b->state == OG_BODY_COMPLETE)
        return true;
    if (b->state != OG_BODY_NONE || !in || FCGX_GetError((FCGX_Stream *)in) != 0)
        return false;
    d = in->data;
    if (!d || !d->buff || d->bufflen <= 0 || in->rdNext < d->buff ||
        d->buffStop > d->buff + d->bufflen || d->buffStop - in->rdNext != FCGI_HEADER_LEN)
        return false;
    h = in->rdNext;                     /* version, type, id, length, padding */
    return h[0] == FCGI_VERSION_1 && h[1] == FCGI_STDIN &&
           (h[2] << 8 | h[3]) == b->req->requestId && h[4] == 0 && h[5] == 0 && h[6] == 0;
}

/* The stream is closed: at its end, or failed (past the deadline: expired). */
static bool closed(struct og_fcgi_body *b)
{
    if (FCGX_GetError(b->req->in) == 0)
        b->state = OG_BODY_COMPLETE;
    else
        b->state = og_ms_until(&b->deadline) == 0 ? OG_BODY_EXPIRED : OG_BODY_FAILED;
    return true;
}

bool og_fcgi_body_collect(struct og_fcgi_body *b)
{
    /* og_fcgi_body_init sets COLLECTING only for a request with an input stream */
    FCGX_Stream *in = b->state == OG_BODY_COLLECTING ? b->req->in : NULL;

    while (in && b->state == OG_BODY_COLLECTING) {
        long avail = in->stop - in->rdNext, left;
        size_t room;
        struct pollfd pfd;
        int got;

        if (avail > 0) {                    /* buffered already: no read(2) */
            if (!reserve(b, (size_t)avail, &room)) {
                if (b->state == OG_BODY_COLLECTING)
                    b->state = OG_BODY_OVERSIZE;
                break;
            }
            b->len += (size_t)FCGX_GetStr(b->data + b->len, (int)room, in);
            continue;
        }
        if (in->isClosed)
            return closed(b);
        left = og_ms_until(&b->deadline);
        if (left == 0) {
            b->state = OG_BODY_EXPIRED;
            break;
        }
        pfd.fd = b->req->ipcFd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (!fcgi_buffered(in) && poll(&pfd, 1, 0) == 0)
            return false;                   /* nothing has arrived: poll again later */
        if (!reserve(b, 1, &room)) {
            if (b->state == OG_BODY_COLLECTING)
                b->state = OG_BODY_OVERSIZE;
            break;
        }
        guard(b->req, left < FILL_BOUND_MS ? left : FILL_BOUND_MS);
        got = FCGX_GetStr(b->data + b->len, 1, in);
        unguard();
        if (got == 1)
            b->len++;
        else if (in->isClosed)
            return closed(b);
    }
    return true;
}

int og_fcgi_body_read(void *ctx, char *buf, int n)
{
    struct og_fcgi_body *b = ctx;

    if (n <= 0)
        return 0;
    if (b->pos < b->len) {
        size_t m = b->len - b->pos;
        if (m > (size_t)n)
            m = (size_t)n;
        memcpy(buf, b->data + b->pos, m);
        b->pos += m;
        return (int)m;
    }
    switch (b->state) {
    case OG_BODY_COMPLETE: return 0;
    case OG_BODY_EXPIRED:  errno = ETIMEDOUT; break;
    case OG_BODY_OVERSIZE: errno = EFBIG; break;
    default:               errno = EIO; break;
    }
    return -1;
}

void og_fcgi_body_finish(struct og_fcgi_body *b)
{
    if (b->req) {
        /* libfcgi drains what the peer still sends before it closes (so that
           a TCP peer gets no reset); of a body never read to its end that
           could last as long as the client trickles: close at once instead,
           and never keep such a connection. */
        bool unread = b->state != OG_BODY_COMPLETE && b->state != OG_BODY_NONE;
        bool whole = !unread && input_whole(b);
        if (unread || whole)
            FCGX_Detach(b->req);
        if (unread)
            b->req->keepConnection = 0;
        if (whole) {
            FCGX_Finish_r(b->req);          /* no drain: nothing to bound */
        } else {
            guard(b->req, LINGER_MS);
            FCGX_Finish_r(b->req);
            unguard();
        }
        b->req->detached = 0;               /* FCGX_Attach needs an open connection */
    }
    if (b->data) {
        explicit_bzero(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = b->pos = 0;
    b->state = OG_BODY_NONE;
}

long og_body_read_all(const struct og_body *body, char *buf, size_t cap)
{
    size_t used = 0;

    if (!body || !body->read)
        return OG_BODY_ERROR;
    for (;;) {
        char extra;
        char *dst = used < cap ? buf + used : &extra;
        size_t want = used < cap ? cap - used : 1;
        int n;

        errno = 0;
        n = body->read(body->ctx, dst, want > INT_MAX ? INT_MAX : (int)want);
        if (n < 0)
            return errno == ETIMEDOUT ? OG_BODY_TIMEOUT
                 : errno == EFBIG     ? OG_BODY_TOO_LARGE : OG_BODY_ERROR;
        if (n == 0)
            return (long)used;
        if (used >= cap)
            return OG_BODY_TOO_LARGE;
        used += (size_t)n;
    }
}
