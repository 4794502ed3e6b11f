#!/bin/bash
# scatter_priors.sh — the README's "Mixing models" path, end to end, as
# commands anyone can rerun: fit the scatter model on Fashion-MNIST (or take
# a fitted one), PSNR on train and test, encode the train and test sets to
# codes, normality tests of the codes (`analyze`), fit four priors on the
# training codes (latent gaussian, vae, gan and a flow), score each on the
# test codes (nats/dim where a density exists), compose each with the
# decoder, sample a grid from each pipeline and from the scatter model's own
# N(0, I) prior, and put the five grids side by side in one PNG. The paper's
# Figure 1 (`nota-host traverse`) of the same model is written beside it.
#
# Usage: bench/scatter_priors.sh BUILD_DIR WORK_DIR [SCAT.nota]
#   BUILD_DIR  a nota build (nota-host and plugins/)
#   WORK_DIR   created if missing; models, codes, grids, logs and summary.txt
#   SCAT.nota  a fitted scatter model; without it one is fitted in WORK_DIR
# Environment (defaults in brackets):
#   THREADS [2]        --threads of every command
#   LIMIT [all]        training images for the scatter fit, codes and priors
#   TEST_LIMIT [all]   test images for eval and the test codes
#   EPOCHS [6]         scatter decoder epochs (only when it is fitted here)
#   PRIOR_EPOCHS [30]  latent vae and gan epochs
#   FLOW_TIME [300]    seconds the flow may spend adding layers
#   N [36]             samples per grid (a square number gives square grids)
#   SEED [1]           sampling seed
#   IMG [WORK_DIR/scatter_priors.png]  the side-by-side PNG
#   TRAVERSE [WORK_DIR/scatter_traverse.png]  the Figure 1 grid
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
fi
BUILD=$(cd "$1" && pwd)
mkdir -p "$2"
W=$(cd "$2" && pwd)
H="$BUILD/nota-host"
PY=/usr/bin/python3
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-6}
PRIOR_EPOCHS=${PRIOR_EPOCHS:-30}
FLOW_TIME=${FLOW_TIME:-300}
N=${N:-36}
SEED=${SEED:-1}
IMG=${IMG:-$W/scatter_priors.png}
TRAVERSE=${TRAVERSE:-$W/scatter_traverse.png}
TRAIN_FILTER=()
TEST_FILTER=()
[ -n "${LIMIT:-}" ] && TRAIN_FILTER=(--limit "$LIMIT")
[ -n "${TEST_LIMIT:-}" ] && TEST_FILTER=(--limit "$TEST_LIMIT")
LOG="$W/log.txt"
SUMMARY="$W/summary.txt"
: >"$LOG"
: >"$SUMMARY"

say() { echo "$*" | tee -a "$SUMMARY"; }
# step NAME COMMAND...: run it with its output in the log, and time it.
# With OUT=FILE set, its stdout goes to FILE instead (JSON results).
step() {
    local name=$1 t0 t1 out=${OUT:-$LOG}
    [ -n "${OUT:-}" ] && : >"$OUT"
    shift
    echo "== $name: $*" >>"$LOG"
    t0=$(date +%s.%N)
    "$@" >>"$out" 2>>"$LOG" || { echo "step '$name' failed; see $LOG" >&2; tail -5 "$LOG" >&2; exit 1; }
    t1=$(date +%s.%N)
    say "$(printf '%-26s %8.1f s   load %s' "$name" "$(echo "$t1 - $t0" | bc)" \
        "$(cut -d' ' -f1-3 /proc/loadavg)")"
}
# json_metric FILE KEY: a metric from `eval --json` output ("" if absent).
json_metric() {
    $PY -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]; v=m.get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

say "scatter_priors.sh $(date -u '+%F %T') UTC, $(nproc) cores, threads $THREADS, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ $# -eq 3 ]; then
    SCAT=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
    say "scatter model: $SCAT (given)"
else
    SCAT="$W/scat.nota"
    step "fit scatter" "$H" fit --plugin scatter --data fashion-mnist:train "${TRAIN_FILTER[@]}" \
        --set epochs="$EPOCHS" --threads "$THREADS" --out "$SCAT"
fi

OUT="$W/eval_train.json" step "eval scatter train" "$H" eval "$SCAT" --data fashion-mnist:train "${TRAIN_FILTER[@]}" \
    --threads "$THREADS" --json
OUT="$W/eval_test.json" step "eval scatter test" "$H" eval "$SCAT" --data fashion-mnist:test "${TEST_FILTER[@]}" \
    --threads "$THREADS" --json
say "PSNR train $(printf %.2f "$(json_metric "$W/eval_train.json" psnr_db)") dB, test $(printf %.2f "$(json_metric "$W/eval_test.json" psnr_db)") dB"

