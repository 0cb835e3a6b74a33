/* noop_authorizer.c - the benchmark's floor: a FastCGI authorizer (libfcgi)
 * that answers "Status: 200" to every request without looking at it. Not
 * part of ocigate; tests/bench/compare.sh builds it and puts it where
 * ocigate would be, to measure what the FastCGI round trip alone costs.
 *
 * Usage: noop_authorizer SOCKET-PATH WORKERS
 * Listens on the unix socket, forks WORKERS processes that each accept and
 * answer one request at a time (like ocigate's workers); the parent waits
 * and stops the workers on SIGTERM/SIGINT. */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int serve(int fd)
{
    FCGX_Request r;
    if (FCGX_InitRequest(&r, fd, 0) != 0)
        return 1;
    while (FCGX_Accept_r(&r) >= 0) {
        FCGX_PutS("Status: 200\r\n\r\n", r.out);
        FCGX_Finish_r(&r);
    }
    return 0;
}

int main(int argc, char **argv)
{
    pid_t kids[MAX_WORKERS];
    int n, i, fd;
    struct sigaction sa = { .sa_handler = on_signal };

    if (argc != 3 || (n = atoi(argv[2])) < 1 || n > MAX_WORKERS) {
        fprintf(stderr, "usage: noop_authorizer SOCKET-PATH WORKERS(1..%d)\n", MAX_WORKERS);
        return 2;
    }
    if (FCGX_Init() != 0)
        return 1;
    unlink(argv[1]);
    fd = FCGX_OpenSocket(argv[1], 128);
    if (fd < 0) {
        fprintf(stderr, "noop_authorizer: cannot listen on %s\n", argv[1]);
        return 1;
    }
    chmod(argv[1], 0660);
    for (i = 0; i < n; i++) {
        kids[i] = fork();
        if (kids[i] < 0)
            return 1;
        if (kids[i] == 0)
            return serve(fd);
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!stop)
        pause();
    for (i = 0; i < n; i++)
        kill(kids[i], SIGTERM);
    for (i = 0; i < n; i++)
        waitpid(kids[i], NULL, 0);
    unlink(argv[1]);
    return 0;
}
