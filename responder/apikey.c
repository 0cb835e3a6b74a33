/*
 * apikey.c - API keys: lookup through a per-worker cache, and management.
 *
 * A key is "zak_" + 32 lower-case hex characters from getrandom(); Redis
 * holds only the SHA-256 (hex) of the 32 characters after the prefix, zot's
 * scheme (doc/redis.md gives the layout). og_apikey_identify() never copies the
 * key: it hashes it where the caller holds it. The cache is a fixed table of
 * CACHE_SLOTS entries keyed by the SHA-256 bytes, probed linearly over a
 * short window; positive entries live apikey.cacheSeconds, negative ones 5 s,
 * and a negative entry never evicts a live positive one, so a flood of bad
 * keys cannot push the good ones out. Each positive entry holds what an
 * identity points to: the user, the groups and the compiled repository scopes.
 */
#include "apikey.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "glob.h"
#include "log.h"
#include "redis.h"

#define CACHE_SLOTS        1024            /* power of two */
#define CACHE_PROBE        8
#define NEGATIVE_TTL_S     5
#define LAST_USED_EVERY_S  60
#define MAX_RECORD_FIELDS  32              /* HGETALL: at most 64 elements */
#define MAX_PREFIX         200
#define MAX_LIST           1000000

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
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec + (k ? k->clock_offset : 0) + 1;  /* never 0 */
}

static time_t wall_now(const struct og_apikeys *k)
{
    return time(NULL) + (k ? k->clock_offset : 0);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Format characters that reorder or hide text where a label is shown. */
static bool is_hidden_format(unsigned long cp)
{
    return cp == 0x00AD || cp == 0x061C || cp == 0x180E ||
           (cp >= 0x200B && cp <= 0x200F) ||      /* zero width, LRM, RLM */
           (cp >= 0x2028 && cp <= 0x202E) ||      /* separators, embeddings, overrides */
           (cp >= 0x2060 && cp <= 0x206F) ||      /* word joiner, invisibles, isolates */
           cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
           (cp >= 0xE0000 && cp <= 0xE007F);      /* tag characters */
}

bool og_apikey_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (p && *p) {
        unsigned long cp;
        size_t n;

        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            n = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            n = 3;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07;
            n = 4;
        } else {
            return false;
        }
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;                       /* overlong, out of range, surrogate */
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || is_hidden_format(cp))
            return false;
        p += n;
    }
    return true;
}

static bool fill_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += got;
        n -= (size_t)got;
    }
    return true;
}

static bool sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int outlen = 0;
    return EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) == 1 && outlen == 32;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* PREFIX + a + b + c into buf; false when it does not fit. */
static bool rkey(char *buf, size_t size, const char *prefix, const char *a, const char *b,
                 const char *c)
{
    int n = snprintf(buf, size, "%s%s%s%s", prefix, a, b ? b : "", c ? c : "");
    return n > 0 && (size_t)n < size;
}

/* ---- format, hash, time -------------------------------------------------- */

bool og_apikey_format_ok(const char *key, size_t len)
{
    return key && len == OG_APIKEY_LEN && memcmp(key, "zak_", 4) == 0 &&
           is_lower_hex(key + 4, OG_APIKEY_LEN - 4);
}

bool og_apikey_hash_hex(const char *key, size_t len, char out[65])
{
    unsigned char h[32];

    if (!og_apikey_format_ok(key, len) || !sha256(key + 4, OG_APIKEY_LEN - 4, h))
        return false;
    to_hex(h, sizeof(h), out);
    return true;
}

