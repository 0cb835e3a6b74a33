/*
 * oidc_signin.c - the OpenID Connect half of browser sign-in: the issuer's
 * endpoints from discovery, the authorization code exchanged at the token
 * endpoint (libcurl, bounded answer, the registry's timeout), the ID token
 * verified with the same JWKS and signature code as Bearer JWTs, and the
 * person mapped with claimMapping, asking the userinfo endpoint for what
 * the ID token leaves out. Nothing secret (code, verifier, client secret,
 * tokens) is ever logged or put in a reason.
 */
#include "oidc_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "base64.h"
#include "buf.h"
#include "config.h"
#include "log.h"

#define ANSWER_MAX     (64 * 1024)      /* token endpoint and userinfo answers */
#define DISCOVERY_AGE  3600             /* refetch the discovery document after this */
#define FORM_MAX       8192

/* ---- discovery ------------------------------------------------------------- */

int og_oidc_set_discovery(struct og_oidc *o, const char *doc, size_t len)
{
    return o ? oidc_take_discovery(o->signin, doc, len) : -1;
}

/* The sign-in issuer's endpoints (auth.openid's entry with clientId). */
int og_oidc_provider(struct og_oidc *top, struct og_oidc_provider *p)
{
    struct oidc_issuer *o = top ? top->signin : NULL;
    time_t now;

    memset(p, 0, sizeof(*p));
    if (!o || !o->url_ok)
        return -1;
    now = now_of(top);
    /* an unreachable issuer is asked at most once per RETRY_EMPTY_S per
       worker: sign-in pages answer at once meanwhile */
    if ((o->discovered_at == 0 || now - o->discovered_at >= DISCOVERY_AGE ||
         now < o->discovered_at) &&
        (o->discovery_tried == 0 || now - o->discovery_tried >= RETRY_EMPTY_S ||
         now < o->discovery_tried)) {
        char *buf = malloc(DOC_MAX);

        o->discovery_tried = now;
        if (buf) {
            if (oidc_discover(o, buf) != 0)
                og_log(OG_LOG_WARN, "oidc: discovery failed; %s",
                       o->discovered_at ? "keeping the last good document"
                                        : "browser sign-in is unavailable");
            free(buf);
        }
    }
    if (o->discovered_at == 0 || !o->authorization_endpoint[0] || !o->token_endpoint[0])
        return -1;
    p->authorization_endpoint = o->authorization_endpoint;
    p->token_endpoint = o->token_endpoint;
    p->userinfo_endpoint = o->userinfo_endpoint;
    p->end_session_endpoint = o->end_session_endpoint;
    p->secret_basic = o->auth_basic;
    p->secret_post = o->auth_post;
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------ */

/* POST form (when not NULL) or GET, with one extra header (may be NULL).
   The HTTP status, or -1 on a transport error. buf gets at most cap - 1
   bytes and a NUL. */
static long http_call(struct og_oidc *o, const char *url, const char *form, const char *header,
                      char *buf, size_t cap, size_t *len)
{
    bool loopback;
    long code;

    *len = 0;
    buf[0] = '\0';
    if (!oidc_url_allowed(url, &loopback))
        return -1;
    o->st.fetches++;
    code = oidc_http(o, url, loopback, form, header, buf, cap - 1, len);
    buf[code < 0 ? 0 : *len] = '\0';
    return code;
}

/* An OAuth error code from an error answer, if it looks like one ([a-z_]). */
static const char *oauth_error(json_t *doc)
{
    const char *e = json_string_value(json_object_get(doc, "error"));

    if (!e || !*e || strlen(e) > 64 || strspn(e, "abcdefghijklmnopqrstuvwxyz_") != strlen(e))
        return NULL;
    return e;
}

/* ---- the ID token ------------------------------------------------------------ */

static bool aud_has(json_t *aud, const char *client_id)
{
    size_t i;
    json_t *one;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), client_id) == 0;
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, i, one)
        if (json_is_string(one) && strcmp(json_string_value(one), client_id) == 0)
            return true;
    return false;
}

