/*
 * test_listen_spec.c - unit tests of og_listen_unix_parse
 * (responder/listen_spec.c): `--listen unix:PATH[,mode=OCTAL][,group=NAME|GID]`
 * read into path, mode and group; options in any order, each at most once;
 * every refusal names the option at fault; the default mode is 0660 with or
 * without group=; only LEN bytes are read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "listen_spec.h"

static char err[256];

static int parse(const char *spec, struct og_listen_unix *u)
{
    return og_listen_unix_parse(spec, strlen(spec), u, err, sizeof(err));
}

/* refused TEXT ERRPART: refused, and the message holds ERRPART */
static void refused(const char *spec, const char *errpart)
{
    struct og_listen_unix u;

    if (parse(spec, &u) != -1)
        fail_msg("accepted: \"%s\"", spec);
    if (!strstr(err, errpart))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", spec, err, errpart);
}

static void path_alone_keeps_todays_default(void **state)
{
    struct og_listen_unix u;

    (void)state;
    assert_int_equal(parse("/run/ocigate/ocigate.sock", &u), 0);
    assert_string_equal(u.path, "/run/ocigate/ocigate.sock");
    assert_int_equal(u.mode, 0660);
    assert_false(u.mode_given);
    assert_false(u.group_given);
    assert_string_equal(err, "");
}

static void mode_alone_as_today(void **state)
{
    struct og_listen_unix u;

    (void)state;
    assert_int_equal(parse("/run/og.sock,mode=0666", &u), 0);
    assert_string_equal(u.path, "/run/og.sock");
    assert_int_equal(u.mode, 0666);
    assert_true(u.mode_given);
    assert_false(u.group_given);
    assert_int_equal(parse("og.sock,mode=600", &u), 0);
    assert_int_equal(u.mode, 0600);
    assert_int_equal(parse("og.sock,mode=0", &u), 0);
    assert_int_equal(u.mode, 0);
    assert_int_equal(parse("og.sock,mode=0777", &u), 0);
    assert_int_equal(u.mode, 0777);
    assert_int_equal(parse("og.sock,mode=00660", &u), 0);   /* as strtol read it before */
    assert_int_equal(u.mode, 0660);
}

static void group_by_name(void **state)
{
    struct og_listen_unix u;

    (void)state;
    assert_int_equal(parse("/run/og.sock,mode=0660,group=www-data", &u), 0);
    assert_string_equal(u.path, "/run/og.sock");
    assert_int_equal(u.mode, 0660);
    assert_true(u.group_given);
    assert_false(u.group_is_gid);
    assert_string_equal(u.group, "www-data");
    /* a Samba machine account style name, dots and underscores */
    assert_int_equal(parse("/s,group=host$", &u), 0);
    assert_string_equal(u.group, "host$");
    assert_int_equal(parse("/s,group=_nginx.web-1", &u), 0);
    assert_string_equal(u.group, "_nginx.web-1");
}

static void group_alone_defaults_to_0660(void **state)
{
    struct og_listen_unix u;

    (void)state;
    assert_int_equal(parse("/run/og.sock,group=www-data", &u), 0);
    assert_int_equal(u.mode, 0660);
    assert_false(u.mode_given);
    assert_true(u.group_given);
}

static void options_in_any_order(void **state)
{
    struct og_listen_unix a, b;

    (void)state;
    assert_int_equal(parse("/s,mode=0640,group=nginx", &a), 0);
    assert_int_equal(parse("/s,group=nginx,mode=0640", &b), 0);
    assert_int_equal(a.mode, b.mode);
    assert_int_equal(a.mode, 0640);
    assert_string_equal(a.group, b.group);
    assert_string_equal(b.group, "nginx");
    assert_true(b.mode_given && b.group_given);
}

static void numeric_gid(void **state)
{
    struct og_listen_unix u;

    (void)state;
    assert_int_equal(parse("/s,group=33", &u), 0);
    assert_true(u.group_is_gid);
    assert_int_equal(u.gid, 33);
    assert_string_equal(u.group, "");
    assert_int_equal(parse("/s,group=0", &u), 0);
    assert_int_equal(u.gid, 0);
    assert_int_equal(parse("/s,group=4294967294", &u), 0);
    assert_int_equal(u.gid, 4294967294u);
    /* (gid_t)-1 would mean "leave the group" to chown */
    refused("/s,group=4294967295", "group=4294967295: gid out of range");
    refused("/s,group=99999999999", "group=99999999999: gid out of range");
    refused("/s,group=00000000033", "gid out of range");
}

