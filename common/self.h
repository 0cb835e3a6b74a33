/*
 * self.h - this process's id without a system call each time (the worker
 * checks on every request whether per-process state is its own).
 */
#ifndef OCIGATE_SELF_H
#define OCIGATE_SELF_H

#include <sys/types.h>

/* getpid(), remembered; a child made by fork() learns its own. */
pid_t og_self_pid(void);

#endif
