/*
 * cel.c - compile a CEL expression (the subset of cel.h) into a checked tree.
 *
 * A lexer, a recursive-descent parser following CEL's grammar (conditional,
 * ||, &&, relations and `in`, + -, * / %, unary ! -, member and index access,
 * calls, literals), name resolution against the declared variables (longest
 * dotted name first), a kind check of every operator and function whose
 * operand kinds are known, and folding of constant arguments: a literal
 * timestamp("..") is parsed, a literal matches() pattern is compiled to its
 * NFA program, a literal inCidr() range is checked. Bounds: source length,
 * node count, nesting depth (cel.h). Everything the program holds is
 * allocated here, once; cel_eval.c only reads it.
 */
#include "cel_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok {
    T_EOF = 0, T_IDENT, T_INT, T_DOUBLE, T_STRING, T_TRUE, T_FALSE, T_NULL, T_IN,
    T_LP, T_RP, T_LB, T_RB, T_LC, T_RC, T_DOT, T_COMMA, T_COLON, T_QUEST,
    T_OR, T_AND, T_NOT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT, T_BAD,
};

struct cc {
    const char *src; size_t len, pos;
    const struct og_cel_decl *decls; size_t ndecls;
    /* current token */
    enum tok t; size_t tpos, tlen;
    int64_t ival; double dval;
    const char *sval; size_t slen;          /* T_STRING: in the pool */
    struct og_cel_node nodes[OG_CEL_MAX_NODES]; size_t nn;
    struct og_re res[8]; size_t nres;
    char *pool; size_t npool, cap;
    int depth;
    struct og_cel_error *err;
    bool failed;
};

static bool fail(struct cc *c, size_t pos, const char *fmt, ...)
{
    if (c->failed) return false;
    c->failed = true;
    if (c->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
        va_end(ap);
        c->err->column = pos + 1;
    }
    return false;
}

static const char *kind_name(enum og_cel_kind k)
{
    switch (k) {
    case OG_CEL_ERROR: return "error";
    case OG_CEL_NULL: return "null";
    case OG_CEL_BOOL: return "bool";
    case OG_CEL_INT: return "int";
    case OG_CEL_DOUBLE: return "double";
    case OG_CEL_STRING: return "string";
    case OG_CEL_TIMESTAMP: return "timestamp";
    case OG_CEL_LIST: return "list";
    case OG_CEL_MAP: return "map";
    case OG_CEL_DYN: return "dyn";
    }
    return "?";
}

/* ---- lexer ---------------------------------------------------------- */

static bool isid0(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static bool isdigit_(char ch) { return ch >= '0' && ch <= '9'; }
static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static void put_utf8(struct cc *c, unsigned long cp)
{
    char *o = c->pool + c->npool;
    if (cp < 0x80) { o[0] = (char)cp; c->npool += 1; }
    else if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f)); c->npool += 2; }
    else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f)); c->npool += 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f)); c->npool += 4;
    }
}

