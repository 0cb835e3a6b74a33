/*
 * test_users.h - the htpasswd users the unit tests log in with: a file made
 * with crypt(3) in a temporary directory, loaded, and removed again.
 *   alice: "right-pw" (sha-crypt $5$), bob: "bob-pw" (bcrypt $2b$)
 */
#ifndef OCIGATE_TEST_USERS_H
#define OCIGATE_TEST_USERS_H

struct og_htpasswd;

/* The two users, loaded; NULL on failure (the reason on stderr). */
struct og_htpasswd *og_test_users_load(void);

#endif
