#!/usr/bin/env bash
# clients.sh - every client against the demo deployment, in both challenge
# modes: docker (Debian's docker.io, a private dockerd), podman, buildah,
# skopeo, containerd's ctr (a private containerd) and curl following the
# registry token protocol by hand, through lighttpd (the shipped
# deploy/lighttpd/ocigate-external.conf) -> ocigate serve -> docker-registry,
# API keys in a real redis-server, the three-tier policy of
# deploy/examples/three-tier.json (anyone reads; artifact-workloads pushes new
# tags, never overwrites; admins do everything).
#
# For each client and each of token.challenge "bearer" and "basic":
#   anonymous pull; htpasswd login and push of a new tag; API-key push of a
#   new tag; CI overwrite of an existing tag refused; admin overwrite allowed;
#   a wrong password refused at login; anonymous push refused.
# What a client cannot do is checked as such (the check says so, and
# doc/http.md's client table says what to do): docker cannot pull
# anonymously from a Basic-challenge registry; ctr has no login command (a
# wrong password is refused at its first push). ctr pushing an image whose
# blobs are all in the registry meets its first 401 on the manifest PUT
# (containerd 1.6 was reported to stall there: checked, bounded by a
# timeout); a third ocigate, bearer mode with token.challengeAnonymous,
# shows ctr fetching its token before its first request, and docker, ctr
# and curl pulling anonymously through it.
#
# dockerd and containerd run as root with private sockets, roots and config
# under $T; both are stopped and their directories removed on any exit.
# Nothing is pulled from the internet: images are made by mkimage.py.
# TAP on stdout; OCIGATE_E2E_KEEP=1 keeps $T.

if [ "${OCIGATE_E2E:-0}" != 1 ]; then
    echo "1..0 # SKIP set OCIGATE_E2E=1"
    exit 0
fi

. "$(dirname "$0")/lib.sh"
e2e_init redis-server redis-cli docker-registry lighttpd skopeo podman buildah dockerd \
    containerd ctr curl jq python3 htpasswd timeout sha256sum
# Debian's docker client (docker.io); /usr/local/bin/docker may be another one.
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || missing_all "$DOCKER_CLI (Debian's docker.io) not installed"
[ "$(id -u)" = 0 ] || missing_all "dockerd and containerd need root"

ALL_CLIENTS="docker podman buildah skopeo ctr curl"
# OCIGATE_E2E_CLIENTS="podman ctr" runs only those (while developing); the
# others are reported as SKIPs, never left out silently.
CLIENTS=${OCIGATE_E2E_CLIENTS:-$ALL_CLIENTS}
MODES="bearer basic"
WRONG=wrong-password-$RANDOM$RANDOM     # one wrong password: the throttle counts it once

# ------------------------------------------------------------- helpers ---

redact() { sed -e 's/zak_[0-9a-f]\{6,\}/zak_<redacted>/g' -e 's/ey[A-Za-z0-9_-]\{16,\}\.[A-Za-z0-9_.-]*/<jwt>/g'; }
diag_tail() { [ -s "$1" ] && diag "$(tail -n "${2:-6}" "$1" | cut -c1-400 | _redact_secrets | redact)"; return 0; }

# The decision log of the ocigate serving the current mode ($MODE).
oglog() { echo "$T/og-$MODE.log"; }
log_mark() { wc -l < "$(oglog)"; }
log_since() { tail -n +"$(($1 + 1))" "$(oglog)"; }

# step NAME MARK: what ocigate decided while a client ran (its slice of the
# decision log: method, path, status, user) goes to $T/requests.txt, to see
# what each client really sends (OCIGATE_E2E_KEEP=1 keeps it). Keeps $?.
step() {
    local rc=$?
    { echo "== $MODE: $1"
      log_since "$2" | jq -r -R 'fromjson? | select(.path != null) |
          "   \(.method) \(.path|sub("sha256:[0-9a-f]{64}";"DIGEST")|sub("uploads/[0-9a-f-]{36}";"uploads/UUID")) \(.status) \(.user)"'
    } >> "$T/requests.txt"
    return "$rc"
}