/* A string literal at c->pos (after an optional r/R prefix); unescaped into the pool. */
static bool lex_string(struct cc *c, bool raw)
{
    const char *s = c->src;
    char q = s[c->pos];
    size_t qn = (c->pos + 2 < c->len && s[c->pos + 1] == q && s[c->pos + 2] == q) ? 3 : 1;
    size_t start = c->pos;
    c->pos += qn;
    c->sval = c->pool + c->npool;
    size_t begin = c->npool;
    for (;;) {
        if (c->pos >= c->len) return fail(c, start, "unterminated string");
        char ch = s[c->pos];
        if (ch == q && (qn == 1 || (c->pos + 2 < c->len + 0 && s[c->pos + 1] == q && s[c->pos + 2] == q))) {
            c->pos += qn;
            break;
        }
        if (qn == 1 && (ch == '\n' || ch == '\r')) return fail(c, c->pos, "newline in string");
        if (ch != '\\' || raw) { c->pool[c->npool++] = ch; c->pos++; continue; }
        size_t epos = c->pos;
        if (++c->pos >= c->len) return fail(c, epos, "unterminated string");
        ch = s[c->pos++];
        switch (ch) {
        case 'n': c->pool[c->npool++] = '\n'; break;
        case 't': c->pool[c->npool++] = '\t'; break;
        case 'r': c->pool[c->npool++] = '\r'; break;
        case 'a': c->pool[c->npool++] = '\a'; break;
        case 'b': c->pool[c->npool++] = '\b'; break;
        case 'f': c->pool[c->npool++] = '\f'; break;
        case 'v': c->pool[c->npool++] = '\v'; break;
        case '\\': case '\'': case '"': case '`': case '?': c->pool[c->npool++] = ch; break;
        case 'x': case 'X': case 'u': case 'U': {
            int nd = (ch == 'x' || ch == 'X') ? 2 : ch == 'u' ? 4 : 8;
            unsigned long cp = 0;
            for (int k = 0; k < nd; k++) {
                int h = c->pos < c->len ? hexval(s[c->pos]) : -1;
                if (h < 0) return fail(c, epos, "bad escape in string");
                cp = cp * 16 + (unsigned long)h;
                c->pos++;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return fail(c, epos, "bad code point in string");
            put_utf8(c, cp);
            break;
        }
        default:
            if (ch >= '0' && ch <= '3') {
                unsigned long cp = (unsigned long)(ch - '0');
                for (int k = 0; k < 2; k++) {
                    if (c->pos >= c->len || s[c->pos] < '0' || s[c->pos] > '7')
                        return fail(c, epos, "bad escape in string");
                    cp = cp * 8 + (unsigned long)(s[c->pos++] - '0');
                }
                put_utf8(c, cp);
                break;
            }
            return fail(c, epos, "bad escape in string");
        }
    }
    c->slen = c->npool - begin;
    c->t = T_STRING;
    return true;
}

static bool next(struct cc *c)
{
    const char *s = c->src;
    for (;;) {
        while (c->pos < c->len && (s[c->pos] == ' ' || s[c->pos] == '\t' || s[c->pos] == '\n' ||
                                   s[c->pos] == '\r'))
            c->pos++;
        if (c->pos + 1 < c->len && s[c->pos] == '/' && s[c->pos + 1] == '/') {
            while (c->pos < c->len && s[c->pos] != '\n') c->pos++;
            continue;
        }
        break;
    }
    c->tpos = c->pos;
    if (c->pos >= c->len) { c->t = T_EOF; c->tlen = 0; return true; }
    char ch = s[c->pos];
    char n1 = c->pos + 1 < c->len ? s[c->pos + 1] : 0;
    if ((ch == 'r' || ch == 'R') && (n1 == '"' || n1 == '\'')) {
        c->pos++;
        bool ok = lex_string(c, true);
        c->tlen = c->pos - c->tpos;
        return ok;
    }
    if ((ch == 'b' || ch == 'B') && (n1 == '"' || n1 == '\''))
        return fail(c, c->pos, "bytes literals are not supported");
    if (isid0(ch)) {
        size_t st = c->pos;
        while (c->pos < c->len && (isid0(s[c->pos]) || isdigit_(s[c->pos]))) c->pos++;
        c->tlen = c->pos - st;
        c->t = T_IDENT;
        if (c->tlen == 4 && !memcmp(s + st, "true", 4)) c->t = T_TRUE;
        else if (c->tlen == 5 && !memcmp(s + st, "false", 5)) c->t = T_FALSE;
        else if (c->tlen == 4 && !memcmp(s + st, "null", 4)) c->t = T_NULL;
        else if (c->tlen == 2 && !memcmp(s + st, "in", 2)) c->t = T_IN;
        return true;
    }
    if (isdigit_(ch) || (ch == '.' && isdigit_(n1))) {
        size_t st = c->pos;
        if (ch == '0' && (n1 == 'x' || n1 == 'X')) {
            c->pos += 2;
            uint64_t v = 0; size_t d0 = c->pos;
            while (c->pos < c->len && hexval(s[c->pos]) >= 0) {
                if (v > (UINT64_C(1) << 59)) return fail(c, st, "integer literal out of range");
                v = v * 16 + (uint64_t)hexval(s[c->pos++]);
            }
            if (c->pos == d0) return fail(c, st, "bad number");
            if (v > (uint64_t)INT64_MAX) return fail(c, st, "integer literal out of range");
            c->ival = (int64_t)v;
            c->t = T_INT;
        } else {
            bool dbl = false;
            while (c->pos < c->len && isdigit_(s[c->pos])) c->pos++;
            if (c->pos + 1 < c->len && s[c->pos] == '.' && isdigit_(s[c->pos + 1])) {
                dbl = true; c->pos++;
                while (c->pos < c->len && isdigit_(s[c->pos])) c->pos++;
            }
            if (c->pos < c->len && (s[c->pos] == 'e' || s[c->pos] == 'E')) {
                size_t e = c->pos + 1;
                if (e < c->len && (s[e] == '+' || s[e] == '-')) e++;
                if (e < c->len && isdigit_(s[e])) {
                    dbl = true; c->pos = e;
                    while (c->pos < c->len && isdigit_(s[c->pos])) c->pos++;
                }
            }
            char buf[64];
            size_t n = c->pos - st;
            if (n >= sizeof buf) return fail(c, st, "number too long");
            memcpy(buf, s + st, n); buf[n] = 0;
            if (dbl) { c->dval = strtod(buf, NULL); c->t = T_DOUBLE; }
            else {
                uint64_t v = 0;
                for (size_t k = 0; k < n; k++) {
                    if (v > (uint64_t)INT64_MAX / 10) return fail(c, st, "integer literal out of range");
                    v = v * 10 + (uint64_t)(buf[k] - '0');
                }
                if (v > (uint64_t)INT64_MAX) return fail(c, st, "integer literal out of range");
                c->ival = (int64_t)v; c->t = T_INT;
            }
        }
        if (c->t == T_INT && c->pos < c->len && (s[c->pos] == 'u' || s[c->pos] == 'U')) c->pos++;
        if (c->pos < c->len && (isid0(s[c->pos]) || isdigit_(s[c->pos])))
            return fail(c, st, "bad number");
        c->tlen = c->pos - st;
        return true;
    }
    if (ch == '"' || ch == '\'') {
        bool ok = lex_string(c, false);
        c->tlen = c->pos - c->tpos;
        return ok;
    }
    c->pos++;
    c->tlen = 1;
    switch (ch) {
    case '(': c->t = T_LP; return true;
    case ')': c->t = T_RP; return true;
    case '[': c->t = T_LB; return true;
    case ']': c->t = T_RB; return true;
    case '{': c->t = T_LC; return true;
    case '}': c->t = T_RC; return true;
    case '.': c->t = T_DOT; return true;
    case ',': c->t = T_COMMA; return true;
    case ':': c->t = T_COLON; return true;
    case '?': c->t = T_QUEST; return true;
    case '+': c->t = T_PLUS; return true;
    case '-': c->t = T_MINUS; return true;
    case '*': c->t = T_STAR; return true;
    case '/': c->t = T_SLASH; return true;
    case '%': c->t = T_PCT; return true;
    default: break;
    }
    c->pos++;
    c->tlen = 2;
    if (ch == '|' && n1 == '|') { c->t = T_OR; return true; }
    if (ch == '&' && n1 == '&') { c->t = T_AND; return true; }
    if (ch == '=' && n1 == '=') { c->t = T_EQ; return true; }
    if (ch == '!' && n1 == '=') { c->t = T_NE; return true; }
    if (ch == '<' && n1 == '=') { c->t = T_LE; return true; }
    if (ch == '>' && n1 == '=') { c->t = T_GE; return true; }
    c->pos--;
    c->tlen = 1;
    if (ch == '!') { c->t = T_NOT; return true; }
    if (ch == '<') { c->t = T_LT; return true; }
    if (ch == '>') { c->t = T_GT; return true; }
    if (ch == '=') return fail(c, c->tpos, "'=' is not an operator (use ==)");
    return fail(c, c->tpos, "unexpected character '%c'", (ch >= 32 && ch < 127) ? ch : '?');
}

/* ---- nodes and kind checks ------------------------------------------ */

static int node(struct cc *c, uint8_t op, size_t pos, enum og_cel_kind kind)
{
    if (c->nn >= OG_CEL_MAX_NODES) {
        fail(c, pos, "expression too large (more than %d nodes)", OG_CEL_MAX_NODES);
        return -1;
    }
    struct og_cel_node *n = &c->nodes[c->nn];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->col = (uint16_t)(pos + 1);
    n->a = n->b = n->c = n->next = n->var = n->re = -1;
    n->kind = kind;
    return (int)c->nn++;
}

static enum og_cel_kind K(struct cc *c, int n) { return c->nodes[n].kind; }
static bool is(enum og_cel_kind k, enum og_cel_kind want) { return k == want || k == OG_CEL_DYN; }
static bool numeric(enum og_cel_kind k) { return k == OG_CEL_INT || k == OG_CEL_DOUBLE; }

static int expr(struct cc *c);

static bool expect(struct cc *c, enum tok t, const char *what)
{
    if (c->t != t) return fail(c, c->tpos, "expected %s", what);
    return next(c);
}

static int binary(struct cc *c, uint8_t op, size_t pos, int a, int b)
{
    enum og_cel_kind ka = K(c, a), kb = K(c, b), k = OG_CEL_BOOL;
    static const char *const names[] = {
        [N_EQ] = "==", [N_NE] = "!=", [N_LT] = "<", [N_LE] = "<=", [N_GT] = ">", [N_GE] = ">=",
        [N_IN] = "in", [N_ADD] = "+", [N_SUB] = "-", [N_MUL] = "*", [N_DIV] = "/", [N_MOD] = "%",
        [N_AND] = "&&", [N_OR] = "||",
    };
    bool dyn = ka == OG_CEL_DYN || kb == OG_CEL_DYN;
    bool ok;
    switch (op) {
    case N_AND: case N_OR: ok = is(ka, OG_CEL_BOOL) && is(kb, OG_CEL_BOOL); break;
    case N_EQ: case N_NE:
        ok = dyn || ka == kb || (numeric(ka) && numeric(kb)) || ka == OG_CEL_NULL || kb == OG_CEL_NULL;
        break;
    case N_LT: case N_LE: case N_GT: case N_GE:
        ok = (dyn || ka == kb || (numeric(ka) && numeric(kb))) &&
             ka != OG_CEL_LIST && ka != OG_CEL_MAP && ka != OG_CEL_NULL &&
             kb != OG_CEL_LIST && kb != OG_CEL_MAP && kb != OG_CEL_NULL;
        break;
    case N_IN: ok = kb == OG_CEL_LIST || kb == OG_CEL_MAP || kb == OG_CEL_DYN; break;
    case N_ADD:
        if (dyn) { ok = ka != OG_CEL_LIST && kb != OG_CEL_LIST && ka != OG_CEL_MAP && kb != OG_CEL_MAP; k = OG_CEL_DYN; }
        else { ok = ka == kb && (ka == OG_CEL_STRING || ka == OG_CEL_INT || ka == OG_CEL_DOUBLE); k = ka; }
        break;
    default:
        ok = (dyn || (ka == kb && numeric(ka))) && (ka == OG_CEL_DYN || numeric(ka)) &&
             (kb == OG_CEL_DYN || numeric(kb));
        if (op == N_MOD) ok = ok && ka != OG_CEL_DOUBLE && kb != OG_CEL_DOUBLE;
        k = dyn ? OG_CEL_DYN : ka;
        break;
    }
    if (!ok) {
        fail(c, pos, "no operator '%s' for (%s, %s)", names[op], kind_name(ka), kind_name(kb));
        return -1;
    }
    int n = node(c, op, pos, k);
    if (n < 0) return -1;
    c->nodes[n].a = (int16_t)a;
    c->nodes[n].b = (int16_t)b;
    return n;
}

/* ---- names ---------------------------------------------------------- */

#define MAX_SEGS 16
struct path { size_t pos[MAX_SEGS], len[MAX_SEGS]; size_t n; };

/* Does decl name equal the first k segments joined with '.'? */
static bool path_is(struct cc *c, const struct path *p, size_t k, const char *name)
{
    size_t off = 0, nl = strlen(name);
    for (size_t i = 0; i < k; i++) {
        if (i > 0) { if (off >= nl || name[off] != '.') return false; off++; }
        if (off + p->len[i] > nl || memcmp(name + off, c->src + p->pos[i], p->len[i]) != 0) return false;
        off += p->len[i];
    }
    return off == nl;
}

static bool path_prefix_of(struct cc *c, const struct path *p, const char *name)
{
    size_t off = 0, nl = strlen(name);
    for (size_t i = 0; i < p->n; i++) {
        if (i > 0) { if (off >= nl || name[off] != '.') return false; off++; }
        if (off + p->len[i] > nl || memcmp(name + off, c->src + p->pos[i], p->len[i]) != 0) return false;
        off += p->len[i];
    }
    return off < nl && name[off] == '.';
}

static int select_node(struct cc *c, int a, size_t pos, const char *name, size_t len)
{
    enum og_cel_kind k = K(c, a);
    if (k != OG_CEL_MAP && k != OG_CEL_DYN) {
        fail(c, pos, "no field '%.*s' on a %s", (int)len, name, kind_name(k));
        return -1;
    }
    int n = node(c, N_SELECT, pos, OG_CEL_DYN);
    if (n < 0) return -1;
    c->nodes[n].a = (int16_t)a;
    c->nodes[n].name = name;
    c->nodes[n].name_len = len;
    return n;
}

/* Resolve an identifier path: the longest declared name, then field selections. */
static int resolve(struct cc *c, const struct path *p)
{
    for (size_t k = p->n; k > 0; k--) {
        for (size_t d = 0; d < c->ndecls; d++) {
            if (!path_is(c, p, k, c->decls[d].name)) continue;
            int n = node(c, N_VAR, p->pos[0], c->decls[d].kind);
            if (n < 0) return -1;
            c->nodes[n].var = (int16_t)d;
            for (size_t i = k; i < p->n; i++) {
                n = select_node(c, n, p->pos[i], c->src + p->pos[i], p->len[i]);
                if (n < 0) return -1;
            }
            return n;
        }
    }
    for (size_t d = 0; d < c->ndecls; d++)
        if (path_prefix_of(c, p, c->decls[d].name)) {
            fail(c, p->pos[0], "'%.*s' is not a value; use one of its fields (e.g. %s)",
                 (int)(p->pos[p->n - 1] + p->len[p->n - 1] - p->pos[0]), c->src + p->pos[0],
                 c->decls[d].name);
            return -1;
        }
    /* the longest leading part that names a record (req, req.user...) */
    for (size_t k = p->n - 1; k > 0; k--) {
        struct path q = *p;
        q.n = k;
        for (size_t d = 0; d < c->ndecls; d++)
            if (path_prefix_of(c, &q, c->decls[d].name)) {
                fail(c, p->pos[k], "'%.*s' has no field '%.*s'",
                     (int)(p->pos[k - 1] + p->len[k - 1] - p->pos[0]), c->src + p->pos[0],
                     (int)p->len[k], c->src + p->pos[k]);
                return -1;
            }
    }
    fail(c, p->pos[0], "undeclared reference to '%.*s'", (int)p->len[0], c->src + p->pos[0]);
    return -1;
}

/* ---- calls ---------------------------------------------------------- */

static const struct { const char *name; uint8_t fn; bool recv; int nargs; } fns[] = {
    { "size", F_SIZE, true, 0 }, { "size", F_SIZE, false, 1 },
    { "startsWith", F_STARTS, true, 1 }, { "endsWith", F_ENDS, true, 1 },
    { "contains", F_CONTAINS, true, 1 },
    { "matches", F_MATCHES, true, 1 }, { "matches", F_MATCHES, false, 2 },
    { "lowerAscii", F_LOWER, true, 0 }, { "upperAscii", F_UPPER, true, 0 },
    { "timestamp", F_TIMESTAMP, false, 1 },
    { "inCidr", F_INCIDR, false, 2 }, { "inCidr", F_INCIDR, true, 1 },
    { "string", F_STRING, false, 1 }, { "int", F_INT, false, 1 },
};


static int call(struct cc *c, size_t pos, const char *name, size_t len, int recv, int args, int nargs)
{
    uint8_t fn = 0;
    bool known = false;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        if (strlen(fns[i].name) != len || memcmp(fns[i].name, name, len) != 0) continue;
        known = true;
        if (fns[i].recv == (recv >= 0) && fns[i].nargs == nargs) { fn = fns[i].fn; break; }
    }
    if (!fn) {
        static const char *const macros[] = { "exists", "all", "exists_one", "map", "filter" };
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strlen(macros[i]) == len && !memcmp(macros[i], name, len)) {
                fail(c, pos, "the macro '%.*s' is not supported", (int)len, name);
                return -1;
            }
        if (known) fail(c, pos, "wrong number of arguments to '%.*s'", (int)len, name);
        else fail(c, pos, "unknown function '%.*s'", (int)len, name);
        return -1;
    }
    /* the receiver becomes the first argument */
    int first = args;
    if (recv >= 0) { c->nodes[recv].next = (int16_t)args; first = recv; nargs++; }
    int a0 = first, a1 = nargs > 1 ? c->nodes[first].next : -1;
    enum og_cel_kind k0 = K(c, a0), k1 = a1 >= 0 ? K(c, a1) : OG_CEL_DYN, k = OG_CEL_BOOL;
    bool ok = true;
    switch (fn) {
    case F_SIZE: ok = k0 == OG_CEL_STRING || k0 == OG_CEL_LIST || k0 == OG_CEL_MAP || k0 == OG_CEL_DYN;
        k = OG_CEL_INT; break;
    case F_STARTS: case F_ENDS: case F_CONTAINS: case F_MATCHES: case F_INCIDR:
        ok = is(k0, OG_CEL_STRING) && is(k1, OG_CEL_STRING); break;
    case F_LOWER: case F_UPPER: ok = is(k0, OG_CEL_STRING); k = OG_CEL_STRING; break;
    case F_TIMESTAMP: ok = is(k0, OG_CEL_STRING) || k0 == OG_CEL_TIMESTAMP; k = OG_CEL_TIMESTAMP; break;
    case F_STRING: ok = k0 != OG_CEL_LIST && k0 != OG_CEL_MAP; k = OG_CEL_STRING; break;
    case F_INT: ok = k0 == OG_CEL_INT || k0 == OG_CEL_DOUBLE || k0 == OG_CEL_STRING ||
                     k0 == OG_CEL_TIMESTAMP || k0 == OG_CEL_DYN; k = OG_CEL_INT; break;
    default: break;
    }
    if (!ok) {
        if (nargs > 1) fail(c, pos, "no overload of '%.*s' for (%s, %s)", (int)len, name, kind_name(k0), kind_name(k1));
        else fail(c, pos, "no overload of '%.*s' for (%s)", (int)len, name, kind_name(k0));
        return -1;
    }
    /* fold constant arguments */
    if (fn == F_TIMESTAMP && c->nodes[a0].op == N_LIT && k0 == OG_CEL_STRING) {
        int64_t sec; int32_t nsec;
        const struct og_cel_value *s = &c->nodes[a0].lit;
        if (!og_cel_parse_timestamp(s->u.s.p, s->u.s.n, &sec, &nsec)) {
            fail(c, c->nodes[a0].col - 1u, "not an RFC 3339 timestamp");
            return -1;
        }
        int n = node(c, N_LIT, pos, OG_CEL_TIMESTAMP);
        if (n < 0) return -1;
        c->nodes[n].lit = og_cel_timestamp(sec, nsec);
        return n;
    }
    int n = node(c, N_CALL, pos, k);
    if (n < 0) return -1;
    c->nodes[n].fn = fn;
    c->nodes[n].a = (int16_t)first;
    c->nodes[n].nargs = (uint16_t)nargs;
    if (fn == F_MATCHES && c->nodes[a1].op == N_LIT && k1 == OG_CEL_STRING) {
        if (c->nres >= sizeof c->res / sizeof c->res[0]) {
            fail(c, pos, "too many regular expressions in one expression");
            return -1;
        }
        const char *e = NULL; size_t col = 0;
        const struct og_cel_value *s = &c->nodes[a1].lit;
        if (!og_re_compile(&c->res[c->nres], s->u.s.p, s->u.s.n, &e, &col)) {
            fail(c, c->nodes[a1].col - 1u, "regular expression: %s (at byte %zu of the pattern)", e, col);
            return -1;
        }
        c->nodes[n].re = (int16_t)c->nres++;
    }
    if (fn == F_INCIDR && c->nodes[a1].op == N_LIT && k1 == OG_CEL_STRING) {
        uint8_t addr[16]; unsigned bits; bool v4;
        const struct og_cel_value *s = &c->nodes[a1].lit;
        if (!og_cel_cidr_parse(s->u.s.p, s->u.s.n, addr, &bits, &v4)) {
            fail(c, c->nodes[a1].col - 1u, "not an address range (e.g. \"10.0.0.0/8\", \"fd00::/8\")");
            return -1;
        }
    }
    return n;
}

