/*
 * test_keys_page.c - the key page's pure parts: the form parser, the HTML
 * (escaping, the stable ids, the headers), the origin check of a POST, the
 * "expires" field against auth.apikey.maxLifetimeDays, the split of the
 * repository globs, and the rule that a key's repository scopes stay
 * within what the user may read (og_scope_within_reach).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "decide.h"
#include "form.h"
#include "keys_page.h"

static char page[131072];

/* ------------------------------------------------------------- the form */

struct fields {
    char csrf[80], label[64], repos[128];
    struct og_form_field f[3];
};

static void fields_init(struct fields *x)
{
    memset(x, 0, sizeof(*x));
    x->f[0] = (struct og_form_field){ "csrf", x->csrf, sizeof(x->csrf), false };
    x->f[1] = (struct og_form_field){ "label", x->label, sizeof(x->label), false };
    x->f[2] = (struct og_form_field){ "repos", x->repos, sizeof(x->repos), false };
}

static int parse(struct fields *x, const char *body)
{
    fields_init(x);
    return og_form_parse(body, strlen(body), x->f, 3);
}

static void test_form_parse(void **state)
{
    struct fields x;
    (void)state;

    assert_int_equal(parse(&x, "csrf=ab12&label=CI+of+team%2Da&repos=a%2F**%0D%0Ab&submit="), 0);
    assert_string_equal(x.csrf, "ab12");
    assert_string_equal(x.label, "CI of team-a");
    assert_string_equal(x.repos, "a/**\r\nb");
    assert_true(x.f[0].seen && x.f[1].seen && x.f[2].seen);

    assert_int_equal(parse(&x, ""), 0);                 /* nothing: nothing seen */
    assert_false(x.f[0].seen);
    assert_int_equal(parse(&x, "&&label&"), 0);         /* empty pairs skipped, bare name */
    assert_true(x.f[1].seen);
    assert_string_equal(x.label, "");
    assert_int_equal(parse(&x, "other=%41&label=x"), 0); /* unknown names skipped */
    assert_string_equal(x.label, "x");
}

static void test_form_refuses(void **state)
{
    struct fields x;
    char big[4096];
    (void)state;

    assert_int_equal(parse(&x, "csrf=a&csrf=b"), -1);   /* a wanted field twice */
    assert_string_equal(x.csrf, "");                    /* left empty on failure */
    assert_int_equal(parse(&x, "label=%4"), -1);        /* short escape */
    assert_int_equal(parse(&x, "label=%zz"), -1);       /* bad escape */
    assert_int_equal(parse(&x, "label=a%00b"), -1);     /* NUL */
    assert_int_equal(parse(&x, "label=a%1bb"), -1);     /* ESC */
    assert_int_equal(parse(&x, "label=a%7f"), -1);      /* DEL */
    assert_int_equal(parse(&x, "la%0abel=a"), -1);      /* control byte in a name */
    assert_int_equal(parse(&x, "x=%"), -1);             /* bad escape in a skipped value */
    memset(big, 'a', sizeof(big));
    memcpy(big, "label=", 6);
    big[6 + 64] = '\0';                                 /* 64 bytes: no room for the NUL */
    assert_int_equal(parse(&x, big), -1);
    big[6 + 63] = '\0';
    assert_int_equal(parse(&x, big), 0);
    assert_int_equal(strlen(x.label), 63);
    /* a name longer than OG_FORM_NAME_MAX */
    memset(big, 'n', 40);
    strcpy(big + 40, "=1");
    assert_int_equal(parse(&x, big), -1);
    /* too many pairs */
    big[0] = '\0';
    for (int i = 0; i <= OG_FORM_MAX_PAIRS; i++)
        strcat(big, "a=1&");
    assert_int_equal(parse(&x, big), -1);
    /* the length is the limit, not a NUL */
    fields_init(&x);
    assert_int_equal(og_form_parse("label=abcdef", 8, x.f, 3), 0);
    assert_string_equal(x.label, "ab");
}

/* ------------------------------------------------------------- the HTML */

