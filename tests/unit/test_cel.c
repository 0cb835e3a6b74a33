/*
 * test_cel.c - unit tests for policy/cel*.c: one TAP line per table row.
 * Each row compiles an expression against a req-like activation and a
 * claims map, evaluates it and compares the formatted result ("true",
 * "\"x\"", "error", or "compile: <part of the message>").
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cel.h"
#include "cel_regex.h"

static const struct og_cel_decl decls[] = {
    { "req.method", OG_CEL_STRING }, { "req.userAgent", OG_CEL_STRING },
    { "req.action", OG_CEL_STRING }, { "req.repository", OG_CEL_STRING },
    { "req.reference", OG_CEL_STRING }, { "req.referenceType", OG_CEL_STRING },
    { "req.tag", OG_CEL_STRING }, { "req.digest", OG_CEL_STRING },
    { "req.user.username", OG_CEL_STRING }, { "req.user.groups", OG_CEL_LIST },
    { "req.client.ip", OG_CEL_STRING }, { "req.client.forwardedFor", OG_CEL_LIST },
    { "req.auth.anonymous", OG_CEL_BOOL }, { "req.auth.admin", OG_CEL_BOOL },
    { "req.tls.enabled", OG_CEL_BOOL }, { "req.tls.version", OG_CEL_STRING },
    { "req.time", OG_CEL_TIMESTAMP }, { "req.claims", OG_CEL_DYN },
    { "claims", OG_CEL_DYN },
};
#define NDECLS (sizeof decls / sizeof decls[0])

static const char *const groups[] = { "dev", "ops" };
static json_t *claims;
static struct og_cel_value vars[NDECLS];

static void setup_vars(void)
{
    claims = json_loads("{\"email\":\"a@example.org\",\"email_verified\":true,"
                        "\"roles\":[\"prod-pusher\",\"viewer\"],\"n\":3,\"x\":1.5,\"nul\":null,"
                        "\"nested\":{\"deep\":{\"k\":\"v\"}},\"repository\":\"eblume/blumeops\","
                        "\"ref\":\"refs/heads/main\",\"iss\":\"https://ci\",\"sub\":\"job\"}", 0, NULL);
    int i = 0;
    vars[i++] = og_cel_cstr("PUT");
    vars[i++] = og_cel_cstr("docker/24.0.7 go/go1.20.10");
    vars[i++] = og_cel_cstr("create");
    vars[i++] = og_cel_cstr("users/alice/app");
    vars[i++] = og_cel_cstr("v1");
    vars[i++] = og_cel_cstr("tag");
    vars[i++] = og_cel_cstr("v1");
    vars[i++] = og_cel_cstr("");
    vars[i++] = og_cel_cstr("alice");
    vars[i++] = og_cel_strs(groups, 2);
    vars[i++] = og_cel_cstr("10.1.2.3");
    vars[i++] = og_cel_csv("192.0.2.1, 2001:db8::1 ,", 23);
    vars[i++] = og_cel_bool(false);
    vars[i++] = og_cel_bool(false);
    vars[i++] = og_cel_bool(true);
    vars[i++] = og_cel_cstr("TLSv1.3");
    vars[i++] = og_cel_timestamp(1767225600, 0); /* 2026-01-01T00:00:00Z */
    vars[i++] = og_cel_json(claims);
    vars[i++] = og_cel_json(claims);
}

struct ecase { const char *expr; const char *want; };