/* CEL's comprehension macros bind variables of their own: not in the subset. */
static bool refuse_macro(struct cc *c, size_t pos, const char *name, size_t len)
{
    static const char *const macros[] = { "exists", "all", "exists_one", "map", "filter" };
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
        if (strlen(macros[i]) == len && !memcmp(macros[i], name, len))
            return fail(c, pos, "the macro '%.*s' is not supported", (int)len, name);
    return true;
}

/* args after '(' up to ')'; returns the first (or -1 for none) and the count */
static bool arglist(struct cc *c, int *first, int *nargs)
{
    *first = -1; *nargs = 0;
    int last = -1;
    if (c->t == T_RP) return next(c);
    for (;;) {
        int a = expr(c);
        if (a < 0) return false;
        if (last >= 0) c->nodes[last].next = (int16_t)a; else *first = a;
        last = a;
        if (++*nargs > 8) return fail(c, c->tpos, "too many arguments");
        if (c->t == T_COMMA) { if (!next(c)) return false; continue; }
        return expect(c, T_RP, "',' or ')'");
    }
}

static int has_macro(struct cc *c, size_t pos)
{
    if (!expect(c, T_LP, "'('")) return -1;
    int a = expr(c);
    if (a < 0 || !expect(c, T_RP, "')'")) return -1;
    struct og_cel_node *arg = &c->nodes[a];
    if (arg->op == N_SELECT) {
        arg->op = N_HAS;
        arg->kind = OG_CEL_BOOL;
        return a;
    }
    if (arg->op == N_VAR && strchr(c->decls[arg->var].name, '.')) {
        /* a declared field (req.tag) is always present */
        arg->op = N_LIT;
        arg->kind = OG_CEL_BOOL;
        arg->lit = og_cel_bool(true);
        return a;
    }
    fail(c, pos, "has() needs a field selection, e.g. has(req.claims.email)");
    return -1;
}

