/*
 * htpasswd.h - htpasswd users (bcrypt, sha-crypt) with a per-worker cache.
 */
#ifndef OCIGATE_HTPASSWD_H
#define OCIGATE_HTPASSWD_H

#include <stdbool.h>
#include <stddef.h>

struct og_htpasswd;

/* Load a file. Lines with unsupported hash types are skipped with a warning
   on stderr (those users cannot log in). NULL + err on I/O or syntax errors. */
struct og_htpasswd *og_htpasswd_load(const char *path, char *err, size_t errlen);
void og_htpasswd_free(struct og_htpasswd *h);
size_t og_htpasswd_count(const struct og_htpasswd *h);

enum og_ht_result { OG_HT_OK = 0, OG_HT_BAD_PASSWORD, OG_HT_UNKNOWN_USER, OG_HT_ERROR };

/* Verify user/password. A success is remembered for 60 s under an HMAC of
   (user, password, stored hash) with a per-process random key; the password
   itself is never stored. cache_hit (may be NULL) says whether crypt ran. */
enum og_ht_result og_htpasswd_verify(struct og_htpasswd *h, const char *user,
                                     const char *password, size_t password_len,
                                     int *cache_hit);

/* Is user in the file (as loaded)? No password check, no allocation. */
bool og_htpasswd_has_user(const struct og_htpasswd *h, const char *user);

#endif
