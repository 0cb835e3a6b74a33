# lib.sh - helpers sourced by the end-to-end scenarios in tests/e2e/ (bash).
#
# What is here, in the order a scenario uses it:
#   e2e_init [--no-gate]   skip unless OCIGATE_E2E=1, check tools (a missing
#                          one fails under CI=true or OCIGATE_E2E=1), make $T
#                          (a temp dir removed on exit) and install the trap
#                          that stops every process started through this file
#   plan / ok / is / like / unlike / diag / skip_all / done_testing   TAP
#   free_ports N           N free loopback TCP ports
#   start_redis / start_registry / start_ocigate / start_lighttpd
#   wait_port / wait_socket / wait_until   bounded waits
#   test_config / make_htpasswd            files derived from deploy/examples
#   req                    one curl request, status on stdout, headers/body in $T
#   secret                 register a password/key/token: done_testing checks
#                          that none appears in any log under $T
#
# Environment: OCIGATE_BIN (built binary), OCIGATE_SRCDIR (source tree), both
# exported by "make check"; OCIGATE_E2E=1 to run at all; OCIGATE_E2E_KEEP=1
# keeps $T for a look after the run.

set -u

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_e2e_bin_given=0
[ -n "${OCIGATE_BIN:-}" ] && _e2e_bin_given=1
: "${OCIGATE_SRCDIR:=$(cd "$E2E_DIR/../.." && pwd)}"
: "${OCIGATE_BIN:=$OCIGATE_SRCDIR/ocigate}"
export OCIGATE_SRCDIR OCIGATE_BIN
DEPLOY="$OCIGATE_SRCDIR/deploy"
MKIMAGE="$E2E_DIR/mkimage.py"

# ---------------------------------------------------------------- TAP -------

_tap_n=0
_tap_failed=0
_tap_plan=

# plan N: N checks of the scenario's own; the secrets check that
# done_testing adds (see "secrets" below) is counted here too.
plan() { _tap_plan=$(($1 + 1)); echo "1..$_tap_plan"; }

skip_all() {
    echo "1..0 # SKIP $*"
    exit 0
}

diag() {
    local line
    printf '%s\n' "$*" | while IFS= read -r line; do echo "# $line"; done
}

# bail REASON: stop the whole scenario now (a setup step failed).
bail() {
    echo "Bail out! $*"
    _tap_failed=$((_tap_failed + 1))
    exit 1
}

# With TODO=REASON in the environment of one check, the check is a TAP TODO:
# a failure is expected (not counted), a pass shows up as XPASS.
_tap_result() { # STATUS(0/1) NAME
    local directive=
    _tap_n=$((_tap_n + 1))
    [ -n "${TODO:-}" ] && directive=" # TODO $TODO"
    if [ "$1" = 0 ]; then
        echo "ok $_tap_n - $2$directive"
    else
        echo "not ok $_tap_n - $2$directive"
        [ -n "$directive" ] || _tap_failed=$((_tap_failed + 1))
    fi
    return "$1"
}

# ok COND NAME: COND is an exit status (0 = pass) or a shell condition that
# is eval'd, e.g.  ok '[ "$code" = 200 ]' "anonymous pull".
ok() {
    local cond=$1 name=$2 st
    case $cond in
        ''|*[!0-9]*) if eval "$cond"; then st=0; else st=1; fi ;;
        *) if [ "$cond" = 0 ]; then st=0; else st=1; fi ;;
    esac
    _tap_result "$st" "$name" || { diag "  condition: $cond"; return 1; }
}

# is GOT WANT NAME
is() {
    if [ "$1" = "$2" ]; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "  got:  '$1'" "  want: '$2'"
        return 1
    fi
}

# like GOT ERE NAME / unlike GOT ERE NAME
like() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        _tap_result 0 "$3"
    else
        _tap_result 1 "$3"
        diag "  got:  '$(printf '%s' "$1" | head -c 600)'" "  want match: /$2/"
        return 1
    fi
}
unlike() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        _tap_result 1 "$3"
        diag "  got:  '$(printf '%s' "$1" | head -c 600)'" "  want no match: /$2/"
        return 1
    else
        _tap_result 0 "$3"
    fi
}

