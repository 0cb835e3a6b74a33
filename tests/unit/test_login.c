/*
 * test_login.c - browser sign-in pages (responder/endpoints/login_endpoint.c)
 * through og_handle, as a worker serves them, without a network: the
 * issuer's discovery document is installed with og_oidc_set_discovery.
 * What needs the issuer (the code exchange) is tests/e2e/browser_signin.sh.
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
#include "handle.h"
#include "oidc.h"
#include "response.h"
#include "session.h"

#define ISS "https://idp.example.test"
#define EXT "https://registry.example.org"

static struct og_config *cfg;
static struct og_worker_state w;
static char out[OG_RESPONSE_MAX];

static int setup(void **state)
{
    static const unsigned char master[32] = "test-login-session-key-000000001";
    const char *conf =
        "{\"externalUrl\": \"" EXT "/\", \"session\": {\"keyFile\": \"/nonexistent\"},"
        " \"auth\": {\"openid\": {\"issuer\": \"" ISS "\", \"audiences\": [\"registry\"],"
        " \"clientId\": \"web client\", \"clientSecret\": \"s3cr3t-value\"}},"
        " \"accessControl\": {\"repositories\": {}}}";
    const char *doc =
        "{\"issuer\":\"" ISS "\",\"jwks_uri\":\"" ISS "/jwks\","
        "\"authorization_endpoint\":\"" ISS "/auth?tenant=a\",\"token_endpoint\":\"" ISS "/token\","
        "\"end_session_endpoint\":\"" ISS "/logout\"}";
    char err[512];

    (void)state;
    cfg = og_config_parse(conf, strlen(conf), "t.json", err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.session = og_session_keys_from_bytes(master, sizeof master);
    w.oidc = og_oidc_new(cfg);
    if (!w.session || !w.oidc || og_oidc_set_discovery(w.oidc, doc, strlen(doc)) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    og_oidc_free(w.oidc);
    og_session_keys_free(w.session);
    og_config_free(cfg);
    return 0;
}

/* One request through og_handle; the answer in out. */
static const char *ask(const char *method, const char *uri, const char *cookie)
{
    char m[64], u[1024], c[5000];
    char *envp[6];
    size_t n = 0, len;

    snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
    snprintf(u, sizeof u, "REQUEST_URI=%s", uri);
    envp[n++] = "FCGI_ROLE=RESPONDER";
    envp[n++] = m;
    envp[n++] = u;
    envp[n++] = "REMOTE_ADDR=127.0.0.1";
    if (cookie) {
        snprintf(c, sizeof c, "HTTP_COOKIE=%s", cookie);
        envp[n++] = c;
    }
    envp[n] = NULL;
    len = og_handle(&w, envp, NULL, out, sizeof out);
    assert_true(len > 0 && len < sizeof out);
    out[len] = '\0';
    return out;
}

/* The value of header name in out ("" when absent), into buf. */
static const char *header(const char *name, char *buf, size_t cap)
{
    char key[64];
    const char *p, *end;

    snprintf(key, sizeof key, "\r\n%s: ", name);
    buf[0] = '\0';
    p = strstr(out, key);
    if (!p)
        return buf;
    p += strlen(key);
    end = strstr(p, "\r\n");
    snprintf(buf, cap, "%.*s", (int)(end - p), p);
    return buf;
}

/* The login cookie's value and the state of the last endpoints.login answer. */
static void login_parts(char *cookie, size_t ccap, char *state, size_t scap)
{
    char buf[4096];
    const char *c = header("Set-Cookie", buf, sizeof buf), *semi, *s;

    semi = strchr(c, ';');
    assert_non_null(semi);
    snprintf(cookie, ccap, "%.*s", (int)(semi - c), c);
    header("Location", buf, sizeof buf);
    s = strstr(buf, "&state=");
    assert_non_null(s);
    s += 7;
    snprintf(state, scap, "%.*s", (int)strcspn(s, "&"), s);
}

static void strict_page_headers(void)
{
    char buf[1024];

    assert_non_null(strstr(header("Content-Security-Policy", buf, sizeof buf),
                           "frame-ancestors 'none'"));
    assert_string_equal(header("X-Frame-Options", buf, sizeof buf), "DENY");
    assert_string_equal(header("Cache-Control", buf, sizeof buf), "no-store");
    assert_string_equal(header("Referrer-Policy", buf, sizeof buf), "no-referrer");
}

static void login_redirects_to_the_issuer(void **state)
{
    char buf[4096];

    (void)state;
    ask("GET", "/ocigate/login", NULL);
    assert_memory_equal(out, "Status: 302 Found\r\n", 19);
    header("Location", buf, sizeof buf);
    /* the endpoint's own query kept; the client id and redirect URI encoded */
    assert_non_null(strstr(buf, ISS "/auth?tenant=a&response_type=code&client_id=web%20client"
                                "&redirect_uri=https%3A%2F%2Fregistry.example.org%2Focigate%2Fcallback"
                                "&scope=openid%20profile%20email%20groups&state="));
    assert_non_null(strstr(buf, "&code_challenge_method=S256"));
    header("Set-Cookie", buf, sizeof buf);
    assert_memory_equal(buf, "ocigate_login=", 14);
    /* https externalUrl: Secure */
    assert_non_null(strstr(buf, "; Path=/ocigate/callback; Max-Age=600; HttpOnly; SameSite=Lax; Secure"));
    assert_null(strstr(out, "s3cr3t-value"));
    strict_page_headers();
    ask("POST", "/ocigate/login", NULL);
    assert_memory_equal(out, "Status: 405", 11);
}

