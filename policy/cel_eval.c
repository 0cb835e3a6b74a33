/*
 * cel_eval.c - evaluate a compiled CEL expression without allocating.
 *
 * A recursive walk of the checked tree (its depth is bounded by the
 * compiler) that counts its steps; whatever an evaluation makes (strings
 * of +, lowerAscii, string(); list and map literals) goes to the caller's
 * scratch. Errors are values that propagate, except that `false && e` is
 * false and `true || e` is true in either order, and `?:` only evaluates
 * the branch it takes (CEL). Also here: the value constructors, list and
 * map access over every form (values, C strings, comma-separated text,
 * JSON), RFC 3339 timestamps and inCidr's address ranges.
 */
#include "cel_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define MAX_STEPS 100000
#define MAX_VALUE_DEPTH 16

struct ev {
    const struct og_cel_program *p;
    const struct og_cel_value *vars;
    struct og_cel_scratch *s;
    unsigned long steps;
};

static struct og_cel_value error_(const char *msg)
{
    struct og_cel_value v;
    memset(&v, 0, sizeof v);
    v.kind = OG_CEL_ERROR;
    v.u.error = msg;
    return v;
}

/* ---- constructors --------------------------------------------------- */

struct og_cel_value og_cel_bool(bool b)
{
    struct og_cel_value v; memset(&v, 0, sizeof v);
    v.kind = OG_CEL_BOOL; v.u.b = b; return v;
}
struct og_cel_value og_cel_int(int64_t i)
{
    struct og_cel_value v; memset(&v, 0, sizeof v);
    v.kind = OG_CEL_INT; v.u.i = i; return v;
}
struct og_cel_value og_cel_str(const char *p, size_t n)
{
    struct og_cel_value v; memset(&v, 0, sizeof v);
    v.kind = OG_CEL_STRING; v.u.s.p = p ? p : ""; v.u.s.n = p ? n : 0; return v;
}
struct og_cel_value og_cel_cstr(const char *p) { return og_cel_str(p ? p : "", p ? strlen(p) : 0); }
struct og_cel_value og_cel_strs(const char *const *s, size_t n)
{
    struct og_cel_value v; memset(&v, 0, sizeof v);
    v.kind = OG_CEL_LIST; v.form = OG_CEL_FORM_STRS; v.u.strs.v = s; v.u.strs.n = s ? n : 0; return v;
}
struct og_cel_value og_cel_csv(const char *p, size_t n)
{
    struct og_cel_value v = og_cel_str(p, n);
    v.kind = OG_CEL_LIST; v.form = OG_CEL_FORM_CSV; return v;
}
struct og_cel_value og_cel_timestamp(int64_t sec, int32_t nsec)
{
    struct og_cel_value v; memset(&v, 0, sizeof v);
    v.kind = OG_CEL_TIMESTAMP; v.u.ts.sec = sec; v.u.ts.nsec = nsec; return v;
}
struct og_cel_value og_cel_json(const struct json_t *j)
{
    struct og_cel_value v; memset(&v, 0, sizeof v);
    if (!j) { v.kind = OG_CEL_MAP; v.form = OG_CEL_FORM_VALUES; return v; }
    switch (json_typeof(j)) {
    case JSON_OBJECT: v.kind = OG_CEL_MAP; v.form = OG_CEL_FORM_JSON; v.u.json = j; break;
    case JSON_ARRAY: v.kind = OG_CEL_LIST; v.form = OG_CEL_FORM_JSON; v.u.json = j; break;
    case JSON_STRING: return og_cel_str(json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return og_cel_int((int64_t)json_integer_value(j));
    case JSON_REAL: v.kind = OG_CEL_DOUBLE; v.u.d = json_real_value(j); break;
    case JSON_TRUE: return og_cel_bool(true);
    case JSON_FALSE: return og_cel_bool(false);
    default: v.kind = OG_CEL_NULL; break;
    }
    return v;
}

void og_cel_scratch_reset(struct og_cel_scratch *s) { s->nvals = 0; s->nbytes = 0; }

/* ---- lists and maps ------------------------------------------------- */

static bool csv_item(const char **p, const char *end, const char **item, size_t *n)
{
    while (*p < end) {
        const char *b = *p;
        while (*p < end && **p != ',') (*p)++;
        const char *e = *p;
        if (*p < end) (*p)++;
        while (b < e && (*b == ' ' || *b == '\t')) b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > b) { *item = b; *n = (size_t)(e - b); return true; }
    }
    return false;
}

