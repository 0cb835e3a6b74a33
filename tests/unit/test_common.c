/*
 * test_common.c - unit tests of the pure helpers in common/: the bounded
 * writer (buf.c: never past its array, truncation flag, JSON and
 * quoted-string escaping), hex, one-shot SHA-256, the monotonic clock and
 * the text checks (control bytes, displayable UTF-8).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "digest.h"
#include "hex.h"
#include "self.h"
#include "text.h"

/* ---- buf.c ---------------------------------------------------------------- */

static void buf_appends_and_terminates(void **state)
{
    char mem[64];
    struct og_buf b;

    (void)state;
    og_buf_init(&b, mem, sizeof(mem));
    assert_string_equal(mem, "");
    og_buf_put(&b, "ab", 2);
    og_buf_puts(&b, "cd");
    og_buf_puts(&b, NULL);
    og_buf_printf(&b, "-%d-%s", 42, "x");
    assert_string_equal(mem, "abcd-42-x");
    assert_int_equal(b.len, 9);
    assert_false(b.truncated);
}

/* A byte past the array would be a write into the guard bytes. */
static void buf_never_writes_past_cap(void **state)
{
    char mem[16];
    struct og_buf b;

    (void)state;
    memset(mem, 'G', sizeof(mem));
    og_buf_init(&b, mem, 8);
    og_buf_puts(&b, "0123456789");
    assert_true(b.truncated);
    assert_int_equal(b.len, 7);
    assert_string_equal(mem, "0123456");
    for (size_t i = 8; i < sizeof(mem); i++)
        assert_int_equal(mem[i], 'G');
    og_buf_printf(&b, "%s", "more");          /* full: nothing more, still cut */
    og_buf_json(&b, "x\"y", 10);
    assert_int_equal(b.len, 7);
    assert_true(b.truncated);
    for (size_t i = 8; i < sizeof(mem); i++)
        assert_int_equal(mem[i], 'G');
}

static void buf_printf_cut_sets_truncated(void **state)
{
    char mem[8];
    struct og_buf b;

    (void)state;
    og_buf_init(&b, mem, sizeof(mem));
    og_buf_printf(&b, "%d", 1234567);        /* exactly fits: 7 bytes and NUL */
    assert_false(b.truncated);
    og_buf_init(&b, mem, sizeof(mem));
    og_buf_printf(&b, "%d", 12345678);
    assert_true(b.truncated);
    assert_string_equal(mem, "1234567");
}

static void buf_zero_capacity(void **state)
{
    char mem[1] = { 'G' };
    struct og_buf b;

    (void)state;
    og_buf_init(&b, mem, 0);
    og_buf_puts(&b, "a");
    og_buf_printf(&b, "b");
    assert_true(b.truncated);
    assert_int_equal(b.len, 0);
    assert_int_equal(mem[0], 'G');
}

static void buf_rewind(void **state)
{
    char mem[32];
    struct og_buf b;
    size_t saved;

    (void)state;
    og_buf_init(&b, mem, sizeof(mem));
    og_buf_puts(&b, "a.b");
    saved = b.len;
    og_buf_puts(&b, "[0]");
    og_buf_rewind(&b, saved);
    assert_string_equal(mem, "a.b");
    og_buf_rewind(&b, 99);                      /* never grows */
    assert_string_equal(mem, "a.b");
}

static void buf_json_escapes(void **state)
{
    char mem[128];
    struct og_buf b;

    (void)state;
    og_buf_init(&b, mem, sizeof(mem));
    og_buf_json(&b, "a\"b\\c\n\x01\x7f\xc3\xa9", 64);
    assert_string_equal(mem, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\xc3\xa9\"");
    og_buf_init(&b, mem, sizeof(mem));
    og_buf_json(&b, "abcdef", 3);               /* at most max bytes */
    og_buf_json(&b, NULL, 3);
    og_buf_json(&b, "ab\0cd", 5);               /* stops at NUL */
    assert_string_equal(mem, "\"abc\"\"\"\"ab\"");
}

