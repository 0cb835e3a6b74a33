/*
 * config.c - read the ocigate config file (doc/config.md) into struct og_config.
 *
 * The schema is a set of small field tables, one per JSON object: each row
 * names a key and the function that reads its value. parse_object() walks an
 * object against its table, so an unknown key anywhere is an error naming its
 * JSON path, e.g.
 *   ocigate.json: accessControl.repositories["**"].policies[0].actions[1]: unknown action "write"
 * The first problem stops the parse; everything allocated so far hangs off
 * the half-built config and og_config_free() releases it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "action.h"
#include "cel.h"
#include "buf.h"
#include "cel.h"
#include "condition.h"
#include "decide.h"
#include "text.h"
#include "glob.h"
#include "globindex.h"
#include "hostport.h"

#define CONFIG_FILE_MAX   (4u << 20)   /* a config larger than 4 MiB is a mistake */
#define SECRET_FILE_MAX   (64u << 10)

/* ------------------------------------------------------------------------ */
/* The parser: where we are in the document, and where errors go.            */

struct parser {
    const char *fname;
    char *err;
    size_t errlen;
    char path_text[2048];
    struct og_buf path;     /* the JSON path of the value being read, in path_text */
};

static bool fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(struct parser *p, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err && p->errlen) {
        if (p->path.len)
            snprintf(p->err, p->errlen, "%s: %s: %s", p->fname, p->path_text, msg);
        else
            snprintf(p->err, p->errlen, "%s: %s", p->fname, msg);
    }
    return false;
}

static bool fail_out_of_memory(struct parser *p)
{
    return fail(p, "out of memory");
}

static bool key_is_identifier(const char *k)
{
    if (!(*k == '_' || (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z')))
        return false;
    for (k++; *k; k++)
        if (!(*k == '_' || (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
              (*k >= '0' && *k <= '9')))
            return false;
    return true;
}

/* Appends ["key"] (quoted like JSON) and returns the old length for path_pop. */
static size_t path_push_quoted(struct parser *p, const char *key)
{
    size_t saved = p->path.len;

    og_buf_put(&p->path, "[", 1);
    og_buf_json(&p->path, key, SIZE_MAX);
    og_buf_put(&p->path, "]", 1);
    return saved;
}

/* Appends .key (or ["key"] when it is not a plain identifier). */
static size_t path_push_key(struct parser *p, const char *key)
{
    size_t saved = p->path.len;

    if (!key_is_identifier(key))
        return path_push_quoted(p, key);
    if (p->path.len)
        og_buf_put(&p->path, ".", 1);
    og_buf_puts(&p->path, key);
    return saved;
}

static size_t path_push_index(struct parser *p, size_t i)
{
    size_t saved = p->path.len;

    og_buf_printf(&p->path, "[%zu]", i);
    return saved;
}

static void path_pop(struct parser *p, size_t saved)
{
    og_buf_rewind(&p->path, saved);
}

/* ------------------------------------------------------------------------ */
/* Objects against field tables.                                             */

typedef bool field_reader(struct parser *p, json_t *v, void *target);

struct field {
    const char *name;
    field_reader *read;
    const char *required;   /* NULL: optional; else the text after "required" */
};

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static bool must_be_object(struct parser *p, json_t *v)
{
    if (json_is_object(v))
        return true;
    return fail(p, "must be an object, not %s", json_type_name(v));
}

static bool must_be_array(struct parser *p, json_t *v)
{
    if (json_is_array(v))
        return true;
    return fail(p, "must be an array, not %s", json_type_name(v));
}

static const struct field *find_field(const struct field *fields, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, key) == 0)
            return &fields[i];
    return NULL;
}

static bool parse_object(struct parser *p, json_t *obj, const struct field *fields,
                         size_t nfields, void *target)
{
    const char *key;
    json_t *v;

    if (!must_be_object(p, obj))
        return false;
    json_object_foreach(obj, key, v) {
        const struct field *f = find_field(fields, nfields, key);
        size_t saved = path_push_key(p, key);

        if (!f)
            return fail(p, "unknown key");
        if (!f->read(p, v, target))
            return false;
        path_pop(p, saved);
    }
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].required && !json_object_get(obj, fields[i].name)) {
            path_push_key(p, fields[i].name);
            return fail(p, "required%s", fields[i].required);
        }
    }
    return true;
}

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* ------------------------------------------------------------------------ */
/* Scalars.                                                                  */

static bool read_int(struct parser *p, json_t *v, long long min, long long max, int *dst)
{
    long long x;

    if (!json_is_integer(v))
        return fail(p, "must be an integer, not %s", json_type_name(v));
    x = json_integer_value(v);
    if (x < min || x > max)
        return fail(p, "%lld is out of range (%lld..%lld)", x, min, max);
    *dst = (int)x;
    return true;
}

static bool read_bool(struct parser *p, json_t *v, bool *dst)
{
    if (!json_is_boolean(v))
        return fail(p, "must be true or false, not %s", json_type_name(v));
    *dst = json_is_true(v);
    return true;
}

static bool replace_string(struct parser *p, char **dst, const char *s, size_t len)
{
    char *copy = strndup(s, len);

    if (!copy)
        return fail_out_of_memory(p);
    free(*dst);
    *dst = copy;
    return true;
}

/* Any non-empty string. */
static bool read_string(struct parser *p, json_t *v, char **dst)
{
    if (!json_is_string(v))
        return fail(p, "must be a string, not %s", json_type_name(v));
    if (json_string_length(v) == 0)
        return fail(p, "must not be empty");
    return replace_string(p, dst, json_string_value(v), json_string_length(v));
}

/* Text that ends up inside a quoted HTTP header parameter (realm="..."). */
static bool is_header_safe(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (!og_is_printable_ascii(*c) || *c == '"' || *c == '\\')
            return false;
    return true;
}

static bool read_header_string(struct parser *p, json_t *v, char **dst)
{
    if (!read_string(p, v, dst))
        return false;
    if (!is_header_safe(*dst))
        return fail(p, "may hold only printable ASCII without '\"' or '\\' (it is sent in a header)");
    return true;
}

