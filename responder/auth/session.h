/*
 * session.h - the browser session behind ocigate's own pages (sign-in and
 * the key page): a cookie that holds nothing secret in clear.
 *
 * The cookie value is the session sealed with AES-256-GCM under the key in
 * session.keyFile (shared by every worker and host; `ocigate session-key
 * generate` writes one), base64url-encoded. Opening checks the tag, the
 * format version and the expiry; anything else is "no session". The CSRF
 * token of the key page's forms is an HMAC of the session's random id
 * under the same key, so it is bound to one sign-in.
 */
#ifndef OCIGATE_SESSION_H
#define OCIGATE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "identity.h"

#define OG_SESSION_COOKIE    "ocigate_session"
#define OG_SESSION_VALUE_MAX 3800   /* a sealed cookie value never exceeds this */
#define OG_SESSION_CSRF_LEN  64     /* hex characters */

struct og_session_keys;   /* the loaded key file; owned by the master, read by workers */

/* Load session.keyFile (mode must not allow group or other access). NULL and
   err filled (no key material in it) on any problem. */
struct og_session_keys *og_session_keys_load(const char *path, char *err, size_t errlen);
void og_session_keys_free(struct og_session_keys *k);

/* A signed-in person: what the ID token said, mapped by claimMapping. */
struct og_session {
    char user[OG_USER_MAX + 1];
    char group_buf[2048];                 /* group names, NUL-separated */
    const char *group_ptrs[OG_ID_MAX_GROUPS];
    size_t ngroups;
    char sid[33];                         /* random per sign-in (hex): binds the CSRF token */
    time_t issued;
    time_t expires;                       /* issued + session.lifetimeSeconds */
};

/* Seal s into a cookie value (NUL-terminated). Returns its length, 0 on failure. */
size_t og_session_seal(const struct og_session_keys *k, const struct og_session *s,
                       char *out, size_t cap);

/* Find the OG_SESSION_COOKIE cookie in a Cookie header (len bytes) and open
   it. 0 with out filled; -1 when there is none, or it is forged, damaged,
   sealed under another key or expired at now. */
int og_session_open(const struct og_session_keys *k, const char *cookie_header, size_t len,
                    time_t now, struct og_session *out);

/* The CSRF token bound to s (OG_SESSION_CSRF_LEN hex characters + NUL). */
void og_session_csrf(const struct og_session_keys *k, const struct og_session *s,
                     char out[OG_SESSION_CSRF_LEN + 1]);

/* Does tok (len bytes) equal the CSRF token of s? Constant time. */
bool og_session_csrf_ok(const struct og_session_keys *k, const struct og_session *s,
                        const char *tok, size_t len);

/* The identity of a session (auth openid): user and groups point into s,
   which must outlive id. Fills store->groups_csv like og_identity_groups_csv. */
void og_session_identity(const struct og_config *cfg, const struct og_session *s,
                         struct og_identity *id, struct og_identity_store *store);

/* ---- additions used by the sign-in pages, tests and fuzzers ---- */

/* Keys from 32 raw bytes (tests); NULL when len != 32. */
struct og_session_keys *og_session_keys_from_bytes(const unsigned char *master, size_t len);

/* Write a new key file's contents to f (64 hex digits and a newline; a
   regular file is chmod 0600 first). 0 or -1. */
int og_session_key_generate(FILE *f);

/* A new session for user and groups (copied; names with control bytes are
   dropped), a fresh random sid, issued now, expiring now + lifetime_s. 0 or -1. */
int og_session_new(struct og_session *s, const char *user, const char *const *groups,
                   size_t ngroups, time_t now, int lifetime_s);

/* Open one cookie value (not a whole header). 0 or -1, as og_session_open. */
int og_session_open_value(const struct og_session_keys *k, const char *value, size_t len,
                          time_t now, struct og_session *out);

/* Seal / open any bytes (at most ~2800) under the session key, bound to a
   purpose label (a cookie name): a value sealed for one purpose never opens
   for another. seal: cookie value length (NUL-terminated in out), 0 on
   failure. open: plaintext length, -1 when forged, damaged or too long. */
size_t og_session_seal_blob(const struct og_session_keys *k, const char *purpose,
                            const unsigned char *plain, size_t plen, char *out, size_t cap);
long og_session_open_blob(const struct og_session_keys *k, const char *purpose,
                          const char *value, size_t len, unsigned char *plain, size_t cap);

/* The session's plaintext format (version 1), exposed for tests: encode
   returns its length or -1; decode 0 or -1 (bounded, no trailing bytes). */
long og_session_encode(const struct og_session *s, unsigned char *out, size_t cap);
int og_session_decode(const unsigned char *in, size_t len, struct og_session *out);

/* The value of cookie `name` in a Cookie header (len bytes): pointer into
   header and *vlen, or NULL. Surrounding double quotes are removed. */
const char *og_cookie_find(const char *header, size_t len, const char *name, size_t *vlen);

/* The Path of ocigate's browser cookies: the longest directory common to
   endpoints.login, callback, logout and keys ("/ocigate" with the defaults;
   "/" when they share none). */
void og_session_cookie_path(const struct og_config *cfg, char *out, size_t cap);

/* A Set-Cookie value: NAME=VALUE; Path=PATH; Max-Age=MAX_AGE; HttpOnly;
   SameSite=Lax, and Secure when externalUrl is https. max_age 0 (with an
   empty value) clears the cookie. Its length, 0 when it does not fit. */
size_t og_session_cookie(const struct og_config *cfg, const char *name, const char *value,
                         const char *path, int max_age, char *out, size_t cap);

#endif
