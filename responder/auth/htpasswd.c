/*
 * htpasswd.c - htpasswd users: bcrypt ($2a$/$2b$/$2y$) and sha-crypt ($5$/$6$).
 *
 * The file is read once (at start and on SIGHUP, by the master, before the
 * workers fork). bcrypt costs milliseconds, so a verified password is kept
 * for 60 s in a small fixed table of HMAC-SHA256 digests keyed by a random
 * key drawn in the worker process; a changed hash in the file changes the
 * digest, so a new password file invalidates old entries by itself.
 * Unknown users still pay one crypt() so that timing does not tell them apart.
 */
#include "htpasswd.h"

#include <crypt.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "digest.h"
#include "self.h"

#define CACHE_SLOTS 512
#define CACHE_PROBE 4
#define CACHE_TTL_S 60
#define MAX_USERS   100000

struct ht_user {
    char *name;
    char *hash;
};

struct cache_slot {
    unsigned char mac[32];
    time_t expires;
};

struct og_htpasswd {
    struct ht_user *users;
    size_t nusers;
    pid_t key_pid;                 /* the process the HMAC key belongs to */
    struct og_hmac *hmac;          /* keyed with a random key drawn by that process */
    struct cache_slot cache[CACHE_SLOTS];
    struct crypt_data crypt;       /* scratch for crypt_rn, large: one per worker */
};

/* A hash every unknown user is checked against (bcrypt cost 10 of a random, forgotten string). */
static const char dummy_hash[] = "$2y$10$MPlXy3ntP650LSr5ZH7kYusmyiF/zktPJM.nEaRNt7cU.K1w.cl1q";

static bool supported_hash(const char *h)
{
    return strncmp(h, "$2a$", 4) == 0 || strncmp(h, "$2b$", 4) == 0 ||
           strncmp(h, "$2y$", 4) == 0 || strncmp(h, "$5$", 3) == 0 ||
           strncmp(h, "$6$", 3) == 0;
}

static int compare_users(const void *a, const void *b)
{
    return strcmp(((const struct ht_user *)a)->name, ((const struct ht_user *)b)->name);
}

void og_htpasswd_free(struct og_htpasswd *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nusers; i++) {
        free(h->users[i].name);
        free(h->users[i].hash);
    }
    free(h->users);
    og_hmac_free(h->hmac);
    explicit_bzero(h, sizeof(*h));
    free(h);
}

size_t og_htpasswd_count(const struct og_htpasswd *h)
{
    return h ? h->nusers : 0;
}

struct og_htpasswd *og_htpasswd_load(const char *path, char *err, size_t errlen)
{
    struct og_htpasswd *h = NULL;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0, lineno = 0, alloc = 0;
    ssize_t n;