static void unknown_and_duplicate_options(void **state)
{
    (void)state;
    refused("/s,owner=root", "unknown option \"owner\"");
    refused("/s,mode=0660,user=www-data", "unknown option \"user\"");
    refused("/s,Mode=0660", "unknown option \"Mode\"");
    refused("/s,modes=0660", "unknown option \"modes\"");
    refused("/s,grp=www-data", "unknown option \"grp\"");
    refused("/s,0660", "unknown option \"0660\"");
    refused("/s,mode=0660,mode=0600", "mode= given twice");
    refused("/s,group=a,mode=0600,group=b", "group= given twice");
    refused("/s,group=a,group=a", "group= given twice");
}

static void bad_values(void **state)
{
    (void)state;
    refused("/s,mode=", "mode=: expected an octal mode");
    refused("/s,mode", "mode=: expected an octal mode");
    refused("/s,mode=0860", "mode=0860");
    refused("/s,mode=1777", "mode=1777");     /* no sticky/setgid bits */
    refused("/s,mode=01000", "mode=01000");
    refused("/s,mode=0000660", "mode=0000660");           /* 7 digits: too long */
    refused("/s,mode= 0660", "mode= 0660");
    refused("/s,mode=+660", "mode=+660");
    refused("/s,mode=-0", "mode=-0");
    refused("/s,mode=0x1b0", "mode=0x1b0");
    refused("/s,mode=rw", "mode=rw");
    refused("/s,group=", "group=: expected a group name or a numeric gid");
    refused("/s,group", "group=: expected");
    refused("/s,group=-x", "group=-x: not a valid group name");
    refused("/s,group=www data", "not a valid group name");
    refused("/s,group=a:b", "not a valid group name");
    refused("/s,group=a/b", "not a valid group name");
    refused("/s,group=a\tb", "not a valid group name");
    refused("/s,group=caf\xc3\xa9", "not a valid group name");
    refused("/s,group=0123456789012345678901234567890123456789012345678901234567890123x",
            "not a valid group name");
}

static void stray_commas_and_paths(void **state)
{
    char longp[OG_LISTEN_PATH_MAX + 8];
    struct og_listen_unix u;

    (void)state;
    refused("", "path empty");
    refused(",mode=0660", "path empty");
    refused("/s,", "an empty option");
    refused("/s,,mode=0660", "an empty option");
    refused("/s,mode=0660,", "an empty option");
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    refused(longp, "path too long");
    /* the longest path that fits */
    longp[OG_LISTEN_PATH_MAX - 1] = '\0';
    assert_int_equal(parse(longp, &u), 0);
    assert_int_equal(strlen(u.path), OG_LISTEN_PATH_MAX - 1);
    /* a relative path, as today */
    assert_int_equal(parse("og.sock", &u), 0);
    assert_string_equal(u.path, "og.sock");
}

static void reads_only_len_bytes(void **state)
{
    /* exactly LEN bytes from a heap block of that size: no NUL needed */
    static const char text[] = "/run/og.sock,mode=0640,group=www-data";
    size_t n = sizeof(text) - 1;
    char *exact = malloc(n);
    struct og_listen_unix u;

    (void)state;
    assert_non_null(exact);
    memcpy(exact, text, n);
    assert_int_equal(og_listen_unix_parse(exact, n, &u, err, sizeof(err)), 0);
    assert_string_equal(u.group, "www-data");
    assert_int_equal(u.mode, 0640);
    /* a shorter LEN cuts the group name */
    assert_int_equal(og_listen_unix_parse(exact, n - 5, &u, err, sizeof(err)), 0);
    assert_string_equal(u.group, "www");
    /* a NUL inside LEN is refused, not silently cut */
    assert_int_equal(og_listen_unix_parse("/s\0,group=x", 11, &u, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL"));
    free(exact);
}

static void message_is_bounded(void **state)
{
    char small[16], big[600];
    struct og_listen_unix u;

    (void)state;
    /* a tiny buffer: cut, still terminated */
    memset(small, 'x', sizeof(small));
    assert_int_equal(og_listen_unix_parse("/s,owner=root", 13, &u, small, sizeof(small)), -1);
    assert_true(memchr(small, '\0', sizeof(small)) != NULL);
    /* no buffer at all */
    assert_int_equal(og_listen_unix_parse("/s,owner=root", 13, &u, NULL, 0), -1);
    /* a very long unknown option is quoted back cut, not whole */
    memcpy(big, "/s,", 3);
    memset(big + 3, 'o', sizeof(big) - 4);
    big[sizeof(big) - 1] = '\0';
    refused(big, "unknown option");
    assert_true(strlen(err) < 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_alone_keeps_todays_default),
        cmocka_unit_test(mode_alone_as_today),
        cmocka_unit_test(group_by_name),
        cmocka_unit_test(group_alone_defaults_to_0660),
        cmocka_unit_test(options_in_any_order),
        cmocka_unit_test(numeric_gid),
        cmocka_unit_test(unknown_and_duplicate_options),
        cmocka_unit_test(bad_values),
        cmocka_unit_test(stray_commas_and_paths),
        cmocka_unit_test(reads_only_len_bytes),
        cmocka_unit_test(message_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
