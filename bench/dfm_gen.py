#!/usr/bin/python3
"""dfm generation mode on Fashion-MNIST: training speed against the same
model in PyTorch (CPU), reconstruction after a short fit, and sample grids.

The model (plugins/dfm/dfm_gen.h, docs/dfm.md): encoder MLP 784-512-256-120,
decoder MLP 120-256-512-944 (ReLU), whose output is every Fourier
coefficient of a per-image coordinate network of width 6, depth 3 (2 -> 6 ->
6 -> 1, residual on the 6 -> 6 layer, tanh, positions in [0, 0.5]^2); loss
mean (y - t)^2 + lambda/B sum |z|^2 (lambda 0.5, thesis eq. 4.8), targets
x/128 - 1 of the dequantized images x + U(0, 1); Adam with a linear learning
rate schedule 3e-3 -> 1e-5 over the fit, the encoder at 0.1x; batch 64 —
the plugin's defaults, mirrored in ARCH and LR.

PyTorch renders the batch the way one writes it there: the first layer (shared
positions) as one mm for the whole batch; later layers: all 2^m angles k.x by
one matmul with the bit matrix, cos and sin of each, then torch.bmm with the
per-image coefficient matrices (`--torch-render loop`: one mm per image
instead; 5x slower than bmm in training here, 220 s against 43 s for 50
batches, although a lone forward mm loop beat bmm in a microbenchmark). nota: m sincos per pixel and angle-addition
products, per-image GEMM-shaped loops, images split over threads
(dfm_gen_render.c).

1. Speed: `--batches` batches of 64 (one epoch over the first batches*64
   training images), nota (`nota-host fit`, the fit's own train_seconds) and
   PyTorch (a fresh process, the training loop alone) alternating, `--reps`
   times each, same thread count; medians, their ratio, the last epoch's
   train MSE of each.
2. A short fit (`--short-n` images, `--short-epochs` epochs, 10% held out,
   early stopping as the plugin does) on both sides; reconstruction MSE and
   PSNR on the first `--test-n` test images (8-bit levels, PSNR peak 255).
3. A longer nota-only fit (`--long-n`, `--long-epochs`) for the grids:
   its test reconstruction, then sample grids: z ~ N(0, s^2 I) with s the RMS of the training codes
   (the plugin's default sigma=0), and through a Gaussian prior fitted to the
   training codes (`nota-host fit --plugin latent` on `encode`'s codes,
   `nota-host compose`, `sample`); written to --img-dir.

    /usr/bin/python3 bench/dfm_gen.py [--build DIR] [--batches 100] [--reps 2] [--threads 2]
"""
import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FM = "/usr/share/datasets/fashion-mnist/%s-images-idx3-ubyte.gz"
SETS = {}  # --set overrides for nota; the PyTorch side uses ARCH / LR below
ARCH = dict(latent=120, enc=[512, 256], dec=[256, 512], width=6, depth=3, C=1, H=28, W=28,
            scale=0.5, lam=0.5, batch=64, lr_ratio=0.1)
LR = dict(lr=3e-3, lr_end=1e-5, coef_std=0.3)  # the plugin's defaults


def load(split, n):
    import numpy as np
    with gzip.open(FM % split) as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    return raw[:n]


RENDER = "bmm"  # or "loop": one mm per image (set by --torch-render)


