/*
 * registry.h - the questions ocigate asks the registry, over one keep-alive handle.
 */
#ifndef OCIGATE_REGISTRY_H
#define OCIGATE_REGISTRY_H

#include <stddef.h>

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

#endif
