/*
 * fuzz_common.h - small helpers shared by the libFuzzer harnesses.
 *
 * Harnesses split one input into parts at NUL bytes (a NUL can never occur
 * inside the C strings the parsers are given), copy every part into its own
 * heap block of exactly its size (so ASan sees any read past the end), and
 * free everything before returning (libFuzzer reports leaks per input).
 */
#ifndef OCIGATE_FUZZ_COMMON_H
#define OCIGATE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A heap copy of p[0..n) with nothing after it (not NUL-terminated). */
static inline char *fz_dup_exact(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

/* A heap copy of p[0..n) plus a terminating NUL. */
static inline char *fz_dup_str(const void *p, size_t n)
{
    char *c = malloc(n + 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

/* The next NUL-separated part of the cursor: sets part and len, advances.
   Returns 0 when there is nothing left (an empty trailing part is still 1). */
struct fz_cursor {
    const uint8_t *p;
    size_t n;
    int done;
};

static inline int fz_next(struct fz_cursor *c, const uint8_t **part, size_t *len)
{
    const uint8_t *nul;

    if (c->done)
        return 0;
    nul = c->n ? memchr(c->p, 0, c->n) : NULL;
    *part = c->p;
    if (nul) {
        *len = (size_t)(nul - c->p);
        c->n -= *len + 1;
        c->p = nul + 1;
    } else {
        *len = c->n;
        c->p += c->n;
        c->n = 0;
        c->done = 1;
    }
    return 1;
}

/* An invariant of the parser's contract: a violation is a finding, so abort
   (libFuzzer keeps the input) with the condition and the line. */
#include <stdio.h>
#define FZ_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__,      \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
