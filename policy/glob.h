/*
 * glob.h - doublestar glob patterns (zot's repository patterns), compiled once.
 *
 * Semantics of github.com/bmatcuk/doublestar/v4 Match with '/' as separator:
 *   *      any run of non-'/' bytes (may be empty)
 *   ?      one non-'/' byte
 *   [abc] [a-z] [!x] [^x]   one non-'/' byte from (or not from) a class
 *   {a,b}  alternation, nestable, empty alternatives allowed
 *   \x     the byte x literally
 *   **     as a whole path component: zero or more components
 *          (pattern a/STARSTAR matches "a" and everything below it; STARSTAR
 *          alone matches everything; a/STARSTAR/b matches "a/b"); a "**" that
 *          is not a whole component is "*". (STARSTAR = "**": C comments
 *          cannot hold a slash followed by two stars.)
 * Matching is case-sensitive, allocates nothing and does no I/O.
 */
#ifndef OCIGATE_POLICY_GLOB_H
#define OCIGATE_POLICY_GLOB_H

#include <stdbool.h>
#include <stddef.h>

struct og_glob;

/* Compile pattern[0..len). On error returns NULL and writes a message to err. */
struct og_glob *og_glob_compile(const char *pattern, size_t len, char *err, size_t errlen);

/* Does the compiled pattern match s[0..len) as a whole? */
bool og_glob_match(const struct og_glob *g, const char *s, size_t len);

/* The source text the glob was compiled from (NUL-terminated). */
const char *og_glob_source(const struct og_glob *g);

void og_glob_free(struct og_glob *g);

/* For indexes (policy/globindex.c): the number of alternatives after {}
   expansion, and the literal bytes every name matched by alternative k
   begins with (its leading literal tokens, those it needs even when a
   zero-length tail is dropped). At most cap of them are copied to buf; the
   count copied is returned (a truncated prefix is still a prefix). */
size_t og_glob_nalts(const struct og_glob *g);
size_t og_glob_alt_prefix(const struct og_glob *g, size_t k, char *buf, size_t cap);

#endif
