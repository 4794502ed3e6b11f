#!/usr/bin/env bash
# Encode then decode Fashion-MNIST test images with a flow model and count
# the images that do not come back (docs/flow.md "The net prediction", "Not
# fixed"): pixel errors against the images at the centre of each 8-bit level,
# as `encode` takes them.
#
#   bench/flow_roundtrip.sh MODEL.nota [N]    # the first N test images (2000)
#
# Prints one markdown row: images, images with a pixel off by more than 0.01
# level, pixels off, largest error (levels).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
H=${NOTA_HOST:-$here/build/nota-host}
[ $# -ge 1 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
model=$1
n=${2:-2000}
work=$(mktemp -d /tmp/nota_flow_rt_XXXXXX)
trap 'rm -rf "$work"' EXIT
"$H" encode "$model" --data fashion-mnist:test --limit "$n" --out "$work/z.npy" --threads 2 \
  > /dev/null 2>&1
"$H" decode "$model" --codes "$work/z.npy" --out "$work/x" --threads 2 > /dev/null 2>&1
/usr/bin/python3 - "$work/x.npy" "$n" "$here" <<'PY'
import gzip, sys
import numpy as np
dec, n, root = np.load(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:n].astype(float) + 0.5
e = np.abs(dec.reshape(n, -1) - x)
print("| %d | %d | %d | %.3g |" % (n, (e.max(1) > 0.01).sum(), (e > 0.01).sum(), e.max()))
PY
