/*
 * listen_spec.h - the text of `--listen unix:PATH[,mode=OCTAL][,group=NAME|GID]`
 * read into its parts (pure: no file system, no group database).
 */
#ifndef OCIGATE_LISTEN_SPEC_H
#define OCIGATE_LISTEN_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

/* a path must fit, with its NUL, in a sockaddr_un */
#define OG_LISTEN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#define OG_LISTEN_GROUP_MAX 64       /* group name, NUL included */
#define OG_LISTEN_DEFAULT_MODE 0660  /* with or without group= */

struct og_listen_unix {
    char path[OG_LISTEN_PATH_MAX];
    mode_t mode;                     /* OG_LISTEN_DEFAULT_MODE unless mode= */
    bool mode_given;
    bool group_given;
    bool group_is_gid;               /* group= was all digits: gid, no lookup */
    gid_t gid;                       /* when group_is_gid */
    char group[OG_LISTEN_GROUP_MAX]; /* when group_given && !group_is_gid */
};

/* og_listen_unix_parse: TEXT (LEN bytes, the text after "unix:") into OUT.
   PATH runs to the first comma; then comma-separated options in any order,
   each at most once: mode=OCTAL (1 to 6 octal digits, at most 0777) and
   group=NAME (printable ASCII but for space , : / and \, not starting
   with '-', at most 63 bytes) or group=GID (only digits: a numeric gid,
   below 4294967295, never looked up). Returns 0, or -1 with a message in
   ERR (ERRCAP bytes) that names the option at fault. */
int og_listen_unix_parse(const char *text, size_t len, struct og_listen_unix *out,
                         char *err, size_t errcap);

#endif
