/*
 * form.h - application/x-www-form-urlencoded bodies of ocigate's own pages
 * (the key page's forms): a bounded parser over a length, no allocation.
 */
#ifndef OCIGATE_FORM_H
#define OCIGATE_FORM_H

#include <stdbool.h>
#include <stddef.h>

#define OG_FORM_MAX_PAIRS 64      /* more pairs than this: malformed */
#define OG_FORM_NAME_MAX  32      /* longer field names: malformed */

/* One field the caller wants: name, where its decoded value goes (cap bytes,
   NUL-terminated), and whether it was present. */
struct og_form_field {
    const char *name;
    char *val;
    size_t cap;
    bool seen;
};

/*
 * Parse body[0..len): pairs separated by '&', "name=value" ("name" alone is
 * an empty value), '+' is a space, %XX a byte. Each wanted field's value is
 * decoded into its buffer; other names are skipped (a submit button's name).
 * Returns 0, or -1 when malformed: a bad %-escape, a NUL or a control byte
 * other than TAB, CR and LF in a value (after decoding), any control byte
 * in a name, a wanted field given twice, a value longer than its buffer,
 * a name longer than OG_FORM_NAME_MAX, more than OG_FORM_MAX_PAIRS pairs.
 * On -1 every wanted buffer is left empty ("").
 */
int og_form_parse(const char *body, size_t len, struct og_form_field *fields, size_t nfields);

#endif
