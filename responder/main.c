/*
 * main.c - `ocigate SUBCOMMAND ...`: dispatch only.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ocigate_build.h"
#include "commands.h"
#include "serve.h"

static void usage(FILE *f)
{
    fprintf(f,
            "ocigate %s - a FastCGI authorizer for OCI container registries\n"
            "\n"
            "usage:\n"
            "  ocigate serve   [-c FILE] [--listen unix:PATH[,mode=0660][,group=NAME]|tcp:HOST:PORT]\n"
            "                  [--workers N]\n"
            "  ocigate check   [-c FILE]\n"
            "  ocigate explain [-c FILE] [--user U] [--group G]... [--existing-tag T]... METHOD URI\n"
            "  ocigate key create [-c FILE] --user U [--group G]... [--repo GLOB]... [--expires 90d|RFC3339] [--label TEXT]\n"
            "  ocigate key list   [-c FILE] [--user U] [--json]\n"
            "  ocigate key show   [-c FILE] ID\n"
            "  ocigate key revoke [-c FILE] ID\n"
            "  ocigate tag claims  [-c FILE]\n"
            "  ocigate tag unclaim [-c FILE] REPO:TAG\n"
            "  ocigate token-key generate > FILE\n"
            "  ocigate session-key generate > FILE\n"
            "  ocigate --version | --help | SUBCOMMAND --help\n"
            "\n"
            "The config file is -c FILE, else $OCIGATE_CONFIG, else /etc/ocigate/ocigate.json.\n",
            PACKAGE_VERSION);
}

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "workers", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct og_serve_options o = { NULL, NULL, 0 };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "ocigate serve: --workers: expected 1..256\n");
                return 2;
            }
            o.workers = (int)n;
            break;
        }
        case 'h':
            printf("usage: ocigate serve [-c FILE] [--listen unix:PATH[,mode=0660][,group=NAME]|"
                   "tcp:HOST:PORT] [--workers N]\n"
                   "  Socket: --listen, else systemd (LISTEN_FDS), else launchd, else fd 0 when it\n"
                   "  is a listening socket. SIGHUP reloads, SIGTERM drains and exits.\n"
                   "  unix: options, comma-separated, any order, each once: mode=OCTAL (default\n"
                   "  0660, also with group= alone), group=NAME or a numeric gid (default: the\n"
                   "  group of the user ocigate runs as). A web server running as www-data needs\n"
                   "  e.g. --listen unix:/run/ocigate/ocigate.sock,mode=0660,group=www-data\n");
            return 0;
        default:
            fprintf(stderr, "usage: ocigate serve [-c FILE] [--listen ...] [--workers N]\n");
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ocigate serve: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    o.config_path = og_default_config_path(o.config_path);
    return og_serve(&o);
}

int main(int argc, char **argv)
{
    const char *cmd;
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ocigate: cannot initialise libcurl\n");
        return 2;
    }
    if (argc < 2) {
        /* spawned by a web server (lighttpd bin-path, spawn-fcgi) without arguments */
        if (og_is_listening_socket(0)) {
            char *args[] = { "serve", NULL };
            return cmd_serve(1, args);
        }
        usage(stderr);
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("ocigate %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0)
        rc = cmd_serve(argc - 1, argv + 1);
    else if (strcmp(cmd, "check") == 0)
        rc = og_cmd_check(argc - 1, argv + 1);
    else if (strcmp(cmd, "explain") == 0)
        rc = og_cmd_explain(argc - 1, argv + 1);
    else if (strcmp(cmd, "key") == 0)
        rc = og_cmd_key(argc - 1, argv + 1);
    else if (strcmp(cmd, "tag") == 0)
        rc = og_cmd_tag(argc - 1, argv + 1);
    else if (strcmp(cmd, "token-key") == 0)
        rc = og_cmd_token_key(argc - 1, argv + 1);
    else if (strcmp(cmd, "session-key") == 0)
        rc = og_cmd_session_key(argc - 1, argv + 1);
    else {
        fprintf(stderr, "ocigate: unknown subcommand \"%s\"\n", cmd);
        usage(stderr);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
