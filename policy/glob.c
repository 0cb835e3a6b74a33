/*
 * glob.c - doublestar (github.com/bmatcuk/doublestar/v4) glob patterns.
 *
 * og_glob_compile validates a pattern the way doublestar.ValidatePattern
 * does, expands its {a,b} alternations into at most OG_GLOB_MAX_ALTS plain
 * alternatives and turns each into a short token program.  og_glob_match
 * runs those programs against a name: no allocation, no I/O, and no
 * exponential backtracking (see match_seq for why the greedy choices made
 * there are complete).
 *
 * Matching is bytewise.  Repository names are ASCII by the distribution
 * grammar, where bytes and runes coincide; for non-ASCII names '?' and a
 * class consume one byte rather than one UTF-8 rune.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "buf.h"

#define OG_GLOB_MAX_LEN   1024    /* pattern bytes */
#define OG_GLOB_MAX_ALTS  256     /* alternatives after {} expansion */
#define OG_GLOB_MAX_DEPTH 32      /* {} nesting */
#define OG_GLOB_MAX_TOKS  65536   /* tokens over all alternatives */
#define OG_GLOB_MAX_CLS   65535   /* distinct classes */

enum tok_kind {
    T_LIT,       /* one byte, exactly */
    T_ONE,       /* '?': one byte other than '/' */
    T_CLASS,     /* [...]: one byte of a set (never '/') */
    T_STAR,      /* '*': any run of non-'/' bytes */
    T_DS_SLASH,  /* "**" + "/" as whole components: "" or anything ending in '/' */
    T_DS_END     /* "**" as the last whole component: anything at all */
};

#define F_ESC  0x01  /* T_LIT written as \x */
#define F_DBL  0x02  /* T_STAR written as exactly "**" */
#define F_MARK 0x04  /* token begins where a {} alternative began */

/* A token of a compiled glob (four bytes). */
struct tok {
    unsigned char kind;
    unsigned char ch;     /* T_LIT: the byte */
    uint16_t cls;         /* T_CLASS: index into the glob's classes */
};

/* A token while it is compiled: with how it was written (F_*), which only
   compiling needs. */
struct btok {
    unsigned char kind;
    unsigned char ch;
    unsigned char flags;
    uint16_t cls;
};

_Static_assert(sizeof(struct tok) == 4, "a token is four bytes");

struct alt {
    uint32_t first;  /* index of the first token in og_glob.toks */
    uint32_t ntok;
    uint32_t ztail;  /* trailing tokens allowed to match nothing at the end (zero-length rest) */
};

/* One allocation per pattern: this header, then its alternatives, tokens,
   classes and NUL-terminated source text, each array exactly as long as it
   needs (alts_of, toks_of, cls_of, src_of find them). */
struct og_glob {
    uint32_t nalts;
    uint32_t toks_at, cls_at, src_at;   /* byte offsets from the header */
};

static const struct alt *alts_of(const struct og_glob *g)
{
    return (const struct alt *)(const void *)(g + 1);
}

static const struct tok *toks_of(const struct og_glob *g)
{
    return (const struct tok *)(const void *)((const char *)g + g->toks_at);
}

static const unsigned char (*cls_of(const struct og_glob *g))[32]
{
    return (const unsigned char (*)[32])(const void *)((const char *)g + g->cls_at);
}

static const char *src_of(const struct og_glob *g)
{
    return (const char *)g + g->src_at;
}

/* A glob while it is compiled: growable arrays, copied into one og_glob. */
struct build {
    struct alt *alts;
    size_t nalts;
    struct btok *toks;
    size_t ntoks, captoks;
    unsigned char (*cls)[32];
    size_t ncls, capcls;
};

/* ---- validation (doublestar.ValidatePattern, with messages) ------------ */

