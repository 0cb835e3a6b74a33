# webserver_lib.sh - helpers for running the shipped web server configs of
# deploy/ (nginx, Caddy, Apache) on loopback in the tests of tests/e2e/.
# Sourced after lib.sh (uses $T, bail, register_pid, wait_port).
#
#   start_recorder PORT UPSTREAM_PORT LOG   a recording HTTP proxy in front of
#                                           the registry: one JSON line per
#                                           request (method, path, headers)
#   deploy_copy SRC DEST KEY=VALUE...      a shipped file with its install
#                                           paths replaced (the shipped file
#                                           is what gets tested)
#   need_door NAME COMMAND                 is this web server installed? If
#                                           not: a TAP SKIP, or a failure
#                                           under CI=true or OCIGATE_E2E=1
#   start_nginx / start_caddy / start_apache NAME PORT CONFIG
#                                           one instance, in the foreground
#                                           of a background job, config and
#                                           logs in $T; sets SERVER_PID

# ------------------------------------------------------------ recorder ------

# start_recorder PORT UPSTREAM_PORT LOG: the "registry" the web servers
# proxy to. Every request is appended to LOG as JSON (method, path, headers
# lower-cased) and then forwarded to 127.0.0.1:UPSTREAM_PORT (the real
# docker-registry), the answer streamed back. So a test knows exactly what
# reached the registry and with which X-Ocigate-* headers.
start_recorder() {
    local port=$1 upstream=$2 log=$3
    cat > "$T/recorder.py" <<'EOF'
import http.client, http.server, json, socketserver, sys, threading
port, upstream, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
       "transfer-encoding", "upgrade", "content-length", "expect"}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_one(self):
        body = self._body()
        with lock, open(out, "a") as f:
            seen = {}
            for k, v in self.headers.items():
                seen[k.lower()] = seen[k.lower()] + "," + v if k.lower() in seen else v
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "headers": seen}) + "\n")
        # keep repeated headers (skopeo sends several Accept lines)
        hdrs = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP]
        if body or self.command in ("PUT", "POST", "PATCH"):
            hdrs.append(("Content-Length", str(len(body))))
        c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        try:
            c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs:
                c.putheader(k, v)
            c.endheaders(body or None)
            r = c.getresponse()
            data = r.read()
        except OSError as e:   # the registry hung up (e.g. on a bogus upload)
            self.send_error(502, str(e))
            return
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", r.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = handle_one

    def log_message(self, *a):
        pass

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

S(("127.0.0.1", port), H).serve_forever()
EOF
    python3 "$T/recorder.py" "$port" "$upstream" "$log" > "$T/recorder.log" 2>&1 &
    RECORDER_PID=$!
    register_pid "$RECORDER_PID"
    wait_port "$port" 10 "$RECORDER_PID" || bail "recorder did not listen on $port"
    loopback_only "$RECORDER_PID" recorder
}

# ------------------------------------------------------------ doors ---------

# need_door NAME COMMAND: status 0 when COMMAND is installed. Otherwise one
# TAP line and status 1: a SKIP, or under CI=true or OCIGATE_E2E=1 a failure
# (a CI machine that lacks a door would otherwise pass without testing it;
# see e2e_strict in lib.sh).
need_door() {
    command -v "$2" >/dev/null 2>&1 && return 0
    missing_checks 1 "$1: $2 not installed"
    return 1
}

# ------------------------------------------------------------ configs -------

