#!/usr/bin/env python3
"""The thesis's width × depth experiment (paper 001, ch. 5.2.1, fig. 5.1) with
the dfm plugin: for each (width, depth), fit one network to a 400×400 photo
and report its size as a percentage of the raw image (float32 weights, as the
thesis counts) against the reconstruction MSE of the float network (before
quantization, which the thesis does not do).

The photo is a centre 400×400 crop of skimage's astronaut (the thesis used an
ImageNet image); one seed per cell. MSE is on pixel values scaled to [0, 1].

Usage: bench/dfm_table.py --host build/nota-host [--widths 3,4,5,6]
       [--depths 2,3,4,5] [--set steps=600] [--results bench/RESULTS.md]
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

from PIL import Image

import dfm_rd

SECTION = "## dfm width × depth (thesis table)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--widths", default="3,4,5,6")
    ap.add_argument("--depths", default="2,3,4,5")
    ap.add_argument("--image", default="astronaut")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--skimage-data")
    ap.add_argument("--results")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dfm_table_")
    data = a.skimage_data or dfm_rd.skimage_data(tmp)
    im = dfm_rd.load(os.path.join(data, a.image + ".png"), 400)
    png = os.path.join(tmp, "img.png")
    im.save(png)
    raw = im.size[0] * im.size[1] * len(im.getbands())
    widths = [int(w) for w in a.widths.split(",")]
    depths = [int(d) for d in a.depths.split(",")]
    cells = {}
    for w in widths:
        for d in depths:
            cmd = [a.host, "compress", "--plugin", "dfm", png, "--bpp", "64", "--out",
                   os.path.join(tmp, "x.dfm"), "--threads", str(a.threads), "-v",
                   "--set", "width=%d" % w, "--set", "depth=%d" % d, "--set", "qat_steps=0"]
            for s in a.set:
                cmd += ["--set", s]
            t0 = time.time()
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit("dfm_table: %s failed: %s" % (" ".join(cmd), r.stderr))
            m = re.search(r"PSNR ([0-9.]+) dB float", r.stderr)
            n = int(re.search(r"([0-9]+) weights", r.stderr).group(1))
            psnr = float(m.group(1))
            mse = 10 ** (-psnr / 10)  # on [0, 1]
            cells[(w, d)] = (100.0 * 4 * n / raw, mse, psnr, n, time.time() - t0)
            print(w, d, cells[(w, d)], flush=True)
    lines = [SECTION, "",
             "`bench/dfm_table.py --host build/nota-host --widths %s --depths %s%s` (%s): "
             "%s %dx%d centre crop, float network (no quantization), one seed. Each cell: size "
             "of the float32 weights as %% of the raw 8-bit image / MSE on [0, 1] (PSNR dB)." % (
                 a.widths, a.depths, "".join(" --set " + s for s in a.set),
                 time.strftime("%Y-%m-%d"), a.image, im.size[0], im.size[1]), "",
             "| width \\ depth | " + " | ".join(str(d) for d in depths) + " |",
             "|---|" + "---|" * len(depths)]
    for w in widths:
        lines.append("| %d | " % w + " | ".join(
            "%.2f%% / %.4f (%.2f)" % cells[(w, d)][:3] for d in depths) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        dfm_rd.update_results(a.results, text, SECTION)


if __name__ == "__main__":
    main()
