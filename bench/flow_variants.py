#!/usr/bin/env python3
"""Flow variants: the poster's polynomial marginals against the default
splines, and patch layers with one rotation per patch position against
one shared rotation.

Runs nota-host only. Part 1, 2-D toys: each variant fitted on 10,000
points of toy:NAME:train (defaults otherwise: 10% held out, patience 20),
scored on 3,000 of toy:NAME:test, in nats per point. Part 2,
Fashion-MNIST: each variant fitted on fashion-mnist:train with a short
time limit (the plugin holds 10% out), scored on fashion-mnist:test; the
validation bits/dim at a common layer count are listed too, because on a
shared machine a time limit buys different numbers of layers. Writes its
section "## Flow variants: polynomial marginals, per-position patch
rotations" into bench/RESULTS.md, replacing only that section. Usage
(from the repository root, after building):

    /usr/bin/python3 bench/flow_variants.py [--build build] [--seconds 150]
        [--threads 2] [--no-toys] [--no-fashion]
    /usr/bin/python3 bench/flow_variants.py --directions ica,swd,pca
        [--direction-seconds 300]

The second form compares direction searches instead (rotation=X, test
bits/dim, validation bits/dim against layers and time) and writes the
section "## Flow directions on Fashion-MNIST: swd against ica and pca".
"""
import argparse
import math
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flow_fashion as ff  # noqa: E402  (run, host, fit_flow_on, machine, write_section)

SECTION = "## Flow variants: polynomial marginals, per-position patch rotations"

TOY_VARIANTS = [
    ("spline (default)", []),
    ("poly, degree 6", ["marginal=poly", "poly_deg=6"]),
    ("poly, degree 9", ["marginal=poly", "poly_deg=9"]),
    ("poly, degree 9, poly_tails=extrapolate", ["marginal=poly", "poly_deg=9",
                                                "poly_tails=extrapolate"]),
]

FASHION_VARIANTS = [
    ("spline, patch_rotation=shared (defaults)", []),
    ("poly degree 9, linear tails", ["marginal=poly", "poly_deg=9"]),
    ("poly degree 9, poly_tails=extrapolate", ["marginal=poly", "poly_deg=9",
                                               "poly_tails=extrapolate"]),
    ("spline, patch_rotation=each", ["patch_rotation=each"]),
]


