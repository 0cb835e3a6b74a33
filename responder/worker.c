/*
 * worker.c - one worker: accept a FastCGI request, answer it, repeat.
 *
 * The worker owns its registry handle and its caches. It never reads
 * FCGI_STDIN in the AUTHORIZER role (the web server never ends it); in the
 * RESPONDER role it collects the body before handling the request, while it
 * goes on serving others (body.c), so a slow body holds no worker. SIGTERM
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
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "apikey.h"
#include "body.h"
#include "clock.h"
#include "decide.h"
#include "handle.h"
#include "log.h"
#include "oidc.h"
#include "redis.h"
#include "registry.h"
#include "response.h"

static volatile sig_atomic_t stopping;

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

/* ------------------------------------------ slow bodies, delayed failures */

/*
 * Two kinds of request wait in a slot while the worker goes on accepting.
 * A RESPONDER request whose body has not all arrived is collected (body.c)
 * until it is complete or its deadline passes, then handled. A refused
 * credential is answered only after auth.failDelayMs: the request is parked
 * (its FastCGI connection stays open, its answer already rendered) and goes
 * out when due. While anything waits, the worker polls the listening socket
 * (non-blocking) and the connections being collected, with the nearest due
 * time or deadline as timeout.
 */
#define MAX_PARKED     64
#define MAX_COLLECTING 16     /* bodies in flight per worker (at most 4 MiB each) */
#define NSLOTS         (MAX_PARKED + MAX_COLLECTING + 1)
#define PARKED_ANSWER  8192

enum slot_state { SLOT_FREE = 0, SLOT_COLLECTING, SLOT_PARKED };

/* libfcgi's streams point back at their FCGX_Request, so a request is never
   copied: each slot owns one, and the worker accepts into a free slot. */
struct parked {
    enum slot_state state;
    FCGX_Request req;
    struct og_fcgi_body body;
    struct timespec due;
    size_t n;
    char answer[PARKED_ANSWER];
};

static struct parked parked[NSLOTS];
static int nparked, ncollecting;
static char buf[OG_RESPONSE_MAX];

static void answer(struct parked *p, const char *out, size_t n)
{
    if (n == 0 || FCGX_PutStr(out, (int)n, p->req.out) != (int)n)
        FCGX_PutS(og_response_unavailable, p->req.out);
    og_fcgi_body_finish(&p->body);
    p->state = SLOT_FREE;
}

/* A slot to accept the next request into (never a busy one). */
static struct parked *free_slot(void)
{
    for (int i = 0; i < NSLOTS; i++)
        if (parked[i].state == SLOT_FREE)
            return &parked[i];
    return NULL;                      /* cannot happen: one more slot than may wait */
}

/* Park the request of slot p; false if it cannot be (then answer it now). */
static bool park(struct parked *p, const char *out, size_t n, int delay_ms)
{
    if (nparked >= MAX_PARKED || n > sizeof(p->answer))
        return false;
    memcpy(p->answer, out, n);
    p->n = n;
    og_deadline_in(&p->due, delay_ms);
    p->state = SLOT_PARKED;
    nparked++;
    return true;
}

/* Handle the request of slot p (its body collected) and answer or park it. */
static void serve(struct og_worker_state *w, struct parked *p)
{
    struct og_body body = { og_fcgi_body_read, &p->body };
    int delay_ms = w->cfg->fail_delay_ms;
    /* og_handle reads the body only for RESPONDER endpoints that take one */
    size_t n = og_handle(w, p->req.envp, &body, buf, sizeof(buf));

    if (w->request_failed && delay_ms > 0 && park(p, buf, n, delay_ms))
        return;                       /* answered when due */
    answer(p, buf, n);
}

/* Answer the parked requests that are due (all of them when flush_all). */
static long release_due(bool flush_all)
{
    long next = -1;
    for (int i = 0; i < NSLOTS && nparked > 0; i++) {
        struct parked *p = &parked[i];
        long ms;
        if (p->state != SLOT_PARKED)
            continue;
        ms = og_ms_until(&p->due);
        if (flush_all || ms == 0) {
            answer(p, p->answer, p->n);
            nparked--;
        } else if (next < 0 || ms < next) {
            next = ms;
        }
    }
    return next;
}

/* Collect what has arrived of the bodies in flight; handle the finished ones
   (all of them, whatever they hold, when flush_all). */