static bool read_url_path(struct parser *p, json_t *v, char **dst)
{
    if (!read_string(p, v, dst))
        return false;
    if ((*dst)[0] != '/' || !is_header_safe(*dst) || strpbrk(*dst, " ?#"))
        return fail(p, "must be a path starting with '/' (no spaces, query or fragment)");
    return true;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool read_one_of(struct parser *p, json_t *v, const char *const *choices, int *index)
{
    if (!json_is_string(v))
        return fail(p, "must be a string, not %s", json_type_name(v));
    for (int i = 0; choices[i]; i++) {
        if (strcmp(json_string_value(v), choices[i]) == 0) {
            *index = i;
            return true;
        }
    }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    return fail(p, "\"%s\" is not one of %s", json_string_value(v), list);
}

/* A secret kept in a file: read it whole, drop one trailing newline. */
static bool read_secret_file(struct parser *p, json_t *v, char **dst)
{
    char *path = NULL, *buf = NULL;
    size_t len = 0;
    FILE *fp = NULL;
    bool ok = false;

    if (!read_string(p, v, &path))
        return false;
    fp = fopen(path, "rb");
    if (!fp) {
        fail(p, "cannot read \"%s\": %s", path, strerror(errno));
        goto done;
    }
    buf = malloc(SECRET_FILE_MAX + 1);
    if (!buf) {
        fail_out_of_memory(p);
        goto done;
    }
    len = fread(buf, 1, SECRET_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        fail(p, "cannot read \"%s\": %s", path, strerror(errno));
        goto done;
    }
    if (len > SECRET_FILE_MAX) {
        fail(p, "\"%s\" is larger than %u bytes", path, SECRET_FILE_MAX);
        goto done;
    }
    if (len && buf[len - 1] == '\n')
        len--;
    if (len && buf[len - 1] == '\r')
        len--;
    if (len == 0 || memchr(buf, '\0', len)) {
        fail(p, "\"%s\" holds no usable secret (empty or binary)", path);
        goto done;
    }
    ok = replace_string(p, dst, buf, len);
done:
    if (buf) {
        memset(buf, 0, SECRET_FILE_MAX + 1);
        free(buf);
    }
    if (fp)
        fclose(fp);
    free(path);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Lists.                                                                    */

static void strlist_free(struct og_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static bool strlist_add(struct parser *p, struct og_strlist *l, const char *s, size_t len)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);

    if (!v)
        return fail_out_of_memory(p);
    l->v = v;
    l->v[l->n] = strndup(s, len);
    if (!l->v[l->n])
        return fail_out_of_memory(p);
    l->n++;
    return true;
}

/* Array of strings; "" allowed when allow_empty_strings (users: "" = anonymous). */
static bool read_strlist(struct parser *p, json_t *v, struct og_strlist *dst,
                         bool allow_empty_strings)
{
    size_t i;
    json_t *e;

    if (!must_be_array(p, v))
        return false;
    strlist_free(dst);
    json_array_foreach(v, i, e) {
        size_t saved = path_push_index(p, i);

        if (!json_is_string(e))
            return fail(p, "must be a string, not %s", json_type_name(e));
        if (!allow_empty_strings && json_string_length(e) == 0)
            return fail(p, "must not be empty");
        if (!strlist_add(p, dst, json_string_value(e), json_string_length(e)))
            return false;
        path_pop(p, saved);
    }
    return true;
}

/* ["read", "create", ...] -> OG_ACT_* mask. Unknown names are an error (zot ignores them). */
static bool read_actions(struct parser *p, json_t *v, unsigned *mask)
{
    size_t i;
    json_t *e;

    if (!must_be_array(p, v))
        return false;
    *mask = 0;
    json_array_foreach(v, i, e) {
        size_t saved = path_push_index(p, i);
        unsigned a;

        if (!json_is_string(e))
            return fail(p, "must be a string, not %s", json_type_name(e));
        a = og_action_parse(json_string_value(e), json_string_length(e));
        if (a == OG_ACT_NONE)
            return fail(p, "unknown action \"%s\"", json_string_value(e));
        *mask |= a;
        path_pop(p, saved);
    }
    return true;
}

static bool compile_glob(struct parser *p, const char *s, size_t len, struct og_glob **dst)
{
    char gerr[256] = "";

    if (len == 0)
        return fail(p, "empty pattern (it would match nothing; use \"**\" for everything)");
    *dst = og_glob_compile(s, len, gerr, sizeof gerr);
    if (!*dst)
        return fail(p, "invalid pattern: %s", gerr[0] ? gerr : "cannot compile");
    return true;
}

/* Array of glob strings, at least one. */
static bool read_globs(struct parser *p, json_t *v, struct og_glob ***dst, size_t *n)
{
    size_t i;
    json_t *e;

    if (!must_be_array(p, v))
        return false;
    if (json_array_size(v) == 0)
        return fail(p, "must hold at least one pattern");
    *dst = calloc(json_array_size(v), sizeof **dst);
    if (!*dst)
        return fail_out_of_memory(p);
    json_array_foreach(v, i, e) {
        size_t saved = path_push_index(p, i);

        if (!json_is_string(e))
            return fail(p, "must be a string, not %s", json_type_name(e));
        if (!compile_glob(p, json_string_value(e), json_string_length(e), &(*dst)[i]))
            return false;
        (*n)++;
        path_pop(p, saved);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Top-level sections (target: struct og_config).                            */

#define CFG(t) ((struct og_config *)(t))

static bool read_realm(struct parser *p, json_t *v, void *t)
{
    return read_header_string(p, v, &CFG(t)->realm);
}

static bool read_workers(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 256, &CFG(t)->workers);
}

static bool read_registry_url(struct parser *p, json_t *v, void *t)
{
    char **url = &CFG(t)->registry_url;
    size_t len;

    if (!read_string(p, v, url))
        return false;
    if (!starts_with(*url, "http://") && !starts_with(*url, "https://"))
        return fail(p, "must start with http:// or https://");
    if (!is_header_safe(*url) || strchr(*url, ' '))
        return fail(p, "must be a plain URL (printable ASCII, no spaces or quotes)");
    len = strlen(*url);
    size_t scheme_len = (size_t)(strchr(*url, ':') - *url) + 3;   /* "http://" */
    while (len > scheme_len && (*url)[len - 1] == '/')
        (*url)[--len] = '\0';
    if (len == scheme_len || (*url)[scheme_len] == '/')
        return fail(p, "names no host");
    return true;
}

static bool read_registry_timeout(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 600000, &CFG(t)->registry_timeout_ms);
}

static bool read_registry_write_timeout(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 600000, &CFG(t)->registry_write_timeout_ms);
}

static bool read_registry_automatic_mount(struct parser *p, json_t *v, void *t)
{
    return read_bool(p, v, &CFG(t)->registry_automatic_mount);
}

static const struct field registry_fields[] = {
    { "url", read_registry_url, NULL },
    { "timeoutMs", read_registry_timeout, NULL },
    { "writeTimeoutMs", read_registry_write_timeout, NULL },
    { "automaticMount", read_registry_automatic_mount, NULL },
};

static bool read_registry(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, registry_fields, NFIELDS(registry_fields), t);
}

static bool read_redis_url(struct parser *p, json_t *v, void *t)
{
    char **url = &CFG(t)->redis_url;

    if (!read_string(p, v, url))
        return false;
    if (!starts_with(*url, "redis://") && !starts_with(*url, "unix:"))
        return fail(p, "must start with redis:// or unix:");
    return true;
}

static bool read_redis_prefix(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &CFG(t)->redis_prefix);
}

static bool read_redis_timeout(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 600000, &CFG(t)->redis_timeout_ms);
}

static bool read_redis_password(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &CFG(t)->redis_password);
}

static bool read_redis_password_file(struct parser *p, json_t *v, void *t)
{
    CFG(t)->redis_password_from_file = true;
    return read_secret_file(p, v, &CFG(t)->redis_password);
}

#define MAX_SENTINELS 16

static bool read_redis_sentinels(struct parser *p, json_t *v, void *t)
{
    struct og_strlist *l = &CFG(t)->redis_sentinels;
    char host[OG_HOST_MAX];
    int port;

    if (!read_strlist(p, v, l, false))
        return false;
    if (l->n == 0 || l->n > MAX_SENTINELS)
        return fail(p, "must hold 1..%d addresses", MAX_SENTINELS);
    for (size_t i = 0; i < l->n; i++) {
        if (!og_hostport_parse(l->v[i], strlen(l->v[i]), host, &port)) {
            size_t saved = path_push_index(p, i);
            fail(p, "\"%s\" is not HOST:PORT or [IPV6]:PORT", l->v[i]);
            path_pop(p, saved);
            return false;
        }
    }
    return true;
}

static bool read_redis_master_name(struct parser *p, json_t *v, void *t)
{
    char **name = &CFG(t)->redis_master_name;

    if (!read_string(p, v, name))
        return false;
    if (strlen(*name) > 128 || !is_header_safe(*name) || strchr(*name, ' '))
        return fail(p, "must be 1..128 printable ASCII characters without spaces or quotes");
    return true;
}

static bool read_redis_db(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 100000, &CFG(t)->redis_db);
}

static bool read_redis_min_replicas(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 16, &CFG(t)->redis_min_replicas);
}

/* An ACL user name: it is sent as one argument and printed by check. */
static bool read_acl_user(struct parser *p, json_t *v, char **dst)
{
    if (!read_string(p, v, dst))
        return false;
    if (strlen(*dst) > 128 || !is_header_safe(*dst) || strchr(*dst, ' '))
        return fail(p, "must be 1..128 printable ASCII characters without spaces or quotes");
    return true;
}

static bool read_redis_username(struct parser *p, json_t *v, void *t)
{
    return read_acl_user(p, v, &CFG(t)->redis_username);
}