/* ---- grammar -------------------------------------------------------- */

static int primary(struct cc *c)
{
    size_t pos = c->tpos;
    int n;
    switch (c->t) {
    case T_INT:
        n = node(c, N_LIT, pos, OG_CEL_INT);
        if (n >= 0) c->nodes[n].lit = og_cel_int(c->ival);
        return n >= 0 && next(c) ? n : -1;
    case T_DOUBLE:
        n = node(c, N_LIT, pos, OG_CEL_DOUBLE);
        if (n >= 0) { c->nodes[n].lit.kind = OG_CEL_DOUBLE; c->nodes[n].lit.u.d = c->dval; }
        return n >= 0 && next(c) ? n : -1;
    case T_STRING:
        n = node(c, N_LIT, pos, OG_CEL_STRING);
        if (n >= 0) c->nodes[n].lit = og_cel_str(c->sval, c->slen);
        return n >= 0 && next(c) ? n : -1;
    case T_TRUE: case T_FALSE:
        n = node(c, N_LIT, pos, OG_CEL_BOOL);
        if (n >= 0) c->nodes[n].lit = og_cel_bool(c->t == T_TRUE);
        return n >= 0 && next(c) ? n : -1;
    case T_NULL:
        n = node(c, N_LIT, pos, OG_CEL_NULL);
        if (n >= 0) c->nodes[n].lit.kind = OG_CEL_NULL;
        return n >= 0 && next(c) ? n : -1;
    case T_LP:
        if (!next(c)) return -1;
        n = expr(c);
        if (n < 0 || !expect(c, T_RP, "')'")) return -1;
        return n;
    case T_LB: {
        if (!next(c)) return -1;
        n = node(c, N_LIST, pos, OG_CEL_LIST);
        if (n < 0) return -1;
        int last = -1, count = 0;
        while (c->t != T_RB) {
            int e = expr(c);
            if (e < 0) return -1;
            if (last >= 0) c->nodes[last].next = (int16_t)e; else c->nodes[n].a = (int16_t)e;
            last = e; count++;
            if (c->t == T_COMMA) { if (!next(c)) return -1; continue; }
            if (c->t != T_RB) { fail(c, c->tpos, "expected ',' or ']'"); return -1; }
        }
        c->nodes[n].nargs = (uint16_t)count;
        return next(c) ? n : -1;
    }
    case T_LC: {
        if (!next(c)) return -1;
        n = node(c, N_MAP, pos, OG_CEL_MAP);
        if (n < 0) return -1;
        int last = -1, count = 0;
        while (c->t != T_RC) {
            size_t kpos = c->tpos;
            int k = expr(c);
            if (k < 0 || !expect(c, T_COLON, "':'")) return -1;
            if (!is(K(c, k), OG_CEL_STRING)) { fail(c, kpos, "map keys must be strings"); return -1; }
            int v = expr(c);
            if (v < 0) return -1;
            if (last >= 0) c->nodes[last].next = (int16_t)k; else c->nodes[n].a = (int16_t)k;
            c->nodes[k].next = (int16_t)v;
            last = v; count++;
            if (c->t == T_COMMA) { if (!next(c)) return -1; continue; }
            if (c->t != T_RC) { fail(c, c->tpos, "expected ',' or '}'"); return -1; }
        }
        c->nodes[n].nargs = (uint16_t)count;
        return next(c) ? n : -1;
    }
    case T_DOT: /* a leading '.' names the root scope: same thing here */
        if (!next(c)) return -1;
        if (c->t != T_IDENT) { fail(c, c->tpos, "expected a name"); return -1; }
        /* fall through */
    case T_IDENT: {
        const char *name = c->src + c->tpos;
        size_t len = c->tlen;
        if (!next(c)) return -1;
        if (c->t == T_LP) {
            if (len == 3 && !memcmp(name, "has", 3)) return has_macro(c, pos);
            if (!next(c)) return -1;
            int first, nargs;
            if (!arglist(c, &first, &nargs)) return -1;
            return call(c, pos, name, len, -1, first, nargs);
        }
        /* an identifier path: a.b.c up to a call, an index or anything else */
        struct path p;
        p.n = 1; p.pos[0] = pos; p.len[0] = len;
        while (c->t == T_DOT) {
            /* peek: '.' IDENT not followed by '(' */
            size_t save = c->pos, savet = c->tpos;
            if (!next(c)) return -1;
            if (c->t != T_IDENT) { fail(c, c->tpos, "expected a field name"); return -1; }
            size_t ipos = c->tpos, ilen = c->tlen;
            size_t after = c->pos;
            while (after < c->len && (c->src[after] == ' ' || c->src[after] == '\t' ||
                                      c->src[after] == '\n' || c->src[after] == '\r'))
                after++;
            if (after < c->len && c->src[after] == '(') {
                /* a method call: back to the '.' */
                c->pos = save; c->t = T_DOT; c->tpos = savet; c->tlen = 1;
                break;
            }
            if (p.n >= MAX_SEGS) { fail(c, ipos, "name too long"); return -1; }
            p.pos[p.n] = ipos; p.len[p.n] = ilen; p.n++;
            if (!next(c)) return -1;
        }
        return resolve(c, &p);
    }
    case T_EOF: fail(c, pos, "unexpected end of expression"); return -1;
    default: fail(c, pos, "unexpected '%.*s'", (int)c->tlen, c->src + pos); return -1;
    }
}

