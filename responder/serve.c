/*
 * serve.c - where the listening socket comes from, and the process pool.
 *
 * Socket sources, in order (ocigate(8)): --listen; systemd (LISTEN_FDS, fd 3);
 * launchd (launch_activate_socket, macOS only); fd 0 when it is a listening
 * socket (lighttpd bin-path, spawn-fcgi, systemd StandardInput=socket).
 *
 * The master owns nothing but its children: it forks the workers, respawns
 * any that die, reloads on SIGHUP (a bad config is refused and the running
 * one kept; a good one starts a new generation of workers and lets the old
 * one finish its requests), and on SIGTERM/SIGINT tells every worker to
 * finish and waits for them. It never handles a request itself.
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __APPLE__
#include <launch.h>
#endif

#include "decide.h"
#include "handle.h"
#include "htpasswd.h"
#include "listen_spec.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "session.h"
#include "throttle.h"
#include "token.h"
#include "worker.h"

#define MAX_WORKERS 256
#define BACKLOG 1024
#define DRAIN_SECONDS 10

/* ------------------------------------------------------------ the socket */

/* The gid group= names: a number as it is, a name through the group
   database (getgrnam_r, here at startup, before the socket exists). */
static int resolve_group(const char *spec, const struct og_listen_unix *u, gid_t *gid)
{
    struct group gr, *found = NULL;
    size_t cap = 4096;
    char *buf = NULL;
    int rc;

    if (u->group_is_gid) {
        *gid = u->gid;
        return 0;
    }
    for (;;) {                        /* a group with many members needs a big buffer */
        char *nb = realloc(buf, cap);
        if (!nb) {
            rc = ENOMEM;
            break;
        }
        buf = nb;
        rc = getgrnam_r(u->group, &gr, buf, cap, &found);
        if (rc != ERANGE || cap >= (1u << 20))
            break;
        cap *= 4;
    }
    if (rc == 0 && found)
        *gid = gr.gr_gid;
    free(buf);
    if (rc != 0) {
        fprintf(stderr, "ocigate: --listen unix:%s: group=%s: cannot look the group up: %s\n",
                spec, u->group, strerror(rc));
        return -1;
    }
    if (!found) {
        fprintf(stderr, "ocigate: --listen unix:%s: group=%s: no such group\n", spec, u->group);
        return -1;
    }
    return 0;
}

/* unix:PATH[,mode=OCTAL][,group=NAME|GID]. The socket is bound with no
   permission bits at all (umask 0777), then given its group, then its mode,
   checked, and only then listen()s: no client can connect before it has
   its final owner and mode, and it never has wider permissions than those.
   Any failure removes the socket again and ocigate stops. */
static int listen_unix(const char *spec, char *owned_path, size_t owned_cap)
{
    struct og_listen_unix u;
    char err[200], what[OG_LISTEN_GROUP_MAX + 96];
    struct sockaddr_un sa;
    struct stat st;
    mode_t old_umask;
    gid_t gid = (gid_t)-1;
    bool bound = false;
    int fd = -1, e;

    if (og_listen_unix_parse(spec, strlen(spec), &u, err, sizeof(err)) != 0) {
        fprintf(stderr, "ocigate: --listen unix:%s: %s\n", spec, err);
        return -1;
    }
    if (u.group_given && resolve_group(spec, &u, &gid) != 0)
        return -1;
    if (lstat(u.path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "ocigate: %s exists and is not a socket\n", u.path);
            return -1;
        }
        unlink(u.path);
    }
    snprintf(what, sizeof(what), "cannot listen");
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, u.path, strlen(u.path) + 1);
    old_umask = umask(0777);          /* created with no permission bits, even for an instant */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        e = errno;
        umask(old_umask);
        errno = e;
        goto fail;
    }
    umask(old_umask);
    bound = true;
    if (u.group_given) {
        if (u.group_is_gid)
            snprintf(what, sizeof(what), "group=%lu: cannot give the socket this group",
                     (unsigned long)gid);
        else
            snprintf(what, sizeof(what), "group=%s (gid %lu): cannot give the socket this group",
                     u.group, (unsigned long)gid);
        if (lchown(u.path, (uid_t)-1, gid) != 0)   /* never through a symlink */
            goto fail;
    }
    snprintf(what, sizeof(what), "mode=%04o: cannot set the socket's mode", (unsigned)u.mode);
    if (chmod(u.path, u.mode) != 0)
        goto fail;
    /* still our socket, with the owner and mode asked for */
    snprintf(what, sizeof(what), "the socket changed under ocigate before it listened");
    if (lstat(u.path, &st) != 0)
        goto fail;
    if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != u.mode ||
        (u.group_given && st.st_gid != gid)) {
        errno = EPERM;
        goto fail;
    }
    snprintf(what, sizeof(what), "cannot listen");
    if (listen(fd, BACKLOG) != 0)
        goto fail;
    snprintf(owned_path, owned_cap, "%s", u.path);
    return fd;