void og_apikey_format_time(time_t t, char out[32])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool og_apikey_parse_time(const char *s, time_t *out)
{
    struct tm tm = { 0 }, back;
    int year, mon, day, hour = 0, min = 0, sec = 0, oh = 0, om = 0, sign = 0;
    size_t n = s ? strlen(s) : 0, i;
    time_t t;

    if (n < 10 || n > 40 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &year) ||
        !digits(s + 5, 2, &mon) || !digits(s + 8, 2, &day))
        return false;
    if (n > 10) {                       /* full date-time */
        if (n < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
            s[16] != ':' || !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &min) ||
            !digits(s + 17, 2, &sec))
            return false;
        i = 19;
        if (s[i] == '.') {
            size_t start = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == start)
                return false;
        }
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            sign = s[i] == '+' ? 1 : -1;
            if (n - i != 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) ||
                !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
                return false;
            i += 6;
        } else {
            return false;
        }
        if (i != n)
            return false;
    }
    if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
        sec > 59)
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != day || back.tm_mon != mon - 1)
        return false;                   /* 2027-02-30 */
    *out = t - sign * (oh * 3600 + om * 60);
    return true;
}

bool og_apikey_parse_duration(const char *s, long long *secs)
{
    long long total = 0;
    const char *p = s;

    if (!s || !*s)
        return false;
    while (*p) {
        long long v = 0, unit;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (++nd > 9)
                return false;
            v = v * 10 + (*p++ - '0');
        }
        if (nd == 0)
            return false;
        switch (*p++) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return false;
        }
        total += v * unit;
        if (total > 100LL * 366 * 86400)
            return false;
    }
    if (total <= 0)
        return false;
    *secs = total;
    return true;
}

bool og_apikey_parse_expires(const char *s, time_t now, time_t *out, char *err, size_t errlen)
{
    long long d;
    time_t t;

    if (og_apikey_parse_duration(s, &d)) {
        t = now + (time_t)d;
    } else if (og_apikey_parse_time(s, &t)) {
        if (t <= now) {
            set_err(err, errlen, "the expiry is in the past");
            return false;
        }
    } else {
        set_err(err, errlen, "expected a duration (90d, 12h, 30m) or an RFC 3339 time "
                             "(2027-01-01T00:00:00Z)");
        return false;
    }
    *out = t;
    return true;
}

/* ---- records ------------------------------------------------------------- */

#define FIELD(name, member) { name, offsetof(struct og_apikey_record, member), \
                              sizeof(((struct og_apikey_record *)0)->member) }
static const struct {
    const char *name;
    size_t off, size;
} record_fields[] = {
    FIELD("id", id), FIELD("user", user), FIELD("label", label), FIELD("created", created),
    FIELD("expires", expires), FIELD("last_used", last_used), FIELD("groups", groups_json),
    FIELD("repos", repos_json), FIELD("origin", origin),
};

const char *og_key_origin_name(enum og_key_origin o)
{
    switch (o) {
    case OG_KEY_CLI: return "cli";
    case OG_KEY_HTPASSWD: return "htpasswd";
    case OG_KEY_OPENID: return "openid";
    case OG_KEY_LEGACY: break;
    }
    return "legacy";
}