static const char *check_id_claims(const struct og_oidc *o, json_t *c, time_t now,
                                   const char *nonce)
{
    const struct og_config *cfg = o->cfg;
    const struct og_openid_issuer *ic = o->signin->conf;
    const char *iss = json_string_value(json_object_get(c, "iss"));
    const char *azp = json_string_value(json_object_get(c, "azp"));
    const char *got_nonce = json_string_value(json_object_get(c, "nonce"));
    json_t *aud = json_object_get(c, "aud");
    time_t exp = 0, iat = 0, nbf = 0;
    time_t leeway = ic->leeway_s > 0 ? ic->leeway_s : 0;
    int r;

    if (!iss || strcmp(iss, ic->issuer) != 0)
        return "ID token iss is not the configured issuer";
    if (!cfg->openid_client_id || !aud_has(aud, cfg->openid_client_id))
        return "ID token aud does not hold auth.openid.clientId";
    if (json_object_get(c, "azp") && (!azp || strcmp(azp, cfg->openid_client_id) != 0))
        return "ID token azp is another client";
    if (json_is_array(aud) && json_array_size(aud) > 1 && !azp)
        return "ID token has several audiences and no azp";
    if (!json_is_string(json_object_get(c, "sub")) ||
        json_string_length(json_object_get(c, "sub")) == 0)
        return "ID token has no sub";
    if ((r = oidc_numeric_date(c, "exp", &exp)) <= 0)
        return r == 0 ? "ID token has no exp" : "ID token exp is not a number";
    if (now >= exp + leeway)
        return "ID token has expired";
    if ((r = oidc_numeric_date(c, "iat", &iat)) <= 0)
        return r == 0 ? "ID token has no iat" : "ID token iat is not a number";
    if (iat > now + leeway)
        return "ID token is issued in the future (iat)";
    if ((r = oidc_numeric_date(c, "nbf", &nbf)) < 0)
        return "ID token nbf is not a number";
    if (r > 0 && nbf > now + leeway)
        return "ID token is not valid yet (nbf)";
    if (!got_nonce || !nonce || strlen(got_nonce) != strlen(nonce) ||
        CRYPTO_memcmp(got_nonce, nonce, strlen(nonce)) != 0)
        return "ID token nonce is not the one this sign-in sent";
    return NULL;
}

/* Fill the claims the ID token lacks from the userinfo endpoint. */
static const char *ask_userinfo(struct og_oidc *top, json_t *claims, const char *access_token,
                                enum og_identify_result *res)
{
    struct oidc_issuer *o = top->signin;
    const struct og_openid_issuer *ic = o->conf;
    const char *key;
    json_t *val;
    char *buf = NULL, *hdr = NULL;
    size_t len, hlen;
    long code;
    json_t *ui = NULL;
    const char *why = NULL, *sub, *names[2];

    if (!o->userinfo_endpoint[0] || !access_token || !*access_token)
        return NULL;            /* nothing to ask: the mapping says what is missing */
    hlen = strlen(access_token) + 32;
    if (strlen(access_token) > TOKEN_MAX || !(buf = malloc(ANSWER_MAX)) || !(hdr = malloc(hlen)))
        goto oom;
    snprintf(hdr, hlen, "Authorization: Bearer %s", access_token);
    code = http_call(top, o->userinfo_endpoint, NULL, hdr, buf, ANSWER_MAX, &len);
    OPENSSL_cleanse(hdr, hlen);
    if (code < 0 || code >= 500) {
        og_log(OG_LOG_WARN, "oidc: userinfo endpoint failed (%s %ld)",
               code < 0 ? "transport error" : "HTTP", code);
        *res = OG_ID_UNAVAILABLE;
        why = "the userinfo endpoint cannot be reached";
        goto done;
    }
    if (code != 200 || !(ui = oidc_parse_json(top, buf, len))) {
        og_log(OG_LOG_WARN, "oidc: userinfo endpoint refused the access token (HTTP %ld)", code);
        why = "the userinfo endpoint refused the access token";
        goto done;
    }
    sub = json_string_value(json_object_get(ui, "sub"));
    if (!sub || strcmp(sub, json_string_value(json_object_get(claims, "sub"))) != 0) {
        why = "userinfo sub is not the ID token's";
        goto done;
    }
    if (ic->username_prog || ic->groups_prog) {
        /* an expression may read any claim: add every one the ID token lacks */
        json_object_foreach(ui, key, val)
            if (!json_object_get(claims, key))
                json_object_set(claims, key, val);
        goto done;
    }
    names[0] = ic->username;
    names[1] = ic->groups;
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(ui, names[i]);
        if (names[i] && v && !json_object_get(claims, names[i]))
            json_object_set(claims, names[i], v);
    }
    if (strcmp(ic->username, "email") == 0 &&
        json_object_get(ui, "email_verified") && !json_object_get(claims, "email_verified"))
        json_object_set(claims, "email_verified", json_object_get(ui, "email_verified"));
    goto done;
oom:
    why = "internal error";
done:
    json_decref(ui);
    free(hdr);
    free(buf);
    return why;
}

