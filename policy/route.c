/*
 * route.c - the strict front door: raw method + request target -> one OCI
 * distribution operation, or a refusal (400, 404, 405) with a short reason.
 *
 * The target is judged exactly as the client sent it, in this order:
 *   1. the target as bytes (length, origin-form, '#', control bytes,
 *      the path alphabet, '.'/'..' and empty segments)        -> 400
 *   2. the method (OPTIONS is a CORS preflight and stops here) -> 405
 *   3. outside /v2: handed back to the caller untouched
 *   4. the closed /v2/ endpoint table and the distribution grammar
 *      (no shape -> 404; a shape with a bad name/reference -> 400,
 *      except a GET/HEAD of a manifest by an invalid reference -> 404;
 *      more than one valid shape -> 400)
 *   5. the method for that endpoint                             -> 405
 *   6. the query (only the keys that mean something there)      -> 400
 *   7. a form content type on an upload write                   -> 400
 *
 * Every input is a pointer and a length, never NUL-terminated, and nothing
 * here reads past the length. Nothing is allocated: the answer is the
 * caller's struct og_route. We reject; we never repair.
 */
#include "route.h"
#include "action.h"

#include <string.h>

#include "hex.h"
#include "text.h"

/* A byte range of the caller's input. */
struct span {
    const char *p;
    size_t n;
};

static struct span span_of(const char *p, size_t n)
{
    struct span s = { p, n };
    return s;
}