int og_apikey_parse_record(const struct redisReply *rep, struct og_apikey_record *rec)
{
    unsigned seen = 0;

    memset(rec, 0, sizeof(*rec));
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return -1;
    if (rep->elements == 0)
        return 0;
    if (rep->elements % 2 || rep->elements > 2 * MAX_RECORD_FIELDS || !rep->element)
        return -1;
    for (size_t i = 0; i < rep->elements; i += 2) {
        const redisReply *name = rep->element[i], *val = rep->element[i + 1];
        if (!name || !val || name->type != REDIS_REPLY_STRING ||
            val->type != REDIS_REPLY_STRING || !name->str || !val->str)
            return -1;
        for (size_t f = 0; f < sizeof(record_fields) / sizeof(record_fields[0]); f++) {
            if (name->len != strlen(record_fields[f].name) ||
                memcmp(name->str, record_fields[f].name, name->len) != 0)
                continue;
            char *dst = (char *)rec + record_fields[f].off;
            if (val->len >= record_fields[f].size || memchr(val->str, '\0', val->len))
                return -1;
            if (seen & (1u << f))
                return -1;                  /* a field twice: not a record we wrote */
            seen |= 1u << f;
            memcpy(dst, val->str, val->len);
            dst[val->len] = '\0';
            break;
        }
    }
    if (!rec->id[0] || !rec->user[0])
        return -1;
    if (!rec->groups_json[0])
        strcpy(rec->groups_json, "[]");
    if (!rec->repos_json[0])
        strcpy(rec->repos_json, "[]");
    return 1;
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

    if (!og_apikey_format_ok(key, len) || !sha256(key + 4, OG_APIKEY_LEN - 4, h))
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
    to_hex(e->hash, 32, hex);
    if (!rkey(key, sizeof(key), og_redis_prefix(k->redis), "key:", hex, NULL))
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
    if (!sha256(key + 4, OG_APIKEY_LEN - 4, h)) {
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
        to_hex(h, 32, hex);
        if (!rkey(rk, sizeof(rk), og_redis_prefix(k->redis), "key:", hex, NULL)) {
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

/* ---- management ---------------------------------------------------------- */

static bool valid_name(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= max && !has_control(s);
}

/* A JSON array of the strings, compact, in out[size]. */
static bool json_list(const char *const *v, size_t n, char *out, size_t size)
{
    json_t *a = json_array();
    char *s = NULL;
    bool ok = false;

    if (!a)
        return false;
    for (size_t i = 0; i < n; i++) {
        json_t *str = json_string(v[i]);          /* NULL: not UTF-8 */
        if (!str || json_array_append_new(a, str) != 0)
            goto fail;
    }
    s = json_dumps(a, JSON_COMPACT);
    if (s && strlen(s) < size) {
        strcpy(out, s);
        ok = true;
    }
fail:
    free(s);
    json_decref(a);
    return ok;
}

bool og_apikey_check_args(const char *user, const char *const *groups, size_t ngroups,
                          const char *const *repos, size_t nrepos, const char *label,
                          char *err, size_t errlen)
{
    char gerr[160], msg[300];

    if (!valid_name(user, OG_USER_MAX) || strchr(user, ':') || !og_apikey_text_ok(user)) {
        set_err(err, errlen, "user: must be 1 to 256 bytes of UTF-8, without ':', control "
                             "or invisible format characters");
        return false;
    }
    if (ngroups > OG_APIKEY_MAX_GROUPS || nrepos > OG_APIKEY_MAX_REPOS) {
        set_err(err, errlen, "at most 32 groups and 32 repository globs");
        return false;
    }
    for (size_t i = 0; i < ngroups; i++)
        if (!valid_name(groups[i], 255)) {
            set_err(err, errlen, "group: must be 1 to 255 bytes without control characters");
            return false;
        }
    for (size_t i = 0; i < nrepos; i++) {
        struct og_glob *g;
        if (!valid_name(repos[i], 255)) {
            set_err(err, errlen, "repo: must be 1 to 255 bytes without control characters");
            return false;
        }
        g = og_glob_compile(repos[i], strlen(repos[i]), gerr, sizeof(gerr));
        if (!g) {
            snprintf(msg, sizeof(msg), "repo \"%s\": %s", repos[i], gerr);
            set_err(err, errlen, msg);
            return false;
        }
        og_glob_free(g);
    }
    if (label && (strlen(label) > 255 || has_control(label) || !og_apikey_text_ok(label))) {
        set_err(err, errlen, "label: at most 255 bytes of UTF-8, without control characters "
                             "or invisible format characters (bidi overrides, zero-width)");
        return false;
    }
    return true;
}

static bool new_uuid(char out[37])
{
    unsigned char b[16];
    char hex[33];

    if (!fill_random(b, sizeof(b)))
        return false;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);      /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);      /* RFC 4122 variant */
    to_hex(b, sizeof(b), hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return true;
}

static bool exec_ok(const redisReply *rep, size_t n)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!rep->element[i] || rep->element[i]->type == REDIS_REPLY_ERROR)
            return false;
    return true;
}

static void arg_lens(const char *const *argv, size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
}