static const struct ecase ecases[] = {
    /* the examples */
    { "req.time < timestamp(\"2099-12-31T23:59:59Z\")", "true" },
    { "req.referenceType == \"digest\"", "false" },
    { "req.repository.startsWith(\"prod/\")", "false" },
    { "req.action != \"update\" || req.tag != \"stable\"", "true" },
    { "\"prod-pusher\" in req.claims.roles", "true" },
    { "req.claims.email_verified == true", "true" },
    { "req.userAgent.startsWith(\"docker/\")", "true" },
    { "req.repository.startsWith(\"users/\" + req.user.username + \"/\")", "true" },
    /* literals */
    { "1", "1" }, { "-7", "-7" }, { "0x1f", "31" }, { "3u", "3" }, { "1.5", "1.5" },
    { "'a'", "\"a\"" }, { "\"a\\tb\"", "\"a\\x09b\"" }, { "r'a\\d'", "\"a\\\\d\"" },
    { "\"\"\"x\"y\"\"\"", "\"x\\\"y\"" }, { "'\\u00e9'", "\"\xc3\xa9\"" },
    { "true", "true" }, { "null", "null" }, { "[1, 'a', true]", "[1, \"a\", true]" },
    { "[]", "[]" }, { "{'a': 1, 'b': [2]}", "{\"a\": 1, \"b\": [2]}" },
    { "{'a': 1}.a", "1" }, { "{'a': 1}['a']", "1" }, { "[1,2,3][2]", "3" },
    /* member and index access */
    { "req.claims.nested.deep.k", "\"v\"" }, { "req.claims['email']", "\"a@example.org\"" },
    { "req.user.groups[1]", "\"ops\"" }, { "req.claims.roles[0]", "\"prod-pusher\"" },
    { "req.client.forwardedFor[1]", "\"2001:db8::1\"" }, { "size(req.client.forwardedFor)", "2" },
    { "req.claims.missing", "error" }, { "req.claims.roles[5]", "error" },
    { "req.claims.roles[-1]", "error" }, { "req.claims.email.x", "error" },
    { "req.claims.nul == null", "true" },
    /* comparisons */
    { "1 < 2", "true" }, { "2 <= 2", "true" }, { "3 > 4", "false" }, { "3 >= 4", "false" },
    { "'a' < 'b'", "true" }, { "'ab' > 'a'", "true" }, { "'a' == 'a'", "true" }, { "'a' != 'a'", "false" },
    { "req.claims.n == 3", "true" }, { "req.claims.x > 1", "true" }, { "req.claims.n < 2.5", "false" },
    { "req.claims.n == 'x'", "false" }, { "req.claims.n < 'x'", "error" },
    { "timestamp('2026-01-01T00:00:00Z') == req.time", "true" },
    { "timestamp('2025-12-31T23:00:00-01:00') == req.time", "true" },
    { "req.time > timestamp('2025-12-31T23:59:59.5Z')", "true" },
    { "timestamp(req.claims.email)", "error" },
    { "[1, 'a'] == [1, 'a']", "true" }, { "[1] == [2]", "false" },
    { "{'a': 1} == {'a': 1}", "true" }, { "req.claims.roles == ['prod-pusher', 'viewer']", "true" },
    { "true == true", "true" }, { "false < true", "true" },
    /* logic, with errors absorbed */
    { "true && false", "false" }, { "true || false", "true" }, { "!true", "false" }, { "!!true", "true" },
    { "false && req.claims.missing", "false" }, { "req.claims.missing && false", "false" },
    { "true || req.claims.missing", "true" }, { "req.claims.missing || true", "true" },
    { "true && req.claims.missing", "error" }, { "req.claims.missing || false", "error" },
    { "!req.claims.missing", "error" }, { "req.claims.email && true", "error" },
    { "true ? 'y' : 'n'", "\"y\"" }, { "false ? req.claims.missing : 'n'", "\"n\"" },
    { "req.claims.missing ? 1 : 2", "error" },
    /* in */
    { "'dev' in req.user.groups", "true" }, { "'x' in req.user.groups", "false" },
    { "'email' in req.claims", "true" }, { "'nope' in req.claims", "false" },
    { "2 in [1, 2]", "true" }, { "'a' in {'a': 1}", "true" }, { "'192.0.2.1' in req.client.forwardedFor", "true" },
    { "1 in req.claims.email", "error" },
    /* size */
    { "size('h\xc3\xa9')", "2" }, { "'abc'.size()", "3" }, { "size(req.claims.roles)", "2" },
    { "size(req.claims)", "11" }, { "size({'a': 1})", "1" }, { "size(req.claims.n)", "error" },
    /* strings */
    { "'abc'.startsWith('ab')", "true" }, { "'abc'.startsWith('')", "true" }, { "'abc'.startsWith('abcd')", "false" },
    { "'abc'.endsWith('bc')", "true" }, { "'abc'.endsWith('b')", "false" },
    { "'abc'.contains('b')", "true" }, { "'abc'.contains('d')", "false" },
    { "'AbC-1'.lowerAscii()", "\"abc-1\"" }, { "'abc'.upperAscii()", "\"ABC\"" },
    { "'a' + 'b' + 'c'", "\"abc\"" }, { "req.claims.iss + '/' + req.claims.sub", "\"https://ci/job\"" },
    { "req.claims.n.startsWith('a')", "error" }, { "string(42)", "\"42\"" }, { "string(req.time)", "\"2026-01-01T00:00:00Z\"" },
    { "int('-12')", "-12" }, { "int('x')", "error" }, { "int(req.time)", "1767225600" },
    /* matches */
    { "'prod/app'.matches('^prod/[a-z]+$')", "true" }, { "'prod/App'.matches('^prod/[a-z]+$')", "false" },
    { "'xaby'.matches('ab')", "true" }, { "matches('abc', 'a.c')", "true" },
    { "'v1.2.3'.matches('^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$')", "true" },
    { "'v1.2'.matches('^v\\\\d+(\\\\.\\\\d+){2}$')", "false" }, { "'v1.2.3'.matches('^v\\\\d+(\\\\.\\\\d+){2}$')", "true" },
    { "'a'.matches('^(a|b)*$')", "true" }, { "'abc'.matches('^(a|b)*$')", "false" },
    { "'ABC'.matches('(?i)^abc$')", "true" }, { "'x'.matches(req.claims.email)", "false" },
    { "'x'.matches(req.claims.email + '(')", "error" }, { "''.matches('^$')", "true" },
    { "'aaa'.matches('^a{2,3}$')", "true" }, { "'aaaa'.matches('^a{2,3}$')", "false" },
    { "'a-b'.matches('^[^/]+$')", "true" },
    { "'registry.example.org/team/application-name-that-is-long'.matches('^registry\\\\.example\\\\.org/team/application-name-that-is-long$')", "true" },
    { "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.matches('(?i)^abcdefghijklmnopqrstuvwxyz$')", "true" }, { "'a b'.matches('\\\\s')", "true" },
    /* has */
    { "has(req.claims.email)", "true" }, { "has(req.claims.missing)", "false" },
    { "has(req.claims.nested.deep)", "true" }, { "has(req.tag)", "true" },
    { "has(req.claims.missing.x)", "error" },
    /* inCidr */
    { "inCidr(req.client.ip, '10.0.0.0/8')", "true" }, { "inCidr(req.client.ip, '10.1.2.0/24')", "true" },
    { "inCidr(req.client.ip, '192.168.0.0/16')", "false" }, { "inCidr(req.client.ip, '10.1.2.3')", "true" },
    { "inCidr('2001:db8::5', '2001:db8::/32')", "true" }, { "inCidr('2001:db9::5', '2001:db8::/32')", "false" },
    { "inCidr('::ffff:10.0.0.1', '10.0.0.0/8')", "true" }, { "inCidr('10.0.0.1', '::/0')", "false" },
    { "inCidr('0.0.0.0', '0.0.0.0/0')", "true" }, { "inCidr('10.0.0.1', '10.0.0.0/31')", "true" },
    { "inCidr('10.0.0.2', '10.0.0.0/31')", "false" }, { "inCidr('unix', '10.0.0.0/8')", "error" },
    { "req.client.ip.inCidr('10.0.0.0/8')", "true" }, { "inCidr(req.client.ip, req.claims.email)", "error" },
    /* arithmetic */
    { "1 + 2 * 3", "7" }, { "(1 + 2) * 3", "9" }, { "7 / 2", "3" }, { "7 % 3", "1" }, { "1 / 0", "error" },
    { "9223372036854775807 + 1", "error" }, { "-(1)", "-1" }, { "2 - 3", "-1" },
    /* claims as a variable of its own (claim mapping) */
    { "claims.repository == 'eblume/blumeops' && claims.ref == 'refs/heads/main'", "true" },
    /* compile errors */
    { "", "compile: empty expression" }, { "1 +", "compile: unexpected end" },
    { "foo", "compile: undeclared reference to 'foo'" }, { "req.user", "compile: is not a value" }, { "req.user.name", "compile: 'req.user' has no field 'name'" },
    { "req.method == 1", "compile: no operator '=='" }, { "req.method < 1", "compile: no operator '<'" },
    { "req.time.startsWith('x')", "compile: no overload of 'startsWith'" },
    { "req.method.foo", "compile: no field 'foo'" }, { "req.method.bar()", "compile: unknown function 'bar'" },
    { "req.user.groups.exists(g, g == 'x')", "compile: macro 'exists' is not supported" },
    { "timestamp('yesterday')", "compile: not an RFC 3339 timestamp" },
    { "'a'.matches('(a')", "compile: regular expression: missing )" },
    { "'a'.matches('(a)\\\\1')", "compile: backreferences" }, { "'a'.matches('(?=a)')", "compile: lookaround" },
    { "inCidr(req.client.ip, '10.0.0.0/33')", "compile: not an address range" },
    { "req.method = 'x'", "compile: '=' is not an operator" }, { "'abc", "compile: unterminated string" },
    { "1 ? 2 : 3", "compile: must be a bool" }, { "!1", "compile: no operator '!'" },
    { "has(claims)", "compile: has() needs a field selection" }, { "[1,2", "compile: expected ',' or ']'" },
    { "99999999999999999999", "compile: out of range" }, { "b'x'", "compile: bytes literals" },
    { "req.method == 'a' ||", "compile: unexpected end" }, { "'a' 'b'", "compile: unexpected" },
    { "1 in 2", "compile: no operator 'in'" }, { "size(1)", "compile: no overload of 'size'" },
    { "req.method + 1", "compile: no operator '+'" }, { "'\\q'", "compile: bad escape" },
};
#define NECASES (sizeof ecases / sizeof ecases[0])