# client_ok NAME CMD...: a client run that must succeed.
client_ok() {
    local name=$1 mark
    shift
    mark=$(log_mark)
    "$@" > "$T/client.out" 2>&1
    step "$name" "$mark"
    if ! ok $? "$name"; then
        diag "  client said: $(grep -v '^[[:space:]]*$' "$T/client.out" | tail -n 3 | cut -c1-400 | _redact_secrets | redact)"
        log_since "$mark" | grep -v '"decision":"allow"' > "$T/since.out"
        diag "  ocigate denials:"; diag_tail "$T/since.out" 4
        return 1
    fi
}
# client_refused NAME JQCOND CMD...: a client run that must fail, with a
# decision in ocigate's log (while CMD ran) for which the jq condition holds
# (so that the failure is ocigate's refusal, not something else).
client_refused() {
    local name=$1 cond=$2 mark rc
    shift 2
    mark=$(log_mark)
    "$@" > "$T/client.out" 2>&1
    rc=$?
    step "$name" "$mark"
    if [ "$rc" = 0 ]; then
        ok 1 "$name"
        diag "  the client succeeded"
        log_since "$mark" | grep -E '"method":"(PUT|POST|PATCH|DELETE)"' > "$T/since.out"
        diag "  ocigate allowed:"; diag_tail "$T/since.out" 4
        return 1
    elif log_since "$mark" | jq -e -R "fromjson? | select($cond)" > /dev/null 2>&1; then
        ok 0 "$name"
        diag "  $(grep -v '^[[:space:]]*$' "$T/client.out" | tail -n 1 | cut -c1-300 | _redact_secrets | redact)"
    else
        ok 1 "$name"
        diag "  the client failed (status $rc), but ocigate logged no decision with $cond"
        diag "  client said: $(grep -v '^[[:space:]]*$' "$T/client.out" | tail -n 3 | cut -c1-400 | _redact_secrets | redact)"
        log_since "$mark" > "$T/since.out"; diag_tail "$T/since.out" 4
        return 1
    fi
}

# registry_digest REPO TAG: the manifest digest the registry itself holds
# for the tag, or its status (404: no such tag).
registry_digest() {
    local code
    code=$(req regdigest -I -H "Accept: application/vnd.oci.image.manifest.v1+json" \
        -H "Accept: application/vnd.docker.distribution.manifest.v2+json" "$REG/v2/$1/manifests/$2")
    if [ "$code" = 200 ]; then hdr regdigest Docker-Content-Digest; else echo "$code"; fi
}

# prep NAME: a new image (random layer) as tag NAME of the OCI layout $IMG
# and as a docker-archive $T/arch/NAME.tar holding local/img:NAME.
prep() {
    mkimage "$IMG" "$1" > /dev/null || return 1
    mkdir -p "$T/arch"
    rm -f "$T/arch/$1.tar"
    timeout 60 skopeo --policy "$T/policy.json" copy --quiet \
        "oci:$IMG:$1" "docker-archive:$T/arch/$1.tar:local/img:$1" >> "$T/prep.out" 2>&1
}

# ----------------------------------------------------- per-client drivers ---
# Each client X has:
#   X_load NAME        the image local/img:NAME into the client's own store
#   X_login USER PASS  log in (status: the client's); ctr and curl keep the
#                      credentials for their next request instead
#   X_logout
#   X_push NAME REPO:TAG   push local/img:NAME with what login left
#   X_pull REPO:TAG    pull (logged out: anonymous)
# $H is the registry host:port of the current mode.

# -- docker: a private dockerd (root), Debian's client, a private DOCKER_CONFIG
dk() { DOCKER_CONFIG="$T/docker-config" timeout 120 "$DOCKER_CLI" -H "unix://$DK/dockerd.sock" "$@"; }
docker_load() { dk load -q -i "$T/arch/$1.tar"; }
docker_login() { printf '%s\n' "$2" | dk login -u "$1" --password-stdin "$H"; }
docker_logout() { dk logout "$H" > /dev/null 2>&1; return 0; }
docker_push() { dk tag "local/img:$1" "$H/$2" && dk push "$H/$2"; }
docker_pull() { dk pull "$H/$1"; }

# -- podman, buildah, skopeo: private storage (vfs), configs and auth files
pm() {
    "${CLIENT_ENV[@]}" REGISTRY_AUTH_FILE="$T/auth-podman.json" timeout 120 podman \
        --root "$T/podman/storage" --runroot "$T/podman/run" --storage-driver vfs "$@"
}
podman_load() { pm load -q -i "$T/arch/$1.tar"; }
podman_login() { printf '%s\n' "$2" | pm login --tls-verify=false -u "$1" --password-stdin "$H"; }
podman_logout() { pm logout "$H" > /dev/null 2>&1; return 0; }
podman_push() { pm push --quiet --tls-verify=false "local/img:$1" "docker://$H/$2"; }
podman_pull() { pm pull --quiet --tls-verify=false "$H/$1"; }

