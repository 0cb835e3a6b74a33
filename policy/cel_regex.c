/*
 * cel_regex.c - matches(): a linear-time regular expression subset.
 *
 * The pattern is parsed into a small tree, then emitted as a program for a
 * Thompson NFA (CHAR, ANY, CLASS, SPLIT, JMP, BOL, EOL, MATCH) that is
 * simulated over the text one byte at a time with at most one thread per
 * instruction: time O(text x program), no backtracking. Supported: literal
 * bytes, `.`, classes `[a-z_]`/`[^...]`, escapes (\d \w \s \D \W \S, \. and
 * other punctuation, \n \t \r), `^` `$`, groups `(...)`, `(?:...)`,
 * `(?P<n>...)`, `|`, `* + ?` (lazy forms match the same), `{m}`, `{m,}`,
 * `{m,n}` (m, n <= 100) and a leading `(?i)`. Refused: backreferences,
 * lookaround, \b and other flags. Bytes, not characters: `.` matches one byte.
 */
#include "cel_regex.h"

#include <string.h>

enum { OG_RE_CHAR = 1, OG_RE_ANY, OG_RE_CLASS, OG_RE_SPLIT, OG_RE_JMP, OG_RE_BOL, OG_RE_EOL,
       OG_RE_MATCH };

/* the parse tree */
enum { T_EMPTY = 1, T_CHAR, T_ANY, T_CLASS, T_BOL, T_EOL, T_CAT, T_ALT, T_REP };
#define T_MAX 256
#define REP_INF 0xffff
struct tnode { uint8_t t, c; uint16_t a, b; uint16_t min, max; };
struct rp {
    const char *p; size_t n, i;
    struct tnode t[T_MAX]; size_t nt;
    struct og_re *re;
    bool icase;
    int depth;
    const char *err;
};

static int newt(struct rp *r, uint8_t t)
{
    if (r->nt >= T_MAX) { r->err = "pattern too large"; return -1; }
    memset(&r->t[r->nt], 0, sizeof r->t[0]);
    r->t[r->nt].t = t;
    return (int)r->nt++;
}

static void setbit(uint8_t *bits, unsigned c) { bits[c >> 3] |= (uint8_t)(1u << (c & 7)); }

static int newclass(struct rp *r)
{
    if (r->re->nclasses >= OG_RE_MAX_CLASSES) { r->err = "too many character classes"; return -1; }
    memset(r->re->class_bits[r->re->nclasses], 0, 32);
    return r->re->nclasses++;
}