static void t_expr(void **state)
{
    const struct ecase *c = *state;
    struct og_cel_error err;
    struct og_cel_program *p = og_cel_compile(c->expr, strlen(c->expr), decls, NDECLS, &err);
    if (strncmp(c->want, "compile: ", 9) == 0) {
        if (p) print_error("compiled, wanted an error with \"%s\"\n", c->want + 9);
        assert_null(p);
        if (!strstr(err.msg, c->want + 9)) print_error("message: %s (column %zu)\n", err.msg, err.column);
        assert_non_null(strstr(err.msg, c->want + 9));
        assert_true(err.column >= 1 && err.column <= strlen(c->expr) + 1);
        return;
    }
    if (!p) print_error("compile error at %zu: %s\n", err.column, err.msg);
    assert_non_null(p);
    static struct og_cel_scratch s;
    og_cel_scratch_reset(&s);
    struct og_cel_value v;
    bool ok = og_cel_eval(p, vars, &s, &v);
    char buf[512];
    og_cel_format(&v, buf, sizeof buf);
    if (strcmp(c->want, "error") == 0) {
        if (ok) print_error("got %s, wanted an error\n", buf);
        assert_false(ok);
    } else {
        if (strcmp(buf, c->want) != 0) print_error("got %s, wanted %s\n", buf, c->want);
        assert_string_equal(buf, c->want);
    }
    og_cel_program_free(p);
}

