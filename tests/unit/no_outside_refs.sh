#!/usr/bin/env bash
# no_outside_refs.sh - the repository stands alone: a clone holds every
# document its files point to. TAP, part of `make check` (no OCIGATE_E2E).
#
#   1. no source, doc, test or config file cites a document that is not in
#      the repository (the team's SPEC.md and its sections, ARCHITECTURE.md,
#      the reference notes);
#   2. every Markdown link [text](target) in a *.md file names a file of the
#      repository, and a #fragment names a heading of that file;
#   3. every repository path written in backticks in a *.md file
#      (`responder/handle.c`, `deploy/nginx/`) exists (git checkouts only: a
#      dist tarball leaves out files such as .ci/run).
#
# In a git checkout the files are the tracked ones; in an unpacked dist
# tarball (make distcheck), the files under the source tree.
set -u

src=${OCIGATE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
src=$(cd "$src" && pwd -P)
cd "$src" || { echo "1..0 # SKIP no source tree"; exit 0; }

# The list of files, relative to $src, one per line.
in_git=0
if command -v git >/dev/null 2>&1 &&
   top=$(git rev-parse --show-toplevel 2>/dev/null) &&
   [ "$(cd "$top" && pwd -P)" = "$src" ]; then
    in_git=1
    files=$(git ls-files)
else
    files=$(find . \( -name _build -o -name _inst -o -name node_modules -o -name autom4te.cache \
                      -o -name .git \) -prune -o -type f -print | sed 's|^\./||')
fi
# Data, not prose: fuzz inputs are random bytes.
prose=$(printf '%s\n' "$files" | grep -v -e '^tests/fuzz/corpus/' -e '^tests/fuzz/crashes/' \
        -e '^tests/idp/package-lock.json$')
self=tests/unit/no_outside_refs.sh

n=0
fails=0
ok() {       # ok DESCRIPTION PROBLEMS
    n=$((n + 1))
    if [ -z "$2" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        printf '%s\n' "$2" | sed 's/^/#   /'
        fails=$((fails + 1))
    fi
}

echo "1..3"

# ---- 1. citations of documents outside the repository ----------------------
# The patterns are written so that this file does not match itself.
outside='(^|[^A-Za-z_])SPEC([^A-Za-z_]|$)|ARCHITECTURE[.]md|semantics[ ]notes|reference[ ]notes|zot-authz-semantics|webserver-integration[.]md|client-auth-behaviour[.]md|[.][.]/shared/'
hits=$(printf '%s\n' "$prose" | grep -v -x -F "$self" | tr '\n' '\0' |
       xargs -0 grep -I -n -E "$outside" -- 2>/dev/null | cut -c1-160)
ok "no file cites SPEC.md, a SPEC section, ARCHITECTURE.md or the reference notes (say it in doc/)" "$hits"

# ---- helpers for 2 and 3 ----------------------------------------------------
# Does the repository hold this path (a file, or a folder holding files)?
exists() {
    local p=${1%/}
    [ -n "$p" ] || return 1
    printf '%s\n' "$files" | grep -q -x -F -e "$p" && return 0
    printf '%s\n' "$files" | grep -q -F -e "$p/" || return 1
    printf '%s\n' "$files" | cut -c1-$((${#p} + 1)) | grep -q -x -F -e "$p/"
}

# "a/b/../c/./d" -> "a/c/d"
normalize() {
    local IFS=/ part out=()
    for part in $1; do
        case $part in
            ''|.) ;;
            ..) [ ${#out[@]} -gt 0 ] && unset 'out[${#out[@]}-1]' ;;
            *) out+=("$part") ;;
        esac
    done
    (IFS=/; printf '%s' "${out[*]}")
}

# The anchors of a Markdown file's headings, as GitHub makes them.
anchors() {
    grep -E '^#{1,6} ' "$1" | sed -E 's/^#+ +//' | tr 'A-Z' 'a-z' |
        sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'
}

mds=$(printf '%s\n' "$files" | grep -E '\.md$' | grep -v -e '^tests/idp/node_modules/')

# ---- 2. Markdown links ------------------------------------------------------
bad=""
for md in $mds; do
    [ -f "$md" ] || continue
    dir=$(dirname "$md")
    # every (target) right after a ]
    while IFS= read -r target; do
        target=${target%% *}                    # drop a "title"
        case $target in
            http://*|https://*|mailto:*) continue ;;
        esac
        path=${target%%#*}
        frag=""
        case $target in *'#'*) frag=${target#*#} ;; esac
        if [ -z "$path" ]; then
            file=$md
        else
            [ "$dir" = . ] && file=$(normalize "$path") || file=$(normalize "$dir/$path")
            if ! exists "$file"; then
                bad="$bad$md: ($target): no such file in the repository"$'\n'
                continue
            fi
        fi
        if [ -n "$frag" ] && [ -f "$file" ] && [ "${file%.md}" != "$file" ]; then
            anchors "$file" | grep -q -x -F -e "$frag" ||
                bad="$bad$md: ($target): no heading #$frag in $file"$'\n'
        fi
    done < <(grep -o -E '\]\([^)]+\)' "$md" | sed -E 's/^\]\(//; s/\)$//')
done
ok "every Markdown link names a file (and heading) of the repository" "${bad%$'\n'}"

# ---- 3. repository paths in backticks ---------------------------------------
if [ "$in_git" != 1 ]; then
    n=$((n + 1))
    echo "ok $n # SKIP not a git checkout (a dist tarball leaves out some files)"
else
    bad=""
    for md in $mds; do
        [ -f "$md" ] || continue
        while IFS= read -r p; do
            case $p in *'*'*|*'?'*|*'{'*|*NAME*|*REPO*|*PATH*|*FILE*) continue ;; esac
            exists "$p" || bad="$bad$md: \`$p\`: no such file or folder in the repository"$'\n'
        done < <(grep -o -E '`(\.ci|common|demo|deploy|doc|man|policy|responder|tests)/[A-Za-z0-9_./*?{},-]*`' "$md" |
                 tr -d '`' | sort -u)
    done
    ok "every repository path in backticks in a *.md file exists" "${bad%$'\n'}"
fi

[ "$fails" -eq 0 ]
