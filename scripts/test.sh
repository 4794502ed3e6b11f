#!/usr/bin/env bash
# The whole test suite from a fresh clone: install dependencies and data
# (scripts/setup.sh), build with warnings as errors, run every test with ctest,
# then a short libFuzzer smoke run of the model-file and dataset readers.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh"
"$here/scripts/build.sh" -DNOTA_WERROR=ON -DNOTA_TESTS=ON
cd "${NOTA_BUILD_DIR:-$here/build}"
ctest --output-on-failure -j "$(nproc)"
"$here/scripts/fuzz.sh" "${NOTA_FUZZ_SECONDS:-15}"
