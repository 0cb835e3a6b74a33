/*
 * test_serve_explain.c - `serve` and `explain` decide alike.
 *
 * One table of requests goes through both code paths: the server's
 * (og_handle on FastCGI params, with a stand-in registry on loopback that
 * answers the facts: a tag whose name contains "old" exists, nothing else
 * does; htpasswd users with a real hash) and explain's
 * (og_explain_evaluate, the facts given up front). The server's outcome is
 * read from the decision log line it writes; each row asserts the expected
 * status and that both paths agree on status, action, rule and reason.
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
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "action.h"
#include "base64.h"
#include "commands.h"
#include "evaluate.h"
#include "handle.h"
#include "htpasswd.h"
#include "registry.h"
#include "response.h"

static const char config[] =
    "{\"registry\":{\"url\":\"http://127.0.0.1:1\",\"timeoutMs\":1000},"
    " \"token\":{\"challenge\":\"basic\"},"
    " \"accessControl\":{"
    "   \"repositories\":{\"**\":{\"anonymousPolicy\":[\"read\"],\"defaultPolicy\":[\"read\"],"
    "       \"policies\":[{\"groups\":[\"ci\"],\"actions\":[\"read\",\"create\"]}]},"
    "     \"free/**\":{\"anonymousPolicy\":[\"read\",\"create\",\"update\"]}},"
    "   \"adminPolicy\":{\"users\":[\"admin\"],\"actions\":[\"read\",\"create\",\"update\",\"delete\"]},"
    "   \"groups\":{\"ci\":{\"users\":[\"ci\"]}},"
    "   \"metrics\":{\"users\":[\"admin\"],\"anonymousPolicy\":[]}},"
    " \"immutableTags\":[{\"repositories\":[\"rel/**\"],\"tags\":[\"v*\"]}]}";

/* password "pw" for every user (sha-crypt) */
static const char htpasswd_text[] =
    "ci:$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5\n"
    "admin:$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5\n"
    "bob:$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5\n";

#define DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"

enum door { AUTHORIZER, MANIFEST_ROUTE };

struct row {
    const char *method, *uri, *user;  /* user NULL: no Authorization */
    enum door door;
    int status;                       /* expected, from both */
};

static const struct row table[] = {
    { "GET", "/v2/", NULL, AUTHORIZER, 401 },                       /* the challenge */
    { "GET", "/v2/", "bob", AUTHORIZER, 200 },
    { "OPTIONS", "/v2/lib/a/manifests/v1", NULL, AUTHORIZER, 200 },  /* CORS preflight */
    { "GET", "/v2/pub/../secret/manifests/v1", NULL, AUTHORIZER, 400 }, /* route refusal */
    { "GET", "/v2/lib/a/manifests/v1", NULL, AUTHORIZER, 200 },
    { "GET", "/v2/lib/a/tags/list", "bob", AUTHORIZER, 200 },
    { "PUT", "/v2/lib/a/manifests/v1", NULL, AUTHORIZER, 401 },
    { "PUT", "/v2/lib/a/manifests/v1", "bob", AUTHORIZER, 403 },
    { "PUT", "/v2/lib/a/manifests/new1", "ci", AUTHORIZER, 403 },   /* needs a claim */
    { "PUT", "/v2/lib/a/manifests/old1", "ci", AUTHORIZER, 403 },   /* an update */
    { "PUT", "/v2/lib/a/manifests/old1", "admin", AUTHORIZER, 200 },
    { "PUT", "/v2/rel/a/manifests/v1", "admin", AUTHORIZER, 403 },  /* immutable: claim */
    { "PUT", "/v2/rel/a/manifests/v1-old", "admin", AUTHORIZER, 403 }, /* immutable */
    { "PUT", "/v2/rel/a/manifests/latest", "admin", AUTHORIZER, 200 },
    { "DELETE", "/v2/rel/a/manifests/v1-old", "admin", AUTHORIZER, 403 },
    { "DELETE", "/v2/rel/a/manifests/" DIGEST, "admin", AUTHORIZER, 200 }, /* no tag on it */
    { "DELETE", "/v2/lib/a/manifests/" DIGEST, "bob", AUTHORIZER, 403 },
    { "PUT", "/v2/free/a/manifests/old2", NULL, AUTHORIZER, 200 },
    { "GET", "/v2/_catalog", NULL, AUTHORIZER, 200 },
    { "GET", "/metrics", NULL, AUTHORIZER, 401 },
    { "GET", "/metrics", "admin", AUTHORIZER, 200 },
    { "PUT", "/v2/lib/a/manifests/v1", NULL, MANIFEST_ROUTE, 401 },
    { "PUT", "/v2/lib/a/manifests/v1", "bob", MANIFEST_ROUTE, 403 },
    { "PUT", "/v2/rel/a/manifests/v1-old", "admin", MANIFEST_ROUTE, 403 },
};

