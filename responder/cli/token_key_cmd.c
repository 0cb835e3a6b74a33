/*
 * token_key_cmd.c - `ocigate token-key generate > FILE`: write a new EC P-256
 * signing key for the token endpoint (token.keyFile). The key itself is
 * made by og_token_key_generate (auth/token.c).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "token.h"

int og_cmd_token_key(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "generate") == 0) {
        if (isatty(STDOUT_FILENO)) {
            fprintf(stderr, "ocigate token-key generate: refusing to print a private key to a "
                            "terminal; redirect it: ocigate token-key generate > token.key\n");
            return 2;
        }
        if (og_token_key_generate(stdout) != 0) {
            fprintf(stderr, "ocigate token-key generate: cannot generate a key\n");
            return 1;
        }
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ocigate token-key generate > FILE\n"
               "  Write a new EC P-256 signing key for the token endpoint (token.keyFile).\n"
               "  Every worker and host serving one registry must share the same file.\n");
        return 0;
    }
    fprintf(stderr, "usage: ocigate token-key generate > FILE\n");
    return 2;
}
