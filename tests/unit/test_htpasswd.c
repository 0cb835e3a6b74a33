/*
 * test_htpasswd.c - htpasswd files: loading, verifying, and the edge a
 * review found: a file with no users left the user table NULL, and qsort()
 * and bsearch() were called on it (undefined behaviour: glibc declares both
 * arguments non-null). This test and responder/auth/htpasswd.c are built with
 * -fsanitize=undefined -fno-sanitize-recover where the compiler can, so any
 * undefined behaviour on these paths fails the test instead of passing by
 * luck.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htpasswd.h"

static char path[64];

static struct og_htpasswd *load_text(const char *text)
{
    char err[256] = "";
    struct og_htpasswd *h;
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/og-htpasswd-XXXXXX");
    {
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
    }
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    h = og_htpasswd_load(path, err, sizeof(err));
    if (!h)
        fail_msg("load: %s", err);
    unlink(path);
    return h;
}

static void no_users(const char *text)
{
    struct og_htpasswd *h = load_text(text);
    int hit = -1;

    assert_int_equal(og_htpasswd_count(h), 0);
    assert_int_equal(og_htpasswd_verify(h, "alice", "secret", 6, &hit), OG_HT_UNKNOWN_USER);
    assert_int_equal(hit, 0);
    og_htpasswd_free(h);
}

static void empty_file(void **state)
{
    (void)state;
    no_users("");
}

static void only_comments_and_blank_lines(void **state)
{
    (void)state;
    no_users("# nobody yet\n\n# still nobody\n");
}

static void only_unsupported_hashes(void **state)
{
    (void)state;
    no_users("old:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nplain:secret\n");
}

static void users_are_found(void **state)
{
    char line[256];
    const char *hash = crypt("s3cret-pw", "$5$abcdefgh$");
    struct og_htpasswd *h;
    int hit = -1;
    (void)state;

    assert_non_null(hash);
    snprintf(line, sizeof(line), "carol:%s\nbob:%s\n", hash, hash);
    h = load_text(line);
    assert_int_equal(og_htpasswd_count(h), 2);
    assert_int_equal(og_htpasswd_verify(h, "bob", "s3cret-pw", 9, &hit), OG_HT_OK);
    assert_int_equal(hit, 0);
    assert_int_equal(og_htpasswd_verify(h, "bob", "s3cret-pw", 9, &hit), OG_HT_OK);
    assert_int_equal(hit, 1);                              /* remembered */
    assert_int_equal(og_htpasswd_verify(h, "carol", "wrong", 5, NULL), OG_HT_BAD_PASSWORD);
    assert_int_equal(og_htpasswd_verify(h, "dave", "s3cret-pw", 9, NULL), OG_HT_UNKNOWN_USER);
    og_htpasswd_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_file),
        cmocka_unit_test(only_comments_and_blank_lines),
        cmocka_unit_test(only_unsupported_hashes),
        cmocka_unit_test(users_are_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