static bool read_redis_sentinel_username(struct parser *p, json_t *v, void *t)
{
    return read_acl_user(p, v, &CFG(t)->redis_sentinel_username);
}

static bool read_redis_sentinel_password_file(struct parser *p, json_t *v, void *t)
{
    return read_secret_file(p, v, &CFG(t)->redis_sentinel_password);
}

static const struct field redis_fields[] = {
    { "url", read_redis_url, NULL },
    { "prefix", read_redis_prefix, NULL },
    { "timeoutMs", read_redis_timeout, NULL },
    { "password", read_redis_password, NULL },
    { "passwordFile", read_redis_password_file, NULL },
    { "sentinels", read_redis_sentinels, NULL },
    { "masterName", read_redis_master_name, NULL },
    { "db", read_redis_db, NULL },
    { "minReplicas", read_redis_min_replicas, NULL },
    { "username", read_redis_username, NULL },
    { "sentinelUsername", read_redis_sentinel_username, NULL },
    { "sentinelPasswordFile", read_redis_sentinel_password_file, NULL },
};

static bool one_of_inline_or_file(struct parser *p, json_t *obj, const char *inline_key,
                                  const char *file_key)
{
    if (json_object_get(obj, inline_key) && json_object_get(obj, file_key))
        return fail(p, "give \"%s\" or \"%s\", not both", inline_key, file_key);
    return true;
}

/* How the redis keys go together: url or sentinels, and what each form needs. */
static bool check_redis_form(struct parser *p, json_t *v, struct og_config *cfg)
{
    bool sentinels = json_object_get(v, "sentinels") != NULL;
    const char *url = json_object_get(v, "url") ? cfg->redis_url : NULL;

    if (sentinels && url)
        return fail(p, "give \"url\" or \"sentinels\", not both");
    if (sentinels && !cfg->redis_master_name)
        return fail(p, "\"sentinels\" needs \"masterName\" (the name the sentinels "
                       "monitor the master by)");
    if (!sentinels && cfg->redis_master_name)
        return fail(p, "\"masterName\" is used only with \"sentinels\"");
    if (!sentinels && json_object_get(v, "db"))
        return fail(p, "\"db\" is used only with \"sentinels\" (with \"url\" the "
                       "database is in the URL)");
    if (cfg->redis_sentinel_username && !cfg->redis_sentinel_password)
        return fail(p, "\"sentinelUsername\" needs \"sentinelPasswordFile\"");
    if (cfg->redis_sentinel_password && !sentinels)
        return fail(p, "\"sentinelPasswordFile\" is used only with \"sentinels\"");
    if (cfg->redis_username && !cfg->redis_password && !(url && strchr(url, '@')))
        return fail(p, "\"username\" needs \"password\" or \"passwordFile\"");
    return true;
}

static bool read_redis(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, redis_fields, NFIELDS(redis_fields), t) &&
           one_of_inline_or_file(p, v, "password", "passwordFile") &&
           check_redis_form(p, v, CFG(t));
}

/* auth.openid: one issuer object, or a list of them. Each entry is read into
   an og_openid_issuer; clientId, the client secret and scopes belong to the
   one issuer used for browser sign-in and stay in the flat openid_* fields. */

struct openid_target {
    struct og_config *cfg;
    struct og_openid_issuer *is;
    size_t index;
    bool in_list;
};

#define OT(t) ((struct openid_target *)(t))

static bool read_openid_issuer(struct parser *p, json_t *v, void *t)
{
    char **issuer = &OT(t)->is->issuer;

    if (!read_string(p, v, issuer))
        return false;
    if (!starts_with(*issuer, "https://") && !starts_with(*issuer, "http://"))
        return fail(p, "must be an https:// URL");
    return true;
}

static bool read_openid_audiences(struct parser *p, json_t *v, void *t)
{
    if (!read_strlist(p, v, &OT(t)->is->audiences, false))
        return false;
    if (OT(t)->is->audiences.n == 0)
        return fail(p, "must hold at least one audience");
    return true;
}

/* A plain claim name (kept from the first claimMapping, "preferred_username",
   "cognito:groups", "https://example.org/groups"): only name characters, and
   not a path from claims or vars. Anything else is an expression. */
static bool is_plain_claim_name(const char *s)
{
    if (strcmp(s, "claims") == 0 || strcmp(s, "vars") == 0 || starts_with(s, "claims.") ||
        starts_with(s, "vars."))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_-.:/@", *s)))
            return false;
    return true;
}

/* Compile a claim expression over claims and the first nvars variables. */
static bool compile_claim_expr(struct parser *p, const struct og_openid_issuer *is, size_t nvars,
                               const char *src, bool want_bool, struct og_cel_program **out)
{
    struct og_cel_decl decls[1 + 64];
    struct og_cel_error e = { 0, "" };
    char names[64][80];

    decls[0].name = "claims";
    decls[0].kind = OG_CEL_DYN;
    for (size_t i = 0; i < nvars; i++) {
        snprintf(names[i], sizeof names[i], "vars.%s", is->vars[i].name);
        decls[1 + i].name = names[i];
        decls[1 + i].kind = OG_CEL_DYN;
    }
    *out = og_cel_compile(src, strlen(src), decls, 1 + nvars, &e);
    if (!*out) {
        if (e.column)
            return fail(p, "column %zu: %s", e.column, e.msg);
        return fail(p, "%s", e.msg[0] ? e.msg : "not a valid expression");
    }
    if (want_bool && og_cel_result_kind(*out) != OG_CEL_BOOL &&
        og_cel_result_kind(*out) != OG_CEL_DYN)
        return fail(p, "must be a boolean expression");
    return true;
}

/* username / groups: a plain claim name, or an expression compiled once the
   variables are known (read_claim_mapping). */
static bool read_claim_username(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &OT(t)->is->username);
}

static bool read_claim_groups(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &OT(t)->is->groups);
}

static bool is_var_name(const char *s)
{
    return key_is_identifier(s) && strlen(s) < 64;
}

static bool add_claim_var(struct parser *p, struct og_openid_issuer *is, const char *name,
                          json_t *expr)
{
    struct og_claim_var *nv;

    if (!is_var_name(name))
        return fail(p, "\"%s\" is not a variable name (letters, digits, '_'; at most 63)",
                    name);
    for (size_t i = 0; i < is->nvars; i++)
        if (strcmp(is->vars[i].name, name) == 0)
            return fail(p, "variable \"%s\" is defined twice", name);
    if (is->nvars == 64)
        return fail(p, "at most 64 variables");
    if (!json_is_string(expr) || json_string_length(expr) == 0)
        return fail(p, "must be a non-empty string (a CEL expression)");
    nv = realloc(is->vars, (is->nvars + 1) * sizeof *nv);
    if (!nv)
        return fail_out_of_memory(p);
    is->vars = nv;
    memset(&nv[is->nvars], 0, sizeof *nv);
    if (!(nv[is->nvars].name = strdup(name)))
        return fail_out_of_memory(p);
    is->nvars++;
    /* a variable sees the claims and the variables before it */
    return compile_claim_expr(p, is, is->nvars - 1, json_string_value(expr), false,
                              &nv[is->nvars - 1].prog);
}

/* variables: {"name": "CEL", ...} in order, or zot's [{"name", "expression"}]. */
static bool read_claim_vars(struct parser *p, json_t *v, void *t)
{
    struct og_openid_issuer *is = OT(t)->is;
    const char *key;
    json_t *e;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, key, e) {
            size_t saved = path_push_key(p, key);

            if (!add_claim_var(p, is, key, e))
                return false;
            path_pop(p, saved);
        }
        return true;
    }
    if (!json_is_array(v))
        return fail(p, "must be an object of named expressions, not %s", json_type_name(v));
    json_array_foreach(v, i, e) {
        size_t saved = path_push_index(p, i), s2;
        json_t *name = json_object_get(e, "name"), *expr = json_object_get(e, "expression");

        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(name) || !expr)
            return fail(p, "must be {\"name\": ..., \"expression\": ...}");
        s2 = path_push_key(p, "expression");
        if (!add_claim_var(p, is, json_string_value(name), expr))
            return false;
        path_pop(p, s2);
        path_pop(p, saved);
    }
    return true;
}

