#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Channel transform (KLT/PCA) of a cut for bench/feature-rd, from the
tuning frames' cached tensors (frames 300-399, inside the calibration frames
0-399).  Writes DIR/klt-cutN.f32: C x C float32 rows = eigenvectors (largest
variance first), C means, then per component the clipped range (lo, hi) of
the projections (0.05 % trimmed each side, like the 99.9 % calibration)."""
import sys

import numpy as np

path, channels, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
x = np.fromfile(path, dtype=np.float32).reshape(-1, channels, 128 * 128)
x = x.transpose(1, 0, 2).reshape(channels, -1).astype(np.float64)
mean = x.mean(axis=1)
xc = x - mean[:, None]
cov = xc @ xc.T / xc.shape[1]
w, v = np.linalg.eigh(cov)
order = np.argsort(w)[::-1]
w, v = w[order], v[:, order]
p = v.T                                   # rows: components
z = p @ xc
lo = np.percentile(z, 0.05, axis=1)
hi = np.percentile(z, 99.95, axis=1)
energy = np.cumsum(w) / w.sum()
print('klt: variance share of the first 4/8/12/16 components: %.3f %.3f %.3f %.3f' % (
    energy[3], energy[7], energy[11], energy[15]), file=sys.stderr)
np.concatenate([p.ravel(), mean, np.stack([lo, hi], 1).ravel()]).astype(np.float32).tofile(out)
