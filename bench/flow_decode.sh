#!/usr/bin/env bash
# How the first autoregressive layer's contexts decide whether codes that
# went through rotation layers decode back to their images (docs/flow.md
# "Blended cells and level contexts"). Each variant fits 1 shared-cell
# layer (no net, for speed) then 10 rotation layers on the first 20,000
# Fashion-MNIST train images (10% held out), and encodes then decodes the
# first 2,000 test images (bench/flow_roundtrip.sh).
#
#   bench/flow_decode.sh            # images
#   bench/flow_decode.sh vectors    # vectors (per-coordinate layers)
#
# Prints one markdown row per variant: validation bits/dim after the
# autoregressive layer and after all layers, fit seconds, and the test
# images decoded with a pixel off by more than 0.01 level, those pixels,
# the largest error (levels).
#
# vectors: 196-dimensional vectors (2×2 block means of the same images,
# plus uniform noise, / 64; preprocess none), with the default layers
# (one per-coordinate autoregressive layer then rotation layers; 11 in
# all) and without autoregressive layers: the test vectors of 2,000 whose
# decode is off by more than 1e-4 of the largest value, and the largest
# such error.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
H=${NOTA_HOST:-$here/build/nota-host}
work=$(mktemp -d /tmp/nota_flow_decode_XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "${1:-}" = vectors ]; then
  /usr/bin/python3 - "$work" <<'PY'
import gzip, sys
import numpy as np
rng = np.random.default_rng(0)
def load(name, n):
    with gzip.open("/usr/share/datasets/fashion-mnist/%s-images-idx3-ubyte.gz" % name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
def vectors(a):
    v = a.reshape(len(a), 14, 2, 14, 2).mean((2, 4)).reshape(len(a), -1).astype(np.float32)
    return (v + rng.uniform(0, 1, v.shape).astype(np.float32)) / 64
np.save(sys.argv[1] + "/train.npy", vectors(load("train", 20000)))
np.save(sys.argv[1] + "/test.npy", vectors(load("t10k", 2000)))
PY
  echo "| layers | validation bits/dim | vectors wrong (of 2000) | largest relative error |"
  echo "|---|---|---|---|"
  for ar in 1 0; do
    "$H" fit --plugin flow --data "$work/train.npy" --set max_layers=11 --set patience=100 \
      --set ar_layers=$ar --threads 2 --out "$work/v.nota" > "$work/fit.log" 2>&1
    valid=$(grep -oE 'validation [0-9.-]+ bpd' "$work/fit.log" | awk '{print $2}')
    "$H" encode "$work/v.nota" --data "$work/test.npy" --out "$work/z.npy" --threads 2 > /dev/null 2>&1
    "$H" decode "$work/v.nota" --codes "$work/z.npy" --out "$work/x" --threads 2 > /dev/null 2>&1
    row=$(/usr/bin/python3 - "$work" <<'PY'
import sys
import numpy as np
a = np.load(sys.argv[1] + "/test.npy")
e = np.abs(np.load(sys.argv[1] + "/x.npy").reshape(a.shape) - a) / np.abs(a).max()
print("%d | %.3g" % ((e.max(1) > 1e-4).sum(), e.max()))
PY
)
    echo "| $ar autoregressive + $((11 - ar)) rotation | $valid | $row |"
  done
  exit 0
fi

echo "| variant | validation, layer 1 | validation, all layers | fit s | images wrong (of 2000) | pixels wrong | largest error |"
echo "|---|---|---|---|---|---|---|"
one="max_layers=11 ar_layers=1 ar_shared=1 ar_hidden=0 patience=100"
# name | settings
for v in "intensities, one cell's spline|$one ar_levels=false ar_blend=none" \
         "level centres, one cell's spline|$one ar_blend=none" \
         "level centres, blended (default)|$one" \
         "intensities, blended|$one ar_levels=false ar_blend=all" \
         "2 layers (default: the first blended)|max_layers=12 ar_layers=2 ar_shared=2 ar_hidden=0 patience=100" \
         "2 layers, both blended|max_layers=12 ar_layers=2 ar_shared=2 ar_hidden=0 patience=100 ar_blend=all"; do
  name=${v%%|*}
  sets=()
  for s in ${v#*|}; do sets+=(--set "$s"); done
  "$H" fit --plugin flow --data fashion-mnist:train --limit 20000 "${sets[@]}" --threads 2 \
    --out "$work/m.nota" > "$work/fit.log" 2>&1
  lines=$(tr '\r' '\n' < "$work/fit.log" | grep -oE 'layer [0-9]+: train [0-9.]+ bpd, valid [0-9.]+ bpd, .*, [0-9.]+ s$')
  first=$(echo "$lines" | grep -E '^layer 1:' | tail -1 | grep -oE 'valid [0-9.]+' | awk '{print $2}')
  last=$(echo "$lines" | tail -1 | grep -oE 'valid [0-9.]+' | awk '{print $2}')
  secs=$(echo "$lines" | tail -1 | grep -oE '[0-9.]+ s$' | awk '{print $1}')
  rt=$(NOTA_HOST="$H" "$here/bench/flow_roundtrip.sh" "$work/m.nota" 2000 |
    awk -F'|' '{print $3 "|" $4 "|" $5}')
  echo "| $name | $first | $last | $secs |$rt|"
done