/*
 * Everything a new key writes, in one script: the per-user limit (ids whose
 * keyid: is gone, i.e. expired keys, are dropped from the user's set and not
 * counted), then the hash, keyid: and the set, and the expiry TTLs. Being one
 * script, concurrent creations for one user cannot pass the limit together.
 * KEYS: key:HEX, keyid:ID, user:U:keys. ARGV: max (0 = none), PREFIX keyid:,
 * HEX, ID, expires (epoch or ""), then the hash's field/value pairs.
 * Returns 1, or {0, count} when the limit is reached.
 */
static const char create_script[] =
    "local max = tonumber(ARGV[1]) "
    "if max > 0 then "
    "  local n = 0 "
    "  for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do "
    "    if redis.call('EXISTS', ARGV[2] .. id) == 1 then n = n + 1 "
    "    else redis.call('SREM', KEYS[3], id) end "
    "  end "
    "  if n >= max then return {0, n} end "
    "end "
    "redis.call('HSET', KEYS[1], unpack(ARGV, 6)) "
    "redis.call('SET', KEYS[2], ARGV[3]) "
    "redis.call('SADD', KEYS[3], ARGV[4]) "
    "if ARGV[5] ~= '' then "
    "  redis.call('EXPIREAT', KEYS[1], ARGV[5]) "
    "  redis.call('EXPIREAT', KEYS[2], ARGV[5]) "
    "end "
    "return 1";

