/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Our depthwise convolution (libsplitnn/engine/sn-dwconv.c) against Debian's
 * XNNPACK operator (up16x9 / up8x25 fma3 on AVX2 + FMA) on the depthwise
 * layer shapes of CenterNet-MobileNetV3 at 512x512, one thread, ReLU.
 * Both are checked against a double-precision loop first.  Thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), the two interleaved, best of ROUNDS: a shared
 * machine inflates it much less than wall time.
 *
 *   dwconv-avx2 [ROUNDS]      prints one line per layer shape */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xnnpack.h>

#include "engine/sn-dwconv.h"
#include "engine/sn-gemm.h"

static double
thread_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t
getenv_off (void)
{
  return getenv ("OFF") ? atoi (getenv ("OFF")) : 0;
}

static float
rnd (unsigned *s)
{
  *s = *s * 1664525u + 1013904223u;
  return (float) ((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

int
main (int argc, char **argv)
{
  int rounds = argc > 1 ? atoi (argv[1]) : 5;
  if (!sn_gemm_available ()) {
    printf ("dwconv-avx2: this CPU has no AVX2 + FMA (or SPLITNN_KERNELS=xnnpack)\n");
    return 0;
  }
  if (xnn_initialize (NULL) != xnn_status_success)
    return 1;
  /* Input H = W, channels, kernel, stride (padding kernel / 2), layers:
   * the depthwise layers of CenterNet-MobileNetV3 at 512x512 (the g_debug
   * lines of `G_MESSAGES_DEBUG=all splitnn run`). */
  static const int shapes[][5] = {
    { 256, 16, 3, 1, 1 }, { 256, 64, 3, 2, 1 }, { 128, 72, 3, 1, 1 }, { 128, 128, 3, 1, 2 },
    { 64, 192, 3, 1, 1 }, { 64, 192, 3, 2, 1 }, { 32, 144, 3, 1, 2 }, { 32, 160, 3, 1, 1 },
    { 32, 256, 3, 1, 1 }, { 32, 384, 3, 1, 1 }, { 32, 528, 3, 1, 1 }, { 16, 480, 3, 1, 1 },
    { 128, 18, 5, 1, 1 }, { 128, 72, 5, 2, 1 }, { 64, 24, 5, 1, 1 }, { 64, 96, 5, 1, 2 },
    { 64, 192, 5, 1, 1 }, { 32, 22, 5, 1, 1 }, { 32, 256, 5, 1, 1 }, { 32, 528, 5, 2, 1 },
    { 16, 480, 5, 1, 1 }, { 16, 720, 5, 1, 2 },
  };
  double total1 = 0, total2 = 0, total1_rule = 0, total2_rule = 0;
  SnPool *pool = sn_pool_new (1);
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int H = shapes[s][0], W = H, C = shapes[s][1], K = shapes[s][2], S = shapes[s][3];
    int layers = shapes[s][4];
    int P = K / 2, OH = (H + 2 * P - K) / S + 1, OW = OH;
    unsigned seed = 1;
    size_t nx = (size_t) H * W * C, ny = (size_t) OH * OW * C;
    float *x = aligned_alloc (64, nx * 4), *w = malloc ((size_t) C * K * K * 4);
    float *bias = malloc (C * 4), *y1 = aligned_alloc (64, ny * 4), *y2 = aligned_alloc (64, ny * 4 + getenv_off ()) ;
    y2 += getenv_off () / 4;
    for (size_t i = 0; i < nx; i++)
      x[i] = rnd (&seed);
    for (int i = 0; i < C * K * K; i++)
      w[i] = rnd (&seed) / K;
    for (int i = 0; i < C; i++)
      bias[i] = rnd (&seed) * 0.1f;
    xnn_operator_t op = NULL;
    if (xnn_create_convolution2d_nhwc_f32 (P, P, P, P, K, K, S, S, 1, 1, C, 1, 1, C, C, w, bias,
            0, INFINITY, 0, &op) != xnn_status_success
        || xnn_setup_convolution2d_nhwc_f32 (op, 1, H, W, x, y1, NULL) != xnn_status_success)
      return 1;
    /* Ours takes the subgraph's layout, [kh][kw][C]; the operator's is [C][kh][kw]. */
    float *wt = malloc ((size_t) C * K * K * 4);
    for (int c = 0; c < C; c++)
      for (int k = 0; k < K * K; k++)
        wt[k * C + c] = w[c * K * K + k];
    SnDwconv *d = sn_dwconv_new (wt, bias, C, K, S, P, P, H, W, OH, OW, 0, INFINITY);
    xnn_run_operator (op, NULL);
    sn_dwconv_run (d, pool, x, y2);
    double err1 = 0, err2 = 0;
    for (int oy = 0; oy < OH; oy += 7)
      for (int ox = 0; ox < OW; ox++)
        for (int c = 0; c < C; c++) {
          double ref = bias[c];
          for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
              int iy = oy * S - P + ky, ix = ox * S - P + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                ref += (double) x[((size_t) iy * W + ix) * C + c] * w[(c * K + ky) * K + kx];
            }
          ref = ref > 0 ? ref : 0;
          size_t o = ((size_t) oy * OW + ox) * C + c;
          err1 = fmax (err1, fabs (y1[o] - ref));
          err2 = fmax (err2, fabs (y2[o] - ref));
        }
    if (err1 > 1e-4 || err2 > 1e-4) {
      printf ("dwconv-avx2: wrong result for %dx%dx%d k%d s%d (XNNPACK %g, ours %g)\n", H, W, C, K,
          S, err1, err2);
      return 1;
    }
    double best1 = 1e9, best2 = 1e9, flop = 2.0 * OH * OW * C * K * K;
    int reps = (int) (3e8 / flop) + 1;
    for (int r = 0; r < rounds; r++) {
      double t0 = thread_seconds ();
      for (int i = 0; i < reps; i++)
        xnn_run_operator (op, NULL);
      double t1 = thread_seconds ();
      for (int i = 0; i < reps; i++)
        sn_dwconv_run (d, pool, x, y2);
      double t2 = thread_seconds ();
      best1 = fmin (best1, (t1 - t0) / reps);
      best2 = fmin (best2, (t2 - t1) / reps);
    }
    total1 += layers * best1;
    total2 += layers * best2;
    total1_rule += layers * best1;
    /* The library's choice (own_depthwise_ok in sn-xnn.c): 5x5, 3x3 on
     * <= 32 channels, and 3x3 stride 1 on <= 96 channels or <= 32 x 32 maps. */
    total2_rule += layers
        * (K == 5 || C <= 32 || (S == 1 && (C <= 96 || H * W <= 32 * 32)) ? best2 : best1);
    printf ("%d x depthwise %dx%d s%d %3d x %3d x %3d: XNNPACK %5.2f GFLOP/s %7.1f us, ours %5.2f GFLOP/s %7.1f us (%.2fx)\n",
        layers, K, K, S, H, W, C, flop / best1 / 1e9, best1 * 1e6, flop / best2 / 1e9, best2 * 1e6,
        best1 / best2);
    xnn_delete_operator (op);
    sn_dwconv_free (d);
    free (x); free (w); free (wt); free (bias); free (y1); free (y2 - getenv_off () / 4);
  }
  printf ("all depthwise layers of the detector: XNNPACK %.0f us, ours %.0f us (%.2fx); "
      "as the library chooses (ours for 5x5, 3x3 on <= 32 channels, 3x3 stride 1 on <= 96 or <= 32 x 32): %.0f us (%.2fx)\n", total1 * 1e6, total2 * 1e6,
      total1 / total2, total2_rule * 1e6, total1_rule / total2_rule);
  sn_pool_free (pool);
  return 0;
}