static bool read_check_expression(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &((struct og_claim_check *)t)->text);
}

static bool read_check_message(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &((struct og_claim_check *)t)->message);
}

static const struct field check_fields[] = {
    { "expression", read_check_expression, "" },
    { "message", read_check_message, "" },
};

static bool read_claim_checks(struct parser *p, json_t *v, void *t)
{
    struct og_openid_issuer *is = OT(t)->is;
    size_t i;
    json_t *e;

    if (!must_be_array(p, v))
        return false;
    if (json_array_size(v) > 64)
        return fail(p, "at most 64 validations");
    is->checks = calloc(json_array_size(v) + 1, sizeof *is->checks);
    if (!is->checks)
        return fail_out_of_memory(p);
    json_array_foreach(v, i, e) {
        size_t saved = path_push_index(p, i);

        is->nchecks = i + 1;
        if (!parse_object(p, e, check_fields, NFIELDS(check_fields), &is->checks[i]))
            return false;
        path_pop(p, saved);
    }
    return true;
}

static const struct field claim_mapping_fields[] = {
    { "username", read_claim_username, NULL },
    { "groups", read_claim_groups, NULL },
    { "variables", read_claim_vars, NULL },
    { "validations", read_claim_checks, NULL },
};

static bool read_claim_mapping(struct parser *p, json_t *v, void *t)
{
    struct og_openid_issuer *is = OT(t)->is;
    json_t *vars = json_object_get(v, "variables");
    json_t *rest = NULL;
    size_t saved;
    bool ok;

    /* the variables first: every other expression may use them */
    if (vars) {
        saved = path_push_key(p, "variables");
        if (!read_claim_vars(p, vars, t))
            return false;
        path_pop(p, saved);
        if (!json_is_object(v) || !(rest = json_copy(v)))
            return json_is_object(v) ? fail_out_of_memory(p) : must_be_object(p, v);
        json_object_del(rest, "variables");
        v = rest;
    }
    ok = parse_object(p, v, claim_mapping_fields, NFIELDS(claim_mapping_fields), t);
    json_decref(rest);
    if (!ok)
        return false;
    for (size_t i = 0; i < is->nchecks; i++) {
        saved = path_push_key(p, "validations");
        path_push_index(p, i);
        path_push_key(p, "expression");
        if (!compile_claim_expr(p, is, is->nvars, is->checks[i].text, true,
                                &is->checks[i].prog))
            return false;
        path_pop(p, saved);
    }
    if (is->username && !is_plain_claim_name(is->username)) {
        saved = path_push_key(p, "username");
        if (!compile_claim_expr(p, is, is->nvars, is->username, false, &is->username_prog))
            return false;
        path_pop(p, saved);
    }
    if (is->groups && !is_plain_claim_name(is->groups)) {
        saved = path_push_key(p, "groups");
        if (!compile_claim_expr(p, is, is->nvars, is->groups, false, &is->groups_prog))
            return false;
        path_pop(p, saved);
    }
    return true;
}

static bool read_openid_leeway(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 3600, &OT(t)->is->leeway_s);
}

/* clientId and what goes with it: the issuer for browser sign-in (only one). */
static bool signin_issuer(struct parser *p, struct openid_target *ot)
{
    if (ot->cfg->openid_signin >= 0 && (size_t)ot->cfg->openid_signin != ot->index)
        return fail(p, "only one issuer may have clientId (the one for browser sign-in: "
                       "auth.openid[%d] has it)", ot->cfg->openid_signin);
    ot->cfg->openid_signin = (int)ot->index;
    return true;
}

static bool read_openid_client_id(struct parser *p, json_t *v, void *t)
{
    return signin_issuer(p, OT(t)) && read_string(p, v, &OT(t)->cfg->openid_client_id);
}

static bool read_openid_client_secret(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &OT(t)->cfg->openid_client_secret);
}

static bool read_openid_client_secret_file(struct parser *p, json_t *v, void *t)
{
    return read_secret_file(p, v, &OT(t)->cfg->openid_client_secret);
}

static bool read_openid_scopes(struct parser *p, json_t *v, void *t)
{
    struct og_strlist *l = &OT(t)->cfg->openid_scopes;

    if (!read_strlist(p, v, l, false))
        return false;
    for (size_t i = 0; i < l->n; i++) {
        size_t saved = path_push_index(p, i);

        if (l->v[i][0] == '\0' || strpbrk(l->v[i], " \"\\") || !is_header_safe(l->v[i]))
            return fail(p, "must be a scope name (no spaces or quotes)");
        path_pop(p, saved);
    }
    return true;
}

static const struct field openid_fields[] = {
    { "issuer", read_openid_issuer, "" },
    { "audiences", read_openid_audiences, "" },
    { "claimMapping", read_claim_mapping, NULL },
    { "leewaySeconds", read_openid_leeway, NULL },
    { "clientId", read_openid_client_id, NULL },
    { "clientSecret", read_openid_client_secret, NULL },
    { "clientSecretFile", read_openid_client_secret_file, NULL },
    { "scopes", read_openid_scopes, NULL },
};

static bool read_one_issuer(struct parser *p, json_t *v, struct openid_target *ot)
{
    struct og_openid_issuer *is = ot->is;

    is->leeway_s = 60;
    if (!parse_object(p, v, openid_fields, NFIELDS(openid_fields), ot) ||
        !one_of_inline_or_file(p, v, "clientSecret", "clientSecretFile"))
        return false;
    if (ot->in_list && !json_object_get(v, "clientId") &&
        (json_object_get(v, "clientSecret") || json_object_get(v, "clientSecretFile") ||
         json_object_get(v, "scopes")))
        return fail(p, "clientSecret, clientSecretFile and scopes go with clientId "
                       "(the issuer for browser sign-in)");
    if ((!is->username && !(is->username = strdup("preferred_username"))) ||
        (!is->groups && !(is->groups = strdup("groups"))))
        return fail_out_of_memory(p);
    for (size_t i = 0; i < ot->index; i++) {
        const struct og_openid_issuer *o = &ot->cfg->openid[i];

        if (strcmp(o->issuer, is->issuer) != 0)
            continue;
        for (size_t a = 0; a < is->audiences.n; a++)
            for (size_t b = 0; b < o->audiences.n; b++)
                if (strcmp(is->audiences.v[a], o->audiences.v[b]) == 0)
                    return fail(p, "issuer %s with audience \"%s\" is already "
                                   "auth.openid[%zu]: its tokens would never get here",
                                is->issuer, is->audiences.v[a], i);
    }
    return true;
}

static bool read_openid(struct parser *p, json_t *v, void *t)
{
    struct og_config *cfg = CFG(t);
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    size_t i;
    json_t *e;

    if (!json_is_array(v) && !json_is_object(v))
        return fail(p, "must be an issuer object or a list of them, not %s",
                    json_type_name(v));
    if (n == 0)
        return fail(p, "must hold at least one issuer");
    if (n > 32)
        return fail(p, "at most 32 issuers");
    cfg->openid_enabled = true;
    cfg->openid = calloc(n, sizeof *cfg->openid);
    if (!cfg->openid)
        return fail_out_of_memory(p);
    if (!json_is_array(v)) {
        struct openid_target ot = { cfg, &cfg->openid[0], 0, false };

        cfg->nopenid = 1;
        return read_one_issuer(p, v, &ot);
    }
    json_array_foreach(v, i, e) {
        struct openid_target ot = { cfg, &cfg->openid[i], i, true };
        size_t saved = path_push_index(p, i);

        cfg->nopenid = i + 1;
        if (!read_one_issuer(p, e, &ot))
            return false;
        path_pop(p, saved);
    }
    return true;
}

