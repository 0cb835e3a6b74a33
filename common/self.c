/*
 * self.c - og_self_pid: getpid() once per process. glibc no longer caches
 * the pid, so each call is a system call; a fork handler forgets the value
 * in the child, which asks again on its first call.
 */
#include "self.h"

#include <pthread.h>
#include <unistd.h>

static pid_t self;
static int handler;                      /* 1: registered, -1: registration failed */

static void forget(void)
{
    self = 0;
}

pid_t og_self_pid(void)
{
    if (handler == 0)
        handler = pthread_atfork(NULL, NULL, forget) == 0 ? 1 : -1;
    if (handler < 0)
        return getpid();                 /* no handler: never trust a remembered pid */
    if (self == 0)
        self = getpid();
    return self;
}