bh() {
    "${CLIENT_ENV[@]}" REGISTRY_AUTH_FILE="$T/auth-buildah.json" timeout 120 buildah \
        --root "$T/buildah/storage" --runroot "$T/buildah/run" --storage-driver vfs "$@"
}
buildah_load() { bh pull --quiet "docker-archive:$T/arch/$1.tar"; }
buildah_login() { printf '%s\n' "$2" | bh login --tls-verify=false -u "$1" --password-stdin "$H"; }
buildah_logout() { bh logout "$H" > /dev/null 2>&1; return 0; }
buildah_push() { bh push --quiet --tls-verify=false "local/img:$1" "docker://$H/$2"; }
buildah_pull() { bh pull --quiet --tls-verify=false "$H/$1"; }

sk() { "${CLIENT_ENV[@]}" timeout 120 skopeo --policy "$T/policy.json" "$@"; }
skopeo_load() { return 0; }     # skopeo copies from the OCI layout
skopeo_login() {
    printf '%s\n' "$2" | sk login --authfile "$T/auth-skopeo.json" --tls-verify=false \
        -u "$1" --password-stdin "$H"
}
skopeo_logout() { sk logout --authfile "$T/auth-skopeo.json" "$H" > /dev/null 2>&1; return 0; }
skopeo_push() {
    sk copy --quiet --retry-times 0 --dest-authfile "$T/auth-skopeo.json" --dest-tls-verify=false \
        "oci:$IMG:$1" "docker://$H/$2"
}
skopeo_pull() {
    rm -rf "$T/pulled-skopeo"
    sk copy --quiet --retry-times 0 --src-authfile "$T/auth-skopeo.json" --src-tls-verify=false \
        "docker://$H/$1" "oci:$T/pulled-skopeo:x"
}

# -- ctr: a private containerd (root): own config, root, state and socket,
# the native snapshotter. ctr has no login: credentials go with each push
# (--user); CTR_CREDS holds them between "login" and push.
CTR_CREDS=
ct() { CONTAINERD_SNAPSHOTTER=native timeout "${CTR_TIMEOUT:-120}" ctr --address "$CT/containerd.sock" -n e2e "$@"; }
ctr_load() { ct images import --no-unpack "$T/arch/$1.tar"; }
ctr_login() { CTR_CREDS="$1:$2"; return 0; }
ctr_logout() { CTR_CREDS=; return 0; }
ctr_push() {
    local u=()
    [ -n "$CTR_CREDS" ] && u=(--user "$CTR_CREDS")
    ct images push --plain-http "${u[@]}" "$H/$2" "docker.io/local/img:$1"
}
ctr_pull() { ct images pull --plain-http "$H/$1"; }