static bool isdig(unsigned c) { return c >= '0' && c <= '9'; }
static bool isword(unsigned c) { return isdig(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool isspc(unsigned c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Add a \d-style set (or its complement) to bits. */
static void addperl(uint8_t *bits, char k)
{
    for (unsigned c = 0; c < 256; c++) {
        bool in = (k == 'd' || k == 'D') ? isdig(c) : (k == 'w' || k == 'W') ? isword(c) : isspc(c);
        if (k == 'D' || k == 'W' || k == 'S') in = !in;
        if (in) setbit(bits, c);
    }
}

/* An escape after '\\' at r->i: a byte (>= 0), a perl class (-2 - letter), or -1 (error). */
static int escape(struct rp *r)
{
    if (r->i >= r->n) { r->err = "trailing backslash"; return -1; }
    unsigned char c = (unsigned char)r->p[r->i++];
    switch (c) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S': return -2 - c;
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    default: break;
    }
    if (isdig(c)) { r->err = "backreferences are not supported"; return -1; }
    if (isword(c)) { r->err = "unsupported escape"; return -1; }
    return c;
}

static void addbyte(struct rp *r, uint8_t *bits, unsigned c)
{
    setbit(bits, c);
    if (r->icase) {
        if (c >= 'a' && c <= 'z') setbit(bits, c - 32);
        else if (c >= 'A' && c <= 'Z') setbit(bits, c + 32);
    }
}

static int parse_class(struct rp *r)
{
    int k = newclass(r);
    if (k < 0) return -1;
    uint8_t *bits = r->re->class_bits[k];
    bool neg = false;
    if (r->i < r->n && r->p[r->i] == '^') { neg = true; r->i++; }
    bool first = true;
    for (;;) {
        if (r->i >= r->n) { r->err = "missing ]"; return -1; }
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == ']' && !first) { r->i++; break; }
        first = false;
        if (c == '[' && r->i + 1 < r->n && r->p[r->i + 1] == ':') {
            r->err = "POSIX classes are not supported"; return -1;
        }
        r->i++;
        int lo = c;
        if (c == '\\') {
            lo = escape(r);
            if (lo == -1) return -1;
            if (lo < -1) { addperl(bits, (char)(-2 - lo)); continue; }
        }
        int hi = lo;
        if (r->i + 1 < r->n && r->p[r->i] == '-' && r->p[r->i + 1] != ']') {
            r->i++;
            unsigned char d = (unsigned char)r->p[r->i++];
            hi = d;
            if (d == '\\') {
                hi = escape(r);
                if (hi == -1) return -1;
                if (hi < -1) { r->err = "bad range"; return -1; }
            }
            if (hi < lo) { r->err = "bad range"; return -1; }
        }
        for (int x = lo; x <= hi; x++) addbyte(r, bits, (unsigned)x);
    }
    if (neg) for (int j = 0; j < 32; j++) bits[j] = (uint8_t)~bits[j];
    int t = newt(r, T_CLASS);
    if (t >= 0) r->t[t].c = (uint8_t)k;
    return t;
}

static int parse_alt(struct rp *r);

static int parse_atom(struct rp *r)
{
    unsigned char c = (unsigned char)r->p[r->i++];
    int t;
    switch (c) {
    case '(': {
        if (r->i < r->n && r->p[r->i] == '?') {
            if (r->i + 1 < r->n && r->p[r->i + 1] == ':') r->i += 2;
            else if (r->i + 2 < r->n && r->p[r->i + 1] == 'P' && r->p[r->i + 2] == '<') {
                r->i += 3;
                while (r->i < r->n && r->p[r->i] != '>') r->i++;
                if (r->i >= r->n) { r->err = "bad group name"; return -1; }
                r->i++;
            } else if (r->i + 1 < r->n && r->p[r->i + 1] == '<' &&
                       !(r->i + 2 < r->n && (r->p[r->i + 2] == '=' || r->p[r->i + 2] == '!'))) {
                r->i += 2;
                while (r->i < r->n && r->p[r->i] != '>') r->i++;
                if (r->i >= r->n) { r->err = "bad group name"; return -1; }
                r->i++;
            } else { r->err = "lookaround and inline flags are not supported"; return -1; }
        }
        if (++r->depth > 16) { r->err = "groups nested too deeply"; return -1; }
        t = parse_alt(r);
        r->depth--;
        if (t < 0) return -1;
        if (r->i >= r->n || r->p[r->i] != ')') { r->err = "missing )"; return -1; }
        r->i++;
        return t;
    }
    case ')': r->err = "unexpected )"; return -1;
    case '*': case '+': case '?': r->err = "nothing to repeat"; return -1;
    case '[': return parse_class(r);
    case '.': return newt(r, T_ANY);
    case '^': return newt(r, T_BOL);
    case '$': return newt(r, T_EOL);
    case '\\': {
        int e = escape(r);
        if (e == -1) return -1;
        if (e < -1) {
            int k = newclass(r);
            if (k < 0) return -1;
            addperl(r->re->class_bits[k], (char)(-2 - e));
            t = newt(r, T_CLASS);
            if (t >= 0) r->t[t].c = (uint8_t)k;
            return t;
        }
        c = (unsigned char)e;
        break;
    }
    default: break;
    }
    if (r->icase && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
        int k = newclass(r);
        if (k < 0) return -1;
        addbyte(r, r->re->class_bits[k], c);
        t = newt(r, T_CLASS);
        if (t >= 0) r->t[t].c = (uint8_t)k;
        return t;
    }
    t = newt(r, T_CHAR);
    if (t >= 0) r->t[t].c = c;
    return t;
}

static bool parse_num(struct rp *r, unsigned *out)
{
    unsigned v = 0; size_t start = r->i;
    while (r->i < r->n && isdig((unsigned char)r->p[r->i]) && v <= 1000)
        v = v * 10 + (unsigned)(r->p[r->i++] - '0');
    *out = v;
    return r->i > start;
}

static int parse_repeat(struct rp *r)
{
    int a = parse_atom(r);
    if (a < 0) return -1;
    while (r->i < r->n) {
        unsigned char c = (unsigned char)r->p[r->i];
        unsigned min, max;
        if (c == '*') { min = 0; max = REP_INF; r->i++; }
        else if (c == '+') { min = 1; max = REP_INF; r->i++; }
        else if (c == '?') { min = 0; max = 1; r->i++; }
        else if (c == '{') {
            size_t save = r->i++;
            if (!parse_num(r, &min)) { r->i = save; break; } /* a literal '{' */
            max = min;
            if (r->i < r->n && r->p[r->i] == ',') {
                r->i++;
                if (!parse_num(r, &max)) max = REP_INF;
            }
            if (r->i >= r->n || r->p[r->i] != '}') { r->err = "bad repetition"; return -1; }
            r->i++;
            if (min > 100 || (max != REP_INF && (max > 100 || max < min))) {
                r->err = "bad repetition count (at most 100)"; return -1;
            }
        } else break;
        if (r->t[a].t == T_BOL || r->t[a].t == T_EOL) { r->err = "nothing to repeat"; return -1; }
        if (r->i < r->n && r->p[r->i] == '?') r->i++; /* lazy: same answer for a yes/no match */
        int t = newt(r, T_REP);
        if (t < 0) return -1;
        r->t[t].a = (uint16_t)a; r->t[t].min = (uint16_t)min; r->t[t].max = (uint16_t)max;
        a = t;
    }
    return a;
}

static int parse_cat(struct rp *r)
{
    int acc = -1;
    while (r->i < r->n && r->p[r->i] != '|' && r->p[r->i] != ')') {
        int a = parse_repeat(r);
        if (a < 0) return -1;
        if (acc < 0) { acc = a; continue; }
        int t = newt(r, T_CAT);
        if (t < 0) return -1;
        r->t[t].a = (uint16_t)acc; r->t[t].b = (uint16_t)a;
        acc = t;
    }
    return acc < 0 ? newt(r, T_EMPTY) : acc;
}

static int parse_alt(struct rp *r)
{
    int a = parse_cat(r);
    if (a < 0) return -1;
    while (r->i < r->n && r->p[r->i] == '|') {
        r->i++;
        int b = parse_cat(r);
        if (b < 0) return -1;
        int t = newt(r, T_ALT);
        if (t < 0) return -1;
        r->t[t].a = (uint16_t)a; r->t[t].b = (uint16_t)b;
        a = t;
    }
    return a;
}

static int emit(struct rp *r, uint8_t op, uint8_t c)
{
    if (r->re->n >= OG_RE_MAX_INSNS) { r->err = "pattern too large"; return -1; }
    struct og_re_insn *in = &r->re->insn[r->re->n];
    in->op = op; in->c = c; in->x = in->y = 0;
    return r->re->n++;
}

static bool gen(struct rp *r, int t, int depth)
{
    if (depth > T_MAX + 1) { r->err = "pattern too deep"; return false; }
    const struct tnode *n = &r->t[t];
    int s, j;
    switch (n->t) {
    case T_EMPTY: return true;
    case T_CHAR: return emit(r, OG_RE_CHAR, n->c) >= 0;
    case T_ANY: return emit(r, OG_RE_ANY, 0) >= 0;
    case T_CLASS: return emit(r, OG_RE_CLASS, n->c) >= 0;
    case T_BOL: return emit(r, OG_RE_BOL, 0) >= 0;
    case T_EOL: return emit(r, OG_RE_EOL, 0) >= 0;
    case T_CAT: return gen(r, n->a, depth + 1) && gen(r, n->b, depth + 1);
    case T_ALT:
        if ((s = emit(r, OG_RE_SPLIT, 0)) < 0) return false;
        r->re->insn[s].x = (uint16_t)(s + 1);
        if (!gen(r, n->a, depth + 1) || (j = emit(r, OG_RE_JMP, 0)) < 0) return false;
        r->re->insn[s].y = r->re->n;
        if (!gen(r, n->b, depth + 1)) return false;
        r->re->insn[j].x = r->re->n;
        return true;
    case T_REP:
        for (unsigned k = 0; k < n->min; k++)
            if (!gen(r, n->a, depth + 1)) return false;
        if (n->max == REP_INF) {
            if ((s = emit(r, OG_RE_SPLIT, 0)) < 0) return false;
            r->re->insn[s].x = (uint16_t)(s + 1);
            if (!gen(r, n->a, depth + 1) || (j = emit(r, OG_RE_JMP, 0)) < 0) return false;
            r->re->insn[j].x = (uint16_t)s;
            r->re->insn[s].y = r->re->n;
            return true;
        }
        for (unsigned k = n->min; k < n->max; k++) {
            if ((s = emit(r, OG_RE_SPLIT, 0)) < 0) return false;
            r->re->insn[s].x = (uint16_t)(s + 1);
            if (!gen(r, n->a, depth + 1)) return false;
            r->re->insn[s].y = r->re->n;
        }
        return true;
    default: r->err = "internal error"; return false;
    }
}

bool og_re_compile(struct og_re *re, const char *pat, size_t n, const char **err, size_t *col)
{
    static struct rp zero;
    struct rp r = zero;
    r.p = pat; r.n = n; r.re = re;
    re->n = 0; re->nclasses = 0;
    if (n >= 4 && memcmp(pat, "(?i)", 4) == 0) { r.icase = true; r.i = 4; }
    int t = parse_alt(&r);
    if (t >= 0 && r.i < r.n) { r.err = "unexpected )"; t = -1; }
    if (t >= 0 && gen(&r, t, 0) && emit(&r, OG_RE_MATCH, 0) >= 0) return true;
    *err = r.err ? r.err : "invalid pattern";
    *col = r.i;
    return false;
}

/* Add pc and everything it reaches without consuming a byte to the list.
   Returns true when MATCH is reached. */
static bool addthread(const struct og_re *re, uint16_t *list, size_t *nlist, uint16_t *mark,
                      uint16_t gen, uint16_t pc, size_t pos, size_t n)
{
    uint16_t stack[OG_RE_MAX_INSNS * 2 + 2];
    size_t sp = 0;
    stack[sp++] = pc;
    while (sp > 0) {
        uint16_t p = stack[--sp];
        if (p >= re->n || mark[p] == gen) continue;
        mark[p] = gen;
        const struct og_re_insn *in = &re->insn[p];
        switch (in->op) {
        case OG_RE_MATCH: return true;
        case OG_RE_JMP: stack[sp++] = in->x; break;
        case OG_RE_SPLIT: stack[sp++] = in->y; stack[sp++] = in->x; break;
        case OG_RE_BOL: if (pos == 0) stack[sp++] = (uint16_t)(p + 1); break;
        case OG_RE_EOL: if (pos == n) stack[sp++] = (uint16_t)(p + 1); break;
        default: list[(*nlist)++] = p; break;
        }
    }
    return false;
}

bool og_re_search(const struct og_re *re, const char *s, size_t n)
{
    uint16_t a[OG_RE_MAX_INSNS], b[OG_RE_MAX_INSNS], mark[OG_RE_MAX_INSNS];
    uint16_t *cl = a, *nl = b;
    size_t ncl = 0, nnl = 0;
    uint16_t gen = 1;
    memset(mark, 0, sizeof mark);
    for (size_t pos = 0;; pos++) {
        /* unanchored: a new thread starts at every position */
        if (addthread(re, cl, &ncl, mark, gen, 0, pos, n)) return true;
        if (pos >= n) return false;
        unsigned char c = (unsigned char)s[pos];
        gen++;
        if (gen == 0) { memset(mark, 0, sizeof mark); gen = 1; }
        nnl = 0;
        for (size_t k = 0; k < ncl; k++) {
            const struct og_re_insn *in = &re->insn[cl[k]];
            bool ok = (in->op == OG_RE_CHAR && in->c == c) ||
                      (in->op == OG_RE_ANY && c != '\n') ||
                      (in->op == OG_RE_CLASS && (re->class_bits[in->c][c >> 3] >> (c & 7)) & 1);
            if (ok && addthread(re, nl, &nnl, mark, gen, (uint16_t)(cl[k] + 1), pos + 1, n))
                return true;
        }
        uint16_t *t = cl; cl = nl; nl = t;
        ncl = nnl;
    }
}