static void buf_quoted_and_printable(void **state)
{
    char mem[128];
    struct og_buf b;

    (void)state;
    og_buf_init(&b, mem, sizeof(mem));
    og_buf_quoted(&b, "re\"al\\m\r\n\xc3", 64);
    assert_string_equal(mem, "\"re\\\"al\\\\m???\"");
    og_buf_init(&b, mem, sizeof(mem));
    og_buf_printable(&b, "a b\tc\x7f\xff", 64);
    og_buf_printable(&b, "xyz", 2);
    assert_string_equal(mem, "a b?c??xy");
}

static void set_err_formats_and_bounds(void **state)
{
    char err[8];

    (void)state;
    og_set_err(err, sizeof(err), "%s %d", "bad", 12345);
    assert_string_equal(err, "bad 123");
    og_set_err(NULL, 10, "x");                  /* no crash */
    err[0] = 'G';
    og_set_err(err, 0, "x");
    assert_int_equal(err[0], 'G');
}

/* ---- hex.c, digest.c -------------------------------------------------------- */

static void hex_encode_and_values(void **state)
{
    const unsigned char in[] = { 0x00, 0x0f, 0xa5, 0xff };
    char out[9];

    (void)state;
    og_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "000fa5ff");
    og_hex_encode(in, 0, out);
    assert_string_equal(out, "");
    assert_int_equal(og_hex_value('0'), 0);
    assert_int_equal(og_hex_value('9'), 9);
    assert_int_equal(og_hex_value('a'), 10);
    assert_int_equal(og_hex_value('F'), 15);
    assert_int_equal(og_hex_value('g'), -1);
    assert_int_equal(og_hex_value(0xff), -1);
    assert_true(og_is_lower_hex("09af", 4));
    assert_false(og_is_lower_hex("09aF", 4));
    assert_true(og_is_lower_hex("zz", 0));
}

static void sha256_known_answers(void **state)
{
    unsigned char md[OG_SHA256_LEN];
    char hex[OG_SHA256_HEX_LEN + 1];

    (void)state;
    assert_true(og_sha256_hex("", 0, hex));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_true(og_sha256_hex("abc", 3, hex));
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(og_sha256("abc", 3, md));
    assert_int_equal(md[0], 0xba);
    assert_int_equal(md[31], 0xad);
}

/* RFC 4231 test case 2, twice with the same key (the context is reused), and
   a second key alongside. */
static void hmac_sha256_known_answers(void **state)
{
    unsigned char mac[OG_SHA256_LEN];
    char hex[OG_SHA256_HEX_LEN + 1];
    static const char want[] = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    struct og_hmac *h = og_hmac_new((const unsigned char *)"Jefe", 4);
    struct og_hmac *other = og_hmac_new((const unsigned char *)"another key", 11);

    (void)state;
    assert_non_null(h);
    assert_non_null(other);
    for (int i = 0; i < 2; i++) {
        assert_true(og_hmac_sha256(h, "what do ya want for nothing?", 28, mac));
        og_hex_encode(mac, sizeof mac, hex);
        assert_string_equal(hex, want);
        assert_true(og_hmac_sha256(other, "what do ya want for nothing?", 28, mac));
        og_hex_encode(mac, sizeof mac, hex);
        assert_string_not_equal(hex, want);
    }
    og_hmac_free(h);
    og_hmac_free(other);
    assert_false(og_hmac_sha256(NULL, "x", 1, mac));
}

/* ---- self.c ------------------------------------------------------------------- */

/* A forked child learns its own pid, though its parent asked before. */
static void self_pid_follows_fork(void **state)
{
    int fds[2], status = 0;
    pid_t child, seen = 0;

    (void)state;
    assert_int_equal(og_self_pid(), getpid());
    assert_int_equal(pipe(fds), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pid_t me = og_self_pid();
        _exit(write(fds[1], &me, sizeof me) == (ssize_t)sizeof me && me == getpid() ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &seen, sizeof seen), (ssize_t)sizeof seen);
    close(fds[0]);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(seen, child);
    assert_int_equal(og_self_pid(), getpid());
}