static int member(struct cc *c)
{
    int n = primary(c);
    while (n >= 0) {
        size_t pos = c->tpos;
        if (c->t == T_DOT) {
            if (!next(c)) return -1;
            if (c->t != T_IDENT) { fail(c, c->tpos, "expected a field name"); return -1; }
            const char *name = c->src + c->tpos;
            size_t len = c->tlen, npos = c->tpos;
            if (!next(c)) return -1;
            if (c->t == T_LP) {
                if (!refuse_macro(c, npos, name, len) || !next(c)) return -1;
                int first, nargs;
                if (!arglist(c, &first, &nargs)) return -1;
                n = call(c, npos, name, len, n, first, nargs);
            } else n = select_node(c, n, npos, name, len);
        } else if (c->t == T_LB) {
            if (!next(c)) return -1;
            int i = expr(c);
            if (i < 0 || !expect(c, T_RB, "']'")) return -1;
            enum og_cel_kind k = K(c, n), ki = K(c, i);
            if (!(k == OG_CEL_DYN || (k == OG_CEL_LIST && is(ki, OG_CEL_INT)) ||
                  (k == OG_CEL_MAP && is(ki, OG_CEL_STRING)))) {
                fail(c, pos, "cannot index a %s with a %s", kind_name(k), kind_name(ki));
                return -1;
            }
            int x = node(c, N_INDEX, pos, (k == OG_CEL_LIST && c->nodes[n].op == N_VAR) ? OG_CEL_STRING : OG_CEL_DYN);
            if (x < 0) return -1;
            c->nodes[x].a = (int16_t)n;
            c->nodes[x].b = (int16_t)i;
            n = x;
        } else break;
    }
    return n;
}