def eval_bpd(args, model, data, limit=None):
    cmd = ff.host(args) + ["eval", model, "--data", data, "--json", "--threads",
                           str(args.threads)]
    if limit:
        cmd += ["--limit", str(limit)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"
    import json
    return json.loads(p.stdout)["metrics"]["bits_per_dim"], None


def uptime():
    return open("/proc/loadavg").read().split()[:3]


def toys(args, lines):
    lines.append("2-D toys: fitted on 10,000 points of toy:NAME:train (10% of them held out "
                 "for early stopping), scored on 3,000 of toy:NAME:test; mean test "
                 "log-likelihood in nats per point (higher is better), layers kept.")
    lines.append("")
    names = ["moons", "swissroll", "checkerboard"]
    lines.append("| marginal | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    for label, sets in TOY_VARIANTS:
        cells = []
        for name in names:
            model, layers, kept, why, _, _ = ff.fit_flow_on(
                args, "toy:%s:train" % name, "toy", sets + ["max_layers=400"])
            bpd, err = eval_bpd(args, model, "toy:%s:test" % name, 3000)
            cells.append("%.3f (%d)" % (-bpd * 2 * math.log(2), kept) if bpd is not None
                         else "eval failed: %s" % err)
            print(label, name, cells[-1], flush=True)
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    cells = []
    for name in names:  # reference: the latent plugin's full-covariance Gaussian
        gmodel = os.path.join(args.work, "gauss_toy.nota")
        ff.run(ff.host(args) + ["--plugin", "latent", "fit", "--data", "toy:%s:train" % name,
                                "--out", gmodel, "--threads", str(args.threads)])
        bpd, err = eval_bpd(args, gmodel, "toy:%s:test" % name, 3000)
        cells.append("%.3f" % (-bpd * 2 * math.log(2)) if bpd is not None else err)
    lines.append("| reference: full-covariance Gaussian (latent plugin) | %s |" % " | ".join(cells))
    lines.append("")


def fit_or_reuse(args, tag, sets):
    """fit_flow_on, or with --reuse the log and model a previous run left in
    --work (the load average before the fit is kept beside them)."""
    log = os.path.join(args.work, "flow_%s.log" % tag)
    model = os.path.join(args.work, "flow_%s.nota" % tag)
    loadf = os.path.join(args.work, "flow_%s.load" % tag)
    if args.reuse and os.path.exists(log) and os.path.exists(model):
        err = open(log).read()
        layers = [(int(a), float(b), ff.num(c), float(d)) for a, b, c, d in ff.LAYER.findall(err)]
        kept = re.search(r"flow: (\d+) layers kept \(([^)]*)\)", err)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        load = open(loadf).read().split() if os.path.exists(loadf) else ["?"]
        return model, layers, int(kept.group(1)), kept.group(2), int(m.group(1)) / 1024, load
    load = uptime()
    model, layers, kept, why, peak, _ = ff.fit_flow_on(args, "fashion-mnist:train", tag, sets)
    with open(loadf, "w") as f:
        f.write(" ".join(load))
    return model, layers, kept, why, peak, load


def fashion(args, lines):
    lines.append("Fashion-MNIST: fashion-mnist:train (54,000 fitted, 6,000 held out), "
                 "scored on fashion-mnist:test (10,000), dequantized; every fit `--set "
                 "time_limit=%d` (%g minutes), other options at their defaults (ICA "
                 "directions, schedule 4,2 with every 10th layer full). The load average "
                 "was read just before each fit; a time limit buys different layer counts "
                 "under different load, so validation bits/dim at fixed layer counts are "
                 "listed too." % (args.seconds, args.seconds / 60))
    lines.append("")
    marks = [10, 20, 40, 60, 90]
    lines.append("| variant | layers run / kept (stop) | s per layer | " +
                 " | ".join("valid L=%d" % m for m in marks) +
                 " | test bits/dim | peak MB | load avg |")
    lines.append("|---" * (len(marks) + 6) + "|")
    for i, (label, sets) in enumerate(FASHION_VARIANTS):
        model, layers, kept, why, peak, load = fit_or_reuse(
            args, "variant%d" % i, sets + ["time_limit=%d" % args.seconds])
        bpd, err = eval_bpd(args, model, "fashion-mnist:test")
        print(label, kept, bpd, err, flush=True)
        at = ["%.4f" % layers[m - 1][2] if len(layers) >= m else "-" for m in marks]
        per = layers[-1][3] / len(layers) if layers else float("nan")
        test = "%.3f" % bpd if bpd is not None else "eval failed: %s" % err
        lines.append("| %s | %d / %d (%s) | %.2f | %s | %s | %.0f | %s |" %
                     (label, len(layers), kept, why, per, " | ".join(at), test, peak,
                      " ".join(load)))
    lines.append("")


DIR_SECTION = "## Flow directions on Fashion-MNIST: swd against ica and pca"


def directions(args):
    """rotation=X (plus any :k=v options) for --direction-seconds each: test
    bits/dim, and validation bits/dim against layers and fit time (from the
    -v progress lines)."""
    lines = [DIR_SECTION, ""]
    lines.append("`bench/flow_variants.py --directions %s --direction-seconds %d --threads %d` "
                 "on %s, shared with other jobs (load average before each fit in the table; "
                 "times indicative only). Date: %s. fashion-mnist:train (54,000 fitted, "
                 "6,000 held out), scored on fashion-mnist:test (10,000); all options but "
                 "`rotation` and `time_limit` at their defaults (every layer searched; full "
                 "layers of 784 values take PCA for ica and swd)." %
                 (args.directions, args.direction_seconds, args.threads, ff.machine(),
                  time.strftime("%Y-%m-%d")))
    if args.reuse:
        lines[-1] += (" With `--reuse`: fits found in --work from an earlier run were reused "
                      "(their load average is the one read before they ran).")
    lines.append("")
    marks_l = [10, 25, 50, 100, 150, 200]
    marks_t = [30, 60, 120, 180, 240, 300]
    rows = []
    for entry in args.directions.split(","):
        # "swd" or "swd:ica_iters=20:...": a rotation and extra options
        parts = entry.split(":")
        rot = " ".join(["rotation=" + parts[0]] + parts[1:])
        model, layers, kept, why, peak, load = fit_or_reuse(
            args, "dir_" + entry.replace(":", "_").replace("=", ""),
            ["rotation=" + parts[0]] + parts[1:] + ["time_limit=%d" % args.direction_seconds])
        bpd, err = eval_bpd(args, model, "fashion-mnist:test")
        rows.append((rot, layers, kept, why, peak, bpd, err, load))
        print(rot, kept, bpd, err, flush=True)
    lines.append("| options | layers run / kept | test bits/dim | peak MB | load avg |")
    lines.append("|---|---|---|---|---|")
    for rot, layers, kept, why, peak, bpd, err, load in rows:
        test = "%.3f" % bpd if bpd is not None else "eval failed: %s" % err
        lines.append("| %s | %d / %d (%s) | %s | %.0f | %s |" %
                     (rot, len(layers), kept, why, test, peak, " ".join(load)))
    lines.append("")
    lines.append("Validation bits/dim at layer L:")
    lines.append("")
    lines.append("| options | " + " | ".join("L=%d" % m for m in marks_l) + " |")
    lines.append("|---" * (len(marks_l) + 1) + "|")
    for rot, layers, *_ in rows:
        cells = ["%.4f" % layers[m - 1][2] if len(layers) >= m else "-" for m in marks_l]
        lines.append("| %s | %s |" % (rot, " | ".join(cells)))
    lines.append("")
    lines.append("Validation bits/dim after t seconds of fitting (last layer done by then):")
    lines.append("")
    lines.append("| options | " + " | ".join("t=%d s" % m for m in marks_t) + " |")
    lines.append("|---" * (len(marks_t) + 1) + "|")
    for rot, layers, *_ in rows:
        cells = []
        for m in marks_t:
            done = [l for l in layers if l[3] <= m]
            cells.append("%.4f (%d)" % (done[-1][2], done[-1][0]) if done else "-")
        lines.append("| %s | %s |" % (rot, " | ".join(cells)))
    lines.append("")
    text = "\n".join(lines) + "\n"
    print(text)
    ff.write_section(text, DIR_SECTION)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ff.ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=150)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-toys", action="store_true")
    ap.add_argument("--no-fashion", action="store_true")
    ap.add_argument("--reuse", action="store_true",
                    help="Fashion-MNIST part: reuse the fits a previous run left in --work "
                         "(logs and models; evaluation reruns)")
    ap.add_argument("--directions", default="",
                    help="comma-separated rotation options to compare instead (e.g. "
                         "ica,swd,pca; 'swd:ica_iters=20' adds options): writes the "
                         "directions section only (--reuse reuses earlier fits)")
    ap.add_argument("--direction-seconds", type=int, default=300)
    ap.add_argument("--work", default="/tmp/nota_flow_variants")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if args.directions:
        directions(args)
        return
    lines = [SECTION, ""]
    lines.append("`bench/flow_variants.py --seconds %d --threads %d` on %s, a machine shared "
                 "with other jobs (times indicative only). Date: %s." %
                 (args.seconds, args.threads, ff.machine(), time.strftime("%Y-%m-%d")))
    if args.reuse:
        lines[-1] += (" The Fashion-MNIST fits were reused from an earlier run of the same "
                      "command (`--reuse`); the load average read before each fit is in "
                      "the table.")
    lines.append("")
    if not args.no_toys:
        toys(args, lines)
    if not args.no_fashion:
        fashion(args, lines)
    text = "\n".join(lines) + "\n"
    print(text)
    ff.write_section(text, SECTION)


if __name__ == "__main__":
    main()
