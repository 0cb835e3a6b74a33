/*
 * serve.h - `ocigate serve`: the listening socket and the master/worker pool.
 */
#ifndef OCIGATE_SERVE_H
#define OCIGATE_SERVE_H

struct og_serve_options {
    const char *config_path;
    const char *listen;     /* "unix:PATH[,mode=0660]" or "tcp:HOST:PORT"; NULL = inherited */
    int workers;            /* 0 = config, then number of CPUs */
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int og_serve(const struct og_serve_options *opt);

#endif