# -- curl: the registry protocol by hand. cx METHOD URL [CURL-ARGS...] makes
# one request with what the last challenge asked for: no credentials first;
# on a 401 with a Basic challenge the Basic credentials (CURL_CREDS); on a
# Bearer challenge a token from its realm for its service and scope (Basic
# credentials at the token endpoint when there are any), then the request
# again with the token. Prints the final status; headers and body in
# $T/cx.hdr and $T/cx.body.
CURL_CREDS=
cx() {
    local method=$1 url=$2 code ch realm service scope tq tok
    shift 2
    code=$(req cx -X "$method" "$@" "$url")
    [ "$code" = 401 ] || { echo "$code"; return 0; }
    ch=$(hdr cx WWW-Authenticate)
    echo "$ch" >> "$T/curl-challenges.out"
    case $ch in
        Basic*)
            [ -n "$CURL_CREDS" ] || { echo 401; return 0; }
            req cx -X "$method" -u "$CURL_CREDS" "$@" "$url" ;;
        Bearer*)
            realm=$(printf '%s' "$ch" | sed -n 's/.*realm="\([^"]*\)".*/\1/p')
            service=$(printf '%s' "$ch" | sed -n 's/.*service="\([^"]*\)".*/\1/p')
            scope=$(printf '%s' "$ch" | sed -n 's/.*scope="\([^"]*\)".*/\1/p')
            tq="service=$(jq -rn --arg v "$service" '$v|@uri')"
            [ -n "$scope" ] && tq="$tq&scope=$(jq -rn --arg v "$scope" '$v|@uri')"
            local a=()
            [ -n "$CURL_CREDS" ] && a=(-u "$CURL_CREDS")
            code=$(req cxtok "${a[@]}" "$realm?$tq")
            [ "$code" = 200 ] || { echo "$code"; return 0; }
            tok=$(jq -r '.token // empty' "$T/cxtok.body")
            [ -n "$tok" ] && secret "$tok"
            req cx -X "$method" -H "Authorization: Bearer $tok" "$@" "$url" ;;
        *) echo 401 ;;
    esac
}
curl_load() { return 0; }       # curl pushes from the OCI layout
# login: the client's own check of its credentials: GET /v2/ through the
# challenge (Basic: with them; Bearer: a token for them, then /v2/ with it).
curl_login() {
    CURL_CREDS="$1:$2"
    local code
    code=$(cx GET "http://$H/v2/")
    [ "$code" = 200 ] || { echo "curl login: GET /v2/ answered $code"; CURL_CREDS=; return 1; }
}
curl_logout() { CURL_CREDS=; return 0; }
# push: each blob (POST, then a monolithic PUT ?digest=), then the manifest.
curl_push() {
    local name=$1 repo=${2%%:*} tag=${2#*:} m mf d code loc
    m=$(jq -r --arg t "$name" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$IMG/index.json")
    mf=$IMG/blobs/sha256/${m#sha256:}
    for d in $(jq -r '.config.digest, .layers[].digest' "$mf"); do
        code=$(cx POST "http://$H/v2/$repo/blobs/uploads/" -H "Content-Length: 0")
        [ "$code" = 202 ] || { echo "curl push: POST blobs/uploads/ answered $code"; return 1; }
        loc=$(hdr cx Location)
        case $loc in http*) ;; *) loc="http://$H$loc" ;; esac
        case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
        code=$(cx PUT "$loc" -H "Content-Type: application/octet-stream" \
            --data-binary "@$IMG/blobs/sha256/${d#sha256:}")
        [ "$code" = 201 ] || { echo "curl push: PUT blob $d answered $code"; return 1; }
    done
    code=$(cx PUT "http://$H/v2/$repo/manifests/$tag" \
        -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary "@$mf")
    [ "$code" = 201 ] || { echo "curl push: PUT manifest answered $code: $(head -c 300 "$T/cx.body")"; return 1; }
}
# pull: the manifest, then every blob, each checked against its digest.
curl_pull() {
    local repo=${1%%:*} tag=${1#*:} code d
    code=$(cx GET "http://$H/v2/$repo/manifests/$tag" \
        -H "Accept: application/vnd.oci.image.manifest.v1+json" \
        -H "Accept: application/vnd.docker.distribution.manifest.v2+json")
    [ "$code" = 200 ] || { echo "curl pull: GET manifest answered $code"; return 1; }
    cp "$T/cx.body" "$T/curl-manifest.json"
    for d in $(jq -r '.config.digest, .layers[].digest' "$T/curl-manifest.json"); do
        code=$(cx GET "http://$H/v2/$repo/blobs/$d" -L)
        [ "$code" = 200 ] || { echo "curl pull: GET blob $d answered $code"; return 1; }
        [ "sha256:$(sha256sum < "$T/cx.body" | cut -d' ' -f1)" = "$d" ] ||
            { echo "curl pull: blob $d does not match its digest"; return 1; }
    done
}

# ------------------------------------------------------------------ setup ---

read -r REDIS_PORT REG_PORT P_bearer P_basic P_anon <<<"$(free_ports 5)"
REG=http://127.0.0.1:$REG_PORT
IMG=$T/img
mkdir -p "$T/home" "$T/tmp" "$T/podman/tmp" "$T/docker-config"
echo '{ "default": [ { "type": "insecureAcceptAnything" } ] }' > "$T/policy.json"
for f in podman buildah skopeo; do echo '{}' > "$T/auth-$f.json"; done

start_redis "$REDIS_PORT"
start_registry "$REG_PORT"
make_htpasswd "$T/htpasswd" ci admin
secret "$WRONG"
"$OCIGATE_BIN" token-key generate > "$T/token.key" 2> "$T/token-key.err" ||
    bail "ocigate token-key generate failed: $(cat "$T/token-key.err")"
secret_file "$T/token.key"

# The demo's config (three-tier.json) with API keys on; per mode: bearer
# (token endpoint on the lighttpd of that mode), basic, and bearer with
# token.challengeAnonymous.
for m in bearer basic anon; do
    port_var=P_$m
    port=${!port_var}
    case $m in
        bearer) tok='{ challenge: "bearer", realm: $realm, service: $service, keyFile: $key }' ;;
        basic) tok='{ challenge: "basic" }' ;;
        anon) tok='{ challenge: "bearer", realm: $realm, service: $service, keyFile: $key, challengeAnonymous: true }' ;;
    esac
    test_config "$T/og-$m.json" "$REG_PORT" "$REDIS_PORT" "$T/htpasswd" '.auth.apikey = { enabled: true }' 
    jq --arg realm "http://127.0.0.1:$port/ocigate/token" --arg service "127.0.0.1:$port" \
       --arg key "$T/token.key" ".token = $tok" "$T/og-$m.json" > "$T/og-$m.json.tmp" &&
        mv "$T/og-$m.json.tmp" "$T/og-$m.json" || bail "jq failed on og-$m.json"
    "$OCIGATE_BIN" check -c "$T/og-$m.json" > "$T/check-$m.out" 2>&1 ||
        bail "ocigate check refuses og-$m.json: $(tail -n 3 "$T/check-$m.out")"
    "$OCIGATE_BIN" serve -c "$T/og-$m.json" --listen "unix:$T/og-$m.sock,mode=0660" \
        --workers 2 >> "$T/og-$m.log" 2>&1 &
    pid=$!
    register_pid "$pid"
    wait_socket "$T/og-$m.sock" 10 "$pid" || bail "ocigate serve ($m) did not listen"
    lighttpd_snippet "$DEPLOY/lighttpd/ocigate-external.conf" "$T/external-$m.conf" \
        regport="$REG_PORT" conf="$T/og-$m.json" extsock="$T/og-$m.sock"
    start_lighttpd "lighttpd-$m" "$port" "$T/external-$m.conf"
