/*
 * registry.c - asking the registry whether a tag exists (doc/decisions.md).
 *
 * One libcurl easy handle per worker, created at worker start and reused so
 * the TCP connection stays open between requests. No redirects, http/https
 * only, a hard timeout; every answer but 200 and 404 is an error, which the
 * caller turns into 503: ocigate never allows because the registry was unsure.
 */
#include "ocigate_build.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <strings.h>

#include "route.h"

#define PAGE_MAX (4u << 20)

#define FWD_HEADERS_MAX 8192

struct og_registry {
    CURL *curl;
    struct curl_slist *accept;
    int timeout_ms;
    char base[1024];
    char url[2048 + 2 * OG_REPO_MAX + 64];
    /* what the last request brought back */
    char digest[OG_DIGEST_MAX + 1];   /* Docker-Content-Digest */
    char next[2048];                  /* Link: <...>; rel="next" */
    char *body;
    size_t body_len, body_cap;
    int body_overflow;
    /* a forwarded write (og_registry_put_manifest) also keeps its headers,
       and a bounded body whose excess is dropped rather than an error */
    int forwarding;
    char fwd_headers[FWD_HEADERS_MAX];
    size_t fwd_headers_len;
    int fwd_headers_overflow;
    size_t fwd_body_max;
    int fwd_body_truncated;
};

static const char *const manifest_types[] = {
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
};

static size_t keep_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct og_registry *r = userdata;
    size_t n = size * nmemb;

    if (!r->body_cap)                 /* HEAD, or a body nobody wants */
        return n;
    if (r->forwarding && r->body_len + n > r->fwd_body_max) {
        size_t keep = r->fwd_body_max - r->body_len;
        r->fwd_body_truncated = 1;    /* keep reading: the status counts, not the rest */
        if (keep == 0)
            return n;
        keep_body(ptr, 1, keep, userdata);
        return n;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t want = r->body_len + n + 1;
        char *nb;
        if (want > PAGE_MAX) {
            r->body_overflow = 1;
            return 0;                 /* aborts the transfer */
        }
        if (want < 2 * r->body_cap)
            want = 2 * r->body_cap;
        if (want > PAGE_MAX)
            want = PAGE_MAX;
        nb = realloc(r->body, want);
        if (!nb)
            return 0;
        r->body = nb;
        r->body_cap = want;
    }
    memcpy(r->body + r->body_len, ptr, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

/* Copy a header's value (trimmed) if the line is "name: value". */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *v, *end = line + len;

    if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return false;
    v = line + nlen + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if ((size_t)(end - v) >= cap)
        return false;
    memcpy(out, v, (size_t)(end - v));
    out[end - v] = '\0';
    return true;
}

/* Headers of a forwarded answer a client never gets from ocigate: hop-by-hop
   ones (RFC 9110 7.6.1), Status (the CGI status line's name: the web server
   would take it for ocigate's), Content-Length (ocigate sets its own) and
   Date (the web server sets its own; two would be one too many). */
static bool header_dropped(const char *line, size_t len)
{
    static const char *const drop[] = {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "proxy-authenticate", "proxy-authorization", "status", "content-length", "date",
    };
    const char *colon = memchr(line, ':', len);
    size_t nlen;

    if (!colon)
        return true;
    nlen = (size_t)(colon - line);
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strlen(drop[i]) == nlen && strncasecmp(line, drop[i], nlen) == 0)
            return true;
    return false;
}

static void keep_forwarded_header(struct og_registry *r, const char *line, size_t n)
{
    size_t len = n;

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        r->fwd_headers_len = 0;       /* a new (e.g. after 100 Continue) answer */
        r->fwd_headers[0] = '\0';
        return;
    }
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    if (len == 0 || line[0] == ' ' || line[0] == '\t' || header_dropped(line, len))
        return;                       /* the blank line, obsolete folding, dropped */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            return;                   /* never pass a control byte on */
    if (r->fwd_headers_len + len + 3 > sizeof(r->fwd_headers)) {
        r->fwd_headers_overflow = 1;
        return;
    }
    memcpy(r->fwd_headers + r->fwd_headers_len, line, len);
    r->fwd_headers_len += len;
    memcpy(r->fwd_headers + r->fwd_headers_len, "\r\n", 3);
    r->fwd_headers_len += 2;
}

