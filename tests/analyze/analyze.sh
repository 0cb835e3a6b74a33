#!/bin/sh
# tests/analyze/analyze.sh SUPPRESSIONS SRCDIR CC CFLAGS -- FILE... - GCC's
# static analyzer (-fanalyzer) over the C files among FILE... (paths below
# SRCDIR; headers are skipped), one compile each.
#
# Each finding becomes one line "FILE: FUNCTION: MESSAGE [-Wanalyzer-KIND]"
# (FILE without its folders, so that moving a file keeps its entry; no line
# numbers, so that an edit elsewhere in the file keeps it too). A finding
# that is not in SUPPRESSIONS (the known false positives, each with its
# reason) fails the run: exit 1, the finding and gcc's path to it printed.
# A suppression no finding matches any more is reported, and does not fail.
# `make analyze` runs this; tests/run-all.sh runs `make analyze`.
set -u
supp=$1 srcdir=$2 cc=$3 flags=$4
shift 4
[ "${1:-}" = -- ] && shift
LC_ALL=C; export LC_ALL      # ASCII quotes in gcc's messages
out=${TMPDIR:-/tmp}/ocigate-analyze.$$
mkdir -p "$out" || exit 2
trap 'rm -rf "$out"' EXIT INT TERM

if ! echo 'int main(void){return 0;}' | $cc -fanalyzer -x c -c -o /dev/null - 2>/dev/null; then
    echo "analyze: $cc has no -fanalyzer (GCC 10 or later has)" >&2
    exit 2
fi

n=0
for f in "$@"; do
    case $f in *.c) f=$srcdir/$f ;; *) continue ;; esac
    n=$((n + 1))
    # shellcheck disable=SC2086  # flags is a list of compiler options
    $cc $flags -fanalyzer -c -o /dev/null "$f" > "$out/$n.txt" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && ! grep -q 'warning: .*\[-Wanalyzer-' "$out/$n.txt"; then
        echo "analyze: $f does not compile:" >&2
        cat "$out/$n.txt" >&2
        exit 2
    fi
    # "FILE: In function 'F':" then "FILE:L:C: warning: MSG [CWE-N] [-Wanalyzer-K]"
    awk '
        / In function / { fn = $0; sub(/.*In function .?/, "", fn); sub(/.?:$/, "", fn) }
        /: warning: .*\[-Wanalyzer-/ {
            file = $0; sub(/:.*/, "", file); sub(/.*\//, "", file)
            msg = $0; sub(/^[^ ]* warning: /, "", msg); sub(/ \[CWE-[0-9]+\]/, "", msg)
            print file ": " fn ": " msg
        }' "$out/$n.txt" >> "$out/findings"
done
touch "$out/findings"
sort -u "$out/findings" > "$out/found"
grep -v '^[[:space:]]*#' "$supp" | grep -v '^[[:space:]]*$' | sort -u > "$out/known"

comm -23 "$out/found" "$out/known" > "$out/new"
comm -13 "$out/found" "$out/known" > "$out/stale"
total=$(wc -l < "$out/found" | tr -d ' ')
new=$(wc -l < "$out/new" | tr -d ' ')
if [ -s "$out/stale" ]; then
    echo "analyze: suppressions that match no finding any more (remove them from $supp):"
    sed 's/^/  /' "$out/stale"
fi
if [ "$new" -gt 0 ]; then
    echo "analyze: $new new finding(s) of gcc -fanalyzer (fix it, or add it with its reason to $supp):"
    sed 's/^/  /' "$out/new"
    echo "analyze: gcc's output:"
    for t in "$out"/[0-9]*.txt; do
        grep -q 'Wanalyzer-' "$t" && cat "$t"
    done
    exit 1
fi
echo "analyze: $n files, $total finding(s), all known false positives (see $supp)"
exit 0