# deploy_copy SRC DEST KEY=VALUE...: copy a shipped deploy/ file with its
# install paths replaced. Keys:
#   sock=PATH      /run/ocigate/ocigate.sock (nginx, Caddy)
#   tcp=PORT       127.0.0.1:9000 (Apache: ocigate on TCP)
#   regport=PORT   127.0.0.1:5000 (the registry)
#   port=PORT      the address the server listens on (nginx "listen 80;",
#                  the Caddy site "registry.example.org {", Apache
#                  "Listen 80" and "<VirtualHost *:80>")
# A leftover install path fails the test: it would silently test something
# else.
deploy_copy() {
    local src=$1 dest=$2 kv sock=$T/ocigate.sock tcp=9000 regport=5000 port=80
    shift 2
    for kv in "$@"; do
        case $kv in
            sock=*) sock=${kv#sock=} ;;
            tcp=*) tcp=${kv#tcp=} ;;
            regport=*) regport=${kv#regport=} ;;
            port=*) port=${kv#port=} ;;
            *) bail "deploy_copy: unknown $kv" ;;
        esac
    done
    sed -e "s#/run/ocigate/ocigate.sock#$sock#g" \
        -e "s#127\.0\.0\.1:9000#127.0.0.1:$tcp#g" \
        -e "s#127\.0\.0\.1:5000#127.0.0.1:$regport#g" \
        -e "s#^\([[:space:]]*\)listen 80;#\1listen 127.0.0.1:$port;#" \
        -e "s#^registry\.example\.org {#http://127.0.0.1:$port {#" \
        -e "s#^Listen 80\$#Listen 127.0.0.1:$port#" \
        -e "s#<VirtualHost \*:80>#<VirtualHost 127.0.0.1:$port>#" \
        "$src" > "$dest"
    if grep -nE '/run/ocigate|127\.0\.0\.1:(5000|9000)([^0-9]|$)|listen 80;|^registry\.example\.org|VirtualHost \*:80|^Listen 80$' "$dest" \
            | grep -vE '^[0-9]+:[[:space:]]*#' | grep -q .; then
        bail "deploy_copy: $src still holds an install path after substitution"
    fi
}

# ------------------------------------------------------------ servers -------

# start_nginx NAME PORT SNIPPET: nginx -g 'daemon off;' with a minimal main
# config (one worker, logs and temp files in $T) whose http block includes
# SNIPPET (a server block, as in sites-enabled). With NGINX_USER=www-data the
# config says "user www-data;": the master stays root, its workers run as that.
start_nginx() {
    local name=$1 port=$2 snippet=$3 d=$T/$1
    mkdir -p "$d/tmp"
    cat > "$d/nginx.conf" <<EOF
${NGINX_USER:+user $NGINX_USER;}
worker_processes 1;
error_log $T/$name.log info;
pid $d/nginx.pid;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $T/$name-access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    include $snippet;
}
EOF
    nginx -t -q -p "$d" -c "$d/nginx.conf" >> "$T/$name.log" 2>&1 \
        || bail "nginx refuses $d/nginx.conf: $(tail -n 3 "$T/$name.log")"
    nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' >> "$T/$name.log" 2>&1 &
    SERVER_PID=$!
    register_pid "$SERVER_PID"
    wait_port "$port" 10 "$SERVER_PID" || bail "nginx ($name) did not listen on $port"
    loopback_only "$SERVER_PID" "nginx ($name)"
}

# start_caddy NAME PORT CADDYFILE: caddy run with the Caddyfile as given
# (its site address already rewritten to 127.0.0.1:PORT), admin API off,
# every listener on 127.0.0.1, HOME/XDG dirs in $T so nothing is written
# outside it.
start_caddy() {
    local name=$1 port=$2 file=$3 d=$T/$1
    mkdir -p "$d"
    # no admin endpoint (it would listen on localhost:2019, and several
    # instances would fight over it); a site address of 127.0.0.1 only
    # matches the Host: Caddy still listens on every interface unless told
    { printf '{\n\tadmin off\n\tdefault_bind 127.0.0.1\n}\n\n'; cat "$file"; } > "$d/Caddyfile"
    file=$d/Caddyfile
    HOME=$d XDG_DATA_HOME=$d/data XDG_CONFIG_HOME=$d/config \
        caddy validate --adapter caddyfile --config "$file" >> "$T/$name.log" 2>&1 \
        || bail "caddy refuses $file: $(tail -n 3 "$T/$name.log")"
    HOME=$d XDG_DATA_HOME=$d/data XDG_CONFIG_HOME=$d/config \
        caddy run --adapter caddyfile --config "$file" >> "$T/$name.log" 2>&1 &
    SERVER_PID=$!
    register_pid "$SERVER_PID"
    wait_port "$port" 10 "$SERVER_PID" || bail "caddy ($name) did not listen on $port"
    loopback_only "$SERVER_PID" "caddy ($name)"
}

