/*
 * test_sentinel.c - finding Redis through Sentinel, without a server:
 * "HOST:PORT" / "[IPV6]:PORT" (common/hostport.c), the answer to SENTINEL
 * get-master-addr-by-name and to ROLE as hiredis reads them off the wire
 * (responder/store/sentinel.c), how `ocigate check` shows the sentinel form
 * (never a password), and that a sentinel set nobody answers for fails
 * closed, fast, and at most once per second; failovers and Redis errors in
 * the metrics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "commands.h"
#include "config.h"
#include "hostport.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "sentinel.h"

static void hostport_forms(void **state)
{
    char host[OG_HOST_MAX], out[OG_HOSTPORT_MAX];
    int port = 0;

    (void)state;
    assert_true(og_hostport_parse("127.0.0.1:26379", 15, host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 26379);
    assert_true(og_hostport_parse("[::1]:26380", 11, host, &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 26380);
    assert_true(og_hostport_parse("redis-sentinel-1.example:1", 26, host, &port));
    assert_int_equal(port, 1);
    /* the length bounds the parse: a longer buffer is not read past n */
    assert_true(og_hostport_parse("h:6379garbage", 6, host, &port));
    assert_int_equal(port, 6379);
    assert_false(og_hostport_parse("h:6379", 5, host, &port) && port == 6379);
    og_hostport_format("::1", 26380, out, sizeof out);
    assert_string_equal(out, "[::1]:26380");
    og_hostport_format("10.0.0.1", 6379, out, sizeof out);
    assert_string_equal(out, "10.0.0.1:6379");

    static const char *const bad[] = { "", "h", "h:", ":1", "h:0", "h:65536", "h:+1", "h: 1",
                                       "::1:6379", "[::1]", "[::1]:", "[]:1", "[h]:1",
                                       "[::1]x:1", "h/x:1", "h\n:1", "h:1\n", "h:000001" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (og_hostport_parse(bad[i], strlen(bad[i]), host, &port))
            fail_msg("accepted \"%s\"", bad[i]);
    char longhost[300];
    memset(longhost, 'a', 254);
    memcpy(longhost + 254, ":1", 3);
    assert_false(og_hostport_parse(longhost, strlen(longhost), host, &port));
    assert_true(og_hostport_parse(longhost + 1, strlen(longhost + 1), host, &port));
}

/* RESP bytes -> the reply tree hiredis would hand us. */
static redisReply *read_reply_n(const char *resp, size_t n)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;

    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, resp, n), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
    assert_non_null(rep);
    redisReaderFree(rd);
    return rep;
}

static redisReply *read_reply(const char *resp)
{
    return read_reply_n(resp, strlen(resp));
}

static int parse(const char *resp, char *host, int *port)
{
    redisReply *rep = read_reply(resp);
    int res = og_sentinel_parse_reply(rep, host, port);

    freeReplyObject(rep);
    return res;
}

static void master_address_answers(void **state)
{
    char host[OG_HOST_MAX] = "";
    int port = 0;

    (void)state;
    assert_int_equal(parse("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", host, &port),
                     OG_SENTINEL_MASTER);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6380);
    assert_int_equal(parse("*2\r\n$3\r\n::1\r\n$4\r\n6381\r\n", host, &port), OG_SENTINEL_MASTER);
    assert_string_equal(host, "::1");
    assert_int_equal(parse("*-1\r\n", host, &port), OG_SENTINEL_UNKNOWN);
    assert_int_equal(parse("$-1\r\n", host, &port), OG_SENTINEL_UNKNOWN);

    static const char *const bad[] = {
        "-ERR No such master with that name\r\n",
        "-NOAUTH Authentication required.\r\n",
        "+OK\r\n", ":6379\r\n",
        "*1\r\n$9\r\n127.0.0.1\r\n",
        "*3\r\n$1\r\nh\r\n$4\r\n6379\r\n$1\r\nx\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n:6379\r\n",               /* port as an integer */
        "*2\r\n$0\r\n\r\n$4\r\n6379\r\n",                   /* empty host */
        "*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n63 79\r\n",
        "*2\r\n$11\r\n127.0.0.1 x\r\n$4\r\n6379\r\n",       /* a space in the host */
        "*2\r\n*0\r\n$4\r\n6379\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], host, &port) != OG_SENTINEL_BAD_REPLY)
            fail_msg("accepted answer %zu", i);
    /* a NUL inside the host: the length counts, not the C string */
    static const char nul[] = "*2\r\n$5\r\nh\0ost\r\n$4\r\n6379\r\n";
    redisReply *rep = read_reply_n(nul, sizeof nul - 1);
    assert_int_equal(og_sentinel_parse_reply(rep, host, &port), OG_SENTINEL_BAD_REPLY);
    freeReplyObject(rep);
    /* a host of 254 bytes is too long for any name */
    char big[400];
    memset(big, 0, sizeof big);
    strcpy(big, "*2\r\n$254\r\n");
    memset(big + strlen(big), 'a', 254);
    strcat(big, "\r\n$4\r\n6379\r\n");
    assert_int_equal(parse(big, host, &port), OG_SENTINEL_BAD_REPLY);
    assert_int_equal(og_sentinel_parse_reply(NULL, host, &port), OG_SENTINEL_UNREACHABLE);
    assert_int_equal(og_sentinel_parse_addr("10.1.2.3", 8, "26379", 5, host, &port),
                     OG_SENTINEL_MASTER);
    assert_int_equal(og_sentinel_parse_addr("10.1.2.3", 8, "26379", 0, host, &port),
                     OG_SENTINEL_BAD_REPLY);
}