size_t og_cel_size(const struct og_cel_value *v)
{
    if (v->kind == OG_CEL_STRING) {
        size_t n = 0;
        for (size_t i = 0; i < v->u.s.n; i++) n += ((unsigned char)v->u.s.p[i] & 0xc0) != 0x80;
        return n;
    }
    if (v->kind != OG_CEL_LIST && v->kind != OG_CEL_MAP) return 0;
    switch (v->form) {
    case OG_CEL_FORM_VALUES: return v->u.vals.n;
    case OG_CEL_FORM_STRS: return v->u.strs.n;
    case OG_CEL_FORM_JSON:
        return v->kind == OG_CEL_LIST ? json_array_size(v->u.json) : json_object_size(v->u.json);
    case OG_CEL_FORM_CSV: {
        const char *p = v->u.s.p, *it; size_t n = 0, l;
        while (csv_item(&p, v->u.s.p + v->u.s.n, &it, &l)) n++;
        return n;
    }
    }
    return 0;
}

bool og_cel_list_get(const struct og_cel_value *v, size_t i, struct og_cel_value *out)
{
    if (v->kind != OG_CEL_LIST) return false;
    switch (v->form) {
    case OG_CEL_FORM_VALUES:
        if (i >= v->u.vals.n) return false;
        *out = v->u.vals.v[i]; return true;
    case OG_CEL_FORM_STRS:
        if (i >= v->u.strs.n) return false;
        *out = og_cel_cstr(v->u.strs.v[i]); return true;
    case OG_CEL_FORM_JSON:
        if (i >= json_array_size(v->u.json)) return false;
        *out = og_cel_json(json_array_get(v->u.json, i)); return true;
    case OG_CEL_FORM_CSV: {
        const char *p = v->u.s.p, *it; size_t l;
        for (size_t k = 0; csv_item(&p, v->u.s.p + v->u.s.n, &it, &l); k++)
            if (k == i) { *out = og_cel_str(it, l); return true; }
        return false;
    }
    }
    return false;
}

static bool streq(const struct og_cel_value *a, const char *p, size_t n)
{
    return a->kind == OG_CEL_STRING && a->u.s.n == n && (n == 0 || memcmp(a->u.s.p, p, n) == 0);
}

bool og_cel_map_get(const struct og_cel_value *v, const char *key, size_t n, struct og_cel_value *out)
{
    if (v->kind != OG_CEL_MAP) return false;
    if (v->form == OG_CEL_FORM_JSON) {
        json_t *j = json_object_getn(v->u.json, key, n);
        if (!j) return false;
        *out = og_cel_json(j);
        return true;
    }
    if (v->form != OG_CEL_FORM_VALUES) return false;
    for (size_t i = 0; i < v->u.vals.n; i++)
        if (streq(&v->u.vals.v[2 * i], key, n)) { *out = v->u.vals.v[2 * i + 1]; return true; }
    return false;
}

/* ---- comparisons ---------------------------------------------------- */