static size_t keep_headers(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct og_registry *r = userdata;
    size_t n = size * nmemb;
    char link[sizeof(r->next) + 64];

    if (r->forwarding)
        keep_forwarded_header(r, line, n);

    header_value(line, n, "Docker-Content-Digest", r->digest, sizeof(r->digest));
    if (header_value(line, n, "Link", link, sizeof(link))) {
        /* <URL>; rel="next" */
        char *lt = strchr(link, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (lt && gt && strstr(gt, "rel=\"next\"") && (size_t)(gt - lt - 1) < sizeof(r->next)) {
            memcpy(r->next, lt + 1, (size_t)(gt - lt - 1));
            r->next[gt - lt - 1] = '\0';
        }
    }
    return n;
}

struct og_registry *og_registry_new(const char *base_url, int timeout_ms)
{
    struct og_registry *r = calloc(1, sizeof(*r));

    if (!r || strlen(base_url) >= sizeof(r->base))
        goto fail;
    snprintf(r->base, sizeof(r->base), "%s", base_url);
    r->timeout_ms = timeout_ms;
    r->curl = curl_easy_init();
    if (!r->curl)
        goto fail;
    r->accept = curl_slist_append(NULL, manifest_types[0]);
    if (!r->accept)
        goto fail;
    curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(r->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->accept);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, keep_headers);
    curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "ocigate/" PACKAGE_VERSION);
    curl_easy_setopt(r->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    return r;
fail:
    og_registry_free(r);
    return NULL;
}

void og_registry_free(struct og_registry *r)
{
    if (!r)
        return;
    if (r->curl)
        curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->accept);
    free(r->body);
    free(r);
}