static bool read_apikey_enabled(struct parser *p, json_t *v, void *t)
{
    return read_bool(p, v, &CFG(t)->apikey_enabled);
}

static bool read_apikey_cache(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 86400, &CFG(t)->apikey_cache_s);
}

static bool read_apikey_max_per_user(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 100000, &CFG(t)->apikey_max_per_user);
}

static bool read_apikey_max_lifetime(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 36500, &CFG(t)->apikey_max_lifetime_days);
}

static const struct field apikey_fields[] = {
    { "enabled", read_apikey_enabled, NULL },
    { "cacheSeconds", read_apikey_cache, NULL },
    { "maxPerUser", read_apikey_max_per_user, NULL },
    { "maxLifetimeDays", read_apikey_max_lifetime, NULL },
};

static bool read_apikey(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, apikey_fields, NFIELDS(apikey_fields), t);
}

static bool read_htpasswd_path(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &CFG(t)->htpasswd_path);
}

static const struct field htpasswd_fields[] = {
    { "path", read_htpasswd_path, "" },
};

static bool read_htpasswd(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, htpasswd_fields, NFIELDS(htpasswd_fields), t);
}

static bool read_fail_delay(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 60000, &CFG(t)->fail_delay_ms);
}

static bool read_throttle_address(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 1000000, &CFG(t)->throttle_per_address);
}

static bool read_throttle_subject(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 1000000, &CFG(t)->throttle_per_subject);
}

static bool read_throttle_subject_total(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 0, 1000000, &CFG(t)->throttle_per_subject_total);
}

static bool read_throttle_window(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 86400, &CFG(t)->throttle_window_s);
}

static const struct field throttle_fields[] = {
    { "perAddress", read_throttle_address, NULL },
    { "perSubject", read_throttle_subject, NULL },
    { "perSubjectTotal", read_throttle_subject_total, NULL },
    { "windowSeconds", read_throttle_window, NULL },
};

static bool read_throttle(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, throttle_fields, NFIELDS(throttle_fields), t);
}

static const struct field auth_fields[] = {
    { "failDelayMs", read_fail_delay, NULL },
    { "throttle", read_throttle, NULL },
    { "openid", read_openid, NULL },
    { "apikey", read_apikey, NULL },
    { "htpasswd", read_htpasswd, NULL },
};

static bool read_auth(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, auth_fields, NFIELDS(auth_fields), t);
}

/* ------------------------------------------------------------------------ */
/* accessControl (zot's schema, unchanged; doc/config.md).                   */

static bool read_policy_users(struct parser *p, json_t *v, void *t)
{
    return read_strlist(p, v, &((struct og_policy_entry *)t)->users, true);
}

static bool read_policy_groups(struct parser *p, json_t *v, void *t)
{
    return read_strlist(p, v, &((struct og_policy_entry *)t)->groups, false);
}

static bool read_policy_actions(struct parser *p, json_t *v, void *t)
{
    return read_actions(p, v, &((struct og_policy_entry *)t)->actions);
}

#define COND(t) ((struct og_condition *)(t))

/* A condition's expression, compiled against the req map (doc/decisions.md):
   a syntax or type error is a config error with its column. */
static bool read_condition_expression(struct parser *p, json_t *v, void *t)
{
    struct og_cel_error e;

    if (!read_string(p, v, &COND(t)->expression))
        return false;
    COND(t)->program = og_cel_compile(COND(t)->expression, json_string_length(v),
                                      og_condition_decls, og_condition_ndecls, &e);
    if (!COND(t)->program)
        return fail(p, "column %zu: %s", e.column, e.msg);
    switch (og_cel_result_kind(COND(t)->program)) {
    case OG_CEL_BOOL: case OG_CEL_DYN:
        return true;
    default:
        return fail(p, "must be a bool expression");
    }
}

static bool read_condition_message(struct parser *p, json_t *v, void *t)
{
    if (!json_is_string(v))
        return fail(p, "must be a string, not %s", json_type_name(v));
    return replace_string(p, &COND(t)->message, json_string_value(v), json_string_length(v));
}

static const struct field condition_fields[] = {
    { "expression", read_condition_expression, "" },
    { "message", read_condition_message, NULL },
};

/* conditions: [{expression, message}], all of which must hold. */
static bool read_policy_conditions(struct parser *p, json_t *v, void *t)
{
    struct og_policy_entry *e = t;
    size_t i;
    json_t *c;

    if (!must_be_array(p, v))
        return false;
    if (json_array_size(v) == 0)
        return true;
    e->conditions = calloc(json_array_size(v), sizeof *e->conditions);
    if (!e->conditions)
        return fail_out_of_memory(p);
    size_t n = strlen(p->path_text);
    if (n >= 11 && strcmp(p->path_text + n - 11, ".conditions") == 0)
        n -= 11;
    if (!(e->where = strndup(p->path_text, n)))
        return fail_out_of_memory(p);
    json_array_foreach(v, i, c) {
        size_t saved = path_push_index(p, i);
        struct og_condition *cond = &e->conditions[i];

        e->nconditions++;
        if (!(cond->where = strdup(p->path_text)))
            return fail_out_of_memory(p);
        if (!parse_object(p, c, condition_fields, NFIELDS(condition_fields), cond))
            return false;
        if (!cond->message && !(cond->message = strdup("")))
            return fail_out_of_memory(p);
        path_pop(p, saved);
    }
    return true;
}

static const struct field policy_fields[] = {
    { "users", read_policy_users, NULL },
    { "groups", read_policy_groups, NULL },
    { "actions", read_policy_actions, NULL },
    { "conditions", read_policy_conditions, NULL },
};

static bool read_policy(struct parser *p, json_t *v, struct og_policy_entry *e)
{
    return parse_object(p, v, policy_fields, NFIELDS(policy_fields), e);
}

#define RULE(t) ((struct og_repo_rule *)(t))

static bool read_rule_policies(struct parser *p, json_t *v, void *t)
{
    struct og_repo_rule *rule = RULE(t);
    size_t i;
    json_t *e;

    if (!must_be_array(p, v))
        return false;
    if (json_array_size(v) == 0)
        return true;
    rule->policies = calloc(json_array_size(v), sizeof *rule->policies);
    if (!rule->policies)
        return fail_out_of_memory(p);
    json_array_foreach(v, i, e) {
        size_t saved = path_push_index(p, i);

        rule->npolicies++;
        if (!read_policy(p, e, &rule->policies[i]))
            return false;
        path_pop(p, saved);
    }
    return true;
}

static bool read_rule_default(struct parser *p, json_t *v, void *t)
{
    return read_actions(p, v, &RULE(t)->default_actions);
}

static bool read_rule_anonymous(struct parser *p, json_t *v, void *t)
{
    return read_actions(p, v, &RULE(t)->anonymous_actions);
}

static const struct field policy_group_fields[] = {
    { "policies", read_rule_policies, NULL },
    { "defaultPolicy", read_rule_default, NULL },
    { "anonymousPolicy", read_rule_anonymous, NULL },
};

/* Longest pattern first; equal lengths: lexicographically smaller first (deviation 1). */
static int rule_order(const void *a, const void *b)
{
    const struct og_repo_rule *x = a, *y = b;

    if (x->pattern_len != y->pattern_len)
        return x->pattern_len > y->pattern_len ? -1 : 1;
    return strcmp(x->pattern, y->pattern);
}

/* The decision's index over the sorted rules: rank = position. */
static bool index_rules(struct parser *p, struct og_config *cfg)
{
    struct og_glob **globs = calloc(cfg->nrules ? cfg->nrules : 1, sizeof *globs);
    uint32_t *ids = calloc(cfg->nrules ? cfg->nrules : 1, sizeof *ids);
    bool ok = globs && ids && cfg->nrules < UINT32_MAX;

    for (size_t i = 0; ok && i < cfg->nrules; i++) {
        globs[i] = cfg->rules[i].glob;
        ids[i] = (uint32_t)i;
    }
    if (ok)
        cfg->rule_index = og_glob_index_build(globs, ids, cfg->nrules);
    free(globs);
    free(ids);
    return cfg->rule_index ? true : fail_out_of_memory(p);
}

