/*
 * oidc_discovery.c - the OpenID provider's discovery document and JWKS,
 * fetched over libcurl (https; http only for a loopback issuer), at most
 * one refresh per 30 s, the last good JWKS kept when a fetch fails. The
 * keys are parsed by jws.c; a changed key set flushes oidc.c's cache.
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

static long curl_get(struct og_oidc *o, const char *url, bool loopback, char *buf, size_t cap,
                     size_t *len)
{
    struct sink s = { buf, cap, 0 };
    long code = 0;

    if (!o->curl && !(o->curl = curl_easy_init()))
        return -1;
    curl_easy_reset(o->curl);
    curl_easy_setopt(o->curl, CURLOPT_URL, url);
    curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(o->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(o->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS_STR, loopback ? "http,https" : "https");
    curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, &s);
    if (loopback)
        curl_easy_setopt(o->curl, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(o->curl) != CURLE_OK)
        return -1;
    curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
    *len = s.len;
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
                  : curl_get(o, url, loopback, buf, cap, len);
    if (code != 200 || *len > cap) {
        og_log(OG_LOG_WARN, "oidc: GET %s failed (%s %ld)", url,
               code < 0 ? "transport error" : "HTTP", code);
        return -1;
    }
    return 0;
}

/* ---- JWKS: install, discover, refresh --------------------------------------- */

int oidc_install_jwks(struct og_oidc *o, const char *doc, size_t len)
{
    struct jwk *keys;
    size_t n;
    unsigned char h[32];

    if (!og_sha256(doc, len, h) || oidc_parse_jwks(o, doc, len, &keys, &n) != 0)
        return -1;
    /* A changed key set may have dropped a key: forget what it verified. */
    if (o->nkeys && memcmp(h, o->jwks_hash, sizeof h) != 0)
        oidc_cache_flush(o);
    oidc_free_keys(o->keys, o->nkeys);
    o->keys = keys;
    o->nkeys = n;
    memcpy(o->jwks_hash, h, sizeof h);
    o->fetched_at = now_of(o);
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

/* The discovery document: check its issuer, take its jwks_uri. */
static int discover(struct og_oidc *o, char *buf)
{
    char url[URL_MAX + 64];
    size_t len;
    json_t *doc = NULL, *iss, *uri;
    bool loopback;
    int rc = -1;

    snprintf(url, sizeof url, "%s/.well-known/openid-configuration", o->base);
    if (fetch(o, url, buf, DOC_MAX, &len) != 0)
        return -1;
    if (!(doc = oidc_parse_json(o, buf, len))) {
        og_log(OG_LOG_WARN, "oidc: %s is not a JSON object", url);
        return -1;
    }
    iss = json_object_get(doc, "issuer");
    uri = json_object_get(doc, "jwks_uri");
    if (!json_is_string(iss) || !same_issuer(json_string_value(iss), o->issuer))
        og_log(OG_LOG_ERROR, "oidc: %s names another issuer", url);
    else if (!json_is_string(uri) || json_string_length(uri) >= sizeof o->jwks_uri ||
             !oidc_url_allowed(json_string_value(uri), &loopback))
        og_log(OG_LOG_ERROR, "oidc: %s has no usable jwks_uri (https required)", url);
    else {
        memcpy(o->jwks_uri, json_string_value(uri), json_string_length(uri) + 1);
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

/* One refresh attempt: discovery (if needed), then the JWKS. Failure keeps the old set. */
void oidc_refresh(struct og_oidc *o)
{
    char *buf;
    size_t len;

    o->st.refreshes++;
    o->attempted = true;
    o->last_attempt = now_of(o);
    if (!o->url_ok || !(buf = malloc(DOC_MAX)))
        return;
    if (!o->jwks_uri[0] && discover(o, buf) != 0)
        goto done;
    if (fetch(o, o->jwks_uri, buf, DOC_MAX, &len) != 0 || oidc_install_jwks(o, buf, len) != 0) {
        og_log(OG_LOG_WARN, "oidc: no usable JWKS from %s; %s", o->jwks_uri,
               o->nkeys ? "keeping the last good one" : "JWTs get 503");
        o->jwks_uri[0] = '\0';   /* discover again next time */
        goto done;
    }
    og_log(OG_LOG_INFO, "oidc: JWKS from %s: %zu keys", o->jwks_uri, o->nkeys);
done:
    free(buf);
}

bool oidc_may_refresh(const struct og_oidc *o, time_t now, time_t interval)
{
    return !o->attempted || now - o->last_attempt >= interval || now < o->last_attempt;
}

void oidc_ensure_jwks(struct og_oidc *o, time_t now)
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