done
grep -q 'challengeAnonymous: registry requests without credentials are challenged' "$T/check-anon.out" ||
    bail "ocigate check does not report token.challengeAnonymous: $(grep challenge "$T/check-anon.out")"

KEY=$("$OCIGATE_BIN" key create -c "$T/og-bearer.json" --user ci-key --group artifact-workloads \
      --label e2e-clients 2> "$T/keys.err")
[[ $KEY =~ ^zak_[0-9a-f]{32}$ ]] || bail "ocigate key create failed: $(tail -n 2 "$T/keys.err")"
secret "$KEY"

# podman, buildah and skopeo: private configs, HOME and TMPDIR in $T.
cat > "$T/registries.conf" <<EOF
unqualified-search-registries = []
EOF
for p in $P_bearer $P_basic $P_anon; do
    printf '[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$p" >> "$T/registries.conf"
done
cat > "$T/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/podman/events"
tmp_dir = "$T/podman/tmp"
EOF
cat > "$T/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$T/podman/run"
graphroot = "$T/podman/storage"
EOF
CLIENT_ENV=(env HOME="$T/home" TMPDIR="$T/tmp" CONTAINERS_REGISTRIES_CONF="$T/registries.conf"
            CONTAINERS_CONF="$T/containers.conf" CONTAINERS_STORAGE_CONF="$T/storage.conf")

# dockerd: private socket, data, exec root and pidfile; the registries on
# loopback are insecure (plain HTTP). Registered first among the clients'
# daemons, it is stopped (TERM, then KILL with its containerd) on any exit,
# and its directories go with $T.
DK=$T/dk
mkdir -p "$DK"
dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --insecure-registry "127.0.0.1:$P_bearer" --insecure-registry "127.0.0.1:$P_basic" \
    --insecure-registry "127.0.0.1:$P_anon" -H "unix://$DK/dockerd.sock" \
    --data-root "$DK/data" --exec-root "$DK/exec" --pidfile "$DK/dockerd.pid" \
    > "$T/dockerd.log" 2>&1 &
