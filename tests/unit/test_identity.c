/*
 * test_identity.c - credentials to identity (responder/identity.c) with real
 * password users: an htpasswd file made here (sha-crypt and bcrypt) checked
 * through og_identify and through og_handle. A wrong password must be
 * refused, and never become anonymous or the user. Throttling of the same
 * logins against Redis: test_throttle_redis.c.
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

#include "config.h"
#include "handle.h"
#include "htpasswd.h"
#include "identity.h"
#include "log.h"
#include "request.h"
#include "test_users.h"
#include "response.h"

static struct og_htpasswd *users;     /* alice: "right-pw" (sha-crypt), bob: "bob-pw" (bcrypt) */

static const char conf_json[] =
    "{\"token\":{\"challenge\":\"basic\"},"
    " \"accessControl\":{\"repositories\":{\"**\":{\"anonymousPolicy\":[\"read\"],"
    "   \"defaultPolicy\":[\"read\"]}}}}";

static int group_setup(void **state)
{
    (void)state;
    users = og_test_users_load();
    if (!users)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    og_htpasswd_free(users);
    return 0;
}

struct world {
    struct og_config *cfg;
    int failed;
};

static struct og_config *config(void)
{
    char err[512];
    struct og_config *cfg = og_config_parse(conf_json, sizeof(conf_json) - 1, "t.json", err,
                                            sizeof(err));
    if (!cfg)
        fail_msg("config: %s", err);
    return cfg;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    w->cfg = config();
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    og_config_free(w->cfg);
    free(w);
    return 0;
}

static void basic(struct og_credentials *c, const char *user, const char *pw, size_t len)
{
    memset(c, 0, sizeof(*c));
    c->kind = OG_CRED_BASIC;
    snprintf(c->user, sizeof(c->user), "%s", user);
    memcpy(c->secret, pw, len);
    c->secret_len = len;
}

/* og_identify for user:pw from remote; id and store out. */
static enum og_identify_result login(struct world *w, const char *remote, const char *user,
                                     const char *pw, size_t len, struct og_identity *id,
                                     struct og_identity_store *st, const char **reason)
{
    struct og_identify_ctx ctx = { w->cfg, users, NULL, NULL, NULL, NULL, remote,
                                   &w->failed };
    struct og_credentials c;
    enum og_identify_result r;
    int hit;

    basic(&c, user, pw, len);
    w->failed = 0;
    memset(st, 0, sizeof(*st));
    r = og_identify(&ctx, &c, id, st, reason, &hit);
    og_credentials_wipe(&c);
    return r;
}

#define LOGIN(w, remote, user, pw) login((w), (remote), (user), (pw), strlen(pw), &id, &st, &reason)

/* ---- htpasswd through og_identify --------------------------------------- */

static void right_password_is_the_user(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;

    for (int i = 0; i < 2; i++) {               /* crypt, then the cache */
        assert_int_equal(LOGIN(w, "127.0.0.1", "alice", "right-pw"), OG_ID_OK);
        assert_string_equal(id.user, "alice");
        assert_int_equal(id.auth, OG_AUTH_HTPASSWD);
        assert_int_equal(w->failed, 0);
    }
    assert_int_equal(LOGIN(w, "127.0.0.1", "bob", "bob-pw"), OG_ID_OK);
    assert_string_equal(id.user, "bob");
}

static void expect_refused(struct world *w, const char *user, const char *pw, size_t len)
{
    struct og_identity id;
    struct og_identity_store st;
    const char *reason = NULL;
    enum og_identify_result r = login(w, "127.0.0.1", user, pw, len, &id, &st, &reason);

    if (r != OG_ID_BAD_CREDENTIALS)
        fail_msg("%s with a wrong password (%zu bytes): result %d", user, len, (int)r);
    assert_null(id.user);                       /* not the user ... */
    assert_int_equal(id.auth, OG_AUTH_ANONYMOUS);
    assert_int_equal(w->failed, 1);             /* ... and not anonymous: refused */
    assert_non_null(reason);
    assert_true(reason[0] != '\0');
    assert_null(strstr(reason, pw[0] ? pw : "\x01"));
}

