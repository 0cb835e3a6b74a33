/*
 * fuzz_redis_reply.c - API key records as Redis returns them
 * (responder/auth/apikey.c: og_apikey_parse_record, and the cache entry built
 * from a record: JSON group/repo arrays, repository globs, RFC 3339 expiry).
 *
 * Input: RESP bytes, e.g. "*4\r\n$2\r\nid\r\n$3\r\nk01\r\n$4\r\nuser\r\n$5\r\nalice\r\n".
 * hiredis' own reader turns them into the redisReply tree ocigate would get
 * from HGETALL; the tree goes through og_apikey_parse_record, then through
 * og_apikeys_cache_fill and og_apikey_identify (no Redis: the cache answers).
 *
 * hiredis 0.14 allocates whatever a "*N" or "$N" header announces before the
 * data arrives; that is hiredis trusting its server, not ocigate's parser, so
 * inputs announcing more than 64 Ki elements or bytes are skipped.
 */
#include "fuzz_common.h"

#include <stddef.h>

#include <hiredis.h>

#include "apikey.h"
#include "config.h"

static const char KEY[] = "zak_0123456789abcdef0123456789abcdef";
static struct og_apikeys *keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    keys = og_apikeys_new(NULL, NULL);   /* cacheSeconds 30, no Redis */
    if (!keys)
        abort();
    return 0;
}

#include "fuzz_resp.h"

static int terminated_within(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* The record's fields by name (as in apikey.c). */
#define FIELD(name, member) { name, offsetof(struct og_apikey_record, member) }
static const struct {
    const char *name;
    size_t off;
} fields[] = {
    FIELD("id", id), FIELD("user", user), FIELD("label", label), FIELD("created", created),
    FIELD("expires", expires), FIELD("last_used", last_used), FIELD("groups", groups_json),
    FIELD("repos", repos_json),
};

/* Every field of an accepted record holds a value the reply gave for that name
   (which one, when a name repeats, is the parser's choice; a mix is not). */
static void check_fields_came_from_reply(const redisReply *rep,
                                         const struct og_apikey_record *rec)
{
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        const char *got = (const char *)rec + fields[f].off;
        int named = 0, same = 0;
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            const redisReply *k = rep->element[i], *v = rep->element[i + 1];
            if (k->len != strlen(fields[f].name) || memcmp(k->str, fields[f].name, k->len) != 0)
                continue;
            named = 1;
            if (strlen(got) == v->len && memcmp(got, v->str, v->len) == 0)
                same = 1;
            if (v->len == 0 && strcmp(got, "[]") == 0 &&
                (strcmp(fields[f].name, "groups") == 0 || strcmp(fields[f].name, "repos") == 0))
                same = 1;       /* empty groups/repos read as [] */
        }
        if (!named)
            continue;
        if (!same)
            fprintf(stderr, "record field %s = \"%s\" is no value the reply gave\n",
                    fields[f].name, got);
        FZ_ASSERT(same);
    }
}

static void check_record(const redisReply *rep)
{
    struct og_apikey_record rec;
    int rc = og_apikey_parse_record(rep, &rec);

    FZ_ASSERT(rc >= -1 && rc <= 1);
    FZ_ASSERT(terminated_within(rec.id, sizeof rec.id));
    FZ_ASSERT(terminated_within(rec.user, sizeof rec.user));
    FZ_ASSERT(terminated_within(rec.label, sizeof rec.label));
    FZ_ASSERT(terminated_within(rec.created, sizeof rec.created));
    FZ_ASSERT(terminated_within(rec.expires, sizeof rec.expires));
    FZ_ASSERT(terminated_within(rec.last_used, sizeof rec.last_used));
    FZ_ASSERT(terminated_within(rec.groups_json, sizeof rec.groups_json));
    FZ_ASSERT(terminated_within(rec.repos_json, sizeof rec.repos_json));
    if (rc == 1) {
        time_t t;
        FZ_ASSERT(rec.id[0] && rec.user[0] && rec.groups_json[0] && rec.repos_json[0]);
        (void)og_apikey_parse_time(rec.created, &t);
        (void)og_apikey_parse_time(rec.last_used, &t);
        check_fields_came_from_reply(rep, &rec);
    }
    if (rc == 0)
        FZ_ASSERT(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 0);
}

static void check_cache(const redisReply *rep)
{
    struct og_identity id;
    struct og_identity_store *store = malloc(sizeof *store);
    const char *reason = NULL;
    int hit = 0, filled;
    enum og_identify_result res;

    if (!store)
        abort();
    memset(&id, 0, sizeof id);
    filled = og_apikeys_cache_fill(keys, KEY, sizeof KEY - 1, rep);
    FZ_ASSERT(filled == 0 || filled == 1);
    res = og_apikey_identify(keys, NULL, KEY, sizeof KEY - 1, &id, store, &reason, &hit);
    if (getenv("FZ_DEBUG"))
        fprintf(stderr, "apikey: filled=%d identify=%d reason=%s\n", filled, res, reason);
    FZ_ASSERT(hit == 1);                  /* the entry just filled answers */
    FZ_ASSERT(reason != NULL);
    if (filled == 0)
        FZ_ASSERT(res == OG_ID_BAD_CREDENTIALS);
    if (res == OG_ID_OK) {
        FZ_ASSERT(filled == 1);
        FZ_ASSERT(id.user && id.user[0] && id.auth == OG_AUTH_APIKEY);
        FZ_ASSERT(id.ngroups <= OG_APIKEY_MAX_GROUPS && id.nscopes <= OG_APIKEY_MAX_REPOS);
        for (size_t i = 0; i < id.ngroups; i++)
            FZ_ASSERT(id.groups[i] && id.groups[i][0]);
        /* the same key as a Basic password of its own user */
        char user[OG_USER_MAX + 1];
        snprintf(user, sizeof user, "%s", id.user);
        res = og_apikey_identify(keys, user, KEY, sizeof KEY - 1, &id, store, &reason, &hit);
        FZ_ASSERT(res == OG_ID_OK);
    }
    free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd;
    void *reply = NULL;

    if (size > 65536 || announces_too_much(data, size))
        return 0;
    rd = redisReaderCreate();
    if (!rd)
        abort();
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK &&
        redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
        check_record(reply);
        check_cache(reply);
        freeReplyObject(reply);
    }
    /* also: no reply at all, and a reply that is not an array */
    check_record(NULL);
    redisReaderFree(rd);
    return 0;
}
