/*
 * globindex.c - a trie over the literal prefixes of many globs (see
 * globindex.h): a name tries only the globs whose prefix it begins with.
 *
 * Layout, all built once: nodes (each with its parent, its child edges and
 * its entries), edges sorted by byte (binary search), entries sorted by id
 * within a node. A lookup walks down the name's bytes to the deepest node
 * and back up through the parents; at each node it tries that node's
 * entries in id order, stops at the first that matches and skips every
 * entry whose id cannot beat the best found so far.
 */
#include "globindex.h"

#include <stdlib.h>
#include <string.h>

#include "glob.h"

/* Prefix bytes indexed: a longer prefix is cut (still a prefix, just less
   selective). Repository names are at most 255 bytes in practice. */
#define PREFIX_CAP 256

struct node {
    uint32_t parent;
    uint32_t first_edge, nedges;
    uint32_t first_ent, nents;
};

struct ent {
    uint32_t id;
    const struct og_glob *glob;
};

struct og_glob_index {
    struct node *nodes;
    uint32_t nnodes;
    unsigned char *edge_byte;
    uint32_t *edge_child;
    uint32_t nedges;
    struct ent *ents;
    uint32_t nents;
};

/* One (glob, alternative) while building. */
struct bent {
    const unsigned char *pfx;
    size_t len;
    uint32_t id;
    size_t gi;
};

static int bent_cmp(const void *a, const void *b)
{
    const struct bent *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = m ? memcmp(x->pfx, y->pfx, m) : 0;

    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->gi < y->gi ? -1 : x->gi > y->gi;
}

static uint32_t build(struct og_glob_index *ix, struct og_glob *const *globs,
                      const struct bent *b, size_t lo, size_t hi, size_t depth, uint32_t parent)
{
    uint32_t me = ix->nnodes++, first_edge, g;
    struct node *n = &ix->nodes[me];
    size_t i = lo, j;

    n->parent = parent;
    n->first_ent = ix->nents;
    for (; i < hi && b[i].len == depth; i++) {
        ix->ents[ix->nents].id = b[i].id;
        ix->ents[ix->nents].glob = globs[b[i].gi];
        ix->nents++;
    }
    n->nents = ix->nents - n->first_ent;
    n->nedges = 0;
    for (j = i; j < hi; j++)
        if (j == i || b[j].pfx[depth] != b[j - 1].pfx[depth])
            n->nedges++;
    first_edge = n->first_edge = ix->nedges;
    ix->nedges += n->nedges;
    for (g = 0; i < hi; g++) {
        unsigned char c = b[i].pfx[depth];
        for (j = i; j < hi && b[j].pfx[depth] == c; j++)
            ;
        ix->edge_byte[first_edge + g] = c;
        ix->edge_child[first_edge + g] = build(ix, globs, b, i, j, depth + 1, me);
        i = j;
    }
    return me;
}

struct og_glob_index *og_glob_index_build(struct og_glob *const *globs, const uint32_t *ids,
                                          size_t n)
{
    struct og_glob_index *ix = NULL;
    struct bent *b = NULL;
    unsigned char *pool = NULL;
    size_t nb = 0, k, i, nnodes = 1, bytes = 0, o = 0, lcp;
    char tmp[PREFIX_CAP];

    for (i = 0; i < n; i++)
        for (k = 0; k < og_glob_nalts(globs[i]); k++) {
            bytes += og_glob_alt_prefix(globs[i], k, tmp, sizeof tmp);
            nb++;
        }
    if (nb >= UINT32_MAX / 2)
        return NULL;
    ix = calloc(1, sizeof *ix);
    b = calloc(nb ? nb : 1, sizeof *b);
    pool = malloc(bytes + 1);
    if (!ix || !b || !pool)
        goto fail;
    nb = 0;
    for (i = 0; i < n; i++)
        for (k = 0; k < og_glob_nalts(globs[i]); k++) {
            b[nb].pfx = pool + o;
            b[nb].len = og_glob_alt_prefix(globs[i], k, (char *)pool + o, PREFIX_CAP);
            b[nb].id = ids[i];
            b[nb].gi = i;
            o += b[nb].len;
            nb++;
        }
    qsort(b, nb, sizeof *b, bent_cmp);
    /* one entry per (glob, prefix): "{a,a}" needs trying once */
    for (i = k = 0; i < nb; i++)
        if (k == 0 || b[i].gi != b[k - 1].gi || b[i].len != b[k - 1].len ||
            memcmp(b[i].pfx, b[k - 1].pfx, b[i].len) != 0)
            b[k++] = b[i];
    nb = k;
    for (i = 0; i < nb; i++) {
        lcp = 0;
        if (i > 0)
            while (lcp < b[i].len && lcp < b[i - 1].len && b[i].pfx[lcp] == b[i - 1].pfx[lcp])
                lcp++;
        nnodes += b[i].len - lcp;
    }
    if (nnodes >= UINT32_MAX)
        goto fail;
    ix->nodes = calloc(nnodes, sizeof *ix->nodes);
    ix->edge_byte = malloc(nnodes);
    ix->edge_child = calloc(nnodes, sizeof *ix->edge_child);
    ix->ents = calloc(nb ? nb : 1, sizeof *ix->ents);
    if (!ix->nodes || !ix->edge_byte || !ix->edge_child || !ix->ents)
        goto fail;
    build(ix, globs, b, 0, nb, 0, 0);
    free(b);
    free(pool);
    return ix;

fail:
    free(b);
    free(pool);
    og_glob_index_free(ix);
    return NULL;
}

/* The deepest node whose prefix s begins with. */
static uint32_t descend(const struct og_glob_index *ix, const unsigned char *s, size_t len)
{
    uint32_t at = 0;

    for (size_t d = 0; d < len; d++) {
        const struct node *n = &ix->nodes[at];
        const unsigned char *e = ix->edge_byte + n->first_edge;
        uint32_t lo = 0, hi = n->nedges;

        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (e[mid] < s[d])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == n->nedges || e[lo] != s[d])
            break;
        at = ix->edge_child[n->first_edge + lo];
    }
    return at;
}

uint32_t og_glob_index_first(const struct og_glob_index *ix, const char *s, size_t len,
                             og_glob_index_accept accept, const void *ctx)
{
    uint32_t best = OG_GLOB_INDEX_NONE, at;

    if (!ix || !ix->nnodes || (s == NULL && len != 0))
        return OG_GLOB_INDEX_NONE;
    at = descend(ix, (const unsigned char *)s, len);
    for (;;) {
        const struct node *n = &ix->nodes[at];
        const struct ent *e = ix->ents + n->first_ent;

        for (uint32_t i = 0; i < n->nents && e[i].id < best; i++)
            if (og_glob_match(e[i].glob, s, len) && (!accept || accept(ctx, e[i].id))) {
                best = e[i].id;
                break;
            }
        if (at == 0)
            return best;
        at = n->parent;
    }
}

size_t og_glob_index_candidates(const struct og_glob_index *ix, const char *s, size_t len)
{
    size_t c = 0;
    uint32_t at;

    if (!ix || !ix->nnodes || (s == NULL && len != 0))
        return 0;
    for (at = descend(ix, (const unsigned char *)s, len);; at = ix->nodes[at].parent) {
        c += ix->nodes[at].nents;
        if (at == 0)
            return c;
    }
}

void og_glob_index_free(struct og_glob_index *ix)
{
    if (!ix)
        return;
    free(ix->nodes);
    free(ix->edge_byte);
    free(ix->edge_child);
    free(ix->ents);
    free(ix);
}
