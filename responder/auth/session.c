/*
 * session.c - the browser session cookie: AES-256-GCM seal and open
 * (libcrypto EVP), the CSRF token, the key file.
 *
 * Key file: 64 hex digits (32 random bytes) and an optional newline, mode
 * 0600 (`ocigate session-key generate`). Two keys are derived from it with
 * HMAC-SHA256 under fixed labels: one encrypts, one makes CSRF tokens, so
 * neither use can help an attack on the other.
 *
 * Sealed value (base64url, no padding):
 *   VERSION(1) | IV(12, random per seal) | CIPHERTEXT | TAG(16)
 * The additional authenticated data is VERSION and a purpose label (the
 * cookie's name), so a value sealed for one purpose (the login cookie)
 * never opens as another (the session).
 * Session plaintext (version 1), big-endian, every length bounded:
 *   ISSUED(8) | EXPIRES(8) | SID(16) | ULEN(1) USER | NGROUPS(1) { GLEN(1) GROUP }
 * The parser (og_session_decode) takes a length and rejects trailing bytes.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base64.h"
#include "config.h"
#include "hex.h"

#define VERSION      1
#define KEY_LEN      32
#define IV_LEN       12
#define TAG_LEN      16
#define SID_BYTES    16
#define RAW_MAX      ((OG_SESSION_VALUE_MAX / 4) * 3)   /* decoded bytes at most */

struct og_session_keys {
    unsigned char enc[KEY_LEN];
    unsigned char csrf[KEY_LEN];
};

/* ----------------------------------------------------------------- keys */

static bool derive(const unsigned char *master, const char *label, unsigned char out[KEY_LEN])
{
    unsigned int n = 0;

    return HMAC(EVP_sha256(), master, KEY_LEN, (const unsigned char *)label, strlen(label),
                out, &n) != NULL && n == KEY_LEN;
}

struct og_session_keys *og_session_keys_from_bytes(const unsigned char *master, size_t len)
{
    struct og_session_keys *k;

    if (len != KEY_LEN)
        return NULL;
    k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    if (!derive(master, "ocigate session encryption v1", k->enc) ||
        !derive(master, "ocigate session csrf v1", k->csrf)) {
        og_session_keys_free(k);
        return NULL;
    }
    return k;
}

struct og_session_keys *og_session_keys_load(const char *path, char *err, size_t errlen)
{
    char text[128];
    unsigned char master[KEY_LEN];
    struct og_session_keys *k = NULL;
    struct stat st;
    ssize_t n;
    size_t len;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (errlen)
        err[0] = '\0';
    if (fd < 0) {
        snprintf(err, errlen, "%s: session.keyFile: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: session.keyFile: not a regular file", path);
        goto done;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s: session.keyFile: readable by group or others (mode %04o); "
                 "chmod 0600 it", path, (unsigned)(st.st_mode & 07777));
        goto done;
    }
    n = read(fd, text, sizeof(text));
    len = n > 0 ? (size_t)n : 0;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len != KEY_LEN * 2) {
        snprintf(err, errlen, "%s: session.keyFile: not a session key (64 hex digits; make one "
                 "with `ocigate session-key generate`)", path);
        goto done;
    }
    for (size_t i = 0; i < KEY_LEN; i++) {
        int hi = og_hex_value((unsigned char)text[2 * i]);
        int lo = og_hex_value((unsigned char)text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "%s: session.keyFile: not a session key (64 hex digits; "
                     "make one with `ocigate session-key generate`)", path);
            goto done;
        }
        master[i] = (unsigned char)(hi << 4 | lo);
    }
    k = og_session_keys_from_bytes(master, KEY_LEN);
    if (!k)
        snprintf(err, errlen, "%s: session.keyFile: cannot prepare the key", path);
done:
    OPENSSL_cleanse(master, sizeof(master));
    OPENSSL_cleanse(text, sizeof(text));
    close(fd);
    return k;
}