# start_apache NAME PORT SITE: apache2 -DFOREGROUND with a minimal main
# config (Listen 127.0.0.1:PORT, the modules deploy/apache/ocigate.conf
# asks a2enmod for) that includes SITE, a deploy/apache file after
# deploy_copy.
start_apache() {
    local name=$1 port=$2 site=$3 d=$T/$1 m=/usr/lib/apache2/modules
    mkdir -p "$d"
    cat > "$d/httpd.conf" <<EOF
ServerRoot $d
ServerName 127.0.0.1
PidFile $d/httpd.pid
ErrorLog $T/$name.log
LogLevel warn authnz_fcgi:info
LogFormat "%h \"%r\" %>s user=%u" simple
CustomLog $T/$name-access.log simple
Mutex file:$d default
DefaultRuntimeDir $d
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authn_core_module $m/mod_authn_core.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule authz_user_module $m/mod_authz_user.so
LoadModule mime_module $m/mod_mime.so
LoadModule headers_module $m/mod_headers.so
LoadModule proxy_module $m/mod_proxy.so
LoadModule proxy_http_module $m/mod_proxy_http.so
LoadModule proxy_fcgi_module $m/mod_proxy_fcgi.so
LoadModule authnz_fcgi_module $m/mod_authnz_fcgi.so
LoadModule rewrite_module $m/mod_rewrite.so
Listen 127.0.0.1:$port
TypesConfig /etc/mime.types
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
Include $site
EOF
    apache2 -t -f "$d/httpd.conf" >> "$T/$name.log" 2>&1 \
        || bail "apache2 refuses $d/httpd.conf: $(tail -n 3 "$T/$name.log")"
    apache2 -f "$d/httpd.conf" -DFOREGROUND >> "$T/$name.log" 2>&1 &
    SERVER_PID=$!
    register_pid "$SERVER_PID"
    wait_port "$port" 10 "$SERVER_PID" || bail "apache2 ($name) did not listen on $port"
    loopback_only "$SERVER_PID" "apache2 ($name)"
}

# start_ocigate_at NAME LISTEN CONFIG: one more "ocigate serve" (2 workers)
# listening on LISTEN ("unix:PATH,mode=0666" or "tcp:127.0.0.1:PORT"), log
# in $T/NAME.log. Sets OCIGATE_PID. (lib.sh's start_ocigate makes a 0660
# unix socket; nginx's workers run as another user and need 0666 here.)
start_ocigate_at() {
    local name=$1 listen=$2 conf=$3 addr
    "$OCIGATE_BIN" serve -c "$conf" --listen "$listen" --workers 2 >> "$T/$name.log" 2>&1 &
    OCIGATE_PID=$!
    register_pid "$OCIGATE_PID"
    addr=${listen#*:}
    case $listen in
        unix:*) wait_socket "${addr%%,*}" 10 "$OCIGATE_PID" ;;
        tcp:*) wait_port "${addr##*:}" 10 "$OCIGATE_PID" ;;
    esac || bail "ocigate ($name) did not listen on $listen"
    loopback_only "$OCIGATE_PID" "ocigate ($name)"
}

# edit_copy FILE PYTHON-EXPR: rewrite FILE in place with a Python expression
# over s (the text), e.g. 's.replace("a", "b")'; bails when nothing changed,
# so that a deliberate mistake cannot silently fail to be made.
edit_copy() {
    python3 - "$1" "$2" <<'EOF2' || bail "edit_copy: $2 changed nothing in $1"
import sys
path, expr = sys.argv[1], sys.argv[2]
s = open(path).read()
t = eval(expr, {"s": s})
if t == s:
    sys.exit(1)
open(path, "w").write(t)
EOF2
}
