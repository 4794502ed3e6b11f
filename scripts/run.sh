#!/usr/bin/env bash
# The main job from a fresh clone: set up, build, fit nota's model of
# Fashion-MNIST, write a grid of samples and print the test bits/dim.
# Outputs go to out/ (or $1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$here/out}
"$here/scripts/setup.sh"
"$here/scripts/build.sh"
host="${NOTA_BUILD_DIR:-$here/build}/nota-host"
mkdir -p "$out"
"$host" fit --plugin latent --set kind=gaussian --set preprocess=logit --data fashion-mnist:train --out "$out/gaussian.nota"
"$host" info "$out/gaussian.nota"
"$host" sample "$out/gaussian.nota" --n 64 --out "$out/gaussian-samples"
"$host" eval "$out/gaussian.nota" --data fashion-mnist:test
echo "samples: $out/gaussian-samples.png"