static bool read_repositories(struct parser *p, json_t *v, void *t)
{
    struct og_config *cfg = CFG(t);
    const char *pattern;
    json_t *pg;

    if (!must_be_object(p, v))
        return false;
    if (json_object_size(v) == 0)
        return true;
    cfg->rules = calloc(json_object_size(v), sizeof *cfg->rules);
    if (!cfg->rules)
        return fail_out_of_memory(p);
    json_object_foreach(v, pattern, pg) {
        struct og_repo_rule *rule = &cfg->rules[cfg->nrules++];
        size_t saved = path_push_quoted(p, pattern);

        rule->pattern_len = strlen(pattern);
        rule->pattern = strdup(pattern);
        if (!rule->pattern)
            return fail_out_of_memory(p);
        if (!compile_glob(p, pattern, rule->pattern_len, &rule->glob))
            return false;
        if (!parse_object(p, pg, policy_group_fields, NFIELDS(policy_group_fields), rule))
            return false;
        path_pop(p, saved);
    }
    qsort(cfg->rules, cfg->nrules, sizeof *cfg->rules, rule_order);
    return index_rules(p, cfg);
}

static bool read_admin_policy(struct parser *p, json_t *v, void *t)
{
    CFG(t)->has_admin = true;
    return read_policy(p, v, &CFG(t)->admin);
}

/* "" is accepted as zot accepts it; it names the anonymous identity, which
   belongs to no group, so it makes no one a member (doc/decisions.md). */
static bool read_group_users(struct parser *p, json_t *v, void *t)
{
    return read_strlist(p, v, &((struct og_group *)t)->users, true);
}

static const struct field group_fields[] = {
    { "users", read_group_users, NULL },
};

static bool read_groups(struct parser *p, json_t *v, void *t)
{
    struct og_config *cfg = CFG(t);
    const char *name;
    json_t *g;

    if (!must_be_object(p, v))
        return false;
    if (json_object_size(v) == 0)
        return true;
    cfg->groups = calloc(json_object_size(v), sizeof *cfg->groups);
    if (!cfg->groups)
        return fail_out_of_memory(p);
    json_object_foreach(v, name, g) {
        struct og_group *group = &cfg->groups[cfg->ngroups++];
        size_t saved = path_push_quoted(p, name);

        group->name = strdup(name);
        if (!group->name)
            return fail_out_of_memory(p);
        if (!parse_object(p, g, group_fields, NFIELDS(group_fields), group))
            return false;
        path_pop(p, saved);
    }
    return true;
}

/* "" = the anonymous identity, as in zot: "users": [""] lets anonymous clients scrape. */
static bool read_metrics_users(struct parser *p, json_t *v, void *t)
{
    return read_strlist(p, v, &CFG(t)->metrics_users, true);
}

static bool read_metrics_anonymous(struct parser *p, json_t *v, void *t)
{
    return read_actions(p, v, &CFG(t)->metrics_anonymous_actions);
}

static const struct field metrics_fields[] = {
    { "users", read_metrics_users, NULL },
    { "anonymousPolicy", read_metrics_anonymous, NULL },
};

static bool read_metrics(struct parser *p, json_t *v, void *t)
{
    CFG(t)->has_metrics = true;
    return parse_object(p, v, metrics_fields, NFIELDS(metrics_fields), t);
}

static const struct field access_control_fields[] = {
    { "repositories", read_repositories, NULL },
    { "adminPolicy", read_admin_policy, NULL },
    { "groups", read_groups, NULL },
    { "metrics", read_metrics, NULL },
};

static bool read_access_control(struct parser *p, json_t *v, void *t)
{
    struct og_config *cfg = CFG(t);

    if (!parse_object(p, v, access_control_fields, NFIELDS(access_control_fields), t))
        return false;
    cfg->has_conditions = cfg->admin.nconditions > 0;
    for (size_t i = 0; i < cfg->nrules; i++)
        for (size_t j = 0; j < cfg->rules[i].npolicies; j++)
            if (cfg->rules[i].policies[j].nconditions)
                cfg->has_conditions = true;
    cfg->open_to_anonymous = og_open_to_anonymous(cfg);   /* the ping's answer, once */
    return true;
}

/* ------------------------------------------------------------------------ */
/* immutableTags.                                                            */

#define IMMUT(t) ((struct og_immutable_rule *)(t))

/* Every repository glob of every rule, ranked by the rule's place in the file. */
static bool index_immutable(struct parser *p, struct og_config *cfg)
{
    size_t n = 0, k = 0;

    for (size_t i = 0; i < cfg->nimmutable; i++)
        n += cfg->immutable[i].nrepos;
    struct og_glob **globs = calloc(n ? n : 1, sizeof *globs);
    uint32_t *ids = calloc(n ? n : 1, sizeof *ids);
    bool ok = globs && ids && cfg->nimmutable < UINT32_MAX;

    for (size_t i = 0; ok && i < cfg->nimmutable; i++)
        for (size_t j = 0; j < cfg->immutable[i].nrepos; j++) {
            globs[k] = cfg->immutable[i].repos[j];
            ids[k++] = (uint32_t)i;
        }
    if (ok)
        cfg->immutable_index = og_glob_index_build(globs, ids, k);
    free(globs);
    free(ids);
    return cfg->immutable_index ? true : fail_out_of_memory(p);
}

static bool read_immutable_repos(struct parser *p, json_t *v, void *t)
{
    return read_globs(p, v, &IMMUT(t)->repos, &IMMUT(t)->nrepos);
}

static bool read_immutable_tags_globs(struct parser *p, json_t *v, void *t)
{
    return read_globs(p, v, &IMMUT(t)->tags, &IMMUT(t)->ntags);
}

static const struct field immutable_fields[] = {
    { "repositories", read_immutable_repos, "" },
    { "tags", read_immutable_tags_globs, "" },
};

static bool append_globs(FILE *out, struct og_glob **globs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fprintf(out, "%s%s", i ? ", " : "", og_glob_source(globs[i])) < 0)
            return false;
    return true;
}

/* "immutableTags[0] (REPO-GLOBS : TAG-GLOBS)", each list joined with ", " */
static bool describe_immutable_rule(struct parser *p, struct og_immutable_rule *rule, size_t i)
{
    size_t size = 0;
    FILE *out = open_memstream(&rule->text, &size);
    bool ok;

    if (!out)
        return fail_out_of_memory(p);
    ok = fprintf(out, "immutableTags[%zu] (", i) > 0 &&
         append_globs(out, rule->repos, rule->nrepos) &&
         fputs(" : ", out) >= 0 &&
         append_globs(out, rule->tags, rule->ntags) &&
         fputs(")", out) >= 0;
    if (fclose(out) != 0 || !ok)
        return fail_out_of_memory(p);
    return true;
}

static bool read_immutable_tags(struct parser *p, json_t *v, void *t)
{
    struct og_config *cfg = CFG(t);
    size_t i;
    json_t *e;

    if (!must_be_array(p, v))
        return false;
    if (json_array_size(v) == 0)
        return true;
    cfg->immutable = calloc(json_array_size(v), sizeof *cfg->immutable);
    if (!cfg->immutable)
        return fail_out_of_memory(p);
    json_array_foreach(v, i, e) {
        struct og_immutable_rule *rule = &cfg->immutable[cfg->nimmutable++];
        size_t saved = path_push_index(p, i);

        if (!parse_object(p, e, immutable_fields, NFIELDS(immutable_fields), rule))
            return false;
        if (!describe_immutable_rule(p, rule, i))
            return false;
        path_pop(p, saved);
    }
    return index_immutable(p, cfg);
}

/* ------------------------------------------------------------------------ */
/* token, endpoints, log, trustForwardedHeaders.                             */

