#!/usr/bin/python3
"""Discrete prototype behind the flow's shared-cell autoregressive layers
(docs/flow.md "Shared-cell autoregressive layers").

One pass over the pixels in raster order. Each pixel's context — numbers
computed from the pixels before it (radius 3) — picks a cell; a cell holds a
histogram of the 256 pixel values (add-0.1 smoothing) shared by all
positions. Fitted on the first 50,000 Fashion-MNIST train images, scored on
the 10,000 test images, in bits per pixel (what a continuous model of the
dequantized data can at best reach with the same cells). Context values are
read from the dequantized images (seed 0), as logits or as intensities.

    /usr/bin/python3 bench/flow_cell_proto.py CASE

CASE: logit | intensity | prediction | scale | edges5 | edges13 | net (one per
run: each needs ~10 GB). Prints one markdown row. "net" is edges13 with the
prediction of a PyTorch network of the flow's net prediction's shape
(arcell.c: the 24 neighbours, 13 edge features, row and column → 128 → 128
→ 1, ReLUs; Adam, batches of 4,096, 2 passes over the first 10,000 images)
as one more feature of the per-position least squares.
"""
import gzip
import sys

import numpy as np

FM = "/usr/share/datasets/fashion-mnist/%s-images-idx3-ubyte.gz"
R, LAM = 3, 1e-6
OFF = [(dy, dx) for dy in range(-R, 1) for dx in range(-R, R + 1) if dy < 0 or dx < 0]


def load(name, n):
    with gzip.open(FM % name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n].astype(float)


def sh(a, dy, dx):
    """Value at (y + dy, x + dx), 0 outside the image."""
    b = np.zeros_like(a)
    ys, xs = slice(max(0, -dy), min(28, 28 - dy)), slice(max(0, -dx), min(28, 28 - dx))
    yd, xd = slice(max(0, dy), min(28, 28 + dy)), slice(max(0, dx), min(28, 28 + dx))
    b[:, ys, xs] = a[:, yd, xd]
    return b


def edges(X, n):
    """0, 5 or 13 edge features of the nearest neighbours (as in arcell.c)."""
    if n == 0:
        return []
    W, N, NW, NE = sh(X, 0, -1), sh(X, -1, 0), sh(X, -1, -1), sh(X, -1, 1)
    mx, mn = np.maximum(W, N), np.minimum(W, N)
    f = [np.where(NW >= mx, mn, np.where(NW <= mn, mx, W + N - NW)), mx, mn,
         np.maximum(N, NE), np.minimum(N, NE)]
    if n == 13:
        WW, NN = sh(X, 0, -2), sh(X, -2, 0)
        for a, b in [(W, NW), (N, NW), (W, WW), (N, NN)]:
            f += [np.maximum(a, b), np.minimum(a, b)]
    return f


def regress(feat_tr, feat_te, y):
    """Per-position least squares (ridge 1e-6) of y on the features and 1."""
    ptr, pte = np.zeros(y.shape), np.zeros(feat_te[0].shape)
    for r in range(784):
        yy, xx = divmod(r, 28)
        A = np.stack([f[:, yy, xx] for f in feat_tr] + [np.ones(len(y))], 1)
        B = np.stack([f[:, yy, xx] for f in feat_te] + [np.ones(len(pte))], 1)
        w = np.linalg.solve(A.T @ A + 1e-6 * np.eye(A.shape[1]), A.T @ y[:, yy, xx])
        ptr[:, yy, xx], pte[:, yy, xx] = A @ w, B @ w
    return ptr, pte


def bits(ftr, fte, nbins, xtr, xte):
    """Cells of global quantile bins of each context number; test and train bits/pixel."""
    ctr, cte, n = np.zeros(xtr.size, int), np.zeros(xte.size, int), 1
    for a, b, nb in zip(ftr, fte, nbins):
        e = np.unique(np.quantile(a.ravel(), np.linspace(0, 1, nb + 1)[1:-1]))
        ctr = ctr * (len(e) + 1) + np.searchsorted(e, a.ravel())
        cte = cte * (len(e) + 1) + np.searchsorted(e, b.ravel())
        n *= len(e) + 1
    H = np.bincount(ctr * 256 + xtr, minlength=n * 256).reshape(n, 256)
    p = (H + 0.1) / (H.sum(1, keepdims=True) + 25.6)
    return -np.log2(p[cte, xte]).mean(), -np.log2(p[ctr, xtr]).mean(), n


