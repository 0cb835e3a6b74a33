/*
 * oidc_discovery.c - the OpenID provider's discovery document and JWKS,
 * fetched over libcurl (https; http only for a loopback issuer), at most
 * one refresh per 30 s, the last good JWKS kept when a fetch fails; each
 * configured issuer on its own (struct oidc_issuer). The keys are parsed by
 * jws.c; a changed key set forgets the tokens that issuer's keys verified.
 */
#include "oidc_state.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "digest.h"
#include "log.h"

/* ---- URLs ----------------------------------------------------------------- */

static bool host_is_loopback(const char *h)
{
    struct in_addr a4;
    struct in6_addr a6;
    char buf[64];
    size_t n = strlen(h);

    if (strcasecmp(h, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (n >= 2 && n < sizeof(buf) && h[0] == '[' && h[n - 1] == ']') {
        memcpy(buf, h + 1, n - 2);
        buf[n - 2] = '\0';
        h = buf;
    }
    return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* https anywhere, http only to a loopback host. */
bool oidc_url_allowed(const char *url, bool *loopback)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;

    *loopback = false;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto done;
    *loopback = host_is_loopback(host);
    ok = strcmp(scheme, "https") == 0 || (strcmp(scheme, "http") == 0 && *loopback);
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* ---- HTTP ----------------------------------------------------------------- */

struct sink {
    char *buf;
    size_t cap, len;
};

static size_t sink_write(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t k = size * n;

    if (k > s->cap - s->len)
        return 0;   /* over the cap: abort the transfer */
    memcpy(s->buf + s->len, p, k);
    s->len += k;
    return k;
}

long oidc_http(struct og_oidc *o, const char *url, bool loopback, const char *form,
               const char *header, char *buf, size_t cap, size_t *len)
{
    struct sink s = { buf, cap, 0 };
    struct curl_slist *h = NULL, *h2;
    long code = -1;

    *len = 0;
    if (!o->curl && !(o->curl = curl_easy_init()))
        return -1;
    h = curl_slist_append(NULL, "Accept: application/json");
    if (!h)
        return -1;
    if (header) {
        if (!(h2 = curl_slist_append(h, header))) {
            curl_slist_free_all(h);
            return -1;
        }
        h = h2;
    }
    curl_easy_reset(o->curl);
    curl_easy_setopt(o->curl, CURLOPT_URL, url);
    curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
    if (form) {
        curl_easy_setopt(o->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    } else {
        curl_easy_setopt(o->curl, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(o->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS_STR, loopback ? "http,https" : "https");
    curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, &s);
    if (loopback)
        curl_easy_setopt(o->curl, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(o->curl) == CURLE_OK) {
        curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
        *len = s.len;
    }
    /* the handle keeps pointers to our header list and form: drop them */
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(h);
    return code;
}

/* GET url into buf; 0 on a 200 answer, -1 otherwise (logged, no secrets in it). */
static int fetch(struct og_oidc *o, const char *url, char *buf, size_t cap, size_t *len)
{
    bool loopback;
    long code;

    if (!oidc_url_allowed(url, &loopback)) {
        og_log(OG_LOG_ERROR, "oidc: refusing to fetch %s (https required, http only on loopback)",
               url);
        return -1;
    }
    o->st.fetches++;
    *len = 0;
    code = o->get ? o->get(o->get_arg, url, buf, cap, len)
                  : oidc_http(o, url, loopback, NULL, NULL, buf, cap, len);
    if (code != 200 || *len > cap) {
        og_log(OG_LOG_WARN, "oidc: GET %s failed (%s %ld)", url,
               code < 0 ? "transport error" : "HTTP", code);
        return -1;
    }
    return 0;
}

/* ---- JWKS: install, discover, refresh --------------------------------------- */

int oidc_install_jwks(struct oidc_issuer *is, const char *doc, size_t len)
{
    struct jwk *keys;
    size_t n;
    unsigned char h[32];

    if (!og_sha256(doc, len, h) || oidc_parse_jwks(is->o, doc, len, &keys, &n) != 0)
        return -1;
    /* A changed key set may have dropped a key: forget what it verified. */
    if (is->nkeys && memcmp(h, is->jwks_hash, sizeof h) != 0)
        oidc_cache_flush_issuer(is->o, is->index);
    oidc_free_keys(is->keys, is->nkeys);
    is->keys = keys;
    is->nkeys = n;
    memcpy(is->jwks_hash, h, sizeof h);
    is->fetched_at = now_of(is->o);
    return 0;
}

static bool same_issuer(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la && a[la - 1] == '/')
        la--;
    if (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

/* One endpoint of the discovery document into dst ("" when absent); false
   when present but unusable (too long, or not https / loopback http). */
static bool take_url(json_t *doc, const char *name, char *dst, size_t cap)
{
    json_t *v = json_object_get(doc, name);
    bool loopback;

    dst[0] = '\0';
    if (!v)
        return true;
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        !oidc_url_allowed(json_string_value(v), &loopback))
        return false;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

/* A discovery document: its issuer must be ours; jwks_uri is required, the
   endpoints browser sign-in uses are kept when present. 0 or -1 (logged). */
int oidc_take_discovery(struct oidc_issuer *o, const char *doc_text, size_t len)
{
    json_t *doc, *iss, *methods;
    char jwks[URL_MAX];
    int rc = -1;

    if (!(doc = oidc_parse_json(o->o, doc_text, len))) {
        og_log(OG_LOG_WARN, "oidc: the discovery document is not a JSON object");
        return -1;
    }
    iss = json_object_get(doc, "issuer");
    if (!json_is_string(iss) || !same_issuer(json_string_value(iss), o->issuer)) {
        og_log(OG_LOG_ERROR, "oidc: the discovery document names another issuer");
        goto done;
    }
    if (!take_url(doc, "jwks_uri", jwks, sizeof jwks) || !jwks[0]) {
        og_log(OG_LOG_ERROR, "oidc: the discovery document has no usable jwks_uri "
               "(https required)");
        goto done;
    }
    if (!take_url(doc, "authorization_endpoint", o->authorization_endpoint, URL_MAX) ||
        !take_url(doc, "token_endpoint", o->token_endpoint, URL_MAX) ||
        !take_url(doc, "userinfo_endpoint", o->userinfo_endpoint, URL_MAX) ||
        !take_url(doc, "end_session_endpoint", o->end_session_endpoint, URL_MAX))
        og_log(OG_LOG_WARN, "oidc: the discovery document has an unusable endpoint "
               "(https required); browser sign-in may not work");
    methods = json_object_get(doc, "token_endpoint_auth_methods_supported");
    o->auth_basic = o->auth_post = false;
    if (!methods) {
        o->auth_basic = true;            /* the OpenID default */
    } else if (json_is_array(methods)) {
        size_t i;
        json_t *m;
        json_array_foreach(methods, i, m) {
            const char *v = json_string_value(m);
            if (v && strcmp(v, "client_secret_basic") == 0)
                o->auth_basic = true;
            if (v && strcmp(v, "client_secret_post") == 0)
                o->auth_post = true;
        }
    }
    memcpy(o->jwks_uri, jwks, strlen(jwks) + 1);
    o->discovered_at = now_of(o->o);
    rc = 0;
done:
    json_decref(doc);
    return rc;
}

/* The discovery document: fetch it and take what it says. */
int oidc_discover(struct oidc_issuer *o, char *buf)
{
    char url[URL_MAX + 64];
    size_t len;

    snprintf(url, sizeof url, "%s/.well-known/openid-configuration", o->base);
    if (fetch(o->o, url, buf, DOC_MAX, &len) != 0)
        return -1;
    return oidc_take_discovery(o, buf, len);
}

/* One refresh attempt: discovery (if needed), then the JWKS. Failure keeps the old set. */
void oidc_refresh(struct oidc_issuer *o)
{
    char *buf;
    size_t len;

    o->o->st.refreshes++;
    o->attempted = true;
    o->last_attempt = now_of(o->o);
    if (!o->url_ok || !(buf = malloc(DOC_MAX)))
        return;
    if (!o->jwks_uri[0] && oidc_discover(o, buf) != 0)
        goto done;
    if (fetch(o->o, o->jwks_uri, buf, DOC_MAX, &len) != 0 ||
        oidc_install_jwks(o, buf, len) != 0) {
        og_log(OG_LOG_WARN, "oidc: no usable JWKS from %s; %s", o->jwks_uri,
               o->nkeys ? "keeping the last good one" : "this issuer's JWTs get 503");
        o->jwks_uri[0] = '\0';   /* discover again next time */
        goto done;
    }
    og_log(OG_LOG_INFO, "oidc: JWKS from %s: %zu keys", o->jwks_uri, o->nkeys);
done:
    free(buf);
}

bool oidc_may_refresh(const struct oidc_issuer *o, time_t now, time_t interval)
{
    return !o->attempted || now - o->last_attempt >= interval || now < o->last_attempt;
}

void oidc_ensure_jwks(struct oidc_issuer *o, time_t now)
{
    if (o->nkeys == 0) {
        if (oidc_may_refresh(o, now, RETRY_EMPTY_S))
            oidc_refresh(o);
    } else if (now - o->fetched_at >= JWKS_MAX_AGE_S && oidc_may_refresh(o, now, REFRESH_MIN_S)) {
        oidc_refresh(o);
    }
}


void oidc_fetch_cleanup(struct og_oidc *o)
{
    if (o->curl)
        curl_easy_cleanup(o->curl);
}