/* 1 equal, 0 not, -1 error */
static int equal(struct ev *e, const struct og_cel_value *a, const struct og_cel_value *b, int depth)
{
    if (depth > MAX_VALUE_DEPTH) return -1;
    if (++e->steps > MAX_STEPS) return -1;
    if (a->kind == OG_CEL_INT && b->kind == OG_CEL_DOUBLE) return (double)a->u.i == b->u.d;
    if (a->kind == OG_CEL_DOUBLE && b->kind == OG_CEL_INT) return a->u.d == (double)b->u.i;
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case OG_CEL_NULL: return 1;
    case OG_CEL_BOOL: return a->u.b == b->u.b;
    case OG_CEL_INT: return a->u.i == b->u.i;
    case OG_CEL_DOUBLE: return a->u.d == b->u.d;
    case OG_CEL_STRING: return streq(a, b->u.s.p, b->u.s.n);
    case OG_CEL_TIMESTAMP: return a->u.ts.sec == b->u.ts.sec && a->u.ts.nsec == b->u.ts.nsec;
    case OG_CEL_LIST: {
        size_t n = og_cel_size(a);
        if (n != og_cel_size(b)) return 0;
        for (size_t i = 0; i < n; i++) {
            struct og_cel_value x, y;
            if (!og_cel_list_get(a, i, &x) || !og_cel_list_get(b, i, &y)) return -1;
            int r = equal(e, &x, &y, depth + 1);
            if (r != 1) return r;
        }
        return 1;
    }
    case OG_CEL_MAP: {
        size_t n = og_cel_size(a);
        if (n != og_cel_size(b)) return 0;
        if (a->form == OG_CEL_FORM_JSON) {
            const char *k; size_t kl; json_t *jv;
            void *tmp;
            json_object_keylen_foreach_safe((json_t *)a->u.json, tmp, k, kl, jv) {
                struct og_cel_value x = og_cel_json(jv), y;
                if (!og_cel_map_get(b, k, kl, &y)) return 0;
                int r = equal(e, &x, &y, depth + 1);
                if (r != 1) return r;
            }
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            const struct og_cel_value *k = &a->u.vals.v[2 * i];
            struct og_cel_value y;
            if (!og_cel_map_get(b, k->u.s.p, k->u.s.n, &y)) return 0;
            int r = equal(e, &a->u.vals.v[2 * i + 1], &y, depth + 1);
            if (r != 1) return r;
        }
        return 1;
    }
    default: return -1;
    }
}

/* <0, 0, >0; *ok false when the kinds do not compare */
static int compare(const struct og_cel_value *a, const struct og_cel_value *b, bool *ok)
{
    *ok = true;
    double x, y;
    if ((a->kind == OG_CEL_INT || a->kind == OG_CEL_DOUBLE) &&
        (b->kind == OG_CEL_INT || b->kind == OG_CEL_DOUBLE)) {
        if (a->kind == OG_CEL_INT && b->kind == OG_CEL_INT)
            return (a->u.i > b->u.i) - (a->u.i < b->u.i);
        x = a->kind == OG_CEL_INT ? (double)a->u.i : a->u.d;
        y = b->kind == OG_CEL_INT ? (double)b->u.i : b->u.d;
        if (x != x || y != y) { *ok = false; return 0; }
        return (x > y) - (x < y);
    }
    if (a->kind != b->kind) { *ok = false; return 0; }
    switch (a->kind) {
    case OG_CEL_BOOL: return (int)a->u.b - (int)b->u.b;
    case OG_CEL_STRING: {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int r = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (r) return r;
        return (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
    }
    case OG_CEL_TIMESTAMP:
        if (a->u.ts.sec != b->u.ts.sec) return a->u.ts.sec < b->u.ts.sec ? -1 : 1;
        return (a->u.ts.nsec > b->u.ts.nsec) - (a->u.ts.nsec < b->u.ts.nsec);
    default: *ok = false; return 0;
    }
}

/* ---- timestamps ----------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

bool og_cel_parse_timestamp(const char *p, size_t n, int64_t *sec, int32_t *nsec)
{
    unsigned Y, M, D, h, m, s, oh = 0, om = 0;
    if (n < 20 || !digits(p, 4, &Y) || p[4] != '-' || !digits(p + 5, 2, &M) || p[7] != '-' ||
        !digits(p + 8, 2, &D) || (p[10] != 'T' && p[10] != 't') || !digits(p + 11, 2, &h) ||
        p[13] != ':' || !digits(p + 14, 2, &m) || p[16] != ':' || !digits(p + 17, 2, &s))
        return false;
    static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) ||
        h > 23 || m > 59 || s > 60)
        return false;
    if (s == 60) s = 59; /* a leap second reads as the second before */
    size_t i = 19;
    int32_t frac = 0;
    if (i < n && p[i] == '.') {
        i++;
        size_t st = i;
        int32_t scale = 100000000;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (i - st >= 9) return false;
            frac += (int32_t)(p[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == st) return false;
    }
    int sign = 0;
    if (i < n && (p[i] == 'Z' || p[i] == 'z')) i++;
    else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && digits(p + i + 1, 2, &oh) &&
             p[i + 3] == ':' && digits(p + i + 4, 2, &om) && oh < 24 && om < 60) {
        sign = p[i] == '+' ? 1 : -1;
        i += 6;
    } else return false;
    if (i != n) return false;
    *sec = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + s - sign * (int64_t)(oh * 3600 + om * 60);
    *nsec = frac;
    return true;
}

