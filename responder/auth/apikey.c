/*
 * apikey.c - API key lookup: a presented key -> an identity, through a
 * per-worker cache in front of Redis. The records themselves (create, list,
 * revoke, parsing) are store/key_records.c.
 *
 * og_apikey_identify() never copies the key: it hashes it where the caller
 * holds it. The cache is a fixed table of
 * CACHE_SLOTS entries keyed by the SHA-256 bytes, probed linearly over a
 * short window; positive entries live apikey.cacheSeconds, negative ones 5 s,
 * and a negative entry never evicts a live positive one, so a flood of bad
 * keys cannot push the good ones out. Each positive entry holds what an
 * identity points to: the user, the groups and the compiled repository scopes.
 */
#include "apikey.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "clock.h"
#include "digest.h"
#include "glob.h"
#include "hex.h"
#include "log.h"
#include "redis.h"

#define CACHE_SLOTS        1024            /* power of two */
#define CACHE_PROBE        8
#define NEGATIVE_TTL_S     5
#define LAST_USED_EVERY_S  60
#define MAX_PREFIX         200

enum slot_state { SLOT_EMPTY = 0, SLOT_POSITIVE, SLOT_NEGATIVE };
enum neg_kind { NEG_UNKNOWN = 0, NEG_INVALID };

struct cache_entry {
    unsigned char hash[32];
    enum slot_state state;
    enum neg_kind neg;
    long long filled;               /* monotonic seconds */
    long long last_used_written;    /* monotonic seconds, 0 = not yet */
    time_t expires;                 /* wall clock, 0 = never */
    char id[40];
    char user[OG_USER_MAX + 1];
    char group_buf[1024];           /* NUL-separated */
    const char *groups[OG_APIKEY_MAX_GROUPS];
    size_t ngroups;
    struct og_glob *scopes[OG_APIKEY_MAX_REPOS];
    size_t nscopes;
    enum og_key_origin origin;
};

struct og_apikeys {
    struct og_redis *redis;
    int cache_s;
    long clock_offset;              /* tests: seconds added to both clocks */
    struct cache_entry scratch;     /* a result that found no slot */
    struct cache_entry slots[CACHE_SLOTS];
};

/* ---- small helpers ------------------------------------------------------- */

static long long mono_now(const struct og_apikeys *k)
{
    return og_mono_ms() / 1000 + (k ? k->clock_offset : 0) + 1;  /* never 0 */
}

static time_t wall_now(const struct og_apikeys *k)
{
    return time(NULL) + (k ? k->clock_offset : 0);
}

/* A JSON array of at most max non-empty strings without NUL bytes, or NULL. */
static json_t *string_array(const char *text, size_t max)
{
    json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    size_t i;
    json_t *v;

    if (!a || !json_is_array(a) || json_array_size(a) > max)
        goto fail;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) != strlen(json_string_value(v)))
            goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

/* ---- the cache ----------------------------------------------------------- */

static void entry_clear(struct cache_entry *e)
{
    for (size_t i = 0; i < e->nscopes; i++)
        og_glob_free(e->scopes[i]);
    memset(e, 0, sizeof(*e));
}

/* Fill e from a record; false if the record cannot be used (bad JSON, globs, time). */
static bool entry_from_record(struct cache_entry *e, const struct og_apikey_record *rec)
{
    json_t *groups = NULL, *repos = NULL, *v;
    size_t i, used = 0;
    char gerr[128];

    if (strlen(rec->id) >= sizeof(e->id))
        return false;
    if (rec->expires[0] && !og_apikey_parse_time(rec->expires, &e->expires))
        return false;
    groups = string_array(rec->groups_json, OG_APIKEY_MAX_GROUPS);
    repos = string_array(rec->repos_json, OG_APIKEY_MAX_REPOS);
    if (!groups || !repos)
        goto fail;
    if (!rec->origin[0])
        e->origin = OG_KEY_LEGACY;
    else if (strcmp(rec->origin, "cli") == 0)
        e->origin = OG_KEY_CLI;
    else if (strcmp(rec->origin, "htpasswd") == 0)
        e->origin = OG_KEY_HTPASSWD;
    else if (strcmp(rec->origin, "openid") == 0)
        e->origin = OG_KEY_OPENID;
    else
        goto fail;                      /* unknown origin: refuse, never guess */
    snprintf(e->id, sizeof(e->id), "%s", rec->id);
    snprintf(e->user, sizeof(e->user), "%s", rec->user);
    json_array_foreach(groups, i, v) {
        size_t len = json_string_length(v);
        if (used + len + 1 > sizeof(e->group_buf))
            goto fail;
        memcpy(e->group_buf + used, json_string_value(v), len + 1);
        e->groups[e->ngroups++] = e->group_buf + used;
        used += len + 1;
    }
    json_array_foreach(repos, i, v) {
        struct og_glob *g = og_glob_compile(json_string_value(v), json_string_length(v), gerr,
                                            sizeof(gerr));
        if (!g)
            goto fail;
        e->scopes[e->nscopes++] = g;
    }
    json_decref(groups);
    json_decref(repos);
    return true;
fail:
    json_decref(groups);
    json_decref(repos);
    return false;
}