/* The seed's accessControl block as pasted (deploy/examples/seed.json):
   metrics users [""], no defaultPolicy, version tags immutable, a
   distribution registry (automaticMount false). bob is in no group. */
static const char seed_config[] =
    "{\"registry\":{\"url\":\"http://127.0.0.1:1\",\"timeoutMs\":1000,\"automaticMount\":false},"
    " \"token\":{\"challenge\":\"basic\"},"
    " \"accessControl\":{"
    "   \"repositories\":{\"**\":{\"anonymousPolicy\":[\"read\"],"
    "       \"policies\":[{\"groups\":[\"artifact-workloads\"],\"actions\":[\"read\",\"create\"]}]}},"
    "   \"adminPolicy\":{\"groups\":[\"admins\"],\"actions\":[\"read\",\"create\",\"update\",\"delete\"]},"
    "   \"groups\":{\"admins\":{\"users\":[\"admin\"]},\"artifact-workloads\":{\"users\":[\"ci\"]}},"
    "   \"metrics\":{\"users\":[\"\"]}},"
    " \"immutableTags\":[{\"repositories\":[\"**\"],\"tags\":[\"v*\"]}]}";

static const struct row seed_table[] = {
    { "GET", "/v2/ci/app/manifests/v1", NULL, AUTHORIZER, 200 },
    { "GET", "/v2/ci/app/manifests/v1", "bob", AUTHORIZER, 403 },  /* no defaultPolicy */
    { "GET", "/v2/ci/app/manifests/v1", "ci", AUTHORIZER, 200 },
    { "GET", "/v2/_catalog", NULL, AUTHORIZER, 200 },
    { "PUT", "/v2/ci/app/manifests/abc123", NULL, AUTHORIZER, 401 },
    { "PUT", "/v2/ci/app/manifests/old1", "ci", MANIFEST_ROUTE, 403 },   /* no update */
    { "PUT", "/v2/ci/app/manifests/v1-old", "admin", MANIFEST_ROUTE, 403 }, /* immutable */
    { "GET", "/metrics", NULL, AUTHORIZER, 200 },                  /* users [""] */
    { "GET", "/metrics", "bob", AUTHORIZER, 403 },
    { "GET", "/metrics", "admin", AUTHORIZER, 403 },
    { "POST", "/v2/ci/app/blobs/uploads/?mount=" DIGEST, "ci", AUTHORIZER, 200 },
    { "POST", "/v2/ci/app/blobs/uploads/?mount=" DIGEST, "admin", AUTHORIZER, 200 },
    { "POST", "/v2/ci/app/blobs/uploads/?mount=" DIGEST, NULL, AUTHORIZER, 401 },
    { "POST", "/v2/ci/app/blobs/uploads/?mount=" DIGEST "&from=lib/base", "ci", AUTHORIZER, 200 },
    { "POST", "/v2/ci/app/blobs/uploads/?mount=" DIGEST, "bob", AUTHORIZER, 403 },
    { "GET", "/v2/ci/app/manifests/.INVALID_MANIFEST_NAME", NULL, AUTHORIZER, 404 },
    { "HEAD", "/v2/ci/app/manifests/.INVALID_MANIFEST_NAME", "admin", AUTHORIZER, 404 },
    { "DELETE", "/v2/ci/app/manifests/.INVALID_MANIFEST_NAME", "admin", AUTHORIZER, 400 },
};