static bool span_equals(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

static bool span_ends_with(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

static bool span_contains_byte(struct span s, char c)
{
    return s.n > 0 && memchr(s.p, c, s.n) != NULL;
}

/* The last occurrence of c in s, or NULL (memrchr is not portable). */
static const char *span_last_byte(struct span s, char c)
{
    for (size_t i = s.n; i > 0; i--)
        if (s.p[i - 1] == c)
            return s.p + i - 1;
    return NULL;
}

/* ---- byte classes ------------------------------------------------------- */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower_alnum(unsigned char c) { return is_lower(c) || is_digit(c); }
static bool is_alnum(unsigned char c) { return is_lower_alnum(c) || is_upper(c); }

/* The path alphabet (doc/decisions.md, routes): [A-Za-z0-9._:/+-]. */
static bool is_path_byte(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == ':' || c == '/' ||
           c == '+' || c == '-';
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- grammar of the distribution spec ----------------------------------- */

/*
 * One path component of a repository name:
 *   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
 * Returns false on an empty component, a leading/trailing separator, or a
 * separator run other than ".", "_", "__" or "-+".
 */
static bool component_is_valid(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0 || !is_lower_alnum((unsigned char)s[0]))
        return false;
    while (i < len) {
        while (i < len && is_lower_alnum((unsigned char)s[i]))
            i++;
        if (i == len)
            return true;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < len && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < len && s[i] == '-')
                i++;
        } else {
            return false;
        }
        /* A separator must be followed by an alphanumeric run. */
        if (i == len || !is_lower_alnum((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* NULL when s is a valid repository name, else why not. */
static const char *repo_fault(const char *s, size_t len)
{
    size_t start = 0;

    if (s == NULL || len == 0)
        return "empty repository name";
    if (len > OG_REPO_MAX)
        return "repository name too long";
    for (size_t i = 0; i < len; i++)
        if (is_upper((unsigned char)s[i]))
            return "upper-case repository name";
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (!component_is_valid(s + start, i - start))
                return "invalid repository name";
            start = i + 1;
        }
    }
    return NULL;
}

bool og_valid_repo(const char *s, size_t len)
{
    return repo_fault(s, len) == NULL;
}

/* [A-Za-z0-9_][A-Za-z0-9._-]{0,127} */
bool og_valid_tag(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > OG_TAG_MAX)
        return false;
    if (!is_alnum((unsigned char)s[0]) && s[0] != '_')
        return false;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

/* Only sha256:<64 lower hex> and sha512:<128 lower hex>. */
bool og_valid_digest(const char *s, size_t len)
{
    if (s == NULL)
        return false;
    if (len == 7 + 64 && memcmp(s, "sha256:", 7) == 0)
        return og_is_lower_hex(s + 7, 64);
    if (len == 7 + 128 && memcmp(s, "sha512:", 7) == 0)
        return og_is_lower_hex(s + 7, 128);
    return false;
}

/* [A-Za-z0-9._-]{1,256} with at least one alphanumeric. */
static bool upload_id_is_valid(const char *s, size_t len)
{
    bool has_alnum = false;

    if (len == 0 || len > OG_REF_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum(c))
            has_alnum = true;
        else if (c != '.' && c != '_' && c != '-')
            return false;
    }
    return has_alnum;
}

/* ---- methods ------------------------------------------------------------ */

static const char *const method_names[] = {
    [OG_M_OTHER] = "OTHER",   [OG_M_GET] = "GET",     [OG_M_HEAD] = "HEAD",
    [OG_M_POST] = "POST",     [OG_M_PUT] = "PUT",     [OG_M_PATCH] = "PATCH",
    [OG_M_DELETE] = "DELETE", [OG_M_OPTIONS] = "OPTIONS",
};

#define METHOD_COUNT (sizeof method_names / sizeof method_names[0])

enum og_method og_method_parse(const char *s, size_t len)
{
    if (s == NULL)
        return OG_M_OTHER;
    for (size_t m = OG_M_GET; m < METHOD_COUNT; m++)
        if (span_equals(span_of(s, len), method_names[m]))
            return (enum og_method)m;
    return OG_M_OTHER;
}

const char *og_method_name(enum og_method m)
{
    if ((size_t)m >= METHOD_COUNT)
        return method_names[OG_M_OTHER];
    return method_names[m];
}

#define M(m) (1u << (m))
#define READS (M(OG_M_GET) | M(OG_M_HEAD))

static unsigned base_action_of(enum og_method m)
{
    switch (m) {
    case OG_M_GET:
    case OG_M_HEAD:
        return OG_ACT_READ;
    case OG_M_POST:
    case OG_M_PUT:
    case OG_M_PATCH:
        return OG_ACT_CREATE;
    case OG_M_DELETE:
        return OG_ACT_DELETE;
    default:
        return OG_ACT_NONE;
    }
}

static unsigned methods_allowed_on(enum og_route_kind kind)
{
    switch (kind) {
    case OG_R_PING:
    case OG_R_CATALOG:
    case OG_R_TAGS_LIST:
    case OG_R_REFERRERS:
        return READS;
    case OG_R_MANIFEST:
        return READS | M(OG_M_PUT) | M(OG_M_DELETE);
    case OG_R_BLOB:
        return READS | M(OG_M_DELETE);
    case OG_R_UPLOAD_START:
        return M(OG_M_POST);
    case OG_R_UPLOAD:
        return READS | M(OG_M_PATCH) | M(OG_M_PUT) | M(OG_M_DELETE);
    default:
        return 0;
    }
}

/* ---- refusals ----------------------------------------------------------- */

/*
 * Refuse: wipe every classified field, keep only what was read before the
 * judgement (method, path), so a refused struct carries no half-parsed route.
 */
static void refuse(struct og_route *out, int status, const char *reason)
{
    enum og_method method = out->method;
    const char *path = out->path;
    size_t path_len = out->path_len;

    memset(out, 0, sizeof *out);
    out->method = method;
    out->path = path;
    out->path_len = path_len;
    out->kind = OG_R_NONE;
    out->status = status;
    out->reason = reason;
}

/* ---- the target as bytes ------------------------------------------------ */

/* Bytes no request target may hold anywhere (path or query). */
static const char *target_byte_fault(const char *uri, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c == 0)
            return "NUL byte in request target";
        if (og_is_control(c))
            return "control byte in request target";
        if (c == ' ')
            return "space in request target";
        if (c >= 0x80)
            return "non-ASCII byte in request target";
        if (c == '#')
            return "fragment in request target";
    }
    return NULL;
}

static const char *path_byte_fault(struct span path)
{
    for (size_t i = 0; i < path.n; i++) {
        unsigned char c = (unsigned char)path.p[i];
        if (is_path_byte(c))
            continue;
        if (c == '%')
            return "percent-escape in path";
        if (c == ';')
            return "semicolon in path";
        if (c == '\\')
            return "backslash in path";
        return "forbidden character in path";
    }
    return NULL;
}

/* "//" anywhere, or a "." / ".." segment. A trailing '/' is fine. */
static const char *path_segment_fault(struct span path)
{
    size_t start = 1; /* path.p[0] == '/' */

    for (size_t i = 1; i <= path.n; i++) {
        if (i < path.n && path.p[i] != '/')
            continue;
        struct span seg = span_of(path.p + start, i - start);
        if (seg.n == 0 && i < path.n)
            return "empty path segment";
        if (span_equals(seg, ".") || span_equals(seg, ".."))
            return "dot segment";
        start = i + 1;
    }
    return NULL;
}