static struct og_apikey_record rec(const char *id, const char *user, const char *label,
                                   const char *repos, const char *last_used)
{
    struct og_apikey_record r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", id);
    snprintf(r.user, sizeof(r.user), "%s", user);
    snprintf(r.label, sizeof(r.label), "%s", label);
    snprintf(r.repos_json, sizeof(r.repos_json), "%s", repos);
    snprintf(r.created, sizeof(r.created), "2026-12-01T10:00:00Z");
    snprintf(r.expires, sizeof(r.expires), "2027-03-01T10:00:00Z");
    snprintf(r.last_used, sizeof(r.last_used), "%s", last_used);
    snprintf(r.origin, sizeof(r.origin), "openid");
    return r;
}

static struct og_keys_view view(const struct og_apikey_record *keys, size_t n)
{
    struct og_keys_view v;
    memset(&v, 0, sizeof(v));
    v.base = "/ocigate/keys";
    v.logout = "/ocigate/logout";
    v.user = "alice";
    v.csrf = "c0ffee";
    v.host = "registry.example.org";
    v.max_days = 365;
    v.keys = keys;
    v.nkeys = n;
    return v;
}

/* " onXXX=" anywhere: an inline event handler */
static bool has_handler_attribute(const char *s)
{
    for (const char *p = s; (p = strstr(p, " on")) != NULL; p++) {
        const char *q = p + 3;
        while (*q >= 'a' && *q <= 'z')
            q++;
        if (q > p + 3 && *q == '=')
            return true;
    }
    return false;
}

