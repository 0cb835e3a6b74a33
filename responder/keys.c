/* responder/keys.c - STUB, being written (issue 3): `ocigate key ...`. */
#include <stdio.h>
#include "commands.h"
int og_cmd_key(int argc, char **argv)
{ (void)argc; (void)argv; fprintf(stderr, "ocigate key: not implemented yet\n"); return 2; }