DOCKERD_PID=$!
register_pid "$DOCKERD_PID"
WAIT_PID=$DOCKERD_PID wait_until 60 dk version || bail "dockerd did not start: $(tail -n 3 "$T/dockerd.log")"
loopback_only "$DOCKERD_PID" dockerd

# containerd: its own config, root, state and socket; native snapshotter.
CT=$T/ct
mkdir -p "$CT"
cat > "$CT/config.toml" <<EOF
version = 2
root = "$CT/root"
state = "$CT/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.overlayfs",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CT/containerd.sock"
[ttrpc]
  address = "$CT/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
containerd --config "$CT/config.toml" > "$T/containerd.log" 2>&1 &
CONTAINERD_PID=$!
register_pid "$CONTAINERD_PID"
wait_socket "$CT/containerd.sock" 30 "$CONTAINERD_PID" || bail "containerd did not start: $(tail -n 3 "$T/containerd.log")"
WAIT_PID=$CONTAINERD_PID wait_until 20 ct version || bail "ctr cannot reach containerd"
loopback_only "$CONTAINERD_PID" containerd

# The image everyone pulls anonymously, pushed by an admin in each mode.
prep seed || bail "mkimage/skopeo could not make the seed image: $(tail -n 3 "$T/prep.out")"
for m in bearer basic anon; do
    port_var=P_$m
    sk copy --quiet --retry-times 0 --dest-tls-verify=false --dest-creds "admin:$PASS_admin" \
        "oci:$IMG:seed" "docker://127.0.0.1:${!port_var}/$m/seed:v1" > "$T/seed.out" 2>&1 ||
        bail "the admin's skopeo push of $m/seed:v1 failed: $(tail -n 2 "$T/seed.out" | _redact_secrets)"
done
diag "setup done in $(($(date +%s) - _e2e_t0)) s"

# ---------------------------------------------------------- the matrix ---

# login_step CLIENT NAME USER PASS: a login check; ctr has no login
# command (its credentials go with each push), so there it only sets them.
login_step() {
    if [ "$1" = ctr ]; then
        ctr_login "$3" "$4"
    else
        client_ok "$2" "${1}_login" "$3" "$4"
    fi
}

