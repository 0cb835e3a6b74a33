#!/usr/bin/env bash
# socket_group.sh - `--listen unix:PATH,mode=0660,group=www-data` lets nginx's
# workers, running as www-data, reach ocigate's socket; without group= they
# cannot (the socket keeps root's group) and every request fails closed.
#
#   nginx started by root with "user www-data;" (its workers run as
#   www-data), deploy/nginx/ocigate.conf (auth_request) with its install
#   paths replaced, docker-registry, redis-server, ocigate serve:
#     (a) --listen unix:$T/og.sock,mode=0660,group=www-data (the options
#         deploy/nginx/ocigate.conf documents; ocigate.socket's SocketMode/
#         SocketGroup say the same)
#         the socket is root:www-data 0660; an anonymous pull through nginx
#         gets 200, an anonymous push 401; www-data can connect, nobody else
#     (b) --listen unix:$T/og.sock,mode=0660 (what is left is root's group)
#         the finding this option fixes: nginx's worker gets "Permission
#         denied" on the socket, the client 500/502 and never an allow, and
#         the registry sees nothing
#     (c) group= by number; startup refusals (unknown group, unknown or
#         repeated option, a chown that is not permitted): ocigate exits
#         non-zero naming the option and leaves no socket behind
#
# Needs root (nginx's "user" directive and chown to another group do) and a
# www-data user and group. TAP; skipped unless OCIGATE_E2E=1; everything
# started here is stopped and $T removed on any exit.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/webserver_lib.sh"
e2e_init redis-server docker-registry nginx skopeo curl jq htpasswd python3 setpriv

[ "$(id -u)" = 0 ] || missing_all "needs root: nginx's \"user www-data;\" and chown to www-data"
getent passwd www-data > /dev/null && getent group www-data > /dev/null \
    || missing_all "no www-data user and group"
WWW_GID=$(getent group www-data | cut -d: -f3)
# $T is 0755 under a sticky /tmp: www-data must be able to reach the socket
# through every directory above it, or the test would show nothing.
setpriv --reuid=www-data --regid=www-data --init-groups test -x "$T" \
    || bail "www-data cannot traverse $T (set TMPDIR to a directory every user may enter)"

OCI_MT=application/vnd.oci.image.manifest.v1+json
RUN=$RANDOM$RANDOM
SOCK=$T/og.sock

read -r REDIS_PORT REG_PORT NGX_PORT <<<"$(free_ports 3)"
make_htpasswd "$T/htpasswd" admin ci
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd"
start_redis "$REDIS_PORT"
start_registry "$REG_PORT"

# An image in the registry to pull, pushed straight to it (not through nginx).
mkimage "$T/img" v1 > /dev/null || bail "mkimage failed"
skopeo_copy "oci:$T/img:v1" "docker://127.0.0.1:$REG_PORT/sg-$RUN/app:v1" --dest-no-creds \
    || bail "seeding the registry failed: $(tail -n 3 "$T/skopeo.log")"

# og NAME LISTEN: ocigate serve in the background, log $T/NAME.log; sets OG_PID.
og() {
    "$OCIGATE_BIN" serve -c "$T/ocigate.json" --listen "$2" --workers 2 >> "$T/$1.log" 2>&1 &
    OG_PID=$!
    register_pid "$OG_PID"
    wait_socket "$SOCK" 10 "$OG_PID" || bail "ocigate ($1) did not listen on $SOCK"
}

# connects_as USER: what USER (with its own groups) gets connecting to the
# socket: "connected" or the error's name (e.g. PermissionError). The
# system's python3: one from a root-only directory (pyenv) would not start.
SYS_PY=$(PATH=/usr/local/bin:/usr/bin:/bin command -v python3) || bail "no python3 in /usr/bin"
connects_as() {
    setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups "$SYS_PY" -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(2)
try:
    s.connect(sys.argv[1]); print("connected")
except OSError as e:
    print(type(e).__name__)' "$SOCK" 2>&1
}

# registry_saw ERE: the registry's access-log lines matching ERE.
registry_saw() { grep -cE -- "$1" "$T/registry.log" || true; }

plan 23

deploy_copy "$DEPLOY/nginx/ocigate.conf" "$T/nginx-site.conf" \
    sock="$SOCK" regport="$REG_PORT" port="$NGX_PORT"
U=http://127.0.0.1:$NGX_PORT
PULL=$U/v2/sg-$RUN/app/manifests/v1
PUSH=$U/v2/sg-$RUN/new/blobs/uploads/

# The --listen line the shipped nginx config documents, and systemd's
# equivalent in ocigate.socket: (a) runs exactly the documented options.
NGX_OPTS=$(sed -n 's#^\#.*--listen unix:/run/ocigate/ocigate\.sock\(,[^ ]*\)$#\1#p' \
    "$DEPLOY/nginx/ocigate.conf" | head -n 1)
is "$NGX_OPTS" ",mode=0660,group=www-data" \
    "deploy/nginx/ocigate.conf documents --listen unix:/run/ocigate/ocigate.sock,mode=0660,group=www-data"
is "$(sed -n 's/^SocketMode=//p' "$DEPLOY/systemd/ocigate.socket"),$(sed -n 's/^SocketGroup=//p' "$DEPLOY/systemd/ocigate.socket")" \
    "0660,www-data" "deploy/systemd/ocigate.socket: SocketMode=0660, SocketGroup=www-data (the same)"

