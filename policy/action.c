/*
 * action.c - names of the registry actions of zot's accessControl
 * (read, create, update, delete, detectManifestCollision), both ways.
 */
#include <string.h>

#include "action.h"

static const struct {
    unsigned bit;
    const char *name;
} actions[] = {
    { OG_ACT_READ,   "read" },
    { OG_ACT_CREATE, "create" },
    { OG_ACT_UPDATE, "update" },
    { OG_ACT_DELETE, "delete" },
    { OG_ACT_DETECT_MANIFEST_COLLISION, "detectManifestCollision" },
};

#define NACTIONS (sizeof actions / sizeof actions[0])

const char *og_action_name(unsigned action)
{
    size_t i;

    if (action == OG_ACT_NONE)
        return "none";
    for (i = 0; i < NACTIONS; i++)
        if (actions[i].bit == action)
            return actions[i].name;
    return "?";
}

unsigned og_action_parse(const char *s, size_t len)
{
    size_t i;

    if (s == NULL)
        return OG_ACT_NONE;
    for (i = 0; i < NACTIONS; i++)
        if (strlen(actions[i].name) == len && memcmp(actions[i].name, s, len) == 0)
            return actions[i].bit;
    return OG_ACT_NONE;
}
