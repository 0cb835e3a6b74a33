/*
 * key_records.h - API key records in Redis: "zak_" + 32 hex, stored as
 * SHA-256. Management (create, list, show, revoke) is shared by
 * the `ocigate key` commands and the self-service endpoint; the lookup of a
 * presented key is apikey.h.
 */
#ifndef OCIGATE_KEY_RECORDS_H
#define OCIGATE_KEY_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "identity.h"

struct og_redis;
struct redisReply;

#define OG_APIKEY_LEN        36      /* "zak_" + 32 hex */
#define OG_APIKEY_MAX_GROUPS 32
#define OG_APIKEY_MAX_REPOS  32

/* ---- records and management (CLI and self-service) ---- */

struct og_apikey_record {
    char id[40];
    char user[OG_USER_MAX + 1];
    char label[256];
    char created[32];            /* RFC 3339 */
    char expires[32];            /* RFC 3339 or "" */
    char last_used[32];          /* RFC 3339 or "" */
    char groups_json[1024];      /* JSON array */
    char repos_json[1024];       /* JSON array of globs, [] = all */
    char origin[16];             /* who made it: "htpasswd", "openid", "cli"; "" = a record
                                    written before ocigate kept the field (legacy) */
};

/* The key's origin, as og_apikey_identify() reports it in store->key_origin. */
enum og_key_origin { OG_KEY_LEGACY = 0, OG_KEY_CLI, OG_KEY_HTPASSWD, OG_KEY_OPENID };
const char *og_key_origin_name(enum og_key_origin o);   /* "legacy", "cli", ... */

/* A label, user or group may be shown to people: valid UTF-8 without control
   characters (C0, DEL, C1) and without the format characters that reorder or
   hide text (bidi embeddings, overrides and isolates, zero-width characters,
   the byte order mark). */
bool og_apikey_text_ok(const char *s);

/* The Redis key PREFIX + a + b + c (b, c may be NULL) into buf; false when it
   does not fit. */
bool og_apikey_rkey(char *buf, size_t size, const char *prefix, const char *a, const char *b,
                    const char *c);

/* Check what og_apikey_create would store: user (no ':'), groups, repository
   globs (compiled), label. Returns false with err naming the field. */
bool og_apikey_check_args(const char *user, const char *const *groups, size_t ngroups,
                          const char *const *repos, size_t nrepos, const char *label,
                          char *err, size_t errlen);

/* Create a key. key_out receives "zak_..." (OG_APIKEY_LEN + 1 bytes). expires 0 = never.
   origin: who makes it ("htpasswd", "openid", "cli"). max_per_user > 0: refuse
   when the user already holds that many keys (checked and reserved in one
   Redis script, so concurrent creations cannot pass it). Returns 0; -1 with
   err set (bad arguments or Redis); OG_APIKEY_LIMIT with err saying the limit. */
#define OG_APIKEY_LIMIT (-2)
int og_apikey_create(struct og_redis *r, const char *user, const char *const *groups,
                     size_t ngroups, const char *const *repos, size_t nrepos, time_t expires,
                     const char *label, const char *origin, long max_per_user,
                     char *key_out, struct og_apikey_record *rec, char *err, size_t errlen);

/* Fetch one key's record by id. Returns 1 found, 0 not found, -1 Redis error. */
int og_apikey_show(struct og_redis *r, const char *id, struct og_apikey_record *rec);

/* List keys (of one user, or all when user is NULL). Calls fn for each; returns count or -1. */
long og_apikey_list(struct og_redis *r, const char *user,
                    void (*fn)(const struct og_apikey_record *rec, void *arg), void *arg);

/* Revoke by id. only_user: if non-NULL, refuse (return 0) keys of other users.
   Returns 1 revoked, 0 not found / not yours, -1 Redis error. */
int og_apikey_revoke(struct og_redis *r, const char *id, const char *only_user);

/* ---- time (CLI and self-service) ---- */

/* RFC 3339 ("2027-01-01T00:00:00Z", offsets, fractions) or a date "2027-01-01" (UTC). */
bool og_apikey_parse_time(const char *s, time_t *out);
/* "90d", "12h", "30m", "45s", "2w", or sums such as "1d12h"; > 0, at most 100 years. */
bool og_apikey_parse_duration(const char *s, long long *secs);
/* A duration from now or an RFC 3339 time; must be in the future. false + err otherwise. */
bool og_apikey_parse_expires(const char *s, time_t now, time_t *out, char *err, size_t errlen);
/* "YYYY-MM-DDTHH:MM:SSZ" (out: 32 bytes). */
void og_apikey_format_time(time_t t, char out[32]);

/* ---- for tests ---- */

/* "zak_" + exactly 32 of [0-9a-f]? */
bool og_apikey_format_ok(const char *key, size_t len);
/* SHA-256 hex of the 32 characters after "zak_" (what Redis holds); false if malformed. */
bool og_apikey_hash_hex(const char *key, size_t len, char out[65]);
/* An HGETALL reply -> record: 1 ok, 0 empty (no such key), -1 malformed or oversized. */
int og_apikey_parse_record(const struct redisReply *rep, struct og_apikey_record *rec);

#endif
