#!/usr/bin/env python3
"""dfm compression vs JPEG (libjpeg-turbo), byte-matched (BENCHMARKS.md).

For each photograph and target bpp: `nota-host compress --plugin dfm` writes a
.dfm file (its whole size counts); JPEG is encoded at every quality 1..100
with optimized Huffman tables, 4:2:0 and 4:4:4 (grey images: one), through
Pillow's libjpeg-turbo. Reported per dfm file:
  - jpeg_le: the highest JPEG PSNR among files no larger than the .dfm file
    (the nearest smaller file, the BENCHMARKS.md rule);
  - jpeg_interp: JPEG's rate-distortion curve (upper envelope of all
    (bytes, PSNR) points) linearly interpolated at the .dfm size, because
    JPEG sizes move in coarse steps at these rates.
PSNR on uint8 RGB (or grey), against the PNG that was compressed.

Photos come from the python3-skimage package (not committed): the script
downloads the .deb with `apt-get download` into a temp folder and unpacks it
with `dpkg -x`, or takes --skimage-data DIR. Images are centre-cropped to
--crop pixels a side (0 = as they are).

Usage: bench/dfm_rd.py --host build/nota-host [--images astronaut,chelsea]
       [--bpps 0.1,0.15,0.2,0.3] [--crop 256] [--threads 1] [--jobs 3]
       [--set steps=1500 ...]
       [--results bench/RESULTS.md]
"""
import argparse
import concurrent.futures
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, features

SECTION = "## dfm compression vs JPEG"


