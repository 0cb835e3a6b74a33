/*
 * key_records.c - API key records in Redis: create, show, list and revoke,
 * the record's fields (HGETALL -> struct), and the checks, times and hashes
 * they need. Shared by the `ocigate key` commands (cli/key_cmd.c) and the
 * self-service endpoint (endpoints/apikey_endpoint.c); the lookup of a
 * presented key and its per-worker cache are auth/apikey.c.
 *
 * A key is "zak_" + 32 lower-case hex characters from getrandom(); Redis
 * holds only the SHA-256 (hex) of the 32 characters after the prefix, zot's
 * scheme: PREFIX key:HASH holds the record, PREFIX keyid:ID names the HASH,
 * PREFIX user:USER:keys is the set of a user's ids (doc/redis.md).
 */
#include "key_records.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "buf.h"
#include "digest.h"
#include "glob.h"
#include "hex.h"
#include "redis.h"
#include "text.h"

#define MAX_RECORD_FIELDS  32              /* HGETALL: at most 64 elements */
#define MAX_PREFIX         200
#define MAX_LIST           1000000

/* ---- small helpers ------------------------------------------------------- */

/* UTF-8 that shows as it is (text.h: no controls, bidi or hidden format). */
bool og_apikey_text_ok(const char *s)
{
    return !s || og_utf8_text_ok(s, strlen(s));
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

bool og_apikey_rkey(char *buf, size_t size, const char *prefix, const char *a, const char *b,
                    const char *c)
{
    int n = snprintf(buf, size, "%s%s%s%s", prefix, a, b ? b : "", c ? c : "");
    return n > 0 && (size_t)n < size;
}

/* ---- format, hash, time -------------------------------------------------- */

bool og_apikey_format_ok(const char *key, size_t len)
{
    return key && len == OG_APIKEY_LEN && memcmp(key, "zak_", 4) == 0 &&
           og_is_lower_hex(key + 4, OG_APIKEY_LEN - 4);
}

bool og_apikey_hash_hex(const char *key, size_t len, char out[65])
{
    unsigned char h[32];

    if (!og_apikey_format_ok(key, len) || !og_sha256(key + 4, OG_APIKEY_LEN - 4, h))
        return false;
    og_hex_encode(h, sizeof(h), out);
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
            og_set_err(err, errlen, "the expiry is in the past");
            return false;
        }
    } else {
        og_set_err(err, errlen, "expected a duration (90d, 12h, 30m) or an RFC 3339 time "
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

/* ---- management ---------------------------------------------------------- */

static bool valid_name(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= max && !og_has_control(s, strlen(s));
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
        og_set_err(err, errlen, "user: must be 1 to 256 bytes of UTF-8, without ':', control "
                                "or invisible format characters");
        return false;
    }
    if (ngroups > OG_APIKEY_MAX_GROUPS || nrepos > OG_APIKEY_MAX_REPOS) {
        og_set_err(err, errlen, "at most 32 groups and 32 repository globs");
        return false;
    }
    for (size_t i = 0; i < ngroups; i++)
        if (!valid_name(groups[i], 255)) {
            og_set_err(err, errlen, "group: must be 1 to 255 bytes without control characters");
            return false;
        }
    for (size_t i = 0; i < nrepos; i++) {
        struct og_glob *g;
        if (!valid_name(repos[i], 255)) {
            og_set_err(err, errlen, "repo: must be 1 to 255 bytes without control characters");
            return false;
        }
        g = og_glob_compile(repos[i], strlen(repos[i]), gerr, sizeof(gerr));
        if (!g) {
            snprintf(msg, sizeof(msg), "repo \"%s\": %s", repos[i], gerr);
            og_set_err(err, errlen, "%s", msg);
            return false;
        }
        og_glob_free(g);
    }
    if (label && (strlen(label) > 255 || og_has_control(label, strlen(label)) ||
                  !og_apikey_text_ok(label))) {
        og_set_err(err, errlen, "label: at most 255 bytes of UTF-8, without control characters "
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
    og_hex_encode(b, sizeof(b), hex);
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
        og_set_err(err, errlen, "origin: must be cli, htpasswd or openid");
        return -1;
    }
    if (expires && expires <= now) {
        og_set_err(err, errlen, "the expiry is in the past");
        return -1;
    }
    if (strlen(prefix) > MAX_PREFIX) {
        og_set_err(err, errlen, "redis.prefix is too long");
        return -1;
    }
    if (!json_list(groups, ngroups, rec->groups_json, sizeof(rec->groups_json)) ||
        !json_list(repos, nrepos, rec->repos_json, sizeof(rec->repos_json))) {
        og_set_err(err, errlen, "groups or repository globs are too long or not UTF-8");
        return -1;
    }
    if (!fill_random(raw, sizeof(raw)) || !new_uuid(rec->id)) {
        og_set_err(err, errlen, "cannot read random bytes from the OS");
        goto out;
    }
    og_hex_encode(raw, sizeof(raw), secret);
    if (!og_sha256(secret, 32, h)) {
        og_set_err(err, errlen, "cannot compute SHA-256");
        goto out;
    }
    og_hex_encode(h, sizeof(h), hex);
    snprintf(rec->user, sizeof(rec->user), "%s", user);
    snprintf(rec->label, sizeof(rec->label), "%s", label ? label : "");
    snprintf(rec->origin, sizeof(rec->origin), "%s", origin);
    og_apikey_format_time(now, rec->created);
    if (expires)
        og_apikey_format_time(expires, rec->expires);
    if (!og_apikey_rkey(k_key, sizeof(k_key), prefix, "key:", hex, NULL) ||
        !og_apikey_rkey(k_id, sizeof(k_id), prefix, "keyid:", rec->id, NULL) ||
        !og_apikey_rkey(k_user, sizeof(k_user), prefix, "user:", user, ":keys") ||
        !og_apikey_rkey(k_idpfx, sizeof(k_idpfx), prefix, "keyid:", NULL, NULL)) {
        og_set_err(err, errlen, "Redis key names too long");
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
    if (strlen(prefix) > MAX_PREFIX || !og_apikey_rkey(k, sizeof(k), prefix, "keyid:", id, NULL))
        return -1;
    rep = og_redis_command(r, "GET %s", k);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        og_redis_reply_free(rep);
        return -1;
    }
    if (rep->type != REDIS_REPLY_STRING || rep->len != 64 || !og_is_lower_hex(rep->str, 64)) {
        found = rep->type == REDIS_REPLY_NIL ? 0 : -2;
        og_redis_reply_free(rep);
        if (found == -2 && dangling)
            *dangling = true;
        return 0;
    }
    memcpy(hex, rep->str, 64);
    hex[64] = '\0';
    og_redis_reply_free(rep);
    if (!og_apikey_rkey(k, sizeof(k), prefix, "key:", hex, NULL))
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
        if (dangling && !only_user &&
            og_apikey_rkey(k_id, sizeof(k_id), prefix, "keyid:", id, NULL))
            og_redis_reply_free(og_redis_command(r, "DEL %s", k_id));
        return 0;
    }
    if (only_user && strcmp(only_user, rec.user) != 0)
        return 0;
    if (!og_apikey_rkey(k_key, sizeof(k_key), prefix, "key:", hex, NULL) ||
        !og_apikey_rkey(k_id, sizeof(k_id), prefix, "keyid:", id, NULL) ||
        !og_apikey_rkey(k_user, sizeof(k_user), prefix, "user:", rec.user, ":keys"))
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
    return og_apikey_rkey(out + o, size - o, "", "user:*:keys", NULL, NULL);
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
            !og_apikey_rkey(k, sizeof(k), og_redis_prefix(r), "user:", user, ":keys"))
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
