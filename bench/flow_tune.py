#!/usr/bin/env python3
"""Flow option comparisons on Fashion-MNIST: short fits of several option
sets ("arms"), run in alternating rounds so that the load of a shared
machine falls on all of them alike, each scored on the test split.

Runs nota-host only. Each arm is fitted on fashion-mnist:train (the plugin
holds a seeded 10% out for validation) with `time_limit` seconds, then
evaluated on fashion-mnist:test. Printed per arm: layers, test bits/dim,
validation bits/dim at fixed layer counts and after fixed fit times, the
load average read just before the fit. Results are also kept as JSON in
--work (one file per arm and round) so a table can be rebuilt with
--report. Usage (from the repository root, after building):

    /usr/bin/python3 bench/flow_tune.py --build build --seconds 180 \
        --arm "default:" --arm "lam1e-3:logit_lambda=1e-3" [--rounds 1]
    /usr/bin/python3 bench/flow_tune.py --report [--work DIR]

An arm is LABEL:SET,SET,... with SETs passed as `--set` options.
"""
import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flow_fashion as ff  # noqa: E402  (run, host, fit_flow_on)

LAYER_MARKS = [10, 25, 50, 100, 150, 200, 300, 400]
TIME_MARKS = [60, 120, 180, 240, 300]


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def one(args, label, sets, rnd):
    tag = "%s_r%d" % (label, rnd)
    avg = load()
    model, layers, kept, why, peak, wall = ff.fit_flow_on(
        args, "fashion-mnist:train", tag,
        sets + ["time_limit=%d" % args.seconds, "max_layers=4000", "patience=40"])
    bpd = ff.evaluate(args, model)
    res = {"label": label, "sets": sets, "round": rnd, "load": avg, "layers": layers,
           "kept": kept, "why": why, "peak_mb": peak, "wall": wall, "test": bpd,
           "seconds": args.seconds}
    with open(os.path.join(args.work, "tune_%s.json" % tag), "w") as f:
        json.dump(res, f)
    os.remove(model)
    return res


def valid_at_layer(layers, mark):
    hit = [x for x in layers if x[0] == mark]
    return "%.4f" % hit[0][2] if hit else "-"


def valid_at_time(layers, t):
    done = [x for x in layers if x[3] <= t]
    return "%.4f (%d)" % (done[-1][2], done[-1][0]) if done else "-"


def report(results):
    lines = ["| arm | sets | round | layers run / kept | test bpd | load avg |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append("| %s | %s | %d | %d / %d | %.4f | %s |" % (
            r["label"], " ".join(r["sets"]) or "(defaults)", r["round"], len(r["layers"]),
            r["kept"], r["test"], r["load"]))
    lines += ["", "Validation bits/dim at layer L:", "",
              "| arm | round | " + " | ".join("L=%d" % m for m in LAYER_MARKS) + " |",
              "|---|---|" + "---|" * len(LAYER_MARKS)]
    for r in results:
        lines.append("| %s | %d | %s |" % (r["label"], r["round"], " | ".join(
            valid_at_layer(r["layers"], m) for m in LAYER_MARKS)))
    lines += ["", "Validation bits/dim (layers done) after t seconds of fitting:", "",
              "| arm | round | " + " | ".join("t=%d s" % m for m in TIME_MARKS) + " |",
              "|---|---|" + "---|" * len(TIME_MARKS)]
    for r in results:
        lines.append("| %s | %d | %s |" % (r["label"], r["round"], " | ".join(
            valid_at_time(r["layers"], m) for m in TIME_MARKS)))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ff.ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--arm", action="append", default=[])
    ap.add_argument("--work", default="/tmp/nota_flow_tune")
    ap.add_argument("--report", action="store_true", help="only print the table of --work")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if args.report:
        files = sorted(glob.glob(os.path.join(args.work, "tune_*.json")), key=os.path.getmtime)
        print(report([json.load(open(f)) for f in files]))
        return
    arms = []
    for a in args.arm:
        label, _, sets = a.partition(":")
        arms.append((label, [s for s in sets.split(",") if s]))
    results = []
    for rnd in range(args.rounds):
        for label, sets in arms:
            r = one(args, label, sets, rnd)
            results.append(r)
            print("%s round %d: %d layers, test %.4f, load %s" % (
                label, rnd, len(r["layers"]), r["test"], r["load"]), flush=True)
    print(report(results))


if __name__ == "__main__":
    main()
