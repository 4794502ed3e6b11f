#!/usr/bin/env python3
"""Flow on Fashion-MNIST: test bits/dim against layers and time for each
direction option, the Gaussian baseline beside it, and time per layer
against the number of training items and the layer kind.

Runs nota-host only (no Python model code), then writes its section
"## Flow on Fashion-MNIST" into bench/RESULTS.md, replacing only that
section. Usage (from the repository root, after building):

    /usr/bin/python3 bench/flow_fashion.py [--build build] [--minutes 5]
        [--threads 2] [--directions random,pca,ica] [--long-minutes 0] [--no-scaling]

Each fit trains on the 60,000 train images (the plugin holds 10% out for
validation and early stopping) and is scored on the 10,000 test images,
dequantized with the host's fixed seed (BENCHMARKS.md).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYER = re.compile(r"flow: layer (\d+): train ([\d.]+) bpd, valid (-?[\d.na/]+) bpd, .*?, ([\d.]+) s")
SECTION = "## Flow on Fashion-MNIST"


def num(text):
    """A bits/dim field; 'n/a' (no validation data) becomes NaN."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


def run(cmd, log=None):
    """Run cmd under /usr/bin/time -v; return (stdout, stderr, peak MB, wall s)."""
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if log:
        with open(log, "w") as f:
            f.write(p.stderr)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return p.stdout, p.stderr, (int(m.group(1)) / 1024 if m else float("nan")), wall


def host(args):
    return [os.path.join(args.build, "nota-host")]


def evaluate(args, model):
    out, _, _, _ = run(host(args) + ["eval", model, "--data", "fashion-mnist:test", "--json",
                                     "--threads", str(args.threads)])
    return json.loads(out)["metrics"]["bits_per_dim"]


def fit_flow(args, tag, sets):
    return fit_flow_on(args, "fashion-mnist:train", tag, sets)


def fit_flow_on(args, data, tag, sets):
    model = os.path.join(args.work, "flow_%s.nota" % tag)
    cmd = host(args) + ["--plugin", "flow", "fit", "--data", data, "--out", model,
                        "--threads", str(args.threads), "-v"]
    for s in sets:
        cmd += ["--set", s]
    _, err, peak, wall = run(cmd, os.path.join(args.work, "flow_%s.log" % tag))
    layers = [(int(a), float(b), num(c), float(d)) for a, b, c, d in LAYER.findall(err)]
    kept = re.search(r"flow: (\d+) layers kept \(([^)]*)\)", err)
    return model, layers, int(kept.group(1)), kept.group(2), peak, wall


FASHION = "/usr/share/datasets/fashion-mnist/%s-images-idx3-ubyte.gz"


def logit_gaussian_bpd(lam, pattern=FASHION):
    """Reference computed here with NumPy: a full-covariance Gaussian fitted in
    the flow's logit space (same lambda), its Jacobian included, scored on the
    dequantized test set (NumPy's own dequantization noise, seed 0). `pattern`
    names the IDX files ("%s" = train / t10k)."""
    import gzip
    import numpy as np
    from scipy.linalg import solve_triangular

    def load(stem):
        with gzip.open(pattern % stem) as f:
            return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(float)

    rng = np.random.default_rng(0)

    def pre(x):
        p = lam + (1 - 2 * lam) * (x + rng.random(x.shape)) / 256
        y = np.log(p) - np.log1p(-p)
        return y, (np.log((1 - 2 * lam) / 256) - np.log(p) - np.log1p(-p)).sum(1)

    ytr, _ = pre(load("train"))
    yte, ld = pre(load("t10k"))
    mu = ytr.mean(0)
    cov = (ytr - mu).T @ (ytr - mu) / len(ytr)
    L = np.linalg.cholesky(cov)
    q = (solve_triangular(L, (yte - mu).T, lower=True) ** 2).sum(0)
    ll = -0.5 * (q + 2 * np.log(np.diag(L)).sum() + 784 * np.log(2 * np.pi)) + ld
    return -ll.mean() / (784 * np.log(2))


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return "%s, %d cores visible, load average at start %.1f" % (cpu, os.cpu_count(),
                                                                  os.getloadavg()[0])


