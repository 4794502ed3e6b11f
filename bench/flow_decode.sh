#!/usr/bin/env bash
# How the first autoregressive layer's contexts decide whether codes that
# went through rotation layers decode back to their images (docs/flow.md
# "Blended cells and level contexts"). Each variant fits 1 shared-cell
# layer (no net, for speed) then 10 rotation layers on the first 20,000
# Fashion-MNIST train images (10% held out), and encodes then decodes the
# first 2,000 test images (bench/flow_roundtrip.sh).
#
#   bench/flow_decode.sh
#
# Prints one markdown row per variant: validation bits/dim after the
# autoregressive layer and after all layers, fit seconds, and the test
# images decoded with a pixel off by more than 0.01 level, those pixels,
# the largest error (levels).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
H=${NOTA_HOST:-$here/build/nota-host}
work=$(mktemp -d /tmp/nota_flow_decode_XXXXXX)
trap 'rm -rf "$work"' EXIT

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