/* ---- the /v2/ endpoint table -------------------------------------------- */

enum ref_kind { REF_NONE, REF_MANIFEST, REF_DIGEST, REF_UPLOAD_ID };

/* rest = NAME + middle [+ REF], REF being one non-empty segment. */
struct shape {
    enum og_route_kind kind;
    const char *middle;
    enum ref_kind ref;
};

static const struct shape endpoint_shapes[] = {
    { OG_R_TAGS_LIST, "/tags/list", REF_NONE },
    { OG_R_MANIFEST, "/manifests/", REF_MANIFEST },
    { OG_R_BLOB, "/blobs/", REF_DIGEST },
    { OG_R_UPLOAD_START, "/blobs/uploads/", REF_NONE },
    { OG_R_UPLOAD, "/blobs/uploads/", REF_UPLOAD_ID },
    { OG_R_REFERRERS, "/referrers/", REF_DIGEST },
};

struct match {
    enum og_route_kind kind;
    struct span name;
    struct span ref;
    bool ref_is_digest;
    bool bad_manifest_ref;      /* a manifest shape, valid name, invalid reference */
};

/* Does rest have this shape? Fills name/ref; says nothing about grammar. */
static bool rest_has_shape(struct span rest, const struct shape *sh, struct match *m)
{
    struct span head = rest;

    m->kind = sh->kind;
    m->ref = span_of(rest.p + rest.n, 0);
    m->ref_is_digest = false;
    m->bad_manifest_ref = false;
    if (sh->ref != REF_NONE) {
        const char *slash = span_last_byte(rest, '/');
        if (slash == NULL)
            return false;
        head = span_of(rest.p, (size_t)(slash - rest.p) + 1);
        m->ref = span_of(slash + 1, rest.n - head.n);
        if (m->ref.n == 0)
            return false;
    }
    if (!span_ends_with(head, sh->middle))
        return false;
    m->name = span_of(head.p, head.n - strlen(sh->middle));
    return m->name.n > 0;
}

/* NULL when the shape's name and reference obey the grammar, else why not. */
static const char *match_grammar_fault(const struct shape *sh, struct match *m)
{
    const char *fault = repo_fault(m->name.p, m->name.n);

    if (fault != NULL)
        return fault;
    switch (sh->ref) {
    case REF_MANIFEST:
        if (span_contains_byte(m->ref, ':')) {
            m->ref_is_digest = true;
            fault = og_valid_digest(m->ref.p, m->ref.n) ? NULL : "invalid digest";
        } else {
            fault = og_valid_tag(m->ref.p, m->ref.n) ? NULL : "invalid tag";
        }
        m->bad_manifest_ref = fault != NULL;
        return fault;
    case REF_DIGEST:
        m->ref_is_digest = true;
        return og_valid_digest(m->ref.p, m->ref.n) ? NULL : "invalid digest";
    case REF_UPLOAD_ID:
        return upload_id_is_valid(m->ref.p, m->ref.n) ? NULL : "invalid upload id";
    default:
        return NULL;
    }
}

/*
 * Match rest (the path after "/v2/") against every shape. Exactly one valid
 * parse: filled into *found, returns 0. Otherwise a status and *reason:
 * 404 when no shape fits, 400 when shapes fit but break the grammar or when
 * more than one parse is valid. *only_bad_manifest_ref: the 400 comes from
 * manifest shapes alone, each with a valid name and an invalid reference.
 */
static int resolve_endpoint(struct span rest, struct match *found, const char **reason,
                            bool *only_bad_manifest_ref)
{
    size_t nshaped = 0, nvalid = 0, nbadref = 0;
    const char *first_fault = NULL;

    *only_bad_manifest_ref = false;
    if (rest.n > 0 && rest.p[0] == '_') {
        /* The registry's own namespace: only _catalog is ours to pass. */
        if (span_equals(rest, "_catalog")) {
            memset(found, 0, sizeof *found);
            found->kind = OG_R_CATALOG;
            return 0;
        }
        *reason = "unknown endpoint";
        return 404;
    }
    for (size_t i = 0; i < sizeof endpoint_shapes / sizeof endpoint_shapes[0]; i++) {
        const struct shape *sh = &endpoint_shapes[i];
        struct match m;

        if (!rest_has_shape(rest, sh, &m))
            continue;
        nshaped++;
        const char *fault = match_grammar_fault(sh, &m);
        if (fault != NULL) {
            if (first_fault == NULL)
                first_fault = fault;
            if (m.bad_manifest_ref)
                nbadref++;
            continue;
        }
        if (nvalid++ == 0)
            *found = m;
    }
    if (nvalid > 1) {
        *reason = "ambiguous route";
        return 400;
    }
    if (nvalid == 1)
        return 0;
    if (nshaped > 0) {
        *reason = first_fault;
        *only_bad_manifest_ref = nbadref == nshaped;
        return 400;
    }
    *reason = "unknown endpoint";
    return 404;
}

