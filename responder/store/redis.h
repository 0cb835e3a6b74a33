/*
 * redis.h - one Redis connection per process, with timeouts, reconnecting by itself.
 */
#ifndef OCIGATE_REDIS_H
#define OCIGATE_REDIS_H

#include <stdbool.h>
#include <stddef.h>

struct redisReply;
struct og_config;

struct og_redis;

/* Parse redis.url once ("redis://[:PASSWORD@]HOST[:PORT][/DB]" or
   "unix:///PATH[?db=N]"). Does not connect. NULL + err on a bad URL. */
struct og_redis *og_redis_new(const struct og_config *cfg, char *err, size_t errlen);
void og_redis_free(struct og_redis *r);

/*
 * Run one command (hiredis format string). Connects (or reconnects after a
 * failure, at most once per second so a dead Redis costs no latency) and
 * returns the reply, or NULL when Redis could not answer; an error reply
 * (REDIS_REPLY_ERROR) is returned as is. The caller frees with
 * og_redis_reply_free().
 */
struct redisReply *og_redis_command(struct og_redis *r, const char *fmt, ...);
struct redisReply *og_redis_command_argv(struct og_redis *r, int argc, const char **argv,
                                         const size_t *argvlen);
void og_redis_reply_free(struct redisReply *reply);

/* One command of a transaction, as for og_redis_command_argv. */
struct og_redis_cmd {
    int argc;
    const char **argv;
    const size_t *argvlen;
};

/*
 * Run cmds[0..ncmds) (at most 64) atomically as MULTI ... EXEC, pipelined.
 * Returns EXEC's reply (an array of the ncmds replies; an error reply such as
 * EXECABORT when Redis refused the transaction), or NULL when Redis could not
 * answer, in which case nothing was applied.
 */
struct redisReply *og_redis_transaction(struct og_redis *r, size_t ncmds,
                                        const struct og_redis_cmd *cmds);

/* Was the last command answered (false after a connection/timeout failure)?
   False as well before the first command: a process that has not talked to
   Redis yet must send a command (which connects) before it concludes that
   Redis is down. */
bool og_redis_reachable(const struct og_redis *r);

/* PING (connecting if allowed): for the health endpoint. */
bool og_redis_ping(struct og_redis *r);

/* Where Redis is ("HOST:PORT/DB" or "unix:PATH?db=N"), never with the password. */
/* Does the connection authenticate (a password from redis.url or the config)? */
bool og_redis_has_password(const struct og_redis *r);

const char *og_redis_describe(const struct og_redis *r);

/* Why the last attempt failed (no secrets), "" after a success. */
const char *og_redis_last_error(const struct og_redis *r);

/* The configured key prefix (redis.prefix). */
const char *og_redis_prefix(const struct og_redis *r);

/* The ACL user of AUTH on the data nodes (redis.username or the URL's), or NULL. */
const char *og_redis_user(const struct og_redis *r);

/* redis.minReplicas. */
int og_redis_min_replicas(const struct og_redis *r);

/* The node of the current connection ("HOST:PORT", "[IPV6]:PORT" or
   "unix:PATH"), NULL when not connected. */
const char *og_redis_master(const struct og_redis *r);

/* Master changes this process saw (a new address after a reconnection). */
unsigned long og_redis_failovers_seen(const struct og_redis *r);

/*
 * After a write on this connection: WAIT until redis.minReplicas replicas
 * hold it, at most redis.timeoutMs. 1 confirmed (always, when minReplicas is
 * 0), 0 fewer replicas acknowledged in time, -1 Redis could not answer (or
 * the write's connection is gone). Never reconnects: WAIT counts only this
 * connection's writes.
 */
int og_redis_wait_replicas(struct og_redis *r);

#endif
