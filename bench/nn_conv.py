#!/usr/bin/python3
"""Conv2d forward + backward (with dx) in PyTorch at bench_nn_conv.c's shapes:
batch 128, 64 -> 32 channels, 3x3 / 7x7 "same" zero padding, 14x14 / 28x28.
Median milliseconds over --reps runs after one warm-up; RESULT lines.

    /usr/bin/python3 bench/nn_conv.py [--threads N] [--reps R]
"""
import argparse, time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--reps", type=int, default=5)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
for k in (3, 7):
    for h in (14, 28):
        conv = torch.nn.Conv2d(64, 32, k, padding=k // 2)
        x = torch.randn(128, 64, h, h, requires_grad=True)
        dy = torch.randn(128, 32, h, h)
        ts = []
        for r in range(a.reps + 1):
            x.grad = None
            conv.zero_grad()
            t0 = time.perf_counter()
            conv(x).backward(dy)
            ts.append(time.perf_counter() - t0)
        med = sorted(ts[1:])[a.reps // 2]
        flop = 3 * 2 * 32 * 64 * k * k * 128 * h * h
        print(f"RESULT torch conv k={k} hw={h} threads={torch.get_num_threads()} "
              f"ms={1e3 * med:.2f} gflops={flop / med / 1e9:.1f}")