/* The static result kind: what config checks use to require a bool. */
static void t_result_kind(void **state)
{
    (void)state;
    struct og_cel_error err;
    struct { const char *e; enum og_cel_kind k; } rows[] = {
        { "req.method == 'GET'", OG_CEL_BOOL }, { "req.method", OG_CEL_STRING },
        { "req.claims.x", OG_CEL_DYN }, { "size(req.user.groups)", OG_CEL_INT },
        { "[1]", OG_CEL_LIST }, { "true ? 'a' : 'b'", OG_CEL_STRING }, { "true ? 'a' : 1", OG_CEL_DYN },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct og_cel_program *p = og_cel_compile(rows[i].e, strlen(rows[i].e), decls, NDECLS, &err);
        assert_non_null(p);
        assert_int_equal(og_cel_result_kind(p), rows[i].k);
        og_cel_program_free(p);
    }
}

/* Column of an error: 1-based byte offset of the offending token. */
static void t_error_column(void **state)
{
    (void)state;
    struct og_cel_error err;
    assert_null(og_cel_compile("req.method == nope", 18, decls, NDECLS, &err));
    assert_int_equal(err.column, 15);
    assert_null(og_cel_compile("true && (1 +)", 13, decls, NDECLS, &err));
    assert_int_equal(err.column, 13);
}

/* Bounds: length, nodes, depth, scratch. */
static void t_bounds(void **state)
{
    (void)state;
    struct og_cel_error err;
    static char big[OG_CEL_MAX_SOURCE + 2];
    memset(big, ' ', sizeof big);
    big[0] = '1';
    assert_null(og_cel_compile(big, sizeof big, decls, NDECLS, &err));
    assert_non_null(strstr(err.msg, "longer than"));

    char deep[200];
    size_t n = 0;
    for (int i = 0; i < 60; i++) deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 60; i++) deep[n++] = ')';
    assert_null(og_cel_compile(deep, n, decls, NDECLS, &err));
    assert_non_null(strstr(err.msg, "nested too deeply"));

    char wide[2048];
    n = 0;
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(wide + n, sizeof wide - n, "%s1", i ? "+" : "");
    assert_null(og_cel_compile(wide, n, decls, NDECLS, &err));
    assert_non_null(strstr(err.msg, "too large"));

    assert_null(og_cel_compile("1\0", 2, decls, NDECLS, &err));

    /* concatenation that outgrows the scratch is an error, not an overflow */
    const char *cat = "req.userAgent + req.userAgent + req.userAgent + req.userAgent";
    struct og_cel_program *p = og_cel_compile(cat, strlen(cat), decls, NDECLS, &err);
    assert_non_null(p);
    static struct og_cel_scratch s;
    struct og_cel_value v, local[NDECLS];
    static char ua[3000];
    memset(ua, 'x', sizeof ua);
    memcpy(local, vars, sizeof local);
    local[1] = og_cel_str(ua, sizeof ua);
    og_cel_scratch_reset(&s);
    assert_false(og_cel_eval(p, local, &s, &v));
    assert_int_equal(v.kind, OG_CEL_ERROR);
    og_cel_program_free(p);
}

