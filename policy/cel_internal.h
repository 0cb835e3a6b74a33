/*
 * cel_internal.h - the compiled form of a CEL expression, shared by the
 * compiler (cel.c) and the evaluator (cel_eval.c). Not for other callers.
 */
#ifndef OCIGATE_POLICY_CEL_INTERNAL_H
#define OCIGATE_POLICY_CEL_INTERNAL_H

#include "cel.h"
#include "cel_regex.h"

enum og_cel_op {
    N_LIT = 1,   /* lit */
    N_VAR,       /* var: declaration index */
    N_SELECT,    /* a.name */
    N_HAS,       /* has(a.name): a is the operand, name the field; var>=0: a declared name */
    N_INDEX,     /* a[b] */
    N_LIST,      /* [a, a.next, ...] (nargs) */
    N_MAP,       /* {k: v, ...}: a = first key, key.next = value, value.next = next key */
    N_NOT, N_NEG,
    N_AND, N_OR,
    N_COND,      /* a ? b : c */
    N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_IN,
    N_ADD, N_SUB, N_MUL, N_DIV, N_MOD,
    N_CALL,      /* fn over args a, a.next...; receiver calls put the receiver first */
};

enum og_cel_fn {
    F_SIZE = 1, F_STARTS, F_ENDS, F_CONTAINS, F_MATCHES, F_LOWER, F_UPPER, F_TIMESTAMP,
    F_INCIDR, F_STRING, F_INT,
};

struct og_cel_node {
    uint8_t op, fn;
    uint16_t col;            /* 1-based column */
    int16_t a, b, c, next;   /* children; -1 none */
    int16_t var;             /* N_VAR, N_HAS */
    uint16_t nargs;
    int16_t re;              /* N_CALL matches with a constant pattern: regex index; -1 */
    enum og_cel_kind kind;   /* static kind (OG_CEL_DYN: known when evaluated) */
    const char *name;        /* N_SELECT, N_HAS: field name (in the pool) */
    size_t name_len;
    struct og_cel_value lit; /* N_LIT */
};

struct og_cel_program {
    struct og_cel_node *nodes;
    size_t nnodes;
    int root;
    struct og_re *res;
    size_t nres;
    size_t ndecls;
    char *pool;              /* string literals */
    char *names;             /* field names */
};

/* "10.0.0.0/8", "fd00::/8" or one address (cel_eval.c). */
bool og_cel_cidr_parse(const char *p, size_t n, uint8_t addr[16], unsigned *bits, bool *v4);

#endif
