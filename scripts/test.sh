#!/usr/bin/env bash
# The whole test suite from a fresh clone: install dependencies and data
# (scripts/setup.sh), build with warnings as errors, a short libFuzzer smoke
# run of the model-file and dataset readers, then every test with ctest.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh"
"$here/scripts/build.sh" -DNOTA_WERROR=ON -DNOTA_TESTS=ON
"$here/scripts/fuzz.sh" "${NOTA_FUZZ_SECONDS:-15}"
cd "${NOTA_BUILD_DIR:-$here/build}"
ctest --output-on-failure -j "$(nproc)"
