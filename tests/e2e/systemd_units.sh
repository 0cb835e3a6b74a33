#!/usr/bin/env bash
# systemd_units.sh - the service manager files shipped in deploy/systemd and
# deploy/launchd, and every socket source of "ocigate serve" (ocigate(8)):
#
#   systemd-analyze verify accepts ocigate.socket, ocigate.service and
#   ocigate-stdin.service (copies with ExecStart pointing at the built binary
#   and a test config) without a single warning, and refuses deliberately
#   broken copies; systemd-analyze security rates the sandbox;
#   the ExecStart line of ocigate.service runs under systemd-socket-activate
#   (LISTEN_FDS, fd 3) and answers FastCGI requests in both roles;
#   the ExecStart line of ocigate-stdin.service runs with the listening
#   socket on fd 0 and no LISTEN_FDS (what StandardInput=socket does) and
#   serves lighttpd with the shipped ocigate-external.conf;
#   with no socket source at all ocigate exits non-zero with a clear message;
#   the launchd plist parses (python3 plistlib), with SockPathMode the
#   integer 432 (0660) and the socket named as serve.c asks launchd for it.
#
# No registry and no Redis: the requests used need neither (a challenge, an
# anonymous denial, an htpasswd login, ocigate's own metrics).
# TAP on stdout; everything it starts is stopped and its temp dir removed on
# any exit (OCIGATE_E2E_KEEP=1 keeps the dir).

# shellcheck disable=SC2154  # PASS_<user> variables are set by make_htpasswd
. "$(dirname "$0")/lib.sh"
e2e_init lighttpd curl jq htpasswd python3

SD=$DEPLOY/systemd
read -r REG_PORT REDIS_PORT LT_PORT <<<"$(free_ports 3)"   # nothing listens on the first two
make_htpasswd "$T/htpasswd" admin ci
test_config "$T/ocigate.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd"
REALM=$(jq -r .realm "$T/ocigate.json")

# unit_copy SRC DEST: a shipped unit with the binary and config paths of
# this test (and its socket path in $T), nothing else changed
unit_copy() {
    sed -e "s#/usr/local/sbin/ocigate#$OCIGATE_BIN#g" \
        -e "s#/etc/ocigate/ocigate.json#$T/ocigate.json#g" \
        -e "s#/run/ocigate/ocigate.sock#$T/units.sock#g" "$1" > "$2"
    if grep -nE '/usr/local/sbin|/etc/ocigate|/run/ocigate' "$2" | grep -vE '^[0-9]+:[[:space:]]*#' | grep -q .; then
        bail "unit_copy: $1 still holds an install path"
    fi
}
mkdir -p "$T/units" "$T/units-stdin"
for u in ocigate.socket ocigate.service ocigate-stdin.service; do
    unit_copy "$SD/$u" "$T/units/$u"
done
# ocigate.socket with the drop-in its comment documents, as one file:
# the socket handing over to ocigate-stdin.service
cp "$T/units/ocigate-stdin.service" "$T/units-stdin/"
sed '/^\[Socket\]/a Service=ocigate-stdin.service' "$T/units/ocigate.socket" > "$T/units-stdin/ocigate.socket"

# ---------------------------------------------------- systemd-analyze -------

# sd_verify FILE: systemd-analyze verify passes AND says nothing. verify
# exits 0 on many real mistakes (an unknown key, a value it cannot parse:
# "ignoring"), so any output fails the check; the output is kept in
# $T/verify.out.
sd_verify() {
    local rc
    (cd "$(dirname "$1")" && SYSTEMD_LOG_COLOR=0 timeout 60 systemd-analyze verify --man=no \
        "./$(basename "$1")") > "$T/verify.out" 2>&1
    rc=$?
    [ "$rc" = 0 ] && ! grep -q . "$T/verify.out"
}

