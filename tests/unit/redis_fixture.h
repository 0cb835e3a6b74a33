/*
 * redis_fixture.h - a private redis-server for a unit test: started on a unix
 * socket in a fresh temporary directory (no TCP port, no persistence), and
 * stopped at the end. Where redis-server is not installed the tests that
 * need it skip (tests/install-deps.sh installs it for CI).
 */
#ifndef OCIGATE_TEST_REDIS_FIXTURE_H
#define OCIGATE_TEST_REDIS_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

struct og_config;
struct og_redis;

struct og_test_redis {
    pid_t pid;               /* 0: not running */
    char dir[64];            /* the temporary directory */
    char sock[128];          /* DIR/redis.sock */
    char url[160];           /* unix:///DIR/redis.sock, for redis.url */
};

/* Start one. 0 running; 1 redis-server is not installed (skip); -1 it would
   not start (a failure: the reason is on stderr). */
int og_test_redis_start(struct og_test_redis *t);

/* For main(), before cmocka runs: start t, or print the TAP of a skipped
   file ("1..0 # SKIP ...", redis-server not installed) or of a failure, and
   exit. cmocka cannot skip a test in TAP (it prints "not ok # SKIP", which
   is a failure), so a file that needs Redis skips as a whole. */
void og_test_redis_start_or_exit(struct og_test_redis *t);

/* Stop it and remove its directory; safe to call when it is not running. */
void og_test_redis_stop(struct og_test_redis *t);

/* Point cfg at it (redis.url, a 2 s timeout) and open a client on it. */
struct og_redis *og_test_redis_client(const struct og_test_redis *t, struct og_config *cfg);

/* FLUSHALL through client: every test starts from an empty Redis. */
void og_test_redis_flush(struct og_redis *client);

#endif
