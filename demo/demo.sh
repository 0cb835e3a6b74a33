#!/usr/bin/env bash
# demo/demo.sh - a working ocigate on loopback: docker-registry + Redis +
# lighttpd with ocigate as authorizer, the seed policy (deploy/examples/seed.json:
# anyone pulls, CI pushes new tags only, admins do everything, anyone scrapes
# metrics), bearer tokens, and browser sign-in against the test OpenID
# provider (tests/idp) with the API key page.
#
#   demo/demo.sh         install what is missing, build, start, print how to use it
#   demo/demo.sh stop    stop everything the demo started
#
# Everything lives in $OCIGATE_DEMO_DIR (default /tmp/ocigate-demo); ports:
# registry 127.0.0.1:5000, lighttpd 127.0.0.1:8080, Redis 127.0.0.1:6390,
# the test OpenID provider 127.0.0.1:9400.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${OCIGATE_DEMO_DIR:-/tmp/ocigate-demo}
reg_port=${OCIGATE_DEMO_REGISTRY_PORT:-5000}
web_port=${OCIGATE_DEMO_PORT:-8080}
redis_port=${OCIGATE_DEMO_REDIS_PORT:-6390}
idp_port=${OCIGATE_DEMO_IDP_PORT:-9400}

stop() {
    for name in lighttpd ocigate registry redis idp; do
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
(umask 077 && "$og" token-key generate > "$dir/token.key" &&
 "$og" session-key generate > "$dir/session.key")

# The test OpenID provider: people sign in to the key page there (alice is in
# artifact-workloads, admin in admins; passwords generated, in idp.json).
base="http://127.0.0.1:$web_port"
nohup node "$here/tests/idp/server.mjs" --port "$idp_port" --state "$dir/idp.json" \
    --log "$dir/idp.log" --redirect-uri "$base/ocigate/callback" \
    --post-logout-uri "$base/ocigate/keys" >"$dir/idp.out" 2>&1 &
echo $! > "$dir/idp.pid"
wait_for "the OpenID provider" test -s "$dir/idp.json"
(umask 077 && jq -r .web_client.secret "$dir/idp.json" > "$dir/oidc-client-secret")

jq --arg reg "http://127.0.0.1:$reg_port" \
   --arg redis "redis://127.0.0.1:$redis_port/0" \
   --arg ht "$dir/htpasswd" --arg key "$dir/token.key" \
   --arg realm "$base/ocigate/token" --arg svc "127.0.0.1:$web_port" \
   --arg base "$base" --arg issuer "$(jq -r .issuer "$dir/idp.json")" \
   --arg client "$(jq -r .web_client.id "$dir/idp.json")" \
   --arg secret "$dir/oidc-client-secret" --arg skey "$dir/session.key" '
  .registry.url = $reg | .redis.url = $redis | .auth.htpasswd.path = $ht
  | .auth.apikey = {"enabled": true, "cacheSeconds": 30}
  | .auth.openid = {"issuer": $issuer, "audiences": ["registry"], "clientId": $client,
                    "clientSecretFile": $secret}
  | .externalUrl = $base | .session = {"keyFile": $skey}
  | .token = {"challenge": "bearer", "realm": $realm, "service": $svc, "keyFile": $key,
              "lifetimeSeconds": 300}' \
  "$here/deploy/examples/seed.json" > "$dir/ocigate.json"
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
  policy:    $dir/ocigate.json (the seed policy: anyone pulls; ci pushes new tags, never
             overwrites a v* tag; admins do everything; anyone scrapes $base/ocigate/metrics)
  users:     admin / $admin_pw      ci / $ci_pw   (htpasswd)
  API key:   ${ci_key:-"(not available in this build)"}  (user ci, group artifact-workloads)

Sign in with a browser and make your own API keys:

  key page:  $base/ocigate/keys
  sign in:   alice / $(jq -r .accounts.alice.password "$dir/idp.json")   (artifact-workloads: push new tags)
             admin / $(jq -r .accounts.admin.password "$dir/idp.json")   (admins: everything, sees every user's keys)
             (the test OpenID provider at $(jq -r .issuer "$dir/idp.json"); demo accounts only)

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