static void test_render_ids_and_headers(void **state)
{
    struct og_apikey_record k[2] = {
        rec("k1", "alice", "ci", "[\"team/**\",\"lib/x\"]", "2026-12-02T08:30:00Z"),
        rec("k2", "alice", "", "[]", ""),
    };
    struct og_keys_view v = view(k, 2);
    size_t n = og_keys_render_page(&v, 200, page, sizeof(page));
    (void)state;

    assert_true(n > 0);
    assert_true(strncmp(page, "Status: 200 OK\r\n", 16) == 0);
    assert_non_null(strstr(page, "Content-Type: text/html; charset=utf-8\r\n"));
    assert_non_null(strstr(page, "Cache-Control: no-store\r\n"));
    assert_non_null(strstr(page, "Content-Security-Policy: default-src 'none'; script-src 'self'; "
                                 "style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                                 "base-uri 'none'\r\n"));
    assert_non_null(strstr(page, "X-Content-Type-Options: nosniff\r\n"));
    assert_non_null(strstr(page, "Referrer-Policy: no-referrer\r\n"));
    assert_non_null(strstr(page, "id=\"user\">alice<"));
    assert_non_null(strstr(page, "id=\"signout\" href=\"/ocigate/logout\""));
    assert_non_null(strstr(page, "<div id=\"keys\">"));
    assert_non_null(strstr(page, "data-key-id=\"k1\""));
    assert_non_null(strstr(page, "data-key-id=\"k2\""));
    assert_non_null(strstr(page, "class=\"revoke\""));
    assert_non_null(strstr(page, "id=\"create-key\" method=\"post\" action=\"/ocigate/keys/create\""));
    assert_non_null(strstr(page, "id=\"label\" name=\"label\""));
    assert_non_null(strstr(page, "id=\"repos\" name=\"repos\""));
    assert_non_null(strstr(page, "id=\"expires\" name=\"expires\""));
    assert_non_null(strstr(page, "type=\"submit\" id=\"create-submit\""));
    assert_non_null(strstr(page, "name=\"csrf\" value=\"c0ffee\""));
    assert_null(strstr(page, "id=\"new-key\""));          /* only right after a creation */
    assert_null(strstr(page, "No keys yet"));
    assert_non_null(strstr(page, "<code>team/**</code>, <code>lib/x</code>"));
    assert_non_null(strstr(page, "every repository you may reach"));
    assert_non_null(strstr(page, "2026-12-02 08:30 UTC"));   /* last used */
    assert_non_null(strstr(page, "class=\"last-used\">never<")); /* k2 never used */
    assert_non_null(strstr(page, "href=\"/ocigate/keys/app.css\""));
    assert_non_null(strstr(page, "src=\"/ocigate/keys/app.js\""));
    assert_null(strstr(page, "http://"));                /* nothing from elsewhere */
    assert_null(strstr(page, "https://"));
    assert_null(strstr(page, "revoke-all"));             /* not an admin */
    assert_null(strstr(page, "style=\""));               /* no inline style (CSP) */
    assert_null(strstr(page, "<script>"));               /* no inline script */
    assert_false(has_handler_attribute(page));          /* no onclick= etc. (CSP) */
}

static void test_render_escapes(void **state)
{
    struct og_apikey_record k[1] = {
        rec("k\"1", "<b>eve</b>", "<script>alert(1)</script>&'\"", "[\"a<b\",\"q\\\"r\"]", ""),
    };
    struct og_keys_view v = view(k, 1);
    (void)state;

    v.user = "<img src=x onerror=alert(1)>";
    v.admin = true;
    v.error = "<i>bad</i>";
    v.label = "\"><script>";
    v.repos = "</textarea><script>";
    v.expires = "\" autofocus onfocus=\"x";
    v.csrf = "\"><x";
    assert_true(og_keys_render_page(&v, 400, page, sizeof(page)) > 0);
    assert_non_null(strstr(page, "Status: 400 Bad Request\r\n"));
    assert_null(strstr(page, "<script>alert"));
    assert_null(strstr(page, "<img"));
    assert_null(strstr(page, "<b>eve"));
    assert_null(strstr(page, "<i>bad"));
    assert_null(strstr(page, "</textarea><script>"));
    assert_null(strstr(page, "\" autofocus"));
    assert_null(strstr(page, "\"><x"));
    assert_non_null(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;&quot;"));
    assert_non_null(strstr(page, "data-key-id=\"k&quot;1\""));
    assert_non_null(strstr(page, "<code>a&lt;b</code>, <code>q&quot;r</code>"));
    assert_non_null(strstr(page, "class=\"revoke-all\""));  /* admin: per user */
    assert_non_null(strstr(page, "&lt;b&gt;eve&lt;/b&gt;"));
    /* the only tags are ours: no '<' directly followed by an escaped value's letters */
    assert_null(strstr(page, "<<"));

    struct og_buf b;
    char out[64];
    og_buf_init(&b, out, sizeof(out));
    og_html_escape(&b, "a\x01" "b\n", 10);
    assert_string_equal(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
}

static void test_render_empty_new_key_and_messages(void **state)
{
    struct og_apikey_record r = rec("id9", "alice", "deploy", "[]", "");
    struct og_keys_view v = view(NULL, 0);
    size_t n;
    (void)state;

    assert_true(og_keys_render_page(&v, 200, page, sizeof(page)) > 0);
    assert_non_null(strstr(page, "No keys yet"));
    assert_non_null(strstr(page, "<div id=\"keys\">"));
    assert_non_null(strstr(page, "id=\"expires\" name=\"expires\" inputmode=\"numeric\" "
                                 "autocomplete=\"off\" aria-describedby=\"expires-help\" "
                                 "value=\"90\""));
    v.max_days = 30;
    assert_true(og_keys_render_page(&v, 200, page, sizeof(page)) > 0);
    assert_non_null(strstr(page, "value=\"30\""));      /* the default never exceeds the max */
    assert_non_null(strstr(page, "1 to 30"));

    v.new_key = "zak_0123456789abcdef0123456789abcdef";
    v.new_rec = &r;
    assert_true(og_keys_render_page(&v, 200, page, sizeof(page)) > 0);
    assert_non_null(strstr(page, "<code id=\"new-key\">zak_0123456789abcdef0123456789abcdef</code>"));
    assert_non_null(strstr(page, "data-copy=\"new-key\""));
    assert_non_null(strstr(page, "docker login registry.example.org --username alice "
                                 "--password-stdin"));
    assert_non_null(strstr(page, "podman login registry.example.org --username alice "
                                 "--password-stdin"));
    /* the key is not in a command line (shell history) */
    assert_null(strstr(strstr(page, "docker login"), "zak_"));

    n = og_keys_render_message(503, "Key store unavailable", "Redis <down>", "/ocigate/keys",
                               NULL, page, sizeof(page));
    assert_true(n > 0);
    assert_true(strncmp(page, "Status: 503 Service Unavailable\r\n", 33) == 0);
    assert_non_null(strstr(page, "Content-Security-Policy: default-src 'none'"));
    assert_non_null(strstr(page, "Redis &lt;down&gt;"));
    assert_null(strstr(page, "id=\"signin\""));
    n = og_keys_render_message(403, "Signed out", "x", NULL, "/ocigate/login", page, sizeof(page));
    assert_non_null(strstr(page, "<a id=\"signin\" class=\"button\" href=\"/ocigate/login\">"));

    n = og_keys_render_redirect("/ocigate/login", page, sizeof(page));
    assert_true(strncmp(page, "Status: 303 See Other\r\nLocation: /ocigate/login\r\n", 48) == 0);
    n = og_keys_render_redirect("/x\r\nSet-Cookie: a=b", page, sizeof(page));
    assert_null(strstr(page, "\r\nSet-Cookie"));          /* no header injection */

    assert_true(og_keys_render_asset("app.css", 7, page, sizeof(page)) > 0);
    assert_non_null(strstr(page, "Content-Type: text/css"));
    assert_non_null(strstr(page, "X-Content-Type-Options: nosniff"));
    assert_true(og_keys_render_asset("app.js", 6, page, sizeof(page)) > 0);
    assert_non_null(strstr(page, "Content-Type: text/javascript"));
    assert_int_equal(og_keys_render_asset("app.jsx", 7, page, sizeof(page)), 0);
    assert_int_equal(og_keys_render_asset("../etc", 6, page, sizeof(page)), 0);
}

static void test_render_many_keys_fits(void **state)
{
    static struct og_apikey_record k[400];
    struct og_keys_view v;
    size_t n;
    (void)state;

    for (int i = 0; i < 400; i++) {
        char id[16], user[16];
        snprintf(id, sizeof(id), "id%d", i);
        snprintf(user, sizeof(user), "user%03d", i / 3);
        k[i] = rec(id, user, "a label that is rather long, to fill the page quickly",
                   "[\"team/**\",\"lib/x\"]", "2026-12-02T08:30:00Z");
    }
    v = view(k, 400);
    v.admin = true;
    n = og_keys_render_page(&v, 200, page, sizeof(page));
    assert_true(n > 0 && n < sizeof(page));
    assert_non_null(strstr(page, "more keys are not shown"));
    assert_non_null(strstr(page, "id=\"create-key\""));  /* the form is still there */
    assert_non_null(strstr(page, "</html>"));
}

/* ----------------------------------------------------- origin and fields */

static void test_origin(void **state)
{
    const char *why = NULL;
    const char *ext = "https://registry.example.org";
    (void)state;

    assert_true(og_keys_origin_ok(ext, NULL, NULL, &why));
    assert_true(og_keys_origin_ok(ext, "https://registry.example.org", "same-origin", &why));
    assert_true(og_keys_origin_ok(ext, "HTTPS://Registry.Example.org", NULL, &why));
    assert_true(og_keys_origin_ok("http://127.0.0.1:8080/prefix", "http://127.0.0.1:8080",
                                  NULL, &why));
    assert_false(og_keys_origin_ok(ext, "https://evil.example", NULL, &why));
    assert_non_null(strstr(why, "Origin"));
    assert_false(og_keys_origin_ok(ext, "https://registry.example.org.evil.example", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "https://registry.example.or", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "http://registry.example.org", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "null", NULL, &why));
    /* Origin: null is what the page's own forms send under no-referrer: only
       with Sec-Fetch-Site: same-origin */
    assert_true(og_keys_origin_ok(ext, "null", "same-origin", &why));
    assert_false(og_keys_origin_ok(ext, "null", "same-site", &why));
    assert_false(og_keys_origin_ok(ext, "null", "none", &why));
    assert_false(og_keys_origin_ok(ext, "null", "cross-site", &why));
    assert_false(og_keys_origin_ok(ext, "NULL", "same-origin", &why));
    assert_false(og_keys_origin_ok(ext, "", NULL, &why));
    assert_false(og_keys_origin_ok("http://127.0.0.1:8080", "http://127.0.0.1:8081", NULL, &why));
    assert_false(og_keys_origin_ok(ext, NULL, "cross-site", &why));
    assert_non_null(strstr(why, "cross-site"));
    assert_false(og_keys_origin_ok(ext, "https://registry.example.org", "cross-site", &why));
    assert_true(og_keys_origin_ok(ext, NULL, "same-site", &why));
    assert_true(og_keys_origin_ok(ext, NULL, "none", &why));
    assert_false(og_keys_origin_ok(NULL, "https://registry.example.org", NULL, &why));
    /* the scheme's default port is the same origin; a path is no origin */
    assert_true(og_keys_origin_ok("https://registry.example.org:443", ext, NULL, &why));
    assert_true(og_keys_origin_ok(ext, "https://registry.example.org:443", NULL, &why));
    assert_true(og_keys_origin_ok("http://h.example:80/x", "http://h.example", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "https://registry.example.org:8443", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "https://registry.example.org/evil", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "https://registry.example.org?x", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "https://", NULL, &why));
    assert_false(og_keys_origin_ok(ext, "https://registry.example.org:443:443", NULL, &why));

    char host[64];
    og_keys_host_of("https://registry.example.org", host, sizeof(host));
    assert_string_equal(host, "registry.example.org");
    og_keys_host_of("http://127.0.0.1:8080/x", host, sizeof(host));
    assert_string_equal(host, "127.0.0.1:8080");
    og_keys_host_of(NULL, host, sizeof(host));
    assert_string_equal(host, "");
}

static void test_expires_max_lifetime(void **state)
{
    const time_t now = 1796000000;   /* 2026-11-29 */
    time_t t;
    char err[128];
    (void)state;

    assert_true(og_keys_parse_expires("", now, 365, &t, err, sizeof(err)));
    assert_int_equal(t, now + 365 * 86400L);         /* empty: the maximum, never "never" */
    assert_true(og_keys_parse_expires(" 30 ", now, 365, &t, err, sizeof(err)));
    assert_int_equal(t, now + 30 * 86400L);
    assert_true(og_keys_parse_expires("365", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("366", now, 365, &t, err, sizeof(err)));
    assert_non_null(strstr(err, "1 to 365"));
    assert_false(og_keys_parse_expires("0", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("-1", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("9999999", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("8", now, 7, &t, err, sizeof(err)));
    assert_true(og_keys_parse_expires("2027-01-15", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("2028-01-15", now, 365, &t, err, sizeof(err)));
    assert_non_null(strstr(err, "365 days"));
    assert_false(og_keys_parse_expires("2020-01-15", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("2027-13-01", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("never", now, 365, &t, err, sizeof(err)));
    assert_false(og_keys_parse_expires("90d", now, 365, &t, err, sizeof(err)));
}

static void test_split_repos(void **state)
{
    char s[128];
    const char *out[4];
    (void)state;

    snprintf(s, sizeof(s), " team/**, lib/{a,b}\r\n\nx ,");
    assert_int_equal(og_keys_split_repos(s, out, 4), 3);
    assert_string_equal(out[0], "team/**");
    assert_string_equal(out[1], "lib/{a,b}");
    assert_string_equal(out[2], "x");
    snprintf(s, sizeof(s), "  ,\n ");
    assert_int_equal(og_keys_split_repos(s, out, 4), 0);
    snprintf(s, sizeof(s), "a b c d e");
    assert_int_equal(og_keys_split_repos(s, out, 4), -1);
}

/* ----------------------------------------------------- the repos rule */

static const char reach_json[] =
    "{\"accessControl\":{"
    "\"groups\":{\"devs\":{\"users\":[\"dan\"]}},"
    "\"repositories\":{"
    "  \"team/**\":{\"policies\":[{\"users\":[\"alice\"],\"actions\":[\"read\",\"create\"]}]},"
    "  \"team/secret/**\":{\"policies\":[{\"users\":[\"bob\"],\"actions\":[\"read\"]}]},"
    "  \"lib/*\":{\"policies\":[{\"groups\":[\"devs\"],\"actions\":[\"read\"]}]},"
    "  \"pub/**\":{\"defaultPolicy\":[\"read\"]},"
    "  \"anon/**\":{\"anonymousPolicy\":[\"read\"]},"
    "  \"wo/**\":{\"policies\":[{\"users\":[\"alice\"],\"actions\":[\"create\"]}]}"
    "},"
    "\"adminPolicy\":{\"users\":[\"root\"],\"actions\":[\"read\",\"create\",\"update\",\"delete\"]}"
    "}}";

static bool reach(const struct og_config *cfg, const char *user, const char *glob)
{
    struct og_identity id;
    memset(&id, 0, sizeof(id));
    id.user = user;
    id.auth = OG_AUTH_OPENID;
    return og_scope_within_reach(cfg, &id, glob, strlen(glob));
}

static void test_repos_rule(void **state)
{
    char err[512];
    struct og_config *cfg = og_config_parse(reach_json, sizeof(reach_json) - 1, "t.json", err,
                                            sizeof(err));
    (void)state;

    assert_non_null(cfg);
    /* the pattern itself, and globs below a P/STARSTAR pattern */
    assert_true(reach(cfg, "alice", "team/**"));
    assert_true(reach(cfg, "alice", "team/app"));
    assert_true(reach(cfg, "alice", "team/app/**"));
    assert_true(reach(cfg, "alice", "team/*-ci"));
    assert_true(reach(cfg, "alice", "team"));
    /* not under it, or not decidable on the text */
    assert_false(reach(cfg, "alice", "teamx/**"));
    assert_false(reach(cfg, "alice", "**"));
    assert_false(reach(cfg, "alice", "*/app"));
    assert_false(reach(cfg, "alice", "t{eam,ools}/x"));
    assert_false(reach(cfg, "alice", "other"));
    /* a longer pattern decides for a plain name: team/secret is bob's */
    assert_false(reach(cfg, "alice", "team/secret/x"));
    assert_true(reach(cfg, "bob", "team/secret/x"));
    /* read is needed: create alone is not enough */
    assert_false(reach(cfg, "alice", "wo/x"));
    assert_false(reach(cfg, "alice", "wo/**"));
    /* groups from accessControl.groups; a pattern "lib/STAR" covers only itself */
    assert_true(reach(cfg, "dan", "lib/*"));
    assert_true(reach(cfg, "dan", "lib/one"));
    assert_false(reach(cfg, "dan", "lib/**"));
    assert_false(reach(cfg, "alice", "lib/one"));
    /* defaultPolicy: every signed-in user; anonymousPolicy: not a signed-in user */
    assert_true(reach(cfg, "carol", "pub/**"));
    assert_true(reach(cfg, "carol", "pub/x/y"));
    assert_false(reach(cfg, "carol", "anon/**"));
    /* an admin may scope anything */
    assert_true(reach(cfg, "root", "**"));
    assert_true(reach(cfg, "root", "nowhere/**"));
    /* never anonymous, never empty */
    assert_false(reach(cfg, "", "pub/**"));
    assert_false(reach(cfg, "alice", ""));
    og_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_parse),
        cmocka_unit_test(test_form_refuses),
        cmocka_unit_test(test_render_ids_and_headers),
        cmocka_unit_test(test_render_escapes),
        cmocka_unit_test(test_render_empty_new_key_and_messages),
        cmocka_unit_test(test_render_many_keys_fits),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_expires_max_lifetime),
        cmocka_unit_test(test_split_repos),
        cmocka_unit_test(test_repos_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