/* ---- the query ---------------------------------------------------------- */

enum qkey {
    Q_MOUNT, Q_FROM, Q_DIGEST, Q_TAG, Q_N, Q_LAST, Q_ARTIFACT_TYPE, Q_STATE,
    Q_UNKNOWN,
};

static const char *const query_key_names[] = {
    [Q_MOUNT] = "mount", [Q_FROM] = "from", [Q_DIGEST] = "digest",
    [Q_TAG] = "tag",     [Q_N] = "n",       [Q_LAST] = "last",
    [Q_ARTIFACT_TYPE] = "artifactType",     [Q_STATE] = "_state",
};

#define Q(k) (1u << (k))

/* The keys that mean something for this route and method; others are ignored. */
static unsigned query_keys_used_by(const struct og_route *r)
{
    switch (r->kind) {
    case OG_R_CATALOG:
    case OG_R_TAGS_LIST:
        return Q(Q_N) | Q(Q_LAST);
    case OG_R_UPLOAD_START:
        return Q(Q_MOUNT) | Q(Q_FROM) | Q(Q_DIGEST);
    case OG_R_UPLOAD:
        return Q(Q_STATE) | (r->method == OG_M_PUT ? Q(Q_DIGEST) : 0);
    case OG_R_MANIFEST:
        return r->method == OG_M_PUT ? Q(Q_TAG) : 0;
    case OG_R_REFERRERS:
        return Q(Q_ARTIFACT_TYPE);
    default:
        return 0;
    }
}

/*
 * The query as a whole: no ';' (some servers split pairs on it), every '%'
 * followed by two hex digits, and no escape that decodes to a control byte.
 * After this, decoding cannot fail except by running out of room.
 */
static const char *query_byte_fault(struct span q)
{
    for (size_t i = 0; i < q.n; i++) {
        if (q.p[i] == ';')
            return "semicolon in query";
        if (q.p[i] != '%')
            continue;
        if (q.n - i < 3 || og_hex_value((unsigned char)q.p[i + 1]) < 0 ||
            og_hex_value((unsigned char)q.p[i + 2]) < 0)
            return "malformed percent-escape in query";
        unsigned char c = (unsigned char)(og_hex_value((unsigned char)q.p[i + 1]) * 16 +
                                          og_hex_value((unsigned char)q.p[i + 2]));
        if (og_is_control(c))
            return "control byte in query";
        i += 2;
    }
    return NULL;
}

/*
 * Percent-decode an already-checked query component into dst (room for cap
 * bytes plus a NUL). '+' stays '+'. Returns false when it does not fit.
 */
static bool decode_fits(struct span s, char *dst, size_t cap, size_t *len)
{
    size_t o = 0;

    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '%' && s.n - i >= 3) {
            c = (char)(og_hex_value((unsigned char)s.p[i + 1]) * 16 +
                       og_hex_value((unsigned char)s.p[i + 2]));
            i += 2;
        }
        if (o == cap)
            return false;
        dst[o++] = c;
    }
    dst[o] = '\0';
    *len = o;
    return true;
}

static enum qkey query_key_named(const char *name, size_t len)
{
    for (size_t k = 0; k < Q_UNKNOWN; k++)
        if (span_equals(span_of(name, len), query_key_names[k]))
            return (enum qkey)k;
    return Q_UNKNOWN;
}

static bool is_short_decimal(const char *s, size_t len)
{
    if (len < 1 || len > 6)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_digit((unsigned char)s[i]))
            return false;
    return true;
}

static bool tags_already_hold(const struct og_route *r, const char *tag, size_t len)
{
    for (size_t i = 0; i < r->ntags; i++)
        if (strlen(r->tags[i]) == len && memcmp(r->tags[i], tag, len) == 0)
            return true;
    return false;
}

