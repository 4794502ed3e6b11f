#!/usr/bin/env bash
# What structure is left in a fitted flow's codes that more layers (rotation
# or autoregressive) could find? Encode dequantized Fashion-MNIST items (the
# first 20,000 train images and the 10,000 test images, one uniform draw
# each, seed 0) with a flow model, fit a second flow of one layer kind on the
# train codes (preprocess=none, SECS seconds; or two autoregressive layers)
# and score the test codes. The second flow's gain over N(0, I) on the test
# codes is what such layers, added to the first model, would gain (bits/dim
# add along a composition).
#
#   bench/flow_codes_probe.sh MODEL.nota [SECS [KIND]]   (default 120 s per kind; KIND:
#   one label of the table below, e.g. "2 autoregressive", runs that kind alone)
#
# Prints one line per layer kind: test bits/dim of the codes under N(0, I)
# and under the second flow, and the gain. Runs one job at a time on 2
# threads; about 4 × (SECS + 60) + 120 seconds in all.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=$(realpath "$1")
secs=${2:-120}
H=${NOTA_HOST:-$here/build/nota-host}
work=$(mktemp -d /tmp/nota_probe_XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
/usr/bin/python3 - <<'EOF'
import gzip
import numpy as np
def load(p):
    with gzip.open(p) as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
d = '/usr/share/datasets/fashion-mnist/'
r = np.random.default_rng(0)
for name, a in (('tr', load(d + 'train-images-idx3-ubyte.gz')[:20000]),
                ('te', load(d + 't10k-images-idx3-ubyte.gz'))):
    x = a.astype(np.float32) + r.random(a.shape, dtype=np.float32)
    np.save(name + '.npy', np.minimum(x, np.float32(255.999)))
EOF
"$H" encode "$model" --data tr.npy --out ztr.npy --threads 2 > /dev/null
"$H" encode "$model" --data te.npy --out zte.npy --threads 2 > /dev/null
base=$(/usr/bin/python3 -c "
import numpy as np
z = np.load('zte.npy').reshape(10000, -1).astype(np.float64)
print(np.mean(0.5 * (z ** 2).sum(1) + 0.5 * z.shape[1] * np.log(2 * np.pi)) / (z.shape[1] * np.log(2)))")
# kinds: a label, then the second flow's settings
kinds=("patch 4,2 + full|schedule=4,2 full_every=10 ar_layers=0 max_layers=4000"
       "patch 7|schedule=7 full_every=0 ar_layers=0 max_layers=4000"
       "patch 14|schedule=14 full_every=0 ar_layers=0 max_layers=4000"
       "full|schedule=full full_every=0 ar_layers=0 max_layers=4000"
       "2 autoregressive|ar_layers=2 max_layers=2")
# a kind given as the second argument runs alone (e.g. "2 autoregressive")
if [ -n "${3:-}" ]; then
  for kind in "${kinds[@]}"; do [ "${kind%%|*}" = "$3" ] && kinds=("$kind") && break; done
fi
for kind in "${kinds[@]}"; do
  label=${kind%%|*}
  sets=()
  for s in ${kind#*|}; do sets+=(--set "$s"); done
  "$H" fit --plugin flow --data ztr.npy --set preprocess=none --set time_limit="$secs" \
    "${sets[@]}" --threads 2 --out p.nota > fit.log 2>&1
  bpd=$("$H" eval p.nota --data zte.npy --threads 2 2>/dev/null | awk '/^bits_per_dim/ {print $2}')
  kept=$(grep -o '[0-9]* layers kept' fit.log)
  /usr/bin/python3 -c "print('%-18s N(0,I) %.4f  second flow %.4f  gain %.4f bits/dim (%s)' % ('$label', $base, $bpd, $base - $bpd, '$kept'))"
done
