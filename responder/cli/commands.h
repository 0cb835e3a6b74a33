/*
 * commands.h - the operator subcommands other than serve.
 */
#ifndef OCIGATE_COMMANDS_H
#define OCIGATE_COMMANDS_H

/* Each returns the process exit status. argv[0] is the subcommand name. */
int og_cmd_explain(int argc, char **argv);
int og_cmd_check(int argc, char **argv);
int og_cmd_key(int argc, char **argv);        /* key create|list|show|revoke */
int og_cmd_token_key(int argc, char **argv);  /* token-key generate */
int og_cmd_tag(int argc, char **argv);        /* tag claims|unclaim */

/* -c FILE, else $OCIGATE_CONFIG, else /etc/ocigate/ocigate.json */
const char *og_default_config_path(const char *given);

#endif