def per_layer_seconds(layers):
    """Median seconds per layer over layers 2.. (layer 1 includes data loading)."""
    d = sorted(b[3] - a[3] for a, b in zip(layers, layers[1:]))
    return d[len(d) // 2] if d else float("nan")


def scaling_lines(args):
    """Table: median seconds per layer against N and the layer kind."""
    lines = []
    lines.append("Time per layer (median of layers 2-8, seconds) against training items N "
                 "and layer kind; `valid_fraction=0`, %d threads. Read from the per-layer log "
                 "lines (0.1 s resolution) on a machine shared with other jobs: differences "
                 "under ~0.5 s are noise." % args.threads)
    lines.append("")
    kinds = [("patch 2×2, random", ["schedule=2", "full_every=0", "rotation=random"]),
             ("patch 4×4, random", ["schedule=4", "full_every=0", "rotation=random"]),
             ("patch 4×4, ICA", ["schedule=4", "full_every=0", "rotation=ica",
                                 "search_every=1"]),
             ("full 784, random", ["schedule=full", "rotation=random"]),
             ("full 784, PCA", ["schedule=full", "search_every=1"])]
    ns = [10000, 30000, 60000]
    lines.append("| layer kind | " + " | ".join("N = %d" % n for n in ns) + " |")
    lines.append("|---|" + "---|" * len(ns))
    for name, sets in kinds:
        cells = []
        for n in ns:
            model = os.path.join(args.work, "scale.nota")
            cmd = host(args) + ["--plugin", "flow", "fit", "--data", "fashion-mnist:train",
                                "--limit", str(n), "--out", model, "--threads",
                                str(args.threads), "-v", "--set", "max_layers=8",
                                "--set", "valid_fraction=0"]
            for s in sets:
                cmd += ["--set", s]
            _, err, _, _ = run(cmd)
            layers = [(int(a), float(b), num(c), float(e))
                      for a, b, c, e in LAYER.findall(err)]
            cells.append("%.2f" % per_layer_seconds(layers))
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    lines.append("")

    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--directions", default="random,pca,ica")
    ap.add_argument("--long-minutes", type=float, default=0,
                    help="also one rotation=ica fit with this budget (0 = skip)")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--scaling-only", action="store_true",
                    help="rerun only the time-per-layer table inside the existing section")
    ap.add_argument("--work", default="/tmp/nota_flow_bench")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if args.scaling_only:
        replace_scaling(scaling_lines(args))
        return
    lines = [SECTION, ""]
    lines.append("Machine: %s. Threads: %d (plugin workers and OpenBLAS). The machine was shared "
                 "with other jobs while this ran, so times are indicative. Command: "
                 "`/usr/bin/python3 bench/flow_fashion.py --minutes %g --long-minutes %g "
                 "--threads %d`. Date: %s." % (machine(), args.threads, args.minutes,
                                               args.long_minutes, args.threads,
                                               time.strftime("%Y-%m-%d")))
    lines.append("")
    lines.append("Data: fashion-mnist:train (60,000; the flow holds out a seeded 10%% = 6,000 "
                 "for validation / early stopping), scored on fashion-mnist:test (10,000), "
                 "dequantized, bits/dim in the [0, 256) scale. Each flow fit has a %g-minute "
                 "time limit (`--set time_limit=%d`), all other options at their defaults." %
                 (args.minutes, int(args.minutes * 60)))
    lines.append("")

    gmodel = os.path.join(args.work, "gauss.nota")
    _, _, gpeak, gwall = run(host(args) + ["--plugin", "latent", "fit", "--data",
                                           "fashion-mnist:train", "--out", gmodel,
                                           "--threads", str(args.threads)])
    gbpd = evaluate(args, gmodel)

    rows, traj, best = [], {}, None
    runs = [(d, d, args.minutes) for d in args.directions.split(",")]
    if args.long_minutes > 0:
        runs.append(("ica-long", "ica", args.long_minutes))
    for tag, d, minutes in runs:
        model, layers, kept, why, peak, wall = fit_flow(
            args, tag, ["rotation=" + d, "time_limit=%d" % int(minutes * 60),
                        "max_layers=4000", "patience=40"])
        bpd = evaluate(args, model)
        rows.append("| flow, rotation=%s, %g min | %d (%s) | %.0f | %.1f | %.4f | %.4f | %.0f |"
                    % (d, minutes, kept, why, wall, per_layer_seconds(layers),
                       layers[kept - 1][2] if kept else float("nan"), bpd, peak))
        traj[tag] = layers
        if best is None or bpd < best[1]:
            best = (model, bpd, tag)
    lines.append("| model | layers kept (stop) | fit wall s (incl. loading, host's train "
                 "pass, save) | s/layer (median) | valid bpd | test bpd | peak RSS MB |")
    lines.append("|---|---|---|---|---|---|---|")
    lines.append("| latent (full-covariance Gaussian) | - | %.0f | - | - | %.4f | %.0f |" %
                 (gwall, gbpd, gpeak))
    lines.append("| Gaussian in the flow's logit space (NumPy, same lambda 1e-6) | - | - | - | - | "
                 "%.4f | - |" % logit_gaussian_bpd(1e-6))
    lines += rows
    lines.append("")
    lines.append("Validation bits/dim against layers and fit time (s):")
    lines.append("")
    marks = [1, 5, 10, 25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000]
    head = "| layer | " + " | ".join("%s bpd (s)" % d for d in traj) + " |"
    lines += [head, "|---|" + "---|" * len(traj)]
    for mk in marks:
        cells = []
        for d, layers in traj.items():
            hit = [x for x in layers if x[0] == mk]
            cells.append("%.4f (%.0f)" % (hit[0][2], hit[0][3]) if hit else "")
        if any(cells):
            lines.append("| %d | %s |" % (mk, " | ".join(cells)))
    lines.append("")

    if not args.no_scaling:
        lines += scaling_lines(args)

    png = os.path.join(ROOT, "docs", "img", "flow_fashion_samples")
    run(host(args) + ["sample", best[0], "--n", "100", "--temperature", "0.8", "--out", png,
                      "--threads", str(args.threads)])
    lines.append("Samples: `docs/img/flow_fashion_samples.png` (100 samples of the best model, "
                 "%s, temperature 0.8)." % best[2])
    lines.append("")
    write_section("\n".join(lines) + "\n")
    print("\n".join(lines))


def replace_scaling(table):
    """Swap the time-per-layer paragraph and table of the existing section."""
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    text = open(path).read()
    start = text.index(SECTION + "\n")
    a = text.index("Time per layer (median", start)
    b = text.index("Samples: `docs/img/flow_fashion_samples.png`", a)
    with open(path, "w") as f:
        f.write(text[:a] + "\n".join(table) + "\n" + text[b:])
    print("\n".join(table))


def write_section(text, section=SECTION):
    """Replace (or append) `section` of bench/RESULTS.md, leaving the others."""
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else "# nota benchmark results\n"
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(section))
        new = old[:start] + text + (old[nxt + 1:] if nxt >= 0 else "")
    with open(path, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
