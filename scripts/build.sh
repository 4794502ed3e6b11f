#!/usr/bin/env bash
# Configure and build nota into build/ (or $NOTA_BUILD_DIR). Used by test.sh
# and run.sh; safe to rerun (incremental).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${NOTA_BUILD_DIR:-$here/build}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