static void role_answers(void **state)
{
    redisReply *rep;

    (void)state;
    rep = read_reply("*3\r\n$6\r\nmaster\r\n:3129659\r\n*0\r\n");
    assert_true(og_redis_role_is_master(rep));
    freeReplyObject(rep);
    rep = read_reply("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6380\r\n$9\r\nconnected\r\n"
                     ":3167038\r\n");
    assert_false(og_redis_role_is_master(rep));
    freeReplyObject(rep);
    rep = read_reply("-NOPERM this user has no permissions to run the 'role' command\r\n");
    assert_false(og_redis_role_is_master(rep));
    freeReplyObject(rep);
    rep = read_reply("*1\r\n$7\r\nmasterx\r\n");
    assert_false(og_redis_role_is_master(rep));
    freeReplyObject(rep);
    rep = read_reply("*0\r\n");
    assert_false(og_redis_role_is_master(rep));
    freeReplyObject(rep);
    assert_false(og_redis_role_is_master(NULL));
}

static char tmp[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Run `ocigate check -c path`, its stdout into out. */
static int run_check(const char *path, char *out, size_t cap)
{
    char outpath[128];
    char *argv[] = { "check", "-c", (char *)path, NULL };
    int saved, fd, rc;
    FILE *f;
    size_t n;

    snprintf(outpath, sizeof outpath, "%s/check.out", tmp);
    fflush(stdout);
    saved = dup(1);
    f = fopen(outpath, "w");
    assert_non_null(f);
    dup2(fileno(f), 1);
    rc = og_cmd_check(3, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    fd = 0;
    f = fopen(outpath, "r");
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
    (void)fd;
    return rc;
}

static void check_shows_the_sentinel_form_without_secrets(void **state)
{
    char conf[128], pw[128], spw[128], json[1024], out[16384];
    const char *line;

    (void)state;
    strcpy(tmp, "/tmp/og-test-sentinel-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    snprintf(conf, sizeof conf, "%s/ocigate.json", tmp);
    snprintf(pw, sizeof pw, "%s/redis.pw", tmp);
    snprintf(spw, sizeof spw, "%s/sentinel.pw", tmp);
    write_file(pw, "data-node-SECRET-1\n");
    write_file(spw, "sentinel-SECRET-2\n");
    snprintf(json, sizeof json,
             "{\"redis\": {\"sentinels\": [\"127.0.0.1:26379\", \"[::1]:26380\"],"
             " \"masterName\": \"ocigate\", \"minReplicas\": 1, \"username\": \"ocigate\","
             " \"passwordFile\": \"%s\", \"sentinelUsername\": \"watcher\","
             " \"sentinelPasswordFile\": \"%s\", \"timeoutMs\": 200},"
             " \"accessControl\": {}}", pw, spw);
    write_file(conf, json);
    assert_int_equal(run_check(conf, out, sizeof out), 0);
    line = strstr(out, "\nredis: ");
    if (!line)
        fail_msg("no redis line in:\n%s", out);
    assert_non_null(strstr(line, "redis: sentinels 127.0.0.1:26379,[::1]:26380 master \"ocigate\" "
                                 "db 0, user ocigate, password from file, sentinel user watcher, "
                                 "sentinel password from file, minReplicas 1, prefix \"ocigate:\" "
                                 "(timeout 200 ms)\n"));
    assert_null(strstr(out, "SECRET"));

    /* the url form keeps its line, and adds the user and minReplicas */
    snprintf(json, sizeof json,
             "{\"redis\": {\"url\": \"redis://:url-SECRET-3@127.0.0.1:6390/3\","
             " \"username\": \"ocigate\", \"minReplicas\": 2}, \"accessControl\": {}}");
    write_file(conf, json);
    assert_int_equal(run_check(conf, out, sizeof out), 0);
    assert_non_null(strstr(out, "\nredis: 127.0.0.1:6390/3 prefix \"ocigate:\" (timeout 200 ms), "
                                "password from redis.url, user ocigate, minReplicas 2\n"));
    assert_null(strstr(out, "SECRET"));
    unlink(conf);
    unlink(pw);
    unlink(spw);
    snprintf(conf, sizeof conf, "%s/check.out", tmp);
    unlink(conf);
    rmdir(tmp);
}

/* No sentinel listens: a command fails at once (no latency), the next
   attempt waits a second, and the reason names the sentinel, never a secret. */
static void sentinels_down_fail_closed_once_per_second(void **state)
{
    static const char json[] =
        "{\"redis\": {\"sentinels\": [\"127.0.0.1:1\", \"127.0.0.1:2\"],"
        " \"masterName\": \"ocigate\", \"password\": \"inline-SECRET\", \"timeoutMs\": 100},"
        " \"accessControl\": {}}";
    char err[512];
    struct og_config *cfg = og_config_parse(json, sizeof json - 1, "t.json", err, sizeof err);
    struct og_redis *r;
    long long t0;

    (void)state;
    assert_non_null(cfg);
    r = og_redis_new(cfg, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(og_redis_describe(r),
                        "sentinels 127.0.0.1:1,127.0.0.1:2 master \"ocigate\" db 0");
    assert_null(og_redis_command(r, "PING"));
    assert_non_null(strstr(og_redis_last_error(r), "no sentinel named a usable master"));
    assert_non_null(strstr(og_redis_last_error(r), "sentinel 127.0.0.1:2"));
    assert_null(strstr(og_redis_last_error(r), "SECRET"));
    assert_false(og_redis_reachable(r));
    assert_null(og_redis_master(r));
    t0 = og_mono_ms();
    for (int i = 0; i < 100; i++)                       /* within the second: no attempt */
        assert_null(og_redis_command(r, "PING"));
    assert_true(og_mono_ms() - t0 < 500);
    assert_int_equal(og_redis_wait_replicas(r), 1);     /* minReplicas 0: nothing to wait for */
    og_redis_free(r);
    og_config_free(cfg);
}

/* A new master address counts once across workers (shared page); the first
   master is not a failover; errors by kind; the answering worker's master. */
static void failovers_and_errors_in_metrics(void **state)
{
    static char text[65536];
    size_t n;

    (void)state;
    assert_int_equal(og_metrics_init(), 0);
    og_metrics_redis_master("127.0.0.1:6379");
    og_metrics_redis_master("127.0.0.1:6379");
    assert_int_equal(og_metrics_redis_failovers(), 0);
    og_metrics_redis_master("[::1]:6380");
    og_metrics_redis_master("[::1]:6380");             /* another worker seeing the same */
    assert_int_equal(og_metrics_redis_failovers(), 1);
    og_metrics_redis_error(OG_REDIS_ERR_READONLY);
    og_metrics_redis_error(OG_REDIS_ERR_REPLICATION);
    og_metrics_redis_error(OG_REDIS_ERR_REPLICATION);
    og_metrics_redis_error(OG_REDIS_ERR_N);            /* ignored */
    n = og_metrics_render(text, sizeof text);
    assert_true(n > 0);
    assert_non_null(strstr(text, "\nocigate_redis_failovers_total 1\n"));
    assert_non_null(strstr(text, "\nocigate_redis_errors_total{kind=\"readonly\"} 1\n"));
    assert_non_null(strstr(text, "\nocigate_redis_errors_total{kind=\"replication\"} 2\n"));
    assert_non_null(strstr(text, "\nocigate_redis_errors_total{kind=\"connect\"} 0\n"));
    assert_non_null(strstr(text, "\nocigate_redis_master{address=\"[::1]:6380\"} 1\n"));
    og_metrics_redis_master("unix:/run/a\"b");         /* a label value stays one */
    n = og_metrics_render(text, sizeof text);
    assert_non_null(strstr(text, "\nocigate_redis_master{address=\"unix:/run/a?b\"} 1\n"));
    og_metrics_redis_master(NULL);                      /* none now: no line */
    n = og_metrics_render(text, sizeof text);
    assert_null(strstr(text, "ocigate_redis_master{"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostport_forms),
        cmocka_unit_test(master_address_answers),
        cmocka_unit_test(role_answers),
        cmocka_unit_test(check_shows_the_sentinel_form_without_secrets),
        cmocka_unit_test(sentinels_down_fail_closed_once_per_second),
        cmocka_unit_test(failovers_and_errors_in_metrics),
    };
    og_log_configure("error", "text");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