int og_apikey_create(struct og_redis *r, const char *user, const char *const *groups,
                     size_t ngroups, const char *const *repos, size_t nrepos, time_t expires,
                     const char *label, const char *origin, long max_per_user,
                     char *key_out, struct og_apikey_record *rec, char *err, size_t errlen)
{
    const char *prefix = og_redis_prefix(r);
    unsigned char raw[16], h[32];
    char secret[33], hex[65], when[24], maxs[24];
    char k_key[MAX_PREFIX + 80], k_id[MAX_PREFIX + 80], k_user[MAX_PREFIX + OG_USER_MAX + 20];
    char k_idpfx[MAX_PREFIX + 16];
    const char *argv[32];
    size_t lens[32];
    int argc = 0;
    redisReply *rep = NULL;
    int rc = -1;
    time_t now = time(NULL);

    key_out[0] = '\0';
    memset(rec, 0, sizeof(*rec));
    if (!og_apikey_check_args(user, groups, ngroups, repos, nrepos, label, err, errlen))
        return -1;
    if (!origin || (strcmp(origin, "cli") != 0 && strcmp(origin, "htpasswd") != 0 &&
                    strcmp(origin, "openid") != 0)) {
        set_err(err, errlen, "origin: must be cli, htpasswd or openid");
        return -1;
    }
    if (expires && expires <= now) {
        set_err(err, errlen, "the expiry is in the past");
        return -1;
    }
    if (strlen(prefix) > MAX_PREFIX) {
        set_err(err, errlen, "redis.prefix is too long");
        return -1;
    }
    if (!json_list(groups, ngroups, rec->groups_json, sizeof(rec->groups_json)) ||
        !json_list(repos, nrepos, rec->repos_json, sizeof(rec->repos_json))) {
        set_err(err, errlen, "groups or repository globs are too long or not UTF-8");
        return -1;
    }
    if (!fill_random(raw, sizeof(raw)) || !new_uuid(rec->id)) {
        set_err(err, errlen, "cannot read random bytes from the OS");
        goto out;
    }
    to_hex(raw, sizeof(raw), secret);
    if (!sha256(secret, 32, h)) {
        set_err(err, errlen, "cannot compute SHA-256");
        goto out;
    }
    to_hex(h, sizeof(h), hex);
    snprintf(rec->user, sizeof(rec->user), "%s", user);
    snprintf(rec->label, sizeof(rec->label), "%s", label ? label : "");
    snprintf(rec->origin, sizeof(rec->origin), "%s", origin);
    og_apikey_format_time(now, rec->created);
    if (expires)
        og_apikey_format_time(expires, rec->expires);
    if (!rkey(k_key, sizeof(k_key), prefix, "key:", hex, NULL) ||
        !rkey(k_id, sizeof(k_id), prefix, "keyid:", rec->id, NULL) ||
        !rkey(k_user, sizeof(k_user), prefix, "user:", user, ":keys") ||
        !rkey(k_idpfx, sizeof(k_idpfx), prefix, "keyid:", NULL, NULL)) {
        set_err(err, errlen, "Redis key names too long");
        goto out;
    }
    snprintf(maxs, sizeof(maxs), "%ld", max_per_user > 0 ? max_per_user : 0L);
    when[0] = '\0';
    if (expires)                    /* Redis drops the key itself when it expires */
        snprintf(when, sizeof(when), "%lld", (long long)expires);

    argv[argc++] = "EVAL"; argv[argc++] = create_script; argv[argc++] = "3";
    argv[argc++] = k_key; argv[argc++] = k_id; argv[argc++] = k_user;
    argv[argc++] = maxs; argv[argc++] = k_idpfx; argv[argc++] = hex; argv[argc++] = rec->id;
    argv[argc++] = when;
    argv[argc++] = "id"; argv[argc++] = rec->id;
    argv[argc++] = "user"; argv[argc++] = rec->user;
    argv[argc++] = "groups"; argv[argc++] = rec->groups_json;
    argv[argc++] = "repos"; argv[argc++] = rec->repos_json;
    argv[argc++] = "label"; argv[argc++] = rec->label;
    argv[argc++] = "created"; argv[argc++] = rec->created;
    argv[argc++] = "expires"; argv[argc++] = rec->expires;
    argv[argc++] = "last_used"; argv[argc++] = rec->last_used;
    argv[argc++] = "origin"; argv[argc++] = rec->origin;
    arg_lens(argv, lens, (size_t)argc);
    rep = og_redis_command_argv(r, argc, argv, lens);
    if (!rep) {
        snprintf(err, errlen, "Redis at %s is unreachable: %s", og_redis_describe(r),
                 og_redis_last_error(r));
        goto out;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[1] &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "user %.64s already has %lld API keys, the limit "
                 "(auth.apikey.maxPerUser is %ld): revoke one first", user,
                 rep->element[1]->integer, max_per_user);
        rc = OG_APIKEY_LIMIT;
        goto out;
    }
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
        snprintf(err, errlen, "Redis refused to store the key%s%.120s",
                 rep->type == REDIS_REPLY_ERROR ? ": " : "",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        goto out;
    }
    memcpy(key_out, "zak_", 4);
    memcpy(key_out + 4, secret, 32);
    key_out[OG_APIKEY_LEN] = '\0';
    rc = 0;
out:
    og_redis_reply_free(rep);
    explicit_bzero(raw, sizeof(raw));
    explicit_bzero(secret, sizeof(secret));
    if (rc != 0)
        memset(rec, 0, sizeof(*rec));
    return rc;
}

static bool valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 39)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-'))
            return false;
    }
    return true;
}

/*
 * Look id up: hex receives its hash. 1 found (rec filled), 0 no such key
 * (*dangling set when keyid: exists without its record), -1 Redis error.
 */