fail:
    e = errno;
    fprintf(stderr, "ocigate: --listen unix:%s: %s: %s\n", spec, what, strerror(e));
    if (bound && lstat(u.path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(u.path);           /* no socket left behind */
    if (fd >= 0)
        close(fd);
    return -1;
}

static int listen_tcp(const char *spec)
{
    char host[256];
    const char *port, *h = spec;
    size_t hlen;
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, one = 1, rc;

    if (spec[0] == '[') {                     /* [::1]:9000 */
        const char *close_br = strchr(spec, ']');
        if (!close_br || close_br[1] != ':')
            goto usage;
        h = spec + 1;
        hlen = (size_t)(close_br - h);
        port = close_br + 2;
    } else {
        port = strrchr(spec, ':');
        if (!port)
            goto usage;
        hlen = (size_t)(port - spec);
        port++;
    }
    if (hlen == 0 || hlen >= sizeof(host) || !*port)
        goto usage;                            /* an empty host would mean every interface */
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "ocigate: --listen tcp:%s: %s\n", spec, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, BACKLOG) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "ocigate: cannot listen on tcp:%s: %s\n", spec, strerror(errno));
    return fd;
usage:
    fprintf(stderr, "ocigate: --listen tcp:%s: expected tcp:HOST:PORT (e.g. tcp:127.0.0.1:9000)\n",
            spec);
    return -1;
}

bool og_is_listening_socket(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 1;
}

static int systemd_socket(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds || atol(pid) != (long)getpid() || atoi(fds) < 1)
        return -1;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (atoi(fds) > 1)
        og_log(OG_LOG_WARN, "systemd passed %s sockets; serving the first (fd 3)", fds);
    if (!og_is_listening_socket(3))
        return -1;
    fcntl(3, F_SETFD, FD_CLOEXEC);
    return 3;
}

static int launchd_socket(void)
{
#ifdef __APPLE__
    int *fds = NULL;
    size_t cnt = 0;
    int fd = -1;
    if (launch_activate_socket("Listener", &fds, &cnt) == 0 && cnt >= 1) {
        fd = fds[0];
        if (cnt > 1)
            og_log(OG_LOG_WARN, "launchd passed %zu sockets; serving the first", cnt);
    }
    free(fds);
    return fd;
#else
    return -1;
#endif
}

static int open_listener(const char *listen, char *owned_path, size_t owned_cap)
{
    int fd;

    owned_path[0] = '\0';
    if (listen) {
        if (strncmp(listen, "unix:", 5) == 0)
            return listen_unix(listen + 5, owned_path, owned_cap);
        if (strncmp(listen, "tcp:", 4) == 0)
            return listen_tcp(listen + 4);
        fprintf(stderr, "ocigate: --listen %s: expected unix:PATH[,mode=0660][,group=NAME] "
                        "or tcp:HOST:PORT\n",
                listen);
        return -1;
    }
    if ((fd = systemd_socket()) >= 0)
        return fd;
    if ((fd = launchd_socket()) >= 0)
        return fd;
    if (og_is_listening_socket(0))
        return 0;
    fprintf(stderr, "ocigate: no socket to serve: give --listen unix:PATH or tcp:HOST:PORT, "
                    "or start ocigate from systemd/launchd socket activation or with a "
                    "listening socket on fd 0 (lighttpd bin-path, spawn-fcgi)\n");
    return -1;
}

