#!/usr/bin/env bash
# demo/demo.sh - a working ocigate on loopback: docker-registry + Redis +
# lighttpd with ocigate as authorizer, the three-tier policy, bearer tokens.
#
#   demo/demo.sh         install what is missing, build, start, print how to use it
#   demo/demo.sh stop    stop everything the demo started
#
# Everything lives in $OCIGATE_DEMO_DIR (default /tmp/ocigate-demo); ports:
# registry 127.0.0.1:5000, lighttpd 127.0.0.1:8080, Redis 127.0.0.1:6390.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${OCIGATE_DEMO_DIR:-/tmp/ocigate-demo}
reg_port=${OCIGATE_DEMO_REGISTRY_PORT:-5000}
web_port=${OCIGATE_DEMO_PORT:-8080}
redis_port=${OCIGATE_DEMO_REDIS_PORT:-6390}

stop() {
    for name in lighttpd ocigate registry redis; do
        if [ -f "$dir/$name.pid" ]; then
            kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
            rm -f "$dir/$name.pid"
        fi
    done
    echo "demo stopped (files kept in $dir)"
}

wait_for() {   # wait_for DESCRIPTION COMMAND...
    local what=$1; shift
    for _ in $(seq 1 100); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "demo: $what did not come up; see the logs in $dir" >&2
    exit 1
}

if [ "${1:-}" = stop ]; then
    stop
    exit 0
fi

bash "$here/tests/install-deps.sh"

# build (out of tree, reused between runs)
build="$here/_build"
if [ ! -x "$build/ocigate" ]; then
    (cd "$here" && autoreconf -fi >/dev/null 2>&1)
    mkdir -p "$build"
    (cd "$build" && "$here/configure" -q >/dev/null)
fi
make -C "$build" -j"$(nproc)" ocigate >/dev/null
og="$build/ocigate"

[ -d "$dir" ] && stop >/dev/null 2>&1 || true
rm -rf "$dir"
mkdir -p "$dir/registry" "$dir/lighttpd"
chmod 0755 "$dir"

admin_pw=$(openssl rand -hex 12)
ci_pw=$(openssl rand -hex 12)
htpasswd -bBc "$dir/htpasswd" admin "$admin_pw" 2>/dev/null
htpasswd -bB "$dir/htpasswd" ci "$ci_pw" 2>/dev/null
"$og" token-key generate > "$dir/token.key"

jq --arg reg "http://127.0.0.1:$reg_port" \
   --arg redis "redis://127.0.0.1:$redis_port/0" \
   --arg ht "$dir/htpasswd" --arg key "$dir/token.key" \
   --arg realm "http://127.0.0.1:$web_port/ocigate/token" --arg svc "127.0.0.1:$web_port" '
  .registry.url = $reg | .redis.url = $redis | .auth.htpasswd.path = $ht
  | .auth.apikey = {"enabled": true, "cacheSeconds": 30}
  | .token = {"challenge": "bearer", "realm": $realm, "service": $svc, "keyFile": $key,
              "lifetimeSeconds": 300}' \
  "$here/deploy/examples/three-tier.json" > "$dir/ocigate.json"
"$og" check -c "$dir/ocigate.json" >/dev/null

cat > "$dir/registry.yml" <<YML
version: 0.1
log: { level: info, accesslog: { disabled: false } }
storage:
  filesystem: { rootdirectory: $dir/registry }
  delete: { enabled: true }
http: { addr: 127.0.0.1:$reg_port }
YML

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
nohup docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
echo $! > "$dir/registry.pid"
nohup "$og" serve -c "$dir/ocigate.json" --listen "unix:$dir/ocigate.sock,mode=0660" \
    --workers 2 >"$dir/ocigate.log" 2>&1 &
echo $! > "$dir/ocigate.pid"

cp "$here/deploy/lighttpd/identity.lua" "$dir/lighttpd/identity.lua"
{
    echo "server.document-root = \"$dir/lighttpd\""
    echo "server.bind = \"127.0.0.1\""
    echo "server.port = $web_port"
    echo "server.errorlog = \"$dir/lighttpd.log\""
    echo "server.pid-file = \"$dir/lighttpd.pid\""
    sed -e "s|/run/ocigate/ocigate.sock|$dir/ocigate.sock|g" \
        -e "s|/etc/lighttpd/ocigate/identity.lua|$dir/lighttpd/identity.lua|g" \
        -e "s|\"port\" => 5000|\"port\" => $reg_port|g" \
        "$here/deploy/lighttpd/ocigate-external.conf"
} > "$dir/lighttpd.conf"

wait_for "redis" redis-cli -p "$redis_port" ping
wait_for "the registry" curl -sf "http://127.0.0.1:$reg_port/v2/"
wait_for "ocigate" test -S "$dir/ocigate.sock"
lighttpd -f "$dir/lighttpd.conf"
wait_for "lighttpd" curl -s -o /dev/null "http://127.0.0.1:$web_port/v2/"

ci_key=$("$og" key create -c "$dir/ocigate.json" --user ci --group artifact-workloads \
         --label demo 2>/dev/null || true)

cat <<TXT

ocigate demo is running (files and logs in $dir; stop with: demo/demo.sh stop)

  registry:  http://127.0.0.1:$web_port  (lighttpd -> ocigate -> docker-registry on 127.0.0.1:$reg_port)
  policy:    $dir/ocigate.json (anyone pulls; ci pushes new tags only; admin does everything)
  users:     admin / $admin_pw      ci / $ci_pw
  API key:   ${ci_key:-"(not available in this build)"}  (user ci, group artifact-workloads)

Push an image as ci, then pull it anonymously (skopeo; podman works the same way):

  python3 $here/tests/e2e/mkimage.py /tmp/demo-image v1
  skopeo copy --dest-tls-verify=false --dest-creds ci:$ci_pw oci:/tmp/demo-image:v1 docker://127.0.0.1:$web_port/demo/app:v1
  skopeo copy --src-tls-verify=false docker://127.0.0.1:$web_port/demo/app:v1 oci:/tmp/demo-pulled:v1

Overwriting v1 as ci is refused (403, tags are immutable for CI); as admin it works:

  skopeo copy --dest-tls-verify=false --dest-creds ci:$ci_pw oci:/tmp/demo-image:v1 docker://127.0.0.1:$web_port/demo/app:v1
  skopeo copy --dest-tls-verify=false --dest-creds admin:$admin_pw oci:/tmp/demo-image:v1 docker://127.0.0.1:$web_port/demo/app:v1

Ask ocigate why, without a web server:

  $og explain -c $dir/ocigate.json --user ci --existing-tag v1 PUT /v2/demo/app/manifests/v1

Decisions are logged, one JSON line each, in $dir/ocigate.log.
TXT