static void signed_in_goes_to_the_key_page(void **state)
{
    struct og_session s;
    char sealed[OG_SESSION_VALUE_MAX + 1], cookie[OG_SESSION_VALUE_MAX + 64], buf[1024];
    const char *groups[] = { "dev" };

    (void)state;
    assert_int_equal(og_session_new(&s, "alice", groups, 1, time(NULL), 3600), 0);
    assert_true(og_session_seal(w.session, &s, sealed, sizeof sealed) > 0);
    snprintf(cookie, sizeof cookie, "x=1; ocigate_session=%s", sealed);
    ask("GET", "/ocigate/login", cookie);
    assert_memory_equal(out, "Status: 303 See Other\r\n", 23);
    assert_string_equal(header("Location", buf, sizeof buf), EXT "/ocigate/keys");
    /* logout clears it and goes through the issuer's end_session_endpoint */
    ask("GET", "/ocigate/logout", cookie);
    assert_memory_equal(out, "Status: 303 See Other\r\n", 23);
    assert_non_null(strstr(header("Location", buf, sizeof buf),
                           ISS "/logout?client_id=web%20client&post_logout_redirect_uri="
                           "https%3A%2F%2Fregistry.example.org%2Focigate%2Fkeys"));
    assert_string_equal(header("Set-Cookie", buf, sizeof buf),
                        "ocigate_session=; Path=/ocigate; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
}

static void callback_failures_are_pages(void **state)
{
    char cookie[4096], st[128], uri[512], other[128], buf[1024];

    (void)state;
    ask("GET", "/ocigate/login", NULL);
    login_parts(cookie, sizeof cookie, st, sizeof st);
    ask("GET", "/ocigate/login", NULL);
    login_parts(buf, sizeof buf, other, sizeof other);
    assert_string_not_equal(st, other);

    /* no login cookie */
    snprintf(uri, sizeof uri, "/ocigate/callback?code=c&state=%s", st);
    ask("GET", uri, NULL);
    assert_memory_equal(out, "Status: 400", 11);
    assert_non_null(strstr(out, "This sign-in has expired"));
    assert_non_null(strstr(out, "id=\"signin\" href=\"" EXT "/ocigate/login\""));
    assert_non_null(strstr(out, "Content-Type: text/html; charset=utf-8"));
    strict_page_headers();
    /* another sign-in's state */
    snprintf(uri, sizeof uri, "/ocigate/callback?code=c&state=%s", other);
    ask("GET", uri, cookie);
    assert_memory_equal(out, "Status: 400", 11);
    assert_non_null(strstr(out, "This sign-in does not match"));
    /* every callback answer clears the login cookie */
    assert_non_null(strstr(out, "Set-Cookie: ocigate_login=; Path=/ocigate/callback; Max-Age=0"));
    /* a state that is no base64url, or twice */
    ask("GET", "/ocigate/callback?code=c&state=%3Cscript%3E", cookie);
    assert_non_null(strstr(out, "This sign-in does not match"));
    assert_null(strstr(out, "<script>"));
    snprintf(uri, sizeof uri, "/ocigate/callback?code=c&state=%s&state=%s", st, st);
    ask("GET", uri, cookie);
    assert_non_null(strstr(out, "This sign-in link is damaged"));
    /* the issuer said no */
    snprintf(uri, sizeof uri, "/ocigate/callback?error=access_denied&state=%s", st);
    ask("GET", uri, cookie);
    assert_memory_equal(out, "Status: 403", 11);
    assert_non_null(strstr(out, "Sign-in cancelled"));
    snprintf(uri, sizeof uri, "/ocigate/callback?error=server_error&state=%s", st);
    ask("GET", uri, cookie);
    assert_memory_equal(out, "Status: 502", 11);
    /* the right state, but no code */
    snprintf(uri, sizeof uri, "/ocigate/callback?state=%s", st);
    ask("GET", uri, cookie);
    assert_memory_equal(out, "Status: 400", 11);
    assert_non_null(strstr(out, "without an answer"));
    /* a login cookie opened as a session is no session */
    snprintf(buf, sizeof buf, "ocigate_session=%s", strchr(cookie, '=') + 1);
    ask("GET", "/ocigate/login", buf);
    assert_memory_equal(out, "Status: 302", 11);
}

static void not_configured_is_404(void **state)
{
    struct og_session_keys *k = w.session;

    (void)state;
    w.session = NULL;
    ask("GET", "/ocigate/login", NULL);
    assert_memory_equal(out, "Status: 404", 11);
    ask("GET", "/ocigate/callback?code=x&state=y", NULL);
    assert_memory_equal(out, "Status: 404", 11);
    ask("GET", "/ocigate/logout", NULL);
    assert_memory_equal(out, "Status: 404", 11);
    w.session = k;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_redirects_to_the_issuer),
        cmocka_unit_test(signed_in_goes_to_the_key_page),
        cmocka_unit_test(callback_failures_are_pages),
        cmocka_unit_test(not_configured_is_404),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
