#!/usr/bin/env bash
# Scatter plugin benchmarks (results go to bench/RESULTS.md by hand):
#  1. scattering of 10,000 Fashion-MNIST test images (J=2, L=8): nota-host
#     transform on 1 and 2 threads (default fft=auto, i.e. DFT matrices as
#     GEMMs for these sizes; and fft=kissfft) vs the NumPy transcription of
#     Kymatio (bench/scatter_ref.py), wall time and peak memory, same run;
#     plus the largest difference between the two on the first 500 images;
#  2. one decoder epoch (default 28x28 decoder, k=512, batch 128) vs the same
#     decoder in PyTorch CPU with the same threads, alternating runs.
#
#   bench/scatter_bench.sh BUILD_DIR [N_DECODER_IMAGES] [THREADS]   (N = 0: skip 2.)
set -euo pipefail
build=${1:?usage: scatter_bench.sh BUILD_DIR [N_DECODER_IMAGES] [THREADS]}
nd=${2:-2560}
threads=${3:-2}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
host="$build/nota-host"
py=/usr/bin/python3
idx=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=$threads

timed() { # label, command...: prints "label wall_s peak_MB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/err"; exit 1; }
  read -r s kb < "$tmp/t"
  printf '%-28s %8.2f s %8.0f MB\n' "$label" "$s" "$((kb / 1024))"
}

echo "== scattering, 10000 images, J=2 L=8 ($(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg))"
timed "numpy reference" $py "$here/scatter_ref.py" bench "$idx" 10000
timed "nota 1 thread" "$host" transform --plugin scatter --data fashion-mnist:test \
  --out "$tmp/s1.npy" --threads 1
timed "nota $threads threads" "$host" transform --plugin scatter --data fashion-mnist:test \
  --out "$tmp/s.npy" --threads "$threads"
timed "nota kissfft 1 thread" "$host" transform --plugin scatter --data fashion-mnist:test \
  --out "$tmp/s1.npy" --threads 1 --set fft=kissfft
timed "nota kissfft $threads threads" "$host" transform --plugin scatter --data fashion-mnist:test \
  --out "$tmp/s.npy" --threads "$threads" --set fft=kissfft
timed "numpy reference (again)" $py "$here/scatter_ref.py" bench "$idx" 10000

echo "== agreement on the first 500 images (u8/255, as Kymatio users pass them)"
"$host" transform --plugin scatter --data fashion-mnist:test --limit 500 --out "$tmp/a.npy" \
  --set input_shift=-0.5 --set input_scale=0.00392156862745098 --threads "$threads" > /dev/null 2>&1
$py - "$here" "$idx" "$tmp/a.npy" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import scatter_ref as r
x = r.read_idx(sys.argv[2], 500).astype(np.float64) / 255.0
ref = r.Scattering2D(2, (28, 28), 8)(x)
c = np.load(sys.argv[3])
d = np.abs(c - ref)
print('max |nota - numpy| = %.3g, max relative to rtol 1e-4 / atol 1e-6 tolerance = %.3g'
      % (d.max(), (d / (1e-6 + 1e-4 * np.abs(ref))).max()))
PY

[ "$nd" -gt 0 ] || exit 0
echo "== decoder epoch, $nd images, k=512, batch 128, $threads threads"
for round in 1 2; do
  "$host" fit --plugin scatter --data fashion-mnist:train --limit "$nd" --set epochs=1 \
    --set valid_frac=0 --out "$tmp/m.nota" --threads "$threads" -v 2>&1 |
    sed -n 's/.*scatter: epoch 1\/1 .*(\([0-9.]*\) s)$/nota decoder epoch: \1 s/p'
  $py "$here/scatter_decoder.py" --n "$nd" --threads "$threads"
done