/* One request on the worker's handle: HEAD (no body kept) or GET (body kept). */
static long perform(struct og_registry *r, const char *url, bool get)
{
    long code = 0;

    r->digest[0] = '\0';
    r->next[0] = '\0';
    r->body_len = 0;
    r->body_overflow = 0;
    if (get && !r->body) {
        r->body = malloc(16384);
        if (!r->body)
            return -1;
        r->body_cap = 16384;
    }
    if (!get)
        r->body_cap = r->body ? r->body_cap : 0;
    curl_easy_setopt(r->curl, CURLOPT_URL, url);
    if (get)
        curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
    else
        curl_easy_setopt(r->curl, CURLOPT_NOBODY, 1L);
    if (curl_easy_perform(r->curl) != CURLE_OK || r->body_overflow)
        return -1;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

enum og_reg_answer og_registry_tag_exists(struct og_registry *r, const char *repo, const char *tag,
                                          long *http_status)
{
    long code = 0;
    int n;

    if (http_status)
        *http_status = 0;
    if (!r)
        return OG_REG_ERROR;
    n = snprintf(r->url, sizeof(r->url), "%s/v2/%s/manifests/%s", r->base, repo, tag);
    if (n < 0 || (size_t)n >= sizeof(r->url))
        return OG_REG_ERROR;
    code = perform(r, r->url, false);
    if (code < 0)
        return OG_REG_ERROR;
    if (http_status)
        *http_status = code;
    if (code == 200)
        return OG_REG_EXISTS;
    if (code == 404)
        return OG_REG_ABSENT;
    return OG_REG_ERROR;
}

enum og_reg_answer og_registry_tag_digest(struct og_registry *r, const char *repo,
                                          const char *tag, char *digest, size_t cap)
{
    long code;
    enum og_reg_answer a = og_registry_tag_exists(r, repo, tag, &code);

    if (a != OG_REG_EXISTS)
        return a;
    if (!og_valid_digest(r->digest, strlen(r->digest)) || strlen(r->digest) >= cap)
        return OG_REG_ERROR;                /* no usable digest: cannot tell */
    memcpy(digest, r->digest, strlen(r->digest) + 1);
    return OG_REG_EXISTS;
}

enum og_reg_answer og_registry_tag_covers(struct og_registry *r, const char *repo,
                                          const char *tag, const char *target,
                                          int *via_index)
{
    json_t *doc, *list, *m;
    size_t i;
    long code;
    int n;
    enum og_reg_answer a = OG_REG_ABSENT;

    *via_index = 0;
    if (!r)
        return OG_REG_ERROR;
    n = snprintf(r->url, sizeof(r->url), "%s/v2/%s/manifests/%s", r->base, repo, tag);
    if (n < 0 || (size_t)n >= sizeof(r->url))
        return OG_REG_ERROR;
    code = perform(r, r->url, true);
    if (code == 404)
        return OG_REG_ABSENT;
    if (code != 200 || !og_valid_digest(r->digest, strlen(r->digest)))
        return OG_REG_ERROR;
    if (strcmp(r->digest, target) == 0)
        return OG_REG_EXISTS;
    doc = json_loadb(r->body, r->body_len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return OG_REG_ERROR;
    }
    list = json_object_get(doc, "manifests");       /* an index (or a manifest list) */
    json_array_foreach(list, i, m) {
        const char *d = json_string_value(json_object_get(m, "digest"));
        if (d && strcmp(d, target) == 0) {
            *via_index = 1;
            a = OG_REG_EXISTS;
            break;
        }
    }
    json_decref(doc);
    return a;
}

/* The next page's URL: absolute, or a path on the registry. */
static bool next_page(struct og_registry *r)
{
    char path[sizeof(r->next)];
    int n;

    if (!r->next[0])
        return false;
    if (r->next[0] == '/') {
        snprintf(path, sizeof(path), "%s", r->next);
        n = snprintf(r->url, sizeof(r->url), "%s%s", r->base, path);
    } else if (strncmp(r->next, r->base, strlen(r->base)) == 0 && r->next[strlen(r->base)] == '/') {
        n = snprintf(r->url, sizeof(r->url), "%s", r->next);
    } else {
        return false;                       /* never follow a link to another host */
    }
    return n > 0 && (size_t)n < sizeof(r->url);
}

/* GET a paginated list (tags/list or _catalog) and call fn for each string
   of the array `key`; bounded by max entries. */
static int list_strings(struct og_registry *r, const char *key, size_t max,
                        int (*fn)(const char *s, size_t len, void *arg), void *arg)
{
    size_t total = 0;
    size_t pages = 0;
    char next[sizeof(r->next)];

    for (;;) {
        json_t *doc, *items, *t;
        size_t i;
        long code = perform(r, r->url, true);
        int stop = 0;

        if (code == 404 && pages == 0)
            return 0;                       /* no such repository: nothing listed */
        if (code != 200)
            return -1;
        /* fn may ask the registry itself (on this handle): keep the next page */
        memcpy(next, r->next, sizeof(next));
        doc = json_loadb(r->body, r->body_len, 0, NULL);
        items = doc ? json_object_get(doc, key) : NULL;
        if (!doc || !(json_is_array(items) || json_is_null(items))) {
            json_decref(doc);
            return -1;
        }
        json_array_foreach(items, i, t) {
            const char *s = json_string_value(t);
            if (!s || ++total > max) {
                json_decref(doc);
                return -1;
            }
            if (!stop && fn(s, strlen(s), arg) != 0)
                stop = 1;
        }
        json_decref(doc);
        memcpy(r->next, next, sizeof(next));
        if (stop || !next_page(r))
            return 0;
        if (++pages > max / 100 + 1)
            return -1;
    }
}

int og_registry_list_tags(struct og_registry *r, const char *repo,
                          int (*fn)(const char *tag, size_t len, void *arg), void *arg)
{
    int n;

    if (!r)
        return -1;
    n = snprintf(r->url, sizeof(r->url), "%s/v2/%s/tags/list?n=1000", r->base, repo);
    if (n < 0 || (size_t)n >= sizeof(r->url))
        return -1;
    return list_strings(r, "tags", OG_REGISTRY_MAX_TAGS, fn, arg);
}

int og_registry_catalog(struct og_registry *r, const char *last, size_t page,
                        int (*fn)(const char *repo, size_t len, void *arg), void *arg)
{
    int n;

    if (!r || (last && *last && !og_valid_repo(last, strlen(last))))
        return -1;
    if (page < 1 || page > 1000)
        page = 1000;
    /* the registry skips to `last` in its own order (distribution sorts by
       path component, zot by string): never compare names here */
    if (last && *last)
        n = snprintf(r->url, sizeof(r->url), "%s/v2/_catalog?n=%zu&last=%s", r->base, page, last);
    else
        n = snprintf(r->url, sizeof(r->url), "%s/v2/_catalog?n=%zu", r->base, page);
    if (n < 0 || (size_t)n >= sizeof(r->url))
        return -1;
    return list_strings(r, "repositories", OG_REGISTRY_MAX_REPOS, fn, arg);
}

/* ------------------------------------------------- forwarded manifest PUT */

int og_registry_put_manifest(struct og_registry *r, const char *repo, const char *reference,
                             const char (*tags)[OG_TAG_MAX + 1], size_t ntags,
                             const char *const *headers, size_t nheaders,
                             const char *body, size_t body_len, int timeout_ms,
                             struct og_reg_reply *out)
{
    struct curl_slist *hl = NULL, *t;
    CURLcode rc;
    size_t off;
    int n, result = -1;

    memset(out, 0, sizeof(*out));
    if (!r || nheaders > OG_REGISTRY_MAX_EXTRA_HEADERS)
        return -1;
    n = snprintf(r->url, sizeof(r->url), "%s/v2/%s/manifests/%s", r->base, repo, reference);
    if (n < 0 || (size_t)n >= sizeof(r->url))
        return -1;
    off = (size_t)n;
    for (size_t i = 0; i < ntags; i++) {   /* only the tags that were judged */
        n = snprintf(r->url + off, sizeof(r->url) - off, "%stag=%s", i ? "&" : "?", tags[i]);
        if (n < 0 || (size_t)n >= sizeof(r->url) - off)
            return -1;
        off += (size_t)n;
    }
    /* no Accept list of the HEAD requests, no Expect: 100-continue */
    hl = curl_slist_append(NULL, "Accept:");
    if (hl && (t = curl_slist_append(hl, "Expect:")))
        hl = t;
    for (size_t i = 0; hl && i < nheaders; i++) {
        t = curl_slist_append(hl, headers[i]);
        if (!t) {
            curl_slist_free_all(hl);
            hl = NULL;
        } else {
            hl = t;
        }
    }
    if (!hl)
        return -1;
    if (!r->body) {
        r->body = malloc(16384);
        if (!r->body)
            goto out;
        r->body_cap = 16384;
    }
    r->digest[0] = r->next[0] = '\0';
    r->body_len = 0;
    r->body[0] = '\0';
    r->body_overflow = 0;
    r->forwarding = 1;
    r->fwd_headers_len = 0;
    r->fwd_headers[0] = '\0';
    r->fwd_headers_overflow = 0;
    r->fwd_body_max = OG_REGISTRY_REPLY_BODY_MAX;
    r->fwd_body_truncated = 0;

    curl_easy_setopt(r->curl, CURLOPT_URL, r->url);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(r->curl, CURLOPT_NOBODY, 0L);      /* the handle was last a HEAD */
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    rc = curl_easy_perform(r->curl);
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    out->maybe_sent = !(rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                        rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_URL_MALFORMAT);
    if (rc == CURLE_OK && out->status > 0 && !r->body_overflow && !r->fwd_headers_overflow) {
        out->headers = r->fwd_headers;
        out->headers_len = r->fwd_headers_len;
        out->body = r->body;
        out->body_len = r->body_len;
        out->body_truncated = r->fwd_body_truncated;
        result = 0;
    } else if (rc == CURLE_OK) {
        out->status = 0;              /* an answer too large to pass on: none */
    }
out:
    /* back to what the HEAD/GET questions expect */
    r->forwarding = 0;
    curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(r->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->accept);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_slist_free_all(hl);
    return result;
}
