/*
 * fuzz_sentinel.c - what a sentinel or a Redis node tells ocigate about where
 * the master is (responder/store/sentinel.c: og_sentinel_parse_reply,
 * og_redis_role_is_master) and HOST:PORT from a config (common/hostport.c).
 *
 * Input: RESP bytes, e.g. "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n". hiredis'
 * own reader turns them into the reply tree ocigate would get from SENTINEL
 * get-master-addr-by-name or ROLE; the raw bytes also go to og_hostport_parse.
 * Inputs announcing more than 64 Ki elements or bytes are skipped (hiredis
 * allocates what a header announces: hiredis trusting its server, as in
 * fuzz_redis_reply.c).
 */
#include "fuzz_common.h"

#include <stddef.h>
#include <string.h>

#include <hiredis.h>

#include "hostport.h"
#include "sentinel.h"

#include "fuzz_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char host[OG_HOST_MAX], out[OG_HOSTPORT_MAX];
    int port = 0;
    redisReader *rd;
    void *rep = NULL;

    char *exact = fz_dup_exact(data, size);      /* ASan sees a read past size */

    if (og_hostport_parse(exact, size, host, &port)) {
        if (strlen(host) >= OG_HOST_MAX || port < 1 || port > 65535)
            abort();
        og_hostport_format(host, port, out, sizeof out);
    }
    free(exact);
    if (size > 1 << 16 || announces_too_much(data, size))
        return 0;
    rd = redisReaderCreate();
    if (!rd)
        return 0;
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK &&
        redisReaderGetReply(rd, &rep) == REDIS_OK && rep) {
        if (og_sentinel_parse_reply(rep, host, &port) == OG_SENTINEL_MASTER &&
            (strlen(host) >= OG_HOST_MAX || port < 1 || port > 65535))
            abort();
        (void)og_redis_role_is_master(rep);
        freeReplyObject(rep);
    }
    redisReaderFree(rd);
    return 0;
}
