/*
 * session_key_cmd.c - `ocigate session-key generate > FILE`: write a new
 * session key (session.keyFile) for the browser sign-in cookie. The key is
 * made by og_session_key_generate (auth/session.c).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "session.h"

int og_cmd_session_key(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "generate") == 0) {
        if (isatty(STDOUT_FILENO)) {
            fprintf(stderr, "ocigate session-key generate: refusing to print a key to a "
                            "terminal; redirect it: ocigate session-key generate > session.key\n");
            return 2;
        }
        if (og_session_key_generate(stdout) != 0) {
            fprintf(stderr, "ocigate session-key generate: cannot generate a key\n");
            return 1;
        }
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ocigate session-key generate > FILE\n"
               "  Write a new session key for the browser sign-in cookie (session.keyFile),\n"
               "  mode 0600. Every worker and host serving one registry must share the file;\n"
               "  a new key signs everybody out.\n");
        return 0;
    }
    fprintf(stderr, "usage: ocigate session-key generate > FILE\n");
    return 2;
}
