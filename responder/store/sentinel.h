/*
 * sentinel.h - ask Redis Sentinel where the master is (doc/redis.md).
 */
#ifndef OCIGATE_SENTINEL_H
#define OCIGATE_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "hostport.h"

struct redisReply;

/* Where a sentinel's answer leaves us. */
enum og_sentinel_result {
    OG_SENTINEL_MASTER = 0,     /* it named the master: host and port are filled */
    OG_SENTINEL_UNKNOWN,        /* it does not monitor that name (a nil answer) */
    OG_SENTINEL_BAD_REPLY,      /* an error or a malformed answer */
    OG_SENTINEL_UNREACHABLE,    /* no connection or no answer in time */
    OG_SENTINEL_AUTH,           /* it refused AUTH */
};

/*
 * The address in an answer to SENTINEL get-master-addr-by-name, given as its
 * two strings with their lengths: host (an IPv4 or IPv6 address, or a name,
 * at most 253 bytes) and port (decimal, 1..65535). Bounded; no allocation.
 * host_out holds OG_HOST_MAX bytes.
 */
enum og_sentinel_result og_sentinel_parse_addr(const char *host, size_t hlen,
                                               const char *port, size_t plen,
                                               char *host_out, int *port_out);

/* The same for a whole hiredis reply: a nil is OG_SENTINEL_UNKNOWN, an array
   of two strings goes to og_sentinel_parse_addr, anything else is bad. */
enum og_sentinel_result og_sentinel_parse_reply(const struct redisReply *rep, char *host_out,
                                                int *port_out);

/* Does a reply to ROLE say "master"? (A replica answers "slave".) */
bool og_redis_role_is_master(const struct redisReply *rep);

/*
 * Ask the sentinel at host:port for the master called name: connect and
 * every command within tv, AUTH [user] password first when password is set
 * (never logged or put in why), then SENTINEL get-master-addr-by-name. why
 * (no secrets) says what went wrong when the result is not OG_SENTINEL_MASTER.
 */
enum og_sentinel_result og_sentinel_ask(const char *host, int port, struct timeval tv,
                                        const char *user, const char *password,
                                        const char *name, char *mhost, int *mport,
                                        char *why, size_t whylen);

#endif
