/*
 * throttle.c - credential failures counted in Redis across workers and hosts,
 * and the check made before a credential is looked at.
 *
 * Each counter is a Redis set of distinct failing credentials, so a client
 * that repeats one wrong password counts once:
 *   PREFIX thr:addr:ADDRESS            from one client address
 *   PREFIX thr:user:SHA256:ADDRESS     for one username from one address
 *   PREFIX thr:user:SHA256             for one username from all addresses
 * SHA256 is the hex SHA-256 of the username (no username in clear); ADDRESS
 * is the client address (an IPv6 address as its /64). A member is 32 hex
 * characters of an HMAC-SHA256 of the credential under a random key that
 * only the ocigate master and its workers hold (drawn at start, never
 * written anywhere), so Redis never holds a password nor anything a password
 * can be guessed from offline. Each set gets a TTL of windowSeconds when it
 * is created and holds at most its limit's worth of members. Bearer tokens
 * name no username: only their address counts. Anonymous requests, "Basic
 * Og==" and ocigate's own tokens (which cannot be guessed) never count.
 *
 * The check before a credential is looked at uses only the username and the
 * address, from a per-worker table (throttle_state.c) read again from Redis
 * at most once a second per (username, address); a failure reads the counts
 * back in the same round trip that adds it.
 */
#include "throttle.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "clock.h"
#include "config.h"
#include "digest.h"
#include "hex.h"
#include "redis.h"
#include "request.h"
#include "self.h"
#include "throttle_state.h"

#define KEY_MAX 512

/* SCARD and PTTL of each key. */
static const char read_script[] =
    "local r = {} "
    "for i = 1, #KEYS do "
    "r[2*i-1] = redis.call('SCARD', KEYS[i]) r[2*i] = redis.call('PTTL', KEYS[i]) "
    "end return r";

/* ARGV: window, member, then one cap per key (0: not counted there). The TTL
   is set when a set is created; a set never holds more than its cap. */
static const char count_script[] =
    "local r = {} "
    "for i = 1, #KEYS do "
    "local cap = tonumber(ARGV[2 + i]) "
    "if cap > 0 and redis.call('SCARD', KEYS[i]) < cap then "
    "redis.call('SADD', KEYS[i], ARGV[2]) "
    "if redis.call('PTTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end "
    "end "
    "r[2*i-1] = redis.call('SCARD', KEYS[i]) r[2*i] = redis.call('PTTL', KEYS[i]) "
    "end return r";

static unsigned char member_key[32];
static pid_t member_key_pid;            /* who drew it; 0: nobody yet */
static struct og_thr_table table;        /* this worker's view */
static pid_t table_pid;

void og_throttle_init(void)
{
    if (member_key_pid != 0)
        return;
    if (getrandom(member_key, sizeof(member_key), 0) == (ssize_t)sizeof(member_key))
        member_key_pid = getpid();
}

/* The table belongs to one process: a forked worker starts with an empty one. */
static struct og_thr_table *my_table(void)
{
    pid_t me = og_self_pid();

    if (table_pid != me) {
        memset(&table, 0, sizeof(table));
        table_pid = me;
    }
    return &table;
}

static long long mono_ms(void)
{
    long long ms = og_mono_ms();
    return ms > 0 ? ms : 1;
}

struct tkeys {
    char key[OG_THR_NCOUNTERS][KEY_MAX];
    int nkeys;                           /* 1 (no username) or 3 */
    bool has_subject;
    unsigned char id[32];                /* the table entry */
};

static void limits_of(const struct og_config *cfg, struct og_thr_limits *l)
{
    l->limit[OG_THR_ADDRESS] = cfg->throttle_per_address;
    l->limit[OG_THR_SUBJECT_ADDRESS] = cfg->throttle_per_subject;
    l->limit[OG_THR_SUBJECT] = cfg->throttle_per_subject_total;
}

static bool any_limit(const struct og_config *cfg)
{
    return cfg->throttle_per_address > 0 || cfg->throttle_per_subject > 0 ||
           cfg->throttle_per_subject_total > 0;
}