/* Take one meaningful key=value into *r. NULL on success, else why not. */
static const char *take_query_value(struct og_route *r, enum qkey key, struct span raw)
{
    char buf[OG_REPO_MAX + 1];
    size_t len = 0;

    switch (key) {
    case Q_MOUNT:
        if (!decode_fits(raw, r->mount, OG_DIGEST_MAX, &len) || !og_valid_digest(r->mount, len))
            return "invalid mount parameter";
        r->has_mount = true;
        return NULL;
    case Q_FROM:
        if (!decode_fits(raw, r->from, OG_REPO_MAX, &len) || !og_valid_repo(r->from, len))
            return "invalid from parameter";
        r->from_len = len;
        r->has_from = true;
        return NULL;
    case Q_DIGEST:
        if (!decode_fits(raw, buf, OG_DIGEST_MAX, &len) || !og_valid_digest(buf, len))
            return "invalid digest parameter";
        r->has_digest = true;
        return NULL;
    case Q_TAG:
        if (!r->ref_is_digest)
            return "tag parameter on a put by tag";
        if (!decode_fits(raw, buf, OG_TAG_MAX, &len) || !og_valid_tag(buf, len))
            return "invalid tag parameter";
        if (tags_already_hold(r, buf, len))
            return NULL;
        if (r->ntags == OG_MAX_TAGS)
            return "too many tags";
        memcpy(r->tags[r->ntags++], buf, len + 1);
        return NULL;
    case Q_N:
        if (!decode_fits(raw, buf, 6, &len) || !is_short_decimal(buf, len))
            return "invalid n parameter";
        return NULL;
    case Q_LAST:
        if (!decode_fits(raw, buf, OG_REPO_MAX, &len))
            return "invalid last parameter";
        if (r->kind == OG_R_CATALOG ? !og_valid_repo(buf, len) : !og_valid_tag(buf, len))
            return "invalid last parameter";
        return NULL;
    default:
        /* artifactType, _state: opaque; query_byte_fault already judged the bytes. */
        return NULL;
    }
}

static const char *query_fault(struct og_route *r, struct span q)
{
    unsigned used = query_keys_used_by(r), seen = 0;
    const char *fault = query_byte_fault(q);
    size_t i = 0;

    if (fault != NULL)
        return fault;
    while (i < q.n) {
        const char *amp = memchr(q.p + i, '&', q.n - i);
        size_t end = amp ? (size_t)(amp - q.p) : q.n;
        struct span pair = span_of(q.p + i, end - i);
        const char *eq = pair.n ? memchr(pair.p, '=', pair.n) : NULL;
        struct span rawkey = span_of(pair.p, eq ? (size_t)(eq - pair.p) : pair.n);
        struct span value = eq ? span_of(eq + 1, pair.n - rawkey.n - 1) : span_of(pair.p + pair.n, 0);
        char keybuf[16];
        size_t keylen = 0;

        i = end + 1;
        if (pair.n == 0)
            continue;
        if (!decode_fits(rawkey, keybuf, sizeof keybuf - 1, &keylen))
            continue; /* longer than any key we know */
        enum qkey key = query_key_named(keybuf, keylen);
        if (key == Q_UNKNOWN || !(used & Q(key)))
            continue;
        if (span_contains_byte(rawkey, '%'))
            return "percent-escape in query key";
        if (key != Q_TAG && (seen & Q(key)))
            return "duplicate query parameter";
        seen |= Q(key);
        fault = take_query_value(r, key, value);
        if (fault != NULL)
            return fault;
    }
    if (r->has_from && !r->has_mount)
        return "from without mount";
    return NULL;
}

/* ---- content type ------------------------------------------------------- */

static bool is_space_or_tab(char c) { return c == ' ' || c == '\t'; }

static bool media_type_is(struct span mt, const char *lit)
{
    size_t n = strlen(lit);

    if (mt.n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(mt.p[i]) != lit[i])
            return false;
    return true;
}

/*
 * Is any comma-separated element of the Content-Type a form media type?
 * (A server that joins repeated headers must not hide one behind another.)
 */
static bool content_type_is_form(const char *ct, size_t len)
{
    size_t i = 0;

    if (ct == NULL)
        return false;
    while (i < len) {
        const char *comma = memchr(ct + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - ct) : len;
        size_t s = i, e;

        while (s < end && is_space_or_tab(ct[s]))
            s++;
        e = s;
        while (e < end && ct[e] != ';')
            e++;
        while (e > s && is_space_or_tab(ct[e - 1]))
            e--;
        struct span mt = span_of(ct + s, e - s);
        if (media_type_is(mt, "application/x-www-form-urlencoded") ||
            media_type_is(mt, "multipart/form-data"))
            return true;
        i = end + 1;
    }
    return false;
}