# run_client CLIENT MODE: the seven operations.
run_client() {
    local c=$1 repo t0 dig
    MODE=$2
    H=127.0.0.1:${!3}
    repo=$MODE/$c/app
    t0=$(date +%s)
    for n in pw key over adm anon; do
        prep "$c-$MODE-$n" && "${c}_load" "$c-$MODE-$n" > "$T/load.out" 2>&1 ||
            bail "$c: could not make or load the image $c-$MODE-$n: $(tail -n 2 "$T/load.out" "$T/prep.out")"
    done
    "${c}_logout"

    # 1. anonymous pull
    if [ "$c/$MODE" = docker/basic ]; then
        # docker reads challenges from its /v2/ ping alone; a Basic challenge
        # without credentials ends the pull before any request is sent.
        client_refused "$c/$MODE: anonymous pull fails (docker cannot pull anonymously from a Basic-challenge registry; use bearer mode or docker login)" \
            '.path=="/v2/" and .status==401' "${c}_pull" "$MODE/seed:v1"
        like "$(cat "$T/client.out")" 'no basic auth credentials' "$c/$MODE: ... docker says \"no basic auth credentials\""
    else
        client_ok "$c/$MODE: anonymous pull of $MODE/seed:v1" "${c}_pull" "$MODE/seed:v1"
    fi

    # 2. htpasswd login and push of a new tag
    login_step "$c" "$c/$MODE: login as ci (htpasswd)" ci "$PASS_ci"
    client_ok "$c/$MODE: ci pushes the new tag $repo:pw" "${c}_push" "$c-$MODE-pw" "$repo:pw"
    dig=$(registry_digest "$repo" pw)
    like "$dig" '^sha256:' "$c/$MODE: ... $repo:pw is in the registry"

    # 4. the same CI identity overwriting that tag: refused, tag unchanged
    client_refused "$c/$MODE: ci overwriting $repo:pw is refused (403)" \
        '.method=="PUT" and (.path|endswith("/manifests/pw")) and .status==403' \
        "${c}_push" "$c-$MODE-over" "$repo:pw"
    is "$(registry_digest "$repo" pw)" "$dig" "$c/$MODE: ... $repo:pw is unchanged"
    "${c}_logout"

    # 3. API key: login with the key as the password, push a new tag
    login_step "$c" "$c/$MODE: login with an API key" ci-key "$KEY"
    client_ok "$c/$MODE: the API key pushes the new tag $repo:key" "${c}_push" "$c-$MODE-key" "$repo:key"
    like "$(registry_digest "$repo" key)" '^sha256:' "$c/$MODE: ... $repo:key is in the registry"
    "${c}_logout"

    # 5. an admin overwrites the tag
    login_step "$c" "$c/$MODE: login as admin" admin "$PASS_admin"
    client_ok "$c/$MODE: admin overwrites $repo:pw" "${c}_push" "$c-$MODE-adm" "$repo:pw"
    ok '[ "$(registry_digest "$repo" pw)" != "$dig" ] && [[ $(registry_digest "$repo" pw) == sha256:* ]]' \
        "$c/$MODE: ... $repo:pw now holds the admin's image"
    "${c}_logout"

    # 6. a wrong password is refused at login (ctr has no login: at its push)
    if [ "$c" = ctr ]; then
        ctr_login ci "$WRONG"
        client_refused "$c/$MODE: ci with a wrong password: the push is refused (401)" \
            '.status==401 and .rule!="challenge" and .auth!="anonymous"' ctr_push "$c-$MODE-anon" "$repo:wrong"
        ctr_logout
    else
        client_refused "$c/$MODE: login as ci with a wrong password is refused (401)" \
            '.status==401 and .rule!="challenge" and .auth!="anonymous"' "${c}_login" ci "$WRONG"
        "${c}_logout"
    fi

    # 7. anonymous push: refused, nothing written
    if [ "$c/$MODE" = docker/basic ]; then
        # no credentials for a Basic challenge: docker stops after the ping
        client_refused "$c/$MODE: anonymous push is refused (the /v2/ ping's 401; docker sends nothing more)" \
            '.path=="/v2/" and .status==401' "${c}_push" "$c-$MODE-anon" "$repo:anon"
    else
        client_refused "$c/$MODE: anonymous push is refused (401)" \
            '.status==401 and .rule!="challenge" and (.path|startswith("/v2/'"$repo"'/"))' \
            "${c}_push" "$c-$MODE-anon" "$repo:anon"
    fi
    is "$(registry_digest "$repo" anon)" 404 "$c/$MODE: ... no $repo:anon in the registry"
    diag "$c/$MODE: $(($(date +%s) - t0)) s"
}

for c in $ALL_CLIENTS; do
    case " $CLIENTS " in
        *" $c "*) ;;
        *) echo "ok $((_tap_n += 1)) # SKIP $c: not in OCIGATE_E2E_CLIENTS=$CLIENTS"; continue ;;
    esac
    for mode in $MODES; do
        run_client "$c" "$mode" "P_$mode"
    done
done

# ------------------------------------ ctr and token.challengeAnonymous ---
# ctr sends credentials only after a 401. When every blob of an image is in
# the registry already, its anonymous HEADs are all allowed and the manifest
# PUT is the first request that needs credentials: the 401 answers a request
# with a body. containerd 1.6 was reported to stall there; Debian 12's
# 1.6.20 fetches credentials and sends the PUT again (checked here, bounded
# by a timeout so that a client that does stall fails the check instead of
# hanging the run). With token.challengeAnonymous the first request is
# challenged, ctr gets its token before any body is sent, and no PUT is
# ever answered 401.