enum og_identify_result og_oidc_check_id_token(struct og_oidc *o, const char *tok, size_t len,
                                               const char *nonce, const char *access_token,
                                               struct og_oidc_person *out,
                                               const char **reason)
{
    unsigned char buf[SEGMENT_MAX];
    size_t seg[3], used = 0;
    const char *why, *alg_name;
    char kid[KID_MAX + 1];
    bool has_kid = false, kid_known;
    json_t *hdr = NULL, *claims = NULL;
    struct oidc_claims *cl = NULL;
    const struct jwk *key;
    enum og_identify_result res = OG_ID_BAD_CREDENTIALS;
    time_t now;
    long n;
    int alg = -1;

    memset(out, 0, sizeof(*out));
    if (!o) {
        *reason = "OpenID Connect is not configured";
        return OG_ID_BAD_CREDENTIALS;
    }
    if ((why = oidc_split(tok, len, seg)))
        goto fail;
    now = now_of(o);
    why = "ID token header is not base64url JSON";
    if ((n = oidc_b64url(o, tok, seg[0], buf, sizeof buf)) <= 0 ||
        !(hdr = oidc_parse_json(o, buf, (size_t)n)))
        goto fail;
    if ((why = oidc_check_header(hdr, &alg, kid, &has_kid)))
        goto fail;
    alg_name = json_string_value(json_object_get(hdr, "alg"));
    why = "ID token alg is not an RS or ES algorithm";
    if (!alg_name || (strncmp(alg_name, "RS", 2) != 0 && strncmp(alg_name, "ES", 2) != 0))
        goto fail;
    why = "ID token payload is not base64url JSON";
    if ((n = oidc_b64url(o, tok + seg[0] + 1, seg[1], buf, sizeof buf)) <= 0 ||
        !(claims = oidc_parse_json(o, buf, (size_t)n)))
        goto fail;
    if ((why = check_id_claims(o, claims, now, nonce)))
        goto fail;

    oidc_ensure_jwks(o->signin, now);
    if (o->signin->nkeys == 0) {
        why = "OpenID provider keys (JWKS) unavailable";
        res = OG_ID_UNAVAILABLE;
        goto fail;
    }
    key = oidc_find_key(o->signin, has_kid ? kid : NULL, alg, &kid_known);
    if (!key && !kid_known && oidc_may_refresh(o->signin, now, REFRESH_MIN_S)) {
        oidc_refresh(o->signin);
        key = oidc_find_key(o->signin, has_kid ? kid : NULL, alg, &kid_known);
    }
    if (!key) {
        why = kid_known ? "ID token alg does not match the key"
                        : (has_kid ? "ID token kid is unknown" : "ID token has no kid");
        goto fail;
    }
    why = "ID token signature is invalid";
    n = seg[2] ? oidc_b64url(o, tok + seg[0] + 1 + seg[1] + 1, seg[2], buf, sizeof buf) : -1;
    if (n <= 0 || !oidc_verify_sig(o, key, alg, tok, seg[0] + 1 + seg[1], buf, (size_t)n))
        goto fail;

    /* The person: what the ID token says, completed by userinfo (for an
       expression mapping, asked when the ID token alone does not map). */
    why = "internal error";
    if (!(cl = malloc(sizeof(*cl))))
        goto fail;
    if (oidc_mapping_lacks(o->signin, claims) &&
        (why = ask_userinfo(o, claims, access_token, &res)))
        goto fail;
    if ((why = oidc_map_claims(o->signin, claims, cl)) && o->signin->conf->username_prog &&
        o->signin->userinfo_endpoint[0] && access_token && *access_token) {
        if ((why = ask_userinfo(o, claims, access_token, &res)))
            goto fail;
        why = oidc_map_claims(o->signin, claims, cl);
    }
    if (why)
        goto fail;
    memcpy(out->user, cl->user, sizeof(out->user));
    memcpy(out->group_buf, cl->groups, cl->groups_len);
    for (size_t i = 0; i < cl->ngroups; i++) {
        out->groups[i] = out->group_buf + used;
        used += strlen(out->group_buf + used) + 1;
    }
    out->ngroups = cl->ngroups;
    free(cl);
    json_decref(hdr);
    json_decref(claims);
    *reason = "";
    return OG_ID_OK;
fail:
    free(cl);
    json_decref(hdr);
    json_decref(claims);
    memset(out, 0, sizeof(*out));
    *reason = why;
    return res;
}

/* ---- the code exchange ---------------------------------------------------- */