step "encode train" "$H" encode "$SCAT" --data fashion-mnist:train "${TRAIN_FILTER[@]}" \
    --threads "$THREADS" --out "$W/codes_train.npy"
step "encode test" "$H" encode "$SCAT" --data fashion-mnist:test "${TEST_FILTER[@]}" \
    --threads "$THREADS" --out "$W/codes_test.npy"
"$H" analyze "$W/codes_test.npy" | tee "$W/analyze_test.txt" >>"$LOG"
say "analyze (test codes):"
sed 's/^/    /' "$W/analyze_test.txt" | head -12 | tee -a "$SUMMARY"

step "fit latent gaussian" "$H" fit --plugin latent --data "$W/codes_train.npy" \
    --threads "$THREADS" --out "$W/gauss.nota"
step "fit latent vae" "$H" fit --plugin latent --set kind=vae --set epochs="$PRIOR_EPOCHS" \
    --data "$W/codes_train.npy" --threads "$THREADS" --out "$W/vae.nota"
step "fit latent gan" "$H" fit --plugin latent --set kind=gan --set epochs="$PRIOR_EPOCHS" \
    --data "$W/codes_train.npy" --threads "$THREADS" --out "$W/gan.nota"
step "fit flow" "$H" fit --plugin flow --set time_limit="$FLOW_TIME" --set ar_layers=2 \
    --data "$W/codes_train.npy" --threads "$THREADS" --out "$W/flow.nota"

# Test log-likelihood of the codes, nats/dim = -bits/dim * ln 2. N(0, I) is
# computed here; the vae's is the importance-weighted estimate (a bound in
# expectation); a gan has none.
NORMAL=$($PY -c '
import sys, numpy as np
z = np.load(sys.argv[1]).astype(np.float64)
print("%.4f" % np.mean(-0.5 * z * z - 0.5 * np.log(2 * np.pi)))' "$W/codes_test.npy")
say "test log-likelihood of the codes (nats/dim, higher is better):"
say "    N(0, I)              $NORMAL"
for p in gauss vae flow; do
    OUT="$W/eval_$p.json" step "eval $p" "$H" eval "$W/$p.nota" --data "$W/codes_test.npy" \
        --threads "$THREADS" --json
    bpd=$(json_metric "$W/eval_$p.json" bits_per_dim)
    say "    $(printf '%-20s' "$p") $($PY -c 'import sys,math; print("%.4f" % (-float(sys.argv[1]) * math.log(2)))' "$bpd")"
    if [ "$p" = vae ]; then
        nelbo=$(json_metric "$W/eval_vae.json" neg_elbo_bits_per_dim)
        kl=$(json_metric "$W/eval_vae.json" kl_nats)
        say "    vae ELBO             $($PY -c 'import sys,math; print("%.4f" % (-float(sys.argv[1]) * math.log(2)))' "$nelbo")   (KL $kl nats/item)"
    fi
done
say "    gan                  - (no density)"

# Samples: the decoder's own N(0, I) prior, then each composed pipeline.
step "sample N(0,I)" "$H" sample "$SCAT" --n "$N" --seed "$SEED" --threads "$THREADS" \
    --out "$W/grid_normal"
for p in gauss vae gan flow; do
    step "compose $p" "$H" compose "$W/$p.nota" "$SCAT" --out "$W/scat_$p.nota"
    step "sample $p" "$H" sample "$W/scat_$p.nota" --n "$N" --seed "$SEED" --threads "$THREADS" \
        --out "$W/grid_$p"
done
step "traverse (Figure 1)" "$H" traverse "$SCAT" --dims 0,1 --out "$TRAVERSE" --threads "$THREADS"

# One PNG: the five grids side by side, 12-pixel white gaps, borders as
# nota's own grids (grey 128 around each tile). Values map as nota's PNGs:
# level centres p + 0.5 -> byte p.
$PY - "$IMG" "$W"/grid_{normal,gauss,vae,gan,flow}.npy <<'EOF'
import math, struct, sys, zlib
import numpy as np

def grid(x):
    n, _, h, w = x.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = (n + cols - 1) // cols
    g = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1), 128, np.uint8)
    b = np.clip(np.rint(x[:, 0] - 0.5), 0, 255).astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        g[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = b[i]
    return g

def png(path, a):
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(a.shape[0]))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", a.shape[1], a.shape[0], 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))

grids = [grid(np.load(p)) for p in sys.argv[2:]]
gap = np.full((grids[0].shape[0], 12), 255, np.uint8)
parts = []
for g in grids:
    parts += [g, gap]
png(sys.argv[1], np.concatenate(parts[:-1], axis=1))
EOF
say "wrote $IMG ($(stat -c %s "$IMG") bytes): N(0,I) | gaussian | vae | gan | flow"
say "wrote $TRAVERSE ($(stat -c %s "$TRAVERSE") bytes)"