static size_t format_timestamp(int64_t sec, int32_t nsec, char *buf, size_t n)
{
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    int64_t rem = sec - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    int w;
    if (nsec)
        w = snprintf(buf, n, "%04lld-%02u-%02uT%02u:%02u:%02u.%09dZ", (long long)y, m, d,
                     (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), (int)nsec);
    else
        w = snprintf(buf, n, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
                     (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
    return w < 0 ? 0 : (size_t)w;
}

/* ---- address ranges ------------------------------------------------- */

static bool parse_ip(const char *p, size_t n, uint8_t addr[16], bool *v4)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, p, n);
    buf[n] = 0;
    if (buf[0] == '[' && buf[n - 1] == ']') { memmove(buf, buf + 1, n - 2); buf[n - 2] = 0; }
    if (inet_pton(AF_INET, buf, addr + 12) == 1) {
        memset(addr, 0, 10); addr[10] = addr[11] = 0xff;
        *v4 = true;
        return true;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        *v4 = memcmp(addr, mapped, 12) == 0;
        return true;
    }
    return false;
}

/* "10.0.0.0/8", "fd00::/8" or a single address; bits counts in the 128-bit
   (IPv4-mapped for IPv4) form. */
bool og_cel_cidr_parse(const char *p, size_t n, uint8_t addr[16], unsigned *bits, bool *v4)
{
    const char *slash = memchr(p, '/', n);
    size_t an = slash ? (size_t)(slash - p) : n;
    if (!parse_ip(p, an, addr, v4)) return false;
    unsigned b = *v4 ? 32 : 128;
    if (slash) {
        size_t dn = n - an - 1;
        if (dn < 1 || dn > 3 || !digits(slash + 1, dn, &b) || (dn > 1 && slash[1] == '0')) return false;
        if (b > (*v4 ? 32u : 128u)) return false;
    }
    *bits = *v4 ? b + 96 : b;
    return true;
}

/* 1 in range, 0 not, -1 error */
static int in_cidr(const struct og_cel_value *ip, const struct og_cel_value *cidr)
{
    uint8_t a[16], r[16];
    unsigned bits;
    bool av4, rv4;
    if (!parse_ip(ip->u.s.p, ip->u.s.n, a, &av4)) return -1;
    if (!og_cel_cidr_parse(cidr->u.s.p, cidr->u.s.n, r, &bits, &rv4)) return -1;
    if (rv4 != av4) return 0;
    for (unsigned i = 0; i < bits / 8; i++)
        if (a[i] != r[i]) return 0;
    if (bits % 8) {
        uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
        if ((a[bits / 8] & mask) != (r[bits / 8] & mask)) return 0;
    }
    return 1;
}

/* ---- evaluation ----------------------------------------------------- */

static char *sbytes(struct ev *e, size_t n)
{
    if (n > OG_CEL_SCRATCH_BYTES - e->s->nbytes) return NULL;
    char *p = e->s->bytes + e->s->nbytes;
    e->s->nbytes += n;
    return p;
}

static struct og_cel_value *svals(struct ev *e, size_t n)
{
    if (n > OG_CEL_SCRATCH_VALUES - e->s->nvals) return NULL;
    struct og_cel_value *v = e->s->vals + e->s->nvals;
    e->s->nvals += n;
    return v;
}

static struct og_cel_value eval(struct ev *e, int n);

#define ERR(v) ((v).kind == OG_CEL_ERROR)

static bool want(const struct og_cel_value *v, enum og_cel_kind k) { return v->kind == k; }

