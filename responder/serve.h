/*
 * serve.h - `ocigate serve`: the listening socket and the master/worker pool.
 */
#ifndef OCIGATE_SERVE_H
#define OCIGATE_SERVE_H

#include <stdbool.h>

struct og_serve_options {
    const char *config_path;
    const char *listen;     /* "unix:PATH[,mode=0660][,group=NAME]" (listen_spec.h)
                               or "tcp:HOST:PORT"; NULL = inherited */
    int workers;            /* 0 = config, then number of CPUs */
};

/* True when fd is a socket that listens (SO_ACCEPTCONN): one inherited from
   systemd, spawn-fcgi or a web server's bin-path. */
bool og_is_listening_socket(int fd);

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int og_serve(const struct og_serve_options *opt);

#endif
