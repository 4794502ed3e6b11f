#!/usr/bin/env bash
# dfm generation mode on Fashion-MNIST against the same model in PyTorch
# (bench/dfm_gen.py: alternating speed runs, a short fit with test
# reconstruction, sample grids from N(0, s^2 I) and from a fitted Gaussian
# prior into docs/img/). Builds nota-host and the dfm and latent plugins
# (Release) into build-bench/ or the build directory given first; extra
# arguments go to dfm_gen.py. Prints markdown for bench/RESULTS.md's
# "## dfm generation" section (pasted by hand: the file is shared).
#
#     bench/dfm_gen.sh                          # 100 batches x 2 reps, 2 threads
#     bench/dfm_gen.sh build --batches 200 --reps 3
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build-bench}
shift || true
if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target nota-host nota-plugin-dfm nota-plugin-latent >/dev/null
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "dfm_gen.sh: python3-torch missing" >&2; exit 1; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$here/dfm_gen.py" --build "$build" "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