static struct og_cel_value call(struct ev *e, const struct og_cel_node *nd)
{
    struct og_cel_value a = eval(e, nd->a), b;
    if (ERR(a)) return a;
    if (nd->nargs > 1) {
        b = eval(e, e->p->nodes[nd->a].next);
        if (ERR(b)) return b;
    }
    switch (nd->fn) {
    case F_SIZE:
        if (a.kind != OG_CEL_STRING && a.kind != OG_CEL_LIST && a.kind != OG_CEL_MAP)
            return error_("no such overload: size");
        e->steps += a.kind == OG_CEL_STRING ? a.u.s.n / 64 : 0;
        return og_cel_int((int64_t)og_cel_size(&a));
    case F_STARTS: case F_ENDS: case F_CONTAINS: {
        if (!want(&a, OG_CEL_STRING) || !want(&b, OG_CEL_STRING)) return error_("no such overload");
        size_t n = a.u.s.n, m = b.u.s.n;
        if (m > n) return og_cel_bool(false);
        if (m == 0) return og_cel_bool(true);
        if (nd->fn == F_STARTS) return og_cel_bool(memcmp(a.u.s.p, b.u.s.p, m) == 0);
        if (nd->fn == F_ENDS) return og_cel_bool(memcmp(a.u.s.p + n - m, b.u.s.p, m) == 0);
        e->steps += n / 16;
        return og_cel_bool(memmem(a.u.s.p, n, b.u.s.p, m) != NULL);
    }
    case F_MATCHES: {
        if (!want(&a, OG_CEL_STRING) || !want(&b, OG_CEL_STRING)) return error_("no such overload: matches");
        e->steps += a.u.s.n;
        if (nd->re >= 0) return og_cel_bool(og_re_search(&e->p->res[nd->re], a.u.s.p, a.u.s.n));
        struct og_re re;
        const char *msg; size_t col;
        if (!og_re_compile(&re, b.u.s.p, b.u.s.n, &msg, &col)) return error_("invalid regular expression");
        return og_cel_bool(og_re_search(&re, a.u.s.p, a.u.s.n));
    }
    case F_LOWER: case F_UPPER: {
        if (!want(&a, OG_CEL_STRING)) return error_("no such overload: lowerAscii");
        char *o = sbytes(e, a.u.s.n);
        if (!o) return error_("expression scratch space exhausted");
        for (size_t i = 0; i < a.u.s.n; i++) {
            char ch = a.u.s.p[i];
            if (nd->fn == F_LOWER && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
            if (nd->fn == F_UPPER && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
            o[i] = ch;
        }
        return og_cel_str(o, a.u.s.n);
    }
    case F_TIMESTAMP: {
        if (a.kind == OG_CEL_TIMESTAMP) return a;
        int64_t s; int32_t ns;
        if (!want(&a, OG_CEL_STRING) || !og_cel_parse_timestamp(a.u.s.p, a.u.s.n, &s, &ns))
            return error_("timestamp() needs an RFC 3339 string");
        return og_cel_timestamp(s, ns);
    }
    case F_INCIDR: {
        if (!want(&a, OG_CEL_STRING) || !want(&b, OG_CEL_STRING)) return error_("no such overload: inCidr");
        int r = in_cidr(&a, &b);
        if (r < 0) return error_("inCidr: not an address or address range");
        return og_cel_bool(r == 1);
    }
    case F_STRING: {
        char buf[48]; size_t n;
        switch (a.kind) {
        case OG_CEL_STRING: return a;
        case OG_CEL_BOOL: return og_cel_cstr(a.u.b ? "true" : "false");
        case OG_CEL_INT: n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)a.u.i); break;
        case OG_CEL_DOUBLE: n = (size_t)snprintf(buf, sizeof buf, "%g", a.u.d); break;
        case OG_CEL_TIMESTAMP: n = format_timestamp(a.u.ts.sec, a.u.ts.nsec, buf, sizeof buf); break;
        default: return error_("no such overload: string");
        }
        if (n >= sizeof buf) return error_("string(): too long");
        char *o = sbytes(e, n);
        if (!o) return error_("expression scratch space exhausted");
        memcpy(o, buf, n);
        return og_cel_str(o, n);
    }
    case F_INT:
        switch (a.kind) {
        case OG_CEL_INT: return a;
        case OG_CEL_TIMESTAMP: return og_cel_int(a.u.ts.sec);
        case OG_CEL_DOUBLE:
            if (!(a.u.d > -9.2e18 && a.u.d < 9.2e18)) return error_("int(): out of range");
            return og_cel_int((int64_t)a.u.d);
        case OG_CEL_STRING: {
            size_t i = 0; bool neg = false; uint64_t v = 0;
            if (a.u.s.n && (a.u.s.p[0] == '-' || a.u.s.p[0] == '+')) { neg = a.u.s.p[0] == '-'; i = 1; }
            if (i >= a.u.s.n) return error_("int(): not an integer");
            for (; i < a.u.s.n; i++) {
                char ch = a.u.s.p[i];
                if (ch < '0' || ch > '9' || v > (uint64_t)INT64_MAX / 10) return error_("int(): not an integer");
                v = v * 10 + (uint64_t)(ch - '0');
                if (v > (uint64_t)INT64_MAX) return error_("int(): out of range");
            }
            return og_cel_int(neg ? -(int64_t)v : (int64_t)v);
        }
        default: return error_("no such overload: int");
        }
    default: return error_("unknown function");
    }
}

