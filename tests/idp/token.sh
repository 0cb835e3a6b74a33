#!/bin/sh
# tests/idp/token.sh ISSUER CLIENT_ID CLIENT_SECRET [RESOURCE]
#
# Client credentials grant against the test IdP (server.mjs): prints the
# access token (a JWT) on stdout and nothing else. RESOURCE is a resource
# indicator, full (urn:ocigate:registry-typjwt) or short (registry-typjwt);
# the default is the IdP's default, urn:ocigate:registry (aud "registry",
# typ "at+jwt"). The secret goes to curl through a config file on stdin, so it
# never appears in a process list. Exit status 1 (and the IdP's error on
# stderr) when no token was issued.
set -eu

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: token.sh ISSUER CLIENT_ID CLIENT_SECRET [RESOURCE]" >&2
    exit 2
fi
issuer=${1%/}
client_id=$2
client_secret=$3
resource=${4:-}
case $resource in
    ''|*:*) ;;
    *) resource=urn:ocigate:$resource ;;
esac

resp=$(
    {
        printf 'user = "%s:%s"\n' "$client_id" "$client_secret"
        printf 'data-urlencode = "grant_type=client_credentials"\n'
        printf 'data-urlencode = "scope=registry"\n'
        if [ -n "$resource" ]; then
            printf 'data-urlencode = "resource=%s"\n' "$resource"
        fi
    } | curl -sS --max-time 10 -K - "$issuer/token"
) || { echo "token.sh: request to $issuer/token failed" >&2; exit 1; }

token=$(printf '%s' "$resp" | jq -r '.access_token // empty' 2>/dev/null || true)
if [ -z "$token" ]; then
    echo "token.sh: no access_token: $resp" >&2
    exit 1
fi
printf '%s\n' "$token"
