#!/usr/bin/python3
"""An independent NumPy implementation of Kymatio's Scattering2D (order 2).

Kymatio cannot be installed here, so this is a transcription of its
definition (kymatio/scattering2d: filter_bank.py, core/scattering2d.py and
the NumPy back end), written to be read side by side with it:

  * Morlet / Gabor filters built in space on the padded Mp x Np grid, summed
    over 5 x 5 periods (gabor_2d), normalised by 2*3.1415*sigma^2/slant (the
    constant 3.1415 is Kymatio's), sigma = 0.8*2^j, xi = 3pi/(4*2^j),
    slant = 4/L, theta_t = (int(L - L/2 - 1) - t)*pi/L; Morlet = Gabor minus
    K times its envelope so that it sums to 0;
  * the filters' DFTs keep their real part; lower resolutions of a filter are
    its spectrum masked to |frequency| < M/2^(res+1) and folded
    (periodize_filter_fft);
  * low-pass phi: Gabor with xi = 0, sigma = 0.8*2^(J-1);
  * reflect padding to Mp = ((M + 2^J)//2^J + 1)*2^J, products in the
    Fourier domain, subsampling by averaging the folded spectrum, modulus,
    order 2 only for j2 > j1, unpad [1:-1, 1:-1];
  * output channels: order 0, order 1 by (j1, theta1), order 2 by
    (j1, theta1, j2, theta2).

Usage:
  scatter_ref.py fixture OUT_DIR       write the golden-value fixture (tests)
  scatter_ref.py bench IDX [N] [J] [L] time N images of an IDX image file
  scatter_ref.py transform IN.npy OUT.npy J L   (N,H,W) or (N,C,H,W) input
"""
import sys
import time

import numpy as np


def gabor_2d(M, N, sigma, theta, xi, slant=1.0, offset=0):
    gab = np.zeros((M, N), np.complex64)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], np.float32)
    R_inv = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]], np.float32)
    D = np.array([[1, 0], [0, slant * slant]])
    curv = np.dot(R, np.dot(D, R_inv)) / (2 * sigma * sigma)
    for ex in [-2, -1, 0, 1, 2]:
        for ey in [-2, -1, 0, 1, 2]:
            [xx, yy] = np.mgrid[offset + ex * M:offset + M + ex * M,
                                offset + ey * N:offset + N + ey * N]
            arg = -(curv[0, 0] * np.multiply(xx, xx) + (curv[0, 1] + curv[1, 0]) *
                    np.multiply(xx, yy) + curv[1, 1] * np.multiply(yy, yy)) + \
                1.j * (xx * np.cos(theta) * xi + yy * np.sin(theta) * xi)
            gab += np.exp(arg)
    norm_factor = (2 * 3.1415 * sigma * sigma / slant)
    gab /= norm_factor
    return gab


def morlet_2d(M, N, sigma, theta, xi, slant=0.5, offset=0):
    wv = gabor_2d(M, N, sigma, theta, xi, slant, offset)
    wv_modulus = gabor_2d(M, N, sigma, theta, 0, slant, offset)
    K = np.sum(wv) / np.sum(wv_modulus)
    return wv - K * wv_modulus


