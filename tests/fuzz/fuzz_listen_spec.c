/*
 * fuzz_listen_spec.c - og_listen_unix_parse (responder/listen_spec.c), the
 * text after "unix:" in `--listen unix:PATH[,mode=OCTAL][,group=NAME|GID]`.
 *
 * Input: the whole text, from a heap block of exactly its length. Checks
 * beside memory safety: a refusal always says why; the answer does not
 * depend on having a message buffer; an accepted spec has a non-empty path
 * without a comma, a mode of at most 0777 (0660 unless mode= was given) and
 * a valid group; and written back in canonical form it parses to the same.
 */
#include "fuzz_common.h"

#include <stdio.h>

#include "listen_spec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct og_listen_unix u, v;
    char err[256], canon[512];
    char *text;
    int rc, n;

    if (size > 4096)
        return 0;
    text = fz_dup_exact(data, size);
    err[0] = 'x';
    rc = og_listen_unix_parse(text, size, &u, err, sizeof(err));
    FZ_ASSERT(rc == 0 || rc == -1);
    FZ_ASSERT(og_listen_unix_parse(text, size, &v, NULL, 0) == rc);
    if (rc != 0) {
        FZ_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
        free(text);
        return 0;
    }
    FZ_ASSERT(err[0] == '\0');
    FZ_ASSERT(u.path[0] != '\0' && strlen(u.path) < OG_LISTEN_PATH_MAX);
    FZ_ASSERT(!strchr(u.path, ','));
    FZ_ASSERT(u.mode <= 0777);
    FZ_ASSERT(u.mode_given || u.mode == OG_LISTEN_DEFAULT_MODE);
    if (u.group_given && !u.group_is_gid)
        FZ_ASSERT(u.group[0] != '\0' && u.group[0] != '-' && !strpbrk(u.group, ",:/\\ "));
    FZ_ASSERT(!u.group_given || u.group_is_gid || strlen(u.group) < OG_LISTEN_GROUP_MAX);
    FZ_ASSERT(!u.group_is_gid || u.gid != (gid_t)-1);

    /* canonical form: PATH[,mode=%04o][,group=...] */
    n = snprintf(canon, sizeof(canon), "%s", u.path);
    if (u.mode_given)
        n += snprintf(canon + n, sizeof(canon) - (size_t)n, ",mode=%04o", (unsigned)u.mode);
    if (u.group_given && u.group_is_gid)
        n += snprintf(canon + n, sizeof(canon) - (size_t)n, ",group=%lu", (unsigned long)u.gid);
    else if (u.group_given)
        n += snprintf(canon + n, sizeof(canon) - (size_t)n, ",group=%s", u.group);
    FZ_ASSERT(n > 0 && (size_t)n < sizeof(canon));
    FZ_ASSERT(og_listen_unix_parse(canon, (size_t)n, &v, err, sizeof(err)) == 0);
    FZ_ASSERT(strcmp(u.path, v.path) == 0 && u.mode == v.mode && u.mode_given == v.mode_given &&
              u.group_given == v.group_given && u.group_is_gid == v.group_is_gid &&
              (!u.group_is_gid || u.gid == v.gid) && strcmp(u.group, v.group) == 0);
    free(text);
    return 0;
}