static long collect_bodies(struct og_worker_state *w, bool flush_all)
{
    long next = -1;
    for (int i = 0; i < NSLOTS && ncollecting > 0; i++) {
        struct parked *p = &parked[i];
        if (p->state != SLOT_COLLECTING)
            continue;
        if (flush_all || og_fcgi_body_collect(&p->body)) {
            ncollecting--;
            p->state = SLOT_FREE;
            serve(w, p);
        } else {
            long ms = og_fcgi_body_ms_left(&p->body);
            if (next < 0 || ms < next)
                next = ms;
        }
    }
    return next;
}

/* The listening socket alone, for a worker with nothing else to wait for:
   an epoll set where it is EPOLLEXCLUSIVE, so that a new connection wakes
   one waiting worker, not all of them (with poll every worker woke, and all
   but one found nothing to accept). -1: poll only. */
static int idle_wait_fd = -1;

static void open_idle_wait(int listen_fd)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd };

    idle_wait_fd = epoll_create1(EPOLL_CLOEXEC);
    if (idle_wait_fd >= 0 && epoll_ctl(idle_wait_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
        close(idle_wait_fd);
        idle_wait_fd = -1;
    }
}

/* Wait until the listening socket or a body in flight is readable, or a
   parked answer or a body's deadline is due. */
static void wait_for_work(struct og_worker_state *w, int listen_fd)
{
    struct pollfd pfd[1 + NSLOTS];
    nfds_t nfds = 0;
    long next = release_due(false), c = collect_bodies(w, false);

    if (c >= 0 && (next < 0 || c < next))
        next = c;
    if (ncollecting < MAX_COLLECTING || nparked < MAX_PARKED) {
        pfd[nfds].fd = listen_fd;
        pfd[nfds].events = POLLIN;
        pfd[nfds++].revents = 0;
    }
    for (int i = 0; i < NSLOTS; i++)
        if (parked[i].state == SLOT_COLLECTING) {
            pfd[nfds].fd = og_fcgi_body_fd(&parked[i].body);
            pfd[nfds].events = POLLIN;
            pfd[nfds++].revents = 0;
        }
    if (nfds == 1 && pfd[0].fd == listen_fd && idle_wait_fd >= 0) {
        struct epoll_event ev;
        epoll_wait(idle_wait_fd, &ev, 1, next < 0 ? 1000 : (int)next);
    } else {
        poll(pfd, nfds, next < 0 ? 1000 : (int)next);
    }
    collect_bodies(w, false);
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

    install_signals();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)          /* the master died before prctl */
        _exit(0);

    if (FCGX_Init() != 0) {
        og_log(OG_LOG_ERROR, "worker %d: cannot initialise libfcgi", (int)getpid());
        _exit(1);
    }
    for (int i = 0; i < NSLOTS; i++)
        FCGX_InitRequest(&parked[i].req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
    /* Waiting bodies and delayed answers need a worker that never sleeps in
       accept(): non-blocking listening socket plus poll(). */
    set_blocking(listen_fd, false);
    open_idle_wait(listen_fd);
    open_connections(&w);

    while (!stopping) {
        bool truncated;
        int rc;

        if (nparked > 0 || ncollecting > 0)
            wait_for_work(&w, listen_fd);
        if (stopping)
            break;
        if (ncollecting >= MAX_COLLECTING && nparked >= MAX_PARKED) {
            wait_for_work(&w, listen_fd);      /* every slot busy: let them progress */
            continue;
        }
        slot = free_slot();
        rc = og_fcgi_accept(&slot->req, &truncated);
        if (rc < 0) {
            if (stopping)
                break;
            if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
                /* another worker took it, or nothing is there yet */
                wait_for_work(&w, listen_fd);
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
        og_fcgi_body_init(&slot->body, &slot->req, w.cfg->body_timeout_ms);
        if (truncated) {                   /* never decided on part of its params */
            og_log(OG_LOG_WARN, "worker %d: a request's FastCGI params did not all arrive "
                   "within a second: 503", (int)getpid());
            answer(slot, og_response_unavailable, strlen(og_response_unavailable));
            continue;
        }
        if (!og_fcgi_body_collect(&slot->body)) {
            if (ncollecting < MAX_COLLECTING) {
                slot->state = SLOT_COLLECTING;  /* handled when its body is in */
                ncollecting++;
                continue;
            }
            og_log(OG_LOG_WARN, "worker %d: %d request bodies in flight already; "
                   "this one is handled with what has arrived", (int)getpid(), MAX_COLLECTING);
        }
        serve(&w, slot);
    }
    collect_bodies(&w, true);
    release_due(true);
    close_connections(&w);
    curl_global_cleanup();
    _exit(0);
}
