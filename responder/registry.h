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

#endif
