/*
 * worker.h - a worker process: the FastCGI accept loop.
 */
#ifndef OCIGATE_WORKER_H
#define OCIGATE_WORKER_H

#include <sys/types.h>

struct og_config;
struct og_htpasswd;

/* Serve requests on listen_fd until told to stop or the master dies. Never returns. */
void og_worker_run(int listen_fd, const struct og_config *cfg, struct og_htpasswd *htpasswd,
                   pid_t master) __attribute__((noreturn));

#endif
