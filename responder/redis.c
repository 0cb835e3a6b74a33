/* responder/redis.c - STUB, being written (issue 3). */
#include "redis.h"
#include <stdlib.h>
struct og_redis { int unused; };
struct og_redis *og_redis_new(const struct og_config *cfg, char *err, size_t errlen)
{ (void)cfg; (void)err; (void)errlen; return calloc(1, sizeof(struct og_redis)); }
void og_redis_free(struct og_redis *r) { free(r); }
struct redisReply *og_redis_command(struct og_redis *r, const char *fmt, ...) { (void)r; (void)fmt; return NULL; }
struct redisReply *og_redis_command_argv(struct og_redis *r, int argc, const char **argv, const size_t *argvlen)
{ (void)r; (void)argc; (void)argv; (void)argvlen; return NULL; }
void og_redis_reply_free(struct redisReply *reply) { (void)reply; }
bool og_redis_reachable(const struct og_redis *r) { (void)r; return false; }
const char *og_redis_prefix(const struct og_redis *r) { (void)r; return "ocigate:"; }
