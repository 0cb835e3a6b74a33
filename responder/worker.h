/*
 * worker.h - a worker process: the FastCGI accept loop.
 */
#ifndef OCIGATE_WORKER_H
#define OCIGATE_WORKER_H

#include <sys/types.h>

struct og_worker_state;

/* Serve requests on listen_fd until told to stop or the master dies. Never
   returns. w holds what the master loaded (cfg, htpasswd, tokens); the
   worker adds its own connections (registry, Redis, JWKS) on start. */
void og_worker_run(int listen_fd, struct og_worker_state *w, pid_t master)
    __attribute__((noreturn));

#endif
