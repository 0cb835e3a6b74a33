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
#include <signal.h>
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

void og_worker_run(int listen_fd, struct og_worker_state *shared, pid_t master)
{
    struct og_worker_state w = *shared;
    FCGX_Request req;
    static char buf[OG_RESPONSE_MAX];

    install_signals();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)          /* the master died before prctl */
        _exit(0);

    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        og_log(OG_LOG_ERROR, "worker %d: cannot initialise libfcgi", (int)getpid());
        _exit(1);
    }
    open_connections(&w);

    while (!stopping) {
        int rc = FCGX_Accept_r(&req);
        size_t n;

        if (rc < 0) {
            if (stopping)
                break;
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
            struct og_body body = { read_fcgi_stdin, req.in };
            /* og_handle reads the body only for RESPONDER endpoints that take one */
            n = og_handle(&w, req.envp, &body, buf, sizeof(buf));
        }
        if (n == 0 || FCGX_PutStr(buf, (int)n, req.out) != (int)n)
            FCGX_PutS(og_response_unavailable, req.out);
        FCGX_Finish_r(&req);
    }
    close_connections(&w);
    curl_global_cleanup();
    _exit(0);
}
