#!/bin/sh
# Build bench/dfm_speed.c against a nota build tree and run it for a few
# architectures. Usage: bench/dfm_speed.sh [BUILD_DIR] (default build).
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
exe=$(mktemp /tmp/dfm_speed.XXXXXX)
trap 'rm -f "$exe"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -I"$here/sdk/include" "$here/bench/dfm_speed.c" -o "$exe" \
   -L"$build" -lnota -lm -lpthread -Wl,-rpath,"$build"
for arch in "4 4" "6 4" "8 4"; do
    "$exe" $arch 1
done
"$exe" 6 4 2