def periodize_filter_fft(x, res):
    M, N = x.shape
    mask = np.ones(x.shape, np.float32)
    len_x = int(M * (1 - 2 ** (-res)))
    start_x = int(M * 2 ** (-res - 1))
    len_y = int(N * (1 - 2 ** (-res)))
    start_y = int(N * 2 ** (-res - 1))
    mask[start_x:start_x + len_x, :] = 0
    mask[:, start_y:start_y + len_y] = 0
    x = x * mask
    k = 2 ** res
    # crop[a, b] = sum_{i, j} x[a + i M/k, b + j N/k]
    return x.reshape(k, M // k, k, N // k).sum(axis=(0, 2))


def filter_bank(M, N, J, L):
    psi = []
    for j in range(J):
        for theta in range(L):
            sig = morlet_2d(M, N, 0.8 * 2 ** j, (int(L - L / 2 - 1) - theta) * np.pi / L,
                            3.0 / 4.0 * np.pi / 2 ** j, 4.0 / L)
            f = np.real(np.fft.fft2(sig))
            levels = [periodize_filter_fft(f, res) for res in range(min(j + 1, max(J - 1, 1)))]
            psi.append({'j': j, 'theta': theta, 'levels': levels})
    sig = gabor_2d(M, N, 0.8 * 2 ** (J - 1), 0, 0)
    f = np.real(np.fft.fft2(sig))
    phi = [periodize_filter_fft(f, res) for res in range(J)]
    return phi, psi


def padded_size(M, J):
    return ((M + 2 ** J) // 2 ** J + 1) * 2 ** J


def subsample_fourier(x, k):
    y = x.reshape(x.shape[:-2] + (k, x.shape[-2] // k, k, x.shape[-1] // k))
    return y.mean(axis=(-4, -2))


class Scattering2D:
    def __init__(self, J, shape, L=8):
        self.J, self.L = J, L
        self.M, self.N = shape
        self.Mp, self.Np = padded_size(self.M, J), padded_size(self.N, J)
        self.phi, self.psi = filter_bank(self.Mp, self.Np, J, L)

    def __call__(self, x):
        """x (..., M, N) float; returns (..., K, M/2^J, N/2^J) float64."""
        J = self.J
        pm, pn = self.Mp - self.M, self.Np - self.N
        pad = [(0, 0)] * (x.ndim - 2) + [(pm // 2, (pm + 1) // 2), (pn // 2, (pn + 1) // 2)]
        U_r = np.pad(np.asarray(x, np.float64), pad, mode='reflect')
        fft2, ifft2 = np.fft.fft2, np.fft.ifft2

        def unpad(a):
            return a[..., 1:-1, 1:-1]

        U_0_c = fft2(U_r)
        out = [unpad(np.real(ifft2(subsample_fourier(U_0_c * self.phi[0], 2 ** J))))]
        order2 = []
        for p1 in self.psi:
            j1 = p1['j']
            U_1_c = U_0_c * p1['levels'][0]
            if j1 > 0:
                U_1_c = subsample_fourier(U_1_c, 2 ** j1)
            U_1_c = fft2(np.abs(ifft2(U_1_c)))
            S_1 = subsample_fourier(U_1_c * self.phi[j1], 2 ** (J - j1))
            out.append(unpad(np.real(ifft2(S_1))))
            for p2 in self.psi:
                j2 = p2['j']
                if j2 <= j1:
                    continue
                U_2_c = subsample_fourier(U_1_c * p2['levels'][j1], 2 ** (j2 - j1))
                U_2_c = fft2(np.abs(ifft2(U_2_c)))
                S_2 = subsample_fourier(U_2_c * self.phi[j2], 2 ** (J - j2))
                order2.append(unpad(np.real(ifft2(S_2))))
        out.extend(order2)
        return np.stack(out, axis=-3)


def fixture_input(n, c, h, w):
    """Deterministic inputs in [0, 1) that C can rebuild bit for bit: a hash
    of the element index (23 bits) plus a diagonal stripe pattern, both
    dyadic, so exact in float32 (the test recomputes them)."""
    i = np.arange(n * c * h * w, dtype=np.uint64)
    v = ((i * np.uint64(2654435761) + np.uint64(12345)) % np.uint64(2 ** 32)) >> np.uint64(9)
    hh = (i // w) % h
    ww = i % w
    x = v.astype(np.float64) / 2.0 ** 24 + ((hh + ww) % 8).astype(np.float64) / 16.0
    return x.reshape(n, c, h, w)


def write_fixture(out_dir):
    """Golden values for tests/plugins/test_scatter.c: the scattering of small
    inputs (fixture_input) as text, %.9g (float32 round trip), a few KB per
    case."""
    import os
    # the last case pads to 56 x 48: grids of 54 and more once tripped kissfft's n-d plans
    cases = [(2, 1, 16, 16, 2, 4), (1, 2, 12, 20, 1, 6), (1, 1, 28, 28, 2, 8),
             (1, 1, 24, 24, 3, 4), (1, 1, 48, 40, 2, 2)]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'golden.txt'), 'w') as f:
        f.write('# made by: bench/scatter_ref.py fixture tests/fixtures/scatter\n')
        f.write('# per case: "case N C H W J L", then the outputs (N, C*K, H/2^J, W/2^J) '
                'of fixture_input(N, C, H, W) on one line\n')
        for (n, c, h, w, J, L) in cases:
            x = fixture_input(n, c, h, w)
            s = Scattering2D(J, (h, w), L)(x)
            s = s.reshape(n, -1, s.shape[-2], s.shape[-1])
            f.write('case %d %d %d %d %d %d\n' % (n, c, h, w, J, L))
            f.write(' '.join('%.9g' % v for v in s.ravel()) + '\n')


def read_idx(path, n):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == b'\x1f\x8b':
        import gzip
        data = gzip.decompress(data)
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(nd)]
    arr = np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)
    return arr[:n]


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'fixture':
        write_fixture(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == 'bench':
        n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
        J = int(sys.argv[4]) if len(sys.argv) > 4 else 2
        L = int(sys.argv[5]) if len(sys.argv) > 5 else 8
        x = read_idx(sys.argv[2], n).astype(np.float32) / 255.0
        t0 = time.perf_counter()
        sc = Scattering2D(J, x.shape[1:], L)
        out = []
        for b in range(0, len(x), 500):  # batches, as Kymatio users do
            out.append(sc(x[b:b + 500]).astype(np.float32))
        s = np.concatenate(out)
        dt = time.perf_counter() - t0
        print('numpy_reference images=%d J=%d L=%d shape=%s seconds=%.3f' %
              (len(x), J, L, s.shape, dt))
    elif len(sys.argv) >= 6 and sys.argv[1] == 'transform':
        x = np.load(sys.argv[2])
        J, L = int(sys.argv[4]), int(sys.argv[5])
        s = Scattering2D(J, x.shape[-2:], L)(x)
        if x.ndim == 4:
            s = s.reshape(x.shape[0], -1, s.shape[-2], s.shape[-1])
        np.save(sys.argv[3], s.astype(np.float32))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == '__main__':
    main()