static int unary(struct cc *c)
{
    size_t pos = c->tpos;
    if (c->t == T_NOT || c->t == T_MINUS) {
        bool neg = c->t == T_MINUS;
        if (!next(c)) return -1;
        if (neg && c->t == T_INT && c->ival >= 0) {
            /* a negative literal (-9223372036854775808 is not reachable: fine) */
            int n = node(c, N_LIT, pos, OG_CEL_INT);
            if (n < 0) return -1;
            c->nodes[n].lit = og_cel_int(-c->ival);
            if (!next(c)) return -1;
            return n;
        }
        if (++c->depth > OG_CEL_MAX_DEPTH) { fail(c, pos, "expression nested too deeply"); return -1; }
        int a = unary(c);
        c->depth--;
        if (a < 0) return -1;
        enum og_cel_kind k = K(c, a);
        if (neg ? !(numeric(k) || k == OG_CEL_DYN) : !is(k, OG_CEL_BOOL)) {
            fail(c, pos, "no operator '%c' for (%s)", neg ? '-' : '!', kind_name(k));
            return -1;
        }
        int n = node(c, neg ? N_NEG : N_NOT, pos, k);
        if (n >= 0) c->nodes[n].a = (int16_t)a;
        return n;
    }
    return member(c);
}

static int mul(struct cc *c)
{
    int a = unary(c);
    while (a >= 0 && (c->t == T_STAR || c->t == T_SLASH || c->t == T_PCT)) {
        uint8_t op = c->t == T_STAR ? N_MUL : c->t == T_SLASH ? N_DIV : N_MOD;
        size_t pos = c->tpos;
        if (!next(c)) return -1;
        int b = unary(c);
        if (b < 0) return -1;
        a = binary(c, op, pos, a, b);
    }
    return a;
}