static struct og_cel_value arith(uint8_t op, const struct og_cel_value *a, const struct og_cel_value *b)
{
    if (a->kind == OG_CEL_INT && b->kind == OG_CEL_INT) {
        int64_t x = a->u.i, y = b->u.i, r;
        switch (op) {
        case N_ADD: if (__builtin_add_overflow(x, y, &r)) return error_("integer overflow"); break;
        case N_SUB: if (__builtin_sub_overflow(x, y, &r)) return error_("integer overflow"); break;
        case N_MUL: if (__builtin_mul_overflow(x, y, &r)) return error_("integer overflow"); break;
        case N_DIV:
            if (y == 0) return error_("division by zero");
            if (x == INT64_MIN && y == -1) return error_("integer overflow");
            r = x / y; break;
        default:
            if (y == 0) return error_("modulus by zero");
            if (x == INT64_MIN && y == -1) return error_("integer overflow");
            r = x % y; break;
        }
        return og_cel_int(r);
    }
    if (a->kind == OG_CEL_DOUBLE && b->kind == OG_CEL_DOUBLE && op != N_MOD) {
        struct og_cel_value v = *a;
        v.u.d = op == N_ADD ? a->u.d + b->u.d : op == N_SUB ? a->u.d - b->u.d :
                op == N_MUL ? a->u.d * b->u.d : a->u.d / b->u.d;
        return v;
    }
    return error_("no such overload");
}

