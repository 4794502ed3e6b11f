#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and run
# each for N seconds (default 15). Used by test.sh for a short smoke run;
# run longer by hand, e.g. `scripts/fuzz.sh 600`. A crash fails the script
# and leaves the reproducer (crash-*) in build-fuzz/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-15}
build=${NOTA_FUZZ_BUILD_DIR:-$here/build-fuzz}
CC=clang cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOTA_FUZZ=ON \
  -DNOTA_TESTS=OFF -DNOTA_BENCH=OFF >/dev/null
targets=$(cd "$here/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
cmake --build "$build" -j "$(nproc)" --target $targets >/dev/null
cd "$build"
for name in $targets; do
  t=tests/fuzz/$name
  mkdir -p "corpus/$name"
  echo "fuzz: $name for ${secs}s"
  "./$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "corpus/$name" \
    > "$name.log" 2>&1 || { tail -40 "$name.log"; echo "fuzz: $name FAILED (log: $build/$name.log)"; exit 1; }
  grep -E "^#[0-9]+.*DONE" "$name.log" | tail -1 || true
done
echo "fuzz: all targets clean"