static bool is_upload_write(const struct og_route *r)
{
    return r->kind == OG_R_UPLOAD_START ||
           (r->kind == OG_R_UPLOAD && (r->method == OG_M_PATCH || r->method == OG_M_PUT));
}

/* ---- classification ----------------------------------------------------- */

static void copy_span(char *dst, size_t cap, struct span s)
{
    size_t n = s.n < cap ? s.n : cap;

    if (n > 0)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void fill_route(struct og_route *out, const struct match *m)
{
    out->kind = m->kind;
    out->action = base_action_of(out->method);
    copy_span(out->repo, OG_REPO_MAX, m->name);
    out->repo_len = m->name.n;
    copy_span(out->reference, OG_REF_MAX, m->ref);
    out->ref_is_digest = m->ref_is_digest;
    if (m->kind == OG_R_MANIFEST && out->method == OG_M_PUT && !m->ref_is_digest) {
        copy_span(out->tags[0], OG_TAG_MAX, m->ref);
        out->ntags = 1;
    }
}

void og_route_classify(const char *method, size_t method_len,
                       const char *uri, size_t uri_len,
                       const char *content_type, size_t content_type_len,
                       struct og_route *out)
{
    struct span target, path, query, rest;
    struct match m;
    const char *fault = NULL;
    bool bad_manifest_ref = false;
    int status;

    memset(out, 0, sizeof *out);
    out->path = "";
    out->method = og_method_parse(method, method_len);

    /* 1. the target as bytes */
    if (uri_len > OG_URI_MAX) {
        refuse(out, 400, "request target too long");
        return;
    }
    if (uri == NULL || uri_len == 0 || uri[0] != '/') {
        refuse(out, 400, "request target not in origin-form");
        return;
    }
    target = span_of(uri, uri_len);
    const char *qmark = memchr(uri, '?', uri_len);
    path = span_of(uri, qmark ? (size_t)(qmark - uri) : uri_len);
    query = qmark ? span_of(qmark + 1, uri_len - path.n - 1) : span_of(uri + uri_len, 0);
    out->path = path.p;
    out->path_len = path.n;
    if ((fault = target_byte_fault(target.p, target.n)) != NULL ||
        (fault = path_byte_fault(path)) != NULL ||
        (fault = path_segment_fault(path)) != NULL) {
        refuse(out, 400, fault);
        return;
    }

    /* 2. the method */
    if (out->method == OG_M_OTHER) {
        refuse(out, 405, "unsupported method");
        return;
    }
    if (out->method == OG_M_OPTIONS) {
        out->kind = OG_R_OPTIONS;
        return;
    }

    /* 3. outside /v2 */
    if (span_equals(path, "/v2") || span_equals(path, "/v2/")) {
        memset(&m, 0, sizeof m);
        m.kind = OG_R_PING;
    } else if (path.n > 4 && memcmp(path.p, "/v2/", 4) == 0) {
        /* 4. the closed endpoint table */
        rest = span_of(path.p + 4, path.n - 4);
        status = resolve_endpoint(rest, &m, &fault, &bad_manifest_ref);
        if (status != 0 && bad_manifest_ref &&
            (out->method == OG_M_GET || out->method == OG_M_HEAD)) {
            /* A read of a manifest no reference grammar allows: nothing can
               exist there, so 404 MANIFEST_UNKNOWN, as registries answer
               (the OCI conformance suite asks for it). Writes stay 400. */
            refuse(out, 404, "invalid manifest reference: no manifest can exist there");
            out->error_code = "MANIFEST_UNKNOWN";
            return;
        }
        if (status != 0) {
            refuse(out, status, fault);
            return;
        }
    } else {
        out->kind = OG_R_OUTSIDE;
        out->action = base_action_of(out->method);
        return;
    }

    /* 5. the method for that endpoint */
    if (!(methods_allowed_on(m.kind) & M(out->method))) {
        refuse(out, 405, "method not allowed");
        return;
    }
    fill_route(out, &m);

    /* 6. the query */
    if ((fault = query_fault(out, query)) != NULL) {
        refuse(out, 400, fault);
        return;
    }

    /* 7. a form body could smuggle mount/from past us */
    if (is_upload_write(out) && content_type_is_form(content_type, content_type_len)) {
        refuse(out, 400, "form content type on upload");
        return;
    }
}