static bool validate(const char *p, size_t n, char *err, size_t errlen)
{
    size_t i, lb, depth = 0, last_open = 0;

    for (i = 0; i < n; i++) {
        switch (p[i]) {
        case '\\':
            if (++i >= n) {
                og_set_err(err, errlen, "trailing '\\' at offset %zu", i - 1);
                return false;
            }
            break;
        case '[':
            lb = i;
            if (++i < n && (p[i] == '!' || p[i] == '^'))
                i++;
            if (i < n && p[i] == ']') {
                og_set_err(err, errlen, "empty character class at offset %zu", lb);
                return false;
            }
            for (; i < n; i++) {
                if (p[i] == '\\')
                    i++;
                else if (p[i] == ']')
                    break;
            }
            if (i >= n) {
                og_set_err(err, errlen, "unterminated character class at offset %zu", lb);
                return false;
            }
            break;
        case '{':
            if (depth == 0)
                last_open = i;
            if (++depth > OG_GLOB_MAX_DEPTH) {
                og_set_err(err, errlen, "'{' nested deeper than %d at offset %zu",
                           OG_GLOB_MAX_DEPTH, i);
                return false;
            }
            break;
        case '}':
            if (depth == 0) {
                og_set_err(err, errlen, "unbalanced '}' at offset %zu", i);
                return false;
            }
            depth--;
            break;
        default:
            break;
        }
    }
    if (depth != 0) {
        og_set_err(err, errlen, "unbalanced '{' at offset %zu", last_open);
        return false;
    }
    return true;
}

/* ---- {} expansion, on validated text ----------------------------------- */

/* p[i] == '[': the index just past the class's closing ']'. */
static size_t skip_class(const char *p, size_t i)
{
    i++;
    if (p[i] == '!' || p[i] == '^')
        i++;
    for (;;) {
        if (p[i] == '\\')
            i += 2;
        else if (p[i] == ']')
            return i + 1;
        else
            i++;
    }
}

/* p[i] == '{': the index of its matching '}' (before e). */
static size_t match_close(const char *p, size_t i, size_t e)
{
    size_t depth = 0;

    while (i < e) {
        if (p[i] == '\\') {
            i += 2;
        } else if (p[i] == '[') {
            i = skip_class(p, i);
        } else {
            if (p[i] == '{')
                depth++;
            else if (p[i] == '}' && --depth == 0)
                return i;
            i++;
        }
    }
    return e;  /* not reached on validated input */
}

/* The first ',' at brace depth 0 in p[b..e), or e. */
static size_t next_comma(const char *p, size_t b, size_t e)
{
    size_t depth = 0, i = b;

    while (i < e) {
        if (p[i] == '\\') {
            i += 2;
        } else if (p[i] == '[') {
            i = skip_class(p, i);
        } else {
            if (p[i] == '{')
                depth++;
            else if (p[i] == '}')
                depth--;
            else if (p[i] == ',' && depth == 0)
                return i;
            i++;
        }
    }
    return e;
}

#define SAT (OG_GLOB_MAX_ALTS + 1)

static size_t count_alt(const char *p, size_t b, size_t e);

/* Number of expansions of the sequence p[b..e), saturated at SAT. */
static size_t count_seq(const char *p, size_t b, size_t e)
{
    size_t prod = 1, i = b, j;

    while (i < e) {
        if (p[i] == '\\') {
            i += 2;
        } else if (p[i] == '[') {
            i = skip_class(p, i);
        } else if (p[i] == '{') {
            j = match_close(p, i, e);
            prod *= count_alt(p, i + 1, j);  /* both factors <= SAT */
            if (prod > SAT)
                prod = SAT;
            i = j + 1;
        } else {
            i++;
        }
    }
    return prod;
}

/* Number of expansions of the alternation body p[b..e), saturated at SAT. */
static size_t count_alt(const char *p, size_t b, size_t e)
{
    size_t sum = 0, c;

    for (;;) {
        c = next_comma(p, b, e);
        sum += count_seq(p, b, c);
        if (sum > SAT)
            sum = SAT;
        if (c >= e)
            return sum;
        b = c + 1;
    }
}