def skimage_data(tmp):
    subprocess.run(["apt-get", "download", "python3-skimage"], cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
    subprocess.run(["dpkg", "-x", deb, "x"], cwd=tmp, check=True)
    for root, _, files in os.walk(os.path.join(tmp, "x")):
        if root.endswith("skimage/data") and "astronaut.png" in files:
            return root
    raise SystemExit("dfm_rd: no skimage/data folder in the python3-skimage package")


def load(path, crop):
    im = Image.open(path)
    im = im.convert("L" if im.mode in ("L", "I", "I;16", "1") else "RGB")
    if crop:
        w, h = im.size
        s = min(crop, w, h)
        x0, y0 = (w - s) // 2, (h - s) // 2
        im = im.crop((x0, y0, x0 + s, y0 + s))
    return im


def psnr(a, b):
    se = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 99.0 if se == 0 else 10 * np.log10(255.0 ** 2 / se)


def jpeg_curve(im):
    """All (bytes, psnr, quality, subsampling) points."""
    pts = []
    subs = [None] if im.mode == "L" else [0, 2]  # 4:4:4, 4:2:0
    for sub in subs:
        for q in range(1, 101):
            buf = io.BytesIO()
            kw = dict(quality=q, optimize=True)
            if sub is not None:
                kw["subsampling"] = sub
            im.save(buf, "JPEG", **kw)
            n = buf.tell()
            buf.seek(0)
            dec = Image.open(buf).convert(im.mode)
            pts.append((n, psnr(im, dec), q, "4:4:4" if sub == 0 else "4:2:0" if sub else "grey"))
    return pts


def jpeg_le(pts, nbytes):
    ok = [p for p in pts if p[0] <= nbytes]
    return max(ok, key=lambda p: p[1]) if ok else None


def jpeg_interp(pts, nbytes):
    """Upper envelope (best PSNR at or below each size), linear in bytes."""
    pts = sorted(pts)
    env = []
    for p in pts:
        if not env or p[1] > env[-1][1]:
            env.append(p)
    lo = [p for p in env if p[0] <= nbytes]
    hi = [p for p in env if p[0] > nbytes]
    if not lo:
        return None
    if not hi:
        return lo[-1][1]
    a, b = lo[-1], hi[0]
    t = (nbytes - a[0]) / (b[0] - a[0])
    return a[1] + t * (b[1] - a[1])


def run_dfm(host, png, bpp, out, sets, threads):
    cmd = [host, "compress", "--plugin", "dfm", png, "--bpp", str(bpp), "--out", out,
           "--threads", str(threads), "--json"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("dfm_rd: %s failed: %s" % (" ".join(cmd), r.stderr))
    res = json.loads(r.stdout)
    res["wall_seconds"] = time.time() - t0
    # The network actually fitted (the last one logged) and any stall fallbacks.
    archs = re.findall(r"width (\d+), depth (\d+), \d+ weights at (\d+) bits", r.stderr)
    res["arch"] = "%s×%s, %s bits" % archs[-1] if archs else "?"
    tiles = re.search(r"dfm: (\d+) tiles of (\d+)x(\d+)", r.stderr)
    if tiles:  # the network of the tile logged last; edge tiles may differ
        res["arch"] = "%s tiles of %sx%s: %s" % (tiles.group(1), tiles.group(2),
                                                 tiles.group(3), res["arch"])
    falls = re.findall(r"falling back from depth (\d+)", r.stderr)
    if falls:
        res["arch"] += " (stalled at depth %s)" % ", ".join(falls)
    t0 = time.time()
    dec = os.path.join(os.path.dirname(out), "dec.png")
    r = subprocess.run([host, "decompress", out, "--out", dec, "--threads", str(threads),
                        "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("dfm_rd: decompress failed: %s" % r.stderr)
    res["decode_json"] = json.loads(r.stdout)
    res["psnr_check"] = psnr(Image.open(png), Image.open(dec).convert(Image.open(png).mode))
    return res


def update_results(path, text, section=SECTION):
    """Replace `section` (up to the next "## ") in the results file, or append it."""
    old = open(path).read() if os.path.exists(path) else "# nota benchmark results\n"
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(section))
        new = old[:start] + text + (old[end + 1:] if end >= 0 else "")
    open(path, "w").write(new)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--images", default="astronaut,chelsea,coffee,motorcycle_left")
    ap.add_argument("--bpps", default="0.1,0.15,0.2,0.3")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--skimage-data")
    ap.add_argument("--results")
    ap.add_argument("--note", default="")
    ap.add_argument("--section", default=SECTION,
                    help="results section to replace (its heading line)")
    a = ap.parse_args()
    if not features.check_feature("libjpeg_turbo"):
        raise SystemExit("dfm_rd: Pillow is not built with libjpeg-turbo")
    tmp = tempfile.mkdtemp(prefix="dfm_rd_")
    data = a.skimage_data or skimage_data(tmp)
    rows, jobs = [], []
    for name in a.images.split(","):
        im = load(os.path.join(data, name + ".png"), a.crop)
        png = os.path.join(tmp, name + ".png")
        im.save(png)
        pts = jpeg_curve(im)
        for bpp in [float(b) for b in a.bpps.split(",")]:
            work = os.path.join(tmp, "%s_%g" % (name, bpp))
            os.mkdir(work)
            jobs.append((name, im, pts, png, bpp, os.path.join(work, "x.dfm")))
    # Independent encodes run --jobs at a time (each with --threads threads).
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futs = [pool.submit(run_dfm, a.host, j[3], j[4], j[5], a.set, a.threads) for j in jobs]
        for (name, im, pts, png, bpp, _), fut in zip(jobs, futs):
            r = fut.result()
            le = jpeg_le(pts, r["bytes"])
            row = dict(image=name, size="%dx%d" % im.size, target_bpp=bpp, bytes=r["bytes"],
                       bpp=r["bpp"], dfm_psnr=r["psnr_db"], jpeg_le_psnr=le[1] if le else None,
                       jpeg_le_bytes=le[0] if le else None,
                       jpeg_le_setting="q%d %s" % (le[2], le[3]) if le else "none fits",
                       jpeg_interp_psnr=jpeg_interp(pts, r["bytes"]), arch=r["arch"],
                       encode_s=r["encode_seconds"], decode_s=r["decode_json"]["decode_seconds"])
            assert abs(row["dfm_psnr"] - r["psnr_check"]) < 0.01, (row, r["psnr_check"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    fmt = lambda v: "—" if v is None else "%.2f" % v
    loadavg = os.getloadavg()
    lines = [a.section, "",
             "`bench/dfm_rd.py --host build/nota-host --crop %d --bpps %s --threads %d --jobs %d%s` "
             "(%s). PSNR in dB on uint8 %s; JPEG = libjpeg-turbo via Pillow, optimized Huffman, "
             "best of 4:2:0 / 4:4:4 at each quality; \"JPEG ≤\" is the best JPEG file no larger "
             "than the .dfm file (whole file counted), \"JPEG interp\" JPEG's rate–distortion "
             "envelope interpolated at the .dfm size. Load average at the end: %.2f / %.2f / %.2f "
             "(1 / 5 / 15 min). %s" % (
                 a.crop, a.bpps, a.threads, a.jobs, "".join(" --set " + s for s in a.set),
                 time.strftime("%Y-%m-%d"), "RGB (grey for grey images)", loadavg[0], loadavg[1],
                 loadavg[2], a.note), "",
             "| image | target bpp | network | dfm bytes | dfm bpp | dfm PSNR "
             "| JPEG ≤ (setting, bytes) | JPEG ≤ PSNR | JPEG interp PSNR | dfm − interp "
             "| encode s | decode s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = None if r["jpeg_interp_psnr"] is None else r["dfm_psnr"] - r["jpeg_interp_psnr"]
        lines.append("| %s %s | %.2f | %s | %d | %.3f | %s | %s, %s | %s | %s | %s | %.0f | %.3f |" % (
            r["image"], r["size"], r["target_bpp"], r["arch"], r["bytes"], r["bpp"],
            fmt(r["dfm_psnr"]),
            r["jpeg_le_setting"], r["jpeg_le_bytes"] if r["jpeg_le_bytes"] else "—",
            fmt(r["jpeg_le_psnr"]), fmt(r["jpeg_interp_psnr"]), fmt(d), r["encode_s"],
            r["decode_s"]))
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        update_results(a.results, text, a.section)


if __name__ == "__main__":
    main()