static int fetch(struct og_redis *r, const char *id, char hex[65], struct og_apikey_record *rec,
                 bool *dangling)
{
    const char *prefix = og_redis_prefix(r);
    char k[MAX_PREFIX + 80];
    redisReply *rep;
    int found;

    memset(rec, 0, sizeof(*rec));
    hex[0] = '\0';
    if (dangling)
        *dangling = false;
    if (!valid_id(id))
        return 0;
    if (strlen(prefix) > MAX_PREFIX || !rkey(k, sizeof(k), prefix, "keyid:", id, NULL))
        return -1;
    rep = og_redis_command(r, "GET %s", k);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        og_redis_reply_free(rep);
        return -1;
    }
    if (rep->type != REDIS_REPLY_STRING || rep->len != 64 || !is_lower_hex(rep->str, 64)) {
        found = rep->type == REDIS_REPLY_NIL ? 0 : -2;
        og_redis_reply_free(rep);
        if (found == -2 && dangling)
            *dangling = true;
        return 0;
    }
    memcpy(hex, rep->str, 64);
    hex[64] = '\0';
    og_redis_reply_free(rep);
    if (!rkey(k, sizeof(k), prefix, "key:", hex, NULL))
        return -1;
    rep = og_redis_command(r, "HGETALL %s", k);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        og_redis_reply_free(rep);
        return -1;
    }
    found = og_apikey_parse_record(rep, rec);
    og_redis_reply_free(rep);
    if (found > 0 && strcmp(rec->id, id) == 0)
        return 1;
    memset(rec, 0, sizeof(*rec));
    if (dangling)
        *dangling = true;
    return 0;
}

int og_apikey_show(struct og_redis *r, const char *id, struct og_apikey_record *rec)
{
    char hex[65];
    return fetch(r, id, hex, rec, NULL);
}

int og_apikey_revoke(struct og_redis *r, const char *id, const char *only_user)
{
    const char *prefix = og_redis_prefix(r);
    struct og_apikey_record rec;
    char hex[65], k_key[MAX_PREFIX + 80], k_id[MAX_PREFIX + 80];
    char k_user[MAX_PREFIX + OG_USER_MAX + 20];
    const char *del1[2], *del2[2], *srem[3];
    size_t del1_l[2], del2_l[2], srem_l[3];
    struct og_redis_cmd cmds[3];
    redisReply *rep;
    bool dangling;
    int found = fetch(r, id, hex, &rec, &dangling), rc;

    if (found < 0)
        return -1;
    if (found == 0) {
        if (dangling && !only_user && rkey(k_id, sizeof(k_id), prefix, "keyid:", id, NULL))
            og_redis_reply_free(og_redis_command(r, "DEL %s", k_id));
        return 0;
    }
    if (only_user && strcmp(only_user, rec.user) != 0)
        return 0;
    if (!rkey(k_key, sizeof(k_key), prefix, "key:", hex, NULL) ||
        !rkey(k_id, sizeof(k_id), prefix, "keyid:", id, NULL) ||
        !rkey(k_user, sizeof(k_user), prefix, "user:", rec.user, ":keys"))
        return -1;
    del1[0] = "DEL"; del1[1] = k_key;
    del2[0] = "DEL"; del2[1] = k_id;
    srem[0] = "SREM"; srem[1] = k_user; srem[2] = id;
    for (size_t i = 0; i < 2; i++) {
        del1_l[i] = strlen(del1[i]);
        del2_l[i] = strlen(del2[i]);
    }
    for (size_t i = 0; i < 3; i++)
        srem_l[i] = strlen(srem[i]);
    cmds[0] = (struct og_redis_cmd){ 2, del1, del1_l };
    cmds[1] = (struct og_redis_cmd){ 2, del2, del2_l };
    cmds[2] = (struct og_redis_cmd){ 3, srem, srem_l };
    rep = og_redis_transaction(r, 3, cmds);
    rc = exec_ok(rep, 3) ? 1 : -1;
    og_redis_reply_free(rep);
    return rc;
}

/* ---- listing ------------------------------------------------------------- */

struct rec_vec {
    struct og_apikey_record *v;
    size_t n, cap;
};

static int push(struct rec_vec *vec, const struct og_apikey_record *rec)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 16;
        struct og_apikey_record *nv;
        if (cap > MAX_LIST)
            return -1;
        nv = realloc(vec->v, cap * sizeof(*nv));
        if (!nv)
            return -1;
        vec->v = nv;
        vec->cap = cap;
    }
    vec->v[vec->n++] = *rec;
    return 0;
}

