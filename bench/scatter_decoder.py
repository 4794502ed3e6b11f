#!/usr/bin/python3
"""PyTorch CPU reference for the scatter plugin's default 28x28 decoder: the
same layers as plugins/scatter/decoder.c (Linear k -> 128*7*7, BN, ReLU,
2 x [bilinear x2, 3x3 conv, BN, ReLU], 3x3 conv -> 1, tanh), L1 loss, Adam
1e-3, batch 128. Times one epoch of N random codes/images (data values do not
change the work) with the given threads.

  scatter_decoder.py [--n 6000] [--k 512] [--threads 2]
"""
import argparse
import time

import torch
import torch.nn as nn


def decoder(k, ch=(128, 64, 32), hw=7, C=1):
    layers = [nn.Linear(k, ch[0] * hw * hw), nn.Unflatten(1, (ch[0], hw, hw)),
              nn.BatchNorm2d(ch[0]), nn.ReLU()]
    for a, b in zip(ch[:-1], ch[1:]):
        layers += [nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
                   nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU()]
    layers += [nn.Conv2d(ch[-1], C, 3, padding=1), nn.Tanh()]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=6000)
    ap.add_argument('--k', type=int, default=512)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = decoder(a.k)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    z = torch.randn(a.n, a.k)
    x = torch.rand(a.n, 1, 28, 28) * 2 - 1
    weights = sum(p.numel() for p in net.parameters())
    t0 = time.perf_counter()
    perm = torch.randperm(a.n)
    for b in range(0, a.n, 128):
        idx = perm[b:b + 128]
        opt.zero_grad()
        loss = (net(z[idx]) - x[idx]).abs().mean()
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print('pytorch_decoder images=%d k=%d weights=%d threads=%d epoch_seconds=%.3f' %
          (a.n, a.k, weights, a.threads, dt))


if __name__ == '__main__':
    main()