/* ------------------------------------------------------------- the pool */

struct pool {
    int listen_fd;
    int nworkers;
    pid_t pids[MAX_WORKERS];          /* current generation; 0 = empty slot */
    pid_t old[MAX_WORKERS * 4];       /* previous generations, draining */
    size_t nold;
    struct og_worker_state shared;    /* cfg, htpasswd, tokens: what workers inherit */
    unsigned long restarts;
    time_t burst_start;
    int burst_count;
};

static void unload(struct og_worker_state *s)
{
    og_tokens_free(s->tokens);
    og_session_keys_free(s->session);
    og_htpasswd_free(s->htpasswd);
    og_config_free((struct og_config *)s->cfg);
    memset(s, 0, sizeof(*s));
}

/* Everything read from files: the config, the htpasswd file, the token key. */
static int load_everything(const char *path, struct og_worker_state *out)
{
    char err[1024];
    struct og_worker_state s;
    struct og_config *c = og_config_load(path, err, sizeof(err));

    memset(&s, 0, sizeof(s));
    if (!c) {
        og_log(OG_LOG_ERROR, "%s", err);
        return -1;
    }
    s.cfg = c;
    {   /* redis.url: the rule `ocigate check` applies too (redis.c parses it) */
        char rerr[256];
        struct og_redis *r = og_redis_new(c, rerr, sizeof(rerr));
        if (!r) {
            snprintf(err, sizeof(err), "%s: %s", c->path, rerr);
            goto fail;
        }
        og_redis_free(r);
    }
    og_throttle_init();               /* before the workers fork: one key for all */
    if (c->htpasswd_path) {
        s.htpasswd = og_htpasswd_load(c->htpasswd_path, err, sizeof(err));
        if (!s.htpasswd)
            goto fail;
    }
    s.tokens = og_tokens_load(c, err, sizeof(err));
    if (!s.tokens && err[0])
        goto fail;
    if (c->session_key_file) {        /* browser sign-in: the session cookie's key */
        s.session = og_session_keys_load(c->session_key_file, err, sizeof(err));
        if (!s.session)
            goto fail;
    }
    *out = s;
    return 0;
fail:
    og_log(OG_LOG_ERROR, "%s", err);
    unload(&s);
    return -1;
}

static pid_t spawn_worker(struct pool *p)
{
    pid_t master = getpid();
    pid_t pid = fork();

    if (pid == 0)
        og_worker_run(p->listen_fd, &p->shared, master);
    if (pid < 0)
        og_log(OG_LOG_ERROR, "fork: %s", strerror(errno));
    return pid;
}

static void spawn_missing(struct pool *p)
{
    /* the pages freed since the last fork (a config parse's JSON tree, the
       config a reload replaced) go back to the system first: a worker would
       otherwise carry them in its RSS */
    og_config_release_garbage();
    for (int i = 0; i < p->nworkers; i++) {
        if (p->pids[i] != 0)
            continue;
        pid_t pid = spawn_worker(p);
        if (pid > 0)
            p->pids[i] = pid;
    }
}

static int live_workers(const struct pool *p)
{
    int n = 0;
    for (int i = 0; i < p->nworkers; i++)
        n += p->pids[i] > 0;
    return n;
}

/* Too many deaths in a row (a worker that crashes at start) would make the
   master spin; past 20 in 10 s, wait a little before respawning. */
static void throttle_respawns(struct pool *p)
{
    time_t now = time(NULL);
    if (now - p->burst_start >= 10) {
        p->burst_start = now;
        p->burst_count = 0;
    }
    if (++p->burst_count > 20) {
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static void reap(struct pool *p)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        bool current = false;
        for (int i = 0; i < p->nworkers; i++)
            if (p->pids[i] == pid) {
                p->pids[i] = 0;
                current = true;
            }
        for (size_t i = 0; i < p->nold; i++)
            if (p->old[i] == pid)
                p->old[i] = p->old[--p->nold];
        if (current) {
            p->restarts++;
            og_metrics_worker_restart();
            if (WIFSIGNALED(status))
                og_log(OG_LOG_WARN, "worker %d killed by signal %d; respawning", (int)pid,
                       WTERMSIG(status));
            else
                og_log(OG_LOG_WARN, "worker %d exited with status %d; respawning", (int)pid,
                       WEXITSTATUS(status));
            throttle_respawns(p);
        }
    }
}

