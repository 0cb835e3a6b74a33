#!/bin/sh
# tests/fuzz/build.sh [OUTDIR] - build ocigate's libFuzzer harnesses.
#
# Compiles policy/, common/ and responder/ (every folder beneath it; all but
# responder/main.c) with clang and
# -fsanitize=fuzzer-no-link,address,undefined into OUTDIR/libocigate-fuzz.a,
# then links every tests/fuzz/fuzz_*.c against it with
# -fsanitize=fuzzer,address,undefined. UBSan findings abort (no recovery).
# Include paths are Makefile.am's (every source folder) plus a stand-in
# ocigate_build.h in OUTDIR/include; libraries come from pkg-config.
#
# OUTDIR defaults to $FUZZ_OUT, else ./fuzz-build (relative to the current
# directory, so that `make check` builds in the build tree, never in srcdir).
# CC defaults to clang (clang-14 if there is no plain clang).
# Exit status: 0 built; 77 the toolchain cannot build fuzzers (no clang or no
# libFuzzer runtime, or a library is missing); 1 a build error.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-${FUZZ_OUT:-$(pwd)/fuzz-build}}

if [ -z "${CC_FUZZ:-}" ]; then
    if command -v clang >/dev/null 2>&1; then CC_FUZZ=clang
    elif command -v clang-14 >/dev/null 2>&1; then CC_FUZZ=clang-14
    else echo "build.sh: no clang" >&2; exit 77
    fi
fi
pkgs="jansson libcurl hiredis libcrypto libjwt libcrypt fcgi"
if ! pkg-config --exists $pkgs 2>/dev/null; then
    echo "build.sh: pkg-config cannot find all of: $pkgs" >&2
    exit 77
fi

mkdir -p "$out/include" "$out/obj"
# Does this clang have the libFuzzer runtime?
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    > "$out/probe.c"
if ! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" \
        >/dev/null 2>&1; then
    echo "build.sh: $CC_FUZZ cannot link -fsanitize=fuzzer (libclang_rt.fuzzer missing?)" >&2
    exit 77
fi
rm -f "$out/probe" "$out/probe.c"

version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac" | head -n 1)
cat > "$out/include/ocigate_build.h" <<EOF
/* stand-in for the configure-generated header (tests/fuzz/build.sh) */
#define PACKAGE "ocigate"
#define PACKAGE_NAME "ocigate"
#define PACKAGE_VERSION "${version:-0}-fuzz"
#define PACKAGE_STRING "ocigate ${version:-0}-fuzz"
#define VERSION PACKAGE_VERSION
EOF

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra $san"
# Every source folder, as in Makefile.am's AM_CPPFLAGS (headers by bare name).
srcdirs="policy common responder responder/http responder/auth responder/store
responder/endpoints responder/cli"
incs=""
for d in $srcdirs; do incs="$incs -I$top/$d"; done
cppflags="-I$out/include$incs $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs)"

# The project's sources, instrumented for coverage (rebuilt when newer).
objs=""
for d in $srcdirs; do
  for src in "$top/$d"/*.c; do
    [ -f "$src" ] || continue
    case "$src" in "$top/responder/main.c") continue ;; esac
    # object named after its folder and file: responder/auth/oidc.c -> responder_auth_oidc.o
    obj="$out/obj/$(printf '%s' "$d" | tr / _)_$(basename "$src" .c).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
       [ -n "$(find "$top/policy" "$top/common" "$top/responder" -name '*.h' -newer "$obj" 2>/dev/null)" ]; then
        # shellcheck disable=SC2086
        "$CC_FUZZ" $cflags -fsanitize=fuzzer-no-link $cppflags -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
  done
done
rm -f "$out/libocigate-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$out/libocigate-fuzz.a" $objs

for h in "$here"/fuzz_*.c; do
    name=$(basename "$h" .c)
    # shellcheck disable=SC2086
    "$CC_FUZZ" $cflags -fsanitize=fuzzer $cppflags -I"$here" "$h" "$out/libocigate-fuzz.a" \
        $libs -o "$out/$name"
done
echo "build.sh: fuzzers in $out"