static size_t slot_index(const unsigned char hash[32])
{
    return ((size_t)hash[0] | (size_t)hash[1] << 8) & (CACHE_SLOTS - 1);
}

static struct cache_entry *cache_find(struct og_apikeys *k, const unsigned char hash[32])
{
    size_t base = slot_index(hash);
    for (size_t i = 0; i < CACHE_PROBE; i++) {
        struct cache_entry *e = &k->slots[(base + i) & (CACHE_SLOTS - 1)];
        if (e->state != SLOT_EMPTY && memcmp(e->hash, hash, 32) == 0)
            return e;
    }
    return NULL;
}

static bool positive_fresh(const struct og_apikeys *k, const struct cache_entry *e,
                           long long now)
{
    return e->state == SLOT_POSITIVE && k->cache_s > 0 && now - e->filled < k->cache_s;
}

static bool entry_fresh(const struct og_apikeys *k, const struct cache_entry *e, long long now)
{
    if (e->state == SLOT_NEGATIVE)
        return now - e->filled < NEGATIVE_TTL_S;
    return positive_fresh(k, e, now);
}

/*
 * Where to put a new entry for hash: its own slot, else an empty one, else
 * the oldest negative, else (positive only, or a stale positive) the oldest
 * positive. NULL: a negative result finds only live positives, and is not kept.
 */
static struct cache_entry *cache_slot_for(struct og_apikeys *k, const unsigned char hash[32],
                                          bool positive, long long now)
{
    struct cache_entry *own = cache_find(k, hash), *empty = NULL, *neg = NULL, *pos = NULL;
    size_t base = slot_index(hash);

    if (own)
        return own;
    for (size_t i = 0; i < CACHE_PROBE; i++) {
        struct cache_entry *e = &k->slots[(base + i) & (CACHE_SLOTS - 1)];
        if (e->state == SLOT_EMPTY) {
            if (!empty)
                empty = e;
        } else if (e->state == SLOT_NEGATIVE) {
            if (!neg || e->filled < neg->filled)
                neg = e;
        } else if (!pos || e->filled < pos->filled) {
            pos = e;
        }
    }
    if (empty)
        return empty;
    if (neg)
        return neg;
    if (positive || (pos && !positive_fresh(k, pos, now)))
        return pos;
    return NULL;
}

/* Turn an HGETALL reply into a cache entry (never NULL). */
static struct cache_entry *cache_fill(struct og_apikeys *k, const unsigned char hash[32],
                                      const redisReply *rep, long long now)
{
    struct og_apikey_record rec;
    struct cache_entry fresh, *slot;
    int found = og_apikey_parse_record(rep, &rec);
    long long last_used_written = 0;

    memset(&fresh, 0, sizeof(fresh));
    if (found > 0 && entry_from_record(&fresh, &rec)) {
        fresh.state = SLOT_POSITIVE;
    } else {
        if (found != 0)
            og_log(OG_LOG_WARN, "API key record %.39s is malformed; the key is refused",
                   found > 0 ? rec.id : "(unreadable)");
        entry_clear(&fresh);
        fresh.state = SLOT_NEGATIVE;
        fresh.neg = found == 0 ? NEG_UNKNOWN : NEG_INVALID;
    }
    memcpy(fresh.hash, hash, 32);
    fresh.filled = now;
    explicit_bzero(&rec, sizeof(rec));

    slot = cache_slot_for(k, hash, fresh.state == SLOT_POSITIVE, now);
    if (!slot)
        slot = &k->scratch;
    if (slot->state == SLOT_POSITIVE && memcmp(slot->hash, hash, 32) == 0)
        last_used_written = slot->last_used_written;   /* a refresh keeps the throttle */
    entry_clear(slot);
    *slot = fresh;                  /* moves the globs */
    slot->last_used_written = last_used_written;
    /* groups point into the entry's own buffer: rebase them */
    for (size_t i = 0; i < slot->ngroups; i++)
        slot->groups[i] = slot->group_buf + (fresh.groups[i] - fresh.group_buf);
    return slot;
}

