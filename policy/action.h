/*
 * action.h - the registry actions of zot's accessControl and their names.
 *
 * Actions are bits so that a policy entry's grant is one word and the
 * decision is a mask test. The names are zot's, unchanged.
 */
#ifndef OCIGATE_POLICY_ACTION_H
#define OCIGATE_POLICY_ACTION_H

#include <stddef.h>

enum og_action {
    OG_ACT_NONE   = 0,
    OG_ACT_READ   = 1 << 0,
    OG_ACT_CREATE = 1 << 1,
    OG_ACT_UPDATE = 1 << 2,
    OG_ACT_DELETE = 1 << 3,
    OG_ACT_DETECT_MANIFEST_COLLISION = 1 << 4,
};

/* "read", "create", ...; "none" for OG_ACT_NONE; "?" for a mask of several bits. */
const char *og_action_name(unsigned action);

/* Parse one action name (exact, case-sensitive). Returns OG_ACT_NONE if unknown. */
unsigned og_action_parse(const char *s, size_t len);

#endif