static bool read_token_challenge(struct parser *p, json_t *v, void *t)
{
    static const char *const names[] = { "bearer", "basic", NULL };
    int i;

    if (!read_one_of(p, v, names, &i))
        return false;
    CFG(t)->challenge = i == 0 ? OG_CHALLENGE_BEARER : OG_CHALLENGE_BASIC;
    return true;
}

static bool read_token_challenge_anonymous(struct parser *p, json_t *v, void *t)
{
    return read_bool(p, v, &CFG(t)->challenge_anonymous);
}

static bool read_token_realm(struct parser *p, json_t *v, void *t)
{
    char **realm = &CFG(t)->token_realm;

    if (!read_header_string(p, v, realm))
        return false;
    if (!starts_with(*realm, "https://") && !starts_with(*realm, "http://"))
        return fail(p, "must be an http:// or https:// URL");
    return true;
}

static bool read_token_service(struct parser *p, json_t *v, void *t)
{
    return read_header_string(p, v, &CFG(t)->token_service);
}

static bool read_token_key_file(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &CFG(t)->token_key_file);
}

static bool read_token_lifetime(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 86400, &CFG(t)->token_lifetime_s);
}

static const struct field token_fields[] = {
    { "challenge", read_token_challenge, NULL },
    { "challengeAnonymous", read_token_challenge_anonymous, NULL },
    { "realm", read_token_realm, NULL },
    { "service", read_token_service, NULL },
    { "keyFile", read_token_key_file, NULL },
    { "lifetimeSeconds", read_token_lifetime, NULL },
};

static bool read_token(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, token_fields, NFIELDS(token_fields), t);
}

static bool read_trust_forwarded(struct parser *p, json_t *v, void *t)
{
    return read_bool(p, v, &CFG(t)->trust_forwarded_headers);
}

static bool read_endpoint_metrics(struct parser *p, json_t *v, void *t)
{
    return read_url_path(p, v, &CFG(t)->endpoint_metrics);
}

static bool read_endpoint_health(struct parser *p, json_t *v, void *t)
{
    return read_url_path(p, v, &CFG(t)->endpoint_health);
}

static bool read_endpoint_apikey(struct parser *p, json_t *v, void *t)
{
    struct og_strlist *l = &CFG(t)->endpoint_apikey;

    if (!read_strlist(p, v, l, false))
        return false;
    for (size_t i = 0; i < l->n; i++) {
        size_t saved = path_push_index(p, i);

        if (l->v[i][0] != '/' || !is_header_safe(l->v[i]) || strpbrk(l->v[i], " ?#"))
            return fail(p, "must be a path starting with '/' (no spaces, query or fragment)");
        path_pop(p, saved);
    }
    return true;
}

static bool read_endpoint_catalog(struct parser *p, json_t *v, void *t)
{
    return read_bool(p, v, &CFG(t)->endpoint_catalog);
}

static bool read_endpoint_login(struct parser *p, json_t *v, void *t)
{
    return read_url_path(p, v, &CFG(t)->endpoint_login);
}

static bool read_endpoint_callback(struct parser *p, json_t *v, void *t)
{
    return read_url_path(p, v, &CFG(t)->endpoint_callback);
}

static bool read_endpoint_logout(struct parser *p, json_t *v, void *t)
{
    return read_url_path(p, v, &CFG(t)->endpoint_logout);
}

static bool read_endpoint_keys(struct parser *p, json_t *v, void *t)
{
    return read_url_path(p, v, &CFG(t)->endpoint_keys);
}

static const struct field endpoint_fields[] = {
    { "metrics", read_endpoint_metrics, NULL },
    { "health", read_endpoint_health, NULL },
    { "apikey", read_endpoint_apikey, NULL },
    { "catalog", read_endpoint_catalog, NULL },
    { "login", read_endpoint_login, NULL },
    { "callback", read_endpoint_callback, NULL },
    { "logout", read_endpoint_logout, NULL },
    { "keys", read_endpoint_keys, NULL },
};

static bool read_endpoints(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, endpoint_fields, NFIELDS(endpoint_fields), t);
}

/* externalUrl, session: browser sign-in */

static bool read_external_url(struct parser *p, json_t *v, void *t)
{
    char **url = &CFG(t)->external_url;
    size_t n;

    if (!read_header_string(p, v, url))
        return false;
    if (!starts_with(*url, "https://") && !starts_with(*url, "http://"))
        return fail(p, "must be an http:// or https:// URL");
    if (strpbrk(*url, " ?#\"'<>\\"))
        return fail(p, "must be a URL without query, fragment, spaces or quotes");
    n = strlen(*url);
    while (n > 0 && (*url)[n - 1] == '/')
        (*url)[--n] = '\0';
    return true;
}

static bool read_session_key_file(struct parser *p, json_t *v, void *t)
{
    return read_string(p, v, &CFG(t)->session_key_file);
}

static bool read_session_lifetime(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 60, 30 * 86400, &CFG(t)->session_lifetime_s);
}

static const struct field session_fields[] = {
    { "keyFile", read_session_key_file, NULL },
    { "lifetimeSeconds", read_session_lifetime, NULL },
};

static bool read_session(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, session_fields, NFIELDS(session_fields), t);
}

/* limits */

static bool read_body_timeout(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 600000, &CFG(t)->body_timeout_ms);
}

static bool read_catalog_repositories(struct parser *p, json_t *v, void *t)
{
    return read_int(p, v, 1, 100000, &CFG(t)->catalog_max_repositories);
}

static const struct field limits_fields[] = {
    { "bodyTimeoutMs", read_body_timeout, NULL },
    { "catalogRepositories", read_catalog_repositories, NULL },
};

static bool read_limits(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, limits_fields, NFIELDS(limits_fields), t);
}

static bool read_log_level(struct parser *p, json_t *v, void *t)
{
    static const char *const names[] = { "debug", "info", "warn", "error", NULL };
    int i;

    return read_one_of(p, v, names, &i) && replace_string(p, &CFG(t)->log_level, names[i],
                                                          strlen(names[i]));
}

static bool read_log_format(struct parser *p, json_t *v, void *t)
{
    static const char *const names[] = { "json", "text", NULL };
    int i;

    return read_one_of(p, v, names, &i) && replace_string(p, &CFG(t)->log_format, names[i],
                                                          strlen(names[i]));
}

static const struct field log_fields[] = {
    { "level", read_log_level, NULL },
    { "format", read_log_format, NULL },
};

static bool read_log(struct parser *p, json_t *v, void *t)
{
    return parse_object(p, v, log_fields, NFIELDS(log_fields), t);
}

static const struct field root_fields[] = {
    { "realm", read_realm, NULL },
    { "workers", read_workers, NULL },
    { "registry", read_registry, NULL },
    { "redis", read_redis, NULL },
    { "auth", read_auth, NULL },
    { "accessControl", read_access_control,
      " (an absent block would allow everything)" },
    { "immutableTags", read_immutable_tags, NULL },
    { "token", read_token, NULL },
    { "trustForwardedHeaders", read_trust_forwarded, NULL },
    { "endpoints", read_endpoints, NULL },
    { "externalUrl", read_external_url, NULL },
    { "session", read_session, NULL },
    { "limits", read_limits, NULL },
    { "log", read_log, NULL },
};

/* ------------------------------------------------------------------------ */
/* Defaults, the public entry points, freeing.                               */

static bool set_default(struct parser *p, char **dst, const char *value)
{
    return replace_string(p, dst, value, strlen(value));
}