def torch_model(a, init_std, seed):
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    ins = [2] + [a["width"]] * (a["depth"] - 1)
    outs = [a["width"]] * (a["depth"] - 1) + [a["C"]]
    offs = [0]
    for i, o in zip(ins, outs):
        offs.append(offs[-1] + 2 * (1 << i) * o)

    def mlp(sizes):
        layers = []
        for k in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    D = a["C"] * a["H"] * a["W"]
    enc = mlp([D] + a["enc"] + [a["latent"]])
    dec = mlp([a["latent"]] + a["dec"] + [offs[-1]])
    with torch.no_grad():
        dec[-1].weight.normal_(0.0, init_std / a["dec"][-1] ** 0.5)
        dec[-1].bias.zero_()
    H, W = a["H"], a["W"]
    r, c = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                          torch.arange(W, dtype=torch.float32), indexing="ij")
    pos = torch.stack([a["scale"] * (c.reshape(-1) + 0.5) / W,
                       a["scale"] * (r.reshape(-1) + 0.5) / H], 1)  # (P, 2)
    bits = [torch.tensor([[(k >> j) & 1 for k in range(1 << i)] for j in range(i)],
                         dtype=torch.float32) for i in ins]
    th0 = 2 * torch.pi * pos @ bits[0]
    phi0 = torch.cat([torch.cos(th0), torch.sin(th0)], 1)  # (P, 8)

    def render(coef):
        B = coef.shape[0]
        x = None
        for l in range(a["depth"]):
            w = coef[:, offs[l]:offs[l + 1]].reshape(B, 2 * (1 << ins[l]), outs[l])
            if l == 0:
                # positions are shared: one mm for the whole batch
                y = (phi0 @ w.permute(1, 0, 2).reshape(w.shape[1], -1))
                y = y.reshape(-1, B, outs[l]).permute(1, 0, 2)
                if ins[l] == outs[l]:
                    y = y + pos
            else:
                th = 2 * torch.pi * (x @ bits[l])
                phi = torch.cat([torch.cos(th), torch.sin(th)], 2)
                if RENDER == "bmm":
                    y = torch.bmm(phi, w)
                else:
                    y = torch.stack([phi[i] @ w[i] for i in range(B)])
                if ins[l] == outs[l]:
                    y = y + x
            x = y
        return torch.tanh(x).permute(0, 2, 1).reshape(B, -1)

    return enc, dec, render


def torch_fit(x, epochs, batches_per_epoch, threads, seed, valid=None, patience=3):
    """Returns (seconds of the training loop, last train mse, the model)."""
    import torch
    torch.set_num_threads(threads)
    a = ARCH
    enc, dec, render = torch_model(a, LR["coef_std"], seed)
    lr, lr_end, B = LR["lr"], LR["lr_end"], a["batch"]
    total = epochs * batches_per_epoch
    oe = torch.optim.Adam(enc.parameters(), lr=lr * a["lr_ratio"])
    od = torch.optim.Adam(dec.parameters(), lr=lr)
    sched = [torch.optim.lr_scheduler.LinearLR(o, 1.0, lr_end / lr, total) for o in (oe, od)]
    t = torch.from_numpy(x.astype("float32"))
    t = (t + torch.rand(t.shape)) / 128.0 - 1.0
    best, since, secs, tr = float("inf"), 0, 0.0, float("nan")
    state = None
    for ep in range(epochs):
        perm = torch.randperm(t.shape[0])
        t0 = time.perf_counter()
        sse = 0.0
        for b in range(batches_per_epoch):
            tb = t[perm[b * B:(b + 1) * B]]
            z = enc(tb)
            y = render(dec(z))
            mse = ((y - tb) ** 2).mean()
            loss = mse + a["lam"] / B * (z ** 2).sum()
            oe.zero_grad()
            od.zero_grad()
            loss.backward()
            oe.step()
            od.step()
            for s in sched:
                s.step()
            sse += mse.item()
        secs += time.perf_counter() - t0
        tr = sse / batches_per_epoch
        if valid is not None:
            vm = torch_recon_mse(enc, dec, render, valid)
            if vm < best:
                best, since = vm, 0
                state = ({k: v.clone() for k, v in enc.state_dict().items()},
                         {k: v.clone() for k, v in dec.state_dict().items()})
            else:
                since += 1
                if since >= patience:
                    break
    if state is not None:
        enc.load_state_dict(state[0])
        dec.load_state_dict(state[1])
    return secs, tr, (enc, dec, render)


def torch_recon_mse(enc, dec, render, x):
    """MSE in [-1, 1] units of images at level centres x + 0.5."""
    import torch
    with torch.no_grad():
        t = (torch.from_numpy(x.astype("float32")) + 0.5) / 128.0 - 1.0
        s = 0.0
        for i in range(0, t.shape[0], 256):
            tb = t[i:i + 256]
            s += ((render(dec(enc(tb))) - tb) ** 2).sum().item()
        return s / t.numel()