/* Whether cred is throttled at all (a limit is on, Basic or Bearer), and then
   the table entry of (has username, username, address): all a request whose
   counts are fresh in the table needs. */
static bool entry_id(const struct og_config *cfg, struct og_redis *r, const char *remote,
                     const struct og_credentials *cred, struct tkeys *k, char addr[80])
{
    unsigned char buf[1 + sizeof(cred->user) + 80];
    size_t n = 0, ulen, alen;

    if (!r || !cfg || !any_limit(cfg) ||
        (cred->kind != OG_CRED_BASIC && cred->kind != OG_CRED_BEARER))
        return false;
    og_thr_address(remote, addr, 80);
    k->has_subject = cred->kind == OG_CRED_BASIC && cred->user[0] != '\0';
    k->nkeys = k->has_subject ? 3 : 1;
    ulen = k->has_subject ? strnlen(cred->user, sizeof(cred->user) - 1) : 0;
    alen = strlen(addr);
    buf[n++] = k->has_subject ? 'u' : '-';
    if (k->has_subject) {
        memcpy(buf + n, cred->user, ulen);
        n += ulen;
        buf[n++] = '\0';
    }
    memcpy(buf + n, addr, alen);
    n += alen;
    return og_sha256(buf, n, k->id);
}

/* The entry and the Redis keys of its counters. */
static bool keys_for(const struct og_config *cfg, struct og_redis *r, const char *remote,
                     const struct og_credentials *cred, struct tkeys *k)
{
    char addr[80], hex[65];
    const char *prefix = og_redis_prefix(r);
    int n;

    if (!entry_id(cfg, r, remote, cred, k, addr))
        return false;
    n = snprintf(k->key[OG_THR_ADDRESS], KEY_MAX, "%sthr:addr:%s", prefix, addr);
    if (n < 0 || n >= KEY_MAX)
        return false;
    if (k->has_subject) {
        if (!og_sha256_hex(cred->user, strlen(cred->user), hex))
            return false;
        n = snprintf(k->key[OG_THR_SUBJECT_ADDRESS], KEY_MAX, "%sthr:user:%s:%s", prefix, hex,
                     addr);
        if (n < 0 || n >= KEY_MAX)
            return false;
        snprintf(k->key[OG_THR_SUBJECT], KEY_MAX, "%sthr:user:%s", prefix, hex);
    }
    return true;
}

/* Run a script over k's keys; fill c from its {SCARD, PTTL, ...} answer. */
static bool run_script(struct og_redis *r, const char *script, const struct tkeys *k,
                       int nargs, const char **args, struct og_thr_counts *c,
                       long long now, int window_s)
{
    const char *argv[3 + OG_THR_NCOUNTERS + 8];
    size_t lens[3 + OG_THR_NCOUNTERS + 8];
    char nk[4];
    int argc = 0;
    redisReply *rep;
    bool ok = false;

    if (nargs > 8)
        return false;
    snprintf(nk, sizeof(nk), "%d", k->nkeys);
    argv[argc++] = "EVAL";
    argv[argc++] = script;
    argv[argc++] = nk;
    for (int i = 0; i < k->nkeys; i++)
        argv[argc++] = k->key[i];
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    rep = og_redis_command_argv(r, argc, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)(2 * k->nkeys)) {
        memset(c, 0, sizeof(*c));
        ok = true;
        for (int i = 0; i < k->nkeys; i++) {
            redisReply *n = rep->element[2 * i], *t = rep->element[2 * i + 1];
            if (n->type != REDIS_REPLY_INTEGER || t->type != REDIS_REPLY_INTEGER) {
                ok = false;
                break;
            }
            og_thr_counts_set(c, i, n->integer, t->integer, now, window_s);
        }
    }
    og_redis_reply_free(rep);
    return ok;
}

static void remember(const struct tkeys *k, const struct og_thr_counts *c, long long now)
{
    struct og_thr_entry *e = og_thr_slot(my_table(), k->id);

    e->c = *c;
    e->fetched_ms = now;
}