static bool set_defaults(struct parser *p, struct og_config *cfg)
{
    cfg->registry_timeout_ms = 2000;
    cfg->registry_write_timeout_ms = 30000;
    cfg->registry_automatic_mount = true;
    cfg->redis_timeout_ms = 200;
    cfg->openid_signin = -1;
    cfg->apikey_cache_s = 30;
    cfg->apikey_max_per_user = 100;
    cfg->apikey_max_lifetime_days = 365;
    cfg->session_lifetime_s = 28800;
    cfg->throttle_per_address = 30;
    cfg->throttle_per_subject = 10;
    cfg->throttle_per_subject_total = 100;
    cfg->throttle_window_s = 60;
    cfg->challenge = OG_CHALLENGE_BEARER;
    cfg->token_lifetime_s = 300;
    cfg->endpoint_catalog = true;
    cfg->body_timeout_ms = 5000;
    cfg->catalog_max_repositories = 5000;
    return set_default(p, &cfg->realm, "ocigate") &&
           set_default(p, &cfg->registry_url, "http://127.0.0.1:5000") &&
           set_default(p, &cfg->redis_url, "redis://127.0.0.1:6379/0") &&
           set_default(p, &cfg->redis_prefix, "ocigate:") &&
           set_default(p, &cfg->endpoint_metrics, "/ocigate/metrics") &&
           set_default(p, &cfg->endpoint_health, "/ocigate/healthz") &&
           set_default(p, &cfg->endpoint_login, "/ocigate/login") &&
           set_default(p, &cfg->endpoint_callback, "/ocigate/callback") &&
           set_default(p, &cfg->endpoint_logout, "/ocigate/logout") &&
           set_default(p, &cfg->endpoint_keys, "/ocigate/keys") &&
           strlist_add(p, &cfg->openid_scopes, "openid", 6) &&
           strlist_add(p, &cfg->openid_scopes, "profile", 7) &&
           strlist_add(p, &cfg->openid_scopes, "email", 5) &&
           strlist_add(p, &cfg->openid_scopes, "groups", 6) &&
           strlist_add(p, &cfg->endpoint_apikey, "/zot/auth/apikey", 16) &&
           strlist_add(p, &cfg->endpoint_apikey, "/ocigate/apikey", 15) &&
           set_default(p, &cfg->log_level, "info") &&
           set_default(p, &cfg->log_format, "json");
}

/* Defaults that depend on other fields, applied after the whole file is read. */
static bool set_derived_defaults(struct parser *p, struct og_config *cfg)
{
    if (cfg->session_key_file) {      /* browser sign-in needs all of these */
        size_t saved = path_push_key(p, "session");

        if (!cfg->external_url)
            return fail(p, "browser sign-in needs externalUrl");
        if (!cfg->openid_enabled || !cfg->openid_client_id || !cfg->openid_client_secret)
            return fail(p, "browser sign-in needs auth.openid with clientId and "
                           "clientSecret or clientSecretFile");
        path_pop(p, saved);
    }
    if (!cfg->token_service)
        return set_default(p, &cfg->token_service, cfg->realm);
    return true;
}

struct og_config *og_config_parse(const char *json, size_t len, const char *fname,
                                  char *err, size_t errlen)
{
    struct parser p = { .fname = fname ? fname : "config", .err = err, .errlen = errlen };
    struct og_config *cfg = NULL;
    json_error_t jerr;
    json_t *root;

    og_buf_init(&p.path, p.path_text, sizeof p.path_text);
    if (err && errlen)
        err[0] = '\0';
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fail(&p, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        fail_out_of_memory(&p);
        goto fail;
    }
    if (!(cfg->path = strdup(p.fname)) || !set_defaults(&p, cfg)) {
        fail_out_of_memory(&p);
        goto fail;
    }
    if (!parse_object(&p, root, root_fields, NFIELDS(root_fields), cfg))
        goto fail;
    if (!set_derived_defaults(&p, cfg))
        goto fail;
    json_decref(root);
    return cfg;

fail:
    json_decref(root);
    og_config_free(cfg);
    return NULL;
}

struct og_config *og_config_load(const char *path, char *err, size_t errlen)
{
    struct og_config *cfg = NULL;
    char *buf = NULL;
    size_t len;
    FILE *fp = fopen(path, "rb");

    if (!fp) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    len = fread(buf, 1, CONFIG_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    if (len > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
        goto done;
    }
    cfg = og_config_parse(buf, len, path, err, errlen);
done:
    free(buf);
    fclose(fp);
    return cfg;
}

static void policy_entry_free(struct og_policy_entry *e)
{
    strlist_free(&e->users);
    strlist_free(&e->groups);
    for (size_t i = 0; i < e->nconditions; i++) {
        free(e->conditions[i].expression);
        free(e->conditions[i].message);
        free(e->conditions[i].where);
        og_cel_program_free(e->conditions[i].program);
    }
    free(e->conditions);
    free(e->where);
}

static void globs_free(struct og_glob **globs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        og_glob_free(globs[i]);
    free(globs);
}

static void free_secret(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static void openid_issuer_free(struct og_openid_issuer *is)
{
    free(is->issuer);
    strlist_free(&is->audiences);
    free(is->username);
    og_cel_program_free(is->username_prog);
    free(is->groups);
    og_cel_program_free(is->groups_prog);
    for (size_t i = 0; i < is->nvars; i++) {
        free(is->vars[i].name);
        og_cel_program_free(is->vars[i].prog);
    }
    free(is->vars);
    for (size_t i = 0; i < is->nchecks; i++) {
        free(is->checks[i].text);
        og_cel_program_free(is->checks[i].prog);
        free(is->checks[i].message);
    }
    free(is->checks);
}

void og_config_free(struct og_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->realm);
    free(cfg->registry_url);
    free(cfg->redis_url);
    free(cfg->redis_prefix);
    free_secret(cfg->redis_password);
    strlist_free(&cfg->redis_sentinels);
    free(cfg->redis_master_name);
    free(cfg->redis_username);
    free(cfg->redis_sentinel_username);
    free_secret(cfg->redis_sentinel_password);
    for (size_t i = 0; i < cfg->nopenid; i++)
        openid_issuer_free(&cfg->openid[i]);
    free(cfg->openid);
    free(cfg->openid_client_id);
    free_secret(cfg->openid_client_secret);
    strlist_free(&cfg->openid_scopes);
    free(cfg->htpasswd_path);

    for (size_t i = 0; i < cfg->nrules; i++) {
        struct og_repo_rule *r = &cfg->rules[i];

        free(r->pattern);
        if (r->glob)
            og_glob_free(r->glob);
        for (size_t j = 0; j < r->npolicies; j++)
            policy_entry_free(&r->policies[j]);
        free(r->policies);
    }
    free(cfg->rules);
    og_glob_index_free(cfg->rule_index);
    policy_entry_free(&cfg->admin);
    for (size_t i = 0; i < cfg->ngroups; i++) {
        free(cfg->groups[i].name);
        strlist_free(&cfg->groups[i].users);
    }
    free(cfg->groups);
    strlist_free(&cfg->metrics_users);

    for (size_t i = 0; i < cfg->nimmutable; i++) {
        globs_free(cfg->immutable[i].repos, cfg->immutable[i].nrepos);
        globs_free(cfg->immutable[i].tags, cfg->immutable[i].ntags);
        free(cfg->immutable[i].text);
    }
    free(cfg->immutable);
    og_glob_index_free(cfg->immutable_index);

    free(cfg->token_realm);
    free(cfg->token_service);
    free(cfg->token_key_file);
    strlist_free(&cfg->endpoint_apikey);
    free(cfg->endpoint_metrics);
    free(cfg->endpoint_health);
    free(cfg->endpoint_login);
    free(cfg->endpoint_callback);
    free(cfg->endpoint_logout);
    free(cfg->endpoint_keys);
    free(cfg->external_url);
    free(cfg->session_key_file);
    free(cfg->log_level);
    free(cfg->log_format);
    free(cfg);
}

static bool strlist_has(const struct og_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

bool og_config_group_has_user(const struct og_config *cfg, const char *group, const char *user)
{
    if (!cfg || !group || !user || !user[0])   /* anonymous belongs to no group */
        return false;
    for (size_t i = 0; i < cfg->ngroups; i++)
        if (strcmp(cfg->groups[i].name, group) == 0 && strlist_has(&cfg->groups[i].users, user))
            return true;
    return false;
}