static void wrong_password_is_refused_never_anonymous(void **state)
{
    struct world *w = *state;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    static const char *const wrong[] = { "wrong", "right-p", "right-pwx", "RIGHT-PW", "right-pw ",
                                         " right-pw", "bob-pw" };

    /* the right password first, so that the cache holds alice */
    assert_int_equal(LOGIN(w, "127.0.0.1", "alice", "right-pw"), OG_ID_OK);
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
        expect_refused(w, "alice", wrong[i], strlen(wrong[i]));
    expect_refused(w, "alice", "", 0);
    expect_refused(w, "alice", "right-pw\0x", 10);  /* a NUL inside the length */
    expect_refused(w, "bob", "right-pw", 8);
    expect_refused(w, "bob", "bob-p", 5);
    expect_refused(w, "carol", "right-pw", 8);      /* no such user */
    expect_refused(w, "", "right-pw", 8);
    /* and the right one still works after all that */
    assert_int_equal(LOGIN(w, "127.0.0.1", "alice", "right-pw"), OG_ID_OK);
}

static void no_password_users_refuse_every_password(void **state)
{
    struct world *w = *state;
    struct og_identify_ctx ctx = { w->cfg, NULL, NULL, NULL, NULL, NULL, "127.0.0.1", NULL };
    struct og_credentials c;
    struct og_identity id;
    struct og_identity_store st;
    const char *reason;
    int hit;

    basic(&c, "alice", "right-pw", 8);
    assert_int_equal(og_identify(&ctx, &c, &id, &st, &reason, &hit), OG_ID_BAD_CREDENTIALS);
    assert_null(id.user);
}

/* The whole request: a wrong password on a repository anonymous may read is 401. */
static void handle(struct world *w, const char *authorization, char *buf, size_t cap)
{
    char hdr[256];
    char *env[] = { "FCGI_ROLE=AUTHORIZER", "REQUEST_METHOD=GET",
                    "REQUEST_URI=/v2/lib/app/manifests/v1", "REMOTE_ADDR=127.0.0.1", hdr, NULL };
    struct og_worker_state ws;

    snprintf(hdr, sizeof(hdr), "HTTP_AUTHORIZATION=%s", authorization);
    memset(&ws, 0, sizeof(ws));
    ws.cfg = w->cfg;
    ws.htpasswd = users;
    og_handle(&ws, env, NULL, buf, cap);
}

static void handle_wrong_password_is_401(void **state)
{
    struct world *w = *state;
    char buf[OG_RESPONSE_MAX];

    handle(w, "Basic YWxpY2U6cmlnaHQtcHc=", buf, sizeof(buf));      /* alice:right-pw */
    assert_int_equal(strncmp(buf, "Status: 200", 11), 0);
    assert_non_null(strstr(buf, "Variable-OCIGATE_USER: alice\r\n"));
    assert_non_null(strstr(buf, "Variable-OCIGATE_AUTH: htpasswd\r\n"));

    handle(w, "Basic YWxpY2U6d3Jvbmc=", buf, sizeof(buf));          /* alice:wrong */
    assert_int_equal(strncmp(buf, "Status: 401", 11), 0);
    assert_null(strstr(buf, "Variable-OCIGATE"));
    assert_null(strstr(buf, "alice"));
    handle(w, "Basic Ym9iOnJpZ2h0LXB3", buf, sizeof(buf));          /* bob:right-pw */
    assert_int_equal(strncmp(buf, "Status: 401", 11), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(right_password_is_the_user, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_password_is_refused_never_anonymous, setup, teardown),
        cmocka_unit_test_setup_teardown(no_password_users_refuse_every_password, setup, teardown),
        cmocka_unit_test_setup_teardown(handle_wrong_password_is_401, setup, teardown),
    };
    og_log_configure("error", "text");
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
