#!/usr/bin/env bash
# nn kit benchmarks against PyTorch: the VAE MLP epoch (bench_nn_mlp.c vs
# bench/nn_mlp.py) and Conv2d forward+backward (bench_nn_conv.c vs
# bench/nn_conv.py), nota and PyTorch alternating at 1 and 2 threads.
#
# Builds the two programs (Release) into build-bench/, or into the build
# directory given as the first argument, runs everything, prints markdown and
# replaces the "## nn kit: MLP epoch vs PyTorch" and "## nn kit: Conv2d
# forward+backward vs PyTorch" sections of bench/RESULTS.md (appending them
# when absent). PyTorch is Debian's python3-torch run with /usr/bin/python3.
#
#     bench/nn_mlp.sh                     # 1 round, Fashion-MNIST
#     ROUNDS=3 bench/nn_mlp.sh build      # best of 3 per setting
#     NOTA_BENCH_NO_WRITE=1 bench/nn_mlp.sh   # print only
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build-bench}
rounds=${ROUNDS:-1}
if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target bench_nn_mlp bench_nn_conv >/dev/null
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "nn_mlp.sh: python3-torch missing" >&2; exit 1; }

load_before=$(cut -d' ' -f1 /proc/loadavg)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for ((r = 0; r < rounds; r++)); do
    for t in 1 2; do
        "$build/bench/bench_nn_mlp" --threads $t | grep RESULT >>"$log"
        /usr/bin/python3 "$here/nn_mlp.py" --threads $t | grep RESULT >>"$log"
        "$build/bench/bench_nn_conv" --threads $t --reps 5 | grep RESULT >>"$log"
        /usr/bin/python3 "$here/nn_conv.py" --threads $t --reps 5 | grep RESULT >>"$log"
    done
done

load_after=$(cut -d' ' -f1 /proc/loadavg)
LOAD="$load_before at the start, $load_after at the end" \
ROUNDS=$rounds CORES=$(nproc) /usr/bin/python3 - "$log" "$here/RESULTS.md" <<'PYEOF'
import os, re, sys, datetime
log, results = sys.argv[1], sys.argv[2]
rows = []
for line in open(log):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    kv["who"], kv["what"] = line.split()[1], ("conv" if " conv " in line else "mlp")
    rows.append(kv)

def best(who, what, key="epoch_s", **match):
    cand = [r for r in rows if r["who"] == who and r["what"] == what
            and all(r[k] == str(v) for k, v in match.items())]
    return min(cand, key=lambda r: float(r[key])) if cand else None

date = datetime.date.today().isoformat()
cores, rounds, load = os.environ["CORES"], os.environ["ROUNDS"], os.environ["LOAD"]
loadnote = (f"1-minute load average {load}: anything well above 0 means other jobs shared "
            "the cores and every number here is slowed by them.")
mlp = [f"## nn kit: MLP epoch vs PyTorch", "",
       "One Fashion-MNIST epoch (60,000 images / 255, batch 128, last partial batch dropped) of "
       "the VAE MLP 784-512-256-(2x64) / 64-256-512-784, ReLU, Adam 1e-3, BCE-with-logits + "
       "Gaussian KL (per-sample sums, batch mean), nota's nn kit (`bench/bench_nn_mlp.c`) "
       "against PyTorch (`bench/nn_mlp.py`, Debian python3-torch), alternating in one run. "
       f"Machine: {cores} cores; best of {rounds} round(s) per setting. Date: {date}. "
       "Command: `bench/nn_mlp.sh`. " + loadnote, "",
       "| threads | nota s/epoch | nota loss | nota GFLOP/s | sgemm peak GFLOP/s | PyTorch s/epoch | PyTorch loss |",
       "|---|---|---|---|---|---|---|"]
for t in ("1", "2"):
    n, p = best("nota", "mlp", threads=t), best("torch", "mlp", threads=t)
    mlp.append(f"| {t} | {float(n['epoch_s']):.2f} | {float(n['loss']):.2f} | {n['gflops']} | "
               f"{n['peak_gflops']} | {float(p['epoch_s']):.2f} | {float(p['loss']):.2f} |")
nb = min((best("nota", "mlp", threads=t) for t in ("1", "2")), key=lambda r: float(r["epoch_s"]))
pb = min((best("torch", "mlp", threads=t) for t in ("1", "2")), key=lambda r: float(r["epoch_s"]))
ratio = float(pb["epoch_s"]) / float(nb["epoch_s"])
frac = float(nb["gflops"]) / float(nb["peak_gflops"])
mlp += ["", f"Best against best: nota {float(nb['epoch_s']):.2f} s ({nb['threads']} threads) vs "
        f"PyTorch {float(pb['epoch_s']):.2f} s ({pb['threads']} threads): **{ratio:.2f}x** "
        f"(target >= 1.8x). Final training loss nota {float(nb['loss']):.2f}, PyTorch "
        f"{float(pb['loss']):.2f}. nota reaches {100 * frac:.0f}% of nota_sgemm's 1024^3 rate "
        f"at the same thread count ({nb['gflop']} GFLOP of GEMM per epoch)."]
conv = ["## nn kit: Conv2d forward+backward vs PyTorch", "",
        "Conv2d 64 -> 32 channels, batch 128, 'same' zero padding, one forward then backward "
        "with dx (`bench/bench_nn_conv.c`, im2col + sgemm) against PyTorch (`bench/nn_conv.py`); "
        f"median of 5 after a warm-up, best over rounds. Date: {date}. Command: `bench/nn_mlp.sh`. "
        + loadnote, "",
        "| kernel | H x W | threads | nota ms | nota GFLOP/s | PyTorch ms | PyTorch GFLOP/s | PyTorch/nota time |",
        "|---|---|---|---|---|---|---|---|"]
for k in ("3", "7"):
    for hw in ("14", "28"):
        for t in ("1", "2"):
            n = best("nota", "conv", "ms", k=k, hw=hw, threads=t)
            p = best("torch", "conv", "ms", k=k, hw=hw, threads=t)
            conv.append(f"| {k}x{k} | {hw}x{hw} | {t} | {float(n['ms']):.1f} | {n['gflops']} | "
                        f"{float(p['ms']):.1f} | {p['gflops']} | {float(p['ms']) / float(n['ms']):.2f} |")
text_sections = {"## nn kit: MLP epoch vs PyTorch": "\n".join(mlp) + "\n",
                 "## nn kit: Conv2d forward+backward vs PyTorch": "\n".join(conv) + "\n"}
for sec in text_sections.values():
    print(sec)
if os.environ.get("NOTA_BENCH_NO_WRITE"):
    sys.exit(0)
text = open(results).read() if os.path.exists(results) else "# nota benchmark results\n"
for marker, sec in text_sections.items():
    if marker in text:
        start = text.index(marker)
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + sec + ("\n" + text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + sec
open(results, "w").write(text)
PYEOF