/* The keys of one user's set; ids whose key is gone (expired) are removed from it. */
static int collect_set(struct og_redis *r, const char *setkey, size_t setlen,
                       struct rec_vec *vec)
{
    redisReply *rep = og_redis_command(r, "SMEMBERS %b", setkey, setlen);
    struct og_apikey_record rec;
    char hex[65];
    int rc = 0;

    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        og_redis_reply_free(rep);
        return -1;
    }
    for (size_t i = 0; i < rep->elements && rc == 0; i++) {
        const redisReply *m = rep->element[i];
        char id[40];
        int found;
        if (!m || m->type != REDIS_REPLY_STRING || m->len == 0 || m->len >= sizeof(id))
            continue;
        memcpy(id, m->str, m->len);
        id[m->len] = '\0';
        found = fetch(r, id, hex, &rec, NULL);
        if (found < 0)
            rc = -1;
        else if (found == 0)
            og_redis_reply_free(og_redis_command(r, "SREM %b %s", setkey, setlen, id));
        else if (push(vec, &rec) != 0)
            rc = -1;
    }
    og_redis_reply_free(rep);
    return rc;
}

/* PREFIX with the glob characters of SCAN MATCH escaped. */
static bool match_pattern(const char *prefix, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = prefix; *p; p++) {
        if (o + 3 >= size)
            return false;
        if (strchr("*?[]\\", *p))
            out[o++] = '\\';
        out[o++] = *p;
    }
    return rkey(out + o, size - o, "", "user:*:keys", NULL, NULL);
}

static int collect_all(struct og_redis *r, struct rec_vec *vec)
{
    char pattern[2 * MAX_PREFIX + 20], cursor[32] = "0";
    int rounds = 0;

    if (!match_pattern(og_redis_prefix(r), pattern, sizeof(pattern)))
        return -1;
    do {
        redisReply *rep = og_redis_command(r, "SCAN %s MATCH %s COUNT 500", cursor, pattern);
        const redisReply *cur, *keys;
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            (cur = rep->element[0])->type != REDIS_REPLY_STRING || cur->len == 0 ||
            cur->len >= sizeof(cursor) || (keys = rep->element[1])->type != REDIS_REPLY_ARRAY) {
            og_redis_reply_free(rep);
            return -1;
        }
        memcpy(cursor, cur->str, cur->len);
        cursor[cur->len] = '\0';
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *kk = keys->element[i];
            if (kk && kk->type == REDIS_REPLY_STRING && collect_set(r, kk->str, kk->len, vec)) {
                og_redis_reply_free(rep);
                return -1;
            }
        }
        og_redis_reply_free(rep);
        if (++rounds > 10000000)
            return -1;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

static int by_user_created(const void *a, const void *b)
{
    const struct og_apikey_record *x = a, *y = b;
    int c = strcmp(x->user, y->user);
    if (!c)
        c = strcmp(x->created, y->created);
    if (!c)
        c = strcmp(x->id, y->id);
    return c;
}

long og_apikey_list(struct og_redis *r, const char *user,
                    void (*fn)(const struct og_apikey_record *rec, void *arg), void *arg)
{
    struct rec_vec vec = { NULL, 0, 0 };
    long count = 0;
    int rc;

    if (user) {
        char k[MAX_PREFIX + OG_USER_MAX + 20];
        if (strlen(og_redis_prefix(r)) > MAX_PREFIX ||
            !rkey(k, sizeof(k), og_redis_prefix(r), "user:", user, ":keys"))
            return -1;
        rc = collect_set(r, k, strlen(k), &vec);
    } else {
        rc = collect_all(r, &vec);
    }
    if (rc != 0) {
        free(vec.v);
        return -1;
    }
    if (vec.n)
        qsort(vec.v, vec.n, sizeof(vec.v[0]), by_user_created);
    for (size_t i = 0; i < vec.n; i++) {
        if (i && strcmp(vec.v[i].id, vec.v[i - 1].id) == 0)
            continue;           /* SCAN may return a set twice */
        if (fn)
            fn(&vec.v[i], arg);
        count++;
    }
    free(vec.v);
    return count;
}