static void emit_alt(const char *p, size_t b, size_t e, size_t k,
                     char *out, size_t *o, bool *marks);

/* Write expansion number k of p[b..e) to out (+*o); mark where each
 * alternation began in the output. */
static void emit_seq(const char *p, size_t b, size_t e, size_t k,
                     char *out, size_t *o, bool *marks)
{
    size_t i = b, j, c;

    while (i < e) {
        if (p[i] == '\\') {
            out[(*o)++] = p[i++];
            out[(*o)++] = p[i++];
        } else if (p[i] == '[') {
            j = skip_class(p, i);
            memcpy(out + *o, p + i, j - i);
            *o += j - i;
            i = j;
        } else if (p[i] == '{') {
            j = match_close(p, i, e);
            c = count_alt(p, i + 1, j);
            marks[*o] = true;
            emit_alt(p, i + 1, j, k % c, out, o, marks);
            k /= c;
            i = j + 1;
        } else {
            out[(*o)++] = p[i++];
        }
    }
}

static void emit_alt(const char *p, size_t b, size_t e, size_t k,
                     char *out, size_t *o, bool *marks)
{
    size_t c, n;

    for (;;) {
        c = next_comma(p, b, e);
        n = count_seq(p, b, c);
        if (k < n || c >= e) {
            emit_seq(p, b, c, k, out, o, marks);
            return;
        }
        k -= n;
        b = c + 1;
    }
}

/* ---- tokenizing one expanded alternative ------------------------------ */

static bool push_tok(struct build *g, const struct btok *t)
{
    struct btok *nt;
    size_t cap;

    if (g->ntoks == g->captoks) {
        if (g->captoks >= OG_GLOB_MAX_TOKS)
            return false;
        cap = g->captoks ? g->captoks * 2 : 32;
        nt = realloc(g->toks, cap * sizeof *nt);
        if (nt == NULL)
            return false;
        g->toks = nt;
        g->captoks = cap;
    }
    g->toks[g->ntoks++] = *t;
    return true;
}

/* Index of an identical class, or a new one; -1 on failure. */
static long intern_class(struct build *g, const unsigned char set[32])
{
    unsigned char (*nc)[32];
    size_t i, cap;

    for (i = 0; i < g->ncls; i++)
        if (memcmp(g->cls[i], set, 32) == 0)
            return (long)i;
    if (g->ncls == g->capcls) {
        if (g->capcls >= OG_GLOB_MAX_CLS)
            return -1;
        cap = g->capcls ? g->capcls * 2 : 4;
        if (cap > OG_GLOB_MAX_CLS)
            cap = OG_GLOB_MAX_CLS;
        nc = realloc(g->cls, cap * sizeof *nc);
        if (nc == NULL)
            return -1;
        g->cls = nc;
        g->capcls = cap;
    }
    memcpy(g->cls[g->ncls], set, 32);
    return (long)g->ncls++;
}

