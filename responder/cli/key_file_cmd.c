/*
 * key_file_cmd.c - `ocigate token-key generate > FILE` and `ocigate
 * session-key generate > FILE`: write a new key file. The token key is an
 * EC P-256 signing key for the token endpoint (token.keyFile, made by
 * og_token_key_generate in auth/token.c); the session key seals the browser
 * sign-in cookie (session.keyFile, og_session_key_generate in
 * auth/session.c). Neither is ever printed to a terminal.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "session.h"
#include "token.h"

struct key_file {
    const char *cmd;       /* "token-key" */
    const char *file;      /* the file name in the hint: "token.key" */
    const char *help;      /* what --help says after the usage line */
    int (*generate)(FILE *out);
};

static int key_file_command(const struct key_file *k, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "generate") == 0) {
        if (isatty(STDOUT_FILENO)) {
            fprintf(stderr, "ocigate %s generate: refusing to print a key to a terminal; "
                            "redirect it: ocigate %s generate > %s\n", k->cmd, k->cmd, k->file);
            return 2;
        }
        if (k->generate(stdout) != 0) {
            fprintf(stderr, "ocigate %s generate: cannot generate a key\n", k->cmd);
            return 1;
        }
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ocigate %s generate > FILE\n%s", k->cmd, k->help);
        return 0;
    }
    fprintf(stderr, "usage: ocigate %s generate > FILE\n", k->cmd);
    return 2;
}

int og_cmd_token_key(int argc, char **argv)
{
    static const struct key_file k = {
        "token-key", "token.key",
        "  Write a new EC P-256 signing key for the token endpoint (token.keyFile).\n"
        "  Every worker and host serving one registry must share the same file.\n",
        og_token_key_generate,
    };
    return key_file_command(&k, argc, argv);
}

int og_cmd_session_key(int argc, char **argv)
{
    static const struct key_file k = {
        "session-key", "session.key",
        "  Write a new session key for the browser sign-in cookie (session.keyFile),\n"
        "  mode 0600. Every worker and host serving one registry must share the file;\n"
        "  a new key signs everybody out.\n",
        og_session_key_generate,
    };
    return key_file_command(&k, argc, argv);
}