static int add(struct cc *c)
{
    int a = mul(c);
    while (a >= 0 && (c->t == T_PLUS || c->t == T_MINUS)) {
        uint8_t op = c->t == T_PLUS ? N_ADD : N_SUB;
        size_t pos = c->tpos;
        if (!next(c)) return -1;
        int b = mul(c);
        if (b < 0) return -1;
        a = binary(c, op, pos, a, b);
    }
    return a;
}

static int relation(struct cc *c)
{
    int a = add(c);
    for (;;) {
        if (a < 0) return -1;
        uint8_t op;
        switch (c->t) {
        case T_EQ: op = N_EQ; break;
        case T_NE: op = N_NE; break;
        case T_LT: op = N_LT; break;
        case T_LE: op = N_LE; break;
        case T_GT: op = N_GT; break;
        case T_GE: op = N_GE; break;
        case T_IN: op = N_IN; break;
        default: return a;
        }
        size_t pos = c->tpos;
        if (!next(c)) return -1;
        int b = add(c);
        if (b < 0) return -1;
        a = binary(c, op, pos, a, b);
    }
}

static int and_(struct cc *c)
{
    int a = relation(c);
    while (a >= 0 && c->t == T_AND) {
        size_t pos = c->tpos;
        if (!next(c)) return -1;
        int b = relation(c);
        if (b < 0) return -1;
        a = binary(c, N_AND, pos, a, b);
    }
    return a;
}

