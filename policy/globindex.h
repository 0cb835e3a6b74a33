/*
 * globindex.h - which of many compiled globs match a name, without trying
 * them all.
 *
 * Built once (at config load) over a list of globs, each with an id (its
 * rank: a smaller id wins). The index is a trie over the literal prefix of
 * every {} alternative (the bytes before its first wildcard); a name walks
 * down the trie along its own bytes, and only the globs hung on the nodes
 * it passes (the prefixes of the name) are tried, each node's best first.
 * Globs that begin with a wildcard hang on the root. og_glob_index_first
 * answers exactly what trying every glob in id order would: the smallest
 * id whose glob matches (and that accept() takes). Lookups allocate
 * nothing.
 */
#ifndef OCIGATE_POLICY_GLOBINDEX_H
#define OCIGATE_POLICY_GLOBINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct og_glob;
struct og_glob_index;

#define OG_GLOB_INDEX_NONE UINT32_MAX

/* Index globs[0..n), globs[i] ranked ids[i] (ids may repeat: several globs
   of one rule). The globs must outlive the index. NULL when out of memory. */
struct og_glob_index *og_glob_index_build(struct og_glob *const *globs, const uint32_t *ids,
                                          size_t n);

/* Optional filter: does the entry with this id count (e.g. its tag globs
   match too)? */
typedef bool (*og_glob_index_accept)(const void *ctx, uint32_t id);

/* The smallest id among the globs matching s[0..len) (and taken by accept,
   when given), or OG_GLOB_INDEX_NONE. ix may be NULL (no globs). */
uint32_t og_glob_index_first(const struct og_glob_index *ix, const char *s, size_t len,
                             og_glob_index_accept accept, const void *ctx);

/* How many globs a lookup of s[0..len) would try at most (for tests and
   benchmarks: the bound the index gives). */
size_t og_glob_index_candidates(const struct og_glob_index *ix, const char *s, size_t len);

void og_glob_index_free(struct og_glob_index *ix);

#endif