static void reload(struct pool *p, const char *path)
{
    struct og_worker_state fresh;

    if (load_everything(path, &fresh) != 0) {
        og_log(OG_LOG_ERROR, "reload refused: keeping the running configuration");
        og_metrics_config_reload(false);
        return;
    }
    og_metrics_config_reload(true);
    og_log_configure(fresh.cfg->log_level, fresh.cfg->log_format);
    /* the old generation finishes what it holds and exits */
    for (int i = 0; i < p->nworkers; i++) {
        if (p->pids[i] > 0) {
            kill(p->pids[i], SIGTERM);
            if (p->nold < sizeof(p->old) / sizeof(p->old[0]))
                p->old[p->nold++] = p->pids[i];
        }
        p->pids[i] = 0;
    }
    unload(&p->shared);
    p->shared = fresh;
    spawn_missing(p);
    og_log(OG_LOG_INFO, "configuration reloaded from %s", path);
}

static void drain(struct pool *p)
{
    time_t deadline = time(NULL) + DRAIN_SECONDS;
    bool any = true;

    for (int i = 0; i < p->nworkers; i++)
        if (p->pids[i] > 0)
            kill(p->pids[i], SIGTERM);
    for (size_t i = 0; i < p->nold; i++)
        kill(p->old[i], SIGTERM);
    while (any && time(NULL) < deadline) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        pid_t pid;
        int status;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            ;
        any = (pid == 0);     /* 0: children remain; -1/ECHILD: none left */
        if (any)
            nanosleep(&ts, NULL);
    }
    if (any) {
        og_log(OG_LOG_WARN, "workers still busy after %d s; killing them", DRAIN_SECONDS);
        for (int i = 0; i < p->nworkers; i++)
            if (p->pids[i] > 0)
                kill(p->pids[i], SIGKILL);
        for (size_t i = 0; i < p->nold; i++)
            kill(p->old[i], SIGKILL);
        while (waitpid(-1, NULL, 0) > 0)
            ;
    }
}

int og_serve(const struct og_serve_options *opt)
{
    struct pool p;
    char owned_path[256];
    sigset_t set;
    int rc = 0;

    memset(&p, 0, sizeof(p));
    if (load_everything(opt->config_path, &p.shared) != 0)
        return 2;
    og_log_configure(p.shared.cfg->log_level, p.shared.cfg->log_format);

    p.listen_fd = open_listener(opt->listen, owned_path, sizeof(owned_path));
    if (p.listen_fd < 0) {
        rc = 2;
        goto out;
    }
    p.nworkers = opt->workers > 0 ? opt->workers : p.shared.cfg->workers;
    if (p.nworkers <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        p.nworkers = cpus > 0 ? (int)cpus : 2;
    }
    if (p.nworkers > MAX_WORKERS)
        p.nworkers = MAX_WORKERS;

    /* The master waits for signals synchronously; workers unblock them. */
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (og_metrics_init() != 0)
        og_log(OG_LOG_WARN, "no shared memory for metrics; counting nothing");
    og_metrics_set_workers(p.nworkers);
    spawn_missing(&p);
    og_log(OG_LOG_INFO, "serving with %d workers (master %d)", p.nworkers, (int)getpid());

    for (;;) {
        struct timespec tick = { 1, 0 };
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            og_log(OG_LOG_INFO, "signal %d: draining workers", sig);
            break;
        }
        if (sig == SIGHUP)
            reload(&p, opt->config_path);
        reap(&p);               /* on SIGCHLD, and every tick in case one was missed */
        spawn_missing(&p);
        og_metrics_set_workers(live_workers(&p));
    }
    drain(&p);
out:
    if (owned_path[0])
        unlink(owned_path);
    unload(&p.shared);
    return rc;
}