def net_prediction(ftr, fte, tr):
    """The net's prediction (see the docstring) for the train and test pixels."""
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(2)
    yy, xx = np.mgrid[0:28, 0:28] / 27.0

    def rows(feats, a, b):
        f = [x[a:b] for x in feats] + [np.broadcast_to(yy, (b - a, 28, 28)),
                                       np.broadcast_to(xx, (b - a, 28, 28))]
        return torch.from_numpy(np.stack(f, -1).reshape(-1, len(f)).astype(np.float32))

    X, y = rows(ftr, 0, 10000), torch.from_numpy(tr[:10000].astype(np.float32).ravel())
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1))
    steps = 2 * len(y) // 4096
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, 2e-5)
    for _ in range(steps):
        i = torch.randint(0, len(y), (4096,))
        loss = ((net(X[i]).squeeze(1) - y[i]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        out = [np.concatenate([net(rows(f, a, min(a + 2000, len(f[0])))).squeeze(1).numpy()
                               for a in range(0, len(f[0]), 2000)]).reshape(len(f[0]), 28, 28)
               for f in (ftr, fte)]
    return out


def main():
    case = sys.argv[1] if len(sys.argv) > 1 else ""
    if case not in ("logit", "intensity", "prediction", "scale", "edges5", "edges13", "net"):
        sys.exit(__doc__)
    tr8, te8 = load("train", 50000), load("t10k", 10000)
    rng = np.random.default_rng(0)
    sq = [LAM + (1 - 2 * LAM) * (a + rng.random(a.shape)) / 256 for a in (tr8, te8)]
    tr, te = [np.log(u) - np.log1p(-u) if case == "logit" else u for u in sq]
    n_edges = {"edges5": 5, "edges13": 13, "net": 13}.get(case, 0)
    ftr = [sh(tr, dy, dx) for dy, dx in OFF] + edges(tr, n_edges)
    fte = [sh(te, dy, dx) for dy, dx in OFF] + edges(te, n_edges)
    if case == "net":
        gtr, gte = net_prediction(ftr, fte, tr)
        ftr.append(gtr)
        fte.append(gte)
    ptr, pte = regress(ftr, fte, tr)
    del ftr, fte
    xtr, xte = tr8.astype(int).ravel(), te8.astype(int).ravel()
    near = [(0, -1), (-1, 0), (-1, -1), (-1, 1)]

    def ctx(X, P):
        E = X - P
        act = sum(np.abs(sh(X, dy, dx) - P) for dy, dx in near)
        err = sum((1.0 if j < 2 else 0.5) * np.abs(sh(E, dy, dx)) for j, (dy, dx) in enumerate(near))
        return act, err

    atr, etr = ctx(tr, ptr)
    ate, ete = ctx(te, pte)
    if case == "prediction":
        nums, nb, what = ([ptr], [pte]), (128,), "prediction"
    elif case in ("logit", "intensity"):
        nums, nb, what = ([ptr, atr, etr], [pte, ate, ete]), (64, 16, 8), "prediction, activity, err"
    else:
        # the learned scale: least squares of |v - c| on |v_j - c| (every
        # neighbour), the 4 nearest errors |e_j|, c, c²
        def sfeat(X, P):
            E = X - P
            return ([np.abs(sh(X, dy, dx) - P) for dy, dx in OFF] +
                    [np.abs(sh(E, dy, dx)) for dy, dx in near] + [P, P * P])
        str_, ste = regress(sfeat(tr, ptr), sfeat(te, pte), np.abs(tr - ptr))
        nums, what = ([ptr, str_, etr], [pte, ste, ete]), "prediction, scale, err"
        nb = (64, 16, 8) if case == "scale" else (128, 16, 8)
    mse = np.mean((te - pte) ** 2)
    test, train, cells = bits(nums[0], nums[1], nb, xtr, xte)
    print("| %s | %s (%s) | %d | %.4g | %.4f | %.4f |" %
          (case, what, "×".join(map(str, nb)), cells, mse, train, test))


if __name__ == "__main__":
    main()
