/*
 * cel_regex.h - the regular expressions of CEL's matches(): a subset that
 * runs in time linear in the text (a Thompson NFA simulated over a bounded
 * program, no backtracking, no backreferences). doc/decisions.md lists it.
 *
 * Pure: compiling fills a caller's struct (no allocation), matching uses
 * fixed arrays on the stack.
 */
#ifndef OCIGATE_POLICY_CEL_REGEX_H
#define OCIGATE_POLICY_CEL_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OG_RE_MAX_INSNS 256
#define OG_RE_MAX_CLASSES 64

struct og_re_insn {
    uint8_t op;      /* OG_RE_* in cel_regex.c */
    uint8_t c;       /* CHAR: the byte; CLASS: the class index */
    uint16_t x, y;   /* SPLIT: both targets; JMP: x */
};

struct og_re {
    struct og_re_insn insn[OG_RE_MAX_INSNS];
    uint8_t class_bits[OG_RE_MAX_CLASSES][32]; /* byte sets */
    uint16_t n;
    uint8_t nclasses;
};

/* Compile pat[0..n). false: unsupported or invalid syntax, or too large; *err
   (static text) says why and *col (0-based byte offset) where. */
bool og_re_compile(struct og_re *re, const char *pat, size_t n, const char **err, size_t *col);

/* Does re match somewhere in s[0..n) (RE2's unanchored search, as CEL's matches)? */
bool og_re_search(const struct og_re *re, const char *s, size_t n);

#endif
