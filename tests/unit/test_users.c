/*
 * test_users.c - the htpasswd users of the unit tests (see test_users.h).
 */
#include "test_users.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htpasswd.h"

struct og_htpasswd *og_test_users_load(void)
{
    char path[] = "/tmp/og-users-XXXXXX", err[256];
    struct og_htpasswd *users;
    const char *h1, *h2;
    char *alice;
    FILE *f;
    int fd;

    h1 = crypt("right-pw", "$5$abcdefgh$");
    if (!h1 || h1[0] != '$')
        return NULL;
    alice = strdup(h1);                       /* crypt() reuses its buffer */
    h2 = crypt("bob-pw", "$2b$05$abcdefghijklmnopqrstuu");
    if (!alice || !h2 || strncmp(h2, "$2b$", 4) != 0) {
        free(alice);
        return NULL;
    }
    fd = mkstemp(path);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        free(alice);
        return NULL;
    }
    fprintf(f, "# made by tests/unit/test_users.c\nalice:%s\nbob:%s\n", alice, h2);
    fclose(f);
    free(alice);
    users = og_htpasswd_load(path, err, sizeof(err));
    unlink(path);
    if (!users || og_htpasswd_count(users) != 2) {
        fprintf(stderr, "htpasswd: %s\n", users ? "not two users" : err);
        og_htpasswd_free(users);
        return NULL;
    }
    return users;
}
