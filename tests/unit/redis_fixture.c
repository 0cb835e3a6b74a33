/*
 * redis_fixture.c - start and stop a private redis-server for a unit test
 * (see redis_fixture.h). Readiness is polled (PING over the socket), bounded
 * at 10 s; the server dies with the test process (PR_SET_PDEATHSIG) even
 * when the test crashes.
 */
#include "redis_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <hiredis/hiredis.h>

#include "config.h"
#include "redis.h"

static bool in_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n > 0 && n + strlen(name) + 2 < sizeof(buf)) {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
            if (access(buf, X_OK) == 0)
                return true;
        }
        path += n + (end ? 1 : 0);
    }
    return false;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static bool answers_ping(const char *sock)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    redisReply *r;
    bool ok = false;

    if (!c)
        return false;
    if (!c->err) {
        r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

static void remove_dir(struct og_test_redis *t)
{
    char p[160];

    if (!t->dir[0])
        return;
    unlink(t->sock);
    snprintf(p, sizeof(p), "%s/redis.log", t->dir);
    unlink(p);
    rmdir(t->dir);
    t->dir[0] = '\0';
}

int og_test_redis_start(struct og_test_redis *t)
{
    memset(t, 0, sizeof(*t));
    if (!in_path("redis-server"))
        return 1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/og-redis-XXXXXX");
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        t->dir[0] = '\0';
        return -1;
    }
    snprintf(t->sock, sizeof(t->sock), "%s/redis.sock", t->dir);
    snprintf(t->url, sizeof(t->url), "unix://%s", t->sock);
    t->pid = fork();
    if (t->pid < 0) {
        perror("fork");
        t->pid = 0;
        remove_dir(t);
        return -1;
    }
    if (t->pid == 0) {
        char log[160];
        int fd;
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        snprintf(log, sizeof(log), "%s/redis.log", t->dir);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", t->sock,
               "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
               "--dir", t->dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {          /* at most 10 s */
        int status;
        if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
            fprintf(stderr, "redis-server exited before it answered (see its log in %s)\n",
                    t->dir);
            t->pid = 0;
            return -1;
        }
        if (answers_ping(t->sock))
            return 0;
        sleep_ms(20);
    }
    fprintf(stderr, "redis-server did not answer within 10 s\n");
    og_test_redis_stop(t);
    return -1;
}

void og_test_redis_start_or_exit(struct og_test_redis *t)
{
    switch (og_test_redis_start(t)) {
    case 0:
        return;
    case 1:
        printf("1..0 # SKIP redis-server is not installed\n");
        exit(0);
    default:
        printf("1..1\nnot ok 1 - a private redis-server for this test\n");
        exit(1);
    }
}

void og_test_redis_stop(struct og_test_redis *t)
{
    if (t->pid > 0) {
        int status;
        bool reaped = false;
        kill(t->pid, SIGTERM);
        for (int i = 0; i < 250 && !reaped; i++) {      /* at most 5 s, then SIGKILL */
            reaped = waitpid(t->pid, &status, WNOHANG) == t->pid;
            if (!reaped)
                sleep_ms(20);
        }
        if (!reaped) {
            kill(t->pid, SIGKILL);
            waitpid(t->pid, &status, 0);
        }
        t->pid = 0;
    }
    remove_dir(t);
}

struct og_redis *og_test_redis_client(const struct og_test_redis *t, struct og_config *cfg)
{
    char err[256];
    struct og_redis *r;

    free(cfg->redis_url);
    cfg->redis_url = strdup(t->url);
    cfg->redis_timeout_ms = 2000;
    r = og_redis_new(cfg, err, sizeof(err));
    if (!r)
        fprintf(stderr, "og_redis_new: %s\n", err);
    return r;
}

void og_test_redis_flush(struct og_redis *client)
{
    og_redis_reply_free(og_redis_command(client, "FLUSHALL"));
}
