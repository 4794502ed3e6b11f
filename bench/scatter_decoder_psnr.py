#!/usr/bin/python3
"""Reconstruction PSNR of the scatter decoder trained in PyTorch on nota's own
codes: is a PSNR gap to the issue's prototype in the decoder's training or
elsewhere? Takes the whitened codes `nota-host encode` wrote for the
Fashion-MNIST train and test sets, trains bench/scatter_decoder.py's network
(the same layers as plugins/scatter/decoder.c; L1 on images in [-1, 1], Adam
1e-3, batch 128) on a random 90 % of the training codes, and prints the
validation and test PSNR after each epoch, images scaled to [0, 1] as nota's
`eval` does ((u8 + 0.5) / 256, PSNR = 10 log10(1 / MSE)).

  scatter_decoder_psnr.py CODES_TRAIN.npy CODES_TEST.npy [--epochs 6]
                          [--threads 2] [--limit N]

The images are read from /usr/share/datasets/fashion-mnist (or
$NOTA_FASHION_MNIST), in the order nota-host encode used.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch

from scatter_decoder import decoder


def idx_images(name):
    root = os.environ.get('NOTA_FASHION_MNIST') or '/usr/share/datasets/fashion-mnist'
    for fn in (name, name + '.gz'):
        p = os.path.join(root, fn)
        if os.path.exists(p):
            raw = (gzip.open if fn.endswith('.gz') else open)(p, 'rb').read()
            n, h, w = np.frombuffer(raw[4:16], '>u4')
            return np.frombuffer(raw[16:], np.uint8).reshape(n, 1, h, w)
    raise SystemExit('no %s under %s' % (name, root))


def psnr(net, z, x01):
    net.eval()
    with torch.no_grad():
        se = 0.0
        for b in range(0, len(z), 1000):
            y = (net(z[b:b + 1000]) + 1) / 2
            se += float(((y - x01[b:b + 1000]) ** 2).sum())
    net.train()
    return 10 * np.log10(1 / (se / x01.numel()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('codes_train')
    ap.add_argument('codes_test')
    ap.add_argument('--epochs', type=int, default=6)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--limit', type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    zt, zs = np.load(a.codes_train), np.load(a.codes_test)
    xt = idx_images('train-images-idx3-ubyte')[:len(zt)]
    xs = idx_images('t10k-images-idx3-ubyte')[:len(zs)]
    if a.limit:
        zt, xt = zt[:a.limit], xt[:a.limit]
    to01 = lambda u8: torch.from_numpy((u8.astype(np.float32) + 0.5) / 256)
    perm = np.random.default_rng(0).permutation(len(zt))
    nv = len(zt) // 10
    vi, ti = perm[:nv], perm[nv:]
    z_tr, x_tr = torch.from_numpy(zt[ti]), to01(xt[ti]) * 2 - 1
    z_va, x_va = torch.from_numpy(zt[vi]), to01(xt[vi])
    z_te, x_te = torch.from_numpy(zs), to01(xs)
    net = decoder(zt.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    print('pytorch decoder: %d train / %d valid / %d test codes of %d, %d threads' %
          (len(ti), nv, len(zs), zt.shape[1], a.threads), flush=True)
    for ep in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(len(ti))
        for b in range(0, len(ti), 128):
            idx = order[b:b + 128]
            opt.zero_grad()
            loss = (net(z_tr[idx]) - x_tr[idx]).abs().mean()
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t0
        print('epoch %d/%d %.1f s  valid PSNR %.2f dB  test PSNR %.2f dB' %
              (ep, a.epochs, dt, psnr(net, z_va, x_va), psnr(net, z_te, x_te)), flush=True)


if __name__ == '__main__':
    main()
