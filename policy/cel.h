/*
 * cel.h - a bounded subset of CEL (Common Expression Language) for config
 * expressions: accessControl conditions over `req`, and claim rules over
 * `claims` (doc/decisions.md lists the subset).
 *
 * Compile once when the config loads (og_cel_compile: syntax and type
 * errors come back with a 1-based column and a message), evaluate many
 * times (og_cel_eval) without allocating: every value an evaluation makes
 * (a concatenated string, a list literal...) lives in a caller-provided
 * struct og_cel_scratch of fixed size; running out of it is an evaluation
 * error, never a crash. Source length, nesting depth and the number of
 * nodes are bounded at compile time, so the work per evaluation is too.
 *
 * Variables are declared by dotted name before compiling ("req.method",
 * "req.user.groups", "claims", "vars.team"...); an identifier path in an
 * expression resolves to the longest declared name it starts with, and
 * whatever follows is member access on that value (a JSON object, a map).
 * The activation is an array of values in declaration order.
 *
 * Errors follow CEL: `false && error` is false, `true || error` is true,
 * every other use of an error is an error; reading an absent key is an
 * error. Pure: no I/O, no allocation in og_cel_eval.
 */
#ifndef OCIGATE_POLICY_CEL_H
#define OCIGATE_POLICY_CEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's json_t */

#define OG_CEL_MAX_SOURCE 4096   /* bytes of expression text */
#define OG_CEL_MAX_NODES 256     /* syntax nodes per expression */
#define OG_CEL_MAX_DEPTH 32      /* nesting */
#define OG_CEL_SCRATCH_BYTES 4096
#define OG_CEL_SCRATCH_VALUES 512

enum og_cel_kind {
    OG_CEL_ERROR = 0,  /* u.error: static message */
    OG_CEL_NULL,
    OG_CEL_BOOL,       /* u.b */
    OG_CEL_INT,        /* u.i */
    OG_CEL_DOUBLE,     /* u.d (JSON numbers that are not integers) */
    OG_CEL_STRING,     /* u.s (not NUL-terminated) */
    OG_CEL_TIMESTAMP,  /* u.ts, UTC */
    OG_CEL_LIST,       /* form says where the elements are */
    OG_CEL_MAP,        /* string keys; form says where the entries are */
    OG_CEL_DYN,        /* declarations only: any kind, checked when evaluated */
};

enum og_cel_form {
    OG_CEL_FORM_VALUES = 0, /* list: u.vals.v[0..n); map: pairs u.vals.v[2i] key, [2i+1] value */
    OG_CEL_FORM_STRS,       /* list of C strings u.strs.v[0..n) */
    OG_CEL_FORM_CSV,        /* list: the comma-separated items of u.s, each trimmed of
                               spaces and tabs, empty items skipped (X-Forwarded-For) */
    OG_CEL_FORM_JSON,       /* u.json: a JSON array (LIST) or object (MAP) */
};

struct og_cel_value {
    enum og_cel_kind kind;
    enum og_cel_form form;
    union {
        bool b;
        int64_t i;
        double d;
        struct { const char *p; size_t n; } s;
        struct { int64_t sec; int32_t nsec; } ts;
        struct { const struct og_cel_value *v; size_t n; } vals;
        struct { const char *const *v; size_t n; } strs;
        const struct json_t *json;
        const char *error;
    } u;
};

/* One declared variable: a dotted name and the kind of its value
   (OG_CEL_DYN: any, e.g. a JSON value; OG_CEL_LIST: a list of strings). */
struct og_cel_decl {
    const char *name;
    enum og_cel_kind kind;
};

struct og_cel_error {
    size_t column;   /* 1-based byte column in the expression; 0: none */
    char msg[160];
};

struct og_cel_program;

/* Compile src[0..len). Returns NULL and fills err (if not NULL) on a syntax
   or type error, or when a bound is exceeded. The declarations are copied
   (names included); the program keeps no pointer into src or decls. */
struct og_cel_program *og_cel_compile(const char *src, size_t len,
                                      const struct og_cel_decl *decls, size_t ndecls,
                                      struct og_cel_error *err);
void og_cel_program_free(struct og_cel_program *p);

/* The kind of the result as far as the compiler knows (OG_CEL_DYN when it
   depends on data), e.g. to require OG_CEL_BOOL for a condition. */
enum og_cel_kind og_cel_result_kind(const struct og_cel_program *p);

/* Where an evaluation keeps what it makes. og_cel_eval does not reset it:
   results stay valid until og_cel_scratch_reset, so one evaluation's result
   can be the variable of the next (claim rule `variables`). */
struct og_cel_scratch {
    size_t nvals, nbytes;
    struct og_cel_value vals[OG_CEL_SCRATCH_VALUES];
    char bytes[OG_CEL_SCRATCH_BYTES];
};
void og_cel_scratch_reset(struct og_cel_scratch *s);

/* Evaluate with vars[i] the value of decls[i] given at compile time (the
   array must have as many entries). The result may point into vars, the
   JSON values they reference, the program and the scratch. Returns true
   unless the result is an error (out->kind == OG_CEL_ERROR, with
   out->u.error a static message). */
bool og_cel_eval(const struct og_cel_program *p, const struct og_cel_value *vars,
                 struct og_cel_scratch *s, struct og_cel_value *out);

/* Value constructors for the activation. */
struct og_cel_value og_cel_bool(bool b);
struct og_cel_value og_cel_int(int64_t i);
struct og_cel_value og_cel_str(const char *p, size_t n);
struct og_cel_value og_cel_cstr(const char *p);           /* NULL: "" */
struct og_cel_value og_cel_strs(const char *const *v, size_t n);
struct og_cel_value og_cel_csv(const char *p, size_t n);
struct og_cel_value og_cel_timestamp(int64_t sec, int32_t nsec);
struct og_cel_value og_cel_json(const struct json_t *j); /* NULL: an empty map */

/* Lists and maps, whatever their form. og_cel_list_get/og_cel_map_get return
   false when the index or key is absent (or the value is not a list/map). */
size_t og_cel_size(const struct og_cel_value *v);
bool og_cel_list_get(const struct og_cel_value *list, size_t i, struct og_cel_value *out);
bool og_cel_map_get(const struct og_cel_value *map, const char *key, size_t key_len,
                    struct og_cel_value *out);

/* Write a value as CEL-like text (strings quoted, lists in [...]) into
   buf[0..n), NUL-terminated and truncated; for explain and logs. */
void og_cel_format(const struct og_cel_value *v, char *buf, size_t n);

/* Parse an RFC 3339 timestamp ("2099-12-31T23:59:59Z", fractions and
   offsets allowed). */
bool og_cel_parse_timestamp(const char *p, size_t n, int64_t *sec, int32_t *nsec);

#endif