void og_session_keys_free(struct og_session_keys *k)
{
    if (!k)
        return;
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

int og_session_key_generate(FILE *f)
{
    unsigned char master[KEY_LEN];
    char hex[KEY_LEN * 2 + 1];
    struct stat st;
    int rc = -1;

    if (RAND_bytes(master, KEY_LEN) != 1)
        return -1;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        fchmod(fileno(f), 0600);        /* a key file is never readable by others */
    og_hex_encode(master, KEY_LEN, hex);
    if (fprintf(f, "%s\n", hex) == KEY_LEN * 2 + 1 && fflush(f) == 0)
        rc = 0;
    OPENSSL_cleanse(master, sizeof(master));
    OPENSSL_cleanse(hex, sizeof(hex));
    return rc;
}

/* ------------------------------------------------------- seal and open */

size_t og_session_seal_blob(const struct og_session_keys *k, const char *purpose,
                            const unsigned char *plain, size_t plen, char *out, size_t cap)
{
    unsigned char raw[RAW_MAX];
    EVP_CIPHER_CTX *c = NULL;
    int n = 0, fin = 0;
    long enc;
    size_t total = 1 + IV_LEN + plen + TAG_LEN;
    size_t result = 0;
    unsigned char ver = VERSION;

    if (!k || !purpose || total > sizeof(raw))
        return 0;
    raw[0] = ver;
    if (RAND_bytes(raw + 1, IV_LEN) != 1)
        return 0;
    c = EVP_CIPHER_CTX_new();
    if (!c ||
        EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, k->enc, raw + 1) != 1 ||
        EVP_EncryptUpdate(c, NULL, &n, &ver, 1) != 1 ||
        EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)purpose, (int)strlen(purpose)) != 1 ||
        EVP_EncryptUpdate(c, raw + 1 + IV_LEN, &n, plain, (int)plen) != 1 ||
        (size_t)n != plen ||
        EVP_EncryptFinal_ex(c, raw + 1 + IV_LEN + n, &fin) != 1 || fin != 0 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + 1 + IV_LEN + plen) != 1)
        goto done;
    enc = og_base64_encode(raw, total, out, cap, true);
    if (enc > 0 && (size_t)enc < cap && (size_t)enc <= OG_SESSION_VALUE_MAX) {
        out[enc] = '\0';
        result = (size_t)enc;
    }
done:
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(raw, sizeof(raw));
    return result;
}

long og_session_open_blob(const struct og_session_keys *k, const char *purpose,
                          const char *value, size_t len, unsigned char *plain, size_t cap)
{
    unsigned char raw[RAW_MAX];
    EVP_CIPHER_CTX *c = NULL;
    long rawlen, result = -1;
    size_t clen;
    int n = 0, fin = 0;

    if (!k || !purpose || len == 0 || len > OG_SESSION_VALUE_MAX)
        return -1;
    rawlen = og_base64_decode(value, len, raw, sizeof(raw), true);
    if (rawlen < 1 + IV_LEN + TAG_LEN || raw[0] != VERSION)
        return -1;
    clen = (size_t)rawlen - 1 - IV_LEN - TAG_LEN;
    if (clen > cap)
        return -1;
    c = EVP_CIPHER_CTX_new();
    if (!c ||
        EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, k->enc, raw + 1) != 1 ||
        EVP_DecryptUpdate(c, NULL, &n, raw, 1) != 1 ||
        EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)purpose, (int)strlen(purpose)) != 1 ||
        (clen > 0 && EVP_DecryptUpdate(c, plain, &n, raw + 1 + IV_LEN, (int)clen) != 1) ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + 1 + IV_LEN + clen) != 1 ||
        EVP_DecryptFinal_ex(c, plain + (clen > 0 ? n : 0), &fin) != 1) {
        if (cap)
            OPENSSL_cleanse(plain, clen < cap ? clen : cap);
        goto done;
    }
    result = (long)clen;
done:
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(raw, sizeof(raw));
    return result;
}