static struct og_cel_value eval(struct ev *e, int n)
{
    const struct og_cel_node *nd = &e->p->nodes[n];
    struct og_cel_value a, b;
    if (++e->steps > MAX_STEPS) return error_("expression too costly");
    switch (nd->op) {
    case N_LIT: return nd->lit;
    case N_VAR: return e->vars[nd->var];
    case N_SELECT: case N_HAS: {
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        if (a.kind != OG_CEL_MAP) return error_("no such field (not a map)");
        bool found = og_cel_map_get(&a, nd->name, nd->name_len, &b);
        if (nd->op == N_HAS) return og_cel_bool(found);
        return found ? b : error_("no such key");
    }
    case N_INDEX: {
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        b = eval(e, nd->b);
        if (ERR(b)) return b;
        struct og_cel_value r;
        if (a.kind == OG_CEL_LIST) {
            if (b.kind != OG_CEL_INT) return error_("a list index must be an int");
            if (b.u.i < 0 || !og_cel_list_get(&a, (size_t)b.u.i, &r)) return error_("index out of range");
            return r;
        }
        if (a.kind == OG_CEL_MAP) {
            if (b.kind != OG_CEL_STRING) return error_("no such key");
            return og_cel_map_get(&a, b.u.s.p, b.u.s.n, &r) ? r : error_("no such key");
        }
        return error_("cannot index this value");
    }
    case N_LIST: case N_MAP: {
        size_t cnt = nd->op == N_LIST ? nd->nargs : 2u * nd->nargs;
        struct og_cel_value *v = svals(e, cnt);
        if (!v) return error_("expression scratch space exhausted");
        int k = nd->a;
        for (size_t i = 0; i < cnt; i++, k = e->p->nodes[k].next) {
            v[i] = eval(e, k);
            if (ERR(v[i])) return v[i];
            if (nd->op == N_MAP && i % 2 == 0 && v[i].kind != OG_CEL_STRING)
                return error_("map keys must be strings");
        }
        struct og_cel_value r;
        memset(&r, 0, sizeof r);
        r.kind = nd->op == N_LIST ? OG_CEL_LIST : OG_CEL_MAP;
        r.form = OG_CEL_FORM_VALUES;
        r.u.vals.v = v;
        r.u.vals.n = nd->nargs;
        return r;
    }
    case N_NOT:
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        return a.kind == OG_CEL_BOOL ? og_cel_bool(!a.u.b) : error_("no such overload: !");
    case N_NEG:
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        if (a.kind == OG_CEL_INT) {
            if (a.u.i == INT64_MIN) return error_("integer overflow");
            return og_cel_int(-a.u.i);
        }
        if (a.kind == OG_CEL_DOUBLE) { a.u.d = -a.u.d; return a; }
        return error_("no such overload: -");
    case N_AND: case N_OR: {
        /* commutative error absorption: a decisive side wins over an error */
        bool decisive = nd->op == N_OR;
        a = eval(e, nd->a);
        if (a.kind == OG_CEL_BOOL && a.u.b == decisive) return a;
        b = eval(e, nd->b);
        if (b.kind == OG_CEL_BOOL && b.u.b == decisive) return b;
        if (ERR(a)) return a;
        if (ERR(b)) return b;
        if (a.kind != OG_CEL_BOOL || b.kind != OG_CEL_BOOL)
            return error_(nd->op == N_AND ? "no such overload: &&" : "no such overload: ||");
        return og_cel_bool(!decisive);
    }
    case N_COND:
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        if (a.kind != OG_CEL_BOOL) return error_("no such overload: ?:");
        return eval(e, a.u.b ? nd->b : nd->c);
    case N_EQ: case N_NE: {
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        b = eval(e, nd->b);
        if (ERR(b)) return b;
        int r = equal(e, &a, &b, 0);
        if (r < 0) return error_("values too deep or too costly to compare");
        return og_cel_bool((r == 1) == (nd->op == N_EQ));
    }
    case N_LT: case N_LE: case N_GT: case N_GE: {
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        b = eval(e, nd->b);
        if (ERR(b)) return b;
        bool ok;
        int r = compare(&a, &b, &ok);
        if (!ok) return error_("no such overload: comparison");
        switch (nd->op) {
        case N_LT: return og_cel_bool(r < 0);
        case N_LE: return og_cel_bool(r <= 0);
        case N_GT: return og_cel_bool(r > 0);
        default: return og_cel_bool(r >= 0);
        }
    }
    case N_IN: {
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        b = eval(e, nd->b);
        if (ERR(b)) return b;
        if (b.kind == OG_CEL_MAP) {
            struct og_cel_value x;
            if (a.kind != OG_CEL_STRING) return og_cel_bool(false);
            return og_cel_bool(og_cel_map_get(&b, a.u.s.p, a.u.s.n, &x));
        }
        if (b.kind != OG_CEL_LIST) return error_("no such overload: in");
        size_t cnt = og_cel_size(&b);
        struct og_cel_value x;
        for (size_t i = 0; i < cnt && og_cel_list_get(&b, i, &x); i++) {
            int r = equal(e, &a, &x, 0);
            if (r < 0) return error_("expression too costly");
            if (r == 1) return og_cel_bool(true);
        }
        return og_cel_bool(false);
    }
    case N_ADD: case N_SUB: case N_MUL: case N_DIV: case N_MOD:
        a = eval(e, nd->a);
        if (ERR(a)) return a;
        b = eval(e, nd->b);
        if (ERR(b)) return b;
        if (nd->op == N_ADD && a.kind == OG_CEL_STRING && b.kind == OG_CEL_STRING) {
            char *o = sbytes(e, a.u.s.n + b.u.s.n);
            if (!o) return error_("expression scratch space exhausted");
            if (a.u.s.n) memcpy(o, a.u.s.p, a.u.s.n);
            if (b.u.s.n) memcpy(o + a.u.s.n, b.u.s.p, b.u.s.n);
            return og_cel_str(o, a.u.s.n + b.u.s.n);
        }
        return arith(nd->op, &a, &b);
    case N_CALL: return call(e, nd);
    default: return error_("internal error");
    }
}

