/*
 * registry.h - the questions ocigate asks the registry, over one keep-alive handle.
 */
#ifndef OCIGATE_REGISTRY_H
#define OCIGATE_REGISTRY_H

#include <stddef.h>

#include "route.h"

struct og_registry;

/* One per worker: a libcurl easy handle reused for keep-alive. */
struct og_registry *og_registry_new(const char *base_url, int timeout_ms);
void og_registry_free(struct og_registry *r);

enum og_reg_answer { OG_REG_EXISTS = 0, OG_REG_ABSENT, OG_REG_ERROR };

/* HEAD /v2/REPO/manifests/TAG: 200 exists, 404 absent, anything else (or a
   timeout) error. repo and tag must already be grammar-checked. */
enum og_reg_answer og_registry_tag_exists(struct og_registry *r, const char *repo, const char *tag,
                                          long *http_status);

/* HEAD /v2/REPO/manifests/TAG and read Docker-Content-Digest into digest
   (at least 136 bytes). EXISTS with the digest, ABSENT, or ERROR. */
enum og_reg_answer og_registry_tag_digest(struct og_registry *r, const char *repo,
                                          const char *tag, char *digest, size_t cap);

/* GET /v2/REPO/manifests/TAG: does the tag point at target, directly or as
   one of the manifests of the index it points at (*via_index)? EXISTS yes,
   ABSENT no (or no such tag), ERROR when it cannot tell (no digest, a body
   that is not JSON, more than 4 MiB, a timeout): the caller fails closed. */
enum og_reg_answer og_registry_tag_covers(struct og_registry *r, const char *repo,
                                          const char *tag, const char *target,
                                          int *via_index);

/* GET /v2/REPO/tags/list, following Link pagination, calling fn for each
   tag. Bounded (at most OG_REGISTRY_MAX_TAGS tags, 4 MiB a page): past the
   bound, or on any error, returns -1 (the caller fails closed). A repository
   the registry does not know has no tags (returns 0). fn returning non-zero
   stops the walk early. */
#define OG_REGISTRY_MAX_TAGS 10000
int og_registry_list_tags(struct og_registry *r, const char *repo,
                          int (*fn)(const char *tag, size_t len, void *arg), void *arg);

/* GET /v2/_catalog?n=PAGE (starting after `last` when given, in the
   registry's own order), page after page, calling fn for each repository
   (at most OG_REGISTRY_MAX_REPOS) until fn returns non-zero or the catalog
   ends; -1 on any error or past the bound. page: 1..1000. */
#define OG_REGISTRY_MAX_REPOS 100000
int og_registry_catalog(struct og_registry *r, const char *last, size_t page,
                        int (*fn)(const char *repo, size_t len, void *arg), void *arg);

/* What a forwarded manifest PUT brought back (valid until the next call). */
struct og_reg_reply {
    long status;            /* the registry's HTTP status; 0: no answer */
    int timed_out;          /* no (complete) answer within the deadline */
    int maybe_sent;         /* the request may have reached the registry (0 only
                               when no connection could be made at all) */
    const char *headers;    /* "Name: value\r\n" lines a client needs: everything
                               but hop-by-hop headers, Status and Content-Length */
    size_t headers_len;
    const char *body;       /* at most OG_REGISTRY_REPLY_BODY_MAX bytes */
    size_t body_len;
    int body_truncated;     /* the registry sent more: the rest was dropped */
};

#define OG_REGISTRY_REPLY_BODY_MAX 65536

/* A header line for og_registry_put_manifest: "Name: value", no CR/LF. */
#define OG_REGISTRY_MAX_EXTRA_HEADERS 12

/*
 * PUT /v2/REPO/manifests/REF[?tag=T...] with body on the worker's handle,
 * the request headers given (each "Name: value", already checked), and a
 * deadline of timeout_ms for the whole exchange. 0 when the registry
 * answered (any status), -1 when it did not (see timed_out, maybe_sent).
 * repo, reference and tags must already be grammar-checked.
 */
int og_registry_put_manifest(struct og_registry *r, const char *repo, const char *reference,
                             const char (*tags)[OG_TAG_MAX + 1], size_t ntags,
                             const char *const *headers, size_t nheaders,
                             const char *body, size_t body_len, int timeout_ms,
                             struct og_reg_reply *out);

#endif