/* ------------------------------------------------ the stand-in registry */

/* HEAD /v2/REPO/manifests/TAG: 200 when TAG contains "old", else 404 (and
   404 for anything else: a repository it does not know has no tags). */
static int fake_registry(pid_t *pid)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        static const char found[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
            "Docker-Content-Digest: " DIGEST "\r\n\r\n";
        static const char missing[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive a failed test */
        for (;;) {
            char req[4096];
            ssize_t n;
            int c = accept(fd, NULL, NULL);
            if (c < 0)
                _exit(0);
            n = read(c, req, sizeof(req) - 1);
            if (n > 0) {
                char *eol = strstr(req, " HTTP/");
                req[n] = '\0';
                if (eol)
                    *eol = '\0';
                if (strncmp(req, "HEAD ", 5) == 0 && strstr(req, "/manifests/") &&
                    strstr(strstr(req, "/manifests/"), "old")) {
                    if (write(c, found, sizeof(found) - 1) < 0)
                        _exit(1);
                } else if (write(c, missing, sizeof(missing) - 1) < 0) {
                    _exit(1);
                }
            }
            close(c);
        }
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* ---------------------------------------------------- the serve path */

struct seen {
    int status;
    char action[32], rule[256], reason[512], repository[256], auth[32];
};

static void copy_field(json_t *line, const char *name, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(line, name));
    snprintf(out, cap, "%s", v ? v : "");
}

struct mem_body { const char *p; size_t left; };

static int read_mem(void *ctx, char *b, int n)
{
    struct mem_body *m = ctx;
    int k = (size_t)n < m->left ? n : (int)m->left;
    memcpy(b, m->p, (size_t)k);
    m->p += k;
    m->left -= (size_t)k;
    return k;
}

/* og_handle on params (the manifest route with a small body); its outcome
   as its decision log line says it. */
static void serve(struct og_worker_state *w, const struct row *r, struct seen *s)
{
    char method[32], uri[256], auth[128], b64[96], cred[64], buf[OG_RESPONSE_MAX];
    char *env[10];
    size_t ne = 0;
    char logpath[] = "/tmp/og-serve-explain-XXXXXX";
    int logfd = mkstemp(logpath), saved = dup(2);
    char line[4096];
    ssize_t n;
    json_t *j;
    struct mem_body mb = { "{}", 2 };
    struct og_body body = { read_mem, &mb };

    assert_true(logfd >= 0 && saved >= 0);
    env[ne++] = r->door == AUTHORIZER ? "FCGI_ROLE=AUTHORIZER" : "FCGI_ROLE=RESPONDER";
    if (r->door == MANIFEST_ROUTE) {
        env[ne++] = "OCIGATE_SERVE=manifest";
        env[ne++] = "CONTENT_LENGTH=2";
    }
    snprintf(method, sizeof(method), "REQUEST_METHOD=%s", r->method);
    snprintf(uri, sizeof(uri), "REQUEST_URI=%s", r->uri);
    env[ne++] = method;
    env[ne++] = uri;
    if (r->user) {
        snprintf(cred, sizeof(cred), "%s:pw", r->user);
        assert_true(og_base64_encode((const unsigned char *)cred, strlen(cred), b64,
                                     sizeof(b64), false) > 0);
        snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Basic %s", b64);
        env[ne++] = auth;
    }
    env[ne] = NULL;

    fflush(stderr);
    assert_true(dup2(logfd, 2) == 2);
    assert_true(og_handle(w, env, &body, buf, sizeof(buf)) > 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(logfd, line, sizeof(line) - 1, 0);
    close(logfd);
    unlink(logpath);
    assert_true(n > 0);
    line[n] = '\0';
    j = json_loads(strrchr(line, '{') == line ? line : strstr(line, "{\"time\""), 0, NULL);
    if (!j)
        fail_msg("%s %s: no decision log line in: %s", r->method, r->uri, line);
    s->status = (int)json_integer_value(json_object_get(j, "status"));
    copy_field(j, "action", s->action, sizeof(s->action));
    copy_field(j, "rule", s->rule, sizeof(s->rule));
    copy_field(j, "reason", s->reason, sizeof(s->reason));
    copy_field(j, "repository", s->repository, sizeof(s->repository));
    copy_field(j, "auth", s->auth, sizeof(s->auth));
    json_decref(j);
    /* the answer the client reads carries the same status */
    assert_int_equal(atoi(buf + strlen("Status: ")), s->status);
}

/* -------------------------------------------------- the explain path */

static void explain(const struct og_config *cfg, const struct row *r, struct seen *s)
{
    const char *existing[OG_MAX_TAGS];
    struct og_explain_input in;
    struct og_route route;
    struct og_identity id;
    struct og_outcome out;
    const char *tag = strrchr(r->uri, '/');

    memset(&in, 0, sizeof(in));
    in.method = r->method;
    in.uri = r->uri;
    in.user = r->user;
    in.holds_claims = r->door == MANIFEST_ROUTE;
    if (tag && strstr(tag, "old"))      /* the stand-in registry's facts */
        existing[in.nexisting++] = tag + 1;
    in.existing = existing;
    og_explain_evaluate(cfg, &in, &route, &id, &out);
    s->status = out.status;
    snprintf(s->action, sizeof(s->action), "%s", out.action ? og_action_name(out.action) : "");
    snprintf(s->rule, sizeof(s->rule), "%s", out.rule);
    snprintf(s->reason, sizeof(s->reason), "%s", out.reason);
    snprintf(s->repository, sizeof(s->repository), "%s", route.repo);
}

static void run_table(const char *config_text, size_t config_len, const struct row *rows,
                      size_t nrows)
{
    char err[512], url[64], path[] = "/tmp/og-htpasswd-XXXXXX";
    struct og_config *cfg = og_config_parse(config_text, config_len, "t.json", err, sizeof(err));
    struct og_worker_state w;
    int fd = mkstemp(path);
    pid_t pid;

    if (!cfg)
        fail_msg("config: %s", err);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, htpasswd_text, sizeof(htpasswd_text) - 1),
                     (ssize_t)(sizeof(htpasswd_text) - 1));
    close(fd);
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.htpasswd = og_htpasswd_load(path, err, sizeof(err));
    unlink(path);
    if (!w.htpasswd)
        fail_msg("htpasswd: %s", err);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fake_registry(&pid));
    w.registry = og_registry_new(url, 1000);
    assert_non_null(w.registry);

    for (size_t i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        struct seen a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        serve(&w, r, &a);
        explain(cfg, r, &b);
        print_message("# %s %s%s%s: serve %d %s/%s \"%s\"; explain %d %s/%s \"%s\"\n",
                      r->method, r->uri, r->user ? " as " : "", r->user ? r->user : "",
                      a.status, a.action, a.rule, a.reason, b.status, b.action, b.rule, b.reason);
        assert_int_equal(a.status, r->status);
        assert_int_equal(b.status, r->status);
        assert_string_equal(a.action, b.action);
        assert_string_equal(a.rule, b.rule);
        assert_string_equal(a.reason, b.reason);
        assert_string_equal(a.repository, b.repository);
        if (a.status == 200)            /* an allow always says how (the preflight: anonymous) */
            assert_string_equal(a.auth, r->user ? "htpasswd" : "anonymous");
    }

    og_registry_free(w.registry);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    og_htpasswd_free(w.htpasswd);
    og_config_free(cfg);
}

static void serve_and_explain_agree(void **state)
{
    (void)state;
    run_table(config, sizeof(config) - 1, table, sizeof(table) / sizeof(table[0]));
}

/* The seed's config, pasted as is: both paths accept it and agree. */
static void seed_serve_and_explain_agree(void **state)
{
    (void)state;
    run_table(seed_config, sizeof(seed_config) - 1, seed_table,
              sizeof(seed_table) / sizeof(seed_table[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serve_and_explain_agree),
        cmocka_unit_test(seed_serve_and_explain_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