def torch_worker(args):
    import numpy as np
    global RENDER
    RENDER = args.torch_render
    if args.mode == "speed":
        x = load("train", args.batches * ARCH["batch"])
        secs, tr, _ = torch_fit(x, 1, args.batches, args.threads, args.seed)
        print(json.dumps({"seconds": secs, "train_mse": tr}))
        return
    x = load("train", args.short_n)
    nv = args.short_n // 10
    rng = np.random.default_rng(args.seed)
    idx = rng.permutation(args.short_n)
    tr_x, va_x = x[idx[nv:]], x[idx[:nv]]
    import torch
    va = va_x  # validation on level centres, as nota-host eval
    bpe = tr_x.shape[0] // ARCH["batch"]
    secs, tr, m = torch_fit(tr_x, args.short_epochs, bpe, args.threads, args.seed, valid=va)
    te = torch_recon_mse(*m, load("t10k", args.test_n))
    print(json.dumps({"seconds": secs, "train_mse": tr, "test_mse_unit": te}))
    del torch


def host(build, *argv, threads):
    cmd = [os.path.join(build, "nota-host"), *argv]
    if threads:
        cmd += ["--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return r.stdout + r.stderr.replace("\r", "\n")


def sets(extra=None):
    out = []
    for k, v in {**SETS, **(extra or {})}.items():
        out += ["--set", "%s=%s" % (k, v)]
    return out


def nota_fit(build, out, n, threads, extra):
    log = host(build, "fit", "--plugin", "dfm", "--data", "fashion-mnist:train", "--limit", str(n),
               "--out", out, *sets(extra), threads=threads)
    secs = float(re.search(r"items of .*, ([0-9.]+) s\)", log).group(1))
    trs = re.findall(r"train mse ([0-9.]+)", log)
    return secs, float(trs[-1]), log


def torch_run(mode, args):
    cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--torch-worker", mode,
           "--batches", str(args.batches), "--threads", str(args.threads), "--seed", str(args.seed),
           "--short-n", str(args.short_n), "--short-epochs", str(args.short_epochs),
           "--test-n", str(args.test_n), "--torch-render", args.torch_render]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("torch worker failed:\n" + r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--short-n", type=int, default=6400)
    ap.add_argument("--short-epochs", type=int, default=3)
    ap.add_argument("--test-n", type=int, default=1000)
    ap.add_argument("--long-n", type=int, default=60000)
    ap.add_argument("--long-epochs", type=int, default=5)
    ap.add_argument("--img-dir", default=os.path.join(ROOT, "docs", "img"))
    ap.add_argument("--skip-short", action="store_true")
    ap.add_argument("--torch-worker", choices=["speed", "short"])
    ap.add_argument("--torch-render", choices=["bmm", "loop"], default="bmm",
                    help="PyTorch per-image products: torch.bmm, or one mm per image")
    ap.add_argument("--mode", default=None)
    args = ap.parse_args()
    if args.torch_worker:
        args.mode = args.torch_worker
        torch_worker(args)
        return
    tmp = tempfile.mkdtemp(prefix="dfm-gen-bench-")
    load0 = os.getloadavg()
    n = args.batches * ARCH["batch"]
    nt, tt, nl, tl = [], [], [], []
    for rep in range(args.reps):
        s, l, _ = nota_fit(args.build, os.path.join(tmp, "speed.nota"), n, args.threads,
                           {"epochs": 1, "valid_frac": 0})
        nt.append(s), nl.append(l)
        r = torch_run("speed", args)
        tt.append(r["seconds"]), tl.append(r["train_mse"])
        print("rep %d: nota %.2f s (mse %.4f), torch %.2f s (mse %.4f)"
              % (rep + 1, s, l, r["seconds"], r["train_mse"]), flush=True)
    mn, mt = statistics.median(nt), statistics.median(tt)
    print("\nPyTorch render: %s" % args.torch_render)
    print("| batches of 64 | threads | nota s | PyTorch s | ratio | nota train mse | "
          "PyTorch train mse |")
    print("|---|---|---|---|---|---|---|")
    print("| %d | %d | %.2f | %.2f | %.2fx | %.4f | %.4f |"
          % (args.batches, args.threads, mn, mt, mt / mn, statistics.median(nl),
             statistics.median(tl)))
    print("load average before: %.2f %.2f %.2f, after: %.2f %.2f %.2f" % (load0 + os.getloadavg()))
    if args.skip_short:
        return
    model = os.path.join(tmp, "dfm.nota")
    s, l, _ = nota_fit(args.build, model, args.short_n, args.threads,
                       {"epochs": args.short_epochs, "valid_frac": 0.1})
    ev = host(args.build, "eval", model, "--data", "fashion-mnist:test", "--limit",
              str(args.test_n), "--json", threads=args.threads)
    js = json.loads(ev[ev.index("{"):ev.rindex("}") + 1])
    met = js.get("metrics", js)
    r = torch_run("short", args)
    tmse = r["test_mse_unit"] * 128.0 * 128.0
    print("\nshort fit: %d images (10%% held out), %d epochs" % (args.short_n, args.short_epochs))
    print("| side | fit s | last train mse (unit) | test mse (8-bit) | test PSNR dB |")
    print("|---|---|---|---|---|")
    print("| nota | %.1f | %.4f | %.1f | %.2f |" % (s, l, met["mse"], met["psnr_db"]))
    print("| PyTorch | %.1f | %.4f | %.1f | %.2f |"
          % (r["seconds"], r["train_mse"], tmse, 10 * __import__("math").log10(255 ** 2 / tmse)))
    # A longer nota-only fit for the grids (PyTorch would take too long here).
    s, l, log = nota_fit(args.build, model, args.long_n, args.threads,
                         {"epochs": args.long_epochs, "valid_frac": 0.1})
    ev = host(args.build, "eval", model, "--data", "fashion-mnist:test", "--limit",
              str(args.test_n), "--json", threads=args.threads)
    js = json.loads(ev[ev.index("{"):ev.rindex("}") + 1])
    met = js.get("metrics", js)
    print("\nnota fit for the grids: %d images (10%% held out), at most %d epochs: %.1f s, "
          "test mse %.1f, PSNR %.2f dB" % (args.long_n, args.long_epochs, s, met["mse"],
                                            met["psnr_db"]))
    for line in re.findall(r"\[info\] dfm: (epoch .*|early stop.*)", log):
        print("    " + line)
    os.makedirs(args.img_dir, exist_ok=True)
    out = os.path.join(args.img_dir, "dfm_gen_samples")
    host(args.build, "sample", model, "--n", "64", "--out", os.path.join(tmp, "s"), "--seed", "3",
         threads=args.threads)
    os.replace(os.path.join(tmp, "s.png"), out + ".png")
    codes = os.path.join(tmp, "codes.npy")
    host(args.build, "encode", model, "--data", "fashion-mnist:train", "--limit",
         str(args.long_n), "--out", codes, threads=args.threads)
    prior = os.path.join(tmp, "prior.nota")
    host(args.build, "fit", "--plugin", "latent", "--data", codes, "--out", prior,
         threads=args.threads)
    pipe = os.path.join(tmp, "pipe.nota")
    host(args.build, "compose", prior, model, "--out", pipe, threads=None)
    host(args.build, "sample", pipe, "--n", "64", "--out", os.path.join(tmp, "p"), "--seed", "3",
         threads=args.threads)
    os.replace(os.path.join(tmp, "p.png"), out.replace("samples", "prior_samples") + ".png")
    host(args.build, "encode", model, "--data", "fashion-mnist:test", "--limit", "64", "--out",
         os.path.join(tmp, "tc.npy"), threads=args.threads)
    host(args.build, "decode", model, "--codes", os.path.join(tmp, "tc.npy"), "--out",
         os.path.join(tmp, "rec"), threads=args.threads)
    os.replace(os.path.join(tmp, "rec.png"), out.replace("samples", "recon") + ".png")
    print("grids: %s.png, %s, %s" % (out, out.replace("samples", "prior_samples") + ".png",
                                      out.replace("samples", "recon") + ".png"))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