if command -v systemd-analyze >/dev/null 2>&1; then
    for u in units/ocigate.socket units/ocigate.service units/ocigate-stdin.service \
             units-stdin/ocigate.socket units-stdin/ocigate-stdin.service; do
        sd_verify "$T/$u"
        ok $? "systemd-analyze verify $u: accepted without a warning" || diag "$(cat "$T/verify.out")"
    done

    # deliberately broken copies: each must fail the same check
    # broken NAME UNIT SED-EXPR: a copy of units/UNIT with SED-EXPR applied
    broken() {
        local name=$1 unit=$2 expr=$3
        rm -rf "$T/broken" && cp -r "$T/units" "$T/broken"
        sed -i "$expr" "$T/broken/$unit"
        cmp -s "$T/units/$unit" "$T/broken/$unit" && bail "broken $name: '$expr' changed nothing"
        if sd_verify "$T/broken/$unit"; then
            ok 1 "systemd-analyze verify refuses $unit with $name"
        else
            ok 0 "systemd-analyze verify refuses $unit with $name"
            diag "  $(head -n 2 "$T/verify.out")"
        fi
    }
    broken "a misspelt sandbox key (ProtectSytem=)" ocigate.service 's/^ProtectSystem=strict/ProtectSytem=strict/'
    broken "a misspelt section ([Servic])" ocigate.service 's/^\[Service\]/[Servic]/'
    broken "an ExecStart that does not exist" ocigate.service "s#^ExecStart=$OCIGATE_BIN#ExecStart=$T/no-such-ocigate#"
    broken "a bad SystemCallFilter group" ocigate.service 's/^SystemCallFilter=@system-service/SystemCallFilter=@no-such-set/'
    broken "StandardInput=sockett" ocigate-stdin.service 's/^StandardInput=socket$/StandardInput=sockett/'
    broken "SocketMode=0999" ocigate.socket 's/^SocketMode=0660/SocketMode=0999/'
    broken "no ListenStream" ocigate.socket 's/^ListenStream=.*/ListenStream=/'

    # the sandbox: systemd's own exposure rating (0 = locked down, 10 = none);
    # --threshold is in tenths
    for u in ocigate.service ocigate-stdin.service; do
        if (cd "$T/units" && timeout 60 systemd-analyze security --offline=yes --no-pager "./$u") \
                > "$T/security-$u.out" 2>&1; then
            level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/security-$u.out")
            (cd "$T/units" && timeout 60 systemd-analyze security --offline=yes --threshold=20 --no-pager "./$u") \
                > /dev/null 2>&1
            ok $? "systemd-analyze security $u: exposure ${level:-?} <= 2.0 (hardened sandbox)"
        else
            echo "ok $((_tap_n += 1)) # SKIP systemd-analyze security --offline not supported here"
        fi
    done
else
    missing_checks 14 "systemd-analyze not installed"
fi

# ------------------------------------------------- a FastCGI client ---------

# fcgi SOCKET ROLE METHOD URI [AUTHORIZATION]: one FastCGI request straight
# to ocigate (no web server); prints the answer's header block, "\n"-ended
# lines, then the body.
cat > "$T/fcgi.py" <<'EOF'
import socket, struct, sys
path, role, method, uri = sys.argv[1:5]
auth = sys.argv[5] if len(sys.argv) > 5 else ""
ROLES = {"responder": 1, "authorizer": 2}
def rec(t, content, rid=1):
    return struct.pack(">BBHHBx", 1, t, rid, len(content), 0) + content
def nv(k, v):
    k, v = k.encode(), v.encode()
    enc = lambda n: bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return enc(len(k)) + enc(len(v)) + k + v