case " $CLIENTS " in
*" ctr "*)
    for MODE in bearer basic; do
        pv=P_$MODE
        H=127.0.0.1:${!pv}
        ctr_login ci "$PASS_ci"
        mark=$(log_mark)
        t0=$(date +%s)
        CTR_TIMEOUT=30 ctr_push "ctr-$MODE-key" "$MODE/ctr/app:again" > "$T/client.out" 2>&1
        rc=$?
        ok '[ "$rc" = 0 ]' "ctr/$MODE: ci pushes an image whose blobs are all in the registry to a new tag (the manifest PUT is the first request that needs credentials)" ||
            diag "  ctr $([ "$rc" = 124 ] && echo "stalled: killed after $(($(date +%s) - t0)) s" || echo "failed with status $rc"): $(tail -n 1 "$T/client.out" | cut -c1-200 | _redact_secrets)"
        log_since "$mark" | jq -r -R 'fromjson? | select(.path != null) | "\(.method) \(.path) \(.status)"' |
            grep -v '/blobs/' > "$T/ctr-again.out"
        is "$(tr '\n' ' ' < "$T/ctr-again.out")" \
            "HEAD /v2/$MODE/ctr/app/manifests/again 200 PUT /v2/$MODE/ctr/app/manifests/again 401 $([ "$MODE" = bearer ] && echo "POST /ocigate/token 405 GET /ocigate/token 200 ")PUT /v2/$MODE/ctr/app/manifests/again 201 " \
            "ctr/$MODE: ... anonymous HEADs, the PUT answered 401, $([ "$MODE" = bearer ] && echo "a token (after a POST the endpoint refuses), ")the PUT again with credentials"
        like "$(registry_digest "$MODE/ctr/app" again)" '^sha256:' "ctr/$MODE: ... $MODE/ctr/app:again is in the registry"
        ctr_logout
    done

    # the same with the third ocigate: bearer mode, token.challengeAnonymous
    MODE=anon H=127.0.0.1:$P_anon
    status=$(req anonping "http://$H/v2/anon/seed/manifests/v1")
    is "$status" 401 "anon: an anonymous manifest GET (allowed to anonymous clients) is 401 with challengeAnonymous"
    is "$(hdr anonping WWW-Authenticate)" "Bearer realm=\"http://$H/ocigate/token\",service=\"$H\",scope=\"repository:anon/seed:pull,push\"" \
        "anon: ... with the Bearer challenge and its scope"
    run_client ctr anon P_anon
    ctr_login ci "$PASS_ci"
    mark=$(log_mark)
    client_ok "ctr/anon: ci pushes an image whose blobs are all in the registry to a new tag" \
        ctr_push ctr-anon-key anon/ctr/app:again
    like "$(registry_digest anon/ctr/app again)" '^sha256:' "ctr/anon: ... anon/ctr/app:again is in the registry"
    log_since "$mark" | jq -r -R 'fromjson? | select(.path != null) | "\(.method) \(.path) \(.status)"' > "$T/ctr-again.out"
    # the first requests (parallel blob HEADs) are challenged; a token comes
    # before any registry request is answered
    is "$(awk '$3 != 401 && $3 != 405 { print $1, $2, $3; exit }' "$T/ctr-again.out")" "GET /ocigate/token 200" \
        "ctr/anon: ... its first requests were challenged (401), and a token came before any other answer" ||
        diag "$(head -n 6 "$T/ctr-again.out")"
    ok '! grep -q "manifests/again 401" "$T/ctr-again.out"' "ctr/anon: ... no manifest PUT was answered 401"
    ctr_logout
    ;;
esac
case " $CLIENTS " in
*" docker "*)
    MODE=anon H=127.0.0.1:$P_anon
    docker_logout
    client_ok "docker/anon: anonymous pull with challengeAnonymous (an anonymous token first)" docker_pull anon/seed:v1 ;;
esac
case " $CLIENTS " in
*" curl "*)
    MODE=anon H=127.0.0.1:$P_anon
    curl_logout
    : > "$T/curl-challenges.out"
    client_ok "curl/anon: anonymous pull by hand with challengeAnonymous (token, then manifest and blobs)" curl_pull anon/seed:v1
    like "$(head -n 1 "$T/curl-challenges.out")" '^Bearer realm=.*scope="repository:anon/seed:pull,push"' \
        "curl/anon: ... after a Bearer challenge naming the scope"
    # the filtered catalog (ocigate answers it itself) is challenged too
    is "$(req anoncat "http://$H/v2/_catalog")" 401 "curl/anon: an anonymous GET /v2/_catalog is 401 with challengeAnonymous"
    like "$(hdr anoncat WWW-Authenticate)" '^Bearer realm=.*scope="registry:catalog:\*"' \
        "curl/anon: ... with a Bearer challenge for registry:catalog:*"
    code=$(cx GET "http://$H/v2/_catalog")
    ok '[ "$code" = 200 ] && jq -e ".repositories | index(\"anon/seed\")" "$T/cx.body" > /dev/null' \
        "curl/anon: ... and with the anonymous token for it, 200 listing anon/seed" ||
        diag "  status $code: $(head -c 300 "$T/cx.body")" ;;
esac

done_testing
