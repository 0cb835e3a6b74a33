/*
 * sentinel.c - ask one Redis Sentinel where the master called NAME is, and
 * read its answer with a bounded parser.
 *
 * The connection is short-lived (one question, then closed): sentinels are
 * asked only when ocigate (re)connects to Redis, which redis.c limits. The
 * order in which sentinels are asked, moving the one that answered to the
 * front, and checking that the named node really is the master (ROLE) are
 * redis.c's.
 */
#include "sentinel.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "buf.h"

enum og_sentinel_result og_sentinel_parse_addr(const char *host, size_t hlen,
                                               const char *port, size_t plen,
                                               char *host_out, int *port_out)
{
    int p;

    if (!host || !port || !og_host_valid(host, hlen))
        return OG_SENTINEL_BAD_REPLY;
    p = og_port_parse(port, plen);
    if (p < 0)
        return OG_SENTINEL_BAD_REPLY;
    memcpy(host_out, host, hlen);
    host_out[hlen] = '\0';
    *port_out = p;
    return OG_SENTINEL_MASTER;
}

static bool is_string(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && r->str;
}

enum og_sentinel_result og_sentinel_parse_reply(const struct redisReply *rep, char *host_out,
                                                int *port_out)
{
    if (!rep)
        return OG_SENTINEL_UNREACHABLE;
    if (rep->type == REDIS_REPLY_NIL)
        return OG_SENTINEL_UNKNOWN;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || !rep->element ||
        !is_string(rep->element[0]) || !is_string(rep->element[1]))
        return OG_SENTINEL_BAD_REPLY;
    return og_sentinel_parse_addr(rep->element[0]->str, rep->element[0]->len,
                                  rep->element[1]->str, rep->element[1]->len, host_out,
                                  port_out);
}

bool og_redis_role_is_master(const struct redisReply *rep)
{
    const redisReply *first;

    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || !rep->element)
        return false;
    first = rep->element[0];
    return is_string(first) && first->len == 6 && memcmp(first->str, "master", 6) == 0;
}

enum og_sentinel_result og_sentinel_ask(const char *host, int port, struct timeval tv,
                                        const char *user, const char *password,
                                        const char *name, char *mhost, int *mport,
                                        char *why, size_t whylen)
{
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    redisReply *rep = NULL;
    enum og_sentinel_result res = OG_SENTINEL_UNREACHABLE;

    if (!c || c->err) {
        og_set_err(why, whylen, "cannot connect: %.120s", c ? c->errstr : "out of memory");
        goto cleanup;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        og_set_err(why, whylen, "cannot set the socket timeout");
        goto cleanup;
    }
    if (password) {
        const char *argv[3] = { "AUTH", user ? user : password, password };
        size_t lens[3] = { 4, strlen(argv[1]), strlen(password) };

        rep = redisCommandArgv(c, user ? 3 : 2, argv, lens);
        if (!rep) {
            og_set_err(why, whylen, "no answer to AUTH: %.120s", c->errstr);
            goto cleanup;
        }
        if (rep->type != REDIS_REPLY_STATUS) {
            og_set_err(why, whylen, "the sentinel refused AUTH (wrong user or password?)");
            res = OG_SENTINEL_AUTH;
            goto cleanup;
        }
        freeReplyObject(rep);
        rep = NULL;
    }
    rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
    if (!rep) {
        og_set_err(why, whylen, "no answer: %.120s", c->errstr);
        goto cleanup;
    }
    res = og_sentinel_parse_reply(rep, mhost, mport);
    if (res == OG_SENTINEL_UNKNOWN)
        og_set_err(why, whylen, "it monitors no master called \"%s\"", name);
    else if (res == OG_SENTINEL_BAD_REPLY && rep->type == REDIS_REPLY_ERROR && rep->str)
        og_set_err(why, whylen, "it answered: %.100s", rep->str);
    else if (res == OG_SENTINEL_BAD_REPLY)
        og_set_err(why, whylen, "a malformed answer");
cleanup:
    if (rep)
        freeReplyObject(rep);
    if (c)
        redisFree(c);
    return res;
}
