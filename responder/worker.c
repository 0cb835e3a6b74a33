/*
 * worker.c - one worker: accept a FastCGI request, answer it, repeat.
 *
 * The worker owns its registry handle and its caches; it never reads
 * FCGI_STDIN (in the AUTHORIZER role the web server never ends it). SIGTERM
 * lets the request in hand finish, then the worker exits; the kernel sends
 * SIGTERM too when the master dies (PR_SET_PDEATHSIG), so no worker outlives
 * the pool it belongs to.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "apikey.h"
#include "decide.h"
#include "handle.h"
#include "log.h"
#include "oidc.h"
#include "redis.h"
#include "registry.h"
#include "response.h"

static volatile sig_atomic_t stopping;

static int read_fcgi_stdin(void *ctx, char *buf, int n)
{
    return FCGX_GetStr(buf, n, (FCGX_Stream *)ctx);
}

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;          /* no SA_RESTART: accept() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);     /* the master reloads by replacing workers */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void open_connections(struct og_worker_state *w)
{
    const struct og_config *cfg = w->cfg;
    char err[256];

    w->registry = og_registry_new(cfg->registry_url, cfg->registry_timeout_ms);
    if (!w->registry)
        og_log(OG_LOG_WARN, "worker %d: no registry handle; tag checks will answer 503",
               (int)getpid());
    /* Redis holds API keys and tag claims; it connects on first use */
    w->redis = og_redis_new(cfg, err, sizeof(err));
    if (!w->redis)
        og_log(OG_LOG_ERROR, "worker %d: redis: %s", (int)getpid(), err);
    else if (cfg->apikey_enabled)
        w->apikeys = og_apikeys_new(cfg, w->redis);
    if (cfg->openid_enabled)
        w->oidc = og_oidc_new(cfg);
}

static void close_connections(struct og_worker_state *w)
{
    og_oidc_free(w->oidc);
    og_apikeys_free(w->apikeys);
    og_redis_free(w->redis);
    og_registry_free(w->registry);
}

/* ------------------------------------------------- delayed credential failures */

/*
 * auth.failDelayMs: a refused credential is answered only after the delay,
 * without holding the worker's other work hostage. The request is parked
 * (its FastCGI connection stays open, its answer already rendered) and the
 * worker goes on accepting; parked answers go out when due. While anything
 * is parked the worker waits in poll() on the listening socket (made
 * non-blocking) with the nearest due time as timeout.
 */
#define MAX_PARKED    64
#define PARKED_ANSWER 8192

/* libfcgi's streams point back at their FCGX_Request, so a request is never
   copied: each slot owns one, and the worker accepts into a free slot. */
struct parked {
    bool used;                /* parked, waiting for its due time */
    FCGX_Request req;
    struct timespec due;
    size_t n;
    char answer[PARKED_ANSWER];
};

static struct parked parked[MAX_PARKED + 1];
static int nparked;

static long ms_until(const struct timespec *due)
{
    struct timespec now;
    long ms;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (due->tv_sec - now.tv_sec) * 1000 + (due->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms;
}

static void answer(FCGX_Request *req, const char *buf, size_t n)
{
    if (n == 0 || FCGX_PutStr(buf, (int)n, req->out) != (int)n)
        FCGX_PutS(og_response_unavailable, req->out);
    FCGX_Finish_r(req);
}

/* A slot to accept the next request into (never a parked one). */
static struct parked *free_slot(void)
{
    for (int i = 0; i <= MAX_PARKED; i++)
        if (!parked[i].used)
            return &parked[i];
    return NULL;                      /* cannot happen: one more slot than may park */
}

/* Park the request of slot p; false if it cannot be (then answer it now). */
static bool park(struct parked *p, const char *buf, size_t n, int delay_ms)
{
    if (nparked >= MAX_PARKED || n > sizeof(p->answer))
        return false;
    {
        memcpy(p->answer, buf, n);
        p->n = n;
        clock_gettime(CLOCK_MONOTONIC, &p->due);
        p->due.tv_sec += delay_ms / 1000;
        p->due.tv_nsec += (long)(delay_ms % 1000) * 1000000L;
        if (p->due.tv_nsec >= 1000000000L) {
            p->due.tv_sec++;
            p->due.tv_nsec -= 1000000000L;
        }
        p->used = true;
        nparked++;
        return true;
    }
}

/* Answer the parked requests that are due (all of them when flush_all). */
static long release_due(bool flush_all)
{
    long next = -1;
    for (int i = 0; i <= MAX_PARKED && nparked > 0; i++) {
        struct parked *p = &parked[i];
        long ms;
        if (!p->used)
            continue;
        ms = ms_until(&p->due);
        if (flush_all || ms == 0) {
            answer(&p->req, p->answer, p->n);
            p->used = false;
            nparked--;
        } else if (next < 0 || ms < next) {
            next = ms;
        }
    }
    return next;
}

/* Wait until the listening socket is readable or a parked answer is due. */
static void wait_for_work(int listen_fd)
{
    struct pollfd pfd = { listen_fd, POLLIN, 0 };
    long next = release_due(false);
    poll(&pfd, 1, next < 0 ? 1000 : (int)next);
    release_due(false);
}

static void set_blocking(int fd, bool blocking)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, blocking ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK));
}

/* ------------------------------------------------------------- the loop */

void og_worker_run(int listen_fd, struct og_worker_state *shared, pid_t master)
{
    struct og_worker_state w = *shared;
    struct parked *slot;
    static char buf[OG_RESPONSE_MAX];
    int delay_ms = shared->cfg->fail_delay_ms;

    install_signals();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)          /* the master died before prctl */
        _exit(0);

    if (FCGX_Init() != 0) {
        og_log(OG_LOG_ERROR, "worker %d: cannot initialise libfcgi", (int)getpid());
        _exit(1);
    }
    for (int i = 0; i <= MAX_PARKED; i++)
        FCGX_InitRequest(&parked[i].req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
    /* Delays need a worker that never sleeps in accept(): non-blocking
       listening socket plus poll(). Without them, a plain blocking accept. */
    set_blocking(listen_fd, delay_ms <= 0);
    open_connections(&w);

    while (!stopping) {
        int rc;
        size_t n;

        if (nparked > 0)
            wait_for_work(listen_fd);
        if (stopping)
            break;
        slot = free_slot();
        rc = FCGX_Accept_r(&slot->req);
        if (rc < 0) {
            if (stopping)
                break;
            if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
                /* another worker took it, or the socket is non-blocking */
                wait_for_work(listen_fd);
                continue;
            }
            if (rc == -EINTR || rc == -ECONNABORTED)
                continue;
            og_log(OG_LOG_WARN, "worker %d: accept failed: %s", (int)getpid(), strerror(-rc));
            {
                struct timespec ts = { 0, 100 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
            continue;
        }
        {
            struct og_body body = { read_fcgi_stdin, slot->req.in };
            /* og_handle reads the body only for RESPONDER endpoints that take one */
            n = og_handle(&w, slot->req.envp, &body, buf, sizeof(buf));
        }
        if (w.request_failed && delay_ms > 0 && park(slot, buf, n, delay_ms))
            continue;                 /* answered when due; the next accept takes another slot */
        answer(&slot->req, buf, n);
    }
    release_due(true);
    close_connections(&w);
    curl_global_cleanup();
    _exit(0);
}
