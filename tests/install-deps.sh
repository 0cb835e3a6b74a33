#!/usr/bin/env bash
# tests/install-deps.sh - install the Debian packages ocigate's build, demo and
# tests need (Debian 12), and the test IdP's npm packages. Idempotent.
set -uo pipefail

packages=(build-essential autoconf automake libtool pkg-config
          libfcgi-dev libjansson-dev libjwt-dev libcurl4-openssl-dev libhiredis-dev
          libssl-dev libcrypt-dev libcmocka-dev
          redis-server docker-registry lighttpd lighttpd-modules-lua nginx caddy apache2
          skopeo podman curl jq apache2-utils python3 wrk clang libclang-rt-14-dev
          systemd chromium
          docker.io containerd buildah)

missing=()
# node and npm for the test IdP: this machine image ships them; Debian's own
# packages only where there are none (mixing the two breaks npm).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages (run as root to install): ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || exit 1
    # The tests start their own redis, lighttpd, nginx, Caddy and Apache on
    # free loopback ports: no package may start its system service (it would
    # take port 80 or 6379 and keep running). policy-rc.d exiting 101 tells
    # invoke-rc.d/deb-systemd-invoke "not now"; it is removed afterwards,
    # also when apt-get fails, and one that was there already is kept.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# tests/install-deps.sh: no service starts while it installs\nexit 101\n' > "$policy" &&
            chmod 0755 "$policy" && own_policy=1
        trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rc=$?
    if [ "$own_policy" = 1 ]; then rm -f "$policy"; own_policy=0; fi
    [ "$rc" = 0 ] || exit 1
fi

# npm may be missing on a machine that has node from elsewhere: only the IdP needs it.
here=$(cd "$(dirname "$0")/.." && pwd)
# (again when a package the lock file names is missing, e.g. after a pull)
idp_stale() {
    local m
    [ -d "$here/tests/idp/node_modules" ] || return 0
    for m in $(jq -r '.packages | keys[] | select(startswith("node_modules/"))' \
                  "$here/tests/idp/package-lock.json" 2>/dev/null | head -200); do
        [ -d "$here/tests/idp/$m" ] || return 0
    done
    return 1
}
if [ -f "$here/tests/idp/package-lock.json" ] && idp_stale; then
    (cd "$here/tests/idp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
        { echo "install-deps: npm ci in tests/idp failed" >&2; exit 1; }
fi
exit 0
