/*
 * registry.c - asking the registry whether a tag exists (SPEC §5).
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

#include "route.h"

struct og_registry {
    CURL *curl;
    struct curl_slist *accept;
    char base[1024];
    char url[1024 + 2 * OG_REPO_MAX + 64];
};

static const char *const manifest_types[] = {
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
};

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

struct og_registry *og_registry_new(const char *base_url, int timeout_ms)
{
    struct og_registry *r = calloc(1, sizeof(*r));

    if (!r || strlen(base_url) >= sizeof(r->base))
        goto fail;
    snprintf(r->base, sizeof(r->base), "%s", base_url);
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
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, discard_body);
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
    free(r);
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
    curl_easy_setopt(r->curl, CURLOPT_URL, r->url);
    if (curl_easy_perform(r->curl) != CURLE_OK)
        return OG_REG_ERROR;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    if (http_status)
        *http_status = code;
    if (code == 200)
        return OG_REG_EXISTS;
    if (code == 404)
        return OG_REG_ABSENT;
    return OG_REG_ERROR;
}
