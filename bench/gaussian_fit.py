#!/usr/bin/python3
"""Gaussian (PCA) fit on Fashion-MNIST train: nota vs scikit-learn, same run.

Runs `nota-host fit --plugin latent` (full-covariance Gaussian, all 784
components) and scikit-learn's PCA(n_components=None).fit on the same
60,000 x 784 dequantized float32 data, alternating, REPS times each, and
reports the medians and the median ratio. nota's fit time is the plugin's own
fit as recorded in the model file (train_seconds); its memory is the peak
resident set of the whole nota-host process (os.wait4), compared with the
dataset's float32 size. Writes the "Gaussian fit" section of bench/RESULTS.md.

    /usr/bin/python3 bench/gaussian_fit.py [--reps 5] [--build build]

Needs python3-numpy, python3-sklearn and GNU time (scripts/setup.sh --bench).
"""
import argparse, gzip, json, os, platform, re, statistics, subprocess, sys, tempfile, time

import numpy as np
import sklearn
from sklearn.decomposition import PCA

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FMNIST = os.environ.get("NOTA_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


def load_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, h * w)


def run_nota(host, out, tmp):
    # Peak memory via GNU time: ru_maxrss from os.wait4 would include this
    # Python process's own pages, which Linux keeps in the child's high-water
    # mark across fork + exec.
    rss_file = os.path.join(tmp, "rss")
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, host, "fit", "--plugin",
                           "latent", "--set", "kind=gaussian", "--data", "fashion-mnist:train",
                           "--out", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"nota-host fit failed ({proc.returncode}):\n{proc.stderr.decode()}")
    rss = int(open(rss_file).read().split()[-1]) * 1024
    info = json.loads(subprocess.check_output([host, "info", out, "--json"]))
    return info["model"]["train_seconds"], wall, rss


def cpu_model():
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
    return m.group(1).strip() if m else platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    a = ap.parse_args()
    host = os.path.join(a.build, "nota-host")
    threads = os.cpu_count()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))

    x = load_idx_images(os.path.join(FMNIST, "train-images-idx3-ubyte.gz"))
    rng = np.random.default_rng(0)
    xf = x.astype(np.float32) + rng.random(x.shape, dtype=np.float32)
    data_bytes = xf.nbytes

    nota_fit, nota_wall, nota_rss, sk_fit = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "g.nota")
        for r in range(a.reps):
            fit, wall, rss = run_nota(host, out, tmp)
            nota_fit.append(fit); nota_wall.append(wall); nota_rss.append(rss)
            t0 = time.perf_counter()
            PCA(n_components=None, svd_solver="full").fit(xf)
            sk_fit.append(time.perf_counter() - t0)
            print(f"rep {r + 1}/{a.reps}: nota fit {fit:.3f} s (process {wall:.2f} s, "
                  f"peak {rss / 2**20:.0f} MiB), sklearn PCA fit {sk_fit[-1]:.3f} s", flush=True)

    ratios = [s / n for s, n in zip(sk_fit, nota_fit)]
    med = statistics.median
    rss = max(nota_rss)
    table = f"""## Gaussian fit on Fashion-MNIST train: nota vs scikit-learn PCA

Data: 60,000 x 784 dequantized float32 ({data_bytes / 2**20:.0f} MiB). nota: `nota-host fit --plugin latent
--set kind=gaussian --data fashion-mnist:train` (fit time = the plugin's fit, from the model file's
train_seconds; covariance in double by blocked DSYRK, then DSYEVD). Reference: scikit-learn
{sklearn.__version__} `PCA(n_components=None, svd_solver="full").fit` on the same array in the same run,
alternating, {a.reps} repetitions each. Threads: {threads} (OpenBLAS, both sides). Machine: {cpu_model()},
{threads} cores. Command: `/usr/bin/python3 bench/gaussian_fit.py --reps {a.reps}` ({time.strftime('%Y-%m-%d')}).

| measure | nota | scikit-learn | ratio |
|---|---|---|---|
| fit time, median (s) | {med(nota_fit):.3f} | {med(sk_fit):.3f} | nota {med(ratios):.1f}x faster |
| whole `nota-host fit` process, median (s) | {med(nota_wall):.2f} | | includes reading the gz IDX |
| peak resident memory of `nota-host fit` | {rss / 2**20:.0f} MiB | | {rss / data_bytes:.2f}x the f32 dataset (target <= 2x) |
"""
    print(table)
    if not a.no_write:
        path = os.path.join(HERE, "RESULTS.md")
        text = open(path).read() if os.path.exists(path) else "# nota benchmark results\n"
        marker = "## Gaussian fit on Fashion-MNIST train"
        if marker in text:
            start = text.index(marker)
            nxt = text.find("\n## ", start + 1)
            text = text[:start] + table + (text[nxt + 1:] if nxt >= 0 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + table
        with open(path, "w") as f:
            f.write(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