    f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        char *colon, *hash;
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        colon = strchr(line, ':');
        if (!colon || colon == line) {
            snprintf(err, errlen, "%s:%zu: expected USER:HASH", path, lineno);
            goto fail;
        }
        *colon = '\0';
        hash = colon + 1;
        if (!supported_hash(hash)) {
            fprintf(stderr, "ocigate: %s:%zu: user \"%s\": unsupported hash type "
                    "(only bcrypt and sha-crypt); this user cannot log in\n", path, lineno, line);
            continue;
        }
        if (h->nusers == MAX_USERS) {
            snprintf(err, errlen, "%s: more than %d users", path, MAX_USERS);
            goto fail;
        }
        if (h->nusers == alloc) {
            size_t na = alloc ? alloc * 2 : 16;
            struct ht_user *nu = realloc(h->users, na * sizeof(*nu));
            if (!nu) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            h->users = nu;
            alloc = na;
        }
        h->users[h->nusers].name = strdup(line);
        h->users[h->nusers].hash = strdup(hash);
        if (!h->users[h->nusers].name || !h->users[h->nusers].hash) {
            free(h->users[h->nusers].name);
            free(h->users[h->nusers].hash);
            snprintf(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        h->nusers++;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    if (h->nusers > 0)                      /* qsort(NULL, 0, ...) is undefined */
        qsort(h->users, h->nusers, sizeof(*h->users), compare_users);
    for (size_t i = 1; i < h->nusers; i++)
        if (strcmp(h->users[i - 1].name, h->users[i].name) == 0) {
            snprintf(err, errlen, "%s: user \"%s\" appears twice", path, h->users[i].name);
            goto fail;
        }
    free(line);
    fclose(f);
    return h;
fail:
    if (line) {
        explicit_bzero(line, cap);
        free(line);
    }
    if (f)
        fclose(f);
    og_htpasswd_free(h);
    return NULL;
}

static const struct ht_user *find_user(const struct og_htpasswd *h, const char *user)
{
    struct ht_user k = { (char *)user, NULL };
    if (h->nusers == 0)                     /* a file without users: users is NULL */
        return NULL;
    return bsearch(&k, h->users, h->nusers, sizeof(*h->users), compare_users);
}

static bool ensure_key(struct og_htpasswd *h)
{
    pid_t me = og_self_pid();
    unsigned char key[32];

    if (h->key_pid == me && h->hmac)
        return true;
    og_hmac_free(h->hmac);                   /* another process's key */
    h->hmac = NULL;
    memset(h->cache, 0, sizeof(h->cache));   /* and its entries */
    h->key_pid = 0;
    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
        return false;
    h->hmac = og_hmac_new(key, sizeof(key));
    explicit_bzero(key, sizeof(key));
    if (!h->hmac)
        return false;
    h->key_pid = me;
    return true;
}

static bool cache_mac(struct og_htpasswd *h, const struct ht_user *u, const char *pw,
                      size_t pwlen, unsigned char mac[32])
{
    bool ok = false;
    /* HMAC over user NUL password NUL hash */
    size_t ulen = strlen(u->name), hlen = strlen(u->hash);
    size_t total = ulen + 1 + pwlen + 1 + hlen;
    unsigned char stackbuf[1024];
    unsigned char *msg = total <= sizeof(stackbuf) ? stackbuf : malloc(total);
    if (!msg)
        return false;
    memcpy(msg, u->name, ulen);
    msg[ulen] = 0;
    memcpy(msg + ulen + 1, pw, pwlen);
    msg[ulen + 1 + pwlen] = 0;
    memcpy(msg + ulen + 2 + pwlen, u->hash, hlen);
    if (og_hmac_sha256(h->hmac, msg, total, mac))
        ok = true;
    explicit_bzero(msg, total);
    if (msg != stackbuf)
        free(msg);
    return ok;
}

static bool cache_lookup(struct og_htpasswd *h, const unsigned char mac[32], time_t now)
{
    size_t base = ((size_t)mac[0] << 8 | mac[1]) % CACHE_SLOTS;
    for (size_t i = 0; i < CACHE_PROBE; i++) {
        struct cache_slot *s = &h->cache[(base + i) % CACHE_SLOTS];
        if (s->expires > now && CRYPTO_memcmp(s->mac, mac, 32) == 0)
            return true;
    }
    return false;
}

static void cache_store(struct og_htpasswd *h, const unsigned char mac[32], time_t now)
{
    size_t base = ((size_t)mac[0] << 8 | mac[1]) % CACHE_SLOTS, victim = base;
    time_t oldest = 0;
    for (size_t i = 0; i < CACHE_PROBE; i++) {
        size_t idx = (base + i) % CACHE_SLOTS;
        if (h->cache[idx].expires <= now) {
            victim = idx;
            break;
        }
        if (i == 0 || h->cache[idx].expires < oldest) {
            oldest = h->cache[idx].expires;
            victim = idx;
        }
    }
    memcpy(h->cache[victim].mac, mac, 32);
    h->cache[victim].expires = now + CACHE_TTL_S;
}

enum og_ht_result og_htpasswd_verify(struct og_htpasswd *h, const char *user,
                                     const char *password, size_t password_len,
                                     int *cache_hit)
{
    const struct ht_user *u;
    unsigned char mac[32];
    time_t now = time(NULL);
    const char *out;
    bool have_mac = false;
    enum og_ht_result res;

    if (cache_hit)
        *cache_hit = 0;
    if (!h || memchr(password, '\0', password_len))
        return OG_HT_ERROR;
    u = find_user(h, user);
    if (u && ensure_key(h) && cache_mac(h, u, password, password_len, mac)) {
        have_mac = true;
        if (cache_lookup(h, mac, now)) {
            if (cache_hit)
                *cache_hit = 1;
            explicit_bzero(mac, sizeof(mac));
            return OG_HT_OK;
        }
    }
    memset(&h->crypt, 0, sizeof(h->crypt));
    out = crypt_rn(password, u ? u->hash : dummy_hash, &h->crypt, sizeof(h->crypt));
    if (!u)
        res = OG_HT_UNKNOWN_USER;
    else if (!out || out[0] == '*')
        res = OG_HT_ERROR;
    else if (strlen(out) == strlen(u->hash) && CRYPTO_memcmp(out, u->hash, strlen(out)) == 0)
        res = OG_HT_OK;
    else
        res = OG_HT_BAD_PASSWORD;
    if (res == OG_HT_OK && have_mac)
        cache_store(h, mac, now);
    explicit_bzero(&h->crypt, sizeof(h->crypt));
    explicit_bzero(mac, sizeof(mac));
    return res;
}

bool og_htpasswd_has_user(const struct og_htpasswd *h, const char *user)
{
    return h && user && h->nusers > 0 && find_user(h, user) != NULL;
}