static int or_(struct cc *c)
{
    int a = and_(c);
    while (a >= 0 && c->t == T_OR) {
        size_t pos = c->tpos;
        if (!next(c)) return -1;
        int b = and_(c);
        if (b < 0) return -1;
        a = binary(c, N_OR, pos, a, b);
    }
    return a;
}

static int expr(struct cc *c)
{
    size_t pos = c->tpos;
    if (++c->depth > OG_CEL_MAX_DEPTH) { fail(c, pos, "expression nested too deeply"); return -1; }
    int a = or_(c);
    if (a >= 0 && c->t == T_QUEST) {
        size_t qpos = c->tpos;
        if (!next(c)) return -1;
        int b = or_(c);
        if (b < 0 || !expect(c, T_COLON, "':'")) return -1;
        int e = expr(c);
        if (e < 0) return -1;
        if (!is(K(c, a), OG_CEL_BOOL)) {
            fail(c, qpos, "the condition of '?:' must be a bool, not a %s", kind_name(K(c, a)));
            return -1;
        }
        enum og_cel_kind kb = K(c, b), ke = K(c, e);
        int n = node(c, N_COND, qpos, kb == ke ? kb : OG_CEL_DYN);
        if (n < 0) return -1;
        c->nodes[n].a = (int16_t)a; c->nodes[n].b = (int16_t)b; c->nodes[n].c = (int16_t)e;
        a = n;
    }
    c->depth--;
    return a;
}

struct og_cel_program *og_cel_compile(const char *src, size_t len,
                                      const struct og_cel_decl *decls, size_t ndecls,
                                      struct og_cel_error *err)
{
    struct og_cel_program *p = NULL;
    struct cc *c = calloc(1, sizeof *c);
    if (err) { err->column = 0; err->msg[0] = 0; }
    if (!c) { if (err) snprintf(err->msg, sizeof err->msg, "out of memory"); return NULL; }
    c->src = src; c->len = len; c->decls = decls; c->ndecls = ndecls; c->err = err;
    if (len > OG_CEL_MAX_SOURCE) { fail(c, 0, "expression longer than %d bytes", OG_CEL_MAX_SOURCE); goto cleanup; }
    if (memchr(src, 0, len)) { fail(c, (size_t)((const char *)memchr(src, 0, len) - src), "NUL byte in expression"); goto cleanup; }
    c->cap = len + 1;
    c->pool = malloc(c->cap);
    if (!c->pool) { fail(c, 0, "out of memory"); goto cleanup; }
    if (!next(c)) goto cleanup;
    if (c->t == T_EOF) { fail(c, 0, "empty expression"); goto cleanup; }
    int root = expr(c);
    if (root < 0) goto cleanup;
    if (c->t != T_EOF) { fail(c, c->tpos, "unexpected '%.*s'", (int)c->tlen, src + c->tpos); goto cleanup; }
    p = calloc(1, sizeof *p);
    if (!p) goto cleanup;
    p->nodes = malloc(c->nn * sizeof *p->nodes);
    p->res = c->nres ? malloc(c->nres * sizeof *p->res) : NULL;
    if (!p->nodes || (c->nres && !p->res)) { og_cel_program_free(p); p = NULL; fail(c, 0, "out of memory"); goto cleanup; }
    memcpy(p->nodes, c->nodes, c->nn * sizeof *p->nodes);
    if (c->nres) memcpy(p->res, c->res, c->nres * sizeof *p->res);
    p->nnodes = c->nn; p->nres = c->nres; p->root = root; p->ndecls = ndecls;
    p->pool = c->pool; /* literals and names point into it */
    c->pool = NULL;
    /* names of selections point into src: move them into a pool of their own */
    size_t need = 0;
    for (size_t i = 0; i < p->nnodes; i++)
        if (p->nodes[i].op == N_SELECT || p->nodes[i].op == N_HAS) need += p->nodes[i].name_len;
    char *names = malloc(need + 1);
    if (!names) { og_cel_program_free(p); p = NULL; fail(c, 0, "out of memory"); goto cleanup; }
    size_t off = 0;
    for (size_t i = 0; i < p->nnodes; i++)
        if (p->nodes[i].op == N_SELECT || p->nodes[i].op == N_HAS) {
            memcpy(names + off, p->nodes[i].name, p->nodes[i].name_len);
            p->nodes[i].name = names + off;
            off += p->nodes[i].name_len;
        }
    p->names = names;
cleanup:
    if (c) free(c->pool);
    free(c);
    return p;
}

void og_cel_program_free(struct og_cel_program *p)
{
    if (!p) return;
    free(p->nodes);
    free(p->res);
    free(p->pool);
    free(p->names);
    free(p);
}

enum og_cel_kind og_cel_result_kind(const struct og_cel_program *p)
{
    return p->nodes[p->root].kind;
}