/* The regex subset takes linear time where backtracking would explode. */
static void t_regex_linear(void **state)
{
    (void)state;
    struct og_re re;
    const char *e; size_t col;
    const char *pat = "^(a+)+$";
    assert_true(og_re_compile(&re, pat, strlen(pat), &e, &col));
    static char text[20001];
    memset(text, 'a', 20000);
    text[20000] = 'b';
    assert_false(og_re_search(&re, text, sizeof text));
    assert_true(og_re_search(&re, text, 20000));
    pat = "(x+x+)+y";
    assert_true(og_re_compile(&re, pat, strlen(pat), &e, &col));
    memset(text, 'x', sizeof text);
    assert_false(og_re_search(&re, text, sizeof text));
}

/* Results stay in the scratch until it is reset: one result feeds the next. */
static void t_chained(void **state)
{
    (void)state;
    static const struct og_cel_decl d[] = { { "claims", OG_CEL_DYN }, { "vars.team", OG_CEL_DYN } };
    struct og_cel_error err;
    const char *e1 = "claims.sub + '-team'", *e2 = "vars.team.lowerAscii() + '/' + claims.iss";
    struct og_cel_program *p1 = og_cel_compile(e1, strlen(e1), d, 2, &err);
    struct og_cel_program *p2 = og_cel_compile(e2, strlen(e2), d, 2, &err);
    assert_non_null(p1);
    assert_non_null(p2);
    static struct og_cel_scratch s;
    og_cel_scratch_reset(&s);
    struct og_cel_value v[2] = { og_cel_json(claims), og_cel_bool(false) }, out;
    assert_true(og_cel_eval(p1, v, &s, &v[1]));
    assert_true(og_cel_eval(p2, v, &s, &out));
    char buf[128];
    og_cel_format(&out, buf, sizeof buf);
    assert_string_equal(buf, "\"job-team/https://ci\"");
    og_cel_program_free(p1);
    og_cel_program_free(p2);
}

static void t_timestamps(void **state)
{
    (void)state;
    int64_t s; int32_t ns;
    assert_true(og_cel_parse_timestamp("1970-01-01T00:00:00Z", 20, &s, &ns));
    assert_int_equal(s, 0);
    assert_true(og_cel_parse_timestamp("2000-02-29T12:00:00.25+02:00", 28, &s, &ns));
    assert_int_equal(s, 951818400);
    assert_int_equal(ns, 250000000);
    assert_false(og_cel_parse_timestamp("2001-02-29T12:00:00Z", 20, &s, &ns));
    assert_false(og_cel_parse_timestamp("2001-02-28 12:00:00Z", 20, &s, &ns));
    assert_false(og_cel_parse_timestamp("2001-02-28T12:00:00", 19, &s, &ns));
    assert_false(og_cel_parse_timestamp("2001-02-28T24:00:00Z", 20, &s, &ns));
}

int main(void)
{
    static const struct { const char *name; CMUnitTestFunction fn; } fixed[] = {
        { "result kinds", t_result_kind }, { "error columns", t_error_column },
        { "bounds", t_bounds }, { "regex is linear", t_regex_linear },
        { "chained results", t_chained }, { "timestamps", t_timestamps },
    };
    enum { NFIXED = sizeof fixed / sizeof fixed[0] };
    static struct CMUnitTest tests[NECASES + NFIXED];
    static char names[NECASES][160];
    setup_vars();
    size_t k = 0;
    for (size_t i = 0; i < NECASES; i++, k++) {
        snprintf(names[k], sizeof names[k], "%s => %s", ecases[i].expr, ecases[i].want);
        tests[k].name = names[k];
        tests[k].test_func = t_expr;
        tests[k].initial_state = (void *)&ecases[i];
    }
    for (size_t i = 0; i < NFIXED; i++, k++) {
        tests[k].name = fixed[i].name;
        tests[k].test_func = fixed[i].fn;
    }
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(claims);
    return rc;
}