static void set_bit(unsigned char set[32], unsigned c)
{
    set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

/* t[*i] == '[' (validated).  Builds the byte set; advances *i past ']'. */
static void parse_class(const unsigned char *t, size_t *i, unsigned char set[32])
{
    size_t k = *i + 1;
    bool neg = false, have_last = false;
    unsigned last = 0, c, hi, x;

    memset(set, 0, 32);
    if (t[k] == '!' || t[k] == '^') {
        neg = true;
        k++;
    }
    while (t[k] != ']') {
        c = t[k++];
        if (have_last && c == '-' && t[k] != ']') {
            hi = t[k++];
            if (hi == '\\')
                hi = t[k++];
            for (x = last; x <= hi; x++)
                set_bit(set, x);
            have_last = false;
            continue;
        }
        if (c == '\\')
            c = t[k++];
        set_bit(set, c);
        last = c;
        have_last = true;
    }
    if (neg)
        for (x = 0; x < 32; x++)
            set[x] = (unsigned char)~set[x];
    set[(unsigned)'/' >> 3] &= (unsigned char)~(1u << ((unsigned)'/' & 7));
    *i = k + 1;
}

/*
 * Tokenize one alternative.  "**" is a doublestar only as a whole path
 * component: at the start, after a '/', or (as in doublestar, whose
 * recursion for a {} alternative starts a new segment) where an
 * alternative began; and followed by '/' or the end -- but not by a '{'
 * (marks[]), which doublestar sees before expanding it.
 */
static bool tokenize(struct build *g, const unsigned char *t, size_t n,
                     const bool *marks, struct alt *a)
{
    size_t i = 0, r, after;
    bool seg = true;
    struct btok tk;
    unsigned char set[32];
    long ci;

    a->first = (uint32_t)g->ntoks;
    while (i < n) {
        memset(&tk, 0, sizeof tk);
        if (marks[i]) {
            seg = true;
            tk.flags = F_MARK;
        }
        if (t[i] == '*') {
            for (r = 1; i + r < n && t[i + r] == '*' && !marks[i + r]; r++)
                ;
            after = i + r;
            if (r == 2 && seg && !marks[after] && (after == n || t[after] == '/')) {
                if (after == n) {
                    tk.kind = T_DS_END;
                    i = after;
                } else {
                    tk.kind = T_DS_SLASH;
                    i = after + 1;
                }
            } else {
                tk.kind = T_STAR;
                if (r == 2)
                    tk.flags |= F_DBL;
                i = after;
                seg = false;
            }
        } else if (t[i] == '?') {
            tk.kind = T_ONE;
            i++;
            seg = false;
        } else if (t[i] == '[') {
            parse_class(t, &i, set);
            ci = intern_class(g, set);
            if (ci < 0)
                return false;
            tk.kind = T_CLASS;
            tk.cls = (uint16_t)ci;
            seg = false;
        } else {
            if (t[i] == '\\') {
                tk.flags |= F_ESC;
                i++;
            }
            tk.kind = T_LIT;
            tk.ch = t[i++];
            seg = tk.ch == '/';
        }
        if (!push_tok(g, &tk))
            return false;
    }
    a->ntok = (uint32_t)(g->ntoks - a->first);

    /*
     * doublestar accepts when the name is used up and the rest of the
     * pattern is exactly  / * *   / * * /  or  * * /  (isZeroLengthPattern,
     * spaces added); "", "*", "**" and a whole-component "**" followed by
     * '/' match the empty string anyway.
     */
    a->ztail = 0;
    if (a->ntok >= 2 && !marks[n]) {
        const struct btok *x = &g->toks[g->ntoks - 2], *y = &g->toks[g->ntoks - 1];
        if (!(y->flags & F_MARK)) {
            if (x->kind == T_LIT && x->ch == '/' && !(x->flags & F_ESC) &&
                (y->kind == T_DS_END || y->kind == T_DS_SLASH))
                a->ztail = 2;
            else if (x->kind == T_STAR && (x->flags & F_DBL) &&
                     y->kind == T_LIT && y->ch == '/' && !(y->flags & F_ESC))
                a->ztail = 2;
        }
    }
    return true;
}

/* ---- compile ----------------------------------------------------------- */

static void build_free(struct build *b)
{
    free(b->alts);
    free(b->toks);
    free(b->cls);
}

/* The compiled glob in one block (see struct og_glob). */
static struct og_glob *pack(const struct build *b, const char *pattern, size_t len)
{
    size_t alts_b = b->nalts * sizeof(struct alt), toks_b = b->ntoks * sizeof(struct tok);
    size_t cls_b = b->ncls * 32;
    struct og_glob *g = malloc(sizeof *g + alts_b + toks_b + cls_b + len + 1);
    unsigned char *at;

    if (g == NULL)
        return NULL;
    g->nalts = (uint32_t)b->nalts;
    g->toks_at = (uint32_t)(sizeof *g + alts_b);
    g->cls_at = (uint32_t)(g->toks_at + toks_b);
    g->src_at = (uint32_t)(g->cls_at + cls_b);
    at = (unsigned char *)(g + 1);
    if (alts_b)
        memcpy(at, b->alts, alts_b);
    at += alts_b;
    for (size_t i = 0; i < b->ntoks; i++) {
        struct tok t = { .kind = b->toks[i].kind, .ch = b->toks[i].ch, .cls = b->toks[i].cls };
        memcpy(at + i * sizeof t, &t, sizeof t);
    }
    at += toks_b;
    if (cls_b)
        memcpy(at, b->cls, cls_b);
    at += cls_b;
    if (len)
        memcpy(at, pattern, len);
    at[len] = '\0';
    return g;
}

struct og_glob *og_glob_compile(const char *pattern, size_t len, char *err, size_t errlen)
{
    struct og_glob *g = NULL;
    struct build b;
    char *text = NULL;
    bool *marks = NULL;
    size_t nalts, k, o;

    memset(&b, 0, sizeof b);
    og_set_err(err, errlen, "%s", "");
    if (pattern == NULL && len != 0) {
        og_set_err(err, errlen, "no pattern");
        return NULL;
    }
    if (len > OG_GLOB_MAX_LEN) {
        og_set_err(err, errlen, "pattern longer than %d bytes", OG_GLOB_MAX_LEN);
        return NULL;
    }
    if (!validate(pattern, len, err, errlen))
        return NULL;
    nalts = count_seq(pattern, 0, len);
    if (nalts > OG_GLOB_MAX_ALTS) {
        og_set_err(err, errlen, "pattern expands to more than %d alternatives",
                OG_GLOB_MAX_ALTS);
        return NULL;
    }

    text = malloc(len + 1);
    marks = malloc(len + 1);
    b.alts = calloc(nalts, sizeof *b.alts);
    if (text == NULL || marks == NULL || b.alts == NULL)
        goto oom;

    for (k = 0; k < nalts; k++) {
        memset(marks, 0, len + 1);
        o = 0;
        emit_seq(pattern, 0, len, k, text, &o, marks);
        if (!tokenize(&b, (const unsigned char *)text, o, marks, &b.alts[k])) {
            og_set_err(err, errlen, "pattern too complex");
            goto fail;
        }
        b.nalts++;
    }
    g = pack(&b, pattern, len);
    if (g == NULL)
        goto oom;
    free(text);
    free(marks);
    build_free(&b);
    return g;

oom:
    og_set_err(err, errlen, "out of memory");
fail:
    free(text);
    free(marks);
    build_free(&b);
    return NULL;
}

const char *og_glob_source(const struct og_glob *g)
{
    return g ? src_of(g) : "";
}

size_t og_glob_nalts(const struct og_glob *g)
{
    return g ? g->nalts : 0;
}

size_t og_glob_alt_prefix(const struct og_glob *g, size_t k, char *buf, size_t cap)
{
    const struct alt *a;
    const struct tok *t;
    size_t i, n;

    if (g == NULL || k >= g->nalts)
        return 0;
    a = &alts_of(g)[k];
    n = a->ntok - a->ztail;     /* match_seq may run without the zero-length tail */
    if (n == 0)
        return 0;
    t = toks_of(g) + a->first;
    for (i = 0; i < n && i < cap && t[i].kind == T_LIT; i++)
        buf[i] = (char)t[i].ch;
    return i;
}

void og_glob_free(struct og_glob *g)
{
    free(g);
}

/* ---- matching ---------------------------------------------------------- */

static bool tok_byte(const struct og_glob *g, const struct tok *t, unsigned char c)
{
    switch (t->kind) {
    case T_LIT:
        return c == t->ch;
    case T_ONE:
        return c != '/';
    default:
        return (cls_of(g)[t->cls][c >> 3] >> (c & 7)) & 1;
    }
}

/*
 * Run a chunk t[0..n) free of "**" tokens on s from pos.  whole: it must
 * end exactly at len.  Otherwise the earliest end is stored in *end.
 *
 * Classic greedy matching that only ever backtracks the latest '*': since
 * nothing but a literal '/' token matches '/', every way of matching the
 * tokens before a '*' consumes the same number of '/', so the earliest
 * start for the '*' is never worse than a later one.  O(len * n).
 */
static bool chunk_run(const struct og_glob *g, const struct tok *t, size_t n,
                      const unsigned char *s, size_t len, size_t pos,
                      bool whole, size_t *end)
{
    size_t ti = 0, ni = pos, star_ti = SIZE_MAX, star_ni = 0;

    for (;;) {
        if (ti == n) {
            if (!whole) {
                *end = ni;
                return true;
            }
            if (ni == len)
                return true;
        } else if (t[ti].kind == T_STAR) {
            star_ti = ti++;
            star_ni = ni;
            continue;
        } else if (ni < len && tok_byte(g, &t[ti], s[ni])) {
            ti++;
            ni++;
            continue;
        }
        if (star_ti == SIZE_MAX || star_ni >= len || s[star_ni] == '/')
            return false;
        star_ni++;
        ti = star_ti + 1;
        ni = star_ni;
    }
}

static size_t lit_slashes(const struct tok *t, size_t n)
{
    size_t i, c = 0;

    for (i = 0; i < n; i++)
        c += t[i].kind == T_LIT && t[i].ch == '/';
    return c;
}

static bool is_ds(const struct tok *t)
{
    return t->kind == T_DS_SLASH || t->kind == T_DS_END;
}

/*
 * Match one alternative C0 ** C1 ** ... Ck (chunks Ci free of "**").
 * A "**" token always follows a '/' or the start, so every chunk before a
 * "**" ends in '/' (or is empty): taking the earliest match of C0 and, for
 * each middle chunk, the earliest start after which it matches, yields the
 * earliest end, which leaves every later choice open.  The last chunk
 * consumes exactly as many '/' as it has, which fixes the only component
 * boundary where it can start.
 */
static bool match_seq(const struct og_glob *g, const struct tok *t, size_t n,
                      const unsigned char *s, size_t len)
{
    size_t i, j, p, pos, e, want, have, skip;

    for (j = 0; j < n && !is_ds(&t[j]); j++)
        ;
    if (j == n)
        return chunk_run(g, t, n, s, len, 0, true, NULL);
    if (!chunk_run(g, t, j, s, len, 0, false, &pos))
        return false;

    for (;;) {
        if (t[j].kind == T_DS_END)
            return true;
        i = j + 1;
        for (j = i; j < n && !is_ds(&t[j]); j++)
            ;
        if (j == n) {
            want = lit_slashes(t + i, n - i);
            for (have = 0, p = pos; p < len; p++)
                have += s[p] == '/';
            if (have < want)
                return false;
            for (skip = have - want, p = pos; skip > 0; p++)
                skip -= s[p] == '/';
            return chunk_run(g, t + i, n - i, s, len, p, true, NULL);
        }
        for (p = pos;;) {
            if (chunk_run(g, t + i, j - i, s, len, p, false, &e)) {
                pos = e;
                break;
            }
            while (p < len && s[p] != '/')
                p++;
            if (p >= len)
                return false;
            p++;
        }
    }
}

bool og_glob_match(const struct og_glob *g, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    const struct alt *a;
    const struct tok *t;
    size_t k;

    if (g == NULL || (s == NULL && len != 0))
        return false;
    for (k = 0; k < g->nalts; k++) {
        a = &alts_of(g)[k];
        t = a->ntok ? toks_of(g) + a->first : NULL;
        if (match_seq(g, t, a->ntok, u, len))
            return true;
        if (a->ztail && match_seq(g, t, a->ntok - a->ztail, u, len))
            return true;
    }
    return false;
}
