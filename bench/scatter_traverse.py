#!/usr/bin/python3
"""Codes for the paper's Figure 1: vary two code dimensions over given values
with every other dimension at 0, as one (rows * cols, k) f32 .npy; decoding
it with `nota-host decode` writes the grid as one PNG (row i: dimension A at
values[i]; column j: dimension B at values[j]).

  scatter_traverse.py K DIM_A DIM_B OUT.npy [VALUES]   (VALUES default -10,-5,5,10)

e.g. scatter_traverse.py 512 0 1 traverse_codes.npy
     nota-host decode scat.nota --codes traverse_codes.npy --out traverse   # traverse.png
"""
import sys

import numpy as np


def main():
    if len(sys.argv) not in (5, 6):
        sys.stderr.write(__doc__)
        sys.exit(2)
    k, a, b = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    values = [float(v) for v in (sys.argv[5] if len(sys.argv) == 6 else '-10,-5,5,10').split(',')]
    if not (0 <= a < k and 0 <= b < k and a != b):
        sys.exit('scatter_traverse.py: need 0 <= DIM_A != DIM_B < K = %d' % k)
    z = np.zeros((len(values) * len(values), k), np.float32)
    for i, va in enumerate(values):
        for j, vb in enumerate(values):
            z[i * len(values) + j, a] = va
            z[i * len(values) + j, b] = vb
    np.save(sys.argv[4], z)
    print('wrote %s %s' % (sys.argv[4], z.shape))


if __name__ == '__main__':
    main()