bool og_throttle_limited(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred, int *retry_after)
{
    struct tkeys k;
    struct og_thr_limits l;
    struct og_thr_counts c;
    struct og_thr_entry *e;
    char addr[80];
    long long now = mono_ms();

    *retry_after = 0;
    if (!entry_id(cfg, r, remote, cred, &k, addr))
        return false;
    limits_of(cfg, &l);
    e = og_thr_find(my_table(), k.id);
    if (!og_thr_fresh(e, now) && keys_for(cfg, r, remote, cred, &k)) {
        /* Connects if this worker has not talked to Redis yet. Unreachable:
           what is already known stands until it expires, else not limited. */
        if (run_script(r, read_script, &k, 0, NULL, &c, now, cfg->throttle_window_s)) {
            remember(&k, &c, now);
            e = og_thr_find(my_table(), k.id);
        }
    }
    if (!e)
        return false;
    return og_thr_limited(&l, &e->c, k.has_subject, now, retry_after);
}

/* 32 hex characters of HMAC-SHA256(key, kind, user NUL secret). */
static bool member_of(const struct og_credentials *cred, char out[33])
{
    unsigned char mac[32];
    EVP_MAC *m = NULL;
    EVP_MAC_CTX *mc = NULL;
    OSSL_PARAM params[2];
    size_t outl = 0;
    bool ok = false;

    og_throttle_init();                  /* only when the master could not draw one */
    if (member_key_pid == 0)
        return false;
    m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    mc = m ? EVP_MAC_CTX_new(m) : NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (mc && EVP_MAC_init(mc, member_key, sizeof(member_key), params) == 1 &&
        EVP_MAC_update(mc, (const unsigned char *)(cred->kind == OG_CRED_BASIC ? "B" : "T"), 1) == 1 &&
        EVP_MAC_update(mc, (const unsigned char *)cred->user, strlen(cred->user) + 1) == 1 &&
        EVP_MAC_update(mc, (const unsigned char *)cred->secret, cred->secret_len) == 1 &&
        EVP_MAC_final(mc, mac, &outl, sizeof(mac)) == 1 && outl == sizeof(mac)) {
        og_hex_encode(mac, 16, out);
        ok = true;
    }
    EVP_MAC_CTX_free(mc);
    EVP_MAC_free(m);
    explicit_bzero(mac, sizeof(mac));
    return ok;
}

void og_throttle_failure(const struct og_config *cfg, struct og_redis *r, const char *remote,
                         const struct og_credentials *cred)
{
    struct tkeys k;
    struct og_thr_counts c;
    char member[33], window[16], caps[OG_THR_NCOUNTERS][16];
    const char *args[2 + OG_THR_NCOUNTERS];
    int subject_addr_cap;
    long long now = mono_ms();

    if (!keys_for(cfg, r, remote, cred, &k) || !member_of(cred, member))
        return;
    /* perSubjectTotal needs to know whether this address failed for the subject */
    subject_addr_cap = cfg->throttle_per_subject;
    if (subject_addr_cap <= 0 && cfg->throttle_per_subject_total > 0)
        subject_addr_cap = 1;
    snprintf(window, sizeof(window), "%d", cfg->throttle_window_s);
    snprintf(caps[OG_THR_ADDRESS], sizeof(caps[0]), "%d", cfg->throttle_per_address);
    snprintf(caps[OG_THR_SUBJECT_ADDRESS], sizeof(caps[0]), "%d", subject_addr_cap);
    snprintf(caps[OG_THR_SUBJECT], sizeof(caps[0]), "%d", cfg->throttle_per_subject_total);
    args[0] = window;
    args[1] = member;
    for (int i = 0; i < k.nkeys; i++)
        args[2 + i] = caps[i];
    if (run_script(r, count_script, &k, 2 + k.nkeys, args, &c, now, cfg->throttle_window_s))
        remember(&k, &c, now);
    explicit_bzero(member, sizeof(member));
}