/* ----------------------------------------------------- session encoding */

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Names must be non-empty, at most 255 bytes, without NUL or control bytes. */
static bool plain_name(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

long og_session_encode(const struct og_session *s, unsigned char *out, size_t cap)
{
    size_t ulen = strnlen(s->user, sizeof(s->user)), pos = 0, sidn;
    unsigned char sid[SID_BYTES];

    sidn = strnlen(s->sid, sizeof(s->sid));
    if (sidn != SID_BYTES * 2 || ulen >= sizeof(s->user) || !plain_name(s->user, ulen) ||
        s->ngroups > OG_ID_MAX_GROUPS || s->ngroups > 255)
        return -1;
    for (size_t i = 0; i < SID_BYTES; i++) {
        int hi = og_hex_value((unsigned char)s->sid[2 * i]);
        int lo = og_hex_value((unsigned char)s->sid[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        sid[i] = (unsigned char)(hi << 4 | lo);
    }
    if (cap < 8 + 8 + SID_BYTES + 1 + ulen + 1)
        return -1;
    put64(out, (uint64_t)s->issued);
    put64(out + 8, (uint64_t)s->expires);
    memcpy(out + 16, sid, SID_BYTES);
    pos = 16 + SID_BYTES;
    out[pos++] = (unsigned char)ulen;
    memcpy(out + pos, s->user, ulen);
    pos += ulen;
    out[pos++] = (unsigned char)s->ngroups;
    for (size_t i = 0; i < s->ngroups; i++) {
        const char *g = s->group_ptrs[i];
        size_t glen = g ? strlen(g) : 0;
        if (!plain_name(g ? g : "", glen) || pos + 1 + glen > cap)
            return -1;
        out[pos++] = (unsigned char)glen;
        memcpy(out + pos, g, glen);
        pos += glen;
    }
    return (long)pos;
}

int og_session_decode(const unsigned char *in, size_t len, struct og_session *out)
{
    size_t pos, ulen, ng, used = 0;

    memset(out, 0, sizeof(*out));
    if (len < 16 + SID_BYTES + 2)
        return -1;
    out->issued = (time_t)get64(in);
    out->expires = (time_t)get64(in + 8);
    if (out->issued < 0 || out->expires < out->issued)
        goto bad;
    og_hex_encode(in + 16, SID_BYTES, out->sid);
    pos = 16 + SID_BYTES;
    ulen = in[pos++];
    if (ulen > OG_USER_MAX || pos + ulen + 1 > len || !plain_name((const char *)in + pos, ulen))
        goto bad;
    memcpy(out->user, in + pos, ulen);
    out->user[ulen] = '\0';
    pos += ulen;
    ng = in[pos++];
    if (ng > OG_ID_MAX_GROUPS)
        goto bad;
    for (size_t i = 0; i < ng; i++) {
        size_t glen;
        if (pos >= len)
            goto bad;
        glen = in[pos++];
        if (pos + glen > len || used + glen + 1 > sizeof(out->group_buf) ||
            !plain_name((const char *)in + pos, glen))
            goto bad;
        memcpy(out->group_buf + used, in + pos, glen);
        out->group_buf[used + glen] = '\0';
        out->group_ptrs[i] = out->group_buf + used;
        used += glen + 1;
        pos += glen;
    }
    out->ngroups = ng;
    if (pos != len)
        goto bad;
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

int og_session_new(struct og_session *s, const char *user, const char *const *groups,
                   size_t ngroups, time_t now, int lifetime_s)
{
    unsigned char sid[SID_BYTES];
    size_t ulen = user ? strlen(user) : 0, used = 0;

    memset(s, 0, sizeof(*s));
    if (ulen > OG_USER_MAX || !plain_name(user ? user : "", ulen) ||
        RAND_bytes(sid, SID_BYTES) != 1)
        return -1;
    memcpy(s->user, user, ulen + 1);
    og_hex_encode(sid, SID_BYTES, s->sid);
    for (size_t i = 0; i < ngroups && s->ngroups < OG_ID_MAX_GROUPS && s->ngroups < 255; i++) {
        size_t glen = strlen(groups[i]);
        if (!plain_name(groups[i], glen))
            continue;                   /* a group name we could not seal: dropped */
        if (used + glen + 1 > sizeof(s->group_buf))
            break;
        memcpy(s->group_buf + used, groups[i], glen + 1);
        s->group_ptrs[s->ngroups++] = s->group_buf + used;
        used += glen + 1;
    }
    s->issued = now;
    s->expires = now + (lifetime_s > 0 ? lifetime_s : 28800);
    return 0;
}

size_t og_session_seal(const struct og_session_keys *k, const struct og_session *s,
                       char *out, size_t cap)
{
    unsigned char plain[RAW_MAX];
    long n = og_session_encode(s, plain, sizeof(plain));
    size_t r = 0;

    if (n > 0)
        r = og_session_seal_blob(k, OG_SESSION_COOKIE, plain, (size_t)n, out, cap);
    OPENSSL_cleanse(plain, sizeof(plain));
    return r;
}

int og_session_open_value(const struct og_session_keys *k, const char *value, size_t len,
                          time_t now, struct og_session *out)
{
    unsigned char plain[RAW_MAX];
    long n = og_session_open_blob(k, OG_SESSION_COOKIE, value, len, plain, sizeof(plain));
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (n >= 0 && og_session_decode(plain, (size_t)n, out) == 0) {
        if (now < out->expires && out->issued <= now + 300)   /* 5 min of clock skew */
            rc = 0;
        else
            memset(out, 0, sizeof(*out));
    }
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}

const char *og_cookie_find(const char *header, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name), i = 0;

    if (!header)
        return NULL;
    while (i < len) {
        size_t start, eq, end;
        while (i < len && (header[i] == ' ' || header[i] == '\t' || header[i] == ';'))
            i++;
        start = i;
        while (i < len && header[i] != ';')
            i++;
        end = i;
        while (end > start && (header[end - 1] == ' ' || header[end - 1] == '\t'))
            end--;
        for (eq = start; eq < end && header[eq] != '='; eq++)
            ;
        if (eq < end && eq - start == nlen && memcmp(header + start, name, nlen) == 0) {
            const char *v = header + eq + 1;
            size_t vl = end - eq - 1;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                v++;
                vl -= 2;
            }
            *vlen = vl;
            return v;
        }
    }
    return NULL;
}

int og_session_open(const struct og_session_keys *k, const char *cookie_header, size_t len,
                    time_t now, struct og_session *out)
{
    size_t vlen = 0;
    const char *v;

    memset(out, 0, sizeof(*out));
    if (!k || !cookie_header)
        return -1;
    /* several cookies of that name (another Path): the first that opens */
    while ((v = og_cookie_find(cookie_header, len, OG_SESSION_COOKIE, &vlen)) != NULL) {
        if (og_session_open_value(k, v, vlen, now, out) == 0)
            return 0;
        {
            size_t skip = (size_t)(v + vlen - cookie_header);
            if (skip >= len)
                break;
            len -= skip;
            cookie_header += skip;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ CSRF */

void og_session_csrf(const struct og_session_keys *k, const struct og_session *s,
                     char out[OG_SESSION_CSRF_LEN + 1])
{
    unsigned char mac[32];
    unsigned int n = 0;
    char msg[sizeof(s->sid) + 32];
    int mlen = snprintf(msg, sizeof(msg), "csrf:%s", s->sid);

    out[0] = '\0';
    if (!k || mlen <= 0 || !HMAC(EVP_sha256(), k->csrf, KEY_LEN, (const unsigned char *)msg,
                                 (size_t)mlen, mac, &n) || n != 32)
        return;
    og_hex_encode(mac, 32, out);
}

bool og_session_csrf_ok(const struct og_session_keys *k, const struct og_session *s,
                        const char *tok, size_t len)
{
    char want[OG_SESSION_CSRF_LEN + 1];

    if (!k || !tok || len != OG_SESSION_CSRF_LEN)
        return false;
    og_session_csrf(k, s, want);
    if (strlen(want) != OG_SESSION_CSRF_LEN)
        return false;
    return CRYPTO_memcmp(want, tok, OG_SESSION_CSRF_LEN) == 0;
}

/* -------------------------------------------------------------- identity */

void og_session_identity(const struct og_config *cfg, const struct og_session *s,
                         struct og_identity *id, struct og_identity_store *store)
{
    memset(id, 0, sizeof(*id));
    memcpy(store->user, s->user, sizeof(store->user));
    store->key_id[0] = '\0';
    store->key_origin = 0;
    id->user = s->user;
    id->auth = OG_AUTH_OPENID;
    id->groups = s->group_ptrs;
    id->ngroups = s->ngroups;
    og_identity_groups_csv(cfg, id, store);
}

/* --------------------------------------------------------------- cookies */

/* Is dir (dlen bytes) a directory prefix of path? */
static bool under_dir(const char *path, const char *dir, size_t dlen)
{
    return strncmp(path, dir, dlen) == 0 && (path[dlen] == '/' || path[dlen] == '\0');
}

void og_session_cookie_path(const struct og_config *cfg, char *out, size_t cap)
{
    const char *eps[4] = { cfg->endpoint_login, cfg->endpoint_callback, cfg->endpoint_logout,
                           cfg->endpoint_keys };
    char dir[1024] = "";
    size_t dlen = 0;
    bool first = true;

    for (size_t i = 0; i < 4; i++) {
        const char *e = eps[i], *slash;
        if (!e || e[0] != '/')
            continue;
        if (first) {
            slash = strrchr(e, '/');
            dlen = (size_t)(slash - e);
            if (dlen >= sizeof(dir))
                dlen = 0;
            memcpy(dir, e, dlen);
            dir[dlen] = '\0';
            first = false;
        }
        while (dlen > 0 && !under_dir(e, dir, dlen)) {
            char *s = strrchr(dir, '/');
            dlen = s ? (size_t)(s - dir) : 0;
            dir[dlen] = '\0';
        }
    }
    snprintf(out, cap, "%s", dlen ? dir : "/");
}

size_t og_session_cookie(const struct og_config *cfg, const char *name, const char *value,
                         const char *path, int max_age, char *out, size_t cap)
{
    bool secure = cfg->external_url && strncmp(cfg->external_url, "https://", 8) == 0;
    int n = snprintf(out, cap, "%s=%s; Path=%s; Max-Age=%d; HttpOnly; SameSite=Lax%s", name,
                     value ? value : "", path, max_age > 0 ? max_age : 0,
                     secure ? "; Secure" : "");

    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