struct og_apikeys *og_apikeys_new(const struct og_config *cfg, struct og_redis *redis)
{
    struct og_apikeys *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->redis = redis;
    k->cache_s = cfg ? cfg->apikey_cache_s : 30;
    if (k->cache_s < 0)
        k->cache_s = 0;
    return k;
}

void og_apikeys_free(struct og_apikeys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        entry_clear(&k->slots[i]);
    entry_clear(&k->scratch);
    free(k);
}

void og_apikeys_advance_clock(struct og_apikeys *k, long seconds)
{
    k->clock_offset += seconds;
}

int og_apikeys_cache_fill(struct og_apikeys *k, const char *key, size_t len,
                          const struct redisReply *rep)
{
    unsigned char h[32];
    struct cache_entry *e;

    if (!og_apikey_format_ok(key, len) || !og_sha256(key + 4, OG_APIKEY_LEN - 4, h))
        return -1;
    e = cache_fill(k, h, rep, mono_now(k));
    return e->state == SLOT_POSITIVE ? 1 : 0;
}

/* ---- lookup -------------------------------------------------------------- */

static enum og_identify_result bad(const char **reason, const char *why)
{
    *reason = why;
    return OG_ID_BAD_CREDENTIALS;
}

/* HSET last_used only while the hash exists: never resurrect a revoked key. */
static void touch_last_used(struct og_apikeys *k, struct cache_entry *e, long long now)
{
    static const char script[] =
        "if redis.call('EXISTS', KEYS[1]) == 1 then "
        "return redis.call('HSET', KEYS[1], 'last_used', ARGV[1]) end return 0";
    char key[MAX_PREFIX + 80], hex[65], when[32];
    const char *argv[5];
    size_t lens[5];

    if (e->last_used_written && now - e->last_used_written < LAST_USED_EVERY_S)
        return;
    e->last_used_written = now;
    og_hex_encode(e->hash, 32, hex);
    if (!og_apikey_rkey(key, sizeof(key), og_redis_prefix(k->redis), "key:", hex, NULL))
        return;
    og_apikey_format_time(wall_now(k), when);
    argv[0] = "EVAL"; argv[1] = script; argv[2] = "1"; argv[3] = key; argv[4] = when;
    for (size_t i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    og_redis_reply_free(og_redis_command_argv(k->redis, 5, argv, lens));
}

enum og_identify_result og_apikey_identify(struct og_apikeys *k, const char *basic_user,
                                           const char *key, size_t key_len,
                                           struct og_identity *id,
                                           struct og_identity_store *store,
                                           const char **reason, int *cache_hit)
{
    unsigned char h[32];
    struct cache_entry *e;
    long long now = mono_now(k);

    if (cache_hit)
        *cache_hit = 0;
    *reason = "";
    if (!og_apikey_format_ok(key, key_len))
        return bad(reason, "malformed API key");
    if (!og_sha256(key + 4, OG_APIKEY_LEN - 4, h)) {
        *reason = "cannot hash the API key";
        return OG_ID_UNAVAILABLE;
    }
    e = cache_find(k, h);
    if (e && entry_fresh(k, e, now)) {
        if (cache_hit)
            *cache_hit = 1;
    } else {
        char rk[MAX_PREFIX + 80], hex[65];
        redisReply *rep;
        og_hex_encode(h, 32, hex);
        if (!og_apikey_rkey(rk, sizeof(rk), og_redis_prefix(k->redis), "key:", hex, NULL)) {
            *reason = "redis.prefix is too long";
            return OG_ID_UNAVAILABLE;
        }
        rep = og_redis_command(k->redis, "HGETALL %s", rk);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            og_redis_reply_free(rep);
            *reason = "the API key store (Redis) is unavailable";
            return OG_ID_UNAVAILABLE;
        }
        e = cache_fill(k, h, rep, now);
        og_redis_reply_free(rep);
    }

    if (e->state == SLOT_NEGATIVE)
        return bad(reason, e->neg == NEG_INVALID ? "invalid API key record" : "unknown API key");
    if (e->expires && wall_now(k) >= e->expires)
        return bad(reason, "API key expired");
    if (basic_user && strcmp(basic_user, e->user) != 0)
        return bad(reason, "API key does not belong to this user");

    snprintf(store->user, sizeof(store->user), "%s", e->user);
    snprintf(store->key_id, sizeof(store->key_id), "%s", e->id);
    store->key_origin = (int)e->origin;
    id->user = store->user;
    id->auth = OG_AUTH_APIKEY;
    id->groups = e->groups;
    id->ngroups = e->ngroups;
    id->scopes = (const struct og_glob *const *)e->scopes;
    id->nscopes = e->nscopes;
    if (e != &k->scratch)
        touch_last_used(k, e, now);
    return OG_ID_OK;
}
