/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — our own depthwise convolution for the fast path (private;
 * engine layer).
 *
 * Why hand-written: Debian's XNNPACK (0.0~git20220216) runs the detector's
 * depthwise 3x3 and 5x5 convolutions on its up16x9 / up8x25 fma3 kernels,
 * which compute one output pixel at a time and load an input and a weight
 * vector for every FMA.  This kernel computes 4 neighbouring output pixels
 * of 8 channels at once, so that each weight vector loaded serves 4 FMAs
 * (docs/performance.md, bench/dwconv-avx2.c for the per-layer figures).
 *
 * NHWC, one image: y[OH][OW][C] = clamp (sum over the kernel window of
 * x[iy][ix][c] w[c][ky][kx] + bias[c], lo, hi), with zero padding.
 * Weights are packed once, when the fast path is built, in blocks of 8
 * channels (8 biases, then kh x kw rows of 8 weights). */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "engine/sn-pool.h"

G_BEGIN_DECLS

typedef struct SnDwconv SnDwconv;

/* TRUE when this CPU runs our kernel (sn_gemm_available ()) and
 * SPLITNN_KERNELS is not "gemm" (which keeps XNNPACK's depthwise kernels
 * beside our 1x1 kernel, for comparison). */
gboolean sn_dwconv_enabled (void);

/* TRUE for a shape this kernel runs: square 3x3 or 5x5 kernel, stride 1
 * or 2 in both directions, no dilation, padding smaller than the kernel. */
gboolean sn_dwconv_supports (int kernel, int stride, int pad_top, int pad_left);

/* w: [kernel][kernel][C] (XNNPACK's layout), already scaled; bias: C values or NULL.  H, W:
 * input size; OH, OW: output size. */
SnDwconv *sn_dwconv_new (const float *w, const float *bias, int64_t C, int kernel, int stride,
    int pad_top, int pad_left, int64_t H, int64_t W, int64_t OH, int64_t OW, float lo, float hi);
void sn_dwconv_free (SnDwconv *d);

/* A hard-swish after the clamp, as sn_gemm_set_hardswish (). */
void sn_dwconv_set_hardswish (SnDwconv *d, float k);

/* y[OH][OW][C] from x[H][W][C], on the pool's threads.  Needs
 * sn_gemm_available () (AVX2 + FMA, SPLITNN_KERNELS not "xnnpack"). */
void sn_dwconv_run (const SnDwconv *d, SnPool *pool, const float *x, float *y);

G_END_DECLS