/* client_secret_basic: base64(urlencode(id) ":" urlencode(secret)) (RFC 6749 2.3.1) */
static bool basic_header(const char *id, const char *secret, char *out, size_t cap)
{
    char raw[2048];
    struct og_buf b;
    long n;
    int pre = snprintf(out, cap, "Authorization: Basic ");

    og_buf_init(&b, raw, sizeof raw);
    og_buf_urlencode(&b, id, 512);
    og_buf_puts(&b, ":");
    og_buf_urlencode(&b, secret, 512);
    n = b.truncated || pre < 0 || (size_t)pre >= cap ? -1
        : og_base64_encode((const unsigned char *)raw, b.len, out + pre, cap - (size_t)pre - 1,
                           false);
    OPENSSL_cleanse(raw, sizeof raw);
    if (n < 0)
        return false;
    out[pre + n] = '\0';
    return true;
}

enum og_identify_result og_oidc_signin(struct og_oidc *o, const char *code,
                                       const char *verifier, const char *redirect_uri,
                                       const char *nonce, struct og_oidc_person *out,
                                       const char **reason)
{
    const struct og_config *cfg = o ? o->cfg : NULL;
    struct og_oidc_provider p;
    char form[FORM_MAX], auth[4096];
    char *answer = NULL, *id_token = NULL, *access_token = NULL;
    struct og_buf b;
    size_t len;
    long status;
    json_t *doc = NULL;
    bool post;
    enum og_identify_result res = OG_ID_BAD_CREDENTIALS;

    memset(out, 0, sizeof(*out));
    auth[0] = '\0';
    if (!o || !cfg->openid_client_id || !cfg->openid_client_secret) {
        *reason = "browser sign-in is not configured";
        return OG_ID_BAD_CREDENTIALS;
    }
    if (og_oidc_provider(o, &p) != 0) {
        *reason = "the OpenID provider cannot be reached (discovery)";
        return OG_ID_UNAVAILABLE;
    }
    post = !p.secret_basic && p.secret_post;
    og_buf_init(&b, form, sizeof form);
    og_buf_puts(&b, "grant_type=authorization_code&code=");
    og_buf_urlencode(&b, code, 2048);
    og_buf_puts(&b, "&redirect_uri=");
    og_buf_urlencode(&b, redirect_uri, 2048);
    og_buf_puts(&b, "&code_verifier=");
    og_buf_urlencode(&b, verifier, 256);
    if (post) {
        og_buf_puts(&b, "&client_id=");
        og_buf_urlencode(&b, cfg->openid_client_id, 512);
        og_buf_puts(&b, "&client_secret=");
        og_buf_urlencode(&b, cfg->openid_client_secret, 512);
    } else if (!basic_header(cfg->openid_client_id, cfg->openid_client_secret, auth,
                             sizeof auth)) {
        *reason = "the client secret is too long";
        goto done;
    }
    if (b.truncated) {
        *reason = "the authorization code is too long";
        goto done;
    }
    if (!(answer = malloc(ANSWER_MAX))) {
        *reason = "internal error";
        goto done;
    }
    status = http_call(o, p.token_endpoint, form, post ? NULL : auth, answer, ANSWER_MAX, &len);
    if (status < 0 || status >= 500) {
        og_log(OG_LOG_WARN, "oidc: token endpoint failed (%s %ld)",
               status < 0 ? "transport error" : "HTTP", status);
        *reason = "the OpenID provider's token endpoint cannot be reached";
        res = OG_ID_UNAVAILABLE;
        goto done;
    }
    doc = oidc_parse_json(o, answer, len);
    if (status != 200) {
        const char *e = doc ? oauth_error(doc) : NULL;
        og_log(OG_LOG_WARN, "oidc: token endpoint refused the code (HTTP %ld, error %s)",
               status, e ? e : "unknown");
        *reason = "the OpenID provider refused the authorization code";
        goto done;
    }
    {
        json_t *it = doc ? json_object_get(doc, "id_token") : NULL;
        json_t *at = doc ? json_object_get(doc, "access_token") : NULL;
        if (!json_is_string(it)) {
            *reason = "the token endpoint's answer has no ID token";
            goto done;
        }
        id_token = strdup(json_string_value(it));
        access_token = json_is_string(at) ? strdup(json_string_value(at)) : NULL;
        if (!id_token) {
            *reason = "internal error";
            goto done;
        }
    }
    res = og_oidc_check_id_token(o, id_token, strlen(id_token), nonce, access_token, out,
                                 reason);
done:
    if (access_token) {
        OPENSSL_cleanse(access_token, strlen(access_token));
        free(access_token);
    }
    if (id_token) {
        OPENSSL_cleanse(id_token, strlen(id_token));
        free(id_token);
    }
    if (answer) {
        OPENSSL_cleanse(answer, ANSWER_MAX);
        free(answer);
    }
    json_decref(doc);   /* jansson keeps its own copies: they go with it */
    OPENSSL_cleanse(form, sizeof form);
    OPENSSL_cleanse(auth, sizeof auth);
    return res;
}
