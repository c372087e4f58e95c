/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — our own 1x1 convolution for the fast path (private; engine layer).
 *
 * Why hand-written: on CPUs with AVX2 + FMA and no AVX-512, Debian's
 * XNNPACK (0.0~git20220216) runs 1x1 convolutions on its 5x16 fma3 GEMM,
 * which Debian's compiler built with one of its 10 accumulators spilled to
 * the stack; that loop was ~60% of the detector's time, and a kernel laid
 * out for 16 ymm registers (6 rows x 16 columns: 12 accumulators, 2 weight
 * vectors, 1 broadcast) runs the detector's 1x1 layers 1.5-2.4x faster
 * (bench/gemm-avx2, docs/performance.md).  No other library in Debian
 * plugs into an XNNPACK runtime.
 *
 * A 1x1 convolution in NHWC is Y[M][N] = clamp (X[M][K] W^T + bias):
 * M pixels, K input and N output channels.  Weights are packed once, when
 * the fast path is built, in 16-column panels (16 biases, then K rows of
 * 16 weights). */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "engine/sn-pool.h"

G_BEGIN_DECLS

typedef struct SnGemm SnGemm;

/* TRUE when this CPU runs our kernel (x86-64 with AVX2 and FMA) and
 * SPLITNN_KERNELS is not "xnnpack" (which keeps XNNPACK's for comparison). */
gboolean sn_gemm_available (void);

/* w: [N][K] row-major, already scaled; bias: N values or NULL. */
SnGemm *sn_gemm_new (const float *w, const float *bias, int64_t K, int64_t N, float lo, float hi);
void sn_gemm_free (SnGemm *g);

/* After the clamp, y = k v min (max (v + 3, 0), 6): a hard-swish (k = 1/6,
 * or 1/6 times the scale of the spelling that was fused) computed while
 * the tile is in registers, instead of a pass of its own over the map. */
void sn_gemm_set_hardswish (SnGemm *g, float k);

/* y[M][N] from x[M][K] (rows contiguous), on the pool's threads.  With
 * residual (M x N, like y; NULL for none) the sum is acc + residual before
 * the activation: a residual Add computed in the store instead of a pass
 * of its own.  residual may be x or y. */
void sn_gemm_run (const SnGemm *g, SnPool *pool, const float *x, const float *residual, float *y,
    int64_t M);

G_END_DECLS