bool og_cel_eval(const struct og_cel_program *p, const struct og_cel_value *vars,
                 struct og_cel_scratch *s, struct og_cel_value *out)
{
    struct ev e = { p, vars, s, 0 };
    *out = eval(&e, p->root);
    return out->kind != OG_CEL_ERROR;
}

/* ---- formatting ----------------------------------------------------- */

struct fbuf { char *p; size_t n, len; };

static void fput(struct fbuf *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && f->len + 1 < f->n; i++) f->p[f->len++] = s[i];
    f->p[f->len] = 0;
}

static void fmt(struct fbuf *f, const struct og_cel_value *v, int depth)
{
    char buf[64];
    if (depth > 4) { fput(f, "...", 3); return; }
    switch (v->kind) {
    case OG_CEL_ERROR: fput(f, "error(", 6); fput(f, v->u.error, strlen(v->u.error)); fput(f, ")", 1); return;
    case OG_CEL_NULL: fput(f, "null", 4); return;
    case OG_CEL_BOOL: fput(f, v->u.b ? "true" : "false", v->u.b ? 4 : 5); return;
    case OG_CEL_INT: fput(f, buf, (size_t)snprintf(buf, sizeof buf, "%lld", (long long)v->u.i)); return;
    case OG_CEL_DOUBLE: fput(f, buf, (size_t)snprintf(buf, sizeof buf, "%g", v->u.d)); return;
    case OG_CEL_STRING:
        fput(f, "\"", 1);
        for (size_t i = 0; i < v->u.s.n; i++) {
            unsigned char ch = (unsigned char)v->u.s.p[i];
            if (ch == '"' || ch == '\\') { fput(f, "\\", 1); fput(f, (const char *)&ch, 1); }
            else if (ch < 32 || ch == 127) fput(f, buf, (size_t)snprintf(buf, sizeof buf, "\\x%02x", ch));
            else fput(f, (const char *)&ch, 1);
        }
        fput(f, "\"", 1);
        return;
    case OG_CEL_TIMESTAMP:
        fput(f, "timestamp(\"", 11);
        fput(f, buf, format_timestamp(v->u.ts.sec, v->u.ts.nsec, buf, sizeof buf));
        fput(f, "\")", 2);
        return;
    case OG_CEL_LIST: {
        fput(f, "[", 1);
        size_t n = og_cel_size(v);
        for (size_t i = 0; i < n && f->len + 1 < f->n; i++) {
            struct og_cel_value x;
            if (!og_cel_list_get(v, i, &x)) break;
            if (i) fput(f, ", ", 2);
            fmt(f, &x, depth + 1);
        }
        fput(f, "]", 1);
        return;
    }
    case OG_CEL_MAP: {
        fput(f, "{", 1);
        if (v->form == OG_CEL_FORM_JSON) {
            const char *k; size_t kl; json_t *jv; void *tmp; bool first = true;
            json_object_keylen_foreach_safe((json_t *)v->u.json, tmp, k, kl, jv) {
                if (f->len + 1 >= f->n) break;
                if (!first) fput(f, ", ", 2);
                first = false;
                struct og_cel_value kv = og_cel_str(k, kl), x = og_cel_json(jv);
                fmt(f, &kv, depth + 1);
                fput(f, ": ", 2);
                fmt(f, &x, depth + 1);
            }
        } else if (v->form == OG_CEL_FORM_VALUES) {
            for (size_t i = 0; i < v->u.vals.n; i++) {
                if (i) fput(f, ", ", 2);
                fmt(f, &v->u.vals.v[2 * i], depth + 1);
                fput(f, ": ", 2);
                fmt(f, &v->u.vals.v[2 * i + 1], depth + 1);
            }
        }
        fput(f, "}", 1);
        return;
    }
    default: fput(f, "?", 1); return;
    }
}

void og_cel_format(const struct og_cel_value *v, char *buf, size_t n)
{
    if (n == 0) return;
    struct fbuf f = { buf, n, 0 };
    buf[0] = 0;
    fmt(&f, v, 0);
}