# ----------------------------------------------- (a) group=www-data -------

og og-group "unix:$SOCK${NGX_OPTS:-,mode=0660,group=www-data}"
NGINX_USER=www-data start_nginx nginx "$NGX_PORT" "$T/nginx-site.conf"
is "$(ps -o user= --ppid "$SERVER_PID" | sort -u | tr -d ' ' | paste -sd,)" www-data \
    "nginx's worker runs as www-data (user www-data;)"
is "$(stat -c '%U %G %a' "$SOCK")" "root www-data 660" \
    "--listen unix:PATH,mode=0660,group=www-data: the socket is root:www-data, mode 0660"
is "$(connects_as www-data)" connected "www-data can connect to the socket"
is "$(connects_as nobody)" PermissionError "nobody (not in www-data) cannot connect to it"
is "$(req pull-a -H "Accept: $OCI_MT" "$PULL")" 200 "(a) anonymous pull through nginx: 200"
like "$(hdr pull-a Docker-Content-Digest)" '^sha256:[0-9a-f]{64}$' "(a) ... answered by the registry"
is "$(req push-a -X POST -H 'Content-Length: 0' "$PUSH")" 401 "(a) anonymous push through nginx: 401"
like "$(hdr push-a WWW-Authenticate)" '^Basic realm=' "(a) ... with ocigate's Basic challenge"

stop_pid "$OG_PID"
ok '[ ! -e "$SOCK" ]' "ocigate removes its socket when it stops"

# ------------------------------------- (b) without group=: root's group -----

before=$(wc -l < "$T/nginx.log")
og og-nogroup "unix:$SOCK,mode=0660"
is "$(stat -c '%U %G %a' "$SOCK")" "root root 660" \
    "--listen unix:PATH,mode=0660 (no group=): the socket keeps root's group"
is "$(connects_as www-data)" PermissionError "(b) www-data cannot connect to it"
registry_log_settled "$REG_PORT" || diag "registry log not settled"
reg_before=$(registry_saw "sg-$RUN/")
code_pull=$(req pull-b -H "Accept: $OCI_MT" "$PULL")
code_push=$(req push-b -X POST -H 'Content-Length: 0' "$PUSH")
like "$code_pull" '^50[02]$' "(b) anonymous pull: nginx cannot reach ocigate, 500/502 (got $code_pull)"
like "$code_push" '^50[02]$' "(b) anonymous push: 500/502 too, never 401 or 202 (got $code_push)"
denied=$(tail -n +"$((before + 1))" "$T/nginx.log" | grep -F "$SOCK" | grep -c 'Permission denied')
ok '[ "$denied" -ge 1 ]' "(b) nginx's error log: connect() to $SOCK failed (13: Permission denied)"
registry_log_settled "$REG_PORT" || diag "registry log not settled"
is "$(registry_saw "sg-$RUN/")" "$reg_before" "(b) the registry saw neither request (nothing allowed)"
stop_pid "$OG_PID"

# ------------------------------------------- (c) by gid; refusals ---------

og og-gid "unix:$SOCK,group=$WWW_GID"
is "$(stat -c '%G %a' "$SOCK")" "www-data 660" \
    "group=$WWW_GID (a number) without mode=: group www-data, mode 0660 (the default)"
is "$(req pull-c -H "Accept: $OCI_MT" "$PULL")" 200 "(c) anonymous pull through nginx again: 200"
stop_pid "$OG_PID"

BIN=$OCIGATE_BIN
# refused NAME LISTEN ERE [RUNNER...]: ocigate serve exits non-zero at once,
# its message matches ERE, and no socket is left at $SOCK.
refused() {
    local name=$1 listen=$2 ere=$3 rc
    shift 3
    timeout 10 "$@" "$BIN" serve -c "$T/ocigate.json" --listen "$listen" --workers 1 \
        > "$T/$name.err" 2>&1
    rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qE -- "$ere" "$T/$name.err" && [ ! -e "$SOCK" ]; then
        ok 0 "$name: exits $rc, \"$(grep -E -- "$ere" "$T/$name.err" | head -n 1 | cut -c1-160)\", no socket"
    else
        ok 1 "$name: exits non-zero with /$ere/ and leaves no socket"
        diag "exit $rc; socket: $(ls -l "$SOCK" 2>&1)" "$(head -n 5 "$T/$name.err")"
    fi
}
refused "unknown group" "unix:$SOCK,mode=0660,group=no-such-group-$RUN" \
    "group=no-such-group-$RUN: no such group"
refused "unknown option" "unix:$SOCK,mode=0660,owner=www-data" 'unknown option "owner"'
refused "repeated option" "unix:$SOCK,group=www-data,mode=0660,group=www-data" "group= given twice"
# as nobody (not in www-data), in a directory nobody may write: the socket
# is made, the chown is refused, and the socket is removed again
mkdir -m 0777 "$T/open"
SOCK=$T/open/og.sock
chmod 0644 "$T/ocigate.json" "$T/htpasswd"
# a copy nobody can run whatever the build tree's permissions
cp "$OCIGATE_BIN" "$T/open/ocigate" && chmod 0755 "$T/open/ocigate" && BIN=$T/open/ocigate
refused "chown not permitted" "unix:$SOCK,mode=0660,group=www-data" \
    'group=www-data \(gid [0-9]+\): cannot give the socket this group: Operation not permitted' \
    setpriv --reuid=nobody --regid=nogroup --clear-groups

done_testing