/* ---- clock.c ------------------------------------------------------------------ */

static void clock_is_monotonic(void **state)
{
    struct timespec t0, d;
    long long a, b;

    (void)state;
    og_mono_now(&t0);
    a = og_mono_ms();
    b = og_mono_ms();
    assert_true(b >= a);
    assert_true(og_us_since(&t0) >= 0);
    assert_true(og_ms_since(&t0) >= 0);
    og_deadline_in(&d, 60000);
    assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    assert_in_range(og_ms_until(&d), 59000, 60000);
    assert_true(og_ms_since(&d) < 0);
    og_deadline_in(&d, 999);
    assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    assert_int_equal(og_ms_until(&t0), 0);      /* passed: 0, never negative */
}

/* ---- text.c ------------------------------------------------------------------- */

static void control_bytes(void **state)
{
    (void)state;
    assert_true(og_is_control(0x00));
    assert_true(og_is_control(0x1f));
    assert_true(og_is_control(0x7f));
    assert_false(og_is_control(' '));
    assert_false(og_is_control(0x80));
    assert_false(og_has_control("abc", 3));
    assert_true(og_has_control("a\nc", 3));
    assert_true(og_has_control("ab\0", 3));    /* a NUL inside the length counts */
    assert_false(og_has_control("ab\n", 2));   /* never past the length */
    assert_true(og_is_printable_ascii('~'));
    assert_false(og_is_printable_ascii(0x7f));
    assert_false(og_is_printable_ascii('\t'));
}

static void utf8_text(void **state)
{
    (void)state;
    assert_true(og_utf8_text_ok("", 0));
    assert_true(og_utf8_text_ok("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", 14));
    assert_false(og_utf8_text_ok("\xc0\xaf", 2));           /* overlong '/' */
    assert_false(og_utf8_text_ok("\xed\xa0\x80", 3));       /* surrogate */
    assert_false(og_utf8_text_ok("\xf4\x90\x80\x80", 4));   /* above U+10FFFF */
    assert_false(og_utf8_text_ok("\xe2\x82", 2));           /* cut short */
    assert_false(og_utf8_text_ok("\xe2\x82\xac", 2));       /* cut by the length */
    assert_false(og_utf8_text_ok("\xff", 1));
    assert_false(og_utf8_text_ok("a\tb", 3));               /* C0 */
    assert_false(og_utf8_text_ok("\xc2\x85", 2));           /* C1 (NEL) */
    assert_false(og_utf8_text_ok("\xe2\x80\xae", 3));       /* RIGHT-TO-LEFT OVERRIDE */
    assert_false(og_utf8_text_ok("\xe2\x80\x8b", 3));       /* ZERO WIDTH SPACE */
    assert_false(og_utf8_text_ok("\xef\xbb\xbf", 3));       /* BOM */
    assert_false(og_utf8_text_ok("\xf3\xa0\x80\x81", 4));   /* tag character */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_appends_and_terminates),
        cmocka_unit_test(buf_never_writes_past_cap),
        cmocka_unit_test(buf_printf_cut_sets_truncated),
        cmocka_unit_test(buf_zero_capacity),
        cmocka_unit_test(buf_rewind),
        cmocka_unit_test(buf_json_escapes),
        cmocka_unit_test(buf_quoted_and_printable),
        cmocka_unit_test(set_err_formats_and_bounds),
        cmocka_unit_test(hex_encode_and_values),
        cmocka_unit_test(sha256_known_answers),
        cmocka_unit_test(hmac_sha256_known_answers),
        cmocka_unit_test(self_pid_follows_fork),
        cmocka_unit_test(clock_is_monotonic),
        cmocka_unit_test(control_bytes),
        cmocka_unit_test(utf8_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
