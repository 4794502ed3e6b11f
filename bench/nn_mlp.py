#!/usr/bin/python3
"""The VAE MLP epoch of bench_nn_mlp.c in PyTorch, for bench/nn_mlp.sh.

Same model (784-512-256-(2x64) / 64-256-512-784, ReLU), Adam 1e-3, batch 128,
BCE-with-logits + Gaussian KL summed per sample and averaged over the batch,
Fashion-MNIST train images / 255 (or random pixels with --data random), last
partial batch dropped. Prints per-epoch lines and a RESULT line.

    /usr/bin/python3 bench/nn_mlp.py [--threads N] [--epochs E] [--data fashion|random]
"""
import argparse, gzip, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--data", default="fashion")
p.add_argument("--limit", type=int, default=0)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

if a.data == "random":
    n = a.limit or 60000
    x = torch.rand(n, 784)
else:
    with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    if a.limit:
        raw = raw[: a.limit]
    x = torch.from_numpy(raw.astype(np.float32) / 255.0)
n = x.shape[0]
H, B = 64, 128
enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                    nn.Linear(256, 2 * H))
dec = nn.Sequential(nn.Linear(H, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                    nn.Linear(512, 784))
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)

for e in range(a.epochs):
    perm = torch.randperm(n)
    t0, total, batches = time.perf_counter(), 0.0, n // B
    for b in range(batches):
        xb = x[perm[b * B:(b + 1) * B]]
        stats = enc(xb)
        mu, lv = stats[:, :H], stats[:, H:]
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        logits = dec(z)
        rec = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / B
        kl = 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum() / B
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    dt = time.perf_counter() - t0
    print(f"epoch {e + 1}: {dt:.3f} s, loss {total / batches:.4f}")
print(f"RESULT torch threads={torch.get_num_threads()} epoch_s={dt:.4f} "
      f"loss={total / batches:.4f} version={torch.__version__} n={n}")