params = {"REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": uri.split("?")[0],
          "QUERY_STRING": uri.partition("?")[2], "REMOTE_ADDR": "127.0.0.1",
          "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
if auth:
    params["HTTP_AUTHORIZATION"] = auth
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(path)
body = b"".join(nv(k, v) for k, v in params.items())
s.sendall(rec(1, struct.pack(">HB5x", ROLES[role], 0)) + rec(4, body) + rec(4, b"") + rec(5, b""))
buf, out = b"", b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 8:
        _, t, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
        if len(buf) < 8 + clen + plen:
            break
        if t == 6:
            out += buf[8:8 + clen]
        buf = buf[8 + clen + plen:]
        if t == 3:
            sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
            sys.exit(0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
sys.exit(1)
EOF
fcgi() { timeout 15 python3 "$T/fcgi.py" "$@" 2>> "$T/fcgi-client.log"; }
basic() { printf 'Basic %s' "$(printf '%s' "$1" | base64 -w0)"; }

# exec_line UNIT KEY: the command line of KEY= (ExecStart, ExecStartPre) of
# a unit copy
exec_line() { sed -n "s/^$2=//p" "$T/units/$1" | head -n 1; }

# ---------------------------------- LISTEN_FDS: systemd-socket-activate ------

START=$(exec_line ocigate.service ExecStart)
PRE=$(exec_line ocigate.service ExecStartPre)
is "$START" "$OCIGATE_BIN serve -c $T/ocigate.json" "ocigate.service runs 'ocigate serve -c CONFIG' (no --listen)"
# shellcheck disable=SC2086  # systemd splits ExecStart on spaces as well
$PRE > "$T/check.log" 2>&1
ok $? "ocigate.service's ExecStartPre ($(basename "${PRE%% *}") check) accepts the config" || diag "$(cat "$T/check.log")"

if command -v systemd-socket-activate >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    systemd-socket-activate -l "$T/sd.sock" $START --workers 2 >> "$T/ocigate-sd.log" 2>&1 &
    SD_PID=$!
    register_pid "$SD_PID"
    wait_until 10 test -S "$T/sd.sock" || bail "systemd-socket-activate did not create $T/sd.sock"
    out=$(fcgi "$T/sd.sock" authorizer GET /v2/)
    like "$out" '^Status: 401' "LISTEN_FDS: AUTHORIZER GET /v2/ without credentials: Status: 401 first"
    like "$out" "WWW-Authenticate: Basic realm=\"$REALM\"" "LISTEN_FDS: ... with the Basic challenge"
    out=$(fcgi "$T/sd.sock" authorizer GET /v2/ "$(basic "ci:$PASS_ci")")
    like "$out" '^Status: 200' "LISTEN_FDS: AUTHORIZER GET /v2/ as ci (htpasswd): 200"
    like "$out" 'Variable-OCIGATE_USER: ci' "LISTEN_FDS: ... Variable-OCIGATE_USER: ci"
    out=$(fcgi "$T/sd.sock" authorizer POST /v2/x/y/blobs/uploads/)
    like "$out" '^Status: 401' "LISTEN_FDS: AUTHORIZER anonymous blob upload: 401"
    out=$(fcgi "$T/sd.sock" responder GET /ocigate/metrics)
    like "$out" '^Status: 200' "LISTEN_FDS: RESPONDER GET /ocigate/metrics: 200"
    like "$out" 'ocigate_workers 2' "LISTEN_FDS: ... ocigate_workers 2"
    # the activator execs ocigate: SD_PID is the master
    two() { [ "$(pgrep -P "$SD_PID" | wc -l)" = 2 ]; }
    wait_until 5 two
    ok two "LISTEN_FDS: the master (pid $SD_PID) runs 2 workers"
    unlike "$(cat "$T/ocigate-sd.log")" 'no socket|LISTEN_FDS' "LISTEN_FDS: ocigate did not complain about its socket"
    stop_pid "$SD_PID"
else
    missing_checks 9 "systemd-socket-activate not installed"
fi

# ------------------------ StandardInput=socket: the listening socket on fd 0 --

# fd0.py SOCKET MODE CMD...: bind and listen on SOCKET, chmod it, put it on
# fd 0, drop any LISTEN_* variables and exec CMD (what systemd does for
# ocigate-stdin.service; lighttpd bin-path and spawn-fcgi do the same)
cat > "$T/fd0.py" <<'EOF'
import os, socket, sys
path, mode = sys.argv[1], int(sys.argv[2], 8)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, mode)
s.listen(128)
os.dup2(s.fileno(), 0)
os.set_inheritable(0, True)
for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
    os.environ.pop(k, None)
os.execv(sys.argv[3], sys.argv[3:])
EOF
START0=$(exec_line ocigate-stdin.service ExecStart)
is "$START0" "$OCIGATE_BIN serve -c $T/ocigate.json" "ocigate-stdin.service runs 'ocigate serve -c CONFIG'"
is "$(sed -n 's/^StandardInput=//p' "$T/units/ocigate-stdin.service")" socket "ocigate-stdin.service has StandardInput=socket"
ok 'grep -qx "StandardError=journal" "$T/units/ocigate-stdin.service" && grep -qx "StandardOutput=journal" "$T/units/ocigate-stdin.service"' \
    "ocigate-stdin.service keeps stdout/stderr off the socket (journal)"
# shellcheck disable=SC2086
env -u LISTEN_FDS -u LISTEN_PID python3 "$T/fd0.py" "$T/fd0.sock" 0660 $START0 --workers 2 \
    < /dev/null >> "$T/ocigate-fd0.log" 2>&1 &
FD0_PID=$!
register_pid "$FD0_PID"
wait_socket "$T/fd0.sock" 10 "$FD0_PID" || bail "ocigate on fd 0 did not serve $T/fd0.sock"
is "$(stat -c %a "$T/fd0.sock")" 660 "fd 0: the socket keeps the mode it was created with (0660)"
lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/fd0.conf" regport="$REG_PORT" extsock="$T/fd0.sock"
start_lighttpd lighttpd-fd0 "$LT_PORT" "$T/fd0.conf"
U=http://127.0.0.1:$LT_PORT
is "$(req f1 "$U/v2/")" 401 "fd 0 (StandardInput=socket) via lighttpd: GET /v2/ without credentials: 401"
is "$(hdr f1 WWW-Authenticate)" "Basic realm=\"$REALM\"" "fd 0: ... Basic challenge"
is "$(req f2 -X POST -H 'Content-Length: 0' "$U/v2/x/y/blobs/uploads/")" 401 "fd 0: anonymous blob upload: 401"
is "$(req f3 -u "ci:$PASS_ci" -X DELETE "$U/v2/x/y/manifests/sha256:$(printf %064d 0)")" 403 "fd 0: ci DELETE: 403"
is "$(req f4 "$U/ocigate/metrics")" 200 "fd 0: GET /ocigate/metrics (RESPONDER): 200"
like "$(body f4)" 'ocigate_requests_total\{decision="deny"' "fd 0: ... counting the denials"
out=$(fcgi "$T/fd0.sock" authorizer GET /v2/ "$(basic "admin:$PASS_admin")")
like "$out" '^Status: 200' "fd 0: direct FastCGI: admin GET /v2/: 200"
two0() { [ "$(pgrep -P "$FD0_PID" | wc -l)" = 2 ]; }
wait_until 5 two0
ok two0 "fd 0: the master (pid $FD0_PID, exec'd by the wrapper) runs 2 workers"
stop_pid "$LIGHTTPD_PID"
stop_pid "$FD0_PID"

# --------------------------------------------------- no socket source -------

# no_socket NAME CMD...: ocigate serve must exit non-zero, promptly, saying why
no_socket() {
    local name=$1 rc
    shift
    "$@" > "$T/nosock.out" 2>&1
    rc=$?
    cat "$T/nosock.out" >> "$T/nosock.log"
    ok '[ "$rc" != 0 ] && [ "$rc" != 124 ]' "no socket ($name): ocigate serve exits non-zero at once (status $rc)"
    like "$(cat "$T/nosock.out")" 'no socket to serve: give --listen' "no socket ($name): ... saying so"
}
no_socket "stdin /dev/null" env -u LISTEN_FDS -u LISTEN_PID timeout 10 "$OCIGATE_BIN" serve -c "$T/ocigate.json" < /dev/null
no_socket "stdin a file" env -u LISTEN_FDS -u LISTEN_PID timeout 10 "$OCIGATE_BIN" serve -c "$T/ocigate.json" < "$T/ocigate.json"
no_socket "stdin closed" env -u LISTEN_FDS -u LISTEN_PID timeout 10 "$OCIGATE_BIN" serve -c "$T/ocigate.json" <&-
# a connected socket on fd 0 (inetd style, systemd Accept=yes) is no listening socket
no_socket "stdin a connected socket" env -u LISTEN_FDS -u LISTEN_PID timeout 10 python3 -c '
import os, socket, sys
a, b = socket.socketpair()
os.dup2(a.fileno(), 0)
os.execv(sys.argv[1], sys.argv[1:])' "$OCIGATE_BIN" serve -c "$T/ocigate.json"
# LISTEN_FDS meant for another process (LISTEN_PID not ocigate's) is ignored
no_socket "LISTEN_FDS for another pid" env LISTEN_FDS=1 LISTEN_PID=1 timeout 10 "$OCIGATE_BIN" serve -c "$T/ocigate.json" < /dev/null

# ------------------------------------------------------------ launchd -------

PLIST=$DEPLOY/launchd/org.ocigate.ocigate.plist
NAME=$(sed -n 's/.*launch_activate_socket("\([^"]*\)".*/\1/p' "$OCIGATE_SRCDIR/responder/serve.c" | head -n 1)
python3 - "$PLIST" "${NAME:-Listener}" > "$T/plist.out" 2>&1 <<'EOF'
import plistlib, sys
path, name = sys.argv[1], sys.argv[2]
errors = []
with open(path, "rb") as f:
    p = plistlib.load(f)
def want(cond, msg):
    if not cond:
        errors.append(msg)
want(p.get("Label") == "org.ocigate.ocigate", "Label is org.ocigate.ocigate")
args = p.get("ProgramArguments", [])
want(len(args) >= 2 and args[0].endswith("/ocigate") and args[1] == "serve", "ProgramArguments: ocigate serve")
want("--listen" not in args, "no --listen (the socket comes from launchd)")
socks = p.get("Sockets", {})
want(list(socks) == [name], "Sockets has exactly the entry %r that serve.c activates" % name)
l = socks.get(name, {})
mode = l.get("SockPathMode")
want(type(mode) is int and mode == 432, "SockPathMode is the integer 432 (0660), got %r" % (mode,))
want(l.get("SockType") == "stream", "SockType stream")
want(l.get("SockFamily") == "Unix", "SockFamily Unix")
want(str(l.get("SockPathName", "")).startswith("/"), "SockPathName absolute")
want(type(p.get("Umask")) is int, "Umask an integer")
for e in errors:
    print("plist: " + e)
sys.exit(1 if errors else 0)
EOF
ok $? "launchd plist: parses (plistlib), Sockets.$NAME with SockPathMode 432 (= 0660), ocigate serve" \
    || diag "$(cat "$T/plist.out")"

done_testing
