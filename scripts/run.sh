#!/usr/bin/env bash
# The main job from a fresh clone: set up, build, fit the Gaussian baseline and
# the NOTA flow (an autoregressive layer, then rotation layers) on
# Fashion-MNIST train, write a grid of flow samples (temperature 1: lower
# temperatures empty many samples, docs/flow.md) and print both models' test
# bits/dim. Outputs go to out/ (or $1).
# NOTA_FLOW_SECONDS sets the flow's time budget (default 300 s).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$here/out}
secs=${NOTA_FLOW_SECONDS:-300}
"$here/scripts/setup.sh"
"$here/scripts/build.sh"
host="${NOTA_BUILD_DIR:-$here/build}/nota-host"
mkdir -p "$out"

echo "== Gaussian baseline (full covariance, logit-preprocessed pixels)"
"$host" fit --plugin latent --set preprocess=logit --data fashion-mnist:train \
  --out "$out/gaussian.nota"
gauss=$("$host" eval "$out/gaussian.nota" --data fashion-mnist:test | awk '$1 == "bits_per_dim" {print $2}')

echo "== NOTA flow (${secs} s budget)"
"$host" fit --plugin flow --set time_limit="$secs" --data fashion-mnist:train \
  --out "$out/flow.nota"
"$host" sample "$out/flow.nota" --n 100 --temperature 1.0 --out "$out/flow-samples"
flow=$("$host" eval "$out/flow.nota" --data fashion-mnist:test | awk '$1 == "bits_per_dim" {print $2}')

echo
echo "Fashion-MNIST test bits/dim: Gaussian $gauss, flow $flow"
echo "flow samples: $out/flow-samples.png"