# done_testing: stop what the scenario started (so that every log is
# flushed), check that no registered secret reached a log (one TAP check),
# print the plan if none was given, a summary, and exit 0 only if every test
# passed and the plan was kept.
done_testing() {
    local i
    for ((i = ${#_e2e_pids[@]} - 1; i >= 0; i--)); do
        stop_pid "${_e2e_pids[$i]}"
    done
    check_secrets
    sanitizer_reports
    [ -n "$_tap_plan" ] || { _tap_plan=$_tap_n; echo "1..$_tap_n"; }
    if [ "$_tap_n" != "$_tap_plan" ]; then
        diag "planned $_tap_plan tests but ran $_tap_n"
        _tap_failed=$((_tap_failed + 1))
    fi
    diag "$(basename "$0"): $((_tap_n - _tap_failed < 0 ? 0 : _tap_n - _tap_failed)) of $_tap_n passed${_e2e_t0:+, $(($(date +%s) - _e2e_t0)) s}"
    [ "$_tap_failed" = 0 ] && exit 0
    exit 1
}

# ------------------------------------------------------------ secrets ------
# No key, password, token or Authorization header in any log, not
# even on error. Every scenario registers the credentials it uses with
# `secret`; done_testing then greps every log the run produced for each of
# them. The values are kept in $T/.secrets (a file, so that a value
# registered in a subshell counts too); only logs are scanned: files that
# hold credentials on purpose (htpasswd, auth.json, token.key, the recorder's
# request log, curl's saved bodies) are no logs.

# secret VALUE...: register credentials. A JWT also registers its signature
# alone, an API key the 32 hex characters after "zak_" (either is the secret
# part). Values shorter than 8 characters are refused: they would match by
# accident and are no secret.
secret() {
    local s
    [ -n "${T:-}" ] && [ -d "$T" ] || bail "secret: call e2e_init first"
    for s in "$@"; do
        [ "${#s}" -ge 8 ] || bail "secret: a value of ${#s} characters is too short to look for"
        printf '%s\n' "$s" >> "$T/.secrets"
        if [[ $s =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]{16,})$ ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}" >> "$T/.secrets"
        elif [[ $s =~ ^zak_([0-9a-f]{32})$ ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}" >> "$T/.secrets"
        fi
    done
}

# secret_basic USER PASSWORD: PASSWORD and the Basic credentials a client
# sends for it (base64 of USER:PASSWORD, what an Authorization header holds).
secret_basic() {
    secret "$2" "$(printf '%s:%s' "$1" "$2" | base64 -w0)"
}

# secret_file FILE: every line of a key file (a PEM body) is secret.
secret_file() {
    local line
    while IFS= read -r line; do
        case $line in -----*|'') continue ;; esac
        [ "${#line}" -ge 16 ] && secret "$line"
    done < "$1"
}

# secret_logs: the files checked, NUL-separated: every *.log and *.err
# (stderr of ocigate's subcommands) under $T.
secret_logs() {
    find "$T" -type f \( -name '*.log' -o -name '*.err' \) -print0 2>/dev/null
}

# secret_leaks: print, for every log that holds a registered secret, its
# name and the line numbers (never the secret); status 1 when there is one.
secret_leaks() {
    local f lines found=0
    [ -s "$T/.secrets" ] || return 0
    while IFS= read -r -d '' f; do
        lines=$(grep -naF -f "$T/.secrets" -- "$f" 2>/dev/null | cut -d: -f1 | head -n 10 | tr '\n' ' ')
        if [ -n "$lines" ]; then
            echo "${f#"$T"/}: a registered secret on line(s) $lines"
            found=1
        fi
    done < <(secret_logs)
    return "$found"
}

# _redact_secrets: a filter that replaces every registered secret with
# <secret> (for showing logs after a failure).
_redact_secrets() {
    if [ -s "${T:-}/.secrets" ]; then
        python3 -c 'import sys
subs = sorted({l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()}, key=len, reverse=True)
for line in sys.stdin:
    for x in subs:
        line = line.replace(x, "<secret>")
    sys.stdout.write(line)' "$T/.secrets"
    else
        cat
    fi
}

# check_secrets: the one TAP check (run once, by done_testing).
_secrets_checked=0
check_secrets() {
    local n nlogs leaks
    [ "$_secrets_checked" = 0 ] && [ -n "${T:-}" ] && [ -d "$T" ] || return 0
    _secrets_checked=1
    n=$(sort -u "$T/.secrets" 2>/dev/null | wc -l | tr -d ' ')
    nlogs=$(secret_logs | tr -cd '\0' | wc -c | tr -d ' ')
    if [ "$n" = 0 ]; then
        echo "ok $((_tap_n += 1)) - no secret in any log # SKIP no secret registered"
        return 0
    fi
    if leaks=$(secret_leaks); then
        _tap_result 0 "none of the $n registered secrets (passwords, keys, tokens) appears in the $nlogs logs under \$T"
    else
        _tap_result 1 "none of the $n registered secrets (passwords, keys, tokens) appears in the $nlogs logs under \$T"
        diag "$leaks"
    fi
}

# sanitizer_reports: in a build with --enable-sanitizers, a process that
# ASan, UBSan or LeakSanitizer stopped prints its report to its stderr, which
# is a log under $T (lighttpd's error log for the ocigate it starts); the
# request may even have been answered by a respawned worker. Any report
# there fails the scenario (shown as a diagnostic), whatever its checks said.
_SAN_RE='ERROR: (Address|Leak)Sanitizer|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer|: runtime error: '
sanitizer_reports() {
    local f
    [ -n "${T:-}" ] && [ -d "$T" ] || return 0
    while IFS= read -r -d '' f; do
        grep -qaE "$_SAN_RE" "$f" 2>/dev/null || continue
        diag "a sanitizer report in ${f#"$T"/}:"
        diag "$(grep -aE -A 40 "$_SAN_RE" "$f" | head -n 60 | _redact_secrets | cut -c1-300)"
        _tap_failed=$((_tap_failed + 1))
    done < <(find "$T" -type f \( -name '*.log' -o -name '*.err' -o -name '*.out' \) -print0 2>/dev/null)
}

# ------------------------------------------------------- setup, cleanup -----

_e2e_pids=()     # every background process started here (killed on exit)
_e2e_t0=

# e2e_strict: status 0 when a test that cannot run must fail rather than
# skip: under CI=true and under OCIGATE_E2E=1 (tests/run-all.sh, and
# "OCIGATE_E2E=1 make check": whoever asks for the end-to-end suite gets it
# or a failure). OCIGATE_E2E_OPTIONAL=1 lets a developer without, say,
# Caddy skip what needs it.
e2e_strict() {
    [ "${OCIGATE_E2E_OPTIONAL:-0}" != 1 ] || return 1
    [ "${CI:-}" = true ] || [ "${OCIGATE_E2E:-0}" = 1 ]
}

# missing_all WHAT: the whole scenario cannot run: a SKIP, or under
# e2e_strict a Bail out! (the run fails).
missing_all() {
    e2e_strict && bail "$* (CI=true or OCIGATE_E2E=1: a missing tool fails the test;" \
        "OCIGATE_E2E_OPTIONAL=1 skips instead)"
    skip_all "$*"
}

# missing_checks N WHAT: N checks of the scenario cannot run: N SKIPs, or
# under e2e_strict N failures.
missing_checks() {
    local i
    for ((i = 0; i < $1; i++)); do
        if e2e_strict; then
            _tap_result 1 "$2 (CI=true or OCIGATE_E2E=1: a missing tool fails the test)"
        else
            echo "ok $((_tap_n += 1)) # SKIP $2"
        fi
    done
    return 0
}

# e2e_init [--no-gate] [TOOL...]: skip the scenario unless OCIGATE_E2E=1 (or
# --no-gate); when a tool or the binary is missing, skip, or fail under
# e2e_strict (a missing binary also fails when OCIGATE_BIN was given, as
# "make check" does); create $T.
e2e_init() {
    local gate=1 tool
    if [ "${1:-}" = --no-gate ]; then gate=0; shift; fi
    if [ "$gate" = 1 ] && [ "${OCIGATE_E2E:-0}" != 1 ]; then
        skip_all "set OCIGATE_E2E=1"
    fi
    if [ ! -x "$OCIGATE_BIN" ]; then
        [ "$_e2e_bin_given" = 1 ] && bail "no ocigate binary at OCIGATE_BIN=$OCIGATE_BIN"
        missing_all "no ocigate binary at $OCIGATE_BIN"
    fi
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing_all "$tool not installed"
    done
    _e2e_t0=$(date +%s)
    T=$(mktemp -d "${TMPDIR:-/tmp}/ocigate-e2e.XXXXXX") || bail "mktemp failed"
    chmod 0755 "$T"
    export T
    # skopeo must not pick up the caller's registry logins (skopeo_copy
    # passes this file; never export REGISTRY_AUTH_FILE: docker-registry
    # reads REGISTRY_* variables as config overrides).
    echo '{}' > "$T/auth.json"
    trap '_e2e_cleanup' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# register_pid PID: stop PID (and its direct children) on exit.
register_pid() { _e2e_pids+=("$1"); }

# stop_pid PID [SIGNAL]: signal PID and its direct children, wait up to 3 s,
# then SIGKILL what is left.
stop_pid() {
    local pid=$1 sig=${2:-TERM} kids i k
    if ! pid_running "$pid"; then
        wait "$pid" 2>/dev/null || true
        return 0
    fi
    kids=$(pgrep -P "$pid" 2>/dev/null || true)
    kill -"$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do
        pid_running "$pid" || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
}

_e2e_cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    for ((i = ${#_e2e_pids[@]} - 1; i >= 0; i--)); do
        stop_pid "${_e2e_pids[$i]}"
    done
    if [ -n "${T:-}" ] && [ -d "$T" ]; then
        if [ "$rc" != 0 ] || [ "$_tap_failed" != 0 ]; then
            for f in "$T"/*.log; do
                [ -s "$f" ] || continue
                diag "---- last lines of $(basename "$f")"
                diag "$(tail -n 15 "$f" | _redact_secrets | cut -c1-400)"
            done
        fi
        if [ "${OCIGATE_E2E_KEEP:-0}" = 1 ]; then
            diag "kept $T"
        else
            rm -rf "$T"
        fi
    fi
    exit "$rc"
}

# --------------------------------------------------------------- waits ------

# pid_running PID: the process exists and is not a zombie (a child of ours
# that exited stays a zombie until waited for, and kill -0 still succeeds).
pid_running() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_until TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
# With WAIT_PID set, give up at once when that process has exited.
wait_until() {
    local timeout=$1 end
    shift
    end=$(($(date +%s%N) + timeout * 1000000000))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        if [ -n "${WAIT_PID:-}" ] && ! pid_running "$WAIT_PID"; then
            return 1
        fi
        sleep 0.05
    done
}

_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
_socket_open() {
    [ -S "$1" ] && python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(sys.argv[1])' "$1"
}

# wait_port PORT [TIMEOUT_S [PID]] / wait_socket PATH [TIMEOUT_S [PID]]:
# PID (the server being waited for) dying ends the wait at once.
wait_port() { WAIT_PID=${3:-} wait_until "${2:-10}" _port_open "$1"; }
wait_socket() { WAIT_PID=${3:-} wait_until "${2:-10}" _socket_open "$1"; }

# loopback_only PID NAME: bail when PID or one of its children listens on a
# TCP or UDP address other than 127.0.0.0/8 or ::1 (every server a test
# starts stays on loopback). Needs ss (iproute2); without it, no check.
loopback_only() {
    local pids p bad
    command -v ss >/dev/null 2>&1 || return 0
    pids=$1
    for p in $(pgrep -P "$1" 2>/dev/null); do pids="$pids|$p"; done
    bad=$(ss -ltunpH 2>/dev/null | grep -E "pid=($pids)," \
        | awk '{print $5}' | grep -vE '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$')
    [ -z "$bad" ] || bail "$2 (pid $1) listens beyond loopback: $(echo $bad)"
}

# free_ports N: print N distinct free TCP ports on 127.0.0.1, none of them
# handed out before in this test (the kernel may give a port again once its
# probe socket is closed: a server started later on a port picked earlier
# would then find it taken by another of the test's servers, and a client
# would talk to the wrong one). The ports given are kept in $T/.ports.
free_ports() {
    python3 - "$1" "${T:+$T/.ports}" <<'EOF'
import socket, sys
n, given_file = int(sys.argv[1]), sys.argv[2]
given = set()
if given_file:
    try:
        given = {int(p) for p in open(given_file).read().split()}
    except OSError:
        pass
socks, ports = [], []
for _ in range(n + 1000):
    if len(ports) == n:
        break
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)               # held open: no port twice in one call
    p = s.getsockname()[1]
    if p not in given:
        ports.append(p)
if len(ports) < n:
    sys.exit("free_ports: no free ports")
if given_file:
    with open(given_file, "a") as f:
        f.write(" ".join(map(str, ports)) + "\n")
print(" ".join(map(str, ports)))
EOF
}

# owns_port PID PORT: does PID (or a child of it) listen on PORT?
owns_port() {
    local pids p
    command -v ss >/dev/null 2>&1 || return 0
    pids=$1
    for p in $(pgrep -P "$1" 2>/dev/null); do pids="$pids|$p"; done
    ss -ltnpH "sport = :$2" 2>/dev/null | grep -qE "pid=($pids),"
}

# ------------------------------------------------------------- servers ------

# start_redis PORT
start_redis() {
    local port=$1
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$T" --logfile "" > "$T/redis.log" 2>&1 &
    REDIS_PID=$!
    register_pid "$REDIS_PID"
    wait_port "$port" 10 "$REDIS_PID" || bail "redis-server did not listen on $port"
    loopback_only "$REDIS_PID" redis-server
}

# start_registry PORT: docker-registry (distribution 2.8) with filesystem
# storage in $T/registry and deletes enabled; its log (access log included)
# goes to $T/registry.log.
start_registry() {
    local port=$1
    mkdir -p "$T/registry"
    cat > "$T/registry.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $T/registry
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: e2e-$RANDOM$RANDOM
EOF
    docker-registry serve "$T/registry.yml" > "$T/registry.log" 2>&1 &
    REGISTRY_PID=$!
    register_pid "$REGISTRY_PID"
    wait_port "$port" 15 "$REGISTRY_PID" || bail "docker-registry did not listen on $port"
    loopback_only "$REGISTRY_PID" docker-registry
}

# registry_log_settled PORT: wait (bounded) until the registry's access log
# ($T/registry.log) holds every request answered so far: one more request,
# marked, goes straight to the registry, and its line is awaited. (The
# access log line of a request is written as the request ends, so a line
# can trail the answer by a moment; a fixed sleep would only guess.)
registry_log_settled() {
    local mark="og-log-settled-$RANDOM$RANDOM"
    curl -s -o /dev/null --max-time 5 -A "$mark" "http://127.0.0.1:$1/v2/" || true
    wait_until 10 grep -qF -- "$mark" "$T/registry.log"
}

# start_ocigate SOCKET WORKERS [CONFIG]: ocigate serve on a unix socket, in
# the background; stderr (decision log) to $T/ocigate.log. Sets OCIGATE_PID
# (the master).
start_ocigate() {
    local sock=$1 workers=$2 conf=${3:-$T/ocigate.json}
    "$OCIGATE_BIN" serve -c "$conf" --listen "unix:$sock,mode=0660" \
        --workers "$workers" >> "$T/ocigate.log" 2>&1 &
    OCIGATE_PID=$!
    register_pid "$OCIGATE_PID"
    wait_socket "$sock" 10 "$OCIGATE_PID" || bail "ocigate serve did not listen on $sock"
    loopback_only "$OCIGATE_PID" "ocigate serve"
}

# lighttpd_snippet SRC DEST KEY=VALUE...: copy a shipped deploy/lighttpd file
# with its install paths replaced, so the shipped file is what gets tested.
# Keys: bin conf luadir extsock ltsock regport
lighttpd_snippet() {
    local src=$1 dest=$2 kv bin=$OCIGATE_BIN conf=$T/ocigate.json
    local lua=$DEPLOY/lighttpd/identity.lua extsock=$T/ocigate.sock
    local ltsock=$T/lt-ocigate.sock regport=5000
    shift 2
    for kv in "$@"; do
        case $kv in
            bin=*) bin=${kv#bin=} ;;
            conf=*) conf=${kv#conf=} ;;
            lua=*) lua=${kv#lua=} ;;
            extsock=*) extsock=${kv#extsock=} ;;
            ltsock=*) ltsock=${kv#ltsock=} ;;
            regport=*) regport=${kv#regport=} ;;
            *) bail "lighttpd_snippet: unknown $kv" ;;
        esac
    done
    sed -e "s#/usr/local/sbin/ocigate#$bin#g" \
        -e "s#/etc/ocigate/ocigate.json#$conf#g" \
        -e "s#/etc/lighttpd/ocigate/identity.lua#$lua#g" \
        -e "s#/run/ocigate/ocigate.sock#$extsock#g" \
        -e "s#/run/lighttpd/ocigate.sock#$ltsock#g" \
        -e "s#\"port\" => 5000#\"port\" => $regport#g" \
        "$src" > "$dest"
    # A leftover install path would silently test something else.
    if grep -nE '/usr/local/sbin|/etc/ocigate|/etc/lighttpd|/run/|"port" => 5000' "$dest" \
            | grep -v '^[0-9]*:[[:space:]]*#' | grep -q .; then
        bail "lighttpd_snippet: $src still holds an install path after substitution"
    fi
}

# start_lighttpd NAME PORT SNIPPET: run lighttpd -D with a minimal server
# config (loopback only, no privilege drop: the tests run as whoever runs
# them) that includes SNIPPET. Sets LIGHTTPD_PID; log in $T/NAME.log.
start_lighttpd() {
    local name=$1 port=$2 snippet=$3
    mkdir -p "$T/www"
    cat > "$T/$name.conf" <<EOF
server.document-root = "$T/www"
server.bind          = "127.0.0.1"
server.port          = $port
server.errorlog      = "$T/$name.log"
include "$snippet"
EOF
    lighttpd -tt -f "$T/$name.conf" >> "$T/$name.log" 2>&1 \
        || bail "lighttpd refuses $T/$name.conf: $(tail -n 3 "$T/$name.log")"
    lighttpd -D -f "$T/$name.conf" >> "$T/$name.log" 2>&1 &
    LIGHTTPD_PID=$!
    register_pid "$LIGHTTPD_PID"
    wait_port "$port" 10 "$LIGHTTPD_PID" || bail "lighttpd did not listen on $port"
    # the port answering is not enough: another server may hold it
    WAIT_PID=$LIGHTTPD_PID wait_until 5 owns_port "$LIGHTTPD_PID" "$port" \
        || bail "lighttpd ($name) does not hold port $port: $(ss -ltnpH "sport = :$port" 2>/dev/null | tr -s ' ')"
    loopback_only "$LIGHTTPD_PID" lighttpd
}

# ------------------------------------------------------- config files -------

# make_htpasswd FILE USER... : bcrypt entries with random passwords; sets
# PASS_<user> for each user.
make_htpasswd() {
    local file=$1 u pw first=1
    shift
    for u in "$@"; do
        pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=\n')
        if [ "$first" = 1 ]; then
            htpasswd -bBcC 5 "$file" "$u" "$pw" 2>/dev/null || bail "htpasswd failed"
            first=0
        else
            htpasswd -bBC 5 "$file" "$u" "$pw" 2>/dev/null || bail "htpasswd failed"
        fi
        printf -v "PASS_$u" '%s' "$pw"
        secret_basic "$u" "$pw"
    done
}

# test_config DEST REGPORT REDISPORT HTPASSWD [JQ-FILTER]: three-tier.json
# with the test's ports and files substituted (plus an optional jq filter).
test_config() {
    local dest=$1 regport=$2 redisport=$3 htp=$4 extra=${5:-.}
    jq --arg reg "http://127.0.0.1:$regport" \
       --arg redis "redis://127.0.0.1:$redisport/0" \
       --arg htp "$htp" \
       '.registry.url = $reg | .redis.url = $redis | .auth.htpasswd.path = $htp' \
       "$DEPLOY/examples/three-tier.json" | jq "$extra" > "$dest.tmp" \
        || bail "jq failed on three-tier.json"
    mv "$dest.tmp" "$dest"
}

# -------------------------------------------------------------- clients -----

# req NAME CURL-ARGS...: one request with a time limit; prints the status,
# keeps headers in $T/NAME.hdr and the body in $T/NAME.body.
req() {
    local name=$1
    shift
    curl -s --max-time 15 -o "$T/$name.body" -D "$T/$name.hdr" \
        -w '%{http_code}' "$@" 2>/dev/null || true
}

# hdr NAME HEADER: value of a response header kept by req (last one wins).
hdr() {
    tr -d '\r' < "$T/$1.hdr" | awk -v h="$2" 'BEGIN { h = tolower(h) ":" }
        tolower(substr($0, 1, length(h))) == h { v = substr($0, length(h) + 1); sub(/^[ \t]+/, "", v) }
        END { print v }'
}

body() { cat "$T/$1.body" 2>/dev/null; }

# skopeo_copy SRC DEST [SKOPEO-ARGS...]: bounded skopeo copy, output to
# $T/skopeo.log; returns skopeo's status.
skopeo_copy() {
    local src=$1 dest=$2 a shown=() hide=0
    shift 2
    # the command line goes to the log without the credentials in it
    for a in "$@"; do
        if [ "$hide" = 1 ]; then shown+=("<redacted>"); hide=0; continue; fi
        case $a in
            --*creds|--*registry-token|--*password) shown+=("$a"); hide=1 ;;
            --*creds=*|--*registry-token=*|--*password=*) shown+=("${a%%=*}=<redacted>") ;;
            *) shown+=("$a") ;;
        esac
    done
    echo "== skopeo copy ${shown[*]} $src $dest" >> "$T/skopeo.log"
    REGISTRY_AUTH_FILE="$T/auth.json" timeout 60 skopeo --insecure-policy copy --retry-times 0 \
        --src-tls-verify=false --dest-tls-verify=false "$@" "$src" "$dest" \
        >> "$T/skopeo.log" 2>&1
}

# mkimage DIR TAG [ARGS...]: write an OCI layout, print the manifest digest.
mkimage() { python3 "$MKIMAGE" "$@" --print-digest; }

# start_idp [SERVER-ARGS...]: the test OpenID provider (tests/idp/server.mjs)
# on a free loopback port, state in $T/idp.json (client secrets and the
# browser accounts' passwords, all registered with `secret`), log in
# $T/idp.log. `npm ci` runs first when tests/idp has no node_modules (in a
# copy under $T when the source tree is read-only). Sets IDP_PID, IDP_DIR
# (its node_modules hold playwright-core too) and ISSUER. SERVER-ARGS:
# e.g. --redirect-uri URI --post-logout-uri URI (browser sign-in).
start_idp() {
    local src=$OCIGATE_SRCDIR/tests/idp s
    IDP_DIR=$src
    if [ ! -d "$src/node_modules/oidc-provider" ] || [ ! -d "$src/node_modules/playwright-core" ]; then
        if [ ! -w "$src" ]; then
            IDP_DIR=$T/idp
            mkdir -p "$IDP_DIR"
            cp "$src/package.json" "$src/package-lock.json" "$src/server.mjs" "$IDP_DIR/"
        fi
        (cd "$IDP_DIR" && timeout 240 npm ci --no-audit --no-fund --loglevel=error) > "$T/npm.out" 2>&1 ||
            bail "npm ci in $IDP_DIR failed: $(tail -n 3 "$T/npm.out")"
    fi
    rm -f "$T/idp.json"
    node "$IDP_DIR/server.mjs" --port 0 --state "$T/idp.json" --log "$T/idp.log" "$@" \
        > "$T/idp.out" 2>&1 &
    IDP_PID=$!
    register_pid "$IDP_PID"
    # node loads oidc-provider and makes an RSA key first: give a loaded
    # machine time (seen once: not ready after 20 s, with nothing in its log)
    WAIT_PID=$IDP_PID wait_until 60 test -s "$T/idp.json" ||
        bail "the IdP did not start within 60 s ($(pid_running "$IDP_PID" && echo 'still running' || echo 'exited')): $(grep -v 'Unsupported runtime' "$T/idp.out" | tail -n 5 | tr '\n' ' ') $(tail -n 3 "$T/idp.log" 2>/dev/null | tr '\n' ' ')"
    ISSUER=$(jq -r .issuer "$T/idp.json")
    while IFS= read -r s; do [ "${#s}" -ge 8 ] && secret "$s"; done < <(
        jq -r '(.clients[]?.secret, .web_client.secret, .accounts[]?.password) // empty' "$T/idp.json")
    export OCIGATE_IDP_DIR=$IDP_DIR
}

# start_dockerd HOST:PORT...: a private dockerd (root; Debian's docker.io)
# whose registries HOST:PORT are insecure (plain HTTP): its own socket, data
# and exec roots and pidfile under $T/dk, no iptables, no bridge, vfs storage;
# stopped on exit with everything else. Defines dk (Debian's /usr/bin/docker
# against it, DOCKER_CONFIG $T/docker-config) and docker_image TAG (a fresh
# OCI image from mkimage.py loaded as local/img:TAG). Returns 1 when it
# cannot start (the caller decides: missing_checks or bail).
start_dockerd() {
    local r args=()
    DOCKER_CLI=/usr/bin/docker
    [ "$(id -u)" = 0 ] && [ -x "$DOCKER_CLI" ] && command -v dockerd > /dev/null || return 1
    DK=$T/dk
    mkdir -p "$DK" "$T/docker-config"
    for r in "$@"; do args+=(--insecure-registry "$r"); done
    dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs "${args[@]}" \
        -H "unix://$DK/dockerd.sock" --data-root "$DK/data" --exec-root "$DK/exec" \
        --pidfile "$DK/dockerd.pid" > "$T/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    register_pid "$DOCKERD_PID"
    WAIT_PID=$DOCKERD_PID wait_until 60 dk version > /dev/null 2>&1 || return 1
    loopback_only "$DOCKERD_PID" dockerd
}
dk() { DOCKER_CONFIG="$T/docker-config" timeout 120 "$DOCKER_CLI" -H "unix://$DK/dockerd.sock" "$@"; }
docker_image() {   # TAG: local/img:TAG in dockerd, from a fresh OCI image
    python3 "$MKIMAGE" "$T/dkimg" "$1" > /dev/null 2>&1 &&
    timeout 60 skopeo --insecure-policy copy --quiet "oci:$T/dkimg:$1" \
        "docker-archive:$T/$1.tar:local/img:$1" >> "$T/skopeo.log" 2>&1 &&
    dk load -q -i "$T/$1.tar" > /dev/null
}

# ------------------------------------------ Redis replication + Sentinel ----
# One Redis master, one replica and three sentinels, all on loopback, in $T,
# stopped by the exit trap like every other process here. Redis 7 ACLs on
# every node, the default user off:
#   data nodes (a, b; the same users on both, since their roles swap):
#     admin     everything (the test's own redis-cli)
#     ocigate   the least privileges doc/redis.md gives, on keys ocigate:*
#               (ocigate: redis.username / redis.passwordFile)
#     repl      replication only (masteruser/masterauth of every data node)
#     sentinel  what Sentinel needs on a data node (sentinel auth-user/pass)
#   sentinels (1, 2, 3):
#     admin     everything (the test's redis-cli; the sentinels' own
#               sentinel-user/sentinel-pass to one another)
#     ocigate-sentinel  `-@all +auth +sentinel|get-master-addr-by-name`, as in
#               doc/redis.md (redis.sentinelUsername / sentinelPasswordFile)
# Passwords are made per run, written to files in $T/ha (mode 0600) and
# registered with `secret`. Failover is quick: down-after-milliseconds 1000,
# failover-timeout 3000, quorum 2, diskless full syncs with no delay.
#
#   ha_start                  start a (master), b (replica of a), sentinels
#   ha_cli NODE ARGS...       redis-cli as admin on data node a or b
#   sentinel_cli N ARGS...    redis-cli as admin on sentinel N (1..3)
#   ha_master                 the master's port, as sentinel 1 (else 2, 3) says
#                             (HA_ASK="2 3": ask only those, e.g. one is stopped)
#   ha_node_of PORT           a or b
#   ha_wait_master_not PORT S wait up to S s for the sentinels to name another master
#   ha_wait_replica NODE PORT S  wait up to S s for NODE to be a connected replica of
#                             PORT that acknowledges PORT's writes
#   ha_restart NODE           start a killed data node again (same config, log appended)
#   ha_redis_json [MINREPLICAS]  the "redis" object of an ocigate config (jq input)
# Sets HA_PORT_a HA_PORT_b HA_PID_a HA_PID_b, SENT_PORT_1..3 SENT_PID_1..3,
# HA_OCI_PASSFILE, HA_SENT_PASSFILE (ocigate's passwords, one line each).

_ha_pw() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }

# ocigate's users: the least privileges doc/redis.md gives (so that the
# documented lines are what is tested)
HA_OCI_ACL='~ocigate:* resetchannels -@all +@read +@write +@keyspace +@transaction +@connection +@scripting -@dangerous +role +wait +select'
HA_SENT_OCI_ACL='-@all +auth +sentinel|get-master-addr-by-name'


# _ha_node_conf NODE [REPLICAOF-PORT]: the config file of a data node.
_ha_node_conf() {
    local node=$1 port
    eval "port=\$HA_PORT_$node"
    mkdir -p "$T/ha/$node"
    {
        echo "port $port"
        echo "bind 127.0.0.1"
        echo "daemonize no"
        echo "save \"\""
        echo "appendonly no"
        echo "dir $T/ha/$node"
        echo "logfile $T/redis-$node.log"
        echo "repl-diskless-sync yes"
        echo "repl-diskless-sync-delay 0"
        echo "user default off"
        echo "user admin on >$HA_ADMIN_PW ~* &* +@all"
        echo "user ocigate on >$HA_OCI_PW $HA_OCI_ACL"
        echo "user repl on >$HA_REPL_PW +psync +replconf +ping"
        echo "user sentinel on >$HA_SENT_DATA_PW &* +multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill"
        echo "masteruser repl"
        echo "masterauth $HA_REPL_PW"
        [ -n "${2:-}" ] && echo "replicaof 127.0.0.1 $2"
    } > "$T/ha/redis-$node.conf"
    chmod 0600 "$T/ha/redis-$node.conf"
}

# _ha_start_node NODE: run data node NODE from its config file.
_ha_start_node() {
    local node=$1 port pid
    eval "port=\$HA_PORT_$node"
    redis-server "$T/ha/redis-$node.conf" >> "$T/redis-$node.out" 2>&1 &
    pid=$!
    register_pid "$pid"
    printf -v "HA_PID_$node" '%s' "$pid"
    wait_port "$port" 10 "$pid" || bail "redis-server $node did not listen on $port: $(tail -n 3 "$T/redis-$node.log" 2>/dev/null)"
    loopback_only "$pid" "redis-server $node"
}

ha_start() {
    local i port
    command -v redis-server > /dev/null && command -v redis-cli > /dev/null \
        || missing_all "redis-server/redis-cli not installed"
    mkdir -p "$T/ha"
    chmod 0700 "$T/ha"
    HA_ADMIN_PW=$(_ha_pw); HA_OCI_PW=$(_ha_pw); HA_REPL_PW=$(_ha_pw)
    HA_SENT_DATA_PW=$(_ha_pw); HA_SENT_ADMIN_PW=$(_ha_pw); HA_SENT_OCI_PW=$(_ha_pw)
    secret "$HA_ADMIN_PW" "$HA_OCI_PW" "$HA_REPL_PW" "$HA_SENT_DATA_PW" "$HA_SENT_ADMIN_PW" "$HA_SENT_OCI_PW"
    HA_OCI_PASSFILE=$T/ha/ocigate-redis.pass
    HA_SENT_PASSFILE=$T/ha/ocigate-sentinel.pass
    ( umask 077; printf '%s\n' "$HA_OCI_PW" > "$HA_OCI_PASSFILE"
      printf '%s\n' "$HA_SENT_OCI_PW" > "$HA_SENT_PASSFILE" )
    read -r HA_PORT_a HA_PORT_b SENT_PORT_1 SENT_PORT_2 SENT_PORT_3 <<<"$(free_ports 5)"
    _ha_node_conf a
    _ha_node_conf b "$HA_PORT_a"
    _ha_start_node a
    _ha_start_node b
    wait_until 15 _ha_replica_up b "$HA_PORT_a" \
        || bail "redis b did not become a connected replica of a: $(tail -n 5 "$T/redis-b.log")"
    for i in 1 2 3; do
        eval "port=\$SENT_PORT_$i"
        mkdir -p "$T/ha/s$i"
        {
            echo "port $port"
            echo "bind 127.0.0.1"
            echo "daemonize no"
            echo "dir $T/ha/s$i"
            echo "logfile $T/sentinel-$i.log"
            echo "sentinel resolve-hostnames no"
            echo "sentinel monitor ocigate 127.0.0.1 $HA_PORT_a 2"
            echo "sentinel down-after-milliseconds ocigate 1000"
            echo "sentinel failover-timeout ocigate 3000"
            echo "sentinel parallel-syncs ocigate 1"
            echo "sentinel auth-user ocigate sentinel"
            echo "sentinel auth-pass ocigate $HA_SENT_DATA_PW"
            echo "sentinel sentinel-user admin"
            echo "sentinel sentinel-pass $HA_SENT_ADMIN_PW"
            echo "user default off"
            echo "user admin on >$HA_SENT_ADMIN_PW ~* &* +@all"
            echo "user ocigate-sentinel on >$HA_SENT_OCI_PW $HA_SENT_OCI_ACL"
        } > "$T/ha/sentinel-$i.conf"
        chmod 0600 "$T/ha/sentinel-$i.conf"
        redis-server "$T/ha/sentinel-$i.conf" --sentinel >> "$T/sentinel-$i.out" 2>&1 &
        printf -v "SENT_PID_$i" '%s' "$!"
        register_pid "$!"
        wait_port "$port" 10 "$!" || bail "sentinel $i did not listen on $port: $(tail -n 3 "$T/sentinel-$i.log" 2>/dev/null)"
        loopback_only "$!" "sentinel $i"
    done
    # every sentinel knows the replica and the two other sentinels
    for i in 1 2 3; do
        wait_until 20 _ha_sentinel_sees "$i" \
            || bail "sentinel $i does not see the replica and 2 other sentinels: $(sentinel_cli "$i" SENTINEL MASTER ocigate | tr '\n' ' ' | cut -c1-400)"
    done
}

ha_cli() {
    local port
    eval "port=\$HA_PORT_$1"
    shift
    REDISCLI_AUTH=$HA_ADMIN_PW timeout 5 redis-cli --no-auth-warning --user admin -h 127.0.0.1 -p "$port" "$@" 2>&1
}
sentinel_cli() {
    local port
    eval "port=\$SENT_PORT_$1"
    shift
    REDISCLI_AUTH=$HA_SENT_ADMIN_PW timeout 5 redis-cli --no-auth-warning --user admin -h 127.0.0.1 -p "$port" "$@" 2>&1
}

_ha_sentinel_sees() {
    local out
    out=$(sentinel_cli "$1" SENTINEL MASTER ocigate) || return 1
    printf '%s\n' "$out" | awk 'p == "num-slaves" && $0 >= 1 { s = 1 } p == "num-other-sentinels" && $0 >= 2 { o = 1 }
                                { p = $0 } END { exit !(s && o) }'
}
# _ha_replica_up NODE MASTERPORT: NODE replicates MASTERPORT with its link
# up, the master counts it online, and a write on the master is
# acknowledged by it (WAIT 1). Right after a full sync Redis 7.0 says
# "online" but streams nothing to the replica until its first REPLCONF ACK
# (up to a second later): a WAIT then counts no replica.
_ha_replica_up() {
    local info port
    info=$(ha_cli "$1" INFO replication | tr -d '\r')
    printf '%s\n' "$info" | grep -qx 'role:slave' &&
    printf '%s\n' "$info" | grep -qx "master_port:$2" &&
    printf '%s\n' "$info" | grep -qx 'master_link_status:up' || return 1
    eval "port=\$HA_PORT_$1"
    info=$(ha_cli "$(ha_node_of "$2")" INFO replication | tr -d '\r')
    printf '%s\n' "$info" | grep -q "^slave[0-9]*:ip=127\.0\.0\.1,port=$port,state=online," || return 1
    [ "$(printf 'SET e2e:replica-probe 1\nWAIT 1 500\n' | ha_cli "$(ha_node_of "$2")" | tr -d '\r' | tail -n 1)" = 1 ]
}

ha_master() {
    local i out
    for i in ${HA_ASK:-1 2 3}; do
        out=$(sentinel_cli "$i" SENTINEL get-master-addr-by-name ocigate | sed -n 2p)
        case $out in ''|*[!0-9]*) continue ;; esac
        echo "$out"
        return 0
    done
    return 1
}
ha_node_of() { if [ "$1" = "$HA_PORT_a" ]; then echo a; else echo b; fi; }
_ha_master_not() { local m; m=$(ha_master) && [ "$m" != "$1" ]; }
ha_wait_master_not() { wait_until "$2" _ha_master_not "$1"; }
ha_wait_replica() { wait_until "$3" _ha_replica_up "$1" "$2"; }
ha_restart() { _ha_start_node "$1"; }

# ha_redis_json [MINREPLICAS]: the "redis" object ocigate is given
ha_redis_json() {
    jq -n --arg s1 "127.0.0.1:$SENT_PORT_1" --arg s2 "127.0.0.1:$SENT_PORT_2" \
          --arg s3 "127.0.0.1:$SENT_PORT_3" --arg pf "$HA_OCI_PASSFILE" \
          --arg spf "$HA_SENT_PASSFILE" --argjson min "${1:-1}" \
        '{sentinels: [$s1, $s2, $s3], masterName: "ocigate", minReplicas: $min,
          username: "ocigate", passwordFile: $pf, prefix: "ocigate:", timeoutMs: 200, db: 0,
          sentinelUsername: "ocigate-sentinel", sentinelPasswordFile: $spf}'
}

# ha_kill NODE [SIGNAL]: signal a data node (default SIGKILL) and, for a
# kill, reap it quietly (no "Killed" line from the shell).
ha_kill() {
    local pid sig=${2:-KILL}
    eval "pid=\$HA_PID_$1"
    kill -"$sig" "$pid" 2>/dev/null || true
    if [ "$sig" = KILL ]; then wait "$pid" 2>/dev/null || true; fi
}

# ha_logs: the last lines of the sentinels' and data nodes' logs (for a
# failure's diagnostics; the exit trap shows only the top of them).
ha_logs() {
    local f
    for f in "$T"/sentinel-*.log "$T"/redis-[ab].log; do
        [ -s "$f" ] || continue
        diag "---- $(basename "$f")"
        diag "$(tail -n 25 "$f" | _redact_secrets | cut -c1-300)"
    done
}

# push_blobs CREDS BASEURL REPO LAYOUT DIGEST: upload the config and layer
# blobs of one image of an OCI layout (POST + monolithic PUT), not its
# manifest; CREDS is USER:PASSWORD (an API key as the password works too).
push_blobs() {
    local creds=$1 base=$2 repo=$3 layout=$4 digest=$5 b loc sep code
    for b in $(jq -r '.config.digest, .layers[].digest' "$layout/blobs/sha256/${digest#sha256:}"); do
        loc=$(curl -s --max-time 10 -u "$creds" -X POST -H 'Content-Length: 0' -o /dev/null \
                -D - "$base/v2/$repo/blobs/uploads/" 2>/dev/null \
              | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
        [ -n "$loc" ] || return 1
        case $loc in http*) ;; *) loc=$base$loc ;; esac
        case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
        code=$(curl -s --max-time 15 -u "$creds" -X PUT -o /dev/null -w '%{http_code}' \
                 -H 'Content-Type: application/octet-stream' \
                 --data-binary "@$layout/blobs/sha256/${b#sha256:}" "$loc${sep}digest=$b" 2>/dev/null)
        [ "$code" = 201 ] || return 1
    done
}

# put_oci_manifest NAME CREDS BASEURL REPO REF FILE: an OCI manifest PUT
# (CREDS empty: anonymous); status on stdout, headers/body kept as NAME.
put_oci_manifest() {
    local name=$1 creds=$2
    shift 2
    req "$name" ${creds:+-u "$creds"} -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary "@$4" "$1/v2/$2/manifests/$3"
}

# registry_tag_digest REGPORT REPO TAG: the digest docker-registry itself
# holds for a tag (asked directly), or the HTTP status when it has none.
registry_tag_digest() {
    local code
    code=$(curl -s --max-time 10 -o /dev/null -D "$T/.regtag.hdr" -w '%{http_code}' -I \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://127.0.0.1:$1/v2/$2/manifests/$3" 2>/dev/null || true)
    if [ "$code" = 200 ]; then
        tr -d '\r' < "$T/.regtag.hdr" | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
    else
        echo "$code"
    fi
}

# ha_acl_denials: how many commands, keys or channels the ACLs refused to
# ocigate's users (ACL LOG of every data node and sentinel still running;
# failed logins, reason "auth", are not counted). Prints N; the ACL LOG of each node that refused
# something goes to $T/acl-denials.txt.
_ha_acl_count() {
    tr -d '\r' | awk 'k == "reason" { r = $0 }
        k == "username" && r != "auth" && ($0 == "ocigate" || $0 == "ocigate-sentinel") { n++ }
        { k = $0 } END { print n + 0 }'
}
ha_acl_denials() {
    local n=0 c out who
    : > "$T/acl-denials.txt"
    for who in a b s1 s2 s3; do
        case $who in
            s*) out=$(sentinel_cli "${who#s}" ACL LOG 128) ;;
            *) out=$(ha_cli "$who" ACL LOG 128) ;;
        esac
        c=$(printf '%s\n' "$out" | _ha_acl_count)
        if [ "$c" != 0 ]; then
            { echo "== $who"; printf '%s\n' "$out"; } >> "$T/acl-denials.txt"
        fi
        n=$((n + c))
    done
    echo "$n"
}
